/* test_safety.c - the safety policy (safety_judge) over hand-built measurements: what is refused,
 * what the directive lets through, what the sizes and the limit decide, and the messages. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "catalog.h"
#include "directive.h"
#include "measure.h"
#include "safety.h"

#define MIB (1024LL * 1024)

static struct mig mig = {
    .version = 2, .up_file = "000002_change.up.sql", .up_path = "db/000002_change.up.sql"};
static struct msr_file files[1];
static struct msr_run run;

static void setup(void)
{
	memset(&run, 0, sizeof run);
	files[0].m = &mig;
	mig.allow = 0;
	run.files = calloc(1, sizeof *run.files);
	run.files[0] = files[0];
	run.nfiles = 1;
}

static void teardown(void)
{
	msr_run_free(&run);
}

TestSuite(safety, .init = setup, .fini = teardown);

static struct msr_stmt *stmt(const char *sql)
{
	struct msr_stmt *s;

	run.stmts = realloc(run.stmts, (run.nstmts + 1) * sizeof *run.stmts);
	s = &run.stmts[run.nstmts++];
	memset(s, 0, sizeof *s);
	s->line = 3;
	s->sql = strdup(sql);
	s->in_transaction = true;
	return s;
}

/* A relation entry: a table (table == oid) or an index of table. */
static struct msr_rel *rel(struct msr_stmt *s, unsigned oid, unsigned table, const char *name,
                           enum pglock_mode held, bool rewritten, bool scanned)
{
	struct msr_rel *r;

	s->rels = realloc(s->rels, (s->nrels + 1) * sizeof *s->rels);
	r = &s->rels[s->nrels++];
	memset(r, 0, sizeof *r);
	r->oid = oid;
	r->table = table;
	r->kind = oid == table ? 'r' : 'i';
	r->name = strdup(name);
	r->table_name = strdup(oid == table ? name : "public.t");
	r->table_schema = strdup("public");
	r->table_rel = strdup("t");
	r->taken = r->held = held;
	r->rewritten = rewritten;
	r->scanned = scanned;
	return r;
}

static void change(struct msr_stmt *s, enum cat_change_kind k, bool baseline, const char *what)
{
	struct sg_err err;

	cr_assert_eq(cat_add(&s->changes, k, 16400, baseline, &err, "%s", what), 0);
}

static void judge(const struct safety_limits *lim, struct safety_result *res)
{
	struct sg_err err;

	cr_assert_eq(safety_judge(&run, lim, res, &err), 0, "%s", err.msg);
}

static const struct safety_limits no_sizes = {64 * MIB, false};
static const struct safety_limits sizes = {64 * MIB, true};

Test(safety, a_rewrite_without_production_sizes_is_refused)
{
	struct msr_stmt *s = stmt("ALTER TABLE t ADD COLUMN r float8 DEFAULT random()");
	struct safety_result res;
	struct sg_err err;

	rel(s, 16400, 16400, "public.t", PGLOCK_ACCESS_EXCLUSIVE, true, true);
	change(s, CAT_COLUMN_ADDED, false, "public.t.r added");
	judge(&no_sizes, &res);
	cr_assert_eq(res.n, 1, "a rewrite is not also counted as a scan");
	cr_expect_eq(res.nrefused, 1);
	cr_expect_eq(res.v[0].reason, SAFETY_REWRITE);
	cr_expect_eq(res.v[0].bytes, -1);
	cr_expect(strstr(res.v[0].fact, "rewrote public.t holding ACCESS EXCLUSIVE, which blocks "
	                                "reads and writes; size in production unknown") != NULL,
	          "%s", res.v[0].fact);
	cr_expect(strstr(res.v[0].advice, "without a volatile default") != NULL, "%s",
	          res.v[0].advice);
	cr_assert_eq(safety_check(&run, &res, &err), -1);
	cr_expect_eq(err.code, SG_E_UNSAFE);
	cr_expect(strstr(err.msg, "db/000002_change.up.sql:3: ALTER TABLE t ADD COLUMN r float8 "
	                          "DEFAULT random(): rewrote public.t") != NULL,
	          "%s", err.msg);
	cr_expect(strstr(err.msg, "safe pattern: add the column") != NULL, "%s", err.msg);
	cr_expect(strstr(err.msg, "-- schemagate:allow=rewrite") != NULL, "%s", err.msg);
	safety_result_free(&res);
}

Test(safety, production_sizes_against_the_limit)
{
	struct msr_stmt *s = stmt("ALTER TABLE t ALTER COLUMN v TYPE bigint");
	struct safety_result res;

	rel(s, 16400, 16400, "public.t", PGLOCK_ACCESS_EXCLUSIVE, true, true);
	rel(s, 16401, 16400, "public.t_pkey", PGLOCK_ACCESS_EXCLUSIVE, true, false);
	s->rels[0].size_known = true;
	s->rels[0].bytes = 40 * MIB;
	s->rels[1].size_known = true;
	s->rels[1].bytes = 40 * MIB; /* its table's size: counted once */
	judge(&sizes, &res);
	cr_expect_eq(res.n, 0, "40 MiB is under the limit");
	safety_result_free(&res);
	s->rels[0].bytes = s->rels[1].bytes = 100 * MIB;
	run.rewrite_rate = (double)(50 * MIB) / 1000.0; /* 50 MiB/s */
	judge(&sizes, &res);
	cr_assert_eq(res.n, 1);
	cr_expect_eq(res.v[0].bytes, 100 * MIB);
	cr_expect_eq(res.v[0].est_ms, 2000);
	cr_expect(strstr(res.v[0].fact,
	                 "100.0 MiB in production (limit 64.0 MiB): about 2.0 s at "
	                 "50.0 MiB/s measured on the dev database (an estimate)") != NULL,
	          "%s", res.v[0].fact);
	safety_result_free(&res);
	s->rels[0].size_known = false; /* never vacuumed or analyzed there */
	judge(&sizes, &res);
	cr_assert_eq(res.n, 1);
	cr_expect(strstr(res.v[0].fact, "counted as larger than the limit") != NULL, "%s",
	          res.v[0].fact);
	safety_result_free(&res);
}

/* Partitions of one table rewritten by one statement add up. */
Test(safety, tables_of_one_statement_add_up)
{
	struct msr_stmt *s = stmt("ALTER TABLE p ADD COLUMN r float8 DEFAULT random()");
	struct safety_result res;

	rel(s, 16500, 16500, "public.p_a", PGLOCK_ACCESS_EXCLUSIVE, true, true);
	rel(s, 16501, 16501, "public.p_b", PGLOCK_ACCESS_EXCLUSIVE, true, true);
	for (size_t i = 0; i < 2; i++) {
		s->rels[i].size_known = true;
		s->rels[i].bytes = 40 * MIB;
	}
	judge(&sizes, &res);
	cr_assert_eq(res.n, 1);
	cr_expect_eq(res.v[0].bytes, 80 * MIB);
	cr_expect(strstr(res.v[0].fact, "rewrote public.p_a, public.p_b holding") != NULL, "%s",
	          res.v[0].fact);
	safety_result_free(&res);
}

Test(safety, a_scan_counts_only_under_a_lock_that_blocks_writes)
{
	struct msr_stmt *v, *c;
	struct safety_result res;

	stmt("ALTER TABLE t VALIDATE CONSTRAINT t_chk");
	stmt("CREATE INDEX t_v ON t (v)");
	v = &run.stmts[0]; /* stmt() moves the array */
	c = &run.stmts[1];
	rel(v, 16400, 16400, "public.t", PGLOCK_SHARE_UPDATE_EXCLUSIVE, false, true);
	change(v, CAT_CONSTRAINT_VALIDATED, true, "check constraint t_chk on public.t validated");
	rel(c, 16400, 16400, "public.t", PGLOCK_SHARE, false, true);
	change(c, CAT_INDEX_CREATED, false, "index public.t_v created");
	judge(&no_sizes, &res);
	cr_assert_eq(res.n, 1, "VALIDATE takes SHARE UPDATE EXCLUSIVE: writes go on");
	cr_expect_eq(res.v[0].stmt, 1);
	cr_expect_eq(res.v[0].reason, SAFETY_SCAN);
	cr_expect(strstr(res.v[0].fact, "scanned in full public.t holding SHARE, which blocks "
	                                "writes") != NULL,
	          "%s", res.v[0].fact);
	cr_expect(strstr(res.v[0].advice, "CREATE INDEX CONCURRENTLY") != NULL, "%s",
	          res.v[0].advice);
	safety_result_free(&res);
}

/* The safe pattern follows from what the statement changed. */
Test(safety, advice_follows_the_changes)
{
	struct safety_result res;
	struct {
		enum cat_change_kind kind;
		char contype;
		const char *want;
	} cases[] = {
	    {CAT_CONSTRAINT_ADDED, 'f', "NOT VALID, then VALIDATE CONSTRAINT"},
	    {CAT_COLUMN_NOT_NULL, 0, "CHECK (col IS NOT NULL) NOT VALID"},
	    {CAT_PARTITION_ATTACHED, 0, "before ATTACH PARTITION"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct msr_stmt *s = stmt("ALTER TABLE t ...");

		rel(s, 16400, 16400, "public.t", PGLOCK_ACCESS_EXCLUSIVE, false, true);
		change(s, cases[i].kind, true, "x");
		s->changes.v[0].contype = cases[i].contype;
	}
	judge(&no_sizes, &res);
	cr_assert_eq(res.n, 3);
	for (size_t i = 0; i < 3; i++)
		cr_expect(strstr(res.v[i].advice, cases[i].want) != NULL, "%zu: %s", i,
		          res.v[i].advice);
	safety_result_free(&res);
}

Test(safety, breaking_changes_and_the_directive)
{
	struct msr_stmt *s = stmt("ALTER TABLE t RENAME COLUMN name TO title");
	struct safety_result res;
	struct sg_err err;

	rel(s, 16400, 16400, "public.t", PGLOCK_ACCESS_EXCLUSIVE, false, false);
	change(s, CAT_COLUMN_RENAMED, true, "public.t.name renamed to title");
	judge(&no_sizes, &res);
	cr_assert_eq(res.n, 1, "ACCESS EXCLUSIVE without a rewrite or scan is not refused");
	cr_expect_eq(res.v[0].reason, SAFETY_BREAKING);
	cr_expect_str_eq(res.v[0].fact,
	                 "breaks the previous release's queries: public.t.name renamed to title");
	cr_expect(strstr(res.v[0].advice, "expand/contract") != NULL);
	cr_expect_not(res.v[0].allowed);
	safety_result_free(&res);
	mig.allow = DIRECTIVE_ALLOW_REWRITE | DIRECTIVE_ALLOW_SCAN;
	judge(&no_sizes, &res);
	cr_expect_eq(res.nrefused, 1, "the directive allows other reasons only");
	safety_result_free(&res);
	mig.allow = DIRECTIVE_ALLOW_BREAKING;
	judge(&no_sizes, &res);
	cr_expect_eq(res.n, 1);
	cr_expect(res.v[0].allowed);
	cr_expect_eq(res.nrefused, 0);
	cr_expect_eq(safety_check(&run, &res, &err), 0);
	safety_result_free(&res);
}

Test(safety, what_is_breaking)
{
	struct cat_change c = {.baseline = true};

	c.kind = CAT_COLUMN_DROPPED;
	cr_expect(safety_breaking(&c));
	c.baseline = false;
	cr_expect_not(safety_breaking(&c), "a column the pending files added");
	c.kind = CAT_COLUMN_REQUIRED;
	cr_expect(safety_breaking(&c));
	c.baseline = true;
	c.kind = CAT_COLUMN_RETYPED;
	c.widened = true;
	cr_expect_not(safety_breaking(&c));
	c.widened = false;
	cr_expect(safety_breaking(&c));
	c.kind = CAT_CONSTRAINT_ADDED;
	cr_expect_not(safety_breaking(&c));
	c.kind = CAT_COLUMN_NOT_NULL;
	cr_expect_not(safety_breaking(&c));
	c.kind = CAT_FUNCTION_RENAMED;
	cr_expect(safety_breaking(&c));
}

Test(safety, rates_needed_only_for_known_sizes)
{
	struct msr_stmt *s = stmt("ALTER TABLE t ALTER COLUMN v TYPE bigint");
	struct msr_rel *r = rel(s, 16400, 16400, "public.t", PGLOCK_ACCESS_EXCLUSIVE, true, true);

	cr_expect_not(safety_needs_rates(&run));
	r->size_known = true;
	cr_expect(safety_needs_rates(&run));
	cr_expect_eq(safety_estimate_ms(&run, SAFETY_REWRITE, 1000), -1, "no rate measured");
}
