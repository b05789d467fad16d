/* test_route.c - the sidecar's route table: which path is whose, the probe lane, the labels. */
#include "route.h"

#include <criterion/criterion.h>
#include <string.h>

#include "gate.h"
#include "metrics.h"

static const struct route *find(const char *path)
{
	return route_find(path, strlen(path));
}

Test(route, finds_each_path_and_nothing_else)
{
	for (size_t i = 0; i < ROUTE_COUNT; i++)
		cr_expect_eq(find(route_table[i].path), &route_table[i], "%s", route_table[i].path);
	cr_expect_eq(find("/health")->handler, ROUTE_HEALTH);
	cr_expect_eq(find("/healthz")->handler, ROUTE_LIVE);
	cr_expect_eq(find("/livez")->handler, ROUTE_LIVE);
	cr_expect_eq(find("/admin/migration-status")->auth, ROUTE_ADMIN);
	cr_expect_eq(find("/metrics")->auth, ROUTE_OPEN);
	static const char *const none[] = {"",          "/",        "/healthzz", "/healthz/",
	                                   "/health/x", "/readyzx", "/ready",    "/admin",
	                                   "/admin/",   "/METRICS", "/metrics/", "readyz"};
	for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
		cr_expect_null(find(none[i]), "\"%s\" has a route", none[i]);
}

Test(route, readiness_checks_are_subpaths_of_readyz)
{
	const struct route *r = find("/readyz");

	cr_assert_not_null(r);
	cr_expect_eq(find("/readyz/migrations"), r);
	cr_expect_eq(find("/readyz/"), r); /* answered 404 "no such check" by the handler */
	/* The length bounds the match, not the NUL. */
	cr_expect_eq(route_find("/readyz/x?y", 9), r);
	cr_expect_eq(route_find("/readyzzz", 7), r);
	cr_expect_null(route_find("/readyz", 6));
}

Test(route, the_probe_lane_takes_the_probe_routes_only)
{
	static const char *const probes[] = {"/healthz", "/livez", "/readyz", "/readyz/tables"};
	static const char *const others[] = {"/health", "/metrics", "/admin/migration-status",
	                                     "/favicon.ico", "/healthz/x"};

	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
		cr_expect(gate_probe_path(probes[i], strlen(probes[i])), "%s", probes[i]);
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
		cr_expect(!gate_probe_path(others[i], strlen(others[i])), "%s", others[i]);
}

Test(route, metrics_labels_are_the_route_paths_then_other)
{
	cr_assert_eq(METRICS_NPATHS, ROUTE_COUNT + 1);
	for (int i = 0; i < ROUTE_COUNT; i++) {
		cr_expect_str_eq(metrics_path_label(i), route_table[i].path);
		cr_expect_eq(metrics_path_index(route_table[i].path), i);
	}
	cr_expect_str_eq(metrics_path_label(ROUTE_COUNT), "other");
	cr_expect_eq(route_index(NULL), ROUTE_COUNT);
	cr_expect_eq(metrics_path_index(NULL), ROUTE_COUNT);
}
