/* err.c - filling struct sg_err. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

int sg_err_set(struct sg_err *err, enum sg_code code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	/* Truncation is acceptable: the message is for people, and stays terminated. */
	if (vsnprintf(err->msg, sizeof err->msg, fmt, ap) < 0)
		err->msg[0] = '\0';
	va_end(ap);
	return -1;
}

void sg_err_clear(struct sg_err *err)
{
	if (err == NULL)
		return;
	err->code = SG_E_OK;
	err->msg[0] = '\0';
}
