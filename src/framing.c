/* framing.c - HTTP/1.x message boundaries for the gate (RFC 9112 sections 2-6, the parts a
 * relay of bodiless requests needs). */
#include "framing.h"

#include <string.h>
#include <strings.h>

size_t framing_head_end(const char *buf, size_t n, size_t *from)
{
	size_t i = *from;

	for (; i < n; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < n && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < n && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
		if (i + 2 >= n)
			break; /* may complete with the next bytes: look here again */
	}
	*from = i < n ? i : n;
	return 0;
}

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* One header line, without its line ending. */
struct line {
	const char *p;
	size_t n;
};

/* Splits the next line off [*pos, len); false at the end. */
static bool next_line(const char *buf, size_t len, size_t *pos, struct line *l)
{
	const char *nl;

	if (*pos >= len)
		return false;
	l->p = buf + *pos;
	nl = memchr(l->p, '\n', len - *pos);
	l->n = nl != NULL ? (size_t)(nl - l->p) : len - *pos;
	*pos += l->n + (nl != NULL);
	if (l->n > 0 && l->p[l->n - 1] == '\r')
		l->n--;
	return true;
}

static bool name_is(const struct line *l, size_t name_len, const char *want)
{
	return name_len == strlen(want) && strncasecmp(l->p, want, name_len) == 0;
}

/* The value of a header line, without optional whitespace around it. */
static struct line value_of(const struct line *l, size_t name_len)
{
	struct line v = { l->p + name_len + 1, l->n - name_len - 1 };

	while (v.n > 0 && (v.p[0] == ' ' || v.p[0] == '\t'))
		v.p++, v.n--;
	while (v.n > 0 && (v.p[v.n - 1] == ' ' || v.p[v.n - 1] == '\t'))
		v.n--;
	return v;
}

/* Parses a Content-Length value: digits only, no overflow. */
static bool parse_length(const struct line *v, unsigned long long *out)
{
	unsigned long long x = 0;

	if (v->n == 0 || v->n > 18)
		return false;
	for (size_t i = 0; i < v->n; i++) {
		if (v->p[i] < '0' || v->p[i] > '9')
			return false;
		x = x * 10 + (unsigned long long)(v->p[i] - '0');
	}
	*out = x;
	return true;
}

/* Splits "name: value"; false unless the name is a non-empty token right
 * before the colon (whitespace there is a smuggling vector: RFC 9112 5.1). */
static bool header_name(const struct line *l, size_t *name_len)
{
	size_t i = 0;

	while (i < l->n && is_tchar((unsigned char)l->p[i]))
		i++;
	if (i == 0 || i >= l->n || l->p[i] != ':')
		return false;
	*name_len = i;
	return true;
}

/* True when a comma-separated token list holds tok (case-insensitive). */
static bool list_has(const struct line *v, const char *tok)
{
	size_t tl = strlen(tok), i = 0;

	while (i < v->n) {
		size_t s, e;

		while (i < v->n && (v->p[i] == ' ' || v->p[i] == '\t' || v->p[i] == ','))
			i++;
		s = i;
		while (i < v->n && v->p[i] != ',')
			i++;
		e = i;
		while (e > s && (v->p[e - 1] == ' ' || v->p[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v->p + s, tok, tl) == 0)
			return true;
	}
	return false;
}

enum framing_verdict framing_request(const char *buf, size_t len, struct framing_req *out)
{
	struct line l;
	size_t pos = 0, m = 0;

	out->head_method = false;
	if (!next_line(buf, len, &pos, &l))
		return FRAMING_BAD;
	while (m < l.n && is_tchar((unsigned char)l.p[m]))
		m++;
	if (m == 0 || m >= l.n || l.p[m] != ' ')
		return FRAMING_BAD;
	out->head_method = m == 4 && memcmp(l.p, "HEAD", 4) == 0;
	while (next_line(buf, len, &pos, &l) && l.n > 0) {
		size_t nl;

		if (!header_name(&l, &nl))
			return FRAMING_BAD;
		if (name_is(&l, nl, "transfer-encoding"))
			return FRAMING_BODY;
		if (name_is(&l, nl, "content-length")) {
			struct line v = value_of(&l, nl);
			unsigned long long cl;

			if (!parse_length(&v, &cl))
				return FRAMING_BAD;
			if (cl != 0)
				return FRAMING_BODY;
		}
	}
	return FRAMING_OK;
}

enum framing_verdict framing_response(const char *buf, size_t len, bool head_request,
				      struct framing_resp *out)
{
	struct line l;
	size_t pos = 0;
	bool have_len = false;
	unsigned long long cl = 0;

	memset(out, 0, sizeof *out);
	if (!next_line(buf, len, &pos, &l) || l.n < 12 || memcmp(l.p, "HTTP/1.", 7) != 0 ||
	    (l.p[7] != '0' && l.p[7] != '1') || l.p[8] != ' ')
		return FRAMING_BAD;
	for (int i = 9; i < 12; i++) {
		if (l.p[i] < '0' || l.p[i] > '9')
			return FRAMING_BAD;
		out->status = out->status * 10 + (l.p[i] - '0');
	}
	if (out->status < 200 || out->status > 599 || (l.n > 12 && l.p[12] != ' '))
		return FRAMING_BAD;
	out->close = l.p[7] == '0'; /* HTTP/1.0 closes unless it says keep-alive */
	while (next_line(buf, len, &pos, &l) && l.n > 0) {
		size_t nl;
		struct line v;

		if (!header_name(&l, &nl))
			return FRAMING_BAD;
		v = value_of(&l, nl);
		if (name_is(&l, nl, "transfer-encoding"))
			return FRAMING_BAD;
		if (name_is(&l, nl, "content-length")) {
			unsigned long long x;

			if (!parse_length(&v, &x) || (have_len && x != cl))
				return FRAMING_BAD;
			cl = x;
			have_len = true;
		} else if (name_is(&l, nl, "connection")) {
			if (list_has(&v, "close"))
				out->close = true;
			else if (list_has(&v, "keep-alive"))
				out->close = false;
		}
	}
	if (head_request || out->status == 204 || out->status == 304)
		out->body = 0;
	else if (have_len)
		out->body = cl;
	else
		out->until_eof = out->close = true;
	return FRAMING_OK;
}
