/* resume.h - what to do with a no-transaction statement cut off by a lost connection. */
#ifndef SCHEMAGATE_RESUME_H
#define SCHEMAGATE_RESUME_H

#include <stddef.h>

/* How a statement that may or may not have taken effect is taken up again. */
enum resume_kind {
	RESUME_REFUSE, /* running it again may not be safe, and its effect cannot be seen
	                * from outside: a person decides (finish it and force, or undo it) */
	RESUME_RERUN,  /* idempotent by construction: CREATE ... IF NOT EXISTS, CREATE OR
	                * REPLACE, DROP ... IF EXISTS, REINDEX (concurrently, the index it
	                * rebuilds stays valid until the swap; PostgreSQL may leave an INVALID
	                * <name>_ccnew behind, which the statement did not name: kept) */
	RESUME_INDEX,  /* CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] <index> ON <table>:
	                * an INVALID index of that name on that table is what a cut-off build
	                * leaves; it is dropped (concurrently) and the statement runs again. A
	                * valid one means the build finished; none: the statement runs */
};

struct resume_plan {
	enum resume_kind kind;
	/* RESUME_INDEX: the index's name as the server stores it (folded unless quoted) */
	char index[64];
	/* RESUME_INDEX: the table as to_regclass() reads it: "name" or "schema"."name", each part
	 * double-quoted, so that the server resolves it as the statement did (search path) */
	char table[2 * 64 * 2 + 8];
	/* why RESUME_REFUSE or RESUME_RERUN was chosen, for the log: a fixed phrase */
	const char *why;
};

/* Classifies the statement stmt[0..len) (as sqlsplit() cuts it: no trailing ';'). Pure: the
 * one owner of the rule of which cut-off statements run again. Anything it does not
 * recognise is RESUME_REFUSE: an unnamed CREATE INDEX CONCURRENTLY (its leftover's name is
 * the server's choice), ALTER, INSERT, UPDATE, DO blocks, ... */
struct resume_plan resume_classify(const char *stmt, size_t len);

#endif /* SCHEMAGATE_RESUME_H */
