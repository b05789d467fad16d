/* test_err.c - sg_err_set: formatting, NULL tolerance, and wrapping its own previous message. */
#include <string.h>

#include <criterion/criterion.h>

#include "err.h"

Test(err, formats_code_and_message)
{
	struct sg_err e;

	cr_assert_eq(sg_err_set(&e, SG_E_IO, "open %s: %d", "x.sql", 2), -1);
	cr_assert_eq(e.code, SG_E_IO);
	cr_assert_str_eq(e.msg, "open x.sql: 2");
}

Test(err, null_err_is_fine)
{
	cr_assert_eq(sg_err_set(NULL, SG_E_IO, "x"), -1);
	sg_err_clear(NULL);
}

/* Regression: callers add context with sg_err_set(err, c, "%s: %s", file,
 * err->msg). Formatting straight into err->msg garbled the text (the fuzzing
 * and hostile-input work found "f.sql: f.sql: $body$ opened at line 3"). */
Test(err, wrapping_its_own_message_keeps_it)
{
	struct sg_err e;

	sg_err_set(&e, SG_E_PARSE, "unterminated dollar-quoted string $body$ opened at line 3");
	sg_err_set(&e, SG_E_PARSE, "%s: %.900s", "/tmp/m/000004_fn.up.sql", e.msg);
	cr_assert_str_eq(e.msg, "/tmp/m/000004_fn.up.sql: unterminated dollar-quoted string $body$ "
	                        "opened at line 3");
	sg_err_set(&e, SG_E_MIGRATION, "%s (again: %s)", e.msg, e.msg);
	cr_assert_eq(strncmp(e.msg, "/tmp/m/000004_fn.up.sql: unterminated", 37), 0, "%s", e.msg);
}

Test(err, long_messages_are_cut_and_terminated)
{
	struct sg_err e;
	char big[3000];

	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	sg_err_set(&e, SG_E_IO, "%s", big);
	cr_assert_eq(strlen(e.msg), sizeof e.msg - 1);
	sg_err_set(&e, SG_E_IO, "x: %s", e.msg);
	cr_assert_eq(strncmp(e.msg, "x: aaa", 6), 0);
	cr_assert_eq(strlen(e.msg), sizeof e.msg - 1);
}

/* The cause a database error carries: a new error starts without one, a message that only adds
 * context keeps it (so that a caller deciding whether to reconnect still sees it). */
Test(err, set_clears_the_cause_and_wrap_keeps_it)
{
	struct sg_err e;

	sg_err_set(&e, SG_E_DB, "server closed the connection unexpectedly");
	cr_expect_str_eq(e.sqlstate, "");
	cr_expect_not(e.conn_lost);
	memcpy(e.sqlstate, "57P01", 6);
	e.conn_lost = true;
	sg_err_wrap(&e, SG_E_MIGRATION, "%s: recording the migration failed: %s", "1.up.sql",
	            e.msg);
	cr_expect_eq(e.code, SG_E_MIGRATION);
	cr_expect_str_eq(e.msg,
	                 "1.up.sql: recording the migration failed: server closed the connection "
	                 "unexpectedly");
	cr_expect_str_eq(e.sqlstate, "57P01");
	cr_expect(e.conn_lost);
	sg_err_set(&e, SG_E_PARSE, "%s: bad", "2.up.sql");
	cr_expect_str_eq(e.sqlstate, "");
	cr_expect_not(e.conn_lost);
	memcpy(e.sqlstate, "42P01", 6);
	sg_err_clear(&e);
	cr_expect_str_eq(e.sqlstate, "");
	cr_expect_eq(sg_err_wrap(NULL, SG_E_IO, "x"), -1);
}
