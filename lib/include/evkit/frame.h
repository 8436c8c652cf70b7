/*
 * evkit/frame.h - newline framing: a line reader and a line sink.
 *
 * Every evkit program reads NDJSON with an evk_reader and writes it through
 * an evk_sink.  The reader hands out lines as spans into its own buffer
 * (no copy), with bounded memory: a line longer than the limit is skipped
 * and reported, never truncated and never buffered whole.  The sink is an
 * interface: the buffered fd writer below is one implementation, a bus
 * transport is another.
 */
#ifndef EVKIT_FRAME_H
#define EVKIT_FRAME_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "evkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default longest line, in bytes, without its terminator. */
#define EVK_MAX_LINE (1024 * 1024)

/* One line as handed out by evk_reader_next(). */
struct evk_line {
	const char *p; /* the bytes, without "\n" or "\r\n"; valid until the
	                * next call of evk_reader_next() */
	size_t len;
	uint64_t no; /* 1-based line number */
	int crlf; /* nonzero when the line ended in "\r\n" */
};

/* Where a reader gets its bytes: like read(2), returns the count, 0 at end
 * of input, or -1 with errno set (EINTR and EAGAIN are handled by the
 * reader).  Lets tests and transports feed readers without an fd. */
typedef ssize_t (*evk_read_fn)(void *ctx, void *buf, size_t len);

/* Receives, in pieces, the bytes of a line that is being skipped because
 * it is too long, so that a dead-letter file can keep it verbatim with
 * bounded memory.  The terminator is not included. */
typedef void (*evk_skip_fn)(void *ctx, const char *p, size_t len);

struct evk_reader_opts {
	size_t max_line; /* 0 means EVK_MAX_LINE */
	evk_skip_fn on_skip; /* may be NULL */
	void *skip_ctx;
	/* When not NULL and nonzero before a read or after a read was
	 * interrupted by a signal, evk_reader_next() returns EVK_EINTR
	 * instead of reading, so that a program can act on SIGTERM. */
	volatile sig_atomic_t *stop;
	/* Race-free waiting for fd readers: a program that keeps its stop
	 * signals blocked passes the mask to wait with (the same, with them
	 * unblocked); the reader waits in pselect() with it before each
	 * read, so a signal that arrives between the check of *stop and the
	 * read cannot leave it blocked in read(). */
	const sigset_t *sigmask;
};

struct evk_reader;

/* Returns a new reader over `fd` (borrowed: never closed by the reader),
 * or NULL when out of memory.  `o` may be NULL for defaults.  Free with
 * evk_reader_free(). */
struct evk_reader *evk_reader_new(int fd, const struct evk_reader_opts *o);

/* As evk_reader_new() with bytes from `fn(ctx, ...)`. */
struct evk_reader *evk_reader_new_fn(evk_read_fn fn, void *ctx,
    const struct evk_reader_opts *o);

/* Frees `r`; NULL does nothing. */
void evk_reader_free(struct evk_reader *r);

/*
 * Reads the next line into `*line`.  Returns 1 for a line, 0 at the end of
 * input, or an error:
 *   EVK_ETOOLONG  the line was longer than max_line; it has been skipped
 *                 (its bytes went to on_skip), `line->no` is its number and
 *                 `line->len` its full length; reading may go on.
 *   EVK_ENUL      the line holds a NUL byte; `*line` is the whole line
 *                 (for a dead letter) and reading may go on.
 *   EVK_EIO       read failed (err->sys_errno); reading should stop.
 *   EVK_EINTR     opts.stop was set during a read.
 * A last line without "\n" is a line; an empty input has no lines; a lone
 * "\r" before "\n" is removed (and line->crlf set).  `err` may be NULL;
 * err->line is set for line errors.
 */
int evk_reader_next(struct evk_reader *r, struct evk_line *line,
    struct evk_err *err);

/* The number of lines read so far (including rejected ones). */
uint64_t evk_reader_lineno(const struct evk_reader *r);

/* Nonzero when the next evk_reader_next() returns without reading: a
 * whole line is buffered, or the input has ended.  A program that batches
 * lines hands its batch on before a call that may block. */
int evk_reader_ready(const struct evk_reader *r);

/*
 * A sink takes whole events: one put per event line, without its "\n".
 */
struct evk_sink;

struct evk_sink_ops {
	/* Writes one line; returns 0 or an EVK_E* code. */
	int (*put)(void *impl, const char *p, size_t len, struct evk_err *err);
	/* Pushes out anything buffered; returns 0 or an EVK_E* code. */
	int (*flush)(void *impl, struct evk_err *err);
	/* Flushes and releases everything; returns 0 or an EVK_E* code.
	 * Called once, by evk_sink_close(). */
	int (*close)(void *impl, struct evk_err *err);
};

/* Returns a new sink over an implementation (borrowed `ops`, owned `impl`
 * that ops->close releases), or NULL when out of memory. */
struct evk_sink *evk_sink_new(const struct evk_sink_ops *ops, void *impl);

enum {
	EVK_SINK_LINEBUF = 1, /* flush after every line */
	EVK_SINK_AUTO = 2, /* flush after every line when fd is a tty */
	EVK_SINK_CLOSEFD = 4, /* evk_sink_close() closes the fd */
};

/*
 * Returns a new buffered sink writing to `fd` (borrowed unless
 * EVK_SINK_CLOSEFD), or NULL when out of memory.  Lines are gathered into
 * a large buffer and written in blocks, or one write per line with
 * EVK_SINK_LINEBUF (or EVK_SINK_AUTO on a terminal).  Writes retry EINTR,
 * wait on EAGAIN with poll() and loop over partial writes.  EPIPE is
 * returned as EVK_EPIPE so that a program can stop quietly when its reader
 * left.
 */
struct evk_sink *evk_sink_fd(int fd, int flags);

/*
 * Opens `path` for appending (created with `mode` when missing) and
 * returns a sink on it, or NULL with `err` filled.
 */
struct evk_sink *evk_sink_file(const char *path, int mode, int flags,
    struct evk_err *err);

/* Writes the line `p[0..len)` and a "\n".  Returns 0 or an EVK_E* code. */
int evk_sink_put(struct evk_sink *s, const char *p, size_t len,
    struct evk_err *err);

/* Pushes buffered lines out.  Returns 0 or an EVK_E* code. */
int evk_sink_flush(struct evk_sink *s, struct evk_err *err);

/*
 * Flushes, closes and frees `s` (NULL does nothing).  Returns 0, or the
 * first error of the flush or close, so that a full disk at exit is seen.
 */
int evk_sink_close(struct evk_sink *s, struct evk_err *err);

#ifdef __cplusplus
}
#endif
#endif
