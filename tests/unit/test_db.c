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
