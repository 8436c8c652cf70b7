/*
 * tests/bench/busbench.c - the driver of tests/bench/evbus.sh: one
 * publisher and K subscribers on evbus, nats-server (core or JetStream) or
 * mosquitto, all through their C client libraries, in one process
 * structure: one publisher thread, K subscriber threads (each with its own
 * connection), and the main thread watching that everything progresses.
 *
 *   busbench thru SYSTEM ADDR K N        N events as fast as they go
 *   busbench lat  SYSTEM ADDR K N RATE   N events at a steady RATE/s
 *
 * SYSTEM     ADDR                what the publisher does
 *   direct     -                   no broker, the floor: writes each event
 *                                  to one socketpair per subscriber itself
 *   evbus      unix:PATH           evk_bus_publish with acknowledgements
 *                                  (the default window of 1024), then
 *                                  evk_bus_flush (waits for every ack);
 *                                  lat: evk_bus_push after each batch of
 *                                  due events (sends, takes the acks
 *                                  come so far), as evpub -b does
 *   evbus-noack unix:PATH          the same with no_ack (fire and forget)
 *   nats       nats://HOST:PORT    natsConnection_Publish, then a flush
 *   js         nats://HOST:PORT    makes stream BENCH (file storage,
 *                                  subjects bench.>), js_PublishAsync with
 *                                  at most 1024 acks pending, then
 *                                  js_PublishAsyncComplete; subscribers
 *                                  are ordered (ephemeral push) consumers
 *   mqtt0      HOST:PORT           mosquitto_publish QoS 0
 *   mqtt1      HOST:PORT           mosquitto_publish QoS 1, at most 1024
 *                                  PUBACKs pending; subscribers QoS 1
 *
 * Every event is the same ~250-byte CloudEvent of type bench.tick (MQTT
 * topic bench/tick) with two fixed-width numbers in its data: "seq"
 * (1000000000 + its index) and "t" (10^18 + CLOCK_MONOTONIC ns when it
 * was sent, latency mode only).  Subscribers connect and subscribe before
 * the first event is sent, then check each event: its length, and that
 * its seq is the next one (nothing lost, doubled or reordered); any
 * difference, a gap notice or an error ends the run with status 1.  The
 * main thread also fails the run when no event moves for 30 s.
 *
 * thru: the time from the first publish until every subscriber has all N
 * events; N / that time is the rate delivered to every subscriber.
 * lat: the publisher sends event i at start + i/RATE (sleeping until
 * then).  An event is stamped with the time the publisher woke for it;
 * when the publisher was late (held up by the previous call, as a
 * publisher that waits for acknowledgements may be), with the time it
 * was due, so that the wait counts (no coordinated omission).  Each
 * subscriber records now - stamp for every event; the percentiles are
 * over all subscribers' samples.
 *
 * Prints one line of key=value: secs (until the last subscriber had N),
 * pub_secs (until the publisher was done), eps (N / secs), cpu (this
 * process's CPU seconds: the client side), and in lat mode p50, p99,
 * p999, max (microseconds) and rate (what the publisher achieved).
 *
 * Built by evbus.sh: cc -O2 -pthread busbench.c build/libevkit.a
 * $(pkg-config --cflags --libs libnats libmosquitto jansson libpcre2-8
 * libsodium).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <nats/nats.h>

#include "evkit/bus.h"

#define WINDOW 1024 /* acks pending at most, where the publisher chooses */
#define STALL_S 30 /* no progress for this long: the run fails */
#define SEQ_BASE UINT64_C(1000000000)
#define T_BASE UINT64_C(1000000000000000000)

enum sys { S_DIRECT, S_EVBUS, S_EVBUS_NOACK, S_NATS, S_JS, S_MQTT0, S_MQTT1 };

static enum sys sys;
static const char *addr;
static int lat_mode;
static uint64_t n_events;
static double rate;
static int nsubs;

/* The event template and where its numbers are. */
static char tmpl[512];
static size_t ev_len, seq_off, t_off;

/* What the main thread watches. */
static _Atomic uint64_t pub_sent;
static _Atomic int pub_done, subs_ready;
static int64_t t_start, t_pub_end;

struct sub {
	int id;
	pthread_t th;
	_Atomic uint64_t n; /* events received and checked */
	uint64_t got; /* the subscriber thread's copy of n */
	int64_t t_end;
	int64_t *lat; /* lat mode: ns per event */
	_Atomic int done;
	/* transport state */
	struct mosquitto *mq;
	_Atomic int subscribed;
	natsConnection *nc;
	natsSubscription *ns;
	jsCtx *js;
};
static struct sub *subs;

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "busbench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	_exit(1);
}

/* Writes v as exactly `w` digits at p. */
static void
put_digits(char *p, int w, uint64_t v)
{
	for (int i = w - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

static uint64_t
get_digits(const char *p, int w)
{
	uint64_t v = 0;

	for (int i = 0; i < w; i++) {
		if (p[i] < '0' || p[i] > '9')
			return UINT64_MAX;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	return v;
}

static void
make_template(void)
{
	char *s, *t;

	ev_len = (size_t)snprintf(tmpl, sizeof tmpl,
	    "{\"specversion\":\"1.0\",\"id\":\"01a2000000000000-7abc-8def-"
	    "0123456789ab\",\"source\":\"//bench/b\",\"type\":\"bench."
	    "tick\",\"time\":\"2024-05-01T12:00:00.000000Z\","
	    "\"datacontenttype\":\"application/json\",\"data\":{\"seq\":%" PRIu64
	    ",\"t\":%" PRIu64 ",\"customer\":\"c00042\"}}",
	    SEQ_BASE, T_BASE);
	s = strstr(tmpl, "\"seq\":");
	t = strstr(tmpl, "\"t\":");
	seq_off = (size_t)(s - tmpl) + 6;
	t_off = (size_t)(t - tmpl) + 4;
}

/* Event i into buf (ev_len bytes, no newline); t_ns 0 outside lat mode. */
static void
make_event(char *buf, uint64_t i, int64_t t_ns)
{
	memcpy(buf, tmpl, ev_len);
	put_digits(buf + seq_off, 10, SEQ_BASE + i);
	put_digits(buf + t_off, 19, T_BASE + (uint64_t)t_ns);
}

/* A subscriber received one event: checks it, counts it. */
static void
got_event(struct sub *s, const char *p, size_t len)
{
	int64_t now = mono_ns();
	uint64_t seq;

	if (s->got >= n_events)
		die("subscriber %d: more than %" PRIu64 " events", s->id,
		    n_events);
	if (len != ev_len)
		die("subscriber %d: event %" PRIu64 " has %zu bytes, want %zu",
		    s->id, s->got, len, ev_len);
	seq = get_digits(p + seq_off, 10);
	if (seq != SEQ_BASE + s->got)
		die("subscriber %d: event %" PRIu64 " has seq %" PRIu64
		    " (lost, doubled or out of order)",
		    s->id, s->got, seq - SEQ_BASE);
	if (s->lat != NULL)
		s->lat[s->got] =
		    now - (int64_t)(get_digits(p + t_off, 19) - T_BASE);
	s->got++;
	atomic_store_explicit(&s->n, s->got, memory_order_relaxed);
	if (s->got == n_events) {
		s->t_end = now;
		atomic_store(&s->done, 1);
	}
}

static void
sub_ready(void)
{
	atomic_fetch_add(&subs_ready, 1);
}

/* Waits until every subscriber is done (they are watched by main). */
static void
wait_done(struct sub *s)
{
	while (!atomic_load(&s->done))
		usleep(2000);
}

/*** evbus ***/

struct evpub {
	struct evk_bus *b;
};

static void
on_reject(void *ctx, const char *p, size_t len, const char *msg)
{
	die("evbus refused an event: %s", msg);
}

static void *
evbus_pub_open(void)
{
	struct evk_bus_pub_opts o = {0};
	struct evk_err err = EVK_ERR_ZERO;
	struct evpub *e = calloc(1, sizeof *e);

	o.no_ack = sys == S_EVBUS_NOACK;
	o.on_reject = on_reject;
	if (evk_bus_connect_pub(addr, &o, &e->b, &err) < 0)
		die("evbus publisher: %s", err.msg);
	return e;
}

static void
evbus_send(void *ctx, const char *p, size_t len)
{
	struct evpub *e = ctx;
	struct evk_err err = EVK_ERR_ZERO;

	if (evk_bus_publish(e->b, p, len, &err) < 0)
		die("evbus publish: %s", err.msg);
}

static void
evbus_flush(void *ctx)
{
	struct evpub *e = ctx;
	struct evk_err err = EVK_ERR_ZERO;

	if (evk_bus_flush(e->b, &err) < 0)
		die("evbus flush: %s", err.msg);
}

/* lat: sends at once, takes the acknowledgements come so far, as evpub -b
 * does when its input has nothing more. */
static void
evbus_push(void *ctx)
{
	struct evpub *e = ctx;
	struct evk_err err = EVK_ERR_ZERO;

	if (evk_bus_push(e->b, &err) < 0)
		die("evbus push: %s", err.msg);
}

static void
evbus_pub_close(void *ctx)
{
	struct evpub *e = ctx;

	evk_bus_close(e->b);
	free(e);
}

static void *
evbus_sub(void *arg)
{
	struct sub *s = arg;
	struct evk_bus_sub_opts so = {0};
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_bus *b;
	struct evk_line ev;
	uint64_t gap;
	int rc;

	so.from = "new";
	if (evk_bus_connect_sub(addr, &so, &b, &err) < 0)
		die("evbus subscriber %d: %s", s->id, err.msg);
	sub_ready();
	while (s->got < n_events) {
		rc = evk_bus_next(b, -1, &ev, &gap, &err);
		if (rc == 1)
			got_event(s, ev.p, ev.len);
		else if (rc == EVK_BUS_GAP)
			die("evbus subscriber %d: the bus dropped %" PRIu64
			    " events after %" PRIu64 " (a gap)",
			    s->id, gap, s->got);
		else
			die("evbus subscriber %d: after %" PRIu64
			    " events: %s (rc %d)",
			    s->id, s->got, err.msg, rc);
	}
	evk_bus_close(b);
	return NULL;
}

/*** NATS (core and JetStream) ***/

static void
nats_check(natsStatus st, const char *what)
{
	if (st != NATS_OK)
		die("%s: %s (%s)", what, natsStatus_GetText(st),
		    nats_GetLastError(NULL));
}

static void
nats_err_handler(natsConnection *nc, natsSubscription *sub, natsStatus err,
    void *closure)
{
	die("nats: asynchronous error: %s (%s)", natsStatus_GetText(err),
	    nats_GetLastError(NULL));
}

static natsConnection *
nats_connect(void)
{
	natsOptions *o;
	natsConnection *nc;

	nats_check(natsOptions_Create(&o), "natsOptions_Create");
	nats_check(natsOptions_SetURL(o, addr), "natsOptions_SetURL");
	/* A latency run sends each message at once rather than through the
	 * flusher thread. */
	nats_check(natsOptions_SetSendAsap(o, lat_mode), "SetSendAsap");
	nats_check(natsOptions_SetErrorHandler(o, nats_err_handler, NULL),
	    "SetErrorHandler");
	nats_check(natsConnection_Connect(&nc, o), "natsConnection_Connect");
	natsOptions_Destroy(o);
	return nc;
}

struct natspub {
	natsConnection *nc;
	jsCtx *js;
};

static void
js_ack_err(jsCtx *js, jsPubAckErr *pae, void *closure)
{
	die("JetStream publish failed: %s (%s)", natsStatus_GetText(pae->Err),
	    pae->ErrText != NULL ? pae->ErrText : "");
}

static jsCtx *
js_ctx(natsConnection *nc, int pub)
{
	jsOptions jo;
	jsCtx *js;

	nats_check(jsOptions_Init(&jo), "jsOptions_Init");
	if (pub) {
		jo.PublishAsync.MaxPending = WINDOW;
		jo.PublishAsync.ErrHandler = js_ack_err;
		jo.PublishAsync.StallWait = STALL_S * 1000;
	}
	nats_check(natsConnection_JetStream(&js, nc, &jo), "JetStream");
	return js;
}

/* The stream, made by the main thread before anyone subscribes. */
static void
js_make_stream(void)
{
	natsConnection *nc = nats_connect();
	jsCtx *js = js_ctx(nc, 0);
	jsStreamConfig sc;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	const char *subjects[] = {"bench.>"};

	/* A stream left by an earlier run would be delivered first. */
	js_DeleteStream(js, "BENCH", NULL, &jerr);
	jerr = 0;
	jsStreamConfig_Init(&sc);
	sc.Name = "BENCH";
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	if (js_AddStream(&si, js, &sc, NULL, &jerr) != NATS_OK)
		die("js_AddStream: %s (%d)", nats_GetLastError(NULL),
		    (int)jerr);
	jsStreamInfo_Destroy(si);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
}

static void *
nats_pub_open(void)
{
	struct natspub *e = calloc(1, sizeof *e);

	e->nc = nats_connect();
	if (sys == S_JS)
		e->js = js_ctx(e->nc, 1);
	return e;
}

static void
nats_send(void *ctx, const char *p, size_t len)
{
	struct natspub *e = ctx;

	if (e->js != NULL)
		nats_check(js_PublishAsync(e->js, "bench.tick", p, (int)len,
		               NULL),
		    "js_PublishAsync");
	else
		nats_check(natsConnection_Publish(e->nc, "bench.tick", p,
		               (int)len),
		    "natsConnection_Publish");
}

static void
nats_end(void *ctx)
{
	struct natspub *e = ctx;
	jsPubOptions po;

	if (e->js != NULL) {
		jsPubOptions_Init(&po);
		po.MaxWait = 120000;
		nats_check(js_PublishAsyncComplete(e->js, &po),
		    "js_PublishAsyncComplete");
	} else {
		nats_check(natsConnection_FlushTimeout(e->nc, 120000),
		    "natsConnection_Flush");
	}
}

static void
nats_pub_close(void *ctx)
{
	struct natspub *e = ctx;

	jsCtx_Destroy(e->js);
	natsConnection_Destroy(e->nc);
	free(e);
}

static void
nats_on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
    void *closure)
{
	got_event(closure, natsMsg_GetData(msg),
	    (size_t)natsMsg_GetDataLength(msg));
	natsMsg_Destroy(msg);
}

static void *
nats_sub(void *arg)
{
	struct sub *s = arg;
	jsSubOptions so;
	jsErrCode jerr = 0;

	s->nc = nats_connect();
	if (sys == S_JS) {
		s->js = js_ctx(s->nc, 0);
		jsSubOptions_Init(&so);
		so.Stream = "BENCH";
		so.Ordered = true;
		if (js_Subscribe(&s->ns, s->js, "bench.tick", nats_on_msg, s,
		        NULL, &so, &jerr) != NATS_OK)
			die("js_Subscribe: %s (%d)", nats_GetLastError(NULL),
			    (int)jerr);
	} else {
		nats_check(natsConnection_Subscribe(&s->ns, s->nc,
		               "bench.tick", nats_on_msg, s),
		    "natsConnection_Subscribe");
	}
	/* Never drop for the client's sake: we want every event. */
	nats_check(natsSubscription_SetPendingLimits(s->ns, -1, -1),
	    "SetPendingLimits");
	nats_check(natsConnection_Flush(s->nc), "natsConnection_Flush");
	sub_ready();
	wait_done(s);
	natsSubscription_Unsubscribe(s->ns);
	natsSubscription_Destroy(s->ns);
	jsCtx_Destroy(s->js);
	natsConnection_Destroy(s->nc);
	return NULL;
}

/*** mosquitto ***/

static char mq_host[256];
static int mq_port;

struct mqpub {
	struct mosquitto *m;
	int qos;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t acked; /* under mu */
	uint64_t sent;
};

static struct mosquitto *
mq_new(void *obj)
{
	struct mosquitto *m = mosquitto_new(NULL, true, obj);
	int rc;

	if (m == NULL)
		die("mosquitto_new failed");
	mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_max_inflight_messages_set(m, WINDOW);
	if ((rc = mosquitto_connect(m, mq_host, mq_port, 60)) !=
	    MOSQ_ERR_SUCCESS)
		die("mosquitto_connect %s:%d: %s", mq_host, mq_port,
		    mosquitto_strerror(rc));
	return m;
}

static void
mq_on_publish(struct mosquitto *m, void *obj, int mid)
{
	struct mqpub *e = obj;

	pthread_mutex_lock(&e->mu);
	e->acked++;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

/* Waits until at most `most` PUBACKs are pending. */
static void
mq_wait_acks(struct mqpub *e, uint64_t most)
{
	struct timespec ts;

	pthread_mutex_lock(&e->mu);
	while (e->sent - e->acked > most) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += STALL_S;
		if (pthread_cond_timedwait(&e->cv, &e->mu, &ts) == ETIMEDOUT)
			die("mosquitto: no PUBACK for %d s", STALL_S);
	}
	pthread_mutex_unlock(&e->mu);
}

static void *
mq_pub_open(void)
{
	struct mqpub *e = calloc(1, sizeof *e);
	int rc;

	e->qos = sys == S_MQTT1;
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	e->m = mq_new(e);
	mosquitto_publish_callback_set(e->m, mq_on_publish);
	if ((rc = mosquitto_loop_start(e->m)) != MOSQ_ERR_SUCCESS)
		die("mosquitto_loop_start: %s", mosquitto_strerror(rc));
	return e;
}

static void
mq_send(void *ctx, const char *p, size_t len)
{
	struct mqpub *e = ctx;
	int rc;

	/* QoS 1: at most WINDOW PUBACKs pending, as evbus's window (and,
	 * like evbus's client, wait for half of it when it is full). */
	if (e->qos) {
		pthread_mutex_lock(&e->mu);
		rc = e->sent - e->acked >= WINDOW;
		pthread_mutex_unlock(&e->mu);
		if (rc)
			mq_wait_acks(e, WINDOW / 2);
	}
	rc = mosquitto_publish(e->m, NULL, "bench/tick", (int)len, p, e->qos,
	    false);
	if (rc != MOSQ_ERR_SUCCESS)
		die("mosquitto_publish: %s", mosquitto_strerror(rc));
	e->sent++;
}

static void
mq_end(void *ctx)
{
	struct mqpub *e = ctx;

	if (e->qos)
		mq_wait_acks(e, 0);
}

static void
mq_pub_close(void *ctx)
{
	struct mqpub *e = ctx;

	mosquitto_disconnect(e->m);
	mosquitto_loop_stop(e->m, false);
	mosquitto_destroy(e->m);
	free(e);
}

static void
mq_on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	got_event(obj, msg->payload, (size_t)msg->payloadlen);
}

static void
mq_on_subscribe(struct mosquitto *m, void *obj, int mid, int n,
    const int *granted)
{
	struct sub *s = obj;

	if (n != 1 || granted[0] != (sys == S_MQTT1))
		die("mosquitto subscriber %d: granted QoS %d", s->id,
		    n > 0 ? granted[0] : -1);
	atomic_store(&s->subscribed, 1);
}

static void *
mq_sub(void *arg)
{
	struct sub *s = arg;
	int rc;

	s->mq = mq_new(s);
	mosquitto_message_callback_set(s->mq, mq_on_message);
	mosquitto_subscribe_callback_set(s->mq, mq_on_subscribe);
	if ((rc = mosquitto_subscribe(s->mq, NULL, "bench/tick",
	         sys == S_MQTT1)) != MOSQ_ERR_SUCCESS)
		die("mosquitto_subscribe: %s", mosquitto_strerror(rc));
	while (!atomic_load(&s->subscribed))
		if ((rc = mosquitto_loop(s->mq, 100, 1)) != MOSQ_ERR_SUCCESS)
			die("mosquitto subscriber %d: %s", s->id,
			    mosquitto_strerror(rc));
	sub_ready();
	while (s->got < n_events)
		if ((rc = mosquitto_loop(s->mq, 100, 1)) != MOSQ_ERR_SUCCESS)
			die("mosquitto subscriber %d after %" PRIu64
			    " events: %s",
			    s->id, s->got, mosquitto_strerror(rc));
	mosquitto_disconnect(s->mq);
	mosquitto_destroy(s->mq);
	return NULL;
}

/*** no broker: the floor ***/

/* One socketpair per subscriber; the publisher writes every event to
 * each of them itself (lines, 64 KiB at a time, or at once on kick). */
static int dfd[64][2];

struct dpub {
	char buf[65536 + 1024];
	size_t len;
};

static void
direct_setup(void)
{
	for (int k = 0; k < nsubs; k++)
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, dfd[k]) <
		    0)
			die("socketpair: %s", strerror(errno));
}

static void *
direct_pub_open(void)
{
	return calloc(1, sizeof(struct dpub));
}

static void
direct_kick(void *ctx)
{
	struct dpub *e = ctx;
	size_t off;
	ssize_t w;

	for (int k = 0; k < nsubs; k++)
		for (off = 0; off < e->len; off += (size_t)w)
			if ((w = write(dfd[k][0], e->buf + off, e->len - off)) <
			    0) {
				if (errno != EINTR)
					die("write: %s", strerror(errno));
				w = 0;
			}
	e->len = 0;
}

static void
direct_send(void *ctx, const char *p, size_t len)
{
	struct dpub *e = ctx;

	memcpy(e->buf + e->len, p, len);
	e->buf[e->len + len] = '\n';
	e->len += len + 1;
	if (e->len >= 65536)
		direct_kick(e);
}

static void
direct_end(void *ctx)
{
	direct_kick(ctx);
	for (int k = 0; k < nsubs; k++)
		shutdown(dfd[k][0], SHUT_WR);
}

static void
direct_pub_close(void *ctx)
{
	free(ctx);
}

static void *
direct_sub(void *arg)
{
	struct sub *s = arg;
	size_t cap = 256 * 1024, have = 0, off;
	char *buf = malloc(cap), *nl;
	ssize_t r;

	sub_ready();
	while (s->got < n_events) {
		r = read(dfd[s->id][1], buf + have, cap - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("subscriber %d: read: %s after %" PRIu64, s->id,
			    r < 0 ? strerror(errno) : "end", s->got);
		have += (size_t)r;
		for (off = 0; (nl = memchr(buf + off, '\n', have - off)) != NULL;
		     off = (size_t)(nl - buf) + 1)
			got_event(s, buf + off, (size_t)(nl - (buf + off)));
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	free(buf);
	return NULL;
}

/*** the publisher ***/

struct ops {
	void *(*open)(void);
	void (*send)(void *, const char *, size_t);
	void (*kick)(void *); /* lat: after each batch of due events */
	void (*end)(void *); /* after the last event */
	void (*close)(void *);
	void *(*sub)(void *);
};

static void
nothing(void *ctx)
{
}

static const struct ops ops_evbus = {evbus_pub_open, evbus_send, evbus_push,
    evbus_flush, evbus_pub_close, evbus_sub};
static const struct ops ops_nats = {
    nats_pub_open, nats_send, nothing, nats_end, nats_pub_close, nats_sub};
static const struct ops ops_mq = {
    mq_pub_open, mq_send, nothing, mq_end, mq_pub_close, mq_sub};
static const struct ops ops_direct = {direct_pub_open, direct_send,
    direct_kick, direct_end, direct_pub_close, direct_sub};
static const struct ops *ops;

static void *
publisher(void *arg)
{
	void *ctx = arg;
	char ev[512];
	uint64_t i;
	int64_t due, now, stamp, period = (int64_t)(1e9 / (rate > 0 ? rate : 1));
	struct timespec ts;

	t_start = mono_ns();
	if (!lat_mode) {
		for (i = 0; i < n_events; i++) {
			make_event(ev, i, 0);
			ops->send(ctx, ev, ev_len);
			atomic_store_explicit(&pub_sent, i + 1,
			    memory_order_relaxed);
		}
		ops->end(ctx);
		t_pub_end = mono_ns();
		atomic_store(&pub_done, 1);
		return NULL;
	}
	for (i = 0; i < n_events;) {
		due = t_start + (int64_t)i * period;
		now = mono_ns();
		if (now < due) {
			ts.tv_sec = due / 1000000000;
			ts.tv_nsec = due % 1000000000;
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
			           &ts, NULL) == EINTR)
				;
			now = mono_ns();
			stamp = now; /* it was on time: the wake-up */
		} else {
			stamp = due; /* late: it waited since it was due */
		}
		/* This event and every other one due by now. */
		do {
			make_event(ev, i, stamp);
			ops->send(ctx, ev, ev_len);
			i++;
			stamp = due = t_start + (int64_t)i * period;
		} while (i < n_events && due <= now);
		ops->kick(ctx);
		atomic_store_explicit(&pub_sent, i, memory_order_relaxed);
	}
	ops->end(ctx);
	t_pub_end = mono_ns();
	atomic_store(&pub_done, 1);
	return NULL;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: busbench thru|lat "
	    "direct|evbus|evbus-noack|nats|js|mqtt0|mqtt1 "
	    "ADDR K N [RATE]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	pthread_t pt;
	void *ctx;
	struct rusage ru;
	uint64_t last = 0, cur, i;
	int64_t last_move, t_end = 0;
	int k, all;
	char *colon;

	if (argc < 6)
		usage();
	if (strcmp(argv[1], "lat") == 0)
		lat_mode = 1;
	else if (strcmp(argv[1], "thru") != 0)
		usage();
	if (strcmp(argv[2], "direct") == 0)
		sys = S_DIRECT, ops = &ops_direct;
	else if (strcmp(argv[2], "evbus") == 0)
		sys = S_EVBUS, ops = &ops_evbus;
	else if (strcmp(argv[2], "evbus-noack") == 0)
		sys = S_EVBUS_NOACK, ops = &ops_evbus;
	else if (strcmp(argv[2], "nats") == 0)
		sys = S_NATS, ops = &ops_nats;
	else if (strcmp(argv[2], "js") == 0)
		sys = S_JS, ops = &ops_nats;
	else if (strcmp(argv[2], "mqtt0") == 0)
		sys = S_MQTT0, ops = &ops_mq;
	else if (strcmp(argv[2], "mqtt1") == 0)
		sys = S_MQTT1, ops = &ops_mq;
	else
		usage();
	addr = argv[3];
	nsubs = atoi(argv[4]);
	n_events = strtoull(argv[5], NULL, 10);
	if (lat_mode) {
		if (argc < 7)
			usage();
		rate = atof(argv[6]);
	}
	if (nsubs < 1 || nsubs > 64 || n_events < 1 || (lat_mode && rate <= 0))
		usage();
	if (ops == &ops_mq) {
		snprintf(mq_host, sizeof mq_host, "%s", addr);
		if ((colon = strrchr(mq_host, ':')) == NULL)
			usage();
		*colon = '\0';
		mq_port = atoi(colon + 1);
		mosquitto_lib_init();
	}
	/* Sleeps end when asked, not up to 50 us later. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	make_template();
	if (sys == S_JS)
		js_make_stream();
	if (sys == S_DIRECT)
		direct_setup();

	subs = calloc((size_t)(unsigned)nsubs, sizeof *subs);
	for (k = 0; k < nsubs; k++) {
		subs[k].id = k;
		if (lat_mode &&
		    (subs[k].lat = malloc(n_events * sizeof(int64_t))) == NULL)
			die("out of memory");
		if (pthread_create(&subs[k].th, NULL, ops->sub, &subs[k]) != 0)
			die("pthread_create");
	}
	last_move = mono_ns();
	while (atomic_load(&subs_ready) < nsubs) {
		if (mono_ns() - last_move > STALL_S * INT64_C(1000000000))
			die("subscribers not ready after %d s", STALL_S);
		usleep(1000);
	}
	ctx = ops->open();
	if (pthread_create(&pt, NULL, publisher, ctx) != 0)
		die("pthread_create");

	/* Watch: everything must move. */
	last_move = mono_ns();
	for (;;) {
		usleep(5000);
		cur = atomic_load_explicit(&pub_sent, memory_order_relaxed);
		all = 1;
		for (k = 0; k < nsubs; k++) {
			cur += atomic_load_explicit(&subs[k].n,
			    memory_order_relaxed);
			all &= atomic_load(&subs[k].done);
		}
		if (all && atomic_load(&pub_done))
			break;
		if (cur != last) {
			last = cur;
			last_move = mono_ns();
		} else if (mono_ns() - last_move >
		    STALL_S * INT64_C(1000000000)) {
			fprintf(stderr,
			    "busbench: %s: nothing moved for %d s: published "
			    "%" PRIu64 " of %" PRIu64 "%s; received:",
			    argv[2], STALL_S, atomic_load(&pub_sent), n_events,
			    atomic_load(&pub_done) ? " (done)" : "");
			for (k = 0; k < nsubs; k++)
				fprintf(stderr, " %" PRIu64,
				    atomic_load(&subs[k].n));
			fprintf(stderr, "\n");
			_exit(1);
		}
	}
	pthread_join(pt, NULL);
	for (k = 0; k < nsubs; k++) {
		pthread_join(subs[k].th, NULL);
		if (subs[k].got != n_events)
			die("subscriber %d got %" PRIu64 " of %" PRIu64, k,
			    subs[k].got, n_events);
		if (subs[k].t_end > t_end)
			t_end = subs[k].t_end;
	}
	ops->close(ctx);
	getrusage(RUSAGE_SELF, &ru);

	double secs = (double)(t_end - t_start) / 1e9;
	printf("secs=%.3f pub_secs=%.3f eps=%.0f cpu=%.2f", secs,
	    (double)(t_pub_end - t_start) / 1e9, (double)n_events / secs,
	    (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	        (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	if (lat_mode) {
		uint64_t m = n_events * (uint64_t)nsubs;
		int64_t *all_lat = malloc(m * sizeof *all_lat);

		if (all_lat == NULL)
			die("out of memory");
		for (k = 0; k < nsubs; k++)
			memcpy(all_lat + (uint64_t)k * n_events, subs[k].lat,
			    n_events * sizeof(int64_t));
		qsort(all_lat, m, sizeof *all_lat, cmp_i64);
		i = m - 1;
		printf(" p50=%.1f p99=%.1f p999=%.1f max=%.1f rate=%.0f",
		    all_lat[m / 2] / 1e3, all_lat[m * 99 / 100] / 1e3,
		    all_lat[m * 999 / 1000] / 1e3, all_lat[i] / 1e3,
		    (double)n_events /
		        ((double)(t_pub_end - t_start) / 1e9));
		free(all_lat);
	}
	printf(" bytes=%zu\n", ev_len);
	if (ops == &ops_mq)
		mosquitto_lib_cleanup();
	return 0;
}
