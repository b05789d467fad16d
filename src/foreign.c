/* foreign.c - other migration tools' history tables: recognising them and reading them. */
#include "foreign.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "tool.h"

const char *foreign_default_table(const char *tool)
{
	const struct tool *t = tool_find(tool);

	return t != NULL ? t->table : NULL;
}

void foreign_free(struct foreign_hist *h)
{
	if (h == NULL)
		return;
	free(h->v);
	memset(h, 0, sizeof *h);
}

/* "schema"."table" or "table", quoted for SQL; malloc'd or NULL. */
static char *quote_table(const char *table)
{
	const char *dot = strchr(table, '.');
	char *schema = NULL, *qs = NULL, *qt = NULL, *out = NULL;
	size_t n;

	if (dot != NULL && (schema = strndup(table, (size_t)(dot - table))) == NULL)
		return NULL;
	qt = db_quote_ident(dot != NULL ? dot + 1 : table);
	qs = schema != NULL ? db_quote_ident(schema) : NULL;
	if (qt != NULL && (schema == NULL || qs != NULL)) {
		n = (qs != NULL ? strlen(qs) + 1 : 0) + strlen(qt) + 1;
		if ((out = malloc(n)) != NULL)
			snprintf(out, n, "%s%s%s", qs != NULL ? qs : "", qs != NULL ? "." : "", qt);
	}
	free(schema);
	free(qs);
	free(qt);
	return out;
}

/* A version as the tools store it: bigint text, or dbmate's varchar of digits. */
static int parse_version(const char *tool, const char *s, long *out, struct sg_err *err)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0)
		return sg_err_set(err, SG_E_CONFIG,
		                  "%s history holds version \"%.40s\", not a "
		                  "number schemagate can use",
		                  tool, s);
	*out = v;
	return 0;
}

const char *foreign_detect(PGconn *c, const char *schema, const char *table)
{
	static const char sql[] =
	    "SELECT bool_or(attname = 'version'), bool_or(attname = 'dirty'), "
	    "bool_or(attname = 'version_id'), bool_or(attname = 'is_applied'), "
	    "bool_or(attname = 'checksum'), count(*) FROM pg_attribute "
	    "WHERE attrelid = to_regclass(format('%I.%I', $1::text, $2::text)) "
	    "AND attnum > 0 AND NOT attisdropped";
	const char *params[2] = {schema, table};
	const struct tool *tool = NULL;
	PGresult *r = NULL;

	if (db_query(c, sql, 2, params, &r, NULL) != 0)
		return NULL;
#define T(i) (strcmp(PQgetvalue(r, 0, i), "t") == 0)
	if (PQntuples(r) == 1 && !T(4)) {
		if (T(0) && T(1))
			tool = &tool_table[TOOL_GOLANG_MIGRATE];
		else if (T(2) && T(3))
			tool = &tool_table[TOOL_GOOSE];
		else if (T(0) && strcmp(PQgetvalue(r, 0, 5), "1") == 0)
			tool = &tool_table[TOOL_DBMATE];
	}
#undef T
	PQclear(r);
	return tool != NULL ? tool->name : NULL;
}

static int push(struct foreign_hist *h, size_t *cap, long v, struct sg_err *err)
{
	if (h->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		long *nv = realloc(h->v, ncap * sizeof *nv);

		if (nv == NULL)
			return sg_err_set(err, SG_E_NOMEM, "out of memory");
		h->v = nv;
		*cap = ncap;
	}
	h->v[h->n++] = v;
	return 0;
}

int foreign_read(PGconn *c, const char *tool, const char *table, struct foreign_hist *out,
                 struct sg_err *err)
{
	struct foreign_hist h = {NULL, false, -1, NULL, 0};
	const struct tool *t = tool_find(tool);
	char *qt = NULL, *sql = NULL;
	const char *params[1];
	PGresult *r = NULL;
	size_t cap = 0, n;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (t == NULL)
		return sg_err_set(err, SG_E_USAGE, "unknown tool \"%s\"", tool != NULL ? tool : "");
	h.tool = t->name;
	if ((qt = quote_table(table)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	params[0] = qt;
	if (db_query(c, "SELECT to_regclass($1) IS NOT NULL", 1, params, &r, err) != 0)
		goto cleanup;
	if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		sg_err_set(err, SG_E_CONFIG,
		           "no table %s for %s's history in this database (search_path); name it "
		           "with --from-table [schema.]name",
		           table, h.tool);
		goto cleanup;
	}
	PQclear(r);
	r = NULL;
	n = strlen(qt) + 256;
	if ((sql = malloc(n)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	switch (t->id) {
	case TOOL_GOLANG_MIGRATE:
		/* One row is expected: two are enough to refuse more (a table of millions is never
		 * loaded). Clean only when dirty reads as false, whatever its type: NULL, 'true' or
		 * anything else in a text column counts as dirty. */
		snprintf(sql, n,
		         "SELECT version, coalesce(lower(dirty::text) IN ('false', 'f', '0', 'no', "
		         "'off', 'n'), false) FROM %s LIMIT 2",
		         qt);
		break;
	case TOOL_GOOSE:
		/* goose appends a row per up and per down: the newest row of a version wins. */
		snprintf(sql, n,
		         "SELECT version_id FROM (SELECT DISTINCT ON (version_id) version_id, "
		         "is_applied FROM %s ORDER BY version_id, id DESC) s "
		         "WHERE is_applied AND version_id > 0 ORDER BY version_id",
		         qt);
		break;
	case TOOL_DBMATE:
		snprintf(sql, n, "SELECT version FROM %s ORDER BY version::numeric", qt);
		break;
	default: /* tool_find finds only the tools baseline reads */
		sg_err_set(err, SG_E_USAGE, "baseline cannot read %s's history", t->name);
		goto cleanup;
	}
	if (db_query(c, sql, 0, NULL, &r, err) != 0) {
		sg_err_set(err, SG_E_CONFIG, "%s does not read as %s's history table: %.700s",
		           table, h.tool, err->msg);
		goto cleanup;
	}
	if (t->id == TOOL_GOLANG_MIGRATE) {
		h.one_number = true;
		h.upto = -1; /* an empty table: nothing applied */
		if (PQntuples(r) > 1) {
			sg_err_set(err, SG_E_CONFIG,
			           "%s holds more than one row; golang-migrate keeps exactly one",
			           table);
			goto cleanup;
		}
		if (PQntuples(r) == 1 &&
		    parse_version(h.tool, PQgetvalue(r, 0, 0), &h.upto, err) != 0)
			goto cleanup;
		if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 1), "t") != 0) {
			sg_err_set(
			    err, SG_E_DIRTY,
			    "golang-migrate's %s says version %ld is dirty (it failed part-way); "
			    "repair the schema, run 'migrate force' with the version that is "
			    "really applied, then import again",
			    table, h.upto);
			goto cleanup;
		}
	} else {
		for (int i = 0; i < PQntuples(r); i++) {
			long v = 0; /* set on success; gcc -O3 cannot see that */

			if (parse_version(h.tool, PQgetvalue(r, i, 0), &v, err) != 0 ||
			    push(&h, &cap, v, err) != 0)
				goto cleanup;
		}
	}
	*out = h;
	h.v = NULL;
	rc = 0;
cleanup:
	PQclear(r);
	free(qt);
	free(sql);
	foreign_free(&h);
	return rc;
}
