/* sqlsplit.h - splits PostgreSQL SQL text into top-level statements. */
#ifndef SCHEMAGATE_SQLSPLIT_H
#define SCHEMAGATE_SQLSPLIT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* One statement, as a slice of the text given to sqlsplit(); the text is not copied. */
struct sql_stmt {
	/* byte offset of the statement's first non-blank, non-comment char in the text */
	size_t offset;
	/* bytes up to but excluding the terminating ';' (trailing blanks trimmed) */
	size_t len;
	/* 1-based line of offset */
	unsigned line;
	/* psql's lines (a meta-command, COPY data) lie between the previous statement and this
	 * one: the text from the previous statement to this one is not SQL */
	bool cut_before;
	/* COPY ... FROM stdin followed, from the next line, by its data: the lines up to one
	 * that is "\." alone, text[data_offset..data_offset + data_len) (the "\." line
	 * excluded), whose first line is data_line */
	bool copy;
	size_t data_offset, data_len;
	unsigned data_line;
};

struct sql_stmts {
	struct sql_stmt *v; /* n statements in text order; NULL when n == 0 */
	size_t n;
};

/* Splits text[0..len). Statements that contain only blanks and comments are dropped.
 * A final statement without ';' is kept. Fails (SG_E_PARSE) on an unterminated quote,
 * quoted identifier, dollar quote or block comment, naming the construct and the 1-based
 * line where it opened, e.g. "unterminated dollar-quoted string $fn$ opened at line 12".
 * On success *out owns an array freed with sqlsplit_free. Also fails on NUL bytes in text.
 *
 * psql's lines, as pg_dump writes them: a "COPY ... FROM stdin;" statement (the rest of its
 * line blank) is followed by its data, up to a line that is "\." alone, kept out of the
 * statements (sql_stmt.copy); the meta-commands "\restrict" and "\unrestrict" (pg_dump 15.18
 * and later), each on a line of its own between statements, are skipped like comments. Any
 * other backslash outside quotes and comments is a psql meta-command the server cannot run:
 * refused, "line N: psql meta-command \x ...". The one rule for verify and migrate alike.
 *
 * text need not be NUL-terminated (text may be NULL when len is 0). Lines are counted
 * by '\n'. Lexing follows the server with standard_conforming_strings on: backslash
 * escapes only inside E'' strings. A ';' splits unless it is inside a BEGIN ATOMIC ... END
 * body (CASE ... END nests inside it). Comments between the statement's last token and
 * its ';' stay part of the statement. On failure *out is left empty ({NULL, 0}). */
SG_MUSTCHECK int sqlsplit(const char *text, size_t len, struct sql_stmts *out, struct sg_err *err);
void sqlsplit_free(struct sql_stmts *s); /* NULL-safe, leaves it empty */

/* Converts a PostgreSQL error position (PG_DIAG_STATEMENT_POSITION: 1-based, counted in
 * characters, i.e. UTF-8 code points, not bytes) within text[0..len) into a 1-based line and
 * column (column also in characters). base_line is added (line of the statement's start minus 1
 * when the text is a statement cut out of a file; 0 for a whole file), and when the position
 * falls on the first line of the statement, base_col (1-based column where the statement
 * starts in the file, minus 1) is added to the column. Returns -1 if pos is out of range.
 *
 * pos may be one past the last character (the server's "at end of input"). Characters are
 * stepped the way the server does for UTF-8 (the lead byte gives the length). Returns 0 and
 * fills *line and *col (both non-NULL) on success; they are untouched on failure. */
int sqlsplit_position(const char *text, size_t len, long pos, unsigned base_line, unsigned base_col,
                      unsigned *line, unsigned *col);

/* Returns the 1-based column, in characters, of byte offset within text: the base_col that
 * sqlsplit_position() wants is sqlsplit_column_of(file, stmt.offset) - 1. Reads only
 * text[0..offset), so offset must not exceed the text's length. */
size_t sqlsplit_column_of(const char *text, size_t offset);

/* The part of a migration file that runs inside the transaction schemagate opens. */
struct sql_body {
	size_t offset; /* first byte of the body in the file's text */
	size_t len;    /* bytes of the body */
	unsigned line; /* lines of the file before the body's first line (base_line) */
	unsigned col;  /* characters before the body's first character on its line (base_col) */
	bool wrapped;  /* the file was wrapped in its own BEGIN; ... COMMIT; */
};

/* Finds top-level transaction control in a migration file (up or down) and the body to run.
 * Allowed: none at all (the body is the whole text), or, unless no_transaction, exactly one
 * outer wrapper: a first statement BEGIN [WORK|TRANSACTION] or START TRANSACTION (without
 * transaction modes) and a last statement COMMIT or END [WORK|TRANSACTION] (without AND CHAIN);
 * the body is then the text between the two, so that the file's SQL and its history row still
 * commit together. Anything else (BEGIN/COMMIT in the middle, ROLLBACK, ABORT, SAVEPOINT,
 * RELEASE, ROLLBACK TO, COMMIT AND CHAIN, PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED, and any
 * transaction control in a no-transaction file, which runs outside a transaction) fails with
 * SG_E_PARSE, the message starting "line N: " and naming the statement and why. Splitting errors
 * are reported as by sqlsplit(). Pure: no allocation survives the call. */
SG_MUSTCHECK int sqlsplit_body(const char *text, size_t len, bool no_transaction,
                               struct sql_body *out, struct sg_err *err);

/* One token of a statement as the server's lexer reads it (sqlsplit_token). */
struct sql_token {
	/* an identifier or keyword as the server stores it: folded to lower case (ASCII) unless
	 * quoted, "" undoubled, cut to 63 bytes on a character boundary as the server cuts
	 * names; otherwise the one byte of a punctuation token */
	char text[64];
	bool word;   /* an identifier or keyword, quoted or not */
	bool quoted; /* written in double quotes: a name, never a keyword */
};

/* Reads the token at s[*pos..len), skipping blanks and comments, and moves *pos past it.
 * Tokens are identifiers and keywords (unquoted, or "quoted") and single bytes for
 * everything else (so "a.b" is three tokens, and a string literal is not read as one:
 * callers stop at the first token they do not expect). False at the end of the text or
 * at an unterminated quoted identifier or comment. Pure. */
bool sqlsplit_token(const char *s, size_t len, size_t *pos, struct sql_token *t);

#endif /* SCHEMAGATE_SQLSPLIT_H */
