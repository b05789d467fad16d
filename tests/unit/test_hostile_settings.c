/* test_hostile_settings.c - connection settings that are malformed on purpose or by accident:
 * refused with a message that names the setting and quotes no password. Each case is an input
 * that fuzzing or the hostile-input tests found mishandled once. */
#include <string.h>

#include <criterion/criterion.h>

#include "config.h"
#include "redis.h"

/* fuzz_redis_url: a password with an unencoded '/' or '?' ends the host part
 * early; the port error then quoted the password's head ("s3cr"). */
Test(hostile_settings, redis_port_error_does_not_quote_password_text)
{
	static const char *const urls[] = {
	    "redis://user:s3cr/etpw@h:6379/0",
	    "redis://user:s3cr?etpw@h/0",
	    "redis://h:6379/s3cret",
	};
	struct redis_url u;
	struct sg_err err;

	for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		cr_assert_neq(redis_url_parse(urls[i], &u, &err), 0, "%s", urls[i]);
		cr_assert_null(strstr(err.msg, "s3cr"), "%s -> %s", urls[i], err.msg);
	}
}

static void clear_env(void)
{
	for (size_t i = 0; i < cfg_option_count(); i++)
		if (cfg_option_env(i) != NULL)
			unsetenv(cfg_option_env(i));
	unsetenv(CFG_CONFIG_ENV);
}

/* test_hostile: an unparsable DATABASE_URL was retried as "unreachable"
 * (exit 3) and libpq's message quoted the whole URL, password included. */
Test(hostile_settings, unparsable_database_url_is_a_config_error_without_the_password)
{
	char *argv[] = {"--database-url=postgres://u:Secret99@[::1/x", NULL};
	char *argv2[] = {"--database-url=host=h password='Secret99", NULL};
	struct cfg c;
	struct sg_err err;

	clear_env();
	cr_assert_neq(cfg_load(&c, 1, argv, NULL, NULL, NULL, &err), 0);
	cr_assert_eq(err.code, SG_E_USAGE, "%d %s", err.code, err.msg);
	cr_assert_null(strstr(err.msg, "Secret99"), "%s", err.msg);
	cr_assert_not_null(strstr(err.msg, "--database-url"), "%s", err.msg);
	cr_assert_neq(cfg_load(&c, 1, argv2, NULL, NULL, NULL, &err), 0);
	cr_assert_null(strstr(err.msg, "Secret99"), "%s", err.msg);
}

/* test_hostile: a search path holding ';' or a stray quote created a schema
 * of that name and applied every migration again inside it. */
Test(hostile_settings, search_path_with_semicolon_or_stray_quote_is_refused)
{
	char *bad1[] = {"--search-path=public;DROP TABLE x;--", NULL};
	char *bad2[] = {"--search-path=public\", \"x", NULL};
	char *bad3[] = {"--search-path=it's", NULL};
	char *good[] = {"--search-path= \"My Schema\" ,public", NULL};
	struct cfg c;
	struct sg_err err;

	clear_env();
	cr_assert_neq(cfg_load(&c, 1, bad1, NULL, NULL, NULL, &err), 0);
	cr_assert_not_null(strstr(err.msg, "--search-path"), "%s", err.msg);
	cr_assert_neq(cfg_load(&c, 1, bad2, NULL, NULL, NULL, &err), 0);
	cr_assert_neq(cfg_load(&c, 1, bad3, NULL, NULL, NULL, &err), 0);
	cr_assert_eq(cfg_load(&c, 1, good, NULL, NULL, NULL, &err), 0, "%s", err.msg);
	cfg_free(&c);
}
