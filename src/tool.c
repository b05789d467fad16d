/* tool.c - the table of other migration tools: which `baseline --from` imports, and how to
 * recognise a database each of them built. */
#include "tool.h"

#include <string.h>

const struct tool tool_table[TOOL_COUNT] = {
    [TOOL_GOLANG_MIGRATE] = {TOOL_GOLANG_MIGRATE, "golang-migrate", "schema_migrations",
                             "version,dirty", NULL},
    [TOOL_GOOSE] = {TOOL_GOOSE, "goose", "goose_db_version", "version_id,is_applied", NULL},
    [TOOL_DBMATE] = {TOOL_DBMATE, "dbmate", "schema_migrations", "version", NULL},
    [TOOL_FLYWAY] = {TOOL_FLYWAY, "Flyway", "flyway_schema_history", NULL, NULL},
    [TOOL_PRISMA] = {TOOL_PRISMA, "Prisma", "_prisma_migrations", NULL, NULL},
    [TOOL_SQLX] = {TOOL_SQLX, "sqlx", "_sqlx_migrations", NULL, NULL},
    [TOOL_RAILS] = {TOOL_RAILS, "Rails", "schema_migrations", "version", "ar_internal_metadata"},
    [TOOL_DJANGO] = {TOOL_DJANGO, "Django", "django_migrations", NULL, NULL},
    [TOOL_ALEMBIC] = {TOOL_ALEMBIC, "Alembic", "alembic_version", NULL, NULL},
    [TOOL_LIQUIBASE] = {TOOL_LIQUIBASE, "Liquibase", "databasechangelog", NULL, NULL},
};

const struct tool *tool_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < TOOL_IMPORTABLE; i++)
		if (strcmp(tool_table[i].name, name) == 0)
			return &tool_table[i];
	return NULL;
}

static const struct tool_seen *seen_find(const struct tool_seen *seen, size_t n, const char *t)
{
	for (size_t i = 0; i < n; i++)
		if (seen[i].table != NULL && strcmp(seen[i].table, t) == 0)
			return &seen[i];
	return NULL;
}

/* Whether the comma-separated list has the word w (of length wl). */
static bool list_has(const char *list, const char *w, size_t wl)
{
	for (const char *p = list; p != NULL && *p != '\0';) {
		size_t l = strcspn(p, ",");

		if (l == wl && strncmp(p, w, wl) == 0)
			return true;
		p += l + (p[l] == ',');
	}
	return false;
}

/* How much of what t names the tables show: 0 when something is missing, else 1 + each
 * column + the table beside. */
static int score(const struct tool *t, const struct tool_seen *seen, size_t n)
{
	const struct tool_seen *s = seen_find(seen, n, t->table);
	int k = 1;

	if (s == NULL)
		return 0;
	for (const char *p = t->columns; p != NULL && *p != '\0'; k++) {
		size_t l = strcspn(p, ",");

		if (!list_has(s->columns, p, l))
			return 0;
		p += l + (p[l] == ',');
	}
	if (t->beside != NULL) {
		if (seen_find(seen, n, t->beside) == NULL)
			return 0;
		k++;
	}
	return k;
}

const struct tool *tool_recognise(const struct tool_seen *seen, size_t n)
{
	const struct tool *best = NULL;
	int best_k = 0;

	for (size_t i = 0; i < TOOL_COUNT; i++) {
		int k = score(&tool_table[i], seen, n);

		if (k > best_k) {
			best = &tool_table[i];
			best_k = k;
		}
	}
	return best;
}
