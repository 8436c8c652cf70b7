/*
 * lib/buf.c - growable byte buffers.
 */
#include <stdint.h>
#include <stdlib.h>

#include "evkit/buf.h"

int
evk_buf_reserve(struct evk_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	/* +1 keeps room for the NUL that evk_buf_add() maintains. */
	if (extra > SIZE_MAX - b->len - 1)
		return EVK_ENOMEM;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return EVK_ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

void
evk_buf_free(struct evk_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
