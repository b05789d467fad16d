/* test_framing_diff.c - replays the differential fuzz corpus (tests/fuzz/corpus/framing_diff and
 * framing) through lib_framing_diff.c: the gate's framing against a real civetweb started in this
 * process on loopback. CI also fuzzes it for 30 s (ci/checks.d/50-fuzz.sh). */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"
#include "lib_framing_diff.h"
#include "sgt.h"

#define CORPUS SG_SOURCE_DIR "/tests/fuzz/corpus"

/* The file's bytes (NULs included), malloc'd. */
static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(FRAMING_MAX_HEAD * 2);

	cr_assert_not_null(f, "%s", path);
	cr_assert_not_null(buf);
	*len = fread(buf, 1, FRAMING_MAX_HEAD * 2, f);
	fclose(f);
	return buf;
}

static size_t replay(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;
	char why[4096];

	cr_assert_not_null(d, "%s", dir);
	while ((e = readdir(d)) != NULL) {
		char *path, *data;
		size_t len;

		if (e->d_name[0] == '.')
			continue;
		path = sgt_fmt("%s/%s", dir, e->d_name);
		data = read_all(path, &len);
		cr_expect_null(framing_diff_check(data, len, why, sizeof why), "%s: %s", path, why);
		free(data);
		free(path);
		n++;
	}
	closedir(d);
	return n;
}

Test(framing_diff, corpus_agrees_with_civetweb)
{
	cr_assert_eq(framing_diff_start(), 0);
	cr_assert_gt(replay(CORPUS "/framing_diff"), 0);
	replay(CORPUS "/framing");
}

/* "\n\r\n" is no end for civetweb: a gate that took it for one passed the
 * head on, and civetweb held a pooled connection waiting for the rest. */
Test(framing_diff, lf_crlf_is_not_an_end)
{
	static const char part[] = "GET /readyz HTTP/1.1\r\nHost: x\n\r\n";
	size_t from = 0;

	cr_expect_eq(framing_head_end(part, sizeof part - 1, &from), 0);
}

/* The longest head the gate passes (FRAMING_MAX_HEAD bytes exactly) is one
 * civetweb takes too (its max_request_size is the same number). */
Test(framing_diff, longest_head_agrees)
{
	char *head = malloc(FRAMING_MAX_HEAD), why[4096];
	static const char start[] = "GET /readyz HTTP/1.1\r\nX-Pad: ";
	size_t from = 0;

	cr_assert_not_null(head);
	memcpy(head, start, sizeof start - 1);
	memset(head + sizeof start - 1, 'p', FRAMING_MAX_HEAD - (sizeof start - 1) - 4);
	memcpy(head + FRAMING_MAX_HEAD - 4, "\r\n\r\n", 4);
	cr_assert_eq(framing_head_end(head, FRAMING_MAX_HEAD, &from), FRAMING_MAX_HEAD);
	cr_assert_eq(framing_diff_start(), 0);
	cr_expect_null(framing_diff_check(head, FRAMING_MAX_HEAD, why, sizeof why), "%s", why);
	free(head);
}
