/* migrations.h - finding, validating, ordering and checksumming migration files on disk. */
#ifndef SCHEMAGATE_MIGRATIONS_H
#define SCHEMAGATE_MIGRATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "directive.h"
#include "err.h"

/* The size limit of a migration file: larger ones are refused rather than read into memory. */
#define MIG_DEFAULT_MAX_BYTES ((size_t)64 * 1024 * 1024)

/* One migration: an up file and, optionally, its down file. */
struct mig {
	long version;      /* integer prefix of the file name, > 0 */
	char *name;        /* description part, e.g. "create_users" */
	char *up_file;     /* base name, e.g. "000001_create_users.up.sql" */
	char *up_path;     /* dir + "/" + up_file */
	char *down_path;   /* NULL when there is no down file */
	char checksum[65]; /* SHA-256 hex of the up file's bytes */
	/* The up file's directives (directive.h), parsed once when it is loaded: */
	bool no_transaction;  /* its first line is the no-transaction marker */
	long lock_timeout_ms; /* its lock-timeout directive, -1 when it has none */
	unsigned allow;       /* DIRECTIVE_ALLOW_* its allow directives declare, 0 when none */
	char *sql;            /* up file content, NUL-terminated, sql_len bytes (NULL when loaded
	                       * with MIG_NO_TEXT) */
	size_t sql_len;
};

/* Every migration of a folder, sorted by version ascending, versions unique. */
struct mig_set {
	struct mig *v;
	size_t n;
};

enum mig_kind {
	MIG_UP,   /* NNNNNN_description.up.sql: applied by migrate */
	MIG_DOWN, /* NNNNNN_description.down.sql: reverts the up file of the same version */
};

/* Parses a file name (a base name, not a path). Returns 1 and fills *version, *kind and (if
 * desc != NULL) *desc (malloc'd, caller frees) when it is a migration file; 0 when the name is not
 * meant as a migration (does not end in ".sql", e.g. README.md, or is hidden, starting with '.');
 * -1 with SG_E_PARSE naming the file when it ends in .sql (any case) but does not parse, e.g.
 * "1_x.sql", "abc_x.up.sql", "000001_.up.sql", "000001_x.UP.sql", "000000_x.up.sql".
 * The outputs are written only when 1 is returned. Reads nothing past fname's NUL. */
SG_MUSTCHECK int mig_parse_name(const char *fname, long *version, enum mig_kind *kind, char **desc,
                                struct sg_err *err);

/* Loads every migration in dir: reads each up file, computes its checksum, reads its
 * directives (directive.h); with MIG_CHECK_DOWN in flags it checks each down file's content and
 * directives too (size, NUL, UTF-8, a bad directive value) without keeping it (`verify` does;
 * migrate skips that I/O on its hot path, and mig_read_down checks a down file when it is
 * used).
 * Files whose names are hidden or don't end in .sql are ignored, so a Kubernetes ConfigMap
 * mount (..data symlinks inside dir) works.
 * Refuses with SG_E_PARSE, the message naming the file(s): names that don't parse, two up files
 * with the same version, a down file without its up file, two down files for one version, a down
 * file whose description differs from the up's, content that is not valid UTF-8 (with the 1-based
 * line of the first bad byte), a NUL byte, a bad directive (with its line), a file larger than
 * max_bytes (with its size), a symlink resolving outside dir, or a non-regular file with a
 * migration name.
 * SG_E_IO when dir can't be opened or read (message names the folder and strerror).
 * A missing or empty folder gives an empty set (n == 0) with MIG_ALLOW_MISSING in flags; without
 * it both are SG_E_IO (an empty folder usually means a volume that was not mounted).
 * On success *out owns the set (free with mig_set_free); on failure *out is NULL. */
/* Flags of mig_set_load. */
#define MIG_ALLOW_MISSING 1u /* a missing or empty folder is an empty set */
#define MIG_CHECK_DOWN 2u    /* read and check every down file's content */
#define MIG_NO_TEXT 4u       /* keep no file text: sql is NULL (sql_len still the size) */

SG_MUSTCHECK int mig_set_load(const char *dir, size_t max_bytes, unsigned flags,
                              struct mig_set **out, struct sg_err *err);

/* mig_set_load in steps, so that several threads can read the files: mig_scan_open lists,
 * names and pairs the files (the refusals above that need no file content), then
 * mig_scan_read(s, i) reads file i, 0 <= i < mig_scan_count(s): calls for distinct i may run
 * on different threads at once. mig_scan_take returns the set (valid once every file was read
 * successfully) and frees the scan; mig_scan_free (NULL-safe) frees it without a set. Reading
 * in index order and stopping at the first failure gives mig_set_load's verdict exactly. */
struct mig_scan;
SG_MUSTCHECK int mig_scan_open(const char *dir, size_t max_bytes, unsigned flags,
                               struct mig_scan **out, struct sg_err *err);
size_t mig_scan_count(const struct mig_scan *s);
SG_MUSTCHECK int mig_scan_read(struct mig_scan *s, size_t i, struct sg_err *err);
struct mig_set *mig_scan_take(struct mig_scan *s);
void mig_scan_free(struct mig_scan *s);

void mig_set_free(struct mig_set *set); /* NULL-safe */

/* Borrowed pointer into set, NULL if absent (or set is NULL); binary search. */
const struct mig *mig_set_find(const struct mig_set *set, long version);

/* -1 when empty or NULL: no version (0 is a version). */
long mig_set_max_version(const struct mig_set *set);

/* Reads the text of m, a migration of set loaded with MIG_NO_TEXT, into m->sql (a no-op when
 * it is there already): the content rules again, and the checksum must be the one the load
 * computed, else SG_E_IO ("changed while schemagate was reading it"); the same bytes, so the
 * directives read at load stand. */
SG_MUSTCHECK int mig_load_text(struct mig_set *set, const struct mig *m, size_t max_bytes,
                               struct sg_err *err);

/* Reads m's down file into *sql (malloc'd, NUL-terminated, caller frees) and *len (NULL allowed),
 * and its directives into *d (NULL allowed: checked all the same). SG_E_IO if m has none (message
 * names the version and the expected file name) or on read errors; SG_E_PARSE if the file now holds
 * a NUL byte or invalid UTF-8, or a bad directive. Its size was checked against max_bytes by
 * mig_set_load, so no limit is applied here. */
SG_MUSTCHECK int mig_read_down(const struct mig *m, char **sql, size_t *len, struct directives *d,
                               struct sg_err *err);

/* The up file's directives, as the load read them. */
struct directives mig_up_directives(const struct mig *m);

/* Creates the next migration pair in dir. The folder's style decides the version: when its highest
 * version (up or down file) has 14 digits, the folder is numbered by time and the version is now
 * in UTC as YYYYMMDDHHMMSS, or the highest + 1 when the clock is at or behind it (then
 * *clock_behind is set, when not NULL); otherwise (an empty or missing folder included) the
 * highest + 1, zero-padded to 6 digits (more if needed). name is slugified: ASCII letters
 * lowercased, runs of anything other than [a-z0-9] become one '_', trimmed, at most 100
 * characters; SG_E_USAGE if nothing is left.
 * The up file holds "-- <version> <slug>: up", the down one "-- <version> <slug>: down".
 * Files are created with O_CREAT|O_EXCL, so nothing is ever overwritten; if the down file can't be
 * created the up file is removed again. Creates dir if missing (one level only). SG_E_PARSE if dir
 * holds a malformed migration name (the numbering would be a guess). On success *up_path_out and
 * *down_path_out are malloc'd (caller frees); on failure both are NULL.
 * Not safe against another process creating a migration in dir at the same moment: both could
 * pick the same version under different names (neither file is clobbered). */
SG_MUSTCHECK int mig_create(const char *dir, const char *name, time_t now, bool *clock_behind,
                            char **up_path_out, char **down_path_out, struct sg_err *err);

#endif /* SCHEMAGATE_MIGRATIONS_H */
