/* test_serve.c - the readiness sidecar against a real PostgreSQL, with real processes and sockets.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "lock.h"
#include "sgt.h"
#include "sgt_http.h"

#define MIGRATIONS SG_SOURCE_DIR "/migrations"
/* A raw request from a string literal; returns the status (0: none). */
#define RAW(lit, ms) sgt_http_raw(sc.port, lit, sizeof lit - 1, NULL, ms)

/* One sidecar under test. */
struct sidecar {
	char *dsn;
	int port;
	struct sgt_proc *proc;
	char *env[4];
};

static struct sidecar sc;

static void setup(void)
{
	sgt_require_services();
	memset(&sc, 0, sizeof sc);
}

static void teardown(void)
{
	sgt_proc_free(sc.proc);
	if (sc.dsn != NULL)
		sgt_drop_db(sc.dsn);
	free(sc.dsn);
	for (size_t i = 0; i < sizeof sc.env / sizeof sc.env[0]; i++)
		free(sc.env[i]);
	memset(&sc, 0, sizeof sc);
}

/* Starts `schemagate serve` on a free port with extra flags (NULL-terminated)
 * and waits until it answers /healthz and has made its first check. */
static void start(const char *prefix, const char *const *flags)
{
	const char *argv[32] = {"schemagate", "serve", "--dir", MIGRATIONS, "--listen"};
	const char *env[5];
	char listen[32];
	size_t n = 5;

	if (sc.dsn == NULL)
		sc.dsn = sgt_fresh_db(prefix);
	sc.port = sgt_http_free_port();
	cr_assert_gt(sc.port, 0);
	snprintf(listen, sizeof listen, "127.0.0.1:%d", sc.port);
	argv[n++] = listen;
	for (size_t i = 0; flags != NULL && flags[i] != NULL && n < 31; i++)
		argv[n++] = flags[i];
	argv[n] = NULL;
	sc.env[0] = sgt_fmt("DATABASE_URL=%s", sc.dsn);
	env[0] = sc.env[0];
	env[1] = "DATABASE_SEARCH_PATH=mcp,public";
	env[2] = "-REDIS_URL";
	env[3] = "SCHEMAGATE_LOG_FORMAT=text";
	env[4] = NULL;
	sc.proc = sgt_spawn(argv, env);
	cr_assert_geq(sgt_http_wait_status(sc.port, "/healthz", 200, 10000), 0,
	              "sidecar did not come up: %s", sgt_stderr(sc.proc));
	cr_assert_geq(sgt_http_wait_status(sc.port, "/readyz/database", 200, 10000), 0,
	              "first check did not reach the database: %s", sgt_stderr(sc.proc));
}

static void migrate(void)
{
	const char *argv[] = {"schemagate", "migrate", "--dir", MIGRATIONS, NULL};
	char *e0 = sgt_fmt("DATABASE_URL=%s", sc.dsn), *err = NULL;
	const char *env[] = {e0, "DATABASE_SEARCH_PATH=mcp,public", "-REDIS_URL", NULL};
	int rc = sgt_run(argv, env, NULL, &err, 60000);

	cr_assert_eq(rc, 0, "migrate failed: %s", err);
	free(err);
	free(e0);
}

static int get(const char *path, char **body)
{
	return sgt_http_get(sc.port, path, NULL, body);
}

TestSuite(serve, .init = setup, .fini = teardown, .timeout = 120);

Test(serve, not_ready_before_migrate_and_ready_on_notify)
{
	static const char *const flags[] = {"--check-interval", "30s", "--tables", "mcp.contexts",
	                                    NULL};
	char *body = NULL;
	long long t0;
	long ms;

	start("serve_notify", flags);
	cr_assert_eq(get("/readyz", &body), 503);
	cr_assert(sgt_contains(body, "failed"), "%s", body);
	free(body);
	cr_assert_eq(get("/healthz", NULL), 200);

	migrate();
	t0 = proc_now_ms();
	/* The tick is 30 s away: only the NOTIFY can explain a quick flip. */
	ms = sgt_http_wait_status(sc.port, "/readyz", 200, 5000);
	cr_assert_geq(ms, 0, "not ready 5 s after migrate: %s", sgt_stderr(sc.proc));
	cr_assert_lt(proc_now_ms() - t0, 2000);
	fprintf(stderr, "serve: /readyz turned 200 %lld ms after migrate exited\n",
	        proc_now_ms() - t0);
	cr_assert_eq(get("/readyz?verbose", &body), 200);
	cr_assert(sgt_contains(body, "[+]migrations ok\n"), "%s", body);
	cr_assert(sgt_contains(body, "readyz check passed"), "%s", body);
	free(body);
}

Test(serve, dropped_table_is_named)
{
	static const char *const flags[] = {"--check-interval", "200ms", "--tables",
	                                    "mcp.tenants,mcp.contexts", NULL};
	char *body = NULL;

	sc.dsn = sgt_fresh_db("serve_drop");
	migrate();
	start(NULL, flags);
	cr_assert_geq(sgt_http_wait_status(sc.port, "/readyz", 200, 5000), 0);
	sgt_sql_exec(sc.dsn, "DROP TABLE mcp.contexts CASCADE");
	cr_assert_geq(sgt_http_wait_status(sc.port, "/readyz", 503, 5000), 0);
	cr_assert_eq(get("/readyz?verbose", &body), 503);
	cr_assert(sgt_contains(body, "[-]tables failed: missing: mcp.contexts"), "%s", body);
	cr_assert(sgt_contains(body, "[+]migrations ok"), "%s", body);
	free(body);
	cr_assert_eq(get("/readyz/tables", NULL), 503);
	cr_assert_eq(get("/readyz/migrations", NULL), 200);
	cr_assert_eq(get("/readyz?exclude=tables", NULL), 200);
	cr_assert_eq(get("/readyz/nosuch", NULL), 404);
	cr_assert_eq(get("/readyz?exclude=nosuch", NULL), 404);
}

static json_object *member(json_object *o, const char *key, json_type t)
{
	json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, key, &v), "missing key %s", key);
	cr_assert(json_object_is_type(v, t), "%s has type %s", key,
	          json_type_to_name(json_object_get_type(v)));
	return v;
}

Test(serve, health_admin_metrics)
{
	char *tokdir = sgt_tmpdir(), *tokfile = sgt_fmt("%s/token", tokdir);
	const char *flags[] = {"--check-interval", "500ms", "--admin-token-file", tokfile, NULL};
	char *body = NULL, *cmd, *mfile;
	json_object *h, *m, *c;
	static const char *const mkeys[] = {"completed_at", "duration", "version"};

	sgt_write_file(tokdir, "token", "s3cret-token\n");
	sc.dsn = sgt_fresh_db("serve_endpoints");
	migrate();
	start(NULL, flags);
	cr_assert_geq(sgt_http_wait_status(sc.port, "/readyz", 200, 5000), 0);

	cr_assert_eq(get("/health", &body), 200);
	h = json_tokener_parse(body);
	cr_assert_not_null(h, "not JSON: %s", body);
	cr_assert_eq(json_object_object_length(h), 5, "%s", body);
	cr_assert_str_eq(json_object_get_string(member(h, "status", json_type_string)), "healthy");
	cr_assert(json_object_get_boolean(member(h, "ready", json_type_boolean)));
	cr_assert_eq(strlen(json_object_get_string(member(h, "time", json_type_string))), 20);
	m = member(h, "migrations", json_type_object);
	cr_assert_eq(json_object_object_length(m), 6, "%s", body);
	cr_assert_not(json_object_get_boolean(member(m, "in_progress", json_type_boolean)));
	cr_assert(json_object_get_boolean(member(m, "completed", json_type_boolean)));
	cr_assert(json_object_get_boolean(member(m, "ready", json_type_boolean)));
	for (size_t i = 0; i < 3; i++)
		member(m, mkeys[i], json_type_string);
	cr_assert_str_eq(json_object_get_string(member(m, "version", json_type_string)), "5");
	c = member(h, "components", json_type_object);
	cr_assert_eq(json_object_object_length(c), 2, "%s", body);
	cr_assert_str_eq(json_object_get_string(member(c, "database", json_type_string)),
	                 "healthy");
	member(c, "redis", json_type_string);
	json_object_put(h);
	free(body);

	cr_assert_eq(get("/admin/migration-status", NULL), 401);
	cr_assert_eq(sgt_http_get(sc.port, "/admin/migration-status",
	                          "Authorization: Bearer wrong\r\n", NULL),
	             401);
	/* The report is built right after the first check: poll for it. */
	for (long long t0 = proc_now_ms();; free(body)) {
		int st = sgt_http_get(sc.port, "/admin/migration-status",
		                      "Authorization: Bearer s3cret-token\r\n", &body);

		if (st == 200)
			break;
		cr_assert(st == 503 && proc_now_ms() - t0 < 5000, "admin: %d %s", st, body);
		usleep(10000);
	}
	/* RFC 9110 section 11: the scheme is case-insensitive, and one or more
	 * spaces separate it from the token; the token itself is exact. */
	{
		static const struct {
			const char *header;
			int status;
		} schemes[] = {
		    {"Authorization: bearer s3cret-token\r\n", 200},
		    {"Authorization: BEARER  s3cret-token\r\n", 200},
		    {"Authorization: Bearers3cret-token\r\n", 401},
		    {"Authorization: Bearer S3CRET-TOKEN\r\n", 401},
		    {"Authorization: Basic s3cret-token\r\n", 401},
		};

		for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
			cr_expect_eq(sgt_http_get(sc.port, "/admin/migration-status",
			                          schemes[i].header, NULL),
			             schemes[i].status, "%s", schemes[i].header);
	}
	h = json_tokener_parse(body);
	cr_assert_not_null(h, "not JSON: %s", body);
	cr_assert_eq(json_object_get_int64(member(h, "current_version", json_type_int)), 5);
	member(member(h, "last_check", json_type_object), "time", json_type_string);
	member(h, "applied", json_type_array);
	member(h, "runs", json_type_array);
	json_object_put(h);
	free(body);

	cr_assert_eq(get("/metrics", &body), 200);
	cr_assert(sgt_contains(body, "schemagate_schema_version 5\n"), "%s", body);
	cr_assert(sgt_contains(body, "schemagate_ready 1\n"), "%s", body);
	mfile = sgt_fmt("%s/metrics.txt", tokdir);
	sgt_write_file(tokdir, "metrics.txt", body);
	cmd = sgt_fmt("promtool check metrics < '%s' 2>&1", mfile);
	cr_assert_eq(system(cmd), 0, "promtool rejected:\n%s", body);
	free(cmd);
	free(mfile);
	free(body);

	cr_assert_eq(RAW("POST /readyz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
	                 "Connection: close\r\n\r\n",
	                 5000),
	             405);
	cr_assert_eq(get("/nope", NULL), 404);
	sgt_rm_rf(tokdir);
	free(tokdir);
	free(tokfile);
}

/* Polls the sidecar's metric (an integer part) until it is at least lo and at
 * most hi, for up to 10 s; returns the last value read. */
static long long wait_metric(const char *name, long long lo, long long hi)
{
	long long v = -1;

	for (long long t0 = proc_now_ms(); proc_now_ms() - t0 < 10000; sgt_sleep_ms(50))
		if ((v = sgt_http_metric(sc.port, name)) >= lo && v <= hi)
			break;
	return v;
}

#define OUTCOME(o) "schemagate_last_run_outcome{outcome=\"" o "\"}"

/* What the chart's alerts and dashboard read besides the schema state: the newest run's
 * outcome, end and duration, how long the lock's holder has held it, the build. */
Test(serve, run_and_lock_metrics)
{
	static const char *const flags[] = {"--check-interval", "200ms", NULL};
	char *body = NULL, *sql;
	long long t0 = (long long)time(NULL), v;
	PGconn *holder;
	PGresult *r;

	sc.dsn = sgt_fresh_db("serve_runmetrics");
	migrate();
	start(NULL, flags);
	cr_assert_eq(get("/metrics", &body), 200);
	cr_assert(sgt_contains(body, OUTCOME("succeeded") " 1\n"), "%s", body);
	cr_assert(sgt_contains(body, OUTCOME("running") " 0\n"), "%s", body);
	cr_assert(sgt_contains(body, OUTCOME("abandoned") " 0\n"), "%s", body);
	cr_assert(sgt_contains(body, "schemagate_migration_lock_age_seconds 0\n"), "%s", body);
	cr_assert(
	    sgt_contains(body, "schemagate_build_info{version=\"" SCHEMAGATE_VERSION "\"} 1\n"),
	    "%s", body);
	free(body);
	/* The database's clock and ours are the same machine's. */
	v = sgt_http_metric(sc.port, "schemagate_last_run_end_timestamp_seconds");
	cr_assert(v >= t0 - 5 && v <= (long long)time(NULL) + 5, "end %lld, test began %lld", v,
	          t0);
	cr_assert_geq(sgt_http_metric(sc.port, "schemagate_last_run_duration_seconds"), 0);

	/* A session takes the lock and records a run that started an hour ago, as a migrate
	 * stuck for an hour would have. */
	holder = sgt_connect(sc.dsn);
	sql = sgt_fmt("SELECT pg_advisory_lock(%lld)",
	              (long long)lock_key(PQdb(holder), "mcp", "schemagate_migrations"));
	r = PQexec(holder, sql);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(holder));
	PQclear(r);
	r = PQexec(holder, "INSERT INTO mcp.schemagate_migrations_runs (command, identity, "
	                   "from_version, to_version, started_at) VALUES ('migrate', 'test', 5, 6, "
	                   "now() - interval '1 hour')");
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(holder));
	PQclear(r);
	v = wait_metric("schemagate_migration_lock_age_seconds", 3600, 3700);
	cr_assert(v >= 3600 && v <= 3700, "lock age %lld", v);
	cr_assert_eq(wait_metric(OUTCOME("running"), 1, 1), 1);
	cr_assert_eq(sgt_http_metric(sc.port, "schemagate_migration_in_progress"), 1);
	cr_assert_eq(sgt_http_metric(sc.port, "schemagate_last_run_end_timestamp_seconds"), 0);
	cr_assert_geq(sgt_http_metric(sc.port, "schemagate_last_run_duration_seconds"), 3600);

	/* Its process dies without recording the end: the run counts as abandoned, as status
	 * shows it, and nobody holds the lock. */
	PQfinish(holder);
	cr_assert_eq(wait_metric(OUTCOME("abandoned"), 1, 1), 1);
	cr_assert_eq(wait_metric("schemagate_migration_lock_age_seconds", 0, 0), 0);
	cr_assert_eq(sgt_http_metric(sc.port, OUTCOME("running")), 0);
	free(sql);
}

struct hammer {
	int port;
	int status;
};

static void *hammer_one(void *arg)
{
	struct hammer *h = arg;

	h->status = sgt_http_get(h->port, "/readyz", NULL, NULL);
	return NULL;
}

Test(serve, concurrent_and_hostile_requests)
{
	static const char *const flags[] = {"--check-interval", "500ms", NULL};
	enum { N = 200 };
	struct hammer hs[N];
	pthread_t th[N];
	char *huge, *resp = NULL;
	size_t hl = 256 * 1024;
	int st;

	start("serve_load", flags);
	for (int i = 0; i < N; i++) {
		hs[i].port = sc.port;
		hs[i].status = -2;
		cr_assert_eq(pthread_create(&th[i], NULL, hammer_one, &hs[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < N; i++)
		cr_assert_eq(hs[i].status, 503, "request %d got %d", i, hs[i].status);

	/* A header far beyond max_request_size. */
	huge = malloc(hl + 64);
	cr_assert_not_null(huge);
	st = snprintf(huge, 64, "GET /readyz HTTP/1.1\r\nX-Big: ");
	memset(huge + st, 'a', hl);
	memcpy(huge + st + hl, "\r\n\r\n", 5);
	st = sgt_http_raw(sc.port, huge, strlen(huge), &resp, 5000);
	cr_assert(st == 0 || (st >= 400 && st < 500), "huge header got %d", st);
	free(resp);
	free(huge);

	st = RAW("BREW /readyz HTTP/1.1\r\nHost: x\r\n\r\n", 3000);
	cr_assert(st == 0 || (st >= 400 && st < 500), "bad method got %d", st);
	st = RAW("\x01\x02\xff\xfe garbage\r\n\r\n", 3000);
	cr_assert(st == 0 || (st >= 400 && st < 500), "garbage got %d", st);
	st = RAW("GET /readyz HTTP/9.9\r\n\r\n", 3000);
	cr_assert(st == 0 || (st >= 400 && st < 600), "bad version got %d", st);
	/* Half a request, then the connection goes away. */
	st = RAW("GET /rea", 200);
	(void)st;

	cr_assert_eq(get("/healthz", NULL), 200, "server stopped serving");
	cr_assert_eq(get("/readyz/database", NULL), 200);
}

Test(serve, sigterm_fails_readiness_then_exits_zero)
{
	static const char *const flags[] = {"--check-interval", "500ms", "--drain-delay", "1s",
	                                    NULL};
	long long t0;

	sc.dsn = sgt_fresh_db("serve_term");
	migrate();
	start(NULL, flags);
	cr_assert_geq(sgt_http_wait_status(sc.port, "/readyz", 200, 5000), 0);
	t0 = proc_now_ms();
	sgt_signal(sc.proc, SIGTERM);
	/* During the drain delay the server still answers, with 503. */
	cr_assert_geq(sgt_http_wait_status(sc.port, "/readyz", 503, 900), 0);
	{
		/* Readiness flips before the line is logged: poll for it. */
		char *log = NULL;

		for (int i = 0; i < 100; i++) {
			free(log);
			log = sgt_stderr(sc.proc);
			if (sgt_contains(log, "stopping"))
				break;
			sgt_sleep_ms(10);
		}
		cr_assert(sgt_contains(log, "stopping"), "%s", log);
		free(log);
	}
	cr_assert_eq(get("/healthz", NULL), 200);
	cr_assert_eq(sgt_wait(sc.proc, 10000), 0, "%s", sgt_stderr(sc.proc));
	cr_assert_lt(proc_now_ms() - t0, 6000);
	fprintf(stderr, "serve: SIGTERM to exit took %lld ms (drain 1 s)\n", proc_now_ms() - t0);
}

Test(serve, probe_exit_codes)
{
	static const char *const flags[] = {"--check-interval", "500ms", NULL};
	char *url, *err = NULL;
	const char *argv[] = {"schemagate", "probe", "--url", NULL, NULL};

	start("serve_probe", flags);
	url = sgt_fmt("http://127.0.0.1:%d/readyz", sc.port);
	argv[3] = url;
	cr_assert_eq(sgt_run(argv, NULL, NULL, &err, 10000), 1);
	cr_assert(sgt_contains(err, "503"), "%s", err);
	cr_assert(sgt_contains(err, "migrations failed"), "%s", err);
	free(err);
	free(url);
	url = sgt_fmt("http://127.0.0.1:%d/readyz/database", sc.port);
	argv[3] = url;
	cr_assert_eq(sgt_run(argv, NULL, NULL, NULL, 10000), 0);
	free(url);
	argv[3] = "https://127.0.0.1/readyz";
	cr_assert_eq(sgt_run(argv, NULL, NULL, NULL, 10000), 2);
	url = sgt_fmt("http://127.0.0.1:%d/readyz", sgt_http_free_port());
	argv[3] = url;
	cr_assert_eq(sgt_run(argv, NULL, NULL, NULL, 10000), 1, "nothing listening");
	free(url);
}

/* PostgreSQL goes away: this suite always restarts it, even when a test
 * fails, because other suites share the server. */
static void pg_restart(void)
{
	sgt_service("pg.sh", "start");
	teardown();
}

TestSuite(serve_pgdown, .init = setup, .fini = pg_restart, .timeout = 180);

Test(serve_pgdown, readyz_fails_healthz_stays_and_recovers)
{
	static const char *const flags[] = {"--check-interval", "300ms", NULL};
	char *body = NULL;

	sc.dsn = sgt_fresh_db("serve_pgdown");
	migrate();
	start(NULL, flags);
	cr_assert_geq(sgt_http_wait_status(sc.port, "/readyz", 200, 5000), 0);
	sgt_service("pg.sh", "stop fast");
	cr_assert_geq(sgt_http_wait_status(sc.port, "/readyz", 503, 5000), 0);
	cr_assert_eq(get("/readyz?verbose", &body), 503);
	cr_assert(sgt_contains(body, "[-]database failed"), "%s", body);
	/* anyone may ask: no host, port, user or libpq text */
	cr_assert(!sgt_contains(body, "127.0.0.1") && !sgt_contains(body, "port") &&
	              !sgt_contains(body, "sgtest") && !sgt_contains(body, "connection"),
	          "%s", body);
	free(body);
	cr_assert_eq(get("/readyz", &body), 503);
	cr_assert(!sgt_contains(body, "127.0.0.1") && !sgt_contains(body, "port"), "%s", body);
	free(body);
	cr_assert_eq(get("/healthz", NULL), 200);
	cr_assert_eq(get("/livez", NULL), 200);
	sgt_service("pg.sh", "start");
	cr_assert_geq(sgt_http_wait_status(sc.port, "/readyz", 200, 15000), 0,
	              "not ready again after restart: %s", sgt_stderr(sc.proc));
	cr_assert_eq(get("/healthz", NULL), 200);
}

Test(serve_config, missing_folder_without_expected_version_refuses_to_start)
{
	char *err = NULL;
	const char *argv[] = {"schemagate",  "serve", "--listen",
	                      "127.0.0.1:1", "--dir", "/nonexistent/migrations",
	                      NULL};
	const char *env[] = {"DATABASE_URL=postgres://nobody@127.0.0.1:1/none", NULL};

	/* A sidecar with nothing to expect would report ready on any schema. */
	cr_assert_eq(sgt_run(argv, env, NULL, &err, 10000), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "/nonexistent/migrations") &&
	              sgt_contains(err, "--expect-version"),
	          "stderr: %s", err);
	free(err);
}
