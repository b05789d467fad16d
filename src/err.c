/* err.c - filling struct sg_err. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Sets code and the formatted message (err may be NULL). */
static void set_message(struct sg_err *err, enum sg_code code, const char *fmt, va_list ap)
{
	char buf[sizeof err->msg];

	if (err == NULL)
		return;
	err->code = code;
	/* Formatted into a copy first: callers wrap the previous message
	 * (sg_err_set(err, ..., "%s: %s", file, err->msg)), and vsnprintf with
	 * its output among its arguments is undefined (it garbled the text).
	 * Truncation is acceptable: the message is for people, and stays terminated. */
	if (vsnprintf(buf, sizeof buf, fmt, ap) < 0)
		buf[0] = '\0';
	memcpy(err->msg, buf, sizeof buf);
}

int sg_err_set(struct sg_err *err, enum sg_code code, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		err->sqlstate[0] = '\0';
		err->conn_lost = false;
	}
	va_start(ap, fmt);
	set_message(err, code, fmt, ap);
	va_end(ap);
	return -1;
}

int sg_err_wrap(struct sg_err *err, enum sg_code code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_message(err, code, fmt, ap);
	va_end(ap);
	return -1;
}

void sg_err_clear(struct sg_err *err)
{
	if (err == NULL)
		return;
	err->code = SG_E_OK;
	err->msg[0] = '\0';
	err->sqlstate[0] = '\0';
	err->conn_lost = false;
}
