/* route.h - the sidecar's HTTP paths in one table: the handler that answers each, the
 * authorisation in front of it, and which ones the kubelet probes. The gate (the probe lane),
 * the handlers (dispatch) and /metrics (the path label) all read this table. */
#ifndef SCHEMAGATE_ROUTE_H
#define SCHEMAGATE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

/* What answers a route (http.c). */
enum route_handler {
	ROUTE_LIVE,    /* liveness: the checker thread's heartbeat */
	ROUTE_READY,   /* readiness: every check, or the one named by the subpath */
	ROUTE_HEALTH,  /* the JSON summary of both */
	ROUTE_STATUS,  /* the status report (report_to_json) with the last check */
	ROUTE_METRICS, /* Prometheus text (metrics.h) */
};

/* Who may ask. */
enum route_auth {
	ROUTE_OPEN,  /* anyone */
	ROUTE_ADMIN, /* 404 unless serve.admin_enabled or serve.admin_token_file is set; with a
	              * token, only "Authorization: Bearer <token>" (401 otherwise) */
};

struct route {
	const char *path; /* the exact path */
	bool subpaths;    /* path + "/" + anything is this route too (a readiness check's name) */
	bool probe;       /* the kubelet probes it: the gate's reserved backend lane */
	enum route_handler handler;
	enum route_auth auth;
};

/* Every route, in the order of /metrics' path labels. */
#define ROUTE_COUNT 6
extern const struct route route_table[ROUTE_COUNT];

/* The route of path[0..n) (civetweb's local_uri: no query, already canonical), or NULL.
 * With subpaths, "/readyz/" and "/readyz/x" are "/readyz"'s; "/readyzx" is nobody's. Pure. */
const struct route *route_find(const char *path, size_t n);

/* r's index in route_table; ROUTE_COUNT for NULL (no route). */
size_t route_index(const struct route *r);

#endif /* SCHEMAGATE_ROUTE_H */
