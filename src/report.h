/* report.h - everything `status` knows, as one JSON document, and its table for people. */
#ifndef SCHEMAGATE_REPORT_H
#define SCHEMAGATE_REPORT_H

#include <stdio.h>
#include <json-c/json.h>
#include <libpq-fe.h>

#include "config.h"
#include "err.h"
#include "migrations.h"
#include "plan.h"

/* Gathers the state over an open connection (search_path already applied):
 * history, pending/drift/missing against set (NULL: folder unreadable, so
 * no comparison), recent runs, advisory lock holder. A few round trips, no
 * writes. On success *out owns a json object (json_object_put). */
SG_MUSTCHECK int report_build(PGconn *c, const struct cfg *cfg, const struct mig_set *set,
			      struct json_object **out, struct sg_err *err);

/* The verdict alone (plan_verdict over the history read now), for verify and the readiness
 * checker: two round trips, no writes. */
SG_MUSTCHECK int report_verdict(PGconn *c, const struct cfg *cfg, const struct mig_set *set,
				struct plan_verdict *v, struct sg_err *err);

/* Writes the readable table of a report built by report_build. */
void report_print_text(FILE *f, struct json_object *report);

#endif /* SCHEMAGATE_REPORT_H */
