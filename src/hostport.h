/* hostport.h - "HOST:PORT" and "[V6]:PORT" taken apart: the grammar of serve.listen, which
 * config.c checks values with and listener.c opens. */
#ifndef SCHEMAGATE_HOSTPORT_H
#define SCHEMAGATE_HOSTPORT_H

#include <stddef.h>

#include "err.h"

/* Splits "HOST:PORT" or "[V6]:PORT" into host and port (1..65535, digits
 * only): the one grammar of serve.listen. Pure. SG_E_CONFIG quoting the
 * value and what is wrong with it when it is malformed or does not fit
 * hn/pn; the caller names the setting. */
SG_MUSTCHECK int hostport_split(const char *addr, char *host, size_t hn, char *port, size_t pn,
                                struct sg_err *err);

#endif /* SCHEMAGATE_HOSTPORT_H */
