/* test_loader.c - the background folder load gives mig_set_load's result, error included. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "migrations.h"
#include "sgt.h"

static char *dir;

static void setup(void)
{
	dir = sgt_tmpdir();
}

static void teardown(void)
{
	sgt_rm_rf(dir);
	free(dir);
}

TestSuite(loader, .init = setup, .fini = teardown);

/* n migrations; those listed in bad (0-terminated) hold an invalid UTF-8 byte. */
static void write_folder(int n, const int *bad)
{
	for (int v = 1; v <= n; v++) {
		char name[64], sql[128];
		bool broken = false;

		for (const int *b = bad; *b != 0; b++)
			broken = broken || *b == v;
		snprintf(name, sizeof name, "%06d_t%d.up.sql", v, v);
		snprintf(sql, sizeof sql, "CREATE TABLE t%d (id int);%s\n", v,
		         broken ? "\xff" : "");
		sgt_write_file(dir, name, sql);
	}
}

static struct mig_set *load_in_background(unsigned flags, struct sg_err *err)
{
	struct loader *l;
	struct mig_set *set = NULL;

	cr_assert_eq(loader_start(dir, MIG_DEFAULT_MAX_BYTES, flags, &l, err), 0);
	if (loader_finish(l, &set, err) != 0)
		cr_assert_null(set);
	return set;
}

Test(loader, same_set_as_the_plain_load)
{
	static const int none[] = {0};
	struct mig_set *a, *b;
	struct sg_err err;

	write_folder(300, none);
	cr_assert_eq(mig_set_load(dir, MIG_DEFAULT_MAX_BYTES, 0, &a, &err), 0, "%s", err.msg);
	for (int round = 0; round < 20; round++) {
		cr_assert_not_null(b = load_in_background(0, &err), "%s", err.msg);
		cr_assert_eq(b->n, a->n);
		for (size_t i = 0; i < a->n; i++) {
			cr_assert_eq(b->v[i].version, a->v[i].version);
			cr_assert_str_eq(b->v[i].checksum, a->v[i].checksum);
			cr_assert_str_eq(b->v[i].sql, a->v[i].sql);
		}
		mig_set_free(b);
	}
	mig_set_free(a);
}

/* Both threads read files at once; whichever reaches a bad one first, the error is the first
 * bad file in order, as the plain load reports it. */
Test(loader, the_first_bad_file_in_order_is_reported)
{
	static const int bad[] = {137, 61, 250, 0};
	struct sg_err plain, err;
	struct mig_set *set;

	write_folder(300, bad);
	cr_assert_neq(mig_set_load(dir, MIG_DEFAULT_MAX_BYTES, 0, &set, &plain), 0);
	cr_assert_not_null(strstr(plain.msg, "000061_t61.up.sql"), "%s", plain.msg);
	for (int round = 0; round < 50; round++) {
		cr_assert_null(load_in_background(0, &err));
		cr_assert_eq(err.code, plain.code);
		cr_assert_str_eq(err.msg, plain.msg, "round %d", round);
	}
}

Test(loader, a_folder_that_cannot_be_scanned_fails_like_the_plain_load)
{
	struct sg_err plain, err;
	struct mig_set *set;
	char missing[4096];

	snprintf(missing, sizeof missing, "%s/nope", dir);
	cr_assert_neq(mig_set_load(missing, MIG_DEFAULT_MAX_BYTES, 0, &set, &plain), 0);
	{
		struct loader *l;

		cr_assert_eq(loader_start(missing, MIG_DEFAULT_MAX_BYTES, 0, &l, &err), 0);
		cr_assert_neq(loader_finish(l, &set, &err), 0);
	}
	cr_assert_null(set);
	cr_assert_eq(err.code, plain.code);
	cr_assert_str_eq(err.msg, plain.msg);
	/* Allowed missing: an empty set, no error. */
	{
		struct loader *l;

		cr_assert_eq(
		    loader_start(missing, MIG_DEFAULT_MAX_BYTES, MIG_ALLOW_MISSING, &l, &err), 0);
		cr_assert_eq(loader_finish(l, &set, &err), 0, "%s", err.msg);
	}
	cr_assert_eq(set->n, 0);
	mig_set_free(set);
}

/* loader_check tells a broken folder before the load is finished (session_open asks it after
 * a failed connection attempt), gives the same error as loader_finish, and leaves the load for
 * loader_finish to complete. */
Test(loader, check_reports_the_first_broken_file_and_keeps_the_load)
{
	static const int bad[] = {120, 40, 0};
	static const int none[] = {0};
	struct loader *l;
	struct mig_set *set = NULL;
	struct sg_err err, fin;

	write_folder(200, bad);
	cr_assert_eq(loader_start(dir, MIG_DEFAULT_MAX_BYTES, MIG_NO_TEXT, &l, &err), 0);
	cr_assert_eq(loader_check(l, &err), -1, "a file with invalid UTF-8 passed the check");
	cr_expect(strstr(err.msg, "000040_t40.up.sql") != NULL, "%s", err.msg);
	cr_assert_eq(loader_finish(l, &set, &fin), -1);
	cr_assert_null(set);
	cr_expect_str_eq(fin.msg, err.msg);

	sgt_rm_rf(dir);
	free(dir);
	dir = sgt_tmpdir();
	write_folder(50, none);
	cr_assert_eq(loader_start(dir, MIG_DEFAULT_MAX_BYTES, MIG_NO_TEXT, &l, &err), 0);
	cr_assert_eq(loader_check(l, &err), 0, "%s", err.msg);
	cr_assert_eq(loader_finish(l, &set, &err), 0, "%s", err.msg);
	cr_expect_eq(mig_set_max_version(set), 50);
	mig_set_free(set);
}
