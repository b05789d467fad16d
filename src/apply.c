/* apply.c - runs one migration file, up or down, with its history row and its guardrails. */
#include "apply.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backoff.h"
#include "db.h"
#include "lock.h"
#include "log.h"
#include "num.h"
#include "proc.h"
#include "resume.h"
#include "sqlsplit.h"

/* Builds "<file>:<line>:<col>: <server message>[; context: ...]" from a failed result whose
 * position is relative to text (which starts at base_line/base_col of file). When the server
 * gives no position, stmt (the 0-based index of the failing statement within text, -1 when
 * unknown) points at the start of that statement, so every error names a line. */
static void describe_sql_error(const PGresult *r, const PGconn *c, const char *file,
                               const char *text, size_t len, unsigned base_line, unsigned base_col,
                               long stmt, char *buf, size_t n)
{
	const char *pos = r != NULL ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
	const char *ctx = r != NULL ? PQresultErrorField(r, PG_DIAG_CONTEXT) : NULL;
	struct sql_stmts st = {NULL, 0};
	char msg[700], where[64] = "";
	unsigned line = 0, col = 0;
	int k;

	db_describe_error(r, c, msg, sizeof msg);
	if (pos != NULL && sqlsplit_position(text, len, strtol(pos, NULL, 10), base_line, base_col,
	                                     &line, &col) == 0) {
		snprintf(where, sizeof where, ":%u:%u", line, col);
	} else if (stmt >= 0 && sqlsplit(text, len, &st, NULL) == 0 && (size_t)stmt < st.n) {
		const struct sql_stmt *s = &st.v[stmt];

		col = (unsigned)sqlsplit_column_of(text, s->offset) + (s->line == 1 ? base_col : 0);
		snprintf(where, sizeof where, ":%u:%u", base_line + s->line, col);
	}
	sqlsplit_free(&st);
	/* Truncation is fine: a message for people. The context (e.g. "PL/pgSQL function f()
	 * line 3 at RAISE") may span lines; it stays on one. */
	k = snprintf(buf, n, "%s%s: %s%s", file, where, msg, ctx != NULL ? "; context: " : "");
	if (ctx != NULL && k >= 0 && (size_t)k < n) {
		snprintf(buf + k, n - (size_t)k, "%s", ctx);
		for (char *p = buf + k; *p != '\0'; p++)
			if (*p == '\n')
				*p = ' ';
	}
}

/* SG_E_MIGRATION describing the failed result r of text (see describe_sql_error), with its
 * cause. Returns -1. */
static int sql_error(const struct apply_ctx *ctx, const struct apply_file *f, const PGresult *r,
                     const char *text, size_t len, unsigned base_line, unsigned base_col, long stmt,
                     struct sg_err *err)
{
	char msg[sizeof err->msg];

	describe_sql_error(r, ctx->c, f->path, text, len, base_line, base_col, stmt, msg,
	                   sizeof msg);
	sg_err_set(err, SG_E_MIGRATION, "%s", msg);
	db_err_cause(err, r, ctx->c);
	if (db_err_is_infrastructure(err)) {
		/* Not the file's error: no file:line:col that would say so. The server's words stay
		 * (session_recover names the file that was running). */
		db_describe_error(r, ctx->c, msg, sizeof msg);
		snprintf(err->msg, sizeof err->msg, "%s", msg);
	}
	return -1;
}

/* SG_E_MIGRATION for a COPY whose inline data the server refused (a bad row): names the file
 * and the row's line, from the server's context ("COPY t, line 3, column b: ...": the data's
 * line 3, whose first line is data_line of the file), else the COPY statement's stmt_line. */
static int copy_error(const struct apply_ctx *ctx, const struct apply_file *f, const PGresult *r,
                      unsigned stmt_line, unsigned data_line, struct sg_err *err)
{
	const char *cx = r != NULL ? PQresultErrorField(r, PG_DIAG_CONTEXT) : NULL;
	const char *at = cx != NULL ? strstr(cx, ", line ") : NULL;
	char msg[700];
	unsigned line = stmt_line;
	long n = at != NULL ? strtol(at + 7, NULL, 10) : 0;

	if (n >= 1 && n <= (long)(UINT_MAX - data_line))
		line = data_line + (unsigned)n - 1;
	db_describe_error(r, ctx->c, msg, sizeof msg);
	/* Truncation is fine: a message for people. */
	sg_err_set(err, SG_E_MIGRATION, "%s:%u: %s%s%.200s", f->path, line, msg,
	           cx != NULL ? "; context: " : "", cx != NULL ? cx : "");
	db_err_cause(err, r, ctx->c);
	if (db_err_is_infrastructure(err))
		snprintf(err->msg, sizeof err->msg, "%s", msg);
	return -1;
}

/* Runs statements st->v[from..to) of text (a file, or its body at base_line/base_col of the
 * file) as one query: the text from the first to the last, which holds no psql line (pieces
 * are cut where cut_before); the last may be a COPY ... FROM stdin, which gets its inline data.
 * *done: the statements that completed. On failure err describes it, with file:line:col (a bad
 * COPY row: its line). */
static int run_piece(const struct apply_ctx *ctx, const struct apply_file *f, const char *text,
                     const struct sql_stmts *st, size_t from, size_t to, unsigned base_line,
                     unsigned base_col, size_t *done, struct sg_err *err)
{
	const struct sql_stmt *a = &st->v[from], *z = &st->v[to - 1];
	size_t off = a->offset, n = z->offset + z->len - off;
	unsigned bl = base_line + a->line - 1;
	unsigned bc = (unsigned)sqlsplit_column_of(text, off) - 1 + (a->line == 1 ? base_col : 0);
	char *q = strndup(text + off, n);
	PGresult *r;
	ExecStatusType rs;
	int rc = 0;

	*done = 0;
	if (q == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	r = db_exec_copy(ctx->c, q, z->copy ? text + z->data_offset : NULL, z->data_len, done);
	rs = PQresultStatus(r);
	if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK && rs != PGRES_EMPTY_QUERY) {
		if (z->copy && *done == to - from - 1)
			copy_error(ctx, f, r, base_line + z->line, base_line + z->data_line, err);
		else
			sql_error(ctx, f, r, q, n, bl, bc, (long)*done, err);
		rc = -1;
	}
	PQclear(r);
	free(q);
	return rc;
}

/* Whether st holds psql's lines (COPY data, a meta-command): then a text runs in pieces. */
static bool has_psql_lines(const struct sql_stmts *st)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->v[i].cut_before || st->v[i].copy)
			return true;
	return false;
}

static bool timed_out(const struct sg_err *err)
{
	return strcmp(err->sqlstate, DB_SQLSTATE_LOCK_TIMEOUT) == 0;
}

/* Waits before retry `attempt` of something of f that hit lock_timeout, logging why. false
 * when a stop signal came (err set). */
static bool retry_pause(const struct apply_ctx *ctx, const struct apply_file *f, unsigned attempt,
                        unsigned *seed, const char *what, const struct sg_err *why,
                        struct sg_err *err)
{
	const struct cfg *cfg = ctx->cfg;
	long d = backoff_jitter_ms(cfg->lock_poll_min_ms, cfg->lock_poll_max_ms,
	                           attempt < 32 ? attempt : 32, (unsigned)rand_r(seed));
	char v[24], a[24], of[24], delay[32];

	snprintf(v, sizeof v, "%ld", f->m->version);
	snprintf(a, sizeof a, "%u", attempt);
	snprintf(of, sizeof of, "%ld", cfg->mig_lock_retries);
	num_format_duration(d, delay, sizeof delay);
	log_warn("lock_timeout expired: rolled back, will retry", "version", v, "what", what,
	         "retry", a, "of", of, "delay", delay, "error", why->msg, NULL);
	if (!proc_sleep_ms(d)) {
		sg_err_set(err, SG_E_STOPPED, "stopped while waiting to retry version %ld",
		           f->m->version);
		return false;
	}
	return true;
}

/* Sends several statements in one round trip and reads every result. On success *rows holds
 * the last result with rows (or NULL); on the first failing statement err describes it (with
 * its cause), and the caller rolls back. */
static int exec_batch(PGconn *c, const char *sql, PGresult **rows, struct sg_err *err)
{
	PGresult *r, *bad = NULL;

	*rows = NULL;
	if (!PQsendQuery(c, sql)) {
		sg_err_set(err, SG_E_DB, "%s", PQerrorMessage(c));
		return db_err_cause(err, NULL, c);
	}
	while ((r = PQgetResult(c)) != NULL) {
		ExecStatusType st = PQresultStatus(r);

		if (st == PGRES_TUPLES_OK && bad == NULL) {
			PQclear(*rows);
			*rows = r;
		} else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && bad == NULL) {
			bad = r;
		} else {
			PQclear(r);
		}
	}
	if (bad == NULL)
		return 0;
	{
		char msg[sizeof err->msg];

		db_describe_error(bad, c, msg, sizeof msg);
		sg_err_set(err, SG_E_DB, "%s", msg);
		db_err_cause(err, bad, c);
	}
	PQclear(bad);
	PQclear(*rows);
	*rows = NULL;
	return -1;
}

/* The splitter (sqlsplit.h) reads strings as PostgreSQL does with standard_conforming_strings
 * on: every file runs with it on, whatever the database's default, or a backslash before a
 * quote would make the server and the splitter disagree on where a string ends (and a COMMIT
 * the splitter took for text would run). */
#define SCS_ON "standard_conforming_strings TO on"

/* What every file starts from and leaves behind, run first in each of its transactions (up or
 * down) and after its last statement: the session's settings as the connection began (RESET
 * ALL), so that what a file changed at session level (pg_dump's
 * `SELECT pg_catalog.set_config('search_path', '', false);`, a SET ROLE, a SET without LOCAL)
 * never reaches the next file nor stays with a pooled server connection; then our
 * application_name again (db_set_role may have changed it after connecting: libpq knows its
 * value, the server reports it). The file's own settings (search path, timeouts) follow it.
 * Not DISCARD ALL: it would drop the session's advisory lock, and cannot run in a
 * transaction. NULL: out of memory. */
static char *session_reset_sql(PGconn *c)
{
	const char *app = PQparameterStatus(c, "application_name");
	char *lit = app != NULL ? PQescapeLiteral(c, app, strlen(app)) : NULL;
	char *q = db_sqlf("RESET ALL;%s%s%s", lit != NULL ? "SET application_name TO " : "",
	                  lit != NULL ? lit : "", lit != NULL ? ";" : "");

	PQfreemem(lit);
	return q;
}

/* The SET LOCALs every transaction of a file starts with: the search path,
 * statement_timeout and standard_conforming_strings (session settings do not survive a transaction
 * pooler, and must not leak into its other clients). */
static int local_sets(const struct cfg *cfg, char **out, struct sg_err *err)
{
	char *sp = NULL;

	*out = NULL;
	if (db_search_path_sql(cfg->search_path, &sp, err) != 0)
		return -1;
	/* sp is "SET search_path TO ...": made LOCAL after its first word. */
	*out = db_sqlf("%s%s%sSET LOCAL statement_timeout = %ld;SET LOCAL %s;",
	               sp != NULL ? "SET LOCAL" : "", sp != NULL ? sp + 3 : "",
	               sp != NULL ? ";" : "", cfg->mig_statement_timeout_ms, SCS_ON);
	free(sp);
	return *out != NULL ? 0 : sg_err_set(err, SG_E_NOMEM, "out of memory");
}

/* The row's statement at the end of a file's work in a transaction: recorded clean going up,
 * deleted going down. */
static char *row_done_sql(const struct apply_ctx *ctx, const struct apply_file *f, long duration_ms)
{
	struct hist_entry e = {f->m->version,      f->m->name, f->m->checksum,      duration_ms,
	                       ctx->cfg->identity, false,      f->m->no_transaction};

	return f->dir == APPLY_UP ? hist_sql_insert(ctx->c, ctx->h, &e)
	                          : hist_sql_delete(ctx->h, f->m->version);
}

/* The row's statement when a file's work may not finish: recorded dirty going up, marked
 * dirty going down. */
static char *row_dirty_sql(const struct apply_ctx *ctx, const struct apply_file *f,
                           long duration_ms)
{
	struct hist_entry e = {f->m->version,      f->m->name, f->m->checksum,      duration_ms,
	                       ctx->cfg->identity, true,       f->m->no_transaction};

	return f->dir == APPLY_UP ? hist_sql_insert(ctx->c, ctx->h, &e)
	                          : hist_sql_mark_dirty(ctx->h, f->m->version);
}

/* The row's statement after the last statement of a no-transaction file, whose row was
 * marked dirty first: marked clean going up, deleted going down. */
static char *row_finished_sql(const struct apply_ctx *ctx, const struct apply_file *f,
                              long duration_ms)
{
	return f->dir == APPLY_UP ? hist_sql_mark_done(ctx->h, f->m->version, duration_ms)
	                          : hist_sql_delete(ctx->h, f->m->version);
}

/* db_exec of "<before><sql><after>", sql malloc'd (NULL: out of memory) and freed here. */
static int exec_around(PGconn *c, const char *before, char *sql, const char *after,
                       struct sg_err *err)
{
	char *q = sql != NULL ? db_sqlf("%s%s%s", before, sql, after) : NULL;

	free(sql);
	return db_exec_owned(c, q, err);
}

/* ---- in one transaction ---- */

/* What one attempt of a file in a transaction came to. */
enum attempt {
	ATTEMPT_DONE,    /* committed with its row (or nothing to do: res->skipped) */
	ATTEMPT_FAILED,  /* err says why; rolled back */
	ATTEMPT_TIMEOUT, /* a statement of the file waited past lock_timeout; rolled back */
};

/* One transaction: the migration lock and the re-check, the file's text, then its row,
 * committed together. Safe whatever sits between us and PostgreSQL: the transaction-scoped
 * lock and the re-check under it mean that two replicas without a common session lock (a
 * transaction pooler) still run each version once. text is the body (without an outer
 * BEGIN/COMMIT of the file's own), at base_line/base_col of the file. */
static enum attempt try_in_transaction(const struct apply_ctx *ctx, const struct apply_file *f,
                                       const char *text, size_t text_len,
                                       const struct sql_stmts *pieces, unsigned base_line,
                                       unsigned base_col, bool durable, long lock_ms,
                                       struct apply_result *res, struct sg_err *err)
{
	const struct cfg *cfg = ctx->cfg;
	char *sets = NULL, *has = NULL, *head = NULL, *reset = NULL, *tail = NULL;
	struct sg_err e2;
	PGresult *r = NULL;
	long long t0;
	enum attempt rc = ATTEMPT_FAILED;
	size_t done = 0;
	bool recorded;

	/* The migration lock is polled in short transactions (lock.h): a replica waiting for it
	 * holds no pooled server connection. The re-check is a statement after the lock's, with a
	 * snapshot taken once the lock is held (READ COMMITTED), so it sees a commit made by the
	 * previous holder. */
	if (local_sets(cfg, &sets, err) != 0)
		goto cleanup;
	if ((has = hist_sql_has(ctx->h, f->m->version)) == NULL ||
	    (reset = session_reset_sql(ctx->c)) == NULL ||
	    (head = db_sqlf("%sSET LOCAL lock_timeout = %ld;SET LOCAL synchronous_commit TO %s;%s",
	                    reset, lock_ms, durable ? "on" : "off", sets)) == NULL ||
	    (tail = db_sqlf("%sSET LOCAL synchronous_commit TO %s;", reset,
	                    durable ? "on" : "off")) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	if (lock_xact_begin(ctx->c, ctx->key, head, cfg, err) != 0) {
		if (err->code == SG_E_TIMEOUT)
			sg_err_wrap(err, SG_E_TIMEOUT, "%.800s before version %ld", err->msg,
			            f->m->version);
		goto cleanup;
	}
	if (exec_batch(ctx->c, has, &r, err) != 0) {
		db_rollback(ctx->c);
		goto cleanup;
	}
	if (r == NULL || PQntuples(r) != 1) {
		sg_err_set(err, SG_E_DB, "re-checking version %ld: no answer", f->m->version);
		db_rollback(ctx->c);
		goto cleanup;
	}
	recorded = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	if (recorded == (f->dir == APPLY_UP)) {
		/* Another replica did it between our read and our lock. */
		res->skipped = true;
		db_rollback(ctx->c);
		rc = ATTEMPT_DONE;
		goto cleanup;
	}
	PQclear(r);
	r = NULL;
	/* The text travels alone (no copy with BEGIN in front): memory stays near one copy of the
	 * file plus libpq's send buffer, and the server's error positions are positions in
	 * text. */
	t0 = proc_now_ms();
	if (pieces != NULL) {
		/* psql's lines (COPY data, \restrict) are not SQL: the text runs in pieces
		 * between them, each COPY with its data. */
		for (size_t a = 0, z; a < pieces->n; a = z) {
			for (z = a + 1; z < pieces->n && !pieces->v[z].cut_before; z++)
				;
			if (run_piece(ctx, f, text, pieces, a, z, base_line, base_col, &done,
			              err) != 0) {
				rc = timed_out(err) ? ATTEMPT_TIMEOUT : ATTEMPT_FAILED;
				db_rollback(ctx->c);
				goto cleanup;
			}
		}
	} else {
		r = db_exec_counting(ctx->c, text, &done);
		if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK &&
		    PQresultStatus(r) != PGRES_EMPTY_QUERY) {
			sql_error(ctx, f, r, text, text_len, base_line, base_col, (long)done, err);
			rc = timed_out(err) ? ATTEMPT_TIMEOUT : ATTEMPT_FAILED;
			db_rollback(ctx->c);
			goto cleanup;
		}
	}
	res->duration_ms = (long)(proc_now_ms() - t0);
	if (PQtransactionStatus(ctx->c) != PQTRANS_INTRANS) {
		/* The file ended the transaction itself (COMMIT/ROLLBACK): its effects may be
		 * committed without its row. Marked dirty so nobody builds on an unknown state. */
		sg_err_set(err, SG_E_MIGRATION,
		           "%s: the file ends the transaction itself (COMMIT or ROLLBACK); "
		           "recorded as dirty. Use '-- schemagate:no-transaction' for such files",
		           f->path);
		if (db_exec_owned(ctx->c, row_dirty_sql(ctx, f, res->duration_ms), &e2) != 0)
			log_warn("could not record the migration as dirty", "file", f->path,
			         "error", e2.msg, NULL);
		goto cleanup;
	}
	/* What the file set at session level is undone in its own transaction: committed with
	 * it, or rolled back with it. */
	if (exec_around(ctx->c, tail, row_done_sql(ctx, f, res->duration_ms), ";COMMIT", err) !=
	    0) {
		sg_err_wrap(err, SG_E_MIGRATION, "%s: recording it in the history failed: %.800s",
		            f->path, err->msg);
		db_rollback(ctx->c);
		goto cleanup;
	}
	rc = ATTEMPT_DONE;
cleanup:
	PQclear(r);
	free(sets);
	free(has);
	free(head);
	free(reset);
	free(tail);
	return rc;
}

/* A statement that failed only because the file runs in a transaction: the error says which
 * directive to add (judged by the SQLSTATE, never by the message's words). */
static void transaction_hint(struct sg_err *err)
{
	if (strcmp(err->sqlstate, DB_SQLSTATE_IN_TRANSACTION_BLOCK) == 0)
		sg_err_wrap(err, err->code,
		            "%.800s (this statement cannot run inside a transaction: add the line "
		            "'-- schemagate:no-transaction' to the file's leading comment lines)",
		            err->msg);
	else if (strcmp(err->sqlstate, DB_SQLSTATE_UNSAFE_NEW_ENUM_VALUE) == 0)
		sg_err_wrap(
		    err, err->code,
		    "%.750s (a value added by ALTER TYPE ... ADD VALUE cannot be used in the "
		    "transaction that added it: use it in a later migration file, or add the "
		    "line '-- schemagate:no-transaction' to the file's leading comment lines)",
		    err->msg);
}

/* A file in a transaction, run again with backoff and jitter when one of its statements
 * waits past lock_timeout (so the application's queries never queue behind it for longer). */
static int run_in_transaction(const struct apply_ctx *ctx, const struct apply_file *f, bool durable,
                              struct apply_result *res, struct sg_err *err)
{
	const struct cfg *cfg = ctx->cfg;
	/* What runs: the file without its own outer BEGIN/COMMIT, if it has one (then a copy:
	 * the body does not end the file's text). */
	const char *text = f->sql;
	long lock_ms = directive_lock_timeout(&f->d, cfg->mig_lock_timeout_ms);
	unsigned seed = (unsigned)getpid() ^ (unsigned)proc_now_ms();
	char *copy = NULL;
	struct sql_body b;
	struct sql_stmts st = {NULL, 0};
	int rc = -1;

	if (sqlsplit_body(f->sql, f->len, false, &b, err) != 0)
		return sg_err_set(err, SG_E_PARSE, "%s: %.900s", f->path, err->msg);
	if (b.wrapped) {
		if ((copy = strndup(f->sql + b.offset, b.len)) == NULL)
			return sg_err_set(err, SG_E_NOMEM, "out of memory");
		text = copy;
	}
	/* psql's lines all hold a backslash (COPY data ends with "\."): without one, no second
	 * split and no statement array held while the file runs. */
	if (memchr(text, '\\', b.len) != NULL && sqlsplit(text, b.len, &st, err) != 0) {
		sg_err_wrap(err, SG_E_PARSE, "%s: %.900s", f->path, err->msg);
		goto cleanup;
	}
	for (unsigned attempt = 1;; attempt++) {
		enum attempt a =
		    try_in_transaction(ctx, f, text, b.len, has_psql_lines(&st) ? &st : NULL,
		                       b.line, b.col, durable, lock_ms, res, err);

		if (a == ATTEMPT_DONE) {
			rc = 0;
			break;
		}
		if (a == ATTEMPT_FAILED || proc_stopping())
			break;
		if ((long)attempt > cfg->mig_lock_retries) {
			char why[sizeof err->msg];

			snprintf(why, sizeof why, "%s", err->msg);
			sg_err_wrap(err, SG_E_MIGRATION,
			            "%.700s (lock_timeout %ld ms expired on %u attempts; "
			            "MIGRATIONS_LOCK_RETRIES=%ld)",
			            why, lock_ms, attempt, cfg->mig_lock_retries);
			break;
		}
		struct sg_err why = *err;
		if (!retry_pause(ctx, f, attempt, &seed, "transaction", &why, err))
			break;
	}
cleanup:
	sqlsplit_free(&st);
	free(copy);
	if (rc != 0)
		transaction_hint(err);
	return rc;
}

/* ---- statement by statement ---- */

/* Runs statement i of st (a split of f->sql) by itself on the session, again after a backoff
 * while it waits past lock_timeout, up to MIGRATIONS_LOCK_RETRIES times. */
static int run_statement(const struct apply_ctx *ctx, const struct apply_file *f,
                         const struct sql_stmts *st, size_t i, unsigned *seed, struct sg_err *err)
{
	int rc = -1;

	for (unsigned attempt = 1;; attempt++) {
		size_t done;

		if (run_piece(ctx, f, f->sql, st, i, i + 1, 0, 0, &done, err) == 0) {
			rc = 0;
			break;
		}
		if (!timed_out(err) || (long)attempt > ctx->cfg->mig_lock_retries)
			break;
		struct sg_err why = *err;
		if (!retry_pause(ctx, f, attempt, seed, "statement", &why, err))
			break;
	}
	return rc;
}

/* Records version's resume point (done statements completed; < 0: none) in its own
 * autocommit statement, durable like the dirty mark. */
static int record_progress(const struct apply_ctx *ctx, const struct apply_file *f, long done,
                           struct sg_err *err)
{
	if (db_exec_owned(ctx->c, hist_sql_progress(ctx->h, f->m->version, done), err) != 0)
		return sg_err_wrap(err, SG_E_MIGRATION,
		                   "%s: recording its progress in the history "
		                   "failed: %.800s",
		                   f->path, err->msg);
	return 0;
}

/* The one loop over a no-transaction file's statements: runs st->v[from..) in order, one by
 * one; *done counts the statements of the file that have completed. With progress, each one
 * that completes moves the row's resume point past it, so that a lost connection costs at
 * most the statement in flight; a statement that fails by its own SQL takes the resume point
 * away (a person decides: finish or undo it, then force). */
static int run_statements(const struct apply_ctx *ctx, const struct apply_file *f,
                          const struct sql_stmts *st, size_t from, bool progress, size_t *done,
                          struct sg_err *err)
{
	unsigned seed = (unsigned)getpid() ^ (unsigned)proc_now_ms();

	*done = from;
	for (size_t i = from; i < st->n; i++) {
		if (run_statement(ctx, f, st, i, &seed, err) != 0) {
			if (err->code == SG_E_MIGRATION && !db_err_is_infrastructure(err)) {
				struct sg_err e2;

				if (progress && record_progress(ctx, f, -1, &e2) != 0)
					log_warn("could not clear the resume point", "file",
					         f->path, "error", e2.msg, NULL);
				sg_err_wrap(
				    err, SG_E_MIGRATION,
				    "%.900s (no-transaction migration left dirty after %zu of "
				    "%zu statements)",
				    err->msg, i, st->n);
			}
			return -1;
		}
		*done = i + 1;
		if (progress && record_progress(ctx, f, (long)i + 1, err) != 0)
			return -1;
	}
	return 0;
}

/* The first line of a statement, cut to fit: what a message quotes of it. */
static void statement_head(const char *sql, const struct sql_stmt *s, char *buf, size_t n)
{
	size_t len = strcspn(sql + s->offset, "\n");

	if (len > s->len)
		len = s->len;
	/* Truncation is intended: a quote for people. */
	snprintf(buf, n, "%.*s%s", (int)(len < 80 ? len : 80), sql + s->offset,
	         len > 80 || len < s->len ? " ..." : "");
}

/* The index a cut-off CREATE INDEX CONCURRENTLY names, looked up on its table as the
 * statement resolved it (the session's search path is set): *state 1 valid, 0 INVALID,
 * -1 none; *qname its schema-qualified quoted name. */
static int index_state(const struct apply_ctx *ctx, const struct resume_plan *p, int *state,
                       char **qname, struct sg_err *err)
{
	const char *params[2] = {p->table, p->index};
	PGresult *r = NULL;

	*state = -1;
	*qname = NULL;
	if (db_query(ctx->c,
	             "SELECT i.indisvalid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) "
	             "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n "
	             "ON n.oid = c.relnamespace WHERE i.indrelid = to_regclass($1) AND "
	             "c.relname = $2",
	             2, params, &r, err) != 0)
		return -1;
	if (PQntuples(r) == 1) {
		*state = strcmp(PQgetvalue(r, 0, 0), "t") == 0 ? 1 : 0;
		if ((*qname = strdup(PQgetvalue(r, 0, 1))) == NULL) {
			PQclear(r);
			return sg_err_set(err, SG_E_NOMEM, "out of memory");
		}
	}
	PQclear(r);
	return 0;
}

/* Decides where a no-transaction file whose first k statements completed goes on: statement k
 * was in flight when the connection was lost (or had not started), so whether it took effect
 * is unknown. resume_classify says what is safe: run it again; for a named CREATE INDEX
 * CONCURRENTLY, look at the index (valid: it finished; INVALID: drop it concurrently and
 * build it again; none: build it); else refuse (SG_E_DIRTY) with the exact state and both ways
 * out. *from: the statement to go on with. */
static int take_up(const struct apply_ctx *ctx, const struct apply_file *f,
                   const struct sql_stmts *st, size_t k, size_t *from, struct sg_err *err)
{
	const struct sql_stmt *s;
	struct resume_plan p;
	char v[24], at[24], head[128], *qname = NULL;
	int state, rc = -1;

	*from = k;
	if (k >= st->n)
		return 0; /* every statement completed: only the row was not marked clean */
	s = &st->v[k];
	p = resume_classify(f->sql + s->offset, s->len);
	statement_head(f->sql, s, head, sizeof head);
	snprintf(v, sizeof v, "%ld", f->m->version);
	snprintf(at, sizeof at, "%zu", k + 1);
	switch (p.kind) {
	case RESUME_RERUN:
		log_info("running the cut-off statement again: idempotent by construction",
		         "version", v, "statement", at, "kind", p.why, NULL);
		return 0;
	case RESUME_INDEX:
		if (index_state(ctx, &p, &state, &qname, err) != 0)
			return -1;
		if (state == 1) {
			log_info("the cut-off CREATE INDEX CONCURRENTLY had finished: its index is "
			         "valid",
			         "version", v, "statement", at, "index", qname, NULL);
			*from = k + 1;
			rc = record_progress(ctx, f, (long)k + 1, err);
		} else if (state == 0) {
			log_warn("dropping the INVALID index the cut-off CREATE INDEX CONCURRENTLY "
			         "left, "
			         "then building it again",
			         "version", v, "statement", at, "index", qname, NULL);
			rc = db_exec_owned(
			    ctx->c, db_sqlf("DROP INDEX CONCURRENTLY IF EXISTS %s", qname), err);
		} else {
			rc = 0;
		}
		free(qname);
		return rc;
	case RESUME_REFUSE:
		break;
	}
	return sg_err_set(err, SG_E_DIRTY,
	                  "%s: statement %zu of %zu (line %u: %s) was cut off by a lost connection "
	                  "and may or may not have taken effect; it is not run again (%s). Either "
	                  "finish statements %zu to %zu by hand and run 'schemagate force %ld', or "
	                  "undo what statements 1 to %zu did and run 'schemagate force %ld'; then "
	                  "run migrate again",
	                  f->path, k + 1, st->n, s->line, head, p.why, k + 1, st->n, f->m->version,
	                  k, f->m->version - 1);
}

/* Outside a transaction, statement by statement: the row is marked dirty first (durably), and
 * only after the last statement recorded clean (up) or deleted (down). Going up, the row also
 * keeps the resume point (hist_sql_progress). resume_at < 0: a fresh start; else the row is
 * dirty with resume_at statements completed, and take_up decides where to go on. Needs a real
 * session: the settings are the session's (the caller refuses such files behind a transaction
 * pooler). */
static int run_outside_transaction(const struct apply_ctx *ctx, const struct apply_file *f,
                                   long resume_at, struct apply_result *res, struct sg_err *err)
{
	const struct cfg *cfg = ctx->cfg;
	static const char durably[] = "BEGIN;SET LOCAL synchronous_commit TO on;";
	struct sql_stmts st = {NULL, 0};
	long long t0 = proc_now_ms();
	long lock_ms = directive_lock_timeout(&f->d, cfg->mig_lock_timeout_ms);
	char *sets = NULL, *sp = NULL, *reset = NULL, *end = NULL;
	size_t done = 0, from = 0;
	bool progress = false;
	int rc = -1;

	if (sqlsplit(f->sql, f->len, &st, err) != 0) {
		sg_err_set(err, SG_E_PARSE, "%s: %.900s", f->path, err->msg);
		goto cleanup;
	}
	if (f->dir == APPLY_UP && hist_progress_column(ctx->c, ctx->h, &progress, err) != 0)
		goto cleanup;
	if (resume_at < 0) {
		/* With its resume point at 0 in the same commit. */
		char *zero = progress ? hist_sql_progress(ctx->h, f->m->version, 0) : NULL;
		char *tail = progress && zero == NULL ? NULL
		                                      : db_sqlf(";%s%sCOMMIT", progress ? zero : "",
		                                                progress ? ";" : "");

		free(zero);
		if (tail == NULL) {
			sg_err_set(err, SG_E_NOMEM, "out of memory");
			goto cleanup;
		}
		rc = exec_around(ctx->c, durably, row_dirty_sql(ctx, f, 0), tail, err);
		free(tail);
		if (rc != 0) {
			db_rollback(ctx->c);
			sg_err_wrap(err, SG_E_MIGRATION,
			            "%s: recording it as started failed: %.800s", f->path,
			            err->msg);
			goto cleanup;
		}
		rc = -1;
	}
	/* A real session: session settings hold for every statement; the search path as the
	 * files in a transaction get it locally. The file starts from the session's first state
	 * and leaves it behind (session_reset_sql). */
	if ((reset = session_reset_sql(ctx->c)) == NULL ||
	    (sets = db_sqlf("%sSET lock_timeout = %ld;SET statement_timeout = %ld;SET %s", reset,
	                    lock_ms, cfg->mig_statement_timeout_ms, SCS_ON)) == NULL ||
	    (end = db_sqlf("%sBEGIN;SET LOCAL synchronous_commit TO on;", reset)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	if (db_exec(ctx->c, sets, err) != 0 ||
	    db_search_path_sql(cfg->search_path, &sp, err) != 0 ||
	    (sp != NULL && db_exec(ctx->c, sp, err) != 0))
		goto cleanup;
	if (resume_at >= 0 && take_up(ctx, f, &st, (size_t)resume_at, &from, err) != 0)
		goto cleanup;
	if (run_statements(ctx, f, &st, from, progress, &done, err) != 0)
		goto cleanup;
	res->duration_ms = (long)(proc_now_ms() - t0);
	if (exec_around(ctx->c, end, row_finished_sql(ctx, f, res->duration_ms), ";COMMIT", err) !=
	    0) {
		db_rollback(ctx->c);
		sg_err_wrap(err, SG_E_MIGRATION, "%s: marking it finished failed: %.800s", f->path,
		            err->msg);
		goto cleanup;
	}
	rc = 0;
cleanup:
	free(sets);
	free(sp);
	free(reset);
	free(end);
	sqlsplit_free(&st);
	return rc;
}

int apply_check(const char *path, const char *sql, size_t len, const struct directives *d,
                struct sg_err *err)
{
	struct sql_body b;

	if (sqlsplit_body(sql, len, d->no_transaction, &b, err) != 0)
		return sg_err_set(err, SG_E_PARSE, "%s: %.900s", path, err->msg);
	return 0;
}

int apply_one(const struct apply_ctx *ctx, const struct apply_file *f, bool durable,
              struct apply_result *res, struct sg_err *err)
{
	memset(res, 0, sizeof *res);
	if (f->d.no_transaction)
		return run_outside_transaction(ctx, f, -1, res, err);
	return run_in_transaction(ctx, f, durable, res, err);
}

int apply_take_up(const struct apply_ctx *ctx, const struct apply_file *f, long done,
                  struct apply_result *res, struct sg_err *err)
{
	memset(res, 0, sizeof *res);
	if (!f->d.no_transaction || f->dir != APPLY_UP || done < 0)
		return sg_err_set(err, SG_E_DIRTY, "%s: no resume point", f->path);
	return run_outside_transaction(ctx, f, done, res, err);
}
