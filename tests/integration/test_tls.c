/* test_tls.c - TLS to PostgreSQL through libpq's sslmode/sslrootcert, on a second server with a
 * self-signed CA. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/wait.h>
#include <unistd.h>

#include "sgt.h"
#include "sgt_http.h"

#define PG_BIN "/usr/lib/postgresql/15/bin"

static char *tmp; /* CA, certificates, data directory, log */
static int port;
static bool started;

/* Runs a shell command (as the PostgreSQL OS user when as_pg); fails the
 * test, quoting the log, unless it exits 0. Takes ownership of cmd. */
static void sh(bool as_pg, char *cmd)
{
	const char *user = getenv("SCHEMAGATE_TEST_PG_USER");
	char *full;
	int rc;

	if (as_pg && geteuid() == 0 && user != NULL && strcmp(user, "root") != 0)
		full = sgt_fmt("cd / && runuser -u '%s' -- sh -c '%s' >>'%s/cmd.log' 2>&1", user,
		               cmd, tmp);
	else
		full = sgt_fmt("cd / && sh -c '%s' >>'%s/cmd.log' 2>&1", cmd, tmp);
	fflush(stdout);
	fflush(stderr);
	rc = system(full);
	free(full);
	if (rc != 0) {
		char *p = sgt_fmt("%s/cmd.log", tmp), *log = sgt_read_file(p);

		cr_assert_fail("command failed (%d): %s\n%s", rc, cmd, log != NULL ? log : "");
	}
	free(cmd);
}

static void setup(void)
{
	const char *user = getenv("SCHEMAGATE_TEST_PG_USER");

	sgt_require_services();
	tmp = sgt_tmpdir();
	port = sgt_http_free_port();
	cr_assert_gt(port, 0);
	/* A CA, a server certificate it signs (SAN localhost and 127.0.0.1), and
	 * an unrelated CA. EC keys: fast to make. */
	sh(false,
	   sgt_fmt("cd %s && "
	           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	           "-days 2 -subj /CN=sgt-ca -keyout ca.key -out ca.crt && "
	           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	           "-days 2 -subj /CN=sgt-wrong-ca -keyout wrong.key -out wrong.crt && "
	           "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	           "-subj /CN=localhost -keyout server.key -out server.csr && "
	           "printf \"subjectAltName=DNS:localhost,IP:127.0.0.1\\n\" > san.ext && "
	           "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
	           "-days 2 -extfile san.ext -out server.crt && chmod 600 server.key",
	           tmp));
	if (geteuid() == 0 && user != NULL)
		sh(false, sgt_fmt("chown -R %s: %s", user, tmp));
	sh(true, sgt_fmt(PG_BIN
	                 "/initdb -D %s/pgdata -U sgtest --auth-local=trust "
	                 "--auth-host=trust --encoding=UTF8 --locale=C --no-sync --no-instructions",
	                 tmp));
	/* TLS only over TCP: no plain host line in pg_hba.conf. */
	sh(true,
	   sgt_fmt(
	       "cd %s && printf \"local all all trust\\nhostssl all all 127.0.0.1/32 trust\\n\" "
	       "> pgdata/pg_hba.conf && printf \"\\nport = %d\\nlisten_addresses = "
	       "\\047127.0.0.1\\047\\nunix_socket_directories = \\047%s\\047\\nssl = on\\n"
	       "ssl_cert_file = \\047%s/server.crt\\047\\nssl_key_file = \\047%s/server.key\\047\\n"
	       "max_connections = 20\\nshared_buffers = 16MB\\n\" >> pgdata/postgresql.conf",
	       tmp, port, tmp, tmp, tmp));
	sh(true, sgt_fmt(PG_BIN "/pg_ctl -D %s/pgdata -l %s/pg.log -w -t 60 -s start", tmp, tmp));
	started = true;
}

static void teardown(void)
{
	if (started)
		sh(true, sgt_fmt(PG_BIN "/pg_ctl -D %s/pgdata -m immediate -w -t 60 -s stop", tmp));
	started = false;
	sgt_rm_rf(tmp);
	free(tmp);
	tmp = NULL;
}

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 120);

static int migrate(const char *url, const char *dir, char **err)
{
	const char *argv[] = {"schemagate", "migrate", NULL};
	char *u = sgt_fmt("DATABASE_URL=%s", url), *m = sgt_fmt("MIGRATIONS_DIR=%s", dir);
	const char *env[] = {u,
	                     m,
	                     "SCHEMAGATE_CONNECT_ATTEMPTS=2",
	                     "SCHEMAGATE_CONNECT_BASE_DELAY=10ms",
	                     "SCHEMAGATE_LOG_FORMAT=text",
	                     "-DATABASE_SEARCH_PATH",
	                     "-REDIS_URL",
	                     "-SCHEMAGATE_CONFIG",
	                     "-PGSSLMODE",
	                     "-PGSSLROOTCERT",
	                     NULL};
	int rc = sgt_run(argv, env, NULL, err, 60000);

	free(u);
	free(m);
	return rc;
}

/* verify-full checks the chain against sslrootcert and the host name
 * ("localhost", while hostaddr pins the address) against the SAN. */
static char *url_with(const char *ca, const char *mode)
{
	return sgt_fmt("postgresql://sgtest@localhost:%d/postgres?hostaddr=127.0.0.1&sslmode=%s"
	               "&sslrootcert=%s/%s",
	               port, mode, tmp, ca);
}

Test(tls, verify_full_succeeds_with_the_right_ca_and_fails_with_another)
{
	char *dir = sgt_tmpdir(), *err = NULL;
	char *good = url_with("ca.crt", "verify-full"), *bad = url_with("wrong.crt", "verify-full");
	char *plain = url_with("ca.crt", "disable"), *ssl;

	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE tls_a (id int);\n");

	cr_assert_eq(migrate(good, dir, &err), 0, "%s", err);
	free(err);
	/* The session was encrypted: the server says so. */
	ssl = sgt_sql_value(good, "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
	cr_expect_str_eq(ssl, "true");
	free(ssl);
	cr_expect_eq(sgt_sql_long(good, "SELECT count(*) FROM schemagate_migrations"), 1);

	sgt_write_file(dir, "000002_b.up.sql", "CREATE TABLE tls_b (id int);\n");
	cr_assert_eq(migrate(bad, dir, &err), 3, "%s", err);
	cr_expect(sgt_contains(err, "certificate verify failed"), "%s", err);
	free(err);

	/* Without TLS the server has no pg_hba line for us. */
	cr_assert_eq(migrate(plain, dir, &err), 3, "%s", err);
	cr_expect(sgt_contains(err, "no encryption"), "%s", err);
	free(err);
	cr_expect_eq(sgt_sql_long(good, "SELECT count(*) FROM schemagate_migrations"), 1);

	free(good);
	free(bad);
	free(plain);
	sgt_rm_rf(dir);
	free(dir);
}
