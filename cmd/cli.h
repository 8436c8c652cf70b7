/*
 * cmd/cli.h - what every evkit program shares: one message grammar, bounded
 * number parsing, dead-letter files, signal flags and output errors.
 * Linked into each program; not part of libevkit (which never prints).
 */
#ifndef EVK_CLI_H
#define EVK_CLI_H

#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "evkit/err.h"
#include "evkit/frame.h"

#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Exit statuses (evkit(7)). */
enum { CLI_OK = 0, CLI_REJECTED = 1, CLI_FATAL = 2 };

extern const char *cli_prog;

/* Sets the program name used in messages, ignores SIGPIPE (EPIPE is
 * handled where writes happen), and makes SIGINT/SIGTERM set cli_stop.
 * Those two stay blocked except while waiting for input with
 * cli_waitmask (see evk_reader_opts.sigmask), so a stop request is never
 * lost between a check and a blocking read.  A program that starts
 * children must restore the mask in them. */
void cli_init(const char *prog);

extern volatile sig_atomic_t cli_stop;
extern sigset_t cli_waitmask;

/* "prog: message" on stderr. */
void cli_warn(const char *fmt, ...) CLI_PRINTF(1, 2);

/* "prog: message" on stderr, then exit(status). */
_Noreturn void cli_die(int status, const char *fmt, ...) CLI_PRINTF(2, 3);

/* A usage error: "prog: message", a hint to --help, exit 2. */
_Noreturn void cli_usage_error(const char *fmt, ...) CLI_PRINTF(1, 2);

/* A rejected input line: "prog: line N: reason" for stdin (file NULL or
 * "-"), "prog: FILE:N: reason" for a named file. */
void cli_reject(const char *file, uint64_t line, const char *fmt, ...)
    CLI_PRINTF(3, 4);

/* Parses a whole decimal integer option value in [min, max], with an
 * optional K, M or G suffix (binary multiples) when `suffix` is set; dies
 * with "prog: OPT VALUE: too small|too large|invalid number" otherwise. */
long long cli_number(const char *opt, const char *s, long long min,
    long long max, int suffix);

/* The values of --max-line (1 to 1G, K/M/G suffixes) and --max-depth
 * (1 to 10000), the same in every program; they die as cli_number(). */
size_t cli_max_line(const char *s);
unsigned cli_max_depth(const char *s);

/* A duration option value above 0 in nanoseconds ("5m", "1h30m"); dies
 * with "prog: OPT VALUE: reason" otherwise. */
int64_t cli_duration(const char *opt, const char *s);

/* Dead letters: rejected lines kept verbatim in a file opened for append. */
struct cli_dead {
	FILE *f;
	const char *path;
};

/* Opens `path` (NULL: dead letters off) or dies. */
void cli_dead_open(struct cli_dead *d, const char *path);
/* Keeps a rejected line (its bytes, then "\r\n" or "\n"). */
void cli_dead_line(struct cli_dead *d, const char *p, size_t n, int crlf);
/* An evk_skip_fn: pieces of an over-long line; cli_dead_line(d, NULL, 0,
 * 0) ends it. */
void cli_dead_skip(void *d, const char *p, size_t n);
/* Closes the file; dies with status 2 when the close or a write failed. */
void cli_dead_close(struct cli_dead *d);

/* A rejected line, reported as cli_reject() does and kept in the dead
 * letters `d`: its bytes, or, for an over-long line whose bytes went there
 * while it was skipped (ln->p NULL), its end. */
void cli_reject_line(const char *file, const struct evk_line *ln,
    struct cli_dead *d, const char *fmt, ...) CLI_PRINTF(4, 5);
void cli_vreject_line(const char *file, const struct evk_line *ln,
    struct cli_dead *d, const char *fmt, va_list ap) CLI_PRINTF(4, 0);

/* A reader of `fd` the way every program reads: lines up to `max_line`,
 * stopped by cli_stop without a race (cli_waitmask), over-long lines
 * streamed into the dead letters `d`.  Dies when out of memory. */
struct evk_reader *cli_reader(int fd, size_t max_line, struct cli_dead *d);

/* The same with the bytes of over-long lines going to on_skip(ctx, ...)
 * (may be NULL): for a program that must write what came before first. */
struct evk_reader *cli_reader_fn(int fd, size_t max_line, evk_skip_fn on_skip,
    void *ctx);

/*
 * The inputs of a program with FILE operands: calls run(ctx, fd, name)
 * for each of files[0..n) in turn, or for standard input when n is 0.
 * "-" is standard input too; its name is then NULL, which cli_reject()
 * writes as "line N".  A file that cannot be opened is reported, sets
 * *failed to CLI_FATAL at once (a later output error exits with the
 * status earned so far) and is skipped.  Stops early at a stop signal or
 * when *done (may be NULL) is set.
 */
void cli_inputs(char **files, int n,
    void (*run)(void *ctx, int fd, const char *name), void *ctx,
    const int *done, int *failed);

/* The name of an input for other messages: NULL is "stdin". */
const char *cli_input_name(const char *name);

/* After a failed write or flush of the program's output: a reader that
 * left (EVK_EPIPE) ends the program quietly with `status`; anything else
 * is reported and exits 2. */
_Noreturn void cli_output_failed(int rc, const struct evk_err *err, int status);

/* When a stop signal arrived: restore its default action and raise it, so
 * the parent sees how we ended.  Returns when no signal arrived. */
void cli_reraise(void);

/* Nonzero when the line holds only blanks (space, tab, CR): no event. */
int cli_blank(const char *p, size_t n);

/* Writes "  SRC" (src[0..len)) and, on the next line, a caret under its
 * 1-based `column` to stderr.  Tabs stay tabs and a UTF-8 character takes
 * one cell, so the caret lands under the token on a terminal. */
void cli_caret(const char *src, size_t len, size_t column);

/*
 * The -t topic patterns joined with ||, the -e expressions with &&, and
 * the two with &&, as evfilter joins them; NULL when there are none.  A
 * bad pattern is a usage error; a bad expression is reported as
 * "PROG: PREFIXcolumn N: message" with the expression and a caret, and
 * exits 2.
 */
struct evk_expr;
struct evk_expr *cli_expr_build(char **exprs, int nexprs, char **topics,
    int ntopics, const char *prefix);

/* Fills `e` with `code` and a formatted message; returns `code`. */
int cli_errf(struct evk_err *e, int code, const char *fmt, ...)
    CLI_PRINTF(3, 4);

#endif
