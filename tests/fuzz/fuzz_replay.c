/*
 * tests/fuzz/fuzz_replay.c - libFuzzer target for lib/replay.c: the
 * factor and rate parsers, the statistics and the schedule over arbitrary
 * lines, and evk_replay_tail() against a forward count.
 *
 * Invariants: a parsed factor is in (0, 1e12] millionths; offsets never
 * go down; the statistics report is one valid JSON object; the tail's
 * offset starts a line, and from it exactly min(n, all) lines count.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evkit/event.h"
#include "evkit/json.h"
#include "evkit/replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct evk_json_checker *json;

/* The tail's rule here: a non-blank line starting with '{'. */
static int
accept(void *ctx, const char *p, size_t n)
{
	(void)ctx;
	return n > 0 && p[0] == '{';
}

/* Counts the lines of t[0..n) from the start that `accept` takes, as
 * evk_replay_tail() sees lines: "\n"-terminated, a last one without. */
static uint64_t
count_forward(const char *t, size_t n, size_t max_line)
{
	uint64_t c = 0;
	size_t i = 0, j, len;

	while (i < n) {
		const char *nl = memchr(t + i, '\n', n - i);
		j = nl ? (size_t)(nl - t) : n;
		len = j - i;
		if (len <= max_line) {
			if (len > 0 && t[j - 1] == '\r')
				len--;
			c += (uint64_t)accept(NULL, t + i, len);
		}
		i = j + 1;
	}
	return c;
}

static void
check_tail(const uint8_t *data, size_t size)
{
	static int fd = -1;
	uint64_t n, all;
	size_t max_line;
	off_t off;

	if (size < 2)
		return;
	n = data[0] % 8;
	max_line = 1 + data[1] % 64;
	data += 2;
	size -= 2;
	if (fd < 0) {
		char path[] = "/tmp/fuzz-replay-XXXXXX";
		if ((fd = mkstemp(path)) < 0)
			abort();
		unlink(path);
	}
	if (ftruncate(fd, 0) < 0 ||
	    (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	if (evk_replay_tail(fd, n, max_line, accept, NULL, &off, NULL) != 0)
		abort();
	/* n 0: the end of the file, which need not start a line. */
	if (off < 0 || (size_t)off > size ||
	    (off > 0 && (size_t)off < size && data[off - 1] != '\n') ||
	    (n == 0 && (size_t)off != size))
		abort();
	all = count_forward((const char *)data, size, max_line);
	if (count_forward((const char *)data + off, size - (size_t)off,
	        max_line) != (n < all ? n : all))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evk_stats *st;
	struct evk_sched *sc;
	struct evk_sched_opts so = {0};
	struct evk_replay_clock clock = EVK_REPLAY_CLOCK_ZERO;
	struct evk_stats_fmt sf = {0};
	struct evk_buf rep = EVK_BUF_ZERO;
	enum evk_json_type type;
	char *s = malloc(size + 1);
	uint64_t micro, num, den;
	int64_t last = 0, off, eff;
	size_t i, j;
	int known;

	if (s == NULL)
		return 0;
	if (json == NULL && (json = evk_json_checker_new(NULL)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (evk_replay_factor(s, &micro, NULL) == 0 &&
	    (micro == 0 || micro > UINT64_C(1000000000000)))
		abort();
	if (evk_replay_rate(s, &num, &den, NULL) == 0 && (den == 0 || num == 0))
		abort();

	so.speed = 1 + (size ? data[0] : 0) * 100000u;
	so.max_gap_ns = size > 1 && data[1] & 1 ? 1000000000 : 0;
	if ((st = evk_stats_new()) == NULL || (sc = evk_sched_new(&so)) == NULL)
		abort();
	for (i = 0; i < size; i = j + 1) {
		const char *nl = memchr(s + i, '\n', size - i);
		struct evk_span ev;
		struct evk_time t;
		int has;

		j = nl ? (size_t)(nl - s) : size;
		ev.p = s + i;
		ev.len = j - i;
		if (evk_json_check(json, ev.p, ev.len, &type, NULL) < 0 ||
		    type != EVK_JSON_OBJECT) {
			evk_stats_invalid(st);
			continue;
		}
		has = evk_event_time_at(ev, "time", &t, NULL) == 0;
		if (evk_stats_add(st, ev, ev.len + 1, has,
		        has ? evk_time_ns(&t) : 0) < 0)
			abort();
		evk_replay_clock_step(&clock, has, has ? evk_time_ns(&t) : 0,
		    &eff, &known);
		off = evk_sched_next(sc, known, eff);
		if (off < last)
			abort();
		last = off;
	}
	sf.json = size > 2 ? data[2] & 1 : 1;
	sf.top = size > 3 ? data[3] % 20 : 0;
	if (evk_stats_report(st, &sf, &rep) != 0)
		abort();
	if (sf.json &&
	    (evk_json_check(json, rep.p, rep.len, &type, NULL) < 0 ||
	        type != EVK_JSON_OBJECT))
		abort();
	/* Text: names escaped, bars UTF-8: never bytes a terminal would
	 * take for anything but text. */
	if (!sf.json && evk_utf8_check(rep.p, rep.len, NULL) < 0)
		abort();
	evk_buf_free(&rep);
	evk_stats_free(st);
	evk_sched_free(sc);
	check_tail(data, size);
	free(s);
	return 0;
}
