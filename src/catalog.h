/* catalog.h - the catalog rows of the objects a statement touched, and what changed in them. */
#ifndef SCHEMAGATE_CATALOG_H
#define SCHEMAGATE_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "err.h"

/* System catalogs, as pg_locks.classid names them. */
#define CAT_PG_CLASS 1259u
#define CAT_PG_TYPE 1247u
#define CAT_PG_PROC 1255u
#define CAT_PG_NAMESPACE 2615u

/* Objects with an OID below this were made by initdb; ours never are. */
#define CAT_FIRST_USER_OID 16384u

struct cat_col {
	int attnum;
	char *name;
	unsigned type; /* atttypid */
	int typmod;    /* atttypmod, -1 when none */
	bool notnull;
	bool has_default; /* a default, an identity or a generation expression */
	char *type_name;  /* format_type(): "character varying(10)" */
};

struct cat_con {
	unsigned oid;
	char *name;
	char type; /* pg_constraint.contype: c, f, p, u, x, t */
	bool validated;
};

/* One relation (table, partitioned table, view, index, sequence, ...). */
struct cat_rel {
	unsigned oid, nsp;
	char *nspname, *name;
	char kind;            /* relkind */
	unsigned filenode;    /* relfilenode: changes when the relation is rewritten */
	unsigned table;       /* for an index, its table; else 0 */
	bool is_partition;    /* relispartition */
	long long scans;      /* sequential scans in the reading transaction (pg_stat_xact_*) */
	struct cat_col *cols; /* by attnum ascending; tables and views only */
	size_t ncols;
	struct cat_con *cons; /* tables only */
	size_t ncons;
};

/* A type, a function (or procedure) or a schema. */
struct cat_obj {
	unsigned classid; /* CAT_PG_TYPE, CAT_PG_PROC or CAT_PG_NAMESPACE */
	unsigned oid, nsp;
	char *nspname, *name;
	char *args;   /* functions: identity arguments ("a integer, b text"); else "" */
	bool visible; /* types: one clients name (not a table's row type or an array) */
};

struct cat_snap {
	struct cat_rel *rels; /* by oid ascending */
	size_t nrels;
	struct cat_obj *objs; /* by (classid, oid) ascending */
	size_t nobjs;
};

/* The query text (several statements, one round trip, in the order cat_parse wants) reading
 * the rows of every relation, type, function and schema whose OID is in oids_sql, an SQL
 * expression of type oid[] ("'{16390,16402}'::oid[]", or an ARRAY(...) over pg_locks). TOAST
 * and temporary relations are left out. malloc'd; NULL when out of memory. */
char *cat_sql(const char *oids_sql);

/* The number of results cat_sql's text gives. */
#define CAT_NRESULTS 4

/* Parses the results of cat_sql's query into *out (owned: cat_snap_free). SG_E_DB when a
 * result is not the rows expected. */
SG_MUSTCHECK int cat_parse(PGresult *const *res, struct cat_snap *out, struct sg_err *err);
void cat_snap_free(struct cat_snap *s); /* NULL-safe, leaves it empty */

const struct cat_rel *cat_find_rel(const struct cat_snap *s, unsigned oid);
const struct cat_obj *cat_find_obj(const struct cat_snap *s, unsigned classid, unsigned oid);

/* Deep copies (an empty *to first); SG_E_NOMEM. */
SG_MUSTCHECK int cat_rel_copy(struct cat_rel *to, const struct cat_rel *from, struct sg_err *err);
SG_MUSTCHECK int cat_obj_copy(struct cat_obj *to, const struct cat_obj *from, struct sg_err *err);
void cat_rel_free(struct cat_rel *r); /* NULL-safe, leaves it zeroed */
void cat_obj_free(struct cat_obj *o);

/* True for relation kinds clients read and write by name: tables, partitioned tables, views,
 * materialized views, foreign tables, sequences. */
bool cat_is_table_like(char relkind);
/* True for tables that hold rows of their own (and so can be scanned or rewritten). */
bool cat_has_storage(char relkind);

/* What changed for clients, found by comparing catalog rows. */
enum cat_change_kind {
	CAT_RELATION_DROPPED,
	CAT_RELATION_RENAMED, /* name or schema */
	CAT_COLUMN_ADDED,
	CAT_COLUMN_DROPPED,
	CAT_COLUMN_RENAMED,
	CAT_COLUMN_RETYPED,
	CAT_COLUMN_REQUIRED,  /* NOT NULL without a default, and unknown to the previous release */
	CAT_COLUMN_NOT_NULL,  /* a column the previous release knows made NOT NULL */
	CAT_CONSTRAINT_ADDED, /* and validated */
	CAT_CONSTRAINT_NOT_VALID,
	CAT_CONSTRAINT_VALIDATED,
	CAT_INDEX_CREATED,
	CAT_PARTITION_ATTACHED,
	CAT_TYPE_DROPPED,
	CAT_TYPE_RENAMED,
	CAT_FUNCTION_DROPPED,
	CAT_FUNCTION_RENAMED,
	CAT_SCHEMA_DROPPED,
	CAT_SCHEMA_RENAMED,
};

/* "relation_dropped", "column_retyped", ...: the kind's name in JSON. */
const char *cat_change_name(enum cat_change_kind k);

struct cat_change {
	enum cat_change_kind kind;
	unsigned rel;  /* the relation concerned (its table for an index); 0 for other objects */
	bool baseline; /* the object (column, relation, ...) existed before the pending files */
	char contype;  /* constraints: pg_constraint.contype */
	/* retypes: the old and new type, and whether every value of the old one is still
	 * accepted (an implicit cast, or the same type with a typmod at least as wide) */
	unsigned old_type, new_type;
	int old_typmod, new_typmod;
	bool widened;
	char *what; /* for people: "public.orders.total: integer -> bigint" */
};

struct cat_changes {
	struct cat_change *v;
	size_t n, cap;
};

/* Appends the changes between before and after (NULL: the relation is gone) of one relation
 * that existed before the pending files; base is its state then (the columns the previous
 * release knows). widened is left false: the caller decides it (it needs pg_cast). */
SG_MUSTCHECK int cat_diff_rel(const struct cat_rel *base, const struct cat_rel *before,
                              const struct cat_rel *after, struct cat_changes *out,
                              struct sg_err *err);

/* The same for a type, function or schema that existed before the pending files. */
SG_MUSTCHECK int cat_diff_obj(const struct cat_obj *before, const struct cat_obj *after,
                              struct cat_changes *out, struct sg_err *err);

/* Appends one change with a formatted text; SG_E_NOMEM. */
SG_MUSTCHECK int cat_add(struct cat_changes *out, enum cat_change_kind kind, unsigned rel,
                         bool baseline, struct sg_err *err, const char *fmt, ...) SG_PRINTF(6, 7);
void cat_changes_free(struct cat_changes *c); /* NULL-safe */

/* Whether a column typed (old_type, old_typmod) accepts, as (new_type, new_typmod), every
 * value it held: same type with an unlimited or not narrower typmod (numeric: neither fewer
 * integer digits nor fewer decimals), or another type reached by an implicit cast
 * (implicit_cast, which the caller reads from pg_cast) without a typmod of its own. */
bool cat_retype_widens(unsigned old_type, int old_typmod, unsigned new_type, int new_typmod,
                       bool implicit_cast);

#endif /* SCHEMAGATE_CATALOG_H */
