/* sgt.h - helpers for the Criterion tests: test services, databases, temp files, processes. */
#ifndef SCHEMAGATE_SGT_H
#define SCHEMAGATE_SGT_H

#include <stdbool.h>
#include <sys/types.h>

#include <libpq-fe.h>

/* Every helper here runs inside a Criterion test. Helpers that cannot do their
 * job fail the current test (cr_assert_fail) with a message naming what went
 * wrong, so callers need not check for errors. Strings returned as `char *`
 * are malloc'd and owned by the caller (free()). Messages never contain a
 * password. */

/* ---- services (started by ci/services.sh) ------------------------------- */

/* SCHEMAGATE_TEST_PG_DSN / SCHEMAGATE_TEST_REDIS_URL, or NULL when unset or
 * empty. Borrowed from the environment. */
const char *sgt_pg_dsn(void);
const char *sgt_redis_url(void);

/* Skips the current test (cr_skip_test) unless both SCHEMAGATE_TEST_PG_DSN and
 * SCHEMAGATE_TEST_REDIS_URL are set. Call it first in every integration test
 * or in the suite's .init. */
void sgt_require_services(void);

/* Runs `SG_SOURCE_DIR/ci/<script> <action>` through the shell, e.g.
 * sgt_service("pg.sh", "stop fast") or sgt_service("redis.sh", "pause"), and
 * fails the test unless it exits 0. `action` is split into words by the shell. */
void sgt_service(const char *script, const char *action);

/* ---- the pg_auto_failover formation (started by ci/ha.sh) ---------------- */

/* SCHEMAGATE_TEST_HA_DSN (the formation's multi-host URL, target_session_attrs=read-write),
 * or NULL when unset or empty. Borrowed from the environment. */
const char *sgt_ha_dsn(void);

/* sgt_require_services(), then skips the current test unless SCHEMAGATE_TEST_HA_DSN is set;
 * fails it instead when SCHEMAGATE_TEST_REQUIRE_HA is set (CI). */
void sgt_require_ha(void);

/* Starts `bash SG_SOURCE_DIR/ci/<script> <action>` in the background (action split into
 * words by the shell), e.g. sgt_service_spawn("ha.sh", "failover"); wait for it with
 * sgt_wait(), free it with sgt_proc_free(). */
struct sgt_proc *sgt_service_spawn(const char *script, const char *action);

/* ---- PostgreSQL ----------------------------------------------------------- */

/* Creates a database named <prefix>_<pid>_<counter>_<clock> (prefix lowered,
 * other characters than [a-z0-9] made '_', cut to 24 bytes) on the test server
 * and returns the test
 * DSN with only the database name replaced. Works with URL and key=value DSNs.
 * Drop it with sgt_drop_db(). */
char *sgt_fresh_db(const char *prefix);

/* Terminates the backends connected to the DSN's database, then drops it
 * (IF EXISTS), connected through sgt_pg_dsn(). */
void sgt_drop_db(const char *dsn);

/* sgt_fresh_db and sgt_drop_db on another server: server is a DSN of it (its database is
 * where CREATE and DROP DATABASE run), e.g. sgt_ha_dsn(). */
char *sgt_fresh_db_at(const char *server, const char *prefix);
void sgt_drop_db_at(const char *server, const char *dsn);

/* Connects or fails the test. The caller owns the connection: PQfinish(). */
PGconn *sgt_connect(const char *dsn);

/* Runs sql on a fresh connection and returns the first column of the first
 * row, or NULL for SQL NULL or no row. Fails the test on any error; the
 * message includes the SQL. */
char *sgt_sql_value(const char *dsn, const char *sql);

/* Like sgt_sql_value(), parsed as a base-10 integer; NULL or junk fails. */
long sgt_sql_long(const char *dsn, const char *sql);

/* Runs sql (several statements allowed) on a fresh connection; fails the
 * test on error. */
void sgt_sql_exec(const char *dsn, const char *sql);

/* ---- files ---------------------------------------------------------------- */

/* A new empty folder under $TMPDIR (or /tmp); remove it with sgt_rm_rf(). */
char *sgt_tmpdir(void);

/* Removes path and everything below it; symlinks are removed, not followed.
 * A missing path is fine. */
void sgt_rm_rf(const char *path);

/* Writes content to dir/name, replacing the file; creates the folders in name
 * ("migrations/0001_init.sql"). */
void sgt_write_file(const char *dir, const char *name, const char *content);

/* Whole file as a NUL-terminated string, or NULL when it does not exist. */
char *sgt_read_file(const char *path);

/* printf into a new string. */
char *sgt_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One test's fixture: a fresh database named after prefix (into *dsn) and a
 * temp folder (into *dir). sgt_case_close drops and removes whatever is set,
 * frees both and sets them to NULL; NULL-safe, for .fini. */
void sgt_case_open(const char *prefix, char **dsn, char **dir);
void sgt_case_close(char **dsn, char **dir);

/* dsn rewritten as a keyword string "host=.. port=.. dbname=.. user=.. sslmode=disable
 * [password=..]": host and port always from dsn; dbname and user from dsn unless given;
 * password only when given (NULL: none, so nothing else in dsn leaks in). malloc'd. */
char *sgt_dsn_with(const char *dsn, const char *dbname, const char *user, const char *password);

/* Sleeps ms milliseconds (EINTR-safe). For poll loops and deliberate outages
 * only; code with timeouts of its own takes a fake clock instead. */
void sgt_sleep_ms(long ms);

/* True when needle occurs in haystack; false when either is NULL. */
bool sgt_contains(const char *haystack, const char *needle);

/* ---- processes ------------------------------------------------------------ */

struct sgt_proc {
	pid_t pid;      /* the child; kept after it is reaped */
	char *out_path; /* its stdout, a temp file removed by sgt_proc_free() */
	char *err_path; /* its stderr, likewise */
	int status;     /* -1 while running, then exit code or 128 + signal */
};

/* Starts SG_TEST_BINARY with argv[1..] (argv[0] is ignored; the array ends
 * with NULL). The child gets this process's environment with env_extra applied
 * in order: "KEY=VALUE" sets or overrides (an empty VALUE sets it empty),
 * "-KEY" unsets. env_extra may be NULL. stdin is /dev/null, stdout and stderr
 * go to temp files. Free the result with sgt_proc_free(). */
struct sgt_proc *sgt_spawn(const char *const argv[], const char *const env_extra[]);

/* Waits up to timeout_ms for the child and returns its exit code, or 128 +
 * signal number if a signal ended it. On timeout the child gets SIGKILL and the
 * test fails (with the child's stderr in the message). Calling it again after
 * the child was reaped returns the same status. */
int sgt_wait(struct sgt_proc *p, int timeout_ms);

/* Reaps the child if it has ended, without waiting; true once it has (p->status is set). */
bool sgt_exited(struct sgt_proc *p);

/* Sends sig to the child; fails the test if it was already reaped. */
void sgt_signal(struct sgt_proc *p, int sig);

/* What the child wrote so far to stdout / stderr. */
char *sgt_stdout(const struct sgt_proc *p);
char *sgt_stderr(const struct sgt_proc *p);

/* SIGKILLs and reaps the child if it still runs, removes the temp files and
 * frees p. NULL-safe. */
void sgt_proc_free(struct sgt_proc *p);

/* sgt_spawn() + sgt_wait() + output capture. out and errout may be NULL;
 * otherwise they receive malloc'd strings. Returns what sgt_wait() returns. */
int sgt_run(const char *const argv[], const char *const env_extra[], char **out, char **errout,
            int timeout_ms);

#endif /* SCHEMAGATE_SGT_H */
