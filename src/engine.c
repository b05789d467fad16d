/* engine.c - the command flows of migrate, down, force and baseline under the advisory lock. */
#include "engine.h"

#include <limits.h>
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

/* A version for the log: "none" for HIST_NO_VERSION. */
static void fmt_long(char *buf, size_t n, long v)
{
	char t[24];

	snprintf(buf, n, "%s", hist_version_text(v, t));
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

static int end_run_durably(struct session *s, long reached, struct sg_err *err);

/* Applies the pending migrations in order, each by apply_one, under the audit row of the
 * run; stops between two of them on a signal or a lost lease. A failure the infrastructure
 * caused (db_err_is_infrastructure) is returned as it is, without recording the run as
 * failed: the caller reconnects and goes on (session_recover). */
static int apply_pending(struct session *s, struct engine_result *res, struct sg_err *err)
{
	const struct plan *p = &s->p;
	struct apply_ctx ctx = apply_ctx_of(s);
	long reached = p->head;
	char from[24], to[24], npending[24];

	fmt_long(from, sizeof from, p->head);
	fmt_long(to, sizeof to, p->target);
	s->reached = p->head;
	session_doing(s, "beginning the run");
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
		session_doing(s, "applying %s", m->up_file);
		rc = apply_one(&ctx, &f, i + 1 == p->npending, &done, err);
		fmt_long(v, sizeof v, m->version);
		if (rc != 0) {
			struct sg_err e2;

			/* The database went away, not the file's fault: reconnect and go on. */
			if (db_err_is_infrastructure(err))
				return -1;
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
		session_progress(s);
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
	return end_run_durably(s, reached, err);
}

/* Ends the run as succeeded: the durable commit that flushes every intermediate one (see
 * apply_pending) before NOTIFY and exit 0. Says so: until this line, a crash or a failover
 * to an asynchronous standby may undo the last few "migration applied" ones (schema and
 * history together). */
static int end_run_durably(struct session *s, long reached, struct sg_err *err)
{
	char line[64];

	session_doing(s, "recording the run");
	if (session_end_run(s, RUN_SUCCEEDED, reached, NULL, err) != 0)
		return -1;
	snprintf(line, sizeof line, "committed durably at version %ld", reached);
	log_info(line, NULL);
	return 0;
}

/* Under the lock, a dirty row may be a no-transaction migration that a lost connection cut
 * off (its resume point is recorded, its file unchanged): take it up where it stopped
 * (apply_take_up), so that nobody has to. Anything else is left to plan_check's refusal. */
static int take_up_dirty(struct session *s, struct sg_err *err)
{
	const struct hist_row *row = s->p.dirty;
	const struct mig *m = row != NULL ? mig_set_find(s->set, row->version) : NULL;
	struct apply_ctx ctx = apply_ctx_of(s);
	struct apply_file f;
	struct apply_result done;
	char v[24], at[24];
	long k = -1;

	if (m == NULL || !m->no_transaction || strcmp(m->checksum, row->checksum) != 0 || s->pooled)
		return 0;
	if (hist_read_progress(s->c, &s->h, m->version, &k, err) != 0)
		return -1;
	if (k < 0)
		return 0;
	if (mig_load_text(s->set, m, MIG_DEFAULT_MAX_BYTES, err) != 0)
		return -1;
	fmt_long(v, sizeof v, m->version);
	fmt_long(at, sizeof at, k);
	log_info("taking up a no-transaction migration where it stopped", "version", v,
	         "statements_done", at, NULL);
	f = (struct apply_file){m, APPLY_UP, m->up_path, m->sql, m->sql_len, mig_up_directives(m)};
	session_doing(s, "taking up %s", m->up_file);
	if (apply_take_up(&ctx, &f, k, &done, err) != 0)
		return -1;
	session_progress(s);
	log_info("migration applied", "version", v, "name", m->name, "transaction", "false", NULL);
	return session_read(s, err);
}

/* One election and what follows from it: lead (apply) or follow until the target is reached.
 * Returns -1 with err on any failure; the caller decides whether to go on (a lost lease, a
 * lost connection). */
static int lead_or_follow(struct session *s, struct engine_result *res, long head0,
                          struct sg_err *err)
{
	const struct cfg *cfg = s->cfg;
	bool lead = false;

	session_doing(s, "electing the leader");
	if (session_elect(s, &lead, err) != 0)
		return -1;
	if (!lead) {
		res->to_version = s->p.target;
		res->followed = res->applied == 0;
		return 0;
	}
	if (s->run_id == 0)
		res->from_version = s->p.head;
	res->to_version = s->p.head;
	if (take_up_dirty(s, err) != 0 || plan_check(&s->p, &s->h, PLAN_ALLOW(cfg), err) != 0)
		return -1;
	if (s->p.npending == 0) {
		if (s->run_id != 0) {
			/* Our own run's last commit landed before the connection was lost:
			 * only its audit row is left to finish. */
			if (session_begin_run(s, "migrate", head0, s->p.target, err) != 0)
				return -1;
			return end_run_durably(s, s->p.head, err);
		}
		log_info("another replica applied the migrations while we waited", NULL);
		res->from_version = head0;
		res->followed = true;
		return 0;
	}
	if (session_load_texts(s, err) != 0)
		return -1;
	return apply_pending(s, res, err);
}

/* session_open, and after an infrastructure failure (the server went away between connecting
 * and reading the history) session_recover. */
static int open_session(struct session *s, const struct cfg *cfg, const char *role,
                        struct sg_err *err)
{
	if (session_open(s, cfg, role, err) == 0)
		return 0;
	if (!db_err_is_infrastructure(err) || s->set == NULL)
		return -1;
	return session_recover(s, err, err);
}

/* After a failure: true when the session should reconnect and go on (the infrastructure's
 * fault, not a signal), after doing so (false again when that failed: err says why). */
static bool recovered(struct session *s, struct sg_err *err)
{
	if (err->code == SG_E_STOPPED || !db_err_is_infrastructure(err))
		return false;
	return session_recover(s, err, err) == 0;
}

int engine_migrate(const struct cfg *cfg, struct engine_result *res, struct sg_err *err)
{
	struct session s;
	long head0;
	int rc = -1;

	memset(res, 0, sizeof *res);
	if (open_session(&s, cfg, "migrate", err) != 0)
		goto cleanup;
	res->from_version = res->to_version = s.p.head;
	report_missing(&s.p);
	/* A dirty row seen without the lock may be a no-transaction migration
	 * still running in another replica: only the lock holder can tell, so
	 * that verdict waits until we hold the lock. */
	if (s.p.dirty == NULL) {
		if (plan_check(&s.p, &s.h, PLAN_ALLOW(cfg), err) != 0)
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
		rc = lead_or_follow(&s, res, head0, err);
		if (rc == 0)
			break;
		if (err->code == SG_E_LEASE_LOST) {
			/* Someone else holds the lease now and will finish the job: follow
			 * it, and exit 0 when the database reaches the target, so the init
			 * container is not restarted for nothing. */
			log_warn("lease lost: following the new leader", "error", err->msg, NULL);
			session_step_down(&s);
			continue;
		}
		if (!recovered(&s, err))
			break;
		/* The folder may hold pending files the first read did not: their texts. */
		if (session_load_texts(&s, err) != 0 || validate_pending(&s, err) != 0)
			break;
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

/* The run's end after a failure that is not the infrastructure's (that one is taken up by
 * session_recover, and the run with it): the audit row says so, when one was begun. */
static void end_failed_run(struct session *s, long reached, const struct sg_err *err)
{
	struct sg_err e2;

	if (s->run_id == 0 || s->c == NULL || db_err_is_infrastructure(err))
		return;
	if (session_end_run(s, err->code == SG_E_STOPPED ? RUN_INTERRUPTED : RUN_FAILED, reached,
	                    err->msg, &e2) != 0)
		log_warn("could not record the failed run", "error", e2.msg, NULL);
}

/* down's target before its first pass has computed it (HIST_NO_VERSION is a target: revert
 * everything). */
#define DOWN_UNSET LONG_MIN

/* The versions down reverts: the rows above *target, which the first pass computes from
 * down.to or down.steps (*target == DOWN_UNSET: not yet) and every pass after a reconnect
 * keeps, so that the steps already taken are not taken again. *n: how many rows that is now.
 * --to 0 keeps version 0 when it is applied (it reverts the rows above 0). */
static void down_rows(const struct session *s, long *target, size_t *n)
{
	const struct cfg *cfg = s->cfg;

	if (*target == DOWN_UNSET) {
		size_t k;

		for (k = 0; k < s->h.n; k++) {
			long v = s->h.v[s->h.n - 1 - k].version;

			if (cfg->down_to >= 0 ? v <= cfg->down_to : (long)k >= cfg->down_steps)
				break;
		}
		if (k == 0) {
			*n = 0;
			return;
		}
		*target = k < s->h.n ? s->h.v[s->h.n - 1 - k].version : HIST_NO_VERSION;
	}
	for (*n = 0; *n < s->h.n && s->h.v[s->h.n - 1 - *n].version > *target; (*n)++)
		;
}

/* One pass of down under the lock: reverts the rows above *target (down_rows), newest first.
 * Runs again after session_recover, from what the history then says. */
static int down_pass(struct session *s, long *target, struct engine_result *res, struct sg_err *err)
{
	const struct cfg *cfg = s->cfg;
	bool first = *target == DOWN_UNSET;
	size_t n;

	if (session_lock(s, err) != 0)
		return -1;
	if (first)
		res->from_version = res->to_version = s->p.head;
	if (s->p.dirty != NULL || (s->p.ndrifted > 0 && !cfg->allow_drift)) {
		if (plan_check(&s->p, &s->h, PLAN_ALLOW(cfg), err) != 0)
			return -1;
	}
	down_rows(s, target, &n);
	if (first && n == 0) {
		log_info("nothing to revert", NULL);
		return 0;
	}
	/* Refusals come before the audit row: a down that cannot start is not a failed run. */
	for (size_t i = 0; i < n; i++) {
		const struct hist_row *row = &s->h.v[s->h.n - 1 - i];
		const struct mig *m = mig_set_find(s->set, row->version);

		if (m == NULL)
			return sg_err_set(err, SG_E_DRIFT,
			                  "cannot revert version %ld (%s): its files are not in %s",
			                  row->version, row->name, cfg->dir);
		if (check_down_file(m, err) != 0)
			return -1;
	}
	session_doing(s, "beginning the run");
	if (session_begin_run(s, "down", s->p.head, *target, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct hist_row *row = &s->h.v[s->h.n - 1 - i];
		const struct mig *m = mig_set_find(s->set, row->version);
		char v[24];

		fmt_long(v, sizeof v, row->version);
		if (proc_stopping())
			return sg_err_set(err, SG_E_STOPPED,
			                  "stopped by signal after reverting %zu of %zu", i, n);
		session_doing(s, "reverting version %ld (%s)", m->version, m->name);
		if (revert_one(s, m, err) != 0)
			return -1;
		session_progress(s);
		res->applied++;
		res->to_version = i + 1 < s->h.n ? s->h.v[s->h.n - 2 - i].version : HIST_NO_VERSION;
		log_info("migration reverted", "version", v, "name", m->name, NULL);
	}
	res->to_version = *target;
	session_doing(s, "recording the run");
	return session_end_run(s, RUN_SUCCEEDED, *target, NULL, err);
}

int engine_down(const struct cfg *cfg, struct engine_result *res, struct sg_err *err)
{
	struct session s;
	long target = DOWN_UNSET;
	int rc = -1;

	memset(res, 0, sizeof *res);
	if (open_session(&s, cfg, "down", err) != 0 || session_need_direct(&s, "down", err) != 0)
		goto cleanup;
	if (!s.h.exists || s.h.n == 0) {
		log_info("nothing to revert: no migration is applied", NULL);
		rc = 0;
		goto cleanup;
	}
	while ((rc = down_pass(&s, &target, res, err)) != 0 && recovered(&s, err))
		;
	if (rc != 0)
		end_failed_run(&s, res->to_version, err);
cleanup:
	session_close(&s);
	return rc;
}

/* One pass of force under the lock; runs again after session_recover: the SQL is idempotent
 * (rows above version deleted, version's row clean, inserted only when not recorded). */
static int force_pass(struct session *s, long version, struct engine_result *res,
                      struct sg_err *err)
{
	const struct cfg *cfg = s->cfg;
	const struct mig *m = mig_set_find(s->set, version);

	if (session_lock(s, err) != 0)
		return -1;
	if (s->run_id == 0)
		res->from_version = s->p.head;
	if (version > 0 && hist_find(&s->h, version) == NULL && m == NULL)
		return sg_err_set(err, SG_E_USAGE,
		                  "cannot force version %ld: it is neither recorded nor in %s",
		                  version, cfg->dir);
	session_doing(s, "forcing version %ld", version);
	if (session_begin_run(s, "force", s->p.head, version, err) != 0 ||
	    db_exec(s->c, "BEGIN", err) != 0)
		return -1;
	if (db_exec_owned(s->c, hist_sql_force(&s->h, version), err) != 0) {
		db_rollback(s->c);
		return -1;
	}
	if (version > 0 && hist_find(&s->h, version) == NULL) {
		struct hist_entry e = {m->version,    m->name, m->checksum,      0,
		                       cfg->identity, false,   m->no_transaction};

		if (db_exec_owned(s->c, hist_sql_insert(s->c, &s->h, &e), err) != 0) {
			db_rollback(s->c);
			return -1;
		}
	}
	if (db_exec(s->c, "COMMIT", err) != 0)
		return -1;
	res->to_version = version;
	return session_end_run(s, RUN_SUCCEEDED, version, NULL, err);
}

int engine_force(const struct cfg *cfg, long version, struct engine_result *res, struct sg_err *err)
{
	struct session s;
	int rc = -1;

	memset(res, 0, sizeof *res);
	if (open_session(&s, cfg, "force", err) != 0 || session_need_direct(&s, "force", err) != 0)
		goto cleanup;
	while ((rc = force_pass(&s, version, res, err)) != 0 && recovered(&s, err))
		;
	if (rc != 0)
		end_failed_run(&s, res->from_version, err);
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
	if (fh != NULL && fh->one_number)
		version = fh->upto; /* golang-migrate: one number, everything below is applied */
	*top = version;
	if (s->set->n > 0 && (v = calloc(s->set->n, sizeof *v)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	if (fh == NULL || fh->one_number) {
		if (version >= 0 && mig_set_find(s->set, version) == NULL) {
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
		*top = HIST_NO_VERSION;
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

/* One pass of baseline: reads the other tool's history (when asked), takes the lock, records
 * the picked files not recorded yet in one transaction. Runs again after session_recover: a
 * lost COMMIT is settled by the history read again (recorded rows are kept as they are). */
static int baseline_pass(struct session *s, long version, struct engine_result *res,
                         struct sg_err *err)
{
	const struct cfg *cfg = s->cfg;
	struct foreign_hist fh = {NULL, false, HIST_NO_VERSION, NULL, 0};
	const struct mig **pick = NULL;
	const char *tool = cfg->baseline_from;
	char by[300];
	size_t n = 0, added = 0;
	long top = 0;
	int rc = -1;

	if (tool != NULL &&
	    foreign_read(s->c, tool,
	                 cfg->baseline_from_table != NULL ? cfg->baseline_from_table
	                                                  : foreign_default_table(tool),
	                 &fh, err) != 0)
		goto cleanup;
	if (session_lock(s, err) != 0 ||
	    baseline_pick(s, version, tool != NULL ? &fh : NULL, &pick, &n, &top, err) != 0)
		goto cleanup;
	if (s->run_id == 0)
		res->from_version = res->to_version = s->p.head;
	if (s->p.dirty != NULL) {
		sg_err_set(
		    err, SG_E_DIRTY,
		    "migration %ld (%s) is dirty; repair it and run 'schemagate force' before "
		    "a baseline",
		    s->p.dirty->version, s->p.dirty->name);
		goto cleanup;
	}
	if (s->p.head > top) {
		sg_err_set(
		    err, SG_E_DRIFT,
		    "the history already holds version %ld, above %ld: a baseline only records "
		    "what lies below the applied head",
		    s->p.head, top);
		goto cleanup;
	}
	if (snprintf(by, sizeof by, "baseline%s%s by %s", tool != NULL ? " from " : "",
	             tool != NULL ? tool : "", cfg->identity) >= (int)sizeof by)
		by[sizeof by - 1] = '\0'; /* a display field: cut is fine */
	session_doing(s, "recording the baseline");
	if (session_begin_run(s, "baseline", s->p.head, top, err) != 0 ||
	    db_exec(s->c, "BEGIN", err) != 0)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		const struct mig *m = pick[i];
		struct hist_entry e = {m->version, m->name, m->checksum,      0,
		                       by,         false,   m->no_transaction};

		if (hist_find(&s->h, m->version) != NULL)
			continue; /* recorded already: kept as it is */
		if (db_exec_owned(s->c, hist_sql_insert(s->c, &s->h, &e), err) != 0) {
			db_rollback(s->c);
			goto cleanup;
		}
		added++;
	}
	if (db_exec(s->c, "COMMIT", err) != 0)
		goto cleanup;
	res->applied = added;
	res->to_version = top > s->p.head ? top : s->p.head;
	rc = session_end_run(s, RUN_SUCCEEDED, res->to_version, NULL, err);
cleanup:
	free(pick);
	foreign_free(&fh);
	return rc;
}

int engine_baseline(const struct cfg *cfg, long version, struct engine_result *res,
                    struct sg_err *err)
{
	struct session s;
	int rc = -1;

	memset(res, 0, sizeof *res);
	if (open_session(&s, cfg, "baseline", err) != 0 ||
	    session_need_direct(&s, "baseline", err) != 0)
		goto cleanup;
	while ((rc = baseline_pass(&s, version, res, err)) != 0 && recovered(&s, err))
		;
	if (rc != 0)
		end_failed_run(&s, res->from_version, err);
cleanup:
	session_close(&s);
	return rc;
}
