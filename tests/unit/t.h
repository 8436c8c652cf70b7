/*
 * tests/unit/t.h - a minimal TAP test harness for libevkit unit tests.
 *
 * Each TEST() is one counted test: it passes when none of its CHECKs
 * failed.  main() lists the tests with RUN() and ends with t_done(), which
 * prints the TAP plan and returns the exit status.
 */
#ifndef EVK_T_H
#define EVK_T_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_n, t_failed_tests, t_cur_fail;

#define TEST(name) static void name(void)

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			t_cur_fail++;                                        \
			printf("#   %s:%d: check failed: %s\n", __FILE__,     \
			    __LINE__, #cond);                                \
		}                                                            \
	} while (0)

#define CHECK_INT(a, b)                                                      \
	do {                                                                 \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b);      \
		if (t_a_ != t_b_) {                                          \
			t_cur_fail++;                                        \
			printf("#   %s:%d: %s == %lld, expected %lld\n",       \
			    __FILE__, __LINE__, #a, t_a_, t_b_);             \
		}                                                            \
	} while (0)

#define CHECK_STR(a, b)                                                      \
	do {                                                                 \
		const char *t_a_ = (a), *t_b_ = (b);                         \
		if (t_a_ == NULL || t_b_ == NULL || strcmp(t_a_, t_b_)) {    \
			t_cur_fail++;                                        \
			printf("#   %s:%d: %s == \"%s\", expected \"%s\"\n",   \
			    __FILE__, __LINE__, #a, t_a_ ? t_a_ : "(null)",  \
			    t_b_ ? t_b_ : "(null)");                         \
		}                                                            \
	} while (0)

#define CHECK_MEM(a, alen, b, blen)                                          \
	do {                                                                 \
		size_t t_al_ = (alen), t_bl_ = (blen);                       \
		if (t_al_ != t_bl_ || memcmp((a), (b), t_al_)) {             \
			t_cur_fail++;                                        \
			printf("#   %s:%d: %s == \"%.*s\", expected \"%.*s\"\n", \
			    __FILE__, __LINE__, #a, (int)t_al_, (const char *)(a), \
			    (int)t_bl_, (const char *)(b));                  \
		}                                                            \
	} while (0)

/* Records one named result outside a TEST() (for table rows). */
static inline void
t_result(int ok, const char *name)
{
	t_n++;
	if (!ok)
		t_failed_tests++;
	printf("%s %d - %s\n", ok ? "ok" : "not ok", t_n, name);
	fflush(stdout);
}

static inline void
t_run(const char *name, void (*fn)(void))
{
	t_cur_fail = 0;
	fn();
	t_result(t_cur_fail == 0, name);
}

#define RUN(name) t_run(#name, name)

static inline int
t_done(void)
{
	printf("1..%d\n", t_n);
	return t_failed_tests ? 1 : 0;
}

/* xorshift64*: the same pseudo-random sequence on every run; a test may
 * set t_rng_state to start its own. */
static uint64_t t_rng_state = UINT64_C(0x2545f4914f6cdd1d);

static inline uint64_t
t_rng(void)
{
	t_rng_state ^= t_rng_state >> 12;
	t_rng_state ^= t_rng_state << 25;
	t_rng_state ^= t_rng_state >> 27;
	return t_rng_state * UINT64_C(2685821657736338717);
}

/* A malloc'd copy of s[0..n) without a NUL after it, so that under SAN=1
 * a read past the span is an error. */
static inline char *
t_dup_exact(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);

	if (p == NULL) {
		perror("malloc");
		exit(2);
	}
	memcpy(p, s, n);
	return p;
}

/* Directory of the test vectors (tests/vectors unless EVKIT_VECTORS). */
static inline const char *
t_vectors(void)
{
	const char *d = getenv("EVKIT_VECTORS");
	return d ? d : "tests/vectors";
}

/* Reads a whole file into a malloc'd NUL-terminated buffer, or NULL. */
static inline char *
t_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	long n;

	if (len)
		*len = 0;
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1)) != NULL) {
		if (fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		} else {
			p[n] = '\0';
			if (len)
				*len = (size_t)n;
		}
	}
	fclose(f);
	return p;
}

#endif
