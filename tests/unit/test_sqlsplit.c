/* test_sqlsplit.c - unit tests for src/sqlsplit.c: statement boundaries, errors, positions. */
#include "sqlsplit.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "sgt_table.h"

#define MAX_STMTS 6

/* One splitting case: the SQL and the statements (text and line) it must yield. */
struct split_case {
	const char *name;
	const char *sql;
	size_t n;                    /* statements expected */
	const char *want[MAX_STMTS]; /* their text */
	unsigned line[MAX_STMTS];    /* their 1-based lines */
};

/* One failing case: the SQL, its length (0: strlen) and a piece of the message. */
struct error_case {
	const char *name;
	const char *sql;
	size_t len;
	const char *msg;
};

static const struct split_case split_cases[] = {
    {"semicolon in string", "SELECT 'a;b'; SELECT 2", 2, {"SELECT 'a;b'", "SELECT 2"}, {1, 1}},
    {"doubled quote",
     "SELECT 'it''s; fine';SELECT 2;",
     2,
     {"SELECT 'it''s; fine'", "SELECT 2"},
     {1, 1}},
    {"only doubled quotes",
     "SELECT '''';SELECT ''';'''",
     2,
     {"SELECT ''''", "SELECT ''';'''"},
     {1, 1}},
    {"E escaped quote",
     "SELECT E'it\\'s;'; SELECT 2",
     2,
     {"SELECT E'it\\'s;'", "SELECT 2"},
     {1, 1}},
    {"e lower case", "SELECT e'\\';'; SELECT 2", 2, {"SELECT e'\\';'", "SELECT 2"}, {1, 1}},
    {"E doubled quote", "SELECT E'a'';b'; SELECT 2", 2, {"SELECT E'a'';b'", "SELECT 2"}, {1, 1}},
    {"E escaped backslash then semicolon",
     "SELECT E'\\\\'; SELECT 2",
     2,
     {"SELECT E'\\\\'", "SELECT 2"},
     {1, 1}},
    {"plain string ends in backslash",
     "SELECT 'a\\'; SELECT 2",
     2,
     {"SELECT 'a\\'", "SELECT 2"},
     {1, 1}},
    {"E after identifier is not a prefix",
     "SELECT colE'a\\'; SELECT 2",
     2,
     {"SELECT colE'a\\'", "SELECT 2"},
     {1, 1}},
    {"E after digit is a prefix",
     "SELECT 1E'a\\';'; SELECT 2",
     2,
     {"SELECT 1E'a\\';'", "SELECT 2"},
     {1, 1}},
    {"E string continued on next line",
     "SELECT E'a'\n'\\';'; SELECT 2",
     2,
     {"SELECT E'a'\n'\\';'", "SELECT 2"},
     {1, 2}},
    {"E string continued across comment",
     "SELECT E'a' -- c\n  '\\';'; SELECT 2",
     2,
     {"SELECT E'a' -- c\n  '\\';'", "SELECT 2"},
     {1, 2}},
    {"no continuation on same line",
     "SELECT E'a' '\\'; SELECT 2",
     2,
     {"SELECT E'a' '\\'", "SELECT 2"},
     {1, 1}},
    {"plain string continuation keeps plain rules",
     "SELECT 'a'\n'b\\'; SELECT 2",
     2,
     {"SELECT 'a'\n'b\\'", "SELECT 2"},
     {1, 2}},
    {"U& string",
     "SELECT U&'d\\0061t;a\\'; SELECT 2",
     2,
     {"SELECT U&'d\\0061t;a\\'", "SELECT 2"},
     {1, 1}},
    {"bit and hex strings",
     "SELECT B'10;1', X'1F;'; SELECT 2",
     2,
     {"SELECT B'10;1', X'1F;'", "SELECT 2"},
     {1, 1}},
    {"quoted identifier",
     "SELECT 1 AS \"a;b\"; SELECT 2",
     2,
     {"SELECT 1 AS \"a;b\"", "SELECT 2"},
     {1, 1}},
    {"quoted identifier with doubled quote",
     "SELECT 1 AS \"a\"\";'b\"; SELECT 2",
     2,
     {"SELECT 1 AS \"a\"\";'b\"", "SELECT 2"},
     {1, 1}},
    {"quote inside identifier",
     "SELECT \"it's\"; SELECT 2",
     2,
     {"SELECT \"it's\"", "SELECT 2"},
     {1, 1}},
    {"empty dollar quote", "SELECT $$;$$; SELECT 2", 2, {"SELECT $$;$$", "SELECT 2"}, {1, 1}},
    {"tagged dollar quote hides $$",
     "CREATE FUNCTION f() RETURNS text AS $fn$ SELECT $$;$$; $fn$ LANGUAGE sql; SELECT 2",
     2,
     {"CREATE FUNCTION f() RETURNS text AS $fn$ SELECT $$;$$; $fn$ LANGUAGE sql", "SELECT 2"},
     {1, 1}},
    {"other tag does not close",
     "SELECT $a$ $b$; $ab$; $a $a$; SELECT 2",
     2,
     {"SELECT $a$ $b$; $ab$; $a $a$", "SELECT 2"},
     {1, 1}},
    {"tag closes right after identifier chars",
     "SELECT $q$x;y$q$;SELECT 2",
     2,
     {"SELECT $q$x;y$q$", "SELECT 2"},
     {1, 1}},
    {"case-sensitive tag",
     "SELECT $A$ $a$; $A$; SELECT 2",
     2,
     {"SELECT $A$ $a$; $A$", "SELECT 2"},
     {1, 1}},
    {"parameters",
     "PREPARE p AS SELECT $1;EXECUTE p(1); SELECT $2$",
     3,
     {"PREPARE p AS SELECT $1", "EXECUTE p(1)", "SELECT $2$"},
     {1, 1, 1}},
    {"dollar in identifiers",
     "SELECT a$b, c$$d, e$x$ FROM t; SELECT 2",
     2,
     {"SELECT a$b, c$$d, e$x$ FROM t", "SELECT 2"},
     {1, 1}},
    {"line comment",
     "SELECT 1; -- it's; a \"comment $$\nSELECT 2;",
     2,
     {"SELECT 1", "SELECT 2"},
     {1, 2}},
    {"line comment ends at CR",
     "SELECT 1 -- c\r; SELECT 2",
     2,
     {"SELECT 1 -- c", "SELECT 2"},
     {1, 1}},
    {"minus is not a comment", "SELECT 1 - -1; SELECT 2", 2, {"SELECT 1 - -1", "SELECT 2"}, {1, 1}},
    {"nested block comment",
     "/* a /* b */ ; ' \" $$ */ SELECT 1; SELECT /**/ 2",
     2,
     {"SELECT 1", "SELECT /**/ 2"},
     {1, 1}},
    {"block comment after operator",
     "SELECT 2 */* ; */ 3; SELECT 4",
     2,
     {"SELECT 2 */* ; */ 3", "SELECT 4"},
     {1, 1}},
    {"comment-only file", "-- only a comment\n/* and ; another */\n  \n-- ;\n", 0, {NULL}, {0}},
    {"empty text", "", 0, {NULL}, {0}},
    {"blank text", " \n\t\r\n", 0, {NULL}, {0}},
    {"final statement without semicolon",
     "SELECT 1;\nSELECT 2\n\n",
     2,
     {"SELECT 1", "SELECT 2"},
     {1, 2}},
    {"empty statements", ";;; SELECT 1;;\n ; /* x */ ;", 1, {"SELECT 1"}, {1}},
    {"trailing blanks trimmed", "  SELECT 1  \n\t; ", 1, {"SELECT 1"}, {1}},
    {"comment before semicolon kept", "SELECT 1 /* why */\n;", 1, {"SELECT 1 /* why */"}, {1}},
    {"create index concurrently",
     "-- schemagate:no-transaction\n"
     "CREATE INDEX CONCURRENTLY i1 ON t (a);\n"
     "\n"
     "CREATE INDEX CONCURRENTLY i2 ON t (b) WHERE c <> 'x;y';\n"
     "DROP INDEX CONCURRENTLY IF EXISTS i0;\n",
     3,
     {"CREATE INDEX CONCURRENTLY i1 ON t (a)",
      "CREATE INDEX CONCURRENTLY i2 ON t (b) WHERE c <> 'x;y'",
      "DROP INDEX CONCURRENTLY IF EXISTS i0"},
     {2, 4, 5}},
    {"plpgsql body",
     "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\n"
     "BEGIN\n"
     "  NEW.x := 1; -- ;\n"
     "  RETURN NEW;\n"
     "END;\n"
     "$$;\n"
     "CREATE TRIGGER t BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();\n",
     2,
     {"CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\n"
      "BEGIN\n"
      "  NEW.x := 1; -- ;\n"
      "  RETURN NEW;\n"
      "END;\n"
      "$$",
      "CREATE TRIGGER t BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()"},
     {1, 7}},
    {"begin atomic with case",
     "CREATE FUNCTION g(a int) RETURNS int LANGUAGE sql\n"
     "BEGIN ATOMIC\n"
     "  INSERT INTO t VALUES (a);\n"
     "  SELECT CASE WHEN a > 0 THEN 1 ELSE CASE a WHEN 0 THEN 0 END END;\n"
     "  SELECT 'end;';\n"
     "END;\n"
     "SELECT 3;\n",
     2,
     {"CREATE FUNCTION g(a int) RETURNS int LANGUAGE sql\n"
      "BEGIN ATOMIC\n"
      "  INSERT INTO t VALUES (a);\n"
      "  SELECT CASE WHEN a > 0 THEN 1 ELSE CASE a WHEN 0 THEN 0 END END;\n"
      "  SELECT 'end;';\n"
      "END",
      "SELECT 3"},
     {1, 7}},
    {"begin atomic lower case with comment between",
     "create or replace procedure p() begin /* x */ -- y\n atomic select 1; select 2; end; "
     "select 3",
     2,
     {"create or replace procedure p() begin /* x */ -- y\n atomic select 1; select 2; end",
      "select 3"},
     {1, 2}},
    {"transaction begin is not atomic",
     "BEGIN; SELECT 1; COMMIT;",
     3,
     {"BEGIN", "SELECT 1", "COMMIT"},
     {1, 1, 1}},
    {"begin as column name",
     "SELECT t.begin, \"atomic\" FROM t; SELECT 2",
     2,
     {"SELECT t.begin, \"atomic\" FROM t", "SELECT 2"},
     {1, 1}},
    {"quoted begin atomic does not count",
     "SELECT \"begin\" atomic; SELECT 2",
     2,
     {"SELECT \"begin\" atomic", "SELECT 2"},
     {1, 1}},
    {"stray end at top level",
     "END; SELECT CASE WHEN true THEN 1 END; SELECT 2",
     3,
     {"END", "SELECT CASE WHEN true THEN 1 END", "SELECT 2"},
     {1, 1, 1}},
    {"words containing keywords",
     "SELECT beginatomic, atomic_x; SELECT 2",
     2,
     {"SELECT beginatomic, atomic_x", "SELECT 2"},
     {1, 1}},
    {"line numbers",
     "\n\n  SELECT\n1;\n\n/* x\n */ SELECT 2; SELECT 3\n",
     3,
     {"SELECT\n1", "SELECT 2", "SELECT 3"},
     {3, 7, 7}},
    {"multi-byte text",
     "SELECT 'é;ü' AS \"ä;\"; SELECT 2",
     2,
     {"SELECT 'é;ü' AS \"ä;\"", "SELECT 2"},
     {1, 1}},
    /* psql's lines as pg_dump writes them (issue 23): COPY data and \restrict stay out */
    {"COPY data up to \\.",
     "\\restrict abc123\nCOPY t (a, b) FROM stdin;\n1\t;x\\\\\n\\N\t'\n\\.\nSELECT 2;\n"
     "\\unrestrict abc123\n",
     2,
     {"COPY t (a, b) FROM stdin", "SELECT 2"},
     {2, 6}},
    {"COPY to stdout has no data",
     "COPY t TO stdout; SELECT 1",
     2,
     {"COPY t TO stdout", "SELECT 1"},
     {1, 1}},
    {"COPY from a file has no data",
     "COPY t FROM 'stdin';\nSELECT 1",
     2,
     {"COPY t FROM 'stdin'", "SELECT 1"},
     {1, 2}},
    {"backslash in strings and comments is no meta-command",
     "SELECT '\\x', E'\\\\', $$\\q$$, \"a\\b\" -- \\q\n/* \\q */;",
     1,
     {"SELECT '\\x', E'\\\\', $$\\q$$, \"a\\b\" -- \\q\n/* \\q */"},
     {1}},
};

static const struct error_case error_cases[] = {
    {"quoted string", "SELECT 'abc", 0, "unterminated quoted string opened at line 1"},
    {"quoted string on line 2", "SELECT 1;\nSELECT 'it''s", 0,
     "unterminated quoted string opened at line 2"},
    {"plain string backslash does not hide quote", "SELECT 'a\\';\nSELECT '", 0,
     "unterminated quoted string opened at line 2"},
    {"E string", "SELECT\nE'abc\\'", 0, "unterminated escape string E'...' opened at line 2"},
    {"E string ending in backslash", "SELECT E'\\", 0,
     "unterminated escape string E'...' opened at line 1"},
    {"E string continuation", "SELECT E'a'\n\n'b", 0,
     "unterminated escape string E'...' opened at line 3"},
    {"quoted identifier", "SELECT 1;\nSELECT \"abc\"\"", 0,
     "unterminated quoted identifier opened at line 2"},
    {"tagged dollar quote", "\n\nSELECT $fn$ body $$ $fn $Fn$ $fnx$", 0,
     "unterminated dollar-quoted string $fn$ opened at line 3"},
    {"empty dollar quote", "SELECT $$ abc $", 0,
     "unterminated dollar-quoted string $$ opened at line 1"},
    {"block comment", "/* a /* b */ SELECT 1;", 0, "unterminated block comment opened at line 1"},
    {"block comment on line 3", "SELECT 1;\n\n  /* x *", 0,
     "unterminated block comment opened at line 3"},
    {"quote after line comment", "-- '\nSELECT '", 0,
     "unterminated quoted string opened at line 2"},
    {"NUL byte", "SELECT 1;\n\0SELECT 2", 19, "NUL byte in SQL text at line 2"},
    {"psql meta-command", "SELECT 1;\n\\set x 1\nSELECT :x;", 0,
     "line 2: psql meta-command \\set: schemagate sends SQL to the server, not to psql"},
    {"psql meta-command inside a statement", "SELECT 1\n\\gset\n", 0,
     "line 2: psql meta-command \\gset"},
    {"restrict inside a statement", "SELECT\n\\restrict k\n1;", 0,
     "line 2: psql meta-command \\restrict"},
    {"COPY data without end", "COPY t FROM stdin;\n1\n2\n\\.x\n", 0,
     "line 1: the data of COPY ... FROM stdin has no end"},
    {"text after COPY on its line", "\nCOPY t FROM STDIN; 1\n\\.\n", 0,
     "line 2: text after COPY ... FROM stdin; on its line"},
    {"psql's \\copy", "\\copy t from 'x.csv'\n", 0, "line 1: psql meta-command \\copy"},
};

/* Per-test resources, released by the suite's .fini even when an assertion aborts the test,
 * so that a failure is not followed by a LeakSanitizer report. */
static char *fx_text;
static struct sql_stmts fx_out;

static void release(void)
{
	free(fx_text);
	fx_text = NULL;
	sqlsplit_free(&fx_out);
}

TestSuite(sqlsplit, .fini = release);

/* Copies sql into a buffer of exactly len bytes with no terminator, so that AddressSanitizer
 * reports any read past the end. The buffer lives until the next call or the test's end. */
static char *exact_copy(const char *sql, size_t len)
{
	free(fx_text);
	fx_text = malloc(len ? len : 1);
	cr_assert_not_null(fx_text);
	memcpy(fx_text, sql, len);
	return fx_text;
}

static void check_splits(const struct split_case *tc)
{
	size_t len = strlen(tc->sql);
	const char *text = exact_copy(tc->sql, len);
	struct sg_err err = {.code = SG_E_OK};
	size_t k;

	cr_assert_eq(sqlsplit(text, len, &fx_out, &err), 0, "%s: failed: %s", tc->name, err.msg);
	cr_assert_eq(fx_out.n, tc->n, "%s: got %zu statements, want %zu", tc->name, fx_out.n,
	             tc->n);
	for (k = 0; k < fx_out.n; k++) {
		const struct sql_stmt *s = &fx_out.v[k];
		size_t wl = strlen(tc->want[k]);

		cr_assert_leq(s->offset + s->len, len, "%s: statement %zu out of bounds", tc->name,
		              k);
		cr_assert(s->len == wl && memcmp(text + s->offset, tc->want[k], wl) == 0,
		          "%s: statement %zu is [%.*s], want [%s]", tc->name, k, (int)s->len,
		          text + s->offset, tc->want[k]);
		cr_assert_eq(s->line, tc->line[k], "%s: statement %zu on line %u, want %u",
		             tc->name, k, s->line, tc->line[k]);
	}
	sqlsplit_free(&fx_out);
	cr_assert_null(fx_out.v);
	cr_assert_eq(fx_out.n, 0);
}

SGT_TABLE_TEST(sqlsplit, splits, split_cases, check_splits)

static void check_rejects(const struct error_case *tc)
{
	size_t len = tc->len ? tc->len : strlen(tc->sql);
	const char *text = exact_copy(tc->sql, len);
	struct sg_err err = {.code = SG_E_OK};

	cr_assert_eq(sqlsplit(text, len, &fx_out, &err), -1, "%s: accepted", tc->name);
	cr_assert_eq(err.code, SG_E_PARSE, "%s: code %d", tc->name, (int)err.code);
	cr_assert(strstr(err.msg, tc->msg) != NULL, "%s: message [%s], want [%s]", tc->name,
	          err.msg, tc->msg);
	cr_assert_null(fx_out.v, "%s: output not left empty", tc->name);
	cr_assert_eq(fx_out.n, 0);
}

SGT_TABLE_TEST(sqlsplit, rejects, error_cases, check_rejects)

/* Where COPY's data lies, and which statements follow psql's lines (issue 23). */
Test(sqlsplit, copy_data_and_meta_commands_are_marked)
{
	static const char sql[] =
	    "-- dump\n\\restrict k\n\nSET x = 1;\nCOPY public.t (a) FROM stdin;\n"
	    "1\n\\N\r\n\\.\r\nSELECT 1; SELECT 2;\n"
	    "COPY u FROM stdin;\n\\.\n\\unrestrict k\nSELECT 3";
	size_t len = strlen(sql);
	const char *text = exact_copy(sql, len);
	struct sg_err err;
	const struct sql_stmt *v;

	cr_assert_eq(sqlsplit(text, len, &fx_out, &err), 0, "%s", err.msg);
	cr_assert_eq(fx_out.n, 6);
	v = fx_out.v;
	cr_expect(v[0].cut_before && !v[0].copy && v[0].line == 4);
	cr_expect(!v[1].cut_before && v[1].copy && v[1].line == 5 && v[1].data_line == 6);
	cr_expect_eq(v[1].data_len, strlen("1\n\\N\r\n"));
	cr_expect(memcmp(text + v[1].data_offset, "1\n\\N\r\n", v[1].data_len) == 0);
	cr_expect(v[2].cut_before && v[2].line == 9 && !v[3].cut_before && !v[3].copy);
	cr_expect(v[4].copy && v[4].data_len == 0 && v[4].data_line == 11);
	cr_expect(v[5].cut_before && v[5].line == 13 && !v[5].copy);
}

Test(sqlsplit, error_with_null_err_is_still_reported)
{

	cr_assert_eq(sqlsplit("SELECT '", 8, &fx_out, NULL), -1);
	cr_assert_null(fx_out.v);
}

Test(sqlsplit, honours_len_not_terminator)
{
	const char *sql = "SELECT 1; SELECT 'x';' never seen";
	struct sg_err err = {.code = SG_E_OK};

	/* Only "SELECT 1; SELECT 'x'" is inside len; the unterminated tail must not count. */
	cr_assert_eq(sqlsplit(sql, 20, &fx_out, &err), 0, "%s", err.msg);
	cr_assert_eq(fx_out.n, 2);
	cr_assert_eq(fx_out.v[1].offset, 10);
	cr_assert_eq(fx_out.v[1].len, 10);
	sqlsplit_free(&fx_out);
}

Test(sqlsplit, null_text_with_zero_len)
{
	struct sg_err err = {.code = SG_E_OK};

	cr_assert_eq(sqlsplit(NULL, 0, &fx_out, &err), 0);
	cr_assert_eq(fx_out.n, 0);
	sqlsplit_free(&fx_out);
	sqlsplit_free(NULL);
}

Test(sqlsplit, many_statements_grow_the_array)
{
	char text[2000];
	struct sg_err err = {.code = SG_E_OK};
	size_t k;

	for (k = 0; k < 200; k++)
		memcpy(text + k * 10, "SELECT 1;\n", 10);
	cr_assert_eq(sqlsplit(text, sizeof text, &fx_out, &err), 0, "%s", err.msg);
	cr_assert_eq(fx_out.n, 200);
	for (k = 0; k < fx_out.n; k++) {
		cr_assert_eq(fx_out.v[k].offset, k * 10);
		cr_assert_eq(fx_out.v[k].len, 8);
		cr_assert_eq(fx_out.v[k].line, k + 1);
	}
	sqlsplit_free(&fx_out);
}

/* Random text over the bytes the lexer cares about. Every result must be in bounds and in
 * order, and every failure a parse error; AddressSanitizer watches the reads. */
Test(sqlsplit, random_text_stays_in_bounds)
{
	static const char alphabet[] = "'\"$-/*;\n\\Eeab1_ BEGINATOMICASEND\xc3\xa9&";
	uint32_t seed = 12345;
	int iter;

	for (iter = 0; iter < 20000; iter++) {
		char buf[40];
		size_t len, k;
		const char *text;
		struct sg_err err = {.code = SG_E_OK};

		seed = seed * 1103515245u + 12345u;
		len = (seed >> 16) % sizeof buf;
		for (k = 0; k < len; k++) {
			seed = seed * 1103515245u + 12345u;
			buf[k] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
		}
		text = exact_copy(buf, len);
		if (sqlsplit(text, len, &fx_out, &err) == 0) {
			size_t prev_end = 0;

			for (k = 0; k < fx_out.n; k++) {
				cr_assert_geq(fx_out.v[k].offset, prev_end);
				cr_assert_gt(fx_out.v[k].len, 0);
				cr_assert_leq(fx_out.v[k].offset + fx_out.v[k].len, len);
				prev_end = fx_out.v[k].offset + fx_out.v[k].len;
			}
		} else {
			cr_assert_eq(err.code, SG_E_PARSE, "%s", err.msg);
			cr_assert_null(fx_out.v);
		}
		sqlsplit_free(&fx_out);
		for (k = 0; k <= len + 1; k++) {
			unsigned line = 0, col = 0;

			if (sqlsplit_position(text, len, (long)k, 0, 0, &line, &col) == 0)
				cr_assert(line >= 1 && col >= 1);
		}
	}
}

/* One position case: text, server position, bases and the expected line/column. */
struct position_case {
	const char *name;
	const char *text;
	long pos;
	unsigned base_line, base_col;
	int rc;
	unsigned line, col;
};

static const struct position_case position_cases[] = {
    /* "SELECT 'é' FROM " is 16 characters but 17 bytes. */
    {"after two-byte char", "SELECT 'é' FROM nosuch", 17, 0, 0, 0, 1, 17},
    {"first char", "SELECT 1", 1, 0, 0, 0, 1, 1},
    {"end of input", "SELECT", 7, 0, 0, 0, 1, 7},
    {"multi-line", "SELECT 1,\n  'é',\n  bad", 20, 0, 0, 0, 3, 3},
    {"on a newline", "ab\ncd", 3, 0, 0, 0, 1, 3},
    {"after a newline", "ab\ncd", 4, 0, 0, 0, 2, 1},
    {"three and four byte chars", "€😀x\n€😀y", 7, 0, 0, 0, 2, 3},
    {"base on first line", "SELECT 'é' FROM nosuch", 17, 4, 6, 0, 5, 23},
    {"base on later line", "SELECT 1,\n  'é',\n  bad", 20, 4, 6, 0, 7, 3},
    {"zero", "SELECT 1", 0, 0, 0, -1, 0, 0},
    {"negative", "SELECT 1", -5, 0, 0, -1, 0, 0},
    {"past end", "SELECT 1", 10, 0, 0, -1, 0, 0},
    {"past end in characters", "éé", 4, 0, 0, -1, 0, 0},
    {"empty text", "", 1, 0, 0, 0, 1, 1},
};

static void check_position(const struct position_case *tc)
{
	size_t len = strlen(tc->text);
	const char *text = exact_copy(tc->text, len);
	unsigned line = 0, col = 0;
	int rc = sqlsplit_position(text, len, tc->pos, tc->base_line, tc->base_col, &line, &col);

	cr_assert_eq(rc, tc->rc, "%s: rc %d, want %d", tc->name, rc, tc->rc);
	if (rc == 0) {
		cr_assert_eq(line, tc->line, "%s: line %u, want %u", tc->name, line, tc->line);
		cr_assert_eq(col, tc->col, "%s: col %u, want %u", tc->name, col, tc->col);
	}
}

SGT_TABLE_TEST(sqlsplit, position, position_cases, check_position)

Test(sqlsplit, column_of_counts_characters)
{
	const char *text = "ab\nxé;SELECT 1";

	cr_assert_eq(sqlsplit_column_of(text, 0), 1);
	cr_assert_eq(sqlsplit_column_of(text, 2), 3);
	cr_assert_eq(sqlsplit_column_of(text, 3), 1);
	cr_assert_eq(sqlsplit_column_of(text, 7), 4); /* 'S': after x, é (2 bytes), ; */
}

/* The way the migration runner uses the module: split a file, send one statement, map the
 * server's position back to the file. */
Test(sqlsplit, maps_statement_position_to_file)
{
	const char *file = "-- schemagate:no-transaction\n"
	                   "SELECT 1; /* é */ CREATE INDEX CONCURRENTLY ON t ('é'\n"
	                   "  , nosuch);\n";
	struct sg_err err = {.code = SG_E_OK};
	const struct sql_stmt *s;
	unsigned line = 0, col = 0;
	size_t base_col;

	cr_assert_eq(sqlsplit(file, strlen(file), &fx_out, &err), 0, "%s", err.msg);
	cr_assert_eq(fx_out.n, 2);
	s = &fx_out.v[1];
	cr_assert_eq(s->line, 2);
	base_col = sqlsplit_column_of(file, s->offset) - 1;
	cr_assert_eq(base_col, 18); /* the 18 characters before CREATE are 19 bytes (é) */

	/* The server reports the literal "'é'" at character 33 of the statement. */
	cr_assert_eq(sqlsplit_position(file + s->offset, s->len, 33, s->line - 1,
	                               (unsigned)base_col, &line, &col),
	             0);
	cr_assert_eq(line, 2);
	cr_assert_eq(col, 51);
	/* "nosuch", character 41, is on the statement's second line: no base_col there. */
	cr_assert_eq(sqlsplit_position(file + s->offset, s->len, 41, s->line - 1,
	                               (unsigned)base_col, &line, &col),
	             0);
	cr_assert_eq(line, 3);
	cr_assert_eq(col, 5);
	sqlsplit_free(&fx_out);
}

/* ---- sqlsplit_body: the outer BEGIN/COMMIT wrapper and refused transaction control ---- */

struct body_case {
	const char *text;
	bool no_transaction;
	int rc;             /* 0 or -1 */
	bool wrapped;       /* when rc == 0 */
	const char *body;   /* expected body text when rc == 0 */
	unsigned line, col; /* expected base line/col when rc == 0 */
	const char *msg;    /* substring of the error when rc == -1 */
};

static const struct body_case body_cases[] = {
    {"CREATE TABLE t (id int);\n", false, 0, false, "CREATE TABLE t (id int);\n", 0, 0, NULL},
    {"BEGIN;\nCREATE TABLE t (id int);\nCOMMIT;\n", false, 0, true, "\nCREATE TABLE t (id int);\n",
     0, 6, NULL},
    {"-- wrapped\nbegin transaction;CREATE TABLE t ();\nend;\n-- tail\n", false, 0, true,
     "CREATE TABLE t ();\n", 1, 18, NULL},
    {"START TRANSACTION;\nSELECT 1;\nCOMMIT WORK;", false, 0, true, "\nSELECT 1;\n", 0, 18, NULL},
    {"BEGIN;\nSELECT 1;\nCOMMIT AND NO CHAIN;", false, 0, true, "\nSELECT 1;\n", 0, 6, NULL},
    /* PL/pgSQL and SQL-standard bodies: their BEGIN/END/COMMIT words are not top-level */
    {"CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN 1;\nEND\n$$;\n"
     "CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\n",
     false, 0, false, NULL, 0, 0, NULL},
    {"BEGIN;\nSELECT 1;\nCOMMIT;\nBEGIN;\nSELECT 2;\nCOMMIT;\n", false, -1, false, NULL, 0, 0,
     "line 3: COMMIT ends or splits"},
    {"BEGIN;\nDROP TABLE t;\nROLLBACK;\n", false, -1, false, NULL, 0, 0, "line 3: ROLLBACK"},
    {"SELECT 1;\nCOMMIT;\n", false, -1, false, NULL, 0, 0, "line 2: COMMIT"},
    {"BEGIN;\nSELECT 1;\nCOMMIT AND CHAIN;\nSELECT 2;\nCOMMIT;\n", false, -1, false, NULL, 0, 0,
     "line 3: COMMIT AND CHAIN"},
    {"BEGIN;\nSAVEPOINT a;\nSELECT 1;\nRELEASE a;\nCOMMIT;\n", false, -1, false, NULL, 0, 0,
     "line 2: SAVEPOINT"},
    {"SELECT 1;\n  abort;\n", false, -1, false, NULL, 0, 0, "line 2: ABORT"},
    {"SELECT 1;\nEND;\n", false, -1, false, NULL, 0, 0, "line 2: END"},
    {"START TRANSACTION ISOLATION LEVEL SERIALIZABLE;\nSELECT 1;\nCOMMIT;\n", false, -1, false,
     NULL, 0, 0, "line 1: START TRANSACTION with transaction modes"},
    {"BEGIN;\nSELECT 1;\n", false, -1, false, NULL, 0, 0, "line 1: BEGIN without a final COMMIT"},
    {"SELECT 1;\nPREPARE TRANSACTION 'x';\n", false, -1, false, NULL, 0, 0, "PREPARE TRANSACTION"},
    {"-- schemagate:no-transaction\nBEGIN;\nSELECT 1;\nCOMMIT;\n", true, -1, false, NULL, 0, 0,
     "line 2: BEGIN in a no-transaction file"},
    {"-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (id);\n", true, 0, false, NULL,
     0, 0, NULL},
    {"SELECT 'unterminated;\n", false, -1, false, NULL, 0, 0, "unterminated quoted string"},
};

static void check_body(const struct body_case *c)
{
	struct sql_body b;
	struct sg_err err = {.code = SG_E_OK};
	int rc = sqlsplit_body(c->text, strlen(c->text), c->no_transaction, &b, &err);

	cr_assert_eq(rc, c->rc, "case %td: rc %d (%s)", (c - body_cases), rc, err.msg);
	if (rc != 0) {
		cr_assert_eq(err.code, SG_E_PARSE);
		cr_assert(strstr(err.msg, c->msg) != NULL, "case %td: %s", (c - body_cases),
		          err.msg);
		return;
	}
	cr_assert_eq(b.wrapped, c->wrapped, "case %td", (c - body_cases));
	if (c->body != NULL) {
		cr_assert_eq(b.len, strlen(c->body), "case %td: body \"%.*s\"", (c - body_cases),
		             (int)b.len, c->text + b.offset);
		cr_assert(memcmp(c->text + b.offset, c->body, b.len) == 0, "case %td",
		          (c - body_cases));
		cr_assert_eq(b.line, c->line, "case %td", (c - body_cases));
		cr_assert_eq(b.col, c->col, "case %td", (c - body_cases));
	}
}

SGT_TABLE_TEST(sqlsplit, body, body_cases, check_body)

/* Tokens as the server's lexer reads them: folded words, quoted names, single punctuation. */
Test(sqlsplit, tokens)
{
	static const char sql[] = "  Create/* x */INDEX -- y\n \"A\"\"b\".c(";
	static const char *const want[] = {"create", "index", "A\"b", ".", "c", "("};
	static const bool quoted[] = {false, false, true, false, false, false};
	struct sql_token t;
	size_t pos = 0;

	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		cr_assert(sqlsplit_token(sql, strlen(sql), &pos, &t), "token %zu missing", i);
		cr_assert_str_eq(t.text, want[i]);
		cr_assert_eq(t.quoted, quoted[i]);
		cr_assert_eq(t.word, strcmp(want[i], ".") != 0 && strcmp(want[i], "(") != 0);
	}
	cr_assert_not(sqlsplit_token(sql, strlen(sql), &pos, &t));
	pos = 0;
	cr_assert_not(sqlsplit_token("\"open", 5, &pos, &t), "unterminated quoted name");
	pos = 0;
	cr_assert_not(sqlsplit_token("/* open", 7, &pos, &t), "unterminated comment");
}
