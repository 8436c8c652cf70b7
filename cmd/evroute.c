/*
 * evroute - send each event to every destination whose rule matches.
 *
 * The rules are lib/route.c's.  Here: the destinations.  Each holds its
 * pending bytes (whole lines) in a bounded buffer written through a
 * non-blocking descriptor, so that one slow destination either holds
 * the router back (--on-full block) or loses new events, counted
 * (--on-full drop-new), while the others are served.  A destination that
 * fails is retried with backoff; meanwhile its events are dead letters,
 * or, without --dead-letter, the router stops.
 */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evkit/bus.h"
#include "evkit/frame.h"
#include "evkit/json.h"
#include "evkit/route.h"
#include "cli.h"

static const char usage_text[] =
    "usage: evroute [options] RULES [FILE ...]\n"
    "       evroute [options] -r RULE | -f RULES ... [FILE ...]\n"
    "\n"
    "Send each event (JSON line) to every destination whose rule matches,\n"
    "byte for byte.  A rule is 'MATCH -> DEST': MATCH is * (every event),\n"
    "a topic pattern (order.>) or an evfilter expression; DEST is stdout,\n"
    "stderr, null, fd:N, file:PATH (with {field} templates), unix:PATH,\n"
    "bus: or bus:URL, exec:COMMAND.\n"
    "\n"
    "  -r, --rule RULE         a rule (repeatable)\n"
    "  -f, --rules FILE        the rules in FILE, one a line (repeatable)\n"
    "      --first             only the first rule that matches counts\n"
    "      --else DEST         where the events no rule matches go\n"
    "                          (default: dropped, counted)\n"
    "      --on-full MODE      a destination's buffer is full: block\n"
    "                          (default) or drop-new\n"
    "      --buffer N          a destination's buffer, in bytes (default "
    "1M)\n"
    "      --dead-letter FILE  append rejected lines and undeliverable\n"
    "                          events to FILE, verbatim\n"
    "      --file-mode MODE    mode of the files created (default 0644)\n"
    "      --max-open N        templated files open at once (default 64)\n"
    "      --max-line N        longest line in bytes (default 1M)\n"
    "      --max-depth N       deepest JSON nesting (default 128)\n"
    "  -h, --help              show this help and exit\n"
    "  -V, --version           show the version and exit\n"
    "\n"
    "Exit status: 0 every event delivered, 1 some line rejected or event\n"
    "dropped or dead-lettered, 2 error.\n";

#define FLUSH_AT (64 * 1024) /* write a buffer out once it holds this */
#define BACKOFF_MIN (100 * 1000000LL) /* ns */
#define BACKOFF_MAX (10 * 1000000000LL)

struct router;
struct dest;

/* An open descriptor with its pending bytes: whole lines, off written. */
struct out {
	int fd; /* -1: closed */
	int own; /* ours to close */
	int careful; /* not ours and a pipe or socket: poll before writing,
	                PIPE_BUF at a time, so it never blocks */
	struct evk_buf buf;
	size_t off;
	char *path; /* templated file: its name */
	uint64_t hash, used; /* of path; LRU clock */
	struct dest *d;
};

struct dest {
	const struct evk_dest *spec;
	struct out o; /* every kind but bus and templated files */
	struct out **files; /* templated: the open ones */
	uint64_t *hashes; /* of their names, in step */
	size_t nfiles;
	struct evk_bus *bus;
	pid_t pid; /* exec: the child, 0 when none */
	int down;
	int64_t retry_at, backoff;
	unsigned long long written, dropped, dead, errors;
};

struct router {
	struct evk_routes *rt;
	struct dest *d;
	size_t nd;
	size_t *hits;
	struct evk_json_checker *json;
	struct cli_dead dead;
	struct evk_reader *r;
	struct evk_buf path;
	size_t bound, max_open, max_line;
	int drop_new, first, file_mode;
	unsigned long long events, rejected_lines, unmatched;
	uint64_t clock;
	int status; /* CLI_FATAL once fatal */
	int quit; /* stop reading: a fatal failure, stdout closed */
	int lost; /* bytes a dead command had not read */
	int in_fd;
};

static volatile sig_atomic_t got_hup, got_usr1, wake;
static sigset_t waitmask; /* cli_waitmask with SIGHUP, SIGUSR1 too */
static sigset_t origmask; /* for the children */

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		cli_stop = sig;
	wake = 1;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
summary(struct router *R)
{
	size_t i;

	cli_warn("input: %llu events, %llu lines rejected", R->events,
	    R->rejected_lines);
	for (i = 0; i < R->nd; i++)
		cli_warn("%s: %llu written, %llu dropped, %llu dead-lettered, "
		         "%llu errors",
		    R->d[i].spec->text, R->d[i].written, R->d[i].dropped,
		    R->d[i].dead, R->d[i].errors);
	if (evk_routes_else(R->rt) == NULL)
		cli_warn("unmatched: %llu dropped", R->unmatched);
}

/* --- opening -------------------------------------------------------------- */

static void
close_out(struct out *o)
{
	if (o->fd >= 0 && o->own)
		close(o->fd);
	o->fd = -1;
	evk_buf_reset(&o->buf);
	o->off = 0;
}

/* Creates the directories above `path`, as mkdir -p. */
static void
mkdirs(const char *path)
{
	char *p = strdup(path), *s;

	if (p == NULL)
		return;
	for (s = p + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		(void)mkdir(p, 0777);
		*s = '/';
	}
	free(p);
}

static int
open_file(struct router *R, const char *path)
{
	int fd, fl = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK;

	/* O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of
	 * hanging, and one with a reader is polled like a pipe. */
	fd = open(path, fl, R->file_mode);
	if (fd < 0 && errno == ENOENT && strchr(path, '/') != NULL) {
		mkdirs(path);
		fd = open(path, fl, R->file_mode);
	}
	return fd;
}

static int
open_unix(const char *path)
{
	struct sockaddr_un sa;
	int fd, e;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1); /* checked: fits */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	/* Nothing is read from it: its own end says nothing. */
	shutdown(fd, SHUT_RD);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* A long-running `sh -c COMMAND` reading the events on its stdin. */
static int
spawn(struct dest *d)
{
	int pfd[2], e;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	if ((pid = fork()) < 0) {
		e = errno;
		close(pfd[0]);
		close(pfd[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		dup2(pfd[0], STDIN_FILENO);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGUSR1, SIG_DFL);
		sigprocmask(SIG_SETMASK, &origmask, NULL);
		execl("/bin/sh", "sh", "-c", d->spec->arg, (char *)NULL);
		_exit(127);
	}
	close(pfd[0]);
	fcntl(pfd[1], F_SETFL, O_NONBLOCK);
	d->pid = pid;
	return pfd[1];
}

/* Reaps the child of an exec: destination, waiting for it when `block`. */
static void
reap(struct dest *d, int block)
{
	int st;

	if (d->pid > 0 && waitpid(d->pid, &st, block ? 0 : WNOHANG) != 0)
		d->pid = 0;
}

static void
bus_dead(void *ctx, const char *p, size_t len)
{
	struct router *R = ctx;

	cli_dead_line(&R->dead, p, len, 0);
}

static struct router *router; /* for the bus's callbacks */

/* The bus refused an event it was sent: a dead letter, counted. */
static void
bus_refused(void *ctx, const char *p, size_t len, const char *msg)
{
	struct dest *d = ctx;

	cli_warn("%s: the bus refused an event: %s", d->spec->text, msg);
	if (d->written > 0)
		d->written--;
	if (router->dead.f != NULL) {
		cli_dead_line(&router->dead, p, len, 0);
		d->dead++;
	} else {
		d->dropped++;
	}
}

/* A descriptor that is not ours (stdout, fd:N) is polled before each
 * write when it is a pipe or a socket, rather than made non-blocking:
 * its file description is shared with other processes. */
static void
adopt_fd(struct out *o, int fd)
{
	struct stat st;

	o->fd = fd;
	o->own = 0;
	o->careful = fstat(fd, &st) == 0 &&
	    (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

/* Opens destination `d` (again).  Returns 0, or -1 with errno and
 * *what ("open", "connect", ...) set. */
static int
open_dest(struct router *R, struct dest *d, const char **what,
    struct evk_err *err)
{
	const struct evk_dest *s = d->spec;
	char url[512];
	int fd = -1;

	*what = "open";
	switch (s->kind) {
	case EVK_DEST_STDOUT: adopt_fd(&d->o, STDOUT_FILENO); return 0;
	case EVK_DEST_STDERR: adopt_fd(&d->o, STDERR_FILENO); return 0;
	case EVK_DEST_NULL: return 0;
	case EVK_DEST_FD:
		if (fcntl(s->fd, F_GETFL) < 0)
			return -1;
		adopt_fd(&d->o, s->fd);
		return 0;
	case EVK_DEST_FILE:
		if (s->templated)
			return 0; /* each file when an event needs it */
		fd = open_file(R, s->arg);
		break;
	case EVK_DEST_UNIX:
		*what = "connect";
		fd = open_unix(s->arg);
		break;
	case EVK_DEST_EXEC:
		*what = "start";
		fd = spawn(d);
		break;
	case EVK_DEST_BUS: {
		struct evk_bus_pub_opts bo = {0};
		*what = "bus";
		bo.wait.stop = &cli_stop;
		bo.wait.sigmask = &cli_waitmask;
		bo.on_reject = bus_refused;
		bo.ctx = d;
		if (evk_bus_url(*s->arg ? s->arg : NULL, url, sizeof url) < 0) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (evk_bus_connect_pub(url, &bo, &d->bus, err) < 0) {
			errno = err->sys_errno ? err->sys_errno : ECONNREFUSED;
			return -1;
		}
		return 0;
	}
	}
	if (fd < 0)
		return -1;
	d->o.fd = fd;
	d->o.own = 1;
	d->o.careful = 0;
	return 0;
}

/* --- failing ------------------------------------------------------------- */

static size_t
count_lines(const char *p, size_t n)
{
	size_t k = 0;
	const char *nl;

	while (n > 0 && (nl = memchr(p, '\n', n)) != NULL) {
		k++;
		n -= (size_t)(nl - p) + 1;
		p = nl + 1;
	}
	return k;
}

/* An event that cannot go to `d` now: a dead letter, or the end. */
static void
undeliverable(struct router *R, struct dest *d, const char *p, size_t n)
{
	if (R->dead.f != NULL) {
		cli_dead_line(&R->dead, p, n, 0);
		d->dead++;
		return;
	}
	/* Without dead letters, stopping is the only way not to lose
	 * more. */
	d->dropped++;
	R->quit = 1;
	R->status = CLI_FATAL;
}

/*
 * Destination `d` failed (errno `e` during `what`, or `msg`): the events
 * still in the buffer of `o` (may be NULL), from the one that was being
 * written, become dead letters, and `d` is down until its next retry.
 * Without --dead-letter the router stops.
 */
static void
fail(struct router *R, struct dest *d, struct out *o, const char *what, int e,
    const char *msg)
{
	size_t k = 0, start;
	int64_t t = now_ns();

	/* The reader of our standard output left (| head): a quiet end. */
	if (d->spec->kind == EVK_DEST_STDOUT && e == EPIPE) {
		R->quit = 1;
		if (o != NULL)
			close_out(o);
		d->down = 1;
		d->retry_at = INT64_MAX;
		return;
	}
	d->errors++;
	if (o != NULL && o->buf.len > o->off) {
		/* From the start of the line being written: part of it may
		 * have gone through, but no whole event is lost. */
		for (start = o->off; start > 0 && o->buf.p[start - 1] != '\n';
		     start--)
			;
		/* A file keeps no part of an event: what went through of the
		 * one being written is cut off again (it is a dead letter
		 * whole), so that the next one does not run into it. */
		if (o->off > start && o->fd >= 0) {
			struct stat st;
			off_t part = (off_t)(o->off - start);
			if (fstat(o->fd, &st) == 0 && S_ISREG(st.st_mode) &&
			    st.st_size >= part)
				(void)ftruncate(o->fd, st.st_size - part);
		}
		k = count_lines(o->buf.p + start, o->buf.len - start);
		d->written -= k;
		if (R->dead.f != NULL) {
			const char *p = o->buf.p + start, *nl;
			while ((nl = memchr(p, '\n',
			            (size_t)(o->buf.p + o->buf.len - p))) !=
			    NULL) {
				cli_dead_line(&R->dead, p, (size_t)(nl - p), 0);
				p = nl + 1;
			}
			d->dead += k;
		} else {
			d->dropped += k;
		}
	}
	if (msg != NULL)
		cli_warn("%s: %s", d->spec->text, msg);
	else
		cli_warn("%s: %s%s%s: %s", d->spec->text, what,
		    o != NULL && o->path ? " " : "",
		    o != NULL && o->path ? o->path : "", strerror(e));
	/* What a command that died had not read yet is in its pipe, out of
	 * reach: not silently lost, but said, and the status says it. */
	if (o != NULL && o->fd >= 0 && d->spec->kind == EVK_DEST_EXEC) {
		int unread = 0;
		if (ioctl(o->fd, FIONREAD, &unread) == 0 && unread > 0) {
			cli_warn("%s: %d bytes of events it had not read are "
			         "lost",
			    d->spec->text, unread);
			R->lost = 1;
		}
	}
	if (o != NULL)
		close_out(o);
	if (d->spec->kind == EVK_DEST_EXEC)
		reap(d, 0);
	if (R->dead.f == NULL) {
		if (k > 0)
			cli_warn("%s: %zu events not delivered", d->spec->text,
			    k);
		cli_warn("stopping: no --dead-letter to keep the events of "
		         "%s",
		    d->spec->text);
		R->quit = 1;
		R->status = CLI_FATAL;
	} else if (!d->down) {
		cli_warn("%s: down, its events go to %s until it is back",
		    d->spec->text, R->dead.path);
	}
	d->down = 1;
	d->backoff = d->backoff ? d->backoff * 2 : BACKOFF_MIN;
	if (d->backoff > BACKOFF_MAX)
		d->backoff = BACKOFF_MAX;
	d->retry_at = t + d->backoff;
}

/* --- writing ------------------------------------------------------------- */

/* Writes what `o` holds, without blocking (but for regular files).
 * Returns 0 (all or part written) or -1 with errno. */
static int
out_write(struct out *o)
{
	ssize_t w;
	size_t n;

	while (o->off < o->buf.len) {
		n = o->buf.len - o->off;
		if (o->careful) {
			struct pollfd p = {o->fd, POLLOUT, 0};
			if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLOUT)) {
				if (p.revents & (POLLERR | POLLHUP)) {
					errno = EPIPE;
					return -1;
				}
				return 0;
			}
			if (n > PIPE_BUF)
				n = PIPE_BUF;
		}
		w = write(o->fd, o->buf.p + o->off, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		o->off += (size_t)w;
	}
	o->off = 0;
	evk_buf_reset(&o->buf);
	return 0;
}

static void
out_write_or_fail(struct router *R, struct out *o)
{
	if (o->fd >= 0 && out_write(o) < 0)
		fail(R, o->d, o, "write", errno, NULL);
}

static size_t
pending(const struct out *o)
{
	return o->fd >= 0 ? o->buf.len - o->off : 0;
}

static void handle_signals(struct router *R);

/* Every out with pending bytes, in pf[] (room for `cap`); outs[] in
 * step.  Regular files are written at once instead (never EAGAIN). */
static size_t
gather(struct router *R, struct pollfd *pf, struct out **outs, size_t cap)
{
	size_t i, j, n = 0;
	struct out *o;

	for (i = 0; i < R->nd; i++) {
		struct dest *d = &R->d[i];
		for (j = 0; j < (d->files ? d->nfiles : 1); j++) {
			o = d->files ? d->files[j] : &d->o;
			if (pending(o) == 0)
				continue;
			out_write_or_fail(R, o);
			if (pending(o) == 0 || n == cap)
				continue;
			pf[n].fd = o->fd;
			pf[n].events = POLLOUT;
			pf[n].revents = 0;
			outs[n++] = o;
		}
	}
	return n;
}

/*
 * Waits until `o` has room for `need` more bytes (o NULL: until every
 * buffer is empty), serving every destination meanwhile.  With
 * `in_fd` >= 0 it also returns when input is readable, and with
 * `idle_ms` >= 0 when no destination took anything for that long.
 * Returns early at a stop signal.
 */
static void
pump(struct router *R, struct out *o, size_t need, int in_fd, int idle_ms)
{
	struct timespec ts = {idle_ms / 1000, (idle_ms % 1000) * 1000000L};
	int rc;
	size_t cap = 16, n, i;
	struct pollfd *pf = NULL;
	struct out **outs = NULL;

	for (;;) {
		if (cli_stop)
			break;
		handle_signals(R);
		cap = R->nd * 2 + 8;
		for (i = 0; i < R->nd; i++)
			cap += R->d[i].nfiles;
		free(pf);
		free(outs);
		pf = calloc(cap + 1, sizeof *pf);
		outs = calloc(cap + 1, sizeof *outs);
		if (pf == NULL || outs == NULL)
			cli_die(CLI_FATAL, "out of memory");
		n = gather(R, pf, outs, cap);
		if (o != NULL &&
		    (o->fd < 0 || pending(o) == 0 ||
		        pending(o) + need <= R->bound))
			break;
		if (n == 0)
			break;
		if (in_fd >= 0) {
			pf[n].fd = in_fd;
			pf[n].events = POLLIN;
			pf[n].revents = 0;
		}
		rc = ppoll(pf, n + (in_fd >= 0), idle_ms >= 0 ? &ts : NULL,
		    &waitmask);
		if (rc == 0)
			break;
		if (rc < 0)
			continue;
		if (in_fd >= 0 && pf[n].revents)
			break;
		for (i = 0; i < n; i++)
			if (pf[i].revents)
				out_write_or_fail(R, outs[i]);
	}
	free(pf);
	free(outs);
}

/* Appends the event to `o`: a drop, a wait, or a write when full. */
static void
out_put(struct router *R, struct out *o, const char *p, size_t n)
{
	struct dest *d = o->d;

	if (pending(o) > 0 && pending(o) + n + 1 > R->bound) {
		out_write_or_fail(R, o);
		if (o->fd < 0) {
			undeliverable(R, d, p, n);
			return;
		}
		if (pending(o) > 0 && pending(o) + n + 1 > R->bound) {
			if (R->drop_new) {
				d->dropped++;
				return;
			}
			pump(R, o, n + 1, -1, -1);
			if (o->fd < 0 || cli_stop) {
				undeliverable(R, d, p, n);
				return;
			}
		}
	}
	/* Keep the buffer from creeping: what was written goes. */
	if (o->off > 0 && o->off == o->buf.len) {
		evk_buf_reset(&o->buf);
		o->off = 0;
	}
	if (evk_buf_add(&o->buf, p, n) < 0 || evk_buf_add(&o->buf, "\n", 1) < 0)
		cli_die(CLI_FATAL, "out of memory");
	d->written++;
	if (pending(o) >= FLUSH_AT)
		out_write_or_fail(R, o);
}

/* A hash of a file name, 8 bytes at a time (names are short, and it is
 * computed for every event of a templated destination). */
static uint64_t
hash_path(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, p, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 32);
}

static void
flush_blocking(struct router *R, struct out *o)
{
	while (pending(o) > 0 && !cli_stop)
		pump(R, o, R->bound, -1, -1);
}

/* The open file of a templated destination for the path in R->path:
 * found, or opened (the least recently used one closed to make room). */
static struct out *
templated(struct router *R, struct dest *d)
{
	uint64_t h = hash_path(R->path.p, R->path.len);
	struct out *o, **nf;
	size_t i, lru = 0;
	int fd;

	/* The hashes side by side: one cache line holds eight. */
	for (i = 0; i < d->nfiles; i++) {
		if (d->hashes[i] == h &&
		    !strcmp(d->files[i]->path, R->path.p)) {
			o = d->files[i];
			o->used = ++R->clock;
			/* Closed by a failure: open again (it is retried). */
			if (o->fd < 0 && (o->fd = open_file(R, o->path)) < 0) {
				fail(R, d, o, "open", errno, NULL);
				return NULL;
			}
			return o;
		}
	}
	for (i = 1; i < d->nfiles; i++)
		if (d->files[i]->used < d->files[lru]->used)
			lru = i;
	if ((fd = open_file(R, R->path.p)) < 0) {
		struct out tmp = {-1, 0, 0, EVK_BUF_ZERO, 0, R->path.p, 0, 0,
		    d};
		fail(R, d, &tmp, "open", errno, NULL);
		return NULL;
	}
	if (d->nfiles == R->max_open) {
		o = d->files[lru];
		flush_blocking(R, o);
		if (o->fd >= 0 && close(o->fd) < 0)
			fail(R, d, NULL, "close", errno, NULL);
		o->fd = -1;
		/* The slot is reused for the new file. */
		free(o->path);
		d->hashes[lru] = h;
	} else {
		uint64_t *nh;
		if ((nf = realloc(d->files, (d->nfiles + 1) * sizeof *nf)) ==
		        NULL ||
		    (d->files = nf,
		        (nh = realloc(d->hashes,
		             (d->nfiles + 1) * sizeof *nh)) == NULL) ||
		    (d->hashes = nh, (o = calloc(1, sizeof *o)) == NULL))
			cli_die(CLI_FATAL, "out of memory");
		d->hashes[d->nfiles] = h;
		d->files[d->nfiles++] = o;
	}
	if ((o->path = strdup(R->path.p)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	evk_buf_reset(&o->buf);
	o->off = 0;
	o->fd = fd;
	o->own = 1;
	o->careful = 0;
	o->hash = h;
	o->used = ++R->clock;
	o->d = d;
	return o;
}

/* Tries to bring a down destination back. */
static void
revive(struct router *R, struct dest *d)
{
	struct evk_err err = EVK_ERR_ZERO;
	const char *what;

	if (now_ns() < d->retry_at)
		return;
	evk_bus_close(d->bus);
	d->bus = NULL;
	if (d->spec->kind == EVK_DEST_EXEC)
		reap(d, 0);
	if (open_dest(R, d, &what, &err) < 0) {
		/* Still down: fail() says why, not "down" again. */
		fail(R, d, NULL, what, errno,
		    d->spec->kind == EVK_DEST_BUS ? err.msg : NULL);
		return;
	}
	d->down = 0;
	d->backoff = 0;
	cli_warn("%s: back", d->spec->text);
}

static void
deliver(struct router *R, struct dest *d, const char *p, size_t n,
    struct evk_span ev)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct out *o;

	if (d->down) {
		revive(R, d);
		if (d->down) {
			undeliverable(R, d, p, n);
			return;
		}
	}
	switch (d->spec->kind) {
	case EVK_DEST_NULL: d->written++; return;
	case EVK_DEST_BUS:
		if (evk_bus_publish(d->bus, p, n, &err) < 0) {
			size_t k = evk_bus_unacked(d->bus, bus_dead, R);
			d->written -= k < d->written ? k : d->written;
			if (R->dead.f != NULL)
				d->dead += k;
			else
				d->dropped += k;
			fail(R, d, NULL, "publish", EIO, err.msg);
			undeliverable(R, d, p, n);
			return;
		}
		d->written++;
		return;
	case EVK_DEST_FILE:
		if (d->spec->templated) {
			evk_buf_reset(&R->path);
			if (evk_route_path(d->spec, ev, &R->path) < 0)
				cli_die(CLI_FATAL, "out of memory");
			if ((o = templated(R, d)) == NULL) {
				undeliverable(R, d, p, n);
				return;
			}
			out_put(R, o, p, n);
			return;
		}
		break;
	default: break;
	}
	out_put(R, &d->o, p, n);
}

/* --- signals, input ------------------------------------------------------ */

static void
reopen_files(struct router *R)
{
	size_t i, j;
	const char *what;
	struct evk_err err = EVK_ERR_ZERO;

	for (i = 0; i < R->nd; i++) {
		struct dest *d = &R->d[i];
		if (d->spec->kind != EVK_DEST_FILE || d->down)
			continue;
		if (d->spec->templated) {
			for (j = 0; j < d->nfiles; j++) {
				flush_blocking(R, d->files[j]);
				if (d->files[j]->fd >= 0)
					close(d->files[j]->fd);
				d->files[j]->fd = -1;
				free(d->files[j]->path);
				free(d->files[j]->buf.p);
				free(d->files[j]);
			}
			d->nfiles = 0;
			continue;
		}
		flush_blocking(R, &d->o);
		if (d->o.fd >= 0 && close(d->o.fd) < 0)
			fail(R, d, NULL, "close", errno, NULL);
		d->o.fd = -1;
		if (!d->down && open_dest(R, d, &what, &err) < 0)
			fail(R, d, NULL, what, errno, NULL);
	}
}

static void
handle_signals(struct router *R)
{
	if (!wake)
		return;
	wake = 0;
	if (got_usr1) {
		got_usr1 = 0;
		summary(R);
	}
	if (got_hup) {
		got_hup = 0;
		reopen_files(R);
	}
	if (cli_stop)
		wake = 1; /* the reader must see it */
}

static void reject(struct router *R, const char *name,
    const struct evk_line *ln, const char *fmt, ...) CLI_PRINTF(4, 5);

static void
reject(struct router *R, const char *name, const struct evk_line *ln,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vreject_line(name, ln, &R->dead, fmt, ap);
	va_end(ap);
	R->rejected_lines++;
}

static void
line(struct router *R, const char *name, const struct evk_line *ln)
{
	struct evk_err err;
	enum evk_json_type type;
	struct evk_span ev = {ln->p, ln->len};
	int n, i;

	err.msg[0] = '\0';
	if (cli_blank(ln->p, ln->len))
		return;
	if (evk_json_check(R->json, ln->p, ln->len, &type, &err) < 0) {
		reject(R, name, ln, "invalid JSON: %s at column %zu", err.msg,
		    err.column);
		return;
	}
	if (type != EVK_JSON_OBJECT) {
		reject(R, name, ln, "not a JSON object");
		return;
	}
	if ((n = evk_routes_match(R->rt, ev, R->first, R->hits, &err)) < 0) {
		reject(R, name, ln, "%s", err.msg);
		return;
	}
	R->events++;
	if (n == 0)
		R->unmatched++;
	for (i = 0; i < n && !R->quit; i++)
		deliver(R, &R->d[R->hits[i]], ln->p, ln->len + (size_t)ln->crlf,
		    ev);
}

static void
flush_bus(struct router *R)
{
	struct evk_err err = EVK_ERR_ZERO;
	size_t i, k;

	for (i = 0; i < R->nd; i++) {
		struct dest *d = &R->d[i];
		if (d->bus == NULL || d->down)
			continue;
		if (evk_bus_flush(d->bus, &err) < 0) {
			k = evk_bus_unacked(d->bus, bus_dead, R);
			d->written -= k < d->written ? k : d->written;
			if (R->dead.f != NULL)
				d->dead += k;
			else
				d->dropped += k;
			fail(R, d, NULL, "publish", EIO, err.msg);
		}
	}
}

/* Nonzero when reading `fd` would not wait (a file, a busy pipe): the
 * buffers are then written when full, not at every read. */
static int
input_waiting(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};

	return poll(&p, 1, 0) > 0;
}

static void
run(void *ctx, int fd, const char *name)
{
	struct router *R = ctx;
	struct evk_reader_opts ro = {0};
	struct evk_line ln;
	struct evk_err err;
	int rc;

	ro.max_line = R->max_line;
	ro.stop = &wake;
	ro.sigmask = &waitmask;
	ro.on_skip = R->dead.f != NULL ? cli_dead_skip : NULL;
	ro.skip_ctx = &R->dead;
	if ((R->r = evk_reader_new(fd, &ro)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	while (!R->quit && !cli_stop) {
		/* Before waiting for input, what is pending goes out. */
		if (!evk_reader_ready(R->r) && !input_waiting(fd)) {
			pump(R, NULL, 0, fd, -1);
			flush_bus(R);
			if (R->dead.f != NULL)
				fflush(R->dead.f);
		}
		err.msg[0] = '\0';
		rc = evk_reader_next(R->r, &ln, &err);
		if (rc == 1) {
			line(R, name, &ln);
		} else if (rc == EVK_ETOOLONG || rc == EVK_ENUL) {
			reject(R, name, &ln, "%s", err.msg);
		} else if (rc == EVK_EINTR) {
			handle_signals(R);
		} else {
			if (rc == EVK_EIO) {
				cli_warn("%s: %s", cli_input_name(name),
				    err.msg);
				R->status = CLI_FATAL;
			}
			break;
		}
	}
	evk_reader_free(R->r);
	R->r = NULL;
}

/* --- the end ------------------------------------------------------------- */

static int
close_fd(struct router *R, struct dest *d, struct out *o)
{
	if (o->fd >= 0 && o->own && close(o->fd) < 0) {
		o->fd = -1;
		fail(R, d, NULL, "close", errno, NULL);
		return -1;
	}
	o->fd = -1;
	return 0;
}

static void
finish(struct router *R)
{
	size_t i, j, k;

	/* With drop-new, a destination that takes nothing for a second
	 * loses what it still holds, counted: the end is not held up. */
	pump(R, NULL, 0, -1, R->drop_new ? 1000 : -1);
	flush_bus(R);
	for (i = 0; i < R->nd; i++) {
		struct dest *d = &R->d[i];
		/* Stopped by a signal with a destination that blocks: what
		 * it still holds is lost, and said so. */
		k = 0;
		for (j = 0; j < (d->files ? d->nfiles : 1); j++) {
			struct out *o = d->files ? d->files[j] : &d->o;
			if (pending(o) > 0) {
				k += count_lines(o->buf.p + o->off,
				    o->buf.len - o->off);
				o->off = o->buf.len;
			}
			close_fd(R, d, o);
			if (d->files) {
				free(o->path);
				evk_buf_free(&o->buf);
				free(o);
			}
		}
		if (k > 0) {
			cli_warn("%s: %zu events not delivered", d->spec->text,
			    k);
			d->written -= k;
			d->dropped += k;
		}
		free(d->files);
		free(d->hashes);
		evk_buf_free(&d->o.buf);
		evk_bus_close(d->bus);
		reap(d, 1);
	}
}

static int
parse_mode(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 8);
	if (*s < '0' || *s > '7' || *end != '\0' || errno || v > 07777)
		cli_usage_error("--file-mode %s: not an octal mode", s);
	return (int)v;
}

/* "evroute: WHERE: column N: msg", the rule, a caret under column N. */
static void
rule_error(const char *where, const char *src, size_t len,
    const struct evk_err *err)
{
	size_t col = err->column ? err->column - 1 : 0, i;

	cli_warn("%s:%zu: %s", where, err->column, err->msg);
	fprintf(stderr, "  %.*s\n  ", (int)len, src);
	for (i = 0; i < col && i < len; i++)
		if (((unsigned char)src[i] & 0xc0) != 0x80)
			fputc(src[i] == '\t' ? '\t' : ' ', stderr);
	fputs("^\n", stderr);
}

/* Adds the rules of the file `path`; returns the number of errors. */
static int
load_rules(struct evk_routes *rt, const char *path)
{
	struct evk_buf text = EVK_BUF_ZERO;
	struct evk_err err = EVK_ERR_ZERO;
	char where[512], chunk[8192];
	const char *p, *nl, *end;
	uint64_t no = 0;
	size_t n;
	int fd, errors = 0;
	ssize_t got;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		cli_die(CLI_FATAL, "%s: %s", path, strerror(errno));
	while ((got = read(fd, chunk, sizeof chunk)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			cli_die(CLI_FATAL, "%s: %s", path, strerror(errno));
		if (text.len + (size_t)got > (1 << 20))
			cli_die(CLI_FATAL, "%s: more than 1M of rules", path);
		if (evk_buf_add(&text, chunk, (size_t)got) < 0)
			cli_die(CLI_FATAL, "out of memory");
	}
	close(fd);
	p = text.p;
	end = text.p + text.len;
	while (p != NULL && p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		no++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (evk_routes_add(rt, p, n, no, &err) < 0) {
			if (err.code == EVK_ENOMEM)
				cli_die(CLI_FATAL, "out of memory");
			snprintf(where, sizeof where, "%s:%llu", path,
			    (unsigned long long)no);
			rule_error(where, p, n, &err);
			errors++;
		}
		p = nl ? nl + 1 : NULL;
	}
	evk_buf_free(&text);
	return errors;
}

enum {
	O_FIRST = 256,
	O_ELSE,
	O_ONFULL,
	O_BUFFER,
	O_DEAD,
	O_FILEMODE,
	O_MAXOPEN,
	O_MAX_LINE,
	O_MAX_DEPTH,
};

static const struct option longopts[] = {
    {"rule", required_argument, NULL, 'r'},
    {"rules", required_argument, NULL, 'f'},
    {"first", no_argument, NULL, O_FIRST},
    {"else", required_argument, NULL, O_ELSE},
    {"on-full", required_argument, NULL, O_ONFULL},
    {"buffer", required_argument, NULL, O_BUFFER},
    {"dead-letter", required_argument, NULL, O_DEAD},
    {"file-mode", required_argument, NULL, O_FILEMODE},
    {"max-open", required_argument, NULL, O_MAXOPEN},
    {"max-line", required_argument, NULL, O_MAX_LINE},
    {"max-depth", required_argument, NULL, O_MAX_DEPTH},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

int
main(int argc, char **argv)
{
	static struct router R;
	static char **rules, **rfiles;
	struct evk_json_opts jo = {0};
	struct evk_err err = EVK_ERR_ZERO;
	struct sigaction sa;
	const char *dead = NULL, *els = NULL, *what;
	int nrules = 0, nrfiles = 0, c, i, errors = 0;
	char where[64];
	size_t k;

	router = &R;
	sigprocmask(SIG_SETMASK, NULL, &origmask);
	cli_init("evroute");
	argv[0] = (char *)cli_prog;
	rules = calloc((size_t)argc + 1, sizeof *rules);
	rfiles = calloc((size_t)argc + 1, sizeof *rfiles);
	if (rules == NULL || rfiles == NULL)
		cli_die(CLI_FATAL, "out of memory");
	R.bound = 1 << 20;
	R.max_open = 64;
	R.max_line = EVK_MAX_LINE;
	R.file_mode = 0644;
	while ((c = getopt_long(argc, argv, "r:f:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': rules[nrules++] = optarg; break;
		case 'f': rfiles[nrfiles++] = optarg; break;
		case O_FIRST: R.first = 1; break;
		case O_ELSE: els = optarg; break;
		case O_ONFULL:
			if (!strcmp(optarg, "drop-new"))
				R.drop_new = 1;
			else if (!strcmp(optarg, "block"))
				R.drop_new = 0;
			else
				cli_usage_error("--on-full %s: block or "
				                "drop-new",
				    optarg);
			break;
		case O_BUFFER:
			R.bound = (size_t)cli_number("--buffer", optarg, 1,
			    1LL << 30, 1);
			break;
		case O_DEAD: dead = optarg; break;
		case O_FILEMODE: R.file_mode = parse_mode(optarg); break;
		case O_MAXOPEN:
			R.max_open = (size_t)cli_number("--max-open", optarg, 1,
			    100000, 0);
			break;
		case O_MAX_LINE: R.max_line = cli_max_line(optarg); break;
		case O_MAX_DEPTH: jo.max_depth = cli_max_depth(optarg); break;
		case 'h': fputs(usage_text, stdout); return CLI_OK;
		case 'V': printf("evroute %s\n", EVK_VERSION); return CLI_OK;
		default:
			fprintf(stderr,
			    "Try 'evroute --help' for more "
			    "information.\n");
			return CLI_FATAL;
		}
	}
	argc -= optind;
	argv += optind;
	if (nrules == 0 && nrfiles == 0) {
		if (argc == 0)
			cli_usage_error(
			    "no rules (RULES, -r RULE or -f RULES)");
		rfiles[nrfiles++] = *argv++;
		argc--;
	}

	/* Every rule before any event: all their errors, then exit 2. */
	if ((R.rt = evk_routes_new()) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	for (i = 0; i < nrules; i++) {
		if (evk_routes_add(R.rt, rules[i], strlen(rules[i]), 0, &err) <
		    0) {
			snprintf(where, sizeof where, "-r #%d", i + 1);
			rule_error(where, rules[i], strlen(rules[i]), &err);
			errors++;
		}
	}
	for (i = 0; i < nrfiles; i++)
		errors += load_rules(R.rt, rfiles[i]);
	if (els != NULL && evk_routes_set_else(R.rt, els, &err) < 0) {
		rule_error("--else", els, strlen(els), &err);
		errors++;
	}
	if (errors > 0)
		cli_die(CLI_FATAL, "%d error%s in the rules, nothing read",
		    errors, errors > 1 ? "s" : "");
	if (evk_routes_count(R.rt) == 0 && els == NULL)
		cli_usage_error("no rules (only blank lines and comments)");

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	{
		sigset_t more;
		sigemptyset(&more);
		sigaddset(&more, SIGHUP);
		sigaddset(&more, SIGUSR1);
		sigprocmask(SIG_BLOCK, &more, NULL);
		waitmask = cli_waitmask;
	}

	cli_dead_open(&R.dead, dead);
	if ((R.json = evk_json_checker_new(&jo)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	R.nd = evk_routes_ndests(R.rt);
	if ((R.d = calloc(R.nd, sizeof *R.d)) == NULL ||
	    (R.hits = calloc(R.nd + 1, sizeof *R.hits)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	for (k = 0; k < R.nd; k++) {
		struct dest *d = &R.d[k];
		d->spec = evk_routes_dest(R.rt, k);
		d->o.fd = -1;
		d->o.d = d;
		if (open_dest(&R, d, &what, &err) < 0)
			fail(&R, d, NULL, what, errno,
			    d->spec->kind == EVK_DEST_BUS ? err.msg : NULL);
	}

	if (!R.quit)
		cli_inputs(argv, argc, run, &R, &R.quit, &R.status);
	finish(&R);
	summary(&R);
	cli_dead_close(&R.dead);
	cli_reraise();
	if (R.status != CLI_FATAL) {
		R.status = R.rejected_lines || R.lost ? CLI_REJECTED : CLI_OK;
		for (k = 0; k < R.nd; k++)
			if (R.d[k].dropped || R.d[k].dead)
				R.status = CLI_REJECTED;
	}
	evk_routes_free(R.rt);
	evk_json_checker_free(R.json);
	evk_buf_free(&R.path);
	free(R.d);
	free(R.hits);
	free(rules);
	free(rfiles);
	return R.status;
}
