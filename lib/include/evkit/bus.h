/*
 * evkit/bus.h - the bus protocol and its client transport.
 *
 * A client connects to evbus's stream socket and speaks NDJSON both ways
 * (evbus(8) has the whole protocol).  Its first line is a hello object:
 *
 *   {"op":"pub","ack":true}
 *   {"op":"sub","topics":["order.*"],"from":"all","follow":true}
 *
 * and the bus answers ["ok",{"first":F,"next":N}] or ["error",null,MSG].
 * Then event lines flow: every JSON object on a line is an event, every
 * JSON array a control line (events are objects, so nothing is
 * ambiguous): ["ack",C,SEQ] (the first C lines published on this
 * connection are dealt with, the last stored got SEQ), ["error",C,MSG]
 * (line C was refused; after an over-long line the connection also
 * ends; C null: an error not of a line, and the connection ends),
 * ["gap",N] (N events were dropped before this subscriber read them),
 * ["end"] (no more events for a subscriber that does not follow), and
 * from a subscriber ["ack",N] (it has consumed the first N events it was
 * sent).
 *
 * The transport is an opaque struct evk_bus reached through a URL, so
 * that other transports (NATS) fit behind the same calls.
 */
#ifndef EVKIT_BUS_H
#define EVKIT_BUS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "evkit/buf.h"
#include "evkit/err.h"
#include "evkit/frame.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits of the protocol. */
#define EVK_BUS_MAX_TOPICS 64
#define EVK_BUS_WINDOW 1024 /* default events in flight */

/*** the protocol ***/

enum evk_bus_op { EVK_BUS_PUB = 1, EVK_BUS_SUB };

enum evk_bus_from {
	EVK_FROM_NEW = 0, /* only events published after subscribing */
	EVK_FROM_ALL, /* from the first event kept */
	EVK_FROM_SEQ, /* from sequence number `seq` */
	EVK_FROM_TIME, /* from the events stored at or after `time_ns` */
};

/* A parsed hello line.  Topic patterns point into the line. */
struct evk_bus_hello {
	enum evk_bus_op op;
	int ack; /* pub: acknowledgements wanted (default 1) */
	struct evk_span topics[EVK_BUS_MAX_TOPICS];
	size_t ntopics; /* sub: 0 means every event */
	enum evk_bus_from from;
	uint64_t seq;
	int64_t time_ns;
	int follow; /* sub: go on after the events that exist (default 1) */
	struct evk_span group; /* sub: p NULL without a group */
	uint64_t window; /* sub: events sent and not acknowledged, at most */
};

/*
 * Parses a hello line.  `now_ns` resolves "from":"-DUR".  Returns 0, or
 * EVK_EINVAL (or a JSON error code) with a message for the client in
 * `err`: "hello: unknown op \"x\"", "hello: bad topic pattern ...".
 */
int evk_bus_hello_parse(const char *p, size_t len, int64_t now_ns,
    struct evk_bus_hello *h, struct evk_err *err);

enum evk_bus_ctl {
	EVK_CTL_OK = 1,
	EVK_CTL_ACK,
	EVK_CTL_ERROR,
	EVK_CTL_GAP,
	EVK_CTL_END,
};

/* A parsed control line. */
struct evk_bus_control {
	enum evk_bus_ctl type;
	uint64_t n; /* ok: first; ack: count; error: line (0: none); gap */
	uint64_t seq; /* ok: next; ack (from the bus): last sequence number */
	char msg[256]; /* error */
};

/* Parses a control line (a JSON array).  Returns 0, or EVK_EINVAL (or a
 * JSON error code) with `err` filled. */
int evk_bus_control_parse(const char *p, size_t len, struct evk_bus_control *c,
    struct evk_err *err);

/*** the client ***/

/*
 * The bus URL to use: `url` when not NULL, else $EVBUS_URL, else
 * unix:$XDG_RUNTIME_DIR/evbus/evbus.sock, else
 * unix:/tmp/evbus-UID/evbus.sock.  Written to buf (n bytes).  Returns 0
 * or EVK_EINVAL when it does not fit.
 */
int evk_bus_url(const char *url, char *buf, size_t n);

/* The socket path of a unix: URL (a URL without a scheme is a path).
 * Returns 0, or EVK_EINVAL: another scheme, or too long for a socket. */
int evk_bus_url_path(const char *url, char *path, size_t n,
    struct evk_err *err);

struct evk_bus;

/* How a client waits for the bus: a program that keeps its stop signals
 * blocked passes the flag they set and the mask to wait with (as in
 * evk_reader_opts); a wait then ends with EVK_EINTR when *stop is set. */
struct evk_bus_wait {
	volatile sig_atomic_t *stop;
	const sigset_t *sigmask;
	/* > 0: a wait also ends, with EVK_EPIPE, when this fd (the
	 * program's output) reports an error or hangup: its reader left,
	 * as `evsub | head -3` needs to see while no event comes. */
	int out_fd;
};

struct evk_bus_pub_opts {
	struct evk_bus_wait wait;
	int no_ack; /* fire and forget */
	size_t window; /* events not yet acknowledged, at most; 0: default */
	/* Called for each event the bus refused, with its reason. */
	void (
	    *on_reject)(void *ctx, const char *p, size_t len, const char *msg);
	void *ctx;
};

/* Connects to publish.  Returns 0 or a negative code with `err` saying
 * why: "cannot connect to unix:PATH: Connection refused". */
int evk_bus_connect_pub(const char *url, const struct evk_bus_pub_opts *o,
    struct evk_bus **b, struct evk_err *err);

/* Publishes one event line (without newline); may wait for
 * acknowledgements when the window is full.  Returns 0, or EVK_EIO when
 * the bus went away. */
int evk_bus_publish(struct evk_bus *b, const char *p, size_t len,
    struct evk_err *err);

/* Sends what is buffered and waits until every event published was
 * acknowledged (or, with no_ack, written to the socket).  Returns 0 or
 * EVK_EIO. */
int evk_bus_flush(struct evk_bus *b, struct evk_err *err);

/* Sends what is buffered without waiting, and takes the acknowledgements
 * that have come (reporting refused events).  Returns 0 or EVK_EIO. */
int evk_bus_push(struct evk_bus *b, struct evk_err *err);

/* Events published and not acknowledged yet. */
uint64_t evk_bus_waiting(const struct evk_bus *b);

/* The connection's socket, to poll: readable when acknowledgements came
 * (then evk_bus_push() takes them). */
int evk_bus_fd(const struct evk_bus *b);

/* Calls fn for every event published and not acknowledged, oldest first
 * (after a failure: those to keep as dead letters).  Returns how many. */
size_t evk_bus_unacked(struct evk_bus *b,
    void (*fn)(void *ctx, const char *p, size_t len), void *ctx);

struct evk_bus_sub_opts {
	struct evk_bus_wait wait;
	const char *const *topics; /* patterns; none: every event */
	size_t ntopics;
	const char *from; /* "new", "all", SEQ, RFC 3339, -DUR */
	int no_follow;
	const char *group; /* NULL: none */
	size_t window;
	size_t max_line; /* the longest event to read; 0: EVK_MAX_LINE */
};

/* Connects and subscribes.  Returns 0 or a negative code with `err`
 * (also the bus's refusal of the hello). */
int evk_bus_connect_sub(const char *url, const struct evk_bus_sub_opts *o,
    struct evk_bus **b, struct evk_err *err);

/*
 * Waits at most timeout_ms (-1: no limit) for the next event.  Returns 1
 * with the event in *ev (valid until the next call); EVK_BUS_GAP with
 * *gap the number of events missed; 0 at the end of a subscription
 * without follow; EVK_BUS_TIMEOUT; EVK_EINTR when the stop flag was set;
 * EVK_EPIPE when the watched output's reader left; or EVK_EIO with `err`
 * (also when the bus closed the connection).
 */
#define EVK_BUS_GAP 2
#define EVK_BUS_TIMEOUT 3
int evk_bus_next(struct evk_bus *b, int timeout_ms, struct evk_line *ev,
    uint64_t *gap, struct evk_err *err);

/* Tells the bus that the first n events received are consumed. */
int evk_bus_ack(struct evk_bus *b, uint64_t n, struct evk_err *err);

/* A sink that publishes each line to `b` (borrowed: left open).  Its
 * flush is evk_bus_push(); closing it is evk_bus_flush(), which waits for
 * every acknowledgement. */
struct evk_sink *evk_bus_sink(struct evk_bus *b);

/* NULL does nothing. */
void evk_bus_close(struct evk_bus *b);

#ifdef __cplusplus
}
#endif

#endif
