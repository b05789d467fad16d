/* test_tool.c - the other tools: names, default tables, the lists of names written for people,
 * and recognising the database each of them built. */
#include "tool.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "foreign.h"

Test(tool, finds_each_tool_by_its_exact_name)
{
	for (size_t i = 0; i < TOOL_COUNT; i++)
		cr_expect_eq(tool_table[i].id, (enum tool_id)i, "row %zu is out of place", i);
	for (size_t i = 0; i < TOOL_IMPORTABLE; i++) {
		cr_expect_eq(tool_find(tool_table[i].name), &tool_table[i]);
		cr_expect_str_eq(foreign_default_table(tool_table[i].name), tool_table[i].table);
	}
	cr_expect_str_eq(tool_find("goose")->table, "goose_db_version");
	cr_expect_str_eq(tool_find("golang-migrate")->table, "schema_migrations");
	cr_expect_str_eq(tool_find("dbmate")->table, "schema_migrations");
	cr_expect_null(tool_find(NULL));
	cr_expect_null(tool_find("Goose"));
	cr_expect_null(tool_find("flyway"));
	cr_expect_null(tool_find("Flyway")); /* recognised, but baseline cannot read it */
	cr_expect_null(tool_find(""));
	cr_expect_null(foreign_default_table("migrate"));
}

/* The constants written for people list exactly the table, in its order. */
Test(tool, the_names_for_people_list_the_table)
{
	char prose[256] = "", alt[256] = "";

	for (size_t i = 0; i < TOOL_IMPORTABLE; i++) {
		const char *sep = i == 0 ? "" : i + 1 == TOOL_IMPORTABLE ? " or " : ", ";

		snprintf(prose + strlen(prose), sizeof prose - strlen(prose), "%s%s", sep,
		         tool_table[i].name);
		snprintf(alt + strlen(alt), sizeof alt - strlen(alt), "%s%s", i == 0 ? "" : "|",
		         tool_table[i].name);
	}
	cr_expect_str_eq(TOOL_NAMES, prose);
	cr_expect_str_eq(TOOL_NAMES_ALT, alt);
}

#define SEEN(...) ((const struct tool_seen[]){__VA_ARGS__})
#define NSEEN(...) (sizeof SEEN(__VA_ARGS__) / sizeof(struct tool_seen))
#define RECOGNISE(...) tool_recognise(SEEN(__VA_ARGS__), NSEEN(__VA_ARGS__))

/* Every tool is recognised by its own table alone (with its table beside, for Rails), and
 * the three tools sharing schema_migrations are told apart by columns and Rails' other table. */
Test(tool, recognises_each_tools_tables)
{
	for (size_t i = 0; i < TOOL_COUNT; i++) {
		const struct tool *t = &tool_table[i];
		struct tool_seen seen[2] = {{t->table, t->columns != NULL ? t->columns : "id"},
		                            {t->beside, ""}};

		cr_expect_eq(tool_recognise(seen, t->beside != NULL ? 2 : 1), t, "%s", t->name);
	}
	cr_expect_eq(RECOGNISE({"schema_migrations", "version,dirty"}),
	             &tool_table[TOOL_GOLANG_MIGRATE]);
	cr_expect_eq(RECOGNISE({"schema_migrations", "dirty,version"}),
	             &tool_table[TOOL_GOLANG_MIGRATE]);
	cr_expect_eq(RECOGNISE({"schema_migrations", "version"}), &tool_table[TOOL_DBMATE]);
	cr_expect_eq(RECOGNISE({"ar_internal_metadata", "key,value,created_at,updated_at"},
	                       {"schema_migrations", "version"}),
	             &tool_table[TOOL_RAILS]);
	cr_expect_eq(RECOGNISE({"goose_db_version", "id,version_id,is_applied,tstamp"}),
	             &tool_table[TOOL_GOOSE]);
	/* goose's table without goose's columns, or a prefix of a column, is nobody's */
	cr_expect_null(RECOGNISE({"goose_db_version", "id,version"}));
	cr_expect_null(RECOGNISE({"schema_migrations", "versions"}));
	cr_expect_null(RECOGNISE({"users", "id,name"}));
	cr_expect_null(tool_recognise(NULL, 0));
}
