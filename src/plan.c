/* plan.c - what migrate would do: pending, drifted, missing and out-of-order migrations. */
#include "plan.h"

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
	if (set->n > 0 &&
	    ((p->pending = calloc(set->n, sizeof *p->pending)) == NULL ||
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

int plan_check(const struct plan *p, const struct hist *h, bool allow_drift, struct sg_err *err)
{
	(void)h;
	if (p->dirty != NULL)
		return sg_err_set(err, SG_E_DIRTY,
				  "migration %ld (%s) is dirty: it failed part-way outside a "
				  "transaction. Repair the schema by hand, then run "
				  "'schemagate force %ld' if it is now fully applied, or "
				  "'schemagate force %ld' if you reverted it",
				  p->dirty->version, p->dirty->name, p->dirty->version,
				  p->dirty->version - 1);
	if (p->ndrifted > 0 && !allow_drift) {
		const struct mig *m = p->drifted[0];
		const struct hist_row *row = hist_find(h, m->version);

		return sg_err_set(err, SG_E_DRIFT,
				  "%s was changed after it was applied (applied checksum %s, file "
				  "checksum %s)%s; restore the file, or pass --allow-drift",
				  m->up_path, row != NULL ? row->checksum : "?", m->checksum,
				  p->ndrifted > 1 ? " and other files too" : "");
	}
	if (p->nout_of_order > 0) {
		const struct mig *m = p->out_of_order[0];

		return sg_err_set(err, SG_E_DRIFT,
				  "%s (version %ld) is not applied but version %ld already is; "
				  "out-of-order migrations are refused: renumber it above %ld",
				  m->up_path, m->version, p->head, p->head);
	}
	return 0;
}
