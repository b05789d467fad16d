/* db.h - libpq connections: backoff, identity, search_path, small query helpers. */
#ifndef SCHEMAGATE_DB_H
#define SCHEMAGATE_DB_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "config.h"
#include "err.h"

/* Connects once, setting application_name to "schemagate/<role>/<identity>"
 * and libpq's connect_timeout from cfg. The DSN is cfg->database_url (NULL:
 * libpq's PG* environment variables); cfg->database_password_file, when set,
 * is read now and passed as libpq's password parameter (never in a URL),
 * winning over a password in the DSN and over PGPASSWORD. On failure err says
 * why, with any password removed; SG_E_DB (SG_E_CONFIG: password file). */
SG_MUSTCHECK int db_connect_once(const struct cfg *cfg, const char *role, PGconn **out,
                                 struct sg_err *err);

/* Sets application_name to "schemagate/<role>/<identity>", as connecting
 * does, so that pg_stat_activity shows who leads and who follows. Best
 * effort: a failure is ignored (it only affects what operators see). */
void db_set_role(PGconn *c, const struct cfg *cfg, const char *role);

/* Connects with exponential backoff (cfg->connect_attempts attempts, delays
 * connect_base_ms doubling up to connect_max_ms), logging each failed attempt
 * with its number, the next delay and the reason. Then applies the search path
 * (see db_search_path_sql), except behind a pooler (db_pid_is_pooled: the
 * setting would stay in the pool). SG_E_UNREACHABLE after the last attempt,
 * SG_E_STOPPED if a stop signal arrives while waiting. */
SG_MUSTCHECK int db_connect(const struct cfg *cfg, const char *role, PGconn **out,
                            struct sg_err *err);

/* Asked after each failed connection attempt that leaves more to make: true, with why set,
 * ends the attempts at once with that error (a cause no waiting will fix). */
typedef bool db_give_up_fn(void *ctx, struct sg_err *why);

/* db_connect (bare: db_connect_bare) that asks give_up(ctx) after each failed attempt. */
SG_MUSTCHECK int db_connect_watched(const struct cfg *cfg, const char *role, bool bare,
                                    db_give_up_fn *give_up, void *ctx, PGconn **out,
                                    struct sg_err *err);

/* Connects again after a lost connection, for a session that must write: as db_connect
 * (bare: db_connect_bare) with at most attempts attempts (>= 1, the budget left), and a
 * server in recovery (a standby: where a switchover, or a URL without
 * target_session_attrs=read-write, may land) counts as a failed attempt, so that the next one
 * walks the URL's hosts again. SG_E_UNREACHABLE naming the last cause, SG_E_STOPPED. */
SG_MUSTCHECK int db_reconnect(const struct cfg *cfg, const char *role, bool bare, long attempts,
                              PGconn **out, struct sg_err *err);

/* Ends backend pid when it is beyond doubt one of ours left over from a lost connection (our
 * role, application_name "schemagate/<role>/<our identity>", not c's own): a server that did
 * not notice the loss keeps such a session, and its advisory lock, until its keepalives give
 * up, possibly hours. Returns how many were ended (0 or 1), -1 with err. */
SG_MUSTCHECK int db_end_orphan(PGconn *c, const struct cfg *cfg, int pid, struct sg_err *err);

/* db_connect without the search path: for callers that set it per
 * transaction (SET LOCAL) or qualify every name, so that the first query is
 * the only one (migrate's no-op path). Same errors as db_connect. */
SG_MUSTCHECK int db_connect_bare(const struct cfg *cfg, const char *role, PGconn **out,
                                 struct sg_err *err);

/* The pooling rule, owned here: true when the server process that answered
 * (server_pid, from pg_backend_pid()) is not the one libpq was told about at
 * startup, i.e. a pooler (PgBouncer or similar) sits between us and
 * PostgreSQL and no session state can be trusted across transactions. */
bool db_pid_is_pooled(const PGconn *c, int server_pid);

/* What a reader's session allows (serve's checker, wait). */
struct db_session {
	bool pooled;  /* db_pid_is_pooled: no session state survives a transaction */
	bool standby; /* pg_is_in_recovery(): a hot standby, read only; LISTEN is
	               * refused there (SQLSTATE 25006) */
};

/* Asks the server both in one round trip (pg_backend_pid(), pg_is_in_recovery()).
 * SG_E_DB. */
SG_MUSTCHECK int db_probe(PGconn *c, struct db_session *out, struct sg_err *err);

/* Which database a connection reaches, whatever URL, alias or pooler led there. */
struct db_place {
	char database[128]; /* current_database() */
	char system_id[24]; /* the cluster's system identifier (pg_control_system(), the same on
	                     * a primary and its physical standbys); "" when the role may not
	                     * read it */
};

/* Asks the server (one round trip; a second without the identifier when the role may not
 * read it). SG_E_DB. */
SG_MUSTCHECK int db_place(PGconn *c, struct db_place *out, struct sg_err *err);

/* The rule for LISTEN, owned here: only on a real session (behind a pooler it would
 * stay with a pooled server connection and reach other clients) of a server that is
 * not in recovery. Without it, readers poll. */
bool db_can_listen(const struct db_session *s);

/* Where cfg points, safe to log: the redacted DATABASE_URL, or
 * "(PG* environment)" when libpq's variables decide. */
void db_target(const struct cfg *cfg, char *buf, size_t n);

/* Builds "SET search_path TO "a", "b"" from the comma list (each element
 * trimmed and quoted as an identifier; never spliced raw). *out is malloc'd.
 * With a NULL or empty list, *out is NULL. */
SG_MUSTCHECK int db_search_path_sql(const char *list, char **out, struct sg_err *err);

/* The first schema of the comma list, unquoted and trimmed (malloc'd), or NULL
 * when list is NULL/empty. */
SG_MUSTCHECK int db_first_schema(const char *list, char **out, struct sg_err *err);

/* Quotes an identifier the way quote_ident() does, always with double quotes
 * (embedded quotes doubled). Returns malloc'd text or NULL on out of memory. */
char *db_quote_ident(const char *name);

/* A scalar subquery body: the names of the comma list in parameter p ("$1")
 * that resolve to no relation, comma-joined in list order (NULL when none is
 * missing). The list travels as a parameter and to_regclass() parses each name
 * as the server would (search path, schema.name, "Quoted"), so nothing the
 * user typed is spliced; an unparsable name fails with SQLSTATE 42602. */
#define DB_MISSING_TABLES_SQL(p)                                                                   \
	"SELECT string_agg(t, ',' ORDER BY o) FROM (SELECT btrim(x) AS t, o "                      \
	"FROM unnest(string_to_array(" p "::text, ',')) WITH ORDINALITY AS u(x, o)) s "            \
	"WHERE t <> '' AND to_regclass(t) IS NULL"

/* printf into a new string, for SQL text assembled from quoted names and numbers (never from
 * raw user text): malloc'd, NULL when out of memory. */
char *db_sqlf(const char *fmt, ...) SG_PRINTF(1, 2);

/* Runs a command (or several, simple protocol) and checks for success. */
SG_MUSTCHECK int db_exec(PGconn *c, const char *sql, struct sg_err *err);

/* db_exec of a malloc'd sql, which it frees; NULL (an allocation that
 * failed) is SG_E_NOMEM. */
SG_MUSTCHECK int db_exec_owned(PGconn *c, char *sql, struct sg_err *err);

/* Runs a parameterised query expecting rows (PGRES_TUPLES_OK) or a command.
 * On success *res owns the result (PQclear it). On failure err holds the
 * server's message and *res is NULL. */
SG_MUSTCHECK int db_query(PGconn *c, const char *sql, int nparams, const char *const *params,
                          PGresult **res, struct sg_err *err);

/* Like PQexec for a simple query holding several statements, but also says which statement
 * failed: returns the first failed result, or the last result when none failed (NULL when the
 * query could not be sent; PQresultStatus(NULL) is PGRES_FATAL_ERROR). *done receives the
 * number of statements that completed before the failure (all of them on success). The caller
 * PQclears the result. */
PGresult *db_exec_counting(PGconn *c, const char *sql, size_t *done);

/* db_exec_counting where the query's COPY ... FROM STDIN (the first one) reads data[0..len)
 * (the inline data that followed it in a migration file: sent in pieces, never copied whole);
 * data NULL: none, the COPY fails. */
PGresult *db_exec_copy(PGconn *c, const char *sql, const char *data, size_t len, size_t *done);

/* db_query with a client-side deadline: gives up after timeout_ms even when
 * the server process is frozen and never answers (the server-side
 * statement_timeout cannot fire then). After such a timeout the query is
 * still in flight and db_is_broken(c) is true: close the connection. */
SG_MUSTCHECK int db_query_within(PGconn *c, const char *sql, int nparams, const char *const *params,
                                 long timeout_ms, PGresult **res, struct sg_err *err);

/* Bounds every later db_query and db_exec_raw of the calling thread to
 * timeout_ms, as db_query_within does (0: no bound). The sidecar's checker
 * sets it, so that no query of its, history and report included, can hang
 * the thread on a frozen server. */
void db_bound_waits(long timeout_ms);

/* PQexec (simple protocol, the result even when it failed, for its SQLSTATE)
 * within the thread's bound (db_bound_waits). -1 with err only when no
 * answer came (sending failed, or the bound passed: then db_is_broken(c));
 * otherwise 0 with *res owned by the caller (PQclear). */
SG_MUSTCHECK int db_exec_raw(PGconn *c, const char *sql, PGresult **res, struct sg_err *err);

/* Sends sql, one or more statements in one message (simple protocol, one round trip, one
 * implicit transaction), and keeps the result of each in order in res[0..*n), at most cap of
 * them (the rest are cleared). A statement that fails ends the list with its error result:
 * the server runs none after it. Within the thread's bound like db_exec_raw; -1 with err only
 * when no complete answer came (then nothing is kept). The caller PQclears what it got. */
SG_MUSTCHECK int db_exec_each(PGconn *c, const char *sql, PGresult **res, size_t cap, size_t *n,
                              struct sg_err *err);

/* Best-effort ROLLBACK after a failure: when it fails the connection is gone
 * and the server has rolled back already. */
void db_rollback(PGconn *c);

/* The SQLSTATE of a failed result, or "" . */
const char *db_sqlstate(const PGresult *res);

/* SQLSTATEs that decide what we do (errcodes.h names in the comments). */
#define DB_SQLSTATE_LOCK_TIMEOUT "55P03"     /* lock_not_available: lock_timeout expired */
#define DB_SQLSTATE_UNDEFINED_TABLE "42P01"  /* undefined_table */
#define DB_SQLSTATE_UNDEFINED_COLUMN "42703" /* undefined_column */
#define DB_SQLSTATE_INVALID_NAME "42602"     /* invalid_name: to_regclass could not parse it */
/* active_sql_transaction: a statement that cannot run in a transaction block (CREATE INDEX
 * CONCURRENTLY, VACUUM, ...) */
#define DB_SQLSTATE_IN_TRANSACTION_BLOCK "25001"
/* unsafe_new_enum_value_usage: a value ALTER TYPE ... ADD VALUE added, used before commit */
#define DB_SQLSTATE_UNSAFE_NEW_ENUM_VALUE "55P04"

/* Records in err what libpq says caused the failure of r on c: the server's
 * SQLSTATE (when r carries one) and whether the connection is lost
 * (db_is_broken(c)). Call it after sg_err_set, which clears both. Returns -1. */
int db_err_cause(struct sg_err *err, const PGresult *r, const PGconn *c);

/* The one rule that tells the environment from the user's SQL: true when err
 * was caused by the connection or the server's state rather than by what was
 * sent, so that reconnecting (and running again) may succeed: the connection
 * was lost (err->conn_lost), or SQLSTATE class 08 (connection exception),
 * 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, or
 * 25006 read_only_sql_transaction (a switchover left us on a standby). Pure. */
bool db_err_is_infrastructure(const struct sg_err *err);

/* The cause of an infrastructure error for people: "57P01, the server is shutting down",
 * "the connection broke". Truncated to fit n. */
void db_err_cause_text(const struct sg_err *err, char *buf, size_t n);

/* True when the connection looks broken (status bad), so the caller should
 * reconnect rather than retry on it. */
bool db_is_broken(const PGconn *c);

/* Formats a server error for people: message, SQLSTATE, detail and hint on
 * one line. */
void db_describe_error(const PGresult *res, const PGconn *c, char *buf, size_t n);

#endif /* SCHEMAGATE_DB_H */
