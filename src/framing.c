/* framing.c - HTTP/1.x message boundaries for the gate (RFC 9112 sections 2-6, the parts a
 * relay of bodiless requests needs). */
#include "framing.h"

#include <string.h>
#include <strings.h>

/* The end of a head is civetweb's (get_http_header_len): the first "\n\n" or
 * "\r\n\r\n", whichever starts first. Nothing else ends it: "\n\r\n" once did
 * here, and civetweb went on waiting for the rest of a head the gate thought
 * complete, holding a pooled connection until its request timeout. */
size_t framing_head_end(const char *buf, size_t n, size_t *from)
{
	size_t i = *from;

	for (; i < n; i++) {
		if (buf[i] == '\n') {
			if (i + 1 >= n)
				break; /* may complete with the next byte: look here again */
			if (buf[i + 1] == '\n')
				return i + 2;
		} else if (buf[i] == '\r') {
			static const char rest[] = "\n\r\n";
			size_t k = 0;

			while (k < 3 && i + 1 + k < n && buf[i + 1 + k] == rest[k])
				k++;
			if (k == 3)
				return i + 4;
			if (i + 1 + k >= n)
				break; /* a "\r\n\r\n" may still be arriving; nothing later is
				          complete */
		}
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
	struct line v = {l->p + name_len + 1, l->n - name_len - 1};

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

/* civetweb 1.15 knows these methods (is_valid_http_method) and answers 400
 * to any other; the gate passes this subset of them. CONNECT and the WebDAV
 * ones are left out on purpose: civetweb gives them meanings of its own. */
static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};

static bool known_method(const char *p, size_t n)
{
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strlen(methods[i]) == n && memcmp(methods[i], p, n) == 0)
			return true;
	return false;
}

/* True when civetweb's local_uri for this path is the path itself: civetweb
 * percent-decodes it, turns '\\' into '/', removes dot segments, merges "//"
 * and drops a '.' before a '/' or at the end (remove_dot_segments). A path
 * that none of that changes is made of unreserved characters and '/', starts
 * with '/', has no empty segment inside and no '.' before a '/' or at the end. */
static bool canonical_path(const char *p, size_t n)
{
	if (n == 0 || p[0] != '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		bool last = i + 1 == n;

		if (c == '/') {
			if (!last && p[i + 1] == '/')
				return false;
		} else if (c == '.') {
			if (last || p[i + 1] == '/')
				return false;
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		             (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '~')) {
			return false;
		}
	}
	return true;
}

/* Bytes civetweb lets into a head (get_http_header_len refuses control
 * characters but CR and LF), narrowed: visible ASCII and space only (no tab,
 * no byte above 0x7e), and a CR only right before an LF. */
static bool clean_bytes(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\n')
			continue;
		if (c == '\r' ? i + 1 >= len || buf[i + 1] != '\n' : c < 0x20 || c > 0x7e)
			return false;
	}
	return true;
}

/* The request line "METHOD SP target SP HTTP/1.x", one space each: the way
 * civetweb's parse_http_request splits it, with nothing it would skip. */
static bool request_line(const struct line *l, struct framing_req *out)
{
	const char *sp1 = memchr(l->p, ' ', l->n), *sp2, *q;
	size_t rest;

	if (sp1 == NULL || sp1 == l->p)
		return false;
	out->method = (struct framing_span){l->p, (size_t)(sp1 - l->p)};
	rest = l->n - out->method.n - 1;
	if ((sp2 = memchr(sp1 + 1, ' ', rest)) == NULL || sp2 == sp1 + 1)
		return false;
	out->target = (struct framing_span){sp1 + 1, (size_t)(sp2 - sp1 - 1)};
	out->version = (struct framing_span){sp2 + 1, l->n - out->method.n - out->target.n - 2};
	if (!known_method(out->method.p, out->method.n) || out->version.n != 8 ||
	    (memcmp(out->version.p, "HTTP/1.1", 8) != 0 &&
	     memcmp(out->version.p, "HTTP/1.0", 8) != 0))
		return false;
	q = memchr(out->target.p, '?', out->target.n);
	out->path = (struct framing_span){out->target.p,
	                                  q != NULL ? (size_t)(q - out->target.p) : out->target.n};
	out->has_query = q != NULL;
	out->query = q != NULL ? (struct framing_span){q + 1, out->target.n - out->path.n - 1}
	                       : (struct framing_span){out->target.p + out->target.n, 0};
	/* the query may hold any visible character but a space (clean_bytes, sp2) */
	return canonical_path(out->path.p, out->path.n);
}

enum framing_verdict framing_request(const char *buf, size_t len, struct framing_req *out)
{
	struct line l;
	size_t pos = 0;
	bool ended = false;

	memset(out, 0, sizeof *out);
	if (!clean_bytes(buf, len) || !next_line(buf, len, &pos, &l) || !request_line(&l, out))
		return FRAMING_BAD;
	out->head_method = out->method.n == 4 && memcmp(out->method.p, "HEAD", 4) == 0;
	while (next_line(buf, len, &pos, &l)) {
		size_t nl;

		if (l.n == 0) {
			/* the empty line must be the last: civetweb stops reading
			 * headers at the first one and would ignore what follows */
			ended = pos == len;
			break;
		}
		if (!header_name(&l, &nl))
			return FRAMING_BAD;
		if (out->nheaders == FRAMING_MAX_HEADERS)
			return FRAMING_TOO_LARGE;
		/* civetweb's value: after the colon and any spaces, to the end of
		 * the line (trailing spaces kept) */
		{
			struct framing_span v = {l.p + nl + 1, l.n - nl - 1};

			while (v.n > 0 && v.p[0] == ' ')
				v.p++, v.n--;
			out->headers[out->nheaders].name = (struct framing_span){l.p, nl};
			out->headers[out->nheaders].value = v;
			out->nheaders++;
		}
		if (name_is(&l, nl, "transfer-encoding"))
			return FRAMING_BODY;
		/* civetweb would switch protocols (websocket) instead of answering */
		if (name_is(&l, nl, "upgrade"))
			return FRAMING_BAD;
		if (name_is(&l, nl, "content-length")) {
			struct line v = value_of(&l, nl);
			unsigned long long cl;

			if (!parse_length(&v, &cl))
				return FRAMING_BAD;
			if (cl != 0)
				return FRAMING_BODY;
		}
	}
	return ended ? FRAMING_OK : FRAMING_BAD;
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
