/* test_dsn.c - connection strings in, redacted text out; "secret" must never survive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "dsn.h"
#include "sgt_table.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct redact_case {
	const char *in;
	const char *want;
};

/* Every password in these inputs contains "secret"; see never_leaks_secret. */
/* clang-format off */
static const struct redact_case cases[] = {
	/* libpq URLs */
	{"postgres://user:secret@host:5432/db?sslmode=disable&password=secret",
	 "postgres://user:xxxxx@host:5432/db?sslmode=disable&password=xxxxx"},
	{"postgresql://user:secret@host/db", "postgresql://user:xxxxx@host/db"},
	{"postgresql://u:secret@h1:5432,h2:5433/db?target_session_attrs=read-write",
	 "postgresql://u:xxxxx@h1:5432,h2:5433/db?target_session_attrs=read-write"},
	{"postgres://u:se%40cr%2Fet%3Asecret@host/db", "postgres://u:xxxxx@host/db"},
	{"postgres://u:secret@host", "postgres://u:xxxxx@host"},
	{"postgres://u:secret@", "postgres://u:xxxxx@"},
	{"postgres://u:@host/db", "postgres://u:@host/db"},
	{"postgres://u@host/db", "postgres://u@host/db"},
	{"postgres://host/db", "postgres://host/db"},
	{"postgres://", "postgres://"},
	{"postgresql:///db?host=/var/run/postgresql", "postgresql:///db?host=/var/run/postgresql"},
	{"postgresql://[::1]:5432/db?user=u&password=secret",
	 "postgresql://[::1]:5432/db?user=u&password=xxxxx"},
	{"postgres://u@h/db?sslpassword=secret&sslmode=require",
	 "postgres://u@h/db?sslpassword=xxxxx&sslmode=require"},
	{"postgres://u@h/db?pass%77ord=secret", "postgres://u@h/db?pass%77ord=xxxxx"},
	{"postgres://u@h/db?PASSWORD=secret", "postgres://u@h/db?PASSWORD=xxxxx"},
	{"postgres://h/db?password=secret&password=secret2",
	 "postgres://h/db?password=xxxxx&password=xxxxx"},
	{"postgres://h/db?password=", "postgres://h/db?password="},
	/* passwords holding URL delimiters, as people paste them */
	{"postgres://u:sec@ret@host/db", "postgres://u:xxxxx@host/db"},
	{"postgres://u:sec?ret#secret@host/db", "postgres://u:xxxxx@host/db"},
	{"postgres://u:sec:ret@host/db", "postgres://u:xxxxx@host/db"},
	{"postgres://u:secret@host?application_name=a@b&password=secret",
	 "postgres://u:xxxxx@b&password=xxxxx"},
	{"postgres://u:sec/ret@host/db", DSN_UNPARSABLE},
	{"postgres://host/my@secret", DSN_UNPARSABLE},
	{"postgres://u@h/db?pass%7word=secret", DSN_UNPARSABLE},
	{"postgres://h/db?dbname=postgres%3A%2F%2Fu%3Asecret%40h", "postgres://h/db?dbname=xxxxx"},
	{"postgres://h/db?application_name=x@y", "postgres://h/db?application_name=x@y"},
	/* Redis */
	{"redis://:secret@host:6379/0", "redis://:xxxxx@host:6379/0"},
	{"rediss://user:secret@redis.example:6380/1", "rediss://user:xxxxx@redis.example:6380/1"},
	{"redis://host:6379/0", "redis://host:6379/0"},
	{"redis://host:6379?password=secret", "redis://host:6379?password=xxxxx"},
	{"unix:///run/redis.sock?password=secret", "unix:///run/redis.sock?password=xxxxx"},
	/* libpq keyword strings */
	{"host=x password=secret user=u", "host=x password=xxxxx user=u"},
	{"host=x password='se cret\\' q' user=u", "host=x password=xxxxx user=u"},
	{"host=x password='secret'user=u", "host=x password=xxxxxuser=u"},
	{"password = secret host=x", "password = xxxxx host=x"},
	{"password=se\\ cret host=h", "password=xxxxx host=h"},
	{"password=secret\\", "password=xxxxx"},
	{"password='' host=h", "password=xxxxx host=h"},
	{"host=x sslpassword=secret", "host=x sslpassword=xxxxx"},
	{"PASSWORD=secret", "PASSWORD=xxxxx"},
	{"\tpassword=secret\n", "\tpassword=xxxxx\n"},
	{"host=db.example port=5432 dbname=app user=app sslmode=require",
	 "host=db.example port=5432 dbname=app user=app sslmode=require"},
	{"dbname=postgres://u:secret@h/db", "dbname=xxxxx"},
	{"dbname='host=h password=secret'", "dbname=xxxxx"},
	{"application_name='it''s secret'", DSN_UNPARSABLE},
	{"host=x password='secret", DSN_UNPARSABLE},
	{"host=x password='secret\\'", DSN_UNPARSABLE},
	{"host x password secret", DSN_UNPARSABLE},
	{"user:secret@host/db", DSN_UNPARSABLE},
	{"password", DSN_UNPARSABLE},
	{"", ""},
	{"   ", "   "},
};
/* clang-format on */

static void check_redacts(const struct redact_case *c)
{
	char out[256];

	dsn_redact(c->in, out, sizeof out);
	cr_assert_str_eq(out, c->want, "input: %s", c->in);
}

SGT_TABLE_TEST(dsn, redacts, cases, check_redacts)

/* Whatever the buffer size, no output holds the password, not even in part. */
static void check_never_leaks_secret(const struct redact_case *c)
{
	char out[256];
	size_t n;

	for (n = 1; n <= strlen(c->in) + 8 && n <= sizeof out; n++) {
		memset(out, '#', sizeof out);
		dsn_redact(c->in, out, n);
		cr_assert(memchr(out, '\0', n) != NULL, "n=%zu: not terminated", n);
		cr_assert_null(strstr(out, "secret"), "n=%zu: \"%s\" from %s", n, out, c->in);
		cr_assert_null(strstr(out, "cret"), "n=%zu: \"%s\" from %s", n, out, c->in);
		cr_assert_eq(out[n], '#', "n=%zu: wrote past the buffer", n);
	}
}

SGT_TABLE_TEST(dsn, never_leaks_secret, cases, check_never_leaks_secret)

Test(dsn, truncates_and_terminates)
{
	char out[10], canary[4] = "abc";

	dsn_redact("postgres://user:secret@host/db", out, sizeof out);
	cr_assert_str_eq(out, "postgres:");
	dsn_redact("host=x password='never closed", out, sizeof out);
	cr_assert_str_eq(out, "[unparsab");
	dsn_redact("postgres://user:secret@host/db", canary, 0);
	cr_assert_str_eq(canary, "abc");
}

Test(dsn, null_input_gives_empty_string)
{
	char out[8] = "junk";

	dsn_redact(NULL, out, sizeof out);
	cr_assert_str_eq(out, "");
}

Test(dsn, too_many_secrets_is_unparsable)
{
	char in[1024], out[1024];
	size_t len = 0;
	int k;

	for (k = 0; k < 40; k++) {
		int w = snprintf(in + len, sizeof in - len, "password=secret%d ", k);

		cr_assert(w > 0 && (size_t)w < sizeof in - len);
		len += (size_t)w;
	}
	dsn_redact(in, out, sizeof out);
	cr_assert_str_eq(out, DSN_UNPARSABLE);
}

struct url_case {
	const char *in, *url, *sp, *dropped;
	bool migrations_table;
};

/* What libpq refuses but other tools' drivers read is taken out: Go drivers' search_path (kept
 * as the search path), golang-migrate's x-* and pgx's pool_* parameters (dropped, named). */
Test(dsn, url_params_of_other_tools_are_split_out_for_libpq)
{
	static const struct url_case url_cases[] = {
	    {"postgres://u:p@h:5432/db?sslmode=disable&search_path=mcp,public",
	     "postgres://u:p@h:5432/db?sslmode=disable", "mcp,public", NULL, false},
	    {"postgres://h/db?search_path=mcp%2Cpublic&sslmode=require",
	     "postgres://h/db?sslmode=require", "mcp,public", NULL, false},
	    {"postgresql://h/db?search_path=a", "postgresql://h/db", "a", NULL, false},
	    {"postgres://h/db?sslmode=disable", "postgres://h/db?sslmode=disable", NULL, NULL,
	     false},
	    {"host=h search_path=x", "host=h search_path=x", NULL, NULL, false},
	    {"postgres://h/db", "postgres://h/db", NULL, NULL, false},
	    {"postgres://u:pw@h/db?x-migrations-table=my_versions&sslmode=disable",
	     "postgres://u:pw@h/db?sslmode=disable", NULL, "x-migrations-table", true},
	    {"postgres://h/db?x-multi-statement=true&pool_max_conns=10&application_name=app&"
	     "pool_min_conns=2&x-statement-timeout=5000",
	     "postgres://h/db?application_name=app", NULL,
	     "x-multi-statement,pool_max_conns,pool_min_conns,x-statement-timeout", false},
	    /* names as libpq reads them: percent-decoded; odd bytes never reach the log raw */
	    {"postgres://h/db?%78-migrations-table=t", "postgres://h/db", NULL,
	     "x-migrations-table", true},
	    {"postgres://h/db?x-a%0Ab%22=1&search_path=s", "postgres://h/db", "s", "x-a?b?", false},
	    /* a '?' in the password is not a query: nothing of a password is read as a name */
	    {"postgres://u:pa?x-secret=1@h/db?pool_max_conns=3", "postgres://u:pa?x-secret=1@h/db",
	     NULL, "pool_max_conns", false},
	    /* what is not theirs is left for libpq to judge: an empty search_path, X- in capitals
	     */
	    {"postgres://h/db?search_path=&X-Foo=1&x-", "postgres://h/db?search_path=&X-Foo=1&x-",
	     NULL, NULL, false},
	    {"mysql://h/db?x-a=1", "mysql://h/db?x-a=1", NULL, NULL, false},
	    /* nor is a '?' inside an IPv6 host's brackets (found by fuzz_dsn); hosts in a list */
	    {"postgres://u:pw@[::1?x-a=1]:5432/db?x-b=2", "postgres://u:pw@[::1?x-a=1]:5432/db",
	     NULL, "x-b", false},
	    {"postgres://h1:1,[::1]:2,h3/db?pool_x=1&sslmode=disable",
	     "postgres://h1:1,[::1]:2,h3/db?sslmode=disable", NULL, "pool_x", false},
	    {"postgres://u@[::1?x-a=1", "postgres://u@[::1?x-a=1", NULL, NULL, false},
	    /* user info ends at the first '@': the rest is host and query (found by fuzz_dsn) */
	    {"postgres://u:pw@z?password=p@h1:2/db?", "postgres://u:pw@z?password=p@h1:2/db?", NULL,
	     NULL, false},
	};

	for (size_t i = 0; i < sizeof url_cases / sizeof url_cases[0]; i++) {
		const struct url_case *c = &url_cases[i];
		struct dsn_split sp;
		struct sg_err err;

		cr_assert_eq(dsn_split(c->in, &sp, &err), 0, "%s", c->in);
		cr_expect_str_eq(sp.url, c->url, "case %zu", i);
		if (c->sp == NULL)
			cr_expect_null(sp.search_path, "case %zu", i);
		else
			cr_expect_str_eq(sp.search_path, c->sp, "case %zu", i);
		if (c->dropped == NULL)
			cr_expect_null(sp.dropped, "case %zu: %s", i, sp.dropped);
		else
			cr_expect_str_eq(sp.dropped, c->dropped, "case %zu", i);
		cr_expect_eq(sp.migrations_table, c->migrations_table, "case %zu", i);
		dsn_split_free(&sp);
	}
}

Test(dsn, url_search_path_bad_escape_is_a_config_error)
{
	struct dsn_split sp;
	struct sg_err err;

	cr_assert_eq(dsn_split("postgres://h/db?search_path=a%2", &sp, &err), -1);
	cr_expect_eq(err.code, SG_E_CONFIG);
	cr_expect_null(sp.url);
	dsn_split_free(&sp);
}

/* The parameter libpq refuses is named, as libpq reads its name, and never its value. */
Test(dsn, names_the_query_parameter_libpq_refuses)
{
	static const struct {
		const char *url, *name;
	} refused[] = {
	    {"postgres://u:pw@h/db?sslmode=disable&foo=Zq7Secret", "foo"},
	    {"postgres://h/db?application_name=a&ssl=false", "ssl"},
	    {"postgres://h/db?%66oo=1", "foo"},
	    {"postgres://h/db?a=b=c", "a"},
	    {"postgres://h/db?f%0Ao=1", "f?o"},
	    {"postgres://h/db?ssl=true&sslmode=require&search_path=", "search_path"},
	};
	static const char *const fine[] = {
	    "postgres://h/db?ssl=true&sslmode=require", /* libpq's own JDBC spelling */
	    "postgres://h/db?Zq7Secret",                /* no '=': maybe a value, never named */
	    "postgres://h/db",
	    "host=h foo=bar",
	    "postgres://u:p?foo=1@h/db",
	};
	char name[72];

	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		cr_assert(dsn_refused_param(refused[i].url, name, sizeof name), "%s",
		          refused[i].url);
		cr_expect_str_eq(name, refused[i].name, "%s", refused[i].url);
	}
	for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++)
		cr_expect_not(dsn_refused_param(fine[i], name, sizeof name), "%s", fine[i]);
	cr_assert(dsn_refused_param("postgres://h/db?foobar=1", name, 4));
	cr_expect_str_eq(name, "foo");
}
