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
