/* test_dryrun.c - `schemagate plan` and `verify --dev-url` against a real PostgreSQL: the corpus's
 * truths checked against PostgreSQL itself, then plan checked against the corpus. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "pglock.h"
#include "sgt.h"

/* ---- the corpus (tests/data/plan-corpus/README.md) ---- */

#define MAX_EXPECT 4
#define MAX_OLD 4

struct expect {
	char table[64];
	enum pglock_mode lock;
	bool rewrite, scan;
};

struct corpus_case {
	char file[128];
	char name[64];
	bool no_transaction;
	struct expect ex[MAX_EXPECT];
	size_t nex;
	bool breaking, refused;
	char *old[MAX_OLD];
	size_t nold;
	char *sql; /* the statement */
};

static enum pglock_mode mode_of(const char *word)
{
	char pg[64], *w = pg;

	if (strcmp(word, "NONE") == 0)
		return PGLOCK_NONE;
	/* ACCESS_EXCLUSIVE -> AccessExclusiveLock, the name pglock_parse knows. */
	for (const char *p = word; *p != '\0' && w < pg + sizeof pg - 6; p++) {
		if (*p == '_')
			continue;
		*w++ = p == word || p[-1] == '_' ? *p : (char)(*p - 'A' + 'a');
	}
	snprintf(w, (size_t)(pg + sizeof pg - w), "Lock");
	cr_assert_neq(pglock_parse(pg), PGLOCK_NONE, "unknown lock mode %s in the corpus", word);
	return pglock_parse(pg);
}

static bool yes(const char *s, const char *what, const char *file)
{
	cr_assert(strcmp(s, "yes") == 0 || strcmp(s, "no") == 0, "%s: %s=%s", file, what, s);
	return strcmp(s, "yes") == 0;
}

static void parse_case(const char *dir, const char *file, struct corpus_case *c)
{
	char *path = sgt_fmt("%s/%s", dir, file), *text = sgt_read_file(path), *save = NULL;
	bool head = true;
	size_t body = 0;

	cr_assert_not_null(text, "cannot read %s", path);
	memset(c, 0, sizeof *c);
	snprintf(c->file, sizeof c->file, "%s", file);
	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char t[64], l[64], rw[8], sc[8], b[8], v[16];

		if (head && strncmp(line, "--", 2) != 0)
			head = false;
		if (!head) {
			size_t n = strlen(line);

			c->sql = realloc(c->sql, body + n + 2);
			memcpy(c->sql + body, line, n);
			body += n;
			c->sql[body++] = '\n';
			c->sql[body] = '\0';
			continue;
		}
		if (strcmp(line, "-- schemagate:no-transaction") == 0)
			c->no_transaction = true;
		else if (sscanf(line, "-- case: %63s", c->name) == 1)
			;
		else if (sscanf(line, "-- expect %63[^:]: lock=%63s rewrite=%7s scan=%7s", t, l, rw,
		                sc) == 4) {
			struct expect *e = &c->ex[c->nex++];

			cr_assert_leq(c->nex, MAX_EXPECT, "%s: too many expect lines", file);
			snprintf(e->table, sizeof e->table, "%s", t);
			e->lock = mode_of(l);
			e->rewrite = yes(rw, "rewrite", file);
			e->scan = yes(sc, "scan", file);
		} else if (sscanf(line, "-- expect: breaking=%7s verdict=%15s", b, v) == 2) {
			c->breaking = yes(b, "breaking", file);
			cr_assert(strcmp(v, "refused") == 0 || strcmp(v, "ok") == 0,
			          "%s: verdict=%s", file, v);
			c->refused = strcmp(v, "refused") == 0;
		} else if (strncmp(line, "-- old: ", 8) == 0) {
			cr_assert_lt(c->nold, MAX_OLD, "%s: too many old queries", file);
			c->old[c->nold++] = strdup(line + 8);
		}
	}
	cr_assert_not_null(c->sql, "%s has no statement", file);
	cr_assert_str_not_empty(c->name, "%s has no case name", file);
	free(text);
	free(path);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The corpus's files, sorted; the first is the setup. */
static char **corpus_files(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	char **v = NULL;
	struct dirent *e;

	cr_assert_not_null(d, "cannot open %s", dir);
	*n = 0;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len < 8 || strcmp(e->d_name + len - 7, ".up.sql") != 0)
			continue;
		v = realloc(v, (*n + 1) * sizeof *v);
		v[(*n)++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(v, *n, sizeof *v, name_cmp);
	return v;
}

static void free_case(struct corpus_case *c)
{
	for (size_t i = 0; i < c->nold; i++)
		free(c->old[i]);
	free(c->sql);
}

/* The documented policy, restated without plan's code: without production sizes, refused when
 * the statement rewrote or scanned a table under a lock that blocks writes, or is breaking. */
static bool policy_refuses(const struct corpus_case *c)
{
	for (size_t i = 0; i < c->nex; i++)
		if ((c->ex[i].rewrite || c->ex[i].scan) && pglock_blocks_writes(c->ex[i].lock))
			return true;
	return c->breaking;
}

/* ---- PostgreSQL as the oracle ---- */

static char *dsn;
static char *dir;

static void setup(void)
{
	sgt_require_services();
	sgt_case_open("plan", &dsn, &dir);
}

static void teardown(void)
{
	sgt_case_close(&dsn, &dir);
}

static const char *const mode_sql[PGLOCK_NMODES] = {
    [PGLOCK_ACCESS_SHARE] = "ACCESS SHARE",
    [PGLOCK_ROW_SHARE] = "ROW SHARE",
    [PGLOCK_ROW_EXCLUSIVE] = "ROW EXCLUSIVE",
    [PGLOCK_SHARE_UPDATE_EXCLUSIVE] = "SHARE UPDATE EXCLUSIVE",
    [PGLOCK_SHARE] = "SHARE",
    [PGLOCK_SHARE_ROW_EXCLUSIVE] = "SHARE ROW EXCLUSIVE",
    [PGLOCK_EXCLUSIVE] = "EXCLUSIVE",
    [PGLOCK_ACCESS_EXCLUSIVE] = "ACCESS EXCLUSIVE",
};

static PGresult *must(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
	          "%s: %s", sql, PQerrorMessage(c));
	return r;
}

static void run(PGconn *c, const char *sql)
{
	PQclear(must(c, sql));
}

static long long scalar(PGconn *c, const char *sql)
{
	PGresult *r = must(c, sql);
	long long v =
	    PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;

	PQclear(r);
	return v;
}

/* The modes another session cannot take on table right now, as a bit set: LOCK ... NOWAIT
 * fails with 55P03 exactly for the modes that conflict with what is held. */
static unsigned conflicts_seen(PGconn *probe, const char *table)
{
	unsigned set = 0;

	for (int m = PGLOCK_ACCESS_SHARE; m < PGLOCK_NMODES; m++) {
		char *sql = sgt_fmt("LOCK TABLE ONLY %s IN %s MODE NOWAIT", table, mode_sql[m]);
		PGresult *r;

		run(probe, "BEGIN");
		r = PQexec(probe, sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			cr_assert_str_eq(PQresultErrorField(r, PG_DIAG_SQLSTATE), "55P03", "%s: %s",
			                 sql, PQerrorMessage(probe));
			set |= 1u << m;
		}
		PQclear(r);
		run(probe, "ROLLBACK");
		free(sql);
	}
	return set;
}

static unsigned conflicts_of(enum pglock_mode held)
{
	unsigned set = 0;

	for (int m = PGLOCK_ACCESS_SHARE; m < PGLOCK_NMODES; m++)
		if (pglock_conflicts(held, (enum pglock_mode)m))
			set |= 1u << m;
	return set;
}

/* Runs each old query in a transaction rolled back; returns how many failed. */
static size_t old_failures(PGconn *c, const struct corpus_case *k, char *why, size_t n)
{
	size_t failed = 0;

	for (size_t i = 0; i < k->nold; i++) {
		PGresult *r;

		run(c, "BEGIN");
		r = PQexec(c, k->old[i]);
		if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
			failed++;
			snprintf(why, n, "%s: %s", k->old[i], PQresultErrorMessage(r));
		}
		PQclear(r);
		run(c, "ROLLBACK");
	}
	/* Its scans are flushed now, not during the next case's measurement. */
	run(c, "SELECT pg_stat_force_next_flush()");
	return failed;
}

struct table_state {
	long long oid, filenode, scans;
};

/* Each table's oid (before: by name), relfilenode (-1 once dropped) and sequential scans as the
 * shared statistics count them, this backend's own counts flushed first. */
static void read_state(PGconn *c, const struct corpus_case *k, struct table_state *st, bool by_oid)
{
	run(c, "SELECT pg_stat_force_next_flush()");
	for (size_t i = 0; i < k->nex; i++) {
		char *sql = by_oid ? sgt_fmt("SELECT %lld::oid", st[i].oid)
		                   : sgt_fmt("SELECT '%s'::regclass::oid", k->ex[i].table);
		char *q = sgt_fmt(
		    "SELECT o, coalesce((SELECT relfilenode::bigint FROM pg_class WHERE oid = o), "
		    "-1), coalesce(pg_stat_get_numscans(o), 0) FROM (%s) AS x(o)",
		    sql);
		PGresult *r = must(c, q);

		st[i].oid = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		st[i].filenode = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		st[i].scans = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
		PQclear(r);
		free(sql);
		free(q);
	}
}

/* Waits until the backend pid waits for a lock (the no-transaction statement, held up by the
 * holder's open snapshot); bounded generously, never a sleep that decides anything. */
static void wait_until_waiting(PGconn *probe, int pid, const char *what)
{
	char *sql = sgt_fmt("SELECT count(*) FROM pg_stat_activity WHERE pid = %d AND "
	                    "wait_event_type = 'Lock'",
	                    pid);

	for (int i = 0; i < 6000; i++) {
		if (scalar(probe, sql) == 1) {
			free(sql);
			return;
		}
		sgt_sleep_ms(10);
	}
	cr_assert_fail("%s never waited for the holder's snapshot", what);
}

/* The sessions of the oracle: a runs the statements, probe asks for locks, old runs the
 * previous release's queries, holder holds a snapshot up. */
struct sessions {
	PGconn *a, *probe, *old, *holder;
};

static void check_case(struct sessions *s, const struct corpus_case *k)
{
	PGconn *a = s->a, *probe = s->probe, *old = s->old, *holder = s->holder;
	struct table_state before[MAX_EXPECT], after[MAX_EXPECT];
	unsigned seen[MAX_EXPECT];
	char why[512] = "";
	PGresult *r;

	cr_assert_eq(old_failures(old, k, why, sizeof why), 0,
	             "%s: an old query fails before the statement: %s", k->file, why);
	read_state(a, k, before, false);
	if (!k->no_transaction) {
		run(a, "BEGIN");
		run(a, k->sql);
	} else {
		/* Held up by an open snapshot (and a lock that conflicts only with ACCESS
		 * EXCLUSIVE) while it holds its own lock, so that the probes see it. */
		run(holder, "BEGIN ISOLATION LEVEL REPEATABLE READ");
		run(holder, "SELECT 1"); /* the snapshot */
		if (k->nex > 0) {
			/* A lock, not a read: a read would count as a scan of the table. */
			char *sql =
			    sgt_fmt("LOCK TABLE ONLY %s IN ACCESS SHARE MODE", k->ex[0].table);

			run(holder, sql);
			free(sql);
		}
		cr_assert(PQsendQuery(a, k->sql), "%s: %s", k->file, PQerrorMessage(a));
		wait_until_waiting(probe, PQbackendPID(a), k->file);
	}
	for (size_t i = 0; i < k->nex; i++)
		seen[i] = conflicts_seen(probe, k->ex[i].table);
	if (!k->no_transaction) {
		run(a, "COMMIT");
	} else {
		run(holder, "COMMIT");
		while ((r = PQgetResult(a)) != NULL) {
			cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s: %s", k->file,
			             PQresultErrorMessage(r));
			PQclear(r);
		}
	}
	memcpy(after, before, sizeof after);
	read_state(a, k, after, true);
	for (size_t i = 0; i < k->nex; i++) {
		const struct expect *e = &k->ex[i];
		bool rewritten = after[i].filenode >= 0 && after[i].filenode != before[i].filenode;
		bool scanned = after[i].scans > before[i].scans;

		cr_expect_eq(seen[i], conflicts_of(e->lock),
		             "%s: %s: the modes PostgreSQL refused another session (0x%x) are not "
		             "those %s conflicts with (0x%x)",
		             k->file, e->table, seen[i], pglock_name(e->lock),
		             conflicts_of(e->lock));
		cr_expect_eq(rewritten, e->rewrite, "%s: %s: relfilenode %lld -> %lld, expected %s",
		             k->file, e->table, before[i].filenode, after[i].filenode,
		             e->rewrite ? "a rewrite" : "none");
		cr_expect_eq(scanned, e->scan, "%s: %s: seq_scan %lld -> %lld, expected %s",
		             k->file, e->table, before[i].scans, after[i].scans,
		             e->scan ? "a scan" : "none");
	}
	cr_expect_eq(old_failures(old, k, why, sizeof why) > 0, k->breaking,
	             "%s: expected the old queries to %s after it (%s)", k->file,
	             k->breaking ? "fail" : "work", why[0] != '\0' ? why : "all worked");
	cr_expect_eq(policy_refuses(k), k->refused,
	             "%s: verdict=%s does not follow from its facts and the documented policy",
	             k->file, k->refused ? "refused" : "ok");
}

TestSuite(corpus, .init = setup, .fini = teardown, .timeout = 600);

#define CORPUS SG_TEST_DATA "/plan-corpus"

/* Every written truth is what PostgreSQL does: this is what makes the corpus a corpus. */
/* This test checks the corpus against PostgreSQL, not schemagate's code: the plain build runs
 * it; the ASan build, where it would check the same, runs plan over the whole corpus only. */
#if defined(__SANITIZE_ADDRESS__)
static const bool checks_postgresql = false;
#else
static const bool checks_postgresql = true;
#endif

Test(corpus, postgresql_agrees)
{
	size_t n;
	char **files, *setup_sql, *text;
	struct sessions s;

	if (!checks_postgresql)
		cr_skip_test("the corpus's truths are checked in the plain build");
	files = corpus_files(CORPUS, &n);
	setup_sql = sgt_fmt("%s/%s", CORPUS, files[0]);
	text = sgt_read_file(setup_sql);

	cr_assert_geq(n, 41, "the corpus has %zu cases, at least 40 wanted", n - 1);
	sgt_sql_exec(dsn, text);
	s.a = sgt_connect(dsn);
	s.probe = sgt_connect(dsn);
	s.old = sgt_connect(dsn);
	s.holder = sgt_connect(dsn);
	for (size_t i = 1; i < n; i++) {
		struct corpus_case k;

		parse_case(CORPUS, files[i], &k);
		check_case(&s, &k);
		free_case(&k);
	}
	PQfinish(s.a);
	PQfinish(s.probe);
	PQfinish(s.old);
	PQfinish(s.holder);
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	free(setup_sql);
	free(text);
}

/* ---- plan against the corpus ---- */

/* Runs schemagate with the dev URL and folder; DATABASE_URL only when target is not NULL. */
static int plan_run(const char *const argv[], const char *folder, const char *dev,
                    const char *target, const char *extra_env, char **out, char **errout)
{
	char *dev_env = sgt_fmt("DATABASE_DEV_URL=%s", dev);
	char *dir_env = sgt_fmt("MIGRATIONS_DIR=%s", folder);
	char *url_env =
	    target != NULL ? sgt_fmt("DATABASE_URL=%s", target) : strdup("-DATABASE_URL");
	const char *env[] = {dev_env,
	                     dir_env,
	                     url_env,
	                     "-PGHOST",
	                     "-PGDATABASE",
	                     "-DATABASE_SEARCH_PATH",
	                     "-MIGRATIONS_SAFETY_MAX_BYTES",
	                     "SCHEMAGATE_CONNECT_ATTEMPTS=3",
	                     "SCHEMAGATE_CONNECT_BASE_DELAY=50ms",
	                     "SCHEMAGATE_LOG_FORMAT=text",
	                     extra_env != NULL ? extra_env : "POD_NAME=plan-test",
	                     NULL};
	int rc = sgt_run(argv, env, out, errout, 300000);

	free(dev_env);
	free(dir_env);
	free(url_env);
	return rc;
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, key, &v), "missing key %s", key);
	return v;
}

/* The statement's relation named public.TABLE, or NULL. */
static struct json_object *relation(struct json_object *st, const char *table)
{
	struct json_object *rels = get(st, "relations");
	char *want = sgt_fmt("public.%s", table);

	for (size_t i = 0; i < json_object_array_length(rels); i++) {
		struct json_object *r = json_object_array_get_idx(rels, i);

		if (strcmp(json_object_get_string(get(r, "name")), want) == 0) {
			free(want);
			return r;
		}
	}
	free(want);
	return NULL;
}

static bool any_true(struct json_object *arr, const char *key)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if (json_object_get_boolean(get(json_object_array_get_idx(arr, i), key)))
			return true;
	return false;
}

/* plan is right on every case: lock, rewrite, scan, breaking and verdict. */
Test(corpus, plan_agrees)
{
	const char *argv[] = {"schemagate", "plan", "--since", "1", "--json", NULL};
	size_t n, checked = 0;
	char **files = corpus_files(CORPUS, &n), *out = NULL, *err = NULL;
	struct json_object *o, *stmts;
	int rc = plan_run(argv, CORPUS, dsn, NULL, NULL, &out, &err);

	cr_assert_eq(rc, 5, "plan refuses some of the corpus: exit 5, got %d; stderr: %s", rc, err);
	o = json_tokener_parse(out);
	cr_assert_not_null(o, "plan --json printed no JSON: %s", out);
	stmts = get(o, "statements");
	cr_assert_eq(json_object_array_length(stmts), n - 1, "one statement per case");
	for (size_t i = 1; i < n; i++) {
		struct json_object *st = json_object_array_get_idx(stmts, i - 1);
		struct corpus_case k;

		parse_case(CORPUS, files[i], &k);
		cr_assert_str_eq(json_object_get_string(get(st, "file")), k.file);
		for (size_t j = 0; j < k.nex; j++) {
			struct json_object *r = relation(st, k.ex[j].table);
			const struct expect *e = &k.ex[j];

			if (e->lock == PGLOCK_NONE && !e->rewrite && !e->scan) {
				cr_expect_null(
				    r, "%s: plan names %s, which the statement does not lock",
				    k.file, e->table);
				continue;
			}
			cr_expect_not_null(r, "%s: plan does not name %s", k.file, e->table);
			if (r == NULL)
				continue;
			cr_expect_str_eq(json_object_get_string(get(r, "lock_held")),
			                 pglock_name(e->lock), "%s: %s", k.file, e->table);
			cr_expect_eq(json_object_get_boolean(get(r, "rewritten")), e->rewrite,
			             "%s: %s rewritten", k.file, e->table);
			cr_expect_eq(json_object_get_boolean(get(r, "scanned")), e->scan,
			             "%s: %s scanned", k.file, e->table);
			cr_expect_str_eq(json_object_get_string(get(r, "lock_source")),
			                 k.no_transaction ? "documented" : "pg_locks", "%s",
			                 k.file);
		}
		cr_expect_eq(any_true(get(st, "changes"), "breaking"), k.breaking, "%s: breaking",
		             k.file);
		cr_expect_eq(any_true(get(st, "findings"), "refused"), k.refused, "%s: verdict",
		             k.file);
		checked++;
		free_case(&k);
	}
	cr_expect_eq(checked, n - 1);
	json_object_put(o);
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	free(out);
	free(err);
}

/* ---- the command ---- */

TestSuite(plan, .init = setup, .fini = teardown, .timeout = 300);

static const char *const plan_argv[] = {"schemagate", "plan", NULL};

/* A folder: a table with rows (applied), then pending files. */
static void write_folder(const char *pending_sql)
{
	sgt_write_file(dir, "000001_t.up.sql",
	               "CREATE TABLE t (id int PRIMARY KEY, v int);\n"
	               "INSERT INTO t SELECT g, g FROM generate_series(1, 5000) g;\n");
	sgt_write_file(dir, "000002_change.up.sql", pending_sql);
}

/* A second fresh database (the dev one when dsn plays production, or the other way round). */
static char *other_db(void)
{
	return sgt_fresh_db("plandev");
}

Test(plan, refuses_a_dev_database_that_holds_tables)
{
	const char *argv[] = {"schemagate", "plan", "--since", "1", NULL};
	char *err = NULL;

	write_folder("ALTER TABLE t ADD COLUMN c int;\n");
	sgt_sql_exec(dsn, "CREATE TABLE precious (id int); INSERT INTO precious VALUES (1)");
	cr_assert_eq(plan_run(argv, dir, dsn, NULL, NULL, NULL, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "holds 1 user table"), "stderr: %s", err);
	cr_expect(sgt_contains(err, "precious"), "stderr: %s", err);
	cr_expect(sgt_contains(err, "xxxxx"), "the URL is shown redacted: %s", err);
	cr_expect(!sgt_contains(err, getenv("SCHEMAGATE_TEST_PG_PASSWORD")), "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"), 0,
	             "nothing was replayed into it");
	free(err);
}

Test(plan, refuses_to_rehearse_in_the_production_database)
{
	char *err = NULL;

	write_folder("ALTER TABLE t ADD COLUMN c int;\n");
	/* An empty production database named both as DATABASE_URL and as the dev database. */
	cr_assert_eq(plan_run(plan_argv, dir, dsn, dsn, NULL, NULL, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "is the database DATABASE_URL names"), "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"), 0);
	free(err);
}

Test(plan, a_rewrite_is_refused_and_the_directive_allows_it)
{
	const char *argv[] = {"schemagate", "plan", "--since", "1", NULL};
	char *out = NULL, *err = NULL, *dev = other_db();

	write_folder("ALTER TABLE t ADD COLUMN r float8 DEFAULT random();\n");
	cr_assert_eq(plan_run(argv, dir, dsn, NULL, NULL, &out, &err), 5, "stderr: %s", err);
	cr_expect(sgt_contains(out, "REFUSED, rewrite: rewrote public.t"), "stdout: %s", out);
	cr_expect(sgt_contains(out, "000002_change.up.sql:1"), "stdout: %s", out);
	cr_expect(sgt_contains(out, "safe pattern: add the column without a volatile default"),
	          "stdout: %s", out);
	cr_expect(sgt_contains(err, "000002_change.up.sql:1: ALTER TABLE t ADD COLUMN r"),
	          "stderr: %s", err);
	free(out);
	free(err);
	sgt_write_file(dir, "000002_change.up.sql",
	               "-- schemagate:allow=rewrite\n"
	               "ALTER TABLE t ADD COLUMN r float8 DEFAULT random();\n");
	cr_assert_eq(plan_run(argv, dir, dev, NULL, NULL, &out, &err), 0, "stderr: %s", err);
	cr_expect(sgt_contains(out, "allowed by the file's directive, rewrite"), "stdout: %s", out);
	cr_expect(sgt_contains(out, "verdict: ok"), "stdout: %s", out);
	sgt_drop_db(dev);
	free(dev);
	free(out);
	free(err);
}

/* migrate, verify and plan read the directive with one function: a bad value is refused by
 * each of them, naming the file and line, before anything runs. */
Test(plan, a_bad_allow_directive_is_refused_everywhere)
{
	const char *verify[] = {"schemagate", "verify", NULL};
	const char *migrate[] = {"schemagate", "migrate", NULL};
	const char *plan[] = {"schemagate", "plan", "--since", "1", NULL};
	char *dev = other_db(), *err = NULL;

	write_folder("-- a comment\n-- schemagate:allow=rewrite, banana\nSELECT 1;\n");
	cr_expect_eq(plan_run(plan, dir, dev, NULL, NULL, NULL, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000002_change.up.sql:2: schemagate:allow:") &&
	              sgt_contains(err, "banana"),
	          "stderr: %s", err);
	free(err);
	cr_expect_eq(plan_run(verify, dir, dev, NULL, NULL, NULL, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000002_change.up.sql:2: schemagate:allow"), "stderr: %s", err);
	free(err);
	cr_expect_eq(plan_run(migrate, dir, dev, dsn, NULL, NULL, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000002_change.up.sql:2: schemagate:allow"), "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"), 0,
	             "migrate applied nothing");
	cr_expect_eq(sgt_sql_long(dev, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"), 0,
	             "plan rehearsed nothing");
	sgt_drop_db(dev);
	free(dev);
	free(err);
}

/* verify --dev-url runs the same policy: exit 5 on a refusal, 0 otherwise. */
Test(plan, verify_with_a_dev_database_applies_the_policy)
{
	const char *argv[] = {"schemagate", "verify", "--since", "1", NULL};
	char *err = NULL, *dev = other_db();

	write_folder("CREATE INDEX t_v ON t (v);\n");
	cr_assert_eq(plan_run(argv, dir, dsn, NULL, NULL, NULL, &err), 5, "stderr: %s", err);
	cr_expect(sgt_contains(err, "refused by the safety policy"), "stderr: %s", err);
	cr_expect(sgt_contains(err, "CREATE INDEX CONCURRENTLY"), "the safe pattern: %s", err);
	free(err);
	sgt_write_file(dir, "000002_change.up.sql",
	               "-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY t_v ON t (v);\n");
	cr_assert_eq(plan_run(argv, dir, dev, NULL, NULL, NULL, &err), 0, "stderr: %s", err);
	cr_expect(sgt_contains(err, "the pending files pass the safety policy"), "stderr: %s", err);
	sgt_drop_db(dev);
	free(dev);
	free(err);
}

/* With DATABASE_URL the history says what is pending, and production's sizes (pg_class, no
 * lock) decide against the limit, with an estimate. */
Test(plan, production_sizes_decide_against_the_limit)
{
	const char *migrate[] = {"schemagate", "migrate", "--target", "1", NULL};
	const char *argv[] = {"schemagate", "plan", "--json", NULL};
	char *dev = other_db(), *dev2 = other_db(), *out = NULL, *err = NULL;
	struct json_object *o, *st, *r, *p;

	write_folder("ALTER TABLE t ALTER COLUMN v TYPE bigint;\n");
	cr_assert_eq(plan_run(migrate, dir, dev, dsn, NULL, NULL, &err), 0, "stderr: %s", err);
	free(err);
	sgt_sql_exec(dsn, "VACUUM ANALYZE t");
	/* The dev database has no rows (the replay inserts them: 5,000 there too), production's
	 * pg_class says about 180 kB: under 64 MiB, over 8 kB. */
	cr_assert_eq(plan_run(argv, dir, dev, dsn, NULL, &out, &err), 0, "stderr: %s", err);
	o = json_tokener_parse(out);
	cr_assert_not_null(o, "%s", out);
	cr_expect_eq(json_object_get_int64(get(o, "applied_version")), 1);
	st = json_object_array_get_idx(get(o, "statements"), 0);
	r = relation(st, "t");
	cr_assert_not_null(r, "%s", out);
	cr_expect(json_object_get_boolean(get(r, "rewritten")));
	p = get(r, "production");
	cr_assert_not_null(p, "%s", out);
	cr_expect_eq(json_object_get_int64(get(p, "rows")), 5000, "%s", out);
	cr_expect_gt(json_object_get_int64(get(p, "bytes")), 8192, "%s", out);
	cr_expect_not_null(get(p, "estimate_ms"), "an estimate from the local rate: %s", out);
	cr_expect_not_null(get(o, "local_rates"), "%s", out);
	json_object_put(o);
	free(out);
	free(err);
	cr_assert_eq(plan_run(argv, dir, dev2, dsn, "MIGRATIONS_SAFETY_MAX_BYTES=8kB", &out, &err),
	             5, "stderr: %s", err);
	cr_expect(sgt_contains(out, "\"reason\":\"rewrite\""), "%s", out);
	cr_expect(sgt_contains(out, "in production (limit 8.0 KiB)"), "%s", out);
	cr_expect(sgt_contains(out, "measured on the dev database (an estimate)"), "%s", out);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 1,
	             "production's history is untouched");
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM information_schema.columns WHERE "
	                               "table_name = 't' AND data_type = 'integer' AND "
	                               "column_name = 'v'"),
	             1, "production's table is untouched");
	sgt_drop_db(dev);
	sgt_drop_db(dev2);
	free(dev);
	free(dev2);
	free(out);
	free(err);
}

Test(plan, markdown_for_a_pull_request)
{
	const char *argv[] = {"schemagate", "plan", "--since", "1", "--markdown", NULL};
	char *out = NULL, *err = NULL;
	int rows = 0;

	write_folder("ALTER TABLE t DROP COLUMN v;\nALTER TABLE t ADD COLUMN w int;\n");
	cr_assert_eq(plan_run(argv, dir, dsn, NULL, NULL, &out, &err), 5, "stderr: %s", err);
	cr_expect(sgt_contains(out, "### schemagate plan: 1 refused"), "%s", out);
	cr_expect(sgt_contains(out, "(breaking): breaks the previous release"), "%s", out);
	/* Every table row has the header's ten pipes. */
	for (char *save = NULL, *l = strtok_r(out, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save)) {
		int pipes = 0;

		if (l[0] != '|')
			continue;
		for (char *p = l; *p != '\0'; p++)
			pipes += *p == '|' && (p == l || p[-1] != '\\');
		cr_expect_eq(pipes, 10, "row: %s", l);
		rows++;
	}
	cr_expect_eq(rows, 4, "header, separator and one row per statement");
	free(out);
	free(err);
}

Test(plan, a_failing_statement_names_its_place)
{
	const char *argv[] = {"schemagate", "plan", "--since", "1", NULL};
	char *err = NULL;

	write_folder("ALTER TABLE t ADD COLUMN a int;\n\nALTER TABLE t ADD COLUMN b nosuchtype;\n");
	cr_assert_eq(plan_run(argv, dir, dsn, NULL, NULL, NULL, &err), 1, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000002_change.up.sql:3:28: type"), "stderr: %s", err);
	free(err);
}

Test(plan, nothing_pending_touches_no_database)
{
	const char *argv[] = {"schemagate", "plan", "--since", "2", NULL};
	char *out = NULL, *err = NULL;

	write_folder("SELECT 1;\n");
	cr_assert_eq(
	    plan_run(argv, dir, "postgres://nobody@127.0.0.1:1/none", NULL, NULL, &out, &err), 0,
	    "stderr: %s", err);
	cr_expect(sgt_contains(out, "nothing pending"), "%s", out);
	free(out);
	free(err);
}

Test(plan, usage_errors)
{
	const char *both[] = {"schemagate", "plan", "--json", "--markdown", NULL};
	const char *since[] = {"schemagate", "plan", "--since", "1", NULL};
	const char *none[] = {"schemagate", "plan", NULL};
	const char *unknown[] = {"schemagate", "verify", NULL};
	char *err = NULL;

	write_folder("SELECT 1;\n");
	cr_expect_eq(plan_run(both, dir, dsn, NULL, NULL, NULL, &err), 2, "stderr: %s", err);
	free(err);
	cr_expect_eq(plan_run(since, dir, dsn, dsn, NULL, NULL, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "--since is for plans without DATABASE_URL"), "%s", err);
	free(err);
	cr_expect_eq(plan_run(none, dir, "", NULL, NULL, NULL, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "--dev-url"), "%s", err);
	free(err);
	/* Neither DATABASE_URL nor --since: plan does not guess what production has. */
	cr_expect_eq(plan_run(none, dir, dsn, NULL, NULL, NULL, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "what does production have?"), "%s", err);
	free(err);
	cr_expect_eq(plan_run(unknown, dir, dsn, NULL, NULL, NULL, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "--since VERSION"), "%s", err);
	free(err);
}
