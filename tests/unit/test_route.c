/*
 * Unit tests of lib/route.c: rule lines and their errors (message and
 * column, as tables), destinations, topic pattern or expression, rules
 * files, matching with fan-out and --first, and the safe file names of
 * templates.
 *
 * Rule lines are handed over as exact-size copies, so that under SAN=1 a
 * read past the line is an error.
 */
#include "evkit/expr.h"
#include "evkit/json.h"
#include "evkit/route.h"
#include "t.h"

/* Adds `line` to `rt` from an exact-size copy. */
static int
add(struct evk_routes *rt, const char *line, struct evk_err *err)
{
	size_t n = strlen(line);
	char *p = t_dup_exact(line, n);
	int rc = evk_routes_add(rt, p, n, 7, err);

	free(p);
	return rc;
}

TEST(destinations)
{
	static const struct {
		const char *line;
		enum evk_dest_kind kind;
		const char *arg;
		int fd, templated;
	} rows[] = {
	    {"* -> stdout", EVK_DEST_STDOUT, "", 0, 0},
	    {"* ->stderr", EVK_DEST_STDERR, "", 0, 0},
	    {"*->null", EVK_DEST_NULL, "", 0, 0},
	    {"* -> fd:3", EVK_DEST_FD, "3", 3, 0},
	    {"* -> fd:1048576", EVK_DEST_FD, "1048576", 1048576, 0},
	    {"* -> file:out.ndjson  ", EVK_DEST_FILE, "out.ndjson", 0, 0},
	    {"* -> file:a b.ndjson", EVK_DEST_FILE, "a b.ndjson", 0, 0},
	    {"* -> file:o/{type}/{data.region}.ndjson", EVK_DEST_FILE,
	        "o/{type}/{data.region}.ndjson", 0, 1},
	    {"* -> file:{{x}}.ndjson", EVK_DEST_FILE, "{{x}}.ndjson", 0, 0},
	    {"* -> unix:/run/x.sock", EVK_DEST_UNIX, "/run/x.sock", 0, 0},
	    {"* -> bus:", EVK_DEST_BUS, "", 0, 0},
	    {"* -> bus:unix:/tmp/b.sock", EVK_DEST_BUS, "unix:/tmp/b.sock", 0,
	        0},
	    {"* -> bus:nats://localhost:4222", EVK_DEST_BUS,
	        "nats://localhost:4222", 0, 0},
	    {"* -> exec:mail -s 'x -> y' ops", EVK_DEST_EXEC,
	        "mail -s 'x -> y' ops", 0, 0},
	};
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct evk_routes *rt = evk_routes_new();
		struct evk_err err = EVK_ERR_ZERO;
		const struct evk_dest *d;

		CHECK_INT(add(rt, rows[i].line, &err), 0);
		CHECK_INT(evk_routes_count(rt), 1);
		d = evk_routes_rule_dest(rt, 0);
		if (d == NULL) {
			CHECK(d != NULL);
		} else {
			CHECK_INT(d->kind, rows[i].kind);
			CHECK_STR(d->arg, rows[i].arg);
			CHECK_INT(d->fd, rows[i].fd);
			CHECK_INT(d->templated, rows[i].templated);
		}
		evk_routes_free(rt);
	}
}

TEST(errors)
{
	static const struct {
		const char *line;
		size_t column;
		const char *msg; /* its start */
	} rows[] = {
	    {"order.>", 8, "missing '->'"},
	    {"order.> => stdout", 18, "missing '->'"},
	    {"-> stdout", 1, "missing rule before '->'"},
	    {"  \t-> stdout", 4, "missing rule before '->'"},
	    {"x ->", 5, "missing destination after '->'"},
	    {"x ->   ", 8, "missing destination after '->'"},
	    {"x -> fiel:a", 6, "unknown destination 'fiel:'"},
	    {"x -> stdout2", 6, "unknown destination 'stdout2'"},
	    /* fuzz_routes: raw bytes are not put in the message */
	    {"x ->\x18x]\xf2 -> stderr", 5, "unknown destination '?x]?'"},
	    {"x -> fd:", 9, "fd:N needs a descriptor number"},
	    {"x -> fd:0", 9, "fd:N needs a descriptor number"},
	    {"x -> fd:3x", 9, "fd:N needs a descriptor number"},
	    {"x -> fd:99999999", 9, "fd:N needs a descriptor number"},
	    {"x -> file:", 11, "file: needs a path"},
	    {"x -> file:a{b", 12, "unterminated '{'"},
	    {"x -> file:a}b", 12, "unmatched '}'"},
	    {"x -> file:{}", 12, "empty field name"},
	    {"x -> file:{a.}", 14, "empty field name"},
	    {"x -> file:{.a}", 12, "invalid field path"},
	    {"x -> file:{a b}", 13, "invalid field path"},
	    {"x -> file:{a/b}", 13, "invalid field path"},
	    {"x -> unix:", 11, "unix: needs a socket path"},
	    {"x -> exec:", 11, "exec: needs a command"},
	    {"x -> bus:http://h", 10, "a bus URL is unix:PATH"},
	    {"order* -> stdout", 6, "a wildcard '*' must be a whole token"},
	    {"a.>.b -> stdout", 3, NULL}, /* the topic module's message */
	    {"a..b -> stdout", 3, NULL},
	    {"data.x == -> stdout", 10,
	        "unexpected end of expression"}, /* the expression's */
	    {"  (a -> stdout", 5, "missing ')'"},
	    /* An open string hides every arrow after it. */
	    {"x == \"a -> b -> stdout", 23, "missing '->'"},
	};
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct evk_routes *rt = evk_routes_new();
		struct evk_err err = EVK_ERR_ZERO;
		int rc = add(rt, rows[i].line, &err);

		CHECK_INT(rc, EVK_EINVAL);
		CHECK_INT(err.code, EVK_EINVAL);
		CHECK_INT(err.line, 7);
		CHECK_INT(evk_routes_count(rt), 0);
		if (err.column != rows[i].column || err.msg[0] == '\0' ||
		    (rows[i].msg != NULL &&
		        strncmp(err.msg, rows[i].msg, strlen(rows[i].msg)))) {
			printf("#   %s: column %zu, \"%s\"\n", rows[i].line,
			    err.column, err.msg);
			t_cur_fail++;
		}
		evk_routes_free(rt);
	}
}

/* Blank and comment lines add nothing; the first "->" outside a string
 * or a regex is the arrow. */
TEST(lines)
{
	struct evk_routes *rt = evk_routes_new();
	struct evk_err err = EVK_ERR_ZERO;
	const struct evk_dest *d;

	CHECK_INT(add(rt, "", &err), 0);
	CHECK_INT(add(rt, "   \t", &err), 0);
	CHECK_INT(add(rt, "# order.> -> stdout", &err), 0);
	CHECK_INT(add(rt, "  # x", &err), 0);
	CHECK_INT(evk_routes_count(rt), 0);
	CHECK_INT(add(rt, "data.s == \"a->b\" -> file:x", &err), 0);
	CHECK_INT(add(rt, "data.s =~ /a->b/ -> file:y", &err), 0);
	CHECK_INT(add(rt, "data.s !~ /a\\/->/ -> file:z", &err), 0);
	CHECK_INT(add(rt, "* -> exec:awk '{print \"->\"}'", &err), 0);
	CHECK_INT(evk_routes_count(rt), 4);
	d = evk_routes_rule_dest(rt, 3);
	CHECK(d != NULL && !strcmp(d->arg, "awk '{print \"->\"}'"));
	evk_routes_free(rt);
}

/* Which events a rule set sends where, with and without --first. */
static void
expect(struct evk_routes *rt, const char *ev, int first, const char *want)
{
	struct evk_err err = EVK_ERR_ZERO;
	size_t out[16], i;
	char got[64] = "";
	struct evk_span sp = {ev, strlen(ev)};
	int n = evk_routes_match(rt, sp, first, out, &err);

	for (i = 0; n > 0 && i < (size_t)n; i++)
		snprintf(got + strlen(got), sizeof got - strlen(got), "%s%zu",
		    i ? "," : "", out[i]);
	if (strcmp(got, want)) {
		printf("#   %s (first %d): %s, expected %s\n", ev, first, got,
		    want);
		t_cur_fail++;
	}
}

TEST(matching)
{
	static const char rules[] =
	    "# topics, expressions, everything\n"
	    "order.> -> file:orders.ndjson\r\n"
	    "\n"
	    "data.status >= 500 -> file:errors.ndjson\n"
	    "data.paid -> stdout\n" /* a topic "data.paid", not a path */
	    "exists(data.paid) -> stderr\n"
	    "order.created -> file:orders.ndjson\n" /* the same file */
	    "* -> null\n";
	struct evk_routes *rt = evk_routes_new();
	struct evk_err err = EVK_ERR_ZERO;

	CHECK_INT(evk_routes_parse(rt, rules, sizeof rules - 1, &err), 0);
	CHECK_INT(evk_routes_count(rt), 6);
	CHECK_INT(evk_routes_ndests(rt), 5);
	expect(rt, "{\"type\":\"order.created\",\"data\":{\"status\":503}}", 0,
	    "0,1,4");
	expect(rt, "{\"type\":\"order.created\",\"data\":{\"status\":503}}", 1,
	    "0");
	expect(rt, "{\"type\":\"x\",\"data\":{\"paid\":true}}", 0, "3,4");
	expect(rt, "{\"type\":\"data.paid\"}", 0, "2,4");
	expect(rt, "{\"nothing\":1}", 0, "4");
	expect(rt, "{\"nothing\":1}", 1, "4");
	CHECK(evk_routes_else(rt) == NULL);
	evk_routes_free(rt);

	/* --else: only when no rule matched. */
	rt = evk_routes_new();
	CHECK_INT(add(rt, "order.* -> stdout", &err), 0);
	CHECK_INT(evk_routes_set_else(rt, " file:rest.ndjson ", &err), 0);
	CHECK(evk_routes_else(rt) != NULL &&
	    !strcmp(evk_routes_else(rt)->arg, "rest.ndjson"));
	expect(rt, "{\"type\":\"order.paid\"}", 0, "0");
	expect(rt, "{\"type\":\"order.paid.eu\"}", 0, "1");
	expect(rt, "{}", 0, "1");
	CHECK_INT(evk_routes_set_else(rt, "nowhere", &err), EVK_EINVAL);
	CHECK_INT(err.column, 1);
	CHECK_INT(evk_routes_set_else(rt, "  ", &err), EVK_EINVAL);
	evk_routes_free(rt);
}

/* A topic rule matches exactly what evfilter -t matches
 * (evk_expr_topic()), whatever the event's "type" is. */
TEST(topic_rules_as_evfilter)
{
	static const char *const pats[] = {"order.>", "order.*", ">", "*",
	    "a.*.c", "order.created", "caf\u00e9"};
	static const char *const evs[] = {
	    "{\"type\":\"order.created\"}",
	    "{\"type\":\"order.created.eu\"}",
	    "{\"type\":\"order\"}",
	    "{\"type\":\"ord\\u0065r.paid\"}", /* an escape */
	    "{\"type\":\"order\\/x.y\"}",
	    "{\"type\":5}",
	    "{\"type\":null}",
	    "{\"data\":{\"type\":\"order.x\"}}",
	    "{\"type\":\"a..b\"}",
	    "{\"type\":\"a.b.c\"}",
	    "{\"type\":\"\"}",
	    "{\"type\":\"x\"}",
	    "{\"type\":\"caf\u00e9\"}",
	};
	size_t i, j;

	for (i = 0; i < sizeof pats / sizeof pats[0]; i++) {
		struct evk_routes *rt = evk_routes_new();
		struct evk_err err = EVK_ERR_ZERO;
		struct evk_expr *e;
		char line[64];

		snprintf(line, sizeof line, "%s -> stdout", pats[i]);
		if (strchr(pats[i], '\\') != NULL || !strcmp(pats[i], "*")) {
			evk_routes_free(rt);
			continue; /* not a topic word */
		}
		CHECK_INT(add(rt, line, &err), 0);
		e = evk_expr_topic(pats[i], &err);
		CHECK(e != NULL);
		for (j = 0; e != NULL && j < sizeof evs / sizeof evs[0]; j++) {
			struct evk_span sp = {evs[j], strlen(evs[j])};
			size_t out[4];
			int want = evk_expr_eval(e, sp, &err);
			int got = evk_routes_match(rt, sp, 0, out, &err);
			if (want != got) {
				printf("#   %s on %s: %d, evfilter %d\n",
				    pats[i], evs[j], got, want);
				t_cur_fail++;
			}
		}
		evk_expr_free(e);
		evk_routes_free(rt);
	}
}

TEST(parse_file_errors)
{
	static const char text[] = "a -> stdout\n\n# c\nb -> nowhere\n";
	struct evk_routes *rt = evk_routes_new();
	struct evk_err err = EVK_ERR_ZERO;

	CHECK_INT(evk_routes_parse(rt, text, sizeof text - 1, &err),
	    EVK_EINVAL);
	CHECK_INT(err.line, 4);
	CHECK_INT(err.column, 6);
	CHECK_INT(evk_routes_parse(rt, "x -> null\0", 10, &err), EVK_EINVAL);
	CHECK_INT(err.column, 10);
	evk_routes_free(rt);
	evk_routes_free(NULL);
}

static void
name(const char *v, size_t n, const char *want)
{
	struct evk_buf b = EVK_BUF_ZERO;
	char *p = t_dup_exact(v, n);

	CHECK_INT(evk_route_safe_name(&b, p, n), 0);
	if (b.p == NULL || strcmp(b.p, want)) {
		printf("#   safe name of \"%.*s\": \"%s\", expected \"%s\"\n",
		    (int)n, v, b.p ? b.p : "", want);
		t_cur_fail++;
	}
	free(p);
	evk_buf_free(&b);
}

TEST(safe_names)
{
	char longv[400], a[200], b2[200];
	struct evk_buf x = EVK_BUF_ZERO, y = EVK_BUF_ZERO;

	name("eu-west_1", 9, "eu-west_1");
	name("", 0, EVK_ROUTE_EMPTY);
	name("..", 2, "%2E.");
	name(".", 1, "%2E");
	name(".hidden", 7, "%2Ehidden");
	name("../../etc", 9, "%2E.%2F..%2Fetc");
	name("a/b", 3, "a%2Fb");
	name("a\\b", 3, "a%5Cb");
	name("100%", 4, "100%25");
	name("_missing", 8, "%5Fmissing");
	name("a_b", 3, "a_b");
	name("sp ace", 6, "sp%20ace");
	name("\xc3\xa9t\xc3\xa9", 5, "%C3%A9t%C3%A9");
	name("a\nb\x7f", 4, "a%0Ab%7F");
	name("a\0b", 3, "a%00b");
	name("x~y", 3, "x%7Ey");

	/* Long values are cut at a whole byte and end with "~" and 16 hex
	 * digits; two that share their start still differ. */
	memset(longv, 'x', sizeof longv);
	CHECK_INT(evk_route_safe_name(&x, longv, sizeof longv), 0);
	CHECK(x.len <= EVK_ROUTE_NAME_MAX && x.len > 100);
	CHECK(x.p[x.len - 17] == '~');
	memset(a, '/', sizeof a);
	memcpy(b2, a, sizeof b2);
	b2[199] = '.';
	evk_buf_reset(&x);
	CHECK_INT(evk_route_safe_name(&x, a, sizeof a), 0);
	CHECK_INT(evk_route_safe_name(&y, b2, sizeof b2), 0);
	CHECK(x.len <= EVK_ROUTE_NAME_MAX && y.len <= EVK_ROUTE_NAME_MAX);
	CHECK(strcmp(x.p, y.p) != 0);
	/* "%2F" is never split by the cut. */
	CHECK(x.p[x.len - 18] == 'F');
	/* Exactly at the limit: not cut. */
	evk_buf_reset(&x);
	CHECK_INT(evk_route_safe_name(&x, longv, EVK_ROUTE_NAME_MAX), 0);
	CHECK_INT(x.len, EVK_ROUTE_NAME_MAX);
	CHECK(strchr(x.p, '~') == NULL);
	evk_buf_free(&x);
	evk_buf_free(&y);
}

static void
path(const char *dest, const char *ev, const char *want)
{
	struct evk_routes *rt = evk_routes_new();
	struct evk_buf b = EVK_BUF_ZERO;
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_span sp = {ev, strlen(ev)};
	char line[256];

	snprintf(line, sizeof line, "* -> %s", dest);
	CHECK_INT(add(rt, line, &err), 0);
	CHECK_INT(evk_route_path(evk_routes_dest(rt, 0), sp, &b), 0);
	if (b.p == NULL || strcmp(b.p, want)) {
		printf("#   %s on %s: \"%s\", expected \"%s\"\n", dest, ev,
		    b.p ? b.p : "", want);
		t_cur_fail++;
	}
	evk_buf_free(&b);
	evk_routes_free(rt);
}

TEST(templates)
{
	path("file:o/{type}/{data.region}.ndjson",
	    "{\"type\":\"order.paid\",\"data\":{\"region\":\"eu\"}}",
	    "o/order.paid/eu.ndjson");
	path("file:o/{type}/{data.region}.ndjson", "{\"type\":\"a/b\"}",
	    "o/a%2Fb/" EVK_ROUTE_MISSING ".ndjson");
	path("file:{data.n}-{data.t}-{data.z}-{data.o}-{data.a}",
	    "{\"data\":{\"n\":-1.5e3,\"t\":true,\"z\":null,\"o\":{},"
	    "\"a\":[1]}}",
	    "-1.5e3-true-null-" EVK_ROUTE_OBJECT "-" EVK_ROUTE_ARRAY);
	path("file:{s}", "{\"s\":\"caf\\u00e9\\/x\"}", "caf%C3%A9%2Fx");
	path("file:{s}", "{\"s\":\"\"}", EVK_ROUTE_EMPTY);
	path("file:{s.t}", "{\"s\":\"str\"}", EVK_ROUTE_MISSING);
	path("file:{{lit}}/{a-b}", "{\"a-b\":\"x\"}", "{lit}/x");
	path("file:plain.ndjson", "{}", "plain.ndjson");
}

int
main(void)
{
	RUN(destinations);
	RUN(errors);
	RUN(lines);
	RUN(matching);
	RUN(topic_rules_as_evfilter);
	RUN(parse_file_errors);
	RUN(safe_names);
	RUN(templates);
	return t_done();
}
