/* sqlsplit.c - finds top-level statement boundaries the way the PostgreSQL lexer sees them. */
#include "sqlsplit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* Returned by the skip_* scanners when the construct runs off the end of the text. */
#define NOT_FOUND SIZE_MAX

/* Longest dollar-quote tag quoted verbatim in an error message. */
#define TAG_SHOWN_MAX 64

/* Counts lines lazily. Callers only ask about positions in increasing order, so the
 * whole pass counts every byte once. */
struct line_counter {
	const char *s;
	size_t pos;    /* s[0..pos) has been counted */
	unsigned line; /* 1-based line that s[pos] is on */
};

static unsigned line_at(struct line_counter *lc, size_t pos)
{
	if (pos < lc->pos) { /* not expected; stay correct rather than fast */
		lc->pos = 0;
		lc->line = 1;
	}
	while (lc->pos < pos) {
		const char *nl = memchr(lc->s + lc->pos, '\n', pos - lc->pos);

		if (nl == NULL) {
			lc->pos = pos;
			break;
		}
		lc->line++;
		lc->pos = (size_t)(nl - lc->s) + 1;
	}
	return lc->line;
}

/* The server's [ \t\n\r\f\v]. */
static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* ident_start: letters, '_' and every byte >= 0x80 (multi-byte characters). */
static int is_ident_start(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c >= 0x80;
}

/* ident_cont: '$' is allowed inside identifiers, which is why a$b opens no dollar quote. */
static int is_ident_cont(unsigned char c)
{
	return is_ident_start(c) || is_digit(c) || c == '$';
}

/* dolq_cont: like ident_cont but without '$'. */
static int is_dolq_cont(unsigned char c)
{
	return is_ident_start(c) || is_digit(c);
}

/* True when s[0..n) is the keyword kw (lower case ASCII), ignoring ASCII case. */
static int word_is(const char *s, size_t n, const char *kw)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (kw[i] == '\0')
			return 0;
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c != (unsigned char)kw[i])
			return 0;
	}
	return kw[n] == '\0';
}

/* Skips the body of a '' string; i is just past the opening quote. A doubled quote is a
 * quote; with escapes (E'') a backslash also hides the next byte. Returns the index just
 * past the closing quote. */
static size_t skip_quoted(const char *s, size_t len, size_t i, int escapes)
{
	while (i < len) {
		if (s[i] == '\\' && escapes) {
			i += 2; /* may step to len + 1: the loop test catches it */
		} else if (s[i] == '\'') {
			if (i + 1 < len && s[i + 1] == '\'')
				i += 2;
			else
				return i + 1;
		} else {
			i++;
		}
	}
	return NOT_FOUND;
}

/* Two string literals separated only by whitespace holding a newline (and -- comments) are
 * one literal to the server, and the second part keeps the first one's escape rules. That
 * matters for E'' strings: E'a'<newline>'\'' is a single string. Looks ahead from i (just
 * past a closing quote) and returns the index of the continuing quote, or NOT_FOUND. */
static size_t string_continuation(const char *s, size_t len, size_t i)
{
	int newline = 0;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n' || c == '\r') {
			newline = 1;
			i++;
		} else if (c == ' ' || c == '\t' || c == '\f' || (c == '\v' && newline)) {
			i++;
		} else if (c == '-' && i + 1 < len && s[i + 1] == '-') {
			while (i < len && s[i] != '\n' && s[i] != '\r')
				i++;
		} else if (c == '\'' && newline) {
			return i;
		} else {
			return NOT_FOUND;
		}
	}
	return NOT_FOUND;
}

/* Skips a "quoted identifier"; i is just past the opening quote; "" is a quote. */
static size_t skip_quoted_ident(const char *s, size_t len, size_t i)
{
	while (i < len) {
		const char *q = memchr(s + i, '"', len - i);

		if (q == NULL)
			return NOT_FOUND;
		i = (size_t)(q - s) + 1;
		if (i < len && s[i] == '"')
			i++;
		else
			return i;
	}
	return NOT_FOUND;
}

/* Skips a block comment; i is just past the opening slash-star. Comments nest, as in the
 * server (and unlike the SQL standard's C-like reading). */
static size_t skip_block_comment(const char *s, size_t len, size_t i)
{
	size_t depth = 1;

	while (i < len) {
		if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
			depth++;
			i += 2;
		} else if (s[i] == '*' && i + 1 < len && s[i + 1] == '/') {
			i += 2;
			if (--depth == 0)
				return i;
		} else {
			i++;
		}
	}
	return NOT_FOUND;
}

/* s[i] is '$'. Returns the length of the dollar-quote delimiter ($$ or $tag$) starting
 * there, or 0 when there is none ($1 parameters, a lone '$'). */
static size_t dollar_delim_len(const char *s, size_t len, size_t i)
{
	size_t j = i + 1;

	if (j < len && is_ident_start((unsigned char)s[j])) {
		j++;
		while (j < len && is_dolq_cont((unsigned char)s[j]))
			j++;
	}
	if (j < len && s[j] == '$')
		return j + 1 - i;
	return 0;
}

/* Skips a dollar-quoted body up to the delimiter tag[0..taglen) that opened it; i is just
 * past the opening delimiter. Only the exact same tag closes it. The tag has no '$' inside,
 * so each comparison stops by the next '$' in the text: the scan stays linear. */
static size_t skip_dollar_body(const char *s, size_t len, size_t i, const char *tag, size_t taglen)
{
	while (i < len) {
		const char *d = memchr(s + i, '$', len - i);
		size_t k, j;

		if (d == NULL)
			return NOT_FOUND;
		k = (size_t)(d - s);
		for (j = 1; j < taglen && k + j < len && s[k + j] == tag[j]; j++)
			;
		if (j == taglen)
			return k + taglen;
		i = k + 1;
	}
	return NOT_FOUND;
}

/* Appends text[off..end) with trailing blanks trimmed. */
static int push_stmt(struct sql_stmts *r, size_t *cap, const char *text, size_t off, size_t end,
                     unsigned line, struct sg_err *err)
{
	while (end > off && is_space((unsigned char)text[end - 1]))
		end--;
	if (r->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct sql_stmt *v;

		if (ncap > SIZE_MAX / sizeof *v)
			return sg_err_set(err, SG_E_NOMEM, "out of memory splitting SQL");
		v = realloc(r->v, ncap * sizeof *v);
		if (v == NULL)
			return sg_err_set(err, SG_E_NOMEM, "out of memory splitting SQL");
		r->v = v;
		*cap = ncap;
	}
	memset(&r->v[r->n], 0, sizeof r->v[r->n]);
	r->v[r->n].offset = off;
	r->v[r->n].len = end - off;
	r->v[r->n].line = line;
	r->n++;
	return 0;
}

/* Whether s[0..len) is COPY ... FROM stdin (psql sends the data that follows it). */
static bool is_copy_from_stdin(const char *s, size_t len)
{
	struct sql_token t;
	size_t pos = 0;
	bool from = false;

	if (!sqlsplit_token(s, len, &pos, &t) || !t.word || t.quoted || strcmp(t.text, "copy") != 0)
		return false;
	while (sqlsplit_token(s, len, &pos, &t)) {
		if (t.word && !t.quoted && from && strcmp(t.text, "stdin") == 0)
			return true;
		if (!t.word && t.text[0] == '\'')
			return false; /* a string: a file name, or options after the source */
		from = t.word && !t.quoted && strcmp(t.text, "from") == 0;
	}
	return false;
}

/* The end of the line holding s[i] (the index of its '\n', or len). */
static size_t line_end(const char *s, size_t len, size_t i)
{
	const char *nl = memchr(s + i, '\n', len - i);

	return nl != NULL ? (size_t)(nl - s) : len;
}

/* The statement just pushed is COPY ... FROM stdin ending with the ';' at text[i]: finds its
 * data, from the next line up to a "\." line. Returns the index past that line, or NOT_FOUND
 * with err set. */
static size_t copy_data(const char *text, size_t len, size_t i, struct sql_stmt *st,
                        struct line_counter *lc, struct sg_err *err)
{
	size_t e = line_end(text, len, i + 1), p;

	for (size_t k = i + 1; k < e; k++)
		if (!is_space((unsigned char)text[k])) {
			sg_err_set(err, SG_E_PARSE,
			           "line %u: text after COPY ... FROM stdin; on its line: its data "
			           "starts on the next line",
			           line_at(lc, k));
			return NOT_FOUND;
		}
	p = e < len ? e + 1 : len;
	st->copy = true;
	st->data_offset = p;
	st->data_line = line_at(lc, p < len ? p : e);
	while (p < len) {
		size_t q = line_end(text, len, p), n = q - p;

		if (n > 0 && text[p + n - 1] == '\r')
			n--;
		if (n == 2 && text[p] == '\\' && text[p + 1] == '.') {
			st->data_len = p - st->data_offset;
			return q < len ? q + 1 : len;
		}
		p = q < len ? q + 1 : len;
	}
	sg_err_set(err, SG_E_PARSE,
	           "line %u: the data of COPY ... FROM stdin has no end: add a line \\. after its "
	           "last row",
	           st->line);
	return NOT_FOUND;
}

/* A backslash outside quotes and comments at text[i]: a psql meta-command. \restrict and
 * \unrestrict between statements are skipped (the index past their line); anything else is
 * refused (NOT_FOUND with err). */
static size_t meta_command(const char *text, size_t len, size_t i, bool in_stmt,
                           struct line_counter *lc, struct sg_err *err)
{
	size_t w = i + 1;

	while (w < len && w - i <= 32 && !is_space((unsigned char)text[w]))
		w++;
	if (!in_stmt && (word_is(text + i + 1, w - i - 1, "restrict") ||
	                 word_is(text + i + 1, w - i - 1, "unrestrict")))
		return line_end(text, len, i);
	sg_err_set(err, SG_E_PARSE,
	           "line %u: psql meta-command %.*s%s: schemagate sends SQL to the server, not to "
	           "psql; only COPY ... FROM stdin with its data up to \\. (and \\restrict, "
	           "\\unrestrict between statements, ignored) is understood: remove the line or "
	           "write it as SQL",
	           line_at(lc, i), (int)(w - i), text + i, w - i > 32 ? "..." : "");
	return NOT_FOUND;
}

int sqlsplit(const char *text, size_t len, struct sql_stmts *out, struct sg_err *err)
{
	struct sql_stmts res = {NULL, 0};
	struct line_counter lc = {text, 0, 1};
	size_t cap = 0;
	size_t i = 0;
	size_t start = NOT_FOUND; /* first significant byte of the current statement */
	unsigned start_line = 0;
	size_t atomic = 0;   /* open BEGIN ATOMIC / CASE blocks in the current statement */
	int after_begin = 0; /* the previous token was the word BEGIN */
	bool cut = false;    /* psql's lines since the last statement */
	const char *nul;
	int rc = -1;

	out->v = NULL;
	out->n = 0;
	if (len == 0)
		return 0;
	if (text == NULL) {
		sg_err_set(err, SG_E_PARSE, "no SQL text");
		goto cleanup;
	}
	/* The server stops reading at a NUL, so anything after it would silently vanish. */
	if ((nul = memchr(text, '\0', len)) != NULL) {
		sg_err_set(err, SG_E_PARSE, "NUL byte in SQL text at line %u",
		           line_at(&lc, (size_t)(nul - text)));
		goto cleanup;
	}

	while (i < len) {
		unsigned char c = (unsigned char)text[i];
		int begin_word = 0;
		size_t j;

		/* Blanks and comments separate tokens; they neither start a statement nor
		 * break up BEGIN ATOMIC. */
		if (is_space(c)) {
			i++;
			continue;
		}
		if (c == '-' && i + 1 < len && text[i + 1] == '-') {
			/* The server ends a line comment at '\r' as well as '\n'. */
			while (i < len && text[i] != '\n' && text[i] != '\r')
				i++;
			continue;
		}
		if (c == '/' && i + 1 < len && text[i + 1] == '*') {
			j = skip_block_comment(text, len, i + 2);
			if (j == NOT_FOUND) {
				sg_err_set(err, SG_E_PARSE,
				           "unterminated block comment opened at line %u",
				           line_at(&lc, i));
				goto cleanup;
			}
			i = j;
			continue;
		}
		if (c == ';' && atomic == 0) {
			if (start != NOT_FOUND) {
				struct sql_stmt *st;

				if (push_stmt(&res, &cap, text, start, i, start_line, err) != 0)
					goto cleanup;
				st = &res.v[res.n - 1];
				st->cut_before = cut;
				cut = false;
				if (is_copy_from_stdin(text + st->offset, st->len)) {
					if ((j = copy_data(text, len, i, st, &lc, err)) ==
					    NOT_FOUND)
						goto cleanup;
					cut = true;
					start = NOT_FOUND;
					after_begin = 0;
					i = j;
					continue;
				}
			}
			start = NOT_FOUND;
			after_begin = 0;
			i++;
			continue;
		}
		if (c == '\\') {
			if ((j = meta_command(text, len, i, start != NOT_FOUND, &lc, err)) ==
			    NOT_FOUND)
				goto cleanup;
			cut = true;
			i = j;
			continue;
		}

		if (start == NOT_FOUND) {
			start = i;
			start_line = line_at(&lc, i);
		}
		if (c == '\'') {
			/* Plain, U&'', B'' and X'' strings: backslash is an ordinary byte. */
			j = skip_quoted(text, len, i + 1, 0);
			if (j == NOT_FOUND) {
				sg_err_set(err, SG_E_PARSE,
				           "unterminated quoted string opened at line %u",
				           line_at(&lc, i));
				goto cleanup;
			}
			i = j;
		} else if (c == '"') {
			j = skip_quoted_ident(text, len, i + 1);
			if (j == NOT_FOUND) {
				sg_err_set(err, SG_E_PARSE,
				           "unterminated quoted identifier opened at line %u",
				           line_at(&lc, i));
				goto cleanup;
			}
			i = j;
		} else if (c == '$') {
			size_t dl = dollar_delim_len(text, len, i);

			if (dl == 0) {
				i++; /* a parameter such as $1, or a stray '$' */
			} else {
				j = skip_dollar_body(text, len, i + dl, text + i, dl);
				if (j == NOT_FOUND) {
					sg_err_set(
					    err, SG_E_PARSE,
					    "unterminated dollar-quoted string %.*s%s opened at "
					    "line %u",
					    (int)(dl > TAG_SHOWN_MAX ? TAG_SHOWN_MAX : dl),
					    text + i, dl > TAG_SHOWN_MAX ? "..." : "",
					    line_at(&lc, i));
					goto cleanup;
				}
				i = j;
			}
		} else if (is_ident_start(c)) {
			/* Whole words, so that xE'..' and a$b are read as the server reads them. */
			j = i + 1;
			while (j < len && is_ident_cont((unsigned char)text[j]))
				j++;
			if (j - i == 1 && (c == 'E' || c == 'e') && j < len && text[j] == '\'') {
				size_t seg = i; /* where the part being scanned opened */

				j = skip_quoted(text, len, j + 1, 1);
				while (j != NOT_FOUND) {
					size_t q = string_continuation(text, len, j);

					if (q == NOT_FOUND)
						break;
					seg = q;
					j = skip_quoted(text, len, q + 1, 1);
				}
				if (j == NOT_FOUND) {
					sg_err_set(
					    err, SG_E_PARSE,
					    "unterminated escape string E'...' opened at line %u",
					    line_at(&lc, seg));
					goto cleanup;
				}
			} else if (word_is(text + i, j - i, "begin")) {
				begin_word = 1;
			} else if (after_begin && word_is(text + i, j - i, "atomic")) {
				atomic++;
			} else if (atomic > 0 && word_is(text + i, j - i, "case")) {
				atomic++;
			} else if (atomic > 0 && word_is(text + i, j - i, "end")) {
				atomic--;
			}
			i = j;
		} else {
			i++; /* numbers, operators, punctuation, ';' inside BEGIN ATOMIC */
		}
		after_begin = begin_word;
	}
	if (start != NOT_FOUND) {
		if (push_stmt(&res, &cap, text, start, len, start_line, err) != 0)
			goto cleanup;
		res.v[res.n - 1].cut_before = cut;
	}

	*out = res; /* ownership moves to the caller */
	res.v = NULL;
	res.n = 0;
	rc = 0;
cleanup:
	sqlsplit_free(&res);
	return rc;
}

void sqlsplit_free(struct sql_stmts *s)
{
	if (s == NULL)
		return;
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* Bytes in the character whose lead byte is c, as the server's pg_utf_mblen() counts. */
static size_t utf8_char_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		return 2;
	if ((c & 0xf0) == 0xe0)
		return 3;
	if ((c & 0xf8) == 0xf0)
		return 4;
	return 1;
}

int sqlsplit_position(const char *text, size_t len, long pos, unsigned base_line, unsigned base_col,
                      unsigned *line, unsigned *col)
{
	unsigned l = 1, c = 1;
	size_t i = 0;
	long k;

	if (pos < 1)
		return -1;
	/* Walk the pos - 1 characters before the one the server points at. */
	for (k = 1; k < pos; k++) {
		size_t n;

		if (i >= len)
			return -1;
		n = utf8_char_len((unsigned char)text[i]);
		if (text[i] == '\n') {
			l++;
			c = 1;
		} else {
			c++;
		}
		i = n > len - i ? len : i + n;
	}
	if (l == 1)
		c += base_col;
	*line = l + base_line;
	*col = c;
	return 0;
}

size_t sqlsplit_column_of(const char *text, size_t offset)
{
	size_t start = offset, i, col = 1;

	while (start > 0 && text[start - 1] != '\n')
		start--;
	for (i = start; i < offset; col++) {
		size_t n = utf8_char_len((unsigned char)text[i]);

		i = n > offset - i ? offset : i + n;
	}
	return col;
}

/* ---- transaction control ---- */

/* Kinds of top-level statement that matter for transaction control. */
enum txn_kind {
	TXN_NONE,      /* an ordinary statement */
	TXN_BEGIN,     /* BEGIN [WORK|TRANSACTION] / START TRANSACTION, plain */
	TXN_BEGIN_OPT, /* the same with transaction modes (isolation level, ...) */
	TXN_COMMIT,    /* COMMIT / END [WORK|TRANSACTION], plain */
	TXN_OTHER,     /* every other statement that ends or splits a transaction */
};

/* True when s[0..len) is only blanks and comments. */
static bool comment_run_ends(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		if (is_space((unsigned char)s[i])) {
			i++;
		} else if (s[i] == '-' && i + 1 < len && s[i + 1] == '-') {
			while (i < len && s[i] != '\n' && s[i] != '\r')
				i++;
		} else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
			size_t j = skip_block_comment(s, len, i + 2);

			i = j == NOT_FOUND ? len : j;
		} else {
			return false;
		}
	}
	return true;
}

/* Reads up to max words of s[0..len) (skipping blanks and comments); returns how many. Words are
 * runs of identifier characters; anything else ends the scan. */
static size_t read_words(const char *s, size_t len, const char **w, size_t *wl, size_t max)
{
	size_t i = 0, n = 0;

	while (i < len && n < max) {
		unsigned char c = (unsigned char)s[i];

		if (is_space(c)) {
			i++;
		} else if (c == '-' && i + 1 < len && s[i + 1] == '-') {
			while (i < len && s[i] != '\n' && s[i] != '\r')
				i++;
		} else if (c == '/' && i + 1 < len && s[i + 1] == '*') {
			size_t j = skip_block_comment(s, len, i + 2);

			i = j == NOT_FOUND ? len : j;
		} else if (is_ident_start(c)) {
			size_t j = i + 1;

			while (j < len && is_ident_cont((unsigned char)s[j]))
				j++;
			w[n] = s + i;
			wl[n++] = j - i;
			i = j;
		} else {
			break;
		}
	}
	return n;
}

/* True when s[i..len) holds only blanks and comments. */
static bool only_blank(const char *s, size_t len, size_t i)
{
	return comment_run_ends(s + i, len - i);
}

static enum txn_kind txn_classify(const char *s, size_t len, const char **what)
{
	const char *w[4];
	size_t wl[4], n = read_words(s, len, w, wl, 4), k;

	*what = "";
	if (n == 0)
		return TXN_NONE;
#define IS(i, kw) ((i) < n && word_is(w[i], wl[i], kw))
	if (IS(0, "begin") || (IS(0, "start") && IS(1, "transaction"))) {
		k = IS(0, "start") ? 2 : 1;
		if (IS(0, "begin") && (IS(1, "work") || IS(1, "transaction")))
			k = 2;
		*what = IS(0, "start") ? "START TRANSACTION" : "BEGIN";
		/* Anything after the keywords is a transaction mode (ISOLATION LEVEL, ...). */
		return k < n || !only_blank(s, len, (size_t)(w[k - 1] + wl[k - 1] - s))
		           ? TXN_BEGIN_OPT
		           : TXN_BEGIN;
	}
	if (IS(0, "commit") || IS(0, "end")) {
		*what = IS(0, "commit") ? "COMMIT" : "END";
		if (IS(1, "prepared")) {
			*what = "COMMIT PREPARED";
			return TXN_OTHER;
		}
		k = IS(1, "work") || IS(1, "transaction") ? 2 : 1;
		if (IS(k, "and")) {
			*what = IS(k + 1, "no") ? "COMMIT AND NO CHAIN" : "COMMIT AND CHAIN";
			return IS(k + 1, "no") ? TXN_COMMIT : TXN_OTHER;
		}
		return TXN_COMMIT;
	}
	if (IS(0, "rollback") || IS(0, "abort")) {
		*what = IS(1, "prepared") ? "ROLLBACK PREPARED"
		        : IS(0, "abort")  ? "ABORT"
		                          : "ROLLBACK";
		return TXN_OTHER;
	}
	if (IS(0, "savepoint")) {
		*what = "SAVEPOINT";
		return TXN_OTHER;
	}
	if (IS(0, "release")) {
		*what = "RELEASE SAVEPOINT";
		return TXN_OTHER;
	}
	if (IS(0, "prepare") && IS(1, "transaction")) {
		*what = "PREPARE TRANSACTION";
		return TXN_OTHER;
	}
#undef IS
	return TXN_NONE;
}

int sqlsplit_body(const char *text, size_t len, bool no_transaction, struct sql_body *out,
                  struct sg_err *err)
{
	struct sql_stmts st = {NULL, 0};
	enum txn_kind first = TXN_NONE, last = TXN_NONE;
	const char *what;
	int rc = -1;
	size_t i;

	out->offset = 0;
	out->len = len;
	out->line = 0;
	out->col = 0;
	out->wrapped = false;
	if (sqlsplit(text, len, &st, err) != 0)
		return -1;
	for (i = 0; i < st.n; i++) {
		const struct sql_stmt *s = &st.v[i];
		enum txn_kind k = txn_classify(text + s->offset, s->len, &what);

		if (i == 0)
			first = k;
		if (i + 1 == st.n)
			last = k;
		if (k == TXN_NONE)
			continue;
		if (no_transaction) {
			sg_err_set(err, SG_E_PARSE,
			           "line %u: %s in a no-transaction file, which runs outside any "
			           "transaction; put the transactional part in a file of its own",
			           s->line, what);
			goto cleanup;
		}
		if (k == TXN_BEGIN_OPT) {
			sg_err_set(
			    err, SG_E_PARSE,
			    "line %u: %s with transaction modes; schemagate opens the "
			    "transaction itself: remove the wrapper or set the mode with SET "
			    "TRANSACTION inside",
			    s->line, what);
			goto cleanup;
		}
		if ((k == TXN_BEGIN && i == 0 && st.n > 1) ||
		    (k == TXN_COMMIT && i + 1 == st.n && st.n > 1 && first == TXN_BEGIN))
			continue;
		sg_err_set(err, SG_E_PARSE,
		           "line %u: %s ends or splits the migration's transaction, so the history "
		           "row could not commit with it; the only transaction control allowed is "
		           "one outer BEGIN; ... COMMIT; around the whole file (or mark the file "
		           "'-- schemagate:no-transaction' and keep transaction control out of it)",
		           s->line, what);
		goto cleanup;
	}
	if (first == TXN_BEGIN && last != TXN_COMMIT) {
		sg_err_set(
		    err, SG_E_PARSE,
		    "line %u: BEGIN without a final COMMIT; a file may be wrapped in one outer "
		    "BEGIN; ... COMMIT; or have no transaction control at all",
		    st.v[0].line);
		goto cleanup;
	}
	if (first == TXN_BEGIN && last == TXN_COMMIT) {
		const struct sql_stmt *b = &st.v[0], *c = &st.v[st.n - 1];
		size_t start = b->offset + b->len, l;

		/* The body starts just past the BEGIN's ';' (only blanks lie between). */
		while (start < len && text[start] != ';')
			start++;
		if (start < len)
			start++;
		out->offset = start;
		out->len = c->offset - start;
		for (l = 0, i = 0; i < start; i++)
			if (text[i] == '\n')
				l++;
		out->line = (unsigned)l;
		out->col = (unsigned)sqlsplit_column_of(text, start) - 1;
		out->wrapped = true;
	}
	rc = 0;
cleanup:
	sqlsplit_free(&st);
	return rc;
}

/* ---- tokens ---- */

/* Adds the character at s[i..i+clen) to t->text (folded unless quoted) while the name has
 * room: the server keeps 63 bytes of a name and cuts it on a character boundary. */
static void token_put(struct sql_token *t, size_t *n, const char *s, size_t i, size_t clen)
{
	if (*n + clen > sizeof t->text - 1) {
		*n = sizeof t->text; /* full: later characters are cut off too */
		return;
	}
	memcpy(t->text + *n, s + i, clen);
	if (!t->quoted && clen == 1 && s[i] >= 'A' && s[i] <= 'Z')
		t->text[*n] = (char)(s[i] - 'A' + 'a');
	*n += clen;
}

/* Bytes of the character at s[i], never past len. */
static size_t char_len_at(const char *s, size_t len, size_t i)
{
	size_t n = utf8_char_len((unsigned char)s[i]);

	return n > len - i ? len - i : n;
}

bool sqlsplit_token(const char *s, size_t len, size_t *pos, struct sql_token *t)
{
	size_t i = *pos, n = 0, j;

	memset(t, 0, sizeof *t);
	for (;;) {
		if (i >= len)
			return false;
		if (is_space((unsigned char)s[i])) {
			i++;
		} else if (s[i] == '-' && i + 1 < len && s[i + 1] == '-') {
			while (i < len && s[i] != '\n' && s[i] != '\r')
				i++;
		} else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
			if ((i = skip_block_comment(s, len, i + 2)) == NOT_FOUND)
				return false;
		} else {
			break;
		}
	}
	if (s[i] == '"') {
		t->word = t->quoted = true;
		for (j = i + 1;; j += char_len_at(s, len, j)) {
			if (j >= len)
				return false;
			if (s[j] == '"' && (j + 1 >= len || s[j + 1] != '"'))
				break;
			if (s[j] == '"')
				j++; /* a doubled quote is one quote: keep the second */
			if (n < sizeof t->text)
				token_put(t, &n, s, j, char_len_at(s, len, j));
		}
		*pos = j + 1;
	} else if (is_ident_start((unsigned char)s[i])) {
		t->word = true;
		for (j = i; j < len && is_ident_cont((unsigned char)s[j]);
		     j += char_len_at(s, len, j))
			if (n < sizeof t->text)
				token_put(t, &n, s, j, char_len_at(s, len, j));
		*pos = j;
	} else {
		t->text[0] = s[i];
		n = 1;
		*pos = i + 1;
	}
	if (n >= sizeof t->text)
		n = strlen(t->text);
	t->text[n] = '\0';
	return true;
}
