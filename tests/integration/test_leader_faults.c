/* test_leader_faults.c - leader election under Redis outages and leader SIGKILLs: one leader
 * applying at a time, every replica finishes, every migration applied exactly once. */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "lease.h"
#include "lock.h"
#include "proc.h"
#include "redis.h"
#include "sgt.h"

static char *dsn;
static char *dir;

static void setup(void)
{
	sgt_require_services();
	dir = sgt_tmpdir();
}

static void teardown(void)
{
	/* Always leave Redis running and answering, whatever the test did:
	 * `start` is a no-op on a running (even a paused) server, `resume`
	 * continues a paused one and is harmless otherwise. */
	if (sgt_redis_url() != NULL) {
		sgt_service("redis.sh", "start");
		sgt_service("redis.sh", "resume");
	}
	sgt_case_close(&dsn, &dir);
}

TestSuite(leader_faults, .init = setup, .fini = teardown, .timeout = 240);

/* ---- replicas ------------------------------------------------------------- */

#define MAX_ENV 32
#define MAX_REPLICAS 16

/* Every replica uses Redis with a bounded timeout, so a paused server costs
 * 200 ms per call instead of a hang. */
static const char *const base_env[] = {"-DATABASE_SEARCH_PATH",
                                       "-SCHEMAGATE_CONFIG",
                                       "SCHEMAGATE_CONNECT_ATTEMPTS=5",
                                       "SCHEMAGATE_CONNECT_BASE_DELAY=50ms",
                                       "SCHEMAGATE_LOG_FORMAT=text",
                                       "SCHEMAGATE_REDIS_TIMEOUT=200ms",
                                       "SCHEMAGATE_LOCK_POLL_MIN=20ms",
                                       "SCHEMAGATE_LOCK_POLL_MAX=100ms",
                                       "SCHEMAGATE_FOLLOWER_POLL=500ms",
                                       "SCHEMAGATE_FOLLOWER_TIMEOUT=60s",
                                       NULL};

static struct sgt_proc *spawn_replica(const char *pod, const char *const *timers)
{
	static const char *const argv[] = {"schemagate", "migrate", NULL};
	char url[1024], mdir[1024], name[64], redis[256];
	const char *v[MAX_ENV];
	size_t n = 0;

	snprintf(url, sizeof url, "DATABASE_URL=%s", dsn);
	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s", dir);
	snprintf(name, sizeof name, "POD_NAME=%s", pod);
	snprintf(redis, sizeof redis, "REDIS_URL=%s", sgt_redis_url());
	v[n++] = url;
	v[n++] = mdir;
	v[n++] = name;
	v[n++] = redis;
	for (size_t i = 0; base_env[i] != NULL; i++)
		v[n++] = base_env[i];
	for (size_t i = 0; timers[i] != NULL && n < MAX_ENV - 1; i++)
		v[n++] = timers[i];
	v[n] = NULL;
	return sgt_spawn(argv, v);
}

/* True once the child has exited (a zombie not yet reaped), so that the
 * watcher can keep sampling until every replica is done and sgt_wait()
 * reaps them without blocking. */
static bool exited(const struct sgt_proc *p)
{
	char path[64], *stat, *close_paren;
	bool done;

	if (p->status != -1)
		return true;
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)p->pid);
	stat = sgt_read_file(path);
	if (stat == NULL)
		return true;
	close_paren = strrchr(stat, ')');
	done = close_paren == NULL || close_paren[1] == '\0' || close_paren[2] == 'Z';
	free(stat);
	return done;
}

/* Polls a child's stderr until it contains text. */
static void wait_for_log(struct sgt_proc *p, const char *pod, const char *text, long timeout_ms)
{
	long long end = proc_now_ms() + timeout_ms;

	for (;;) {
		char *e = sgt_stderr(p);

		if (sgt_contains(e, text)) {
			free(e);
			return;
		}
		if (proc_now_ms() > end || exited(p))
			cr_assert_fail("%s never logged \"%s\"; stderr: %s", pod, text, e);
		free(e);
		sgt_sleep_ms(10);
	}
}

/* ---- the watcher: samples who applies while replicas run ------------------ */

/* Running totals over the samples of one test. */
struct watch {
	PGconn *c;
	char sql[2048];
	long samples;       /* samples taken */
	long applying_seen; /* samples in which some session ran migration SQL */
	long max_applying;  /* most sessions running migration SQL at once */
	long max_leaders;   /* most leader-named sessions holding the migration lock */
	long foreign;       /* samples where migration SQL ran while another pid held the lock */
};

static void watch_open(struct watch *w)
{
	char *db = sgt_sql_value(dsn, "SELECT current_database()");
	uint64_t key = (uint64_t)lock_key(db, "public", "schemagate_migrations");
	/* pg_advisory_lock(bigint) shows in pg_locks as classid = high 32 bits,
	 * objid = low 32 bits, objsubid = 1. */
	char held[256];

	free(db);
	memset(w, 0, sizeof *w);
	w->c = sgt_connect(dsn);
	snprintf(held, sizeof held,
	         "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
	         "AND l.classid = %" PRIu64 " AND l.objid = %" PRIu64 " AND l.objsubid = 1",
	         key >> 32, key & 0xffffffffu);
	/* Migration SQL carries the marker "lf-apply"; only the leader that
	 * holds the migration lock may be running it. */
	snprintf(
	    w->sql, sizeof w->sql,
	    "WITH a AS (SELECT pid, application_name, query, state FROM pg_stat_activity "
	    "WHERE datname = current_database() AND pid <> pg_backend_pid()), "
	    "h AS (%s) "
	    "SELECT (SELECT count(*) FROM a WHERE state <> 'idle' AND query LIKE '%%lf-apply%%'),"
	    " (SELECT count(*) FROM a WHERE application_name LIKE 'schemagate/leader/%%' "
	    "  AND pid IN (SELECT pid FROM h)),"
	    " (SELECT count(*) FROM a WHERE state <> 'idle' AND query LIKE '%%lf-apply%%' "
	    "  AND EXISTS (SELECT 1 FROM h WHERE h.pid <> a.pid))",
	    held);
}

static void watch_sample(struct watch *w)
{
	PGresult *r = PQexec(w->c, w->sql);
	long applying, leaders, foreign;

	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "watch query: %s", PQerrorMessage(w->c));
	applying = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	leaders = strtol(PQgetvalue(r, 0, 1), NULL, 10);
	foreign = strtol(PQgetvalue(r, 0, 2), NULL, 10);
	PQclear(r);
	w->samples++;
	if (applying > 0)
		w->applying_seen++;
	if (applying > w->max_applying)
		w->max_applying = applying;
	if (leaders > w->max_leaders)
		w->max_leaders = leaders;
	if (foreign > 0)
		w->foreign++;
}

/* Samples every ~10 ms until all n replicas have exited (or timeout_ms). */
static void watch_until_exited(struct watch *w, struct sgt_proc *const *p, int n, long timeout_ms)
{
	long long end = proc_now_ms() + timeout_ms;

	for (;;) {
		int running = 0;

		watch_sample(w);
		for (int i = 0; i < n; i++)
			running += !exited(p[i]);
		if (running == 0 || proc_now_ms() > end)
			return;
		sgt_sleep_ms(10);
	}
}

static void watch_close(struct watch *w, const char *what)
{
	PQfinish(w->c);
	w->c = NULL;
	cr_log_info("%s: %ld samples, %ld with a leader applying", what, w->samples,
	            w->applying_seen);
	cr_expect_leq(w->max_applying, 1, "%s: %ld sessions ran migration SQL at once", what,
	              w->max_applying);
	cr_expect_leq(w->max_leaders, 1, "%s: %ld leaders held the migration lock", what,
	              w->max_leaders);
	cr_expect_eq(w->foreign, 0,
	             "%s: migration SQL ran while another session held the lock "
	             "(%ld samples)",
	             what, w->foreign);
}

/* ---- checks on the database ------------------------------------------------ */

/* n migrations, each recorded once and clean, each with its table and its
 * single ledger row; no two runs that applied something overlapped in time. */
static void expect_converged(const char *what, long n)
{
	cr_expect_eq(
	    sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE NOT dirty"), n,
	    "%s: clean history rows", what);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE dirty"), 0,
	             "%s: dirty rows", what);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM ledger"), n,
	             "%s: ledger rows (a migration applied twice adds one)", what);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(DISTINCT v) FROM ledger"), n, "%s: ledger",
	             what);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations h WHERE "
	                               "NOT EXISTS (SELECT 1 FROM ledger l WHERE l.v = h.version) "
	                               "OR NOT EXISTS (SELECT 1 FROM pg_class c WHERE "
	                               "c.relkind = 'r' AND c.relname = 'm_' || h.version)"),
	             0, "%s: recorded migrations whose objects are missing", what);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_class c WHERE c.relkind = 'r' AND "
	                               "c.relname ~ '^m_[0-9]+$' AND NOT EXISTS (SELECT 1 FROM "
	                               "schemagate_migrations h WHERE 'm_' || h.version = "
	                               "c.relname)"),
	             0, "%s: tables without a history row", what);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs a "
	                               "JOIN schemagate_migrations_runs b ON a.id < b.id "
	                               "WHERE a.outcome IN ('succeeded', 'interrupted') "
	                               "AND b.outcome IN ('succeeded', 'interrupted') "
	                               "AND a.reached_version > a.from_version "
	                               "AND b.reached_version > b.from_version "
	                               "AND tstzrange(a.started_at, a.finished_at) && "
	                               "tstzrange(b.started_at, b.finished_at)"),
	             0, "%s: two runs applied migrations at the same time", what);
	/* A leader killed after its last commit but before recording its end
	 * leaves its row 'running' (nobody needs the lock afterwards to mark it
	 * abandoned; status derives that); no live process may own such a row. */
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs r "
	                               "WHERE outcome = 'running' AND EXISTS (SELECT 1 FROM "
	                               "pg_stat_activity a WHERE a.pid = r.backend_pid)"),
	             0, "%s: a live process still owns a run marked running", what);
}

/* Migration v: table m_<v> plus its ledger row (version 1 also creates the
 * ledger), marked "lf-apply" for the watcher; `extra` goes in the middle. */
static void write_migration(long v, const char *extra)
{
	char name[64];
	char *sql = sgt_fmt("-- lf-apply\n%sCREATE TABLE m_%ld (id int);\n%s"
	                    "INSERT INTO ledger VALUES (%ld);\n",
	                    v == 1 ? "CREATE TABLE ledger (v int);\n" : "", v, extra, v);

	snprintf(name, sizeof name, "%06ld_m%ld.up.sql", v, v);
	sgt_write_file(dir, name, sql);
	free(sql);
}

/* ---- 1. Redis stopped, restarted, paused during the election -------------- */

/* A gate the test holds: migration 1 blocks on it, so the leader sits inside
 * a migration while the test breaks Redis, however slow the machine. */
#define GATE_KEY "4242"
#define NGATED 5

static void write_gated_set(void)
{
	write_migration(1, "SELECT pg_advisory_lock(" GATE_KEY ");\n"
	                   "SELECT pg_advisory_unlock(" GATE_KEY ");\n");
	for (long v = 2; v <= NGATED; v++)
		write_migration(v, "");
}

/* The pod name of the session waiting at the gate (the leader), malloc'd. */
static char *wait_at_gate(struct watch *w, long timeout_ms)
{
	long long end = proc_now_ms() + timeout_ms;

	for (;;) {
		char *pod = sgt_sql_value(
		    dsn, "SELECT substr(a.application_name, 19) FROM pg_locks l JOIN "
		         "pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND "
		         "NOT l.granted AND l.objid = " GATE_KEY " AND a.application_name LIKE "
		         "'schemagate/leader/%'");

		watch_sample(w);
		if (pod != NULL)
			return pod;
		if (proc_now_ms() > end)
			cr_assert_fail("no leader reached the gate within %ld ms", timeout_ms);
		sgt_sleep_ms(10);
	}
}

/* GET of the lease key of this database: malloc'd, or NULL when absent. */
static char *lease_holder(void)
{
	struct sg_err err = {.code = SG_E_OK};
	struct cfg cfg = {.redis_url = (char *)sgt_redis_url(), .redis_timeout_ms = 2000};
	char *db = sgt_sql_value(dsn, "SELECT current_database()");
	char key[64];
	const char *argv[] = {"GET", key};
	redisContext *c = NULL;
	redisReply *r = NULL;
	char *v = NULL;

	lease_name(LEASE_KEY_PREFIX, lock_key(db, "public", "schemagate_migrations"), key,
	           sizeof key);
	free(db);
	if (redis_connect(&cfg, &c, &err) != 0 || redis_command(c, 2, argv, &r, &err) != 0) {
		redis_close(c);
		cr_assert_fail("GET %s: %s", key, err.msg);
	}
	if (r->type == REDIS_REPLY_STRING)
		v = strdup(r->str);
	freeReplyObject(r);
	redis_close(c);
	return v;
}

enum redis_fault { FAULT_STOP, FAULT_RESTART, FAULT_PAUSE };

/* A lease long enough that a short outage does not expire it, a fast retry so
 * that followers try Redis (and notice the fault) every 200 ms. */
static const char *const election_timers[] = {"SCHEMAGATE_LEASE_DURATION=3s",
                                              "SCHEMAGATE_RENEW_DEADLINE=2s",
                                              "SCHEMAGATE_RETRY_PERIOD=200ms", NULL};

/* ~10 replicas: a first batch elects a leader (held at the gate) while the
 * others follow on the lease; then Redis breaks and a second batch starts
 * into the broken Redis; every follower must fall back to the advisory lock.
 * With FAULT_RESTART, Redis comes back empty and a third batch starts once
 * the leader holds the lease again. The gate opens (for FAULT_PAUSE while
 * Redis is still frozen) and every replica must exit 0. */
static void election_under_fault(enum redis_fault fault)
{
	static const char *const names[] = {"stop", "restart", "pause"};
	const char *what = names[fault];
	int first = 4, second = 3, third = fault == FAULT_RESTART ? 3 : 0;
	int n = 0;
	struct sgt_proc *p[MAX_REPLICAS];
	char pod[MAX_REPLICAS][32];
	struct watch w;
	PGconn *gate;
	char *leader;
	long long t0;

	if (fault != FAULT_RESTART)
		second = 6;
	dsn = sgt_fresh_db("leaderfaults");
	write_gated_set();
	watch_open(&w);
	gate = sgt_connect(dsn);
	PQclear(PQexec(gate, "SELECT pg_advisory_lock(" GATE_KEY ")"));

	for (; n < first; n++) {
		snprintf(pod[n], sizeof pod[n], "%s-%02d", what, n);
		p[n] = spawn_replica(pod[n], election_timers);
	}
	leader = wait_at_gate(&w, 30000);
	for (int i = 0; i < n; i++)
		if (strcmp(pod[i], leader) != 0)
			wait_for_log(p[i], pod[i], "waiting for it", 30000);
	char *holder = lease_holder();
	cr_assert(holder != NULL && strncmp(holder, leader, strlen(leader)) == 0 &&
	              holder[strlen(leader)] == ':',
	          "%s: lease held by %s, not by the leader %s", what, holder, leader);
	free(holder);

	t0 = proc_now_ms();
	sgt_service("redis.sh", fault == FAULT_PAUSE ? "pause" : "stop");
	for (; n < first + second; n++) {
		snprintf(pod[n], sizeof pod[n], "%s-%02d", what, n);
		p[n] = spawn_replica(pod[n], election_timers);
	}
	/* Every follower, old and new, gives up on Redis within its bounded
	 * timeout and elects by the advisory lock instead. */
	for (int i = 0; i < n; i++) {
		if (strcmp(pod[i], leader) == 0)
			continue;
		wait_for_log(p[i], pod[i],
		             i < first ? "electing by advisory lock instead"
		                       : "electing by the advisory lock alone",
		             30000);
		wait_for_log(p[i], pod[i], "waiting for it", 30000);
		watch_sample(&w);
	}
	cr_log_info("%s: %d followers fell back to the advisory lock in %lld ms", what, n - 1,
	            proc_now_ms() - t0);

	if (fault == FAULT_RESTART) {
		long long end = proc_now_ms() + 10000;

		sgt_service("redis.sh", "start");
		/* Redis came back empty: the leader's renewal must take its lease
		 * back rather than give up leading. */
		for (;;) {
			char *h = lease_holder();
			bool back = h != NULL && strncmp(h, leader, strlen(leader)) == 0;

			free(h);
			if (back)
				break;
			cr_assert(proc_now_ms() < end,
			          "restart: the leader %s did not take its lease back", leader);
			watch_sample(&w);
			sgt_sleep_ms(20);
		}
		for (; n < first + second + third; n++) {
			snprintf(pod[n], sizeof pod[n], "%s-%02d", what, n);
			p[n] = spawn_replica(pod[n], election_timers);
		}
		for (int i = first + second; i < n; i++)
			wait_for_log(p[i], pod[i], "waiting for it", 30000);
	}

	t0 = proc_now_ms();
	PQfinish(gate); /* the session lock goes with the session */
	watch_until_exited(&w, p, n, 60000);
	cr_log_info("%s: all %d replicas exited %lld ms after the gate opened", what, n,
	            proc_now_ms() - t0);
	for (int i = 0; i < n; i++) {
		int rc = sgt_wait(p[i], 5000);
		char *e = sgt_stderr(p[i]);

		cr_expect_eq(rc, 0, "%s: replica %s exited %d: %s", what, pod[i], rc, e);
		free(e);
		sgt_proc_free(p[i]);
	}
	if (fault == FAULT_PAUSE)
		sgt_service("redis.sh", "resume");
	watch_close(&w, what);
	cr_expect_gt(w.applying_seen, 0, "%s: the watcher never saw the leader apply", what);
	expect_converged(what, NGATED);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs"), 1,
	             "%s: one run, by the leader", what);
	char *by = sgt_sql_value(dsn, "SELECT string_agg(DISTINCT applied_by, ',') FROM "
	                              "schemagate_migrations");
	cr_expect_str_eq(by, leader, "%s: applied by %s, not the leader %s", what, by, leader);
	free(by);
	free(leader);
}

Test(leader_faults, redis_stopped_during_election)
{
	election_under_fault(FAULT_STOP);
}

Test(leader_faults, redis_restarted_during_election)
{
	election_under_fault(FAULT_RESTART);
}

Test(leader_faults, redis_paused_during_election)
{
	election_under_fault(FAULT_PAUSE);
}

/* ---- 2. the leader SIGKILLed at random points ------------------------------ */

#define TRIALS 20
#define TRIAL_REPLICAS 5
#define NSLOW 6
#define DEFAULT_SEED 20240611u

static const char *const short_lease[] = {"SCHEMAGATE_LEASE_DURATION=1s",
                                          "SCHEMAGATE_RENEW_DEADLINE=700ms",
                                          "SCHEMAGATE_RETRY_PERIOD=200ms", NULL};

/* The pod whose session holds the migration lock under a leader name, or
 * NULL. malloc'd. */
static char *lock_holder(void)
{
	return sgt_sql_value(dsn, "SELECT substr(a.application_name, 19) FROM pg_stat_activity a "
	                          "WHERE a.datname = current_database() AND a.application_name "
	                          "LIKE 'schemagate/leader/%' AND a.pid IN (SELECT l.pid FROM "
	                          "pg_locks l JOIN pg_stat_activity b USING (pid) WHERE "
	                          "l.locktype = 'advisory' AND l.granted AND l.objid <> " GATE_KEY
	                          " AND b.datname = current_database()) LIMIT 1");
}

/* One trial: fresh database, TRIAL_REPLICAS replicas, the leader SIGKILLed
 * delay_ms after the spawn (or as soon as one leads after that). Returns
 * whether a leader was killed (false: the run finished first). */
static bool kill_trial(int trial, unsigned seed, long delay_ms)
{
	struct sgt_proc *p[TRIAL_REPLICAS];
	char pod[TRIAL_REPLICAS][32];
	struct watch w;
	char *victim = NULL,
	     *what = sgt_fmt("seed %u trial %d (delay %ld ms)", seed, trial, delay_ms);
	int killed = -1;
	long long end, killed_at = 0;
	long done_at_kill = -1;

	dsn = sgt_fresh_db("leaderkill");
	watch_open(&w);
	for (int i = 0; i < TRIAL_REPLICAS; i++) {
		snprintf(pod[i], sizeof pod[i], "kill%02d-%d", trial, i);
		p[i] = spawn_replica(pod[i], short_lease);
	}
	/* The random point: a deliberate delay, not a synchronisation. */
	sgt_sleep_ms(delay_ms);
	end = proc_now_ms() + 20000;
	for (;;) {
		int running = 0;

		victim = lock_holder();
		if (victim != NULL)
			break;
		for (int i = 0; i < TRIAL_REPLICAS; i++)
			running += !exited(p[i]);
		if (running == 0)
			break;
		cr_assert(proc_now_ms() < end, "%s: no leader within 20 s", what);
		sgt_sleep_ms(2);
	}
	if (victim != NULL) {
		for (int i = 0; i < TRIAL_REPLICAS; i++)
			if (strcmp(pod[i], victim) == 0)
				killed = i;
		cr_assert_geq(killed, 0, "%s: the leader %s is none of ours", what, victim);
		/* Committed migrations (pg_class shows committed tables only). */
		done_at_kill =
		    sgt_sql_long(dsn, "SELECT count(*) FROM pg_class WHERE relkind = 'r' "
		                      "AND relname ~ '^m_[0-9]+$'");
		if (!exited(p[killed]))
			sgt_signal(p[killed], SIGKILL);
		killed_at = proc_now_ms();
	}
	watch_until_exited(&w, p, TRIAL_REPLICAS, 30000);
	if (victim != NULL)
		cr_log_info("%s: killed %s after %ld of %d migrations; the others finished in "
		            "%lld ms",
		            what, victim, done_at_kill, NSLOW, proc_now_ms() - killed_at);
	for (int i = 0; i < TRIAL_REPLICAS; i++) {
		int rc = sgt_wait(p[i], 5000);

		if (i != killed) {
			char *e = sgt_stderr(p[i]);

			cr_expect_eq(rc, 0, "%s: replica %s exited %d: %s", what, pod[i], rc, e);
			free(e);
		}
		sgt_proc_free(p[i]);
	}
	watch_close(&w, what);
	expect_converged(what, NSLOW);
	free(victim);
	free(what);
	sgt_drop_db(dsn);
	free(dsn);
	dsn = NULL;
	return killed >= 0;
}

Test(leader_faults, leader_sigkilled_at_random_points)
{
	const char *env = getenv("SCHEMAGATE_TEST_SEED");
	unsigned seed = env != NULL ? (unsigned)strtoul(env, NULL, 10) : DEFAULT_SEED;
	unsigned rnd = seed;
	int kills = 0;
	long long t0 = proc_now_ms();

	/* Printed first, so that a failure can be replayed with
	 * SCHEMAGATE_TEST_SEED=<seed>. */
	fprintf(stderr, "leader_sigkilled_at_random_points: seed %u\n", seed);
	for (long v = 1; v <= NSLOW; v++)
		write_migration(v, "SELECT pg_sleep(0.05);\n");
	for (int t = 0; t < TRIALS; t++) {
		long delay = (long)(rand_r(&rnd) % 301);

		kills += kill_trial(t, seed, delay);
	}
	fprintf(stderr,
	        "leader_sigkilled_at_random_points: seed %u, %d trials, %d leaders killed, "
	        "%lld ms\n",
	        seed, TRIALS, kills, proc_now_ms() - t0);
	cr_expect_geq(kills, TRIALS / 2, "only %d of %d trials killed a leader", kills, TRIALS);
}
