/*
 * evkit/buf.h - spans into memory and growable byte buffers.
 */
#ifndef EVKIT_BUF_H
#define EVKIT_BUF_H

#include <stddef.h>
#include <string.h>

#include "evkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A borrowed run of bytes; never NUL-terminated by contract. */
struct evk_span {
	const char *p;
	size_t len;
};

#define EVK_SPAN_ZERO \
	{ \
		NULL, 0 \
	}

/* A growable buffer.  Starts as EVK_BUF_ZERO, owns `p`; free with
 * evk_buf_free().  `p[len]` is always a NUL once anything was added, so
 * text can be handed to C string functions. */
struct evk_buf {
	char *p;
	size_t len;
	size_t cap;
};

#define EVK_BUF_ZERO \
	{ \
		NULL, 0, 0 \
	}

/* Makes room for `extra` more bytes (plus the NUL).  Returns 0 or
 * EVK_ENOMEM (the buffer is unchanged then). */
int evk_buf_reserve(struct evk_buf *b, size_t extra);

/* Appends `n` bytes.  Returns 0 or EVK_ENOMEM. */
static inline int
evk_buf_add(struct evk_buf *b, const void *p, size_t n)
{
	if (b->cap - b->len <= n) {
		int rc = evk_buf_reserve(b, n);
		if (rc < 0)
			return rc;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* Appends a C string.  Returns 0 or EVK_ENOMEM. */
static inline int
evk_buf_adds(struct evk_buf *b, const char *s)
{
	return evk_buf_add(b, s, strlen(s));
}

/* Empties the buffer, keeping its memory. */
static inline void
evk_buf_reset(struct evk_buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

/* Frees the memory; the buffer is EVK_BUF_ZERO again. */
void evk_buf_free(struct evk_buf *b);

#ifdef __cplusplus
}
#endif
#endif
