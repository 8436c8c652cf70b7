/*
 * lib/internal.h - helpers shared between libevkit's own files (evk__*).
 * Not installed.
 */
#ifndef EVKIT_INTERNAL_H
#define EVKIT_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include "evkit/buf.h"
#include "evkit/err.h"

#if defined(__GNUC__)
#define EVK__PRINTF(a, b) __attribute__((format(printf, a, b)))
#define EVK__LIKELY(x) __builtin_expect(!!(x), 1)
#define EVK__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define EVK__PRINTF(a, b)
#define EVK__LIKELY(x) (x)
#define EVK__UNLIKELY(x) (x)
#endif

/* Fills `e` (when not NULL) with `code`, `column` and a formatted message;
 * keeps e->line as the caller set it.  Returns `code`, so that error paths
 * read `return evk__err(err, EVK_EJSON, col, "...")`. */
int evk__err(struct evk_err *e, int code, size_t column, const char *fmt, ...)
    EVK__PRINTF(4, 5);

/* As evk__err() for EVK_EIO, with errno's text appended after ": ". */
int evk__err_sys(struct evk_err *e, int sys_errno, const char *fmt, ...)
    EVK__PRINTF(3, 4);

/* JIT-compiles a PCRE2 pattern unless EVKIT_NO_JIT is set in the
 * environment (the interpreter gives the same results; valgrind cannot
 * follow JIT code and reports false errors in it).  Returns nonzero when
 * the JIT is in use.  `re` is a pcre2_code_8 *. */
int evk__jit(void *re, unsigned options);

/* What evk__canon_edit() does to the top-level object.  Keys are compared
 * unescaped; extra keys have no escapes and are not in the object. */
struct evk__canon_top {
	const struct evk_span *omit; /* members left out */
	size_t nomit;
	const struct evk_span *extra; /* members added: raw JSON key, value */
	size_t nextra; /* pairs in extra */
	const struct evk_span *watch; /* members looked for */
	size_t nwatch;
	struct evk_span *found; /* out: value span per watch key, or p NULL */
	size_t nmembers; /* out: members as written */
};

/* evk_canon() of `p[0..len)` with its top-level object edited as `top`
 * says (NULL: not at all; and not when the value is not an object).
 * Signing canonicalizes an event without "sig", or with "sigalg" and
 * "sigkid", this way, and learns its signature members in the same
 * pass. */
int evk__canon_edit(const char *p, size_t len, struct evk__canon_top *top,
    struct evk_buf *out, struct evk_err *err);

#endif
