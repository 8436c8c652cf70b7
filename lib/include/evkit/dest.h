/*
 * evkit/dest.h - the destinations of evk_routes, opened and written:
 * buffered non-blocking writers for stdout, stderr, fd:N, files (with
 * reopen), templated files (the most recently used ones kept open),
 * unix: sockets, exec: children and the bus.
 *
 * Each destination holds its pending bytes (whole lines) in a bounded
 * buffer written through a non-blocking descriptor, so that one slow
 * destination either holds the caller back (block, the default) or loses
 * new events, counted (drop_new), while the others are served.  A
 * destination that fails is retried with backoff (100 ms doubling up to
 * 10 s); meanwhile its events are dead letters (given to on_dead), or,
 * without on_dead, the set stops (evk_dests_state() says so).
 *
 * The module never prints, never exits and installs no signal handler:
 * it says what happens through the callbacks of evk_dests_opts, waits with
 * the caller's signal mask, and lets the caller act on its signals from
 * inside long waits (on_wake).  The caller ignores SIGPIPE: a reader
 * that left is then EPIPE, which for stdout stops the set quietly (| head)
 * and for the others is a failure.  A set is used by one thread.
 */
#ifndef EVKIT_DEST_H
#define EVKIT_DEST_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "evkit/buf.h"
#include "evkit/err.h"
#include "evkit/route.h"

#ifdef __cplusplus
extern "C" {
#endif

struct evk_dests_opts {
	size_t buffer; /* a destination's buffer, in bytes */
	size_t max_open; /* templated files open at once, per destination */
	unsigned file_mode; /* of the files created (umask applies) */
	int drop_new; /* a full buffer drops the new event, counted */
	/* Set by the caller's signal handlers (may be NULL): *stop ends
	 * every wait early; when *wake is set, on_wake(ctx) is called from
	 * inside waits (it may call evk_dests_reopen()). */
	volatile sig_atomic_t *stop, *wake;
	void (*on_wake)(void *ctx);
	/* The mask to wait with in ppoll(2) (NULL: the current one), and
	 * the mask an exec: child starts with (NULL: the current one). */
	const sigset_t *sigmask, *child_mask;
	/* An undeliverable event, its bytes without newline; NULL: no dead
	 * letters, and a failing destination stops the set. */
	void (*on_dead)(void *ctx, const char *p, size_t n);
	const char *dead_name; /* where dead letters go, for messages */
	/* A message to show ("file:x: open x: Permission denied"). */
	void (*on_warn)(void *ctx, const char *msg);
	/* `d` failed without on_dead: the set stops because of it. */
	void (*on_stop)(void *ctx, const struct evk_dest *d);
	void *ctx;
};

/* Fills `o` with the defaults: 1 MiB buffers, 64 open files, mode 0644,
 * block when full, no callbacks. */
void evk_dests_opts_init(struct evk_dests_opts *o);

/* What happened to a destination.  `written` counts the events taken
 * (a buffered event counts as written until it is lost). */
struct evk_dest_stats {
	unsigned long long written, dropped, dead, errors;
};

/* evk_dests_state() bits. */
enum {
	EVK_DESTS_STOPPED = 1, /* stop feeding events: failed, or stdout's
	                          reader left */
	EVK_DESTS_FAILED = 2, /* events were lost for lack of on_dead */
	EVK_DESTS_LOST = 4, /* an exec: command died with events unread */
};

struct evk_dests;

/*
 * Returns a new set with one destination per evk_routes_dest(rt, i),
 * nothing opened yet, or NULL when out of memory.  Borrows `rt` and the
 * strings and sets of `o` (they must outlive the set).  Free with
 * evk_dests_free().
 */
struct evk_dests *evk_dests_new(const struct evk_routes *rt,
    const struct evk_dests_opts *o);

/* Closes everything at once, without writing what is pending, waits for
 * the exec: children and frees `ds`; NULL does nothing. */
void evk_dests_free(struct evk_dests *ds);

/* Opens every destination (templated files: when an event needs them).
 * One that fails is reported and down, as any failure. */
void evk_dests_open(struct evk_dests *ds);

/*
 * Gives destination `i` the event line p[0..n) (without newline; "\n" is
 * added).  `ev` is the event's JSON text, for the names of templated
 * files.  May wait for room (block), drop the event (drop_new), or hand it
 * to on_dead (destination down).  Returns 0, or EVK_ENOMEM (the set is
 * then stopped).
 */
int evk_dests_put(struct evk_dests *ds, size_t i, const char *p, size_t n,
    struct evk_span ev);

/*
 * Writes out what is pending, waiting until every buffer is empty, or,
 * with `in_fd` >= 0, until it is readable, or with `idle_ms` >= 0 until
 * nothing was taken for that long, or *stop.  Then flushes the bus
 * destinations.  Returns 0 or EVK_ENOMEM.
 */
int evk_dests_poll(struct evk_dests *ds, int in_fd, int idle_ms);

/* Closes the files (after writing what they hold) and opens them again:
 * for log rotation.  Templated files are opened again when needed.
 * Called from on_wake, inside a put or poll that waits, it is made when
 * that call returns. */
void evk_dests_reopen(struct evk_dests *ds);

/*
 * The end: writes what is pending (with drop_new, giving up after a
 * second in which nothing was taken), counts and reports what could not
 * be written as dropped, closes everything and waits for the exec:
 * children.  Only evk_dests_state(), evk_dests_stats() and
 * evk_dests_free() may follow.
 */
void evk_dests_close(struct evk_dests *ds);

/* EVK_DESTS_* bits. */
int evk_dests_state(const struct evk_dests *ds);

/* The number of destinations, and the counts of number `i`. */
size_t evk_dests_count(const struct evk_dests *ds);
void evk_dests_stats(const struct evk_dests *ds, size_t i,
    struct evk_dest_stats *st);

#ifdef __cplusplus
}
#endif
#endif
