/* test_faults.c - migrate under PostgreSQL restarts, crashes and connection limits: nothing lost,
 * nothing half-done. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "proc.h"
#include "sgt.h"

/* How many migrations a fault run generates. */
#define NMIG 200

static char *dsn;
static char *dir;
static char *role; /* a role created by a test, dropped in teardown */

static void setup(void)
{
	sgt_require_services();
	sgt_case_open("faults", &dsn, &dir);
}

static void teardown(void)
{
	/* Always leave a running server behind, whatever the test did to it:
	 * the suites after this one need it. `start` is a no-op when it runs. */
	sgt_service("pg.sh", "start");
	if (role != NULL) {
		char *sql = sgt_fmt("DROP ROLE IF EXISTS %s", role);

		if (dsn != NULL)
			sgt_drop_db(dsn);
		free(dsn);
		dsn = NULL;
		sgt_sql_exec(sgt_pg_dsn(), sql);
		free(sql);
	}
	sgt_case_close(&dsn, &dir);
	free(role);
	role = NULL;
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 600);

/* NMIG migrations, each creating table t_<version>; sleep_ms of server time
 * each stretches the run so that a fault lands in the middle of it. */
static void write_migrations(int sleep_ms)
{
	for (int v = 1; v <= NMIG; v++) {
		char name[64];
		char *sql = sgt_fmt("CREATE TABLE t_%d (id int PRIMARY KEY, v text);\n"
		                    "INSERT INTO t_%d VALUES (%d, 'x');\n"
		                    "SELECT pg_sleep(%g);\n",
		                    v, v, v, sleep_ms / 1000.0);

		snprintf(name, sizeof name, "%06d_t%d.up.sql", v, v);
		sgt_write_file(dir, name, sql);
		free(sql);
	}
}

/* The environment of a migrate on url: a short connect budget (3 attempts, 20..100 ms
 * apart) when short, else one that outlasts a server restart on a loaded machine (100
 * attempts, 50 ms doubling to 3 s: about 5 minutes; crash recovery after a SIGKILL took
 * over 95 s here with the load average at 37), extra (NULL allowed) last. */
static const char *const *migrate_env_with(const char *url, bool short_budget, const char *extra)
{
	static char u[1024], m[1024];
	static const char *env[] = {u,
	                            m,
	                            "POD_NAME=faults",
	                            NULL,
	                            NULL,
	                            NULL,
	                            "SCHEMAGATE_CONNECT_TIMEOUT=2s",
	                            "SCHEMAGATE_LOG_FORMAT=text",
	                            "-DATABASE_SEARCH_PATH",
	                            "-REDIS_URL",
	                            "-SCHEMAGATE_CONFIG",
	                            NULL,
	                            NULL};

	snprintf(u, sizeof u, "DATABASE_URL=%s", url);
	snprintf(m, sizeof m, "MIGRATIONS_DIR=%s", dir);
	env[3] = short_budget ? "SCHEMAGATE_CONNECT_ATTEMPTS=3" : "SCHEMAGATE_CONNECT_ATTEMPTS=100";
	env[4] = short_budget ? "SCHEMAGATE_CONNECT_BASE_DELAY=20ms"
	                      : "SCHEMAGATE_CONNECT_BASE_DELAY=50ms";
	env[5] =
	    short_budget ? "SCHEMAGATE_CONNECT_MAX_DELAY=100ms" : "SCHEMAGATE_CONNECT_MAX_DELAY=3s";
	env[11] = extra;
	return env;
}

static const char *const *migrate_env(const char *url)
{
	return migrate_env_with(url, true, NULL);
}

static const char *const migrate_argv[] = {"schemagate", "migrate", NULL};

/* Tables t_<n> that exist (committed). */
static long user_tables(void)
{
	return sgt_sql_long(dsn, "SELECT count(*) FROM pg_class WHERE relkind = 'r' "
	                         "AND relname ~ '^t_[0-9]+$'");
}

/* History rows whose table is missing plus tables without a history row
 * (0 when the history matches the schema exactly); also fails on dirty rows. */
static void assert_history_matches_schema(const char *when)
{
	long exists = sgt_sql_long(dsn, "SELECT count(*) FROM pg_class WHERE relname = "
	                                "'schemagate_migrations' AND relkind = 'r'");
	long tables = user_tables();

	if (exists == 0) {
		cr_assert_eq(tables, 0, "%s: %ld tables but no history table", when, tables);
		return;
	}
	cr_assert_eq(sgt_sql_long(dsn,
	                          "SELECT count(*) FROM schemagate_migrations h WHERE NOT EXISTS "
	                          "(SELECT 1 FROM pg_class c WHERE c.relkind = 'r' AND "
	                          "c.relname = 't_' || h.version)"),
	             0, "%s: recorded migrations whose table is missing", when);
	cr_assert_eq(sgt_sql_long(dsn,
	                          "SELECT count(*) FROM pg_class c WHERE c.relkind = 'r' AND "
	                          "c.relname ~ '^t_[0-9]+$' AND NOT EXISTS (SELECT 1 FROM "
	                          "schemagate_migrations h WHERE 't_' || h.version = c.relname)"),
	             0, "%s: tables created without a history row", when);
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE dirty"), 0,
	             "%s: dirty rows", when);
	/* Each table also holds its row: the migration's whole body committed. */
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), tables,
	             "%s: history rows vs tables", when);
}

/* Starts migrate, waits until at least `after` migrations are committed, then
 * runs the fault action on PostgreSQL, restarts it, and returns migrate's
 * exit code together with how many migrations had committed when the fault
 * hit. */
static int migrate_with_fault(const char *action, long after, long *at_fault, char **err_out)
{
	struct sgt_proc *p;
	long long deadline;
	int rc;

	write_migrations(10);
	p = sgt_spawn(migrate_argv, migrate_env_with(dsn, false, NULL));
	deadline = proc_now_ms() + 60000;
	while ((*at_fault = user_tables()) < after) {
		cr_assert_lt(proc_now_ms(), deadline, "migrate made no progress: %s",
		             sgt_stderr(p));
		cr_assert_eq(p->status, -1);
		sgt_sleep_ms(10);
	}
	sgt_service("pg.sh", action);
	sgt_service("pg.sh", "start");
	rc = sgt_wait(p, 420000);
	*err_out = sgt_stderr(p);
	sgt_proc_free(p);
	return rc;
}

/* A fault in the middle of 200 migrations: the same process reconnects once the server
 * is back and finishes (exit 0), in one run; the history matches the schema, a rerun has
 * nothing to do, and all 200 are there exactly once. */
static void fault_mid_run(const char *action)
{
	long at_fault = 0;
	char *err = NULL, *err2 = NULL;
	int rc = migrate_with_fault(action, 30, &at_fault, &err);

	cr_log_info("%s after %ld of %d migrations: migrate exit %d", action, at_fault, NMIG, rc);
	cr_assert_eq(rc, 0, "the process did not finish across the restart (exit %d): %s", rc, err);
	cr_assert_eq(user_tables(), NMIG);
	cr_assert(sgt_contains(err, "reconnecting"), "the fault went unnoticed: %s", err);
	cr_expect(!sgt_contains(err, getenv("SCHEMAGATE_TEST_PG_PASSWORD")), "password in stderr");
	assert_history_matches_schema("after the fault");
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs"), 1,
	             "one run, continued across the restart: %s", err);
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs WHERE "
	                               "outcome = 'succeeded' AND reached_version = 200"),
	             1);
	cr_assert_eq(sgt_run(migrate_argv, migrate_env(dsn), NULL, &err2, 120000), 0,
	             "rerun failed: %s", err2);
	assert_history_matches_schema("after the rerun");
	cr_assert_eq(user_tables(), NMIG);
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(DISTINCT version) FROM schemagate_migrations"),
	             NMIG);
	free(err);
	free(err2);
}

Test(faults, restart_fast_during_200_migrations)
{
	fault_mid_run("stop fast");
}

Test(faults, restart_immediate_during_200_migrations)
{
	fault_mid_run("stop immediate");
}

Test(faults, postmaster_sigkill_during_200_migrations)
{
	fault_mid_run("kill");
}

/* MIGRATIONS_FAIL_FAST=false is about the migration's own SQL errors: a database that
 * goes away and does not come back within the connect budget is exit 3, never the exit 0
 * of a "failed" migration. */
Test(faults, fail_fast_false_database_gone_is_exit_3_not_0)
{
	struct sgt_proc *p;
	long long deadline;
	char *err;
	long head;
	int rc;

	write_migrations(10);
	p = sgt_spawn(migrate_argv, migrate_env_with(dsn, true, "MIGRATIONS_FAIL_FAST=false"));
	deadline = proc_now_ms() + 60000;
	while (user_tables() < 30) {
		cr_assert_lt(proc_now_ms(), deadline, "migrate made no progress: %s",
		             sgt_stderr(p));
		cr_assert(!sgt_exited(p), "migrate ended early: %s", sgt_stderr(p));
		sgt_sleep_ms(10);
	}
	sgt_service("pg.sh", "stop fast");
	rc = sgt_wait(p, 120000);
	err = sgt_stderr(p);
	sgt_proc_free(p);
	sgt_service("pg.sh", "start");
	head = sgt_sql_long(dsn, "SELECT coalesce(max(version), 0) FROM schemagate_migrations");
	cr_assert(rc != 0 || head == NMIG, "exit 0 at version %ld of %d: %s", head, NMIG, err);
	cr_assert_eq(rc, 3, "exit %d: %s", rc, err);
	cr_expect(sgt_contains(err, "unreachable"), "%s", err);
	free(err);
}

/* The engine commits the intermediate migrations with synchronous_commit=off
 * and the last one plus the audit row durably: once migrate has exited 0,
 * a crash of the server loses nothing. */
Test(faults, postmaster_sigkill_right_after_success_loses_nothing)
{
	char *err = NULL;

	write_migrations(0);
	cr_assert_eq(sgt_run(migrate_argv, migrate_env(dsn), NULL, &err, 120000), 0, "%s", err);
	sgt_service("pg.sh", "kill");
	sgt_service("pg.sh", "start");
	cr_assert_eq(user_tables(), NMIG);
	assert_history_matches_schema("after the crash");
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs "
	                               "WHERE outcome = 'succeeded' AND reached_version = 200"),
	             1, "the audit row of the run is durable too");
	free(err);
}

/* A DSN for another role on the test database, as a keyword string. */
static char *role_dsn(const char *user, const char *password)
{
	return sgt_dsn_with(dsn, NULL, user, password);
}

/* The server refuses connections (here: the role's CONNECTION LIMIT is used
 * up by the test): migrate retries a bounded number of times, exits 3 and
 * says why, without the password. */
Test(faults, connection_limit_gives_bounded_retries_and_a_clear_error)
{
	static const char pw[] = "conn-limit-pw-81723";
	char *sql, *rdsn, *err = NULL;
	PGconn *holder;
	long long t0, took;
	int rc;

	role = sgt_fmt("sg_connlimit_%ld", (long)getpid());
	sql = sgt_fmt("CREATE ROLE %s LOGIN PASSWORD '%s' CONNECTION LIMIT 1", role, pw);
	sgt_sql_exec(sgt_pg_dsn(), sql);
	free(sql);
	rdsn = role_dsn(role, pw);
	holder = sgt_connect(rdsn); /* uses up the only connection the role may have */
	write_migrations(0);
	t0 = proc_now_ms();
	rc = sgt_run(migrate_argv, migrate_env(rdsn), NULL, &err, 60000);
	took = proc_now_ms() - t0;
	PQfinish(holder);
	cr_assert_eq(rc, 3, "exit %d: %s", rc, err);
	cr_expect(sgt_contains(err, "too many connections"), "stderr: %s", err);
	cr_expect(sgt_contains(err, "after 3 attempts"), "stderr: %s", err);
	cr_expect(!sgt_contains(err, pw), "the password leaked: %s", err);
	cr_expect_lt(took, 10000, "3 attempts with 20..100 ms delays took %lld ms", took);
	cr_expect_eq(user_tables(), 0);
	free(rdsn);
	free(err);
}
