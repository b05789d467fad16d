/* plan.c - what migrate would do: pending, drifted, missing and out-of-order migrations. */
#include "plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void plan_free(struct plan *p)
{
	if (p == NULL)
		return;
	free(p->pending);
	free(p->drifted);
	free(p->missing);
	free(p->out_of_order);
	memset(p, 0, sizeof *p);
}

int plan_make(const struct mig_set *set, const struct hist *h, long target, struct plan *p,
              struct sg_err *err)
{
	memset(p, 0, sizeof *p);
	p->head = hist_head(h);
	p->target = target >= 0 ? target : mig_set_max_version(set);
	p->dirty = hist_first_dirty(h);
	if (set->n > 0 && ((p->pending = calloc(set->n, sizeof *p->pending)) == NULL ||
	                   (p->drifted = calloc(set->n, sizeof *p->drifted)) == NULL ||
	                   (p->out_of_order = calloc(set->n, sizeof *p->out_of_order)) == NULL))
		goto nomem;
	if (h->n > 0 && (p->missing = calloc(h->n, sizeof *p->missing)) == NULL)
		goto nomem;
	for (size_t i = 0; i < set->n; i++) {
		const struct mig *m = &set->v[i];
		const struct hist_row *row = hist_find(h, m->version);

		if (row != NULL) {
			if (strcmp(row->checksum, m->checksum) != 0)
				p->drifted[p->ndrifted++] = m;
		} else if (m->version < p->head) {
			p->out_of_order[p->nout_of_order++] = m;
		} else if (m->version <= p->target) {
			p->pending[p->npending++] = m;
		}
	}
	for (size_t i = 0; i < h->n; i++)
		if (mig_set_find(set, h->v[i].version) == NULL)
			p->missing[p->nmissing++] = &h->v[i];
	return 0;
nomem:
	plan_free(p);
	return sg_err_set(err, SG_E_NOMEM, "out of memory");
}

const char *plan_state_name(enum plan_state s)
{
	switch (s) {
	case PLAN_UP_TO_DATE:
		return "up-to-date";
	case PLAN_PENDING:
		return "pending";
	case PLAN_DIRTY:
		return "dirty";
	case PLAN_DRIFT:
		return "drift";
	case PLAN_OUT_OF_ORDER:
		return "out-of-order";
	case PLAN_NON_EMPTY:
		return "non-empty";
	}
	return "?";
}

/* Sets the verdict; the reason is cut at its buffer on purpose (a line for people). */
static void set(struct plan_verdict *v, enum plan_state st, enum sg_code code, const char *fmt, ...)
    SG_PRINTF(4, 5);

static void set(struct plan_verdict *v, enum plan_state st, enum sg_code code, const char *fmt, ...)
{
	va_list ap;

	v->state = st;
	v->code = code;
	v->refused = code != SG_E_OK;
	va_start(ap, fmt);
	if (vsnprintf(v->reason, sizeof v->reason, fmt, ap) < 0)
		v->reason[0] = '\0';
	va_end(ap);
}

/* The refusal of a schema that holds tables but no history of ours: the tool that built it
 * and the baseline command that adopts it. */
static void non_empty(struct plan_verdict *v, const struct hist *h)
{
	const struct tool *t = h->other_tool;

	if (t != NULL && t->id < TOOL_IMPORTABLE)
		set(v, PLAN_NON_EMPTY, SG_E_DRIFT,
		    "schema %s was built by %s (its history table %s is there) and has no "
		    "schemagate history: adopt it with 'schemagate baseline --from %s', or pass "
		    "--allow-non-empty to run every file on it anyway",
		    h->schema, t->name, t->table, t->name);
	else if (t != NULL)
		set(v, PLAN_NON_EMPTY, SG_E_DRIFT,
		    "schema %s was built by %s (its history table %s is there) and has no "
		    "schemagate history: record the files %s applied with 'schemagate baseline "
		    "VERSION' (VERSION: the newest of them), or pass --allow-non-empty to run "
		    "every file on it anyway",
		    h->schema, t->name, t->table, t->name);
	else
		set(v, PLAN_NON_EMPTY, SG_E_DRIFT,
		    "schema %s already holds tables (%s) and has no schemagate history: if your "
		    "files made them, record those with 'schemagate baseline VERSION' (VERSION: "
		    "the "
		    "newest of them), or pass --allow-non-empty to run every file on it anyway",
		    h->schema, h->other_table);
}

void plan_verdict(const struct plan *p, const struct hist *h, struct plan_allow allow,
                  struct plan_verdict *v)
{
	if (p->dirty != NULL) {
		set(v, PLAN_DIRTY, SG_E_DIRTY,
		    "migration %ld (%s) is dirty: it failed part-way outside a transaction. Repair "
		    "the schema by hand, then run 'schemagate force %ld' if it is now fully "
		    "applied, or 'schemagate force %ld' if you reverted it",
		    p->dirty->version, p->dirty->name, p->dirty->version,
		    p->dirty->version > 0 ? p->dirty->version - 1 : 0);
	} else if (p->ndrifted > 0 && !allow.drift) {
		const struct mig *m = p->drifted[0];
		const struct hist_row *row = hist_find(h, m->version);

		set(v, PLAN_DRIFT, SG_E_DRIFT,
		    "%s was changed after it was applied (applied checksum %s, file checksum "
		    "%s)%s; restore the file, or pass --allow-drift",
		    m->up_file, row != NULL ? row->checksum : "?", m->checksum,
		    p->ndrifted > 1 ? " and other files too" : "");
	} else if (p->nout_of_order > 0) {
		const struct mig *m = p->out_of_order[0];

		set(v, PLAN_OUT_OF_ORDER, SG_E_DRIFT,
		    "%s (version %ld) is not applied but version %ld already is; out-of-order "
		    "migrations are refused: renumber it above %ld, or record it with 'schemagate "
		    "baseline %ld' if the schema already has it",
		    m->up_file, m->version, p->head, p->head, p->head);
	} else if (!h->exists && h->other_table != NULL && !allow.non_empty) {
		non_empty(v, h);
	} else if (p->npending > 0) {
		char from[24];

		set(v, PLAN_PENDING, SG_E_OK, "%zu pending migration%s, version %s to %ld",
		    p->npending, p->npending == 1 ? "" : "s", hist_version_text(p->head, from),
		    p->target);
	} else if (p->head < 0) {
		set(v, PLAN_UP_TO_DATE, SG_E_OK, "up to date, no version applied");
	} else {
		set(v, PLAN_UP_TO_DATE, SG_E_OK, "up to date at version %ld", p->head);
	}
}

int plan_check(const struct plan *p, const struct hist *h, struct plan_allow allow,
               struct sg_err *err)
{
	struct plan_verdict v;

	plan_verdict(p, h, allow, &v);
	if (v.refused)
		return sg_err_set(err, v.code, "%s", v.reason);
	return 0;
}
