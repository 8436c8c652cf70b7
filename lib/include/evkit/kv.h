/*
 * evkit/kv.h - build a JSON object from key=value arguments, as jo does.
 *
 *   name=value     a string, or a number/true/false/null when the whole
 *                  value is one (JSON grammar: "007" stays a string)
 *   name:=JSON     the JSON value as given (checked, written compactly)
 *   name=@FILE     the contents of FILE as a string
 *   a.b.c=value    nested objects, created as needed
 *
 * Keys are UTF-8 without "=" or empty segments; a key given twice, or a
 * key used both as a value and as an object, is an error.
 */
#ifndef EVKIT_KV_H
#define EVKIT_KV_H

#include <stddef.h>

#include "evkit/buf.h"
#include "evkit/err.h"
#include "evkit/json.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
	EVK_KV_NOFILES = 1, /* refuse name=@FILE (fuzzing, untrusted input) */
};

/* Longest path of nested keys (a.b.c...). */
#define EVK_KV_MAX_NEST 32

struct evk_kv;

/* Returns a new, empty object builder, or NULL when out of memory.
 * `max_value` bounds a value read from a file (0: EVK_MAX_LINE);
 * `json` (copied; NULL: defaults) rules the KEY:=JSON values.
 * Free with evk_kv_free(). */
struct evk_kv *evk_kv_new(int flags, size_t max_value,
    const struct evk_json_opts *json);

/* Frees `kv`; NULL does nothing. */
void evk_kv_free(struct evk_kv *kv);

/*
 * Parses one argument `arg` (NUL-terminated) and adds it.  Returns 0, or
 * EVK_EINVAL (bad syntax, duplicate or conflicting key; err->column points
 * into `arg`), EVK_EJSON/EVK_EUTF8/EVK_EDEPTH for a bad :=JSON value,
 * EVK_EUTF8 for a value that is not UTF-8, EVK_EIO for an unreadable file,
 * EVK_ETOOLONG for a file above max_value, EVK_ENOMEM.
 */
int evk_kv_add(struct evk_kv *kv, const char *arg, struct evk_err *err);

/* The number of arguments added so far. */
size_t evk_kv_count(const struct evk_kv *kv);

/* Appends the object as compact JSON text to `out`, keys in the order
 * first given.  Returns 0 or EVK_ENOMEM. */
int evk_kv_write(const struct evk_kv *kv, struct evk_buf *out);

#ifdef __cplusplus
}
#endif
#endif
