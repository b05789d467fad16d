/* http.c - civetweb setup and the handlers; every answer is formatted from a health snapshot copy.
 */
#include "http.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <civetweb.h>
#include <json-c/json.h>

#include "framing.h"
#include "gate.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "num.h"
#include "proc.h"
#include "report.h"
#include "route.h"
#include "secret.h"

/* Loopback connections from the gate to civetweb, and civetweb's threads:
 * one per connection plus spares for connections it is still closing. Only
 * whole requests reach civetweb, and every handler answers from memory.
 * Measured under wrk -c 32 (2 cores): 8 connections gave 11-12k requests/s
 * and p99 7-10 ms, 32 gave 16-19k and p99 4-5 ms, ~1 MB more RSS. The
 * workers run at nice 10, so more of them get a fairer share next to
 * the load. */
#define BACKENDS 32
#define WORKERS (BACKENDS + 2)
/* How long civetweb may take to answer a request the gate passed
 * (gate_limits.response_ms). */
#define RESPONSE_MS 5000
/* Of the backend connections, kept for probe paths (gate_probe_path): a
 * kubelet probe never waits behind other traffic for one. Probes come a few
 * per pod every few seconds; 4 leave room for a retry or two of each. */
#define PROBE_BACKENDS 4
/* Request and response buffers of all client connections together. With the
 * default serve.max_connections, this and the process's base fit the sidecar's
 * memory limit in the chart (docs/security.md: "Bounds of the sidecar"). */
#define BUFFER_BUDGET ((size_t)16 << 20)
/* Of the budget and of serve.max_connections, kept for probes (and for
 * connections whose request is not known yet): no amount of other traffic
 * takes them. A probe costs ~25 KiB of budget while it is answered (its
 * buffers and the kernel's); 2 MiB is ~80 at once. */
#define PROBE_BUDGET ((size_t)2 << 20)
#define PROBE_CLIENTS_SHARE 16 /* 1/16 of max_connections, at least PROBE_CLIENTS_MIN */
#define PROBE_CLIENTS_MIN 4

_Static_assert(MG_MAX_HEADERS == FRAMING_MAX_HEADERS,
               "framing.h must refuse the header lines civetweb would ignore");

struct http_server {
	struct gate *gate;      /* the public port: see gate.h */
	struct mg_context *ctx; /* civetweb, on 127.0.0.1 for the gate only */
	int civetweb_port;      /* its loopback port */
	atomic_bool stopped;    /* mg_stop has returned */
	const struct cfg *cfg;  /* borrowed */
	pthread_mutex_t
	    token_lock; /* token, token_len and token_id: handlers run on many threads */
	char *token;    /* admin bearer token, NULL when none is configured */
	size_t token_len;
	struct stat token_id; /* the file the token was read from, to notice a new one */
	long deadline_ms;     /* liveness deadline of the checker heartbeat */
	double start_time_s;  /* wall clock at start, for process_start_time_seconds */
	/* Request counters, written by every handler thread. */
	_Atomic unsigned long long count[METRICS_NPATHS][METRICS_NCODES];
};

/* Constant-time comparison: the time taken depends only on the lengths. */
static bool token_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char diff = alen != blen;
	size_t n = alen > blen ? alen : blen;

	for (size_t i = 0; i < n; i++) {
		unsigned char x = i < alen ? (unsigned char)a[i] : 0;
		unsigned char y = i < blen ? (unsigned char)b[i] : 0;

		diff |= x ^ y;
	}
	return diff == 0;
}

bool http_bearer_ok(const char *header, const char *token, size_t token_len)
{
	size_t at = 6;

	if (header == NULL || token == NULL || strncasecmp(header, "Bearer", 6) != 0 ||
	    header[6] != ' ')
		return false;
	while (header[at] == ' ')
		at++;
	return token_equal(header + at, strlen(header + at), token, token_len);
}

/* Sends a complete response and counts it; returns status (civetweb's
 * convention for the access log). */
static int reply(struct mg_connection *conn, struct http_server *s, int pidx, int status,
                 const char *ctype, const char *body, size_t len, const char *extra)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	char clen[32];

	snprintf(clen, sizeof clen, "%zu", len);
	mg_response_header_start(conn, status);
	mg_response_header_add(conn, "Content-Type", ctype, -1);
	mg_response_header_add(conn, "Content-Length", clen, -1);
	mg_response_header_add(conn, "Cache-Control", "no-store", -1);
	if (extra != NULL)
		mg_response_header_add_lines(conn, extra);
	mg_response_header_send(conn);
	if (len > 0 && strcmp(ri->request_method, "HEAD") != 0)
		mg_write(conn, body, len);
	atomic_fetch_add(&s->count[pidx][metrics_code_index(status)], 1);
	return status;
}

static int reply_text(struct mg_connection *conn, struct http_server *s, int pidx, int status,
                      const char *text)
{
	return reply(conn, s, pidx, status, "text/plain; charset=utf-8", text, strlen(text), NULL);
}

static int handle_live(struct mg_connection *conn, struct http_server *s, int pidx)
{
	struct health_snap snap;
	char reason[128], body[160];

	health_snapshot(&snap);
	if (health_live(&snap, proc_now_ms(), s->deadline_ms, reason, sizeof reason))
		return reply_text(conn, s, pidx, 200, "ok\n");
	snprintf(body, sizeof body, "%s\n", reason);
	return reply_text(conn, s, pidx, 503, body);
}

/* rest: the path after the route's, "" or "/<check>". */
static int handle_readyz(struct mg_connection *conn, struct http_server *s, int pidx,
                         const char *rest, const char *query)
{
	struct health_snap snap;
	struct health_result r[HEALTH_NCHECKS];
	struct health_query q = {.only = -1};
	char body[4096], bad[80];
	int status;

	if (rest[0] == '/') {
		const char *name = rest + 1;

		if ((q.only = health_check_lookup(name, strlen(name))) < 0)
			return reply_text(conn, s, pidx, 404, "no such check\n");
	}
	if (health_parse_query(query, &q, bad, sizeof bad) != 0) {
		snprintf(body, sizeof body, "no such check: %s\n", bad);
		return reply_text(conn, s, pidx, 404, body);
	}
	health_snapshot(&snap);
	health_evaluate(&snap, proc_now_ms(), s->cfg->check_interval_ms, r);
	status = health_format_readyz(r, &q, body, sizeof body);
	return reply_text(conn, s, pidx, status, body);
}

static int send_json(struct mg_connection *conn, struct http_server *s, int pidx, int status,
                     struct json_object *o, const char *extra)
{
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int rc;

	if (text == NULL) {
		json_object_put(o);
		return reply_text(conn, s, pidx, 500, "out of memory\n");
	}
	rc = reply(conn, s, pidx, status, "application/json", text, strlen(text), extra);
	json_object_put(o);
	return rc;
}

static int handle_health(struct mg_connection *conn, struct http_server *s, int pidx)
{
	struct health_snap snap;
	struct health_result r[HEALTH_NCHECKS];
	struct json_object *o = json_object_new_object(), *m = json_object_new_object();
	struct json_object *c = json_object_new_object();
	char now[32], ver[24], dur[32] = "";
	bool ready, db_ok;
	const char *status, *redis;

	health_snapshot(&snap);
	health_evaluate(&snap, proc_now_ms(), s->cfg->check_interval_ms, r);
	ready = health_ready(r);
	db_ok = r[HEALTH_DATABASE].ok;
	/* degraded: the database answers but the schema is not there yet (or we
	 * are draining); unhealthy: we can't even tell. */
	status = ready ? "healthy" : db_ok ? "degraded" : "unhealthy";
	redis = !snap.redis_configured ? "not_configured" : snap.redis_ok ? "healthy" : "unhealthy";
	num_format_rfc3339((long long)time(NULL), now, sizeof now);
	snprintf(ver, sizeof ver, "%ld", snap.head);
	if (snap.completed_duration_ms >= 0 &&
	    num_format_duration((long)snap.completed_duration_ms, dur, sizeof dur) != 0)
		dur[0] = '\0';

	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "ready", json_object_new_boolean(ready));
	json_object_object_add(o, "time", json_object_new_string(now));
	json_object_object_add(m, "in_progress", json_object_new_boolean(snap.lock_held));
	json_object_object_add(m, "completed", json_object_new_boolean(r[HEALTH_MIGRATIONS].ok));
	json_object_object_add(m, "ready", json_object_new_boolean(ready));
	/* null: no version applied ("0" is version 0) */
	json_object_object_add(m, "version", snap.head >= 0 ? json_object_new_string(ver) : NULL);
	json_object_object_add(m, "completed_at", json_object_new_string(snap.completed_at));
	json_object_object_add(m, "duration", json_object_new_string(dur));
	json_object_object_add(o, "migrations", m);
	json_object_object_add(c, "database",
	                       json_object_new_string(db_ok ? "healthy" : "unhealthy"));
	json_object_object_add(c, "redis", json_object_new_string(redis));
	json_object_object_add(o, "components", c);
	return send_json(conn, s, pidx, ready ? 200 : 503, o, NULL);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Reads the token file again when it is another file than last time: the
 * kubelet updates a mounted Secret by swapping a "..data" symlink, so a
 * rotated token is a new inode behind the same path. A file that cannot be
 * read keeps the token we have (a swap is atomic; a missing file is an
 * operator's mistake, not a reason to lock the admin out or let anyone in).
 * Called with token_lock held, on the rare admin request only. */
static void reload_token(struct http_server *s)
{
	struct stat st;
	struct sg_err err;
	char *fresh;
	size_t len;

	if (stat(s->cfg->admin_token_file, &st) != 0 || same_file(&st, &s->token_id))
		return;
	if (secret_read_file("serve.admin_token_file", s->cfg->admin_token_file, SECRET_TRIM_SPACE,
	                     &fresh, &len, &err) != 0) {
		log_warn("admin token file changed but cannot be read; keeping the previous token",
		         "error", err.msg, NULL);
		return;
	}
	secret_free(s->token);
	s->token = fresh;
	s->token_len = len;
	s->token_id = st;
	log_info("admin token reloaded", "file", s->cfg->admin_token_file, NULL);
}

/* ROUTE_ADMIN's rule (route.h): 0 when the request may go on, else the status of the refusal
 * just sent. */
static int refuse_admin(struct mg_connection *conn, struct http_server *s, int pidx)
{
	const char *auth;
	bool ok;

	if (s->token == NULL && !s->cfg->admin_enabled)
		return reply_text(conn, s, pidx, 404, "not found\n");
	if (s->token == NULL)
		return 0;
	auth = mg_get_header(conn, "Authorization");
	pthread_mutex_lock(&s->token_lock);
	reload_token(s);
	ok = http_bearer_ok(auth, s->token, s->token_len);
	pthread_mutex_unlock(&s->token_lock);
	if (ok)
		return 0;
	return reply(conn, s, pidx, 401, "text/plain; charset=utf-8", "unauthorized\n", 13,
	             "WWW-Authenticate: Bearer realm=\"schemagate\"\r\n");
}

static int handle_admin(struct mg_connection *conn, struct http_server *s, int pidx)
{
	struct health_snap snap;
	struct health_result r[HEALTH_NCHECKS];
	struct json_object *rep = NULL, *checks = NULL, *lc = NULL;
	const struct report *report;
	struct health_report *held;
	char when[32];

	health_snapshot(&snap);
	health_evaluate(&snap, proc_now_ms(), s->cfg->check_interval_ms, r);
	if ((held = health_report_hold(&report)) == NULL)
		return reply_text(conn, s, pidx, 503, "no status report yet\n");
	rep = report_to_json(report);
	health_report_release(held);
	if (rep == NULL)
		return reply_text(conn, s, pidx, 500, "out of memory\n");
	lc = json_object_new_object();
	num_format_rfc3339(snap.wall_checked, when, sizeof when);
	json_object_object_add(lc, "time",
	                       snap.wall_checked > 0 ? json_object_new_string(when) : NULL);
	json_object_object_add(lc, "duration_ms", json_object_new_int64(snap.check_duration_ms));
	json_object_object_add(lc, "database_ok", json_object_new_boolean(snap.db_ok));
	if (!snap.db_ok)
		json_object_object_add(lc, "error", json_object_new_string(snap.db_error));
	json_object_object_add(rep, "last_check", lc);
	checks = json_object_new_object();
	for (int i = 0; i < HEALTH_NCHECKS; i++)
		json_object_object_add(checks, health_check_name((enum health_check)i),
		                       json_object_new_string(r[i].ok ? "ok" : r[i].reason));
	json_object_object_add(rep, "checks", checks);
	json_object_object_add(rep, "ready", json_object_new_boolean(health_ready(r)));
	json_object_object_add(rep, "expected_version",
	                       snap.expected >= 0 ? json_object_new_int64(snap.expected) : NULL);
	return send_json(conn, s, pidx, 200, rep, NULL);
}

static int handle_metrics(struct mg_connection *conn, struct http_server *s, int pidx)
{
	struct health_snap snap;
	struct health_result r[HEALTH_NCHECKS];
	struct metrics_http h;
	struct metrics_process p;
	char *text;
	int rc;

	health_snapshot(&snap);
	health_evaluate(&snap, proc_now_ms(), s->cfg->check_interval_ms, r);
	for (int i = 0; i < METRICS_NPATHS; i++)
		for (int c = 0; c < METRICS_NCODES; c++)
			h.count[i][c] = atomic_load(&s->count[i][c]);
	gate_stats_read(s->gate, &h.gate);
	/* This request is counted after it is answered, like every other. */
	metrics_process_read(&p, s->start_time_s);
	if ((text = metrics_format(&snap, r, &h, &p)) == NULL)
		return reply_text(conn, s, pidx, 500, "out of memory\n");
	rc = reply(conn, s, pidx, 200, "text/plain; version=0.0.4; charset=utf-8", text,
	           strlen(text), NULL);
	free(text);
	return rc;
}

static int handle(struct mg_connection *conn, void *data)
{
	struct http_server *s = data;
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *uri = ri->local_uri != NULL ? ri->local_uri : "";
	const struct route *r = route_find(uri, strlen(uri));
	int pidx = metrics_path_index(uri), status;

	if (strcmp(ri->request_method, "GET") != 0 && strcmp(ri->request_method, "HEAD") != 0)
		return reply(conn, s, pidx, 405, "text/plain; charset=utf-8",
		             "method not allowed\n", 19, "Allow: GET, HEAD\r\n");
	if (r == NULL)
		return reply_text(conn, s, pidx, 404, "not found\n");
	if (r->auth == ROUTE_ADMIN && (status = refuse_admin(conn, s, pidx)) != 0)
		return status;
	switch (r->handler) {
	case ROUTE_LIVE:
		return handle_live(conn, s, pidx);
	case ROUTE_READY:
		return handle_readyz(conn, s, pidx, uri + strlen(r->path), ri->query_string);
	case ROUTE_HEALTH:
		return handle_health(conn, s, pidx);
	case ROUTE_STATUS:
		return handle_admin(conn, s, pidx);
	case ROUTE_METRICS:
		return handle_metrics(conn, s, pidx);
	}
	return reply_text(conn, s, pidx, 500, "no handler\n"); /* a route without a case above */
}

/* civetweb's own log lines (bad requests, bind errors) go to our log. */
static int on_log(const struct mg_connection *conn, const char *message)
{
	(void)conn;
	log_debug("http", "message", message, NULL);
	return 1;
}

/* Worker threads run at a lower priority than the checker thread: a flood of
 * requests may slow the answers, but must not starve the thread that keeps
 * the snapshot fresh (a stale snapshot turns /readyz to 503 by design).
 * Raising one's own nice value needs no privilege; failure is harmless. */
static void *on_thread_start(const struct mg_context *ctx, int thread_type)
{
	(void)ctx;
	if (thread_type == 1 && setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0)
		log_debug("could not lower the HTTP worker priority", NULL);
	return NULL;
}

static void *stop_civetweb(void *arg)
{
	struct http_server *s = arg;

	mg_stop(s->ctx);
	atomic_store(&s->stopped, true);
	return NULL;
}

/* civetweb's master thread looks at its stop flag only between polls of its
 * listening socket, which wait up to 2 s (SOCKET_TIMEOUT_QUANTUM): every
 * stop took 2 s. A connection ends the poll at once, so while mg_stop runs
 * on a thread of its own, knock on that port. */
static void stop_civetweb_now(struct http_server *s)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	pthread_t t;

	if (pthread_create(&t, NULL, stop_civetweb, s) != 0) {
		stop_civetweb(s);
		return;
	}
	a.sin_port = htons((uint16_t)s->civetweb_port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (!atomic_load(&s->stopped)) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd >= 0) {
			(void)!connect(fd, (struct sockaddr *)&a, sizeof a);
			close(fd);
		}
		nanosleep(&(struct timespec){.tv_nsec = 20 * 1000000L}, NULL);
	}
	pthread_join(t, NULL);
}

int http_start(const struct cfg *cfg, long liveness_deadline_ms, struct http_server **out,
               struct sg_err *err)
{
	struct http_server *s = NULL;
	struct mg_callbacks cb;
	struct mg_server_port port;
	/* civetweb's settings come from the gate's constants and our settings,
	 * never repeated literals: the two must agree. */
	char workers[16], request_ms[24], keep_alive_ms[24], max_head[16];
	const char *options[] = {"listening_ports", "127.0.0.1:0", "num_threads", workers,
	                         /* Headers and body leave in separate writes: with Nagle on,
	                          * each keep-alive response waited for the gate's delayed
	                          * ACK (~40 ms). */
	                         "tcp_nodelay", "1",
	                         /* civetweb only ever gets whole heads from the gate; this
	                          * bounds what it still reads from one (serve.request_timeout) */
	                         "request_timeout_ms", request_ms, "enable_keep_alive", "yes",
	                         /* Longer than the gate keeps an idle connection, so the
	                          * gate is the one that closes it. */
	                         "keep_alive_timeout_ms", keep_alive_ms, "max_request_size",
	                         max_head, "enable_auth_domain_check", "no", NULL};
	struct gate_limits lim = {.max_clients = cfg->max_connections,
	                          .probe_clients =
	                              cfg->max_connections / PROBE_CLIENTS_SHARE > PROBE_CLIENTS_MIN
	                                  ? cfg->max_connections / PROBE_CLIENTS_SHARE
	                                  : PROBE_CLIENTS_MIN,
	                          .request_ms = cfg->request_timeout_ms,
	                          .response_ms = RESPONSE_MS,
	                          .backends = BACKENDS,
	                          .probe_backends = PROBE_BACKENDS,
	                          .buffer_budget = BUFFER_BUDGET,
	                          .probe_budget = PROBE_BUDGET};
	int rc = -1;

	*out = NULL;
	snprintf(workers, sizeof workers, "%d", WORKERS);
	snprintf(request_ms, sizeof request_ms, "%ld", cfg->request_timeout_ms);
	snprintf(keep_alive_ms, sizeof keep_alive_ms, "%d", 3 * GATE_BACKEND_IDLE_MS);
	snprintf(max_head, sizeof max_head, "%d", FRAMING_MAX_HEAD);
	if ((s = calloc(1, sizeof *s)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	s->cfg = cfg;
	s->deadline_ms = liveness_deadline_ms;
	s->start_time_s = (double)time(NULL);
	pthread_mutex_init(&s->token_lock, NULL);
	/* stat first: a swap between the two reads is seen at the next request */
	if (cfg->admin_token_file != NULL && cfg->admin_token_file[0] != '\0') {
		if (stat(cfg->admin_token_file, &s->token_id) != 0) {
			sg_err_set(err, SG_E_CONFIG, "serve.admin_token_file %s: %s",
			           cfg->admin_token_file, strerror(errno));
			goto cleanup;
		}
		if (secret_read_file("serve.admin_token_file", cfg->admin_token_file,
		                     SECRET_TRIM_SPACE, &s->token, &s->token_len, err) != 0)
			goto cleanup;
	}
	memset(&cb, 0, sizeof cb);
	cb.log_message = on_log;
	cb.init_thread = on_thread_start;
	mg_init_library(0);
	if ((s->ctx = mg_start(&cb, NULL, options)) == NULL) {
		mg_exit_library();
		sg_err_set(err, SG_E_IO, "serve: cannot start the HTTP workers on 127.0.0.1");
		goto cleanup;
	}
	mg_set_request_handler(s->ctx, "/", handle, s);
	if (mg_get_server_ports(s->ctx, 1, &port) != 1 || port.port <= 0) {
		sg_err_set(err, SG_E_IO, "serve: the HTTP workers have no port");
		goto cleanup;
	}
	s->civetweb_port = port.port;
	if (gate_start(cfg->listen, port.port, &lim, &s->gate, err) != 0)
		goto cleanup;
	*out = s;
	s = NULL;
	rc = 0;
cleanup:
	if (s != NULL) {
		if (s->ctx != NULL) {
			if (s->civetweb_port > 0)
				stop_civetweb_now(s);
			else
				mg_stop(s->ctx);
			mg_exit_library();
		}
		secret_free(s->token);
		pthread_mutex_destroy(&s->token_lock);
		free(s);
	}
	return rc;
}

void http_stop(struct http_server *s)
{
	if (s == NULL)
		return;
	gate_stop(s->gate);   /* first: no request reaches civetweb after this */
	stop_civetweb_now(s); /* waits for the requests already relayed */
	gate_free(s->gate);   /* last: /metrics of a request in flight reads its counters */
	mg_exit_library();
	secret_free(s->token);
	pthread_mutex_destroy(&s->token_lock);
	free(s);
}
