/* metrics.c - Prometheus text exposition of the snapshot, request counters and process basics. */
#include "metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "history.h"
#include "route.h"

static const int codes[METRICS_NCODES - 1] = {200, 400, 401, 404, 405, 500, 503};
static const char *const code_labels[METRICS_NCODES] = {"200", "400", "401", "404",
                                                        "405", "500", "503", "other"};

int metrics_path_index(const char *uri)
{
	return (int)route_index(uri != NULL ? route_find(uri, strlen(uri)) : NULL);
}

const char *metrics_path_label(int idx)
{
	return idx >= 0 && idx < ROUTE_COUNT ? route_table[idx].path : "other";
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
	      "Highest migration version recorded in the history table; -1 when none is (0 is a "
	      "version).",
	      (double)s->head);
	gauge(f, "schemagate_expected_version",
	      "Version required for readiness; -1 when none is (an empty folder).",
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
	/* Lock age and the newest run: what the alerts need (stuck, failed) and the dashboard
	 * shows; the outcome as a fixed label set, 1 for the current one. */
	if (s->lock_age_s >= 0)
		gauge(f, "schemagate_migration_lock_age_seconds",
		      "How long the session holding the migration advisory lock has held it "
		      "(since its running run started, else since it connected); 0 when free.",
		      s->lock_age_s);
	fprintf(f, "# HELP schemagate_last_run_outcome 1 for the outcome of the newest run in "
	           "the runs table (all 0 before the first).\n"
	           "# TYPE schemagate_last_run_outcome gauge\n");
	for (int i = RUN_RUNNING; i < RUN_OUTCOMES; i++)
		fprintf(f, "schemagate_last_run_outcome{outcome=\"%s\"} %d\n",
		        hist_outcome_name((enum run_outcome)i), s->last_run == (enum run_outcome)i);
	gauge(f, "schemagate_last_run_end_timestamp_seconds",
	      "When the newest run ended, in seconds since the epoch (0: none yet, or running).",
	      s->last_run_end_s);
	if (s->last_run_duration_s >= 0)
		gauge(f, "schemagate_last_run_duration_seconds",
		      "Duration of the newest run (so far, while it runs).",
		      s->last_run_duration_s);
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
				        metrics_path_label(i), code_labels[c], h->count[i][c]);

	gauge(f, "schemagate_http_connections_open", "Client connections open at the front door.",
	      (double)h->gate.open);
	counter(f, "schemagate_http_connections_accepted_total", "Client connections accepted.",
	        h->gate.accepted);
	counter(f, "schemagate_http_connections_evicted_total",
	        "Client connections dropped to admit a newer client (serve.max_connections), to "
	        "stay within the buffer budget, or to keep room for probes.",
	        h->gate.evicted);
	gauge(f, "schemagate_http_buffer_bytes",
	      "Bytes held for client connections: request and response buffers and the kernel's "
	      "socket buffers (budget: 16 MiB).",
	      (double)h->gate.buffered);
	counter(f, "schemagate_http_timeouts_total",
	        "Client connections ended by serve.request_timeout or a stalled response.",
	        h->gate.timed_out);
	counter(f, "schemagate_http_requests_refused_total",
	        "Requests answered by the front door itself: malformed (400), with a body (413), "
	        "head too large (431).",
	        h->gate.refused);

	fprintf(f,
	        "# HELP schemagate_build_info The running binary's version (the value is always "
	        "1).\n"
	        "# TYPE schemagate_build_info gauge\n"
	        "schemagate_build_info{version=\"%s\"} 1\n",
	        SCHEMAGATE_VERSION);
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

/* ---- the reference list (docs/operations.md), read off a formatted page ---- */

#define REF_MAX_LABELS 4  /* label names per family */
#define REF_MAX_VALUES 16 /* values per label name */

/* One label name of a family, and the values its samples give it. */
struct ref_label {
	const char *name;
	const char *values[REF_MAX_VALUES];
	size_t nvalues;
};

/* One family: pointers into the page text, cut in place. */
struct ref_family {
	const char *name, *type, *help;
	struct ref_label labels[REF_MAX_LABELS];
	size_t nlabels;
};

/* A page in which every family appears: every conditional one switched on,
 * every path and code counted. */
static char *sample_page(void)
{
	struct health_snap s;
	struct health_result r[HEALTH_NCHECKS];
	struct metrics_http h;
	struct metrics_process p = {0, 0, 0};

	memset(&s, 0, sizeof s);
	memset(r, 0, sizeof r);
	memset(&h, 0, sizeof h);
	s.pending = 0;
	for (int i = 0; i < METRICS_NPATHS; i++)
		for (int c = 0; c < METRICS_NCODES; c++)
			h.count[i][c] = 1;
	return metrics_format(&s, r, &h, &p);
}

/* Records name="value" of a sample line for family f; "le" (a histogram's
 * bucket bound) is not a label of the family. */
static int ref_add_label(struct ref_family *f, const char *name, const char *value,
                         struct sg_err *err)
{
	struct ref_label *l = NULL;
	size_t i;

	if (strcmp(name, "le") == 0)
		return 0;
	for (i = 0; i < f->nlabels && l == NULL; i++)
		if (strcmp(f->labels[i].name, name) == 0)
			l = &f->labels[i];
	if (l == NULL) {
		if (f->nlabels == REF_MAX_LABELS)
			return sg_err_set(err, SG_E_PARSE, "metric %s: more than %d labels",
			                  f->name, REF_MAX_LABELS);
		l = &f->labels[f->nlabels++];
		l->name = name;
	}
	for (i = 0; i < l->nvalues; i++)
		if (strcmp(l->values[i], value) == 0)
			return 0;
	if (l->nvalues == REF_MAX_VALUES)
		return sg_err_set(err, SG_E_PARSE, "metric %s: label %s has more than %d values",
		                  f->name, name, REF_MAX_VALUES);
	l->values[l->nvalues++] = value;
	return 0;
}

/* Reads the labels of one sample line, `name{a="x",b="y"} value`, cutting
 * the text in place. Our label values hold no quote or backslash. */
static int ref_sample(struct ref_family *f, char *line, struct sg_err *err)
{
	char *p = strchr(line, '{');

	if (f == NULL || strncmp(line, f->name, strlen(f->name)) != 0)
		return sg_err_set(err, SG_E_PARSE,
		                  "metrics page: sample \"%.80s\" outside its family", line);
	if (p == NULL)
		return 0;
	p++;
	while (*p != '}') {
		char *name = p, *eq = strchr(p, '='), *value, *end;

		if (eq == NULL || eq[1] != '"' || (end = strchr(eq + 2, '"')) == NULL)
			return sg_err_set(err, SG_E_PARSE, "metrics page: bad labels in \"%.80s\"",
			                  line);
		*eq = '\0';
		value = eq + 2;
		*end = '\0';
		if (ref_add_label(f, name, value, err) != 0)
			return -1;
		p = end + 1;
		if (*p == ',')
			p++;
		else if (*p != '}')
			return sg_err_set(err, SG_E_PARSE, "metrics page: bad labels in \"%.80s\"",
			                  line);
	}
	return 0;
}

/* The LABELS cell: "check: database, migrations; path: ...". */
static char *ref_labels_cell(const struct ref_family *f)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (m == NULL)
		return NULL;
	for (size_t i = 0; i < f->nlabels; i++) {
		fprintf(m, "%s%s:", i > 0 ? "; " : "", f->labels[i].name);
		for (size_t v = 0; v < f->labels[i].nvalues; v++)
			fprintf(m, "%s %s", v > 0 ? "," : "", f->labels[i].values[v]);
	}
	if (fclose(m) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* Splits the page into families (HELP, TYPE, then samples). */
static int ref_parse(char *page, struct ref_family **out, size_t *n, struct sg_err *err)
{
	struct ref_family *fam = NULL, *cur = NULL;
	size_t nfam = 0, cap = 0;
	char *save = NULL;

	for (char *line = strtok_r(page, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			char *sp = strchr(line + 7, ' ');

			if (nfam == cap) {
				size_t ncap = cap == 0 ? 32 : cap * 2;
				struct ref_family *grown = realloc(fam, ncap * sizeof *grown);

				if (grown == NULL) {
					free(fam);
					return sg_err_set(err, SG_E_NOMEM, "out of memory");
				}
				fam = grown;
				cap = ncap;
			}
			cur = &fam[nfam++];
			memset(cur, 0, sizeof *cur);
			cur->name = line + 7;
			cur->help = "";
			if (sp != NULL) {
				*sp = '\0';
				cur->help = sp + 1;
			}
		} else if (strncmp(line, "# TYPE ", 7) == 0) {
			char *sp = strchr(line + 7, ' ');

			if (cur == NULL || sp == NULL ||
			    strlen(cur->name) != (size_t)(sp - (line + 7)) ||
			    strncmp(line + 7, cur->name, strlen(cur->name)) != 0) {
				free(fam);
				return sg_err_set(err, SG_E_PARSE,
				                  "metrics page: \"%.80s\" without its HELP line",
				                  line);
			}
			cur->type = sp + 1;
		} else if (ref_sample(cur, line, err) != 0) {
			free(fam);
			return -1;
		}
	}
	*out = fam;
	*n = nfam;
	return 0;
}

int metrics_print_reference(FILE *out, enum texttable_style style, struct sg_err *err)
{
	static const char *const head[4] = {"NAME", "TYPE", "LABELS", "HELP"};
	char *page = sample_page();
	struct ref_family *fam = NULL;
	struct texttable *t = NULL;
	size_t nfam = 0;
	int rc = -1;

	if (page == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	if (ref_parse(page, &fam, &nfam, err) != 0 || texttable_new(4, head, &t, err) != 0)
		goto cleanup;
	texttable_code_column(t, 0);
	for (size_t i = 0; i < nfam; i++) {
		char *labels = ref_labels_cell(&fam[i]);

		if (labels == NULL) {
			sg_err_set(err, SG_E_NOMEM, "out of memory");
			goto cleanup;
		}
		texttable_add(t, (const char *[]){fam[i].name, fam[i].type, labels, fam[i].help});
		free(labels);
	}
	rc = texttable_print(t, out, style, err);
cleanup:
	texttable_free(t);
	free(fam);
	free(page);
	return rc;
}
