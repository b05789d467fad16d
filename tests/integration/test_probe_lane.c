/* test_probe_lane.c - nobody can make the kubelet's probes wait. A flood
 * of request heads that end in "\n\r\n" (complete to the old gate, incomplete to civetweb) against
 * a real `serve`, and the reserved backend connections for probe paths against a backend that
 * holds every other request. Real sockets on loopback, bounded in count and time. */
#define _GNU_SOURCE /* POLLRDHUP */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proc.h"
#include "gate.h"
#include "sgt.h"
#include "sgt_http.h"

#define IN_FLIGHT 200 /* bad heads held open at once */
#define NEW_PER_S 40  /* ... and replaced at this rate */
#define FLOOD_MS 6000 /* how long the flood lasts */
#define PROBE_MS 1000 /* the kubelet's default probe timeout */

static void sleep_ms(long ms)
{
	nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}, NULL);
}

struct flood {
	int port;
	atomic_bool stop;
	long opened;
};

/* Opens a connection and sends one head that civetweb does not take as
 * complete; returns the socket (left open) or -1. */
static int bad_head(int port)
{
	static const char req[] = "GET /readyz HTTP/1.1\r\nHost: x\n\r\n";
	int fd = sgt_http_connect(port);

	if (fd >= 0 && send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Keeps IN_FLIGHT bad heads open, replacing the oldest NEW_PER_S times a
 * second, until stop. */
static void *flood_run(void *arg)
{
	struct flood *f = arg;
	int fds[IN_FLIGHT];
	size_t next = 0;

	for (size_t i = 0; i < IN_FLIGHT; i++) {
		fds[i] = bad_head(f->port);
		f->opened += fds[i] >= 0;
	}
	while (!atomic_load(&f->stop)) {
		sleep_ms(1000 / NEW_PER_S);
		if (fds[next] >= 0)
			close(fds[next]);
		fds[next] = bad_head(f->port);
		f->opened += fds[next] >= 0;
		next = (next + 1) % IN_FLIGHT;
	}
	for (size_t i = 0; i < IN_FLIGHT; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return NULL;
}

/* One kubelet-like probe: a fresh connection, timeout_ms to answer. */
static int probe_within(int port, const char *path, int timeout_ms)
{
	char req[128];
	int n = snprintf(req, sizeof req,
	                 "GET %s HTTP/1.1\r\nHost: x\r\nUser-Agent: kube-probe/1.29\r\n"
	                 "Connection: close\r\n\r\n",
	                 path);

	return sgt_http_raw(port, req, (size_t)n, NULL, timeout_ms);
}

/* The same with the kubelet's default timeout. */
static int probe(int port, const char *path)
{
	return probe_within(port, path, PROBE_MS);
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* 200 heads in flight that end in "\n\r\n", 40 new ones a second. A gate
 * that passed each on let civetweb hold a pooled connection for its 2 s
 * request timeout; probes queued behind them and missed the kubelet's 1 s
 * timeout. Every probe must answer in time. */
Test(probe_lane, kubelet_probes_survive_a_bad_terminator_flood, .timeout = 120)
{
	char *dsn;
	int port = sgt_http_free_port();
	struct sgt_proc *proc;
	struct flood f = {.port = port};
	pthread_t t;
	long long end;
	int probes = 0, failed = 0, first_bad = 0;
	const char *first_path = "";

	sgt_require_services();
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	dsn = sgt_fresh_db("probelane");
	proc = sgt_serve_start(dsn, port, NULL);
	cr_assert_eq(pthread_create(&t, NULL, flood_run, &f), 0);
	sleep_ms(500); /* the first 200 are in */
	end = proc_now_ms() + FLOOD_MS;
	while (proc_now_ms() < end) {
		static const char *const paths[] = {"/healthz", "/livez", "/readyz"};
		const char *path = paths[probes % 3];
		int st = probe(port, path);

		/* /readyz may say 503 (nothing migrated): any answer in time counts */
		if (!(st == 200 || (st == 503 && strcmp(path, "/readyz") == 0))) {
			if (failed++ == 0) {
				first_bad = st;
				first_path = path;
			}
		}
		probes++;
		sleep_ms(100);
	}
	atomic_store(&f.stop, true);
	pthread_join(t, NULL);
	cr_expect_gt(f.opened, IN_FLIGHT + NEW_PER_S, "the flood did not happen (%ld)", f.opened);
	cr_expect_eq(failed, 0, "%d of %d probes missed %d ms (first: %s -> %d)", failed, probes,
	             PROBE_MS, first_path, first_bad);
	sgt_proc_free(proc);
	sgt_drop_db(dsn);
	free(dsn);
}

/* ---- the reserved lane, against a backend that holds what is not a probe ---- */

#define LANE_BACKENDS 6
#define LANE_RESERVED 2

struct slow_backend {
	int lfd, port;
	atomic_bool stop;
	pthread_t thread;
};

/* One backend connection: answers probe paths at once, never anything else
 * (like a civetweb worker stuck in a slow handler). */
static void *backend_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[4096];
	size_t have = 0;

	for (;;) {
		ssize_t n = recv(fd, buf + have, sizeof buf - have - 1, 0);
		char *end;

		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		while ((end = strstr(buf, "\r\n\r\n")) != NULL) {
			static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
			                         "Connection: close\r\n\r\nok\n";
			size_t len = (size_t)(end + 4 - buf);

			if (strncmp(buf, "GET /healthz ", 13) != 0)
				goto hold;
			if (send(fd, ok, sizeof ok - 1, MSG_NOSIGNAL) < 0)
				goto hold;
			memmove(buf, buf + len, have - len + 1);
			have -= len;
		}
	}
hold:
	while (recv(fd, buf, sizeof buf, 0) > 0)
		; /* held until the gate gives up on it */
	close(fd);
	return NULL;
}

static void *backend_accept(void *arg)
{
	struct slow_backend *sb = arg;

	while (!atomic_load(&sb->stop)) {
		struct pollfd p = {.fd = sb->lfd, .events = POLLIN};
		pthread_t t;
		int fd;

		if (poll(&p, 1, 100) <= 0 || (fd = accept(sb->lfd, NULL, NULL)) < 0)
			continue;
		if (pthread_create(&t, NULL, backend_conn, (void *)(intptr_t)fd) != 0)
			close(fd);
		else
			pthread_detach(t);
	}
	return NULL;
}

/* More slow requests than backend connections, then a probe: it takes one
 * of the connections kept for probes and is answered at once; the slow ones
 * wait in the queue (and time out as 503/504), never all the connections. */
Test(probe_lane, probes_get_reserved_backend_connections, .timeout = 60)
{
	struct slow_backend sb = {.lfd = socket(AF_INET, SOCK_STREAM, 0)};
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof a;
	struct gate_limits lim = {.max_clients = 256,
	                          .probe_clients = 16,
	                          .request_ms = 2000,
	                          .response_ms = 8000,
	                          .backends = LANE_BACKENDS,
	                          .probe_backends = LANE_RESERVED,
	                          .buffer_budget = 1 << 20,
	                          .probe_budget = 256 << 10};
	struct gate *g = NULL;
	struct sg_err err;
	int port = sgt_http_free_port(), slow[3 * LANE_BACKENDS];
	char addr[32];

	signal(SIGPIPE, SIG_IGN);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(sb.lfd, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(listen(sb.lfd, 64), 0);
	cr_assert_eq(getsockname(sb.lfd, (struct sockaddr *)&a, &al), 0);
	sb.port = ntohs(a.sin_port);
	cr_assert_eq(pthread_create(&sb.thread, NULL, backend_accept, &sb), 0);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	cr_assert_eq(gate_start(addr, sb.port, &lim, &g, &err), 0, "%s", err.msg);

	cr_expect_eq(probe(port, "/healthz"), 200, "the backend answers probes");
	for (size_t i = 0; i < sizeof slow / sizeof slow[0]; i++) {
		static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";

		slow[i] = sgt_http_connect(port);
		cr_assert_geq(slow[i], 0);
		cr_assert_eq(send(slow[i], req, sizeof req - 1, MSG_NOSIGNAL),
		             (ssize_t)(sizeof req - 1));
	}
	sleep_ms(300); /* every backend connection other traffic may take is taken */
	for (int i = 0; i < 5; i++)
		cr_expect_eq(probe(port, "/healthz"), 200, "probe %d waited behind slow requests",
		             i);

	gate_stop(g);
	gate_free(g);
	for (size_t i = 0; i < sizeof slow / sizeof slow[0]; i++)
		close(slow[i]);
	atomic_store(&sb.stop, true);
	pthread_join(sb.thread, NULL);
	close(sb.lfd);
}

/* ---- pipelining clients that never read (issue 22) ---- */

/* Each attack connection pipelines ~8 KB of this and never reads an answer. */
#define PIPE_REQ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
#define PIPE_BYTES 8192
#define PIPE_PROBES 20     /* probes measured while the attack runs, one every 200 ms */
#define PIPE_PROBE_MS 5000 /* generous: what failed was a close or a 502, not slowness */
#define PIPE_SETTLE_MS 60000

struct pipeliners {
	int port;
	size_t n;
	int *fd;
	size_t *off; /* where each connection is in the cycle of its requests */
	bool *seen;
	struct pollfd *pfd;
	char *payload; /* whole requests, ~PIPE_BYTES */
	size_t payload_len;
	atomic_bool stop;
	atomic_size_t nseen;  /* connections answered or closed by the server at least once */
	atomic_long reopened; /* connections the server closed, opened again */
};

static void pipe_slot_open(struct pipeliners *pl, size_t i)
{
	pl->fd[i] = sgt_http_connect_unread(pl->port, true);
	pl->off[i] = 0;
	pl->pfd[i] = (struct pollfd){.fd = pl->fd[i],
	                             .events = POLLOUT | POLLRDHUP | (pl->seen[i] ? 0 : POLLIN)};
}

static void pipe_mark_seen(struct pipeliners *pl, size_t i)
{
	if (!pl->seen[i]) {
		pl->seen[i] = true;
		atomic_fetch_add(&pl->nseen, 1);
	}
}

/* Keeps n attack connections open and their requests flowing until stop: each
 * sends more whenever its socket takes it (~8 KB at a time, whole requests),
 * never reads, and is opened again when the server closes it, as an attacker
 * would. */
static void *pipe_run(void *arg)
{
	struct pipeliners *pl = arg;

	for (size_t i = 0; i < pl->n; i++)
		pipe_slot_open(pl, i);
	while (!atomic_load(&pl->stop)) {
		if (poll(pl->pfd, pl->n, 50) <= 0)
			continue;
		for (size_t i = 0; i < pl->n; i++) {
			short re = pl->pfd[i].revents;

			if (pl->fd[i] < 0 || (re & (POLLHUP | POLLERR | POLLRDHUP))) {
				pipe_mark_seen(pl, i);
				if (pl->fd[i] >= 0)
					close(pl->fd[i]);
				pipe_slot_open(pl, i);
				atomic_fetch_add(&pl->reopened, 1);
				continue;
			}
			if (re & POLLIN) { /* the first answer: never read */
				pipe_mark_seen(pl, i);
				pl->pfd[i].events &= (short)~POLLIN;
			}
			if (re & POLLOUT) {
				ssize_t sent =
				    send(pl->fd[i], pl->payload + pl->off[i],
				         pl->payload_len - pl->off[i], MSG_NOSIGNAL | MSG_DONTWAIT);

				if (sent > 0)
					pl->off[i] = (pl->off[i] + (size_t)sent) % pl->payload_len;
			}
		}
	}
	for (size_t i = 0; i < pl->n; i++)
		if (pl->fd[i] >= 0)
			close(pl->fd[i]);
	return NULL;
}

/* Issue 22's high finding: n clients that keep pipelining GET /metrics (~8 KB
 * at a time) and never read (and come back when closed) were always
 * mid-request, held every buffer byte or every connection slot, and the gate
 * closed each new connection, the
 * kubelet's probe among them (7 of 8 probes failed with the defaults and
 * 1,040 clients, 8 of 8 with --max-connections 64 and 64). Once every attack
 * connection has been answered or closed at least once, PIPE_PROBES probes
 * must all be answered 200. */
static void pipelining_attack(const char *const flags[], size_t n)
{
	char *dsn;
	int port = sgt_http_free_port();
	struct sgt_proc *proc;
	struct pipeliners *pl = calloc(1, sizeof *pl);
	pthread_t t;
	long long t0, worst = 0;
	int failed = 0, first_bad = 0;

	sgt_require_services();
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	cr_assert_not_null(pl);
	pl->port = port;
	pl->n = n;
	pl->fd = calloc(n, sizeof *pl->fd);
	pl->off = calloc(n, sizeof *pl->off);
	pl->seen = calloc(n, sizeof *pl->seen);
	pl->pfd = calloc(n, sizeof *pl->pfd);
	cr_assert(pl->fd && pl->off && pl->seen && pl->pfd);
	cr_assert_not_null(pl->payload = sgt_http_pipeline(PIPE_REQ, PIPE_BYTES, &pl->payload_len));
	dsn = sgt_fresh_db("pipeline");
	proc = sgt_serve_start(dsn, port, flags);
	cr_assert_eq(pthread_create(&t, NULL, pipe_run, pl), 0);
	t0 = proc_now_ms();
	while (atomic_load(&pl->nseen) < n && proc_now_ms() - t0 < PIPE_SETTLE_MS)
		sleep_ms(20);
	cr_log_info("%zu of %zu attack connections answered or closed in %lld ms",
	            atomic_load(&pl->nseen), n, proc_now_ms() - t0);
	for (int i = 0; i < PIPE_PROBES; i++) {
		long long p0 = proc_now_ms();
		int st = probe_within(port, "/healthz", PIPE_PROBE_MS);

		if (proc_now_ms() - p0 > worst)
			worst = proc_now_ms() - p0;
		if (st != 200 && failed++ == 0)
			first_bad = st;
		sleep_ms(200);
	}
	atomic_store(&pl->stop, true);
	pthread_join(t, NULL);
	cr_log_info("%d of %d probes failed (first: %d), slowest %lld ms; %ld attack connections "
	            "closed by the server and opened again",
	            failed, PIPE_PROBES, first_bad, worst, atomic_load(&pl->reopened));
	cr_expect_eq(atomic_load(&pl->nseen), n, "the attack did not happen: %zu of %zu answered",
	             atomic_load(&pl->nseen), n);
	cr_expect_eq(failed, 0, "%d of %d probes failed under the attack (first: %d)", failed,
	             PIPE_PROBES, first_bad);
	cr_expect_eq(proc->status, -1, "serve died: %s", sgt_stderr(proc));
	sgt_proc_free(proc);
	sgt_drop_db(dsn);
	free(dsn);
	free(pl->fd);
	free(pl->off);
	free(pl->seen);
	free(pl->pfd);
	free(pl->payload);
	free(pl);
}

Test(probe_lane, pipelining_clients_that_never_read_leave_room_for_probes, .timeout = 240)
{
	pipelining_attack(NULL, 1040);
}

Test(probe_lane, pipelining_clients_at_the_connection_cap_leave_room_for_probes, .timeout = 240)
{
	static const char *const flags[] = {"--max-connections", "64", NULL};

	pipelining_attack(flags, 64);
}
