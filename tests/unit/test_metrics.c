/* test_metrics.c - Prometheus text format of the snapshot and request counters. */
#include <criterion/criterion.h>
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
