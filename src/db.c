/* db.c - libpq connections with backoff, identity and search_path. */
#include "db.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "dsn.h"
#include "log.h"
#include "num.h"
#include "proc.h"
#include "secret.h"

/* Removes every occurrence of secret from msg, in place. libpq does not put
 * passwords into its messages today; this makes sure it never will for us. */
static void scrub_secret(char *msg, const char *secret)
{
	size_t sl;
	char *p;

	if (secret == NULL || (sl = strlen(secret)) < 3)
		return;
	while ((p = strstr(msg, secret)) != NULL) {
		memset(p, 'x', sl > 5 ? 5 : sl);
		memmove(p + (sl > 5 ? 5 : sl), p + sl, strlen(p + sl) + 1);
	}
}

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

/* The password given in the DSN, if any, so messages can be scrubbed. */
static char *dsn_password(const char *dsn)
{
	PQconninfoOption *opts, *o;
	char *pw = NULL;

	if (dsn == NULL || (opts = PQconninfoParse(dsn, NULL)) == NULL)
		return NULL;
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
			pw = strdup(o->val);
	PQconninfoFree(opts);
	return pw;
}

/* Server notices (RAISE NOTICE in a migration, warnings) become log events
 * instead of raw text on stderr. */
static void log_notice(void *arg, const char *message)
{
	char text[1024];

	(void)arg;
	snprintf(text, sizeof text, "%s", message);
	chomp(text);
	log_info("server notice", "text", text, NULL);
}

/* "schemagate/<role>/<identity>": what pg_stat_activity shows of us. The
 * server keeps 63 bytes of it; cutting the identity is intended. */
static void app_name(const struct cfg *cfg, const char *role, char *buf, size_t n)
{
	if (snprintf(buf, n, "schemagate/%s/%s", role,
	             cfg->identity != NULL ? cfg->identity : "unknown") < 0)
		buf[0] = '\0';
}

void db_set_role(PGconn *c, const struct cfg *cfg, const char *role)
{
	char name[64];
	const char *params[1] = {name};
	PGresult *r = NULL;
	struct sg_err err;

	app_name(cfg, role, name, sizeof name);
	if (db_query(c, "SELECT set_config('application_name', $1, false)", 1, params, &r, &err) ==
	    0)
		PQclear(r);
}

int db_connect_once(const struct cfg *cfg, const char *role, PGconn **out, struct sg_err *err)
{
	const char *keys[11], *vals[11];
	char app[64], timeout[32], idle[24], interval[24], user_timeout[24];
	int n = 0, rc = -1;
	PGconn *c = NULL;
	char *pw = NULL, *file_pw = NULL;

	*out = NULL;
	/* Read at every attempt: a rotated Secret is picked up without a restart. */
	if (cfg->database_password_file != NULL &&
	    secret_read_file("DATABASE_PASSWORD_FILE", cfg->database_password_file,
	                     SECRET_TRIM_NEWLINE, &file_pw, NULL, err) != 0)
		return -1;
	app_name(cfg, role, app, sizeof app);
	snprintf(timeout, sizeof timeout, "%ld", (cfg->connect_timeout_ms + 999) / 1000);
	if (cfg->database_url != NULL) {
		keys[n] = "dbname";
		vals[n++] = cfg->database_url;
	}
	/* After the URL, so the file wins over a password written there (and
	 * over PGPASSWORD and ~/.pgpass, which libpq consults only without one). */
	if (file_pw != NULL) {
		keys[n] = "password";
		vals[n++] = file_pw;
	}
	keys[n] = "application_name";
	vals[n++] = app;
	keys[n] = "connect_timeout";
	vals[n++] = timeout;
	/* A peer that vanishes without a FIN or RST (a node lost, a network
	 * partition) is noticed within about two connect timeouts: keepalive
	 * probes after one timeout of silence, three of them a third apart, and
	 * unacknowledged data given up after one timeout (tcp_user_timeout, ms). */
	snprintf(idle, sizeof idle, "%ld", (cfg->connect_timeout_ms + 999) / 1000);
	snprintf(interval, sizeof interval, "%ld",
	         cfg->connect_timeout_ms >= 3000 ? cfg->connect_timeout_ms / 3000 : 1);
	snprintf(user_timeout, sizeof user_timeout, "%ld", cfg->connect_timeout_ms);
	keys[n] = "keepalives";
	vals[n++] = "1";
	keys[n] = "keepalives_idle";
	vals[n++] = idle;
	keys[n] = "keepalives_interval";
	vals[n++] = interval;
	keys[n] = "keepalives_count";
	vals[n++] = "3";
	keys[n] = "tcp_user_timeout";
	vals[n++] = user_timeout;
	keys[n] = NULL;
	vals[n] = NULL;
	/* expand_dbname: the URL or keyword string is expanded in place, and the
	 * parameters after it override what it says. */
	c = PQconnectdbParams(keys, vals, 1);
	if (c == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory creating a connection");
		goto cleanup;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		char msg[sizeof err->msg];

		snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
		chomp(msg);
		pw = dsn_password(cfg->database_url);
		scrub_secret(msg, pw);
		scrub_secret(msg, file_pw);
		scrub_secret(msg, getenv("PGPASSWORD"));
		/* libpq quotes a URL it cannot parse, password and all. */
		scrub_secret(msg, cfg->database_url);
		/* When the password's place in the URL is unclear, libpq may have
		 * read part of it as another field and quoted that: the value-based
		 * scrub above has nothing to look for, so say nothing of libpq's. */
		if (cfg->database_url != NULL) {
			char shown[sizeof DSN_UNPARSABLE];

			dsn_redact(cfg->database_url, shown, sizeof shown);
			if (strcmp(shown, DSN_UNPARSABLE) == 0)
				snprintf(msg, sizeof msg,
				         "connection failed (libpq's message withheld: "
				         "the URL does not parse unambiguously)");
		}
		sg_err_set(err, SG_E_DB, "%s", msg);
		goto cleanup;
	}
	PQsetNoticeProcessor(c, log_notice, NULL);
	*out = c;
	c = NULL;
	rc = 0;
cleanup:
	if (c != NULL)
		PQfinish(c);
	secret_free(pw);
	secret_free(file_pw);
	return rc;
}

/* The attempts of db_connect_bare and db_reconnect: db_connect_once up to attempts times with
 * the configured backoff, each failure logged. With primary, a server in recovery (a
 * standby: where a switchover, or a URL without target_session_attrs=read-write, may land)
 * counts as a failed attempt too, so that the next one walks the URL's hosts again. */
static int connect_loop(const struct cfg *cfg, const char *role, long attempts, bool primary,
                        db_give_up_fn *give_up, void *ctx, PGconn **out, struct sg_err *err)
{
	char where[512], delay[32], attempt[24], of[24];
	PGconn *c = NULL;

	*out = NULL;
	if (attempts < 1)
		attempts = 1;
	db_target(cfg, where, sizeof where);
	for (long i = 1;; i++) {
		struct sg_err e = {.code = SG_E_OK};

		if (db_connect_once(cfg, role, &c, &e) == 0) {
			struct db_session s;

			if (!primary)
				break;
			if (db_probe(c, &s, &e) == 0 && !s.standby)
				break;
			if (e.code == SG_E_OK)
				sg_err_set(
				    &e, SG_E_DB,
				    "the server is a standby (in recovery): it takes no writes");
			PQfinish(c);
			c = NULL;
		}
		if (e.code == SG_E_CONFIG || e.code == SG_E_NOMEM)
			/* An unreadable password file won't fix itself by waiting. */
			return sg_err_set(err, e.code, "%s", e.msg);
		if (give_up != NULL) {
			struct sg_err why = {.code = SG_E_OK};

			if (give_up(ctx, &why)) {
				*err = why;
				return -1;
			}
		}
		if (i >= attempts)
			return sg_err_set(err, SG_E_UNREACHABLE,
			                  "database %s unreachable after %ld attempts: %s", where,
			                  attempts, e.msg);
		long d = backoff_delay_ms(cfg->connect_base_ms, cfg->connect_max_ms, (unsigned)i);
		num_format_duration(d, delay, sizeof delay);
		snprintf(attempt, sizeof attempt, "%ld", i);
		snprintf(of, sizeof of, "%ld", attempts);
		log_warn("database connection failed, retrying", "attempt", attempt, "max_attempts",
		         of, "delay", delay, "database", where, "error", e.msg, NULL);
		if (!proc_sleep_ms(d))
			return sg_err_set(err, SG_E_STOPPED,
			                  "stopped while waiting for the database");
	}
	*out = c;
	return 0;
}

int db_connect_bare(const struct cfg *cfg, const char *role, PGconn **out, struct sg_err *err)
{
	return connect_loop(cfg, role, cfg->connect_attempts, false, NULL, NULL, out, err);
}

/* Sets the search path on the session of c unless a pooler sits in between (the SET would
 * stay with a pooled server connection and reach its other clients). */
static int session_search_path(PGconn *c, const char *sp, struct sg_err *err)
{
	struct db_session s;

	if (sp == NULL)
		return 0;
	if (db_probe(c, &s, err) != 0 || (!s.pooled && db_exec(c, sp, err) != 0))
		return -1;
	if (s.pooled)
		log_info("connected through a pooler: search_path not set on the session", NULL);
	return 0;
}

int db_reconnect(const struct cfg *cfg, const char *role, bool bare, long attempts, PGconn **out,
                 struct sg_err *err)
{
	char *sp = NULL;
	PGconn *c = NULL;

	*out = NULL;
	if ((!bare && db_search_path_sql(cfg->search_path, &sp, err) != 0) ||
	    connect_loop(cfg, role, attempts, true, NULL, NULL, &c, err) != 0 ||
	    session_search_path(c, sp, err) != 0) {
		free(sp);
		if (c != NULL)
			PQfinish(c);
		return -1;
	}
	free(sp);
	*out = c;
	return 0;
}

int db_end_orphan(PGconn *c, const struct cfg *cfg, int pid, struct sg_err *err)
{
	char p[24];
	const char *params[2] = {p, cfg->identity != NULL ? cfg->identity : "unknown"};
	PGresult *r = NULL;
	int n;

	snprintf(p, sizeof p, "%d", pid);
	/* Only a backend that is ours beyond doubt: our role, our application_name's form with our
	 * identity (see app_name), never this session. On another server (a failover) the pid is
	 * someone else's or nobody's, and the name does not match. */
	if (db_query(c,
	             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid = "
	             "$1::int AND pid <> pg_backend_pid() AND usename = current_user AND "
	             "application_name LIKE 'schemagate/%' AND application_name = "
	             "'schemagate/' || split_part(application_name, '/', 2) || '/' || $2",
	             2, params, &r, err) != 0)
		return -1;
	n = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return n;
}

int db_connect(const struct cfg *cfg, const char *role, PGconn **out, struct sg_err *err)
{
	return db_connect_watched(cfg, role, false, NULL, NULL, out, err);
}

int db_connect_watched(const struct cfg *cfg, const char *role, bool bare, db_give_up_fn *give_up,
                       void *ctx, PGconn **out, struct sg_err *err)
{
	char *sp = NULL;
	PGconn *c = NULL;

	*out = NULL;
	if ((!bare && db_search_path_sql(cfg->search_path, &sp, err) != 0) ||
	    connect_loop(cfg, role, cfg->connect_attempts, false, give_up, ctx, &c, err) != 0 ||
	    session_search_path(c, sp, err) != 0) {
		free(sp);
		if (c != NULL)
			PQfinish(c);
		return -1;
	}
	free(sp);
	*out = c;
	return 0;
}

bool db_pid_is_pooled(const PGconn *c, int server_pid)
{
	/* A pooler answers the startup with a BackendKeyData of its own (it must
	 * route cancel requests itself), so the process id libpq was told is not
	 * the server process that ran the query. A plain TCP proxy passes the
	 * real one through, and keeps the session: that counts as direct. */
	return server_pid != PQbackendPID(c);
}

int db_probe(PGconn *c, struct db_session *out, struct sg_err *err)
{
	PGresult *r = NULL;

	if (db_query(c, "SELECT pg_backend_pid(), pg_is_in_recovery()", 0, NULL, &r, err) != 0)
		return -1;
	out->pooled = db_pid_is_pooled(c, (int)strtol(PQgetvalue(r, 0, 0), NULL, 10));
	out->standby = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	PQclear(r);
	return 0;
}

int db_place(PGconn *c, struct db_place *out, struct sg_err *err)
{
	PGresult *r = NULL;

	memset(out, 0, sizeof *out);
	if (db_query(c,
	             "SELECT current_database(), (SELECT system_identifier::text FROM "
	             "pg_control_system())",
	             0, NULL, &r, err) != 0) {
		/* A server that keeps pg_control_system() from this role (42501): the name only. */
		if (strcmp(err->sqlstate, "42501") != 0 ||
		    db_query(c, "SELECT current_database(), ''", 0, NULL, &r, err) != 0)
			return -1;
	}
	snprintf(out->database, sizeof out->database, "%s", PQgetvalue(r, 0, 0));
	snprintf(out->system_id, sizeof out->system_id, "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
	return 0;
}

bool db_can_listen(const struct db_session *s)
{
	return !s->pooled && !s->standby;
}

void db_target(const struct cfg *cfg, char *buf, size_t n)
{
	if (cfg->database_url != NULL)
		dsn_redact(cfg->database_url, buf, n);
	else
		snprintf(buf, n, "(PG* environment)");
}

char *db_quote_ident(const char *name)
{
	size_t n = 2, i = 0;
	char *q;

	for (const char *p = name; *p; p++)
		n += *p == '"' ? 2 : 1;
	if ((q = malloc(n + 1)) == NULL)
		return NULL;
	q[i++] = '"';
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			q[i++] = '"';
		q[i++] = *p;
	}
	q[i++] = '"';
	q[i] = '\0';
	return q;
}

/* Calls fn for each trimmed, non-empty element of a comma list. */
static int each_schema(const char *list, int (*fn)(const char *name, void *arg), void *arg,
                       struct sg_err *err)
{
	char *copy, *save = NULL, *tok;
	int rc = 0;

	if ((copy = strdup(list)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	for (tok = strtok_r(copy, ",", &save); tok != NULL && rc == 0;
	     tok = strtok_r(NULL, ",", &save)) {
		char *end;

		while (isspace((unsigned char)*tok))
			tok++;
		end = tok + strlen(tok);
		while (end > tok && isspace((unsigned char)end[-1]))
			*--end = '\0';
		/* "My Schema" written with its quotes (as in SQL) names My Schema:
		 * db_quote_ident adds them back once, not twice */
		if (end - tok >= 3 && *tok == '"' && end[-1] == '"') {
			*--end = '\0';
			tok++;
		}
		if (*tok == '\0')
			continue;
		rc = fn(tok, arg);
		if (rc != 0)
			sg_err_set(err, SG_E_NOMEM, "out of memory");
	}
	free(copy);
	return rc;
}

struct sp_buf {
	char *s;
	size_t len;
};

static int append_schema(const char *name, void *arg)
{
	struct sp_buf *b = arg;
	char *q = db_quote_ident(name);
	size_t ql;
	char *grown;

	if (q == NULL)
		return -1;
	ql = strlen(q);
	if ((grown = realloc(b->s, b->len + ql + 3)) == NULL) {
		free(q);
		return -1;
	}
	b->s = grown;
	if (b->len > 0) {
		memcpy(b->s + b->len, ", ", 2);
		b->len += 2;
	}
	memcpy(b->s + b->len, q, ql + 1);
	b->len += ql;
	free(q);
	return 0;
}

int db_search_path_sql(const char *list, char **out, struct sg_err *err)
{
	static const char prefix[] = "SET search_path TO ";
	struct sp_buf b = {NULL, 0};
	char *sql;

	*out = NULL;
	if (list == NULL || *list == '\0')
		return 0;
	if (each_schema(list, append_schema, &b, err) != 0) {
		free(b.s);
		return -1;
	}
	if (b.s == NULL)
		return 0;
	if ((sql = malloc(sizeof prefix + b.len)) == NULL) {
		free(b.s);
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	}
	memcpy(sql, prefix, sizeof prefix - 1);
	memcpy(sql + sizeof prefix - 1, b.s, b.len + 1);
	free(b.s);
	*out = sql;
	return 0;
}

static int take_first(const char *name, void *arg)
{
	char **first = arg;

	if (*first != NULL)
		return 0;
	*first = strdup(name);
	return *first == NULL ? -1 : 0;
}

int db_first_schema(const char *list, char **out, struct sg_err *err)
{
	*out = NULL;
	if (list == NULL || *list == '\0')
		return 0;
	return each_schema(list, take_first, out, err);
}

void db_describe_error(const PGresult *res, const PGconn *c, char *buf, size_t n)
{
	const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *detail = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;

	if (msg == NULL) {
		/* No server message: a client-side failure such as a lost connection. */
		snprintf(buf, n, "%s", c != NULL ? PQerrorMessage(c) : "unknown error");
		chomp(buf);
		return;
	}
	/* Truncation is fine: this is a message for people. */
	if (snprintf(buf, n, "%s (SQLSTATE %s)%s%s%s%s", msg, state != NULL ? state : "?????",
	             detail != NULL ? "; detail: " : "", detail != NULL ? detail : "",
	             hint != NULL ? "; hint: " : "", hint != NULL ? hint : "") < 0)
		buf[0] = '\0';
	chomp(buf);
}

PGresult *db_exec_counting(PGconn *c, const char *sql, size_t *done)
{
	return db_exec_copy(c, sql, NULL, 0, done);
}

/* Sends data[0..len) as COPY data, in pieces: libpq flushes its buffer as it fills, so memory
 * stays near one piece whatever len is. Then ends the COPY. -1: the connection failed. */
static int put_copy(PGconn *c, const char *data, size_t len)
{
	enum { PIECE = 64 * 1024 };

	for (size_t off = 0; off < len; off += PIECE) {
		size_t n = len - off < PIECE ? len - off : PIECE;

		if (PQputCopyData(c, data + off, (int)n) != 1)
			return -1;
	}
	return PQputCopyEnd(c, NULL) == 1 ? 0 : -1;
}

PGresult *db_exec_copy(PGconn *c, const char *sql, const char *data, size_t len, size_t *done)
{
	PGresult *r, *keep = NULL;
	bool failed = false;

	*done = 0;
	if (PQsendQuery(c, sql) == 0)
		return NULL;
	/* One result per statement: the server stops at the first error, so counting the
	 * successes before it names the failing statement. Drain them all either way. */
	while ((r = PQgetResult(c)) != NULL) {
		ExecStatusType st = PQresultStatus(r);
		bool ok =
		    st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;

		/* COPY ... FROM STDIN gets data when it has some; without, it is ended with an
		 * error, which the server reports as the statement's failure (PQgetResult would
		 * otherwise return the COPY state forever). COPY ... TO STDOUT: drain and go on. */
		if (st == PGRES_COPY_IN && data != NULL) {
			PQclear(r);
			if (put_copy(c, data, len) != 0)
				break;
			data = NULL; /* one COPY's data */
			continue;
		}
		if (st == PGRES_COPY_IN || st == PGRES_COPY_BOTH) {
			PQclear(r);
			if (PQputCopyEnd(c, "COPY FROM STDIN has no data in a migration file") < 0)
				break;
			continue;
		}
		if (st == PGRES_COPY_OUT) {
			char *buf = NULL;

			PQclear(r);
			while (PQgetCopyData(c, &buf, 0) > 0)
				PQfreemem(buf);
			continue;
		}

		if (failed) {
			PQclear(r);
			continue;
		}
		PQclear(keep);
		keep = r;
		if (ok)
			(*done)++;
		else
			failed = true;
	}
	return keep;
}

char *db_sqlf(const char *fmt, ...)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	va_list ap;
	int rc;

	if (f == NULL)
		return NULL;
	va_start(ap, fmt);
	rc = vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f) != 0 || rc < 0) {
		free(s);
		return NULL;
	}
	return s;
}

int db_exec(PGconn *c, const char *sql, struct sg_err *err)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		char msg[512];

		db_describe_error(r, c, msg, sizeof msg);
		sg_err_set(err, SG_E_DB, "%s", msg);
		rc = db_err_cause(err, r, c);
	}
	PQclear(r);
	return rc;
}

/* db_bound_waits: how long this thread's queries wait for an answer; 0: as
 * long as libpq does. Per thread: the sidecar's checker is bounded, nothing
 * else is. */
static _Thread_local long thread_bound_ms;

/* A query's result: *res owns it when it succeeded (rows or a command), else
 * it is cleared and err holds the server's message. */
static int take_result(PGconn *c, PGresult *r, PGresult **res, struct sg_err *err)
{
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		char msg[512];

		db_describe_error(r, c, msg, sizeof msg);
		sg_err_set(err, SG_E_DB, "%s", msg);
		db_err_cause(err, r, c);
		PQclear(r);
		return -1;
	}
	*res = r;
	return 0;
}

int db_exec_owned(PGconn *c, char *sql, struct sg_err *err)
{
	int rc;

	if (sql == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	rc = db_exec(c, sql, err);
	free(sql);
	return rc;
}

int db_query(PGconn *c, const char *sql, int nparams, const char *const *params, PGresult **res,
             struct sg_err *err)
{
	*res = NULL;
	if (thread_bound_ms > 0)
		return db_query_within(c, sql, nparams, params, thread_bound_ms, res, err);
	return take_result(c, PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0), res, err);
}

const char *db_sqlstate(const PGresult *res)
{
	const char *s = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return s != NULL ? s : "";
}

int db_err_cause(struct sg_err *err, const PGresult *r, const PGconn *c)
{
	if (err == NULL)
		return -1;
	/* Truncation cannot happen: a SQLSTATE is five characters. */
	snprintf(err->sqlstate, sizeof err->sqlstate, "%s", db_sqlstate(r));
	err->conn_lost = db_is_broken(c);
	return -1;
}

void db_err_cause_text(const struct sg_err *err, char *buf, size_t n)
{
	static const struct {
		const char *state, *what;
	} known[] = {
	    {"57P01", "the server is shutting down"},
	    {"57P02", "the server is restarting after a crash"},
	    {"57P03", "the server is starting up or shutting down"},
	    {"25006", "the server is a read-only standby"},
	};
	const char *what = err->conn_lost ? "the connection broke" : "the server refused";

	if (strncmp(err->sqlstate, "08", 2) == 0)
		what = "the connection failed";
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcmp(err->sqlstate, known[i].state) == 0)
			what = known[i].what;
	/* Truncation is fine: a phrase for people. */
	if (err->sqlstate[0] != '\0')
		snprintf(buf, n, "%s, %s", err->sqlstate, what);
	else
		snprintf(buf, n, "%s", what);
}

bool db_err_is_infrastructure(const struct sg_err *err)
{
	static const char *const states[] = {
	    "57P01", /* admin_shutdown: the server is shutting down (or we were terminated) */
	    "57P02", /* crash_shutdown: another server process crashed */
	    "57P03", /* cannot_connect_now: starting up, shutting down, or in recovery */
	    "25006", /* read_only_sql_transaction: now connected to a standby */
	};

	if (err == NULL)
		return false;
	if (err->conn_lost || strncmp(err->sqlstate, "08", 2) == 0) /* connection_exception */
		return true;
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
		if (strcmp(err->sqlstate, states[i]) == 0)
			return true;
	return false;
}

bool db_is_broken(const PGconn *c)
{
	/* PQTRANS_ACTIVE after a call returned: db_query_within gave up waiting
	 * and the query is still in flight; the connection can't be reused. */
	return c == NULL || PQstatus(c) != CONNECTION_OK ||
	       PQtransactionStatus(c) == PQTRANS_ACTIVE;
}

void db_rollback(PGconn *c)
{
	PGresult *r;

	if (db_is_broken(c) || PQtransactionStatus(c) == PQTRANS_IDLE)
		return;
	r = PQexec(c, "ROLLBACK");
	PQclear(r);
}

/* Waits until the query sent on c has its whole answer, for at most timeout_ms
 * (from deadline). Waits here rather than in libpq, which would wait forever
 * for a server process that is stopped (SIGSTOP, a frozen VM): on loopback or
 * a live host the kernel still acknowledges everything, so neither keepalives
 * nor tcp_user_timeout ever fire. */
/* SG_E_DB with the connection's own error (sending or reading failed); returns -1. */
static int connection_error(const PGconn *c, struct sg_err *err)
{
	char msg[512];

	db_describe_error(NULL, c, msg, sizeof msg);
	sg_err_set(err, SG_E_DB, "%s", msg);
	return db_err_cause(err, NULL, c);
}

static int wait_answer(PGconn *c, long long deadline, long timeout_ms, struct sg_err *err)
{
	while (PQisBusy(c)) {
		long long left = deadline - proc_now_ms();
		struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
		int n;

		if (left <= 0) {
			/* The query is still in flight: the connection cannot be used again. */
			sg_err_set(err, SG_E_DB, "no answer from the server within %ld ms",
			           timeout_ms);
			if (err != NULL)
				err->conn_lost = true;
			return -1;
		}
		n = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
		if (n < 0 && errno != EINTR) {
			sg_err_set(err, SG_E_DB, "poll: %s", strerror(errno));
			if (err != NULL)
				err->conn_lost = true;
			return -1;
		}
		if (n > 0 && PQconsumeInput(c) == 0)
			return connection_error(c, err);
	}
	return 0;
}

/* The last result of what was sent, the others cleared (one statement: normally none). */
static PGresult *last_result(PGconn *c)
{
	PGresult *r = PQgetResult(c), *extra;

	while ((extra = PQgetResult(c)) != NULL) {
		PQclear(r);
		r = extra;
	}
	return r;
}

int db_query_within(PGconn *c, const char *sql, int nparams, const char *const *params,
                    long timeout_ms, PGresult **res, struct sg_err *err)
{
	long long deadline = proc_now_ms() + timeout_ms;

	*res = NULL;
	if (!PQsendQueryParams(c, sql, nparams, NULL, params, NULL, NULL, 0))
		return connection_error(c, err);
	if (wait_answer(c, deadline, timeout_ms, err) != 0)
		return -1;
	return take_result(c, last_result(c), res, err);
}

void db_bound_waits(long timeout_ms)
{
	thread_bound_ms = timeout_ms > 0 ? timeout_ms : 0;
}

int db_exec_each(PGconn *c, const char *sql, PGresult **res, size_t cap, size_t *n,
                 struct sg_err *err)
{
	long long deadline = proc_now_ms() + thread_bound_ms;
	PGresult *r;

	*n = 0;
	if (!PQsendQuery(c, sql))
		return connection_error(c, err);
	for (;;) {
		if (thread_bound_ms > 0 && wait_answer(c, deadline, thread_bound_ms, err) != 0) {
			while (*n > 0)
				PQclear(res[--*n]);
			return -1;
		}
		if ((r = PQgetResult(c)) == NULL)
			return 0;
		if (*n < cap)
			res[(*n)++] = r;
		else
			PQclear(r);
	}
}

int db_exec_raw(PGconn *c, const char *sql, PGresult **res, struct sg_err *err)
{
	long long deadline = proc_now_ms() + thread_bound_ms;

	*res = NULL;
	if (thread_bound_ms == 0) {
		*res = PQexec(c, sql);
		return 0;
	}
	if (!PQsendQuery(c, sql))
		return connection_error(c, err);
	if (wait_answer(c, deadline, thread_bound_ms, err) != 0)
		return -1;
	*res = last_result(c);
	return 0;
}
