/* impact.h - the report of `schemagate plan` (struct dryrun) as a table for terminals, as JSON
 * for tools and as markdown for a pull-request comment. */
#ifndef SCHEMAGATE_IMPACT_H
#define SCHEMAGATE_IMPACT_H

#include <stdio.h>
#include <json-c/json.h>

#include "dryrun.h"

/* A table: one row per statement and relation it touched, then the changes for clients, the
 * refusals with their safe patterns, the verdict and the time taken. Text from files and from
 * the database is escaped. */
void impact_print_text(FILE *f, const struct dryrun *d);

/* The same as markdown: a heading with the verdict, the table, the refusals. */
void impact_print_markdown(FILE *f, const struct dryrun *d);

/* The same as JSON (keys in docs/plan.md). The caller owns the object (json_object_put); NULL
 * when out of memory. */
struct json_object *impact_to_json(const struct dryrun *d);

#endif /* SCHEMAGATE_IMPACT_H */
