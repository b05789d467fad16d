/* session.c - what one command holds while it works on the database: open, elect, lock, close. */
#include "session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "follower.h"
#include "loader.h"
#include "lock.h"
#include "log.h"

/* Reads the history (one query) and what follows from it: pooling, lock key. */
static int session_read_history(struct session *s, struct sg_err *err)
{
	char *schema = NULL;
	int rc;

	plan_free(&s->p);
	hist_free(&s->h);
	if (db_first_schema(s->cfg->search_path, &schema, err) != 0)
		return -1;
	rc = hist_read_lean(s->c, schema, s->cfg->table, &s->h, err);
	free(schema);
	if (rc != 0)
		return -1;
	s->pooled = db_pid_is_pooled(s->c, s->h.backend_pid);
	s->key = lock_key(s->h.database, s->h.schema, s->cfg->table);
	return 0;
}

/* Reads the state again: the history, and the plan against the folder. */
int session_read(struct session *s, struct sg_err *err)
{
	if (session_read_history(s, err) != 0)
		return -1;
	return plan_make(s->set, &s->h, s->cfg->target, &s->p, err);
}

/* db_give_up_fn: the folder is broken (its whole content read on this thread). */
static bool folder_broken(void *ctx, struct sg_err *why)
{
	return loader_check(ctx, why) != 0;
}

int session_open(struct session *s, const struct cfg *cfg, const char *role, struct sg_err *err)
{
	struct loader *l = NULL;
	struct sg_err lerr;
	int rc, lrc;

	memset(s, 0, sizeof *s);
	s->cfg = cfg;
	s->role = role;
	snprintf(s->doing, sizeof s->doing, "connecting");
	/* The no-op path runs on every pod start: reading and hashing every file
	 * (thousands of system calls with a long history) overlaps the
	 * connection handshake (SCRAM, round trips) instead of adding to it.
	 * No text is kept: session_load_texts reads the pending files again. */
	if (loader_start(cfg->dir, MIG_DEFAULT_MAX_BYTES, MIG_NO_TEXT, &l, err) != 0)
		return -1;
	/* migrate sets the search path in each transaction (SET LOCAL), so the
	 * history read is the only query of the no-op path; down runs files on
	 * the session and needs it there. A broken folder ends the attempts after the first
	 * failed one, not after every retry is spent (the folder is not waited for before the
	 * first: the handshake overlaps it). */
	rc = db_connect_watched(cfg, role, strcmp(role, "migrate") == 0, folder_broken, l, &s->c,
	                        err);
	/* The history's round trip overlaps the folder too: it needs no file. */
	if (rc == 0)
		rc = session_read_history(s, err);
	lrc = loader_finish(l, &s->set, &lerr);
	if (lrc != 0) {
		/* A broken folder is the more useful message, whatever the database did. */
		*err = lerr;
		return -1;
	}
	if (rc != 0)
		return -1;
	return plan_make(s->set, &s->h, cfg->target, &s->p, err);
}

/* Creates the history tables under the transaction-scoped lock, polled (lock.h). */
static int session_ensure_history(struct session *s, struct sg_err *err)
{
	if (lock_xact_begin(s->c, s->key, "", s->cfg, err) != 0)
		return -1;
	if (hist_ensure(s->c, &s->h, err) != 0 || db_exec(s->c, "COMMIT", err) != 0) {
		db_rollback(s->c);
		return -1;
	}
	return 0;
}

/* Takes the lock (unless an election already did), makes sure the tables
 * exist and reads the state again: a replica that held the lock before us may
 * have done the work. */
static int session_lock_held(struct session *s, bool already_locked, struct sg_err *err)
{
	char key[24];

	snprintf(key, sizeof key, "%lld", (long long)s->key);
	if (s->pooled) {
		/* A session lock taken through a transaction pooler is held by
		 * whichever server connection ran it. Each migration's own
		 * transaction takes the lock instead (apply.c). */
		log_debug("behind a pooler: no session lock, one transaction-scoped lock per "
		          "migration",
		          "lock_key", key, NULL);
	} else {
		if (!already_locked && lock_acquire(s->c, s->key, s->cfg, err) != 0)
			return -1;
		s->locked = true;
		log_debug("migration lock acquired", "lock_key", key, NULL);
	}
	if (!s->h.exists && session_ensure_history(s, err) != 0)
		return -1;
	return session_read(s, err);
}

int session_lock(struct session *s, struct sg_err *err)
{
	return session_lock_held(s, false, err);
}

void session_close(struct session *s)
{
	struct sg_err e;

	if (s->locked && !db_is_broken(s->c) && lock_release(s->c, s->key, &e) != 0)
		log_error("releasing the migration lock failed", "error", e.msg, NULL);
	/* After the lock, so that a follower woken by the message can take both
	 * at once (it only needs them when we did not reach the target). */
	if (s->lease != NULL && lease_release(s->lease, true, s->reached, &e) != 0)
		log_warn("releasing the lease failed; it expires by itself", "error", e.msg, NULL);
	lease_free(s->lease);
	if (s->c != NULL)
		PQfinish(s->c);
	plan_free(&s->p);
	hist_free(&s->h);
	mig_set_free(s->set);
	memset(s, 0, sizeof *s);
}

/* Opens the lease and tries it once. A Redis failure leaves s->lease NULL
 * (election by advisory lock) unless leader.required makes it fatal. */
static int session_try_lease(struct session *s, bool *got, struct sg_err *err)
{
	const struct cfg *cfg = s->cfg;
	struct sg_err rerr = {.code = SG_E_OK};

	*got = false;
	if (lease_open(cfg, s->key, NULL, &s->lease, &rerr) == 0 &&
	    lease_try(s->lease, got, &rerr) == 0)
		return 0;
	lease_free(s->lease);
	s->lease = NULL;
	if (rerr.code == SG_E_CONFIG)
		return sg_err_set(err, SG_E_CONFIG, "%s", rerr.msg);
	if (cfg->leader_required)
		return sg_err_set(err, SG_E_REDIS,
		                  "Redis is required (leader.required) but failed: %.900s",
		                  rerr.msg);
	log_warn("Redis unavailable: electing by the advisory lock alone", "error", rerr.msg, NULL);
	return 0;
}

/* After the lease was lost: gives up the advisory lock (the new leader needs
 * it) and the lease handle, so that session_elect can run again. */
void session_step_down(struct session *s)
{
	struct sg_err e;

	if (s->locked && !db_is_broken(s->c) && lock_release(s->c, s->key, &e) != 0)
		log_warn("releasing the migration lock failed", "error", e.msg, NULL);
	s->locked = false;
	if (s->lease != NULL && lease_release(s->lease, false, s->reached, &e) != 0)
		log_debug("releasing the lost lease failed", "error", e.msg, NULL);
	lease_free(s->lease);
	s->lease = NULL;
}

/* Refuses (SG_E_CONFIG) when DATABASE_DIRECT_URL (direct) reaches another database than
 * DATABASE_URL (pooled): another name, or another cluster by its system identifier when both
 * may read it. Migrating there would leave the database the pods read behind. */
static int same_place(PGconn *pooled, PGconn *direct, struct sg_err *err)
{
	struct db_place a, b;

	if (db_place(pooled, &a, err) != 0 || db_place(direct, &b, err) != 0)
		return -1;
	if (strcmp(a.database, b.database) == 0 &&
	    (a.system_id[0] == '\0' || b.system_id[0] == '\0' ||
	     strcmp(a.system_id, b.system_id) == 0))
		return 0;
	return sg_err_set(err, SG_E_CONFIG,
	                  "DATABASE_DIRECT_URL reaches database \"%.63s\" of cluster %s, but "
	                  "DATABASE_URL reaches \"%.63s\" of cluster %s: both must reach the same "
	                  "database (the direct URL only bypasses the pooler); nothing was changed",
	                  b.database, b.system_id[0] != '\0' ? b.system_id : "(unknown)",
	                  a.database, a.system_id[0] != '\0' ? a.system_id : "(unknown)");
}

/* Work is pending and DATABASE_URL goes through a pooler: continues on
 * DATABASE_DIRECT_URL, which gives the session lock, LISTEN and
 * no-transaction files a real session. The no-op path never gets here, so
 * pod restarts still only cost a pooled connection. */
int session_go_direct(struct session *s, const char *role, struct sg_err *err)
{
	struct cfg direct = *s->cfg; /* shallow: strings stay owned by s->cfg */
	PGconn *c = NULL;

	direct.database_url = s->cfg->database_direct_url;
	if (db_connect(&direct, role, &c, err) != 0)
		return -1;
	if (same_place(s->c, c, err) != 0) {
		PQfinish(c);
		return -1;
	}
	PQfinish(s->c);
	s->c = c;
	s->direct = true;
	if (session_read(s, err) != 0)
		return -1;
	if (s->pooled)
		log_warn("DATABASE_DIRECT_URL goes through a pooler too", NULL);
	else
		log_info("DATABASE_URL goes through a pooler: continuing over DATABASE_DIRECT_URL",
		         NULL);
	return 0;
}

/* down and force change the history under the session lock and run down
 * files on the session: behind a pooler they need DATABASE_DIRECT_URL. */
int session_need_direct(struct session *s, const char *role, struct sg_err *err)
{
	if (!s->pooled)
		return 0;
	if (s->cfg->database_direct_url == NULL)
		return sg_err_set(err, SG_E_CONFIG,
		                  "%s needs a real session (the migration lock), and DATABASE_URL "
		                  "reaches PostgreSQL through a connection pooler (PgBouncer or "
		                  "similar); set DATABASE_DIRECT_URL to a URL that bypasses it",
		                  role);
	if (session_go_direct(s, role, err) != 0)
		return -1;
	if (s->pooled)
		return sg_err_set(err, SG_E_CONFIG,
		                  "%s needs a real session, and DATABASE_DIRECT_URL goes through a "
		                  "pooler too",
		                  role);
	return 0;
}

/* Decides who applies the pending migrations. With *lead true this replica
 * holds the advisory lock (and the lease when Redis is on) and has re-read
 * the state; with *lead false another replica brought the database to the
 * target while we followed. */
int session_elect(struct session *s, bool *lead, struct sg_err *err)
{
	const struct cfg *cfg = s->cfg;
	struct follower_target t = {s->h.schema, cfg->table, s->p.target, s->key, !s->pooled};
	enum follower_outcome o = FOLLOWER_LEASED;
	bool got = false;
	char tok[24];

	*lead = false;
	if (cfg->redis_url != NULL && session_try_lease(s, &got, err) != 0)
		return -1;
	if (!got && s->lease == NULL) {
		/* Behind a pooler without Redis there is nothing to elect with:
		 * every replica goes ahead, and the per-migration lock with its
		 * re-check (apply.c) lets each version run once. */
		if (s->pooled)
			got = true;
		else if (lock_try(s->c, s->key, &got, err) != 0)
			return -1;
		o = FOLLOWER_LOCKED;
	}
	if (got) {
		if (!s->pooled) /* a session setting would stay in the pool */
			db_set_role(s->c, cfg, "leader");
	} else {
		if (follower_wait(s->c, cfg, &t, s->lease, &o, err) != 0)
			return -1;
		if (o == FOLLOWER_DONE)
			return 0;
	}
	if (o == FOLLOWER_LEASED) {
		long long floor = 0;

		/* Redis may have lost its data (a restart without persistence):
		 * its counter then starts at 1 again, below tokens already
		 * recorded. The runs table remembers. */
		if (hist_max_fencing(s->c, &s->h, &floor, err) != 0 ||
		    lease_fence_above(s->lease, floor, err) != 0)
			return -1;
		snprintf(tok, sizeof tok, "%lld", lease_fencing_token(s->lease));
		log_info("lease acquired: leading the migration", "fencing_token", tok, NULL);
		if (lease_start_renewal(s->lease, err) != 0)
			return -1;
	} else if (s->lease != NULL) {
		/* Redis failed while following: the lease is not ours. */
		lease_free(s->lease);
		s->lease = NULL;
	}
	*lead = true;
	return session_lock_held(s, o == FOLLOWER_LOCKED, err);
}

int session_load_texts(struct session *s, struct sg_err *err)
{
	for (size_t i = 0; i < s->p.npending; i++)
		if (mig_load_text(s->set, s->p.pending[i], MIG_DEFAULT_MAX_BYTES, err) != 0)
			return -1;
	return 0;
}

int session_begin_run(struct session *s, const char *command, long from_version, long to_version,
                      struct sg_err *err)
{
	if (s->run_id != 0) {
		bool resumed = false;

		if (hist_run_resume(s->c, &s->h, s->run_id, lease_fencing_token(s->lease),
		                    !s->pooled, &resumed, err) != 0)
			return -1;
		if (resumed)
			return 0;
		log_warn("this run was declared abandoned while the connection was lost; beginning "
		         "another",
		         NULL);
	}
	/* Behind a pooler there is no session lock: runs still marked running may be alive. */
	return hist_run_begin(s->c, &s->h, command, s->cfg->identity, from_version, to_version,
	                      lease_fencing_token(s->lease), !s->pooled, &s->run_id, err);
}

int session_end_run(struct session *s, enum run_outcome outcome, long reached, const char *error,
                    struct sg_err *err)
{
	char v[24];
	const char *params[2] = {s->cfg->notify_channel, v};
	PGresult *r = NULL;

	if (s->run_id == 0 || db_is_broken(s->c))
		return 0;
	snprintf(v, sizeof v, "%ld", reached);
	if (db_exec(s->c, "BEGIN;SET LOCAL synchronous_commit TO on", err) != 0)
		return -1;
	if (hist_run_end(s->c, &s->h, s->run_id, outcome, reached, error, err) != 0 ||
	    db_query(s->c, "SELECT pg_notify($1, $2)", 2, params, &r, err) != 0) {
		db_rollback(s->c);
		return -1;
	}
	PQclear(r);
	return db_exec(s->c, "COMMIT", err);
}

void session_doing(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* Truncation is fine: a phrase for people. */
	vsnprintf(s->doing, sizeof s->doing, fmt, ap);
	va_end(ap);
}

void session_progress(struct session *s)
{
	s->losses = 0;
}

int session_recover(struct session *s, const struct sg_err *cause, struct sg_err *err)
{
	const struct cfg *cfg = s->cfg;
	struct cfg direct = *cfg; /* shallow: strings stay owned by cfg */
	struct sg_err first = *cause, e = {.code = SG_E_OK};
	char why[160], line[600];
	int old_pid = s->c != NULL ? PQbackendPID(s->c) : 0, ended;
	PGconn *c = NULL;

	db_err_cause_text(&first, why, sizeof why);
	s->losses++;
	if (s->losses > cfg->connect_attempts)
		return sg_err_set(err, SG_E_UNREACHABLE,
		                  "connection lost %ld times in a row without progress; the last "
		                  "time while %s (%s): %.600s",
		                  s->losses, s->doing, why, first.msg);
	/* Truncation is fine: a line for people, the details follow as fields. */
	snprintf(line, sizeof line,
	         "connection lost while %s (%s); reconnecting (attempt %ld of %ld)", s->doing, why,
	         s->losses, cfg->connect_attempts);
	log_warn(line, "error", first.msg, NULL);
	/* What the old session held dies with it on the server: the advisory lock. The lease is
	 * given back so that the election runs again and its winner gets a new fencing token. */
	s->locked = false;
	if (s->lease != NULL && lease_release(s->lease, false, s->reached, &e) != 0)
		log_debug("giving the lease back failed; it expires by itself", "error", e.msg,
		          NULL);
	lease_free(s->lease);
	s->lease = NULL;
	if (s->c != NULL)
		PQfinish(s->c);
	s->c = NULL;
	if (s->direct)
		direct.database_url = cfg->database_direct_url;
	if (db_reconnect(&direct, s->role, strcmp(s->role, "migrate") == 0, cfg->connect_attempts,
	                 &c, err) != 0) {
		if (err->code == SG_E_UNREACHABLE)
			sg_err_wrap(err, SG_E_UNREACHABLE,
			            "%.700s (the connection was lost while %s: %s)", err->msg,
			            s->doing, why);
		return -1;
	}
	s->c = c;
	/* A server that did not notice the loss (no failover: a network fault) keeps our old
	 * session, and with it the advisory lock, until its keepalives give up. */
	if (old_pid > 0 && (ended = db_end_orphan(c, cfg, old_pid, &e)) > 0)
		log_info("ended our previous session, which the server still kept", NULL);
	else if (old_pid > 0 && ended < 0)
		log_debug("could not look for our previous session", "error", e.msg, NULL);
	if (session_read(s, err) != 0)
		return -1;
	log_info("reconnected: going on from what the history says", NULL);
	return 0;
}
