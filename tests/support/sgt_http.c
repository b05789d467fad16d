/* sgt_http.c - a tiny HTTP/1.1 client over plain sockets for the sidecar tests. */
#include "proc.h"
#include "sgt_http.h"

#include "sgt.h"

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int sgt_http_free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int sgt_http_connect(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

int sgt_http_connect_unread(int port, bool nonblock)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0), small = 4096;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 &&
	    !(nonblock && errno == EINPROGRESS)) {
		close(fd);
		return -1;
	}
	return fd;
}

char *sgt_http_pipeline(const char *req, size_t max, size_t *len)
{
	size_t n = strlen(req), times = max / n > 0 ? max / n : 1;
	char *burst = malloc(times * n);

	*len = 0;
	for (size_t i = 0; burst != NULL && i < times; i++, *len += n)
		memcpy(burst + *len, req, n);
	return burst;
}

char *sgt_http_read_to_close(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t cap = 4096, have = 0;
	char *buf = malloc(cap);

	if (buf == NULL)
		return NULL;
	while (poll(&p, 1, timeout_ms) == 1) {
		ssize_t n;

		if (cap - have < 1024) {
			char *nb = realloc(buf, cap * 2);

			if (nb == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		if ((n = read(fd, buf + have, cap - 1 - have)) <= 0) {
			buf[have] = '\0';
			return buf;
		}
		have += (size_t)n;
	}
	free(buf);
	return NULL;
}

struct sgt_proc *sgt_serve_start(const char *dsn, int port, const char *const extra[])
{
	const char *argv[32] = {"schemagate",
	                        "serve",
	                        "--dir",
	                        SG_SOURCE_DIR "/migrations",
	                        "--listen",
	                        NULL,
	                        "--check-interval",
	                        "100ms",
	                        "--expect-version",
	                        "0"};
	char *url = sgt_fmt("DATABASE_URL=%s", dsn), *listen = sgt_fmt("127.0.0.1:%d", port);
	const char *env[] = {url,
	                     "SCHEMAGATE_LOG_FORMAT=text",
	                     "-REDIS_URL",
	                     "-DATABASE_SEARCH_PATH",
	                     "-SCHEMAGATE_CONFIG",
	                     NULL};
	size_t n = 10;
	struct sgt_proc *p;

	argv[5] = listen;
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
		cr_assert_lt(n, sizeof argv / sizeof argv[0] - 1, "too many flags");
		argv[n++] = extra[i];
	}
	p = sgt_spawn(argv, env);
	free(url);
	free(listen);
	cr_assert_geq(sgt_http_wait_status(port, "/healthz", 200, 10000), 0, "%s", sgt_stderr(p));
	return p;
}

int sgt_http_raw(int port, const char *req, size_t len, char **resp, int timeout_ms)
{
	long long deadline = proc_now_ms() + timeout_ms;
	size_t cap = 4096, got = 0, sent = 0;
	char *buf = NULL;
	int fd, status = 0;

	if (resp != NULL)
		*resp = NULL;
	if ((fd = sgt_http_connect(port)) < 0)
		return -1;
	while (sent < len) {
		ssize_t w = send(fd, req + sent, len - sent, MSG_NOSIGNAL);

		if (w <= 0)
			break; /* the server may close early on a bad request: read what it said */
		sent += (size_t)w;
	}
	if ((buf = malloc(cap)) == NULL) {
		close(fd);
		return -1;
	}
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		long long left = deadline - proc_now_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		if (got + 1024 > cap) {
			char *nb = realloc(buf, cap * 2);

			if (nb == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		r = recv(fd, buf + got, cap - got - 1, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	close(fd);
	if (strncmp(buf, "HTTP/1.", 7) == 0 && got > 12)
		status = (int)strtol(buf + 9, NULL, 10);
	if (resp != NULL)
		*resp = buf;
	else
		free(buf);
	return status;
}

int sgt_http_get(int port, const char *path, const char *extra, char **body)
{
	char req[4096], *resp = NULL, *b;
	int n, status;

	if (body != NULL)
		*body = NULL;
	n = snprintf(req, sizeof req,
	             "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n", path,
	             extra != NULL ? extra : "");
	if (n < 0 || (size_t)n >= sizeof req)
		return -1;
	status = sgt_http_raw(port, req, (size_t)n, &resp, 5000);
	if (body != NULL && resp != NULL && (b = strstr(resp, "\r\n\r\n")) != NULL)
		*body = strdup(b + 4);
	free(resp);
	return status;
}

long sgt_http_wait_status(int port, const char *path, int want, int timeout_ms)
{
	long long t0 = proc_now_ms();

	for (;;) {
		struct timespec ts = {0, 5 * 1000000L};

		if (sgt_http_get(port, path, NULL, NULL) == want)
			return (long)(proc_now_ms() - t0);
		if (proc_now_ms() - t0 > timeout_ms)
			return -1;
		nanosleep(&ts, NULL);
	}
}

long long sgt_http_metric(int port, const char *name)
{
	char *body = NULL, *needle = sgt_fmt("\n%s ", name), *p;
	long long v = -1;

	if (sgt_http_get(port, "/metrics", NULL, &body) == 200 && body != NULL &&
	    (p = strstr(body, needle)) != NULL)
		v = strtoll(p + strlen(needle), NULL, 10);
	free(body);
	free(needle);
	return v;
}
