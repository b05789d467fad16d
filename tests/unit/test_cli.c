/* test_cli.c - the command line as a user meets it: usage, `help TOPIC`, exit codes. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "sgt.h"

/* Runs the binary with argv (NULL-terminated, argv[0] ignored); returns its
 * exit code, stdout in *out and stderr in *errout. */
static int run(char **out, char **errout, const char *const *argv)
{
	return sgt_run(argv, NULL, out, errout, 30000);
}

#define RUN(out, errout, ...) run((out), (errout), (const char *const[]){"sg", __VA_ARGS__, NULL})

/* The cells of a Markdown row, split at " | " (no escaped pipes in them). */
static size_t cells(char *row, char **cell, size_t max)
{
	size_t n = 0;
	char *p = row + 2, *end;

	while (n < max && (end = strstr(p, " |")) != NULL) {
		*end = '\0';
		cell[n++] = p;
		p = end + 3;
		if (*p == '\0' || end[2] == '\0')
			break;
	}
	return n;
}

/* Every row of `COMMAND --help` (the settings that command reads) is a row of
 * `help config --markdown` whose COMMANDS cell names the command, and no row
 * names a command that does not list it. */
Test(cli, config_reference_matches_every_command_help)
{
	static const char *const commands[] = {"migrate",  "status", "down",   "force",
	                                       "baseline", "create", "verify", "serve",
	                                       "wait",     "probe",  "plan"};
	char *ref = NULL, *errout = NULL;

	cr_assert_eq(RUN(&ref, &errout, "help", "config", "--markdown"), 0, "%s", errout);
	free(errout);
	for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++) {
		char *help = NULL, *line, *save = NULL, *copy = strdup(ref), *row, *rsave = NULL;
		size_t listed = 0, named = 0;

		cr_assert_eq(RUN(&help, NULL, commands[c], "--help"), 0);
		/* rows after the FLAG header line: FLAG ENV KEY DEFAULT DESCRIPTION */
		line = strstr(help, "\nFLAG ");
		cr_assert_not_null(line, "%s", help);
		line = strchr(line + 1, '\n');
		for (line = strtok_r(line, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			char flag[64], env[64], key[64], want[256];

			if (strncmp(line, "-h, --help", 10) == 0)
				continue;
			cr_assert_eq(sscanf(line, "%63s %63s %63s", flag, env, key), 3, "%s", line);
			snprintf(want, sizeof want, "| %s%s%s | %s%s%s | %s%s%s |",
			         strcmp(flag, "-") ? "`" : "", strcmp(flag, "-") ? flag : "\u2014",
			         strcmp(flag, "-") ? "`" : "", strcmp(env, "-") ? "`" : "",
			         strcmp(env, "-") ? env : "\u2014", strcmp(env, "-") ? "`" : "",
			         strcmp(key, "-") ? "`" : "", strcmp(key, "-") ? key : "\u2014",
			         strcmp(key, "-") ? "`" : "");
			cr_assert(strstr(ref, want) != NULL,
			          "%s --help row \"%s\" not in the reference", commands[c], want);
			listed++;
		}
		/* The reference's COMMANDS cell names this command on as many rows. */
		for (row = strtok_r(copy, "\n", &rsave); row != NULL;
		     row = strtok_r(NULL, "\n", &rsave)) {
			char *cell[8], *p;
			size_t n = cells(row, cell, 8);
			bool in;

			if (n != 6 || strcmp(cell[0], "FLAG") == 0 ||
			    strcmp(cell[0], "---|---") == 0 || strcmp(cell[0], "`-h, --help`") == 0)
				continue;
			in = strcmp(cell[4], "all") == 0;
			if (!in) {
				bool but = strncmp(cell[4], "all but ", 8) == 0;
				bool found = false;

				for (p = strtok(but ? cell[4] + 8 : cell[4], ", "); p != NULL;
				     p = strtok(NULL, ", "))
					found = found || strcmp(p, commands[c]) == 0;
				in = but ? !found : found;
			}
			named += in;
		}
		cr_assert_eq(named, listed, "%s: %zu reference rows name it, its --help lists %zu",
		             commands[c], named, listed);
		free(help);
		free(copy);
	}
	free(ref);
}

/* The exit-code table: each code once, in order, with the name --help uses. */
Test(cli, exit_codes_table_and_usage_agree)
{
	char *ref = NULL, *usage = NULL, *line, *save = NULL;
	int next = 0;

	cr_assert_eq(RUN(&ref, NULL, "help", "exit-codes", "--markdown"), 0);
	cr_assert_eq(RUN(&usage, NULL, "--help"), 0);
	cr_assert(strncmp(ref, "| CODE | NAME | MEANING |\n|---|---|---|\n", 39) == 0, "%s", ref);
	for (line = strtok_r(ref + 39, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		int code = -1;
		char name[32], want[48];

		cr_assert_eq(sscanf(line, "| %d | %31s |", &code, name), 2, "%s", line);
		cr_assert_eq(code, next++, "%s", line);
		snprintf(want, sizeof want, " %d %s", code, name);
		cr_assert(strstr(usage, want) != NULL, "--help lacks \"%s\": %s", want, usage);
	}
	cr_assert_eq(next, 7);
	free(ref);
	free(usage);
}

Test(cli, help_topics_print_and_bad_ones_are_usage_errors)
{
	char *out = NULL, *errout = NULL, *usage = NULL;

	cr_assert_eq(RUN(&out, NULL, "help"), 0);
	cr_assert_eq(RUN(&usage, NULL, "--help"), 0);
	cr_assert_str_eq(out, usage);
	free(out);
	cr_assert_eq(RUN(&out, NULL, "help", "commands", "--markdown"), 0);
	cr_assert(strstr(out, "| `schemagate migrate [--dir DIR] [--target VERSION] "
	                      "[--allow-drift]` | "));
	cr_assert(strstr(out, "| `schemagate baseline VERSION \\| --from golang-migrate\\|goose\\|"
	                      "dbmate [--from-table [SCHEMA.]NAME]` | "));
	free(out);
	cr_assert_eq(RUN(&out, NULL, "help", "metrics"), 0);
	cr_assert(strncmp(out, "NAME ", 5) == 0, "%s", out);
	cr_assert(strstr(out, "\nschemagate_ready "));
	free(out);
	cr_assert_eq(RUN(&out, &errout, "help", "bogus"), 2);
	cr_assert_str_eq(out, "");
	cr_assert(strstr(errout, "schemagate help: unexpected \"bogus\" (usage: schemagate help "
	                         "[commands|config|exit-codes|metrics] [--markdown])"),
	          "%s", errout);
	free(out);
	free(errout);
	cr_assert_eq(RUN(&out, &errout, "help", "--markdown"), 2);
	cr_assert(strstr(errout, "--markdown needs a topic"), "%s", errout);
	free(out);
	free(errout);
	cr_assert_eq(RUN(&out, &errout, "help", "config", "metrics"), 2);
	free(out);
	free(errout);
	free(usage);
}

Test(cli, baseline_from_an_unknown_tool_names_it_once_and_says_what_to_do)
{
	char *err = NULL;

	cr_assert_eq(RUN(NULL, &err, "baseline", "--from", "prisma"), 2);
	cr_expect(strstr(err, "--from: \"prisma\" is not a tool") != NULL, "%s", err);
	cr_expect(strstr(err, "--from: --from") == NULL, "%s", err);
	cr_expect(strstr(err, "golang-migrate, goose or dbmate") != NULL, "%s", err);
	cr_expect(strstr(err, "baseline VERSION") != NULL, "%s", err);
	free(err);
}

Test(cli, verify_json_prints_json_without_a_database_and_for_an_invalid_folder)
{
	char *tmp = sgt_tmpdir(), *bad = sgt_fmt("%s/bad", tmp), *good = sgt_fmt("%s/good", tmp);
	const char *env[] = {"-DATABASE_URL", "-PGHOST", "-PGDATABASE", "-MIGRATIONS_DIR", NULL};
	const char *argv_good[] = {"sg", "verify", "--json", "--dir", good, NULL};
	const char *argv_bad[] = {"sg", "verify", "--json", "--dir", bad, NULL};
	char *out = NULL;

	cr_assert_eq(mkdir(bad, 0755), 0);
	cr_assert_eq(mkdir(good, 0755), 0);
	sgt_write_file(good, "000001_a.up.sql", "SELECT 1;\n");
	sgt_write_file(bad, "000001_a.UP.sql", "SELECT 1;\n");
	cr_expect_eq(sgt_run(argv_good, env, &out, NULL, 30000), 0);
	cr_expect(strstr(out, "\"state\":\"unknown\"") != NULL, "%s", out);
	cr_expect(strstr(out, "\"files\":1") != NULL, "%s", out);
	free(out);
	out = NULL;
	cr_expect_eq(sgt_run(argv_bad, env, &out, NULL, 30000), 2);
	cr_expect(strstr(out, "\"state\":\"invalid\"") != NULL, "%s", out);
	cr_expect(strstr(out, "\"folder_readable\":false") != NULL, "%s", out);
	cr_expect(strstr(out, "000001_a.UP.sql") != NULL, "%s", out);
	free(out);
	sgt_rm_rf(tmp);
	free(tmp);
	free(bad);
	free(good);
}

/* A broken folder is reported after the first failed connection attempt, not after every
 * retry is spent (with the database down that took about 2.5 minutes by default). Port 1 on
 * loopback refuses at once; the old code logged a retry per attempt before the same error. */
Test(cli, a_broken_folder_ends_the_connection_retries)
{
	char *tmp = sgt_tmpdir();
	const char *env[] = {"DATABASE_URL=postgres://u:secret@127.0.0.1:1/x",
	                     "-PGHOST",
	                     "-PGDATABASE",
	                     "-REDIS_URL",
	                     "SCHEMAGATE_LOG_FORMAT=text",
	                     NULL};
	const char *argv_migrate[] = {"sg",
	                              "migrate",
	                              "--dir",
	                              tmp,
	                              "--connect-attempts",
	                              "4",
	                              "--connect-base-delay",
	                              "200ms",
	                              "--connect-max-delay",
	                              "200ms",
	                              NULL};
	char *errout = NULL;

	sgt_write_file(tmp, "000001_a.up.sql", "SELECT 1;\n");
	sgt_write_file(tmp, "000002_b.up.sql", "SELECT 1;\n\xff\n");
	cr_expect_eq(sgt_run(argv_migrate, env, NULL, &errout, 60000), 2, "%s", errout);
	cr_expect(strstr(errout, "000002_b.up.sql") != NULL, "%s", errout);
	cr_expect(strstr(errout, "retrying") == NULL, "retried with a broken folder: %s", errout);
	cr_expect(strstr(errout, "secret") == NULL, "%s", errout);
	free(errout);
	sgt_rm_rf(tmp);
	free(tmp);
}
