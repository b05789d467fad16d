/* config.h - schemagate settings: defaults < YAML file < environment < flags. */
#ifndef SCHEMAGATE_CONFIG_H
#define SCHEMAGATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "err.h"
#include "log.h"
#include "texttable.h"

/* Every setting of every subcommand. Strings are owned by the struct (freed by
 * cfg_free); NULL means "not set". Durations are in milliseconds. */
struct cfg {
	/* database */
	char *database_url; /* database.url, DATABASE_URL; libpq URL or keyword string; NULL: PG*
	                       env */
	char *database_direct_url; /* database.direct_url, DATABASE_DIRECT_URL: NULL = none; a URL
	                            * that bypasses a pooler, for the session lock and
	                            * no-transaction files */
	char *search_path; /* database.search_path, DATABASE_SEARCH_PATH, e.g. "mcp,public" */
	char *database_password_file; /* database.password_file, DATABASE_PASSWORD_FILE: NULL =
	                               * none; read at each connect, one trailing newline trimmed;
	                               * wins over a password in database_url and over PGPASSWORD */
	long connect_attempts;        /* database.connect_attempts: 10 */
	long connect_base_ms;         /* database.connect_base_delay: 1s, doubled per attempt */
	long connect_max_ms;          /* database.connect_max_delay: 30s cap */
	long connect_timeout_ms;      /* database.connect_timeout: 10s per attempt (libpq
	                                 connect_timeout) */
	char *dev_url; /* database.dev_url, DATABASE_DEV_URL, --dev-url: NULL = none; an empty
	                * scratch database where plan (and verify) rehearse pending files */

	/* migrations */
	char *dir;                     /* migrations.dir, MIGRATIONS_DIR, --dir: "./migrations" */
	char *table;                   /* migrations.table: "schemagate_migrations" */
	bool skip;                     /* migrations.skip, SKIP_MIGRATIONS: false */
	bool fail_fast;                /* migrations.fail_fast, MIGRATIONS_FAIL_FAST: true */
	bool allow_drift;              /* migrations.allow_drift, --allow-drift: false */
	bool allow_non_empty;          /* migrations.allow_non_empty, --allow-non-empty: false */
	long target;                   /* migrations.target, --target: -1 = latest */
	char *notify_channel;          /* migrations.notify_channel: "schemagate_migrations" */
	long mig_lock_timeout_ms;      /* migrations.lock_timeout: 5s (0: none) */
	long mig_lock_retries;         /* migrations.lock_retries: 10 */
	long mig_statement_timeout_ms; /* migrations.statement_timeout: 0 = none */
	long safety_max_bytes;         /* migrations.safety_max_bytes: 64MiB; a rewrite or full scan
	                                * under a write-blocking lock of more is refused (plan, verify) */

	/* advisory lock */
	long lock_timeout_ms;  /* lock.timeout: 10m */
	long lock_poll_min_ms; /* lock.poll_min: 50ms, backoff with jitter */
	long lock_poll_max_ms; /* lock.poll_max: 1s */

	/* identity and logging */
	char *identity;             /* identity, POD_NAME: hostname */
	enum log_format log_format; /* log.format, --log-format: json */
	enum log_level log_level;   /* log.level, --log-level: info */

	/* leader election (Redis lease) */
	char *redis_url; /* leader.redis_url, REDIS_URL: NULL = election off */
	char
	    *redis_password_file; /* leader.redis_password_file, REDIS_PASSWORD_FILE: NULL = none */
	bool leader_required;     /* leader.required: false */
	long lease_ttl_ms;        /* leader.lease_duration: 15s */
	long renew_deadline_ms;   /* leader.renew_deadline: 10s */
	long retry_period_ms;     /* leader.retry_period: 2s */
	long redis_timeout_ms;    /* leader.redis_timeout: 500ms */
	long follower_poll_ms;    /* leader.follower_poll: 1s */
	long follower_timeout_ms; /* leader.follower_timeout: 10m */

	/* wait / readiness requirements */
	char *tables;          /* wait.tables, --tables: comma list, NULL = none */
	long wait_version;     /* wait.version, --version: -1 = any */
	long wait_timeout_ms;  /* wait.timeout, --timeout: 120s */
	long wait_interval_ms; /* wait.interval, --interval: 2s */

	/* serve (sidecar) */
	char *listen;            /* serve.listen, --listen: "0.0.0.0:8081" */
	long max_connections;    /* serve.max_connections: 16384 */
	long request_timeout_ms; /* serve.request_timeout: 2s */
	long check_interval_ms;  /* serve.check_interval: 2s */
	long expect_version;     /* serve.expect_version, --expect-version: -1 = highest in dir */
	char *admin_token_file;  /* serve.admin_token_file, --admin-token-file */
	bool admin_enabled;      /* serve.admin_enabled: false (only matters without a token) */
	long drain_ms;           /* serve.drain_delay: 0 */
	long grace_ms;           /* serve.grace_period: 10s */
	char *probe_url;         /* probe.url, --url: "http://127.0.0.1:8081/readyz" */
	long probe_timeout_ms;   /* probe.timeout: 2s */

	/* status, down, plan */
	bool json;           /* --json (status, verify, plan) */
	bool markdown;       /* --markdown (plan): the report as a pull-request comment */
	long plan_since;     /* --since (plan, verify): without DATABASE_URL, the files up to this
	                      * version are applied in production; -1 = unset */
	long down_steps;     /* --steps (down): 1 when neither --steps nor --to */
	long down_to;        /* --to (down): -1 = unset; 0 = everything */
	char *baseline_from; /* --from (baseline): golang-migrate, goose or dbmate; NULL = none */
	char *baseline_from_table; /* --from-table (baseline): the other tool's table; NULL = its
	                            * default (schema_migrations, goose_db_version) */
};

/* Fills *cfg with defaults (owning copies of default strings). Each default is
 * kept as text and parsed like user input, so this fails (SG_E_CONFIG) only if
 * the built-in table is wrong, or with SG_E_NOMEM; *cfg is left zeroed then. */
SG_MUSTCHECK int cfg_defaults(struct cfg *cfg, struct sg_err *err);

/* Builds the configuration for one subcommand invocation: defaults, then the
 * YAML file named by --config or SCHEMAGATE_CONFIG, then the environment, then
 * the flags in argv[0..argc) (argv holds no program or subcommand name). Flags
 * not consumed (positional arguments) are returned in order in rest[] (borrowed
 * pointers into argv), count in *nrest; rest must have room for argc entries
 * (rest == NULL: any positional argument is a usage error).
 *
 * Flags: "--flag value" or "--flag=value"; booleans also bare "--flag" (true)
 * and "--no-flag" (false), never taking the next word. "--" ends the flags;
 * "-" and words like "-1" are positional. Environment variables set to "" count
 * as unset; in YAML an empty value or null leaves the setting alone. An empty
 * flag value ("--redis-url=") clears a setting that defaults to unset.
 *
 * When -h/--help appears before "--", *help_requested is set and cfg_load
 * returns 0 at once with defaults only, reading no file, environment or other
 * flag, so help always works.
 *
 * On failure *cfg is zeroed, *nrest is 0 and err says where and what:
 *   SG_E_USAGE   unknown flag, flag missing its value, unexpected argument, or a
 *                bad flag value (--fail-fast: "maybe" is not a boolean ...);
 *   SG_E_CONFIG  unreadable/malformed YAML ("FILE:LINE:COL: ..."), bad value in
 *                YAML or the environment ("MIGRATIONS_FAIL_FAST: ..."), or a
 *                cross-field rule (base <= max delay, poll_min <= poll_max,
 *                renew_deadline < lease_duration, retry_period < renew_deadline);
 *   SG_E_NOMEM   allocation failed. */
SG_MUSTCHECK int cfg_load(struct cfg *cfg, int argc, char **argv, const char **rest, int *nrest,
                          bool *help_requested, struct sg_err *err);

/* Frees every owned string; NULL-safe, leaves *cfg zeroed. */
void cfg_free(struct cfg *cfg);

/* Overwrites, in argv itself, the value of every flag whose option row is
 * marked secret (the URLs: --database-url, --database-direct-url,
 * --redis-url; "--flag VALUE" and "--flag=VALUE"): such values may hold a
 * password, and argv stays readable to the node in
 * /proc/PID/cmdline. The value becomes "xxxxx" followed by NULs. Call after
 * cfg_load, which copied what it needed. Stops at "--" as cfg_load does. */
void cfg_mask_secret_flags(int argc, char **argv);

/* The subcommands, as sets: which ones read a setting. */
enum cfg_cmd {
	CFG_CMD_MIGRATE = 1u << 0,
	CFG_CMD_STATUS = 1u << 1,
	CFG_CMD_DOWN = 1u << 2,
	CFG_CMD_FORCE = 1u << 3,
	CFG_CMD_CREATE = 1u << 4,
	CFG_CMD_VERIFY = 1u << 5,
	CFG_CMD_SERVE = 1u << 6,
	CFG_CMD_WAIT = 1u << 7,
	CFG_CMD_PROBE = 1u << 8,
	CFG_CMD_BASELINE = 1u << 9,
	CFG_CMD_PLAN = 1u << 10,
};
/* Number of CFG_CMD_* bits. */
#define CFG_NCMDS 11
#define CFG_CMD_ALL ((1u << CFG_NCMDS) - 1)

/* Prints the table of the settings that any command in cmds (CFG_CMD_*) reads,
 * one aligned row each: flag, env var, YAML key, default, description ("-"
 * where a row has none). -h/--help and --config come first, always. Returns
 * 0, or -1 (SG_E_NOMEM, SG_E_IO). */
SG_MUSTCHECK int cfg_print_help(FILE *out, unsigned cmds, struct sg_err *err);

/* Prints every setting, as cfg_print_help does for all commands, with a
 * COMMANDS column before the description naming the commands that read it;
 * names[i] is the name of the command whose bit is 1u << i (the command table
 * lives in cli.c). TEXTTABLE_MARKDOWN gives the table of docs/configuration.md.
 * Returns 0, or -1 (SG_E_NOMEM, SG_E_IO). */
SG_MUSTCHECK int cfg_print_reference(FILE *out, enum texttable_style style,
                                     const char *const names[CFG_NCMDS], struct sg_err *err);

/* Number of rows in the option table (for tests). */
size_t cfg_option_count(void);

/* Environment variable of row i (i < cfg_option_count()), or NULL when the row
 * has none; tests use it to clear the environment. */
const char *cfg_option_env(size_t i);

/* The audit table of runs kept beside the history table `table` (migrations.table):
 * "<table>_runs", the one place that names it. Written to out[0..n) as snprintf writes (cut
 * when it does not fit); returns the whole name's length. migrations.table is refused when
 * this name would pass Postgres's 63-byte limit. */
size_t cfg_runs_table(const char *table, char *out, size_t n);

/* The variable naming the YAML file when --config is not given. */
#define CFG_CONFIG_ENV "SCHEMAGATE_CONFIG"

#endif /* SCHEMAGATE_CONFIG_H */
