/* directive.h - a migration file's directives: what its leading comment lines ask of the run.
 *
 * One parser for them, run once on every file where it is loaded (migrations.c, whole or in
 * pieces), so that verify, migrate, down, status and serve read the same answer:
 *   "-- schemagate:no-transaction"           any leading comment line, exactly (trailing
 *                                            blanks and a CR allowed): run the file statement
 *                                            by statement, outside a transaction; goose's
 *   "-- +goose NO TRANSACTION"               means the same ("--", any blanks, then the
 *                                            annotation exactly, as goose reads it);
 *   "-- schemagate:lock-timeout=<duration>"  any leading comment line (the last one counts):
 *                                            the file's lock_timeout, 0 to 24h ("0": wait as
 *                                            long as it takes), instead of
 *                                            MIGRATIONS_LOCK_TIMEOUT;
 *   "-- schemagate:allow=rewrite,scan,breaking" any leading comment line (several add up):
 *                                            the exceptions to the safety policy (safety.h)
 *                                            the file declares; any non-empty subset of the
 *                                            three words, comma-separated, blanks around them
 *                                            allowed.
 * The leading comment lines are the lines from the first on that are blank or start (after
 * blanks) with "--", up to the first that does not: a file's header, before its first
 * statement. A bad value is refused, naming the file and line:
 * "<path>:N: schemagate:lock-timeout: <why>", "<path>:N: schemagate:allow: <why>" (SG_E_PARSE);
 * so is a line past them whose first non-blank text is "-- schemagate:" or goose's annotation
 * ("<path>:N: schemagate:no-transaction: a directive counts only in the file's leading comment
 * lines, ..."): there it would silently mean nothing.
 * Where a file is cut into pieces changes nothing. */
#ifndef SCHEMAGATE_DIRECTIVE_H
#define SCHEMAGATE_DIRECTIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* The exceptions of the allow directive (bits of struct directives' allow). */
#define DIRECTIVE_ALLOW_REWRITE 1u  /* may rewrite a large table under a lock that blocks writes */
#define DIRECTIVE_ALLOW_SCAN 2u     /* may scan a large table under a lock that blocks writes */
#define DIRECTIVE_ALLOW_BREAKING 4u /* may make a change the previous release cannot live with */

/* What a file asks for; a plain value. */
struct directives {
	bool no_transaction;  /* a leading line is the no-transaction marker (or goose's) */
	long lock_timeout_ms; /* the lock-timeout directive's value; -1 when absent */
	unsigned allow;       /* DIRECTIVE_ALLOW_* of its allow directives; 0 when absent */
};

/* Longest kept prefix of a line: the lock-timeout directive with its longest value fits. */
#define DIRECTIVE_LINE_MAX 64

/* A scan in progress: a plain value, set up by directive_scan_init. */
struct directive_scan {
	unsigned line;                 /* the line being read, from 1 */
	bool leading;                  /* still in the leading comment lines */
	bool done;                     /* a bad line found: nothing more to read */
	size_t raw;                    /* bytes of the line so far */
	size_t kept;                   /* bytes of text[] up to the line's last non-blank */
	bool overflow;                 /* a non-blank byte came past text[] */
	char text[DIRECTIVE_LINE_MAX]; /* the line's first bytes */
	struct directives d;           /* what the lines read so far ask for */
	unsigned bad_line;             /* the line of a bad value, 0 when none */
	char bad_name[40];             /* its directive, e.g. "schemagate:lock-timeout" */
	char why[160];                 /* what is wrong with it */
};

void directive_scan_init(struct directive_scan *s);
/* Scans the next len bytes of the file (buf may be NULL when len is 0). */
void directive_scan_feed(struct directive_scan *s, const void *buf, size_t len);
/* Ends the scan at the end of the file: 0 with *out filled, or -1 with err (SG_E_PARSE)
 * naming path and the line of the bad value. */
SG_MUSTCHECK int directive_scan_end(struct directive_scan *s, const char *path,
                                    struct directives *out, struct sg_err *err);
/* The same for a whole file held in memory. */
SG_MUSTCHECK int directive_parse(const char *path, const void *buf, size_t len,
                                 struct directives *out, struct sg_err *err);

/* The lock_timeout a file runs with: its directive's, else dflt_ms. */
long directive_lock_timeout(const struct directives *d, long dflt_ms);

#endif /* SCHEMAGATE_DIRECTIVE_H */
