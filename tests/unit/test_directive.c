/* test_directive.c - a migration file's directives: what each line means, the messages, and that
 * where a file is cut into pieces changes nothing. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directive.h"
#include "num.h"

/* Parses text whole; returns the rc, *d and the message. */
static int parse(const char *text, struct directives *d, struct sg_err *err)
{
	return directive_parse("f.up.sql", text, strlen(text), d, err);
}

struct good_case {
	const char *text;
	bool no_transaction;
	long lock_timeout_ms;
};

static const struct good_case good[] = {
    {"", false, -1},
    {"SELECT 1;\n", false, -1},
    {"-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);\n", true, -1},
    {"-- schemagate:no-transaction \t\r\nSELECT 1;", true, -1},
    {"-- schemagate:no-transaction", true, -1}, /* the whole file, no newline */
    {"--  schemagate:no-transaction\n", false, -1},
    {" -- schemagate:no-transaction\n", false, -1},
    {"-- schemagate:no-transactions\n", false, -1},
    /* anywhere in the leading comment lines, blank lines included (issue 23) */
    {"-- first\n-- schemagate:no-transaction\n", true, -1},
    {"--\n-- PostgreSQL database dump\n--\n\n  -- x\n-- schemagate:no-transaction\nSELECT 1;\n",
     true, -1},
    {"\n-- schemagate:no-transaction\n", true, -1},
    /* goose's annotation means the same, as goose reads it */
    {"-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY i ON t (x);\n", true, -1},
    {"-- +goose Up\n--+goose NO TRANSACTION \r\nSELECT 1;\n", true, -1},
    {"-- +goose no transaction\n", false, -1},
    {"-- +goose NO TRANSACTIONS\n", false, -1},
    {"-- schemagate:lock-timeout=5s\nALTER TABLE t ADD c int;\n", false, 5000},
    {"-- schemagate:lock-timeout=0\n", false, 0},
    {"-- schemagate:lock-timeout=1m30s  \r\n", false, 90000},
    {"-- schemagate:no-transaction\n-- x\n-- schemagate:lock-timeout=250ms", true, 250},
    {"-- schemagate:lock-timeout=1s\n-- schemagate:lock-timeout=2s\n", false, 2000}, /* last */
    {"-- schemagate:lock-timeout=24h\n", false, 86400000},
    /* 31 characters: the longest value */
    {"-- schemagate:lock-timeout=000000000000000000000000000001s\n", false, 1000},
    /* a directive-looking text that is not a line of its own stays a comment */
    {"SELECT 1; -- schemagate:no-transaction\n", false, -1},
    {"SELECT 1;\n-- schemagate\n--schemagate:no-transaction\n", false, -1},
    {"-- schemagate:lock-timeout\n", false, -1},  /* no '=': a plain comment */
    {"-- schemagate:lock-timeout=\n", false, -1}, /* nothing after '=': a plain comment */
};

Test(directive, each_line_means_what_it_says)
{
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct directives d;
		struct sg_err err;

		cr_assert_eq(parse(good[i].text, &d, &err), 0, "%s: %s", good[i].text, err.msg);
		cr_expect_eq(d.no_transaction, good[i].no_transaction, "%s", good[i].text);
		cr_expect_eq(d.lock_timeout_ms, good[i].lock_timeout_ms, "%s", good[i].text);
	}
}

struct bad_case {
	const char *text;
	const char *msg; /* the whole message */
};

static const struct bad_case bads[] = {
    {"-- schemagate:lock-timeout=banana\n", "f.up.sql:1: schemagate:lock-timeout: "},
    {"-- schemagate:no-transaction\n-- schemagate:lock-timeout=25h\n",
     "f.up.sql:2: schemagate:lock-timeout: "},
    {"-- schemagate:lock-timeout= \n", "f.up.sql:1: schemagate:lock-timeout: "},
    {"-- schemagate:lock-timeout=-1s\n", "f.up.sql:1: schemagate:lock-timeout: "},
    {"-- schemagate:lock-timeout=5 s\n", "f.up.sql:1: schemagate:lock-timeout: "},
    /* 32 characters */
    {"-- schemagate:lock-timeout=0000000000000000000000000000001s\n",
     "f.up.sql:1: schemagate:lock-timeout: value too long"},
    /* far past the kept part of a line */
    {"-- a\n-- schemagate:lock-timeout=1s                                                    "
     "                                                x\n",
     "f.up.sql:2: schemagate:lock-timeout: value too long"},
    /* past the leading comment lines a directive would mean nothing: refused (issue 23) */
    {"SELECT 1;\n-- schemagate:lock-timeout=banana\n",
     "f.up.sql:2: schemagate:lock-timeout: a directive counts only in the file's leading "
     "comment lines, before its first statement: move this line there"},
    {"-- x\nCREATE TABLE t (id int);\n\n  -- schemagate:no-transaction\n",
     "f.up.sql:4: schemagate:no-transaction: a directive counts only"},
    {"-\n-- schemagate:allow=scan\n", "f.up.sql:2: schemagate:allow: a directive counts only"},
    {"SELECT 1;\n-- +goose NO TRANSACTION\n",
     "f.up.sql:2: goose's +goose NO TRANSACTION: a directive counts only"},
    {"-- x\n\n-- schemagate:lock-timeout=banana\n", "f.up.sql:3: schemagate:lock-timeout: "},
    /* the first bad line stops the scan */
    {"-- schemagate:lock-timeout=nope\n-- schemagate:lock-timeout=1s\n",
     "f.up.sql:1: schemagate:lock-timeout: "},
    {"-- schemagate:lock-timeout=1s\n-- schemagate:lock-timeout=nope", /* no newline */
     "f.up.sql:2: schemagate:lock-timeout: "},
};

Test(directive, a_bad_value_names_file_and_line)
{
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		struct directives d = {true, 7, 0};
		struct sg_err err;

		cr_assert_eq(parse(bads[i].text, &d, &err), -1, "%s", bads[i].text);
		cr_expect_eq(err.code, SG_E_PARSE);
		cr_expect(strncmp(err.msg, bads[i].msg, strlen(bads[i].msg)) == 0, "%s -> %s",
		          bads[i].text, err.msg);
		cr_expect(d.no_transaction && d.lock_timeout_ms == 7, "*out untouched on failure");
	}
}

/* ---- the allow directive ---- */

struct allow_case {
	const char *text;
	unsigned want;   /* when msg is NULL */
	const char *msg; /* NULL: must parse; else the start of the message */
};

#define AR DIRECTIVE_ALLOW_REWRITE
#define AS DIRECTIVE_ALLOW_SCAN
#define AB DIRECTIVE_ALLOW_BREAKING

static const struct allow_case allows[] = {
    {"SELECT 1;\n", 0, NULL},
    {"-- schemagate:allow=rewrite\nSELECT 1;\n", AR, NULL},
    {"-- schemagate:allow=scan,breaking\n", AS | AB, NULL},
    {"-- schemagate:allow=rewrite, scan ,\tbreaking \r\n", AR | AS | AB, NULL},
    {"-- schemagate:no-transaction\n-- why\n-- schemagate:allow=scan", AS, NULL},
    {"-- schemagate:allow=rewrite\n-- schemagate:allow=scan\n", AR | AS, NULL}, /* add up */
    {"-- schemagate:allow=rewrite\n-- schemagate:lock-timeout=2s\n", AR, NULL},
    /* the leading comment lines, blank ones included, and nowhere else (issue 23) */
    {"SELECT 1;\n-- schemagate:allow=rewrite\n", 0,
     "f.up.sql:2: schemagate:allow: a directive counts only in the file's leading comment"},
    {"-- a\n\n-- schemagate:allow=rewrite\n", AR, NULL},
    {"--schemagate:allow=rewrite\n", 0, NULL},
    {"-- schemagate:allow\n", 0, NULL},  /* no '=': a plain comment */
    {"-- schemagate:allow=\n", 0, NULL}, /* nothing after '=': a plain comment */
    {"-- schemagate:allow= \n", 0, "f.up.sql:1: schemagate:allow: \"\" is not rewrite, scan or"},
    {"-- x\n-- schemagate:allow=rewrite,banana\n", 0, "f.up.sql:2: schemagate:allow: \"banana\""},
    {"-- schemagate:allow=rewrite,\n", 0, "f.up.sql:1: schemagate:allow: \"\""},
    {"-- schemagate:allow=Rewrite\n", 0, "f.up.sql:1: schemagate:allow: \"Rewrite\""},
    {"-- schemagate:allow=all\n", 0, "f.up.sql:1: schemagate:allow: \"all\""},
    {"-- schemagate:allow=rewrite scan\n", 0, "f.up.sql:1: schemagate:allow: \"rewrite scan\""},
    {"-- schemagate:allow=rewrite,scan,breaking,rewrite,scan,breaking,scanx\n", 0,
     "f.up.sql:1: schemagate:allow: value too long"},
};

Test(directive, allow_lists_the_exceptions)
{
	for (size_t i = 0; i < sizeof allows / sizeof allows[0]; i++) {
		const struct allow_case *c = &allows[i];
		struct directives d = {false, -1, 99};
		struct sg_err err;
		int rc = parse(c->text, &d, &err);

		if (c->msg == NULL) {
			cr_expect_eq(rc, 0, "%s: %s", c->text, err.msg);
			cr_expect_eq(d.allow, c->want, "%s: got %u", c->text, d.allow);
			continue;
		}
		cr_expect_eq(rc, -1, "%s parsed as %u", c->text, d.allow);
		cr_expect(rc != -1 || strncmp(err.msg, c->msg, strlen(c->msg)) == 0, "%s -> %s",
		          c->text, err.msg);
	}
}

Test(directive, lock_timeout_falls_back_to_the_setting)
{
	struct directives none = {false, -1, 0}, zero = {false, 0, 0}, some = {true, 1500, 0};

	cr_expect_eq(directive_lock_timeout(&none, 5000), 5000);
	cr_expect_eq(directive_lock_timeout(&zero, 5000), 0);
	cr_expect_eq(directive_lock_timeout(&some, 5000), 1500);
}

/* ---- the rules written plainly, line by line on the whole text, as the reference the
 * piecewise parser must agree with on any text: the leading comment lines (blank ones
 * included, issue 23) hold the directives; past them a line starting "-- schemagate:" is
 * refused ---- */

/* 0 with *ms (-1: none) and *notx, or the 1-based line of the bad value or misplaced
 * directive. */
static unsigned ref_scan(const char *sql, size_t len, long *ms, bool *notx)
{
	static const char marker[] = "-- schemagate:no-transaction";
	static const char dir[] = "-- schemagate:lock-timeout=";
	const size_t dl = strlen(dir);
	const char *p = sql, *end = sql + len;
	bool leading = true;

	*ms = -1;
	*notx = false;
	for (unsigned line = 1; p < end; line++) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol != NULL ? (size_t)(eol - p) : (size_t)(end - p), m = n, b = 0;
		char val[32];
		struct sg_err why;

		while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '\t' || p[m - 1] == '\r'))
			m--;
		while (b < m && (p[b] == ' ' || p[b] == '\t' || p[b] == '\r'))
			b++;
		if (m > 0 && (m - b < 2 || strncmp(p + b, "--", 2) != 0))
			leading = false;
		if (!leading) {
			if (m - b >= 14 && strncmp(p + b, "-- schemagate:", 14) == 0)
				return line;
		} else if (m == strlen(marker) && memcmp(p, marker, m) == 0) {
			*notx = true;
		} else if (n > dl && strncmp(p, dir, dl) == 0) {
			size_t vn = m - dl;

			if (vn >= sizeof val)
				return line;
			memcpy(val, p + dl, vn);
			val[vn] = '\0';
			if (num_parse_duration_ms(val, 0, 24L * 3600 * 1000, ms, &why) != 0)
				return line;
		}
		p = eol != NULL ? eol + 1 : end;
	}
	return 0;
}

static unsigned next_rand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 16) & 0x7fff;
}

/* A random text of lines built from the pieces that matter. */
static size_t random_text(unsigned *seed, char *buf, size_t cap)
{
	static const char *const heads[] = {"-- schemagate:no-transaction",
	                                    "-- schemagate:lock-timeout=",
	                                    "--",
	                                    "-",
	                                    "-- note",
	                                    "SELECT 1;",
	                                    "",
	                                    " -- schemagate:no-transaction",
	                                    "--schemagate:lock-timeout=",
	                                    "-- schemagate:lock-timeout"};
	static const char *const tails[] = {
	    "",
	    "5s",
	    "0",
	    "banana",
	    "25h",
	    "1m30s",
	    " ",
	    "\t",
	    "\r",
	    " \r",
	    "250ms ",
	    "1 s",
	    "000000000000000000000000000001s",
	    "0000000000000000000000000000001s",
	    "                                                                              x",
	    "24h",
	    "-1s"};
	size_t n = 0;
	unsigned lines = 1 + next_rand(seed) % 6;

	for (unsigned l = 0; l < lines; l++) {
		const char *h = heads[next_rand(seed) % (sizeof heads / sizeof heads[0])];
		const char *t = tails[next_rand(seed) % (sizeof tails / sizeof tails[0])];
		int k = snprintf(buf + n, cap - n, "%s%s%s", h, t,
		                 l + 1 < lines || next_rand(seed) % 2 ? "\n" : "");

		cr_assert(k >= 0 && (size_t)k < cap - n);
		n += (size_t)k;
	}
	return n;
}

/* 0 with *d, or the line named in the message. */
static unsigned scan_pieces(const char *text, size_t len, size_t piece, struct directives *d)
{
	struct directive_scan s;
	struct sg_err err;
	unsigned line = 0;

	directive_scan_init(&s);
	for (size_t off = 0; off < len; off += piece)
		directive_scan_feed(&s, text + off, len - off < piece ? len - off : piece);
	if (directive_scan_end(&s, "f", d, &err) == 0)
		return 0;
	cr_assert(sscanf(err.msg, "f:%u:", &line) == 1, "%s", err.msg);
	return line;
}

/* The one parser gives the plain rules' answers, whole and in pieces of any size. */
Test(directive, agrees_with_the_old_rules_in_any_pieces)
{
	unsigned seed = 20240521u;
	char text[2048];

	for (int i = 0; i < 20000; i++) {
		size_t len = random_text(&seed, text, sizeof text);
		long ref_ms;
		bool ref_notx;
		unsigned ref_bad = ref_scan(text, len, &ref_ms, &ref_notx);
		static const size_t pieces[] = {1, 2, 3, 7, 64, 4096};

		for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
			struct directives d = {false, -1, 0};
			unsigned bad = scan_pieces(text, len, pieces[k], &d);

			cr_assert_eq(bad, ref_bad, "piece %zu: \"%.*s\"", pieces[k], (int)len,
			             text);
			if (bad != 0)
				continue;
			cr_assert_eq(d.lock_timeout_ms, ref_ms, "\"%.*s\"", (int)len, text);
			cr_assert_eq(d.no_transaction, ref_notx, "\"%.*s\"", (int)len, text);
		}
	}
}
