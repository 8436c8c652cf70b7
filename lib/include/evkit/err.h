/*
 * evkit/err.h - error values shared by every libevkit module.
 *
 * libevkit never prints and never exits.  A function that can fail returns
 * 0 (or a non-negative count) on success and a negative EVK_E* code on
 * failure, and fills an optional caller-owned struct evk_err with the code,
 * the position and a lowercase message without a final period, in the
 * spirit of jansson's json_error_t.  Programs decide how to report it.
 */
#ifndef EVKIT_ERR_H
#define EVKIT_ERR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
	EVK_OK = 0,
	EVK_ENOMEM = -1, /* allocation failed */
	EVK_EIO = -2, /* read/write/open failed; errno kept in sys_errno */
	EVK_EPIPE = -3, /* the reader of our output went away */
	EVK_ETOOLONG = -4, /* line longer than the limit */
	EVK_ENUL = -5, /* NUL byte in a line */
	EVK_EUTF8 = -6, /* invalid UTF-8 */
	EVK_EJSON = -7, /* JSON syntax error */
	EVK_EDEPTH = -8, /* JSON nesting deeper than the limit */
	EVK_EDUPKEY = -9, /* duplicate key in a JSON object */
	EVK_EINVAL = -10, /* invalid argument or value */
	EVK_ETIME = -11, /* not an RFC 3339 time */
	EVK_EEVENT = -12, /* not a valid CloudEvent */
	EVK_ERANGE = -13, /* number out of range */
	EVK_ENOMATCH = -14, /* regular expression did not match */
	EVK_EINTR = -15, /* interrupted by a signal the caller asked about */
};

/* Where and why something failed.  `line` is 1-based (0: not known),
 * `column` is a 1-based byte offset in the line or argument (0: not known),
 * `sys_errno` is errno for EVK_EIO, else 0. */
struct evk_err {
	int code;
	int sys_errno;
	uint64_t line;
	size_t column;
	char msg[256];
};

#define EVK_ERR_ZERO \
	{ \
		0, 0, 0, 0, \
		{ \
			0 \
		} \
	}

/* Returns a static, lowercase name for an EVK_E* code ("invalid JSON"). */
const char *evk_strerror(int code);

/* Clears `e` (NULL allowed). */
void evk_err_clear(struct evk_err *e);

#ifdef __cplusplus
}
#endif
#endif
