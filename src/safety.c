/* safety.c - the safety policy for pending migrations: which measured rewrites, scans and
 * changes plan and verify --dev-url refuse, and the safe pattern to use instead. */
#include "safety.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directive.h"
#include "num.h"
#include "pglock.h"

const char *safety_reason_name(enum safety_reason r)
{
	switch (r) {
	case SAFETY_REWRITE:
		return "rewrite";
	case SAFETY_SCAN:
		return "scan";
	case SAFETY_BREAKING:
		return "breaking";
	}
	return "?";
}

bool safety_breaking(const struct cat_change *c)
{
	switch (c->kind) {
	case CAT_RELATION_DROPPED:
	case CAT_RELATION_RENAMED:
	case CAT_COLUMN_DROPPED:
	case CAT_COLUMN_RENAMED:
	case CAT_TYPE_DROPPED:
	case CAT_TYPE_RENAMED:
	case CAT_FUNCTION_DROPPED:
	case CAT_FUNCTION_RENAMED:
	case CAT_SCHEMA_DROPPED:
	case CAT_SCHEMA_RENAMED:
		return c->baseline;
	case CAT_COLUMN_RETYPED:
		return c->baseline && !c->widened;
	case CAT_COLUMN_REQUIRED:
		return true;
	default:
		return false;
	}
}

static unsigned allow_bit(enum safety_reason r)
{
	return r == SAFETY_REWRITE ? DIRECTIVE_ALLOW_REWRITE
	       : r == SAFETY_SCAN  ? DIRECTIVE_ALLOW_SCAN
	                           : DIRECTIVE_ALLOW_BREAKING;
}

/* Appends to buf (n bytes) at *len, cutting at the end on purpose: text for people. */
static void put(char *buf, size_t n, size_t *len, const char *fmt, ...) SG_PRINTF(4, 5);

static void put(char *buf, size_t n, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*len >= n)
		return;
	va_start(ap, fmt);
	w = vsnprintf(buf + *len, n - *len, fmt, ap);
	va_end(ap);
	if (w > 0)
		*len = *len + (size_t)w < n ? *len + (size_t)w : n;
}

static bool has_change(const struct msr_stmt *s, enum cat_change_kind k, char contype)
{
	for (size_t i = 0; i < s->changes.n; i++)
		if (s->changes.v[i].kind == k &&
		    (contype == 0 || s->changes.v[i].contype == contype))
			return true;
	return false;
}

/* The way around a retype, whether it rewrites or breaks. */
#define EXPAND_RETYPE                                                                              \
	"expand/contract: add a column of the new type, backfill it in batches, move the "         \
	"application to it, then drop the old one"

/* The safe pattern for what the statement did, read from what it changed. */
static const char *advice(const struct msr_stmt *s, enum safety_reason r)
{
	if (r == SAFETY_BREAKING) {
		if (has_change(s, CAT_COLUMN_REQUIRED, 0))
			return "give the new column a DEFAULT, or make it NOT NULL in a later "
			       "migration, once no running release inserts without it";
		if (has_change(s, CAT_COLUMN_RENAMED, 0) ||
		    has_change(s, CAT_RELATION_RENAMED, 0) || has_change(s, CAT_TYPE_RENAMED, 0) ||
		    has_change(s, CAT_FUNCTION_RENAMED, 0) || has_change(s, CAT_SCHEMA_RENAMED, 0))
			return "expand/contract: add the new name (a column, or a view for a "
			       "table), "
			       "write both, move the reads, and drop the old name in a later "
			       "release";
		if (has_change(s, CAT_COLUMN_RETYPED, 0))
			return EXPAND_RETYPE;
		return "expand/contract: first release code that no longer uses it, then drop it "
		       "in a later migration";
	}
	if (r == SAFETY_REWRITE) {
		if (has_change(s, CAT_COLUMN_RETYPED, 0))
			return EXPAND_RETYPE;
		if (has_change(s, CAT_COLUMN_ADDED, 0))
			return "add the column without a volatile default (a constant default is "
			       "stored in the catalog, no rewrite), then backfill it in batches "
			       "and set "
			       "the default";
		return "build the new form beside the old one (a new table or column), backfill it "
		       "in batches and switch over, or accept the rewrite with "
		       "-- schemagate:allow=rewrite";
	}
	if (has_change(s, CAT_INDEX_CREATED, 0) &&
	    (has_change(s, CAT_CONSTRAINT_ADDED, 'u') || has_change(s, CAT_CONSTRAINT_ADDED, 'p')))
		return "CREATE UNIQUE INDEX CONCURRENTLY (in a -- schemagate:no-transaction file), "
		       "then "
		       "ADD CONSTRAINT ... UNIQUE USING INDEX";
	if (has_change(s, CAT_INDEX_CREATED, 0))
		return "CREATE INDEX CONCURRENTLY, in a file of its own with -- "
		       "schemagate:no-transaction";
	if (has_change(s, CAT_COLUMN_NOT_NULL, 0))
		return "ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID, then VALIDATE "
		       "CONSTRAINT "
		       "in a later migration, then SET NOT NULL (no scan since PostgreSQL 12) and "
		       "drop the check";
	if (has_change(s, CAT_PARTITION_ATTACHED, 0))
		return "add a CHECK constraint matching the partition bound (NOT VALID, then "
		       "VALIDATE "
		       "CONSTRAINT) before ATTACH PARTITION, which then skips its scan";
	if (has_change(s, CAT_CONSTRAINT_ADDED, 0))
		return "ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT in a later "
		       "migration "
		       "(it takes SHARE UPDATE EXCLUSIVE: reads and writes go on)";
	return "do the work in batches or concurrently, or accept the scan with "
	       "-- schemagate:allow=scan";
}

long safety_estimate_ms(const struct msr_run *run, enum safety_reason r, long long bytes)
{
	double rate = r == SAFETY_REWRITE ? run->rewrite_rate : run->scan_rate;

	if (rate <= 0 || bytes < 0)
		return -1;
	return (long)((double)bytes / rate);
}

/* The statement's tables rewritten (or scanned, without a rewrite) under a lock blocking
 * writes: each table once, its size added up. */
struct work {
	const struct msr_rel *rels[16]; /* the first tables, for the message */
	size_t n;
	long long bytes;
	bool unknown;
	enum pglock_mode mode;
};

static bool counted(const struct work *w, unsigned table)
{
	for (size_t i = 0; i < w->n && i < 16; i++)
		if (w->rels[i]->table == table)
			return true;
	return false;
}

static void gather(const struct msr_stmt *s, bool rewrite, const struct work *exclude, bool sizes,
                   struct work *w)
{
	memset(w, 0, sizeof *w);
	for (size_t i = 0; i < s->nrels; i++) {
		const struct msr_rel *r = &s->rels[i];
		bool did = rewrite ? r->rewritten : r->scanned && cat_has_storage(r->kind);

		if (!did || !pglock_blocks_writes(r->held) || counted(w, r->table) ||
		    (exclude != NULL && counted(exclude, r->table)))
			continue;
		if (w->n < 16)
			w->rels[w->n] = r;
		w->n++;
		w->mode = pglock_stronger(w->mode, r->held);
		if (!sizes || !r->size_known)
			w->unknown = true;
		else
			w->bytes += r->bytes;
	}
}

static int add(struct safety_result *out, size_t *cap, struct sg_err *err)
{
	if (out->n == *cap) {
		size_t ncap = *cap == 0 ? 8 : *cap * 2;
		struct safety_finding *v = realloc(out->v, ncap * sizeof *v);

		if (v == NULL)
			return sg_err_set(err, SG_E_NOMEM, "out of memory");
		out->v = v;
		*cap = ncap;
	}
	memset(&out->v[out->n], 0, sizeof out->v[out->n]);
	out->n++;
	return 0;
}

static const char *blocks(enum pglock_mode m)
{
	return pglock_blocks_reads(m) ? "reads and writes" : "writes";
}

/* The fact of a rewrite or scan finding. */
static void work_fact(const struct msr_run *run, const struct work *w, enum safety_reason r,
                      const struct safety_limits *lim, struct safety_finding *f)
{
	size_t len = 0, n = sizeof f->fact;
	char size[32], rate[32];

	put(f->fact, n, &len, "%s ", r == SAFETY_REWRITE ? "rewrote" : "scanned in full");
	for (size_t i = 0; i < w->n && i < 16; i++) {
		const struct msr_rel *x = w->rels[i];

		if (x->table != x->oid)
			put(f->fact, n, &len, "%s%s (index rebuilt: %s)", i > 0 ? ", " : "",
			    x->table_name, x->name);
		else
			put(f->fact, n, &len, "%s%s", i > 0 ? ", " : "", x->name);
	}
	if (w->n > 16)
		put(f->fact, n, &len, " and %zu more", w->n - 16);
	put(f->fact, n, &len, " holding %s, which blocks %s; ", pglock_name(w->mode),
	    blocks(w->mode));
	if (!lim->sizes) {
		put(f->fact, n, &len,
		    "size in production unknown (no DATABASE_URL): any size counts");
		return;
	}
	if (w->unknown) {
		put(f->fact, n, &len,
		    "size in production unknown (a table not found there, or never vacuumed or "
		    "analyzed): counted as larger than the limit");
		return;
	}
	num_format_bytes(w->bytes, size, sizeof size);
	put(f->fact, n, &len, "%s in production", size);
	num_format_bytes(lim->max_bytes, size, sizeof size);
	put(f->fact, n, &len, " (limit %s)", size);
	if (f->est_ms >= 0) {
		num_format_bytes(
		    (long long)((r == SAFETY_REWRITE ? run->rewrite_rate : run->scan_rate) *
		                1000.0),
		    rate, sizeof rate);
		put(f->fact, n, &len,
		    ": about %.1f s at %s/s measured on the dev database (an estimate)",
		    (double)f->est_ms / 1000.0, rate);
	}
}

static int judge_work(const struct msr_run *run, size_t si, const struct safety_limits *lim,
                      enum safety_reason r, const struct work *w, struct safety_result *out,
                      size_t *cap, struct sg_err *err)
{
	const struct msr_stmt *s = &run->stmts[si];
	struct safety_finding *f;

	if (w->n == 0 || (!w->unknown && w->bytes <= lim->max_bytes))
		return 0;
	if (add(out, cap, err) != 0)
		return -1;
	f = &out->v[out->n - 1];
	f->stmt = si;
	f->reason = r;
	f->bytes = w->unknown ? -1 : w->bytes;
	f->est_ms = w->unknown ? -1 : safety_estimate_ms(run, r, w->bytes);
	work_fact(run, w, r, lim, f);
	snprintf(f->advice, sizeof f->advice, "%s", advice(s, r));
	return 0;
}

static int judge_breaking(const struct msr_run *run, size_t si, struct safety_result *out,
                          size_t *cap, struct sg_err *err)
{
	const struct msr_stmt *s = &run->stmts[si];
	struct safety_finding *f = NULL;
	size_t len = 0;

	for (size_t i = 0; i < s->changes.n; i++) {
		if (!safety_breaking(&s->changes.v[i]))
			continue;
		if (f == NULL) {
			if (add(out, cap, err) != 0)
				return -1;
			f = &out->v[out->n - 1];
			f->stmt = si;
			f->reason = SAFETY_BREAKING;
			f->bytes = -1;
			f->est_ms = -1;
			put(f->fact, sizeof f->fact, &len,
			    "breaks the previous release's queries: ");
		} else {
			put(f->fact, sizeof f->fact, &len, "; ");
		}
		put(f->fact, sizeof f->fact, &len, "%s", s->changes.v[i].what);
	}
	if (f != NULL)
		snprintf(f->advice, sizeof f->advice, "%s", advice(s, SAFETY_BREAKING));
	return 0;
}

int safety_judge(const struct msr_run *run, const struct safety_limits *lim,
                 struct safety_result *out, struct sg_err *err)
{
	size_t cap = 0;

	memset(out, 0, sizeof *out);
	for (size_t si = 0; si < run->nstmts; si++) {
		const struct msr_stmt *s = &run->stmts[si];
		size_t first = out->n;
		struct work rw, sc;

		gather(s, true, NULL, lim->sizes, &rw);
		gather(s, false, &rw, lim->sizes, &sc);
		if (judge_work(run, si, lim, SAFETY_REWRITE, &rw, out, &cap, err) != 0 ||
		    judge_work(run, si, lim, SAFETY_SCAN, &sc, out, &cap, err) != 0 ||
		    judge_breaking(run, si, out, &cap, err) != 0) {
			safety_result_free(out);
			return -1;
		}
		for (size_t i = first; i < out->n; i++) {
			out->v[i].allowed =
			    (run->files[s->file].m->allow & allow_bit(out->v[i].reason)) != 0;
			if (!out->v[i].allowed)
				out->nrefused++;
		}
	}
	return 0;
}

void safety_result_free(struct safety_result *r)
{
	if (r == NULL)
		return;
	free(r->v);
	memset(r, 0, sizeof *r);
}

bool safety_needs_rates(const struct msr_run *run)
{
	for (size_t si = 0; si < run->nstmts; si++)
		for (size_t i = 0; i < run->stmts[si].nrels; i++) {
			const struct msr_rel *r = &run->stmts[si].rels[i];

			if ((r->rewritten || r->scanned) && pglock_blocks_writes(r->held) &&
			    r->size_known)
				return true;
		}
	return false;
}

int safety_check(const struct msr_run *run, const struct safety_result *res, struct sg_err *err)
{
	for (size_t i = 0; i < res->n; i++) {
		const struct safety_finding *f = &res->v[i];
		const struct msr_stmt *s = &run->stmts[f->stmt];
		char stmt[120];

		if (f->allowed)
			continue;
		msr_stmt_line(s, stmt, sizeof stmt);
		return sg_err_set(
		    err, SG_E_UNSAFE,
		    "%s:%u: %s: %s (%s); safe pattern: %s; or allow it with "
		    "-- schemagate:allow=%s%s",
		    run->files[s->file].m->up_path, s->line, stmt, f->fact,
		    safety_reason_name(f->reason), f->advice, safety_reason_name(f->reason),
		    res->nrefused > 1 ? " (and more refusals: run schemagate plan)" : "");
	}
	return 0;
}
