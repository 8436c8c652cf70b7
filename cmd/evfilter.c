/*
 * evfilter - keep the events that match an expression.
 */
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evkit/expr.h"
#include "evkit/frame.h"
#include "evkit/json.h"
#include "cli.h"

static const char usage_text[] =
    "usage: evfilter [options] EXPR [FILE ...]\n"
    "       evfilter [options] -e EXPR | -t PATTERN ... [FILE ...]\n"
    "\n"
    "Print the events (JSON lines) that match, byte for byte.\n"
    "\n"
    "  -e, --expr EXPR         an expression; several must all hold\n"
    "  -t, --topic PATTERN     type matches the topic pattern (order.*, "
    "order.>);\n"
    "                          several: any of them\n"
    "  -f, --file FILE         read FILE (repeatable; also FILE operands)\n"
    "  -v, --invert            print the events that do not match\n"
    "  -c, --count             print only the number of matching events\n"
    "  -n, --max-count N       stop after N matching events\n"
    "  -q, --quiet             print nothing; the exit status tells\n"
    "      --dead-letter FILE  append rejected lines to FILE, verbatim\n"
    "      --strict            rejected lines make the exit status 2\n"
    "      --max-line N        longest line in bytes (default 1M)\n"
    "      --max-depth N       deepest JSON nesting (default 128)\n"
    "      --line-buffered     flush after every event\n"
    "  -h, --help              show this help and exit\n"
    "  -V, --version           show the version and exit\n"
    "\n"
    "Exit status: 0 something matched, 1 nothing matched, 2 error.\n";

struct filter;
static int status(const struct filter *f);

struct filter {
	struct evk_expr *expr;
	struct evk_json_checker *json;
	struct evk_sink *out;
	struct cli_dead dead;
	int invert, count_only, quiet, strict, prefilter;
	long long max_count;
	size_t max_line;
	struct evk_reader *r; /* of the input being read: reachable when an
	                         output error exits (LeakSanitizer) */
	long long matched;
	int rejected;
	int error;
	int done; /* -n reached or -q matched: stop reading */
};

/* The exit status earned so far, as grep's. */
static int
status(const struct filter *f)
{
	/* A match with -q is success whatever else happened. */
	if (f->quiet && f->matched)
		return CLI_OK;
	if (f->error || (f->strict && f->rejected))
		return CLI_FATAL;
	return f->matched ? CLI_OK : 1;
}

static void reject(struct filter *f, const char *name,
    const struct evk_line *ln, const char *fmt, ...) CLI_PRINTF(4, 5);

static void
reject(struct filter *f, const char *name, const struct evk_line *ln,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vreject_line(name, ln, &f->dead, fmt, ap);
	va_end(ap);
	f->rejected = 1;
}

/* One line: select it or not, or reject it. */
static void
line(struct filter *f, const char *name, const struct evk_line *ln)
{
	struct evk_err err; /* filled by whatever fails */
	enum evk_json_type type;
	struct evk_span ev = {ln->p, ln->len};
	int rc;

	err.msg[0] = '\0';
	/* A blank line holds no event: nothing to select or reject (as jq
	 * and evpub --json skip them). */
	if (cli_blank(ln->p, ln->len))
		return;
	/* A line the prefilter rules out cannot match, so it is skipped
	 * unparsed, unless every line must be checked: with -v (it would be
	 * printed), --strict or --dead-letter (its faults count). */
	if (f->prefilter && !evk_expr_prefilter(f->expr, ln->p, ln->len))
		return;
	if ((rc = evk_json_check(f->json, ln->p, ln->len, &type, &err)) < 0) {
		reject(f, name, ln, "invalid JSON: %s at column %zu", err.msg,
		    err.column);
		return;
	}
	if (type != EVK_JSON_OBJECT) {
		reject(f, name, ln, "not a JSON object");
		return;
	}
	if ((rc = evk_expr_eval(f->expr, ev, &err)) < 0) {
		reject(f, name, ln, "%s", err.msg);
		return;
	}
	if (rc == f->invert)
		return;
	f->matched++;
	if (f->quiet) {
		f->done = 1;
		return;
	}
	if (!f->count_only) {
		/* The bytes as read: a "\r" the reader took off goes back. */
		rc = evk_sink_put(f->out, ln->p, ln->len + (size_t)ln->crlf,
		    &err);
		if (rc < 0)
			cli_output_failed(rc, &err, status(f));
	}
	if (f->max_count > 0 && f->matched >= f->max_count)
		f->done = 1;
}

static void
run(void *ctx, int fd, const char *name)
{
	struct filter *f = ctx;
	struct evk_reader *r = f->r = cli_reader(fd, f->max_line, &f->dead);
	struct evk_line ln;
	struct evk_err err;
	int rc;

	while (!f->done) {
		err.msg[0] = '\0';
		rc = evk_reader_next(r, &ln, &err);
		if (rc == 1) {
			line(f, name, &ln);
		} else if (rc == EVK_ETOOLONG || rc == EVK_ENUL) {
			reject(f, name, &ln, "%s", err.msg);
		} else {
			if (rc == EVK_EIO) {
				cli_warn("%s: %s", cli_input_name(name),
				    err.msg);
				f->error = 1;
			}
			break;
		}
	}
	evk_reader_free(r);
	f->r = NULL;
}

enum {
	O_DEAD = 256,
	O_STRICT,
	O_MAX_LINE,
	O_MAX_DEPTH,
	O_LINEBUF,
};

static const struct option longopts[] = {
    {"expr", required_argument, NULL, 'e'},
    {"topic", required_argument, NULL, 't'},
    {"file", required_argument, NULL, 'f'},
    {"invert", no_argument, NULL, 'v'},
    {"count", no_argument, NULL, 'c'},
    {"max-count", required_argument, NULL, 'n'},
    {"quiet", no_argument, NULL, 'q'},
    {"dead-letter", required_argument, NULL, O_DEAD},
    {"strict", no_argument, NULL, O_STRICT},
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
	/* Static: what main() holds stays reachable when a helper exits, so
	 * LeakSanitizer sees no leak on the early exits. */
	static struct filter f;
	static char **exprs, **topics, **files;
	struct evk_json_opts jo = {0};
	struct evk_err err = EVK_ERR_ZERO;
	int nexprs = 0, ntopics = 0, nfiles = 0, c, i, linebuf = 0;
	const char *dead = NULL;
	size_t max_line = EVK_MAX_LINE;

	cli_init("evfilter");
	argv[0] = (char *)cli_prog; /* getopt's messages: "evfilter: ..." */
	exprs = calloc((size_t)argc + 1, sizeof *exprs);
	topics = calloc((size_t)argc + 1, sizeof *topics);
	files = calloc((size_t)argc + 1, sizeof *files);
	if (exprs == NULL || topics == NULL || files == NULL)
		cli_die(CLI_FATAL, "out of memory");
	while ((c = getopt_long(argc, argv, "e:t:f:vcn:qhV", longopts, NULL)) !=
	    -1) {
		switch (c) {
		case 'e': exprs[nexprs++] = optarg; break;
		case 't': topics[ntopics++] = optarg; break;
		case 'f': files[nfiles++] = optarg; break;
		case 'v': f.invert = 1; break;
		case 'c': f.count_only = 1; break;
		case 'n':
			f.max_count = cli_number("-n", optarg, 1, LLONG_MAX, 0);
			break;
		case 'q': f.quiet = 1; break;
		case O_DEAD: dead = optarg; break;
		case O_STRICT: f.strict = 1; break;
		case O_MAX_LINE: max_line = cli_max_line(optarg); break;
		case O_MAX_DEPTH: jo.max_depth = cli_max_depth(optarg); break;
		case O_LINEBUF: linebuf = 1; break;
		case 'h': fputs(usage_text, stdout); return CLI_OK;
		case 'V': printf("evfilter %s\n", EVK_VERSION); return CLI_OK;
		default:
			fprintf(stderr,
			    "Try 'evfilter --help' for more "
			    "information.\n");
			return CLI_FATAL;
		}
	}
	argc -= optind;
	argv += optind;
	if (nexprs == 0 && ntopics == 0) {
		if (argc == 0)
			cli_usage_error("no expression (EXPR, -e EXPR or -t "
			                "PATTERN)");
		exprs[nexprs++] = *argv++;
		argc--;
	}
	for (i = 0; i < argc; i++)
		files[nfiles++] = argv[i];
	if (f.count_only && f.quiet)
		cli_usage_error("-c and -q exclude each other");

	f.expr = cli_expr_build(exprs, nexprs, topics, ntopics, "");
	if ((f.json = evk_json_checker_new(&jo)) == NULL ||
	    (f.out = evk_sink_fd(STDOUT_FILENO,
	         linebuf ? EVK_SINK_LINEBUF : EVK_SINK_AUTO)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	cli_dead_open(&f.dead, dead);
	f.max_line = max_line;
	f.prefilter = !f.invert && !f.strict && dead == NULL;

	cli_inputs(files, nfiles, run, &f, &f.done, &f.error);

	if (f.count_only) {
		char num[32];
		int n = snprintf(num, sizeof num, "%lld", f.matched);
		if ((c = evk_sink_put(f.out, num, (size_t)n, &err)) < 0)
			cli_output_failed(c, &err, status(&f));
	}
	if (evk_sink_close(f.out, &err) < 0)
		cli_output_failed(err.code, &err, status(&f));
	cli_dead_close(&f.dead);
	cli_reraise();
	evk_expr_free(f.expr);
	evk_json_checker_free(f.json);
	free(exprs);
	free(topics);
	free(files);
	return status(&f);
}
