/*
 * evkit/json.h - strict JSON checking, escaping and light navigation.
 *
 * Most tools never need a JSON tree: they need to know that a line is
 * valid JSON (RFC 8259, UTF-8, bounded depth, no duplicate keys), which
 * type its value has, and the bytes of a few members.  The checker here
 * does that in one pass without building anything; the navigation helpers
 * then walk text the checker accepted.  evk_json_load() gives a jansson
 * tree when one is needed.
 */
#ifndef EVKIT_JSON_H
#define EVKIT_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "evkit/buf.h"
#include "evkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

enum evk_json_type {
	EVK_JSON_NONE = 0,
	EVK_JSON_OBJECT,
	EVK_JSON_ARRAY,
	EVK_JSON_STRING,
	EVK_JSON_NUMBER,
	EVK_JSON_TRUE,
	EVK_JSON_FALSE,
	EVK_JSON_NULL,
};

/* Default nesting limit: arrays and objects inside each other. */
#define EVK_JSON_MAX_DEPTH 128

struct evk_json_opts {
	unsigned max_depth; /* 0 means EVK_JSON_MAX_DEPTH */
	int allow_dupkeys; /* nonzero: do not check duplicate keys */
};

/* Reusable checker state (scratch for duplicate-key detection).
 * Opaque; one per thread. */
struct evk_json_checker;

/* Returns a new checker, or NULL when out of memory.  `o` is copied; NULL
 * means defaults.  Free with evk_json_checker_free(). */
struct evk_json_checker *evk_json_checker_new(const struct evk_json_opts *o);

/* Frees `c`; NULL does nothing. */
void evk_json_checker_free(struct evk_json_checker *c);

/*
 * Checks that `p[0..len)` is exactly one JSON value, optionally surrounded
 * by JSON whitespace: strict RFC 8259 grammar, strings of valid UTF-8 with
 * valid escapes (a \u escape of a lone surrogate is rejected, so is
 * \u0000), nesting at most max_depth, and (unless allowed) no object with
 * two keys that are equal after unescaping.  Stores the value's type in
 * `*type` (may be NULL).  Returns 0, or EVK_EJSON, EVK_EUTF8, EVK_EDEPTH
 * or EVK_EDUPKEY with err->column the 1-based byte column of the fault
 * and a message like "unexpected '}'" or "duplicate key \"id\"".
 * The column counts bytes from `p` (for multi-line text too); for a
 * duplicate key it is the later key's opening quote; err->line is left as
 * the caller set it.  Memory use is bounded by the number of keys in the
 * line; the checker keeps its scratch for the next call.
 */
int evk_json_check(struct evk_json_checker *c, const char *p, size_t len,
    enum evk_json_type *type, struct evk_err *err);

/*
 * Iteration over the members of an object or the elements of an array
 * whose text evk_json_check() accepted.  `it` starts from
 * evk_json_iter_init() on the container's span (surrounding whitespace
 * allowed).  Each call of evk_json_iter_next() stores the next key span
 * (the raw string including its quotes; for arrays an empty span at the
 * value) and the value span (exact bytes, no surrounding whitespace), and returns 1; it
 * returns 0 at the end.  Behaviour on text that was not checked is safe
 * (never reads outside the span) but the result is unspecified.
 */
struct evk_json_iter {
	const char *p;
	const char *end;
};

void evk_json_iter_init(struct evk_json_iter *it, struct evk_span container);
int evk_json_iter_next(struct evk_json_iter *it, struct evk_span *key,
    struct evk_span *value);

/* The type of a checked value span, from its first byte. */
enum evk_json_type evk_json_type_of(struct evk_span value);

/* Nonzero when the raw key span (with quotes) equals the `n` bytes of
 * `name` after unescaping. */
int evk_json_key_eq(struct evk_span key, const char *name, size_t n);

/*
 * Finds the member `name[0..n)` of the checked object `obj` and stores its
 * value span in `*value`.  Returns 1 when found, 0 when not (or when `obj`
 * is not an object).  Keys are compared unescaped; if duplicate keys were
 * allowed, the first match wins.
 */
int evk_json_get(struct evk_span obj, const char *name, size_t n,
    struct evk_span *value);

/*
 * Appends the unescaped content of the checked JSON string `str` (with its
 * quotes) to `out`.  Returns 0 or EVK_ENOMEM.
 */
int evk_json_unescape(struct evk_span str, struct evk_buf *out);

/*
 * Appends `p[0..n)` to `out` as a JSON string with its quotes, escaping
 * only what JSON requires (quote, backslash, controls; \n \r \t \b \f by
 * name, other controls as \u00XX).  `p` must be valid UTF-8 (see
 * evk_utf8_check()); other bytes are copied as they are.  A NUL byte
 * becomes \u0000, which evk_json_check() refuses.  Returns 0 or
 * EVK_ENOMEM.
 */
int evk_json_escape(struct evk_buf *out, const char *p, size_t n);

/* Appends the checked JSON text without insignificant whitespace.
 * Returns 0 or EVK_ENOMEM. */
int evk_json_minify(struct evk_buf *out, const char *p, size_t n);

/* Nonzero when `p[0..n)` is exactly a JSON number (RFC 8259 grammar). */
int evk_json_is_number(const char *p, size_t n);

/*
 * Checks that `p[0..n)` is valid UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF).  Returns 0, or EVK_EUTF8 and the
 * byte offset of the first bad sequence in `*bad` (may be NULL).
 */
int evk_utf8_check(const char *p, size_t n, size_t *bad);

/*
 * Parses `p[0..len)` into a jansson tree after evk_json_check() accepted it
 * (so the same rules and messages hold).  Integers beyond 64 bits become
 * reals.  Returns a new reference, free with json_decref(), or NULL with
 * `err` filled.  What only jansson refuses (a number beyond the range of a
 * double, nesting beyond its own limit of 2048 levels counting scalars)
 * is EVK_EJSON with jansson's message and byte position.
 */
json_t *evk_json_load(struct evk_json_checker *c, const char *p, size_t len,
    struct evk_err *err);

#ifdef __cplusplus
}
#endif
#endif
