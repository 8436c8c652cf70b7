/*
 * lib/topic.c - topics and topic patterns with NATS subject semantics:
 * checking them, matching them, and the literal prefix a prefilter can
 * search for.
 *
 * Matching walks both strings once, token by token, and checks validity
 * on the way: there is no separate check pass, and a mismatch stops the
 * walk early (an invalid tail cannot turn a mismatch into a match).  The
 * result is the same as "both valid, then match", which the unit tests
 * compare against a naive tokenizing matcher.
 */
#include <string.h>

#include "evkit/topic.h"
#include "internal.h"

/* Returned by token_end() for a token that makes its string invalid. */
#define BAD_TOKEN ((size_t)-1)

int
evk_topic_check(const char *s, size_t len, int pattern, struct evk_err *err)
{
	size_t i, tok = 0; /* start of the current token */

	if (len == 0)
		return evk__err(err, EVK_EINVAL, 0, "empty topic");
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			unsigned char c = (unsigned char)s[i];
			if (c <= ' ' || c == 0x7f)
				return evk__err(err, EVK_EINVAL, i + 1,
				    "whitespace or control character in topic");
			continue;
		}
		if (i == tok)
			return evk__err(err, EVK_EINVAL, i + 1,
			    "empty token in topic");
		if (i - tok == 1 && (s[tok] == '*' || s[tok] == '>')) {
			if (!pattern)
				return evk__err(err, EVK_EINVAL, tok + 1,
				    "wildcard '%c' in topic", s[tok]);
			if (s[tok] == '>' && i < len)
				return evk__err(err, EVK_EINVAL, tok + 1,
				    "'>' must be the last token");
		}
		tok = i + 1;
	}
	return 0;
}

/*
 * Returns the end (index of the '.' or `len`) of the token of `s` that
 * starts at `i` (i <= len), or BAD_TOKEN when that token is empty or holds
 * whitespace or a control character: the same rules as evk_topic_check().
 */
static size_t
token_end(const char *s, size_t len, size_t i)
{
	size_t e;

	for (e = i; e < len && s[e] != '.'; e++) {
		unsigned char c = (unsigned char)s[e];
		if (c <= ' ' || c == 0x7f)
			return BAD_TOKEN;
	}
	return e == i ? BAD_TOKEN : e;
}

/* Nonzero when the token s[i..e) is the one-byte token `w`. */
static int
is_token(const char *s, size_t i, size_t e, char w)
{
	return e - i == 1 && s[i] == w;
}

/* As token_end(), and a wildcard token is also BAD_TOKEN: for topics. */
static size_t
topic_token_end(const char *s, size_t len, size_t i)
{
	size_t e = token_end(s, len, i);

	if (e != BAD_TOKEN &&
	    (is_token(s, i, e, '*') || is_token(s, i, e, '>')))
		return BAD_TOKEN;
	return e;
}

int
evk_topic_match(const char *pattern, size_t plen, const char *topic,
    size_t tlen)
{
	size_t pi = 0, ti = 0, pe, te;

	/*
	 * Invariant at the top of the loop: pi and ti are the starts of a
	 * token of each string.  Each may be the length (a string that is
	 * empty or ends in '.'), in which case token_end() reports the empty
	 * token: nothing past either span is read.
	 */
	for (;;) {
		if ((pe = token_end(pattern, plen, pi)) == BAD_TOKEN ||
		    (te = topic_token_end(topic, tlen, ti)) == BAD_TOKEN)
			return 0;
		if (is_token(pattern, pi, pe, '>')) {
			/* Valid only last; then it takes this topic token and
			 * the rest, which must still be a valid topic. */
			if (pe != plen)
				return 0;
			while (te != tlen) {
				te = topic_token_end(topic, tlen, te + 1);
				if (te == BAD_TOKEN)
					return 0;
			}
			return 1;
		}
		if (!is_token(pattern, pi, pe, '*') &&
		    (pe - pi != te - ti ||
		        memcmp(pattern + pi, topic + ti, pe - pi) != 0))
			return 0;
		if (pe == plen || te == tlen)
			return pe == plen && te == tlen;
		pi = pe + 1;
		ti = te + 1;
	}
}

size_t
evk_topic_literal_prefix(const char *pattern, size_t plen, int *exact)
{
	size_t i = 0, e;

	if (exact != NULL)
		*exact = 0;
	/* An invalid pattern matches nothing, so any prefix would hold; 0
	 * keeps callers from searching for bytes of a broken pattern. */
	if (evk_topic_check(pattern, plen, 1, NULL) != 0)
		return 0;
	for (;;) {
		e = i;
		while (e < plen && pattern[e] != '.')
			e++;
		if (is_token(pattern, i, e, '*') ||
		    is_token(pattern, i, e, '>'))
			return i; /* the tokens before, with their dots */
		if (e == plen)
			break;
		i = e + 1;
	}
	if (exact != NULL)
		*exact = 1;
	return plen;
}
