/* secret.c - secrets read from files (mounted Kubernetes Secrets): one reader, one wipe. */
#include "secret.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trims buf[0..*n) in place as trim says; returns the offset of the first kept byte. */
static size_t trim_edges(const char *buf, size_t *n, enum secret_trim trim)
{
	size_t start = 0;

	if (trim == SECRET_TRIM_NEWLINE) {
		if (*n > 0 && buf[*n - 1] == '\n')
			(*n)--;
		if (*n > 0 && buf[*n - 1] == '\r')
			(*n)--;
		return 0;
	}
	while (*n > 0 && is_blank(buf[*n - 1]))
		(*n)--;
	while (start < *n && is_blank(buf[start]))
		start++;
	return start;
}

int secret_read_file(const char *what, const char *path, enum secret_trim trim, char **out,
                     size_t *len, struct sg_err *err)
{
	FILE *f = NULL;
	char *buf = NULL;
	size_t n, start;
	int rc = -1;

	*out = NULL;
	if ((f = fopen(path, "rb")) == NULL) {
		sg_err_set(err, SG_E_CONFIG, "%s %s: %s", what, path, strerror(errno));
		goto cleanup;
	}
	if ((buf = malloc(SECRET_MAX_BYTES + 2)) == NULL) {
		sg_err_set(err, SG_E_NOMEM, "out of memory");
		goto cleanup;
	}
	n = fread(buf, 1, SECRET_MAX_BYTES + 1, f);
	if (ferror(f)) {
		sg_err_set(err, SG_E_CONFIG, "%s %s: read error", what, path);
		goto cleanup;
	}
	if (n > SECRET_MAX_BYTES) {
		sg_err_set(err, SG_E_CONFIG, "%s %s: longer than %d bytes", what, path,
		           SECRET_MAX_BYTES);
		goto cleanup;
	}
	start = trim_edges(buf, &n, trim);
	n -= start;
	memmove(buf, buf + start, n);
	buf[n] = '\0';
	if (n == 0 || memchr(buf, '\0', n) != NULL) {
		sg_err_set(err, SG_E_CONFIG, "%s %s: %s", what, path,
		           n == 0 ? "empty" : "holds a NUL byte");
		goto cleanup;
	}
	*out = buf;
	if (len != NULL)
		*len = n;
	buf = NULL;
	rc = 0;
cleanup:
	if (buf != NULL) {
		memset(buf, 0, SECRET_MAX_BYTES + 2);
		free(buf);
	}
	if (f != NULL)
		fclose(f);
	return rc;
}

void secret_free(char *s)
{
	if (s == NULL)
		return;
	memset(s, 0, strlen(s));
	free(s);
}
