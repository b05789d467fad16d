/* cli.c - parses the command line, loads configuration, runs one subcommand, maps its exit code. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "dsn.h"
#include "log.h"
#include "proc.h"

struct command {
	const char *name;
	unsigned bit; /* CFG_CMD_*: the settings its --help lists */
	command_fn *run;
	const char *usage;   /* arguments after the name */
	const char *summary; /* one line for the command list */
};

static const struct command commands[] = {
    {"migrate", CFG_CMD_MIGRATE, cmd_migrate, "[--dir DIR] [--target VERSION] [--allow-drift]",
     "apply pending migrations once, safely among many replicas (init container)"},
    {"status", CFG_CMD_STATUS, cmd_status, "[--json]",
     "show current version, applied and pending migrations, drift, lock holder, recent runs"},
    {"down", CFG_CMD_DOWN, cmd_down, "[--steps N | --to VERSION]",
     "revert the newest applied migrations with their .down.sql files (default: 1)"},
    {"force", CFG_CMD_FORCE, cmd_force, "VERSION",
     "declare VERSION the clean head after a manual repair (clears dirty, drops rows above)"},
    {"baseline", CFG_CMD_BASELINE, cmd_baseline,
     "VERSION | --from golang-migrate|goose|dbmate [--from-table NAME]",
     "adopt an existing schema: record migrations up to VERSION (or another tool's history) "
     "without running them"},
    {"create", CFG_CMD_CREATE, cmd_create, "NAME",
     "create the next NNNNNN_NAME.up.sql and .down.sql pair"},
    {"verify", CFG_CMD_VERIFY, cmd_verify, "[--json]",
     "check the migrations folder offline; with a database configured, check drift too"},
    {"serve", CFG_CMD_SERVE, cmd_serve,
     "[--listen HOST:PORT] [--dir DIR | --expect-version N] [--tables a,b]",
     "readiness sidecar: /healthz /readyz /health /metrics /admin/migration-status"},
    {"wait", CFG_CMD_WAIT, cmd_wait,
     "[--tables a,mcp.b] [--version V] [--timeout 120s] [--interval 2s]",
     "block until the tables exist and the schema reaches version V (exit 4 on timeout)"},
    {"probe", CFG_CMD_PROBE, cmd_probe, "[--url http://127.0.0.1:8081/readyz]",
     "GET the sidecar's /readyz and exit 0 on 200 (HEALTHCHECK, exec probe)"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

enum sg_exit cli_exit_code(enum sg_code code)
{
	switch (code) {
	case SG_E_OK:
		return SG_EXIT_OK;
	case SG_E_USAGE:
	case SG_E_CONFIG:
	case SG_E_PARSE:
	case SG_E_IO: /* the migrations folder: missing, empty, unreadable */
		return SG_EXIT_USAGE;
	case SG_E_UNREACHABLE:
		return SG_EXIT_UNREACHABLE;
	case SG_E_TIMEOUT:
		return SG_EXIT_TIMEOUT;
	case SG_E_DIRTY:
	case SG_E_DRIFT:
		return SG_EXIT_REFUSED;
	case SG_E_STOPPED:
		return SG_EXIT_STOPPED;
	default:
		return SG_EXIT_FAILED;
	}
}

static void print_usage(FILE *f)
{
	fprintf(f,
	        "schemagate %s - safe, observable PostgreSQL schema migrations for Kubernetes\n\n"
	        "usage: schemagate COMMAND [flags]\n"
	        "       schemagate COMMAND --help   (command usage and the settings it reads)\n"
	        "       schemagate --version\n\ncommands:\n",
	        SCHEMAGATE_VERSION);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nexit codes: 0 ok, 1 failed, 2 usage/config, 3 database unreachable,\n"
	           "            4 lock/lease/wait timeout, 5 refused (dirty, drift), 6 stopped by "
	           "signal\n");
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* POD_NAME, else the host name: the identity in history rows and logs. */
static int default_identity(struct cfg *cfg, struct sg_err *err)
{
	char host[256];

	if (cfg->identity != NULL)
		return 0;
	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "unknown");
	host[sizeof host - 1] = '\0';
	if ((cfg->identity = strdup(host)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	return 0;
}

/* A search_path in DATABASE_URL's query (as Go drivers accept) is taken out
 * for libpq and used as the search path unless DATABASE_SEARCH_PATH is set. */
static int adopt_url_search_path(struct cfg *cfg, struct sg_err *err)
{
	char *url = NULL, *sp = NULL;

	if (cfg->database_direct_url != NULL) {
		/* The direct URL reaches the same database: its search_path
		 * parameter, if any, is dropped for libpq (DATABASE_URL's counts). */
		if (dsn_split_search_path(cfg->database_direct_url, &url, &sp, err) != 0)
			return -1;
		free(cfg->database_direct_url);
		cfg->database_direct_url = url;
		free(sp);
		url = sp = NULL;
	}
	if (cfg->database_url == NULL)
		return 0;
	if (dsn_split_search_path(cfg->database_url, &url, &sp, err) != 0)
		return -1;
	free(cfg->database_url);
	cfg->database_url = url;
	if (cfg->search_path == NULL)
		cfg->search_path = sp;
	else
		free(sp);
	return 0;
}

int cli_run(int argc, char **argv)
{
	const struct command *cmd;
	struct cfg cfg = {0};
	struct sg_err err = {.code = SG_E_OK};
	const char **rest = NULL;
	int nrest = 0, rc;
	bool help = false;

	if (argc < 2) {
		print_usage(stderr);
		return SG_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		print_usage(stdout);
		return SG_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("schemagate %s\n", SCHEMAGATE_VERSION);
		return SG_EXIT_OK;
	}
	if ((cmd = find_command(argv[1])) == NULL) {
		fprintf(stderr, "schemagate: unknown command \"%s\" (see schemagate --help)\n",
		        argv[1]);
		return SG_EXIT_USAGE;
	}
	if ((rest = calloc((size_t)argc, sizeof *rest)) == NULL) {
		fprintf(stderr, "schemagate: out of memory\n");
		return SG_EXIT_FAILED;
	}
	if (cfg_load(&cfg, argc - 2, argv + 2, rest, &nrest, &help, &err) != 0) {
		/* Logging is not configured yet: one plain line naming the culprit. */
		fprintf(stderr, "schemagate %s: %s\n", cmd->name, err.msg);
		free(rest);
		return cli_exit_code(err.code);
	}
	/* cfg holds copies now: hide the URLs (and their passwords) from
	 * /proc/PID/cmdline. */
	cfg_mask_secret_flags(argc - 2, argv + 2);
	if (help) {
		printf(
		    "usage: schemagate %s %s\n  %s\n\nsettings %s reads (flag, environment, config "
		    "key, default):\n",
		    cmd->name, cmd->usage, cmd->summary, cmd->name);
		cfg_print_help(stdout, cmd->bit);
		rc = SG_EXIT_OK;
		goto cleanup;
	}
	if (adopt_url_search_path(&cfg, &err) != 0) {
		fprintf(stderr, "schemagate %s: %s\n", cmd->name, err.msg);
		rc = cli_exit_code(err.code);
		goto cleanup;
	}
	log_setup(cfg.log_format, cfg.log_level);
	proc_install_signals();
	if (default_identity(&cfg, &err) != 0 || cmd->run(&cfg, nrest, rest, &err) != 0) {
		log_error("failed", "command", cmd->name, "error", err.msg, NULL);
		rc = cli_exit_code(err.code);
		goto cleanup;
	}
	rc = SG_EXIT_OK;
cleanup:
	cfg_free(&cfg);
	free(rest);
	return rc;
}
