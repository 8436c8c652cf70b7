/*
 * tests/fuzz/fuzz_routes.c - libFuzzer target for the rules-file parser
 * (evk_routes_parse(), and through it the destination and template
 * parsers, the expression compiler and the topic checker).
 *
 * The input is a rules file.  A refused one must say where and why the way
 * evroute shows it: EVK_EINVAL, a line inside the text, a column inside
 * that line or just past it, a lowercase message without a final period
 * or control bytes.  An accepted one is matched against a fixed set of
 * events: the destinations are valid indexes, each at most once, --first
 * gives at most one (the first of the fan-out), and every file: path of
 * a templated destination has no "/" that the template did not write and
 * no ".." component.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evkit/json.h"
#include "evkit/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const events[] = {
    "{\"type\":\"order.created\",\"data\":{\"region\":\"eu\",\"status\":503,"
    "\"tenant\":\"../..\"}}",
    "{\"type\":\"a/b\",\"data\":{\"region\":\"\",\"status\":200,\"x\":[1]}}",
    "{\"type\":\"..\",\"data\":{\"region\":\"caf\\u00e9\\/\",\"o\":{}}}",
    "{\"id\":1}",
    "{}",
};

#define NEVENTS (sizeof events / sizeof events[0])

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

/* The number of '/' in the literal parts of a file: template, and
 * whether a template field could start a component. */
static size_t
template_slashes(const char *t)
{
	size_t n = 0;
	int depth = 0;

	for (; *t; t++) {
		if (t[0] == '{' && t[1] == '{') {
			t++;
			continue;
		}
		if (*t == '{')
			depth = 1;
		else if (*t == '}')
			depth = 0;
		else if (*t == '/' && !depth)
			n++;
	}
	return n;
}

static void
check_paths(struct evk_routes *rt, struct evk_span ev)
{
	struct evk_buf b = EVK_BUF_ZERO;
	size_t i, slashes;
	const char *p;

	for (i = 0; i < evk_routes_ndests(rt); i++) {
		const struct evk_dest *d = evk_routes_dest(rt, i);
		if (d->kind != EVK_DEST_FILE || !d->templated)
			continue;
		evk_buf_reset(&b);
		if (evk_route_path(d, ev, &b) < 0)
			continue;
		for (slashes = 0, p = b.p; *p; p++)
			slashes += *p == '/';
		if (slashes != template_slashes(d->arg))
			abort();
		/* A value never makes a ".." component on its own: its
		 * first '.' is encoded. */
		if (strstr(d->arg, "..") == NULL && strstr(b.p, "/../") != NULL)
			abort();
	}
	evk_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evk_routes *rt;
	struct evk_err err = EVK_ERR_ZERO;
	size_t i, j, lines = 1, *out, *out1;
	char *text;
	int rc, n, n1;

	if ((text = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	for (i = 0; i < size; i++)
		lines += text[i] == '\n';
	if ((rt = evk_routes_new()) == NULL) {
		free(text);
		return 0;
	}
	rc = evk_routes_parse(rt, text, size, &err);
	if (rc < 0) {
		if (rc != EVK_ENOMEM &&
		    (rc != EVK_EINVAL || err.code != rc || err.line < 1 ||
		        err.line > lines || err.column < 1 ||
		        err.column > size + 1 || !msg_ok(err.msg)))
			abort();
		goto out;
	}
	out = calloc(evk_routes_ndests(rt) + 1, sizeof *out);
	out1 = calloc(evk_routes_ndests(rt) + 1, sizeof *out1);
	for (i = 0; out != NULL && out1 != NULL && i < NEVENTS; i++) {
		struct evk_span ev = {events[i], strlen(events[i])};
		n = evk_routes_match(rt, ev, 0, out, &err);
		n1 = evk_routes_match(rt, ev, 1, out1, &err);
		if (n < 0 || n1 < 0)
			continue; /* a regex's match limit */
		if ((size_t)n > evk_routes_ndests(rt) || n1 > 1 ||
		    (n > 0) != (n1 > 0))
			abort();
		if (n1 == 1 && out1[0] != out[0])
			abort();
		for (j = 0; j < (size_t)n; j++) {
			if (out[j] >= evk_routes_ndests(rt))
				abort();
			for (size_t k = 0; k < j; k++)
				if (out[k] == out[j])
					abort();
		}
		check_paths(rt, ev);
	}
	free(out);
	free(out1);
out:
	evk_routes_free(rt);
	free(text);
	return 0;
}
