/*
 * tests/fuzz/fuzz_expr.c - libFuzzer target for the expression compiler
 * (evk_expr_compile()) and the evaluator behind it.
 *
 * The input, up to its first NUL, is compiled as an expression.  A refused
 * one must say why the way evfilter shows it: EVK_EINVAL, a column inside
 * the text or just past it (for the caret), a lowercase message without a
 * final period or control bytes.  An accepted one is evaluated against a
 * fixed set of events: the result is 0 or 1 (or EVK_ERANGE from PCRE2's
 * match limit, with a message), the same when evaluated again, and the
 * prefilter never rules out an event that matches.  Then it is compiled a
 * second time and joined with itself, with && and with ||, which must
 * give the same result on every event and the right number of prefilter
 * strings, and joined with a topic expression.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evkit/expr.h"
#include "evkit/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Events the checker accepts, of many shapes (the last two are not
 * objects: the evaluator must cope, though evfilter never asks it to). */
static const char *const events[] = {
    "{\"specversion\":\"1.0\",\"id\":\"A234-1234-1234\",\"source\":"
    "\"/mycontext\",\"type\":\"order.created\",\"time\":"
    "\"2018-04-05T17:31:00Z\",\"data\":{\"amount\":150,\"sku\":\"A1\","
    "\"items\":[{\"sku\":\"A1\",\"qty\":2},{\"sku\":\"B2\",\"qty\":1.5}],"
    "\"tags\":[\"x\",\"y\"],\"note\":\"caf\\u00e9\"}}",
    "{\"type\":\"order.paid\",\"data\":{\"amount\":99.5,\"paid\":true,"
    "\"by\":null}}",
    "{\"type\":\"user.signup\",\"a\\u0062\":\"x\\/y\",\"q\":\"a\\\"b\","
    "\"s\":\"line\\nbreak\",\"u\":\"\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80\"}",
    "{\"type\":\"order.created.v2\",\"n\":9007199254740993,\"d\":"
    "9007199254740992.0,\"big\":18446744073709551616,\"min\":"
    "-9223372036854775808,\"inf\":1e400,\"z\":-0}",
    "{\"type\":\"t\",\"nested\":[[1,[2,[3,[]]]],{\"k\":{\"j\":[true,false,"
    "null]}}],\"o\":{\"y\":2,\"x\":1},\"p\":{\"x\":1,\"y\":2}}",
    "{\"type\":\"time\",\"t1\":\"2024-01-01T01:00:00+01:00\",\"t2\":"
    "\"2024-01-01T00:00:00Z\",\"t3\":\"2024-02-30T00:00:00Z\","
    "\"t4\":\"2999-12-31T23:59:60.999999999Z\"}",
    "{}",
    "{\"type\":5,\"data\":\"str\",\"in\":[\"a\",1,{\"a\":1}],"
    "\"\":\"\",\"null\":null,\"true\":true}",
    "  {\"type\" : \"order.created\" , \"x\" : [ 1 , 2 ] }  ",
    "[1,\"a\",{\"type\":\"order.created\"}]",
    "\"order.created\"",
};

#define NEVENTS (sizeof events / sizeof events[0])

/* A message evfilter can print after "evfilter: " with a caret under it:
 * no control byte, DEL included (a quoted token once carried them raw). */
static int
msg_ok(const char *m)
{
	size_t n = strlen(m);

	if (n == 0 || m[n - 1] == '.')
		return 0;
	for (; *m != '\0'; m++)
		if ((unsigned char)*m < 0x20 || *m == 0x7f)
			return 0;
	return 1;
}

/* Evaluates `e` on every event into r[]; checks the result codes. */
static void
eval_all(struct evk_expr *e, int *r)
{
	struct evk_err err;
	struct evk_span sp;
	size_t i, n;
	char *copy;

	for (i = 0; i < NEVENTS; i++) {
		n = strlen(events[i]);
		/* An exact-size copy, so that ASan sees any read past it. */
		if ((copy = malloc(n)) == NULL)
			abort();
		memcpy(copy, events[i], n);
		sp.p = copy;
		sp.len = n;
		memset(&err, 0, sizeof err);
		r[i] = evk_expr_eval(e, sp, &err);
		if (r[i] < 0 &&
		    (r[i] != EVK_ERANGE || err.code != r[i] ||
		        !msg_ok(err.msg)))
			abort();
		if (r[i] > 1)
			abort();
		/* Exactness of the prefilter, on text the checker accepted. */
		if (r[i] == 1 && !evk_expr_prefilter(e, copy, n))
			abort();
		if (evk_expr_prefilter_count(e) == 0 &&
		    !evk_expr_prefilter(e, copy, n))
			abort();
		free(copy);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct evk_json_checker *chk;
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_expr *e, *e2, *j;
	int r[NEVENTS], r2[NEVENTS], rj[NEVENTS];
	size_t i, count, len;
	int rt[NEVENTS], uses_now;
	char *src;

	if (chk == NULL) {
		/* The events must be valid, or the checks below mean nothing. */
		if ((chk = evk_json_checker_new(NULL)) == NULL)
			abort();
		for (i = 0; i < NEVENTS; i++)
			if (evk_json_check(chk, events[i], strlen(events[i]),
			        NULL, NULL) != 0)
				abort();
	}
	if ((src = malloc(size + 1)) == NULL)
		return 0;
	memcpy(src, data, size);
	src[size] = '\0';
	len = strlen(src);

	e = evk_expr_compile(src, &err);
	if (e == NULL) {
		if (err.code == EVK_ENOMEM)
			goto out;
		if (err.code != EVK_EINVAL || err.column < 1 ||
		    err.column > len + 1 || !msg_ok(err.msg))
			abort();
		goto out;
	}
	/* now() is read once per evaluation, so results taken at two
	 * moments may differ. */
	uses_now = strstr(src, "now") != NULL;
	eval_all(e, r);
	eval_all(e, r2);
	if (!uses_now && memcmp(r, r2, sizeof r) != 0)
		abort();
	count = evk_expr_prefilter_count(e);

	/* The same expression joined with itself: a && a is a, a || a is a;
	 * && needs the strings of both sides, || none. */
	for (int and_ = 0; and_ <= 1; and_++) {
		if ((e2 = evk_expr_compile(src, NULL)) == NULL)
			abort(); /* compiled once, so compiles again */
		if (and_) {
			/* join takes both: compile the first one again too */
			struct evk_expr *e1 = evk_expr_compile(src, NULL);
			if (e1 == NULL)
				abort();
			j = evk_expr_join(e1, e2, 1);
		} else {
			j = evk_expr_join(e2, evk_expr_compile(src, NULL), 0);
		}
		if (j == NULL)
			continue; /* out of memory */
		if (evk_expr_prefilter_count(j) != (and_ ? 2 * count : 0))
			abort();
		eval_all(j, rj);
		if (!uses_now && memcmp(r, rj, sizeof r) != 0)
			abort();
		evk_expr_free(j);
	}

	/* Joined with a topic: a match only where both match (where the
	 * topic does not, the expression is not even evaluated). */
	if ((j = evk_expr_topic("order.*", NULL)) == NULL)
		abort();
	eval_all(j, rt);
	j = evk_expr_join(j, e, 1);
	e = NULL;
	if (j != NULL) {
		eval_all(j, rj);
		for (i = 0; i < NEVENTS; i++)
			if (!uses_now && rj[i] != (rt[i] ? r[i] : 0))
				abort();
		evk_expr_free(j);
	}
out:
	evk_expr_free(e);
	free(src);
	return 0;
}
