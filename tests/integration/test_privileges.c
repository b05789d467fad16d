/* test_privileges.c - least privilege: migrate with minimal grants; status, wait and serve with a
 * read-only role. */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <libpq-fe.h>

#include "sgt.h"
#include "sgt_http.h"

#define MIG_PW "mig-role-pw-7731"
#define RO_PW "ro-role-pw-2290"

static char *dsn, *dir, *mig_role, *ro_role, *db;

static void setup(void)
{
	sgt_require_services();
	sgt_case_open("privs", &dsn, &dir);
	mig_role = sgt_fmt("sg_mig_%ld", (long)getpid());
	ro_role = sgt_fmt("sg_ro_%ld", (long)getpid());
	db = sgt_sql_value(dsn, "SELECT current_database()");
}

static void teardown(void)
{
	if (dsn != NULL)
		sgt_drop_db(dsn);
	if (mig_role != NULL) {
		char *sql =
		    sgt_fmt("DROP ROLE IF EXISTS %s; DROP ROLE IF EXISTS %s", ro_role, mig_role);

		sgt_sql_exec(sgt_pg_dsn(), sql);
		free(sql);
	}
	sgt_rm_rf(dir);
	free(dsn);
	free(dir);
	free(mig_role);
	free(ro_role);
	free(db);
	dsn = dir = mig_role = ro_role = db = NULL;
}

TestSuite(privileges, .init = setup, .fini = teardown, .timeout = 120);

/* The test database for another role, as a keyword string. */
static char *role_dsn(const char *user, const char *password)
{
	return sgt_dsn_with(dsn, db, user, password);
}

static int run(const char *const argv[], const char *url, char **out, char **err)
{
	char *u = sgt_fmt("DATABASE_URL=%s", url), *m = sgt_fmt("MIGRATIONS_DIR=%s", dir);
	const char *env[] = {u,
	                     m,
	                     "SCHEMAGATE_CONNECT_ATTEMPTS=2",
	                     "SCHEMAGATE_CONNECT_BASE_DELAY=10ms",
	                     "SCHEMAGATE_LOG_FORMAT=text",
	                     "-DATABASE_SEARCH_PATH",
	                     "-REDIS_URL",
	                     "-SCHEMAGATE_CONFIG",
	                     "-DATABASE_PASSWORD_FILE",
	                     NULL};
	int rc = sgt_run(argv, env, out, err, 60000);

	free(u);
	free(m);
	return rc;
}

/* The grants the README documents, on this test's database. */
static void grant_minimal(void)
{
	char *sql = sgt_fmt(
	    /* migrate role: connect, create in the schema (and own what it creates) */
	    "CREATE ROLE %1$s LOGIN PASSWORD '" MIG_PW "';"
	    "REVOKE ALL ON DATABASE %3$s FROM PUBLIC;"
	    "GRANT CONNECT ON DATABASE %3$s TO %1$s;"
	    "GRANT USAGE, CREATE ON SCHEMA public TO %1$s;"
	    /* read-only role: connect and read the two history tables, nothing more */
	    "CREATE ROLE %2$s LOGIN PASSWORD '" RO_PW "';"
	    "GRANT CONNECT ON DATABASE %3$s TO %2$s;"
	    "REVOKE ALL ON SCHEMA public FROM PUBLIC;"
	    "GRANT USAGE ON SCHEMA public TO %2$s;",
	    mig_role, ro_role, db);
	PGconn *c = sgt_connect(dsn);
	PGresult *r = PQexec(c, sql);

	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
	free(sql);
}

Test(privileges, minimal_migrate_role_and_read_only_status_wait_serve)
{
	char *mig = NULL, *ro = NULL, *out = NULL, *err = NULL, *sql, *body = NULL;
	const char *migrate[] = {"schemagate", "migrate", NULL};
	const char *status[] = {"schemagate", "status", "--json", NULL};
	const char *waitv[] = {"schemagate", "wait",         "--version", "2",
	                       "--tables",   "users,orders", "--timeout", "5s",
	                       "--interval", "50ms",         NULL};
	char listen[32];
	int port = sgt_http_free_port();
	struct sgt_proc *p;

	grant_minimal();
	mig = role_dsn(mig_role, MIG_PW);
	ro = role_dsn(ro_role, RO_PW);
	sgt_write_file(dir, "000001_users.up.sql", "CREATE TABLE users (id int PRIMARY KEY);\n");
	sgt_write_file(dir, "000002_orders.up.sql",
	               "CREATE TABLE orders (id int, u int REFERENCES users);\n");

	/* 1. migrate needs no superuser: CONNECT plus USAGE, CREATE on the schema. */
	cr_assert_eq(run(migrate, mig, NULL, &err), 0, "%s", err);
	free(err);
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 2);
	out = sgt_sql_value(dsn, "SELECT tableowner FROM pg_tables WHERE tablename = "
	                         "'schemagate_migrations'");
	cr_expect_str_eq(out, mig_role);
	free(out);

	/* 2. read-only: SELECT on the two history tables, granted by their owner. */
	sql = sgt_fmt("GRANT SELECT ON schemagate_migrations, schemagate_migrations_runs TO %s",
	              ro_role);
	sgt_sql_exec(mig, sql);
	free(sql);

	cr_assert_eq(run(status, ro, &out, &err), 0, "%s", err);
	cr_expect(sgt_contains(out, "\"orders\"") || sgt_contains(out, "orders"), "%s", out);
	free(out);
	free(err);
	cr_assert_eq(run(waitv, ro, NULL, &err), 0, "%s", err);
	free(err);

	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	{
		const char *argv[] = {"schemagate",       "serve", "--dir",    dir,
		                      "--listen",         listen,  "--tables", "users,orders",
		                      "--check-interval", "100ms", NULL};
		char *u = sgt_fmt("DATABASE_URL=%s", ro);
		const char *env[] = {u,
		                     "SCHEMAGATE_LOG_FORMAT=text",
		                     "-REDIS_URL",
		                     "-DATABASE_SEARCH_PATH",
		                     "-SCHEMAGATE_CONFIG",
		                     NULL};

		p = sgt_spawn(argv, env);
		cr_assert_geq(sgt_http_wait_status(port, "/readyz", 200, 10000), 0, "stderr: %s",
		              sgt_stderr(p));
		cr_expect_eq(sgt_http_get(port, "/readyz?verbose", NULL, &body), 200, "%s", body);
		free(body);
		sgt_signal(p, SIGTERM);
		cr_expect_eq(sgt_wait(p, 20000), 0);
		sgt_proc_free(p);
		free(u);
	}

	/* 3. and it really is read-only: a pending migration is refused by the
	 * server, nothing changes. */
	sgt_write_file(dir, "000003_x.up.sql", "CREATE TABLE x (id int);\n");
	cr_expect_eq(run(migrate, ro, NULL, &err), 1, "%s", err);
	cr_expect(sgt_contains(err, "permission denied"), "%s", err);
	free(err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 2);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 'x'"), 0);
	free(mig);
	free(ro);
}
