/* test_ha_migrate.c - migrate across a real failover (pg_auto_failover, ci/ha.sh): the same
 * processes reconnect to the new primary and finish, every version applied once. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "proc.h"
#include "sgt.h"

/* Files of a run; the gate file holds the run in its middle until the fault. */
#define NMIG 200
#define GATE_VERSION 50
/* The advisory lock key the gate file waits on; the test holds it. Advisory locks are
 * per database, and each test has a database of its own. */
#define GATE_KEY 20200020
/* Generous bounds: a failover takes as long as it takes (about 5 s to a writable primary
 * and 10-20 s to a healthy pair here); these only stop a hung test. */
#define RUN_MS 300000
#define PROGRESS_MS 120000
#define RACERS 5

static char *dsn;
static char *dir;

static void setup(void)
{
	sgt_require_ha();
	/* A previous test's failover may still be settling. */
	sgt_service("ha.sh", "wait");
	dsn = sgt_fresh_db_at(sgt_ha_dsn(), "ha");
	dir = sgt_tmpdir();
}

static void teardown(void)
{
	if (dsn != NULL) {
		sgt_service("ha.sh", "wait");
		sgt_drop_db_at(sgt_ha_dsn(), dsn);
	}
	if (dir != NULL)
		sgt_rm_rf(dir);
	free(dsn);
	free(dir);
	dsn = dir = NULL;
}

TestSuite(ha_migrate, .init = setup, .fini = teardown, .timeout = 600);

/* NMIG transactional files; each creates t_<v> and records itself in `applied` (created by
 * the first), so that a version whose body ran twice shows up as a duplicate there. The
 * gate file first waits for GATE_KEY (with no lock timeout: it waits as long as the test
 * holds the key). */
static void write_migrations(void)
{
	for (int v = 1; v <= NMIG; v++) {
		char name[64];
		char *sql = sgt_fmt(
		    "%s%s%s"
		    "CREATE TABLE t_%d (id int PRIMARY KEY);\n"
		    "INSERT INTO applied VALUES (%d);\n",
		    v == GATE_VERSION ? "-- schemagate:lock-timeout=0\n" : "",
		    v == 1 ? "CREATE TABLE applied (v int NOT NULL);\n" : "",
		    v == GATE_VERSION ? "SELECT pg_advisory_xact_lock(20200020);\n" : "", v, v);

		snprintf(name, sizeof name, "%06d_t%d.up.sql", v, v);
		sgt_write_file(dir, name, sql);
		free(sql);
	}
}

/* The environment of one migrate process: the formation's multi-host URL, the default
 * connect budget (10 attempts, 1 s doubling to 30 s), Redis when redis is true. */
struct menv {
	char url[1024], migdir[1024], pod[64], redis[512];
	const char *v[12];
};

static const char *const *migrate_env(struct menv *e, int n, bool redis, bool fail_fast)
{
	size_t i = 0;

	snprintf(e->url, sizeof e->url, "DATABASE_URL=%s", dsn);
	snprintf(e->migdir, sizeof e->migdir, "MIGRATIONS_DIR=%s", dir);
	snprintf(e->pod, sizeof e->pod, "POD_NAME=ha-%d", n);
	snprintf(e->redis, sizeof e->redis, "REDIS_URL=%s", redis ? sgt_redis_url() : "");
	e->v[i++] = e->url;
	e->v[i++] = e->migdir;
	e->v[i++] = e->pod;
	e->v[i++] = redis ? e->redis : "-REDIS_URL";
	e->v[i++] = fail_fast ? "MIGRATIONS_FAIL_FAST=true" : "MIGRATIONS_FAIL_FAST=false";
	e->v[i++] = "SCHEMAGATE_LOG_FORMAT=text";
	e->v[i++] = "-DATABASE_SEARCH_PATH";
	e->v[i++] = "-SCHEMAGATE_CONFIG";
	e->v[i++] = "-SCHEMAGATE_CONNECT_ATTEMPTS";
	e->v[i++] = "-SCHEMAGATE_CONNECT_BASE_DELAY";
	e->v[i++] = "-SCHEMAGATE_CONNECT_MAX_DELAY";
	e->v[i] = NULL;
	return e->v;
}

static const char *const migrate_argv[] = {"schemagate", "migrate", NULL};

/* A session of the test's own on the primary, holding GATE_KEY: the gate file waits for
 * it. The failover ends this session with the old primary. */
static PGconn *hold_gate(void)
{
	PGconn *c = sgt_connect(dsn);
	PGresult *r = PQexec(c, "SELECT pg_advisory_lock(20200020)");

	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
	PQclear(r);
	return c;
}

/* Backends of the test database waiting for lock `what` (a pg_locks condition). */
static long waiting_for(const char *what)
{
	char *sql = sgt_fmt("SELECT count(*) FROM pg_locks WHERE NOT granted AND database = "
	                    "(SELECT oid FROM pg_database WHERE datname = current_database()) "
	                    "AND %s",
	                    what);
	long n = sgt_sql_long(dsn, sql);

	free(sql);
	return n;
}

/* Waits until a migrate process is inside the gate file, waiting for the test's key. */
static void wait_at_gate(struct sgt_proc *const *procs, int nprocs)
{
	long long deadline = proc_now_ms() + PROGRESS_MS;

	while (waiting_for("locktype = 'advisory' AND objid = 20200020") < 1) {
		for (int i = 0; i < nprocs; i++)
			cr_assert(!sgt_exited(procs[i]), "migrate %d ended before the gate: %s", i,
			          sgt_stderr(procs[i]));
		cr_assert_lt(proc_now_ms(), deadline, "no migrate reached the gate file: %s",
		             sgt_stderr(procs[0]));
		sgt_sleep_ms(50);
	}
}

/* Every version applied exactly once, its body included, and nothing dirty. */
static void assert_applied_once(void)
{
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(*) FROM applied"), NMIG,
	             "bodies run (duplicates count twice)");
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(DISTINCT v) FROM applied"), NMIG);
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(*) FROM pg_class WHERE relkind = 'r' "
	                               "AND relname ~ '^t_[0-9]+$'"),
	             NMIG);
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(DISTINCT version) FROM schemagate_migrations"),
	             NMIG);
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations"), NMIG);
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE dirty"),
	             0);
}

/* One migrate across fault ("failover" or "kill-primary" of ci/ha.sh) hitting the gate
 * file; returns its exit code and stderr. */
static int one_run_across(const char *fault, bool fail_fast, char **err)
{
	struct menv e;
	struct sgt_proc *p;
	PGconn *gate;
	long long t0;
	int rc;

	write_migrations();
	gate = hold_gate();
	p = sgt_spawn(migrate_argv, migrate_env(&e, 0, false, fail_fast));
	wait_at_gate(&p, 1);
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(*) FROM applied"), GATE_VERSION - 1,
	             "the run should stand right before the gate file");
	t0 = proc_now_ms();
	sgt_service("ha.sh", fault);
	PQfinish(gate);
	rc = sgt_wait(p, RUN_MS);
	*err = sgt_stderr(p);
	cr_log_info("%s: migrate exited %d; %lld ms from the fault's start to the formation "
	            "healthy again and migrate's exit, whichever came last",
	            fault, rc, proc_now_ms() - t0);
	sgt_proc_free(p);
	return rc;
}

/* The single process finished the work of its one run. */
static void assert_one_run_succeeded(const char *err)
{
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs"), 1,
	             "one run, continued across the fault: %s", err);
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs WHERE "
	                               "outcome = 'succeeded' AND reached_version = 200"),
	             1);
}

Test(ha_migrate, failover_during_200_files_one_process_exit_0)
{
	char *err = NULL;
	int rc = one_run_across("failover", true, &err);

	cr_assert_eq(rc, 0, "migrate did not survive the failover (exit %d): %s", rc, err);
	assert_applied_once();
	assert_one_run_succeeded(err);
	/* Said as a lost connection, not as an error of the file. */
	cr_expect(sgt_contains(err, "connection lost while applying 000050_t50.up.sql"), "%s", err);
	cr_expect(sgt_contains(err, "reconnecting"), "%s", err);
	cr_expect(!sgt_contains(err, "000050_t50.up.sql:"), "reported as the file's error: %s",
	          err);
	cr_expect(sgt_contains(err, "committed durably at version 200"), "%s", err);
	free(err);
}

Test(ha_migrate, postmaster_sigkill_one_process_exit_0)
{
	char *err = NULL;
	int rc = one_run_across("kill-primary", true, &err);

	cr_assert_eq(rc, 0, "migrate did not survive the crash (exit %d): %s", rc, err);
	assert_applied_once();
	assert_one_run_succeeded(err);
	free(err);
}

/* MIGRATIONS_FAIL_FAST=false is about the migration's own SQL: a lost database is
 * retried, and exit 0 below the target never happens. */
Test(ha_migrate, fail_fast_false_failover_never_exits_0_below_target)
{
	char *err = NULL;
	int rc = one_run_across("failover", false, &err);
	long head;

	head = sgt_sql_long(dsn, "SELECT coalesce(max(version), 0) FROM schemagate_migrations");
	cr_assert(rc != 0 || head == NMIG, "exit 0 at version %ld of %d: %s", head, NMIG, err);
	cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
	assert_applied_once();
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs "
	                               "WHERE outcome = 'failed'"),
	             0, "a lost connection recorded as a failed migration: %s", err);
	free(err);
}

/* RACERS replicas at once, one of them inside the gate file when the primary fails over:
 * all exit 0 (followers keep waiting across the failover), every version once. */
static void racers_across_failover(bool redis)
{
	struct menv e[RACERS];
	struct sgt_proc *p[RACERS];
	PGconn *gate;

	write_migrations();
	gate = hold_gate();
	for (int i = 0; i < RACERS; i++)
		p[i] = sgt_spawn(migrate_argv, migrate_env(&e[i], i, redis, true));
	wait_at_gate(p, RACERS);
	sgt_service("ha.sh", "failover");
	PQfinish(gate);
	for (int i = 0; i < RACERS; i++) {
		int rc = sgt_wait(p[i], RUN_MS);
		char *err = sgt_stderr(p[i]);

		cr_expect_eq(rc, 0, "racer %d exited %d: %s", i, rc, err);
		free(err);
	}
	for (int i = 0; i < RACERS; i++)
		sgt_proc_free(p[i]);
	assert_applied_once();
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs "
	                               "WHERE outcome = 'failed'"),
	             0);
	cr_assert_geq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations_runs WHERE "
	                                "outcome = 'succeeded' AND reached_version = 200"),
	              1);
}

Test(ha_migrate, five_racers_with_redis_across_a_failover)
{
	racers_across_failover(true);
}

Test(ha_migrate, five_racers_without_redis_across_a_failover)
{
	racers_across_failover(false);
}

/* The index named by `name` exists and is valid (1), exists INVALID (0), or is missing (-1). */
static long index_state(const char *name)
{
	char *sql = sgt_fmt("SELECT coalesce((SELECT i.indisvalid::int FROM pg_index i JOIN "
	                    "pg_class c ON c.oid = i.indexrelid WHERE c.relname = '%s'), -1)",
	                    name);
	long v = sgt_sql_long(dsn, sql);

	free(sql);
	return v;
}

/* A failover while CREATE INDEX CONCURRENTLY (the third statement of a no-transaction
 * file) waits with its INVALID index already in the catalog: the same process resumes at
 * that statement, drops the INVALID index concurrently, builds it again and goes on; the
 * index the first statement built stays as it was. No force, no person. */
Test(ha_migrate, failover_inside_a_create_index_concurrently_file)
{
	static const char *const first_argv[] = {"schemagate", "migrate", "--target", "1", NULL};
	struct menv e;
	struct sgt_proc *p;
	PGconn *gate, *writer;
	PGresult *r;
	char *err = NULL, *oid_a, *oid_a_after;
	long long deadline;
	int rc;

	sgt_write_file(dir, "000001_big.up.sql",
	               "CREATE TABLE big (id int PRIMARY KEY, v int);\n"
	               "INSERT INTO big SELECT g, g % 100 FROM generate_series(1, 20000) g;\n");
	sgt_write_file(dir, "000002_indexes.up.sql",
	               "-- schemagate:no-transaction\n"
	               "-- schemagate:lock-timeout=0\n"
	               "CREATE INDEX CONCURRENTLY big_v_a ON big (v);\n"
	               "SELECT pg_advisory_xact_lock(20200020);\n"
	               "CREATE INDEX CONCURRENTLY big_v_b ON big (v, id);\n"
	               "CREATE INDEX CONCURRENTLY big_id_c ON big (id, v);\n");
	rc = sgt_run(first_argv, migrate_env(&e, 0, false, true), NULL, &err, RUN_MS);
	cr_assert_eq(rc, 0, "%s", err);
	free(err);
	err = NULL;

	gate = hold_gate();
	p = sgt_spawn(migrate_argv, migrate_env(&e, 0, false, true));
	/* Statement 1 done, statement 2 waiting at the gate. */
	wait_at_gate(&p, 1);
	cr_assert_eq(index_state("big_v_a"), 1);
	oid_a = sgt_sql_value(dsn, "SELECT 'big_v_a'::regclass::oid::text");
	/* An open writing transaction on big: statement 3's CREATE INDEX CONCURRENTLY puts its
	 * INVALID index in the catalog, then waits for this transaction to end. */
	writer = sgt_connect(dsn);
	r = PQexec(writer, "BEGIN; INSERT INTO big VALUES (0, 0)");
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(writer));
	PQclear(r);
	r = PQexec(gate, "SELECT pg_advisory_unlock(20200020)");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(gate));
	PQclear(r);
	deadline = proc_now_ms() + PROGRESS_MS;
	while (index_state("big_v_b") != 0 ||
	       sgt_sql_long(dsn, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
	                         "current_database() AND wait_event_type = 'Lock' AND "
	                         "position('INDEX CONCURRENTLY big_v_b' IN query) > 0") < 1) {
		cr_assert(!sgt_exited(p), "migrate ended early: %s", sgt_stderr(p));
		cr_assert_lt(proc_now_ms(), deadline, "CREATE INDEX CONCURRENTLY never waited: %s",
		             sgt_stderr(p));
		sgt_sleep_ms(50);
	}
	sgt_service("ha.sh", "failover");
	PQfinish(writer);
	PQfinish(gate);
	rc = sgt_wait(p, RUN_MS);
	err = sgt_stderr(p);
	sgt_proc_free(p);

	cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
	cr_assert_eq(index_state("big_v_a"), 1);
	cr_assert_eq(index_state("big_v_b"), 1, "the INVALID index was not rebuilt: %s", err);
	cr_assert_eq(index_state("big_id_c"), 1);
	oid_a_after = sgt_sql_value(dsn, "SELECT 'big_v_a'::regclass::oid::text");
	cr_assert_str_eq(oid_a_after, oid_a,
	                 "the valid index of statement 1 was dropped or rebuilt");
	cr_assert_eq(sgt_sql_long(dsn, "SELECT count(*) FROM schemagate_migrations WHERE "
	                               "version = 2 AND NOT dirty"),
	             1, "%s", err);
	free(oid_a);
	free(oid_a_after);
	free(err);
}
