/* serve.h - `schemagate serve`: the readiness sidecar's entry point. */
#ifndef SCHEMAGATE_SERVE_H
#define SCHEMAGATE_SERVE_H

#include "commands.h"

/* Starts the checker thread and the HTTP server (http.h), serves until SIGTERM/SIGINT, then
 * fails readiness, drains for cfg->drain_ms and stops; past cfg->grace_ms the process exits 1.
 * Takes no arguments (SG_E_USAGE). */
command_fn cmd_serve;

#endif /* SCHEMAGATE_SERVE_H */
