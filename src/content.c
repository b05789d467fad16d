/* content.c - the rules a migration file's bytes must pass, read whole or in pieces.
 *
 * One pass over the bytes, a small state machine per concern so that a piece may end
 * anywhere: inside a UTF-8 sequence, inside the annotation word, between '\r' and '\n'. Runs
 * of plain ASCII (no NUL, no newline) outside an annotation are skipped eight bytes at a time:
 * they can change no state. */
#include "content.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Where the current line stands in "<ws>--<ws>+goose<ws>down" / "<ws>--<ws>migrate:down". */
enum mark_state {
	MARK_LEAD,  /* line start: blanks so far */
	MARK_DASH,  /* one '-' */
	MARK_WS1,   /* "--", then blanks */
	MARK_WORD1, /* reading the word after "--" into word[] */
	MARK_SEP,   /* "+goose": a blank must follow */
	MARK_WS2,   /* "+goose ", then blanks */
	MARK_WORD2, /* reading "down" (any case) into word[] */
	MARK_AFTER, /* "+goose down": the next byte must not be a letter or digit */
	MARK_SKIP,  /* nothing on this line matters */
	MARK_DONE,  /* found: nothing more to look for */
};

static const char goose_word[] = "+goose";
static const char dbmate_word[] = "migrate:down";
static const char down_word[] = "down";

void content_scan_init(struct content_scan *s, enum content_file file)
{
	memset(s, 0, sizeof *s);
	s->file = file;
	s->line = 1;
	s->mark = MARK_LEAD;
}

/* Length (1 to 3) of the continuation bytes a UTF-8 lead byte announces, and the allowed
 * range of the first one; 0 for bytes that can't start a sequence. The narrowed ranges are
 * what rule out overlong forms (E0, F0), surrogates (ED) and code points above U+10FFFF
 * (F4). */
static unsigned utf8_lead(unsigned char c, unsigned char *lo, unsigned char *hi)
{
	*lo = 0x80;
	*hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		return 1;
	if (c == 0xe0)
		*lo = 0xa0;
	else if (c == 0xed)
		*hi = 0x9f;
	if (c >= 0xe0 && c <= 0xef)
		return 2;
	if (c == 0xf0)
		*lo = 0x90;
	else if (c == 0xf4)
		*hi = 0x8f;
	if (c >= 0xf0 && c <= 0xf4)
		return 3;
	return 0;
}

static void utf8_bad(struct content_scan *s, size_t off, size_t line)
{
	s->bad_off = off;
	s->bad_line = line;
	s->need = 0;
}

/* One byte through the UTF-8 automaton; stops looking after the first bad sequence. */
static void utf8_step(struct content_scan *s, unsigned char c)
{
	if (s->bad_line != 0)
		return;
	if (s->need == 0) {
		if (c < 0x80)
			return;
		if ((s->need = utf8_lead(c, &s->lo, &s->hi)) == 0) {
			utf8_bad(s, s->off, s->line);
			return;
		}
		s->seq_off = s->off;
		s->seq_line = s->line;
		return;
	}
	if (c < s->lo || c > s->hi) {
		utf8_bad(s, s->seq_off, s->seq_line);
		return;
	}
	s->lo = 0x80;
	s->hi = 0xbf;
	s->need--;
}

static bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void mark_found(struct content_scan *s, const char *tool)
{
	if (s->file == CONTENT_DOWN && s->code_line == 0) {
		/* The down part moved into its own file with its heading: nothing runs twice.
		 * Later lines are still looked at: an annotation after SQL is refused. */
		s->mark = MARK_SKIP;
		return;
	}
	s->mark_line = s->line;
	s->mark_tool = tool;
	s->mark = MARK_DONE;
}

/* Adds c to the word after "--" and decides what the word can still become. */
static void mark_word1(struct content_scan *s, unsigned char c)
{
	s->word[s->wlen++] = c;
	if (s->wlen <= strlen(goose_word) && memcmp(s->word, goose_word, s->wlen) == 0) {
		if (s->wlen == strlen(goose_word))
			s->mark = MARK_SEP;
	} else if (memcmp(s->word, dbmate_word, s->wlen) == 0) {
		if (s->wlen == strlen(dbmate_word))
			mark_found(s, "dbmate");
	} else {
		s->mark = MARK_SKIP;
	}
}

/* Adds c to the word after "+goose": "down" in any case. */
static void mark_word2(struct content_scan *s, unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		c = (unsigned char)(c - 'A' + 'a');
	if (c != (unsigned char)down_word[s->wlen]) {
		s->mark = MARK_SKIP;
		return;
	}
	if (++s->wlen == strlen(down_word))
		s->mark = MARK_AFTER;
}

/* The current line holds more than blanks and a "--" comment. */
static void code_seen(struct content_scan *s)
{
	if (s->code_line == 0)
		s->code_line = s->line;
	s->mark = MARK_SKIP;
}

/* One byte of a line (never '\n') through the annotation automaton. */
static void mark_step(struct content_scan *s, unsigned char c)
{
	switch ((enum mark_state)s->mark) {
	case MARK_LEAD:
		/* '\r': a blank line of a CRLF file is still blank. */
		if (c == '-')
			s->mark = MARK_DASH;
		else if (!is_blank(c) && c != '\r')
			code_seen(s);
		break;
	case MARK_DASH:
		if (c == '-')
			s->mark = MARK_WS1;
		else
			code_seen(s);
		break;
	case MARK_WS1:
	case MARK_WS2:
		if (is_blank(c))
			break;
		/* c starts the word that follows the blanks. */
		s->wlen = 0;
		s->mark = s->mark == MARK_WS1 ? MARK_WORD1 : MARK_WORD2;
		mark_step(s, c);
		break;
	case MARK_WORD1:
		mark_word1(s, c);
		break;
	case MARK_SEP:
		s->mark = is_blank(c) ? MARK_WS2 : MARK_SKIP;
		break;
	case MARK_WORD2:
		mark_word2(s, c);
		break;
	case MARK_AFTER:
		if (is_alnum(c))
			s->mark = MARK_SKIP; /* "downgrade", "down2": another word */
		else
			mark_found(s, "goose");
		break;
	case MARK_SKIP:
	case MARK_DONE:
		break;
	}
}

/* The end of a line (or of the file): "+goose down" may end right there. */
static void mark_end_of_line(struct content_scan *s)
{
	if (s->mark == MARK_AFTER)
		mark_found(s, "goose");
	else if (s->mark == MARK_DASH)
		code_seen(s); /* a lone '-' */
	if (s->mark != MARK_DONE)
		s->mark = MARK_LEAD;
}

/* True when none of the 8 bytes at p is a NUL, a newline or a byte >= 0x80. */
static bool plain8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	uint64_t x, nl;

	memcpy(&x, p, sizeof x);
	nl = x ^ (ones * '\n');
	/* (v - ones) & ~v has the high bit of every zero byte of v set (and of no other). */
	return ((x | ((x - ones) & ~x) | ((nl - ones) & ~nl)) & highs) == 0;
}

void content_scan_feed(struct content_scan *s, const void *buf, size_t len)
{
	const unsigned char *p = buf, *end = p + len;

	while (p < end) {
		unsigned char c;

		if (s->need == 0 && s->mark >= MARK_SKIP) {
			while (end - p >= 8 && plain8(p)) {
				p += 8;
				s->off += 8;
			}
			if (p == end)
				break;
		}
		c = *p++;
		utf8_step(s, c);
		if (c == '\n') {
			mark_end_of_line(s);
			s->line++;
		} else {
			if (c == '\0' && s->nul_line == 0)
				s->nul_line = s->line;
			mark_step(s, c);
		}
		s->off++;
	}
}

int content_scan_end(struct content_scan *s, const char *path, struct sg_err *err)
{
	if (s->need > 0 && s->bad_line == 0)
		utf8_bad(s, s->seq_off, s->seq_line); /* cut by the end of the file */
	mark_end_of_line(s);
	if (s->nul_line != 0)
		return sg_err_set(err, SG_E_PARSE, "%s: NUL byte at line %zu", path, s->nul_line);
	if (s->bad_line != 0)
		return sg_err_set(err, SG_E_PARSE,
		                  "%s: invalid UTF-8 at line %zu (byte offset %zu)", path,
		                  s->bad_line, s->bad_off);
	if (s->mark_tool != NULL && s->file == CONTENT_DOWN)
		return sg_err_set(
		    err, SG_E_PARSE,
		    "%s:%zu: %s's down section starts here, after other lines (from line %zu): "
		    "a .down.sql file holds the down part only: keep what follows this line "
		    "and move the up part into the .up.sql file",
		    path, s->mark_line, s->mark_tool, s->code_line);
	if (s->mark_tool != NULL)
		return sg_err_set(
		    err, SG_E_PARSE,
		    "%s:%zu: %s's down section starts here, and schemagate runs every "
		    "line of a file: move what follows into the matching .down.sql "
		    "file (and drop the annotations)",
		    path, s->mark_line, s->mark_tool);
	return 0;
}

int content_check(const char *path, enum content_file file, const void *buf, size_t len,
                  struct sg_err *err)
{
	struct content_scan s;

	content_scan_init(&s, file);
	content_scan_feed(&s, buf, len);
	return content_scan_end(&s, path, err);
}
