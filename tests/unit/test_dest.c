/*
 * Unit tests of lib/dest.c: a file and a pipe written, a full buffer with
 * drop-new counting, the least recently used templated file closed,
 * reopening, a unix: destination down then up, an exec: child that exits.
 * Everything happens in a temporary directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "evkit/dest.h"
#include "evkit/route.h"
#include "t.h"

static char dir[] = "/tmp/test_dest.XXXXXX";
static struct evk_buf warns, deads;

static void
on_warn(void *ctx, const char *msg)
{
	(void)ctx;
	evk_buf_adds(&warns, msg);
	evk_buf_adds(&warns, "\n");
}

static void
on_dead(void *ctx, const char *p, size_t n)
{
	(void)ctx;
	evk_buf_add(&deads, p, n);
	evk_buf_adds(&deads, "\n");
}

static void
reset(void)
{
	evk_buf_reset(&warns);
	evk_buf_reset(&deads);
}

/* A rule set of the one rule "* -> KIND" or, with `rest`, "* -> KIND
 * DIR REST" (DIR the temporary directory). */
static struct evk_routes *
routes(const char *kind, const char *rest)
{
	struct evk_routes *rt = evk_routes_new();
	struct evk_err err = EVK_ERR_ZERO;
	char line[512];

	snprintf(line, sizeof line, "* -> %s%s%s", kind, rest ? dir : "",
	    rest ? rest : "");
	if (rt == NULL || evk_routes_add(rt, line, strlen(line), 1, &err) < 0) {
		printf("# %s: %s\n", line, err.msg);
		exit(2);
	}
	return rt;
}

static void
opts(struct evk_dests_opts *o, int dead)
{
	evk_dests_opts_init(o);
	o->on_warn = on_warn;
	o->on_dead = dead ? on_dead : NULL;
	o->dead_name = "dead.ndjson";
}

static int
put(struct evk_dests *ds, const char *ev)
{
	struct evk_span sp = {ev, strlen(ev)};

	return evk_dests_put(ds, 0, ev, strlen(ev), sp);
}

static char *
slurp(const char *name)
{
	char path[512];
	char *p;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	p = t_slurp(path, NULL);
	return p;
}

static void
pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static size_t
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	if (d == NULL)
		return 0;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static struct evk_dest_stats
stats(struct evk_dests *ds)
{
	struct evk_dest_stats st;

	evk_dests_stats(ds, 0, &st);
	return st;
}

TEST(file_and_pipe)
{
	struct evk_dests_opts o;
	struct evk_routes *rt = routes("file:", "/sub/a.ndjson");
	struct evk_dests *ds;
	struct evk_routes *rt2;
	char *p, got[256], fdspec[32];
	int pfd[2];
	ssize_t n;

	reset();
	opts(&o, 0);
	ds = evk_dests_new(rt, &o);
	CHECK(ds != NULL);
	evk_dests_open(ds);
	CHECK_INT(evk_dests_count(ds), 1);
	CHECK_INT(put(ds, "{\"a\":1}"), 0);
	CHECK_INT(put(ds, "{\"a\":2}"), 0);
	CHECK_INT(evk_dests_poll(ds, -1, -1), 0);
	p = slurp("sub/a.ndjson"); /* the directory was made */
	CHECK_STR(p, "{\"a\":1}\n{\"a\":2}\n");
	free(p);
	evk_dests_close(ds);
	CHECK_INT(stats(ds).written, 2);
	CHECK_INT(evk_dests_state(ds), 0);
	evk_dests_free(ds);
	evk_routes_free(rt);

	CHECK(pipe(pfd) == 0);
	snprintf(fdspec, sizeof fdspec, "fd:%d", pfd[1]);
	rt2 = routes(fdspec, NULL);
	ds = evk_dests_new(rt2, &o);
	evk_dests_open(ds);
	CHECK_INT(put(ds, "{\"b\":1}"), 0);
	CHECK_INT(evk_dests_poll(ds, -1, -1), 0);
	n = read(pfd[0], got, sizeof got - 1);
	CHECK_INT(n, 8);
	CHECK_MEM(got, n > 0 ? (size_t)n : 0, "{\"b\":1}\n", 8);
	evk_dests_close(ds);
	evk_dests_free(ds);
	evk_routes_free(rt2);
	close(pfd[0]);
	close(pfd[1]);
	CHECK_STR(warns.p ? warns.p : "", "");
}

TEST(full_buffer_drop_new)
{
	struct evk_dests_opts o;
	struct evk_routes *rt;
	struct evk_dests *ds;
	char fdspec[32], junk[4096];
	int pfd[2], i;
	size_t total = 0;
	ssize_t n;

	reset();
	CHECK(pipe(pfd) == 0);
	/* The pipe is full: nothing more can go. */
	fcntl(pfd[1], F_SETFL, O_NONBLOCK);
	memset(junk, 'x', sizeof junk);
	while (write(pfd[1], junk, sizeof junk) > 0)
		;
	fcntl(pfd[1], F_SETFL, 0);
	snprintf(fdspec, sizeof fdspec, "fd:%d", pfd[1]);
	rt = routes(fdspec, NULL);
	opts(&o, 0);
	o.buffer = 32;
	o.drop_new = 1;
	ds = evk_dests_new(rt, &o);
	evk_dests_open(ds);
	/* 10 bytes a line: 3 fit in 32 bytes, the 7 others are dropped. */
	for (i = 0; i < 10; i++)
		CHECK_INT(put(ds, "{\"n\":123}"), 0);
	CHECK_INT(stats(ds).written, 3);
	CHECK_INT(stats(ds).dropped, 7);
	CHECK_INT(evk_dests_state(ds), 0);
	/* Drained, what was kept comes through. */
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	while ((n = read(pfd[0], junk, sizeof junk)) > 0)
		;
	CHECK_INT(evk_dests_poll(ds, -1, -1), 0);
	while ((n = read(pfd[0], junk, sizeof junk)) > 0)
		total += (size_t)n;
	CHECK_INT(total, 30);
	evk_dests_close(ds);
	CHECK_INT(stats(ds).written, 3);
	CHECK_INT(stats(ds).dropped, 7);
	evk_dests_free(ds);
	evk_routes_free(rt);
	close(pfd[0]);
	close(pfd[1]);
}

TEST(lru_templated)
{
	static const char *keys[] = {"a", "b", "c", "a", "d", "b", "a"};
	struct evk_dests_opts o;
	struct evk_routes *rt = routes("file:", "/t/{k}.ndjson");
	struct evk_dests *ds;
	char ev[64], *p;
	size_t i, base, most = 0;

	reset();
	opts(&o, 0);
	o.max_open = 2;
	ds = evk_dests_new(rt, &o);
	evk_dests_open(ds);
	base = open_fds();
	for (i = 0; i < sizeof keys / sizeof *keys; i++) {
		snprintf(ev, sizeof ev, "{\"k\":\"%s\",\"i\":%zu}", keys[i], i);
		CHECK_INT(put(ds, ev), 0);
		if (open_fds() - base > most)
			most = open_fds() - base;
	}
	/* Never more than two open, and nothing lost on closing. */
	CHECK_INT(most, 2);
	evk_dests_close(ds);
	CHECK_INT(open_fds(), base);
	CHECK_INT(stats(ds).written, 7);
	p = slurp("t/a.ndjson");
	CHECK_STR(p,
	    "{\"k\":\"a\",\"i\":0}\n{\"k\":\"a\",\"i\":3}\n"
	    "{\"k\":\"a\",\"i\":6}\n");
	free(p);
	p = slurp("t/b.ndjson");
	CHECK_STR(p, "{\"k\":\"b\",\"i\":1}\n{\"k\":\"b\",\"i\":5}\n");
	free(p);
	p = slurp("t/d.ndjson");
	CHECK_STR(p, "{\"k\":\"d\",\"i\":4}\n");
	free(p);
	evk_dests_free(ds);
	evk_routes_free(rt);
}

TEST(reopen)
{
	struct evk_dests_opts o;
	struct evk_routes *rt = routes("file:", "/r.ndjson");
	struct evk_dests *ds;
	char a[512], b[512], *p;

	reset();
	opts(&o, 0);
	ds = evk_dests_new(rt, &o);
	evk_dests_open(ds);
	put(ds, "{\"r\":1}");
	snprintf(a, sizeof a, "%s/r.ndjson", dir);
	snprintf(b, sizeof b, "%s/r.ndjson.1", dir);
	CHECK(rename(a, b) == 0);
	/* What it held goes to the old file, what follows to a new one. */
	evk_dests_reopen(ds);
	put(ds, "{\"r\":2}");
	evk_dests_close(ds);
	p = slurp("r.ndjson.1");
	CHECK_STR(p, "{\"r\":1}\n");
	free(p);
	p = slurp("r.ndjson");
	CHECK_STR(p, "{\"r\":2}\n");
	free(p);
	CHECK_INT(stats(ds).written, 2);
	evk_dests_free(ds);
	evk_routes_free(rt);
}

/* A SIGHUP while a put waits for room in a templated file: the reopen
 * waits until the put returns (it used to free the file being written,
 * which ASan sees).  The wake flag stays up, so that on_wake, called at
 * every turn of a wait, drains the FIFO and the puts go on. */
static struct evk_dests *hup_ds;
static volatile sig_atomic_t hup_wake;
static int hup_reader, hup_reopened;
static size_t hup_read;

static void
hup_drain(void)
{
	char buf[65536];
	ssize_t r;

	while ((r = read(hup_reader, buf, sizeof buf)) > 0)
		hup_read += (size_t)r;
}

static void
hup_on_wake(void *ctx)
{
	(void)ctx;
	if (!hup_reopened++)
		evk_dests_reopen(hup_ds);
	hup_drain();
}

TEST(reopen_while_a_put_waits)
{
	struct evk_dests_opts o;
	struct evk_routes *rt = routes("file:", "/{n}");
	char path[512], ev[2101];
	int i;

	reset();
	snprintf(path, sizeof path, "%s/f", dir);
	CHECK(mkfifo(path, 0600) == 0);
	hup_reader = open(path, O_RDONLY | O_NONBLOCK);
	opts(&o, 0);
	o.buffer = 4096;
	o.wake = &hup_wake;
	o.on_wake = hup_on_wake;
	hup_ds = evk_dests_new(rt, &o);
	evk_dests_open(hup_ds);
	memset(ev, 'x', sizeof ev - 1);
	memcpy(ev, "{\"n\":\"f\",\"x\":\"", 14);
	memcpy(ev + sizeof ev - 3, "\"}", 3);
	/* The FIFO takes 64 KiB and the buffer 4 KiB: then a put waits. */
	hup_wake = 1;
	for (i = 0; i < 40; i++)
		CHECK_INT(put(hup_ds, ev), 0);
	evk_dests_close(hup_ds);
	hup_drain();
	CHECK_INT(hup_reopened > 0, 1);
	CHECK_INT(stats(hup_ds).written, 40);
	CHECK_INT(hup_read, 40 * 2101);
	close(hup_reader);
	unlink(path);
	evk_dests_free(hup_ds);
	evk_routes_free(rt);
}

TEST(unix_down_then_up)
{
	struct evk_dests_opts o;
	struct evk_routes *rt = routes("unix:", "/s.sock");
	struct evk_dests *ds;
	struct sockaddr_un sa;
	char got[64], want[256];
	int ls, c;
	ssize_t n;

	reset();
	opts(&o, 1);
	ds = evk_dests_new(rt, &o);
	evk_dests_open(ds);
	snprintf(want, sizeof want,
	    "unix:%s/s.sock: connect: No such file or directory\n"
	    "unix:%s/s.sock: down, its events go to dead.ndjson until it is "
	    "back\n",
	    dir, dir);
	CHECK_STR(warns.p, want);
	CHECK_INT(put(ds, "{\"u\":1}"), 0);
	CHECK_STR(deads.p, "{\"u\":1}\n");
	CHECK_INT(stats(ds).dead, 1);
	CHECK_INT(evk_dests_state(ds), 0);

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s/s.sock", dir);
	ls = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(ls, (struct sockaddr *)&sa, sizeof sa) == 0);
	CHECK(listen(ls, 4) == 0);
	pause_ms(150); /* past the first backoff (100 ms) */
	reset();
	CHECK_INT(put(ds, "{\"u\":2}"), 0);
	snprintf(want, sizeof want, "unix:%s/s.sock: back\n", dir);
	CHECK_STR(warns.p, want);
	CHECK_INT(evk_dests_poll(ds, -1, -1), 0);
	c = accept(ls, NULL, NULL);
	CHECK(c >= 0);
	n = read(c, got, sizeof got);
	CHECK_MEM(got, n > 0 ? (size_t)n : 0, "{\"u\":2}\n", 8);
	evk_dests_close(ds);
	CHECK_INT(stats(ds).written, 1);
	CHECK_INT(stats(ds).dead, 1);
	CHECK_INT(stats(ds).errors, 1);
	evk_dests_free(ds);
	evk_routes_free(rt);
	close(c);
	close(ls);
}

/* Waits (5 s at most) until the file `name` holds `want`. */
static int
wait_for(const char *name, const char *want)
{
	int i;
	char *p;

	for (i = 0; i < 500; i++) {
		p = slurp(name);
		if (p != NULL && !strcmp(p, want)) {
			free(p);
			return 1;
		}
		free(p);
		pause_ms(10);
	}
	return 0;
}

TEST(exec_child_exits)
{
	/* Reads one event, closes its stdin, writes the event out, ends. */
	struct evk_dests_opts o;
	struct evk_routes *rt = evk_routes_new();
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_dests *ds;
	char spec[512];

	snprintf(spec, sizeof spec,
	    "* -> exec:read x; exec 0<&-; echo \"$x\" > %s/x.tmp && mv "
	    "%s/x.tmp %s/x.out",
	    dir, dir, dir);
	CHECK(evk_routes_add(rt, spec, strlen(spec), 1, &err) == 0);
	reset();
	opts(&o, 1);
	ds = evk_dests_new(rt, &o);
	evk_dests_open(ds);
	CHECK_INT(put(ds, "{\"e\":1}"), 0);
	CHECK_INT(evk_dests_poll(ds, -1, -1), 0);
	CHECK(wait_for("x.out", "{\"e\":1}\n"));
	/* Its stdin is closed: the next write fails, the event is a dead
	 * letter and the destination is down. */
	CHECK_INT(put(ds, "{\"e\":2}"), 0);
	CHECK_INT(evk_dests_poll(ds, -1, -1), 0);
	CHECK_STR(deads.p, "{\"e\":2}\n");
	CHECK(warns.p != NULL && strstr(warns.p, ": write: Broken pipe\n"));
	CHECK(warns.p != NULL && strstr(warns.p, ": down, its events go to "));
	CHECK_INT(stats(ds).errors, 1);
	CHECK_INT(stats(ds).dead, 1);
	/* After its backoff, it is started again. */
	pause_ms(150);
	reset();
	CHECK_INT(put(ds, "{\"e\":3}"), 0);
	CHECK(warns.p != NULL && strstr(warns.p, ": back\n"));
	CHECK_INT(evk_dests_poll(ds, -1, -1), 0);
	CHECK(wait_for("x.out", "{\"e\":3}\n"));
	evk_dests_close(ds);
	CHECK_INT(stats(ds).written, 2);
	CHECK_INT(evk_dests_state(ds) & EVK_DESTS_STOPPED, 0);
	evk_dests_free(ds);
	evk_routes_free(rt);
}

TEST(stop_without_dead_letters)
{
	struct evk_dests_opts o;
	struct evk_routes *rt = routes("unix:", "/none.sock");
	struct evk_dests *ds;

	reset();
	opts(&o, 0);
	ds = evk_dests_new(rt, &o);
	evk_dests_open(ds);
	CHECK_INT(evk_dests_state(ds), EVK_DESTS_STOPPED | EVK_DESTS_FAILED);
	evk_dests_close(ds);
	evk_dests_free(ds);
	evk_dests_free(NULL);
	evk_routes_free(rt);
}

static void
rm_rf(const char *path)
{
	char cmd[600];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", path);
}

int
main(void)
{
	int rc;

	/* The program ignores SIGPIPE (cli_init()); so does this one. */
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	RUN(file_and_pipe);
	RUN(full_buffer_drop_new);
	RUN(lru_templated);
	RUN(reopen);
	RUN(reopen_while_a_put_waits);
	RUN(unix_down_then_up);
	RUN(exec_child_exits);
	RUN(stop_without_dead_letters);
	rc = t_done();
	rm_rf(dir);
	evk_buf_free(&warns);
	evk_buf_free(&deads);
	return rc;
}
