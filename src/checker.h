/* checker.h - the sidecar's background thread: keeps the health snapshot fresh from the database.
 */
#ifndef SCHEMAGATE_CHECKER_H
#define SCHEMAGATE_CHECKER_H

#include "config.h"
#include "err.h"

struct checker; /* opaque: fields live in checker.c */

/* Loads the expected version (cfg->expect_version, else the highest version
 * in cfg->dir; an unreadable folder means 0 with a warning), initialises the
 * health state and starts the thread. cfg is borrowed and must outlive the
 * checker. The thread connects, LISTENs on cfg->notify_channel, checks every
 * cfg->check_interval_ms and at once on a notification, and reconnects with
 * backoff. On success *out owns the thread: stop it with checker_stop(). */
SG_MUSTCHECK int checker_start(const struct cfg *cfg, struct checker **out, struct sg_err *err);

/* Asks the thread to stop, joins it, closes its connections and frees c.
 * NULL-safe. Returns once the thread has finished its current query. */
void checker_stop(struct checker *c);

/* The liveness deadline: a heartbeat older than this means the thread is stuck. */
long checker_liveness_deadline_ms(const struct cfg *cfg);

#endif /* SCHEMAGATE_CHECKER_H */
