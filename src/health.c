/* health.c - the readiness snapshot shared by the checker thread and the HTTP handlers. */
#define _GNU_SOURCE /* PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP */
#include "health.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "num.h"
#include "report.h"

const double health_buckets[HEALTH_NBUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                0.5,   1,    2.5,   5,    10};

static const char *const check_names[HEALTH_NCHECKS] = {"database", "migrations", "tables", "redis",
                                                        "shutdown"};

/* The module's state: written by the checker, read by handler threads.
 * A writer-preferring rwlock, not a mutex: dozens of handler threads copy the
 * snapshot thousands of times a second, and with a plain (barging) mutex the
 * one checker thread could lose the race for seconds under load, until its
 * snapshot went stale and /readyz failed. Readers share the lock; a waiting
 * writer goes first. */
static struct {
	pthread_rwlock_t mu;
	struct health_snap snap;
	struct health_report *report; /* the last report_build, or NULL */
} health = {.mu = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP};

/* A published report and how many hold it: the store itself (while it is the
 * current one) and each handler formatting it. */
struct health_report {
	struct report *rep;
	unsigned holds; /* under report_mu */
};

static pthread_mutex_t report_mu = PTHREAD_MUTEX_INITIALIZER;

void health_init(long expected, bool tables_required, bool redis_configured, bool redis_required)
{
	pthread_rwlock_wrlock(&health.mu);
	memset(&health.snap, 0, sizeof health.snap);
	health.snap.expected = expected;
	health.snap.pending = -1;
	health.snap.completed_duration_ms = -1;
	health.snap.last_run_duration_s = -1;
	health.snap.tables_required = tables_required;
	health.snap.redis_configured = redis_configured;
	health.snap.redis_required = redis_required;
	snprintf(health.snap.db_error, sizeof health.snap.db_error, "no check yet");
	pthread_rwlock_unlock(&health.mu);
	health_set_report(NULL);
}

void health_snapshot(struct health_snap *out)
{
	pthread_rwlock_rdlock(&health.mu);
	*out = health.snap;
	pthread_rwlock_unlock(&health.mu);
}

void health_publish(const struct health_snap *s)
{
	struct health_snap *d = &health.snap;
	double secs = (double)s->check_duration_ms / 1000.0;

	pthread_rwlock_wrlock(&health.mu);
	if (s->db_ok)
		d->taken_ms = s->taken_ms;
	d->wall_checked = s->wall_checked;
	d->check_duration_ms = s->check_duration_ms;
	d->db_ok = s->db_ok;
	memcpy(d->db_error, s->db_error, sizeof d->db_error);
	if (s->db_ok) {
		/* Keep the last known schema state while the database is away: the
		 * checks report it as unknown, /admin still shows what was seen. */
		d->history_exists = s->history_exists;
		d->head = s->head;
		d->dirty = s->dirty;
		d->last_run = s->last_run;
		d->last_run_end_s = s->last_run_end_s;
		d->last_run_duration_s = s->last_run_duration_s;
		d->lock_held = s->lock_held;
		d->lock_age_s = s->lock_age_s;
		d->pending = s->pending;
		d->refused = s->refused;
		memcpy(d->refusal, s->refusal, sizeof d->refusal);
		memcpy(d->missing_tables, s->missing_tables, sizeof d->missing_tables);
		memcpy(d->completed_at, s->completed_at, sizeof d->completed_at);
		d->completed_duration_ms = s->completed_duration_ms;
	}
	d->redis_ok = s->redis_ok;
	memcpy(d->redis_error, s->redis_error, sizeof d->redis_error);
	if (s->db_ok)
		d->checks_ok++;
	else
		d->checks_error++;
	for (size_t i = 0; i < HEALTH_NBUCKETS; i++)
		if (secs <= health_buckets[i])
			d->duration_buckets[i]++;
	d->duration_count++;
	d->duration_sum_s += secs;
	pthread_rwlock_unlock(&health.mu);
}

void health_heartbeat(long long now_ms)
{
	pthread_rwlock_wrlock(&health.mu);
	health.snap.heartbeat_ms = now_ms;
	if (health.snap.started_ms == 0)
		health.snap.started_ms = now_ms;
	pthread_rwlock_unlock(&health.mu);
}

void health_set_shutdown(void)
{
	pthread_rwlock_wrlock(&health.mu);
	health.snap.shutting_down = true;
	pthread_rwlock_unlock(&health.mu);
}

void health_report_release(struct health_report *h)
{
	bool last;

	if (h == NULL)
		return;
	pthread_mutex_lock(&report_mu);
	last = --h->holds == 0;
	pthread_mutex_unlock(&report_mu);
	if (last) { /* outside the lock: handlers never wait on a free */
		report_free(h->rep);
		free(h);
	}
}

void health_set_report(struct report *rep)
{
	struct health_report *h = NULL, *old;

	if (rep != NULL) {
		if ((h = malloc(sizeof *h)) == NULL) {
			report_free(rep); /* the previous report stays: stale beats none */
			return;
		}
		h->rep = rep;
		h->holds = 1;
	}
	pthread_mutex_lock(&report_mu);
	old = health.report;
	health.report = h;
	pthread_mutex_unlock(&report_mu);
	health_report_release(old);
}

struct health_report *health_report_hold(const struct report **rep)
{
	struct health_report *h;

	pthread_mutex_lock(&report_mu);
	if ((h = health.report) != NULL)
		h->holds++;
	pthread_mutex_unlock(&report_mu);
	*rep = h != NULL ? h->rep : NULL;
	return h;
}

const char *health_check_name(enum health_check c)
{
	return (unsigned)c < HEALTH_NCHECKS ? check_names[c] : "unknown";
}

int health_check_lookup(const char *name, size_t len)
{
	for (int i = 0; i < HEALTH_NCHECKS; i++)
		if (strlen(check_names[i]) == len && memcmp(check_names[i], name, len) == 0)
			return i;
	return -1;
}

static void fail(struct health_result *r, const char *fmt, ...) SG_PRINTF(2, 3);

static void fail(struct health_result *r, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	r->ok = false;
	va_start(ap, fmt);
	/* Truncating an over-long reason is intended. */
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
	/* what we say ourselves (versions, our table names) may be shown to anyone;
	 * cutting it to fit is intended */
	n = strnlen(r->reason, sizeof r->brief - 1);
	memcpy(r->brief, r->reason, n);
	r->brief[n] = '\0';
}

/* A failure whose details quote outside text (libpq's or hiredis's message,
 * with host, port, user, or a fragment of a password from a URL they could
 * not parse): brief is all that /readyz shows. */
static void fail_outside(struct health_result *r, const char *brief, const char *detail)
{
	r->ok = false;
	snprintf(r->reason, sizeof r->reason, "%.95s: %.220s", brief, detail);
	snprintf(r->brief, sizeof r->brief, "%s", brief);
}

void health_evaluate(const struct health_snap *s, long long now_ms, long interval_ms,
                     struct health_result out[HEALTH_NCHECKS])
{
	long long age = now_ms - s->taken_ms;
	bool db_ok = false;
	char h[24];

	for (int i = 0; i < HEALTH_NCHECKS; i++) {
		out[i].ok = true;
		out[i].reason[0] = '\0';
		out[i].brief[0] = '\0';
	}

	if (!s->db_ok && s->db_down_since > 0) {
		/* The checker keeps retrying: say so, and since when. */
		char since[32], brief[96];

		num_format_rfc3339(s->db_down_since, since, sizeof since);
		snprintf(brief, sizeof brief, "retrying: database unreachable since %s", since);
		fail_outside(&out[HEALTH_DATABASE], brief, s->db_error);
	} else if (!s->db_ok)
		fail_outside(&out[HEALTH_DATABASE], "unreachable", s->db_error);
	else if (s->taken_ms == 0)
		fail(&out[HEALTH_DATABASE], "no check yet");
	else if (age > 3LL * interval_ms)
		fail(&out[HEALTH_DATABASE], "stale: last successful check %lld ms ago", age);
	else
		db_ok = true;

	if (!db_ok) {
		fail(&out[HEALTH_MIGRATIONS], "unknown: database check failed");
	} else if (!s->history_exists) {
		if (s->refused) /* another tool's schema (plan_verdict): migrate refuses it too */
			fail(&out[HEALTH_MIGRATIONS], "refused: %s", s->refusal);
		else if (s->expected >= 0) /* version 0 too: expected, not there */
			fail(&out[HEALTH_MIGRATIONS],
			     "history table does not exist (expected version %ld)", s->expected);
	} else if (s->dirty) {
		fail(&out[HEALTH_MIGRATIONS], "dirty: version %ld did not finish", s->head);
	} else if (s->refused) {
		/* The verdict migrate would reach on this folder (plan_verdict): it would refuse,
		 * so this version of the application is not ready to serve on this schema. */
		fail(&out[HEALTH_MIGRATIONS], "refused: %s", s->refusal);
	} else if (s->head < s->expected) {
		/* A run that ended short of the target (status shows the same run the same way). */
		if (s->last_run == RUN_FAILED || s->last_run == RUN_INTERRUPTED ||
		    s->last_run == RUN_ABANDONED)
			fail(&out[HEALTH_MIGRATIONS], "last run %s at version %s (expected %ld)",
			     hist_outcome_name(s->last_run), hist_version_text(s->head, h),
			     s->expected);
		else if (s->lock_held)
			fail(&out[HEALTH_MIGRATIONS], "in progress: version %s, expected %ld",
			     hist_version_text(s->head, h), s->expected);
		else
			fail(&out[HEALTH_MIGRATIONS], "version %s below expected %ld",
			     hist_version_text(s->head, h), s->expected);
	}

	if (s->tables_required) {
		if (!db_ok)
			fail(&out[HEALTH_TABLES], "unknown: database check failed");
		else if (s->missing_tables[0] != '\0')
			fail(&out[HEALTH_TABLES], "missing: %s", s->missing_tables);
	}

	if (s->redis_required && !s->redis_ok)
		fail_outside(&out[HEALTH_REDIS], "unreachable",
		             s->redis_error[0] != '\0' ? s->redis_error : "no check yet");

	if (s->shutting_down)
		fail(&out[HEALTH_SHUTDOWN], "shutting down");
}

bool health_ready(const struct health_result r[HEALTH_NCHECKS])
{
	for (int i = 0; i < HEALTH_NCHECKS; i++)
		if (!r[i].ok)
			return false;
	return true;
}

bool health_live(const struct health_snap *s, long long now_ms, long deadline_ms, char *reason,
                 size_t n)
{
	long long last = s->heartbeat_ms != 0 ? s->heartbeat_ms : s->started_ms;

	if (last == 0 || now_ms - last <= deadline_ms) {
		if (n > 0)
			reason[0] = '\0';
		return true;
	}
	snprintf(reason, n, "checker stuck: no heartbeat for %lld ms", now_ms - last);
	return false;
}

int health_parse_query(const char *query, struct health_query *q, char *bad, size_t n)
{
	const char *p = query;

	q->verbose = false;
	memset(q->excluded, 0, sizeof q->excluded);
	if (n > 0)
		bad[0] = '\0';
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '&');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t klen = eq != NULL ? (size_t)(eq - p) : len;

		if (klen == 7 && memcmp(p, "verbose", 7) == 0) {
			q->verbose = true;
		} else if (klen == 7 && memcmp(p, "exclude", 7) == 0) {
			const char *v = eq != NULL ? eq + 1 : p + len;
			size_t vlen = (size_t)(p + len - v);
			int c = health_check_lookup(v, vlen);

			if (c < 0) {
				/* Cut at a sane length: the name goes into a response. */
				snprintf(bad, n, "%.*s", (int)(vlen > 64 ? 64 : vlen), v);
				return -1;
			}
			q->excluded[c] = true;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return 0;
}

/* Appends to buf at *off; truncation is intended (the buffer is sized for
 * every check, so it only cuts an absurdly long reason). */
static void append(char *buf, size_t n, size_t *off, const char *fmt, ...) SG_PRINTF(4, 5);

static void append(char *buf, size_t n, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*off >= n)
		return;
	va_start(ap, fmt);
	w = vsnprintf(buf + *off, n - *off, fmt, ap);
	va_end(ap);
	if (w > 0)
		*off += (size_t)w < n - *off ? (size_t)w : n - *off - 1;
}

int health_format_readyz(const struct health_result r[HEALTH_NCHECKS], const struct health_query *q,
                         char *buf, size_t n)
{
	size_t off = 0;
	int first_failed = -1;

	if (n == 0)
		return 500;
	buf[0] = '\0';
	for (int i = 0; i < HEALTH_NCHECKS; i++) {
		if (q->only >= 0 && q->only != i)
			continue;
		if (q->excluded[i]) {
			if (q->verbose)
				append(buf, n, &off, "[+]%s excluded: ok\n", check_names[i]);
			continue;
		}
		if (r[i].ok) {
			if (q->verbose)
				append(buf, n, &off, "[+]%s ok\n", check_names[i]);
			continue;
		}
		if (first_failed < 0)
			first_failed = i;
		if (q->verbose)
			append(buf, n, &off, "[-]%s failed: %s\n", check_names[i], r[i].brief);
	}
	if (q->verbose)
		append(buf, n, &off, "readyz check %s\n", first_failed < 0 ? "passed" : "failed");
	else if (first_failed < 0)
		append(buf, n, &off, "ok\n");
	else
		append(buf, n, &off, "%s failed: %s\n", check_names[first_failed],
		       r[first_failed].brief);
	return first_failed < 0 ? 200 : 503;
}
