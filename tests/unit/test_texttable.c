/* test_texttable.c - aligned text and Markdown tables (help and the docs/ pages). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "texttable.h"

/* The table printed in one style, as a malloc'd string. */
static char *print(const struct texttable *t, enum texttable_style style)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct sg_err err;

	cr_assert_not_null(f);
	cr_assert_eq(texttable_print(t, f, style, &err), 0, "%s", err.msg);
	cr_assert_eq(fclose(f), 0);
	return text;
}

/* A table of a header and rows covering every kind of cell. */
static struct texttable *sample(void)
{
	static const char *const head[3] = {"FLAG", "KEY", "DESCRIPTION"};
	static const char *const rows[][3] = {
	    {"--dir", "migrations.dir", "directory of migration files"},
	    {"--steps", NULL, "a|b"},
	    {"--x", "", "tick ` inside"},
	    {"<t>*", "a <b> `c <d>`", "e"},
	};
	struct texttable *t = NULL;
	struct sg_err err;

	cr_assert_eq(texttable_new(3, head, &t, &err), 0, "%s", err.msg);
	texttable_code_column(t, 0);
	texttable_code_column(t, 2);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		texttable_add(t, rows[i]);
	return t;
}

/* The sample printed in a style must be want, exactly. */
static void expect_printed(enum texttable_style style, const char *want)
{
	struct texttable *t = sample();
	char *text = print(t, style);

	cr_assert_str_eq(text, want);
	free(text);
	texttable_free(t);
}

Test(texttable, text_is_aligned_with_dashes_for_empty_cells)
{
	expect_printed(TEXTTABLE_TEXT, "FLAG     KEY             DESCRIPTION\n"
	                               "--dir    migrations.dir  directory of migration files\n"
	                               "--steps  -               a|b\n"
	                               "--x      -               tick ` inside\n"
	                               "<t>*     a <b> `c <d>`   e\n");
}

Test(texttable, markdown_escapes_pipes_and_quotes_code)
{
	expect_printed(TEXTTABLE_MARKDOWN,
	               "| FLAG | KEY | DESCRIPTION |\n"
	               "|---|---|---|\n"
	               "| `--dir` | migrations.dir | `directory of migration files` |\n"
	               "| `--steps` | \u2014 | `a\\|b` |\n"
	               "| `--x` | \u2014 | `` tick ` inside `` |\n"
	               "| `<t>*` | a &lt;b&gt; `c <d>` | `e` |\n");
}

Test(texttable, refuses_bad_column_counts)
{
	static const char *const head[TEXTTABLE_MAXCOLS + 1] = {"a"};
	struct texttable *t = NULL;
	struct sg_err err;

	cr_assert_eq(texttable_new(0, head, &t, &err), -1);
	cr_assert_null(t);
	cr_assert_eq(texttable_new(TEXTTABLE_MAXCOLS + 1, head, &t, &err), -1);
	cr_assert_eq(err.code, SG_E_USAGE);
	texttable_free(NULL);
}
