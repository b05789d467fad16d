/* lock.c - PostgreSQL advisory lock: key derivation, polling acquire, checked release. */
#include "lock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backoff.h"
#include "db.h"
#include "log.h"
#include "proc.h"
#include "sha256.h"

int64_t lock_key(const char *database, const char *schema, const char *table)
{
	static const char tag[] = "schemagate";
	struct sha256_ctx ctx;
	unsigned char digest[32];
	uint64_t k = 0;

	sha256_init(&ctx);
	sha256_update(&ctx, tag, sizeof tag); /* includes the NUL separator */
	sha256_update(&ctx, database, strlen(database) + 1);
	sha256_update(&ctx, schema, strlen(schema) + 1);
	sha256_update(&ctx, table, strlen(table));
	sha256_final(&ctx, digest);
	for (int i = 0; i < 8; i++)
		k = (k << 8) | digest[i];
	return (int64_t)k;
}

static int bool_query(PGconn *c, const char *sql, int64_t key, bool *out, struct sg_err *err)
{
	char keytxt[32];
	const char *params[1] = {keytxt};
	PGresult *r = NULL;

	snprintf(keytxt, sizeof keytxt, "%lld", (long long)key);
	if (db_query(c, sql, 1, params, &r, err) != 0)
		return -1;
	*out = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return 0;
}

int lock_try(PGconn *c, int64_t key, bool *got, struct sg_err *err)
{
	return bool_query(c, "SELECT pg_try_advisory_lock($1::bigint)", key, got, err);
}

/* Calls try until it takes the lock: the one rule for waiting on the migration lock, whatever
 * holds it between tries (a session, or nothing at all). */
static int lock_wait(const struct cfg *cfg, int (*try)(void *arg, bool *got, struct sg_err *err),
                     void *arg, struct sg_err *err)
{
	long long deadline = proc_now_ms() + cfg->lock_timeout_ms;
	unsigned seed = (unsigned)getpid() ^ (unsigned)proc_now_ms();
	bool got = false, logged = false;

	for (unsigned attempt = 1;; attempt++) {
		if (try(arg, &got, err) != 0)
			return -1;
		if (got)
			return 0;
		if (!logged) {
			log_info("waiting for the migration lock (another migrator holds it)",
			         NULL);
			logged = true;
		}
		long left = (long)(deadline - proc_now_ms());
		if (left <= 0)
			return sg_err_set(err, SG_E_TIMEOUT,
			                  "timed out after %ld ms waiting for the migration lock",
			                  cfg->lock_timeout_ms);
		long d = backoff_jitter_ms(cfg->lock_poll_min_ms, cfg->lock_poll_max_ms,
		                           attempt < 32 ? attempt : 32, rand_r(&seed));
		if (!proc_sleep_ms(d < left ? d : left))
			return sg_err_set(err, SG_E_STOPPED,
			                  "stopped while waiting for the migration lock");
	}
}

struct try_session {
	PGconn *c;
	int64_t key;
};

static int try_session(void *arg, bool *got, struct sg_err *err)
{
	struct try_session *t = arg;

	return lock_try(t->c, t->key, got, err);
}

int lock_acquire(PGconn *c, int64_t key, const struct cfg *cfg, struct sg_err *err)
{
	struct try_session t = {c, key};

	return lock_wait(cfg, try_session, &t, err);
}

struct try_xact {
	PGconn *c;
	const char *begin; /* "BEGIN;...;SELECT pg_try_advisory_xact_lock(key)" */
};

/* One short transaction: open with the lock, or rolled back (the connection goes back to a
 * transaction pooler's pool until the next try). */
static int try_xact(void *arg, bool *got, struct sg_err *err)
{
	struct try_xact *t = arg;
	size_t done = 0;
	PGresult *r = db_exec_counting(t->c, t->begin, &done);
	int rc = 0;

	*got = false;
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		*got = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	} else {
		char msg[sizeof err->msg];

		db_describe_error(r, t->c, msg, sizeof msg);
		sg_err_set(err, SG_E_DB, "%s", msg);
		rc = db_err_cause(err, r, t->c);
	}
	PQclear(r);
	if (!*got)
		db_rollback(t->c);
	return rc;
}

int lock_xact_begin(PGconn *c, int64_t key, const char *sets, const struct cfg *cfg,
                    struct sg_err *err)
{
	char *begin =
	    db_sqlf("BEGIN;%sSELECT pg_try_advisory_xact_lock(%lld)", sets, (long long)key);
	struct try_xact t = {c, begin};
	int rc;

	if (begin == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	rc = lock_wait(cfg, try_xact, &t, err);
	free(begin);
	return rc;
}

int lock_release(PGconn *c, int64_t key, struct sg_err *err)
{
	bool held = false;

	if (bool_query(c, "SELECT pg_advisory_unlock($1::bigint)", key, &held, err) != 0)
		return -1;
	if (!held)
		return sg_err_set(err, SG_E_DB,
		                  "the migration lock was not held by this session at release");
	return 0;
}
