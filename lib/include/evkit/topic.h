/*
 * evkit/topic.h - topics and topic patterns, with NATS subject semantics.
 *
 * A topic is a non-empty sequence of non-empty tokens separated by '.',
 * without whitespace or control characters ("order.created").  A pattern
 * is a topic whose tokens may also be the wildcards "*" (exactly one
 * token) and, as the last token only, ">" (one or more tokens).  "*" and
 * ">" are wildcards only as whole tokens: "foo*" and ">bar" are literals.
 * This is what nats-server's IsValidLiteralSubject, IsValidSubject and
 * Sublist matching do (tests/vectors/nats-subject-sublist).
 */
#ifndef EVKIT_TOPIC_H
#define EVKIT_TOPIC_H

#include <stddef.h>

#include "evkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Checks a topic: non-empty dot-separated tokens without whitespace, and
 * with `pattern` zero, no wildcard token ("*" or ">"); with `pattern`
 * nonzero, "*" tokens anywhere and ">" as the last token are allowed.
 * Borrows `s` (`len` bytes, need not be NUL-terminated).  Returns 0 or
 * EVK_EINVAL with a message and the 1-based column in `err`.
 */
int evk_topic_check(const char *s, size_t len, int pattern,
    struct evk_err *err);

/*
 * Matches the topic `topic` (`tlen` bytes) against the pattern `pattern`
 * (`plen` bytes): "*" matches exactly one token, a final ">" one or more
 * remaining tokens, any other token itself, byte for byte.  An invalid
 * pattern or topic (as evk_topic_check() with `pattern` 1 and 0) matches
 * nothing: "order.>" does not match "order" nor "order.", "*" does not
 * match "", and "a.*" as a topic matches no pattern, not even itself.
 * Borrows both spans and reads only inside them; allocates nothing; time
 * linear in plen + tlen.  Returns 1 on a match, 0 otherwise.
 */
int evk_topic_match(const char *pattern, size_t plen, const char *topic,
    size_t tlen);

/*
 * Returns the length of the literal prefix of `pattern` (`plen` bytes):
 * its leading literal tokens, each with the '.' that follows it, up to
 * the first wildcard ("order.*" -> 6 for "order.", "a.b.>" -> 4, "*.x"
 * and ">" -> 0).  Every topic that evk_topic_match() accepts for the
 * pattern starts with those bytes, which is what a byte-search prefilter
 * needs.  When the pattern has no wildcard at all, the result is `plen`
 * and `*exact` is set to 1: a topic then matches if and only if it equals
 * the pattern.  Otherwise `*exact` is set to 0, and so is everything for
 * an invalid pattern (which matches nothing): 0 returned, `*exact` 0.
 * Borrows `pattern`; `exact` may be NULL.
 */
size_t evk_topic_literal_prefix(const char *pattern, size_t plen, int *exact);

#ifdef __cplusplus
}
#endif
#endif
