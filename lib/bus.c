/*
 * lib/bus.c - the bus protocol (hello and control lines) and the client
 * transport over a Unix stream socket.
 *
 * Both kinds of line are small and rare next to events, so they are
 * checked with the strict checker and read with the navigation helpers,
 * and strings the protocol needs (topic patterns, group names) are taken
 * as written: they may not hold escapes.
 *
 * The client writes through its own buffer with send(MSG_NOSIGNAL), so a
 * bus that goes away is an error, never a SIGPIPE.  A publisher keeps the
 * events not yet acknowledged (at most a window of them) in a queue: the
 * bus's refusals are matched to them, and after a failure they are what
 * the caller keeps as dead letters.
 */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "evkit/bus.h"
#include "evkit/json.h"
#include "evkit/time.h"
#include "evkit/topic.h"
#include "internal.h"

/* Hello and control lines are short; a longer one is an error. */
#define HELLO_MAX 65536
#define WBUF_FLUSH 65536

/*** the protocol ***/

/* Checks one line as a JSON value of the type wanted. */
static int
check_line(const char *p, size_t len, enum evk_json_type want, const char *what,
    struct evk_err *err)
{
	struct evk_json_checker *c;
	enum evk_json_type t;
	struct evk_err e = EVK_ERR_ZERO;
	int rc;

	if (len > HELLO_MAX)
		return evk__err(err, EVK_EINVAL, 0, "%s: longer than %d bytes",
		    what, HELLO_MAX);
	if ((c = evk_json_checker_new(NULL)) == NULL)
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	rc = evk_json_check(c, p, len, &t, &e);
	evk_json_checker_free(c);
	if (rc < 0)
		return evk__err(err, rc, e.column, "%s: %s%s at column %zu",
		    what, rc == EVK_EDUPKEY ? "" : "invalid JSON: ", e.msg,
		    e.column);
	if (t != want)
		return evk__err(err, EVK_EINVAL, 0, "%s: not a JSON %s", what,
		    want == EVK_JSON_OBJECT ? "object" : "array");
	return 0;
}

/* The content of a JSON string span without escapes, or p NULL. */
static struct evk_span
plain_string(struct evk_span v)
{
	struct evk_span s = EVK_SPAN_ZERO;

	if (evk_json_type_of(v) != EVK_JSON_STRING || v.len < 2 ||
	    memchr(v.p, '\\', v.len) != NULL)
		return s;
	s.p = v.p + 1;
	s.len = v.len - 2;
	return s;
}

/* A JSON number span that is a whole number in 0..UINT64_MAX. */
static int
u64_of(struct evk_span v, uint64_t *out)
{
	uint64_t n = 0;
	size_t i;

	if (v.len == 0 || v.len > 20)
		return -1;
	for (i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		if (n > (UINT64_MAX - (uint64_t)(v.p[i] - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(v.p[i] - '0');
	}
	*out = n;
	return 0;
}

static int
bool_of(struct evk_span v, int *out)
{
	switch (evk_json_type_of(v)) {
	case EVK_JSON_TRUE: *out = 1; return 0;
	case EVK_JSON_FALSE: *out = 0; return 0;
	default: return -1;
	}
}

/* "from": "new", "all", a sequence number, an RFC 3339 time or -DUR. */
static int
parse_from(struct evk_span v, int64_t now_ns, struct evk_bus_hello *h,
    struct evk_err *err)
{
	struct evk_span s = plain_string(v);
	struct evk_time t;
	int64_t d;

	if (evk_json_type_of(v) == EVK_JSON_NUMBER) {
		if (u64_of(v, &h->seq) < 0)
			goto bad;
		h->from = EVK_FROM_SEQ;
		return 0;
	}
	if (s.p == NULL)
		goto bad;
	if (s.len == 3 && !memcmp(s.p, "new", 3)) {
		h->from = EVK_FROM_NEW;
	} else if (s.len == 3 && !memcmp(s.p, "all", 3)) {
		h->from = EVK_FROM_ALL;
	} else if (s.len > 1 && s.p[0] == '-') {
		if (evk_duration_parse(s.p + 1, s.len - 1, &d, NULL) < 0)
			goto bad;
		h->from = EVK_FROM_TIME;
		h->time_ns = now_ns - d;
	} else if (u64_of(s, &h->seq) == 0) {
		h->from = EVK_FROM_SEQ;
	} else {
		if (evk_time_parse(s.p, s.len, &t, NULL) < 0)
			goto bad;
		h->from = EVK_FROM_TIME;
		h->time_ns = evk_time_ns(&t);
	}
	return 0;
bad:
	return evk__err(err, EVK_EINVAL, 0,
	    "hello: \"from\" is \"new\", \"all\", a sequence number, an RFC "
	    "3339 time or -DURATION");
}

static int
parse_topics(struct evk_span v, struct evk_bus_hello *h, struct evk_err *err)
{
	struct evk_json_iter it;
	struct evk_span k, e, s;
	struct evk_err te = EVK_ERR_ZERO;

	if (evk_json_type_of(v) != EVK_JSON_ARRAY)
		return evk__err(err, EVK_EINVAL, 0,
		    "hello: \"topics\" is an array of topic patterns");
	evk_json_iter_init(&it, v);
	while (evk_json_iter_next(&it, &k, &e)) {
		if ((s = plain_string(e)).p == NULL)
			return evk__err(err, EVK_EINVAL, 0,
			    "hello: a topic pattern is a string without "
			    "escapes");
		if (evk_topic_check(s.p, s.len, 1, &te) < 0)
			return evk__err(err, EVK_EINVAL, 0,
			    "hello: bad topic pattern \"%.*s\": %s",
			    (int)(s.len > 80 ? 80 : s.len), s.p, te.msg);
		if (h->ntopics == EVK_BUS_MAX_TOPICS)
			return evk__err(err, EVK_EINVAL, 0,
			    "hello: more than %d topic patterns",
			    EVK_BUS_MAX_TOPICS);
		h->topics[h->ntopics++] = s;
	}
	return 0;
}

/* A group name: 1 to 64 of [A-Za-z0-9._-], so that it is a file name. */
static int
group_ok(struct evk_span s)
{
	size_t i;

	if (s.len == 0 || s.len > 64 || (s.len <= 2 && s.p[0] == '.'))
		return 0;
	for (i = 0; i < s.len; i++) {
		char ch = s.p[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		        (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		        ch == '-'))
			return 0;
	}
	return 1;
}

int
evk_bus_hello_parse(const char *p, size_t len, int64_t now_ns,
    struct evk_bus_hello *h, struct evk_err *err)
{
	struct evk_json_iter it;
	struct evk_span obj = {p, len}, k, v, s;
	int rc, have_op = 0;

	memset(h, 0, sizeof *h);
	h->ack = 1;
	h->follow = 1;
	h->window = EVK_BUS_WINDOW;
	if ((rc = check_line(p, len, EVK_JSON_OBJECT, "hello", err)) < 0)
		return rc;
	evk_json_iter_init(&it, obj);
	while (evk_json_iter_next(&it, &k, &v)) {
		if (evk_json_key_eq(k, "op", 2)) {
			s = plain_string(v);
			if (s.p != NULL && s.len == 3 && !memcmp(s.p, "pub", 3))
				h->op = EVK_BUS_PUB;
			else if (s.p != NULL && s.len == 3 &&
			    !memcmp(s.p, "sub", 3))
				h->op = EVK_BUS_SUB;
			else
				return evk__err(err, EVK_EINVAL, 0,
				    "hello: \"op\" is \"pub\" or \"sub\"");
			have_op = 1;
		} else if (evk_json_key_eq(k, "ack", 3)) {
			if (bool_of(v, &h->ack) < 0)
				return evk__err(err, EVK_EINVAL, 0,
				    "hello: \"ack\" is true or false");
		} else if (evk_json_key_eq(k, "follow", 6)) {
			if (bool_of(v, &h->follow) < 0)
				return evk__err(err, EVK_EINVAL, 0,
				    "hello: \"follow\" is true or false");
		} else if (evk_json_key_eq(k, "topics", 6)) {
			if ((rc = parse_topics(v, h, err)) < 0)
				return rc;
		} else if (evk_json_key_eq(k, "from", 4)) {
			if ((rc = parse_from(v, now_ns, h, err)) < 0)
				return rc;
		} else if (evk_json_key_eq(k, "group", 5)) {
			h->group = plain_string(v);
			if (h->group.p == NULL || !group_ok(h->group))
				return evk__err(err, EVK_EINVAL, 0,
				    "hello: \"group\" is 1 to 64 letters, "
				    "digits, '.', '_' or '-'");
		} else if (evk_json_key_eq(k, "window", 6)) {
			if (u64_of(v, &h->window) < 0 || h->window == 0)
				return evk__err(err, EVK_EINVAL, 0,
				    "hello: \"window\" is a positive integer");
		} else {
			return evk__err(err, EVK_EINVAL, 0,
			    "hello: unknown member %.*s",
			    (int)(k.len > 40 ? 40 : k.len), k.p);
		}
	}
	if (!have_op)
		return evk__err(err, EVK_EINVAL, 0,
		    "hello: no \"op\" (\"pub\" or \"sub\")");
	return 0;
}

int
evk_bus_control_parse(const char *p, size_t len, struct evk_bus_control *c,
    struct evk_err *err)
{
	struct evk_json_iter it;
	struct evk_span arr = {p, len}, k, v[4], s;
	size_t n = 0;
	int rc;

	memset(c, 0, sizeof *c);
	if ((rc = check_line(p, len, EVK_JSON_ARRAY, "control line", err)) < 0)
		return rc;
	evk_json_iter_init(&it, arr);
	while (n < 4 && evk_json_iter_next(&it, &k, &v[n]))
		n++;
	if (n == 0 || (s = plain_string(v[0])).p == NULL)
		goto bad;
	if (s.len == 2 && !memcmp(s.p, "ok", 2)) {
		struct evk_span f, x;

		c->type = EVK_CTL_OK;
		if (n != 2 || evk_json_type_of(v[1]) != EVK_JSON_OBJECT ||
		    !evk_json_get(v[1], "first", 5, &f) || u64_of(f, &c->n) ||
		    !evk_json_get(v[1], "next", 4, &x) || u64_of(x, &c->seq))
			goto bad;
	} else if (s.len == 3 && !memcmp(s.p, "ack", 3)) {
		c->type = EVK_CTL_ACK;
		if (n < 2 || n > 3 || u64_of(v[1], &c->n) ||
		    (n == 3 && u64_of(v[2], &c->seq)))
			goto bad;
	} else if (s.len == 5 && !memcmp(s.p, "error", 5)) {
		struct evk_buf m = EVK_BUF_ZERO;

		c->type = EVK_CTL_ERROR;
		if (n != 3 ||
		    (evk_json_type_of(v[1]) != EVK_JSON_NULL &&
		        u64_of(v[1], &c->n)) ||
		    evk_json_type_of(v[2]) != EVK_JSON_STRING)
			goto bad;
		if (evk_json_unescape(v[2], &m) < 0)
			return evk__err(err, EVK_ENOMEM, 0, "out of memory");
		snprintf(c->msg, sizeof c->msg, "%s", m.p != NULL ? m.p : "");
		evk_buf_free(&m);
	} else if (s.len == 3 && !memcmp(s.p, "gap", 3)) {
		c->type = EVK_CTL_GAP;
		if (n != 2 || u64_of(v[1], &c->n))
			goto bad;
	} else if (s.len == 3 && !memcmp(s.p, "end", 3)) {
		c->type = EVK_CTL_END;
		if (n != 1)
			goto bad;
	} else {
		goto bad;
	}
	return 0;
bad:
	return evk__err(err, EVK_EINVAL, 0, "unknown control line %.*s",
	    (int)(len > 60 ? 60 : len), p);
}

/*** URLs ***/

int
evk_bus_url(const char *url, char *buf, size_t n)
{
	const char *e;
	int w;

	if (url == NULL || *url == '\0')
		url = getenv("EVBUS_URL");
	if (url != NULL && *url != '\0')
		w = snprintf(buf, n, "%s", url);
	else if ((e = getenv("XDG_RUNTIME_DIR")) != NULL && *e == '/')
		w = snprintf(buf, n, "unix:%s/evbus/evbus.sock", e);
	else
		w = snprintf(buf, n, "unix:/tmp/evbus-%ld/evbus.sock",
		    (long)getuid());
	return w < 0 || (size_t)w >= n ? EVK_EINVAL : 0;
}

int
evk_bus_url_path(const char *url, char *path, size_t n, struct evk_err *err)
{
	struct sockaddr_un sa;
	const char *p = url;

	if (strncmp(url, "unix:", 5) == 0)
		p = url + 5;
	else if (strstr(url, "://") != NULL || strncmp(url, "nats:", 5) == 0)
		return evk__err(err, EVK_EINVAL, 0,
		    "%s: only unix:PATH bus URLs are supported", url);
	if (*p == '\0')
		return evk__err(err, EVK_EINVAL, 0, "%s: no socket path", url);
	if (strlen(p) >= sizeof sa.sun_path || strlen(p) >= n)
		return evk__err(err, EVK_EINVAL, 0,
		    "%s: socket path longer than %zu bytes", url,
		    sizeof sa.sun_path - 1);
	strcpy(path, p);
	return 0;
}

/*** the client ***/

struct evk_bus {
	int fd;
	struct evk_bus_wait wait;
	enum evk_bus_op op;
	char url[512];
	struct evk_reader *r;
	struct evk_buf out; /* not yet sent */
	/* pub */
	int no_ack;
	size_t window;
	struct evk_buf
	    pend; /* events sent, not acknowledged, "\n" after each */
	size_t pend_head; /* offset of the oldest */
	uint64_t sent, acked;
	void (
	    *on_reject)(void *ctx, const char *p, size_t len, const char *msg);
	void *ctx;
	/* sub */
	uint64_t window_sub;
	int ended;
	char failed[256]; /* set once the connection failed */
};

static int
bus_fail(struct evk_bus *b, struct evk_err *err, int sys, const char *what)
{
	if (b->failed[0] == '\0')
		snprintf(b->failed, sizeof b->failed, "%.120s: %.60s%s%.60s",
		    b->url, what, sys ? ": " : "", sys ? strerror(sys) : "");
	return evk__err(err, EVK_EIO, 0, "%s", b->failed);
}

static int
send_out(struct evk_bus *b, struct evk_err *err)
{
	size_t off = 0;
	ssize_t w;

	while (off < b->out.len) {
		w = send(b->fd, b->out.p + off, b->out.len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return bus_fail(b, err, errno, "the bus went away");
		off += (size_t)w;
	}
	evk_buf_reset(&b->out);
	return 0;
}

/* Reads the next line: 1; 0 at the end; EVK_BUS_TIMEOUT; EVK_EINTR; or
 * EVK_EIO.  Waits in ppoll() so that a stop signal ends the wait. */
static int
read_line(struct evk_bus *b, int timeout_ms, struct evk_line *ln,
    struct evk_err *err)
{
	struct pollfd pfd[2] = {{b->fd, POLLIN, 0}, {b->wait.out_fd, 0, 0}};
	struct evk_err e = EVK_ERR_ZERO;
	struct timespec ts, *tp = NULL;
	int rc;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
		tp = &ts;
	}
	while (!evk_reader_ready(b->r)) {
		if (b->wait.stop != NULL && *b->wait.stop)
			return EVK_EINTR;
		rc =
		    ppoll(pfd, b->wait.out_fd > 0 ? 2 : 1, tp, b->wait.sigmask);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return bus_fail(b, err, errno, "poll");
		if (rc == 0)
			return EVK_BUS_TIMEOUT;
		if (pfd[1].revents != 0)
			return evk__err(err, EVK_EPIPE, 0,
			    "the reader of the output left");
		break;
	}
	rc = evk_reader_next(b->r, ln, &e);
	if (rc == EVK_EINTR)
		return rc;
	if (rc == EVK_EIO)
		return bus_fail(b, err, e.sys_errno,
		    "cannot read from the bus");
	if (rc == EVK_ETOOLONG)
		return bus_fail(b, err, 0,
		    "the bus sent a line longer than the longest allowed");
	if (rc < 0)
		return bus_fail(b, err, 0, "the bus sent a bad line");
	if (rc == 0)
		return bus_fail(b, err, 0, "the bus closed the connection");
	return rc;
}

/* Connects and says hello; reads the answer. */
static int
connect_hello(struct evk_bus *b, const char *url, const char *hello,
    size_t max_line, struct evk_err *err)
{
	struct sockaddr_un sa;
	struct evk_bus_control c;
	struct evk_line ln;
	struct evk_reader_opts ro = {0};
	int rc, sent;

	if (evk_bus_url(url, b->url, sizeof b->url) < 0)
		return evk__err(err, EVK_EINVAL, 0, "bus URL too long");
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if ((rc = evk_bus_url_path(b->url, sa.sun_path, sizeof sa.sun_path,
	         err)) < 0)
		return rc;
	if ((b->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return evk__err_sys(err, errno, "socket");
	while ((rc = connect(b->fd, (struct sockaddr *)&sa, sizeof sa)) < 0 &&
	    errno == EINTR)
		;
	if (rc < 0)
		return evk__err_sys(err, errno, "cannot connect to %s", b->url);
	/* Room for the control lines, which hold a message. */
	ro.max_line = (max_line > 0 ? max_line : EVK_MAX_LINE) + 512;
	ro.stop = b->wait.stop;
	ro.sigmask = b->wait.sigmask;
	if ((b->r = evk_reader_new(b->fd, &ro)) == NULL)
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	if (evk_buf_adds(&b->out, hello) < 0 || evk_buf_add(&b->out, "\n", 1))
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	/* A bus that refuses the client says why and closes, maybe before
	 * the hello is sent: its answer is read all the same. */
	sent = send_out(b, err);
	if ((rc = read_line(b, -1, &ln, err)) < 0)
		return sent < 0 ? sent : rc;
	if (evk_bus_control_parse(ln.p, ln.len, &c, NULL) < 0)
		return bus_fail(b, err, 0, "the bus sent a bad answer");
	if (c.type == EVK_CTL_ERROR)
		return evk__err(err, EVK_EINVAL, 0, "%s: %s", b->url, c.msg);
	if (c.type != EVK_CTL_OK)
		return bus_fail(b, err, 0, "the bus sent a bad answer");
	return 0;
}

static struct evk_bus *
bus_new(enum evk_bus_op op)
{
	struct evk_bus *b = calloc(1, sizeof *b);

	if (b != NULL) {
		b->fd = -1;
		b->op = op;
	}
	return b;
}

int
evk_bus_connect_pub(const char *url, const struct evk_bus_pub_opts *o,
    struct evk_bus **bp, struct evk_err *err)
{
	struct evk_bus *b;
	int rc;

	*bp = NULL;
	if ((b = bus_new(EVK_BUS_PUB)) == NULL)
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	if (o != NULL) {
		b->wait = o->wait;
		b->no_ack = o->no_ack;
		b->window = o->window;
		b->on_reject = o->on_reject;
		b->ctx = o->ctx;
	}
	if (b->window == 0)
		b->window = EVK_BUS_WINDOW;
	rc = connect_hello(b, url,
	    b->no_ack ? "{\"op\":\"pub\",\"ack\":false}" : "{\"op\":\"pub\"}",
	    0, err);
	if (rc < 0) {
		evk_bus_close(b);
		return rc;
	}
	*bp = b;
	return 0;
}

/* The oldest event waiting for its acknowledgement. */
static struct evk_span
pend_first(const struct evk_bus *b)
{
	struct evk_span s = EVK_SPAN_ZERO;
	const char *p = b->pend.p + b->pend_head, *nl;

	if (b->pend_head >= b->pend.len)
		return s;
	nl = memchr(p, '\n', b->pend.len - b->pend_head);
	s.p = p;
	s.len = (size_t)(nl - p);
	return s;
}

/* Acknowledgements up to the c-th event; refused ones are reported. */
static void
pend_drop(struct evk_bus *b, uint64_t c, const char *refused)
{
	struct evk_span s;

	while (b->acked < c && (s = pend_first(b)).p != NULL) {
		if (refused != NULL && b->acked + 1 == c && b->on_reject)
			b->on_reject(b->ctx, s.p, s.len, refused);
		b->pend_head += s.len + 1;
		b->acked++;
	}
	if (b->pend_head == b->pend.len) {
		evk_buf_reset(&b->pend);
		b->pend_head = 0;
	} else if (b->pend_head > (1u << 20) &&
	    b->pend_head > b->pend.len / 2) {
		memmove(b->pend.p, b->pend.p + b->pend_head,
		    b->pend.len - b->pend_head);
		b->pend.len -= b->pend_head;
		b->pend_head = 0;
	}
}

/* Reads control lines until at most `most` events wait for their
 * acknowledgement; with `nowait`, only those already come. */
static int
take_acks(struct evk_bus *b, uint64_t most, int nowait, struct evk_err *err)
{
	struct evk_bus_control c;
	struct evk_line ln;
	int rc;

	while (b->sent - b->acked > most) {
		rc = read_line(b, nowait ? 0 : -1, &ln, err);
		if (rc == EVK_BUS_TIMEOUT && nowait)
			return 0;
		if (rc < 0)
			return rc;
		if (evk_bus_control_parse(ln.p, ln.len, &c, NULL) < 0)
			return bus_fail(b, err, 0, "the bus sent a bad line");
		if (c.type == EVK_CTL_ACK && c.n <= b->sent) {
			pend_drop(b, c.n, NULL);
		} else if (c.type == EVK_CTL_ERROR && c.n > b->acked &&
		    c.n <= b->sent) {
			pend_drop(b, c.n - 1, NULL);
			pend_drop(b, c.n, c.msg);
		} else if (c.type == EVK_CTL_ERROR) {
			return evk__err(err, EVK_EIO, 0, "%s: %s", b->url,
			    c.msg);
		} else {
			return bus_fail(b, err, 0, "the bus sent a bad line");
		}
	}
	return 0;
}

int
evk_bus_publish(struct evk_bus *b, const char *p, size_t len,
    struct evk_err *err)
{
	int rc;

	if (b->failed[0] != '\0')
		return evk__err(err, EVK_EIO, 0, "%s", b->failed);
	if (evk_buf_add(&b->out, p, len) < 0 ||
	    evk_buf_add(&b->out, "\n", 1) < 0)
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	if (!b->no_ack) {
		if (evk_buf_add(&b->pend, p, len) < 0 ||
		    evk_buf_add(&b->pend, "\n", 1) < 0)
			return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	}
	b->sent++;
	if (b->out.len >= WBUF_FLUSH || b->sent - b->acked >= b->window) {
		if ((rc = send_out(b, err)) < 0)
			return rc;
		if (!b->no_ack &&
		    (rc = take_acks(b, b->window / 2, 0, err)) < 0)
			return rc;
	}
	if (b->no_ack)
		b->acked = b->sent;
	return 0;
}

/* Sends what is buffered, then takes acknowledgements: until none is
 * owed, or with `nowait` those that have come. */
static int
send_and_take(struct evk_bus *b, int nowait, struct evk_err *err)
{
	int rc;

	if (b->failed[0] != '\0')
		return evk__err(err, EVK_EIO, 0, "%s", b->failed);
	if ((rc = send_out(b, err)) < 0)
		return rc;
	return b->op == EVK_BUS_PUB && !b->no_ack ? take_acks(b, 0, nowait, err)
	                                          : 0;
}

int
evk_bus_flush(struct evk_bus *b, struct evk_err *err)
{
	return send_and_take(b, 0, err);
}

int
evk_bus_push(struct evk_bus *b, struct evk_err *err)
{
	return send_and_take(b, 1, err);
}

uint64_t
evk_bus_waiting(const struct evk_bus *b)
{
	return b->sent - b->acked;
}

int
evk_bus_fd(const struct evk_bus *b)
{
	return b->fd;
}

size_t
evk_bus_unacked(struct evk_bus *b,
    void (*fn)(void *ctx, const char *p, size_t len), void *ctx)
{
	size_t off = b->pend_head, n = 0;
	const char *nl;

	while (off < b->pend.len) {
		nl = memchr(b->pend.p + off, '\n', b->pend.len - off);
		fn(ctx, b->pend.p + off, (size_t)(nl - (b->pend.p + off)));
		off = (size_t)(nl - b->pend.p) + 1;
		n++;
	}
	return n;
}

int
evk_bus_connect_sub(const char *url, const struct evk_bus_sub_opts *o,
    struct evk_bus **bp, struct evk_err *err)
{
	struct evk_buf h = EVK_BUF_ZERO;
	struct evk_bus *b;
	size_t i;
	int rc = 0;

	*bp = NULL;
	if ((b = bus_new(EVK_BUS_SUB)) == NULL)
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	b->wait = o->wait;
	rc |= evk_buf_adds(&h, "{\"op\":\"sub\"");
	if (o->ntopics > 0) {
		rc |= evk_buf_adds(&h, ",\"topics\":[");
		for (i = 0; i < o->ntopics; i++) {
			if (i > 0)
				rc |= evk_buf_adds(&h, ",");
			rc |= evk_json_escape(&h, o->topics[i],
			    strlen(o->topics[i]));
		}
		rc |= evk_buf_adds(&h, "]");
	}
	if (o->from != NULL) {
		rc |= evk_buf_adds(&h, ",\"from\":");
		rc |= evk_json_escape(&h, o->from, strlen(o->from));
	}
	if (o->no_follow)
		rc |= evk_buf_adds(&h, ",\"follow\":false");
	if (o->group != NULL) {
		rc |= evk_buf_adds(&h, ",\"group\":");
		rc |= evk_json_escape(&h, o->group, strlen(o->group));
	}
	if (o->window > 0) {
		char w[32];

		snprintf(w, sizeof w, ",\"window\":%zu", o->window);
		rc |= evk_buf_adds(&h, w);
	}
	rc |= evk_buf_adds(&h, "}");
	if (rc != 0)
		rc = evk__err(err, EVK_ENOMEM, 0, "out of memory");
	else
		rc = connect_hello(b, url, h.p, o->max_line, err);
	evk_buf_free(&h);
	if (rc < 0) {
		evk_bus_close(b);
		return rc;
	}
	*bp = b;
	return 0;
}

int
evk_bus_next(struct evk_bus *b, int timeout_ms, struct evk_line *ev,
    uint64_t *gap, struct evk_err *err)
{
	struct evk_bus_control c;
	int rc;

	for (;;) {
		if (b->ended)
			return 0;
		if ((rc = read_line(b, timeout_ms, ev, err)) != 1)
			return rc;
		if (ev->len > 0 && ev->p[0] == '{')
			return 1;
		if (evk_bus_control_parse(ev->p, ev->len, &c, NULL) < 0)
			return bus_fail(b, err, 0, "the bus sent a bad line");
		switch (c.type) {
		case EVK_CTL_GAP: *gap = c.n; return EVK_BUS_GAP;
		case EVK_CTL_END: b->ended = 1; return 0;
		case EVK_CTL_ERROR:
			return evk__err(err, EVK_EIO, 0, "%s: %s", b->url,
			    c.msg);
		default: break; /* nothing else is for a subscriber */
		}
	}
}

int
evk_bus_ack(struct evk_bus *b, uint64_t n, struct evk_err *err)
{
	char line[48];

	snprintf(line, sizeof line, "[\"ack\",%" PRIu64 "]\n", n);
	if (evk_buf_adds(&b->out, line) < 0)
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	return send_out(b, err);
}

static int
sink_put(void *impl, const char *p, size_t len, struct evk_err *err)
{
	return evk_bus_publish(impl, p, len, err);
}

static int
sink_flush(void *impl, struct evk_err *err)
{
	return evk_bus_push(impl, err);
}

static int
sink_close(void *impl, struct evk_err *err)
{
	return evk_bus_flush(impl, err);
}

static const struct evk_sink_ops sink_ops = {sink_put, sink_flush, sink_close};

struct evk_sink *
evk_bus_sink(struct evk_bus *b)
{
	return evk_sink_new(&sink_ops, b);
}

void
evk_bus_close(struct evk_bus *b)
{
	if (b == NULL)
		return;
	if (b->fd >= 0)
		close(b->fd);
	evk_reader_free(b->r);
	evk_buf_free(&b->out);
	evk_buf_free(&b->pend);
	free(b);
}
