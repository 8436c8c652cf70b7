/*
 * Unit tests of lib/topic.c: checking topics (against the NATS validity
 * vectors), matching them (tables, the NATS match vectors, and random
 * patterns against a naive matcher) and literal prefixes.
 *
 * Every span handed to the library is copied into a buffer of exactly its
 * length, so that under SAN=1 a read past either span is an error.
 */
#include "evkit/topic.h"
#include "t.h"

static int
match_n(const char *pat, size_t plen, const char *top, size_t tlen)
{
	char *p = t_dup_exact(pat, plen), *t = t_dup_exact(top, tlen);
	int rc = evk_topic_match(p, plen, t, tlen);

	free(p);
	free(t);
	return rc;
}

static int
match(const char *pat, const char *top)
{
	return match_n(pat, strlen(pat), top, strlen(top));
}

static size_t
prefix(const char *pat, int *exact)
{
	size_t n = strlen(pat), r;
	char *p = t_dup_exact(pat, n);

	r = evk_topic_literal_prefix(p, n, exact);
	free(p);
	return r;
}

TEST(topic_check)
{
	CHECK_INT(evk_topic_check("order.created", 13, 0, NULL), 0);
	CHECK_INT(evk_topic_check("a b", 3, 0, NULL), EVK_EINVAL);
	CHECK_INT(evk_topic_check("", 0, 0, NULL), EVK_EINVAL);
	CHECK_INT(evk_topic_check("order.>", 7, 1, NULL), 0);
	CHECK_INT(evk_topic_check("order.>", 7, 0, NULL), EVK_EINVAL);
}

TEST(match_table)
{
	static const struct {
		const char *pat, *top;
		int want;
	} cases[] = {
	    /* Patterns equal to topics. */
	    {"order", "order", 1},
	    {"order.created", "order.created", 1},
	    {"a.b.c.d", "a.b.c.d", 1},
	    {"order.created", "order.create", 0},
	    {"order.create", "order.created", 0},
	    {"order.created", "order.createe", 0},
	    {"order", "order.created", 0},
	    {"order.created", "order", 0},
	    {"Order", "order", 0},
	    /* ">" takes one or more trailing tokens, never zero. */
	    {"order.>", "order.created", 1},
	    {"order.>", "order.created.eu.1", 1},
	    {"order.>", "order", 0},
	    {"order.>", "order.", 0},
	    {"order.>", "orders.created", 0},
	    {">", "a", 1},
	    {">", "a.b.c", 1},
	    {">", "", 0},
	    {"a.b.>", "a.b", 0},
	    {"a.b.>", "a.b.c", 1},
	    {"a.b.>", "a.c.d", 0},
	    /* "*" takes exactly one non-empty token. */
	    {"order.*", "order.created", 1},
	    {"order.*", "order", 0},
	    {"order.*", "order.", 0},
	    {"order.*", "order.created.eu", 0},
	    {"*", "a", 1},
	    {"*", "a.b", 0},
	    {"*", "", 0},
	    {"*.*", "a.b", 1},
	    {"*.*", "a", 0},
	    {"*.*", ".b", 0},
	    {"*.*", "a.", 0},
	    {"a.*.c", "a.b.c", 1},
	    {"a.*.c", "a..c", 0},
	    {"a.*.c", "a.b.x.c", 0},
	    {"*.>", "a", 0},
	    {"*.>", "a.b", 1},
	    {"*.*.>", "a.b.c.d", 1},
	    /* Wildcards only as whole tokens. */
	    {"a*", "ab", 0},
	    {"a*", "a*", 1},
	    {"a.>b", "a.>b", 1},
	    {"a.>b", "a.x", 0},
	    {"a.**", "a.b", 0},
	    /* Invalid patterns match nothing. */
	    {"", "", 0},
	    {"a..b", "a..b", 0},
	    {".a", ".a", 0},
	    {"a.", "a.", 0},
	    {"a.>.b", "a.x.b", 0},
	    {">.b", "a.b", 0},
	    {"a b", "a b", 0},
	    {"a\tb", "a\tb", 0},
	    /* Invalid topics match nothing, not even ">" or themselves. */
	    {">", ".a", 0},
	    {">", "a..b", 0},
	    {">", "a.", 0},
	    {">", "a.b c", 0},
	    {"a.>", "a.b.", 0},
	    {"a.*", "a.*", 0},
	    {"a.>", "a.>", 0},
	    {">", "a.*", 0},
	    {">", "a.>", 0},
	    {"*", "*", 0},
	    {"a", "a ", 0},
	    {"a\x7f", "a\x7f", 0},
	    /* Bytes above 0x7f are ordinary token bytes (UTF-8). */
	    {"caf\xc3\xa9.*", "caf\xc3\xa9.x", 1},
	    {"caf\xc3\xa9", "caf\xc3\xa8", 0},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = match(cases[i].pat, cases[i].top);
		if (rc != cases[i].want) {
			printf("#   match(\"%s\", \"%s\") == %d, expected %d\n",
			    cases[i].pat, cases[i].top, rc, cases[i].want);
			CHECK(0);
		}
	}
	/* Embedded NUL bytes are control characters, not terminators. */
	CHECK_INT(match_n("a\0b", 3, "a\0b", 3), 0);
	CHECK_INT(match_n(">", 1, "a.\0", 3), 0);
	/* Lengths, not NULs, end the spans. */
	CHECK_INT(match_n("a.bX", 3, "a.bY", 3), 1);
	CHECK_INT(match_n("a.>", 3, "a.b", 2), 0);
	CHECK_INT(evk_topic_match(NULL, 0, NULL, 0), 0);
}

/* Appends `n` tokens `tok` joined by '.' to `s` at `*len`. */
static void
tokens(char *s, size_t *len, const char *tok, int n)
{
	for (int i = 0; i < n; i++) {
		if (*len > 0)
			s[(*len)++] = '.';
		memcpy(s + *len, tok, strlen(tok));
		*len += strlen(tok);
	}
}

TEST(match_long_topic)
{
	static char top[8000], pat[8000];
	size_t tlen = 0, plen;

	tokens(top, &tlen, "tok", 1000); /* 1000 tokens, 3999 bytes */
	CHECK_INT(tlen, 3999);
	CHECK_INT(match_n(top, tlen, top, tlen), 1);
	CHECK_INT(match_n(">", 1, top, tlen), 1);
	CHECK_INT(match_n("tok.>", 5, top, tlen), 1);
	plen = 0;
	tokens(pat, &plen, "*", 1000);
	CHECK_INT(match_n(pat, plen, top, tlen), 1);
	CHECK_INT(match_n(pat, plen - 2, top, tlen), 0); /* 999 "*" */
	tokens(pat, &plen, "*", 1);
	CHECK_INT(match_n(pat, plen, top, tlen), 0); /* 1001 "*" */
	plen = 0;
	tokens(pat, &plen, "*", 999);
	tokens(pat, &plen, ">", 1);
	CHECK_INT(match_n(pat, plen, top, tlen), 1); /* 999 "*" then ">" */
	plen = 0;
	tokens(pat, &plen, "*", 1000);
	tokens(pat, &plen, ">", 1);
	CHECK_INT(match_n(pat, plen, top, tlen), 0); /* ">" needs one more */
	/* A difference in the last byte, or one empty token at the end. */
	memcpy(pat, top, tlen);
	pat[tlen - 1] = 'x';
	CHECK_INT(match_n(pat, tlen, top, tlen), 0);
	top[tlen] = '.';
	CHECK_INT(match_n(">", 1, top, tlen + 1), 0);
}

TEST(literal_prefix)
{
	static const struct {
		const char *pat;
		size_t want;
		int exact;
	} cases[] = {
	    {"order.*", 6, 0},
	    {"order.created", 13, 1},
	    {"order", 5, 1},
	    {"*.x", 0, 0},
	    {">", 0, 0},
	    {"*", 0, 0},
	    {"a.b.>", 4, 0},
	    {"a.*.c", 2, 0},
	    {"a.b.*.>", 4, 0},
	    {"foo*.bar", 8, 1},
	    {"foo.>bar", 8, 1},
	    {"a.**.>", 5, 0},
	    /* Invalid patterns match nothing: 0, not exact. */
	    {"", 0, 0},
	    {"a..b", 0, 0},
	    {"a.b.", 0, 0},
	    {"a.>.b", 0, 0},
	    {"a b.*", 0, 0},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int exact = -1;
		size_t n = prefix(cases[i].pat, &exact);
		if (n != cases[i].want || exact != cases[i].exact) {
			printf(
			    "#   prefix(\"%s\") == %zu exact %d, expected %zu"
			    " exact %d\n",
			    cases[i].pat, n, exact, cases[i].want,
			    cases[i].exact);
			CHECK(0);
		}
	}
	CHECK_INT(evk_topic_literal_prefix("a.b.*", 5, NULL), 4);
	CHECK_INT(evk_topic_literal_prefix("a.b", 3, NULL), 3);
}

/* --- random patterns against a naive matcher ------------------------------ */

#define MAXTOK 16

struct tok {
	const char *p;
	size_t len;
};

/* Splits s[0..n) on '.' into at most MAXTOK tokens; returns the count. */
static int
split(const char *s, size_t n, struct tok *t)
{
	int k = 0;
	size_t i, start = 0;

	for (i = 0; i <= n && k < MAXTOK; i++) {
		if (i == n || s[i] == '.') {
			t[k].p = s + start;
			t[k].len = i - start;
			k++;
			start = i + 1;
		}
	}
	return k;
}

static int
tok_is(const struct tok *t, char c)
{
	return t->len == 1 && t->p[0] == c;
}

/* The definition: both valid, then token by token. */
static int
naive_match(const char *p, size_t plen, const char *t, size_t tlen)
{
	struct tok pt[MAXTOK], tt[MAXTOK];
	int np, nt, i;

	if (evk_topic_check(p, plen, 1, NULL) != 0 ||
	    evk_topic_check(t, tlen, 0, NULL) != 0)
		return 0;
	np = split(p, plen, pt);
	nt = split(t, tlen, tt);
	for (i = 0; i < np; i++) {
		if (tok_is(&pt[i], '>'))
			return nt > i;
		if (i >= nt)
			return 0;
		if (tok_is(&pt[i], '*'))
			continue;
		if (pt[i].len != tt[i].len ||
		    memcmp(pt[i].p, tt[i].p, tt[i].len))
			return 0;
	}
	return np == nt;
}

/* Writes `n` random tokens of `alpha` (`nalpha` of them) to `s`. */
static size_t
random_topic_n(char *s, const char *const *alpha, int nalpha, int n)
{
	size_t len = 0;

	for (int i = 0; i < n; i++) {
		const char *a = alpha[t_rng() % (uint64_t)nalpha];
		if (i > 0)
			s[len++] = '.';
		memcpy(s + len, a, strlen(a));
		len += strlen(a);
	}
	return len;
}

/* Writes 1 to 5 random tokens of `alpha` to `s`. */
static size_t
random_topic(char *s, const char *const *alpha, int nalpha)
{
	return random_topic_n(s, alpha, nalpha, 1 + (int)(t_rng() % 5));
}

/* Writes to `t` the pattern p[0..plen) with each "*" replaced by a random
 * token of `alpha` and a ">" by one to three; returns the length. */
static size_t
instantiate(const char *p, size_t plen, char *t, const char *const *alpha,
    int nalpha)
{
	struct tok pt[MAXTOK];
	int np = split(p, plen, pt);
	size_t len = 0;

	for (int i = 0; i < np; i++) {
		if (i > 0)
			t[len++] = '.';
		if (tok_is(&pt[i], '*') || tok_is(&pt[i], '>')) {
			int n =
			    tok_is(&pt[i], '>') ? 1 + (int)(t_rng() % 3) : 1;
			len += random_topic_n(t + len, alpha, nalpha, n);
		} else {
			memcpy(t + len, pt[i].p, pt[i].len);
			len += pt[i].len;
		}
	}
	return len;
}

TEST(match_random)
{
	/* Mostly valid: the first five for patterns, three for topics; the
	 * others (empty token, space, wildcard in a topic) rarer. */
	static const char *const pat_alpha[] = {"a", "b", "ab", "*", ">", "a",
	    "b", "*", "", "a b"};
	static const char *const top_alpha[] = {"a", "b", "ab", "a", "b", "ab",
	    "a", "b", "*", "", ">"};
	char p[128], t[256];
	int matches = 0, exacts = 0, disagree = 0, bad_prefix = 0;
	int bad_exact = 0;

	t_rng_state = UINT64_C(0x9e3779b97f4a7c15);
	for (int i = 0; i < 200000; i++) {
		size_t plen = random_topic(p, pat_alpha, 10);
		size_t tlen = random_topic(t, top_alpha, 11);
		int exact, m, want;
		size_t pre;

		/* Sometimes the topic is the pattern itself, or the pattern
		 * with its wildcards filled in. */
		if (i % 7 == 0) {
			memcpy(t, p, plen);
			tlen = plen;
		} else if (i % 3 == 0) {
			tlen = instantiate(p, plen, t, top_alpha, 11);
		}
		m = match_n(p, plen, t, tlen);
		want = naive_match(p, plen, t, tlen);
		pre = evk_topic_literal_prefix(p, plen, &exact);
		if (m != want && disagree++ < 5)
			printf(
			    "#   match(\"%.*s\", \"%.*s\") == %d, naive %d\n",
			    (int)plen, p, (int)tlen, t, m, want);
		/* Exact: a topic matches if and only if it is the pattern. */
		exacts += exact;
		if (exact && m != (plen == tlen && !memcmp(p, t, plen)))
			bad_exact++;
		if (!m)
			continue;
		matches++;
		if (pre > tlen || memcmp(p, t, pre) != 0)
			bad_prefix++;
	}
	CHECK_INT(disagree, 0);
	CHECK_INT(bad_prefix, 0);
	CHECK_INT(bad_exact, 0);
	/* The test only means something when it sees matches and literals. */
	printf("#   %d matches, %d exact patterns\n", matches, exacts);
	CHECK(matches > 10000);
	CHECK(exacts > 10000);
}

/* --- the NATS vectors --------------------------------------------------------- */

/* Splits `line` in place at tabs (empty fields kept) into at most `max`
 * fields, the last one ending at the newline; returns the count. */
static int
tsv_fields(char *line, char **f, int max)
{
	int n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	f[n++] = line;
	while (n < max && (line = strchr(line, '\t')) != NULL) {
		*line++ = '\0';
		f[n++] = line;
	}
	return n;
}

/* nats_subject_match.tsv: one result per row; the file has 43. */
static void
nats_match_vectors(void)
{
	char path[512], line[512], name[700];
	int rows = 0;
	FILE *f;

	snprintf(path, sizeof path,
	    "%s/nats-subject-sublist/nats_subject_match.tsv", t_vectors());
	if ((f = fopen(path, "r")) == NULL) {
		t_result(0, path);
		return;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *fld[4];
		int rc;

		if (line[0] == '#' || !strncmp(line, "filter\t", 7))
			continue;
		if (tsv_fields(line, fld, 4) < 3 ||
		    (strcmp(fld[2], "0") && strcmp(fld[2], "1"))) {
			t_result(0, "nats match: malformed row");
			continue;
		}
		rc = match(fld[0], fld[1]);
		snprintf(name, sizeof name, "nats match %s %s -> %s", fld[0],
		    fld[1], fld[2]);
		t_result(rc == (fld[2][0] == '1'), name);
		rows++;
	}
	fclose(f);
	snprintf(name, sizeof name, "nats match: %d rows (43 expected)", rows);
	t_result(rows == 43, name);
}

/* The NATS validity vectors: IsValidLiteralSubject is a topic,
 * IsValidSubject a pattern. */
static void
nats_vectors(void)
{
	char path[512], line[512], name[600];
	FILE *f;

	snprintf(path, sizeof path,
	    "%s/nats-subject-sublist/nats_subject_validity.tsv", t_vectors());
	if ((f = fopen(path, "r")) == NULL) {
		t_result(0, path);
		return;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *check = strtok(line, "\t"), *subj = strtok(NULL, "\t");
		char *want = strtok(NULL, "\t\n");
		int pattern, rc;

		if (check == NULL || subj == NULL || want == NULL ||
		    !strcmp(check, "check") || check[0] == '#')
			continue;
		if (!strcmp(check, "IsValidLiteralSubject"))
			pattern = 0;
		else if (!strcmp(check, "IsValidSubject"))
			pattern = 1;
		else
			continue;
		/* The vector file shows an embedded NUL as "\x00". */
		size_t n = strlen(subj);
		char *nul = strstr(subj, "\\x00");
		if (nul != NULL) {
			*nul = '\0';
			n = (size_t)(nul - subj) + 1;
		}
		rc = evk_topic_check(subj, n, pattern, NULL);
		snprintf(name, sizeof name, "nats %s %s -> %s", check, subj,
		    want);
		t_result((rc == 0) == !strcmp(want, "true"), name);
	}
	fclose(f);
}

/* subjectIsLiteral (no token is exactly "*" or ">") is *exact of
 * evk_topic_literal_prefix() for these valid patterns. */
static void
nats_literal_vectors(void)
{
	char path[512], line[512], name[600];
	FILE *f;

	snprintf(path, sizeof path,
	    "%s/nats-subject-sublist/nats_subject_validity.tsv", t_vectors());
	if ((f = fopen(path, "r")) == NULL) {
		t_result(0, path);
		return;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *fld[4];
		int exact;

		if (tsv_fields(line, fld, 4) < 3 ||
		    strcmp(fld[0], "subjectIsLiteral"))
			continue;
		(void)prefix(fld[1], &exact);
		snprintf(name, sizeof name,
		    "nats subjectIsLiteral %s -> %s (literal prefix exact)",
		    fld[1], fld[2]);
		t_result(exact == !strcmp(fld[2], "true"), name);
	}
	fclose(f);
}

int
main(void)
{
	RUN(topic_check);
	nats_vectors();
	RUN(match_table);
	RUN(match_long_topic);
	RUN(literal_prefix);
	RUN(match_random);
	nats_match_vectors();
	nats_literal_vectors();
	return t_done();
}
