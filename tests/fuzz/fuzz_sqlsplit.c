/* fuzz_sqlsplit.c - libFuzzer harness: the SQL splitter and error-position mapping. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sqlsplit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, not NUL-terminated: ASan catches any read past it. */
	char *text = malloc(size > 0 ? size : 1);
	struct sql_stmts st = {NULL, 0};
	struct sg_err err;
	unsigned line, col;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	if (sqlsplit(text, size, &st, &err) == 0) {
		size_t prev_end = 0;

		for (size_t i = 0; i < st.n; i++) {
			const struct sql_stmt *s = &st.v[i];

			/* Slices lie inside the text, in order, and start on their line. */
			if (s->offset > size || s->len > size - s->offset || s->offset < prev_end ||
			    s->line == 0 || s->len == 0)
				abort();
			prev_end = s->offset + s->len;
			/* COPY data lies after its statement, inside the text, before the next. */
			if (s->copy) {
				if (s->data_offset < prev_end || s->data_offset > size ||
				    s->data_len > size - s->data_offset || s->data_line < s->line)
					abort();
				prev_end = s->data_offset + s->data_len;
			} else if (s->data_len != 0) {
				abort();
			}
			(void)sqlsplit_column_of(text, s->offset);
			for (long pos = 1; pos <= 3; pos++)
				(void)sqlsplit_position(text + s->offset, s->len, pos, s->line - 1,
				                        0, &line, &col);
		}
	} else if (st.v != NULL || st.n != 0 || err.code != SG_E_PARSE) {
		abort();
	}
	sqlsplit_free(&st);
	/* Positions anywhere in the whole text, including out of range. */
	for (long pos = -1; pos <= (long)size + 2; pos += (long)size / 7 + 1)
		if (sqlsplit_position(text, size, pos, 0, 0, &line, &col) == 0 &&
		    (line == 0 || col == 0))
			abort();
	(void)sqlsplit_column_of(text, size);
	/* The body of a migration file lies inside the text; an unwrapped body is all of it. */
	for (int notx = 0; notx <= 1; notx++) {
		struct sql_body b;

		if (sqlsplit_body(text, size, notx != 0, &b, &err) == 0) {
			if (b.offset > size || b.len > size - b.offset ||
			    (!b.wrapped && (b.offset != 0 || b.len != size)) || (b.wrapped && notx))
				abort();
		} else if (err.code != SG_E_PARSE) {
			abort();
		}
	}
	free(text);
	return 0;
}
