/* metrics.h - the /metrics page in Prometheus text format 0.0.4, formatted from plain values. */
#ifndef SCHEMAGATE_METRICS_H
#define SCHEMAGATE_METRICS_H

#include <stddef.h>

#include "err.h"
#include "gate.h"
#include "health.h"
#include "route.h"
#include "texttable.h"

/* The bounded label sets of schemagate_http_requests_total. */
#define METRICS_NPATHS (ROUTE_COUNT + 1) /* the routes' paths (route.h), then "other" */
#define METRICS_NCODES 8                 /* tracked status codes, then "other" */

/* Request counts by path and status (indexes from the two functions below). */
struct metrics_http {
	unsigned long long count[METRICS_NPATHS][METRICS_NCODES];
	struct gate_stats gate; /* connections at the front door */
};

/* Cheap facts about this process (0 / -1 where unknown). */
struct metrics_process {
	double start_time_s; /* wall-clock seconds since the epoch */
	long long rss_bytes; /* -1 if unknown */
	long open_fds;       /* -1 if unknown */
};

/* The label index of a request path: its route's (route_index), so /readyz/<check> counts as
 * /readyz and anything without a route as "other" (clients can't grow the label set). */
int metrics_path_index(const char *uri);
const char *metrics_path_label(int idx);

/* The label index of a status code; untracked codes share "other". */
int metrics_code_index(int status);
const char *metrics_code_label(int idx);

/* Fills p from /proc/self (start time is given by the caller). */
void metrics_process_read(struct metrics_process *p, double start_time_s);

/* Formats the whole page. Pure. Returns malloc'd text (caller frees) or NULL
 * on out of memory. */
char *metrics_format(const struct health_snap *s, const struct health_result r[HEALTH_NCHECKS],
                     const struct metrics_http *h, const struct metrics_process *p);

/* Prints the list of metrics /metrics serves, one row per family: name,
 * type, labels with every value they take, help. It is read off
 * metrics_format's own output for a sample in which every family is present
 * and every label value counted once, so the list cannot differ from the
 * page (a family printed only under a condition must be switched on in that
 * sample, in metrics.c). TEXTTABLE_MARKDOWN gives the table of
 * docs/operations.md. Returns 0, or -1 (SG_E_NOMEM, SG_E_IO, SG_E_PARSE when
 * the page breaks the exposition rules this reads). */
SG_MUSTCHECK int metrics_print_reference(FILE *out, enum texttable_style style, struct sg_err *err);

#endif /* SCHEMAGATE_METRICS_H */
