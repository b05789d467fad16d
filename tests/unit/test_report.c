/* test_report.c - the status report's two formatters (the `status` table and the JSON of
 * `status --json` and /admin/migration-status) from reports built by hand, without a server. */
#include "report.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

/* 64 hex digits of one kind, as the fixture's checksums are. */
#define SUM(c4) c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4
#define SUM_A SUM("aaaa")
#define SUM_B SUM("bbbb")
#define SUM_C SUM("cccc")
#define SUM_D SUM("dddd")
#define SUM_E SUM("eeee")
#define SUM_F SUM("ffff")

/* The parts of a report and the memory they point into; the report borrows all of it. */
struct fixture {
	struct cfg cfg;
	struct mig files[3];
	struct mig_set set;
	struct hist_row rows[4];
	struct report_run runs[2];
	struct report rep;
};

static char *text_of(const struct report *rep)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	cr_assert_not_null(f);
	report_print_text(f, rep);
	cr_assert_eq(fclose(f), 0);
	return text;
}

static char *json_of(const struct report *rep)
{
	struct json_object *o = report_to_json(rep);
	char *text;

	cr_assert_not_null(o);
	text = strdup(json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

static void sum(char out[65], char c)
{
	memset(out, c, 64);
	out[64] = '\0';
}

/* One applied row; the checksum is 64 times c. */
static struct hist_row row(long version, const char *name, const char *by, char c, bool dirty)
{
	struct hist_row r = {.version = version,
	                     .name = name,
	                     .applied_at = "2026-01-02T03:04:05Z",
	                     .duration_ms = version * 1000 + 7,
	                     .applied_by = by,
	                     .dirty = dirty};

	sum(r.checksum, c);
	return r;
}

/* A folder of versions 1, 2 and 5 against a history of 1 (baselined), 2 (applied from another
 * file: drift), 3 (no file) and 4 (no file, a long name, an ESC in applied_by, dirty when asked);
 * a lock holder, a lease holder and two runs, one failed. */
static void build(struct fixture *x, bool allow_drift, bool dirty)
{
	static char names[3][8] = {"first", "second", "fifth"};
	static char ups[3][32] = {"000001_first.up.sql", "000002_second.up.sql",
	                          "000005_fifth.up.sql"};
	static const long versions[3] = {1, 2, 5};
	static const char sums[3] = {'a', 'b', 'e'};

	memset(x, 0, sizeof *x);
	x->cfg.table = "schemagate_migrations";
	x->cfg.dir = "./migrations";
	x->cfg.allow_drift = allow_drift;
	x->cfg.target = -1;
	for (int i = 0; i < 3; i++) {
		x->files[i].version = versions[i];
		x->files[i].name = names[i];
		x->files[i].up_file = ups[i];
		x->files[i].up_path = ups[i];
		sum(x->files[i].checksum, sums[i]);
	}
	x->set = (struct mig_set){x->files, 3};
	x->rows[0] = row(1, "first", "baseline by ops", 'a', false);
	x->rows[1] = row(2, "second", "pod-a", 'f', false); /* not the file's 'b's */
	x->rows[2] = row(3, "third", "pod-a", 'c', false);
	x->rows[3] =
	    row(4, "a_description_long_enough_to_be_cut_at_32", "evil\x1b[2Jpod", 'd', dirty);
	x->rep.h =
	    (struct hist){.schema = "app", .exists = true, .v = x->rows, .n = 4, .backend_pid = 42};
	x->rep.cfg = &x->cfg;
	x->rep.set = &x->set;
	x->rep.database = "postgres://app:***@db:5432/app";
	cr_assert_eq(plan_make(&x->set, &x->rep.h, x->cfg.target, &x->rep.p, NULL), 0);
	plan_verdict(&x->rep.p, &x->rep.h, (struct plan_allow){allow_drift, false},
	             &x->rep.verdict);
	x->runs[0] = (struct report_run){.id = 8,
	                                 .backend_pid = 901,
	                                 .from_version = 4,
	                                 .to_version = 5,
	                                 .reached_version = 4,
	                                 .has_reached = true,
	                                 .command = "migrate",
	                                 .identity = "pod-b",
	                                 .started_at = "2026-01-05T00:00:00.000Z",
	                                 .finished_at = "2026-01-05T00:00:01.500Z",
	                                 .outcome = "failed",
	                                 .error = "000005_fifth.up.sql:1:1: boom"};
	x->runs[1] = (struct report_run){.id = 7,
	                                 .backend_pid = 900,
	                                 .from_version = 0,
	                                 .to_version = 4,
	                                 .reached_version = 4,
	                                 .fencing_token = 3,
	                                 .has_reached = true,
	                                 .has_fencing = true,
	                                 .command = "migrate",
	                                 .identity = "pod-a",
	                                 .started_at = "2026-01-02T03:04:00.000Z",
	                                 .finished_at = "2026-01-02T03:04:07.000Z",
	                                 .outcome = "succeeded"};
	x->rep.runs = x->runs;
	x->rep.nruns = 2;
	x->rep.lock.key = 1234567890123;
	x->rep.lock.held = true;
	x->rep.lock.pid = 777;
	x->rep.lock.application_name = "schemagate";
	x->rep.lock.since = "2026-01-05T00:00:00Z";
	x->rep.lease.configured = true;
	snprintf(x->rep.lease.key, sizeof x->rep.lease.key, "schemagate:lease:00000123");
	x->rep.lease.reachable = true;
	snprintf(x->rep.lease.info.holder, sizeof x->rep.lease.info.holder, "pod-b:abcd");
	x->rep.lease.info.remaining_ms = 2500;
	x->rep.lease.info.fencing = 4;
}

Test(report, text_shows_the_verdict_then_every_row_aligned_and_escaped)
{
	struct fixture x;
	char *text;

	build(&x, false, true);
	text = text_of(&x.rep);
	cr_expect_str_eq(
	    text, "verdict:    REFUSED, dirty: migration 4 "
	          "(a_description_long_enough_to_be_cut_at_32) is dirty: it failed part-way "
	          "outside a transaction. Repair the schema by hand, then run 'schemagate force 4' "
	          "if it is now fully applied, or 'schemagate force 3' if you reverted it\n"
	          "database:   postgres://app:***@db:5432/app\n"
	          "history:    app.schemagate_migrations\n"
	          "version:    4 (target 5)  DIRTY\n"
	          "pending:    1   drift: 1   missing files: 2\n"
	          "lock:       held by pid 777 (schemagate) since 2026-01-05T00:00:00Z\n"
	          "lease:      held by pod-b:abcd, 2500 ms left (fencing token 4)\n"
	          "\n"
	          "VERSION  NAME                              APPLIED AT                      MS  "
	          "APPLIED BY            CHECKSUM      STATE\n"
	          "1        first                             2026-01-02T03:04:05Z          1007  "
	          "baseline by ops       aaaaaaaaaaaa  baselined\n"
	          "2        second                            2026-01-02T03:04:05Z          2007  "
	          "pod-a                 ffffffffffff  DRIFT\n"
	          "3        third                             2026-01-02T03:04:05Z          3007  "
	          "pod-a                 cccccccccccc  applied (no file)\n"
	          "4        a_description_long_enough_to_be\u2026  2026-01-02T03:04:05Z          "
	          "4007  evil\\x1b[2Jpod        dddddddddddd  DIRTY\n"
	          "5        fifth                             -                                -  "
	          "-                     eeeeeeeeeeee  pending\n"
	          "\n"
	          "RECENT RUNS\n"
	          "ID      COMMAND   STARTED                   BY                    OUTCOME      "
	          "VERSIONS / ERROR\n"
	          "8       migrate   2026-01-05T00:00:00.000Z  pod-b                 failed       "
	          "4 -> 4  000005_fifth.up.sql:1:1: boom\n"
	          "7       migrate   2026-01-02T03:04:00.000Z  pod-a                 succeeded    "
	          "0 -> 4\n");
	free(text);
	plan_free(&x.rep.p);
}

Test(report, json_keeps_every_field_in_its_place)
{
	struct fixture x;
	char *json;

	build(&x, true, false);
	json = json_of(&x.rep);
	cr_expect_str_eq(json, "{\n"
	                       "  \"verdict\": {\n"
	                       "    \"state\": \"pending\",\n"
	                       "    \"refused\": false,\n"
	                       "    \"reason\": \"1 pending migration, version 4 to 5\"\n"
	                       "  },\n"
	                       "  \"database\": \"postgres://app:***@db:5432/app\",\n"
	                       "  \"schema\": \"app\",\n"
	                       "  \"table\": \"schemagate_migrations\",\n"
	                       "  \"history_exists\": true,\n"
	                       "  \"current_version\": 4,\n"
	                       "  \"target_version\": 5,\n"
	                       "  \"dirty\": false,\n"
	                       "  \"migrations_dir\": \"./migrations\",\n"
	                       "  \"folder_readable\": true,\n"
	                       "  \"folder_error\": null,\n"
	                       "  \"applied\": [\n"
	                       "    {\n"
	                       "      \"version\": 1,\n"
	                       "      \"name\": \"first\",\n"
	                       "      \"checksum\": \"" SUM_A "\",\n"
	                       "      \"applied_at\": \"2026-01-02T03:04:05Z\",\n"
	                       "      \"duration_ms\": 1007,\n"
	                       "      \"applied_by\": \"baseline by ops\",\n"
	                       "      \"dirty\": false,\n"
	                       "      \"file\": \"000001_first.up.sql\",\n"
	                       "      \"drift\": false\n"
	                       "    },\n"
	                       "    {\n"
	                       "      \"version\": 2,\n"
	                       "      \"name\": \"second\",\n"
	                       "      \"checksum\": \"" SUM_F "\",\n"
	                       "      \"applied_at\": \"2026-01-02T03:04:05Z\",\n"
	                       "      \"duration_ms\": 2007,\n"
	                       "      \"applied_by\": \"pod-a\",\n"
	                       "      \"dirty\": false,\n"
	                       "      \"file\": \"000002_second.up.sql\",\n"
	                       "      \"drift\": true\n"
	                       "    },\n"
	                       "    {\n"
	                       "      \"version\": 3,\n"
	                       "      \"name\": \"third\",\n"
	                       "      \"checksum\": \"" SUM_C "\",\n"
	                       "      \"applied_at\": \"2026-01-02T03:04:05Z\",\n"
	                       "      \"duration_ms\": 3007,\n"
	                       "      \"applied_by\": \"pod-a\",\n"
	                       "      \"dirty\": false,\n"
	                       "      \"file\": null,\n"
	                       "      \"drift\": false\n"
	                       "    },\n"
	                       "    {\n"
	                       "      \"version\": 4,\n"
	                       "      \"name\": \"a_description_long_enough_to_be_cut_at_32\",\n"
	                       "      \"checksum\": \"" SUM_D "\",\n"
	                       "      \"applied_at\": \"2026-01-02T03:04:05Z\",\n"
	                       "      \"duration_ms\": 4007,\n"
	                       "      \"applied_by\": \"evil\\u001b[2Jpod\",\n"
	                       "      \"dirty\": false,\n"
	                       "      \"file\": null,\n"
	                       "      \"drift\": false\n"
	                       "    }\n"
	                       "  ],\n"
	                       "  \"pending\": [\n"
	                       "    {\n"
	                       "      \"version\": 5,\n"
	                       "      \"name\": \"fifth\",\n"
	                       "      \"file\": \"000005_fifth.up.sql\",\n"
	                       "      \"file_checksum\": \"" SUM_E "\"\n"
	                       "    }\n"
	                       "  ],\n"
	                       "  \"drift\": [\n"
	                       "    {\n"
	                       "      \"version\": 2,\n"
	                       "      \"name\": \"second\",\n"
	                       "      \"file\": \"000002_second.up.sql\",\n"
	                       "      \"file_checksum\": \"" SUM_B "\",\n"
	                       "      \"applied_checksum\": \"" SUM_F "\"\n"
	                       "    }\n"
	                       "  ],\n"
	                       "  \"out_of_order\": [\n"
	                       "  ],\n"
	                       "  \"missing\": [\n"
	                       "    {\n"
	                       "      \"version\": 3,\n"
	                       "      \"name\": \"third\"\n"
	                       "    },\n"
	                       "    {\n"
	                       "      \"version\": 4,\n"
	                       "      \"name\": \"a_description_long_enough_to_be_cut_at_32\"\n"
	                       "    }\n"
	                       "  ],\n"
	                       "  \"runs\": [\n"
	                       "    {\n"
	                       "      \"id\": 8,\n"
	                       "      \"command\": \"migrate\",\n"
	                       "      \"identity\": \"pod-b\",\n"
	                       "      \"backend_pid\": 901,\n"
	                       "      \"started_at\": \"2026-01-05T00:00:00.000Z\",\n"
	                       "      \"finished_at\": \"2026-01-05T00:00:01.500Z\",\n"
	                       "      \"from_version\": 4,\n"
	                       "      \"to_version\": 5,\n"
	                       "      \"reached_version\": 4,\n"
	                       "      \"outcome\": \"failed\",\n"
	                       "      \"error\": \"000005_fifth.up.sql:1:1: boom\",\n"
	                       "      \"fencing_token\": null\n"
	                       "    },\n"
	                       "    {\n"
	                       "      \"id\": 7,\n"
	                       "      \"command\": \"migrate\",\n"
	                       "      \"identity\": \"pod-a\",\n"
	                       "      \"backend_pid\": 900,\n"
	                       "      \"started_at\": \"2026-01-02T03:04:00.000Z\",\n"
	                       "      \"finished_at\": \"2026-01-02T03:04:07.000Z\",\n"
	                       "      \"from_version\": 0,\n"
	                       "      \"to_version\": 4,\n"
	                       "      \"reached_version\": 4,\n"
	                       "      \"outcome\": \"succeeded\",\n"
	                       "      \"error\": null,\n"
	                       "      \"fencing_token\": 3\n"
	                       "    }\n"
	                       "  ],\n"
	                       "  \"lock\": {\n"
	                       "    \"key\": 1234567890123,\n"
	                       "    \"held\": true,\n"
	                       "    \"pid\": 777,\n"
	                       "    \"application_name\": \"schemagate\",\n"
	                       "    \"since\": \"2026-01-05T00:00:00Z\"\n"
	                       "  },\n"
	                       "  \"lease\": {\n"
	                       "    \"key\": \"schemagate:lease:00000123\",\n"
	                       "    \"reachable\": true,\n"
	                       "    \"held\": true,\n"
	                       "    \"holder\": \"pod-b:abcd\",\n"
	                       "    \"remaining_ms\": 2500,\n"
	                       "    \"fencing_token\": 4\n"
	                       "  }\n"
	                       "}");
	free(json);
	plan_free(&x.rep.p);
}

/* The folder unreadable, no lock holder, Redis unreachable, no runs, no history table. */
Test(report, unknown_verdict_free_lock_and_unreachable_redis)
{
	struct fixture x;
	char *text, *json;

	build(&x, false, false);
	plan_free(&x.rep.p);
	x.rep.set = NULL;
	x.rep.h.n = 0;
	x.rep.h.exists = false;
	cr_assert_eq(plan_make(&(struct mig_set){NULL, 0}, &x.rep.h, -1, &x.rep.p, NULL), 0);
	x.rep.nruns = 0;
	x.rep.lock.held = false;
	x.rep.lease.reachable = false;
	snprintf(x.rep.lease.error, sizeof x.rep.lease.error, "connect 127.0.0.1:6379: refused");
	text = text_of(&x.rep);
	cr_expect_str_eq(text, "verdict:    unknown: the migrations folder is not readable\n"
	                       "database:   postgres://app:***@db:5432/app\n"
	                       "history:    app.schemagate_migrations (not created yet)\n"
	                       "version:    none (target -)\n"
	                       "pending:    0   drift: 0   missing files: 0\n"
	                       "lock:       free\n"
	                       "lease:      schemagate:lease:00000123: Redis unreachable (connect "
	                       "127.0.0.1:6379: refused)\n"
	                       "\n"
	                       "VERSION  NAME                              APPLIED AT              "
	                       "        MS  APPLIED BY            CHECKSUM      STATE\n");
	json = json_of(&x.rep);
	cr_expect_str_eq(json, "{\n"
	                       "  \"verdict\": {\n"
	                       "    \"state\": \"unknown\",\n"
	                       "    \"refused\": false,\n"
	                       "    \"reason\": \"the migrations folder is not readable\"\n"
	                       "  },\n"
	                       "  \"database\": \"postgres://app:***@db:5432/app\",\n"
	                       "  \"schema\": \"app\",\n"
	                       "  \"table\": \"schemagate_migrations\",\n"
	                       "  \"history_exists\": false,\n"
	                       "  \"current_version\": null,\n"
	                       "  \"target_version\": null,\n"
	                       "  \"dirty\": false,\n"
	                       "  \"migrations_dir\": \"./migrations\",\n"
	                       "  \"folder_readable\": false,\n"
	                       "  \"folder_error\": null,\n"
	                       "  \"applied\": [\n"
	                       "  ],\n"
	                       "  \"pending\": [\n"
	                       "  ],\n"
	                       "  \"drift\": [\n"
	                       "  ],\n"
	                       "  \"out_of_order\": [\n"
	                       "  ],\n"
	                       "  \"missing\": [\n"
	                       "  ],\n"
	                       "  \"runs\": [\n"
	                       "  ],\n"
	                       "  \"lock\": {\n"
	                       "    \"key\": 1234567890123,\n"
	                       "    \"held\": false\n"
	                       "  },\n"
	                       "  \"lease\": {\n"
	                       "    \"key\": \"schemagate:lease:00000123\",\n"
	                       "    \"reachable\": false,\n"
	                       "    \"error\": \"connect 127.0.0.1:6379: refused\"\n"
	                       "  }\n"
	                       "}");
	free(text);
	free(json);
	plan_free(&x.rep.p);
}
