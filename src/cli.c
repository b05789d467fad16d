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
#include "metrics.h"
#include "probe.h"
#include "proc.h"
#include "serve.h"
#include "texttable.h"
#include "tool.h"
#include "wait.h"

/* The line of `schemagate help` in the command list. */
#define HELP_SUMMARY "print a reference table: the docs/ pages hold its --markdown output"

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
     "VERSION | --from " TOOL_NAMES_ALT " [--from-table [SCHEMA.]NAME]",
     "adopt an existing schema: record migrations up to VERSION (or another tool's history) "
     "without running them"},
    {"create", CFG_CMD_CREATE, cmd_create, "NAME",
     "create the next NNNNNN_NAME.up.sql and .down.sql pair"},
    {"verify", CFG_CMD_VERIFY, cmd_verify, "[--json] [--dev-url URL]",
     "check the migrations folder offline; with a database configured, check drift too"},
    {"plan", CFG_CMD_PLAN, cmd_plan, "--dev-url URL [--json | --markdown] [--since VERSION]",
     "rehearse pending files on an empty dev database: locks, rewrites, scans, breaking "
     "changes"},
    {"serve", CFG_CMD_SERVE, cmd_serve,
     "[--listen HOST:PORT] [--dir DIR | --expect-version N] [--tables a,mcp.b]",
     "readiness sidecar: /healthz /readyz /health /metrics /admin/migration-status"},
    {"wait", CFG_CMD_WAIT, cmd_wait,
     "[--tables a,mcp.b] [--version V] [--timeout 120s] [--interval 2s]",
     "block until the tables exist and the schema reaches version V (exit 4 on timeout)"},
    {"probe", CFG_CMD_PROBE, cmd_probe, "[--url http://127.0.0.1:8081/readyz]",
     "GET the sidecar's /readyz and exit 0 on 200 (HEALTHCHECK, exec probe)"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* Every exit code with its meaning: the usage text and `schemagate help
 * exit-codes` (docs/operations.md) print this table. */
static const struct exit_row {
	enum sg_exit code;
	const char *name;    /* one word, for the usage text */
	const char *meaning; /* what it tells the caller */
} exit_rows[] = {
    {SG_EXIT_OK, "ok",
     "success; also `SKIP_MIGRATIONS=true`, and a failed migration with "
     "`MIGRATIONS_FAIL_FAST=false` (recorded; readiness says not ready)"},
    {SG_EXIT_FAILED, "failed", "a migration (or another operation) failed"},
    {SG_EXIT_USAGE, "usage",
     "usage, configuration or migrations-folder error (the message names the flag, variable, "
     "`file:line:col` or file)"},
    {SG_EXIT_UNREACHABLE, "unreachable", "database unreachable after all connection attempts"},
    {SG_EXIT_TIMEOUT, "timeout",
     "timed out waiting for the advisory lock (`lock.timeout`), for the leader "
     "(`leader.follower_timeout`) or, for `wait`, for tables/version (`wait.timeout`)"},
    {SG_EXIT_REFUSED, "refused",
     "refused: dirty migration, checksum drift, out-of-order file, a schema another tool "
     "built with no history of ours (the same verdict in "
     "`migrate`, `verify`, `status` and `/readyz`); `baseline` above the head or over a dirty "
     "history; a pending file the safety policy refuses (`plan`, `verify --dev-url`)"},
    {SG_EXIT_STOPPED, "stopped",
     "stopped by SIGTERM/SIGINT before finishing (nothing half-applied)"},
};

#define NEXITS (sizeof exit_rows / sizeof exit_rows[0])

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
	case SG_E_UNSAFE:
		return SG_EXIT_REFUSED;
	case SG_E_STOPPED:
		return SG_EXIT_STOPPED;
	default:
		return SG_EXIT_FAILED;
	}
}

static const char *help_topics_list(char *buf, size_t n);

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
	fprintf(f, "  %-9s %s\n", "help", HELP_SUMMARY);
	fprintf(f, "\nexit codes:");
	for (size_t i = 0; i < NEXITS; i++)
		fprintf(f, "%s %d %s", i > 0 ? "," : "", (int)exit_rows[i].code, exit_rows[i].name);
	fprintf(f, "\n            (schemagate help exit-codes)\n");
}

/* ---- `schemagate help TOPIC [--markdown]`: the reference tables of docs/ ---- */

static int print_commands(FILE *out, enum texttable_style style, struct sg_err *err)
{
	static const char *const head[2] = {"COMMAND", "DESCRIPTION"};
	struct texttable *t = NULL;
	char line[160], topics[64];
	int rc;

	if (texttable_new(2, head, &t, err) != 0)
		return -1;
	texttable_code_column(t, 0);
	/* Each line fits: the usages are short constants, the topics a few words. */
	for (size_t i = 0; i < NCOMMANDS; i++) {
		snprintf(line, sizeof line, "schemagate %s %s", commands[i].name,
		         commands[i].usage);
		texttable_add(t, (const char *[]){line, commands[i].summary});
	}
	snprintf(line, sizeof line, "schemagate help [%s] [--markdown]",
	         help_topics_list(topics, sizeof topics));
	texttable_add(t, (const char *[]){line, HELP_SUMMARY});
	rc = texttable_print(t, out, style, err);
	texttable_free(t);
	return rc;
}

static int print_config(FILE *out, enum texttable_style style, struct sg_err *err)
{
	const char *names[CFG_NCMDS] = {NULL};

	for (size_t i = 0; i < NCOMMANDS; i++)
		names[__builtin_ctz(commands[i].bit)] = commands[i].name;
	for (size_t i = 0; i < CFG_NCMDS; i++)
		if (names[i] == NULL)
			return sg_err_set(err, SG_E_USAGE, "no command has bit %zu", i);
	return cfg_print_reference(out, style, names, err);
}

static int print_exit_codes(FILE *out, enum texttable_style style, struct sg_err *err)
{
	static const char *const head[3] = {"CODE", "NAME", "MEANING"};
	struct texttable *t = NULL;
	char code[8];
	int rc;

	if (texttable_new(3, head, &t, err) != 0)
		return -1;
	for (size_t i = 0; i < NEXITS; i++) {
		snprintf(code, sizeof code, "%d", (int)exit_rows[i].code); /* 0..255 fits */
		texttable_add(t, (const char *[]){code, exit_rows[i].name, exit_rows[i].meaning});
	}
	rc = texttable_print(t, out, style, err);
	texttable_free(t);
	return rc;
}

static const struct help_topic {
	const char *name;
	int (*print)(FILE *out, enum texttable_style style, struct sg_err *err);
} help_topics[] = {
    {"commands", print_commands},
    {"config", print_config},
    {"exit-codes", print_exit_codes},
    {"metrics", metrics_print_reference},
};

/* "commands|config|...": the topics, from the table, in buf. Cut short if
 * buf is (only a message gets shorter); 64 bytes hold them. */
static const char *help_topics_list(char *buf, size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof help_topics / sizeof help_topics[0]; i++) {
		int w =
		    snprintf(buf + used, n - used, "%s%s", i > 0 ? "|" : "", help_topics[i].name);

		if (w < 0 || (size_t)w >= n - used)
			break;
		used += (size_t)w;
	}
	return buf;
}

static const struct help_topic *find_topic(const char *name)
{
	for (size_t i = 0; i < sizeof help_topics / sizeof help_topics[0]; i++)
		if (strcmp(help_topics[i].name, name) == 0)
			return &help_topics[i];
	return NULL;
}

/* `schemagate help [TOPIC] [--markdown]`, argv after "help". */
static int run_help(int argc, char **argv)
{
	const struct help_topic *topic = NULL;
	enum texttable_style style = TEXTTABLE_TEXT;
	struct sg_err err = {.code = SG_E_OK};
	char topics[64];

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--markdown") == 0) {
			style = TEXTTABLE_MARKDOWN;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			print_usage(stdout);
			return SG_EXIT_OK;
		} else if (topic == NULL && (topic = find_topic(argv[i])) != NULL) {
			/* the topic: one only */
		} else {
			fprintf(stderr,
			        "schemagate help: unexpected \"%s\" (usage: schemagate help "
			        "[%s] [--markdown])\n",
			        argv[i], help_topics_list(topics, sizeof topics));
			return SG_EXIT_USAGE;
		}
	}
	if (topic == NULL) {
		if (style == TEXTTABLE_MARKDOWN) {
			fprintf(stderr, "schemagate help: --markdown needs a topic (%s)\n",
			        help_topics_list(topics, sizeof topics));
			return SG_EXIT_USAGE;
		}
		print_usage(stdout);
		return SG_EXIT_OK;
	}
	if (topic->print(stdout, style, &err) != 0) {
		fprintf(stderr, "schemagate help %s: %s\n", topic->name, err.msg);
		return cli_exit_code(err.code);
	}
	return SG_EXIT_OK;
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

/* What adopt_url_params took out of the two URLs, for the log once it is set up. */
struct url_dropped {
	char *names[2]; /* DATABASE_URL's, DATABASE_DIRECT_URL's (dsn_split's dropped) */
	bool migrations_table;
};

/* Splits one URL for libpq (dsn_split): *url becomes what libpq gets, *sp its search_path. */
static int split_url(char **url, char **sp, char **dropped, bool *migrations_table,
                     struct sg_err *err)
{
	struct dsn_split s;

	if (*url == NULL)
		return 0;
	if (dsn_split(*url, &s, err) != 0)
		return -1;
	free(*url);
	*url = s.url;
	*sp = s.search_path;
	*dropped = s.dropped;
	*migrations_table |= s.migrations_table;
	return 0;
}

/* libpq refuses URL parameters it does not know. A search_path in DATABASE_URL's query (as Go
 * drivers accept) is taken out and used as the search path unless DATABASE_SEARCH_PATH is set;
 * golang-migrate's x-* and pgx's pool_* parameters are taken out and named in the log. */
static int adopt_url_params(struct cfg *cfg, struct url_dropped *d, struct sg_err *err)
{
	char *sp = NULL;

	/* The direct URL reaches the same database: its search_path parameter, if any, is
	 * dropped for libpq (DATABASE_URL's counts). */
	if (split_url(&cfg->database_direct_url, &sp, &d->names[1], &d->migrations_table, err) != 0)
		return -1;
	free(sp);
	sp = NULL;
	if (split_url(&cfg->database_url, &sp, &d->names[0], &d->migrations_table, err) != 0)
		return -1;
	if (cfg->search_path == NULL)
		cfg->search_path = sp;
	else
		free(sp);
	return 0;
}

/* Names (never values) of what adopt_url_params dropped, and what x-migrations-table means. */
static void log_url_dropped(const struct url_dropped *d)
{
	static const char *const which[2] = {"DATABASE_URL", "DATABASE_DIRECT_URL"};

	for (size_t i = 0; i < 2; i++)
		if (d->names[i] != NULL)
			log_info("URL parameters of other tools ignored (libpq refuses them)",
			         "url", which[i], "parameters", d->names[i], NULL);
	if (d->migrations_table)
		log_info(
		    "x-migrations-table names golang-migrate's history table; schemagate "
		    "keeps its own (SCHEMAGATE_TABLE)",
		    "hint",
		    "to record the versions golang-migrate applied: schemagate baseline --from "
		    "golang-migrate --from-table <the x-migrations-table value>",
		    NULL);
}

int cli_run(int argc, char **argv)
{
	const struct command *cmd;
	struct cfg cfg = {0};
	struct sg_err err = {.code = SG_E_OK};
	struct url_dropped dropped = {{NULL, NULL}, false};
	const char **rest = NULL;
	int nrest = 0, rc;
	bool help = false;

	if (argc < 2) {
		print_usage(stderr);
		return SG_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_usage(stdout);
		return SG_EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0)
		return run_help(argc - 2, argv + 2);
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
		if (cfg_print_help(stdout, cmd->bit, &err) != 0) {
			fprintf(stderr, "schemagate %s: %s\n", cmd->name, err.msg);
			rc = cli_exit_code(err.code);
			goto cleanup;
		}
		rc = SG_EXIT_OK;
		goto cleanup;
	}
	if (adopt_url_params(&cfg, &dropped, &err) != 0) {
		fprintf(stderr, "schemagate %s: %s\n", cmd->name, err.msg);
		rc = cli_exit_code(err.code);
		goto cleanup;
	}
	log_setup(cfg.log_format, cfg.log_level);
	log_url_dropped(&dropped);
	proc_install_signals();
	if (default_identity(&cfg, &err) != 0 || cmd->run(&cfg, nrest, rest, &err) != 0) {
		log_error("failed", "command", cmd->name, "error", err.msg, NULL);
		rc = cli_exit_code(err.code);
		goto cleanup;
	}
	rc = SG_EXIT_OK;
cleanup:
	cfg_free(&cfg);
	free(dropped.names[0]);
	free(dropped.names[1]);
	free(rest);
	return rc;
}
