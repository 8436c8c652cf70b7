/*
 * tests/fuzz/fuzz_json.c - libFuzzer target for evk_json_check() and the
 * helpers that walk checked text.
 *
 * Accepted input: every member of the top-level container is visited,
 * keys and string values are unescaped (and must escape back to text the
 * checker accepts), lookups find what iteration found, and the minified
 * text must be accepted again with the same type.  Any input: the helpers
 * run on it too (they must stay inside the span), and acceptance must
 * agree with jansson except for the differences documented in
 * tests/unit/test_json.c (numbers that overflow a double, a NUL byte right
 * after a number or literal).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evkit/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct evk_json_checker *chk;

/* Unescapes the string span `s`: valid UTF-8 that escapes back to a
 * string the checker accepts and that unescapes to the same bytes. */
static void
round_trip(struct evk_span s, struct evk_buf *a, struct evk_buf *b)
{
	enum evk_json_type t;
	struct evk_span esc;
	size_t n;

	evk_buf_reset(a);
	evk_buf_reset(b);
	if (evk_json_unescape(s, a) < 0 || a->p == NULL)
		abort(); /* unescape always leaves a NUL-terminated buffer */
	if (evk_utf8_check(a->p, a->len, NULL) != 0)
		abort();
	if (evk_json_escape(b, a->p, a->len) < 0)
		abort();
	if (evk_json_check(chk, b->p, b->len, &t, NULL) != 0 ||
	    t != EVK_JSON_STRING)
		abort();
	esc.p = b->p;
	esc.len = b->len;
	n = a->len;
	if (evk_json_unescape(esc, a) < 0 || a->len != 2 * n ||
	    memcmp(a->p, a->p + n, n) != 0)
		abort();
}

static void
walk(const char *p, size_t n, enum evk_json_type type)
{
	struct evk_span all = {p, n}, k, v, got;
	struct evk_json_iter it;
	struct evk_buf a = EVK_BUF_ZERO, b = EVK_BUF_ZERO, name = EVK_BUF_ZERO;
	enum evk_json_type t;

	if (evk_json_type_of(all) != type)
		abort();
	if (type == EVK_JSON_STRING)
		round_trip(all, &a, &b);
	if (type == EVK_JSON_NUMBER) {
		const char *s = p, *e = p + n;
		while (s < e && strchr(" \t\r\n", *s) != NULL)
			s++;
		while (e > s && strchr(" \t\r\n", e[-1]) != NULL)
			e--;
		if (!evk_json_is_number(s, (size_t)(e - s)))
			abort();
	}
	evk_json_iter_init(&it, all);
	while (evk_json_iter_next(&it, &k, &v)) {
		if (type != EVK_JSON_OBJECT && type != EVK_JSON_ARRAY)
			abort();
		if (v.len == 0 || evk_json_type_of(v) == EVK_JSON_NONE)
			abort();
		/* Every member is a value the checker accepts on its own. */
		if (evk_json_check(chk, v.p, v.len, &t, NULL) != 0 ||
		    t != evk_json_type_of(v))
			abort();
		if (t == EVK_JSON_STRING)
			round_trip(v, &a, &b);
		if (type == EVK_JSON_ARRAY) {
			if (k.len != 0)
				abort();
			continue;
		}
		round_trip(k, &a, &b);
		evk_buf_reset(&name);
		if (evk_json_unescape(k, &name) < 0)
			abort();
		if (!evk_json_key_eq(k, name.p, name.len))
			abort();
		/* Keys are unique, so lookup finds this very member. */
		if (!evk_json_get(all, name.p, name.len, &got) ||
		    got.p != v.p || got.len != v.len)
			abort();
	}
	evk_buf_reset(&a);
	if (evk_json_minify(&a, p, n) < 0)
		abort();
	if (a.len > n || evk_json_check(chk, a.p, a.len, &t, NULL) != 0 ||
	    t != type)
		abort();
	evk_buf_free(&a);
	evk_buf_free(&b);
	evk_buf_free(&name);
}

/* On unchecked text the helpers may return anything but must not fault. */
static void
wander(const char *p, size_t n)
{
	struct evk_span all = {p, n}, k, v, got;
	struct evk_json_iter it;
	struct evk_buf b = EVK_BUF_ZERO;
	size_t steps = 0;

	(void)evk_json_type_of(all);
	(void)evk_json_get(all, "id", 2, &got);
	(void)evk_json_unescape(all, &b);
	(void)evk_json_minify(&b, p, n);
	(void)evk_json_is_number(p, n);
	(void)evk_utf8_check(p, n, NULL);
	evk_json_iter_init(&it, all);
	while (evk_json_iter_next(&it, &k, &v)) {
		if (++steps > n)
			abort(); /* each step must consume input */
		(void)evk_json_key_eq(k, "id", 2);
		(void)evk_json_unescape(k, &b);
		(void)evk_json_unescape(v, &b);
		(void)evk_json_get(v, "a", 1, &got);
	}
	evk_buf_free(&b);
}

static void
compare_jansson(const char *p, size_t n, int rc, const struct evk_err *e)
{
	const size_t flags = JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
	    JSON_DECODE_INT_AS_REAL;
	json_error_t je;
	json_t *j;

	j = json_loadb(p, n, flags, &je);
	if (j != NULL && rc == 0 && json_is_object(j) !=
	    (evk_json_type_of((struct evk_span){p, n}) == EVK_JSON_OBJECT))
		abort();
	if ((rc == 0) != (j != NULL)) {
		if (rc == 0 && strstr(je.text, "real number overflow") != NULL)
			;
		else if (rc != 0 && e->column > 0 && e->column <= n &&
		    p[e->column - 1] == '\0')
			;
		else if (rc == EVK_EDEPTH)
			; /* jansson allows 2048 levels, we 128 */
		else
			abort();
	}
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evk_err e = EVK_ERR_ZERO;
	enum evk_json_type type;
	const char *p = (const char *)data;
	int rc;

	if (chk == NULL && (chk = evk_json_checker_new(NULL)) == NULL)
		abort();
	rc = evk_json_check(chk, p, size, &type, &e);
	if (rc == 0)
		walk(p, size, type);
	else if (e.code != rc || e.column == 0 || e.column > size + 1 ||
	    e.msg[0] == '\0')
		abort();
	wander(p, size);
	compare_jansson(p, size, rc, &e);
	return 0;
}
