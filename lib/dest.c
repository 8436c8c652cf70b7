/*
 * lib/dest.c - the destinations of evk_routes, opened and written.
 *
 * Each destination holds its pending bytes (whole lines) in a bounded
 * buffer written through a non-blocking descriptor, so that one slow
 * destination either holds the caller back (block) or loses new events,
 * counted (drop_new), while the others are served.  A destination that
 * fails is retried with backoff; meanwhile its events are dead letters,
 * or, without on_dead, the set stops.
 *
 * Nothing here prints or exits: messages go to on_warn, lost events to
 * on_dead, and the caller's signals are seen through *stop and *wake.
 */
#define _GNU_SOURCE /* ppoll, pipe2 */
#include "evkit/dest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
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

#define FLUSH_AT (64 * 1024) /* write a buffer out once it holds this */
#define BACKOFF_MIN (100 * 1000000LL) /* ns */
#define BACKOFF_MAX (10 * 1000000000LL)

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
	struct evk_dests *ds;
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

struct evk_dests {
	struct evk_dests_opts o;
	struct dest *d;
	size_t nd;
	struct evk_buf path; /* a templated file's name */
	uint64_t clock;
	int state; /* EVK_DESTS_* */
	int nomem;
	/* Inside a put, poll or reopen, which may wait and call on_wake:
	 * a reopen asked for then would free the templated file being
	 * written, so it waits until that call returns. */
	int busy;
	int reopen_due;
};

void
evk_dests_opts_init(struct evk_dests_opts *o)
{
	memset(o, 0, sizeof *o);
	o->buffer = 1 << 20;
	o->max_open = 64;
	o->file_mode = 0644;
}

static void warnf(struct evk_dests *ds, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
warnf(struct evk_dests *ds, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	if (ds->o.on_warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ds->o.on_warn(ds->o.ctx, msg);
}

static void
dead_letter(struct evk_dests *ds, const char *p, size_t n)
{
	ds->o.on_dead(ds->o.ctx, p, n);
}

static int
stopping(const struct evk_dests *ds)
{
	return ds->o.stop != NULL && *ds->o.stop;
}

/* Out of memory: the set stops, and its callers return EVK_ENOMEM. */
static void
nomem(struct evk_dests *ds)
{
	ds->nomem = 1;
	ds->state |= EVK_DESTS_STOPPED;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
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
open_file(struct evk_dests *ds, const char *path)
{
	int fd, fl = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK;

	/* O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of
	 * hanging, and one with a reader is polled like a pipe. */
	fd = open(path, fl, (mode_t)ds->o.file_mode);
	if (fd < 0 && errno == ENOENT && strchr(path, '/') != NULL) {
		mkdirs(path);
		fd = open(path, fl, (mode_t)ds->o.file_mode);
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
	if (strlen(path) >= sizeof sa.sun_path) { /* route.c checks it */
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
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

/* A long-running `sh -c COMMAND` reading the events on its stdin.  The
 * child gets the default actions of the signals a program catches or
 * ignores, and the caller's child_mask. */
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
		if (d->ds->o.child_mask != NULL)
			sigprocmask(SIG_SETMASK, d->ds->o.child_mask, NULL);
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
	struct evk_dests *ds = ctx;

	if (ds->o.on_dead != NULL)
		dead_letter(ds, p, len);
}

/* The bus refused an event it was sent: a dead letter, counted. */
static void
bus_refused(void *ctx, const char *p, size_t len, const char *msg)
{
	struct dest *d = ctx;

	warnf(d->ds, "%s: the bus refused an event: %s", d->spec->text, msg);
	if (d->written > 0)
		d->written--;
	if (d->ds->o.on_dead != NULL) {
		dead_letter(d->ds, p, len);
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
open_dest(struct evk_dests *ds, struct dest *d, const char **what,
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
		fd = open_file(ds, s->arg);
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
		bo.wait.stop = ds->o.stop;
		bo.wait.sigmask = ds->o.sigmask;
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
undeliverable(struct evk_dests *ds, struct dest *d, const char *p, size_t n)
{
	if (ds->o.on_dead != NULL) {
		dead_letter(ds, p, n);
		d->dead++;
		return;
	}
	/* Without dead letters, stopping is the only way not to lose
	 * more. */
	d->dropped++;
	ds->state |= EVK_DESTS_STOPPED | EVK_DESTS_FAILED;
}

/*
 * Destination `d` failed (errno `e` during `what`, or `msg`): the events
 * still in the buffer of `o` (may be NULL), from the one that was being
 * written, become dead letters, and `d` is down until its next retry.
 * Without on_dead the set stops.
 */
static void
fail(struct evk_dests *ds, struct dest *d, struct out *o, const char *what,
    int e, const char *msg)
{
	size_t k = 0, start;
	int64_t t = now_ns();

	/* The reader of our standard output left (| head): a quiet end. */
	if (d->spec->kind == EVK_DEST_STDOUT && e == EPIPE) {
		ds->state |= EVK_DESTS_STOPPED;
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
		if (ds->o.on_dead != NULL) {
			const char *p = o->buf.p + start, *nl;
			while ((nl = memchr(p, '\n',
			            (size_t)(o->buf.p + o->buf.len - p))) !=
			    NULL) {
				dead_letter(ds, p, (size_t)(nl - p));
				p = nl + 1;
			}
			d->dead += k;
		} else {
			d->dropped += k;
		}
	}
	if (msg != NULL)
		warnf(ds, "%s: %s", d->spec->text, msg);
	else
		warnf(ds, "%s: %s%s%s: %s", d->spec->text, what,
		    o != NULL && o->path ? " " : "",
		    o != NULL && o->path ? o->path : "", strerror(e));
	/* What a command that died had not read yet is in its pipe, out of
	 * reach: not silently lost, but said, and the state says it. */
	if (o != NULL && o->fd >= 0 && d->spec->kind == EVK_DEST_EXEC) {
		int unread = 0;
		if (ioctl(o->fd, FIONREAD, &unread) == 0 && unread > 0) {
			warnf(ds,
			    "%s: %d bytes of events it had not read are "
			    "lost",
			    d->spec->text, unread);
			ds->state |= EVK_DESTS_LOST;
		}
	}
	if (o != NULL)
		close_out(o);
	if (d->spec->kind == EVK_DEST_EXEC)
		reap(d, 0);
	if (ds->o.on_dead == NULL) {
		if (k > 0)
			warnf(ds, "%s: %zu events not delivered", d->spec->text,
			    k);
		if (ds->o.on_stop != NULL)
			ds->o.on_stop(ds->o.ctx, d->spec);
		ds->state |= EVK_DESTS_STOPPED | EVK_DESTS_FAILED;
	} else if (!d->down) {
		warnf(ds, "%s: down, its events go to %s until it is back",
		    d->spec->text, ds->o.dead_name ? ds->o.dead_name : "");
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
out_write_or_fail(struct evk_dests *ds, struct out *o)
{
	if (o->fd >= 0 && out_write(o) < 0)
		fail(ds, o->d, o, "write", errno, NULL);
}

static size_t
pending(const struct out *o)
{
	return o->fd >= 0 ? o->buf.len - o->off : 0;
}

/* The caller's signals, seen from inside a wait. */
static void
woken(struct evk_dests *ds)
{
	if (ds->o.wake != NULL && *ds->o.wake && ds->o.on_wake != NULL)
		ds->o.on_wake(ds->o.ctx);
}

/* Every out with pending bytes, in pf[] (room for `cap`); outs[] in
 * step.  Regular files are written at once instead (never EAGAIN). */
static size_t
gather(struct evk_dests *ds, struct pollfd *pf, struct out **outs, size_t cap)
{
	size_t i, j, n = 0;
	struct out *o;

	for (i = 0; i < ds->nd; i++) {
		struct dest *d = &ds->d[i];
		for (j = 0; j < (d->files ? d->nfiles : 1); j++) {
			o = d->files ? d->files[j] : &d->o;
			if (pending(o) == 0)
				continue;
			out_write_or_fail(ds, o);
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
pump(struct evk_dests *ds, struct out *o, size_t need, int in_fd, int idle_ms)
{
	struct timespec ts = {idle_ms / 1000, (idle_ms % 1000) * 1000000L};
	int rc;
	size_t cap = 16, n, i;
	struct pollfd *pf = NULL;
	struct out **outs = NULL;

	for (;;) {
		if (stopping(ds))
			break;
		woken(ds);
		cap = ds->nd * 2 + 8;
		for (i = 0; i < ds->nd; i++)
			cap += ds->d[i].nfiles;
		free(pf);
		free(outs);
		pf = calloc(cap + 1, sizeof *pf);
		outs = calloc(cap + 1, sizeof *outs);
		if (pf == NULL || outs == NULL) {
			nomem(ds);
			break;
		}
		n = gather(ds, pf, outs, cap);
		if (o != NULL &&
		    (o->fd < 0 || pending(o) == 0 ||
		        pending(o) + need <= ds->o.buffer))
			break;
		if (n == 0)
			break;
		if (in_fd >= 0) {
			pf[n].fd = in_fd;
			pf[n].events = POLLIN;
			pf[n].revents = 0;
		}
		rc = ppoll(pf, n + (in_fd >= 0), idle_ms >= 0 ? &ts : NULL,
		    ds->o.sigmask);
		if (rc == 0)
			break;
		if (rc < 0)
			continue;
		if (in_fd >= 0 && pf[n].revents)
			break;
		for (i = 0; i < n; i++)
			if (pf[i].revents)
				out_write_or_fail(ds, outs[i]);
	}
	free(pf);
	free(outs);
}

/* Appends the event to `o`: a drop, a wait, or a write when full. */
static void
out_put(struct evk_dests *ds, struct out *o, const char *p, size_t n)
{
	struct dest *d = o->d;
	size_t bound = ds->o.buffer;

	if (pending(o) > 0 && pending(o) + n + 1 > bound) {
		out_write_or_fail(ds, o);
		if (o->fd < 0) {
			undeliverable(ds, d, p, n);
			return;
		}
		if (pending(o) > 0 && pending(o) + n + 1 > bound) {
			if (ds->o.drop_new) {
				d->dropped++;
				return;
			}
			pump(ds, o, n + 1, -1, -1);
			if (ds->nomem)
				return;
			if (o->fd < 0 || stopping(ds)) {
				undeliverable(ds, d, p, n);
				return;
			}
		}
	}
	/* Keep the buffer from creeping: what was written goes. */
	if (o->off > 0 && o->off == o->buf.len) {
		evk_buf_reset(&o->buf);
		o->off = 0;
	}
	if (evk_buf_add(&o->buf, p, n) < 0 ||
	    evk_buf_add(&o->buf, "\n", 1) < 0) {
		nomem(ds);
		return;
	}
	d->written++;
	if (pending(o) >= FLUSH_AT)
		out_write_or_fail(ds, o);
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
flush_blocking(struct evk_dests *ds, struct out *o)
{
	while (pending(o) > 0 && !stopping(ds) && !ds->nomem)
		pump(ds, o, ds->o.buffer, -1, -1);
}

/* The open file of a templated destination for the path in ds->path:
 * found, or opened (the least recently used one closed to make room).
 * NULL when it cannot be opened (reported) or out of memory. */
static struct out *
templated(struct evk_dests *ds, struct dest *d)
{
	uint64_t h = hash_path(ds->path.p, ds->path.len);
	struct out *o, **nf;
	size_t i, lru = 0;
	int fd;

	/* The hashes side by side: one cache line holds eight. */
	for (i = 0; i < d->nfiles; i++) {
		if (d->hashes[i] == h &&
		    !strcmp(d->files[i]->path, ds->path.p)) {
			o = d->files[i];
			o->used = ++ds->clock;
			/* Closed by a failure: open again (it is retried). */
			if (o->fd < 0 && (o->fd = open_file(ds, o->path)) < 0) {
				fail(ds, d, o, "open", errno, NULL);
				return NULL;
			}
			return o;
		}
	}
	for (i = 1; i < d->nfiles; i++)
		if (d->files[i]->used < d->files[lru]->used)
			lru = i;
	if ((fd = open_file(ds, ds->path.p)) < 0) {
		struct out tmp = {-1, 0, 0, EVK_BUF_ZERO, 0, ds->path.p, 0, 0,
		    d};
		fail(ds, d, &tmp, "open", errno, NULL);
		return NULL;
	}
	if (d->nfiles == ds->o.max_open) {
		o = d->files[lru];
		flush_blocking(ds, o);
		if (o->fd >= 0 && close(o->fd) < 0)
			fail(ds, d, NULL, "close", errno, NULL);
		o->fd = -1;
		/* The slot is reused for the new file. */
		free(o->path);
		o->path = NULL;
		d->hashes[lru] = h;
	} else {
		uint64_t *nh;
		if ((nf = realloc(d->files, (d->nfiles + 1) * sizeof *nf)) ==
		        NULL ||
		    (d->files = nf,
		        (nh = realloc(d->hashes,
		             (d->nfiles + 1) * sizeof *nh)) == NULL) ||
		    (d->hashes = nh, (o = calloc(1, sizeof *o)) == NULL)) {
			close(fd);
			nomem(ds);
			return NULL;
		}
		d->hashes[d->nfiles] = h;
		d->files[d->nfiles++] = o;
	}
	if ((o->path = strdup(ds->path.p)) == NULL) {
		close(fd);
		nomem(ds);
		return NULL;
	}
	evk_buf_reset(&o->buf);
	o->off = 0;
	o->fd = fd;
	o->own = 1;
	o->careful = 0;
	o->hash = h;
	o->used = ++ds->clock;
	o->d = d;
	return o;
}

/* Tries to bring a down destination back. */
static void
revive(struct evk_dests *ds, struct dest *d)
{
	struct evk_err err = EVK_ERR_ZERO;
	const char *what;

	if (now_ns() < d->retry_at)
		return;
	evk_bus_close(d->bus);
	d->bus = NULL;
	if (d->spec->kind == EVK_DEST_EXEC)
		reap(d, 0);
	if (open_dest(ds, d, &what, &err) < 0) {
		/* Still down: fail() says why, not "down" again. */
		fail(ds, d, NULL, what, errno,
		    d->spec->kind == EVK_DEST_BUS ? err.msg : NULL);
		return;
	}
	d->down = 0;
	d->backoff = 0;
	warnf(ds, "%s: back", d->spec->text);
}

/* The bus of `d` failed: what it had not acknowledged is lost. */
static void
bus_failed(struct evk_dests *ds, struct dest *d, const struct evk_err *err)
{
	size_t k = evk_bus_unacked(d->bus, bus_dead, ds);

	d->written -= k < d->written ? k : d->written;
	if (ds->o.on_dead != NULL)
		d->dead += k;
	else
		d->dropped += k;
	fail(ds, d, NULL, "publish", EIO, err->msg);
}

static int dests_put(struct evk_dests *ds, size_t i, const char *p, size_t n,
    struct evk_span ev);
static int dests_poll(struct evk_dests *ds, int in_fd, int idle_ms);
static void dests_reopen(struct evk_dests *ds);

/* The end of a call that may have waited: the reopen asked for meanwhile
 * is made now. */
static void
settle(struct evk_dests *ds)
{
	if (--ds->busy > 0)
		return;
	while (ds->reopen_due && !ds->nomem) {
		ds->reopen_due = 0;
		ds->busy++;
		dests_reopen(ds);
		ds->busy--;
	}
}

int
evk_dests_put(struct evk_dests *ds, size_t i, const char *p, size_t n,
    struct evk_span ev)
{
	int rc;

	ds->busy++;
	rc = dests_put(ds, i, p, n, ev);
	settle(ds);
	return ds->nomem ? EVK_ENOMEM : rc;
}

int
evk_dests_poll(struct evk_dests *ds, int in_fd, int idle_ms)
{
	int rc;

	ds->busy++;
	rc = dests_poll(ds, in_fd, idle_ms);
	settle(ds);
	return ds->nomem ? EVK_ENOMEM : rc;
}

void
evk_dests_reopen(struct evk_dests *ds)
{
	ds->reopen_due = 1;
	if (ds->busy == 0) {
		ds->busy++;
		settle(ds);
	}
}

static int
dests_put(struct evk_dests *ds, size_t i, const char *p, size_t n,
    struct evk_span ev)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct dest *d = &ds->d[i];
	struct out *o;

	if (ds->nomem)
		return EVK_ENOMEM;
	if (d->down) {
		revive(ds, d);
		if (d->down) {
			undeliverable(ds, d, p, n);
			return 0;
		}
	}
	switch (d->spec->kind) {
	case EVK_DEST_NULL: d->written++; return 0;
	case EVK_DEST_BUS:
		/* The bus's buffer is its window of events not yet
		 * acknowledged: with drop_new, a full one drops the event
		 * rather than waiting for the bus. */
		if (ds->o.drop_new &&
		    evk_bus_waiting(d->bus) + 1 >= EVK_BUS_WINDOW) {
			if (evk_bus_push(d->bus, &err) < 0) {
				bus_failed(ds, d, &err);
				undeliverable(ds, d, p, n);
				return 0;
			}
			if (evk_bus_waiting(d->bus) + 1 >= EVK_BUS_WINDOW) {
				d->dropped++;
				return 0;
			}
		}
		if (evk_bus_publish(d->bus, p, n, &err) < 0) {
			bus_failed(ds, d, &err);
			undeliverable(ds, d, p, n);
			return 0;
		}
		d->written++;
		return 0;
	case EVK_DEST_FILE:
		if (d->spec->templated) {
			evk_buf_reset(&ds->path);
			if (evk_route_path(d->spec, ev, &ds->path) < 0) {
				nomem(ds);
				return EVK_ENOMEM;
			}
			if ((o = templated(ds, d)) == NULL) {
				if (ds->nomem)
					return EVK_ENOMEM;
				undeliverable(ds, d, p, n);
				return 0;
			}
			out_put(ds, o, p, n);
			return ds->nomem ? EVK_ENOMEM : 0;
		}
		break;
	default: break;
	}
	out_put(ds, &d->o, p, n);
	return ds->nomem ? EVK_ENOMEM : 0;
}

/* --- the set -------------------------------------------------------------- */

struct evk_dests *
evk_dests_new(const struct evk_routes *rt, const struct evk_dests_opts *o)
{
	struct evk_dests *ds = calloc(1, sizeof *ds);
	size_t i;

	if (ds == NULL)
		return NULL;
	ds->o = *o;
	ds->nd = evk_routes_ndests(rt);
	if ((ds->d = calloc(ds->nd + 1, sizeof *ds->d)) == NULL) {
		free(ds);
		return NULL;
	}
	for (i = 0; i < ds->nd; i++) {
		ds->d[i].spec = evk_routes_dest(rt, i);
		ds->d[i].ds = ds;
		ds->d[i].o.fd = -1;
		ds->d[i].o.d = &ds->d[i];
	}
	return ds;
}

void
evk_dests_open(struct evk_dests *ds)
{
	struct evk_err err = EVK_ERR_ZERO;
	const char *what;
	size_t i;

	for (i = 0; i < ds->nd; i++) {
		struct dest *d = &ds->d[i];
		if (open_dest(ds, d, &what, &err) < 0)
			fail(ds, d, NULL, what, errno,
			    d->spec->kind == EVK_DEST_BUS ? err.msg : NULL);
	}
}

static int
dests_poll(struct evk_dests *ds, int in_fd, int idle_ms)
{
	struct evk_err err = EVK_ERR_ZERO;
	size_t i;

	if (!ds->nomem)
		pump(ds, NULL, 0, in_fd, idle_ms);
	if (ds->nomem)
		return EVK_ENOMEM;
	for (i = 0; i < ds->nd; i++) {
		struct dest *d = &ds->d[i];
		if (d->bus == NULL || d->down)
			continue;
		if (evk_bus_flush(d->bus, &err) < 0)
			bus_failed(ds, d, &err);
	}
	return 0;
}

static void
dests_reopen(struct evk_dests *ds)
{
	struct evk_err err = EVK_ERR_ZERO;
	const char *what;
	size_t i, j;

	for (i = 0; i < ds->nd; i++) {
		struct dest *d = &ds->d[i];
		if (d->spec->kind != EVK_DEST_FILE || d->down)
			continue;
		if (d->spec->templated) {
			for (j = 0; j < d->nfiles; j++) {
				flush_blocking(ds, d->files[j]);
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
		flush_blocking(ds, &d->o);
		if (d->o.fd >= 0 && close(d->o.fd) < 0)
			fail(ds, d, NULL, "close", errno, NULL);
		d->o.fd = -1;
		if (!d->down && open_dest(ds, d, &what, &err) < 0)
			fail(ds, d, NULL, what, errno, NULL);
	}
}

/* --- the end ------------------------------------------------------------- */

static int
close_fd(struct evk_dests *ds, struct dest *d, struct out *o)
{
	if (o->fd >= 0 && o->own && close(o->fd) < 0) {
		o->fd = -1;
		fail(ds, d, NULL, "close", errno, NULL);
		return -1;
	}
	o->fd = -1;
	return 0;
}

/* Frees the templated files of `d`, closing them (unchecked) and
 * forgetting what they hold. */
static void
free_files(struct dest *d)
{
	size_t j;

	for (j = 0; j < d->nfiles; j++) {
		struct out *o = d->files[j];
		if (o->fd >= 0)
			close(o->fd);
		free(o->path);
		evk_buf_free(&o->buf);
		free(o);
	}
	free(d->files);
	free(d->hashes);
	d->files = NULL;
	d->hashes = NULL;
	d->nfiles = 0;
}

void
evk_dests_close(struct evk_dests *ds)
{
	size_t i, j, k;

	/* With drop-new, a destination that takes nothing for a second
	 * loses what it still holds, counted: the end is not held up. */
	(void)evk_dests_poll(ds, -1, ds->o.drop_new ? 1000 : -1);
	for (i = 0; i < ds->nd; i++) {
		struct dest *d = &ds->d[i];
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
			close_fd(ds, d, o);
		}
		if (k > 0) {
			warnf(ds, "%s: %zu events not delivered", d->spec->text,
			    k);
			d->written -= k;
			d->dropped += k;
		}
		free_files(d);
		evk_buf_free(&d->o.buf);
		evk_bus_close(d->bus);
		d->bus = NULL;
		reap(d, 1);
	}
}

void
evk_dests_free(struct evk_dests *ds)
{
	size_t i;

	if (ds == NULL)
		return;
	for (i = 0; i < ds->nd; i++) {
		struct dest *d = &ds->d[i];
		free_files(d);
		if (d->o.fd >= 0 && d->o.own)
			close(d->o.fd);
		evk_buf_free(&d->o.buf);
		evk_bus_close(d->bus);
		reap(d, 1);
	}
	evk_buf_free(&ds->path);
	free(ds->d);
	free(ds);
}

int
evk_dests_state(const struct evk_dests *ds)
{
	return ds->state;
}

size_t
evk_dests_count(const struct evk_dests *ds)
{
	return ds->nd;
}

void
evk_dests_stats(const struct evk_dests *ds, size_t i, struct evk_dest_stats *st)
{
	st->written = ds->d[i].written;
	st->dropped = ds->d[i].dropped;
	st->dead = ds->d[i].dead;
	st->errors = ds->d[i].errors;
}
