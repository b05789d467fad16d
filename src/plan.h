/* plan.h - compares the migrations folder with the history: pending, drift, missing, dirty. */
#ifndef SCHEMAGATE_PLAN_H
#define SCHEMAGATE_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "history.h"
#include "migrations.h"

/* A pure comparison, no I/O. Pointers are borrowed from the set and history
 * given to plan_make and stay valid while those live. */
struct plan {
	long head;                    /* highest recorded version, HIST_NO_VERSION if none */
	long target;                  /* the version to reach (HIST_NO_VERSION: no file) */
	const struct hist_row *dirty; /* first dirty row, or NULL */
	const struct mig **pending;   /* files not yet applied, version <= target, ascending */
	size_t npending;
	const struct mig **drifted; /* applied, but the file's checksum differs */
	size_t ndrifted;
	const struct hist_row **missing; /* applied, but no file in the folder */
	size_t nmissing;
	const struct mig **out_of_order; /* pending files below head: refused */
	size_t nout_of_order;
};

/* Builds the plan. target < 0 means the highest version in the folder.
 * Only fails on out of memory. Free with plan_free. */
SG_MUSTCHECK int plan_make(const struct mig_set *set, const struct hist *h, long target,
                           struct plan *p, struct sg_err *err);
void plan_free(struct plan *p); /* NULL-safe; leaves *p zeroed */

/* The one verdict on a plan: what migrate would do or refuse. migrate refuses exactly the
 * refused kinds (exit 5), verify exits 5 on them, status prints the verdict first and /readyz
 * turns the migrations check not ready with the reason. */
enum plan_state {
	PLAN_UP_TO_DATE,   /* nothing pending */
	PLAN_PENDING,      /* migrate would apply pending files */
	PLAN_DIRTY,        /* refused: a dirty row (a no-transaction migration did not finish) */
	PLAN_DRIFT,        /* refused: an applied file changed (unless allow_drift) */
	PLAN_OUT_OF_ORDER, /* refused: a file not applied below the applied head */
	PLAN_NON_EMPTY, /* refused: no history of ours, but the schema holds another tool's history
	                 * or other tables (unless allow_non_empty) */
};

struct plan_verdict {
	enum plan_state state;
	bool refused;      /* migrate would refuse (DIRTY, DRIFT, OUT_OF_ORDER, NON_EMPTY) */
	enum sg_code code; /* SG_E_DIRTY or SG_E_DRIFT when refused, else SG_E_OK */
	char reason[512];  /* one line for people: the refusal with its advice, or the summary */
};

/* What a person allowed: going on despite changed files (--allow-drift), and running the
 * folder on a schema that holds tables but no history of ours (--allow-non-empty). */
struct plan_allow {
	bool drift;
	bool non_empty;
};

/* What the settings allow (cfg is a struct cfg: --allow-drift, --allow-non-empty). */
#define PLAN_ALLOW(cfg) ((struct plan_allow){(cfg)->allow_drift, (cfg)->allow_non_empty})

/* Fills *v from p (h gives the applied checksums, and what else the schema holds when there
 * is no history table). Pure; cannot fail. The order of the checks is migrate's: dirty, then
 * drift (skipped with allow.drift), then out-of-order, then a schema built by someone else
 * (skipped with allow.non_empty), then pending. */
void plan_verdict(const struct plan *p, const struct hist *h, struct plan_allow allow,
                  struct plan_verdict *v);

/* The state's name in JSON and logs: "up-to-date", "pending", "dirty", "drift",
 * "out-of-order", "non-empty". */
const char *plan_state_name(enum plan_state s);

/* Checks that apply before any work: a dirty row (SG_E_DIRTY, with recovery
 * advice), drift unless allow.drift (SG_E_DRIFT, naming the file and both
 * checksums), out-of-order files (SG_E_DRIFT, naming the file), another tool's or
 * person's schema unless allow.non_empty (SG_E_DRIFT, naming the tool or a table and the
 * baseline command). Missing files are only reported by the caller. The refusal of
 * plan_verdict(), as an error. */
SG_MUSTCHECK int plan_check(const struct plan *p, const struct hist *h, struct plan_allow allow,
                            struct sg_err *err);

#endif /* SCHEMAGATE_PLAN_H */
