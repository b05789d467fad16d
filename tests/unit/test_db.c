/* test_db.c - the pure parts of db.c: search_path SQL, quoting, URL search_path. */
#include <criterion/criterion.h>

#include <stdlib.h>

#include "db.h"

Test(db, search_path_sql_quotes_every_schema)
{
	char *sql = NULL;
	struct sg_err err;

	cr_assert_eq(db_search_path_sql(" mcp , public,a\"b;c ", &sql, &err), 0);
	cr_expect_str_eq(sql, "SET search_path TO \"mcp\", \"public\", \"a\"\"b;c\"");
	free(sql);
	cr_assert_eq(db_search_path_sql(NULL, &sql, &err), 0);
	cr_expect_null(sql);
}

Test(db, first_schema_is_trimmed_and_unquoted)
{
	char *first = NULL;
	struct sg_err err;

	cr_assert_eq(db_first_schema("  mcp ,public", &first, &err), 0);
	cr_expect_str_eq(first, "mcp");
	free(first);
}

struct url_case {
	const char *in, *url, *sp;
};

/* Issue 14: a name written with its quotes was quoted a second time
 * ("\"My Schema\"" named a schema with quotes in its name). */
Test(db, quoted_search_path_entry_is_quoted_once)
{
	struct sg_err err;
	char *sql = NULL, *first = NULL;

	cr_assert_eq(db_search_path_sql("\"My Schema\", public", &sql, &err), 0);
	cr_expect_str_eq(sql, "SET search_path TO \"My Schema\", \"public\"");
	free(sql);
	cr_assert_eq(db_first_schema(" \"My Schema\" ,public", &first, &err), 0);
	cr_expect_str_eq(first, "My Schema");
	free(first);
}

Test(db, url_search_path_is_split_out_for_libpq)
{
	static const struct url_case cases[] = {
		{ "postgres://u:p@h:5432/db?sslmode=disable&search_path=mcp,public",
		  "postgres://u:p@h:5432/db?sslmode=disable", "mcp,public" },
		{ "postgres://h/db?search_path=mcp%2Cpublic&sslmode=require",
		  "postgres://h/db?sslmode=require", "mcp,public" },
		{ "postgresql://h/db?search_path=a", "postgresql://h/db", "a" },
		{ "postgres://h/db?sslmode=disable", "postgres://h/db?sslmode=disable", NULL },
		{ "host=h search_path=x", "host=h search_path=x", NULL },
		{ "postgres://h/db", "postgres://h/db", NULL },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *url = NULL, *sp = NULL;
		struct sg_err err;

		cr_assert_eq(db_split_url_search_path(cases[i].in, &url, &sp, &err), 0, "%s", cases[i].in);
		cr_expect_str_eq(url, cases[i].url, "case %zu", i);
		if (cases[i].sp == NULL)
			cr_expect_null(sp, "case %zu", i);
		else
			cr_expect_str_eq(sp, cases[i].sp, "case %zu", i);
		free(url);
		free(sp);
	}
}

Test(db, url_search_path_bad_escape_is_a_config_error)
{
	char *url = NULL, *sp = NULL;
	struct sg_err err;

	cr_assert_eq(db_split_url_search_path("postgres://h/db?search_path=a%2", &url, &sp, &err), -1);
	cr_expect_eq(err.code, SG_E_CONFIG);
	cr_expect_null(url);
}
