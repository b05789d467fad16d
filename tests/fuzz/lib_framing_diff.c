/* lib_framing_diff.c - runs one request head through framing.c and through a real civetweb, and
 * compares what each made of it (see lib_framing_diff.h). */
#include "lib_framing_diff.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <civetweb.h>

#include "framing.h"

#define REPORT_MAX (2 * FRAMING_MAX_HEAD)

static int civetweb_port; /* set once by framing_diff_start */

/* Appends s[0..n) to the report; false when it does not fit. */
static int put(char *out, size_t *len, const char *s, size_t n)
{
	if (*len + n >= REPORT_MAX)
		return -1;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
	return 0;
}

static int puts0(char *out, size_t *len, const char *s)
{
	return put(out, len, s, strlen(s));
}

/* civetweb's side: "method\npath\nquery or -\nversion\nname: value\n..." */
static int report(struct mg_connection *conn, void *data)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	char *out = malloc(REPORT_MAX);
	size_t len = 0;
	int bad = 0;

	(void)data;
	if (out == NULL)
		return 500;
	out[0] = '\0';
	bad |= puts0(out, &len, ri->request_method) | puts0(out, &len, "\n");
	bad |= puts0(out, &len, ri->local_uri != NULL ? ri->local_uri : "(null)") |
	       puts0(out, &len, "\n");
	if (ri->query_string != NULL)
		bad |= puts0(out, &len, "?") | puts0(out, &len, ri->query_string);
	else
		bad |= puts0(out, &len, "-");
	bad |= puts0(out, &len, "\n") | puts0(out, &len, ri->http_version) | puts0(out, &len, "\n");
	for (int i = 0; i < ri->num_headers; i++)
		bad |= puts0(out, &len, ri->http_headers[i].name) | puts0(out, &len, ": ") |
		       puts0(out, &len, ri->http_headers[i].value) | puts0(out, &len, "\n");
	if (bad) {
		free(out);
		return 500;
	}
	mg_send_http_ok(conn, "text/plain", (long long)len);
	mg_write(conn, out, len);
	free(out);
	return 200;
}

/* The gate's side, in the same form. */
static int expected(const struct framing_req *r, char *out)
{
	size_t len = 0;
	int bad = 0;

	out[0] = '\0';
	bad |= put(out, &len, r->method.p, r->method.n) | puts0(out, &len, "\n");
	bad |= put(out, &len, r->path.p, r->path.n) | puts0(out, &len, "\n");
	if (r->has_query)
		bad |= puts0(out, &len, "?") | put(out, &len, r->query.p, r->query.n);
	else
		bad |= puts0(out, &len, "-");
	bad |= puts0(out, &len, "\n") | put(out, &len, r->version.p + 5, r->version.n - 5) |
	       puts0(out, &len, "\n");
	for (size_t i = 0; i < r->nheaders; i++)
		bad |= put(out, &len, r->headers[i].name.p, r->headers[i].name.n) |
		       puts0(out, &len, ": ") |
		       put(out, &len, r->headers[i].value.p, r->headers[i].value.n) |
		       puts0(out, &len, "\n");
	return bad;
}

static int on_log(const struct mg_connection *conn, const char *message)
{
	(void)conn;
	(void)message;
	return 1; /* quiet: bad requests are the point here */
}

int framing_diff_start(void)
{
	/* the options of http.c that bear on parsing a request */
	char max_head[16];
	const char *options[] = {"listening_ports",
	                         "127.0.0.1:0",
	                         "num_threads",
	                         "4",
	                         "request_timeout_ms",
	                         "2000",
	                         "enable_keep_alive",
	                         "yes",
	                         "max_request_size",
	                         max_head,
	                         "enable_auth_domain_check",
	                         "no",
	                         NULL};
	struct mg_callbacks cb;
	struct mg_context *ctx;
	struct mg_server_port port;

	snprintf(max_head, sizeof max_head, "%d", FRAMING_MAX_HEAD);
	memset(&cb, 0, sizeof cb);
	cb.log_message = on_log;
	mg_init_library(0);
	if ((ctx = mg_start(&cb, NULL, options)) == NULL) {
		fprintf(stderr, "framing_diff: cannot start civetweb\n");
		return -1;
	}
	mg_set_request_handler(ctx, "/", report, NULL);
	if (mg_get_server_ports(ctx, 1, &port) != 1 || port.port <= 0) {
		fprintf(stderr, "framing_diff: civetweb has no port\n");
		return -1;
	}
	civetweb_port = port.port;
	return 0; /* runs until the process exits */
}

/* Closes with a reset: the harness makes ~20k connections a second, and
 * TIME_WAIT would use up the ephemeral ports within seconds. */
static void close_now(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(fd);
}

/* Sends head to civetweb, ends the stream, reads the whole answer into
 * *resp (malloc'd); returns its length, -1 when it could not connect or
 * send, -2 when no end of the answer came within 5 s. */
static long exchange(const char *head, size_t n, char **resp)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	size_t cap = 4096, len = 0, off = 0;
	char *buf = malloc(cap);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	long rc = -1;

	*resp = NULL;
	a.sin_port = htons((uint16_t)civetweb_port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (buf == NULL || fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
		goto fail;
	while (off < n) {
		ssize_t w = send(fd, head + off, n - off, MSG_NOSIGNAL);

		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	/* A head civetweb thinks incomplete now meets the end of the stream: no
	 * answer, instead of a wait for its request timeout. */
	shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, 5000) <= 0) {
			rc = -2;
			goto fail;
		}
		if (len + 1024 > cap) {
			char *q = realloc(buf, cap * 2);

			if (q == NULL)
				goto fail;
			buf = q;
			cap *= 2;
		}
		if ((r = recv(fd, buf + len, cap - len - 1, 0)) < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break; /* civetweb closes after the answer: it saw the end of the stream */
		len += (size_t)r;
	}
	close_now(fd);
	buf[len] = '\0';
	*resp = buf;
	return (long)len;
fail:
	if (fd >= 0)
		close_now(fd);
	free(buf);
	return rc;
}

const char *framing_diff_check(const char *data, size_t size, char *out, size_t outlen)
{
	static struct framing_req req; /* large; the harness is single-threaded */
	size_t skip = 0, n, from = 0, end, hend, rfrom = 0;
	char *resp = NULL, *want = NULL;
	struct framing_resp fr;
	const char *verdict = NULL;
	long rlen;

	/* as gate.c's client_parse: empty lines before the request are dropped */
	while (skip < size && (data[skip] == '\r' || data[skip] == '\n'))
		skip++;
	data += skip;
	n = size - skip < FRAMING_MAX_HEAD ? size - skip : FRAMING_MAX_HEAD;
	if ((end = framing_head_end(data, n, &from)) == 0 ||
	    framing_request(data, end, &req) != FRAMING_OK)
		return NULL; /* the gate waits, or refuses: civetweb never sees it */
	if ((want = malloc(REPORT_MAX)) == NULL || expected(&req, want) != 0) {
		free(want);
		return NULL; /* cannot happen within FRAMING_MAX_HEAD */
	}
	/* A machine under load may fail a connect or be slow once; a head
	 * civetweb does not take as whole fails every time. */
	for (int attempt = 0; attempt < 3 && (rlen = exchange(data, end, &resp)) < 0; attempt++)
		nanosleep(&(struct timespec){.tv_nsec = 100000000L}, NULL);
	if (rlen == -2) {
		snprintf(out, outlen, "civetweb gave no complete answer within 5 s, three times");
		verdict = out;
	} else if (rlen < 0) {
		snprintf(out, outlen, "cannot connect to civetweb: %s", strerror(errno));
		verdict = out;
	} else if ((hend = framing_head_end(resp, (size_t)rlen, &rfrom)) == 0) {
		snprintf(out, outlen, "civetweb did not answer a head the gate passes: %.200s",
		         resp);
		verdict = out;
	} else if (framing_response(resp, hend, false, &fr) != FRAMING_OK || fr.status != 200) {
		snprintf(out, outlen, "civetweb refused a head the gate passes: %.200s", resp);
		verdict = out;
	} else if ((size_t)rlen - hend != strlen(want) ||
	           memcmp(resp + hend, want, strlen(want)) != 0) {
		snprintf(out, outlen,
		         "civetweb parsed it differently:\ngate:\n%.1500s\ncivetweb:\n%.1500s",
		         want, resp + hend);
		verdict = out;
	}
	free(resp);
	free(want);
	return verdict;
}
