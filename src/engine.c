/* engine.c - migrate, down and force under the PostgreSQL advisory lock. */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "backoff.h"
#include "db.h"
#include "follower.h"
#include "foreign.h"
#include "history.h"
#include "lease.h"
#include "loader.h"
#include "lock.h"
#include "log.h"
#include "migrations.h"
#include "num.h"
#include "plan.h"
#include "proc.h"
#include "sqlsplit.h"

/* Everything one command holds; released by session_close in one place. */
struct session {
	const struct cfg *cfg;
	PGconn *c;
	struct mig_set *set;
	struct hist h;
	struct plan p;
	int64_t key;
	bool locked;
	long run_id;         /* 0: no audit row yet */
	struct lease *lease; /* the Redis lease when election by Redis is on, else NULL */
	long reached;        /* head after our work: published to followers on release */
	bool pooled;         /* s->c reaches PostgreSQL through a pooler: no session state
	                      * (session lock, LISTEN, SET) survives between transactions */
	char *local_sets;    /* "SET LOCAL ..." run first in each migration's transaction */
};

static void fmt_long(char *buf, size_t n, long v)
{
	snprintf(buf, n, "%ld", v);
}

/* Reads the history (one query) and what follows from it: pooling, lock key. */
static int session_read_history(struct session *s, struct sg_err *err)
{
	char *schema = NULL;
	int rc;

	plan_free(&s->p);
	hist_free(&s->h);
	if (db_first_schema(s->cfg->search_path, &schema, err) != 0)
		return -1;
	rc = hist_read_lean(s->c, schema, s->cfg->table, &s->h, err);
	free(schema);
	if (rc != 0)
		return -1;
	s->pooled = db_pid_is_pooled(s->c, s->h.backend_pid);
	s->key = lock_key(PQdb(s->c), s->h.schema, s->cfg->table);
	return 0;
}

/* Reads the state again: the history, and the plan against the folder. */
static int session_read(struct session *s, struct sg_err *err)
{
	if (session_read_history(s, err) != 0)
		return -1;
	return plan_make(s->set, &s->h, s->cfg->target, &s->p, err);
}

static int session_open(struct session *s, const struct cfg *cfg, const char *role,
                        struct sg_err *err)
{
	struct loader *l = NULL;
	struct sg_err lerr;
	int rc, lrc;

	memset(s, 0, sizeof *s);
	s->cfg = cfg;
	/* The no-op path runs on every pod start: reading and hashing every file
	 * (thousands of system calls with a long history) overlaps the
	 * connection handshake (SCRAM, round trips) instead of adding to it.
	 * No text is kept: session_load_texts reads the pending files again. */
	if (loader_start(cfg->dir, MIG_DEFAULT_MAX_BYTES, MIG_NO_TEXT, &l, err) != 0)
		return -1;
	/* migrate sets the search path in each transaction (SET LOCAL), so the
	 * history read is the only query of the no-op path; down runs files on
	 * the session and needs it there. */
	rc = strcmp(role, "migrate") == 0 ? db_connect_bare(cfg, role, &s->c, err)
	                                  : db_connect(cfg, role, &s->c, err);
	/* The history's round trip overlaps the folder too: it needs no file. */
	if (rc == 0)
		rc = session_read_history(s, err);
	lrc = loader_finish(l, &s->set, &lerr);
	if (lrc != 0) {
		/* A broken folder is the more useful message, whatever the database did. */
		*err = lerr;
		return -1;
	}
	if (rc != 0)
		return -1;
	return plan_make(s->set, &s->h, cfg->target, &s->p, err);
}

/* Takes the lock (unless an election already did), makes sure the tables
 * exist and reads the state again: a replica that held the lock before us may
 * have done the work. */
static int session_lock_held(struct session *s, bool already_locked, struct sg_err *err)
{
	char key[24];

	snprintf(key, sizeof key, "%lld", (long long)s->key);
	if (s->pooled) {
		/* A session lock taken through a transaction pooler is held by
		 * whichever server connection ran it. Each migration's own
		 * transaction takes the lock instead (apply_in_transaction). */
		log_debug("behind a pooler: no session lock, one transaction-scoped lock per "
		          "migration",
		          "lock_key", key, NULL);
	} else {
		if (!already_locked && lock_acquire(s->c, s->key, s->cfg, err) != 0)
			return -1;
		s->locked = true;
		log_debug("migration lock acquired", "lock_key", key, NULL);
	}
	if (!s->h.exists && hist_ensure(s->c, &s->h, s->key, err) != 0)
		return -1;
	return session_read(s, err);
}

static int session_lock(struct session *s, struct sg_err *err)
{
	return session_lock_held(s, false, err);
}

static void session_close(struct session *s)
{
	struct sg_err e;

	if (s->locked && !db_is_broken(s->c) && lock_release(s->c, s->key, &e) != 0)
		log_error("releasing the migration lock failed", "error", e.msg, NULL);
	/* After the lock, so that a follower woken by the message can take both
	 * at once (it only needs them when we did not reach the target). */
	if (s->lease != NULL && lease_release(s->lease, true, s->reached, &e) != 0)
		log_warn("releasing the lease failed; it expires by itself", "error", e.msg, NULL);
	lease_free(s->lease);
	if (s->c != NULL)
		PQfinish(s->c);
	plan_free(&s->p);
	hist_free(&s->h);
	mig_set_free(s->set);
	free(s->local_sets);
	memset(s, 0, sizeof *s);
}

/* Builds "<file>:<line>:<col>: <server message>[; context: ...]" from a failed result whose
 * position is relative to text (which starts at base_line/base_col of file). When the server
 * gives no position, stmt (the 0-based index of the failing statement within text, -1 when
 * unknown) points at the start of that statement, so every error names a line. */
static void describe_sql_error(const PGresult *r, const PGconn *c, const char *file,
                               const char *text, size_t len, long skip, unsigned base_line,
                               unsigned base_col, long stmt, char *buf, size_t n)
{
	const char *pos = r != NULL ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
	const char *ctx = r != NULL ? PQresultErrorField(r, PG_DIAG_CONTEXT) : NULL;
	struct sql_stmts st = {NULL, 0};
	char msg[700], where[64] = "";
	unsigned line = 0, col = 0;
	int k;

	db_describe_error(r, c, msg, sizeof msg);
	if (pos != NULL && sqlsplit_position(text, len, strtol(pos, NULL, 10) - skip, base_line,
	                                     base_col, &line, &col) == 0) {
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

static char *literal(PGconn *c, const char *s)
{
	return PQescapeLiteral(c, s, strlen(s));
}

/* INSERT (or UPSERT) of one history row, as SQL text. */
static char *history_insert_sql(struct session *s, const struct mig *m, long duration_ms,
                                bool dirty)
{
	char *name = literal(s->c, m->name), *by = literal(s->c, s->cfg->identity);
	char *sql = NULL;
	size_t n;

	if (name != NULL && by != NULL) {
		n = strlen(s->h.qtable) + strlen(name) + strlen(by) + 512;
		if ((sql = malloc(n)) != NULL &&
		    snprintf(
		        sql, n,
		        "INSERT INTO %s (version, name, checksum, duration_ms, applied_by, dirty, "
		        "no_transaction) VALUES (%ld, %s, '%s', %ld, %s, %s, %s)",
		        s->h.qtable, m->version, name, m->checksum, duration_ms, by,
		        dirty ? "true" : "false", m->no_transaction ? "true" : "false") < 0) {
			free(sql);
			sql = NULL;
		}
	}
	PQfreemem(name);
	PQfreemem(by);
	return sql;
}

static char *concat3(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *out = malloc(la + lb + lc + 1);

	if (out != NULL) {
		memcpy(out, a, la);
		memcpy(out + la, b, lb);
		memcpy(out + la + lb, c, lc + 1);
	}
	return out;
}

/* The per-file override of MIGRATIONS_LOCK_TIMEOUT: a leading comment line
 * "-- schemagate:lock-timeout=<duration>" ("0": wait as long as it takes). */
#define LOCK_DIRECTIVE "-- schemagate:lock-timeout="

/* Reads the directive from the file's leading comment lines into *out (dflt
 * when absent). SG_E_PARSE naming file:line on a bad value. */
static int file_lock_timeout(const struct mig *m, long dflt, long *out, struct sg_err *err)
{
	const size_t dl = strlen(LOCK_DIRECTIVE);
	const char *p = m->sql, *end = m->sql + m->sql_len;

	*out = dflt;
	for (unsigned line = 1; p < end; line++) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol != NULL ? (size_t)(eol - p) : (size_t)(end - p);
		char val[32];
		struct sg_err why;

		if (n < 2 || strncmp(p, "--", 2) != 0)
			break;
		if (n > dl && strncmp(p, LOCK_DIRECTIVE, dl) == 0) {
			size_t vn = n - dl;

			while (vn > 0 && (p[dl + vn - 1] == '\r' || p[dl + vn - 1] == ' ' ||
			                  p[dl + vn - 1] == '\t'))
				vn--;
			if (vn >= sizeof val)
				return sg_err_set(err, SG_E_PARSE,
				                  "%s:%u: schemagate:lock-timeout: value too long",
				                  m->up_path, line);
			memcpy(val, p + dl, vn);
			val[vn] = '\0';
			if (num_parse_duration_ms(val, 0, 24L * 3600 * 1000, out, &why) != 0)
				return sg_err_set(err, SG_E_PARSE,
				                  "%s:%u: schemagate:lock-timeout: %s", m->up_path,
				                  line, why.msg);
		}
		p = eol != NULL ? eol + 1 : end;
	}
	return 0;
}

/* Sends several statements in one round trip and reads every result. On
 * success *rows holds the last result with rows (or NULL); on the first
 * failing statement err describes it (with its SQLSTATE), and the caller
 * rolls back. */
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

/* What one attempt of a transactional migration came to. */
enum attempt {
	ATTEMPT_DONE,    /* committed with its history row (or found applied: *skipped) */
	ATTEMPT_FAILED,  /* err says why; rolled back */
	ATTEMPT_TIMEOUT, /* a statement of the file waited past lock_timeout; rolled back */
};

/* One transaction: the migration lock and the re-check, the file's SQL, then
 * its history row, committed together. Safe whatever sits between us and
 * PostgreSQL: the transaction-scoped lock and the re-check under it mean that
 * two replicas without a common session lock (a transaction pooler) still
 * apply each version once. */
static enum attempt try_in_transaction(struct session *s, const struct mig *m, const char *text,
                                       size_t text_len, unsigned base_line, unsigned base_col,
                                       bool durable, long lock_ms, long *duration_ms, bool *skipped,
                                       struct sg_err *err)
{
	char *head = NULL, *ins = NULL, *tail = NULL;
	struct sg_err e2;
	PGresult *r = NULL;
	long long t0;
	enum attempt rc = ATTEMPT_FAILED;
	size_t n, done = 0;

	/* The lock wait (which lock_timeout bounds too) gets the advisory lock
	 * budget; the file's own statements get the migration lock timeout. Each
	 * statement of a simple query takes a new snapshot under READ COMMITTED,
	 * so the re-check sees a commit made while we waited for the lock. */
	n = strlen(s->local_sets) + strlen(s->h.qtable) + 512;
	if ((head = malloc(n)) == NULL ||
	    snprintf(head, n,
	             "BEGIN;SET LOCAL lock_timeout = %ld;SET LOCAL synchronous_commit TO %s;%s"
	             "SELECT pg_advisory_xact_lock(%lld);"
	             "SELECT EXISTS (SELECT 1 FROM %s WHERE version = %ld);"
	             "SET LOCAL lock_timeout = %ld",
	             s->cfg->lock_timeout_ms, durable ? "on" : "off", s->local_sets,
	             (long long)s->key, s->h.qtable, m->version, lock_ms) < 0) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	if (exec_batch(s->c, head, &r, err) != 0) {
		if (strcmp(err->sqlstate, DB_SQLSTATE_LOCK_TIMEOUT) == 0)
			sg_err_wrap(err, SG_E_TIMEOUT,
			            "timed out after %ld ms waiting for the migration lock before "
			            "version %ld",
			            s->cfg->lock_timeout_ms, m->version);
		db_rollback(s->c);
		goto cleanup;
	}
	if (r == NULL || PQntuples(r) != 1) {
		sg_err_set(err, SG_E_DB, "re-checking version %ld: no answer", m->version);
		db_rollback(s->c);
		goto cleanup;
	}
	if (strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
		/* Another replica applied it between our read and our lock. */
		*skipped = true;
		db_rollback(s->c);
		rc = ATTEMPT_DONE;
		goto cleanup;
	}
	PQclear(r);
	/* The text travels alone (no copy with BEGIN in front): memory stays
	 * near one copy of the file plus libpq's send buffer, and the server's
	 * error positions are positions in text. */
	t0 = proc_now_ms();
	r = db_exec_counting(s->c, text, &done);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK &&
	    PQresultStatus(r) != PGRES_EMPTY_QUERY) {
		char msg[sizeof err->msg];

		describe_sql_error(r, s->c, m->up_path, text, text_len, 0, base_line, base_col,
		                   (long)done, msg, sizeof msg);
		sg_err_set(err, SG_E_MIGRATION, "%s", msg);
		db_err_cause(err, r, s->c);
		rc = strcmp(err->sqlstate, DB_SQLSTATE_LOCK_TIMEOUT) == 0 ? ATTEMPT_TIMEOUT
		                                                          : ATTEMPT_FAILED;
		db_rollback(s->c);
		goto cleanup;
	}
	*duration_ms = (long)(proc_now_ms() - t0);
	if (PQtransactionStatus(s->c) != PQTRANS_INTRANS) {
		/* The file ended the transaction itself (COMMIT/ROLLBACK): its effects
		 * may be committed without a history row. Record it dirty so nobody
		 * builds on an unknown state. */
		sg_err_set(err, SG_E_MIGRATION,
		           "%s: the file ends the transaction itself (COMMIT or ROLLBACK); "
		           "recorded as dirty. Use '-- schemagate:no-transaction' for such files",
		           m->up_path);
		if (db_exec_owned(s->c, history_insert_sql(s, m, *duration_ms, true), &e2) != 0)
			log_warn("could not record the migration as dirty", "file", m->up_path,
			         "error", e2.msg, NULL);
		goto cleanup;
	}
	ins = history_insert_sql(s, m, *duration_ms, false);
	if (ins == NULL || (tail = concat3(ins, ";", "COMMIT")) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		db_rollback(s->c);
		goto cleanup;
	}
	if (db_exec(s->c, tail, err) != 0) {
		sg_err_wrap(err, SG_E_MIGRATION, "%s: recording the migration failed: %.800s",
		            m->up_path, err->msg);
		db_rollback(s->c);
		goto cleanup;
	}
	rc = ATTEMPT_DONE;
cleanup:
	PQclear(r);
	free(head);
	free(ins);
	free(tail);
	return rc;
}

/* Waits before retry `attempt` of something that hit lock_timeout, logging
 * why. false when a stop signal came (err set). */
static bool retry_pause(const struct session *s, const struct mig *m, unsigned attempt,
                        unsigned *seed, const char *what, const struct sg_err *why,
                        struct sg_err *err)
{
	long d = backoff_jitter_ms(s->cfg->lock_poll_min_ms, s->cfg->lock_poll_max_ms,
	                           attempt < 32 ? attempt : 32, (unsigned)rand_r(seed));
	char v[24], a[24], of[24], delay[32];

	fmt_long(v, sizeof v, m->version);
	snprintf(a, sizeof a, "%u", attempt);
	fmt_long(of, sizeof of, s->cfg->mig_lock_retries);
	num_format_duration(d, delay, sizeof delay);
	log_warn("lock_timeout expired: rolled back, will retry", "version", v, "what", what,
	         "retry", a, "of", of, "delay", delay, "error", why->msg, NULL);
	if (!proc_sleep_ms(d)) {
		sg_err_set(err, SG_E_STOPPED, "stopped while waiting to retry version %ld",
		           m->version);
		return false;
	}
	return true;
}

/* A transactional migration, retried with backoff and jitter when one of its
 * statements waits past lock_timeout (so the application's queries never
 * queue behind it for longer). *skipped: another replica had applied it. */
static int apply_in_transaction(struct session *s, const struct mig *m, bool durable,
                                long *duration_ms, bool *skipped, struct sg_err *err)
{
	/* The SQL that runs: the file without its own outer BEGIN/COMMIT, if it
	 * has one (then a copy: the body does not end the file's text). */
	const char *text = m->sql;
	char *copy = NULL;
	struct sql_body b;
	unsigned seed = (unsigned)getpid() ^ (unsigned)proc_now_ms();
	long lock_ms;
	int rc = -1;

	*skipped = false;
	if (file_lock_timeout(m, s->cfg->mig_lock_timeout_ms, &lock_ms, err) != 0)
		return -1;
	if (sqlsplit_body(m->sql, m->sql_len, false, &b, err) != 0)
		return sg_err_set(err, SG_E_PARSE, "%s: %.900s", m->up_path, err->msg);
	if (b.wrapped) {
		if ((copy = strndup(m->sql + b.offset, b.len)) == NULL)
			return sg_err_set(err, SG_E_NOMEM, "out of memory");
		text = copy;
	}
	for (unsigned attempt = 1;; attempt++) {
		enum attempt a = try_in_transaction(s, m, text, b.len, b.line, b.col, durable,
		                                    lock_ms, duration_ms, skipped, err);

		if (a == ATTEMPT_DONE) {
			rc = 0;
			break;
		}
		if (a == ATTEMPT_FAILED || proc_stopping())
			break;
		if ((long)attempt > s->cfg->mig_lock_retries) {
			char why[sizeof err->msg];

			snprintf(why, sizeof why, "%s", err->msg);
			sg_err_wrap(err, SG_E_MIGRATION,
			            "%.700s (lock_timeout %ld ms expired on %u attempts; "
			            "MIGRATIONS_LOCK_RETRIES=%ld)",
			            why, lock_ms, attempt, s->cfg->mig_lock_retries);
			break;
		}
		struct sg_err why = *err;
		if (!retry_pause(s, m, attempt, &seed, "transaction", &why, err))
			break;
	}
	free(copy);
	return rc;
}

/* Outside a transaction, statement by statement: the history row is written
 * dirty first (durably), and marked clean only after the last statement. A
 * statement that waits past lock_timeout is retried by itself. Needs a real
 * session (the caller refuses such files behind a transaction pooler). */
static int apply_without_transaction(struct session *s, const struct mig *m, long *duration_ms,
                                     struct sg_err *err)
{
	struct sql_stmts st = {NULL, 0};
	char *ins = NULL, *stmt = NULL, *sp = NULL, upd[512], sets[128];
	long long t0 = proc_now_ms();
	unsigned seed = (unsigned)getpid() ^ (unsigned)t0;
	long lock_ms;
	int rc = -1;

	if (file_lock_timeout(m, s->cfg->mig_lock_timeout_ms, &lock_ms, err) != 0)
		goto cleanup;
	if (sqlsplit(m->sql, m->sql_len, &st, err) != 0) {
		sg_err_set(err, SG_E_PARSE, "%s: %.900s", m->up_path, err->msg);
		goto cleanup;
	}
	ins = history_insert_sql(s, m, 0, true);
	if (ins == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	char *marked = concat3("BEGIN;SET LOCAL synchronous_commit TO on;", ins, ";COMMIT");
	if (db_exec_owned(s->c, marked, err) != 0) {
		db_rollback(s->c);
		sg_err_wrap(err, SG_E_MIGRATION, "%s: recording it as started failed: %.800s",
		            m->up_path, err->msg);
		goto cleanup;
	}
	snprintf(sets, sizeof sets, "SET lock_timeout = %ld;SET statement_timeout = %ld", lock_ms,
	         s->cfg->mig_statement_timeout_ms);
	/* A real session (refused behind a pooler): session settings hold for
	 * every statement; the search path as the other files get it locally. */
	if (db_exec(s->c, sets, err) != 0 ||
	    db_search_path_sql(s->cfg->search_path, &sp, err) != 0 ||
	    (sp != NULL && db_exec(s->c, sp, err) != 0))
		goto cleanup;
	for (size_t i = 0; i < st.n; i++) {
		PGresult *r;

		free(stmt);
		if ((stmt = strndup(m->sql + st.v[i].offset, st.v[i].len)) == NULL) {
			sg_err_set(err, SG_E_NOMEM, "out of memory");
			goto cleanup;
		}
		for (unsigned attempt = 1;; attempt++) {
			bool timed_out;

			r = PQexec(s->c, stmt);
			if (PQresultStatus(r) == PGRES_COMMAND_OK ||
			    PQresultStatus(r) == PGRES_TUPLES_OK ||
			    PQresultStatus(r) == PGRES_EMPTY_QUERY)
				break;
			char msg[sizeof err->msg];

			describe_sql_error(r, s->c, m->up_path, stmt, st.v[i].len, 0,
			                   st.v[i].line - 1,
			                   (unsigned)sqlsplit_column_of(m->sql, st.v[i].offset) - 1,
			                   0, msg, sizeof msg);
			struct sg_err why = {.code = SG_E_MIGRATION};

			snprintf(why.msg, sizeof why.msg, "%s", msg);
			db_err_cause(&why, r, s->c);
			timed_out = strcmp(why.sqlstate, DB_SQLSTATE_LOCK_TIMEOUT) == 0;
			PQclear(r);
			if (timed_out && (long)attempt <= s->cfg->mig_lock_retries) {
				if (!retry_pause(s, m, attempt, &seed, "statement", &why, err))
					goto cleanup;
				continue;
			}
			*err = why;
			sg_err_wrap(
			    err, SG_E_MIGRATION,
			    "%s (no-transaction migration left dirty after %zu of %zu statements)",
			    msg, i, st.n);
			goto cleanup;
		}
		PQclear(r);
	}
	*duration_ms = (long)(proc_now_ms() - t0);
	if (snprintf(upd, sizeof upd,
	             "RESET lock_timeout;RESET statement_timeout;"
	             "BEGIN;SET LOCAL synchronous_commit TO on;UPDATE %s SET dirty = false, "
	             "duration_ms = %ld, applied_at = now() WHERE version = %ld;COMMIT",
	             s->h.qtable, *duration_ms, m->version) >= (int)sizeof upd) {
		sg_err_set(err, SG_E_DB, "history table name too long");
		goto cleanup;
	}
	if ((rc = db_exec(s->c, upd, err)) != 0) {
		db_rollback(s->c);
		sg_err_wrap(err, SG_E_MIGRATION, "%s: marking it finished failed: %.800s",
		            m->up_path, err->msg);
	}
cleanup:
	free(stmt);
	free(ins);
	free(sp);
	sqlsplit_free(&st);
	return rc;
}

/* Ends the audit row and wakes waiters. Always a durable commit: with
 * synchronous_commit off for the intermediate migrations, this flush makes
 * all of them durable before NOTIFY is sent and before the process exits. */
static int finish_run(struct session *s, const char *outcome, long reached, const char *error,
                      struct sg_err *err)
{
	char v[24];
	const char *params[2] = {s->cfg->notify_channel, v};
	PGresult *r = NULL;

	if (s->run_id == 0 || db_is_broken(s->c))
		return 0;
	fmt_long(v, sizeof v, reached);
	if (db_exec(s->c, "BEGIN;SET LOCAL synchronous_commit TO on", err) != 0)
		return -1;
	if (hist_run_end(s->c, &s->h, s->run_id, outcome, reached, error, err) != 0 ||
	    db_query(s->c, "SELECT pg_notify($1, $2)", 2, params, &r, err) != 0) {
		db_rollback(s->c);
		return -1;
	}
	PQclear(r);
	return db_exec(s->c, "COMMIT", err);
}

/* Checks done before any lock: the folder and history must be consistent. */
static void report_missing(const struct plan *p)
{
	for (size_t i = 0; i < p->nmissing; i++) {
		char v[24];

		fmt_long(v, sizeof v, p->missing[i]->version);
		log_warn("applied migration has no file in the migrations folder", "version", v,
		         "name", p->missing[i]->name, NULL);
	}
}

/* Reads the text of every pending migration (the folder was loaded without texts: the no-op
 * path of every pod start needs none). */
static int session_load_texts(struct session *s, struct sg_err *err)
{
	for (size_t i = 0; i < s->p.npending; i++)
		if (mig_load_text(s->set, s->p.pending[i], MIG_DEFAULT_MAX_BYTES, err) != 0)
			return -1;
	return 0;
}

/* Offline, before any lock or write: every pending file splits, its transaction control is
 * at most one outer BEGIN/COMMIT (none in a no-transaction file), its directives parse, and a
 * no-transaction file has a real session to run in. */
static int validate_pending(const struct session *s, struct sg_err *err)
{
	const struct plan *p = &s->p;

	for (size_t i = 0; i < p->npending; i++) {
		const struct mig *m = p->pending[i];
		struct sql_body b;
		long ms;

		if (file_lock_timeout(m, 0, &ms, err) != 0)
			return -1;
		if (sqlsplit_body(m->sql, m->sql_len, m->no_transaction, &b, err) != 0)
			return sg_err_set(err, SG_E_PARSE, "%s: %.900s", m->up_path, err->msg);
		if (m->no_transaction && s->pooled)
			return sg_err_set(
			    err, SG_E_CONFIG,
			    "%s is a no-transaction migration, and DATABASE_URL reaches PostgreSQL "
			    "through a connection pooler (PgBouncer or similar), where statements "
			    "outside a transaction and the session lock are not safe; set "
			    "DATABASE_DIRECT_URL to a URL that bypasses the pooler. Nothing was "
			    "applied",
			    m->up_path);
	}
	return 0;
}

/* The SET LOCALs every migration transaction starts with: the search path
 * and statement_timeout (session settings do not survive a transaction
 * pooler, and must not leak into its other clients). */
static int build_local_sets(struct session *s, struct sg_err *err)
{
	char *sp = NULL, st[64];
	size_t n;

	if (s->local_sets != NULL)
		return 0; /* built by an earlier apply_pending of this session (lease lost, then
		             led) */
	if (db_search_path_sql(s->cfg->search_path, &sp, err) != 0)
		return -1;
	snprintf(st, sizeof st, "SET LOCAL statement_timeout = %ld;",
	         s->cfg->mig_statement_timeout_ms);
	n = (sp != NULL ? strlen(sp) : 0) + sizeof st + 16;
	if ((s->local_sets = malloc(n)) == NULL) {
		free(sp);
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	}
	/* sp is "SET search_path TO ...": made LOCAL after its first word. */
	snprintf(s->local_sets, n, "%s%s%s%s", sp != NULL ? "SET LOCAL" : "",
	         sp != NULL ? sp + 3 : "", sp != NULL ? ";" : "", st);
	free(sp);
	return 0;
}

static int apply_pending(struct session *s, struct engine_result *res, struct sg_err *err)
{
	const struct plan *p = &s->p;
	long reached = p->head;
	char from[24], to[24], npending[24];

	fmt_long(from, sizeof from, p->head);
	fmt_long(to, sizeof to, p->target);
	s->reached = p->head;
	if (build_local_sets(s, err) != 0 ||
	    hist_run_begin(s->c, &s->h, "migrate", s->cfg->identity, p->head, p->target,
	                   lease_fencing_token(s->lease), !s->pooled, &s->run_id, err) != 0)
		return -1;
	snprintf(npending, sizeof npending, "%zu", p->npending);
	log_info("applying migrations", "from", from, "to", to, "pending", npending, NULL);
	/* Intermediate commits need not wait for their own WAL flush (each sets
	 * synchronous_commit off locally): each migration commits atomically with
	 * its history row, WAL is replayed in order, and the last commit (durable)
	 * flushes everything before it. */
	for (size_t i = 0; i < p->npending; i++) {
		const struct mig *m = p->pending[i];
		bool last = i + 1 == p->npending;
		long duration_ms = 0;
		char v[24], d[32];
		bool skipped = false;
		int rc;

		if (proc_stopping()) {
			sg_err_set(err, SG_E_STOPPED,
			           "stopped by signal %d after %zu of %zu migrations; none is "
			           "half-applied",
			           (int)sg_proc.signo, i, p->npending);
			(void)finish_run(s, "interrupted", reached, err->msg, NULL);
			return -1;
		}
		/* Checked between migrations only: one in flight is finished (the
		 * advisory lock still guarantees nobody else applies it meanwhile). */
		if (lease_lost(s->lease)) {
			sg_err_set(
			    err, SG_E_LEASE_LOST,
			    "lease lost after %zu of %zu migrations; stopped before version %ld "
			    "(none is half-applied)",
			    i, p->npending, m->version);
			(void)finish_run(s, "interrupted", reached, err->msg, NULL);
			return -1;
		}
		rc = m->no_transaction
		         ? apply_without_transaction(s, m, &duration_ms, err)
		         : apply_in_transaction(s, m, last, &duration_ms, &skipped, err);
		fmt_long(v, sizeof v, m->version);
		if (rc != 0) {
			struct sg_err e2;

			if (finish_run(s, "failed", reached, err->msg, &e2) != 0)
				log_warn("could not record the failed run", "error", e2.msg, NULL);
			if (err->code == SG_E_MIGRATION && !s->cfg->fail_fast) {
				/* Not returned, so cli.c will not log it: this is the one place. */
				log_error("migration failed", "version", v, "file", m->up_file,
				          "error", err->msg, NULL);
				log_warn(
				    "MIGRATIONS_FAIL_FAST=false: exiting 0 so the pod can start; "
				    "readiness reports not ready",
				    NULL);
				res->failed_soft = true;
				res->to_version = reached;
				return 0;
			}
			return -1;
		}
		reached = m->version;
		s->reached = reached;
		res->to_version = reached;
		if (skipped) {
			log_info("migration already applied by another replica", "version", v,
			         NULL);
			continue;
		}
		res->applied++;
		num_format_duration(duration_ms, d, sizeof d);
		log_info("migration applied", "version", v, "name", m->name, "duration", d,
		         "transaction", m->no_transaction ? "false" : "true", NULL);
	}
	return finish_run(s, "succeeded", reached, NULL, err);
}

/* Opens the lease and tries it once. A Redis failure leaves s->lease NULL
 * (election by advisory lock) unless leader.required makes it fatal. */
static int session_try_lease(struct session *s, bool *got, struct sg_err *err)
{
	const struct cfg *cfg = s->cfg;
	struct sg_err rerr = {.code = SG_E_OK};

	*got = false;
	if (lease_open(cfg, s->key, NULL, &s->lease, &rerr) == 0 &&
	    lease_try(s->lease, got, &rerr) == 0)
		return 0;
	lease_free(s->lease);
	s->lease = NULL;
	if (rerr.code == SG_E_CONFIG)
		return sg_err_set(err, SG_E_CONFIG, "%s", rerr.msg);
	if (cfg->leader_required)
		return sg_err_set(err, SG_E_REDIS,
		                  "Redis is required (leader.required) but failed: %.900s",
		                  rerr.msg);
	log_warn("Redis unavailable: electing by the advisory lock alone", "error", rerr.msg, NULL);
	return 0;
}

/* After the lease was lost: gives up the advisory lock (the new leader needs
 * it) and the lease handle, so that session_elect can run again. */
static void session_step_down(struct session *s)
{
	struct sg_err e;

	if (s->locked && !db_is_broken(s->c) && lock_release(s->c, s->key, &e) != 0)
		log_warn("releasing the migration lock failed", "error", e.msg, NULL);
	s->locked = false;
	if (s->lease != NULL && lease_release(s->lease, false, s->reached, &e) != 0)
		log_debug("releasing the lost lease failed", "error", e.msg, NULL);
	lease_free(s->lease);
	s->lease = NULL;
}

/* Work is pending and DATABASE_URL goes through a pooler: continues on
 * DATABASE_DIRECT_URL, which gives the session lock, LISTEN and
 * no-transaction files a real session. The no-op path never gets here, so
 * pod restarts still only cost a pooled connection. */
static int session_go_direct(struct session *s, const char *role, struct sg_err *err)
{
	struct cfg direct = *s->cfg; /* shallow: strings stay owned by s->cfg */
	PGconn *c = NULL;

	direct.database_url = s->cfg->database_direct_url;
	if (db_connect(&direct, role, &c, err) != 0)
		return -1;
	PQfinish(s->c);
	s->c = c;
	if (session_read(s, err) != 0)
		return -1;
	if (s->pooled)
		log_warn("DATABASE_DIRECT_URL goes through a pooler too", NULL);
	else
		log_info("DATABASE_URL goes through a pooler: continuing over DATABASE_DIRECT_URL",
		         NULL);
	return 0;
}

/* down and force change the history under the session lock and run down
 * files on the session: behind a pooler they need DATABASE_DIRECT_URL. */
static int session_need_direct(struct session *s, const char *role, struct sg_err *err)
{
	if (!s->pooled)
		return 0;
	if (s->cfg->database_direct_url == NULL)
		return sg_err_set(err, SG_E_CONFIG,
		                  "%s needs a real session (the migration lock), and DATABASE_URL "
		                  "reaches PostgreSQL through a connection pooler (PgBouncer or "
		                  "similar); set DATABASE_DIRECT_URL to a URL that bypasses it",
		                  role);
	if (session_go_direct(s, role, err) != 0)
		return -1;
	if (s->pooled)
		return sg_err_set(err, SG_E_CONFIG,
		                  "%s needs a real session, and DATABASE_DIRECT_URL goes through a "
		                  "pooler too",
		                  role);
	return 0;
}

/* Decides who applies the pending migrations. With *lead true this replica
 * holds the advisory lock (and the lease when Redis is on) and has re-read
 * the state; with *lead false another replica brought the database to the
 * target while we followed. */
static int session_elect(struct session *s, bool *lead, struct sg_err *err)
{
	const struct cfg *cfg = s->cfg;
	struct follower_target t = {s->h.schema, cfg->table, s->p.target, s->key, !s->pooled};
	enum follower_outcome o = FOLLOWER_LEASED;
	bool got = false;
	char tok[24];

	*lead = false;
	if (cfg->redis_url != NULL && session_try_lease(s, &got, err) != 0)
		return -1;
	if (!got && s->lease == NULL) {
		/* Behind a pooler without Redis there is nothing to elect with:
		 * every replica goes ahead, and the per-migration lock with its
		 * re-check (apply_in_transaction) lets each version run once. */
		if (s->pooled)
			got = true;
		else if (lock_try(s->c, s->key, &got, err) != 0)
			return -1;
		o = FOLLOWER_LOCKED;
	}
	if (got) {
		if (!s->pooled) /* a session setting would stay in the pool */
			db_set_role(s->c, cfg, "leader");
	} else {
		if (follower_wait(s->c, cfg, &t, s->lease, &o, err) != 0)
			return -1;
		if (o == FOLLOWER_DONE)
			return 0;
	}
	if (o == FOLLOWER_LEASED) {
		long long floor = 0;

		/* Redis may have lost its data (a restart without persistence):
		 * its counter then starts at 1 again, below tokens already
		 * recorded. The runs table remembers. */
		if (hist_max_fencing(s->c, &s->h, &floor, err) != 0 ||
		    lease_fence_above(s->lease, floor, err) != 0)
			return -1;
		snprintf(tok, sizeof tok, "%lld", lease_fencing_token(s->lease));
		log_info("lease acquired: leading the migration", "fencing_token", tok, NULL);
		if (lease_start_renewal(s->lease, err) != 0)
			return -1;
	} else if (s->lease != NULL) {
		/* Redis failed while following: the lease is not ours. */
		lease_free(s->lease);
		s->lease = NULL;
	}
	*lead = true;
	return session_lock_held(s, o == FOLLOWER_LOCKED, err);
}

int engine_migrate(const struct cfg *cfg, struct engine_result *res, struct sg_err *err)
{
	struct session s;
	bool lead = false;
	long head0;
	int rc = -1;

	memset(res, 0, sizeof *res);
	if (session_open(&s, cfg, "migrate", err) != 0)
		goto cleanup;
	res->from_version = res->to_version = s.p.head;
	report_missing(&s.p);
	/* A dirty row seen without the lock may be a no-transaction migration
	 * still running in another replica: only the lock holder can tell, so
	 * that verdict waits until we hold the lock. */
	if (s.p.dirty == NULL) {
		if (plan_check(&s.p, &s.h, cfg->allow_drift, err) != 0)
			goto cleanup;
		if (s.p.npending == 0) {
			/* The path every pod restart takes: no lock, no write. */
			rc = 0;
			goto cleanup;
		}
	}
	if (s.pooled && cfg->database_direct_url != NULL &&
	    session_go_direct(&s, "migrate", err) != 0)
		goto cleanup;
	if (session_load_texts(&s, err) != 0 || validate_pending(&s, err) != 0)
		goto cleanup;
	head0 = res->from_version;
	for (;;) {
		if (session_elect(&s, &lead, err) != 0)
			goto cleanup;
		if (!lead) {
			res->to_version = s.p.target;
			res->followed = true;
			rc = 0;
			goto cleanup;
		}
		res->from_version = res->to_version = s.p.head;
		if (plan_check(&s.p, &s.h, cfg->allow_drift, err) != 0)
			goto cleanup;
		if (s.p.npending == 0) {
			log_info("another replica applied the migrations while we waited", NULL);
			res->from_version = head0;
			res->followed = true;
			rc = 0;
			goto cleanup;
		}
		if (session_load_texts(&s, err) != 0)
			goto cleanup;
		rc = apply_pending(&s, res, err);
		if (rc == 0 || err->code != SG_E_LEASE_LOST)
			goto cleanup;
		/* Someone else holds the lease now and will finish the job: follow
		 * it, and exit 0 when the database reaches the target, so the init
		 * container is not restarted for nothing. */
		log_warn("lease lost: following the new leader", "error", err->msg, NULL);
		session_step_down(&s);
		rc = -1;
	}
cleanup:
	session_close(&s);
	return rc;
}

/* Offline checks of m's down file: it exists, and its transaction control is allowed. */
static int check_down_file(const struct mig *m, struct sg_err *err)
{
	struct sql_body b;
	char *sql = NULL;
	size_t len = 0;
	int rc;

	if (mig_read_down(m, &sql, &len, err) != 0)
		return -1;
	rc = sqlsplit_body(sql, len, mig_is_no_transaction(sql, len), &b, err);
	free(sql);
	if (rc != 0)
		return sg_err_set(err, SG_E_PARSE, "%s: %.900s", m->down_path, err->msg);
	return 0;
}

/* Runs one down file: in a transaction with the deletion of the history row,
 * or statement by statement when it carries the no-transaction marker. */
static int revert_one(struct session *s, const struct mig *m, struct sg_err *err)
{
	char *sql = NULL, *q = NULL, del[256];
	size_t len = 0;
	int rc = -1;

	struct sql_body b;

	if (mig_read_down(m, &sql, &len, err) != 0)
		return -1;
	if (sqlsplit_body(sql, len, mig_is_no_transaction(sql, len), &b, err) != 0) {
		sg_err_set(err, SG_E_PARSE, "%s: %.900s", m->down_path, err->msg);
		goto cleanup;
	}
	if (snprintf(del, sizeof del, "\n;DELETE FROM %s WHERE version = %ld;COMMIT", s->h.qtable,
	             m->version) >= (int)sizeof del) {
		sg_err_set(err, SG_E_DB, "history table name too long");
		goto cleanup;
	}
	if (mig_is_no_transaction(sql, len)) {
		struct sql_stmts st = {NULL, 0};

		if (sqlsplit(sql, len, &st, err) != 0) {
			sg_err_set(err, SG_E_PARSE, "%s: %.900s", m->down_path, err->msg);
			goto cleanup;
		}
		for (size_t i = 0; i < st.n && rc != -2; i++) {
			char *one = strndup(sql + st.v[i].offset, st.v[i].len);
			PGresult *r = one != NULL ? PQexec(s->c, one) : NULL;

			if (PQresultStatus(r) != PGRES_COMMAND_OK &&
			    PQresultStatus(r) != PGRES_TUPLES_OK) {
				char msg[sizeof err->msg];

				describe_sql_error(
				    r, s->c, m->down_path, one != NULL ? one : "", st.v[i].len, 0,
				    st.v[i].line - 1,
				    (unsigned)sqlsplit_column_of(sql, st.v[i].offset) - 1, 0, msg,
				    sizeof msg);
				sg_err_set(err, SG_E_MIGRATION, "%s", msg);
				db_err_cause(err, r, s->c);
				rc = -2;
			}
			PQclear(r);
			free(one);
		}
		sqlsplit_free(&st);
		if (rc == -2) {
			char mark[256];
			struct sg_err e2;

			snprintf(mark, sizeof mark,
			         "UPDATE %s SET dirty = true WHERE version = %ld", s->h.qtable,
			         m->version);
			if (db_exec(s->c, mark, &e2) != 0)
				log_error("could not mark the migration dirty", "error", e2.msg,
				          NULL);
			rc = -1;
			goto cleanup;
		}
		rc = db_exec_owned(s->c, concat3("BEGIN", del, ""), err);
		goto cleanup;
	}
	sql[b.offset + b.len] = '\0'; /* the body: the file without its own BEGIN/COMMIT */
	if ((q = concat3("BEGIN;", sql + b.offset, del)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	/* The file's SQL and our DELETE/COMMIT share one simple query; the down
	 * file was lexed as a whole by the server, so an unterminated quote in it
	 * fails the whole query rather than swallowing the DELETE. */
	size_t done = 0;
	PGresult *r = db_exec_counting(s->c, q, &done);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		char msg[sizeof err->msg];

		describe_sql_error(r, s->c, m->down_path, sql + b.offset, b.len, 6, b.line, b.col,
		                   (long)done - 1, msg, sizeof msg);
		sg_err_set(err, SG_E_MIGRATION, "%s", msg);
		db_err_cause(err, r, s->c);
		db_rollback(s->c);
	} else {
		rc = 0;
	}
	PQclear(r);
cleanup:
	free(q);
	free(sql);
	return rc;
}

int engine_down(const struct cfg *cfg, struct engine_result *res, struct sg_err *err)
{
	struct session s;
	int rc = -1;
	size_t n;

	memset(res, 0, sizeof *res);
	if (session_open(&s, cfg, "down", err) != 0 || session_need_direct(&s, "down", err) != 0)
		goto cleanup;
	if (!s.h.exists || s.h.n == 0) {
		log_info("nothing to revert: no migration is applied", NULL);
		rc = 0;
		goto cleanup;
	}
	if (session_lock(&s, err) != 0)
		goto cleanup;
	res->from_version = res->to_version = s.p.head;
	if (s.p.dirty != NULL || (s.p.ndrifted > 0 && !cfg->allow_drift)) {
		if (plan_check(&s.p, &s.h, cfg->allow_drift, err) != 0)
			goto cleanup;
	}
	/* Rows to revert, newest first. */
	for (n = 0; n < s.h.n; n++) {
		long v = s.h.v[s.h.n - 1 - n].version;

		if (cfg->down_to >= 0 ? v <= cfg->down_to : (long)n >= cfg->down_steps)
			break;
	}
	if (n == 0) {
		log_info("nothing to revert", NULL);
		rc = 0;
		goto cleanup;
	}
	/* Refusals come before the audit row: a down that cannot start is not a failed run. */
	for (size_t i = 0; i < n; i++) {
		const struct hist_row *row = &s.h.v[s.h.n - 1 - i];
		const struct mig *m = mig_set_find(s.set, row->version);

		if (m == NULL) {
			sg_err_set(err, SG_E_DRIFT,
			           "cannot revert version %ld (%s): its files are not in %s",
			           row->version, row->name, cfg->dir);
			goto cleanup;
		}
		if (check_down_file(m, err) != 0)
			goto cleanup;
	}
	long target = n < s.h.n ? s.h.v[s.h.n - 1 - n].version : 0;
	if (hist_run_begin(s.c, &s.h, "down", cfg->identity, s.p.head, target, 0, true, &s.run_id,
	                   err) != 0)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		const struct hist_row *row = &s.h.v[s.h.n - 1 - i];
		const struct mig *m = mig_set_find(s.set, row->version);
		char v[24];

		fmt_long(v, sizeof v, row->version);
		if (proc_stopping()) {
			sg_err_set(err, SG_E_STOPPED,
			           "stopped by signal after reverting %zu of %zu", i, n);
			break;
		}
		if (m == NULL) {
			sg_err_set(err, SG_E_DRIFT,
			           "cannot revert version %ld (%s): its files are not in %s",
			           row->version, row->name, cfg->dir);
			break;
		}
		if (revert_one(&s, m, err) != 0)
			break;
		res->applied++;
		res->to_version = i + 1 < s.h.n ? s.h.v[s.h.n - 2 - i].version : 0;
		log_info("migration reverted", "version", v, "name", m->name, NULL);
	}
	if (res->applied == n) {
		rc = finish_run(&s, "succeeded", res->to_version, NULL, err);
	} else {
		struct sg_err e2;

		(void)finish_run(&s, err->code == SG_E_STOPPED ? "interrupted" : "failed",
		                 res->to_version, err->msg, &e2);
	}
cleanup:
	session_close(&s);
	return rc;
}

int engine_force(const struct cfg *cfg, long version, struct engine_result *res, struct sg_err *err)
{
	struct session s;
	char sql[512], *ins = NULL;
	int rc = -1;

	memset(res, 0, sizeof *res);
	if (session_open(&s, cfg, "force", err) != 0 ||
	    session_need_direct(&s, "force", err) != 0 || session_lock(&s, err) != 0)
		goto cleanup;
	res->from_version = s.p.head;
	const struct mig *m = mig_set_find(s.set, version);
	if (version > 0 && hist_find(&s.h, version) == NULL && m == NULL) {
		sg_err_set(err, SG_E_USAGE,
		           "cannot force version %ld: it is neither recorded nor in %s", version,
		           cfg->dir);
		goto cleanup;
	}
	if (hist_run_begin(s.c, &s.h, "force", cfg->identity, s.p.head, version, 0, true, &s.run_id,
	                   err) != 0)
		goto cleanup;
	if (snprintf(sql, sizeof sql,
	             "BEGIN;DELETE FROM %s WHERE version > %ld;UPDATE %s SET dirty = false WHERE "
	             "version = %ld",
	             s.h.qtable, version, s.h.qtable, version) >= (int)sizeof sql) {
		sg_err_set(err, SG_E_DB, "history table name too long");
		goto cleanup;
	}
	if (db_exec(s.c, sql, err) != 0)
		goto cleanup;
	if (version > 0 && hist_find(&s.h, version) == NULL) {
		if ((ins = history_insert_sql(&s, m, 0, false)) == NULL) {
			sg_err_set(err, SG_E_NOMEM, "out of memory");
			db_rollback(s.c);
			goto cleanup;
		}
		if (db_exec(s.c, ins, err) != 0) {
			db_rollback(s.c);
			goto cleanup;
		}
	}
	if (db_exec(s.c, "COMMIT", err) != 0)
		goto cleanup;
	res->to_version = version;
	rc = finish_run(&s, "succeeded", version, NULL, err);
cleanup:
	free(ins);
	session_close(&s);
	return rc;
}

/* The files engine_baseline records, ascending; *out malloc'd (NULL when none). */
static int baseline_pick(const struct session *s, long version, const struct foreign_hist *fh,
                         const struct mig ***out, size_t *n, long *top, struct sg_err *err)
{
	const struct mig **v = NULL;
	const char *tool = fh != NULL ? fh->tool : NULL;

	*out = NULL;
	*n = 0;
	if (fh != NULL && fh->upto >= 0)
		version = fh->upto; /* golang-migrate: one number, everything below is applied */
	*top = version;
	if (s->set->n > 0 && (v = calloc(s->set->n, sizeof *v)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	if (fh == NULL || fh->upto >= 0) {
		if (version > 0 && mig_set_find(s->set, version) == NULL) {
			free(v);
			if (tool != NULL)
				return sg_err_set(err, SG_E_DRIFT,
				                  "%s's history is at version %ld but %s has no "
				                  "file of that version",
				                  tool, version, s->cfg->dir);
			return sg_err_set(err, SG_E_USAGE,
			                  "baseline %ld: no migration of that version in %s",
			                  version, s->cfg->dir);
		}
		for (size_t i = 0; i < s->set->n && s->set->v[i].version <= version; i++)
			v[(*n)++] = &s->set->v[i];
	} else {
		*top = 0;
		for (size_t i = 0; i < fh->n; i++) {
			const struct mig *m = mig_set_find(s->set, fh->v[i]);

			if (m == NULL) {
				free(v);
				return sg_err_set(
				    err, SG_E_DRIFT,
				    "%s's history lists version %ld but %s has no file "
				    "of that version",
				    tool, fh->v[i], s->cfg->dir);
			}
			v[(*n)++] = m;
			*top = fh->v[i];
		}
	}
	*out = v;
	return 0;
}

int engine_baseline(const struct cfg *cfg, long version, struct engine_result *res,
                    struct sg_err *err)
{
	struct session s;
	struct foreign_hist fh = {NULL, -1, NULL, 0};
	const struct mig **pick = NULL;
	const char *tool = cfg->baseline_from;
	char by[300];
	size_t n = 0, added = 0;
	long top = 0;
	int rc = -1;

	memset(res, 0, sizeof *res);
	if (session_open(&s, cfg, "baseline", err) != 0 ||
	    session_need_direct(&s, "baseline", err) != 0)
		goto cleanup;
	if (tool != NULL &&
	    foreign_read(s.c, tool,
	                 cfg->baseline_from_table != NULL ? cfg->baseline_from_table
	                                                  : foreign_default_table(tool),
	                 &fh, err) != 0)
		goto cleanup;
	if (session_lock(&s, err) != 0 ||
	    baseline_pick(&s, version, tool != NULL ? &fh : NULL, &pick, &n, &top, err) != 0)
		goto cleanup;
	res->from_version = res->to_version = s.p.head;
	if (s.p.dirty != NULL) {
		sg_err_set(
		    err, SG_E_DIRTY,
		    "migration %ld (%s) is dirty; repair it and run 'schemagate force' before "
		    "a baseline",
		    s.p.dirty->version, s.p.dirty->name);
		goto cleanup;
	}
	if (s.p.head > top) {
		sg_err_set(
		    err, SG_E_DRIFT,
		    "the history already holds version %ld, above %ld: a baseline only records "
		    "what lies below the applied head",
		    s.p.head, top);
		goto cleanup;
	}
	if (snprintf(by, sizeof by, "baseline%s%s by %s", tool != NULL ? " from " : "",
	             tool != NULL ? tool : "", cfg->identity) >= (int)sizeof by)
		by[sizeof by - 1] = '\0'; /* a display field: cut is fine */
	if (hist_run_begin(s.c, &s.h, "baseline", cfg->identity, s.p.head, top, 0, true, &s.run_id,
	                   err) != 0 ||
	    db_exec(s.c, "BEGIN", err) != 0)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		char v[24], sql[600];
		const char *params[5] = {v, pick[i]->name, pick[i]->checksum, by,
		                         pick[i]->no_transaction ? "true" : "false"};
		PGresult *r = NULL;

		if (hist_find(&s.h, pick[i]->version) != NULL)
			continue; /* recorded already: kept as it is */
		fmt_long(v, sizeof v, pick[i]->version);
		snprintf(sql, sizeof sql,
		         "INSERT INTO %s (version, name, checksum, duration_ms, applied_by, dirty, "
		         "no_transaction) VALUES ($1, $2, $3, 0, $4, false, $5)",
		         s.h.qtable);
		if (db_query(s.c, sql, 5, params, &r, err) != 0) {
			db_rollback(s.c);
			(void)finish_run(&s, "failed", s.p.head, err->msg, NULL);
			goto cleanup;
		}
		PQclear(r);
		added++;
	}
	if (db_exec(s.c, "COMMIT", err) != 0)
		goto cleanup;
	res->applied = added;
	res->to_version = top > s.p.head ? top : s.p.head;
	rc = finish_run(&s, "succeeded", res->to_version, NULL, err);
cleanup:
	free(pick);
	foreign_free(&fh);
	session_close(&s);
	return rc;
}
