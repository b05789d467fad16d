/* test_adopt.c - adopting a database and migration folders written for other tools:
 * BEGIN/COMMIT-wrapped files, dotted names, timestamps, baselines, foreign history tables, one
 * verdict (the rules a file must pass included), error positions; each schema compared with
 * what psql builds from the same files. */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sgt.h"

static char *dsn;
static char *dir;

static void setup(void)
{
	sgt_require_services();
	sgt_case_open("adopt", &dsn, &dir);
}

static void teardown(void)
{
	sgt_case_close(&dsn, &dir);
}

TestSuite(adopt, .init = setup, .fini = teardown, .timeout = 120);

/* Runs schemagate with DATABASE_URL and MIGRATIONS_DIR set, extra env after them; returns the
 * exit code. out/err may be NULL. */
static int run_env(const char *const argv[], const char *extra, char **out, char **err)
{
	char url[1024], mdir[1024];
	const char *env[] = {url,
	                     mdir,
	                     "POD_NAME=test-pod",
	                     "SCHEMAGATE_CONNECT_ATTEMPTS=3",
	                     "SCHEMAGATE_CONNECT_BASE_DELAY=50ms",
	                     "SCHEMAGATE_LOG_FORMAT=text",
	                     "-DATABASE_SEARCH_PATH",
	                     extra,
	                     NULL};

	snprintf(url, sizeof url, "DATABASE_URL=%s", dsn);
	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s", dir);
	return sgt_run(argv, env, out, err, 60000);
}

static int run(const char *const argv[], char **out, char **err)
{
	return run_env(argv, NULL, out, err);
}

static int cmd(const char *c, char **out, char **err)
{
	const char *argv[] = {"schemagate", c, NULL};

	return run(argv, out, err);
}

/* ---- the status table ---- */

Test(adopt, status_table_aligns_timestamps_cuts_names_with_ellipsis_and_escapes_control_chars)
{
	char *out = NULL, *err = NULL;

	sgt_write_file(dir, "20260101120000_a_rather_long_description_that_is_cut.up.sql",
	               "CREATE TABLE a (id int);\n");
	sgt_write_file(dir, "20260101120001_b.up.sql", "CREATE TABLE b (id int);\n");
	cr_assert_eq(cmd("migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
	sgt_sql_exec(dsn,
	             "UPDATE schemagate_migrations SET applied_by = E'evil\\x1b[2Jpod' "
	             "WHERE version = 20260101120000;"
	             "UPDATE schemagate_migrations SET checksum = E'\\x1b[31mred' "
	             "WHERE version = 20260101120001;"
	             "UPDATE schemagate_migrations_runs SET identity = E'x\\x1b]0;title\\x07', "
	             "error = E'e\\x1b[1m'");
	sgt_write_file(dir, "20260101120002_c.up.sql", "CREATE TABLE c (id int);\n");
	cr_assert_eq(cmd("status", &out, &err), 0, "stderr: %s", err);
	cr_expect(!sgt_contains(out, "\x1b"), "raw ESC in the status table: %s", out);
	cr_expect(sgt_contains(out, "evil\\x1b[2Jpod"), "%s", out);
	cr_expect(sgt_contains(out, "a_rather_long_description_that_\xe2\x80\xa6"),
	          "cut names end in an ellipsis: %s", out);
	/* Every row's NAME column starts where the header's does. */
	const char *hdr = strstr(out, "VERSION");
	cr_assert_not_null(hdr, "%s", out);
	size_t name_col = (size_t)(strstr(hdr, "NAME") - hdr);
	cr_expect_eq(name_col, 16, "%s", out);
	for (const char *line = strchr(hdr, '\n') + 1; *line >= '0' && *line <= '9';
	     line = strchr(line, '\n') + 1)
		cr_expect(line[name_col - 1] == ' ' && line[name_col] != ' ', "misaligned: %.60s",
		          line);
	free(out);
	free(err);
}

/* ---- schema comparison with psql ---- */

/* pg_dump --schema-only of db without the history tables (ours and the other tools'), with the
 * lines that differ between any two databases (comments, \restrict keys) left out. */
static char *schema_dump(const char *db)
{
	char *cmdline =
	    sgt_fmt("pg_dump --schema-only --no-owner --no-privileges "
	            "--exclude-table='schemagate_migrations*' --exclude-table=schema_migrations "
	            "--exclude-table='goose_db_version*' -d '%s' 2>&1",
	            db);
	FILE *p = popen(cmdline, "r");
	size_t cap = 4096, n = 0;
	char *out = malloc(cap), line[4096];

	cr_assert_not_null(p);
	out[0] = '\0';
	while (fgets(line, sizeof line, p) != NULL) {
		size_t l = strlen(line);

		if (strncmp(line, "--", 2) == 0 || strncmp(line, "\\restrict", 9) == 0 ||
		    strncmp(line, "\\unrestrict", 11) == 0 || strcmp(line, "\n") == 0)
			continue;
		if (n + l + 1 > cap)
			out = realloc(out, cap = 2 * (n + l + 1));
		memcpy(out + n, line, l + 1);
		n += l;
	}
	cr_assert_eq(pclose(p), 0, "pg_dump failed: %s", out);
	free(cmdline);
	return out;
}

/* Applies the named files of dir, in order, with psql to db, as a person would. */
static void psql_files(const char *db, const char *const files[])
{
	for (size_t i = 0; files[i] != NULL; i++) {
		char *c =
		    sgt_fmt("psql -X -q -v ON_ERROR_STOP=1 -d '%s' -f '%s/%s' >/dev/null 2>&1", db,
		            dir, files[i]);

		cr_assert_eq(system(c), 0, "psql failed on %s", files[i]);
		free(c);
	}
}

static void expect_same_schema_as_psql(const char *const files[])
{
	char *other = sgt_fresh_db("adopt_psql");
	char *ours, *theirs;

	psql_files(other, files);
	ours = schema_dump(dsn);
	theirs = schema_dump(other);
	cr_expect_str_eq(ours, theirs, "schemagate's schema differs from psql's");
	free(ours);
	free(theirs);
	sgt_drop_db(other);
	free(other);
}

/* golang-migrate style folder: 14-digit timestamps, a dotted description, files wrapped in
 * BEGIN/COMMIT (up and down), a PL/pgSQL body, CREATE INDEX CONCURRENTLY. */
static const char *const tx_files[] = {
    "20260101120000_1.0.0_init.up.sql",
    "20260102090000_touch_trigger.up.sql",
    "20260103000000_email_index.up.sql",
    NULL,
};

static void write_tx_folder(void)
{
	sgt_write_file(dir, "20260101120000_1.0.0_init.up.sql",
	               "BEGIN;\n"
	               "CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL,\n"
	               "                    updated_at timestamptz);\n"
	               "COMMIT;\n");
	sgt_write_file(dir, "20260101120000_1.0.0_init.down.sql",
	               "BEGIN;\nDROP TABLE users;\nCOMMIT;\n");
	sgt_write_file(dir, "20260102090000_touch_trigger.up.sql",
	               "BEGIN;\n"
	               "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$\n"
	               "BEGIN\n"
	               "  NEW.updated_at := now();\n"
	               "  RETURN NEW;\n"
	               "END;\n"
	               "$$;\n"
	               "CREATE TRIGGER users_touch BEFORE UPDATE ON users\n"
	               "  FOR EACH ROW EXECUTE FUNCTION touch();\n"
	               "COMMIT;\n");
	sgt_write_file(
	    dir, "20260102090000_touch_trigger.down.sql",
	    "BEGIN;\nDROP TRIGGER users_touch ON users;\nDROP FUNCTION touch();\nCOMMIT;\n");
	sgt_write_file(dir, "20260103000000_email_index.up.sql",
	               "-- schemagate:no-transaction\n"
	               "CREATE INDEX CONCURRENTLY users_email ON users (email);\n");
	sgt_write_file(dir, "20260103000000_email_index.down.sql",
	               "-- schemagate:no-transaction\nDROP INDEX CONCURRENTLY users_email;\n");
}

/* ---- BEGIN/COMMIT-wrapped files ---- */

Test(adopt, wrapped_files_apply_and_revert_as_one_transaction_with_their_history_row)
{
	const char *down_all[] = {"schemagate", "down", "--to", "0", NULL};
	char *err = NULL, *empty;

	write_tx_folder();
	cr_assert_eq(cmd("verify", NULL, &err), 0, "stderr: %s", err);
	free(err);
	cr_assert_eq(cmd("migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
	cr_expect_eq(
	    sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE NOT dirty"), 3);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE "
	                               "name = '1.0.0_init'"),
	             1);
	expect_same_schema_as_psql(tx_files);

	char *fresh = sgt_fresh_db("adopt_empty");
	empty = schema_dump(fresh);
	sgt_drop_db(fresh);
	free(fresh);
	cr_assert_eq(run(down_all, NULL, &err), 0, "stderr: %s", err);
	free(err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 0);
	char *after = schema_dump(dsn);
	cr_expect_str_eq(after, empty, "down --to 0 leaves the schema psql started from");
	free(after);
	free(empty);
}

Test(adopt, other_transaction_control_is_refused_offline_naming_file_and_line)
{
	static const struct {
		const char *body;
		const char *where;
	} cases[] = {
	    {"BEGIN;\nCREATE TABLE t1 (id int);\nCOMMIT;\nBEGIN;\nCREATE TABLE t2 (id int);\n"
	     "COMMIT;\n",
	     "20260101000001_x.up.sql: line 3: COMMIT"},
	    {"CREATE TABLE t1 (id int);\nROLLBACK;\n", "20260101000001_x.up.sql: line 2: ROLLBACK"},
	    {"BEGIN;\nSAVEPOINT s;\nCREATE TABLE t1 (id int);\nCOMMIT;\n",
	     "20260101000001_x.up.sql: line 2: SAVEPOINT"},
	    {"BEGIN;\nCREATE TABLE t1 (id int);\nCOMMIT AND CHAIN;\nCOMMIT;\n",
	     "20260101000001_x.up.sql: line 3: COMMIT AND CHAIN"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *err = NULL;

		sgt_write_file(dir, "20260101000001_x.up.sql", cases[i].body);
		cr_expect_eq(cmd("verify", NULL, &err), 2, "case %zu: %s", i, err);
		cr_expect(sgt_contains(err, cases[i].where), "case %zu: %s", i, err);
		free(err);
		err = NULL;
		cr_expect_eq(cmd("migrate", NULL, &err), 2, "case %zu: %s", i, err);
		cr_expect(sgt_contains(err, cases[i].where), "case %zu: %s", i, err);
		free(err);
		cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename IN "
		                               "('t1', 't2', 'schemagate_migrations')"),
		             0, "case %zu: nothing may run before the refusal", i);
	}
}

Test(adopt, down_file_that_ends_the_transaction_is_refused_and_history_keeps_the_row)
{
	const char *down[] = {"schemagate", "down", NULL};
	char *err = NULL;

	sgt_write_file(dir, "000001_t.up.sql", "CREATE TABLE t (id int);\n");
	sgt_write_file(dir, "000001_t.down.sql", "BEGIN;\nDROP TABLE t;\nROLLBACK;\n");
	cr_assert_eq(cmd("migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(cmd("verify", NULL, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000001_t.down.sql: line 3: ROLLBACK"), "stderr: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(run(down, NULL, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000001_t.down.sql: line 3: ROLLBACK"), "stderr: %s", err);
	free(err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 1);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"), 1);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs"), 1,
	             "a refused down records no run");

	/* COMMIT in the middle: same refusal, the row and the table stay together. */
	sgt_write_file(dir, "000001_t.down.sql", "DROP TABLE t;\nCOMMIT;\nSELECT 1;\n");
	err = NULL;
	cr_expect_eq(run(down, NULL, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "line 2: COMMIT"), "stderr: %s", err);
	free(err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"), 1);
}

Test(adopt, down_without_a_down_file_exits_2_and_records_no_failed_run)
{
	const char *down[] = {"schemagate", "down", NULL};
	char *err = NULL;

	sgt_write_file(dir, "000001_t.up.sql", "CREATE TABLE t (id int);\n");
	cr_assert_eq(cmd("migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(run(down, NULL, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000001_t.down.sql"), "stderr: %s", err);
	free(err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs WHERE "
	                               "outcome = 'failed'"),
	             0);
}

/* ---- every SQL error names file:line, plus the server's CONTEXT ---- */

Test(adopt, errors_without_a_server_position_name_the_statement_line_and_context)
{
	const char *down[] = {"schemagate", "down", NULL};
	char *err = NULL;

	sgt_write_file(
	    dir, "000001_a.up.sql",
	    "BEGIN;\nCREATE TABLE a (id int);\n-- comment\n\n  DROP TABLE missing_one;\nCOMMIT;\n");
	cr_expect_eq(cmd("migrate", NULL, &err), 1, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000001_a.up.sql:5:3: table "), "stderr: %s", err);
	free(err);
	err = NULL;

	sgt_write_file(
	    dir, "000001_a.up.sql",
	    "CREATE TABLE a (id int);\nDO $$\nBEGIN\n  RAISE EXCEPTION 'boom';\nEND $$;\n");
	cr_expect_eq(cmd("migrate", NULL, &err), 1, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000001_a.up.sql:2:1: boom"), "stderr: %s", err);
	cr_expect(sgt_contains(err, "context: PL/pgSQL function inline_code_block line 3 at RAISE"),
	          "stderr: %s", err);
	free(err);
	err = NULL;

	/* COPY ... FROM stdin without the "\." line that ends its data: refused before anything
	 * runs, naming the line, not a hang (issue 23: the data itself is supported). */
	sgt_write_file(dir, "000001_a.up.sql",
	               "CREATE TABLE a (id int);\nCOPY a TO STDOUT;\nCOPY a FROM stdin;\n");
	cr_expect_eq(cmd("migrate", NULL, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000001_a.up.sql: line 3: the data of COPY ... FROM stdin has "
	                            "no end"),
	          "stderr: %s", err);
	free(err);
	err = NULL;

	/* Down files too. */
	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	sgt_write_file(dir, "000001_a.down.sql", "DROP TABLE a;\nDROP TABLE missing_two;\n");
	cr_assert_eq(cmd("migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(run(down, NULL, &err), 1, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000001_a.down.sql:2:1: table "), "stderr: %s", err);
	free(err);
}

/* ---- baseline VERSION ---- */

static const char *const base_files[] = {"000001_users.up.sql", "000002_1.1_orders.up.sql",
                                         "000003_fn.up.sql", "000004_index.up.sql", NULL};

static void write_base_folder(void)
{
	sgt_write_file(dir, "000001_users.up.sql", "CREATE TABLE users (id int PRIMARY KEY);\n");
	sgt_write_file(dir, "000002_1.1_orders.up.sql",
	               "CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users);\n");
	sgt_write_file(dir, "000003_fn.up.sql",
	               "CREATE FUNCTION n_orders() RETURNS bigint LANGUAGE plpgsql AS $$\n"
	               "BEGIN\n  RETURN (SELECT count(*) FROM orders);\nEND\n$$;\n");
	sgt_write_file(dir, "000004_index.up.sql",
	               "-- schemagate:no-transaction\n"
	               "CREATE INDEX CONCURRENTLY orders_user ON orders (user_id);\n");
}

Test(adopt, psql_built_schema_is_baselined_and_later_migrations_apply)
{
	static const char *const first3[] = {"000001_users.up.sql", "000002_1.1_orders.up.sql",
	                                     "000003_fn.up.sql", NULL};
	const char *baseline[] = {"schemagate", "baseline", "3", NULL};
	char *err = NULL, *out = NULL;

	write_base_folder();
	psql_files(dsn, first3);
	cr_assert_eq(run(baseline, NULL, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE "
	                               "applied_by = 'baseline by test-pod' AND NOT dirty"),
	             3);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs WHERE "
	                               "command = 'baseline' AND outcome = 'succeeded'"),
	             1);
	cr_assert_eq(cmd("status", &out, &err), 0, "stderr: %s", err);
	cr_expect(sgt_contains(out, "baselined"), "%s", out);
	free(out);
	free(err);
	err = NULL;
	cr_assert_eq(cmd("migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE "
	                               "version = 4 AND applied_by = 'test-pod'"),
	             1);
	expect_same_schema_as_psql(base_files);
}

Test(adopt, force_then_baseline_unblocks_migrate_and_baseline_below_head_is_refused)
{
	static const char *const first2[] = {"000001_users.up.sql", "000002_1.1_orders.up.sql",
	                                     NULL};
	const char *force[] = {"schemagate", "force", "2", NULL};
	const char *baseline1[] = {"schemagate", "baseline", "1", NULL};
	const char *baseline2[] = {"schemagate", "baseline", "2", NULL};
	const char *baseline9[] = {"schemagate", "baseline", "9", NULL};
	char *err = NULL;

	write_base_folder();
	psql_files(dsn, first2);
	cr_assert_eq(run(force, NULL, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(cmd("migrate", NULL, &err), 5, "stderr: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(run(baseline1, NULL, &err), 5, "stderr: %s", err);
	cr_expect(sgt_contains(err, "already holds version 2"), "stderr: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(run(baseline9, NULL, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "no migration of that version"), "stderr: %s", err);
	free(err);
	err = NULL;
	cr_assert_eq(run(baseline2, NULL, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;
	cr_assert_eq(cmd("migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 4);
	expect_same_schema_as_psql(base_files);
}

/* ---- another tool's history ---- */

static int baseline_from(const char *tool, const char *table, char **err)
{
	const char *a[] = {
	    "schemagate", "baseline", "--from", tool, table != NULL ? "--from-table" : NULL,
	    table,        NULL};

	return run(a, NULL, err);
}

Test(adopt, golang_migrate_history_is_imported_and_a_dirty_one_refused)
{
	static const char *const first2[] = {"000001_users.up.sql", "000002_1.1_orders.up.sql",
	                                     NULL};
	const char *migrate_their_table[] = {"schemagate", "migrate", "--table",
	                                     "schema_migrations", NULL};
	char *err = NULL;

	write_base_folder();
	psql_files(dsn, first2);
	/* As golang-migrate's postgres driver creates and keeps it: one row. */
	sgt_sql_exec(dsn, "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint NOT NULL "
	                  "PRIMARY KEY, dirty boolean NOT NULL);"
	                  "INSERT INTO schema_migrations VALUES (2, true)");
	cr_expect_eq(run(migrate_their_table, NULL, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "golang-migrate's history table"), "stderr: %s", err);
	cr_expect(sgt_contains(err, "baseline --from golang-migrate"), "stderr: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(baseline_from("golang-migrate", NULL, &err), 5, "stderr: %s", err);
	cr_expect(sgt_contains(err, "version 2 is dirty"), "stderr: %s", err);
	free(err);
	err = NULL;
	sgt_sql_exec(dsn, "UPDATE schema_migrations SET dirty = false");
	cr_assert_eq(baseline_from("golang-migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(sgt_sql_long(dsn,
	                          "SELECT count(*) FROM schemagate_migrations WHERE applied_by "
	                          "= 'baseline from golang-migrate by test-pod'"),
	             2);
	cr_assert_eq(cmd("migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
	expect_same_schema_as_psql(base_files);
}

/* golang-migrate's dirty flag in a text column ('true') or NULL read as clean: the import went
 * ahead over a migration that had failed part-way. Only a value that reads as false is clean. */
Test(adopt, golang_migrate_dirty_as_text_or_null_is_refused)
{
	static const char *const values[] = {"'true'", "NULL", "'yes'"};
	char *err = NULL;

	write_base_folder();
	sgt_sql_exec(dsn, "CREATE TABLE schema_migrations (version bigint, dirty text)");
	for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
		char *sql = sgt_fmt("DELETE FROM schema_migrations;"
		                    "INSERT INTO schema_migrations VALUES (2, %s)",
		                    values[i]);

		sgt_sql_exec(dsn, sql);
		cr_expect_eq(baseline_from("golang-migrate", NULL, &err), 5, "dirty %s: %s",
		             values[i], err);
		cr_expect(sgt_contains(err, "version 2 is dirty"), "stderr: %s", err);
		free(err);
		err = NULL;
		free(sql);
	}
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = "
	                               "'schemagate_migrations'"),
	             0, "nothing imported");
	sgt_sql_exec(dsn, "UPDATE schema_migrations SET dirty = 'false'");
	cr_expect_eq(baseline_from("golang-migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
}

Test(adopt, goose_history_is_imported_with_its_newest_row_per_version)
{
	static const char *const first2[] = {"000001_users.up.sql", "000002_1.1_orders.up.sql",
	                                     NULL};
	const char *status_their_table[] = {"schemagate", "status", "--table", "goose_db_version",
	                                    NULL};
	char *err = NULL;

	write_base_folder();
	psql_files(dsn, first2);
	/* As goose creates it; 3 was applied and rolled back again. */
	sgt_sql_exec(dsn, "CREATE TABLE goose_db_version (id serial NOT NULL, version_id bigint "
	                  "NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NULL DEFAULT "
	                  "now(), PRIMARY KEY (id));"
	                  "INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), "
	                  "(1, true), (2, true), (3, true), (3, false)");
	cr_expect_eq(run(status_their_table, NULL, &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "goose's history table"), "stderr: %s", err);
	free(err);
	err = NULL;
	cr_assert_eq(baseline_from("goose", NULL, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;
	char *got = sgt_sql_value(dsn, "SELECT string_agg(version::text, ',' ORDER BY version) "
	                               "FROM schemagate_migrations");
	cr_expect_str_eq(got, "1,2", "goose's rolled-back version 3 is not applied");
	free(got);
	cr_assert_eq(cmd("migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
	expect_same_schema_as_psql(base_files);
}

Test(adopt, dbmate_history_with_timestamp_versions_is_imported)
{
	const char *verify[] = {"schemagate", "verify", NULL};
	char *err = NULL;

	sgt_write_file(dir, "20260101120000_users.up.sql", "CREATE TABLE users (id int);\n");
	sgt_write_file(dir, "20260102090000_orders.up.sql", "CREATE TABLE orders (id int);\n");
	sgt_write_file(dir, "20260103000000_items.up.sql", "CREATE TABLE items (id int);\n");
	sgt_sql_exec(dsn, "CREATE TABLE users (id int); CREATE TABLE orders (id int);"
	                  "CREATE TABLE IF NOT EXISTS schema_migrations (version varchar(128) "
	                  "PRIMARY KEY);"
	                  "INSERT INTO schema_migrations VALUES ('20260101120000'), "
	                  "('20260102090000')");
	cr_assert_eq(baseline_from("dbmate", "public.schema_migrations", &err), 0, "stderr: %s",
	             err);
	free(err);
	err = NULL;
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 2);
	cr_expect_eq(run(verify, NULL, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;
	cr_assert_eq(cmd("migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 3);
	err = NULL;
	cr_expect_eq(baseline_from("dbmate", "nope", &err), 2, "stderr: %s", err);
	cr_expect(sgt_contains(err, "no table nope"), "stderr: %s", err);
	free(err);
}

/* ---- one verdict for migrate, verify, status and /readyz ---- */

#include "sgt_http.h"

/* `schemagate serve --dir dir` on port, once its database check passes. */
static struct sgt_proc *serve_on(int port)
{
	char url[1024], listen[64];
	const char *serve[] = {"schemagate",       "serve", "--dir", dir, "--listen", listen,
	                       "--check-interval", "100ms", NULL};
	const char *env[] = {url, "SCHEMAGATE_LOG_FORMAT=text", "-DATABASE_SEARCH_PATH", NULL};
	struct sgt_proc *p;

	snprintf(url, sizeof url, "DATABASE_URL=%s", dsn);
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	p = sgt_spawn(serve, env);
	cr_assert_geq(sgt_http_wait_status(port, "/readyz/database", 200, 10000), 0);
	return p;
}

Test(adopt, out_of_order_refusal_is_the_same_verdict_everywhere)
{
	const char *force[] = {"schemagate", "force", "2", NULL};
	const char *status_json[] = {"schemagate", "status", "--json", NULL};
	char *err = NULL, *out = NULL, *body = NULL;
	int port = sgt_http_free_port();

	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	sgt_write_file(dir, "000002_b.up.sql", "CREATE TABLE b (id int);\n");
	sgt_sql_exec(dsn, "CREATE TABLE a (id int); CREATE TABLE b (id int);");
	cr_assert_eq(run(force, NULL, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;

	cr_expect_eq(cmd("migrate", NULL, &err), 5, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000001_a.up.sql (version 1) is not applied"), "stderr: %s",
	          err);
	free(err);
	err = NULL;
	cr_expect_eq(cmd("verify", NULL, &err), 5, "stderr: %s", err);
	cr_expect(sgt_contains(err, "000001_a.up.sql (version 1) is not applied"), "stderr: %s",
	          err);
	free(err);
	err = NULL;
	cr_assert_eq(cmd("status", &out, &err), 0, "stderr: %s", err);
	cr_expect(strncmp(out, "verdict:    REFUSED, out-of-order: 000001_a.up.sql", 50) == 0,
	          "the verdict is the first line: %s", out);
	free(out);
	free(err);
	out = err = NULL;
	cr_assert_eq(run(status_json, &out, &err), 0, "stderr: %s", err);
	char *v = strchr(out, '"');
	cr_expect(v != NULL && strncmp(v, "\"verdict\"", 9) == 0, "verdict is the first key: %s",
	          out);
	cr_expect(sgt_contains(out, "\"state\":\"out-of-order\"") ||
	              sgt_contains(out, "\"state\": \"out-of-order\""),
	          "%s", out);
	free(out);
	free(err);

	struct sgt_proc *p = serve_on(port);
	cr_expect_eq(sgt_http_get(port, "/readyz", NULL, &body), 503);
	cr_expect(sgt_contains(body, "migrations failed: refused: out-of-order"), "%s", body);
	free(body);
	body = NULL;

	/* baseline records version 1: every verdict turns at once. */
	const char *baseline[] = {"schemagate", "baseline", "2", NULL};
	err = NULL;
	cr_assert_eq(run(baseline, NULL, &err), 0, "stderr: %s", err);
	free(err);
	cr_expect_geq(sgt_http_wait_status(port, "/readyz", 200, 10000), 0);
	sgt_proc_free(p);
	err = NULL;
	cr_expect_eq(cmd("verify", NULL, &err), 0, "stderr: %s", err);
	free(err);
}

/* ---- every rule a file's bytes and directives must pass: one verdict in verify, migrate,
 * status and the sidecar (verify once passed a lock-timeout directive that migrate refused) ---- */

/* dir/name with exactly len bytes (NUL bytes included). */
static void write_bytes(const char *name, const char *bytes, size_t len)
{
	char *path = sgt_fmt("%s/%s", dir, name);
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fwrite(bytes, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
	free(path);
}

/* A pending file that breaks a rule, and what every command must say about it. */
struct rule_case {
	const char *rule;
	const char *bytes;
	size_t len;
	const char *says; /* in every refusal, after the file's name */
};

#define BYTES(s) s, sizeof(s) - 1

static const struct rule_case cases[] = {
    {"lock-timeout is not a duration", BYTES("-- schemagate:lock-timeout=banana\nSELECT 1;\n"),
     ":1: schemagate:lock-timeout:"},
    {"lock-timeout on a later leading comment line, out of range",
     BYTES("-- schemagate:no-transaction\n-- some words\n-- schemagate:lock-timeout=25h\n"
           "SELECT 1;\n"),
     ":3: schemagate:lock-timeout:"},
    {"lock-timeout value too long",
     BYTES("-- schemagate:lock-timeout=1000000000000000000000000000000000s\nSELECT 1;\n"),
     ":1: schemagate:lock-timeout: value too long"},
    {"lock-timeout without a value", BYTES("-- schemagate:lock-timeout=   \r\nSELECT 1;\n"),
     ":1: schemagate:lock-timeout:"},
    {"invalid UTF-8", BYTES("SELECT 1;\nCREATE TABLE x (\xff int);\n"),
     ": invalid UTF-8 at line 2"},
    {"a NUL byte", BYTES("SELECT 1;\n\n\0SELECT 2;\n"), ": NUL byte at line 3"},
    {"goose's down section",
     BYTES("-- +goose Up\nCREATE TABLE g (id int);\n-- +goose Down\nDROP TABLE g;\n"),
     ":3: goose's down section starts here"},
};

/* What serve does with the folder: it must refuse to start (exit 2, naming the file), never
 * answer /readyz on a folder that migrate refuses. */
static int serve_verdict(char **err)
{
	char listen[64];
	const char *argv[] = {"schemagate",       "serve", "--listen", listen,
	                      "--check-interval", "100ms", NULL};

	snprintf(listen, sizeof listen, "127.0.0.1:%d", sgt_http_free_port());
	return run(argv, NULL, err);
}

Test(adopt, every_file_rule_gives_the_same_verdict_in_verify_migrate_status_and_serve)
{
	char *out = NULL, *err = NULL;

	sgt_write_file(dir, "000001_base.up.sql", "CREATE TABLE base (id int);\n");
	cr_assert_eq(cmd("migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct rule_case *c = &cases[i];
		char *says = sgt_fmt("000002_case.up.sql%s", c->says);

		write_bytes("000002_case.up.sql", c->bytes, c->len);

		err = NULL;
		cr_expect_eq(cmd("verify", NULL, &err), 2, "%s: verify: %s", c->rule, err);
		cr_expect(sgt_contains(err, says), "%s: verify: %s", c->rule, err);
		free(err);

		err = NULL;
		cr_expect_eq(cmd("migrate", NULL, &err), 2, "%s: migrate: %s", c->rule, err);
		cr_expect(sgt_contains(err, says), "%s: migrate: %s", c->rule, err);
		free(err);
		cr_expect_eq(sgt_sql_long(dsn, "SELECT max(version) FROM schemagate_migrations"), 1,
		             "%s: nothing applied", c->rule);

		out = err = NULL;
		cr_expect_eq(cmd("status", &out, &err), 2, "%s: status: %s", c->rule, err);
		cr_expect(strncmp(out, "verdict:    unknown", 19) == 0, "%s: status: %s", c->rule,
		          out);
		cr_expect(sgt_contains(err, says), "%s: status: %s", c->rule, err);
		free(out);
		free(err);

		err = NULL;
		cr_expect_eq(serve_verdict(&err), 2, "%s: serve: %s", c->rule, err);
		cr_expect(sgt_contains(err, says), "%s: serve: %s", c->rule, err);
		free(err);
		free(says);
	}
}

/* The same four agree when the directive is good: valid, pending, not ready, then applied and
 * ready. */
Test(adopt, a_good_directive_passes_everywhere_alike)
{
	char *out = NULL, *err = NULL, *body = NULL;
	int port = sgt_http_free_port();

	sgt_write_file(dir, "000001_base.up.sql", "CREATE TABLE base (id int);\n");
	cr_assert_eq(cmd("migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
	sgt_write_file(dir, "000002_case.up.sql",
	               "-- schemagate:lock-timeout=2s   \r\nCREATE TABLE two (id int);\n");
	err = NULL;
	cr_expect_eq(cmd("verify", NULL, &err), 0, "verify: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(cmd("status", &out, &err), 0, "status: %s", err);
	cr_expect(strncmp(out, "verdict:    pending", 19) == 0, "status: %s", out);
	free(out);
	free(err);

	struct sgt_proc *p = serve_on(port);
	cr_expect_eq(sgt_http_get(port, "/readyz", NULL, &body), 503);
	cr_expect(sgt_contains(body, "migrations failed"), "%s", body);
	free(body);

	err = NULL;
	cr_expect_eq(cmd("migrate", NULL, &err), 0, "migrate: %s", err);
	free(err);
	cr_expect_geq(sgt_http_wait_status(port, "/readyz", 200, 10000), 0);
	sgt_proc_free(p);
}

/* A migrate killed in the middle of a run leaves its run marked running. status and readiness
 * read the runs through one owner (history.c): both call it abandoned. Before, status said
 * abandoned while /readyz said "version 1 below expected 2". */
Test(adopt, a_killed_run_reads_abandoned_in_status_and_readyz)
{
	char url[1024], mdir[1024], *out = NULL, *err = NULL, *body = NULL;
	const char *argv[] = {"schemagate", "migrate", NULL};
	const char *env[] = {url, mdir, "SCHEMAGATE_LOG_FORMAT=text", "-DATABASE_SEARCH_PATH",
	                     NULL};
	int port = sgt_http_free_port(), waited = 0;
	struct sgt_proc *p;

	snprintf(url, sizeof url, "DATABASE_URL=%s", dsn);
	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s", dir);
	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	sgt_write_file(dir, "000002_slow.up.sql", "SELECT pg_sleep(300);\n");
	p = sgt_spawn(argv, env);
	while (sgt_sql_long(dsn, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
	                         "'SELECT pg_sleep(300)%' AND pid <> pg_backend_pid()") == 0) {
		cr_assert_lt(waited += 20, 60000, "migrate never reached version 2");
		sgt_sleep_ms(20);
	}
	/* The pod dies; its server process goes with the connection (by hand here: a backend
	 * in pg_sleep notices a closed socket only when it next writes). */
	sgt_signal(p, SIGKILL);
	sgt_wait(p, 10000);
	sgt_proc_free(p);
	sgt_sql_exec(dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE "
	                  "'SELECT pg_sleep(300)%' AND pid <> pg_backend_pid()");
	for (waited = 0;
	     sgt_sql_long(dsn, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
	                       "'SELECT pg_sleep(300)%' AND pid <> pg_backend_pid()") > 0;
	     waited += 20) {
		cr_assert_lt(waited, 60000, "the killed run's backend is still there");
		sgt_sleep_ms(20);
	}
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs "
	                               "WHERE outcome = 'running'"),
	             1, "the dead run is still marked running in the table");

	cr_assert_eq(cmd("status", &out, &err), 0, "status: %s", err);
	cr_expect(sgt_contains(out, "abandoned"), "status: %s", out);
	free(out);
	free(err);
	p = serve_on(port);
	cr_expect_eq(sgt_http_get(port, "/readyz?verbose", NULL, &body), 503);
	cr_expect(sgt_contains(body, "[-]migrations failed: last run abandoned at version 1"), "%s",
	          body);
	free(body);
	sgt_proc_free(p);
}

Test(adopt, drift_turns_readyz_not_ready_with_the_reason)
{
	char *err = NULL, *body = NULL;
	int port = sgt_http_free_port();

	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	cr_assert_eq(cmd("migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id bigint);\n");
	struct sgt_proc *p = serve_on(port);
	cr_expect_eq(sgt_http_get(port, "/readyz", NULL, &body), 503);
	cr_expect(sgt_contains(body, "refused: drift: 000001_a.up.sql was changed"), "%s", body);
	free(body);
	sgt_proc_free(p);
}

/* ---- a follower does not claim the database was up to date ---- */

Test(adopt, follower_logs_that_another_replica_applied_the_migrations)
{
	char url[1024], mdir[1024];
	const char *argv[] = {"schemagate", "migrate", NULL};
	const char *env[] = {url,
	                     mdir,
	                     "SCHEMAGATE_LOG_FORMAT=text",
	                     "-DATABASE_SEARCH_PATH",
	                     "SCHEMAGATE_LOCK_POLL_MIN=10ms",
	                     "SCHEMAGATE_LOCK_POLL_MAX=50ms",
	                     NULL};

	snprintf(url, sizeof url, "DATABASE_URL=%s", dsn);
	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s", dir);
	/* The leader's first migration waits until the test opens the gate, and the test opens
	 * it once the follower says it waits: no premise about how fast a process starts. */
	/* In a schema of its own: a table in public would make it another's schema. */
	sgt_sql_exec(dsn, "CREATE SCHEMA gate; CREATE TABLE gate.test_gate (open boolean)");
	sgt_write_file(dir, "000001_slow.up.sql",
	               "CREATE TABLE slow (id int);\n"
	               "DO $$ BEGIN WHILE NOT EXISTS (SELECT 1 FROM gate.test_gate) LOOP "
	               "PERFORM pg_sleep(0.01); END LOOP; END $$;\n");
	sgt_write_file(dir, "000002_next.up.sql", "CREATE TABLE next (id int);\n");
	struct sgt_proc *leader = sgt_spawn(argv, env);
	for (int waited = 0; sgt_sql_long(dsn, "SELECT count(*) FROM pg_stat_activity WHERE "
	                                       "query LIKE '%test_gate%' AND pid <> "
	                                       "pg_backend_pid()") == 0;
	     waited += 10) {
		cr_assert_lt(waited, 60000, "the leader never reached its first migration");
		sgt_sleep_ms(10);
	}
	struct sgt_proc *follower = sgt_spawn(argv, env);
	for (int waited = 0;; waited += 10) {
		char *fe = sgt_stderr(follower);
		bool waits = sgt_contains(fe, "another replica is migrating");

		free(fe);
		if (waits)
			break;
		cr_assert_lt(waited, 60000, "the follower never waited for the leader");
		sgt_sleep_ms(10);
	}
	sgt_sql_exec(dsn, "INSERT INTO gate.test_gate VALUES (true)");
	cr_expect_eq(sgt_wait(leader, 30000), 0);
	cr_expect_eq(sgt_wait(follower, 30000), 0);
	char *e = sgt_stderr(follower);
	cr_expect(!sgt_contains(e, "up to date"), "stderr: %s", e);
	cr_expect(sgt_contains(e, "another replica applied the migrations from=none to=2"),
	          "stderr: %s", e);
	free(e);
	sgt_proc_free(leader);
	sgt_proc_free(follower);
}

/* ---- issue 23 item 8: a missing or empty folder is an error everywhere but create ---- */

Test(adopt, missing_or_empty_folder_exits_2_naming_it_in_every_command_but_create)
{
	char missing[1024], empty[1024], mdir[1100];
	const char *cmds[][3] = {{"status", NULL, NULL}, {"status", "--json", NULL},
	                         {"verify", NULL, NULL}, {"migrate", NULL, NULL},
	                         {"down", NULL, NULL},   {"baseline", "1", NULL}};

	snprintf(missing, sizeof missing, "%s/missing", dir);
	snprintf(empty, sizeof empty, "%s/empty", dir);
	cr_assert_eq(mkdir(empty, 0755), 0);
	for (int f = 0; f < 2; f++) {
		snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s", f == 0 ? missing : empty);
		for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
			const char *argv[] = {"schemagate", cmds[i][0], cmds[i][1], NULL};
			char *out = NULL, *err = NULL;

			cr_expect_eq(run_env(argv, mdir, &out, &err), 2, "%s %s (%s): %s",
			             cmds[i][0], cmds[i][1] != NULL ? cmds[i][1] : "", mdir, err);
			cr_expect(sgt_contains(err, f == 0 ? missing : empty), "%s: %s", cmds[i][0],
			          err);
			if (cmds[i][1] != NULL && strcmp(cmds[i][1], "--json") == 0) {
				cr_expect(sgt_contains(out, "\"folder_readable\":false"), "%s",
				          out);
				cr_expect(sgt_contains(out, "\"state\":\"unknown\""), "%s", out);
			}
			free(out);
			free(err);
		}
	}
	/* Nothing was applied or recorded by any of them. */
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = "
	                               "'schemagate_migrations' AND schemaname = current_schema()"),
	             0);
	/* create makes the folder and its first file. */
	const char *create[] = {"schemagate", "create", "first", NULL};
	char *err = NULL;

	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s", missing);
	cr_expect_eq(run_env(create, mdir, NULL, &err), 0, "%s", err);
	free(err);
}

/* ---- a database another tool built, before our first migration ---- */

/* A schema another tool brought up to date, its tables written here in that tool's style: what
 * migrate, verify and status must say (the tool, and the baseline command that adopts it). */
struct built_by {
	const char *tool;
	const char *sql;
	const char *says;
};

static const struct built_by built_by[] = {
    {"golang-migrate",
     "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT "
     "NULL); INSERT INTO schema_migrations VALUES (16, false)",
     "'schemagate baseline --from golang-migrate'"},
    {"goose",
     "CREATE TABLE goose_db_version (id serial NOT NULL, version_id bigint NOT NULL, "
     "is_applied boolean NOT NULL, tstamp timestamp NULL DEFAULT now(), PRIMARY KEY (id)); "
     "INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true)",
     "'schemagate baseline --from goose'"},
    {"dbmate",
     "CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY); "
     "INSERT INTO schema_migrations VALUES ('20260101120000')",
     "'schemagate baseline --from dbmate'"},
    {"Flyway",
     "CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version "
     "varchar(50), description varchar(200) NOT NULL, type varchar(20) NOT NULL, script "
     "varchar(1000) NOT NULL, checksum int, installed_by varchar(100) NOT NULL, installed_on "
     "timestamp NOT NULL DEFAULT now(), execution_time int NOT NULL, success boolean NOT NULL)",
     "files Flyway applied with 'schemagate baseline VERSION'"},
    {"Prisma",
     "CREATE TABLE _prisma_migrations (id varchar(36) PRIMARY KEY, checksum varchar(64) NOT "
     "NULL, finished_at timestamptz, migration_name varchar(255) NOT NULL, logs text, "
     "rolled_back_at timestamptz, started_at timestamptz NOT NULL DEFAULT now(), "
     "applied_steps_count int NOT NULL DEFAULT 0)",
     "files Prisma applied with 'schemagate baseline VERSION'"},
    {"sqlx",
     "CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY, description text NOT NULL, "
     "installed_on timestamptz NOT NULL DEFAULT now(), success boolean NOT NULL, checksum "
     "bytea NOT NULL, execution_time bigint NOT NULL)",
     "files sqlx applied with 'schemagate baseline VERSION'"},
    {"Rails",
     "CREATE TABLE schema_migrations (version character varying NOT NULL PRIMARY KEY); "
     "CREATE TABLE ar_internal_metadata (key character varying NOT NULL PRIMARY KEY, value "
     "character varying, created_at timestamp(6) NOT NULL, updated_at timestamp(6) NOT NULL)",
     "files Rails applied with 'schemagate baseline VERSION'"},
    {"Django",
     "CREATE TABLE django_migrations (id bigserial PRIMARY KEY, app varchar(255) NOT NULL, "
     "name varchar(255) NOT NULL, applied timestamptz NOT NULL)",
     "files Django applied with 'schemagate baseline VERSION'"},
    {"Alembic",
     "CREATE TABLE alembic_version (version_num varchar(32) NOT NULL, CONSTRAINT "
     "alembic_version_pkc PRIMARY KEY (version_num))",
     "files Alembic applied with 'schemagate baseline VERSION'"},
    {"Liquibase",
     "CREATE TABLE databasechangeloglock (id int PRIMARY KEY, locked boolean NOT NULL, "
     "lockgranted timestamp, lockedby varchar(255)); CREATE TABLE databasechangelog (id "
     "varchar(255) NOT NULL, author varchar(255) NOT NULL, filename varchar(255) NOT NULL, "
     "dateexecuted timestamp NOT NULL, orderexecuted int NOT NULL, exectype varchar(10) NOT "
     "NULL, md5sum varchar(35), description varchar(255), comments varchar(255), tag "
     "varchar(255), liquibase varchar(20), contexts varchar(255), labels varchar(255), "
     "deployment_id varchar(10))",
     "files Liquibase applied with 'schemagate baseline VERSION'"},
    {NULL, "", "already holds tables (users)"}, /* by hand: no tool's table, only the app's */
};

/* Every tool of the list, one at a time on the same database: migrate, verify and status
 * refuse alike (exit 5, exit 5, the verdict), name the tool and the baseline command, and
 * write nothing. */
Test(adopt, a_database_another_tool_built_is_refused_alike_naming_the_baseline_command)
{
	const char *status_json[] = {"schemagate", "status", "--json", NULL};

	sgt_write_file(dir, "000001_users.up.sql", "CREATE TABLE users (id int PRIMARY KEY);\n");
	sgt_write_file(dir, "000002_orders.up.sql", "CREATE TABLE orders (id int);\n");
	for (size_t i = 0; i < sizeof built_by / sizeof built_by[0]; i++) {
		const struct built_by *c = &built_by[i];
		const char *tool = c->tool != NULL ? c->tool : "nobody";
		char *sql =
		    sgt_fmt("DROP SCHEMA public CASCADE; CREATE SCHEMA public; CREATE TABLE "
		            "users (id int PRIMARY KEY); %s",
		            c->sql);
		char *who = c->tool != NULL ? sgt_fmt("built by %s", c->tool) : sgt_fmt("users");
		char *out = NULL, *err = NULL;

		sgt_sql_exec(dsn, sql);
		cr_expect_eq(cmd("migrate", NULL, &err), 5, "%s: migrate: %s", tool, err);
		cr_expect(sgt_contains(err, who) && sgt_contains(err, c->says), "%s: migrate: %s",
		          tool, err);
		free(err);
		err = NULL;
		cr_expect_eq(cmd("verify", NULL, &err), 5, "%s: verify: %s", tool, err);
		cr_expect(sgt_contains(err, who) && sgt_contains(err, c->says), "%s: verify: %s",
		          tool, err);
		free(err);
		err = NULL;
		cr_expect_eq(cmd("status", &out, &err), 0, "%s: status: %s", tool, err);
		cr_expect(strncmp(out, "verdict:    REFUSED, non-empty: schema public", 45) == 0 &&
		              sgt_contains(out, c->says),
		          "%s: status: %s", tool, out);
		free(out);
		free(err);
		if (i == 0) { /* the JSON's verdict is the same one: once is enough */
			out = err = NULL;
			cr_expect_eq(run(status_json, &out, &err), 0, "status --json: %s", err);
			cr_expect(sgt_contains(out, "\"state\":\"non-empty\""), "%s", out);
			free(out);
			free(err);
		}
		cr_expect_eq(sgt_sql_long(dsn,
		                          "SELECT count(*) FROM pg_tables WHERE tablename LIKE "
		                          "'schemagate%'"),
		             0, "%s: nothing written", tool);
		free(sql);
		free(who);
	}
}

/* Five replicas starting at once on golang-migrate's database all refuse the same way: none
 * creates the history table first and makes the others take the schema for ours. Then the
 * opt-out runs everything, and /readyz says why it was not ready before. */
Test(adopt, five_replicas_all_refuse_another_tools_database_and_the_opt_out_runs_it)
{
	const char *migrate[] = {"schemagate", "migrate", NULL};
	const char *allow[] = {"schemagate", "migrate", "--allow-non-empty", NULL};
	char url[1024], mdir[1024], *err = NULL, *body = NULL;
	const char *env[] = {url, mdir, "SCHEMAGATE_LOG_FORMAT=text", "-DATABASE_SEARCH_PATH",
	                     NULL};
	struct sgt_proc *p[5];
	int port = sgt_http_free_port();

	snprintf(url, sizeof url, "DATABASE_URL=%s", dsn);
	snprintf(mdir, sizeof mdir, "MIGRATIONS_DIR=%s", dir);
	sgt_write_file(dir, "000001_users.up.sql", "CREATE TABLE users (id int PRIMARY KEY);\n");
	sgt_sql_exec(dsn, built_by[0].sql);
	for (int i = 0; i < 5; i++)
		p[i] = sgt_spawn(migrate, env);
	for (int i = 0; i < 5; i++) {
		char *e;

		cr_expect_eq(sgt_wait(p[i], 60000), 5, "replica %d", i);
		e = sgt_stderr(p[i]);
		cr_expect(sgt_contains(e, "baseline --from golang-migrate"), "replica %d: %s", i,
		          e);
		free(e);
		sgt_proc_free(p[i]);
	}
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename LIKE "
	                               "'schemagate%'"),
	             0);

	struct sgt_proc *s = serve_on(port);
	cr_expect_eq(sgt_http_get(port, "/readyz", NULL, &body), 503);
	cr_expect(
	    sgt_contains(body, "refused: non-empty: schema public was built by golang-migrate"),
	    "%s", body);
	free(body);

	cr_assert_eq(run(allow, NULL, &err), 0, "stderr: %s", err);
	free(err);
	cr_expect_geq(sgt_http_wait_status(port, "/readyz", 200, 10000), 0);
	sgt_proc_free(s);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 1);
}

/* ---- version 0 ---- */

/* A golang-migrate folder that starts at 0_initial: baseline --from golang-migrate records
 * every file up to its version, 0 included, and the next migrate runs only the rest. */
Test(adopt, golang_migrate_folder_from_version_0_is_baselined_whole)
{
	static const char *const first2[] = {"0_initial.up.sql", "1_orders.up.sql", NULL};
	char *err = NULL;

	sgt_write_file(dir, "0_initial.up.sql", "CREATE TABLE users (id int PRIMARY KEY);\n");
	sgt_write_file(dir, "1_orders.up.sql", "CREATE TABLE orders (id int);\n");
	sgt_write_file(dir, "2_items.up.sql", "CREATE TABLE items (id int);\n");
	psql_files(dsn, first2);
	sgt_sql_exec(dsn,
	             "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, "
	             "dirty boolean NOT NULL); INSERT INTO schema_migrations VALUES (1, false)");
	cr_assert_eq(baseline_from("golang-migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE version "
	                               "IN (0, 1)"),
	             2);
	cr_assert_eq(cmd("migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 3);
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 'items'"),
	             1);
}

/* "No version" and "version 0" told apart: --target 0 applies file 0 alone, status says 0 (not
 * none), down --to 0 keeps it, and down one step more leaves no version. */
Test(adopt, version_0_and_no_version_are_told_apart)
{
	const char *target0[] = {"schemagate", "migrate", "--target", "0", NULL};
	const char *status_json[] = {"schemagate", "status", "--json", NULL};
	const char *down_to0[] = {"schemagate", "down", "--to", "0", NULL};
	const char *down1[] = {"schemagate", "down", "--steps", "1", NULL};
	char *out = NULL, *err = NULL;

	sgt_write_file(dir, "0_initial.up.sql", "CREATE TABLE users (id int PRIMARY KEY);\n");
	sgt_write_file(dir, "0_initial.down.sql", "DROP TABLE users;\n");
	sgt_write_file(dir, "1_orders.up.sql", "CREATE TABLE orders (id int);\n");
	sgt_write_file(dir, "1_orders.down.sql", "DROP TABLE orders;\n");

	cr_assert_eq(cmd("status", &out, &err), 0, "stderr: %s", err);
	cr_expect(sgt_contains(out, "version:    none (target 1)"), "%s", out);
	free(out);
	free(err);
	out = err = NULL;
	cr_assert_eq(run(target0, NULL, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE version "
	                               "= 0"),
	             1);
	cr_assert_eq(run(status_json, &out, &err), 0, "stderr: %s", err);
	cr_expect(sgt_contains(out, "\"current_version\":0,"), "%s", out);
	cr_expect(sgt_contains(out, "1 pending migration, version 0 to 1"), "%s", out);
	free(out);
	free(err);
	out = err = NULL;
	cr_assert_eq(cmd("migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;
	cr_assert_eq(run(down_to0, NULL, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_tables WHERE tablename IN "
	                               "('users', 'orders')"),
	             1, "--to 0 keeps version 0");
	cr_assert_eq(run(down1, NULL, &err), 0, "stderr: %s", err);
	free(err);
	err = NULL;
	cr_assert_eq(run(status_json, &out, &err), 0, "stderr: %s", err);
	cr_expect(sgt_contains(out, "\"current_version\":null,"), "%s", out);
	free(out);
	free(err);
}
