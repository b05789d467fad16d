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
};

/* Returns the length of the head in buf[0..n) (through the empty line that
 * ends it, "\r\n\r\n" or a bare "\n\n"), or 0 while it is incomplete.
 * *from carries the scan position between calls on a growing buffer, so a
 * head trickled one byte at a time costs O(n) in all; start it at 0. */
size_t framing_head_end(const char *buf, size_t n, size_t *from);

/* What the gate needs to know of a request head. */
struct framing_req {
	bool head_method; /* HEAD: the response carries no body */
};

/* Checks a complete request head buf[0..len) (len from framing_head_end):
 * a method token, header lines that are "name: value" with a token name and
 * no folding, no Transfer-Encoding and no non-zero Content-Length. The rest
 * (target, version, semantics) is civetweb's to judge. */
enum framing_verdict framing_request(const char *buf, size_t len, struct framing_req *out);

/* What the gate needs to know of a response head. */
struct framing_resp {
	int status;          /* 200..599 */
	bool until_eof;      /* no length: the body ends when the server closes */
	bool close;          /* the server ends the connection after this response */
	unsigned long long body; /* body length when !until_eof */
};

/* Checks a complete response head buf[0..len) to a request that was HEAD
 * (head_request) or not. 1xx, chunked bodies, bad or conflicting lengths are
 * FRAMING_BAD: civetweb sends none of them to the requests the gate passes. */
enum framing_verdict framing_response(const char *buf, size_t len, bool head_request,
				      struct framing_resp *out);

#endif /* SCHEMAGATE_FRAMING_H */
