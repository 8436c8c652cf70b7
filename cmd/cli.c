/*
 * cmd/cli.c - shared program helpers (see cli.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evkit/expr.h"
#include "evkit/time.h"
#include "cli.h"

const char *cli_prog = "evkit";
volatile sig_atomic_t cli_stop;
sigset_t cli_waitmask;

static void
on_stop(int sig)
{
	cli_stop = sig;
}

void
cli_init(const char *prog)
{
	struct sigaction sa;
	sigset_t stops;

	cli_prog = prog;
	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	sigprocmask(SIG_BLOCK, &stops, &cli_waitmask);
	sigdelset(&cli_waitmask, SIGINT);
	sigdelset(&cli_waitmask, SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: an interrupted wait returns */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

void
cli_reraise(void)
{
	int sig = cli_stop;
	sigset_t set;

	if (sig == 0)
		return;
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	raise(sig); /* pending while blocked: delivered on unblocking */
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static void
vwarn(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", cli_prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void
cli_die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	exit(status);
}

void
cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", cli_prog);
	exit(CLI_FATAL);
}

void
cli_reject(const char *file, uint64_t line, const char *fmt, ...)
{
	va_list ap;

	if (file == NULL || !strcmp(file, "-"))
		fprintf(stderr, "%s: line %llu: ", cli_prog,
		    (unsigned long long)line);
	else
		fprintf(stderr, "%s: %s:%llu: ", cli_prog, file,
		    (unsigned long long)line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
cli_vreject_line(const char *file, const struct evk_line *ln,
    struct cli_dead *d, const char *fmt, va_list ap)
{
	char reason[320];

	vsnprintf(reason, sizeof reason, fmt, ap);
	cli_reject(file, ln->no, "%s", reason);
	if (ln->p != NULL)
		cli_dead_line(d, ln->p, ln->len, ln->crlf);
	else
		cli_dead_line(d, NULL, 0, 0);
}

void
cli_reject_line(const char *file, const struct evk_line *ln, struct cli_dead *d,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vreject_line(file, ln, d, fmt, ap);
	va_end(ap);
}

size_t
cli_max_line(const char *s)
{
	return (size_t)cli_number("--max-line", s, 1, 1LL << 30, 1);
}

unsigned
cli_max_depth(const char *s)
{
	return (unsigned)cli_number("--max-depth", s, 1, 10000, 0);
}

int64_t
cli_duration(const char *opt, const char *s)
{
	struct evk_err err = EVK_ERR_ZERO;
	int64_t ns;

	if (evk_duration_parse(s, strlen(s), &ns, &err) < 0)
		cli_usage_error("%s %s: %s", opt, s, err.msg);
	if (ns <= 0)
		cli_usage_error("%s %s: must be more than 0", opt, s);
	return ns;
}

long long
cli_number(const char *opt, const char *s, long long min, long long max,
    int suffix)
{
	long long v, mul = 1;
	char *end;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || (*s != '-' && (*s < '0' || *s > '9')))
		cli_usage_error("%s %s: invalid number", opt, s);
	if (suffix && *end != '\0' && end[1] == '\0') {
		switch (*end) {
		case 'K':
		case 'k':
			mul = 1LL << 10;
			end++;
			break;
		case 'M':
		case 'm':
			mul = 1LL << 20;
			end++;
			break;
		case 'G':
		case 'g':
			mul = 1LL << 30;
			end++;
			break;
		}
	}
	if (*end != '\0')
		cli_usage_error("%s %s: invalid number", opt, s);
	if (errno == ERANGE || v > LLONG_MAX / mul || v < LLONG_MIN / mul)
		cli_usage_error("%s %s: %s", opt, s,
		    v < 0 ? "too small" : "too large");
	v *= mul;
	if (v < min)
		cli_usage_error("%s %s: too small", opt, s);
	if (v > max)
		cli_usage_error("%s %s: too large", opt, s);
	return v;
}

void
cli_dead_open(struct cli_dead *d, const char *path)
{
	d->path = path;
	d->f = NULL;
	if (path == NULL)
		return;
	if ((d->f = fopen(path, "ae")) == NULL)
		cli_die(CLI_FATAL, "%s: %s", path, strerror(errno));
}

void
cli_dead_line(struct cli_dead *d, const char *p, size_t n, int crlf)
{
	if (d->f == NULL)
		return;
	if (n > 0)
		fwrite(p, 1, n, d->f);
	fputs(crlf ? "\r\n" : "\n", d->f);
}

void
cli_dead_skip(void *ctx, const char *p, size_t n)
{
	struct cli_dead *d = ctx;

	if (d->f != NULL)
		fwrite(p, 1, n, d->f);
}

void
cli_dead_close(struct cli_dead *d)
{
	if (d->f == NULL)
		return;
	if ((ferror(d->f) | fclose(d->f)) != 0)
		cli_die(CLI_FATAL, "%s: write failed: %s", d->path,
		    strerror(errno));
	d->f = NULL;
}

void
cli_output_failed(int rc, const struct evk_err *err, int status)
{
	if (rc == EVK_EPIPE)
		exit(status);
	cli_die(CLI_FATAL, "%s", err->msg[0] ? err->msg : evk_strerror(rc));
}

int
cli_errf(struct evk_err *e, int code, const char *fmt, ...)
{
	char msg[sizeof e->msg];
	va_list ap;

	/* Through a copy: the arguments often include e->msg itself. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	memcpy(e->msg, msg, sizeof msg);
	e->code = code;
	e->column = 0;
	return code;
}

int
cli_blank(const char *p, size_t n)
{
	while (n > 0 && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++, n--;
	return n == 0;
}

struct evk_reader *
cli_reader(int fd, size_t max_line, struct cli_dead *d)
{
	return cli_reader_fn(fd, max_line, d->f != NULL ? cli_dead_skip : NULL,
	    d);
}

struct evk_reader *
cli_reader_fn(int fd, size_t max_line, evk_skip_fn on_skip, void *ctx)
{
	struct evk_reader_opts ro = {0};
	struct evk_reader *r;

	ro.max_line = max_line;
	ro.stop = &cli_stop;
	ro.sigmask = &cli_waitmask;
	ro.on_skip = on_skip;
	ro.skip_ctx = ctx;
	if ((r = evk_reader_new(fd, &ro)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	return r;
}

void
cli_inputs(char **files, int n,
    void (*run)(void *ctx, int fd, const char *name), void *ctx,
    const int *done, int *failed)
{
	int i, fd;

	if (n == 0)
		run(ctx, STDIN_FILENO, NULL);
	for (i = 0; i < n && !cli_stop && (done == NULL || !*done); i++) {
		if (!strcmp(files[i], "-")) {
			run(ctx, STDIN_FILENO, NULL);
			continue;
		}
		if ((fd = open(files[i], O_RDONLY | O_CLOEXEC)) < 0) {
			cli_warn("%s: %s", files[i], strerror(errno));
			*failed = CLI_FATAL;
			continue;
		}
		run(ctx, fd, files[i]);
		close(fd);
	}
}

const char *
cli_input_name(const char *name)
{
	return name != NULL ? name : "stdin";
}

void
cli_caret(const char *src, size_t len, size_t column)
{
	size_t col = column > 0 ? column - 1 : 0, i;

	fprintf(stderr, "  %.*s\n  ", (int)len, src);
	for (i = 0; i < col && i < len; i++)
		if (((unsigned char)src[i] & 0xc0) != 0x80)
			fputc(src[i] == '\t' ? '\t' : ' ', stderr);
	fputs("^\n", stderr);
}

struct evk_expr *
cli_expr_build(char **exprs, int nexprs, char **topics, int ntopics,
    const char *prefix)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_expr *all = NULL, *any = NULL, *x;
	int i;

	for (i = 0; i < ntopics; i++) {
		if ((x = evk_expr_topic(topics[i], &err)) == NULL) {
			evk_expr_free(any);
			cli_usage_error("-t %s: %s", topics[i], err.msg);
		}
		if ((any = any ? evk_expr_join(any, x, 0) : x) == NULL)
			cli_die(CLI_FATAL, "out of memory");
	}
	for (i = 0; i < nexprs; i++) {
		if ((x = evk_expr_compile(exprs[i], &err)) == NULL) {
			evk_expr_free(any);
			evk_expr_free(all);
			cli_warn("%scolumn %zu: %s", prefix, err.column,
			    err.msg);
			cli_caret(exprs[i], strlen(exprs[i]), err.column);
			exit(CLI_FATAL);
		}
		if ((all = all ? evk_expr_join(all, x, 1) : x) == NULL)
			cli_die(CLI_FATAL, "out of memory");
	}
	if (any != NULL && all != NULL) {
		if ((all = evk_expr_join(any, all, 1)) == NULL)
			cli_die(CLI_FATAL, "out of memory");
	} else if (any != NULL) {
		all = any;
	}
	return all;
}
