/* test_pglock.c - PostgreSQL's lock-mode table, and the documented modes of statements that run
 * outside a transaction. */
#include <string.h>

#include <criterion/criterion.h>

#include "pglock.h"
#include "sgt_table.h"

/* The conflict table of PostgreSQL's documentation (explicit-locking.html, table 13.2), one
 * row per mode, written out here independently of pglock.c's bit sets. */
static const char *const doc_table[PGLOCK_NMODES] = {
    [PGLOCK_ACCESS_SHARE] = ".......X",  [PGLOCK_ROW_SHARE] = "......XX",
    [PGLOCK_ROW_EXCLUSIVE] = "....XXXX", [PGLOCK_SHARE_UPDATE_EXCLUSIVE] = "...XXXXX",
    [PGLOCK_SHARE] = "..XX.XXX",         [PGLOCK_SHARE_ROW_EXCLUSIVE] = "..XXXXXX",
    [PGLOCK_EXCLUSIVE] = ".XXXXXXX",     [PGLOCK_ACCESS_EXCLUSIVE] = "XXXXXXXX",
};

Test(pglock, conflicts_match_the_documentation)
{
	for (int a = PGLOCK_ACCESS_SHARE; a < PGLOCK_NMODES; a++)
		for (int b = PGLOCK_ACCESS_SHARE; b < PGLOCK_NMODES; b++) {
			bool want = doc_table[a][b - 1] == 'X';

			cr_expect_eq(pglock_conflicts(a, b), want, "%s vs %s", pglock_name(a),
			             pglock_name(b));
			cr_expect_eq(pglock_conflicts(a, b), pglock_conflicts(b, a), "symmetric");
		}
	cr_expect_not(pglock_conflicts(PGLOCK_NONE, PGLOCK_ACCESS_EXCLUSIVE));
}

Test(pglock, what_each_mode_blocks)
{
	cr_expect(pglock_blocks_reads(PGLOCK_ACCESS_EXCLUSIVE));
	cr_expect_not(pglock_blocks_reads(PGLOCK_EXCLUSIVE));
	cr_expect(pglock_blocks_writes(PGLOCK_SHARE));
	cr_expect(pglock_blocks_writes(PGLOCK_SHARE_ROW_EXCLUSIVE));
	cr_expect_not(pglock_blocks_writes(PGLOCK_SHARE_UPDATE_EXCLUSIVE));
	cr_expect(pglock_blocks_ddl(PGLOCK_SHARE_UPDATE_EXCLUSIVE));
	cr_expect_not(pglock_blocks_ddl(PGLOCK_ROW_EXCLUSIVE));
	cr_expect_not(pglock_blocks_writes(PGLOCK_NONE));
}

Test(pglock, names_round_trip)
{
	cr_expect_eq(pglock_parse("AccessExclusiveLock"), PGLOCK_ACCESS_EXCLUSIVE);
	cr_expect_eq(pglock_parse("ShareUpdateExclusiveLock"), PGLOCK_SHARE_UPDATE_EXCLUSIVE);
	cr_expect_eq(pglock_parse("SIReadLock"), PGLOCK_NONE);
	cr_expect_eq(pglock_parse(NULL), PGLOCK_NONE);
	cr_expect_str_eq(pglock_name(PGLOCK_SHARE_ROW_EXCLUSIVE), "SHARE ROW EXCLUSIVE");
	cr_expect_str_eq(pglock_name(PGLOCK_NONE), "none");
}

Test(pglock, stronger)
{
	cr_expect_eq(pglock_stronger(PGLOCK_ACCESS_SHARE, PGLOCK_SHARE_ROW_EXCLUSIVE),
	             PGLOCK_SHARE_ROW_EXCLUSIVE);
	cr_expect_eq(pglock_stronger(PGLOCK_ACCESS_EXCLUSIVE, PGLOCK_SHARE),
	             PGLOCK_ACCESS_EXCLUSIVE);
	cr_expect_eq(pglock_stronger(PGLOCK_NONE, PGLOCK_ROW_SHARE), PGLOCK_ROW_SHARE);
	/* SHARE and SHARE UPDATE EXCLUSIVE: neither contains the other's conflicts */
	cr_expect_eq(pglock_stronger(PGLOCK_SHARE_UPDATE_EXCLUSIVE, PGLOCK_SHARE), PGLOCK_SHARE);
}

struct doc_case {
	char sql[96]; /* copied into each test's process: no pointers */
	enum pglock_mode want;
};

static struct doc_case documented_cases[] = {
    {"CREATE INDEX CONCURRENTLY i ON t (v)", PGLOCK_SHARE_UPDATE_EXCLUSIVE},
    {"create unique index concurrently i on t (v)", PGLOCK_SHARE_UPDATE_EXCLUSIVE},
    {"CREATE INDEX i ON t (v)", PGLOCK_NONE},
    {"DROP INDEX CONCURRENTLY i", PGLOCK_SHARE_UPDATE_EXCLUSIVE},
    {"REINDEX (VERBOSE) TABLE CONCURRENTLY t", PGLOCK_SHARE_UPDATE_EXCLUSIVE},
    {"REINDEX TABLE t", PGLOCK_NONE},
    {"ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY", PGLOCK_SHARE_UPDATE_EXCLUSIVE},
    {"VACUUM t", PGLOCK_SHARE_UPDATE_EXCLUSIVE},
    {"VACUUM (FULL, ANALYZE) t", PGLOCK_ACCESS_EXCLUSIVE},
    {"/* why */ CREATE -- the index\n INDEX CONCURRENTLY i ON t (v)",
     PGLOCK_SHARE_UPDATE_EXCLUSIVE},
    {"CREATE INDEX \"CONCURRENTLY\" ON t (v)", PGLOCK_NONE},
    {"SELECT 'VACUUM'", PGLOCK_NONE},
    {"", PGLOCK_NONE},
};

static void check_documented(struct doc_case *c)
{
	cr_expect_eq(pglock_documented(c->sql, strlen(c->sql)), c->want, "%s", c->sql);
}

SGT_TABLE_TEST(pglock, documented, documented_cases, check_documented)
