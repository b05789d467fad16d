/* test_memory.c - migrate and serve stay near one copy of the largest migration file (peak RSS
 * of the real processes, from the kernel's high-water mark). */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sgt.h"
#include "sgt_http.h"

static char *dsn;
static char *dir;

static void setup(void)
{
	sgt_require_services();
	sgt_case_open("mem", &dsn, &dir);
}

static void teardown(void)
{
	sgt_case_close(&dsn, &dir);
}

TestSuite(memory, .init = setup, .fini = teardown, .timeout = 180);

#define BIG_MB 40L /* MiB */

/* A migration of BIG_MB MiB: one statement holding a long string literal. */
static void write_big_file(void)
{
	char *path = sgt_fmt("%s/000001_big.up.sql", dir);
	FILE *f = fopen(path, "w");
	char chunk[4096];

	cr_assert_not_null(f);
	memset(chunk, 'x', sizeof chunk);
	fputs("CREATE TABLE big AS SELECT length('", f);
	for (long i = 0; i < BIG_MB * 256; i++)
		fwrite(chunk, 1, sizeof chunk, f);
	fputs("') AS n;\n", f);
	cr_assert_eq(fclose(f), 0);
	free(path);
}

/* Runs schemagate and returns its peak RSS in KiB (ru_maxrss of the child). */
static long run_peak_kib(const char *const argv[], int *status)
{
	struct rusage ru;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char u[1024], m[1024];

		snprintf(u, sizeof u, "%s", dsn);
		setenv("DATABASE_URL", u, 1);
		snprintf(m, sizeof m, "%s", dir);
		setenv("MIGRATIONS_DIR", m, 1);
		unsetenv("REDIS_URL");
		unsetenv("DATABASE_SEARCH_PATH");
		if (freopen("/dev/null", "w", stdout) == NULL ||
		    freopen("/dev/null", "w", stderr) == NULL)
			_exit(127);
		execv(SG_TEST_BINARY, (char *const *)argv);
		_exit(127);
	}
	cr_assert_eq(wait4(pid, status, 0, &ru), pid);
	return ru.ru_maxrss;
}

/* Runs schemagate migrate, which must succeed; returns its peak RSS in KiB. */
static long migrate_peak_kib(void)
{
	const char *argv[] = {"schemagate", "migrate", NULL};
	int status = 0;
	long kib = run_peak_kib(argv, &status);

	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "migrate failed: %d", status);
	return kib;
}

Test(memory, migrate_peak_rss_near_one_copy_of_the_file)
{
	long kib;

#if defined(__SANITIZE_ADDRESS__)
	cr_skip_test("peak RSS means nothing in an ASan build (shadow memory, quarantine)");
#endif
	write_big_file();
	kib = migrate_peak_kib();
	cr_expect_eq(sgt_sql_long(dsn, "SELECT n FROM big"), BIG_MB * 1024 * 1024);
	cr_log_info("migrate of a %ld MiB file: peak RSS %ld MiB", BIG_MB, kib / 1024);
	/* Our copy of the file, libpq's send buffer and libpq's own copy of the
	 * query text (kept for error reports): three copies plus the program. The
	 * old protocol (BEGIN + a copy of the file) peaked above four (213 MB for
	 * 50 MB). */
	cr_expect_lt(kib, (long)(3.5 * BIG_MB * 1024), "peak RSS %ld KiB for a %ld MiB file", kib,
	             BIG_MB);
}

/* Every pod start runs migrate at the head: it hashes the files without keeping their text
 * (it used to hold the whole folder: 40 MiB more here). */
Test(memory, noop_migrate_keeps_no_migration_text)
{
	long kib;

#if defined(__SANITIZE_ADDRESS__)
	cr_skip_test("peak RSS means nothing in an ASan build (shadow memory, quarantine)");
#endif
	write_big_file();
	(void)migrate_peak_kib();
	kib = migrate_peak_kib(); /* now a no-op */
	cr_log_info("no-op migrate over a %ld MiB file: peak RSS %ld MiB", BIG_MB, kib / 1024);
	cr_expect_lt(kib, BIG_MB * 1024 / 2, "peak RSS %ld KiB for a no-op over a %ld MiB file",
	             kib, BIG_MB);
}

/* VmHWM of a running process, in KiB (-1 when unreadable). */
static long vm_hwm_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* serve needs versions and checksums only: it never holds a file's text
 * (before, it kept every file: about 1x the folder more). */
Test(memory, serve_keeps_no_migration_text)
{
	const char *argv[] = {"schemagate", "migrate", NULL};
	int status = 0, port = sgt_http_free_port();
	const char *extra[] = {"--dir", dir, "--expect-version", "1", NULL};
	struct sgt_proc *srv;
	long kib;

#if defined(__SANITIZE_ADDRESS__)
	cr_skip_test("peak RSS means nothing in an ASan build (shadow memory, quarantine)");
#endif
	write_big_file();
	(void)run_peak_kib(argv, &status);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "migrate failed: %d", status);
	srv = sgt_serve_start(dsn, port, extra);
	cr_expect_geq(sgt_http_wait_status(port, "/readyz", 200, 15000), 0);
	kib = vm_hwm_kib(srv->pid);
	sgt_signal(srv, SIGTERM);
	sgt_wait(srv, 15000);
	sgt_proc_free(srv);
	cr_log_info("serve with a %ld MiB migration: peak RSS %ld MiB", BIG_MB, kib / 1024);
	cr_assert_gt(kib, 0);
	cr_expect_lt(kib, BIG_MB * 1024 / 2, "serve peaked at %ld KiB with a %ld MiB file", kib,
	             BIG_MB);
}

/* baseline --from golang-migrate loaded the whole foreign table before refusing more than one
 * row (3 M rows: 173 MiB). It now asks for two. 1 M rows: 64 MiB peak before, 11 MiB now. */
Test(memory, baseline_from_golang_migrate_reads_at_most_two_rows)
{
	const char *argv[] = {"schemagate", "baseline", "--from", "golang-migrate", NULL};
	int status = 0;
	long kib;

#if defined(__SANITIZE_ADDRESS__)
	cr_skip_test("peak RSS means nothing in an ASan build (shadow memory, quarantine)");
#endif
	sgt_write_file(dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
	sgt_sql_exec(dsn, "CREATE TABLE schema_migrations (version bigint NOT NULL, dirty boolean "
	                  "NOT NULL);"
	                  "INSERT INTO schema_migrations SELECT g, false FROM "
	                  "generate_series(1, 1000000) g");
	kib = run_peak_kib(argv, &status);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 2, "baseline exited %d", status);
	cr_log_info("baseline --from golang-migrate over 1 M rows: peak RSS %ld KiB", kib);
	cr_expect_lt(kib, 25 * 1024, "peak RSS %ld KiB: the whole table was read", kib);
}
