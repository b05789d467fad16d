/* notify.h - PostgreSQL LISTEN/NOTIFY: subscribing to a channel and waiting for a notification. */
#ifndef SCHEMAGATE_NOTIFY_H
#define SCHEMAGATE_NOTIFY_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "err.h"

/* The text "LISTEN <channel>" (listen = true) or "UNLISTEN <channel>", the
 * channel quoted as an identifier: malloc'd, NULL when out of memory. */
char *notify_sql(const char *channel, bool listen);

/* Runs notify_sql(channel, listen) on c. */
SG_MUSTCHECK int notify_listen(PGconn *c, const char *channel, bool listen, struct sg_err *err);

/* Called between slices of a wait; returns false to stop waiting. */
typedef bool notify_go_on_fn(void *ctx);

/* Waits up to ms for a notification on c or for data on extra_fd (ignored
 * when < 0), in slices of 100 ms; before each slice go_on(ctx) is asked
 * whether to go on (NULL: until the process's stop flag is set). Pending
 * notifications are consumed: *notified tells whether one arrived,
 * *extra_ready whether extra_fd became readable; it returns as soon as either
 * happens, and with both false when ms has passed. SG_E_DB when the
 * connection broke, SG_E_STOPPED when go_on said stop. */
SG_MUSTCHECK int notify_wait(PGconn *c, int extra_fd, long ms, notify_go_on_fn *go_on, void *ctx,
                             bool *notified, bool *extra_ready, struct sg_err *err);

#endif /* SCHEMAGATE_NOTIFY_H */
