/* tool.h - the other migration tools whose history `baseline --from` imports: their names and
 * default history tables, one table that the settings check (config.c) and the history reader
 * (foreign.c) both read. */
#ifndef SCHEMAGATE_TOOL_H
#define SCHEMAGATE_TOOL_H

/* Index of a tool in tool_table. */
enum tool_id {
	TOOL_GOLANG_MIGRATE, /* one row: (version, dirty); everything up to version is applied */
	TOOL_GOOSE,          /* a row per up and per down: (version_id, is_applied) */
	TOOL_DBMATE,         /* a row per applied version: (version) */
};

struct tool {
	enum tool_id id;
	const char *name;  /* as --from takes it and messages name it */
	const char *table; /* its history table unless --from-table names another */
};

#define TOOL_COUNT 3
extern const struct tool tool_table[TOOL_COUNT];

/* The tool called name (exactly; NULL-safe), or NULL. Pure. */
const struct tool *tool_find(const char *name);

/* The names for people, in table order, as --help, the usage line and messages spell them.
 * They are constants so that they can sit in the option table's help text; a unit test checks
 * them against tool_table. */
#define TOOL_NAMES "golang-migrate, goose or dbmate"
#define TOOL_NAMES_ALT "golang-migrate|goose|dbmate"

#endif /* SCHEMAGATE_TOOL_H */
