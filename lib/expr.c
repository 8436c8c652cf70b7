/*
 * lib/expr.c - the filter expression language (see evkit/expr.h and
 * evfilter(1) for the language itself).
 *
 * Compile: a recursive-descent parser over an on-demand lexer builds a
 * small tree of nodes in one array; regular expressions are compiled and
 * JIT-compiled there, topic patterns checked, string literals decoded.
 *
 * Evaluate: values are looked up in the event's JSON text with the
 * navigation helpers of lib/json.c (no tree); strings are used in place
 * unless they hold escapes.  The rules are few and exact: comparisons
 * need both sides of one type (numbers numerically, with 64-bit integers
 * exact; strings bytewise; times by instant), anything else is unequal
 * and unordered, and a missing value ("absent") makes every comparison
 * false except "!=".
 *
 * Prefilter: from the conjuncts at the top of the expression, the strings
 * an event must hold to match (path == "lit", startswith, topic("a.b"),
 * ...) as they appear in minimally escaped JSON; a line without one of
 * them cannot match, unless it holds a \u or \/ escape, which could spell
 * the string another way.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evkit/expr.h"
#include "evkit/json.h"
#include "evkit/time.h"
#include "evkit/topic.h"
#include "internal.h"

/* Deepest nesting of parentheses and operators in an expression. */
#define MAX_NEST 200

/* --- values ---------------------------------------------------------------- */

enum vt {
	V_ABSENT,
	V_NULL,
	V_BOOL,
	V_NUM,
	V_STR,
	V_ARR,
	V_OBJ,
	V_TIME,
	V_LIST, /* an array literal: node indexes */
};

struct val {
	enum vt t;
	int b; /* V_BOOL */
	int isint; /* V_NUM: i holds it exactly */
	int64_t i; /* V_NUM int; V_LIST: first node */
	double d; /* V_NUM otherwise */
	const char *s; /* V_STR: decoded bytes */
	size_t n; /* V_STR length; V_LIST: count */
	struct evk_span raw; /* V_ARR, V_OBJ: JSON text */
	struct evk_time tm; /* V_TIME */
};

/* A decimal without exponent and with at most 15 digits is m / 10^k with
 * m and 10^k exact doubles, so one division rounds it correctly: the
 * same result as strtod(), without its cost. */
static int
fast_decimal(struct evk_span sp, double *d)
{
	static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
	    1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
	size_t i = sp.p[0] == '-', digits = 0, frac = 0;
	int64_t m = 0;
	int dot = 0;

	for (; i < sp.len; i++) {
		char c = sp.p[i];
		if (c == '.' && !dot) {
			dot = 1;
			continue;
		}
		if (c < '0' || c > '9' || ++digits > 15)
			return 0;
		m = m * 10 + (c - '0');
		frac += (size_t)dot;
	}
	*d = (double)m / p10[frac];
	if (sp.p[0] == '-')
		*d = -*d;
	return 1;
}

/* Reads a checked JSON number: exact when it is an integer within 64 bits,
 * else a double (strtod in the C locale, which our programs keep). */
static void
num_of(struct evk_span sp, struct val *v)
{
	char buf[64], *copy = buf;
	const char *p = sp.p;
	size_t i = *p == '-';
	uint64_t u = 0;
	int exact = 1;

	v->t = V_NUM;
	for (; i < sp.len && exact; i++) {
		unsigned d = (unsigned)(p[i] - '0');
		if (d > 9 || u > (UINT64_MAX - d) / 10)
			exact = 0;
		else
			u = u * 10 + d;
	}
	if (exact &&
	    (*p == '-' ? u <= (uint64_t)INT64_MAX + 1
	               : u <= (uint64_t)INT64_MAX)) {
		v->isint = 1;
		v->i = *p == '-' ? (int64_t)(0 - u) : (int64_t)u;
		v->d = (double)v->i;
		return;
	}
	v->isint = 0;
	if (fast_decimal(sp, &v->d))
		return;
	if (sp.len >= sizeof buf && (copy = malloc(sp.len + 1)) == NULL) {
		v->d = NAN; /* compares with nothing: no match, not a crash */
		return;
	}
	memcpy(copy, p, sp.len);
	copy[sp.len] = '\0';
	v->d = strtod(copy, NULL);
	if (copy != buf)
		free(copy);
}

/* --- nodes ---------------------------------------------------------------- */

enum op {
	N_AND,
	N_OR,
	N_NOT,
	N_CMP,
	N_MATCH,
	N_IN,
	N_CONTAINS,
	N_STARTS,
	N_ENDS,
	N_PATH,
	N_LIT,
	N_LIST,
	N_EXISTS,
	N_LEN,
	N_LOWER,
	N_UPPER,
	N_TYPE,
	N_TIMEFN,
	N_TOPIC,
	N_NOW,
	N_ADD,
};

enum cmp { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE };

struct step {
	char *key; /* NULL for an index */
	size_t klen;
	long long index;
};

struct node {
	enum op op;
	int sub; /* N_CMP: enum cmp; N_MATCH: negated */
	int a, b; /* children (-1: none) */
	int next; /* N_LIST elements: the next one */
	struct step *steps; /* N_PATH */
	int nsteps;
	struct val lit; /* N_LIT (strings owned in `str`) */
	char *str; /* owned bytes of a literal or topic pattern */
	size_t slen;
	int64_t dur; /* N_ADD: nanoseconds to add */
	pcre2_code *re; /* N_MATCH */
	pcre2_match_data *md;
	int jit;
};

struct evk_expr {
	struct node *n;
	int nn, cap;
	int root;
	char **needles; /* prefilter strings, each needed */
	size_t *nlen;
	size_t *nrare; /* the byte of each that searches start from */
	size_t nneedles;
	char **scratch; /* strings made while evaluating, freed at the next */
	size_t nscratch, scap;
	int rc; /* the first error of an evaluation */
	struct evk_err *err;
	int have_now; /* now() is read once per evaluation */
	struct evk_time now;
	struct evk_span ev; /* the event being evaluated */
};

/* --- building ------------------------------------------------------------ */

static int
node(struct evk_expr *e, enum op op)
{
	struct node *nd;

	if (e->nn == e->cap) {
		int cap = e->cap ? e->cap * 2 : 16;
		nd = realloc(e->n, (size_t)cap * sizeof *nd);
		if (nd == NULL)
			return -1;
		e->n = nd;
		e->cap = cap;
	}
	nd = &e->n[e->nn];
	memset(nd, 0, sizeof *nd);
	nd->op = op;
	nd->a = nd->b = nd->next = -1;
	return e->nn++;
}

static void
node_free(struct node *nd)
{
	for (int i = 0; i < nd->nsteps; i++)
		free(nd->steps[i].key);
	free(nd->steps);
	free(nd->str);
	pcre2_match_data_free(nd->md);
	pcre2_code_free(nd->re);
}

static void
scratch_reset(struct evk_expr *e)
{
	for (size_t i = 0; i < e->nscratch; i++)
		free(e->scratch[i]);
	e->nscratch = 0;
}

void
evk_expr_free(struct evk_expr *e)
{
	if (e == NULL)
		return;
	for (int i = 0; i < e->nn; i++)
		node_free(&e->n[i]);
	free(e->n);
	for (size_t i = 0; i < e->nneedles; i++)
		free(e->needles[i]);
	free(e->needles);
	free(e->nlen);
	free(e->nrare);
	scratch_reset(e);
	free(e->scratch);
	free(e);
}

/* --- lexer ------------------------------------------------------------------ */

enum tok {
	T_EOF,
	T_IDENT,
	T_STRING,
	T_NUMBER,
	T_TIME,
	T_DURATION,
	T_LPAREN,
	T_RPAREN,
	T_LBRACK,
	T_RBRACK,
	T_COMMA,
	T_DOT,
	T_AND,
	T_OR,
	T_NOT,
	T_EQ,
	T_NE,
	T_LT,
	T_LE,
	T_GT,
	T_GE,
	T_MATCH,
	T_NMATCH,
	T_PLUS,
	T_MINUS,
	T_IN,
	T_CONTAINS,
	T_STARTS,
	T_ENDS,
	T_TRUE,
	T_FALSE,
	T_NULL,
};

struct parser {
	struct evk_expr *e;
	const char *src;
	size_t len;
	size_t pos; /* where the next token starts to be looked for */
	enum tok t; /* the current token */
	size_t tpos, tlen;
	struct evk_buf sval; /* T_STRING: decoded */
	int64_t dur; /* T_DURATION: nanoseconds */
	struct evk_time tm; /* T_TIME */
	int depth;
	struct evk_err *err;
	struct evk_json_checker *json;
	int failed;
};

static int
fail(struct parser *ps, size_t pos, const char *fmt, ...)
{
	va_list ap;

	if (ps->failed)
		return -1;
	ps->failed = 1;
	if (ps->err != NULL) {
		ps->err->code = EVK_EINVAL;
		ps->err->column = pos + 1;
		va_start(ap, fmt);
		vsnprintf(ps->err->msg, sizeof ps->err->msg, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    c == '$';
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_ident(char c)
{
	return is_ident_start(c) || is_digit(c);
}

/* Writes up to 40 bytes of `p` for a message: printable characters as
 * they are (whole UTF-8 characters), others as \xNN, so that a message
 * never carries control bytes or a cut character to a terminal. */
static void
show(char *out, size_t size, const char *p, size_t n)
{
	size_t o = 0, i = 0, k;

	while (i < n && i < 40 && o + 5 < size) {
		unsigned char c = (unsigned char)p[i];
		k = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if (c >= 0x20 && c < 0x7f) {
			out[o++] = (char)c;
		} else if (c >= 0xc2 && i + k <= n && o + k < size &&
		    evk_utf8_check(p + i, k, NULL) == 0 &&
		    !(c == 0xc2 && (unsigned char)p[i + 1] < 0xa0)) {
			memcpy(out + o, p + i, k); /* not a C1 control */
			o += k;
			i += k;
			continue;
		} else {
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		}
		i++;
	}
	if (i < n && o + 4 < size) {
		memcpy(out + o, "...", 3); /* cut: say so */
		o += 3;
	}
	out[o] = '\0';
}

/* Describes the current token for "unexpected ..." messages. */
static int
unexpected(struct parser *ps)
{
	char tok[200];

	if (ps->t == T_EOF)
		return fail(ps, ps->tpos, "unexpected end of expression");
	show(tok, sizeof tok, ps->src + ps->tpos, ps->tlen);
	return fail(ps, ps->tpos, "unexpected '%s'", tok);
}

/* Lexes a number, a duration (10m, 1h30m, 1.5s) or a time literal. */
static int
lex_number(struct parser *ps)
{
	const char *s = ps->src;
	size_t p = ps->pos, q;
	char tok[200];

	/* A time: four digits and '-' (a date) start one. */
	if (p + 4 < ps->len && is_digit(s[p]) && is_digit(s[p + 1]) &&
	    is_digit(s[p + 2]) && is_digit(s[p + 3]) && s[p + 4] == '-') {
		for (q = p; q < ps->len &&
		     (is_digit(s[q]) || strchr("-:.+TtZz", s[q]) != NULL) &&
		     s[q] != '\0';
		     q++)
			;
		if (evk_time_parse(s + p, q - p, &ps->tm, NULL) < 0) {
			show(tok, sizeof tok, s + p, q - p);
			return fail(ps, p, "invalid time '%s'", tok);
		}
		ps->t = T_TIME;
		ps->tlen = q - p;
		return 0;
	}
	q = p;
	while (q < ps->len &&
	    (is_digit(s[q]) || s[q] == '.' ||
	        ((s[q] == 'e' || s[q] == 'E') && q + 1 < ps->len &&
	            (is_digit(s[q + 1]) || s[q + 1] == '+' ||
	                s[q + 1] == '-')) ||
	        ((s[q] == '+' || s[q] == '-') && q > p &&
	            (s[q - 1] == 'e' || s[q - 1] == 'E'))))
		q++;
	if (q < ps->len && is_ident_start(s[q])) {
		/* A duration: number-unit pairs without spaces.  Its errors
		 * are the lexer's (code EVK_EINVAL), columns made absolute. */
		struct evk_err de = EVK_ERR_ZERO;
		int64_t total;
		size_t used;

		if (evk_duration_scan(s + p, ps->len - p, &total, &used, &de) !=
		    0)
			return fail(ps, p + de.column - 1, "%s", de.msg);
		q = p + used;
		if (q < ps->len && is_ident(s[q]))
			return fail(ps, q, "invalid duration");
		ps->t = T_DURATION;
		ps->dur = total;
		ps->tlen = q - p;
		return 0;
	}
	if (!evk_json_is_number(s + p, q - p)) {
		show(tok, sizeof tok, s + p, q - p);
		return fail(ps, p, "invalid number '%s'", tok);
	}
	ps->t = T_NUMBER;
	ps->tlen = q - p;
	return 0;
}

/* Lexes a JSON string literal into ps->sval. */
static int
lex_string(struct parser *ps)
{
	const char *s = ps->src;
	size_t q = ps->pos + 1;
	struct evk_err je = EVK_ERR_ZERO;
	struct evk_span sp;

	while (q < ps->len && s[q] != '"')
		q += s[q] == '\\' && q + 1 < ps->len ? 2 : 1;
	if (q >= ps->len)
		return fail(ps, ps->pos, "unterminated string");
	q++;
	if (evk_json_check(ps->json, s + ps->pos, q - ps->pos, NULL, &je) < 0)
		return fail(ps, ps->pos + (je.column ? je.column - 1 : 0),
		    "invalid string: %s", je.msg);
	sp.p = s + ps->pos;
	sp.len = q - ps->pos;
	evk_buf_reset(&ps->sval);
	if (evk_json_unescape(sp, &ps->sval) < 0)
		return fail(ps, ps->pos, "out of memory");
	ps->t = T_STRING;
	ps->tlen = q - ps->pos;
	return 0;
}

static const struct {
	const char *s;
	enum tok t;
} ops[] = {
    {"&&", T_AND},
    {"||", T_OR},
    {"==", T_EQ},
    {"!=", T_NE},
    {"<=", T_LE},
    {">=", T_GE},
    {"=~", T_MATCH},
    {"!~", T_NMATCH},
    {"<", T_LT},
    {">", T_GT},
    {"!", T_NOT},
    {"(", T_LPAREN},
    {")", T_RPAREN},
    {"[", T_LBRACK},
    {"]", T_RBRACK},
    {",", T_COMMA},
    {".", T_DOT},
    {"+", T_PLUS},
    {"-", T_MINUS},
};

static const struct {
	const char *s;
	enum tok t;
} words[] = {
    {"in", T_IN},
    {"contains", T_CONTAINS},
    {"startswith", T_STARTS},
    {"endswith", T_ENDS},
    {"true", T_TRUE},
    {"false", T_FALSE},
    {"null", T_NULL},
};

/* Moves to the next token. */
static int
next(struct parser *ps)
{
	const char *s = ps->src;
	size_t i;

	ps->pos += ps->tlen;
	while (ps->pos < ps->len && strchr(" \t\r\n", s[ps->pos]) != NULL &&
	    s[ps->pos] != '\0')
		ps->pos++;
	ps->tpos = ps->pos;
	ps->tlen = 0;
	if (ps->pos >= ps->len) {
		ps->t = T_EOF;
		return 0;
	}
	if (s[ps->pos] == '"')
		return lex_string(ps);
	if (is_digit(s[ps->pos]))
		return lex_number(ps);
	if (is_ident_start(s[ps->pos])) {
		size_t q = ps->pos;
		while (q < ps->len && is_ident(s[q]))
			q++;
		ps->tlen = q - ps->pos;
		ps->t = T_IDENT;
		for (i = 0; i < sizeof words / sizeof words[0]; i++)
			if (strlen(words[i].s) == ps->tlen &&
			    !memcmp(words[i].s, s + ps->pos, ps->tlen))
				ps->t = words[i].t;
		return 0;
	}
	for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		size_t l = strlen(ops[i].s);
		if (ps->pos + l <= ps->len &&
		    !memcmp(ops[i].s, s + ps->pos, l)) {
			ps->t = ops[i].t;
			ps->tlen = l;
			return 0;
		}
	}
	if ((unsigned char)s[ps->pos] < 0x20 ||
	    (unsigned char)s[ps->pos] >= 0x7f)
		return fail(ps, ps->pos, "unexpected byte 0x%02x",
		    (unsigned char)s[ps->pos]);
	return fail(ps, ps->pos, "unexpected '%c'", s[ps->pos]);
}

/* --- parser ------------------------------------------------------------------ */

static int parse_or(struct parser *ps);

static int
new_node(struct parser *ps, enum op op, size_t pos)
{
	int i = node(ps->e, op);

	(void)pos;
	if (i < 0)
		fail(ps, ps->tpos, "out of memory");
	return i;
}

static int
binary(struct parser *ps, enum op op, int sub, int a, int b)
{
	int i;

	if (a < 0 || b < 0 || (i = new_node(ps, op, 0)) < 0)
		return -1;
	ps->e->n[i].sub = sub;
	ps->e->n[i].a = a;
	ps->e->n[i].b = b;
	return i;
}

/* Adds a step to a path node. */
static int
add_step(struct parser *ps, int path, const char *key, size_t klen,
    long long index)
{
	struct node *nd = &ps->e->n[path];
	struct step *st =
	    realloc(nd->steps, (size_t)(nd->nsteps + 1) * sizeof *st);

	if (st == NULL)
		return fail(ps, ps->tpos, "out of memory");
	nd->steps = st;
	st = &st[nd->nsteps];
	st->key = NULL;
	st->klen = klen;
	st->index = index;
	if (key != NULL) {
		if ((st->key = malloc(klen + 1)) == NULL)
			return fail(ps, ps->tpos, "out of memory");
		memcpy(st->key, key, klen);
		st->key[klen] = '\0';
	}
	nd->nsteps++;
	return 0;
}

/* [INDEX] or ["key"] after a path; the current token is '['. */
static int
parse_bracket(struct parser *ps, int path)
{
	long long idx;
	int neg = 0;

	if (next(ps) < 0)
		return -1;
	if (ps->t == T_STRING) {
		if (add_step(ps, path, ps->sval.p ? ps->sval.p : "",
		        ps->sval.len, 0) < 0 ||
		    next(ps) < 0)
			return -1;
	} else {
		if (ps->t == T_MINUS) {
			neg = 1;
			if (next(ps) < 0)
				return -1;
		}
		if (ps->t != T_NUMBER ||
		    memchr(ps->src + ps->tpos, '.', ps->tlen) ||
		    memchr(ps->src + ps->tpos, 'e', ps->tlen) ||
		    memchr(ps->src + ps->tpos, 'E', ps->tlen) || ps->tlen > 9)
			return fail(ps, ps->tpos,
			    "expected an index or a "
			    "\"key\" in [ ]");
		/* Negative indexes count from the end: -1 is the last. */
		idx = strtoll(ps->src + ps->tpos, NULL, 10);
		if (add_step(ps, path, NULL, 0, neg ? -idx : idx) < 0 ||
		    next(ps) < 0)
			return -1;
	}
	if (ps->t != T_RBRACK)
		return fail(ps, ps->tpos, "expected ']'");
	return next(ps);
}

/* A path: ".", ".a.b", "a.b[0]", "a[\"k\"]"; starts at the current token. */
static int
parse_path(struct parser *ps)
{
	int path = new_node(ps, N_PATH, ps->tpos);
	int dot = ps->t == T_DOT;

	if (path < 0)
		return -1;
	if (ps->t == T_IDENT) {
		if (add_step(ps, path, ps->src + ps->tpos, ps->tlen, 0) < 0 ||
		    next(ps) < 0)
			return -1;
	} else if (dot) {
		/* ".": the whole event, or ".key" (a name right after the
		 * dot, keywords included), or ".[...]". */
		if (next(ps) < 0)
			return -1;
		if (ps->src[ps->tpos - 1] == '.' &&
		    (ps->t == T_IDENT || (ps->t >= T_IN && ps->t <= T_NULL))) {
			if (add_step(ps, path, ps->src + ps->tpos, ps->tlen,
			        0) < 0 ||
			    next(ps) < 0)
				return -1;
		}
	}
	for (;;) {
		if (ps->t == T_LBRACK) {
			if (parse_bracket(ps, path) < 0)
				return -1;
		} else if (ps->t == T_DOT) {
			if (next(ps) < 0)
				return -1;
			if (ps->t == T_LBRACK)
				continue;
			if (ps->t != T_IDENT &&
			    !(ps->t >= T_IN && ps->t <= T_NULL))
				return fail(ps, ps->tpos,
				    "expected a name after "
				    "'.'");
			if (add_step(ps, path, ps->src + ps->tpos, ps->tlen,
			        0) < 0 ||
			    next(ps) < 0)
				return -1;
		} else {
			return path;
		}
	}
}

/* A literal value (string, number, time, true, false, null, or -number). */
static int
parse_literal(struct parser *ps)
{
	int i, neg = 0;
	size_t start = ps->tpos;
	struct val *v;

	if (ps->t == T_MINUS) {
		neg = 1;
		if (next(ps) < 0)
			return -1;
		if (ps->t != T_NUMBER)
			return unexpected(ps);
	}
	if ((i = new_node(ps, N_LIT, start)) < 0)
		return -1;
	v = &ps->e->n[i].lit;
	switch (ps->t) {
	case T_STRING:
		v->t = V_STR;
		if ((ps->e->n[i].str = malloc(ps->sval.len + 1)) == NULL)
			return fail(ps, start, "out of memory");
		if (ps->sval.len)
			memcpy(ps->e->n[i].str, ps->sval.p, ps->sval.len);
		ps->e->n[i].str[ps->sval.len] = '\0';
		ps->e->n[i].slen = ps->sval.len;
		v->s = ps->e->n[i].str;
		v->n = ps->sval.len;
		break;
	case T_NUMBER: {
		char buf[64];
		size_t l = ps->tlen;
		struct evk_span sp;
		if (l + 2 > sizeof buf)
			return fail(ps, ps->tpos, "number too long");
		buf[0] = '-';
		memcpy(buf + 1, ps->src + ps->tpos, l);
		sp.p = neg ? buf : buf + 1;
		sp.len = l + (size_t)neg;
		num_of(sp, v);
		break;
	}
	case T_TIME:
		v->t = V_TIME;
		v->tm = ps->tm;
		break;
	case T_TRUE:
	case T_FALSE:
		v->t = V_BOOL;
		v->b = ps->t == T_TRUE;
		break;
	case T_NULL: v->t = V_NULL; break;
	default: return unexpected(ps);
	}
	return next(ps) < 0 ? -1 : i;
}

/* [lit, lit, ...] */
static int
parse_list(struct parser *ps)
{
	int list = new_node(ps, N_LIST, ps->tpos), last = -1, el;

	if (list < 0 || next(ps) < 0)
		return -1;
	if (ps->t == T_RBRACK)
		return next(ps) < 0 ? -1 : list;
	for (;;) {
		if ((el = parse_literal(ps)) < 0)
			return -1;
		if (last < 0)
			ps->e->n[list].a = el;
		else
			ps->e->n[last].next = el;
		last = el;
		if (ps->t == T_RBRACK)
			return next(ps) < 0 ? -1 : list;
		if (ps->t != T_COMMA)
			return fail(ps, ps->tpos, "expected ',' or ']'");
		if (next(ps) < 0)
			return -1;
	}
}

static const struct {
	const char *name;
	enum op op;
} funcs[] = {
    {"exists", N_EXISTS},
    {"len", N_LEN},
    {"lower", N_LOWER},
    {"upper", N_UPPER},
    {"type", N_TYPE},
    {"time", N_TIMEFN},
    {"topic", N_TOPIC},
    {"now", N_NOW},
};

/* name(args), the current token being the name and the next '('. */
static int
parse_call(struct parser *ps, size_t f)
{
	size_t name = ps->tpos, namelen = ps->tlen;
	int i = new_node(ps, funcs[f].op, name), arg;

	if (i < 0 || next(ps) < 0 || next(ps) < 0)
		return -1;
	if (funcs[f].op == N_NOW) {
		if (ps->t != T_RPAREN)
			return fail(ps, ps->tpos, "now() takes no argument");
		return next(ps) < 0 ? -1 : i;
	}
	if (funcs[f].op == N_TOPIC) {
		struct evk_err te = EVK_ERR_ZERO;
		if (ps->t != T_STRING)
			return fail(ps, ps->tpos,
			    "topic() takes a \"pattern\"");
		if (evk_topic_check(ps->sval.p ? ps->sval.p : "", ps->sval.len,
		        1, &te) < 0)
			return fail(ps, ps->tpos, "topic pattern: %s", te.msg);
		if ((ps->e->n[i].str = malloc(ps->sval.len + 1)) == NULL)
			return fail(ps, ps->tpos, "out of memory");
		memcpy(ps->e->n[i].str, ps->sval.p, ps->sval.len);
		ps->e->n[i].str[ps->sval.len] = '\0';
		ps->e->n[i].slen = ps->sval.len;
		if (next(ps) < 0)
			return -1;
	} else {
		if (funcs[f].op == N_EXISTS && ps->t != T_IDENT &&
		    ps->t != T_DOT)
			return fail(ps, ps->tpos, "exists() takes a path");
		if ((arg = parse_or(ps)) < 0)
			return -1;
		if (funcs[f].op == N_EXISTS && ps->e->n[arg].op != N_PATH)
			return fail(ps, name, "exists() takes a path");
		ps->e->n[i].a = arg;
	}
	if (ps->t != T_RPAREN)
		return fail(ps, ps->tpos, "expected ')' to close %.*s(",
		    (int)namelen, ps->src + name);
	return next(ps) < 0 ? -1 : i;
}

static int
parse_primary(struct parser *ps)
{
	size_t f;
	int i;

	switch (ps->t) {
	case T_LPAREN:
		if (next(ps) < 0 || (i = parse_or(ps)) < 0)
			return -1;
		if (ps->t != T_RPAREN)
			return ps->t == T_EOF
			    ? fail(ps, ps->tpos, "missing ')'")
			    : unexpected(ps);
		return next(ps) < 0 ? -1 : i;
	case T_LBRACK: return parse_list(ps);
	case T_STRING:
	case T_NUMBER:
	case T_TIME:
	case T_TRUE:
	case T_FALSE:
	case T_NULL:
	case T_MINUS: return parse_literal(ps);
	case T_DOT: return parse_path(ps);
	case T_IDENT:
		/* A name followed by '(' is a call, else a path. */
		{
			size_t q = ps->tpos + ps->tlen;
			while (q < ps->len && strchr(" \t\r\n", ps->src[q]) &&
			    ps->src[q] != '\0')
				q++;
			if (q < ps->len && ps->src[q] == '(') {
				for (f = 0; f < sizeof funcs / sizeof funcs[0];
				     f++)
					if (strlen(funcs[f].name) == ps->tlen &&
					    !memcmp(funcs[f].name,
					        ps->src + ps->tpos, ps->tlen))
						return parse_call(ps, f);
				return fail(ps, ps->tpos,
				    "unknown function "
				    "'%.*s'",
				    (int)ps->tlen, ps->src + ps->tpos);
			}
		}
		return parse_path(ps);
	case T_DURATION:
		return fail(ps, ps->tpos,
		    "a duration only goes after '+' or "
		    "'-' with a time");
	default: return unexpected(ps);
	}
}

/* primary (('+'|'-') DURATION)* */
static int
parse_add(struct parser *ps)
{
	int a = parse_primary(ps), i;

	while (a >= 0 && (ps->t == T_PLUS || ps->t == T_MINUS)) {
		int sign = ps->t == T_PLUS ? 1 : -1;
		size_t at = ps->tpos;
		if (next(ps) < 0)
			return -1;
		if (ps->t != T_DURATION)
			return fail(ps, ps->tpos,
			    "a duration (like 10m) must "
			    "follow '%c'",
			    sign > 0 ? '+' : '-');
		if ((i = new_node(ps, N_ADD, at)) < 0)
			return -1;
		ps->e->n[i].a = a;
		ps->e->n[i].dur = sign * ps->dur;
		a = i;
		if (next(ps) < 0)
			return -1;
	}
	return a;
}

/* The regular expression after =~ or !~: /re/flags. */
static int
parse_regex(struct parser *ps, int a, int negate)
{
	const char *s = ps->src;
	size_t p = ps->tpos, q, nf;
	uint32_t flags = PCRE2_UTF;
	struct evk_buf pat = EVK_BUF_ZERO;
	int code, i;
	PCRE2_SIZE off;
	struct node *nd;

	if (ps->t == T_EOF || s[p] != '/')
		return fail(ps, p, "expected /regex/ after '%s'",
		    negate ? "!~" : "=~");
	for (q = p + 1; q < ps->len && s[q] != '/'; q++) {
		if (s[q] == '\\' && q + 1 < ps->len) {
			/* "\/" is a slash; other escapes are PCRE2's. */
			if (s[q + 1] != '/' && evk_buf_add(&pat, s + q, 1) < 0)
				goto nomem;
			q++;
		}
		if (evk_buf_add(&pat, s + q, 1) < 0)
			goto nomem;
	}
	if (q >= ps->len) {
		evk_buf_free(&pat);
		return fail(ps, p, "unterminated regular expression");
	}
	for (nf = q + 1; nf < ps->len && is_ident(s[nf]); nf++) {
		switch (s[nf]) {
		case 'i': flags |= PCRE2_CASELESS; break;
		case 'm': flags |= PCRE2_MULTILINE; break;
		case 's': flags |= PCRE2_DOTALL; break;
		case 'x': flags |= PCRE2_EXTENDED; break;
		default:
			evk_buf_free(&pat);
			return fail(ps, nf,
			    "unknown regex flag '%c' (i, m, s, x)", s[nf]);
		}
	}
	if ((i = new_node(ps, N_MATCH, p)) < 0) {
		evk_buf_free(&pat);
		return -1;
	}
	nd = &ps->e->n[i];
	nd->a = a;
	nd->sub = negate;
	nd->re = pcre2_compile((PCRE2_SPTR)(pat.p ? pat.p : ""), pat.len, flags,
	    &code, &off, NULL);
	evk_buf_free(&pat);
	if (nd->re == NULL) {
		PCRE2_UCHAR msg[160];
		size_t at = p + 1;
		pcre2_get_error_message(code, msg, sizeof msg);
		/* PCRE2's offset counts the pattern as compiled, where each
		 * "\\/" of the source became "/": walk the source along. */
		for (PCRE2_SIZE k = 0; k < off && at < q; k++)
			at += s[at] == '\\' && s[at + 1] == '/' ? 2 : 1;
		return fail(ps, at, "invalid regex: %s", (char *)msg);
	}
	nd->jit = evk__jit(nd->re, PCRE2_JIT_COMPLETE);
	if ((nd->md = pcre2_match_data_create(1, NULL)) == NULL)
		return fail(ps, p, "out of memory");
	ps->tlen = nf - p;
	return next(ps) < 0 ? -1 : i;
nomem:
	evk_buf_free(&pat);
	return fail(ps, p, "out of memory");
}

/* After a comparison, another one: "a < b < c" is refused rather than
 * read in a way nobody means.  Returns -1 (failed) or 0. */
static int
chained(struct parser *ps)
{
	if ((ps->t >= T_EQ && ps->t <= T_NMATCH) ||
	    (ps->t >= T_IN && ps->t <= T_ENDS))
		return fail(ps, ps->tpos,
		    "comparisons do not chain: use && or "
		    "parentheses");
	return 0;
}

static int
parse_cmp(struct parser *ps)
{
	static const struct {
		enum tok t;
		enum op op;
		int sub;
	} cmps[] = {
	    {T_EQ, N_CMP, C_EQ},
	    {T_NE, N_CMP, C_NE},
	    {T_LT, N_CMP, C_LT},
	    {T_LE, N_CMP, C_LE},
	    {T_GT, N_CMP, C_GT},
	    {T_GE, N_CMP, C_GE},
	    {T_IN, N_IN, 0},
	    {T_CONTAINS, N_CONTAINS, 0},
	    {T_STARTS, N_STARTS, 0},
	    {T_ENDS, N_ENDS, 0},
	};
	size_t k, at = ps->tpos;
	int a = parse_add(ps), b, r;

	if (a < 0)
		return -1;
	if (ps->t == T_MATCH || ps->t == T_NMATCH) {
		/* The regex is lexed by parse_regex(): "/" is no token. */
		int neg = ps->t == T_NMATCH;
		ps->pos += ps->tlen;
		while (ps->pos < ps->len &&
		    strchr(" \t\r\n", ps->src[ps->pos]) &&
		    ps->src[ps->pos] != '\0')
			ps->pos++;
		ps->tpos = ps->pos;
		ps->tlen = 0;
		ps->t = ps->pos < ps->len ? T_IDENT : T_EOF;
		r = parse_regex(ps, a, neg);
		return r < 0 || chained(ps) < 0 ? -1 : r;
	}
	for (k = 0; k < sizeof cmps / sizeof cmps[0]; k++)
		if (cmps[k].t == ps->t)
			break;
	if (ps->e->n[a].op == N_LIST)
		return fail(ps, at, "a [...] list only goes after 'in'");
	if (k == sizeof cmps / sizeof cmps[0])
		return a;
	if (next(ps) < 0)
		return -1;
	at = ps->tpos;
	if ((b = parse_add(ps)) < 0)
		return -1;
	if (ps->e->n[b].op == N_LIST && cmps[k].op != N_IN)
		return fail(ps, at, "a [...] list only goes after 'in'");
	if (chained(ps))
		return -1;
	return binary(ps, cmps[k].op, cmps[k].sub, a, b);
}

static int
parse_unary(struct parser *ps)
{
	int a, i;

	if (ps->t != T_NOT)
		return parse_cmp(ps);
	if (++ps->depth > MAX_NEST)
		return fail(ps, ps->tpos, "expression nested too deep");
	if (next(ps) < 0 || (a = parse_unary(ps)) < 0)
		return -1;
	ps->depth--;
	if ((i = new_node(ps, N_NOT, 0)) < 0)
		return -1;
	ps->e->n[i].a = a;
	return i;
}

/*
 * A chain "a && b && c" (or with ||) is built right-deep, a && (b && c), in
 * a loop: eval() and needles() then walk a chain of any length in a loop
 * too, so only parentheses and "!" (bounded by MAX_NEST) use the C stack.
 * Same meaning: both operators are associative and evaluate left to right.
 */
static int
parse_chain(struct parser *ps, enum tok t, enum op op,
    int (*operand)(struct parser *))
{
	int *terms = NULL, n = 0, cap = 0, a, *m;

	for (;;) {
		if ((a = operand(ps)) < 0)
			break;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			if ((m = realloc(terms, (size_t)cap * sizeof *m)) ==
			    NULL) {
				a = fail(ps, ps->tpos, "out of memory");
				break;
			}
			terms = m;
		}
		terms[n++] = a;
		if (ps->t != t)
			break;
		if (next(ps) < 0) {
			a = -1;
			break;
		}
	}
	while (a >= 0 && n > 1) {
		n--;
		a = binary(ps, op, 0, terms[n - 1], terms[n]);
		terms[n - 1] = a;
	}
	free(terms);
	return a;
}

static int
parse_and(struct parser *ps)
{
	return parse_chain(ps, T_AND, N_AND, parse_unary);
}

static int
parse_or(struct parser *ps)
{
	int a;

	if (++ps->depth > MAX_NEST)
		return fail(ps, ps->tpos, "expression nested too deep");
	a = parse_chain(ps, T_OR, N_OR, parse_and);
	ps->depth--;
	return a;
}

/* --- evaluation --------------------------------------------------------- */

static const struct val ABSENT = {V_ABSENT, 0, 0, 0, 0, NULL, 0, {NULL, 0},
    {0, 0, 0}};

static void
eval_error(struct evk_expr *e, int rc, const char *msg)
{
	if (e->rc == 0) {
		e->rc = rc;
		evk__err(e->err, rc, 0, "%s", msg);
	}
}

/* Memory for a string made while evaluating; freed at the next eval. */
static char *
scratch(struct evk_expr *e, size_t n)
{
	char *p, **s;

	if (e->nscratch == e->scap) {
		size_t cap = e->scap ? e->scap * 2 : 8;
		if ((s = realloc(e->scratch, cap * sizeof *s)) == NULL)
			goto nomem;
		e->scratch = s;
		e->scap = cap;
	}
	if ((p = malloc(n + 1)) == NULL)
		goto nomem;
	e->scratch[e->nscratch++] = p;
	return p;
nomem:
	eval_error(e, EVK_ENOMEM, "out of memory");
	return NULL;
}

/* The bytes of a checked JSON string: in place when it has no escapes. */
static int
str_of(struct evk_expr *e, struct evk_span s, const char **p, size_t *n)
{
	struct evk_buf b = EVK_BUF_ZERO;
	char *m;

	if (memchr(s.p, '\\', s.len) == NULL) {
		*p = s.p + 1;
		*n = s.len - 2;
		return 0;
	}
	if (evk_json_unescape(s, &b) < 0 || (m = scratch(e, b.len)) == NULL) {
		evk_buf_free(&b);
		eval_error(e, EVK_ENOMEM, "out of memory");
		return -1;
	}
	if (b.len)
		memcpy(m, b.p, b.len);
	*p = m;
	*n = b.len;
	evk_buf_free(&b);
	return 0;
}

static struct val
from_json(struct evk_expr *e, struct evk_span s)
{
	struct val v = ABSENT;

	switch (s.len ? s.p[0] : 0) {
	case '{':
		v.t = V_OBJ;
		v.raw = s;
		break;
	case '[':
		v.t = V_ARR;
		v.raw = s;
		break;
	case '"':
		if (str_of(e, s, &v.s, &v.n) == 0)
			v.t = V_STR;
		break;
	case 't':
		v.t = V_BOOL;
		v.b = 1;
		break;
	case 'f':
		v.t = V_BOOL;
		v.b = 0;
		break;
	case 'n': v.t = V_NULL; break;
	case 0: break;
	default: num_of(s, &v); break;
	}
	return v;
}

static struct val
lookup(struct evk_expr *e, const struct node *nd)
{
	struct evk_span cur = e->ev;
	struct evk_json_iter it;
	struct evk_span k, v;

	for (int i = 0; i < nd->nsteps; i++) {
		const struct step *st = &nd->steps[i];
		long long idx = st->index, count = 0;
		if (st->key != NULL) {
			if (!evk_json_get(cur, st->key, st->klen, &cur))
				return ABSENT;
			continue;
		}
		if (evk_json_type_of(cur) != EVK_JSON_ARRAY)
			return ABSENT;
		if (idx < 0) { /* from the end: count first */
			evk_json_iter_init(&it, cur);
			while (evk_json_iter_next(&it, &k, &v))
				count++;
			if ((idx += count) < 0)
				return ABSENT;
		}
		evk_json_iter_init(&it, cur);
		for (;;) {
			if (!evk_json_iter_next(&it, &k, &v))
				return ABSENT;
			if (idx-- == 0)
				break;
		}
		cur = v;
	}
	return from_json(e, cur);
}

static int
truthy(const struct val *v)
{
	return !(
	    v->t == V_ABSENT || v->t == V_NULL || (v->t == V_BOOL && !v->b));
}

/* -1, 0, 1, or 2 when unordered (NaN). */
static int
num_cmp(const struct val *a, const struct val *b)
{
	double f;
	int64_t fi;

	if (a->isint && b->isint)
		return (a->i > b->i) - (a->i < b->i);
	if (!a->isint && !b->isint) {
		if (a->d != a->d || b->d != b->d)
			return 2;
		return (a->d > b->d) - (a->d < b->d);
	}
	if (!a->isint)
		return -num_cmp(b, a) == -2 ? 2 : -num_cmp(b, a);
	/* An exact int against a double, without rounding the int. */
	f = b->d;
	if (f != f)
		return 2;
	if (f >= 9223372036854775808.0)
		return -1;
	if (f < -9223372036854775808.0)
		return 1;
	fi = (int64_t)f; /* floor without libm: */
	if ((double)fi > f)
		fi--;
	if (a->i != fi)
		return (a->i > fi) - (a->i < fi);
	return f > (double)fi ? -1 : 0;
}

static int
str_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int r = memcmp(a, b, an < bn ? an : bn);

	if (r != 0)
		return r < 0 ? -1 : 1;
	return (an > bn) - (an < bn);
}

static int
to_time(const struct val *v, struct evk_time *t)
{
	if (v->t == V_TIME) {
		*t = v->tm;
		return 0;
	}
	if (v->t == V_STR)
		return evk_time_parse(v->s, v->n, t, NULL);
	return -1;
}

static int compare(struct evk_expr *e, const struct val *a, const struct val *b,
    int op);

/* Structural equality of two checked JSON values. */
static int
deep_eq(struct evk_expr *e, struct evk_span a, struct evk_span b)
{
	struct val va = from_json(e, a), vb = from_json(e, b);
	struct evk_json_iter ia, ib;
	struct evk_span ka, xa, kb, xb;
	long long na = 0, nb = 0;

	if (va.t != vb.t)
		return 0;
	if (va.t != V_ARR && va.t != V_OBJ)
		return compare(e, &va, &vb, C_EQ);
	evk_json_iter_init(&ia, a);
	evk_json_iter_init(&ib, b);
	if (va.t == V_ARR) {
		for (;;) {
			int ha = evk_json_iter_next(&ia, &ka, &xa);
			int hb = evk_json_iter_next(&ib, &kb, &xb);
			if (ha != hb)
				return 0;
			if (!ha)
				return 1;
			if (!deep_eq(e, xa, xb))
				return 0;
		}
	}
	while (evk_json_iter_next(&ib, &kb, &xb))
		nb++;
	while (evk_json_iter_next(&ia, &ka, &xa)) {
		const char *k;
		size_t kn;
		na++;
		if (str_of(e, ka, &k, &kn) < 0 ||
		    !evk_json_get(b, k, kn, &xb) || !deep_eq(e, xa, xb))
			return 0;
	}
	return na == nb;
}

/* The comparison rules: one type on both sides (a time against a string
 * holding an RFC 3339 time counts as two times); otherwise only "!=" is
 * true. */
static int
compare(struct evk_expr *e, const struct val *a, const struct val *b, int op)
{
	struct evk_time ta, tb;
	int r = 2;

	if (a->t == V_ABSENT || b->t == V_ABSENT)
		return op == C_NE;
	if (a->t == V_TIME || b->t == V_TIME) {
		if (to_time(a, &ta) == 0 && to_time(b, &tb) == 0)
			r = ta.sec != tb.sec
			    ? (ta.sec > tb.sec) - (ta.sec < tb.sec)
			    : (ta.nsec > tb.nsec) - (ta.nsec < tb.nsec);
	} else if (a->t != b->t) {
		r = 2;
	} else {
		switch (a->t) {
		case V_NULL: r = op == C_EQ || op == C_NE ? 0 : 2; break;
		case V_BOOL:
			r = op == C_EQ || op == C_NE ? a->b != b->b : 2;
			break;
		case V_NUM: r = num_cmp(a, b); break;
		case V_STR: r = str_cmp(a->s, a->n, b->s, b->n); break;
		case V_ARR:
		case V_OBJ:
			r = op == C_EQ || op == C_NE
			    ? !deep_eq(e, a->raw, b->raw)
			    : 2;
			break;
		default: r = 2;
		}
	}
	if (r == 2)
		return op == C_NE;
	switch (op) {
	case C_EQ: return r == 0;
	case C_NE: return r != 0;
	case C_LT: return r < 0;
	case C_LE: return r <= 0;
	case C_GT: return r > 0;
	default: return r >= 0;
	}
}

static struct val
boolean(int b)
{
	struct val v = ABSENT;

	v.t = V_BOOL;
	v.b = b;
	return v;
}

static struct val
string(const char *s)
{
	struct val v = ABSENT;

	v.t = V_STR;
	v.s = s;
	v.n = strlen(s);
	return v;
}

/* Does the array (JSON or list literal) `arr` hold a value equal to x? */
static int
holds(struct evk_expr *e, const struct val *arr, const struct val *x)
{
	struct evk_json_iter it;
	struct evk_span k, v;
	struct val el;

	if (arr->t == V_LIST) {
		for (int i = (int)arr->i; i >= 0; i = e->n[i].next)
			if (compare(e, x, &e->n[i].lit, C_EQ))
				return 1;
		return 0;
	}
	if (arr->t != V_ARR)
		return 0;
	evk_json_iter_init(&it, arr->raw);
	while (evk_json_iter_next(&it, &k, &v)) {
		el = from_json(e, v);
		if (compare(e, x, &el, C_EQ))
			return 1;
	}
	return 0;
}

static struct val eval(struct evk_expr *e, int i);
static int has(const char *p, size_t n, const char *s, size_t k);

static struct val
call(struct evk_expr *e, const struct node *nd)
{
	static const char *const names[] = {
	    [V_ABSENT] = "absent",
	    [V_NULL] = "null",
	    [V_BOOL] = "boolean",
	    [V_NUM] = "number",
	    [V_STR] = "string",
	    [V_ARR] = "array",
	    [V_OBJ] = "object",
	    [V_TIME] = "time",
	    [V_LIST] = "array",
	};
	struct val x = nd->a >= 0 ? eval(e, nd->a) : ABSENT, r = ABSENT;
	struct evk_json_iter it;
	struct evk_span k, v;
	char *m;

	switch (nd->op) {
	case N_EXISTS: return boolean(x.t != V_ABSENT);
	case N_LEN:
		r.t = V_NUM;
		r.isint = 1;
		if (x.t == V_STR) {
			for (size_t j = 0; j < x.n; j++)
				r.i += ((unsigned char)x.s[j] & 0xc0) != 0x80;
		} else if (x.t == V_ARR || x.t == V_OBJ) {
			evk_json_iter_init(&it, x.raw);
			while (evk_json_iter_next(&it, &k, &v))
				r.i++;
		} else {
			return ABSENT;
		}
		r.d = (double)r.i;
		return r;
	case N_LOWER:
	case N_UPPER:
		if (x.t != V_STR || (m = scratch(e, x.n)) == NULL)
			return ABSENT;
		for (size_t j = 0; j < x.n; j++) {
			char c = x.s[j];
			if (nd->op == N_LOWER && c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			else if (nd->op == N_UPPER && c >= 'a' && c <= 'z')
				c = (char)(c - 'a' + 'A');
			m[j] = c;
		}
		x.s = m;
		return x;
	case N_TYPE: return string(names[x.t]);
	case N_TIMEFN:
		if (to_time(&x, &r.tm) < 0)
			return ABSENT;
		r.t = V_TIME;
		return r;
	case N_NOW:
		if (!e->have_now) {
			evk_time_now(&e->now);
			e->have_now = 1;
		}
		r.t = V_TIME;
		r.tm = e->now;
		return r;
	case N_TOPIC:
		if (!evk_json_get(e->ev, "type", 4, &v) ||
		    (x = from_json(e, v)).t != V_STR)
			return boolean(0);
		return boolean(evk_topic_match(nd->str, nd->slen, x.s, x.n));
	default: return ABSENT;
	}
}

static struct val
eval_node(struct evk_expr *e, int i)
{
	const struct node *nd = &e->n[i];
	struct val a, b;
	int rc;

	switch (nd->op) {
	case N_NOT: a = eval(e, nd->a); return boolean(!truthy(&a));
	case N_PATH: return lookup(e, nd);
	case N_LIT: return nd->lit;
	case N_LIST:
		a = ABSENT;
		a.t = V_LIST;
		a.i = nd->a;
		return a;
	case N_CMP:
		a = eval(e, nd->a);
		b = eval(e, nd->b);
		return boolean(compare(e, &a, &b, nd->sub));
	case N_IN:
		a = eval(e, nd->a);
		b = eval(e, nd->b);
		return boolean(a.t != V_ABSENT && holds(e, &b, &a));
	case N_CONTAINS:
		a = eval(e, nd->a);
		b = eval(e, nd->b);
		if (a.t == V_STR && b.t == V_STR)
			return boolean(b.n == 0 || has(a.s, a.n, b.s, b.n));
		return boolean(b.t != V_ABSENT && holds(e, &a, &b));
	case N_STARTS:
	case N_ENDS:
		a = eval(e, nd->a);
		b = eval(e, nd->b);
		if (a.t != V_STR || b.t != V_STR || b.n > a.n)
			return boolean(0);
		return boolean(
		    !memcmp(nd->op == N_STARTS ? a.s : a.s + a.n - b.n, b.s,
		        b.n));
	case N_MATCH:
		a = eval(e, nd->a);
		if (a.t != V_STR)
			return boolean(nd->sub);
		rc = nd->jit ? pcre2_jit_match(nd->re, (PCRE2_SPTR)a.s, a.n, 0,
		                   0, nd->md, NULL)
		             : pcre2_match(nd->re, (PCRE2_SPTR)a.s, a.n, 0,
		                   PCRE2_NO_UTF_CHECK, nd->md, NULL);
		if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
			eval_error(e, EVK_ERANGE,
			    "regular expression: match "
			    "limit reached");
			return boolean(0);
		}
		return boolean((rc >= 0) != nd->sub);
	case N_ADD:
		a = eval(e, nd->a);
		if (to_time(&a, &b.tm) < 0)
			return ABSENT;
		b.t = V_TIME;
		b.tm.sec += nd->dur / 1000000000;
		b.tm.nsec += (int32_t)(nd->dur % 1000000000);
		if (b.tm.nsec < 0) {
			b.tm.nsec += 1000000000;
			b.tm.sec--;
		} else if (b.tm.nsec >= 1000000000) {
			b.tm.nsec -= 1000000000;
			b.tm.sec++;
		}
		return b;
	default: return call(e, nd);
	}
}

/* && and || short-circuit; their chains are right-deep (parse_chain()), so
 * the right operand is taken in this loop rather than by recursion. */
static struct val
eval(struct evk_expr *e, int i)
{
	struct val v;
	int chained = 0;

	while (e->n[i].op == N_AND || e->n[i].op == N_OR) {
		v = eval(e, e->n[i].a);
		if (truthy(&v) == (e->n[i].op == N_OR))
			return boolean(truthy(&v));
		i = e->n[i].b;
		chained = 1;
	}
	v = eval_node(e, i);
	return chained ? boolean(truthy(&v)) : v;
}

int
evk_expr_eval(struct evk_expr *e, struct evk_span ev, struct evk_err *err)
{
	struct val v;

	while (ev.len > 0 && strchr(" \t\r\n", ev.p[0]) && ev.p[0] != '\0')
		ev.p++, ev.len--;
	scratch_reset(e);
	e->rc = 0;
	e->err = err;
	e->have_now = 0;
	e->ev = ev;
	v = eval(e, e->root);
	if (e->rc < 0)
		return e->rc;
	return truthy(&v);
}

/* --- prefilter -------------------------------------------------------------- */

/* The byte of `s` least likely to occur in JSON text, by a fixed ranking
 * of common bytes (structure first, then digits and frequent letters):
 * memchr() on it stops rarely, so a search costs little more than one
 * memchr() over the line. */
static size_t
rare(const char *s, size_t k)
{
	static const char common[] = "\":,{}0123456789 etaoinsrlcdumphg."
	                             "-_fybwTZ/vkxjqz";
	size_t i, best = k - 1;
	const char *r, *rb = NULL;

	for (i = 0; i < k; i++) {
		r = memchr(common, s[i], sizeof common - 1);
		if (r == NULL)
			return i; /* not in the list: rarer than all */
		if (rb == NULL || r > rb) {
			rb = r;
			best = i;
		}
	}
	return best;
}

/* memmem() for short lines: memchr() on byte `at` of the needle, then
 * compare. */
static int
has_at(const char *p, size_t n, const char *s, size_t k, size_t at)
{
	const char *q, *end;

	if (n < k)
		return 0;
	q = p + at;
	end = p + n - (k - 1 - at);
	while (q < end && (q = memchr(q, s[at], (size_t)(end - q))) != NULL) {
		if (!memcmp(q - at, s, k))
			return 1;
		q++;
	}
	return 0;
}

static int
has(const char *p, size_t n, const char *s, size_t k)
{
	return has_at(p, n, s, k, rare(s, k));
}

/* Adds `pre` + minimally escaped `s` + `post` as a needed string. */
static int
add_needle(struct evk_expr *e, const char *pre, const char *s, size_t n,
    const char *post)
{
	struct evk_buf b = EVK_BUF_ZERO;
	char **nd;
	size_t *nl;

	if (evk_buf_adds(&b, pre) < 0 || evk_json_escape(&b, s, n) < 0)
		goto nomem;
	/* evk_json_escape() wrote the quotes: drop them, keep our own. */
	memmove(b.p + strlen(pre), b.p + strlen(pre) + 1,
	    b.len - strlen(pre) - 2);
	b.len -= 2;
	if (evk_buf_adds(&b, post) < 0)
		goto nomem;
	if (b.len < 2) { /* too short to be worth a search */
		evk_buf_free(&b);
		return 0;
	}
	nd = realloc(e->needles, (e->nneedles + 1) * sizeof *nd);
	if (nd == NULL)
		goto nomem;
	e->needles = nd;
	nl = realloc(e->nlen, (e->nneedles + 1) * sizeof *nl);
	if (nl == NULL)
		goto nomem;
	e->nlen = nl;
	nl = realloc(e->nrare, (e->nneedles + 1) * sizeof *nl);
	if (nl == NULL)
		goto nomem;
	e->nrare = nl;
	e->nrare[e->nneedles] = rare(b.p, b.len);
	e->needles[e->nneedles] = b.p;
	e->nlen[e->nneedles++] = b.len;
	return 0;
nomem:
	evk_buf_free(&b);
	return -1;
}

/* Collects what the conjunct `i` needs in the raw line. */
static int
needles(struct evk_expr *e, int i)
{
	struct node *nd = &e->n[i];
	struct node *a, *b;
	int exact;
	size_t pl;

	/* Down the right-deep && chain in a loop (see parse_chain()). */
	while (nd->op == N_AND) {
		if (needles(e, nd->a) < 0)
			return -1;
		nd = &e->n[nd->b];
	}
	switch (nd->op) {
	case N_TOPIC:
		pl = evk_topic_literal_prefix(nd->str, nd->slen, &exact);
		if (pl == 0)
			return 0;
		return add_needle(e, "\"", nd->str, pl, exact ? "\"" : "");
	case N_CMP:
	case N_CONTAINS:
	case N_STARTS:
	case N_ENDS: break;
	default: return 0;
	}
	a = &e->n[nd->a];
	b = &e->n[nd->b];
	if (nd->op == N_CMP && nd->sub == C_EQ && a->op == N_LIT &&
	    b->op == N_PATH) {
		struct node *t = a;
		a = b;
		b = t;
	}
	if (a->op != N_PATH || b->op != N_LIT || b->lit.t != V_STR)
		return 0;
	if (nd->op == N_CMP)
		return nd->sub == C_EQ
		    ? add_needle(e, "\"", b->lit.s, b->lit.n, "\"")
		    : 0;
	if (nd->op == N_CONTAINS) /* substring, or an element of an array */
		return add_needle(e, "", b->lit.s, b->lit.n, "");
	if (nd->op == N_STARTS)
		return add_needle(e, "\"", b->lit.s, b->lit.n, "");
	return add_needle(e, "", b->lit.s, b->lit.n, "\"");
}

int
evk_expr_prefilter(const struct evk_expr *e, const char *p, size_t n)
{
	size_t i;
	const char *bs;

	if (e->nneedles == 0)
		return 1;
	for (i = 0; i < e->nneedles; i++)
		if (!has_at(p, n, e->needles[i], e->nlen[i], e->nrare[i]))
			break;
	if (i == e->nneedles)
		return 1;
	/* A needle is missing; an escape could still spell it. */
	for (bs = p; bs < p + n &&
	     (bs = memchr(bs, '\\', (size_t)(p + n - bs))) != NULL;
	     bs += 2)
		if (bs + 1 < p + n && (bs[1] == 'u' || bs[1] == '/'))
			return 1;
	return 0;
}

size_t
evk_expr_prefilter_count(const struct evk_expr *e)
{
	return e->nneedles;
}

/* --- public: compile ---------------------------------------------------------- */

static struct evk_expr *
finish(struct evk_expr *e, int root, struct evk_err *err)
{
	if (root < 0) {
		evk_expr_free(e);
		return NULL;
	}
	e->root = root;
	for (size_t i = 0; i < e->nneedles; i++)
		free(e->needles[i]);
	e->nneedles = 0;
	if (needles(e, root) < 0) {
		evk__err(err, EVK_ENOMEM, 0, "out of memory");
		evk_expr_free(e);
		return NULL;
	}
	return e;
}

struct evk_expr *
evk_expr_compile(const char *src, struct evk_err *err)
{
	struct parser ps;
	struct evk_expr *e = calloc(1, sizeof *e);
	int root = -1;

	memset(&ps, 0, sizeof ps);
	if (e == NULL || (ps.json = evk_json_checker_new(NULL)) == NULL) {
		free(e);
		evk__err(err, EVK_ENOMEM, 0, "out of memory");
		return NULL;
	}
	ps.e = e;
	ps.src = src;
	ps.len = strlen(src);
	ps.err = err;
	ps.depth = -1; /* the expression itself is not a level of nesting */
	if (next(&ps) == 0) {
		if (ps.t == T_EOF)
			fail(&ps, 0, "empty expression");
		else if ((root = parse_or(&ps)) >= 0 && ps.t != T_EOF) {
			if (ps.t == T_RPAREN)
				fail(&ps, ps.tpos,
				    "unexpected ')' (no '(' to "
				    "close)");
			else
				unexpected(&ps);
			root = -1;
		}
	}
	if (ps.failed)
		root = -1;
	evk_buf_free(&ps.sval);
	evk_json_checker_free(ps.json);
	return finish(e, root, err);
}

struct evk_expr *
evk_expr_topic(const char *pattern, struct evk_err *err)
{
	struct evk_expr *e = calloc(1, sizeof *e);
	size_t n = strlen(pattern);
	int i;

	if (evk_topic_check(pattern, n, 1, err) < 0) {
		free(e);
		return NULL;
	}
	if (e == NULL || (i = node(e, N_TOPIC)) < 0 ||
	    (e->n[i].str = malloc(n + 1)) == NULL) {
		evk__err(err, EVK_ENOMEM, 0, "out of memory");
		evk_expr_free(e);
		return NULL;
	}
	memcpy(e->n[i].str, pattern, n + 1);
	e->n[i].slen = n;
	return finish(e, i, err);
}

struct evk_expr *
evk_expr_join(struct evk_expr *a, struct evk_expr *b, int and_)
{
	struct node *nd;
	int off, i, root;

	if (a == NULL || b == NULL)
		goto fail;
	nd = realloc(a->n, (size_t)(a->nn + b->nn + 1) * sizeof *nd);
	if (nd == NULL)
		goto fail;
	a->n = nd;
	a->cap = a->nn + b->nn + 1;
	off = a->nn;
	/* b's nodes move over, their links shifted. */
	for (i = 0; i < b->nn; i++) {
		struct node *m = &a->n[off + i];
		*m = b->n[i];
		if (m->a >= 0)
			m->a += off;
		if (m->b >= 0)
			m->b += off;
		if (m->next >= 0)
			m->next += off;
	}
	a->nn += b->nn;
	b->nn = 0; /* b no longer owns its nodes' memory */
	root = node(a, and_ ? N_AND : N_OR);
	a->n[root].a = a->root;
	a->n[root].b = b->root + off;
	evk_expr_free(b);
	return finish(a, root, NULL);
fail:
	evk_expr_free(a);
	evk_expr_free(b);
	return NULL;
}
