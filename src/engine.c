/* engine.c - the command flows of migrate, down, force and baseline under the advisory lock. */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "apply.h"
#include "db.h"
#include "foreign.h"
#include "history.h"
#include "lease.h"
#include "log.h"
#include "migrations.h"
#include "num.h"
#include "plan.h"
#include "proc.h"
#include "session.h"

static void fmt_long(char *buf, size_t n, long v)
{
	snprintf(buf, n, "%ld", v);
}

/* The session's connection, history and lock key, for running files on. */
static struct apply_ctx apply_ctx_of(const struct session *s)
{
	struct apply_ctx ctx = {s->cfg, s->c, &s->h, s->key};

	return ctx;
}

/* Checks done before any lock: the folder and history must be consistent. */
static void report_missing(const struct plan *p)
{
	for (size_t i = 0; i < p->nmissing; i++) {
		char v[24];

		fmt_long(v, sizeof v, p->missing[i]->version);
		log_warn("applied migration has no file in the migrations folder", "version", v,
		         "name", p->missing[i]->name, NULL);
	}
}

/* Offline, before any lock or write: every pending file passes apply_check (it splits, its
 * transaction control is at most one outer BEGIN/COMMIT, none in a no-transaction file; its
 * directives were read at load), and a no-transaction file has a real session to run in. */
static int validate_pending(const struct session *s, struct sg_err *err)
{
	const struct plan *p = &s->p;

	for (size_t i = 0; i < p->npending; i++) {
		const struct mig *m = p->pending[i];
		struct directives d = mig_up_directives(m);

		if (apply_check(m->up_path, m->sql, m->sql_len, &d, err) != 0)
			return -1;
		if (m->no_transaction && s->pooled)
			return sg_err_set(
			    err, SG_E_CONFIG,
			    "%s is a no-transaction migration, and DATABASE_URL reaches PostgreSQL "
			    "through a connection pooler (PgBouncer or similar), where statements "
			    "outside a transaction and the session lock are not safe; set "
			    "DATABASE_DIRECT_URL to a URL that bypasses the pooler. Nothing was "
			    "applied",
			    m->up_path);
	}
	return 0;
}

/* Applies the pending migrations in order, each by apply_one, under the audit row of the
 * run; stops between two of them on a signal or a lost lease. */
static int apply_pending(struct session *s, struct engine_result *res, struct sg_err *err)
{
	const struct plan *p = &s->p;
	struct apply_ctx ctx = apply_ctx_of(s);
	long reached = p->head;
	char from[24], to[24], npending[24];

	fmt_long(from, sizeof from, p->head);
	fmt_long(to, sizeof to, p->target);
	s->reached = p->head;
	if (session_begin_run(s, "migrate", p->head, p->target, err) != 0)
		return -1;
	snprintf(npending, sizeof npending, "%zu", p->npending);
	log_info("applying migrations", "from", from, "to", to, "pending", npending, NULL);
	/* Intermediate commits need not wait for their own WAL flush (each sets
	 * synchronous_commit off locally): each migration commits atomically with
	 * its history row, WAL is replayed in order, and the last commit (durable)
	 * flushes everything before it. */
	for (size_t i = 0; i < p->npending; i++) {
		const struct mig *m = p->pending[i];
		struct apply_file f = {m,      APPLY_UP,   m->up_path,
		                       m->sql, m->sql_len, mig_up_directives(m)};
		struct apply_result done;
		char v[24], d[32];
		int rc;

		if (proc_stopping()) {
			sg_err_set(err, SG_E_STOPPED,
			           "stopped by signal %d after %zu of %zu migrations; none is "
			           "half-applied",
			           (int)sg_proc.signo, i, p->npending);
			(void)session_end_run(s, RUN_INTERRUPTED, reached, err->msg, NULL);
			return -1;
		}
		/* Checked between migrations only: one in flight is finished (the
		 * advisory lock still guarantees nobody else applies it meanwhile). */
		if (lease_lost(s->lease)) {
			sg_err_set(
			    err, SG_E_LEASE_LOST,
			    "lease lost after %zu of %zu migrations; stopped before version %ld "
			    "(none is half-applied)",
			    i, p->npending, m->version);
			(void)session_end_run(s, RUN_INTERRUPTED, reached, err->msg, NULL);
			return -1;
		}
		rc = apply_one(&ctx, &f, i + 1 == p->npending, &done, err);
		fmt_long(v, sizeof v, m->version);
		if (rc != 0) {
			struct sg_err e2;

			if (session_end_run(s, RUN_FAILED, reached, err->msg, &e2) != 0)
				log_warn("could not record the failed run", "error", e2.msg, NULL);
			if (err->code == SG_E_MIGRATION && !s->cfg->fail_fast) {
				/* Not returned, so cli.c will not log it: this is the one place. */
				log_error("migration failed", "version", v, "file", m->up_file,
				          "error", err->msg, NULL);
				log_warn(
				    "MIGRATIONS_FAIL_FAST=false: exiting 0 so the pod can start; "
				    "readiness reports not ready",
				    NULL);
				res->failed_soft = true;
				res->to_version = reached;
				return 0;
			}
			return -1;
		}
		reached = m->version;
		s->reached = reached;
		res->to_version = reached;
		if (done.skipped) {
			log_info("migration already applied by another replica", "version", v,
			         NULL);
			continue;
		}
		res->applied++;
		num_format_duration(done.duration_ms, d, sizeof d);
		log_info("migration applied", "version", v, "name", m->name, "duration", d,
		         "transaction", m->no_transaction ? "false" : "true", NULL);
	}
	return session_end_run(s, RUN_SUCCEEDED, reached, NULL, err);
}

int engine_migrate(const struct cfg *cfg, struct engine_result *res, struct sg_err *err)
{
	struct session s;
	bool lead = false;
	long head0;
	int rc = -1;

	memset(res, 0, sizeof *res);
	if (session_open(&s, cfg, "migrate", err) != 0)
		goto cleanup;
	res->from_version = res->to_version = s.p.head;
	report_missing(&s.p);
	/* A dirty row seen without the lock may be a no-transaction migration
	 * still running in another replica: only the lock holder can tell, so
	 * that verdict waits until we hold the lock. */
	if (s.p.dirty == NULL) {
		if (plan_check(&s.p, &s.h, cfg->allow_drift, err) != 0)
			goto cleanup;
		if (s.p.npending == 0) {
			/* The path every pod restart takes: no lock, no write. */
			rc = 0;
			goto cleanup;
		}
	}
	if (s.pooled && cfg->database_direct_url != NULL &&
	    session_go_direct(&s, "migrate", err) != 0)
		goto cleanup;
	if (session_load_texts(&s, err) != 0 || validate_pending(&s, err) != 0)
		goto cleanup;
	head0 = res->from_version;
	for (;;) {
		if (session_elect(&s, &lead, err) != 0)
			goto cleanup;
		if (!lead) {
			res->to_version = s.p.target;
			res->followed = true;
			rc = 0;
			goto cleanup;
		}
		res->from_version = res->to_version = s.p.head;
		if (plan_check(&s.p, &s.h, cfg->allow_drift, err) != 0)
			goto cleanup;
		if (s.p.npending == 0) {
			log_info("another replica applied the migrations while we waited", NULL);
			res->from_version = head0;
			res->followed = true;
			rc = 0;
			goto cleanup;
		}
		if (session_load_texts(&s, err) != 0)
			goto cleanup;
		rc = apply_pending(&s, res, err);
		if (rc == 0 || err->code != SG_E_LEASE_LOST)
			goto cleanup;
		/* Someone else holds the lease now and will finish the job: follow
		 * it, and exit 0 when the database reaches the target, so the init
		 * container is not restarted for nothing. */
		log_warn("lease lost: following the new leader", "error", err->msg, NULL);
		session_step_down(&s);
		rc = -1;
	}
cleanup:
	session_close(&s);
	return rc;
}

/* Offline checks of m's down file: it exists, its content and directives pass (read now),
 * and apply_check allows it. */
static int check_down_file(const struct mig *m, struct sg_err *err)
{
	struct directives d;
	char *sql = NULL;
	size_t len = 0;
	int rc;

	if (mig_read_down(m, &sql, &len, &d, err) != 0)
		return -1;
	rc = apply_check(m->down_path, sql, len, &d, err);
	free(sql);
	return rc;
}

/* Runs one down file, as migrate runs an up file (apply_one): in a transaction with the
 * deletion of its row and the same guardrails, or statement by statement, its row marked
 * dirty first, when it carries the no-transaction marker. */
static int revert_one(struct session *s, const struct mig *m, struct sg_err *err)
{
	struct apply_ctx ctx = apply_ctx_of(s);
	struct apply_file f = {m, APPLY_DOWN, m->down_path, NULL, 0, {false, -1, 0}};
	struct apply_result done;
	char *sql = NULL;
	int rc;

	if (mig_read_down(m, &sql, &f.len, &f.d, err) != 0 ||
	    apply_check(m->down_path, sql, f.len, &f.d, err) != 0) {
		free(sql);
		return -1;
	}
	f.sql = sql;
	rc = apply_one(&ctx, &f, true, &done, err);
	free(sql);
	return rc;
}

int engine_down(const struct cfg *cfg, struct engine_result *res, struct sg_err *err)
{
	struct session s;
	int rc = -1;
	size_t n;

	memset(res, 0, sizeof *res);
	if (session_open(&s, cfg, "down", err) != 0 || session_need_direct(&s, "down", err) != 0)
		goto cleanup;
	if (!s.h.exists || s.h.n == 0) {
		log_info("nothing to revert: no migration is applied", NULL);
		rc = 0;
		goto cleanup;
	}
	if (session_lock(&s, err) != 0)
		goto cleanup;
	res->from_version = res->to_version = s.p.head;
	if (s.p.dirty != NULL || (s.p.ndrifted > 0 && !cfg->allow_drift)) {
		if (plan_check(&s.p, &s.h, cfg->allow_drift, err) != 0)
			goto cleanup;
	}
	/* Rows to revert, newest first. */
	for (n = 0; n < s.h.n; n++) {
		long v = s.h.v[s.h.n - 1 - n].version;

		if (cfg->down_to >= 0 ? v <= cfg->down_to : (long)n >= cfg->down_steps)
			break;
	}
	if (n == 0) {
		log_info("nothing to revert", NULL);
		rc = 0;
		goto cleanup;
	}
	/* Refusals come before the audit row: a down that cannot start is not a failed run. */
	for (size_t i = 0; i < n; i++) {
		const struct hist_row *row = &s.h.v[s.h.n - 1 - i];
		const struct mig *m = mig_set_find(s.set, row->version);

		if (m == NULL) {
			sg_err_set(err, SG_E_DRIFT,
			           "cannot revert version %ld (%s): its files are not in %s",
			           row->version, row->name, cfg->dir);
			goto cleanup;
		}
		if (check_down_file(m, err) != 0)
			goto cleanup;
	}
	long target = n < s.h.n ? s.h.v[s.h.n - 1 - n].version : 0;
	if (session_begin_run(&s, "down", s.p.head, target, err) != 0)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		const struct hist_row *row = &s.h.v[s.h.n - 1 - i];
		const struct mig *m = mig_set_find(s.set, row->version);
		char v[24];

		fmt_long(v, sizeof v, row->version);
		if (proc_stopping()) {
			sg_err_set(err, SG_E_STOPPED,
			           "stopped by signal after reverting %zu of %zu", i, n);
			break;
		}
		if (m == NULL) {
			sg_err_set(err, SG_E_DRIFT,
			           "cannot revert version %ld (%s): its files are not in %s",
			           row->version, row->name, cfg->dir);
			break;
		}
		if (revert_one(&s, m, err) != 0)
			break;
		res->applied++;
		res->to_version = i + 1 < s.h.n ? s.h.v[s.h.n - 2 - i].version : 0;
		log_info("migration reverted", "version", v, "name", m->name, NULL);
	}
	if (res->applied == n) {
		rc = session_end_run(&s, RUN_SUCCEEDED, res->to_version, NULL, err);
	} else {
		struct sg_err e2;

		(void)session_end_run(&s, err->code == SG_E_STOPPED ? RUN_INTERRUPTED : RUN_FAILED,
		                      res->to_version, err->msg, &e2);
	}
cleanup:
	session_close(&s);
	return rc;
}

int engine_force(const struct cfg *cfg, long version, struct engine_result *res, struct sg_err *err)
{
	struct session s;
	int rc = -1;

	memset(res, 0, sizeof *res);
	if (session_open(&s, cfg, "force", err) != 0 ||
	    session_need_direct(&s, "force", err) != 0 || session_lock(&s, err) != 0)
		goto cleanup;
	res->from_version = s.p.head;
	const struct mig *m = mig_set_find(s.set, version);
	if (version > 0 && hist_find(&s.h, version) == NULL && m == NULL) {
		sg_err_set(err, SG_E_USAGE,
		           "cannot force version %ld: it is neither recorded nor in %s", version,
		           cfg->dir);
		goto cleanup;
	}
	if (session_begin_run(&s, "force", s.p.head, version, err) != 0 ||
	    db_exec(s.c, "BEGIN", err) != 0)
		goto cleanup;
	if (db_exec_owned(s.c, hist_sql_force(&s.h, version), err) != 0) {
		db_rollback(s.c);
		goto cleanup;
	}
	if (version > 0 && hist_find(&s.h, version) == NULL) {
		struct hist_entry e = {m->version,    m->name, m->checksum,      0,
		                       cfg->identity, false,   m->no_transaction};

		if (db_exec_owned(s.c, hist_sql_insert(s.c, &s.h, &e), err) != 0) {
			db_rollback(s.c);
			goto cleanup;
		}
	}
	if (db_exec(s.c, "COMMIT", err) != 0)
		goto cleanup;
	res->to_version = version;
	rc = session_end_run(&s, RUN_SUCCEEDED, version, NULL, err);
cleanup:
	session_close(&s);
	return rc;
}

/* The files engine_baseline records, ascending; *out malloc'd (NULL when none). */
static int baseline_pick(const struct session *s, long version, const struct foreign_hist *fh,
                         const struct mig ***out, size_t *n, long *top, struct sg_err *err)
{
	const struct mig **v = NULL;
	const char *tool = fh != NULL ? fh->tool : NULL;

	*out = NULL;
	*n = 0;
	if (fh != NULL && fh->upto >= 0)
		version = fh->upto; /* golang-migrate: one number, everything below is applied */
	*top = version;
	if (s->set->n > 0 && (v = calloc(s->set->n, sizeof *v)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	if (fh == NULL || fh->upto >= 0) {
		if (version > 0 && mig_set_find(s->set, version) == NULL) {
			free(v);
			if (tool != NULL)
				return sg_err_set(err, SG_E_DRIFT,
				                  "%s's history is at version %ld but %s has no "
				                  "file of that version",
				                  tool, version, s->cfg->dir);
			return sg_err_set(err, SG_E_USAGE,
			                  "baseline %ld: no migration of that version in %s",
			                  version, s->cfg->dir);
		}
		for (size_t i = 0; i < s->set->n && s->set->v[i].version <= version; i++)
			v[(*n)++] = &s->set->v[i];
	} else {
		*top = 0;
		for (size_t i = 0; i < fh->n; i++) {
			const struct mig *m = mig_set_find(s->set, fh->v[i]);

			if (m == NULL) {
				free(v);
				return sg_err_set(
				    err, SG_E_DRIFT,
				    "%s's history lists version %ld but %s has no file "
				    "of that version",
				    tool, fh->v[i], s->cfg->dir);
			}
			v[(*n)++] = m;
			*top = fh->v[i];
		}
	}
	*out = v;
	return 0;
}

int engine_baseline(const struct cfg *cfg, long version, struct engine_result *res,
                    struct sg_err *err)
{
	struct session s;
	struct foreign_hist fh = {NULL, -1, NULL, 0};
	const struct mig **pick = NULL;
	const char *tool = cfg->baseline_from;
	char by[300];
	size_t n = 0, added = 0;
	long top = 0;
	int rc = -1;

	memset(res, 0, sizeof *res);
	if (session_open(&s, cfg, "baseline", err) != 0 ||
	    session_need_direct(&s, "baseline", err) != 0)
		goto cleanup;
	if (tool != NULL &&
	    foreign_read(s.c, tool,
	                 cfg->baseline_from_table != NULL ? cfg->baseline_from_table
	                                                  : foreign_default_table(tool),
	                 &fh, err) != 0)
		goto cleanup;
	if (session_lock(&s, err) != 0 ||
	    baseline_pick(&s, version, tool != NULL ? &fh : NULL, &pick, &n, &top, err) != 0)
		goto cleanup;
	res->from_version = res->to_version = s.p.head;
	if (s.p.dirty != NULL) {
		sg_err_set(
		    err, SG_E_DIRTY,
		    "migration %ld (%s) is dirty; repair it and run 'schemagate force' before "
		    "a baseline",
		    s.p.dirty->version, s.p.dirty->name);
		goto cleanup;
	}
	if (s.p.head > top) {
		sg_err_set(
		    err, SG_E_DRIFT,
		    "the history already holds version %ld, above %ld: a baseline only records "
		    "what lies below the applied head",
		    s.p.head, top);
		goto cleanup;
	}
	if (snprintf(by, sizeof by, "baseline%s%s by %s", tool != NULL ? " from " : "",
	             tool != NULL ? tool : "", cfg->identity) >= (int)sizeof by)
		by[sizeof by - 1] = '\0'; /* a display field: cut is fine */
	if (session_begin_run(&s, "baseline", s.p.head, top, err) != 0 ||
	    db_exec(s.c, "BEGIN", err) != 0)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		const struct mig *m = pick[i];
		struct hist_entry e = {m->version, m->name, m->checksum,      0,
		                       by,         false,   m->no_transaction};

		if (hist_find(&s.h, m->version) != NULL)
			continue; /* recorded already: kept as it is */
		if (db_exec_owned(s.c, hist_sql_insert(s.c, &s.h, &e), err) != 0) {
			db_rollback(s.c);
			(void)session_end_run(&s, RUN_FAILED, s.p.head, err->msg, NULL);
			goto cleanup;
		}
		added++;
	}
	if (db_exec(s.c, "COMMIT", err) != 0)
		goto cleanup;
	res->applied = added;
	res->to_version = top > s.p.head ? top : s.p.head;
	rc = session_end_run(&s, RUN_SUCCEEDED, res->to_version, NULL, err);
cleanup:
	free(pick);
	foreign_free(&fh);
	session_close(&s);
	return rc;
}
