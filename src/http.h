/* http.h - the sidecar's embedded HTTP server (civetweb behind the gate) and its thin,
 * lock-free-of-I/O handlers. */
#ifndef SCHEMAGATE_HTTP_H
#define SCHEMAGATE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "err.h"

struct http_server; /* opaque: fields live in http.c */

/* Reads the admin token (cfg->admin_token_file, trimmed; SG_E_CONFIG when it
 * is unreadable or empty), starts civetweb on a loopback port behind the gate
 * (gate.h), which listens on cfg->listen, and answers the routes of route.h
 * from the health snapshot only (no database I/O in a handler).
 * liveness_deadline_ms: a checker heartbeat older than this fails /healthz.
 * cfg is borrowed and must outlive the server. SG_E_CONFIG when the address
 * can't be bound. On success *out owns the server: http_stop(). */
SG_MUSTCHECK int http_start(const struct cfg *cfg, long liveness_deadline_ms,
                            struct http_server **out, struct sg_err *err);

/* Stops the gate (closing client connections), then civetweb (waiting for
 * its in-flight requests), and frees s. NULL-safe. */
void http_stop(struct http_server *s);

/* True when an Authorization header value is "Bearer <token>" with exactly
 * token[0..token_len): the scheme in any case and one or more spaces after it
 * (RFC 9110 section 11: "auth-scheme 1*SP token68", the scheme
 * case-insensitive). Constant-time in the token bytes: the time depends only
 * on the lengths. header or token NULL: false. Pure. */
bool http_bearer_ok(const char *header, const char *token, size_t token_len);

#endif /* SCHEMAGATE_HTTP_H */
