/* redis.h - hiredis connections from a redis:// URL: timeouts, AUTH, SELECT, checked commands. */
#ifndef SCHEMAGATE_REDIS_H
#define SCHEMAGATE_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <hiredis/hiredis.h>

#include "config.h"
#include "err.h"

/* The parts of redis://[[user]:password@]host[:port][/db]. user and password
 * are percent-decoded; they are secrets: never log them. */
struct redis_url {
	char host[256];     /* name or address; brackets of [::1] removed */
	int port;           /* 6379 when absent */
	long db;            /* 0 when absent */
	char user[128];     /* "" = default user (AUTH password) */
	char password[256]; /* "" = no AUTH */
};

/* Parses url into *out. rediss:// (TLS) is refused with a clear message;
 * any other scheme, an empty host, a bad port or database number, or a part
 * too long for its buffer is SG_E_CONFIG. Messages never include the
 * password. Pure function. */
SG_MUSTCHECK int redis_url_parse(const char *url, struct redis_url *out, struct sg_err *err);

/* Connects to cfg->redis_url within cfg->redis_timeout_ms, sets the same
 * timeout on every later command, then AUTH (when a password is given: the
 * contents of cfg->redis_password_file win over the URL's) and SELECT (when
 * db != 0). On success *out owns the context: redis_close() it. SG_E_CONFIG
 * for a bad URL or password file, SG_E_REDIS for anything else (message safe
 * to log). */
SG_MUSTCHECK int redis_connect(const struct cfg *cfg, redisContext **out, struct sg_err *err);

/* Runs one command given as argv strings (binary-safe through strlen, so no
 * quoting or format-string issues). On success *out owns the reply
 * (freeReplyObject); an error reply from the server is a failure too
 * (SG_E_REDIS, with the server's text). A NULL reply means the context is
 * dead: the caller must redis_close() it and reconnect. */
SG_MUSTCHECK int redis_command(redisContext *c, int argc, const char *const *argv, redisReply **out,
                               struct sg_err *err);

/* True when the context can no longer be used (I/O error or protocol error). */
bool redis_is_broken(const redisContext *c);

/* Frees the context; NULL-safe, no round trip. */
void redis_close(redisContext *c);

#endif /* SCHEMAGATE_REDIS_H */
