/* texttable.h - a table of text cells printed aligned for a terminal or as a Markdown table. */
#ifndef SCHEMAGATE_TEXTTABLE_H
#define SCHEMAGATE_TEXTTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "err.h"

/* How texttable_print lays a table out. */
enum texttable_style {
	TEXTTABLE_TEXT,     /* columns padded to their widest cell, two blanks apart; the
	                     * last column is not padded; an empty cell prints "-" */
	TEXTTABLE_MARKDOWN, /* GitHub-flavoured Markdown: the first row is the header, '|'
	                     * in a cell is escaped, code columns are in backticks, an empty
	                     * cell prints an em dash */
};

struct texttable; /* opaque: rows live in texttable.c */

/* The widest table (columns). */
#define TEXTTABLE_MAXCOLS 8

/* A table of ncols (1..TEXTTABLE_MAXCOLS) columns whose header row is head
 * (ncols cells, copied). On success *out owns the table: texttable_free().
 * SG_E_USAGE for a bad ncols, SG_E_NOMEM. */
SG_MUSTCHECK int texttable_new(size_t ncols, const char *const *head, struct texttable **out,
                               struct sg_err *err);

/* Marks column col (< ncols) as code: Markdown prints its cells, header
 * excepted, in backticks. No effect on TEXTTABLE_TEXT. */
void texttable_code_column(struct texttable *t, size_t col);

/* Appends a row of ncols cells, each copied (NULL or "" is an empty cell).
 * Cannot fail here: when memory runs out the row is dropped and the table
 * remembers it, so that texttable_print fails instead (as a FILE's error
 * flag defers a failed write to ferror), and callers fill a table in a plain
 * loop. */
void texttable_add(struct texttable *t, const char *const *cells);

/* Prints every row in the given style. Returns 0, or -1: SG_E_NOMEM when a
 * texttable_add ran out of memory (nothing is printed), SG_E_IO when
 * writing to out failed. */
SG_MUSTCHECK int texttable_print(const struct texttable *t, FILE *out, enum texttable_style style,
                                 struct sg_err *err);

/* Frees the table and its copies; NULL-safe. */
void texttable_free(struct texttable *t);

#endif /* SCHEMAGATE_TEXTTABLE_H */
