/* test_migrate.c - `schemagate migrate`, down, force and status against a real PostgreSQL. */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sgt.h"

static char *dsn;
static char *dir;

static void setup(void)
{
	sgt_require_services();
	sgt_case_open("mig", &dsn, &dir);
}

static void teardown(void)
{
	sgt_case_close(&dsn, &dir);
}

TestSuite(migrate, .init = setup, .fini = teardown, .timeout = 120);

/* The environment of every run: DATABASE_URL, MIGRATIONS_DIR=folder, then extra (NULL
 * allowed) in env[7]; url and mdir are the caller's buffers. */
#define RUN_ENV(env, url, mdir, folder, extra)                                                     \
	const char *env[] = {url,                                                                  \
	                     mdir,                                                                 \
	                     "POD_NAME=test-pod",                                                  \
	                     "SCHEMAGATE_CONNECT_ATTEMPTS=3",                                      \
	                     "SCHEMAGATE_CONNECT_BASE_DELAY=50ms",                                 \
	                     "SCHEMAGATE_LOG_FORMAT=text",                                         \
	                     "-DATABASE_SEARCH_PATH",                                              \
	                     extra,                                                                \
	                     NULL};                                                                \
	snprintf(url, sizeof url, "DATABASE_URL=%s", dsn);                                         \
	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s", folder)

/* Runs schemagate with DATABASE_URL and MIGRATIONS_DIR set, and one more variable (NULL:
 * none); returns the exit code. */
static int run_with(const char *const argv[], const char *folder, const char *extra, char **err_out)
{
	char url[1024], mdir[1024];
	RUN_ENV(env, url, mdir, folder, extra);

	return sgt_run(argv, env, NULL, err_out, 60000);
}

/* Runs schemagate with DATABASE_URL and MIGRATIONS_DIR set; returns the exit code. */
static int run(const char *const argv[], const char *folder, char **err_out)
{
	return run_with(argv, folder, NULL, err_out);
}

static int migrate(const char *folder, char **err_out)
{
	const char *argv[] = {"schemagate", "migrate", NULL};

	return run(argv, folder, err_out);
}

static void write_simple_set(void)
{
	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int PRIMARY KEY);\n");
	sgt_write_file(dir, "000001_a.down.sql", "DROP TABLE a;\n");
	sgt_write_file(dir, "000002_b.up.sql", "CREATE TABLE b (id int REFERENCES a);\n");
	sgt_write_file(dir, "000002_b.down.sql", "DROP TABLE b;\n");
	sgt_write_file(dir, "000003_c.up.sql",
	               "CREATE TABLE c (v text);\nINSERT INTO c VALUES (';');\n");
	sgt_write_file(dir, "000003_c.down.sql", "DROP TABLE c;\n");
}

Test(migrate, applies_from_empty_and_records_history)
{
	char *err = NULL;

	write_simple_set();
	cr_assert_eq(migrate(dir, &err), 0, "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 3);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations "
	                               "WHERE applied_by = 'test-pod' AND NOT dirty "
	                               "AND length(checksum) = 64"),
	             3);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM c WHERE v = ';'"), 1);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs "
	                               "WHERE outcome = 'succeeded' AND from_version = -1 "
	                               "AND reached_version = 3"),
	             1);
	cr_expect(sgt_contains(err, "migration applied"), "stderr: %s", err);
	free(err);
}

Test(migrate, rerun_is_a_noop_without_lock_or_writes)
{
	char *err = NULL;

	write_simple_set();
	cr_assert_eq(migrate(dir, NULL), 0);
	char *before = sgt_sql_value(dsn, "SELECT max(xact_commit)::text FROM pg_stat_database");
	cr_assert_eq(migrate(dir, &err), 0, "stderr: %s", err);
	cr_expect(sgt_contains(err, "up to date"), "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs"), 1,
	             "a no-op run must not write an audit row");
	free(before);
	free(err);
}

Test(migrate, checksum_matches_sha256_of_file)
{
	write_simple_set();
	cr_assert_eq(migrate(dir, NULL), 0);
	/* sha256 of "CREATE TABLE a (id int PRIMARY KEY);\n" computed by the server. */
	cr_expect_eq(sgt_sql_long(dsn,
	                          "SELECT count(*) FROM schemagate_migrations WHERE version = 1 "
	                          "AND checksum = encode(sha256(convert_to("
	                          "E'CREATE TABLE a (id int PRIMARY KEY);\\n', 'UTF8')), 'hex')"),
	             1);
}

Test(migrate, sql_error_rolls_back_and_names_file_line_and_sqlstate)
{
	char *err = NULL;

	sgt_write_file(dir, "000001_ok.up.sql", "CREATE TABLE ok (id int);\n");
	sgt_write_file(dir, "000002_bad.up.sql",
	               "CREATE TABLE half (id int);\n"
	               "-- a comment line\n"
	               "SELEC 1;\n");
	sgt_write_file(dir, "000003_later.up.sql", "CREATE TABLE later (id int);\n");
	cr_assert_eq(migrate(dir, &err), 1, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000002_bad.up.sql:3:1"), "stderr: %s", err);
	cr_expect(sgt_contains(err, "42601"), "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 1,
	             "the migration before the failing one stays applied");
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename IN "
	                               "('half', 'later')"),
	             0, "the failing migration is rolled back and later ones are not run");
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs "
	                               "WHERE outcome = 'failed' AND error LIKE '%000002_bad%'"),
	             1);
	free(err);
}

/* The splitter reads strings with standard_conforming_strings on. On a database where it is
 * off, the server read 'x\'' as "x'" and ran a COMMIT the splitter (and verify) took for text:
 * `half` stayed committed with no history row and no dirty mark. Every file now runs with the
 * setting on: the backslash is a plain character, and the second file is one statement that
 * fails as a whole. */
Test(migrate, files_run_with_standard_conforming_strings_on_whatever_the_database_says)
{
	char *db = sgt_sql_value(dsn, "SELECT current_database()"), *sql, *err = NULL;

	sql = sgt_fmt("ALTER DATABASE \"%s\" SET standard_conforming_strings = off", db);
	sgt_sql_exec(dsn, sql);
	free(sql);
	sql = sgt_sql_value(dsn, "SHOW standard_conforming_strings");
	cr_assert_str_eq(sql, "off");
	sgt_write_file(dir, "000001_s.up.sql",
	               "CREATE TABLE s (v text);\nINSERT INTO s VALUES ('a\\b');\n");
	cr_expect_eq(migrate(dir, &err), 0, "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT length(v) FROM s"), 3, "'a\\b' is three characters");
	free(err);
	err = NULL;
	/* Read with the setting on, the last backslash stands outside quotes: refused before
	 * anything runs (a psql meta-command to the splitter), so the COMMIT read as text by
	 * the splitter never runs. */
	sgt_write_file(dir, "000002_half.up.sql",
	               "CREATE TABLE half (id int);\n"
	               "SELECT 'x\\'' AS a; COMMIT; SELECT '\\'' AS b;\n"
	               "SELECT 1/0;\n");
	cr_expect_eq(migrate(dir, &err), 2, "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 'half'"),
	             0, "nothing of the failed file is committed");
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 1);
	free(err);
	free(sql);
	free(db);
}

Test(migrate, error_position_counts_characters_not_bytes)
{
	char *err = NULL;

	sgt_write_file(dir, "000001_utf8.up.sql",
	               "CREATE TABLE t (v text);\nINSERT INTO t VALUES ('é'), ('ü') ZZZ;\n");
	cr_assert_eq(migrate(dir, &err), 1, "stderr: %s", err);
	/* ZZZ starts at character 35 of line 2; counted in bytes it would be 37
	 * (é and ü are two bytes each). */
	cr_expect(sgt_contains(err, "000001_utf8.up.sql:2:35"), "stderr: %s", err);
	free(err);
}

Test(migrate, fail_fast_false_exits_zero_and_records_failure)
{
	char url[1024], mdir[1024], *err = NULL;
	const char *argv[] = {"schemagate", "migrate", NULL};
	const char *env[] = {url, mdir, "MIGRATIONS_FAIL_FAST=false", "SCHEMAGATE_LOG_FORMAT=text",
	                     NULL};

	sgt_write_file(dir, "000001_bad.up.sql", "CREATE TABLE x (;\n");
	snprintf(url, sizeof url, "DATABASE_URL=%s", dsn);
	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s", dir);
	cr_assert_eq(sgt_run(argv, env, NULL, &err, 60000), 0, "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs "
	                               "WHERE outcome = 'failed'"),
	             1);
	free(err);
}

Test(migrate, skip_migrations_touches_nothing)
{
	char url[256], *err = NULL;
	const char *argv[] = {"schemagate", "migrate", NULL};
	/* An unreachable database proves no connection is attempted. */
	const char *env[] = {url, "SKIP_MIGRATIONS=yes", "MIGRATIONS_DIR=/nonexistent", NULL};

	snprintf(url, sizeof url, "DATABASE_URL=postgres://nobody@127.0.0.1:1/none");
	cr_assert_eq(sgt_run(argv, env, NULL, &err, 10000), 0, "stderr: %s", err);
	cr_expect(sgt_contains(err, "SKIP_MIGRATIONS"), "stderr: %s", err);
	free(err);
}

Test(migrate, no_transaction_file_creates_index_concurrently)
{
	char *err = NULL;

	sgt_write_file(dir, "000001_t.up.sql", "CREATE TABLE t (id int, v text);\n");
	sgt_write_file(dir, "000002_idx.up.sql",
	               "-- schemagate:no-transaction\n"
	               "CREATE INDEX CONCURRENTLY t_v_idx ON t (v);\n"
	               "/* a ; nested /* comment ; */ */\n"
	               "CREATE INDEX CONCURRENTLY t_id_idx ON t (id) WHERE v <> ';';\n");
	cr_assert_eq(migrate(dir, &err), 0, "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn,
	                          "SELECT count(*) FROM pg_index i JOIN pg_class c ON "
	                          "c.oid = i.indexrelid WHERE c.relname IN ('t_v_idx', 't_id_idx') "
	                          "AND i.indisvalid"),
	             2);
	cr_expect_eq(sgt_sql_long(dsn,
	                          "SELECT count(*) FROM schemagate_migrations WHERE version = 2 "
	                          "AND NOT dirty"),
	             1);
	free(err);
}

Test(migrate, partial_no_transaction_failure_is_dirty_until_forced)
{
	char *err = NULL;
	const char *force1[] = {"schemagate", "force", "1", NULL};

	sgt_write_file(dir, "000001_t.up.sql", "CREATE TABLE t (id int);\n");
	sgt_write_file(dir, "000002_two.up.sql",
	               "-- schemagate:no-transaction\n"
	               "CREATE INDEX CONCURRENTLY t_id_idx ON t (id);\n"
	               "CREATE INDEX CONCURRENTLY broken ON missing_table (id);\n");
	cr_assert_eq(migrate(dir, &err), 1, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000002_two.up.sql:3:"), "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations "
	                               "WHERE version = 2 AND dirty"),
	             1);
	free(err);
	err = NULL;

	/* Every later run refuses with advice. */
	cr_assert_eq(migrate(dir, &err), 5, "stderr: %s", err);
	cr_expect(sgt_contains(err, "dirty") && sgt_contains(err, "schemagate force"), "stderr: %s",
	          err);
	free(err);
	err = NULL;

	/* The operator reverts the partial work, forces version 1, fixes the file. */
	sgt_sql_exec(dsn, "DROP INDEX t_id_idx");
	cr_assert_eq(run(force1, dir, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 1);
	sgt_write_file(dir, "000002_two.up.sql",
	               "-- schemagate:no-transaction\n"
	               "CREATE INDEX CONCURRENTLY t_id_idx ON t (id);\n");
	cr_assert_eq(migrate(dir, &err), 0, "stderr: %s", err);
	cr_expect_eq(
	    sgt_sql_long(dsn, "SELECT max(version) FROM schemagate_migrations WHERE NOT dirty"), 2);
	free(err);
}

Test(migrate, drift_is_refused_unless_allowed)
{
	char *err = NULL;
	const char *allow[] = {"schemagate", "migrate", "--allow-drift", NULL};

	write_simple_set();
	cr_assert_eq(migrate(dir, NULL), 0);
	sgt_write_file(dir, "000002_b.up.sql",
	               "CREATE TABLE b (id int REFERENCES a, extra int);\n");
	cr_assert_eq(migrate(dir, &err), 5, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000002_b.up.sql"), "stderr: %s", err);
	char *applied =
	    sgt_sql_value(dsn, "SELECT checksum FROM schemagate_migrations WHERE version = 2");
	cr_expect(sgt_contains(err, applied), "message names the applied checksum: %s", err);
	free(applied);
	free(err);
	err = NULL;
	cr_expect_eq(run(allow, dir, &err), 0, "stderr: %s", err);
	free(err);
}

Test(migrate, missing_applied_file_is_reported)
{
	char *err = NULL;

	write_simple_set();
	cr_assert_eq(migrate(dir, NULL), 0);
	char path[1024];
	snprintf(path, sizeof path, "%s/000001_a.up.sql", dir);
	cr_assert_eq(remove(path), 0);
	snprintf(path, sizeof path, "%s/000001_a.down.sql", dir);
	cr_assert_eq(remove(path), 0);
	cr_assert_eq(migrate(dir, &err), 0, "stderr: %s", err);
	cr_expect(sgt_contains(err, "no file"), "stderr: %s", err);
	free(err);
}

Test(migrate, down_reverts_steps_and_to_version)
{
	char *err = NULL;
	const char *down1[] = {"schemagate", "down", NULL};
	const char *down_all[] = {"schemagate", "down", "--to", "0", NULL};

	write_simple_set();
	cr_assert_eq(migrate(dir, NULL), 0);
	cr_assert_eq(run(down1, dir, &err), 0, "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT max(version) FROM schemagate_migrations"), 2);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 'c'"), 0);
	free(err);
	err = NULL;
	cr_assert_eq(run(down_all, dir, &err), 0, "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 0);
	cr_expect_eq(
	    sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename IN ('a','b')"), 0);
	free(err);
	/* And up again: a full cycle. */
	cr_expect_eq(migrate(dir, NULL), 0);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 3);
}

/* Each file starts from the session's first settings (issue 23): a pg_dump-made file sets the
 * search path to '' at session level, and the next file, unqualified, must still find a schema
 * to create in, on the first run. In a transaction and outside one, up and down. Before, the
 * second file failed with "no schema has been selected to create in". */
Test(migrate, a_files_session_settings_do_not_reach_the_next_file)
{
	char *err = NULL;
	const char *down_all[] = {"schemagate", "down", "--to", "0", NULL};

	sgt_write_file(dir, "000001_dump.up.sql",
	               "SELECT pg_catalog.set_config('search_path', '', false);\n"
	               "CREATE TABLE public.a (id int);\n");
	sgt_write_file(dir, "000001_dump.down.sql", "DROP TABLE a;\n");
	sgt_write_file(dir, "000002_notx.up.sql",
	               "-- schemagate:no-transaction\nCREATE TABLE b (id int);\n"
	               "SELECT pg_catalog.set_config('search_path', '', false);\n");
	sgt_write_file(dir, "000002_notx.down.sql",
	               "-- schemagate:no-transaction\nDROP TABLE b;\n"
	               "SELECT pg_catalog.set_config('search_path', '', false);\n");
	sgt_write_file(dir, "000003_c.up.sql", "CREATE TABLE c (id int);\n");
	sgt_write_file(dir, "000003_c.down.sql",
	               "SELECT pg_catalog.set_config('search_path', '', false);\n"
	               "DROP TABLE public.c;\n");
	cr_assert_eq(migrate(dir, &err), 0, "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
	                               "AND tablename IN ('a', 'b', 'c')"),
	             3);
	free(err);
	err = NULL;
	cr_assert_eq(run(down_all, dir, &err), 0, "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 0);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename IN "
	                               "('a', 'b', 'c')"),
	             0);
	free(err);
}

/* A statement that cannot run in a transaction says which directive to add (issue 23), judged
 * by its SQLSTATE: 25001 (CREATE INDEX CONCURRENTLY) and 55P04 (a new enum value used in the
 * transaction that added it). With the directive, anywhere in the leading comment lines, or
 * goose's annotation, the same files run. Before, the server's message came alone. */
Test(migrate, a_statement_that_cannot_run_in_a_transaction_names_the_directive)
{
	static const char hint[] =
	    "add the line '-- schemagate:no-transaction' to the file's leading comment lines";
	char *err = NULL;

	sgt_write_file(dir, "000001_t.up.sql",
	               "-- the index\nCREATE TABLE t (id int);\n"
	               "CREATE INDEX CONCURRENTLY t_id ON t (id);\n");
	cr_assert_eq(migrate(dir, &err), 1, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000001_t.up.sql:3:") && sgt_contains(err, "25001") &&
	              sgt_contains(err, "cannot run inside a transaction: ") &&
	              sgt_contains(err, hint),
	          "stderr: %s", err);
	free(err);
	err = NULL;
	sgt_write_file(dir, "000001_t.up.sql",
	               "-- the index\n-- schemagate:no-transaction\nCREATE TABLE t (id int);\n"
	               "CREATE INDEX CONCURRENTLY t_id ON t (id);\n");
	cr_assert_eq(migrate(dir, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;
	sgt_write_file(dir, "000002_mood.up.sql", "CREATE TYPE mood AS ENUM ('sad');\n");
	sgt_write_file(dir, "000003_happy.up.sql",
	               "ALTER TYPE mood ADD VALUE 'happy';\nSELECT 'happy'::mood;\n");
	cr_assert_eq(migrate(dir, &err), 1, "stderr: %s", err);
	cr_expect(sgt_contains(err, "55P04") &&
	              sgt_contains(err, "use it in a later migration file") &&
	              sgt_contains(err, hint),
	          "stderr: %s", err);
	free(err);
	err = NULL;
	/* goose's annotation, as goose writes it. */
	sgt_write_file(
	    dir, "000003_happy.up.sql",
	    "-- +goose NO TRANSACTION\n-- +goose Up\nALTER TYPE mood ADD VALUE 'happy';\n"
	    "SELECT 'happy'::mood;\n");
	cr_assert_eq(migrate(dir, &err), 0, "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn,
	                          "SELECT count(*) FROM schemagate_migrations WHERE version = 3 "
	                          "AND no_transaction"),
	             1);
	free(err);
}

/* A directive past the leading comment lines would mean nothing: verify and migrate refuse it
 * offline, naming file and line, and nothing runs (issue 23). Before, the file ran in a
 * transaction and failed on the server, or worse, succeeded without what the line asked. */
Test(migrate, a_directive_past_the_leading_comment_lines_is_refused_offline)
{
	const char *verify[] = {"schemagate", "verify", NULL};
	char *err = NULL;

	sgt_write_file(dir, "000001_t.up.sql",
	               "CREATE TABLE t (id int);\n-- schemagate:no-transaction\n"
	               "CREATE INDEX CONCURRENTLY t_id ON t (id);\n");
	cr_expect_eq(run(verify, dir, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000001_t.up.sql:2: schemagate:no-transaction: a directive "
	                            "counts only in the file's leading comment lines"),
	          "stderr: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(migrate(dir, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000001_t.up.sql:2: schemagate:no-transaction"), "stderr: %s",
	          err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"), 0);
	free(err);
}

/* ---- psql's lines in a file: COPY ... FROM stdin, \restrict (issue 23) ---- */

#define PG_DUMP "/usr/lib/postgresql/15/bin/pg_dump"

/* pg_dump of db (plain format, no owners or grants, without schemagate's tables and those
 * named in more, a pg_dump option or ""), without the lines that differ on every run (the
 * \restrict key). */
static char *dump_of(const char *db, const char *more)
{
	char *path = sgt_fmt("%s/.dump.sql", dir);
	char *cmd = sgt_fmt(PG_DUMP " --no-owner --no-privileges --exclude-table='schemagate_*' "
	                            "%s -f '%s' '%s'",
	                    more, path, db);
	char *text, *out, *o;

	cr_assert_eq(system(cmd), 0, "%s", cmd);
	text = sgt_read_file(path);
	unlink(path);
	out = o = calloc(1, strlen(text) + 1);
	cr_assert_not_null(out);
	for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n"))
		if (strncmp(line, "\\restrict", 9) != 0 && strncmp(line, "\\unrestrict", 11) != 0)
			o += sprintf(o, "%s\n", line);
	free(text);
	free(cmd);
	free(path);
	return out;
}

/* A real pg_dump (plain format, 15.18: \restrict, COPY ... FROM stdin with its rows, a
 * sequence, an index, data with tabs, backslashes, NULLs, newlines and non-ASCII text) is a
 * migration: migrate applies it to a fresh database, and the database then dumps the same as
 * the source, as psql would have made it; the next file still runs (set_config('search_path',
 * '', false) in the dump). Before, the first COPY row failed with a syntax error. */
Test(migrate, a_pg_dump_output_runs_as_a_migration)
{
	char *src = sgt_fresh_db("dumpsrc"), *want, *got, *err = NULL, *path, *cmd;

	sgt_sql_exec(src, "CREATE TABLE people (id int PRIMARY KEY, name text, note text, "
	                  "born date, score numeric(6,2))");
	sgt_sql_exec(src,
	             "INSERT INTO people VALUES "
	             "(1, E'tab\there', E'back\\\\slash \\\\N', '2000-01-02', 1.5), "
	             "(2, NULL, E'\u00fcn\u00efc\u00f8d\u00e9 \u2713 \U0001F600', NULL, NULL), "
	             "(3, E'new\nline\r\n', '\\.', '1999-12-31', -2), "
	             "(4, '', E'\\\\.', NULL, 0)");
	sgt_sql_exec(src, "CREATE SEQUENCE ticket_seq START 40");
	sgt_sql_exec(src, "SELECT nextval('ticket_seq'), nextval('ticket_seq')");
	sgt_sql_exec(src, "CREATE INDEX people_name ON people (lower(name))");
	sgt_sql_exec(src, "CREATE TABLE empty_t (x int, y jsonb)");
	sgt_sql_exec(src, "CREATE TABLE copied (j jsonb, a int[])");
	sgt_sql_exec(src,
	             "INSERT INTO copied VALUES ('{\"k\": \"v\\\\t\\\\\\\\\"}', '{1,NULL,3}')");
	path = sgt_fmt("%s/000001_dump.up.sql", dir);
	cmd = sgt_fmt(PG_DUMP " --no-owner --no-privileges -f '%s' '%s'", path, src);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	{
		char *dump = sgt_read_file(path);

		cr_assert(sgt_contains(dump, "COPY public.people") && sgt_contains(dump, "\n\\.\n"),
		          "not the dump expected: %.300s", dump);
		free(dump);
	}
	sgt_write_file(dir, "000002_after.up.sql", "CREATE TABLE after_dump (id int);\n");
	cr_assert_eq(migrate(dir, &err), 0, "stderr: %s", err);
	want = dump_of(src, "");
	got = dump_of(dsn, "--exclude-table=after_dump");
	cr_expect_str_eq(got, want);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = "
	                               "'after_dump' AND schemaname = 'public'"),
	             1);
	free(want);
	free(got);
	free(err);
	free(cmd);
	free(path);
	sgt_drop_db(src);
	free(src);
}

/* COPY's data in a file of ours: in a transaction and outside one, up and down; a bad row
 * names its file and line; positions after the data stay right; \restrict is ignored; any
 * other psql meta-command is refused offline by verify and migrate, naming file and line. */
Test(migrate, copy_from_stdin_runs_with_its_data_and_its_errors_name_the_line)
{
	const char *verify[] = {"schemagate", "verify", NULL};
	const char *down_all[] = {"schemagate", "down", "--to", "0", NULL};
	char *err = NULL;

	sgt_write_file(dir, "000001_c.up.sql",
	               "\\restrict k1\nCREATE TABLE t (a int, b text);\n"
	               "COPY t (a, b) FROM stdin;\n1\tone\n2\t\\N\n\\.\n"
	               "SELECT 1;\n  SELECT nosuch FROM t;\n\\unrestrict k1\n");
	cr_assert_eq(migrate(dir, &err), 1, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000001_c.up.sql:8:10: ") && sgt_contains(err, "42703"),
	          "stderr: %s", err);
	free(err);
	err = NULL;
	/* A bad row: the file's line of the row. */
	sgt_write_file(dir, "000001_c.up.sql",
	               "\\restrict k1\nCREATE TABLE t (a int, b text);\n"
	               "COPY t (a, b) FROM stdin;\n1\tone\nx\ttwo\n\\.\n\\unrestrict k1\n");
	cr_assert_eq(migrate(dir, &err), 1, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000001_c.up.sql:5: ") && sgt_contains(err, "22P02"),
	          "stderr: %s", err);
	free(err);
	err = NULL;
	sgt_write_file(dir, "000001_c.up.sql",
	               "\\restrict k1\nCREATE TABLE t (a int, b text);\n"
	               "COPY t (a, b) FROM stdin;\n1\tone\n2\t\\N\n\\.\n\\unrestrict k1\n");
	sgt_write_file(dir, "000001_c.down.sql", "DROP TABLE t;\n");
	sgt_write_file(dir, "000002_n.up.sql",
	               "-- schemagate:no-transaction\nCOPY t FROM stdin;\n3\tthree\n\\.\n"
	               "CREATE INDEX CONCURRENTLY t_a ON t (a);\n");
	sgt_write_file(dir, "000002_n.down.sql",
	               "-- schemagate:no-transaction\nDROP INDEX CONCURRENTLY t_a;\n"
	               "DELETE FROM t WHERE a = 3;\n");
	sgt_write_file(dir, "000003_d.up.sql", "DELETE FROM t;\n");
	sgt_write_file(dir, "000003_d.down.sql",
	               "COPY t FROM stdin;\n1\tone\n2\t\\N\n3\tthree\n\\.\n");
	cr_assert_eq(migrate(dir, &err), 0, "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM t"), 0);
	free(err);
	err = NULL;
	{
		const char *down1[] = {"schemagate", "down", NULL};

		cr_assert_eq(run(down1, dir, &err), 0, "stderr: %s", err);
	}
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM t WHERE b IS NOT NULL"), 2);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM t WHERE a = 2 AND b IS NULL"), 1);
	free(err);
	err = NULL;
	cr_assert_eq(run(down_all, dir, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;
	/* Any other meta-command: refused before anything runs (the text log doubles the
	 * backslash). */
	sgt_write_file(dir, "000004_m.up.sql", "SELECT 1;\n\\set ON_ERROR_STOP on\n");
	cr_expect_eq(run(verify, dir, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000004_m.up.sql: line 2: psql meta-command \\\\set"),
	          "stderr: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(migrate(dir, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000004_m.up.sql: line 2: psql meta-command \\\\set"),
	          "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 0);
	free(err);
}

/* down runs a file the way migrate does (apply.c): a no-transaction down file marks its row
 * dirty before its first statement, so a down killed part-way leaves the history saying so;
 * before, the row stayed clean over a half-reverted schema, status said up to date and migrate
 * exited 0. */
Test(migrate, down_killed_in_a_no_transaction_file_leaves_its_row_dirty)
{
	char url[1024], mdir[1024], *out = NULL, *err = NULL;
	const char *down[] = {"schemagate", "down", NULL};
	const char *status[] = {"schemagate", "status", NULL};
	RUN_ENV(env, url, mdir, dir, NULL);
	struct sgt_proc *p;
	int waited = 0;

	sgt_write_file(dir, "000001_t.up.sql",
	               "CREATE TABLE t (id int);\nCREATE TABLE u (id int);\n");
	sgt_write_file(dir, "000001_t.down.sql",
	               "-- schemagate:no-transaction\nDROP TABLE u;\nSELECT pg_sleep(300);\n"
	               "DROP TABLE t;\n");
	cr_assert_eq(migrate(dir, &err), 0, "stderr: %s", err);
	free(err);
	p = sgt_spawn(down, env);
	while (sgt_sql_long(dsn, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
	                         "'SELECT pg_sleep(300)%' AND pid <> pg_backend_pid()") == 0) {
		cr_assert_lt(waited += 20, 60000, "down never reached its second statement");
		sgt_sleep_ms(20);
	}
	/* The pod is killed; its server process goes with the connection (here, by hand: a
	 * backend in pg_sleep notices a closed socket only when it next writes). */
	sgt_signal(p, SIGKILL);
	sgt_wait(p, 10000);
	sgt_sql_exec(dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE "
	                  "'SELECT pg_sleep(300)%' AND pid <> pg_backend_pid()");
	sgt_proc_free(p);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 'u'"), 0);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations "
	                               "WHERE version = 1 AND dirty"),
	             1, "the half-reverted version is dirty");
	err = NULL;
	cr_assert_eq(sgt_run(status, env, &out, &err, 60000), 0, "stderr: %s", err);
	cr_expect(strncmp(out, "verdict:    REFUSED, dirty", 26) == 0, "status: %s", out);
	free(out);
	free(err);
	err = NULL;
	cr_expect_eq(migrate(dir, &err), 5, "migrate refuses: %s", err);
	free(err);
}

/* down has migrate's guardrails: MIGRATIONS_STATEMENT_TIMEOUT bounds each statement, in a
 * transaction (rolled back, the row kept) and outside one (the row left dirty). */
Test(migrate, down_honours_the_statement_timeout)
{
	const char *down[] = {"schemagate", "down", NULL};
	const char *timeout = "MIGRATIONS_STATEMENT_TIMEOUT=1s";
	char *err = NULL;

	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	sgt_write_file(dir, "000001_a.down.sql",
	               "-- schemagate:no-transaction\nSELECT pg_sleep(120);\nDROP TABLE a;\n");
	sgt_write_file(dir, "000002_b.up.sql", "CREATE TABLE b (id int);\n");
	sgt_write_file(dir, "000002_b.down.sql", "DROP TABLE b;\nSELECT pg_sleep(120);\n");
	cr_assert_eq(migrate(dir, &err), 0, "stderr: %s", err);
	free(err);

	err = NULL;
	cr_expect_eq(run_with(down, dir, timeout, &err), 1, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000002_b.down.sql:2:") && sgt_contains(err, "57014"),
	          "stderr: %s", err);
	free(err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 'b'"), 1,
	             "rolled back");
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations "
	                               "WHERE version = 2 AND NOT dirty"),
	             1);

	sgt_write_file(dir, "000002_b.down.sql", "DROP TABLE b;\n");
	err = NULL;
	cr_expect_eq(run_with(down, dir, timeout, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(run_with(down, dir, timeout, &err), 1, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000001_a.down.sql:2:") && sgt_contains(err, "57014") &&
	              sgt_contains(err, "left dirty after 0 of 2 statements"),
	          "stderr: %s", err);
	free(err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations "
	                               "WHERE version = 1 AND dirty"),
	             1);
}

Test(migrate, search_path_puts_history_in_first_schema_and_quotes_names)
{
	char url[1024], *err = NULL;
	const char *argv[] = {"schemagate", "migrate", NULL};
	char mdir[1024];
	const char *env[] = {url, mdir, "DATABASE_SEARCH_PATH=mcp,public", NULL};

	snprintf(url, sizeof url, "DATABASE_URL=%s", dsn);
	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s/migrations", SG_SOURCE_DIR);
	cr_assert_eq(sgt_run(argv, env, NULL, &err, 60000), 0, "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM mcp.schemagate_migrations"), 5);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM information_schema.tables WHERE "
	                               "table_schema = 'public' AND table_name LIKE 'schemagate%'"),
	             0);
	free(err);
	err = NULL;

	/* A hostile search path is refused before any connection, naming the variable. */
	const char *env2[] = {url, mdir, "DATABASE_SEARCH_PATH=x\"; DROP TABLE mcp.tenants; --",
	                      NULL};
	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s", dir);
	sgt_write_file(dir, "000001_a.up.sql", "SELECT 1;\n");
	cr_assert_eq(sgt_run(argv, env2, NULL, &err, 60000), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "DATABASE_SEARCH_PATH"), "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM mcp.tenants"), 0,
	             "tenants still exists");
	free(err);
}

Test(migrate, twenty_concurrent_processes_apply_each_migration_once)
{
	enum { N = 20 };
	struct sgt_proc *p[N];
	char url[1024], mdir[1024], pod[N][32];

	snprintf(url, sizeof url, "DATABASE_URL=%s", dsn);
	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s/migrations", SG_SOURCE_DIR);
	for (int i = 0; i < N; i++) {
		const char *argv[] = {"schemagate", "migrate", NULL};
		snprintf(pod[i], sizeof pod[i], "POD_NAME=replica-%d", i);
		const char *env[] = {url,
		                     mdir,
		                     pod[i],
		                     "DATABASE_SEARCH_PATH=mcp,public",
		                     "SCHEMAGATE_LOCK_POLL_MIN=10ms",
		                     "SCHEMAGATE_LOCK_POLL_MAX=100ms",
		                     NULL};
		p[i] = sgt_spawn(argv, env);
	}
	for (int i = 0; i < N; i++) {
		int rc = sgt_wait(p[i], 90000);
		char *e = sgt_stderr(p[i]);
		cr_expect_eq(rc, 0, "replica %d exited %d: %s", i, rc, e);
		free(e);
		sgt_proc_free(p[i]);
	}
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM mcp.schemagate_migrations"), 5);
	cr_expect_eq(
	    sgt_sql_long(dsn, "SELECT count(DISTINCT applied_by) FROM mcp.schemagate_migrations"),
	    1, "one replica did all the work");
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM mcp.schemagate_migrations_runs "
	                               "WHERE command = 'migrate'"),
	             1);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"),
	             0);
}

Test(migrate, sigterm_finishes_the_migration_in_flight_and_applies_no_more)
{
	char url[1024], mdir[1024];
	const char *argv[] = {"schemagate", "migrate", NULL};
	const char *env[] = {url, mdir, "SCHEMAGATE_LOG_FORMAT=text", NULL};

	snprintf(url, sizeof url, "DATABASE_URL=%s", dsn);
	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s", dir);
	sgt_write_file(dir, "000001_slow.up.sql",
	               "CREATE TABLE slow (id int);\nSELECT pg_sleep(1.5);\n");
	sgt_write_file(dir, "000002_next.up.sql", "CREATE TABLE next (id int);\n");
	struct sgt_proc *p = sgt_spawn(argv, env);
	/* Wait until the slow migration is running, then ask to stop. */
	for (int i = 0; i < 200 && sgt_sql_long(dsn, "SELECT count(*) FROM pg_stat_activity WHERE "
	                                             "query LIKE '%pg_sleep(1.5)%' AND pid <> "
	                                             "pg_backend_pid()") == 0;
	     i++)
		sgt_sleep_ms(20);
	sgt_signal(p, SIGTERM);
	int rc = sgt_wait(p, 30000);
	char *e = sgt_stderr(p);
	cr_expect_eq(rc, 6, "exit %d: %s", rc, e);
	cr_expect(sgt_contains(e, "stopped"), "stderr: %s", e);
	free(e);
	sgt_proc_free(p);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 1);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 'next'"),
	             0);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs "
	                               "WHERE outcome = 'interrupted'"),
	             1);
}

Test(migrate, unreachable_database_exits_3_without_leaking_the_password)
{
	char *err = NULL;
	const char *argv[] = {"schemagate", "migrate", NULL};
	char mdir[1024];
	const char *env[] = {"DATABASE_URL=postgres://app:hunter2-very-secret@127.0.0.1:1/app",
	                     mdir,
	                     "SCHEMAGATE_CONNECT_ATTEMPTS=3",
	                     "SCHEMAGATE_CONNECT_BASE_DELAY=10ms",
	                     "SCHEMAGATE_CONNECT_MAX_DELAY=20ms",
	                     NULL};

	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s", dir);
	sgt_write_file(dir, "000001_a.up.sql", "SELECT 1;\n");
	cr_assert_eq(sgt_run(argv, env, NULL, &err, 30000), 3, "stderr: %s", err);
	cr_expect(!sgt_contains(err, "hunter2"), "password leaked: %s", err);
	cr_expect(sgt_contains(err, "\"attempt\":\"2\""), "each retry is logged: %s", err);
	free(err);
}

Test(migrate, server_down_at_start_and_up_later_succeeds_by_retrying)
{
	char url[1024], mdir[1024];
	const char *argv[] = {"schemagate", "migrate", NULL};
	const char *env[] = {url, mdir,
	                     /* A budget (8 min) far above any server start, so the
	                      * test does not depend on how fast pg.sh starts it: the
	                      * process exits as soon as the server is back. */
	                     "SCHEMAGATE_CONNECT_ATTEMPTS=1000",
	                     "SCHEMAGATE_CONNECT_BASE_DELAY=100ms",
	                     "SCHEMAGATE_CONNECT_MAX_DELAY=500ms", NULL};

	snprintf(url, sizeof url, "DATABASE_URL=%s", dsn);
	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s", dir);
	write_simple_set();
	sgt_service("pg.sh", "stop fast");
	struct sgt_proc *p = sgt_spawn(argv, env);
	sgt_sleep_ms(3000);
	sgt_service("pg.sh", "start");
	int rc = sgt_wait(p, 600000);
	char *e = sgt_stderr(p);
	cr_expect_eq(rc, 0, "exit %d: %s", rc, e);
	cr_expect(sgt_contains(e, "retrying"), "stderr: %s", e);
	free(e);
	sgt_proc_free(p);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 3);
}

Test(migrate, status_json_and_text_show_applied_and_pending)
{
	char *out = NULL, *err = NULL;
	const char *status_json[] = {"schemagate", "status", "--json", NULL};
	const char *status_text[] = {"schemagate", "status", NULL};
	char url[1024], mdir[1024];
	const char *env[] = {url, mdir, NULL};

	snprintf(url, sizeof url, "DATABASE_URL=%s", dsn);
	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s", dir);
	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	cr_assert_eq(migrate(dir, NULL), 0);
	sgt_write_file(dir, "000002_b.up.sql", "CREATE TABLE b (id int);\n");
	cr_assert_eq(sgt_run(status_json, env, &out, &err, 30000), 0, "stderr: %s", err);
	cr_expect(sgt_contains(out, "\"current_version\":1") ||
	              sgt_contains(out, "\"current_version\": 1"),
	          "%s", out);
	cr_expect(sgt_contains(out, "000002_b.up.sql"), "%s", out);
	cr_expect(sgt_contains(out, "\"applied_by\""), "%s", out);
	free(out);
	free(err);
	out = err = NULL;
	cr_assert_eq(sgt_run(status_text, env, &out, &err, 30000), 0, "stderr: %s", err);
	cr_expect(sgt_contains(out, "pending"), "%s", out);
	cr_expect(!sgt_contains(out, "sgtest-secret-pw"), "password in status output: %s", out);
	free(out);
	free(err);
}

/* A golang-migrate or pgx URL as it is: their own parameters are taken out before libpq sees
 * them, named in the log (never their values), and x-migrations-table gets its hint. */
Test(migrate, url_parameters_of_golang_migrate_and_pgx_are_taken_out)
{
	char url[1200], mdir[1024], *err = NULL;
	const char *argv[] = {"schemagate", "migrate", NULL};
	const char *env[] = {url, mdir, "-DATABASE_SEARCH_PATH", NULL};

	snprintf(url, sizeof url,
	         "DATABASE_URL=%s%sx-migrations-table=Zq7table&x-multi-statement=true&"
	         "pool_max_conns=Zq7conns",
	         dsn, strchr(dsn, '?') != NULL ? "&" : "?");
	write_simple_set();
	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s", dir);
	cr_assert_eq(sgt_run(argv, env, NULL, &err, 60000), 0, "stderr: %s", err);
	cr_expect(sgt_contains(err, "\"parameters\":\"x-migrations-table,x-multi-statement,"
	                            "pool_max_conns\""),
	          "stderr: %s", err);
	cr_expect(sgt_contains(err, "baseline --from golang-migrate --from-table"), "stderr: %s",
	          err);
	cr_expect(!sgt_contains(err, "Zq7"), "a value reached the log: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 3);
	free(err);
}

Test(migrate, search_path_in_database_url_works_as_in_go_deployments)
{
	char url[1200], mdir[1024], *err = NULL;
	const char *argv[] = {"schemagate", "migrate", NULL};
	const char *env[] = {url, mdir, "-DATABASE_SEARCH_PATH", NULL};

	/* The reference design's form: postgres://...?sslmode=disable&search_path=mcp,public */
	snprintf(url, sizeof url, "DATABASE_URL=%s%ssearch_path=mcp,public", dsn,
	         strchr(dsn, '?') != NULL ? "&" : "?");
	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s/migrations", SG_SOURCE_DIR);
	cr_assert_eq(sgt_run(argv, env, NULL, &err, 60000), 0, "stderr: %s", err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM mcp.schemagate_migrations"), 5);
	free(err);
}
