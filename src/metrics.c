/* metrics.c - Prometheus text exposition of the snapshot, request counters and process basics. */
#include "metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const path_labels[METRICS_NPATHS] = {
    "/healthz", "/livez", "/readyz", "/health", "/admin/migration-status", "/metrics", "other"};
static const int codes[METRICS_NCODES - 1] = {200, 400, 401, 404, 405, 500, 503};
static const char *const code_labels[METRICS_NCODES] = {"200", "400", "401", "404",
                                                        "405", "500", "503", "other"};

int metrics_path_index(const char *uri)
{
	if (uri == NULL)
		return METRICS_NPATHS - 1;
	if (strncmp(uri, "/readyz/", 8) == 0)
		return 2;
	for (int i = 0; i < METRICS_NPATHS - 1; i++)
		if (strcmp(uri, path_labels[i]) == 0)
			return i;
	return METRICS_NPATHS - 1;
}

const char *metrics_path_label(int idx)
{
	return idx >= 0 && idx < METRICS_NPATHS ? path_labels[idx] : "other";
}

int metrics_code_index(int status)
{
	for (int i = 0; i < METRICS_NCODES - 1; i++)
		if (codes[i] == status)
			return i;
	return METRICS_NCODES - 1;
}

const char *metrics_code_label(int idx)
{
	return idx >= 0 && idx < METRICS_NCODES ? code_labels[idx] : "other";
}

void metrics_process_read(struct metrics_process *p, double start_time_s)
{
	FILE *f;
	unsigned long long size = 0, resident = 0;
	DIR *d;
	struct dirent *e;

	p->start_time_s = start_time_s;
	p->rss_bytes = -1;
	p->open_fds = -1;
	if ((f = fopen("/proc/self/statm", "r")) != NULL) {
		if (fscanf(f, "%llu %llu", &size, &resident) == 2)
			p->rss_bytes = (long long)resident * sysconf(_SC_PAGESIZE);
		fclose(f);
	}
	if ((d = opendir("/proc/self/fd")) != NULL) {
		long n = 0;

		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				n++;
		closedir(d);
		p->open_fds = n - 1; /* the directory's own descriptor */
	}
}

static void gauge(FILE *f, const char *name, const char *help, double v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, v);
}

static void counter(FILE *f, const char *name, const char *help, unsigned long long v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, v);
}

char *metrics_format(const struct health_snap *s, const struct health_result r[HEALTH_NCHECKS],
                     const struct metrics_http *h, const struct metrics_process *p)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	gauge(f, "schemagate_schema_version",
	      "Highest migration version recorded in the history table.", (double)s->head);
	gauge(f, "schemagate_expected_version", "Version required for readiness.",
	      (double)s->expected);
	if (s->pending >= 0)
		gauge(f, "schemagate_pending_migrations",
		      "Migration files in the folder above the recorded version.",
		      (double)s->pending);
	gauge(f, "schemagate_ready", "1 when every readiness check passes.",
	      health_ready(r) ? 1 : 0);
	gauge(f, "schemagate_dirty", "1 when a history row is dirty (needs manual repair).",
	      s->dirty ? 1 : 0);
	gauge(f, "schemagate_migration_in_progress", "1 while the migration advisory lock is held.",
	      s->lock_held ? 1 : 0);
	gauge(f, "schemagate_database_up", "1 when the last check reached the database.",
	      s->db_ok ? 1 : 0);
	fprintf(f, "# HELP schemagate_check_passed 1 when the named readiness check passes.\n"
	           "# TYPE schemagate_check_passed gauge\n");
	for (int i = 0; i < HEALTH_NCHECKS; i++)
		fprintf(f, "schemagate_check_passed{check=\"%s\"} %d\n",
		        health_check_name((enum health_check)i), r[i].ok ? 1 : 0);

	fprintf(f, "# HELP schemagate_check_duration_seconds Duration of one database check.\n"
	           "# TYPE schemagate_check_duration_seconds histogram\n");
	for (int i = 0; i < HEALTH_NBUCKETS; i++)
		fprintf(f, "schemagate_check_duration_seconds_bucket{le=\"%g\"} %llu\n",
		        health_buckets[i], s->duration_buckets[i]);
	fprintf(f, "schemagate_check_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
	        s->duration_count);
	fprintf(f, "schemagate_check_duration_seconds_sum %.6f\n", s->duration_sum_s);
	fprintf(f, "schemagate_check_duration_seconds_count %llu\n", s->duration_count);

	fprintf(f,
	        "# HELP schemagate_checks_total Database checks by result.\n"
	        "# TYPE schemagate_checks_total counter\n"
	        "schemagate_checks_total{result=\"ok\"} %llu\n"
	        "schemagate_checks_total{result=\"error\"} %llu\n",
	        s->checks_ok, s->checks_error);

	fprintf(f, "# HELP schemagate_http_requests_total HTTP requests by path and status code.\n"
	           "# TYPE schemagate_http_requests_total counter\n");
	for (int i = 0; i < METRICS_NPATHS; i++)
		for (int c = 0; c < METRICS_NCODES; c++)
			if (h->count[i][c] > 0)
				fprintf(f,
				        "schemagate_http_requests_total{path=\"%s\",code=\"%s\"} "
				        "%llu\n",
				        path_labels[i], code_labels[c], h->count[i][c]);

	gauge(f, "schemagate_http_connections_open", "Client connections open at the front door.",
	      (double)h->gate.open);
	counter(f, "schemagate_http_connections_accepted_total", "Client connections accepted.",
	        h->gate.accepted);
	counter(f, "schemagate_http_connections_evicted_total",
	        "Unfinished requests dropped to admit a newer client (serve.max_connections) or to "
	        "stay within the buffer budget.",
	        h->gate.evicted);
	gauge(f, "schemagate_http_buffer_bytes",
	      "Request and response buffers held for client connections (budget: 16 MiB).",
	      (double)h->gate.buffered);
	counter(f, "schemagate_http_timeouts_total",
	        "Client connections ended by serve.request_timeout or a stalled response.",
	        h->gate.timed_out);
	counter(f, "schemagate_http_requests_refused_total",
	        "Requests answered by the front door itself: malformed (400), with a body (413), "
	        "head too large (431).",
	        h->gate.refused);

	gauge(f, "process_start_time_seconds",
	      "Start time of the process since unix epoch in seconds.", p->start_time_s);
	if (p->rss_bytes >= 0)
		gauge(f, "process_resident_memory_bytes", "Resident memory size in bytes.",
		      (double)p->rss_bytes);
	if (p->open_fds >= 0)
		gauge(f, "process_open_fds", "Number of open file descriptors.",
		      (double)p->open_fds);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
