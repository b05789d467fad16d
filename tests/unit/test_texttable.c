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

static struct texttable *sample(void)
{
	static const char *const rows[][3] = {
	    {"FLAG", "KEY", "DESCRIPTION"},
	    {"--dir", "migrations.dir", "directory of migration files"},
	    {"--steps", NULL, "a|b"},
	    {"--x", "", "tick ` inside"},
	    {"<t>*", "a <b> `c <d>`", "e"},
	};
	struct texttable *t = NULL;
	struct sg_err err;

	cr_assert_eq(texttable_new(3, &t, &err), 0, "%s", err.msg);
	texttable_code_column(t, 0);
	texttable_code_column(t, 2);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		cr_assert_eq(texttable_add(t, rows[i], &err), 0, "%s", err.msg);
	return t;
}

Test(texttable, text_is_aligned_with_dashes_for_empty_cells)
{
	struct texttable *t = sample();
	char *text = print(t, TEXTTABLE_TEXT);

	cr_assert_str_eq(text, "FLAG     KEY             DESCRIPTION\n"
	                       "--dir    migrations.dir  directory of migration files\n"
	                       "--steps  -               a|b\n"
	                       "--x      -               tick ` inside\n"
	                       "<t>*     a <b> `c <d>`   e\n");
	free(text);
	texttable_free(t);
}

Test(texttable, markdown_escapes_pipes_and_quotes_code)
{
	struct texttable *t = sample();
	char *text = print(t, TEXTTABLE_MARKDOWN);

	cr_assert_str_eq(text, "| FLAG | KEY | DESCRIPTION |\n"
	                       "|---|---|---|\n"
	                       "| `--dir` | migrations.dir | `directory of migration files` |\n"
	                       "| `--steps` | \u2014 | `a\\|b` |\n"
	                       "| `--x` | \u2014 | `` tick ` inside `` |\n"
	                       "| `<t>*` | a &lt;b&gt; `c <d>` | `e` |\n");
	free(text);
	texttable_free(t);
}

Test(texttable, refuses_bad_column_counts)
{
	struct texttable *t = NULL;
	struct sg_err err;

	cr_assert_eq(texttable_new(0, &t, &err), -1);
	cr_assert_null(t);
	cr_assert_eq(texttable_new(TEXTTABLE_MAXCOLS + 1, &t, &err), -1);
	cr_assert_eq(err.code, SG_E_USAGE);
	texttable_free(NULL);
}
