/* catalog.c - the catalog rows of the objects a statement touched, and what changed in them. */
#include "catalog.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL's NUMERICOID and its typmod layout: ((precision << 16) | scale) + VARHDRSZ. */
#define CAT_NUMERIC 1700u
#define CAT_VARHDRSZ 4

/* clang-format off */
#define CAT_SQL_FMT \
	"SELECT c.oid, c.relnamespace, n.nspname, c.relname, c.relkind, c.relfilenode, " \
	"coalesce(i.indrelid, 0), c.relispartition, pg_stat_get_xact_numscans(c.oid) " \
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " \
	"LEFT JOIN pg_index i ON i.indexrelid = c.oid " \
	"WHERE c.oid = ANY(%1$s) AND n.nspname <> 'pg_toast' AND c.relpersistence <> 't' " \
	"ORDER BY c.oid;" \
	"SELECT a.attrelid, a.attnum, a.attname, a.atttypid, a.atttypmod, a.attnotnull, " \
	"a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '', " \
	"format_type(a.atttypid, a.atttypmod) " \
	"FROM pg_attribute a WHERE a.attrelid = ANY(%1$s) AND a.attnum > 0 " \
	"AND NOT a.attisdropped ORDER BY 1, 2;" \
	"SELECT conrelid, oid, conname, contype, convalidated FROM pg_constraint " \
	"WHERE conrelid = ANY(%1$s) ORDER BY 1, 2;" \
	"SELECT * FROM (" \
	"SELECT 1247::oid AS classid, t.oid, t.typnamespace, n.nspname, t.typname, ''::text, " \
	"NOT (t.typcategory = 'A' AND t.typelem <> 0) AND NOT EXISTS (SELECT 1 FROM pg_class r " \
	"WHERE r.oid = t.typrelid AND r.relkind <> 'c') " \
	"FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = ANY(%1$s) " \
	"UNION ALL SELECT 1255::oid, p.oid, p.pronamespace, n.nspname, p.proname, " \
	"pg_get_function_identity_arguments(p.oid), true " \
	"FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = ANY(%1$s) " \
	"UNION ALL SELECT 2615::oid, n.oid, n.oid, n.nspname, n.nspname, '', true " \
	"FROM pg_namespace n WHERE n.oid = ANY(%1$s)) o ORDER BY 1, 2"
/* clang-format on */

char *cat_sql(const char *oids)
{
	/* %1$s is POSIX printf: the expression goes in six places, written once. */
	int n = snprintf(NULL, 0, CAT_SQL_FMT, oids);
	char *sql;

	if (n < 0 || (sql = malloc((size_t)n + 1)) == NULL)
		return NULL;
	snprintf(sql, (size_t)n + 1, CAT_SQL_FMT, oids);
	return sql;
}

static unsigned uval(const PGresult *r, int row, int col)
{
	return (unsigned)strtoul(PQgetvalue(r, row, col), NULL, 10);
}

static bool bval(const PGresult *r, int row, int col)
{
	return PQgetvalue(r, row, col)[0] == 't';
}

static int shape(const PGresult *r, int ncols, const char *what, struct sg_err *err)
{
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != ncols)
		return sg_err_set(err, SG_E_DB, "reading the catalog (%s): %s", what,
		                  PQresultStatus(r) == PGRES_TUPLES_OK ? "unexpected columns"
		                                                       : PQresultErrorMessage(r));
	return 0;
}

static void col_free(struct cat_col *c)
{
	free(c->name);
	free(c->type_name);
}

void cat_rel_free(struct cat_rel *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->ncols; i++)
		col_free(&r->cols[i]);
	for (size_t i = 0; i < r->ncons; i++)
		free(r->cons[i].name);
	free(r->cols);
	free(r->cons);
	free(r->nspname);
	free(r->name);
	memset(r, 0, sizeof *r);
}

void cat_obj_free(struct cat_obj *o)
{
	if (o == NULL)
		return;
	free(o->nspname);
	free(o->name);
	free(o->args);
	memset(o, 0, sizeof *o);
}

void cat_snap_free(struct cat_snap *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nrels; i++)
		cat_rel_free(&s->rels[i]);
	for (size_t i = 0; i < s->nobjs; i++)
		cat_obj_free(&s->objs[i]);
	free(s->rels);
	free(s->objs);
	memset(s, 0, sizeof *s);
}

static struct cat_rel *find_rel(const struct cat_snap *s, unsigned oid)
{
	size_t lo = 0, hi = s->nrels;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->rels[mid].oid == oid)
			return &s->rels[mid];
		if (s->rels[mid].oid < oid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct cat_rel *cat_find_rel(const struct cat_snap *s, unsigned oid)
{
	return find_rel(s, oid);
}

const struct cat_obj *cat_find_obj(const struct cat_snap *s, unsigned classid, unsigned oid)
{
	for (size_t i = 0; i < s->nobjs; i++)
		if (s->objs[i].classid == classid && s->objs[i].oid == oid)
			return &s->objs[i];
	return NULL;
}

static int parse_rels(const PGresult *r, struct cat_snap *s, struct sg_err *err)
{
	int n = PQntuples(r);

	if (shape(r, 9, "relations", err) != 0)
		return -1;
	if (n > 0 && (s->rels = calloc((size_t)n, sizeof *s->rels)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		struct cat_rel *c = &s->rels[s->nrels++];

		c->oid = uval(r, i, 0);
		c->nsp = uval(r, i, 1);
		c->nspname = strdup(PQgetvalue(r, i, 2));
		c->name = strdup(PQgetvalue(r, i, 3));
		c->kind = PQgetvalue(r, i, 4)[0];
		c->filenode = uval(r, i, 5);
		c->table = uval(r, i, 6);
		c->is_partition = bval(r, i, 7);
		c->scans = strtoll(PQgetvalue(r, i, 8), NULL, 10);
		if (c->nspname == NULL || c->name == NULL)
			return sg_err_set(err, SG_E_NOMEM, "out of memory");
	}
	return 0;
}

/* Rows are ordered by relation: the relation of row i, and in *end the row after its run. */
static struct cat_rel *run_of(const PGresult *r, const struct cat_snap *s, int i, int n, int *end)
{
	int j = i;

	while (j < n && uval(r, j, 0) == uval(r, i, 0))
		j++;
	*end = j;
	return find_rel(s, uval(r, i, 0));
}

static int parse_cols(const PGresult *r, struct cat_snap *s, struct sg_err *err)
{
	int n = PQntuples(r), end;

	if (shape(r, 8, "columns", err) != 0)
		return -1;
	for (int i = 0; i < n; i = end) {
		struct cat_rel *rel = run_of(r, s, i, n, &end);

		if (rel == NULL)
			continue;
		if ((rel->cols = calloc((size_t)(end - i), sizeof *rel->cols)) == NULL)
			return sg_err_set(err, SG_E_NOMEM, "out of memory");
		for (int k = i; k < end; k++) {
			struct cat_col *c = &rel->cols[rel->ncols++];

			c->attnum = (int)strtol(PQgetvalue(r, k, 1), NULL, 10);
			c->name = strdup(PQgetvalue(r, k, 2));
			c->type = uval(r, k, 3);
			c->typmod = (int)strtol(PQgetvalue(r, k, 4), NULL, 10);
			c->notnull = bval(r, k, 5);
			c->has_default = bval(r, k, 6);
			c->type_name = strdup(PQgetvalue(r, k, 7));
			if (c->name == NULL || c->type_name == NULL)
				return sg_err_set(err, SG_E_NOMEM, "out of memory");
		}
	}
	return 0;
}

static int parse_cons(const PGresult *r, struct cat_snap *s, struct sg_err *err)
{
	int n = PQntuples(r), end;

	if (shape(r, 5, "constraints", err) != 0)
		return -1;
	for (int i = 0; i < n; i = end) {
		struct cat_rel *rel = run_of(r, s, i, n, &end);

		if (rel == NULL)
			continue;
		if ((rel->cons = calloc((size_t)(end - i), sizeof *rel->cons)) == NULL)
			return sg_err_set(err, SG_E_NOMEM, "out of memory");
		for (int k = i; k < end; k++) {
			struct cat_con *c = &rel->cons[rel->ncons++];

			c->oid = uval(r, k, 1);
			c->name = strdup(PQgetvalue(r, k, 2));
			c->type = PQgetvalue(r, k, 3)[0];
			c->validated = bval(r, k, 4);
			if (c->name == NULL)
				return sg_err_set(err, SG_E_NOMEM, "out of memory");
		}
	}
	return 0;
}

static int parse_objs(const PGresult *r, struct cat_snap *s, struct sg_err *err)
{
	int n = PQntuples(r);

	if (shape(r, 7, "types, functions and schemas", err) != 0)
		return -1;
	if (n > 0 && (s->objs = calloc((size_t)n, sizeof *s->objs)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		struct cat_obj *o = &s->objs[s->nobjs++];

		o->classid = uval(r, i, 0);
		o->oid = uval(r, i, 1);
		o->nsp = uval(r, i, 2);
		o->nspname = strdup(PQgetvalue(r, i, 3));
		o->name = strdup(PQgetvalue(r, i, 4));
		o->args = strdup(PQgetvalue(r, i, 5));
		o->visible = bval(r, i, 6);
		if (o->nspname == NULL || o->name == NULL || o->args == NULL)
			return sg_err_set(err, SG_E_NOMEM, "out of memory");
	}
	return 0;
}

int cat_parse(PGresult *const *res, struct cat_snap *out, struct sg_err *err)
{
	memset(out, 0, sizeof *out);
	if (parse_rels(res[0], out, err) != 0 || parse_cols(res[1], out, err) != 0 ||
	    parse_cons(res[2], out, err) != 0 || parse_objs(res[3], out, err) != 0) {
		cat_snap_free(out);
		return -1;
	}
	return 0;
}

static char *dup_or_null(const char *s, bool *bad)
{
	char *d = s != NULL ? strdup(s) : NULL;

	if (s != NULL && d == NULL)
		*bad = true;
	return d;
}

int cat_rel_copy(struct cat_rel *to, const struct cat_rel *from, struct sg_err *err)
{
	bool bad = false;

	*to = *from;
	to->cols = NULL;
	to->cons = NULL;
	to->ncols = to->ncons = 0;
	to->nspname = dup_or_null(from->nspname, &bad);
	to->name = dup_or_null(from->name, &bad);
	if (!bad && from->ncols > 0 && (to->cols = calloc(from->ncols, sizeof *to->cols)) == NULL)
		bad = true;
	for (size_t i = 0; !bad && i < from->ncols; i++) {
		struct cat_col *c = &to->cols[to->ncols++];

		*c = from->cols[i];
		c->name = dup_or_null(from->cols[i].name, &bad);
		c->type_name = dup_or_null(from->cols[i].type_name, &bad);
	}
	if (!bad && from->ncons > 0 && (to->cons = calloc(from->ncons, sizeof *to->cons)) == NULL)
		bad = true;
	for (size_t i = 0; !bad && i < from->ncons; i++) {
		struct cat_con *c = &to->cons[to->ncons++];

		*c = from->cons[i];
		c->name = dup_or_null(from->cons[i].name, &bad);
	}
	if (!bad)
		return 0;
	cat_rel_free(to);
	return sg_err_set(err, SG_E_NOMEM, "out of memory");
}

int cat_obj_copy(struct cat_obj *to, const struct cat_obj *from, struct sg_err *err)
{
	bool bad = false;

	*to = *from;
	to->nspname = dup_or_null(from->nspname, &bad);
	to->name = dup_or_null(from->name, &bad);
	to->args = dup_or_null(from->args, &bad);
	if (!bad)
		return 0;
	cat_obj_free(to);
	return sg_err_set(err, SG_E_NOMEM, "out of memory");
}

bool cat_is_table_like(char k)
{
	return k == 'r' || k == 'p' || k == 'v' || k == 'm' || k == 'f' || k == 'S';
}

bool cat_has_storage(char k)
{
	return k == 'r' || k == 'm' || k == 't';
}

/* ---- differences ---- */

const char *cat_change_name(enum cat_change_kind k)
{
	static const char *const names[] = {
	    [CAT_RELATION_DROPPED] = "relation_dropped",
	    [CAT_RELATION_RENAMED] = "relation_renamed",
	    [CAT_COLUMN_ADDED] = "column_added",
	    [CAT_COLUMN_DROPPED] = "column_dropped",
	    [CAT_COLUMN_RENAMED] = "column_renamed",
	    [CAT_COLUMN_RETYPED] = "column_retyped",
	    [CAT_COLUMN_REQUIRED] = "column_required",
	    [CAT_COLUMN_NOT_NULL] = "column_not_null",
	    [CAT_CONSTRAINT_ADDED] = "constraint_added",
	    [CAT_CONSTRAINT_NOT_VALID] = "constraint_not_valid",
	    [CAT_CONSTRAINT_VALIDATED] = "constraint_validated",
	    [CAT_INDEX_CREATED] = "index_created",
	    [CAT_PARTITION_ATTACHED] = "partition_attached",
	    [CAT_TYPE_DROPPED] = "type_dropped",
	    [CAT_TYPE_RENAMED] = "type_renamed",
	    [CAT_FUNCTION_DROPPED] = "function_dropped",
	    [CAT_FUNCTION_RENAMED] = "function_renamed",
	    [CAT_SCHEMA_DROPPED] = "schema_dropped",
	    [CAT_SCHEMA_RENAMED] = "schema_renamed",
	};

	return (size_t)k < sizeof names / sizeof names[0] && names[k] != NULL ? names[k] : "?";
}

int cat_add(struct cat_changes *out, enum cat_change_kind kind, unsigned rel, bool baseline,
            struct sg_err *err, const char *fmt, ...)
{
	struct cat_change *c;
	va_list ap;
	char buf[512];

	if (out->n == out->cap) {
		size_t cap = out->cap == 0 ? 8 : out->cap * 2;
		struct cat_change *v = realloc(out->v, cap * sizeof *v);

		if (v == NULL)
			return sg_err_set(err, SG_E_NOMEM, "out of memory");
		out->v = v;
		out->cap = cap;
	}
	va_start(ap, fmt);
	/* Cut at the buffer on purpose: a line for people. */
	if (vsnprintf(buf, sizeof buf, fmt, ap) < 0)
		buf[0] = '\0';
	va_end(ap);
	c = &out->v[out->n];
	memset(c, 0, sizeof *c);
	c->kind = kind;
	c->rel = rel;
	c->baseline = baseline;
	c->old_typmod = c->new_typmod = -1;
	if ((c->what = strdup(buf)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	out->n++;
	return 0;
}

void cat_changes_free(struct cat_changes *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].what);
	free(c->v);
	memset(c, 0, sizeof *c);
}

static const struct cat_col *find_col(const struct cat_rel *r, int attnum)
{
	for (size_t i = 0; r != NULL && i < r->ncols; i++)
		if (r->cols[i].attnum == attnum)
			return &r->cols[i];
	return NULL;
}

static const struct cat_con *find_con(const struct cat_rel *r, unsigned oid)
{
	for (size_t i = 0; r != NULL && i < r->ncons; i++)
		if (r->cons[i].oid == oid)
			return &r->cons[i];
	return NULL;
}

static bool required(const struct cat_col *c)
{
	return c != NULL && c->notnull && !c->has_default;
}

static const char *con_word(char type)
{
	switch (type) {
	case 'c':
		return "check";
	case 'f':
		return "foreign key";
	case 'p':
		return "primary key";
	case 'u':
		return "unique";
	case 'x':
		return "exclusion";
	default:
		return "constraint";
	}
}

static int diff_cols(const struct cat_rel *base, const struct cat_rel *b, const struct cat_rel *a,
                     struct cat_changes *out, struct sg_err *err)
{
	const char *s = b->nspname, *t = b->name;

	for (size_t i = 0; i < b->ncols; i++) {
		const struct cat_col *old = &b->cols[i], *now = find_col(a, old->attnum);
		bool known = find_col(base, old->attnum) != NULL;

		if (now == NULL) {
			if (cat_add(out, CAT_COLUMN_DROPPED, b->oid, known, err, "%s.%s.%s dropped",
			            s, t, old->name) != 0)
				return -1;
			continue;
		}
		if (strcmp(old->name, now->name) != 0 &&
		    cat_add(out, CAT_COLUMN_RENAMED, b->oid, known, err, "%s.%s.%s renamed to %s",
		            s, t, old->name, now->name) != 0)
			return -1;
		if (old->type != now->type || old->typmod != now->typmod) {
			if (cat_add(out, CAT_COLUMN_RETYPED, b->oid, known, err,
			            "%s.%s.%s: %s -> %s", s, t, now->name, old->type_name,
			            now->type_name) != 0)
				return -1;
			out->v[out->n - 1].old_type = old->type;
			out->v[out->n - 1].new_type = now->type;
			out->v[out->n - 1].old_typmod = old->typmod;
			out->v[out->n - 1].new_typmod = now->typmod;
		}
		if (known && !old->notnull && now->notnull &&
		    cat_add(out, CAT_COLUMN_NOT_NULL, b->oid, true, err, "%s.%s.%s made NOT NULL",
		            s, t, now->name) != 0)
			return -1;
	}
	for (size_t i = 0; i < a->ncols; i++) {
		const struct cat_col *now = &a->cols[i], *old = find_col(b, now->attnum);

		if (old == NULL &&
		    cat_add(out, CAT_COLUMN_ADDED, b->oid, false, err, "%s.%s.%s added (%s%s%s)", s,
		            t, now->name, now->type_name, now->notnull ? " NOT NULL" : "",
		            now->has_default ? " with a default" : "") != 0)
			return -1;
		/* Unknown to the previous release, so its INSERTs leave it out: they now fail. */
		if (find_col(base, now->attnum) == NULL && required(now) && !required(old) &&
		    cat_add(
		        out, CAT_COLUMN_REQUIRED, b->oid, false, err,
		        "%s.%s.%s is NOT NULL without a default: INSERTs that leave it out fail", s,
		        t, now->name) != 0)
			return -1;
	}
	return 0;
}

static int diff_cons(const struct cat_rel *b, const struct cat_rel *a, struct cat_changes *out,
                     struct sg_err *err)
{
	for (size_t i = 0; i < a->ncons; i++) {
		const struct cat_con *now = &a->cons[i], *old = find_con(b, now->oid);
		enum cat_change_kind k;

		if (old == NULL)
			k = now->validated ? CAT_CONSTRAINT_ADDED : CAT_CONSTRAINT_NOT_VALID;
		else if (!old->validated && now->validated)
			k = CAT_CONSTRAINT_VALIDATED;
		else
			continue;
		if (cat_add(out, k, b->oid, old != NULL, err, "%s constraint %s on %s.%s %s",
		            con_word(now->type), now->name, a->nspname, a->name,
		            k == CAT_CONSTRAINT_ADDED       ? "added and validated"
		            : k == CAT_CONSTRAINT_NOT_VALID ? "added NOT VALID"
		                                            : "validated") != 0)
			return -1;
		out->v[out->n - 1].contype = now->type;
	}
	return 0;
}

int cat_diff_rel(const struct cat_rel *base, const struct cat_rel *b, const struct cat_rel *a,
                 struct cat_changes *out, struct sg_err *err)
{
	if (a == NULL) {
		if (!cat_is_table_like(b->kind))
			return 0; /* an index or a composite type's relation: not read by name */
		return cat_add(out, CAT_RELATION_DROPPED, b->oid, true, err, "%s.%s dropped",
		               b->nspname, b->name);
	}
	if (cat_is_table_like(b->kind) && (strcmp(b->name, a->name) != 0 || b->nsp != a->nsp) &&
	    cat_add(out, CAT_RELATION_RENAMED, b->oid, true, err, "%s.%s renamed to %s.%s",
	            b->nspname, b->name, a->nspname, a->name) != 0)
		return -1;
	if (!b->is_partition && a->is_partition &&
	    cat_add(out, CAT_PARTITION_ATTACHED, b->oid, true, err, "%s.%s attached as a partition",
	            a->nspname, a->name) != 0)
		return -1;
	if (diff_cols(base, b, a, out, err) != 0)
		return -1;
	return diff_cons(b, a, out, err);
}

int cat_diff_obj(const struct cat_obj *b, const struct cat_obj *a, struct cat_changes *out,
                 struct sg_err *err)
{
	enum cat_change_kind dropped, renamed;
	const char *what;

	switch (b->classid) {
	case CAT_PG_TYPE:
		if (!b->visible)
			return 0;
		dropped = CAT_TYPE_DROPPED;
		renamed = CAT_TYPE_RENAMED;
		what = "type";
		break;
	case CAT_PG_PROC:
		dropped = CAT_FUNCTION_DROPPED;
		renamed = CAT_FUNCTION_RENAMED;
		what = "function";
		break;
	case CAT_PG_NAMESPACE:
		if (a == NULL)
			return cat_add(out, CAT_SCHEMA_DROPPED, 0, true, err, "schema %s dropped",
			               b->name);
		if (strcmp(a->name, b->name) == 0)
			return 0;
		return cat_add(out, CAT_SCHEMA_RENAMED, 0, true, err, "schema %s renamed to %s",
		               b->name, a->name);
	default:
		return 0;
	}
	if (a == NULL)
		return cat_add(out, dropped, 0, true, err, "%s %s.%s%s%s%s dropped", what,
		               b->nspname, b->name, b->classid == CAT_PG_PROC ? "(" : "", b->args,
		               b->classid == CAT_PG_PROC ? ")" : "");
	if (strcmp(a->name, b->name) != 0 || a->nsp != b->nsp)
		return cat_add(out, renamed, 0, true, err, "%s %s.%s renamed to %s.%s", what,
		               b->nspname, b->name, a->nspname, a->name);
	return 0;
}

/* numeric(p, s): the precision and scale of a typmod (-1: unconstrained). */
static void numeric_ps(int typmod, int *p, int *s)
{
	int32_t t = typmod - CAT_VARHDRSZ;

	*p = (t >> 16) & 0xffff;
	/* The scale is an 11-bit signed number (negative scales since PostgreSQL 15). */
	*s = ((t & 0x7ff) ^ 0x400) - 0x400;
}

bool cat_retype_widens(unsigned old_type, int old_typmod, unsigned new_type, int new_typmod,
                       bool implicit_cast)
{
	if (old_type != new_type)
		return implicit_cast && new_typmod < 0;
	if (new_typmod < 0)
		return true;
	if (old_typmod < 0)
		return false; /* unlimited before, limited now */
	if (new_type == CAT_NUMERIC) {
		int op, os, np, ns;

		numeric_ps(old_typmod, &op, &os);
		numeric_ps(new_typmod, &np, &ns);
		return np - ns >= op - os && ns >= os;
	}
	return new_typmod >= old_typmod;
}
