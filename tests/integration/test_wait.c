/* test_wait.c - `schemagate wait`: tables appearing, version reached, timeouts, quoting. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "config.h"
#include "db.h"
#include "notify.h"
#include "proc.h"
#include "sgt.h"

static char *dsn;
static char *dir;

static void setup(void)
{
	sgt_require_services();
	sgt_case_open("wait", &dsn, &dir);
}

static void teardown(void)
{
	sgt_case_close(&dsn, &dir);
}

TestSuite(wait, .init = setup, .fini = teardown, .timeout = 60);

static struct sgt_proc *spawn_wait(const char *const *args)
{
	static char url[1024], mdir[1024];
	const char *argv[16] = {"schemagate", "wait"};
	const char *env[] = {url,
	                     mdir,
	                     "-DATABASE_SEARCH_PATH",
	                     "-REDIS_URL",
	                     "SCHEMAGATE_LOG_FORMAT=text",
	                     "SCHEMAGATE_CONNECT_ATTEMPTS=3",
	                     "SCHEMAGATE_CONNECT_BASE_DELAY=50ms",
	                     NULL};
	size_t n = 2;

	snprintf(url, sizeof url, "DATABASE_URL=%s", dsn);
	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s", dir);
	for (size_t i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return sgt_spawn(argv, env);
}

/* Polls a child's stderr (20 ms steps) until it contains text. */
static void wait_for_log(struct sgt_proc *p, const char *text, long timeout_ms)
{
	long long end = proc_now_ms() + timeout_ms;

	for (;;) {
		char *e = sgt_stderr(p);

		if (sgt_contains(e, text)) {
			free(e);
			return;
		}
		if (proc_now_ms() > end)
			cr_assert_fail("\"%s\" never logged; stderr: %s", text, e);
		free(e);
		sgt_sleep_ms(20);
	}
}

Test(wait, returns_zero_once_the_tables_appear_and_logs_what_is_missing)
{
	const char *args[] = {"--tables",   "a, mcp.b", "--timeout", "30s",
	                      "--interval", "50ms",     NULL};
	struct sgt_proc *p = spawn_wait(args);

	wait_for_log(p, "a,mcp.b", 10000);
	sgt_sql_exec(dsn, "CREATE TABLE a (id int)");
	wait_for_log(p, "missing_tables=mcp.b", 10000);
	cr_expect_eq(p->status, -1, "wait must still run while mcp.b is missing");
	sgt_sql_exec(dsn, "CREATE SCHEMA mcp; CREATE TABLE mcp.b (id int)");
	int rc = sgt_wait(p, 10000);
	char *e = sgt_stderr(p);
	cr_expect_eq(rc, 0, "exit %d: %s", rc, e);
	free(e);
	sgt_proc_free(p);
}

Test(wait, times_out_with_exit_4_naming_the_missing_tables)
{
	const char *args[] = {
	    "--tables", "present,absent_one", "--timeout", "300ms", "--interval", "50ms", NULL};
	char *e;

	sgt_sql_exec(dsn, "CREATE TABLE present (id int)");
	struct sgt_proc *p = spawn_wait(args);
	int rc = sgt_wait(p, 10000);
	e = sgt_stderr(p);
	cr_expect_eq(rc, 4, "exit %d: %s", rc, e);
	cr_expect(sgt_contains(e, "timed out") && sgt_contains(e, "absent_one"), "stderr: %s", e);
	cr_expect(!sgt_contains(e, "still missing: tables present"), "stderr: %s", e);
	free(e);
	sgt_proc_free(p);
}

Test(wait, hostile_table_names_are_parameters_not_sql)
{
	/* A valid (quoted) name that would be an injection if spliced: not found. */
	const char *quoted[] = {"--tables",   "\"x')\"\"; DROP TABLE keep; --\"",
	                        "--timeout",  "200ms",
	                        "--interval", "50ms",
	                        NULL};
	/* Not a name at all: a usage error (exit 2) rather than a long wait. */
	const char *bad[] = {"--tables", "x'); DROP TABLE keep; --", "--timeout", "10s", NULL};

	sgt_sql_exec(dsn, "CREATE TABLE keep (id int)");
	struct sgt_proc *p = spawn_wait(quoted);
	int rc = sgt_wait(p, 10000);
	char *e = sgt_stderr(p);
	cr_expect_eq(rc, 4, "exit %d: %s", rc, e);
	free(e);
	sgt_proc_free(p);
	p = spawn_wait(bad);
	rc = sgt_wait(p, 10000);
	e = sgt_stderr(p);
	cr_expect_eq(rc, 2, "exit %d: %s", rc, e);
	cr_expect(sgt_contains(e, "--tables"), "stderr: %s", e);
	free(e);
	sgt_proc_free(p);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM keep"), 0, "table keep still exists");
}

Test(wait, version_without_history_is_not_yet_and_notify_wakes_it)
{
	/* A 30 s interval: only the NOTIFY of migrate can end the wait soon. */
	const char *args[] = {"--version", "2", "--timeout", "40s", "--interval", "30s", NULL};
	const char *mig[] = {"schemagate", "migrate", NULL};
	char url[1024], mdir[1024];
	const char *env[] = {url, mdir, "-DATABASE_SEARCH_PATH", "-REDIS_URL", NULL};

	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	sgt_write_file(dir, "000002_b.up.sql", "CREATE TABLE b (id int);\n");
	struct sgt_proc *p = spawn_wait(args);
	wait_for_log(p, "no history table yet", 10000);
	snprintf(url, sizeof url, "DATABASE_URL=%s", dsn);
	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s", dir);
	cr_assert_eq(sgt_run(mig, env, NULL, NULL, 30000), 0);
	long long t0 = proc_now_ms();
	int rc = sgt_wait(p, 20000);
	long long took = proc_now_ms() - t0;
	char *e = sgt_stderr(p);
	cr_expect_eq(rc, 0, "exit %d: %s", rc, e);
	cr_expect_lt(took, 5000, "wait took %lld ms after migrate: not woken by NOTIFY", took);
	free(e);
	sgt_proc_free(p);
}

Test(wait, dirty_head_is_not_ready)
{
	const char *args[] = {"--version", "1", "--timeout", "300ms", "--interval", "50ms", NULL};

	sgt_sql_exec(
	    dsn,
	    "CREATE TABLE schemagate_migrations (version bigint PRIMARY KEY, name text, "
	    "checksum text, applied_at timestamptz DEFAULT now(), duration_ms bigint, "
	    "applied_by text, dirty boolean, no_transaction boolean);"
	    "INSERT INTO schemagate_migrations VALUES (1, 'x', '', now(), 0, 't', true, true)");
	struct sgt_proc *p = spawn_wait(args);
	int rc = sgt_wait(p, 10000);
	char *e = sgt_stderr(p);
	cr_expect_eq(rc, 4, "exit %d: %s", rc, e);
	cr_expect(sgt_contains(e, "dirty"), "stderr: %s", e);
	free(e);
	sgt_proc_free(p);
}

/* A notification that libpq read while a query was running (here: our own NOTIFY, delivered
 * with the command's answer) is already queued when the wait starts; the socket never turns
 * readable for it again. The wait must see it at once, not sleep the whole interval (the
 * sidecar then rebuilt its report only every 15 s instead of on migrate's NOTIFY). */
Test(wait, notify_wait_sees_a_notification_queued_during_a_query)
{
	struct cfg cfg;
	struct sg_err err = {.code = SG_E_OK};
	PGconn *c = NULL;
	bool notified = false, extra = false;
	long long t0, took;

	memset(&cfg, 0, sizeof cfg);
	cfg.database_url = dsn;
	cfg.connect_timeout_ms = 5000;
	cfg.identity = (char *)"test";
	cr_assert_eq(db_connect_once(&cfg, "test", &c, &err), 0, "%s", err.msg);
	cr_assert_eq(notify_listen(c, "sg_queued", true, &err), 0, "%s", err.msg);
	cr_assert_eq(db_exec(c, "NOTIFY sg_queued", &err), 0, "%s", err.msg);
	t0 = proc_now_ms();
	cr_assert_eq(notify_wait(c, -1, 20000, NULL, NULL, &notified, &extra, &err), 0, "%s",
	             err.msg);
	took = proc_now_ms() - t0;
	cr_expect(notified, "the queued notification was not seen");
	cr_expect_lt(took, 15000, "the wait slept %lld ms over a queued notification", took);
	PQfinish(c);
}
