/* num.c - strict parsing of integers, durations and booleans from settings and arguments. */
#include "num.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Error messages quote at most this many bytes of the input, so a pasted
 * megabyte doesn't become a megabyte of log line. */
#define NUM_SHOW 64

/* Suffix for a quoted input cut at NUM_SHOW bytes. */
static const char *more(const char *s)
{
	return strlen(s) > NUM_SHOW ? "..." : "";
}

int num_parse_long(const char *s, long min, long max, long *out, struct sg_err *err)
{
	char *end = NULL;
	long v;

	if (s == NULL)
		s = "";
	/* strtol skips leading blanks and accepts "", both of which hide typos. */
	if (*s == '\0' || isspace((unsigned char)*s))
		goto not_integer;
	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0')
		goto not_integer;
	if (errno == ERANGE || v < min || v > max) {
		if (max == LONG_MAX)
			return sg_err_set(err, SG_E_PARSE, "\"%.*s%s\" is out of range (>= %ld)",
			                  NUM_SHOW, s, more(s), min);
		return sg_err_set(err, SG_E_PARSE, "\"%.*s%s\" is out of range (%ld..%ld)",
		                  NUM_SHOW, s, more(s), min, max);
	}
	*out = v;
	return 0;
not_integer:
	return sg_err_set(err, SG_E_PARSE, "\"%.*s%s\" is not an integer", NUM_SHOW, s, more(s));
}

struct num_unit {
	const char *name;
	long long ms;
};

/* clang-format off */
static const struct num_unit num_units[] = {
	{"ms", 1},
	{"s", 1000LL},
	{"m", 60LL * 1000},
	{"h", 60LL * 60 * 1000},
};
/* clang-format on */

/* Milliseconds per unit named by the len bytes at p, or 0 when unknown. */
static long long unit_ms(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof num_units / sizeof num_units[0]; i++)
		if (strlen(num_units[i].name) == len && memcmp(num_units[i].name, p, len) == 0)
			return num_units[i].ms;
	return 0;
}

int num_parse_duration_ms(const char *s, long min_ms, long max_ms, long *out_ms, struct sg_err *err)
{
	const char *p;
	long long total = 0;

	if (s == NULL)
		s = "";
	if (*s == '\0')
		return sg_err_set(err, SG_E_PARSE,
		                  "\"\" is not a duration (e.g. 250ms, 2s, 1m30s)");
	if (strcmp(s, "0") == 0)
		goto range;
	if (*s == '-')
		return sg_err_set(err, SG_E_PARSE, "\"%.*s%s\" is negative; durations can't be",
		                  NUM_SHOW, s, more(s));
	p = s;
	while (*p != '\0') {
		long long whole = 0, frac = 0, pow = 1, unit, part;
		int digits = 0, fdigits = 0;
		bool finer = false;
		const char *u;

		for (; isdigit((unsigned char)*p); p++, digits++) {
			if (whole > (LLONG_MAX - 9) / 10)
				goto overflow;
			whole = whole * 10 + (*p - '0');
		}
		if (*p == '.') {
			for (p++; isdigit((unsigned char)*p); p++) {
				/* 18 digits fit a long long; later ones must be zeros. */
				if (fdigits < 18) {
					frac = frac * 10 + (*p - '0');
					fdigits++;
				} else if (*p != '0') {
					finer = true;
				}
				digits++;
			}
		}
		if (digits == 0)
			return sg_err_set(err, SG_E_PARSE,
			                  "\"%.*s%s\" is not a duration (e.g. 250ms, 2s, 1m30s)",
			                  NUM_SHOW, s, more(s));
		for (u = p; isalpha((unsigned char)*p); p++)
			;
		if (p == u) {
			if (*p != '\0')
				return sg_err_set(
				    err, SG_E_PARSE,
				    "\"%.*s%s\" is not a duration (e.g. 250ms, 2s, 1m30s)",
				    NUM_SHOW, s, more(s));
			return sg_err_set(
			    err, SG_E_PARSE,
			    "\"%.*s%s\" is missing a unit (ms, s, m or h; e.g. %.*ss)", NUM_SHOW, s,
			    more(s), NUM_SHOW, s);
		}
		if ((unit = unit_ms(u, (size_t)(p - u))) == 0)
			return sg_err_set(
			    err, SG_E_PARSE,
			    "\"%.*s%s\" has an unknown unit \"%.*s\" (use ms, s, m or h)", NUM_SHOW,
			    s, more(s), (int)(p - u > 8 ? 8 : p - u), u);
		while (fdigits > 0 && frac % 10 == 0) {
			frac /= 10;
			fdigits--;
		}
		/* Past 9 significant fraction digits no unit we know lands on a whole ms
		 * (and frac * unit below stays far from overflowing). */
		if (finer || fdigits > 9)
			goto finer;
		while (fdigits-- > 0)
			pow *= 10;
		if ((frac * unit) % pow != 0)
			goto finer;
		if (whole > LLONG_MAX / unit)
			goto overflow;
		part = whole * unit;
		if (part > LLONG_MAX - frac * unit / pow)
			goto overflow;
		part += frac * unit / pow;
		if (total > LLONG_MAX - part)
			goto overflow;
		total += part;
	}
range:
	if (total < min_ms || total > max_ms) {
		char lo[32], hi[32];

		if (num_format_duration(min_ms, lo, sizeof lo) != 0 ||
		    num_format_duration(max_ms, hi, sizeof hi) != 0)
			return sg_err_set(err, SG_E_PARSE, "\"%.*s%s\" is out of range", NUM_SHOW,
			                  s, more(s));
		return sg_err_set(err, SG_E_PARSE, "\"%.*s%s\" is out of range (%s..%s)", NUM_SHOW,
		                  s, more(s), lo, hi);
	}
	*out_ms = (long)total;
	return 0;
overflow:
	return sg_err_set(err, SG_E_PARSE, "\"%.*s%s\" is too long a duration", NUM_SHOW, s,
	                  more(s));
finer:
	return sg_err_set(err, SG_E_PARSE,
	                  "\"%.*s%s\" is finer than a millisecond (durations are whole ms)",
	                  NUM_SHOW, s, more(s));
}

/* clang-format off */
static const struct {
	const char *name;
	long long factor;
} num_byte_units[] = {
	{"B", 1}, {"kB", 1LL << 10}, {"MB", 1LL << 20}, {"GB", 1LL << 30}, {"TB", 1LL << 40},
	{"KiB", 1LL << 10}, {"MiB", 1LL << 20}, {"GiB", 1LL << 30}, {"TiB", 1LL << 40},
};
/* clang-format on */

int num_parse_bytes(const char *s, long min, long max, long *out, struct sg_err *err)
{
	long long v = 0, factor = 0;
	const char *p;

	if (s == NULL)
		s = "";
	for (p = s; isdigit((unsigned char)*p); p++) {
		if (v > (LLONG_MAX - 9) / 10)
			goto range;
		v = v * 10 + (*p - '0');
	}
	if (p == s)
		return sg_err_set(err, SG_E_PARSE,
		                  "\"%.*s%s\" is not a size (e.g. 65536, 64MiB, 1GB)", NUM_SHOW, s,
		                  more(s));
	if (*p == '\0')
		factor = 1;
	for (size_t i = 0; factor == 0 && i < sizeof num_byte_units / sizeof num_byte_units[0]; i++)
		if (strcmp(p, num_byte_units[i].name) == 0)
			factor = num_byte_units[i].factor;
	if (factor == 0)
		return sg_err_set(
		    err, SG_E_PARSE,
		    "\"%.*s%s\" has an unknown unit (use B, kB, MB, GB, TB, KiB, MiB, "
		    "GiB or TiB)",
		    NUM_SHOW, s, more(s));
	if (v > LLONG_MAX / factor)
		goto range;
	v *= factor;
	if (v >= min && v <= max) {
		*out = (long)v;
		return 0;
	}
range:
	return sg_err_set(err, SG_E_PARSE, "\"%.*s%s\" is out of range (%ld..%ld bytes)", NUM_SHOW,
	                  s, more(s), min, max);
}

void num_format_bytes(long long bytes, char *buf, size_t n)
{
	static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)bytes;
	int u = -1;

	if (n == 0)
		return;
	if (bytes < 1024) {
		snprintf(buf, n, "%lld B", bytes); /* cut short when n is small: intended */
		return;
	}
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, n, "%.1f %s", v, unit[u]);
}

int num_parse_bool(const char *s, bool *out, struct sg_err *err)
{
	static const char *const yes[] = {"true", "1", "yes", "on"};
	static const char *const no[] = {"false", "0", "no", "off"};
	size_t i;

	if (s == NULL)
		s = "";
	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return sg_err_set(err, SG_E_PARSE,
	                  "\"%.*s%s\" is not a boolean (true/false/1/0/yes/no/on/off)", NUM_SHOW, s,
	                  more(s));
}

/* Appends formatted text at *len in buf (size n); -1 when it didn't fit. */
static int append(char *buf, size_t n, size_t *len, const char *fmt, ...) SG_PRINTF(4, 5);

static int append(char *buf, size_t n, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(buf + *len, n - *len, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= n - *len)
		return -1;
	*len += (size_t)w;
	return 0;
}

int num_format_duration(long ms, char *buf, size_t n)
{
	char tmp[64];
	size_t len = 0;
	unsigned long long v, h, m, s, f;
	int w, rc = 0;

	if (n == 0)
		return -1;
	tmp[0] = '\0';
	if (ms < 0) {
		rc |= append(tmp, sizeof tmp, &len, "-");
		/* -(ms + 1) + 1 so that LONG_MIN doesn't overflow on negation. */
		v = (unsigned long long)(-(ms + 1)) + 1;
	} else {
		v = (unsigned long long)ms;
	}
	h = v / 3600000;
	m = v / 60000 % 60;
	s = v / 1000 % 60;
	f = v % 1000;
	if (v == 0)
		rc |= append(tmp, sizeof tmp, &len, "0s");
	else if (v < 1000)
		rc |= append(tmp, sizeof tmp, &len, "%llums", v);
	if (v >= 1000 && h > 0)
		rc |= append(tmp, sizeof tmp, &len, "%lluh", h);
	if (v >= 1000 && m > 0)
		rc |= append(tmp, sizeof tmp, &len, "%llum", m);
	if (v >= 1000 && f == 0 && s > 0)
		rc |= append(tmp, sizeof tmp, &len, "%llus", s);
	if (v >= 1000 && f > 0) {
		/* Three digits of milliseconds, trailing zeros dropped: 500 -> "5". */
		int digits = 3;

		while (f % 10 == 0) {
			f /= 10;
			digits--;
		}
		rc |= append(tmp, sizeof tmp, &len, "%llu.%0*llus", s, digits, f);
	}
	/* 64 bytes hold any long this way, so rc only fails on a broken libc. */
	if (rc != 0)
		return -1;
	w = snprintf(buf, n, "%s", tmp);
	return w < 0 || (size_t)w >= n ? -1 : 0;
}

int num_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Copies s[0..len) into out (n bytes) decoding %XX; -1 when it does not fit
 * or an escape is malformed. */
int num_pct_decode(const char *s, size_t len, char *out, size_t n)
{
	size_t w = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (ch == '%') {
			int hi, lo;

			if (i + 2 >= len || (hi = num_hex_digit(s[i + 1])) < 0 ||
			    (lo = num_hex_digit(s[i + 2])) < 0)
				return -1;
			ch = (char)(hi * 16 + lo);
			i += 2;
		}
		if (w + 1 >= n)
			return -1;
		out[w++] = ch;
	}
	out[w] = '\0';
	return 0;
}

void num_format_rfc3339(long long t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, n, "1970-01-01T00:00:00Z");
}
