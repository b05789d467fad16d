/* test_tool.c - the other tools `baseline --from` imports: names, default tables, and the lists
 * of names written for people. */
#include "tool.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "foreign.h"

Test(tool, finds_each_tool_by_its_exact_name)
{
	for (size_t i = 0; i < TOOL_COUNT; i++) {
		cr_expect_eq(tool_table[i].id, (enum tool_id)i, "row %zu is out of place", i);
		cr_expect_eq(tool_find(tool_table[i].name), &tool_table[i]);
		cr_expect_str_eq(foreign_default_table(tool_table[i].name), tool_table[i].table);
	}
	cr_expect_str_eq(tool_find("goose")->table, "goose_db_version");
	cr_expect_str_eq(tool_find("golang-migrate")->table, "schema_migrations");
	cr_expect_str_eq(tool_find("dbmate")->table, "schema_migrations");
	cr_expect_null(tool_find(NULL));
	cr_expect_null(tool_find("Goose"));
	cr_expect_null(tool_find("flyway"));
	cr_expect_null(tool_find(""));
	cr_expect_null(foreign_default_table("migrate"));
}

/* The constants written for people list exactly the table, in its order. */
Test(tool, the_names_for_people_list_the_table)
{
	char prose[256] = "", alt[256] = "";

	for (size_t i = 0; i < TOOL_COUNT; i++) {
		const char *sep = i == 0 ? "" : i + 1 == TOOL_COUNT ? " or " : ", ";

		snprintf(prose + strlen(prose), sizeof prose - strlen(prose), "%s%s", sep,
		         tool_table[i].name);
		snprintf(alt + strlen(alt), sizeof alt - strlen(alt), "%s%s", i == 0 ? "" : "|",
		         tool_table[i].name);
	}
	cr_expect_str_eq(TOOL_NAMES, prose);
	cr_expect_str_eq(TOOL_NAMES_ALT, alt);
}
