/* safety.h - the safety policy for pending migrations: which measured rewrites, scans and
 * changes plan and verify --dev-url refuse, and the safe pattern to use instead. */
#ifndef SCHEMAGATE_SAFETY_H
#define SCHEMAGATE_SAFETY_H

#include <stdbool.h>
#include <stddef.h>

#include "catalog.h"
#include "err.h"
#include "measure.h"

struct safety_limits {
	long max_bytes; /* migrations.safety_max_bytes */
	bool sizes; /* production sizes were read (DATABASE_URL); without them any size counts */
};

enum safety_reason {
	SAFETY_REWRITE, /* rewrote tables (or rebuilt their indexes) under a lock blocking writes */
	SAFETY_SCAN,    /* scanned tables in full under a lock blocking writes */
	SAFETY_BREAKING, /* a change the previous release's queries fail on */
};

/* One thing the policy found in one statement. */
struct safety_finding {
	size_t stmt; /* index into msr_run.stmts */
	enum safety_reason reason;
	bool allowed;     /* the file's "-- schemagate:allow=" accepts it: reported, not refused */
	long long bytes;  /* rewrite, scan: production bytes of the tables, -1 when unknown */
	long est_ms;      /* rewrite, scan: estimated time the lock is held, -1 when none */
	char fact[640];   /* what was measured, for people */
	char advice[320]; /* the safe pattern */
};

struct safety_result {
	struct safety_finding *v; /* in statement order */
	size_t n;
	size_t nrefused; /* findings not allowed */
};

/* The one policy (plan and verify --dev-url both call it). For every statement of run:
 *  - rewrite: it rewrote a table or rebuilt one of its indexes (relfilenode changed) while
 *    holding a lock on it that blocks writes (SHARE or stronger), and those tables are larger
 *    than lim->max_bytes in production together, or of unknown size (no production sizes, a
 *    table not found there, or one never vacuumed or analyzed);
 *  - scan: likewise for tables it scanned in full without rewriting them;
 *  - breaking: a change safety_breaking() calls so.
 * A finding is refused unless its file's allow directive names its reason. Pure: reads run
 * (sizes and rates included) and lim only. On success *out owns the findings. */
SG_MUSTCHECK int safety_judge(const struct msr_run *run, const struct safety_limits *lim,
                              struct safety_result *out, struct sg_err *err);
void safety_result_free(struct safety_result *r); /* NULL-safe, leaves it empty */

/* Backward-incompatible for the previous release, whose queries name the old schema: a table,
 * view, sequence, column, type, function or schema it knew dropped or renamed; a column it
 * knew retyped so that some of its values or parameters are no longer accepted (no implicit
 * cast, or a narrower typmod); a column it does not know that is NOT NULL without a default
 * (its INSERTs leave it out). New constraints, NOT NULL on known columns and widening retypes
 * are reported but not breaking: whether the previous release's writes still pass depends on
 * its data. */
bool safety_breaking(const struct cat_change *c);

/* True when an estimate needs local rates (measure_rates): some rewrite or scan under a lock
 * blocking writes touches a table whose production size is known. */
bool safety_needs_rates(const struct msr_run *run);

/* Estimated ms to rewrite (or scan) bytes at run's measured local rate, -1 without one. */
long safety_estimate_ms(const struct msr_run *run, enum safety_reason r, long long bytes);

/* "rewrite", "scan", "breaking". */
const char *safety_reason_name(enum safety_reason r);

/* The first refused finding as an error (SG_E_UNSAFE): "FILE:LINE: STATEMENT: FACT; safe
 * pattern: ADVICE", plus how many more. 0 when nothing is refused. */
SG_MUSTCHECK int safety_check(const struct msr_run *run, const struct safety_result *res,
                              struct sg_err *err);

#endif /* SCHEMAGATE_SAFETY_H */
