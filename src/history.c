/* history.c - reading and creating the history and runs tables. */
#include "history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "foreign.h"
#include "log.h"

static char *join_qualified(const char *schema, const char *table)
{
	char *qs = db_quote_ident(schema), *qt = db_quote_ident(table), *out = NULL;
	size_t n;

	if (qs != NULL && qt != NULL) {
		n = strlen(qs) + strlen(qt) + 2;
		if ((out = malloc(n)) != NULL)
			snprintf(out, n, "%s.%s", qs, qt);
	}
	free(qs);
	free(qt);
	return out;
}

void hist_free(struct hist *h)
{
	if (h == NULL)
		return;
	free(h->v);
	free(h->strings);
	free(h->schema);
	free(h->qtable);
	free(h->qruns);
	free(h->database);
	free(h->other_table);
	memset(h, 0, sizeof *h);
}

/* The columns of a history row, after the leading ones a query adds. */
#define HIST_COLS                                                                                  \
	"version, name, checksum, "                                                                \
	"to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "            \
	"duration_ms, applied_by, dirty"

/* The same columns for callers that only plan (migrate): no timestamp
 * formatting, less to send; applied_at and applied_by come back empty. */
#define HIST_COLS_LEAN "version, name, checksum, NULL::text, 0, NULL::text, dirty"

static int row_cmp(const void *a, const void *b)
{
	const struct hist_row *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

/* Copies the string of column col of row i to *p and advances it; returns the copy. */
static const char *take_string(const PGresult *r, int i, int col, char **p)
{
	size_t n = (size_t)PQgetlength(r, i, col);
	char *s = *p;

	memcpy(s, PQgetvalue(r, i, col), n);
	s[n] = '\0';
	*p += n + 1;
	return s;
}

/* Copies the rows of r (HIST_COLS or HIST_COLS_LEAN, in any order) into h, sorted by version.
 * Every pod start copies the whole history: the strings go into one allocation. */
static int copy_rows(const PGresult *r, struct hist *h, struct sg_err *err)
{
	static const int text_cols[] = {1, 3, 5}; /* name, applied_at, applied_by */
	int n = PQntuples(r);
	size_t bytes = 0;
	bool sorted = true;
	char *p;

	if (n == 0)
		return 0;
	for (int i = 0; i < n; i++)
		for (size_t k = 0; k < sizeof text_cols / sizeof text_cols[0]; k++)
			bytes += (size_t)PQgetlength(r, i, text_cols[k]) + 1;
	if ((h->v = calloc((size_t)n, sizeof *h->v)) == NULL ||
	    (h->strings = p = malloc(bytes)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		struct hist_row *row = &h->v[i];

		row->version = strtol(PQgetvalue(r, i, 0), NULL, 10);
		row->name = take_string(r, i, 1, &p);
		snprintf(row->checksum, sizeof row->checksum, "%s", PQgetvalue(r, i, 2));
		row->applied_at = take_string(r, i, 3, &p);
		row->duration_ms = strtol(PQgetvalue(r, i, 4), NULL, 10);
		row->applied_by = take_string(r, i, 5, &p);
		row->dirty = strcmp(PQgetvalue(r, i, 6), "t") == 0;
		sorted = sorted && (i == 0 || h->v[i - 1].version < row->version);
	}
	h->n = (size_t)n;
	/* A plain scan returns the rows in the order they were written: nearly always sorted
	 * already, which an ORDER BY would make the server check at some cost. */
	if (!sorted)
		qsort(h->v, h->n, sizeof *h->v, row_cmp);
	return 0;
}

static int read_rows(PGconn *c, struct hist *h, bool lean, struct sg_err *err)
{
	char sql[512];
	PGresult *r = NULL;
	int rc;

	if (snprintf(sql, sizeof sql, "SELECT %s FROM %s ORDER BY version",
	             lean ? HIST_COLS_LEAN : HIST_COLS, h->qtable) >= (int)sizeof sql)
		return sg_err_set(err, SG_E_DB, "history table name too long");
	if (db_query(c, sql, 0, NULL, &r, err) != 0)
		return -1;
	rc = copy_rows(r, h, err);
	PQclear(r);
	return rc;
}

static int set_names(struct hist *h, const char *schema, const char *database, const char *table,
                     struct sg_err *err)
{
	char runs[128];

	cfg_runs_table(table, runs, sizeof runs); /* fits: config refuses longer tables */
	if ((h->schema = strdup(schema)) == NULL || (h->database = strdup(database)) == NULL ||
	    (h->qtable = join_qualified(h->schema, table)) == NULL ||
	    (h->qruns = join_qualified(h->schema, runs)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	return 0;
}

/* The common case in one round trip: the table exists where we expect it.
 * Returns 1 when it answered, 0 when the table is not there (the caller
 * probes), -1 on another error. Without a schema, the unqualified name is
 * resolved by the search path and counts only when it is the table in
 * current_schema() (where hist_ensure would create it). current_schema() is
 * the first schema of the search path that exists, so when it holds the
 * table, the unqualified name finds that one (a fresh session has no
 * temporary table to come first): checking that it is there is enough, and
 * costs a cold server process less than comparing two regclass values.
 *
 * Two statements in one message: where the table is, then its rows. Every
 * pod start runs this, on a server process that has just started and has
 * cached no catalog yet; a plain scan of the table costs that process far
 * less than the rows joined to the answers of the first statement (about
 * 2 ms less over 1,000 rows, measured). */
static int read_optimistic(PGconn *c, const char *schema, const char *table, struct hist *h,
                           bool lean, struct sg_err *err)
{
	const char *cols = lean ? HIST_COLS_LEAN : HIST_COLS;
	char *q = NULL, *qt = db_quote_ident(table), *lit = NULL, *qs = NULL, *ls = NULL;
	PGresult *r[2] = {NULL, NULL};
	size_t n, got = 0;
	int rc = -1;

	if (qt == NULL || (lit = PQescapeLiteral(c, table, strlen(table))) == NULL ||
	    (schema != NULL && ((qs = db_quote_ident(schema)) == NULL ||
	                        (ls = PQescapeLiteral(c, schema, strlen(schema))) == NULL))) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	n = 2 * strlen(qt) + 2 * strlen(lit) + (schema != NULL ? 2 * strlen(qs) + strlen(ls) : 0) +
	    strlen(cols) + 512;
	if ((q = malloc(n)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	if (schema != NULL)
		snprintf(q, n,
		         "SELECT pg_backend_pid(), %s, true, current_database();"
		         "SELECT %s FROM %s.%s",
		         ls, cols, qs, qt);
	else
		snprintf(q, n,
		         "SELECT pg_backend_pid(), current_schema(), "
		         "to_regclass(format('%%I.%%I', current_schema(), %s)) IS NOT NULL, "
		         "current_database();"
		         "SELECT %s FROM %s",
		         lit, cols, qt);
	if (db_exec_each(c, q, r, 2, &got, err) != 0)
		goto cleanup;
	for (size_t i = 0; i < got; i++) {
		if (PQresultStatus(r[i]) == PGRES_TUPLES_OK)
			continue;
		if (strcmp(db_sqlstate(r[i]), DB_SQLSTATE_UNDEFINED_TABLE) == 0) {
			rc = 0;
		} else {
			char msg[sizeof err->msg];

			db_describe_error(r[i], c, msg, sizeof msg);
			sg_err_set(err, SG_E_DB, "%s", msg);
			db_err_cause(err, r[i], c);
		}
		goto cleanup;
	}
	if (got != 2 || PQntuples(r[0]) != 1 || PQgetisnull(r[0], 0, 1) ||
	    strcmp(PQgetvalue(r[0], 0, 2), "t") != 0) {
		rc = 0; /* found elsewhere on the search path: let the probe decide */
		goto cleanup;
	}
	h->backend_pid = (int)strtol(PQgetvalue(r[0], 0, 0), NULL, 10);
	h->exists = true;
	if (set_names(h, PQgetvalue(r[0], 0, 1), PQgetvalue(r[0], 0, 3), table, err) != 0 ||
	    copy_rows(r[1], h, err) != 0)
		goto cleanup;
	rc = 1;
cleanup:
	PQclear(r[0]);
	PQclear(r[1]);
	free(q);
	free(qt);
	free(qs);
	PQfreemem(lit);
	PQfreemem(ls);
	return rc;
}

/* The known tools' tables (tool_table's and the tables beside them) as a text[] literal. */
static void tool_tables_array(char *out, size_t n)
{
	size_t at = 0;

	at += (size_t)snprintf(out, n, "{");
	for (size_t i = 0; i < TOOL_COUNT && at < n; i++) {
		at += (size_t)snprintf(out + at, n - at, "%s%s", i > 0 ? "," : "",
		                       tool_table[i].table);
		if (tool_table[i].beside != NULL && at < n)
			at += (size_t)snprintf(out + at, n - at, ",%s", tool_table[i].beside);
	}
	if (at < n)
		snprintf(out + at, n - at, "}");
}

#define OTHERS_MAX 16

/* Columns 4 and 5 of the probe: the known tools' tables found ("table:col,col table:col"),
 * and a table that is not ours. */
static int take_others(const PGresult *r, struct hist *h, struct sg_err *err)
{
	struct tool_seen seen[OTHERS_MAX];
	size_t n = 0;
	char *list;

	if (!PQgetisnull(r, 0, 5) && (h->other_table = strdup(PQgetvalue(r, 0, 5))) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	if (PQgetisnull(r, 0, 4))
		return 0;
	if ((list = strdup(PQgetvalue(r, 0, 4))) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	for (char *save = NULL, *t = strtok_r(list, " ", &save); t != NULL && n < OTHERS_MAX;
	     t = strtok_r(NULL, " ", &save)) {
		char *colon = strchr(t, ':');

		if (colon == NULL)
			continue;
		*colon = '\0';
		seen[n++] = (struct tool_seen){t, colon + 1};
	}
	h->other_tool = tool_recognise(seen, n);
	if (h->other_tool != NULL) {
		free(h->other_table);
		if ((h->other_table = strdup(h->other_tool->table)) == NULL) {
			free(list);
			return sg_err_set(err, SG_E_NOMEM, "out of memory");
		}
	}
	free(list);
	return 0;
}

static int read_hist(PGconn *c, const char *schema, const char *table, bool lean, struct hist *h,
                     struct sg_err *err)
{
	/* One round trip finds the schema, whether the table exists and, when it does not, what
	 * else the schema holds: the known tools' tables with their columns, and one table that
	 * is not ours (an extension's do not count). to_regclass never fails on a missing schema
	 * or table. */
	static const char probe[] =
	    "SELECT s, e, pg_backend_pid(), current_database(), "
	    "CASE WHEN NOT e THEN (SELECT string_agg(c.relname || ':' || (SELECT "
	    "string_agg(a.attname, ',') FROM pg_attribute a WHERE a.attrelid = c.oid AND "
	    "a.attnum > 0 AND NOT a.attisdropped), ' ' ORDER BY c.relname) FROM pg_class c "
	    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = s AND c.relkind IN "
	    "('r', 'p') AND c.relname = ANY ($3::text[])) END, "
	    "CASE WHEN NOT e THEN (SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid "
	    "= c.relnamespace WHERE n.nspname = s AND c.relkind IN ('r', 'p') AND c.relname <> "
	    "ALL (ARRAY[$2::text, $4::text]) AND NOT EXISTS (SELECT FROM pg_depend d WHERE "
	    "d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') ORDER BY "
	    "c.relname = ANY ($3::text[]) DESC, c.relname LIMIT 1) END "
	    "FROM coalesce($1::text, current_schema()) AS s, "
	    "LATERAL (SELECT to_regclass(format('%I.%I', s, $2::text)) IS NOT NULL AS e) AS x";
	char runs[128], tools[1024];
	const char *params[4] = {schema, table, tools, runs};
	PGresult *r = NULL;
	int rc;

	memset(h, 0, sizeof *h);
	rc = read_optimistic(c, schema, table, h, lean, err);
	if (rc > 0)
		return 0;
	hist_free(h);
	/* Undefined column: a table of that name that is not ours; the probe
	 * below reads it again and says whose it is. */
	if (rc < 0 && strcmp(err->sqlstate, DB_SQLSTATE_UNDEFINED_COLUMN) != 0)
		return -1;
	cfg_runs_table(table, runs, sizeof runs);
	tool_tables_array(tools, sizeof tools);
	if (db_query(c, probe, 4, params, &r, err) != 0)
		return -1;
	if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
		PQclear(r);
		return sg_err_set(err, SG_E_CONFIG,
		                  "no schema to hold the history table: the search_path names no "
		                  "existing schema; set DATABASE_SEARCH_PATH");
	}
	h->exists = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	h->backend_pid = (int)strtol(PQgetvalue(r, 0, 2), NULL, 10);
	rc = set_names(h, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 3), table, err);
	if (rc == 0 && !h->exists)
		rc = take_others(r, h, err);
	PQclear(r);
	if (rc != 0) {
		hist_free(h);
		return -1;
	}
	if (h->exists && read_rows(c, h, lean, err) != 0) {
		/* Undefined column: a table of that name that is not ours, typically another
		 * tool's history when --table points at it. Say whose and what to do. */
		bool not_ours = strcmp(err->sqlstate, DB_SQLSTATE_UNDEFINED_COLUMN) == 0;
		const char *tool = not_ours ? foreign_detect(c, h->schema, table) : NULL;

		if (tool != NULL)
			sg_err_set(
			    err, SG_E_CONFIG,
			    "table %s.%s is %s's history table, not schemagate's; leave the "
			    "history table setting (--table, SCHEMAGATE_TABLE) at a table of "
			    "ours (default schemagate_migrations) and adopt that history with "
			    "'schemagate baseline --from %s%s%s'",
			    h->schema, table, tool, tool,
			    strcmp(table, foreign_default_table(tool)) != 0 ? " --from-table " : "",
			    strcmp(table, foreign_default_table(tool)) != 0 ? table : "");
		else if (not_ours)
			sg_err_set(err, SG_E_CONFIG,
			           "table %s.%s is not a schemagate history table (%.600s); point "
			           "--table (SCHEMAGATE_TABLE) at another name",
			           h->schema, table, err->msg);
		hist_free(h);
		return -1;
	}
	return 0;
}

int hist_read(PGconn *c, const char *schema, const char *table, struct hist *h, struct sg_err *err)
{
	return read_hist(c, schema, table, false, h, err);
}

int hist_read_lean(PGconn *c, const char *schema, const char *table, struct hist *h,
                   struct sg_err *err)
{
	return read_hist(c, schema, table, true, h, err);
}

int hist_read_head(PGconn *c, const char *schema, const char *table, long *head, bool *dirty,
                   bool *exists, struct sg_err *err)
{
	char *q = NULL, *qt = join_qualified(schema, table);
	PGresult *r = NULL;
	size_t n;
	int rc = -1;

	*head = HIST_NO_VERSION;
	*dirty = *exists = false;
	if (qt == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	n = strlen(qt) + 128;
	if ((q = malloc(n)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	snprintf(q, n, "SELECT coalesce(max(version), -1), coalesce(bool_or(dirty), false) FROM %s",
	         qt);
	if (db_exec_raw(c, q, &r, err) != 0)
		goto cleanup;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		if (strcmp(db_sqlstate(r), DB_SQLSTATE_UNDEFINED_TABLE) == 0) { /* not yet */
			rc = 0;
		} else {
			char msg[sizeof err->msg];

			db_describe_error(r, c, msg, sizeof msg);
			sg_err_set(err, SG_E_DB, "%s", msg);
			db_err_cause(err, r, c);
		}
		goto cleanup;
	}
	*exists = true;
	*head = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	*dirty = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	rc = 0;
cleanup:
	PQclear(r);
	free(q);
	free(qt);
	return rc;
}

const char *hist_version_text(long v, char buf[24])
{
	if (v < 0)
		snprintf(buf, 24, "none");
	else
		snprintf(buf, 24, "%ld", v);
	return buf;
}

long hist_head(const struct hist *h)
{
	return h->n > 0 ? h->v[h->n - 1].version : HIST_NO_VERSION;
}

const struct hist_row *hist_find(const struct hist *h, long version)
{
	size_t lo = 0, hi = h->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (h->v[mid].version == version)
			return &h->v[mid];
		if (h->v[mid].version < version)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct hist_row *hist_first_dirty(const struct hist *h)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].dirty)
			return &h->v[i];
	return NULL;
}

char *hist_sql_insert(PGconn *c, const struct hist *h, const struct hist_entry *e)
{
	char *name = PQescapeLiteral(c, e->name, strlen(e->name));
	char *sum = PQescapeLiteral(c, e->checksum, strlen(e->checksum));
	char *by = PQescapeLiteral(c, e->applied_by, strlen(e->applied_by));
	char *sql = NULL;

	if (name != NULL && sum != NULL && by != NULL)
		sql = db_sqlf("INSERT INTO %s (version, name, checksum, duration_ms, applied_by, "
		              "dirty, no_transaction) VALUES (%ld, %s, %s, %ld, %s, %s, %s)",
		              h->qtable, e->version, name, sum, e->duration_ms, by,
		              e->dirty ? "true" : "false", e->no_transaction ? "true" : "false");
	PQfreemem(name);
	PQfreemem(sum);
	PQfreemem(by);
	return sql;
}

char *hist_sql_has(const struct hist *h, long version)
{
	return db_sqlf("SELECT EXISTS (SELECT 1 FROM %s WHERE version = %ld)", h->qtable, version);
}

char *hist_sql_mark_dirty(const struct hist *h, long version)
{
	return db_sqlf("UPDATE %s SET dirty = true WHERE version = %ld", h->qtable, version);
}

char *hist_sql_mark_done(const struct hist *h, long version, long duration_ms)
{
	return db_sqlf("UPDATE %s SET dirty = false, duration_ms = %ld, applied_at = now() "
	               "WHERE version = %ld",
	               h->qtable, duration_ms, version);
}

char *hist_sql_progress(const struct hist *h, long version, long done)
{
	if (done < 0)
		return db_sqlf("UPDATE %s SET statements_done = NULL WHERE version = %ld",
		               h->qtable, version);
	return db_sqlf("UPDATE %s SET statements_done = %ld WHERE version = %ld", h->qtable, done,
	               version);
}

int hist_progress_column(PGconn *c, const struct hist *h, bool *ok, struct sg_err *err)
{
	const char *params[1] = {h->qtable};
	struct sg_err e = {.code = SG_E_OK};
	PGresult *r = NULL;
	char *alter;
	bool has;

	*ok = false;
	if (db_query(c,
	             "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = $1::regclass AND "
	             "attname = 'statements_done' AND NOT attisdropped)",
	             1, params, &r, err) != 0)
		return -1;
	has = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (has) {
		*ok = true;
		return 0;
	}
	/* A history table from before the column: added once, under the migration lock. */
	if ((alter = db_sqlf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS statements_done integer",
	                     h->qtable)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	if (db_exec_owned(c, alter, &e) == 0) {
		*ok = true;
		return 0;
	}
	if (db_err_is_infrastructure(&e)) {
		*err = e;
		return -1;
	}
	/* Not the table's owner, say: the file runs as before, without a resume point. */
	log_warn("cannot add statements_done to the history table: a no-transaction migration cut "
	         "off part-way will need a person",
	         "error", e.msg, NULL);
	return 0;
}

int hist_read_progress(PGconn *c, const struct hist *h, long version, long *done,
                       struct sg_err *err)
{
	char *q = db_sqlf("SELECT statements_done FROM %s WHERE version = %ld", h->qtable, version);
	PGresult *r = NULL;
	int rc;

	*done = -1;
	if (q == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	rc = db_query(c, q, 0, NULL, &r, err);
	free(q);
	if (rc != 0)
		/* A table from before the column: no resume point was ever written. */
		return strcmp(err->sqlstate, DB_SQLSTATE_UNDEFINED_COLUMN) == 0 ? 0 : -1;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		*done = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

char *hist_sql_delete(const struct hist *h, long version)
{
	return db_sqlf("DELETE FROM %s WHERE version = %ld", h->qtable, version);
}

char *hist_sql_force(const struct hist *h, long version)
{
	return db_sqlf("DELETE FROM %s WHERE version > %ld;UPDATE %s SET dirty = false WHERE "
	               "version = %ld",
	               h->qtable, version, h->qtable, version);
}

int hist_ensure(PGconn *c, const struct hist *h, struct sg_err *err)
{
	char *qs = db_quote_ident(h->schema);
	char sql[2048], create_schema[300];
	const char *params[1] = {h->schema};
	PGresult *r = NULL;
	int n, rc;

	if (qs == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	/* CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the
	 * schema exists; ask first so that a migrate role with only USAGE and
	 * CREATE on its schema works (least privilege). */
	if (db_query(c, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1, params, &r, err) != 0) {
		free(qs);
		return -1;
	}
	create_schema[0] = '\0';
	n = PQntuples(r) > 0 ? 0
	                     : snprintf(create_schema, sizeof create_schema,
	                                "CREATE SCHEMA IF NOT EXISTS %s;", qs);
	PQclear(r);
	if (n < 0 || (size_t)n >= sizeof create_schema) {
		free(qs);
		return sg_err_set(err, SG_E_DB, "schema name too long");
	}
	n = snprintf(sql, sizeof sql,
	             "SET LOCAL client_min_messages TO warning;" /* no "already exists" notices */
	             "%s"
	             "CREATE TABLE IF NOT EXISTS %s ("
	             " version bigint PRIMARY KEY CHECK (version >= 0),"
	             " name text NOT NULL,"
	             " checksum text NOT NULL,"
	             " applied_at timestamptz NOT NULL DEFAULT now(),"
	             " duration_ms bigint NOT NULL DEFAULT 0,"
	             " applied_by text NOT NULL,"
	             " dirty boolean NOT NULL DEFAULT false,"
	             " no_transaction boolean NOT NULL DEFAULT false,"
	             " statements_done integer);"
	             "CREATE TABLE IF NOT EXISTS %s ("
	             " id bigserial PRIMARY KEY,"
	             " command text NOT NULL,"
	             " identity text NOT NULL,"
	             " backend_pid integer NOT NULL DEFAULT pg_backend_pid(),"
	             " started_at timestamptz NOT NULL DEFAULT now(),"
	             " finished_at timestamptz,"
	             " from_version bigint NOT NULL,"
	             " to_version bigint NOT NULL,"
	             " reached_version bigint,"
	             " outcome text NOT NULL DEFAULT '%s',"
	             " error text,"
	             " fencing_token bigint)",
	             create_schema, h->qtable, h->qruns, hist_outcome_name(RUN_RUNNING));
	free(qs);
	if (n < 0 || (size_t)n >= sizeof sql)
		return sg_err_set(err, SG_E_DB, "history table names too long");
	rc = db_exec(c, sql, err);
	if (rc != 0) {
		sg_err_wrap(err, SG_E_DB, "creating the history tables in schema %s: %.900s",
		            h->schema, err->msg);
	}
	return rc;
}

int hist_max_fencing(PGconn *c, const struct hist *h, long long *out, struct sg_err *err)
{
	char sql[512];
	const char *params[1] = {h->qruns};
	PGresult *r = NULL;
	bool exists;

	*out = 0;
	if (db_query(c, "SELECT to_regclass($1) IS NOT NULL", 1, params, &r, err) != 0)
		return -1;
	exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!exists)
		return 0;
	if (snprintf(sql, sizeof sql, "SELECT coalesce(max(fencing_token), 0) FROM %s", h->qruns) >=
	    (int)sizeof sql)
		return sg_err_set(err, SG_E_DB, "runs table name too long");
	if (db_query(c, sql, 0, NULL, &r, err) != 0)
		return -1;
	*out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

int hist_run_begin(PGconn *c, const struct hist *h, const char *command, const char *identity,
                   long from_version, long to_version, long long fencing_token, bool exclusive,
                   long *run_id, struct sg_err *err)
{
	char sql[1024], from[24], to[24], tok[24];
	const char *params[5] = {command, identity, from, to, fencing_token > 0 ? tok : NULL};
	PGresult *r = NULL;

	snprintf(from, sizeof from, "%ld", from_version);
	snprintf(to, sizeof to, "%ld", to_version);
	snprintf(tok, sizeof tok, "%lld", fencing_token);
	/* With the migration lock held, any run still marked running is dead. */
	if (snprintf(sql, sizeof sql,
	             "WITH stale AS (UPDATE %s SET outcome = '%s', finished_at = now() "
	             "WHERE outcome = '%s' AND %s) "
	             "INSERT INTO %s (command, identity, from_version, to_version, fencing_token) "
	             "VALUES ($1, $2, $3, $4, $5) RETURNING id",
	             h->qruns, hist_outcome_name(RUN_ABANDONED), hist_outcome_name(RUN_RUNNING),
	             exclusive ? "true" : "false", h->qruns) >= (int)sizeof sql)
		return sg_err_set(err, SG_E_DB, "runs table name too long");
	if (db_query(c, sql, 5, params, &r, err) != 0)
		return -1;
	*run_id = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

int hist_run_resume(PGconn *c, const struct hist *h, long run_id, long long fencing_token,
                    bool exclusive, bool *resumed, struct sg_err *err)
{
	char id[24], tok[24];
	const char *params[2] = {id, fencing_token > 0 ? tok : NULL};
	PGresult *r = NULL;
	char *sql;
	int rc;

	*resumed = false;
	snprintf(id, sizeof id, "%ld", run_id);
	snprintf(tok, sizeof tok, "%lld", fencing_token);
	/* Under the migration lock again: other runs still marked running are dead, this one is
	 * ours unless someone declared it abandoned while we were away. */
	if ((sql = db_sqlf("WITH stale AS (UPDATE %s SET outcome = '%s', finished_at = "
	                   "now() WHERE outcome = '%s' AND id <> $1::bigint AND %s) "
	                   "UPDATE %s SET backend_pid = pg_backend_pid(), fencing_token = "
	                   "coalesce($2::bigint, fencing_token) WHERE id = $1::bigint AND "
	                   "outcome = '%s' RETURNING id",
	                   h->qruns, hist_outcome_name(RUN_ABANDONED),
	                   hist_outcome_name(RUN_RUNNING), exclusive ? "true" : "false", h->qruns,
	                   hist_outcome_name(RUN_RUNNING))) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	rc = db_query(c, sql, 2, params, &r, err);
	free(sql);
	if (rc != 0)
		return -1;
	*resumed = PQntuples(r) == 1;
	PQclear(r);
	return 0;
}

int hist_run_end(PGconn *c, const struct hist *h, long run_id, enum run_outcome outcome,
                 long reached_version, const char *error, struct sg_err *err)
{
	char sql[512], id[24], reached[24];
	const char *params[4] = {id, hist_outcome_name(outcome), reached, error};
	PGresult *r = NULL;

	snprintf(id, sizeof id, "%ld", run_id);
	snprintf(reached, sizeof reached, "%ld", reached_version);
	if (snprintf(sql, sizeof sql,
	             "UPDATE %s SET outcome = $2, reached_version = $3, error = $4, "
	             "finished_at = now() WHERE id = $1",
	             h->qruns) >= (int)sizeof sql)
		return sg_err_set(err, SG_E_DB, "runs table name too long");
	if (db_query(c, sql, 4, params, &r, err) != 0)
		return -1;
	PQclear(r);
	return 0;
}

static const char *const outcome_names[] = {
    [RUN_NONE] = "",         [RUN_RUNNING] = "running",         [RUN_SUCCEEDED] = "succeeded",
    [RUN_FAILED] = "failed", [RUN_INTERRUPTED] = "interrupted", [RUN_ABANDONED] = "abandoned",
};

const char *hist_outcome_name(enum run_outcome o)
{
	return (size_t)o < sizeof outcome_names / sizeof outcome_names[0] ? outcome_names[o] : "";
}

enum run_outcome hist_outcome_of(const char *s)
{
	for (size_t i = RUN_RUNNING;
	     s != NULL && i < sizeof outcome_names / sizeof outcome_names[0]; i++)
		if (strcmp(s, outcome_names[i]) == 0)
			return (enum run_outcome)i;
	return RUN_NONE;
}

/* A run's outcome as readiness and status read it (runs table columns, unqualified): one
 * marked running whose server process is gone is abandoned, whether or not the next lock
 * holder has marked it yet. Its %s are the names of RUN_RUNNING and RUN_ABANDONED. */
#define OUTCOME_READ_SQL                                                                           \
	"CASE WHEN outcome = '%s' AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a "               \
	"WHERE a.pid = backend_pid) THEN '%s' ELSE outcome END"

/* Text of a timestamp column in UTC: RFC 3339 to the second, or with milliseconds. */
#define TS_SQL(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define TS_MS_SQL(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

char *hist_runs_summary_sql(const char *qtable, const char *qruns)
{
	const char *running = hist_outcome_name(RUN_RUNNING),
	           *abandoned = hist_outcome_name(RUN_ABANDONED),
	           *succeeded = hist_outcome_name(RUN_SUCCEEDED);

	/* Columns: the newest run's outcome; the newest success's end (else the newest
	 * applied_at) and duration; the newest run's end (epoch s) and duration so far. */
	return db_sqlf(
	    "(SELECT " OUTCOME_READ_SQL " FROM %s ORDER BY id DESC LIMIT 1), "
	    "coalesce((SELECT " TS_SQL(
	        "finished_at") " FROM %s WHERE outcome = '%s' "
	                       "AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1), "
	                       "(SELECT " TS_SQL(
	                           "max(applied_at)") " FROM %s)), "
	                                              "(SELECT (extract(epoch FROM finished_at - "
	                                              "started_at) * 1000)::bigint "
	                                              "FROM %s WHERE outcome = '%s' AND "
	                                              "finished_at IS NOT NULL "
	                                              "ORDER BY id DESC LIMIT 1), "
	                                              "(SELECT extract(epoch FROM finished_at) "
	                                              "FROM %s ORDER BY id DESC LIMIT 1), "
	                                              "(SELECT CASE WHEN finished_at IS NOT NULL "
	                                              "THEN extract(epoch FROM "
	                                              "finished_at - started_at) "
	                                              "WHEN " OUTCOME_READ_SQL " = '%s' THEN "
	                                              "extract(epoch FROM now() - started_at) END "
	                                              "FROM %s ORDER BY id DESC LIMIT 1)",
	    running, abandoned, qruns, qruns, succeeded, qtable, qruns, succeeded, qruns, running,
	    abandoned, running, qruns);
}

void hist_runs_summary_take(const PGresult *r, int row, int col, struct hist_runs_summary *out)
{
	out->last = PQgetisnull(r, row, col) ? RUN_NONE : hist_outcome_of(PQgetvalue(r, row, col));
	/* Truncation is fine: a display field. */
	snprintf(out->completed_at, sizeof out->completed_at, "%s",
	         PQgetisnull(r, row, col + 1) ? "" : PQgetvalue(r, row, col + 1));
	out->completed_duration_ms =
	    PQgetisnull(r, row, col + 2) ? -1 : strtoll(PQgetvalue(r, row, col + 2), NULL, 10);
	out->last_end_s =
	    PQgetisnull(r, row, col + 3) ? 0 : strtod(PQgetvalue(r, row, col + 3), NULL);
	out->last_duration_s =
	    PQgetisnull(r, row, col + 4) ? -1 : strtod(PQgetvalue(r, row, col + 4), NULL);
}

char *hist_runs_recent_sql(const struct hist *h, size_t limit)
{
	static const char cols[] =
	    "id, command, identity, backend_pid, " TS_MS_SQL("started_at") ", " TS_MS_SQL(
	        "finished_at") ", from_version, to_version, reached_version";

	return db_sqlf("SELECT %s, " OUTCOME_READ_SQL ", error, fencing_token FROM %s "
	               "ORDER BY id DESC LIMIT %zu",
	               cols, hist_outcome_name(RUN_RUNNING), hist_outcome_name(RUN_ABANDONED),
	               h->qruns, limit);
}
