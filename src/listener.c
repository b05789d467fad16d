/* listener.c - the sidecar's public address: "HOST:PORT", "[V6]:PORT" or "PORT" to a
 * non-blocking listening socket. */
#include "listener.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The kernel clamps this to net.core.somaxconn (4096 by default). */
#define BACKLOG 4096

int listener_split(const char *addr, char *host, size_t hn, char *port, size_t pn,
		   struct sg_err *err)
{
	const char *h, *p;
	size_t hl;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (close == NULL || close == addr + 1 || close[1] != ':')
			return sg_err_set(err, SG_E_CONFIG, "serve.listen: \"%s\": expected [IPV6]:PORT",
					  addr);
		h = addr + 1;
		hl = (size_t)(close - h);
		p = close + 2;
	} else {
		const char *colon = strrchr(addr, ':');

		if (colon == NULL || colon == addr || strchr(addr, ':') != colon)
			return sg_err_set(err, SG_E_CONFIG,
					  "serve.listen: \"%s\": expected HOST:PORT or [IPV6]:PORT",
					  addr);
		h = addr;
		hl = (size_t)(colon - addr);
		p = colon + 1;
	}
	if (hl >= hn)
		return sg_err_set(err, SG_E_CONFIG, "serve.listen: \"%s\": host too long", addr);
	if (strlen(p) >= pn || p[0] == '\0' || strspn(p, "0123456789") != strlen(p) ||
	    atol(p) < 1 || atol(p) > 65535)
		return sg_err_set(err, SG_E_CONFIG, "serve.listen: \"%s\": bad port", addr);
	memcpy(host, h, hl);
	host[hl] = '\0';
	strcpy(port, p);
	return 0;
}

int listener_open(const char *addr, struct sg_err *err)
{
	char host[256], port[8];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	int fd = -1, one = 1, rc;

	if (listener_split(addr, host, sizeof host, port, sizeof port, err) != 0)
		return -1;
	hints.ai_family = AF_UNSPEC;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		sg_err_set(err, SG_E_CONFIG, "serve.listen: \"%s\": %s", addr, gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, BACKLOG) != 0) {
		sg_err_set(err, SG_E_CONFIG, "serve.listen: cannot listen on %s: %s", addr,
			   strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}
