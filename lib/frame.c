/*
 * lib/frame.c - the line reader and the buffered fd sink.
 *
 * The reader keeps one buffer of max_line + 1 + READ_CHUNK bytes.  Unread
 * data lives in [start, end); `scan` remembers how far we already looked
 * for a newline so that a line arriving in many small reads is not
 * searched again from its start (that would be quadratic).  When more than
 * max_line + 1 bytes are pending without a newline the line cannot fit any
 * more (the +1 leaves room for a "\r" before "\n"), so the reader switches
 * to skipping: bytes go to on_skip and are dropped until the next newline.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "evkit/frame.h"
#include "internal.h"

/* Large reads keep syscalls rare; 128 KiB is what pipes deliver at most
 * at once on Linux with a grown pipe buffer, and more than files need. */
#define READ_CHUNK (128 * 1024)

struct evk_reader {
	evk_read_fn fn;
	void *ctx;
	int fd; /* -1 for evk_reader_new_fn() readers */
	char *buf;
	size_t cap;
	size_t start, end, scan;
	size_t max;
	uint64_t lineno;
	int eof;
	int skipping;
	size_t skipped; /* bytes of the line being skipped so far */
	int skipped_cr; /* the last skipped byte was "\r" */
	evk_skip_fn on_skip;
	void *skip_ctx;
	volatile sig_atomic_t *stop;
	const sigset_t *sigmask;
};

static ssize_t
fd_read(void *ctx, void *buf, size_t len)
{
	return read(*(int *)ctx, buf, len);
}

struct evk_reader *
evk_reader_new_fn(evk_read_fn fn, void *ctx, const struct evk_reader_opts *o)
{
	struct evk_reader *r;
	size_t max = o && o->max_line ? o->max_line : EVK_MAX_LINE;

	if (max > SIZE_MAX / 2)
		return NULL;
	if ((r = calloc(1, sizeof *r)) == NULL)
		return NULL;
	r->cap = max + 1 + READ_CHUNK;
	if ((r->buf = malloc(r->cap)) == NULL) {
		free(r);
		return NULL;
	}
	r->fn = fn;
	r->ctx = ctx;
	r->fd = -1;
	r->max = max;
	if (o != NULL) {
		r->on_skip = o->on_skip;
		r->skip_ctx = o->skip_ctx;
		r->stop = o->stop;
		r->sigmask = o->sigmask;
	}
	return r;
}

struct evk_reader *
evk_reader_new(int fd, const struct evk_reader_opts *o)
{
	struct evk_reader *r = evk_reader_new_fn(fd_read, NULL, o);

	if (r != NULL) {
		r->fd = fd;
		r->ctx = &r->fd;
	}
	return r;
}

void
evk_reader_free(struct evk_reader *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r);
}

uint64_t
evk_reader_lineno(const struct evk_reader *r)
{
	return r->lineno;
}

int
evk_reader_ready(const struct evk_reader *r)
{
	return r->eof ||
	    (!r->skipping && memchr(r->buf + r->scan, '\n', r->end - r->scan));
}

static void
skip(struct evk_reader *r, const char *p, size_t n)
{
	r->skipped += n;
	if (n > 0)
		r->skipped_cr = p[n - 1] == '\r';
	if (r->on_skip != NULL && n > 0)
		r->on_skip(r->skip_ctx, p, n);
}

/* Ends a skipped line: reports it as too long. */
static int
too_long(struct evk_reader *r, struct evk_line *line, struct evk_err *err)
{
	/* The length reported is the line's, without a "\r" terminator
	 * (which on_skip did receive, so that a dead letter is verbatim). */
	line->p = NULL;
	line->crlf = r->skipped_cr;
	line->len = r->skipped - (size_t)line->crlf;
	line->no = ++r->lineno;
	r->skipping = 0;
	r->skipped = 0;
	r->skipped_cr = 0;
	if (err != NULL)
		err->line = line->no;
	return evk__err(err, EVK_ETOOLONG, 0,
	    "line too long (%zu bytes, limit %zu)", line->len, r->max);
}

/* Hands out [start, stop) as a line and consumes it up to `next`. */
static int
emit(struct evk_reader *r, size_t stop, size_t next, struct evk_line *line,
    struct evk_err *err)
{
	const char *p = r->buf + r->start;
	size_t len = stop - r->start;

	r->start = r->scan = next;
	line->crlf = len > 0 && p[len - 1] == '\r';
	len -= (size_t)line->crlf;
	if (len > r->max) {
		r->skipped = 0;
		skip(r, p, len + (size_t)line->crlf);
		return too_long(r, line, err);
	}
	line->p = p;
	line->len = len;
	line->no = ++r->lineno;
	if (EVK__UNLIKELY(memchr(p, '\0', len) != NULL)) {
		if (err != NULL)
			err->line = line->no;
		return evk__err(err, EVK_ENUL,
		    (size_t)((const char *)memchr(p, '\0', len) - p) + 1,
		    "NUL byte in line");
	}
	return 1;
}

/* Fills the buffer once.  Returns >0 bytes read, 0 at end, or an error. */
static int
fill(struct evk_reader *r, struct evk_err *err)
{
	ssize_t n;

	/* Compact so that a whole READ_CHUNK fits after the pending bytes;
	 * pending is at most max + 1 here, which the capacity allows for. */
	if (r->start > 0 && r->cap - r->end < READ_CHUNK) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->scan -= r->start;
		r->start = 0;
	}
	for (;;) {
		if (r->stop != NULL && *r->stop)
			return evk__err(err, EVK_EINTR, 0, "interrupted");
		if (r->sigmask != NULL && r->fd >= 0 && r->fd < FD_SETSIZE) {
			fd_set rf;
			FD_ZERO(&rf);
			FD_SET(r->fd, &rf);
			sigset_t cur;
			if (pselect(r->fd + 1, &rf, NULL, NULL, NULL,
			        r->sigmask) < 0) {
				if (errno == EINTR)
					continue; /* *stop is checked above */
				return evk__err_sys(err, errno, "select");
			}
			/* Linux delivers a pending signal in pselect() only
			 * when it had to wait; with input always ready (a
			 * file, a busy pipe) let it in here. */
			sigprocmask(SIG_SETMASK, r->sigmask, &cur);
			sigprocmask(SIG_SETMASK, &cur, NULL);
			if (r->stop != NULL && *r->stop)
				return evk__err(err, EVK_EINTR, 0,
				    "interrupted");
		}
		n = r->fn(r->ctx, r->buf + r->end, r->cap - r->end);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue; /* *stop is checked at the top */
		if ((errno == EAGAIN || errno == EWOULDBLOCK) && r->fd >= 0) {
			struct pollfd pfd = {r->fd, POLLIN, 0};
			(void)poll(&pfd, 1, -1);
			continue;
		}
		return evk__err_sys(err, errno, "read");
	}
	r->end += (size_t)n;
	return (int)(n > 0);
}

int
evk_reader_next(struct evk_reader *r, struct evk_line *line,
    struct evk_err *err)
{
	const char *nl;
	int rc;

	for (;;) {
		nl = memchr(r->buf + r->scan, '\n', r->end - r->scan);
		if (nl != NULL) {
			size_t at = (size_t)(nl - r->buf);
			if (r->skipping) {
				skip(r, r->buf + r->start, at - r->start);
				r->start = r->scan = at + 1;
				return too_long(r, line, err);
			}
			return emit(r, at, at + 1, line, err);
		}
		r->scan = r->end;
		if (r->skipping || r->end - r->start > r->max + 1) {
			if (!r->skipping) {
				r->skipping = 1;
				r->skipped = 0;
			}
			skip(r, r->buf + r->start, r->end - r->start);
			r->start = r->end = r->scan = 0;
		}
		if (r->eof) {
			if (r->skipping)
				return too_long(r, line, err);
			if (r->start < r->end)
				return emit(r, r->end, r->end, line, err);
			return 0;
		}
		if ((rc = fill(r, err)) < 0)
			return rc;
		if (rc == 0)
			r->eof = 1;
	}
}

/* --- sinks ------------------------------------------------------------- */

struct evk_sink {
	const struct evk_sink_ops *ops;
	void *impl;
};

struct evk_sink *
evk_sink_new(const struct evk_sink_ops *ops, void *impl)
{
	struct evk_sink *s = malloc(sizeof *s);

	if (s != NULL) {
		s->ops = ops;
		s->impl = impl;
	}
	return s;
}

int
evk_sink_put(struct evk_sink *s, const char *p, size_t len, struct evk_err *err)
{
	return s->ops->put(s->impl, p, len, err);
}

int
evk_sink_flush(struct evk_sink *s, struct evk_err *err)
{
	return s->ops->flush(s->impl, err);
}

int
evk_sink_close(struct evk_sink *s, struct evk_err *err)
{
	int rc;

	if (s == NULL)
		return 0;
	rc = s->ops->close(s->impl, err);
	free(s);
	return rc;
}

/* The buffered fd writer.  Block size: large enough that a pipe or file
 * sees few writes, small enough to stay in cache. */
#define SINK_BUF (128 * 1024)

struct fdsink {
	int fd;
	int flags;
	int linebuf;
	int failed; /* sticky first error: no write after a failed one */
	size_t len;
	char buf[SINK_BUF];
};

static int
write_all(struct fdsink *f, const char *p, size_t n, struct evk_err *err)
{
	ssize_t w;

	while (n > 0) {
		w = write(f->fd, p, n);
		if (w >= 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			struct pollfd pfd = {f->fd, POLLOUT, 0};
			(void)poll(&pfd, 1, -1);
			continue;
		}
		f->failed = errno == EPIPE ? EVK_EPIPE : EVK_EIO;
		return evk__err_sys(err, errno, "write");
	}
	return 0;
}

static int
fdsink_flush(void *impl, struct evk_err *err)
{
	struct fdsink *f = impl;
	int rc;

	if (f->failed)
		return evk__err(err, f->failed, 0, "earlier write failed");
	rc = write_all(f, f->buf, f->len, err);
	f->len = 0;
	return rc;
}

static int
fdsink_put(void *impl, const char *p, size_t len, struct evk_err *err)
{
	struct fdsink *f = impl;
	int rc;

	if (EVK__UNLIKELY(len + 1 > SINK_BUF - f->len)) {
		if ((rc = fdsink_flush(f, err)) < 0)
			return rc;
		if (len + 1 > SINK_BUF) {
			/* Bigger than the buffer: write it straight out. */
			if ((rc = write_all(f, p, len, err)) < 0)
				return rc;
			return write_all(f, "\n", 1, err);
		}
	}
	memcpy(f->buf + f->len, p, len);
	f->len += len;
	f->buf[f->len++] = '\n';
	if (f->linebuf)
		return fdsink_flush(f, err);
	return 0;
}

static int
fdsink_close(void *impl, struct evk_err *err)
{
	struct fdsink *f = impl;
	int rc = f->failed ? 0 : fdsink_flush(f, err);

	if ((f->flags & EVK_SINK_CLOSEFD) && close(f->fd) < 0 && rc == 0)
		rc = evk__err_sys(err, errno, "close");
	free(f);
	return rc;
}

static const struct evk_sink_ops fdsink_ops = {
    fdsink_put,
    fdsink_flush,
    fdsink_close,
};

struct evk_sink *
evk_sink_fd(int fd, int flags)
{
	struct fdsink *f = malloc(sizeof *f);
	struct evk_sink *s;

	if (f == NULL)
		return NULL;
	f->fd = fd;
	f->flags = flags;
	f->linebuf = (flags & EVK_SINK_LINEBUF) ||
	    ((flags & EVK_SINK_AUTO) && isatty(fd));
	f->failed = 0;
	f->len = 0;
	if ((s = evk_sink_new(&fdsink_ops, f)) == NULL)
		free(f);
	return s;
}

struct evk_sink *
evk_sink_file(const char *path, int mode, int flags, struct evk_err *err)
{
	struct evk_sink *s;
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode);
	if (fd < 0) {
		evk__err_sys(err, errno, "%s", path);
		return NULL;
	}
	if ((s = evk_sink_fd(fd, flags | EVK_SINK_CLOSEFD)) == NULL) {
		close(fd);
		evk__err(err, EVK_ENOMEM, 0, "out of memory");
	}
	return s;
}
