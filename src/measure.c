/* measure.c - rehearses migrations on an empty dev database and records, per statement, what
 * PostgreSQL says it did: the locks it took, the tables it rewrote or scanned, what it changed. */
#include "measure.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "db.h"
#include "sqlsplit.h"

/* The relation and object locks of our own backend on objects of this database that are not
 * initdb's: what a statement of the transaction took. */
#define LOCKS_WHERE                                                                                \
	"l.pid = pg_backend_pid() AND l.granted AND l.locktype IN ('relation', 'object') "         \
	"AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "       \
	"AND coalesce(l.relation, l.objid) >= 16384"
#define LOCKS_SQL                                                                                  \
	"SELECT coalesce(l.relation, l.objid), coalesce(l.classid, 1259), l.mode "                 \
	"FROM pg_locks l WHERE " LOCKS_WHERE
#define LOCKED_OIDS                                                                                \
	"ARRAY(SELECT coalesce(l.relation, l.objid) FROM pg_locks l WHERE " LOCKS_WHERE ")"

/* Every relation of ours with its relfilenode, its table (indexes) and its sequential scans
 * as the shared statistics have them: for statements that ran outside a transaction. */
#define CLASS_SQL                                                                                  \
	"SELECT c.oid, c.relfilenode, coalesce(i.indrelid, 0), pg_stat_get_numscans(c.oid) "       \
	"FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid WHERE c.oid >= 16384 "       \
	"AND c.relnamespace <> 'pg_toast'::regnamespace AND c.relpersistence <> 't' ORDER BY 1"

/* What existed once the applied files were replayed: the previous release's schema. */
#define BASELINE_SQL                                                                               \
	"SELECT 1259, oid FROM pg_class WHERE oid >= 16384 AND relpersistence <> 't' "             \
	"AND relnamespace <> 'pg_toast'::regnamespace "                                            \
	"UNION ALL SELECT 1247, oid FROM pg_type WHERE oid >= 16384 "                              \
	"UNION ALL SELECT 1255, oid FROM pg_proc WHERE oid >= 16384 "                              \
	"UNION ALL SELECT 2615, oid FROM pg_namespace WHERE oid >= 16384 "                         \
	"AND nspname NOT LIKE 'pg\\_%'"

/* Relations that make a database not empty, for plan's purpose (an extension's own tables,
 * such as PostGIS's spatial_ref_sys, do not count). */
#define USER_TABLES_SQL                                                                            \
	"SELECT count(*), min(quote_ident(n.nspname) || '.' || quote_ident(c.relname)) "           \
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "                           \
	"WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') "                                       \
	"AND n.nspname NOT IN ('pg_catalog', 'information_schema') "                               \
	"AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "                \
	"AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "        \
	"AND d.objid = c.oid AND d.deptype = 'e')"

/* SQLSTATEs of a statement that cannot run inside a transaction block: it runs alone. */
#define SQLSTATE_NOT_IN_TRANSACTION "25001"
#define SQLSTATE_BAD_TERMINATION "2D000"

/* The sequential scans this backend counted and has not flushed yet, per relation. */
#define PENDING_SCANS_SQL                                                                          \
	"SELECT oid, n FROM (SELECT c.oid, pg_stat_get_xact_numscans(c.oid) AS n FROM pg_class c " \
	"WHERE c.oid >= 16384 AND c.relkind IN ('r', 'm', 't')) s WHERE n > 0"

struct pending_scan {
	unsigned oid;
	long long scans;
};

/* A relation our open transaction holds locks on: the modes as a bit set. */
struct held {
	unsigned oid;
	unsigned modes;
};

/* A relation or object of the previous release's schema, from its first touch on. */
struct rel_track {
	unsigned oid;
	struct cat_rel base; /* as the pending files found it */
	struct cat_rel cur;  /* as the last statement left it */
	bool gone;
};

struct obj_track {
	unsigned classid, oid;
	struct cat_obj cur;
	bool gone;
};

struct measure {
	struct cfg cfg; /* shallow copy: the dev URL as database_url; strings owned by the caller */
	PGconn *dev;    /* runs the files */
	PGconn *observer; /* reads the committed catalog: the state before the open transaction */
	bool flush;       /* pg_stat_force_next_flush() exists (PostgreSQL 15+) */
	uint64_t *base;   /* classid << 32 | oid of everything that existed after the replay */
	size_t nbase;
	struct rel_track *rels;
	size_t nrels, caprels;
	struct obj_track *objs;
	size_t nobjs, capobjs;
	struct held *held; /* what the open transaction holds, sorted by oid */
	size_t nheld;
	struct pending_scan *pending; /* scans counted before the open transaction */
	size_t npending, cappending;
	char *after_sql; /* the locks, then cat_sql over the locked oids */
};

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *grow(void *v, size_t *cap, size_t n, size_t elem, struct sg_err *err)
{
	size_t ncap = *cap == 0 ? 16 : *cap * 2;
	void *nv;

	if (n < *cap)
		return v;
	if ((nv = realloc(v, ncap * elem)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		return NULL;
	}
	*cap = ncap;
	return nv;
}

static uint64_t key(unsigned classid, unsigned oid)
{
	return (uint64_t)classid << 32 | oid;
}

static int key_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool in_baseline(const struct measure *ms, unsigned classid, unsigned oid)
{
	uint64_t k = key(classid, oid);

	return ms->base != NULL && bsearch(&k, ms->base, ms->nbase, sizeof k, key_cmp) != NULL;
}

/* ---- running statements ---- */

/* One statement cut out of a file: where it is, and its text. */
struct piece {
	const struct mig *m;
	char *text; /* NUL-terminated copy */
	size_t len;
	unsigned line;    /* 1-based line in the file */
	unsigned col;     /* 1-based column (characters) in the file */
	const char *data; /* COPY ... FROM stdin: its inline data in the file's text; else NULL */
	size_t data_len;
};

/* PQexec of p, a COPY ... FROM stdin given its inline data. */
static PGresult *exec_piece(PGconn *c, const struct piece *p)
{
	size_t done;

	return db_exec_copy(c, p->text, p->data, p->data_len, &done);
}

/* "FILE:LINE:COL: message (SQLSTATE x)" for a statement that failed, the position from the
 * server's when it gives one, else the statement's start. */
static int stmt_error(const struct piece *p, const PGresult *r, const PGconn *c, const char *what,
                      struct sg_err *err)
{
	const char *pos = r != NULL ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
	unsigned line = p->line, col = p->col;
	char msg[700];

	db_describe_error(r, c, msg, sizeof msg);
	if (pos != NULL)
		(void)sqlsplit_position(p->text, p->len, strtol(pos, NULL, 10), p->line - 1,
		                        p->col - 1, &line, &col);
	return sg_err_set(err, SG_E_MIGRATION, "%s%s:%u:%u: %s", what, p->m->up_path, line, col,
	                  msg);
}

static bool ok(const PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
}

/* The statements of a file's runnable body, each with its place in the file. */
struct pieces {
	struct piece *v;
	size_t n;
};

static void pieces_free(struct pieces *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		free(ps->v[i].text);
	free(ps->v);
	memset(ps, 0, sizeof *ps);
}

static int split_file(const struct mig *m, struct pieces *out, struct sg_err *err)
{
	struct sql_stmts st = {NULL, 0};
	struct sql_body b;
	const char *body;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (sqlsplit_body(m->sql, m->sql_len, m->no_transaction, &b, err) != 0 ||
	    sqlsplit(m->sql + b.offset, b.len, &st, err) != 0)
		return sg_err_set(err, SG_E_PARSE, "%s: %.900s", m->up_path, err->msg);
	body = m->sql + b.offset;
	if (st.n > 0 && (out->v = calloc(st.n, sizeof *out->v)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < st.n; i++) {
		struct piece *p = &out->v[out->n++];

		p->m = m;
		p->len = st.v[i].len;
		p->line = b.line + st.v[i].line;
		p->col = (unsigned)sqlsplit_column_of(body, st.v[i].offset) +
		         (st.v[i].line == 1 ? b.col : 0);
		p->data = st.v[i].copy ? body + st.v[i].data_offset : NULL;
		p->data_len = st.v[i].data_len;
		if ((p->text = strndup(body + st.v[i].offset, st.v[i].len)) == NULL) {
			sg_err_set(err, SG_E_NOMEM, "out of memory");
			goto cleanup;
		}
	}
	rc = 0;
cleanup:
	sqlsplit_free(&st);
	if (rc != 0)
		pieces_free(out);
	return rc;
}

static int exec_ok(struct measure *ms, const char *sql, struct sg_err *err)
{
	if (db_exec(ms->dev, sql, err) != 0)
		return sg_err_set(err, SG_E_DB, "dev database: %.900s", err->msg);
	return 0;
}

/* Runs one statement; on failure err names its place in the file. */
static int run_piece(struct measure *ms, const struct piece *p, const char *what,
                     struct sg_err *err)
{
	PGresult *r = exec_piece(ms->dev, p);
	int rc = 0;

	if (!ok(r))
		rc = stmt_error(p, r, ms->dev, what, err);
	PQclear(r);
	return rc;
}

/* ---- opening ---- */

/* Whether target is connected to the very database of ms->dev: a session of the one shows in
 * the other's pg_stat_activity with the same start time (a pid alone could repeat elsewhere). */
static int same_database(struct measure *ms, PGconn *target, bool *same, struct sg_err *err)
{
	PGresult *r = NULL;
	char pid[24], start[64];
	const char *params[2] = {pid, start};

	*same = false;
	if (target == NULL)
		return 0;
	if (db_query(ms->dev,
	             "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()",
	             0, NULL, &r, err) != 0)
		return -1;
	if (PQntuples(r) == 1) {
		snprintf(pid, sizeof pid, "%s", PQgetvalue(r, 0, 0));
		snprintf(start, sizeof start, "%s", PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	if (db_query(target,
	             "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1::int "
	             "AND backend_start = $2::timestamptz AND datname = current_database())",
	             2, params, &r, err) != 0)
		return -1;
	*same = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return 0;
}

int measure_open(const struct cfg *cfg, PGconn *target, struct measure **out, struct sg_err *err)
{
	bool same;
	struct measure *ms;
	PGresult *r = NULL;
	char *schema = NULL, *q = NULL, where[256];
	int rc = -1;

	*out = NULL;
	if ((ms = calloc(1, sizeof *ms)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	ms->cfg = *cfg;
	ms->cfg.database_url = cfg->dev_url;
	/* DATABASE_PASSWORD_FILE is DATABASE_URL's password, not the dev database's. */
	ms->cfg.database_password_file = NULL;
	db_target(&ms->cfg, where, sizeof where);
	if (db_connect(&ms->cfg, "plan", &ms->dev, err) != 0 ||
	    same_database(ms, target, &same, err) != 0)
		goto cleanup;
	if (same) {
		sg_err_set(err, SG_E_CONFIG,
		           "the dev database %s is the database DATABASE_URL names: plan rehearses "
		           "the migrations in a scratch database, never in the one it reads as "
		           "production",
		           where);
		goto cleanup;
	}
	if (db_query(ms->dev, USER_TABLES_SQL, 0, NULL, &r, err) != 0)
		goto cleanup;
	if (strtol(PQgetvalue(r, 0, 0), NULL, 10) > 0) {
		sg_err_set(
		    err, SG_E_CONFIG,
		    "the dev database %s holds %s user table(s), view(s) or sequence(s) (e.g. "
		    "%.200s): plan rehearses the migrations in an empty database, created "
		    "afresh for each run (dropdb and createdb, or a new service container)",
		    where, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
		goto cleanup;
	}
	ms->flush = PQserverVersion(ms->dev) >= 150000;
	/* migrate creates the history's schema before the first file runs: files may count on it.
	 */
	if (db_first_schema(cfg->search_path, &schema, err) != 0)
		goto cleanup;
	if (schema != NULL) {
		char *qs = db_quote_ident(schema);
		size_t n = qs != NULL ? strlen(qs) + 40 : 0;

		if (qs == NULL || (q = malloc(n)) == NULL) {
			free(qs);
			sg_err_set(err, SG_E_NOMEM, "out of memory");
			goto cleanup;
		}
		snprintf(q, n, "CREATE SCHEMA IF NOT EXISTS %s", qs);
		free(qs);
		if (exec_ok(ms, q, err) != 0)
			goto cleanup;
	}
	*out = ms;
	ms = NULL;
	rc = 0;
cleanup:
	PQclear(r);
	free(schema);
	free(q);
	measure_close(ms);
	return rc;
}

void measure_close(struct measure *ms)
{
	if (ms == NULL)
		return;
	if (ms->dev != NULL)
		PQfinish(ms->dev);
	if (ms->observer != NULL)
		PQfinish(ms->observer);
	for (size_t i = 0; i < ms->nrels; i++) {
		cat_rel_free(&ms->rels[i].base);
		cat_rel_free(&ms->rels[i].cur);
	}
	for (size_t i = 0; i < ms->nobjs; i++)
		cat_obj_free(&ms->objs[i].cur);
	free(ms->rels);
	free(ms->objs);
	free(ms->held);
	free(ms->pending);
	free(ms->base);
	free(ms->after_sql);
	free(ms);
}

/* ---- replay ---- */

static int replay_file(struct measure *ms, const struct mig *m, struct sg_err *err)
{
	struct pieces ps;
	int rc = -1;

	if (split_file(m, &ps, err) != 0)
		return -1;
	if (!m->no_transaction && exec_ok(ms, "BEGIN", err) != 0)
		goto cleanup;
	for (size_t i = 0; i < ps.n; i++)
		if (run_piece(ms, &ps.v[i], "replaying ", err) != 0) {
			db_rollback(ms->dev);
			goto cleanup;
		}
	if (!m->no_transaction && exec_ok(ms, "COMMIT", err) != 0)
		goto cleanup;
	rc = 0;
cleanup:
	pieces_free(&ps);
	return rc;
}

int measure_replay(struct measure *ms, const struct mig *const *v, size_t n, struct msr_run *run,
                   struct sg_err *err)
{
	long long t0 = now_us();

	for (size_t i = 0; i < n; i++) {
		if (replay_file(ms, v[i], err) != 0)
			return -1;
		run->replayed++;
	}
	run->replay_ms = (long)((now_us() - t0) / 1000);
	return 0;
}

/* ---- the state before the pending files ---- */

static int read_baseline(struct measure *ms, struct sg_err *err)
{
	PGresult *r = NULL;
	int n;

	if (db_query(ms->dev, BASELINE_SQL, 0, NULL, &r, err) != 0)
		return -1;
	n = PQntuples(r);
	if (n > 0 && (ms->base = calloc((size_t)n, sizeof *ms->base)) == NULL) {
		PQclear(r);
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	}
	for (int i = 0; i < n; i++)
		ms->base[ms->nbase++] = key((unsigned)strtoul(PQgetvalue(r, i, 0), NULL, 10),
		                            (unsigned)strtoul(PQgetvalue(r, i, 1), NULL, 10));
	PQclear(r);
	if (ms->nbase > 1)
		qsort(ms->base, ms->nbase, sizeof *ms->base, key_cmp);
	return 0;
}

static struct rel_track *find_track(struct measure *ms, unsigned oid)
{
	for (size_t i = 0; i < ms->nrels; i++)
		if (ms->rels[i].oid == oid)
			return &ms->rels[i];
	return NULL;
}

static struct obj_track *find_otrack(struct measure *ms, unsigned classid, unsigned oid)
{
	for (size_t i = 0; i < ms->nobjs; i++)
		if (ms->objs[i].classid == classid && ms->objs[i].oid == oid)
			return &ms->objs[i];
	return NULL;
}

/* The scans a relation had before the open transaction's first statement. */
static long long pending_scans(const struct measure *ms, unsigned oid)
{
	for (size_t i = 0; i < ms->npending; i++)
		if (ms->pending[i].oid == oid)
			return ms->pending[i].scans;
	return 0;
}

/* "'{1,2,3}'::oid[]": an SQL literal of numbers we format ourselves. malloc'd or NULL. */
static char *oid_array(const unsigned *oids, size_t n)
{
	size_t cap = n * 11 + 16, len = 0;
	char *s = malloc(cap);
	int w;

	if (s == NULL)
		return NULL;
	len += (size_t)snprintf(s, cap, "'{");
	for (size_t i = 0; i < n; i++) {
		w = snprintf(s + len, cap - len, "%s%u", i > 0 ? "," : "", oids[i]);
		len += (size_t)w;
	}
	snprintf(s + len, cap - len, "}'::oid[]");
	return s;
}

/* Reads the catalog rows of oids as committed (the observer's connection: it does not see the
 * open transaction), i.e. as they were before it. */
static int observe(struct measure *ms, const unsigned *oids, size_t n, struct cat_snap *out,
                   struct sg_err *err)
{
	PGresult *res[CAT_NRESULTS] = {NULL};
	char *list = NULL, *sql = NULL;
	size_t nres = 0;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (ms->observer == NULL && db_connect(&ms->cfg, "plan-observer", &ms->observer, err) != 0)
		return -1;
	if ((list = oid_array(oids, n)) == NULL || (sql = cat_sql(list)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	if (db_exec_each(ms->observer, sql, res, CAT_NRESULTS, &nres, err) != 0)
		goto cleanup;
	if (nres != CAT_NRESULTS) {
		sg_err_set(err, SG_E_DB, "dev database: reading the catalog: %s",
		           nres > 0 ? PQresultErrorMessage(res[nres - 1]) : "no answer");
		goto cleanup;
	}
	rc = cat_parse(res, out, err);
cleanup:
	while (nres > 0)
		PQclear(res[--nres]);
	free(list);
	free(sql);
	return rc;
}

/* Starts tracking, as the observer sees them, the relations and objects of the previous
 * release's schema (keys) touched for the first time. */
static int track_first_touches(struct measure *ms, const uint64_t *keys, size_t n,
                               struct sg_err *err)
{
	struct cat_snap before;
	unsigned *oids;
	int rc = -1;

	if (n == 0)
		return 0;
	if ((oids = calloc(n, sizeof *oids)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		oids[i] = (unsigned)(keys[i] & 0xffffffffu);
	if (observe(ms, oids, n, &before, err) != 0) {
		free(oids);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned classid = (unsigned)(keys[i] >> 32), oid = oids[i];

		if (classid == CAT_PG_CLASS) {
			const struct cat_rel *b = cat_find_rel(&before, oid);
			struct rel_track *t, *v;

			if (b == NULL || find_track(ms, oid) != NULL)
				continue; /* gone before this transaction: not the previous
				             release's */
			if ((v = grow(ms->rels, &ms->caprels, ms->nrels, sizeof *v, err)) == NULL)
				goto cleanup;
			ms->rels = v;
			t = &ms->rels[ms->nrels];
			memset(t, 0, sizeof *t);
			t->oid = oid;
			if (cat_rel_copy(&t->base, b, err) != 0 ||
			    cat_rel_copy(&t->cur, b, err) != 0) {
				cat_rel_free(&t->base);
				goto cleanup;
			}
			t->cur.scans = pending_scans(ms, oid);
			ms->nrels++;
		} else {
			const struct cat_obj *b = cat_find_obj(&before, classid, oid);
			struct obj_track *t, *v;

			if (b == NULL || find_otrack(ms, classid, oid) != NULL)
				continue;
			if ((v = grow(ms->objs, &ms->capobjs, ms->nobjs, sizeof *v, err)) == NULL)
				goto cleanup;
			ms->objs = v;
			t = &ms->objs[ms->nobjs];
			memset(t, 0, sizeof *t);
			t->classid = classid;
			t->oid = oid;
			if (cat_obj_copy(&t->cur, b, err) != 0)
				goto cleanup;
			ms->nobjs++;
		}
	}
	rc = 0;
cleanup:
	cat_snap_free(&before);
	free(oids);
	return rc;
}

/* ---- one statement's facts ---- */

static void rel_free(struct msr_rel *r)
{
	free(r->name);
	free(r->table_name);
	free(r->table_schema);
	free(r->table_rel);
}

static void stmt_free(struct msr_stmt *s)
{
	for (size_t i = 0; i < s->nrels; i++)
		rel_free(&s->rels[i]);
	free(s->rels);
	free(s->sql);
	cat_changes_free(&s->changes);
}

void msr_stmt_line(const struct msr_stmt *s, char *buf, size_t n)
{
	const char *p = s->sql;
	size_t k = 0;

	if (n < 4) {
		if (n > 0)
			buf[0] = '\0';
		return;
	}
	for (; *p != '\0' && k < n - 1; p++) {
		bool blank = *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r';

		if (blank && k > 0 && buf[k - 1] == ' ')
			continue;
		buf[k++] = blank ? ' ' : *p;
	}
	if (*p != '\0') {
		k = n - 4;
		while (k > 0 && ((unsigned char)buf[k] & 0xc0) == 0x80)
			k--; /* not in the middle of a UTF-8 character */
		memcpy(buf + k, "...", 3);
		k += 3;
	}
	buf[k] = '\0';
}

void msr_run_free(struct msr_run *run)
{
	if (run == NULL)
		return;
	for (size_t i = 0; i < run->nstmts; i++)
		stmt_free(&run->stmts[i]);
	free(run->stmts);
	free(run->files);
	memset(run, 0, sizeof *run);
}

static char *qualified(const struct cat_rel *r)
{
	size_t n = strlen(r->nspname) + strlen(r->name) + 2;
	char *s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s.%s", r->nspname, r->name);
	return s;
}

/* Adds a relation entry to s; names come from the previous release's state. */
static int add_rel(struct msr_stmt *s, struct measure *ms, const struct rel_track *t,
                   const struct msr_rel *facts, struct sg_err *err)
{
	struct msr_rel *v = realloc(s->rels, (s->nrels + 1) * sizeof *v), *e;
	const struct rel_track *tt = t->base.table != 0 ? find_track(ms, t->base.table) : t;

	if (v == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	s->rels = v;
	e = &s->rels[s->nrels];
	*e = *facts;
	e->oid = t->oid;
	e->kind = t->base.kind;
	e->table = t->base.table != 0 ? t->base.table : t->oid;
	if (tt == NULL)
		tt = t;
	e->name = qualified(&t->base);
	e->table_name = qualified(&tt->base);
	e->table_schema = strdup(tt->base.nspname);
	e->table_rel = strdup(tt->base.name);
	if (e->name == NULL || e->table_name == NULL || e->table_schema == NULL ||
	    e->table_rel == NULL) {
		rel_free(e);
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	}
	s->nrels++;
	return 0;
}

static unsigned held_modes(const struct measure *ms, unsigned oid)
{
	for (size_t i = 0; i < ms->nheld; i++)
		if (ms->held[i].oid == oid)
			return ms->held[i].modes;
	return 0;
}

static enum pglock_mode strongest(unsigned modes)
{
	enum pglock_mode m = PGLOCK_NONE;

	for (int i = PGLOCK_ACCESS_SHARE; i < PGLOCK_NMODES; i++)
		if (modes & (1u << i))
			m = pglock_stronger(m, (enum pglock_mode)i);
	return m;
}

/* Decides, for every retype in s, whether the old values are all still accepted. */
static int decide_widening(struct measure *ms, struct msr_stmt *s, struct sg_err *err)
{
	for (size_t i = 0; i < s->changes.n; i++) {
		struct cat_change *c = &s->changes.v[i];
		char a[16], b[16];
		const char *params[2] = {a, b};
		PGresult *r = NULL;
		bool implicit = false;

		if (c->kind != CAT_COLUMN_RETYPED)
			continue;
		if (c->old_type != c->new_type) {
			snprintf(a, sizeof a, "%u", c->old_type);
			snprintf(b, sizeof b, "%u", c->new_type);
			if (db_query(
			        ms->dev,
			        "SELECT EXISTS (SELECT 1 FROM pg_cast WHERE castsource = $1 AND "
			        "casttarget = $2 AND castcontext = 'i')",
			        2, params, &r, err) != 0)
				return -1;
			implicit = PQgetvalue(r, 0, 0)[0] == 't';
			PQclear(r);
		}
		c->widened = cat_retype_widens(c->old_type, c->old_typmod, c->new_type,
		                               c->new_typmod, implicit);
	}
	return 0;
}

/* The locks the transaction holds now (rows of LOCKS_SQL) as a relation list, and the keys of
 * the previous release's objects among them that are not tracked yet (*first has room for
 * twice as many keys as there are lock rows). */
static int read_locks(struct measure *ms, const PGresult *r, struct held **out, size_t *nout,
                      uint64_t **first, size_t *nfirst, struct sg_err *err)
{
	int n = PQntuples(r);
	struct held *h = n > 0 ? calloc((size_t)n, sizeof *h) : NULL;
	/* Room for the caller to add a table per locked index too. */
	uint64_t *f = n > 0 ? calloc(2 * (size_t)n, sizeof *f) : NULL;
	size_t nh = 0, nf = 0;

	if (n > 0 && (h == NULL || f == NULL)) {
		free(h);
		free(f);
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	}
	for (int i = 0; i < n; i++) {
		unsigned oid = (unsigned)strtoul(PQgetvalue(r, i, 0), NULL, 10);
		unsigned classid = (unsigned)strtoul(PQgetvalue(r, i, 1), NULL, 10);
		enum pglock_mode m = pglock_parse(PQgetvalue(r, i, 2));
		size_t j;

		if (classid == CAT_PG_CLASS) {
			for (j = 0; j < nh && h[j].oid != oid; j++)
				;
			if (j == nh)
				h[nh++].oid = oid;
			h[j].modes |= 1u << m;
			if (in_baseline(ms, classid, oid) && find_track(ms, oid) == NULL)
				f[nf++] = key(classid, oid);
		} else if (in_baseline(ms, classid, oid) && find_otrack(ms, classid, oid) == NULL) {
			f[nf++] = key(classid, oid);
		}
	}
	*out = h;
	*nout = nh;
	*first = f;
	*nfirst = nf;
	return 0;
}

/* After a statement of a transaction: what it took, rewrote, scanned and changed. */
static int after_statement(struct measure *ms, struct msr_stmt *s, struct sg_err *err)
{
	PGresult *res[1 + CAT_NRESULTS] = {NULL};
	struct cat_snap now = {0};
	struct held *h = NULL;
	uint64_t *first = NULL;
	size_t nres = 0, nh = 0, nfirst = 0;
	int rc = -1;

	if (db_exec_each(ms->dev, ms->after_sql, res, 1 + CAT_NRESULTS, &nres, err) != 0)
		goto cleanup;
	if (nres != 1 + CAT_NRESULTS || PQresultStatus(res[0]) != PGRES_TUPLES_OK) {
		sg_err_set(err, SG_E_DB, "dev database: reading the locks: %s",
		           nres > 0 ? PQresultErrorMessage(res[nres - 1]) : "no answer");
		goto cleanup;
	}
	if (read_locks(ms, res[0], &h, &nh, &first, &nfirst, err) != 0 ||
	    cat_parse(res + 1, &now, err) != 0)
		goto cleanup;
	/* An index of the previous release's table: the table is named in reports. */
	for (size_t i = 0; i < now.nrels; i++) {
		unsigned t = now.rels[i].table;

		if (t != 0 && in_baseline(ms, CAT_PG_CLASS, now.rels[i].oid) &&
		    find_track(ms, t) == NULL) {
			size_t j;

			for (j = 0; j < nfirst && first[j] != key(CAT_PG_CLASS, t); j++)
				;
			if (j == nfirst)
				first[nfirst++] = key(CAT_PG_CLASS, t);
		}
	}
	if (track_first_touches(ms, first, nfirst, err) != 0)
		goto cleanup;
	for (size_t i = 0; i < nh; i++) {
		unsigned was = held_modes(ms, h[i].oid), is = h[i].modes;
		const struct cat_rel *after = cat_find_rel(&now, h[i].oid);
		struct rel_track *t = find_track(ms, h[i].oid);
		struct msr_rel facts = {0};

		if (t == NULL) {
			/* Created by the pending files: an index on the previous release's table
			 * is worth naming (its build scanned that table). */
			if (after != NULL && after->table != 0 && (is & ~was) != 0 &&
			    in_baseline(ms, CAT_PG_CLASS, after->table) &&
			    !in_baseline(ms, CAT_PG_CLASS, after->oid) &&
			    cat_add(&s->changes, CAT_INDEX_CREATED, after->table, false, err,
			            "index %s.%s created", after->nspname, after->name) != 0)
				goto cleanup;
			continue;
		}
		size_t nchanges = s->changes.n;

		facts.taken = strongest(is & ~was);
		facts.held = strongest(is);
		if (!t->gone) {
			if (cat_diff_rel(&t->base, &t->cur, after, &s->changes, err) != 0)
				goto cleanup;
			facts.rewritten = after != NULL && after->filenode != t->cur.filenode;
			facts.scanned = after != NULL && cat_has_storage(t->base.kind) &&
			                after->scans > t->cur.scans;
			cat_rel_free(&t->cur);
			if (after == NULL)
				t->gone = true;
			else if (cat_rel_copy(&t->cur, after, err) != 0)
				goto cleanup;
		}
		if ((facts.taken != PGLOCK_NONE || facts.rewritten || facts.scanned ||
		     s->changes.n > nchanges) &&
		    add_rel(s, ms, t, &facts, err) != 0)
			goto cleanup;
	}
	for (size_t i = 0; i < ms->nobjs; i++) {
		struct obj_track *t = &ms->objs[i];
		const struct cat_obj *after;

		if (t->gone || !in_baseline(ms, t->classid, t->oid))
			continue;
		after = cat_find_obj(&now, t->classid, t->oid);
		/* Only objects this transaction locked can have changed. */
		if (after == NULL) {
			bool locked = false;

			for (int r = 0; r < PQntuples(res[0]) && !locked; r++)
				locked = strtoul(PQgetvalue(res[0], r, 0), NULL, 10) == t->oid &&
				         strtoul(PQgetvalue(res[0], r, 1), NULL, 10) == t->classid;
			if (!locked)
				continue;
		}
		if (cat_diff_obj(&t->cur, after, &s->changes, err) != 0)
			goto cleanup;
		cat_obj_free(&t->cur);
		if (after == NULL)
			t->gone = true;
		else if (cat_obj_copy(&t->cur, after, err) != 0)
			goto cleanup;
	}
	if (decide_widening(ms, s, err) != 0)
		goto cleanup;
	free(ms->held);
	ms->held = h;
	ms->nheld = nh;
	h = NULL;
	rc = 0;
cleanup:
	while (nres > 0)
		PQclear(res[--nres]);
	cat_snap_free(&now);
	free(h);
	free(first);
	return rc;
}

/* A new transaction: nothing held yet. pg_stat_xact_*'s counts are this backend's not yet
 * flushed ones, which may go back to earlier transactions (a flush waits for a second of idle
 * time): the counts as they are now are each relation's zero. */
static int transaction_started(struct measure *ms, struct sg_err *err)
{
	PGresult *r = NULL;
	int n;

	ms->nheld = 0;
	ms->npending = 0;
	if (db_query(ms->dev, PENDING_SCANS_SQL, 0, NULL, &r, err) != 0)
		return -1;
	n = PQntuples(r);
	if (n > 0 && (size_t)n > ms->cappending) {
		struct pending_scan *v = realloc(ms->pending, (size_t)n * sizeof *v);

		if (v == NULL) {
			PQclear(r);
			return sg_err_set(err, SG_E_NOMEM, "out of memory");
		}
		ms->pending = v;
		ms->cappending = (size_t)n;
	}
	for (int i = 0; i < n; i++) {
		ms->pending[i].oid = (unsigned)strtoul(PQgetvalue(r, i, 0), NULL, 10);
		ms->pending[i].scans = strtoll(PQgetvalue(r, i, 1), NULL, 10);
	}
	ms->npending = (size_t)n;
	PQclear(r);
	for (size_t i = 0; i < ms->nrels; i++)
		ms->rels[i].cur.scans = pending_scans(ms, ms->rels[i].oid);
	return 0;
}

/* ---- statements that cannot run in a transaction ---- */

struct class_row {
	unsigned oid, filenode, table;
	long long scans;
};

struct class_rows {
	struct class_row *v;
	size_t n;
};

static const struct class_row *class_find(const struct class_rows *c, unsigned oid)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->v[mid].oid == oid)
			return &c->v[mid];
		if (c->v[mid].oid < oid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Every relation's relfilenode and scan count, the backend's own counts flushed first. */
static int read_class(struct measure *ms, struct class_rows *out, struct sg_err *err)
{
	PGresult *r = NULL;
	int n;

	memset(out, 0, sizeof *out);
	/* The flush happens when the backend goes idle after this query. */
	if (ms->flush && exec_ok(ms, "SELECT pg_stat_force_next_flush()", err) != 0)
		return -1;
	if (db_query(ms->dev, CLASS_SQL, 0, NULL, &r, err) != 0)
		return -1;
	n = PQntuples(r);
	if (n > 0 && (out->v = calloc((size_t)n, sizeof *out->v)) == NULL) {
		PQclear(r);
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	}
	for (int i = 0; i < n; i++) {
		struct class_row *c = &out->v[out->n++];

		c->oid = (unsigned)strtoul(PQgetvalue(r, i, 0), NULL, 10);
		c->filenode = (unsigned)strtoul(PQgetvalue(r, i, 1), NULL, 10);
		c->table = (unsigned)strtoul(PQgetvalue(r, i, 2), NULL, 10);
		c->scans = strtoll(PQgetvalue(r, i, 3), NULL, 10);
	}
	PQclear(r);
	return 0;
}

/* track_first_touches for those of keys[0..n) that are not tracked yet. */
static int track_untracked(struct measure *ms, const uint64_t *keys, size_t n, struct sg_err *err)
{
	uint64_t *untracked = calloc(n + 1, sizeof *untracked);
	size_t nu = 0;
	int rc;

	if (untracked == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (find_track(ms, (unsigned)keys[i]) == NULL)
			untracked[nu++] = keys[i];
	rc = track_first_touches(ms, untracked, nu, err);
	free(untracked);
	return rc;
}

/* A statement PostgreSQL runs only outside a transaction block (CREATE INDEX CONCURRENTLY and
 * the like): its locks are gone when it returns, so they are PostgreSQL's documented ones for
 * the command; rewrites and scans come from relfilenodes and the shared statistics before and
 * after. */
static int run_alone(struct measure *ms, const struct piece *p, struct msr_stmt *s,
                     struct sg_err *err)
{
	struct class_rows pre = {0}, post = {0};
	enum pglock_mode mode = pglock_documented(p->text, p->len);
	struct cat_snap fresh = {0};
	uint64_t *touched = NULL;
	unsigned *created = NULL;
	size_t ntouched = 0, ncreated = 0;
	long long t0;
	int rc = -1;

	if (read_class(ms, &pre, err) != 0)
		goto cleanup;
	t0 = now_us();
	if (run_piece(ms, p, "", err) != 0)
		goto cleanup;
	s->ms = (long)((now_us() - t0) / 1000);
	if (read_class(ms, &post, err) != 0)
		goto cleanup;
	if ((touched = calloc(pre.n + post.n + 1, sizeof *touched)) == NULL ||
	    (created = calloc(post.n + 1, sizeof *created)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	/* The previous release's relations this statement rewrote, scanned or dropped, and the
	 * tables that gained or lost an index. */
	for (size_t i = 0; i < pre.n; i++) {
		const struct class_row *a = &pre.v[i], *b = class_find(&post, a->oid);

		if (!in_baseline(ms, CAT_PG_CLASS, a->oid))
			continue;
		if (b == NULL || b->filenode != a->filenode || b->scans > a->scans)
			touched[ntouched++] = key(CAT_PG_CLASS, a->oid);
		if (b == NULL && a->table != 0)
			touched[ntouched++] = key(CAT_PG_CLASS, a->table);
	}
	for (size_t i = 0; i < post.n; i++)
		if (!in_baseline(ms, CAT_PG_CLASS, post.v[i].oid) && post.v[i].table != 0 &&
		    in_baseline(ms, CAT_PG_CLASS, post.v[i].table)) {
			touched[ntouched++] = key(CAT_PG_CLASS, post.v[i].table);
			created[ncreated++] = post.v[i].oid;
		}
	if (ncreated > 0) {
		if (observe(ms, created, ncreated, &fresh, err) != 0)
			goto cleanup;
		for (size_t i = 0; i < fresh.nrels; i++)
			if (cat_add(&s->changes, CAT_INDEX_CREATED, fresh.rels[i].table, false, err,
			            "index %s.%s created", fresh.rels[i].nspname,
			            fresh.rels[i].name) != 0)
				goto cleanup;
	}
	/* Committed now: the observer sees names as they are, which such statements do not
	 * change. */
	if (track_untracked(ms, touched, ntouched, err) != 0)
		goto cleanup;
	for (size_t i = 0; i < ntouched; i++) {
		unsigned oid = (unsigned)touched[i];
		const struct class_row *a = class_find(&pre, oid), *b = class_find(&post, oid);
		struct rel_track *t = find_track(ms, oid);
		struct msr_rel facts = {0};
		bool dup = false;

		for (size_t j = 0; j < i; j++)
			dup = dup || touched[j] == touched[i];
		if (dup || t == NULL || a == NULL)
			continue;
		facts.taken = facts.held = mode;
		facts.documented = true;
		facts.rewritten = b != NULL && b->filenode != a->filenode;
		facts.scanned = b != NULL && cat_has_storage(t->base.kind) && b->scans > a->scans;
		if (b != NULL)
			t->cur.filenode = b->filenode;
		else
			t->gone = true;
		if (add_rel(s, ms, t, &facts, err) != 0)
			goto cleanup;
	}
	rc = 0;
cleanup:
	free(pre.v);
	free(post.v);
	free(touched);
	free(created);
	cat_snap_free(&fresh);
	return rc;
}

/* ---- pending files ---- */

static struct msr_stmt *new_stmt(struct msr_run *run, size_t *cap, size_t file,
                                 const struct piece *p, struct sg_err *err)
{
	struct msr_stmt *v = grow(run->stmts, cap, run->nstmts, sizeof *v, err), *s;

	if (v == NULL)
		return NULL;
	run->stmts = v;
	s = &run->stmts[run->nstmts];
	memset(s, 0, sizeof *s);
	s->file = file;
	s->line = p->line;
	if ((s->sql = strdup(p->text)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		return NULL;
	}
	run->nstmts++;
	return s;
}

/* Runs p inside the open transaction and measures it. With may_run_alone (a no-transaction
 * file), a statement PostgreSQL refuses inside a transaction block runs alone instead; then
 * *alone is set and the transaction is gone. */
static int run_measured(struct measure *ms, struct msr_run *run, size_t *cap, size_t file,
                        const struct piece *p, bool may_run_alone, bool *alone, struct sg_err *err)
{
	struct msr_stmt *s;
	long long t0 = now_us();
	PGresult *r = exec_piece(ms->dev, p);
	long took = (long)((now_us() - t0) / 1000);

	*alone = false;
	if (!ok(r)) {
		const char *st = db_sqlstate(r);

		if (may_run_alone && (strcmp(st, SQLSTATE_NOT_IN_TRANSACTION) == 0 ||
		                      strcmp(st, SQLSTATE_BAD_TERMINATION) == 0)) {
			PQclear(r);
			db_rollback(ms->dev);
			*alone = true;
			if ((s = new_stmt(run, cap, file, p, err)) == NULL)
				return -1;
			return run_alone(ms, p, s, err);
		}
		stmt_error(p, r, ms->dev, "", err);
		PQclear(r);
		db_rollback(ms->dev);
		return -1;
	}
	PQclear(r);
	if ((s = new_stmt(run, cap, file, p, err)) == NULL)
		return -1;
	s->in_transaction = true;
	s->ms = took;
	if (after_statement(ms, s, err) != 0) {
		db_rollback(ms->dev);
		return -1;
	}
	return 0;
}

static int measure_file(struct measure *ms, struct msr_run *run, size_t *cap, size_t file,
                        struct sg_err *err)
{
	const struct mig *m = run->files[file].m;
	struct pieces ps;
	bool alone;
	int rc = -1;

	if (split_file(m, &ps, err) != 0)
		return -1;
	if (!m->no_transaction) {
		if (exec_ok(ms, "BEGIN", err) != 0)
			goto cleanup;
		if (transaction_started(ms, err) != 0)
			goto cleanup;
		for (size_t i = 0; i < ps.n; i++)
			if (run_measured(ms, run, cap, file, &ps.v[i], false, &alone, err) != 0)
				goto cleanup;
		if (exec_ok(ms, "COMMIT", err) != 0)
			goto cleanup;
	} else {
		for (size_t i = 0; i < ps.n; i++) {
			if (exec_ok(ms, "BEGIN", err) != 0)
				goto cleanup;
			if (transaction_started(ms, err) != 0)
				goto cleanup;
			if (run_measured(ms, run, cap, file, &ps.v[i], true, &alone, err) != 0)
				goto cleanup;
			if (!alone && exec_ok(ms, "COMMIT", err) != 0)
				goto cleanup;
		}
	}
	ms->nheld = 0;
	rc = 0;
cleanup:
	pieces_free(&ps);
	return rc;
}

int measure_pending(struct measure *ms, const struct mig *const *v, size_t n, struct msr_run *run,
                    struct sg_err *err)
{
	long long t0 = now_us();
	size_t cap = 0;

	if (n > 0 && (run->files = calloc(n, sizeof *run->files)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		run->files[i].m = v[i];
		run->nfiles++;
	}
	if (ms->after_sql == NULL) {
		char *cat = cat_sql(LOCKED_OIDS);
		size_t len = cat != NULL ? strlen(LOCKS_SQL) + strlen(cat) + 2 : 0;

		if (cat == NULL || (ms->after_sql = malloc(len)) == NULL) {
			free(cat);
			return sg_err_set(err, SG_E_NOMEM, "out of memory");
		}
		snprintf(ms->after_sql, len, "%s;%s", LOCKS_SQL, cat);
		free(cat);
	}
	if (read_baseline(ms, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (measure_file(ms, run, &cap, i, err) != 0)
			return -1;
	run->measure_ms = (long)((now_us() - t0) / 1000);
	return 0;
}

/* ---- local rates for estimates ---- */

int measure_rates(struct measure *ms, struct msr_run *run, struct sg_err *err)
{
	static const char *const setup =
	    "BEGIN;CREATE SCHEMA schemagate_plan_rates;"
	    "CREATE TABLE schemagate_plan_rates.t AS SELECT g::bigint AS id, md5(g::text) AS v "
	    "FROM generate_series(1, 100000) g";
	PGresult *r = NULL;
	long long bytes, t0, t1, t2;
	int rc = -1;

	if (exec_ok(ms, setup, err) != 0)
		goto cleanup;
	if (db_query(ms->dev, "SELECT pg_table_size('schemagate_plan_rates.t')", 0, NULL, &r,
	             err) != 0)
		goto cleanup;
	bytes = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	t0 = now_us();
	/* A volatile default rewrites the table, as such migrations do. */
	if (exec_ok(ms, "ALTER TABLE schemagate_plan_rates.t ADD COLUMN r float8 DEFAULT random()",
	            err) != 0)
		goto cleanup;
	t1 = now_us();
	/* A new CHECK constraint is validated by a full scan under ACCESS EXCLUSIVE. */
	if (exec_ok(ms, "ALTER TABLE schemagate_plan_rates.t ADD CONSTRAINT c CHECK (id > 0)",
	            err) != 0)
		goto cleanup;
	t2 = now_us();
	run->rewrite_rate = (double)bytes / ((double)(t1 - t0 > 0 ? t1 - t0 : 1) / 1000.0);
	run->scan_rate = (double)bytes / ((double)(t2 - t1 > 0 ? t2 - t1 : 1) / 1000.0);
	rc = 0;
cleanup:
	PQclear(r);
	db_rollback(ms->dev);
	return rc;
}
