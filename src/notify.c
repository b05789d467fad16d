/* notify.c - PostgreSQL LISTEN/NOTIFY: subscribing to a channel and waiting for a notification. */
#include "notify.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "proc.h"

/* go_on is asked this often while waiting. */
#define SLICE_MS 100

char *notify_sql(const char *channel, bool listen)
{
	char *q = db_quote_ident(channel), *sql = NULL;
	size_t n;

	if (q == NULL)
		return NULL;
	n = strlen(q) + 16;
	if ((sql = malloc(n)) != NULL)
		snprintf(sql, n, "%s %s", listen ? "LISTEN" : "UNLISTEN", q);
	free(q);
	return sql;
}

int notify_listen(PGconn *c, const char *channel, bool listen, struct sg_err *err)
{
	return db_exec_owned(c, notify_sql(channel, listen), err);
}

/* The connection is gone, whatever libpq's status says yet. Returns -1. */
static int lost(struct sg_err *err, const PGconn *c)
{
	db_err_cause(err, NULL, c);
	if (err != NULL)
		err->conn_lost = true;
	return -1;
}

int notify_wait(PGconn *c, int extra_fd, long ms, notify_go_on_fn *go_on, void *ctx, bool *notified,
                bool *extra_ready, struct sg_err *err)
{
	long long deadline = proc_now_ms() + (ms > 0 ? ms : 0);

	*notified = *extra_ready = false;
	for (;;) {
		struct pollfd pfd[2] = {{PQsocket(c), POLLIN, 0}, {extra_fd, POLLIN, 0}};
		long long now = proc_now_ms();
		PGnotify *n;
		int left, nfds = extra_fd >= 0 ? 2 : 1;

		if (go_on != NULL ? !go_on(ctx) : proc_stopping())
			return sg_err_set(err, SG_E_STOPPED, "stopped while waiting");
		if (pfd[0].fd < 0) {
			sg_err_set(err, SG_E_DB, "database connection lost while waiting");
			return lost(err, c);
		}
		/* A notification that arrived while the connection was busy with a query sits in
		 * libpq's queue already: the socket will not turn readable for it again. */
		while ((n = PQnotifies(c)) != NULL) {
			*notified = true;
			PQfreemem(n);
		}
		if (*notified)
			return 0;
		left = (int)(deadline - now < SLICE_MS ? deadline - now : SLICE_MS);
		if (left < 0)
			left = 0;
		if (poll(pfd, (nfds_t)nfds, left) > 0) {
			if (pfd[0].revents != 0) {
				if (PQconsumeInput(c) == 0) {
					sg_err_set(err, SG_E_DB,
					           "database connection lost while waiting: %s",
					           PQerrorMessage(c));
					return lost(err, c);
				}
				while ((n = PQnotifies(c)) != NULL) {
					*notified = true;
					PQfreemem(n);
				}
			}
			if (nfds == 2 && pfd[1].revents != 0)
				*extra_ready = true;
			if (*notified || *extra_ready)
				return 0;
		}
		if (proc_now_ms() >= deadline)
			return 0;
	}
}
