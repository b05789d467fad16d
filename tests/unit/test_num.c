/* test_num.c - tables of good and bad integers, durations and booleans for src/num.c. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "num.h"
#include "sgt_table.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct long_case {
	const char *in;
	long min, max;
	long want;       /* when ok */
	const char *msg; /* NULL: must parse; else a piece of the error */
};

/* clang-format off */
static const struct long_case long_cases[] = {
	{"0", 0, 10, 0, NULL},
	{"10", 1, 1000, 10, NULL},
	{"1000", 1, 1000, 1000, NULL},
	{"-5", -10, 10, -5, NULL},
	{"+7", 0, 10, 7, NULL},
	{"9223372036854775807", 0, LONG_MAX, LONG_MAX, NULL},
	{"", 0, 10, 0, "\"\" is not an integer"},
	{"80x", 0, 100, 0, "\"80x\" is not an integer"},
	{" 5", 0, 10, 0, "\" 5\" is not an integer"},
	{"5 ", 0, 10, 0, "\"5 \" is not an integer"},
	{"x", 0, 10, 0, "not an integer"},
	{"0x10", 0, 100, 0, "not an integer"},
	{"1.5", 0, 10, 0, "not an integer"},
	{"1001", 1, 1000, 0, "\"1001\" is out of range (1..1000)"},
	{"0", 1, 1000, 0, "out of range (1..1000)"},
	{"-1", 0, LONG_MAX, 0, "\"-1\" is out of range (>= 0)"},
	{"99999999999999999999999", 0, LONG_MAX, 0, "out of range"},
};
/* clang-format on */

static void check_parse_long(const struct long_case *c)
{
	struct sg_err err;
	long v = 12345;
	int rc;

	sg_err_clear(&err);
	rc = num_parse_long(c->in, c->min, c->max, &v, &err);
	if (c->msg == NULL) {
		cr_assert_eq(rc, 0, "\"%s\": %s", c->in, err.msg);
		cr_assert_eq(v, c->want, "\"%s\" gave %ld", c->in, v);
	} else {
		cr_assert_eq(rc, -1, "\"%s\" should fail", c->in);
		cr_assert_eq(v, 12345, "\"%s\": output changed on failure", c->in);
		cr_assert_eq(err.code, SG_E_PARSE);
		cr_assert(strstr(err.msg, c->msg) != NULL, "\"%s\": got \"%s\", want \"%s\"", c->in,
		          err.msg, c->msg);
	}
}

SGT_TABLE_TEST(num, parse_long, long_cases, check_parse_long)

struct dur_case {
	const char *in;
	long want_ms;
	const char *msg; /* NULL: must parse; else a piece of the error */
};

/* clang-format off */
static const struct dur_case dur_cases[] = {
	{"0", 0, NULL},
	{"0s", 0, NULL},
	{"0ms", 0, NULL},
	{"250ms", 250, NULL},
	{"2s", 2000, NULL},
	{"1.5s", 1500, NULL},
	{".5s", 500, NULL},
	{"1.250s", 1250, NULL},
	{"0.001s", 1, NULL},
	{"10m", 600000, NULL},
	{"1h", 3600000, NULL},
	{"0.5h", 1800000, NULL},
	{"1m30s", 90000, NULL},
	{"1h2m3s4ms", 3723004, NULL},
	{"1.5m", 90000, NULL},
	{"2s500ms", 2500, NULL},
	{"1.000000000000000000000s", 1000, NULL},
	{"", 0, "\"\" is not a duration"},
	{"10", 0, "\"10\" is missing a unit"},
	{"30", 0, "e.g. 30s"},
	{"1m30", 0, "missing a unit"},
	{"1.5ms", 0, "finer than a millisecond"},
	{"0.0001s", 0, "finer than a millisecond"},
	{"1.0000000000000000000001s", 0, "finer than a millisecond"},
	{"-1s", 0, "negative"},
	{"+1s", 0, "not a duration"},
	{"10x", 0, "unknown unit \"x\""},
	{"10min", 0, "unknown unit \"min\""},
	{"10S", 0, "unknown unit \"S\""},
	{"s", 0, "not a duration"},
	{".s", 0, "not a duration"},
	{"1 s", 0, "not a duration"},
	{"1s ", 0, "not a duration"},
	{"abc", 0, "not a duration"},
	{"1e3s", 0, "unknown unit \"e\""},
	{"25h", 0, "\"25h\" is out of range (0s..24h)"},
	{"9223372036854775807h", 0, "too long a duration"},
	{"99999999999999999999s", 0, "too long a duration"},
	{"2562047788016h", 0, "too long a duration"},
};
/* clang-format on */

static void check_parse_duration(const struct dur_case *c)
{
	struct sg_err err;
	long v = 12345;
	int rc;

	sg_err_clear(&err);
	rc = num_parse_duration_ms(c->in, 0, 24 * 3600000L, &v, &err);
	if (c->msg == NULL) {
		cr_assert_eq(rc, 0, "\"%s\": %s", c->in, err.msg);
		cr_assert_eq(v, c->want_ms, "\"%s\" gave %ld ms", c->in, v);
	} else {
		cr_assert_eq(rc, -1, "\"%s\" should fail (gave %ld)", c->in, v);
		cr_assert_eq(v, 12345, "\"%s\": output changed on failure", c->in);
		cr_assert_eq(err.code, SG_E_PARSE);
		cr_assert(strstr(err.msg, c->msg) != NULL, "\"%s\": got \"%s\", want \"%s\"", c->in,
		          err.msg, c->msg);
	}
}

SGT_TABLE_TEST(num, parse_duration, dur_cases, check_parse_duration)

Test(num, duration_bounds_and_huge_values)
{
	struct sg_err err;
	long v = 0;

	cr_assert_eq(num_parse_duration_ms("999ms", 1000, 2000, &v, &err), -1);
	cr_assert(strstr(err.msg, "out of range (1s..2s)") != NULL, "%s", err.msg);
	cr_assert_eq(num_parse_duration_ms("1000ms", 1000, 2000, &v, &err), 0);
	cr_assert_eq(v, 1000);
	/* The largest whole-hour value that fits, when the range allows it. */
	cr_assert_eq(num_parse_duration_ms("2562047h", 0, LONG_MAX, &v, &err), 0, "%s", err.msg);
	cr_assert_eq(v, 2562047L * 3600000L);
	cr_assert_eq(num_parse_duration_ms(NULL, 0, 10, &v, &err), -1);
}

struct bool_case {
	const char *in;
	int want; /* 1 true, 0 false, -1 error */
};

/* clang-format off */
static const struct bool_case bool_cases[] = {
	{"true", 1}, {"TRUE", 1}, {"True", 1},   {"1", 1},      {"yes", 1},    {"Yes", 1},
	{"on", 1},   {"ON", 1},   {"false", 0},  {"FALSE", 0},  {"0", 0},      {"no", 0},
	{"NO", 0},   {"off", 0},  {"Off", 0},    {"", -1},      {"maybe", -1}, {"2", -1},
	{"t", -1},   {"y", -1},   {" true", -1}, {"true ", -1}, {"yess", -1},  {"enabled", -1},
};
/* clang-format on */

static void check_parse_bool(const struct bool_case *c)
{
	struct sg_err err;
	bool v = true;
	int rc;

	sg_err_clear(&err);
	rc = num_parse_bool(c->in, &v, &err);
	if (c->want < 0) {
		char want[128];

		cr_assert_eq(rc, -1, "\"%s\" should fail", c->in);
		cr_assert_eq(err.code, SG_E_PARSE);
		cr_assert_lt(
		    snprintf(want, sizeof want, "\"%s\" is not a boolean (true/false", c->in),
		    (int)sizeof want);
		cr_assert(strstr(err.msg, want) != NULL, "got \"%s\"", err.msg);
	} else {
		cr_assert_eq(rc, 0, "\"%s\": %s", c->in, err.msg);
		cr_assert_eq(v, c->want == 1, "\"%s\"", c->in);
	}
}

SGT_TABLE_TEST(num, parse_bool, bool_cases, check_parse_bool)

Test(num, bool_failure_leaves_output)
{
	struct sg_err err;
	bool v = true;

	cr_assert_eq(num_parse_bool(NULL, &v, &err), -1);
	cr_assert_eq(num_parse_bool("nope", &v, NULL), -1); /* NULL err is allowed */
	cr_assert(v);
}

struct fmt_case {
	long ms;
	const char *want;
};

/* clang-format off */
static const struct fmt_case fmt_cases[] = {
	{0, "0s"},          {1, "1ms"},           {150, "150ms"},          {999, "999ms"},
	{1000, "1s"},       {1001, "1.001s"},     {1050, "1.05s"},         {2500, "2.5s"},
	{59999, "59.999s"}, {60000, "1m"},        {90000, "1m30s"},        {600000, "10m"},
	{3600000, "1h"},    {3600250, "1h0.25s"}, {3723004, "1h2m3.004s"}, {86400000, "24h"},
	{-1500, "-1.5s"},   {-150, "-150ms"},
};
/* clang-format on */

static void check_format_duration(const struct fmt_case *c)
{
	struct sg_err err;
	char buf[32];
	long back = -1;

	cr_assert_eq(num_format_duration(c->ms, buf, sizeof buf), 0);
	cr_assert_str_eq(buf, c->want, "%ld ms", c->ms);
	/* What we print, we read back. */
	if (c->ms >= 0) {
		cr_assert_eq(num_parse_duration_ms(buf, 0, LONG_MAX, &back, &err), 0, "%s",
		             err.msg);
		cr_assert_eq(back, c->ms);
	}
}

SGT_TABLE_TEST(num, format_duration, fmt_cases, check_format_duration)

Test(num, format_duration_extremes_and_truncation)
{
	char buf[64], small[4];

	cr_assert_eq(num_format_duration(LONG_MAX, buf, sizeof buf), 0);
	cr_assert_str_eq(buf, "2562047788015h12m55.807s");
	cr_assert_eq(num_format_duration(LONG_MIN, buf, sizeof buf), 0);
	cr_assert_str_eq(buf, "-2562047788015h12m55.808s");
	cr_assert_eq(num_format_duration(90000, small, sizeof small), -1);
	cr_assert_str_eq(small, "1m3");
	small[0] = 'z';
	cr_assert_eq(num_format_duration(1000, small, 0), -1);
	cr_assert_eq(small[0], 'z');
}

struct bytes_case {
	const char *in;
	long want;       /* when ok */
	const char *msg; /* NULL: must parse; else a piece of the error */
};

/* clang-format off */
static const struct bytes_case bytes_cases[] = {
	{"0", 0, NULL},
	{"65536", 65536, NULL},
	{"512B", 512, NULL},
	{"8kB", 8192, NULL},
	{"64MB", 64L << 20, NULL},
	{"64MiB", 64L << 20, NULL},
	{"1GB", 1L << 30, NULL},
	{"2GiB", 2L << 30, NULL},
	{"1TB", 1L << 40, NULL},
	{"", 0, "\"\" is not a size"},
	{"MB", 0, "is not a size"},
	{"-1", 0, "\"-1\" is not a size"},
	{" 5", 0, "is not a size"},
	{"64M", 0, "\"64M\" has an unknown unit"},
	{"64mb", 0, "unknown unit"},
	{"1.5GB", 0, "unknown unit"},
	{"64 MB", 0, "unknown unit"},
	{"99999999999999999999", 0, "out of range"},
	{"9999999TB", 0, "out of range"},
};
/* clang-format on */

static void check_parse_bytes(const struct bytes_case *c)
{
	struct sg_err err = {.code = SG_E_OK};
	long out = -7;
	int rc = num_parse_bytes(c->in, 0, LONG_MAX, &out, &err);

	if (c->msg == NULL) {
		cr_assert_eq(rc, 0, "\"%s\": %s", c->in, err.msg);
		cr_assert_eq(out, c->want, "\"%s\" gave %ld", c->in, out);
	} else {
		cr_assert_eq(rc, -1, "\"%s\" parsed as %ld", c->in, out);
		cr_assert_eq(out, -7, "output untouched on failure");
		cr_assert_eq(err.code, SG_E_PARSE);
		cr_assert(strstr(err.msg, c->msg) != NULL, "\"%s\": %s", c->in, err.msg);
	}
}

SGT_TABLE_TEST(num, parse_bytes, bytes_cases, check_parse_bytes)

Test(num, bytes_range_and_format)
{
	struct sg_err err;
	char buf[32];
	long out;

	cr_assert_eq(num_parse_bytes("2kB", 0, 1024, &out, &err), -1);
	cr_assert(strstr(err.msg, "out of range (0..1024 bytes)") != NULL, "%s", err.msg);
	num_format_bytes(512, buf, sizeof buf);
	cr_assert_str_eq(buf, "512 B");
	num_format_bytes(1536, buf, sizeof buf);
	cr_assert_str_eq(buf, "1.5 KiB");
	num_format_bytes(64LL << 20, buf, sizeof buf);
	cr_assert_str_eq(buf, "64.0 MiB");
	num_format_bytes(5LL << 40, buf, sizeof buf);
	cr_assert_str_eq(buf, "5.0 TiB");
	num_format_bytes(1LL << 62, buf, 4);
	cr_assert_eq(strlen(buf), 3, "cut short, NUL-terminated: %s", buf);
}
