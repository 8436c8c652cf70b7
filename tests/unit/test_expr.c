/*
 * tests/unit/test_expr.c - the expression language of lib/expr.c: the
 * lexer and parser (every error message with its column, what compiles),
 * the evaluator (every type rule, table by table), the prefilter (exact
 * over generated events), topic expressions and joins, and regression
 * tests for the bugs found in it.
 *
 * Every event is checked with evk_json_check() first (a table row with a
 * bad event fails), then copied into a buffer of exactly its length, so
 * that under SAN=1 a read past it is an error; on every row the prefilter
 * must not rule out an event that matches.  Tests that can crash the
 * library run in a child process, so that a crash fails that test only.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evkit/expr.h"
#include "evkit/json.h"
#include "evkit/time.h"
#include "t.h"

static struct evk_json_checker *chk;

/* Shows text in a TAP comment, control bytes and backslashes escaped. */
static void
show(const char *label, const char *s)
{
	size_t i, n = strlen(s);

	printf("#   %s: \"", label);
	for (i = 0; i < n && i < 160; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch != 0x7f && ch != '\\')
			putchar(ch);
		else
			printf("\\x%02x", ch);
	}
	printf("%s\"\n", i < n ? "..." : "");
}

/* Special results of run(), beside 0, 1 and EVK_E* codes. */
#define R_NOCOMPILE (-1000) /* the expression did not compile */
#define R_BADEVENT (-1001) /* the event of the row is not valid JSON */
#define R_PREFILTER (-1002) /* matched, but the prefilter ruled it out */

/* Compiles `src` and evaluates it on the event `ev`.  Returns 0, 1 or a
 * negative code from evk_expr_eval(), or one of the R_* above; `err`
 * (may be NULL) gets the error. */
static int
run_err(const char *src, const char *ev, struct evk_err *err)
{
	struct evk_err e0 = EVK_ERR_ZERO;
	struct evk_expr *e;
	struct evk_span sp;
	size_t n = strlen(ev);
	char *p;
	int r;

	if (err == NULL)
		err = &e0;
	if ((e = evk_expr_compile(src, err)) == NULL)
		return R_NOCOMPILE;
	if (evk_json_check(chk, ev, n, NULL, NULL) != 0) {
		evk_expr_free(e);
		return R_BADEVENT;
	}
	p = t_dup_exact(ev, n);
	sp.p = p;
	sp.len = n;
	r = evk_expr_eval(e, sp, err);
	if (r == 1 && !evk_expr_prefilter(e, p, n))
		r = R_PREFILTER;
	free(p);
	evk_expr_free(e);
	return r;
}

static int
run(const char *src, const char *ev)
{
	return run_err(src, ev, NULL);
}

struct row {
	const char *expr;
	const char *ev;
	int want;
};

#define NROWS(t) (sizeof(t) / sizeof((t)[0]))

static void
check_rows(const struct row *rows, size_t n)
{
	struct evk_err err;

	for (size_t i = 0; i < n; i++) {
		int got;
		memset(&err, 0, sizeof err);
		got = run_err(rows[i].expr, rows[i].ev, &err);
		if (got != rows[i].want) {
			t_cur_fail++;
			show("expression", rows[i].expr);
			show("event", rows[i].ev);
			printf("#   got %d, expected %d%s%s\n", got,
			    rows[i].want, err.msg[0] ? ": " : "", err.msg);
		}
	}
}

/*** the lexer and the parser: errors ***/

static const struct {
	const char *src;
	size_t column;
	const char *msg; /* the whole message */
} bad[] = {
    /* unexpected tokens, end of input */
    {"a ==", 5, "unexpected end of expression"},
    {"== 1", 1, "unexpected '=='"},
    {"a == == 1", 6, "unexpected '=='"},
    {"a b", 3, "unexpected 'b'"},
    {"a == 1 2", 8, "unexpected '2'"},
    {"true false", 6, "unexpected 'false'"},
    {"a == 1 &&", 10, "unexpected end of expression"},
    {"&& a", 1, "unexpected '&&'"},
    {"a || || b", 6, "unexpected '||'"},
    {"!", 2, "unexpected end of expression"},
    {"a contains", 11, "unexpected end of expression"},
    {"a == -", 7, "unexpected end of expression"},
    {"a == -x", 7, "unexpected 'x'"},
    {"a == +1", 6, "unexpected '+'"},
    {"a == 1 @", 8, "unexpected '@'"},
    {"a == \"x\" # y", 10, "unexpected '#'"},
    {"a = 1", 3, "unexpected '='"},
    {"a & b", 3, "unexpected '&'"},
    {"a | b", 3, "unexpected '|'"},
    {"a == 'x'", 6, "unexpected '''"},
    {"len()", 5, "unexpected ')'"},
    {"in == 1", 1, "unexpected 'in'"},
    {"a in [1,]", 9, "unexpected ']'"},
    {"a in [b]", 7, "unexpected 'b'"},
    /* parentheses */
    {")", 1, "unexpected ')'"},
    {"(a", 3, "missing ')'"},
    {"(a == 1", 8, "missing ')'"},
    {"((a) || (b)", 12, "missing ')'"},
    {"a == 1)", 7, "unexpected ')' (no '(' to close)"},
    {"((a == 1)))", 11, "unexpected ')' (no '(' to close)"},
    {"(a b)", 4, "unexpected 'b'"},
    {"len(a", 6, "expected ')' to close len("},
    {"lower(a, b)", 8, "expected ')' to close lower("},
    /* strings */
    {"a == \"abc", 6, "unterminated string"},
    {"\"abc", 1, "unterminated string"},
    {"a == \"abc\\\"", 6, "unterminated string"},
    {"a == \"a\\qb\"", 8, "invalid string: invalid escape '\\q'"},
    {"a == \"a\\u12\"", 8,
        "invalid string: invalid \\u escape: 4 hex digits expected"},
    {"a == \"\\ud800\"", 7, "invalid string: unpaired surrogate \\ud800"},
    {"a == \"\\u0000\"", 7, "invalid string: \\u0000 not allowed"},
    {"a == \"\x01\"", 7, "invalid string: unexpected byte 0x01 in string"},
    /* numbers */
    {"a == 01", 6, "invalid number '01'"},
    {"a == 1.", 6, "invalid number '1.'"},
    {"a == 1..2", 6, "invalid number '1..2'"},
    {"a == 0.5.5", 6, "invalid number '0.5.5'"},
    {"a == 99999999999999999999999999999999999999999999999999999999999999999",
        6, "number too long"},
    /* times */
    {"a == 2024-13-01T00:00:00Z", 6, "invalid time '2024-13-01T00:00:00Z'"},
    {"a == 2024-01-01", 6, "invalid time '2024-01-01'"},
    {"a == 2024-02-30T00:00:00Z", 6, "invalid time '2024-02-30T00:00:00Z'"},
    {"a == 2024-01-01T00:00:00", 6, "invalid time '2024-01-01T00:00:00'"},
    {"a > 2024-01-01T00:00:00Z-1h", 5, "invalid time '2024-01-01T00:00:00Z-1'"},
    /* durations */
    {"a > now() - 10x", 15,
        "unknown duration unit (use ns, us, ms, s, m, h or d)"},
    {"a > now() - 10min", 15,
        "unknown duration unit (use ns, us, ms, s, m, h or d)"},
    {"a > now() - 10m5", 17,
        "unknown duration unit (use ns, us, ms, s, m, h or d)"},
    {"a == 1e", 7, "unknown duration unit (use ns, us, ms, s, m, h or d)"},
    {"a > now() - 100000d100000d", 13, "duration too long"},
    {"a > now() - 9223372036854775808ns", 13, "duration too long"},
    {"a > now() - 106752d", 13, "duration too long"},
    {"a > 10m", 5, "a duration only goes after '+' or '-' with a time"},
    {"10m", 1, "a duration only goes after '+' or '-' with a time"},
    {"a > now() - 1", 13, "a duration (like 10m) must follow '-'"},
    {"a > now() + x", 13, "a duration (like 10m) must follow '+'"},
    {"a > now() -", 12, "a duration (like 10m) must follow '-'"},
    /* functions */
    {"foo(a)", 1, "unknown function 'foo'"},
    {"a && size (a)", 6, "unknown function 'size'"},
    {"exists()", 8, "exists() takes a path"},
    {"exists(a == 1)", 1, "exists() takes a path"},
    {"exists(\"a\")", 8, "exists() takes a path"},
    {"exists(len(a))", 1, "exists() takes a path"},
    {"now(x)", 5, "now() takes no argument"},
    {"now(", 5, "now() takes no argument"},
    {"topic(a)", 7, "topic() takes a \"pattern\""},
    {"topic()", 7, "topic() takes a \"pattern\""},
    {"topic(\"a..b\")", 7, "topic pattern: empty token in topic"},
    {"topic(\"\")", 7, "topic pattern: empty topic"},
    {"topic(\"a.>.b\")", 7, "topic pattern: '>' must be the last token"},
    {"topic(\"a b\")", 7,
        "topic pattern: whitespace or control character in topic"},
    {"topic(\"a\" \"b\")", 11, "expected ')' to close topic("},
    /* regular expressions */
    {"a =~", 5, "expected /regex/ after '=~'"},
    {"a =~ abc", 6, "expected /regex/ after '=~'"},
    {"a !~", 5, "expected /regex/ after '!~'"},
    {"a =~ /abc", 6, "unterminated regular expression"},
    {"a =~ /abc\\/", 6, "unterminated regular expression"},
    {"a =~ /(/", 8, "invalid regex: missing closing parenthesis"},
    {"x =~ /a{2,1}/", 12,
        "invalid regex: numbers out of order in {} quantifier"},
    /* the column counts "\/" as two bytes of the source */
    {"x =~ /\\/\\/\\/a{2,1}/", 18,
        "invalid regex: numbers out of order in {} quantifier"},
    {"a =~ /abc/q", 11, "unknown regex flag 'q' (i, m, s, x)"},
    {"a =~ /abc/g", 11, "unknown regex flag 'g' (i, m, s, x)"},
    {"a =~ /abc/iq", 12, "unknown regex flag 'q' (i, m, s, x)"},
    /* lists */
    {"[1,2]", 1, "a [...] list only goes after 'in'"},
    {"a == [1]", 6, "a [...] list only goes after 'in'"},
    {"[1] == a", 1, "a [...] list only goes after 'in'"},
    {"[1,2] && x", 1, "a [...] list only goes after 'in'"},
    {"a contains [1]", 12, "a [...] list only goes after 'in'"},
    {"a in [1,2", 10, "expected ',' or ']'"},
    {"a in [1 2]", 9, "expected ',' or ']'"},
    /* chained comparisons */
    {"a == 1 == 2", 8, "comparisons do not chain: use && or parentheses"},
    {"a < b < c", 7, "comparisons do not chain: use && or parentheses"},
    {"a == b =~ /x/", 8, "comparisons do not chain: use && or parentheses"},
    {"a =~ /x/ == true", 10, "comparisons do not chain: use && or parentheses"},
    {"x in [1] in [2]", 10, "comparisons do not chain: use && or parentheses"},
    {"a contains b startswith c", 14,
        "comparisons do not chain: use && or parentheses"},
    /* paths */
    {"a[", 3, "expected an index or a \"key\" in [ ]"},
    {"a[x]", 3, "expected an index or a \"key\" in [ ]"},
    {"a[1.5]", 3, "expected an index or a \"key\" in [ ]"},
    {"a[1e2]", 3, "expected an index or a \"key\" in [ ]"},
    {"a[1234567890]", 3, "expected an index or a \"key\" in [ ]"},
    {"a[1", 4, "expected ']'"},
    {"a[\"k\"", 6, "expected ']'"},
    {"a.", 3, "expected a name after '.'"},
    {"a.1", 3, "expected a name after '.'"},
    {"a..b", 3, "expected a name after '.'"},
    /* empty, control and other bytes */
    {"", 1, "empty expression"},
    {" \t\r\n", 1, "empty expression"},
    {"a == 1 \x01", 8, "unexpected byte 0x01"},
    {"\x7f", 1, "unexpected byte 0x7f"},
    {"a\x0b== 1", 2, "unexpected byte 0x0b"},
    {"a == 1 \xc3\xa9", 8, "unexpected byte 0xc3"},
    {"\xc3\xa9t\xc3\xa9 == 1", 1, "unexpected byte 0xc3"},
};

/* Nothing printable is a problem: no control bytes, no final period. */
static int
msg_clean(const char *m)
{
	size_t n = strlen(m);

	if (n == 0 || m[n - 1] == '.')
		return 0;
	for (; *m != '\0'; m++)
		if ((unsigned char)*m < 0x20 || *m == 0x7f)
			return 0;
	return 1;
}

TEST(compile_errors)
{
	struct evk_err e;
	struct evk_expr *x;

	for (size_t i = 0; i < NROWS(bad); i++) {
		memset(&e, 0, sizeof e);
		e.line = 7;
		x = evk_expr_compile(bad[i].src, &e);
		if (x != NULL || e.code != EVK_EINVAL ||
		    e.column != bad[i].column || strcmp(e.msg, bad[i].msg) ||
		    !msg_clean(e.msg) || e.column > strlen(bad[i].src) + 1) {
			t_cur_fail++;
			show("expression", bad[i].src);
			printf("#   got %s code %d column %zu \"%s\"; expected "
			       "column %zu \"%s\"\n",
			    x ? "a compiled expression," : "", e.code, e.column,
			    e.msg, bad[i].column, bad[i].msg);
		}
		evk_expr_free(x);
		/* A NULL error is allowed. */
		x = evk_expr_compile(bad[i].src, NULL);
		CHECK(x == NULL);
		evk_expr_free(x);
	}
	printf("#   %zu bad expressions\n", NROWS(bad));
}

/* Repeats `unit` n times between `pre` and `post`. */
static char *
repeat(const char *pre, const char *unit, size_t n, const char *mid,
    const char *post)
{
	size_t lp = strlen(pre), lu = strlen(unit), lm = strlen(mid),
	       lq = strlen(post);
	char *s = malloc(lp + n * lu + lm + n * lq + 1), *p = s;

	if (s == NULL)
		exit(2);
	memcpy(p, pre, lp);
	p += lp;
	for (size_t i = 0; i < n; i++, p += lu)
		memcpy(p, unit, lu);
	memcpy(p, mid, lm);
	p += lm;
	for (size_t i = 0; i < n; i++, p += lq)
		memcpy(p, post, lq);
	*p = '\0';
	return s;
}

/* Compiles; returns the error column (0 when it compiled). */
static size_t
depth_column(const char *unit, size_t n, const char *post, char *msg,
    size_t msize)
{
	struct evk_err e = EVK_ERR_ZERO;
	char *s = repeat("", unit, n, "a", post);
	struct evk_expr *x = evk_expr_compile(s, &e);
	size_t col = x ? 0 : e.column;

	snprintf(msg, msize, "%s", x ? "" : e.msg);
	if (x != NULL && run(s, "{\"a\":1}") < 0)
		col = (size_t)-1;
	evk_expr_free(x);
	free(s);
	return col;
}

/* The limit on nesting: 200 levels of parentheses, "!" and call
 * arguments compile, 201 do not; the column is that of the token that
 * opens the 201st level's content. */
TEST(compile_nesting)
{
	char msg[256];

	CHECK_INT(depth_column("(", 199, ")", msg, sizeof msg), 0);
	CHECK_INT(depth_column("(", 201, ")", msg, sizeof msg), 202);
	CHECK_STR(msg, "expression nested too deep");
	CHECK_INT(depth_column("(", 5000, ")", msg, sizeof msg), 202);
	CHECK_INT(depth_column("!", 199, "", msg, sizeof msg), 0);
	CHECK_INT(depth_column("!", 201, "", msg, sizeof msg), 201);
	CHECK_STR(msg, "expression nested too deep");
	CHECK_INT(depth_column("!", 100000, "", msg, sizeof msg), 201);
	/* "!(" is two levels */
	CHECK_INT(depth_column("!(", 99, ")", msg, sizeof msg), 0);
	CHECK_INT(depth_column("!(", 101, ")", msg, sizeof msg), 201);
	/* a call's argument is a level */
	CHECK_INT(depth_column("len(", 150, ")", msg, sizeof msg), 0);
	CHECK_INT(depth_column("len(", 201, ")", msg, sizeof msg), 805);
	CHECK_STR(msg, "expression nested too deep");
}

/* What compiles, and how many prefilter strings it gives. */
static const struct {
	const char *src;
	size_t needles;
} good[] = {
    {"a", 0},
    {".", 0},
    {".a", 0},
    {".a[0]", 0},
    {".[0]", 0},
    {"a.[0]", 0},
    {"a [0] . b", 0},
    {"a.b.c[1][-1][\"k\"].d", 0},
    {"a[\"odd key\"][\"\\u00e9\"]", 0},
    {"a[ 0 ]", 0},
    {"a[-0]", 0},
    {"a[999999999]", 0},
    {"a.in && a.contains && a.startswith && a.endswith", 0},
    {"a.true && a.false && a.null && .in && .true", 0},
    {"type && time && len && now && exists && topic", 0},
    {"$x == 1 && _y_2 == 2 && a$b == 3", 0},
    {"\ta\r\n==\n1\t", 0},
    {"exists (a) && len ( a ) > 0", 0},
    {"a == \"x\"", 1},
    {"\"x\" == a", 1},
    {"a == \"\"", 1},
    {"a == \"\\u00e9t\\u00e9 \\ud83d\\ude00 \\n\\t\\\\\\/\\\"\"", 1},
    {"a != \"xy\"", 0},
    {"a < \"xy\"", 0},
    {"a == 1", 0},
    {"a == true && b == null && c == false", 0},
    {"a == -1 && b == -0 && c == -1.5e-3 && d == 1E+2", 0},
    {"a == 9223372036854775807 && b == -9223372036854775808", 0},
    {"a == 18446744073709551616 && b == 1e400 && c == -1e400", 0},
    {"a == 2024-01-01T00:00:00Z && b < 2024-06-01t09:30:00.250+02:00", 0},
    {"a == 2016-12-31T23:59:60Z", 0},
    {"a > now() - 1h30m && a < now() + 500ms && b > now() - 1.5s", 0},
    {"now() - 10ns < now() + 3us && now() - 2d < now()", 0},
    {"a > now() - 1d2h3m4s5ms6us7ns", 0},
    {"time(a) + 1h == time(b) - 1h", 0},
    {"a in [] && b in [1] && c in [1, \"x\", null, true, -2.5, "
     "2024-01-01T00:00:00Z]",
        0},
    {"a =~ /x/ && b !~ /y/imsx && c =~ // && d =~ /\\/\\d\\\\/", 0},
    {"a contains \"xy\" && b startswith \"xy\" && c endswith \"xy\"", 3},
    {"a contains \"x\" && b startswith \"\" && c endswith \"\"", 0},
    {"topic(\"order.created\")", 1},
    {"topic(\"order.*\")", 1},
    {"topic(\"order.>\")", 1},
    {"topic(\"*.created\")", 0},
    {"topic(\">\")", 0},
    {"topic(\"order.cr*\")", 1},
    {"type == \"a.b\" && x > 1", 1},
    {"a == \"x\" || b == \"y\"", 0},
    {"!(a == \"xy\")", 0},
    {"a == \"xy\" && (b == \"zw\" && (c == \"uv\" || d == \"st\"))", 2},
    {"(a == \"xy\")", 1},
    {"lower(a) == \"xy\" && type(a) == \"string\" && len(a) == 2", 0},
    {"a in [\"xy\"] && \"xy\" in a", 0},
    {"a =~ /xy/", 0},
    {"a == b", 0},
    {"\"xy\" == \"xy\"", 0},
    {"a startswith \"x\"", 1}, /* "x without its closing quote */
    {"a endswith \"x\"", 1},
    {"\"xy\" startswith a", 0},
    {"!!(a || !(b && !(c || d))) && ((((e))))", 0},
    {"lower(upper(lower(a))) == \"x\"", 0},
    {"type(time(now())) == \"time\"", 0},
};

TEST(compile_valid)
{
	struct evk_err e;
	struct evk_expr *x;

	for (size_t i = 0; i < NROWS(good); i++) {
		memset(&e, 0, sizeof e);
		if ((x = evk_expr_compile(good[i].src, &e)) == NULL) {
			t_cur_fail++;
			show("expression", good[i].src);
			printf("#   column %zu: %s\n", e.column, e.msg);
			continue;
		}
		if (evk_expr_prefilter_count(x) != good[i].needles) {
			t_cur_fail++;
			show("expression", good[i].src);
			printf("#   %zu prefilter strings, expected %zu\n",
			    evk_expr_prefilter_count(x), good[i].needles);
		}
		/* Whatever it is, it evaluates on any object. */
		CHECK(run(good[i].src, "{}") >= 0);
		CHECK(run(good[i].src, "{\"a\":\"xy\",\"type\":\"a.b\"}") >= 0);
		evk_expr_free(x);
	}
}

/*** the evaluator ***/

static const struct row paths[] = {
    {"a.b[0].c == 1", "{\"a\":{\"b\":[{\"c\":1}]}}", 1},
    {"a.b[0].c == 1", "{\"a\":{\"b\":[{\"c\":2},{\"c\":1}]}}", 0},
    {"a.b[1]", "{\"a\":{\"b\":[true]}}", 0},
    {"a.b[-1] == 3", "{\"a\":{\"b\":[1,2,3]}}", 1},
    {"a.b[-3] == 1", "{\"a\":{\"b\":[1,2,3]}}", 1},
    {"exists(a.b[-4])", "{\"a\":{\"b\":[1,2,3]}}", 0},
    {"exists(a[-1])", "{\"a\":[]}", 0},
    {"a[-0] == 1", "{\"a\":[1,2]}", 1},
    {"a[0][1][0] == 3", "{\"a\":[[1,[3]]]}", 1},
    {"a[\"odd key\"] == 1", "{\"a\":{\"odd key\":1}}", 1},
    {"a[\"\\u00e9t\\u00e9\"] == 2", "{\"a\":{\"\xc3\xa9t\xc3\xa9\":2}}", 1},
    {"a[\"\xc3\xa9t\xc3\xa9\"] == 2", "{\"a\":{\"\\u00e9t\\u00e9\":2}}", 1},
    {"a[\"\"] == 3", "{\"a\":{\"\":3}}", 1},
    {"a[\"x\\\"y\"] == 4", "{\"a\":{\"x\\\"y\":4}}", 1},
    {"a[\"k\"][0] == 5", "{\"a\":{\"k\":[5]}}", 1},
    {"a[\"0\"] == 6", "{\"a\":{\"0\":6}}", 1},
    /* keys written with escapes in the event */
    {"ab == 1", "{\"a\\u0062\":1}", 1},
    {"a.b == 1", "{\"\\u0061\":{\"b\":1}}", 1},
    {"a == 1", "{\"\\u0061\":1,\"b\":2}", 1},
    /* the leading dot, the whole event */
    {".type == \"t\"", "{\"type\":\"t\"}", 1},
    {"type == \"t\"", "{\"type\":\"t\"}", 1},
    {".", "{}", 1},
    {". == .", "{\"a\":[1]}", 1},
    {".a[0] == 1", "{\"a\":[1]}", 1},
    {"a.[0] == 1", "{\"a\":[1]}", 1},
    {"a [0] . b == 1", "{\"a\":[{\"b\":1}]}", 1},
    /* keywords after a dot, function names without '(' */
    {"a.in == 1", "{\"a\":{\"in\":1}}", 1},
    {"a.contains == 1", "{\"a\":{\"contains\":1}}", 1},
    {"a.startswith == 1", "{\"a\":{\"startswith\":1}}", 1},
    {"a.endswith == 1", "{\"a\":{\"endswith\":1}}", 1},
    {"a.true == 1", "{\"a\":{\"true\":1}}", 1},
    {".true == 1", "{\"true\":1}", 1},
    {".false == 1", "{\"false\":1}", 1},
    {".null == 1", "{\"null\":1}", 1},
    {".in == 1", "{\"in\":1}", 1},
    {"type == 1", "{\"type\":1}", 1},
    {"time == \"x\"", "{\"time\":\"x\"}", 1},
    {"len == 1 && now == 2 && exists", "{\"len\":1,\"now\":2,\"exists\":0}", 1},
    {"$x == 1 && _a_1 == 2", "{\"$x\":1,\"_a_1\":2}", 1},
    {"A == 1", "{\"a\":1}", 0},
    /* missing steps, indexes on non-arrays, keys on non-objects */
    {"a.b.c", "{\"a\":{}}", 0},
    {"a.b.c != 1", "{\"a\":{}}", 1},
    {"a[0]", "{\"a\":{\"0\":1}}", 0},
    {"a[0]", "{\"a\":\"str\"}", 0},
    {"a[0]", "{\"a\":null}", 0},
    {".[0]", "{\"0\":1}", 0},
    {"a.b", "{\"a\":[{\"b\":1}]}", 0},
    {"a.b", "{\"a\":\"b\"}", 0},
    {"a.b", "{\"a\":1}", 0},
    {"a.length", "{\"a\":[1]}", 0},
    /* white space around the event */
    {"a == 1", " \t{ \"a\" : 1 }\r\n ", 1},
    {"a[1] == 2", "{\"a\":[ 1 ,\n2 ]}", 1},
    /* not an object (evfilter never asks, the library copes) */
    {".[1] == 2", "[1,2]", 1},
    {"a", "[1,2]", 0},
    {". == \"x\"", "\"x\"", 1},
};

TEST(eval_paths)
{
	check_rows(paths, NROWS(paths));
}

/* How two values relate: ordered (LT, EQ, GT) or unordered, unequal (NE)
 * or equal (EU). */
enum rel { LT, EQ, GT, NE, EU };

static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">="};

static int
want_of(enum rel r, int op)
{
	static const int t[5][6] = {
	    /*       ==  !=  <   <=  >   >= */
	    [LT] = {0, 1, 1, 1, 0, 0},
	    [EQ] = {1, 0, 0, 1, 0, 1},
	    [GT] = {0, 1, 0, 0, 1, 1},
	    [NE] = {0, 1, 0, 0, 0, 0},
	    [EU] = {1, 0, 0, 0, 0, 0},
	};
	return t[r][op];
}

static enum rel
swapped(enum rel r)
{
	return r == LT ? GT : r == GT ? LT : r;
}

#define P 1 /* b is JSON: the event {"a":A,"b":B}, "a OP b" */
#define L 2 /* b is a literal: the event {"a":A}, "a OP B" */

static const struct {
	const char *a, *b;
	int how;
	enum rel rel;
} pairs[] = {
    /* integers, doubles, exactly */
    {"1", "2", P | L, LT},
    {"1", "1", P | L, EQ},
    {"1", "1.0", P | L, EQ},
    {"100", "1e2", P | L, EQ},
    {"100", "1E+2", P | L, EQ},
    {"-1", "-0.5", P | L, LT},
    {"1.5", "1.25", P | L, GT},
    {"0.1", "0.1", P | L, EQ},
    {"0.30000000000000004", "0.3", P | L, GT},
    {"12345678901234.5", "12345678901234.4", P | L, GT},
    {"123456789012345.6", "123456789012345.5", P | L, GT},
    {"-0", "0", P | L, EQ},
    {"-0.0", "0", P | L, EQ},
    {"0.0", "-0", P | L, EQ},
    {"-0.0", "-0", P | L, EQ},
    {"9007199254740993", "9007199254740992.0", P | L, GT},
    {"9007199254740993", "9007199254740992", P | L, GT},
    {"9007199254740993", "9007199254740993.0", P | L, GT},
    {"9007199254740992", "9007199254740992.0", P | L, EQ},
    {"-9007199254740993", "-9007199254740992.0", P | L, LT},
    {"9223372036854775807", "9223372036854775806", P | L, GT},
    {"9223372036854775807", "9223372036854775808", P | L, LT},
    {"9223372036854775807", "9.223372036854775807e18", P | L, LT},
    {"9223372036854775807", "9223372036854774784.0", P | L, GT},
    {"9223372036854775808", "9223372036854775807", P | L, GT},
    {"-9223372036854775808", "-9223372036854775807", P | L, LT},
    {"-9223372036854775808", "-9223372036854775808.0", P | L, EQ},
    /* beyond 64 bits a number is a double: -2^63 - 1 rounds to -2^63 */
    {"-9223372036854775808", "-9223372036854775809", P | L, EQ},
    {"18446744073709551616", "18446744073709551615", P | L, EQ},
    {"1e400", "1e308", P | L, GT},
    {"1e400", "1e400", P | L, EQ},
    {"1e400", "1.7976931348623157e308", P | L, GT},
    {"1e400", "9223372036854775807", P | L, GT},
    {"-1e400", "-9223372036854775808", P | L, LT},
    {"5e-324", "0", P | L, GT},
    /* strings, bytewise in UTF-8 after unescaping */
    {"\"a\"", "\"b\"", P | L, LT},
    {"\"a\"", "\"a\"", P | L, EQ},
    {"\"\"", "\"a\"", P | L, LT},
    {"\"ab\"", "\"a\"", P | L, GT},
    {"\"B\"", "\"a\"", P | L, LT},
    {"\"a\"", "\"\xc3\xa9\"", P | L, LT},
    {"\"z\"", "\"\xc3\xa9\"", P | L, LT},
    {"\"\xc3\xa9\"", "\"\\u00e9\"", P | L, EQ},
    {"\"\\u0041\"", "\"A\"", P | L, EQ},
    {"\"\\uffff\"", "\"\\ud83d\\ude00\"", P | L, LT},
    {"\"\xef\xbf\xbf\"", "\"\xf0\x9f\x98\x80\"", P | L, LT},
    {"\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"", P | L, EQ},
    {"\"a\\\"b\"", "\"a\\u0022b\"", P | L, EQ},
    {"\"x\\/y\"", "\"x/y\"", P | L, EQ},
    {"\"a\\nb\"", "\"a\\u000ab\"", P | L, EQ},
    {"\"a\\tb\"", "\"a b\"", P | L, LT},
    {"\"\\\\\"", "\"\\u005c\"", P | L, EQ},
    {"\"10\"", "\"9\"", P | L, LT},
    /* two strings are strings, even when they hold times */
    {"\"2024-01-01T01:00:00+01:00\"", "\"2024-01-01T00:00:00Z\"", P | L, GT},
    /* booleans and null: equality only */
    {"true", "true", P | L, EU},
    {"false", "false", P | L, EU},
    {"true", "false", P | L, NE},
    {"null", "null", P | L, EU},
    /* arrays and objects: structural equality only */
    {"[]", "[]", P, EU},
    {"[1,2]", "[1,2]", P, EU},
    {"[1,2]", "[2,1]", P, NE},
    {"[1]", "[1,1]", P, NE},
    {"[null]", "[]", P, NE},
    {"[[]]", "[{}]", P, NE},
    {"[true,false]", "[true,false]", P, EU},
    {"[1.0,{\"a\":1}]", "[1,{\"a\":1.0}]", P, EU},
    {"[\"\xc3\xa9\"]", "[\"\\u00e9\"]", P, EU},
    {"[1,[2,[3,[]]]]", "[1,[2,[3,[]]]]", P, EU},
    {"[1,[2,[3,[]]]]", "[1,[2,[3,[0]]]]", P, NE},
    {"{}", "{}", P, EU},
    {"{\"x\":1,\"y\":2}", "{\"y\":2,\"x\":1}", P, EU},
    {"{\"x\":1}", "{\"x\":1,\"y\":2}", P, NE},
    {"{\"x\":1,\"y\":2}", "{\"x\":1}", P, NE},
    {"{\"x\":1}", "{\"y\":1}", P, NE},
    {"{\"a\":1}", "{\"a\":\"1\"}", P, NE},
    {"{\"a\":{\"b\":[1,2]}}", "{\"a\":{\"b\":[1,2,3]}}", P, NE},
    {"{\"a\\u0062\":[1,[2,{\"c\":null}]]}", "{\"ab\":[1.0,[2e0,{\"c\":null}]]}",
        P, EU},
    {"[1]", "{\"0\":1}", P, NE},
    /* times: a time literal against a string holding a time */
    {"\"2024-01-01T01:00:00+01:00\"", "2024-01-01T00:00:00Z", L, EQ},
    {"\"2023-12-31T19:00:00-05:00\"", "2024-01-01T00:00:00Z", L, EQ},
    {"\"2024-01-01T00:00:00Z\"", "2024-01-01T00:00:00.000000001Z", L, LT},
    {"\"2024-01-01T00:00:00.5Z\"", "2024-01-01T00:00:00.4999Z", L, GT},
    {"\"2024-01-01T00:00:00Z\"", "2024-01-01T00:00:01+00:01", L, GT},
    {"\"2024-01-01t00:00:00z\"", "2024-01-01T00:00:00Z", L, EQ},
    {"\"2024-01-01T00:00:00-00:00\"", "2024-01-01T00:00:00Z", L, EQ},
    {"\"2016-12-31T23:59:60Z\"", "2017-01-01T00:00:00Z", L, EQ},
    {"\"2024-01-01T00:00:00.0000000009Z\"", "2024-01-01T00:00:00Z", L, EQ},
    {"\"0000-01-01T00:00:00Z\"", "9999-12-31T23:59:59Z", L, LT},
    /* and against anything else: a comparison of different types */
    {"\"hello\"", "2024-01-01T00:00:00Z", L, NE},
    {"\"2024-02-30T00:00:00Z\"", "2024-01-01T00:00:00Z", L, NE},
    {"\"2024-01-01\"", "2024-01-01T00:00:00Z", L, NE},
    {"1704067200", "2024-01-01T00:00:00Z", L, NE},
    {"null", "2024-01-01T00:00:00Z", L, NE},
    {"true", "2024-01-01T00:00:00Z", L, NE},
    {"[\"2024-01-01T00:00:00Z\"]", "2024-01-01T00:00:00Z", L, NE},
    {"{\"t\":\"2024-01-01T00:00:00Z\"}", "2024-01-01T00:00:00Z", L, NE},
};

/* Every operator on `a` (JSON) and `b` (JSON or a literal), both ways. */
static void
check_pair(const char *a, const char *b, int how, enum rel rel)
{
	char ex[512], ev[512];
	int got, want;

	for (int op = 0; op < 6; op++) {
		for (int side = 0; side < 2; side++) {
			enum rel r = side ? swapped(rel) : rel;
			want = want_of(r, op);
			if (how & P) {
				snprintf(ex, sizeof ex,
				    side ? "b %s a" : "a %s b", ops[op]);
				snprintf(ev, sizeof ev, "{\"a\":%s,\"b\":%s}",
				    a, b);
			} else {
				if (side)
					snprintf(ex, sizeof ex, "%s %s a", b,
					    ops[op]);
				else
					snprintf(ex, sizeof ex, "a %s %s",
					    ops[op], b);
				snprintf(ev, sizeof ev, "{\"a\":%s}", a);
			}
			if ((got = run(ex, ev)) != want) {
				t_cur_fail++;
				show("expression", ex);
				show("event", ev);
				printf("#   got %d, expected %d\n", got, want);
			}
		}
	}
}

TEST(eval_compare_same_type)
{
	size_t n = 0;

	for (size_t i = 0; i < NROWS(pairs); i++) {
		if (pairs[i].how & P) {
			check_pair(pairs[i].a, pairs[i].b, P, pairs[i].rel);
			n += 12;
		}
		if (pairs[i].how & L) {
			check_pair(pairs[i].a, pairs[i].b, L, pairs[i].rel);
			n += 12;
		}
	}
	printf("#   %zu comparisons\n", n);
}

/* One value of each type (two of some), as JSON. */
static const struct {
	const char *json;
	const char *type;
} kinds[] = {
    {"null", "null"},
    {"true", "boolean"},
    {"false", "boolean"},
    {"1", "number"},
    {"0", "number"},
    {"1.5", "number"},
    {"\"s\"", "string"},
    {"\"\"", "string"},
    {"\"1\"", "string"},
    {"\"2024-01-01T00:00:00Z\"", "string"},
    {"[1]", "array"},
    {"[]", "array"},
    {"{\"a\":1}", "object"},
    {"{}", "object"},
};

/* Values of two types are unequal and unordered: == and the orderings
 * false, != true, both ways, as paths and (where they can be) literals. */
TEST(eval_compare_cross_type)
{
	size_t n = 0;

	for (size_t i = 0; i < NROWS(kinds); i++)
		for (size_t j = 0; j < NROWS(kinds); j++) {
			if (!strcmp(kinds[i].type, kinds[j].type))
				continue;
			check_pair(kinds[i].json, kinds[j].json, P, NE);
			n += 12;
			if (kinds[j].json[0] != '[' &&
			    kinds[j].json[0] != '{') {
				check_pair(kinds[i].json, kinds[j].json, L, NE);
				n += 12;
			}
		}
	/* a time literal against every non-string */
	for (size_t i = 0; i < NROWS(kinds); i++)
		if (strcmp(kinds[i].type, "string")) {
			check_pair(kinds[i].json, "2024-01-01T00:00:00Z", L,
			    NE);
			n += 12;
		}
	/* the type of a function's result counts: len() is a number */
	CHECK_INT(run("len(a) == 3", "{\"a\":\"abc\"}"), 1);
	CHECK_INT(run("len(a) == \"3\"", "{\"a\":\"abc\"}"), 0);
	CHECK_INT(run("len(a) != \"3\"", "{\"a\":\"abc\"}"), 1);
	CHECK_INT(run("type(a) == \"number\"", "{\"a\":1}"), 1);
	CHECK_INT(run("type(a) < 1", "{\"a\":1}"), 0);
	CHECK_INT(run("time(a) == \"2024-01-01T00:00:00Z\"",
	              "{\"a\":\"2024-01-01T01:00:00+01:00\"}"),
	    1);
	printf("#   %zu comparisons\n", n);
}

/* Absent (a missing path, or a function that gave nothing) against every
 * kind and itself: every comparison false but !=; and every operator. */
TEST(eval_absent)
{
	static const char *const absent[] = {"nope", "a.nope", "a[5]", "len(a)",
	    "lower(a)", "time(a)", "a + 1h"};
	char ex[256], ev[256];
	int got;

	for (size_t k = 0; k < NROWS(absent); k++)
		for (size_t i = 0; i <= NROWS(kinds); i++)
			for (int op = 0; op < 6; op++)
				for (int side = 0; side < 2; side++) {
					/* i == NROWS(kinds): absent itself */
					const char *other =
					    i < NROWS(kinds) ? "b" : absent[k];
					snprintf(ex, sizeof ex, "%s %s %s",
					    side ? other : absent[k], ops[op],
					    side ? absent[k] : other);
					snprintf(ev, sizeof ev,
					    "{\"a\":true,\"b\":%s}",
					    i < NROWS(kinds) ? kinds[i].json
					                     : "0");
					got = run(ex, ev);
					if (got != (op == 1)) {
						t_cur_fail++;
						show("expression", ex);
						show("event", ev);
						printf("#   got %d\n", got);
					}
				}
	/* absent against literals */
	CHECK_INT(run("nope == null", "{}"), 0);
	CHECK_INT(run("nope != null", "{}"), 1);
	CHECK_INT(run("null == nope", "{}"), 0);
	CHECK_INT(run("nope == 2024-01-01T00:00:00Z", "{}"), 0);
	CHECK_INT(run("nope != 2024-01-01T00:00:00Z", "{}"), 1);
	CHECK_INT(run("nope < 2024-01-01T00:00:00Z", "{}"), 0);
	CHECK_INT(run("nope == false", "{}"), 0);
	CHECK_INT(run("nope != false", "{}"), 1);
	/* and the other operators */
	CHECK_INT(run("nope in [null, 1]", "{}"), 0);
	CHECK_INT(run("nope in a", "{\"a\":[null]}"), 0);
	CHECK_INT(run("1 in nope", "{}"), 0);
	CHECK_INT(run("nope contains \"\"", "{}"), 0);
	CHECK_INT(run("a contains nope", "{\"a\":\"x\"}"), 0);
	CHECK_INT(run("a contains nope", "{\"a\":[null]}"), 0);
	CHECK_INT(run("nope startswith \"\"", "{}"), 0);
	CHECK_INT(run("\"x\" startswith nope", "{}"), 0);
	CHECK_INT(run("nope endswith \"\"", "{}"), 0);
	CHECK_INT(run("nope =~ /x*/", "{}"), 0);
	CHECK_INT(run("nope !~ /x*/", "{}"), 1);
	CHECK_INT(run("nope", "{}"), 0);
	CHECK_INT(run("!nope", "{}"), 1);
	CHECK_INT(run("exists(nope)", "{}"), 0);
	CHECK_INT(run("type(nope) == \"absent\"", "{}"), 1);
	CHECK_INT(run("len(nope) == 0", "{}"), 0);
	CHECK_INT(run("len(nope) != 0", "{}"), 1);
	CHECK_INT(run("type(lower(nope)) == \"absent\"", "{}"), 1);
	CHECK_INT(run("type(nope + 1h) == \"absent\"", "{}"), 1);
	CHECK_INT(run("topic(\"*\")", "{}"), 0);
}

static const struct row membership[] = {
    /* in: a list literal */
    {"a in [1, 2]", "{\"a\":2}", 1},
    {"a in [1, 2]", "{\"a\":3}", 0},
    {"a in [1.0]", "{\"a\":1}", 1},
    {"a in [1]", "{\"a\":1e0}", 1},
    {"a in [-1, -2.5]", "{\"a\":-2.5}", 1},
    {"a in [9007199254740993]", "{\"a\":9007199254740992}", 0},
    {"a in []", "{\"a\":1}", 0},
    {"a in [\"1\"]", "{\"a\":1}", 0},
    {"a in [1]", "{\"a\":\"1\"}", 0},
    {"a in [null]", "{\"a\":null}", 1},
    {"a in [null]", "{}", 0},
    {"a in [true, false]", "{\"a\":false}", 1},
    {"a in [0]", "{\"a\":false}", 0},
    {"a in [\"\xc3\xa9\"]", "{\"a\":\"\\u00e9\"}", 1},
    {"a in [\"\\u00e9\"]", "{\"a\":\"\xc3\xa9\"}", 1},
    {"a in [\"x\", 1, null]", "{\"a\":\"x\"}", 1},
    {"a in [2024-01-01T00:00:00Z]", "{\"a\":\"2024-01-01T01:00:00+01:00\"}", 1},
    {"a in [2024-01-01T00:00:00Z]", "{\"a\":\"2024-01-01T00:00:01Z\"}", 0},
    {"a in [1]", "{\"a\":[1]}", 0},
    /* in: an array in the event */
    {"a in b", "{\"a\":2,\"b\":[1,2]}", 1},
    {"a in b", "{\"a\":2,\"b\":[1,2.0]}", 1},
    {"a in b", "{\"a\":[1],\"b\":[[1]]}", 1},
    {"a in b", "{\"a\":{\"x\":1},\"b\":[{\"x\":1.0}]}", 1},
    {"a in b", "{\"a\":2,\"b\":{\"2\":2}}", 0},
    {"a in b", "{\"a\":\"x\",\"b\":\"xyz\"}", 0},
    {"a in b", "{\"a\":1}", 0},
    {"\"vip\" in tags", "{\"tags\":[\"x\",\"vip\"]}", 1},
    {"\"vip\" in tags", "{\"tags\":[\"vips\"]}", 0},
    {"lower(a) in [\"abc\"]", "{\"a\":\"ABC\"}", 1},
    /* contains: substrings of strings */
    {"a contains \"b\"", "{\"a\":\"abc\"}", 1},
    {"a contains \"abc\"", "{\"a\":\"abc\"}", 1},
    {"a contains \"abcd\"", "{\"a\":\"abc\"}", 0},
    {"a contains \"B\"", "{\"a\":\"abc\"}", 0},
    {"a contains \"\"", "{\"a\":\"\"}", 1},
    {"a contains \"\"", "{\"a\":\"abc\"}", 1},
    {"a contains \"\xc3\xa9\"", "{\"a\":\"caf\\u00e9!\"}", 1},
    {"a contains \"\\u00e9\"", "{\"a\":\"caf\xc3\xa9\"}", 1},
    {"a contains \"\\\"\"", "{\"a\":\"x\\\"y\"}", 1},
    {"a contains \"/\"", "{\"a\":\"x\\/y\"}", 1},
    {"a contains \"\\n\"", "{\"a\":\"x\\ny\"}", 1},
    {"a contains \"\\\\\"", "{\"a\":\"x\\\\y\"}", 1},
    {"a contains \"\\\\n\"", "{\"a\":\"x\\ny\"}", 0},
    {"a contains \"bcbd\"", "{\"a\":\"abcbcbd\"}", 1},
    {"a contains b", "{\"a\":\"xyz\",\"b\":\"y\"}", 1},
    {"\"hello\" contains a", "{\"a\":\"ell\"}", 1},
    {"a contains 1", "{\"a\":\"1\"}", 0},
    {"a contains \"1\"", "{\"a\":1}", 0},
    /* contains: elements of arrays */
    {"a contains 1", "{\"a\":[1,2]}", 1},
    {"a contains 1", "{\"a\":[1.0]}", 1},
    {"a contains 3", "{\"a\":[1,2]}", 0},
    {"a contains \"1\"", "{\"a\":[1]}", 0},
    {"a contains \"b\"", "{\"a\":[\"abc\"]}", 0},
    {"a contains \"abc\"", "{\"a\":[\"abc\"]}", 1},
    {"a contains \"\\u00e9\"", "{\"a\":[\"\xc3\xa9\"]}", 1},
    {"a contains null", "{\"a\":[null]}", 1},
    {"a contains null", "{\"a\":[]}", 0},
    {"a contains true", "{\"a\":[false,true]}", 1},
    {"a contains false", "{\"a\":[0,null,\"\"]}", 0},
    {"a contains b", "{\"a\":[[1,2],3],\"b\":[1,2]}", 1},
    {"a contains b", "{\"a\":[[1,2],3],\"b\":[2,1]}", 0},
    {"a contains b", "{\"a\":[{\"x\":1}],\"b\":{\"x\":1}}", 1},
    {"a contains \"\"", "{\"a\":[]}", 0},
    {"a contains \"\"", "{\"a\":[\"\"]}", 1},
    {"a contains 2024-01-01T00:00:00Z", "{\"a\":[\"2024-01-01T00:00:00Z\"]}",
        1},
    /* contains: nothing in objects, numbers, booleans, null */
    {"a contains \"x\"", "{\"a\":{\"x\":1}}", 0},
    {"a contains 1", "{\"a\":{\"x\":1}}", 0},
    {"a contains 1", "{\"a\":1}", 0},
    {"a contains true", "{\"a\":true}", 0},
    {"a contains null", "{\"a\":null}", 0},
    /* startswith, endswith: strings only, bytewise */
    {"a startswith \"ab\"", "{\"a\":\"abc\"}", 1},
    {"a startswith \"bc\"", "{\"a\":\"abc\"}", 0},
    {"a endswith \"bc\"", "{\"a\":\"abc\"}", 1},
    {"a endswith \"ab\"", "{\"a\":\"abc\"}", 0},
    {"a startswith \"abc\"", "{\"a\":\"abc\"}", 1},
    {"a startswith \"abcd\"", "{\"a\":\"abc\"}", 0},
    {"a endswith \"xabc\"", "{\"a\":\"abc\"}", 0},
    {"a startswith \"\"", "{\"a\":\"\"}", 1},
    {"a endswith \"\"", "{\"a\":\"x\"}", 1},
    {"a startswith \"\xc3\xa9\"", "{\"a\":\"\\u00e9t\\u00e9\"}", 1},
    {"a endswith \"t\\u00e9\"", "{\"a\":\"\xc3\xa9t\xc3\xa9\"}", 1},
    {"a endswith \"\\\"\"", "{\"a\":\"x\\\"\"}", 1},
    {"a startswith \"/\"", "{\"a\":\"\\/x\"}", 1},
    {"a startswith \"A\"", "{\"a\":\"abc\"}", 0},
    {"a startswith \"a\"", "{\"a\":[\"a\"]}", 0},
    {"a startswith \"1\"", "{\"a\":1}", 0},
    {"a endswith 1", "{\"a\":\"1\"}", 0},
    {"a startswith null", "{\"a\":\"null\"}", 0},
    {"a startswith b", "{\"a\":\"xy\",\"b\":\"x\"}", 1},
    {"a endswith b", "{\"a\":\"xy\",\"b\":\"xy\"}", 1},
    {"lower(a) startswith \"ab\"", "{\"a\":\"ABC\"}", 1},
    {"\"abc\" endswith a", "{\"a\":\"c\"}", 1},
};

TEST(eval_in_contains_startswith)
{
	check_rows(membership, NROWS(membership));
}

/* A subject that makes /^(a+)+$/ backtrack beyond PCRE2's match limit. */
#define CATASTROPHE \
	"{\"x\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\"}"

static const struct row regexes[] = {
    {"a =~ /b/", "{\"a\":\"abc\"}", 1},
    {"a =~ /^b/", "{\"a\":\"abc\"}", 0},
    {"a =~ /^abc$/", "{\"a\":\"abc\"}", 1},
    {"a =~ /ABC/", "{\"a\":\"xabcx\"}", 0},
    {"a =~ /ABC/i", "{\"a\":\"xabcx\"}", 1},
    {"a =~ /^b/", "{\"a\":\"a\\nb\"}", 0},
    {"a =~ /^b/m", "{\"a\":\"a\\nb\"}", 1},
    {"a =~ /a$/", "{\"a\":\"a\\nb\"}", 0},
    {"a =~ /a$/m", "{\"a\":\"a\\nb\"}", 1},
    {"a =~ /a.b/", "{\"a\":\"a\\nb\"}", 0},
    {"a =~ /a.b/s", "{\"a\":\"a\\nb\"}", 1},
    {"a =~ /a b/", "{\"a\":\"ab\"}", 0},
    {"a =~ /a b/x", "{\"a\":\"ab\"}", 1},
    {"a =~ /^B . C$/imsx", "{\"a\":\"a\\nb\\nc\"}", 1},
    {"a =~ /^B . C$/msx", "{\"a\":\"a\\nb\\nc\"}", 0},
    /* UTF mode: '.' is a character; i folds every letter; \d is ASCII */
    {"a =~ /^.$/", "{\"a\":\"\xc3\xa9\"}", 1},
    {"a =~ /^..$/", "{\"a\":\"\xc3\xa9\"}", 0},
    {"a =~ /^.$/", "{\"a\":\"\\ud83d\\ude00\"}", 1},
    {"a =~ /\xc3\xa9t\xc3\xa9/i", "{\"a\":\"\xc3\x89T\xc3\x89\"}", 1},
    {"a =~ /\xc3\xa9t\xc3\xa9/", "{\"a\":\"\xc3\x89T\xc3\x89\"}", 0},
    {"a =~ /\\x{e9}/", "{\"a\":\"\\u00e9\"}", 1},
    {"a =~ /\\d/", "{\"a\":\"x1\"}", 1},
    {"a =~ /\\d/", "{\"a\":\"\xd9\xa3\"}", 0},
    /* escapes: \/ is a slash, others go to PCRE2 */
    {"a =~ /\\//", "{\"a\":\"a/b\"}", 1},
    {"a =~ /a\\/b/", "{\"a\":\"a\\/b\"}", 1},
    {"a =~ /\\\\/", "{\"a\":\"a\\\\b\"}", 1},
    {"a =~ /\\\\/", "{\"a\":\"a/b\"}", 0},
    {"a =~ /\\./", "{\"a\":\"ab\"}", 0},
    {"a =~ /\\./", "{\"a\":\"a.b\"}", 1},
    {"a =~ /\"/", "{\"a\":\"a\\\"b\"}", 1},
    {"a =~ //", "{\"a\":\"\"}", 1},
    {"a =~ /^$/", "{\"a\":\"\"}", 1},
    /* decoded strings are matched */
    {"a =~ /^\xc3\xa9$/", "{\"a\":\"\\u00e9\"}", 1},
    {"a =~ /\\n/", "{\"a\":\"x\\u000ay\"}", 1},
    /* not strings */
    {"a =~ /1/", "{\"a\":1}", 0},
    {"a !~ /1/", "{\"a\":1}", 1},
    {"a =~ /1/", "{\"a\":[\"1\"]}", 0},
    {"a =~ /null/", "{\"a\":null}", 0},
    {"a =~ /true/", "{\"a\":true}", 0},
    {"a =~ /x/", "{}", 0},
    {"a !~ /x/", "{}", 1},
    {"a !~ /b/", "{\"a\":\"abc\"}", 0},
    {"a !~ /z/", "{\"a\":\"abc\"}", 1},
    /* other left sides */
    {"lower(a) =~ /^abc$/", "{\"a\":\"ABC\"}", 1},
    {"\"abc\" =~ /b/", "{}", 1},
    {"type(a) =~ /^str/", "{\"a\":\"x\"}", 1},
    {"a.b[0] =~ /x/", "{\"a\":{\"b\":[\"yxy\"]}}", 1},
    /* PCRE2's match limit: an error, not a match */
    {"x =~ /^(a+)+$/", CATASTROPHE, EVK_ERANGE},
    {"x !~ /^(a+)+$/", CATASTROPHE, EVK_ERANGE},
    {"x =~ /^(a+)+b$/", CATASTROPHE, 1},
};

TEST(eval_regex)
{
	struct evk_err e = EVK_ERR_ZERO;

	check_rows(regexes, NROWS(regexes));
	CHECK_INT(run_err("x =~ /^(a+)+$/", CATASTROPHE, &e), EVK_ERANGE);
	CHECK_INT(e.code, EVK_ERANGE);
	CHECK_STR(e.msg, "regular expression: match limit reached");
}

static const struct row logic[] = {
    /* truthiness of bare values */
    {"a", "{\"a\":0}", 1},
    {"a", "{\"a\":-0.0}", 1},
    {"a", "{\"a\":\"\"}", 1},
    {"a", "{\"a\":[]}", 1},
    {"a", "{\"a\":{}}", 1},
    {"a", "{\"a\":true}", 1},
    {"a", "{\"a\":\"false\"}", 1},
    {"a", "{\"a\":false}", 0},
    {"a", "{\"a\":null}", 0},
    {"a", "{}", 0},
    {"0", "{}", 1},
    {"\"\"", "{}", 1},
    {"true", "{}", 1},
    {"false", "{}", 0},
    {"null", "{}", 0},
    {"2024-01-01T00:00:00Z", "{}", 1},
    {"now()", "{}", 1},
    {"len(a)", "{\"a\":\"\"}", 1},
    {"len(a)", "{\"a\":5}", 0},
    {"lower(a)", "{\"a\":\"\"}", 1},
    {"time(a)", "{\"a\":\"x\"}", 0},
    {"type(a)", "{}", 1},
    {"exists(a)", "{\"a\":false}", 1},
    /* ! */
    {"!a", "{\"a\":0}", 0},
    {"!a", "{\"a\":false}", 1},
    {"!a", "{}", 1},
    {"!!a", "{\"a\":null}", 0},
    {"!!a", "{\"a\":[]}", 1},
    {"!a == 1", "{\"a\":2}", 1},
    {"!data.amount > 100", "{\"data\":{\"amount\":50}}", 1},
    {"!data.amount > 100", "{\"data\":{\"amount\":150}}", 0},
    /* && || and their precedence */
    {"a && b", "{\"a\":1,\"b\":0}", 1},
    {"a && b", "{\"a\":1}", 0},
    {"a && b", "{\"b\":1}", 0},
    {"a || b", "{\"b\":0}", 1},
    {"a || b", "{\"a\":false,\"b\":null}", 0},
    {"a || b", "{}", 0},
    {"!a && b", "{\"b\":1}", 1},
    {"!(a && b)", "{\"a\":1}", 1},
    {"a || b && c", "{\"a\":1}", 1},
    {"(a || b) && c", "{\"a\":1}", 0},
    {"a && b || c && d", "{\"c\":1,\"d\":1}", 1},
    {"a && (b || c) && !d", "{\"a\":1,\"c\":1}", 1},
    {"a && (b || c) && !d", "{\"a\":1,\"c\":1,\"d\":1}", 0},
    /* short circuit: the right side is not evaluated when not needed
     * (here it would be an error) */
    {"false && x =~ /^(a+)+$/", CATASTROPHE, 0},
    {"nope && x =~ /^(a+)+$/", CATASTROPHE, 0},
    {"true || x =~ /^(a+)+$/", CATASTROPHE, 1},
    {"x || x =~ /^(a+)+$/", CATASTROPHE, 1},
    {"x =~ /^(a+)+$/ || true", CATASTROPHE, EVK_ERANGE},
    {"x =~ /^(a+)+$/ && false", CATASTROPHE, EVK_ERANGE},
    {"!(x =~ /^(a+)+$/)", CATASTROPHE, EVK_ERANGE},
};

TEST(eval_logic)
{
	check_rows(logic, NROWS(logic));
}

static const struct row functions[] = {
    /* exists */
    {"exists(a)", "{\"a\":null}", 1},
    {"exists(a)", "{}", 0},
    {"exists(.a)", "{\"a\":0}", 1},
    {"exists(a.b[1])", "{\"a\":{\"b\":[0,false]}}", 1},
    {"exists(a.b[2])", "{\"a\":{\"b\":[0,false]}}", 0},
    {"exists(a[\"x y\"])", "{\"a\":{\"x y\":null}}", 1},
    {"!exists(a)", "{}", 1},
    {"exists(.)", "{}", 1},
    {"exists( a )", "{\"a\":1}", 1},
    /* len: code points, elements, members; absent for the rest */
    {"len(a) == 3", "{\"a\":\"abc\"}", 1},
    {"len(a) == 3", "{\"a\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"}", 1},
    {"len(a) == 1", "{\"a\":\"\\ud83d\\ude00\"}", 1},
    {"len(a) == 1", "{\"a\":\"\xf0\x9f\x98\x80\"}", 1},
    {"len(a) == 2", "{\"a\":\"\\u00e9\\u00e9\"}", 1},
    {"len(a) == 3", "{\"a\":\"a\\\"b\"}", 1},
    {"len(a) == 1", "{\"a\":\"\\n\"}", 1},
    {"len(a) == 0", "{\"a\":\"\"}", 1},
    {"len(a) == 2", "{\"a\":[1,[2,3]]}", 1},
    {"len(a) == 2", "{\"a\":{\"x\":1,\"y\":{\"z\":2}}}", 1},
    {"len(a) == 0", "{\"a\":[]}", 1},
    {"len(a) == 0", "{\"a\":{}}", 1},
    {"len(a) == 1.0", "{\"a\":[1]}", 1},
    {"len(a) > 2", "{\"a\":\"\\u00e9t\\u00e9\"}", 1},
    {"len(.) == 2", "{\"a\":1,\"b\":2}", 1},
    {"len(a) == 1", "{\"a\":1}", 0},
    {"len(a) != 1", "{\"a\":1}", 1},
    {"len(a) == 0", "{\"a\":null}", 0},
    {"len(a) == 4", "{\"a\":true}", 0},
    {"len(a) == 0", "{}", 0},
    {"len(lower(a)) == 3", "{\"a\":\"ABC\"}", 1},
    {"len(\"abc\") == 3", "{}", 1},
    {"type(len(a)) == \"number\"", "{\"a\":[]}", 1},
    /* lower, upper: ASCII letters only */
    {"lower(a) == \"abc\"", "{\"a\":\"AbC\"}", 1},
    {"upper(a) == \"ABC\"", "{\"a\":\"AbC\"}", 1},
    {"lower(a) == \"\xc3\x89t\xc3\x89\"", "{\"a\":\"\xc3\x89T\xc3\x89\"}", 1},
    {"lower(a) == \"\xc3\xa9t\xc3\xa9\"", "{\"a\":\"\xc3\x89T\xc3\x89\"}", 0},
    {"upper(a) == \"\xc3\xa9T\xc3\xa9\"", "{\"a\":\"\xc3\xa9t\xc3\xa9\"}", 1},
    /* (octal: 'E' and 'e' would extend a \x escape) */
    {"upper(a) == \"STRA\303\237E\"", "{\"a\":\"stra\303\237e\"}", 1},
    {"upper(a) == \"STRASSE\"", "{\"a\":\"stra\303\237e\"}", 0},
    {"lower(a) == \"strasse\"", "{\"a\":\"STRASSE\"}", 1},
    {"lower(a) == \"a\\\"b\"", "{\"a\":\"A\\u0022B\"}", 1},
    {"lower(a) == \"0-9_@[\"", "{\"a\":\"0-9_@[\"}", 1},
    {"upper(a) == \"`{~\"", "{\"a\":\"`{~\"}", 1},
    {"lower(upper(a)) == \"xyz\"", "{\"a\":\"XyZ\"}", 1},
    {"lower(\"ABC\") == \"abc\"", "{}", 1},
    {"lower(a) == \"1\"", "{\"a\":1}", 0},
    {"lower(a) != \"1\"", "{\"a\":1}", 1},
    {"type(lower(a)) == \"absent\"", "{\"a\":[\"A\"]}", 1},
    {"type(upper(a)) == \"absent\"", "{\"a\":null}", 1},
    /* type of every kind */
    {"type(a) == \"null\"", "{\"a\":null}", 1},
    {"type(a) == \"boolean\"", "{\"a\":true}", 1},
    {"type(a) == \"boolean\"", "{\"a\":false}", 1},
    {"type(a) == \"number\"", "{\"a\":-0}", 1},
    {"type(a) == \"number\"", "{\"a\":1.5e3}", 1},
    {"type(a) == \"number\"", "{\"a\":1e400}", 1},
    {"type(a) == \"number\"", "{\"a\":123456789012345678901234567890}", 1},
    {"type(a) == \"string\"", "{\"a\":\"\"}", 1},
    {"type(a) == \"string\"", "{\"a\":\"2024-01-01T00:00:00Z\"}", 1},
    {"type(a) == \"array\"", "{\"a\":[]}", 1},
    {"type(a) == \"object\"", "{\"a\":{}}", 1},
    {"type(a) == \"absent\"", "{}", 1},
    {"type(a) == \"null\"", "{}", 0},
    {"type(.) == \"object\"", "{}", 1},
    {"type(type) == \"string\"", "{\"type\":\"x\"}", 1},
    {"type(time(a)) == \"time\"", "{\"a\":\"2024-01-01T00:00:00Z\"}", 1},
    {"type(time(a)) == \"absent\"", "{\"a\":\"soon\"}", 1},
    {"type(now()) == \"time\"", "{}", 1},
    {"type(2024-01-01T00:00:00Z) == \"time\"", "{}", 1},
    {"type(now() - 1h) == \"time\"", "{}", 1},
    {"type(\"x\") == \"string\"", "{}", 1},
    {"type(1) == \"number\" && type(null) == \"null\"", "{}", 1},
    {"type(true) == \"boolean\" && type(type(a)) == \"string\"", "{}", 1},
    /* time(): instants, whatever the offsets */
    {"time(a) == time(b)",
        "{\"a\":\"2024-01-01T01:00:00+01:00\",\"b\":\"2024-01-01T00:00:00Z\"}",
        1},
    {"a == b",
        "{\"a\":\"2024-01-01T01:00:00+01:00\",\"b\":\"2024-01-01T00:00:00Z\"}",
        0},
    {"time(a) < time(b)",
        "{\"a\":\"2024-01-01T00:00:00.000000001Z\",\"b\":"
        "\"2024-01-01T00:00:00.00000001Z\"}",
        1},
    {"time(a) > time(b)",
        "{\"a\":\"2024-01-01T00:00:01Z\",\"b\":\"2024-01-01T00:00:00.999Z\"}",
        1},
    {"time(a) == time(b)",
        "{\"a\":\"2024-01-01T00:00:00.5Z\",\"b\":\"2024-01-01T00:00:00.6Z\"}",
        0},
    {"time(a) == a", "{\"a\":\"2024-01-01T00:00:00Z\"}", 1},
    {"time(a)", "{\"a\":1704067200}", 0},
    {"time(a)", "{\"a\":\"2024-01-01\"}", 0},
    {"time(a)", "{\"a\":\" 2024-01-01T00:00:00Z\"}", 0},
    {"time(a) == 2024-01-01T00:00:00Z", "{\"a\":\"2024-01-01T00:00:00Z\"}", 1},
    {"time(\"2024-01-01T00:00:00Z\") == 2024-01-01T00:00:00Z", "{}", 1},
    {"time(time(a)) == 2024-01-01T00:00:00Z",
        "{\"a\":\"2024-01-01T00:00:00Z\"}", 1},
    {"2024-01-01T01:00:00+01:00 == 2024-01-01T00:00:00Z", "{}", 1},
    {"2024-01-01T00:00:00Z < 2024-01-01T00:00:00.000000001Z", "{}", 1},
    /* durations */
    {"2024-01-01T00:00:00Z + 1h30m == 2024-01-01T01:30:00Z", "{}", 1},
    {"2024-01-01T00:00:00Z + 90m == 2024-01-01T01:30:00Z", "{}", 1},
    {"2024-01-01T00:00:00Z + 1h30m15s == 2024-01-01T01:30:15Z", "{}", 1},
    {"2024-01-01T00:00:00Z + 500ms == 2024-01-01T00:00:00.5Z", "{}", 1},
    {"2024-01-01T00:00:00Z - 1.5s == 2023-12-31T23:59:58.5Z", "{}", 1},
    {"2024-01-01T00:00:00Z + 1d == 2024-01-02T00:00:00Z", "{}", 1},
    {"2024-01-01T00:00:00Z + 1.5d == 2024-01-02T12:00:00Z", "{}", 1},
    {"2024-02-28T12:00:00Z + 1d == 2024-02-29T12:00:00Z", "{}", 1},
    {"2024-01-01T00:00:00Z + 10ns == 2024-01-01T00:00:00.00000001Z", "{}", 1},
    {"2024-01-01T00:00:00Z + 3us == 2024-01-01T00:00:00.000003Z", "{}", 1},
    {"2024-01-01T00:00:00Z + 0.1s + 0.9s == 2024-01-01T00:00:01Z", "{}", 1},
    {"2024-01-01T00:00:00Z + 1.000000001s == 2024-01-01T00:00:01.000000001Z",
        "{}", 1},
    {"2024-01-01T00:00:00Z + 0.0000000015s == 2024-01-01T00:00:00.000000001Z",
        "{}", 1},
    {"2024-01-01T00:00:00Z + 1d2h3m4s5ms6us7ns == "
     "2024-01-02T02:03:04.005006007Z",
        "{}", 1},
    {"2024-01-01T00:00:00.999999999Z + 1ns == 2024-01-01T00:00:01Z", "{}", 1},
    {"2024-01-01T00:00:00Z - 1ns == 2023-12-31T23:59:59.999999999Z", "{}", 1},
    {"2024-01-01T00:00:00.1Z - 0.2s == 2023-12-31T23:59:59.9Z", "{}", 1},
    {"2024-01-01T00:00:00Z + 1h - 1h == 2024-01-01T00:00:00Z", "{}", 1},
    {"a + 1h == 2024-01-01T01:00:00Z", "{\"a\":\"2024-01-01T00:00:00Z\"}", 1},
    {"a - 1h == b",
        "{\"a\":\"2024-01-01T01:00:00+01:00\",\"b\":\"2023-12-31T23:00:00Z\"}",
        1},
    {"time(a) + 1d > time(b)",
        "{\"a\":\"2024-01-01T00:00:00Z\",\"b\":\"2024-01-01T23:59:59Z\"}", 1},
    {"a + 1h", "{\"a\":5}", 0},
    {"a + 1h", "{\"a\":\"x\"}", 0},
    {"a + 1h != 2024-01-01T00:00:00Z", "{\"a\":\"x\"}", 1},
};

TEST(eval_functions)
{
	check_rows(functions, NROWS(functions));
}

static const struct row topics[] = {
    {"topic(\"order.*\")", "{\"type\":\"order.created\"}", 1},
    {"topic(\"order.*\")", "{\"type\":\"order.created.eu\"}", 0},
    {"topic(\"order.*\")", "{\"type\":\"order\"}", 0},
    {"topic(\"order.>\")", "{\"type\":\"order.created.eu\"}", 1},
    {"topic(\"order.>\")", "{\"type\":\"order.created\"}", 1},
    {"topic(\"order.>\")", "{\"type\":\"order\"}", 0},
    {"topic(\"order.>\")", "{\"type\":\"order.\"}", 0},
    {"topic(\">\")", "{\"type\":\"x\"}", 1},
    {"topic(\">\")", "{\"type\":\"\"}", 0},
    {"topic(\"*\")", "{\"type\":\"a.b\"}", 0},
    {"topic(\"*.*\")", "{\"type\":\"a.b\"}", 1},
    {"topic(\"*.b\")", "{\"type\":\"a.b\"}", 1},
    {"topic(\"*.b\")", "{\"type\":\"a.c\"}", 0},
    {"topic(\"a.b\")", "{\"type\":\"a.b\"}", 1},
    {"topic(\"a.b\")", "{\"type\":\"a.bc\"}", 0},
    {"topic(\"a.b\")", "{\"type\":\"A.b\"}", 0},
    {"topic(\"order.*\")", "{\"type\":\"order..x\"}", 0},
    {"topic(\"order.*\")", "{\"type\":\"order.*\"}", 0},
    {"topic(\"*.>\")", "{\"type\":\"a.>\"}", 0},
    {"topic(\"a.*\")", "{\"type\":\"a.b c\"}", 0},
    {"topic(\"order.cr*\")", "{\"type\":\"order.cr*\"}", 1},
    {"topic(\"order.cr*\")", "{\"type\":\"order.created\"}", 0},
    {"topic(\"order.*\")", "{\"type\":5}", 0},
    {"topic(\"order.*\")", "{\"type\":[\"order.x\"]}", 0},
    {"topic(\"order.*\")", "{}", 0},
    {"topic(\"order.*\")", "{\"data\":{\"type\":\"order.created\"}}", 0},
    {"topic(\"order.*\")", "{\"type\":\"order\\u002ecreated\"}", 1},
    {"topic(\"order.*\")", "{\"typ\\u0065\":\"order.created\"}", 1},
    {"topic(\"\\u00e9.*\")", "{\"type\":\"\xc3\xa9.x\"}", 1},
    {"topic(\"\\u0061.b\")", "{\"type\":\"a.b\"}", 1},
    {"topic(\"a.b\") && !topic(\"a.>\")", "{\"type\":\"a.b\"}", 0},
    {"topic(\"a.*\") || topic(\"b.*\")", "{\"type\":\"b.x\"}", 1},
};

TEST(eval_topic)
{
	check_rows(topics, NROWS(topics));
}

/* now(): against times made from the clock (evk_time_now()), written in
 * UTC and with offsets. */
TEST(eval_now)
{
	struct evk_time now, t;
	char past[EVK_TIME_MAXLEN], future[EVK_TIME_MAXLEN],
	    east[EVK_TIME_MAXLEN], ev[256];

	evk_time_now(&now);
	t = now;
	t.sec -= 30 * 60; /* half an hour ago */
	CHECK(evk_time_format(past, &t, 9, 1) > 0);
	t = now;
	t.sec += 2 * 3600; /* in two hours, written at +05:30 */
	t.off_min = 330;
	CHECK(evk_time_format(future, &t, 3, 0) > 0);
	CHECK(strstr(future, "+05:30") != NULL);
	t = now;
	t.sec -= 3 * 86400; /* three days ago, at -08:00 */
	t.off_min = -480;
	CHECK(evk_time_format(east, &t, 0, 0) > 0);
	snprintf(ev, sizeof ev, "{\"p\":\"%s\",\"f\":\"%s\",\"e\":\"%s\"}",
	    past, future, east);

	CHECK_INT(run("time(p) > now() - 1h", ev), 1);
	CHECK_INT(run("time(p) > now() - 10m", ev), 0);
	CHECK_INT(run("time(p) < now() - 29m && time(p) > now() - 31m", ev), 1);
	CHECK_INT(run("time(p) > now() - 0.5h - 1s", ev), 1);
	CHECK_INT(run("time(p) < now() + 1d", ev), 1);
	CHECK_INT(run("p > now() - 1h", ev), 1);
	CHECK_INT(run("p < now()", ev), 1);
	CHECK_INT(run("now() - 1h < p", ev), 1);
	CHECK_INT(run("now() > p && now() < f", ev), 1);
	CHECK_INT(run("time(f) > now() + 1h", ev), 1);
	CHECK_INT(run("time(f) < now() + 1h30m", ev), 0);
	CHECK_INT(run("time(f) < now() + 2h30m", ev), 1);
	CHECK_INT(run("f > now() + 119m && f < now() + 121m", ev), 1);
	CHECK_INT(run("time(e) < now() - 2d && time(e) > now() - 4d", ev), 1);
	CHECK_INT(run("time(e) > now() - 3d + 1m", ev), 0);
	CHECK_INT(run("time(e) + 3d < now() + 1s", ev), 1);
	/* read once per evaluation */
	CHECK_INT(run("now() == now()", ev), 1);
	CHECK_INT(run("now() + 1ns > now()", ev), 1);
	CHECK_INT(run("now() - 1ns < now() - 0ns", ev), 1);
	CHECK_INT(run("now() > 2024-01-01T00:00:00Z", ev), 1);
	CHECK_INT(run("now() < 9999-12-31T23:59:59Z", ev), 1);
}

/*** the prefilter ***/

/* Strings of the generated events and literals of the expressions. */
static const char *const vocab[] = {
    "order.created",
    "order.paid",
    "order.created.eu",
    "order",
    "orders",
    "user.x",
    "user.created",
    "ORDER.created",
    "order.cr",
    "created",
    "a/b",
    "/shop/web",
    "x\"y",
    "back\\slash",
    "\xc3\xa9",
    "caf\xc3\xa9",
    "\xe6\x97\xa5\xe6\x9c\xac",
    "\xf0\x9f\x98\x80",
    "line\nbreak",
    "tab\there",
    "ctl\x01",
    "vip",
    "A1",
    "-1",
    "",
    "x",
    "\x7f",
    "\\u",
    "u0041",
};

#define NVOCAB (sizeof vocab / sizeof vocab[0])

static const char *
word(void)
{
	return vocab[t_rng() % NVOCAB];
}

/* Appends the JSON string of s[0..n), spelled one of several ways: minimal
 * escapes, or with some characters as \u escapes (either case of hex,
 * surrogate pairs above the BMP), '/' as "\/", controls as \u00XX. */
static void
put_str(struct evk_buf *b, const char *s, size_t n)
{
	static const char hexl[] = "0123456789abcdef",
	                  hexu[] = "0123456789ABCDEF";
	unsigned mode = (unsigned)(t_rng() % 4), k;
	const char *hex = t_rng() % 2 ? hexl : hexu;
	char u[13];

	evk_buf_add(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp = c;
		size_t len = 1;
		if (c >= 0xf0) {
			cp = (uint32_t)(c & 7) << 18 |
			    (uint32_t)(s[i + 1] & 0x3f) << 12 |
			    (uint32_t)(s[i + 2] & 0x3f) << 6 |
			    (s[i + 3] & 0x3f);
			len = 4;
		} else if (c >= 0xe0) {
			cp = (uint32_t)(c & 0xf) << 12 |
			    (uint32_t)(s[i + 1] & 0x3f) << 6 |
			    (s[i + 2] & 0x3f);
			len = 3;
		} else if (c >= 0xc0) {
			cp = (uint32_t)(c & 0x1f) << 6 | (s[i + 1] & 0x3f);
			len = 2;
		}
		if (mode == 1 && t_rng() % 3 == 0) {
			/* this character as \u escapes */
			if (cp >= 0x10000) {
				uint32_t v = cp - 0x10000;
				uint32_t hi = 0xd800 + (v >> 10),
				         lo = 0xdc00 + (v & 0x3ff);
				snprintf(u, sizeof u, "\\u%c%c%c%c\\u%c%c%c%c",
				    hex[hi >> 12], hex[(hi >> 8) & 15],
				    hex[(hi >> 4) & 15], hex[hi & 15],
				    hex[lo >> 12], hex[(lo >> 8) & 15],
				    hex[(lo >> 4) & 15], hex[lo & 15]);
			} else {
				snprintf(u, sizeof u, "\\u%c%c%c%c",
				    hex[cp >> 12], hex[(cp >> 8) & 15],
				    hex[(cp >> 4) & 15], hex[cp & 15]);
			}
			evk_buf_adds(b, u);
		} else if (c == '"' || c == '\\') {
			evk_buf_add(b, "\\", 1);
			evk_buf_add(b, s + i, 1);
		} else if (c == '/' && mode == 2) {
			evk_buf_adds(b, "\\/");
		} else if (c < 0x20) {
			k = mode == 3 ? 0 : c;
			if (k == '\n')
				evk_buf_adds(b, "\\n");
			else if (k == '\t')
				evk_buf_adds(b, "\\t");
			else {
				snprintf(u, sizeof u, "\\u00%c%c", hex[c >> 4],
				    hex[c & 15]);
				evk_buf_adds(b, u);
			}
		} else {
			evk_buf_add(b, s + i, len);
		}
		i += len;
	}
	evk_buf_add(b, "\"", 1);
}

/* A string value: a word, or two glued (so that prefixes, suffixes and
 * substrings come up). */
static void
put_value(struct evk_buf *b)
{
	char tmp[128];
	const char *w = word();

	if (t_rng() % 3 == 0) {
		snprintf(tmp, sizeof tmp, "%s%s", w, word());
		put_str(b, tmp, strlen(tmp));
	} else {
		put_str(b, w, strlen(w));
	}
}

/* Appends a generated event: the usual members, some missing, some keys
 * spelled with escapes, nested data and arrays, white space here and
 * there. */
static void
gen_event(struct evk_buf *b)
{
	static const char *const sp[] = {"", "", "", " ", "\t", " \r\n "};
	const char *s = sp[t_rng() % 6];
	int first = 1;

#define KEY(k) \
	do { \
		evk_buf_adds(b, first ? "{" : ","); \
		evk_buf_adds(b, s); \
		if (t_rng() % 8 == 0) \
			put_str(b, k, strlen(k)); \
		else { \
			evk_buf_adds(b, "\"" k "\""); \
		} \
		evk_buf_adds(b, s); \
		evk_buf_adds(b, ":"); \
		first = 0; \
	} while (0)

	evk_buf_reset(b);
	if (t_rng() % 10) {
		KEY("type");
		put_value(b);
	}
	if (t_rng() % 2) {
		KEY("id");
		put_value(b);
	}
	if (t_rng() % 2) {
		KEY("source");
		put_value(b);
	}
	if (t_rng() % 3) {
		KEY("k");
		put_value(b);
	}
	if (t_rng() % 4) {
		int n = (int)(t_rng() % 4);
		KEY("data");
		evk_buf_adds(b, "{\"amount\":");
		evk_buf_adds(b, t_rng() % 2 ? "150" : "99.5");
		evk_buf_adds(b, ",\"sku\":");
		put_value(b);
		evk_buf_adds(b, ",\"note\":");
		put_value(b);
		evk_buf_adds(b, ",\"tags\":[");
		for (int i = 0; i < n; i++) {
			if (i)
				evk_buf_adds(b, ",");
			if (t_rng() % 5 == 0)
				evk_buf_adds(b, "[1,{\"x\":null}]");
			else
				put_value(b);
		}
		evk_buf_adds(b, "],\"nested\":{\"type\":");
		put_value(b);
		evk_buf_adds(b, "}}");
	}
	if (first)
		evk_buf_adds(b, "{");
	evk_buf_adds(b, s);
	evk_buf_adds(b, "}");
#undef KEY
}

/* The expressions of the differential test, into out[] (malloc'd). */
static size_t
gen_exprs(char **out, size_t max)
{
	static const char *const epaths[] = {"type", "id", "source", "k",
	    "data.sku", "data.note", "data.tags", "data.nested.type"};
	static const char *const eops[] = {"==", "startswith", "endswith",
	    "contains", "rev=="};
	static const char *const fixed[] = {
	    "type == \"order.created\" && data.amount > 100",
	    "type startswith \"order\" && data.note contains \"\xc3\xa9\"",
	    "topic(\"order.*\")",
	    "topic(\"order.>\")",
	    "topic(\"order.created\")",
	    "topic(\"user.*\") && k endswith \"ed\"",
	    "topic(\"order.created.eu\") || topic(\"user.x\")",
	    "topic(\"*.created\")",
	    "topic(\"a/b\")",
	    "topic(\"order.cr\") && source == \"/shop/web\"",
	    "data.tags contains \"vip\" && k endswith \"ere\"",
	    "type == \"order.created\" && type == \"order.paid\"",
	    "type == \"order.paid\" || data.sku == \"A1\"",
	    "!(type == \"order.created\")",
	    "!(type == \"x\") && data.sku == \"A1\"",
	    "type == \"order\\u002ecreated\"",
	    "type == \"\\u006frder.paid\" && id startswith \"\\u0041\"",
	    "source == \"a\\/b\"",
	    "k == \"x\\\"y\" || k == \"back\\\\slash\"",
	    "data.note == \"line\\u000abreak\"",
	    "data.nested.type endswith \"\\ud83d\\ude00\"",
	    "type == \"order.created\" && (data.sku startswith \"A\" || "
	    "id == \"vip\")",
	    "type == \"order.created\" && data.tags contains \"vip\" && "
	    "data.note endswith \"created\"",
	    "type in [\"order.created\", \"order.paid\"]",
	    "type =~ /^order\\./ && k == \"vip\"",
	    "lower(type) == \"order.created\" && source == \"/shop/web\"",
	};
	struct evk_buf lit = EVK_BUF_ZERO;
	char buf[256];
	size_t n = 0;

	for (size_t i = 0; i < NROWS(fixed) && n < max; i++)
		out[n++] = strdup(fixed[i]);
	for (size_t i = 0; n < max && i < 64; i++) {
		const char *p = epaths[i % NROWS(epaths)];
		const char *op = eops[(i / NROWS(epaths) + i) % NROWS(eops)];
		const char *w = vocab[(i * 7 + 3) % NVOCAB];
		evk_buf_reset(&lit);
		evk_json_escape(&lit, w, strlen(w));
		if (!strcmp(op, "rev=="))
			snprintf(buf, sizeof buf, "%s == %s", lit.p, p);
		else
			snprintf(buf, sizeof buf, "%s %s %s", p, op, lit.p);
		out[n++] = strdup(buf);
	}
	evk_buf_free(&lit);
	return n;
}

/*
 * The rule: for a line evk_json_check() accepts, evk_expr_prefilter() == 0
 * implies evk_expr_eval() == 0.  20000 generated events against 90
 * expressions; every line the prefilter rules out is evaluated (and must
 * not match), and all of the first 2000 are, to see that the expressions
 * do match something.
 */
TEST(prefilter_exact)
{
	enum { NLINES = 20000, NEXPR = 90 };
	char *src[NEXPR];
	struct evk_expr *ex[NEXPR];
	size_t ne = gen_exprs(src, NEXPR), skipped = 0, matched = 0,
	       withneedles = 0, checked = 0, invalid = 0, tried = 0;
	struct evk_buf b = EVK_BUF_ZERO;
	struct evk_err err;

	t_rng_state = UINT64_C(0x9e3779b97f4a7c15);
	CHECK(ne >= 50);
	for (size_t i = 0; i < ne; i++) {
		memset(&err, 0, sizeof err);
		if ((ex[i] = evk_expr_compile(src[i], &err)) == NULL) {
			t_cur_fail++;
			show("does not compile", src[i]);
			printf("#   %s\n", err.msg);
		} else if (evk_expr_prefilter_count(ex[i]) > 0)
			withneedles++;
	}
	for (int l = 0; l < NLINES; l++) {
		char *p;
		struct evk_span sp;
		gen_event(&b);
		if (evk_json_check(chk, b.p, b.len, NULL, &err) != 0) {
			invalid++; /* the generator must make valid JSON */
			continue;
		}
		checked++;
		p = t_dup_exact(b.p, b.len);
		sp.p = p;
		sp.len = b.len;
		for (size_t i = 0; i < ne; i++) {
			int pf, r;
			if (ex[i] == NULL)
				continue;
			tried++;
			pf = evk_expr_prefilter(ex[i], p, b.len);
			if (pf == 0)
				skipped++;
			else if (l >= 2000)
				continue;
			r = evk_expr_eval(ex[i], sp, NULL);
			matched += r == 1;
			if (r != 0 && pf == 0) {
				t_cur_fail++;
				show("prefilter ruled out a match of", src[i]);
				show("line", p);
			}
		}
		free(p);
	}
	CHECK_INT(invalid, 0);
	CHECK(withneedles >= 50);
	/* not vacuous: many lines skipped, many matches */
	CHECK(skipped > tried / 10);
	CHECK(matched > 1000);
	printf("# prefilter: %zu lines x %zu expressions (%zu with strings to "
	       "look for): %zu line-expression pairs ruled out (%.1f%%), none "
	       "of them a match; %zu matches in the lines evaluated\n",
	    checked, ne, withneedles, skipped,
	    tried ? 100.0 * (double)skipped / (double)tried : 0.0, matched);
	for (size_t i = 0; i < ne; i++) {
		evk_expr_free(ex[i]);
		free(src[i]);
	}
	evk_buf_free(&b);
}

static int
pf(const char *src, const char *line)
{
	struct evk_expr *e = evk_expr_compile(src, NULL);
	size_t n = strlen(line);
	char *p = t_dup_exact(line, n);
	int r = e ? evk_expr_prefilter(e, p, n) : -1;

	free(p);
	evk_expr_free(e);
	return r;
}

static size_t
count(const char *src)
{
	struct evk_expr *e = evk_expr_compile(src, NULL);
	size_t n = e ? evk_expr_prefilter_count(e) : (size_t)-1;

	evk_expr_free(e);
	return n;
}

TEST(prefilter_rules)
{
	/* counts: the conjuncts at the top, strings of 2 bytes or more */
	CHECK_INT(count("type == \"a.b\" && x > 1"), 1);
	CHECK_INT(count("a == \"x\" || b == \"y\""), 0);
	CHECK_INT(count("!(a == \"xy\")"), 0);
	CHECK_INT(count("a == \"x\""), 1); /* "x" with its quotes */
	CHECK_INT(count("a contains \"x\""), 0);
	CHECK_INT(count("a contains \"xy\""), 1);
	CHECK_INT(count("a startswith \"\""), 0);
	CHECK_INT(count("a startswith \"x\""), 1);
	CHECK_INT(count("a endswith \"x\""), 1);
	CHECK_INT(count("a == \"x\" && (b == \"y\" && c startswith \"zz\")"),
	    3);
	CHECK_INT(count("a == \"x\" && (b == \"y\" || c == \"z\")"), 1);
	CHECK_INT(count("a != \"xy\" && a < \"xy\" && a >= \"xy\""), 0);
	CHECK_INT(count("a == b && a == 1 && a == null"), 0);
	CHECK_INT(count("topic(\"order.*\") && topic(\">\")"), 1);

	/* a needed string missing: ruled out */
	CHECK_INT(pf("type == \"order.created\"", "{\"type\":\"order.paid\"}"),
	    0);
	CHECK_INT(pf("type == \"order.created\"",
	              "{\"type\":\"order.created\"}"),
	    1);
	/* present anywhere (even as a key) is enough: the evaluator decides */
	CHECK_INT(pf("type == \"order.created\"",
	              "{\"x\":\"order.created\",\"type\":1}"),
	    1);
	CHECK_INT(pf("type == \"ab\"", "{\"type\":\"abc\"}"), 0);
	CHECK_INT(pf("type startswith \"ab\"", "{\"type\":\"abc\"}"), 1);
	CHECK_INT(pf("type startswith \"bc\"", "{\"type\":\"abc\"}"), 0);
	CHECK_INT(pf("type endswith \"bc\"", "{\"type\":\"abc\"}"), 1);
	CHECK_INT(pf("type endswith \"ab\"", "{\"type\":\"abc\"}"), 0);
	/* needles are escaped as JSON writes them */
	CHECK_INT(pf("k == \"x\\\"y\"", "{\"k\":\"x\\\"y\"}"), 1);
	CHECK_INT(pf("k == \"a\\nb\"", "{\"k\":\"a\\nb\"}"), 1);
	CHECK_INT(pf("k == \"a\\u0001\"", "{\"k\":\"a\\u0001\"}"), 1);
	CHECK_INT(pf("k == \"\\u00e9\"", "{\"k\":\"\xc3\xa9\"}"), 1);
	/* a \u or \/ escape anywhere could spell it: never ruled out */
	CHECK_INT(pf("type == \"order.created\"",
	              "{\"type\":\"order\\u002ecreated\"}"),
	    1);
	CHECK_INT(pf("type == \"order.created\"", "{\"x\":\"\\u0041\"}"), 1);
	CHECK_INT(pf("type == \"a/b\"", "{\"type\":\"a\\/b\"}"), 1);
	CHECK_INT(pf("k == \"\xc3\xa9\"", "{\"k\":\"\\u00E9\"}"), 1);
	/* but an escaped backslash before a 'u' is no \u escape */
	CHECK_INT(pf("type == \"order.created\"", "{\"type\":\"x\\\\u\"}"), 0);
	CHECK_INT(pf("type == \"order.created\"", "{\"type\":\"x\\\\/\"}"), 0);
	CHECK_INT(pf("type == \"order.created\"",
	              "{\"type\":\"x\\\\\\u0041\"}"),
	    1);
	/* other escapes cannot hide a needle written minimally */
	CHECK_INT(pf("type == \"order.created\"", "{\"type\":\"\\n\\t\\\"\"}"),
	    0);
	/* no strings: every line passes */
	CHECK_INT(pf("type == 1", "{}"), 1);
	CHECK_INT(pf("a == \"x\" || b == \"y\"", "{}"), 1);
	CHECK_INT(pf("type == 1", ""), 1);
	/* any bytes, even not JSON: no crash, a 0 or a 1 */
	CHECK(pf("type == \"order.created\"", "") == 0);
	CHECK(pf("type == \"order.created\"", "\\u") == 1);
	CHECK(pf("type == \"order.created\"", "\"order.created\"") == 1);
	/* topics: the literal prefix, with the quote before it */
	CHECK_INT(pf("topic(\"order.*\")", "{\"type\":\"order.x\"}"), 1);
	CHECK_INT(pf("topic(\"order.*\")", "{\"type\":\"xorder.x\"}"), 0);
	CHECK_INT(pf("topic(\"order.created\")",
	              "{\"type\":\"order.created.x\"}"),
	    0);
	CHECK_INT(pf("topic(\">\")", "{}"), 1);
}

/*** topic expressions and joins ***/

static int
eval_on(struct evk_expr *e, const char *ev)
{
	size_t n = strlen(ev);
	char *p = t_dup_exact(ev, n);
	struct evk_span sp = {p, n};
	int r = evk_expr_eval(e, sp, NULL);

	if (r == 1 && !evk_expr_prefilter(e, p, n))
		r = R_PREFILTER;
	free(p);
	return r;
}

TEST(topic_expr)
{
	struct evk_err e = EVK_ERR_ZERO;
	struct evk_expr *x;

	x = evk_expr_topic("order.*", &e);
	CHECK(x != NULL);
	CHECK_INT(evk_expr_prefilter_count(x), 1);
	CHECK_INT(eval_on(x, "{\"type\":\"order.created\"}"), 1);
	CHECK_INT(eval_on(x, "{\"type\":\"order.created.eu\"}"), 0);
	CHECK_INT(eval_on(x, "{\"type\":\"order\\u002epaid\"}"), 1);
	CHECK_INT(eval_on(x, "{}"), 0);
	evk_expr_free(x);

	x = evk_expr_topic(">", &e);
	CHECK_INT(evk_expr_prefilter_count(x), 0);
	CHECK_INT(eval_on(x, "{\"type\":\"a\"}"), 1);
	CHECK_INT(eval_on(x, "{\"type\":\"\"}"), 0);
	evk_expr_free(x);

	x = evk_expr_topic("a.b", &e);
	CHECK_INT(evk_expr_prefilter_count(x), 1);
	CHECK_INT(eval_on(x, "{\"type\":\"a.b\"}"), 1);
	CHECK_INT(eval_on(x, "{\"type\":\"a.bc\"}"), 0);
	evk_expr_free(x);

	/* the pattern is not an expression: quotes are bytes of it */
	x = evk_expr_topic("\"a\"", &e);
	CHECK(x != NULL);
	CHECK_INT(eval_on(x, "{\"type\":\"\\\"a\\\"\"}"), 1);
	evk_expr_free(x);

	/* bad patterns */
	memset(&e, 0, sizeof e);
	CHECK(evk_expr_topic("a..b", &e) == NULL);
	CHECK_INT(e.code, EVK_EINVAL);
	CHECK_STR(e.msg, "empty token in topic");
	CHECK_INT(e.column, 3);
	memset(&e, 0, sizeof e);
	CHECK(evk_expr_topic("", &e) == NULL);
	CHECK_STR(e.msg, "empty topic");
	CHECK(evk_expr_topic("a.>.b", &e) == NULL);
	CHECK_STR(e.msg, "'>' must be the last token");
	CHECK(evk_expr_topic("a b", NULL) == NULL);
	CHECK(evk_expr_topic(".a", NULL) == NULL);
}

static int
pf_on(const struct evk_expr *e, const char *line)
{
	size_t n = strlen(line);
	char *p = t_dup_exact(line, n);
	int r = evk_expr_prefilter(e, p, n);

	free(p);
	return r;
}

static struct evk_expr *
comp(const char *src)
{
	struct evk_err e = EVK_ERR_ZERO;
	struct evk_expr *x = evk_expr_compile(src, &e);

	if (x == NULL) {
		show("does not compile", src);
		printf("#   %s\n", e.msg);
	}
	return x;
}

TEST(join)
{
	static const char *const evs[] = {
	    "{\"type\":\"order.created\",\"y\":\"p\",\"z\":\"abc\",\"n\":1}",
	    "{\"type\":\"order.created\",\"y\":\"r\",\"z\":\"abc\"}",
	    "{\"type\":\"order.paid\",\"y\":\"q\",\"z\":\"xa\"}",
	    "{\"type\":\"user.x\",\"y\":\"q\",\"z\":\"abc\",\"n\":2}",
	    "{}",
	};
	/* pairs whose second side has lists, regexes, literals, paths with
	 * keys and indexes: the nodes move when joined */
	static const char *const sides[][2] = {
	    {"type == \"order.created\"", "y in [\"p\", \"q\"] && z =~ /^a/"},
	    {"topic(\"order.*\")", "n in [1, 2.0, \"x\"] || z endswith \"a\""},
	    {"exists(n)", "len(z) == 3 && lower(type) startswith \"order\""},
	    {"y == \"q\"", "!(type in [\"user.x\"])"},
	};
	struct evk_expr *a, *b, *j;

	for (size_t k = 0; k < NROWS(sides); k++) {
		for (int and_ = 0; and_ <= 1; and_++) {
			size_t ca, cb;
			a = comp(sides[k][0]);
			b = comp(sides[k][1]);
			if (a == NULL || b == NULL)
				continue;
			ca = evk_expr_prefilter_count(a);
			cb = evk_expr_prefilter_count(b);
			for (size_t i = 0; i < NROWS(evs); i++) {
				int ra = eval_on(a, evs[i]),
				    rb = eval_on(b, evs[i]);
				int want = and_ ? ra && rb : ra || rb;
				/* fresh copies: the join takes both */
				struct evk_expr *a2 = comp(sides[k][0]),
				                *b2 = comp(sides[k][1]);
				j = evk_expr_join(a2, b2, and_);
				CHECK(j != NULL);
				if (j == NULL)
					continue;
				if (eval_on(j, evs[i]) != want) {
					t_cur_fail++;
					printf(
					    "#   (%s) %s (%s) on %s: got %d\n",
					    sides[k][0], and_ ? "&&" : "||",
					    sides[k][1], evs[i],
					    eval_on(j, evs[i]));
				}
				CHECK_INT(evk_expr_prefilter_count(j),
				    and_ ? ca + cb : 0);
				evk_expr_free(j);
			}
			evk_expr_free(a);
			evk_expr_free(b);
		}
	}

	/* evfilter's shape: -t A -t B ORed, then -e ANDed */
	j = evk_expr_join(evk_expr_topic("order.*", NULL),
	    evk_expr_topic("user.>", NULL), 0);
	j = evk_expr_join(j, comp("z contains \"b\""), 1);
	j = evk_expr_join(j, comp("!exists(n) || n < 2"), 1);
	CHECK(j != NULL);
	CHECK_INT(evk_expr_prefilter_count(j), 0); /* ORed; "b" too short */
	CHECK_INT(eval_on(j, evs[0]), 1);
	CHECK_INT(eval_on(j, evs[1]), 1);
	CHECK_INT(eval_on(j, evs[2]), 0);
	CHECK_INT(eval_on(j, evs[3]), 0);
	CHECK_INT(eval_on(j, evs[4]), 0);
	evk_expr_free(j);

	/* the prefilter of a joined expression: strings of both sides */
	j = evk_expr_join(comp("type == \"order.created\""),
	    comp("y == \"pq\""), 1);
	CHECK_INT(evk_expr_prefilter_count(j), 2);
	CHECK_INT(pf_on(j, "{\"type\":\"order.created\"}"), 0);
	CHECK_INT(pf_on(j, "{\"type\":\"order.created\",\"y\":\"pq\"}"), 1);
	evk_expr_free(j);
	j = evk_expr_join(comp("type == \"order.created\""),
	    comp("y == \"pq\""), 0);
	CHECK_INT(evk_expr_prefilter_count(j), 0);
	evk_expr_free(j);

	/* many joins in a row, as many -e options */
	j = comp("n == 1");
	for (int i = 0; i < 300; i++)
		j = evk_expr_join(j, comp("type startswith \"order\""), 1);
	CHECK(j != NULL);
	CHECK_INT(evk_expr_prefilter_count(j), 300);
	CHECK_INT(eval_on(j, evs[0]), 1);
	CHECK_INT(eval_on(j, evs[1]), 0);
	evk_expr_free(j);

	/* NULL on either side: NULL, and the other one is freed (the leak
	 * checker of SAN=1 watches) */
	CHECK(evk_expr_join(NULL, comp("a"), 1) == NULL);
	CHECK(evk_expr_join(comp("a"), NULL, 0) == NULL);
	CHECK(evk_expr_join(NULL, NULL, 0) == NULL);
	evk_expr_free(NULL);
}

/* Evaluation keeps scratch memory between calls: results do not depend
 * on what was evaluated before. */
TEST(eval_reuse)
{
	struct evk_expr *x = comp("lower(a) == \"\\u00e9x\" && b == c");
	static const char *const evs[] = {
	    "{\"a\":\"\\u00e9X\",\"b\":{\"k\\u0031\":[1]},\"c\":{\"k1\":[1.0]}}",
	    "{\"a\":\"\xc3\xa9x\",\"b\":\"\\u0041\",\"c\":\"A\"}",
	    "{\"a\":\"\\u00e9y\",\"b\":1,\"c\":1}",
	};
	static const int want[] = {1, 1, 0};

	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < NROWS(evs); i++)
			CHECK_INT(eval_on(x, evs[i]), want[i]);
	evk_expr_free(x);
}

/*** regressions: bugs found by these tests and the fuzzers ***/

/* Runs fn in a child process: a crash there fails this test only. */
static void
in_child(void (*fn)(void), const char *what)
{
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) < 0) {
		perror("fork");
		t_cur_fail++;
		return;
	}
	if (pid == 0) {
		t_cur_fail = 0;
		fn();
		fflush(stdout);
		_exit(t_cur_fail ? 1 : 0);
	}
	if (waitpid(pid, &st, 0) < 0) {
		perror("waitpid");
		t_cur_fail++;
		return;
	}
	if (WIFSIGNALED(st)) {
		t_cur_fail++;
		printf("#   %s: killed by signal %d\n", what, WTERMSIG(st));
	} else if (WEXITSTATUS(st) != 0) {
		t_cur_fail++;
		printf("#   %s: exit status %d\n", what, WEXITSTATUS(st));
	}
}

/*
 * Regression: evk_expr_prefilter() on a raw line ending in an odd run of
 * backslashes once stepped past the end and called memchr() with a length
 * that wrapped around (`x\` made `evfilter 'type == "ab"'` crash).  Each
 * line is put at the very end of a page followed by an inaccessible one,
 * so any read past it faults, with or without ASan.
 */
static void
prefilter_backslash_child(void)
{
	static const char *const lines[] = {"\\", "x\\", "{\"type\":1}\\",
	    "\\\\\\", "\\\\"};
	long pg = sysconf(_SC_PAGESIZE);
	int fd = open("/dev/zero", O_RDWR);
	char *m;
	struct evk_expr *e =
	    evk_expr_compile("type == \"order.created\"", NULL);

	CHECK(fd >= 0 && e != NULL);
	m = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
	    0);
	CHECK(m != MAP_FAILED);
	if (fd < 0 || e == NULL || m == MAP_FAILED)
		return;
	CHECK_INT(mprotect(m + pg, (size_t)pg, PROT_NONE), 0);
	for (size_t i = 0; i < NROWS(lines); i++) {
		size_t n = strlen(lines[i]);
		char *p = m + pg - n;
		int r;
		memcpy(p, lines[i], n);
		r = evk_expr_prefilter(e, p, n);
		CHECK(r == 0 || r == 1);
	}
	evk_expr_free(e);
	munmap(m, (size_t)pg * 2);
	close(fd);
}

TEST(regress_prefilter_trailing_backslash)
{
	in_child(prefilter_backslash_child, "prefilter on \"x\\\"");
}

/*
 * Regression: a long flat chain, a && a && ... (or ||), 100000 terms, once
 * overflowed the stack (needles() and eval() recursed down the chain, one
 * frame per term; SIGSEGV at about 30000 terms with 8 MiB of stack).  The
 * chains are now right-deep and walked in loops.
 */
static void
long_chain_child(void)
{
	static const char *const ops2[] = {"&&", "||"};
	struct rlimit rl;

	/* the usual 8 MiB of stack, even under "ulimit -s unlimited" */
	if (getrlimit(RLIMIT_STACK, &rl) == 0 &&
	    (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (8u << 20))) {
		rl.rlim_cur = 8u << 20;
		setrlimit(RLIMIT_STACK, &rl);
	}
	for (size_t k = 0; k < 2; k++) {
		char unit[4];
		struct evk_err e = EVK_ERR_ZERO;
		struct evk_expr *x;
		char *s;
		snprintf(unit, sizeof unit, "a%s", ops2[k]);
		s = repeat("", unit, 100000, "a", "");
		x = evk_expr_compile(s, &e);
		if (x == NULL) {
			CHECK_INT(e.code, EVK_EINVAL);
			CHECK(e.msg[0] != '\0');
		} else {
			CHECK_INT(eval_on(x, "{\"a\":1}"), 1);
			CHECK_INT(eval_on(x, "{}"), 0);
		}
		evk_expr_free(x);
		free(s);
	}
}

TEST(regress_long_flat_chain)
{
	in_child(long_chain_child, "a && a && ... (100000 terms)");
}

/*
 * Regression: error messages once quoted the offending token raw (a DEL or
 * a C1 control included, cut at 40 bytes inside a UTF-8 character);
 * evfilter prints them to a terminal.
 */
TEST(regress_error_message_bytes)
{
	struct evk_err e = EVK_ERR_ZERO;
	char *s;

	CHECK(evk_expr_compile("a \"\x7f\"", &e) == NULL);
	CHECK_INT(e.column, 3);
	if (!msg_clean(e.msg)) {
		t_cur_fail++;
		show("message", e.msg);
	}
	memset(&e, 0, sizeof e);
	CHECK(evk_expr_compile("a \"\xc2\x9b"
	                       "31m\"",
	          &e) == NULL);
	if (strstr(e.msg, "\xc2\x9b") != NULL) {
		t_cur_fail++;
		show("message with a C1 control (CSI)", e.msg);
	}
	memset(&e, 0, sizeof e);
	s = repeat("a \"", "\xc3\xa9", 30, "\"", "");
	CHECK(evk_expr_compile(s, &e) == NULL);
	if (evk_utf8_check(e.msg, strlen(e.msg), NULL) != 0) {
		t_cur_fail++;
		show("message, not valid UTF-8", e.msg);
	}
	free(s);
}

/* evfilter(1) promises 200 levels; parse_or() once counted the whole
 * expression as one, refusing 200. */
TEST(regress_nesting_limit_as_documented)
{
	char msg[256];

	CHECK_INT(depth_column("(", 200, ")", msg, sizeof msg), 0);
	CHECK_INT(depth_column("!", 200, "", msg, sizeof msg), 0);
	CHECK_INT(depth_column("!(", 100, ")", msg, sizeof msg), 0);
}

/* Regression (found by fuzz_expr): "invalid number '...'" quoted the whole
 * token, so a long one was cut by the message buffer and the message
 * ended with a period. */
TEST(regress_long_token_message)
{
	struct evk_err e = EVK_ERR_ZERO;
	char *s = repeat("x > 1e308", ".", 300, "", "");
	size_t n;

	CHECK(evk_expr_compile(s, &e) == NULL);
	CHECK_INT(e.column, 5);
	n = strlen(e.msg);
	CHECK(n < 80);
	CHECK(n > 0 && e.msg[n - 1] == '\'');
	CHECK(strncmp(e.msg, "invalid number '1e308....", 25) == 0);
	CHECK(strstr(e.msg, "...'") != NULL);
	free(s);
}

int
main(void)
{
	if ((chk = evk_json_checker_new(NULL)) == NULL)
		return 2;
	RUN(compile_errors);
	RUN(compile_nesting);
	RUN(compile_valid);
	RUN(eval_paths);
	RUN(eval_compare_same_type);
	RUN(eval_compare_cross_type);
	RUN(eval_absent);
	RUN(eval_in_contains_startswith);
	RUN(eval_regex);
	RUN(eval_logic);
	RUN(eval_functions);
	RUN(eval_topic);
	RUN(eval_now);
	RUN(prefilter_exact);
	RUN(prefilter_rules);
	RUN(topic_expr);
	RUN(join);
	RUN(eval_reuse);
	RUN(regress_prefilter_trailing_backslash);
	RUN(regress_long_flat_chain);
	RUN(regress_error_message_bytes);
	RUN(regress_nesting_limit_as_documented);
	RUN(regress_long_token_message);
	evk_json_checker_free(chk);
	return t_done();
}
