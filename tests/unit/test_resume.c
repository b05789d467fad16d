/* test_resume.c - unit tests for src/resume.c: which cut-off statements run again, and how. */
#include "resume.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "sgt_table.h"

/* One statement and the plan it must get. */
struct resume_case {
	const char *sql;
	enum resume_kind kind;
	const char *index; /* RESUME_INDEX only */
	const char *table; /* RESUME_INDEX only */
};

static const struct resume_case cases[] = {
    /* Index builds: the name and the table as to_regclass reads them. */
    {"CREATE INDEX CONCURRENTLY big_v ON big (v)", RESUME_INDEX, "big_v", "\"big\""},
    {"create unique index concurrently Big_V on Public.Big using btree (v)", RESUME_INDEX, "big_v",
     "\"public\".\"big\""},
    {"CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON ONLY s.t (v)", RESUME_INDEX, "i", "\"s\".\"t\""},
    {"CREATE INDEX CONCURRENTLY \"My \"\"Idx\" ON \"Odd\"\"Table\" (v)", RESUME_INDEX, "My \"Idx",
     "\"Odd\"\"Table\""},
    {"-- the events index\nCREATE /* hot */ INDEX\n  CONCURRENTLY ev_kind ON mcp.events(kind)",
     RESUME_INDEX, "ev_kind", "\"mcp\".\"events\""},
    /* No name, or not understood: its leftover cannot be told apart. */
    {"CREATE INDEX CONCURRENTLY ON big (v)", RESUME_REFUSE, NULL, NULL},
    {"CREATE INDEX CONCURRENTLY i big (v)", RESUME_REFUSE, NULL, NULL},
    {"CREATE INDEX CONCURRENTLY i ON (v)", RESUME_REFUSE, NULL, NULL},
    /* Idempotent by construction. */
    {"CREATE TABLE IF NOT EXISTS t (id int)", RESUME_RERUN, NULL, NULL},
    {"CREATE UNIQUE INDEX IF NOT EXISTS i ON t (v)", RESUME_RERUN, NULL, NULL},
    {"CREATE SCHEMA IF NOT EXISTS s", RESUME_RERUN, NULL, NULL},
    {"CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$", RESUME_RERUN,
     NULL, NULL},
    {"DROP INDEX CONCURRENTLY IF EXISTS i", RESUME_RERUN, NULL, NULL},
    {"drop table if exists a, b", RESUME_RERUN, NULL, NULL},
    {"REINDEX INDEX CONCURRENTLY i", RESUME_RERUN, NULL, NULL},
    /* Anything else may have taken effect. */
    {"CREATE TABLE t (id int)", RESUME_REFUSE, NULL, NULL},
    {"CREATE INDEX i ON t (v)", RESUME_REFUSE, NULL, NULL},
    {"DROP TABLE t", RESUME_REFUSE, NULL, NULL},
    {"ALTER TABLE IF EXISTS t ADD COLUMN c int", RESUME_REFUSE, NULL, NULL},
    {"ALTER TABLE t ADD COLUMN IF NOT EXISTS c int", RESUME_REFUSE, NULL, NULL},
    {"INSERT INTO t VALUES (1)", RESUME_REFUSE, NULL, NULL},
    {"UPDATE t SET v = 1 WHERE NOT EXISTS (SELECT 1)", RESUME_REFUSE, NULL, NULL},
    {"DO $$ BEGIN CREATE TABLE IF NOT EXISTS t (); END $$", RESUME_REFUSE, NULL, NULL},
    {"VACUUM t", RESUME_REFUSE, NULL, NULL},
    /* Quoted words are names, never keywords. */
    {"CREATE TABLE \"if\" \"not\" \"exists\" (id int)", RESUME_REFUSE, NULL, NULL},
    {"\"create\" INDEX CONCURRENTLY i ON t (v)", RESUME_REFUSE, NULL, NULL},
    {"", RESUME_REFUSE, NULL, NULL},
};

static void check_classify(const struct resume_case *c)
{
	struct resume_plan p = resume_classify(c->sql, strlen(c->sql));

	cr_assert_eq(p.kind, c->kind, "\"%s\": kind %d, want %d (%s)", c->sql, p.kind, c->kind,
	             p.why != NULL ? p.why : "");
	cr_assert_not_null(p.why, "\"%s\": no reason", c->sql);
	if (c->kind == RESUME_INDEX) {
		cr_assert_str_eq(p.index, c->index, "\"%s\"", c->sql);
		cr_assert_str_eq(p.table, c->table, "\"%s\"", c->sql);
	}
}

SGT_TABLE_TEST(resume, classify, cases, check_classify)

/* The server cuts names to 63 bytes on a character boundary; the plan names what it stores. */
Test(resume, long_names_are_cut_as_the_server_cuts_them)
{
	char sql[512], want[64];
	struct resume_plan p;

	memset(want, 'x', 63);
	want[63] = '\0';
	snprintf(sql, sizeof sql, "CREATE INDEX CONCURRENTLY %s%s ON t (v)", want, "yyyyyyyyyy");
	p = resume_classify(sql, strlen(sql));
	cr_assert_eq(p.kind, RESUME_INDEX);
	cr_assert_str_eq(p.index, want);
	/* 62 ASCII bytes then a 2-byte character: it does not fit whole, so it goes. */
	memset(want, 'x', 62);
	want[62] = '\0';
	snprintf(sql, sizeof sql, "CREATE INDEX CONCURRENTLY %s\xc3\xa9z ON t (v)", want);
	p = resume_classify(sql, strlen(sql));
	cr_assert_eq(p.kind, RESUME_INDEX);
	cr_assert_str_eq(p.index, want);
}
