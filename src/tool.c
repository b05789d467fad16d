/* tool.c - the table of other migration tools that `baseline --from` imports from. */
#include "tool.h"

#include <stddef.h>
#include <string.h>

const struct tool tool_table[TOOL_COUNT] = {
    [TOOL_GOLANG_MIGRATE] = {TOOL_GOLANG_MIGRATE, "golang-migrate", "schema_migrations"},
    [TOOL_GOOSE] = {TOOL_GOOSE, "goose", "goose_db_version"},
    [TOOL_DBMATE] = {TOOL_DBMATE, "dbmate", "schema_migrations"},
};

const struct tool *tool_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < TOOL_COUNT; i++)
		if (strcmp(tool_table[i].name, name) == 0)
			return &tool_table[i];
	return NULL;
}
