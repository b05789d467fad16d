/* dryrun.h - the pending migrations rehearsed on a dev database, measured, sized against
 * production and judged by the safety policy: what `plan` shows and `verify --dev-url` checks. */
#ifndef SCHEMAGATE_DRYRUN_H
#define SCHEMAGATE_DRYRUN_H

#include <stdbool.h>

#include "config.h"
#include "err.h"
#include "measure.h"
#include "migrations.h"
#include "safety.h"

/* Everything a plan found. Plain data: impact.h's formatters turn it into text. */
struct dryrun {
	char dev[256];    /* the dev database, password redacted */
	char target[256]; /* DATABASE_URL, password redacted; "" without one */
	bool has_target;  /* production sizes were read from DATABASE_URL */
	long applied;     /* the applied head (from the history, or --since; 0: none) */
	struct safety_limits limits;
	struct msr_run run;           /* per statement: locks, rewrites, scans, changes, sizes */
	struct safety_result verdict; /* the policy's findings */
	long total_ms;                /* the whole plan, replay included */
	long lookup_ms;               /* reading production sizes */
};

/* Rehearses the pending files of set (loaded with their texts) on cfg->dev_url. What is
 * pending: with DATABASE_URL, what the history lacks (read-only: the history, pg_class and
 * pg_stat_user_tables, no lock); without it, every file above --since (required then). The applied
 * files are replayed first; the pending ones are measured; with DATABASE_URL each table found
 * carries its production size, and rewrites and scans of known sizes an estimate from local rates;
 * then safety_judge. Errors: SG_E_USAGE (no dev URL,
 * --since with DATABASE_URL, neither of them), the refusals of plan_verdict (SG_E_DIRTY,
 * SG_E_DRIFT: exit 5 as in migrate), SG_E_CONFIG (dev database not empty, or the production one),
 * the connection and SQL errors of measure.h. The verdict itself is no error: see
 * d->verdict.nrefused and safety_check. On success *out owns the result: dryrun_free. */
SG_MUSTCHECK int dryrun_run(const struct cfg *cfg, const struct mig_set *set, struct dryrun **out,
                            struct sg_err *err);
void dryrun_free(struct dryrun *d); /* NULL-safe */

#endif /* SCHEMAGATE_DRYRUN_H */
