/*
 * Unit tests of the line reader and the fd sink (lib/frame.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "evkit/frame.h"
#include "t.h"

/* A scripted read function: hands out `src` in pieces of at most `chunk`
 * bytes (cut at `split` first when set), with one EINTR and one EAGAIN
 * thrown in when asked. */
struct script {
	const char *src;
	size_t len, pos;
	size_t chunk;
	size_t split;
	int eintr;
	int calls;
};

static ssize_t
script_read(void *ctx, void *buf, size_t len)
{
	struct script *s = ctx;
	size_t n;

	s->calls++;
	if (s->eintr > 0 && s->calls % 2 == 1) {
		s->eintr--;
		errno = EINTR;
		return -1;
	}
	n = s->len - s->pos;
	if (s->chunk && n > s->chunk)
		n = s->chunk;
	if (s->split && s->pos < s->split && s->pos + n > s->split)
		n = s->split - s->pos;
	if (n > len)
		n = len;
	memcpy(buf, s->src + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

/* Collected result of reading a whole input: lines joined by '|', errors
 * as <E:len>, plus the skipped bytes. */
struct result {
	char out[4096];
	size_t n;
	char skipped[4096];
	size_t ns;
};

static void
on_skip(void *ctx, const char *p, size_t n)
{
	struct result *r = ctx;

	if (r->ns + n < sizeof r->skipped) {
		memcpy(r->skipped + r->ns, p, n);
		r->ns += n;
	}
}

static void
put(struct result *r, const char *p, size_t n)
{
	if (r->n + n < sizeof r->out) {
		memcpy(r->out + r->n, p, n);
		r->n += n;
		r->out[r->n] = '\0';
	}
}

static int
read_all(struct script *s, size_t max, struct result *res)
{
	struct evk_reader_opts o = {0};
	struct evk_reader *r;
	struct evk_line ln;
	struct evk_err err;
	char tag[64];
	int rc, lines = 0;

	memset(res, 0, sizeof *res);
	o.max_line = max;
	o.on_skip = on_skip;
	o.skip_ctx = res;
	r = evk_reader_new_fn(script_read, s, &o);
	while ((rc = evk_reader_next(r, &ln, &err)) != 0) {
		if (rc == 1) {
			put(res, ln.p, ln.len);
			put(res, ln.crlf ? "^|" : "|", ln.crlf ? 2 : 1);
		} else if (rc == EVK_ETOOLONG) {
			snprintf(tag, sizeof tag, "<long:%zu@%llu>|", ln.len,
			    (unsigned long long)ln.no);
			put(res, tag, strlen(tag));
		} else if (rc == EVK_ENUL) {
			snprintf(tag, sizeof tag, "<nul:%zu@%llu>|", ln.len,
			    (unsigned long long)ln.no);
			put(res, tag, strlen(tag));
		} else {
			put(res, "<err>", 5);
			break;
		}
		lines++;
	}
	CHECK_INT(evk_reader_lineno(r), lines);
	evk_reader_free(r);
	return lines;
}

static void
expect(const char *in, size_t inlen, size_t max, const char *want)
{
	struct script s = {in, inlen, 0, 0, 0, 0, 0};
	struct result res;

	read_all(&s, max, &res);
	CHECK_STR(res.out, want);
}

TEST(empty_input)
{
	expect("", 0, 0, "");
}

TEST(no_final_newline)
{
	expect("a\nb", 3, 0, "a|b|");
	expect("a", 1, 0, "a|");
}

TEST(empty_lines_are_lines)
{
	expect("\n\n", 2, 0, "||");
	expect("a\n\nb\n", 5, 0, "a||b|");
}

TEST(crlf)
{
	expect("a\r\nb\r\n", 6, 0, "a^|b^|");
	expect("a\rb\n", 4, 0, "a\rb|");
	expect("a\r", 2, 0, "a^|");
}

TEST(exact_max_and_one_more)
{
	expect("abcd\nabcde\nab\n", 14, 4, "abcd|<long:5@2>|ab|");
	/* CR does not count: "abcd\r\n" is a 4-byte line. */
	expect("abcd\r\nx\n", 8, 4, "abcd^|x|");
	expect("abcde", 5, 4, "<long:5@1>|");
	expect("abcd", 4, 4, "abcd|");
}

TEST(long_line_skipped_with_bounded_memory)
{
	/* 300000 bytes against a limit of 10: the reader must skip through
	 * several buffer fills, hand the bytes to on_skip, and resync. */
	size_t n = 300000, i;
	char *in = malloc(n + 20);
	struct script s = {0};
	struct result res;

	for (i = 0; i < n; i++)
		in[i] = 'x';
	memcpy(in + n, "\nok\n", 4);
	s.src = in;
	s.len = n + 4;
	s.chunk = 7000;
	read_all(&s, 10, &res);
	CHECK_STR(res.out, "<long:300000@1>|ok|");
	free(in);
}

TEST(skipped_bytes_reach_on_skip)
{
	struct script s = {"a\nlonglonglong\r\nb\n", 18, 0, 0, 0, 0, 0};
	struct result res;

	read_all(&s, 4, &res);
	CHECK_STR(res.out, "a|<long:12@2>|b|");
	CHECK_MEM(res.skipped, res.ns, "longlonglong\r", 13);
}

TEST(nul_rejected_line_kept)
{
	expect("a\nb\0c\nd\n", 8, 0, "a|<nul:3@2>|d|");
}

TEST(split_at_every_byte_boundary)
{
	static const char in[] = "{\"a\":1}\r\n\nxyz\nlong line here\nq";
	const char *want = "{\"a\":1}^||xyz|<long:14@4>|q|";
	struct result res;
	size_t k;

	for (k = 1; k < sizeof in - 1; k++) {
		struct script s = {in, sizeof in - 1, 0, 0, k, 0, 0};
		read_all(&s, 10, &res);
		if (strcmp(res.out, want)) {
			printf("#   split at %zu: %s\n", k, res.out);
			CHECK(0);
		}
	}
	for (k = 1; k <= 3; k++) {
		struct script s = {in, sizeof in - 1, 0, k, 0, 0, 0};
		read_all(&s, 10, &res);
		CHECK_STR(res.out, want);
	}
}

TEST(eintr_is_retried)
{
	struct script s = {"a\nb\n", 4, 0, 1, 0, 3, 0};
	struct result res;

	read_all(&s, 0, &res);
	CHECK_STR(res.out, "a|b|");
}

TEST(eintr_with_stop_returns)
{
	volatile sig_atomic_t stop = 1;
	struct script s = {"a\n", 2, 0, 0, 0, 1, 0};
	struct evk_reader_opts o = {0};
	struct evk_reader *r;
	struct evk_line ln;

	o.stop = &stop;
	r = evk_reader_new_fn(script_read, &s, &o);
	CHECK_INT(evk_reader_next(r, &ln, NULL), EVK_EINTR);
	stop = 0;
	CHECK_INT(evk_reader_next(r, &ln, NULL), 1);
	CHECK_MEM(ln.p, ln.len, "a", 1);
	evk_reader_free(r);
}

static volatile sig_atomic_t usr1;

static void
on_usr1(int sig)
{
	usr1 = sig;
}

TEST(stop_signal_while_blocked_is_not_lost)
{
	/* The signal is blocked and already pending when the reader is
	 * about to wait on an empty pipe: with the wait mask, pselect()
	 * delivers it and the reader returns EVK_EINTR instead of blocking
	 * in read() forever. */
	struct evk_reader_opts o = {0};
	struct evk_reader *r;
	struct evk_line ln;
	sigset_t block, wait;
	int fds[2];

	signal(SIGUSR1, on_usr1);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &wait);
	sigdelset(&wait, SIGUSR1);
	CHECK(pipe(fds) == 0);
	CHECK(write(fds[1], "x\n", 2) == 2);
	o.stop = &usr1;
	o.sigmask = &wait;
	r = evk_reader_new(fds[0], &o);
	CHECK_INT(evk_reader_next(r, &ln, NULL), 1);
	raise(SIGUSR1);
	CHECK_INT(usr1, 0); /* still pending */
	CHECK_INT(evk_reader_next(r, &ln, NULL), EVK_EINTR);
	CHECK_INT(usr1, SIGUSR1);
	evk_reader_free(r);
	close(fds[0]);
	close(fds[1]);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	signal(SIGUSR1, SIG_DFL);
}

TEST(many_lines_through_a_pipe)
{
	/* A real fd: a child writes 200000 numbered lines in odd-sized
	 * writes, the reader must see each once, in order. */
	int fds[2], ok = 1;
	struct evk_reader *r;
	struct evk_line ln;
	unsigned long want = 0;
	pid_t pid;
	int rc;

	CHECK(pipe(fds) == 0);
	if ((pid = fork()) == 0) {
		char buf[8192];
		size_t n = 0;
		close(fds[0]);
		for (unsigned long i = 0; i < 200000; i++) {
			n += (size_t)snprintf(buf + n, sizeof buf - n, "%lu\n", i);
			if (n > sizeof buf - 32 || i % 977 == 0) {
				if (write(fds[1], buf, n) != (ssize_t)n)
					_exit(1);
				n = 0;
			}
		}
		if (write(fds[1], buf, n) != (ssize_t)n)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	r = evk_reader_new(fds[0], NULL);
	while ((rc = evk_reader_next(r, &ln, NULL)) == 1) {
		char num[32];
		int k = snprintf(num, sizeof num, "%lu", want++);
		if ((size_t)k != ln.len || memcmp(num, ln.p, ln.len))
			ok = 0;
	}
	CHECK_INT(rc, 0);
	CHECK(ok);
	CHECK_INT(want, 200000);
	evk_reader_free(r);
	close(fds[0]);
}

/* evk_reader_ready(): a batching program asks before a read that may
 * block; through a pipe, a half line is not ready, a whole one is. */
TEST(ready_only_when_no_read_is_needed)
{
	struct evk_reader *r;
	struct evk_line ln;
	int fd[2];

	CHECK(pipe(fd) == 0);
	r = evk_reader_new(fd[0], NULL);
	CHECK(r != NULL);
	CHECK(!evk_reader_ready(r));
	CHECK(write(fd[1], "a\nb\nc", 5) == 5);
	CHECK_INT(evk_reader_next(r, &ln, NULL), 1);
	CHECK(evk_reader_ready(r)); /* "b\n" is buffered */
	CHECK_INT(evk_reader_next(r, &ln, NULL), 1);
	CHECK(!evk_reader_ready(r)); /* "c" needs more bytes */
	close(fd[1]);
	CHECK_INT(evk_reader_next(r, &ln, NULL), 1);
	CHECK(ln.len == 1 && ln.p[0] == 'c');
	CHECK(evk_reader_ready(r)); /* the end is known */
	CHECK_INT(evk_reader_next(r, &ln, NULL), 0);
	evk_reader_free(r);
	close(fd[0]);
}

TEST(read_error_reported)
{
	struct evk_reader *r = evk_reader_new(-1, NULL);
	struct evk_line ln;
	struct evk_err err = EVK_ERR_ZERO;

	CHECK_INT(evk_reader_next(r, &ln, &err), EVK_EIO);
	CHECK_INT(err.sys_errno, EBADF);
	CHECK(strstr(err.msg, "read") != NULL);
	evk_reader_free(r);
}

/* --- sink ---------------------------------------------------------------- */

static char *
read_file(const char *path, size_t *n)
{
	return t_slurp(path, n);
}

TEST(sink_buffers_and_flushes)
{
	char path[] = "/tmp/evk-test-sinkXXXXXX";
	int fd = mkstemp(path);
	struct evk_sink *s = evk_sink_fd(fd, EVK_SINK_CLOSEFD);
	struct evk_err err = EVK_ERR_ZERO;
	char *got;
	size_t n;

	CHECK_INT(evk_sink_put(s, "one", 3, &err), 0);
	CHECK_INT(evk_sink_put(s, "", 0, &err), 0);
	got = read_file(path, &n);
	CHECK_INT(n, 0); /* still buffered */
	free(got);
	CHECK_INT(evk_sink_flush(s, &err), 0);
	got = read_file(path, &n);
	CHECK_MEM(got, n, "one\n\n", 5);
	free(got);
	CHECK_INT(evk_sink_close(s, &err), 0);
	unlink(path);
}

TEST(sink_line_buffered)
{
	char path[] = "/tmp/evk-test-sinkXXXXXX";
	int fd = mkstemp(path);
	struct evk_sink *s = evk_sink_fd(fd, EVK_SINK_LINEBUF | EVK_SINK_CLOSEFD);
	char *got;
	size_t n;

	CHECK_INT(evk_sink_put(s, "x", 1, NULL), 0);
	got = read_file(path, &n);
	CHECK_MEM(got, n, "x\n", 2);
	free(got);
	CHECK_INT(evk_sink_close(s, NULL), 0);
	unlink(path);
}

TEST(sink_large_lines)
{
	char path[] = "/tmp/evk-test-sinkXXXXXX";
	int fd = mkstemp(path);
	struct evk_sink *s = evk_sink_fd(fd, EVK_SINK_CLOSEFD);
	size_t big = 300000, n, i;
	char *line = malloc(big), *got;
	int ok = 1;

	memset(line, 'z', big);
	CHECK_INT(evk_sink_put(s, "a", 1, NULL), 0);
	CHECK_INT(evk_sink_put(s, line, big, NULL), 0);
	CHECK_INT(evk_sink_put(s, "b", 1, NULL), 0);
	CHECK_INT(evk_sink_close(s, NULL), 0);
	got = read_file(path, &n);
	CHECK_INT(n, big + 5);
	if (got != NULL && n == big + 5) {
		ok = !memcmp(got, "a\n", 2) && !memcmp(got + 2 + big, "\nb\n", 3);
		for (i = 0; i < big; i++)
			ok &= got[2 + i] == 'z';
	}
	CHECK(ok);
	free(got);
	free(line);
	unlink(path);
}

TEST(sink_epipe)
{
	int fds[2];
	struct evk_sink *s;
	struct evk_err err = EVK_ERR_ZERO;

	signal(SIGPIPE, SIG_IGN);
	CHECK(pipe(fds) == 0);
	close(fds[0]);
	s = evk_sink_fd(fds[1], EVK_SINK_LINEBUF | EVK_SINK_CLOSEFD);
	CHECK_INT(evk_sink_put(s, "x", 1, &err), EVK_EPIPE);
	/* The error sticks: nothing more is written. */
	CHECK_INT(evk_sink_put(s, "y", 1, &err), EVK_EPIPE);
	evk_sink_close(s, NULL);
}

TEST(sink_full_disk)
{
	int fd = open("/dev/full", O_WRONLY);
	struct evk_sink *s;
	struct evk_err err = EVK_ERR_ZERO;

	if (fd < 0) {
		CHECK(!"/dev/full missing");
		return;
	}
	s = evk_sink_fd(fd, EVK_SINK_CLOSEFD);
	CHECK_INT(evk_sink_put(s, "x", 1, &err), 0);
	CHECK_INT(evk_sink_close(s, &err), EVK_EIO);
	CHECK_INT(err.sys_errno, ENOSPC);
}

TEST(sink_file_missing_dir)
{
	struct evk_err err = EVK_ERR_ZERO;

	CHECK(evk_sink_file("/nonexistent/dir/x", 0644, 0, &err) == NULL);
	CHECK_INT(err.code, EVK_EIO);
	CHECK(strstr(err.msg, "/nonexistent/dir/x: No such file") != NULL);
}

int
main(void)
{
	RUN(empty_input);
	RUN(no_final_newline);
	RUN(empty_lines_are_lines);
	RUN(crlf);
	RUN(exact_max_and_one_more);
	RUN(long_line_skipped_with_bounded_memory);
	RUN(skipped_bytes_reach_on_skip);
	RUN(nul_rejected_line_kept);
	RUN(split_at_every_byte_boundary);
	RUN(eintr_is_retried);
	RUN(eintr_with_stop_returns);
	RUN(stop_signal_while_blocked_is_not_lost);
	RUN(many_lines_through_a_pipe);
	RUN(ready_only_when_no_read_is_needed);
	RUN(read_error_reported);
	RUN(sink_buffers_and_flushes);
	RUN(sink_line_buffered);
	RUN(sink_large_lines);
	RUN(sink_epipe);
	RUN(sink_full_disk);
	RUN(sink_file_missing_dir);
	return t_done();
}
