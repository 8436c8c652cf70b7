/*
 * lib/lineparse.c - named regex groups to a JSON object (evkit/lineparse.h).
 *
 * The pattern is compiled and JIT-compiled once; match data is allocated
 * once; lines are already checked UTF-8, so PCRE2 is told not to check
 * again (PCRE2_NO_UTF_CHECK), which matters at millions of lines.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "evkit/json.h"
#include "evkit/lineparse.h"
#include "internal.h"

enum gtype { G_STRING, G_NUMBER, G_BOOL, G_AUTO };

struct group {
	char *name;
	int num;
	enum gtype type;
};

struct evk_lineparse {
	pcre2_code *re;
	pcre2_match_data *md;
	int jit;
	struct group *g;
	int ng;
};

int
evk__jit(void *re, unsigned options)
{
	if (getenv("EVKIT_NO_JIT") != NULL)
		return 0;
	return pcre2_jit_compile(re, options) == 0;
}

void
evk_lineparse_free(struct evk_lineparse *lp)
{
	if (lp == NULL)
		return;
	for (int i = 0; i < lp->ng; i++)
		free(lp->g[i].name);
	free(lp->g);
	pcre2_match_data_free(lp->md);
	pcre2_code_free(lp->re);
	free(lp);
}

static int
type_of(const char *s, size_t n, enum gtype *t)
{
	static const struct {
		const char *name;
		enum gtype t;
	} types[] = {
	    {"string", G_STRING},
	    {"number", G_NUMBER},
	    {"bool", G_BOOL},
	    {"auto", G_AUTO},
	};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strlen(types[i].name) == n &&
		    !memcmp(types[i].name, s, n)) {
			*t = types[i].t;
			return 0;
		}
	return -1;
}

/* Applies the types spec ("auto" or NAME=TYPE,...) to the groups. */
static int
set_types(struct evk_lineparse *lp, const char *spec, struct evk_err *err)
{
	const char *p = spec, *end, *eq;
	enum gtype t;
	int i;

	if (!strcmp(spec, "auto")) {
		for (i = 0; i < lp->ng; i++)
			lp->g[i].type = G_AUTO;
		return 0;
	}
	for (; *p != '\0'; p = *end ? end + 1 : end) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL || eq == p)
			return evk__err(err, EVK_EINVAL, (size_t)(p - spec) + 1,
			    "expected NAME=TYPE in types");
		if (type_of(eq + 1, (size_t)(end - eq - 1), &t) < 0)
			return evk__err(err, EVK_EINVAL,
			    (size_t)(eq - spec) + 2,
			    "unknown type \"%.*s\" (string, number, bool, auto)",
			    (int)(end - eq - 1), eq + 1);
		for (i = 0; i < lp->ng; i++)
			if (strlen(lp->g[i].name) == (size_t)(eq - p) &&
			    !memcmp(lp->g[i].name, p, (size_t)(eq - p)))
				break;
		if (i == lp->ng)
			return evk__err(err, EVK_EINVAL, (size_t)(p - spec) + 1,
			    "no group named \"%.*s\" in the pattern",
			    (int)(eq - p), p);
		lp->g[i].type = t;
	}
	return 0;
}

struct evk_lineparse *
evk_lineparse_new(const char *pattern, const char *types, struct evk_err *err)
{
	struct evk_lineparse *lp;
	PCRE2_SPTR table;
	PCRE2_SIZE off;
	uint32_t count = 0, size = 0;
	int code, i;

	if ((lp = calloc(1, sizeof *lp)) == NULL)
		goto nomem;
	lp->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
	    PCRE2_UTF, &code, &off, NULL);
	if (lp->re == NULL) {
		PCRE2_UCHAR msg[200];
		pcre2_get_error_message(code, msg, sizeof msg);
		evk__err(err, EVK_EINVAL, off + 1, "%s at column %zu",
		    (char *)msg, (size_t)off + 1);
		goto fail;
	}
	/* JIT is an optimisation: without it (no JIT on this CPU) the
	 * interpreter gives the same results. */
	lp->jit = evk__jit(lp->re, PCRE2_JIT_COMPLETE);
	if ((lp->md = pcre2_match_data_create_from_pattern(lp->re, NULL)) ==
	    NULL)
		goto nomem;
	pcre2_pattern_info(lp->re, PCRE2_INFO_NAMECOUNT, &count);
	pcre2_pattern_info(lp->re, PCRE2_INFO_NAMEENTRYSIZE, &size);
	pcre2_pattern_info(lp->re, PCRE2_INFO_NAMETABLE, &table);
	if (count == 0) {
		evk__err(err, EVK_EINVAL, 0,
		    "the pattern has no named groups, e.g. (?<status>\\d+)");
		goto fail;
	}
	if ((lp->g = calloc(count, sizeof *lp->g)) == NULL)
		goto nomem;
	/* The name table is sorted by name; keep the order of the pattern,
	 * which is what a reader of the regex expects in the output. */
	for (i = 0; i < (int)count; i++) {
		const unsigned char *e = table + (size_t)i * size;
		int num = e[0] << 8 | e[1], j;
		if (i > 0 &&
		    !strcmp((const char *)e + 2, (const char *)e + 2 - size)) {
			evk__err(err, EVK_EINVAL, 0,
			    "group name \"%s\" used "
			    "twice",
			    (const char *)e + 2);
			goto fail;
		}
		for (j = lp->ng; j > 0 && lp->g[j - 1].num > num; j--)
			lp->g[j] = lp->g[j - 1];
		lp->g[j].num = num;
		lp->g[j].type = G_STRING;
		if ((lp->g[j].name = strdup((const char *)e + 2)) == NULL)
			goto nomem;
		lp->ng++;
	}
	if (types != NULL && set_types(lp, types, err) < 0)
		goto fail;
	return lp;
nomem:
	evk__err(err, EVK_ENOMEM, 0, "out of memory");
fail:
	evk_lineparse_free(lp);
	return NULL;
}

/* Appends one group's text as JSON of its type. */
static int
add_value(const struct group *g, const char *v, size_t n, struct evk_buf *out,
    struct evk_err *err)
{
	int num = evk_json_is_number(v, n);
	int lit = (n == 4 && !memcmp(v, "true", 4)) ||
	    (n == 5 && !memcmp(v, "false", 5));

	switch (g->type) {
	case G_NUMBER:
		if (!num)
			return evk__err(err, EVK_EINVAL, 0,
			    "group \"%s\" is not a number", g->name);
		break;
	case G_BOOL:
		if (!lit)
			return evk__err(err, EVK_EINVAL, 0,
			    "group \"%s\" is not true or false", g->name);
		break;
	case G_AUTO:
		if (num || lit || (n == 4 && !memcmp(v, "null", 4)))
			break;
		/* FALLTHROUGH */
	case G_STRING: return evk_json_escape(out, v, n) < 0 ? EVK_ENOMEM : 0;
	}
	return evk_buf_add(out, v, n) < 0 ? EVK_ENOMEM : 0;
}

int
evk_lineparse_run(struct evk_lineparse *lp, const char *p, size_t n,
    struct evk_buf *out, struct evk_err *err)
{
	PCRE2_SIZE *ov;
	size_t mark = out->len;
	int rc, i, first = 1;

	if (lp->jit)
		rc = pcre2_jit_match(lp->re, (PCRE2_SPTR)p, n, 0, 0, lp->md,
		    NULL);
	else
		rc = pcre2_match(lp->re, (PCRE2_SPTR)p, n, 0,
		    PCRE2_NO_UTF_CHECK, lp->md, NULL);
	if (rc == PCRE2_ERROR_NOMATCH)
		return evk__err(err, EVK_ENOMATCH, 0, "no match");
	if (rc < 0) {
		PCRE2_UCHAR msg[200];
		pcre2_get_error_message(rc, msg, sizeof msg);
		return evk__err(err, EVK_ERANGE, 0, "regex: %s", (char *)msg);
	}
	ov = pcre2_get_ovector_pointer(lp->md);
	rc = evk_buf_add(out, "{", 1);
	for (i = 0; rc == 0 && i < lp->ng; i++) {
		PCRE2_SIZE s = ov[2 * lp->g[i].num],
		           e = ov[2 * lp->g[i].num + 1];
		if (s == PCRE2_UNSET)
			continue;
		if (!first)
			rc = evk_buf_add(out, ",", 1);
		first = 0;
		if (rc == 0)
			rc = evk_json_escape(out, lp->g[i].name,
			    strlen(lp->g[i].name));
		if (rc == 0)
			rc = evk_buf_add(out, ":", 1);
		if (rc == 0)
			rc = add_value(&lp->g[i], p + s, e - s, out, err);
	}
	if (rc == 0)
		rc = evk_buf_add(out, "}", 1);
	if (rc < 0) {
		if (rc == EVK_ENOMEM)
			evk__err(err, rc, 0, "out of memory");
		out->len = mark;
		if (out->p != NULL)
			out->p[mark] = '\0';
	}
	return rc;
}
