/* follower.h - replicas that are not the leader: wait for the target version, wake on NOTIFY, take
 * over. */
#ifndef SCHEMAGATE_FOLLOWER_H
#define SCHEMAGATE_FOLLOWER_H

#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "config.h"
#include "err.h"

struct lease;

/* How a wait ended (when it did not fail). */
enum follower_outcome {
	FOLLOWER_DONE,   /* the history reached the target, no dirty row: exit 0 */
	FOLLOWER_LEASED, /* the lease was free and we took it: lead (lock not taken yet) */
	FOLLOWER_LOCKED, /* election by advisory lock (no Redis): we now hold the lock */
};

/* What to wait for. Strings are borrowed. */
struct follower_target {
	const char *schema; /* schema of the history table (unquoted) */
	const char *table;  /* history table name (unquoted) */
	long version;       /* the head must reach at least this, with no dirty row */
	int64_t lock_key;   /* advisory lock key (also names the Redis keys) */
	bool session;       /* c is a real session: LISTEN and the session lock work. false
	                     * behind a pooler: no LISTEN (poll and the Redis channel
	                     * only), and no lock election (FOLLOWER_LOCKED without a lock:
	                     * the caller relies on per-migration locks) */
};

/* Waits on the open connection c (outside any transaction) until the target
 * is reached or this replica should lead. It LISTENs on cfg->notify_channel,
 * SUBSCRIBEs to the lease's done channel when lease != NULL, and polls as a
 * fallback every cfg->follower_poll_ms; any notification or message triggers
 * an immediate re-check (hist_read), so followers exit within milliseconds of
 * the leader's final commit.
 *
 * Election: with a lease (lease != NULL, not yet held), it tries the lease
 * every cfg->retry_period_ms and on every wake-up, so a dead leader's expired
 * lease is taken over. Without one, it tries pg_try_advisory_lock with the
 * lock_poll_min/max backoff and on every wake-up (never a blocking lock
 * call). A Redis failure while waiting is logged once and the wait continues
 * with the advisory lock as the election, unless cfg->leader_required
 * (SG_E_REDIS). The LISTEN is removed again before returning, except with
 * FOLLOWER_DONE (the caller is about to close c).
 *
 * Errors: SG_E_TIMEOUT after cfg->follower_timeout_ms, SG_E_STOPPED on a stop
 * signal, SG_E_DB when the connection fails. */
SG_MUSTCHECK int follower_wait(PGconn *c, const struct cfg *cfg, const struct follower_target *t,
                               struct lease *lease, enum follower_outcome *out, struct sg_err *err);

#endif /* SCHEMAGATE_FOLLOWER_H */
