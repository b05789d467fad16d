/* test_config.c - defaults, YAML < env < flags, and every kind of bad input for config.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "config.h"

#ifndef SG_TEST_DATA
#error "SG_TEST_DATA must name the tests/data directory"
#endif

#define DATA(file) SG_TEST_DATA "/config/" file

/* Every variable the table knows, so the runner's environment can't leak in. */
static void clear_env(void)
{
	size_t i;

	for (i = 0; i < cfg_option_count(); i++)
		if (cfg_option_env(i) != NULL)
			cr_assert_eq(unsetenv(cfg_option_env(i)), 0);
	cr_assert_eq(unsetenv(CFG_CONFIG_ENV), 0);
}

TestSuite(config, .init = clear_env, .fini = clear_env);

/* Results of the last load(), for the tests that look at them. */
static const char *rest[32];
static int nrest;
static bool help;

/* cfg_load on a NULL-terminated list of words. */
static int load_words(struct cfg *c, struct sg_err *err, char **words)
{
	int argc = 0;

	while (words[argc] != NULL)
		argc++;
	cr_assert_lt(argc, 32);
	sg_err_clear(err);
	return cfg_load(c, argc, words, rest, &nrest, &help, err);
}

#define LOAD(c, err, ...) load_words((c), (err), (char *[]){__VA_ARGS__, NULL})

/* Asserts the load failed with code, *c zeroed, and msg containing want. */
static void assert_fails(int rc, const struct cfg *c, const struct sg_err *err, enum sg_code code,
                         const char *want)
{
	static const struct cfg zero;

	cr_assert_eq(rc, -1, "should have failed (wanted \"%s\")", want);
	cr_assert_eq(err->code, code, "code %d, want %d: %s", err->code, code, err->msg);
	cr_assert(strstr(err->msg, want) != NULL, "got \"%s\", want \"%s\"", err->msg, want);
	cr_assert(memcmp(c, &zero, sizeof zero) == 0, "cfg not zeroed after failure");
	cr_assert_eq(nrest, 0);
}

static void assert_default_values(const struct cfg *c)
{
	cr_assert_null(c->database_url);
	cr_assert_null(c->search_path);
	cr_assert_eq(c->connect_attempts, 10);
	cr_assert_eq(c->connect_base_ms, 1000);
	cr_assert_eq(c->connect_max_ms, 30000);
	cr_assert_eq(c->connect_timeout_ms, 10000);
	cr_assert_str_eq(c->dir, "./migrations");
	cr_assert_str_eq(c->table, "schemagate_migrations");
	cr_assert_not(c->skip);
	cr_assert(c->fail_fast);
	cr_assert_not(c->allow_drift);
	cr_assert_eq(c->target, -1);
	cr_assert_str_eq(c->notify_channel, "schemagate_migrations");
	cr_assert_eq(c->lock_timeout_ms, 600000);
	cr_assert_eq(c->lock_poll_min_ms, 50);
	cr_assert_eq(c->lock_poll_max_ms, 1000);
	cr_assert_null(c->identity);
	cr_assert_eq(c->log_format, LOG_FORMAT_JSON);
	cr_assert_eq(c->log_level, LOG_LEVEL_INFO);
	cr_assert_null(c->redis_url);
	cr_assert_not(c->leader_required);
	cr_assert_eq(c->lease_ttl_ms, 15000);
	cr_assert_eq(c->renew_deadline_ms, 10000);
	cr_assert_eq(c->retry_period_ms, 2000);
	cr_assert_eq(c->redis_timeout_ms, 500);
	cr_assert_eq(c->follower_poll_ms, 1000);
	cr_assert_eq(c->follower_timeout_ms, 600000);
	cr_assert_null(c->tables);
	cr_assert_eq(c->wait_version, -1);
	cr_assert_eq(c->wait_timeout_ms, 120000);
	cr_assert_eq(c->wait_interval_ms, 2000);
	cr_assert_str_eq(c->listen, "0.0.0.0:8081");
	cr_assert_eq(c->check_interval_ms, 2000);
	cr_assert_eq(c->expect_version, -1);
	cr_assert_null(c->admin_token_file);
	cr_assert_not(c->admin_enabled);
	cr_assert_eq(c->drain_ms, 0);
	cr_assert_eq(c->grace_ms, 10000);
	cr_assert_str_eq(c->probe_url, "http://127.0.0.1:8081/readyz");
	cr_assert_eq(c->probe_timeout_ms, 2000);
	cr_assert_not(c->json);
	cr_assert_eq(c->down_steps, 1);
	cr_assert_eq(c->down_to, -1);
	cr_assert_null(c->database_direct_url);
	cr_assert_eq(c->mig_lock_timeout_ms, 5000);
	cr_assert_eq(c->mig_lock_retries, 10);
	cr_assert_eq(c->mig_statement_timeout_ms, 0);
	cr_assert_null(c->dev_url);
	cr_assert_eq(c->safety_max_bytes, 64L * 1024 * 1024);
	cr_assert_not(c->markdown);
	cr_assert_eq(c->plan_since, -1);
}

Test(config, defaults)
{
	struct cfg c;
	struct sg_err err;

	cr_assert_eq(LOAD(&c, &err, NULL), 0, "%s", err.msg);
	assert_default_values(&c);
	cr_assert_eq(nrest, 0);
	cr_assert_not(help);
	cfg_free(&c);
}

Test(config, defaults_function_matches_load)
{
	struct cfg c;
	struct sg_err err;

	cr_assert_eq(cfg_defaults(&c, &err), 0, "%s", err.msg);
	assert_default_values(&c);
	cfg_free(&c);
}

Test(config, yaml_sets_every_key)
{
	struct cfg c;
	struct sg_err err;

	cr_assert_eq(LOAD(&c, &err, "--config", DATA("full.yaml")), 0, "%s", err.msg);
	cr_assert_str_eq(c.database_url, "postgres://app@db.example:5432/app?sslmode=require");
	cr_assert_str_eq(c.search_path, "app, public");
	cr_assert_eq(c.connect_attempts, 5);
	cr_assert_eq(c.connect_base_ms, 250);
	cr_assert_eq(c.connect_max_ms, 60000);
	cr_assert_eq(c.connect_timeout_ms, 3000);
	cr_assert_str_eq(c.dev_url, "postgres://ci@localhost:5432/scratch");
	cr_assert_eq(c.safety_max_bytes, 16L << 20);
	cr_assert_str_eq(c.dir, "/srv/migrations");
	cr_assert_str_eq(c.table, "app_migrations");
	cr_assert(c.skip);
	cr_assert_not(c.fail_fast);
	cr_assert(c.allow_drift);
	cr_assert_eq(c.target, 20240101120000L);
	cr_assert_str_eq(c.notify_channel, "app_migrated");
	cr_assert_eq(c.lock_timeout_ms, 90000);
	cr_assert_eq(c.lock_poll_min_ms, 10);
	cr_assert_eq(c.lock_poll_max_ms, 2000);
	cr_assert_str_eq(c.identity, "app-7d9f-xk2p");
	cr_assert_eq(c.log_format, LOG_FORMAT_TEXT);
	cr_assert_eq(c.log_level, LOG_LEVEL_DEBUG);
	cr_assert_str_eq(c.redis_url, "redis://redis:6379/0");
	cr_assert(c.leader_required);
	cr_assert_eq(c.lease_ttl_ms, 20000);
	cr_assert_eq(c.renew_deadline_ms, 12000);
	cr_assert_eq(c.retry_period_ms, 3000);
	cr_assert_eq(c.redis_timeout_ms, 1000);
	cr_assert_eq(c.follower_poll_ms, 500);
	cr_assert_eq(c.follower_timeout_ms, 900000);
	cr_assert_str_eq(c.tables, "users, public.orders");
	cr_assert_eq(c.wait_version, 7);
	cr_assert_eq(c.wait_timeout_ms, 90000);
	cr_assert_eq(c.wait_interval_ms, 5000);
	cr_assert_str_eq(c.listen, "[::]:9090");
	cr_assert_eq(c.check_interval_ms, 10000);
	cr_assert_eq(c.expect_version, 12);
	cr_assert_str_eq(c.admin_token_file, "/var/run/secrets/schemagate/token");
	cr_assert(c.admin_enabled);
	cr_assert_eq(c.drain_ms, 5000);
	cr_assert_eq(c.grace_ms, 30000);
	cr_assert_str_eq(c.probe_url, "http://127.0.0.1:9090/readyz");
	cr_assert_eq(c.probe_timeout_ms, 750);
	cfg_free(&c);
}

Test(config, precedence_yaml_env_flag)
{
	struct cfg c;
	struct sg_err err;

	/* YAML over the default */
	cr_assert_eq(LOAD(&c, &err, "--config", DATA("precedence.yaml")), 0, "%s", err.msg);
	cr_assert_str_eq(c.dir, "/from/yaml");
	cr_assert_str_eq(c.table, "yaml_table");
	cfg_free(&c);

	/* environment over YAML */
	cr_assert_eq(setenv("MIGRATIONS_DIR", "/from/env", 1), 0);
	cr_assert_eq(LOAD(&c, &err, "--config", DATA("precedence.yaml")), 0, "%s", err.msg);
	cr_assert_str_eq(c.dir, "/from/env");
	cr_assert_str_eq(c.table, "yaml_table");
	cfg_free(&c);

	/* flag over environment, wherever the flag sits in argv */
	cr_assert_eq(LOAD(&c, &err, "--dir", "/from/flag", "--config", DATA("precedence.yaml")), 0,
	             "%s", err.msg);
	cr_assert_str_eq(c.dir, "/from/flag");
	cr_assert_str_eq(c.table, "yaml_table");
	cfg_free(&c);

	/* the last of repeated flags wins */
	cr_assert_eq(LOAD(&c, &err, "--dir=/a", "--dir", "/b"), 0, "%s", err.msg);
	cr_assert_str_eq(c.dir, "/b");
	cfg_free(&c);
}

Test(config, config_file_from_env)
{
	struct cfg c;
	struct sg_err err;

	cr_assert_eq(setenv(CFG_CONFIG_ENV, DATA("precedence.yaml"), 1), 0);
	cr_assert_eq(LOAD(&c, &err, NULL), 0, "%s", err.msg);
	cr_assert_str_eq(c.dir, "/from/yaml");
	cfg_free(&c);

	/* --config wins over the variable, which would fail here */
	cr_assert_eq(setenv(CFG_CONFIG_ENV, DATA("does-not-exist.yaml"), 1), 0);
	cr_assert_eq(LOAD(&c, &err, "--config=" DATA("flat_keys.yaml")), 0, "%s", err.msg);
	cr_assert_str_eq(c.dir, "/flat");
	cr_assert_eq(c.log_level, LOG_LEVEL_WARN);
	cfg_free(&c);

	/* set but empty means unset */
	cr_assert_eq(setenv(CFG_CONFIG_ENV, "", 1), 0);
	cr_assert_eq(LOAD(&c, &err, NULL), 0, "%s", err.msg);
	cr_assert_str_eq(c.dir, "./migrations");
	cfg_free(&c);
}

Test(config, missing_config_file)
{
	struct cfg c;
	struct sg_err err;

	assert_fails(LOAD(&c, &err, "--config", DATA("does-not-exist.yaml")), &c, &err, SG_E_CONFIG,
	             "does-not-exist.yaml: No such file or directory");
	assert_fails(LOAD(&c, &err, "--config", SG_TEST_DATA), &c, &err, SG_E_CONFIG,
	             "Is a directory");
	assert_fails(LOAD(&c, &err, "--config"), &c, &err, SG_E_USAGE,
	             "flag --config needs a value");
	assert_fails(LOAD(&c, &err, "--config="), &c, &err, SG_E_USAGE,
	             "flag --config needs a value");
}

Test(config, env_sets_values_and_empty_is_unset)
{
	struct cfg c;
	struct sg_err err;

	cr_assert_eq(setenv("DATABASE_URL", "postgres://u@h/db", 1), 0);
	cr_assert_eq(setenv("SCHEMAGATE_LOCK_TIMEOUT", "1m30s", 1), 0);
	cr_assert_eq(setenv("SKIP_MIGRATIONS", "yes", 1), 0);
	cr_assert_eq(setenv("SCHEMAGATE_LOG_LEVEL", "warning", 1), 0);
	cr_assert_eq(setenv("POD_NAME", "pod-1", 1), 0);
	cr_assert_eq(setenv("MIGRATIONS_DIR", "", 1), 0);
	cr_assert_eq(setenv("SCHEMAGATE_CONNECT_ATTEMPTS", "", 1), 0);
	cr_assert_eq(LOAD(&c, &err, NULL), 0, "%s", err.msg);
	cr_assert_str_eq(c.database_url, "postgres://u@h/db");
	cr_assert_eq(c.lock_timeout_ms, 90000);
	cr_assert(c.skip);
	cr_assert_eq(c.log_level, LOG_LEVEL_WARN);
	cr_assert_str_eq(c.identity, "pod-1");
	cr_assert_str_eq(c.dir, "./migrations");
	cr_assert_eq(c.connect_attempts, 10);
	cfg_free(&c);
}

Test(config, migration_lock_settings_and_direct_url)
{
	struct cfg c;
	struct sg_err err;

	cr_assert_eq(setenv("MIGRATIONS_LOCK_TIMEOUT", "250ms", 1), 0);
	cr_assert_eq(setenv("MIGRATIONS_LOCK_RETRIES", "3", 1), 0);
	cr_assert_eq(setenv("DATABASE_DIRECT_URL", "postgres://u@direct/db", 1), 0);
	cr_assert_eq(LOAD(&c, &err, "--migrations-statement-timeout=1m"), 0, "%s", err.msg);
	cr_assert_eq(c.mig_lock_timeout_ms, 250);
	cr_assert_eq(c.mig_lock_retries, 3);
	cr_assert_eq(c.mig_statement_timeout_ms, 60000);
	cr_assert_str_eq(c.database_direct_url, "postgres://u@direct/db");
	cfg_free(&c);
	assert_fails(LOAD(&c, &err, "--migrations-lock-retries=1001"), &c, &err, SG_E_USAGE,
	             "--migrations-lock-retries: \"1001\" is out of range (0..1000)");
	assert_fails(LOAD(&c, &err, "--migrations-lock-timeout=5"), &c, &err, SG_E_USAGE,
	             "--migrations-lock-timeout: \"5\" is missing a unit");
	assert_fails(LOAD(&c, &err, "--database-direct-url=postgres://[x"), &c, &err, SG_E_USAGE,
	             "--database-direct-url: not a libpq URL");
}

Test(config, plan_settings)
{
	struct cfg c;
	struct sg_err err;

	cr_assert_eq(setenv("DATABASE_DEV_URL", "postgres://u:pw@dev/scratch", 1), 0);
	cr_assert_eq(setenv("MIGRATIONS_SAFETY_MAX_BYTES", "1GB", 1), 0);
	cr_assert_eq(LOAD(&c, &err, "--markdown", "--since", "42"), 0, "%s", err.msg);
	cr_assert_str_eq(c.dev_url, "postgres://u:pw@dev/scratch");
	cr_assert_eq(c.safety_max_bytes, 1L << 30);
	cr_assert(c.markdown);
	cr_assert_eq(c.plan_since, 42);
	cfg_free(&c);
	cr_assert_eq(LOAD(&c, &err, "--safety-max-bytes=65536", "--dev-url=host=dev dbname=x"), 0,
	             "%s", err.msg);
	cr_assert_eq(c.safety_max_bytes, 65536);
	cr_assert_str_eq(c.dev_url, "host=dev dbname=x");
	cfg_free(&c);
	assert_fails(LOAD(&c, &err, "--safety-max-bytes=64M"), &c, &err, SG_E_USAGE,
	             "--safety-max-bytes: \"64M\" has an unknown unit");
	assert_fails(LOAD(&c, &err, "--dev-url=postgres://[x"), &c, &err, SG_E_USAGE,
	             "--dev-url: not a libpq URL");
	cr_assert_eq(setenv("MIGRATIONS_SAFETY_MAX_BYTES", "-1", 1), 0);
	assert_fails(LOAD(&c, &err, NULL), &c, &err, SG_E_CONFIG,
	             "MIGRATIONS_SAFETY_MAX_BYTES: \"-1\" is not a size");
}

Test(config, dev_url_is_masked_in_argv)
{
	char a0[] = "--dev-url", a1[] = "postgres://u:secret@dev/x",
	     a2[] = "--dev-url=postgres://u:s2@d/x";
	char *argv[] = {a0, a1, a2};

	cfg_mask_secret_flags(3, argv);
	cr_assert_str_eq(argv[1], "xxxxx");
	cr_assert_str_eq(argv[2], "--dev-url=xxxxx");
}

/* libpq refuses a URL parameter it does not know: the error names it, never its value.
 * golang-migrate's x-* and pgx's pool_* parameters load (cli.c takes them out). */
Test(config, url_parameter_libpq_refuses_is_named)
{
	struct cfg c;
	struct sg_err err;

	assert_fails(LOAD(&c, &err,
	                  "--database-url=postgres://u:pw@h/db?sslmode=disable&"
	                  "statement_cache_capacity=Zq7Secret"),
	             &c, &err, SG_E_USAGE,
	             "--database-url: libpq refuses its query parameter "
	             "\"statement_cache_capacity\"");
	cr_expect_null(strstr(err.msg, "Zq7Secret"), "%s", err.msg);
	cr_assert_eq(LOAD(&c, &err,
	                  "--database-url=postgres://u@h/db?x-migrations-table=v&"
	                  "x-multi-statement=true&pool_max_conns=4&search_path=a"),
	             0, "%s", err.msg);
	cfg_free(&c);
}

Test(config, unknown_key_names_file_line_col)
{
	struct cfg c;
	struct sg_err err;

	assert_fails(LOAD(&c, &err, "--config", DATA("unknown_key.yaml")), &c, &err, SG_E_CONFIG,
	             "/config/unknown_key.yaml:4:3: unknown key \"database.urll\"");
	assert_fails(LOAD(&c, &err, "--config", DATA("unknown_section.yaml")), &c, &err,
	             SG_E_CONFIG, "unknown_section.yaml:1:1: unknown key \"databse\"");
	assert_fails(LOAD(&c, &err, "--config", DATA("section_scalar.yaml")), &c, &err, SG_E_CONFIG,
	             "section_scalar.yaml:1:11: database: expected a mapping");
}

Test(config, bad_bool_names_its_source)
{
	struct cfg c;
	struct sg_err err;

	assert_fails(LOAD(&c, &err, "--config", DATA("bad_bool.yaml")), &c, &err, SG_E_CONFIG,
	             "bad_bool.yaml:7:14: migrations.fail_fast: \"maybe\" is not a boolean "
	             "(true/false/1/0/yes/no");

	cr_assert_eq(setenv("MIGRATIONS_FAIL_FAST", "maybe", 1), 0);
	assert_fails(LOAD(&c, &err, NULL), &c, &err, SG_E_CONFIG,
	             "MIGRATIONS_FAIL_FAST: \"maybe\" is not a boolean (true/false/1/0/yes/no");
	cr_assert_eq(strncmp(err.msg, "MIGRATIONS_FAIL_FAST: ", 22), 0, "%s", err.msg);
	/* a flag that fixes the value still can't hide the bad variable */
	assert_fails(LOAD(&c, &err, "--fail-fast"), &c, &err, SG_E_CONFIG, "MIGRATIONS_FAIL_FAST");
	cr_assert_eq(unsetenv("MIGRATIONS_FAIL_FAST"), 0);

	assert_fails(LOAD(&c, &err, "--fail-fast=maybe"), &c, &err, SG_E_USAGE,
	             "--fail-fast: \"maybe\" is not a boolean");
	cr_assert_eq(strncmp(err.msg, "--fail-fast: ", 13), 0, "%s", err.msg);
}

Test(config, bad_values_name_their_source)
{
	struct cfg c;
	struct sg_err err;

	assert_fails(LOAD(&c, &err, "--connect-attempts", "80x"), &c, &err, SG_E_USAGE,
	             "--connect-attempts: \"80x\" is not an integer");
	assert_fails(LOAD(&c, &err, "--connect-attempts=0"), &c, &err, SG_E_USAGE,
	             "--connect-attempts: \"0\" is out of range (1..1000)");
	assert_fails(LOAD(&c, &err, "--lock-timeout=10"), &c, &err, SG_E_USAGE,
	             "--lock-timeout: \"10\" is missing a unit");
	assert_fails(LOAD(&c, &err, "--connect-timeout=500ms"), &c, &err, SG_E_USAGE,
	             "--connect-timeout: \"500ms\" is out of range (1s..1h)");
	assert_fails(LOAD(&c, &err, "--log-format=xml"), &c, &err, SG_E_USAGE,
	             "--log-format: \"xml\" is not a log format (json or text)");
	assert_fails(LOAD(&c, &err, "--log-level", "verbose"), &c, &err, SG_E_USAGE,
	             "--log-level: \"verbose\" is not a log level");
	assert_fails(LOAD(&c, &err, "--target", "-1"), &c, &err, SG_E_USAGE,
	             "--target: \"-1\" is not a version (a number >= 0 or \"latest\")");
	assert_fails(LOAD(&c, &err, "--version=latest"), &c, &err, SG_E_USAGE,
	             "--version: \"latest\" is not a version (a number >= 0 or \"any\")");
	assert_fails(LOAD(&c, &err, "--to=all"), &c, &err, SG_E_USAGE,
	             "--to: \"all\" is not a version (a number >= 0)");
	cr_assert_eq(setenv("SCHEMAGATE_LEASE_DURATION", "forever", 1), 0);
	assert_fails(LOAD(&c, &err, NULL), &c, &err, SG_E_CONFIG,
	             "SCHEMAGATE_LEASE_DURATION: \"forever\" is not a duration");
}

Test(config, duplicate_keys)
{
	struct cfg c;
	struct sg_err err;

	assert_fails(LOAD(&c, &err, "--config", DATA("duplicate.yaml")), &c, &err, SG_E_CONFIG,
	             "duplicate.yaml:3:3: duplicate key \"migrations.dir\"");
	assert_fails(LOAD(&c, &err, "--config", DATA("duplicate_section.yaml")), &c, &err,
	             SG_E_CONFIG, "duplicate_section.yaml:5:1: duplicate key \"migrations\"");
}

Test(config, tables_as_yaml_list)
{
	struct cfg c;
	struct sg_err err;

	cr_assert_eq(LOAD(&c, &err, "--config", DATA("tables_list.yaml")), 0, "%s", err.msg);
	cr_assert_str_eq(c.tables, "users,public.orders");
	cr_assert_eq(c.wait_version, 42);
	cfg_free(&c);

	assert_fails(
	    LOAD(&c, &err, "--config", DATA("list_not_allowed.yaml")), &c, &err, SG_E_CONFIG,
	    "list_not_allowed.yaml:3:5: migrations.dir: expected a single value, not a list");
	assert_fails(LOAD(&c, &err, "--config", DATA("bad_list_item.yaml")), &c, &err, SG_E_CONFIG,
	             "bad_list_item.yaml:4:7: wait.tables: list items must be plain names");
}

Test(config, yaml_syntax_error)
{
	struct cfg c;
	struct sg_err err;

	assert_fails(LOAD(&c, &err, "--config", DATA("syntax_error.yaml")), &c, &err, SG_E_CONFIG,
	             "syntax_error.yaml:3:17: invalid YAML: mapping values are not allowed in this "
	             "context");
	assert_fails(LOAD(&c, &err, "--config", DATA("two_docs.yaml")), &c, &err, SG_E_CONFIG,
	             "two_docs.yaml:3:1: only one YAML document is allowed");
}

Test(config, yaml_null_empty_and_flat_keys)
{
	struct cfg c;
	struct sg_err err;

	cr_assert_eq(LOAD(&c, &err, "--config", DATA("nulls.yaml")), 0, "%s", err.msg);
	assert_default_values(&c);
	cfg_free(&c);

	cr_assert_eq(LOAD(&c, &err, "--config", DATA("empty.yaml")), 0, "%s", err.msg);
	assert_default_values(&c);
	cfg_free(&c);

	cr_assert_eq(LOAD(&c, &err, "--config", DATA("flat_keys.yaml")), 0, "%s", err.msg);
	cr_assert_str_eq(c.dir, "/flat");
	cr_assert_eq(c.log_level, LOG_LEVEL_WARN);
	cfg_free(&c);
}

Test(config, positional_args_collected)
{
	struct cfg c;
	struct sg_err err;

	cr_assert_eq(LOAD(&c, &err, "up", "--dir", "/x", "-", "-3", "--", "--skip", "-h", "last"),
	             0, "%s", err.msg);
	cr_assert_eq(nrest, 6);
	cr_assert_str_eq(rest[0], "up");
	cr_assert_str_eq(rest[1], "-");
	cr_assert_str_eq(rest[2], "-3");
	cr_assert_str_eq(rest[3], "--skip");
	cr_assert_str_eq(rest[4], "-h");
	cr_assert_str_eq(rest[5], "last");
	cr_assert_str_eq(c.dir, "/x");
	cr_assert_not(c.skip);
	cr_assert_not(help);
	cfg_free(&c);

	/* a boolean flag never takes the next word */
	cr_assert_eq(LOAD(&c, &err, "--skip", "false"), 0, "%s", err.msg);
	cr_assert(c.skip);
	cr_assert_eq(nrest, 1);
	cr_assert_str_eq(rest[0], "false");
	cfg_free(&c);
}

Test(config, positional_args_refused_without_rest)
{
	struct cfg c;
	struct sg_err err;
	char *argv[] = {"--json", "extra", NULL};

	nrest = 0;
	assert_fails(cfg_load(&c, 2, argv, NULL, NULL, NULL, &err), &c, &err, SG_E_USAGE,
	             "unexpected argument \"extra\"");
	cr_assert_eq(cfg_load(&c, 1, argv, NULL, NULL, NULL, &err), 0, "%s", err.msg);
	cr_assert(c.json);
	cfg_free(&c);
}

Test(config, flag_value_forms)
{
	struct cfg c;
	struct sg_err err;

	cr_assert_eq(LOAD(&c, &err, "--connect-attempts=5", "--lock-timeout", "30s",
	                  "--log-level=debug", "--log-format", "text", "--target=42", "--version",
	                  "any", "--to", "0", "--steps=3", "--json", "--search-path=a,b",
	                  "--tables", "users, app.orders", "--listen=127.0.0.1:9000",
	                  "--database-url=postgres://h/db?sslmode=disable"),
	             0, "%s", err.msg);
	cr_assert_eq(c.connect_attempts, 5);
	cr_assert_eq(c.lock_timeout_ms, 30000);
	cr_assert_eq(c.log_level, LOG_LEVEL_DEBUG);
	cr_assert_eq(c.log_format, LOG_FORMAT_TEXT);
	cr_assert_eq(c.target, 42);
	cr_assert_eq(c.wait_version, -1);
	cr_assert_eq(c.down_to, 0);
	cr_assert_eq(c.down_steps, 3);
	cr_assert(c.json);
	cr_assert_str_eq(c.search_path, "a,b");
	cr_assert_str_eq(c.tables, "users, app.orders");
	cr_assert_str_eq(c.listen, "127.0.0.1:9000");
	/* only the first '=' splits flag from value */
	cr_assert_str_eq(c.database_url, "postgres://h/db?sslmode=disable");
	cr_assert_eq(nrest, 0);
	cfg_free(&c);
}

Test(config, negated_and_explicit_booleans)
{
	struct cfg c;
	struct sg_err err;

	cr_assert_eq(LOAD(&c, &err, "--no-fail-fast", "--skip", "--allow-drift=yes",
	                  "--admin-enabled=false", "--leader-required=1", "--no-json"),
	             0, "%s", err.msg);
	cr_assert_not(c.fail_fast);
	cr_assert(c.skip);
	cr_assert(c.allow_drift);
	cr_assert_not(c.admin_enabled);
	cr_assert(c.leader_required);
	cr_assert_not(c.json);
	cfg_free(&c);

	/* negation beats the environment like any flag */
	cr_assert_eq(setenv("SKIP_MIGRATIONS", "true", 1), 0);
	cr_assert_eq(LOAD(&c, &err, "--no-skip"), 0, "%s", err.msg);
	cr_assert_not(c.skip);
	cfg_free(&c);

	assert_fails(LOAD(&c, &err, "--no-skip=true"), &c, &err, SG_E_USAGE,
	             "flag --no-skip takes no value");
	assert_fails(LOAD(&c, &err, "--no-dir"), &c, &err, SG_E_USAGE,
	             "unknown flag \"--no-dir\" (see --help)");
}

Test(config, usage_errors)
{
	struct cfg c;
	struct sg_err err;

	assert_fails(LOAD(&c, &err, "--dri", "/x"), &c, &err, SG_E_USAGE,
	             "unknown flag \"--dri\" (see --help)");
	assert_fails(LOAD(&c, &err, "--dri=/x"), &c, &err, SG_E_USAGE, "unknown flag \"--dri\"");
	assert_fails(LOAD(&c, &err, "-x"), &c, &err, SG_E_USAGE, "unknown flag \"-x\"");
	assert_fails(LOAD(&c, &err, "--dir"), &c, &err, SG_E_USAGE, "flag --dir needs a value");
	assert_fails(LOAD(&c, &err, "--dir", "--skip"), &c, &err, SG_E_USAGE,
	             "flag --dir needs a value");
	assert_fails(LOAD(&c, &err, "--version"), &c, &err, SG_E_USAGE,
	             "flag --version needs a value");
	/* usage errors come before reading a file that isn't there */
	assert_fails(LOAD(&c, &err, "--config", DATA("does-not-exist.yaml"), "--bogus"), &c, &err,
	             SG_E_USAGE, "unknown flag \"--bogus\"");
}

Test(config, help_short_circuits)
{
	struct cfg c;
	struct sg_err err;

	cr_assert_eq(setenv("MIGRATIONS_FAIL_FAST", "maybe", 1), 0);
	cr_assert_eq(LOAD(&c, &err, "--bogus", "--help"), 0, "%s", err.msg);
	cr_assert(help);
	assert_default_values(&c);
	cfg_free(&c);

	cr_assert_eq(LOAD(&c, &err, "-h"), 0, "%s", err.msg);
	cr_assert(help);
	cfg_free(&c);

	/* after "--" it is just a word */
	cr_assert_eq(unsetenv("MIGRATIONS_FAIL_FAST"), 0);
	cr_assert_eq(LOAD(&c, &err, "--", "--help"), 0, "%s", err.msg);
	cr_assert_not(help);
	cr_assert_eq(nrest, 1);
	cfg_free(&c);
}

Test(config, empty_flag_values)
{
	struct cfg c;
	struct sg_err err;

	cr_assert_eq(setenv("REDIS_URL", "redis://redis:6379/0", 1), 0);
	cr_assert_eq(LOAD(&c, &err, "--redis-url="), 0, "%s", err.msg);
	cr_assert_null(c.redis_url);
	cfg_free(&c);

	assert_fails(LOAD(&c, &err, "--dir="), &c, &err, SG_E_USAGE, "--dir: must not be empty");
	assert_fails(LOAD(&c, &err, "--steps", ""), &c, &err, SG_E_USAGE,
	             "--steps: \"\" is not an integer");
}

Test(config, cross_field_rules)
{
	struct cfg c;
	struct sg_err err;

	assert_fails(LOAD(&c, &err, "--connect-base-delay=40s"), &c, &err, SG_E_CONFIG,
	             "database.connect_base_delay (40s) must not exceed database.connect_max_delay "
	             "(30s)");
	cr_assert_eq(LOAD(&c, &err, "--connect-base-delay=30s"), 0, "%s", err.msg);
	cfg_free(&c);

	cr_assert_eq(setenv("SCHEMAGATE_LOCK_POLL_MIN", "1.5s", 1), 0);
	assert_fails(LOAD(&c, &err, NULL), &c, &err, SG_E_CONFIG,
	             "lock.poll_min (1.5s) must not exceed lock.poll_max (1s)");
	cr_assert_eq(unsetenv("SCHEMAGATE_LOCK_POLL_MIN"), 0);

	assert_fails(LOAD(&c, &err, "--renew-deadline=15s"), &c, &err, SG_E_CONFIG,
	             "leader.renew_deadline (15s) must be less than leader.lease_duration (15s)");
	assert_fails(LOAD(&c, &err, "--retry-period=10s"), &c, &err, SG_E_CONFIG,
	             "leader.retry_period (10s) must be less than leader.renew_deadline (10s)");
	/* the rules apply to the final values, not to each source */
	cr_assert_eq(
	    LOAD(&c, &err, "--lease-duration=1m", "--renew-deadline=40s", "--retry-period=15s"), 0,
	    "%s", err.msg);
	cfg_free(&c);
}

Test(config, string_validation)
{
	struct cfg c;
	struct sg_err err;

	assert_fails(LOAD(&c, &err, "--table=Bad-Name"), &c, &err, SG_E_USAGE,
	             "--table: \"Bad-Name\" is not a valid name");
	assert_fails(LOAD(&c, &err, "--table=1abc"), &c, &err, SG_E_USAGE, "not a valid name");
	assert_fails(LOAD(&c, &err,
	                  "--notify-channel=a234567890123456789012345678901234567890123456789012345"
	                  "678901234"),
	             &c, &err, SG_E_USAGE, "--notify-channel: \"");
	cr_assert_eq(LOAD(&c, &err, "--table=_t1",
	                  "--notify-channel=a23456789012345678901234567890123456789012345678901234"
	                  "567890123"),
	             0, "%s", err.msg);
	cfg_free(&c);

	assert_fails(LOAD(&c, &err, "--search-path=a,,b"), &c, &err, SG_E_USAGE,
	             "--search-path: \"a,,b\" has an empty schema name");
	assert_fails(LOAD(&c, &err, "--search-path=a, "), &c, &err, SG_E_USAGE,
	             "has an empty schema name");
	cr_assert_eq(LOAD(&c, &err, "--search-path= \"My Schema\" ,public"), 0, "%s", err.msg);
	cr_assert_str_eq(c.search_path, " \"My Schema\" ,public");
	cfg_free(&c);

	assert_fails(LOAD(&c, &err, "--tables=users,"), &c, &err, SG_E_USAGE,
	             "has an empty table name");
	assert_fails(LOAD(&c, &err, "--tables=app."), &c, &err, SG_E_USAGE,
	             "\"app.\" has an empty part around \".\"");
	assert_fails(LOAD(&c, &err, "--tables=users,.orders"), &c, &err, SG_E_USAGE,
	             "empty part around");

	cr_assert_eq(LOAD(&c, &err, "--listen=[::]:8081"), 0, "%s", err.msg);
	cfg_free(&c);
	cr_assert_eq(LOAD(&c, &err, "--listen=localhost:1"), 0, "%s", err.msg);
	cfg_free(&c);
	assert_fails(LOAD(&c, &err, "--listen=::1:8081"), &c, &err, SG_E_USAGE,
	             "put an IPv6 address in brackets");
	assert_fails(LOAD(&c, &err, "--listen=0.0.0.0:0"), &c, &err, SG_E_USAGE,
	             "bad port: \"0\" is out of range (1..65535)");
	assert_fails(LOAD(&c, &err, "--listen=0.0.0.0:65536"), &c, &err, SG_E_USAGE,
	             "out of range (1..65535)");
	assert_fails(LOAD(&c, &err, "--listen=8081"), &c, &err, SG_E_USAGE, "is not HOST:PORT");
	assert_fails(LOAD(&c, &err, "--listen=:8081"), &c, &err, SG_E_USAGE, "is not HOST:PORT");
	assert_fails(LOAD(&c, &err, "--listen=[::]8081"), &c, &err, SG_E_USAGE,
	             "is not [IPV6]:PORT");
}

Test(config, free_is_null_safe_and_idempotent)
{
	struct cfg c;
	struct sg_err err;

	cfg_free(NULL);
	cr_assert_eq(LOAD(&c, &err, "--identity=x"), 0, "%s", err.msg);
	cfg_free(&c);
	cr_assert_null(c.dir);
	cr_assert_null(c.identity);
	cfg_free(&c);
}

Test(config, option_table)
{
	size_t i, j, n = cfg_option_count();

	cr_assert_gt(n, 40);
	cr_assert_null(cfg_option_env(n));
	for (i = 0; i < n; i++) {
		const char *e = cfg_option_env(i);

		if (e == NULL)
			continue;
		cr_assert_gt(strlen(e), 0);
		for (j = i + 1; j < n; j++)
			cr_assert(cfg_option_env(j) == NULL || strcmp(e, cfg_option_env(j)) != 0,
			          "%s twice", e);
	}
}

Test(config, help_is_an_aligned_table)
{
	static const char *const want[][3] = {
	    {"--database-url", "DATABASE_URL", "database.url"},
	    {"--[no-]fail-fast", "MIGRATIONS_FAIL_FAST", "migrations.fail_fast"},
	    {"-", "SCHEMAGATE_LOCK_POLL_MIN", "lock.poll_min"},
	    {"--config", "SCHEMAGATE_CONFIG", "-"},
	    {"--steps", "-", "-"},
	};
	char *text = NULL, *line, *save = NULL;
	size_t len = 0, lines = 0, found = 0, i;
	size_t env_col, key_col;
	FILE *f = open_memstream(&text, &len);

	cr_assert_not_null(f);
	cr_assert_eq(cfg_print_help(f, CFG_CMD_ALL, NULL), 0);
	cr_assert_eq(fclose(f), 0);
	cr_assert(strncmp(text, "FLAG ", 5) == 0, "%s", text);
	env_col = (size_t)(strstr(text, "ENV") - text);
	key_col = (size_t)(strstr(text, "KEY") - text);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		lines++;
		cr_assert_gt(strlen(line), key_col, "short line: %s", line);
		/* every cell starts in its column, after a blank */
		cr_assert(line[env_col - 1] == ' ' && line[env_col] != ' ', "%s", line);
		cr_assert(line[key_col - 1] == ' ' && line[key_col] != ' ', "%s", line);
		for (i = 0; i < sizeof want / sizeof want[0]; i++) {
			size_t fl = strlen(want[i][0]), el = strlen(want[i][1]),
			       kl = strlen(want[i][2]);

			if (strncmp(line, want[i][0], fl) == 0 && line[fl] == ' ' &&
			    strncmp(line + env_col, want[i][1], el) == 0 &&
			    line[env_col + el] == ' ' &&
			    strncmp(line + key_col, want[i][2], kl) == 0 &&
			    line[key_col + kl] == ' ')
				found++;
		}
	}
	cr_assert_eq(found, sizeof want / sizeof want[0]);
	/* header, -h/--help, --config, then one per option */
	cr_assert_eq(lines, cfg_option_count() + 3);
	free(text);
}

/* A 63-character --table would make <table>_runs cut to the same name, so
 * the history and the runs table would be one. Derived names must fit too. */
Test(config, table_leaves_room_for_derived_names)
{
	struct cfg c;
	struct sg_err err;
	char t58[59], t59[60], f58[80], f59[80];

	memset(t58, 'a', 58);
	t58[58] = '\0';
	memset(t59, 'a', 59);
	t59[59] = '\0';
	snprintf(f58, sizeof f58, "--table=%s", t58);
	snprintf(f59, sizeof f59, "--table=%s", t59);
	cr_assert_eq(LOAD(&c, &err, f58), 0, "%s", err.msg);
	cfg_free(&c);
	assert_fails(LOAD(&c, &err, f59), &c, &err, SG_E_USAGE, "--table: \"");
	cr_expect(strstr(err.msg, "at most 58") != NULL && strstr(err.msg, "<table>_runs") != NULL,
	          "%s", err.msg);
}

/* The runs table's name, as history.c and the checker take it. */
Test(config, runs_table_is_named_after_the_history_table)
{
	char buf[64], small[8];

	cr_expect_eq(cfg_runs_table("schemagate_migrations", buf, sizeof buf), 26);
	cr_expect_str_eq(buf, "schemagate_migrations_runs");
	cr_expect_eq(cfg_runs_table("history", small, sizeof small), 12);
	cr_expect_str_eq(small, "history"); /* cut as snprintf cuts */
}

/* Each command's --help lists the settings it reads, and only those. */
Test(config, help_lists_each_command_its_own_settings)
{
	static const struct {
		unsigned cmd;
		const char *has, *lacks;
	} cases[] = {
	    {CFG_CMD_MIGRATE, "--migrations-lock-timeout", "--listen "},
	    {CFG_CMD_MIGRATE, "--lease-duration", "--steps"},
	    {CFG_CMD_MIGRATE, "--target", "SCHEMAGATE_WAIT_VERSION"},
	    {CFG_CMD_SERVE, "--listen", "--lease-duration"},
	    {CFG_CMD_PROBE, "--url", "--database-url"},
	    {CFG_CMD_DOWN, "--steps", "--url "},
	    {CFG_CMD_WAIT, "SCHEMAGATE_WAIT_VERSION", "--max-connections"},
	    {CFG_CMD_CREATE, "--dir", "--database-url"},
	    {CFG_CMD_BASELINE, "--from-table", "--json"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		cr_assert_not_null(f);
		cr_assert_eq(cfg_print_help(f, cases[i].cmd, NULL), 0);
		cr_assert_eq(fclose(f), 0);
		cr_expect(strstr(text, cases[i].has) != NULL, "case %zu lacks %s", i, cases[i].has);
		cr_expect(strstr(text, cases[i].lacks) == NULL, "case %zu has %s", i,
		          cases[i].lacks);
		cr_expect(strstr(text, "--config") != NULL, "case %zu", i);
		free(text);
	}
}

/* No setting is read by no command: the per-command tables cover them all. */
Test(config, every_setting_is_some_commands)
{
	char seen[128][160];
	size_t nseen = 0;

	for (unsigned bit = 1; bit <= CFG_CMD_ALL; bit <<= 1) {
		char *text = NULL, *line, *save = NULL;
		size_t len = 0;
		FILE *g = open_memstream(&text, &len);

		cr_assert_not_null(g);
		cr_assert_eq(cfg_print_help(g, bit, NULL), 0);
		cr_assert_eq(fclose(g), 0);
		for (line = strtok_r(text, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			char flag[48], env[48], key[48], row[160];
			size_t k;

			cr_assert_eq(sscanf(line, "%47s %47s %47s", flag, env, key), 3, "%s", line);
			snprintf(row, sizeof row, "%s %s %s", flag, env, key);
			for (k = 0; k < nseen && strcmp(seen[k], row) != 0; k++)
				;
			if (k == nseen) {
				cr_assert_lt(nseen, sizeof seen / sizeof seen[0]);
				memcpy(seen[nseen++], row, sizeof row);
			}
		}
		free(text);
	}
	/* the header, -h/--help and --config, then every option once */
	cr_expect_eq(nseen, cfg_option_count() + 3);
}

/* The rows marked secret decide which flag values are masked in argv: every URL (they may
 * hold a password), in both spellings, and nothing else. */
Test(config, secret_flags_are_masked_in_argv)
{
	char a0[] = "--database-url=postgres://u:pw1@h/db", a1[] = "--database-direct-url",
	     a2[] = "postgres://u:pw2@h/db", a3[] = "--redis-url", a4[] = "redis://:pw3@h:6379",
	     a5[] = "--url", a6[] = "http://127.0.0.1:8081/readyz", a7[] = "--dir", a8[] = "/m",
	     a9[] = "--", a10[] = "--redis-url=redis://:pw4@h";
	char *argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10};

	cfg_mask_secret_flags((int)(sizeof argv / sizeof argv[0]), argv);
	cr_expect_str_eq(a0, "--database-url=xxxxx");
	cr_expect_str_eq(a2, "xxxxx");
	cr_expect_str_eq(a4, "xxxxx");
	cr_expect_str_eq(a6, "http://127.0.0.1:8081/readyz", "the probe URL holds no secret");
	cr_expect_str_eq(a8, "/m");
	cr_expect_str_eq(a10, "--redis-url=redis://:pw4@h", "after --, arguments are positional");
}

/* The Markdown reference of every setting (docs/configuration.md) with the
 * command names of cli.c's table. */
Test(config, reference_has_every_setting_and_who_reads_it)
{
	static const char *const names[CFG_NCMDS] = {"migrate", "status",   "down",  "force",
	                                             "create",  "verify",   "serve", "wait",
	                                             "probe",   "baseline", "plan"};
	char *text = NULL;
	size_t len = 0, rows = 0;
	FILE *f = open_memstream(&text, &len);
	struct sg_err err;

	cr_assert_not_null(f);
	cr_assert_eq(cfg_print_reference(f, TEXTTABLE_MARKDOWN, names, &err), 0, "%s", err.msg);
	cr_assert_eq(fclose(f), 0);
	cr_assert(strncmp(text, "| FLAG | ENV | KEY | DEFAULT | COMMANDS | DESCRIPTION |\n|---|",
	                  60) == 0,
	          "%s", text);
	for (const char *q = text; (q = strstr(q, "\n| ")) != NULL; q++)
		rows++;
	/* -h/--help, --config, then one per option */
	cr_assert_eq(rows, cfg_option_count() + 2);
	for (size_t i = 0; i < cfg_option_count(); i++) {
		char cell[96];

		if (cfg_option_env(i) == NULL)
			continue;
		snprintf(cell, sizeof cell, " | `%s` | ", cfg_option_env(i));
		cr_assert(strstr(text, cell) != NULL, "%s missing", cfg_option_env(i));
	}
	cr_assert(strstr(text, "| `--dir` | `MIGRATIONS_DIR` | `migrations.dir` | `./migrations` | "
	                       "all but wait, probe | directory of migration files |\n"));
	cr_assert(strstr(text,
	                 "| `--database-direct-url` | `DATABASE_DIRECT_URL` | "
	                 "`database.direct_url` | \u2014 | migrate, down, force, baseline |"));
	cr_assert(strstr(text, "| `--identity` | `POD_NAME` | `identity` | \u2014 | all |"));
	cr_assert(strstr(text,
	                 "| `--[no-]skip` | `SKIP_MIGRATIONS` | `migrations.skip` | `false` | "
	                 "migrate |"));
	cr_assert(strstr(text, "| `--steps` | \u2014 | \u2014 | `1` | down |"));
	free(text);
}
