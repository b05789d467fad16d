/* test_metrics.c - Prometheus text format of the snapshot and request counters. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "metrics.h"

Test(metrics, bounded_labels)
{
	cr_assert_str_eq(metrics_path_label(metrics_path_index("/readyz/tables")), "/readyz");
	cr_assert_str_eq(metrics_path_label(metrics_path_index("/etc/passwd")), "other");
	cr_assert_str_eq(metrics_path_label(metrics_path_index("/metrics")), "/metrics");
	cr_assert_str_eq(metrics_code_label(metrics_code_index(503)), "503");
	cr_assert_str_eq(metrics_code_label(metrics_code_index(418)), "other");
}

Test(metrics, formats_every_family)
{
	struct health_snap s;
	struct health_result r[HEALTH_NCHECKS];
	struct metrics_http h;
	struct metrics_process p = {1700000000, 4096 * 100, 7};
	char *text;

	memset(&s, 0, sizeof s);
	memset(&h, 0, sizeof h);
	s.taken_ms = 1000;
	s.db_ok = true;
	s.history_exists = true;
	s.head = 3;
	s.expected = 3;
	s.pending = 2;
	s.checks_ok = 4;
	s.checks_error = 1;
	s.duration_buckets[HEALTH_NBUCKETS - 1] = 5;
	s.duration_buckets[0] = 2;
	s.duration_count = 5;
	s.duration_sum_s = 0.125;
	h.count[metrics_path_index("/readyz")][metrics_code_index(200)] = 9;
	health_evaluate(&s, 1100, 2000, r);
	text = metrics_format(&s, r, &h, &p);
	cr_assert_not_null(text);
	cr_assert(
	    strstr(text, "# TYPE schemagate_schema_version gauge\nschemagate_schema_version 3\n"));
	cr_assert(strstr(text, "schemagate_pending_migrations 2\n"));
	cr_assert(strstr(text, "schemagate_ready 1\n"));
	cr_assert(strstr(text, "schemagate_dirty 0\n"));
	cr_assert(strstr(text, "# TYPE schemagate_check_duration_seconds histogram\n"));
	cr_assert(strstr(text, "schemagate_check_duration_seconds_bucket{le=\"0.005\"} 2\n"));
	cr_assert(strstr(text, "schemagate_check_duration_seconds_bucket{le=\"+Inf\"} 5\n"));
	cr_assert(strstr(text, "schemagate_check_duration_seconds_count 5\n"));
	cr_assert(strstr(text, "schemagate_checks_total{result=\"error\"} 1\n"));
	cr_assert(
	    strstr(text, "schemagate_http_requests_total{path=\"/readyz\",code=\"200\"} 9\n"));
	cr_assert(strstr(text, "process_resident_memory_bytes 409600\n"));
	cr_assert(strstr(text, "process_open_fds 7\n"));
	cr_assert(strstr(text, "process_start_time_seconds 1700000000\n"));
	free(text);
}

/* A family's row of the Markdown reference, or NULL. */
static const char *reference_row(const char *text, const char *name)
{
	char needle[128];

	snprintf(needle, sizeof needle, "\n| `%s` |", name);
	return strstr(text, needle);
}

Test(metrics, reference_lists_every_family_the_page_has)
{
	struct health_snap s;
	struct health_result r[HEALTH_NCHECKS];
	struct metrics_http h;
	struct metrics_process p = {1, 2, 3};
	char *page, *ref = NULL, *line, *save = NULL;
	size_t len = 0, families = 0, rows = 0;
	FILE *f = open_memstream(&ref, &len);
	struct sg_err err;

	memset(&s, 0, sizeof s);
	memset(r, 0, sizeof r);
	memset(&h, 0, sizeof h);
	cr_assert_not_null(f);
	cr_assert_eq(metrics_print_reference(f, TEXTTABLE_MARKDOWN, &err), 0, "%s", err.msg);
	cr_assert_eq(fclose(f), 0);
	page = metrics_format(&s, r, &h, &p);
	cr_assert_not_null(page);
	for (line = strtok_r(page, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char *sp = strchr(line + 7, ' ');

			*sp = '\0';
			families++;
			cr_assert_not_null(reference_row(ref, line + 7), "%s missing", line + 7);
		}
	for (const char *q = ref; (q = strstr(q, "\n| `")) != NULL; q++)
		rows++;
	cr_assert_geq(families, 15);
	cr_assert_eq(rows, families, "%zu rows, %zu families on the page", rows, families);
	/* label names and every value they take; a histogram's "le" is no label */
	cr_assert(strstr(reference_row(ref, "schemagate_check_passed"),
	                 "| gauge | check: database, migrations, tables, redis, shutdown |"));
	cr_assert(strstr(reference_row(ref, "schemagate_http_requests_total"),
	                 "path: /healthz, /livez, /readyz, /health, /admin/migration-status, "
	                 "/metrics, other; code: 200, 400, 401, 404, 405, 500, 503, other |"));
	cr_assert(strstr(reference_row(ref, "schemagate_check_duration_seconds"),
	                 "| histogram | \u2014 | Duration of one database check. |"));
	cr_assert_not_null(reference_row(ref, "schemagate_pending_migrations"));
	cr_assert_not_null(reference_row(ref, "process_open_fds"));
	free(page);
	free(ref);
}

/* The newest run's outcome is a fixed label set (1 for the current one), whatever text the
 * runs table holds; the lock's age is left out when the holder cannot be seen. */
Test(metrics, run_outcome_and_lock_age)
{
	static const struct {
		const char *outcome;
		const char *one; /* the label at 1, NULL: none */
	} cases[] = {{"failed", "failed"}, {"abandoned", "abandoned"}, {"", NULL}, {"bogus", NULL}};
	static const char *const all[] = {"running", "succeeded", "failed", "interrupted",
	                                  "abandoned"};
	struct health_snap s;
	struct health_result r[HEALTH_NCHECKS];
	struct metrics_http h;
	struct metrics_process p = {1700000000, -1, -1};

	memset(&h, 0, sizeof h);
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		char *text, line[128];

		memset(&s, 0, sizeof s);
		s.last_run = hist_outcome_of(cases[c].outcome);
		s.last_run_end_s = 1700000100.5;
		s.last_run_duration_s = c == 0 ? 2.25 : -1;
		s.lock_held = c == 1;
		s.lock_age_s = c == 1 ? -1 : 0;
		health_evaluate(&s, 1100, 2000, r);
		text = metrics_format(&s, r, &h, &p);
		cr_assert_not_null(text);
		for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
			bool on = cases[c].one != NULL && strcmp(all[i], cases[c].one) == 0;

			snprintf(line, sizeof line,
			         "\nschemagate_last_run_outcome{outcome=\"%s\"} %d\n", all[i],
			         on ? 1 : 0);
			cr_assert(strstr(text, line), "outcome %s: no %s in\n%s", cases[c].outcome,
			          line + 1, text);
		}
		cr_assert(
		    strstr(text, "\nschemagate_last_run_end_timestamp_seconds 1700000100.5\n"));
		cr_assert_eq(strstr(text, "\nschemagate_last_run_duration_seconds 2.25\n") != NULL,
		             c == 0);
		cr_assert_eq(strstr(text, "schemagate_migration_lock_age_seconds") != NULL, c != 1);
		cr_assert(strstr(text, "\nschemagate_build_info{version=\"" SCHEMAGATE_VERSION
		                       "\"} 1\n"));
		free(text);
	}
}
