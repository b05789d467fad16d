/* measure.h - rehearses migrations on an empty dev database and records, per statement, what
 * PostgreSQL says it did: the locks it took, the tables it rewrote or scanned, what it changed. */
#ifndef SCHEMAGATE_MEASURE_H
#define SCHEMAGATE_MEASURE_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "catalog.h"
#include "config.h"
#include "err.h"
#include "migrations.h"
#include "pglock.h"

/* A relation a statement touched that existed before the pending files (the previous
 * release's schema). Relations the pending files create are nobody's yet and not listed. */
struct msr_rel {
	unsigned oid;
	char *name;       /* "schema.name" as it was before the pending files */
	char kind;        /* pg_class.relkind */
	char *table_name; /* for an index, its table's name (as above); else the same as name */
	char *table_schema, *table_rel; /* the same name in its two parts, unquoted */
	unsigned table;                 /* for an index, its table's oid; else oid */
	enum pglock_mode taken; /* the strongest mode this statement took anew (NONE: none new) */
	enum pglock_mode held;  /* the strongest mode its transaction held once it ended */
	bool documented; /* the modes are PostgreSQL's documented ones: the statement ran outside a
	                  * transaction, where pg_locks cannot be read afterwards */
	bool rewritten;  /* its relfilenode changed: a table rewritten, an index rebuilt */
	bool scanned;    /* sequential scans of it during the statement (tables) */
	/* The production side, filled by the caller (DATABASE_URL's pg_class, pg_stat_user_tables;
	 * for an index, its table's): valid when size_known. */
	bool size_known;
	long long bytes, rows;
};

/* One statement of a pending file, as it ran on the dev database. */
struct msr_stmt {
	size_t file;         /* index into msr_run.files */
	unsigned line;       /* 1-based line of its first character in the file */
	char *sql;           /* its text */
	bool in_transaction; /* ran in the file's transaction (else alone: it cannot run in one) */
	long ms;             /* time on the dev database */
	struct msr_rel *rels;
	size_t nrels;
	struct cat_changes changes; /* what it changed for clients (catalog.h) */
};

struct msr_file {
	const struct mig *m; /* borrowed from the set; its allow directive in m->allow */
};

struct msr_run {
	struct msr_file *files; /* the pending files, in order */
	size_t nfiles;
	struct msr_stmt *stmts; /* every statement of them, in order */
	size_t nstmts;
	size_t replayed; /* applied files replayed first */
	long replay_ms;  /* replaying them */
	long measure_ms; /* running and measuring the pending files */
	/* Local rates (bytes per ms) of a rewrite and of a validation scan, measured on the dev
	 * database when an estimate needs them (measure_rates); 0 when not measured. */
	double rewrite_rate, scan_rate;
};

void msr_run_free(struct msr_run *run); /* NULL-safe, leaves it zeroed */

/* The statement on one line for messages and tables: runs of blanks and line breaks become
 * one space, and text past n - 1 bytes is cut with "..." (on a character boundary). */
void msr_stmt_line(const struct msr_stmt *s, char *buf, size_t n);

/* The dev database session. */
struct measure;

/* Connects to cfg->dev_url (with cfg's connection settings and search path, but not
 * DATABASE_PASSWORD_FILE, which belongs to DATABASE_URL), refuses (SG_E_CONFIG) a database that
 * holds user tables, views or sequences (plan needs an empty one, and must never run on a real
 * one by mistake) or that target (the production connection, NULL: none) is connected to as
 * well; then creates the first schema of the search path as migrate does. Errors: those of
 * db_connect. On success *out owns the session: measure_close. */
SG_MUSTCHECK int measure_open(const struct cfg *cfg, PGconn *target, struct measure **out,
                              struct sg_err *err);

/* Replays applied files (texts loaded), oldest first, as migrate applied them: each in its
 * transaction, or statement by statement for a no-transaction file. Nothing is measured.
 * SG_E_MIGRATION "replaying FILE:LINE:COL: message" when one fails. */
SG_MUSTCHECK int measure_replay(struct measure *ms, const struct mig *const *v, size_t n,
                                struct msr_run *run, struct sg_err *err);

/* Runs the pending files (texts loaded) statement by statement, each file in its transaction
 * (a no-transaction file: each statement in one of its own when it can run in one, else alone)
 * and fills run: per statement the relation locks (pg_locks of its own backend, before and
 * after), rewrites (relfilenode), scans (pg_stat_xact_user_tables) and catalog changes of the
 * objects that existed before the pending files. Errors: SG_E_PARSE (split),
 * SG_E_MIGRATION "FILE:LINE:COL: message" when a statement fails on the dev database. */
SG_MUSTCHECK int measure_pending(struct measure *ms, const struct mig *const *v, size_t n,
                                 struct msr_run *run, struct sg_err *err);

/* Measures run->rewrite_rate and run->scan_rate: a table of about 8 MiB is created, rewritten
 * and validated on the dev database inside a transaction that is rolled back. */
SG_MUSTCHECK int measure_rates(struct measure *ms, struct msr_run *run, struct sg_err *err);

void measure_close(struct measure *ms); /* NULL-safe */

#endif /* SCHEMAGATE_MEASURE_H */
