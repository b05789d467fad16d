/* test_migrations.c - migration file names, folder loading and refusals, and creating new pairs. */
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "migrations.h"
#include "sha256.h"
#include "sgt_table.h"

#ifndef SG_TEST_DATA
#error "SG_TEST_DATA must name the tests/data folder"
#endif

#define FIXTURES SG_TEST_DATA "/migrations"

/* Per-test scratch folder; Criterion runs each test in its own process. */
static char tmp[] = "/tmp/sg_mig_XXXXXX";

static void rm_rf(const char *path)
{
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (lstat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			char child[PATH_MAX];
			int n;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			n = snprintf(child, sizeof child, "%s/%s", path, de->d_name);
			if (n > 0 && (size_t)n < sizeof child)
				rm_rf(child);
		}
		closedir(d);
	}
	rmdir(path);
}

static void setup(void)
{
	cr_assert_not_null(mkdtemp(tmp), "mkdtemp: %s", strerror(errno));
}

static void teardown(void)
{
	rm_rf(tmp);
}

/* tmp + "/" + rel into buf. */
static char *tpath(char *buf, size_t size, const char *rel)
{
	int n = snprintf(buf, size, "%s/%s", tmp, rel);

	cr_assert(n > 0 && (size_t)n < size, "path too long: %s", rel);
	return buf;
}

static void mkdir_t(const char *rel)
{
	char p[PATH_MAX];

	cr_assert_eq(mkdir(tpath(p, sizeof p, rel), 0777), 0, "mkdir %s: %s", p, strerror(errno));
}

/* An empty tmp/rel, also when a previous row of a table test left it full. */
static void fresh_dir_t(const char *rel)
{
	char p[PATH_MAX];

	rm_rf(tpath(p, sizeof p, rel));
	mkdir_t(rel);
}

static void write_t(const char *rel, const void *data, size_t len)
{
	char p[PATH_MAX];
	int fd;

	fd = open(tpath(p, sizeof p, rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0, "open %s: %s", p, strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len, "write %s", p);
	cr_assert_eq(close(fd), 0);
}

static void write_str_t(const char *rel, const char *s)
{
	write_t(rel, s, strlen(s));
}

static void symlink_t(const char *target, const char *rel)
{
	char p[PATH_MAX];

	cr_assert_eq(symlink(target, tpath(p, sizeof p, rel)), 0, "symlink %s: %s", p,
	             strerror(errno));
}

/* Whole content of a small file, NUL-terminated, in buf. */
static size_t slurp(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	n = read(fd, buf, size - 1);
	cr_assert_geq(n, 0, "read %s", path);
	close(fd);
	buf[n] = '\0';
	return (size_t)n;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

#define assert_msg_has(err, needle)                                                                \
	cr_assert_not_null(strstr((err).msg, (needle)), "message lacks \"%s\": %s", (needle),      \
	                   (err).msg)

/* Loads tmp/<rel> expecting failure with code; returns the error for message checks. */
static struct sg_err load_fails(const char *rel, size_t max_bytes, enum sg_code code)
{
	struct mig_set *set = (struct mig_set *)&set; /* must be reset to NULL */
	struct sg_err err = {0};
	char p[PATH_MAX];

	cr_assert_eq(mig_set_load(tpath(p, sizeof p, rel), max_bytes, MIG_CHECK_DOWN, &set, &err),
	             -1);
	cr_assert_null(set);
	cr_assert_eq(err.code, code, "code %d, message: %s", err.code, err.msg);
	return err;
}

static struct mig_set *load_ok(const char *dir, size_t max_bytes, bool allow_missing)
{
	struct mig_set *set = NULL;
	struct sg_err err = {0};

	cr_assert_eq(mig_set_load(dir, max_bytes, allow_missing, &set, &err), 0, "load %s: %s", dir,
	             err.msg);
	cr_assert_not_null(set);
	return set;
}

/* ---- mig_parse_name ---- */

/* Arrays rather than pointers: each case runs in a fresh process where our addresses differ. */
struct name_case {
	char name[48];
	int rc;
	long version;
	enum mig_kind kind;
	char desc[32];
};

static struct name_case table_cases[] = {
    {"000001_create_users.up.sql", 1, 1, MIG_UP, "create_users"},
    {"000001_create_users.down.sql", 1, 1, MIG_DOWN, "create_users"},
    {"1_x.up.sql", 1, 1, MIG_UP, "x"},
    {"42_Add-Index_2.down.sql", 1, 42, MIG_DOWN, "Add-Index_2"},
    {"000000000000000042_a.up.sql", 1, 42, MIG_UP, "a"},
    {"7__lead-.up.sql", 1, 7, MIG_UP, "_lead-"},
    {"0010_x.up.sql", 1, 10, MIG_UP, "x"},
    {"000000_x.up.sql", 1, 0, MIG_UP, "x"}, /* version 0 is a version */
    {"0_initial.down.sql", 1, 0, MIG_DOWN, "initial"},
    /* not meant as migrations */
    {"README.md", 0, 0, MIG_UP, ""},
    {".gitkeep", 0, 0, MIG_UP, ""},
    {"", 0, 0, MIG_UP, ""},
    {"sql", 0, 0, MIG_UP, ""},
    {".sql", 0, 0, MIG_UP, ""},
    {".000001_x.up.sql", 0, 0, MIG_UP, ""},
    {"..data", 0, 0, MIG_UP, ""},
    {"000001_x.up.sql~", 0, 0, MIG_UP, ""},
    {"000001_x.up.sql.bak", 0, 0, MIG_UP, ""},
    {"000001_x.up.sqlx", 0, 0, MIG_UP, ""},
    /* meant as migrations but malformed */
    {"1_x.sql", -1, 0, MIG_UP, ""},
    {"x.sql", -1, 0, MIG_UP, ""},
    {"abc_x.up.sql", -1, 0, MIG_UP, ""},
    {"000001_.up.sql", -1, 0, MIG_UP, ""},
    {"000001_x.UP.sql", -1, 0, MIG_UP, ""},
    {"000001_x.up.SQL", -1, 0, MIG_UP, ""},
    {"_x.up.sql", -1, 0, MIG_UP, ""},
    {"-1_x.up.sql", -1, 0, MIG_UP, ""},
    {"+1_x.up.sql", -1, 0, MIG_UP, ""},
    {" 1_x.up.sql", -1, 0, MIG_UP, ""},
    {"1 _x.up.sql", -1, 0, MIG_UP, ""},
    {"000001x.up.sql", -1, 0, MIG_UP, ""},
    {"000001_x y.up.sql", -1, 0, MIG_UP, ""},
    {"000001_x.y.up.sql", 1, 1, MIG_UP, "x.y"},
    /* golang-migrate names: dotted descriptions, 14-digit timestamps */
    {"0002_1.7.0_schema.up.sql", 1, 2, MIG_UP, "1.7.0_schema"},
    {"0002_1.7.0_schema.down.sql", 1, 2, MIG_DOWN, "1.7.0_schema"},
    {"20260101120000_add_users.up.sql", 1, 20260101120000L, MIG_UP, "add_users"},
    {"000001_x..up.sql", -1, 0, MIG_UP, ""},
    {"000001_.x.up.sql", -1, 0, MIG_UP, ""},
    {"000001_x..y.up.sql", -1, 0, MIG_UP, ""},
    {"000001_x.sql.up.sql", -1, 0, MIG_UP, ""},
    {"000001_x.up.up.sql", -1, 0, MIG_UP, ""},
    {"000001_x.down.up.sql", -1, 0, MIG_UP, ""},
    {"000001_x.sql", -1, 0, MIG_UP, ""},
    {"000001_x.upsql", 0, 0, MIG_UP, ""},
    {"000001_\xc3\xa9t\xc3\xa9.up.sql", -1, 0, MIG_UP, ""},
    {"1234567890123456789_x.up.sql", -1, 0, MIG_UP, ""},
};

static void check_table(struct name_case *c)
{
	struct sg_err err = {0};
	enum mig_kind kind = MIG_DOWN;
	char *desc = NULL;
	long version = -5;
	int rc;

	rc = mig_parse_name(c->name, &version, &kind, &desc, &err);
	cr_assert_eq(rc, c->rc, "\"%s\": rc %d, want %d (%s)", c->name, rc, c->rc, err.msg);
	if (rc == 1) {
		cr_assert_eq(version, c->version, "\"%s\"", c->name);
		cr_assert_eq(kind, c->kind, "\"%s\"", c->name);
		cr_assert_str_eq(desc, c->desc);
	} else {
		/* outputs untouched unless the name parsed */
		cr_assert_null(desc, "\"%s\"", c->name);
		cr_assert_eq(version, -5);
		cr_assert_eq(kind, MIG_DOWN);
	}
	if (rc == -1) {
		cr_assert_eq(err.code, SG_E_PARSE);
		assert_msg_has(err, c->name);
	}
	free(desc);
}

SGT_TABLE_TEST(mig_name, table, table_cases, check_table)

Test(mig_name, eighteen_digit_version)
{
#if LONG_MAX >= 999999999999999999
	struct sg_err err = {0};
	enum mig_kind kind;
	long version;

	cr_assert_eq(mig_parse_name("999999999999999999_max.up.sql", &version, &kind, NULL, &err),
	             1, "%s", err.msg);
	cr_assert_eq(version, 999999999999999999L);
#else
	cr_skip_test("long is too small for 18-digit versions");
#endif
}

Test(mig_name, errors_explain_the_problem)
{
	struct sg_err err = {0};
	enum mig_kind kind;
	long version;

	/* version 0 is a version (golang-migrate, goose and dbmate allow it) */
	cr_assert_eq(mig_parse_name("000000_x.up.sql", &version, &kind, NULL, &err), 1);
	cr_assert_eq(version, 0);
	cr_assert_eq(mig_parse_name("000001_x.UP.sql", &version, &kind, NULL, &err), -1);
	assert_msg_has(err, ".up.sql or .down.sql");
	cr_assert_eq(mig_parse_name("1234567890123456789_x.up.sql", &version, &kind, NULL, &err),
	             -1);
	assert_msg_has(err, "18 digits");
	/* Each refusal says what is actually wrong, not a generic suffix complaint. */
	cr_assert_eq(mig_parse_name("000001_x.sql", &version, &kind, NULL, &err), -1);
	assert_msg_has(err, "neither in .up.sql nor in .down.sql");
	cr_assert_eq(mig_parse_name("000001_x y.up.sql", &version, &kind, NULL, &err), -1);
	assert_msg_has(err, "byte 0x20 in the description");
	cr_assert_eq(mig_parse_name("000001_x+y.up.sql", &version, &kind, NULL, &err), -1);
	assert_msg_has(err, "character '+' in the description");
	cr_assert_eq(mig_parse_name("000001_x.up.up.sql", &version, &kind, NULL, &err), -1);
	assert_msg_has(err, "doubled suffix");
	cr_assert_eq(mig_parse_name("000001_x..up.sql", &version, &kind, NULL, &err), -1);
	assert_msg_has(err, "'..'");
	cr_assert_eq(mig_parse_name("000001_.up.sql", &version, &kind, NULL, &err), -1);
	assert_msg_has(err, "empty description");
	cr_assert_eq(mig_parse_name("000001x.up.sql", &version, &kind, NULL, &err), -1);
	assert_msg_has(err, "'_' after the version");
	cr_assert_eq(mig_parse_name(NULL, &version, &kind, NULL, &err), -1);
	cr_assert_eq(mig_parse_name("1_x.sql", &version, &kind, NULL, NULL), -1); /* NULL err */
}

/* Every prefix of tricky names, each in an exact-size heap block, so ASan catches any read
 * past the NUL: the parser sees untrusted names from the folder. */
Test(mig_name, no_reads_past_the_end)
{
	static const char *const names[] = {
	    "000001_create_users.up.sql",
	    "000001_create_users.down.sql",
	    "1_x.sql",
	    "123456789012345678901234_x.up.sql",
	    "9_\xff\xfe.down.sql",
	    ".sql",
	    "1_a.up.sq",
	};
	size_t i, len;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		for (len = 0; len <= strlen(names[i]); len++) {
			char *copy = strndup(names[i], len), *desc = NULL;
			struct sg_err err;
			enum mig_kind kind;
			long version;

			cr_assert_not_null(copy);
			if (mig_parse_name(copy, &version, &kind, &desc, &err) == 1)
				cr_assert_not_null(desc);
			free(desc);
			free(copy);
		}
	}
}

/* ---- mig_set_load on checked-in fixtures ---- */

TestSuite(mig_load, .init = setup, .fini = teardown);

Test(mig_load, ok_fixture)
{
	struct mig_set *set = load_ok(FIXTURES "/ok", MIG_DEFAULT_MAX_BYTES, false);
	const struct mig *m;

	cr_assert_eq(set->n, 3);
	m = &set->v[0];
	cr_assert_eq(m->version, 1);
	cr_assert_str_eq(m->name, "create_users");
	cr_assert_str_eq(m->up_file, "000001_create_users.up.sql");
	cr_assert_str_eq(m->up_path, FIXTURES "/ok/000001_create_users.up.sql");
	cr_assert_str_eq(m->down_path, FIXTURES "/ok/000001_create_users.down.sql");
	/* from coreutils sha256sum */
	cr_assert_str_eq(m->checksum,
	                 "806e1b3dc70f946b01b4ca3c87059ca7709fa7da81b5fbf938029931dc908fac");
	cr_assert_not(m->no_transaction);
	cr_assert_eq(strncmp(m->sql, "-- 000001 create_users: up\nCREATE TABLE users", 45), 0);
	cr_assert_eq(strlen(m->sql), m->sql_len);

	m = &set->v[1];
	cr_assert_eq(m->version, 2);
	cr_assert_str_eq(m->name, "index_users_email");
	cr_assert_null(m->down_path);
	cr_assert(m->no_transaction);
	cr_assert_str_eq(m->checksum,
	                 "5250e4136bd1b3b2e5174c949387881548c0f46320eb1debaf494c78ce408243");

	m = &set->v[2];
	cr_assert_eq(m->version, 10);
	cr_assert_str_eq(m->name, "add-audit_log");
	cr_assert_str_eq(m->up_file, "10_add-audit_log.up.sql");
	cr_assert_not(m->no_transaction, "words after the marker: a plain comment");
	cr_assert_str_eq(m->checksum,
	                 "22b3c49834f1f43ade52bef18688bd6512b7ee6b35f34504bf3ce5386453da71");
	mig_set_free(set);
}

Test(mig_load, find_and_max_version)
{
	struct mig_set *set = load_ok(FIXTURES "/ok", MIG_DEFAULT_MAX_BYTES, false);
	struct mig_set empty = {0};

	cr_assert_eq(mig_set_find(set, 1), &set->v[0]);
	cr_assert_eq(mig_set_find(set, 2), &set->v[1]);
	cr_assert_eq(mig_set_find(set, 10), &set->v[2]);
	cr_assert_null(mig_set_find(set, 0));
	cr_assert_null(mig_set_find(set, 3));
	cr_assert_null(mig_set_find(set, 11));
	cr_assert_null(mig_set_find(set, -1));
	cr_assert_null(mig_set_find(&empty, 1));
	cr_assert_null(mig_set_find(NULL, 1));
	cr_assert_eq(mig_set_max_version(set), 10);
	cr_assert_eq(mig_set_max_version(&empty), -1);
	cr_assert_eq(mig_set_max_version(NULL), -1);
	mig_set_free(set);
	mig_set_free(NULL);
}

Test(mig_load, read_down)
{
	struct mig_set *set = load_ok(FIXTURES "/ok", MIG_DEFAULT_MAX_BYTES, false);
	struct sg_err err = {0};
	char *sql = (char *)&err;
	size_t len = 99;

	cr_assert_eq(mig_read_down(mig_set_find(set, 1), &sql, &len, NULL, &err), 0, "%s", err.msg);
	cr_assert_str_eq(sql, "-- 000001 create_users: down\nDROP TABLE users;\n");
	cr_assert_eq(len, strlen(sql));
	free(sql);

	cr_assert_eq(mig_read_down(mig_set_find(set, 2), &sql, NULL, NULL, &err), -1);
	cr_assert_null(sql);
	cr_assert_eq(err.code, SG_E_IO);
	assert_msg_has(err, "migration 2 ");
	assert_msg_has(err, "000002_index_users_email.down.sql");
	mig_set_free(set);
}

Test(mig_load, refuses_duplicate_versions)
{
	struct mig_set *set = (struct mig_set *)&set;
	struct sg_err err = {0};

	cr_assert_eq(mig_set_load(FIXTURES "/duplicate", MIG_DEFAULT_MAX_BYTES, false, &set, &err),
	             -1);
	cr_assert_null(set);
	cr_assert_eq(err.code, SG_E_PARSE);
	cr_assert_str_eq(err.msg, "duplicate version 3: 000003_a.up.sql and 3_b.up.sql");
}

Test(mig_load, refuses_orphan_down)
{
	struct mig_set *set = NULL;
	struct sg_err err = {0};

	cr_assert_eq(mig_set_load(FIXTURES "/orphan_down", MIG_DEFAULT_MAX_BYTES, true, &set, &err),
	             -1);
	cr_assert_eq(err.code, SG_E_PARSE);
	assert_msg_has(err, "000002_add_t.down.sql");
	assert_msg_has(err, "no up file");
}

Test(mig_load, refuses_bad_names)
{
	struct mig_set *set = NULL;
	struct sg_err err = {0};

	cr_assert_eq(mig_set_load(FIXTURES "/badname", MIG_DEFAULT_MAX_BYTES, true, &set, &err),
	             -1);
	cr_assert_eq(err.code, SG_E_PARSE);
	assert_msg_has(err, "000002_Add-Users.UP.sql");
}

/* ---- mig_set_load on folders built at test time ---- */

Test(mig_load, every_bad_name_in_one_error_the_first_five_listed)
{
	struct sg_err err;
	char name[64];

	mkdir_t("m");
	write_str_t("m/000001_ok.up.sql", "SELECT 1;\n");
	/* Seven bad names, written in an order that is not the name order. */
	for (int i = 7; i >= 1; i--) {
		snprintf(name, sizeof name, "m/00000%d_x.UP.sql", i + 1);
		write_str_t(name, "SELECT 1;\n");
	}
	err = load_fails("m", MIG_DEFAULT_MAX_BYTES, SG_E_PARSE);
	assert_msg_has(err, "7 bad migration file names in");
	/* The first one with its reason, then the next four by name, then how many more. */
	assert_msg_has(err,
	               "bad migration file name 000002_x.UP.sql: the suffix must be lower case");
	assert_msg_has(err, "also 000003_x.UP.sql, 000004_x.UP.sql, 000005_x.UP.sql, "
	                    "000006_x.UP.sql and 2 more");
	cr_expect_null(strstr(err.msg, "000007_x.UP.sql"), "%s", err.msg);
	/* One bad name reads as before. */
	mkdir_t("one");
	write_str_t("one/000001_ok.up.sql", "SELECT 1;\n");
	write_str_t("one/2_x.sql", "SELECT 1;\n");
	err = load_fails("one", MIG_DEFAULT_MAX_BYTES, SG_E_PARSE);
	cr_expect_eq(strncmp(err.msg, "bad migration file name 2_x.sql: ", 33), 0, "%s", err.msg);
}

Test(mig_load, prisma_layout_is_named_with_how_to_convert)
{
	struct sg_err err;

	mkdir_t("p");
	mkdir_t("p/20240202000000_add_posts");
	mkdir_t("p/20240101000000_init");
	write_str_t("p/20240202000000_add_posts/migration.sql", "CREATE TABLE posts (id int);\n");
	write_str_t("p/20240101000000_init/migration.sql", "CREATE TABLE users (id int);\n");
	write_str_t("p/migration_lock.toml", "provider = \"postgresql\"\n");
	err = load_fails("p", MIG_DEFAULT_MAX_BYTES, SG_E_IO);
	assert_msg_has(err, "Prisma's layout (2 folders like 20240101000000_init/migration.sql)");
	assert_msg_has(err, "move each VERSION_name/migration.sql to VERSION_name.up.sql");
	/* A plain empty folder says only that. */
	mkdir_t("e");
	err = load_fails("e", MIG_DEFAULT_MAX_BYTES, SG_E_IO);
	cr_expect_null(strstr(err.msg, "Prisma"), "%s", err.msg);
}

Test(mig_load, missing_folder)
{
	struct mig_set *set = NULL;
	struct sg_err err = {0};
	char p[PATH_MAX];

	set = load_ok(tpath(p, sizeof p, "nope"), MIG_DEFAULT_MAX_BYTES, true);
	cr_assert_eq(set->n, 0);
	mig_set_free(set);

	err = load_fails("nope", MIG_DEFAULT_MAX_BYTES, SG_E_IO);
	assert_msg_has(err, p);
	assert_msg_has(err, strerror(ENOENT));
}

Test(mig_load, folder_is_a_file)
{
	struct sg_err err;
	char p[PATH_MAX];

	write_str_t("file", "x");
	err = load_fails("file", MIG_DEFAULT_MAX_BYTES, SG_E_IO);
	assert_msg_has(err, tpath(p, sizeof p, "file"));
}

Test(mig_load, empty_folder)
{
	struct mig_set *set;
	struct sg_err err;
	char p[PATH_MAX];

	mkdir_t("m");
	write_str_t("m/README.md", "nothing yet\n");
	write_str_t("m/.000001_hidden.up.sql", "SELECT 1;\n");
	write_str_t("m/.gitkeep", "");
	set = load_ok(tpath(p, sizeof p, "m"), MIG_DEFAULT_MAX_BYTES, true);
	cr_assert_eq(set->n, 0);
	mig_set_free(set);

	err = load_fails("m", MIG_DEFAULT_MAX_BYTES, SG_E_IO);
	assert_msg_has(err, p);
}

Test(mig_load, trailing_slash_and_empty_file)
{
	struct mig_set *set;
	char p[PATH_MAX];

	mkdir_t("m");
	write_str_t("m/1_empty.up.sql", "");
	set = load_ok(tpath(p, sizeof p, "m//"), MIG_DEFAULT_MAX_BYTES, false);
	cr_assert_eq(set->n, 1);
	cr_assert_str_eq(set->v[0].up_path, tpath(p, sizeof p, "m/1_empty.up.sql"));
	cr_assert_eq(set->v[0].sql_len, 0);
	cr_assert_str_eq(set->v[0].sql, "");
	cr_assert_str_eq(set->v[0].checksum,
	                 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	mig_set_free(set);
}

Test(mig_load, sorts_numerically)
{
	static const char *const names[] = {"10_j.up.sql", "9_i.up.sql", "000100_k.up.sql",
	                                    "2_b.up.sql", "0001_a.up.sql"};
	static const long want[] = {1, 2, 9, 10, 100};
	struct mig_set *set;
	char p[PATH_MAX], rel[64];
	size_t i;

	mkdir_t("m");
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		cr_assert_lt(snprintf(rel, sizeof rel, "m/%s", names[i]), (int)sizeof rel);
		write_str_t(rel, "SELECT 1;\n");
	}
	set = load_ok(tpath(p, sizeof p, "m"), MIG_DEFAULT_MAX_BYTES, false);
	cr_assert_eq(set->n, 5);
	for (i = 0; i < 5; i++)
		cr_assert_eq(set->v[i].version, want[i]);
	mig_set_free(set);
}

Test(mig_load, refuses_two_downs_for_one_version)
{
	struct sg_err err;

	mkdir_t("m");
	write_str_t("m/3_a.up.sql", "SELECT 1;\n");
	write_str_t("m/3_a.down.sql", "SELECT 1;\n");
	write_str_t("m/000003_a.down.sql", "SELECT 1;\n");
	err = load_fails("m", MIG_DEFAULT_MAX_BYTES, SG_E_PARSE);
	cr_assert_str_eq(err.msg,
	                 "two down files for version 3: 000003_a.down.sql and 3_a.down.sql");
}

Test(mig_load, refuses_down_with_other_description)
{
	struct sg_err err;

	mkdir_t("m");
	write_str_t("m/000001_create_users.up.sql", "SELECT 1;\n");
	write_str_t("m/000001_create_user.down.sql", "SELECT 1;\n");
	err = load_fails("m", MIG_DEFAULT_MAX_BYTES, SG_E_PARSE);
	assert_msg_has(err, "000001_create_user.down.sql");
	assert_msg_has(err, "000001_create_users.up.sql");
}

Test(mig_load, refuses_nul_byte)
{
	static const char sql[] = "SELECT 1;\nSELECT\0 2;\n";
	struct sg_err err;

	mkdir_t("m");
	write_t("m/000001_x.up.sql", sql, sizeof sql - 1);
	err = load_fails("m", MIG_DEFAULT_MAX_BYTES, SG_E_PARSE);
	assert_msg_has(err, "000001_x.up.sql");
	assert_msg_has(err, "NUL byte at line 2");
}

Test(mig_load, refuses_bad_down_file)
{
	static const char sql[] = "DROP TABLE x;\n\xc0\xaf\n";
	struct sg_err err;

	mkdir_t("m");
	write_str_t("m/000001_x.up.sql", "CREATE TABLE x ();\n");
	write_t("m/000001_x.down.sql", sql, sizeof sql - 1);
	err = load_fails("m", MIG_DEFAULT_MAX_BYTES, SG_E_PARSE);
	assert_msg_has(err, "000001_x.down.sql");
	assert_msg_has(err, "line 2");
}

Test(mig_load, refuses_oversize_file)
{
	char sql[100], p[PATH_MAX];
	struct mig_set *set;
	struct sg_err err;

	memset(sql, 'x', sizeof sql);
	sql[0] = '-', sql[1] = '-';
	mkdir_t("m");
	write_t("m/000007_big.up.sql", sql, sizeof sql);
	err = load_fails("m", 99, SG_E_PARSE);
	assert_msg_has(err, "000007_big.up.sql");
	assert_msg_has(err, "100 bytes");
	set = load_ok(tpath(p, sizeof p, "m"), 100, false);
	mig_set_free(set);
}

Test(mig_load, refuses_oversize_down_file)
{
	struct sg_err err;

	mkdir_t("m");
	write_str_t("m/000007_big.up.sql", "SELECT 1;\n");
	write_str_t("m/000007_big.down.sql", "SELECT 1; SELECT 2; SELECT 3;\n");
	err = load_fails("m", 20, SG_E_PARSE);
	assert_msg_has(err, "000007_big.down.sql");
}

Test(mig_load, refuses_symlink_outside_folder)
{
	struct sg_err err;

	mkdir_t("m");
	write_str_t("secret.sql", "SELECT 1;\n");
	write_str_t("m/000001_ok.up.sql", "SELECT 1;\n");
	symlink_t("../secret.sql", "m/000002_escape.up.sql");
	err = load_fails("m", MIG_DEFAULT_MAX_BYTES, SG_E_PARSE);
	assert_msg_has(err, "000002_escape.up.sql");
	assert_msg_has(err, "outside");
}

Test(mig_load, refuses_symlink_to_sibling_with_common_prefix)
{
	struct sg_err err;

	/* "m2" starts with "m": only a trailing '/' in the prefix check tells them apart. */
	mkdir_t("m");
	mkdir_t("m2");
	write_str_t("m2/x.sql", "SELECT 1;\n");
	symlink_t("../m2/x.sql", "m/000001_x.up.sql");
	err = load_fails("m", MIG_DEFAULT_MAX_BYTES, SG_E_PARSE);
	assert_msg_has(err, "000001_x.up.sql");
}

Test(mig_load, refuses_dangling_symlink)
{
	struct sg_err err;

	mkdir_t("m");
	symlink_t("gone.sql", "m/000001_x.up.sql");
	err = load_fails("m", MIG_DEFAULT_MAX_BYTES, SG_E_IO);
	assert_msg_has(err, "000001_x.up.sql");
}

/* The layout Kubernetes uses for ConfigMap volumes: every file is a symlink through ..data. */
Test(mig_load, accepts_configmap_layout)
{
	struct mig_set *set;
	struct sg_err err;
	char p[PATH_MAX];

	mkdir_t("m");
	mkdir_t("m/..2024_01_01_00_00_00.123");
	write_str_t("m/..2024_01_01_00_00_00.123/000001_x.up.sql", "SELECT 1;\n");
	write_str_t("m/..2024_01_01_00_00_00.123/000001_x.down.sql", "SELECT 2;\n");
	symlink_t("..2024_01_01_00_00_00.123", "m/..data");
	symlink_t("..data/000001_x.up.sql", "m/000001_x.up.sql");
	symlink_t("..data/000001_x.down.sql", "m/000001_x.down.sql");
	set = load_ok(tpath(p, sizeof p, "m"), MIG_DEFAULT_MAX_BYTES, false);
	cr_assert_eq(set->n, 1);
	cr_assert_str_eq(set->v[0].sql, "SELECT 1;\n");
	cr_assert_not_null(set->v[0].down_path);
	mig_set_free(set);
	/* migrate's way: hashed without the text, then the pending file read again. */
	cr_assert_eq(mig_set_load(p, MIG_DEFAULT_MAX_BYTES, MIG_NO_TEXT, &set, &err), 0, "%s",
	             err.msg);
	cr_assert_eq(mig_load_text(set, &set->v[0], MIG_DEFAULT_MAX_BYTES, &err), 0, "%s", err.msg);
	cr_assert_str_eq(set->v[0].sql, "SELECT 1;\n");
	mig_set_free(set);
}

Test(mig_load, refuses_non_regular_files)
{
	struct sg_err err;
	char p[PATH_MAX];

	mkdir_t("m");
	mkdir_t("m/000001_x.up.sql");
	err = load_fails("m", MIG_DEFAULT_MAX_BYTES, SG_E_PARSE);
	assert_msg_has(err, "000001_x.up.sql");
	assert_msg_has(err, "not a regular file");
	rm_rf(tpath(p, sizeof p, "m/000001_x.up.sql"));

	/* A FIFO must be refused, not opened: reading it would block forever. */
	cr_assert_eq(mkfifo(tpath(p, sizeof p, "m/000002_y.up.sql"), 0644), 0);
	err = load_fails("m", MIG_DEFAULT_MAX_BYTES, SG_E_PARSE);
	assert_msg_has(err, "000002_y.up.sql");
}

struct utf8_case {
	char bytes[16];
	size_t len;
	size_t line; /* 0 = valid */
};

#define U8(s, line)                                                                                \
	{                                                                                          \
		s, sizeof s - 1, line                                                              \
	}

static struct utf8_case utf8_cases[] = {
    U8("plain", 0),
    U8("\xef\xbb\xbf BOM", 0),
    U8("\xc2\x80 U+80", 0),
    U8("\xed\x9f\xbf U+D7FF", 0),
    U8("\xee\x80\x80 U+E000", 0),
    U8("\xf0\x9f\x98\x80 emoji", 0),
    U8("\xf4\x8f\xbf\xbf max", 0),
    U8("\n\n\x80 lone", 3),
    U8("\xc0\xaf overlong", 1),
    U8("\xc1\xbf overlong", 1),
    U8("\n\xe0\x80\xaf ovl3", 2),
    U8("\xf0\x80\x80\xaf ovl4", 1),
    U8("\xed\xa0\x80 surrog", 1),
    U8("\xed\xbf\xbf surrog", 1),
    U8("\xf4\x90\x80\x80 big", 1),
    U8("\xf5\x80\x80\x80 big", 1),
    U8("\xff", 1),
    U8("ok\n\xe2\x82", 2),
    U8("\xe2\x82\n", 1),
    U8("\xc3", 1),
};

static void check_utf8(struct utf8_case *c)
{
	char p[PATH_MAX], want[32];
	struct mig_set *set;
	struct sg_err err;

	fresh_dir_t("m");
	write_t("m/000001_x.up.sql", c->bytes, c->len);
	if (c->line == 0) {
		set = load_ok(tpath(p, sizeof p, "m"), MIG_DEFAULT_MAX_BYTES, false);
		cr_assert_eq(set->v[0].sql_len, c->len);
		mig_set_free(set);
		return;
	}
	err = load_fails("m", MIG_DEFAULT_MAX_BYTES, SG_E_PARSE);
	assert_msg_has(err, "000001_x.up.sql");
	cr_assert_lt(snprintf(want, sizeof want, "UTF-8 at line %zu ", c->line), (int)sizeof want);
	assert_msg_has(err, want);
}

SGT_TABLE_TEST(mig_load, utf8, utf8_cases, check_utf8)

struct notx_case {
	char sql[96];
	bool want;
};

static struct notx_case no_transaction_marker_cases[] = {
    {"-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);\n", true},
    {"-- schemagate:no-transaction\r\nSELECT 1;\r\n", true},
    {"-- schemagate:no-transaction \t \nSELECT 1;\n", true},
    {"-- schemagate:no-transaction", true},
    {" -- schemagate:no-transaction\n", false},
    {"--schemagate:no-transaction\n", false},
    {"-- schemagate:no-transaction please\n", false},
    {"-- schemagate:no-transactions\n", false},
    {"-- SCHEMAGATE:NO-TRANSACTION\n", false},
    {"-- schemagate:no-transactio\n", false},
    {"\n-- schemagate:no-transaction\n", true}, /* the leading lines, blank ones too */
    {"-- +goose NO TRANSACTION\n-- +goose Up\nSELECT 1;\n", true},
    {"", false},
};

static void check_no_transaction_marker(struct notx_case *c)
{
	struct mig_set *set;
	char p[PATH_MAX];

	fresh_dir_t("m");
	write_str_t("m/000001_x.up.sql", c->sql);
	set = load_ok(tpath(p, sizeof p, "m"), MIG_DEFAULT_MAX_BYTES, false);
	cr_assert_eq(set->v[0].no_transaction, c->want, "%s", c->sql);
	mig_set_free(set);
}

SGT_TABLE_TEST(mig_load, no_transaction_marker, no_transaction_marker_cases,
               check_no_transaction_marker)

Test(mig_load, read_down_rechecks_content)
{
	static const char bad[] = "DROP\0TABLE\n";
	struct mig_set *set;
	struct sg_err err;
	char p[PATH_MAX], *sql = NULL;

	mkdir_t("m");
	write_str_t("m/000001_x.up.sql", "CREATE TABLE x ();\n");
	write_str_t("m/000001_x.down.sql", "DROP TABLE x;\n");
	set = load_ok(tpath(p, sizeof p, "m"), MIG_DEFAULT_MAX_BYTES, false);
	write_t("m/000001_x.down.sql", bad, sizeof bad - 1);
	cr_assert_eq(mig_read_down(&set->v[0], &sql, NULL, NULL, &err), -1);
	cr_assert_null(sql);
	cr_assert_eq(err.code, SG_E_PARSE);
	assert_msg_has(err, "000001_x.down.sql");

	cr_assert_eq(unlink(tpath(p, sizeof p, "m/000001_x.down.sql")), 0);
	cr_assert_eq(mig_read_down(&set->v[0], &sql, NULL, NULL, &err), -1);
	cr_assert_eq(err.code, SG_E_IO);
	assert_msg_has(err, "000001_x.down.sql");
	mig_set_free(set);
}

/* A down file swapped for a symlink to a file outside the folder after loading is refused when
 * it is read: the open does not follow the link blindly (O_NOFOLLOW, then a fresh check). */
Test(mig_load, read_down_refuses_symlink_swapped_in_later)
{
	struct mig_set *set;
	struct sg_err err;
	char p[PATH_MAX], *sql = NULL;

	mkdir_t("m");
	write_str_t("secret.sql", "SELECT 'secret';\n");
	write_str_t("m/000001_x.up.sql", "CREATE TABLE x ();\n");
	write_str_t("m/000001_x.down.sql", "DROP TABLE x;\n");
	set = load_ok(tpath(p, sizeof p, "m"), MIG_DEFAULT_MAX_BYTES, false);
	cr_assert_eq(unlink(tpath(p, sizeof p, "m/000001_x.down.sql")), 0);
	symlink_t("../secret.sql", "m/000001_x.down.sql");
	cr_assert_eq(mig_read_down(&set->v[0], &sql, NULL, NULL, &err), -1);
	cr_assert_null(sql);
	assert_msg_has(err, "outside");
	/* A link inside the folder (the ConfigMap layout) still reads. */
	write_str_t("m/real_down", "DROP TABLE x;\n");
	cr_assert_eq(unlink(tpath(p, sizeof p, "m/000001_x.down.sql")), 0);
	symlink_t("real_down", "m/000001_x.down.sql");
	cr_assert_eq(mig_read_down(&set->v[0], &sql, NULL, NULL, &err), 0, "%s", err.msg);
	cr_assert_str_eq(sql, "DROP TABLE x;\n");
	free(sql);
	mig_set_free(set);
}

/* ---- mig_create ---- */

/* The clock mig_create is given: 2026-09-01 12:00:00 UTC. */
#define T_NOW ((time_t)1788264000)

TestSuite(mig_create, .init = setup, .fini = teardown);

/* Runs mig_create in tmp/<rel> and checks the base name of the up file it made. */
static void create_ok(const char *rel, const char *name, const char *want_up_base)
{
	char p[PATH_MAX], want[PATH_MAX], buf[512];
	char *up = NULL, *down = NULL;
	struct sg_err err = {0};
	const char *base;
	size_t len;

	cr_assert_eq(mig_create(tpath(p, sizeof p, rel), name, T_NOW, NULL, &up, &down, &err), 0,
	             "%s", err.msg);
	cr_assert_lt(snprintf(want, sizeof want, "%s/%s", p, want_up_base), (int)sizeof want);
	cr_assert_str_eq(up, want);
	len = strlen(up);
	cr_assert_gt(len, strlen(".up.sql"));
	cr_assert_lt(
	    snprintf(want, sizeof want, "%.*s.down.sql", (int)(len - strlen(".up.sql")), up),
	    (int)sizeof want);
	cr_assert_str_eq(down, want);

	/* headers: "-- <version> <slug>: up" */
	base = strrchr(up, '/') + 1;
	slurp(up, buf, sizeof buf);
	cr_assert_eq(strncmp(buf, "-- ", 3), 0, "%s", buf);
	cr_assert_not_null(strstr(buf, ": up\n"), "%s", buf);
	cr_assert_eq(strncmp(buf + 3, base, (size_t)(strchr(base, '_') - base)), 0, "%s", buf);
	slurp(down, buf, sizeof buf);
	cr_assert_not_null(strstr(buf, ": down\n"), "%s", buf);
	free(up);
	free(down);
}

static struct sg_err create_fails(const char *rel, const char *name, enum sg_code code)
{
	char *up = (char *)&code, *down = (char *)&code;
	struct sg_err err = {0};
	char p[PATH_MAX];

	cr_assert_eq(mig_create(tpath(p, sizeof p, rel), name, T_NOW, NULL, &up, &down, &err), -1);
	cr_assert_null(up);
	cr_assert_null(down);
	cr_assert_eq(err.code, code, "code %d: %s", err.code, err.msg);
	return err;
}

Test(mig_create, first_in_empty_folder)
{
	char p[PATH_MAX], buf[128];

	mkdir_t("m");
	create_ok("m", "Add users", "000001_add_users.up.sql");
	slurp(tpath(p, sizeof p, "m/000001_add_users.up.sql"), buf, sizeof buf);
	cr_assert_str_eq(buf, "-- 000001 add_users: up\n");
	slurp(tpath(p, sizeof p, "m/000001_add_users.down.sql"), buf, sizeof buf);
	cr_assert_str_eq(buf, "-- 000001 add_users: down\n");
}

Test(mig_create, creates_missing_folder_one_level)
{
	struct sg_err err;
	char p[PATH_MAX];

	create_ok("new", "x", "000001_x.up.sql");
	err = create_fails("a/b", "x", SG_E_IO);
	assert_msg_has(err, tpath(p, sizeof p, "a/b"));
}

Test(mig_create, follows_the_highest_version)
{
	mkdir_t("m");
	write_str_t("m/README.md", "hi\n");
	write_str_t("m/7_old.up.sql", "SELECT 1;\n");
	write_str_t("m/000041_latest.up.sql", "SELECT 1;\n");
	write_str_t("m/000041_latest.down.sql", "SELECT 1;\n");
	create_ok("m", "next one", "000042_next_one.up.sql");
	create_ok("m", "next one", "000043_next_one.up.sql");
}

Test(mig_create, counts_down_files)
{
	mkdir_t("m");
	write_str_t("m/000005_a.up.sql", "SELECT 1;\n");
	write_str_t("m/000006_b.down.sql", "SELECT 1;\n");
	create_ok("m", "c", "000007_c.up.sql");
}

Test(mig_create, widens_past_six_digits)
{
	mkdir_t("m");
	write_str_t("m/999999_a.up.sql", "SELECT 1;\n");
	create_ok("m", "b", "1000000_b.up.sql");
}

Test(mig_create, timestamp_folder_gets_the_utc_time_not_last_plus_one)
{
	mkdir_t("m");
	write_str_t("m/20260818090124_a.up.sql", "SELECT 1;\n");
	create_ok("m", "b", "20260901120000_b.up.sql");
}

Test(mig_create, timestamp_folder_with_a_clock_behind_takes_last_plus_one_and_says_so)
{
	char p[PATH_MAX], want[PATH_MAX];
	char *up = NULL, *down = NULL;
	struct sg_err err = {0};
	bool behind = false;

	mkdir_t("m");
	write_str_t("m/20260901120000_a.up.sql", "SELECT 1;\n");
	/* The same second as the newest file, then a clock a month behind it. */
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(mig_create(tpath(p, sizeof p, "m"), "b", i == 0 ? T_NOW : 1785542400,
		                        &behind, &up, &down, &err),
		             0, "%s", err.msg);
		cr_assert_lt(snprintf(want, sizeof want, "%s/2026090112000%d_b.up.sql", p, i + 1),
		             (int)sizeof want);
		cr_expect_str_eq(up, want);
		cr_expect(behind);
		free(up);
		free(down);
	}
}

Test(mig_create, sequential_and_empty_folders_ignore_the_clock)
{
	bool behind = true;
	char p[PATH_MAX];
	char *up = NULL, *down = NULL;
	struct sg_err err = {0};

	mkdir_t("m");
	write_str_t("m/000003_a.up.sql", "SELECT 1;\n");
	create_ok("m", "b", "000004_b.up.sql");
	/* 13 digits is not a timestamp. */
	write_str_t("m/1000000000000_c.up.sql", "SELECT 1;\n");
	create_ok("m", "d", "1000000000001_d.up.sql");
	mkdir_t("e");
	cr_assert_eq(mig_create(tpath(p, sizeof p, "e"), "f", T_NOW, &behind, &up, &down, &err), 0);
	cr_expect_not_null(strstr(up, "/000001_f.up.sql"), "%s", up);
	cr_expect(!behind);
	free(up);
	free(down);
}

Test(mig_create, refuses_malformed_names_in_folder)
{
	struct sg_err err;

	mkdir_t("m");
	write_str_t("m/12x_a.up.sql", "SELECT 1;\n");
	err = create_fails("m", "b", SG_E_PARSE);
	assert_msg_has(err, "12x_a.up.sql");
}

Test(mig_create, folder_is_a_file)
{
	struct sg_err err;

	write_str_t("f", "x");
	err = create_fails("f", "b", SG_E_IO);
	assert_msg_has(err, "not a folder");
}

struct slug_case {
	char name[128];
	char want[128]; /* up file base name; "" = refused */
};

static struct slug_case slugs_cases[] = {
    {"add_users", "000001_add_users.up.sql"},
    {"Add Users", "000001_add_users.up.sql"},
    {"  --Add__Users!!  ", "000001_add_users.up.sql"},
    {"v2 API: rename-columns", "000001_v2_api_rename_columns.up.sql"},
    {"\xc3\x84nderung f\xc3\xbcr Kunden", "000001_nderung_f_r_kunden.up.sql"},
    {"123", "000001_123.up.sql"},
    {"../../etc/passwd", "000001_etc_passwd.up.sql"},
    {"!!!", ""},
    {"", ""},
    {"\xe2\x9c\x93", ""},
};

static void check_slugs(struct slug_case *c)
{
	struct sg_err err;

	fresh_dir_t("m");
	if (c->want[0] != '\0') {
		create_ok("m", c->name, c->want);
		return;
	}
	err = create_fails("m", c->name, SG_E_USAGE);
	assert_msg_has(err, c->name);
}

SGT_TABLE_TEST(mig_create, slugs, slugs_cases, check_slugs)

Test(mig_create, long_names_are_cut_at_a_word)
{
	char name[300], want[200];

	memset(name, 'a', sizeof name);
	name[sizeof name - 1] = '\0';
	mkdir_t("m");
	memcpy(want, "000001_", 7);
	memset(want + 7, 'a', 100);
	memcpy(want + 107, ".up.sql", 8);
	create_ok("m", name, want);

	/* 99 letters, a space, one more: no room for "_b", so the slug stops at 99 */
	memset(name, 'a', 99);
	memcpy(name + 99, " b", 3);
	memcpy(want, "000002_", 7);
	memcpy(want + 106, ".up.sql", 8);
	create_ok("m", name, want);
}

Test(mig_create, never_overwrites)
{
	char p[PATH_MAX], buf[128];

	mkdir_t("m");
	create_ok("m", "same", "000001_same.up.sql");
	write_str_t("m/000001_same.up.sql", "CREATE TABLE kept ();\n");
	create_ok("m", "same", "000002_same.up.sql");
	slurp(tpath(p, sizeof p, "m/000001_same.up.sql"), buf, sizeof buf);
	cr_assert_str_eq(buf, "CREATE TABLE kept ();\n");
	slurp(tpath(p, sizeof p, "m/000001_same.down.sql"), buf, sizeof buf);
	cr_assert_str_eq(buf, "-- 000001 same: down\n");
}

/* Makes the down file fail to write: its header is 2 bytes longer than the up file's, so a file
 * size limit equal to the up header's length lets the up file through and stops the down one. */
Test(mig_create, removes_up_file_when_down_fails)
{
	static const char up_head[] = "-- 000001 x: up\n";
	struct rlimit old, lim;
	char *up = NULL, *down = NULL, p[PATH_MAX];
	struct sg_err err = {0};
	int rc;

	mkdir_t("m");
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = sizeof up_head - 1;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	rc = mig_create(tpath(p, sizeof p, "m"), "x", T_NOW, NULL, &up, &down, &err);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);

	cr_assert_eq(rc, -1);
	cr_assert_eq(err.code, SG_E_IO);
	assert_msg_has(err, "000001_x.down.sql");
	cr_assert_null(up);
	cr_assert_null(down);
	cr_assert_not(exists(tpath(p, sizeof p, "m/000001_x.up.sql")), "up file left behind");
	cr_assert_not(exists(tpath(p, sizeof p, "m/000001_x.down.sql")), "down file left behind");
}

Test(mig_create, result_loads)
{
	struct mig_set *set;
	char p[PATH_MAX];

	create_ok("m", "Create Users", "000001_create_users.up.sql");
	create_ok("m", "Add index", "000002_add_index.up.sql");
	set = load_ok(tpath(p, sizeof p, "m"), MIG_DEFAULT_MAX_BYTES, false);
	cr_assert_eq(set->n, 2);
	cr_assert_str_eq(set->v[1].name, "add_index");
	cr_assert_not_null(set->v[1].down_path);
	mig_set_free(set);
}

Test(mig_load, down_file_content_is_checked_only_when_asked)
{
	struct mig_set *set = NULL;
	struct sg_err err;
	char dir[512];

	mkdir_t("lazy");
	write_str_t("lazy/000001_a.up.sql", "SELECT 1;\n");
	write_str_t("lazy/000001_a.down.sql", "SELECT \xff;\n");
	tpath(dir, sizeof dir, "lazy");
	/* migrate's hot path skips the down file's content... */
	cr_assert_eq(mig_set_load(dir, MIG_DEFAULT_MAX_BYTES, 0, &set, &err), 0, "%s", err.msg);
	mig_set_free(set);
	set = NULL;
	/* ...verify reads it (mig_read_down checks it too, when it is used). */
	cr_assert_eq(mig_set_load(dir, MIG_DEFAULT_MAX_BYTES, MIG_CHECK_DOWN, &set, &err), -1);
	cr_expect(strstr(err.msg, "000001_a.down.sql") != NULL, "%s", err.msg);
}

/* ---- MIG_NO_TEXT: streamed loading gives what the full load gives ---- */

/* Loads dir both ways; returns the two errors (code SG_E_OK when loaded) and
 * checks that loaded sets agree on checksum, size and marker. */
static void load_both(const char *rel, struct sg_err *full, struct sg_err *streamed)
{
	struct mig_set *a = NULL, *b = NULL;
	char p[PATH_MAX];

	*full = (struct sg_err){.code = SG_E_OK};
	*streamed = (struct sg_err){.code = SG_E_OK};
	int ra = mig_set_load(tpath(p, sizeof p, rel), MIG_DEFAULT_MAX_BYTES, 0, &a, full);
	int rb = mig_set_load(p, MIG_DEFAULT_MAX_BYTES, MIG_NO_TEXT, &b, streamed);

	cr_assert_eq(ra, rb, "one load failed: %s / %s", full->msg, streamed->msg);
	if (a != NULL) {
		cr_assert_eq(a->n, b->n);
		for (size_t i = 0; i < a->n; i++) {
			cr_expect_str_eq(a->v[i].checksum, b->v[i].checksum);
			cr_expect_eq(a->v[i].sql_len, b->v[i].sql_len);
			cr_expect_eq(a->v[i].no_transaction, b->v[i].no_transaction);
			cr_expect_eq(a->v[i].lock_timeout_ms, b->v[i].lock_timeout_ms);
			cr_expect_not_null(a->v[i].sql);
			cr_expect_null(b->v[i].sql, "MIG_NO_TEXT keeps no text");
		}
	}
	mig_set_free(a);
	mig_set_free(b);
}

/* A file of about 2.5 MiB whose 3-byte character `euro` sits at `at`, and
 * (when bad_at > 0) a stray continuation byte at bad_at. */
static void write_big(const char *rel, size_t at, size_t bad_at)
{
	size_t n = (5u << 19) + 7;
	char *buf = malloc(n);

	cr_assert_not_null(buf);
	memcpy(buf, "-- schemagate:no-transaction\n", 29);
	for (size_t i = 29; i < n; i++)
		buf[i] = (i % 80 == 79) ? '\n' : 'x';
	memcpy(buf + at, "\xe2\x82\xac", 3);
	if (bad_at > 0)
		buf[bad_at] = (char)0x80;
	write_t(rel, buf, n);
	free(buf);
}

Test(mig_load, no_text_matches_full_load_across_chunk_boundaries)
{
	struct sg_err full, streamed;

	mkdir_t("m");
	for (size_t d = 0; d < 4; d++) {
		/* The character straddles the first 1 MiB boundary at every split. */
		write_big("m/000001_x.up.sql", ((size_t)1 << 20) - d, 0);
		load_both("m", &full, &streamed);
		cr_expect_eq(full.code, SG_E_OK, "%s", full.msg);
		cr_expect_eq(streamed.code, SG_E_OK, "%s", streamed.msg);
	}
}

Test(mig_load, no_text_reports_the_same_line_and_offset)
{
	struct sg_err full, streamed;

	mkdir_t("m");
	write_big("m/000001_x.up.sql", 100, ((size_t)1 << 20) + 4242);
	load_both("m", &full, &streamed);
	cr_expect_eq(full.code, SG_E_PARSE);
	cr_expect_str_eq(streamed.msg, full.msg);
	write_big("m/000001_x.up.sql", ((size_t)1 << 21) - 1, 0);
	write_t("m/000002_y.up.sql", "SELECT 1;\n\nSELECT\0 2;\n", 22);
	load_both("m", &full, &streamed);
	cr_expect_eq(full.code, SG_E_PARSE);
	cr_expect_str_eq(streamed.msg, full.msg);
}

/* goose and dbmate keep the down part in the same file, after an annotation: renamed to
 * .up.sql, it would run right after the up part. Refused, naming file, line and tool; the
 * annotations that do no harm (Up, StatementBegin) and look-alikes that are not comment
 * lines load. */
Test(mig_load, refuses_goose_and_dbmate_down_sections)
{
	static const struct {
		const char *sql, *want;
	} bad[] = {
	    {"-- +goose Up\nCREATE TABLE t (id int);\n\n-- +goose Down\nDROP TABLE t;\n",
	     "000001_x.up.sql:4: goose's down section"},
	    {"-- +goose Up\nCREATE TABLE t (id int);\n  --+goose down\nDROP TABLE t;\n",
	     "000001_x.up.sql:3: goose's down section"},
	    {"-- migrate:up\nCREATE TABLE t (id int);\n-- migrate:down\nDROP TABLE t;\n",
	     "000001_x.up.sql:3: dbmate's down section"},
	};
	static const char *const ok[] = {
	    "-- +goose Up\n-- +goose StatementBegin\nCREATE TABLE t (id int);\n"
	    "-- +goose StatementEnd\n",
	    "SELECT '-- migrate:down';\n-- +goose Downtime is not a section\n",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct sg_err err;
		char dir[64];

		snprintf(dir, sizeof dir, "bad%zu", i);
		mkdir_t(dir);
		snprintf(dir, sizeof dir, "bad%zu/000001_x.up.sql", i);
		write_str_t(dir, bad[i].sql);
		snprintf(dir, sizeof dir, "bad%zu", i);
		err = load_fails(dir, MIG_DEFAULT_MAX_BYTES, SG_E_PARSE);
		assert_msg_has(err, bad[i].want);
	}
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		char dir[64], p[PATH_MAX];

		snprintf(dir, sizeof dir, "ok%zu", i);
		mkdir_t(dir);
		snprintf(dir, sizeof dir, "ok%zu/000001_x.up.sql", i);
		write_str_t(dir, ok[i]);
		snprintf(dir, sizeof dir, "ok%zu", i);
		mig_set_free(load_ok(tpath(p, sizeof p, dir), MIG_DEFAULT_MAX_BYTES, false));
	}
}

/* A goose or dbmate file split in two keeps its section heading: in the .down.sql file it is
 * where the down part already is, so verify and down accept it there. A down file that still
 * holds the up part before the heading is refused, naming the line. */
Test(mig_load, down_file_may_start_with_its_section_heading)
{
	static const char up[] = "-- +goose Up\nCREATE TABLE t (id int);\n";
	struct mig_set *set;
	struct sg_err err;
	char p[PATH_MAX], *sql = NULL;

	mkdir_t("goose");
	write_str_t("goose/000001_t.up.sql", up);
	write_str_t("goose/000001_t.down.sql",
	            "-- the down part\n\n-- +goose Down\n-- +goose StatementBegin\n"
	            "DROP TABLE t;\n-- +goose StatementEnd\n");
	mkdir_t("dbmate");
	write_str_t("dbmate/000001_t.up.sql", "-- migrate:up\nCREATE TABLE t (id int);\n");
	write_str_t("dbmate/000001_t.down.sql", "-- migrate:down\r\nDROP TABLE t;\r\n");
	for (int i = 0; i < 2; i++) {
		set = NULL;
		cr_assert_eq(mig_set_load(tpath(p, sizeof p, i == 0 ? "goose" : "dbmate"),
		                          MIG_DEFAULT_MAX_BYTES, MIG_CHECK_DOWN, &set, &err),
		             0, "%s", err.msg);
		cr_assert_eq(mig_read_down(&set->v[0], &sql, NULL, NULL, &err), 0, "%s", err.msg);
		cr_expect_not_null(strstr(sql, "DROP TABLE t;"));
		free(sql);
		mig_set_free(set);
	}
	mkdir_t("both");
	write_str_t("both/000001_t.up.sql", up);
	write_str_t("both/000001_t.down.sql",
	            "-- +goose Up\nCREATE TABLE t (id int);\n-- +goose Down\nDROP TABLE t;\n");
	err = load_fails("both", MIG_DEFAULT_MAX_BYTES, SG_E_PARSE);
	assert_msg_has(err, "000001_t.down.sql:3: goose's down section starts here, after other "
	                    "lines (from line 2)");
	/* An up file is refused as before: its heading would run the down part after the up. */
	mkdir_t("upfile");
	write_str_t("upfile/000001_t.up.sql", "-- +goose Down\nDROP TABLE t;\n");
	err = load_fails("upfile", MIG_DEFAULT_MAX_BYTES, SG_E_PARSE);
	assert_msg_has(err, "000001_t.up.sql:1: goose's down section starts here");
}

/* serve and status read files in chunks without keeping them: they refuse the same files as
 * migrate, with the same message (they once let a goose down section through). */
Test(mig_load, no_text_refuses_a_down_section_like_the_full_load)
{
	struct sg_err full, streamed;

	mkdir_t("m");
	write_str_t("m/000001_x.up.sql", "-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 2;\n");
	load_both("m", &full, &streamed);
	cr_expect_eq(full.code, SG_E_PARSE);
	cr_expect_str_eq(streamed.msg, full.msg);
}

/* The directives are read once, where a file is loaded: in 64 KiB pieces or whole, the same
 * answer, and the same refusal, even for a directive after more than one piece of leading
 * comments (verify once passed a lock-timeout that migrate refused). */
static void write_directive_after_comments(const char *rel, const char *directive)
{
	size_t n = 0, cap = 200000;
	char *buf = malloc(cap);

	cr_assert_not_null(buf);
	n += (size_t)snprintf(buf, cap, "-- schemagate:no-transaction\n");
	while (n < 70000)
		n += (size_t)snprintf(buf + n, cap - n, "-- %070d\n", 0);
	n += (size_t)snprintf(buf + n, cap - n, "%s\nSELECT 1;\n", directive);
	write_t(rel, buf, n);
	free(buf);
}

Test(mig_load, directives_are_read_the_same_streamed_and_whole)
{
	struct sg_err full, streamed;
	struct mig_set *set;
	char p[PATH_MAX];

	mkdir_t("m");
	write_directive_after_comments("m/000001_x.up.sql", "-- schemagate:lock-timeout=1m30s");
	load_both("m", &full, &streamed);
	cr_expect_eq(full.code, SG_E_OK, "%s", full.msg);
	set = load_ok(tpath(p, sizeof p, "m"), MIG_DEFAULT_MAX_BYTES, false);
	cr_expect(set->v[0].no_transaction);
	cr_expect_eq(set->v[0].lock_timeout_ms, 90000);
	mig_set_free(set);
	write_directive_after_comments("m/000001_x.up.sql", "-- schemagate:lock-timeout=banana");
	load_both("m", &full, &streamed);
	cr_expect_eq(full.code, SG_E_PARSE);
	cr_expect_str_eq(streamed.msg, full.msg);
	assert_msg_has(full, "000001_x.up.sql:");
	assert_msg_has(full, ": schemagate:lock-timeout: ");
}

/* A down file's directives are checked where its content is: by verify (MIG_CHECK_DOWN) and
 * when down reads it. */
Test(mig_load, down_file_directives_are_checked_with_its_content)
{
	struct mig_set *set = NULL;
	struct directives d;
	struct sg_err err;
	char p[PATH_MAX], *sql = NULL;

	mkdir_t("m");
	write_str_t("m/000001_a.up.sql", "SELECT 1;\n");
	write_str_t("m/000001_a.down.sql",
	            "-- schemagate:no-transaction\n-- schemagate:lock-timeout=2s\nSELECT 2;\n");
	set = load_ok(tpath(p, sizeof p, "m"), MIG_DEFAULT_MAX_BYTES, false);
	cr_assert_eq(mig_read_down(&set->v[0], &sql, NULL, &d, &err), 0, "%s", err.msg);
	cr_expect(d.no_transaction);
	cr_expect_eq(d.lock_timeout_ms, 2000);
	free(sql);
	sql = NULL;
	write_str_t("m/000001_a.down.sql", "-- schemagate:lock-timeout=banana\nSELECT 2;\n");
	cr_assert_eq(mig_read_down(&set->v[0], &sql, NULL, &d, &err), -1);
	assert_msg_has(err, "000001_a.down.sql:1: schemagate:lock-timeout: ");
	cr_expect_null(sql);
	mig_set_free(set);
	set = NULL;
	cr_assert_eq(mig_set_load(p, MIG_DEFAULT_MAX_BYTES, MIG_CHECK_DOWN, &set, &err), -1);
	assert_msg_has(err, "000001_a.down.sql:1: schemagate:lock-timeout: ");
	cr_assert_eq(mig_set_load(p, MIG_DEFAULT_MAX_BYTES, 0, &set, &err), 0, "%s", err.msg);
	mig_set_free(set);
}

/* migrate hashes the folder without texts, then reads the pending files again: the text must
 * be the one that was hashed. */
Test(mig_load, load_text_reads_the_hashed_file_and_refuses_a_changed_one)
{
	struct mig_set *set;
	struct sg_err err;
	char p[PATH_MAX];

	mkdir_t("m");
	write_str_t("m/000001_a.up.sql", "-- schemagate:no-transaction\nSELECT 1;\n");
	write_str_t("m/000002_b.up.sql", "SELECT 2;\n");
	set = load_ok(tpath(p, sizeof p, "m"), MIG_DEFAULT_MAX_BYTES, false);
	mig_set_free(set);
	cr_assert_eq(mig_set_load(p, MIG_DEFAULT_MAX_BYTES, MIG_NO_TEXT, &set, &err), 0, "%s",
	             err.msg);
	cr_assert_null(set->v[0].sql);
	cr_assert_eq(mig_load_text(set, &set->v[0], MIG_DEFAULT_MAX_BYTES, &err), 0, "%s", err.msg);
	cr_assert_str_eq(set->v[0].sql, "-- schemagate:no-transaction\nSELECT 1;\n");
	cr_assert(set->v[0].no_transaction);
	write_str_t("m/000002_b.up.sql", "SELECT 3;\n");
	cr_assert_eq(mig_load_text(set, &set->v[1], MIG_DEFAULT_MAX_BYTES, &err), -1);
	cr_assert_eq(err.code, SG_E_IO);
	assert_msg_has(err, "000002_b.up.sql changed while schemagate was reading it");
	cr_assert_null(set->v[1].sql);
	mig_set_free(set);
}
