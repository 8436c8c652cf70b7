/*
 * evbus - the local event bus: a Unix socket, a log, publishers and
 * subscribers.
 *
 * One poll() loop serves every client.  Each turn reads what the clients
 * sent, appends the events published to the log, acknowledges what is
 * durable, then hands each subscriber what its cursor finds in the log,
 * as much as its socket takes.  With --fsync batch a second thread syncs
 * the log while the loop goes on (see struct syncer), and acknowledgements
 * wait for it; subscribers do not.  A subscriber reads the log at its own
 * pace, so a slow one holds up nobody; its output buffer is bounded and
 * refilled from the log when it drains.
 */
#define _GNU_SOURCE /* accept4, ppoll, struct ucred */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "evkit/bus.h"
#include "evkit/json.h"
#include "evkit/log.h"
#include "evkit/time.h"
#include "evkit/topic.h"
#include "cli.h"

static const char usage_text[] =
    "usage: evbus [-b unix:PATH] [--data DIR | --memory] [options]\n"
    "\n"
    "The local event bus: publishers and subscribers connect to a Unix\n"
    "socket; events are kept in a log, on disk or in memory.\n"
    "\n"
    "  -b, --bind URL          the socket (default: $EVBUS_URL, else\n"
    "                          $XDG_RUNTIME_DIR/evbus/evbus.sock, else\n"
    "                          /tmp/evbus-UID/evbus.sock)\n"
    "      --data DIR          keep the log in DIR (made 0700)\n"
    "      --memory            keep the log in memory only (the default\n"
    "                          without --data)\n"
    "      --fsync MODE        always, batch (default) or never\n"
    "      --fsync-interval DUR\n"
    "                          batch: at most one sync per DUR while\n"
    "                          events trickle (default 20ms)\n"
    "      --segment-bytes N   roll a segment at N bytes (default 64M)\n"
    "      --retain-bytes N    keep at most N bytes of events (memory:\n"
    "                          default 64M)\n"
    "      --retain-age DUR    drop events older than DUR\n"
    "      --group NAME        open the socket to this Unix group (0660)\n"
    "      --allow-uid LIST    only these user ids may connect (comma-\n"
    "                          separated; default: anyone who can open the\n"
    "                          socket)\n"
    "      --max-clients N     connections at most (default 1024)\n"
    "      --max-line N        longest event in bytes (default 1M)\n"
    "      --max-inflight N    events a group member may hold unacknowledged\n"
    "                          (default 1024; a hello's window may ask less)\n"
    "      --line-timeout DUR  drop a client that leaves half a line for\n"
    "                          this long (default 10s)\n"
    "  -h, --help              show this help and exit\n"
    "  -V, --version           show the version and exit\n"
    "\n"
    "Stops cleanly on SIGTERM or SIGINT.  The protocol is in evbus(8).\n";

/* A subscriber's output is refilled from the log below this. */
#define SUB_OUT_LOW (256u << 10)
/* A publisher is not read while this much waits to go back to it. */
#define PUB_OUT_MAX (1u << 20)
/* Bytes read from one client per turn. */
#define READ_CHUNK (256u << 10)

enum kind { K_NEW, K_PUB, K_SUB };

/* A list of sequence numbers: a member's events in flight (in the order
 * sent), a group's events to send again (in order). */
struct seqs {
	uint64_t *v;
	size_t head, len, cap; /* v[head..len) */
};

/*
 * A consumer group: its members share one cursor, each event goes to one
 * member, and it is consumed once that member acknowledges it.  The
 * events of a member that leaves unacknowledged go back, to be sent to
 * the next member with room.  The group's position (where a restarted
 * group resumes) is the oldest event not yet consumed; with --data it is
 * kept in DIR/groups/NAME.
 */
struct cgroup {
	char name[65];
	struct evk_bus_hello h; /* the patterns of the member that made it */
	char *hello; /* h's spans point into it */
	struct evk_log_cursor *cur;
	struct seqs back;
	uint64_t saved; /* the position last written */
	size_t members;
	size_t turn; /* who is dealt to first */
};

struct client {
	int fd;
	enum kind kind;
	unsigned long id;
	uid_t uid;
	pid_t pid;
	struct evk_buf in; /* bytes read, from in_off not yet handled */
	size_t in_off;
	struct evk_buf out; /* bytes to send, from out_off */
	size_t out_off;
	int64_t partial_since; /* a half line waits since (ns), or 0 */
	int closing; /* send what is left, then close (2: at once) */
	int failed; /* ended by an error: nothing more is sent */
	int eof;
	/* pub */
	int ack;
	uint64_t lines, acked, last_seq;
	uint64_t sync_lines, sync_seq; /* handled when the sync began */
	/* sub */
	struct evk_bus_hello h;
	char *hello; /* the hello line: h's spans point into it */
	struct evk_log_cursor *cur;
	uint64_t end; /* no follow: stop before this sequence number */
	struct cgroup *g; /* a member's group, or NULL */
	struct seqs inflight; /* a member's events not acknowledged */
	uint64_t delivered, consumed; /* a member's counts */
	int ended; /* a member without follow was sent ["end"] */
};

/*
 * With --fsync batch the wait for the disk is made by a thread, so that
 * the loop goes on serving subscribers and reading publishers meanwhile:
 * the loop hands it a job, it syncs and says so on a pipe, and the
 * publishers get the acknowledgements the job covers.  One job at a time:
 * what is appended during one is synced by the next (group commit).  A
 * sync begins --fsync-interval after the one before, or at once when
 * SYNC_BYTES wait: while events trickle, syncs do not follow each other
 * back to back (each one disturbs the whole machine: see evbus(8)), and
 * a fast stream is synced as fast as the disk goes.
 */
struct syncer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct evk_log_syncjob job;
	int state; /* SY_IDLE, SY_QUEUED (the thread's), SY_DONE: under mu */
	int busy; /* the loop's own view: a job handed over, not taken back */
	int quit;
	int rc;
	struct evk_err err;
	int pipe[2]; /* [0] the loop polls, [1] the thread writes */
	int64_t interval; /* --fsync-interval, ns */
	int64_t last; /* when the last sync began (monotonic ns) */
	uint64_t bytes; /* appended since */
};

/* A sync begins at once when this much waits for one. */
#define SYNC_BYTES (64u << 10)

enum { SY_IDLE, SY_QUEUED, SY_DONE };

struct bus {
	struct evk_log *log;
	enum evk_fsync fsync;
	int lfd;
	char path[108];
	int own_socket; /* ours to unlink */
	struct client **c;
	size_t nc, max_clients;
	unsigned long next_id;
	size_t max_line;
	uint64_t max_inflight; /* a group member's window, at most */
	int64_t line_timeout;
	uid_t allow[64];
	size_t nallow;
	struct syncer *sy; /* --data, --fsync batch */
	int64_t now; /* wall clock of this turn, ns: the store time of events */
	const char *dir; /* --data, or NULL */
	struct cgroup **g;
	size_t ng;
	struct evk_json_checker *json;
	struct evk_buf tmp;
	struct evk_log_cursor *back_cur; /* of the event last sent again */
};

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
out_add(struct client *c, const char *p, size_t n)
{
	if (evk_buf_add(&c->out, p, n) < 0)
		cli_die(CLI_FATAL, "out of memory");
}

static void
out_adds(struct client *c, const char *s)
{
	out_add(c, s, strlen(s));
}

/* ["gap",N]: N events dropped before the subscriber read them. */
static void
send_gap(struct client *c, uint64_t n)
{
	char line[48];

	snprintf(line, sizeof line, "[\"gap\",%" PRIu64 "]\n", n);
	out_adds(c, line);
}

/* ["error",LINE,MSG] (LINE null: none) and, when fatal, the end. */
static void
send_error(struct bus *b, struct client *c, uint64_t line, int fatal,
    const char *msg)
{
	char num[32];

	evk_buf_reset(&b->tmp);
	if (evk_json_escape(&b->tmp, msg, strlen(msg)) < 0)
		cli_die(CLI_FATAL, "out of memory");
	if (line > 0)
		snprintf(num, sizeof num, "%" PRIu64, line);
	else
		strcpy(num, "null");
	out_adds(c, "[\"error\",");
	out_adds(c, num);
	out_adds(c, ",");
	out_add(c, b->tmp.p, b->tmp.len);
	out_adds(c, "]\n");
	if (fatal) {
		cli_warn("client %lu: %s", c->id, msg);
		c->closing = 1;
		c->failed = 1;
	}
}

/*** subscribers ***/

/* The event's topic (its "type") matches one of the patterns. */
static int
wanted(struct bus *b, const struct evk_bus_hello *h, const char *p, size_t len)
{
	struct evk_span ev = {p, len}, v;
	const char *t;
	size_t tl, i;

	if (h->ntopics == 0)
		return 1;
	if (!evk_json_get(ev, "type", 4, &v) ||
	    evk_json_type_of(v) != EVK_JSON_STRING)
		return 0;
	t = v.p + 1;
	tl = v.len - 2;
	if (memchr(t, '\\', tl) != NULL) {
		evk_buf_reset(&b->tmp);
		if (evk_json_unescape(v, &b->tmp) < 0)
			cli_die(CLI_FATAL, "out of memory");
		t = b->tmp.p;
		tl = b->tmp.len;
	}
	for (i = 0; i < h->ntopics; i++)
		if (evk_topic_match(h->topics[i].p, h->topics[i].len, t, tl))
			return 1;
	return 0;
}

/* Fills a subscriber's output from its cursor. */
static void
feed(struct bus *b, struct client *c)
{
	struct evk_err err = EVK_ERR_ZERO;
	const char *p;
	size_t len;
	uint64_t seq;
	int rc;

	while (!c->closing && c->out.len - c->out_off < SUB_OUT_LOW) {
		if (!c->h.follow && evk_log_cursor_pos(c->cur) >= c->end) {
			out_adds(c, "[\"end\"]\n");
			c->closing = 1;
			return;
		}
		rc = evk_log_cursor_next(c->cur, &p, &len, &seq, &err);
		if (rc == 0)
			return;
		if (rc == EVK_LOG_GAP) {
			send_gap(c, seq);
			continue;
		}
		if (rc < 0) {
			send_error(b, c, 0, 1, err.msg);
			return;
		}
		if (!c->h.follow && seq >= c->end) {
			out_adds(c, "[\"end\"]\n");
			c->closing = 1;
			return;
		}
		if (wanted(b, &c->h, p, len)) {
			out_add(c, p, len);
			out_add(c, "\n", 1);
		}
	}
}

/*** consumer groups ***/

static void
seqs_push(struct seqs *q, uint64_t seq)
{
	uint64_t *v;
	size_t cap;

	if (q->head > 0 && q->head == q->len)
		q->head = q->len = 0;
	if (q->len == q->cap) {
		if (q->head > 0) {
			memmove(q->v, q->v + q->head,
			    (q->len - q->head) * sizeof *q->v);
			q->len -= q->head;
			q->head = 0;
		} else {
			cap = q->cap ? q->cap * 2 : 64;
			if ((v = realloc(q->v, cap * sizeof *v)) == NULL)
				cli_die(CLI_FATAL, "out of memory");
			q->v = v;
			q->cap = cap;
		}
	}
	q->v[q->len++] = seq;
}

/* Puts seq among the sorted ones. */
static void
seqs_insert(struct seqs *q, uint64_t seq)
{
	size_t i;

	seqs_push(q, seq);
	for (i = q->len - 1; i > q->head && q->v[i - 1] > seq; i--)
		q->v[i] = q->v[i - 1];
	q->v[i] = seq;
}

/* The oldest event the group has not consumed: where it resumes. */
static uint64_t
group_pos(const struct bus *b, const struct cgroup *g)
{
	uint64_t pos = evk_log_cursor_pos(g->cur);
	size_t i;

	if (g->back.len > g->back.head && g->back.v[g->back.head] < pos)
		pos = g->back.v[g->back.head];
	for (i = 0; i < b->nc; i++) {
		const struct seqs *q = &b->c[i]->inflight;

		if (b->c[i]->g == g && q->len > q->head && q->v[q->head] < pos)
			pos = q->v[q->head];
	}
	return pos;
}

static void
group_path(const struct bus *b, const char *name, char *path, size_t n,
    const char *suffix)
{
	snprintf(path, n, "%s/groups/%s%s", b->dir, name, suffix);
}

/* Writes the group's position (with --data), atomically. */
static void
group_save(struct bus *b, struct cgroup *g)
{
	char path[PATH_MAX], tmp[PATH_MAX], line[32];
	uint64_t pos = group_pos(b, g);
	int fd, n;

	if (b->dir == NULL || pos == g->saved)
		return;
	snprintf(path, sizeof path, "%s/groups", b->dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		cli_die(CLI_FATAL, "cannot make %s: %s", path, strerror(errno));
	group_path(b, g->name, path, sizeof path, "");
	group_path(b, g->name, tmp, sizeof tmp, ".tmp");
	n = snprintf(line, sizeof line, "%" PRIu64 "\n", pos);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) <
	        0 ||
	    write(fd, line, (size_t)n) != n ||
	    (b->fsync == EVK_FSYNC_ALWAYS && fdatasync(fd) < 0) ||
	    close(fd) < 0 || rename(tmp, path) < 0)
		cli_die(CLI_FATAL, "cannot write %s: %s", path,
		    strerror(errno));
	g->saved = pos;
}

/* The position a group saved, or 0 when it has none. */
static uint64_t
group_load(const struct bus *b, const char *name)
{
	char path[PATH_MAX], line[32];
	unsigned long long v;
	FILE *f;

	if (b->dir == NULL)
		return 0;
	group_path(b, name, path, sizeof path, "");
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fgets(line, sizeof line, f) == NULL ||
	    sscanf(line, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/* The two hellos name the same topic patterns, in the same order. */
static int
same_topics(const struct evk_bus_hello *a, const struct evk_bus_hello *b)
{
	size_t i;

	if (a->ntopics != b->ntopics)
		return 0;
	for (i = 0; i < a->ntopics; i++)
		if (a->topics[i].len != b->topics[i].len ||
		    memcmp(a->topics[i].p, b->topics[i].p, a->topics[i].len))
			return 0;
	return 1;
}

/* Makes c a member of the group its hello names (made when new). */
static int
join(struct bus *b, struct client *c, uint64_t from, struct evk_err *err)
{
	struct cgroup *g = NULL, **gs;
	uint64_t saved;
	size_t i;

	for (i = 0; i < b->ng; i++)
		if (strlen(b->g[i]->name) == c->h.group.len &&
		    !memcmp(b->g[i]->name, c->h.group.p, c->h.group.len))
			g = b->g[i];
	if (g != NULL && !same_topics(&g->h, &c->h))
		return cli_errf(err, EVK_EINVAL,
		    "hello: the members of group \"%s\" subscribe to the "
		    "same topic patterns, and this one does not",
		    g->name);
	if (g == NULL) {
		if ((g = calloc(1, sizeof *g)) == NULL ||
		    (gs = realloc(b->g, (b->ng + 1) * sizeof *gs)) == NULL ||
		    (g->hello = strdup(c->hello)) == NULL)
			cli_die(CLI_FATAL, "out of memory");
		b->g = gs;
		memcpy(g->name, c->h.group.p, c->h.group.len);
		/* The same line parsed again: spans into the copy. */
		evk_bus_hello_parse(g->hello, strlen(g->hello), 0, &g->h, NULL);
		/* A position past the end: events the machine lost in a
		 * crash after the group consumed them. */
		if ((saved = group_load(b, g->name)) > evk_log_next(b->log))
			saved = evk_log_next(b->log);
		if (saved > 0)
			from = saved;
		g->saved = saved;
		if (evk_log_cursor_open(b->log, from, &g->cur, err) < 0) {
			free(g->hello);
			free(g);
			return -1;
		}
		b->g[b->ng++] = g;
	}
	g->members++;
	c->g = g;
	return 0;
}

/* A member leaves: what it did not acknowledge goes back to the group. */
static void
leave(struct client *c)
{
	struct seqs *q = &c->inflight;

	for (; q->head < q->len; q->head++)
		seqs_insert(&c->g->back, q->v[q->head]);
	c->g->members--;
}

/* The member acknowledged its first n events. */
static int
consumed(struct client *c, uint64_t n)
{
	struct seqs *q = &c->inflight;

	if (n < c->consumed || n > c->delivered)
		return -1;
	q->head += (size_t)(n - c->consumed);
	c->consumed = n;
	return 0;
}

/*
 * The next event for a member of group g: one sent back first, then the
 * group's cursor.  Returns 1, 0 when there is none, EVK_LOG_GAP with
 * *seq the number missed, or an error.
 */
static int
group_next(struct bus *b, struct cgroup *g, const char **p, size_t *len,
    uint64_t *seq, struct evk_err *err)
{
	struct evk_log_cursor *cur;
	uint64_t want;
	int rc;

	while (g->back.head < g->back.len) {
		want = g->back.v[g->back.head++];
		if (evk_log_cursor_open(b->log, want, &cur, err) < 0)
			return -1;
		rc = evk_log_cursor_next(cur, p, len, seq, err);
		if (rc == 1 && *seq == want) {
			/* The record stays valid while the cursor is kept. */
			evk_log_cursor_close(b->back_cur);
			b->back_cur = cur;
			return 1;
		}
		evk_log_cursor_close(cur);
		if (rc < 0)
			return rc;
		/* Dropped by retention meanwhile: nothing to send again. */
	}
	for (;;) {
		rc = evk_log_cursor_next(g->cur, p, len, seq, err);
		if (rc != 1 || wanted(b, &g->h, *p, *len))
			return rc;
	}
}

/* A member has room for another event. */
static int
room(const struct client *c)
{
	return !c->closing && !c->ended &&
	    c->out.len - c->out_off < SUB_OUT_LOW &&
	    c->delivered - c->consumed < c->h.window;
}

/* Gives a member the group's next event: 1 when it got one (or a gap
 * notice, or its end), 0 when the group has none. */
static int
give(struct bus *b, struct client *c)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct cgroup *g = c->g;
	const char *p;
	size_t len;
	uint64_t seq;
	int rc;

	if (!c->h.follow && g->back.head == g->back.len &&
	    evk_log_cursor_pos(g->cur) >= c->end) {
		/* The connection stays for the member's last
		 * acknowledgement; the member closes it. */
		out_adds(c, "[\"end\"]\n");
		c->ended = 1;
		return 1;
	}
	rc = group_next(b, g, &p, &len, &seq, &err);
	if (rc == 0)
		return 0;
	if (rc == EVK_LOG_GAP) {
		send_gap(c, seq);
		return 1;
	}
	if (rc < 0) {
		send_error(b, c, 0, 1, err.msg);
		return 1;
	}
	out_add(c, p, len);
	out_add(c, "\n", 1);
	seqs_push(&c->inflight, seq);
	c->delivered++;
	return 1;
}

/* Deals the group's events to its members with room, one each in turn,
 * starting with a different member every time. */
static void
feed_group(struct bus *b, struct cgroup *g)
{
	size_t k, n = b->nc;
	struct client *c;
	int gave;

	if (n == 0)
		return;
	g->turn++;
	do {
		gave = 0;
		for (k = 0; k < n; k++) {
			c = b->c[(g->turn + k) % n];
			if (c->g != g || c->kind != K_SUB || !room(c))
				continue;
			if (!give(b, c))
				return;
			gave = 1;
		}
	} while (gave);
}

static void
subscribe(struct bus *b, struct client *c)
{
	struct evk_err err = EVK_ERR_ZERO;
	uint64_t from;

	if (c->h.window > b->max_inflight)
		c->h.window = b->max_inflight;
	switch (c->h.from) {
	case EVK_FROM_NEW: from = evk_log_next(b->log); break;
	case EVK_FROM_ALL: from = 0; break;
	case EVK_FROM_SEQ: from = c->h.seq; break;
	default: from = evk_log_seek_time(b->log, c->h.time_ns); break;
	}
	if (c->h.group.p != NULL
	        ? join(b, c, from, &err) < 0
	        : evk_log_cursor_open(b->log, from, &c->cur, &err) < 0) {
		send_error(b, c, 0, 1, err.msg);
		return;
	}
	c->end = evk_log_next(b->log);
	c->kind = K_SUB;
}

/*** publishers ***/

/* One line from a client. */
static void
handle_line(struct bus *b, struct client *c, const char *p, size_t len)
{
	struct evk_err err = EVK_ERR_ZERO;
	enum evk_json_type t;
	char msg[300], ok[96];
	uint64_t seq;

	if (c->kind == K_NEW) {
		if ((c->hello = malloc(len + 1)) == NULL)
			cli_die(CLI_FATAL, "out of memory");
		memcpy(c->hello, p, len);
		c->hello[len] = '\0';
		if (evk_bus_hello_parse(c->hello, len, b->now, &c->h, &err) <
		    0) {
			send_error(b, c, 0, 1, err.msg);
			return;
		}
		snprintf(ok, sizeof ok,
		    "[\"ok\",{\"first\":%" PRIu64 ",\"next\":%" PRIu64 "}]\n",
		    evk_log_first(b->log), evk_log_next(b->log));
		out_adds(c, ok);
		if (c->h.op == EVK_BUS_PUB) {
			c->kind = K_PUB;
			c->ack = c->h.ack;
		} else {
			subscribe(b, c);
		}
		return;
	}
	if (c->kind == K_SUB) {
		/* Acknowledgements matter to groups only; anything else is
		 * an error. */
		struct evk_bus_control ctl;

		if (evk_bus_control_parse(p, len, &ctl, NULL) < 0 ||
		    ctl.type != EVK_CTL_ACK)
			send_error(b, c, 0, 1,
			    "a subscriber sends only [\"ack\",N]");
		else if (c->g != NULL && consumed(c, ctl.n) < 0)
			send_error(b, c, 0, 1,
			    "[\"ack\",N]: N is not between what was "
			    "acknowledged and what was sent");
		return;
	}
	c->lines++;
	if (evk_json_check(b->json, p, len, &t, &err) < 0) {
		snprintf(msg, sizeof msg, "invalid JSON: %s at column %zu",
		    err.msg, err.column);
		send_error(b, c, c->lines, 0, msg);
		return;
	}
	if (t != EVK_JSON_OBJECT) {
		send_error(b, c, c->lines, 0, "not a JSON object");
		return;
	}
	if (evk_log_append(b->log, p, len, b->now, &seq, &err) < 0) {
		send_error(b, c, c->lines, 0, err.msg);
		return;
	}
	c->last_seq = seq;
	if (b->sy != NULL)
		b->sy->bytes += len + 1;
}

/* Handles the whole lines read; keeps a half line for later. */
static void
handle_input(struct bus *b, struct client *c)
{
	const char *p, *nl, *end;
	size_t len;

	while (!c->closing && c->in_off < c->in.len) {
		if (c->kind == K_PUB && c->out.len - c->out_off > PUB_OUT_MAX)
			break;
		p = c->in.p + c->in_off;
		end = c->in.p + c->in.len;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL && !c->eof)
			break;
		len = (size_t)((nl != NULL ? nl : end) - p);
		c->in_off += len + (nl != NULL);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len > b->max_line) {
			send_error(b, c, c->kind == K_PUB ? ++c->lines : 0, 1,
			    "line longer than --max-line");
			return;
		}
		if (memchr(p, '\0', len) != NULL) {
			if (c->kind == K_PUB) {
				send_error(b, c, ++c->lines, 0,
				    "NUL byte in the line");
				continue;
			}
			send_error(b, c, 0, 1, "NUL byte in the line");
			return;
		}
		if (!cli_blank(p, len))
			handle_line(b, c, p, len);
	}
	if (c->in_off == c->in.len) {
		evk_buf_reset(&c->in);
		c->in_off = 0;
		c->partial_since = 0;
	} else if (c->in_off > 0) {
		memmove(c->in.p, c->in.p + c->in_off, c->in.len - c->in_off);
		c->in.len -= c->in_off;
		c->in_off = 0;
	}
	if (c->in.len > b->max_line &&
	    memchr(c->in.p, '\n', c->in.len) == NULL) {
		send_error(b, c, c->kind == K_PUB ? ++c->lines : 0, 1,
		    "line longer than --max-line");
		return;
	}
	/* Only a half line counts as stalled, not whole lines held back
	 * while the client does not read its acknowledgements. */
	if (c->in.len > 0 && c->partial_since == 0 &&
	    memchr(c->in.p, '\n', c->in.len) == NULL)
		c->partial_since = mono_ns();
	if (c->eof && c->in.len == 0 && !c->closing && c->kind != K_SUB)
		c->closing = 1;
}

/* ["ack",LINES,SEQ]: the publisher's first LINES lines are handled, the
 * events among them stored (SEQ: the last one's number). */
static void
acknowledge(struct client *c, uint64_t lines, uint64_t seq)
{
	char line[80];

	if (c->kind != K_PUB || !c->ack || c->failed || lines <= c->acked)
		return;
	snprintf(line, sizeof line, "[\"ack\",%" PRIu64 ",%" PRIu64 "]\n",
	    lines, seq);
	out_adds(c, line);
	c->acked = lines;
}

/*** connections ***/

static void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	if (c->g != NULL)
		leave(c);
	free(c->inflight.v);
	evk_log_cursor_close(c->cur);
	evk_buf_free(&c->in);
	evk_buf_free(&c->out);
	free(c->hello);
	free(c);
}

static int
allowed(const struct bus *b, uid_t uid)
{
	size_t i;

	if (b->nallow == 0)
		return 1;
	for (i = 0; i < b->nallow; i++)
		if (b->allow[i] == uid)
			return 1;
	return 0;
}

static void
accept_client(struct bus *b)
{
	struct ucred cr;
	socklen_t crl = sizeof cr;
	struct client *c;
	int fd;

	fd = accept4(b->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			cli_warn("accept: %s", strerror(errno));
		return;
	}
	memset(&cr, 0, sizeof cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) < 0)
		cr.uid = (uid_t)-1;
	if (!allowed(b, cr.uid)) {
		static const char msg[] =
		    "[\"error\",null,\"uid not allowed by --allow-uid\"]\n";

		cli_warn("refused uid %ld pid %ld: not in --allow-uid",
		    (long)cr.uid, (long)cr.pid);
		(void)!send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL);
		close(fd);
		return;
	}
	if (b->nc == b->max_clients) {
		static const char msg[] =
		    "[\"error\",null,\"too many clients (--max-clients)\"]\n";

		(void)!send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL);
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof *c)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	c->fd = fd;
	c->id = ++b->next_id;
	c->uid = cr.uid;
	c->pid = cr.pid;
	b->c[b->nc++] = c;
}

/* Reads what the client sent; 0 at its end or on an error. */
static void
read_client(struct bus *b, struct client *c, short revents)
{
	ssize_t n;

	if (evk_buf_reserve(&c->in, READ_CHUNK) < 0)
		cli_die(CLI_FATAL, "out of memory");
	n = read(c->fd, c->in.p + c->in.len, READ_CHUNK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* A subscriber that only shut its side for writing still
		 * reads; one that hung up is gone. */
		c->eof = 1;
		if (n < 0 || (c->kind == K_SUB && (revents & POLLHUP)))
			c->closing = 2;
		return;
	}
	c->in.len += (size_t)n;
	c->partial_since = 0;
}

static void
write_client(struct client *c)
{
	ssize_t n;

	while (c->out_off < c->out.len) {
		n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
		    MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			c->closing = 2;
			return;
		}
		c->out_off += (size_t)n;
	}
	evk_buf_reset(&c->out);
	c->out_off = 0;
}

/*** the socket ***/

/*
 * Makes the socket's directory when it is missing: 0700, or with --group
 * 0710 and given to the group, so that its members can reach the socket.
 * An existing one must be safe: ours (or root's), and writable by nobody
 * else unless sticky, so that no one else can put a socket of theirs
 * where clients look.
 */
static void
make_dir(const char *path, const struct group *gr)
{
	char dir[sizeof((struct sockaddr_un *)0)->sun_path];
	char *slash;
	struct stat st;

	snprintf(dir, sizeof dir, "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, gr != NULL ? 0710 : 0700) == 0) {
		if (gr != NULL &&
		    (chown(dir, (uid_t)-1, gr->gr_gid) < 0 ||
		        chmod(dir, 0710) < 0))
			cli_die(CLI_FATAL, "cannot give %s to group %s: %s",
			    dir, gr->gr_name, strerror(errno));
		return;
	}
	if (errno != EEXIST)
		cli_die(CLI_FATAL, "cannot make %s: %s", dir, strerror(errno));
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		cli_die(CLI_FATAL, "%s is not a directory", dir);
	if (st.st_uid != geteuid() && st.st_uid != 0)
		cli_die(CLI_FATAL,
		    "%s belongs to uid %ld: not a safe place for the socket",
		    dir, (long)st.st_uid);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
		cli_die(CLI_FATAL,
		    "%s is writable by others: not a safe place for the "
		    "socket",
		    dir);
}

static void
open_socket(struct bus *b, const char *url, const char *group)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct sockaddr_un sa;
	struct group *gr = NULL;
	struct stat st;
	mode_t old;
	int fd, rc;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (evk_bus_url_path(url, sa.sun_path, sizeof sa.sun_path, &err) < 0)
		cli_usage_error("%s", err.msg);
	snprintf(b->path, sizeof b->path, "%s", sa.sun_path);
	if (group != NULL && (gr = getgrnam(group)) == NULL)
		cli_usage_error("--group %s: no such group", group);
	make_dir(b->path, gr);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		cli_die(CLI_FATAL, "socket: %s", strerror(errno));
	if (lstat(b->path, &st) == 0) {
		/* A live bus answers; a dead one's socket refuses. */
		if (!S_ISSOCK(st.st_mode))
			cli_die(CLI_FATAL, "%s exists and is not a socket",
			    b->path);
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
			cli_die(CLI_FATAL, "another bus is listening on %s",
			    b->path);
		if (errno != ECONNREFUSED)
			cli_die(CLI_FATAL, "%s: %s", b->path, strerror(errno));
		close(fd);
		if (unlink(b->path) < 0)
			cli_die(CLI_FATAL,
			    "cannot remove the stale socket "
			    "%s: %s",
			    b->path, strerror(errno));
		cli_warn("replaced the stale socket %s", b->path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			cli_die(CLI_FATAL, "socket: %s", strerror(errno));
	}
	old = umask(gr != NULL ? 0117 : 0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (rc < 0)
		cli_die(CLI_FATAL, "cannot bind %s: %s", b->path,
		    strerror(errno));
	b->own_socket = 1;
	if (gr != NULL && chown(b->path, (uid_t)-1, gr->gr_gid) < 0)
		cli_die(CLI_FATAL, "cannot give %s to group %s: %s", b->path,
		    group, strerror(errno));
	if (listen(fd, 128) < 0)
		cli_die(CLI_FATAL, "listen: %s", strerror(errno));
	b->lfd = fd;
}

/* A socket passed by systemd (LISTEN_PID, LISTEN_FDS): fd 3. */
static int
passed_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");

	if (pid == NULL || fds == NULL || atol(pid) != (long)getpid() ||
	    atoi(fds) < 1)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return 3;
}

/*** the sync thread ***/

static void *
sync_main(void *arg)
{
	struct syncer *sy = arg;
	struct evk_err err = EVK_ERR_ZERO;
	int rc;

	pthread_mutex_lock(&sy->mu);
	for (;;) {
		while (sy->state != SY_QUEUED && !sy->quit)
			pthread_cond_wait(&sy->cv, &sy->mu);
		if (sy->state != SY_QUEUED)
			break;
		pthread_mutex_unlock(&sy->mu);
		rc = evk_log_sync_run(&sy->job, &err);
		pthread_mutex_lock(&sy->mu);
		sy->rc = rc;
		sy->err = err;
		sy->state = SY_DONE;
		(void)!write(sy->pipe[1], "", 1);
	}
	pthread_mutex_unlock(&sy->mu);
	return NULL;
}

static void
sync_start(struct bus *b, int64_t interval)
{
	struct syncer *sy;
	int e;

	if ((sy = calloc(1, sizeof *sy)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	if (pipe2(sy->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		cli_die(CLI_FATAL, "pipe: %s", strerror(errno));
	sy->interval = interval;
	sy->last = mono_ns();
	pthread_mutex_init(&sy->mu, NULL);
	pthread_cond_init(&sy->cv, NULL);
	/* The thread inherits the blocked signals: they stay the loop's. */
	if ((e = pthread_create(&sy->thread, NULL, sync_main, sy)) != 0)
		cli_die(CLI_FATAL, "cannot start a thread: %s", strerror(e));
	b->sy = sy;
}

/* Takes the result of a finished sync: the publishers get the
 * acknowledgements it covers. */
static void
sync_done(struct bus *b)
{
	struct syncer *sy = b->sy;
	char drain[16];
	size_t i;
	int state;

	pthread_mutex_lock(&sy->mu);
	state = sy->state;
	pthread_mutex_unlock(&sy->mu);
	while (read(sy->pipe[0], drain, sizeof drain) > 0)
		;
	if (state != SY_DONE)
		return;
	evk_log_sync_end(b->log, &sy->job, sy->rc);
	if (sy->rc < 0)
		cli_die(CLI_FATAL, "%s", sy->err.msg);
	pthread_mutex_lock(&sy->mu);
	sy->state = SY_IDLE;
	pthread_mutex_unlock(&sy->mu);
	sy->busy = 0;
	for (i = 0; i < b->nc; i++)
		acknowledge(b->c[i], b->c[i]->sync_lines, b->c[i]->sync_seq);
}

/* Ends the thread, after the sync it is making. */
static void
sync_stop(struct bus *b)
{
	struct syncer *sy = b->sy;

	if (sy == NULL)
		return;
	pthread_mutex_lock(&sy->mu);
	sy->quit = 1;
	pthread_cond_signal(&sy->cv);
	pthread_mutex_unlock(&sy->mu);
	pthread_join(sy->thread, NULL);
	sync_done(b);
	close(sy->pipe[0]);
	close(sy->pipe[1]);
	pthread_cond_destroy(&sy->cv);
	pthread_mutex_destroy(&sy->mu);
	free(sy);
	b->sy = NULL;
}

/*** the loop ***/

/* A subscriber whose output drained has more waiting in the log: the
 * loop is to wake as soon as its socket takes more, not at the timeout. */
static int
more_to_feed(const struct bus *b, const struct client *c)
{
	const struct cgroup *g = c->g;

	if (c->kind != K_SUB || c->closing)
		return 0;
	if (g == NULL)
		return evk_log_cursor_pos(c->cur) < evk_log_next(b->log);
	return room(c) &&
	    (g->back.head < g->back.len ||
	        evk_log_cursor_pos(g->cur) < evk_log_next(b->log));
}

/* How long (ns) the next sync waits to begin: 0 when it is due, -1 when
 * there is no sync thread or nothing to sync. */
static int64_t
sync_wait(const struct bus *b)
{
	const struct syncer *sy = b->sy;
	int64_t left;

	if (sy == NULL || sy->bytes == 0)
		return -1;
	if (sy->bytes >= SYNC_BYTES)
		return 0;
	left = sy->last + sy->interval - mono_ns();
	return left > 0 ? left : 0;
}

/*
 * Acknowledges what is durable.  Without the sync thread everything
 * stored is.  With it, when no sync is under way: one begins for what
 * was appended, and the publishers' lines handled until now are
 * acknowledged when it ends; nothing to sync, they are acknowledged now.
 */
static void
turn_end(struct bus *b)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct syncer *sy = b->sy;
	struct client *c;
	size_t i;
	int rc = 0;

	if (sy != NULL && !sy->busy && sync_wait(b) > 0) {
		/* The acknowledgements wait for the next sync. */
	} else if (sy != NULL && !sy->busy &&
	    (rc = evk_log_sync_begin(b->log, &sy->job, &err)) > 0) {
		for (i = 0; i < b->nc; i++) {
			c = b->c[i];
			c->sync_lines = c->lines;
			c->sync_seq = c->last_seq;
		}
		sy->last = mono_ns();
		sy->bytes = 0;
		pthread_mutex_lock(&sy->mu);
		sy->busy = 1;
		sy->state = SY_QUEUED;
		pthread_cond_signal(&sy->cv);
		pthread_mutex_unlock(&sy->mu);
	} else if (sy == NULL || !sy->busy) {
		if (rc < 0)
			cli_die(CLI_FATAL, "%s", err.msg);
		if (sy != NULL)
			evk_log_sync_end(b->log, &sy->job, 0);
		for (i = 0; i < b->nc; i++)
			acknowledge(b->c[i], b->c[i]->lines, b->c[i]->last_seq);
	}
	for (i = 0; i < b->ng; i++)
		group_save(b, b->g[i]);
}

static void
run(struct bus *b)
{
	struct pollfd *pf;
	struct client *c;
	size_t i, j, np;
	int64_t now, last_retain = 0;
	struct evk_time wall;
	size_t first = b->sy != NULL ? 2 : 1; /* pf[first] is b->c[0] */
	int64_t wait;
	int rc;

	if ((pf = calloc(b->max_clients + 2, sizeof *pf)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	while (!cli_stop) {
		np = 0;
		pf[np++] = (struct pollfd){b->lfd, POLLIN, 0};
		if (b->sy != NULL)
			pf[np++] = (struct pollfd){b->sy->pipe[0], POLLIN, 0};
		for (i = 0; i < b->nc; i++) {
			c = b->c[i];
			pf[np] = (struct pollfd){c->fd, 0, 0};
			if (!c->closing && !c->eof &&
			    (c->kind != K_PUB ||
			        c->out.len - c->out_off <= PUB_OUT_MAX))
				pf[np].events |= POLLIN;
			if (c->out_off < c->out.len || more_to_feed(b, c))
				pf[np].events |= POLLOUT;
			np++;
		}
		wait = sync_wait(b);
		if (wait < 0 || b->sy->busy || wait > 200000000)
			wait = 200000000;
		rc = ppoll(pf, np,
		    &(struct timespec){.tv_sec = 0, .tv_nsec = wait},
		    &cli_waitmask);
		if (rc < 0 && errno != EINTR)
			cli_die(CLI_FATAL, "poll: %s", strerror(errno));
		if (cli_stop)
			break;
		now = mono_ns();
		evk_time_now(&wall);
		b->now = evk_time_ns(&wall);
		if (b->sy != NULL && (pf[1].revents & POLLIN))
			sync_done(b);
		for (i = 0, j = first; i < b->nc; i++, j++) {
			c = b->c[i];
			if (c->eof && (pf[j].revents & (POLLHUP | POLLERR)))
				c->closing = 2; /* hung up after its EOF */
			else if (pf[j].revents & (POLLIN | POLLHUP | POLLERR))
				read_client(b, c, pf[j].revents);
			if (c->closing != 2)
				handle_input(b, c);
			if (c->in.len > 0 && c->partial_since != 0 &&
			    now - c->partial_since > b->line_timeout &&
			    !c->closing)
				send_error(b, c, 0, 1,
				    "half a line and nothing more (see "
				    "--line-timeout)");
		}
		turn_end(b);
		for (i = 0; i < b->ng; i++)
			feed_group(b, b->g[i]);
		for (i = 0; i < b->nc; i++) {
			c = b->c[i];
			if (c->kind == K_SUB && c->g == NULL)
				feed(b, c);
			if (c->closing != 2)
				write_client(c);
		}
		/* Closing clients go once their output went. */
		for (i = j = 0; i < b->nc; i++) {
			c = b->c[i];
			if (c->closing == 2 ||
			    (c->closing && c->out_off == c->out.len))
				client_free(c);
			else
				b->c[j++] = c;
		}
		b->nc = j;
		if (pf[0].revents & POLLIN)
			accept_client(b);
		if (now - last_retain > 1000000000) {
			evk_log_retain(b->log, b->now);
			last_retain = now;
		}
	}
	free(pf);
}

/*** main ***/

enum {
	OPT_DATA = 256,
	OPT_MEMORY,
	OPT_FSYNC,
	OPT_SEGMENT,
	OPT_RETAIN_BYTES,
	OPT_RETAIN_AGE,
	OPT_GROUP,
	OPT_ALLOW,
	OPT_MAX_CLIENTS,
	OPT_MAX_LINE,
	OPT_LINE_TIMEOUT,
	OPT_FSYNC_INTERVAL,
	OPT_MAX_INFLIGHT,
};

static const struct option longopts[] = {
    {"bind", required_argument, NULL, 'b'},
    {"data", required_argument, NULL, OPT_DATA},
    {"memory", no_argument, NULL, OPT_MEMORY},
    {"fsync", required_argument, NULL, OPT_FSYNC},
    {"segment-bytes", required_argument, NULL, OPT_SEGMENT},
    {"retain-bytes", required_argument, NULL, OPT_RETAIN_BYTES},
    {"retain-age", required_argument, NULL, OPT_RETAIN_AGE},
    {"group", required_argument, NULL, OPT_GROUP},
    {"allow-uid", required_argument, NULL, OPT_ALLOW},
    {"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
    {"max-line", required_argument, NULL, OPT_MAX_LINE},
    {"line-timeout", required_argument, NULL, OPT_LINE_TIMEOUT},
    {"fsync-interval", required_argument, NULL, OPT_FSYNC_INTERVAL},
    {"max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void
allow_list(struct bus *b, const char *s)
{
	char *copy = strdup(s), *tok, *save = NULL;

	if (copy == NULL)
		cli_die(CLI_FATAL, "out of memory");
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (b->nallow == sizeof b->allow / sizeof b->allow[0])
			cli_usage_error("--allow-uid: more than %zu ids",
			    sizeof b->allow / sizeof b->allow[0]);
		b->allow[b->nallow++] =
		    (uid_t)cli_number("--allow-uid", tok, 0, INT_MAX, 0);
	}
	free(copy);
	if (b->nallow == 0)
		cli_usage_error("--allow-uid: no user id");
}

int
main(int argc, char **argv)
{
	struct evk_log_opts lo = {0};
	struct evk_log_recovery rec;
	int64_t sync_interval;
	struct evk_err err = EVK_ERR_ZERO;
	struct bus b;
	const char *bind_url = NULL, *group = NULL;
	char url[512];
	int c, memory = 0;
	size_t i;

	cli_init("evbus");
	argv[0] = (char *)cli_prog;
	memset(&b, 0, sizeof b);
	b.max_clients = 1024;
	b.max_line = EVK_MAX_LINE;
	b.max_inflight = EVK_BUS_WINDOW;
	b.line_timeout = 10 * (int64_t)1000000000;
	sync_interval = 20 * (int64_t)1000000; /* 20ms */
	lo.fsync = EVK_FSYNC_BATCH;
	while ((c = getopt_long(argc, argv, "b:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': bind_url = optarg; break;
		case OPT_DATA: lo.dir = optarg; break;
		case OPT_MEMORY: memory = 1; break;
		case OPT_FSYNC:
			if (strcmp(optarg, "always") == 0)
				lo.fsync = EVK_FSYNC_ALWAYS;
			else if (strcmp(optarg, "batch") == 0)
				lo.fsync = EVK_FSYNC_BATCH;
			else if (strcmp(optarg, "never") == 0)
				lo.fsync = EVK_FSYNC_NEVER;
			else
				cli_usage_error("--fsync %s: use always, batch "
				                "or never",
				    optarg);
			break;
		case OPT_SEGMENT:
			lo.segment_bytes =
			    (uint64_t)cli_number("--segment-bytes", optarg, 1,
			        LLONG_MAX, 1);
			break;
		case OPT_RETAIN_BYTES:
			lo.retain_bytes = (uint64_t)cli_number("--retain-bytes",
			    optarg, 1, LLONG_MAX, 1);
			break;
		case OPT_RETAIN_AGE:
			lo.retain_age_ns = cli_duration("--retain-age", optarg);
			break;
		case OPT_GROUP: group = optarg; break;
		case OPT_ALLOW: allow_list(&b, optarg); break;
		case OPT_MAX_CLIENTS:
			b.max_clients = (size_t)cli_number("--max-clients",
			    optarg, 1, 65536, 0);
			break;
		case OPT_MAX_LINE: b.max_line = cli_max_line(optarg); break;
		case OPT_MAX_INFLIGHT:
			b.max_inflight = (uint64_t)cli_number("--max-inflight",
			    optarg, 1, 1000000, 0);
			break;
		case OPT_LINE_TIMEOUT:
			b.line_timeout = cli_duration("--line-timeout", optarg);
			break;
		case OPT_FSYNC_INTERVAL:
			sync_interval = strcmp(optarg, "0") == 0
			    ? 0
			    : cli_duration("--fsync-interval", optarg);
			break;
		case 'h': fputs(usage_text, stdout); return CLI_OK;
		case 'V': printf("evbus %s\n", EVK_VERSION); return CLI_OK;
		default:
			fprintf(stderr,
			    "Try 'evbus --help' for more information.\n");
			return CLI_FATAL;
		}
	}
	if (optind < argc)
		cli_usage_error("unexpected argument %s", argv[optind]);
	if (memory && lo.dir != NULL)
		cli_usage_error("--memory and --data exclude each other");
	if (lo.dir == NULL && lo.segment_bytes != 0)
		cli_usage_error("--segment-bytes needs --data");
	if (evk_bus_url(bind_url, url, sizeof url) < 0)
		cli_usage_error("bus URL too long");
	b.fsync = lo.fsync;
	b.dir = lo.dir;

	if ((b.c = calloc(b.max_clients, sizeof *b.c)) == NULL ||
	    (b.json = evk_json_checker_new(NULL)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	memset(&rec, 0, sizeof rec);
	if (evk_log_open(&lo, &b.log, &rec, &err) < 0)
		cli_die(CLI_FATAL, "%s", err.msg);
	if (lo.dir != NULL) {
		cli_warn("%s: %" PRIu64 " events in %" PRIu64
		         " segments, %" PRIu64 " to %" PRIu64,
		    lo.dir, rec.records, rec.segments, evk_log_first(b.log),
		    evk_log_next(b.log));
		if (rec.torn_bytes > 0)
			cli_warn("%s: cut %" PRIu64 " bytes of a torn or "
			         "damaged last record (kept in %s)",
			    lo.dir, rec.torn_bytes, rec.damaged);
		if (rec.indexes_rebuilt > 0)
			cli_warn("%s: rebuilt %" PRIu64 " indexes", lo.dir,
			    rec.indexes_rebuilt);
	}
	if ((b.lfd = passed_socket()) >= 0) {
		fcntl(b.lfd, F_SETFD, FD_CLOEXEC);
		cli_warn("listening on the socket passed by systemd");
	} else {
		open_socket(&b, url, group);
		cli_warn("listening on %s (%s%s, fsync %s)", url,
		    lo.dir ? "data " : "memory", lo.dir ? lo.dir : "",
		    lo.dir == NULL                    ? "none"
		        : b.fsync == EVK_FSYNC_ALWAYS ? "always"
		        : b.fsync == EVK_FSYNC_BATCH  ? "batch"
		                                      : "never");
	}
	if (fcntl(b.lfd, F_SETFL, fcntl(b.lfd, F_GETFL) | O_NONBLOCK) < 0)
		cli_die(CLI_FATAL, "socket: %s", strerror(errno));

	if (b.dir != NULL && b.fsync == EVK_FSYNC_BATCH)
		sync_start(&b, sync_interval);
	run(&b);

	/* What was stored is made durable and acknowledged. */
	sync_stop(&b);
	if (evk_log_sync(b.log, &err) < 0)
		cli_die(CLI_FATAL, "%s", err.msg);
	turn_end(&b);
	for (i = 0; i < b.nc; i++) {
		write_client(b.c[i]);
		client_free(b.c[i]);
	}
	b.nc = 0;
	for (i = 0; i < b.ng; i++) {
		group_save(&b, b.g[i]);
		evk_log_cursor_close(b.g[i]->cur);
		free(b.g[i]->back.v);
		free(b.g[i]->hello);
		free(b.g[i]);
	}
	free(b.g);
	evk_log_cursor_close(b.back_cur);
	close(b.lfd);
	if (b.own_socket)
		unlink(b.path);
	evk_log_close(b.log);
	cli_warn("stopped");
	evk_json_checker_free(b.json);
	evk_buf_free(&b.tmp);
	free(b.c);
	return CLI_OK;
}
