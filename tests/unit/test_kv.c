/*
 * Unit tests of lib/kv.c (key=value arguments) and lib/lineparse.c
 * (regex named groups).
 */
#include <unistd.h>

#include "evkit/json.h"
#include "evkit/kv.h"
#include "evkit/lineparse.h"
#include "t.h"

/* Builds an object from NULL-terminated args; returns the JSON or the
 * error message in a static buffer. */
static const char *
build(const char *const *args)
{
	static char res[1024];
	struct evk_kv *kv = evk_kv_new(0, 0, NULL);
	struct evk_buf out = EVK_BUF_ZERO;
	struct evk_err err = EVK_ERR_ZERO;

	for (; *args != NULL; args++)
		if (evk_kv_add(kv, *args, &err) < 0) {
			snprintf(res, sizeof res, "ERR %zu %s", err.column,
			    err.msg);
			evk_kv_free(kv);
			return res;
		}
	evk_kv_write(kv, &out);
	snprintf(res, sizeof res, "%s", out.p);
	evk_buf_free(&out);
	evk_kv_free(kv);
	return res;
}

#define A(...) ((const char *const[]){__VA_ARGS__, NULL})

TEST(kv_types)
{
	CHECK_STR(build(A("sku=A1", "qty=2", "paid=true", "note=two words",
	    "items:=[1, 2]")),
	    "{\"sku\":\"A1\",\"qty\":2,\"paid\":true,\"note\":\"two words\","
	    "\"items\":[1,2]}");
	CHECK_STR(build(A("a=007", "b=-1.5e3", "c=null", "d=false", "e=",
	    "f=1.", "g=123456789012345678901234")),
	    "{\"a\":\"007\",\"b\":-1.5e3,\"c\":null,\"d\":false,\"e\":\"\","
	    "\"f\":\"1.\",\"g\":123456789012345678901234}");
	CHECK_STR(build(A("q=say \"hi\"\n", "u=é✓")),
	    "{\"q\":\"say \\\"hi\\\"\\n\",\"u\":\"é✓\"}");
	CHECK_STR(build(A("x:=\"quoted\"", "y:= {\"k\" : [ ] } ")),
	    "{\"x\":\"quoted\",\"y\":{\"k\":[]}}");
	CHECK_STR(build(A("eq=a=b")), "{\"eq\":\"a=b\"}");
}

TEST(kv_nesting)
{
	CHECK_STR(build(A("a.b=1", "a.c=x", "d=2", "a.e.f=true")),
	    "{\"a\":{\"b\":1,\"c\":\"x\",\"e\":{\"f\":true}},\"d\":2}");
}

TEST(kv_errors)
{
	CHECK_STR(build(A("novalue")),
	    "ERR 1 expected key=value, key:=JSON or key=@FILE");
	CHECK_STR(build(A("=1")), "ERR 1 empty key");
	CHECK_STR(build(A("a=1", "a=2")), "ERR 1 duplicate key \"a\"");
	CHECK_STR(build(A("a=1", "a.b=2")), "ERR 1 \"a\" is a value, not an object");
	CHECK_STR(build(A("a.b=1", "a=2")), "ERR 1 \"a\" is an object");
	CHECK_STR(build(A("a..b=1")), "ERR 3 empty key segment");
	CHECK_STR(build(A("a.=1")), "ERR 2 empty key segment");
	CHECK_STR(build(A(".a=1")), "ERR 1 empty key segment");
	CHECK(strncmp(build(A("j:=[1,")), "ERR 7 ", 6) == 0);
	CHECK(strncmp(build(A("j:={\"a\":1,\"a\":2}")), "ERR ", 4) == 0);
	CHECK_STR(build(A("v=ok\xff")), "ERR 5 invalid UTF-8 in value");
	CHECK_STR(build(A("k\xc3=1")), "ERR 2 invalid UTF-8 in key");
	CHECK(strstr(build(A("f=@/nonexistent/file")),
	    "/nonexistent/file: No such file or directory") != NULL);
	CHECK(strstr(build(A("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y."
	    "z.aa.bb.cc.dd.ee.ff.gg=1")), "nested deeper than 32") != NULL);
}

TEST(kv_file)
{
	char path[] = "/tmp/evk-kvXXXXXX", arg[64];
	int fd = mkstemp(path);
	struct evk_kv *kv;
	struct evk_err err = EVK_ERR_ZERO;

	CHECK(write(fd, "line \"1\"\nline 2\n", 16) == 16);
	close(fd);
	snprintf(arg, sizeof arg, "msg=@%s", path);
	CHECK_STR(build(A(arg)), "{\"msg\":\"line \\\"1\\\"\\nline 2\\n\"}");
	/* Over the size bound. */
	kv = evk_kv_new(0, 10, NULL);
	CHECK_INT(evk_kv_add(kv, arg, &err), EVK_ETOOLONG);
	evk_kv_free(kv);
	/* Not allowed with EVK_KV_NOFILES. */
	kv = evk_kv_new(EVK_KV_NOFILES, 0, NULL);
	CHECK_INT(evk_kv_add(kv, arg, &err), EVK_EINVAL);
	evk_kv_free(kv);
	unlink(path);
}

TEST(kv_json_depth)
{
	struct evk_json_opts o = {2, 0};
	struct evk_kv *kv = evk_kv_new(0, 0, &o);
	struct evk_err err = EVK_ERR_ZERO;

	CHECK_INT(evk_kv_add(kv, "a:=[[1]]", &err), 0);
	CHECK_INT(evk_kv_add(kv, "b:=[[[1]]]", &err), EVK_EDEPTH);
	CHECK_INT(err.column, 6);
	evk_kv_free(kv);
}

TEST(kv_output_is_valid_json)
{
	struct evk_json_checker *c = evk_json_checker_new(NULL);
	const char *o = build(A("a.b=1", "c:=[{\"x\":\"\\u00e9\"}]", "d=\t"));

	CHECK_INT(evk_json_check(c, o, strlen(o), NULL, NULL), 0);
	evk_json_checker_free(c);
}

/* --- lineparse ------------------------------------------------------------ */

static const char *
parse(const char *re, const char *types, const char *line)
{
	static char res[1024];
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_lineparse *lp = evk_lineparse_new(re, types, &err);
	struct evk_buf out = EVK_BUF_ZERO;
	int rc;

	if (lp == NULL) {
		snprintf(res, sizeof res, "NEW %s", err.msg);
		return res;
	}
	rc = evk_lineparse_run(lp, line, strlen(line), &out, &err);
	snprintf(res, sizeof res, "%s", rc ? err.msg : out.p);
	evk_buf_free(&out);
	evk_lineparse_free(lp);
	return res;
}

TEST(lineparse_groups)
{
	const char *re = "^(?<ip>\\S+) \\S+ \\S+ \\[(?<ts>[^]]+)\\] \"(?<method>\\w+) "
	    "(?<path>\\S+)[^\"]*\" (?<status>\\d+) (?<bytes>\\S+)";
	const char *line = "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "
	    "\"GET /a\\\"b HTTP/1.0\" 200 2326";

	CHECK_STR(parse(re, NULL, line),
	    "{\"ip\":\"127.0.0.1\",\"ts\":\"10/Oct/2000:13:55:36 -0700\","
	    "\"method\":\"GET\",\"path\":\"/a\\\\\\\"b\",\"status\":\"200\","
	    "\"bytes\":\"2326\"}");
	CHECK_STR(parse(re, "auto", line),
	    "{\"ip\":\"127.0.0.1\",\"ts\":\"10/Oct/2000:13:55:36 -0700\","
	    "\"method\":\"GET\",\"path\":\"/a\\\\\\\"b\",\"status\":200,"
	    "\"bytes\":2326}");
	CHECK_STR(parse(re, "status=number", line),
	    "{\"ip\":\"127.0.0.1\",\"ts\":\"10/Oct/2000:13:55:36 -0700\","
	    "\"method\":\"GET\",\"path\":\"/a\\\\\\\"b\",\"status\":200,"
	    "\"bytes\":\"2326\"}");
}

TEST(lineparse_optional_and_unicode)
{
	CHECK_STR(parse("(?<a>x)?(?<b>y)", NULL, "y"), "{\"b\":\"y\"}");
	CHECK_STR(parse("(?<w>\\S+)$", NULL, "a é"), "{\"w\":\"é\"}");
	CHECK_STR(parse("(?<c>.)", NULL, "\t"), "{\"c\":\"\\t\"}");
	CHECK_STR(parse("(?<v>\\S+)", "v=bool", "true"), "{\"v\":true}");
}

TEST(lineparse_errors)
{
	CHECK_STR(parse("(?<a>\\d+)", NULL, "abc"), "no match");
	CHECK_STR(parse("(\\d+)", NULL, "1"),
	    "NEW the pattern has no named groups, e.g. (?<status>\\d+)");
	CHECK(strncmp(parse("(?<a>", NULL, "1"), "NEW missing closing "
	    "parenthesis at column", 40) == 0);
	CHECK_STR(parse("(?<a>\\w+)", "a=number", "x"),
	    "group \"a\" is not a number");
	CHECK_STR(parse("(?<a>\\w+)", "a=bool", "x"),
	    "group \"a\" is not true or false");
	CHECK_STR(parse("(?<a>\\w+)", "a=int", "x"),
	    "NEW unknown type \"int\" (string, number, bool, auto)");
	CHECK_STR(parse("(?<a>\\w+)", "b=number", "x"),
	    "NEW no group named \"b\" in the pattern");
	CHECK_STR(parse("(?<a>\\w+)", "number", "x"),
	    "NEW expected NAME=TYPE in types");
	CHECK_STR(parse("(?<a>x)|(?J)(?<a>y)", NULL, "x"),
	    "NEW group name \"a\" used twice");
}

int
main(void)
{
	RUN(kv_types);
	RUN(kv_nesting);
	RUN(kv_errors);
	RUN(kv_file);
	RUN(kv_json_depth);
	RUN(kv_output_is_valid_json);
	RUN(lineparse_groups);
	RUN(lineparse_optional_and_unicode);
	RUN(lineparse_errors);
	return t_done();
}
