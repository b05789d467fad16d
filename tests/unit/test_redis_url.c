/* test_redis_url.c - parsing redis:// URLs, lease key names and the renewal deadline rule (no
 * network). */
#include <criterion/criterion.h>

#include <string.h>

#include "lease.h"
#include "redis.h"

struct url_case {
	const char *url;
	const char *host;
	int port;
	long db;
	const char *user;
	const char *password;
};

/* Tables in one test each: Criterion re-executes the binary for every test,
 * so parameters holding pointers would not survive the trip. */
static const struct url_case good[] = {
    {"redis://127.0.0.1:6380/2", "127.0.0.1", 6380, 2, "", ""},
    {"redis://cache", "cache", 6379, 0, "", ""},
    {"redis://cache/", "cache", 6379, 0, "", ""},
    {"redis://:s3cret@cache:7000", "cache", 7000, 0, "", "s3cret"},
    {"redis://app:p%40ss%3Aw@cache/5", "cache", 6379, 5, "app", "p@ss:w"},
    {"redis://:p@ss@cache", "cache", 6379, 0, "", "p@ss"},
    {"redis://[::1]:6390/1", "::1", 6390, 1, "", ""},
    {"redis://h:1/0?timeout=1", "h", 1, 0, "", ""},
};

Test(redis_url, parses)
{
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		const struct url_case *c = &good[i];
		struct redis_url u;
		struct sg_err err = {.code = SG_E_OK};

		cr_assert_eq(redis_url_parse(c->url, &u, &err), 0, "%s: %s", c->url, err.msg);
		cr_expect_str_eq(u.host, c->host, "%s: host %s", c->url, u.host);
		cr_expect_eq(u.port, c->port, "%s: port %d", c->url, u.port);
		cr_expect_eq(u.db, c->db, "%s: db %ld", c->url, u.db);
		cr_expect_str_eq(u.user, c->user, "%s: user", c->url);
		cr_expect_str_eq(u.password, c->password, "%s: password", c->url);
	}
}

static const char *const bad[] = {
    "http://cache",    "redis://",         "redis://:6379", "redis://h:0",
    "redis://h:65536", "redis://h:80x",    "redis://h/x",   "redis://h/-1",
    "redis://user@h",  "redis://:pw%zz@h", "redis://[::1",  "",
};

Test(redis_url, rejects)
{
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct redis_url u;
		struct sg_err err = {.code = SG_E_OK};

		cr_expect_eq(redis_url_parse(bad[i], &u, &err), -1, "accepted \"%s\"", bad[i]);
		cr_expect_eq(err.code, SG_E_CONFIG, "\"%s\": code %d", bad[i], err.code);
	}
}

Test(redis_url, tls_is_refused_with_a_clear_message)
{
	struct redis_url u;
	struct sg_err err = {.code = SG_E_OK};

	cr_assert_eq(redis_url_parse("rediss://:pw-secret@cache:6380", &u, &err), -1);
	cr_expect(strstr(err.msg, "TLS") != NULL, "%s", err.msg);
	cr_expect(strstr(err.msg, "pw-secret") == NULL, "password in message: %s", err.msg);
}

Test(redis_url, errors_never_contain_the_password)
{
	struct redis_url u;
	struct sg_err err = {.code = SG_E_OK};

	cr_assert_eq(redis_url_parse("redis://:hunter2@cache:99999", &u, &err), -1);
	cr_expect(strstr(err.msg, "hunter2") == NULL, "%s", err.msg);
}

Test(lease_names, sixteen_hex_digits_of_the_lock_key)
{
	char buf[64];

	lease_name(LEASE_KEY_PREFIX, 1, buf, sizeof buf);
	cr_expect_str_eq(buf, "schemagate:lease:0000000000000001");
	lease_name(LEASE_CHANNEL_PREFIX, -1, buf, sizeof buf);
	cr_expect_str_eq(buf, "schemagate:done:ffffffffffffffff");
	lease_name(LEASE_FENCE_PREFIX, 0x123456789abcdefLL, buf, sizeof buf);
	cr_expect_str_eq(buf, "schemagate:fence:0123456789abcdef");
}

Test(lease_rule, deadline_counts_from_the_last_successful_renewal)
{
	cr_expect(!lease_deadline_passed(1000, 1699, 700));
	cr_expect(lease_deadline_passed(1000, 1700, 700));
	cr_expect(lease_deadline_passed(1000, 99999, 700));
	cr_expect(!lease_deadline_passed(1000, 1000, 1));
}
