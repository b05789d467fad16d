/* test_podstart.c - what every pod start pays: the no-op path's queries, and a
 * crowd of replicas on a role limited to a tenth as many connections. */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "sgt.h"

static char *dsn;
static char *dir;
static char *role; /* created by a test, dropped in teardown */

static void setup(void)
{
	sgt_require_services();
	sgt_case_open("podstart", &dsn, &dir);
}

static void teardown(void)
{
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

TestSuite(podstart, .init = setup, .fini = teardown, .timeout = 300);

static void write_set(int n)
{
	for (int i = 1; i <= n; i++) {
		char name[64], *sql;

		snprintf(name, sizeof name, "%06d_t%d.up.sql", i, i);
		sql = sgt_fmt("CREATE TABLE t%d (id int PRIMARY KEY);\n", i);
		sgt_write_file(dir, name, sql);
		free(sql);
	}
}

/* Transactions the server counted for the test database (every statement
 * outside BEGIN is one, and so is a backend's start). Read from the postgres
 * database, so the reading does not count; polled until the exited
 * backends' counters have been flushed and stay put. */
static long xacts(const char *db)
{
	/* A new connection each time: a fresh stats snapshot. */
	char *sql = sgt_fmt("SELECT xact_commit + xact_rollback FROM pg_stat_database "
	                    "WHERE datname = '%s'",
	                    db);
	long prev = -1, v = 0;

	for (int i = 0; i < 50; i++) {
		v = sgt_sql_long(sgt_pg_dsn(), sql);
		if (v == prev)
			break;
		prev = v;
		sgt_sleep_ms(200);
	}
	free(sql);
	return v;
}

static int run_noop(const char *search_path)
{
	char u[1024], m[1024], sp[256];
	const char *env[] = {u, m, sp, "-REDIS_URL", "SCHEMAGATE_LOG_FORMAT=text", NULL};
	const char *argv[] = {"schemagate", "migrate", NULL};

	snprintf(u, sizeof u, "DATABASE_URL=%s", dsn);
	snprintf(m, sizeof m, "MIGRATIONS_DIR=%s", dir);
	if (search_path != NULL)
		snprintf(sp, sizeof sp, "DATABASE_SEARCH_PATH=%s", search_path);
	else
		snprintf(sp, sizeof sp, "-DATABASE_SEARCH_PATH");
	return sgt_run(argv, env, NULL, NULL, 60000);
}

/* The no-op path costs what `psql -c 'select 1'` costs the server: the
 * backend's start and one query, with or without a search path. */
static void noop_costs_one_query(const char *search_path)
{
	long before, psql_cost, sg_cost;
	PGconn *c;
	PGresult *r;
	char *db;

	write_set(30);
	cr_assert_eq(run_noop(search_path), 0, "first migrate");
	db = sgt_sql_value(dsn, "SELECT current_database()");
	/* Autovacuum and autoanalyze of the 30 new tables count in the database's transactions
	 * too, whenever they run: each cost is the least of three tries (they only add). */
	psql_cost = sg_cost = LONG_MAX;
	for (int i = 0; i < 3; i++) {
		long cost;

		before = xacts(db);
		/* What psql -c 'select 1' does: connect, one query, disconnect. */
		c = PQconnectdb(dsn);
		cr_assert_eq(PQstatus(c), CONNECTION_OK);
		r = PQexec(c, "select 1");
		cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
		PQclear(r);
		PQfinish(c);
		cost = xacts(db) - before;
		psql_cost = cost < psql_cost ? cost : psql_cost;
		before = xacts(db);
		cr_assert_eq(run_noop(search_path), 0, "no-op migrate");
		cost = xacts(db) - before;
		sg_cost = cost < sg_cost ? cost : sg_cost;
	}
	free(db);
	cr_log_info("server transactions: connect + select 1: %ld, no-op migrate %ld", psql_cost,
	            sg_cost);
	cr_expect_geq(psql_cost, 1);
	cr_expect_leq(sg_cost, psql_cost, "the no-op migrate ran %ld transactions, psql %ld",
	              sg_cost, psql_cost);
}

Test(podstart, noop_is_one_query_beyond_connecting)
{
	noop_costs_one_query(NULL);
}

Test(podstart, noop_with_search_path_is_one_query_beyond_connecting)
{
	sgt_sql_exec(dsn, "CREATE SCHEMA app");
	noop_costs_one_query("app,public");
}

/* Replicas per rollout and the role's connection limit: ten replicas to a
 * connection. Under AddressSanitizer a process costs about ten times the CPU,
 * so that build starts a third of the crowd on a third of the connections:
 * the same crowding, at the cost of the plain build's run. */
#ifdef __SANITIZE_ADDRESS__
enum { N = 50, CONN_LIMIT = 5 };
#else
enum { N = 150, CONN_LIMIT = 15 };
#endif

/* N replicas start at once on a role that may hold CONN_LIMIT connections:
 * every one exits 0 (connection refusals are retried with backoff), each
 * migration is applied once. */
static void rollout(bool with_redis)
{
	static const char pw[] = "podstart-pw-5521";
	struct sgt_proc **p = calloc(N, sizeof *p);
	char *sql, *rdsn, u[1024], m[1024], r[512];
	const char *env[] = {u,
	                     m,
	                     with_redis ? r : "-REDIS_URL",
	                     "-DATABASE_SEARCH_PATH",
	                     "SCHEMAGATE_LOG_FORMAT=text",
	                     "SCHEMAGATE_CONNECT_ATTEMPTS=60",
	                     "SCHEMAGATE_CONNECT_BASE_DELAY=100ms",
	                     "SCHEMAGATE_CONNECT_MAX_DELAY=2s",
	                     "SCHEMAGATE_FOLLOWER_POLL=200ms",
	                     NULL};
	const char *argv[] = {"schemagate", "migrate", NULL};
	int failed = 0;

	cr_assert_not_null(p);
	role = sgt_fmt("sg_podstart_%ld", (long)getpid());
	sql = sgt_fmt("CREATE ROLE %s LOGIN PASSWORD '%s' CONNECTION LIMIT %d; "
	              "GRANT ALL ON SCHEMA public TO %s",
	              role, pw, (int)CONN_LIMIT, role);
	sgt_sql_exec(dsn, sql);
	free(sql);
	rdsn = sgt_dsn_with(dsn, NULL, role, pw);
	write_set(3);
	snprintf(u, sizeof u, "DATABASE_URL=%s", rdsn);
	snprintf(m, sizeof m, "MIGRATIONS_DIR=%s", dir);
	snprintf(r, sizeof r, "REDIS_URL=%s", sgt_redis_url());
	for (int i = 0; i < N; i++)
		p[i] = sgt_spawn(argv, env);
	for (int i = 0; i < N; i++) {
		int rc = sgt_wait(p[i], 240000);

		if (rc != 0) {
			char *e = sgt_stderr(p[i]);

			if (failed++ < 3)
				cr_log_error("replica %d exited %d: %.2000s", i, rc, e);
			free(e);
		}
		sgt_proc_free(p[i]);
	}
	cr_expect_eq(failed, 0, "%d of %d replicas failed", failed, N);
	cr_expect_eq(
	    sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE NOT dirty"), 3);
	free(rdsn);
	free(p);
}

Test(podstart, ten_replicas_to_each_connection)
{
	rollout(false);
}

Test(podstart, ten_replicas_to_each_connection_with_redis)
{
	rollout(true);
}
