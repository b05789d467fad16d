/* test_adopt.c - adopting a database and migration folders written for other tools (issue 13):
 * BEGIN/COMMIT-wrapped files, dotted names, timestamps, baselines, foreign history tables, one
 * verdict, error positions; each schema compared with what psql builds from the same files. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	const char *env[] = { url, mdir, "POD_NAME=test-pod", "SCHEMAGATE_CONNECT_ATTEMPTS=3",
			      "SCHEMAGATE_CONNECT_BASE_DELAY=50ms", "SCHEMAGATE_LOG_FORMAT=text",
			      "-DATABASE_SEARCH_PATH", extra, NULL };

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
	const char *argv[] = { "schemagate", c, NULL };

	return run(argv, out, err);
}

/* ---- status table (item 8, issue 14 item 9) ---- */

Test(adopt, status_table_aligns_timestamps_cuts_names_with_ellipsis_and_escapes_control_chars)
{
	char *out = NULL, *err = NULL;

	sgt_write_file(dir, "20260101120000_a_rather_long_description_that_is_cut.up.sql",
		       "CREATE TABLE a (id int);\n");
	sgt_write_file(dir, "20260101120001_b.up.sql", "CREATE TABLE b (id int);\n");
	cr_assert_eq(cmd("migrate", NULL, &err), 0, "stderr: %s", err);
	free(err);
	sgt_sql_exec(dsn, "UPDATE schemagate_migrations SET applied_by = E'evil\\x1b[2Jpod' "
			  "WHERE version = 20260101120000");
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
