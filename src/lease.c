/* lease.c - the Redis lease: SET NX PX to take it, a renewal thread, scripts to extend and release.
 */
#include "lease.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "redis.h"

/* Extends the lease only while it still holds our token: a replica can never
 * extend a lease that expired and was taken by another one. A key that is
 * gone (Redis restarted without persistence, or it expired while Redis was
 * unreachable or paused) is taken back: nobody else holds it, and the
 * advisory lock still guarantees that only one replica applies. Returns 1
 * extended, 2 taken back, 0 another token holds it. */
static const char renew_script[] =
    "local v = redis.call('get', KEYS[1]) "
    "if v == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end "
    "if v == false then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end "
    "return 0";
/* Deletes the lease only while it holds our token. */
static const char release_script[] = "if redis.call('get', KEYS[1]) == ARGV[1] then "
                                     "return redis.call('del', KEYS[1]) else return 0 end";

/* Where the lease stands. The renewal thread makes one move, HELD to LOST; every other move is
 * made by the caller's thread while no renewal thread runs. */
enum lease_state {
	LEASE_FREE, /* not taken yet, or released */
	LEASE_HELD, /* taken by lease_try and not released */
	LEASE_LOST, /* the renewal thread found it lost (lease_lost) until lease_try takes it again
	             */
};

/* What one compare-and-extend found (renew_once). */
enum renew_result {
	RENEW_FAILED,   /* no answer from Redis: err says why */
	RENEW_EXTENDED, /* the key held our token; its expiry is pushed back */
	RENEW_RETAKEN,  /* the key was gone; it holds our token again */
	RENEW_TAKEN,    /* the key holds another token */
};

struct lease {
	const struct cfg *cfg; /* borrowed */
	lease_clock_fn *clock;
	redisContext *rc;    /* owned by the renewal thread while it runs */
	char key[64];        /* schemagate:lease:<hex> */
	char fence[64];      /* schemagate:fence:<hex> */
	char channel[64];    /* schemagate:done:<hex> */
	char token[320];     /* identity:random */
	long long fencing;   /* token of the current acquisition */
	bool thread_running; /* the renewal thread exists and is not joined */
	pthread_t thread;
	pthread_mutex_t mu; /* guards stop, paired with cv */
	pthread_cond_t cv;  /* wakes the renewal thread early on stop */
	bool stop;
	_Atomic(enum lease_state) state; /* read by any thread (lease_lost) */
};

void lease_name(const char *prefix, int64_t key, char *buf, size_t n)
{
	/* Truncation cannot happen with n >= strlen(prefix) + 17. */
	snprintf(buf, n, "%s%016llx", prefix, (unsigned long long)(uint64_t)key);
}

bool lease_deadline_passed(long long last_ok_ms, long long now_ms, long renew_deadline_ms)
{
	return now_ms - last_ok_ms >= renew_deadline_ms;
}

static void random_hex(char *out, size_t n)
{
	unsigned char b[8];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	bool ok = false;

	if (fd >= 0) {
		ok = read(fd, b, sizeof b) == (ssize_t)sizeof b;
		close(fd);
	}
	if (!ok) {
		/* Uniqueness, not secrecy, is what matters here. */
		unsigned long long v =
		    (unsigned long long)proc_now_ms() ^ ((unsigned long long)getpid() << 32);
		memcpy(b, &v, sizeof b);
	}
	for (size_t i = 0; i < sizeof b && 2 * i + 2 < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static int reconnect(struct lease *l, struct sg_err *err)
{
	if (!redis_is_broken(l->rc))
		return 0;
	redis_close(l->rc);
	l->rc = NULL;
	return redis_connect(l->cfg, &l->rc, err);
}

/* Runs a command on the lease's context; drops the context when it died so
 * the next call reconnects. */
static int command(struct lease *l, int argc, const char *const *argv, redisReply **out,
                   struct sg_err *err)
{
	if (reconnect(l, err) != 0)
		return -1;
	if (redis_command(l->rc, argc, argv, out, err) != 0) {
		if (redis_is_broken(l->rc)) {
			redis_close(l->rc);
			l->rc = NULL;
		}
		return -1;
	}
	return 0;
}

int lease_open(const struct cfg *cfg, int64_t key, lease_clock_fn *clock, struct lease **out,
               struct sg_err *err)
{
	struct lease *l = NULL;
	char rnd[17] = "";
	int n;

	*out = NULL;
	if ((l = calloc(1, sizeof *l)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	l->cfg = cfg;
	l->clock = clock != NULL ? clock : proc_now_ms;
	atomic_init(&l->state, LEASE_FREE);
	lease_name(LEASE_KEY_PREFIX, key, l->key, sizeof l->key);
	lease_name(LEASE_FENCE_PREFIX, key, l->fence, sizeof l->fence);
	lease_name(LEASE_CHANNEL_PREFIX, key, l->channel, sizeof l->channel);
	random_hex(rnd, sizeof rnd);
	n = snprintf(l->token, sizeof l->token, "%s:%s", cfg->identity, rnd);
	if (n < 0 || (size_t)n >= sizeof l->token) {
		free(l);
		return sg_err_set(err, SG_E_CONFIG, "identity too long for a lease token");
	}
	if (redis_connect(cfg, &l->rc, err) != 0) {
		free(l);
		return -1;
	}
	*out = l;
	return 0;
}

int lease_try(struct lease *l, bool *got, struct sg_err *err)
{
	char ttl[24];
	const char *set[] = {"SET", l->key, l->token, "NX", "PX", ttl};
	const char *incr[] = {"INCR", l->fence};
	redisReply *r = NULL;

	*got = false;
	snprintf(ttl, sizeof ttl, "%ld", l->cfg->lease_ttl_ms);
	if (command(l, 6, set, &r, err) != 0)
		return -1;
	*got = r->type == REDIS_REPLY_STATUS;
	freeReplyObject(r);
	if (!*got)
		return 0;
	atomic_store(&l->state, LEASE_HELD);
	if (command(l, 2, incr, &r, err) != 0)
		return -1; /* still held, so that release still tries */
	l->fencing = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	freeReplyObject(r);
	return 0;
}

/* Raises the fencing counter to at least ARGV[1] before drawing from it. */
static const char fence_above_script[] =
    "local v = tonumber(redis.call('GET', KEYS[1]) or '0') "
    "if v < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end "
    "return redis.call('INCR', KEYS[1])";

int lease_fence_above(struct lease *l, long long floor, struct sg_err *err)
{
	char f[24];
	const char *argv[] = {"EVAL", fence_above_script, "1", l->fence, f};
	redisReply *r = NULL;

	if (l->fencing > floor)
		return 0;
	snprintf(f, sizeof f, "%lld", floor);
	if (command(l, 5, argv, &r, err) != 0)
		return -1;
	if (r->type != REDIS_REPLY_INTEGER || r->integer <= floor) {
		freeReplyObject(r);
		return sg_err_set(err, SG_E_REDIS, "could not raise the fencing counter above %s",
		                  f);
	}
	l->fencing = r->integer;
	freeReplyObject(r);
	return 0;
}

/* One compare-and-extend (renew_script). */
static enum renew_result renew_once(struct lease *l, struct sg_err *err)
{
	char ttl[24];
	const char *argv[] = {"EVAL", renew_script, "1", l->key, l->token, ttl};
	redisReply *r = NULL;
	enum renew_result res = RENEW_TAKEN;

	snprintf(ttl, sizeof ttl, "%ld", l->cfg->lease_ttl_ms);
	if (command(l, 6, argv, &r, err) != 0)
		return RENEW_FAILED;
	if (r->type == REDIS_REPLY_INTEGER && r->integer == 1)
		res = RENEW_EXTENDED;
	else if (r->type == REDIS_REPLY_INTEGER && r->integer == 2)
		res = RENEW_RETAKEN;
	freeReplyObject(r);
	return res;
}

/* Sleeps on the condition variable until abs_ms (CLOCK_MONOTONIC) or stop.
 * Called with mu held; returns with it held. */
static void wait_until(struct lease *l, long long abs_ms)
{
	struct timespec ts = {(time_t)(abs_ms / 1000), (long)(abs_ms % 1000) * 1000000L};

	while (!l->stop) {
		int rc = pthread_cond_timedwait(&l->cv, &l->mu, &ts);

		if (rc == ETIMEDOUT)
			return;
	}
}

static void *renew_thread(void *arg)
{
	struct lease *l = arg;
	const struct cfg *cfg = l->cfg;
	long interval = cfg->lease_ttl_ms / 3 > 0 ? cfg->lease_ttl_ms / 3 : 1;
	long long last_ok = l->clock();
	long long next = proc_now_ms() + interval;
	bool warned = false;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		struct sg_err err = {.code = SG_E_OK};
		enum renew_result res;

		wait_until(l, next);
		if (l->stop)
			break;
		pthread_mutex_unlock(&l->mu);
		res = renew_once(l, &err);
		if (res == RENEW_RETAKEN)
			log_warn("lease key was gone (Redis restarted or the lease expired "
			         "unrenewed); took it back",
			         "key", l->key, NULL);
		if (res == RENEW_EXTENDED || res == RENEW_RETAKEN) {
			last_ok = l->clock();
			next = proc_now_ms() + interval;
			if (warned)
				log_info("lease renewal works again", NULL);
			warned = false;
		} else if (res == RENEW_TAKEN) {
			log_error("lease lost: the key holds another token", "key", l->key, NULL);
			atomic_store(&l->state, LEASE_LOST);
			pthread_mutex_lock(&l->mu);
			break;
		} else {
			next = proc_now_ms() + cfg->retry_period_ms;
			if (lease_deadline_passed(last_ok, l->clock(), cfg->renew_deadline_ms)) {
				if (cfg->leader_required) {
					log_error(
					    "lease lost: not renewed within the renew deadline",
					    "error", err.msg, NULL);
					atomic_store(&l->state, LEASE_LOST);
					pthread_mutex_lock(&l->mu);
					break;
				}
				if (!warned)
					log_warn("lease renewal failing past the renew deadline; "
					         "continuing on the advisory lock alone",
					         "error", err.msg, NULL);
				warned = true;
			}
		}
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

int lease_start_renewal(struct lease *l, struct sg_err *err)
{
	pthread_condattr_t ca;

	if (l->thread_running)
		return 0;
	if (pthread_condattr_init(&ca) != 0)
		return sg_err_set(err, SG_E_NOMEM, "pthread_condattr_init failed");
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&l->cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		return sg_err_set(err, SG_E_NOMEM, "pthread_cond_init failed");
	}
	pthread_condattr_destroy(&ca);
	if (pthread_mutex_init(&l->mu, NULL) != 0) {
		pthread_cond_destroy(&l->cv);
		return sg_err_set(err, SG_E_NOMEM, "pthread_mutex_init failed");
	}
	l->stop = false;
	if (pthread_create(&l->thread, NULL, renew_thread, l) != 0) {
		pthread_cond_destroy(&l->cv);
		pthread_mutex_destroy(&l->mu);
		return sg_err_set(err, SG_E_NOMEM, "cannot start the lease renewal thread");
	}
	l->thread_running = true;
	return 0;
}

static void stop_thread(struct lease *l)
{
	if (!l->thread_running)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	l->thread_running = false;
}

bool lease_lost(const struct lease *l)
{
	return l != NULL && atomic_load(&l->state) == LEASE_LOST;
}

long long lease_fencing_token(const struct lease *l)
{
	return l != NULL ? l->fencing : 0;
}

const char *lease_token(const struct lease *l)
{
	return l->token;
}

int lease_release(struct lease *l, bool publish, long version, struct sg_err *err)
{
	const char *del[] = {"EVAL", release_script, "1", l->key, l->token};
	char v[24];
	const char *pub[] = {"PUBLISH", l->channel, v};
	redisReply *r = NULL;

	stop_thread(l);
	if (atomic_load(&l->state) == LEASE_FREE)
		return 0;
	atomic_store(&l->state, LEASE_FREE);
	if (command(l, 5, del, &r, err) != 0)
		return -1;
	freeReplyObject(r);
	if (!publish)
		return 0;
	snprintf(v, sizeof v, "%ld", version);
	if (command(l, 3, pub, &r, err) != 0)
		return -1;
	freeReplyObject(r);
	return 0;
}

void lease_free(struct lease *l)
{
	if (l == NULL)
		return;
	stop_thread(l);
	redis_close(l->rc);
	free(l);
}

int lease_peek(const struct cfg *cfg, int64_t key, struct lease_info *out, struct sg_err *err)
{
	char k[64], f[64];
	const char *get[] = {"GET", k}, *pttl[] = {"PTTL", k}, *getf[] = {"GET", f};
	redisContext *c = NULL;
	redisReply *r = NULL;
	int rc = -1;

	memset(out, 0, sizeof *out);
	out->remaining_ms = -1;
	lease_name(LEASE_KEY_PREFIX, key, k, sizeof k);
	lease_name(LEASE_FENCE_PREFIX, key, f, sizeof f);
	if (redis_connect(cfg, &c, err) != 0 || redis_command(c, 2, get, &r, err) != 0)
		goto cleanup;
	if (r->type == REDIS_REPLY_STRING)
		snprintf(out->holder, sizeof out->holder, "%s", r->str); /* display only */
	freeReplyObject(r);
	if (redis_command(c, 2, pttl, &r, err) != 0)
		goto cleanup;
	if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0 && out->holder[0] != '\0')
		out->remaining_ms = r->integer;
	freeReplyObject(r);
	if (redis_command(c, 2, getf, &r, err) != 0)
		goto cleanup;
	if (r->type == REDIS_REPLY_STRING)
		out->fencing = strtoll(r->str, NULL, 10);
	freeReplyObject(r);
	rc = 0;
cleanup:
	redis_close(c);
	return rc;
}
