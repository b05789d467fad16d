/* test_gate.c - the sidecar's front door (gate.c) against a real `serve`: keep-alive, pipelining,
 * HEAD, refusals, eviction at serve.max_connections, request timeouts, contention for the
 * backend pool, and shutdown with connections in every state. */
#define _GNU_SOURCE /* POLLRDHUP */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sgt.h"
#include "sgt_http.h"

#define MIGRATIONS SG_SOURCE_DIR "/migrations"
#define MAX_CONNECTIONS 64 /* above the 32 pooled backend connections (http.c) */
#define STR_(x) #x
#define STR(x) STR_(x)

static char *dsn;
static int port;
static struct sgt_proc *proc;

static void setup(void)
{
	static const char *const flags[] = {"--max-connections", STR(MAX_CONNECTIONS),
	                                    "--request-timeout", "1s", NULL};

	sgt_require_services();
	signal(SIGPIPE, SIG_IGN);
	dsn = sgt_fresh_db("gate");
	port = sgt_http_free_port();
	proc = sgt_serve_start(dsn, port, flags);
}

static void teardown(void)
{
	sgt_proc_free(proc);
	if (dsn != NULL)
		sgt_drop_db(dsn);
	free(dsn);
	dsn = NULL;
	proc = NULL;
}

TestSuite(gate, .init = setup, .fini = teardown, .timeout = 120);

static int connect_port(void)
{
	int fd = sgt_http_connect(port);

	cr_assert_geq(fd, 0, "connect: %s", strerror(errno));
	return fd;
}

/* Three requests in one write on one connection: each answered in order, the
 * HEAD one without a body, and the connection closed after the one that
 * asked for it. Blank lines before a request are skipped (RFC 9112 2.2). */
Test(gate, pipelined_keep_alive_and_head)
{
	static const char req[] = "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	                          "\r\n"
	                          "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	                          "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	                          "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	int fd = connect_port();
	char *resp, *second, *third;

	cr_assert_eq(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
	resp = sgt_http_read_to_close(fd, 5000);
	close(fd);
	cr_assert_not_null(resp, "the connection stayed open after Connection: close");
	cr_assert_eq(strncmp(resp, "HTTP/1.1 200 ", 13), 0, "%s", resp);
	cr_assert(sgt_contains(resp, "Content-Length: 3\r\n"), "%s", resp);
	/* The HEAD answer ends at its blank line: the next status line follows. */
	second = strstr(resp, "\r\n\r\n");
	cr_assert_not_null(second);
	second += 4;
	cr_assert_eq(strncmp(second, "HTTP/1.1 200 ", 13), 0, "HEAD carried a body: %s", resp);
	third = strstr(second, "\r\n\r\nok\n");
	cr_assert_not_null(third, "%s", resp);
	third += 7;
	cr_assert_eq(strncmp(third, "HTTP/1.1 404 ", 13), 0, "%s", resp);
	cr_assert_null(strstr(third + 13, "HTTP/1.1 "), "answered past Connection: close: %s",
	               resp);
	free(resp);
}

/* What the gate answers itself; nothing of these reaches civetweb. */
Test(gate, refuses_what_it_cannot_frame)
{
	static const struct {
		const char *req;
		int status;
	} cases[] = {
	    {"POST /readyz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 413},
	    {"POST /readyz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	     413},
	    {"GET /readyz HTTP/1.1\r\nHost : x\r\n\r\n", 400},
	    {"GET /readyz HTTP/1.1\r\nContent-Length: 0\r\nContent-Length : 5\r\n\r\n", 400},
	    {"GET /readyz HTTP/1.1\r\nno colon here\r\n\r\n", 400},
	    {"GET /readyz HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},
	    {"GET\r\n\r\n", 400},
	};
	long long before = sgt_http_metric(port, "schemagate_http_requests_refused_total");
	size_t big = 20000;
	char *huge = malloc(big + 64), *resp = NULL;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int st = sgt_http_raw(port, cases[i].req, strlen(cases[i].req), &resp, 3000);

		cr_expect_eq(st, cases[i].status, "%s -> %d: %s", cases[i].req, st,
		             resp != NULL ? resp : "");
		cr_expect(sgt_contains(resp, "Connection: close\r\n"), "%s", resp);
		free(resp);
		resp = NULL;
	}
	/* A head longer than 16 KiB: 431, however it is cut. */
	cr_assert_not_null(huge);
	memcpy(huge, "GET /readyz HTTP/1.1\r\nX: ", 25);
	memset(huge + 25, 'a', big - 25);
	cr_expect_eq(sgt_http_raw(port, huge, big, NULL, 3000), 431);
	free(huge);
	cr_expect_eq(sgt_http_metric(port, "schemagate_http_requests_refused_total"),
	             before + (long long)(sizeof cases / sizeof cases[0]) + 1);
	cr_expect_eq(proc->status, -1, "serve died");
}

/* At serve.max_connections, a newcomer is let in by dropping the oldest
 * connection that has not finished its request. */
Test(gate, evicts_the_oldest_unfinished_request_when_full)
{
	enum { N = MAX_CONNECTIONS + 8 };
	int fds[N];
	long long evicted0 = sgt_http_metric(port, "schemagate_http_connections_evicted_total");
	char *first;
	size_t still_open = 0;

	for (int i = 0; i < N; i++) {
		fds[i] = connect_port();
		(void)!write(fds[i], "GET /healthz HTTP/1.1\r\n", 23);
		sgt_sleep_ms(2); /* a distinct age for each: a pace, not a sync */
	}
	cr_assert_geq(sgt_http_wait_status(port, "/healthz", 200, 1000), 0,
	              "a new client got no answer at the connection cap");
	first = sgt_http_read_to_close(fds[0], 500);
	cr_expect_not_null(first, "the oldest connection was not dropped");
	cr_expect_str_eq(first != NULL ? first : "", "", "the evicted client got bytes");
	free(first);
	for (int i = N - 8; i < N; i++) {
		struct pollfd p = {.fd = fds[i], .events = POLLIN};

		still_open += poll(&p, 1, 0) == 0;
	}
	cr_expect_eq(still_open, 8, "the newest connections were dropped, not the oldest");
	for (int i = 0; i < N; i++)
		close(fds[i]);
	cr_expect_geq(sgt_http_metric(port, "schemagate_http_connections_evicted_total") - evicted0,
	              8);
}

/* serve.request_timeout (1 s here): a half-sent request gets 408, a silent
 * connection is closed without a word, a finished keep-alive connection is
 * closed when it stays idle. */
Test(gate, request_timeout_ends_slow_and_idle_clients)
{
	int half = connect_port(), silent = connect_port(), idle = connect_port();
	long long t0 = sgt_http_metric(port, "schemagate_http_timeouts_total");
	char *a, *b, *c;
	static const char get[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	char ok[256];
	ssize_t n;

	(void)!write(half, "GET /readyz HTTP/1.1\r\nHost", 26);
	cr_assert_eq(write(idle, get, sizeof get - 1), (ssize_t)(sizeof get - 1));
	n = read(idle, ok, sizeof ok - 1);
	cr_assert_gt(n, 0);
	ok[n] = '\0';
	cr_assert_eq(strncmp(ok, "HTTP/1.1 200 ", 13), 0, "%s", ok);
	a = sgt_http_read_to_close(half, 5000);
	b = sgt_http_read_to_close(silent, 5000);
	c = sgt_http_read_to_close(idle, 5000);
	cr_assert_not_null(a, "a half request was kept past the timeout");
	cr_assert_not_null(b, "a silent connection was kept past the timeout");
	cr_assert_not_null(c, "an idle keep-alive connection was kept past the timeout");
	cr_expect_eq(strncmp(a, "HTTP/1.1 408 ", 13), 0, "%s", a);
	cr_expect_str_eq(b, "");
	cr_expect_str_eq(c, "");
	free(a);
	free(b);
	free(c);
	close(half);
	close(silent);
	close(idle);
	cr_expect_geq(sgt_http_metric(port, "schemagate_http_timeouts_total") - t0, 3);
}

/* More keep-alive clients than pooled backend connections, all at once:
 * every request answered, in order, on its own connection. */
enum { CLIENTS = 48, REQUESTS = 200 };

static void *hammer(void *arg)
{
	static const char get[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	int fd = sgt_http_connect(port), ok = 0;
	char buf[1024];
	size_t have = 0;

	(void)arg;
	for (int i = 0; fd >= 0 && i < REQUESTS; i++) {
		char *end;

		if (write(fd, get, sizeof get - 1) != (ssize_t)(sizeof get - 1))
			break;
		/* one response: the head then exactly Content-Length bytes */
		for (;;) {
			ssize_t n;

			buf[have] = '\0';
			if ((end = strstr(buf, "\r\n\r\n")) != NULL) {
				char *cl = strstr(buf, "Content-Length: ");
				size_t total = (size_t)(end + 4 - buf) +
				               (cl != NULL ? strtoul(cl + 16, NULL, 10) : 0);

				if (have >= total) {
					ok += strncmp(buf, "HTTP/1.1 200 ", 13) == 0;
					memmove(buf, buf + total, have - total);
					have -= total;
					break;
				}
			}
			n = read(fd, buf + have, sizeof buf - 1 - have);
			if (n <= 0)
				goto out;
			have += (size_t)n;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	return (void *)(intptr_t)ok;
}

Test(gate, more_clients_than_backends)
{
	pthread_t t[CLIENTS];
	long total = 0;

	for (int i = 0; i < CLIENTS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, hammer, NULL), 0);
	for (int i = 0; i < CLIENTS; i++) {
		void *ok;

		pthread_join(t[i], &ok);
		total += (long)(intptr_t)ok;
	}
	cr_expect_eq(total, (long)CLIENTS * REQUESTS);
	cr_expect_eq(proc->status, -1, "serve died");
}

/* SIGTERM with connections in every state: serve still stops at once and
 * cleanly (the gate closes them; nothing waits on a slow client). */
Test(gate, stops_with_connections_open)
{
	int fds[12];
	int rc;

	for (int i = 0; i < 12; i++) {
		fds[i] = connect_port();
		if (i % 3 == 1)
			(void)!write(fds[i], "GET /readyz HTTP/1.1\r\n", 22);
		if (i % 3 == 2)
			(void)!write(fds[i], "GET /metrics HTTP/1.1\r\n\r\n", 25); /* never read */
	}
	sgt_sleep_ms(100); /* let the gate take them in: a pace, not a sync */
	sgt_signal(proc, SIGTERM);
	rc = sgt_wait(proc, 5000);
	for (int i = 0; i < 12; i++)
		close(fds[i]);
	cr_expect_eq(rc, 0, "exit %d: %s", rc, sgt_stderr(proc));
}

/* Issue 22: the gate read a client's next pipelined request as soon as the
 * kernel had taken the previous answer, and the kernel took megabytes for a
 * client that never reads. Now the kernel holds at most about one socket
 * buffer ahead of the client, and the next request waits until the answer
 * before it is taken: a client that pipelines 200 GET /metrics (~10 KB
 * each) and reads nothing gets a handful answered, then is closed once it
 * has taken nothing for the request timeout (1 s here). */
Test(gate, a_client_that_does_not_read_gets_no_more_answers)
{
	static const char get[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char *const served =
	    "schemagate_http_requests_total{path=\"/metrics\",code=\"200\"}";
	enum { PIPELINED = 200 };
	size_t n;
	char *burst = sgt_http_pipeline(get, PIPELINED * (sizeof get - 1), &n);
	long long before = sgt_http_metric(port, served), after;
	int fd = sgt_http_connect_unread(port, false);

	cr_assert(fd >= 0 && burst != NULL, "%s", strerror(errno));
	cr_assert_eq(send(fd, burst, n, MSG_NOSIGNAL), (ssize_t)n);
	{
		/* closed by the server: the end of the stream comes after what it
		 * sent, unread, so wait for the hang-up itself */
		struct pollfd p = {.fd = fd, .events = POLLRDHUP};

		cr_expect_eq(poll(&p, 1, 10000), 1, "still open 10 s after the answers stalled");
	}
	after = sgt_http_metric(port, served);
	close(fd);
	free(burst);
	cr_log_info("%lld of %d pipelined requests answered", after - before - 1, PIPELINED);
	/* after - before counts the metrics request that read `before` too */
	cr_expect_leq(after - before - 1, 16,
	              "%lld answers were taken for a client that reads none", after - before - 1);
	cr_expect_geq(after - before - 1, 1, "the client got no answer at all");
}

/* The listen address as given: IPv6 works, and a port already taken is a
 * configuration error (exit 2) that names the address. */
Test(gate, listens_on_ipv6_and_names_a_taken_port)
{
	char listen6[48], taken[32], *out = NULL, *err = NULL;
	char *url = sgt_fmt("DATABASE_URL=%s", dsn);
	int port6 = sgt_http_free_port(), rc, fd6;
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port6)};
	const char *argv6[] = {"schemagate",       "serve",    "--dir",
	                       MIGRATIONS,         "--listen", listen6,
	                       "--expect-version", "0",        NULL};
	const char *argv_taken[] = {"schemagate",       "serve",    "--dir",
	                            MIGRATIONS,         "--listen", taken,
	                            "--expect-version", "0",        NULL};
	const char *env[] = {url, "SCHEMAGATE_LOG_FORMAT=text", "-REDIS_URL", NULL};
	struct sgt_proc *p6;
	static const char get[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char buf[256];
	ssize_t n = 0;

	snprintf(taken, sizeof taken, "127.0.0.1:%d", port); /* the fixture's serve has it */
	rc = sgt_run(argv_taken, env, &out, &err, 10000);
	cr_expect_eq(rc, 2, "exit %d: %s", rc, err);
	cr_expect(sgt_contains(err, taken) && sgt_contains(err, "in use"), "stderr: %s", err);
	free(out);
	free(err);

	if ((fd6 = socket(AF_INET6, SOCK_STREAM, 0)) < 0)
		cr_skip_test("no IPv6 here");
	close(fd6);
	snprintf(listen6, sizeof listen6, "[::1]:%d", port6);
	p6 = sgt_spawn(argv6, env);
	a.sin6_addr = in6addr_loopback;
	for (int tries = 0; tries < 200 && n <= 0; tries++) {
		fd6 = socket(AF_INET6, SOCK_STREAM, 0);
		if (connect(fd6, (struct sockaddr *)&a, sizeof a) == 0 &&
		    write(fd6, get, sizeof get - 1) == (ssize_t)(sizeof get - 1))
			n = read(fd6, buf, sizeof buf - 1);
		close(fd6);
		if (n <= 0)
			sgt_sleep_ms(50);
	}
	cr_assert_gt(n, 0, "no answer on [::1]:%d: %s", port6, sgt_stderr(p6));
	buf[n] = '\0';
	cr_expect_eq(strncmp(buf, "HTTP/1.1 200 ", 13), 0, "%s", buf);
	sgt_proc_free(p6);
	free(url);
}
