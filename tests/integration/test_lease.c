/* test_lease.c - leader election: Redis lease, fencing, renewal, takeover, followers woken by
 * NOTIFY. */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	sgt_case_open("lease", &dsn, &dir);
}

static void teardown(void)
{
	/* Always: a test may have stopped or killed Redis (a no-op when running). */
	if (sgt_redis_url() != NULL)
		sgt_service("redis.sh", "start");
	sgt_case_close(&dsn, &dir);
}

TestSuite(lease, .init = setup, .fini = teardown, .timeout = 180);

/* ---- helpers ------------------------------------------------------------ */

#define MAX_ENV 24

/* The environment of one replica: database, folder, identity, Redis (when
 * with_redis), fast connect retries, plus the extra settings given. */
struct env {
	char url[1024], mdir[1024], pod[64], redis[256];
	const char *v[MAX_ENV];
};

static void env_init(struct env *e, const char *pod, bool with_redis, const char *const *extra)
{
	size_t n = 0;

	snprintf(e->url, sizeof e->url, "DATABASE_URL=%s", dsn);
	snprintf(e->mdir, sizeof e->mdir, "MIGRATIONS_DIR=%s", dir);
	snprintf(e->pod, sizeof e->pod, "POD_NAME=%s", pod);
	snprintf(e->redis, sizeof e->redis, "REDIS_URL=%s", sgt_redis_url());
	e->v[n++] = e->url;
	e->v[n++] = e->mdir;
	e->v[n++] = e->pod;
	e->v[n++] = with_redis ? e->redis : "-REDIS_URL";
	e->v[n++] = "-DATABASE_SEARCH_PATH";
	e->v[n++] = "SCHEMAGATE_CONNECT_ATTEMPTS=5";
	e->v[n++] = "SCHEMAGATE_CONNECT_BASE_DELAY=50ms";
	e->v[n++] = "SCHEMAGATE_LOG_FORMAT=text";
	for (size_t i = 0; extra != NULL && extra[i] != NULL && n < MAX_ENV - 1; i++)
		e->v[n++] = extra[i];
	e->v[n] = NULL;
}

static struct sgt_proc *spawn_migrate(const char *pod, bool with_redis, const char *const *extra)
{
	static const char *const argv[] = {"schemagate", "migrate", NULL};
	struct env e;

	env_init(&e, pod, with_redis, extra);
	return sgt_spawn(argv, e.v);
}

static redisContext *test_redis(void)
{
	struct sg_err err = {.code = SG_E_OK};
	struct cfg cfg = {.redis_url = (char *)sgt_redis_url(), .redis_timeout_ms = 2000};
	redisContext *c = NULL;

	if (redis_connect(&cfg, &c, &err) != 0)
		cr_assert_fail("connect to the test Redis: %s", err.msg);
	return c;
}

/* The lease key of this test's database (public schema, default table). */
static void lease_key_name(char *buf, size_t n)
{
	char *db = sgt_sql_value(dsn, "SELECT current_database()");

	lease_name(LEASE_KEY_PREFIX, lock_key(db, "public", "schemagate_migrations"), buf, n);
	free(db);
}

/* GET key: malloc'd value or NULL when absent. */
static char *redis_get(redisContext *c, const char *key)
{
	const char *argv[] = {"GET", key};
	struct sg_err err = {.code = SG_E_OK};
	redisReply *r = NULL;
	char *v = NULL;

	if (redis_command(c, 2, argv, &r, &err) != 0)
		cr_assert_fail("GET %s: %s", key, err.msg);
	if (r->type == REDIS_REPLY_STRING)
		v = strdup(r->str);
	freeReplyObject(r);
	return v;
}

static void redis_do(redisContext *c, int argc, const char *const *argv)
{
	struct sg_err err = {.code = SG_E_OK};
	redisReply *r = NULL;

	if (redis_command(c, argc, argv, &r, &err) != 0)
		cr_assert_fail("%s: %s", argv[0], err.msg);
	freeReplyObject(r);
}

/* Polls (20 ms steps, up to timeout_ms) until a backend runs a query
 * containing `marker`. */
static void wait_for_query(const char *marker, long timeout_ms)
{
	char *sql = sgt_fmt("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%%s%%' "
	                    "AND pid <> pg_backend_pid()",
	                    marker);
	long long end = proc_now_ms() + timeout_ms;

	while (sgt_sql_long(dsn, sql) == 0) {
		if (proc_now_ms() > end)
			cr_assert_fail("no backend ran \"%s\" within %ld ms", marker, timeout_ms);
		sgt_sleep_ms(20);
	}
	free(sql);
}

/* Polls a child's stderr until it contains text. */
static void wait_for_log(struct sgt_proc *p, const char *text, long timeout_ms)
{
	long long end = proc_now_ms() + timeout_ms;

	for (;;) {
		char *e = sgt_stderr(p);
		bool found = sgt_contains(e, text);

		if (found) {
			free(e);
			return;
		}
		if (proc_now_ms() > end)
			cr_assert_fail("\"%s\" never logged; stderr: %s", text, e);
		free(e);
		sgt_sleep_ms(20);
	}
}

static void write_set_with_slow(double slow_seconds)
{
	char *slow = sgt_fmt("CREATE TABLE s1 (id int);\nSELECT pg_sleep(%.2f);\n", slow_seconds);

	sgt_write_file(dir, "000001_slow.up.sql", slow);
	sgt_write_file(dir, "000002_b.up.sql", "CREATE TABLE s2 (id int);\n");
	sgt_write_file(dir, "000003_c.up.sql", "CREATE TABLE s3 (id int);\n");
	free(slow);
}

/* A gate the test holds: migration 1 of write_set_gated() blocks on it, so
 * the test decides when the leader may go on, however slow the machine. */
#define GATE_KEY "4242"

static PGconn *gate_close(void)
{
	PGconn *g = sgt_connect(dsn);

	PQclear(PQexec(g, "SELECT pg_advisory_lock(" GATE_KEY ")"));
	return g;
}

static void gate_open(PGconn *g)
{
	PQfinish(g); /* the session lock goes with the session */
}

/* Polls until a backend waits at the gate, i.e. the leader is mid-migration. */
static void wait_at_gate(long timeout_ms)
{
	long long end = proc_now_ms() + timeout_ms;

	while (sgt_sql_long(dsn, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
	                         "AND NOT granted AND objid = " GATE_KEY) == 0) {
		if (proc_now_ms() > end)
			cr_assert_fail("no migration reached the gate within %ld ms", timeout_ms);
		sgt_sleep_ms(20);
	}
}

static void write_set_gated(void)
{
	sgt_write_file(dir, "000001_slow.up.sql",
	               "CREATE TABLE s1 (id int);\nSELECT pg_advisory_lock(" GATE_KEY ");\n"
	               "SELECT pg_advisory_unlock(" GATE_KEY ");\n");
	sgt_write_file(dir, "000002_b.up.sql", "CREATE TABLE s2 (id int);\n");
	sgt_write_file(dir, "000003_c.up.sql", "CREATE TABLE s3 (id int);\n");
}

/* Starts n replicas together and expects every one to exit 0. With
 * kill_redis, the leader is held at the gate while Redis is killed. */
static void run_replicas(int n, bool with_redis, const char *const *extra, bool kill_redis)
{
	PGconn *gate = kill_redis ? gate_close() : NULL;
	struct sgt_proc *p[40];
	char pod[40][32];

	cr_assert(n <= 40);
	for (int i = 0; i < n; i++) {
		snprintf(pod[i], sizeof pod[i], "replica-%02d", i);
		p[i] = spawn_migrate(pod[i], with_redis, extra);
	}
	if (kill_redis) {
		wait_at_gate(60000);
		sgt_service("redis.sh", "kill");
		gate_open(gate);
	}
	for (int i = 0; i < n; i++) {
		int rc = sgt_wait(p[i], 90000);
		char *e = sgt_stderr(p[i]);

		cr_expect_eq(rc, 0, "replica %d exited %d: %s", i, rc, e);
		free(e);
		sgt_proc_free(p[i]);
	}
}

static void expect_applied_once_by_one(void)
{
	cr_expect_eq(
	    sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE NOT dirty"), 3);
	cr_expect_eq(
	    sgt_sql_long(dsn, "SELECT count(DISTINCT applied_by) FROM schemagate_migrations"), 1,
	    "one replica did all the work");
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs "
	                               "WHERE command = 'migrate'"),
	             1);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename IN "
	                               "('s1', 's2', 's3')"),
	             3);
}

/* ---- tests --------------------------------------------------------------- */

Test(lease, thirty_replicas_with_redis_elect_one_leader)
{
	char key[64];
	redisContext *c;

	write_set_with_slow(0.3);
	run_replicas(30, true, NULL, false);
	expect_applied_once_by_one();
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs "
	                               "WHERE fencing_token > 0 AND outcome = 'succeeded'"),
	             1, "the run records its fencing token");
	lease_key_name(key, sizeof key);
	c = test_redis();
	char *holder = redis_get(c, key);
	cr_expect_null(holder, "lease key %s still held by %s", key, holder);
	free(holder);
	redis_close(c);
}

Test(lease, thirty_replicas_with_redis_stopped_use_the_advisory_lock)
{
	sgt_service("redis.sh", "stop");
	write_set_with_slow(0.3);
	run_replicas(30, true, NULL, false);
	expect_applied_once_by_one();
}

Test(lease, thirty_replicas_survive_redis_killed_mid_run)
{
	write_set_gated();
	run_replicas(30, true, NULL, true);
	expect_applied_once_by_one();
}

static const char *const short_lease[] = {
    "SCHEMAGATE_LEASE_DURATION=1s",   "SCHEMAGATE_RENEW_DEADLINE=700ms",
    "SCHEMAGATE_RETRY_PERIOD=200ms",  "SCHEMAGATE_LOCK_POLL_MIN=20ms",
    "SCHEMAGATE_LOCK_POLL_MAX=100ms", NULL};

Test(lease, follower_takes_over_after_leader_sigkill)
{
	struct sgt_proc *a, *b;
	int rc;

	PGconn *gate = gate_close();

	write_set_gated();
	a = spawn_migrate("leader-a", true, short_lease);
	wait_at_gate(30000);
	b = spawn_migrate("follower-b", true, short_lease);
	wait_for_log(b, "waiting for it", 30000);
	sgt_signal(a, SIGKILL);
	sgt_wait(a, 10000);
	/* A's backend still waits at the gate and only notices its client is
	 * gone when it gets there: rolled back, never committed. */
	gate_open(gate);
	rc = sgt_wait(b, 60000);
	char *e = sgt_stderr(b);
	cr_expect_eq(rc, 0, "follower exited %d: %s", rc, e);
	cr_expect(sgt_contains(e, "took over the lease"), "stderr: %s", e);
	free(e);
	sgt_proc_free(a);
	sgt_proc_free(b);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE NOT dirty "
	                               "AND applied_by = 'follower-b'"),
	             3, "the follower applied everything, each once");
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE dirty"),
	             0);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs"), 2);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs a "
	                               "JOIN schemagate_migrations_runs b ON b.id > a.id "
	                               "WHERE a.identity = 'leader-a' AND a.outcome = 'abandoned' "
	                               "AND b.identity = 'follower-b' AND b.outcome = 'succeeded' "
	                               "AND b.fencing_token > a.fencing_token"),
	             1, "the new leader has a higher fencing token; the dead run is abandoned");
}

Test(lease, renewal_keeps_a_three_ttl_migration_leased)
{
	char key[64];
	redisContext *c;
	struct sgt_proc *p;
	int samples = 0;
	long long first = 0, last = 0;

	sgt_write_file(dir, "000001_slow.up.sql", "SELECT pg_sleep(3.00);\n");
	sgt_write_file(dir, "000002_b.up.sql", "CREATE TABLE s2 (id int);\n");
	lease_key_name(key, sizeof key);
	c = test_redis();
	p = spawn_migrate("renew-pod", true, short_lease);
	wait_for_query("pg_sleep(3.00)", 30000);
	/* Sample the key while the 3 s migration runs (3 x the 1 s lease). */
	while (sgt_sql_long(dsn,
	                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
	                    "AND query LIKE '%pg_sleep(3.00)%' AND pid <> pg_backend_pid()") > 0) {
		char *holder = redis_get(c, key);

		cr_assert(holder != NULL && strncmp(holder, "renew-pod:", 10) == 0,
		          "sample %d: lease held by %s", samples,
		          holder != NULL ? holder : "nobody");
		free(holder);
		last = proc_now_ms();
		if (samples++ == 0)
			first = last;
		sgt_sleep_ms(100);
	}
	/* The samples must span more than two 1 s leases, however few a loaded
	 * machine lets us take: the migration's own pg_sleep sets the span. */
	cr_expect_geq(samples, 3, "only %d samples during the 3 s migration", samples);
	cr_expect_geq(last - first, 2000, "samples span only %lld ms of the 3 s migration",
	              last - first);
	int rc = sgt_wait(p, 30000);
	char *e = sgt_stderr(p);
	cr_expect_eq(rc, 0, "exit %d: %s", rc, e);
	free(e);
	sgt_proc_free(p);
	char *after = redis_get(c, key);
	cr_expect_null(after, "lease not released: %s", after);
	free(after);
	redis_close(c);
}

Test(lease, forced_takeover_stops_the_old_leader_before_the_next_migration)
{
	char key[64];
	redisContext *c;
	struct sgt_proc *p;

	write_set_with_slow(1.5);
	lease_key_name(key, sizeof key);
	c = test_redis();
	p = spawn_migrate("old-leader", true, short_lease);
	wait_for_query("pg_sleep(1.50)", 30000);
	const char *set[] = {"SET", key, "intruder:0123", "PX", "60000"};
	redis_do(c, 5, set);
	/* It steps down and follows instead of exiting 1. */
	wait_for_log(p, "lease lost: following the new leader", 30000);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 1,
	             "the migration in flight finishes, no later one starts");
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 's2'"), 0);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs WHERE "
	                               "outcome = 'interrupted' AND error LIKE '%lease lost%' "
	                               "AND reached_version = 1"),
	             1);
	char *holder = redis_get(c, key);
	cr_expect(holder != NULL && strcmp(holder, "intruder:0123") == 0,
	          "compare-and-delete must leave another holder's key alone, got %s", holder);
	free(holder);
	/* The intruder goes away without finishing: the old leader, now a
	 * follower, takes the lease again and finishes; exit 0. */
	const char *del[] = {"DEL", key};
	redis_do(c, 2, del);
	int rc = sgt_wait(p, 30000);
	char *e = sgt_stderr(p);
	cr_expect_eq(rc, 0, "exit %d: %s", rc, e);
	free(e);
	sgt_proc_free(p);
	cr_expect_eq(
	    sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE NOT dirty"), 3);
	redis_close(c);
}

/* A leader that loses its lease to a real new leader follows it
 * and exits 0 once the new leader has finished (it exited 1, and the init
 * container restarted for nothing). */
Test(lease, leader_that_loses_its_lease_follows_and_exits_zero)
{
	char key[64];
	redisContext *c;
	struct sgt_proc *old, *fresh;

	write_set_with_slow(1.5);
	lease_key_name(key, sizeof key);
	c = test_redis();
	old = spawn_migrate("old-leader", true, short_lease);
	wait_for_log(old, "applying migrations", 30000);
	wait_for_query("pg_sleep(1.50)", 30000);
	/* as if the lease had expired while the old leader was cut off */
	const char *del[] = {"DEL", key};
	const char *set[] = {"SET", key, "intruder:0123", "PX", "400"};
	redis_do(c, 5, set);
	wait_for_log(old, "lease lost: following the new leader", 30000);
	redis_do(c, 2, del);
	fresh = spawn_migrate("new-leader", true, short_lease);
	cr_expect_eq(sgt_wait(fresh, 30000), 0);
	int rc = sgt_wait(old, 30000);
	char *e = sgt_stderr(old);
	cr_expect_eq(rc, 0, "the old leader exited %d: %s", rc, e);
	free(e);
	sgt_proc_free(old);
	sgt_proc_free(fresh);
	cr_expect_eq(
	    sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE NOT dirty"), 3);
	redis_close(c);
}

/* Redis restarted without its data would draw fencing token 1 again, below
 * the token already recorded: the runs table sets the floor. */
Test(lease, fencing_tokens_never_go_backwards_after_redis_loses_its_data)
{
	redisContext *c;
	struct sgt_proc *p;
	const char *flush[] = {"FLUSHALL"};

	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE f1 (id int);\n");
	c = test_redis();
	redis_do(c, 1, flush);
	p = spawn_migrate("first", true, short_lease);
	cr_assert_eq(sgt_wait(p, 30000), 0);
	sgt_proc_free(p);
	redis_do(c, 1, flush);
	sgt_write_file(dir, "000002_b.up.sql", "CREATE TABLE f2 (id int);\n");
	p = spawn_migrate("second", true, short_lease);
	cr_assert_eq(sgt_wait(p, 30000), 0);
	sgt_proc_free(p);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs a "
	                               "JOIN schemagate_migrations_runs b ON b.id > a.id "
	                               "WHERE a.identity = 'first' AND b.identity = 'second' "
	                               "AND b.fencing_token > a.fencing_token"),
	             1, "the second leader's token is not above the first's");
	redis_close(c);
}

/* Followers with every timer at 30 s or more: only a notification can make
 * them exit soon after the leader. */
static void followers_wake_on_notify(bool with_redis)
{
	enum { N = 8 };
	static const char *const slow_timers[] = {"SCHEMAGATE_FOLLOWER_POLL=30s",
	                                          "SCHEMAGATE_LEASE_DURATION=60s",
	                                          "SCHEMAGATE_RENEW_DEADLINE=50s",
	                                          "SCHEMAGATE_RETRY_PERIOD=40s",
	                                          "SCHEMAGATE_LOCK_POLL_MIN=30s",
	                                          "SCHEMAGATE_LOCK_POLL_MAX=30s",
	                                          NULL};
	struct sgt_proc *leader, *f[N];
	char pod[N][32];
	long long leader_done, last = 0;

	PGconn *gate = gate_close();

	write_set_gated();
	leader = spawn_migrate("leader", with_redis, slow_timers);
	wait_at_gate(30000);
	for (int i = 0; i < N; i++) {
		snprintf(pod[i], sizeof pod[i], "follower-%d", i);
		f[i] = spawn_migrate(pod[i], with_redis, slow_timers);
	}
	for (int i = 0; i < N; i++)
		wait_for_log(f[i], "waiting for it", 20000);
	gate_open(gate);
	cr_assert_eq(sgt_wait(leader, 30000), 0);
	leader_done = proc_now_ms();
	for (int i = 0; i < N; i++) {
		int rc = sgt_wait(f[i], 20000);
		char *e = sgt_stderr(f[i]);

		cr_expect_eq(rc, 0, "follower %d exited %d: %s", i, rc, e);
		cr_expect(sgt_contains(e, "the leader finished"), "follower %d: %s", i, e);
		free(e);
		sgt_proc_free(f[i]);
	}
	last = proc_now_ms() - leader_done;
	cr_log_info("%s: last follower exited %lld ms after the leader was reaped",
	            with_redis ? "redis" : "no redis", last);
	cr_expect_lt(last, 5000, "followers took %lld ms: not woken by NOTIFY", last);
	sgt_proc_free(leader);
	expect_applied_once_by_one();
}

Test(lease, followers_wake_on_notify_with_redis)
{
	followers_wake_on_notify(true);
}

Test(lease, followers_wake_on_notify_without_redis)
{
	followers_wake_on_notify(false);
}

/* Sets (or, with "", clears) the test Redis's password. */
static void redis_requirepass(redisContext *c, const char *pw)
{
	const char *argv[] = {"CONFIG", "SET", "requirepass", pw};
	redisReply *r = NULL;
	struct sg_err err;

	cr_assert_eq(redis_command(c, 4, argv, &r, &err), 0, "CONFIG SET requirepass: %s", err.msg);
	freeReplyObject(r);
}

Test(lease, redis_password_file_authenticates_and_is_never_logged)
{
	static const char pw[] = "redis-file-secret-7Q";
	redisContext *c = test_redis();
	char file[1024], wrong[1024], env_file[1100], env_wrong[1100];
	struct sgt_proc *p;
	char *e;
	int rc;

	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	sgt_write_file(dir, "pw", "redis-file-secret-7Q\n");
	sgt_write_file(dir, "wrong", "not-it\n");
	snprintf(file, sizeof file, "%s/pw", dir);
	snprintf(wrong, sizeof wrong, "%s/wrong", dir);
	snprintf(env_file, sizeof env_file, "REDIS_PASSWORD_FILE=%s", file);
	snprintf(env_wrong, sizeof env_wrong, "REDIS_PASSWORD_FILE=%s", wrong);
	redis_requirepass(c, pw);

	/* Wrong password with leader.required: Redis is an error, nothing applied. */
	const char *bad[] = {env_wrong, "SCHEMAGATE_LEADER_REQUIRED=true", NULL};
	p = spawn_migrate("pw-wrong", true, bad);
	rc = sgt_wait(p, 30000);
	e = sgt_stderr(p);
	cr_expect_eq(rc, 1, "exit %d: %s", rc, e);
	cr_expect(!sgt_contains(e, pw) && !sgt_contains(e, "not-it"), "password logged: %s", e);
	free(e);
	sgt_proc_free(p);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 'a'"), 0);

	/* The right file: the lease is taken (its fencing token is recorded). */
	const char *good[] = {env_file, "SCHEMAGATE_LEADER_REQUIRED=true", NULL};
	p = spawn_migrate("pw-right", true, good);
	rc = sgt_wait(p, 30000);
	e = sgt_stderr(p);
	redis_requirepass(c, "");
	cr_expect_eq(rc, 0, "exit %d: %s", rc, e);
	cr_expect(!sgt_contains(e, pw), "password logged: %s", e);
	free(e);
	sgt_proc_free(p);
	redis_close(c);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs "
	                               "WHERE fencing_token IS NOT NULL AND outcome = 'succeeded'"),
	             1);
}
