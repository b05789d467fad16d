/* dryrun.c - the pending migrations rehearsed on a dev database, measured, sized against
 * production and judged by the safety policy: what `plan` shows and `verify --dev-url` checks. */
#include "dryrun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db.h"
#include "dsn.h"
#include "history.h"
#include "log.h"
#include "plan.h"
#include "proc.h"
#include "report.h"

/* Production sizes, read without a lock: pages as of the last VACUUM or ANALYZE (table and
 * TOAST), rows likewise, and the statistics' live rows for tables never analyzed. */
#define SIZES_SQL                                                                                  \
	"SELECT u.i, (c.relpages::bigint + coalesce(t.relpages, 0)) * "                            \
	"current_setting('block_size')::bigint, c.relpages, c.reltuples::bigint, "                 \
	"coalesce(s.n_live_tup, -1) "                                                              \
	"FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(nsp, rel, i) "                   \
	"JOIN pg_namespace n ON n.nspname = u.nsp "                                                \
	"JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = u.rel "                         \
	"LEFT JOIN pg_class t ON t.oid = c.reltoastrelid "                                         \
	"LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"

void dryrun_free(struct dryrun *d)
{
	if (d == NULL)
		return;
	msr_run_free(&d->run);
	safety_result_free(&d->verdict);
	free(d);
}

/* Appends s to a text[] literal being built in *buf ("{"a","b"}"), quoted and escaped. */
static int array_add(char **buf, size_t *len, size_t *cap, const char *s, struct sg_err *err)
{
	size_t need = *len + 2 * strlen(s) + 5; /* separator, quotes, closing brace, NUL */
	char *b = *buf;

	if (need > *cap) {
		size_t ncap = need * 2;

		if ((b = realloc(*buf, ncap)) == NULL)
			return sg_err_set(err, SG_E_NOMEM, "out of memory");
		*buf = b;
		*cap = ncap;
	}
	b[*len] = *len == 0 ? '{' : ',';
	(*len)++;
	b[(*len)++] = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			b[(*len)++] = '\\';
		b[(*len)++] = *s;
	}
	b[(*len)++] = '"';
	b[*len] = '\0';
	return 0;
}

/* The production size of every relation the plan names (its table's, for an index). */
static int lookup_sizes(PGconn *target, struct msr_run *run, struct sg_err *err)
{
	char *nsps = NULL, *rels = NULL;
	size_t nl = 0, nc = 0, rl = 0, rc_ = 0, k = 0;
	struct msr_rel **all = NULL;
	PGresult *r = NULL;
	int rc = -1;

	for (size_t i = 0; i < run->nstmts; i++)
		k += run->stmts[i].nrels;
	if (k == 0)
		return 0;
	if ((all = calloc(k, sizeof *all)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	k = 0;
	for (size_t i = 0; i < run->nstmts; i++)
		for (size_t j = 0; j < run->stmts[i].nrels; j++) {
			struct msr_rel *e = &run->stmts[i].rels[j];

			all[k++] = e;
			if (array_add(&nsps, &nl, &nc, e->table_schema, err) != 0 ||
			    array_add(&rels, &rl, &rc_, e->table_rel, err) != 0)
				goto cleanup;
		}
	nsps[nl++] = '}';
	nsps[nl] = '\0';
	rels[rl++] = '}';
	rels[rl] = '\0';
	{
		const char *params[2] = {nsps, rels};

		if (db_query(target, SIZES_SQL, 2, params, &r, err) != 0)
			goto cleanup;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		size_t at = (size_t)strtoul(PQgetvalue(r, i, 0), NULL, 10) - 1;
		long long pages = strtoll(PQgetvalue(r, i, 2), NULL, 10);
		long long tuples = strtoll(PQgetvalue(r, i, 3), NULL, 10);
		long long live = strtoll(PQgetvalue(r, i, 4), NULL, 10);
		struct msr_rel *e;

		if (at >= k)
			continue;
		e = all[at];
		/* relpages 0 with reltuples -1: never vacuumed or analyzed, the size is not
		 * known (unless the statistics say it is empty). */
		e->size_known = pages > 0 || tuples >= 0 || live == 0;
		e->bytes = strtoll(PQgetvalue(r, i, 1), NULL, 10);
		e->rows = tuples >= 0 ? tuples : live;
	}
	rc = 0;
cleanup:
	PQclear(r);
	free(nsps);
	free(rels);
	free(all);
	return rc;
}

/* What is applied and what is pending: from the history when DATABASE_URL is set (and the
 * verdict migrate would reach, refusals included), else from --since. */
static int split_set(const struct cfg *cfg, const struct mig_set *set, PGconn *target,
                     struct dryrun *d, const struct mig ***applied, size_t *na,
                     const struct mig ***pending, size_t *np, struct sg_err *err)
{
	struct hist h = {0};
	struct plan p = {0};
	struct plan_verdict v;
	int rc = -1;

	*na = *np = 0;
	if ((*applied = calloc(set->n + 1, sizeof **applied)) == NULL ||
	    (*pending = calloc(set->n + 1, sizeof **pending)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	if (target == NULL) {
		for (size_t i = 0; i < set->n; i++) {
			const struct mig *m = &set->v[i];

			if (m->version <= cfg->plan_since)
				(*applied)[(*na)++] = m;
			else if (cfg->target < 0 || m->version <= cfg->target)
				(*pending)[(*np)++] = m;
		}
		d->applied = *na > 0 ? (*applied)[*na - 1]->version : 0;
		return 0;
	}
	if (report_read_plan(target, cfg, set, &h, &p, &v, err) != 0)
		return -1;
	/* Whatever migrate would refuse, plan refuses first: its replay would be a guess. */
	if (v.refused) {
		sg_err_set(err, v.code, "%s", v.reason);
		goto cleanup;
	}
	for (size_t i = 0; i < set->n; i++)
		if (hist_find(&h, set->v[i].version) != NULL)
			(*applied)[(*na)++] = &set->v[i];
	for (size_t i = 0; i < p.npending; i++)
		(*pending)[(*np)++] = p.pending[i];
	d->applied = p.head;
	rc = 0;
cleanup:
	plan_free(&p);
	hist_free(&h);
	return rc;
}

int dryrun_run(const struct cfg *cfg, const struct mig_set *set, struct dryrun **out,
               struct sg_err *err)
{
	long long t0 = proc_now_ms();
	const struct mig **applied = NULL, **pending = NULL;
	struct measure *ms = NULL;
	struct dryrun *d = NULL;
	PGconn *target = NULL;
	size_t na = 0, np = 0;
	int rc = -1;

	*out = NULL;
	if (cfg->dev_url == NULL)
		return sg_err_set(err, SG_E_USAGE,
		                  "a dev database is needed: --dev-url URL (DATABASE_DEV_URL), an "
		                  "empty database the pending files can be rehearsed in");
	if (cfg->database_url != NULL && cfg->plan_since >= 0)
		return sg_err_set(err, SG_E_USAGE,
		                  "--since is for plans without DATABASE_URL: with it, the history "
		                  "says what is applied");
	/* Guessing would be unsafe: with every file pending, every table is new and nothing is
	 * ever refused. */
	if (cfg->database_url == NULL && cfg->plan_since < 0)
		return sg_err_set(
		    err, SG_E_USAGE,
		    "what does production have? Set DATABASE_URL (its history says, and "
		    "its tables' sizes count), or pass --since VERSION: the files up to "
		    "VERSION are applied there (--since 0: none)");
	if ((d = calloc(1, sizeof *d)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	dsn_redact(cfg->dev_url, d->dev, sizeof d->dev);
	d->has_target = cfg->database_url != NULL;
	d->limits.max_bytes = cfg->safety_max_bytes;
	d->limits.sizes = d->has_target;
	if (d->has_target) {
		db_target(cfg, d->target, sizeof d->target);
		if (db_connect(cfg, "plan", &target, err) != 0)
			goto cleanup;
	}
	if (split_set(cfg, set, target, d, &applied, &na, &pending, &np, err) != 0)
		goto cleanup;
	if (np > 0) {
		if (measure_open(cfg, target, &ms, err) != 0 ||
		    measure_replay(ms, applied, na, &d->run, err) != 0 ||
		    measure_pending(ms, pending, np, &d->run, err) != 0)
			goto cleanup;
		if (target != NULL) {
			long long t1 = proc_now_ms();

			if (lookup_sizes(target, &d->run, err) != 0)
				goto cleanup;
			d->lookup_ms = (long)(proc_now_ms() - t1);
		}
		if (safety_needs_rates(&d->run)) {
			struct sg_err e;

			/* Estimates are a courtesy: without the rates there are none. */
			if (measure_rates(ms, &d->run, &e) != 0)
				log_warn("could not measure local rates: no estimates", "error",
				         e.msg, NULL);
		}
	}
	if (safety_judge(&d->run, &d->limits, &d->verdict, err) != 0)
		goto cleanup;
	d->total_ms = (long)(proc_now_ms() - t0);
	*out = d;
	d = NULL;
	rc = 0;
cleanup:
	measure_close(ms);
	if (target != NULL)
		PQfinish(target);
	free(applied);
	free(pending);
	dryrun_free(d);
	return rc;
}
