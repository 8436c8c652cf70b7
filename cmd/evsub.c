/*
 * evsub - subscribe to topics on the bus and write the events to stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evkit/bus.h"
#include "evkit/time.h"
#include "evkit/topic.h"
#include "cli.h"

static const char usage_text[] =
    "usage: evsub [-b URL] [--from WHERE] [-n COUNT] [--timeout DUR]\n"
    "             [--no-follow] [options] [PATTERN ...]\n"
    "\n"
    "Write the events on the bus whose topic (type) matches a PATTERN\n"
    "(order.*, order.>; none: every event) to standard output.\n"
    "\n"
    "  -b, --bus URL           the bus (default: $EVBUS_URL, else\n"
    "                          $XDG_RUNTIME_DIR/evbus/evbus.sock, else\n"
    "                          /tmp/evbus-UID/evbus.sock)\n"
    "      --from WHERE        new (default), all, a sequence number, an\n"
    "                          RFC 3339 time or -DURATION (-10m)\n"
    "  -n, --count COUNT       stop after COUNT events\n"
    "      --timeout DUR       stop when DUR passes without an event\n"
    "      --no-follow         stop after the last event that existed when\n"
    "                          evsub started\n"
    "      --group NAME        share the events with the other members of\n"
    "                          the consumer group NAME\n"
    "      --line-buffered     flush after every event\n"
    "      --max-line N        longest event in bytes (default 1M; as the\n"
    "                          bus's --max-line)\n"
    "  -h, --help              show this help and exit\n"
    "  -V, --version           show the version and exit\n"
    "\n"
    "Exit status: 0 events were written (or the subscription ended), 1 the\n"
    "bus dropped events before they were read (a gap) or --timeout passed\n"
    "without any event, 2 error.\n";

enum { O_FROM = 256, O_TIMEOUT, O_NO_FOLLOW, O_GROUP, O_LINEBUF, O_MAX_LINE };

static const struct option longopts[] = {
    {"bus", required_argument, NULL, 'b'},
    {"from", required_argument, NULL, O_FROM},
    {"count", required_argument, NULL, 'n'},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"no-follow", no_argument, NULL, O_NO_FOLLOW},
    {"group", required_argument, NULL, O_GROUP},
    {"line-buffered", no_argument, NULL, O_LINEBUF},
    {"max-line", required_argument, NULL, O_MAX_LINE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* The --from value, checked here so that a mistake is a usage error. */
static void
check_from(const char *s)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_time t;
	int64_t ns;
	const char *p;

	if (strcmp(s, "new") == 0 || strcmp(s, "all") == 0)
		return;
	if (s[0] == '-') {
		if (evk_duration_parse(s + 1, strlen(s + 1), &ns, &err) < 0)
			cli_usage_error("--from %s: %s", s, err.msg);
		return;
	}
	for (p = s; *p >= '0' && *p <= '9'; p++)
		;
	if (p != s && *p == '\0' && p - s <= 19)
		return;
	if (evk_time_parse(s, strlen(s), &t, &err) < 0)
		cli_usage_error(
		    "--from %s: not new, all, a sequence number, an "
		    "RFC 3339 time or -DURATION",
		    s);
}

/* Flushes the output; in a group, the events written are then consumed:
 * acknowledged, so that the bus never sends them to anyone again. */
static void
consume(struct evk_bus *b, struct evk_sink *out, int group, long long n,
    long long *acked, int status)
{
	struct evk_err err = EVK_ERR_ZERO;

	if (evk_sink_flush(out, &err) < 0)
		cli_output_failed(err.code, &err, status);
	if (!group || n == *acked)
		return;
	if (evk_bus_ack(b, (uint64_t)n, &err) < 0)
		cli_die(CLI_FATAL, "%s", err.msg);
	*acked = n;
}

int
main(int argc, char **argv)
{
	struct evk_bus_sub_opts so = {0};
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_bus *b = NULL;
	struct evk_sink *out;
	struct evk_line ev;
	const char *url = NULL;
	long long count = -1, written = 0, acked = 0;
	int64_t timeout_ns = -1;
	uint64_t gap;
	int c, i, rc, linebuf = 0, wait_ms, status;

	cli_init("evsub");
	argv[0] = (char *)cli_prog;
	while ((c = getopt_long(argc, argv, "b:n:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': url = optarg; break;
		case O_FROM:
			check_from(optarg);
			so.from = optarg;
			break;
		case 'n':
			count = cli_number("--count", optarg, 1, LLONG_MAX, 0);
			break;
		case O_TIMEOUT:
			timeout_ns = cli_duration("--timeout", optarg);
			break;
		case O_NO_FOLLOW: so.no_follow = 1; break;
		case O_GROUP: so.group = optarg; break;
		case O_LINEBUF: linebuf = 1; break;
		case O_MAX_LINE: so.max_line = cli_max_line(optarg); break;
		case 'h': fputs(usage_text, stdout); return CLI_OK;
		case 'V': printf("evsub %s\n", EVK_VERSION); return CLI_OK;
		default:
			fprintf(stderr,
			    "Try 'evsub --help' for more information.\n");
			return CLI_FATAL;
		}
	}
	argc -= optind;
	argv += optind;
	for (i = 0; i < argc; i++) {
		if (evk_topic_check(argv[i], strlen(argv[i]), 1, &err) < 0)
			cli_usage_error("%s: %s", argv[i], err.msg);
		/* The protocol carries patterns without escapes. */
		if (strpbrk(argv[i], "\"\\") != NULL)
			cli_usage_error("%s: a topic pattern has no '\"' or "
			                "'\\'",
			    argv[i]);
	}
	so.topics = (const char *const *)argv;
	so.ntopics = (size_t)argc;
	so.wait.stop = &cli_stop;
	so.wait.sigmask = &cli_waitmask;
	so.wait.out_fd = STDOUT_FILENO;

	if ((out = evk_sink_fd(STDOUT_FILENO,
	         linebuf ? EVK_SINK_LINEBUF : EVK_SINK_AUTO)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	if ((rc = evk_bus_connect_sub(url, &so, &b, &err)) < 0) {
		if (rc == EVK_EINTR)
			cli_reraise();
		cli_die(CLI_FATAL, "%s", err.msg);
	}
	status = CLI_OK;
	while (count < 0 || written < count) {
		/* Output waits in the buffer only while more is ready. */
		rc = evk_bus_next(b, 0, &ev, &gap, &err);
		if (rc == EVK_BUS_TIMEOUT) {
			consume(b, out, so.group != NULL, written, &acked,
			    status);
			wait_ms = timeout_ns < 0 ? -1
			    : timeout_ns / 1000000 > INT_MAX
			    ? INT_MAX
			    : (int)(timeout_ns / 1000000);
			rc = evk_bus_next(b, wait_ms, &ev, &gap, &err);
		}
		if (rc == 1) {
			if (evk_sink_put(out, ev.p, ev.len, &err) < 0)
				cli_output_failed(err.code, &err, status);
			written++;
			continue;
		}
		if (rc == EVK_BUS_GAP) {
			cli_warn("the bus dropped %llu events before they were "
			         "read",
			    (unsigned long long)gap);
			status = CLI_REJECTED;
			continue;
		}
		if (rc == EVK_BUS_TIMEOUT) {
			if (written == 0)
				status = CLI_REJECTED;
			break;
		}
		if (rc == 0 || rc == EVK_EINTR || rc == EVK_EPIPE)
			break;
		evk_sink_flush(out, NULL); /* what came before the error */
		cli_die(CLI_FATAL, "%s", err.msg);
	}
	consume(b, out, so.group != NULL, written, &acked, status);
	if (evk_sink_close(out, &err) < 0)
		cli_output_failed(err.code, &err, status);
	evk_bus_close(b);
	cli_reraise();
	return status;
}
