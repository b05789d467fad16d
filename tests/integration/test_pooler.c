/* test_pooler.c - migrate behind a real PgBouncer (transaction and session mode), and
 * lock_timeout with real concurrent application queries. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "proc.h"
#include "lock.h"
#include "sgt.h"
#include "sgt_http.h"

static char *dsn; /* direct */
static char *dir;

static void setup(void)
{
	sgt_require_services();
	if (getenv("SCHEMAGATE_TEST_PGB_TX_PORT") == NULL ||
	    getenv("SCHEMAGATE_TEST_PGB_SESSION_PORT") == NULL)
		cr_skip_test(
		    "SCHEMAGATE_TEST_PGB_*_PORT not set (ci/services.sh starts PgBouncer)");
	sgt_case_open("pool", &dsn, &dir);
}

static void teardown(void)
{
	sgt_case_close(&dsn, &dir);
}

TestSuite(pooler, .init = setup, .fini = teardown, .timeout = 180);

/* The test database through the PgBouncer whose port is in port_env. */
static char *pooled(const char *port_env)
{
	PQconninfoOption *o = PQconninfoParse(dsn, NULL), *p;
	const char *db = NULL;
	char *out;

	cr_assert_not_null(o);
	for (p = o; p->keyword != NULL; p++)
		if (strcmp(p->keyword, "dbname") == 0)
			db = p->val;
	cr_assert_not_null(db);
	out = sgt_fmt("host=127.0.0.1 port=%s dbname=%s user=sgtest password=%s sslmode=disable",
	              getenv(port_env), db, getenv("SCHEMAGATE_TEST_PG_PASSWORD"));
	PQconninfoFree(o);
	return out;
}

/* Starts `schemagate <command>` against url (and direct as DATABASE_DIRECT_URL, NULL: none)
 * with extra variables. */
static struct sgt_proc *spawn_command(const char *command, const char *url, const char *direct,
                                      const char *pod, const char *const *extra)
{
	char u[1024], d[1024], m[1024], n[64];
	const char *env[16] = {
	    u, m, n, "SCHEMAGATE_LOG_FORMAT=text", "SCHEMAGATE_CONNECT_ATTEMPTS=5",
	    "SCHEMAGATE_CONNECT_BASE_DELAY=50ms", "-REDIS_URL", "-DATABASE_SEARCH_PATH",
	    /* the cases seed tables before the first migration on purpose
	     * (rows to lock, a ledger of applications) */
	    "MIGRATIONS_ALLOW_NON_EMPTY=true"};
	size_t k = 9;
	const char *argv[] = {"schemagate", command, NULL};

	snprintf(u, sizeof u, "DATABASE_URL=%s", url);
	snprintf(m, sizeof m, "MIGRATIONS_DIR=%s", dir);
	snprintf(n, sizeof n, "POD_NAME=%s", pod);
	if (direct != NULL) {
		snprintf(d, sizeof d, "DATABASE_DIRECT_URL=%s", direct);
		env[k++] = d;
	} else {
		env[k++] = "-DATABASE_DIRECT_URL";
	}
	for (; extra != NULL && *extra != NULL && k < 15; extra++)
		env[k++] = *extra;
	env[k] = NULL;
	return sgt_spawn(argv, env);
}

static struct sgt_proc *spawn_migrate(const char *url, const char *direct, const char *pod,
                                      const char *const *extra)
{
	return spawn_command("migrate", url, direct, pod, extra);
}

/* One `schemagate migrate` as pod "pod", waited for: its exit code, *errout its stderr. */
static int migrate_once(const char *url, const char *direct, char **errout)
{
	struct sgt_proc *p = spawn_migrate(url, direct, "pod", NULL);
	int rc = sgt_wait(p, 60000);

	*errout = sgt_stderr(p);
	sgt_proc_free(p);
	return rc;
}

/* Twenty migrations; each records its version in `applied` (a version seen
 * twice = applied twice) and creates a table (a second CREATE would fail). */
static void write_counted_set(void)
{
	sgt_sql_exec(dsn, "CREATE TABLE applied (v int)");
	for (int i = 1; i <= 20; i++) {
		char name[64], *sql;

		snprintf(name, sizeof name, "%06d_t%d.up.sql", i, i);
		sql = sgt_fmt(
		    "CREATE TABLE t%d (id int PRIMARY KEY);\nINSERT INTO applied VALUES (%d);\n"
		    "SELECT pg_sleep(0.01);\n",
		    i, i);
		sgt_write_file(dir, name, sql);
		free(sql);
	}
}

static void race(const char *port_env, int n, const char *const *extra)
{
	char *url = pooled(port_env);
	struct sgt_proc *p[10];

	cr_assert(n <= 10);
	write_counted_set();
	for (int i = 0; i < n; i++) {
		char pod[32];

		snprintf(pod, sizeof pod, "racer-%d", i);
		p[i] = spawn_migrate(url, NULL, pod, extra);
	}
	for (int i = 0; i < n; i++) {
		int rc = sgt_wait(p[i], 120000);
		char *e = sgt_stderr(p[i]);

		cr_expect_eq(rc, 0, "racer %d exited %d: %s", i, rc, e);
		free(e);
		sgt_proc_free(p[i]);
	}
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM applied"), 20,
	             "each version ran once");
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(DISTINCT v) FROM applied"), 20);
	cr_expect_eq(
	    sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE NOT dirty"), 20);
	free(url);
}

Test(pooler, ten_racers_through_transaction_pooler_apply_each_once)
{
	race("SCHEMAGATE_TEST_PGB_TX_PORT", 10, NULL);
}

Test(pooler, ten_racers_through_session_pooler_apply_each_once)
{
	race("SCHEMAGATE_TEST_PGB_SESSION_PORT", 10, NULL);
}

Test(pooler, ten_racers_through_transaction_pooler_with_redis)
{
	char r[512];
	const char *extra[] = {r, NULL};

	snprintf(r, sizeof r, "REDIS_URL=%s", sgt_redis_url());
	race("SCHEMAGATE_TEST_PGB_TX_PORT", 10, extra);
}

Test(pooler, no_transaction_file_refused_through_pooler_without_direct_url)
{
	char *url = pooled("SCHEMAGATE_TEST_PGB_TX_PORT");
	char *e;
	int rc;

	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	sgt_write_file(dir, "000002_idx.up.sql",
	               "-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n");
	rc = migrate_once(url, NULL, &e);
	cr_expect_neq(rc, 0, "stderr: %s", e);
	cr_expect(sgt_contains(e, "000002_idx.up.sql") && sgt_contains(e, "pooler") &&
	              sgt_contains(e, "DATABASE_DIRECT_URL"),
	          "stderr: %s", e);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 'a'"), 0,
	             "refused before anything ran");
	free(e);

	/* With a direct URL, the same files go through. */
	rc = migrate_once(url, dsn, &e);
	cr_expect_eq(rc, 0, "stderr: %s", e);
	cr_expect(sgt_contains(e, "DATABASE_DIRECT_URL"), "stderr: %s", e);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_indexes WHERE indexname = 'a_id'"),
	             1);
	free(e);
	free(url);
}

Test(pooler, status_works_through_transaction_pooler)
{
	char *url = pooled("SCHEMAGATE_TEST_PGB_TX_PORT"), *out = NULL, u[1024], m[1024];
	const char *env[] = {u, m, "-DATABASE_SEARCH_PATH", NULL};
	const char *st[] = {"schemagate", "status", NULL};
	struct sgt_proc *p;

	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	p = spawn_migrate(url, NULL, "pod", NULL);
	cr_assert_eq(sgt_wait(p, 60000), 0);
	sgt_proc_free(p);
	snprintf(u, sizeof u, "DATABASE_URL=%s", url);
	snprintf(m, sizeof m, "MIGRATIONS_DIR=%s", dir);
	cr_expect_eq(sgt_run(st, env, &out, NULL, 30000), 0);
	cr_expect(sgt_contains(out, "000001") || sgt_contains(out, "1"), "status: %s", out);
	free(out);
	free(url);
}

/* A pooler may give a database a name of its own (ci/pgbouncer.sh: sg_alias leads to
 * sg_alias_target). The lock key hashed the name asked for (PQdb): through the alias a pooled
 * migrate took another lock than a direct one, and ran while the direct one held the lock;
 * status through the alias showed the lock free. The key now hashes current_database(). */
Test(pooler, a_pooler_alias_gets_the_same_lock_as_a_direct_connection)
{
	static const char target[] = "sg_alias_target";
	char *direct, *alias, *out = NULL, *e = NULL, u[1024], m[1024], sql[128];
	const char *env[] = {u, m, "-DATABASE_SEARCH_PATH", "SCHEMAGATE_LOCK_TIMEOUT=1s", NULL};
	const char *st[] = {"schemagate", "status", "--json", NULL};
	const char *mi[] = {"schemagate", "migrate", NULL};
	PGconn *holder;
	int rc;

	sgt_sql_exec(dsn, "DROP DATABASE IF EXISTS sg_alias_target");
	sgt_sql_exec(dsn, "CREATE DATABASE sg_alias_target");
	direct = sgt_dsn_with(dsn, target, NULL, getenv("SCHEMAGATE_TEST_PG_PASSWORD"));
	alias =
	    sgt_fmt("host=127.0.0.1 port=%s dbname=sg_alias user=sgtest password=%s "
	            "sslmode=disable",
	            getenv("SCHEMAGATE_TEST_PGB_TX_PORT"), getenv("SCHEMAGATE_TEST_PG_PASSWORD"));
	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	holder = sgt_connect(direct);
	snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%lld)",
	         (long long)lock_key(target, "public", "schemagate_migrations"));
	PQclear(PQexec(holder, sql));
	snprintf(u, sizeof u, "DATABASE_URL=%s", alias);
	snprintf(m, sizeof m, "MIGRATIONS_DIR=%s", dir);
	rc = sgt_run(mi, env, NULL, &e, 60000);
	cr_expect_eq(rc, 4, "migrate through the alias ran while the lock was held: %s", e);
	cr_expect_eq(sgt_sql_long(direct, "SELECT count(*) FROM pg_tables WHERE tablename = 'a'"),
	             0);
	rc = sgt_run(st, env, &out, NULL, 30000);
	cr_expect(sgt_contains(out, "\"held\":true") || sgt_contains(out, "\"held\": true"),
	          "status through the alias: %s", out);
	PQfinish(holder);
	free(out);
	free(e);
	free(alias);
	free(direct);
	sgt_sql_exec(dsn, "DROP DATABASE sg_alias_target WITH (FORCE)");
}

/* ---- lock_timeout against a long reader and live application queries ----- */

struct app {
	const char *conninfo;
	const char *sql; /* the application's query (NULL: one on `hot`) */
	atomic_bool stop;
	atomic_bool unmeasured; /* queries run, but max_wait_ms and queries do not count them */
	long max_wait_ms;       /* longest single query, written by the thread */
	long queries;
	char error[256];
};

/* The application: one query (on `hot` unless told) every 20 ms, timing each. */
static void *app_loop(void *arg)
{
	struct app *a = arg;
	PGconn *c = PQconnectdb(a->conninfo);

	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(a->error, sizeof a->error, "%s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	while (!atomic_load(&a->stop)) {
		long long t0 = proc_now_ms();
		PGresult *r = PQexec(c, a->sql != NULL ? a->sql : "SELECT count(*) FROM hot");
		long w = (long)(proc_now_ms() - t0);

		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			snprintf(a->error, sizeof a->error, "%s", PQerrorMessage(c));
		PQclear(r);
		if (atomic_load(&a->unmeasured)) {
			sgt_sleep_ms(20);
			continue;
		}
		if (w > a->max_wait_ms)
			a->max_wait_ms = w;
		a->queries++;
		sgt_sleep_ms(20);
	}
	PQfinish(c);
	return NULL;
}

/* A reader holds `hot` for 3 s; the ALTER of command ("migrate" runs the up file, "down" the
 * down file) must give way (lock_timeout 300ms) and retry, so application queries never queue
 * behind it for long; and the command succeeds once the reader is gone. */
static void lock_timeout_case_of(const char *command, const char *url, const char *const *extra)
{
	struct app a = {.conninfo = url};
	bool down = strcmp(command, "down") == 0;
	pthread_t t;
	PGconn *reader;
	PGresult *r;
	struct sgt_proc *p;
	char *e;
	int rc;

	sgt_sql_exec(dsn, "CREATE TABLE hot (id int); INSERT INTO hot VALUES (1)");
	sgt_write_file(dir, "000001_hot.up.sql", "ALTER TABLE hot ADD COLUMN c int;\n");
	if (down) {
		sgt_write_file(dir, "000001_hot.down.sql", "ALTER TABLE hot DROP COLUMN c;\n");
		rc = migrate_once(dsn, NULL, &e);
		cr_assert_eq(rc, 0, "stderr: %s", e);
		free(e);
	}
	reader = PQconnectdb(dsn);
	cr_assert_eq(PQstatus(reader), CONNECTION_OK);
	r = PQexec(reader, "BEGIN; SELECT count(*) FROM hot");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	PQclear(r);
	cr_assert_eq(pthread_create(&t, NULL, app_loop, &a), 0);
	p = spawn_command(command, url, NULL, "pod", extra);
	sgt_sleep_ms(3000); /* the long reader's transaction */
	r = PQexec(reader, "COMMIT");
	PQclear(r);
	rc = sgt_wait(p, 60000);
	atomic_store(&a.stop, true);
	pthread_join(t, NULL);
	e = sgt_stderr(p);
	cr_expect_eq(rc, 0, "stderr: %s", e);
	cr_expect(sgt_contains(e, "lock_timeout expired: rolled back, will retry"), "stderr: %s",
	          e);
	cr_expect_eq(a.error[0], '\0', "application query failed: %s", a.error);
	cr_expect_gt(a.queries, 20);
	/* 300 ms lock_timeout plus a generous margin for a loaded machine; without
	 * the timeout, queries wait the reader's full 3 s. */
	cr_expect_lt(a.max_wait_ms, 1500, "an application query waited %ld ms", a.max_wait_ms);
	cr_log_info("%s, lock_timeout 300ms: longest application query %ld ms over %ld queries",
	            command, a.max_wait_ms, a.queries);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM information_schema.columns WHERE "
	                               "table_name = 'hot' AND column_name = 'c'"),
	             down ? 0 : 1);
	free(e);
	sgt_proc_free(p);
	PQfinish(reader);
}

static void lock_timeout_case(const char *url, const char *const *extra)
{
	lock_timeout_case_of("migrate", url, extra);
}

static const char *const short_lock[] = {"MIGRATIONS_LOCK_TIMEOUT=300ms",
                                         "MIGRATIONS_LOCK_RETRIES=100", NULL};

Test(pooler, lock_timeout_through_transaction_pooler_keeps_app_queries_short)
{
	char *url = pooled("SCHEMAGATE_TEST_PGB_TX_PORT");

	lock_timeout_case(url, short_lock);
	free(url);
}

Test(pooler, lock_timeout_through_session_pooler_keeps_app_queries_short)
{
	char *url = pooled("SCHEMAGATE_TEST_PGB_SESSION_PORT");

	lock_timeout_case(url, short_lock);
	free(url);
}

Test(pooler, lock_timeout_direct_keeps_app_queries_short)
{
	lock_timeout_case(dsn, short_lock);
}

/* down has migrate's guardrails: its ALTER gives way to the reader too (before, an application
 * query waited behind it for the reader's whole transaction). */
Test(pooler, lock_timeout_in_down_keeps_app_queries_short)
{
	lock_timeout_case_of("down", dsn, short_lock);
}

/* The per-file directive wins: this migration waits for the reader. */
Test(pooler, lock_timeout_directive_waits_for_the_reader)
{
	PGconn *reader = PQconnectdb(dsn);
	PGresult *r;
	struct sgt_proc *p;
	char *e;
	int rc;

	sgt_sql_exec(dsn, "CREATE TABLE hot (id int)");
	sgt_write_file(dir, "000001_hot.up.sql",
	               "-- schemagate:lock-timeout=0\nALTER TABLE hot ADD COLUMN c int;\n");
	cr_assert_eq(PQstatus(reader), CONNECTION_OK);
	r = PQexec(reader, "BEGIN; SELECT count(*) FROM hot");
	PQclear(r);
	p = spawn_migrate(dsn, NULL, "pod", short_lock);
	/* Commits once the ALTER waits on the reader's lock (the case under test), however
	 * slowly the process got there. */
	for (int i = 0; i < 1200 && !sgt_exited(p); i++) {
		if (sgt_sql_long(dsn, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
		                      "current_database() AND wait_event_type = 'Lock'") > 0)
			break;
		sgt_sleep_ms(50);
	}
	sgt_sleep_ms(600); /* twice short_lock's lock timeout */
	r = PQexec(reader, "COMMIT");
	PQclear(r);
	rc = sgt_wait(p, 60000);
	e = sgt_stderr(p);
	cr_expect_eq(rc, 0, "stderr: %s", e);
	cr_expect(!sgt_contains(e, "will retry"), "no retry with lock-timeout=0: %s", e);
	free(e);
	sgt_proc_free(p);
	PQfinish(reader);
}

/* Retries run out: the migration fails, rolled back, nothing recorded. */
Test(pooler, lock_timeout_retries_exhausted_fail_cleanly)
{
	const char *extra[] = {"MIGRATIONS_LOCK_TIMEOUT=100ms", "MIGRATIONS_LOCK_RETRIES=2", NULL};
	PGconn *reader = PQconnectdb(dsn);
	PGresult *r;
	struct sgt_proc *p;
	char *e;
	int rc;

	sgt_sql_exec(dsn, "CREATE TABLE hot (id int)");
	sgt_write_file(dir, "000001_hot.up.sql", "ALTER TABLE hot ADD COLUMN c int;\n");
	r = PQexec(reader, "BEGIN; SELECT count(*) FROM hot");
	PQclear(r);
	p = spawn_migrate(dsn, NULL, "pod", extra);
	rc = sgt_wait(p, 60000);
	e = sgt_stderr(p);
	cr_expect_neq(rc, 0, "stderr: %s", e);
	cr_expect(sgt_contains(e, "3 attempts") && sgt_contains(e, "MIGRATIONS_LOCK_RETRIES=2"),
	          "stderr: %s", e);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 0);
	free(e);
	sgt_proc_free(p);
	r = PQexec(reader, "COMMIT");
	PQclear(r);
	PQfinish(reader);
}

/* A no-transaction statement that times out is retried by itself. */
Test(pooler, no_transaction_statement_retried_after_lock_timeout)
{
	PGconn *reader = PQconnectdb(dsn);
	PGresult *r;
	struct sgt_proc *p;
	char *e;
	int rc;

	sgt_sql_exec(dsn, "CREATE TABLE hot (id int)");
	sgt_write_file(dir, "000001_hot.up.sql",
	               "-- schemagate:no-transaction\nCREATE TABLE other (id int);\n"
	               "ALTER TABLE hot ADD COLUMN c int;\n");
	r = PQexec(reader, "BEGIN; SELECT count(*) FROM hot");
	PQclear(r);
	p = spawn_migrate(dsn, NULL, "pod", short_lock);
	/* The reader commits once the ALTER has timed out at least once, however slowly the
	 * process got there (no fixed sleep: under load it started after one had ended). */
	for (int i = 0; i < 1200; i++) {
		bool retried;

		e = sgt_stderr(p);
		retried = sgt_contains(e, "what=statement");
		free(e);
		if (retried || sgt_exited(p))
			break;
		sgt_sleep_ms(50);
	}
	r = PQexec(reader, "COMMIT");
	PQclear(r);
	rc = sgt_wait(p, 60000);
	e = sgt_stderr(p);
	cr_expect_eq(rc, 0, "stderr: %s", e);
	cr_expect(sgt_contains(e, "what=statement"), "stderr: %s", e);
	cr_expect_eq(
	    sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE NOT dirty"), 1);
	free(e);
	sgt_proc_free(p);
	PQfinish(reader);
}

/* wait through the pooler does not LISTEN (the LISTEN would stay in the
 * pool): it polls, and sees the version a migrate applies meanwhile. */
Test(pooler, wait_through_transaction_pooler_polls)
{
	char *url = pooled("SCHEMAGATE_TEST_PGB_TX_PORT"), u[1024];
	const char *env[] = {u, "SCHEMAGATE_LOG_FORMAT=text", "-DATABASE_SEARCH_PATH", NULL};
	const char *argv[] = {"schemagate", "wait",      "--version", "1", "--interval",
	                      "100ms",      "--timeout", "60s",       NULL};
	struct sgt_proc *w, *p;
	char *e;
	int rc;

	snprintf(u, sizeof u, "DATABASE_URL=%s", url);
	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	w = sgt_spawn(argv, env);
	p = spawn_migrate(url, NULL, "pod", NULL);
	cr_assert_eq(sgt_wait(p, 60000), 0);
	rc = sgt_wait(w, 60000);
	e = sgt_stderr(w);
	cr_expect_eq(rc, 0, "wait: %s", e);
	cr_expect(sgt_contains(e, "connected through a pooler"), "wait: %s", e);
	free(e);
	sgt_proc_free(w);
	sgt_proc_free(p);
	free(url);
}

/* The sidecar through the pooler: not ready before the migration, ready
 * after it (its checks are single statements; it polls). */
Test(pooler, serve_through_transaction_pooler_turns_ready)
{
	char *url = pooled("SCHEMAGATE_TEST_PGB_TX_PORT");
	int port = sgt_http_free_port();
	const char *extra[] = {"--dir", dir, "--expect-version", "1", NULL};
	struct sgt_proc *srv, *p;

	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	srv = sgt_serve_start(url, port, extra);
	cr_expect_geq(sgt_http_wait_status(port, "/readyz", 503, 10000), 0);
	p = spawn_migrate(url, NULL, "pod", NULL);
	cr_assert_eq(sgt_wait(p, 60000), 0);
	cr_expect_geq(sgt_http_wait_status(port, "/readyz", 200, 15000), 0);
	sgt_signal(srv, SIGTERM);
	sgt_wait(srv, 15000);
	char *e = sgt_stderr(srv);
	cr_expect(sgt_contains(e, "connected through a pooler"), "serve: %s", e);
	free(e);
	sgt_proc_free(srv);
	sgt_proc_free(p);
	free(url);
}

/* down changes the history under the session lock: through the pooler it
 * needs DATABASE_DIRECT_URL, and works with it. */
Test(pooler, down_through_pooler_needs_direct_url)
{
	char *url = pooled("SCHEMAGATE_TEST_PGB_TX_PORT"), *e = NULL, u[1024], m[1024], d[1024];
	const char *env[] = {u,   m, "-DATABASE_SEARCH_PATH", "-REDIS_URL", "-DATABASE_DIRECT_URL",
	                     NULL};
	const char *env_direct[] = {u, m, d, "-DATABASE_SEARCH_PATH", "-REDIS_URL", NULL};
	const char *argv[] = {"schemagate", "down", NULL};
	struct sgt_proc *p;

	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	sgt_write_file(dir, "000001_a.down.sql", "DROP TABLE a;\n");
	p = spawn_migrate(url, NULL, "pod", NULL);
	cr_assert_eq(sgt_wait(p, 60000), 0);
	sgt_proc_free(p);
	snprintf(u, sizeof u, "DATABASE_URL=%s", url);
	snprintf(m, sizeof m, "MIGRATIONS_DIR=%s", dir);
	snprintf(d, sizeof d, "DATABASE_DIRECT_URL=%s", dsn);
	cr_expect_eq(sgt_run(argv, env, NULL, &e, 30000), 2, "stderr: %s", e);
	cr_expect(sgt_contains(e, "pooler") && sgt_contains(e, "DATABASE_DIRECT_URL"), "stderr: %s",
	          e);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 1);
	free(e);
	e = NULL;
	cr_expect_eq(sgt_run(argv, env_direct, NULL, &e, 30000), 0, "stderr: %s", e);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 0);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 'a'"), 0);
	free(e);
	free(url);
}

/* DATABASE_DIRECT_URL only bypasses the pooler: one that reaches another database is refused
 * before anything is written to either (it used to migrate the other database, and the pods
 * reading DATABASE_URL never became ready). */
Test(pooler, a_direct_url_to_another_database_is_refused)
{
	char *url = pooled("SCHEMAGATE_TEST_PGB_TX_PORT"), *other = sgt_fresh_db("poolother"), *e;
	int rc;

	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	sgt_write_file(dir, "000002_b.up.sql",
	               "-- schemagate:no-transaction\nCREATE TABLE b (id int);\n");
	rc = migrate_once(url, other, &e);
	cr_expect_eq(rc, 2, "exit %d: %s", rc, e);
	cr_expect(sgt_contains(e, "DATABASE_DIRECT_URL reaches database") &&
	              sgt_contains(e, "nothing was changed"),
	          "stderr: %s", e);
	cr_expect(!sgt_contains(e, getenv("SCHEMAGATE_TEST_PG_PASSWORD")), "stderr: %s", e);
	cr_expect_eq(sgt_sql_long(other, "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN "
	                                 "('pg_catalog', 'information_schema')"),
	             0, "the other database was written to");
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename IN ('a', "
	                               "'b')"),
	             0);
	free(e);
	/* The same database by another URL (the direct one) is accepted. */
	rc = migrate_once(url, dsn, &e);
	cr_expect_eq(rc, 0, "exit %d: %s", rc, e);
	free(e);
	sgt_drop_db(other);
	free(other);
	free(url);
}

/* A command with a search path, through the pooler, leaves nothing in the
 * pool: the next client still has the server's default search_path. */
Test(pooler, search_path_does_not_leak_into_the_pool)
{
	char *url = pooled("SCHEMAGATE_TEST_PGB_TX_PORT"), u[1024], m[1024];
	const char *env[] = {u, m, "DATABASE_SEARCH_PATH=leaky_schema", "-REDIS_URL", NULL};
	const char *st[] = {"schemagate", "status", NULL};

	sgt_sql_exec(dsn, "CREATE SCHEMA leaky_schema");
	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	snprintf(u, sizeof u, "DATABASE_URL=%s", url);
	snprintf(m, sizeof m, "MIGRATIONS_DIR=%s", dir);
	cr_expect_eq(sgt_run(st, env, NULL, NULL, 30000), 0);
	for (int i = 0; i < 5; i++) {
		char *sp = sgt_sql_value(url, "SHOW search_path");

		cr_expect(!sgt_contains(sp, "leaky_schema"), "the pool kept search_path = %s", sp);
		free(sp);
	}
	free(url);
}

/* Through a transaction pooler, a pg_dump-made file that sets the search path to '' at
 * session level (issue 23) neither breaks the next file, on whichever server connection it
 * lands, nor leaves the setting with a server connection of the pool for its other clients. */
Test(pooler, a_files_session_settings_reach_neither_the_next_file_nor_the_pool)
{
	char *url = pooled("SCHEMAGATE_TEST_PGB_TX_PORT");
	char *e;
	int rc;

	sgt_write_file(dir, "000001_dump.up.sql",
	               "SELECT pg_catalog.set_config('search_path', '', false);\n"
	               "CREATE TABLE public.a (id int);\n");
	sgt_write_file(dir, "000002_b.up.sql", "CREATE TABLE b (id int);\n");
	rc = migrate_once(url, NULL, &e);
	cr_expect_eq(rc, 0, "stderr: %s", e);
	free(e);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
	                               "AND tablename IN ('a', 'b')"),
	             2);
	for (int i = 0; i < 5; i++) {
		char *sp = sgt_sql_value(url, "SHOW search_path");

		cr_expect(sp != NULL && strcmp(sp, "\"\"") != 0, "the pool kept search_path = %s",
		          sp);
		free(sp);
	}
	free(url);
}

/* ---- waiting replicas and the application's share of a transaction pool ----- */

/* Established TCP connections to 127.0.0.1:port (clients of the PgBouncer on that port). */
static int clients_of(int port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512];
	int n = 0;

	cr_assert_not_null(f);
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned rport = 0, st = 0;

		if (sscanf(line, " %*d: %*x:%*x %*x:%x %x", &rport, &st) == 2 &&
		    (int)rport == port && st == 1)
			n++;
	}
	fclose(f);
	return n;
}

/* 25 replicas without Redis behind a transaction pool of 20 (ci/pgbouncer.sh's
 * default_pool_size) wait for the migration lock, held for 4 s (as by a leader in a long
 * migration): while they wait they must not hold a server connection, or the pool is theirs and
 * the application's `SELECT 1` waits for the lock. Before, each waiter sat in
 * pg_advisory_xact_lock inside a transaction: the application's query waited about the whole
 * 4 s. The bound is half of it, measured once every replica is connected. */
Test(pooler, waiting_replicas_leave_the_transaction_pool_to_the_application, .timeout = 240)
{
	enum { REPLICAS = 25, HELD_MS = 4000 };
	char *url = pooled("SCHEMAGATE_TEST_PGB_TX_PORT");
	char *db = sgt_sql_value(dsn, "SELECT current_database()");
	struct app a = {.conninfo = url, .sql = "SELECT 1", .unmeasured = true};
	int port = atoi(getenv("SCHEMAGATE_TEST_PGB_TX_PORT")), connected = 0;
	struct sgt_proc *p[REPLICAS];
	PGconn *holder;
	pthread_t t;
	char sql[128];

	/* The history exists: every replica goes straight for the lock. */
	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	p[0] = spawn_migrate(dsn, NULL, "first", NULL);
	cr_assert_eq(sgt_wait(p[0], 60000), 0);
	sgt_proc_free(p[0]);
	sgt_write_file(dir, "000002_b.up.sql", "CREATE TABLE b (id int);\n");
	holder = sgt_connect(dsn);
	snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%lld)",
	         (long long)lock_key(db, "public", "schemagate_migrations"));
	PQclear(PQexec(holder, sql));
	cr_assert_eq(pthread_create(&t, NULL, app_loop, &a), 0);
	for (int i = 0; i < REPLICAS; i++) {
		char pod[32];

		snprintf(pod, sizeof pod, "replica-%d", i);
		p[i] = spawn_migrate(url, NULL, pod, NULL);
	}
	for (int i = 0; i < 3000 && (connected = clients_of(port)) < REPLICAS + 1; i++)
		sgt_sleep_ms(20);
	cr_expect_geq(connected, REPLICAS + 1, "only %d clients reached PgBouncer", connected);
	atomic_store(&a.unmeasured, false);
	sgt_sleep_ms(HELD_MS);
	PQfinish(holder);
	for (int i = 0; i < REPLICAS; i++) {
		int rc = sgt_wait(p[i], 180000);
		char *e = sgt_stderr(p[i]);

		cr_expect_eq(rc, 0, "replica %d exited %d: %s", i, rc, e);
		free(e);
		sgt_proc_free(p[i]);
	}
	atomic_store(&a.stop, true);
	pthread_join(t, NULL);
	cr_expect_eq(a.error[0], '\0', "application query failed: %s", a.error);
	cr_expect_eq(
	    sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE NOT dirty"), 2);
	cr_expect_lt(a.max_wait_ms, HELD_MS / 2,
	             "the application's SELECT 1 waited %ld ms behind %d waiting replicas",
	             a.max_wait_ms, REPLICAS);
	cr_log_info(
	    "%d replicas waiting %d ms, transaction pool of 20: longest SELECT 1 %ld ms over "
	    "%ld queries",
	    REPLICAS, HELD_MS, a.max_wait_ms, a.queries);
	free(db);
	free(url);
}
