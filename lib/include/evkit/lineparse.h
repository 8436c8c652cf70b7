/*
 * evkit/lineparse.h - turn raw log lines into JSON objects with a PCRE2
 * regular expression: each named group becomes a member.
 */
#ifndef EVKIT_LINEPARSE_H
#define EVKIT_LINEPARSE_H

#include <stddef.h>

#include "evkit/buf.h"
#include "evkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct evk_lineparse;

/*
 * Compiles `pattern` (PCRE2, UTF mode, JIT-compiled once when the platform
 * has a JIT) and returns a new parser, or NULL with `err` filled: EVK_EINVAL
 * with err->column at the fault for a bad pattern or one without named
 * groups, or for a bad `types`.
 *
 * `types` (NULL: all strings) says how a group's text becomes JSON:
 * "auto" for every group, or a comma list of NAME=TYPE where TYPE is
 *   string  the text as a string (the default)
 *   number  a JSON number; other text rejects the line
 *   bool    true or false; other text rejects the line
 *   auto    a number, true, false or null when the text is one, else a string
 * Free with evk_lineparse_free().
 */
struct evk_lineparse *evk_lineparse_new(const char *pattern, const char *types,
    struct evk_err *err);

/* Frees `lp`; NULL does nothing. */
void evk_lineparse_free(struct evk_lineparse *lp);

/*
 * Matches the valid UTF-8 line `p[0..n)` (searching, not anchored) and
 * appends a JSON object of its named groups to `out` (groups that did not
 * take part in the match are left out).  Returns 0, EVK_ENOMATCH, EVK_EINVAL
 * when a typed group's text does not convert (the message names it),
 * EVK_ERANGE when the match hit PCRE2's match limit, or EVK_ENOMEM.  On
 * error, `out` is left as it was.
 */
int evk_lineparse_run(struct evk_lineparse *lp, const char *p, size_t n,
    struct evk_buf *out, struct evk_err *err);

#ifdef __cplusplus
}
#endif
#endif
