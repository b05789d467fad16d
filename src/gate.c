/* gate.c - the event-driven front door of `serve`: holds connections until a whole request head
 * has arrived, relays it to civetweb over pooled loopback connections, buffers the answer.
 *
 * Why: civetweb gives each connection one worker thread for its whole life,
 * so N clients that send half a header (or nothing) hold N threads and every
 * new probe queues behind them. Here such a client is a struct and a small
 * buffer on one epoll loop; civetweb only ever sees complete requests.
 *
 * Every client connection is in exactly one state, and in that state's list,
 * oldest first. Each state has one timeout, so the head of each list is the
 * next to expire, and the heads of the lists are the candidates to evict.
 *
 * The states fall into two lanes (enum lane). The probe lane holds probes and
 * every connection whose request is not known yet; the other lane holds the
 * requests for every other path. The other lane may take at most
 * max_clients - probe_clients connections and buffer_budget - probe_budget
 * bytes: beyond, its own oldest are closed, whatever their state. So no amount
 * of other traffic, however it behaves, takes the room a probe needs.
 *
 * The kernel's socket buffers count too: each client socket's send and
 * receive buffers are capped (SNDBUF, RCVBUF), what the kernel still holds to
 * send is charged to the client (looked at after each send), and so is a full
 * receive buffer while the gate does not read from it. */
#define _GNU_SOURCE /* accept4 */
#include "gate.h"

#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sock_diag.h> /* SK_MEMINFO_WMEM_QUEUED */

#include "framing.h"
#include "listener.h"
#include "log.h"
#include "proc.h"
#include "route.h"

#define IN_MIN 256                    /* first request buffer; most heads fit */
#define IN_MAX (2 * FRAMING_MAX_HEAD) /* a partial head plus one read */
#define OUT_MAX (4L << 20)            /* largest response relayed (metrics is ~10 KB) */
#define OUT_KEEP 16384                /* response buffers up to this are kept for reuse */
#define FD_RESERVE 64                 /* descriptors left for the rest of the process */
#define LINGER_MS 1000                /* longest wait for a refused client to stop sending */
#define HEAD_GRACE_MS 1000 /* a newcomer's time to send its head before it is the one evicted */
/* Client sockets' kernel buffers (SO_SNDBUF, SO_RCVBUF; the kernel doubles
 * them for its bookkeeping). Without a cap the kernel grows a send buffer to
 * 4 MiB for a client that does not read (tcp_wmem), outside any budget. A
 * /metrics answer (~10 KB) still leaves in one send; a request head is read
 * as it arrives. */
#define SNDBUF 16384
#define RCVBUF 8192

enum kind { K_LISTEN, K_WAKE, K_CLIENT, K_BACKEND };

/* The first member of everything registered with epoll. */
struct tag {
	enum kind kind;
};

enum cstate {
	/* the probe lane */
	C_READ,    /* waiting for a whole request head (or the next one, keep-alive) */
	C_LINGER,  /* refused and half-closed: what the client still sends is read and
	            * dropped, so that it sees the answer rather than a reset */
	C_PQUEUED, /* a whole request for a probe path (gate_probe_path), waiting for a
	            * backend connection: served before C_QUEUED, and from the
	            * connections kept for probes (gate_limits.probe_backends) */
	C_PRELAY,  /* ... passed to civetweb, response being read */
	C_PWRITE,  /* ... response being written; or the gate's own answer to a head it
	            * did not pass (400, 408, 413, 431, 503) */
	/* the other lane: the same steps for every other request */
	C_QUEUED,
	C_RELAY,
	C_WRITE,
	C_NSTATES
};

enum lane { L_PROBE, L_OTHER, L_NLANES };

static enum lane lane_of(enum cstate s)
{
	return s >= C_QUEUED ? L_OTHER : L_PROBE;
}

/* An intrusive doubly linked list: each client is in the list of its state,
 * each idle backend connection in the idle list, and both in a graveyard
 * between closing and the end of the loop turn. */
struct link {
	struct link *prev, *next;
};

struct chain {
	struct link *head, *tail; /* oldest first */
};

#define OWNER(l, type) ((type *)(void *)((char *)(l)-offsetof(type, link)))

struct backend;

struct client {
	struct tag tag;
	int fd; /* -1 once closed (freed at the end of the loop turn) */
	enum cstate state;
	long long since;  /* when it entered state (monotonic ms) */
	struct link link; /* in the list of its state, or the graveyard */
	bool pending_in;  /* bytes may wait in the socket: read them on entering C_READ */
	char *in;         /* request bytes received */
	size_t in_len, in_cap, scan; /* scan: framing_head_end's resume position */
	size_t req_len;   /* length of the head being relayed (the QUEUED and RELAY states) */
	bool head_method; /* it is a HEAD request: the response has no body */
	bool probe;       /* the request is for a probe path (gate_probe_path) */
	size_t kq; /* memory the kernel held for sending to it when last looked at (kernel_held) */
	size_t charge;      /* what it counts against the budget (charge_of), in its lane */
	bool retried;       /* already resent once after a stale backend */
	struct backend *be; /* C_RELAY and C_PRELAY only */
	char *out;          /* response bytes (relayed or the gate's own) */
	size_t out_len, out_cap, out_off, resp_scan;
	bool resp_known; /* the response head has been parsed into resp */
	struct framing_resp resp;
	size_t resp_total; /* head + body, when !resp.until_eof */
	bool close_after;  /* close once out is written */
	bool linger;       /* ... after C_LINGER: input may be left unread */
};

struct backend {
	struct tag tag;
	int fd;            /* -1 once closed */
	bool connecting;   /* non-blocking connect still in progress */
	bool used;         /* served a request before: civetweb may have closed it since */
	struct client *cl; /* the client it relays for; NULL when idle */
	bool other;        /* ... and that client's request is not a probe */
	size_t sent;       /* bytes of cl's request written */
	long long idle_since;
	struct link link; /* in the idle list while idle, or the graveyard */
};

struct gate {
	struct tag listen_tag, wake_tag;
	int lfd, wakefd, epfd;
	pthread_t thread;
	struct gate_limits lim;
	struct sockaddr_in backend_addr;
	long long now; /* monotonic ms, read once per loop turn */
	struct chain lists[C_NSTATES];
	struct chain idle;
	int nbackends;
	int nother; /* backend connections relaying other than probes */
	long nclients[L_NLANES];
	size_t charged[L_NLANES]; /* the clients' charges, by lane (lim.buffer_budget) */
	long other_clients;       /* max_clients - probe_clients */
	size_t other_budget;      /* buffer_budget - probe_budget */
	size_t rcvbuf;            /* a client socket's receive buffer, as the kernel counts it */
	bool accept_pending;      /* the listener may hold connections not yet accepted */
	struct chain dead_clients, dead_backends;
	_Atomic unsigned long long open, accepted, evicted, timed_out, refused, buffered_now;
	char scratch[FRAMING_MAX_HEAD];
};

enum canned_id { R400, R408, R413, R431, R502, R503, R504 };

bool gate_probe_path(const char *path, size_t n)
{
	const struct route *r = route_find(path, n);

	return r != NULL && r->probe;
}

static const char *const canned[] = {
    [R400] = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
             "Connection: close\r\n\r\nbad request\n",
    [R408] = "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n"
             "Connection: close\r\n\r\nrequest timeout\n",
    [R413] = "HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain\r\nContent-Length: 27\r\n"
             "Connection: close\r\n\r\nrequest bodies not accepted\n",
    [R431] = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\n"
             "Content-Length: 22\r\nConnection: close\r\n\r\nrequest head too large\n",
    [R502] = "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
             "Connection: close\r\n\r\nbad gateway\n",
    [R503] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
             "Connection: close\r\n\r\nbusy\n",
    [R504] = "HTTP/1.1 504 Gateway Timeout\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n"
             "Connection: close\r\n\r\ngateway timeout\n",
};

static void client_parse(struct gate *g, struct client *c);
static void client_read(struct gate *g, struct client *c);
static void client_flush(struct gate *g, struct client *c);
static void dispatch(struct gate *g, struct client *c);
static void serve_queue(struct gate *g);

/* ---- lists and registration ------------------------------------------- */

static void chain_remove(struct chain *l, struct link *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NULL;
}

static void chain_append(struct chain *l, struct link *e)
{
	e->prev = l->tail;
	e->next = NULL;
	if (l->tail != NULL)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
}

/* The oldest client in state s, or NULL. */
static struct client *oldest(const struct gate *g, enum cstate s)
{
	return g->lists[s].head != NULL ? OWNER(g->lists[s].head, struct client) : NULL;
}

/* What c counts against the budget in state s: its buffers, what the kernel
 * held to send to it when last looked at (that only shrinks until the gate
 * sends again, and looks again), and a full receive buffer while the gate
 * does not read from it (the client may fill it meanwhile). */
static size_t charge_of(const struct gate *g, const struct client *c, enum cstate s)
{
	bool reading = s == C_READ || s == C_LINGER;

	return c->in_cap + c->out_cap + c->kq + (reading ? 0 : g->rcvbuf);
}

static size_t charged(const struct gate *g)
{
	return g->charged[L_PROBE] + g->charged[L_OTHER];
}

/* Counts c in the lane of its state, or out of it. */
static void lane_enter(struct gate *g, struct client *c)
{
	enum lane l = lane_of(c->state);

	c->charge = charge_of(g, c, c->state);
	g->charged[l] += c->charge;
	g->nclients[l]++;
	atomic_store(&g->buffered_now, charged(g));
}

static void lane_leave(struct gate *g, struct client *c)
{
	enum lane l = lane_of(c->state);

	g->charged[l] -= c->charge;
	g->nclients[l]--;
	atomic_store(&g->buffered_now, charged(g));
}

/* Moves c to the end of the list of state s, as of now. */
static void set_state(struct gate *g, struct client *c, enum cstate s)
{
	lane_leave(g, c);
	chain_remove(&g->lists[c->state], &c->link);
	c->state = s;
	c->since = g->now;
	chain_append(&g->lists[s], &c->link);
	lane_enter(g, c);
}

/* c's buffers or kernel queue changed size: counts it again. */
static void recharge(struct gate *g, struct client *c)
{
	lane_leave(g, c);
	lane_enter(g, c);
}

/* The memory the kernel holds for sending on fd, as it counts it for the
 * socket (SO_MEMINFO, Linux 4.12+): its send queue, unsent or not yet
 * acknowledged (*queued), plus what it keeps reserved for the socket (less
 * than a page once idle). When it cannot tell, the most it would hold. */
static size_t kernel_held(int fd, size_t *queued)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof mem;

	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) != 0 ||
	    len <= SK_MEMINFO_WMEM_QUEUED * sizeof mem[0]) {
		*queued = 2 * SNDBUF;
		return *queued + 4096;
	}
	*queued = mem[SK_MEMINFO_WMEM_QUEUED];
	return *queued + mem[SK_MEMINFO_FWD_ALLOC];
}

static void client_close(struct gate *g, struct client *c);

/* Closes c at once. When the kernel still holds bytes to send to it, the
 * connection is reset: a plain close would leave them queued, and charged to
 * the pod, until the client reads them or TCP gives up. */
static void client_drop(struct gate *g, struct client *c)
{
	size_t queued = 0;

	if (c->fd >= 0)
		kernel_held(c->fd, &queued);
	if (queued > 0) {
		struct linger now = {.l_onoff = 1, .l_linger = 0};

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
	}
	client_close(g, c);
}

static void evict(struct gate *g, struct client *v)
{
	client_drop(g, v);
	atomic_fetch_add(&g->evicted, 1);
}

/* Who is closed to make room, oldest first within each state, in this order.
 * For the other lane's own limits: its requests, those whose client does not
 * take its answer first. For the budget: first what is refused or not read
 * by its client, then partial heads and idle connections (the probe lane is
 * over its share whenever the other lane is not), then other requests. For a
 * connection slot, see slot_victim. Probes being answered (C_PQUEUED,
 * C_PRELAY) are never closed to make room. */
static const enum cstate other_victims[] = {C_WRITE, C_QUEUED, C_RELAY};
static const enum cstate byte_victims[] = {C_LINGER, C_PWRITE, C_READ, C_WRITE, C_QUEUED, C_RELAY};
#define NVICTIMS(a) (sizeof(a) / sizeof(a)[0])

/* The oldest client in the first state of order[n] that has one, not keep
 * and, when bytes are wanted, holding some; NULL when there is none. */
static struct client *victim(const struct gate *g, const enum cstate *order, size_t n,
                             const struct client *keep, bool bytes)
{
	for (size_t i = 0; i < n; i++)
		for (const struct link *l = g->lists[order[i]].head; l != NULL; l = l->next) {
			struct client *v = OWNER(l, struct client);

			if (v != keep && (!bytes || v->charge > 0))
				return v;
		}
	return NULL;
}

/* Who is closed to let a newcomer in at max_clients: what is refused or not
 * read by its client; then the oldest unfinished head or idle connection, if
 * it has had HEAD_GRACE_MS to send its request (a slow client is old); then
 * other requests; then any unfinished head. A connection just accepted, a
 * probe maybe, is not read yet: closing the previous newcomer for each next
 * one would leave only the last of a burst. NULL when there is none. */
static struct client *slot_victim(const struct gate *g)
{
	static const enum cstate first[] = {C_LINGER, C_PWRITE};
	static const enum cstate then[] = {C_WRITE, C_QUEUED, C_RELAY, C_READ};
	struct client *v = victim(g, first, NVICTIMS(first), NULL, false);

	if (v == NULL && (v = oldest(g, C_READ)) != NULL && v->since + HEAD_GRACE_MS > g->now)
		v = NULL;
	return v != NULL ? v : victim(g, then, NVICTIMS(then), NULL, false);
}

/* Makes room for c to count charge bytes in lane l (its own, or the one it
 * is about to enter) by closing others: the other lane's oldest while that
 * lane would be over its share of connections or bytes, then any candidate
 * while all clients together would be over the budget. False when even that
 * is not enough: the caller gives up on c. So many partial heads, or many
 * clients that never read, cost at most the budget; and other requests never
 * take more than their share of it, or of the connections. */
static bool make_room(struct gate *g, struct client *c, enum lane l, size_t charge)
{
	bool moving = lane_of(c->state) != l;
	struct client *v;

	while (l == L_OTHER &&
	       (g->charged[L_OTHER] - (moving ? 0 : c->charge) + charge > g->other_budget ||
	        g->nclients[L_OTHER] + moving > g->other_clients)) {
		if ((v = victim(g, other_victims, NVICTIMS(other_victims), c, false)) == NULL)
			return false;
		evict(g, v);
	}
	while (charged(g) - c->charge + charge > g->lim.buffer_budget) {
		if ((v = victim(g, byte_victims, NVICTIMS(byte_victims), c, true)) == NULL)
			return false;
		evict(g, v);
	}
	return true;
}

enum io { IO_DONE, IO_AGAIN, IO_FAILED };

/* Sends buf[*off..len) until it is all sent, the socket is full (EAGAIN) or
 * it fails; advances *off by what was sent. */
static enum io send_some(int fd, const char *buf, size_t len, size_t *off)
{
	while (*off < len) {
		ssize_t n = send(fd, buf + *off, len - *off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return IO_AGAIN;
		if (n <= 0)
			return IO_FAILED;
		*off += (size_t)n;
	}
	return IO_DONE;
}

/* One recv into buf[0..len): IO_DONE with *got > 0, IO_AGAIN when the socket
 * is drained, IO_FAILED at end of stream or on an error. */
static enum io recv_some(int fd, char *buf, size_t len, size_t *got)
{
	for (;;) {
		ssize_t n = recv(fd, buf, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return IO_AGAIN;
		if (n <= 0)
			return IO_FAILED;
		*got = (size_t)n;
		return IO_DONE;
	}
}

/* Every socket is registered once, edge-triggered, for both directions: no
 * epoll_ctl per request. The price: whoever gets an edge reads (or writes)
 * until EAGAIN, or remembers that it did not (pending_in). */
static int add_fd(struct gate *g, int fd, void *tag)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
	                         .data.ptr = tag};

	return epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* ---- backends ---------------------------------------------------------- */

/* Forgets the previous response (keeps the buffer for reuse). */
static void response_reset(struct client *c)
{
	c->out_len = c->out_off = c->resp_scan = c->resp_total = 0;
	c->resp_known = false;
}

/* Closes b; the client it served (if any) is left without a backend. */
static void backend_close(struct gate *g, struct backend *b)
{
	if (b->fd < 0)
		return;
	if (b->cl == NULL)
		chain_remove(&g->idle, &b->link);
	else
		b->cl->be = NULL;
	if (b->other)
		g->nother--;
	b->cl = NULL;
	b->other = false;
	close(b->fd);
	b->fd = -1;
	g->nbackends--;
	chain_append(&g->dead_backends, &b->link);
}

static struct backend *backend_open(struct gate *g)
{
	struct backend *b = calloc(1, sizeof *b);
	int one = 1;

	if (b == NULL)
		return NULL;
	b->tag.kind = K_BACKEND;
	b->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (b->fd < 0)
		goto fail;
	setsockopt(b->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(b->fd, (struct sockaddr *)&g->backend_addr, sizeof g->backend_addr) != 0) {
		if (errno != EINPROGRESS)
			goto fail;
		b->connecting = true;
	}
	if (add_fd(g, b->fd, b) != 0)
		goto fail;
	g->nbackends++;
	return b;
fail:
	log_warn("gate: cannot connect to the HTTP workers", "error", strerror(errno), NULL);
	if (b->fd >= 0)
		close(b->fd);
	free(b);
	return NULL;
}

/* ---- clients ----------------------------------------------------------- */

static void client_close(struct gate *g, struct client *c)
{
	if (c->fd < 0)
		return;
	if (c->be != NULL) /* mid-response: the connection can't be reused */
		backend_close(g, c->be);
	/* the buffers are freed at the end of the loop turn (bury): count them gone now */
	lane_leave(g, c);
	chain_remove(&g->lists[c->state], &c->link);
	close(c->fd);
	c->fd = -1;
	atomic_fetch_sub(&g->open, 1);
	chain_append(&g->dead_clients, &c->link);
}

/* Answers with one of the gate's own responses, then closes. */
static void client_answer(struct gate *g, struct client *c, enum canned_id id)
{
	size_t n = strlen(canned[id]);

	if (c->be != NULL)
		backend_close(g, c->be);
	if (c->out_cap < n) {
		/* outside the budget on purpose: a few hundred bytes, freed with
		 * the connection, and refusing to refuse helps nobody */
		char *p = realloc(c->out, n);

		if (p == NULL) {
			client_close(g, c);
			return;
		}
		c->out = p;
		c->out_cap = n;
		recharge(g, c);
	}
	memcpy(c->out, canned[id], n);
	c->out_len = n;
	c->out_off = 0;
	c->close_after = true;
	/* in the lane it is in: an answer to an unknown head goes with the probes */
	set_state(g, c, lane_of(c->state) == L_OTHER ? C_WRITE : C_PWRITE);
	client_flush(g, c);
}

/* A refusal: the client may still be sending the head or body we refused. */
static void client_refuse(struct gate *g, struct client *c, enum canned_id id)
{
	atomic_fetch_add(&g->refused, 1);
	c->linger = true;
	client_answer(g, c, id);
}

/* Reads and drops what a refused client still sends, until it closes. */
static void client_drain(struct gate *g, struct client *c)
{
	enum io r;
	size_t n;

	while ((r = recv_some(c->fd, g->scratch, sizeof g->scratch, &n)) == IO_DONE)
		;
	if (r == IO_AGAIN)
		c->pending_in = false;
	else
		client_close(g, c);
}

/* Writes what is left of the response; when done, waits for the next
 * request or closes. The kernel takes at most about SNDBUF of it ahead of the
 * client: a client that does not read stays here, not reading its next
 * pipelined request either, until it takes some (each time it does, its
 * timeout starts again) or runs out of time. */
static void client_flush(struct gate *g, struct client *c)
{
	size_t was = c->out_off, queued;
	enum io r = send_some(c->fd, c->out, c->out_len, &c->out_off);

	if (r == IO_FAILED) {
		client_close(g, c);
		return;
	}
	if (c->out_off > was) {
		c->kq = kernel_held(c->fd, &queued);
		recharge(g, c);
		if (!make_room(g, c, lane_of(c->state), c->charge)) {
			evict(g, c);
			return;
		}
	}
	if (r == IO_AGAIN) {
		if (c->out_off > was)
			set_state(g, c, c->state); /* progress: its timeout starts again */
		return;                            /* the next EPOLLOUT edge calls again */
	}
	if (c->close_after && c->linger && shutdown(c->fd, SHUT_WR) == 0) {
		set_state(g, c, C_LINGER);
		client_drain(g, c);
		return;
	}
	if (c->close_after) {
		client_close(g, c);
		return;
	}
	if (c->out_cap > OUT_KEEP) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	response_reset(c);
	c->retried = false;
	set_state(g, c, C_READ);
	if (c->in_len > 0) /* pipelined */
		client_parse(g, c);
	if (c->fd >= 0 && c->state == C_READ && c->pending_in)
		client_read(g, c);
}

/* Looks for a whole head in c->in (state C_READ); passes it on when there is. */
static void client_parse(struct gate *g, struct client *c)
{
	struct framing_req req;
	size_t skip = 0, end;
	enum cstate next;

	/* RFC 9112 2.2: empty lines before a request line are ignored. */
	if (c->scan == 0) {
		while (skip < c->in_len && (c->in[skip] == '\r' || c->in[skip] == '\n'))
			skip++;
		if (skip > 0) {
			memmove(c->in, c->in + skip, c->in_len - skip);
			c->in_len -= skip;
		}
	}
	end = framing_head_end(c->in, c->in_len < FRAMING_MAX_HEAD ? c->in_len : FRAMING_MAX_HEAD,
	                       &c->scan);
	if (end == 0) {
		if (c->in_len >= FRAMING_MAX_HEAD)
			client_refuse(g, c, R431);
		return;
	}
	switch (framing_request(c->in, end, &req)) {
	case FRAMING_BAD:
		client_refuse(g, c, R400);
		return;
	case FRAMING_BODY:
		client_refuse(g, c, R413);
		return;
	case FRAMING_TOO_LARGE:
		client_refuse(g, c, R431);
		return;
	case FRAMING_OK:
		break;
	}
	c->req_len = end;
	c->head_method = req.head_method;
	c->probe = gate_probe_path(req.path.p, req.path.n);
	next = c->probe ? C_PQUEUED : C_QUEUED;
	if (!make_room(g, c, lane_of(next), charge_of(g, c, next))) {
		atomic_fetch_add(&g->evicted, 1);
		client_answer(g, c, R503);
		return;
	}
	set_state(g, c, next);
	dispatch(g, c);
}

/* Reads while c waits for a request (C_READ), until the socket is drained
 * (EAGAIN) or a whole head moves c on; in that case bytes may remain in the
 * socket, and pending_in says so. */
static void client_read(struct gate *g, struct client *c)
{
	while (c->fd >= 0 && c->state == C_READ) {
		size_t room = IN_MAX - c->in_len, n;
		enum io r;

		if (room > sizeof g->scratch)
			room = sizeof g->scratch;
		if (room == 0) { /* only after a pipelined burst: the parse decides */
			client_parse(g, c);
			if (c->fd >= 0 && c->state == C_READ)
				client_refuse(g, c, R431);
			return;
		}
		r = recv_some(c->fd, g->scratch, room, &n);
		if (r == IO_AGAIN) {
			c->pending_in = false;
			return;
		}
		if (r == IO_FAILED) {
			client_close(g, c);
			return;
		}
		if (c->in_len + n > c->in_cap) {
			size_t cap = c->in_cap > 0 ? c->in_cap : IN_MIN;
			char *p;

			while (cap < c->in_len + n)
				cap *= 2;
			if (!make_room(g, c, L_PROBE, c->charge + (cap - c->in_cap)) ||
			    (p = realloc(c->in, cap)) == NULL) {
				evict(g, c);
				return;
			}
			c->in = p;
			c->in_cap = cap;
			recharge(g, c);
		}
		memcpy(c->in + c->in_len, g->scratch, n);
		c->in_len += n;
		client_parse(g, c);
	}
	if (c->fd >= 0)
		c->pending_in = true;
}

static void on_client(struct gate *g, struct client *c, unsigned events)
{
	if (c->fd < 0)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->pending_in = true;
	if (c->kq > 0) { /* the client may have taken some: look again */
		size_t queued;

		c->kq = kernel_held(c->fd, &queued);
		recharge(g, c);
	}
	if (c->state == C_READ && c->pending_in)
		client_read(g, c);
	else if (c->state == C_LINGER && c->pending_in)
		client_drain(g, c);
	else if ((c->state == C_WRITE || c->state == C_PWRITE) &&
	         (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
		client_flush(g, c);
	else if (events & (EPOLLHUP | EPOLLERR))
		client_close(g, c);
}

/* ---- relaying ---------------------------------------------------------- */

/* b broke before any of the answer arrived (a failed write, or EOF). If it
 * had been pooled, civetweb probably closed it while idle: the request is
 * sent once more on another connection. Safe: only bodiless requests pass
 * the gate, and none of our endpoints changes anything. Otherwise 502. */
static void relay_failed(struct gate *g, struct backend *b)
{
	struct client *c = b->cl;
	bool stale = b->used && !c->retried && c->out_len == 0;

	backend_close(g, b);
	if (stale) {
		c->retried = true;
		set_state(g, c, c->probe ? C_PQUEUED : C_QUEUED);
		dispatch(g, c);
	} else {
		client_answer(g, c, R502);
	}
}

static void backend_send(struct gate *g, struct backend *b)
{
	/* IO_AGAIN: the next EPOLLOUT edge calls again */
	if (send_some(b->fd, b->cl->in, b->cl->req_len, &b->sent) == IO_FAILED)
		relay_failed(g, b);
}

/* Whether a request of this kind may take a backend connection now: probes
 * may take any; other requests leave lim.probe_backends of them for probes,
 * so that no amount of other traffic makes a probe wait for one. */
static bool may_take_backend(const struct gate *g, bool probe)
{
	if (g->idle.head == NULL && g->nbackends >= g->lim.backends)
		return false;
	return probe || g->nother < g->lim.backends - g->lim.probe_backends;
}

/* Hands c (C_QUEUED or C_PQUEUED) a backend connection, or leaves it queued.
 * First come, first served within each queue; probes before the rest. */
static void dispatch(struct gate *g, struct client *c)
{
	/* the most recently used is the least likely stale */
	struct backend *b = g->idle.tail != NULL ? OWNER(g->idle.tail, struct backend) : NULL;

	if (oldest(g, c->probe ? C_PQUEUED : C_QUEUED) != c)
		return; /* serve_queue() takes them in order */
	if (!c->probe && (oldest(g, C_PQUEUED) != NULL || !may_take_backend(g, false)))
		return;
	if (b != NULL) {
		chain_remove(&g->idle, &b->link);
	} else if (g->nbackends < g->lim.backends) {
		if ((b = backend_open(g)) == NULL) {
			client_answer(g, c, R502);
			return;
		}
	} else {
		return; /* stays queued; serve_queue() picks it up */
	}
	b->cl = c;
	b->other = !c->probe;
	g->nother += b->other;
	b->sent = 0;
	c->be = b;
	response_reset(c);
	set_state(g, c, c->probe ? C_PRELAY : C_RELAY);
	if (!b->connecting)
		backend_send(g, b);
}

static void serve_queue(struct gate *g)
{
	static const enum cstate order[] = {C_PQUEUED, C_QUEUED};

	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		struct client *c;

		while ((c = oldest(g, order[i])) != NULL &&
		       may_take_backend(g, order[i] == C_PQUEUED)) {
			dispatch(g, c);
			if (c->fd >= 0 && c->state == order[i])
				return; /* could not get a connection: try again later */
		}
	}
}

/* The whole response is in c->out: release the backend, write to the client. */
static void relay_done(struct gate *g, struct client *c, bool reusable)
{
	struct backend *b = c->be;

	b->used = true;
	if (reusable && !c->resp.close) {
		c->be = NULL;
		b->cl = NULL;
		if (b->other)
			g->nother--;
		b->other = false;
		b->idle_since = g->now;
		chain_append(&g->idle, &b->link); /* an EPOLLIN edge now means civetweb closed it */
	} else {
		backend_close(g, b); /* detaches it from c */
	}
	c->close_after = c->resp.close;
	memmove(c->in, c->in + c->req_len, c->in_len - c->req_len);
	c->in_len -= c->req_len;
	c->req_len = c->scan = 0;
	set_state(g, c, c->probe ? C_PWRITE : C_WRITE);
	client_flush(g, c);
}

/* One read of c's response from b; true when another read may follow (the
 * answer is still incomplete and the socket may hold more). */
static bool backend_read_once(struct gate *g, struct backend *b)
{
	struct client *c = b->cl;
	size_t n;
	enum io r;

	if (c->out_cap - c->out_len < 4096) {
		size_t cap = c->out_cap > 0 ? c->out_cap * 2 : 8192;
		char *p;

		if (cap > (size_t)OUT_MAX ||
		    !make_room(g, c, lane_of(c->state), c->charge + (cap - c->out_cap)) ||
		    (p = realloc(c->out, cap)) == NULL) {
			client_answer(g, c, R502);
			return false;
		}
		c->out = p;
		c->out_cap = cap;
		recharge(g, c);
	}
	r = recv_some(b->fd, c->out + c->out_len, c->out_cap - c->out_len, &n);
	if (r == IO_AGAIN)
		return false;
	if (r == IO_FAILED) {
		if (c->resp_known && c->resp.until_eof) {
			c->resp_total = c->out_len;
			relay_done(g, c, false);
		} else {
			relay_failed(g, b);
		}
		return false;
	}
	c->out_len += n;
	if (!c->resp_known) {
		size_t lim = c->out_len < FRAMING_MAX_HEAD ? c->out_len : FRAMING_MAX_HEAD;
		size_t end = framing_head_end(c->out, lim, &c->resp_scan);

		if (end == 0) {
			if (c->out_len >= FRAMING_MAX_HEAD) {
				client_answer(g, c, R502);
				return false;
			}
			return true;
		}
		if (framing_response(c->out, end, c->head_method, &c->resp) != FRAMING_OK ||
		    (!c->resp.until_eof && c->resp.body > (unsigned long long)OUT_MAX)) {
			client_answer(g, c, R502);
			return false;
		}
		c->resp_known = true;
		c->resp_total = end + (size_t)c->resp.body;
	}
	if (!c->resp.until_eof && c->out_len >= c->resp_total) {
		bool extra = c->out_len > c->resp_total; /* more than announced: don't trust b */

		c->out_len = c->resp_total;
		relay_done(g, c, !extra);
		return false;
	}
	return true;
}

/* Edge-triggered: read until drained or done. */
static void backend_read(struct gate *g, struct backend *b)
{
	while (b->fd >= 0 && b->cl != NULL && backend_read_once(g, b))
		;
}

static void on_backend(struct gate *g, struct backend *b, unsigned events)
{
	if (b->fd < 0)
		return;
	if (b->cl == NULL) { /* idle: readable means closed by civetweb (or junk) */
		char x;

		if (recv(b->fd, &x, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
		    (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* a wakeup with nothing behind it */
		backend_close(g, b);
		return;
	}
	if (b->connecting) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		int e = 0;
		socklen_t el = sizeof e;

		if (getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e != 0) {
			struct client *c = b->cl;

			log_warn("gate: cannot connect to the HTTP workers", "error",
			         strerror(e != 0 ? e : errno), NULL);
			backend_close(g, b);
			client_answer(g, c, R502);
			return;
		}
		b->connecting = false;
		backend_send(g, b);
		return;
	}
	if (b->sent < b->cl->req_len) {
		backend_send(g, b);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		backend_read(g, b);
}

/* ---- accepting, timers, the loop ---------------------------------------- */

/* Edge-triggered: accepts until EAGAIN. Stopping early for any other reason
 * sets accept_pending, and the loop comes back without waiting for an edge. */
static void accept_all(struct gate *g)
{
	g->accept_pending = true;
	for (;;) {
		int fd = accept4(g->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *c, *v;
		int one = 1, ms = (int)(2 * g->lim.request_ms);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) && (v = slot_victim(g)) != NULL) {
				evict(g, v);
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				g->accept_pending = false;
			return;
		}
		/* Full: a candidate makes room for the newcomer (slot_victim). */
		if (g->nclients[L_PROBE] + g->nclients[L_OTHER] >= g->lim.max_clients) {
			if ((v = slot_victim(g)) == NULL) {
				close(fd);
				continue;
			}
			evict(g, v);
		}
		if ((c = calloc(1, sizeof *c)) == NULL) {
			close(fd);
			continue;
		}
		c->tag.kind = K_CLIENT;
		c->fd = fd;
		c->state = C_READ;
		c->since = g->now;
		c->pending_in = true; /* the request may be in already (edge before registration) */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		/* what the kernel holds for it, unsent or unacknowledged, for twice
		 * as long as the gate waits (client_drop resets it first) ends the
		 * connection: after a close too, when the client never reads it */
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
		if (add_fd(g, fd, c) != 0) {
			close(fd);
			free(c);
			continue;
		}
		chain_append(&g->lists[C_READ], &c->link);
		lane_enter(g, c);
		atomic_fetch_add(&g->open, 1);
		atomic_fetch_add(&g->accepted, 1);
	}
}

static long state_timeout(const struct gate *g, enum cstate s)
{
	switch (s) {
	case C_QUEUED:
	case C_PQUEUED:
	case C_RELAY:
	case C_PRELAY:
		return g->lim.response_ms;
	case C_LINGER:
		return LINGER_MS;
	default: /* a head, or the taking of an answer, that makes no progress */
		return g->lim.request_ms;
	}
}

/* The oldest idle backend connection, or NULL. */
static struct backend *oldest_idle(const struct gate *g)
{
	return g->idle.head != NULL ? OWNER(g->idle.head, struct backend) : NULL;
}

/* Expires what is overdue, hands freed backend connections to queued
 * clients; returns ms until the next deadline (-1: none). */
static int expire(struct gate *g)
{
	long long next = -1;
	struct backend *b;

	g->now = proc_now_ms();
	for (int s = 0; s < C_NSTATES; s++) {
		long t = state_timeout(g, (enum cstate)s);
		struct client *c;

		while ((c = oldest(g, (enum cstate)s)) != NULL && c->since + t <= g->now) {
			if (s != C_LINGER)
				atomic_fetch_add(&g->timed_out, 1);
			if (s == C_READ && c->in_len > 0)
				client_answer(g, c, R408);
			else if (s == C_QUEUED || s == C_PQUEUED)
				client_answer(g, c, R503);
			else if (s == C_RELAY || s == C_PRELAY)
				client_answer(g, c, R504);
			else if (s == C_WRITE || s == C_PWRITE)
				client_drop(g, c); /* not reading its answer */
			else
				client_close(g, c); /* idle keep-alive, silent, or refused */
		}
	}
	while ((b = oldest_idle(g)) != NULL && b->idle_since + GATE_BACKEND_IDLE_MS <= g->now)
		backend_close(g, b);
	serve_queue(g);
	for (int s = 0; s < C_NSTATES; s++) {
		const struct client *c = oldest(g, (enum cstate)s);
		long long at = c != NULL ? c->since + state_timeout(g, (enum cstate)s) : -1;

		if (at >= 0 && (next < 0 || at < next))
			next = at;
	}
	if ((b = oldest_idle(g)) != NULL &&
	    (next < 0 || b->idle_since + GATE_BACKEND_IDLE_MS < next))
		next = b->idle_since + GATE_BACKEND_IDLE_MS;
	if (next < 0)
		return -1;
	if (next <= g->now)
		return 0;
	return next - g->now > 60000 ? 60000 : (int)(next - g->now);
}

/* Frees what was closed during this loop turn: events later in the same
 * epoll batch may still name it (they see fd -1 and skip). */
static void bury(struct gate *g)
{
	while (g->dead_clients.head != NULL) {
		struct client *c = OWNER(g->dead_clients.head, struct client);

		chain_remove(&g->dead_clients, &c->link);
		free(c->in);
		free(c->out);
		free(c);
	}
	while (g->dead_backends.head != NULL) {
		struct backend *b = OWNER(g->dead_backends.head, struct backend);

		chain_remove(&g->dead_backends, &b->link);
		free(b);
	}
}

/* The gate runs at normal priority, unlike civetweb's workers (http.c): every
 * request passes through this one thread and costs it little, so lowering it
 * only made probes wait behind the load (p99 20 ms vs 5 ms under wrk -c 32). */
static void *loop(void *arg)
{
	struct gate *g = arg;
	struct epoll_event evs[256];
	bool stop = false;

	while (!stop) {
		int timeout = expire(g), n;

		if (g->accept_pending) {
			accept_all(g);
			if (g->accept_pending && (timeout < 0 || timeout > 100))
				timeout = 100; /* out of descriptors: try again soon */
		}
		n = epoll_wait(g->epfd, evs, (int)(sizeof evs / sizeof evs[0]), timeout);
		g->now = proc_now_ms();

		for (int i = 0; i < n; i++) {
			struct tag *t = evs[i].data.ptr;

			switch (t->kind) {
			case K_LISTEN:
				accept_all(g);
				break;
			case K_WAKE: /* an eventfd is always writable: only EPOLLIN counts */
				if (evs[i].events & EPOLLIN)
					stop = true;
				break;
			case K_CLIENT:
				on_client(g, (struct client *)t, evs[i].events);
				break;
			case K_BACKEND:
				on_backend(g, (struct backend *)t, evs[i].events);
				break;
			}
		}
		bury(g);
	}
	return NULL;
}

/* ---- start and stop ------------------------------------------------------ */

/* Lets max_clients connections fit under RLIMIT_NOFILE; returns how many do. */
static long fit_fd_limit(long want_clients, int backends)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)want_clients + (rlim_t)backends + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return want_clients;
	if (rl.rlim_cur < need) {
		rl.rlim_cur =
		    rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return want_clients;
	}
	if (rl.rlim_cur < need) {
		long fit = (long)rl.rlim_cur - backends - FD_RESERVE;
		char have[24], got[24];

		if (fit < 16)
			fit = 16;
		snprintf(have, sizeof have, "%ld", (long)rl.rlim_cur);
		snprintf(got, sizeof got, "%ld", fit);
		log_warn("the open-file limit caps client connections", "nofile", have,
		         "max_connections", got, NULL);
		return fit;
	}
	return want_clients;
}

/* Caps the kernel buffers of every client socket: accepted connections
 * inherit them from the listener. */
static int limit_socket_buffers(struct gate *g, struct sg_err *err)
{
	int snd = SNDBUF, rcv = RCVBUF;
	socklen_t len = sizeof rcv;

	if (setsockopt(g->lfd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd) != 0 ||
	    setsockopt(g->lfd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv) != 0 ||
	    getsockopt(g->lfd, SOL_SOCKET, SO_RCVBUF, &rcv, &len) != 0)
		return sg_err_set(err, SG_E_IO, "serve: cannot size the socket buffers: %s",
		                  strerror(errno));
	g->rcvbuf = (size_t)rcv;
	return 0;
}

int gate_start(const char *addr, int backend_port, const struct gate_limits *lim, struct gate **out,
               struct sg_err *err)
{
	struct gate *g = calloc(1, sizeof *g);

	*out = NULL;
	if (g == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	g->lfd = g->wakefd = g->epfd = -1;
	g->lim = *lim;
	g->listen_tag.kind = K_LISTEN;
	g->wake_tag.kind = K_WAKE;
	g->backend_addr.sin_family = AF_INET;
	g->backend_addr.sin_port = htons((uint16_t)backend_port);
	g->backend_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g->lim.max_clients = fit_fd_limit(lim->max_clients, lim->backends);
	/* a lowered max_clients keeps at least half for the other lane */
	g->other_clients = g->lim.max_clients - (lim->probe_clients < g->lim.max_clients / 2
	                                             ? lim->probe_clients
	                                             : g->lim.max_clients / 2);
	g->other_budget = lim->buffer_budget - lim->probe_budget;
	if ((g->lfd = listener_open(addr, err)) < 0 || limit_socket_buffers(g, err) != 0)
		goto fail;
	if ((g->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (g->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    add_fd(g, g->lfd, &g->listen_tag) != 0 || add_fd(g, g->wakefd, &g->wake_tag) != 0) {
		sg_err_set(err, SG_E_IO, "serve: cannot set up the event loop: %s",
		           strerror(errno));
		goto fail;
	}
	if ((errno = pthread_create(&g->thread, NULL, loop, g)) != 0) {
		sg_err_set(err, SG_E_IO, "serve: cannot start the gate thread: %s",
		           strerror(errno));
		goto fail;
	}
	*out = g;
	return 0;
fail:
	if (g->lfd >= 0)
		close(g->lfd);
	if (g->epfd >= 0)
		close(g->epfd);
	if (g->wakefd >= 0)
		close(g->wakefd);
	free(g);
	return -1;
}

void gate_stop(struct gate *g)
{
	uint64_t one = 1;
	struct client *c;
	struct backend *b;

	if (g == NULL)
		return;
	(void)!write(g->wakefd, &one, sizeof one);
	pthread_join(g->thread, NULL);
	for (int s = 0; s < C_NSTATES; s++)
		while ((c = oldest(g, (enum cstate)s)) != NULL)
			client_close(g, c);
	while ((b = oldest_idle(g)) != NULL)
		backend_close(g, b);
	bury(g);
	close(g->lfd);
	close(g->epfd);
	close(g->wakefd);
}

void gate_free(struct gate *g)
{
	free(g);
}

void gate_stats_read(const struct gate *g, struct gate_stats *st)
{
	memset(st, 0, sizeof *st);
	if (g == NULL)
		return;
	st->open = atomic_load(&g->open);
	st->accepted = atomic_load(&g->accepted);
	st->evicted = atomic_load(&g->evicted);
	st->timed_out = atomic_load(&g->timed_out);
	st->refused = atomic_load(&g->refused);
	st->buffered = atomic_load(&g->buffered_now);
}
