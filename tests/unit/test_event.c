/*
 * Unit tests of lib/event.c: UUIDv7 ids, envelopes, validation (against the
 * CloudEvents vectors), time fields.  Topics are in test_topic.c.
 */
#include <dirent.h>

#include "evkit/event.h"
#include "evkit/json.h"
#include "t.h"

static struct evk_json_checker *jc;

static struct evk_span
span(const char *s)
{
	struct evk_span v = {s, strlen(s)};
	return v;
}

/* Checks JSON then validates as an event; returns the validate code. */
static int
validate(const char *s, struct evk_err *err)
{
	if (evk_json_check(jc, s, strlen(s), NULL, err) < 0)
		return -100;
	return evk_event_validate(span(s), err);
}

static int
is_uuidv7(const char *id)
{
	static const char hex[] = "0123456789abcdef";
	int i;

	if (strlen(id) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (id[i] != '-')
				return 0;
		} else if (strchr(hex, id[i]) == NULL || id[i] == '\0') {
			return 0;
		}
	}
	return id[14] == '7' && strchr("89ab", id[19]) != NULL;
}

TEST(uuidv7_format_and_time)
{
	struct evk_idgen *g = evk_idgen_new();
	char id[EVK_UUID_LEN];

	evk_idgen_next(g, UINT64_C(0x017F22E279B0), id);
	CHECK(is_uuidv7(id));
	/* The RFC 9562 example time 2022-02-22T19:22:22Z = 0x017F22E279B0 ms. */
	CHECK_MEM(id, 13, "017f22e2-79b0", 13);
	evk_idgen_free(g);
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

TEST(uuidv7_unique_and_ordered)
{
	/* 200000 ids, many within one millisecond and some with the clock
	 * going back: strictly increasing as text, hence unique. */
	struct evk_idgen *g = evk_idgen_new();
	char prev[EVK_UUID_LEN] = "", id[EVK_UUID_LEN];
	uint64_t ms = 1700000000000ULL;
	int ok = 1, i;

	for (i = 0; i < 200000; i++) {
		if (i % 1000 == 0)
			ms += 1;
		if (i == 150000)
			ms -= 5000; /* clock stepped back */
		evk_idgen_next(g, ms, id);
		ok &= is_uuidv7(id) && strcmp(prev, id) < 0;
		memcpy(prev, id, sizeof id);
	}
	CHECK(ok);
	evk_idgen_free(g);
}

TEST(uuidv7_two_generators_differ)
{
	struct evk_idgen *a = evk_idgen_new(), *b = evk_idgen_new();
	char ia[EVK_UUID_LEN], ib[EVK_UUID_LEN];
	char *all[2000];
	int i, dup = 0;

	for (i = 0; i < 1000; i++) {
		evk_idgen_next(a, 42, ia);
		evk_idgen_next(b, 42, ib);
		all[2 * i] = strdup(ia);
		all[2 * i + 1] = strdup(ib);
	}
	qsort(all, 2000, sizeof all[0], cmpstr);
	for (i = 1; i < 2000; i++)
		dup += !strcmp(all[i - 1], all[i]);
	CHECK_INT(dup, 0);
	for (i = 0; i < 2000; i++)
		free(all[i]);
	evk_idgen_free(a);
	evk_idgen_free(b);
}

TEST(envelope_writes_valid_events)
{
	struct evk_envelope_attrs a = {"//host/evpub", "order.created",
	    "sub \"1\"", "application/json"};
	struct evk_envelope *e = evk_envelope_new(&a, NULL);
	struct evk_idgen *g = evk_idgen_new();
	struct evk_buf out = EVK_BUF_ZERO;
	struct evk_time t = {1700000000, 123456789, 0};
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_span v;
	const char *tail;

	CHECK(e != NULL);
	CHECK_INT(evk_envelope_write(e, g, &t, "{\"a\":1}", 7, &out), 0);
	CHECK(strncmp(out.p, "{\"specversion\":\"1.0\",\"id\":\"", 27) == 0);
	tail = out.p + 27 + 36;
	CHECK_STR(tail, "\",\"source\":\"//host/evpub\",\"type\":\"order.created\","
	    "\"subject\":\"sub \\\"1\\\"\",\"time\":\"2023-11-14T22:13:20.123456Z\","
	    "\"datacontenttype\":\"application/json\",\"data\":{\"a\":1}}");
	CHECK_INT(validate(out.p, &err), 0);
	CHECK(evk_json_get(span(out.p), "id", 2, &v));
	evk_buf_reset(&out);
	/* Without data and with the current time. */
	CHECK_INT(evk_envelope_write(e, g, NULL, NULL, 0, &out), 0);
	CHECK(strstr(out.p, "\"data\"") == NULL);
	CHECK_INT(validate(out.p, &err), 0);
	evk_buf_free(&out);
	evk_envelope_free(e);
	evk_idgen_free(g);
}

TEST(envelope_rejects_bad_attrs)
{
	struct evk_envelope_attrs a = {"", "t", NULL, NULL};
	struct evk_err err = EVK_ERR_ZERO;

	CHECK(evk_envelope_new(&a, &err) == NULL);
	CHECK_STR(err.msg, "empty source");
	a.source = "s";
	a.type = "bad\xff";
	CHECK(evk_envelope_new(&a, &err) == NULL);
	CHECK_STR(err.msg, "type: invalid UTF-8");
}

TEST(envelope_complete)
{
	struct evk_envelope_attrs a = {"//h/evpub", "x.y", NULL, NULL};
	struct evk_envelope *e = evk_envelope_new(&a, NULL);
	struct evk_idgen *g = evk_idgen_new();
	struct evk_buf out = EVK_BUF_ZERO;
	struct evk_time t = {0, 0, 0};
	const char *full = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\","
	    "\"type\":\"t\",\"time\":\"2020-01-01T00:00:00Z\"}";

	/* Nothing missing: the exact bytes. */
	CHECK_INT(evk_envelope_complete(e, g, &t, span(full), &out), 0);
	CHECK_STR(out.p, full);
	evk_buf_reset(&out);
	/* Missing id, source, time: added after "{", own bytes kept. */
	CHECK_INT(evk_envelope_complete(e, g, &t,
	    span(" { \"specversion\" : \"1.0\", \"type\":\"t\" }"), &out), 3);
	CHECK(strncmp(out.p, " {\"id\":\"", 8) == 0);
	CHECK(strstr(out.p, "\",\"source\":\"//h/evpub\",\"time\":"
	    "\"1970-01-01T00:00:00.000000Z\", \"specversion\" : \"1.0\", "
	    "\"type\":\"t\" }") != NULL);
	CHECK_INT(validate(out.p, NULL), 0);
	evk_buf_free(&out);
	evk_envelope_free(e);
	evk_idgen_free(g);
}

/* Every file of a vector directory must validate (want 0) or fail. */
static void
vector_dir(const char *sub, int want_ok)
{
	char dir[512], path[1024], name[600];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof dir, "%s/cloudevents/%s", t_vectors(), sub);
	if ((d = opendir(dir)) == NULL) {
		t_result(0, dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct evk_err err = EVK_ERR_ZERO;
		size_t n;
		char *s;
		int rc;

		if (strstr(de->d_name, ".json") == NULL ||
		    strncmp(de->d_name, "batch-", 6) == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		s = t_slurp(path, &n);
		rc = s ? validate(s, &err) : -1;
		/* The spec example 01 holds a placeholder that is not base64. */
		if (!strcmp(de->d_name, "01-binary-data_base64-placeholder.json"))
			rc = rc == EVK_EEVENT && strstr(err.msg, "base64") ? 0 : -1;
		snprintf(name, sizeof name, "cloudevents %s/%s %s (%s)", sub,
		    de->d_name, want_ok ? "valid" : "rejected",
		    rc ? err.msg : "ok");
		t_result(want_ok ? rc == 0 : rc == EVK_EEVENT, name);
		free(s);
	}
	closedir(d);
}

TEST(validate_rules)
{
	static const struct {
		const char *json, *msg; /* msg NULL: valid */
	} cases[] = {
		{"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\"}", NULL},
		{"{\"id\":\"1\",\"source\":\"s\",\"type\":\"t\"}",
		    "missing attribute \"specversion\""},
		{"{\"specversion\":\"0.3\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\"}",
		    "specversion is not \"1.0\""},
		{"{\"specversion\":\"1.0\",\"id\":1,\"source\":\"s\",\"type\":\"t\"}",
		    "attribute \"id\" is not a string"},
		{"{\"specversion\":\"1.0\",\"id\":\"\",\"source\":\"s\",\"type\":\"t\"}",
		    "attribute \"id\" is empty"},
		{"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\"}",
		    "missing attribute \"type\""},
		{"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"time\":\"yesterday\"}",
		    "attribute \"time\":"},
		{"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"time\":null}", NULL},
		{"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"Ext\":1}",
		    "attribute name \"Ext\" is not lowercase a-z0-9"},
		{"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"e\":[1]}",
		    "attribute \"e\" is not a string, boolean or 32-bit integer"},
		{"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"e\":2147483647}", NULL},
		{"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"e\":-2147483648}", NULL},
		{"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"e\":2147483648}",
		    "not a string, boolean or 32-bit integer"},
		{"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"data\":1,\"data_base64\":\"AA==\"}",
		    "both data and data_base64"},
		{"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"data_base64\":\"AA=\"}",
		    "data_base64 is not a base64 string"},
		{"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"data_base64\":\"AAAA\"}", NULL},
		{"{\"spec\\u0076ersion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\"}", NULL},
		{"[1]", "not a JSON object"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct evk_err err = EVK_ERR_ZERO;
		int rc = validate(cases[i].json, &err);
		if (cases[i].msg == NULL) {
			CHECK_INT(rc, 0);
			if (rc)
				printf("#   %s: %s\n", cases[i].json, err.msg);
		} else {
			CHECK_INT(rc, EVK_EEVENT);
			if (strstr(err.msg, cases[i].msg) == NULL) {
				printf("#   got \"%s\", want \"%s\"\n", err.msg,
				    cases[i].msg);
				CHECK(0);
			}
		}
	}
}

TEST(is_cloudevent)
{
	CHECK(evk_event_is_cloudevent(span("{\"specversion\":\"1.0\"}")));
	CHECK(evk_event_is_cloudevent(span("{\"a\":1, \"spec\\u0076ersion\":2}")));
	CHECK(!evk_event_is_cloudevent(span("{\"a\":\"specversion\"}")));
	CHECK(!evk_event_is_cloudevent(span("{\"a\":{\"specversion\":1}}")));
	CHECK(!evk_event_is_cloudevent(span("{\"a\":\"\\u0041\"}")));
	CHECK(!evk_event_is_cloudevent(span("[\"specversion\"]")));
	CHECK(!evk_event_is_cloudevent(span("{}")));
	CHECK(!evk_event_is_cloudevent(span("\"specversion\"")));
}

TEST(time_at)
{
	struct evk_time t;
	struct evk_err err = EVK_ERR_ZERO;

	CHECK_INT(evk_event_time_at(span("{\"ts\":1700000000}"), "ts", &t, &err), 0);
	CHECK_INT(t.sec, 1700000000);
	CHECK_INT(evk_event_time_at(span("{\"ts\":1700000000123}"), "ts", &t, &err), 0);
	CHECK_INT(t.sec, 1700000000);
	CHECK_INT(t.nsec, 123000000);
	CHECK_INT(evk_event_time_at(span("{\"m\":{\"t\":\"2020-01-01T01:00:00+01:00\"}}"),
	    "m.t", &t, &err), 0);
	CHECK_INT(t.sec, 1577836800);
	CHECK_INT(evk_event_time_at(span("{\"ts\":\"1700000000\"}"), "ts", &t, &err), 0);
	CHECK_INT(t.sec, 1700000000);
	CHECK_INT(evk_event_time_at(span("{\"ts\":1}"), "x", &t, &err), EVK_ENOMATCH);
	CHECK_STR(err.msg, "no field \"x\"");
	CHECK_INT(evk_event_time_at(span("{\"ts\":true}"), "ts", &t, &err), EVK_ETIME);
	CHECK_INT(evk_event_time_at(span("{\"ts\":\"soon\"}"), "ts", &t, &err), EVK_ETIME);
}

int
main(void)
{
	jc = evk_json_checker_new(NULL);
	RUN(uuidv7_format_and_time);
	RUN(uuidv7_unique_and_ordered);
	RUN(uuidv7_two_generators_differ);
	RUN(envelope_writes_valid_events);
	RUN(envelope_rejects_bad_attrs);
	RUN(envelope_complete);
	RUN(validate_rules);
	vector_dir("sdk-java/valid", 1);
	vector_dir("sdk-java/invalid", 0);
	vector_dir("sdk-java/lenient", 0);
	vector_dir("spec-examples", 1);
	RUN(is_cloudevent);
	RUN(time_at);
	evk_json_checker_free(jc);
	return t_done();
}
