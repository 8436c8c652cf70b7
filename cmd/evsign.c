/*
 * evsign - sign events, verify them, show what is signed, make keys.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "evkit/frame.h"
#include "evkit/json.h"
#include "evkit/sign.h"
#include "evkit/time.h"
#include "cli.h"

static const char usage_text[] =
    "usage: evsign sign [-k KEY] [--kid ID] [options] [FILE ...]\n"
    "       evsign verify [-k KEYS]... [--max-age DUR] [--skew DUR] "
    "[--dedupe] [--strip] [options] [FILE ...]\n"
    "       evsign canon [-k KEY] [options] [FILE ...]\n"
    "       evsign keygen [--ed25519] [--kid ID] -o FILE\n"
    "       evsign pubkey FILE\n"
    "\n"
    "Sign events (JSON lines) with HS256 or Ed25519 keys (JWK), verify\n"
    "them, print the canonical bytes a signature covers, make keys.\n"
    "\n"
    "  -k, --key FILE          a JWK or JWK Set file (verify: repeatable);\n"
    "                          default: the file in EVSIGN_KEY_FILE\n"
    "      --kid ID            sign: the key to sign with; keygen: the new "
    "key's id\n"
    "      --max-age DUR       verify: reject events whose time is older\n"
    "      --skew DUR          verify: how far in the future a time may be\n"
    "                          (default 1m)\n"
    "      --dedupe            verify: reject a repeated (source, id) within\n"
    "                          --max-age\n"
    "      --dedupe-max N      verify: most pairs remembered (default 1M)\n"
    "      --strip             verify: write events without sigalg, sigkid, "
    "sig\n"
    "      --reject FILE       append rejected lines to FILE, verbatim\n"
    "      --dead-letter FILE  the same as --reject\n"
    "      --max-line N        longest line in bytes (default 1M)\n"
    "      --max-depth N       deepest JSON nesting (default 128)\n"
    "      --line-buffered     flush after every event\n"
    "  -j, --jobs N            worker threads (default: one per CPU, at "
    "most 8)\n"
    "      --ed25519           keygen: an Ed25519 key pair (default HS256)\n"
    "  -o, --output FILE       keygen: write the key to FILE (0600; "
    "Ed25519:\n"
    "                          the public key to FILE.pub)\n"
    "  -h, --help              show this help and exit\n"
    "  -V, --version           show the version and exit\n"
    "\n"
    "DUR: 30s, 5m, 1h30m, 2d (units ns us ms s m h d).\n"
    "Exit status: 0 all events passed, 1 some were rejected, 2 error.\n";

enum cmd { C_SIGN = 1, C_VERIFY = 2, C_CANON = 4, C_KEYGEN = 8, C_PUBKEY = 16 };
#define C_STREAM (C_SIGN | C_VERIFY | C_CANON)

/*
 * sign, verify and canon read lines into a batch, which the workers (the
 * main thread and --jobs - 1 threads) process a chunk at a time; the main
 * thread then writes the results in input order.  There are two batches,
 * so that the threads work on one while the main thread writes the one
 * before it and reads the next.  A batch is handed on when it is full or
 * when the next read could block, and then also processed and written
 * at once, so events never wait for more input.  Only the main thread
 * writes; the replay window of verify, which depends on order, is
 * applied while writing.
 */
#define BATCH_LINES 4096
#define BATCH_BYTES (1 << 20)
#define CHUNK_LINES 256
#define MAX_JOBS 8

enum result { R_SKIP, R_OUT, R_REJECT, R_VERIFIED };

struct item {
	size_t off, len; /* the line in the batch's text, "\r" kept after */
	uint64_t no;
	int crlf;
	enum result result;
	size_t roff, rlen; /* output bytes or the reason, in *res */
	const struct evk_buf *res;
};

struct batch {
	struct evk_buf text;
	struct item *items;
	size_t nitems;
	size_t chunks, next, done; /* next and done: under evsign.mu */
};

struct worker {
	/* A cache line of its own: its buffers change on every event. */
	_Alignas(64) struct evsign *s;
	pthread_t thread;
	struct evk_json_checker *json;
	struct evk_buf out[2], tmp; /* out: the results, per batch */
};

struct evsign {
	enum cmd cmd;
	struct evk_keyring *ring;
	const struct evk_key *key; /* sign, canon */
	struct evk_sink *out;
	struct cli_dead dead;
	const char *name; /* of the input being read; NULL: stdin */
	struct evk_buf tmp, src, id; /* the replay window's */
	int64_t max_age, skew; /* ns; max_age 0: no time check */
	struct evk_dedupe *dedupe;
	int strip;
	size_t max_line;
	struct evk_reader *r; /* of the input being read: reachable when an
	                         output error exits (LeakSanitizer) */
	int rejected, error;

	struct batch b[2];
	int fill, busy; /* being read; being processed (-1: none) */

	struct worker w[MAX_JOBS];
	int nw;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	int quit;
};

static void reject(struct evsign *s, const struct evk_line *ln, const char *fmt,
    ...) CLI_PRINTF(3, 4);

static void
reject(struct evsign *s, const struct evk_line *ln, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vreject_line(s->name, ln, &s->dead, fmt, ap);
	va_end(ap);
	s->rejected = 1;
}

static int
status(const struct evsign *s)
{
	return s->error ? CLI_FATAL : s->rejected ? CLI_REJECTED : CLI_OK;
}

static void
put(struct evsign *s, const char *p, size_t n)
{
	struct evk_err err = EVK_ERR_ZERO;
	int rc;

	if ((rc = evk_sink_put(s->out, p, n, &err)) < 0)
		cli_output_failed(rc, &err, status(s));
}

static int64_t
add_sat(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

/* A string member's unescaped bytes into `b`; 0 when absent or not a
 * string. */
static int
string_member(struct evk_span ev, const char *name, struct evk_buf *b)
{
	struct evk_span v;

	if (!evk_json_get(ev, name, strlen(name), &v) ||
	    evk_json_type_of(v) != EVK_JSON_STRING)
		return 0;
	evk_buf_reset(b);
	if (evk_json_unescape(v, b) < 0)
		cli_die(CLI_FATAL, "out of memory");
	return 1;
}

/* The policy checks after a good signature: --max-age, --skew, --dedupe.
 * Returns 0, or 1 after rejecting the line. */
static int
window(struct evsign *s, const struct evk_line *ln)
{
	struct evk_span ev = {ln->p, ln->len};
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_time t, now;
	int64_t tns, nowns;
	char when[EVK_TIME_MAXLEN];
	int rc;

	if (s->max_age == 0)
		return 0;
	if (!string_member(ev, "time", &s->tmp)) {
		reject(s, ln,
		    "malformed: no time attribute (--max-age needs one)");
		return 1;
	}
	if (evk_time_parse(s->tmp.p, s->tmp.len, &t, &err) < 0) {
		reject(s, ln, "malformed: time: %s", err.msg);
		return 1;
	}
	evk_time_now(&now);
	/* Saturated: a time beyond 1677..2262 is expired or in the future
	 * whatever the window. */
	tns = evk_time_ns(&t);
	nowns = evk_time_ns(&now);
	evk_time_format(when, &t, 0, 1);
	if (tns < add_sat(nowns, -s->max_age)) {
		reject(s, ln, "expired: time %s is older than --max-age", when);
		return 1;
	}
	if (tns > add_sat(nowns, s->skew)) {
		reject(s, ln,
		    "expired: time %s is in the future by more than --skew",
		    when);
		return 1;
	}
	if (s->dedupe == NULL)
		return 0;
	if (!string_member(ev, "source", &s->src) ||
	    !string_member(ev, "id", &s->id)) {
		reject(s, ln,
		    "malformed: no source or id (--dedupe needs both)");
		return 1;
	}
	rc = evk_dedupe_check(s->dedupe, s->src.p, s->src.len, s->id.p,
	    s->id.len, add_sat(tns, s->max_age), nowns);
	if (rc == EVK_ENOMEM)
		cli_die(CLI_FATAL, "out of memory");
	if (rc == EVK_ERANGE) {
		reject(s, ln,
		    "replayed: cannot tell, the --dedupe window is full "
		    "(--dedupe-max)");
		return 1;
	}
	if (rc == 1) {
		reject(s, ln, "replayed: source and id seen before");
		return 1;
	}
	return 0;
}

static void result_reject(struct evk_buf *out, struct item *it, const char *fmt,
    ...) CLI_PRINTF(3, 4);

/* The item is rejected for the reason given (kept in out). */
static void
result_reject(struct evk_buf *out, struct item *it, const char *fmt, ...)
{
	char reason[320];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof reason)
		n = (int)sizeof reason - 1;
	if (evk_buf_add(out, reason, (size_t)n) < 0)
		cli_die(CLI_FATAL, "out of memory");
	it->result = R_REJECT;
	it->rlen = (size_t)n;
}

/* One line of sign, verify or canon, in a worker: no output, no shared
 * state but what is read only. */
static void
process(struct worker *w, const struct batch *b, struct item *it)
{
	const struct evsign *s = w->s;
	const char *p = b->text.p + it->off;
	struct evk_buf *out = &w->out[b - s->b];
	struct evk_err err = EVK_ERR_ZERO;
	enum evk_json_type type;
	int rc;

	it->res = out;
	it->roff = out->len;
	it->rlen = 0;
	it->result = R_SKIP;
	if (cli_blank(p, it->len))
		return;
	if (evk_json_check(w->json, p, it->len, &type, &err) < 0) {
		result_reject(out, it,
		    "malformed: invalid JSON: %s at column %zu", err.msg,
		    err.column);
		return;
	}
	if (type != EVK_JSON_OBJECT) {
		result_reject(out, it, "malformed: not a JSON object");
		return;
	}
	switch (s->cmd) {
	case C_SIGN:
		rc = evk_event_sign(s->key, p, it->len, out, &w->tmp, &err);
		break;
	case C_CANON:
		rc = evk_event_signed_bytes(s->key, p, it->len, out, &err);
		break;
	default:
		rc = evk_event_verify(s->ring, p, it->len, &w->tmp, NULL, &err);
		if (rc > 0) {
			result_reject(out, it, "%s", err.msg);
			return;
		}
		if (rc == 0 && !s->strip) {
			it->result = R_VERIFIED; /* the line as read */
			return;
		}
		if (rc == 0)
			rc = evk_event_strip(p, it->len, out);
		break;
	}
	if (rc == EVK_ENOMEM)
		cli_die(CLI_FATAL, "out of memory");
	if (rc < 0) {
		result_reject(out, it, "%s%s",
		    rc == EVK_ERANGE ? "malformed: " : "", err.msg);
		return;
	}
	/* The line ending as read (canon writes bytes to compare: "\n"). */
	if (it->crlf && s->cmd != C_CANON && evk_buf_add(out, "\r", 1) < 0)
		cli_die(CLI_FATAL, "out of memory");
	it->result = s->cmd == C_VERIFY ? R_VERIFIED : R_OUT;
	it->rlen = out->len - it->roff;
}

/* Processes chunk c of batch b. */
static void
work(struct worker *w, struct batch *b, size_t c)
{
	size_t i = c * CHUNK_LINES, to = i + CHUNK_LINES;

	for (to = to < b->nitems ? to : b->nitems; i < to; i++)
		process(w, b, &b->items[i]);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct evsign *s = w->s;
	struct batch *b;
	size_t c;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->quit &&
		    (s->busy < 0 || s->b[s->busy].next == s->b[s->busy].chunks))
			pthread_cond_wait(&s->go, &s->mu);
		if (s->quit)
			break;
		b = &s->b[s->busy];
		c = b->next++;
		pthread_mutex_unlock(&s->mu);
		work(w, b, c);
		pthread_mutex_lock(&s->mu);
		if (++b->done == b->chunks)
			pthread_cond_signal(&s->done);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Writes, in order, what the workers made of one item. */
static void
finish(struct evsign *s, const struct batch *b, const struct item *it)
{
	struct evk_line ln = {b->text.p + it->off, it->len, it->no, it->crlf};
	const char *r = it->res->p + it->roff;

	switch (it->result) {
	case R_SKIP: break;
	case R_REJECT: reject(s, &ln, "%.*s", (int)it->rlen, r); break;
	case R_VERIFIED:
		if (window(s, &ln))
			break;
		if (it->rlen == 0) /* not stripped */
			put(s, ln.p, ln.len + (size_t)ln.crlf);
		else
			put(s, r, it->rlen);
		break;
	case R_OUT: put(s, r, it->rlen); break;
	}
}

/* The main thread takes part in the busy batch until it is done. */
static void
help(struct evsign *s)
{
	struct batch *b = &s->b[s->busy];
	size_t c;

	pthread_mutex_lock(&s->mu);
	while (b->next < b->chunks) {
		c = b->next++;
		pthread_mutex_unlock(&s->mu);
		work(&s->w[0], b, c);
		pthread_mutex_lock(&s->mu);
		b->done++;
	}
	while (b->done < b->chunks)
		pthread_cond_wait(&s->done, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

/*
 * Hands the batch being read to the workers, after finishing the busy
 * one, which is then written while they work.
 */
static void
hand_on(struct evsign *s)
{
	int prev = s->busy, k;
	struct batch *b = &s->b[s->fill];
	size_t i;

	if (prev >= 0)
		help(s);
	pthread_mutex_lock(&s->mu);
	s->busy = -1;
	if (b->nitems > 0) {
		for (k = 0; k < s->nw; k++)
			evk_buf_reset(&s->w[k].out[s->fill]);
		b->chunks = (b->nitems + CHUNK_LINES - 1) / CHUNK_LINES;
		b->next = b->done = 0;
		s->busy = s->fill;
		s->fill = 1 - s->fill;
		pthread_cond_broadcast(&s->go);
	}
	pthread_mutex_unlock(&s->mu);
	if (prev >= 0) {
		b = &s->b[prev];
		for (i = 0; i < b->nitems; i++)
			finish(s, b, &b->items[i]);
		b->nitems = 0;
		evk_buf_reset(&b->text);
	}
}

/* Processes and writes every line read so far. */
static void
drain(struct evsign *s)
{
	while (s->busy >= 0 || s->b[s->fill].nitems > 0)
		hand_on(s);
}

/* The bytes of an over-long line go to the dead letters after every line
 * before it. */
static void
skip_in_order(void *ctx, const char *p, size_t n)
{
	struct evsign *s = ctx;

	drain(s);
	cli_dead_skip(&s->dead, p, n);
}

static void
run(void *ctx, int fd, const char *name)
{
	struct evsign *s = ctx;
	struct evk_reader *r = s->r = cli_reader_fn(fd, s->max_line,
	    s->dead.f != NULL ? skip_in_order : NULL, s);
	struct evk_line ln;
	struct evk_err err;
	struct batch *b;
	struct item *it;
	int rc;

	s->name = name;
	for (;;) {
		if ((s->busy >= 0 || s->b[s->fill].nitems > 0) &&
		    !evk_reader_ready(r))
			drain(s);
		err.msg[0] = '\0';
		rc = evk_reader_next(r, &ln, &err);
		if (rc == 1) {
			b = &s->b[s->fill];
			if (b->nitems == BATCH_LINES ||
			    (b->nitems > 0 &&
			        b->text.len + ln.len > BATCH_BYTES))
				hand_on(s);
			b = &s->b[s->fill];
			it = &b->items[b->nitems++];
			it->off = b->text.len;
			it->len = ln.len;
			it->no = ln.no;
			it->crlf = ln.crlf;
			if (evk_buf_add(&b->text, ln.p,
			        ln.len + (size_t)ln.crlf) < 0)
				cli_die(CLI_FATAL, "out of memory");
			continue;
		}
		drain(s);
		if (rc == EVK_ETOOLONG || rc == EVK_ENUL) {
			reject(s, &ln, "%s", err.msg);
		} else {
			if (rc == EVK_EIO) {
				cli_warn("%s: %s", cli_input_name(name),
				    err.msg);
				s->error = 1;
			}
			break;
		}
	}
	evk_reader_free(r);
	s->r = NULL;
}

static struct evsign *running; /* whose threads join_workers() ends */
static pthread_t main_thread;
static void join_workers(void);

/* Sets up `jobs` workers: the main thread and jobs - 1 threads. */
static void
start_workers(struct evsign *s, int jobs, const struct evk_json_opts *jo)
{
	int k, rc;

	main_thread = pthread_self();
	running = s;
	atexit(join_workers);

	s->busy = -1;
	for (k = 0; k < 2; k++)
		if ((s->b[k].items =
		            calloc(BATCH_LINES, sizeof *s->b[k].items)) == NULL)
			cli_die(CLI_FATAL, "out of memory");
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->go, NULL);
	pthread_cond_init(&s->done, NULL);
	for (k = 0; k < jobs; k++) {
		s->w[k].s = s;
		if ((s->w[k].json = evk_json_checker_new(jo)) == NULL)
			cli_die(CLI_FATAL, "out of memory");
		/* Stop signals stay blocked in the threads (inherited). */
		if (k > 0 &&
		    (rc = pthread_create(&s->w[k].thread, NULL, worker_main,
		         &s->w[k])) != 0)
			cli_die(CLI_FATAL, "cannot start a thread: %s",
			    strerror(rc));
		s->nw = k + 1;
	}
}

/* Ends the threads, on every way out: also cli_die() and output errors
 * exit with them waiting, and valgrind counts their stacks as lost.  Only
 * the main thread joins (a thread cannot join itself). */
static void
join_workers(void)
{
	struct evsign *s = running;
	int k;

	if (s == NULL || !pthread_equal(pthread_self(), main_thread))
		return;
	running = NULL;
	pthread_mutex_lock(&s->mu);
	s->quit = 1;
	pthread_cond_broadcast(&s->go);
	pthread_mutex_unlock(&s->mu);
	for (k = 1; k < s->nw; k++)
		pthread_join(s->w[k].thread, NULL);
}

static void
stop_workers(struct evsign *s)
{
	int k;

	join_workers();
	for (k = 0; k < s->nw; k++) {
		evk_json_checker_free(s->w[k].json);
		evk_buf_free(&s->w[k].out[0]);
		evk_buf_free(&s->w[k].out[1]);
		evk_buf_free(&s->w[k].tmp);
	}
	for (k = 0; k < 2; k++) {
		free(s->b[k].items);
		evk_buf_free(&s->b[k].text);
	}
}

/* Loads a key file into the ring or dies. */
static void
load(struct evk_keyring *ring, const char *path)
{
	struct evk_err err = EVK_ERR_ZERO;

	if (evk_keyring_load(ring, path, &err) < 0)
		cli_die(CLI_FATAL, "%s: %s", path, err.msg);
}

/* The key sign and canon use: the one with --kid, or the only one that
 * can sign. */
static const struct evk_key *
signing_key(const struct evk_keyring *ring, const char *kid, int need)
{
	const struct evk_key *k = NULL, *x;
	size_t i, n = 0;

	if (kid != NULL) {
		if ((k = evk_keyring_find(ring, kid, strlen(kid))) == NULL)
			cli_die(CLI_FATAL, "no key with kid \"%s\"", kid);
		if (need && !evk_key_can_sign(k))
			cli_die(CLI_FATAL, "key \"%s\" cannot sign (%s)", kid,
			    evk_key_is_private(k) ? "its key_ops"
			                          : "a public key");
		return k;
	}
	for (i = 0; (x = evk_keyring_at(ring, i)) != NULL; i++)
		if (evk_key_can_sign(x)) {
			k = x;
			n++;
		}
	if (n > 1)
		cli_die(CLI_FATAL, "%zu keys can sign: choose one with --kid",
		    n);
	if (n == 0 && need)
		cli_die(CLI_FATAL,
		    "no key that can sign (a public key only verifies)");
	if (n == 0 && evk_keyring_count(ring) == 1)
		k = evk_keyring_at(ring, 0); /* canon with a public key */
	return k;
}

/* Creates `path` exclusively with `mode` and writes `b` into it. */
static void
write_new(const char *path, int mode, const struct evk_buf *b)
{
	size_t off = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) <
	    0)
		cli_die(CLI_FATAL, "%s: %s", path, strerror(errno));
	while (off < b->len) {
		n = write(fd, b->p + off, b->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (off < b->len || fsync(fd) < 0 || close(fd) < 0) {
		int e = errno;
		unlink(path);
		cli_die(CLI_FATAL, "%s: %s", path, strerror(e));
	}
}

static int
keygen(int ed25519, const char *kid, const char *path)
{
	static struct evk_buf priv, pub, pubpath;
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_key *k;
	struct stat st;

	if (path == NULL)
		cli_usage_error("keygen needs -o FILE");
	k = evk_key_generate(ed25519 ? EVK_SIG_EDDSA : EVK_SIG_HS256, kid,
	    &err);
	if (k == NULL)
		cli_die(CLI_FATAL, "%s", err.msg);
	if (evk_key_to_jwk(k, 1, &priv, &err) < 0 ||
	    evk_buf_add(&priv, "\n", 1) < 0 ||
	    (ed25519 &&
	        (evk_key_to_jwk(k, 0, &pub, &err) < 0 ||
	            evk_buf_add(&pub, "\n", 1) < 0 ||
	            evk_buf_adds(&pubpath, path) < 0 ||
	            evk_buf_adds(&pubpath, ".pub") < 0)))
		cli_die(CLI_FATAL, "out of memory");
	evk_key_free(k);
	/* Both names are free before either file is made. */
	if (ed25519 && lstat(pubpath.p, &st) == 0)
		cli_die(CLI_FATAL, "%s: %s", pubpath.p, strerror(EEXIST));
	write_new(path, 0600, &priv);
	if (ed25519)
		write_new(pubpath.p, 0644, &pub);
	sodium_memzero(priv.p, priv.len);
	evk_buf_free(&priv);
	evk_buf_free(&pub);
	evk_buf_free(&pubpath);
	return CLI_OK;
}

/* Prints the public half of the keys in `path`. */
static int
pubkey(const char *path)
{
	static struct evk_keyring *ring;
	static struct evk_buf b;
	struct evk_err err = EVK_ERR_ZERO;
	const struct evk_key *k;
	size_t i, n;

	if ((ring = evk_keyring_new()) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	load(ring, path);
	n = evk_keyring_count(ring);
	if (n > 1 && evk_buf_adds(&b, "{\"keys\":[") < 0)
		cli_die(CLI_FATAL, "out of memory");
	for (i = 0; i < n; i++) {
		k = evk_keyring_at(ring, i);
		if (i > 0 && evk_buf_add(&b, ",", 1) < 0)
			cli_die(CLI_FATAL, "out of memory");
		if (evk_key_to_jwk(k, 0, &b, &err) < 0)
			cli_die(CLI_FATAL, "%s: key \"%s\": %s", path,
			    evk_key_kid(k), err.msg);
	}
	if (n > 1 && evk_buf_adds(&b, "]}") < 0)
		cli_die(CLI_FATAL, "out of memory");
	if (puts(b.p) == EOF || fflush(stdout) == EOF)
		cli_die(CLI_FATAL, "write failed: %s", strerror(errno));
	evk_buf_free(&b);
	evk_keyring_free(ring);
	return CLI_OK;
}

/* One worker per CPU, up to MAX_JOBS. */
static int
default_jobs(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > MAX_JOBS ? MAX_JOBS : (int)n;
}

enum {
	O_KID = 256,
	O_MAX_AGE,
	O_SKEW,
	O_DEDUPE,
	O_DEDUPE_MAX,
	O_STRIP,
	O_REJECT,
	O_MAX_LINE,
	O_MAX_DEPTH,
	O_LINEBUF,
	O_ED25519,
	O_JOBS,
};

/* Each option with the commands that take it. */
static const struct {
	struct option o;
	unsigned cmds;
} options[] = {
    {{"key", required_argument, NULL, 'k'}, C_STREAM},
    {{"kid", required_argument, NULL, O_KID}, C_SIGN | C_CANON | C_KEYGEN},
    {{"max-age", required_argument, NULL, O_MAX_AGE}, C_VERIFY},
    {{"skew", required_argument, NULL, O_SKEW}, C_VERIFY},
    {{"dedupe", no_argument, NULL, O_DEDUPE}, C_VERIFY},
    {{"dedupe-max", required_argument, NULL, O_DEDUPE_MAX}, C_VERIFY},
    {{"strip", no_argument, NULL, O_STRIP}, C_VERIFY},
    {{"reject", required_argument, NULL, O_REJECT}, C_STREAM},
    {{"dead-letter", required_argument, NULL, O_REJECT}, C_STREAM},
    {{"max-line", required_argument, NULL, O_MAX_LINE}, C_STREAM},
    {{"max-depth", required_argument, NULL, O_MAX_DEPTH}, C_STREAM},
    {{"line-buffered", no_argument, NULL, O_LINEBUF}, C_STREAM},
    {{"jobs", required_argument, NULL, 'j'}, C_STREAM},
    {{"ed25519", no_argument, NULL, O_ED25519}, C_KEYGEN},
    {{"output", required_argument, NULL, 'o'}, C_KEYGEN},
    {{"help", no_argument, NULL, 'h'}, ~0u},
    {{"version", no_argument, NULL, 'V'}, ~0u},
};

static const struct {
	const char *name;
	enum cmd cmd;
} commands[] = {
    {"sign", C_SIGN},
    {"verify", C_VERIFY},
    {"canon", C_CANON},
    {"keygen", C_KEYGEN},
    {"pubkey", C_PUBKEY},
};

#define NOPTIONS (sizeof options / sizeof options[0])

int
main(int argc, char **argv)
{
	/* Static: what main() holds stays reachable when a helper exits, so
	 * LeakSanitizer sees no leak on the early exits. */
	static struct evsign s;
	static struct option longopts[NOPTIONS + 1];
	static char **keys;
	struct evk_json_opts jo = {0};
	struct evk_err err = EVK_ERR_ZERO;
	char shortopts[16] = "hV";
	const char *cmdname, *kid = NULL, *dead = NULL, *output = NULL;
	size_t i, nopt = 0;
	long long dedupe_max = 1 << 20;
	int nkeys = 0, c, linebuf = 0, jobs = default_jobs(), ed25519 = 0,
	    dedupe = 0, skew_set = 0, dedupe_max_set = 0;

	cli_init("evsign");
	if (argc < 2)
		cli_usage_error("no command (sign, verify, canon, keygen or "
		                "pubkey)");
	cmdname = argv[1];
	if (!strcmp(cmdname, "-h") || !strcmp(cmdname, "--help")) {
		fputs(usage_text, stdout);
		return CLI_OK;
	}
	if (!strcmp(cmdname, "-V") || !strcmp(cmdname, "--version")) {
		printf("evsign %s\n", EVK_VERSION);
		return CLI_OK;
	}
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(cmdname, commands[i].name))
			s.cmd = commands[i].cmd;
	if (s.cmd == 0)
		cli_usage_error("unknown command '%s' (sign, verify, canon, "
		                "keygen or pubkey)",
		    cmdname);
	for (i = 0; i < NOPTIONS; i++)
		if (options[i].cmds & s.cmd)
			longopts[nopt++] = options[i].o;
	if (s.cmd & C_STREAM)
		strcat(shortopts, "k:j:");
	if (s.cmd == C_KEYGEN)
		strcat(shortopts, "o:");
	if ((keys = calloc((size_t)argc + 1, sizeof *keys)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	s.skew = 60 * (int64_t)1000000000;
	s.max_line = EVK_MAX_LINE;

	/* Options follow the command; getopt names argv[0] in messages,
	 * which start with the program's name (evkit(7)). */
	argv[1] = (char *)cli_prog;
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case 'k': keys[nkeys++] = optarg; break;
		case O_KID: kid = optarg; break;
		case O_MAX_AGE:
			s.max_age = cli_duration("--max-age", optarg);
			break;
		case O_SKEW:
			s.skew = cli_duration("--skew", optarg);
			skew_set = 1;
			break;
		case O_DEDUPE: dedupe = 1; break;
		case O_DEDUPE_MAX:
			dedupe_max =
			    cli_number("--dedupe-max", optarg, 1, 1LL << 32, 1);
			dedupe_max_set = 1;
			break;
		case O_STRIP: s.strip = 1; break;
		case O_REJECT: dead = optarg; break;
		case O_MAX_LINE: s.max_line = cli_max_line(optarg); break;
		case O_MAX_DEPTH: jo.max_depth = cli_max_depth(optarg); break;
		case O_LINEBUF: linebuf = 1; break;
		case 'j':
			jobs =
			    (int)cli_number("--jobs", optarg, 1, MAX_JOBS, 0);
			break;
		case O_ED25519: ed25519 = 1; break;
		case 'o': output = optarg; break;
		case 'h': fputs(usage_text, stdout); return CLI_OK;
		case 'V': printf("evsign %s\n", EVK_VERSION); return CLI_OK;
		default:
			fprintf(stderr,
			    "Try 'evsign --help' for more information.\n");
			return CLI_FATAL;
		}
	}
	argc -= optind;
	argv += optind;

	if (s.cmd == C_KEYGEN) {
		if (argc > 0)
			cli_usage_error("keygen takes no operand ('%s')",
			    argv[0]);
		return keygen(ed25519, kid, output);
	}
	if (s.cmd == C_PUBKEY) {
		if (argc != 1)
			cli_usage_error("pubkey takes one key FILE");
		return pubkey(argv[0]);
	}
	if (dedupe && s.max_age == 0)
		cli_usage_error("--dedupe needs --max-age (the replay window)");
	if (skew_set && s.max_age == 0)
		cli_usage_error("--skew needs --max-age");
	if (dedupe_max_set && !dedupe)
		cli_usage_error("--dedupe-max needs --dedupe");

	if ((s.ring = evk_keyring_new()) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	if (nkeys == 0) {
		const char *env = getenv("EVSIGN_KEY_FILE");
		if (env != NULL && env[0] != '\0')
			keys[nkeys++] = (char *)env;
		else if (s.cmd != C_CANON)
			cli_usage_error("no key: give -k FILE or set "
			                "EVSIGN_KEY_FILE");
	}
	for (c = 0; c < nkeys; c++)
		load(s.ring, keys[c]);
	if (s.cmd == C_SIGN)
		s.key = signing_key(s.ring, kid, 1);
	else if (s.cmd == C_CANON && nkeys > 0)
		s.key = signing_key(s.ring, kid, 0);
	if (dedupe && (s.dedupe = evk_dedupe_new((size_t)dedupe_max)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	if ((s.out = evk_sink_fd(STDOUT_FILENO,
	         linebuf ? EVK_SINK_LINEBUF : EVK_SINK_AUTO)) == NULL)
		cli_die(CLI_FATAL, "out of memory");
	cli_dead_open(&s.dead, dead);
	start_workers(&s, jobs, &jo);

	cli_inputs(argv, argc, run, &s, NULL, &s.error);

	if (evk_sink_close(s.out, &err) < 0)
		cli_output_failed(err.code, &err, status(&s));
	cli_dead_close(&s.dead);
	cli_reraise();
	evk_keyring_free(s.ring);
	evk_dedupe_free(s.dedupe);
	stop_workers(&s);
	evk_buf_free(&s.tmp);
	evk_buf_free(&s.src);
	evk_buf_free(&s.id);
	free(keys);
	return status(&s);
}
