/* tool.h - the other migration tools: their names and history tables, how to recognise a
 * database one of them built, and which of them `baseline --from` imports. One table that the
 * settings check (config.c), the history reader (foreign.c) and the history probe (history.c,
 * which notices another tool's database before the first migration) all read. */
#ifndef SCHEMAGATE_TOOL_H
#define SCHEMAGATE_TOOL_H

#include <stdbool.h>
#include <stddef.h>

/* Index of a tool in tool_table. The first TOOL_IMPORTABLE rows are the tools whose history
 * `baseline --from` reads; the others are only recognised. */
enum tool_id {
	TOOL_GOLANG_MIGRATE, /* one row: (version, dirty); everything up to version is applied */
	TOOL_GOOSE,          /* a row per up and per down: (version_id, is_applied) */
	TOOL_DBMATE,         /* a row per applied version: (version) */
	TOOL_FLYWAY,
	TOOL_PRISMA,
	TOOL_SQLX,
	TOOL_RAILS, /* schema_migrations (version) beside ar_internal_metadata */
	TOOL_DJANGO,
	TOOL_ALEMBIC,
	TOOL_LIQUIBASE,
};

struct tool {
	enum tool_id id;
	const char *name;    /* as --from takes it and messages name it */
	const char *table;   /* its history table unless --from-table names another */
	const char *columns; /* columns its table has that tell it apart (comma-separated), or
	                      * NULL when the table's name is enough */
	const char *beside;  /* another table of the tool in the same schema, or NULL */
};

#define TOOL_COUNT 10
#define TOOL_IMPORTABLE 3 /* tool_table[0..TOOL_IMPORTABLE): baseline --from reads them */
extern const struct tool tool_table[TOOL_COUNT];

/* The tool called name (exactly; NULL-safe) among those baseline --from reads, or NULL. Pure. */
const struct tool *tool_find(const char *name);

/* A table found in the schema: its name and its columns, comma-separated. */
struct tool_seen {
	const char *table;
	const char *columns;
};

/* Which tool built the schema whose tables seen[0..n) are (only the tables named in
 * tool_table need be given): the tool whose table is there with every column it names and
 * whose `beside` table is there too; when several fit (golang-migrate, dbmate and Rails all
 * use schema_migrations), the one that names most. NULL when none. Pure. */
const struct tool *tool_recognise(const struct tool_seen *seen, size_t n);

/* The names for people, in table order, as --help, the usage line and messages spell them.
 * They are constants so that they can sit in the option table's help text; a unit test checks
 * them against tool_table. */
#define TOOL_NAMES "golang-migrate, goose or dbmate"
#define TOOL_NAMES_ALT "golang-migrate|goose|dbmate"

#endif /* SCHEMAGATE_TOOL_H */
