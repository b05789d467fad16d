/* listener.c - the sidecar's public address: "HOST:PORT", "[V6]:PORT" or "PORT" to a
 * non-blocking listening socket. */
#include "listener.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "num.h"

/* The kernel clamps this to net.core.somaxconn (4096 by default). */
#define BACKLOG 4096

/* Values quoted in messages are cut to this many bytes. */
#define SHOW 64

static const char *more(const char *s)
{
	return strlen(s) > SHOW ? "..." : "";
}

int listener_split(const char *addr, char *host, size_t hn, char *port, size_t pn,
                   struct sg_err *err)
{
	struct sg_err why;
	const char *h, *p;
	size_t hl, pl;
	long num;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (close == NULL || close == addr + 1 || close[1] != ':')
			return sg_err_set(err, SG_E_CONFIG,
			                  "\"%.*s%s\" is not [IPV6]:PORT (e.g. [::]:8081)", SHOW,
			                  addr, more(addr));
		h = addr + 1;
		hl = (size_t)(close - h);
		p = close + 2;
	} else {
		const char *colon = strrchr(addr, ':');

		if (colon == NULL || colon == addr)
			return sg_err_set(err, SG_E_CONFIG,
			                  "\"%.*s%s\" is not HOST:PORT (e.g. 0.0.0.0:8081)", SHOW,
			                  addr, more(addr));
		if (memchr(addr, ':', (size_t)(colon - addr)) != NULL)
			return sg_err_set(
			    err, SG_E_CONFIG,
			    "\"%.*s%s\": put an IPv6 address in brackets (e.g. [::]:8081)", SHOW,
			    addr, more(addr));
		h = addr;
		hl = (size_t)(colon - addr);
		p = colon + 1;
	}
	pl = strlen(p);
	if (pl == 0 || strspn(p, "0123456789") != pl)
		return sg_err_set(err, SG_E_CONFIG, "\"%.*s%s\": bad port: digits expected", SHOW,
		                  addr, more(addr));
	if (num_parse_long(p, 1, 65535, &num, &why) != 0)
		return sg_err_set(err, SG_E_CONFIG, "\"%.*s%s\": bad port: %s", SHOW, addr,
		                  more(addr), why.msg);
	if (hl >= hn || pl >= pn)
		return sg_err_set(err, SG_E_CONFIG, "\"%.*s%s\": host too long", SHOW, addr,
		                  more(addr));
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(port, p, pl + 1);
	return 0;
}

int listener_open(const char *addr, struct sg_err *err)
{
	char host[256], port[8];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	struct sg_err why;
	int fd = -1, one = 1, rc;

	if (listener_split(addr, host, sizeof host, port, sizeof port, &why) != 0) {
		sg_err_set(err, why.code, "serve.listen: %s", why.msg);
		return -1;
	}
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
