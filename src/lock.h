/* lock.h - the PostgreSQL advisory lock that serialises migrators: its key, taking it (for the
 * session or for one transaction), releasing it. */
#ifndef SCHEMAGATE_LOCK_H
#define SCHEMAGATE_LOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "config.h"
#include "err.h"

/* The lock key for one history table: the first 8 bytes of
 * SHA-256("schemagate\0<database>\0<schema>\0<table>"), read big-endian as a
 * signed 64-bit integer. Stable across versions and machines, and different
 * for every application (database, schema, table) sharing a server. */
int64_t lock_key(const char *database, const char *schema, const char *table);

/* The condition that a pg_locks row, aliased l, is a granted hold of the lock
 * whose key is the query's parameter $1: a bigint advisory key shows there as
 * classid (high 32 bits), objid (low 32 bits) and objsubid 1, in this
 * database. For SQL text: "... FROM pg_locks l WHERE " LOCK_HELD_SQL. */
#define LOCK_HELD_SQL                                                                              \
	"(l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "                               \
	"AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "       \
	"AND l.classid::bigint = (($1::bigint >> 32) & 4294967295) "                               \
	"AND l.objid::bigint = ($1::bigint & 4294967295))"

/* Waits for the lock by polling pg_try_advisory_lock outside any transaction
 * (a session blocked in pg_advisory_lock holds a snapshot that a concurrent
 * CREATE INDEX CONCURRENTLY would wait on: a deadlock). Polls with backoff
 * and jitter between cfg->lock_poll_min_ms and lock_poll_max_ms, for at most
 * cfg->lock_timeout_ms. SG_E_TIMEOUT when it expires, SG_E_STOPPED on a stop
 * signal, SG_E_DB on a database error. */
SG_MUSTCHECK int lock_acquire(PGconn *c, int64_t key, const struct cfg *cfg, struct sg_err *err);

/* Opens a transaction on c, runs sets (SQL ending in ';', or "") in it and takes the lock with
 * pg_try_advisory_xact_lock: while another session or transaction holds it, rolls back and
 * tries again as lock_acquire does (same backoff, same lock.timeout, same errors). Nothing waits
 * inside a transaction: behind a transaction pooler a waiting replica holds no server
 * connection between tries, and the application's queries get the pool. On success the
 * transaction is open with the lock held until it ends; on failure it is rolled back. */
SG_MUSTCHECK int lock_xact_begin(PGconn *c, int64_t key, const char *sets, const struct cfg *cfg,
                                 struct sg_err *err);

/* Tries once; *got tells whether the lock is now held by this session. */
SG_MUSTCHECK int lock_try(PGconn *c, int64_t key, bool *got, struct sg_err *err);

/* Releases the lock and checks that it was held (pg_advisory_unlock returning
 * false means the session did not hold it: reported as SG_E_DB). */
SG_MUSTCHECK int lock_release(PGconn *c, int64_t key, struct sg_err *err);

#endif /* SCHEMAGATE_LOCK_H */
