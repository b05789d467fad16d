/* test_health.c - pure readiness evaluation, query parsing and /readyz formatting. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "report.h"
#include "probe.h"

/* A healthy snapshot taken at t=1000 ms, expecting version 5. */
static struct health_snap good(void)
{
	struct health_snap s;

	memset(&s, 0, sizeof s);
	s.taken_ms = 1000;
	s.heartbeat_ms = 1000;
	s.db_ok = true;
	s.history_exists = true;
	s.head = 5;
	s.expected = 5;
	s.pending = 0;
	s.tables_required = true;
	s.last_run = RUN_SUCCEEDED;
	return s;
}

static const struct health_query all = {.verbose = false, .only = -1};

Test(health, ready_when_everything_holds)
{
	struct health_snap s = good();
	struct health_result r[HEALTH_NCHECKS];
	char buf[1024];

	health_evaluate(&s, 1500, 2000, r);
	cr_assert(health_ready(r));
	cr_assert_eq(health_format_readyz(r, &all, buf, sizeof buf), 200);
	cr_assert_str_eq(buf, "ok\n");
}

Test(health, stale_snapshot_is_not_ready)
{
	struct health_snap s = good();
	struct health_result r[HEALTH_NCHECKS];

	health_evaluate(&s, 1000 + 3 * 2000, 2000, r);
	cr_assert(r[HEALTH_DATABASE].ok, "exactly three intervals is still fresh");
	health_evaluate(&s, 1000 + 3 * 2000 + 1, 2000, r);
	cr_assert_not(r[HEALTH_DATABASE].ok);
	cr_assert(strstr(r[HEALTH_DATABASE].reason, "stale") != NULL, "%s",
	          r[HEALTH_DATABASE].reason);
	cr_assert_not(r[HEALTH_MIGRATIONS].ok, "unknown while the database check fails");
	cr_assert_not(r[HEALTH_TABLES].ok);
}

Test(health, database_down_fails_with_reason)
{
	struct health_snap s = good();
	struct health_result r[HEALTH_NCHECKS];

	s.db_ok = false;
	snprintf(s.db_error, sizeof s.db_error, "connection refused");
	health_evaluate(&s, 1100, 2000, r);
	cr_assert_not(r[HEALTH_DATABASE].ok);
	cr_assert(strstr(r[HEALTH_DATABASE].reason, "connection refused") != NULL);
}

/* /readyz answers anyone: the brief reason holds none of libpq's or
 * hiredis's text (host, port, user, server message); the admin endpoint
 * keeps the full one. */
Test(health, readyz_shows_brief_reasons_only)
{
	struct health_snap s = good();
	struct health_result r[HEALTH_NCHECKS];
	struct health_query q = {.verbose = true, .only = -1};
	char body[4096];

	s.db_ok = false;
	snprintf(s.db_error, sizeof s.db_error,
	         "connection to server at \"db.internal\" (10.0.0.7), port 5432 failed: FATAL: "
	         "password authentication failed for user \"app\"");
	health_evaluate(&s, 1100, 2000, r);
	cr_assert(strstr(r[HEALTH_DATABASE].reason, "db.internal") != NULL);
	cr_assert_eq(health_format_readyz(r, &q, body, sizeof body), 503);
	cr_assert(strstr(body, "[-]database failed: unreachable\n") != NULL, "%s", body);
	cr_assert_null(strstr(body, "db.internal"), "%s", body);
	cr_assert_null(strstr(body, "5432"), "%s", body);
	cr_assert_null(strstr(body, "app"), "%s", body);
	q.verbose = false;
	health_format_readyz(r, &q, body, sizeof body);
	cr_assert_str_eq(body, "database failed: unreachable\n");
}

/* A run whose process died reads as abandoned, in status and here alike (history.c reads
 * both): readiness names it instead of only "below expected". */
Test(health, an_abandoned_or_interrupted_run_is_named)
{
	struct health_snap s = good();
	struct health_result r[HEALTH_NCHECKS];

	s.head = 4;
	s.last_run = RUN_ABANDONED;
	health_evaluate(&s, 1100, 2000, r);
	cr_expect_str_eq(r[HEALTH_MIGRATIONS].reason,
	                 "last run abandoned at version 4 (expected 5)");
	s.last_run = RUN_INTERRUPTED;
	health_evaluate(&s, 1100, 2000, r);
	cr_expect_str_eq(r[HEALTH_MIGRATIONS].reason,
	                 "last run interrupted at version 4 (expected 5)");
	/* A run still running, with the lock held: in progress. */
	s.last_run = RUN_RUNNING;
	s.lock_held = true;
	health_evaluate(&s, 1100, 2000, r);
	cr_expect_str_eq(r[HEALTH_MIGRATIONS].reason, "in progress: version 4, expected 5");
}

/* While the checker retries an unreachable database, /readyz says so and since when
 * (issue 20), still without any outside text. */
Test(health, unreachable_says_retrying_since_when)
{
	struct health_snap s = good();
	struct health_result r[HEALTH_NCHECKS];
	struct health_query q = {.verbose = false, .only = -1};
	char body[4096];

	s.db_ok = false;
	s.db_down_since = 1796613240; /* 2026-12-07T03:14:00Z */
	snprintf(s.db_error, sizeof s.db_error, "connection to server at \"db.internal\" failed");
	health_evaluate(&s, 1100, 2000, r);
	cr_assert_not(r[HEALTH_DATABASE].ok);
	cr_assert_str_eq(r[HEALTH_DATABASE].brief,
	                 "retrying: database unreachable since 2026-12-07T03:14:00Z");
	cr_assert(strstr(r[HEALTH_DATABASE].reason, "db.internal") != NULL);
	cr_assert_eq(health_format_readyz(r, &q, body, sizeof body), 503);
	cr_assert_str_eq(
	    body, "database failed: retrying: database unreachable since 2026-12-07T03:14:00Z\n");
}

Test(health, dirty_version_and_failed_run)
{
	struct health_snap s = good();
	struct health_result r[HEALTH_NCHECKS];

	s.dirty = true;
	health_evaluate(&s, 1100, 2000, r);
	cr_assert_not(r[HEALTH_MIGRATIONS].ok);
	cr_assert(strstr(r[HEALTH_MIGRATIONS].reason, "dirty") != NULL);

	s = good();
	s.head = 4;
	health_evaluate(&s, 1100, 2000, r);
	cr_assert_str_eq(r[HEALTH_MIGRATIONS].reason, "version 4 below expected 5");

	s.last_run = RUN_FAILED;
	health_evaluate(&s, 1100, 2000, r);
	cr_assert(strstr(r[HEALTH_MIGRATIONS].reason, "last run failed") != NULL);

	/* A failed run followed by an up-to-date head (e.g. another pod) is fine. */
	s.head = 5;
	health_evaluate(&s, 1100, 2000, r);
	cr_assert(r[HEALTH_MIGRATIONS].ok);

	s = good();
	s.head = 6; /* ahead of this pod's folder: a newer release migrated */
	health_evaluate(&s, 1100, 2000, r);
	cr_assert(r[HEALTH_MIGRATIONS].ok);
}

Test(health, missing_history_and_tables_named)
{
	struct health_snap s = good();
	struct health_result r[HEALTH_NCHECKS];

	s.history_exists = false;
	s.head = -1;
	snprintf(s.missing_tables, sizeof s.missing_tables, "mcp.contexts,users");
	health_evaluate(&s, 1100, 2000, r);
	cr_assert_not(r[HEALTH_MIGRATIONS].ok);
	cr_assert_str_eq(r[HEALTH_TABLES].reason, "missing: mcp.contexts,users");

	s.expected = 0; /* version 0 is a version: required, and not there */
	health_evaluate(&s, 1100, 2000, r);
	cr_assert_not(r[HEALTH_MIGRATIONS].ok);
	cr_assert_str_eq(r[HEALTH_MIGRATIONS].reason,
	                 "history table does not exist (expected version 0)");

	s.expected = -1; /* nothing required (no file), no history: ready as far as migrations go */
	health_evaluate(&s, 1100, 2000, r);
	cr_assert(r[HEALTH_MIGRATIONS].ok);

	/* a history without rows is below version 0 */
	s.history_exists = true;
	s.expected = 0;
	health_evaluate(&s, 1100, 2000, r);
	cr_assert_not(r[HEALTH_MIGRATIONS].ok);
	cr_assert_str_eq(r[HEALTH_MIGRATIONS].reason, "version none below expected 0");
}

Test(health, redis_only_when_required_and_shutdown)
{
	struct health_snap s = good();
	struct health_result r[HEALTH_NCHECKS];

	s.redis_configured = true;
	health_evaluate(&s, 1100, 2000, r);
	cr_assert(r[HEALTH_REDIS].ok, "not required: never fails readiness");
	s.redis_required = true;
	snprintf(s.redis_error, sizeof s.redis_error, "connect: refused");
	health_evaluate(&s, 1100, 2000, r);
	cr_assert_not(r[HEALTH_REDIS].ok);
	s.redis_ok = true;
	s.shutting_down = true;
	health_evaluate(&s, 1100, 2000, r);
	cr_assert(r[HEALTH_REDIS].ok);
	cr_assert_str_eq(r[HEALTH_SHUTDOWN].reason, "shutting down");
}

Test(health, verbose_lists_every_check)
{
	struct health_snap s = good();
	struct health_result r[HEALTH_NCHECKS];
	struct health_query q = {.only = -1};
	char buf[2048], bad[80];

	snprintf(s.missing_tables, sizeof s.missing_tables, "mcp.contexts");
	health_evaluate(&s, 1100, 2000, r);
	cr_assert_eq(health_parse_query("verbose", &q, bad, sizeof bad), 0);
	cr_assert_eq(health_format_readyz(r, &q, buf, sizeof buf), 503);
	cr_assert_str_eq(buf, "[+]database ok\n[+]migrations ok\n[-]tables failed: missing: "
	                      "mcp.contexts\n[+]redis ok\n[+]shutdown ok\nreadyz check failed\n");

	cr_assert_eq(health_format_readyz(r, &all, buf, sizeof buf), 503);
	cr_assert_str_eq(buf, "tables failed: missing: mcp.contexts\n");
}

Test(health, exclude_is_repeatable_and_unknown_is_refused)
{
	struct health_snap s = good();
	struct health_result r[HEALTH_NCHECKS];
	struct health_query q = {.only = -1};
	char buf[2048], bad[80];

	s.db_ok = false;
	health_evaluate(&s, 1100, 2000, r);
	cr_assert_eq(
	    health_parse_query("exclude=database&exclude=migrations&exclude=tables&verbose=1", &q,
	                       bad, sizeof bad),
	    0);
	cr_assert(q.verbose);
	cr_assert_eq(health_format_readyz(r, &q, buf, sizeof buf), 200, "%s", buf);
	cr_assert(strstr(buf, "[+]database excluded: ok\n") != NULL, "%s", buf);
	cr_assert(strstr(buf, "readyz check passed\n") != NULL);

	cr_assert_eq(health_parse_query("exclude=nope", &q, bad, sizeof bad), -1);
	cr_assert_str_eq(bad, "nope");
	cr_assert_eq(health_parse_query(NULL, &q, bad, sizeof bad), 0);
	cr_assert_not(q.verbose);
}

Test(health, single_check)
{
	struct health_snap s = good();
	struct health_result r[HEALTH_NCHECKS];
	struct health_query q = {.only = -1};
	char buf[256];

	s.dirty = true;
	health_evaluate(&s, 1100, 2000, r);
	q.only = health_check_lookup("tables", 6);
	cr_assert_eq(q.only, HEALTH_TABLES);
	cr_assert_eq(health_format_readyz(r, &q, buf, sizeof buf), 200);
	q.only = HEALTH_MIGRATIONS;
	cr_assert_eq(health_format_readyz(r, &q, buf, sizeof buf), 503);
	cr_assert_eq(health_check_lookup("table", 5), -1);
}

Test(health, liveness_deadline)
{
	struct health_snap s = good();
	char why[128];

	cr_assert(health_live(&s, 1000 + 5000, 5000, why, sizeof why));
	cr_assert_not(health_live(&s, 1000 + 5001, 5000, why, sizeof why));
	cr_assert(strstr(why, "checker stuck") != NULL);
}

Test(health, shared_state_roundtrip)
{
	struct health_snap s = good(), out;
	struct report *one = calloc(1, sizeof *one), *two = calloc(1, sizeof *two);
	const struct report *rep = NULL;
	struct health_report *held;

	cr_assert(one != NULL && two != NULL);
	one->database = strdup("one");
	two->database = strdup("two");
	health_init(7, true, false, false);
	health_publish(&s);
	health_set_shutdown();
	cr_assert_null(health_report_hold(&rep), "no report published yet");
	cr_assert_null(rep);
	health_set_report(one);
	health_snapshot(&out);
	cr_assert_eq(out.expected, 7, "expected comes from init, not the checker");
	cr_assert_eq(out.head, 5);
	cr_assert(out.shutting_down);
	cr_assert_eq(out.checks_ok, 1);
	cr_assert_eq(out.duration_count, 1);
	held = health_report_hold(&rep);
	cr_assert_eq(rep, one);
	/* A newer report replaces it, but a handler still formatting the old
	 * one keeps it alive until it lets go (ASan would see a use after free). */
	health_set_report(two);
	cr_assert_str_eq(rep->database, "one");
	health_report_release(held);
	held = health_report_hold(&rep);
	cr_assert_eq(rep, two);
	health_report_release(held);
	health_init(0, false, false, false); /* frees the report */
	cr_assert_null(health_report_hold(&rep));
}

Test(probe, parses_urls_strictly)
{
	struct probe_url u;

	cr_assert_eq(probe_parse_url("http://127.0.0.1:8081/readyz?verbose", &u, NULL), 0);
	cr_assert_str_eq(u.host, "127.0.0.1");
	cr_assert_str_eq(u.port, "8081");
	cr_assert_str_eq(u.path, "/readyz?verbose");
	cr_assert_eq(probe_parse_url("http://[::1]/", &u, NULL), 0);
	cr_assert_str_eq(u.host, "::1");
	cr_assert_str_eq(u.port, "80");
	cr_assert_eq(probe_parse_url("http://localhost", &u, NULL), 0);
	cr_assert_str_eq(u.path, "/");

	static const char *const bad[] = {"https://x/",
	                                  "x:80/readyz",
	                                  "http://:80/",
	                                  "http://h:0/",
	                                  "http://h:99999/",
	                                  "http://h:80x/",
	                                  "http://u@h/",
	                                  "http://h/a b",
	                                  "http://h/#f",
	                                  "http://[::1/",
	                                  ""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct sg_err err = {.code = SG_E_OK};

		cr_assert_eq(probe_parse_url(bad[i], &u, &err), -1, "%s", bad[i]);
		cr_assert_eq(err.code, SG_E_USAGE, "%s", bad[i]);
	}
}
