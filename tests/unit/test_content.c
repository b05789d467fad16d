/* test_content.c - the content rules, whole and cut into pieces anywhere. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "content.h"

struct content_case {
	enum content_file file;
	const char *bytes;
	size_t len;
	const char *want; /* the message's start after "f.sql", NULL when the file passes */
};

/* An up file's case, and a down file's. */
#define CASE(s, want)                                                                              \
	{                                                                                          \
		CONTENT_UP, s, sizeof s - 1, want                                                  \
	}
#define DOWN(s, want)                                                                              \
	{                                                                                          \
		CONTENT_DOWN, s, sizeof s - 1, want                                                \
	}

static const struct content_case cases[] = {
    CASE("", NULL),
    CASE("SELECT 1;\n", NULL),
    CASE("SELECT 'é';\n-- ✓ 😀\n", NULL),
    CASE("a\nb\n\0c", ": NUL byte at line 3"),
    CASE("\xff\n\0", ": NUL byte at line 2"), /* NUL first, wherever it is */
    CASE("ok\n\n\x80", ": invalid UTF-8 at line 3 (byte offset 4)"),
    CASE("ok\n\xe2\x82", ": invalid UTF-8 at line 2 (byte offset 3)"),
    CASE("\xe2\x82\nx", ": invalid UTF-8 at line 1 (byte offset 0)"),
    CASE("xy\xed\xa0\x80", ": invalid UTF-8 at line 1 (byte offset 2)"),
    CASE("\xf0\x80\x80\xaf", ": invalid UTF-8 at line 1 (byte offset 0)"),
    CASE("\xf4\x90\x80\x80", ": invalid UTF-8 at line 1 (byte offset 0)"),
    CASE("\xc3\xa9\xc3", ": invalid UTF-8 at line 1 (byte offset 2)"),
    CASE("-- +goose Down\n\xff", ": invalid UTF-8 at line 2 (byte offset 15)"),
    CASE("-- +goose Up\nCREATE TABLE t (id int);\n\n-- +goose Down\nDROP TABLE t;\n",
         ":4: goose's down section starts here"),
    CASE("x;\n  --+goose down\n", ":2: goose's down section starts here"),
    CASE("x;\n\t-- \t+goose\t \tDOWN\r\n", ":2: goose's down section starts here"),
    CASE("x;\n-- +goose down", ":2: goose's down section starts here"),
    CASE("-- +goose down -- here\n", ":1: goose's down section starts here"),
    CASE("-- +goose down\xc3\xa9\n", ":1: goose's down section starts here"),
    CASE("-- migrate:up\nCREATE TABLE t (id int);\n-- migrate:down\n",
         ":3: dbmate's down section starts here"),
    CASE("x;\n--migrate:downward\n", ":2: dbmate's down section starts here"),
    CASE("-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n-- +goose StatementEnd\n", NULL),
    CASE("SELECT '-- migrate:down';\n-- +goose Downtime is not a section\n", NULL),
    CASE("-- +goose down2\n-- +goosedown\n--- +goose down\n- -migrate:down\n", NULL),
    CASE("-- +goose\n down\n-- migrate:dow\nn\n", NULL),
    CASE("x -- +goose down\n/* -- migrate:down */\n", NULL),
    /* A down file may start with its section's heading, after comments and blank lines. */
    CASE("-- +goose Down\nDROP TABLE t;\n", ":1: goose's down section starts here"),
    DOWN("-- +goose Down\nDROP TABLE t;\n", NULL),
    DOWN("-- migrate:down\nDROP TABLE t;\n", NULL),
    DOWN("\n \t\r\n-- 000002 t: down\n  --\n-- +goose Down\n-- +goose StatementBegin\n"
         "DROP TABLE t;\n-- +goose StatementEnd\n",
         NULL),
    DOWN("\r\n-- migrate:down\r\nDROP TABLE t;\r\n", NULL),
    DOWN("-- +goose Up\nCREATE TABLE t (id int);\n-- +goose Down\nDROP TABLE t;\n",
         ":3: goose's down section starts here, after other lines (from line 2)"),
    DOWN("-- +goose Down\nDROP TABLE t;\n-- +goose Down\n",
         ":3: goose's down section starts here, after other lines (from line 2)"),
    DOWN("-- migrate:up\n/* x */\n-- migrate:down\n",
         ":3: dbmate's down section starts here, after other lines (from line 2)"),
    DOWN("-\n-- +goose Down\n",
         ":2: goose's down section starts here, after other lines (from line 1)"),
    DOWN("x;-- +goose Down\n-- +goose down",
         ":2: goose's down section starts here, after other lines (from line 1)"),
    DOWN("-- +goose Up\nx;\n-- +goose Down\n\0", ": NUL byte at line 4"),
};

static void verdict(const struct content_case *c, const size_t *cuts, size_t ncuts, char *out,
                    size_t n)
{
	struct content_scan s;
	struct sg_err err = {.code = SG_E_OK};
	size_t at = 0;

	content_scan_init(&s, c->file);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : c->len;

		content_scan_feed(&s, c->bytes + at, to - at);
		at = to;
	}
	if (content_scan_end(&s, "f.sql", &err) == 0)
		snprintf(out, n, "ok");
	else
		snprintf(out, n, "%d %s", (int)err.code, err.msg);
}

Test(content, whole_files)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct content_case *c = &cases[i];
		struct sg_err err = {.code = SG_E_OK};
		int rc = content_check("f.sql", c->file, c->bytes, c->len, &err);

		if (c->want == NULL) {
			cr_expect_eq(rc, 0, "case %zu: %s", i, err.msg);
			continue;
		}
		cr_expect_eq(rc, -1, "case %zu passed", i);
		cr_expect_eq(err.code, SG_E_PARSE, "case %zu", i);
		cr_expect_eq(strncmp(err.msg, "f.sql", 5), 0, "case %zu: %s", i, err.msg);
		cr_expect_eq(strncmp(err.msg + 5, c->want, strlen(c->want)), 0,
		             "case %zu: got %s, want f.sql%s...", i, err.msg, c->want);
	}
}

/* Pieces end anywhere: inside a UTF-8 sequence, the annotation, a CR LF. The verdict must be
 * the one of the whole file, for every cut in two and three pieces and for single bytes. */
Test(content, pieces_give_the_whole_file_s_verdict)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct content_case *c = &cases[i];
		char whole[1200], cut[1200];
		size_t cuts[64];

		verdict(c, NULL, 0, whole, sizeof whole);
		for (size_t a = 0; a <= c->len; a++) {
			for (size_t b = a; b <= c->len; b++) {
				cuts[0] = a;
				cuts[1] = b;
				verdict(c, cuts, 2, cut, sizeof cut);
				cr_assert_str_eq(cut, whole, "case %zu cut at %zu and %zu", i, a,
				                 b);
			}
		}
		if (c->len <= sizeof cuts / sizeof cuts[0]) {
			for (size_t k = 0; k < c->len; k++)
				cuts[k] = k;
			verdict(c, cuts, c->len, cut, sizeof cut);
			cr_assert_str_eq(cut, whole, "case %zu byte by byte", i);
		}
	}
}

/* The 8-byte stride must stop at every byte that matters, whatever its place in the word. */
Test(content, every_position_in_a_long_line_is_seen)
{
	char buf[64], want[128];
	struct sg_err err;

	for (size_t at = 0; at < 40; at++) {
		memset(buf, 'x', sizeof buf);
		buf[at] = '\0';
		cr_assert_eq(content_check("f.sql", CONTENT_UP, buf, sizeof buf, &err), -1);
		cr_assert_str_eq(err.msg, "f.sql: NUL byte at line 1");
		buf[at] = '\x80';
		cr_assert_eq(content_check("f.sql", CONTENT_UP, buf, sizeof buf, &err), -1);
		snprintf(want, sizeof want, "f.sql: invalid UTF-8 at line 1 (byte offset %zu)", at);
		cr_assert_str_eq(err.msg, want);
		buf[at] = '\n';
		memcpy(buf + at + 1, "-- +goose down", 14);
		cr_assert_eq(content_check("f.sql", CONTENT_UP, buf, at + 15, &err), -1);
		cr_assert_str_eq(strstr(err.msg, ":2: goose") != NULL ? "yes" : err.msg, "yes");
	}
}
