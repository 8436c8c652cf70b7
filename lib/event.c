/*
 * lib/event.c - UUIDv7 ids, building CloudEvents and validating them.
 *
 * Events are written as text, not through a JSON tree: the constant
 * attributes are escaped once per stream (struct evk_envelope), so that an
 * event costs an id, a time, and memcpy of the data bytes, which keeps the
 * data exactly as the producer wrote it.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "evkit/event.h"
#include "evkit/json.h"
#include "internal.h"

/* --- ids ------------------------------------------------------------------ */

/* Randomness is fetched in blocks: one getrandom() per few hundred ids
 * instead of one per id. */
#define RAND_BLOCK 4096

struct evk_idgen {
	uint64_t last_ms;
	int seeded;
	uint32_t rand_a; /* 12 bits */
	uint64_t rand_b; /* 62 bits */
	size_t pos;
	unsigned char pool[RAND_BLOCK];
};

static void
take(struct evk_idgen *g, void *out, size_t n)
{
	if (g->pos + n > sizeof g->pool) {
		randombytes_buf(g->pool, sizeof g->pool);
		g->pos = 0;
	}
	memcpy(out, g->pool + g->pos, n);
	sodium_memzero(g->pool + g->pos, n);
	g->pos += n;
}

struct evk_idgen *
evk_idgen_new(void)
{
	struct evk_idgen *g;

	if (sodium_init() < 0)
		return NULL;
	if ((g = calloc(1, sizeof *g)) == NULL)
		return NULL;
	g->pos = sizeof g->pool; /* empty: first take() refills */
	return g;
}

void
evk_idgen_free(struct evk_idgen *g)
{
	if (g == NULL)
		return;
	sodium_memzero(g, sizeof *g);
	free(g);
}

static void
reseed(struct evk_idgen *g)
{
	unsigned char r[10];
	uint64_t b = 0;

	take(g, r, sizeof r);
	g->rand_a = ((uint32_t)r[0] << 8 | r[1]) & 0xfff;
	for (int i = 2; i < 10; i++)
		b = b << 8 | r[i];
	g->rand_b = b & ((UINT64_C(1) << 62) - 1);
}

void
evk_idgen_next(struct evk_idgen *g, uint64_t unix_ms, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char u[16];
	int i, o;

	unix_ms &= (UINT64_C(1) << 48) - 1;
	if (unix_ms > g->last_ms || !g->seeded) {
		g->last_ms = unix_ms;
		g->seeded = 1;
		reseed(g);
	} else {
		/* Same millisecond or a clock step back: keep the last time
		 * and add a random amount to the 74-bit random field, so ids
		 * stay ordered yet the next one cannot be guessed. */
		uint32_t step;
		take(g, &step, sizeof step);
		g->rand_b += (uint64_t)(step >> 1) + 1;
		if (g->rand_b >> 62) {
			g->rand_b &= (UINT64_C(1) << 62) - 1;
			if (++g->rand_a > 0xfff) {
				/* Field exhausted: borrow the next ms. */
				g->last_ms++;
				reseed(g);
			}
		}
	}
	for (i = 0; i < 6; i++)
		u[i] = (unsigned char)(g->last_ms >> (40 - 8 * i));
	u[6] = (unsigned char)(0x70 | (g->rand_a >> 8));
	u[7] = (unsigned char)g->rand_a;
	u[8] = (unsigned char)(0x80 | ((g->rand_b >> 56) & 0x3f));
	for (i = 9; i < 16; i++)
		u[i] = (unsigned char)(g->rand_b >> (8 * (15 - i)));
	for (i = 0, o = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[u[i] >> 4];
		out[o++] = hex[u[i] & 15];
	}
	out[o] = '\0';
}

/* --- building ---------------------------------------------------------------- */

struct evk_envelope {
	struct evk_buf mid; /* ","source":S,"type":T[,"subject":U],"time":" */
	struct evk_buf tail; /* "[,"datacontenttype":D] */
	struct evk_buf source; /* escaped, with quotes; empty when none */
	struct evk_buf type; /* escaped, with quotes; empty when none */
};

static const char HEAD[] = "{\"specversion\":\"1.0\",\"id\":\"";

/* Appends `"name":` and the escaped value. */
static int
add_attr(struct evk_buf *b, const char *name, const char *v,
    struct evk_err *err)
{
	size_t bad;

	if (*v == '\0')
		return evk__err(err, EVK_EINVAL, 0, "empty %s", name);
	if (evk_utf8_check(v, strlen(v), &bad) < 0)
		return evk__err(err, EVK_EINVAL, bad + 1, "%s: invalid UTF-8",
		    name);
	if (evk_buf_adds(b, ",\"") < 0 || evk_buf_adds(b, name) < 0 ||
	    evk_buf_adds(b, "\":") < 0 || evk_json_escape(b, v, strlen(v)) < 0)
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	return 0;
}

struct evk_envelope *
evk_envelope_new(const struct evk_envelope_attrs *a, struct evk_err *err)
{
	struct evk_envelope *e;
	int rc = 0;

	if ((e = calloc(1, sizeof *e)) == NULL) {
		evk__err(err, EVK_ENOMEM, 0, "out of memory");
		return NULL;
	}
	rc = evk_buf_adds(&e->mid, "\"");
	if (rc == 0 && a->source != NULL) {
		rc = add_attr(&e->mid, "source", a->source, err);
		if (rc == 0)
			rc = evk_json_escape(&e->source, a->source,
			    strlen(a->source));
	}
	if (rc == 0 && a->type != NULL) {
		rc = add_attr(&e->mid, "type", a->type, err);
		if (rc == 0)
			rc =
			    evk_json_escape(&e->type, a->type, strlen(a->type));
	}
	if (rc == 0 && a->subject != NULL)
		rc = add_attr(&e->mid, "subject", a->subject, err);
	if (rc == 0)
		rc = evk_buf_adds(&e->mid, ",\"time\":\"");
	if (rc == 0)
		rc = evk_buf_adds(&e->tail, "\"");
	if (rc == 0 && a->datacontenttype != NULL)
		rc = add_attr(&e->tail, "datacontenttype", a->datacontenttype,
		    err);
	if (rc < 0) {
		if (rc == EVK_ENOMEM)
			evk__err(err, rc, 0, "out of memory");
		evk_envelope_free(e);
		return NULL;
	}
	return e;
}

void
evk_envelope_free(struct evk_envelope *e)
{
	if (e == NULL)
		return;
	evk_buf_free(&e->mid);
	evk_buf_free(&e->tail);
	evk_buf_free(&e->source);
	evk_buf_free(&e->type);
	free(e);
}

/* The id and time of a new event, as text. */
static int
stamp(struct evk_idgen *ids, const struct evk_time *t, char *id, char *ts)
{
	struct evk_time now;
	int n;

	if (t == NULL) {
		evk_time_now(&now);
		t = &now;
	}
	if ((n = evk_time_format(ts, t, 6, 1)) < 0)
		return n;
	evk_idgen_next(ids,
	    t->sec < 0 ? 0
	               : (uint64_t)t->sec * 1000 + (uint64_t)t->nsec / 1000000,
	    id);
	return n;
}

int
evk_envelope_write(const struct evk_envelope *e, struct evk_idgen *ids,
    const struct evk_time *t, const char *data, size_t datalen,
    struct evk_buf *out)
{
	char id[EVK_UUID_LEN], ts[EVK_TIME_MAXLEN];
	int n;

	if (e->type.len == 0 || e->source.len == 0)
		return EVK_EINVAL;
	if ((n = stamp(ids, t, id, ts)) < 0)
		return n;
	if (evk_buf_reserve(out,
	        sizeof HEAD + EVK_UUID_LEN + e->mid.len + (size_t)n +
	            e->tail.len + datalen + 16) < 0)
		return EVK_ENOMEM;
	/* Room is reserved: the adds below cannot fail. */
	evk_buf_add(out, HEAD, sizeof HEAD - 1);
	evk_buf_add(out, id, EVK_UUID_LEN - 1);
	evk_buf_add(out, e->mid.p, e->mid.len);
	evk_buf_add(out, ts, (size_t)n);
	evk_buf_add(out, e->tail.p, e->tail.len);
	if (data != NULL) {
		evk_buf_add(out, ",\"data\":", 8);
		evk_buf_add(out, data, datalen);
	}
	evk_buf_add(out, "}", 1);
	return 0;
}

int
evk_envelope_complete(const struct evk_envelope *e, struct evk_idgen *ids,
    const struct evk_time *t, struct evk_span obj, struct evk_buf *out)
{
	struct evk_json_iter it;
	struct evk_span k, v;
	int has_id = 0, has_source = 0, has_type = 0, has_time = 0, added = 0;
	char id[EVK_UUID_LEN], ts[EVK_TIME_MAXLEN];
	const char *brace;
	struct evk_buf add = EVK_BUF_ZERO;
	int n, rc = 0;

	evk_json_iter_init(&it, obj);
	while (evk_json_iter_next(&it, &k, &v)) {
		has_id |= evk_json_key_eq(k, "id", 2);
		has_source |= evk_json_key_eq(k, "source", 6);
		has_type |= evk_json_key_eq(k, "type", 4);
		has_time |= evk_json_key_eq(k, "time", 4);
	}
	if (has_id && has_time && (has_source || !e->source.len) &&
	    (has_type || !e->type.len))
		return evk_buf_add(out, obj.p, obj.len);
	if ((n = stamp(ids, t, id, ts)) < 0)
		return n;
#define ADD(s, len) \
	do { \
		if (rc == 0) \
			rc = evk_buf_add(&add, s, len); \
	} while (0)
	if (!has_id) {
		ADD("\"id\":\"", 6);
		ADD(id, EVK_UUID_LEN - 1);
		ADD("\",", 2);
		added++;
	}
	if (!has_source && e->source.len) {
		ADD("\"source\":", 9);
		ADD(e->source.p, e->source.len);
		ADD(",", 1);
		added++;
	}
	if (!has_type && e->type.len) {
		ADD("\"type\":", 7);
		ADD(e->type.p, e->type.len);
		ADD(",", 1);
		added++;
	}
	if (!has_time) {
		ADD("\"time\":\"", 8);
		ADD(ts, (size_t)n);
		ADD("\",", 2);
		added++;
	}
#undef ADD
	/* Splice after the "{" of the object; the object has at least the
	 * specversion member, so a "," always fits after the additions. */
	brace = memchr(obj.p, '{', obj.len);
	if (rc == 0 && brace != NULL) {
		size_t head = (size_t)(brace - obj.p) + 1;
		rc = evk_buf_add(out, obj.p, head);
		if (rc == 0)
			rc = evk_buf_add(out, add.p, add.len);
		if (rc == 0)
			rc = evk_buf_add(out, obj.p + head, obj.len - head);
	}
	evk_buf_free(&add);
	return rc < 0 ? rc : added;
}

/* Nonzero when `p[0..n)` holds `s[0..k)` (k >= 2) with s[a] at a byte
 * that memchr() finds quickly: glibc's memmem() is several times slower
 * than memchr() on the short lines we search. */
static int
has(const char *p, size_t n, const char *s, size_t k, size_t a)
{
	const char *q = p + a, *end = p + n - (k - a) + 1;

	if (n < k)
		return 0;
	while (q < end && (q = memchr(q, s[a], (size_t)(end - q))) != NULL) {
		if (!memcmp(q - a, s, k))
			return 1;
		q++;
	}
	return 0;
}

int
evk_event_is_cloudevent(struct evk_span obj)
{
	struct evk_span v;

	/* 'v' is rare in JSON text, '\\' too. */
	if (!has(obj.p, obj.len, "specversion", 11, 4) &&
	    !has(obj.p, obj.len, "\\u", 2, 0))
		return 0;
	return evk_json_type_of(obj) == EVK_JSON_OBJECT &&
	    evk_json_get(obj, "specversion", 11, &v);
}

/* --- validation ------------------------------------------------------------ */

/* The content of a checked JSON string: a span inside the text when it has
 * no escapes, else unescaped into `scratch`. */
static int
str_of(struct evk_span s, struct evk_buf *scratch, struct evk_span *out)
{
	if (memchr(s.p, '\\', s.len) == NULL) {
		out->p = s.p + 1;
		out->len = s.len - 2;
		return 0;
	}
	evk_buf_reset(scratch);
	if (evk_json_unescape(s, scratch) < 0)
		return EVK_ENOMEM;
	out->p = scratch->p;
	out->len = scratch->len;
	return 0;
}

static int
is_base64(const char *p, size_t n)
{
	size_t i, pad = 0;

	if (n % 4 != 0)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '=' && i >= n - 2) {
			pad++;
			continue;
		}
		if (pad ||
		    !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		        (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return 0;
	}
	return 1;
}

/* A JSON number that is an integer in -2^31..2^31-1 (CloudEvents Integer). */
static int
is_int32(struct evk_span v)
{
	long long x = 0;
	size_t i = v.p[0] == '-';

	if (i == v.len || v.len - i > 10)
		return 0;
	for (; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return 0;
		x = x * 10 + (v.p[i] - '0');
	}
	if (v.p[0] == '-')
		x = -x;
	return x >= INT32_MIN && x <= INT32_MAX;
}

enum { REQ_SPECVERSION = 1, REQ_ID = 2, REQ_SOURCE = 4, REQ_TYPE = 8 };

static int
validate_member(struct evk_span name, struct evk_span v, unsigned *seen,
    struct evk_buf *scratch, struct evk_err *err)
{
	static const struct {
		const char *name;
		unsigned req;
	} strs[] = {
	    {"specversion", REQ_SPECVERSION},
	    {"id", REQ_ID},
	    {"source", REQ_SOURCE},
	    {"type", REQ_TYPE},
	    {"subject", 0},
	    {"datacontenttype", 0},
	    {"dataschema", 0},
	    {"time", 0},
	};
	enum evk_json_type t = evk_json_type_of(v);
	struct evk_span s;
	size_t i;

#define IS(lit) (name.len == sizeof(lit) - 1 && !memcmp(name.p, lit, name.len))
	if (IS("data"))
		return 0;
	if (IS("data_base64")) {
		if (t == EVK_JSON_NULL)
			return 0;
		if (t != EVK_JSON_STRING || str_of(v, scratch, &s) < 0 ||
		    !is_base64(s.p, s.len))
			return evk__err(err, EVK_EEVENT, 0,
			    "data_base64 is not a base64 string");
		return 0;
	}
#undef IS
	for (i = 0; i < name.len; i++)
		if (!((name.p[i] >= 'a' && name.p[i] <= 'z') ||
		        (name.p[i] >= '0' && name.p[i] <= '9')))
			break;
	if (name.len == 0 || i < name.len ||
	    evk_utf8_check(name.p, name.len, NULL) < 0)
		return evk__err(err, EVK_EEVENT, 0,
		    "attribute name \"%.*s\" is "
		    "not lowercase a-z0-9",
		    (int)(name.len > 40 ? 40 : name.len),
		    evk_utf8_check(name.p, name.len, NULL) < 0 ? "?" : name.p);
	for (i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		if (strlen(strs[i].name) != name.len ||
		    memcmp(strs[i].name, name.p, name.len))
			continue;
		if (t == EVK_JSON_NULL && !strs[i].req)
			return 0; /* null: the attribute is not set */
		if (t != EVK_JSON_STRING)
			return evk__err(err, EVK_EEVENT, 0,
			    "attribute \"%s\" is not a string", strs[i].name);
		if (str_of(v, scratch, &s) < 0)
			return evk__err(err, EVK_ENOMEM, 0, "out of memory");
		if (s.len == 0 && strs[i].req)
			return evk__err(err, EVK_EEVENT, 0,
			    "attribute \"%s\" is empty", strs[i].name);
		if (strs[i].req == REQ_SPECVERSION &&
		    (s.len != 3 || memcmp(s.p, "1.0", 3)))
			return evk__err(err, EVK_EEVENT, 0,
			    "specversion is not \"1.0\"");
		if (!strcmp(strs[i].name, "time")) {
			struct evk_err te = EVK_ERR_ZERO;
			struct evk_time tm;
			if (evk_time_parse(s.p, s.len, &tm, &te) < 0)
				return evk__err(err, EVK_EEVENT, 0,
				    "attribute \"time\": %s", te.msg);
		}
		*seen |= strs[i].req;
		return 0;
	}
	/* An extension attribute. */
	if (t == EVK_JSON_NULL || t == EVK_JSON_STRING || t == EVK_JSON_TRUE ||
	    t == EVK_JSON_FALSE || (t == EVK_JSON_NUMBER && is_int32(v)))
		return 0;
	return evk__err(err, EVK_EEVENT, 0,
	    "attribute \"%.*s\" is not a string, "
	    "boolean or 32-bit integer",
	    (int)name.len, name.p);
}

int
evk_event_validate(struct evk_span obj, struct evk_err *err)
{
	static const char *const req[] = {"specversion", "id", "source",
	    "type"};
	struct evk_buf scratch = EVK_BUF_ZERO, kbuf = EVK_BUF_ZERO;
	struct evk_json_iter it;
	struct evk_span k, v, name;
	unsigned seen = 0;
	int data = 0, rc = 0, i;

	if (evk_json_type_of(obj) != EVK_JSON_OBJECT)
		return evk__err(err, EVK_EEVENT, 0, "not a JSON object");
	evk_json_iter_init(&it, obj);
	while (rc == 0 && evk_json_iter_next(&it, &k, &v)) {
		if (str_of(k, &kbuf, &name) < 0) {
			rc = evk__err(err, EVK_ENOMEM, 0, "out of memory");
			break;
		}
		if (evk_json_key_eq(k, "data", 4) ||
		    evk_json_key_eq(k, "data_base64", 11)) {
			if (evk_json_type_of(v) != EVK_JSON_NULL && data++)
				rc = evk__err(err, EVK_EEVENT, 0,
				    "both data and data_base64");
		}
		if (rc == 0)
			rc = validate_member(name, v, &seen, &scratch, err);
	}
	for (i = 0; rc == 0 && i < 4; i++)
		if (!(seen & (1u << i)))
			rc = evk__err(err, EVK_EEVENT, 0,
			    "missing attribute \"%s\"", req[i]);
	evk_buf_free(&scratch);
	evk_buf_free(&kbuf);
	return rc;
}

int
evk_event_time_at(struct evk_span v, const char *path, struct evk_time *t,
    struct evk_err *err)
{
	struct evk_buf scratch = EVK_BUF_ZERO;
	const char *seg = path, *dot;
	struct evk_span s;
	int rc;

	for (;; seg = dot + 1) {
		dot = strchr(seg, '.');
		if (dot == NULL)
			dot = seg + strlen(seg);
		if (!evk_json_get(v, seg, (size_t)(dot - seg), &v))
			return evk__err(err, EVK_ENOMATCH, 0, "no field \"%s\"",
			    path);
		if (*dot == '\0')
			break;
	}
	switch (evk_json_type_of(v)) {
	case EVK_JSON_NUMBER: return evk_time_from_epoch(v.p, v.len, t, err);
	case EVK_JSON_STRING:
		if (str_of(v, &scratch, &s) < 0)
			return evk__err(err, EVK_ENOMEM, 0, "out of memory");
		if (evk_json_is_number(s.p, s.len))
			rc = evk_time_from_epoch(s.p, s.len, t, err);
		else
			rc = evk_time_parse(s.p, s.len, t, err);
		evk_buf_free(&scratch);
		return rc;
	default:
		return evk__err(err, EVK_ETIME, 0, "field \"%s\" is not a time",
		    path);
	}
}
