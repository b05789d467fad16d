/* test_secrets.c - passwords from files (DATABASE_PASSWORD_FILE), and no password or token in any
 * output. */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "sgt.h"
#include "sgt_http.h"

#define WRONG_PW "wrong-pw-Kx81Qa"
#define ADMIN_TOKEN "admin-token-Hq42Lz9"
#define WRONG_TOKEN "admin-token-Hq42Lz8"

static char *dsn;   /* test database, URL with the real password */
static char *dir;   /* migrations */
static char *files; /* password and token files */
static char *seen;  /* every byte any schemagate process wrote, concatenated */

static void setup(void)
{
	sgt_require_services();
	sgt_case_open("secrets", &dsn, &dir);
	files = sgt_tmpdir();
	seen = sgt_fmt("%s", "");
	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	sgt_write_file(dir, "000002_b.up.sql", "CREATE TABLE b (id int);\n");
}

static void teardown(void)
{
	if (dsn != NULL)
		sgt_drop_db(dsn);
	sgt_rm_rf(dir);
	sgt_rm_rf(files);
	free(dsn);
	free(dir);
	free(files);
	free(seen);
	dsn = dir = files = seen = NULL;
}

TestSuite(secrets, .init = setup, .fini = teardown, .timeout = 120);

static const char *real_pw(void)
{
	const char *pw = getenv("SCHEMAGATE_TEST_PG_PASSWORD");

	cr_assert(pw != NULL && *pw != '\0', "SCHEMAGATE_TEST_PG_PASSWORD not set");
	return pw;
}

/* The test database as a keyword string, with `password` appended when given. */
static char *kw_dsn(const char *password)
{
	return sgt_dsn_with(dsn, NULL, NULL, password);
}

/* Appends a process's output to `seen`. */
static void keep(const char *out, const char *err)
{
	char *all = sgt_fmt("%s\n%s\n%s", seen, out != NULL ? out : "", err != NULL ? err : "");

	free(seen);
	seen = all;
}

/* Runs `schemagate <cmd>` against url (DATABASE_URL; NULL: unset) with the
 * extra env entries; keeps its output; returns the exit code. */
static int run(const char *cmd, const char *url, const char *const *extra, char **err_out)
{
	const char *argv[] = {"schemagate", cmd, NULL};
	const char *env[16];
	char *u = url != NULL ? sgt_fmt("DATABASE_URL=%s", url) : sgt_fmt("-DATABASE_URL");
	char *m = sgt_fmt("MIGRATIONS_DIR=%s", dir);
	char *out = NULL, *err = NULL;
	size_t n = 0;
	int rc;

	env[n++] = u;
	env[n++] = m;
	env[n++] = "SCHEMAGATE_CONNECT_ATTEMPTS=2";
	env[n++] = "SCHEMAGATE_CONNECT_BASE_DELAY=10ms";
	env[n++] = "SCHEMAGATE_LOG_LEVEL=debug";
	env[n++] = "-DATABASE_SEARCH_PATH";
	env[n++] = "-DATABASE_PASSWORD_FILE";
	env[n++] = "-PGPASSWORD";
	env[n++] = "-REDIS_URL";
	env[n++] = "-SCHEMAGATE_CONFIG";
	for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 15; i++)
		env[n++] = extra[i];
	env[n] = NULL;
	rc = sgt_run(argv, env, &out, &err, 60000);
	keep(out, err);
	if (err_out != NULL)
		*err_out = err;
	else
		free(err);
	free(out);
	free(u);
	free(m);
	return rc;
}

/* A password file holding pw plus a trailing newline, as `echo` writes it. */
static char *pw_file(const char *name, const char *pw)
{
	char *content = sgt_fmt("%s\n", pw);

	sgt_write_file(files, name, content);
	free(content);
	return sgt_fmt("DATABASE_PASSWORD_FILE=%s/%s", files, name);
}

/* No secret in anything a process printed. */
static void assert_nothing_leaked(void)
{
	const char *secrets[] = {real_pw(), WRONG_PW, ADMIN_TOKEN, WRONG_TOKEN};

	cr_assert_gt(strlen(seen), 100, "no output captured");
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
		const char *hit = strstr(seen, secrets[i]);

		cr_assert_null(hit, "secret #%zu appears in the output: ...%.120s", i,
		               hit != NULL ? (hit > seen + 60 ? hit - 60 : seen) : "");
	}
}

Test(secrets, password_file_is_used_and_wins)
{
	char *nopw = kw_dsn(NULL), *wrong = kw_dsn(WRONG_PW), *err = NULL;
	char *good = pw_file("pg-password", real_pw());
	char *bad = pw_file("pg-wrong", WRONG_PW);
	char *missing = sgt_fmt("DATABASE_PASSWORD_FILE=%s/nope", files);
	char *empty = pw_file("pg-empty", "");
	const char *with_good[] = {good, NULL};
	const char *with_good_and_pgpassword[] = {good, "PGPASSWORD=" WRONG_PW, NULL};
	const char *with_bad[] = {bad, NULL};
	const char *with_missing[] = {missing, NULL};
	const char *with_empty[] = {empty, NULL};
	int rc;

	/* No password anywhere: refused by the server. */
	rc = run("migrate", nopw, NULL, &err);
	cr_expect_eq(rc, 3, "%s", err);
	free(err);
	/* The file alone; then the file against a wrong PGPASSWORD and a wrong
	 * password in the URL: the file wins both times. */
	rc = run("migrate", nopw, with_good, &err);
	cr_assert_eq(rc, 0, "%s", err);
	free(err);
	sgt_write_file(dir, "000003_c.up.sql", "CREATE TABLE c (id int);\n");
	rc = run("migrate", nopw, with_good_and_pgpassword, &err);
	cr_assert_eq(rc, 0, "%s", err);
	free(err);
	sgt_write_file(dir, "000004_d.up.sql", "CREATE TABLE d (id int);\n");
	rc = run("migrate", wrong, with_good, &err);
	cr_assert_eq(rc, 0, "%s", err);
	free(err);
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), 4);
	/* A wrong password in the file: the server says no, exit 3. */
	rc = run("status", nopw, with_bad, &err);
	cr_expect_eq(rc, 3, "%s", err);
	cr_expect(sgt_contains(err, "password authentication failed"), "%s", err);
	free(err);
	/* Missing or empty file: a configuration error at once (exit 2), no retries. */
	rc = run("migrate", nopw, with_missing, &err);
	cr_expect_eq(rc, 2, "%s", err);
	cr_expect(sgt_contains(err, "DATABASE_PASSWORD_FILE"), "%s", err);
	cr_expect(!sgt_contains(err, "retrying"), "%s", err);
	free(err);
	rc = run("migrate", nopw, with_empty, &err);
	cr_expect_eq(rc, 2, "%s", err);
	cr_expect(sgt_contains(err, "empty"), "%s", err);
	free(err);
	assert_nothing_leaked();
	free(nopw);
	free(wrong);
	free(good);
	free(bad);
	free(missing);
	free(empty);
}

/* Every command that touches secrets, with failures too, then one grep over
 * all their output for the passwords and tokens. */
Test(secrets, no_secret_in_any_output)
{
	char *wrong = kw_dsn(WRONG_PW), *nopw = kw_dsn(NULL);
	char *good = pw_file("pg-password", real_pw());
	char *token_file = sgt_fmt("%s/admin-token", files);
	const char *with_good[] = {good, NULL};
	const char *json[] = {"SCHEMAGATE_LOG_FORMAT=json", NULL};
	char listen[32], *url = sgt_fmt("DATABASE_URL=%s", dsn), *body = NULL;
	int port = sgt_http_free_port();
	struct sgt_proc *p;

	sgt_write_file(files, "admin-token", ADMIN_TOKEN "\n");
	cr_expect_eq(run("migrate", wrong, NULL, NULL), 3);
	cr_expect_eq(run("migrate", dsn, json, NULL), 0);
	cr_expect_eq(run("status", dsn, NULL, NULL), 0);
	cr_expect_eq(run("status", nopw, with_good, NULL), 0);
	cr_expect_eq(run("verify", dsn, NULL, NULL), 0);
	cr_expect_eq(run("verify", wrong, NULL, NULL), 3);
	cr_expect_eq(run("status", "postgres://sgtest:" WRONG_PW "@[::1/x", NULL, NULL), 2);

	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	{
		const char *argv[] = {"schemagate",
		                      "serve",
		                      "--dir",
		                      dir,
		                      "--listen",
		                      listen,
		                      "--admin-token-file",
		                      token_file,
		                      "--check-interval",
		                      "100ms",
		                      NULL};
		const char *env[] = {url,
		                     "SCHEMAGATE_LOG_LEVEL=debug",
		                     "-REDIS_URL",
		                     "-DATABASE_SEARCH_PATH",
		                     "-SCHEMAGATE_CONFIG",
		                     NULL};
		char *out, *err;

		p = sgt_spawn(argv, env);
		cr_assert_geq(sgt_http_wait_status(port, "/readyz", 200, 10000), 0, "%s",
		              sgt_stderr(p));
		cr_expect_eq(sgt_http_get(port, "/admin/migration-status", NULL, NULL), 401);
		cr_expect_eq(sgt_http_get(port, "/admin/migration-status",
		                          "Authorization: Bearer " WRONG_TOKEN "\r\n", &body),
		             401);
		keep(body, NULL);
		free(body);
		body = NULL;
		/* The report appears after the checker's first full pass. */
		for (int i = 0, st = 0; st != 200; i++) {
			cr_assert_lt(i, 500, "admin status: %d %s", st, body);
			free(body);
			body = NULL;
			st = sgt_http_get(port, "/admin/migration-status",
			                  "Authorization: Bearer " ADMIN_TOKEN "\r\n", &body);
			if (st != 200)
				sgt_sleep_ms(20);
		}
		keep(body, NULL);
		free(body);
		cr_expect_eq(sgt_http_get(port, "/readyz?verbose", NULL, &body), 200);
		keep(body, NULL);
		free(body);
		cr_expect_eq(sgt_http_get(port, "/health", NULL, &body), 200);
		keep(body, NULL);
		free(body);
		cr_expect_eq(sgt_http_get(port, "/metrics", NULL, &body), 200);
		keep(body, NULL);
		free(body);
		sgt_signal(p, SIGTERM);
		cr_expect_eq(sgt_wait(p, 20000), 0);
		out = sgt_stdout(p);
		err = sgt_stderr(p);
		keep(out, err);
		free(out);
		free(err);
		sgt_proc_free(p);
	}
	assert_nothing_leaked();
	free(wrong);
	free(nopw);
	free(good);
	free(token_file);
	free(url);
}

/* A generated password with an unencoded '/' makes libpq read the
 * part before it as the port and quote it in its error ("invalid integer
 * value "Pw4x" for connection option "port""). Such a URL is refused before
 * libpq sees it, and nothing of the password is printed. */
Test(secrets, password_with_unencoded_slash_leaks_nothing)
{
	const char *port = getenv("SCHEMAGATE_TEST_PG_PORT");
	char *url, *err = NULL;

	cr_assert_not_null(port);
	url = sgt_fmt("postgres://sgtest:Pw4x/Zq9sLm@127.0.0.1:%s/postgres", port);
	cr_expect_eq(run("status", url, NULL, &err), 2, "%s", err);
	cr_expect(sgt_contains(err, "DATABASE_URL") || sgt_contains(err, "database-url") ||
	              sgt_contains(err, "database.url"),
	          "the message names the key: %s", err);
	cr_expect(!sgt_contains(seen, "Pw4x") && !sgt_contains(seen, "Zq9sLm"), "%s", seen);
	free(err);
	free(url);
}

/* /proc/PID/cmdline as one string (NULs turned into spaces). */
static char *cmdline(pid_t pid)
{
	char *path = sgt_fmt("/proc/%ld/cmdline", (long)pid), buf[8192];
	FILE *f = fopen(path, "rb");
	size_t n;

	cr_assert_not_null(f, "%s", path);
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	free(path);
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	return sgt_fmt("%s", buf);
}

/* --database-url and --redis-url (both spellings) are masked in
 * argv once parsed, so the node's `ps` shows no password. */
Test(secrets, url_flags_are_masked_in_proc_cmdline)
{
	const char *redis = getenv("SCHEMAGATE_TEST_REDIS_URL");
	char *redis_url, *db_flag, listen[32], *line;
	int port = sgt_http_free_port();
	struct sgt_proc *p;

	cr_assert_not_null(redis);
	/* a Redis password that the server does not check still has to be hidden */
	redis_url = sgt_fmt("redis://:%s@%s", WRONG_PW, redis + strlen("redis://"));
	db_flag = sgt_fmt("--database-url=%s", dsn);
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	{
		const char *argv[] = {
		    "schemagate", "serve", "--dir",       dir,       "--listen",
		    listen,       db_flag, "--redis-url", redis_url, "--check-interval",
		    "100ms",      NULL};
		const char *env[] = {"-DATABASE_URL", "-REDIS_URL", "-DATABASE_SEARCH_PATH",
		                     "-SCHEMAGATE_CONFIG", NULL};

		p = sgt_spawn(argv, env);
	}
	cr_assert_geq(sgt_http_wait_status(port, "/healthz", 200, 10000), 0, "%s", sgt_stderr(p));
	line = cmdline(p->pid);
	cr_expect(sgt_contains(line, "--database-url=xxxxx"), "%s", line);
	cr_expect(sgt_contains(line, "--redis-url xxxxx"), "%s", line);
	cr_expect(!sgt_contains(line, real_pw()), "the database password is in argv: %s", line);
	cr_expect(!sgt_contains(line, WRONG_PW), "the Redis password is in argv: %s", line);
	cr_expect(!sgt_contains(line, "postgres") && !sgt_contains(line, "redis:"),
	          "a URL is in argv: %s", line);
	sgt_signal(p, SIGTERM);
	sgt_wait(p, 20000);
	sgt_proc_free(p);
	free(line);
	free(db_flag);
	free(redis_url);
}

/* A Secret volume as the kubelet lays it out: token -> ..data/token and
 * ..data -> ..<version>; an update writes a new version directory and swaps
 * ..data atomically (rename of a new symlink). */
static void secret_version(const char *root, const char *version, const char *token)
{
	char *vdir = sgt_fmt("%s/%s", root, version), *tmp = sgt_fmt("%s/..data_tmp", root);
	char *data = sgt_fmt("%s/..data", root), *content = sgt_fmt("%s\n", token);

	cr_assert_eq(mkdir(vdir, 0755), 0, "%s", vdir);
	sgt_write_file(vdir, "token", content);
	cr_assert_eq(symlink(version, tmp), 0);
	cr_assert_eq(rename(tmp, data), 0);
	free(vdir);
	free(tmp);
	free(data);
	free(content);
}

/* A rotated Secret's admin token is used without a restart (it was once
 * read at start only). */
Test(secrets, rotated_admin_token_is_picked_up)
{
	char *root = sgt_tmpdir(), *link = sgt_fmt("%s/token", root), listen[32];
	char *url = sgt_fmt("DATABASE_URL=%s", dsn);
	int port = sgt_http_free_port();
	struct sgt_proc *p;

	secret_version(root, "..2026_11_30_01", ADMIN_TOKEN);
	cr_assert_eq(symlink("..data/token", link), 0);
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	{
		const char *argv[] = {"schemagate",
		                      "serve",
		                      "--dir",
		                      dir,
		                      "--listen",
		                      listen,
		                      "--admin-token-file",
		                      link,
		                      "--check-interval",
		                      "100ms",
		                      NULL};
		const char *env[] = {url, "-REDIS_URL", "-DATABASE_SEARCH_PATH",
		                     "-SCHEMAGATE_CONFIG", NULL};

		p = sgt_spawn(argv, env);
	}
	cr_assert_geq(sgt_http_wait_status(port, "/healthz", 200, 10000), 0, "%s", sgt_stderr(p));
	cr_expect_neq(sgt_http_get(port, "/admin/migration-status",
	                           "Authorization: Bearer " ADMIN_TOKEN "\r\n", NULL),
	              401, "the first token");
	secret_version(root, "..2026_11_30_02", WRONG_TOKEN);
	cr_expect_neq(sgt_http_get(port, "/admin/migration-status",
	                           "Authorization: Bearer " WRONG_TOKEN "\r\n", NULL),
	              401, "the rotated token is not accepted");
	cr_expect_eq(sgt_http_get(port, "/admin/migration-status",
	                          "Authorization: Bearer " ADMIN_TOKEN "\r\n", NULL),
	             401, "the old token is still accepted");
	sgt_signal(p, SIGTERM);
	sgt_wait(p, 20000);
	sgt_proc_free(p);
	sgt_rm_rf(root);
	free(root);
	free(link);
	free(url);
}
