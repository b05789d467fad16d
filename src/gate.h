/* gate.h - the sidecar's front door: one event-driven thread that holds every
 * client connection until a whole request has arrived, then relays it to
 * civetweb over a small pool of loopback connections. A slow or idle client
 * costs a few hundred bytes here instead of one of civetweb's worker threads,
 * so ten thousand of them can't keep the kubelet's probe waiting. */
#ifndef SCHEMAGATE_GATE_H
#define SCHEMAGATE_GATE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct gate; /* opaque */

/* A pooled backend connection idle this long is closed by the gate; the
 * backend's own keep-alive timeout must be longer (http.c derives it). */
#define GATE_BACKEND_IDLE_MS 10000

struct gate_limits {
	long max_clients;   /* open client connections; beyond, one that is not a probe being
	                       answered is dropped, slow clients first (gate.c: slot_victim) */
	long probe_clients; /* of those, kept for probes and for connections whose request is
	                     * not known yet: requests for other paths never hold more than
	                     * max_clients - probe_clients (their oldest are dropped) */
	long request_ms;    /* a whole request head must arrive within this (408 after), and a
	                       client that takes none of its answer for this long is dropped */
	long response_ms;   /* civetweb must answer within this once the request is passed (504) */
	int backends;       /* loopback connections to civetweb at most (its worker threads) */
	int probe_backends; /* of those, kept for probe paths (gate_probe_path): other
	                     * requests never hold more than backends - probe_backends */
	size_t buffer_budget; /* bytes of all clients together: request and response buffers,
	                       * and the kernel's socket buffers as the gate charges them;
	                       * beyond, the oldest connections are closed (gate.c) */
	size_t probe_budget;  /* of those, kept as probe_clients are: requests for other paths
	                       * never hold more than buffer_budget - probe_budget */
};

/* Counters, read without a lock (each one is atomic). */
struct gate_stats {
	unsigned long long open;      /* client connections now */
	unsigned long long accepted;  /* since start */
	unsigned long long evicted;   /* dropped to make room (connections or bytes) */
	unsigned long long timed_out; /* clients that missed request_ms or response_ms */
	unsigned long long refused;   /* heads answered by the gate: 400, 413, 431 */
	unsigned long long buffered;  /* bytes charged to clients now (gate_limits.buffer_budget) */
};

/* Listens on addr (listener_open: "HOST:PORT" or "[V6]:PORT"). backend_port: civetweb on 127.0.0.1.
 * Raises the soft RLIMIT_NOFILE toward the hard limit so that max_clients fit (lowering
 * max_clients, with a warning, when they can't). SG_E_CONFIG when the address is malformed or can't
 * be bound; the message names it. On success *out owns the running thread: gate_stop(), then
 * gate_free(). */
SG_MUSTCHECK int gate_start(const char *listen, int backend_port, const struct gate_limits *lim,
                            struct gate **out, struct sg_err *err);

/* Joins the thread, closes the listener and every connection. g stays
 * allocated, so gate_stats_read() from a request already relayed (a civetweb
 * worker still answering /metrics) reads valid memory: free it with
 * gate_free() once nothing can read it any more. NULL-safe; once per gate. */
void gate_stop(struct gate *g);

/* Frees a stopped gate (gate_stop first). NULL-safe, no I/O. */
void gate_free(struct gate *g);

/* True for the paths of the routes the kubelet probes (route.h): /healthz,
 * /livez, /readyz and /readyz/<check>. Requests for them get the reserved
 * backend connections, connection slots and buffer bytes, and go before any
 * other queued request. path[0..n), as framing_request gives it. Pure. The
 * one place that decides what a probe is. */
bool gate_probe_path(const char *path, size_t n);

/* Reads the counters (all zero for NULL). */
void gate_stats_read(const struct gate *g, struct gate_stats *st);

#endif /* SCHEMAGATE_GATE_H */
