/* foreign.h - other migration tools' history tables: recognising them and reading them. */
#ifndef SCHEMAGATE_FOREIGN_H
#define SCHEMAGATE_FOREIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "err.h"

/* What another tool says is applied. */
struct foreign_hist {
	const char *tool; /* the tool's name in tool_table (static text) */
	bool one_number;  /* golang-migrate: the history is upto alone */
	long upto;        /* with one_number: every version <= upto is applied (-1: none, its table
	                   * is empty; version 0 is a version) */
	long *v;          /* goose, dbmate: the applied versions, ascending; NULL when n == 0 */
	size_t n;
};

/* The table a tool uses unless told otherwise (tool.h), or NULL for an unknown tool name. */
const char *foreign_default_table(const char *tool);

/* Reads tool's history from table ("name" resolved by the search_path, or "schema.name").
 * golang-migrate: its single row (version, dirty); a dirty row is refused with SG_E_DIRTY, naming
 * the version and the tool's own fix. goose: the versions whose newest row says is_applied
 * (version 0, goose's start marker, is skipped). dbmate: every row of version. A missing table is
 * SG_E_CONFIG naming it; a table of another shape is SG_E_CONFIG saying what it holds. Fills *out
 * (free with foreign_free) on success; on failure *out is empty. */
SG_MUSTCHECK int foreign_read(PGconn *c, const char *tool, const char *table,
                              struct foreign_hist *out, struct sg_err *err);
void foreign_free(struct foreign_hist *h); /* NULL-safe; leaves it empty */

/* Which tool's history table schema.table looks like, judged by its columns: "golang-migrate"
 * (version, dirty), "goose" (version_id, is_applied), "dbmate" (version only), or NULL when none
 * or when the question cannot be answered. For messages only: never fails. */
const char *foreign_detect(PGconn *c, const char *schema, const char *table);

#endif /* SCHEMAGATE_FOREIGN_H */
