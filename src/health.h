/* health.h - the sidecar's readiness state: a snapshot behind a rwlock, and pure evaluation. */
#ifndef SCHEMAGATE_HEALTH_H
#define SCHEMAGATE_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "history.h"

struct report;        /* report.h: the status report the checker publishes */
struct health_report; /* a hold on the published report */

/* The readiness checks, in the order /readyz?verbose lists them. */
enum health_check {
	HEALTH_DATABASE = 0, /* the checker reached the database recently */
	HEALTH_MIGRATIONS, /* history present, version >= expected, clean, no failed run outstanding
	                    */
	HEALTH_TABLES,     /* every required table exists */
	HEALTH_REDIS,      /* Redis answers PING (only when configured and required) */
	HEALTH_SHUTDOWN,   /* fails once SIGTERM arrived, so endpoints drain */
	HEALTH_NCHECKS
};

/* Buckets (upper bounds, seconds) of the check duration histogram. */
#define HEALTH_NBUCKETS 11
extern const double health_buckets[HEALTH_NBUCKETS];

/* What the checker last saw. A plain value: copied out whole by health_snapshot(). */
struct health_snap {
	long long taken_ms;      /* CLOCK_MONOTONIC ms of the last successful check; 0 = never */
	long long heartbeat_ms;  /* CLOCK_MONOTONIC ms of the checker loop's last sign of life */
	long long started_ms;    /* when the checker started (for a grace before the first check) */
	long long wall_checked;  /* wall-clock seconds of the last check attempt, 0 = never */
	long check_duration_ms;  /* duration of the last check attempt */
	bool db_ok;              /* the last check attempt reached the database */
	char db_error[256];      /* why not, when !db_ok */
	long long db_down_since; /* wall-clock seconds of the first failed attempt of this
	                          * outage (the checker retries meanwhile), 0 = unknown */
	bool history_exists;     /* the history table exists */
	long head;               /* highest recorded version, HIST_NO_VERSION (-1) if none */
	bool dirty;              /* some history row is dirty */
	enum run_outcome last_run; /* outcome of the newest audit row, as status reads it */
	double last_run_end_s; /* its finished_at, seconds since the epoch; 0 if none or running */
	double last_run_duration_s; /* its duration (so far, while running); -1 if unknown */
	bool lock_held;             /* the migration advisory lock is held by some session */
	double lock_age_s; /* how long the holder has held it (its running run's start, else its
	                    * connection's); 0 when not held, -1 when held but not visible */
	long expected; /* version required for readiness (-1: nothing required; 0 is a version) */
	long pending;  /* files in the folder above head (-1: folder unknown) */
	bool refused;  /* plan_verdict: migrate would refuse (dirty, drift, out of order) */
	char refusal[256];        /* its state and reason, "" when not refused */
	bool tables_required;     /* a table list is configured */
	char missing_tables[512]; /* comma list of required tables that don't exist, "" if none */
	bool redis_required;      /* Redis is configured and leader.required */
	bool redis_configured;    /* a Redis URL is configured */
	bool redis_ok;            /* the last PING answered */
	char redis_error[256];    /* why not, when !redis_ok */
	char completed_at[40];    /* RFC 3339 end of the newest successful run, "" if unknown */
	long long completed_duration_ms; /* its duration; -1 if unknown */
	bool shutting_down;              /* SIGTERM arrived */
	/* counters, monotonic since start */
	unsigned long long checks_ok, checks_error;
	unsigned long long duration_buckets[HEALTH_NBUCKETS]; /* cumulative-ready: count <= bound */
	unsigned long long duration_count;
	double duration_sum_s;
};

/* The outcome of one check. */
struct health_result {
	bool ok;
	char reason[320]; /* why it failed ("" when ok); may quote the server's or
	                   * client library's error text: for the admin endpoint only */
	char brief[96];   /* the same without any outside text (no host, port, user or
	                   * server message): what an unauthenticated /readyz shows */
};

/* Which checks a request selected (query ?verbose, ?exclude=, path /readyz/<check>). */
struct health_query {
	bool verbose;
	bool excluded[HEALTH_NCHECKS];
	int only; /* a single check (enum health_check), or -1 for all */
};

/* ---- the shared state (thread-safe: the snapshot is behind the module's rwlock, the report
 * behind its own mutex) ---- */

/* Resets the state; call once before starting threads. */
void health_init(long expected, bool tables_required, bool redis_configured, bool redis_required);

/* Copies the current snapshot into *out. */
void health_snapshot(struct health_snap *out);

/* Records the result of one check attempt: the fields the checker measures
 * (everything but expected, the configuration flags, counters, heartbeat and
 * shutting_down) are taken from s; counters and histogram are updated from
 * s->db_ok and s->check_duration_ms. */
void health_publish(const struct health_snap *s);

/* Marks the checker alive now. */
void health_heartbeat(long long now_ms);

/* Makes the shutdown check fail from now on. */
void health_set_shutdown(void);

/* Publishes the checker's latest status report: ownership passes here (NULL
 * clears it). The previous one is freed once no handler holds it. */
void health_set_report(struct report *rep);

/* A hold on the published report, read-only and shared between handlers:
 * *rep points at it while the hold lasts. NULL (and *rep NULL) when there is
 * none yet or out of memory. Release with health_report_release. */
struct health_report *health_report_hold(const struct report **rep);
void health_report_release(struct health_report *h); /* NULL-safe */

/* ---- pure functions (no locks, no I/O) ---- */

/* The check's name as used in URLs ("database", ...). */
const char *health_check_name(enum health_check c);

/* The check with that name, or -1. */
int health_check_lookup(const char *name, size_t len);

/* Evaluates every check against snapshot s at monotonic time now_ms. A
 * snapshot older than 3 intervals (or no check yet) fails database, and
 * migrations and tables fail as unknown while the database check fails. */
void health_evaluate(const struct health_snap *s, long long now_ms, long interval_ms,
                     struct health_result out[HEALTH_NCHECKS]);

/* True when every check passes. */
bool health_ready(const struct health_result r[HEALTH_NCHECKS]);

/* Liveness: false (with reason) when the checker's heartbeat is older than
 * deadline_ms. */
bool health_live(const struct health_snap *s, long long now_ms, long deadline_ms, char *reason,
                 size_t n);

/* Parses a query string (NULL allowed): "verbose" (any value) and repeatable
 * "exclude=<check>". Returns 0, or -1 naming the unknown check in bad (n
 * bytes). q->only is left untouched. */
int health_parse_query(const char *query, struct health_query *q, char *bad, size_t n);

/* Formats a /readyz response body into buf (n bytes, always NUL-terminated)
 * and returns the HTTP status: 200 with "ok\n" when every selected check
 * passes, else 503 with one line "<check> failed: <brief>\n". With verbose,
 * one "[+]name ok" / "[-]name failed: brief" line per selected check (excluded
 * ones as "[+]name excluded: ok"), then "readyz check passed|failed". Only the
 * brief reasons: /readyz answers anyone who reaches the port. */
int health_format_readyz(const struct health_result r[HEALTH_NCHECKS], const struct health_query *q,
                         char *buf, size_t n);

#endif /* SCHEMAGATE_HEALTH_H */
