/*
 * evpub - make CloudEvents from arguments or from a stream of lines.
 */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evkit/bus.h"
#include "evkit/event.h"
#include "evkit/frame.h"
#include "evkit/json.h"
#include "evkit/kv.h"
#include "evkit/lineparse.h"
#include "cli.h"

enum mode { M_ARGS, M_RAW, M_JSON, M_PARSE };

static const char usage_text[] =
    "usage: evpub -t TYPE [options] [KEY=VALUE | KEY:=JSON | KEY=@FILE ...]\n"
    "       evpub [-t TYPE] [options] --raw | --json | --parse REGEX [FILE ...]\n"
    "\n"
    "Make CloudEvents 1.0 events, one JSON object per line.\n"
    "\n"
    "  -t, --type TYPE         event type (topic), e.g. order.created\n"
    "  -s, --source URI        event source (default //HOSTNAME/evpub)\n"
    "      --subject TEXT      event subject\n"
    "      --raw               each input line becomes data as a string\n"
    "      --json              each input line is JSON that becomes data; a line\n"
    "                          that is already a CloudEvent passes through\n"
    "      --parse REGEX       PCRE2 named groups of each line become data fields\n"
    "      --parse-types SPEC  auto, or NAME=TYPE,... (string number bool auto)\n"
    "      --time-field PATH   take time from this field (RFC 3339 or epoch s/ms)\n"
    "  -o, --output FILE       append events to FILE instead of stdout\n"
    "  -b, --bus URL           publish the events to the bus at URL and wait\n"
    "                          until it stored them (see evsub(1) for URL)\n"
    "      --no-ack            with -b: do not wait, fire and forget\n"
    "      --dead-letter FILE  append rejected input lines to FILE, verbatim;\n"
    "                          with -b also the events the bus refused or\n"
    "                          did not acknowledge\n"
    "      --max-line N        longest input line in bytes (default 1M)\n"
    "      --max-depth N       deepest JSON nesting (default 128)\n"
    "      --line-buffered     flush after every event\n"
    "  -h, --help              show this help and exit\n"
    "  -V, --version           show the version and exit\n"
    "\n"
    "Exit status: 0 all good, 1 some input was rejected, 2 usage or fatal error.\n";

struct pub {
	enum mode mode;
	const char *time_field;
	int has_type;
	struct evk_envelope *env;
	struct evk_idgen *ids;
	struct evk_json_checker *json;
	struct evk_lineparse *lp;
	struct evk_sink *out;
	struct evk_bus *bus; /* with -b: out publishes to it */
	int bus_down; /* it failed: events go to the dead letters */
	const char *url;
	struct cli_dead dead;
	struct evk_buf ev, data;
	size_t max_line;
	struct evk_reader *r; /* of the input being read: reachable when an
	                         output error exits (LeakSanitizer) */
	struct evk_kv *kv; /* of the arguments: reachable when a bad one
	                      exits */
	int status;
};

/* The time for an event from --time-field, read in `v`; NULL: now. */
static int
event_time(struct pub *p, struct evk_span v, struct evk_time *t,
    const struct evk_time **tp, struct evk_err *err)
{
	struct evk_err te = EVK_ERR_ZERO;

	*tp = NULL;
	if (p->time_field == NULL)
		return 0;
	if (evk_event_time_at(v, p->time_field, t, &te) < 0)
		return cli_errf(err, te.code, "--time-field %s: %s",
		    p->time_field, te.msg);
	*tp = t;
	return 0;
}

/* JSON whitespace that may surround a value on a line. */
static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static struct evk_span
trim(const char *s, size_t n)
{
	struct evk_span v;

	while (n > 0 && is_space(*s))
		s++, n--;
	while (n > 0 && is_space(s[n - 1]))
		n--;
	v.p = s;
	v.len = n;
	return v;
}

/* A JSON line: new event with the value as data, or a CloudEvent that
 * passes through with its missing attributes filled. */
static int
make_json(struct pub *p, const char *s, size_t n, struct evk_err *err)
{
	const struct evk_time *tp = NULL;
	struct evk_time t;
	struct evk_span v;
	enum evk_json_type type;
	int rc;

	if ((rc = evk_json_check(p->json, s, n, &type, err)) < 0)
		return cli_errf(err, rc, "invalid JSON: %s at column %zu",
		    err->msg, err->column);
	v = trim(s, n);
	if (type == EVK_JSON_OBJECT && evk_event_is_cloudevent(v)) {
		struct evk_span out, tv;
		/* --time-field only serves an event without its own time. */
		if (!evk_json_get(v, "time", 4, &tv) &&
		    (rc = event_time(p, v, &t, &tp, err)) < 0)
			return rc;
		if ((rc = evk_envelope_complete(p->env, p->ids, tp, v,
		         &p->ev)) < 0)
			return cli_errf(err, rc, "%s", evk_strerror(rc));
		out.p = p->ev.p;
		out.len = p->ev.len;
		if ((rc = evk_event_validate(out, err)) < 0)
			return cli_errf(err, rc, "invalid CloudEvent: %s",
			    err->msg);
		return 0;
	}
	if (!p->has_type)
		return cli_errf(err, EVK_EINVAL,
		    "not a CloudEvent, and no -t TYPE given");
	if ((rc = event_time(p, v, &t, &tp, err)) < 0)
		return rc;
	rc = evk_envelope_write(p->env, p->ids, tp, v.p, v.len, &p->ev);
	return rc < 0 ? cli_errf(err, rc, "%s", evk_strerror(rc)) : 0;
}

/* Makes the event for one input line into p->ev.  Returns 0, 1 for a
 * line to skip silently, or an error with the reason in `err`. */
static int
make(struct pub *p, const char *s, size_t n, struct evk_err *err)
{
	const struct evk_time *tp = NULL;
	struct evk_time t;
	struct evk_span d;
	size_t bad;
	int rc;

	evk_buf_reset(&p->ev);
	evk_buf_reset(&p->data);
	if (p->mode == M_JSON)
		return cli_blank(s, n) ? 1 : make_json(p, s, n, err);
	if (evk_utf8_check(s, n, &bad) < 0)
		return cli_errf(err, EVK_EUTF8, "invalid UTF-8 at column %zu",
		    bad + 1);
	if (p->mode == M_RAW) {
		if (evk_json_escape(&p->data, s, n) < 0)
			return cli_errf(err, EVK_ENOMEM, "out of memory");
	} else if ((rc = evk_lineparse_run(p->lp, s, n, &p->data, err)) < 0) {
		if (rc == EVK_ENOMATCH)
			return cli_errf(err, rc, "no match for --parse");
		return rc;
	}
	d.p = p->data.p;
	d.len = p->data.len;
	if ((rc = event_time(p, d, &t, &tp, err)) < 0)
		return rc;
	rc = evk_envelope_write(p->env, p->ids, tp, d.p, d.len, &p->ev);
	return rc < 0 ? cli_errf(err, rc, "%s", evk_strerror(rc)) : 0;
}

static void
dead_event(void *ctx, const char *ev, size_t len)
{
	cli_dead_line(ctx, ev, len, 0);
}

/* The bus refused an event (its line number counts events published). */
static void
refused(void *ctx, const char *ev, size_t len, const char *msg)
{
	struct pub *p = ctx;

	cli_warn("the bus refused an event: %s", msg);
	cli_dead_line(&p->dead, ev, len, 0);
	if (p->status == CLI_OK)
		p->status = CLI_REJECTED;
}

/*
 * Writing the output failed.  With a bus, the events it did not
 * acknowledge go to the dead letters; with --dead-letter, so do all the
 * events made from the rest of the input (nothing is lost, and the dead
 * letters can be published again), and the exit status is 2 at the end.
 * Otherwise this is the end.
 */
static void
output_failed(struct pub *p, int rc, const struct evk_err *err)
{
	size_t n;
	int kept = p->dead.f != NULL;

	if (p->bus != NULL && !p->bus_down) {
		n = evk_bus_unacked(p->bus, dead_event, &p->dead);
		if (n > 0)
			cli_warn("%zu events were not acknowledged%s", n,
			    kept ? " (kept as dead letters)" : "");
		if (kept) {
			cli_warn("%s", err->msg);
			cli_warn("the events still to come go to the dead "
			         "letters");
			p->bus_down = 1;
			p->status = CLI_FATAL;
			return;
		}
	}
	cli_dead_close(&p->dead);
	cli_output_failed(rc, err, p->status);
}

static void
emit(struct pub *p)
{
	struct evk_err err = EVK_ERR_ZERO;
	int rc;

	if (p->bus_down) {
		cli_dead_line(&p->dead, p->ev.p, p->ev.len, 0);
		return;
	}
	if ((rc = evk_sink_put(p->out, p->ev.p, p->ev.len, &err)) < 0)
		output_failed(p, rc, &err);
}

/* Waits for more input on fd while taking the bus's acknowledgements as
 * they come, so that a refused event is reported when the bus refuses
 * it, not when the next line comes. */
static void
await_input(struct pub *p, int fd)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct pollfd pf[2];
	int rc;

	while (!cli_stop && !p->bus_down && evk_bus_waiting(p->bus) > 0) {
		pf[0] = (struct pollfd){fd, POLLIN, 0};
		pf[1] = (struct pollfd){evk_bus_fd(p->bus), POLLIN, 0};
		if (ppoll(pf, 2, NULL, &cli_waitmask) < 0) {
			if (errno == EINTR)
				continue;
			return; /* the read says what is wrong */
		}
		if (pf[0].revents != 0)
			return;
		if ((rc = evk_bus_push(p->bus, &err)) < 0)
			output_failed(p, rc, &err);
	}
}

/* Reads one input (fd) to its end, publishing an event per line. */
static void
run_stream(void *ctx, int fd, const char *name)
{
	struct pub *p = ctx;
	struct evk_reader *r = p->r = cli_reader(fd, p->max_line, &p->dead);
	struct evk_line ln;
	struct evk_err err;
	int rc;

	for (;;) {
		/* On the bus, events never wait for more input. */
		if (p->bus != NULL && !p->bus_down && !evk_reader_ready(r)) {
			if ((rc = evk_sink_flush(p->out, &err)) < 0)
				output_failed(p, rc, &err);
			await_input(p, fd);
		}
		err.msg[0] = '\0';
		rc = evk_reader_next(r, &ln, &err);
		if (rc == 0 || rc == EVK_EINTR)
			break;
		if (rc == EVK_EIO) {
			cli_warn("%s: %s", cli_input_name(name), err.msg);
			p->status = CLI_FATAL;
			break;
		}
		if (rc == 1 && (rc = make(p, ln.p, ln.len, &err)) == 0) {
			emit(p);
			continue;
		}
		if (rc == 1)
			continue;
		cli_reject_line(name, &ln, &p->dead, "%s", err.msg);
		if (p->status == CLI_OK)
			p->status = CLI_REJECTED;
	}
	evk_reader_free(r);
	p->r = NULL;
}

/* The one event made from KEY=VALUE arguments. */
static void
run_args(struct pub *p, int argc, char **argv, size_t max_line,
    const struct evk_json_opts *jo)
{
	struct evk_err err = EVK_ERR_ZERO;
	const struct evk_time *tp = NULL;
	struct evk_time t;
	struct evk_span d;
	struct evk_kv *kv;
	int i, rc;

	if ((kv = p->kv = evk_kv_new(0, max_line, jo)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	for (i = 0; i < argc; i++)
		if (evk_kv_add(kv, argv[i], &err) < 0) {
			if (err.code == EVK_EJSON || err.code == EVK_EDEPTH ||
			    err.code == EVK_EDUPKEY || err.code == EVK_EUTF8)
				cli_die(CLI_FATAL, "%s: %s at column %zu",
				    argv[i], err.msg, err.column);
			cli_die(CLI_FATAL, "%s: %s", argv[i], err.msg);
		}
	if (argc > 0 && evk_kv_write(kv, &p->data) < 0)
		cli_die(CLI_FATAL, "out of memory");
	evk_kv_free(kv);
	p->kv = NULL;
	d.p = p->data.p;
	d.len = p->data.len;
	if (p->time_field != NULL &&
	    (argc == 0 || event_time(p, d, &t, &tp, &err) < 0))
		cli_die(CLI_FATAL, "%s",
		    argc ? err.msg : "--time-field needs a data field");
	rc = evk_envelope_write(p->env, p->ids, tp, argc ? d.p : NULL, d.len,
	    &p->ev);
	if (rc < 0)
		cli_die(CLI_FATAL, "%s", evk_strerror(rc));
	emit(p);
}

enum {
	O_SUBJECT = 256,
	O_RAW,
	O_JSON,
	O_PARSE,
	O_PARSE_TYPES,
	O_TIME_FIELD,
	O_NO_ACK,
	O_DEAD,
	O_MAX_LINE,
	O_MAX_DEPTH,
	O_LINEBUF,
};

static const struct option longopts[] = {
    {"type", required_argument, NULL, 't'},
    {"source", required_argument, NULL, 's'},
    {"subject", required_argument, NULL, O_SUBJECT},
    {"raw", no_argument, NULL, O_RAW},
    {"json", no_argument, NULL, O_JSON},
    {"parse", required_argument, NULL, O_PARSE},
    {"parse-types", required_argument, NULL, O_PARSE_TYPES},
    {"time-field", required_argument, NULL, O_TIME_FIELD},
    {"output", required_argument, NULL, 'o'},
    {"bus", required_argument, NULL, 'b'},
    {"no-ack", no_argument, NULL, O_NO_ACK},
    {"dead-letter", required_argument, NULL, O_DEAD},
    {"max-line", required_argument, NULL, O_MAX_LINE},
    {"max-depth", required_argument, NULL, O_MAX_DEPTH},
    {"line-buffered", no_argument, NULL, O_LINEBUF},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

int
main(int argc, char **argv)
{
	struct pub p;
	struct evk_envelope_attrs a = {0};
	struct evk_json_opts jo = {0};
	struct evk_err err = EVK_ERR_ZERO;
	const char *output = NULL, *dead = NULL, *regex = NULL, *types = NULL;
	char host[256], source[300];
	size_t max_line = EVK_MAX_LINE;
	struct evk_bus_pub_opts bo = {0};
	int c, nmodes = 0, linebuf = 0;

	cli_init("evpub");
	argv[0] = (char *)cli_prog; /* getopt's messages: "evpub: ..." */
	memset(&p, 0, sizeof p);
	while (
	    (c = getopt_long(argc, argv, "t:s:o:b:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 't': a.type = optarg; break;
		case 's': a.source = optarg; break;
		case O_SUBJECT: a.subject = optarg; break;
		case O_RAW:
			p.mode = M_RAW;
			nmodes++;
			break;
		case O_JSON:
			p.mode = M_JSON;
			nmodes++;
			break;
		case O_PARSE:
			p.mode = M_PARSE;
			regex = optarg;
			nmodes++;
			break;
		case O_PARSE_TYPES: types = optarg; break;
		case O_TIME_FIELD: p.time_field = optarg; break;
		case 'o': output = optarg; break;
		case 'b': p.url = optarg; break;
		case O_NO_ACK: bo.no_ack = 1; break;
		case O_DEAD: dead = optarg; break;
		case O_MAX_LINE: max_line = cli_max_line(optarg); break;
		case O_MAX_DEPTH: jo.max_depth = cli_max_depth(optarg); break;
		case O_LINEBUF: linebuf = 1; break;
		case 'h': fputs(usage_text, stdout); return CLI_OK;
		case 'V': printf("evpub %s\n", EVK_VERSION); return CLI_OK;
		default:
			fprintf(stderr,
			    "Try 'evpub --help' for more "
			    "information.\n");
			return CLI_FATAL;
		}
	}
	argc -= optind;
	argv += optind;

	if (nmodes > 1)
		cli_usage_error("--raw, --json and --parse exclude each other");
	if (types != NULL && p.mode != M_PARSE)
		cli_usage_error("--parse-types needs --parse");
	if (p.time_field != NULL && p.mode == M_RAW)
		cli_usage_error("--time-field needs fields: use --json or "
		                "--parse");
	if (dead != NULL && p.mode == M_ARGS && p.url == NULL)
		cli_usage_error("--dead-letter needs --raw, --json, --parse or "
		                "-b");
	if (output != NULL && p.url != NULL)
		cli_usage_error("-o and -b exclude each other");
	if (bo.no_ack && p.url == NULL)
		cli_usage_error("--no-ack needs -b");
	if (a.type == NULL && p.mode != M_JSON)
		cli_usage_error("-t TYPE is required (except with --json)");
	if (a.type != NULL &&
	    evk_topic_check(a.type, strlen(a.type), 0, &err) < 0)
		cli_usage_error("-t %s: %s", a.type, err.msg);
	if (a.source == NULL) {
		if (gethostname(host, sizeof host) < 0)
			strcpy(host, "localhost");
		host[sizeof host - 1] = '\0';
		snprintf(source, sizeof source, "//%s/evpub", host);
		a.source = source;
	}
	a.datacontenttype = p.mode == M_RAW ? "text/plain" : "application/json";
	p.has_type = a.type != NULL;

	if ((p.env = evk_envelope_new(&a, &err)) == NULL)
		cli_usage_error("%s", err.msg);
	if ((p.ids = evk_idgen_new()) == NULL ||
	    (p.json = evk_json_checker_new(&jo)) == NULL)
		cli_die(CLI_FATAL,
		    "cannot initialise (out of memory or no "
		    "randomness)");
	if (regex != NULL &&
	    (p.lp = evk_lineparse_new(regex, types, &err)) == NULL)
		cli_usage_error("--parse: %s", err.msg);

	cli_dead_open(&p.dead, dead);
	if (p.url != NULL) {
		bo.wait.stop = &cli_stop;
		bo.wait.sigmask = &cli_waitmask;
		bo.on_reject = refused;
		bo.ctx = &p;
		if (evk_bus_connect_pub(p.url, &bo, &p.bus, &err) < 0)
			cli_die(CLI_FATAL, "%s", err.msg);
		p.out = evk_bus_sink(p.bus);
	} else if (output != NULL)
		p.out = evk_sink_file(output, 0666,
		    linebuf ? EVK_SINK_LINEBUF : EVK_SINK_AUTO, &err);
	else
		p.out = evk_sink_fd(STDOUT_FILENO,
		    linebuf ? EVK_SINK_LINEBUF : EVK_SINK_AUTO);
	if (p.out == NULL)
		cli_die(CLI_FATAL, "%s", output ? err.msg : "out of memory");
	p.max_line = max_line;

	if (p.mode == M_ARGS) {
		run_args(&p, argc, argv, max_line, &jo);
	} else {
		cli_inputs(argv, argc, run_stream, &p, NULL, &p.status);
	}

	if (evk_sink_close(p.out, &err) < 0 && !p.bus_down)
		output_failed(&p, err.code, &err);
	evk_bus_close(p.bus);
	cli_dead_close(&p.dead);
	cli_reraise();
	evk_lineparse_free(p.lp);
	evk_json_checker_free(p.json);
	evk_idgen_free(p.ids);
	evk_envelope_free(p.env);
	evk_buf_free(&p.ev);
	evk_buf_free(&p.data);
	return p.status;
}
