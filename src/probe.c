/* probe.c - `schemagate probe`: GET the sidecar's /readyz over a plain socket, exit 0 on 200. */
#include "probe.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "num.h"
#include "proc.h"

int probe_parse_url(const char *url, struct probe_url *u, struct sg_err *err)
{
	const char *p, *host, *host_end, *path;
	long port = 80;
	int n;

	memset(u, 0, sizeof *u);
	if (url == NULL || strncmp(url, "http://", 7) != 0)
		return sg_err_set(err, SG_E_USAGE,
		                  "probe.url \"%s\": only http:// URLs are supported",
		                  url != NULL ? url : "");
	p = url + 7;
	path = p + strcspn(p, "/?#");
	if (strchr(p, '#') != NULL || memchr(p, '@', (size_t)(path - p)) != NULL)
		return sg_err_set(err, SG_E_USAGE,
		                  "probe.url \"%s\": user info and fragments are "
		                  "not supported",
		                  url);
	if (*p == '[') {
		host = p + 1;
		host_end = memchr(host, ']', (size_t)(path - host));
		if (host_end == NULL)
			return sg_err_set(err, SG_E_USAGE, "probe.url \"%s\": unterminated [", url);
		p = host_end + 1;
	} else {
		host = p;
		host_end = memchr(host, ':', (size_t)(path - host));
		if (host_end == NULL)
			host_end = path;
		p = host_end;
	}
	if (host_end == host || (size_t)(host_end - host) >= sizeof u->host)
		return sg_err_set(err, SG_E_USAGE, "probe.url \"%s\": bad host", url);
	for (const char *c = host; c < host_end; c++)
		if (strchr(" \t\r\n/\\%", *c) != NULL)
			return sg_err_set(err, SG_E_USAGE, "probe.url \"%s\": bad host", url);
	memcpy(u->host, host, (size_t)(host_end - host));
	if (p < path) {
		char pb[8];
		size_t plen = (size_t)(path - p - 1);

		if (*p != ':' || plen == 0 || plen >= sizeof pb)
			return sg_err_set(err, SG_E_USAGE, "probe.url \"%s\": bad port", url);
		memcpy(pb, p + 1, plen);
		pb[plen] = '\0';
		if (num_parse_long(pb, 1, 65535, &port, NULL) != 0)
			return sg_err_set(err, SG_E_USAGE, "probe.url \"%s\": bad port \"%s\"", url,
			                  pb);
	}
	for (const char *c = path; *c != '\0'; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return sg_err_set(
			    err, SG_E_USAGE,
			    "probe.url \"%s\": spaces or control characters in the path", url);
	n = snprintf(u->path, sizeof u->path, "%s%s", *path == '/' ? "" : "/", path);
	if (n < 0 || (size_t)n >= sizeof u->path)
		return sg_err_set(err, SG_E_USAGE, "probe.url: path too long");
	snprintf(u->port, sizeof u->port, "%ld", port);
	return 0;
}

/* Waits for fd to become ready for events until deadline; -1 on timeout. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd pfd = {fd, events, 0};
		long long left = deadline - proc_now_ms();
		int r;

		if (left <= 0)
			return -1;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static int connect_to(const struct probe_url *u, long long deadline, struct sg_err *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, gai;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((gai = getaddrinfo(u->host, u->port, &hints, &res)) != 0) {
		sg_err_set(err, SG_E_DB, "probe: resolving %s: %s", u->host, gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int soerr = 0;
		socklen_t sl = sizeof soerr;

		if ((fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol)) < 0)
			continue;
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == 0 &&
		     getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0))
			break;
		sg_err_set(err, SG_E_DB, "probe: connect %s:%s: %s", u->host, u->port,
		           soerr != 0             ? strerror(soerr)
		           : errno == EINPROGRESS ? "timed out"
		                                  : strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int probe_get(const struct probe_url *u, long timeout_ms, int *status, char *body, size_t n,
              struct sg_err *err)
{
	long long deadline = proc_now_ms() + timeout_ms;
	char req[2400], resp[8192];
	size_t got = 0, sent = 0;
	int fd, len, rc = -1;
	const char *sp, *hdr_end;

	*status = 0;
	if (n > 0)
		body[0] = '\0';
	len = snprintf(req, sizeof req,
	               "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: schemagate-probe\r\n"
	               "Connection: close\r\n\r\n",
	               u->path, strchr(u->host, ':') != NULL ? "[" : "", u->host,
	               strchr(u->host, ':') != NULL ? "]" : "", u->port);
	if (len < 0 || (size_t)len >= sizeof req)
		return sg_err_set(err, SG_E_USAGE, "probe: URL too long");
	if ((fd = connect_to(u, deadline, err)) < 0)
		return -1;
	while (sent < (size_t)len) {
		ssize_t w = send(fd, req + sent, (size_t)len - sent, MSG_NOSIGNAL);

		if (w > 0) {
			sent += (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, deadline) != 0) {
				sg_err_set(err, SG_E_TIMEOUT, "probe: timed out sending");
				goto cleanup;
			}
		} else {
			sg_err_set(err, SG_E_DB, "probe: send: %s", strerror(errno));
			goto cleanup;
		}
	}
	/* Read until the server closes (we asked it to) or the buffer is full:
	 * only the status line and the first body line matter. */
	while (got < sizeof resp - 1) {
		ssize_t r = recv(fd, resp + got, sizeof resp - 1 - got, 0);

		if (r > 0) {
			got += (size_t)r;
		} else if (r == 0) {
			break;
		} else if (errno == EAGAIN || errno == EINTR) {
			if (wait_fd(fd, POLLIN, deadline) != 0) {
				sg_err_set(err, SG_E_TIMEOUT,
				           "probe: timed out after %ld ms waiting for %s:%s",
				           timeout_ms, u->host, u->port);
				goto cleanup;
			}
		} else {
			sg_err_set(err, SG_E_DB, "probe: recv: %s", strerror(errno));
			goto cleanup;
		}
	}
	resp[got] = '\0';
	if (strncmp(resp, "HTTP/1.", 7) != 0 || (sp = strchr(resp, ' ')) == NULL ||
	    !isdigit((unsigned char)sp[1]) || !isdigit((unsigned char)sp[2]) ||
	    !isdigit((unsigned char)sp[3]) || (sp[4] != ' ' && sp[4] != '\r')) {
		sg_err_set(err, SG_E_DB, "probe: not an HTTP response from %s:%s", u->host,
		           u->port);
		goto cleanup;
	}
	*status = (int)strtol(sp + 1, NULL, 10);
	if ((hdr_end = strstr(resp, "\r\n\r\n")) != NULL && n > 0) {
		const char *b = hdr_end + 4;
		size_t l = strcspn(b, "\r\n");

		/* Only the first line; truncation is intended. */
		snprintf(body, n, "%.*s", (int)l, b);
	}
	rc = 0;
cleanup:
	close(fd);
	return rc;
}

int cmd_probe(const struct cfg *cfg, int nrest, const char **rest, struct sg_err *err)
{
	struct probe_url u;
	char body[512];
	int status;

	(void)rest;
	if (nrest > 0)
		return sg_err_set(err, SG_E_USAGE, "probe takes no arguments (use --url)");
	if (probe_parse_url(cfg->probe_url, &u, err) != 0 ||
	    probe_get(&u, cfg->probe_timeout_ms, &status, body, sizeof body, err) != 0)
		return -1;
	if (status != 200)
		return sg_err_set(err, SG_E_DB, "probe: %s answered %d: %s", cfg->probe_url, status,
		                  body);
	return 0;
}
