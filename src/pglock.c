/* pglock.c - PostgreSQL's table-lock modes: their names, what each conflicts with and blocks. */
#include "pglock.h"

#include <string.h>
#include <strings.h>

#define BIT(m) (1u << (m))

/* clang-format off */
static const struct {
	const char *pg;   /* pg_locks.mode */
	const char *name; /* the documentation's name */
	unsigned conflicts;
} modes[PGLOCK_NMODES] = {
	[PGLOCK_NONE] = {"", "none", 0},
	[PGLOCK_ACCESS_SHARE] = {"AccessShareLock", "ACCESS SHARE", BIT(PGLOCK_ACCESS_EXCLUSIVE)},
	[PGLOCK_ROW_SHARE] = {"RowShareLock", "ROW SHARE",
		BIT(PGLOCK_EXCLUSIVE) | BIT(PGLOCK_ACCESS_EXCLUSIVE)},
	[PGLOCK_ROW_EXCLUSIVE] = {"RowExclusiveLock", "ROW EXCLUSIVE",
		BIT(PGLOCK_SHARE) | BIT(PGLOCK_SHARE_ROW_EXCLUSIVE) | BIT(PGLOCK_EXCLUSIVE) |
		BIT(PGLOCK_ACCESS_EXCLUSIVE)},
	[PGLOCK_SHARE_UPDATE_EXCLUSIVE] = {"ShareUpdateExclusiveLock", "SHARE UPDATE EXCLUSIVE",
		BIT(PGLOCK_SHARE_UPDATE_EXCLUSIVE) | BIT(PGLOCK_SHARE) |
		BIT(PGLOCK_SHARE_ROW_EXCLUSIVE) | BIT(PGLOCK_EXCLUSIVE) | BIT(PGLOCK_ACCESS_EXCLUSIVE)},
	[PGLOCK_SHARE] = {"ShareLock", "SHARE",
		BIT(PGLOCK_ROW_EXCLUSIVE) | BIT(PGLOCK_SHARE_UPDATE_EXCLUSIVE) |
		BIT(PGLOCK_SHARE_ROW_EXCLUSIVE) | BIT(PGLOCK_EXCLUSIVE) | BIT(PGLOCK_ACCESS_EXCLUSIVE)},
	[PGLOCK_SHARE_ROW_EXCLUSIVE] = {"ShareRowExclusiveLock", "SHARE ROW EXCLUSIVE",
		BIT(PGLOCK_ROW_EXCLUSIVE) | BIT(PGLOCK_SHARE_UPDATE_EXCLUSIVE) | BIT(PGLOCK_SHARE) |
		BIT(PGLOCK_SHARE_ROW_EXCLUSIVE) | BIT(PGLOCK_EXCLUSIVE) | BIT(PGLOCK_ACCESS_EXCLUSIVE)},
	[PGLOCK_EXCLUSIVE] = {"ExclusiveLock", "EXCLUSIVE",
		BIT(PGLOCK_ROW_SHARE) | BIT(PGLOCK_ROW_EXCLUSIVE) | BIT(PGLOCK_SHARE_UPDATE_EXCLUSIVE) |
		BIT(PGLOCK_SHARE) | BIT(PGLOCK_SHARE_ROW_EXCLUSIVE) | BIT(PGLOCK_EXCLUSIVE) |
		BIT(PGLOCK_ACCESS_EXCLUSIVE)},
	[PGLOCK_ACCESS_EXCLUSIVE] = {"AccessExclusiveLock", "ACCESS EXCLUSIVE",
		BIT(PGLOCK_ACCESS_SHARE) | BIT(PGLOCK_ROW_SHARE) | BIT(PGLOCK_ROW_EXCLUSIVE) |
		BIT(PGLOCK_SHARE_UPDATE_EXCLUSIVE) | BIT(PGLOCK_SHARE) |
		BIT(PGLOCK_SHARE_ROW_EXCLUSIVE) | BIT(PGLOCK_EXCLUSIVE) | BIT(PGLOCK_ACCESS_EXCLUSIVE)},
};
/* clang-format on */

static bool valid(enum pglock_mode m)
{
	return (unsigned)m < PGLOCK_NMODES;
}

enum pglock_mode pglock_parse(const char *s)
{
	for (int m = PGLOCK_ACCESS_SHARE; s != NULL && m < PGLOCK_NMODES; m++)
		if (strcmp(s, modes[m].pg) == 0)
			return (enum pglock_mode)m;
	return PGLOCK_NONE;
}

const char *pglock_name(enum pglock_mode m)
{
	return valid(m) ? modes[m].name : "?";
}

bool pglock_conflicts(enum pglock_mode a, enum pglock_mode b)
{
	return valid(a) && valid(b) && (modes[a].conflicts & BIT(b)) != 0;
}

bool pglock_blocks_reads(enum pglock_mode m)
{
	return pglock_conflicts(m, PGLOCK_ACCESS_SHARE);
}

bool pglock_blocks_writes(enum pglock_mode m)
{
	return pglock_conflicts(m, PGLOCK_ROW_EXCLUSIVE);
}

bool pglock_blocks_ddl(enum pglock_mode m)
{
	return pglock_conflicts(m, PGLOCK_SHARE_UPDATE_EXCLUSIVE);
}

enum pglock_mode pglock_stronger(enum pglock_mode a, enum pglock_mode b)
{
	if (!valid(a))
		return b;
	if (!valid(b))
		return a;
	if ((modes[a].conflicts & modes[b].conflicts) == modes[b].conflicts &&
	    modes[a].conflicts != modes[b].conflicts)
		return a;
	if ((modes[a].conflicts & modes[b].conflicts) == modes[a].conflicts &&
	    modes[a].conflicts != modes[b].conflicts)
		return b;
	return a > b ? a : b;
}

/* ---- documented modes of statements that run outside a transaction ---- */

/* The keywords of a statement, up to a bound: enough to recognise the commands above. */
#define PGLOCK_MAX_WORDS 48

struct words {
	const char *p[PGLOCK_MAX_WORDS];
	size_t len[PGLOCK_MAX_WORDS];
	size_t n;
};

static bool is_word_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_word_char(char c)
{
	return is_word_start(c) || (c >= '0' && c <= '9') || c == '$';
}

/* Splits s into bare words, skipping comments, quoted names and strings and punctuation. */
static void split_words(const char *s, size_t len, struct words *w)
{
	size_t i = 0;

	w->n = 0;
	while (i < len && w->n < PGLOCK_MAX_WORDS) {
		char c = s[i];

		if (c == '-' && i + 1 < len && s[i + 1] == '-') {
			while (i < len && s[i] != '\n')
				i++;
		} else if (c == '/' && i + 1 < len && s[i + 1] == '*') {
			for (i += 2; i + 1 < len && !(s[i] == '*' && s[i + 1] == '/'); i++)
				;
			i += 2;
		} else if (c == '"' || c == '\'') {
			for (i++; i < len && s[i] != c; i++)
				;
			i++;
		} else if (is_word_start(c)) {
			size_t start = i;

			while (i < len && is_word_char(s[i]))
				i++;
			w->p[w->n] = s + start;
			w->len[w->n++] = i - start;
		} else {
			i++;
		}
	}
}

static bool word_is(const struct words *w, size_t i, const char *kw)
{
	return i < w->n && w->len[i] == strlen(kw) && strncasecmp(w->p[i], kw, w->len[i]) == 0;
}

static bool has_word(const struct words *w, size_t from, const char *kw)
{
	for (size_t i = from; i < w->n; i++)
		if (word_is(w, i, kw))
			return true;
	return false;
}

enum pglock_mode pglock_documented(const char *stmt, size_t len)
{
	struct words w;
	size_t i;

	split_words(stmt, len, &w);
	if (word_is(&w, 0, "CREATE")) {
		i = word_is(&w, 1, "UNIQUE") ? 2 : 1;
		if (word_is(&w, i, "INDEX") && word_is(&w, i + 1, "CONCURRENTLY"))
			return PGLOCK_SHARE_UPDATE_EXCLUSIVE;
	} else if (word_is(&w, 0, "DROP")) {
		if (word_is(&w, 1, "INDEX") && word_is(&w, 2, "CONCURRENTLY"))
			return PGLOCK_SHARE_UPDATE_EXCLUSIVE;
	} else if (word_is(&w, 0, "REINDEX")) {
		if (has_word(&w, 1, "CONCURRENTLY"))
			return PGLOCK_SHARE_UPDATE_EXCLUSIVE;
	} else if (word_is(&w, 0, "ALTER") && word_is(&w, 1, "TABLE")) {
		if (has_word(&w, 2, "DETACH") && has_word(&w, 2, "CONCURRENTLY"))
			return PGLOCK_SHARE_UPDATE_EXCLUSIVE;
	} else if (word_is(&w, 0, "VACUUM")) {
		return has_word(&w, 1, "FULL") ? PGLOCK_ACCESS_EXCLUSIVE
		                               : PGLOCK_SHARE_UPDATE_EXCLUSIVE;
	}
	return PGLOCK_NONE;
}
