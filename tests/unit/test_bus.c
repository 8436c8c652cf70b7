/*
 * tests/unit/test_bus.c - the bus protocol: hello lines, control lines
 * and bus URLs; the publishing client against a scripted bus.
 */
#define _GNU_SOURCE /* mkdtemp */
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "evkit/bus.h"
#include "t.h"

static int
hello(const char *s, struct evk_bus_hello *h, struct evk_err *e)
{
	*e = (struct evk_err)EVK_ERR_ZERO;
	return evk_bus_hello_parse(s, strlen(s), 1000 * 1000000000LL, h, e);
}

TEST(hello_pub)
{
	struct evk_bus_hello h;
	struct evk_err e;

	CHECK_INT(hello("{\"op\":\"pub\"}", &h, &e), 0);
	CHECK_INT(h.op, EVK_BUS_PUB);
	CHECK_INT(h.ack, 1);
	CHECK_INT(hello(" {\"ack\":false, \"op\":\"pub\"} ", &h, &e), 0);
	CHECK_INT(h.ack, 0);
}

TEST(hello_sub)
{
	struct evk_bus_hello h;
	struct evk_err e;

	CHECK_INT(hello("{\"op\":\"sub\"}", &h, &e), 0);
	CHECK_INT(h.op, EVK_BUS_SUB);
	CHECK_INT(h.ntopics, 0);
	CHECK_INT(h.from, EVK_FROM_NEW);
	CHECK_INT(h.follow, 1);
	CHECK(h.group.p == NULL);
	CHECK_INT(h.window, EVK_BUS_WINDOW);
	CHECK_INT(hello("{\"op\":\"sub\",\"topics\":[\"order.*\",\">\"],"
	                "\"from\":\"all\",\"follow\":false,\"group\":\"w-1\","
	                "\"window\":10}",
	              &h, &e),
	    0);
	CHECK_INT(h.ntopics, 2);
	CHECK_MEM(h.topics[0].p, h.topics[0].len, "order.*", 7);
	CHECK_MEM(h.topics[1].p, h.topics[1].len, ">", 1);
	CHECK_INT(h.from, EVK_FROM_ALL);
	CHECK_INT(h.follow, 0);
	CHECK_MEM(h.group.p, h.group.len, "w-1", 3);
	CHECK_INT(h.window, 10);
}

TEST(hello_from)
{
	struct evk_bus_hello h;
	struct evk_err e;

	CHECK_INT(hello("{\"op\":\"sub\",\"from\":42}", &h, &e), 0);
	CHECK_INT(h.from, EVK_FROM_SEQ);
	CHECK_INT(h.seq, 42);
	CHECK_INT(hello("{\"op\":\"sub\",\"from\":\"17\"}", &h, &e), 0);
	CHECK_INT(h.from, EVK_FROM_SEQ);
	CHECK_INT(h.seq, 17);
	CHECK_INT(hello("{\"op\":\"sub\",\"from\":\"-10s\"}", &h, &e), 0);
	CHECK_INT(h.from, EVK_FROM_TIME);
	CHECK_INT(h.time_ns, 990 * 1000000000LL);
	CHECK_INT(hello("{\"op\":\"sub\",\"from\":\"1970-01-01T00:01:00.5Z\"}",
	              &h, &e),
	    0);
	CHECK_INT(h.from, EVK_FROM_TIME);
	CHECK_INT(h.time_ns, 60500000000LL);
	CHECK_INT(hello("{\"op\":\"sub\",\"from\":\"yesterday\"}", &h, &e),
	    EVK_EINVAL);
	CHECK(strstr(e.msg, "\"from\"") != NULL);
	CHECK_INT(hello("{\"op\":\"sub\",\"from\":-1}", &h, &e), EVK_EINVAL);
	CHECK_INT(hello("{\"op\":\"sub\",\"from\":1.5}", &h, &e), EVK_EINVAL);
	CHECK_INT(hello("{\"op\":\"sub\",\"from\":18446744073709551616}", &h,
	              &e),
	    EVK_EINVAL);
}

TEST(hello_errors)
{
	static const struct {
		const char *line, *msg;
	} bad[] = {
	    {"", "hello: "},
	    {"[\"op\"]", "hello: not a JSON object"},
	    {"{\"op\":\"pub\"", "hello: "},
	    {"{}", "hello: no \"op\""},
	    {"{\"op\":\"get\"}", "hello: \"op\" is"},
	    {"{\"op\":\"pub\",\"op\":\"sub\"}", "hello: duplicate key"},
	    {"{\"op\":\"pub\",\"ack\":1}", "hello: \"ack\""},
	    {"{\"op\":\"sub\",\"follow\":\"no\"}", "hello: \"follow\""},
	    {"{\"op\":\"sub\",\"topics\":\"a\"}", "hello: \"topics\""},
	    {"{\"op\":\"sub\",\"topics\":[\"a..b\"]}", "hello: bad topic"},
	    {"{\"op\":\"sub\",\"topics\":[\"a.>.b\"]}", "hello: bad topic"},
	    {"{\"op\":\"sub\",\"topics\":[\"\\u0061\"]}", "hello: a topic"},
	    {"{\"op\":\"sub\",\"topics\":[1]}", "hello: a topic"},
	    {"{\"op\":\"sub\",\"group\":\"a/b\"}", "hello: \"group\""},
	    {"{\"op\":\"sub\",\"group\":\"..\"}", "hello: \"group\""},
	    {"{\"op\":\"sub\",\"group\":\"\"}", "hello: \"group\""},
	    {"{\"op\":\"sub\",\"window\":0}", "hello: \"window\""},
	    {"{\"op\":\"sub\",\"color\":1}", "hello: unknown member \"color\""},
	};
	struct evk_bus_hello h;
	struct evk_err e;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(hello(bad[i].line, &h, &e) < 0);
		if (strncmp(e.msg, bad[i].msg, strlen(bad[i].msg)) != 0)
			printf("#   %s -> %s\n", bad[i].line, e.msg);
		CHECK(strncmp(e.msg, bad[i].msg, strlen(bad[i].msg)) == 0);
	}
}

TEST(hello_too_many_topics)
{
	struct evk_bus_hello h;
	struct evk_err e;
	char line[2048];
	size_t n = 0;
	int i;

	n += (size_t)snprintf(line + n, sizeof line - n,
	    "{\"op\":\"sub\",\"topics\":[");
	for (i = 0; i <= EVK_BUS_MAX_TOPICS; i++)
		n += (size_t)snprintf(line + n, sizeof line - n, "%s\"t%d\"",
		    i ? "," : "", i);
	snprintf(line + n, sizeof line - n, "]}");
	CHECK_INT(hello(line, &h, &e), EVK_EINVAL);
	CHECK(strstr(e.msg, "more than 64") != NULL);
}

static int
control(const char *s, struct evk_bus_control *c)
{
	return evk_bus_control_parse(s, strlen(s), c, NULL);
}

TEST(control_lines)
{
	struct evk_bus_control c;

	CHECK_INT(control("[\"ok\",{\"first\":1,\"next\":5}]", &c), 0);
	CHECK_INT(c.type, EVK_CTL_OK);
	CHECK_INT(c.n, 1);
	CHECK_INT(c.seq, 5);
	CHECK_INT(control("[\"ack\",3,99]", &c), 0);
	CHECK_INT(c.type, EVK_CTL_ACK);
	CHECK_INT(c.n, 3);
	CHECK_INT(c.seq, 99);
	CHECK_INT(control("[\"ack\",7]", &c), 0);
	CHECK_INT(c.n, 7);
	CHECK_INT(control("[\"error\",2,\"not a JSON \\\"object\\\"\"]", &c),
	    0);
	CHECK_INT(c.type, EVK_CTL_ERROR);
	CHECK_INT(c.n, 2);
	CHECK_STR(c.msg, "not a JSON \"object\"");
	CHECK_INT(control("[\"error\",null,\"bye\"]", &c), 0);
	CHECK_INT(c.n, 0);
	CHECK_INT(control("[\"gap\",12]", &c), 0);
	CHECK_INT(c.type, EVK_CTL_GAP);
	CHECK_INT(c.n, 12);
	CHECK_INT(control("[\"end\"]", &c), 0);
	CHECK_INT(c.type, EVK_CTL_END);
}

TEST(control_errors)
{
	static const char *bad[] = {"", "{}", "[]", "[1]", "[\"ok\"]",
	    "[\"ok\",{\"first\":1}]", "[\"ack\"]", "[\"ack\",-1]",
	    "[\"ack\",1,2,3]", "[\"error\",1]", "[\"error\",\"x\",\"y\"]",
	    "[\"gap\"]", "[\"gap\",1.0]", "[\"end\",1]", "[\"what\"]",
	    "[\"ack\",1", "[\"ack\",1,1,]"};
	struct evk_bus_control c;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (control(bad[i], &c) >= 0)
			printf("#   accepted %s\n", bad[i]);
		CHECK(control(bad[i], &c) < 0);
	}
}

TEST(urls)
{
	struct evk_err e = EVK_ERR_ZERO;
	char buf[256], path[108], long_path[200];

	setenv("EVBUS_URL", "unix:/run/x.sock", 1);
	CHECK_INT(evk_bus_url(NULL, buf, sizeof buf), 0);
	CHECK_STR(buf, "unix:/run/x.sock");
	CHECK_INT(evk_bus_url("unix:/a", buf, sizeof buf), 0);
	CHECK_STR(buf, "unix:/a");
	unsetenv("EVBUS_URL");
	setenv("XDG_RUNTIME_DIR", "/run/user/7", 1);
	CHECK_INT(evk_bus_url(NULL, buf, sizeof buf), 0);
	CHECK_STR(buf, "unix:/run/user/7/evbus/evbus.sock");
	unsetenv("XDG_RUNTIME_DIR");
	CHECK_INT(evk_bus_url(NULL, buf, sizeof buf), 0);
	CHECK(strncmp(buf, "unix:/tmp/evbus-", 16) == 0);
	CHECK_INT(evk_bus_url("unix:/a", buf, 5), EVK_EINVAL);

	CHECK_INT(evk_bus_url_path("unix:/tmp/b.sock", path, sizeof path, &e),
	    0);
	CHECK_STR(path, "/tmp/b.sock");
	CHECK_INT(evk_bus_url_path("/tmp/c.sock", path, sizeof path, &e), 0);
	CHECK_STR(path, "/tmp/c.sock");
	CHECK_INT(evk_bus_url_path("nats://localhost:4222", path, sizeof path,
	              &e),
	    EVK_EINVAL);
	CHECK(strstr(e.msg, "only unix:PATH") != NULL);
	CHECK_INT(evk_bus_url_path("unix:", path, sizeof path, &e), EVK_EINVAL);
	memset(long_path, 'x', sizeof long_path - 1);
	long_path[0] = '/';
	long_path[sizeof long_path - 1] = '\0';
	CHECK_INT(evk_bus_url_path(long_path, path, sizeof path, &e),
	    EVK_EINVAL);
	CHECK(strstr(e.msg, "longer than") != NULL);
}

/*
 * A bus that follows a script: it answers the hello, reads two events,
 * waits for a byte on `go`, then acknowledges the first and refuses the
 * second.
 */
struct script {
	int lfd, go;
	char got[256];
};

static size_t
count_lines(const char *p)
{
	size_t n = 0;

	for (; *p != '\0'; p++)
		n += *p == '\n';
	return n;
}

/* Reads from fd into s->got until it holds `lines` lines in all. */
static void
read_lines(int fd, struct script *s, size_t lines)
{
	size_t len = strlen(s->got);
	ssize_t n;

	while (count_lines(s->got) < lines && len < sizeof s->got - 1 &&
	    (n = read(fd, s->got + len, sizeof s->got - 1 - len)) > 0) {
		len += (size_t)n;
		s->got[len] = '\0';
	}
}

static void *
scripted_bus(void *arg)
{
	static const char ok[] = "[\"ok\",{\"first\":1,\"next\":1}]\n",
	                  acks[] = "[\"ack\",1,1]\n[\"error\",2,\"nope\"]\n";
	struct script *s = arg;
	int fd = accept(s->lfd, NULL, NULL);
	char c;

	read_lines(fd, s, 1);
	if (write(fd, ok, strlen(ok)) < 0)
		return NULL;
	read_lines(fd, s, 3);
	if (read(s->go, &c, 1) == 1)
		(void)!write(fd, acks, strlen(acks));
	read_lines(fd, s, 4); /* until the client closes */
	close(fd);
	return NULL;
}

static char rejected[64];

static void
on_reject(void *ctx, const char *p, size_t len, const char *msg)
{
	snprintf(rejected, sizeof rejected, "%.*s: %s", (int)len, p, msg);
}

TEST(publish_push_takes_acks_without_waiting)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct evk_bus_pub_opts o = {0};
	struct evk_err err = EVK_ERR_ZERO;
	struct script s = {0};
	struct evk_bus *b = NULL;
	char dir[] = "/tmp/evk-test-bus-XXXXXX", url[128];
	struct pollfd pf;
	pthread_t t;
	int go[2];

	CHECK(mkdtemp(dir) != NULL);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s/s", dir);
	snprintf(url, sizeof url, "unix:%s", sa.sun_path);
	s.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(s.lfd, (struct sockaddr *)&sa, sizeof sa) == 0);
	CHECK(listen(s.lfd, 1) == 0);
	CHECK(pipe(go) == 0);
	s.go = go[0];
	CHECK(pthread_create(&t, NULL, scripted_bus, &s) == 0);

	o.on_reject = on_reject;
	CHECK_INT(evk_bus_connect_pub(url, &o, &b, &err), 0);
	CHECK_INT(evk_bus_publish(b, "{\"a\":1}", 7, &err), 0);
	CHECK_INT(evk_bus_publish(b, "{\"b\":2}", 7, &err), 0);
	/* Sent, nothing acknowledged yet, and push does not wait. */
	CHECK_INT(evk_bus_push(b, &err), 0);
	CHECK_INT(evk_bus_waiting(b), 2);
	CHECK(write(go[1], "", 1) == 1);
	pf = (struct pollfd){evk_bus_fd(b), POLLIN, 0};
	CHECK_INT(poll(&pf, 1, 5000), 1);
	CHECK_INT(evk_bus_push(b, &err), 0);
	CHECK_INT(evk_bus_waiting(b), 0);
	CHECK_STR(rejected, "{\"b\":2}: nope");
	CHECK_INT(evk_bus_flush(b, &err), 0);
	evk_bus_close(b);
	pthread_join(t, NULL);
	CHECK_STR(s.got, "{\"op\":\"pub\"}\n{\"a\":1}\n{\"b\":2}\n");
	close(s.lfd);
	close(go[0]);
	close(go[1]);
	unlink(sa.sun_path);
	rmdir(dir);
}

int
main(void)
{
	RUN(hello_pub);
	RUN(hello_sub);
	RUN(hello_from);
	RUN(hello_errors);
	RUN(hello_too_many_topics);
	RUN(control_lines);
	RUN(control_errors);
	RUN(urls);
	RUN(publish_push_takes_acks_without_waiting);
	return t_done();
}
