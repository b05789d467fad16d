/* cli.h - subcommand dispatch and the process exit codes (shared with charts and docs). */
#ifndef SCHEMAGATE_CLI_H
#define SCHEMAGATE_CLI_H

#include "err.h"

/* Every exit code schemagate uses; cli.c gives each its meaning, and docs/operations.md
 * holds that table as `schemagate help exit-codes --markdown` prints it. */
enum sg_exit {
	SG_EXIT_OK = 0,     /* success (also: SKIP_MIGRATIONS, soft failure with fail_fast=false) */
	SG_EXIT_FAILED = 1, /* a migration or other operation failed */
	SG_EXIT_USAGE = 2,  /* usage, configuration or migration-folder error */
	SG_EXIT_UNREACHABLE = 3, /* database unreachable after all retries */
	SG_EXIT_TIMEOUT = 4,     /* lock, lease or wait timed out */
	SG_EXIT_REFUSED = 5,     /* refused: dirty state, checksum drift, out-of-order file, or a
	                          * pending file the safety policy refuses (plan, verify) */
	SG_EXIT_STOPPED = 6,     /* stopped by SIGTERM/SIGINT before finishing */
};

/* The exit code for an error code. */
enum sg_exit cli_exit_code(enum sg_code code);

/* Runs `schemagate <command> [flags]`; returns the process exit code. */
int cli_run(int argc, char **argv);

#endif /* SCHEMAGATE_CLI_H */
