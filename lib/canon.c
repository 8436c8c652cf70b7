/*
 * lib/canon.c - RFC 8785 (JCS) canonicalization.
 *
 * The text has been checked (evk_json_check()), so this is one pass that
 * writes as it reads, never a second parser: strings without a backslash
 * are copied as they are, the others decoded with evk_json_unescape() and
 * written back with evk_json_escape(), whose minimal escapes are exactly
 * the ones JCS prescribes.
 *
 * The pass is a loop over an explicit stack of open containers rather
 * than recursion, so that nesting costs heap memory, not C stack, even
 * when a checker with a large depth limit accepted the text.  An object's
 * members are written in input order, each noted with its decoded key and
 * its place in the output; when the object closes, unless they already
 * are in key order, they are copied out in order and back (so each byte
 * is copied once more per object around it: O(length * depth), which the
 * checker's depth limit keeps linear).  The stacks start in arrays inside
 * struct canon (on the C stack, about 3 KiB), large enough for a typical
 * event, so that canonicalizing one allocates nothing (but the output)
 * unless a key or string holds an escape or a number needs strtod().
 *
 * Keys are compared as UTF-16 code units without converting them: UTF-8
 * byte order is code point order, and UTF-16 order differs from it only in
 * that U+E000..U+FFFF (UTF-8 lead bytes EE and EF) come after the
 * supplementary planes (lead bytes F0..F4, surrogates in UTF-16).  Two
 * valid UTF-8 strings with a common prefix first differ either at two
 * lead bytes or at two continuation bytes after the same lead byte, so
 * ranking EE and EF above every other byte gives UTF-16 order.
 *
 * Numbers take one of two paths.  A number with at most 15 significant
 * digits and a moderate exponent is written from its own digits, without
 * floating point: such a decimal is the shortest that reads back as its
 * double (DBL_DIG is 15), so JCS's digits are its digits with the zeros
 * around them dropped.  Longer or extreme numbers are converted with
 * strtod(), and the shortest digits that read back as the double are
 * found with a few more strtod() calls and one printf(), rarely two
 * (see shortest()).  Neither path writes or reads a decimal point, so the
 * locale's LC_NUMERIC never matters.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evkit/canon.h"
#include "evkit/json.h"
#include "internal.h"

/* Sizes of the stacks inside struct canon: a CloudEvent has about ten
 * members and two or three levels. */
#define INLINE_MEMBERS 32
#define INLINE_FRAMES 16

/* Objects with at most this many members are sorted by insertion, which
 * for a handful beats qsort()'s indirect calls (and glibc's allocation). */
#define SMALL_OBJECT 16

/* Numbers with at most this many significant digits, whose magnitude is
 * between 1e-290 and 1e300 (safely normal and finite), are written from
 * their text; see put_number(). */
#define FAST_DIGITS 15
#define FAST_NMIN (-290)
#define FAST_NMAX 300

/* Exponents are read up to here and then saturate: beyond it every
 * number is 0 or infinite whatever its digits (unless it had some 10^15
 * digits, more than memory holds). */
#define EXP_CLAMP 1000000000000000LL

/*
 * One member of an object being written: its key as written in the input
 * (with quotes), the decoded key for sorting, where its canonical
 * "key":value went in the output, and its value in the input.  The
 * decoded key is in the input when the key had no escape, else in c->dec
 * at `doff` (the pointer is set when the object closes, as c->dec may
 * move while it grows).
 */
struct member {
	struct evk_span key;
	const char *dp;
	size_t dlen;
	size_t doff;
	size_t off, len; /* "key":value in c->out */
	struct evk_span value; /* in the input; len set when it ends */
	int omit;
};

/* An open container.  An object's members are c->mem[start..]; its
 * contents start at c->out->p[content], and its escaped keys at
 * c->dec.p[dec]. */
struct frame {
	int object;
	size_t start, content, dec;
};

/* State of one evk_canon() call. */
struct canon {
	const char *base, *end; /* the input */
	struct evk_buf *out;
	struct evk_err *err;
	struct member *mem;
	size_t nmem, memcap;
	struct frame *fr;
	size_t nfr, frcap;
	struct evk_buf dec; /* decoded keys of the open objects */
	struct evk_buf tmp; /* a decoded string; a number for strtod() */
	struct evk__canon_top *top; /* edits of the top-level object */
	int range; /* a number was out of range (reported at the end) */
	int quiet; /* in a top-level member left out: no range errors */
	struct member mem0[INLINE_MEMBERS];
	struct frame fr0[INLINE_FRAMES];
};

static inline int
is_digit(char ch)
{
	return (unsigned char)(ch - '0') < 10;
}

static inline int
is_ws(char ch)
{
	return ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r';
}

static int
nomem(struct canon *c)
{
	return evk__err(c->err, EVK_ENOMEM, 0, "out of memory");
}

/* Only text the checker did not accept gets here. */
static int
invalid(struct canon *c, const char *at)
{
	return evk__err(c->err, EVK_EJSON, (size_t)(at - c->base) + 1,
	    "invalid JSON (not checked)");
}

/*
 * Makes room for `need` items of `size` bytes in *arr, which holds *cap
 * and starts as the inline array `inl` (never freed here).  Returns 0 or
 * EVK_ENOMEM, leaving *arr as it was.
 */
static int
grow(void **arr, size_t *cap, size_t need, size_t size, void *inl)
{
	size_t n = *cap;
	void *p;

	if (need <= n)
		return 0;
	while (n < need) {
		if (n > SIZE_MAX / 2 / size)
			return EVK_ENOMEM;
		n *= 2;
	}
	if (*arr == inl) {
		if ((p = malloc(n * size)) == NULL)
			return EVK_ENOMEM;
		memcpy(p, *arr, *cap * size);
	} else if ((p = realloc(*arr, n * size)) == NULL)
		return EVK_ENOMEM;
	*arr = p;
	*cap = n;
	return 0;
}

/*** keys ***/

/* A byte's rank in UTF-16 order (see the top of the file); one-to-one,
 * so that even undecodable keys of unchecked text are totally ordered. */
static inline unsigned
utf16_rank(unsigned char b)
{
	return b == 0xee || b == 0xef ? b + 0x20u : b;
}

/* Orders members by key in UTF-16 code units; equal keys (only in
 * unchecked text) by position, so that the order is total. */
static int
key_cmp(const struct member *a, const struct member *b)
{
	const unsigned char *x = (const unsigned char *)a->dp;
	const unsigned char *y = (const unsigned char *)b->dp;
	size_t n = a->dlen < b->dlen ? a->dlen : b->dlen, i;

	for (i = 0; i < n; i++)
		if (x[i] != y[i])
			return utf16_rank(x[i]) < utf16_rank(y[i]) ? -1 : 1;
	if (a->dlen != b->dlen)
		return a->dlen < b->dlen ? -1 : 1;
	if (a->key.p != b->key.p)
		return a->key.p < b->key.p ? -1 : 1;
	return 0;
}

static int
key_qcmp(const void *a, const void *b)
{
	return key_cmp(a, b);
}

static void
sort_members(struct member *a, size_t n)
{
	struct member t;
	size_t i, j;

	if (n > SMALL_OBJECT) {
		qsort(a, n, sizeof *a, key_qcmp);
		return;
	}
	for (i = 1; i < n; i++) {
		t = a[i];
		for (j = i; j > 0 && key_cmp(&a[j - 1], &t) > 0; j--)
			a[j] = a[j - 1];
		a[j] = t;
	}
}

/*** scalars ***/

static int
put_literal(struct canon *c, struct evk_span v, const char *lit, size_t n)
{
	if (v.len != n || memcmp(v.p, lit, n) != 0)
		return invalid(c, v.p);
	return evk_buf_add(c->out, lit, n) < 0 ? nomem(c) : 0;
}

/* Writes `v` in decimal at w (at most 20 bytes, no NUL) and returns the
 * end.  printf() would do, but costs more than the rest of a number. */
static char *
put_u64(char *w, uint64_t v)
{
	char t[20];
	size_t n = 0;

	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	while (n > 0)
		*w++ = t[--n];
	return w;
}

/* Writes "e", the sign when negative (or always with `plus`), and |x|. */
static char *
put_exp(char *w, long long x, int plus)
{
	*w++ = 'e';
	if (x < 0 || plus)
		*w++ = x < 0 ? '-' : '+';
	return put_u64(w, x < 0 ? 0 - (uint64_t)x : (uint64_t)x);
}

/*
 * Appends a positive or negative number with significant digits d[0..k)
 * (no leading or trailing zero) and value 0.d * 10^n as ECMAScript's
 * Number.prototype.toString() does (ECMA-262, Number::toString, with n
 * as there): plain digits for 1e-6 <= |x| < 1e21, else one digit, the
 * others after a point, and an exponent with its sign.
 */
static int
put_es_number(struct evk_buf *out, int neg, const char *d, int k, int n)
{
	char b[64], *w = b;

	if (neg)
		*w++ = '-';
	if (k <= n && n <= 21) {
		memcpy(w, d, (size_t)k);
		w += k;
		memset(w, '0', (size_t)(n - k));
		w += n - k;
	} else if (0 < n && n <= 21) {
		memcpy(w, d, (size_t)n);
		w += n;
		*w++ = '.';
		memcpy(w, d + n, (size_t)(k - n));
		w += k - n;
	} else if (-6 < n && n <= 0) {
		*w++ = '0';
		*w++ = '.';
		memset(w, '0', (size_t)-n);
		w += -n;
		memcpy(w, d, (size_t)k);
		w += k;
	} else {
		*w++ = d[0];
		if (k > 1) {
			*w++ = '.';
			memcpy(w, d + 1, (size_t)(k - 1));
			w += k - 1;
		}
		w = put_exp(w, n - 1, 1);
	}
	return evk_buf_add(out, b, (size_t)(w - b));
}

/* Nonzero when m * 10^e reads back as exactly `a`.  No decimal point, so
 * strtod() reads it the same in every locale. */
static int
reads_as(uint64_t m, int e, double a)
{
	char b[48];

	*put_exp(put_u64(b, m), e, 0) = '\0';
	return strtod(b, NULL) == a;
}

/*
 * The `prec` significant digits of `a` (> 0, finite), correctly rounded by
 * printf, as m * 10^e.  The digits are read around whatever decimal point
 * the locale prints.
 */
static void
sci(double a, int prec, uint64_t *m, int *e)
{
	char b[64];
	const char *s;
	int x = 0, neg = 0;

	snprintf(b, sizeof b, "%.*e", prec - 1, a);
	*m = 0;
	for (s = b; *s != '\0' && *s != 'e'; s++)
		if (is_digit(*s))
			*m = *m * 10 + (uint64_t)(*s - '0');
	if (*s == 'e') {
		s++;
		if (*s == '-' || *s == '+')
			neg = *s++ == '-';
		for (; is_digit(*s); s++)
			x = x * 10 + (*s - '0');
	}
	*e = (neg ? -x : x) - (prec - 1);
}

/* The value of the decimal digits s[0..n), n <= 19. */
static uint64_t
digits_u64(const char *s, size_t n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v * 10 + (uint64_t)(*s++ - '0');
	return v;
}

/*
 * Finds the shortest digits m (without trailing zeros) with m * 10^e
 * reading back as `a` (> 0, finite), choosing among equally short ones
 * the nearest to `a` (the even one on a tie), as ECMAScript requires.
 * `a` is the double nearest to the input decimal D = 0.s * 10^n, whose
 * k significant digits are s[0..k).  printf() is the costly step (about
 * four times strtod()), so it runs once where it can.
 *
 * For a normal double the round-trip interval I(a) is at most 2^-52 * a
 * wide, narrower than half the gap between decimals of 15 digits, so it
 * holds at most one of them, and D lies in it.  Hence: D itself when it
 * has at most 15 digits; else D rounded to 15 digits when that reads back
 * (the one candidate near D).  Then 16 digits: with a's 17 digits from
 * printf (always read back, and within half a unit of `a`), their last
 * digit tells on which side of the 16-digit midpoint `a` lies, unless it
 * is 5.  The 16-digit decimal nearest to `a` may miss I(a), which is
 * lopsided at a power of two, while its neighbour on the other side of
 * `a` hits it: that one is tried too.  When the 17 digits end in 5 and
 * both 16-digit neighbours read back, printf rounding to 16 digits picks
 * the nearer (it rounds the exact value).  Subnormals have fewer
 * significant bits but even spacing: every length from 1 is tried, and
 * the nearest decimal of a length hits whenever any does.
 */
static void
shortest(double a, const char *s, size_t k, long long n, uint64_t *mp, int *ep)
{
	uint64_t m, q, r;
	int e, prec, last, lo, hi;

	if (a < DBL_MIN) {
		for (prec = 1; prec < 17; prec++) {
			sci(a, prec, &m, &e);
			if (reads_as(m, e, a))
				goto strip;
		}
		sci(a, 17, &m, &e);
		goto strip;
	}
	if (k <= 15) {
		m = digits_u64(s, k);
		e = (int)(n - (long long)k);
		goto strip;
	}
	m = digits_u64(s, 15) + (s[15] >= '5');
	e = (int)(n - 15);
	if (reads_as(m, e, a))
		goto strip;
	sci(a, 17, &m, &e);
	last = (int)(m % 10);
	q = m / 10;
	if (last == 0)
		goto strip;
	if (last == 5) {
		lo = reads_as(q, e + 1, a);
		hi = reads_as(q + 1, e + 1, a);
		if (lo && hi)
			sci(a, 16, &m, &e);
		else if (lo || hi) {
			m = lo ? q : q + 1;
			e++;
		}
		goto strip;
	}
	r = last > 5 ? q + 1 : q; /* the nearest; then the other side */
	if (reads_as(r, e + 1, a) ||
	    reads_as(r = last > 5 ? q : q + 1, e + 1, a)) {
		m = r;
		e++;
	}
strip:
	while (m % 10 == 0) {
		m /= 10;
		e++;
	}
	*mp = m;
	*ep = e;
}

/*
 * Writes a number span.  Its digits are those of the integer part then the
 * fraction (fl of them), and the value is 0.d * 10^n once leading and
 * trailing zeros are dropped.
 */
static int
put_number(struct canon *c, struct evk_span v)
{
	const char *p = v.p, *end = v.p + v.len, *ip, *fp = NULL;
	size_t il, fl = 0, i, total, z = SIZE_MAX, l = 0;
	long long ex = 0, n;
	int neg = 0, eneg = 0, k;
	char d[24], *w;
	uint64_t m;
	int e;
	double x;

	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	for (ip = p; p < end && is_digit(*p); p++)
		;
	if ((il = (size_t)(p - ip)) == 0)
		return invalid(c, p);
	if (p < end && *p == '.') {
		for (fp = ++p; p < end && is_digit(*p); p++)
			;
		if ((fl = (size_t)(p - fp)) == 0)
			return invalid(c, p);
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (p == end || !is_digit(*p))
			return invalid(c, p);
		for (; p < end && is_digit(*p); p++)
			if (ex < EXP_CLAMP)
				ex = ex * 10 + (*p - '0');
		if (eneg)
			ex = -ex;
	}
	if (p != end)
		return invalid(c, p);

	/* The first and last nonzero digits, z and l. */
	total = il + fl;
	for (i = 0; i < total; i++)
		if ((i < il ? ip[i] : fp[i - il]) != '0') {
			if (z == SIZE_MAX)
				z = i;
			l = i;
		}
	if (z == SIZE_MAX) /* zero, -0 included */
		return evk_buf_add(c->out, "0", 1) < 0 ? nomem(c) : 0;
	n = (long long)il - (long long)z + ex;

	if (l - z < FAST_DIGITS && n > FAST_NMIN && n < FAST_NMAX) {
		for (w = d, i = z; i <= l; i++)
			*w++ = i < il ? ip[i] : fp[i - il];
		return put_es_number(c->out, neg, d, (int)(w - d), (int)n) < 0
		    ? nomem(c)
		    : 0;
	}

	/* strtod() reads "D...De<n-k>" (the digits as an integer), which
	 * shortest() also uses.  The value is positive: the sign is apart. */
	evk_buf_reset(&c->tmp);
	if (evk_buf_reserve(&c->tmp, l - z + 32) < 0)
		return nomem(c);
	w = c->tmp.p;
	for (i = z; i <= l; i++)
		*w++ = i < il ? ip[i] : fp[i - il];
	*put_exp(w, n - (long long)(l - z + 1), 0) = '\0';
	x = strtod(c->tmp.p, NULL);
	if (isinf(x)) {
		/* The walk goes on (the members of the top-level object are
		 * still found) and fails at the end, at the first such. */
		if (c->quiet)
			return 0;
		if (!c->range)
			evk__err(c->err, EVK_ERANGE,
			    (size_t)(v.p - c->base) + 1,
			    "number out of range for JCS");
		c->range = 1;
		return 0;
	}
	if (x == 0) /* below the smallest subnormal */
		return evk_buf_add(c->out, "0", 1) < 0 ? nomem(c) : 0;
	shortest(x, c->tmp.p, l - z + 1, n, &m, &e);
	k = (int)(put_u64(d, m) - d);
	return put_es_number(c->out, neg, d, k, e + k) < 0 ? nomem(c) : 0;
}

/*** containers ***/

static inline const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && is_ws(*p))
		p++;
	return p;
}

/* The end of the string whose opening quote is at p (after its closing
 * quote), or NULL when the input ends first; *esc tells whether it has
 * a backslash. */
static const char *
end_of_string(const char *p, const char *end, int *esc)
{
	*esc = 0;
	for (p++; p < end; p++) {
		if (*p == '"')
			return p + 1;
		if (*p == '\\') {
			*esc = 1;
			if (++p == end)
				break;
		}
	}
	return NULL;
}

/* Writes the string at p, whose end is q. */
static int
put_string(struct canon *c, const char *p, const char *q, int esc)
{
	struct evk_span s = {p, (size_t)(q - p)};

	if (!esc)
		return evk_buf_add(c->out, p, s.len) < 0 ? nomem(c) : 0;
	evk_buf_reset(&c->tmp);
	if (evk_json_unescape(s, &c->tmp) < 0 ||
	    evk_json_escape(c->out, c->tmp.p != NULL ? c->tmp.p : "",
	        c->tmp.len) < 0)
		return nomem(c);
	return 0;
}

/* Writes the number, true, false or null at p and stores its end. */
static int
put_scalar(struct canon *c, const char *p, const char **endp)
{
	const char *q = p;
	struct evk_span v;

	while (q < c->end &&
	    (is_digit(*q) || *q == '-' || *q == '+' || *q == '.' || *q == 'e' ||
	        *q == 'E' || (*q >= 'a' && *q <= 'z')))
		q++;
	*endp = q;
	v.p = p;
	v.len = (size_t)(q - p);
	switch (*p) {
	case 't': return put_literal(c, v, "true", 4);
	case 'f': return put_literal(c, v, "false", 5);
	case 'n': return put_literal(c, v, "null", 4);
	default:
		if (*p != '-' && !is_digit(*p))
			return invalid(c, p);
		return put_number(c, v);
	}
}

static int
push(struct canon *c, int object)
{
	struct frame *f;

	if (c->nfr == c->frcap &&
	    grow((void **)&c->fr, &c->frcap, c->nfr + 1, sizeof *f, c->fr0) < 0)
		return nomem(c);
	f = &c->fr[c->nfr++];
	f->object = object;
	f->start = c->nmem;
	f->dec = c->dec.len;
	if (evk_buf_add(c->out, object ? "{" : "[", 1) < 0)
		return nomem(c);
	f->content = c->out->len;
	return 0;
}

/* Nonzero when the top-level member with the decoded key d[0..n) is
 * left out. */
static int
omitted(const struct evk__canon_top *top, const char *d, size_t n)
{
	size_t j;

	for (j = 0; j < top->nomit; j++)
		if (n == top->omit[j].len && !memcmp(d, top->omit[j].p, n))
			return 1;
	return 0;
}

/*
 * Starts the member whose key is at p: notes where it begins in the
 * output, decodes the key when it has an escape, writes the key and the
 * colon.  Returns the start of the value in *vp.
 */
static int
open_member(struct canon *c, const char *p, const char **vp)
{
	struct member *m;
	const char *q;
	int esc, rc;

	if (p == c->end || *p != '"' ||
	    (q = end_of_string(p, c->end, &esc)) == NULL)
		return invalid(c, p < c->end ? p : c->end - 1);
	if (c->nmem == c->memcap &&
	    grow((void **)&c->mem, &c->memcap, c->nmem + 1, sizeof *m,
	        c->mem0) < 0)
		return nomem(c);
	m = &c->mem[c->nmem++];
	m->key.p = p;
	m->key.len = (size_t)(q - p);
	m->dp = p + 1;
	m->dlen = m->key.len - 2;
	m->omit = 0;
	if (esc) {
		m->dp = NULL;
		m->doff = c->dec.len;
		if (evk_json_unescape(m->key, &c->dec) < 0)
			return nomem(c);
		m->dlen = c->dec.len - m->doff;
	}
	if (c->nfr == 1 && c->top != NULL)
		c->quiet = m->omit =
		    omitted(c->top, esc ? c->dec.p + m->doff : m->dp, m->dlen);
	m->off = c->out->len;
	if ((rc = put_string(c, p, q, esc)) < 0)
		return rc;
	if (evk_buf_add(c->out, ":", 1) < 0)
		return nomem(c);
	p = skip_ws(q, c->end);
	if (p == c->end || *p != ':')
		return invalid(c, p < c->end ? p : c->end - 1);
	*vp = skip_ws(p + 1, c->end);
	m->value.p = *vp;
	return 0;
}

/* The top-level object: notes the members named in top->watch and adds
 * those of top->extra (JSON strings), written after the others (the
 * caller sorts).  Those in top->omit were marked by open_member(). */
static int
edit_top(struct canon *c, size_t start)
{
	struct evk__canon_top *top = c->top;
	struct member *m;
	size_t i, j;
	int rc;

	top->nmembers = c->nmem - start;
	for (i = start; i < c->nmem; i++) {
		m = &c->mem[i];
		for (j = 0; j < top->nwatch; j++)
			if (m->dlen == top->watch[j].len &&
			    !memcmp(m->dp, top->watch[j].p, m->dlen))
				top->found[j] = m->value;
	}
	for (j = 0; j < top->nextra; j++) {
		const struct evk_span *k = &top->extra[2 * j];

		if (c->nmem == c->memcap &&
		    grow((void **)&c->mem, &c->memcap, c->nmem + 1, sizeof *m,
		        c->mem0) < 0)
			return nomem(c);
		m = &c->mem[c->nmem++];
		m->key = k[0];
		m->dp = k[0].p + 1;
		m->dlen = k[0].len - 2;
		m->omit = 0;
		m->value = k[1];
		m->off = c->out->len;
		if ((rc = put_string(c, k[0].p, k[0].p + k[0].len,
		         memchr(k[0].p, '\\', k[0].len) != NULL)) < 0 ||
		    (rc = evk_buf_add(c->out, ":", 1) < 0 ? nomem(c) : 0) < 0 ||
		    (rc = put_string(c, k[1].p, k[1].p + k[1].len,
		         memchr(k[1].p, '\\', k[1].len) != NULL)) < 0)
			return rc;
		m->len = c->out->len - m->off;
	}
	return 0;
}

/*
 * Closes the innermost object: its members were written in input order,
 * each at its own place in the output; unless they are already in order
 * (and none is left out or added) they are copied out in key order, with
 * commas, and back.  Then the brace.
 */
static int
close_object(struct canon *c)
{
	struct frame *f = &c->fr[c->nfr - 1];
	struct member *a = c->mem + f->start;
	struct evk_buf *out = c->out;
	size_t n = c->nmem - f->start, i, at;
	int rc, edit = c->nfr == 1 && c->top != NULL, sorted = !edit, first;

	for (i = 0; i < n; i++)
		if (a[i].dp == NULL)
			a[i].dp = c->dec.p + a[i].doff;
	if (edit && (rc = edit_top(c, f->start)) < 0)
		return rc;
	a = c->mem + f->start; /* edit_top may move c->mem */
	n = c->nmem - f->start;
	for (i = 1; sorted && i < n; i++)
		sorted = key_cmp(&a[i - 1], &a[i]) < 0;
	if (!sorted) {
		/* In order after the object's text, then moved over it.  The
		 * room is made first, as the copies read from the buffer:
		 * the text, and a comma per member added by edit_top(). */
		sort_members(a, n);
		at = out->len;
		if (evk_buf_reserve(out, at - f->content + n) < 0)
			return nomem(c);
		first = 1;
		for (i = 0; i < n; i++) {
			if (a[i].omit)
				continue;
			if (!first)
				out->p[out->len++] = ',';
			memcpy(out->p + out->len, out->p + a[i].off, a[i].len);
			out->len += a[i].len;
			first = 0;
		}
		memmove(out->p + f->content, out->p + at, out->len - at);
		out->len = f->content + (out->len - at);
		out->p[out->len] = '\0';
	}
	c->nmem = f->start;
	c->dec.len = f->dec;
	c->nfr--;
	return evk_buf_add(out, "}", 1) < 0 ? nomem(c) : 0;
}

/*
 * Writes the value at p, and everything in it, in one pass: a loop over
 * an explicit stack of open containers.  An object's members go to the
 * output as they come, separated by commas, and are put in key order when
 * it closes (close_object()).
 */
static int
walk(struct canon *c, const char *p)
{
	const char *end = c->end, *q;
	struct frame *f;
	struct member *m;
	int rc, esc, object;

value:
	if (p == end)
		return invalid(c, end - 1);
	switch (*p) {
	case '{':
	case '[':
		object = *p == '{';
		if ((rc = push(c, object)) < 0)
			return rc;
		p = skip_ws(p + 1, end);
		if (p < end && *p == (object ? '}' : ']'))
			goto close;
		if (object && (rc = open_member(c, p, &p)) < 0)
			return rc;
		goto value;
	case '"':
		if ((q = end_of_string(p, end, &esc)) == NULL)
			return invalid(c, p);
		if ((rc = put_string(c, p, q, esc)) < 0)
			return rc;
		p = q;
		break;
	default:
		if ((rc = put_scalar(c, p, &p)) < 0)
			return rc;
		break;
	}
next:
	/* After a value: a comma and the next one, or the container's end. */
	if (c->nfr == 0)
		return p == end ? 0 : invalid(c, p);
	f = &c->fr[c->nfr - 1];
	if (f->object) {
		m = &c->mem[c->nmem - 1];
		m->value.len = (size_t)(p - m->value.p);
		m->len = c->out->len - m->off;
	}
	p = skip_ws(p, end);
	if (p < end && *p == ',') {
		if (evk_buf_add(c->out, ",", 1) < 0)
			return nomem(c);
		p = skip_ws(p + 1, end);
		if (f->object && (rc = open_member(c, p, &p)) < 0)
			return rc;
		goto value;
	}
	if (p == end || *p != (f->object ? '}' : ']'))
		return invalid(c, p < end ? p : end - 1);
close:
	p++;
	if (c->fr[c->nfr - 1].object) {
		if ((rc = close_object(c)) < 0)
			return rc;
	} else {
		c->nfr--;
		if (evk_buf_add(c->out, "]", 1) < 0)
			return nomem(c);
	}
	goto next;
}

int
evk_canon(const char *p, size_t len, struct evk_buf *out, struct evk_err *err)
{
	return evk__canon_edit(p, len, NULL, out, err);
}

int
evk__canon_edit(const char *p, size_t len, struct evk__canon_top *top,
    struct evk_buf *out, struct evk_err *err)
{
	struct canon c;
	size_t mark = out->len;
	int rc;

	c.base = p;
	c.end = p + len;
	while (c.end > p && is_ws(c.end[-1]))
		c.end--;
	p = skip_ws(p, c.end);
	if (p == c.end)
		return evk__err(err, EVK_EJSON, 1, "empty input");
	c.out = out;
	c.err = err;
	c.mem = c.mem0;
	c.memcap = INLINE_MEMBERS;
	c.nmem = 0;
	c.fr = c.fr0;
	c.frcap = INLINE_FRAMES;
	c.nfr = 0;
	c.dec = (struct evk_buf)EVK_BUF_ZERO;
	c.tmp = (struct evk_buf)EVK_BUF_ZERO;
	c.top = top;
	c.range = c.quiet = 0;
	if (top != NULL) {
		top->nmembers = 0;
		for (size_t j = 0; j < top->nwatch; j++)
			top->found[j] = (struct evk_span)EVK_SPAN_ZERO;
	}
	rc = walk(&c, p);
	if (rc == 0 && c.range)
		rc = EVK_ERANGE;
	if (rc < 0) {
		out->len = mark;
		if (out->p != NULL)
			out->p[mark] = '\0';
	}
	if (c.mem != c.mem0)
		free(c.mem);
	if (c.fr != c.fr0)
		free(c.fr);
	evk_buf_free(&c.dec);
	evk_buf_free(&c.tmp);
	return rc;
}
