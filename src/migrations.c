/* migrations.c - finding, validating, ordering and checksumming migration files on disk. */
#include "migrations.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dirent.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "content.h"
#include "sha256.h"

#define MIG_MAX_DIGITS 18
#define MIG_SLUG_MAX 100
#define MIG_UP_SUFFIX ".up.sql"
#define MIG_DOWN_SUFFIX ".down.sql"

/* 18 digits always fit a 64-bit long; a 32-bit long caps versions lower. */
#if LONG_MAX >= 999999999999999999
#define MIG_VERSION_MAX 999999999999999999L
#else
#define MIG_VERSION_MAX LONG_MAX
#endif

/* A migration-named directory entry, before up and down files are paired. */
struct entry {
	long version;
	enum mig_kind kind;
	char *desc;  /* description part of the name */
	char *fname; /* base name */
	char *path;  /* dir + "/" + fname */
};

struct entries {
	struct entry *v;
	size_t n;
	size_t cap;
};

/* Base names of one folder, sorted so that the first bad one does not depend on the file
 * system (mig_create's next version). */
struct names {
	char **v;
	size_t n;
	size_t cap;
};

/* Makes room for one more element; returns the (maybe moved) array, or NULL with v untouched. */
static void *grow(void *v, size_t *cap, size_t n, size_t elem, struct sg_err *err)
{
	size_t ncap = *cap == 0 ? 16 : *cap * 2;
	void *nv;

	if (n < *cap)
		return v;
	if (ncap < *cap || ncap > SIZE_MAX / elem || (nv = realloc(v, ncap * elem)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		return NULL;
	}
	*cap = ncap;
	return nv;
}

static void names_free(struct names *names)
{
	size_t i;

	for (i = 0; i < names->n; i++)
		free(names->v[i]);
	free(names->v);
}

static void entries_free(struct entries *ents)
{
	size_t i;

	for (i = 0; i < ents->n; i++) {
		free(ents->v[i].desc);
		free(ents->v[i].fname);
		free(ents->v[i].path);
	}
	free(ents->v);
}

/* Joins dir and name with one '/', dropping trailing slashes of dir so messages read cleanly. */
static int path_join(const char *dir, const char *name, char **out, struct sg_err *err)
{
	size_t dlen = strlen(dir), nlen = strlen(name);
	char *p;

	while (dlen > 1 && dir[dlen - 1] == '/')
		dlen--;
	if (dlen == 1 && dir[0] == '/')
		dlen = 0;
	if (dlen > SIZE_MAX - nlen - 2 || (p = malloc(dlen + nlen + 2)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory joining %s and %s", dir, name);
	memcpy(p, dir, dlen);
	p[dlen] = '/';
	memcpy(p + dlen + 1, name, nlen + 1);
	*out = p;
	return 0;
}

/* ---- file names ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_desc_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' ||
	       c == '-' || c == '.';
}

static int bad_name(const char *fname, const char *why, struct sg_err *err)
{
	return sg_err_set(err, SG_E_PARSE,
	                  "bad migration file name %s: %s (expected NNNNNN_description.up.sql or "
	                  "NNNNNN_description.down.sql)",
	                  fname, why);
}

/* Converts the leading ndigits digits of s (already checked to be digits, then '_'). */
static int parse_version(const char *s, size_t ndigits, long *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end != s + ndigits || v > (unsigned long long)MIG_VERSION_MAX)
		return -1;
	*out = (long)v;
	return 0;
}

static bool ends_with(const char *s, size_t len, const char *suffix, bool icase)
{
	size_t n = strlen(suffix);

	if (len < n)
		return false;
	return icase ? strcasecmp(s + len - n, suffix) == 0 : strcmp(s + len - n, suffix) == 0;
}

/* True when d[0..n) has a dot-separated part equal to word ("x.up" holds "up"). */
static bool has_part(const char *d, size_t n, const char *word)
{
	size_t wl = strlen(word), i = 0;

	while (i < n) {
		const char *dot = memchr(d + i, '.', n - i);
		size_t end = dot != NULL ? (size_t)(dot - d) : n;

		if (end - i == wl && strncasecmp(d + i, word, wl) == 0)
			return true;
		i = end + 1;
	}
	return false;
}

static bool has_double_dot(const char *d, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (d[i] == '.' && d[i + 1] == '.')
			return true;
	return false;
}

/* Checks the description d[0..n) and says precisely what is wrong with it. */
static int check_desc(const char *fname, const char *d, size_t n, struct sg_err *err)
{
	char why[160];
	size_t i;

	if (n == 0)
		return bad_name(fname, "empty description", err);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];

		if (is_desc_char(d[i]))
			continue;
		if (c >= 0x21 && c < 0x7f)
			snprintf(why, sizeof why, "character '%c' in the description", c);
		else
			snprintf(why, sizeof why, "byte 0x%02x in the description", c);
		/* Truncation cannot happen: the text is short and fixed. */
		return sg_err_set(
		    err, SG_E_PARSE,
		    "bad migration file name %s: %s (allowed: A-Z, a-z, 0-9, '_', '-', "
		    "'.')",
		    fname, why);
	}
	if (d[0] == '.' || d[n - 1] == '.' || has_double_dot(d, n))
		return bad_name(fname, "the description starts or ends with '.' or holds '..'",
		                err);
	if (has_part(d, n, "up") || has_part(d, n, "down") || has_part(d, n, "sql"))
		return bad_name(fname,
		                "the description holds '.up', '.down' or '.sql': a doubled suffix?",
		                err);
	return 0;
}

int mig_parse_name(const char *fname, long *version, enum mig_kind *kind, char **desc,
                   struct sg_err *err)
{
	const char *p, *d;
	enum mig_kind k;
	size_t len, dlen;
	long v;

	if (fname == NULL)
		return sg_err_set(err, SG_E_PARSE, "migration file name missing");
	len = strlen(fname);
	/* Case-insensitive on purpose: "x.up.SQL" is a typo to report, not a file to skip. */
	if (fname[0] == '.' || !ends_with(fname, len, ".sql", true))
		return 0;
	if (ends_with(fname, len, MIG_UP_SUFFIX, false))
		k = MIG_UP;
	else if (ends_with(fname, len, MIG_DOWN_SUFFIX, false))
		k = MIG_DOWN;
	else if (ends_with(fname, len, MIG_UP_SUFFIX, true) ||
	         ends_with(fname, len, MIG_DOWN_SUFFIX, true))
		return bad_name(fname, "the suffix must be lower case, .up.sql or .down.sql", err);
	else
		return bad_name(fname, "it ends in .sql but neither in .up.sql nor in .down.sql",
		                err);
	for (p = fname; is_digit(*p); p++)
		;
	if (p == fname)
		return bad_name(fname, "no version number at the start", err);
	if ((size_t)(p - fname) > MIG_MAX_DIGITS)
		return bad_name(fname, "version has more than 18 digits", err);
	if (*p != '_')
		return bad_name(fname, "expected '_' after the version", err);
	d = p + 1;
	dlen = len - (size_t)(d - fname) - strlen(k == MIG_UP ? MIG_UP_SUFFIX : MIG_DOWN_SUFFIX);
	if ((size_t)(d - fname) > len - strlen(k == MIG_UP ? MIG_UP_SUFFIX : MIG_DOWN_SUFFIX))
		return bad_name(fname, "empty description", err);
	if (check_desc(fname, d, dlen, err) != 0)
		return -1;
	if (parse_version(fname, (size_t)(p - fname), &v) != 0)
		return bad_name(fname, "version too large", err);
	if (desc != NULL && (*desc = strndup(d, dlen)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	if (version != NULL)
		*version = v;
	if (kind != NULL)
		*kind = k;
	return 1;
}

/* ---- file contents ---- */

static bool path_is_under(const char *path, const char *root);

/* Opens path read-only without following a symlink in its last component. dfd is the open
 * folder that holds path (its last component is opened relative to it, which spares the
 * kernel a walk of the whole path per file), or AT_FDCWD. A symlink (the ConfigMap layout) is
 * resolved here, at open time, checked again to stay inside the folder holding path, and its
 * target is opened with O_NOFOLLOW too. Returns the fd or -1. */
static int open_nofollow(int dfd, const char *path, struct sg_err *err)
{
	const int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW;
	const char *base = strrchr(path, '/');
	char *target = NULL, *dir = NULL, *real_dir = NULL, *slash;
	int fd = openat(dfd, dfd == AT_FDCWD || base == NULL ? path : base + 1, flags);

	if (fd >= 0 || errno != ELOOP) {
		if (fd < 0)
			sg_err_set(err, SG_E_IO, "open %s: %s", path, strerror(errno));
		return fd;
	}
	if ((dir = strdup(path)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	if ((target = realpath(path, NULL)) == NULL ||
	    (real_dir = realpath(slash != NULL ? dir : ".", NULL)) == NULL) {
		sg_err_set(err, SG_E_IO, "resolve symlink %s: %s", path, strerror(errno));
	} else if (!path_is_under(target, real_dir)) {
		sg_err_set(err, SG_E_PARSE, "%s is a symlink to %s, outside %s", path, target,
		           real_dir);
	} else if ((fd = open(target, flags)) < 0) {
		sg_err_set(err, SG_E_IO, "open %s: %s", path, strerror(errno));
	}
	free(target);
	free(dir);
	free(real_dir);
	return fd;
}

/* Opens a migration file to read it: open_nofollow, then it must be a regular file of at
 * most max_bytes (*st describes it). Returns the fd or -1. */
static int open_regular(int dfd, const char *path, size_t max_bytes, struct stat *st,
                        struct sg_err *err)
{
	int fd;

	/* O_NONBLOCK: should a FIFO be swapped in after the type check, fail instead of hanging.
	 * O_NOFOLLOW: a symlink swapped in after the folder scan is not followed blindly. */
	if ((fd = open_nofollow(dfd, path, err)) < 0)
		return -1;
	if (fstat(fd, st) != 0)
		sg_err_set(err, SG_E_IO, "stat %s: %s", path, strerror(errno));
	else if (!S_ISREG(st->st_mode))
		sg_err_set(err, SG_E_PARSE, "%s is not a regular file", path);
	else if ((uintmax_t)st->st_size > max_bytes || (uintmax_t)st->st_size >= SIZE_MAX)
		sg_err_set(err, SG_E_PARSE, "%s is %jd bytes, larger than the limit of %zu bytes",
		           path, (intmax_t)st->st_size, max_bytes);
	else
		return fd;
	close(fd);
	return -1;
}

/* Reads a whole regular file into a NUL-terminated buffer; checks the size before reading. */
static int read_file(int dfd, const char *path, size_t max_bytes, char **out, size_t *out_len,
                     struct sg_err *err)
{
	char *buf = NULL;
	struct stat st;
	size_t len = 0, size;
	int fd, rc = -1;

	if ((fd = open_regular(dfd, path, max_bytes, &st, err)) < 0)
		return -1;
	size = (size_t)st.st_size;
	if ((buf = malloc(size + 1)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory reading %s (%zu bytes)", path, size);
		goto cleanup;
	}
	while (len < size) {
		ssize_t n = read(fd, buf + len, size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sg_err_set(err, SG_E_IO, "read %s: %s", path, strerror(errno));
			goto cleanup;
		}
		if (n == 0)
			break; /* the file shrank meanwhile: what was read is what gets hashed */
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
	rc = 0;
cleanup:
	free(buf);
	close(fd);
	return rc;
}

/* read_file, then the content rules (content.h) for an up or a down file and, when d is not
 * NULL, the directives (directive.h): what every whole read of a file needs. */
static int read_checked(int dfd, const char *path, enum content_file file, size_t max_bytes,
                        char **out, size_t *out_len, struct directives *d, struct sg_err *err)
{
	if (read_file(dfd, path, max_bytes, out, out_len, err) != 0)
		return -1;
	if (content_check(path, file, *out, *out_len, err) == 0 &&
	    (d == NULL || directive_parse(path, *out, *out_len, d, err) == 0))
		return 0;
	free(*out);
	*out = NULL;
	return -1;
}

static void set_directives(struct mig *m, const struct directives *d)
{
	m->no_transaction = d->no_transaction;
	m->lock_timeout_ms = d->lock_timeout_ms;
	m->allow = d->allow;
}

struct directives mig_up_directives(const struct mig *m)
{
	struct directives d = {m->no_transaction, m->lock_timeout_ms, m->allow};

	return d;
}

/* ---- scanning a folder ---- */

static int names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects and sorts the folder's entry names; a missing folder is empty when allowed. */
static int read_names(const char *dir, bool allow_missing, struct names *names, struct sg_err *err)
{
	struct dirent *de;
	char **v;
	DIR *d;
	int rc = -1;

	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT && allow_missing)
			return 0;
		return sg_err_set(err, SG_E_IO, "open migrations folder %s: %s", dir,
		                  strerror(errno));
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if ((v = grow(names->v, &names->cap, names->n, sizeof *names->v, err)) == NULL)
			goto cleanup;
		names->v = v;
		if ((names->v[names->n] = strdup(de->d_name)) == NULL) {
			sg_err_set(err, SG_E_NOMEM, "out of memory");
			goto cleanup;
		}
		names->n++;
	}
	if (errno != 0) {
		sg_err_set(err, SG_E_IO, "read migrations folder %s: %s", dir, strerror(errno));
		goto cleanup;
	}
	if (names->n > 1)
		qsort(names->v, names->n, sizeof *names->v, names_cmp);
	rc = 0;
cleanup:
	closedir(d);
	return rc;
}

static bool path_is_under(const char *path, const char *root)
{
	size_t rlen = strlen(root);

	if (rlen == 1 && root[0] == '/')
		return true;
	return strncmp(path, root, rlen) == 0 && path[rlen] == '/';
}

/* A migration-named entry must be a regular file, or a symlink to one inside the folder.
 * *real_dir is the folder's resolved path, worked out on first need (symlinks are rare). */
static int check_entry_type(const char *dir, const char *path, unsigned char type, char **real_dir,
                            struct sg_err *err)
{
	char *target = NULL;
	struct stat st;
	int rc = -1;

	if (type == DT_REG)
		return 0; /* readdir says so: not a symlink, nothing to resolve */
	if (lstat(path, &st) != 0)
		return sg_err_set(err, SG_E_IO, "stat %s: %s", path, strerror(errno));
	if (S_ISLNK(st.st_mode)) {
		if (*real_dir == NULL && (*real_dir = realpath(dir, NULL)) == NULL) {
			sg_err_set(err, SG_E_IO, "resolve migrations folder %s: %s", dir,
			           strerror(errno));
			goto cleanup;
		}
		if ((target = realpath(path, NULL)) == NULL) {
			sg_err_set(err, SG_E_IO, "resolve symlink %s: %s", path, strerror(errno));
			goto cleanup;
		}
		if (!path_is_under(target, *real_dir)) {
			sg_err_set(err, SG_E_PARSE, "%s is a symlink to %s, outside %s", path,
			           target, *real_dir);
			goto cleanup;
		}
		if (stat(target, &st) != 0) {
			sg_err_set(err, SG_E_IO, "stat %s: %s", target, strerror(errno));
			goto cleanup;
		}
	}
	if (!S_ISREG(st.st_mode)) {
		sg_err_set(err, SG_E_PARSE, "%s is not a regular file", path);
		goto cleanup;
	}
	rc = 0;
cleanup:
	free(target);
	return rc;
}

/* Adds the folder entry de to ents when it is a migration file name; skips other files. */
static int scan_entry(const char *dir, char **real_dir, const struct dirent *de,
                      struct entries *ents, struct sg_err *err)
{
	const char *name = de->d_name;
	struct entry e = {0}, *v;
	int r;

	r = mig_parse_name(name, &e.version, &e.kind, &e.desc, err);
	if (r <= 0)
		return r;
	if (path_join(dir, name, &e.path, err) != 0 ||
	    check_entry_type(dir, e.path, de->d_type, real_dir, err) != 0 ||
	    (v = grow(ents->v, &ents->cap, ents->n, sizeof *ents->v, err)) == NULL)
		goto fail;
	ents->v = v;
	if ((e.fname = strdup(name)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto fail;
	}
	ents->v[ents->n++] = e;
	return 0;
fail:
	free(e.desc);
	free(e.path);
	return -1;
}

/* Opens the migrations folder; *d stays NULL for a missing folder when that is allowed. */
static int open_folder(const char *dir, bool allow_missing, DIR **d, struct sg_err *err)
{
	if ((*d = opendir(dir)) != NULL || (errno == ENOENT && allow_missing))
		return 0;
	return sg_err_set(err, SG_E_IO, "open migrations folder %s: %s", dir, strerror(errno));
}

/* How many bad names one error lists (the first one with its reason). */
#define MIG_BAD_NAMES_LISTED 5

/* The smallest bad names of a folder, in name order, and how many there were in all. */
struct bad_names {
	char *v[MIG_BAD_NAMES_LISTED];
	size_t n, total;
	struct sg_err first; /* the reason of v[0] */
};

/* Adds name (refused with e) to b, keeping the MIG_BAD_NAMES_LISTED smallest. */
static int bad_names_add(struct bad_names *b, const char *name, const struct sg_err *e,
                         struct sg_err *err)
{
	size_t at = 0;
	char *copy;

	b->total++;
	while (at < b->n && strcmp(b->v[at], name) < 0)
		at++;
	if (at == MIG_BAD_NAMES_LISTED)
		return 0;
	if ((copy = strdup(name)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	if (b->n == MIG_BAD_NAMES_LISTED)
		free(b->v[--b->n]);
	memmove(&b->v[at + 1], &b->v[at], (b->n - at) * sizeof b->v[0]);
	b->v[at] = copy;
	b->n++;
	if (at == 0)
		b->first = *e;
	return 0;
}

/* The one error for every bad name: the first one's reason, then the others' names. */
static int bad_names_error(const struct bad_names *b, const char *dir, struct sg_err *err)
{
	char list[512] = "";
	size_t len = 0;

	*err = b->first;
	if (b->total == 1)
		return -1;
	for (size_t i = 1; i < b->n && len < sizeof list; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i > 1 ? ", " : "",
		                        b->v[i]);
	if (b->total > b->n && len < sizeof list)
		snprintf(list + len, sizeof list - len, " and %zu more", b->total - b->n);
	return sg_err_set(err, SG_E_PARSE, "%zu bad migration file names in %s: %.500s; also %s",
	                  b->total, dir, b->first.msg, list);
}

/* Collects the migration files of the open folder d. Entries come in the folder's own order
 * and are sorted later by version; every bad name is reported in one error (bad_names_error),
 * in name order, as if the names had been sorted, so that it does not depend on the file
 * system. */
static int scan_dir(DIR *d, const char *dir, struct entries *ents, struct sg_err *err)
{
	char *real_dir = NULL;
	struct bad_names bad = {.n = 0};
	struct dirent *de;
	int rc = -1;

	for (;;) {
		struct sg_err e;

		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (scan_entry(dir, &real_dir, de, ents, &e) == 0)
			continue;
		if (e.code == SG_E_NOMEM) {
			*err = e;
			goto cleanup;
		}
		if (bad_names_add(&bad, de->d_name, &e, err) != 0)
			goto cleanup;
	}
	if (errno != 0)
		sg_err_set(err, SG_E_IO, "read migrations folder %s: %s", dir, strerror(errno));
	else if (bad.total > 0)
		bad_names_error(&bad, dir, err);
	else
		rc = 0;
cleanup:
	for (size_t i = 0; i < bad.n; i++)
		free(bad.v[i]);
	free(real_dir);
	return rc;
}

/* Why a folder without *.up.sql files may still hold migrations: Prisma's layout, one folder
 * per version (<timestamp>_<name>/migration.sql). Fills err with the error to give. */
static int no_migrations_error(DIR *d, const char *dir, struct sg_err *err)
{
	char first[256] = "";
	size_t n = 0;
	struct dirent *de;

	if (d != NULL) {
		rewinddir(d);
		while ((de = readdir(d)) != NULL) {
			char sub[300];
			struct stat st;

			if (!is_digit(de->d_name[0]) || strlen(de->d_name) >= sizeof first ||
			    snprintf(sub, sizeof sub, "%s/migration.sql", de->d_name) >=
			        (int)sizeof sub ||
			    fstatat(dirfd(d), sub, &st, 0) != 0 || !S_ISREG(st.st_mode))
				continue;
			if (n++ == 0 || strcmp(de->d_name, first) < 0)
				snprintf(first, sizeof first, "%s", de->d_name);
		}
	}
	if (n == 0)
		return sg_err_set(err, SG_E_IO, "no migrations (*.up.sql) in folder %s", dir);
	return sg_err_set(
	    err, SG_E_IO,
	    "no migrations (*.up.sql) in folder %s: it has Prisma's layout (%zu "
	    "folders like %s/migration.sql); schemagate reads one "
	    "VERSION_name.up.sql file per version: move each VERSION_name/migration.sql "
	    "to VERSION_name.up.sql (see docs/adoption.md)",
	    dir, n, first);
}

/* ---- pairing and loading ---- */

/* Version, then up before down, then name: a version's files end up adjacent, and which of
 * two duplicates gets named first doesn't depend on the folder's order. */
static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind == MIG_UP ? -1 : 1;
	return strcmp(x->fname, y->fname);
}

/* Checks the files of one version, v[0..n), sorted by entry_cmp. */
static int check_group(const struct entry *v, size_t n, struct sg_err *err)
{
	size_t ups = 0;

	while (ups < n && v[ups].kind == MIG_UP)
		ups++;
	if (ups > 1)
		return sg_err_set(err, SG_E_PARSE, "duplicate version %ld: %s and %s", v[0].version,
		                  v[0].fname, v[1].fname);
	if (n - ups > 1)
		return sg_err_set(err, SG_E_PARSE, "two down files for version %ld: %s and %s",
		                  v[ups].version, v[ups].fname, v[ups + 1].fname);
	if (ups == 0)
		return sg_err_set(err, SG_E_PARSE, "down file %s has no up file (version %ld)",
		                  v[0].fname, v[0].version);
	if (n == 2 && strcmp(v[0].desc, v[1].desc) != 0)
		return sg_err_set(err, SG_E_PARSE,
		                  "down file %s does not match up file %s: descriptions differ",
		                  v[1].fname, v[0].fname);
	return 0;
}

/* Validates the pairing and moves the strings of ents into a new set (ents keeps the rest). */
static int build_set(struct entries *ents, struct mig_set **out, struct sg_err *err)
{
	struct mig_set *set;
	size_t i, j;

	if (ents->n > 1) /* qsort wants a non-NULL base even for zero elements */
		qsort(ents->v, ents->n, sizeof *ents->v, entry_cmp);
	for (i = 0; i < ents->n; i = j) {
		for (j = i + 1; j < ents->n && ents->v[j].version == ents->v[i].version; j++)
			;
		if (check_group(ents->v + i, j - i, err) != 0)
			return -1;
	}
	if ((set = calloc(1, sizeof *set)) == NULL ||
	    (ents->n > 0 && (set->v = calloc(ents->n, sizeof *set->v)) == NULL)) {
		free(set);
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	}
	for (i = 0; i < ents->n; i++) {
		struct entry *e = &ents->v[i];
		struct mig *m;

		if (e->kind == MIG_DOWN) {
			set->v[set->n - 1].down_path = e->path; /* its up file came just before */
			e->path = NULL;
			continue;
		}
		m = &set->v[set->n++];
		m->version = e->version;
		m->name = e->desc;
		m->up_file = e->fname;
		m->up_path = e->path;
		e->desc = e->fname = e->path = NULL;
	}
	*out = set;
	return 0;
}

/* Bytes read at a time when no text is kept (MIG_NO_TEXT): on the stack, so that reading a
 * thousand small files allocates nothing. */
#define MIG_CHUNK ((size_t)64 * 1024)

/* What load_mig does without keeping the text: the checksum, the content rules and the
 * directives, from MIG_CHUNK-sized reads. Peak memory: one chunk, whatever the file's size
 * (the no-op path of migrate, serve, status). */
static int load_streamed(int dfd, struct mig *m, size_t max_bytes, struct sg_err *err)
{
	struct content_scan scan;
	struct directive_scan dscan;
	struct directives d;
	struct sha256_ctx ctx;
	unsigned char digest[32];
	struct stat st;
	char buf[MIG_CHUNK];
	size_t total = 0;
	int fd, rc = -1;

	if ((fd = open_regular(dfd, m->up_path, max_bytes, &st, err)) < 0)
		return -1;
	sha256_init(&ctx);
	content_scan_init(&scan, CONTENT_UP);
	directive_scan_init(&dscan);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sg_err_set(err, SG_E_IO, "read %s: %s", m->up_path, strerror(errno));
			goto cleanup;
		}
		/* The file may not grow past what was checked against the limit. */
		if (n > 0 && total + (size_t)n > (size_t)st.st_size)
			n = (ssize_t)((size_t)st.st_size - total);
		if (n == 0)
			break;
		total += (size_t)n;
		sha256_update(&ctx, buf, (size_t)n);
		content_scan_feed(&scan, buf, (size_t)n);
		directive_scan_feed(&dscan, buf, (size_t)n);
	}
	if (content_scan_end(&scan, m->up_path, err) != 0 ||
	    directive_scan_end(&dscan, m->up_path, &d, err) != 0)
		goto cleanup;
	set_directives(m, &d);
	sha256_final(&ctx, digest);
	sha256_hex_digest(digest, m->checksum);
	m->sql = NULL;
	m->sql_len = total;
	rc = 0;
cleanup:
	close(fd);
	return rc;
}

static int load_mig(int dfd, struct mig *m, size_t max_bytes, bool check_down, bool keep_text,
                    struct sg_err *err)
{
	struct directives d;
	char *down = NULL;
	size_t down_len;

	if (!keep_text) {
		if (load_streamed(dfd, m, max_bytes, err) != 0)
			return -1;
	} else {
		if (read_checked(dfd, m->up_path, CONTENT_UP, max_bytes, &m->sql, &m->sql_len, &d,
		                 err) != 0)
			return -1;
		sha256_hex(m->sql, m->sql_len, m->checksum);
		set_directives(m, &d);
	}
	if (m->down_path == NULL || !check_down)
		return 0;
	/* Checked now (verify) so that a broken down file fails CI, not a later rollback. */
	if (read_checked(dfd, m->down_path, CONTENT_DOWN, max_bytes, &down, &down_len, &d, err) !=
	    0)
		return -1;
	free(down);
	return 0;
}

/* A scanned folder whose files are read next (mig_scan_open). */
struct mig_scan {
	DIR *d;              /* the folder, open: its files are opened relative to it */
	int dfd;             /* dirfd(d), or AT_FDCWD for a missing folder */
	struct entries ents; /* what the pairing left behind (freed with the scan) */
	struct mig_set *set; /* the migrations, their files not read yet */
	size_t max_bytes;
	unsigned flags;
};

int mig_scan_open(const char *dir, size_t max_bytes, unsigned flags, struct mig_scan **out,
                  struct sg_err *err)
{
	bool allow_missing = (flags & MIG_ALLOW_MISSING) != 0;
	struct mig_scan *s;

	*out = NULL;
	if ((s = calloc(1, sizeof *s)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	s->max_bytes = max_bytes;
	s->flags = flags;
	if (open_folder(dir, allow_missing, &s->d, err) != 0 ||
	    (s->d != NULL && scan_dir(s->d, dir, &s->ents, err) != 0) ||
	    build_set(&s->ents, &s->set, err) != 0)
		goto fail;
	s->dfd = s->d != NULL ? dirfd(s->d) : AT_FDCWD;
	if (s->set->n == 0 && !allow_missing) {
		no_migrations_error(s->d, dir, err);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	mig_scan_free(s);
	return -1;
}

size_t mig_scan_count(const struct mig_scan *s)
{
	return s->set->n;
}

int mig_scan_read(struct mig_scan *s, size_t i, struct sg_err *err)
{
	return load_mig(s->dfd, &s->set->v[i], s->max_bytes, (s->flags & MIG_CHECK_DOWN) != 0,
	                (s->flags & MIG_NO_TEXT) == 0, err);
}

struct mig_set *mig_scan_take(struct mig_scan *s)
{
	struct mig_set *set = s->set;

	s->set = NULL;
	mig_scan_free(s);
	return set;
}

void mig_scan_free(struct mig_scan *s)
{
	if (s == NULL)
		return;
	if (s->d != NULL)
		closedir(s->d);
	entries_free(&s->ents);
	mig_set_free(s->set);
	free(s);
}

int mig_set_load(const char *dir, size_t max_bytes, unsigned flags, struct mig_set **out,
                 struct sg_err *err)
{
	struct mig_scan *s;

	*out = NULL;
	if (mig_scan_open(dir, max_bytes, flags, &s, err) != 0)
		return -1;
	for (size_t i = 0; i < mig_scan_count(s); i++) {
		if (mig_scan_read(s, i, err) != 0) {
			mig_scan_free(s);
			return -1;
		}
	}
	*out = mig_scan_take(s); /* ownership moves to the caller */
	return 0;
}

void mig_set_free(struct mig_set *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++) {
		free(set->v[i].name);
		free(set->v[i].up_file);
		free(set->v[i].up_path);
		free(set->v[i].down_path);
		free(set->v[i].sql);
	}
	free(set->v);
	free(set);
}

const struct mig *mig_set_find(const struct mig_set *set, long version)
{
	size_t lo = 0, hi;

	if (set == NULL)
		return NULL;
	hi = set->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (set->v[mid].version == version)
			return &set->v[mid];
		if (set->v[mid].version < version)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

long mig_set_max_version(const struct mig_set *set)
{
	if (set == NULL || set->n == 0)
		return -1;
	return set->v[set->n - 1].version;
}

int mig_load_text(struct mig_set *set, const struct mig *m, size_t max_bytes, struct sg_err *err)
{
	char hex[SHA256_HEX_LEN], *buf;
	struct mig *w;
	size_t len;

	if (set == NULL || m < set->v || m >= set->v + set->n)
		return sg_err_set(err, SG_E_IO, "migration %ld is not in the loaded set",
		                  m->version);
	w = &set->v[m - set->v];
	if (w->sql != NULL)
		return 0;
	if (read_checked(AT_FDCWD, w->up_path, CONTENT_UP, max_bytes, &buf, &len, NULL, err) != 0)
		return -1;
	sha256_hex(buf, len, hex);
	if (strcmp(hex, w->checksum) != 0) {
		free(buf);
		return sg_err_set(
		    err, SG_E_IO,
		    "%s changed while schemagate was reading it (checksum %s, then %s); "
		    "nothing was applied from it: run again",
		    w->up_path, w->checksum, hex);
	}
	w->sql = buf;
	w->sql_len = len;
	return 0;
}

int mig_read_down(const struct mig *m, char **sql, size_t *len, struct directives *d,
                  struct sg_err *err)
{
	struct directives unused;
	size_t n, ulen = m->up_file != NULL ? strlen(m->up_file) : 0;
	char *buf;

	*sql = NULL;
	if (len != NULL)
		*len = 0;
	if (m->down_path == NULL) {
		if (ulen < strlen(MIG_UP_SUFFIX) || ulen > INT_MAX)
			return sg_err_set(err, SG_E_IO, "migration %ld has no down file",
			                  m->version);
		return sg_err_set(err, SG_E_IO, "migration %ld has no down file (expected %.*s%s)",
		                  m->version, (int)(ulen - strlen(MIG_UP_SUFFIX)), m->up_file,
		                  MIG_DOWN_SUFFIX);
	}
	if (read_checked(AT_FDCWD, m->down_path, CONTENT_DOWN, SIZE_MAX - 1, &buf, &n,
	                 d != NULL ? d : &unused, err) != 0)
		return -1;
	*sql = buf;
	if (len != NULL)
		*len = n;
	return 0;
}

/* ---- creating a new pair ---- */

/* Lowercases ASCII letters and turns each run of anything else into one '_', trimmed. */
static int slugify(const char *name, char **out, struct sg_err *err)
{
	bool gap = false;
	size_t i, n = 0;
	char *s;

	if ((s = malloc(MIG_SLUG_MAX + 1)) == NULL)
		return sg_err_set(err, SG_E_NOMEM, "out of memory");
	for (i = 0; name[i] != '\0' && n < MIG_SLUG_MAX; i++) {
		char c = name[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!(c >= 'a' && c <= 'z') && !is_digit(c)) {
			gap = n > 0; /* leading runs are dropped, not turned into '_' */
			continue;
		}
		if (gap && n + 2 > MIG_SLUG_MAX)
			break; /* no room for '_' and one more character: cut at a word boundary */
		if (gap)
			s[n++] = '_';
		gap = false;
		s[n++] = c;
	}
	s[n] = '\0';
	if (n == 0) {
		free(s);
		return sg_err_set(err, SG_E_USAGE, "migration name \"%s\" has no letters or digits",
		                  name);
	}
	*out = s;
	return 0;
}

/* Creates dir unless it exists (one level only; the parent must exist). */
static int ensure_dir(const char *dir, struct sg_err *err)
{
	struct stat st;

	if (mkdir(dir, 0777) == 0)
		return 0;
	if (errno != EEXIST)
		return sg_err_set(err, SG_E_IO, "create folder %s: %s", dir, strerror(errno));
	if (stat(dir, &st) != 0)
		return sg_err_set(err, SG_E_IO, "stat %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return sg_err_set(err, SG_E_IO, "%s exists and is not a folder", dir);
	return 0;
}

/* Highest version of any up or down file name in dir, plus one. */
/* The smallest 14-digit number: a folder whose highest version has 14 digits is numbered by UTC
 * timestamps (YYYYMMDDHHMMSS: golang-migrate's and goose's -t, dbmate, Rails). */
#define MIG_TIMESTAMP_MIN 10000000000000L
#define MIG_TIMESTAMP_MAX 99999999999999L

/* now as the number YYYYMMDDHHMMSS in UTC, or -1 if the clock cannot be read. */
static long utc_stamp(time_t now)
{
	struct tm tm;
	char buf[32];

	if (gmtime_r(&now, &tm) == NULL || strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm) != 14)
		return -1;
	return strtol(buf, NULL, 10);
}

/* The version create gives a new pair in dir (see mig_create). */
static int next_version(const char *dir, time_t now, long *out, bool *clock_behind,
                        struct sg_err *err)
{
	struct names names = {0};
	long max = 0, v, stamp;
	enum mig_kind kind;
	int rc = -1, r;
	size_t i;

	if (read_names(dir, false, &names, err) != 0)
		goto cleanup;
	for (i = 0; i < names.n; i++) {
		if ((r = mig_parse_name(names.v[i], &v, &kind, NULL, err)) < 0)
			goto cleanup;
		if (r == 1 && v > max)
			max = v;
	}
	if (max >= MIG_VERSION_MAX) {
		sg_err_set(err, SG_E_PARSE, "no version left after %ld in %s", max, dir);
		goto cleanup;
	}
	*out = max + 1;
	if (max >= MIG_TIMESTAMP_MIN && max <= MIG_TIMESTAMP_MAX) {
		/* Two branches that each add a file must not pick the same number: the time does
		 * that, last+1 would not. A clock at or behind the last version gives last+1. */
		stamp = utc_stamp(now);
		if (stamp > max)
			*out = stamp;
		else if (clock_behind != NULL)
			*clock_behind = true;
	}
	rc = 0;
cleanup:
	names_free(&names);
	return rc;
}

static int pair_path(const char *dir, long version, const char *slug, const char *suffix,
                     char **out, struct sg_err *err)
{
	char fname[256];
	int n;

	n = snprintf(fname, sizeof fname, "%06ld_%s%s", version, slug, suffix);
	if (n < 0 || (size_t)n >= sizeof fname)
		return sg_err_set(err, SG_E_USAGE, "migration file name for \"%s\" is too long",
		                  slug);
	return path_join(dir, fname, out, err);
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Creates path (never replacing an existing file) holding the one-line comment header. */
static int write_new_file(const char *path, long version, const char *slug, const char *dir_word,
                          struct sg_err *err)
{
	char head[256];
	int fd, n;

	n = snprintf(head, sizeof head, "-- %06ld %s: %s\n", version, slug, dir_word);
	if (n < 0 || (size_t)n >= sizeof head)
		return sg_err_set(err, SG_E_USAGE, "migration header for \"%s\" is too long", slug);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)) < 0)
		return sg_err_set(err, SG_E_IO, "create %s: %s", path, strerror(errno));
	if (write_all(fd, head, (size_t)n) != 0) {
		sg_err_set(err, SG_E_IO, "write %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) != 0) {
		sg_err_set(err, SG_E_IO, "close %s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

int mig_create(const char *dir, const char *name, time_t now, bool *clock_behind,
               char **up_path_out, char **down_path_out, struct sg_err *err)
{
	char *slug = NULL, *up = NULL, *down = NULL;
	long version;
	int rc = -1;

	*up_path_out = NULL;
	*down_path_out = NULL;
	if (clock_behind != NULL)
		*clock_behind = false;
	if (slugify(name, &slug, err) != 0 || ensure_dir(dir, err) != 0 ||
	    next_version(dir, now, &version, clock_behind, err) != 0 ||
	    pair_path(dir, version, slug, MIG_UP_SUFFIX, &up, err) != 0 ||
	    pair_path(dir, version, slug, MIG_DOWN_SUFFIX, &down, err) != 0 ||
	    write_new_file(up, version, slug, "up", err) != 0)
		goto cleanup;
	if (write_new_file(down, version, slug, "down", err) != 0) {
		/* Never leave half a pair: a lone up file would look like a migration without a way
		 * back, and the next create would skip past its version. */
		unlink(up);
		goto cleanup;
	}
	*up_path_out = up; /* ownership moves to the caller */
	*down_path_out = down;
	up = down = NULL;
	rc = 0;
cleanup:
	free(slug);
	free(up);
	free(down);
	return rc;
}
