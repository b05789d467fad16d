/* listener.h - the sidecar's public address (serve.listen) and its listening socket. */
#ifndef SCHEMAGATE_LISTENER_H
#define SCHEMAGATE_LISTENER_H

#include <stddef.h>

#include "err.h"

/* Splits "HOST:PORT" or "[V6]:PORT" into host and port (1..65535, digits
 * only): the one grammar of serve.listen, which config.c checks values with.
 * Pure. SG_E_CONFIG quoting the value and what is wrong with it when it is
 * malformed or does not fit hn/pn; the caller names the setting. */
SG_MUSTCHECK int listener_split(const char *addr, char *host, size_t hn, char *port, size_t pn,
                                struct sg_err *err);

/* Resolves addr (numeric or a name) and returns a non-blocking, close-on-exec
 * socket listening there (SO_REUSEADDR), or -1 with SG_E_CONFIG naming the
 * address and the reason (e.g. "Address already in use"). */
SG_MUSTCHECK int listener_open(const char *addr, struct sg_err *err);

#endif /* SCHEMAGATE_LISTENER_H */
