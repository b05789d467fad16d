/* route.c - the table of the sidecar's HTTP paths, and finding a path's route in it. */
#include "route.h"

#include <string.h>

/* Changing a path here changes a contract with charts/ and kustomize/ (probes, scrape
 * config) and docs/sidecar.md's endpoint list: change them together. */
const struct route route_table[ROUTE_COUNT] = {
    {"/healthz", false, true, ROUTE_LIVE, ROUTE_OPEN},
    {"/livez", false, true, ROUTE_LIVE, ROUTE_OPEN},
    {"/readyz", true, true, ROUTE_READY, ROUTE_OPEN},
    {"/health", false, false, ROUTE_HEALTH, ROUTE_OPEN},
    {"/admin/migration-status", false, false, ROUTE_STATUS, ROUTE_ADMIN},
    {"/metrics", false, false, ROUTE_METRICS, ROUTE_OPEN},
};

const struct route *route_find(const char *path, size_t n)
{
	for (size_t i = 0; i < ROUTE_COUNT; i++) {
		const struct route *r = &route_table[i];
		size_t len = strlen(r->path);

		if (n < len || memcmp(path, r->path, len) != 0)
			continue;
		if (n == len || (r->subpaths && path[len] == '/'))
			return r;
	}
	return NULL;
}

size_t route_index(const struct route *r)
{
	return r != NULL ? (size_t)(r - route_table) : ROUTE_COUNT;
}
