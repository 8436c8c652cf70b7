/*
 * evkit/replay.h - what evreplay(1) is made of: the replay schedule, the
 * recording's clock, one-pass statistics, reading a file from its end and
 * following a growing file.
 *
 * The schedule is pure arithmetic on integer nanoseconds, so that the
 * planned send offset of every event is exact and the same whether the
 * events are then sent (waiting on the monotonic clock for start +
 * offset) or only printed (evreplay --dry-run --timing): no drift can
 * accumulate, because each offset is computed from the start of a
 * segment, never by adding rounded gaps.
 */
#ifndef EVKIT_REPLAY_H
#define EVKIT_REPLAY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "evkit/buf.h"
#include "evkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/*** factors and rates ***/

/* A factor is kept in millionths: 1.5 is 1500000. */
#define EVK_REPLAY_ONE 1000000

/*
 * Parses a positive decimal factor such as "10", "0.5" or "2.25" (at most
 * six fraction digits, at most 1000000) from the NUL-terminated `s` into
 * millionths.  Returns 0, or EVK_EINVAL with a message ("not a positive
 * number", "more than 6 fraction digits", "too large").
 */
int evk_replay_factor(const char *s, uint64_t *micro, struct evk_err *err);

/*
 * Parses a rate "N/s", "N/m", "N/h" or "N" (per second), N a positive
 * factor as above, into the fraction of nanoseconds between two events:
 * event i is planned at i * *num / *den ns.  Returns 0 or EVK_EINVAL
 * with a message.
 */
int evk_replay_rate(const char *s, uint64_t *num, uint64_t *den,
    struct evk_err *err);

/*** the recording's clock ***/

/*
 * The time of each event as replayed: its own time when it has one that
 * is not earlier than the previous event's, else the previous event's
 * (an event is never reordered nor dropped for its time).  A plain value:
 * start from EVK_REPLAY_CLOCK_ZERO.
 */
struct evk_replay_clock {
	int64_t prev; /* the last effective time, when `have` */
	int have;
};

#define EVK_REPLAY_CLOCK_ZERO \
	{ \
		0, 0 \
	}

enum {
	EVK_CLOCK_OK = 0, /* the event's own time */
	EVK_CLOCK_UNTIMED = 1, /* no usable time: the previous one */
	EVK_CLOCK_BACKWARDS = 2, /* earlier than the previous: the previous */
};

/*
 * Steps the clock with an event whose time is `t_ns` (when `has_time`).
 * Stores the effective time in `*eff` and returns 1 in `*known` when
 * there is one (an untimed event before any timed one has none).
 * Returns EVK_CLOCK_OK, EVK_CLOCK_UNTIMED or EVK_CLOCK_BACKWARDS.
 */
int evk_replay_clock_step(struct evk_replay_clock *c, int has_time,
    int64_t t_ns, int64_t *eff, int *known);

/*** the schedule ***/

struct evk_sched_opts {
	uint64_t speed; /* millionths; 0 means EVK_REPLAY_ONE (1x) */
	int fast; /* every offset 0: no waiting */
	/* A fixed rate (evk_replay_rate()) when rate_den is not 0: the
	 * recorded times are not used. */
	uint64_t rate_num, rate_den;
	int64_t max_gap_ns; /* > 0: the longest wait between two events */
};

struct evk_sched;

/* Returns a new schedule (`o` copied; NULL: 1x by time), or NULL when out
 * of memory.  Free with evk_sched_free(). */
struct evk_sched *evk_sched_new(const struct evk_sched_opts *o);

/* Frees `s`; NULL does nothing. */
void evk_sched_free(struct evk_sched *s);

/*
 * Plans the next event, whose effective time (evk_replay_clock_step())
 * is `t_ns` when `known`.  Returns its send offset in nanoseconds from
 * the start of the replay, never less than the previous one:
 *  - by time: the distance from the start of the current segment divided
 *    by the speed; the first event of a pass starts a segment; a wait
 *    longer than max_gap_ns starts a new one max_gap_ns after the
 *    previous event (so the cap costs no drift afterwards);
 *  - by rate: i * num / den for the i-th event (0-based) of the replay;
 *  - fast: 0.
 * An event without a known time gets the previous offset (0 at first).
 * Offsets saturate at INT64_MAX.
 */
int64_t evk_sched_next(struct evk_sched *s, int known, int64_t t_ns);

/*
 * Starts another pass over the recording (--loop): the next event comes
 * `gap_ns` after the last one (by rate: one interval and `gap_ns` after
 * it), and the recorded times start a new segment.
 */
void evk_sched_pass(struct evk_sched *s, int64_t gap_ns);

/* The number of events planned so far. */
uint64_t evk_sched_count(const struct evk_sched *s);

/*** statistics ***/

/* Distinct types (and sources) counted one by one, at most; the events
 * of further ones are counted together as "other".  Keys longer than
 * EVK_STATS_MAX_KEY bytes are "other" too. */
#define EVK_STATS_MAX_KEYS 4096
#define EVK_STATS_MAX_KEY 256
/* Buckets of the rate over time kept while reading, at most; they are
 * merged into coarser ones (1s, 10s, 1m, 10m, 1h, 6h, 1d, 7d, 28d) when
 * the span needs more. */
#define EVK_STATS_BUCKETS 4096

struct evk_stats;

/* Returns new, empty statistics, or NULL when out of memory.  Memory is
 * allocated here once and never grows.  Free with evk_stats_free(). */
struct evk_stats *evk_stats_new(void);

/* Frees `s`; NULL does nothing. */
void evk_stats_free(struct evk_stats *s);

/*
 * Counts one event: `ev` is its checked JSON object, `bytes` its size in
 * the input (line ending included), and its time `t_ns` when `has_time`.
 * Its "type" and "source" (strings; anything else counts as none) are
 * tallied.  Borrows `ev`.  Returns 0 or EVK_ENOMEM.
 */
int evk_stats_add(struct evk_stats *s, struct evk_span ev, size_t bytes,
    int has_time, int64_t t_ns);

/* Counts one rejected input line. */
void evk_stats_invalid(struct evk_stats *s);

struct evk_stats_fmt {
	size_t top; /* rows of types and sources; 0 means 10 */
	int json; /* one JSON object on one line instead of text */
	int width; /* text: the most bars of the rate chart; 0 means 60 */
};

/*
 * Appends the report to `out`: text for a terminal (numbers, the top
 * types and sources with their shares, the rate over time as a sparkline
 * per minute, hour, ... chosen by the span) or, with f->json, one JSON
 * object ending in "\n" (evreplay(1) documents both).  Type and source
 * names are written escaped as JSON strings are, so that control
 * characters never reach a terminal.  Returns 0 or EVK_ENOMEM.
 */
int evk_stats_report(const struct evk_stats *s, const struct evk_stats_fmt *f,
    struct evk_buf *out);

/*** reading from the end ***/

/* Decides whether a line counts for evk_replay_tail(): nonzero if so.
 * `p[0..n)` is the line without its "\n" (and "\r"). */
typedef int (*evk_line_fn)(void *ctx, const char *p, size_t n);

/*
 * Finds where the last `n` lines that `accept` counts begin in the
 * regular file `fd` (borrowed; its offset is left unspecified), reading
 * backwards from its end in blocks, so that a large file is not read
 * whole.  Lines longer than `max_line` are not read and do not count; a
 * last line without "\n" is a line.  Stores in `*off` the offset of the
 * first such line (0 when the file has fewer; its size when `n` is 0).
 * Returns 0, or EVK_EIO
 * with `err` filled, or EVK_ENOMEM.
 */
int evk_replay_tail(int fd, uint64_t n, size_t max_line, evk_line_fn accept,
    void *ctx, off_t *off, struct evk_err *err);

/*** following a growing file ***/

struct evk_follow_opts {
	volatile sig_atomic_t *stop; /* set: the wait ends (EINTR) */
	const sigset_t *sigmask; /* the mask to wait with */
	int64_t poll_ns; /* how often to look; 0 means 100 ms */
	/* Called before each wait for more bytes (flush output). */
	void (*idle)(void *ctx);
	void *ctx;
};

struct evk_follow;

/*
 * Opens `path` to follow it as `tail -F` does: reading goes on past its
 * end, waiting for more; when the path names another file (renamed and
 * created again), the rest of the old file is read and then the new one
 * from its start; when the file shrinks (truncated), it is read again
 * from its start.  A line cut by a rotation is ended with "\n" so that it
 * is never glued to the first line of the next file.  Returns 0 and a new
 * follower in `*f` (free with evk_follow_free()), or EVK_EIO / EVK_ENOMEM
 * with `err` filled.
 */
int evk_follow_open(const char *path, const struct evk_follow_opts *o,
    struct evk_follow **f, struct evk_err *err);

/* Frees `f` and closes its file; NULL does nothing. */
void evk_follow_free(struct evk_follow *f);

/* An evk_read_fn for evk_reader_new_fn() with the follower as `ctx`:
 * never returns 0 (end); -1 with errno EINTR once *stop is set, or with
 * the error of a failed read. */
ssize_t evk_follow_read(void *ctx, void *buf, size_t len);

/* How many times the file was replaced or truncated. */
uint64_t evk_follow_rotations(const struct evk_follow *f);

/*** choosing the events ***/

struct evk_json_checker;
struct evk_expr;

/*
 * What evreplay(1) selects: events that the checker `json` accepts as
 * objects, timed by the member at `time_field`, within [since, until)
 * when those are set, and for which `expr` (when not NULL) is true.  A
 * plain value; its pointers are borrowed and must outlive its use.
 */
struct evk_replay_select {
	struct evk_json_checker *json;
	struct evk_expr *expr; /* NULL: every event */
	const char *time_field; /* a path as evk_event_time_at() takes */
	int has_since, has_until;
	int64_t since, until; /* ns since the epoch */
};

/*
 * The time of the event `ev` (checked JSON text) at `time_field`: returns
 * 1 with it in `*t_ns`, or 0 (`*t_ns` untouched) when it has none.
 */
int evk_replay_event_time(struct evk_span ev, const char *time_field,
    int64_t *t_ns);

enum {
	EVK_REPLAY_BLANK = 0, /* only blanks (space, tab, CR): no event */
	EVK_REPLAY_EVENT = 1, /* a JSON object */
	EVK_REPLAY_BADJSON = 2, /* not JSON: `err` as evk_json_check() fills */
	EVK_REPLAY_NOTOBJ = 3, /* JSON, but not an object */
};

/*
 * Looks at the input line `p[0..n)` (without its line ending) with
 * s->json.  Returns EVK_REPLAY_EVENT with the event's own time in `*t_ns`
 * and 1 in `*has_time` when it has one (else 0), or EVK_REPLAY_BLANK,
 * EVK_REPLAY_BADJSON (`err`, may be NULL, filled by the checker) or
 * EVK_REPLAY_NOTOBJ.  Not reentrant: it uses s->json.
 */
int evk_replay_parse(const struct evk_replay_select *s, const char *p, size_t n,
    int *has_time, int64_t *t_ns, struct evk_err *err);

/*
 * Whether the event `ev` (from evk_replay_parse()) is selected, its time
 * being `t_ns` when `known`: an event without a known time is never at or
 * after `since` and never at or after `until`.  Returns 1 if so, 0 if
 * not, or the negative error of evk_expr_eval() with `err` filled.
 */
int evk_replay_match(const struct evk_replay_select *s, struct evk_span ev,
    int known, int64_t t_ns, struct evk_err *err);

/*
 * An evk_line_fn for evk_replay_tail() with a struct evk_replay_select as
 * `ctx`: nonzero when the line is an event that evk_replay_match() selects
 * by its own time (an error of the expression counts as not selected).
 */
int evk_replay_accepts(void *ctx, const char *p, size_t n);

/*
 * The span of a recording read from the files `first` to `last` (the
 * same path for one file), for a progress line: the first event time of
 * `first`, read from its start, and the last event time of `last`, read
 * from its end (evk_replay_tail()); times are s->time_field's, and no
 * other part of `s` is used.  Lines are read up to `max_line` with
 * `stop` and `sigmask` as evk_reader_opts takes them.  Returns 1 with the
 * times in `*t_first` and `*t_last` (*t_last is *t_first when `last`
 * holds no timed event, and *t_first 0 when `first` holds none), 0 when
 * a file cannot be opened or read (nothing stored), or EVK_ENOMEM.
 */
int evk_replay_span(const struct evk_replay_select *s, const char *first,
    const char *last, size_t max_line, volatile sig_atomic_t *stop,
    const sigset_t *sigmask, int64_t *t_first, int64_t *t_last);

/*
 * One pass over the recording: the options of the pass (skip, count,
 * replay) and its state.  A plain value: fill the options and call
 * evk_replay_pass_start() before each pass.
 */
struct evk_replay_pass {
	uint64_t skip; /* leave out the first `skip` selected events */
	uint64_t count; /* done after `count` selected events; 0: no limit */
	/* Nonzero: events are placed at the time they are replayed with
	 * (the recording's clock), and the first at or after `until` ends
	 * the pass; zero: each at its own time (--head, --tail, --stats). */
	int replay;
	struct evk_replay_clock clock;
	uint64_t skipped, selected;
	int done; /* no more events are wanted (the caller may set it too) */
};

/* Starts a pass: the clock, the counts and `done` are reset. */
void evk_replay_pass_start(struct evk_replay_pass *ps);

/* An event that evk_replay_pick() looked at. */
struct evk_replay_pick {
	struct evk_span ev; /* the line's JSON text */
	int has_time; /* its own time, `t_ns`, is known */
	int64_t t_ns;
	int known; /* the time it is placed at, `eff`, is known */
	int64_t eff;
	int clock; /* EVK_CLOCK_* of the pass's clock */
};

/* evk_replay_pick(): a line that is an event, but not one selected (or
 * past the end of the pass, which is then done). */
#define EVK_REPLAY_SKIPPED 4

/*
 * Takes the input line `p[0..n)` (without its line ending) in the pass
 * `ps`: parses it (evk_replay_parse()), steps the pass's clock, applies
 * `s` (evk_replay_match()), then --skip and --count.  Returns
 * EVK_REPLAY_EVENT for a selected event, described in `*pk`;
 * EVK_REPLAY_BLANK or EVK_REPLAY_SKIPPED for nothing to do;
 * EVK_REPLAY_BADJSON or EVK_REPLAY_NOTOBJ for a line to reject; or the
 * negative error of the expression with `err` filled (a line to reject
 * too).  Sets ps->done when no further event can be selected.  `pk->ev`
 * borrows `p`.
 */
int evk_replay_pick(const struct evk_replay_select *s,
    struct evk_replay_pass *ps, const char *p, size_t n,
    struct evk_replay_pick *pk, struct evk_err *err);

/*** the last lines (--tail) ***/

struct evk_ring;

/* Returns a new ring that keeps the last `n` (at least 1) lines pushed,
 * or NULL when out of memory.  Free with evk_ring_free(). */
struct evk_ring *evk_ring_new(size_t n);

/* Frees `r` and the lines it holds; NULL does nothing. */
void evk_ring_free(struct evk_ring *r);

/* Keeps a copy of `p[0..len)`, forgetting the oldest line when the ring
 * is full.  Returns 0, or EVK_ENOMEM after which the oldest line held
 * may read as empty. */
int evk_ring_push(struct evk_ring *r, const char *p, size_t len);

/* How many lines the ring holds (at most its `n`). */
size_t evk_ring_len(const struct evk_ring *r);

/* The i-th line held, 0 the oldest; borrowed from the ring, valid until
 * the next evk_ring_push() or evk_ring_free().  `i` < evk_ring_len(). */
struct evk_span evk_ring_get(const struct evk_ring *r, size_t i);

/*** pacing and progress ***/

/* The monotonic clock in nanoseconds: what replay deadlines are on. */
int64_t evk_replay_now(void);

/* Called when `fd` of evk_replay_wait() is readable: 0 or a negative
 * EVK_E* code with `err` filled, which ends the wait. */
typedef int (*evk_ready_fn)(void *ctx, struct evk_err *err);

/*
 * Waits until evk_replay_now() reaches `deadline`, or until `*stop` (may
 * be NULL) is set: in pselect() with `sigmask` (may be NULL: the current
 * mask) until about a millisecond before, calling ready(ctx, err) each
 * time `fd` (-1: none) is readable, then in clock_nanosleep() to the
 * deadline itself, absolute, so that no wait adds to the next.  Returns 0,
 * or the negative code of `ready`.
 */
int evk_replay_wait(int64_t deadline, volatile sig_atomic_t *stop,
    const sigset_t *sigmask, int fd, evk_ready_fn ready, void *ctx,
    struct evk_err *err);

/*
 * What a progress line shows about the recording.  A plain value: start
 * from EVK_REPLAY_PROGRESS_ZERO and fill `first`, `last` and `span` from
 * evk_replay_span() when it knows them.
 */
struct evk_replay_progress {
	int64_t first, last; /* the recording's span, when `span` */
	int span;
	int64_t eff; /* the time of the last event sent, when `started` */
	int started;
};

#define EVK_REPLAY_PROGRESS_ZERO \
	{ \
		0, 0, 0, 0, 0 \
	}

/*
 * Appends the progress line of `prog` to `out`: "\r", events `sent` and
 * their rate over `elapsed_ns`, the time reached and its share of the
 * span, the time left at that pace, the end-of-line erase, and "\n" when
 * `last`.  Returns 0 or EVK_ENOMEM.
 */
int evk_replay_progress_line(const struct evk_replay_progress *p,
    const char *prog, uint64_t sent, int64_t elapsed_ns, int last,
    struct evk_buf *out);

#ifdef __cplusplus
}
#endif
#endif
