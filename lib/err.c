/*
 * lib/err.c - error codes and the message helpers every module uses.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *
evk_strerror(int code)
{
	switch (code) {
	case EVK_OK: return "success";
	case EVK_ENOMEM: return "out of memory";
	case EVK_EIO: return "input/output error";
	case EVK_EPIPE: return "broken pipe";
	case EVK_ETOOLONG: return "line too long";
	case EVK_ENUL: return "NUL byte in line";
	case EVK_EUTF8: return "invalid UTF-8";
	case EVK_EJSON: return "invalid JSON";
	case EVK_EDEPTH: return "JSON nested too deep";
	case EVK_EDUPKEY: return "duplicate key";
	case EVK_EINVAL: return "invalid argument";
	case EVK_ETIME: return "invalid time";
	case EVK_EEVENT: return "invalid event";
	case EVK_ERANGE: return "out of range";
	case EVK_ENOMATCH: return "no match";
	case EVK_EINTR: return "interrupted";
	}
	return "unknown error";
}

void
evk_err_clear(struct evk_err *e)
{
	if (e != NULL)
		memset(e, 0, sizeof *e);
}

static void fill(struct evk_err *e, int code, size_t column, const char *fmt,
    va_list ap) EVK__PRINTF(4, 0);

static void
fill(struct evk_err *e, int code, size_t column, const char *fmt, va_list ap)
{
	e->code = code;
	e->column = column;
	e->sys_errno = 0;
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
}

int
evk__err(struct evk_err *e, int code, size_t column, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	va_start(ap, fmt);
	fill(e, code, column, fmt, ap);
	va_end(ap);
	return code;
}

int
evk__err_sys(struct evk_err *e, int sys_errno, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (e == NULL)
		return EVK_EIO;
	va_start(ap, fmt);
	fill(e, EVK_EIO, 0, fmt, ap);
	va_end(ap);
	e->sys_errno = sys_errno;
	n = strlen(e->msg);
	if (n < sizeof e->msg - 3)
		snprintf(e->msg + n, sizeof e->msg - n, ": %s",
		    strerror(sys_errno));
	return sys_errno == EPIPE ? (e->code = EVK_EPIPE) : EVK_EIO;
}
