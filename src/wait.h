/* wait.h - `schemagate wait`: block until tables exist and the schema reaches a version. */
#ifndef SCHEMAGATE_WAIT_H
#define SCHEMAGATE_WAIT_H

#include "commands.h"

/* Connects (with the configured backoff) and checks cfg->tables and cfg->wait_version until
 * both are there, again on the migrator's NOTIFY and at least every cfg->wait_interval_ms
 * (only the latter behind a pooler). SG_E_TIMEOUT naming what is still missing after
 * cfg->wait_timeout_ms; a lost connection is reopened. Takes no arguments (SG_E_USAGE). */
command_fn cmd_wait;

#endif /* SCHEMAGATE_WAIT_H */
