/* dsn.c - connection strings as text: hiding their passwords, taking out what libpq refuses. */
#include "dsn.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

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

/* Longest parameter name shown (dsn_split's dropped, dsn_refused_param). */
#define DSN_NAME_MAX 64

/* The '?' that starts a postgres:// URL's query, or NULL (no query, or another kind of string).
 * It is looked for after the authority's last '@': a password may hold a '?' unencoded, and no
 * part of a password may be read as a parameter. */
static const char *query_start(const char *url)
{
	const char *p, *auth_end;

	if (strncmp(url, "postgres://", 11) == 0)
		p = url + 11;
	else if (strncmp(url, "postgresql://", 13) == 0)
		p = url + 13;
	else
		return NULL;
	/* User info ends at the first '@' before any '/', as libpq reads it. */
	auth_end = p + strcspn(p, "@/");
	if (*auth_end == '@')
		p = auth_end + 1;
	/* The hosts as libpq reads them: a '?' inside an IPv6 "[...]" is the host's, not the
	 * query's (libpq refuses a '[' without its ']': the URL is left to it whole). */
	for (;;) {
		if (*p == '[') {
			if ((p = strchr(p, ']')) == NULL)
				return NULL;
			p++;
		} else {
			p += strcspn(p, ":/?,");
		}
		if (*p == ':')
			p += strcspn(p, "/?,");
		if (*p != ',')
			break;
		p++;
	}
	return strchr(p, '?');
}

/* The name of the query pair p[0..n) (up to its '='), percent-decoded, cut to DSN_NAME_MAX
 * bytes, into key (DSN_NAME_MAX + 1 bytes, NUL-terminated); false without '=' or on a bad
 * escape. */
static bool pair_name(const char *p, size_t n, char *key)
{
	const char *eq = memchr(p, '=', n);
	size_t klen;

	if (eq == NULL || pct_decode(p, (size_t)(eq - p), key, DSN_NAME_MAX, &klen) != 0)
		return false;
	key[klen <= DSN_NAME_MAX ? klen : DSN_NAME_MAX] = '\0';
	return true;
}

/* Appends name to out at *o, after a comma unless first, every byte outside [A-Za-z0-9_.-]
 * shown as '?' (a name is written by whoever wrote the URL: it reaches a log line). */
static void put_name(char *out, size_t *o, const char *name)
{
	if (*o > 0)
		out[(*o)++] = ',';
	for (; *name != '\0'; name++)
		out[(*o)++] =
		    isalnum((unsigned char)*name) || strchr("_.-", *name) != NULL ? *name : '?';
	out[*o] = '\0';
}

void dsn_split_free(struct dsn_split *s)
{
	if (s == NULL)
		return;
	free(s->url);
	free(s->search_path);
	free(s->dropped);
	memset(s, 0, sizeof *s);
}

int dsn_split(const char *url, struct dsn_split *out, struct sg_err *err)
{
	const char *q = query_start(url);
	size_t len = strlen(url), o, d = 0;

	memset(out, 0, sizeof *out);
	/* Each name shown is at most as long as its part of the URL, or DSN_NAME_MAX. */
	if ((out->url = malloc(len + 1)) == NULL || (out->dropped = malloc(len + 1)) == NULL) {
		dsn_split_free(out);
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	}
	if (q == NULL) {
		memcpy(out->url, url, len + 1);
		free(out->dropped);
		out->dropped = NULL;
		return 0;
	}
	memcpy(out->url, url, (size_t)(q - url));
	o = (size_t)(q - url);
	for (const char *p = q + 1; *p != '\0';) {
		const char *end = strchr(p, '&');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		char key[DSN_NAME_MAX + 1];
		bool named = pair_name(p, n, key);
		const char *v = named ? (const char *)memchr(p, '=', n) + 1 : NULL;

		/* An empty search_path= stays: libpq refuses it, naming it. */
		if (named && strcmp(key, "search_path") == 0 && v < p + n) {
			free(out->search_path);
			if ((out->search_path = percent_decode(v, n - (size_t)(v - p))) == NULL) {
				dsn_split_free(out);
				return sg_err_set(err, SG_E_CONFIG,
				                  "DATABASE_URL: bad %%-escape in search_path");
			}
		} else if (named && (strncmp(key, "x-", 2) == 0 || strncmp(key, "pool_", 5) == 0)) {
			out->migrations_table |= strcmp(key, "x-migrations-table") == 0;
			put_name(out->dropped, &d, key);
		} else if (n > 0) {
			char sep = o == (size_t)(q - url) ? '?' : '&';

			out->url[o++] = sep;
			memcpy(out->url + o, p, n);
			o += n;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	out->url[o] = '\0';
	if (d == 0) {
		free(out->dropped);
		out->dropped = NULL;
	}
	return 0;
}

bool dsn_refused_param(const char *url, char *name, size_t n)
{
	const char *q = query_start(url);

	if (n == 0 || q == NULL)
		return false;
	for (const char *p = q + 1; *p != '\0';) {
		size_t len = strcspn(p, "&"), shown = 0;
		char key[DSN_NAME_MAX + 1], *one, *why = NULL;
		PQconninfoOption *opts;

		if (len > 0 && pair_name(p, len, key) &&
		    (one = malloc(len + sizeof "postgresql://?")) != NULL) {
			memcpy(one, "postgresql://?", sizeof "postgresql://?" - 1);
			memcpy(one + sizeof "postgresql://?" - 1, p, len);
			one[sizeof "postgresql://?" - 1 + len] = '\0';
			bool refused;

			opts = PQconninfoParse(one, &why);
			refused = opts == NULL;
			free(one);
			if (opts != NULL)
				PQconninfoFree(opts);
			PQfreemem(why); /* NULL-safe */
			if (refused) {
				char buf[DSN_NAME_MAX + 1];

				put_name(buf, &shown, key);
				snprintf(name, n, "%s", buf); /* cutting the name is intended */
				return true;
			}
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return false;
}
