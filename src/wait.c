/* wait.c - `schemagate wait`: block until tables exist and the schema reaches a version. */
#include "wait.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db.h"
#include "history.h"
#include "log.h"
#include "notify.h"
#include "num.h"
#include "proc.h"

static const char missing_sql[] = DB_MISSING_TABLES_SQL("$1");

/* What one check found; missing is malloc'd ("" when nothing is). */
struct wait_state {
	char *missing; /* comma list of tables not there yet */
	bool has_hist; /* the history table exists */
	long head;     /* its highest version */
	bool dirty;    /* a dirty row is recorded */
	bool ok;       /* everything asked for is there */
};

static int check(PGconn *c, const struct cfg *cfg, struct wait_state *st, struct sg_err *err)
{
	const char *params[1] = {cfg->tables};
	PGresult *r = NULL;
	struct hist h = {0};
	char *schema = NULL;
	bool version_ok = true;

	memset(st, 0, sizeof *st);
	if (cfg->tables != NULL && cfg->tables[0] != '\0') {
		if (db_query(c, missing_sql, 1, params, &r, err) != 0) {
			/* to_regclass could not parse a name; waiting cannot help. */
			if (strcmp(err->sqlstate, DB_SQLSTATE_INVALID_NAME) == 0)
				return sg_err_set(err, SG_E_USAGE, "--tables \"%.300s\": %.300s",
				                  cfg->tables, err->msg);
			return -1;
		}
		st->missing = strdup(PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
		PQclear(r);
	} else {
		st->missing = strdup("");
	}
	if (st->missing == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	if (cfg->wait_version >= 0) {
		if (db_first_schema(cfg->search_path, &schema, err) != 0)
			return -1;
		int rc = hist_read(c, schema, cfg->table, &h, err);
		free(schema);
		if (rc != 0)
			return -1;
		st->has_hist = h.exists;
		st->head = hist_head(&h);
		st->dirty = hist_first_dirty(&h) != NULL;
		/* No history table yet means "not yet", never an error. */
		version_ok = h.exists && st->head >= cfg->wait_version && !st->dirty;
		hist_free(&h);
	}
	st->ok = st->missing[0] == '\0' && version_ok;
	return 0;
}

/* "tables a,b; version 3 of 5" for the log and the timeout message. */
static void describe(const struct cfg *cfg, const struct wait_state *st, char *buf, size_t n)
{
	int w = 0;

	/* Truncation is fine: the text is for people. */
	if (st->missing[0] != '\0')
		w = snprintf(buf, n, "tables %s", st->missing);
	if (w >= 0 && (size_t)w < n && cfg->wait_version >= 0 &&
	    (!st->has_hist || st->head < cfg->wait_version || st->dirty))
		snprintf(buf + w, n - (size_t)w, "%sversion %ld (%s)", w > 0 ? "; " : "",
		         cfg->wait_version,
		         !st->has_hist ? "no history table yet"
		         : st->dirty   ? "a migration is dirty"
		                       : "behind");
}

/* LISTENs only where db_can_listen says so (not behind a pooler, not on a
 * standby); elsewhere wait relies on its poll (--interval). */
static int connect_and_listen(const struct cfg *cfg, PGconn **c, struct sg_err *err)
{
	struct db_session s;

	if (db_connect(cfg, "wait", c, err) != 0 || db_probe(*c, &s, err) != 0)
		return -1;
	if (!db_can_listen(&s)) {
		log_info(s.pooled
		             ? "connected through a pooler: polling every --interval, no LISTEN"
		             : "connected to a standby: polling every --interval, no LISTEN",
		         NULL);
		return 0;
	}
	return notify_listen(*c, cfg->notify_channel, true, err);
}

int cmd_wait(const struct cfg *cfg, int nrest, const char **rest, struct sg_err *err)
{
	struct wait_state st = {0};
	PGconn *c = NULL;
	long long deadline;
	char what[1024], ver[24], tmo[32];
	int rc = -1;

	if (nrest > 0)
		return sg_err_set(err, SG_E_USAGE, "wait takes no argument, got \"%s\"", rest[0]);
	snprintf(ver, sizeof ver, "%ld", cfg->wait_version);
	num_format_duration(cfg->wait_timeout_ms, tmo, sizeof tmo);
	log_info("wait starting", "tables", cfg->tables, "version",
	         cfg->wait_version >= 0 ? ver : NULL, "timeout", tmo, NULL);
	if (connect_and_listen(cfg, &c, err) != 0)
		goto cleanup;
	/* The deadline counts from the first check: connecting has its own
	 * attempts and backoff (database.connect_*). */
	deadline = proc_now_ms() + cfg->wait_timeout_ms;
	for (;;) {
		bool notified = false, unused = false;
		long long now;

		free(st.missing);
		if (check(c, cfg, &st, err) != 0) {
			if (!db_is_broken(c) && !db_err_is_infrastructure(err))
				goto cleanup;
			log_warn("database connection lost; reconnecting", "error", err->msg, NULL);
			PQfinish(c);
			c = NULL;
			if (connect_and_listen(cfg, &c, err) != 0)
				goto cleanup;
			continue;
		}
		if (st.ok) {
			log_info("everything wait asked for is there", "tables", cfg->tables,
			         "version", cfg->wait_version >= 0 ? ver : NULL, NULL);
			rc = 0;
			goto cleanup;
		}
		what[0] = '\0';
		describe(cfg, &st, what, sizeof what);
		now = proc_now_ms();
		if (now >= deadline) {
			sg_err_set(err, SG_E_TIMEOUT, "timed out after %s; still missing: %s", tmo,
			           what);
			goto cleanup;
		}
		log_info("waiting", "missing_tables", st.missing[0] != '\0' ? st.missing : NULL,
		         "missing", what, NULL);
		long left = (long)(deadline - now);
		if (notify_wait(c, -1, left < cfg->wait_interval_ms ? left : cfg->wait_interval_ms,
		                NULL, NULL, &notified, &unused, err) != 0) {
			if (!db_err_is_infrastructure(err))
				goto cleanup;
			log_warn("database connection lost; reconnecting", "error", err->msg, NULL);
			PQfinish(c);
			c = NULL;
			if (connect_and_listen(cfg, &c, err) != 0)
				goto cleanup;
		}
	}
cleanup:
	free(st.missing);
	if (c != NULL)
		PQfinish(c);
	return rc;
}
