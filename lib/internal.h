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

/* evk_canon() of `p[0..len)` with its top-level object edited: members
 * whose (unescaped) key is one of omit[0..nomit) are left out, and the
 * members extra[0..2*nextra) (pairs of raw JSON key and value texts, keys
 * without escapes and not already in the object) are added.  Signing
 * uses it to canonicalize an event without "sig", or with "sigalg" and
 * "sigkid", without copying the event first. */
int evk__canon_edit(const char *p, size_t len, const struct evk_span *omit,
    size_t nomit, const struct evk_span *extra, size_t nextra,
    struct evk_buf *out, struct evk_err *err);

#endif
