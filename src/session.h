/* session.h - what one command holds while it works on the database: open, elect, lock, close. */
#ifndef SCHEMAGATE_SESSION_H
#define SCHEMAGATE_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "config.h"
#include "err.h"
#include "history.h"
#include "lease.h"
#include "migrations.h"
#include "plan.h"

/* Everything one command holds, released by session_close in one place. The fields are the
 * session's own: callers read them (the plan, the history, the connection to run files on)
 * and change them only through the functions below. */
struct session {
	const struct cfg *cfg; /* borrowed */
	PGconn *c;
	struct mig_set *set; /* the migrations folder */
	struct hist h;       /* the history, as last read */
	struct plan p;       /* the folder against h */
	int64_t key;         /* the advisory lock key */
	bool locked;         /* this session holds the advisory lock */
	long run_id;         /* the audit row of this run; 0: none yet */
	struct lease *lease; /* the Redis lease when election by Redis is on, else NULL */
	long reached;        /* head after our work: published to followers on release */
	bool pooled;         /* c reaches PostgreSQL through a pooler: no session state
	                      * (session lock, LISTEN, SET) survives between transactions */
	const char *role;    /* what it connects as ("migrate", "down", ...): static text */
	bool direct;         /* c is on DATABASE_DIRECT_URL (session_go_direct) */
	long losses;         /* connections lost in a row with no progress in between */
	char doing[320];     /* what the session is doing, for the message when the connection
	                      * is lost: "applying 000052_t52.up.sql" */
};

/* Loads the folder (on a low-priority thread, without the files' texts) while connecting as
 * role, then reads the history and the plan. "migrate" connects without the search path (it
 * sets it in each transaction); the other roles get it on the session. A broken folder is
 * reported before a database error. On failure session_close still releases what is held. */
SG_MUSTCHECK int session_open(struct session *s, const struct cfg *cfg, const char *role,
                              struct sg_err *err);

/* Reads the state again: the history, and the plan against the folder. */
SG_MUSTCHECK int session_read(struct session *s, struct sg_err *err);

/* Takes the advisory lock (bounded by lock.timeout; none behind a pooler, where each
 * transaction takes it), creates the history tables if missing and reads the state again: a
 * replica that held the lock before may have done the work. SG_E_TIMEOUT. */
SG_MUSTCHECK int session_lock(struct session *s, struct sg_err *err);

/* Decides who applies the pending migrations. With *lead true this replica holds the
 * advisory lock (and the lease when Redis is on) and has read the state again; with *lead
 * false another replica brought the database to the target while this one followed. */
SG_MUSTCHECK int session_elect(struct session *s, bool *lead, struct sg_err *err);

/* After the lease was lost: gives up the advisory lock (the new leader needs it) and the
 * lease, so that session_elect can run again. */
void session_step_down(struct session *s);

/* Work is pending and DATABASE_URL goes through a pooler: continues on DATABASE_DIRECT_URL
 * (a real session for the session lock, LISTEN and no-transaction files), and reads the state
 * there. */
SG_MUSTCHECK int session_go_direct(struct session *s, const char *role, struct sg_err *err);

/* For commands that change the history under the session lock and run files on the session
 * (down, force, baseline): behind a pooler, continues over DATABASE_DIRECT_URL, else refuses
 * (SG_E_CONFIG). */
SG_MUSTCHECK int session_need_direct(struct session *s, const char *role, struct sg_err *err);

/* Reads the text of every pending migration (the folder was loaded without texts: the no-op
 * path of every pod start needs none). */
SG_MUSTCHECK int session_load_texts(struct session *s, struct sg_err *err);

/* Writes this run's audit row (command, from, to, the lease's fencing token). After
 * session_recover, the run this session began is taken up again instead (hist_run_resume),
 * unless another lock holder declared it abandoned meanwhile. */
SG_MUSTCHECK int session_begin_run(struct session *s, const char *command, long from_version,
                                   long to_version, struct sg_err *err);

/* Ends the audit row with outcome and wakes waiters (NOTIFY), in one durable commit: with
 * synchronous_commit off for the intermediate migrations, this flush makes all of them
 * durable before NOTIFY is sent and before the process exits. A no-op without an audit row or
 * on a broken connection. error may be NULL. Not SG_MUSTCHECK: after a failure, callers record
 * the outcome on a best-effort basis and keep the first error. */
int session_end_run(struct session *s, enum run_outcome outcome, long reached, const char *error,
                    struct sg_err *err);

/* After an infrastructure failure (db_err_is_infrastructure(cause): a failover, a restart, a
 * lost connection, a standby): logs it once ("connection lost", what the session was doing
 * and why), gives up what died with the connection (the advisory lock) and the lease (the
 * election runs again, with a new fencing token), reconnects with the configured backoff
 * (database.connect_*: the attempts and delays of the start, every host of the URL; a
 * standby counts as a failed attempt), ends a session of ours the server may still keep, and
 * reads the history again, which settles a COMMIT whose outcome was unknown (each migration
 * commits with its row). cause may be err. SG_E_UNREACHABLE with the last cause and the
 * first when the budget runs out, also after connect_attempts losses in a row without
 * progress (session_progress) in between; SG_E_STOPPED on a signal. */
SG_MUSTCHECK int session_recover(struct session *s, const struct sg_err *cause, struct sg_err *err);

/* The session got work done (a migration committed, a statement completed): the next lost
 * connection starts a new count (session_recover). */
void session_progress(struct session *s);

/* Sets what the session is doing (printf-style), for session_recover's message. */
void session_doing(struct session *s, const char *fmt, ...) SG_PRINTF(2, 3);

/* Releases the lock (checked), then the lease (publishing s->reached), the connection and
 * memory. Safe on a session that failed to open. */
void session_close(struct session *s);

#endif /* SCHEMAGATE_SESSION_H */
