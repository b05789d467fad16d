/* test_impact.c - plan's three formats (impact.c) from a hand-built result: the table, the JSON
 * keys, the markdown rows, escaping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "catalog.h"
#include "directive.h"
#include "dryrun.h"
#include "impact.h"

static struct mig mig = {
    .version = 7, .up_file = "000007_orders.up.sql", .up_path = "db/000007_orders.up.sql"};
static struct dryrun *d;

/* Two statements: a rewrite of public.orders (2 GiB in production) refused, a rename of
 * public."we|ird" (breaking) allowed by the file's directive. */
static void setup(void)
{
	struct msr_stmt *s;
	struct msr_rel *r;
	struct sg_err err;

	d = calloc(1, sizeof *d);
	snprintf(d->dev, sizeof d->dev, "postgres://ci:xxxxx@dev/scratch");
	snprintf(d->target, sizeof d->target, "postgres://app:xxxxx@prod/app");
	d->has_target = true;
	d->applied = 6;
	d->limits.max_bytes = 64L << 20;
	d->limits.sizes = true;
	d->total_ms = 1500;
	d->lookup_ms = 3;
	d->run.replayed = 6;
	d->run.replay_ms = 1200;
	d->run.measure_ms = 250;
	d->run.rewrite_rate = (double)(100LL << 20) / 1000.0;
	d->run.files = calloc(1, sizeof *d->run.files);
	d->run.files[0].m = &mig;
	mig.allow = DIRECTIVE_ALLOW_BREAKING;
	d->run.nfiles = 1;
	d->run.stmts = calloc(2, sizeof *d->run.stmts);
	d->run.nstmts = 2;
	s = &d->run.stmts[0];
	s->line = 2;
	s->sql = strdup("ALTER TABLE orders\n  ALTER COLUMN total TYPE bigint");
	s->in_transaction = true;
	s->ms = 12;
	s->rels = calloc(1, sizeof *s->rels);
	s->nrels = 1;
	r = &s->rels[0];
	r->oid = r->table = 16400;
	r->kind = 'r';
	r->name = strdup("public.orders");
	r->table_name = strdup("public.orders");
	r->table_schema = strdup("public");
	r->table_rel = strdup("orders");
	r->taken = r->held = PGLOCK_ACCESS_EXCLUSIVE;
	r->rewritten = r->scanned = true;
	r->size_known = true;
	r->bytes = 2LL << 30;
	r->rows = 30000000;
	cr_assert_eq(cat_add(&s->changes, CAT_COLUMN_RETYPED, 16400, true, &err,
	                     "public.orders.total: integer -> bigint"),
	             0);
	s->changes.v[0].widened = true;
	s = &d->run.stmts[1];
	s->line = 4;
	s->sql = strdup("ALTER TABLE \"we|ird\" RENAME COLUMN `a` TO b");
	s->in_transaction = true;
	cr_assert_eq(cat_add(&s->changes, CAT_COLUMN_RENAMED, 16500, true, &err,
	                     "public.we|ird.a renamed to b"),
	             0);
	cr_assert_eq(safety_judge(&d->run, &d->limits, &d->verdict, &err), 0, "%s", err.msg);
	cr_assert_eq(d->verdict.n, 2);
	cr_assert_eq(d->verdict.nrefused, 1);
}

static void teardown(void)
{
	dryrun_free(d);
}

TestSuite(impact, .init = setup, .fini = teardown);

static char *capture(void (*print)(FILE *, const struct dryrun *))
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	print(f, d);
	fclose(f);
	return buf;
}

Test(impact, text)
{
	char *t = capture(impact_print_text);

	cr_expect(strstr(t, "schemagate plan: 2 statements in 1 pending file, rehearsed on "
	                    "postgres://ci:xxxxx@dev/scratch") != NULL,
	          "%s", t);
	cr_expect(strstr(t, "limit: 64.0 MiB (MIGRATIONS_SAFETY_MAX_BYTES); applied head: 6 (6 "
	                    "files replayed)") != NULL,
	          "%s", t);
	cr_expect(strstr(t, "000007_orders.up.sql:2: ALTER TABLE orders ALTER COLUMN total TYPE "
	                    "bigint  (12 ms)") != NULL,
	          "one line per statement: %s", t);
	cr_expect(strstr(t, "public.orders") != NULL && strstr(t, "ACCESS EXCLUSIVE") != NULL &&
	              strstr(t, "reads, writes, DDL") != NULL &&
	              strstr(t, "2.0 GiB, 30000000 rows") != NULL && strstr(t, "~20.5 s") != NULL,
	          "%s", t);
	cr_expect(strstr(t, "  change: public.orders.total: integer -> bigint") != NULL, "%s", t);
	cr_expect(strstr(t, "  REFUSED, rewrite: rewrote public.orders") != NULL, "%s", t);
	cr_expect(strstr(t, "  BREAKING: public.we|ird.a renamed to b") != NULL, "%s", t);
	cr_expect(strstr(t, "  allowed by the file's directive, breaking: ") != NULL, "%s", t);
	cr_expect(strstr(t, "verdict: REFUSED: 1 finding refused (exit 5)") != NULL, "%s", t);
	cr_expect(strstr(t, "time: 1.500 s: replaying 6 files 1.200 s, measuring 2 statements "
	                    "0.250 s, production sizes 0.003 s, the rest 0.047 s") != NULL,
	          "%s", t);
	free(t);
}

Test(impact, markdown)
{
	char *t = capture(impact_print_markdown), *save = NULL;
	int rows = 0;

	cr_expect(strncmp(t, "### schemagate plan: 1 refused\n", 31) == 0, "%s", t);
	cr_expect(strstr(t,
	                 "| **refused** | `000007_orders.up.sql:2` `ALTER TABLE orders ALTER "
	                 "COLUMN total TYPE bigint` | public.orders | ACCESS EXCLUSIVE |") != NULL,
	          "%s", t);
	cr_expect(strstr(t, "`ALTER TABLE \"we\\|ird\" RENAME COLUMN 'a' TO b`") != NULL,
	          "a pipe escaped, a backtick kept out of the code span: %s", t);
	cr_expect(strstr(t, "**Allowed by the files' directives**") != NULL, "%s", t);
	cr_expect(strstr(t, "**breaking**: public.we\\|ird.a renamed to b") != NULL, "%s", t);
	for (char *l = strtok_r(t, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		int pipes = 0;

		if (l[0] != '|')
			continue;
		for (char *p = l; *p != '\0'; p++)
			pipes += *p == '|' && (p == l || p[-1] != '\\');
		cr_expect_eq(pipes, 10, "%s", l);
		rows++;
	}
	cr_expect_eq(rows, 4);
	free(t);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, key, &v), "missing %s", key);
	return v;
}

Test(impact, json)
{
	struct json_object *o = impact_to_json(d), *st, *r, *f;

	cr_assert_not_null(o);
	cr_expect(json_object_get_boolean(get(get(o, "verdict"), "refused")));
	cr_expect_eq(json_object_get_int64(get(get(o, "verdict"), "refusals")), 1);
	cr_expect_str_eq(json_object_get_string(get(o, "production")),
	                 "postgres://app:xxxxx@prod/app");
	cr_expect_eq(json_object_get_int64(get(get(o, "timing_ms"), "replay")), 1200);
	cr_expect_eq(json_object_get_int64(get(o, "limit_bytes")), 64L << 20);
	st = json_object_array_get_idx(get(o, "statements"), 0);
	cr_expect_eq(json_object_get_int64(get(st, "version")), 7);
	cr_expect_eq(json_object_get_int64(get(st, "line")), 2);
	r = json_object_array_get_idx(get(st, "relations"), 0);
	cr_expect_str_eq(json_object_get_string(get(r, "lock_held")), "ACCESS EXCLUSIVE");
	cr_expect_str_eq(json_object_get_string(get(r, "lock_source")), "pg_locks");
	cr_expect(json_object_get_boolean(get(get(r, "blocks"), "reads")));
	cr_expect_eq(json_object_get_int64(get(get(r, "production"), "rows")), 30000000);
	cr_expect_eq(json_object_get_int64(get(get(r, "production"), "estimate_ms")), 20480);
	f = json_object_array_get_idx(get(st, "findings"), 0);
	cr_expect_str_eq(json_object_get_string(get(f, "reason")), "rewrite");
	cr_expect(json_object_get_boolean(get(f, "refused")));
	st = json_object_array_get_idx(get(o, "statements"), 1);
	cr_expect_str_eq(
	    json_object_get_string(get(json_object_array_get_idx(get(st, "changes"), 0), "kind")),
	    "column_renamed");
	cr_expect_not(json_object_get_boolean(
	    get(json_object_array_get_idx(get(st, "findings"), 0), "refused")));
	json_object_put(o);
}
