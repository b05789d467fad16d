/* texttable.c - rows of text cells, printed aligned (help) or as Markdown (the docs/ pages). */
#include "texttable.h"

#include <stdlib.h>
#include <string.h>

struct texttable {
	size_t ncols;
	size_t nrows, cap;
	char **cells; /* nrows * ncols owned copies, row after row */
	bool *code;   /* per column: Markdown in backticks */
	bool nomem;   /* a row was dropped for want of memory: printing fails */
};

int texttable_new(size_t ncols, const char *const *head, struct texttable **out, struct sg_err *err)
{
	struct texttable *t = NULL;

	*out = NULL;
	if (ncols == 0 || ncols > TEXTTABLE_MAXCOLS)
		return sg_err_set(err, SG_E_USAGE, "a table has 1 to %d columns",
		                  TEXTTABLE_MAXCOLS);
	if ((t = calloc(1, sizeof *t)) == NULL ||
	    (t->code = calloc(ncols, sizeof *t->code)) == NULL) {
		free(t);
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	}
	t->ncols = ncols;
	texttable_add(t, head);
	if (t->nomem) {
		texttable_free(t);
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	}
	*out = t;
	return 0;
}

void texttable_code_column(struct texttable *t, size_t col)
{
	if (col < t->ncols)
		t->code[col] = true;
}

void texttable_add(struct texttable *t, const char *const *cells)
{
	size_t i, base;

	if (t->nomem)
		return;
	if (t->nrows == t->cap) {
		size_t cap = t->cap == 0 ? 16 : t->cap * 2;
		char **grown = realloc(t->cells, cap * t->ncols * sizeof *grown);

		if (grown == NULL) {
			t->nomem = true;
			return;
		}
		t->cells = grown;
		t->cap = cap;
	}
	base = t->nrows * t->ncols;
	for (i = 0; i < t->ncols; i++) {
		const char *c = cells[i] != NULL ? cells[i] : "";

		if ((t->cells[base + i] = strdup(c)) == NULL) {
			while (i-- > 0)
				free(t->cells[base + i]);
			t->nomem = true;
			return;
		}
	}
	t->nrows++;
}

/* One Markdown cell: '|' escaped (GitHub reads "\|" as a pipe even inside a
 * code span of a table), line breaks as blanks, code in backticks (doubled
 * with blanks when the text holds a backtick itself). Other cells are
 * Markdown as written (`code` spans stay), except that '<', '>' and '*'
 * outside code spans are escaped: "<table>_runs" is text, not an HTML tag. */
static void md_cell(FILE *out, const char *s, bool code)
{
	bool tick = strchr(s, '`') != NULL, in_span = false;

	fputs(" ", out);
	if (*s == '\0') {
		fputs("\u2014 |", out);
		return;
	}
	if (code)
		fputs(tick ? "`` " : "`", out);
	for (; *s != '\0'; s++) {
		if (*s == '`')
			in_span = !in_span;
		if (*s == '|')
			fputs("\\|", out);
		else if (*s == '\n' || *s == '\r')
			fputc(' ', out);
		else if (!code && !in_span && *s == '<')
			fputs("&lt;", out);
		else if (!code && !in_span && *s == '>')
			fputs("&gt;", out);
		else if (!code && !in_span && *s == '*')
			fputs("\\*", out);
		else
			fputc(*s, out);
	}
	if (code)
		fputs(tick ? " ``" : "`", out);
	fputs(" |", out);
}

static void print_markdown(const struct texttable *t, FILE *out)
{
	for (size_t r = 0; r < t->nrows; r++) {
		fputs("|", out);
		for (size_t c = 0; c < t->ncols; c++)
			md_cell(out, t->cells[r * t->ncols + c], r > 0 && t->code[c]);
		fputs("\n", out);
		if (r == 0) {
			fputs("|", out);
			for (size_t c = 0; c < t->ncols; c++)
				fputs("---|", out);
			fputs("\n", out);
		}
	}
}

static const char *text_cell(const char *s)
{
	return *s != '\0' ? s : "-";
}

static void print_text(const struct texttable *t, FILE *out)
{
	int width[TEXTTABLE_MAXCOLS] = {0};
	size_t r, c;

	for (r = 0; r < t->nrows; r++)
		for (c = 0; c + 1 < t->ncols; c++) {
			int w = (int)strlen(text_cell(t->cells[r * t->ncols + c]));

			if (w > width[c])
				width[c] = w;
		}
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c + 1 < t->ncols; c++)
			fprintf(out, "%-*s  ", width[c], text_cell(t->cells[r * t->ncols + c]));
		fprintf(out, "%s\n", text_cell(t->cells[r * t->ncols + c]));
	}
}

int texttable_print(const struct texttable *t, FILE *out, enum texttable_style style,
                    struct sg_err *err)
{
	if (t->nomem)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	if (style == TEXTTABLE_MARKDOWN)
		print_markdown(t, out);
	else
		print_text(t, out);
	if (ferror(out) || fflush(out) != 0)
		return sg_err_set(err, SG_E_IO, "writing the table failed");
	return 0;
}

void texttable_free(struct texttable *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->code);
	free(t);
}
