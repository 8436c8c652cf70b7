/*
 * lib/json.c - strict JSON checking, escaping and light navigation.
 *
 * evk_json_check() runs once per input line in every tool, so it is
 * written as one loop over the bytes with an explicit stack instead of
 * recursion (the depth limit then bounds memory, not the C stack), and
 * with no allocation once the checker's scratch has grown to fit the
 * lines it sees.  String contents, the bulk of a typical event, are
 * skipped 8 bytes per step (plain_run()).
 *
 * Duplicate keys are found at the close of each object: every key is
 * recorded while scanning (its offset and length; a key with escapes is
 * also decoded into scratch, so that "a" and "\u0061" compare equal), and
 * the keys of a closing object are compared pairwise when there are few,
 * else sorted, so a line with k keys costs O(k log k), never O(k^2).
 *
 * The navigation helpers (iter, get, unescape, minify) trust that the text
 * was checked, and only promise not to read outside their span when it
 * was not: the fuzz target feeds them anything.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evkit/json.h"
#include "internal.h"

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/*
 * On a little-endian GCC/Clang target the lowest flagged byte of a word
 * mask is the first byte in memory.  The borrow tricks below may flag
 * bytes after (above) a true hit but never before it, so counting
 * trailing zeros finds the exact first hit; elsewhere a byte loop does.
 */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FIRST_HIT(m) ((size_t)__builtin_ctzll((unsigned long long)(m)) >> 3)
#endif

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

/* Objects with at most this many keys are checked pairwise: for the
 * usual handful of keys that beats hashing and sorting. */
#define SMALL_OBJECT 16

/* Marks an array on the container stack; objects store where their keys
 * start in the key scratch instead. */
#define ARRAY_MARK SIZE_MAX

/*
 * One recorded object key: `raw` is the offset of its opening quote in the
 * input; its decoded bytes are `len` bytes at `off`, in c->dec when `esc`
 * (the key had escapes), else in the input (raw + 1).  `head` holds their
 * first 8 bytes: most unequal keys of one length differ there, so the
 * pairwise check rarely calls memcmp().  `hash` is set only when the
 * object is large enough to be sorted.
 */
struct key {
	size_t raw;
	size_t off;
	size_t len;
	uint64_t head;
	uint32_t hash;
	uint32_t esc;
};

struct evk_json_checker {
	unsigned max_depth;
	int allow_dupkeys;
	size_t *stack; /* per open container: ARRAY_MARK or first key */
	size_t stackcap;
	struct key *keys; /* keys of every open object, innermost last */
	size_t nkeys, keycap;
	struct key *tmp; /* merge sort scratch */
	size_t tmpcap;
	struct evk_buf dec; /* decoded bytes of keys that had escapes */
};

/* State of one evk_json_check() call. */
struct scan {
	struct evk_json_checker *c;
	const char *base; /* the input, for columns */
	const char *end;
	struct evk_err *err;
	int rc; /* the error code once a helper returned NULL */
};

/* Why an escape did not decode (see unescape1()). */
enum {
	ESC_OK,
	ESC_EOF, /* input ended inside the escape */
	ESC_BAD, /* backslash followed by a byte that starts no escape */
	ESC_HEX, /* \u not followed by 4 hex digits */
	ESC_SURROGATE, /* a surrogate without its partner */
	ESC_NUL, /* \u0000, which C strings downstream cannot carry */
};

/*** bytes ***/

static inline int
is_ws(unsigned char ch)
{
	return ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r';
}

/* Skips JSON whitespace.  Minified lines have none, so one compare
 * (every whitespace byte is <= ' ') usually ends it. */
static inline const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (unsigned char)*p <= ' ' && is_ws((unsigned char)*p))
		p++;
	return p;
}

static inline int
is_digit(unsigned char ch)
{
	return (unsigned char)(ch - '0') < 10;
}

static int
hexval(unsigned char ch)
{
	if (is_digit(ch))
		return ch - '0';
	ch |= 0x20; /* ASCII lower case; maps no non-letter onto a-f */
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* A byte that may appear in a string as it is, with nothing to check:
 * printable ASCII other than the quote and the backslash. */
static inline int
str_plain(unsigned char ch)
{
	return ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\';
}

/*
 * Returns the first byte in [p, end) that is not str_plain(), or end.
 * Eight bytes per step: a byte is flagged when it is below 0x20 (borrow
 * out of subtracting 0x20), equal to '"' or '\\' (zero after XOR, found
 * by the same borrow trick), or has its high bit set.
 */
static inline const char *
plain_run(const char *p, const char *end)
{
	uint64_t w, q, b, m;

	while (end - p >= 8) {
		memcpy(&w, p, 8);
		q = w ^ (ONES * '"');
		b = w ^ (ONES * '\\');
		m = (w - ONES * 0x20) & ~w;
		m |= ((q - ONES) & ~q) | ((b - ONES) & ~b) | w;
		m &= HIGHS;
		if (m != 0) {
#ifdef FIRST_HIT
			return p + FIRST_HIT(m);
#else
			break;
#endif
		}
		p += 8;
	}
	while (p < end && str_plain((unsigned char)*p))
		p++;
	return p;
}

/*
 * Returns the length (2 to 4) of the valid UTF-8 sequence at p, whose
 * first byte is >= 0x80, or 0 when it is not valid RFC 3629 UTF-8: a stray
 * continuation byte, an overlong form (C0, C1, E0 80..9F, F0 80..8F), a
 * surrogate (ED A0..BF), above U+10FFFF (F4 90.., F5..FF) or truncated.
 */
static size_t
utf8_seq(const char *p, const char *end)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t avail = (size_t)(end - p);

	if (u[0] < 0xc2)
		return 0;
	if (u[0] < 0xe0)
		return avail >= 2 && (u[1] & 0xc0) == 0x80 ? 2 : 0;
	if (u[0] < 0xf0) {
		if (avail < 3 || (u[1] & 0xc0) != 0x80 || (u[2] & 0xc0) != 0x80)
			return 0;
		if ((u[0] == 0xe0 && u[1] < 0xa0) ||
		    (u[0] == 0xed && u[1] > 0x9f))
			return 0;
		return 3;
	}
	if (u[0] < 0xf5) {
		if (avail < 4 || (u[1] & 0xc0) != 0x80 ||
		    (u[2] & 0xc0) != 0x80 || (u[3] & 0xc0) != 0x80)
			return 0;
		if ((u[0] == 0xf0 && u[1] < 0x90) ||
		    (u[0] == 0xf4 && u[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

/* Writes code point `cp` (at most U+10FFFF) as UTF-8; returns the length. */
static size_t
utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*** escapes ***/

/* The value of the 4 hex digits at p; -1 at a non-hex byte, -2 when the
 * input ends first. */
static long
hex4(const char *p, const char *end)
{
	long v = 0;
	int i, d;

	for (i = 0; i < 4; i++) {
		if (end - p <= i)
			return -2;
		if ((d = hexval((unsigned char)p[i])) < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/*
 * Decodes the escape whose backslash is at p.  A surrogate pair counts as
 * one escape, so the result is always a whole code point.  Returns ESC_OK
 * with the code point in *cp and the end of the escape in *at, or why it
 * failed with *at the place to blame (the backslash of the bad escape, or
 * end for ESC_EOF) and, for ESC_SURROGATE, the lone surrogate in *cp.
 */
static int
unescape1(const char *p, const char *end, const char **at, uint32_t *cp)
{
	long hi, lo;

	*at = p;
	if (end - p < 2) {
		*at = end;
		return ESC_EOF;
	}
	switch (p[1]) {
	case '"':
	case '\\':
	case '/': *cp = (unsigned char)p[1]; break;
	case 'b': *cp = '\b'; break;
	case 'f': *cp = '\f'; break;
	case 'n': *cp = '\n'; break;
	case 'r': *cp = '\r'; break;
	case 't': *cp = '\t'; break;
	case 'u': goto unicode;
	default: return ESC_BAD;
	}
	*at = p + 2;
	return ESC_OK;

unicode:
	if ((hi = hex4(p + 2, end)) < 0) {
		if (hi == -2)
			*at = end;
		return hi == -2 ? ESC_EOF : ESC_HEX;
	}
	*cp = (uint32_t)hi;
	if (hi == 0)
		return ESC_NUL;
	if (hi < 0xd800 || hi > 0xdfff) {
		*at = p + 6;
		return ESC_OK;
	}
	if (hi >= 0xdc00)
		return ESC_SURROGATE; /* a low half with no high half */
	/* A high half must be followed at once by \u and a low half. */
	if (end - p < 8 && (end - p == 6 || p[6] == '\\')) {
		*at = end;
		return ESC_EOF;
	}
	if (p[6] != '\\' || p[7] != 'u')
		return ESC_SURROGATE;
	if ((lo = hex4(p + 8, end)) < 0) {
		*at = lo == -2 ? end : p + 6;
		return lo == -2 ? ESC_EOF : ESC_HEX;
	}
	if (lo < 0xdc00 || lo > 0xdfff)
		return ESC_SURROGATE;
	*cp =
	    0x10000 + ((uint32_t)(hi - 0xd800) << 10) + (uint32_t)(lo - 0xdc00);
	*at = p + 12;
	return ESC_OK;
}

/*
 * Yields the next piece of the decoded content of the string body
 * [*pp, end): a run without backslashes (pointing into the input), or the
 * UTF-8 bytes of one escape (written to tmp).  Returns the piece's length
 * and advances *pp; 0 at the end.  The one decoder behind unescaping, key
 * comparison and the duplicate check.  An escape that does not decode
 * (unchecked text) yields its backslash as it is, so a piece is never
 * longer than the input it consumed.
 */
static size_t
next_piece(const char **pp, const char *end, const char **piece, char *tmp)
{
	const char *p = *pp, *bs, *at;
	uint32_t cp;

	if (p >= end)
		return 0;
	if (*p != '\\') {
		if ((bs = memchr(p, '\\', (size_t)(end - p))) == NULL)
			bs = end;
		*piece = p;
		*pp = bs;
		return (size_t)(bs - p);
	}
	*piece = tmp;
	if (unescape1(p, end, &at, &cp) != ESC_OK) {
		*piece = p;
		*pp = p + 1;
		return 1;
	}
	*pp = at;
	return utf8_put(tmp, cp);
}

/* Appends the decoded string body [p, end) to `out`.  Decoding never
 * lengthens, so one reservation covers it. */
static int
unescape_body(struct evk_buf *out, const char *p, const char *end)
{
	const char *piece;
	char tmp[4], *w;
	size_t n;
	int rc;

	if ((rc = evk_buf_reserve(out, (size_t)(end - p))) < 0)
		return rc;
	w = out->p + out->len;
	while ((n = next_piece(&p, end, &piece, tmp)) > 0) {
		memcpy(w, piece, n);
		w += n;
	}
	out->len = (size_t)(w - out->p);
	out->p[out->len] = '\0';
	return 0;
}

/*** grammar pieces shared by the checker and the public helpers ***/

/*
 * Returns the end of the RFC 8259 number that starts at p, or NULL with
 * *bad at the first byte that breaks the grammar (end when it is cut
 * short).  Only a leading zero followed by a digit stops at a digit.
 */
static const char *
number_end(const char *p, const char *end, const char **bad)
{
	if (p < end && *p == '-')
		p++;
	if (p == end)
		goto fail;
	if (*p == '0') {
		p++;
		if (p < end && is_digit((unsigned char)*p))
			goto fail;
	} else if (is_digit((unsigned char)*p)) {
		while (++p < end && is_digit((unsigned char)*p))
			;
	} else
		goto fail;
	if (p < end && *p == '.') {
		if (++p == end || !is_digit((unsigned char)*p))
			goto fail;
		while (++p < end && is_digit((unsigned char)*p))
			;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !is_digit((unsigned char)*p))
			goto fail;
		while (++p < end && is_digit((unsigned char)*p))
			;
	}
	return p;
fail:
	*bad = p;
	return NULL;
}

/* Returns the end of literal `lit` (n bytes) expected at p, or NULL with
 * *bad at the first byte that differs (end when cut short). */
static const char *
literal_end(const char *p, const char *end, const char *lit, size_t n,
    const char **bad)
{
	size_t i;

	if ((size_t)(end - p) >= n && memcmp(p, lit, n) == 0)
		return p + n;
	for (i = 0; p + i < end && p[i] == lit[i]; i++)
		;
	*bad = p + i;
	return NULL;
}

/* Returns the byte after the string whose body starts at p (after the
 * opening quote), or end when it is not closed. */
static const char *
skip_string(const char *p, const char *end)
{
	for (;;) {
		p = plain_run(p, end);
		if (p == end)
			return end;
		if (*p == '"')
			return p + 1;
		/* Skipping the byte after a backslash steps over \" and \\. */
		p += *p == '\\' && end - p >= 2 ? 2 : 1;
	}
}

/*
 * Returns the end of the value that starts at p.  Containers are skipped by
 * counting brackets outside strings, numbers and literals run to the next
 * delimiter.  On checked text this is the exact end; on anything else it
 * stays within [p, end].  Used by iteration and lookup.
 */
static const char *
skip_value(const char *p, const char *end)
{
	size_t depth = 0;
	char ch;

	if (p == end)
		return p;
	if (*p == '"')
		return skip_string(p + 1, end);
	if (*p != '{' && *p != '[') {
		while (p < end && !is_ws((unsigned char)*p) && *p != ',' &&
		    *p != ']' && *p != '}' && *p != ':')
			p++;
		return p;
	}
	while (p < end) {
		ch = *p++;
		if (ch == '"')
			p = skip_string(p, end);
		else if (ch == '{' || ch == '[')
			depth++;
		else if ((ch == '}' || ch == ']') && --depth == 0)
			return p;
	}
	return p;
}

static enum evk_json_type
type_of_byte(char ch)
{
	switch (ch) {
	case '{': return EVK_JSON_OBJECT;
	case '[': return EVK_JSON_ARRAY;
	case '"': return EVK_JSON_STRING;
	case 't': return EVK_JSON_TRUE;
	case 'f': return EVK_JSON_FALSE;
	case 'n': return EVK_JSON_NULL;
	}
	if (ch == '-' || is_digit((unsigned char)ch))
		return EVK_JSON_NUMBER;
	return EVK_JSON_NONE;
}

/*** checker: errors ***/

static size_t
col(const struct scan *s, const char *at)
{
	return (size_t)(at - s->base) + 1;
}

/* "unexpected ..." for the byte at `at`, shown as a character only when
 * it is printable ASCII so that messages never carry raw bytes. */
static int
unexpected(const struct scan *s, const char *at, const char *where)
{
	unsigned char ch;

	if (at == s->end)
		return evk__err(s->err, EVK_EJSON, col(s, at),
		    "unexpected end of input");
	ch = (unsigned char)*at;
	if (ch >= ' ' && ch < 0x7f)
		return evk__err(s->err, EVK_EJSON, col(s, at),
		    "unexpected '%c'%s", ch, where);
	return evk__err(s->err, EVK_EJSON, col(s, at),
	    "unexpected byte 0x%02x%s", ch, where);
}

static int
escape_error(const struct scan *s, int why, const char *at, uint32_t cp)
{
	unsigned char ch;

	switch (why) {
	case ESC_EOF: return unexpected(s, s->end, "");
	case ESC_BAD:
		ch = (unsigned char)at[1];
		if (ch >= ' ' && ch < 0x7f)
			return evk__err(s->err, EVK_EJSON, col(s, at),
			    "invalid escape '\\%c'", ch);
		return evk__err(s->err, EVK_EJSON, col(s, at),
		    "invalid escape: byte 0x%02x after '\\'", ch);
	case ESC_HEX:
		return evk__err(s->err, EVK_EJSON, col(s, at),
		    "invalid \\u escape: 4 hex digits expected");
	case ESC_SURROGATE:
		return evk__err(s->err, EVK_EJSON, col(s, at),
		    "unpaired surrogate \\u%04x", (unsigned)cp);
	default:
		return evk__err(s->err, EVK_EJSON, col(s, at),
		    "\\u0000 not allowed");
	}
}

static int
number_error(const struct scan *s, const char *bad)
{
	if (bad < s->end && is_digit((unsigned char)*bad))
		return evk__err(s->err, EVK_EJSON, col(s, bad),
		    "leading zero in number");
	return unexpected(s, bad, "");
}

/*
 * Shows the raw text of the duplicate key (checked, so free of control
 * bytes and valid UTF-8), cut after at most 40 bytes at an escape or
 * character boundary.
 */
static int
dupkey_error(const struct scan *s, size_t raw)
{
	const char *p = s->base + raw + 1;
	const char *end = skip_string(p, s->end) - 1;
	size_t n = (size_t)(end - p), i = 0, u;
	unsigned char ch;

	while (i < n) {
		ch = (unsigned char)p[i];
		if (ch == '\\')
			u = i + 1 < n && p[i + 1] == 'u' ? 6 : 2;
		else
			u = ch < 0x80 ? 1 : ch < 0xe0 ? 2 : ch < 0xf0 ? 3 : 4;
		if (i + u > 40)
			break;
		i += u;
	}
	return evk__err(s->err, EVK_EDUPKEY, raw + 1,
	    "duplicate key \"%.*s%s\"", (int)i, p, i < n ? "..." : "");
}

/*** checker: scratch ***/

/* Returns array `p` of `*cap` elements of `size` bytes regrown to hold
 * `need`, or NULL (then `p` is untouched). */
static void *
grow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;

	while (n < need) {
		if (n > SIZE_MAX / 2 / size)
			return NULL;
		n *= 2;
	}
	if ((p = realloc(p, n * size)) == NULL)
		return NULL;
	*cap = n;
	return p;
}

static int
nomem(const struct scan *s, const char *at)
{
	return evk__err(s->err, EVK_ENOMEM, col(s, at), "out of memory");
}

/* Opens a container at p: pushes `mark` (ARRAY_MARK or the object's
 * first key), within max_depth.  The stack grows on demand, so a large
 * max_depth costs memory only when lines are that deep. */
static int
push(struct scan *s, size_t *depth, size_t mark, const char *p)
{
	struct evk_json_checker *c = s->c;
	size_t *t;

	if (EVK__UNLIKELY(*depth >= c->stackcap)) {
		if (*depth >= c->max_depth) {
			s->rc = evk__err(s->err, EVK_EDEPTH, col(s, p),
			    "nested deeper than %u", c->max_depth);
			return s->rc;
		}
		t = grow(c->stack, &c->stackcap, *depth + 1, sizeof *t);
		if (t == NULL)
			return s->rc = nomem(s, p);
		c->stack = t;
		if (c->stackcap > c->max_depth)
			c->stackcap = c->max_depth;
	}
	c->stack[(*depth)++] = mark;
	return 0;
}

static const char *
key_bytes(const struct scan *s, const struct key *k)
{
	return k->esc ? s->c->dec.p + k->off : s->base + k->off;
}

/* The first 8 bytes of a key as a number.  Shorter keys are packed in
 * another order than longer ones, which is fine: only keys of the same
 * length are compared. */
static uint64_t
key_head(const char *p, size_t n)
{
	uint64_t h = 0;
	size_t i;

	if (n >= 8) {
		memcpy(&h, p, 8);
		return h;
	}
	for (i = 0; i < n; i++)
		h = h << 8 | (unsigned char)p[i];
	return h;
}

static int
key_same(const struct scan *s, const struct key *a, const struct key *b)
{
	if (a->len != b->len || a->head != b->head)
		return 0;
	return a->len <= 8 ||
	    memcmp(key_bytes(s, a) + 8, key_bytes(s, b) + 8, a->len - 8) == 0;
}

/* Records the key whose opening quote is at q and that ends at `after`;
 * a key with escapes is decoded into c->dec first. */
static int
add_key(struct scan *s, const char *q, const char *after, int esc)
{
	struct evk_json_checker *c = s->c;
	struct key *k;
	size_t before;

	if (c->nkeys == c->keycap) {
		k = grow(c->keys, &c->keycap, c->nkeys + 1, sizeof *k);
		if (k == NULL)
			return s->rc = nomem(s, q);
		c->keys = k;
	}
	k = &c->keys[c->nkeys];
	k->raw = (size_t)(q - s->base);
	k->esc = (uint32_t)esc;
	if (!esc) {
		k->off = k->raw + 1;
		k->len = (size_t)(after - q) - 2;
	} else {
		before = c->dec.len;
		if (unescape_body(&c->dec, q + 1, after - 1) < 0)
			return s->rc = nomem(s, q);
		k->off = before;
		k->len = c->dec.len - before;
	}
	k->head = key_head(key_bytes(s, k), k->len);
	c->nkeys++;
	return 0;
}

/* A quick, unkeyed hash: it only orders keys for sorting, and equal
 * hashes fall back to comparing bytes, so collisions cost time, never
 * correctness, and the sort keeps even those O(k log k). */
static uint32_t
key_hash(const char *p, size_t n)
{
	uint64_t h = (uint64_t)n * UINT64_C(0x9e3779b97f4a7c15), w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
		h ^= h >> 29;
	}
	if (n > 0) {
		w = 0;
		memcpy(&w, p, n);
		h = (h ^ w) * UINT64_C(0xc4ceb9fe1a85ec53);
		h ^= h >> 29;
	}
	return (uint32_t)(h ^ h >> 32);
}

/* Total order on keys: hash, then length, then bytes. */
static int
key_cmp(const struct scan *s, const struct key *a, const struct key *b)
{
	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return memcmp(key_bytes(s, a), key_bytes(s, b), a->len);
}

/*
 * Sorts a[0..n) by key_cmp() with a bottom-up merge sort through tmp (no
 * recursion, no allocation, O(n log n) whatever the input).  It is stable,
 * so equal keys stay in document order.  Returns the array that holds the
 * result (a or tmp).
 */
static struct key *
sort_keys(const struct scan *s, struct key *a, struct key *tmp, size_t n)
{
	struct key *t;
	size_t w, lo, mid, hi, i, j, k;

	for (w = 1; w < n; w *= 2) {
		for (lo = 0; lo < n; lo += 2 * w) {
			mid = lo + w < n ? lo + w : n;
			hi = mid + w < n ? mid + w : n;
			for (i = lo, j = mid, k = lo; k < hi; k++) {
				if (j == hi ||
				    (i < mid && key_cmp(s, &a[i], &a[j]) <= 0))
					tmp[k] = a[i++];
				else
					tmp[k] = a[j++];
			}
		}
		t = a;
		a = tmp;
		tmp = t;
	}
	return a;
}

/*
 * Checks the keys of the object that is closing, c->keys[first..nkeys),
 * and drops them.  Reports the duplicate that comes first in the text
 * (the second occurrence of a key), whichever path finds it.
 */
static int
check_keys(struct scan *s, size_t first, const char *p)
{
	struct evk_json_checker *c = s->c;
	struct key *k = c->keys + first, *a;
	size_t n = c->nkeys - first, i, j, run, dup = SIZE_MAX;

	c->nkeys = first;
	if (n < 2)
		return 0;
	if (n <= SMALL_OBJECT) {
		for (j = 1; j < n && dup == SIZE_MAX; j++)
			for (i = 0; i < j; i++)
				if (key_same(s, &k[i], &k[j])) {
					dup = k[j].raw;
					break;
				}
	} else {
		if (c->tmpcap < n) {
			a = grow(c->tmp, &c->tmpcap, n, sizeof *a);
			if (a == NULL)
				return s->rc = nomem(s, p);
			c->tmp = a;
		}
		for (i = 0; i < n; i++)
			k[i].hash = key_hash(key_bytes(s, &k[i]), k[i].len);
		a = sort_keys(s, k, c->tmp, n);
		/* In each run of equal keys the second is a duplicate. */
		for (run = 0, i = 1; i < n; i++) {
			if (a[i].hash != a[run].hash ||
			    !key_same(s, &a[i], &a[run]))
				run = i;
			else if (i == run + 1 && a[i].raw < dup)
				dup = a[i].raw;
		}
	}
	if (dup != SIZE_MAX)
		return s->rc = dupkey_error(s, dup);
	return 0;
}

/*** checker ***/

/*
 * Handles the byte at p where plain_run() stopped inside a string, when it
 * is not the closing quote: a run of UTF-8 text, an escape (sets *esc), or
 * an error (returns NULL with s->rc set).  Returns where to go on.  Kept
 * out of line so that scan_string(), inlined, stays small.
 */
static NOINLINE const char *
string_special(struct scan *s, const char *p, int *esc)
{
	const char *end = s->end, *at;
	uint32_t cp;
	size_t n;
	int why;

	if (p == end) {
		s->rc = unexpected(s, p, "");
		return NULL;
	}
	if ((unsigned char)*p >= 0x80) {
		/* Text in other scripts: stay here while it lasts. */
		do {
			if ((n = utf8_seq(p, end)) == 0) {
				s->rc = evk__err(s->err, EVK_EUTF8, col(s, p),
				    "invalid UTF-8");
				return NULL;
			}
			p += n;
		} while (p < end && (unsigned char)*p >= 0x80);
		return p;
	}
	if (*p == '\\') {
		if ((why = unescape1(p, end, &at, &cp)) != ESC_OK) {
			s->rc = escape_error(s, why, at, cp);
			return NULL;
		}
		*esc = 1;
		return at;
	}
	s->rc = unexpected(s, p, " in string");
	return NULL;
}

/*
 * Checks the string whose opening quote is at p.  Returns the byte after
 * the closing quote, or NULL with s->rc set.  Sets *esc when the string
 * holds an escape.
 */
static inline const char *
scan_string(struct scan *s, const char *p, int *esc)
{
	const char *end = s->end;

	for (p++;;) {
		p = plain_run(p, end);
		if (EVK__LIKELY(p < end && *p == '"'))
			return p + 1;
		if ((p = string_special(s, p, esc)) == NULL)
			return NULL;
	}
}

struct evk_json_checker *
evk_json_checker_new(const struct evk_json_opts *o)
{
	struct evk_json_checker *c;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	c->max_depth =
	    o != NULL && o->max_depth ? o->max_depth : EVK_JSON_MAX_DEPTH;
	c->allow_dupkeys = o != NULL && o->allow_dupkeys;
	return c;
}

void
evk_json_checker_free(struct evk_json_checker *c)
{
	if (c == NULL)
		return;
	free(c->stack);
	free(c->keys);
	free(c->tmp);
	evk_buf_free(&c->dec);
	free(c);
}

/*
 * One pass, driven by what may come next: a value, an object key, or what
 * follows a value (a comma, the container's closer, or the end).  The
 * stack remembers which container each level is, so the grammar needs no
 * recursion.
 */
int
evk_json_check(struct evk_json_checker *c, const char *p, size_t len,
    enum evk_json_type *type, struct evk_err *err)
{
	struct scan s;
	const char *end, *first, *q, *bad;
	size_t depth = 0, top;
	int dupcheck = !c->allow_dupkeys, esc = 0;

	if (type != NULL)
		*type = EVK_JSON_NONE;
	if (len == 0)
		return evk__err(err, EVK_EJSON, 1, "empty input");
	s.c = c;
	s.base = p;
	s.end = end = p + len;
	s.err = err;
	s.rc = 0;
	c->nkeys = 0;
	c->dec.len = 0;
	if ((first = p = skip_ws(p, end)) == end)
		return evk__err(err, EVK_EJSON, 1, "empty input");

value:
	switch (*p) {
	case '{':
		if (push(&s, &depth, dupcheck ? c->nkeys : 0, p) < 0)
			return s.rc;
		p = skip_ws(p + 1, end);
		if (p < end && *p == '}') {
			depth--;
			p++;
			goto after;
		}
		goto key;
	case '[':
		if (push(&s, &depth, ARRAY_MARK, p) < 0)
			return s.rc;
		p = skip_ws(p + 1, end);
		if (p < end && *p == ']') {
			depth--;
			p++;
			goto after;
		}
		if (p == end)
			return unexpected(&s, p, "");
		goto value;
	case '"':
		if ((p = scan_string(&s, p, &esc)) == NULL)
			return s.rc;
		goto after;
	case 't': q = literal_end(p, end, "true", 4, &bad); goto literal;
	case 'f': q = literal_end(p, end, "false", 5, &bad); goto literal;
	case 'n': q = literal_end(p, end, "null", 4, &bad); goto literal;
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		if ((q = number_end(p, end, &bad)) == NULL)
			return number_error(&s, bad);
		p = q;
		goto after;
	default: return unexpected(&s, p, "");
	}

literal:
	if (q == NULL)
		return unexpected(&s, bad, "");
	p = q;
	goto after;

key:
	if (p == end || *p != '"')
		return unexpected(&s, p, "");
	q = p;
	esc = 0;
	if ((p = scan_string(&s, p, &esc)) == NULL)
		return s.rc;
	if (dupcheck && add_key(&s, q, p, esc) < 0)
		return s.rc;
	p = skip_ws(p, end);
	if (p == end || *p != ':')
		return unexpected(&s, p, "");
	p = skip_ws(p + 1, end);
	if (p == end)
		return unexpected(&s, p, "");
	goto value;

after:
	p = skip_ws(p, end);
	if (depth == 0) {
		if (p != end)
			return evk__err(err, EVK_EJSON, col(&s, p),
			    "trailing characters after value");
		if (type != NULL)
			*type = type_of_byte(*first);
		return 0;
	}
	if (p == end)
		return unexpected(&s, p, "");
	top = c->stack[depth - 1];
	if (*p == ',') {
		p = skip_ws(p + 1, end);
		if (top != ARRAY_MARK)
			goto key;
		if (p == end)
			return unexpected(&s, p, "");
		goto value;
	}
	if (*p == (top == ARRAY_MARK ? ']' : '}')) {
		if (top != ARRAY_MARK && dupcheck && check_keys(&s, top, p) < 0)
			return s.rc;
		depth--;
		p++;
		goto after;
	}
	return unexpected(&s, p, "");
}

/*** navigation ***/

void
evk_json_iter_init(struct evk_json_iter *it, struct evk_span container)
{
	const char *p = container.p, *end = p;

	if (container.len > 0) {
		end = p + container.len;
		p = skip_ws(p, end);
		/* Not a container: an iteration that yields nothing. */
		p = p < end && (*p == '{' || *p == '[') ? p + 1 : end;
	}
	it->p = p;
	it->end = end;
}

/*
 * Objects and arrays share one walk: an element that is a string followed
 * by ':' is a key, so the iterator needs no flag.  In checked text a string
 * is followed by ':' only in objects.
 */
int
evk_json_iter_next(struct evk_json_iter *it, struct evk_span *key,
    struct evk_span *value)
{
	const char *p = it->p, *end = it->end, *k = NULL, *ke = NULL, *q, *v;

	p = skip_ws(p, end);
	if (p < end && *p == ',')
		p = skip_ws(p + 1, end);
	if (p == end || *p == '}' || *p == ']')
		goto done;
	if (*p == '"') {
		q = skip_string(p + 1, end);
		v = skip_ws(q, end);
		if (v < end && *v == ':') {
			k = p;
			ke = q;
			p = skip_ws(v + 1, end);
		}
	}
	v = skip_value(p, end);
	/* Only unchecked text has an empty value; stop rather than loop. */
	if (v == p)
		goto done;
	key->p = k != NULL ? k : p;
	key->len = k != NULL ? (size_t)(ke - k) : 0;
	value->p = p;
	value->len = (size_t)(v - p);
	it->p = v;
	return 1;
done:
	it->p = end;
	return 0;
}

enum evk_json_type
evk_json_type_of(struct evk_span value)
{
	const char *p;

	if (value.len == 0)
		return EVK_JSON_NONE;
	p = skip_ws(value.p, value.p + value.len);
	return p < value.p + value.len ? type_of_byte(*p) : EVK_JSON_NONE;
}

int
evk_json_key_eq(struct evk_span key, const char *name, size_t n)
{
	const char *p, *end, *piece;
	char tmp[4];
	size_t m, i = 0;

	/* Decoding never lengthens: a shorter key cannot match. */
	if (key.len < 2 || key.len - 2 < n || key.p[0] != '"' ||
	    key.p[key.len - 1] != '"')
		return 0;
	p = key.p + 1;
	end = key.p + key.len - 1;
	while ((m = next_piece(&p, end, &piece, tmp)) > 0) {
		if (m > n - i || memcmp(piece, name + i, m) != 0)
			return 0;
		i += m;
	}
	return i == n;
}

/*
 * A linear walk: an event has a handful of members and is looked up a few
 * times at most, so indexing it would cost more than it saves.
 */
int
evk_json_get(struct evk_span obj, const char *name, size_t n,
    struct evk_span *value)
{
	struct evk_json_iter it;
	struct evk_span k, v;
	const char *p;

	if (obj.len == 0)
		return 0;
	p = skip_ws(obj.p, obj.p + obj.len);
	if (p == obj.p + obj.len || *p != '{')
		return 0;
	evk_json_iter_init(&it, obj);
	while (evk_json_iter_next(&it, &k, &v))
		if (k.len > 0 && evk_json_key_eq(k, name, n)) {
			*value = v;
			return 1;
		}
	return 0;
}

/*
 * Each quote is stripped only when present, so that on unchecked text a
 * span of one quote or none still decodes within bounds.
 */
int
evk_json_unescape(struct evk_span str, struct evk_buf *out)
{
	const char *p = str.p, *end = p;

	if (str.len > 0) {
		end = p + str.len;
		if (*p == '"')
			p++;
		if (end > p && end[-1] == '"')
			end--;
	}
	return unescape_body(out, p, end);
}

/*** writing ***/

/*
 * Escaping stops where plain_run() stops; bytes >= 0x80 are UTF-8 and need
 * no escape, so they only extend the run that is copied in one piece.
 */
int
evk_json_escape(struct evk_buf *out, const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const char *end = p + n, *run;
	char e[6];
	size_t elen;
	unsigned char ch;
	int rc;

	/* The common case, nothing to escape, then needs one allocation. */
	if ((rc = evk_buf_reserve(out, n + 2)) < 0 ||
	    (rc = evk_buf_add(out, "\"", 1)) < 0)
		return rc;
	for (run = p; p < end; p++) {
		p = plain_run(p, end);
		if (p == end)
			break;
		ch = (unsigned char)*p;
		if (ch >= 0x80)
			continue; /* UTF-8 passes through */
		e[0] = '\\';
		elen = 2;
		switch (ch) {
		case '"':
		case '\\': e[1] = (char)ch; break;
		case '\b': e[1] = 'b'; break;
		case '\f': e[1] = 'f'; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		default:
			memcpy(e + 1, "u00", 3);
			e[4] = hex[ch >> 4];
			e[5] = hex[ch & 0xf];
			elen = 6;
		}
		if ((rc = evk_buf_add(out, run, (size_t)(p - run))) < 0 ||
		    (rc = evk_buf_add(out, e, elen)) < 0)
			return rc;
		run = p + 1;
	}
	if ((rc = evk_buf_add(out, run, (size_t)(end - run))) < 0 ||
	    (rc = evk_buf_add(out, "\"", 1)) < 0)
		return rc;
	return 0;
}

int
evk_json_minify(struct evk_buf *out, const char *p, size_t n)
{
	const char *end = p + n, *q;
	char *w;
	int rc;

	/* Minifying never lengthens: reserve once, then copy runs. */
	if ((rc = evk_buf_reserve(out, n)) < 0)
		return rc;
	w = out->p + out->len;
	while (p < end) {
		if (is_ws((unsigned char)*p)) {
			p++;
			continue;
		}
		q = p + 1;
		if (*p == '"')
			q = skip_string(q, end);
		else
			while (
			    q < end && !is_ws((unsigned char)*q) && *q != '"')
				q++;
		memcpy(w, p, (size_t)(q - p));
		w += q - p;
		p = q;
	}
	out->len = (size_t)(w - out->p);
	out->p[out->len] = '\0';
	return 0;
}

int
evk_json_is_number(const char *p, size_t n)
{
	const char *bad;

	return n > 0 && number_end(p, p + n, &bad) == p + n;
}

int
evk_utf8_check(const char *p, size_t n, size_t *bad)
{
	const char *start = p, *end = p + n;
	uint64_t w;
	size_t k;

	while (p < end) {
		/* ASCII, the common case, 8 bytes per step. */
		while (end - p >= 8) {
			memcpy(&w, p, 8);
			if (w & HIGHS)
				break;
			p += 8;
		}
		while (p < end && (unsigned char)*p < 0x80)
			p++;
		if (p == end)
			break;
		if ((k = utf8_seq(p, end)) == 0) {
			if (bad != NULL)
				*bad = (size_t)(p - start);
			return EVK_EUTF8;
		}
		p += k;
	}
	return 0;
}

/*** jansson ***/

json_t *
evk_json_load(struct evk_json_checker *c, const char *p, size_t len,
    struct evk_err *err)
{
	const size_t flags = JSON_REJECT_DUPLICATES | JSON_DECODE_ANY;
	json_error_t je;
	json_t *j;

	if (evk_json_check(c, p, len, NULL, err) < 0)
		return NULL;
	j = json_loadb(p, len, flags, &je);
	/* Integers beyond json_int_t are still numbers: take them as reals
	 * rather than refuse a line the checker accepted. */
	if (j == NULL && strstr(je.text, "too big") != NULL)
		j = json_loadb(p, len, flags | JSON_DECODE_INT_AS_REAL, &je);
	if (j == NULL)
		evk__err(err, EVK_EJSON,
		    (size_t)(je.position > 0 ? je.position : 0), "%s", je.text);
	return j;
}
