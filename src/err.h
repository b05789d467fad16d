/* err.h - error codes and a caller-owned message buffer passed down every call that can fail. */
#ifndef SCHEMAGATE_ERR_H
#define SCHEMAGATE_ERR_H

#include <stdbool.h>
#include <stddef.h>

#define SG_MUSTCHECK __attribute__((warn_unused_result))
#define SG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* What kind of failure happened; cli.c maps each to an exit code. */
enum sg_code {
	SG_E_OK = 0,
	SG_E_USAGE,       /* bad command line */
	SG_E_CONFIG,      /* bad configuration value, file or key */
	SG_E_IO,          /* file system error */
	SG_E_NOMEM,       /* allocation failed */
	SG_E_PARSE,       /* malformed input (migration file name, SQL text) */
	SG_E_DB,          /* database error other than unreachable */
	SG_E_UNREACHABLE, /* database unreachable after all retries */
	SG_E_MIGRATION,   /* a migration's SQL failed */
	SG_E_TIMEOUT,     /* lock, lease or wait deadline passed */
	SG_E_DIRTY,       /* refused: a dirty history row */
	SG_E_DRIFT,       /* refused: checksum drift or missing file */
	SG_E_STOPPED,     /* stopped by SIGTERM/SIGINT */
	SG_E_REDIS,       /* Redis error (only fatal when leader.required) */
	SG_E_LEASE_LOST,  /* the leader lost its lease while working */
	SG_E_UNSAFE,      /* refused: a pending file the safety policy refuses (plan, verify) */
};

struct sg_err {
	enum sg_code code;
	/* What the database said caused it, when it did (db.c fills these; db.h's
	 * db_err_is_infrastructure reads them): */
	char sqlstate[6]; /* the server's SQLSTATE, "" when it gave none */
	bool conn_lost;   /* the connection broke or stopped answering (libpq: CONNECTION_BAD,
	                   * a socket error, no answer in time), whether or not a SQLSTATE came */
	char msg[1024];   /* last: callers copy it into smaller buffers, cut on purpose */
};

/* Fills err (NULL allowed) with code and a formatted message; truncation of an
 * over-long message is intended. A new error: its cause (sqlstate, conn_lost)
 * is cleared. Always returns -1 so callers can `return sg_err_set(...)`. */
int sg_err_set(struct sg_err *err, enum sg_code code, const char *fmt, ...) SG_PRINTF(3, 4);

/* sg_err_set for a message that adds context to err's own (err->msg may be
 * among the arguments): the cause (sqlstate, conn_lost) is kept, so that
 * "recording the migration failed: <lost connection>" still reads as the
 * connection's fault. Returns -1. */
int sg_err_wrap(struct sg_err *err, enum sg_code code, const char *fmt, ...) SG_PRINTF(3, 4);

/* Clears err (NULL allowed), its cause included. */
void sg_err_clear(struct sg_err *err);

#endif /* SCHEMAGATE_ERR_H */
