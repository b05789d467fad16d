/* apply.h - runs one migration file, up or down, with its history row and its guardrails. */
#ifndef SCHEMAGATE_APPLY_H
#define SCHEMAGATE_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "config.h"
#include "directive.h"
#include "err.h"
#include "history.h"
#include "migrations.h"

/* Where a file runs: borrowed from the caller's session for the length of a call. */
struct apply_ctx {
	const struct cfg *cfg; /* timeouts, retries and their backoff, search path, identity */
	PGconn *c;             /* a real session when the file is a no-transaction one */
	const struct hist *h;  /* the history table the file's row is written to */
	int64_t key;           /* the migration lock key: each transaction takes it as well
	                        * (lock_xact_begin), so that replicas without a common session lock
	                        * (a transaction pooler) still run each version once */
};

/* Which way a file goes. */
enum apply_direction {
	APPLY_UP,   /* an up file: its row is recorded */
	APPLY_DOWN, /* a down file: its row is deleted */
};

/* One file to run. Borrowed. */
struct apply_file {
	const struct mig *m; /* the migration: version, name, checksum, no_transaction */
	enum apply_direction dir;
	const char *path; /* the file run (m->up_path or m->down_path), for messages */
	const char *sql;  /* its text, len bytes (NUL-terminated) */
	size_t len;
	struct directives d; /* its directives, as read when it was loaded */
};

/* What a file's run came to. */
struct apply_result {
	long duration_ms; /* the file's statements, from the first to the last */
	bool skipped;     /* nothing to do: the version was found recorded (up) or gone (down)
	                   * under the lock, another replica's work */
};

/* Offline, before any lock or write: what apply_one would refuse before running a statement
 * of the file. It must split (sqlsplit.h) and hold no transaction control but one outer
 * BEGIN/COMMIT wrapper (none in a no-transaction file). SG_E_PARSE naming path. verify,
 * migrate and down all ask this. */
SG_MUSTCHECK int apply_check(const char *path, const char *sql, size_t len,
                             const struct directives *d, struct sg_err *err);

/* Runs f on ctx->c, the same way whichever direction:
 *   - in one transaction (the default): the SET LOCALs (the file's lock_timeout: its
 *     directive, else MIGRATIONS_LOCK_TIMEOUT; synchronous_commit on when durable else off; the
 *     search path; MIGRATIONS_STATEMENT_TIMEOUT) and the migration lock, polled in short
 *     transactions until lock.timeout (lock_xact_begin), a re-check of the row, the file's text
 * alone (without an outer BEGIN/COMMIT of its own), then its row (recorded, or deleted) and COMMIT.
 * A statement that waits past lock_timeout (SQLSTATE 55P03) rolls it all back; it runs again after
 * a backoff with jitter, up to MIGRATIONS_LOCK_RETRIES times.
 *   - with the no-transaction marker: the row is marked dirty first (durably: recorded dirty
 *     going up, updated dirty going down), then each statement runs by itself with the
 *     session's lock_timeout and statement_timeout, a statement that waits past lock_timeout
 *     again by itself after a backoff; after the last one the row is recorded clean (up) or
 *     deleted (down). A failure part-way leaves the row dirty, for an operator (force).
 * Errors: SG_E_MIGRATION (a statement failed: err names path, line, column and SQLSTATE; the
 * retries ran out; the row could not be written), SG_E_TIMEOUT (the migration lock), SG_E_PARSE
 * (the file does not split), SG_E_STOPPED (a signal while waiting to retry), SG_E_NOMEM. The
 * cause (sqlstate, conn_lost) of a database error is kept in err. */
SG_MUSTCHECK int apply_one(const struct apply_ctx *ctx, const struct apply_file *f, bool durable,
                           struct apply_result *res, struct sg_err *err);

/* Takes up an up no-transaction file whose row is dirty with its resume point at done (the
 * first done statements completed; hist_read_progress), after a lost connection cut it off:
 * the statement that was in flight is run again only when that is safe (resume.h: idempotent
 * by construction, or a named CREATE INDEX CONCURRENTLY whose INVALID leftover is dropped
 * concurrently first, or found valid and skipped), then the rest, then the row is marked
 * clean, as apply_one does. SG_E_DIRTY (the statement is not safe to run again: the message
 * names it, its line, and both ways out) and apply_one's errors. */
SG_MUSTCHECK int apply_take_up(const struct apply_ctx *ctx, const struct apply_file *f, long done,
                               struct apply_result *res, struct sg_err *err);

#endif /* SCHEMAGATE_APPLY_H */
