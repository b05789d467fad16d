/* follower.c - waiting for the leader: LISTEN/NOTIFY, Redis pub/sub, polling, and takeover. */
#include "follower.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backoff.h"
#include "db.h"
#include "history.h"
#include "lease.h"
#include "lock.h"
#include "log.h"
#include "notify.h"
#include "proc.h"
#include "redis.h"

/* Reads the history: *reached when head >= target and nothing is dirty. */
static int check_target(PGconn *c, const struct follower_target *t, bool *reached, long *head,
                        struct sg_err *err)
{
	bool dirty = false, exists = false;

	if (hist_read_head(c, t->schema, t->table, head, &dirty, &exists, err) != 0)
		return -1;
	*reached = exists && *head >= t->version && !dirty;
	return 0;
}

/* SUBSCRIBEs a context of its own to the done channel; NULL when Redis is
 * not there (the NOTIFY and the poll still wake us). */
static redisContext *subscribe(const struct cfg *cfg, int64_t key)
{
	char chan[64];
	const char *argv[] = {"SUBSCRIBE", chan};
	redisContext *s = NULL;
	redisReply *r = NULL;
	struct sg_err err = {.code = SG_E_OK};

	lease_name(LEASE_CHANNEL_PREFIX, key, chan, sizeof chan);
	if (redis_connect(cfg, &s, &err) != 0 || redis_command(s, 2, argv, &r, &err) != 0) {
		log_warn("cannot subscribe to the leader's Redis channel; relying on NOTIFY",
		         "error", err.msg, NULL);
		redis_close(s);
		return NULL;
	}
	freeReplyObject(r);
	return s;
}

/* Consumes what arrived on the subscription; false when it died. */
static bool drain_subscription(redisContext *s)
{
	void *r = NULL;

	if (redisGetReply(s, &r) != REDIS_OK)
		return false;
	freeReplyObject(r);
	/* Several messages may have come in one read: take the buffered ones. */
	while (redisGetReplyFromReader(s, &r) == REDIS_OK && r != NULL) {
		freeReplyObject(r);
		r = NULL;
	}
	return !redis_is_broken(s);
}

/* One election attempt. *won and *out say whether we now lead. A Redis
 * failure degrades to the advisory lock (or fails with leader.required). */
static int elect(PGconn *c, const struct cfg *cfg, const struct follower_target *t,
                 struct lease **lease, bool *won, enum follower_outcome *out, struct sg_err *err)
{
	struct sg_err lerr = {.code = SG_E_OK};

	*won = false;
	if (*lease != NULL) {
		if (lease_try(*lease, won, &lerr) == 0) {
			*out = FOLLOWER_LEASED;
			return 0;
		}
		if (cfg->leader_required)
			return sg_err_set(err, SG_E_REDIS, "leader election failed: %s", lerr.msg);
		log_warn("Redis unavailable while following; electing by advisory lock instead",
		         "error", lerr.msg, NULL);
		*lease = NULL;
	}
	if (!t->session) {
		*won = true; /* nothing to elect with: see follower_target.session */
		*out = FOLLOWER_LOCKED;
		return 0;
	}
	if (lock_try(c, t->lock_key, won, err) != 0)
		return -1;
	*out = FOLLOWER_LOCKED;
	return 0;
}

int follower_wait(PGconn *c, const struct cfg *cfg, const struct follower_target *t,
                  struct lease *lease_in, enum follower_outcome *out, struct sg_err *err)
{
	struct lease *lease = lease_in; /* NULL once Redis failed */
	redisContext *sub = NULL;
	long long start = proc_now_ms(), deadline = start + cfg->follower_timeout_ms;
	long long next_check = start, next_elect = start;
	unsigned seed = (unsigned)getpid() ^ (unsigned)start, attempt = 0;
	bool woke = false, listening = false;
	long head = 0;
	char target[24];
	int rc = -1;

	snprintf(target, sizeof target, "%ld", t->version);
	if (t->session) { /* behind a pooler the name would stay with the pool */
		db_set_role(c, cfg, "follower");
		if (notify_listen(c, cfg->notify_channel, true, err) != 0)
			goto cleanup;
		listening = true;
	}
	if (lease != NULL)
		sub = subscribe(cfg, t->lock_key);
	log_info("another replica is migrating; waiting for it", "target", target, "election",
	         lease != NULL ? "redis lease" : "advisory lock", NULL);
	for (;;) {
		long long now = proc_now_ms(), until;
		bool reached = false, won = false, notified = false, msg = false;

		if (woke || now >= next_check) {
			if (check_target(c, t, &reached, &head, err) != 0)
				goto cleanup;
			if (reached) {
				char h[24];

				snprintf(h, sizeof h, "%ld", head);
				log_info("the leader finished: schema is at the target version",
				         "version", h, NULL);
				*out = FOLLOWER_DONE;
				rc = 0;
				goto cleanup;
			}
			next_check = proc_now_ms() + cfg->follower_poll_ms;
		}
		if (woke || now >= next_elect) {
			if (elect(c, cfg, t, &lease, &won, out, err) != 0)
				goto cleanup;
			if (lease == NULL && sub != NULL) {
				redis_close(sub);
				sub = NULL;
			}
			if (won) {
				log_info(*out == FOLLOWER_LEASED
				             ? "took over the lease: leading the migration"
				             : "took the migration lock: leading the migration",
				         NULL);
				if (t->session)
					db_set_role(c, cfg, "leader");
				rc = 0;
				goto cleanup;
			}
			attempt++;
			next_elect = proc_now_ms() +
			             (lease != NULL ? cfg->retry_period_ms
			                            : backoff_jitter_ms(cfg->lock_poll_min_ms,
			                                                cfg->lock_poll_max_ms,
			                                                attempt < 32 ? attempt : 32,
			                                                (unsigned)rand_r(&seed)));
		}
		woke = false;
		now = proc_now_ms();
		if (now >= deadline) {
			sg_err_set(
			    err, SG_E_TIMEOUT,
			    "timed out after %ld ms waiting for the leader to reach version %ld "
			    "(at %ld)",
			    cfg->follower_timeout_ms, t->version, head);
			goto cleanup;
		}
		until = next_check < next_elect ? next_check : next_elect;
		if (deadline < until)
			until = deadline;
		if (notify_wait(c, sub != NULL ? sub->fd : -1, (long)(until - now), NULL, NULL,
		                &notified, &msg, err) != 0)
			goto cleanup;
		if (msg && !drain_subscription(sub)) {
			log_warn("Redis subscription lost; relying on NOTIFY and polling", NULL);
			redis_close(sub);
			sub = NULL;
		}
		woke = notified || msg;
	}
cleanup:
	redis_close(sub);
	/* Done: the caller closes the connection, which ends the LISTEN too; one
	 * round trip less for every follower of a rollout. */
	if (listening && !db_is_broken(c) && !(rc == 0 && *out == FOLLOWER_DONE)) {
		struct sg_err uerr;

		if (notify_listen(c, cfg->notify_channel, false, &uerr) != 0)
			log_warn("UNLISTEN failed", "error", uerr.msg, NULL);
	}
	return rc;
}
