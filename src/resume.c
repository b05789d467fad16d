/* resume.c - which no-transaction statements cut off by a lost connection may run again. */
#include "resume.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "sqlsplit.h"

/* Keywords looked at before a statement's object name or body, at most. */
#define HEAD_TOKENS 12

/* The statement's first tokens, up to the first one that is not a word. */
struct head {
	struct sql_token t[HEAD_TOKENS];
	size_t n;      /* tokens read */
	size_t nwords; /* leading words among them */
};

static void read_head(const char *s, size_t len, struct head *h)
{
	size_t pos = 0;

	h->n = h->nwords = 0;
	while (h->n < HEAD_TOKENS && sqlsplit_token(s, len, &pos, &h->t[h->n])) {
		if (h->t[h->n].word && h->nwords == h->n)
			h->nwords++;
		h->n++;
	}
}

/* Token i is the unquoted keyword kw. */
static bool kw(const struct head *h, size_t i, const char *k)
{
	return i < h->n && h->t[i].word && !h->t[i].quoted && strcmp(h->t[i].text, k) == 0;
}

/* The keywords of seq (NULL-terminated) follow one another somewhere in the leading words. */
static bool has_words(const struct head *h, const char *const *seq)
{
	for (size_t i = 0; i < h->nwords; i++) {
		size_t k = 0;

		while (seq[k] != NULL && i + k < h->nwords && kw(h, i + k, seq[k]))
			k++;
		if (seq[k] == NULL)
			return true;
	}
	return false;
}

/* Appends the name part as a double-quoted identifier ("" for a quote). */
static bool quote_part(char *dst, size_t n, size_t *off, const char *name)
{
	if (*off + 1 >= n)
		return false;
	dst[(*off)++] = '"';
	for (const char *p = name; *p != '\0'; p++) {
		if (*off + (*p == '"' ? 2 : 1) + 1 >= n)
			return false;
		if (*p == '"')
			dst[(*off)++] = '"';
		dst[(*off)++] = *p;
	}
	dst[(*off)++] = '"';
	dst[*off] = '\0';
	return true;
}

/* CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ON [ONLY] table[.table]. */
static struct resume_plan create_index_concurrently(const struct head *h)
{
	struct resume_plan p = {RESUME_REFUSE, "", "", NULL};
	size_t i = kw(h, 1, "unique") ? 3 : 2, off = 0;

	i++; /* CONCURRENTLY */
	if (kw(h, i, "if") && kw(h, i + 1, "not") && kw(h, i + 2, "exists"))
		i += 3;
	if (kw(h, i, "on") || i >= h->n || !h->t[i].word) {
		p.why = "CREATE INDEX CONCURRENTLY without an index name: what it leaves behind is "
		        "named by the server";
		return p;
	}
	snprintf(p.index, sizeof p.index, "%s", h->t[i].text);
	i++;
	if (!kw(h, i, "on")) {
		p.why = "CREATE INDEX CONCURRENTLY not understood";
		return p;
	}
	i++;
	if (kw(h, i, "only"))
		i++;
	if (i >= h->n || !h->t[i].word || !quote_part(p.table, sizeof p.table, &off, h->t[i].text))
		goto unknown_table;
	if (i + 2 < h->n && strcmp(h->t[i + 1].text, ".") == 0 && !h->t[i + 1].word) {
		if (!h->t[i + 2].word)
			goto unknown_table;
		p.table[off++] = '.';
		p.table[off] = '\0';
		if (!quote_part(p.table, sizeof p.table, &off, h->t[i + 2].text))
			goto unknown_table;
	}
	p.kind = RESUME_INDEX;
	p.why = "CREATE INDEX CONCURRENTLY of a named index";
	return p;
unknown_table:
	p.index[0] = p.table[0] = '\0';
	p.why = "CREATE INDEX CONCURRENTLY on a table not understood";
	return p;
}

struct resume_plan resume_classify(const char *stmt, size_t len)
{
	static const char *const if_not_exists[] = {"if", "not", "exists", NULL};
	static const char *const if_exists[] = {"if", "exists", NULL};
	struct resume_plan p = {RESUME_REFUSE, "", "", "not idempotent by construction"};
	struct head h;

	read_head(stmt, len, &h);
	if (kw(&h, 0, "create")) {
		size_t i = kw(&h, 1, "unique") ? 2 : 1;

		if (kw(&h, i, "index") && kw(&h, i + 1, "concurrently"))
			return create_index_concurrently(&h);
		if (kw(&h, 1, "or") && kw(&h, 2, "replace")) {
			p.kind = RESUME_RERUN;
			p.why = "CREATE OR REPLACE";
		} else if (has_words(&h, if_not_exists)) {
			p.kind = RESUME_RERUN;
			p.why = "CREATE ... IF NOT EXISTS";
		}
	} else if (kw(&h, 0, "drop") && has_words(&h, if_exists)) {
		p.kind = RESUME_RERUN;
		p.why = "DROP ... IF EXISTS";
	} else if (kw(&h, 0, "reindex")) {
		/* Concurrently or not, a rebuild run twice leaves the same index. */
		p.kind = RESUME_RERUN;
		p.why = "REINDEX";
	}
	return p;
}
