/* metrics.h - the /metrics page in Prometheus text format 0.0.4, formatted from plain values. */
#ifndef SCHEMAGATE_METRICS_H
#define SCHEMAGATE_METRICS_H

#include <stddef.h>

#include "gate.h"
#include "health.h"

/* The bounded label sets of schemagate_http_requests_total. */
#define METRICS_NPATHS 7 /* known paths, then "other" */
#define METRICS_NCODES 8 /* tracked status codes, then "other" */

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

/* The label index of a request path: /readyz/<check> counts as /readyz,
 * anything unknown as "other" (so clients can't grow the label set). */
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

#endif /* SCHEMAGATE_METRICS_H */
