/* sgt_http.h - a tiny HTTP/1.1 client over plain sockets for the sidecar tests. */
#ifndef SCHEMAGATE_SGT_HTTP_H
#define SCHEMAGATE_SGT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* A free TCP port on 127.0.0.1 (bound to port 0, then released). */
int sgt_http_free_port(void);

/* Sends len raw bytes to 127.0.0.1:port and reads until the server closes or
 * timeout_ms passes. Returns the status of the response (0 when there was no
 * parsable status line, -1 when the connection failed). *resp (NULL allowed)
 * gets the whole response, malloc'd. */
int sgt_http_raw(int port, const char *req, size_t len, char **resp, int timeout_ms);

/* GET path with "Connection: close" and extra header lines (each ending in
 * "\r\n", NULL for none). Returns the status; *body (NULL allowed) gets the
 * body, malloc'd. */
int sgt_http_get(int port, const char *path, const char *extra, char **body);

/* Polls GET path every 5 ms until it answers want; returns the milliseconds
 * it took, or -1 after timeout_ms. */
long sgt_http_wait_status(int port, const char *path, int want, int timeout_ms);

/* A blocking socket connected to 127.0.0.1:port, or -1 (no assertion:
 * threads may call it). */
int sgt_http_connect(int port);

/* A socket to 127.0.0.1:port for a client that will read nothing: its
 * receive buffer is made small (4 KiB) before it connects, so that the
 * server's answers back up at once and the test's own kernel memory stays
 * small. Non-blocking, the connect maybe still in progress, when nonblock.
 * -1 on failure (no assertion: threads may call it). */
int sgt_http_connect_unread(int port, bool nonblock);

/* req repeated as many whole times as fit in max bytes (at least once): a
 * pipelined burst, malloc'd; *len gets its length. */
char *sgt_http_pipeline(const char *req, size_t max, size_t *len);

/* Reads fd until the server closes it (EOF or an error such as a reset),
 * waiting at most timeout_ms for each read. Returns everything read
 * (malloc'd, possibly empty), or NULL when fd is still open at the end. */
char *sgt_http_read_to_close(int fd, int timeout_ms);

/* Starts `schemagate serve` on 127.0.0.1:port against dsn (the repository's
 * migrations, --check-interval 100ms, --expect-version 0 (version 0 is a version: ready once
 * the history holds any version, so a fresh database is not ready), text logs, no Redis,
 * no search path, no config file) with extra flags (NULL-terminated, NULL
 * for none), and fails the test unless /healthz answers 200 within 10 s.
 * Free with sgt_proc_free(). */
struct sgt_proc *sgt_serve_start(const char *dsn, int port, const char *const extra[]);

/* The value of an unlabelled gauge or counter on the /metrics page of the
 * server on port; -1 when the page or the line is missing. */
long long sgt_http_metric(int port, const char *name);

#endif /* SCHEMAGATE_SGT_HTTP_H */
