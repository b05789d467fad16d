/* test_frozen_db.c - the checker against a database server process that stops answering without
 * closing anything (SIGSTOP of the backend that serves it, like a frozen VM): /livez is about
 * this process and stays 200; readiness goes on a new connection. */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "proc.h"
#include "config.h"
#include "db.h"
#include "history.h"
#include "sgt.h"
#include "sgt_http.h"

/* Stops the backend pid only while it sits idle between queries: stopped inside a query it may
 * hold a lock or a shared-memory latch that every new backend of the cluster needs, and then the
 * whole server is frozen, not one connection (the test would measure that instead). Returns
 * whether the backend is stopped idle; a busy one is resumed and tried again. */
static bool freeze_while_idle(const char *dsn, long pid)
{
	char *sql = sgt_fmt("SET statement_timeout = '2s'; SELECT state FROM pg_stat_activity "
	                    "WHERE pid = %ld",
	                    pid);
	bool idle = false;

	for (int attempt = 0; attempt < 50 && !idle; attempt++) {
		char *state;

		if (kill((pid_t)pid, SIGSTOP) != 0)
			break;
		state = sgt_sql_value(dsn, sql);
		idle = state != NULL && strcmp(state, "idle") == 0;
		free(state);
		if (!idle) {
			kill((pid_t)pid, SIGCONT);
			sgt_sleep_ms(20 + attempt * 7 % 60);
		}
	}
	free(sql);
	return idle;
}

/* With --check-interval 200ms and --connect-timeout 1s the liveness deadline
 * is 2.8 s (checker_liveness_deadline_ms); the old checker blocked in libpq
 * for as long as the backend stayed frozen, so /livez failed after it. */
Test(frozen_db, livez_stays_up_while_the_checkers_backend_is_frozen, .timeout = 90)
{
	static const char *const flags[] = {"--check-interval", "200ms", "--connect-timeout", "1s",
	                                    NULL};
	char *dsn, *sql;
	int port = sgt_http_free_port(), bad = 0, probes = 0, last_bad = 0;
	struct sgt_proc *p;
	long pid;
	long long end;
	bool ready_again = false;

	sgt_require_services();
	signal(SIGPIPE, SIG_IGN);
	dsn = sgt_fresh_db("frozen");
	/* Migrated first: readiness needs the schema, and the frozen check is about what it
	 * takes to see the schema again. */
	{
		char *url = sgt_fmt("DATABASE_URL=%s", dsn), *e = NULL;
		const char *env[] = {url, "-REDIS_URL", "-DATABASE_SEARCH_PATH",
		                     "-SCHEMAGATE_CONFIG", NULL};
		const char *argv[] = {"schemagate", "migrate", "--dir", SG_SOURCE_DIR "/migrations",
		                      NULL};

		cr_assert_eq(sgt_run(argv, env, NULL, &e, 60000), 0, "%s", e);
		free(e);
		free(url);
	}
	p = sgt_serve_start(dsn, port, flags);
	sql = sgt_fmt("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND "
	              "application_name LIKE 'schemagate/serve/%%' ORDER BY backend_start LIMIT 1");
	for (int i = 0; i < 100; i++) {
		char *v = sgt_sql_value(dsn, sql);

		pid = v != NULL ? strtol(v, NULL, 10) : 0;
		free(v);
		if (pid > 0)
			break;
		sgt_sleep_ms(50);
	}
	cr_assert_gt(pid, 0, "no checker backend");
	cr_assert(freeze_while_idle(dsn, pid), "the checker's backend %ld never sat idle", pid);
	/* two liveness deadlines: every /livez answers 200 within the kubelet's 1 s */
	end = proc_now_ms() + 6000;
	while (proc_now_ms() < end) {
		static const char req[] =
		    "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
		int st = sgt_http_raw(port, req, sizeof req - 1, NULL, 1000);

		probes++;
		if (st != 200) {
			bad++;
			last_bad = st;
		}
		if (!ready_again && sgt_http_get(port, "/readyz", NULL, NULL) == 200 &&
		    proc_now_ms() > end - 3000)
			ready_again = true;
		sgt_sleep_ms(100);
	}
	kill((pid_t)pid, SIGCONT);
	cr_expect_eq(bad, 0, "%d of %d /livez probes failed (last %d) with the database frozen",
	             bad, probes, last_bad);
	if (!ready_again) {
		char *log = sgt_stderr(p);

		cr_expect_fail("readiness did not come back on a new connection: %s", log);
		free(log);
	}
	sgt_proc_free(p);
	sgt_drop_db(dsn);
	free(sql);
	free(dsn);
}

/* Every connection carries TCP keepalives and tcp_user_timeout
 * (derived from database.connect_timeout), so a peer that vanishes without
 * a FIN or RST is noticed. libpq reports the options it used. */
Test(frozen_db, connections_carry_keepalives_and_tcp_user_timeout)
{
	struct cfg cfg;
	struct sg_err err;
	PGconn *c = NULL;
	PQconninfoOption *opts;
	int seen = 0;
	char *dsn;

	sgt_require_services();
	dsn = sgt_fresh_db("keepalive");
	memset(&cfg, 0, sizeof cfg);
	cfg.database_url = dsn;
	cfg.connect_timeout_ms = 6000;
	cfg.identity = (char *)"test";
	cr_assert_eq(db_connect_once(&cfg, "test", &c, &err), 0, "%s", err.msg);
	opts = PQconninfo(c);
	cr_assert_not_null(opts);
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		static const char *const want[][2] = {{"keepalives", "1"},
		                                      {"keepalives_idle", "6"},
		                                      {"keepalives_interval", "2"},
		                                      {"keepalives_count", "3"},
		                                      {"tcp_user_timeout", "6000"}};

		for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
			if (strcmp(o->keyword, want[i][0]) == 0) {
				cr_expect_str_eq(o->val != NULL ? o->val : "(unset)", want[i][1],
				                 "%s", o->keyword);
				seen++;
			}
	}
	cr_expect_eq(seen, 5);
	PQconninfoFree(opts);
	PQfinish(c);
	sgt_drop_db(dsn);
	free(dsn);
}

/* The backend frozen by the test below, resumed by the alarm when the code under test hangs:
 * a backend left stopped would keep its database (and the suite's clean-up) waiting. */
static volatile sig_atomic_t frozen_pid;

static void resume_and_die(int sig)
{
	if (frozen_pid > 0)
		kill((pid_t)frozen_pid, SIGCONT);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A thread bounded by db_bound_waits (the checker is) cannot hang on a frozen backend in any
 * query: db_query and the history read (db_exec_raw) give up after the bound and leave the
 * connection marked broken. Unbounded, the history read waited in libpq for as long as the
 * backend stayed stopped; the alarm turns such a hang into a failure. */
Test(frozen_db, bounded_thread_gives_up_on_a_frozen_backend, .timeout = 60)
{
	struct cfg cfg;
	struct sg_err err;
	struct hist h;
	PGconn *c = NULL;
	PGresult *r = NULL;
	long long t0, took;
	int pid, rc;
	char *dsn;

	sgt_require_services();
	dsn = sgt_fresh_db("bounded");
	memset(&cfg, 0, sizeof cfg);
	cfg.database_url = dsn;
	cfg.connect_timeout_ms = 5000;
	cfg.identity = (char *)"test";
	cr_assert_eq(db_connect_once(&cfg, "test", &c, &err), 0, "%s", err.msg);
	cr_assert_eq(db_exec(c,
	                     "CREATE TABLE schemagate_migrations (version bigint PRIMARY KEY, "
	                     "name text, checksum text, applied_at timestamptz, duration_ms "
	                     "bigint, applied_by text, dirty boolean, no_transaction boolean)",
	                     &err),
	             0, "%s", err.msg);
	cr_assert_eq(db_query(c, "SELECT pg_backend_pid()", 0, NULL, &r, &err), 0, "%s", err.msg);
	pid = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	db_bound_waits(700);
	frozen_pid = pid;
	signal(SIGALRM, resume_and_die);
	cr_assert_eq(kill((pid_t)pid, SIGSTOP), 0);
	alarm(20); /* an unbounded wait would hang here for good */
	t0 = proc_now_ms();
	rc = hist_read(c, NULL, "schemagate_migrations", &h, &err);
	took = proc_now_ms() - t0;
	alarm(0);
	kill((pid_t)pid, SIGCONT);
	frozen_pid = 0;
	db_bound_waits(0);
	cr_expect_eq(rc, -1, "the history read answered from a stopped backend?");
	cr_expect_lt(took, 5000, "gave up after %lld ms, bound 700 ms", took);
	cr_expect(db_is_broken(c), "a query left in flight must mark the connection broken");
	cr_expect(strstr(err.msg, "no answer from the server within 700 ms") != NULL, "%s",
	          err.msg);
	if (rc == 0)
		hist_free(&h);
	PQfinish(c);
	sgt_drop_db(dsn);
	free(dsn);
}
