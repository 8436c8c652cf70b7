/*
 * fuzz_reader - the line reader under arbitrary bytes and read sizes.
 *
 * Input: byte 0 picks max_line (1..256), byte 1 seeds the sizes of the
 * reads; the rest is the stream.  Oracle: the lines handed out, the bytes
 * of skipped lines and the terminators put back together must give the
 * stream exactly (plus a "\n" when it did not end with one), handed-out
 * lines are within the limit and NUL-free, numbers count up from 1.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evkit/frame.h"

struct src {
	const uint8_t *p;
	size_t len, pos;
	unsigned seed;
};

static ssize_t
src_read(void *ctx, void *buf, size_t len)
{
	struct src *s = ctx;
	size_t n = s->len - s->pos;

	s->seed = s->seed * 1103515245u + 12345u;
	if (n > 1 + (s->seed >> 16) % 97)
		n = 1 + (s->seed >> 16) % 97;
	if (n > len)
		n = len;
	memcpy(buf, s->p + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

struct out {
	uint8_t *p;
	size_t len, cap;
};

static void
add(struct out *o, const void *p, size_t n)
{
	if (o->len + n > o->cap) {
		o->cap = (o->len + n) * 2 + 64;
		o->p = realloc(o->p, o->cap);
		if (o->p == NULL)
			abort();
	}
	if (n > 0)
		memcpy(o->p + o->len, p, n);
	o->len += n;
}

static void
on_skip(void *ctx, const char *p, size_t n)
{
	add(ctx, p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evk_reader_opts o = {0};
	struct out got = {0};
	struct evk_reader *r;
	struct evk_line ln;
	struct src s;
	uint64_t want_no = 0;
	int rc;

	if (size < 2)
		return 0;
	o.max_line = 1 + data[0];
	o.on_skip = on_skip;
	o.skip_ctx = &got;
	s.p = data + 2;
	s.len = size - 2;
	s.pos = 0;
	s.seed = data[1];
	if ((r = evk_reader_new_fn(src_read, &s, &o)) == NULL)
		abort();
	while ((rc = evk_reader_next(r, &ln, NULL)) != 0) {
		if (ln.no != ++want_no)
			abort();
		if (rc == 1 || rc == EVK_ENUL) {
			if (ln.len > o.max_line)
				abort();
			if ((rc == 1) != (memchr(ln.p, 0, ln.len) == NULL))
				abort();
			add(&got, ln.p, ln.len);
			if (ln.crlf)
				add(&got, "\r", 1);
		} else if (rc != EVK_ETOOLONG || ln.len <= o.max_line) {
			abort();
		}
		add(&got, "\n", 1);
	}
	if (s.len > 0 && s.p[s.len - 1] != '\n') {
		/* The last line had no "\n"; the oracle added one. */
		if (got.len == 0 || got.p[got.len - 1] != '\n')
			abort();
		got.len--;
	}
	if (got.len != s.len || (s.len && memcmp(got.p, s.p, s.len)))
		abort();
	free(got.p);
	evk_reader_free(r);
	return 0;
}
