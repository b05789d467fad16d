/* checker.c - the background thread that reads the schema state and publishes it to health.c. */
#include "checker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hiredis/hiredis.h>
#include <json-c/json.h>
#include <libpq-fe.h>

#include "backoff.h"
#include "db.h"
#include "health.h"
#include "history.h"
#include "lock.h"
#include "log.h"
#include "notify.h"
#include "migrations.h"
#include "proc.h"
#include "redis.h"
#include "report.h"

/* How often the full report is rebuilt, at most (it costs a few round trips). */
#define REPORT_EVERY_MS 15000L
/* The longest poll slice: the heartbeat and the stop flag are looked at this often. */
#define SLICE_MS 100

struct checker {
	const struct cfg *cfg; /* borrowed */
	struct mig_set *set;   /* the migrations folder, NULL when unreadable */
	long expected;         /* version required for readiness */
	pthread_t thread;
	atomic_bool stop;         /* set by checker_stop */
	PGconn *c;                /* NULL while disconnected */
	char *sql_full;           /* the one-round-trip check, history table present */
	char *sql_nohist;         /* the same without reading the history tables */
	char *qtable;             /* history table as a literal for to_regclass */
	char key[24];             /* the advisory lock key as text */
	bool hist_known;          /* the history table existed at the last check */
	long long last_report_ms; /* when the report was last rebuilt, 0 = never */
	redisContext *redis;      /* NULL while disconnected */
	long long down_since;     /* wall-clock seconds the database became unreachable, 0 while
	                           * it answers */
};

/* The server-side statement timeout of the checker's queries. */
static long statement_ms(const struct cfg *cfg)
{
	return cfg->check_interval_ms > 1000 ? cfg->check_interval_ms : 1000;
}

/* How long the checker waits for any answer: the server's own timeout
 * answers first; this one is for a server that cannot answer at all. */
static long answer_ms(const struct cfg *cfg)
{
	return statement_ms(cfg) + 1000;
}

/* One statement on the checker's connection, within answer_ms. */
static int exec_within(PGconn *c, const struct cfg *cfg, const char *sql, struct sg_err *err)
{
	PGresult *r = NULL;

	if (db_query_within(c, sql, 0, NULL, answer_ms(cfg), &r, err) != 0)
		return -1;
	PQclear(r);
	return 0;
}

long checker_liveness_deadline_ms(const struct cfg *cfg)
{
	/* A check may legitimately block for one connect timeout (libpq) plus the
	 * statement timeout we set (one interval); three intervals on top. */
	return 3 * cfg->check_interval_ms + cfg->connect_timeout_ms + cfg->check_interval_ms + 1000;
}

/* The lock-held and missing-tables expressions, shared by both queries. */
#define LOCK_EXPR "EXISTS (SELECT 1 FROM pg_locks l WHERE " LOCK_HELD_SQL ")"
#define TABLES_EXPR "(" DB_MISSING_TABLES_SQL("$2") ")"
/* Seconds the lock's holder has held it: since its running run started
 * (run_start, an SQL expression over l.pid), else since its connection began
 * (which pg_stat_activity hides from other roles). NULL when nobody holds it. */
#define LOCK_AGE_EXPR(run_start)                                                                   \
	"(SELECT extract(epoch FROM now() - coalesce(" run_start ", a.backend_start)) "            \
	"FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE " LOCK_HELD_SQL       \
	" LIMIT 1)"
/* Builds both queries for one history table (schema and table unquoted). */
static int build_sql(struct checker *k, const char *schema, struct sg_err *err)
{
	char *qs = db_quote_ident(schema), *qt = db_quote_ident(k->cfg->table), *qr = NULL;
	char *qruns = NULL, *runs_sql = NULL, runs[256];
	int rc = -1;

	cfg_runs_table(k->cfg->table, runs, sizeof runs);
	if (qs == NULL || qt == NULL || (qr = db_quote_ident(runs)) == NULL)
		goto cleanup;
	free(k->sql_full);
	free(k->sql_nohist);
	free(k->qtable);
	k->qtable = db_sqlf("%s.%s", qs, qt);
	/* The runs as status reads them too (history.c): they cannot disagree. */
	if (k->qtable == NULL || (qruns = db_sqlf("%s.%s", qs, qr)) == NULL ||
	    (runs_sql = hist_runs_summary_sql(k->qtable, qruns)) == NULL)
		goto cleanup;
	/* Columns: exists, head, dirty, the runs summary, lock held, missing tables, lock age. */
	k->sql_full = db_sqlf(
	    "SELECT true, (SELECT coalesce(max(version), -1) FROM %s), "
	    "(SELECT coalesce(bool_or(dirty), false) FROM %s), %s, " LOCK_EXPR ", " TABLES_EXPR
	    ", " LOCK_AGE_EXPR("(SELECT r.started_at FROM %s r WHERE r.outcome = '%s' AND "
	                       "r.backend_pid = l.pid ORDER BY r.id DESC LIMIT 1)"),
	    k->qtable, k->qtable, runs_sql, qruns, hist_outcome_name(RUN_RUNNING));
	k->sql_nohist = db_sqlf("SELECT to_regclass($3::text) IS NOT NULL, -1, false, NULL, NULL, "
	                        "NULL, NULL, NULL, " LOCK_EXPR ", " TABLES_EXPR
	                        ", " LOCK_AGE_EXPR("NULL::timestamptz"));
	if (k->sql_full != NULL && k->sql_nohist != NULL)
		rc = 0;
cleanup:
	if (rc != 0)
		sg_err_set(err, SG_E_NOMEM, "out of memory");
	free(qs);
	free(qt);
	free(qr);
	free(qruns);
	free(runs_sql);
	return rc;
}

/* Connects once, applies the search path, resolves the history schema,
 * prepares the queries and LISTENs. */
static int connect_db(struct checker *k, struct sg_err *err)
{
	const struct cfg *cfg = k->cfg;
	PGconn *c = NULL;
	PGresult *r = NULL;
	char *sp = NULL, *schema = NULL, *listen = NULL, st[64];
	struct db_session sess = {false, false};
	bool pooled;
	int rc = -1;

	/* Behind a pooler, session settings and LISTEN would stay with a pooled
	 * server connection (and reach other clients): none is made, and the
	 * checks rely on their interval. A standby takes the settings (they are
	 * no writes) but refuses LISTEN: the checks poll there too. */
	if (db_connect_once(cfg, "serve", &c, err) != 0 || db_probe(c, &sess, err) != 0)
		goto cleanup;
	pooled = sess.pooled;
	if (db_search_path_sql(pooled ? NULL : cfg->search_path, &sp, err) != 0 ||
	    (sp != NULL && exec_within(c, cfg, sp, err) != 0))
		goto cleanup;
	if (pooled)
		log_info("connected through a pooler: no session settings, no LISTEN", NULL);
	else if (sess.standby)
		log_info("connected to a standby: polling every interval, no LISTEN", NULL);
	/* A check must never hang past the liveness deadline: the server ends a
	 * slow query, and exec_within/db_query_within give up on a server that
	 * cannot answer at all (frozen). */
	snprintf(st, sizeof st, "SET statement_timeout = %ld", statement_ms(cfg));
	if ((!pooled && exec_within(c, cfg, st, err) != 0) ||
	    db_first_schema(cfg->search_path, &schema, err) != 0)
		goto cleanup;
	/* The key hashes the server's name for the database, as migrate's does: through a
	 * pooler's alias, PQdb is the alias. */
	if (db_query_within(c, "SELECT current_database(), coalesce(current_schema(), 'public')", 0,
	                    NULL, answer_ms(cfg), &r, err) != 0)
		goto cleanup;
	if (schema == NULL && (schema = strdup(PQgetvalue(r, 0, 1))) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	snprintf(k->key, sizeof k->key, "%lld",
	         (long long)lock_key(PQgetvalue(r, 0, 0), schema, cfg->table));
	if (build_sql(k, schema, err) != 0)
		goto cleanup;
	if ((listen = notify_sql(cfg->notify_channel, true)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	if (db_can_listen(&sess) && exec_within(c, cfg, listen, err) != 0)
		goto cleanup;
	k->c = c;
	c = NULL;
	k->hist_known = true;
	rc = 0;
cleanup:
	PQclear(r);
	if (c != NULL)
		PQfinish(c);
	free(sp);
	free(schema);
	free(listen);
	return rc;
}

static void disconnect_db(struct checker *k)
{
	if (k->c != NULL)
		PQfinish(k->c);
	k->c = NULL;
}

static void copy_text(char *dst, size_t n, const PGresult *r, int col)
{
	/* Truncation is intended: these are display fields. */
	snprintf(dst, n, "%s", PQgetisnull(r, 0, col) ? "" : PQgetvalue(r, 0, col));
}

/* Runs the check (normally one round trip) and fills s. */
static int run_check(struct checker *k, struct health_snap *s, struct sg_err *err)
{
	const char *params[3] = {k->key, k->cfg->tables, k->qtable};
	struct hist_runs_summary runs;
	PGresult *r = NULL;

	if (k->hist_known) {
		if (db_query_within(k->c, k->sql_full, 2, params, answer_ms(k->cfg), &r, err) !=
		    0) {
			/* The history table went away (or never existed). */
			if (db_is_broken(k->c) ||
			    strcmp(err->sqlstate, DB_SQLSTATE_UNDEFINED_TABLE) != 0)
				return -1;
			k->hist_known = false;
		}
	}
	if (!k->hist_known) {
		if (db_query_within(k->c, k->sql_nohist, 3, params, answer_ms(k->cfg), &r, err) !=
		    0)
			return -1;
		if (strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
			/* It appeared: read it now rather than one tick late. */
			PQclear(r);
			r = NULL;
			k->hist_known = true;
			if (db_query_within(k->c, k->sql_full, 2, params, answer_ms(k->cfg), &r,
			                    err) != 0)
				return -1;
		}
	}
	s->history_exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	s->head = strtol(PQgetvalue(r, 0, 1), NULL, 10);
	s->dirty = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	hist_runs_summary_take(r, 0, 3, &runs);
	s->last_run = runs.last;
	memcpy(s->completed_at, runs.completed_at, sizeof s->completed_at);
	s->completed_duration_ms = runs.completed_duration_ms;
	s->last_run_end_s = runs.last_end_s;
	s->last_run_duration_s = runs.last_duration_s;
	s->lock_held = strcmp(PQgetvalue(r, 0, 3 + HIST_RUNS_SUMMARY_COLS), "t") == 0;
	copy_text(s->missing_tables, sizeof s->missing_tables, r, 4 + HIST_RUNS_SUMMARY_COLS);
	if (!s->lock_held)
		s->lock_age_s = 0;
	else
		s->lock_age_s = PQgetisnull(r, 0, 5 + HIST_RUNS_SUMMARY_COLS)
		                    ? -1
		                    : strtod(PQgetvalue(r, 0, 5 + HIST_RUNS_SUMMARY_COLS), NULL);
	PQclear(r);
	s->pending = -1;
	if (k->set != NULL) {
		s->pending = 0;
		for (size_t i = 0; i < k->set->n; i++)
			if (k->set->v[i].version > s->head)
				s->pending++;
	}
	/* The verdict comes from plan.c, as for migrate, status and verify (one owner). Without a
	 * history table too: a schema another tool built is refused before the first migration. */
	if (k->set != NULL) {
		struct plan_verdict v;

		if (report_verdict(k->c, k->cfg, k->set, &v, err) != 0)
			return -1;
		s->refused = v.refused;
		/* Truncation is fine: a reason for people. */
		if (v.refused)
			snprintf(s->refusal, sizeof s->refusal, "%s: %.200s",
			         plan_state_name(v.state), v.reason);
	}
	return 0;
}

static void check_redis(struct checker *k, struct health_snap *s)
{
	static const char *const ping[] = {"PING"};
	struct sg_err err = {.code = SG_E_OK};
	redisReply *rep = NULL;

	s->redis_ok = false;
	s->redis_error[0] = '\0';
	if (k->redis == NULL && redis_connect(k->cfg, &k->redis, &err) != 0) {
		snprintf(s->redis_error, sizeof s->redis_error, "%.255s", err.msg);
		return;
	}
	if (redis_command(k->redis, 1, ping, &rep, &err) != 0) {
		snprintf(s->redis_error, sizeof s->redis_error, "%.255s", err.msg);
		/* A context that failed is dead: reconnect next time. */
		if (redis_is_broken(k->redis)) {
			redis_close(k->redis);
			k->redis = NULL;
		}
		return;
	}
	freeReplyObject(rep);
	s->redis_ok = true;
}

static void refresh_report(struct checker *k)
{
	struct report *rep = NULL;
	struct sg_err err = {.code = SG_E_OK};

	if (report_build(k->c, k->cfg, k->set, &rep, &err) != 0) {
		log_warn("status report failed", "error", err.msg, NULL);
		return;
	}
	health_set_report(rep);
}

/* Whether /admin/migration-status answers at all (http.c serves 404 otherwise). */
static bool admin_on(const struct cfg *cfg)
{
	return (cfg->admin_token_file != NULL && cfg->admin_token_file[0] != '\0') ||
	       cfg->admin_enabled;
}

/* Keeps the start of the current outage in s (the readiness says "retrying: database
 * unreachable since ..."), or ends it when s->db_ok. */
static void note_outage(struct checker *k, struct health_snap *s)
{
	if (s->db_ok)
		k->down_since = 0;
	else if (k->down_since == 0)
		k->down_since = (long long)time(NULL);
	s->db_down_since = k->down_since;
}

/* One check attempt: query, publish, and maybe rebuild the report. */
static void tick(struct checker *k, bool want_report)
{
	struct health_snap s;
	struct sg_err err = {.code = SG_E_OK};
	long long t0 = proc_now_ms();

	memset(&s, 0, sizeof s);
	if (k->c != NULL && run_check(k, &s, &err) == 0) {
		s.db_ok = true;
	} else if (k->c != NULL) {
		snprintf(s.db_error, sizeof s.db_error, "check failed: %.240s", err.msg);
		if (db_is_broken(k->c)) {
			log_warn("database connection lost", "error", err.msg, NULL);
			disconnect_db(k);
		}
	}
	if (k->cfg->redis_url != NULL)
		check_redis(k, &s);
	s.taken_ms = proc_now_ms();
	s.check_duration_ms = (long)(s.taken_ms - t0);
	s.wall_checked = (long long)time(NULL);
	if (!s.db_ok && s.db_error[0] == '\0')
		snprintf(s.db_error, sizeof s.db_error, "not connected");
	note_outage(k, &s);
	health_publish(&s);
	/* The report only feeds /admin/migration-status. It holds every applied row (with
	 * 1,000 of them, building it raised the sidecar's peak RSS by ~2.7 MB), so a sidecar
	 * whose admin endpoint is off (404) never builds it. */
	if (k->c != NULL && s.db_ok && admin_on(k->cfg) &&
	    (want_report || k->last_report_ms == 0 ||
	     s.taken_ms - k->last_report_ms >= REPORT_EVERY_MS)) {
		refresh_report(k);
		k->last_report_ms = proc_now_ms();
	}
}

/* Publishes a failed attempt while the database is unreachable. */
static void publish_down(struct checker *k, const char *why, long duration_ms)
{
	struct health_snap s;

	memset(&s, 0, sizeof s);
	snprintf(s.db_error, sizeof s.db_error, "%.255s", why);
	if (k->cfg->redis_url != NULL)
		check_redis(k, &s);
	s.check_duration_ms = duration_ms;
	s.wall_checked = (long long)time(NULL);
	note_outage(k, &s);
	health_publish(&s);
}

/* notify_wait's question between slices: heartbeat, and go on unless stopping. */
static bool still_running(void *ctx)
{
	struct checker *k = ctx;

	health_heartbeat(proc_now_ms());
	return !atomic_load(&k->stop);
}

/* Waits until deadline for a notification; true when one arrived (or the
 * connection needs attention: the next query sees it), false on timeout or
 * stop. */
static bool wait_notify(struct checker *k, long long deadline)
{
	bool notified = false, unused = false;
	struct sg_err err;

	if (notify_wait(k->c, -1, (long)(deadline - proc_now_ms()), still_running, k, &notified,
	                &unused, &err) != 0)
		return err.code != SG_E_STOPPED;
	return notified;
}

/* Sleeps until deadline in slices, heartbeating; false when asked to stop. */
static bool nap(struct checker *k, long long deadline)
{
	for (;;) {
		long long now = proc_now_ms();
		struct timespec ts = {0, SLICE_MS * 1000000L};

		health_heartbeat(now);
		if (atomic_load(&k->stop))
			return false;
		if (now >= deadline)
			return true;
		if (deadline - now < SLICE_MS)
			ts.tv_nsec = (long)(deadline - now) * 1000000L;
		nanosleep(&ts, NULL);
	}
}

static void *run(void *arg)
{
	struct checker *k = arg;
	const struct cfg *cfg = k->cfg;
	/* While the database is away, retry at least once per interval so the
	 * pod turns ready soon after it returns. */
	long cap = cfg->connect_max_ms < cfg->check_interval_ms ? cfg->connect_max_ms
	                                                        : cfg->check_interval_ms;
	unsigned attempt = 0;
	bool logged_down = false;

	/* Every query of this thread, history and report included, gives up
	 * rather than hang on a frozen server (and with it /livez). */
	db_bound_waits(answer_ms(cfg));
	while (!atomic_load(&k->stop)) {
		long long next;
		bool notified;

		health_heartbeat(proc_now_ms());
		if (k->c == NULL) {
			struct sg_err err = {.code = SG_E_OK};
			long long t0 = proc_now_ms();

			if (connect_db(k, &err) != 0) {
				publish_down(k, err.msg, (long)(proc_now_ms() - t0));
				/* Once per outage, not once per attempt (db_connect_once
				 * already removed any password from the message). */
				if (!logged_down)
					log_warn("database unreachable, retrying", "error", err.msg,
					         NULL);
				logged_down = true;
				if (!nap(k, proc_now_ms() + backoff_delay_ms(cfg->connect_base_ms,
				                                             cap, ++attempt)))
					break;
				continue;
			}
			attempt = 0;
			log_info("checker connected", "channel", cfg->notify_channel, NULL);
			logged_down = false;
			tick(k, true);
		}
		next = proc_now_ms() + cfg->check_interval_ms;
		notified = k->c != NULL && wait_notify(k, next);
		if (atomic_load(&k->stop))
			break;
		tick(k, notified);
	}
	disconnect_db(k);
	redis_close(k->redis);
	k->redis = NULL;
	return NULL;
}

int checker_start(const struct cfg *cfg, struct checker **out, struct sg_err *err)
{
	struct checker *k = NULL;
	struct sg_err lerr = {.code = SG_E_OK};
	char v[24];
	int rc = -1;

	*out = NULL;
	if ((k = calloc(1, sizeof *k)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	k->cfg = cfg;
	atomic_init(&k->stop, false);
	if (cfg->dir != NULL &&
	    mig_set_load(cfg->dir, MIG_DEFAULT_MAX_BYTES,
	                 MIG_NO_TEXT | (cfg->expect_version >= 0 ? MIG_ALLOW_MISSING : 0u), &k->set,
	                 &lerr) != 0) {
		if (cfg->expect_version < 0) {
			/* Without the folder there is nothing to expect, and a sidecar that
			 * turned ready on any schema would lie to the kubelet. */
			sg_err_set(
			    err, SG_E_CONFIG,
			    "no expected version: %.700s; mount the migrations folder (--dir) "
			    "or set --expect-version",
			    lerr.msg);
			goto cleanup;
		}
		/* The version is given: serve anyway; /admin says the folder is unreadable. */
		log_warn("migrations folder unreadable", "dir", cfg->dir, "error", lerr.msg, NULL);
		k->set = NULL;
	}
	k->expected = cfg->expect_version >= 0 ? cfg->expect_version : mig_set_max_version(k->set);
	snprintf(v, sizeof v, "%ld", k->expected);
	log_info("expected schema version", "version", v, NULL);
	health_init(k->expected, cfg->tables != NULL && cfg->tables[0] != '\0',
	            cfg->redis_url != NULL, cfg->redis_url != NULL && cfg->leader_required);
	health_heartbeat(proc_now_ms());
	if (pthread_create(&k->thread, NULL, run, k) != 0) {
		sg_err_set(err, SG_E_NOMEM, "cannot start the checker thread");
		goto cleanup;
	}
	*out = k;
	k = NULL;
	rc = 0;
cleanup:
	if (k != NULL) {
		mig_set_free(k->set);
		free(k);
	}
	return rc;
}

void checker_stop(struct checker *k)
{
	if (k == NULL)
		return;
	atomic_store(&k->stop, true);
	pthread_join(k->thread, NULL);
	health_set_report(NULL); /* it borrows k->set */
	mig_set_free(k->set);
	free(k->sql_full);
	free(k->sql_nohist);
	free(k->qtable);
	free(k);
}
