/* lease.h - a Redis-held lease so that only one replica migrates at a time, with fencing tokens. */
#ifndef SCHEMAGATE_LEASE_H
#define SCHEMAGATE_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

struct lease; /* opaque: fields live in lease.c */

/* Milliseconds on a monotonic clock; tests may pass their own. */
typedef long long lease_clock_fn(void);

/* Redis names derived from the advisory lock key (lock_key() in lock.h),
 * written as 16 lower-case hex digits of its two's complement:
 *   schemagate:lease:<hex>  the lease (value: holder token, PX = lease ttl)
 *   schemagate:fence:<hex>  the fencing counter (INCR per acquisition)
 *   schemagate:done:<hex>   the channel the leader PUBLISHes its version on */
#define LEASE_KEY_PREFIX "schemagate:lease:"
#define LEASE_FENCE_PREFIX "schemagate:fence:"
#define LEASE_CHANNEL_PREFIX "schemagate:done:"

/* Writes prefix + the 16 hex digits of key into buf (n >= strlen(prefix)+17). */
void lease_name(const char *prefix, int64_t key, char *buf, size_t n);

/* Connects to cfg->redis_url (timeouts: cfg->redis_timeout_ms) and prepares a
 * lease for lock key `key` with token "<cfg->identity>:<16 random hex>". No
 * key is touched yet. clock NULL means proc_now_ms. cfg is borrowed and must
 * outlive the lease. On success *out owns the handle: lease_free(). SG_E_CONFIG
 * (bad URL) or SG_E_REDIS (unreachable). */
SG_MUSTCHECK int lease_open(const struct cfg *cfg, int64_t key, lease_clock_fn *clock,
                            struct lease **out, struct sg_err *err);

/* Tries once: SET key token NX PX ttl. When taken, *got is true and a new
 * fencing token is drawn (INCR). Reconnects first if the context died.
 * Not while the renewal thread runs. SG_E_REDIS on any Redis failure. */
SG_MUSTCHECK int lease_try(struct lease *l, bool *got, struct sg_err *err);

/* Starts the renewal thread: every ttl/3 it extends the lease with a
 * compare-and-extend script (retrying every retry_period after a failure).
 * A key that is gone (Redis restarted, or the lease expired while Redis was
 * unreachable) is taken back with the same token and fencing token: nobody
 * else holds it, and the advisory lock still decides who applies.
 * The lease counts as lost (lease_lost() turns true, for good) when the key
 * holds another token, or when no renewal succeeded within
 * renew_deadline while cfg->leader_required (without it, an unreachable Redis
 * only logs a warning: the advisory lock still guards correctness).
 * Only after a successful lease_try. */
SG_MUSTCHECK int lease_start_renewal(struct lease *l, struct sg_err *err);

/* True once the renewal thread found the lease lost. Thread-safe. */
bool lease_lost(const struct lease *l);

/* Makes the fencing token of the current acquisition greater than floor (the
 * highest token recorded in the runs table): when Redis lost its data the
 * counter starts again at 1, and tokens must never go backwards. Draws a new
 * token from the counter raised to floor; a no-op when the token is above it
 * already. Call before lease_start_renewal (it uses the connection).
 * SG_E_REDIS on failure. */
SG_MUSTCHECK int lease_fence_above(struct lease *l, long long floor, struct sg_err *err);

/* The fencing token of the current acquisition, 0 before one. */
long long lease_fencing_token(const struct lease *l);

/* The holder token (borrowed, valid while l lives). */
const char *lease_token(const struct lease *l);

/* Stops the renewal thread (if any) and deletes the key only if it still holds
 * our token (compare-and-delete script), then publishes `version` on the done
 * channel when publish is true. A lease not held is a no-op. SG_E_REDIS on
 * failure (the lease then simply expires). */
SG_MUSTCHECK int lease_release(struct lease *l, bool publish, long version, struct sg_err *err);

/* Frees the handle: stops the renewal thread, closes the connection. No
 * release (call lease_release first). NULL-safe. */
void lease_free(struct lease *l);

/* What `status` shows about the lease. holder is "" when nobody holds it. */
struct lease_info {
	char holder[256];       /* token of the holder, "" when free */
	long long remaining_ms; /* PTTL, -1 when free */
	long long fencing;      /* last fencing token, 0 when none was drawn */
};

/* Reads the lease and fencing counter for `key` over a short-lived
 * connection (cfg->redis_timeout_ms). SG_E_REDIS when unreachable. */
SG_MUSTCHECK int lease_peek(const struct cfg *cfg, int64_t key, struct lease_info *out,
                            struct sg_err *err);

/* The renewal rule, pure for unit tests: given when the last renewal
 * succeeded and now, is the renewal deadline past? */
bool lease_deadline_passed(long long last_ok_ms, long long now_ms, long renew_deadline_ms);

#endif /* SCHEMAGATE_LEASE_H */
