/* commands.h - the shape of a subcommand's entry point, and the subcommands of commands.c
 * (migrate, down, force, baseline, status, create, verify). serve, wait and probe are declared
 * in serve.h, wait.h and probe.h, beside their own code. */
#ifndef SCHEMAGATE_COMMANDS_H
#define SCHEMAGATE_COMMANDS_H

#include "config.h"
#include "err.h"

/* A subcommand, called by cli.c after the configuration is loaded. Returns 0 on success or -1
 * with err filled (cli maps err->code to the exit code and logs err->msg once). rest[] are the
 * positional arguments. */
typedef int command_fn(const struct cfg *cfg, int nrest, const char **rest, struct sg_err *err);

command_fn cmd_migrate;
command_fn cmd_down;
command_fn cmd_force;
command_fn cmd_baseline;
command_fn cmd_status;
command_fn cmd_create;
command_fn cmd_verify;
command_fn cmd_plan;

#endif /* SCHEMAGATE_COMMANDS_H */
