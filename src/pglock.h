/* pglock.h - PostgreSQL's table-lock modes: their names, what each conflicts with and blocks. */
#ifndef SCHEMAGATE_PGLOCK_H
#define SCHEMAGATE_PGLOCK_H

#include <stdbool.h>
#include <stddef.h>

/* The eight table-level lock modes, weakest first (the order of PostgreSQL's lock.h). */
enum pglock_mode {
	PGLOCK_NONE = 0,
	PGLOCK_ACCESS_SHARE,           /* SELECT */
	PGLOCK_ROW_SHARE,              /* SELECT ... FOR UPDATE/SHARE */
	PGLOCK_ROW_EXCLUSIVE,          /* INSERT, UPDATE, DELETE */
	PGLOCK_SHARE_UPDATE_EXCLUSIVE, /* VACUUM, ANALYZE, CREATE INDEX CONCURRENTLY, VALIDATE */
	PGLOCK_SHARE,                  /* CREATE INDEX */
	PGLOCK_SHARE_ROW_EXCLUSIVE,    /* ADD FOREIGN KEY, CREATE TRIGGER */
	PGLOCK_EXCLUSIVE,              /* REFRESH MATERIALIZED VIEW CONCURRENTLY */
	PGLOCK_ACCESS_EXCLUSIVE,       /* most ALTER TABLE forms, DROP, TRUNCATE */
};
#define PGLOCK_NMODES 9

/* The mode pg_locks.mode names ("AccessExclusiveLock"), or PGLOCK_NONE for anything else. */
enum pglock_mode pglock_parse(const char *pg_locks_mode);

/* "ACCESS EXCLUSIVE", "SHARE", ..., "none": the names of PostgreSQL's documentation. */
const char *pglock_name(enum pglock_mode m);

/* True when a and b conflict (PostgreSQL's conflict table; NONE conflicts with nothing). */
bool pglock_conflicts(enum pglock_mode a, enum pglock_mode b);

/* What a held mode makes other sessions wait for: plain reads (SELECT takes ACCESS SHARE),
 * writes (INSERT/UPDATE/DELETE take ROW EXCLUSIVE) and schema changes and vacuum (SHARE UPDATE
 * EXCLUSIVE, the weakest lock DDL takes). */
bool pglock_blocks_reads(enum pglock_mode m);
bool pglock_blocks_writes(enum pglock_mode m);
bool pglock_blocks_ddl(enum pglock_mode m);

/* Of two modes, the one that blocks more (the later in the enum when neither contains the
 * other's conflicts: they never meet on one relation in one statement in practice). */
enum pglock_mode pglock_stronger(enum pglock_mode a, enum pglock_mode b);

/* The table-level lock PostgreSQL documents for a statement that cannot run inside a
 * transaction block (so its locks cannot be read from pg_locks afterwards): CREATE [UNIQUE]
 * INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY, REINDEX ... CONCURRENTLY and ALTER TABLE ...
 * DETACH PARTITION ... CONCURRENTLY take SHARE UPDATE EXCLUSIVE, as does VACUUM; VACUUM FULL
 * takes ACCESS EXCLUSIVE. PGLOCK_NONE for any other statement. stmt[0..len) is one statement
 * as sqlsplit() cuts it (leading comments already skipped); matched on its keywords, case
 * insensitive. */
enum pglock_mode pglock_documented(const char *stmt, size_t len);

#endif /* SCHEMAGATE_PGLOCK_H */
