/*
 * evkit/expr.h - the filter expression language of evfilter (and of every
 * tool that selects events: evroute, evreplay).
 *
 * An expression is compiled once (regular expressions compiled and
 * JIT-compiled then, never per event) and evaluated against events given
 * as JSON text that evk_json_check() accepted: paths are looked up in the
 * text, no tree is built.  The language is documented in evfilter(1).
 */
#ifndef EVKIT_EXPR_H
#define EVKIT_EXPR_H

#include <stddef.h>
#include <stdint.h>

#include "evkit/buf.h"
#include "evkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct evk_expr;

/*
 * Compiles the expression `src` (NUL-terminated).  Returns a new
 * expression, free with evk_expr_free(), or NULL with `err` filled:
 * EVK_EINVAL with err->column the 1-based byte column of the offending
 * token and a message such as "unexpected ')'", or EVK_ENOMEM.
 */
struct evk_expr *evk_expr_compile(const char *src, struct evk_err *err);

/* An expression that matches events whose type matches the NATS-style
 * topic pattern (as topic(PATTERN)).  NULL with `err` filled for a bad
 * pattern. */
struct evk_expr *evk_expr_topic(const char *pattern, struct evk_err *err);

/*
 * Combines two expressions into `a && b` (and_ nonzero) or `a || b`,
 * taking ownership of both (freed on failure too).  Returns the new
 * expression, or NULL when out of memory.
 */
struct evk_expr *evk_expr_join(struct evk_expr *a, struct evk_expr *b,
    int and_);

/* Frees `e`; NULL does nothing. */
void evk_expr_free(struct evk_expr *e);

/*
 * Evaluates `e` against the checked JSON text `ev` (normally an object).
 * Returns 1 when the event matches (the value is truthy: not false, null
 * or absent), 0 when not, or a negative EVK_E* code when evaluation cannot
 * finish (EVK_ERANGE: a regular expression hit PCRE2's match limit;
 * EVK_ENOMEM), with `err` filled.  Not reentrant: `e` keeps scratch
 * memory, reset at each call.
 */
int evk_expr_eval(struct evk_expr *e, struct evk_span ev, struct evk_err *err);

/*
 * The prefilter: returns 0 when the raw line `p[0..n)` cannot match `e`
 * whatever it holds (a string the expression requires is not in it), 1
 * when it may.  Exact: for a line that evk_json_check() accepts,
 * evk_expr_prefilter() == 0 implies evk_expr_eval() == 0.  Lines holding
 * a \u or \/ escape (which could spell a required string differently)
 * always return 1.  Cheap: byte searches only.
 */
int evk_expr_prefilter(const struct evk_expr *e, const char *p, size_t n);

/* The number of strings the prefilter looks for (0: it passes every
 * line).  For tests and diagnostics. */
size_t evk_expr_prefilter_count(const struct evk_expr *e);

#ifdef __cplusplus
}
#endif
#endif
