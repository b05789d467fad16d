/* dsn.c - connection strings as text: hiding their passwords, taking out a Go-style search_path. */
#include "dsn.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "num.h"

/* Most secrets one string may hold; more than that is treated as unparsable
 * (no allocation, so dsn_redact() cannot fail half-way). */
#define DSN_MAX_RANGES 32

/* Byte ranges [start, end) of the input to replace with DSN_MASK. */
struct dsn_ranges {
	size_t start[DSN_MAX_RANGES];
	size_t end[DSN_MAX_RANGES];
	size_t n;
};

/* Records [start, end) for masking; -1 when the table is full. */
static int mask(struct dsn_ranges *r, size_t start, size_t end)
{
	if (start >= end)
		return 0;
	if (r->n == DSN_MAX_RANGES)
		return -1;
	r->start[r->n] = start;
	r->end[r->n] = end;
	r->n++;
	return 0;
}

/* Case-insensitive on purpose: libpq would reject "PASSWORD=", but a string
 * that is wrong is still worth hiding. */
static bool is_secret_key(const char *k, size_t len)
{
	return (len == 8 && strncasecmp(k, "password", len) == 0) ||
	       (len == 11 && strncasecmp(k, "sslpassword", len) == 0);
}

static bool is_dbname_key(const char *k, size_t len)
{
	return len == 6 && strncasecmp(k, "dbname", len) == 0;
}

/* libpq expands a dbname that is itself a connection string (PQconnectdbParams
 * with expand_dbname), so one holding '=' or ':' (also percent-encoded) might
 * carry a password. */
static bool looks_like_conninfo(const char *v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (v[i] == '=' || v[i] == ':')
			return true;
		if (v[i] == '%' && i + 2 < len && v[i + 1] == '3' &&
		    strchr("aAdD", v[i + 2]) != NULL)
			return true;
	}
	return false;
}

/* Length of "scheme://" at the start of s, or 0 when s is not a URL. */
static size_t url_prefix(const char *s)
{
	size_t i = 0;

	if (!isalpha((unsigned char)s[0]))
		return 0;
	while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')
		i++;
	return strncmp(s + i, "://", 3) == 0 ? i + 3 : 0;
}

/* Percent-decodes k (len bytes) into buf (size n); 0 and *outlen on success, -1
 * on bad encoding (libpq rejects it too). A key too long for buf is cut, which
 * only makes it compare unequal to every short keyword. */
static int pct_decode(const char *k, size_t len, char *buf, size_t n, size_t *outlen)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		char c = k[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			hi = num_hex_digit(k[i + 1]);
			lo = num_hex_digit(k[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (o < n)
			buf[o] = c;
		o++;
	}
	*outlen = o <= n ? o : n + 1;
	return 0;
}

/* Finds the secrets of a URL; pre is the length of "scheme://". */
static int url_ranges(const char *s, size_t len, size_t pre, struct dsn_ranges *r)
{
	size_t auth_end, at = 0, i;
	bool has_at = false;

	/* libpq looks for user:password@ only before the first '/', so a
	 * password may hold '?', '#' or '@' unencoded. Masking up to the last '@'
	 * covers libpq's reading (the first '@') and RFC 3986's (the last). */
	auth_end = pre + strcspn(s + pre, "/");
	for (i = pre; i < auth_end; i++) {
		if (s[i] == '@') {
			at = i;
			has_at = true;
		}
	}
	if (has_at) {
		for (i = pre; i < at && s[i] != ':'; i++)
			;
		if (i < at && mask(r, i + 1, at) != 0)
			return -1;
	}
	/* An '@' in the path may end a password that holds an unencoded '/':
	 * there is no telling where the secret stops, so refuse. */
	for (i = auth_end; i < len && s[i] != '?'; i++)
		if (s[i] == '@')
			return -1;
	/* Query parameters. Every '?' and '&' is tried, not just those after the
	 * path, so an odd layout can only mask too much. */
	for (i = pre; i < len; i++) {
		char key[16];
		size_t k, klen, v, vend;

		if (s[i] != '?' && s[i] != '&')
			continue;
		k = i + 1;
		klen = strcspn(s + k, "=&");
		if (s[k + klen] != '=')
			continue;
		if (pct_decode(s + k, klen, key, sizeof key, &klen) != 0)
			return -1;
		v = k + strcspn(s + k, "=") + 1;
		vend = v + strcspn(s + v, "&");
		if (klen <= sizeof key &&
		    (is_secret_key(key, klen) ||
		     (is_dbname_key(key, klen) && looks_like_conninfo(s + v, vend - v))) &&
		    mask(r, v, vend) != 0)
			return -1;
	}
	return 0;
}

/* Finds the secrets of a libpq keyword string, reading it as conninfo_parse()
 * does: blanks around '=', values either bare (backslash escapes the next
 * byte, a blank ends it) or in single quotes (backslash escapes). */
static int kv_ranges(const char *s, size_t len, struct dsn_ranges *r)
{
	size_t i = 0;

	while (i < len) {
		size_t k, klen, v;

		if (isspace((unsigned char)s[i])) {
			i++;
			continue;
		}
		k = i;
		while (i < len && s[i] != '=' && !isspace((unsigned char)s[i]))
			i++;
		klen = i - k;
		while (i < len && isspace((unsigned char)s[i]))
			i++;
		if (i >= len || s[i] != '=')
			return -1;
		i++;
		while (i < len && isspace((unsigned char)s[i]))
			i++;
		v = i;
		if (i < len && s[i] == '\'') {
			for (i++;; i++) {
				if (i >= len)
					return -1; /* unterminated quote */
				if (s[i] == '\\') {
					i++;
					if (i >= len)
						return -1;
					continue;
				}
				if (s[i] == '\'')
					break;
			}
			i++;
		} else {
			while (i < len && !isspace((unsigned char)s[i]))
				i += s[i] == '\\' && i + 1 < len ? 2 : 1;
		}
		if ((is_secret_key(s + k, klen) ||
		     (is_dbname_key(s + k, klen) && looks_like_conninfo(s + v, i - v))) &&
		    mask(r, v, i) != 0)
			return -1;
	}
	return 0;
}

/* Appends len bytes of p to out (size n, n > 0) at *o, cutting at n - 1. */
static void emit(char *out, size_t n, size_t *o, const char *p, size_t len)
{
	size_t room = n - 1 - *o;

	if (len > room)
		len = room;
	memcpy(out + *o, p, len);
	*o += len;
	out[*o] = '\0';
}

void dsn_redact(const char *dsn, char *out, size_t n)
{
	struct dsn_ranges r;
	size_t len, pre, i, o = 0;
	int rc;

	if (n == 0)
		return;
	out[0] = '\0';
	if (dsn == NULL)
		return;
	r.n = 0;
	len = strlen(dsn);
	pre = url_prefix(dsn);
	rc = pre > 0 ? url_ranges(dsn, len, pre, &r) : kv_ranges(dsn, len, &r);
	if (rc != 0) {
		emit(out, n, &o, DSN_UNPARSABLE, strlen(DSN_UNPARSABLE));
		return;
	}
	for (i = 0; i < len;) {
		size_t end = i, j;
		bool grew = true;

		/* Ranges may touch or overlap: follow them to the end of the run. */
		while (grew) {
			grew = false;
			for (j = 0; j < r.n; j++) {
				if (r.start[j] <= end && end < r.end[j]) {
					end = r.end[j];
					grew = true;
				}
			}
		}
		if (end > i) {
			emit(out, n, &o, DSN_MASK, strlen(DSN_MASK));
			i = end;
		} else {
			emit(out, n, &o, dsn + i, 1);
			i++;
		}
	}
}

/* Decodes %XX escapes of s[0..n) into a new string; NULL on a bad escape. */
static char *percent_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);

	if (out != NULL && num_pct_decode(s, n, out, n + 1) != 0) {
		free(out);
		out = NULL;
	}
	return out;
}

int dsn_split_search_path(const char *url, char **url_out, char **sp_out, struct sg_err *err)
{
	const char *q;
	char *out = NULL, *sp = NULL;
	size_t len = strlen(url), o = 0;

	*url_out = NULL;
	*sp_out = NULL;
	if ((out = malloc(len + 1)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	q = strchr(url, '?');
	if ((strncmp(url, "postgres://", 11) != 0 && strncmp(url, "postgresql://", 13) != 0) ||
	    q == NULL) {
		memcpy(out, url, len + 1);
		*url_out = out;
		return 0;
	}
	memcpy(out, url, (size_t)(q - url));
	o = (size_t)(q - url);
	for (const char *p = q + 1; *p != '\0';) {
		const char *end = strchr(p, '&');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		if (n > 12 && strncmp(p, "search_path=", 12) == 0) {
			free(sp);
			if ((sp = percent_decode(p + 12, n - 12)) == NULL) {
				free(out);
				return sg_err_set(err, SG_E_CONFIG,
				                  "DATABASE_URL: bad %%-escape in search_path");
			}
		} else if (n > 0) {
			char sep = o == (size_t)(q - url) ? '?' : '&';

			out[o++] = sep;
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	out[o] = '\0';
	*url_out = out;
	*sp_out = sp;
	return 0;
}
