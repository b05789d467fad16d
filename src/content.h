/* content.h - the rules a migration file's bytes must pass, read whole or in pieces.
 *
 * One owner for them and their messages: migrate and verify check a whole file, serve and
 * status a file streamed in chunks, and both must refuse the same files with the same words.
 * A file is refused, in this order of precedence, for
 *   - a NUL byte                ("<path>: NUL byte at line N"),
 *   - invalid UTF-8             ("<path>: invalid UTF-8 at line N (byte offset O)"): overlong
 *                               forms, surrogates, code points above U+10FFFF, stray or
 *                               missing continuation bytes, a sequence cut by the end;
 *   - a down section of goose or dbmate ("<path>:N: goose's down section starts here, ..."):
 *     a whole comment line "-- +goose Down" or "-- migrate:down". Such a file renamed to
 *     NNNN_name.up.sql would run its down part right after its up part. In a down file
 *     (CONTENT_DOWN) the annotation is harmless where only blank lines and "--" comment
 *     lines precede it (the down part moved there as it was); one after any other line is
 *     refused ("<path>:N: ... after other lines ...": an up part came along).
 * Lines count from 1; N and O are those of the first offending byte (of the sequence's first
 * byte for UTF-8). Where a file is cut into pieces changes nothing. */
#ifndef SCHEMAGATE_CONTENT_H
#define SCHEMAGATE_CONTENT_H

#include <stddef.h>

#include "err.h"

/* Which file of a pair is read: the down-section annotation means something else in each. */
enum content_file {
	CONTENT_UP,   /* an up file: the annotation is always refused */
	CONTENT_DOWN, /* a down file: accepted while only comments and blank lines precede it */
};

/* A scan in progress: a plain value, set up by content_scan_init. */
struct content_scan {
	enum content_file file;
	size_t off;  /* offset of the next byte */
	size_t line; /* line of the next byte */
	/* UTF-8: continuation bytes still expected; the range allowed for the next one; where
	 * the sequence started */
	unsigned need;
	unsigned char lo, hi;
	size_t seq_off, seq_line;
	/* the down-section annotation: where the current line's comment stands, and the word
	 * being read */
	unsigned mark;
	unsigned char word[12];
	size_t wlen;
	/* the first of each finding (line 0: none yet) */
	size_t nul_line;
	size_t bad_line, bad_off;
	size_t mark_line;
	const char *mark_tool;
	size_t
	    code_line; /* the first line that is neither blank nor a "--" comment (0: none yet) */
};

void content_scan_init(struct content_scan *s, enum content_file file);
/* Scans the next len bytes of the file (buf may be NULL when len is 0). */
void content_scan_feed(struct content_scan *s, const void *buf, size_t len);
/* Ends the scan at the end of the file: 0 when it passed, else -1 with err (SG_E_PARSE)
 * naming path and the line of the first finding of the highest precedence. */
SG_MUSTCHECK int content_scan_end(struct content_scan *s, const char *path, struct sg_err *err);
/* The same for a whole file held in memory. */
SG_MUSTCHECK int content_check(const char *path, enum content_file file, const void *buf,
                               size_t len, struct sg_err *err);

#endif /* SCHEMAGATE_CONTENT_H */
