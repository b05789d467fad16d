/* sgt.c - helpers for the Criterion tests: test services, databases, temp files, processes. */
#include "proc.h"
#include "sgt.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#ifndef SG_TEST_BINARY
#error "SG_TEST_BINARY must be defined (tests/CMakeLists.txt does)"
#endif
#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR must be defined (tests/CMakeLists.txt does)"
#endif

extern char **environ;

/* How much of a child's stderr a timeout failure quotes. */
#define SGT_STDERR_TAIL 2000

/* ---- small utilities ------------------------------------------------------ */

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		cr_assert_fail("out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		cr_assert_fail("out of memory");
	return d;
}

char *sgt_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		cr_assert_fail("sgt_fmt: bad format \"%s\"", fmt);
	s = xcalloc((size_t)n + 1, 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

bool sgt_contains(const char *haystack, const char *needle)
{
	return haystack != NULL && needle != NULL && strstr(haystack, needle) != NULL;
}

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* $TMPDIR without trailing slashes, else /tmp. */
static char *tmp_base(void)
{
	const char *t = env_nonempty("TMPDIR");
	char *base = xstrdup(t != NULL ? t : "/tmp");
	size_t len = strlen(base);

	while (len > 1 && base[len - 1] == '/')
		base[--len] = '\0';
	return base;
}

void sgt_sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- services ------------------------------------------------------------- */

const char *sgt_pg_dsn(void)
{
	return env_nonempty("SCHEMAGATE_TEST_PG_DSN");
}

const char *sgt_redis_url(void)
{
	return env_nonempty("SCHEMAGATE_TEST_REDIS_URL");
}

void sgt_require_services(void)
{
	/* In CI a missing server is a failure, never a silent skip. */
	if (getenv("SCHEMAGATE_TEST_REQUIRE_SERVICES") != NULL &&
	    (sgt_pg_dsn() == NULL || sgt_redis_url() == NULL))
		cr_assert_fail("SCHEMAGATE_TEST_REQUIRE_SERVICES is set but the test servers are "
		               "not configured");
	if (sgt_pg_dsn() == NULL)
		cr_skip_test("SCHEMAGATE_TEST_PG_DSN not set");
	if (sgt_redis_url() == NULL)
		cr_skip_test("SCHEMAGATE_TEST_REDIS_URL not set");
}

const char *sgt_ha_dsn(void)
{
	return env_nonempty("SCHEMAGATE_TEST_HA_DSN");
}

void sgt_require_ha(void)
{
	sgt_require_services();
	if (getenv("SCHEMAGATE_TEST_REQUIRE_HA") != NULL && sgt_ha_dsn() == NULL)
		cr_assert_fail("SCHEMAGATE_TEST_REQUIRE_HA is set but no formation is configured "
		               "(eval \"$(ci/ha.sh env)\")");
	if (sgt_ha_dsn() == NULL)
		cr_skip_test("SCHEMAGATE_TEST_HA_DSN not set (ci/ha.sh start)");
}

/* 'text' for the shell: single quotes, each ' written as '\''. */
static char *shell_quote(const char *s)
{
	size_t n = 3;
	char *q, *w;

	for (const char *c = s; *c != '\0'; c++)
		n += *c == '\'' ? 4 : 1;
	q = w = xcalloc(n, 1);
	*w++ = '\'';
	for (const char *c = s; *c != '\0'; c++) {
		if (*c == '\'') {
			memcpy(w, "'\\''", 4);
			w += 4;
		} else {
			*w++ = *c;
		}
	}
	*w++ = '\'';
	*w = '\0';
	return q;
}

void sgt_service(const char *script, const char *action)
{
	char *path = sgt_fmt("%s/ci/%s", SG_SOURCE_DIR, script);
	char *quoted = shell_quote(path);
	char *cmd = sgt_fmt("bash %s %s", quoted, action);
	int rc;

	free(path);
	free(quoted);
	/* Keep our buffered output ahead of the script's. */
	fflush(stdout);
	fflush(stderr);
	rc = system(cmd);
	free(cmd);
	if (rc == -1)
		cr_assert_fail("ci/%s %s: system() failed: %s", script, action, strerror(errno));
	if (WIFSIGNALED(rc))
		cr_assert_fail("ci/%s %s: killed by signal %d", script, action, WTERMSIG(rc));
	if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
		cr_assert_fail("ci/%s %s: exit status %d", script, action,
		               WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
}

/* ---- PostgreSQL ----------------------------------------------------------- */

/* Copies a libpq message into buf without its trailing newline. Truncation
 * is fine: it only feeds a failure message. */
static void copy_msg(char *buf, size_t size, const char *msg)
{
	size_t len;

	snprintf(buf, size, "%s", msg != NULL ? msg : "");
	len = strlen(buf);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
}

static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

PGconn *sgt_connect(const char *dsn)
{
	PGconn *c;
	char msg[512];
	char where[256];

	cr_assert_not_null(dsn, "sgt_connect: DSN is NULL (services not started?)");
	c = PQconnectdb(dsn);
	if (c == NULL)
		cr_assert_fail("PQconnectdb: out of memory");
	if (PQstatus(c) != CONNECTION_OK) {
		/* Name the target without the DSN itself: that holds the password. */
		snprintf(where, sizeof where, "host=%s port=%s dbname=%s",
		         PQhost(c) != NULL ? PQhost(c) : "?", PQport(c) != NULL ? PQport(c) : "?",
		         PQdb(c) != NULL ? PQdb(c) : "?");
		copy_msg(msg, sizeof msg, PQerrorMessage(c));
		PQfinish(c);
		cr_assert_fail("connect to PostgreSQL (%s) failed: %s", where, msg);
	}
	return c;
}

/* A helper-internal connection: server NOTICEs ("does not exist, skipping")
 * would only clutter the test output. */
static PGconn *quiet_connect(const char *dsn)
{
	PGconn *c = sgt_connect(dsn);

	PQsetNoticeProcessor(c, ignore_notice, NULL);
	return c;
}

/* Runs sql and returns its result; on failure frees everything and fails
 * the test with the SQL and the server's message. */
static PGresult *exec_or_fail(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	char msg[512];

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || st == PGRES_EMPTY_QUERY)
		return r;
	copy_msg(msg, sizeof msg, r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	cr_assert_fail("SQL failed: %s\n  error: %s", sql, msg);
	return NULL; /* not reached */
}

char *sgt_sql_value(const char *dsn, const char *sql)
{
	PGconn *c = quiet_connect(dsn);
	PGresult *r = exec_or_fail(c, sql);
	char *v = NULL;

	if (PQntuples(r) > 0 && PQnfields(r) > 0 && !PQgetisnull(r, 0, 0))
		v = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return v;
}

long sgt_sql_long(const char *dsn, const char *sql)
{
	char *v = sgt_sql_value(dsn, sql);
	char *end = NULL;
	long n;

	if (v == NULL)
		cr_assert_fail("SQL returned NULL or no row, wanted a number: %s", sql);
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0') {
		char copy[64];

		snprintf(copy, sizeof copy, "%s", v); /* truncation fine: message only */
		free(v);
		cr_assert_fail("SQL returned \"%s\", not a number: %s", copy, sql);
	}
	free(v);
	return n;
}

void sgt_sql_exec(const char *dsn, const char *sql)
{
	PGconn *c = quiet_connect(dsn);

	PQclear(exec_or_fail(c, sql));
	PQfinish(c);
}

static bool is_url_dsn(const char *dsn)
{
	return strncmp(dsn, "postgres://", 11) == 0 || strncmp(dsn, "postgresql://", 13) == 0;
}

/* dsn with its database replaced by dbname (which needs no quoting). */
static char *dsn_with_db(const char *dsn, const char *dbname)
{
	if (is_url_dsn(dsn)) {
		const char *auth = strstr(dsn, "://") + 3;
		size_t head = (size_t)(auth - dsn) + strcspn(auth, "/?#");
		const char *rest = dsn + head;

		if (*rest == '/')
			rest += 1 + strcspn(rest + 1, "?#");
		return sgt_fmt("%.*s/%s%s", (int)head, dsn, dbname, rest);
	}
	/* key=value form: libpq lets a later keyword override an earlier one. */
	return sgt_fmt("%s dbname=%s", dsn, dbname);
}

/* The database a DSN names, or NULL when it names none. */
static char *dsn_dbname(const char *dsn)
{
	char *errmsg = NULL;
	PQconninfoOption *opts = PQconninfoParse(dsn, &errmsg);
	char *db = NULL;

	if (opts == NULL) {
		char msg[256];

		copy_msg(msg, sizeof msg, errmsg);
		PQfreemem(errmsg);
		cr_assert_fail("cannot parse DSN: %s", msg);
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "dbname") == 0 && o->val != NULL && o->val[0] != '\0')
			db = xstrdup(o->val);
	}
	PQconninfoFree(opts);
	return db;
}

/* Where CREATE/DROP DATABASE run: the test server's own DSN. */
static char *admin_dsn(const char *fallback)
{
	const char *dsn = sgt_pg_dsn();

	if (dsn != NULL)
		return xstrdup(dsn);
	if (fallback != NULL)
		return dsn_with_db(fallback, "postgres");
	cr_assert_fail("SCHEMAGATE_TEST_PG_DSN not set; call sgt_require_services() first");
	return NULL; /* not reached */
}

/* Tests in one process get distinct names; the pid and the clock keep
 * processes and reruns against a long-lived server apart. */
static unsigned sgt_db_counter;

char *sgt_fresh_db(const char *prefix)
{
	char *admin = admin_dsn(NULL);
	char *dsn = sgt_fresh_db_at(admin, prefix);

	free(admin);
	return dsn;
}

char *sgt_fresh_db_at(const char *admin, const char *prefix)
{
	char clean[25];
	char name[64];
	size_t n = 0;
	struct timespec ts;
	PGconn *c;
	char *ident, *sql, *dsn;
	int len;

	for (const char *p = prefix != NULL ? prefix : ""; *p != '\0' && n < sizeof clean - 1;
	     p++) {
		char ch = *p;

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
			ch = '_';
		clean[n++] = ch;
	}
	clean[n] = '\0';
	clock_gettime(CLOCK_REALTIME, &ts);
	len = snprintf(name, sizeof name, "%s_%ld_%u_%06lx", n > 0 ? clean : "sgt", (long)getpid(),
	               ++sgt_db_counter, (unsigned long)(ts.tv_nsec / 1000) & 0xffffffUL);
	if (len < 0 || (size_t)len >= sizeof name)
		cr_assert_fail("database name too long for prefix \"%s\"", prefix);

	c = quiet_connect(admin);
	ident = PQescapeIdentifier(c, name, strlen(name));
	if (ident == NULL)
		cr_assert_fail("PQescapeIdentifier: %s", PQerrorMessage(c));
	sql = sgt_fmt("CREATE DATABASE %s", ident);
	PQfreemem(ident);
	/* Concurrent CREATE DATABASEs (ctest -j) can briefly find template1 busy
	 * (SQLSTATE 55006); that clears within moments, so retry a few times. */
	for (int attempt = 1;; attempt++) {
		PGresult *r = PQexec(c, sql);
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		if (PQresultStatus(r) == PGRES_COMMAND_OK) {
			PQclear(r);
			break;
		}
		if (attempt < 10 && state != NULL && strcmp(state, "55006") == 0) {
			PQclear(r);
			sgt_sleep_ms(200);
			continue;
		}
		{
			char msg[512];

			copy_msg(msg, sizeof msg, PQresultErrorMessage(r));
			PQclear(r);
			PQfinish(c);
			cr_assert_fail("SQL failed: %s\n  error: %s", sql, msg);
		}
	}
	free(sql);
	PQfinish(c);
	dsn = dsn_with_db(admin, name);
	/* On a formation (several hosts in the URL) a standby listed first answers for the new
	 * database only once it has replayed the CREATE: wait for that, bounded generously. */
	for (int waited = 0;; waited += 100) {
		PGconn *t = PQconnectdb(dsn);
		bool ok = PQstatus(t) == CONNECTION_OK;

		if (!ok && waited >= 120000)
			cr_assert_fail("the new database %s never became connectable: %s", name,
			               PQerrorMessage(t));
		PQfinish(t);
		if (ok)
			break;
		sgt_sleep_ms(100);
	}
	return dsn;
}

void sgt_drop_db(const char *dsn)
{
	char *admin = admin_dsn(dsn);

	sgt_drop_db_at(admin, dsn);
	free(admin);
}

void sgt_drop_db_at(const char *admin, const char *dsn)
{
	char *db, *ident, *sql;
	const char *params[1];
	PGconn *c;
	PGresult *r;

	cr_assert_not_null(dsn, "sgt_drop_db: DSN is NULL");
	db = dsn_dbname(dsn);
	if (db == NULL)
		cr_assert_fail("sgt_drop_db: the DSN names no database");
	if (strcmp(db, "postgres") == 0 || strncmp(db, "template", 8) == 0)
		cr_assert_fail("sgt_drop_db: refusing to drop \"%s\"", db);
	c = quiet_connect(admin);

	params[0] = db;
	r = PQexecParams(c,
	                 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
	                 " WHERE datname = $1 AND pid <> pg_backend_pid()",
	                 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		char msg[512];

		copy_msg(msg, sizeof msg, PQresultErrorMessage(r));
		PQclear(r);
		PQfinish(c);
		free(db);
		cr_assert_fail("terminating backends of a test database failed: %s", msg);
	}
	PQclear(r);

	ident = PQescapeIdentifier(c, db, strlen(db));
	free(db);
	if (ident == NULL)
		cr_assert_fail("PQescapeIdentifier: %s", PQerrorMessage(c));
	/* FORCE too: a backend may connect between the terminate and the drop. */
	sql = sgt_fmt("DROP DATABASE IF EXISTS %s WITH (FORCE)", ident);
	PQfreemem(ident);
	PQclear(exec_or_fail(c, sql));
	free(sql);
	PQfinish(c);
}

/* ---- files ---------------------------------------------------------------- */

char *sgt_tmpdir(void)
{
	char *base = tmp_base();
	char *tmpl = sgt_fmt("%s/sgt.XXXXXX", base);

	free(base);
	if (mkdtemp(tmpl) == NULL) {
		int e = errno;
		char copy[PATH_MAX];

		snprintf(copy, sizeof copy, "%s", tmpl); /* message only */
		free(tmpl);
		cr_assert_fail("mkdtemp %s: %s", copy, strerror(e));
	}
	return tmpl;
}

void sgt_rm_rf(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;

	if (path == NULL)
		return;
	if (path[0] == '\0' || strcmp(path, "/") == 0)
		cr_assert_fail("sgt_rm_rf: refusing to remove \"%s\"", path);
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return;
		cr_assert_fail("lstat %s: %s", path, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) != 0 && errno != ENOENT)
			cr_assert_fail("unlink %s: %s", path, strerror(errno));
		return;
	}
	if ((d = opendir(path)) == NULL)
		cr_assert_fail("opendir %s: %s", path, strerror(errno));
	while ((errno = 0, e = readdir(d)) != NULL) {
		char *child;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		child = sgt_fmt("%s/%s", path, e->d_name);
		sgt_rm_rf(child);
		free(child);
	}
	if (errno != 0)
		cr_assert_fail("readdir %s: %s", path, strerror(errno));
	closedir(d);
	if (rmdir(path) != 0 && errno != ENOENT)
		cr_assert_fail("rmdir %s: %s", path, strerror(errno));
}

void sgt_write_file(const char *dir, const char *name, const char *content)
{
	char *path = sgt_fmt("%s/%s", dir, name);
	size_t len = strlen(content);
	FILE *f;

	/* Create the folders inside name, e.g. "migrations/" in "migrations/x.sql". */
	for (char *slash = path + strlen(dir) + 1; (slash = strchr(slash, '/')) != NULL; slash++) {
		*slash = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			cr_assert_fail("mkdir %s: %s", path, strerror(errno));
		*slash = '/';
	}
	if ((f = fopen(path, "wb")) == NULL)
		cr_assert_fail("open %s: %s", path, strerror(errno));
	if (fwrite(content, 1, len, f) != len) {
		int e = errno;

		fclose(f);
		cr_assert_fail("write %s: %s", path, strerror(e));
	}
	if (fclose(f) != 0)
		cr_assert_fail("close %s: %s", path, strerror(errno));
	free(path);
}

char *sgt_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, len = 0;
	char *buf;

	if (f == NULL) {
		if (errno == ENOENT)
			return NULL;
		cr_assert_fail("open %s: %s", path, strerror(errno));
	}
	buf = xcalloc(cap, 1);
	for (;;) {
		size_t got = fread(buf + len, 1, cap - len - 1, f);

		len += got;
		if (len + 1 < cap)
			break; /* short read: end of file or error */
		cap *= 2;
		buf = realloc(buf, cap);
		if (buf == NULL)
			cr_assert_fail("out of memory reading %s", path);
	}
	if (ferror(f)) {
		int e = errno;

		fclose(f);
		free(buf);
		cr_assert_fail("read %s: %s", path, strerror(e));
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* ---- processes ------------------------------------------------------------ */

static char *make_capture_file(const char *what, int *fd)
{
	char *base = tmp_base();
	char *path = sgt_fmt("%s/sgt-%s.XXXXXX", base, what);

	free(base);
	if ((*fd = mkstemp(path)) < 0)
		cr_assert_fail("mkstemp %s: %s", path, strerror(errno));
	return path;
}

/* Drops every "KEY=..." entry of env (n entries) whose key is key[0..keylen). */
static size_t env_remove(const char **env, size_t n, const char *key, size_t keylen)
{
	size_t w = 0;

	for (size_t r = 0; r < n; r++) {
		if (strncmp(env[r], key, keylen) == 0 && env[r][keylen] == '=')
			continue;
		env[w++] = env[r];
	}
	env[w] = NULL;
	return w;
}

/* The child's environment: ours plus the edits. Entries are borrowed. */
static const char **build_env(const char *const env_extra[])
{
	size_t n = 0, extra = 0;
	const char **env;

	while (environ[n] != NULL)
		n++;
	while (env_extra != NULL && env_extra[extra] != NULL)
		extra++;
	env = xcalloc(n + extra + 1, sizeof *env);
	for (size_t i = 0; i < n; i++)
		env[i] = environ[i];
	for (size_t i = 0; i < extra; i++) {
		const char *entry = env_extra[i];
		const char *eq = strchr(entry, '=');

		if (entry[0] == '-' && eq == NULL && entry[1] != '\0') {
			n = env_remove(env, n, entry + 1, strlen(entry + 1));
		} else if (eq != NULL && eq != entry) {
			n = env_remove(env, n, entry, (size_t)(eq - entry));
			env[n++] = entry;
			env[n] = NULL;
		} else {
			cr_assert_fail("sgt_spawn: env entry \"%s\" is neither KEY=VALUE nor -KEY",
			               entry);
		}
	}
	return env;
}

/* Closes every descriptor from low up. Runs between fork and exec, so only
 * async-signal-safe calls. */
static void close_fds_from(int low)
{
	long max;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)low, ~0U, 0U) == 0)
		return;
#endif
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = low; fd < max; fd++)
		close(fd);
}

/* Child side of sgt_spawn(); never returns. */
static void exec_child(const char *path, const char **argv, const char **envp, int out_fd,
                       int err_fd)
{
	static const char msg[] = "sgt_spawn: cannot execute the program\n";
	static const int reset[] = {SIGPIPE, SIGINT,  SIGQUIT, SIGTERM, SIGHUP,
	                            SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};
	sigset_t none;
	int null_fd = open("/dev/null", O_RDONLY);

	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
	    dup2(err_fd, STDERR_FILENO) < 0)
		_exit(127);
	close_fds_from(3);
	/* The test runner may block or ignore signals; the binary under test
	 * must start with the defaults, as in production. */
	for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++)
		signal(reset[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(path, (char *const *)argv, (char *const *)envp);
	if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0)
		_exit(127);
	_exit(127);
}

/* Starts path with argv (argv[0] included) and our environment plus env_extra. */
static struct sgt_proc *spawn_path(const char *path, const char *const argv[],
                                   const char *const env_extra[])
{
	struct sgt_proc *p = xcalloc(1, sizeof *p);
	size_t argc = 0;
	const char **args, **envp;
	int out_fd, err_fd;

	p->status = -1;
	p->out_path = make_capture_file("out", &out_fd);
	p->err_path = make_capture_file("err", &err_fd);
	while (argv != NULL && argv[argc] != NULL)
		argc++;
	args = xcalloc(argc + 1, sizeof *args);
	for (size_t i = 0; i < argc; i++)
		args[i] = argv[i];
	envp = build_env(env_extra);

	fflush(stdout);
	fflush(stderr);
	p->pid = fork();
	if (p->pid == 0)
		exec_child(path, args, envp, out_fd, err_fd);
	close(out_fd);
	close(err_fd);
	free(args);
	free(envp);
	if (p->pid < 0)
		cr_assert_fail("fork: %s", strerror(errno));
	return p;
}

struct sgt_proc *sgt_spawn(const char *const argv[], const char *const env_extra[])
{
	size_t argc = 0;
	const char **args;
	struct sgt_proc *p;

	while (argv != NULL && argv[argc] != NULL)
		argc++;
	/* argv[0] is ignored: the binary under test is always the one built. */
	args = xcalloc(argc + 2, sizeof *args);
	args[0] = SG_TEST_BINARY;
	for (size_t i = 1; i < argc; i++)
		args[i] = argv[i];
	p = spawn_path(SG_TEST_BINARY, args, env_extra);
	free(args);
	return p;
}

struct sgt_proc *sgt_service_spawn(const char *script, const char *action)
{
	char *path = sgt_fmt("%s/ci/%s", SG_SOURCE_DIR, script);
	char *quoted = shell_quote(path);
	char *cmd = sgt_fmt("bash %s %s", quoted, action);
	const char *argv[] = {"sh", "-c", cmd, NULL};
	struct sgt_proc *p = spawn_path("/bin/sh", argv, NULL);

	free(path);
	free(quoted);
	free(cmd);
	return p;
}

static int decode_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

int sgt_wait(struct sgt_proc *p, int timeout_ms)
{
	long long deadline = proc_now_ms() + timeout_ms;
	long nap = 1;

	cr_assert_not_null(p, "sgt_wait: NULL process");
	while (p->status == -1) {
		int st;
		pid_t r = waitpid(p->pid, &st, WNOHANG);

		if (r == p->pid) {
			p->status = decode_status(st);
			break;
		}
		if (r < 0 && errno != EINTR)
			cr_assert_fail("waitpid %ld: %s", (long)p->pid, strerror(errno));
		if (proc_now_ms() >= deadline) {
			char *err;
			size_t len;

			kill(p->pid, SIGKILL);
			while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
				;
			p->status = 128 + SIGKILL;
			err = sgt_stderr(p);
			len = strlen(err);
			/* The failure below ends the test before it can sgt_proc_free(). */
			unlink(p->out_path);
			unlink(p->err_path);
			cr_assert_fail(
			    "child process %ld still running after %d ms; killed it. stderr%s:\n%s",
			    (long)p->pid, timeout_ms, len > SGT_STDERR_TAIL ? " (tail)" : "",
			    len > SGT_STDERR_TAIL ? err + len - SGT_STDERR_TAIL : err);
		}
		sgt_sleep_ms(nap);
		if (nap < 20)
			nap *= 2;
	}
	return p->status;
}

bool sgt_exited(struct sgt_proc *p)
{
	int st;

	cr_assert_not_null(p, "sgt_exited: NULL process");
	if (p->status == -1 && waitpid(p->pid, &st, WNOHANG) == p->pid)
		p->status = decode_status(st);
	return p->status != -1;
}

void sgt_signal(struct sgt_proc *p, int sig)
{
	cr_assert_not_null(p, "sgt_signal: NULL process");
	if (p->status != -1)
		cr_assert_fail("sgt_signal: pid %ld already exited with status %d", (long)p->pid,
		               p->status);
	if (kill(p->pid, sig) != 0)
		cr_assert_fail("kill %ld: %s", (long)p->pid, strerror(errno));
}

char *sgt_stdout(const struct sgt_proc *p)
{
	char *s = sgt_read_file(p->out_path);

	return s != NULL ? s : xstrdup("");
}

char *sgt_stderr(const struct sgt_proc *p)
{
	char *s = sgt_read_file(p->err_path);

	return s != NULL ? s : xstrdup("");
}

void sgt_proc_free(struct sgt_proc *p)
{
	if (p == NULL)
		return;
	if (p->status == -1 && p->pid > 0) {
		int st;

		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	if (p->out_path != NULL)
		unlink(p->out_path);
	if (p->err_path != NULL)
		unlink(p->err_path);
	free(p->out_path);
	free(p->err_path);
	free(p);
}

int sgt_run(const char *const argv[], const char *const env_extra[], char **out, char **errout,
            int timeout_ms)
{
	struct sgt_proc *p = sgt_spawn(argv, env_extra);
	int rc = sgt_wait(p, timeout_ms);

	if (out != NULL)
		*out = sgt_stdout(p);
	if (errout != NULL)
		*errout = sgt_stderr(p);
	sgt_proc_free(p);
	return rc;
}

char *sgt_dsn_with(const char *dsn, const char *dbname, const char *user, const char *password)
{
	PQconninfoOption *opts = PQconninfoParse(dsn, NULL);
	const char *host = "127.0.0.1", *port = "5432", *db = "postgres", *u = "sgtest";
	char *out;

	cr_assert_not_null(opts, "unparsable test DSN");
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
		else if (strcmp(o->keyword, "user") == 0)
			u = o->val;
	}
	out = sgt_fmt("host=%s port=%s dbname=%s user=%s sslmode=disable%s%s", host, port,
	              dbname != NULL ? dbname : db, user != NULL ? user : u,
	              password != NULL ? " password=" : "", password != NULL ? password : "");
	PQconninfoFree(opts);
	return out;
}

void sgt_case_open(const char *prefix, char **dsn, char **dir)
{
	*dsn = sgt_fresh_db(prefix);
	*dir = sgt_tmpdir();
}

void sgt_case_close(char **dsn, char **dir)
{
	if (*dsn != NULL)
		sgt_drop_db(*dsn);
	if (*dir != NULL)
		sgt_rm_rf(*dir);
	free(*dsn);
	free(*dir);
	*dsn = *dir = NULL;
}
