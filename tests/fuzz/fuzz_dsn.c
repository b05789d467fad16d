/* fuzz_dsn.c - libFuzzer harness: dsn_redact never leaks a password libpq would use, and
 * dsn_split / dsn_refused_param never put one in the names they log. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "dsn.h"

/* The fixed secret planted by the templates below. */
#define SECRET "Zq7SecretPw"

/* The value libpq reads for keyword key from dsn (malloc'd), or NULL. */
static char *libpq_value(const char *dsn, const char *key)
{
	PQconninfoOption *opts = PQconninfoParse(dsn, NULL);
	char *v = NULL;

	if (opts == NULL)
		return NULL;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, key) == 0 && o->val != NULL)
			v = strdup(o->val);
	PQconninfoFree(opts);
	return v;
}

static void leak(const char *key, const char *v, const char *dsn, const char *out)
{
	fprintf(stderr, "leak of %s \"%s\"\n  in:  %s\n  out: %s\n", key, v, dsn, out);
	abort();
}

/* True when v occurs in out somewhere that does not overlap the mask: a
 * secret may well be a substring of "password=" DSN_MASK itself (fuzzing
 * found "password=ssword=x", redacted to "password=xxxxx"). */
static bool occurs_outside_mask(const char *out, const char *v)
{
	size_t vl = strlen(v), ml = strlen(DSN_MASK);

	for (const char *p = strstr(out, v); p != NULL; p = strstr(p + 1, v)) {
		bool overlaps = false;

		for (const char *m = strstr(out, DSN_MASK); m != NULL && !overlaps;
		     m = strstr(m + 1, DSN_MASK))
			overlaps = p < m + ml && m < p + vl;
		if (!overlaps)
			return true;
	}
	return false;
}

/* Aborts when a password or sslpassword that libpq reads from dsn survives
 * redaction. Two oracles:
 *  - libpq reading the redacted text gets the same secret back;
 *  - the secret (>= 4 bytes) occurs once in an input without percent-encoding
 *    or backslash escapes (so that occurrence is where the secret was written)
 *    and still occurs in the output, other than across the mask. */
static void check_no_leak(const char *dsn, const char *out)
{
	static const char *const keys[] = {"password", "sslpassword"};

	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		char *v = libpq_value(dsn, keys[k]), *after;
		const char *first;

		if (v == NULL || v[0] == '\0') {
			free(v);
			continue;
		}
		after = libpq_value(out, keys[k]);
		if (after != NULL && strcmp(after, v) == 0 && strcmp(v, DSN_MASK) != 0)
			leak(keys[k], v, dsn, out);
		free(after);
		first = strstr(dsn, v);
		if (strlen(v) >= 4 && strpbrk(dsn, "%\\") == NULL && first != NULL &&
		    strstr(first + 1, v) == NULL && occurs_outside_mask(out, v))
			leak(keys[k], v, dsn, out);
		free(v);
	}
}

/* The names dsn_split drops and dsn_refused_param reports reach logs and errors: a password
 * libpq reads from dsn must never be among them. Same premise as the second oracle above: the
 * secret occurs once in an input without escapes, so that occurrence is the password. The URL
 * handed to libpq keeps its password: libpq reads the same one back from it. */
static void check_split(const char *dsn)
{
	struct dsn_split sp;
	char name[80], *v;
	const char *first;

	if (dsn_split(dsn, &sp, NULL) != 0)
		return;
	v = libpq_value(dsn, "password");
	first = v != NULL ? strstr(dsn, v) : NULL;
	if (first != NULL && strlen(v) >= 4 && strpbrk(dsn, "%\\") == NULL &&
	    strstr(first + 1, v) == NULL) {
		if (sp.dropped != NULL && strstr(sp.dropped, v) != NULL)
			leak("password", v, dsn, sp.dropped);
		if (dsn_refused_param(sp.url, name, sizeof name) && strstr(name, v) != NULL)
			leak("password", v, dsn, name);
	}
	if (v != NULL) {
		char *after = libpq_value(sp.url, "password");

		if (after == NULL || strcmp(after, v) != 0) {
			fprintf(stderr, "split changed the password\n  in:  %s\n  out: %s\n", dsn,
			        sp.url);
			abort();
		}
		free(after);
	}
	free(v);
	dsn_split_free(&sp);
}

static void redact_all_sizes(const char *dsn)
{
	static const size_t sizes[] = {0, 1, 7, 32, 4096};
	char out[4096];

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		memset(out, 'Q', sizeof out);
		dsn_redact(dsn, out, sizes[i]);
		if (sizes[i] > 0 && memchr(out, '\0', sizes[i]) == NULL)
			abort(); /* not terminated within n */
		if (sizes[i] < sizeof out && out[sizes[i]] != 'Q')
			abort(); /* wrote past n */
		if (sizes[i] == sizeof out)
			check_no_leak(dsn, out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const templates[] = {
	    "postgres://user:" SECRET "@%s",          "postgresql://%s:" SECRET "@h/db",
	    "host=h password=" SECRET " %s",          "%s password='" SECRET "'",
	    "postgres://h/db?password=" SECRET "&%s", "redis://:" SECRET "@%s",
	};
	char *in = malloc(size + 1), *t = NULL;

	if (in == NULL)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	redact_all_sizes(in);
	check_split(in);
	if (size > 0 && size < 2048) {
		size_t which = (size_t)data[0] % (sizeof templates / sizeof templates[0]);
		size_t n = strlen(templates[which]) + size + 1;

		if ((t = malloc(n)) != NULL) {
			snprintf(t, n, templates[which], in + 1);
			redact_all_sizes(t);
			check_split(t);
		}
	}
	free(t);
	free(in);
	return 0;
}
