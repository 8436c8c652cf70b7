/*
 * evreplay - replay recorded events with their timing; summarise
 * recordings.
 */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "evkit/bus.h"
#include "evkit/expr.h"
#include "evkit/frame.h"
#include "evkit/json.h"
#include "evkit/replay.h"
#include "evkit/time.h"
#include "cli.h"

static const char usage_text[] =
    "usage: evreplay [-b URL] [--speed X | --fast | --rate N/s] [options] "
    "[FILE ...]\n"
    "       evreplay --stats [--json] [options] [FILE ...]\n"
    "       evreplay --head N | --tail N [options] [FILE ...]\n"
    "\n"
    "Replay recorded events (JSON lines) with their original timing, byte\n"
    "for byte, to standard output or to a bus; or summarise a recording.\n"
    "\n"
    "  -b, --bus URL           publish to the bus at URL ('': the default\n"
    "                          bus) instead of writing to standard output\n"
    "      --time-field PATH   the event's time (default: time)\n"
    "      --speed X           X times faster (0.5: slower; default 1)\n"
    "      --fast              no waiting at all\n"
    "      --rate N/s          a fixed rate (also N/m, N/h), ignoring times\n"
    "      --max-gap DUR       wait at most DUR between two events\n"
    "      --loop N            replay N times (0: forever)\n"
    "      --loop-gap DUR      wait DUR between two passes\n"
    "      --since T           only events at or after T (RFC 3339 or -DUR)\n"
    "      --until T           only events before T\n"
    "      --skip N            leave out the first N selected events\n"
    "  -n, --count COUNT       stop after COUNT events (per pass)\n"
    "  -t, --topic PATTERN     type matches PATTERN (order.*); several: any\n"
    "  -e, --expr EXPR         an evfilter(1) expression; several: all\n"
    "      --follow            keep reading FILE as it grows (tail -F)\n"
    "      --progress          a live progress line on standard error\n"
    "                          (default when it is a terminal)\n"
    "      --no-progress       no progress line\n"
    "      --dry-run           send nothing; print how many events and when\n"
    "      --timing            with --dry-run: print each event's planned\n"
    "                          send offset and its FILE:LINE instead\n"
    "      --stats             summarise the events instead of replaying\n"
    "      --json              with --stats: one JSON object\n"
    "      --top N             with --stats: rows of types and sources (10)\n"
    "      --head N            print the first N events at once\n"
    "      --tail N            print the last N events at once\n"
    "      --dead-letter FILE  append rejected lines to FILE, verbatim\n"
    "      --max-line N        longest line in bytes (default 1M)\n"
    "      --max-depth N       deepest JSON nesting (default 128)\n"
    "      --line-buffered     flush after every event\n"
    "  -h, --help              show this help and exit\n"
    "  -V, --version           show the version and exit\n"
    "\n"
    "Exit status: 0 all good, 1 some input was rejected, 2 usage or fatal "
    "error.\n";

enum mode { M_REPLAY, M_STATS, M_HEAD, M_TAIL };

struct replay {
	enum mode mode;
	struct evk_replay_select sel; /* which events */
	struct evk_replay_pass pass; /* --skip, -n and the pass */
	int dry, timing, follow, progress;
	struct cli_dead dead;
	size_t max_line;
	struct evk_sink *out;
	struct evk_bus *bus;
	struct evk_sched *sched;
	struct evk_stats *stats;
	/* the whole run */
	int64_t start; /* evk_replay_now() of offset 0 */
	int started; /* start is set */
	int64_t last_off;
	uint64_t sent, untimed, backwards;
	int status;
	struct evk_reader *r; /* reachable when an exit happens */
	/* --tail: the last events */
	struct evk_ring *ring;
	long long nring;
	int tail_seek; /* line numbers count from the tail's start */
	/* --progress */
	int64_t prog_next;
	struct evk_replay_progress prog;
};

static void reject(struct replay *rp, const char *name,
    const struct evk_line *ln, const char *fmt, ...) CLI_PRINTF(4, 5);

static void
reject(struct replay *rp, const char *name, const struct evk_line *ln,
    const char *fmt, ...)
{
	char where[PATH_MAX + 32];
	va_list ap;

	if (rp->tail_seek) {
		snprintf(where, sizeof where, "%s (tail)", name);
		name = where;
	}
	va_start(ap, fmt);
	cli_vreject_line(name, ln, &rp->dead, fmt, ap);
	va_end(ap);
	if (rp->stats != NULL)
		evk_stats_invalid(rp->stats);
	if (rp->status == CLI_OK)
		rp->status = CLI_REJECTED;
}

static void
dead_event(void *ctx, const char *ev, size_t len)
{
	cli_dead_line(ctx, ev, len, 0);
}

static void
output_failed(struct replay *rp, int rc, const struct evk_err *err)
{
	size_t n;

	if (rp->bus != NULL) {
		n = evk_bus_unacked(rp->bus, dead_event, &rp->dead);
		if (n > 0)
			cli_warn("%zu events were not acknowledged%s", n,
			    rp->dead.f ? " (kept as dead letters)" : "");
	}
	cli_dead_close(&rp->dead);
	cli_output_failed(rc, err, rp->status);
}

static void
put(struct replay *rp, const char *p, size_t len)
{
	struct evk_err err = EVK_ERR_ZERO;
	int rc;

	if ((rc = evk_sink_put(rp->out, p, len, &err)) < 0)
		output_failed(rp, rc, &err);
}

static void
flush(struct replay *rp)
{
	struct evk_err err = EVK_ERR_ZERO;
	int rc;

	if ((rc = evk_sink_flush(rp->out, &err)) < 0)
		output_failed(rp, rc, &err);
}

static void
flush_cb(void *ctx)
{
	flush(ctx);
}

/* The bus refused an event. */
static void
refused(void *ctx, const char *ev, size_t len, const char *msg)
{
	struct replay *rp = ctx;

	cli_warn("the bus refused an event: %s", msg);
	cli_dead_line(&rp->dead, ev, len, 0);
	if (rp->status == CLI_OK)
		rp->status = CLI_REJECTED;
}

/* While waiting: the bus's acknowledgements. */
static int
bus_ready(void *ctx, struct evk_err *err)
{
	return evk_bus_push(ctx, err);
}

/* The live line: events sent, rate, where in the recording, ETA. */
static void
progress(struct replay *rp, int last)
{
	int64_t now = evk_replay_now();
	struct evk_buf b = EVK_BUF_ZERO;

	if (!rp->progress || (!last && now < rp->prog_next))
		return;
	rp->prog_next = now + 250000000;
	if (evk_replay_progress_line(&rp->prog, cli_prog, rp->sent,
	        now - rp->start, last, &b) < 0)
		cli_die(CLI_FATAL, "out of memory");
	fputs(b.p, stderr);
	fflush(stderr);
	evk_buf_free(&b);
}

/* Sends one selected event (or prints its plan) at its offset. */
static void
send_event(struct replay *rp, const char *name, const struct evk_line *ln,
    int known, int64_t eff)
{
	int64_t off = evk_sched_next(rp->sched, known, eff);
	struct evk_err err = EVK_ERR_ZERO;
	char plan[PATH_MAX + 64];
	int n, rc;

	/* Offset 0 is when the first event is ready to go, not when the
	 * program started: opening and reading take their time. */
	if (!rp->started) {
		rp->start = evk_replay_now();
		rp->started = 1;
	}

	rp->last_off = off;
	if (known) {
		rp->prog.eff = eff;
		rp->prog.started = 1;
	}
	if (rp->timing) {
		n = snprintf(plan, sizeof plan, "%lld.%09lld %s:%llu",
		    (long long)(off / 1000000000),
		    (long long)(off % 1000000000), name ? name : "-",
		    (unsigned long long)ln->no);
		put(rp, plan,
		    (size_t)n < sizeof plan ? (size_t)n : sizeof plan - 1);
		rp->sent++;
		return;
	}
	if (rp->dry) {
		rp->sent++;
		return;
	}
	if (rp->start + off > evk_replay_now()) {
		flush(rp);
		progress(rp, 0);
		if ((rc = evk_replay_wait(rp->start + off, &cli_stop,
		         &cli_waitmask, rp->bus ? evk_bus_fd(rp->bus) : -1,
		         bus_ready, rp->bus, &err)) < 0)
			output_failed(rp, rc, &err);
		/* Stopped while waiting: this event's time never came. */
		if (cli_stop) {
			rp->pass.done = 1;
			return;
		}
	}
	/* The bytes as read: a "\r" the reader took off goes back. */
	put(rp, ln->p, ln->len + (size_t)ln->crlf);
	rp->sent++;
	progress(rp, 0);
}

/* One input line. */
static void
line(struct replay *rp, const char *name, const struct evk_line *ln)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_replay_pick pk;
	size_t len = ln->len + (size_t)ln->crlf;
	int rc;

	rc = evk_replay_pick(&rp->sel, &rp->pass, ln->p, ln->len, &pk, &err);
	if (rc == EVK_REPLAY_BADJSON)
		reject(rp, name, ln, "invalid JSON: %s at column %zu", err.msg,
		    err.column);
	else if (rc == EVK_REPLAY_NOTOBJ)
		reject(rp, name, ln, "not a JSON object");
	else if (rc < 0)
		reject(rp, name, ln, "%s", err.msg);
	if (rc != EVK_REPLAY_EVENT)
		return;
	switch (rp->mode) {
	case M_STATS:
		if (evk_stats_add(rp->stats, pk.ev, len + 1, pk.has_time,
		        pk.t_ns) < 0)
			cli_die(CLI_FATAL, "out of memory");
		break;
	case M_HEAD: put(rp, ln->p, len); break;
	case M_TAIL:
		if (rp->tail_seek)
			put(rp, ln->p, len);
		else if (evk_ring_push(rp->ring, ln->p, len) < 0)
			cli_die(CLI_FATAL, "out of memory");
		break;
	case M_REPLAY:
		if (pk.clock == EVK_CLOCK_UNTIMED)
			rp->untimed++;
		else if (pk.clock == EVK_CLOCK_BACKWARDS)
			rp->backwards++;
		send_event(rp, name, ln, pk.known, pk.eff);
		break;
	}
}

/* Reads one input with `r` to its end (or until done). */
static void
read_all(struct replay *rp, struct evk_reader *r, const char *name)
{
	struct evk_line ln;
	struct evk_err err;
	int rc;

	rp->r = r;
	while (!rp->pass.done) {
		/* Output waits in the buffer only while input is ready. */
		if (rp->mode == M_REPLAY && !rp->dry && !evk_reader_ready(r))
			flush(rp);
		err.msg[0] = '\0';
		rc = evk_reader_next(r, &ln, &err);
		if (rc == 1) {
			line(rp, name, &ln);
		} else if (rc == EVK_ETOOLONG || rc == EVK_ENUL) {
			reject(rp, name, &ln, "%s", err.msg);
		} else {
			if (rc == EVK_EIO) {
				cli_warn("%s: %s", cli_input_name(name),
				    err.msg);
				rp->status = CLI_FATAL;
			}
			break;
		}
	}
	evk_reader_free(r);
	rp->r = NULL;
}

static void
run(void *ctx, int fd, const char *name)
{
	struct replay *rp = ctx;

	read_all(rp, cli_reader(fd, rp->max_line, &rp->dead), name);
}

/* --tail of one regular file: from where its last events start. */
static int
tail_file(struct replay *rp, const char *path)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct stat st;
	off_t off;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0; /* cli_inputs() reports it */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	if (evk_replay_tail(fd, (uint64_t)rp->nring, rp->max_line,
	        evk_replay_accepts, &rp->sel, &off, &err) < 0) {
		cli_warn("%s: %s", path, err.msg);
		close(fd);
		rp->status = CLI_FATAL;
		return 1;
	}
	if (lseek(fd, off, SEEK_SET) < 0) {
		close(fd);
		return 0;
	}
	rp->tail_seek = off > 0;
	read_all(rp, cli_reader(fd, rp->max_line, &rp->dead), path);
	close(fd);
	return 1;
}

/* The time span of the recording, for the progress line. */
static void
progress_span(struct replay *rp, char **files, int n)
{
	if (n == 0 || !strcmp(files[0], "-") || !strcmp(files[n - 1], "-"))
		return;
	if ((rp->prog.span = evk_replay_span(&rp->sel, files[0], files[n - 1],
	         rp->max_line, &cli_stop, &cli_waitmask, &rp->prog.first,
	         &rp->prog.last)) < 0)
		cli_die(CLI_FATAL, "out of memory");
}

/* --follow FILE. */
static void
follow(struct replay *rp, const char *path)
{
	struct evk_follow_opts fo = {0};
	struct evk_reader_opts ro = {0};
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_follow *f;
	struct evk_reader *r;

	fo.stop = &cli_stop;
	fo.sigmask = &cli_waitmask;
	fo.idle = flush_cb;
	fo.ctx = rp;
	if (evk_follow_open(path, &fo, &f, &err) < 0)
		cli_die(CLI_FATAL, "%s", err.msg);
	ro.max_line = rp->max_line;
	ro.stop = &cli_stop;
	ro.on_skip = rp->dead.f ? cli_dead_skip : NULL;
	ro.skip_ctx = &rp->dead;
	if ((r = evk_reader_new_fn(evk_follow_read, f, &ro)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	read_all(rp, r, path);
	evk_follow_free(f);
}

/* --since / --until: RFC 3339, or -DUR before now. */
static int64_t
when(const char *opt, const char *s)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_time t;
	int64_t ns;

	if (s[0] == '-') {
		if (evk_duration_parse(s + 1, strlen(s + 1), &ns, &err) < 0)
			cli_usage_error("%s %s: %s", opt, s, err.msg);
		evk_time_now(&t);
		return evk_time_ns(&t) - ns;
	}
	if (evk_time_parse(s, strlen(s), &t, &err) < 0)
		cli_usage_error("%s %s: not an RFC 3339 time or -DURATION "
		                "(%s)",
		    opt, s, err.msg);
	return evk_time_ns(&t);
}

enum {
	O_TIME_FIELD = 256,
	O_SPEED,
	O_FAST,
	O_RATE,
	O_MAX_GAP,
	O_LOOP,
	O_LOOP_GAP,
	O_SINCE,
	O_UNTIL,
	O_SKIP,
	O_FOLLOW,
	O_PROGRESS,
	O_NO_PROGRESS,
	O_DRY_RUN,
	O_TIMING,
	O_STATS,
	O_JSON,
	O_TOP,
	O_HEAD,
	O_TAIL,
	O_DEAD,
	O_MAX_LINE,
	O_MAX_DEPTH,
	O_LINEBUF,
};

static const struct option longopts[] = {
    {"bus", required_argument, NULL, 'b'},
    {"time-field", required_argument, NULL, O_TIME_FIELD},
    {"speed", required_argument, NULL, O_SPEED},
    {"fast", no_argument, NULL, O_FAST},
    {"rate", required_argument, NULL, O_RATE},
    {"max-gap", required_argument, NULL, O_MAX_GAP},
    {"loop", required_argument, NULL, O_LOOP},
    {"loop-gap", required_argument, NULL, O_LOOP_GAP},
    {"since", required_argument, NULL, O_SINCE},
    {"until", required_argument, NULL, O_UNTIL},
    {"skip", required_argument, NULL, O_SKIP},
    {"count", required_argument, NULL, 'n'},
    {"topic", required_argument, NULL, 't'},
    {"expr", required_argument, NULL, 'e'},
    {"follow", no_argument, NULL, O_FOLLOW},
    {"progress", no_argument, NULL, O_PROGRESS},
    {"no-progress", no_argument, NULL, O_NO_PROGRESS},
    {"dry-run", no_argument, NULL, O_DRY_RUN},
    {"timing", no_argument, NULL, O_TIMING},
    {"stats", no_argument, NULL, O_STATS},
    {"json", no_argument, NULL, O_JSON},
    {"top", required_argument, NULL, O_TOP},
    {"head", required_argument, NULL, O_HEAD},
    {"tail", required_argument, NULL, O_TAIL},
    {"dead-letter", required_argument, NULL, O_DEAD},
    {"max-line", required_argument, NULL, O_MAX_LINE},
    {"max-depth", required_argument, NULL, O_MAX_DEPTH},
    {"line-buffered", no_argument, NULL, O_LINEBUF},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Options that were given, to refuse the combinations that mean nothing. */
struct given {
	int speed, fast, rate, max_gap, loop, loop_gap, json, top, bus, skip;
	int count, progress, modes;
};

static void
check(const struct replay *rp, const struct given *g, char **files, int n)
{
	int i;

	if (g->modes > 1)
		cli_usage_error(
		    "--stats, --head and --tail exclude each other");
	if (g->speed + g->fast + g->rate > 1)
		cli_usage_error(
		    "--speed, --fast and --rate exclude each other");
	if (g->max_gap && (g->fast || g->rate))
		cli_usage_error("--max-gap goes with recorded times: not with "
		                "--fast or --rate");
	if (rp->timing && !rp->dry)
		cli_usage_error("--timing needs --dry-run");
	if (g->json && rp->mode != M_STATS)
		cli_usage_error("--json needs --stats");
	if (g->top && rp->mode != M_STATS)
		cli_usage_error("--top needs --stats");
	if (g->loop_gap && !g->loop)
		cli_usage_error("--loop-gap needs --loop");
	if (rp->mode != M_REPLAY) {
		if (g->speed || g->fast || g->rate || g->max_gap || g->loop ||
		    g->bus || rp->follow || rp->dry || g->progress)
			cli_usage_error(
			    "--stats, --head and --tail do not replay: not "
			    "with -b, --speed, --fast, --rate, --max-gap, "
			    "--loop, --follow, --dry-run or --progress");
		if (rp->mode != M_STATS && (g->skip || g->count))
			cli_usage_error("--head and --tail: not with --skip "
			                "or -n");
	}
	if (g->bus && rp->dry)
		cli_usage_error("-b and --dry-run exclude each other");
	if (g->loop || rp->follow) {
		if (n == 0)
			cli_usage_error("%s needs FILE operands",
			    rp->follow ? "--follow" : "--loop");
		for (i = 0; i < n; i++)
			if (!strcmp(files[i], "-"))
				cli_usage_error("%s cannot read standard "
				                "input again",
				    rp->follow ? "--follow" : "--loop");
	}
	if (rp->follow && (n != 1 || g->loop))
		cli_usage_error("--follow takes one FILE, without --loop");
}

int
main(int argc, char **argv)
{
	/* Static: what main() holds stays reachable when a helper exits, so
	 * LeakSanitizer sees no leak on the early exits. */
	static struct replay rp;
	static char **exprs, **topics;
	struct evk_json_opts jo = {0};
	struct evk_sched_opts so = {0};
	struct evk_stats_fmt sf = {0};
	struct evk_bus_pub_opts bo = {0};
	struct evk_err err = EVK_ERR_ZERO;
	struct given g = {0};
	const char *dead = NULL, *url = NULL;
	long long loops = 1, pass, n;
	int64_t loop_gap = 0;
	int nexprs = 0, ntopics = 0, c, linebuf = 0, want_progress = -1;

	cli_init("evreplay");
	argv[0] = (char *)cli_prog;
	exprs = calloc((size_t)argc + 1, sizeof *exprs);
	topics = calloc((size_t)argc + 1, sizeof *topics);
	if (exprs == NULL || topics == NULL)
		cli_die(CLI_FATAL, "out of memory");
	rp.sel.time_field = "time";
	rp.max_line = EVK_MAX_LINE;
	while (
	    (c = getopt_long(argc, argv, "b:n:t:e:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			url = *optarg ? optarg : NULL;
			g.bus = 1;
			break;
		case O_TIME_FIELD:
			if (*optarg == '\0')
				cli_usage_error("--time-field: empty path");
			rp.sel.time_field = optarg;
			break;
		case O_SPEED:
			if (evk_replay_factor(optarg, &so.speed, &err) < 0)
				cli_usage_error("--speed %s: %s", optarg,
				    err.msg);
			g.speed = 1;
			break;
		case O_FAST: so.fast = g.fast = 1; break;
		case O_RATE:
			if (evk_replay_rate(optarg, &so.rate_num, &so.rate_den,
			        &err) < 0)
				cli_usage_error("--rate %s: %s", optarg,
				    err.msg);
			g.rate = 1;
			break;
		case O_MAX_GAP:
			so.max_gap_ns = cli_duration("--max-gap", optarg);
			g.max_gap = 1;
			break;
		case O_LOOP:
			loops = cli_number("--loop", optarg, 0, LLONG_MAX, 0);
			g.loop = 1;
			break;
		case O_LOOP_GAP:
			loop_gap = cli_duration("--loop-gap", optarg);
			g.loop_gap = 1;
			break;
		case O_SINCE:
			rp.sel.since = when("--since", optarg);
			rp.sel.has_since = 1;
			break;
		case O_UNTIL:
			rp.sel.until = when("--until", optarg);
			rp.sel.has_until = 1;
			break;
		case O_SKIP:
			rp.pass.skip = (uint64_t)cli_number("--skip", optarg, 0,
			    LLONG_MAX, 0);
			g.skip = 1;
			break;
		case 'n':
			rp.pass.count =
			    (uint64_t)cli_number("-n", optarg, 1, LLONG_MAX, 0);
			g.count = 1;
			break;
		case 't': topics[ntopics++] = optarg; break;
		case 'e': exprs[nexprs++] = optarg; break;
		case O_FOLLOW: rp.follow = 1; break;
		case O_PROGRESS: want_progress = g.progress = 1; break;
		case O_NO_PROGRESS: want_progress = 0; break;
		case O_DRY_RUN: rp.dry = 1; break;
		case O_TIMING: rp.timing = 1; break;
		case O_STATS:
			rp.mode = M_STATS;
			g.modes++;
			break;
		case O_JSON: sf.json = g.json = 1; break;
		case O_TOP:
			sf.top =
			    (size_t)cli_number("--top", optarg, 1, 1000, 0);
			g.top = 1;
			break;
		case O_HEAD:
		case O_TAIL:
			rp.mode = c == O_HEAD ? M_HEAD : M_TAIL;
			n = cli_number(c == O_HEAD ? "--head" : "--tail",
			    optarg, 1, 100000000, 0);
			g.modes++;
			rp.nring = n;
			break;
		case O_DEAD: dead = optarg; break;
		case O_MAX_LINE: rp.max_line = cli_max_line(optarg); break;
		case O_MAX_DEPTH: jo.max_depth = cli_max_depth(optarg); break;
		case O_LINEBUF: linebuf = 1; break;
		case 'h': fputs(usage_text, stdout); return CLI_OK;
		case 'V': printf("evreplay %s\n", EVK_VERSION); return CLI_OK;
		default:
			fprintf(stderr,
			    "Try 'evreplay --help' for more information.\n");
			return CLI_FATAL;
		}
	}
	argc -= optind;
	argv += optind;
	check(&rp, &g, argv, argc);

	rp.sel.expr = cli_expr_build(exprs, nexprs, topics, ntopics, "-e: ");
	if ((rp.sel.json = evk_json_checker_new(&jo)) == NULL ||
	    (rp.sched = evk_sched_new(&so)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	cli_dead_open(&rp.dead, dead);
	if (rp.mode == M_STATS && (rp.stats = evk_stats_new()) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	if (rp.mode == M_HEAD)
		rp.pass.count = (uint64_t)rp.nring;
	rp.pass.replay = rp.mode == M_REPLAY;
	if (rp.mode == M_TAIL &&
	    (rp.ring = evk_ring_new((size_t)rp.nring)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	rp.progress = rp.mode == M_REPLAY && !rp.timing &&
	    (want_progress == 1 ||
	        (want_progress == -1 && isatty(STDERR_FILENO)));
	if (rp.progress)
		progress_span(&rp, argv, argc);
#ifdef __linux__
	/* Timers as exact as the kernel allows: the default slack (50 us)
	 * is a twentieth of the lateness budget. */
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
	if (g.bus) {
		bo.wait.stop = &cli_stop;
		bo.wait.sigmask = &cli_waitmask;
		bo.on_reject = refused;
		bo.ctx = &rp;
		if (evk_bus_connect_pub(url, &bo, &rp.bus, &err) < 0)
			cli_die(CLI_FATAL, "%s", err.msg);
		rp.out = evk_bus_sink(rp.bus);
	} else
		rp.out = evk_sink_fd(STDOUT_FILENO,
		    linebuf ? EVK_SINK_LINEBUF : EVK_SINK_AUTO);
	if (rp.out == NULL)
		cli_die(CLI_FATAL, "out of memory");

	rp.start = evk_replay_now();
	if (rp.follow) {
		follow(&rp, argv[0]);
	} else if (rp.mode == M_TAIL && argc == 1 && strcmp(argv[0], "-") &&
	    tail_file(&rp, argv[0])) {
		/* done from the end */
	} else {
		for (pass = 0; loops == 0 || pass < loops; pass++) {
			if (cli_stop)
				break;
			if (pass > 0)
				evk_sched_pass(rp.sched, loop_gap);
			evk_replay_pass_start(&rp.pass);
			cli_inputs(argv, argc, run, &rp, &rp.pass.done,
			    &rp.status);
			/* A pass that sent nothing would loop in vain. */
			if (rp.mode == M_REPLAY && rp.pass.selected == 0)
				break;
		}
	}

	if (rp.mode == M_TAIL && rp.ring != NULL) {
		size_t i;
		for (i = 0; i < evk_ring_len(rp.ring); i++) {
			struct evk_span b = evk_ring_get(rp.ring, i);
			put(&rp, b.p, b.len);
		}
	}
	if (rp.mode == M_STATS) {
		struct evk_buf rep = EVK_BUF_ZERO;
		if (evk_stats_report(rp.stats, &sf, &rep) < 0)
			cli_die(CLI_FATAL, "out of memory");
		/* The report is lines; the sink adds the last "\n". */
		if (rep.len > 0 && rep.p[rep.len - 1] == '\n')
			rep.len--;
		put(&rp, rep.p ? rep.p : "", rep.len);
		evk_buf_free(&rep);
	}
	if (rp.mode == M_REPLAY && rp.dry && !rp.timing) {
		char sum[96];
		int w =
		    snprintf(sum, sizeof sum, "%llu events over %lld.%09lld s",
		        (unsigned long long)rp.sent,
		        (long long)(rp.last_off / 1000000000),
		        (long long)(rp.last_off % 1000000000));
		put(&rp, sum, (size_t)w);
	}
	if (evk_sink_close(rp.out, &err) < 0)
		output_failed(&rp, err.code, &err);
	rp.out = NULL;
	progress(&rp, 1);
	/* By rate or --fast, recorded times do not matter. */
	if (rp.mode == M_REPLAY && !so.fast && so.rate_den == 0 &&
	    (rp.untimed || rp.backwards))
		cli_warn("warning: %llu event%s sent with the time of the "
		         "event before: %llu without a usable time, %llu out "
		         "of order",
		    (unsigned long long)(rp.untimed + rp.backwards),
		    rp.untimed + rp.backwards == 1 ? "" : "s",
		    (unsigned long long)rp.untimed,
		    (unsigned long long)rp.backwards);
	evk_bus_close(rp.bus);
	cli_dead_close(&rp.dead);
	cli_reraise();
	evk_ring_free(rp.ring);
	evk_stats_free(rp.stats);
	evk_sched_free(rp.sched);
	evk_expr_free(rp.sel.expr);
	evk_json_checker_free(rp.sel.json);
	free(exprs);
	free(topics);
	return rp.status;
}
