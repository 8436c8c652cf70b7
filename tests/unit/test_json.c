/*
 * tests/unit/test_json.c - evk_json_*: the checker against tables of valid
 * and invalid texts and against jansson, duplicate keys, depth, escaping,
 * navigation, UTF-8, the cloudevents vectors.
 */
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evkit/json.h"
#include "t.h"

#define S(lit) lit, sizeof(lit) - 1 /* a literal with its exact length */

static struct evk_json_checker *chk; /* defaults: depth 128, no dup keys */

/* Copies `s` to an exact-size heap buffer, so that ASan catches any read
 * past `len` (nothing here may rely on a NUL). */
static char *
dup_exact(const char *s, size_t len)
{
	char *p = malloc(len ? len : 1);

	if (p == NULL)
		abort();
	memcpy(p, s, len);
	return p;
}

static int
check_with(struct evk_json_checker *c, const char *s, size_t len,
    enum evk_json_type *type, struct evk_err *e)
{
	char *p = dup_exact(s, len);
	int rc = evk_json_check(c, p, len, type, e);

	free(p);
	return rc;
}

static int
check(const char *s, size_t len, enum evk_json_type *type, struct evk_err *e)
{
	return check_with(chk, s, len, type, e);
}

/* Shows bytes in a TAP comment without raw control bytes. */
static void
show(const char *label, const char *s, size_t len)
{
	size_t i;

	printf("#   %s: \"", label);
	for (i = 0; i < len && i < 120; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			putchar(ch);
		else
			printf("\\x%02x", ch);
	}
	printf("%s\"\n", i < len ? "..." : "");
}


/*** the checker: tables ***/

static const struct {
	const char *s;
	size_t len;
	enum evk_json_type type;
} valid[] = {
	{S("0"), EVK_JSON_NUMBER},
	{S("-0"), EVK_JSON_NUMBER},
	{S("7"), EVK_JSON_NUMBER},
	{S("-12"), EVK_JSON_NUMBER},
	{S("1.5"), EVK_JSON_NUMBER},
	{S("-0.0"), EVK_JSON_NUMBER},
	{S("-1.5e10"), EVK_JSON_NUMBER},
	{S("1E5"), EVK_JSON_NUMBER},
	{S("1e+5"), EVK_JSON_NUMBER},
	{S("1e-05"), EVK_JSON_NUMBER},
	{S("123456789012345678901234567890"), EVK_JSON_NUMBER},
	{S("1e400"), EVK_JSON_NUMBER},
	{S("true"), EVK_JSON_TRUE},
	{S("false"), EVK_JSON_FALSE},
	{S("null"), EVK_JSON_NULL},
	{S("\"\""), EVK_JSON_STRING},
	{S("\"abc\""), EVK_JSON_STRING},
	{S("[]"), EVK_JSON_ARRAY},
	{S("{}"), EVK_JSON_OBJECT},
	{S("[[]]"), EVK_JSON_ARRAY},
	{S("[{}]"), EVK_JSON_ARRAY},
	{S("{\"a\":{}}"), EVK_JSON_OBJECT},
	{S(" [ ] "), EVK_JSON_ARRAY},
	{S("\n{\n}\n"), EVK_JSON_OBJECT},
	{S(" \t\r\n{ \"a\" : [ 1 , 2 ] }\r\n\t "), EVK_JSON_OBJECT},
	{S(" 1 "), EVK_JSON_NUMBER},
	{S("[1,-2.5e-3,true,false,null,\"x\",{},[]]"), EVK_JSON_ARRAY},
	{S("{\"a\":1,\"b\":{\"a\":1,\"b\":2},\"c\":[{\"a\":1},{\"a\":2}]}"),
	    EVK_JSON_OBJECT},
	{S("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), EVK_JSON_STRING},
	{S("\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\""), EVK_JSON_STRING},
	{S("\"\\uD834\\uDD1E\\uDBFF\\uDFFF\""), EVK_JSON_STRING},
	{S("\"\\u0001\\u001F\\uffff\\ud7ff\\ue000\""), EVK_JSON_STRING},
	{S("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""), EVK_JSON_STRING},
	{S("\"\x7f\""), EVK_JSON_STRING},
	{S("\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\""),
	    EVK_JSON_STRING},
	{S("\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\""), EVK_JSON_STRING},
	{S("\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86"
	   "\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88 mixed with ASCII text\""),
	    EVK_JSON_STRING},
	{S("{\"\":\"\"}"), EVK_JSON_OBJECT},
	{S("{\"a\":1,\"A\":2,\"a \":3,\" a\":4}"), EVK_JSON_OBJECT},
	{S("{\"\\u00e9\":1,\"\\u00e8\":2}"), EVK_JSON_OBJECT},
	{S("[[[[[[[[[[\"deep\"]]]]]]]]]]"), EVK_JSON_ARRAY},
	{S("{\"specversion\":\"1.0\",\"id\":\"A234-1234-1234\","
	   "\"source\":\"/mycontext\",\"type\":\"com.example.someevent\","
	   "\"time\":\"2018-04-05T17:31:00Z\",\"datacontenttype\":"
	   "\"application/json\",\"data\":{\"appinfoA\":\"abc\","
	   "\"appinfoB\":123,\"appinfoC\":true,\"nested\":[1,2.5,null,"
	   "{\"k\":\"v \\\"q\\\" \\u00fc\"}]}}"),
	    EVK_JSON_OBJECT},
};

static const struct {
	const char *s;
	size_t len;
	int code;
	size_t column;
	const char *msg; /* expected substring */
} invalid[] = {
	{S(""), EVK_EJSON, 1, "empty input"},
	{S("  \n\t"), EVK_EJSON, 1, "empty input"},
	{S("{"), EVK_EJSON, 2, "unexpected end of input"},
	{S("["), EVK_EJSON, 2, "unexpected end of input"},
	{S("[1"), EVK_EJSON, 3, "unexpected end of input"},
	{S("[1,"), EVK_EJSON, 4, "unexpected end of input"},
	{S("[1, "), EVK_EJSON, 5, "unexpected end of input"},
	{S("{\"a\""), EVK_EJSON, 5, "unexpected end of input"},
	{S("{\"a\":"), EVK_EJSON, 6, "unexpected end of input"},
	{S("{\"a\":1"), EVK_EJSON, 7, "unexpected end of input"},
	{S("{\"a\":1,"), EVK_EJSON, 8, "unexpected end of input"},
	{S("}"), EVK_EJSON, 1, "unexpected '}'"},
	{S("]"), EVK_EJSON, 1, "unexpected ']'"},
	{S("[1}"), EVK_EJSON, 3, "unexpected '}'"},
	{S("{\"a\":1]"), EVK_EJSON, 7, "unexpected ']'"},
	{S("{\"a\":1,}"), EVK_EJSON, 8, "unexpected '}'"},
	{S("[1,]"), EVK_EJSON, 4, "unexpected ']'"},
	{S("[,1]"), EVK_EJSON, 2, "unexpected ','"},
	{S("{,}"), EVK_EJSON, 2, "unexpected ','"},
	{S("{1:2}"), EVK_EJSON, 2, "unexpected '1'"},
	{S("{\"a\" 1}"), EVK_EJSON, 6, "unexpected '1'"},
	{S("{\"a\"::1}"), EVK_EJSON, 6, "unexpected ':'"},
	{S("{\"a\":1 \"b\":2}"), EVK_EJSON, 8, "unexpected '\"'"},
	{S("[1 2]"), EVK_EJSON, 4, "unexpected '2'"},
	{S("[1:2]"), EVK_EJSON, 3, "unexpected ':'"},
	{S("{\"a\",1}"), EVK_EJSON, 5, "unexpected ','"},
	{S("1 2"), EVK_EJSON, 3, "trailing characters after value"},
	{S("{} {}"), EVK_EJSON, 4, "trailing characters after value"},
	{S("{\"a\":1}}"), EVK_EJSON, 8, "trailing characters after value"},
	{S("{\"a\":1}\x0b"), EVK_EJSON, 8, "trailing characters after value"},
	{S("\"a\"\0"), EVK_EJSON, 4, "trailing characters after value"},
	{S("[\"a\"\0]"), EVK_EJSON, 5, "unexpected byte 0x00"},
	{S("nul"), EVK_EJSON, 4, "unexpected end of input"},
	{S("nulx"), EVK_EJSON, 4, "unexpected 'x'"},
	{S("tru"), EVK_EJSON, 4, "unexpected end of input"},
	{S("True"), EVK_EJSON, 1, "unexpected 'T'"},
	{S("falsy"), EVK_EJSON, 5, "unexpected 'y'"},
	{S("truex"), EVK_EJSON, 5, "trailing characters after value"},
	{S("[truex]"), EVK_EJSON, 6, "unexpected 'x'"},
	{S("nan"), EVK_EJSON, 2, "unexpected 'a'"},
	{S("NaN"), EVK_EJSON, 1, "unexpected 'N'"},
	{S("-Infinity"), EVK_EJSON, 2, "unexpected 'I'"},
	{S("01"), EVK_EJSON, 2, "leading zero in number"},
	{S("-01"), EVK_EJSON, 3, "leading zero in number"},
	{S("[00]"), EVK_EJSON, 3, "leading zero in number"},
	{S("-"), EVK_EJSON, 2, "unexpected end of input"},
	{S("-a"), EVK_EJSON, 2, "unexpected 'a'"},
	{S("- 1"), EVK_EJSON, 2, "unexpected ' '"},
	{S("+1"), EVK_EJSON, 1, "unexpected '+'"},
	{S(".5"), EVK_EJSON, 1, "unexpected '.'"},
	{S("1."), EVK_EJSON, 3, "unexpected end of input"},
	{S("1.e5"), EVK_EJSON, 3, "unexpected 'e'"},
	{S("1e"), EVK_EJSON, 3, "unexpected end of input"},
	{S("1E+"), EVK_EJSON, 4, "unexpected end of input"},
	{S("1e+x"), EVK_EJSON, 4, "unexpected 'x'"},
	{S("[1.]"), EVK_EJSON, 4, "unexpected ']'"},
	{S("0x10"), EVK_EJSON, 2, "trailing characters after value"},
	{S("[0x10]"), EVK_EJSON, 3, "unexpected 'x'"},
	{S("[1e5.5]"), EVK_EJSON, 5, "unexpected '.'"},
	{S("'a'"), EVK_EJSON, 1, "unexpected '''"},
	{S("\x01"), EVK_EJSON, 1, "unexpected byte 0x01"},
	{S("\xa0"), EVK_EJSON, 1, "unexpected byte 0xa0"},
	{S("\xef\xbb\xbf{}"), EVK_EJSON, 1, "unexpected byte 0xef"},
	{S("[\xc3\xa9]"), EVK_EJSON, 2, "unexpected byte 0xc3"},
	{S("\"abc"), EVK_EJSON, 5, "unexpected end of input"},
	{S("\"abcdefghijklmnopqrstuvwxyz"), EVK_EJSON, 28,
	    "unexpected end of input"},
	{S("\"a\nb\""), EVK_EJSON, 3, "unexpected byte 0x0a in string"},
	{S("\"a\tb\""), EVK_EJSON, 3, "unexpected byte 0x09 in string"},
	{S("\"abcdefghij\x01\""), EVK_EJSON, 12, "unexpected byte 0x01 in string"},
	{S("\"\0\""), EVK_EJSON, 2, "unexpected byte 0x00 in string"},
	{S("\"\\q\""), EVK_EJSON, 2, "invalid escape '\\q'"},
	{S("\"abc\\x41\""), EVK_EJSON, 5, "invalid escape '\\x'"},
	{S("\"\\U0041\""), EVK_EJSON, 2, "invalid escape '\\U'"},
	{S("\"\\\x01\""), EVK_EJSON, 2, "invalid escape: byte 0x01 after '\\'"},
	{S("\"\\\xc3\xa9\""), EVK_EJSON, 2, "invalid escape: byte 0xc3"},
	{S("\"\\"), EVK_EJSON, 3, "unexpected end of input"},
	{S("\"\\u12g4\""), EVK_EJSON, 2, "invalid \\u escape"},
	{S("\"\\u12\""), EVK_EJSON, 2, "invalid \\u escape"},
	{S("\"\\u12"), EVK_EJSON, 6, "unexpected end of input"},
	{S("\"\\ud800\""), EVK_EJSON, 2, "unpaired surrogate \\ud800"},
	{S("\"ab\\uDBFF\""), EVK_EJSON, 4, "unpaired surrogate \\udbff"},
	{S("\"\\udc00\""), EVK_EJSON, 2, "unpaired surrogate \\udc00"},
	{S("\"\\ude00\\ud83d\""), EVK_EJSON, 2, "unpaired surrogate \\ude00"},
	{S("\"\\ud800\\u0041\""), EVK_EJSON, 2, "unpaired surrogate \\ud800"},
	{S("\"\\ud800\\ud800\""), EVK_EJSON, 2, "unpaired surrogate \\ud800"},
	{S("\"\\ud800\\u0000\""), EVK_EJSON, 2, "unpaired surrogate \\ud800"},
	{S("\"\\ud800x\""), EVK_EJSON, 2, "unpaired surrogate \\ud800"},
	{S("\"\\ud800\\n\""), EVK_EJSON, 2, "unpaired surrogate \\ud800"},
	{S("\"\\ud800\""), EVK_EJSON, 2, "unpaired surrogate"},
	{S("\"\\ud800\\uzzzz\""), EVK_EJSON, 8, "invalid \\u escape"},
	{S("\"\\ud800"), EVK_EJSON, 8, "unexpected end of input"},
	{S("\"\\ud800\\"), EVK_EJSON, 9, "unexpected end of input"},
	{S("\"\\ud800\\udc"), EVK_EJSON, 12, "unexpected end of input"},
	{S("\"a\\u0000b\""), EVK_EJSON, 3, "\\u0000 not allowed"},
	{S("{\"\\u0000\":1}"), EVK_EJSON, 3, "\\u0000 not allowed"},
	{S("\"\xc0\x80\""), EVK_EUTF8, 2, "invalid UTF-8"},
	{S("\"\xc1\xbf\""), EVK_EUTF8, 2, "invalid UTF-8"},
	{S("\"\xe0\x80\x80\""), EVK_EUTF8, 2, "invalid UTF-8"},
	{S("\"\xe0\x9f\xbf\""), EVK_EUTF8, 2, "invalid UTF-8"},
	{S("\"\xf0\x80\x80\x80\""), EVK_EUTF8, 2, "invalid UTF-8"},
	{S("\"\xf0\x8f\xbf\xbf\""), EVK_EUTF8, 2, "invalid UTF-8"},
	{S("\"\xed\xa0\x80\""), EVK_EUTF8, 2, "invalid UTF-8"},
	{S("\"\xed\xbf\xbf\""), EVK_EUTF8, 2, "invalid UTF-8"},
	{S("\"\xf4\x90\x80\x80\""), EVK_EUTF8, 2, "invalid UTF-8"},
	{S("\"\xf5\x80\x80\x80\""), EVK_EUTF8, 2, "invalid UTF-8"},
	{S("\"\xf8\x88\x80\x80\x80\""), EVK_EUTF8, 2, "invalid UTF-8"},
	{S("\"\xff\""), EVK_EUTF8, 2, "invalid UTF-8"},
	{S("\"\x80\""), EVK_EUTF8, 2, "invalid UTF-8"},
	{S("\"ab\xe2\x82\""), EVK_EUTF8, 4, "invalid UTF-8"},
	{S("\"\xc3\xa9\xe2\x82\xac\xe2\x82\""), EVK_EUTF8, 7, "invalid UTF-8"},
	{S("\"\xe2\x82"), EVK_EUTF8, 2, "invalid UTF-8"},
	{S("\"\xf0\x9f\x98\""), EVK_EUTF8, 2, "invalid UTF-8"},
	{S("\"\xc3\x28\""), EVK_EUTF8, 2, "invalid UTF-8"},
	{S("{\"a\":1,\"a\":2}"), EVK_EDUPKEY, 8, "duplicate key \"a\""},
	{S("{\"a\":1,\"b\":2,\"a\":3}"), EVK_EDUPKEY, 14, "duplicate key \"a\""},
	{S("{\"a\":1,\"\\u0061\":2}"), EVK_EDUPKEY, 8,
	    "duplicate key \"\\u0061\""},
	{S("{\"\\n\":1,\"\\u000a\":2}"), EVK_EDUPKEY, 9, "duplicate key"},
	{S("{\"\\/\":1,\"/\":2}"), EVK_EDUPKEY, 9, "duplicate key \"/\""},
	{S("{\"\xc3\xa9\":1,\"\\u00e9\":2}"), EVK_EDUPKEY, 9,
	    "duplicate key \"\\u00e9\""},
	{S("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}"), EVK_EDUPKEY, 19,
	    "duplicate key \"\xf0\x9f\x98\x80\""},
	{S("{\"x\":{\"a\":1,\"a\":2}}"), EVK_EDUPKEY, 13, "duplicate key \"a\""},
	{S("[{\"a\":1},{\"b\":1,\"b\":1}]"), EVK_EDUPKEY, 17,
	    "duplicate key \"b\""},
	{S("{\"a\":1,\"b\":2,\"b\":3,\"a\":4}"), EVK_EDUPKEY, 14,
	    "duplicate key \"b\""},
	{S("{\"0123456789012345678901234567890123456789xyz\":1,"
	   "\"0123456789012345678901234567890123456789xyz\":2}"),
	    EVK_EDUPKEY, 50,
	    "duplicate key \"0123456789012345678901234567890123456789...\""},
	{S("{\"0123456789012345678901234567890123456\\u0041\":1,"
	   "\"0123456789012345678901234567890123456\\u0041\":2}"),
	    EVK_EDUPKEY, 50,
	    "duplicate key \"0123456789012345678901234567890123456...\""},
};

TEST(check_valid)
{
	struct evk_err e = EVK_ERR_ZERO;
	enum evk_json_type type;
	size_t i;
	int rc;

	for (i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		type = EVK_JSON_NONE;
		rc = check(valid[i].s, valid[i].len, &type, &e);
		if (rc != 0 || type != valid[i].type) {
			t_cur_fail++;
			show("valid input", valid[i].s, valid[i].len);
			printf("#   rc %d type %d, msg \"%s\" column %zu\n",
			    rc, (int)type, e.msg, e.column);
		}
		/* NULL type and error are allowed. */
		CHECK_INT(check(valid[i].s, valid[i].len, NULL, NULL), 0);
	}
}

/* The message must hold no control bytes, whatever the input. */
static int
msg_clean(const char *m)
{
	for (; *m != '\0'; m++)
		if ((unsigned char)*m < 0x20 || *m == 0x7f)
			return 0;
	return 1;
}

TEST(check_invalid)
{
	struct evk_err e;
	enum evk_json_type type;
	size_t i, n;
	int rc;

	for (i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		memset(&e, 0, sizeof e);
		e.line = 42;
		type = EVK_JSON_OBJECT;
		rc = check(invalid[i].s, invalid[i].len, &type, &e);
		n = strlen(e.msg);
		if (rc != invalid[i].code || e.code != rc ||
		    e.column != invalid[i].column ||
		    strstr(e.msg, invalid[i].msg) == NULL || e.line != 42 ||
		    type != EVK_JSON_NONE || !msg_clean(e.msg) || n == 0 ||
		    e.msg[n - 1] == '.') {
			t_cur_fail++;
			show("invalid input", invalid[i].s, invalid[i].len);
			printf("#   got rc %d column %zu msg \"%s\"; expected "
			    "rc %d column %zu msg \"%s\"\n", rc, e.column, e.msg,
			    invalid[i].code, invalid[i].column, invalid[i].msg);
		}
		CHECK_INT(check(invalid[i].s, invalid[i].len, NULL, NULL),
		    invalid[i].code);
	}
}

/*
 * Every special byte at every offset of strings from 0 to 40 bytes, so
 * that the 8-byte steps of the string scanner and the position they
 * report are right wherever a word boundary falls.
 */
TEST(check_string_positions)
{
	static const struct {
		const char *ins;
		size_t len;
		int code;
		size_t col; /* of the error, after the string's start */
	} ins[] = {
		{S("\\n"), 0, 0},
		{S("\\u00e9"), 0, 0},
		{S("\\ud83d\\ude00"), 0, 0},
		{S("\xc3\xa9"), 0, 0},
		{S("\xf0\x9f\x98\x80"), 0, 0},
		{S("\x7f"), 0, 0},
		{S("\x1f"), EVK_EJSON, 1},
		{S("\xc0\xaf"), EVK_EUTF8, 1},
		{S("\\x"), EVK_EJSON, 1},
		{S("\""), EVK_EJSON, 2}, /* ends the string: trailing bytes */
	};
	struct evk_err e = EVK_ERR_ZERO;
	char buf[64];
	size_t n, at, k, len;
	int rc;

	for (k = 0; k < sizeof ins / sizeof ins[0]; k++)
		for (n = 0; n <= 40; n++)
			for (at = 0; at <= n; at++) {
				buf[0] = '"';
				memset(buf + 1, 'a', n);
				memcpy(buf + 1 + at, ins[k].ins, ins[k].len);
				memset(buf + 1 + at + ins[k].len, 'b', n - at);
				len = 1 + n + ins[k].len;
				buf[len++] = '"';
				memset(&e, 0, sizeof e);
				rc = check(buf, len, NULL, &e);
				if (rc != ins[k].code || (rc != 0 &&
				    e.column != 1 + at + ins[k].col)) {
					t_cur_fail++;
					show("string", buf, len);
					printf("#   rc %d column %zu\n", rc,
					    e.column);
				}
			}
}

TEST(check_depth)
{
	static const unsigned limits[] = {1, 2, 5, 64, 128, 1000};
	struct evk_json_opts o = {0, 0};
	struct evk_json_checker *c;
	struct evk_err e = EVK_ERR_ZERO;
	char *buf, msg[64];
	size_t i, n, k;

	buf = malloc(2 * 100001 + 8);
	if (buf == NULL)
		abort();
	for (i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		o.max_depth = limits[i];
		if ((c = evk_json_checker_new(&o)) == NULL)
			abort();
		snprintf(msg, sizeof msg, "nested deeper than %u", limits[i]);
		/* Arrays, then objects, then both mixed. */
		for (n = limits[i]; n <= limits[i] + 1; n++) {
			for (k = 0; k < n; k++)
				buf[k] = '[';
			for (k = 0; k < n; k++)
				buf[n + k] = ']';
			CHECK_INT(check_with(c, buf, 2 * n, NULL, &e),
			    n > limits[i] ? EVK_EDEPTH : 0);
			if (n > limits[i]) {
				CHECK_INT(e.column, n);
				CHECK_STR(e.msg, msg);
			}
		}
		for (n = limits[i]; n <= limits[i] + 1; n++) {
			/* {"a":{"a":...{}...}} */
			size_t len = 0;
			for (k = 0; k + 1 < n; k++) {
				memcpy(buf + len, "{\"a\":", 5);
				len += 5;
			}
			buf[len++] = k % 2 ? '[' : '{';
			buf[len++] = k % 2 ? ']' : '}';
			for (k = 0; k + 1 < n; k++)
				buf[len++] = '}';
			CHECK_INT(check_with(c, buf, len, NULL, &e),
			    n > limits[i] ? EVK_EDEPTH : 0);
			if (n > limits[i])
				CHECK_INT(e.column, (n - 1) * 5 + 1);
		}
		evk_json_checker_free(c);
	}

	/* The default is EVK_JSON_MAX_DEPTH. */
	for (k = 0; k < EVK_JSON_MAX_DEPTH + 1; k++) {
		buf[k] = '[';
		buf[EVK_JSON_MAX_DEPTH + 1 + k] = ']';
	}
	CHECK_INT(check(buf + 1, 2 * EVK_JSON_MAX_DEPTH, NULL, &e), 0);
	CHECK_INT(check(buf, 2 * EVK_JSON_MAX_DEPTH + 2, NULL, &e),
	    EVK_EDEPTH);
	CHECK_STR(e.msg, "nested deeper than 128");
	CHECK_INT(e.column, EVK_JSON_MAX_DEPTH + 1);

	/* A large limit: the stack grows with the line, not up front. */
	o.max_depth = 100000;
	if ((c = evk_json_checker_new(&o)) == NULL)
		abort();
	for (k = 0; k < 100001; k++) {
		buf[k] = '[';
		buf[100001 + k] = ']';
	}
	CHECK_INT(check_with(c, buf + 1, 200000, NULL, &e), 0);
	CHECK_INT(check_with(c, buf, 200002, NULL, &e), EVK_EDEPTH);
	CHECK_INT(e.column, 100001);
	/* Unclosed to the end: the end of input, not the depth, is wrong. */
	CHECK_INT(check_with(c, buf, 100000, NULL, &e), EVK_EJSON);
	CHECK_INT(e.column, 100001);
	evk_json_checker_free(c);
	free(buf);
}

/* Appends a key "k<i>" (escaped: "\u006b<i>"; long: with a 24-byte
 * common prefix, so keys differ only past their first 8 bytes) and
 * ":<i>,". */
static size_t
put_member(char *p, size_t i, int escaped)
{
	if (escaped == 2)
		return (size_t)sprintf(p, "\"a-long-common-key-prefix%zu\":%zu,",
		    i, i);
	return (size_t)sprintf(p, escaped ? "\"\\u006b%zu\":%zu," :
	    "\"k%zu\":%zu,", i, i);
}

TEST(check_dupkeys)
{
	struct evk_json_opts o = {0, 1};
	struct evk_json_checker *c;
	struct evk_err e = EVK_ERR_ZERO;
	char *buf, want[64];
	size_t len, i, col5 = 0, col3 = 0;
	clock_t t0;
	double secs;

	/* Allowed on request. */
	if ((c = evk_json_checker_new(&o)) == NULL)
		abort();
	CHECK_INT(check_with(c, S("{\"a\":1,\"a\":2}"), NULL, &e), 0);
	CHECK_INT(check_with(c, S("{\"a\":{\"b\":1,\"b\":2},\"a\":[]}"), NULL,
	    &e), 0);
	CHECK_INT(check_with(c, S("{\"a\":1,\"a\":}"), NULL, &e), EVK_EJSON);
	evk_json_checker_free(c);

	/* Same keys in different objects are fine, at any level. */
	CHECK_INT(check(S("{\"a\":{\"a\":{\"a\":1}},\"b\":{\"a\":2,\"b\":3}}"),
	    NULL, &e), 0);
	CHECK_INT(check(S("[{\"a\":1},{\"a\":1},{\"a\":{\"a\":1}}]"), NULL, &e),
	    0);
	/* Keys are compared decoded, so near misses are not duplicates. */
	CHECK_INT(check(S("{\"a\":1,\"\\u0062\":2,\"a\\u0020\":3,\"A\":4}"),
	    NULL, &e), 0);
	CHECK_INT(check(S("{\"a\":1,\"\\u0062\":2,\"a\\u0020\":3,\"a \":4}"),
	    NULL, &e), EVK_EDUPKEY);
	CHECK_INT(e.column, 31);
	CHECK_INT(check(S("{\"\\\\n\":1,\"\\n\":2,\"\\\\\":3,\"\\\"\":4}"), NULL,
	    &e), 0);
	/* The object closes after its inner one reported nothing. */
	CHECK_INT(check(S("{\"a\":{\"b\":1},\"c\":{\"b\":2},\"a\":3}"), NULL, &e),
	    EVK_EDUPKEY);
	CHECK_INT(e.column, 26);

	/* 100000 keys: sorted, not compared pairwise. */
	buf = malloc(100000 * 32 + 64);
	if (buf == NULL)
		abort();
	len = 0;
	buf[len++] = '{';
	for (i = 0; i < 100000; i++)
		len += put_member(buf + len, i, i % 1000 == 7);
	buf[len - 1] = '}';
	t0 = clock();
	CHECK_INT(check(buf, len, NULL, &e), 0);
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	printf("#   100000 keys checked in %.3f s\n", secs);
	CHECK(secs < 2.0);

	/* A duplicate at the end, spelt with an escape. */
	len--;
	buf[len++] = ',';
	col5 = len + 1;
	len += put_member(buf + len, 5, 1);
	buf[len - 1] = '}';
	CHECK_INT(check(buf, len, NULL, &e), EVK_EDUPKEY);
	CHECK_INT(e.column, col5);
	CHECK_STR(e.msg, "duplicate key \"\\u006b5\"");

	/* Two more: the one that comes first in the text is reported. */
	len--;
	buf[len++] = ',';
	col3 = len + 1;
	len += put_member(buf + len, 3, 0);
	len += put_member(buf + len, 99999, 0);
	buf[len - 1] = '}';
	CHECK_INT(check(buf, len, NULL, &e), EVK_EDUPKEY);
	CHECK_INT(e.column, col5);
	CHECK(col3 > col5);

	/* The same, one level down. */
	memmove(buf + 6, buf, len);
	memcpy(buf, "{\"x\": ", 6);
	buf[len + 6] = '}';
	CHECK_INT(check(buf, len + 7, NULL, &e), EVK_EDUPKEY);
	CHECK_INT(e.column, col5 + 6);
	free(buf);

	/* Both sides of SMALL_OBJECT give the same answer: the last key
	 * repeats the middle one. */
	for (i = 2; i <= 80; i++) {
		size_t k, first = 0;
		int kind = i > 40 ? 2 : 0;

		if ((buf = malloc(i * 48 + 16)) == NULL)
			abort();
		len = 0;
		buf[len++] = '{';
		for (k = 0; k < i; k++) {
			if (k == i - 1)
				first = len + 1;
			len += put_member(buf + len,
			    k == i - 1 ? (i - 1) / 2 : k, kind);
		}
		buf[len - 1] = '}';
		CHECK_INT(check(buf, len, NULL, &e), EVK_EDUPKEY);
		CHECK_INT(e.column, first);
		snprintf(want, sizeof want, kind ?
		    "duplicate key \"a-long-common-key-prefix%zu\"" :
		    "duplicate key \"k%zu\"", (i - 1) / 2);
		CHECK_STR(e.msg, want);
		free(buf);
	}
}

/* One checker serves many lines, good and bad, in any order. */
TEST(check_reuse)
{
	struct evk_err e = EVK_ERR_ZERO;
	size_t i;

	for (i = 0; i < 1000; i++) {
		CHECK_INT(check(S("{\"a\":{\"b\":[1,{\"c\":2}]"), NULL, &e),
		    EVK_EJSON);
		CHECK_INT(check(S("{\"a\":{\"b\":[1,{\"c\":2}]},\"b\":1}"), NULL,
		    &e), 0);
		CHECK_INT(check(S("{\"\\u0061\":{\"a\":1,\"a\""), NULL, &e),
		    EVK_EJSON);
		CHECK_INT(check(S("{\"\\u0061\":1,\"b\":{\"a\":1}}"), NULL, &e),
		    0);
	}
}

/* The cloudevents vectors are multi-line documents, all valid JSON. */
TEST(check_vectors)
{
	static const char *pats[] = {
		"cloudevents/spec-examples/*.json",
		"cloudevents/sdk-java/*/*.json",
	};
	struct evk_err e = EVK_ERR_ZERO;
	char pat[512], *p;
	glob_t g;
	size_t i, k, len, n = 0;

	for (i = 0; i < sizeof pats / sizeof pats[0]; i++) {
		snprintf(pat, sizeof pat, "%s/%s", t_vectors(), pats[i]);
		if (glob(pat, 0, NULL, &g) != 0) {
			t_cur_fail++;
			printf("#   no files match %s\n", pat);
			continue;
		}
		for (k = 0; k < g.gl_pathc; k++, n++) {
			if ((p = t_slurp(g.gl_pathv[k], &len)) == NULL) {
				t_cur_fail++;
				printf("#   cannot read %s\n", g.gl_pathv[k]);
				continue;
			}
			if (check(p, len, NULL, &e) != 0) {
				t_cur_fail++;
				printf("#   %s: column %zu: %s\n", g.gl_pathv[k],
				    e.column, e.msg);
			}
			free(p);
		}
		globfree(&g);
	}
	CHECK(n >= 20);
}

/*** differential test against jansson ***/

/*
 * jansson with JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
 * JSON_DECODE_INT_AS_REAL applies the same rules (RFC 8259 grammar, UTF-8
 * checked like RFC 3629, lone surrogates and \u0000 rejected, duplicate
 * keys compared decoded), except:
 *
 *  - it rejects a number whose value overflows a double ("real number
 *    overflow", e.g. 1e400), which is valid JSON to us;
 *  - it drops a NUL byte read as the lookahead after a number or a literal
 *    (its stream treats a NUL in its pushback buffer as empty), so it
 *    accepts "1\0" and "[true\0]";
 *  - its depth limit is 2048 and counts scalars as a level; the inputs here
 *    stay far below our 128.
 *
 * Those differences are the only ones allowed; every other disagreement
 * fails the test.  Where both accept, the types and the members seen by
 * evk_json_iter/evk_json_get must agree with jansson's tree.
 */
static const char *seeds[] = {
	"{\"specversion\":\"1.0\",\"id\":\"42\",\"source\":\"/s\","
	"\"type\":\"order.created\",\"time\":\"2024-01-02T03:04:05Z\","
	"\"data\":{\"n\":[1,2.5,-3e2,true,false,null],\"s\":\"\\u00e9\\n\"}}",
	"[1, \"two\", {\"three\": [3]}, [], {}, null]",
	"{\"a\":\"\\ud83d\\ude00\",\"b\":\"\xf0\x9f\x98\x80\",\"c\":\"\\\"\\\\\"}",
	"\"caf\xc3\xa9 \\t \\/ \\u20ac\"",
	"-0.5e-7",
	"{\"k\":{\"k\":{\"k\":[{\"k\":1}]}},\"l\":\"x\"}",
	"  [ true , false , null ]  ",
	"{\"\":0,\" \":1,\"\\u0020\\u0021\":2}",
	"[123456789012345678901, 0, -0, 1E+2]",
	"{\"x\":\"\xe6\x97\xa5\xe6\x9c\xac\",\"y\":[\"\\uD834\\uDD1E\"]}",
};

static const char structural[] = "{}[]:,\"\\ \t\n0123456789.eE+-tfnulrsau\xc3\xa9";

static size_t
mutate(char *buf, size_t len, size_t cap)
{
	size_t k, n = t_rng() % 2 ? 1 : 1 + t_rng() % 3, at, i, from, cnt;

	for (k = 0; k < n; k++) {
		at = len ? t_rng() % len : 0;
		switch (t_rng() % 7) {
		case 0: /* any byte */
			if (len)
				buf[at] = (char)t_rng();
			break;
		case 1: /* a byte that matters to the grammar */
			if (len)
				buf[at] = structural[t_rng() % (sizeof structural - 1)];
			break;
		case 2: /* insert one */
			if (len < cap) {
				memmove(buf + at + 1, buf + at, len - at);
				buf[at] = structural[t_rng() % (sizeof structural - 1)];
				len++;
			}
			break;
		case 3: /* delete one */
			if (len) {
				memmove(buf + at, buf + at + 1, len - at - 1);
				len--;
			}
			break;
		case 4: /* truncate */
			len = at;
			break;
		case 5: /* copy a piece elsewhere (makes duplicate keys) */
			if (len == 0)
				break;
			from = t_rng() % len;
			cnt = 1 + t_rng() % 12;
			if (cnt > len - from)
				cnt = len - from;
			if (len + cnt > cap)
				break;
			memmove(buf + at + cnt, buf + at, len - at);
			for (i = 0; i < cnt; i++)
				buf[at + i] = buf[from + i + (from >= at ? cnt : 0)];
			len += cnt;
			break;
		default: /* bit flip */
			if (len)
				buf[at] ^= (char)(1 << (t_rng() % 8));
			break;
		}
	}
	return len;
}

/* Runs the navigation helpers over anything; ASan watches the bounds. */
static void
navigate(const char *p, size_t len)
{
	struct evk_span all = {p, len}, k, v, got;
	struct evk_json_iter it;
	struct evk_buf b = EVK_BUF_ZERO;
	int n = 0;

	(void)evk_json_type_of(all);
	(void)evk_json_get(all, "a", 1, &got);
	(void)evk_json_unescape(all, &b);
	(void)evk_json_minify(&b, p, len);
	(void)evk_json_is_number(p, len);
	(void)evk_utf8_check(p, len, NULL);
	evk_json_iter_init(&it, all);
	while (evk_json_iter_next(&it, &k, &v) && n++ < 10000) {
		(void)evk_json_key_eq(k, "k", 1);
		(void)evk_json_type_of(v);
		(void)evk_json_unescape(k, &b);
		(void)evk_json_unescape(v, &b);
	}
	evk_buf_free(&b);
}

/* Where both accept: our view of the top level must match jansson's. */
static int
same_view(const char *p, size_t len, enum evk_json_type type, json_t *j)
{
	struct evk_span all = {p, len}, k, v, got;
	struct evk_json_iter it;
	struct evk_buf name = EVK_BUF_ZERO;
	size_t n = 0;
	int ok = 1;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		ok = type == EVK_JSON_OBJECT;
		break;
	case JSON_ARRAY:
		ok = type == EVK_JSON_ARRAY;
		break;
	case JSON_STRING:
		ok = type == EVK_JSON_STRING;
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		ok = type == EVK_JSON_NUMBER;
		break;
	case JSON_TRUE:
		ok = type == EVK_JSON_TRUE;
		break;
	case JSON_FALSE:
		ok = type == EVK_JSON_FALSE;
		break;
	case JSON_NULL:
		ok = type == EVK_JSON_NULL;
		break;
	}
	if (!ok || (type != EVK_JSON_OBJECT && type != EVK_JSON_ARRAY))
		return ok;
	evk_json_iter_init(&it, all);
	while (ok && evk_json_iter_next(&it, &k, &v)) {
		if (type == EVK_JSON_OBJECT) {
			evk_buf_reset(&name);
			if (evk_json_unescape(k, &name) < 0)
				abort();
			ok = name.p != NULL &&
			    json_object_get(j, name.p) != NULL &&
			    evk_json_get(all, name.p, name.len, &got) &&
			    got.p == v.p && got.len == v.len;
		} else
			ok = k.len == 0;
		n++;
	}
	evk_buf_free(&name);
	return ok && n == (type == EVK_JSON_OBJECT ? json_object_size(j) :
	    json_array_size(j));
}

TEST(check_differential)
{
	const size_t flags = JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
	    JSON_DECODE_INT_AS_REAL;
	struct evk_err e = EVK_ERR_ZERO;
	enum evk_json_type type;
	json_error_t je;
	json_t *j;
	char buf[1024], *p;
	size_t i, len, accepted = 0, skipped = 0, total = 30000;
	int rc;

	for (i = 0; i < total; i++) {
		const char *seed = seeds[t_rng() % (sizeof seeds / sizeof seeds[0])];
		len = strlen(seed);
		memcpy(buf, seed, len);
		len = mutate(buf, len, sizeof buf);
		if (t_rng() % 4 == 0)
			len = mutate(buf, len, sizeof buf);
		p = dup_exact(buf, len);
		rc = evk_json_check(chk, p, len, &type, &e);
		j = json_loadb(p, len, flags, &je);
		if ((rc == 0) != (j != NULL)) {
			if (rc == 0 && strstr(je.text, "real number overflow"))
				skipped++;
			else if (rc != 0 && e.column > 0 &&
			    e.column <= len && p[e.column - 1] == '\0')
				skipped++;
			else {
				t_cur_fail++;
				show("disagreement", p, len);
				printf("#   evkit: %d %s; jansson: %s\n", rc,
				    rc ? e.msg : "ok", j ? "ok" : je.text);
			}
		} else if (rc == 0) {
			accepted++;
			if (!same_view(p, len, type, j)) {
				t_cur_fail++;
				show("view differs", p, len);
			}
		}
		navigate(p, len);
		json_decref(j);
		free(p);
	}
	printf("#   %zu inputs, %zu accepted by both, %zu known differences\n",
	    total, accepted, skipped);
	CHECK(accepted > total / 20);
}

/* The two known differences, pinned so that a jansson upgrade that fixes
 * them shows up here. */
TEST(check_jansson_differences)
{
	const size_t flags = JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
	    JSON_DECODE_INT_AS_REAL;
	json_error_t je;
	json_t *j;

	CHECK_INT(check(S("[1e400]"), NULL, NULL), 0);
	j = json_loadb(S("[1e400]"), flags, &je);
	CHECK(j == NULL);
	json_decref(j);
	CHECK_INT(check(S("[1\0]"), NULL, NULL), EVK_EJSON);
	j = json_loadb(S("[1\0]"), flags, &je);
	CHECK(j != NULL);
	json_decref(j);
}

/*** UTF-8 ***/

TEST(utf8_check)
{
	static const struct {
		const char *s;
		size_t len;
		int ok;
		size_t bad;
	} cases[] = {
		{S(""), 1, 0},
		{S("plain ASCII, more than eight bytes long"), 1, 0},
		{S("\0\x01\x7f"), 1, 0},
		{S("\xc2\x80\xdf\xbf"), 1, 0},
		{S("\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"), 1, 0},
		{S("\xf0\x9f\x98\x80 emoji"), 1, 0},
		{S("\xf4\x8f\xbf\xbf"), 1, 0},
		{S("caf\xc3\xa9 na\xc3\xafve \xe2\x82\xac 12345678"), 1, 0},
		{S("\xc0\x80"), 0, 0},
		{S("abc\xc1\xbf"), 0, 3},
		{S("\xe0\x80\x80"), 0, 0},
		{S("\xe0\x9f\xbf"), 0, 0},
		{S("\xf0\x80\x80\x80"), 0, 0},
		{S("\xf0\x8f\xbf\xbf"), 0, 0},
		{S("\xed\xa0\x80"), 0, 0},
		{S("\xed\xbf\xbf"), 0, 0},
		{S("\xf4\x90\x80\x80"), 0, 0},
		{S("\xf5\x80\x80\x80"), 0, 0},
		{S("\xf8\x88\x80\x80\x80"), 0, 0},
		{S("\xfc\x84\x80\x80\x80\x80"), 0, 0},
		{S("\xfe"), 0, 0},
		{S("\xff"), 0, 0},
		{S("0123456789\x80"), 0, 10},
		{S("\xc3"), 0, 0},
		{S("ab\xe2\x82"), 0, 2},
		{S("\xf0\x9f\x98"), 0, 0},
		{S("\xe2\x82\xac\xe2\x82"), 0, 3},
		{S("\xc3\x28"), 0, 0},
		{S("\xe2\x28\xa1"), 0, 0},
		{S("\xf0\x9f\x98\x28"), 0, 0},
		{S("abcdefgh\xc3\xa9ijklmnop\xc3"), 0, 18},
	};
	size_t i, bad;
	char *p;
	int rc;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		p = dup_exact(cases[i].s, cases[i].len);
		bad = 999;
		rc = evk_utf8_check(p, cases[i].len, &bad);
		if (rc != (cases[i].ok ? 0 : EVK_EUTF8) ||
		    (!cases[i].ok && bad != cases[i].bad)) {
			t_cur_fail++;
			show("utf8", cases[i].s, cases[i].len);
			printf("#   rc %d bad %zu\n", rc, bad);
		}
		CHECK_INT(evk_utf8_check(p, cases[i].len, NULL), rc);
		free(p);
	}
}

/* Every code point and a set of bad sequences at every offset in ASCII. */
TEST(utf8_exhaustive)
{
	char buf[32];
	uint32_t cp;
	size_t n, at, bad;
	int rc;

	for (cp = 0; cp <= 0x10ffff; cp++) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
		if (n == 1)
			buf[0] = (char)cp;
		else if (n == 2) {
			buf[0] = (char)(0xc0 | cp >> 6);
			buf[1] = (char)(0x80 | (cp & 0x3f));
		} else if (n == 3) {
			buf[0] = (char)(0xe0 | cp >> 12);
			buf[1] = (char)(0x80 | (cp >> 6 & 0x3f));
			buf[2] = (char)(0x80 | (cp & 0x3f));
		} else {
			buf[0] = (char)(0xf0 | cp >> 18);
			buf[1] = (char)(0x80 | (cp >> 12 & 0x3f));
			buf[2] = (char)(0x80 | (cp >> 6 & 0x3f));
			buf[3] = (char)(0x80 | (cp & 0x3f));
		}
		if (evk_utf8_check(buf, n, NULL) != 0) {
			t_cur_fail++;
			printf("#   U+%04x rejected\n", (unsigned)cp);
			break;
		}
	}
	/* Surrogates encoded directly are rejected. */
	for (cp = 0xd800; cp <= 0xdfff; cp++) {
		buf[0] = (char)(0xe0 | cp >> 12);
		buf[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		buf[2] = (char)(0x80 | (cp & 0x3f));
		CHECK_INT(evk_utf8_check(buf, 3, NULL), EVK_EUTF8);
	}
	for (at = 0; at < 20; at++) {
		memset(buf, 'x', sizeof buf);
		memcpy(buf + at, "\xe0\x80\x80", 3);
		rc = evk_utf8_check(buf, sizeof buf, &bad);
		CHECK_INT(rc, EVK_EUTF8);
		CHECK_INT(bad, at);
	}
}

/*** escaping ***/

TEST(escape)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
		{S(""), "\"\""},
		{S("abc"), "\"abc\""},
		{S("a\"b"), "\"a\\\"b\""},
		{S("a\\b"), "\"a\\\\b\""},
		{S("\"\\"), "\"\\\"\\\\\""},
		{S("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\""},
		{S("\x01\x1f\x0b"), "\"\\u0001\\u001f\\u000b\""},
		{S("a\0b"), "\"a\\u0000b\""},
		{S("/ \x7f"), "\"/ \x7f\""},
		{S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
		    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
		{S("a long line of plain text, then\ta tab and \"quotes\""),
		    "\"a long line of plain text, then\\ta tab and "
		    "\\\"quotes\\\"\""},
	};
	struct evk_buf b = EVK_BUF_ZERO;
	size_t i;
	char *p;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		evk_buf_reset(&b);
		p = dup_exact(cases[i].in, cases[i].len);
		CHECK_INT(evk_json_escape(&b, p, cases[i].len), 0);
		CHECK_STR(b.p, cases[i].out);
		free(p);
	}
	/* Appends to what the buffer holds. */
	evk_buf_reset(&b);
	evk_buf_adds(&b, "{\"k\":");
	CHECK_INT(evk_json_escape(&b, S("v\n")), 0);
	CHECK_STR(b.p, "{\"k\":\"v\\n\"");
	evk_buf_free(&b);
}

/* escape -> check -> unescape gives the bytes back, for random valid
 * UTF-8 strings heavy in specials (no NUL: \u0000 is refused). */
TEST(escape_round_trip)
{
	static const char *pieces[] = {
		"a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f",
		"\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
		"plain words", "\\u0041",
	};
	struct evk_buf esc = EVK_BUF_ZERO, back = EVK_BUF_ZERO;
	struct evk_err e = EVK_ERR_ZERO;
	enum evk_json_type type;
	struct evk_span s;
	char src[512];
	size_t i, k, n, len;

	for (i = 0; i < 5000; i++) {
		len = 0;
		for (k = t_rng() % 30; k > 0; k--) {
			const char *pc = pieces[t_rng() % (sizeof pieces /
			    sizeof pieces[0])];
			n = strlen(pc);
			memcpy(src + len, pc, n);
			len += n;
		}
		evk_buf_reset(&esc);
		evk_buf_reset(&back);
		if (evk_json_escape(&esc, src, len) < 0)
			abort();
		if (check(esc.p, esc.len, &type, &e) != 0 ||
		    type != EVK_JSON_STRING) {
			t_cur_fail++;
			show("escaped", esc.p, esc.len);
			break;
		}
		s.p = esc.p;
		s.len = esc.len;
		CHECK_INT(evk_json_unescape(s, &back), 0);
		if (back.len != len || memcmp(back.p, src, len) != 0) {
			t_cur_fail++;
			show("round trip", src, len);
			break;
		}
	}
	evk_buf_free(&esc);
	evk_buf_free(&back);
}

TEST(unescape)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
		size_t outlen;
	} cases[] = {
		{S("\"\""), S("")},
		{S("\"abc\""), S("abc")},
		{S("\"a\\nb\\tc\""), S("a\nb\tc")},
		{S("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), S("\"\\/\b\f\n\r\t")},
		{S("\"\\u0041\\u00e9\\u20AC\""), S("A\xc3\xa9\xe2\x82\xac")},
		{S("\"\\ud83d\\ude00!\""), S("\xf0\x9f\x98\x80!")},
		{S("\"\\uDBFF\\uDFFF\""), S("\xf4\x8f\xbf\xbf")},
		{S("\"caf\xc3\xa9\""), S("caf\xc3\xa9")},
		{S("\"\\u0001\""), S("\x01")},
	};
	struct evk_buf b = EVK_BUF_ZERO;
	struct evk_span s;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		evk_buf_reset(&b);
		s.p = dup_exact(cases[i].in, cases[i].len);
		s.len = cases[i].len;
		CHECK_INT(evk_json_unescape(s, &b), 0);
		CHECK_MEM(b.p, b.len, cases[i].out, cases[i].outlen);
		CHECK(b.p != NULL && b.p[b.len] == '\0');
		free((char *)s.p);
	}
	/* Appends. */
	evk_buf_reset(&b);
	evk_buf_adds(&b, "x=");
	s.p = "\"1\"";
	s.len = 3;
	CHECK_INT(evk_json_unescape(s, &b), 0);
	CHECK_STR(b.p, "x=1");
	evk_buf_free(&b);
}

TEST(minify)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"{ \"a\" : [ 1 , 2 ] , \"b\" : \" x  y \" }",
		    "{\"a\":[1,2],\"b\":\" x  y \"}"},
		{"\n\t 1 \r\n", "1"},
		{"[ \"a \\\" b\" , \"\\\\\" , \" \" ]", "[\"a \\\" b\",\"\\\\\",\" \"]"},
		{"{}", "{}"},
		{" [ true,false , null ] ", "[true,false,null]"},
		{"{\n  \"k\": {\n    \"n\": -1.5e3\n  }\n}\n",
		    "{\"k\":{\"n\":-1.5e3}}"},
	};
	struct evk_buf b = EVK_BUF_ZERO;
	struct evk_err e = EVK_ERR_ZERO;
	size_t i, len;
	char *p;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		len = strlen(cases[i].in);
		CHECK_INT(check(cases[i].in, len, NULL, &e), 0);
		evk_buf_reset(&b);
		p = dup_exact(cases[i].in, len);
		CHECK_INT(evk_json_minify(&b, p, len), 0);
		CHECK_STR(b.p, cases[i].out);
		CHECK_INT(check(b.p, b.len, NULL, &e), 0);
		free(p);
	}
	evk_buf_free(&b);
}

/*** navigation ***/

static int
span_is(struct evk_span s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

TEST(iter_object)
{
	static const char text[] =
	    " { \"a\" : 1 , \"b\":[1,{\"x\":\"]}\"}] ,\"c\" :{\"d\":\"}\"},"
	    "\"e\\\"\":\"x\\\"y\",\"f\":null,\"g\":-1.5e3 } ";
	static const char *keys[] = {
		"\"a\"", "\"b\"", "\"c\"", "\"e\\\"\"", "\"f\"", "\"g\"",
	};
	static const char *vals[] = {
		"1", "[1,{\"x\":\"]}\"}]", "{\"d\":\"}\"}", "\"x\\\"y\"", "null",
		"-1.5e3",
	};
	struct evk_json_iter it;
	struct evk_span all, k, v;
	size_t n = 0;
	char *p;

	p = dup_exact(text, sizeof text - 1);
	all.p = p;
	all.len = sizeof text - 1;
	CHECK_INT(check(all.p, all.len, NULL, NULL), 0);
	evk_json_iter_init(&it, all);
	while (evk_json_iter_next(&it, &k, &v)) {
		if (n < 6) {
			CHECK(span_is(k, keys[n]));
			CHECK(span_is(v, vals[n]));
		}
		n++;
	}
	CHECK_INT(n, 6);
	CHECK_INT(evk_json_iter_next(&it, &k, &v), 0);
	free(p);
}

TEST(iter_array)
{
	static const char text[] = "[1, \"a\" , {\"x\":[]},[ ],null ,\"b:\"]";
	static const char *vals[] = {
		"1", "\"a\"", "{\"x\":[]}", "[ ]", "null", "\"b:\"",
	};
	struct evk_json_iter it;
	struct evk_span all = {text, sizeof text - 1}, k, v;
	size_t n = 0;

	evk_json_iter_init(&it, all);
	while (evk_json_iter_next(&it, &k, &v)) {
		CHECK_INT(k.len, 0);
		if (n < 6)
			CHECK(span_is(v, vals[n]));
		n++;
	}
	CHECK_INT(n, 6);
}

TEST(iter_empty)
{
	static const char *texts[] = {
		"{}", "[]", " { } ", "\n[\n]\n", "1", "\"s\"", "null", "", "  ",
	};
	struct evk_json_iter it;
	struct evk_span s, k, v;
	size_t i;

	for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		s.p = texts[i];
		s.len = strlen(texts[i]);
		evk_json_iter_init(&it, s);
		CHECK_INT(evk_json_iter_next(&it, &k, &v), 0);
		CHECK_INT(evk_json_iter_next(&it, &k, &v), 0);
	}
	s.p = NULL;
	s.len = 0;
	evk_json_iter_init(&it, s);
	CHECK_INT(evk_json_iter_next(&it, &k, &v), 0);
}

TEST(type_of)
{
	static const struct {
		const char *s;
		enum evk_json_type t;
	} cases[] = {
		{"{}", EVK_JSON_OBJECT}, {"[1]", EVK_JSON_ARRAY},
		{"\"x\"", EVK_JSON_STRING}, {"-1", EVK_JSON_NUMBER},
		{"0", EVK_JSON_NUMBER}, {"true", EVK_JSON_TRUE},
		{"false", EVK_JSON_FALSE}, {"null", EVK_JSON_NULL},
		{" \n{}", EVK_JSON_OBJECT}, {"", EVK_JSON_NONE},
		{"  ", EVK_JSON_NONE}, {"x", EVK_JSON_NONE},
	};
	struct evk_span s;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		s.p = cases[i].s;
		s.len = strlen(cases[i].s);
		CHECK_INT(evk_json_type_of(s), cases[i].t);
	}
}

TEST(key_eq)
{
	static const struct {
		const char *key;
		const char *name;
		size_t n;
		int eq;
	} cases[] = {
		{"\"id\"", S("id"), 1},
		{"\"id\"", S("i"), 0},
		{"\"id\"", S("idx"), 0},
		{"\"\"", S(""), 1},
		{"\"\"", S("a"), 0},
		{"\"a\"", S(""), 0},
		{"\"\\u0069d\"", S("id"), 1},
		{"\"\\u0069\\u0064\"", S("id"), 1},
		{"\"\\u0069\\u0064\"", S("i"), 0},
		{"\"a\\\"b\"", S("a\"b"), 1},
		{"\"a\\\\b\"", S("a\\b"), 1},
		{"\"a\\\\b\"", S("a\\\\b"), 0},
		{"\"\\/\"", S("/"), 1},
		{"\"\\u00e9t\\u00e9\"", S("\xc3\xa9t\xc3\xa9"), 1},
		{"\"\xc3\xa9t\xc3\xa9\"", S("\xc3\xa9t\xc3\xa9"), 1},
		{"\"\\ud83d\\ude00\"", S("\xf0\x9f\x98\x80"), 1},
		{"\"\\ud83d\\ude00\"", S("\xf0\x9f\x98"), 0},
		{"\"\\n\"", S("\n"), 1},
		{"\"\\n\"", S("n"), 0},
		{"\"id", S("id"), 0},
		{"id\"", S("id"), 0},
		{"\"", S(""), 0},
		{"", S(""), 0},
	};
	struct evk_span k;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		k.len = strlen(cases[i].key);
		k.p = dup_exact(cases[i].key, k.len);
		if (evk_json_key_eq(k, cases[i].name, cases[i].n) !=
		    cases[i].eq) {
			t_cur_fail++;
			show("key", cases[i].key, strlen(cases[i].key));
			show("name", cases[i].name, cases[i].n);
		}
		free((char *)k.p);
	}
}

TEST(get)
{
	static const char text[] =
	    "{\"id\":\"1\", \"data\" : {\"x\":1,\"type\":\"inner\"},"
	    "\"\\u0074ype\":\"t\",\"caf\\u00e9\":[1],\"a\\\"b\":true,\"idx\":2}";
	struct evk_span obj, v;
	char *p;

	p = dup_exact(text, sizeof text - 1);
	obj.p = p;
	obj.len = sizeof text - 1;
	CHECK_INT(check(obj.p, obj.len, NULL, NULL), 0);
	CHECK_INT(evk_json_get(obj, S("id"), &v), 1);
	CHECK(span_is(v, "\"1\""));
	CHECK_INT(evk_json_get(obj, S("data"), &v), 1);
	CHECK(span_is(v, "{\"x\":1,\"type\":\"inner\"}"));
	CHECK_INT(evk_json_get(v, S("x"), &v), 1);
	CHECK(span_is(v, "1"));
	CHECK_INT(evk_json_get(obj, S("type"), &v), 1);
	CHECK(span_is(v, "\"t\""));
	CHECK_INT(evk_json_get(obj, S("caf\xc3\xa9"), &v), 1);
	CHECK(span_is(v, "[1]"));
	CHECK_INT(evk_json_get(obj, S("a\"b"), &v), 1);
	CHECK(span_is(v, "true"));
	CHECK_INT(evk_json_get(obj, S("idx"), &v), 1);
	CHECK(span_is(v, "2"));
	CHECK_INT(evk_json_get(obj, S("i"), &v), 0);
	CHECK_INT(evk_json_get(obj, S("nope"), &v), 0);
	CHECK_INT(evk_json_get(obj, S("1"), &v), 0); /* a value, not a key */
	obj.p = "[\"id\",1]";
	obj.len = strlen(obj.p);
	CHECK_INT(evk_json_get(obj, S("id"), &v), 0);
	obj.p = "\"id\"";
	obj.len = strlen(obj.p);
	CHECK_INT(evk_json_get(obj, S("id"), &v), 0);
	obj.p = "{}";
	obj.len = 2;
	CHECK_INT(evk_json_get(obj, S(""), &v), 0);
	obj.p = "{\"\":0}";
	obj.len = 6;
	CHECK_INT(evk_json_get(obj, S(""), &v), 1);
	CHECK(span_is(v, "0"));
	free(p);
}

TEST(is_number)
{
	static const struct {
		const char *s;
		int ok;
	} cases[] = {
		{"0", 1}, {"-0", 1}, {"1", 1}, {"-1", 1}, {"10", 1},
		{"1.0", 1}, {"-0.5", 1}, {"1e1", 1}, {"1E1", 1}, {"1e+1", 1},
		{"1e-1", 1}, {"1.5e-10", 1}, {"123456789012345678901234", 1},
		{"0e0", 1}, {"1e007", 1},
		{"", 0}, {"-", 0}, {"+1", 0}, {"01", 0}, {"-01", 0}, {"00", 0},
		{"1.", 0}, {".1", 0}, {"1e", 0}, {"1e+", 0}, {"1.e1", 0},
		{" 1", 0}, {"1 ", 0}, {"1x", 0}, {"0x1", 0}, {"NaN", 0},
		{"Infinity", 0}, {"-Infinity", 0}, {"1,5", 0}, {"1e1.5", 0},
		{"--1", 0}, {"1-", 0}, {"\"1\"", 0},
	};
	size_t i, n;
	char *p;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		n = strlen(cases[i].s);
		p = dup_exact(cases[i].s, n);
		if (!evk_json_is_number(p, n) != !cases[i].ok) {
			t_cur_fail++;
			printf("#   is_number(\"%s\") != %d\n", cases[i].s,
			    cases[i].ok);
		}
		free(p);
	}
}

/* The helpers never read outside their span, checked or not. */
TEST(unchecked_input)
{
	static const struct {
		const char *s;
		size_t len;
	} cases[] = {
		{S("{")}, {S("[")}, {S("\"")}, {S("\"\\")}, {S("{\"a")},
		{S("{\"a\\")}, {S("{\"a\":")}, {S("{\"a\":\"")}, {S("{\"a\":[")},
		{S("[::]")}, {S("[,,,]")}, {S("{:}")}, {S("}")}, {S("]]]")},
		{S("{\"a\":1,\"a\":\"\\u")}, {S("\"\\ud800\\u")},
		{S("\"\\ud800")}, {S("\"\\u12")}, {S("[\"\\\"]")},
		{S("{\"k\"  ")}, {S("[1 2 3]")}, {S("{\"\\u0000\":1}")},
		{S("\"\xe2\x82")}, {S("{\"a\":{\"b\":{\"c\"")},
	};
	size_t i;
	char *p;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		p = dup_exact(cases[i].s, cases[i].len);
		navigate(p, cases[i].len);
		free(p);
	}
	CHECK(1);
}

/*** jansson trees ***/

TEST(load)
{
	struct evk_err e = EVK_ERR_ZERO;
	json_t *j;

	j = evk_json_load(chk, S("{\"a\":[1,2],\"b\":\"\\u00e9\"}"), &e);
	CHECK(j != NULL && json_is_object(j));
	CHECK(json_integer_value(json_array_get(json_object_get(j, "a"), 1)) ==
	    2);
	CHECK_STR(json_string_value(json_object_get(j, "b")), "\xc3\xa9");
	json_decref(j);

	j = evk_json_load(chk, S("123456789012345678901234"), &e);
	CHECK(j != NULL && json_is_real(j));
	CHECK(json_real_value(j) > 1.2345e23 && json_real_value(j) < 1.2346e23);
	json_decref(j);

	j = evk_json_load(chk, S("{\"n\":-123456789012345678901234}"), &e);
	CHECK(j != NULL && json_is_real(json_object_get(j, "n")));
	CHECK(json_real_value(json_object_get(j, "n")) < -1e23);
	json_decref(j);

	j = evk_json_load(chk, S("9223372036854775807"), &e);
	CHECK(j != NULL && json_is_integer(j));
	json_decref(j);

	j = evk_json_load(chk, S("\"x\""), &e);
	CHECK(j != NULL && json_is_string(j));
	json_decref(j);

	/* Our checker speaks first, with its messages. */
	j = evk_json_load(chk, S("{\"a\":1,\"\\u0061\":2}"), &e);
	CHECK(j == NULL);
	CHECK_INT(e.code, EVK_EDUPKEY);
	CHECK_INT(e.column, 8);
	j = evk_json_load(chk, S("[1,]"), &e);
	CHECK(j == NULL);
	CHECK_INT(e.code, EVK_EJSON);
	CHECK_STR(e.msg, "unexpected ']'");

	/* What only jansson refuses comes with its message. */
	j = evk_json_load(chk, S("[1e400]"), &e);
	CHECK(j == NULL);
	CHECK_INT(e.code, EVK_EJSON);
	CHECK(strstr(e.msg, "real number overflow") != NULL);
	CHECK_INT(e.column, 6);
}

int
main(void)
{
	if ((chk = evk_json_checker_new(NULL)) == NULL)
		abort();
	RUN(check_valid);
	RUN(check_invalid);
	RUN(check_string_positions);
	RUN(check_depth);
	RUN(check_dupkeys);
	RUN(check_reuse);
	RUN(check_vectors);
	RUN(check_differential);
	RUN(check_jansson_differences);
	RUN(utf8_check);
	RUN(utf8_exhaustive);
	RUN(escape);
	RUN(escape_round_trip);
	RUN(unescape);
	RUN(minify);
	RUN(iter_object);
	RUN(iter_array);
	RUN(iter_empty);
	RUN(type_of);
	RUN(key_eq);
	RUN(get);
	RUN(is_number);
	RUN(unchecked_input);
	RUN(load);
	evk_json_checker_free(chk);
	evk_json_checker_free(NULL);
	return t_done();
}
