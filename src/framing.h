/* framing.h - where one HTTP/1.x message ends in a byte stream: the request
 * heads the gate must hold back, and the responses it relays. Pure. */
#ifndef SCHEMAGATE_FRAMING_H
#define SCHEMAGATE_FRAMING_H

#include <stdbool.h>
#include <stddef.h>

/* The most a request or response head may take, terminator included.
 * civetweb's max_request_size is set to the same value. */
#define FRAMING_MAX_HEAD 16384

enum framing_verdict {
	FRAMING_OK,        /* a whole, acceptable head */
	FRAMING_BAD,       /* malformed: answer 400 (request) or 502 (response) */
	FRAMING_BODY,      /* a request with a body: none of our endpoints takes one (413) */
	FRAMING_TOO_LARGE, /* more header lines than civetweb reads (431) */
};

/* civetweb reads at most MG_MAX_HEADERS (64 in 1.15) header lines and
 * silently ignores the rest; the gate refuses a head with more. http.c checks
 * that the two agree at compile time. */
#define FRAMING_MAX_HEADERS 64

/* A piece of the buffer given to framing_request (not NUL-terminated). */
struct framing_span {
	const char *p;
	size_t n;
};

/* Returns the length of the head in buf[0..n) (through the empty line that
 * ends it: the first "\n\n" or "\r\n\r\n", exactly as civetweb finds it), or 0
 * while it is incomplete. *from carries the scan position between calls on a
 * growing buffer, so a head trickled one byte at a time costs O(n) in all;
 * start it at 0. */
size_t framing_head_end(const char *buf, size_t n, size_t *from);

/* A request head as civetweb will see it. Every span points into the buffer
 * given to framing_request and is valid while it is. */
struct framing_req {
	struct framing_span method; /* one of GET HEAD POST PUT DELETE OPTIONS PATCH */
	struct framing_span target; /* the request target, path and query */
	struct framing_span path;   /* target up to '?': civetweb's local_uri, byte for byte */
	struct framing_span query;  /* after the '?' (empty when there is none) */
	bool has_query;
	struct framing_span version; /* "HTTP/1.0" or "HTTP/1.1" */
	bool head_method;            /* HEAD: the response carries no body */
	size_t nheaders;
	struct {
		struct framing_span name, value; /* value: civetweb's (leading spaces skipped) */
	} headers[FRAMING_MAX_HEADERS];
};

/* Checks a complete request head buf[0..len) (len from framing_head_end).
 * FRAMING_OK only for a head that civetweb 1.15 parses to the same method,
 * path (local_uri), query and header lines, and no more loosely: visible ASCII
 * and spaces only, CR only before LF; "METHOD SP /path[?query] SP HTTP/1.x";
 * a path civetweb's decoding and dot-segment removal leave unchanged; at most
 * FRAMING_MAX_HEADERS lines "name: value" with a token name right before the
 * colon (no folding); the one empty line at the end; no Transfer-Encoding and
 * no non-zero Content-Length. tests/fuzz/fuzz_framing_diff.c checks this
 * against a real civetweb. */
enum framing_verdict framing_request(const char *buf, size_t len, struct framing_req *out);

/* What the gate needs to know of a response head. */
struct framing_resp {
	int status;              /* 200..599 */
	bool until_eof;          /* no length: the body ends when the server closes */
	bool close;              /* the server ends the connection after this response */
	unsigned long long body; /* body length when !until_eof */
};

/* Checks a complete response head buf[0..len) to a request that was HEAD
 * (head_request) or not. 1xx, chunked bodies, bad or conflicting lengths are
 * FRAMING_BAD: civetweb sends none of them to the requests the gate passes. */
enum framing_verdict framing_response(const char *buf, size_t len, bool head_request,
                                      struct framing_resp *out);

#endif /* SCHEMAGATE_FRAMING_H */
