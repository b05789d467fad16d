/* directive.c - a migration file's directives, read from its leading comment lines.
 *
 * A line is kept only as far as its first DIRECTIVE_LINE_MAX bytes, with where its last
 * non-blank byte stands: trailing blanks (space, tab, CR) are not part of a directive, and
 * every directive line that matters fits. Every line is read, to the end of the file: a
 * directive past the leading comment lines is refused. A piece may end anywhere in a line. */
#include "directive.h"

#include <stdio.h>
#include <string.h>

#include "num.h"

#define NOTX_MARKER "-- schemagate:no-transaction"
#define LOCK_PREFIX "-- schemagate:lock-timeout="
#define ALLOW_PREFIX "-- schemagate:allow="
/* What every directive of ours starts with. */
#define OUR_PREFIX "-- schemagate:"
/* goose's annotation, after "--" and blanks: its files run outside a transaction. */
#define GOOSE_NOTX "+goose NO TRANSACTION"
/* Longest value of the lock-timeout directive, in bytes. */
#define LOCK_VALUE_MAX 31
/* The directive's range: "0" (no limit) to a day. */
#define LOCK_MAX_MS (24L * 3600 * 1000)

void directive_scan_init(struct directive_scan *s)
{
	memset(s, 0, sizeof *s);
	s->line = 1;
	s->leading = true;
	s->d.lock_timeout_ms = -1;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool starts_with(const struct directive_scan *s, const char *prefix, size_t n)
{
	return s->kept >= n && memcmp(s->text, prefix, n) == 0;
}

/* The lock-timeout directive's value, text[pl..kept): refused when too long or not a
 * duration in range. */
static void read_lock_timeout(struct directive_scan *s, size_t pl)
{
	size_t vn = s->kept - pl;
	char val[LOCK_VALUE_MAX + 1];
	struct sg_err why;
	long ms;

	snprintf(s->bad_name, sizeof s->bad_name, "schemagate:lock-timeout");
	if (s->overflow || vn > LOCK_VALUE_MAX) {
		snprintf(s->why, sizeof s->why, "value too long");
		s->bad_line = s->line;
		return;
	}
	memcpy(val, s->text + pl, vn);
	val[vn] = '\0';
	if (num_parse_duration_ms(val, 0, LOCK_MAX_MS, &ms, &why) != 0) {
		/* Truncation is fine: a reason for people. */
		snprintf(s->why, sizeof s->why, "%.150s", why.msg);
		s->bad_line = s->line;
		return;
	}
	s->d.lock_timeout_ms = ms;
}

/* The allow directive's value, text[pl..kept): comma-separated words, each refused unless it
 * is one of the three. */
static void read_allow(struct directive_scan *s, size_t pl)
{
	static const struct {
		const char *word;
		unsigned bit;
	} words[] = {
	    {"rewrite", DIRECTIVE_ALLOW_REWRITE},
	    {"scan", DIRECTIVE_ALLOW_SCAN},
	    {"breaking", DIRECTIVE_ALLOW_BREAKING},
	};
	const char *v = s->text + pl;
	size_t n = s->kept - pl, i = 0;

	snprintf(s->bad_name, sizeof s->bad_name, "schemagate:allow");
	if (s->overflow) {
		snprintf(s->why, sizeof s->why, "value too long");
		s->bad_line = s->line;
		return;
	}
	while (i <= n) {
		size_t end = i, a, b;
		unsigned bit = 0;

		while (end < n && v[end] != ',')
			end++;
		for (a = i; a < end && is_blank(v[a]); a++)
			;
		for (b = end; b > a && is_blank(v[b - 1]); b--)
			;
		for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
			if (b - a == strlen(words[k].word) &&
			    memcmp(v + a, words[k].word, b - a) == 0)
				bit = words[k].bit;
		if (bit == 0) {
			snprintf(s->why, sizeof s->why, "\"%.*s\" is not rewrite, scan or breaking",
			         (int)(b - a), v + a);
			s->bad_line = s->line;
			return;
		}
		s->d.allow |= bit;
		i = end + 1;
	}
}

/* Whether text[0..n) is goose's annotation: "--", blanks, GOOSE_NOTX (trailing blanks are not
 * in text). */
static bool is_goose_notx(const char *t, size_t n)
{
	size_t i = 2, gl = strlen(GOOSE_NOTX);

	if (n < 2 || memcmp(t, "--", 2) != 0)
		return false;
	while (i < n && is_blank(t[i]))
		i++;
	return n - i == gl && memcmp(t + i, GOOSE_NOTX, gl) == 0;
}

/* A directive (ours, or goose's annotation) on a line past the leading comment lines, at t (the
 * line's first non-blank): refused, since it would be silently ignored there. */
static void misplaced(struct directive_scan *s, const char *t, size_t n)
{
	const size_t ol = strlen(OUR_PREFIX);

	if (n >= ol && memcmp(t, OUR_PREFIX, ol) == 0) {
		size_t w = 3; /* "schemagate:<name>", up to a '=' or a blank */

		while (w < n && t[w] != '=' && !is_blank(t[w]))
			w++;
		snprintf(s->bad_name, sizeof s->bad_name, "%.*s", (int)(w - 3), t + 3);
	} else if (is_goose_notx(t, n)) {
		snprintf(s->bad_name, sizeof s->bad_name, "goose's %s", GOOSE_NOTX);
	} else {
		return;
	}
	snprintf(s->why, sizeof s->why,
	         "a directive counts only in the file's leading comment lines, before its first "
	         "statement: move this line there");
	s->bad_line = s->line;
}

/* The line just read is whole: what it asks for, whether the leading comment lines go on, and
 * whether a directive stands where it would mean nothing. */
static void end_line(struct directive_scan *s)
{
	const size_t ml = strlen(NOTX_MARKER), pl = strlen(LOCK_PREFIX), al = strlen(ALLOW_PREFIX);
	size_t b = 0;

	while (b < s->kept && is_blank(s->text[b]))
		b++;
	/* A line of blanks only (kept 0, nothing past text[]) keeps the leading lines going;
	 * so does a "--" comment line. */
	if (s->leading && (s->kept > 0 || s->overflow) &&
	    (s->kept - b < 2 || memcmp(s->text + b, "--", 2) != 0))
		s->leading = false;
	if (!s->leading) {
		misplaced(s, s->text + b, s->kept - b);
	} else if (s->kept >= 2 && starts_with(s, "--", 2)) {
		if (!s->overflow && s->kept == ml && starts_with(s, NOTX_MARKER, ml))
			s->d.no_transaction = true;
		else if (!s->overflow && is_goose_notx(s->text, s->kept))
			s->d.no_transaction = true;
		/* Blanks after the '=' alone still make a (bad, empty) value. */
		else if (s->raw > pl && starts_with(s, LOCK_PREFIX, pl))
			read_lock_timeout(s, pl);
		else if (s->raw > al && starts_with(s, ALLOW_PREFIX, al))
			read_allow(s, al);
	}
	if (s->bad_line != 0) {
		s->done = true;
		return;
	}
	s->line++;
	s->raw = s->kept = 0;
	s->overflow = false;
}

void directive_scan_feed(struct directive_scan *s, const void *buf, size_t len)
{
	const char *p = buf;

	for (size_t i = 0; i < len && !s->done; i++) {
		char c = p[i];

		if (c == '\n') {
			end_line(s);
			continue;
		}
		if (s->raw < sizeof s->text)
			s->text[s->raw] = c;
		if (!is_blank(c)) {
			if (s->raw < sizeof s->text)
				s->kept = s->raw + 1;
			else
				s->overflow = true;
		}
		s->raw++;
	}
}

int directive_scan_end(struct directive_scan *s, const char *path, struct directives *out,
                       struct sg_err *err)
{
	if (!s->done && s->raw > 0) /* the last line, without a newline */
		end_line(s);
	if (s->bad_line != 0)
		return sg_err_set(err, SG_E_PARSE, "%s:%u: %s: %s", path, s->bad_line, s->bad_name,
		                  s->why);
	*out = s->d;
	return 0;
}

int directive_parse(const char *path, const void *buf, size_t len, struct directives *out,
                    struct sg_err *err)
{
	struct directive_scan s;

	directive_scan_init(&s);
	directive_scan_feed(&s, buf, len);
	return directive_scan_end(&s, path, out, err);
}

long directive_lock_timeout(const struct directives *d, long dflt_ms)
{
	return d->lock_timeout_ms >= 0 ? d->lock_timeout_ms : dflt_ms;
}
