/* secret.h - secrets read from files (mounted Kubernetes Secrets): one reader, one wipe. */
#ifndef SCHEMAGATE_SECRET_H
#define SCHEMAGATE_SECRET_H

#include <stddef.h>

#include "err.h"

/* Longest secret a file may hold, in bytes (after trimming). */
#define SECRET_MAX_BYTES 4096

/* How much of the file's edges is not part of the secret. */
enum secret_trim {
	SECRET_TRIM_NEWLINE, /* one trailing "\n" or "\r\n" (a Secret written with echo);
	                      * any other blank is part of a password */
	SECRET_TRIM_SPACE,   /* all leading and trailing blanks: tokens hold none */
};

/* Reads the secret in the file at path. what names the setting in messages
 * ("DATABASE_PASSWORD_FILE"); messages never quote the content. SG_E_CONFIG
 * when the file is unreadable, empty after trimming, longer than
 * SECRET_MAX_BYTES or holds a NUL byte; SG_E_NOMEM. On success *out is
 * malloc'd and *len (when not NULL) its length: release it with secret_free. */
SG_MUSTCHECK int secret_read_file(const char *what, const char *path, enum secret_trim trim,
                                  char **out, size_t *len, struct sg_err *err);

/* Overwrites the secret's bytes, then frees it. NULL-safe. */
void secret_free(char *s);

#endif /* SCHEMAGATE_SECRET_H */
