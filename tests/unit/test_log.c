/* test_log.c - log lines (log.c): values from outside cannot forge or rewrite a line. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Logs one event with value v in format f; returns what reached stderr. */
static char *logged(enum log_format f, const char *v)
{
	char path[] = "/tmp/sg-test-log.XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	char *buf = calloc(1, 16384);
	FILE *in;

	cr_assert(fd >= 0 && saved >= 0 && buf != NULL);
	log_setup(f, LOG_LEVEL_DEBUG);
	cr_assert_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	log_info("event", "value", v, NULL);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	in = fopen(path, "rb");
	cr_assert_not_null(in);
	(void)!fread(buf, 1, 16383, in);
	fclose(in);
	unlink(path);
	return buf;
}

/* Written raw, \r and ESC in a database-controlled string could overwrite
 * the line on a terminal or paint it. */
Test(log, text_escapes_control_characters)
{
	static const char evil[] =
	    "ok\r2026-01-01T00:00:00Z error forged \x1b[2K\x1b[31mred\x7f\x01";
	char *out = logged(LOG_FORMAT_TEXT, evil);

	cr_assert_null(strchr(out, '\r'), "%s", out);
	cr_assert_null(strchr(out, '\x1b'), "%s", out);
	cr_assert_null(strchr(out, '\x7f'), "%s", out);
	cr_assert_null(strchr(out, '\x01'), "%s", out);
	cr_assert_not_null(strstr(out, "value=\"ok\\r2026"), "%s", out);
	cr_assert_not_null(strstr(out, "\\u001b[2K"), "%s", out);
	cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line: %s", out);
	free(out);
	out = logged(LOG_FORMAT_TEXT, "plain-value_1.2");
	cr_assert_not_null(strstr(out, " value=plain-value_1.2\n"), "%s", out);
	free(out);
	out = logged(LOG_FORMAT_JSON, evil);
	cr_assert_null(strchr(out, '\x1b'), "%s", out);
	cr_assert_null(strchr(out, '\x7f'), "%s", out);
	free(out);
}
