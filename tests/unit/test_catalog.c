/* test_catalog.c - what cat_diff_rel and cat_diff_obj call a change, from hand-built catalog rows,
 * and when a retype keeps every old value. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "catalog.h"

static struct cat_col col(int attnum, const char *name, unsigned type, int typmod, bool notnull,
                          bool has_default)
{
	struct cat_col c = {attnum, (char *)name, type, typmod, notnull, has_default, (char *)name};

	return c;
}

/* public.t with the given columns and constraints (borrowed). */
static struct cat_rel rel(struct cat_col *cols, size_t ncols, struct cat_con *cons, size_t ncons)
{
	struct cat_rel r = {.oid = 16400,
	                    .nsp = 2200,
	                    .nspname = "public",
	                    .name = "t",
	                    .kind = 'r',
	                    .filenode = 16400,
	                    .cols = cols,
	                    .ncols = ncols,
	                    .cons = cons,
	                    .ncons = ncons};

	return r;
}

static const struct cat_change *find(const struct cat_changes *c, enum cat_change_kind k)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].kind == k)
			return &c->v[i];
	return NULL;
}

#define INT4 23u
#define INT8 20u
#define VARCHAR 1043u
#define NUMERIC 1700u

Test(catalog, columns)
{
	struct cat_col base[] = {
	    col(1, "id", INT4, -1, true, false), col(2, "name", VARCHAR, 14, false, false),
	    col(3, "v", INT4, -1, false, false), col(4, "old", INT4, -1, false, false)};
	/* After: name renamed, v retyped and NOT NULL, old dropped, two new columns. */
	struct cat_col now[] = {
	    col(1, "id", INT4, -1, true, false), col(2, "title", VARCHAR, 14, false, false),
	    col(3, "v", INT8, -1, true, false), col(5, "flag", INT4, -1, true, true),
	    col(6, "z", INT4, -1, true, false)};
	struct cat_rel b = rel(base, 4, NULL, 0), a = rel(now, 5, NULL, 0);
	struct cat_changes ch = {0};
	struct sg_err err;
	const struct cat_change *c;

	cr_assert_eq(cat_diff_rel(&b, &b, &a, &ch, &err), 0, "%s", err.msg);
	cr_assert_not_null(c = find(&ch, CAT_COLUMN_RENAMED));
	cr_expect(c->baseline);
	cr_expect_str_eq(c->what, "public.t.name renamed to title");
	cr_assert_not_null(c = find(&ch, CAT_COLUMN_RETYPED));
	cr_expect_eq(c->old_type, INT4);
	cr_expect_eq(c->new_type, INT8);
	cr_expect_not(c->widened, "left to the caller, who reads pg_cast");
	cr_expect_not_null(find(&ch, CAT_COLUMN_NOT_NULL));
	cr_assert_not_null(c = find(&ch, CAT_COLUMN_DROPPED));
	cr_expect_str_eq(c->what, "public.t.old dropped");
	/* flag has a default: not required; z has none and the previous release lacks it */
	cr_assert_not_null(c = find(&ch, CAT_COLUMN_REQUIRED));
	cr_expect(strstr(c->what, "public.t.z is NOT NULL without a default") != NULL, "%s",
	          c->what);
	cr_expect_eq(ch.n, 7, "renamed, retyped, not null, dropped, 2 added, required");
	cat_changes_free(&ch);
}

/* A column the pending files added is not the previous release's: dropping or renaming it is
 * still reported, but not as known (baseline false). */
Test(catalog, columns_unknown_to_the_previous_release)
{
	struct cat_col base[] = {col(1, "id", INT4, -1, true, false)};
	struct cat_col before[] = {col(1, "id", INT4, -1, true, false),
	                           col(2, "x", INT4, -1, true, true)};
	struct cat_col after[] = {col(1, "id", INT4, -1, true, false),
	                          col(2, "y", INT4, -1, true, false)};
	struct cat_rel r0 = rel(base, 1, NULL, 0), r1 = rel(before, 2, NULL, 0),
	               r2 = rel(after, 2, NULL, 0);
	struct cat_changes ch = {0};
	struct sg_err err;
	const struct cat_change *c;

	cr_assert_eq(cat_diff_rel(&r0, &r1, &r2, &ch, &err), 0);
	cr_assert_not_null(c = find(&ch, CAT_COLUMN_RENAMED));
	cr_expect_not(c->baseline);
	cr_expect_not_null(find(&ch, CAT_COLUMN_REQUIRED), "its default went away");
	cat_changes_free(&ch);
	/* Already required before: not reported again. */
	cr_assert_eq(cat_diff_rel(&r0, &r2, &r2, &ch, &err), 0);
	cr_expect_eq(ch.n, 0);
	cat_changes_free(&ch);
}

Test(catalog, constraints_and_relations)
{
	struct cat_con c0[] = {{17000, "t_pkey", 'p', true}, {17001, "t_chk", 'c', false}};
	struct cat_con c1[] = {{17000, "t_pkey", 'p', true},
	                       {17001, "t_chk", 'c', true},
	                       {17002, "t_fk", 'f', false},
	                       {17003, "t_u", 'u', true}};
	struct cat_rel b = rel(NULL, 0, c0, 2), a = rel(NULL, 0, c1, 4);
	struct cat_changes ch = {0};
	struct sg_err err;

	a.name = "t2";
	a.is_partition = true;
	cr_assert_eq(cat_diff_rel(&b, &b, &a, &ch, &err), 0);
	cr_expect_not_null(find(&ch, CAT_CONSTRAINT_VALIDATED));
	cr_expect_eq(find(&ch, CAT_CONSTRAINT_NOT_VALID)->contype, 'f');
	cr_expect_eq(find(&ch, CAT_CONSTRAINT_ADDED)->contype, 'u');
	cr_expect_str_eq(find(&ch, CAT_RELATION_RENAMED)->what, "public.t renamed to public.t2");
	cr_expect_not_null(find(&ch, CAT_PARTITION_ATTACHED));
	cat_changes_free(&ch);
	cr_assert_eq(cat_diff_rel(&b, &b, NULL, &ch, &err), 0);
	cr_expect_str_eq(find(&ch, CAT_RELATION_DROPPED)->what, "public.t dropped");
	cat_changes_free(&ch);
	b.kind = 'i'; /* an index dropped is no change for clients */
	cr_assert_eq(cat_diff_rel(&b, &b, NULL, &ch, &err), 0);
	cr_expect_eq(ch.n, 0);
	cat_changes_free(&ch);
}

Test(catalog, objects)
{
	struct cat_obj f = {CAT_PG_PROC, 17100, 2200, "public", "f", "x integer", true};
	struct cat_obj g = f, ty = {CAT_PG_TYPE, 17200, 2200, "public", "mood", "", true};
	struct cat_obj rowtype = {CAT_PG_TYPE, 17201, 2200, "public", "t", "", false};
	struct cat_obj s = {CAT_PG_NAMESPACE, 17300, 17300, "app", "app", "", true}, s2 = s;
	struct cat_changes ch = {0};
	struct sg_err err;

	g.name = "f2";
	s2.name = "app2";
	cr_assert_eq(cat_diff_obj(&f, NULL, &ch, &err), 0);
	cr_assert_eq(cat_diff_obj(&f, &g, &ch, &err), 0);
	cr_assert_eq(cat_diff_obj(&ty, NULL, &ch, &err), 0);
	cr_assert_eq(cat_diff_obj(&rowtype, NULL, &ch, &err), 0);
	cr_assert_eq(cat_diff_obj(&s, &s2, &ch, &err), 0);
	cr_assert_eq(cat_diff_obj(&f, &f, &ch, &err), 0);
	cr_assert_eq(ch.n, 4, "a table's row type goes with its table: no change of its own");
	cr_expect_str_eq(ch.v[0].what, "function public.f(x integer) dropped");
	cr_expect_str_eq(ch.v[1].what, "function public.f renamed to public.f2");
	cr_expect_str_eq(ch.v[2].what, "type public.mood dropped");
	cr_expect_str_eq(ch.v[3].what, "schema app renamed to app2");
	cat_changes_free(&ch);
}

#define NUM(p, s) ((((p) << 16) | (s)) + 4)
#define VC(n) ((n) + 4)

Test(catalog, retype_widens)
{
	cr_expect(cat_retype_widens(INT4, -1, INT8, -1, true), "int to bigint: implicit cast");
	cr_expect_not(cat_retype_widens(INT8, -1, INT4, -1, false),
	              "bigint to int: assignment only");
	cr_expect(cat_retype_widens(VARCHAR, VC(10), VARCHAR, VC(50), false));
	cr_expect(cat_retype_widens(VARCHAR, VC(10), VARCHAR, -1, false));
	cr_expect_not(cat_retype_widens(VARCHAR, VC(50), VARCHAR, VC(20), false));
	cr_expect_not(cat_retype_widens(VARCHAR, -1, VARCHAR, VC(20), false));
	cr_expect(cat_retype_widens(NUMERIC, NUM(10, 2), NUMERIC, NUM(12, 2), false));
	cr_expect(cat_retype_widens(NUMERIC, NUM(10, 2), NUMERIC, NUM(12, 4), false));
	cr_expect_not(cat_retype_widens(NUMERIC, NUM(10, 2), NUMERIC, NUM(10, 4), false),
	              "fewer integer digits");
	cr_expect_not(cat_retype_widens(NUMERIC, NUM(10, 4), NUMERIC, NUM(12, 2), false),
	              "fewer decimals");
	cr_expect_not(cat_retype_widens(INT4, -1, NUMERIC, NUM(5, 0), true),
	              "another type with a limit of its own");
}

Test(catalog, change_names)
{
	cr_expect_str_eq(cat_change_name(CAT_COLUMN_REQUIRED), "column_required");
	cr_expect_str_eq(cat_change_name(CAT_SCHEMA_RENAMED), "schema_renamed");
}
