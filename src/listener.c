/* listener.c - the sidecar's public address: "HOST:PORT" or "[V6]:PORT" to a non-blocking
 * listening socket. */
#include "listener.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostport.h"

/* The kernel clamps this to net.core.somaxconn (4096 by default). */
#define BACKLOG 4096

int listener_open(const char *addr, struct sg_err *err)
{
	char host[256], port[8];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	struct sg_err why;
	int fd = -1, one = 1, rc;

	if (hostport_split(addr, host, sizeof host, port, sizeof port, &why) != 0) {
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
