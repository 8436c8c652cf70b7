/*
 * lib/route.c - routing rules "RULE -> DEST": parsing them, matching events
 * against them, and the file names of templated destinations.
 *
 * The rules themselves are evfilter's: a topic pattern becomes
 * evk_expr_topic(), an expression evk_expr_compile(), so that a rule means
 * in evroute exactly what it means in evfilter.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evkit/expr.h"
#include "evkit/json.h"
#include "evkit/route.h"
#include "evkit/topic.h"
#include "internal.h"

/* A piece of a file: template: literal bytes, or a field path whose
 * segments ("data", "region") are looked up one inside the other. */
struct part {
	const char *p; /* literal bytes, or the path's first byte */
	size_t len;
	int field;
};

struct evk_routes;

struct dest {
	struct evk_dest pub;
	struct evk_routes *rt; /* its table: the event's "type", looked up */
	char *mem; /* text and arg, NUL-terminated, one allocation */
	struct part *parts; /* file: only */
	size_t nparts;
	uint64_t
	    stamp; /* == the routes' stamp: already chosen for this event */
};

struct rule {
	struct evk_expr *e; /* NULL: "*", every event */
	char *topic; /* a topic pattern's text (e is its evk_expr_topic()) */
	size_t topiclen;
	size_t dest;
};

struct evk_routes {
	struct rule *rules;
	size_t nrules, caprules;
	struct dest **dests;
	size_t ndests, capdests;
	size_t else_dest; /* SIZE_MAX: none */
	uint64_t stamp;
	/*
	 * The event's "type", looked up once per event for every topic
	 * rule and template that needs it: `ev` is the event it is of,
	 * `type` the string's bytes without quotes when it is a string
	 * without escapes (type_ok 1); type_ok 0 when it is missing or not
	 * a string (no topic matches), -1 when it has escapes (the topic
	 * expression decides, as in evfilter).
	 */
	struct evk_span ev, type;
	int type_ok;
};

struct evk_routes *
evk_routes_new(void)
{
	struct evk_routes *rt = calloc(1, sizeof *rt);

	if (rt != NULL)
		rt->else_dest = SIZE_MAX;
	return rt;
}

static void
dest_free(struct dest *d)
{
	if (d == NULL)
		return;
	free(d->mem);
	free(d->parts);
	free(d);
}

void
evk_routes_free(struct evk_routes *rt)
{
	size_t i;

	if (rt == NULL)
		return;
	for (i = 0; i < rt->nrules; i++) {
		evk_expr_free(rt->rules[i].e);
		free(rt->rules[i].topic);
	}
	for (i = 0; i < rt->ndests; i++)
		dest_free(rt->dests[i]);
	free(rt->rules);
	free(rt->dests);
	free(rt);
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static int
is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '$' || c == '-';
}

/*
 * A template: literal runs and {field.path} fields; "{{" and "}}" are a
 * literal brace.  The parts point into `s` (the destination's own copy).
 * `col0` is the column of s[0] in the line, for errors.
 */
static int
parse_template(struct dest *d, const char *s, size_t n, size_t col0,
    struct evk_err *err)
{
	size_t i = 0, start, cap = 4;
	struct part *pt;

	if ((d->parts = malloc(cap * sizeof *d->parts)) == NULL)
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	while (i < n) {
		struct part x = {s + i, 0, 0};
		if (s[i] == '{' && i + 1 < n && s[i + 1] == '{') {
			x.len = 1;
			i += 2;
		} else if (s[i] == '}' && i + 1 < n && s[i + 1] == '}') {
			x.p = s + i + 1;
			x.len = 1;
			i += 2;
		} else if (s[i] == '}') {
			return evk__err(err, EVK_EINVAL, col0 + i,
			    "unmatched '}' in file name (write '}}' for a "
			    "brace)");
		} else if (s[i] == '{') {
			start = ++i;
			while (i < n && s[i] != '}') {
				if (s[i] == '.'
				        ? (i == start || s[i - 1] == '.')
				        : !is_name_char(s[i]))
					return evk__err(err, EVK_EINVAL,
					    col0 + i,
					    "invalid field path in '{...}' "
					    "(names separated by '.')");
				i++;
			}
			if (i == n)
				return evk__err(err, EVK_EINVAL,
				    col0 + start - 1,
				    "unterminated '{' in file name");
			if (i == start || s[i - 1] == '.')
				return evk__err(err, EVK_EINVAL, col0 + i,
				    "empty field name in '{...}'");
			x.p = s + start;
			x.len = i - start;
			x.field = 1;
			i++;
			d->pub.templated = 1;
		} else {
			while (i < n && s[i] != '{' && s[i] != '}')
				i++;
			x.len = (size_t)(s + i - x.p);
		}
		if (d->nparts == cap) {
			cap *= 2;
			if ((pt = realloc(d->parts, cap * sizeof *pt)) == NULL)
				return evk__err(err, EVK_ENOMEM, 0,
				    "out of memory");
			d->parts = pt;
		}
		d->parts[d->nparts++] = x;
	}
	return 0;
}

static const char dest_kinds[] =
    "stdout, stderr, null, fd:N, file:PATH, unix:PATH, bus:URL or "
    "exec:COMMAND";

/*
 * Parses the destination `s[0..n)` (trimmed) into a new dest.  `col0` is
 * the 1-based column of s[0], for errors.
 */
static int
parse_dest(const char *s, size_t n, size_t col0, struct dest **out,
    struct evk_err *err)
{
	static const struct {
		const char *name;
		enum evk_dest_kind kind;
	} kinds[] = {
	    {"fd:", EVK_DEST_FD},
	    {"file:", EVK_DEST_FILE},
	    {"unix:", EVK_DEST_UNIX},
	    {"bus:", EVK_DEST_BUS},
	    {"exec:", EVK_DEST_EXEC},
	};
	struct dest *d;
	size_t i, k, plen = 0;
	const char *arg;
	int rc;

	*out = NULL;
	if ((d = calloc(1, sizeof *d)) == NULL ||
	    (d->mem = malloc(2 * n + 2)) == NULL) {
		dest_free(d);
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	}
	memcpy(d->mem, s, n);
	d->mem[n] = '\0';
	d->pub.text = d->mem;
	d->pub.arg = d->mem + n; /* "" */
	if (n == 6 && !memcmp(s, "stdout", 6))
		d->pub.kind = EVK_DEST_STDOUT;
	else if (n == 6 && !memcmp(s, "stderr", 6))
		d->pub.kind = EVK_DEST_STDERR;
	else if (n == 4 && !memcmp(s, "null", 4))
		d->pub.kind = EVK_DEST_NULL;
	for (k = 0; d->pub.kind == 0 && k < sizeof kinds / sizeof kinds[0];
	     k++) {
		plen = strlen(kinds[k].name);
		if (n >= plen && !memcmp(s, kinds[k].name, plen))
			d->pub.kind = kinds[k].kind;
	}
	if (d->pub.kind == 0) {
		/* Its name as far as the ':', printable: a message is shown
		 * on a terminal, whatever the rule held. */
		char name[44];
		for (i = 0; i < n && i < 40 && s[i] != ':' && !is_blank(s[i]);
		     i++)
			name[i] = s[i] > 0x20 && s[i] < 0x7f ? s[i] : '?';
		if (i < n && s[i] == ':')
			name[i++] = ':';
		name[i] = '\0';
		rc = evk__err(err, EVK_EINVAL, col0,
		    "unknown destination '%s' (%s)", name, dest_kinds);
		goto fail;
	}
	/* The argument, its own NUL-terminated copy after the text. */
	if (d->pub.kind <= EVK_DEST_NULL)
		plen = n;
	arg = d->mem + n + 1;
	memcpy((char *)arg, s + plen, n - plen);
	((char *)arg)[n - plen] = '\0';
	d->pub.arg = arg;
	n -= plen;
	col0 += plen;
	switch (d->pub.kind) {
	case EVK_DEST_FD: {
		long v = 0;
		for (i = 0; i < n && i < 8; i++) {
			if (arg[i] < '0' || arg[i] > '9')
				break;
			v = v * 10 + (arg[i] - '0');
		}
		if (n == 0 || i != n || v < 1 || v > 1048576) {
			rc = evk__err(err, EVK_EINVAL, col0,
			    "fd:N needs a descriptor number from 1 to "
			    "1048576");
			goto fail;
		}
		d->pub.fd = (int)v;
		break;
	}
	case EVK_DEST_FILE:
		if (n == 0) {
			rc = evk__err(err, EVK_EINVAL, col0,
			    "file: needs a path");
			goto fail;
		}
		if ((rc = parse_template(d, arg, n, col0, err)) < 0)
			goto fail;
		break;
	case EVK_DEST_UNIX:
		if (n == 0) {
			rc = evk__err(err, EVK_EINVAL, col0,
			    "unix: needs a socket path");
			goto fail;
		}
		if (n > 107) {
			rc = evk__err(err, EVK_EINVAL, col0,
			    "socket path too long (%zu bytes, 107 at most)", n);
			goto fail;
		}
		break;
	case EVK_DEST_BUS:
		if (n > 0 && strncmp(arg, "unix:", 5) != 0 &&
		    strncmp(arg, "nats://", 7) != 0) {
			rc = evk__err(err, EVK_EINVAL, col0,
			    "a bus URL is unix:PATH or nats://HOST:PORT");
			goto fail;
		}
		break;
	case EVK_DEST_EXEC:
		if (n == 0) {
			rc = evk__err(err, EVK_EINVAL, col0,
			    "exec: needs a command");
			goto fail;
		}
		break;
	default: break;
	}
	*out = d;
	return 0;
fail:
	dest_free(d);
	return rc;
}

/* The destination `d` joins the table, or the equal one there is used
 * (and `d` freed).  Returns its index, or EVK_ENOMEM. */
static int
add_dest(struct evk_routes *rt, struct dest *d, size_t *index)
{
	struct dest **nd;
	size_t i;

	for (i = 0; i < rt->ndests; i++)
		if (!strcmp(rt->dests[i]->pub.text, d->pub.text)) {
			dest_free(d);
			*index = i;
			return 0;
		}
	if (rt->ndests == rt->capdests) {
		size_t cap = rt->capdests ? 2 * rt->capdests : 8;
		if ((nd = realloc(rt->dests, cap * sizeof *nd)) == NULL) {
			dest_free(d);
			return EVK_ENOMEM;
		}
		rt->dests = nd;
		rt->capdests = cap;
	}
	d->pub.index = rt->ndests;
	d->rt = rt;
	rt->dests[rt->ndests] = d;
	*index = rt->ndests++;
	return 0;
}

/*
 * Where RULE ends: the first "->" outside a JSON string and outside a
 * /regex/ written after "=~" or "!~".  Returns its offset, or n.
 */
static size_t
find_arrow(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
			i++;
		} else if ((s[i] == '=' || s[i] == '!') && i + 1 < n &&
		    s[i + 1] == '~') {
			for (i += 2; i < n && is_blank(s[i]); i++)
				;
			if (i < n && s[i] == '/') {
				for (i++; i < n && s[i] != '/'; i++)
					if (s[i] == '\\')
						i++;
				i++;
			}
		} else if (s[i] == '-' && i + 1 < n && s[i + 1] == '>') {
			return i;
		} else {
			i++;
		}
	}
	return n;
}

/* A rule that is one word of these characters is a topic pattern. */
static int
is_topic_word(const char *s, size_t n)
{
	size_t i;

	/* Bytes of non-ASCII characters too: topics are UTF-8. */
	for (i = 0; i < n; i++)
		if (!is_name_char(s[i]) && s[i] != '.' && s[i] != '*' &&
		    s[i] != '>' && s[i] != ':' && (unsigned char)s[i] < 0x80)
			return 0;
	return n > 0;
}

static int
compile_rule(const char *s, size_t n, size_t col0, struct evk_expr **e,
    struct evk_err *err)
{
	char *src;
	int rc;

	*e = NULL;
	if (n == 1 && s[0] == '*')
		return 0;
	if (is_topic_word(s, n)) {
		/* A wildcard must be a whole token: "order*" is a literal
		 * topic for NATS, and surely a mistake here. */
		size_t i;
		for (i = 0; i < n; i++)
			if ((s[i] == '*' || s[i] == '>') &&
			    ((i > 0 && s[i - 1] != '.') ||
			        (i + 1 < n && s[i + 1] != '.')))
				return evk__err(err, EVK_EINVAL, col0 + i,
				    "a wildcard '%c' must be a whole token "
				    "of the topic pattern",
				    s[i]);
		if ((rc = evk_topic_check(s, n, 1, err)) < 0) {
			if (err != NULL)
				err->column += col0 - 1;
			return rc;
		}
	}
	if ((src = malloc(n + 1)) == NULL)
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	memcpy(src, s, n);
	src[n] = '\0';
	if (is_topic_word(s, n))
		*e = evk_expr_topic(src, err);
	else
		*e = evk_expr_compile(src, err);
	free(src);
	if (*e == NULL) {
		if (err != NULL && err->column > 0)
			err->column += col0 - 1;
		return err != NULL && err->code < 0 ? err->code : EVK_EINVAL;
	}
	return 0;
}

int
evk_routes_add(struct evk_routes *rt, const char *line, size_t len,
    uint64_t lineno, struct evk_err *err)
{
	size_t i = 0, arrow, rs, re, ds, de, di;
	struct evk_expr *e = NULL;
	struct dest *d;
	struct rule *nr;
	int rc;

	if (err != NULL)
		err->line = lineno;
	while (i < len && is_blank(line[i]))
		i++;
	if (i == len || line[i] == '#')
		return 0;
	if (memchr(line, '\0', len) != NULL)
		return evk__err(err, EVK_EINVAL,
		    (size_t)((const char *)memchr(line, '\0', len) - line) + 1,
		    "NUL byte in rule");
	rs = i;
	arrow = rs + find_arrow(line + rs, len - rs);
	if (arrow >= len)
		return evk__err(err, EVK_EINVAL, len + 1,
		    "missing '->' between the rule and its destination");
	for (re = arrow; re > rs && is_blank(line[re - 1]); re--)
		;
	if (re == rs)
		return evk__err(err, EVK_EINVAL, arrow + 1,
		    "missing rule before '->'");
	for (ds = arrow + 2; ds < len && is_blank(line[ds]); ds++)
		;
	for (de = len; de > ds && is_blank(line[de - 1]); de--)
		;
	if (ds == de)
		return evk__err(err, EVK_EINVAL, len + 1,
		    "missing destination after '->'");
	/* The destination first: its errors are cheaper to find. */
	if ((rc = parse_dest(line + ds, de - ds, ds + 1, &d, err)) < 0)
		return rc;
	if ((rc = compile_rule(line + rs, re - rs, rs + 1, &e, err)) < 0) {
		dest_free(d);
		return rc;
	}
	if ((rc = add_dest(rt, d, &di)) < 0) {
		evk_expr_free(e);
		return evk__err(err, rc, 0, "out of memory");
	}
	if (rt->nrules == rt->caprules) {
		size_t cap = rt->caprules ? 2 * rt->caprules : 8;
		if ((nr = realloc(rt->rules, cap * sizeof *nr)) == NULL) {
			evk_expr_free(e);
			return evk__err(err, EVK_ENOMEM, 0, "out of memory");
		}
		rt->rules = nr;
		rt->caprules = cap;
	}
	rt->rules[rt->nrules].e = e;
	rt->rules[rt->nrules].topic = NULL;
	rt->rules[rt->nrules].topiclen = 0;
	rt->rules[rt->nrules].dest = di;
	if (e != NULL && is_topic_word(line + rs, re - rs)) {
		char *t = malloc(re - rs + 1);
		if (t == NULL) {
			evk_expr_free(e);
			return evk__err(err, EVK_ENOMEM, 0, "out of memory");
		}
		memcpy(t, line + rs, re - rs);
		t[re - rs] = '\0';
		rt->rules[rt->nrules].topic = t;
		rt->rules[rt->nrules].topiclen = re - rs;
	}
	rt->nrules++;
	return 0;
}

int
evk_routes_parse(struct evk_routes *rt, const char *text, size_t len,
    struct evk_err *err)
{
	const char *p = text, *end = text + len, *nl;
	uint64_t no = 0;
	size_t n;
	int rc;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		no++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if ((rc = evk_routes_add(rt, p, n, no, err)) < 0)
			return rc;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return 0;
}

int
evk_routes_set_else(struct evk_routes *rt, const char *dest,
    struct evk_err *err)
{
	size_t n = strlen(dest), s = 0, e = n, di;
	struct dest *d;
	int rc;

	while (s < n && is_blank(dest[s]))
		s++;
	while (e > s && is_blank(dest[e - 1]))
		e--;
	if (s == e)
		return evk__err(err, EVK_EINVAL, 1, "empty destination");
	if ((rc = parse_dest(dest + s, e - s, s + 1, &d, err)) < 0)
		return rc;
	if ((rc = add_dest(rt, d, &di)) < 0)
		return evk__err(err, rc, 0, "out of memory");
	rt->else_dest = di;
	return 0;
}

size_t
evk_routes_count(const struct evk_routes *rt)
{
	return rt->nrules;
}

size_t
evk_routes_ndests(const struct evk_routes *rt)
{
	return rt->ndests;
}

const struct evk_dest *
evk_routes_dest(const struct evk_routes *rt, size_t i)
{
	return i < rt->ndests ? &rt->dests[i]->pub : NULL;
}

const struct evk_dest *
evk_routes_rule_dest(const struct evk_routes *rt, size_t i)
{
	return i < rt->nrules ? &rt->dests[rt->rules[i].dest]->pub : NULL;
}

const struct evk_dest *
evk_routes_else(const struct evk_routes *rt)
{
	return rt->else_dest != SIZE_MAX ? &rt->dests[rt->else_dest]->pub
	                                 : NULL;
}

/* Looks up the "type" of `ev` once for it (see struct evk_routes).
 * Returns rt->type_ok. */
static int
type_of(struct evk_routes *rt, struct evk_span ev)
{
	struct evk_span v;

	if (rt->ev.p == ev.p && rt->ev.len == ev.len && ev.p != NULL)
		return rt->type_ok;
	rt->ev = ev;
	rt->type_ok = 0;
	if (evk_json_get(ev, "type", 4, &v) &&
	    evk_json_type_of(v) == EVK_JSON_STRING) {
		if (memchr(v.p, '\\', v.len) != NULL) {
			rt->type_ok = -1;
		} else {
			rt->type.p = v.p + 1;
			rt->type.len = v.len - 2;
			rt->type_ok = 1;
		}
	}
	return rt->type_ok;
}

int
evk_routes_match(struct evk_routes *rt, struct evk_span ev, int first,
    size_t *out, struct evk_err *err)
{
	size_t i, n = 0;
	struct dest *d;
	int rc;

	/* A stamp per event instead of clearing a set per event. */
	rt->stamp++;
	rt->ev.p = NULL;
	for (i = 0; i < rt->nrules; i++) {
		d = rt->dests[rt->rules[i].dest];
		/* Fanning out, a destination that has the event already
		 * needs no evaluation. */
		if (d->stamp == rt->stamp)
			continue;
		if (rt->rules[i].topic != NULL && (rc = type_of(rt, ev)) >= 0) {
			/* The topic's own matcher on the type's bytes: what
			 * evk_expr_topic() does, without a second look-up. */
			if (rc == 0 ||
			    !evk_topic_match(rt->rules[i].topic,
			        rt->rules[i].topiclen, rt->type.p,
			        rt->type.len))
				continue;
		} else if (rt->rules[i].e != NULL) {
			rc = evk_expr_eval(rt->rules[i].e, ev, err);
			if (rc < 0)
				return rc;
			if (rc == 0)
				continue;
		}
		d->stamp = rt->stamp;
		out[n++] = rt->rules[i].dest;
		if (first)
			break;
	}
	if (n == 0 && rt->else_dest != SIZE_MAX)
		out[n++] = rt->else_dest;
	return (int)n;
}

/* FNV-1a, 64 bits: a name for a value too long to spell out. */
static uint64_t
fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n-- > 0) {
		h ^= (unsigned char)*p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int
safe_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c == ',' || c == '+' || c == '=' || c == '@';
}

int
evk_route_safe_name(struct evk_buf *out, const char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t start = out->len, i, cut = 0;
	char enc[3];
	int rc;

	if (n == 0)
		return evk_buf_adds(out, EVK_ROUTE_EMPTY);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		/* Never ".", "..", a hidden file, nor one of our own
		 * "_missing" names: a first '.' or '_' is encoded. */
		if (safe_byte(c) && !(i == 0 && (c == '.' || c == '_'))) {
			/* A run of safe bytes at once, up to the cut. */
			size_t j = i + 1;
			while (j < n && safe_byte((unsigned char)p[j]) &&
			    out->len - start + (j - i) <
			        EVK_ROUTE_NAME_MAX - 17)
				j++;
			rc = evk_buf_add(out, p + i, j - i);
			i = j - 1;
		} else {
			enc[0] = '%';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 15];
			rc = evk_buf_add(out, enc, 3);
		}
		if (rc < 0)
			return rc;
		/* Where to cut if it ends up too long: on a whole byte. */
		if (out->len - start <= EVK_ROUTE_NAME_MAX - 17)
			cut = out->len;
	}
	if (out->len - start > EVK_ROUTE_NAME_MAX) {
		char tail[18];
		uint64_t h = fnv1a(p, n);
		tail[0] = '~';
		for (i = 0; i < 16; i++)
			tail[1 + i] = hex[(h >> (60 - 4 * i)) & 15];
		out->len = cut;
		return evk_buf_add(out, tail, 17);
	}
	return 0;
}

int
evk_route_path(const struct evk_dest *pub, struct evk_span ev,
    struct evk_buf *out)
{
	const struct dest *d = (const struct dest *)pub;
	struct evk_span v, key;
	struct evk_buf tmp = EVK_BUF_ZERO;
	const char *p, *end, *dot;
	size_t i;
	int rc = 0, found;

	for (i = 0; i < d->nparts && rc == 0; i++) {
		if (!d->parts[i].field) {
			rc = evk_buf_add(out, d->parts[i].p, d->parts[i].len);
			continue;
		}
		/* The type, when the rules looked it up for this event. */
		if (d->parts[i].len == 4 && !memcmp(d->parts[i].p, "type", 4) &&
		    d->rt != NULL && type_of(d->rt, ev) == 1) {
			rc = evk_route_safe_name(out, d->rt->type.p,
			    d->rt->type.len);
			continue;
		}
		/* Down the path, one member at a time. */
		v = ev;
		found = 1;
		p = d->parts[i].p;
		end = p + d->parts[i].len;
		while (found && p < end) {
			dot = memchr(p, '.', (size_t)(end - p));
			if (dot == NULL)
				dot = end;
			key = v;
			found = evk_json_get(key, p, (size_t)(dot - p), &v);
			p = dot + 1;
		}
		if (!found) {
			rc = evk_buf_adds(out, EVK_ROUTE_MISSING);
			continue;
		}
		switch (evk_json_type_of(v)) {
		case EVK_JSON_STRING:
			/* Most values have no escape: no copy needed. */
			if (memchr(v.p, '\\', v.len) == NULL) {
				rc = evk_route_safe_name(out, v.p + 1,
				    v.len - 2);
				break;
			}
			evk_buf_reset(&tmp);
			if ((rc = evk_json_unescape(v, &tmp)) == 0)
				rc = evk_route_safe_name(out, tmp.p, tmp.len);
			break;
		case EVK_JSON_OBJECT:
			rc = evk_buf_adds(out, EVK_ROUTE_OBJECT);
			break;
		case EVK_JSON_ARRAY:
			rc = evk_buf_adds(out, EVK_ROUTE_ARRAY);
			break;
		default: rc = evk_route_safe_name(out, v.p, v.len); break;
		}
	}
	evk_buf_free(&tmp);
	return rc;
}
