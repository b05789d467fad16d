/* test_hostile.c - bad and hostile input to `migrate`: each case fails clearly, names the culprit
 * and changes nothing. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "sgt.h"

/* Secrets the cases hand to schemagate; none may appear in its output. */
#define WRONG_PW "hostile-wrong-pw-5521"
#define URL_SECRET "hostile-url-secret-9902"

static char *dsn; /* the case's database, with the baseline applied */
static char *dir; /* its migrations folder */
static char *aux; /* a second folder for config files and symlink targets */

/* What a case's setup hands to the run. */
struct run_ctx {
	char *env[8]; /* extra "KEY=VALUE" / "-KEY" entries, malloc'd, NULL-terminated */
	size_t nenv;
};

static void ctx_env(struct run_ctx *c, char *entry)
{
	cr_assert_lt(c->nenv, sizeof c->env / sizeof c->env[0] - 1);
	c->env[c->nenv++] = entry;
}

/* One row of the table. */
struct hostile_case {
	const char *name;
	void (*setup)(struct run_ctx *c);
	int exit_code;       /* expected exit status of `schemagate migrate` */
	const char *culprit; /* substring of the error line naming what is wrong */
	const char *secret;  /* must not appear in stderr (NULL: only the test password) */
};

/* ---- setups ----------------------------------------------------------------- */

static void add_up(const char *name, const char *sql)
{
	sgt_write_file(dir, name, sql);
}

static void dup_versions(struct run_ctx *c)
{
	(void)c;
	add_up("000004_one.up.sql", "CREATE TABLE one (id int);\n");
	add_up("000004_two.up.sql", "CREATE TABLE two (id int);\n");
}

/* history {1,3}: a new file 2 lies below the head */
static void out_of_order(struct run_ctx *c)
{
	(void)c;
	add_up("000002_late.up.sql", "CREATE TABLE late (id int);\n");
}

/* history {1,3}: the file of 1 is gone (a gap in the folder) */
static void gap_in_folder(struct run_ctx *c)
{
	char *p = sgt_fmt("%s/000001_base.up.sql", dir);

	(void)c;
	cr_assert_eq(unlink(p), 0);
	free(p);
}

static void not_utf8(struct run_ctx *c)
{
	(void)c;
	add_up("000004_latin1.up.sql", "CREATE TABLE caf\xe9 (id int);\n");
}

/* A sparse 100 MB file: the loader must refuse it by size, not read it. */
static void huge_file(struct run_ctx *c)
{
	char *p = sgt_fmt("%s/000004_huge.up.sql", dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	(void)c;
	cr_assert_geq(fd, 0, "open %s: %s", p, strerror(errno));
	cr_assert_eq(ftruncate(fd, 100L * 1024 * 1024), 0);
	close(fd);
	free(p);
}

static void symlink_escape(struct run_ctx *c)
{
	char *target = sgt_fmt("%s/outside.sql", aux);
	char *link = sgt_fmt("%s/000004_escape.up.sql", dir);

	(void)c;
	sgt_write_file(aux, "outside.sql", "CREATE TABLE escaped (id int);\n");
	cr_assert_eq(symlink(target, link), 0, "symlink: %s", strerror(errno));
	free(target);
	free(link);
}

static void unterminated_dollar_notx(struct run_ctx *c)
{
	(void)c;
	add_up("000004_fn.up.sql", "-- schemagate:no-transaction\n"
	                           "CREATE TABLE before_fn (id int);\n"
	                           "CREATE FUNCTION f() RETURNS int AS $body$\n"
	                           "  SELECT 1;\n");
}

static void drops_history(struct run_ctx *c)
{
	(void)c;
	add_up("000004_evil.up.sql", "CREATE TABLE evil (id int);\n"
	                             "DROP TABLE schemagate_migrations;\n");
}

static void search_path_quote(struct run_ctx *c)
{
	ctx_env(c, sgt_fmt("DATABASE_SEARCH_PATH=public\", \"x"));
	add_up("000004_sp.up.sql", "CREATE TABLE sp (id int);\n");
}

static void search_path_semicolon(struct run_ctx *c)
{
	ctx_env(c, sgt_fmt("DATABASE_SEARCH_PATH=public;DROP TABLE base;--"));
	add_up("000004_sp.up.sql", "CREATE TABLE sp (id int);\n");
}

static void yaml_file(struct run_ctx *c, const char *yaml)
{
	sgt_write_file(aux, "schemagate.yaml", yaml);
	ctx_env(c, sgt_fmt("SCHEMAGATE_CONFIG=%s/schemagate.yaml", aux));
	add_up("000004_y.up.sql", "CREATE TABLE y (id int);\n");
}

static void yaml_unknown_key(struct run_ctx *c)
{
	yaml_file(c, "migrations:\n  table: schemagate_migrations\nfrobnicate: true\n");
}

static void yaml_mistyped_key(struct run_ctx *c)
{
	yaml_file(c, "migrations:\n  fail_fats: false\n");
}

static void yaml_bad_value(struct run_ctx *c)
{
	yaml_file(c, "migrations:\n  fail_fast: maybe\n");
}

static void url_unparsable_keywords(struct run_ctx *c)
{
	ctx_env(c, sgt_fmt("DATABASE_URL=host=127.0.0.1 password='" URL_SECRET " dbname=x"));
	add_up("000004_u.up.sql", "CREATE TABLE u (id int);\n");
}

static void url_unparsable_uri(struct run_ctx *c)
{
	ctx_env(c, sgt_fmt("DATABASE_URL=postgres://sgtest:" URL_SECRET "@[::1/x"));
	add_up("000004_u.up.sql", "CREATE TABLE u (id int);\n");
}

/* The test DSN with another password, as a keyword string. */
static void wrong_password(struct run_ctx *c)
{
	char *kw = sgt_dsn_with(dsn, NULL, NULL, WRONG_PW);

	ctx_env(c, sgt_fmt("DATABASE_URL=%s", kw));
	free(kw);
	add_up("000004_w.up.sql", "CREATE TABLE w (id int);\n");
}

/* clang-format off */
static const struct hostile_case cases[] = {
	{ "duplicate versions", dup_versions, 2, "duplicate version 4", NULL },
	{ "out-of-order file below the head", out_of_order, 5, "000002_late.up.sql", NULL },
	{ "applied file missing from the folder", gap_in_folder, 0, "version=1", NULL },
	{ "file not UTF-8", not_utf8, 2, "000004_latin1.up.sql: invalid UTF-8 at line 1", NULL },
	{ "100 MB file", huge_file, 2, "000004_huge.up.sql is 104857600 bytes", NULL },
	{ "symlink escaping the folder", symlink_escape, 2, "outside", NULL },
	{ "unterminated dollar quote, no transaction", unterminated_dollar_notx, 2,
	  "unterminated dollar-quoted string $body$ opened at line 3", NULL },
	{ "migration drops the history table", drops_history, 1, "000004_evil.up.sql", NULL },
	{ "search path with a double quote", search_path_quote, 2, "DATABASE_SEARCH_PATH", NULL },
	{ "search path with a semicolon", search_path_semicolon, 2, "DATABASE_SEARCH_PATH", NULL },
	{ "unknown YAML key", yaml_unknown_key, 2, "frobnicate", NULL },
	{ "mistyped YAML key", yaml_mistyped_key, 2, "fail_fats", NULL },
	{ "bad YAML value", yaml_bad_value, 2, "maybe", NULL },
	{ "unparsable keyword DATABASE_URL", url_unparsable_keywords, 2, "DATABASE_URL", URL_SECRET },
	{ "unparsable URI DATABASE_URL", url_unparsable_uri, 2, "DATABASE_URL", URL_SECRET },
	{ "wrong password", wrong_password, 3, "password authentication failed", WRONG_PW },
};
/* clang-format on */

/* ---- the database fingerprint ---------------------------------------------- */

/* Every object outside the system schemas (schemas, relations with their
 * columns, functions) and the history rows. The audit table of runs is left
 * out on purpose: recording a failed run there is the point of it. */
static char *fingerprint(void)
{
	static const char catalog[] =
	    "SELECT concat_ws(' | ',"
	    " (SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace"
	    "   WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'),"
	    " (SELECT string_agg(n.nspname || '.' || c.relname || ':' || c.relkind::text || '('"
	    "   || (SELECT coalesce(string_agg(a.attname || ' ' || format_type(a.atttypid, "
	    "a.atttypmod),"
	    "        ',' ORDER BY a.attnum), '') FROM pg_attribute a"
	    "       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) || ')',"
	    "   ',' ORDER BY n.nspname, c.relname)"
	    "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	    "  WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'),"
	    " (SELECT string_agg(p.proname, ',' ORDER BY p.proname) FROM pg_proc p"
	    "   JOIN pg_namespace n ON n.oid = p.pronamespace"
	    "   WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'))";
	char *cat = sgt_sql_value(dsn, catalog);
	char *hist = NULL, *fp;

	if (sgt_sql_long(dsn,
	                 "SELECT count(*) FROM pg_class WHERE relname = 'schemagate_migrations'"
	                 " AND relkind = 'r'") > 0)
		hist = sgt_sql_value(dsn,
		                     "SELECT string_agg(version || ':' || checksum || ':' || dirty"
		                     " || ':' || no_transaction, ',' ORDER BY version)"
		                     " FROM schemagate_migrations");
	fp = sgt_fmt("%s || history: %s", cat != NULL ? cat : "", hist != NULL ? hist : "(none)");
	free(cat);
	free(hist);
	return fp;
}

/* ---- the run ----------------------------------------------------------------- */

static int migrate(const struct run_ctx *c, char **err_out)
{
	const char *argv[] = {"schemagate", "migrate", NULL};
	const char *env[24];
	char *url = sgt_fmt("DATABASE_URL=%s", dsn), *mdir = sgt_fmt("MIGRATIONS_DIR=%s", dir);
	size_t n = 0;
	int rc;

	env[n++] = url;
	env[n++] = mdir;
	env[n++] = "POD_NAME=hostile";
	env[n++] = "SCHEMAGATE_CONNECT_ATTEMPTS=2";
	env[n++] = "SCHEMAGATE_CONNECT_BASE_DELAY=10ms";
	env[n++] = "SCHEMAGATE_LOG_FORMAT=text";
	env[n++] = "-DATABASE_SEARCH_PATH";
	env[n++] = "-SCHEMAGATE_CONFIG";
	env[n++] = "-REDIS_URL";
	env[n++] = "-PGPASSWORD";
	for (size_t i = 0; c != NULL && i < c->nenv; i++)
		env[n++] = c->env[i];
	env[n] = NULL;
	rc = sgt_run(argv, env, NULL, err_out, 60000);
	free(url);
	free(mdir);
	return rc;
}

static void setup(void)
{
	sgt_require_services();
}

TestSuite(hostile, .init = setup, .timeout = 300);

/* Runs every case on a fresh database holding versions 1 and 3. */
Test(hostile, every_case_fails_clearly_and_changes_nothing)
{
	const char *test_pw = getenv("SCHEMAGATE_TEST_PG_PASSWORD");
	size_t failures = 0;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct hostile_case *hc = &cases[i];
		struct run_ctx c = {{NULL}, 0};
		char *before, *after, *err = NULL, *line;
		int rc;

		dsn = sgt_fresh_db("hostile");
		dir = sgt_tmpdir();
		aux = sgt_tmpdir();
		add_up("000001_base.up.sql", "CREATE TABLE base (id int PRIMARY KEY);\n");
		add_up("000003_more.up.sql", "CREATE TABLE more (id int REFERENCES base);\n");
		cr_assert_eq(migrate(NULL, &err), 0, "baseline: %s", err);
		free(err);
		err = NULL;
		before = fingerprint();

		hc->setup(&c);
		rc = migrate(&c, &err);
		after = fingerprint();
		/* The line that names the problem: the last one of stderr. */
		line = err;
		for (char *p = err; *p != '\0'; p++)
			if (p[0] == '\n' && p[1] != '\0')
				line = p + 1;
		cr_log_info("case \"%s\": exit %d: %s", hc->name, rc, line);
		if (rc != hc->exit_code) {
			cr_log_error("case \"%s\": exit %d, want %d; stderr: %s", hc->name, rc,
			             hc->exit_code, err);
			failures++;
		}
		/* A refusal names the culprit in its one error line; a case that
		 * goes on (exit 0) names it in a warning somewhere before. */
		if (!sgt_contains(hc->exit_code == 0 ? err : line, hc->culprit)) {
			cr_log_error("case \"%s\": \"%s\" not in the message: %s", hc->name,
			             hc->culprit, line);
			failures++;
		}
		if (strcmp(before, after) != 0) {
			cr_log_error("case \"%s\": the database changed:\n before: %s\n after:  %s",
			             hc->name, before, after);
			failures++;
		}
		if (sgt_contains(err, test_pw) ||
		    (hc->secret != NULL && sgt_contains(err, hc->secret))) {
			cr_log_error("case \"%s\": a password leaked: %s", hc->name, err);
			failures++;
		}
		for (size_t k = 0; k < c.nenv; k++)
			free(c.env[k]);
		free(before);
		free(after);
		free(err);
		sgt_drop_db(dsn);
		sgt_rm_rf(dir);
		sgt_rm_rf(aux);
		free(dsn);
		free(dir);
		free(aux);
		dsn = dir = aux = NULL;
	}
	cr_assert_eq(failures, 0, "%zu check(s) failed; see the log above", failures);
}

/* A no-transaction migration runs outside any transaction, so nothing can
 * undo its statements: dropping the history table there cannot be rolled
 * back. What the engine owes is a clear failure naming the file, and a
 * refusal (not a silent re-run of everything) afterwards. */
Test(hostile, notx_migration_dropping_the_history_fails_clearly)
{
	char *err = NULL, *err2 = NULL;

	sgt_case_open("hostile", &dsn, &dir);
	add_up("000001_base.up.sql", "CREATE TABLE base (id int PRIMARY KEY);\n");
	cr_assert_eq(migrate(NULL, &err), 0, "baseline: %s", err);
	free(err);
	add_up("000002_evil.up.sql", "-- schemagate:no-transaction\n"
	                             "DROP TABLE schemagate_migrations;\n");
	cr_assert_eq(migrate(NULL, &err), 1, "%s", err);
	cr_expect(sgt_contains(err, "000002_evil.up.sql"), "%s", err);
	/* The rerun sees no history and would apply 000001 again: that fails on
	 * the existing table, non-zero, and creates nothing. */
	cr_expect_neq(migrate(NULL, &err2), 0, "%s", err2);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_class WHERE relname = 'base'"), 1);
	free(err);
	free(err2);
	sgt_drop_db(dsn);
	sgt_rm_rf(dir);
	free(dsn);
	free(dir);
	dsn = dir = NULL;
}
