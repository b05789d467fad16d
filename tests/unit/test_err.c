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
