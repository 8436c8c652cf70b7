/*
 * evroute - send each event to every destination whose rule matches.
 *
 * The rules are lib/route.c's, the destinations lib/dest.c's (buffers,
 * backpressure, reopening, retries with backoff).  Here: the options,
 * the input, the signals and the messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evkit/dest.h"
#include "evkit/frame.h"
#include "evkit/json.h"
#include "evkit/route.h"
#include "cli.h"

static const char usage_text[] =
    "usage: evroute [options] RULES [FILE ...]\n"
    "       evroute [options] -r RULE | -f RULES ... [FILE ...]\n"
    "\n"
    "Send each event (JSON line) to every destination whose rule matches,\n"
    "byte for byte.  A rule is 'MATCH -> DEST': MATCH is * (every event),\n"
    "a topic pattern (order.>) or an evfilter expression; DEST is stdout,\n"
    "stderr, null, fd:N, file:PATH (with {field} templates), unix:PATH,\n"
    "bus: or bus:URL, exec:COMMAND.\n"
    "\n"
    "  -r, --rule RULE         a rule (repeatable)\n"
    "  -f, --rules FILE        the rules in FILE, one a line (repeatable)\n"
    "      --first             only the first rule that matches counts\n"
    "      --else DEST         where the events no rule matches go\n"
    "                          (default: dropped, counted)\n"
    "      --on-full MODE      a destination's buffer is full: block\n"
    "                          (default) or drop-new\n"
    "      --buffer N          a destination's buffer, in bytes (default "
    "1M)\n"
    "      --dead-letter FILE  append rejected lines and undeliverable\n"
    "                          events to FILE, verbatim\n"
    "      --file-mode MODE    mode of the files created (default 0644)\n"
    "      --max-open N        templated files open at once (default 64)\n"
    "      --max-line N        longest line in bytes (default 1M)\n"
    "      --max-depth N       deepest JSON nesting (default 128)\n"
    "  -h, --help              show this help and exit\n"
    "  -V, --version           show the version and exit\n"
    "\n"
    "Exit status: 0 every event delivered, 1 some line rejected or event\n"
    "dropped or dead-lettered, 2 error.\n";

struct router {
	struct evk_routes *rt;
	struct evk_dests *ds;
	size_t *hits;
	struct evk_json_checker *json;
	struct cli_dead dead;
	struct evk_reader *r;
	size_t max_line;
	int first;
	unsigned long long events, rejected_lines, unmatched;
	int status; /* CLI_FATAL once fatal */
	int quit; /* stop reading: a fatal failure, stdout closed */
};

static volatile sig_atomic_t got_hup, got_usr1, wake;
static sigset_t waitmask; /* cli_waitmask with SIGHUP, SIGUSR1 too */
static sigset_t origmask; /* for the children */

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		cli_stop = sig;
	wake = 1;
}

static void
summary(struct router *R)
{
	struct evk_dest_stats st;
	size_t i;

	cli_warn("input: %llu events, %llu lines rejected", R->events,
	    R->rejected_lines);
	for (i = 0; i < evk_dests_count(R->ds); i++) {
		evk_dests_stats(R->ds, i, &st);
		cli_warn("%s: %llu written, %llu dropped, %llu dead-lettered, "
		         "%llu errors",
		    evk_routes_dest(R->rt, i)->text, st.written, st.dropped,
		    st.dead, st.errors);
	}
	if (evk_routes_else(R->rt) == NULL)
		cli_warn("unmatched: %llu dropped", R->unmatched);
}

/* --- what the destinations say ------------------------------------------- */

static void
dest_warn(void *ctx, const char *msg)
{
	cli_warn("%s", msg);
}

static void
dest_dead(void *ctx, const char *p, size_t n)
{
	struct router *R = ctx;

	cli_dead_line(&R->dead, p, n, 0);
}

static void
dest_stop(void *ctx, const struct evk_dest *d)
{
	cli_warn("stopping: no --dead-letter to keep the events of %s",
	    d->text);
}

/* The destinations' state, after each call into them. */
static void
dests_done(struct router *R, int rc)
{
	int st = evk_dests_state(R->ds);

	if (rc == EVK_ENOMEM)
		cli_die(CLI_FATAL, "out of memory");
	if (st & EVK_DESTS_STOPPED)
		R->quit = 1;
	if (st & EVK_DESTS_FAILED)
		R->status = CLI_FATAL;
}

/* --- signals, input ------------------------------------------------------ */

/* Also called by the destinations from inside their waits. */
static void
handle_signals(void *ctx)
{
	struct router *R = ctx;

	if (!wake)
		return;
	wake = 0;
	if (got_usr1) {
		got_usr1 = 0;
		summary(R);
	}
	if (got_hup) {
		got_hup = 0;
		evk_dests_reopen(R->ds);
		dests_done(R, 0);
	}
	if (cli_stop)
		wake = 1; /* the reader must see it */
}

static void reject(struct router *R, const char *name,
    const struct evk_line *ln, const char *fmt, ...) CLI_PRINTF(4, 5);

static void
reject(struct router *R, const char *name, const struct evk_line *ln,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vreject_line(name, ln, &R->dead, fmt, ap);
	va_end(ap);
	R->rejected_lines++;
}

static void
line(struct router *R, const char *name, const struct evk_line *ln)
{
	struct evk_err err;
	enum evk_json_type type;
	struct evk_span ev = {ln->p, ln->len};
	int n, i;

	err.msg[0] = '\0';
	if (cli_blank(ln->p, ln->len))
		return;
	if (evk_json_check(R->json, ln->p, ln->len, &type, &err) < 0) {
		reject(R, name, ln, "invalid JSON: %s at column %zu", err.msg,
		    err.column);
		return;
	}
	if (type != EVK_JSON_OBJECT) {
		reject(R, name, ln, "not a JSON object");
		return;
	}
	if ((n = evk_routes_match(R->rt, ev, R->first, R->hits, &err)) < 0) {
		reject(R, name, ln, "%s", err.msg);
		return;
	}
	R->events++;
	if (n == 0)
		R->unmatched++;
	for (i = 0; i < n && !R->quit; i++)
		dests_done(R,
		    evk_dests_put(R->ds, R->hits[i], ln->p,
		        ln->len + (size_t)ln->crlf, ev));
}

/* Nonzero when reading `fd` would not wait (a file, a busy pipe): the
 * buffers are then written when full, not at every read. */
static int
input_waiting(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};

	return poll(&p, 1, 0) > 0;
}

static void
run(void *ctx, int fd, const char *name)
{
	struct router *R = ctx;
	struct evk_reader_opts ro = {0};
	struct evk_line ln;
	struct evk_err err;
	int rc;

	ro.max_line = R->max_line;
	ro.stop = &wake;
	ro.sigmask = &waitmask;
	ro.on_skip = R->dead.f != NULL ? cli_dead_skip : NULL;
	ro.skip_ctx = &R->dead;
	if ((R->r = evk_reader_new(fd, &ro)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	while (!R->quit && !cli_stop) {
		/* Before waiting for input, what is pending goes out. */
		if (!evk_reader_ready(R->r) && !input_waiting(fd)) {
			dests_done(R, evk_dests_poll(R->ds, fd, -1));
			if (R->dead.f != NULL)
				fflush(R->dead.f);
		}
		err.msg[0] = '\0';
		rc = evk_reader_next(R->r, &ln, &err);
		if (rc == 1) {
			line(R, name, &ln);
		} else if (rc == EVK_ETOOLONG || rc == EVK_ENUL) {
			reject(R, name, &ln, "%s", err.msg);
		} else if (rc == EVK_EINTR) {
			handle_signals(R);
		} else {
			if (rc == EVK_EIO) {
				cli_warn("%s: %s", cli_input_name(name),
				    err.msg);
				R->status = CLI_FATAL;
			}
			break;
		}
	}
	evk_reader_free(R->r);
	R->r = NULL;
}

/* --- rules, options ------------------------------------------------------ */

static int
parse_mode(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 8);
	if (*s < '0' || *s > '7' || *end != '\0' || errno || v > 07777)
		cli_usage_error("--file-mode %s: not an octal mode", s);
	return (int)v;
}

/* "evroute: WHERE: column N: msg", the rule, a caret under column N. */
static void
rule_error(const char *where, const char *src, size_t len,
    const struct evk_err *err)
{
	cli_warn("%s:%zu: %s", where, err->column, err->msg);
	cli_caret(src, len, err->column);
}

/* Adds the rules of the file `path`; returns the number of errors. */
static int
load_rules(struct evk_routes *rt, const char *path)
{
	struct evk_buf text = EVK_BUF_ZERO;
	struct evk_err err = EVK_ERR_ZERO;
	char where[512], chunk[8192];
	const char *p, *nl, *end;
	uint64_t no = 0;
	size_t n;
	int fd, errors = 0;
	ssize_t got;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		cli_die(CLI_FATAL, "%s: %s", path, strerror(errno));
	while ((got = read(fd, chunk, sizeof chunk)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			cli_die(CLI_FATAL, "%s: %s", path, strerror(errno));
		if (text.len + (size_t)got > (1 << 20))
			cli_die(CLI_FATAL, "%s: more than 1M of rules", path);
		if (evk_buf_add(&text, chunk, (size_t)got) < 0)
			cli_die(CLI_FATAL, "out of memory");
	}
	close(fd);
	p = text.p;
	end = text.p + text.len;
	while (p != NULL && p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		no++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (evk_routes_add(rt, p, n, no, &err) < 0) {
			if (err.code == EVK_ENOMEM)
				cli_die(CLI_FATAL, "out of memory");
			snprintf(where, sizeof where, "%s:%llu", path,
			    (unsigned long long)no);
			rule_error(where, p, n, &err);
			errors++;
		}
		p = nl ? nl + 1 : NULL;
	}
	evk_buf_free(&text);
	return errors;
}

enum {
	O_FIRST = 256,
	O_ELSE,
	O_ONFULL,
	O_BUFFER,
	O_DEAD,
	O_FILEMODE,
	O_MAXOPEN,
	O_MAX_LINE,
	O_MAX_DEPTH,
};

static const struct option longopts[] = {
    {"rule", required_argument, NULL, 'r'},
    {"rules", required_argument, NULL, 'f'},
    {"first", no_argument, NULL, O_FIRST},
    {"else", required_argument, NULL, O_ELSE},
    {"on-full", required_argument, NULL, O_ONFULL},
    {"buffer", required_argument, NULL, O_BUFFER},
    {"dead-letter", required_argument, NULL, O_DEAD},
    {"file-mode", required_argument, NULL, O_FILEMODE},
    {"max-open", required_argument, NULL, O_MAXOPEN},
    {"max-line", required_argument, NULL, O_MAX_LINE},
    {"max-depth", required_argument, NULL, O_MAX_DEPTH},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

int
main(int argc, char **argv)
{
	static struct router R;
	static char **rules, **rfiles;
	struct evk_json_opts jo = {0};
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_dests_opts dopt;
	struct evk_dest_stats st;
	struct sigaction sa;
	const char *dead = NULL, *els = NULL;
	int nrules = 0, nrfiles = 0, c, i, errors = 0;
	char where[64];
	size_t k;

	evk_dests_opts_init(&dopt);
	sigprocmask(SIG_SETMASK, NULL, &origmask);
	cli_init("evroute");
	argv[0] = (char *)cli_prog;
	rules = calloc((size_t)argc + 1, sizeof *rules);
	rfiles = calloc((size_t)argc + 1, sizeof *rfiles);
	if (rules == NULL || rfiles == NULL)
		cli_die(CLI_FATAL, "out of memory");
	R.max_line = EVK_MAX_LINE;
	while ((c = getopt_long(argc, argv, "r:f:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': rules[nrules++] = optarg; break;
		case 'f': rfiles[nrfiles++] = optarg; break;
		case O_FIRST: R.first = 1; break;
		case O_ELSE: els = optarg; break;
		case O_ONFULL:
			if (!strcmp(optarg, "drop-new"))
				dopt.drop_new = 1;
			else if (!strcmp(optarg, "block"))
				dopt.drop_new = 0;
			else
				cli_usage_error("--on-full %s: block or "
				                "drop-new",
				    optarg);
			break;
		case O_BUFFER:
			dopt.buffer = (size_t)cli_number("--buffer", optarg, 1,
			    1LL << 30, 1);
			break;
		case O_DEAD: dead = optarg; break;
		case O_FILEMODE:
			dopt.file_mode = (unsigned)parse_mode(optarg);
			break;
		case O_MAXOPEN:
			dopt.max_open = (size_t)cli_number("--max-open", optarg,
			    1, 100000, 0);
			break;
		case O_MAX_LINE: R.max_line = cli_max_line(optarg); break;
		case O_MAX_DEPTH: jo.max_depth = cli_max_depth(optarg); break;
		case 'h': fputs(usage_text, stdout); return CLI_OK;
		case 'V': printf("evroute %s\n", EVK_VERSION); return CLI_OK;
		default:
			fprintf(stderr,
			    "Try 'evroute --help' for more "
			    "information.\n");
			return CLI_FATAL;
		}
	}
	argc -= optind;
	argv += optind;
	if (nrules == 0 && nrfiles == 0) {
		if (argc == 0)
			cli_usage_error(
			    "no rules (RULES, -r RULE or -f RULES)");
		rfiles[nrfiles++] = *argv++;
		argc--;
	}

	/* Every rule before any event: all their errors, then exit 2. */
	if ((R.rt = evk_routes_new()) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	for (i = 0; i < nrules; i++) {
		if (evk_routes_add(R.rt, rules[i], strlen(rules[i]), 0, &err) <
		    0) {
			snprintf(where, sizeof where, "-r #%d", i + 1);
			rule_error(where, rules[i], strlen(rules[i]), &err);
			errors++;
		}
	}
	for (i = 0; i < nrfiles; i++)
		errors += load_rules(R.rt, rfiles[i]);
	if (els != NULL && evk_routes_set_else(R.rt, els, &err) < 0) {
		rule_error("--else", els, strlen(els), &err);
		errors++;
	}
	if (errors > 0)
		cli_die(CLI_FATAL, "%d error%s in the rules, nothing read",
		    errors, errors > 1 ? "s" : "");
	if (evk_routes_count(R.rt) == 0 && els == NULL)
		cli_usage_error("no rules (only blank lines and comments)");

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	{
		sigset_t more;
		sigemptyset(&more);
		sigaddset(&more, SIGHUP);
		sigaddset(&more, SIGUSR1);
		sigprocmask(SIG_BLOCK, &more, NULL);
		waitmask = cli_waitmask;
	}

	cli_dead_open(&R.dead, dead);
	if ((R.json = evk_json_checker_new(&jo)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	dopt.stop = &cli_stop;
	dopt.wake = &wake;
	dopt.on_wake = handle_signals;
	dopt.sigmask = &waitmask;
	dopt.child_mask = &origmask;
	dopt.on_dead = R.dead.f != NULL ? dest_dead : NULL;
	dopt.dead_name = R.dead.path;
	dopt.on_warn = dest_warn;
	dopt.on_stop = dest_stop;
	dopt.ctx = &R;
	if ((R.ds = evk_dests_new(R.rt, &dopt)) == NULL ||
	    (R.hits = calloc(evk_routes_ndests(R.rt) + 1, sizeof *R.hits)) ==
	        NULL)
		cli_die(CLI_FATAL, "out of memory");
	evk_dests_open(R.ds);
	dests_done(&R, 0);

	if (!R.quit)
		cli_inputs(argv, argc, run, &R, &R.quit, &R.status);
	evk_dests_close(R.ds);
	dests_done(&R, 0);
	summary(&R);
	cli_dead_close(&R.dead);
	cli_reraise();
	if (R.status != CLI_FATAL) {
		R.status =
		    R.rejected_lines || (evk_dests_state(R.ds) & EVK_DESTS_LOST)
		    ? CLI_REJECTED
		    : CLI_OK;
		for (k = 0; k < evk_dests_count(R.ds); k++) {
			evk_dests_stats(R.ds, k, &st);
			if (st.dropped || st.dead)
				R.status = CLI_REJECTED;
		}
	}
	evk_dests_free(R.ds);
	evk_routes_free(R.rt);
	evk_json_checker_free(R.json);
	free(R.hits);
	free(rules);
	free(rfiles);
	return R.status;
}
