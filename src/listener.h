/* listener.h - the sidecar's public address (serve.listen) and its listening socket. */
#ifndef SCHEMAGATE_LISTENER_H
#define SCHEMAGATE_LISTENER_H

#include "err.h"

/* Resolves addr (hostport.h's grammar; numeric or a name) and returns a non-blocking, close-on-exec
 * socket listening there (SO_REUSEADDR), or -1 with SG_E_CONFIG naming the
 * address and the reason (e.g. "Address already in use"). */
SG_MUSTCHECK int listener_open(const char *addr, struct sg_err *err);

#endif /* SCHEMAGATE_LISTENER_H */
