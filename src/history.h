/* history.h - the history table (one row per applied migration) and the audit table of runs. */
#ifndef SCHEMAGATE_HISTORY_H
#define SCHEMAGATE_HISTORY_H

#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "err.h"
#include "tool.h"

/* One applied (or dirty) migration as recorded in the history table. */
struct hist_row {
	long version;
	const char *name; /* the strings of every row live in hist.strings */
	char checksum[65];
	const char *applied_at; /* ISO 8601 UTC text from the server */
	long duration_ms;
	const char *applied_by;
	bool dirty; /* a no-transaction migration that did not finish */
};

/* What the database says: one round trip when the table exists where it is
 * expected (every pod start of a migrated database), two otherwise. */
struct hist {
	char *schema;       /* schema holding the tables (unquoted) */
	char *qtable;       /* "schema"."table", quoted for SQL */
	char *qruns;        /* "schema"."table_runs", quoted for SQL */
	bool exists;        /* the history table exists */
	int backend_pid;    /* pg_backend_pid() of the server process that answered */
	char *database;     /* current_database(): the server's name, not the one asked for (a
	                     * pooler's alias may differ); the lock key comes from it */
	struct hist_row *v; /* sorted by version ascending */
	size_t n;
	char *strings; /* the rows' strings, one allocation for all */
	/* Read only when the history table does not exist, in the round trip that says so: what
	 * else the schema holds (before the first migration, a schema another tool or person
	 * filled is refused: plan_verdict). */
	const struct tool *other_tool; /* the tool whose history table is there, or NULL */
	char *other_table; /* a table of the schema that is not ours (other_tool's, when set; an
	                    * extension's tables do not count), NULL when it has none */
};

/* Reads the history. schema NULL means current_schema() (the first existing
 * schema of the search path). A missing table is not an error: exists=false,
 * n=0. On success *h owns memory: hist_free. */
SG_MUSTCHECK int hist_read(PGconn *c, const char *schema, const char *table, struct hist *h,
                           struct sg_err *err);
/* hist_read for callers that only plan (migrate's every pod start): the
 * rows' applied_at and applied_by are empty and duration_ms 0, so the server
 * formats no timestamp and sends less. */
SG_MUSTCHECK int hist_read_lean(PGconn *c, const char *schema, const char *table, struct hist *h,
                                struct sg_err *err);
void hist_free(struct hist *h); /* NULL-safe; leaves *h zeroed */

/* Only the head (HIST_NO_VERSION without rows) and whether a row is dirty, in one cheap query
 * (followers re-check this on every wake-up). A missing table gives *exists = false. */
SG_MUSTCHECK int hist_read_head(PGconn *c, const char *schema, const char *table, long *head,
                                bool *dirty, bool *exists, struct sg_err *err);

/* The version of "nothing applied": a history without rows. Version 0 is a version like any
 * other (golang-migrate, goose and dbmate allow it), so "none" is below it. */
#define HIST_NO_VERSION (-1L)
/* v as people read it: its digits, or "none" for HIST_NO_VERSION (any negative). Returns
 * buf. */
const char *hist_version_text(long v, char buf[24]);

/* Highest applied version (HIST_NO_VERSION when none); dirty rows count. */
long hist_head(const struct hist *h);
const struct hist_row *hist_find(const struct hist *h, long version);
/* First dirty row or NULL. */
const struct hist_row *hist_first_dirty(const struct hist *h);

/* A row to write into the history table. Strings are borrowed. */
struct hist_entry {
	long version;
	const char *name;
	const char *checksum; /* SHA-256 hex of the up file */
	long duration_ms;
	const char *applied_by;
	bool dirty;          /* not finished (a no-transaction migration in flight, or one that
	                      * ended its own transaction) */
	bool no_transaction; /* the up file carries the no-transaction marker */
};

/* The statements on the history table, as SQL text for callers that send them in one round
 * trip with their own (a migration's COMMIT, force's transaction). Each is malloc'd (the
 * caller frees it), NULL when out of memory. The table's schema is this module's (hist_ensure):
 * nobody else spells its columns. */
/* INSERT of the row e; c escapes its strings. */
char *hist_sql_insert(PGconn *c, const struct hist *h, const struct hist_entry *e);
/* A one-row, one-column boolean: is version recorded (dirty or not)? */
char *hist_sql_has(const struct hist *h, long version);
/* Marks version's row dirty (its migration started and may not finish). */
char *hist_sql_mark_dirty(const struct hist *h, long version);
/* Marks version's row clean with its duration and the time it finished. */
char *hist_sql_mark_done(const struct hist *h, long version, long duration_ms);
/* Sets version's resume point: how many statements of its no-transaction file have
 * completed (done < 0: NULL, no resume point: its own SQL failed, a person decides). Needs
 * the column (hist_progress_column). */
char *hist_sql_progress(const struct hist *h, long version, long done);
/* Deletes version's row (its migration was reverted). */
char *hist_sql_delete(const struct hist *h, long version);
/* Deletes the rows above version and marks version's row clean (force). */
char *hist_sql_force(const struct hist *h, long version);

/* Creates the schema (if missing) and both tables (if missing), in the caller's open
 * transaction, which holds the transaction-scoped migration lock (lock_xact_begin): replicas
 * that hold no session lock (behind a transaction pooler) may get here together, and
 * concurrent CREATE TABLE IF NOT EXISTS can fail on the catalog's unique index. Idempotent.
 * The caller commits, or rolls back on failure. */
SG_MUSTCHECK int hist_ensure(PGconn *c, const struct hist *h, struct sg_err *err);

/* Makes sure the history table has the statements_done column (tables created before it
 * get it now: the caller holds the migration lock). *ok false, with a warning logged, when
 * it cannot be added (the table is another role's): no-transaction files then run without
 * a resume point. -1 only on a database failure. */
SG_MUSTCHECK int hist_progress_column(PGconn *c, const struct hist *h, bool *ok,
                                      struct sg_err *err);

/* The resume point of version's row: how many statements of its no-transaction file have
 * completed, or *done = -1 when none is recorded (no row, NULL, or a table without the
 * column). */
SG_MUSTCHECK int hist_read_progress(PGconn *c, const struct hist *h, long version, long *done,
                                    struct sg_err *err);

/* The highest fencing token recorded in the runs table (0 when none, or when
 * the table does not exist yet). */
SG_MUSTCHECK int hist_max_fencing(PGconn *c, const struct hist *h, long long *out,
                                  struct sg_err *err);

/* How a run of the runs table ended, or that it has not. */
enum run_outcome {
	RUN_NONE = 0,    /* no run is recorded (never stored) */
	RUN_RUNNING,     /* started and not ended */
	RUN_SUCCEEDED,   /* reached its target */
	RUN_FAILED,      /* a migration (or another step) failed */
	RUN_INTERRUPTED, /* stopped between two migrations: a signal, or the lease lost */
	RUN_ABANDONED,   /* its process died while it ran */
	RUN_OUTCOMES     /* how many there are (not an outcome) */
};

/* The outcome's name, as the runs table, the logs and JSON spell it ("running", ...; "" for
 * RUN_NONE). */
const char *hist_outcome_name(enum run_outcome o);
/* The outcome named s; RUN_NONE for NULL, "" or a name this version does not know. */
enum run_outcome hist_outcome_of(const char *s);

/* Audit rows: one per run that does work (migrate with pending migrations,
 * down, force, baseline). With exclusive (the caller holds the session lock),
 * rows left running by a process that died are marked abandoned (they are
 * dead); without it (behind a transaction pooler) other runs may be alive. */
SG_MUSTCHECK int hist_run_begin(PGconn *c, const struct hist *h, const char *command,
                                const char *identity, long from_version, long to_version,
                                long long fencing_token, bool exclusive, long *run_id,
                                struct sg_err *err);
/* Ends run_id with outcome (not RUN_NONE or RUN_RUNNING). error may be NULL. */
SG_MUSTCHECK int hist_run_end(PGconn *c, const struct hist *h, long run_id,
                              enum run_outcome outcome, long reached_version, const char *error,
                              struct sg_err *err);

/* The runs as readiness (the checker) and status (the report) read them: one reading, so
 * that the two cannot disagree. A run still marked running whose server process is gone
 * reads as abandoned (the next lock holder marks it so; both say it at once). */
struct hist_runs_summary {
	enum run_outcome last;           /* the newest run's outcome; RUN_NONE without runs */
	char completed_at[40];           /* RFC 3339 end of the newest successful run, else the
	                                  * newest applied_at; "" when neither is known */
	long long completed_duration_ms; /* that run's duration; -1 when unknown */
	double last_end_s; /* the newest run's end, seconds since the epoch; 0: none or running */
	double last_duration_s; /* its duration (so far, while it runs); -1 when unknown */
};

/* The summary as HIST_RUNS_SUMMARY_COLS columns of a SELECT list, for the caller's own query
 * (the checker reads everything in one round trip); qtable and qruns are the history and runs
 * tables, quoted. malloc'd; NULL when out of memory. Read them back with
 * hist_runs_summary_take; NULLs read as no run. */
#define HIST_RUNS_SUMMARY_COLS 5
char *hist_runs_summary_sql(const char *qtable, const char *qruns);
void hist_runs_summary_take(const PGresult *r, int row, int col, struct hist_runs_summary *out);

/* The newest runs, at most limit, newest first, their outcome read as the summary reads it:
 * columns id, command, identity, backend_pid, started_at, finished_at (RFC 3339, NULL while
 * running), from_version, to_version, reached_version, outcome, error, fencing_token.
 * malloc'd; NULL when out of memory. */
char *hist_runs_recent_sql(const struct hist *h, size_t limit);
/* Takes up run_id again after a lost connection, on the new session: records the new
 * backend pid and fencing token (NULL token: kept) and, with exclusive, marks the other runs
 * still running abandoned. *resumed false when the row is no longer running (another lock
 * holder declared it abandoned meanwhile): the caller begins a new run. */
SG_MUSTCHECK int hist_run_resume(PGconn *c, const struct hist *h, long run_id,
                                 long long fencing_token, bool exclusive, bool *resumed,
                                 struct sg_err *err);

#endif /* SCHEMAGATE_HISTORY_H */
