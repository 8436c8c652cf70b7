/*
 * tests/fuzz/fuzz_filter.c - libFuzzer target for what evfilter does with
 * each line: prefilter, check, evaluate.
 *
 * Input: when the first byte is a control byte other than '\n', it picks
 * one of the fixed expressions below (most of them give the prefilter
 * strings to look for) and the lines follow it; otherwise the first line
 * is the expression (a fixed one is used if it does not compile).  Every
 * other line, split at '\n' (a last line without one counts), is copied
 * to a buffer of its exact size, so that ASan catches any read past it,
 * and goes through evk_expr_prefilter() first, unchecked, as evfilter
 * does; then evk_json_check(), and when the checker accepts it,
 * evk_expr_eval().  The rule that must hold: a line the prefilter rules
 * out never matches.  Evaluating it again gives the same result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evkit/expr.h"
#include "evkit/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fixed[] = {
    "type == \"order.created\"",
    "type == \"order.created\" && data.amount > 100",
    "type =~ /^order\\./",
    "topic(\"order.*\")",
    "topic(\"order.>\") && exists(data)",
    "data.sku startswith \"A1\" && type == \"a\"",
    "id endswith \"-1\"",
    "data.note contains \"\xc3\xa9t\xc3\xa9\"",
    "data.tags contains \"x\" && data.tags contains \"yz\"",
    "type == \"a\\\"b\" && source == \"/x\"",
    "type == \"\\u00e9t\\u00e9\"",
    "data.s == \"line\\nbreak\\t\\u0001\"",
    "\"a/b\" == type",
    "!(type == \"xy\") && k == \"\\\\\"",
    "a == \"xy\" || b == \"yz\"",
    "type in [\"a.b\", \"c.d\"] && topic(\"a.b\")",
    "data.n == 9007199254740993 && type endswith \".x\"",
    "time(time) > 2024-01-01T00:00:00Z && type startswith \"or\"",
    "len(data.items) > 1 && data.items[0].sku == \"A1\"",
    "lower(type) == \"order.created\" && source startswith \"//\"",
    "data[\"odd key\"] == \"\" && .type == \"\xf0\x9f\x98\x80\"",
};

#define NFIXED (sizeof fixed / sizeof fixed[0])

static void
one_line(struct evk_expr *e, struct evk_json_checker *chk, const char *p,
    size_t n, int uses_now)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_span sp;
	char *copy = malloc(n ? n : 1);
	int pf = 1, r, r2;

	if (copy == NULL)
		return;
	memcpy(copy, p, n);
	pf = evk_expr_prefilter(e, copy, n);
	if (pf != 0 && pf != 1)
		abort();
	if (evk_expr_prefilter_count(e) == 0 && pf != 1)
		abort();
	if (evk_json_check(chk, copy, n, NULL, NULL) == 0) {
		sp.p = copy;
		sp.len = n;
		r = evk_expr_eval(e, sp, &err);
		if (r < 0 &&
		    (r != EVK_ERANGE || err.code != r || err.msg[0] == '\0'))
			abort();
		if (r > 1)
			abort();
		/* the prefilter is exact */
		if (r == 1 && pf == 0)
			abort();
		r2 = evk_expr_eval(e, sp, NULL);
		if (!uses_now && r2 != r)
			abort();
	}
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct evk_json_checker *chk;
	const char *p = (const char *)data, *end = p + size, *nl;
	struct evk_expr *e = NULL;
	const char *src;
	char *first = NULL;

	if (chk == NULL && (chk = evk_json_checker_new(NULL)) == NULL)
		abort();
	if (size == 0)
		return 0;
	if ((unsigned char)p[0] < 0x20 && p[0] != '\n') {
		src = fixed[(unsigned char)p[0] % NFIXED];
		p++;
	} else {
		nl = memchr(p, '\n', size);
		if (nl == NULL)
			nl = end;
		if ((first = malloc((size_t)(nl - p) + 1)) == NULL)
			return 0;
		memcpy(first, p, (size_t)(nl - p));
		first[nl - p] = '\0';
		src = first;
		p = nl < end ? nl + 1 : end;
		if ((e = evk_expr_compile(src, NULL)) == NULL)
			src = fixed[size % NFIXED];
	}
	if (e == NULL && (e = evk_expr_compile(src, NULL)) == NULL)
		abort(); /* the fixed ones compile */
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		one_line(e, chk, p, (size_t)(nl - p),
		    strstr(src, "now") != NULL);
		p = nl + 1;
	}
	evk_expr_free(e);
	free(first);
	return 0;
}
