/* log.c - JSON-lines and text event logging to stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_format log_format = LOG_FORMAT_JSON;
static enum log_level log_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* A bounded line buffer: appends stop silently at the end, and the line is
 * marked truncated rather than split across writes. */
struct line {
	char buf[8192];
	size_t len;
	bool truncated;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->len + n >= sizeof l->buf - 2) { /* keep room for '\n' */
		l->truncated = true;
		n = sizeof l->buf - 2 - l->len;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void puts_raw(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static void put_json_string(struct line *l, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	put(l, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[7];

		switch (*p) {
		case '"':
			put(l, "\\\"", 2);
			break;
		case '\\':
			put(l, "\\\\", 2);
			break;
		case '\n':
			put(l, "\\n", 2);
			break;
		case '\r':
			put(l, "\\r", 2);
			break;
		case '\t':
			put(l, "\\t", 2);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[*p >> 4];
				esc[5] = hex[*p & 0xf];
				put(l, esc, 6);
			} else {
				put(l, (const char *)p, 1);
			}
		}
	}
	put(l, "\"", 1);
}

/* True when s needs quoting in the text format: spaces, quotes, '=', or any
 * control character (CR, ESC, ...: a value from a database or a client must
 * not rewrite a terminal line or forge one). */
static bool text_needs_quotes(const char *s)
{
	if (s[0] == '\0')
		return true;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == 0x7f)
			return true;
	return false;
}

/* Text values are written bare unless they need quotes; quoted ones are
 * JSON strings, every control character escaped. */
static void put_text_value(struct line *l, const char *s)
{
	if (!text_needs_quotes(s)) {
		puts_raw(l, s);
		return;
	}
	put_json_string(l, s);
}

void log_setup(enum log_format format, enum log_level level)
{
	log_format = format;
	log_level = level;
}

bool log_enabled(enum log_level level)
{
	return level >= log_level;
}

void log_event(enum log_level level, const char *msg, ...)
{
	struct line l = {.len = 0, .truncated = false};
	struct timespec ts;
	struct tm tm;
	char stamp[64];
	va_list ap;
	const char *key;

	if (!log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		stamp[0] = '\0';
	char ms[8];
	snprintf(ms, sizeof ms, ".%03ldZ", (ts.tv_nsec / 1000000) % 1000);

	if (log_format == LOG_FORMAT_JSON) {
		puts_raw(&l, "{\"ts\":\"");
		puts_raw(&l, stamp);
		puts_raw(&l, ms);
		puts_raw(&l, "\",\"level\":\"");
		puts_raw(&l, level_names[level]);
		puts_raw(&l, "\",\"msg\":");
		put_json_string(&l, msg);
	} else {
		puts_raw(&l, stamp);
		puts_raw(&l, ms);
		puts_raw(&l, " ");
		puts_raw(&l, level_names[level]);
		puts_raw(&l, level == LOG_LEVEL_INFO || level == LOG_LEVEL_WARN ? "  " : " ");
		puts_raw(&l, msg);
	}
	va_start(ap, msg);
	while ((key = va_arg(ap, const char *)) != NULL) {
		const char *val = va_arg(ap, const char *);

		if (log_format == LOG_FORMAT_JSON) {
			puts_raw(&l, ",");
			put_json_string(&l, key);
			puts_raw(&l, ":");
			if (val == NULL)
				puts_raw(&l, "null");
			else
				put_json_string(&l, val);
		} else {
			puts_raw(&l, " ");
			puts_raw(&l, key);
			puts_raw(&l, "=");
			put_text_value(&l, val == NULL ? "-" : val);
		}
	}
	va_end(ap);
	if (l.truncated) {
		/* Close a JSON line that lost its tail so it still parses. */
		l.len = sizeof l.buf - 40;
		l.truncated = false;
		puts_raw(&l,
		         log_format == LOG_FORMAT_JSON ? "\",\"truncated\":true}" : " [truncated]");
	} else if (log_format == LOG_FORMAT_JSON) {
		puts_raw(&l, "}");
	}
	l.buf[l.len++] = '\n';
	/* One write per event: lines from concurrent threads never interleave. */
	ssize_t n = write(STDERR_FILENO, l.buf, l.len);
	(void)n;
}
