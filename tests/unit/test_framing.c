/* test_framing.c - HTTP message boundaries (framing.c): table-driven. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <string.h>

#include "framing.h"

/* One-shot and byte-by-byte scans agree, and both find the expected end. */
static size_t end_trickled(const char *s, size_t n)
{
	size_t from = 0;

	for (size_t i = 1; i <= n; i++) {
		size_t e = framing_head_end(s, i, &from);

		if (e != 0)
			return e;
	}
	return 0;
}

Test(framing, head_end)
{
	static const struct {
		const char *in;
		size_t end;
	} cases[] = {
	    {"GET / HTTP/1.1\r\n\r\n", 18},
	    {"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next", 27},
	    {"GET / HTTP/1.1\n\n", 16},
	    {"GET / HTTP/1.1\nHost: x\n\n", 24},
	    /* civetweb waits on after "\n\r\n": so does the gate */
	    {"GET / HTTP/1.1\r\nHost: x\n\r\n", 0},
	    {"GET / HTTP/1.1\r\nHost: x\n\r\nX", 0},
	    {"GET / HTTP/1.1\r\nHost: x\n\r\n\r\n", 28},
	    {"GET / HTTP/1.1\r\nHost: x\r\n\n", 26},
	    {"GET / HTTP/1.1\r\n\r\r\n\r\n", 21},
	    {"GET / HTTP/1.1\r\nHost: x\r\n", 0},
	    {"GET / HTTP/1.1\r\nHost: x\r\n\r", 0},
	    {"GET / HTTP/1.1\r\n\rX\n", 0},
	    {"", 0},
	    {"\n", 0},
	    {"\n\n", 2},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = strlen(cases[i].in), from = 0;

		cr_expect_eq(framing_head_end(cases[i].in, n, &from), cases[i].end,
		             "case %zu one-shot", i);
		cr_expect_eq(end_trickled(cases[i].in, n), cases[i].end, "case %zu trickled", i);
		cr_expect_leq(from, n, "case %zu: resume position past the end", i);
	}
}

Test(framing, request_verdicts)
{
	static const struct {
		const char *head;
		enum framing_verdict want;
		bool head_method;
	} cases[] = {
	    {"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", FRAMING_OK, false},
	    {"HEAD /readyz HTTP/1.1\r\n\r\n", FRAMING_OK, true},
	    {"HEADX /readyz HTTP/1.1\r\n\r\n", FRAMING_BAD, false},
	    {"get /readyz HTTP/1.1\r\n\r\n", FRAMING_BAD, false},
	    {"CONNECT /readyz HTTP/1.1\r\n\r\n", FRAMING_BAD, false},
	    {"GET /readyz?verbose&exclude=redis HTTP/1.0\n\n", FRAMING_OK, false},
	    {"GET /readyz HTTP/1.1\r\nHost: x\r\n\n", FRAMING_OK, false},
	    {"POST /readyz HTTP/1.1\r\nContent-Length: 0\r\n\r\n", FRAMING_OK, false},
	    {"POST /readyz HTTP/1.1\r\ncontent-length:  000 \r\n\r\n", FRAMING_OK, false},
	    {"POST /readyz HTTP/1.1\r\nContent-Length: 5\r\n\r\n", FRAMING_BODY, false},
	    {"POST / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 7\r\n\r\n", FRAMING_BODY,
	     false},
	    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", FRAMING_BODY, false},
	    {"POST / HTTP/1.1\r\ntransfer-encoding: identity\r\n\r\n", FRAMING_BODY, false},
	    {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", FRAMING_BAD, false},
	    {"POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", FRAMING_BAD, false},
	    {"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", FRAMING_BAD, false},
	    {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", FRAMING_BAD, false},
	    /* whitespace before the colon smuggles headers past some parsers */
	    {"GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n", FRAMING_BAD, false},
	    {"GET / HTTP/1.1\r\nHost x\r\n\r\n", FRAMING_BAD, false},
	    {"GET / HTTP/1.1\r\n: x\r\n\r\n", FRAMING_BAD, false},
	    {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", FRAMING_BAD, false},
	    {"GET / HTTP/1.1\r\nX\x01Y: z\r\n\r\n", FRAMING_BAD, false},
	    {"GET\r\n\r\n", FRAMING_BAD, false},
	    {" GET / HTTP/1.1\r\n\r\n", FRAMING_BAD, false},
	    {"G(T / HTTP/1.1\r\n\r\n", FRAMING_BAD, false},
	    {"\x16\x03\x01\x02\x7f\n\n", FRAMING_BAD, false},
	    /* only what civetweb parses the same way */
	    {"GET /readyz HTTP/9.9\n\n", FRAMING_BAD, false},
	    {"GET /readyz HTTP/1.1 \n\n", FRAMING_BAD, false},
	    {"GET  /readyz HTTP/1.1\n\n", FRAMING_BAD, false},
	    {"GET readyz HTTP/1.1\n\n", FRAMING_BAD, false},
	    {"GET * HTTP/1.1\n\n", FRAMING_BAD, false},
	    {"GET http://x/readyz HTTP/1.1\n\n", FRAMING_BAD, false},
	    {"GET /../../etc/passwd HTTP/1.1\n\n", FRAMING_BAD, false},
	    {"GET /readyz/. HTTP/1.1\n\n", FRAMING_BAD, false},
	    {"GET /readyz./x HTTP/1.1\n\n", FRAMING_BAD, false},
	    {"GET //readyz HTTP/1.1\n\n", FRAMING_BAD, false},
	    {"GET /ready%7a HTTP/1.1\n\n", FRAMING_BAD, false},
	    {"GET /readyz\\x HTTP/1.1\n\n", FRAMING_BAD, false},
	    {"GET /a.b/.c/ HTTP/1.1\n\n", FRAMING_OK, false},
	    {"GET /readyz HTTP/1.1\r\nHost:\tx\r\n\r\n", FRAMING_BAD, false},
	    {"GET /readyz HTTP/1.1\r\nHost: x\ry\r\n\r\n", FRAMING_BAD, false},
	    {"GET /readyz HTTP/1.1\rHost: x\r\n\r\n", FRAMING_BAD, false},
	    {"GET /readyz HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n", FRAMING_BAD, false},
	    {"GET /readyz HTTP/1.1\r\nA: b\n\r\nC: d\n\n", FRAMING_BAD, false},
	    {"GET /readyz HTTP/1.1\n\r\nHost: x\n\n", FRAMING_BAD, false},
	    {"GET /readyz HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
	     FRAMING_BAD, false},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct framing_req r;
		size_t from = 0, n = strlen(cases[i].head);
		size_t end = framing_head_end(cases[i].head, n, &from);

		cr_assert_eq(end, n, "case %zu: test data is not one whole head", i);
		cr_expect_eq(framing_request(cases[i].head, end, &r), cases[i].want, "case %zu: %s",
		             i, cases[i].head);
		if (cases[i].want == FRAMING_OK)
			cr_expect_eq(r.head_method, cases[i].head_method, "case %zu", i);
	}
}

/* civetweb reads 64 header lines and ignores the rest: the gate refuses a
 * 65th, and the headers it reports are the ones civetweb sees. */
Test(framing, header_lines_and_values)
{
	char head[4096];
	size_t n = (size_t)snprintf(head, sizeof head, "GET /readyz?x=1 HTTP/1.1\r\n");
	struct framing_req r;
	size_t from = 0;

	for (int i = 0; i < FRAMING_MAX_HEADERS; i++)
		n += (size_t)snprintf(head + n, sizeof head - n, "X-%d:  v%d \r\n", i, i);
	memcpy(head + n, "\r\n", 3);
	cr_assert_eq(framing_head_end(head, n + 2, &from), n + 2);
	cr_assert_eq(framing_request(head, n + 2, &r), FRAMING_OK);
	cr_assert_eq(r.nheaders, FRAMING_MAX_HEADERS);
	cr_assert_eq(r.headers[3].name.n, 3);
	cr_assert_eq(memcmp(r.headers[3].name.p, "X-3", 3), 0);
	cr_assert_eq(r.headers[3].value.n, 3, "trailing spaces stay, as in civetweb");
	cr_assert_eq(memcmp(r.headers[3].value.p, "v3 ", 3), 0);
	cr_assert_eq(r.path.n, 7);
	cr_assert(r.has_query);
	cr_assert_eq(r.query.n, 3);
	n += (size_t)snprintf(head + n, sizeof head - n, "X-last: y\r\n\r\n");
	from = 0;
	cr_assert_eq(framing_head_end(head, n, &from), n);
	cr_assert_eq(framing_request(head, n, &r), FRAMING_TOO_LARGE);
}

Test(framing, response_verdicts)
{
	static const struct {
		const char *head;
		bool head_request;
		enum framing_verdict want;
		int status;
		bool until_eof, close;
		unsigned long long body;
	} cases[] = {
	    {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", false, FRAMING_OK, 200, false, false,
	     3},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", true, FRAMING_OK, 200, false, false,
	     0},
	    {"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 10\r\n\r\n",
	     false, FRAMING_OK, 503, false, true, 10},
	    {"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, foo\r\nContent-Length: 0\r\n\r\n", false,
	     FRAMING_OK, 200, false, false, 0},
	    {"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", false, FRAMING_OK, 200, false, true,
	     2},
	    {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n", false,
	     FRAMING_OK, 200, false, false, 2},
	    {"HTTP/1.1 200 OK\r\n\r\n", false, FRAMING_OK, 200, true, true, 0},
	    {"HTTP/1.1 304 Not Modified\r\n\r\n", false, FRAMING_OK, 304, false, false, 0},
	    {"HTTP/1.1 204 No Content\r\n\r\n", false, FRAMING_OK, 204, false, false, 0},
	    {"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", false, FRAMING_OK, 200, false, false, 1},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", false, FRAMING_OK,
	     200, false, false, 1},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", false,
	     FRAMING_BAD, 0, false, false, 0},
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, FRAMING_BAD, 0, false,
	     false, 0},
	    {"HTTP/1.1 100 Continue\r\n\r\n", false, FRAMING_BAD, 0, false, false, 0},
	    {"HTTP/1.1 600 Huh\r\n\r\n", false, FRAMING_BAD, 0, false, false, 0},
	    {"HTTP/1.1 20x OK\r\n\r\n", false, FRAMING_BAD, 0, false, false, 0},
	    {"HTTP/1.1 2000 OK\r\n\r\n", false, FRAMING_BAD, 0, false, false, 0},
	    {"HTTP/2.0 200 OK\r\n\r\n", false, FRAMING_BAD, 0, false, false, 0},
	    {"ICY 200 OK\r\n\r\n", false, FRAMING_BAD, 0, false, false, 0},
	    {"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false, FRAMING_BAD, 0, false, false,
	     0},
	    {"HTTP/1.1 200 OK\r\nBroken\r\n\r\n", false, FRAMING_BAD, 0, false, false, 0},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct framing_resp r;
		size_t from = 0, n = strlen(cases[i].head);
		size_t end = framing_head_end(cases[i].head, n, &from);

		cr_assert_eq(end, n, "case %zu: test data is not one whole head", i);
		cr_expect_eq(framing_response(cases[i].head, end, cases[i].head_request, &r),
		             cases[i].want, "case %zu: %s", i, cases[i].head);
		if (cases[i].want != FRAMING_OK)
			continue;
		cr_expect_eq(r.status, cases[i].status, "case %zu", i);
		cr_expect_eq(r.until_eof, cases[i].until_eof, "case %zu until_eof", i);
		cr_expect_eq(r.close, cases[i].close, "case %zu close", i);
		cr_expect_eq(r.body, cases[i].body, "case %zu body", i);
	}
}
