/* config.c - the option table; loading it from defaults, YAML, environment and flags. */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "dsn.h"
#include "hostport.h"
#include "num.h"
#include "texttable.h"
#include "tool.h"
#include "yamlcfg.h"

#define CFG_SEC 1000L
#define CFG_MINUTE (60 * CFG_SEC)
#define CFG_HOUR (60 * CFG_MINUTE)
#define CFG_DAY (24 * CFG_HOUR)

/* Values quoted in messages are cut to this many bytes. */
#define CFG_SHOW 64

/* The runs table is named after the history table with this suffix (cfg_runs_table), and
 * Postgres cuts names at 63 bytes: a longer history table's name would make its runs table
 * the same table. */
#define RUNS_SUFFIX "_runs"
#define TABLE_MAX 58
_Static_assert(TABLE_MAX + sizeof RUNS_SUFFIX - 1 == 63, "<table>_runs must fit 63 bytes");
#define TEXT_OF_(x) #x
#define TEXT_OF(x) TEXT_OF_(x)

/* How a row's text becomes its field. */
enum cfg_type {
	CFG_T_STRING,     /* char *: owned copy; NULL = unset */
	CFG_T_BOOL,       /* bool: true/false/1/0/yes/no/on/off */
	CFG_T_LONG,       /* long in [min, max] */
	CFG_T_DURATION,   /* long milliseconds in [min, max], written "250ms", "1m30s" */
	CFG_T_LOG_FORMAT, /* enum log_format: json|text */
	CFG_T_LOG_LEVEL,  /* enum log_level: debug|info|warn|error */
	CFG_T_VERSION,    /* long: a migration version >= 0, or -1 written as the row's word */
	CFG_T_BYTES,      /* long bytes in [min, max], written "65536", "64MiB", "1GB" */
};

/* Row flag: YAML may give a list of scalars, stored joined with commas. */
#define CFG_F_LIST 1u
/* Row flag: the value may hold a password (a URL): masked in argv once parsed. */
#define CFG_F_SECRET 2u

/* One setting. Every place a setting can come from is in its row, so help,
 * defaults, parsing and cfg_free cannot disagree. */
struct cfg_option {
	const char *key;  /* dotted YAML path ("database.url"), NULL: flag only */
	const char *env;  /* environment variable, or NULL */
	const char *flag; /* long flag with its dashes ("--database-url"), or NULL */
	enum cfg_type type;
	size_t offset;    /* where the value lives in struct cfg */
	const char *def;  /* default as text, parsed like user input; NULL: unset
	                   * (strings NULL, versions -1) */
	long min, max;    /* range of longs, and of durations in ms */
	const char *word; /* versions: the word meaning -1 ("latest", "any"), or NULL */
	unsigned flags;   /* CFG_F_* */
	/* Extra check of a string value: fills err and returns -1 to refuse it. */
	int (*check)(const char *val, struct sg_err *err);
	const char *help; /* one line for --help */
	unsigned cmds;    /* CFG_CMD_* of the commands that read it: their --help lists it */
};

/* offsetof(struct cfg, f) that refuses to compile unless f has type T, so a
 * row cannot point the bool parser at a long. */
/* clang-format off */
#define CFG_FIELD(f, T) _Generic(((struct cfg *)0)->f, T: offsetof(struct cfg, f))

#define OPT_STR(key, env, flag, f, def, check, help, cmds) \
	{key, env, flag, CFG_T_STRING, CFG_FIELD(f, char *), def, 0, 0, NULL, 0, check, help, cmds}
/* A string that may hold a password: masked in argv once parsed (cfg_mask_secret_flags). */
#define OPT_SECRET(key, env, flag, f, def, check, help, cmds) \
	{key, env, flag, CFG_T_STRING, CFG_FIELD(f, char *), def, 0, 0, NULL, CFG_F_SECRET, check, \
	 help, cmds}
#define OPT_LIST(key, env, flag, f, check, help, cmds) \
	{key, env, flag, CFG_T_STRING, CFG_FIELD(f, char *), NULL, 0, 0, NULL, CFG_F_LIST, check, \
	 help, cmds}
#define OPT_BOOL(key, env, flag, f, def, help, cmds) \
	{key, env, flag, CFG_T_BOOL, CFG_FIELD(f, bool), def, 0, 0, NULL, 0, NULL, help, cmds}
#define OPT_LONG(key, env, flag, f, def, lo, hi, help, cmds) \
	{key, env, flag, CFG_T_LONG, CFG_FIELD(f, long), def, lo, hi, NULL, 0, NULL, help, cmds}
#define OPT_DUR(key, env, flag, f, def, lo, hi, help, cmds) \
	{key, env, flag, CFG_T_DURATION, CFG_FIELD(f, long), def, lo, hi, NULL, 0, NULL, help, cmds}
#define OPT_BYTES(key, env, flag, f, def, lo, hi, help, cmds) \
	{key, env, flag, CFG_T_BYTES, CFG_FIELD(f, long), def, lo, hi, NULL, 0, NULL, help, cmds}
/* The default of a version is its word: "latest" or "any" (-1); none when NULL. */
#define OPT_VER(key, env, flag, f, word, help, cmds) \
	{key, env, flag, CFG_T_VERSION, CFG_FIELD(f, long), word, 0, LONG_MAX, word, 0, NULL, help, \
	 cmds}

/* Every command that connects to the database. */
#define FOR_DB \
	(CFG_CMD_MIGRATE | CFG_CMD_STATUS | CFG_CMD_DOWN | CFG_CMD_FORCE | CFG_CMD_VERIFY | \
	 CFG_CMD_SERVE | CFG_CMD_WAIT | CFG_CMD_BASELINE | CFG_CMD_PLAN)
/* clang-format on */

static int check_search_path(const char *val, struct sg_err *err);
static int check_dsn(const char *val, struct sg_err *err);
static int check_tables(const char *val, struct sg_err *err);
static int check_ident(const char *val, struct sg_err *err);
static int check_table(const char *val, struct sg_err *err);
static int check_listen(const char *val, struct sg_err *err);
static int check_from_tool(const char *val, struct sg_err *err);
static int check_from_table(const char *val, struct sg_err *err);

/* clang-format off */
static const struct cfg_option cfg_options[] = {
	OPT_SECRET("database.url", "DATABASE_URL", "--database-url",
		database_url, NULL, check_dsn,
		"libpq URL or keyword string (unset: PG* variables)",
		FOR_DB),
	OPT_SECRET("database.direct_url", "DATABASE_DIRECT_URL", "--database-direct-url",
		database_direct_url, NULL, check_dsn,
		"URL bypassing a pooler, for what needs a session (lock, no-transaction files)",
		CFG_CMD_MIGRATE | CFG_CMD_DOWN | CFG_CMD_FORCE | CFG_CMD_BASELINE),
	OPT_SECRET("database.dev_url", "DATABASE_DEV_URL", "--dev-url",
		dev_url, NULL, check_dsn,
		"an empty scratch database where pending files are rehearsed and measured",
		CFG_CMD_PLAN | CFG_CMD_VERIFY),
	OPT_STR("database.password_file", "DATABASE_PASSWORD_FILE", "--database-password-file",
		database_password_file, NULL, NULL,
		"file holding the database password (a mounted Secret); wins over the URL's",
		FOR_DB),
	OPT_STR("database.search_path", "DATABASE_SEARCH_PATH", "--search-path",
		search_path, NULL, check_search_path,
		"comma-separated schemas to set as search_path",
		FOR_DB),
	OPT_LONG("database.connect_attempts", "SCHEMAGATE_CONNECT_ATTEMPTS", "--connect-attempts",
		connect_attempts, "10", 1, 1000,
		"connection attempts before giving up (1..1000)",
		FOR_DB),
	OPT_DUR("database.connect_base_delay", "SCHEMAGATE_CONNECT_BASE_DELAY",
		"--connect-base-delay",
		connect_base_ms, "1s", 1, CFG_HOUR,
		"first retry delay, doubled per attempt",
		FOR_DB),
	OPT_DUR("database.connect_max_delay", "SCHEMAGATE_CONNECT_MAX_DELAY", "--connect-max-delay",
		connect_max_ms, "30s", 1, CFG_HOUR,
		"longest retry delay",
		FOR_DB),
	OPT_DUR("database.connect_timeout", "SCHEMAGATE_CONNECT_TIMEOUT", "--connect-timeout",
		connect_timeout_ms, "10s", CFG_SEC, CFG_HOUR,
		"timeout per connection attempt (>= 1s)",
		FOR_DB),
	OPT_STR("migrations.dir", "MIGRATIONS_DIR", "--dir",
		dir, "./migrations", NULL,
		"directory of migration files",
		CFG_CMD_MIGRATE | CFG_CMD_STATUS | CFG_CMD_DOWN | CFG_CMD_FORCE | CFG_CMD_CREATE | CFG_CMD_VERIFY | CFG_CMD_SERVE | CFG_CMD_BASELINE | CFG_CMD_PLAN),
	OPT_STR("migrations.table", "SCHEMAGATE_TABLE", "--table",
		table, "schemagate_migrations", check_table,
		"history table (a-z, 0-9, _; at most " TEXT_OF(TABLE_MAX) " characters, so that "
		"<table>" RUNS_SUFFIX " fits 63 bytes)",
		FOR_DB),
	OPT_BOOL("migrations.skip", "SKIP_MIGRATIONS", "--skip",
		skip, "false",
		"do not migrate; exit 0 at once",
		CFG_CMD_MIGRATE),
	OPT_BOOL("migrations.fail_fast", "MIGRATIONS_FAIL_FAST", "--fail-fast",
		fail_fast, "true",
		"exit non-zero when a migration fails",
		CFG_CMD_MIGRATE),
	OPT_BOOL("migrations.allow_drift", "SCHEMAGATE_ALLOW_DRIFT", "--allow-drift",
		allow_drift, "false",
		"go on despite changed or missing applied files",
		CFG_CMD_MIGRATE | CFG_CMD_STATUS | CFG_CMD_DOWN | CFG_CMD_VERIFY | CFG_CMD_SERVE | CFG_CMD_PLAN),
	OPT_BOOL("migrations.allow_non_empty", "MIGRATIONS_ALLOW_NON_EMPTY", "--allow-non-empty",
		allow_non_empty, "false",
		"run every file on a schema that has no history of ours but holds tables (another tool's database)",
		CFG_CMD_MIGRATE | CFG_CMD_STATUS | CFG_CMD_VERIFY | CFG_CMD_SERVE | CFG_CMD_PLAN),
	OPT_VER("migrations.target", "SCHEMAGATE_TARGET", "--target",
		target, "latest",
		"version to migrate up to",
		CFG_CMD_MIGRATE | CFG_CMD_STATUS | CFG_CMD_VERIFY | CFG_CMD_PLAN),
	OPT_STR("migrations.notify_channel", "SCHEMAGATE_NOTIFY_CHANNEL", "--notify-channel",
		notify_channel, "schemagate_migrations", check_ident,
		"NOTIFY channel after migrating (a-z, 0-9, _)",
		CFG_CMD_MIGRATE | CFG_CMD_DOWN | CFG_CMD_FORCE | CFG_CMD_BASELINE | CFG_CMD_SERVE | CFG_CMD_WAIT),
	OPT_DUR("migrations.lock_timeout", "MIGRATIONS_LOCK_TIMEOUT", "--migrations-lock-timeout",
		mig_lock_timeout_ms, "5s", 0, CFG_HOUR,
		"lock_timeout of migration statements (0: wait forever)",
		CFG_CMD_MIGRATE | CFG_CMD_DOWN),
	OPT_LONG("migrations.lock_retries", "MIGRATIONS_LOCK_RETRIES", "--migrations-lock-retries",
		mig_lock_retries, "10", 0, 1000,
		"retries of a migration whose lock_timeout expired",
		CFG_CMD_MIGRATE | CFG_CMD_DOWN),
	OPT_DUR("migrations.statement_timeout", "MIGRATIONS_STATEMENT_TIMEOUT",
		"--migrations-statement-timeout",
		mig_statement_timeout_ms, "0s", 0, CFG_DAY,
		"statement_timeout of migration statements (0: none)",
		CFG_CMD_MIGRATE | CFG_CMD_DOWN),
	OPT_BYTES("migrations.safety_max_bytes", "MIGRATIONS_SAFETY_MAX_BYTES",
		"--safety-max-bytes",
		safety_max_bytes, "64MiB", 0, LONG_MAX,
		"largest production table a pending file may rewrite or scan under a lock that blocks writes",
		CFG_CMD_PLAN | CFG_CMD_VERIFY),
	OPT_DUR("lock.timeout", "SCHEMAGATE_LOCK_TIMEOUT", "--lock-timeout",
		lock_timeout_ms, "10m", 0, CFG_DAY,
		"how long to wait for the advisory lock",
		CFG_CMD_MIGRATE | CFG_CMD_DOWN | CFG_CMD_FORCE | CFG_CMD_BASELINE),
	OPT_DUR("lock.poll_min", "SCHEMAGATE_LOCK_POLL_MIN", NULL,
		lock_poll_min_ms, "50ms", 1, CFG_MINUTE,
		"first lock retry delay",
		CFG_CMD_MIGRATE | CFG_CMD_DOWN | CFG_CMD_FORCE | CFG_CMD_BASELINE),
	OPT_DUR("lock.poll_max", "SCHEMAGATE_LOCK_POLL_MAX", NULL,
		lock_poll_max_ms, "1s", 1, 10 * CFG_MINUTE,
		"longest lock retry delay",
		CFG_CMD_MIGRATE | CFG_CMD_DOWN | CFG_CMD_FORCE | CFG_CMD_BASELINE),
	OPT_STR("identity", "POD_NAME", "--identity",
		identity, NULL, NULL,
		"name of this instance in locks and logs (unset: hostname)",
		CFG_CMD_ALL),
	{"log.format", "SCHEMAGATE_LOG_FORMAT", "--log-format", CFG_T_LOG_FORMAT,
		CFG_FIELD(log_format, enum log_format), "json", 0, 0, NULL, 0, NULL,
		"log format: json or text",
		CFG_CMD_ALL},
	{"log.level", "SCHEMAGATE_LOG_LEVEL", "--log-level", CFG_T_LOG_LEVEL,
		CFG_FIELD(log_level, enum log_level), "info", 0, 0, NULL, 0, NULL,
		"lowest level logged: debug, info, warn or error",
		CFG_CMD_ALL},
	OPT_SECRET("leader.redis_url", "REDIS_URL", "--redis-url",
		redis_url, NULL, NULL,
		"Redis for leader election (unset: no election)",
		CFG_CMD_MIGRATE | CFG_CMD_STATUS | CFG_CMD_SERVE),
	OPT_STR("leader.redis_password_file", "REDIS_PASSWORD_FILE", "--redis-password-file",
		redis_password_file, NULL, NULL,
		"file holding the Redis password (a mounted Secret)",
		CFG_CMD_MIGRATE | CFG_CMD_STATUS | CFG_CMD_SERVE),
	OPT_BOOL("leader.required", "SCHEMAGATE_LEADER_REQUIRED", "--leader-required",
		leader_required, "false",
		"fail instead of going on when Redis is down",
		CFG_CMD_MIGRATE | CFG_CMD_SERVE),
	OPT_DUR("leader.lease_duration", "SCHEMAGATE_LEASE_DURATION", "--lease-duration",
		lease_ttl_ms, "15s", CFG_SEC, 10 * CFG_MINUTE,
		"lease lifetime in Redis",
		CFG_CMD_MIGRATE),
	OPT_DUR("leader.renew_deadline", "SCHEMAGATE_RENEW_DEADLINE", "--renew-deadline",
		renew_deadline_ms, "10s", 1, 10 * CFG_MINUTE,
		"leader gives up when not renewed within this",
		CFG_CMD_MIGRATE),
	OPT_DUR("leader.retry_period", "SCHEMAGATE_RETRY_PERIOD", "--retry-period",
		retry_period_ms, "2s", 1, 10 * CFG_MINUTE,
		"interval between lease renewals and tries",
		CFG_CMD_MIGRATE),
	OPT_DUR("leader.redis_timeout", "SCHEMAGATE_REDIS_TIMEOUT", "--redis-timeout",
		redis_timeout_ms, "500ms", 1, CFG_MINUTE,
		"timeout per Redis command",
		CFG_CMD_MIGRATE | CFG_CMD_STATUS | CFG_CMD_SERVE),
	OPT_DUR("leader.follower_poll", "SCHEMAGATE_FOLLOWER_POLL", "--follower-poll",
		follower_poll_ms, "1s", 1, 10 * CFG_MINUTE,
		"how often followers check progress",
		CFG_CMD_MIGRATE),
	OPT_DUR("leader.follower_timeout", "SCHEMAGATE_FOLLOWER_TIMEOUT", "--follower-timeout",
		follower_timeout_ms, "10m", CFG_SEC, CFG_DAY,
		"followers give up waiting for the leader after this",
		CFG_CMD_MIGRATE),
	OPT_LIST("wait.tables", "SCHEMAGATE_TABLES", "--tables",
		tables, check_tables,
		"tables that must exist: name or schema.name, comma-separated",
		CFG_CMD_WAIT | CFG_CMD_SERVE),
	OPT_VER("wait.version", "SCHEMAGATE_WAIT_VERSION", "--version",
		wait_version, "any",
		"version that must be applied",
		CFG_CMD_WAIT),
	OPT_DUR("wait.timeout", "SCHEMAGATE_WAIT_TIMEOUT", "--timeout",
		wait_timeout_ms, "120s", 0, CFG_DAY,
		"how long wait waits",
		CFG_CMD_WAIT),
	OPT_DUR("wait.interval", "SCHEMAGATE_WAIT_INTERVAL", "--interval",
		wait_interval_ms, "2s", 1, CFG_HOUR,
		"delay between checks in wait",
		CFG_CMD_WAIT),
	OPT_STR("serve.listen", "SCHEMAGATE_LISTEN", "--listen",
		listen, "0.0.0.0:8081", check_listen,
		"HOST:PORT of the readiness server ([::]:PORT for IPv6)",
		CFG_CMD_SERVE),
	OPT_LONG("serve.max_connections", "SCHEMAGATE_MAX_CONNECTIONS", "--max-connections",
		max_connections, "16384", 16, 1000000,
		"open client connections; beyond, the oldest unfinished request is dropped",
		CFG_CMD_SERVE),
	OPT_DUR("serve.request_timeout", "SCHEMAGATE_REQUEST_TIMEOUT", "--request-timeout",
		request_timeout_ms, "2s", 100, CFG_MINUTE,
		"a client's whole request (or its next one) must arrive within this",
		CFG_CMD_SERVE),
	OPT_DUR("serve.check_interval", "SCHEMAGATE_CHECK_INTERVAL", "--check-interval",
		check_interval_ms, "2s", 1, CFG_HOUR,
		"delay between readiness checks",
		CFG_CMD_SERVE),
	OPT_VER("serve.expect_version", "SCHEMAGATE_EXPECT_VERSION", "--expect-version",
		expect_version, "latest",
		"version required to be ready",
		CFG_CMD_SERVE),
	OPT_STR("serve.admin_token_file", "SCHEMAGATE_ADMIN_TOKEN_FILE", "--admin-token-file",
		admin_token_file, NULL, NULL,
		"file holding the bearer token for admin endpoints",
		CFG_CMD_SERVE),
	OPT_BOOL("serve.admin_enabled", "SCHEMAGATE_ADMIN_ENABLED", "--admin-enabled",
		admin_enabled, "false",
		"allow admin endpoints without a token",
		CFG_CMD_SERVE),
	OPT_DUR("serve.drain_delay", "SCHEMAGATE_DRAIN_DELAY", "--drain-delay",
		drain_ms, "0s", 0, 10 * CFG_MINUTE,
		"report not-ready this long before stopping",
		CFG_CMD_SERVE),
	OPT_DUR("serve.grace_period", "SCHEMAGATE_GRACE_PERIOD", "--grace-period",
		grace_ms, "10s", 0, 10 * CFG_MINUTE,
		"longest wait for requests in flight on stop",
		CFG_CMD_SERVE),
	OPT_STR("probe.url", "SCHEMAGATE_PROBE_URL", "--url",
		probe_url, "http://127.0.0.1:8081/readyz", NULL,
		"URL that probe checks",
		CFG_CMD_PROBE),
	OPT_DUR("probe.timeout", "SCHEMAGATE_PROBE_TIMEOUT", "--probe-timeout",
		probe_timeout_ms, "2s", 1, 5 * CFG_MINUTE,
		"timeout of probe's request",
		CFG_CMD_PROBE),
	/* flags only */
	OPT_BOOL(NULL, NULL, "--json",
		json, "false",
		"print JSON (status, verify, plan)",
		CFG_CMD_STATUS | CFG_CMD_VERIFY | CFG_CMD_PLAN),
	OPT_BOOL(NULL, NULL, "--markdown",
		markdown, "false",
		"print the plan as markdown, for a pull-request comment (plan)",
		CFG_CMD_PLAN),
	OPT_VER(NULL, NULL, "--since",
		plan_since, NULL,
		"without DATABASE_URL: the files up to this version are applied in production (plan, verify)",
		CFG_CMD_PLAN | CFG_CMD_VERIFY),
	OPT_LONG(NULL, NULL, "--steps",
		down_steps, "1", 1, 1000000,
		"migrations to roll back (down)",
		CFG_CMD_DOWN),
	OPT_VER(NULL, NULL, "--to",
		down_to, NULL,
		"roll back to this version, keeping it (0 keeps version 0) (down)",
		CFG_CMD_DOWN),
	OPT_STR(NULL, NULL, "--from",
		baseline_from, NULL, check_from_tool,
		"import this tool's history: " TOOL_NAMES " (baseline)",
		CFG_CMD_BASELINE),
	OPT_STR(NULL, NULL, "--from-table",
		baseline_from_table, NULL, check_from_table,
		"the other tool's history table, [schema.]name (baseline; default: the tool's)",
		CFG_CMD_BASELINE),
};

#define CFG_NOPTIONS (sizeof cfg_options / sizeof cfg_options[0])

static const char *const cfg_log_format_names[] = {
	[LOG_FORMAT_JSON] = "json",
	[LOG_FORMAT_TEXT] = "text",
};

static const char *const cfg_log_level_names[] = {
	[LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_ERROR] = "error",
};
/* clang-format on */

size_t cfg_option_count(void)
{
	return CFG_NOPTIONS;
}

const char *cfg_option_env(size_t i)
{
	return i < CFG_NOPTIONS ? cfg_options[i].env : NULL;
}

/* Suffix for a value cut at CFG_SHOW bytes in a message. */
static const char *more(const char *s)
{
	return strlen(s) > CFG_SHOW ? "..." : "";
}

/* Checks a comma-separated list; each element, trimmed, must be non-empty and,
 * when dotted, have no empty part around a '.'. */
static int check_list(const char *val, const char *what, bool dotted, struct sg_err *err)
{
	const char *p = val;

	for (;;) {
		const char *end = p + strcspn(p, ","), *a = p, *b = end, *q;

		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (a == b)
			return sg_err_set(err, SG_E_CONFIG, "\"%.*s%s\" has an empty %s", CFG_SHOW,
			                  val, more(val), what);
		for (q = a; dotted && q < b; q++)
			if (*q == '.' && (q == a || q + 1 == b || q[1] == '.'))
				return sg_err_set(
				    err, SG_E_CONFIG,
				    "\"%.*s%s\": \"%.*s\" has an empty part around \".\"", CFG_SHOW,
				    val, more(val), (int)(b - a > CFG_SHOW ? CFG_SHOW : b - a), a);
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

/* Schema names are stored as written: db.c quotes them as identifiers. Still,
 * ';', single quotes, '\\', control characters and double quotes anywhere but
 * around a whole name ("My Schema") are refused: no real schema needs them,
 * the first schema is created when missing, and such a value is far more
 * likely an injection attempt or a templating slip than a name. */
static int check_search_path(const char *val, struct sg_err *err)
{
	const char *p = val;

	if (check_list(val, "schema name", false, err) != 0)
		return -1;
	for (;;) {
		const char *end = p + strcspn(p, ","), *a = p, *b = end;

		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (b - a >= 3 && *a == '"' && b[-1] == '"')
			a++, b--; /* the quotes around a whole name */
		for (const char *q = a; q < b; q++)
			if (strchr("\"';\\", *q) != NULL || (unsigned char)*q < 0x20 || *q == 0x7f)
				return sg_err_set(
				    err, SG_E_CONFIG,
				    "\"%.*s%s\": schema names must not contain ';', quotes "
				    "(except around a whole name), '\\' or control characters "
				    "(byte %zu)",
				    CFG_SHOW, val, more(val), (size_t)(q - val) + 1);
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

/* The value must be something libpq can parse. libpq's own message may quote the input,
 * password included, so every "quoted" part of it is dropped; a query parameter libpq refuses
 * is named (dsn_refused_param: the name alone, never the value). */
static int check_dsn(const char *val, struct sg_err *err)
{
	char *why = NULL, safe[200], param[72];
	struct dsn_split sp;
	PQconninfoOption *opts;
	size_t n = 0;
	bool quoted = false, refused;

	/* What dsn_split takes out (a Go-style search_path, golang-migrate's and pgx's own
	 * parameters) never reaches libpq (cli.c splits the URL the same way before connecting). */
	if (dsn_split(val, &sp, err) != 0)
		return -1;
	opts = PQconninfoParse(sp.url, &why);
	refused = opts == NULL && dsn_refused_param(sp.url, param, sizeof param);
	dsn_split_free(&sp);
	if (opts != NULL) {
		char shown[sizeof DSN_UNPARSABLE];

		PQconninfoFree(opts);
		/* libpq reads "u:pa/ss@h" as host "u", port "pa" and quotes "pa" in
		 * its connect error; a URL whose password's end we cannot place
		 * never reaches it. */
		dsn_redact(val, shown, sizeof shown);
		if (strcmp(shown, DSN_UNPARSABLE) == 0)
			return sg_err_set(
			    err, SG_E_CONFIG,
			    "cannot tell where its password ends (an unencoded '/' or "
			    "'@' in it? write them as %%2F and %%40); value not shown");
		return 0;
	}
	if (refused) {
		PQfreemem(why);
		return sg_err_set(
		    err, SG_E_CONFIG,
		    "libpq refuses its query parameter \"%s\" (schemagate takes out "
		    "only search_path and the x-* and pool_* parameters of "
		    "golang-migrate and pgx); value not shown, it may hold a password",
		    param);
	}
	for (const char *p = why != NULL ? why : "unknown error"; *p != '\0' && n + 6 < sizeof safe;
	     p++) {
		if (*p == '"') {
			quoted = !quoted;
			if (quoted) {
				memcpy(safe + n, "\"...\"", 5);
				n += 5;
			}
		} else if (!quoted && *p != '\n') {
			safe[n++] = *p;
		}
	}
	safe[n] = '\0';
	PQfreemem(why);
	return sg_err_set(err, SG_E_CONFIG,
	                  "not a libpq URL or keyword string (%s); value not shown, it may hold a "
	                  "password",
	                  safe);
}

static int check_tables(const char *val, struct sg_err *err)
{
	return check_list(val, "table name", true, err);
}

/* [a-z_][a-z0-9_]{0,62}: names we splice into SQL unquoted, and 63 bytes is
 * Postgres's NAMEDATALEN limit. */
static int check_ident(const char *val, struct sg_err *err)
{
	size_t i, len = strlen(val);
	bool ok = len >= 1 && len <= 63 && ((val[0] >= 'a' && val[0] <= 'z') || val[0] == '_');

	for (i = 1; ok && i < len; i++)
		ok = (val[i] >= 'a' && val[i] <= 'z') || (val[i] >= '0' && val[i] <= '9') ||
		     val[i] == '_';
	if (ok)
		return 0;
	return sg_err_set(err, SG_E_CONFIG,
	                  "\"%.*s%s\" is not a valid name (a-z, 0-9 and _, not starting with a "
	                  "digit, at most 63 characters)",
	                  CFG_SHOW, val, more(val));
}

size_t cfg_runs_table(const char *table, char *out, size_t n)
{
	int len = snprintf(out, n, "%s" RUNS_SUFFIX, table);

	return len > 0 ? (size_t)len : 0;
}

/* The history table's name, and the names derived from it (cfg_runs_table),
 * must each fit NAMEDATALEN - 1 = 63 bytes: TABLE_MAX. */
static int check_table(const char *val, struct sg_err *err)
{
	if (check_ident(val, err) != 0)
		return -1;
	if (strlen(val) <= TABLE_MAX)
		return 0;
	return sg_err_set(err, SG_E_CONFIG,
	                  "\"%.*s%s\" is %zu characters: at most %d, so that the derived name "
	                  "<table>" RUNS_SUFFIX " fits Postgres's 63-byte limit",
	                  CFG_SHOW, val, more(val), strlen(val), TABLE_MAX);
}

/* HOST:PORT, with IPv6 hosts in brackets ("[::]:8081"); port 1..65535: the
 * grammar is hostport.h's, which the listener opens the socket with. */
static int check_listen(const char *val, struct sg_err *err)
{
	char host[256], port[8];

	return hostport_split(val, host, sizeof host, port, sizeof port, err);
}

/* Index of s among n names, ignoring case; -1 when absent. */
static int name_index(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

/* Parses val and stores it in o's field of c; the old value stays on failure.
 * err says why without saying where (the caller knows). */
static int set_value(struct cfg *c, const struct cfg_option *o, const char *val, struct sg_err *err)
{
	void *f = (char *)c + o->offset;
	long l;
	bool b;
	int i;

	switch (o->type) {
	case CFG_T_STRING: {
		char *copy = NULL;

		/* "" clears a setting that is unset by default ("--redis-url=" turns
		 * election off again); others need a value. */
		if (*val == '\0' && o->def != NULL)
			return sg_err_set(err, SG_E_CONFIG, "must not be empty");
		if (*val != '\0') {
			if (o->check != NULL && o->check(val, err) != 0)
				return -1;
			if ((copy = strdup(val)) == NULL)
				return sg_err_set(err, SG_E_NOMEM, "out of memory");
		}
		free(*(char **)f);
		*(char **)f = copy;
		return 0;
	}
	case CFG_T_BOOL:
		if (num_parse_bool(val, &b, err) != 0)
			return -1;
		*(bool *)f = b;
		return 0;
	case CFG_T_LONG:
		if (num_parse_long(val, o->min, o->max, &l, err) != 0)
			return -1;
		*(long *)f = l;
		return 0;
	case CFG_T_DURATION:
		if (num_parse_duration_ms(val, o->min, o->max, &l, err) != 0)
			return -1;
		*(long *)f = l;
		return 0;
	case CFG_T_VERSION:
		if (o->word != NULL && strcasecmp(val, o->word) == 0)
			l = -1;
		else if (num_parse_long(val, 0, LONG_MAX, &l, err) != 0)
			return sg_err_set(
			    err, SG_E_CONFIG, "\"%.*s%s\" is not a version (a number >= 0%s%s%s)",
			    CFG_SHOW, val, more(val), o->word != NULL ? " or \"" : "",
			    o->word != NULL ? o->word : "", o->word != NULL ? "\"" : "");
		*(long *)f = l;
		return 0;
	case CFG_T_BYTES:
		if (num_parse_bytes(val, o->min, o->max, &l, err) != 0)
			return -1;
		*(long *)f = l;
		return 0;
	case CFG_T_LOG_FORMAT:
		i = name_index(cfg_log_format_names,
		               sizeof cfg_log_format_names / sizeof cfg_log_format_names[0], val);
		if (i < 0)
			return sg_err_set(err, SG_E_CONFIG,
			                  "\"%.*s%s\" is not a log format (json or text)", CFG_SHOW,
			                  val, more(val));
		*(enum log_format *)f = (enum log_format)i;
		return 0;
	case CFG_T_LOG_LEVEL:
		/* "warning" because that is what people type; we print "warn". */
		if (strcasecmp(val, "warning") == 0)
			i = LOG_LEVEL_WARN;
		else
			i = name_index(cfg_log_level_names,
			               sizeof cfg_log_level_names / sizeof cfg_log_level_names[0],
			               val);
		if (i < 0)
			return sg_err_set(
			    err, SG_E_CONFIG,
			    "\"%.*s%s\" is not a log level (debug, info, warn or error)", CFG_SHOW,
			    val, more(val));
		*(enum log_level *)f = (enum log_level)i;
		return 0;
	}
	return sg_err_set(err, SG_E_CONFIG, "internal error: option of unknown type");
}

/* set_value() whose error reads "<where>: <why>" with code (SG_E_NOMEM kept). */
static int apply(struct cfg *c, const struct cfg_option *o, const char *val, enum sg_code code,
                 const char *where, struct sg_err *err)
{
	struct sg_err why;

	sg_err_clear(&why);
	if (set_value(c, o, val, &why) == 0)
		return 0;
	return sg_err_set(err, why.code == SG_E_NOMEM ? SG_E_NOMEM : code, "%s: %s", where,
	                  why.msg);
}

void cfg_free(struct cfg *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < CFG_NOPTIONS; i++)
		if (cfg_options[i].type == CFG_T_STRING)
			free(*(char **)((char *)cfg + cfg_options[i].offset));
	memset(cfg, 0, sizeof *cfg);
}

int cfg_defaults(struct cfg *cfg, struct sg_err *err)
{
	struct cfg c;
	size_t i;

	memset(cfg, 0, sizeof *cfg);
	memset(&c, 0, sizeof c);
	for (i = 0; i < CFG_NOPTIONS; i++) {
		const struct cfg_option *o = &cfg_options[i];
		const char *name = o->key != NULL ? o->key : o->flag;

		if (o->def == NULL && o->type == CFG_T_VERSION) {
			*(long *)((char *)&c + o->offset) = -1;
		} else if (o->def == NULL && o->type != CFG_T_STRING) {
			sg_err_set(err, SG_E_CONFIG, "internal error: %s has no default", name);
			goto fail;
		} else if (o->def != NULL) {
			char where[128];
			int w = snprintf(where, sizeof where, "built-in default of %s", name);

			if (w < 0 || (size_t)w >= sizeof where)
				where[0] = '\0'; /* only the message loses its context */
			if (apply(&c, o, o->def, SG_E_CONFIG, where, err) != 0)
				goto fail;
		}
	}
	*cfg = c;
	return 0;
fail:
	cfg_free(&c);
	return -1;
}

static const struct cfg_option *find_key(const char *path)
{
	size_t i;

	for (i = 0; i < CFG_NOPTIONS; i++)
		if (cfg_options[i].key != NULL && strcmp(cfg_options[i].key, path) == 0)
			return &cfg_options[i];
	return NULL;
}

/* True when path is a mapping of settings, e.g. "database". */
static bool is_section(const char *path)
{
	size_t i, len = strlen(path);

	for (i = 0; i < CFG_NOPTIONS; i++)
		if (cfg_options[i].key != NULL && strncmp(cfg_options[i].key, path, len) == 0 &&
		    cfg_options[i].key[len] == '.')
			return true;
	return false;
}

/* yamlcfg_sink callbacks: the option table gives YAML paths their meaning. */
static enum yamlcfg_kind yaml_kind(void *ctx, const char *path)
{
	const struct cfg_option *o = find_key(path);

	(void)ctx;
	if (o != NULL)
		return (o->flags & CFG_F_LIST) != 0 ? YAMLCFG_LIST : YAMLCFG_VALUE;
	return is_section(path) ? YAMLCFG_SECTION : YAMLCFG_UNKNOWN;
}

static int yaml_set(void *ctx, const char *path, const char *val, const char *where,
                    struct sg_err *err)
{
	return apply(ctx, find_key(path), val, SG_E_CONFIG, where, err);
}

static int load_yaml(struct cfg *c, const char *file, struct sg_err *err)
{
	const struct yamlcfg_sink sink = {yaml_kind, yaml_set, c};

	return yamlcfg_load(file, &sink, err);
}

static int load_env(struct cfg *c, struct sg_err *err)
{
	size_t i;

	for (i = 0; i < CFG_NOPTIONS; i++) {
		const struct cfg_option *o = &cfg_options[i];
		const char *v;

		if (o->env == NULL || (v = getenv(o->env)) == NULL || *v == '\0')
			continue;
		if (apply(c, o, v, SG_E_CONFIG, o->env, err) != 0)
			return -1;
	}
	return 0;
}

/* One flag from argv, applied after the file and the environment. */
struct cfg_flag_use {
	const struct cfg_option *opt;
	const char *val; /* borrowed from argv, or a literal */
};

static bool is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

static bool wants_help(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (is_help(argv[i]))
			return true;
	return false;
}

/* "-" and negative numbers are arguments, not flags. */
static bool is_flag_word(const char *a)
{
	return a[0] == '-' && a[1] != '\0' && !isdigit((unsigned char)a[1]);
}

/* The row whose flag is the len bytes at name ("--dir"). */
static const struct cfg_option *find_flag(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < CFG_NOPTIONS; i++)
		if (cfg_options[i].flag != NULL && strlen(cfg_options[i].flag) == len &&
		    memcmp(cfg_options[i].flag, name, len) == 0)
			return &cfg_options[i];
	return NULL;
}

/* The boolean row that "--no-NAME" (len bytes at name) negates. */
static const struct cfg_option *find_negated(const char *name, size_t len)
{
	const struct cfg_option *o;
	char plain[64];
	int w;

	if (len <= 5 || strncmp(name, "--no-", 5) != 0)
		return NULL;
	w = snprintf(plain, sizeof plain, "--%.*s", (int)(len - 5), name + 5);
	if (w < 0 || (size_t)w >= sizeof plain)
		return NULL; /* longer than any flag we have */
	o = find_flag(plain, (size_t)w);
	return o != NULL && o->type == CFG_T_BOOL ? o : NULL;
}

/* Sorts argv into flag uses, positional arguments and the --config file,
 * reporting usage errors before any file is read. */
static int parse_argv(int argc, char **argv, struct cfg_flag_use *uses, size_t *nuses,
                      const char **rest, int *nrest, const char **config, struct sg_err *err)
{
	bool flags_done = false;
	int i;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *eq, *val;
		const struct cfg_option *o;
		bool is_config;
		size_t len;

		if (flags_done || !is_flag_word(a)) {
			if (rest == NULL)
				return sg_err_set(err, SG_E_USAGE, "unexpected argument \"%.*s%s\"",
				                  CFG_SHOW, a, more(a));
			rest[(*nrest)++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			flags_done = true;
			continue;
		}
		if (is_help(a))
			continue;
		eq = strchr(a, '=');
		len = eq != NULL ? (size_t)(eq - a) : strlen(a);
		is_config = len == strlen("--config") && memcmp(a, "--config", len) == 0;
		o = a[1] == '-' ? find_flag(a, len) : NULL;
		if (o != NULL && o->type == CFG_T_BOOL) {
			val = eq != NULL ? eq + 1 : "true";
		} else if (o != NULL || is_config) {
			/* A following flag is not taken as the value: "--dir --skip"
			 * is a forgotten value, not a directory named "--skip". */
			if (eq != NULL)
				val = eq + 1;
			else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
				val = argv[++i];
			else
				return sg_err_set(err, SG_E_USAGE, "flag %.*s needs a value",
				                  (int)len, a);
		} else if (a[1] == '-' && (o = find_negated(a, len)) != NULL) {
			if (eq != NULL)
				return sg_err_set(err, SG_E_USAGE, "flag %.*s takes no value",
				                  (int)len, a);
			val = "false";
		} else {
			return sg_err_set(err, SG_E_USAGE, "unknown flag \"%.*s%s\" (see --help)",
			                  (int)(len > CFG_SHOW ? CFG_SHOW : len), a,
			                  len > CFG_SHOW ? "..." : "");
		}
		if (is_config) {
			if (*val == '\0')
				return sg_err_set(err, SG_E_USAGE, "flag --config needs a value");
			*config = val;
			continue;
		}
		uses[*nuses].opt = o;
		uses[*nuses].val = val;
		(*nuses)++;
	}
	return 0;
}

/* "a (x) rel b (y)" with durations written as users write them. */
static int rule_error(struct sg_err *err, const char *a, long av, const char *rel, const char *b,
                      long bv)
{
	char as[32], bs[32];

	if (num_format_duration(av, as, sizeof as) != 0 ||
	    num_format_duration(bv, bs, sizeof bs) != 0)
		return sg_err_set(err, SG_E_CONFIG, "%s %s %s", a, rel, b);
	return sg_err_set(err, SG_E_CONFIG, "%s (%s) %s %s (%s)", a, as, rel, b, bs);
}

/* Rules between settings, checked once every source has been applied. */
static int check_rules(const struct cfg *c, struct sg_err *err)
{
	if (c->connect_base_ms > c->connect_max_ms)
		return rule_error(err, "database.connect_base_delay", c->connect_base_ms,
		                  "must not exceed", "database.connect_max_delay",
		                  c->connect_max_ms);
	if (c->lock_poll_min_ms > c->lock_poll_max_ms)
		return rule_error(err, "lock.poll_min", c->lock_poll_min_ms, "must not exceed",
		                  "lock.poll_max", c->lock_poll_max_ms);
	/* A leader must notice a failed renewal before its lease runs out, and
	 * get more than one try at renewing within the deadline. */
	if (c->renew_deadline_ms >= c->lease_ttl_ms)
		return rule_error(err, "leader.renew_deadline", c->renew_deadline_ms,
		                  "must be less than", "leader.lease_duration", c->lease_ttl_ms);
	if (c->retry_period_ms >= c->renew_deadline_ms)
		return rule_error(err, "leader.retry_period", c->retry_period_ms,
		                  "must be less than", "leader.renew_deadline",
		                  c->renew_deadline_ms);
	return 0;
}

int cfg_load(struct cfg *cfg, int argc, char **argv, const char **rest, int *nrest,
             bool *help_requested, struct sg_err *err)
{
	struct cfg c;
	struct cfg_flag_use *uses = NULL;
	const char *config = NULL;
	size_t nuses = 0, i;
	int nrest_local = 0, rc = -1;

	memset(cfg, 0, sizeof *cfg);
	memset(&c, 0, sizeof c);
	if (nrest == NULL)
		nrest = &nrest_local;
	*nrest = 0;
	if (help_requested != NULL)
		*help_requested = false;
	if (argc < 0)
		argc = 0;
	if (cfg_defaults(&c, err) != 0)
		goto cleanup;
	if (help_requested != NULL && wants_help(argc, argv)) {
		*help_requested = true;
		goto done;
	}
	if ((uses = calloc(argc > 0 ? (size_t)argc : 1, sizeof *uses)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	if (parse_argv(argc, argv, uses, &nuses, rest, nrest, &config, err) != 0)
		goto cleanup;
	if (config == NULL && (config = getenv(CFG_CONFIG_ENV)) != NULL && *config == '\0')
		config = NULL;
	if (config != NULL && load_yaml(&c, config, err) != 0)
		goto cleanup;
	if (load_env(&c, err) != 0)
		goto cleanup;
	for (i = 0; i < nuses; i++)
		if (apply(&c, uses[i].opt, uses[i].val, SG_E_USAGE, uses[i].opt->flag, err) != 0)
			goto cleanup;
	if (check_rules(&c, err) != 0)
		goto cleanup;
done:
	*cfg = c; /* ownership of the strings moves to the caller */
	memset(&c, 0, sizeof c);
	rc = 0;
cleanup:
	if (rc != 0)
		*nrest = 0;
	cfg_free(&c);
	free(uses);
	return rc;
}

/* The FLAG cell of a row: "--[no-]skip" for booleans, NULL when there is none. */
static const char *help_flag(const struct cfg_option *o, char *buf, size_t n)
{
	int w;

	if (o->flag == NULL || o->type != CFG_T_BOOL)
		return o->flag;
	w = snprintf(buf, n, "--[no-]%s", o->flag + 2);
	return w < 0 || (size_t)w >= n ? o->flag : buf;
}

/* The value of a secret flag: a short mask, then NULs (the length of the URL
 * is no one's business either). */
static void mask_value(char *v)
{
	size_t n = strlen(v);

	for (size_t i = 0; i < n; i++)
		v[i] = i < 5 ? 'x' : '\0';
}

void cfg_mask_secret_flags(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		char *a = argv[i], *eq;
		const struct cfg_option *o;
		size_t len;

		if (strcmp(a, "--") == 0)
			return;
		if (strncmp(a, "--", 2) != 0)
			continue;
		eq = strchr(a, '=');
		len = eq != NULL ? (size_t)(eq - a) : strlen(a);
		if ((o = find_flag(a, len)) == NULL || (o->flags & CFG_F_SECRET) == 0)
			continue;
		if (eq != NULL)
			mask_value(eq + 1);
		else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
			mask_value(argv[++i]);
	}
}

/* The COMMANDS cell: "all", "all but a, b" when at most three are left out,
 * else the names of the commands in cmds, in bit order. A cell cut short by
 * buf's size would only be shorter text (and cannot be with our names). */
static const char *commands_cell(unsigned cmds, const char *const names[CFG_NCMDS], char *buf,
                                 size_t n)
{
	unsigned left_out = CFG_CMD_ALL & ~cmds, list = cmds;
	const char *sep = "";
	size_t used = 0;

	if (left_out == 0)
		return "all";
	buf[0] = '\0';
	if (__builtin_popcount(left_out) <= 3) {
		sep = "all but ";
		list = left_out;
	}
	for (unsigned i = 0; i < CFG_NCMDS && used < n; i++) {
		int w;

		if ((list & (1u << i)) == 0)
			continue;
		if ((w = snprintf(buf + used, n - used, "%s%s", sep, names[i])) < 0)
			break;
		used += (size_t)w;
		sep = ", ";
	}
	return buf;
}

/* The cells of a settings row as printed: all six, or without COMMANDS (cell
 * 4) when there are no command names. Fills and returns row. */
static const char *const *settings_row(const char *const cells[6], bool with_commands,
                                       const char *row[6])
{
	memcpy(row, cells, 6 * sizeof *row);
	if (!with_commands)
		row[4] = row[5];
	return row;
}

/* Prints the table of the settings any command in cmds reads: -h/--help and
 * --config first, then the option rows in table order. With names, a
 * COMMANDS column before the description says which commands read each one. */
static int print_settings(FILE *out, enum texttable_style style, unsigned cmds,
                          const char *const names[CFG_NCMDS], struct sg_err *err)
{
	static const char *const head[6] = {"FLAG",    "ENV",      "KEY",
	                                    "DEFAULT", "COMMANDS", "DESCRIPTION"};
	static const char *const extra[][6] = {
	    {"-h, --help", NULL, NULL, NULL, "all", "show this help"},
	    {"--config", CFG_CONFIG_ENV, NULL, NULL, "all",
	     "YAML file of settings (keys as in KEY)"},
	};
	const bool with_commands = names != NULL;
	struct texttable *t = NULL;
	const char *row[6];
	char flag[64], used_by[128];
	size_t i;
	int rc;

	if (texttable_new(with_commands ? 6 : 5, settings_row(head, with_commands, row), &t, err) !=
	    0)
		return -1;
	for (i = 0; i < 4; i++)
		texttable_code_column(t, i);
	for (i = 0; i < sizeof extra / sizeof extra[0]; i++)
		texttable_add(t, settings_row(extra[i], with_commands, row));
	for (i = 0; i < CFG_NOPTIONS; i++) {
		const struct cfg_option *o = &cfg_options[i];
		const char *cells[6] = {
		    help_flag(o, flag, sizeof flag),
		    o->env,
		    o->key,
		    o->def,
		    with_commands ? commands_cell(o->cmds, names, used_by, sizeof used_by) : NULL,
		    o->help};

		if ((o->cmds & cmds) != 0)
			texttable_add(t, settings_row(cells, with_commands, row));
	}
	rc = texttable_print(t, out, style, err);
	texttable_free(t);
	return rc;
}

int cfg_print_help(FILE *out, unsigned cmds, struct sg_err *err)
{
	return print_settings(out, TEXTTABLE_TEXT, cmds, NULL, err);
}

int cfg_print_reference(FILE *out, enum texttable_style style, const char *const names[CFG_NCMDS],
                        struct sg_err *err)
{
	return print_settings(out, style, CFG_CMD_ALL, names, err);
}

static int check_from_tool(const char *val, struct sg_err *err)
{
	if (tool_find(val) != NULL)
		return 0;
	return sg_err_set(
	    err, SG_E_USAGE,
	    "\"%.100s\" is not a tool whose history baseline reads: expected " TOOL_NAMES
	    "; after any other tool, give the version instead (baseline VERSION)",
	    val);
}

/* [schema.]table, each part checked like our own table name. */
static int check_from_table(const char *val, struct sg_err *err)
{
	const char *dot = strchr(val, '.');
	char part[128];

	if (dot == NULL)
		return check_ident(val, err);
	if ((size_t)(dot - val) >= sizeof part)
		return sg_err_set(err, SG_E_USAGE, "schema name too long");
	memcpy(part, val, (size_t)(dot - val));
	part[dot - val] = '\0';
	if (check_ident(part, err) != 0)
		return -1;
	return check_ident(dot + 1, err);
}
