/* probe.h - a minimal HTTP/1.1 GET over a plain socket, for `schemagate probe` (no curl in images).
 */
#ifndef SCHEMAGATE_PROBE_H
#define SCHEMAGATE_PROBE_H

#include <stddef.h>

#include "commands.h"
#include "err.h"

/* An http:// URL taken apart. */
struct probe_url {
	char host[256];  /* without brackets for IPv6 */
	char port[8];    /* decimal, "80" by default */
	char path[2048]; /* path and query, starting with '/' */
};

/* Parses http://HOST[:PORT][/PATH[?QUERY]] strictly: no other scheme, no user
 * info, no fragment, no blanks or control characters, port 1..65535.
 * SG_E_USAGE saying what is wrong. Pure. */
SG_MUSTCHECK int probe_parse_url(const char *url, struct probe_url *u, struct sg_err *err);

/* GETs u within timeout_ms in total. On success *status holds the HTTP
 * status and body (n bytes) the first line of the body. SG_E_DB when the
 * server can't be reached or doesn't speak HTTP, SG_E_TIMEOUT on timeout. */
SG_MUSTCHECK int probe_get(const struct probe_url *u, long timeout_ms, int *status, char *body,
                           size_t n, struct sg_err *err);

/* `schemagate probe`: GETs cfg->probe_url and succeeds on 200; SG_E_DB naming the status and
 * the first line of the body otherwise. */
command_fn cmd_probe;

#endif /* SCHEMAGATE_PROBE_H */
