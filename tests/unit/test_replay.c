/*
 * tests/unit/test_replay.c - evk_replay_*, evk_sched_*, evk_stats_*,
 * evk_follow_*, evk_ring_*: factors and rates, the recording's clock, the
 * schedule's exact offsets, statistics, reading from the end, following a
 * file, choosing events, the recording's span, the --tail ring, pacing and
 * the progress line.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evkit/buf.h"
#include "evkit/expr.h"
#include "evkit/json.h"
#include "evkit/replay.h"
#include "t.h"

#define S INT64_C(1000000000)

TEST(factors)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t micro;
	} rows[] = {
	    {"1", 0, 1000000},
	    {"10", 0, 10000000},
	    {"0.5", 0, 500000},
	    {"2.25", 0, 2250000},
	    {"0.000001", 0, 1},
	    {"1000000", 0, UINT64_C(1000000000000)},
	    {"007", 0, 7000000},
	    {"1.", 0, 1000000},
	    {"0", EVK_EINVAL, 0},
	    {"0.0000001", EVK_EINVAL, 0},
	    {"1000000.5", EVK_EINVAL, 0},
	    {"1000001", EVK_EINVAL, 0},
	    {"99999999999999999999", EVK_EINVAL, 0},
	    {"", EVK_EINVAL, 0},
	    {"-1", EVK_EINVAL, 0},
	    {".5", EVK_EINVAL, 0},
	    {"1e3", EVK_EINVAL, 0},
	    {"2x", EVK_EINVAL, 0},
	    {" 1", EVK_EINVAL, 0},
	};
	struct evk_err e;
	uint64_t m;
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		evk_err_clear(&e);
		m = 42;
		CHECK_INT(evk_replay_factor(rows[i].s, &m, &e), rows[i].rc);
		if (rows[i].rc == 0)
			CHECK_INT(m, rows[i].micro);
		else
			CHECK(e.msg[0] != '\0');
	}
}

TEST(rates)
{
	struct evk_err e = EVK_ERR_ZERO;
	uint64_t num, den;

	CHECK_INT(evk_replay_rate("500/s", &num, &den, &e), 0);
	/* 2 ms between events. */
	CHECK_INT((int64_t)(num / den), 2000000);
	CHECK_INT(evk_replay_rate("500", &num, &den, &e), 0);
	CHECK_INT((int64_t)(num / den), 2000000);
	CHECK_INT(evk_replay_rate("60/m", &num, &den, &e), 0);
	CHECK_INT((int64_t)(num / den), S);
	CHECK_INT(evk_replay_rate("0.5/h", &num, &den, &e), 0);
	CHECK_INT((int64_t)(num / den), 7200 * S);
	CHECK_INT(evk_replay_rate("5/d", &num, &den, &e), EVK_EINVAL);
	CHECK_INT(evk_replay_rate("5/", &num, &den, &e), EVK_EINVAL);
	CHECK_INT(evk_replay_rate("/s", &num, &den, &e), EVK_EINVAL);
	CHECK_INT(evk_replay_rate("0/s", &num, &den, &e), EVK_EINVAL);
}

TEST(clock)
{
	struct evk_replay_clock c = EVK_REPLAY_CLOCK_ZERO;
	int64_t eff;
	int known;

	/* Untimed before anything: no time known. */
	CHECK_INT(evk_replay_clock_step(&c, 0, 0, &eff, &known),
	    EVK_CLOCK_UNTIMED);
	CHECK_INT(known, 0);
	CHECK_INT(evk_replay_clock_step(&c, 1, 100, &eff, &known),
	    EVK_CLOCK_OK);
	CHECK_INT(known, 1);
	CHECK_INT(eff, 100);
	CHECK_INT(evk_replay_clock_step(&c, 1, 50, &eff, &known),
	    EVK_CLOCK_BACKWARDS);
	CHECK_INT(eff, 100);
	CHECK_INT(evk_replay_clock_step(&c, 0, 0, &eff, &known),
	    EVK_CLOCK_UNTIMED);
	CHECK_INT(eff, 100);
	/* Equal is not backwards. */
	CHECK_INT(evk_replay_clock_step(&c, 1, 100, &eff, &known),
	    EVK_CLOCK_OK);
	CHECK_INT(evk_replay_clock_step(&c, 1, 150, &eff, &known),
	    EVK_CLOCK_OK);
	CHECK_INT(eff, 150);
	/* Negative times (before 1970) are times like others. */
	c = (struct evk_replay_clock)EVK_REPLAY_CLOCK_ZERO;
	CHECK_INT(evk_replay_clock_step(&c, 1, -5 * S, &eff, &known), 0);
	CHECK_INT(eff, -5 * S);
}

/* Plans the times `t` (seconds * 1000 as ms; -1: untimed) and checks the
 * offsets `want` (ns). */
static void
plan(const struct evk_sched_opts *o, const int64_t *t, const int64_t *want,
    size_t n)
{
	struct evk_sched *s = evk_sched_new(o);
	size_t i;

	CHECK(s != NULL);
	for (i = 0; i < n; i++)
		CHECK_INT(evk_sched_next(s, t[i] >= 0, t[i] * 1000000),
		    want[i]);
	CHECK_INT(evk_sched_count(s), n);
	evk_sched_free(s);
}

TEST(sched_by_time)
{
	static const int64_t t[] = {1000, 2000, 4000, 4500, 64500, 65000};
	struct evk_sched_opts o = {0};

	plan(NULL, t,
	    (const int64_t[]){0, 1 * S, 3 * S, 3500000000, 63500000000, 64 * S},
	    6);
	o.speed = 2 * EVK_REPLAY_ONE;
	plan(&o, t,
	    (const int64_t[]){0, 500000000, 1500000000, 1750000000, 31750000000,
	        32 * S},
	    6);
	o.speed = 3 * EVK_REPLAY_ONE;
	plan(&o, t,
	    (const int64_t[]){0, 333333333, 1 * S, 1166666666, 21166666666,
	        21333333333},
	    6);
	o.speed = EVK_REPLAY_ONE / 2;
	plan(&o, t, (const int64_t[]){0, 2 * S, 6 * S, 7 * S, 127 * S, 128 * S},
	    6);
	o.speed = 0;
	o.max_gap_ns = 2 * S;
	plan(&o, t,
	    (const int64_t[]){0, 1 * S, 3 * S, 3500000000, 5500000000, 6 * S},
	    6);
	o.fast = 1;
	plan(&o, t, (const int64_t[]){0, 0, 0, 0, 0, 0}, 6);
}

TEST(sched_untimed)
{
	/* Untimed first: at 0; later: the previous offset. */
	static const int64_t t[] = {-1, 1000, -1, 3000, -1};
	plan(NULL, t, (const int64_t[]){0, 0, 0, 2 * S, 2 * S}, 5);
}

TEST(sched_no_drift)
{
	struct evk_sched_opts o = {0};
	struct evk_sched *s;
	int64_t off = 0, i;

	/* A million events 1 us apart at 3x: the last is at exactly
	 * (1e6 - 1) us / 3, where summing rounded gaps would lose up to a
	 * nanosecond per event. */
	o.speed = 3 * EVK_REPLAY_ONE;
	s = evk_sched_new(&o);
	for (i = 0; i < 1000000; i++)
		off = evk_sched_next(s, 1, 1700000000 * S + i * 1000);
	CHECK_INT(off, (999999 * INT64_C(1000)) / 3);
	evk_sched_free(s);
	/* By rate: 7/s for a million events. */
	memset(&o, 0, sizeof o);
	CHECK_INT(evk_replay_rate("7/s", &o.rate_num, &o.rate_den, NULL), 0);
	s = evk_sched_new(&o);
	for (i = 0; i < 1000000; i++)
		off = evk_sched_next(s, 0, 0);
	CHECK_INT(off, 999999 * S / 7);
	evk_sched_free(s);
}

TEST(sched_passes)
{
	struct evk_sched_opts o = {0};
	struct evk_sched *s = evk_sched_new(NULL);

	CHECK_INT(evk_sched_next(s, 1, 10 * S), 0);
	CHECK_INT(evk_sched_next(s, 1, 12 * S), 2 * S);
	evk_sched_pass(s, 5 * S);
	CHECK_INT(evk_sched_next(s, 1, 10 * S), 7 * S);
	CHECK_INT(evk_sched_next(s, 1, 11 * S), 8 * S);
	evk_sched_pass(s, 0);
	/* A pass starting untimed stays at the last offset. */
	CHECK_INT(evk_sched_next(s, 0, 0), 8 * S);
	CHECK_INT(evk_sched_next(s, 1, 10 * S), 8 * S);
	evk_sched_free(s);

	CHECK_INT(evk_replay_rate("2/s", &o.rate_num, &o.rate_den, NULL), 0);
	s = evk_sched_new(&o);
	CHECK_INT(evk_sched_next(s, 0, 0), 0);
	CHECK_INT(evk_sched_next(s, 0, 0), S / 2);
	evk_sched_pass(s, S);
	CHECK_INT(evk_sched_next(s, 0, 0), 2 * S);
	evk_sched_free(s);

	/* Saturation instead of overflow: a huge gap very slowly. */
	memset(&o, 0, sizeof o);
	o.speed = 1;
	s = evk_sched_new(&o);
	CHECK_INT(evk_sched_next(s, 1, -INT64_MAX / 2), 0);
	CHECK_INT(evk_sched_next(s, 1, INT64_MAX / 2), INT64_MAX);
	CHECK_INT(evk_sched_next(s, 1, INT64_MAX / 2), INT64_MAX);
	evk_sched_pass(s, S);
	CHECK_INT(evk_sched_next(s, 1, 0), INT64_MAX);
	evk_sched_free(s);
	evk_sched_free(NULL);
}

static void
add(struct evk_stats *s, const char *ev, int has, int64_t t)
{
	struct evk_span v = {ev, strlen(ev)};
	CHECK_INT(evk_stats_add(s, v, v.len + 1, has, t), 0);
}

static char *
report(const struct evk_stats *s, int json, size_t top)
{
	struct evk_stats_fmt f = {0};
	struct evk_buf b = EVK_BUF_ZERO;

	f.json = json;
	f.top = top;
	CHECK_INT(evk_stats_report(s, &f, &b), 0);
	return b.p;
}

TEST(stats_counts)
{
	struct evk_stats *s = evk_stats_new();
	char *r;

	add(s, "{\"type\":\"a\",\"source\":\"x\"}", 1, 10 * S);
	add(s, "{\"type\":\"b\",\"source\":\"x\"}", 1, 12 * S);
	add(s, "{\"type\":\"a\"}", 1, 11 * S); /* out of order */
	add(s, "{\"type\":\"\\u0061\"}", 0, 0); /* "a" escaped; untimed */
	add(s, "{\"type\":7}", 1, 30 * S);
	evk_stats_invalid(s);
	r = report(s, 1, 1);
	CHECK(strstr(r, "\"events\":5,") != NULL);
	CHECK(strstr(r, "\"invalid\":1,\"untimed\":1,\"out_of_order\":1,") !=
	    NULL);
	CHECK(strstr(r,
	          "\"span_ns\":20000000000,\"largest_gap_ns\":"
	          "18000000000,\"largest_gap_after\":"
	          "\"1970-01-01T00:00:12Z\"") != NULL);
	CHECK(strstr(r,
	          "\"types\":{\"distinct\":2,\"more\":false,\"top\":["
	          "{\"name\":\"a\",\"count\":3,\"share\":0.6000}],"
	          "\"other\":1,\"none\":1}") != NULL);
	CHECK(strstr(r, "\"sources\":{\"distinct\":1,") != NULL);
	CHECK(strstr(r, "\"none\":3}") != NULL);
	CHECK(strstr(r,
	          "\"rate\":{\"unit_s\":10,\"start\":"
	          "\"1970-01-01T00:00:10Z\",\"counts\":[3,0,1]}") != NULL);
	CHECK(r[strlen(r) - 1] == '\n');
	free(r);
	r = report(s, 0, 0);
	CHECK(strstr(r, "events        5\n") != NULL);
	CHECK(strstr(r, "out of order  1\n") != NULL);
	CHECK(strstr(r,
	          "time span     1970-01-01T00:00:10Z .. "
	          "1970-01-01T00:00:30Z (20s)\n") != NULL);
	free(r);
	evk_stats_free(s);
	evk_stats_free(NULL);
}

TEST(stats_buckets)
{
	struct evk_stats *s = evk_stats_new();
	uint64_t i, n = 0;
	char *r, *p;

	/* Events one second apart for 3 days, then one 40 years before:
	 * the buckets merge up to weeks, and every event is in one. */
	for (i = 0; i < 3 * 86400; i += 7, n++)
		add(s, "{}", 1, (int64_t)(1700000000 + i) * S);
	add(s, "{}", 1, (int64_t)(1700000000 - 40 * 31557600LL) * S);
	n++;
	r = report(s, 1, 0);
	p = strstr(r, "\"counts\":[");
	CHECK(p != NULL);
	if (p != NULL) {
		uint64_t sum = 0, v;
		char *q = p + 10;
		while (*q != ']') {
			v = strtoull(q, &q, 10);
			sum += v;
			if (*q == ',')
				q++;
		}
		CHECK_INT(sum, n);
	}
	CHECK(strstr(r, "\"unit_s\":2419200") != NULL ||
	    strstr(r, "\"unit_s\":604800") != NULL);
	free(r);
	evk_stats_free(s);
}

TEST(stats_empty)
{
	struct evk_stats *s = evk_stats_new();
	char *r = report(s, 1, 0);

	CHECK_STR(r,
	    "{\"events\":0,\"bytes\":0,\"invalid\":0,\"untimed\":0,"
	    "\"out_of_order\":0,\"first\":null,\"last\":null,"
	    "\"span_ns\":0,\"largest_gap_ns\":0,"
	    "\"largest_gap_after\":null,\"types\":{\"distinct\":0,"
	    "\"more\":false,\"top\":[],\"other\":0,\"none\":0},"
	    "\"sources\":{\"distinct\":0,\"more\":false,\"top\":[],"
	    "\"other\":0,\"none\":0},\"rate\":{\"unit_s\":1,"
	    "\"start\":null,\"counts\":[]}}\n");
	free(r);
	evk_stats_free(s);
}

/* --- reading from the end --- */

static int
accept_obj(void *ctx, const char *p, size_t n)
{
	(*(int *)ctx)++;
	return n > 0 && p[0] == '{';
}

static int
tmpfile_with(const char *text, size_t n)
{
	char path[] = "/tmp/evk-test-replay-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		abort();
	unlink(path);
	if (write(fd, text, n) != (ssize_t)n)
		abort();
	return fd;
}

static off_t
tail_of(const char *text, uint64_t n, size_t max_line)
{
	int fd = tmpfile_with(text, strlen(text)), calls = 0;
	off_t off = -1;

	CHECK_INT(evk_replay_tail(fd, n, max_line, accept_obj, &calls, &off,
	              NULL),
	    0);
	close(fd);
	return off;
}

TEST(tail)
{
	const char *t = "{1}\n{2}\nxx\n{3}\n";

	CHECK_INT(tail_of(t, 1, 100), 11);
	CHECK_INT(tail_of(t, 2, 100), 4);
	CHECK_INT(tail_of(t, 3, 100), 0);
	CHECK_INT(tail_of(t, 9, 100), 0);
	CHECK_INT(tail_of(t, 0, 100), 15);
	/* No final newline; blank lines; CRLF. */
	CHECK_INT(tail_of("{1}\n{2}", 1, 100), 4);
	CHECK_INT(tail_of("{1}\n\n\n", 1, 100), 0);
	CHECK_INT(tail_of("{1}\r\n{2}\r\n", 1, 100), 5);
	CHECK_INT(tail_of("", 1, 100), 0);
	CHECK_INT(tail_of("\n", 1, 100), 0);
	/* A line over the limit does not count and is not read. */
	CHECK_INT(tail_of("{1}\n{22222222}\n", 1, 5), 0);
	CHECK_INT(tail_of("{1}\n{22222222}\n", 1, 10), 4);
}

TEST(tail_blocks)
{
	/* 100000 lines "{N}" across many 64 KiB blocks. */
	struct evk_buf b = EVK_BUF_ZERO;
	char line[32], first[32];
	off_t off;
	int fd, calls = 0, i, n;

	for (i = 1; i <= 100000; i++) {
		n = snprintf(line, sizeof line, "{%d}\n", i);
		CHECK_INT(evk_buf_add(&b, line, (size_t)n), 0);
	}
	fd = tmpfile_with(b.p, b.len);
	CHECK_INT(evk_replay_tail(fd, 30000, 100, accept_obj, &calls, &off,
	              NULL),
	    0);
	/* Only the tail was looked at. */
	CHECK_INT(calls, 30000);
	CHECK_INT(pread(fd, first, 8, off), 8);
	CHECK(memcmp(first, "{70001}\n", 8) == 0);
	close(fd);
	evk_buf_free(&b);
}

/* --- following --- */

static volatile sig_atomic_t stop;

static void
stop_on_idle(void *ctx)
{
	(void)ctx;
	stop = 1;
}

static void
append(const char *path, const char *s, int trunc)
{
	int fd =
	    open(path, O_WRONLY | O_CREAT | (trunc ? O_TRUNC : O_APPEND), 0600);
	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		abort();
	close(fd);
}

/* Reads what is there now: bytes until the follower waits. */
static size_t
drain(struct evk_follow *f, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	stop = 0;
	while (n < cap && (r = evk_follow_read(f, buf + n, cap - n)) > 0)
		n += (size_t)r;
	CHECK(errno == EINTR);
	buf[n] = '\0';
	return n;
}

TEST(follow)
{
	char dir[] = "/tmp/evk-test-follow-XXXXXX", path[64], old[80];
	char buf[256];
	struct evk_follow_opts o = {0};
	struct evk_err e = EVK_ERR_ZERO;
	struct evk_follow *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/log", dir);
	snprintf(old, sizeof old, "%s/log.1", dir);
	CHECK_INT(evk_follow_open(path, &o, &f, &e), EVK_EIO);
	CHECK(strstr(e.msg, "No such file") != NULL);
	append(path, "a\nb\n", 1);
	o.stop = &stop;
	o.idle = stop_on_idle;
	o.poll_ns = 1000000;
	CHECK_INT(evk_follow_open(path, &o, &f, &e), 0);
	drain(f, buf, sizeof buf - 1);
	CHECK_STR(buf, "a\nb\n");
	append(path, "c\n", 0);
	drain(f, buf, sizeof buf - 1);
	CHECK_STR(buf, "c\n");
	/* Renamed, written to, then created again. */
	CHECK_INT(rename(path, old), 0);
	append(old, "d\npart", 0);
	append(path, "e\n", 1);
	drain(f, buf, sizeof buf - 1);
	CHECK_STR(buf, "d\npart\ne\n"); /* the cut line ended */
	CHECK_INT(evk_follow_rotations(f), 1);
	/* Truncated and written again with less than was read (a file
	 * truncated and refilled past the point read looks the same as one
	 * that grew: tail -F cannot tell either). */
	append(path, "gg\n", 0);
	drain(f, buf, sizeof buf - 1);
	CHECK_STR(buf, "gg\n");
	append(path, "f\n", 1);
	drain(f, buf, sizeof buf - 1);
	CHECK_STR(buf, "f\n");
	CHECK_INT(evk_follow_rotations(f), 2);
	evk_follow_free(f);
	evk_follow_free(NULL);
	unlink(path);
	unlink(old);
	rmdir(dir);
}

/* --- choosing the events --- */

#define T0 INT64_C(1704067200) /* 2024-01-01T00:00:00Z */

static struct evk_replay_select
select_new(const char *expr)
{
	struct evk_replay_select s = {0};
	struct evk_err e = EVK_ERR_ZERO;

	s.json = evk_json_checker_new(NULL);
	CHECK(s.json != NULL);
	s.time_field = "time";
	if (expr != NULL) {
		s.expr = evk_expr_compile(expr, &e);
		CHECK(s.expr != NULL);
	}
	return s;
}

static void
select_free(struct evk_replay_select *s)
{
	evk_expr_free(s->expr);
	evk_json_checker_free(s->json);
}

TEST(select_parse)
{
	static const struct {
		const char *line;
		int rc, has;
		int64_t t;
	} rows[] = {
	    {"", EVK_REPLAY_BLANK, 0, 0},
	    {" \t\r", EVK_REPLAY_BLANK, 0, 0},
	    {"{", EVK_REPLAY_BADJSON, 0, 0},
	    {"[1]", EVK_REPLAY_NOTOBJ, 0, 0},
	    {"\"x\"", EVK_REPLAY_NOTOBJ, 0, 0},
	    {"{}", EVK_REPLAY_EVENT, 0, 0},
	    {"{\"time\":\"nope\"}", EVK_REPLAY_EVENT, 0, 0},
	    {"{\"time\":\"2024-01-01T00:00:01Z\"}", EVK_REPLAY_EVENT, 1,
	        (T0 + 1) * S},
	    {"{\"time\":\"2024-01-01T01:00:00+01:00\"}", EVK_REPLAY_EVENT, 1,
	        T0 * S},
	};
	struct evk_replay_select s = select_new(NULL);
	struct evk_err e = EVK_ERR_ZERO;
	size_t i;
	int64_t t;
	int has;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		has = 0;
		t = 0;
		e.msg[0] = '\0';
		CHECK_INT(evk_replay_parse(&s, rows[i].line,
		              strlen(rows[i].line), &has, &t, &e),
		    rows[i].rc);
		CHECK_INT(has, rows[i].has);
		CHECK_INT(t, rows[i].t);
		if (rows[i].rc == EVK_REPLAY_BADJSON)
			CHECK(e.msg[0] != '\0' && e.column > 0);
	}
	/* Another time field. */
	s.time_field = "meta.ts";
	CHECK_INT(evk_replay_parse(&s, "{\"meta\":{\"ts\":1704067200}}", 26,
	              &has, &t, NULL),
	    EVK_REPLAY_EVENT);
	CHECK_INT(has, 1);
	CHECK_INT(t, T0 * S);
	select_free(&s);
}

TEST(select_match)
{
	static const char ev1[] =
	    "{\"type\":\"a\",\"time\":\"2024-01-01T00:00:01Z\"}";
	static const char ev2[] =
	    "{\"type\":\"b\",\"time\":\"2024-01-01T00:00:05Z\"}";
	static const char untimed[] = "{\"type\":\"a\"}";
	struct evk_replay_select s = select_new("type == \"a\"");
	struct evk_span a = {ev1, strlen(ev1)}, b = {ev2, strlen(ev2)};
	struct evk_err e = EVK_ERR_ZERO;

	CHECK_INT(evk_replay_match(&s, a, 1, (T0 + 1) * S, &e), 1);
	CHECK_INT(evk_replay_match(&s, b, 1, (T0 + 5) * S, &e), 0);
	s.has_since = 1;
	s.since = (T0 + 1) * S;
	s.has_until = 1;
	s.until = (T0 + 2) * S;
	CHECK_INT(evk_replay_match(&s, a, 1, (T0 + 1) * S, &e), 1);
	CHECK_INT(evk_replay_match(&s, a, 1, T0 * S, &e), 0);
	CHECK_INT(evk_replay_match(&s, a, 1, (T0 + 2) * S, &e), 0);
	/* Without a known time: never after --since. */
	CHECK_INT(evk_replay_match(&s, a, 0, 0, &e), 0);
	s.has_since = 0;
	CHECK_INT(evk_replay_match(&s, a, 0, 0, &e), 1);
	/* evk_line_fn for reading backwards: by each event's own time. */
	CHECK_INT(evk_replay_accepts(&s, ev1, strlen(ev1)), 1);
	CHECK_INT(evk_replay_accepts(&s, ev2, strlen(ev2)), 0);
	CHECK_INT(evk_replay_accepts(&s, untimed, strlen(untimed)), 1);
	CHECK_INT(evk_replay_accepts(&s, "[1]", 3), 0);
	CHECK_INT(evk_replay_accepts(&s, "  ", 2), 0);
	CHECK_INT(evk_replay_accepts(&s, "{x", 2), 0);
	select_free(&s);
}

static int
pick(struct evk_replay_select *s, struct evk_replay_pass *ps, const char *line,
    struct evk_replay_pick *pk)
{
	struct evk_err e = EVK_ERR_ZERO;

	return evk_replay_pick(s, ps, line, strlen(line), pk, &e);
}

TEST(select_pick)
{
	struct evk_replay_select s = select_new(NULL);
	struct evk_replay_pass ps = {0};
	struct evk_replay_pick pk;

	/* Replaying: the clock, --skip, --count. */
	ps.replay = 1;
	ps.skip = 1;
	ps.count = 3;
	evk_replay_pass_start(&ps);
	CHECK_INT(pick(&s, &ps, "", &pk), EVK_REPLAY_BLANK);
	CHECK_INT(pick(&s, &ps, "[]", &pk), EVK_REPLAY_NOTOBJ);
	CHECK_INT(pick(&s, &ps, "{\"time\":\"2024-01-01T00:00:03Z\"}", &pk),
	    EVK_REPLAY_SKIPPED); /* --skip 1 */
	CHECK_INT(pick(&s, &ps, "{\"time\":\"2024-01-01T00:00:01Z\"}", &pk),
	    EVK_REPLAY_EVENT);
	CHECK_INT(pk.clock, EVK_CLOCK_BACKWARDS);
	CHECK_INT(pk.has_time, 1);
	CHECK_INT(pk.t_ns, (T0 + 1) * S);
	CHECK_INT(pk.known, 1);
	CHECK_INT(pk.eff, (T0 + 3) * S);
	CHECK_INT(pick(&s, &ps, "{}", &pk), EVK_REPLAY_EVENT);
	CHECK_INT(pk.clock, EVK_CLOCK_UNTIMED);
	CHECK_INT(pk.eff, (T0 + 3) * S);
	CHECK_INT(ps.done, 0);
	CHECK_INT(pick(&s, &ps, "{\"time\":\"2024-01-01T00:00:04Z\"}", &pk),
	    EVK_REPLAY_EVENT);
	CHECK_INT(pk.clock, EVK_CLOCK_OK);
	CHECK_INT(ps.done, 1); /* -n 3 */
	CHECK_INT(ps.selected, 3);
	CHECK_INT(ps.skipped, 1);
	/* A new pass starts over. */
	evk_replay_pass_start(&ps);
	CHECK_INT(ps.done, 0);
	CHECK_INT(ps.selected, 0);
	CHECK_INT(pick(&s, &ps, "{}", &pk), EVK_REPLAY_SKIPPED);
	CHECK_INT(pick(&s, &ps, "{}", &pk), EVK_REPLAY_EVENT);
	CHECK_INT(pk.known, 0);

	/* --until ends a replay at the first event past it... */
	ps.skip = ps.count = 0;
	evk_replay_pass_start(&ps);
	s.has_until = 1;
	s.until = (T0 + 2) * S;
	CHECK_INT(pick(&s, &ps, "{\"time\":\"2024-01-01T00:00:01Z\"}", &pk),
	    EVK_REPLAY_EVENT);
	CHECK_INT(pick(&s, &ps, "{\"time\":\"2024-01-01T00:00:02Z\"}", &pk),
	    EVK_REPLAY_SKIPPED);
	CHECK_INT(ps.done, 1);
	/* ... but not a look at each event's own time (--stats). */
	ps.replay = 0;
	evk_replay_pass_start(&ps);
	CHECK_INT(pick(&s, &ps, "{\"time\":\"2024-01-01T00:00:03Z\"}", &pk),
	    EVK_REPLAY_SKIPPED);
	CHECK_INT(ps.done, 0);
	CHECK_INT(pick(&s, &ps, "{\"time\":\"2024-01-01T00:00:01Z\"}", &pk),
	    EVK_REPLAY_EVENT);
	CHECK_INT(pk.eff, (T0 + 1) * S); /* its own, not the clock's */
	CHECK_INT(pick(&s, &ps, "{}", &pk), EVK_REPLAY_EVENT);
	CHECK_INT(pk.known, 0);
	select_free(&s);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

TEST(span)
{
	char dir[] = "/tmp/evk-test-span-XXXXXX", a[64], b[64], c[64];
	struct evk_replay_select s = select_new(NULL);
	int64_t first = -1, last = -1;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(a, sizeof a, "%s/a", dir);
	snprintf(b, sizeof b, "%s/b", dir);
	snprintf(c, sizeof c, "%s/c", dir);
	write_file(a,
	    "\n{}\nnot json\n{\"time\":\"2024-01-01T00:00:02Z\"}\n"
	    "{\"time\":\"2024-01-01T00:00:09Z\"}\n");
	write_file(b,
	    "{\"time\":\"2024-01-01T00:00:30Z\"}\n"
	    "{\"time\":\"2024-01-01T00:01:00Z\"}\n{}\n[]\n");
	write_file(c, "{}\n");
	CHECK_INT(evk_replay_span(&s, a, b, 1024, NULL, NULL, &first, &last),
	    1);
	CHECK_INT(first, (T0 + 2) * S);
	CHECK_INT(last, (T0 + 60) * S);
	/* One file. */
	CHECK_INT(evk_replay_span(&s, a, a, 1024, NULL, NULL, &first, &last),
	    1);
	CHECK_INT(first, (T0 + 2) * S);
	CHECK_INT(last, (T0 + 9) * S);
	/* No timed event at the end: the span is empty. */
	CHECK_INT(evk_replay_span(&s, a, c, 1024, NULL, NULL, &first, &last),
	    1);
	CHECK_INT(last, first);
	CHECK_INT(evk_replay_span(&s, c, c, 1024, NULL, NULL, &first, &last),
	    1);
	CHECK_INT(first, 0);
	CHECK_INT(last, 0);
	/* Missing files: nothing known. */
	first = last = -1;
	CHECK_INT(evk_replay_span(&s, "/nonexistent/x", b, 1024, NULL, NULL,
	              &first, &last),
	    0);
	CHECK_INT(evk_replay_span(&s, a, "/nonexistent/x", 1024, NULL, NULL,
	              &first, &last),
	    0);
	CHECK_INT(first, -1);
	CHECK_INT(last, -1);
	select_free(&s);
	unlink(a);
	unlink(b);
	unlink(c);
	rmdir(dir);
}

/* --- the last lines --- */

TEST(ring)
{
	struct evk_ring *r = evk_ring_new(3);
	struct evk_span sp;
	char line[16];
	int i, n;

	CHECK(r != NULL);
	CHECK_INT(evk_ring_len(r), 0);
	CHECK_INT(evk_ring_push(r, "a", 1), 0);
	CHECK_INT(evk_ring_push(r, "", 0), 0);
	CHECK_INT(evk_ring_len(r), 2);
	sp = evk_ring_get(r, 0);
	CHECK_MEM(sp.p, sp.len, "a", 1);
	CHECK_INT(evk_ring_get(r, 1).len, 0);
	for (i = 0; i < 10; i++) {
		n = snprintf(line, sizeof line, "line %d\r", i);
		CHECK_INT(evk_ring_push(r, line, (size_t)n), 0);
	}
	CHECK_INT(evk_ring_len(r), 3);
	for (i = 0; i < 3; i++) {
		n = snprintf(line, sizeof line, "line %d\r", 7 + i);
		sp = evk_ring_get(r, (size_t)i);
		CHECK_MEM(sp.p, sp.len, line, (size_t)n);
	}
	evk_ring_free(r);
	evk_ring_free(NULL);
	CHECK(evk_ring_new(0) == NULL);
	/* One slot. */
	r = evk_ring_new(1);
	CHECK_INT(evk_ring_push(r, "x", 1), 0);
	CHECK_INT(evk_ring_push(r, "yz", 2), 0);
	CHECK_INT(evk_ring_len(r), 1);
	sp = evk_ring_get(r, 0);
	CHECK_MEM(sp.p, sp.len, "yz", 2);
	evk_ring_free(r);
}

/* --- pacing and progress --- */

static int
fail_ready(void *ctx, struct evk_err *err)
{
	(*(int *)ctx)++;
	snprintf(err->msg, sizeof err->msg, "ready");
	return EVK_EPIPE;
}

TEST(wait)
{
	volatile sig_atomic_t halt = 0;
	struct evk_err e = EVK_ERR_ZERO;
	int64_t t0 = evk_replay_now(), dl;
	int p[2], calls = 0;

	CHECK(t0 > 0);
	/* Near and far deadlines are reached, never left early. */
	dl = t0 + 1000000;
	CHECK_INT(evk_replay_wait(dl, &halt, NULL, -1, NULL, NULL, &e), 0);
	CHECK(evk_replay_now() >= dl);
	dl = evk_replay_now() + 20000000;
	CHECK_INT(evk_replay_wait(dl, NULL, NULL, -1, NULL, NULL, &e), 0);
	CHECK(evk_replay_now() >= dl);
	/* A past deadline or a stop: at once. */
	CHECK_INT(evk_replay_wait(t0, &halt, NULL, -1, NULL, NULL, &e), 0);
	halt = 1;
	dl = evk_replay_now() + 10 * S;
	CHECK_INT(evk_replay_wait(dl, &halt, NULL, -1, NULL, NULL, &e), 0);
	CHECK(evk_replay_now() < dl);
	/* A readable fd calls `ready`, whose error ends the wait. */
	halt = 0;
	CHECK_INT(pipe(p), 0);
	CHECK_INT(write(p[1], "x", 1), 1);
	dl = evk_replay_now() + 10 * S;
	CHECK_INT(evk_replay_wait(dl, &halt, NULL, p[0], fail_ready, &calls,
	              &e),
	    EVK_EPIPE);
	CHECK_INT(calls, 1);
	CHECK_STR(e.msg, "ready");
	CHECK(evk_replay_now() < dl);
	close(p[0]);
	close(p[1]);
}

static void
check_progress(const struct evk_replay_progress *p, uint64_t sent, int64_t el,
    int last, const char *want)
{
	struct evk_buf b = EVK_BUF_ZERO;

	CHECK_INT(evk_replay_progress_line(p, "evreplay", sent, el, last, &b),
	    0);
	CHECK_STR(b.p, want);
	evk_buf_free(&b);
}

TEST(progress_line)
{
	struct evk_replay_progress p = EVK_REPLAY_PROGRESS_ZERO;

	check_progress(&p, 0, 0, 0, "\revreplay: sent 0  0/s\033[K");
	check_progress(&p, 5, 2 * S, 1, "\revreplay: sent 5  2/s\033[K\n");
	p.started = 1;
	p.eff = T0 * S + 500000000;
	check_progress(&p, 20, 10 * S, 0,
	    "\revreplay: sent 20  2/s  at 2024-01-01T00:00:00Z\033[K");
	/* Before the epoch, rounded down. */
	p.eff = -1;
	check_progress(&p, 1, S, 0,
	    "\revreplay: sent 1  1/s  at 1969-12-31T23:59:59Z\033[K");
	/* Within a span: the share and the time left at this pace. */
	p.span = 1;
	p.first = (T0 - 100) * S;
	p.last = (T0 + 100) * S;
	p.eff = T0 * S;
	check_progress(&p, 20, 10 * S, 0,
	    "\revreplay: sent 20  2/s  at 2024-01-01T00:00:00Z (50%)  ETA "
	    "10s\033[K");
	check_progress(&p, 20, 3723 * S, 0,
	    "\revreplay: sent 20  0/s  at 2024-01-01T00:00:00Z (50%)  ETA "
	    "1h02m03s\033[K");
	check_progress(&p, 20, 83 * S, 0,
	    "\revreplay: sent 20  0/s  at 2024-01-01T00:00:00Z (50%)  ETA "
	    "1m23s\033[K");
	/* Clamped to the span; no ETA at its start. */
	p.eff = (T0 - 200) * S;
	check_progress(&p, 0, S, 0,
	    "\revreplay: sent 0  0/s  at 2023-12-31T23:56:40Z (0%)\033[K");
	p.eff = (T0 + 200) * S;
	check_progress(&p, 0, S, 0,
	    "\revreplay: sent 0  0/s  at 2024-01-01T00:03:20Z (100%)  ETA "
	    "0s\033[K");
	/* An empty span: no share. */
	p.last = p.first;
	check_progress(&p, 0, 0, 0,
	    "\revreplay: sent 0  0/s  at 2024-01-01T00:03:20Z\033[K");
}

int
main(void)
{
	RUN(factors);
	RUN(rates);
	RUN(clock);
	RUN(sched_by_time);
	RUN(sched_untimed);
	RUN(sched_no_drift);
	RUN(sched_passes);
	RUN(stats_counts);
	RUN(stats_buckets);
	RUN(stats_empty);
	RUN(tail);
	RUN(tail_blocks);
	RUN(follow);
	RUN(select_parse);
	RUN(select_match);
	RUN(select_pick);
	RUN(span);
	RUN(ring);
	RUN(wait);
	RUN(progress_line);
	return t_done();
}
