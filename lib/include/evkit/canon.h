/*
 * evkit/canon.h - RFC 8785 JSON Canonicalization Scheme (JCS).
 *
 * Signing needs one byte sequence per meaning: the same event must give
 * the same bytes whatever the producer's key order, whitespace, escapes
 * or number spelling.  JCS defines those bytes, and other languages have
 * implementations of it, so a verifier written elsewhere can rebuild
 * exactly what evkit signed.
 */
#ifndef EVKIT_CANON_H
#define EVKIT_CANON_H

#include <stddef.h>

#include "evkit/buf.h"
#include "evkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Appends to `out` the RFC 8785 canonical form of the JSON text
 * `p[0..len)`:
 *
 * - no whitespace between tokens, none around the value;
 * - object members sorted by their keys, compared (after unescaping) as
 *   sequences of UTF-16 code units, so "\ud800\udc00" (U+10000) sorts
 *   before "\uffff"; no locale or Unicode normalization is involved;
 * - strings with the minimal escapes: \" \\ \b \f \n \r \t by name, the
 *   other controls U+0001..U+001F as \u00xx in lowercase hex, everything
 *   else (including "/", DEL and all non-ASCII) as raw UTF-8;
 * - true, false and null as they are;
 * - numbers as ECMAScript's Number.prototype.toString() writes the
 *   IEEE-754 double nearest to the number: the shortest digits that read
 *   back as the same double, plain decimal from 1e-6 up to below 1e21
 *   ("0.000001", "100"), otherwise exponent form ("1e-7", "1e+21"), and
 *   -0 as "0".  Integers beyond 2^53 (9007199254740992) therefore lose
 *   precision, as JCS requires: 9007199254740993 becomes
 *   9007199254740992 and 123456789012345678901234 becomes
 *   1.2345678901234569e+23.  Producers that need exact big integers
 *   must send them as strings.
 *
 * Precondition: evk_json_check() (with duplicate keys refused) accepted
 * the text.  On any other text this never crashes or reads outside
 * `p[0..len)`, but what it appends, or which error it returns, is
 * unspecified.  The result does not depend on the locale; it assumes the
 * default floating-point rounding mode (to nearest).
 *
 * Returns 0, or a negative code with `err` (may be NULL) filled:
 * EVK_ERANGE "number out of range for JCS" when a number is too large
 * for a double (1e400), with err->column the 1-based byte column in `p`
 * of the first such number; EVK_ENOMEM.  (On unchecked text also EVK_EJSON.)  On
 * error `out` is left as it was (its length restored).  Borrows `p`;
 * `out` is the caller's.  Uses no state between calls, so it may run in
 * several threads at once; nesting costs heap memory, not C stack.
 */
int evk_canon(const char *p, size_t len, struct evk_buf *out,
    struct evk_err *err);

#ifdef __cplusplus
}
#endif
#endif
