/*
 * tests/unit/test_canon.c - evk_canon(): the RFC 8785 vectors in
 * tests/vectors/jcs-rfc8785 (cyberphone's input/output files, ES6 number
 * lines, Appendix B, the section 3.2.3 sorting and 3.2.4 UTF-8 samples),
 * tables of our own (order, escapes, numbers, errors), idempotence, the
 * two number paths against each other, and unchecked text.
 */
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evkit/canon.h"
#include "evkit/json.h"
#include "t.h"

#define S(lit) lit, sizeof(lit) - 1 /* a literal with its exact length */

static struct evk_json_checker *chk; /* defaults: depth 128, no dup keys */

/* Idempotence over every vector: canon(canon(x)) == canon(x). */
static int idem_n, idem_fail;

static const char *const files[] = {"arrays", "french", "structures", "unicode",
    "values", "weird"};

static char *
vslurp(const char *rel, size_t *len)
{
	char path[1024];

	snprintf(path, sizeof path, "%s/jcs-rfc8785/%s", t_vectors(), rel);
	return t_slurp(path, len);
}

/* Shows bytes in a TAP comment without raw control bytes. */
static void
show(const char *label, const char *s, size_t len)
{
	size_t i;

	printf("#   %s: \"", label);
	for (i = 0; i < len && i < 160; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			putchar(ch);
		else
			printf("\\x%02x", ch);
	}
	printf("%s\"\n", i < len ? "..." : "");
}

/* Canonicalizes an exact-size copy of s[0..n) into `out` (emptied first),
 * so that under SAN=1 a read past the span is an error. */
static int
canon(const char *s, size_t n, struct evk_buf *out, struct evk_err *e)
{
	char *p = t_dup_exact(s, n);
	int rc;

	evk_buf_reset(out);
	rc = evk_canon(p, n, out, e);
	free(p);
	return rc;
}

/* Nonzero when canonicalizing `s` (which must be checked JSON) succeeds
 * with exactly want[0..wn); shows the difference otherwise.  Counts the
 * idempotence check of the result too. */
static int
canon_is(const char *s, size_t n, const char *want, size_t wn)
{
	struct evk_buf out = EVK_BUF_ZERO, again = EVK_BUF_ZERO;
	struct evk_err e = EVK_ERR_ZERO;
	int ok = 1, rc;

	if (evk_json_check(chk, s, n, NULL, &e) != 0) {
		printf("#   not checked JSON: %s\n", e.msg);
		show("input", s, n);
		return 0;
	}
	rc = canon(s, n, &out, &e);
	if (rc != 0 || out.len != wn || memcmp(out.p, want, wn) != 0) {
		printf("#   rc %d %s\n", rc, rc ? e.msg : "");
		show("input", s, n);
		show("got", out.p ? out.p : "", out.len);
		show("want", want, wn);
		ok = 0;
	}
	if (rc == 0) {
		idem_n++;
		if (canon(out.p, out.len, &again, &e) != 0 ||
		    again.len != out.len ||
		    memcmp(again.p, out.p, out.len) != 0) {
			idem_fail++;
			show("not a fixed point", out.p, out.len);
			ok = 0;
		}
	}
	evk_buf_free(&out);
	evk_buf_free(&again);
	return ok;
}

/* Reads "7b 22 ..." (any whitespace) into a malloc'd buffer. */
static char *
unhex(const char *s, size_t *n)
{
	char *p = malloc(strlen(s) / 2 + 1);
	unsigned v;
	int used;

	*n = 0;
	if (p == NULL)
		abort();
	while (sscanf(s, " %2x%n", &v, &used) == 1) {
		p[(*n)++] = (char)v;
		s += used;
	}
	return p;
}

/*** cyberphone's input/output/outhex files ***/

static void
vector_files(void)
{
	char rel[128], name[160];
	char *in, *want, *hex, *bytes;
	size_t n, wn, hn, i;

	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(rel, sizeof rel, "input/%s.json", files[i]);
		in = vslurp(rel, &n);
		snprintf(rel, sizeof rel, "output/%s.json", files[i]);
		want = vslurp(rel, &wn);
		snprintf(rel, sizeof rel, "outhex/%s.txt", files[i]);
		hex = vslurp(rel, NULL);
		snprintf(name, sizeof name,
		    "jcs input/%s.json canonicalizes to output/%s.json",
		    files[i], files[i]);
		t_result(in != NULL && want != NULL &&
		        canon_is(in, n, want, wn),
		    name);
		bytes = hex != NULL ? unhex(hex, &hn) : NULL;
		snprintf(name, sizeof name,
		    "jcs input/%s.json canonicalizes to outhex/%s.txt",
		    files[i], files[i]);
		t_result(in != NULL && bytes != NULL && hn > 0 &&
		        canon_is(in, n, bytes, hn),
		    name);
		free(in);
		free(want);
		free(hex);
		free(bytes);
	}
}

/*** numbers: "hex-ieee,expected" lines and Appendix B ***/

static double
from_bits(const char *hex)
{
	uint64_t bits = strtoull(hex, NULL, 16);
	double d;

	memcpy(&d, &bits, sizeof d);
	return d;
}

/* A JSON number for `d` with 17 significant digits: it reads back as d. */
static int
number_is(double d, const char *want)
{
	char num[64];

	snprintf(num, sizeof num, "%.17g", d);
	if (!canon_is(num, strlen(num), want, strlen(want)))
		return 0;
	/* The expected text is JSON too, and canonical already. */
	return canon_is(want, strlen(want), want, strlen(want));
}

/*
 * Checks every line of a numbers file, split at `sep` into hex bits and
 * expected text; lines starting with '#' and the TSV header are skipped.
 * NaN and Infinity, which JSON cannot hold, are counted apart: their rows
 * must be marked ERROR (when the file marks errors) and are checked to be
 * refused.
 */
static void
number_file(const char *rel, char sep)
{
	char *text, *line, *next, *tab, *end, name[256];
	size_t lines = 0, fails = 0, errors = 0, errfails = 0;
	double d;

	if ((text = vslurp(rel, NULL)) == NULL) {
		snprintf(name, sizeof name, "jcs %s: readable", rel);
		t_result(0, name);
		return;
	}
	for (line = text; *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (*line == '#' || *line == '\0' ||
		    strncmp(line, "ieee754_hex", 11) == 0)
			continue;
		if ((tab = strchr(line, sep)) == NULL) {
			printf("#   %s: bad line \"%s\"\n", rel, line);
			fails++;
			continue;
		}
		*tab++ = '\0';
		if ((end = strchr(tab, '\t')) != NULL) /* TSV comment */
			*end = '\0';
		d = from_bits(line);
		if (isnan(d) || isinf(d) || strcmp(tab, "ERROR") == 0) {
			struct evk_buf out = EVK_BUF_ZERO;
			struct evk_err e = EVK_ERR_ZERO;
			char num[64];
			int ok = isnan(d) || isinf(d);

			/* No JSON text denotes it: printf's spelling is not
			 * JSON, and a number beyond the range is refused. */
			snprintf(num, sizeof num, "%.17g", d);
			ok &= evk_json_check(chk, num, strlen(num), NULL,
			          NULL) != 0;
			if (isinf(d))
				ok &=
				    canon(d < 0 ? "-1e400" : "1e400",
				        d < 0 ? 6 : 5, &out, &e) == EVK_ERANGE;
			if (!ok)
				printf("#   %s: %s should be an error\n", rel,
				    line);
			errors++;
			errfails += !ok;
			evk_buf_free(&out);
			continue;
		}
		lines++;
		if (!number_is(d, tab)) {
			printf("#   %s: line %s,%s\n", rel, line, tab);
			fails++;
		}
	}
	snprintf(name, sizeof name, "jcs %s: %zu numbers", rel, lines);
	t_result(lines > 0 && fails == 0, name);
	if (sep == '\t') {
		snprintf(name, sizeof name,
		    "jcs %s: %zu ERROR rows (NaN, Infinity) not representable",
		    rel, errors);
		t_result(errors == 2 && errfails == 0, name);
	} else if (errors > 0) {
		printf("#   %s: %zu NaN/Infinity lines skipped\n", rel, errors);
	}
	free(text);
}

/*** RFC 8785 sections 3.2.3 and 3.2.4 ***/

static void
sorting_sample(void)
{
	struct evk_buf out = EVK_BUF_ZERO, val = EVK_BUF_ZERO;
	struct evk_err e = EVK_ERR_ZERO;
	struct evk_json_iter it;
	struct evk_span all, k, v;
	char *in, *order, *line, *next;
	size_t n, count = 0;
	int ok;

	in = vslurp("rfc8785_s3.2.3_sorting_input.json", &n);
	order = vslurp("rfc8785_s3.2.3_sorting_expected_order.txt", NULL);
	ok = in != NULL && order != NULL &&
	    evk_json_check(chk, in, n, NULL, &e) == 0 &&
	    canon(in, n, &out, &e) == 0;
	if (ok) {
		all.p = out.p;
		all.len = out.len;
		evk_json_iter_init(&it, all);
		line = order;
		while (evk_json_iter_next(&it, &k, &v)) {
			if ((next = strchr(line, '\n')) != NULL)
				*next++ = '\0';
			else
				next = line + strlen(line);
			evk_buf_reset(&val);
			if (evk_json_unescape(v, &val) < 0 ||
			    strcmp(val.p, line) != 0) {
				printf(
				    "#   value %zu: \"%s\", expected \"%s\"\n",
				    count + 1, val.p ? val.p : "", line);
				ok = 0;
			}
			count++;
			line = next;
		}
		ok &= count == 7 && *line == '\0';
	}
	t_result(ok, "jcs rfc8785 s3.2.3: values in the expected order");
	if (ok) {
		idem_n++;
		evk_buf_reset(&val);
		if (canon(out.p, out.len, &val, &e) != 0 ||
		    val.len != out.len || memcmp(val.p, out.p, out.len) != 0)
			idem_fail++;
	}
	free(in);
	free(order);
	evk_buf_free(&out);
	evk_buf_free(&val);
}

static void
utf8_sample(void)
{
	char *in, *hex, *bytes = NULL;
	size_t n, hn = 0;

	in = vslurp("input/values.json", &n);
	hex = vslurp("rfc8785_s3.2.4_utf8_hex.txt", NULL);
	if (hex != NULL)
		bytes = unhex(hex, &hn);
	t_result(in != NULL && bytes != NULL && hn > 0 &&
	        canon_is(in, n, bytes, hn),
	    "jcs rfc8785 s3.2.4: UTF-8 bytes of the s3.2.2 sample");
	free(in);
	free(hex);
	free(bytes);
}

/*** tables ***/

static const struct {
	const char *in;
	size_t len;
	const char *want;
	size_t wlen;
} table[] = {
    /* structure and whitespace */
    {S("{\"b\":[1,{\"d\":{},\"c\":[]}],\"a\":{\"z\":{\"y\":1,\"x\":2}}}"),
        S("{\"a\":{\"z\":{\"x\":2,\"y\":1}},\"b\":[1,{\"c\":[],\"d\":{}}]}")},
    {S(" \t\r\n{ \"a\" : [ 1 , 2 ] ,\n\"\" : { } }\r\n"),
        S("{\"\":{},\"a\":[1,2]}")},
    {S("{}"), S("{}")},
    {S("[]"), S("[]")},
    {S("[ { } , [ ] , [ [ ] ] ]"), S("[{},[],[[]]]")},
    {S("{\"a\":[],\"b\":{}}"), S("{\"a\":[],\"b\":{}}")},
    {S("[[[[{\"b\":[{\"b\":1,\"a\":2}],\"a\":0}]]]]"),
        S("[[[[{\"a\":0,\"b\":[{\"a\":2,\"b\":1}]}]]]]")},
    {S(" \"x\" "), S("\"x\"")},
    {S("true"), S("true")},
    {S("[true,false,null]"), S("[true,false,null]")},
    {S("\n null\n"), S("null")},
    /* key order: UTF-16 code units, after unescaping */
    {S("{\"b\":1,\"a\":2,\"A\":3,\"aa\":4,\"\":5}"),
        S("{\"\":5,\"A\":3,\"a\":2,\"aa\":4,\"b\":1}")},
    {S("{\"\\u0062\":1,\"a\":2}"), S("{\"a\":2,\"b\":1}")},
    {S("{\"b\":1,\"\\u0061\":2}"), S("{\"a\":2,\"b\":1}")},
    {S("{\"\\n\":1,\"\\t\":2,\"\\\"\":3,\"\\\\\":4,\"\\/\":5}"),
        S("{\"\\t\":2,\"\\n\":1,\"\\\"\":3,\"/\":5,\"\\\\\":4}")},
    {S("{\"\\uffff\":1,\"\\ud800\\udc00\":2}"),
        S("{\"\xf0\x90\x80\x80\":2,\"\xef\xbf\xbf\":1}")},
    {S("{\"\xef\xbf\xbf\":1,\"\xf0\x90\x80\x80\":2}"),
        S("{\"\xf0\x90\x80\x80\":2,\"\xef\xbf\xbf\":1}")},
    {S("{\"\\ue000\":1,\"\\ud83d\\ude00\":2,\"\\ud7ff\":3,\"\\u00e9\":4}"),
        S("{\"\xc3\xa9\":4,\"\xed\x9f\xbf\":3,\"\xf0\x9f\x98\x80\":2,"
          "\"\xee\x80\x80\":1}")},
    {S("{\"\\udbff\\udfff\":1,\"\\ud800\\udc00\":2,\"\\uefff\":3}"),
        S("{\"\xf0\x90\x80\x80\":2,\"\xf4\x8f\xbf\xbf\":1,"
          "\"\xee\xbf\xbf\":3}")},
    {S("{\"ab\":1,\"a\\u0000b\":2}"), NULL, 0}, /* refused: \u0000 */
    /* strings: the minimal escapes */
    {S("\"\\u0041\\/\\u007f\\u001F\\u00e9\\b\\f\\n\\r\\t\\\"\\\\\""),
        S("\"A/\x7f\\u001f\xc3\xa9\\b\\f\\n\\r\\t\\\"\\\\\"")},
    {S("\"\\u0001\\u0008\\u000b\\u000e\\u0019\""),
        S("\"\\u0001\\b\\u000b\\u000e\\u0019\"")},
    {S("\"\\ud83d\\ude00 \\u20AC \xe2\x82\xac <\\/script>\""),
        S("\"\xf0\x9f\x98\x80 \xe2\x82\xac \xe2\x82\xac </script>\"")},
    {S("\"A\\u030a\""), S("\"A\xcc\x8a\"")},
    /* numbers */
    {S("-0"), S("0")},
    {S("-0.0e5"), S("0")},
    {S("[0,-0,0.0]"), S("[0,0,0]")},
    {S("1e21"), S("1e+21")},
    {S("1e20"), S("100000000000000000000")},
    {S("-1e21"), S("-1e+21")},
    {S("1e-7"), S("1e-7")},
    {S("1e-6"), S("0.000001")},
    {S("0.000001234"), S("0.000001234")},
    {S("-1.5e-7"), S("-1.5e-7")},
    {S("123456789012345678901234"), S("1.2345678901234569e+23")},
    {S("9007199254740993"), S("9007199254740992")},
    {S("12345678901234567890"), S("12345678901234567000")},
    {S("1E3"), S("1000")},
    {S("1e+3"), S("1000")},
    {S("100e-2"), S("1")},
    {S("56.0"), S("56")},
    {S("4.50"), S("4.5")},
    {S("0.1"), S("0.1")},
    {S("-12.5E-1"), S("-1.25")},
    {S("0.30000000000000004"), S("0.30000000000000004")},
    {S("333333333.33333329"), S("333333333.3333333")},
    /* Powers of two where the nearest 16-digit decimal misses the
     * lopsided round-trip interval but its neighbour hits it (found by
     * comparing with node's Number.prototype.toString). */
    {S("7.1202363472230444e-307"), S("7.120236347223045e-307")},
    {S("7.120236347223045e-307"), S("7.120236347223045e-307")},
    {S("-7.2911220195563975e-304"), S("-7.291122019556398e-304")},
    {S("5.641232424577593e-278"), S("5.641232424577593e-278")},
    {S("5.858190679279809e-244"), S("5.858190679279809e-244")},
    {S("8.209073602596753e-289"), S("8.209073602596753e-289")},
    {S("0.1000000000000000055511151231257827021181583404541015625"), S("0.1")},
    {S("0.299999999999999988897769753748434595763683319091796875001"),
        S("0.3")},
    {S("-21.539816349744830"), S("-21.53981634974483")},
    {S("1e-300"), S("1e-300")},
    {S("1.5e300"), S("1.5e+300")},
    {S("1e-400"), S("0")},
    {S("-1e-400"), S("0")},
    {S("5e-324"), S("5e-324")},
    {S("2e-324"), S("0")},
    {S("3e-324"), S("5e-324")},
    {S("2.2250738585072014e-308"), S("2.2250738585072014e-308")},
    {S("1.7976931348623157e308"), S("1.7976931348623157e+308")},
    {S("1.7976931348623158e308"), S("1.7976931348623157e+308")},
    {S("0.0000000000000000000000000000000000000000001e43"), S("1")},
    {S("100000000000000000000000000000000000000000000e-44"), S("1")},
    {S("1e0000000000000000000000000000001"), S("10")},
    {S("1e-00000000000000000000000000000001"), S("0.1")},
    {S("[1.0,2.50,-3e0,10,1e1]"), S("[1,2.5,-3,10,10]")},
    {S("{\"n\":1.5,\"m\":-0}"), S("{\"m\":0,\"n\":1.5}")},
};

TEST(table_rows)
{
	size_t i;

	for (i = 0; i < sizeof table / sizeof table[0]; i++) {
		if (table[i].want == NULL) {
			CHECK(evk_json_check(chk, table[i].in, table[i].len,
			          NULL, NULL) != 0);
			continue;
		}
		if (!canon_is(table[i].in, table[i].len, table[i].want,
		        table[i].wlen)) {
			printf("#   table row %zu\n", i);
			CHECK(0);
		}
	}
}

/* Numbers too large for a double are refused with their column, and the
 * output is left as it was. */
TEST(range_errors)
{
	static const struct {
		const char *in;
		size_t len;
		size_t column;
	} rows[] = {
	    {S("1e400"), 1},
	    {S("-1e400"), 1},
	    {S("  1.8e308"), 3},
	    {S("{\"a\":1e400}"), 6},
	    {S("[1,2,\n-1e309]"), 7},
	    {S("{\"b\":[1e999],\"a\":\"x\\u0041\"}"), 7},
	    {S("1000000000000000000000000000000000000000000000000000000000"
	       "00000000000000000000000000000000000000000000000000000000000"
	       "00000000000000000000000000000000000000000000000000000000000"
	       "00000000000000000000000000000000000000000000000000000000000"
	       "00000000000000000000000000000000000000000000000000000000000"
	       "000000000000000000000000000000000000000000000000"),
	        1},
	    {S("1e99999999999999999999999999999999"), 1},
	};
	struct evk_buf out = EVK_BUF_ZERO;
	struct evk_err e = EVK_ERR_ZERO;
	size_t i;
	char *p;
	int rc;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		CHECK(evk_json_check(chk, rows[i].in, rows[i].len, NULL,
		          NULL) == 0);
		evk_buf_reset(&out);
		CHECK(evk_buf_add(&out, "keep", 4) == 0);
		memset(&e, 0, sizeof e);
		p = t_dup_exact(rows[i].in, rows[i].len);
		rc = evk_canon(p, rows[i].len, &out, &e);
		free(p);
		CHECK_INT(rc, EVK_ERANGE);
		CHECK_INT(e.code, EVK_ERANGE);
		CHECK_INT(e.column, rows[i].column);
		CHECK_STR(e.msg, "number out of range for JCS");
		CHECK_INT(out.len, 4);
		CHECK_STR(out.p, "keep");
	}
	/* Without an error struct, and into an empty buffer. */
	evk_buf_free(&out);
	CHECK_INT(evk_canon(S("[1e400]"), &out, NULL), EVK_ERANGE);
	CHECK_INT(out.len, 0);
	evk_buf_free(&out);
}

/* evk_canon() appends: what the buffer held stays in front. */
TEST(appends)
{
	struct evk_buf out = EVK_BUF_ZERO;

	CHECK(evk_buf_add(&out, "x=", 2) == 0);
	CHECK_INT(evk_canon(S("{\"b\":1,\"a\":[]}"), &out, NULL), 0);
	CHECK(evk_buf_add(&out, "\n", 1) == 0);
	CHECK_INT(evk_canon(S(" 2.0 "), &out, NULL), 0);
	CHECK_STR(out.p, "x={\"a\":[],\"b\":1}\n2");
	evk_buf_free(&out);
}

/* Objects larger than the inline member stack and than the insertion
 * sort threshold, nested, with keys inserted in a scrambled order. */
TEST(large_objects)
{
	struct evk_buf in = EVK_BUF_ZERO, want = EVK_BUF_ZERO;
	char key[96];
	size_t n, i, j;
	const size_t sizes[] = {2, 15, 16, 17, 31, 32, 33, 100, 1000};

	for (n = 0; n < sizeof sizes / sizeof sizes[0]; n++) {
		size_t k = sizes[n];
		evk_buf_reset(&in);
		evk_buf_reset(&want);
		CHECK(evk_buf_adds(&in, "{") == 0);
		CHECK(evk_buf_adds(&want, "{") == 0);
		/* Keys "k0000".."k(k-1)"; inserted in the order i*7919 mod k
		 * (7919 is prime, so every key once unless k shares it). */
		for (i = 0; i < k; i++) {
			j = (i * 7919) % k;
			snprintf(key, sizeof key,
			    "%s\"k%04zu\":[{\"z\":%zu,"
			    "\"y\":%zu}]",
			    i ? "," : "", j, j, k - j);
			CHECK(evk_buf_adds(&in, key) == 0);
			snprintf(key, sizeof key,
			    "%s\"k%04zu\":[{\"y\":%zu,"
			    "\"z\":%zu}]",
			    i ? "," : "", i, k - i, i);
			CHECK(evk_buf_adds(&want, key) == 0);
		}
		CHECK(evk_buf_adds(&in, "}") == 0);
		CHECK(evk_buf_adds(&want, "}") == 0);
		CHECK(canon_is(in.p, in.len, want.p, want.len));
	}
	evk_buf_free(&in);
	evk_buf_free(&want);
}

/* Nesting far beyond the inline frame stack and the default depth: text
 * a checker with a larger limit accepted canonicalizes with the heap. */
TEST(deep_nesting)
{
	struct evk_json_opts o = {20000, 0};
	struct evk_json_checker *deep = evk_json_checker_new(&o);
	struct evk_buf in = EVK_BUF_ZERO, want = EVK_BUF_ZERO,
	               out = EVK_BUF_ZERO;
	size_t i, d = 2000;

	CHECK(deep != NULL);
	for (i = 0; i < d; i++) {
		CHECK(
		    evk_buf_adds(&in, i % 2 ? "[ " : "{\"b\":1,\"a\" :") == 0);
		CHECK(evk_buf_adds(&want, i % 2 ? "[" : "{\"a\":") == 0);
	}
	for (i = d; i-- > 0;) {
		CHECK(evk_buf_adds(&in, i % 2 ? " ]" : "}") == 0);
		CHECK(evk_buf_adds(&want, i % 2 ? "]" : ",\"b\":1}") == 0);
	}
	CHECK_INT(evk_json_check(deep, in.p, in.len, NULL, NULL), 0);
	CHECK_INT(canon(in.p, in.len, &out, NULL), 0);
	CHECK(out.len == want.len && memcmp(out.p, want.p, want.len) == 0);
	evk_json_checker_free(deep);
	evk_buf_free(&in);
	evk_buf_free(&want);
	evk_buf_free(&out);
}

/*
 * The two number paths against each other: a decimal of up to 15
 * significant digits is written from its text, the 17-digit spelling of
 * the same double goes through strtod() and the shortest search; both
 * must agree, read back as the double, and be fixed points.
 */
static void
number_paths(void)
{
	struct evk_buf a = EVK_BUF_ZERO, b = EVK_BUF_ZERO;
	char s15[64], s17[64], name[128];
	size_t i, rounds = 200000, fails = 0;
	uint64_t bits;
	double d, x;
	int prec;

	t_rng_state = UINT64_C(0x9e3779b97f4a7c15);
	for (i = 0; i < rounds; i++) {
		bits = t_rng();
		/* Every fourth: near 1 (plain decimals); else any exponent. */
		if (i % 4 == 0)
			bits = (bits & UINT64_C(0x800fffffffffffff)) |
			    (uint64_t)(1023 - 30 + (int)(t_rng() % 60)) << 52;
		memcpy(&d, &bits, sizeof d);
		if (isnan(d) || isinf(d))
			continue;
		prec = 1 + (int)(t_rng() % 15);
		snprintf(s15, sizeof s15, "%.*e", prec - 1, d);
		x = strtod(s15, NULL);
		if (isinf(x))
			continue;
		snprintf(s17, sizeof s17, "%.17g", x);
		if (canon(s15, strlen(s15), &a, NULL) != 0 ||
		    canon(s17, strlen(s17), &b, NULL) != 0 || a.len != b.len ||
		    memcmp(a.p, b.p, a.len) != 0 || strtod(a.p, NULL) != x) {
			if (fails++ < 10)
				printf("#   %s and %s: \"%s\" and \"%s\"\n",
				    s15, s17, a.p ? a.p : "", b.p ? b.p : "");
			continue;
		}
		/* Also the full double d itself. */
		snprintf(s17, sizeof s17, "%.17g", d);
		if (canon(s17, strlen(s17), &b, NULL) != 0 ||
		    strtod(b.p, NULL) != d ||
		    canon(b.p, b.len, &a, NULL) != 0 || a.len != b.len ||
		    memcmp(a.p, b.p, a.len) != 0) {
			if (fails++ < 10)
				printf("#   %s: \"%s\" not a fixed point\n",
				    s17, b.p ? b.p : "");
		}
	}
	snprintf(name, sizeof name,
	    "numbers: %zu random doubles, text path == strtod path", rounds);
	t_result(fails == 0, name);
	evk_buf_free(&a);
	evk_buf_free(&b);
}

/* A locale with a decimal comma changes neither reading nor writing. */
static void
locale_independence(void)
{
	static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8",
	    "fr_FR.UTF-8", "fr_FR.utf8", "de_DE", "fr_FR", "ru_RU.UTF-8"};
	struct evk_buf out = EVK_BUF_ZERO;
	size_t i;
	int ok = 1;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (setlocale(LC_NUMERIC, names[i]) != NULL)
			break;
	if (i == sizeof names / sizeof names[0]) {
		t_result(1,
		    "numbers: locale independence # SKIP no locale "
		    "with a decimal comma installed");
		return;
	}
	ok &= canon(S("[1.5,0.30000000000000004,1e-7,1.5e300]"), &out, NULL) ==
	        0 &&
	    strcmp(out.p, "[1.5,0.30000000000000004,1e-7,1.5e+300]") == 0;
	setlocale(LC_NUMERIC, "C");
	t_result(ok, "numbers: locale independence (decimal comma locale)");
	evk_buf_free(&out);
}

/*
 * Unchecked text: every prefix and a few thousand mutations of every
 * vector go through evk_canon() from exact-size copies; under SAN=1 any
 * read outside the span fails.  Results are unspecified, but an error
 * must leave the output as it was.
 */
TEST(unchecked_text)
{
	struct evk_buf out = EVK_BUF_ZERO;
	struct evk_err e = EVK_ERR_ZERO;
	static const char junk[] = "{}[]\",:\\u0e-+.9 tfn\x80\xef\xf0";
	char rel[128], *in, *p;
	size_t n, i, j, r, m;
	int rc;

	t_rng_state = UINT64_C(0x2545f4914f6cdd1d);
	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(rel, sizeof rel, "input/%s.json", files[i]);
		if ((in = vslurp(rel, &n)) == NULL) {
			CHECK(0);
			continue;
		}
		for (j = 0; j <= n; j++) {
			evk_buf_reset(&out);
			rc = canon(in, j, &out, &e);
			CHECK(rc == 0 || out.len == 0);
		}
		for (r = 0; r < 3000 && n > 0; r++) {
			p = t_dup_exact(in, n);
			for (m = 1 + t_rng() % 4, j = 0; j < m; j++)
				p[t_rng() % n] =
				    junk[t_rng() % (sizeof junk - 1)];
			evk_buf_reset(&out);
			rc = evk_canon(p, n, &out, &e);
			CHECK(rc == 0 || out.len == 0);
			free(p);
		}
		free(in);
	}
	/* Spans that end inside a token. */
	CHECK(canon(S("\"\\"), &out, &e) <= 0);
	CHECK(canon(S("\"\\u12"), &out, &e) <= 0);
	CHECK(canon(S("-"), &out, &e) < 0);
	CHECK(canon(S("1e"), &out, &e) < 0);
	CHECK(canon(S("1."), &out, &e) < 0);
	CHECK(canon(S("tru"), &out, &e) < 0);
	CHECK(canon(S("{\"a\""), &out, &e) <= 0);
	CHECK(canon(S("{1:2}"), &out, &e) < 0);
	CHECK(canon(S(""), &out, &e) < 0);
	CHECK(canon(S("   "), &out, &e) < 0);
	evk_buf_free(&out);
}

int
main(void)
{
	char name[128];

	if ((chk = evk_json_checker_new(NULL)) == NULL)
		return 2;
	vector_files();
	number_file("numbers/es6testfile_first10000.txt", ',');
	number_file("numbers/es6testfile_readme_samples.txt", ',');
	number_file("numbers/rfc8785_appendix_b.tsv", '\t');
	sorting_sample();
	utf8_sample();
	snprintf(name, sizeof name,
	    "jcs vectors idempotent: canon(canon(x)) == canon(x), %d outputs",
	    idem_n);
	t_result(idem_n > 0 && idem_fail == 0, name);
	RUN(table_rows);
	RUN(range_errors);
	RUN(appends);
	RUN(large_objects);
	RUN(deep_nesting);
	number_paths();
	locale_independence();
	RUN(unchecked_text);
	evk_json_checker_free(chk);
	return t_done();
}
