/*
 * lib/replay.c - the replay schedule, the recording's clock, one-pass
 * statistics, reading a file from its end, following a growing file,
 * choosing the events, the --tail ring, pacing and the progress line
 * (evkit/replay.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "evkit/event.h"
#include "evkit/expr.h"
#include "evkit/frame.h"
#include "evkit/json.h"
#include "evkit/replay.h"
#include "evkit/time.h"
#include "internal.h"

/*
 * a * b / c without overflow on the way, saturated at INT64_MAX.  The
 * schedule's offsets are products of a count or a time and a ratio of
 * two large integers, so a 128-bit intermediate keeps them exact.
 */
#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 u128;
static int64_t
muldiv(uint64_t a, uint64_t b, uint64_t c)
{
	u128 r = (u128)a * b / c;
	return r > (u128)INT64_MAX ? INT64_MAX : (int64_t)r;
}
#else
static int64_t
muldiv(uint64_t a, uint64_t b, uint64_t c)
{
	long double r = (long double)a * b / c;
	return r >= (long double)INT64_MAX ? INT64_MAX : (int64_t)r;
}
#endif

static int64_t
sat_add(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* b - a for a <= b, which may not fit in an int64_t (times saturate at
 * INT64_MIN and INT64_MAX for years outside 1677..2262). */
static uint64_t
distance(int64_t a, int64_t b)
{
	return (uint64_t)b - (uint64_t)a;
}

/* The same, saturated at INT64_MAX. */
static int64_t
sat_distance(int64_t a, int64_t b)
{
	uint64_t d = distance(a, b);
	return d > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)d;
}

/*** factors and rates ***/

int
evk_replay_factor(const char *s, uint64_t *micro, struct evk_err *err)
{
	uint64_t ip = 0, frac = 0;
	int nd = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return evk__err(err, EVK_EINVAL, 1, "not a positive number");
	for (; *p >= '0' && *p <= '9'; p++) {
		ip = ip * 10 + (uint64_t)(*p - '0');
		if (ip > 1000000)
			return evk__err(err, EVK_EINVAL, 1,
			    "too large (at most 1000000)");
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (++nd > 6)
				return evk__err(err, EVK_EINVAL,
				    (size_t)(p - s) + 1,
				    "more than 6 fraction digits");
			frac = frac * 10 + (uint64_t)(*p - '0');
		}
	}
	if (*p != '\0')
		return evk__err(err, EVK_EINVAL, (size_t)(p - s) + 1,
		    "not a positive number");
	for (; nd < 6; nd++)
		frac *= 10;
	*micro = ip * EVK_REPLAY_ONE + frac;
	if (*micro == 0)
		return evk__err(err, EVK_EINVAL, 1, "must be more than 0");
	if (*micro > (uint64_t)1000000 * EVK_REPLAY_ONE)
		return evk__err(err, EVK_EINVAL, 1,
		    "too large (at most 1000000)");
	return 0;
}

int
evk_replay_rate(const char *s, uint64_t *num, uint64_t *den,
    struct evk_err *err)
{
	char n[64];
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t unit = 1000000000, micro;
	int rc;

	if (slash != NULL) {
		if (!strcmp(slash, "/s"))
			unit = 1000000000;
		else if (!strcmp(slash, "/m"))
			unit = UINT64_C(60000000000);
		else if (!strcmp(slash, "/h"))
			unit = UINT64_C(3600000000000);
		else
			return evk__err(err, EVK_EINVAL, len + 1,
			    "unknown unit (use /s, /m or /h)");
	}
	if (len >= sizeof n)
		return evk__err(err, EVK_EINVAL, 1, "not a positive number");
	memcpy(n, s, len);
	n[len] = '\0';
	if ((rc = evk_replay_factor(n, &micro, err)) < 0)
		return rc;
	/* interval = unit / (micro / 1e6); unit * 1e6 fits (3.6e18). */
	*num = unit * EVK_REPLAY_ONE;
	*den = micro;
	return 0;
}

/*** the recording's clock ***/

int
evk_replay_clock_step(struct evk_replay_clock *c, int has_time, int64_t t_ns,
    int64_t *eff, int *known)
{
	int rc = EVK_CLOCK_OK;

	if (!has_time)
		rc = EVK_CLOCK_UNTIMED;
	else if (c->have && t_ns < c->prev)
		rc = EVK_CLOCK_BACKWARDS;
	else {
		c->prev = t_ns;
		c->have = 1;
	}
	*known = c->have;
	*eff = c->have ? c->prev : 0;
	return rc;
}

/*** the schedule ***/

struct evk_sched {
	struct evk_sched_opts o;
	int64_t base; /* offset of the start of the current segment */
	int64_t seg_t0; /* recorded time at that start */
	int started; /* a timed event started the segment */
	int64_t last; /* the previous offset */
	uint64_t count; /* events planned */
	uint64_t idx; /* by rate: events planned */
};

struct evk_sched *
evk_sched_new(const struct evk_sched_opts *o)
{
	struct evk_sched *s = calloc(1, sizeof *s);

	if (s == NULL)
		return NULL;
	if (o != NULL)
		s->o = *o;
	if (s->o.speed == 0)
		s->o.speed = EVK_REPLAY_ONE;
	return s;
}

void
evk_sched_free(struct evk_sched *s)
{
	free(s);
}

int64_t
evk_sched_next(struct evk_sched *s, int known, int64_t t_ns)
{
	int64_t off;

	s->count++;
	if (s->o.fast)
		return 0;
	if (s->o.rate_den != 0) {
		off = sat_add(s->base,
		    muldiv(s->idx++, s->o.rate_num, s->o.rate_den));
		return s->last = off;
	}
	if (!known)
		return s->last;
	if (!s->started) {
		s->started = 1;
		s->seg_t0 = t_ns;
		/* The very first event is at 0; the first of a later pass
		 * at the base evk_sched_pass() set. */
		return s->last = s->base;
	}
	/* The clock never goes backwards, so t_ns >= seg_t0; dividing the
	 * distance from the segment's start (not each gap) by the speed is
	 * what keeps rounding from adding up. */
	off = sat_add(s->base,
	    muldiv(distance(s->seg_t0, t_ns), EVK_REPLAY_ONE, s->o.speed));
	if (s->o.max_gap_ns > 0 && off - s->last > s->o.max_gap_ns) {
		s->base = sat_add(s->last, s->o.max_gap_ns);
		s->seg_t0 = t_ns;
		off = s->base;
	}
	return s->last = off;
}

void
evk_sched_pass(struct evk_sched *s, int64_t gap_ns)
{
	if (s->o.fast)
		return;
	if (s->o.rate_den != 0) {
		/* The rate goes on from the last event: i * interval keeps
		 * counting, the gap is added once. */
		s->base = sat_add(s->base, gap_ns);
		return;
	}
	s->base = sat_add(s->last, gap_ns);
	s->started = 0;
}

uint64_t
evk_sched_count(const struct evk_sched *s)
{
	return s->count;
}

/*** statistics ***/

struct key {
	uint64_t count;
	uint32_t hash;
	uint16_t len;
	char name[EVK_STATS_MAX_KEY];
};

/* A fixed-size table of names and counts (open addressing). */
struct table {
	uint32_t slot[EVK_STATS_MAX_KEYS * 2]; /* index + 1; 0 empty */
	struct key key[EVK_STATS_MAX_KEYS];
	size_t n;
	uint64_t other; /* events whose key did not fit */
	uint64_t none; /* events without the member */
	int full; /* a key was refused for lack of room */
};

/* The bucket widths of the rate over time, in seconds: each divides the
 * next, so buckets merge exactly. */
static const int64_t units[] = {1, 10, 60, 600, 3600, 21600, 86400, 604800,
    2419200, 31449600};
#define NUNITS (sizeof units / sizeof units[0])

struct evk_stats {
	uint64_t events, bytes, invalid, untimed, backwards;
	int have; /* a timed event was seen */
	int64_t first, last; /* earliest and latest times */
	int64_t prev; /* the clock: latest time so far */
	int64_t gap, gap_at; /* the largest gap, after the time gap_at */
	struct table types, sources;
	struct evk_buf scratch; /* unescaping */
	size_t unit; /* index in units[] */
	int64_t lo; /* bucket number of counts[0] */
	size_t nb; /* buckets in use */
	uint64_t counts[EVK_STATS_BUCKETS];
};

struct evk_stats *
evk_stats_new(void)
{
	return calloc(1, sizeof(struct evk_stats));
}

void
evk_stats_free(struct evk_stats *s)
{
	if (s == NULL)
		return;
	evk_buf_free(&s->scratch);
	free(s);
}

void
evk_stats_invalid(struct evk_stats *s)
{
	s->invalid++;
}

static uint32_t
fnv(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n-- > 0)
		h = (h ^ (unsigned char)*p++) * 16777619u;
	return h;
}

static void
tally(struct table *t, const char *p, size_t n)
{
	uint32_t h, i, mask = EVK_STATS_MAX_KEYS * 2 - 1;
	struct key *k;

	if (n > EVK_STATS_MAX_KEY) {
		t->other++;
		return;
	}
	h = fnv(p, n);
	for (i = h & mask;; i = (i + 1) & mask) {
		if (t->slot[i] == 0)
			break;
		k = &t->key[t->slot[i] - 1];
		if (k->hash == h && k->len == n && !memcmp(k->name, p, n)) {
			k->count++;
			return;
		}
	}
	/* Half the slots at most are used: probes stay short. */
	if (t->n == EVK_STATS_MAX_KEYS) {
		t->other++;
		t->full = 1;
		return;
	}
	k = &t->key[t->n];
	k->count = 1;
	k->hash = h;
	k->len = (uint16_t)n;
	memcpy(k->name, p, n);
	t->slot[i] = (uint32_t)++t->n;
}

/* Tallies the string member `name` of `ev` in `t`. */
static int
tally_member(struct evk_stats *s, struct table *t, struct evk_span ev,
    const char *name)
{
	struct evk_span v;

	if (!evk_json_get(ev, name, strlen(name), &v) ||
	    evk_json_type_of(v) != EVK_JSON_STRING) {
		t->none++;
		return 0;
	}
	if (memchr(v.p, '\\', v.len) == NULL) {
		tally(t, v.p + 1, v.len - 2);
		return 0;
	}
	/* An escape: its name unescaped, unless it is too long anyway
	 * (an escape is at most 6 bytes for at least 1). */
	if (v.len - 2 > 6 * EVK_STATS_MAX_KEY) {
		t->other++;
		return 0;
	}
	evk_buf_reset(&s->scratch);
	if (evk_json_unescape(v, &s->scratch) < 0)
		return EVK_ENOMEM;
	tally(t, s->scratch.p, s->scratch.len);
	return 0;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Merges the buckets into the next coarser width. */
static void
coarsen(struct evk_stats *s)
{
	int64_t f = units[s->unit + 1] / units[s->unit];
	int64_t nlo = floor_div(s->lo, f), nb;
	uint64_t c;
	size_t i;

	for (i = 0; i < s->nb; i++) {
		c = s->counts[i];
		s->counts[i] = 0;
		nb = floor_div(s->lo + (int64_t)i, f) - nlo;
		s->counts[nb] += c; /* nb <= i: already moved */
	}
	s->nb = (size_t)(floor_div(s->lo + (int64_t)s->nb - 1, f) - nlo + 1);
	s->lo = nlo;
	s->unit++;
}

static void
bucket(struct evk_stats *s, int64_t t_ns)
{
	int64_t sec = floor_div(t_ns, 1000000000), b, lo, hi;
	size_t shift;

	for (;;) {
		b = floor_div(sec, units[s->unit]);
		if (s->nb == 0) {
			s->lo = b;
			s->nb = 1;
			break;
		}
		lo = b < s->lo ? b : s->lo;
		hi = s->lo + (int64_t)s->nb - 1;
		hi = b > hi ? b : hi;
		if (hi - lo < EVK_STATS_BUCKETS)
			break;
		if (s->unit + 1 == NUNITS) {
			/* Beyond thousands of years: the edge buckets. */
			b = b < s->lo ? s->lo : s->lo + (int64_t)s->nb - 1;
			break;
		}
		coarsen(s);
	}
	if (b < s->lo) {
		shift = (size_t)(s->lo - b);
		memmove(s->counts + shift, s->counts,
		    s->nb * sizeof s->counts[0]);
		memset(s->counts, 0, shift * sizeof s->counts[0]);
		s->lo = b;
		s->nb += shift;
	} else if (b >= s->lo + (int64_t)s->nb) {
		s->nb = (size_t)(b - s->lo) + 1; /* zeroed from the start */
	}
	s->counts[b - s->lo]++;
}

int
evk_stats_add(struct evk_stats *s, struct evk_span ev, size_t bytes,
    int has_time, int64_t t_ns)
{
	s->events++;
	s->bytes += bytes;
	if (tally_member(s, &s->types, ev, "type") < 0 ||
	    tally_member(s, &s->sources, ev, "source") < 0)
		return EVK_ENOMEM;
	if (!has_time) {
		s->untimed++;
		return 0;
	}
	if (!s->have) {
		s->have = 1;
		s->first = s->last = s->prev = t_ns;
		s->gap_at = t_ns;
	} else if (t_ns < s->prev) {
		s->backwards++;
	} else {
		if (sat_distance(s->prev, t_ns) > s->gap) {
			s->gap = sat_distance(s->prev, t_ns);
			s->gap_at = s->prev;
		}
		s->prev = t_ns;
	}
	if (t_ns < s->first)
		s->first = t_ns;
	if (t_ns > s->last)
		s->last = t_ns;
	bucket(s, t_ns);
	return 0;
}

/* --- the report --- */

static int addf(struct evk_buf *b, const char *fmt, ...) EVK__PRINTF(2, 3);

static int
addf(struct evk_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return EVK_ENOMEM;
	return evk_buf_add(b, tmp,
	    (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Seconds as nanoseconds, saturated as evk_time_ns() does. */
static int64_t
sec_ns(int64_t sec)
{
	if (sec >= INT64_MAX / 1000000000)
		return INT64_MAX;
	if (sec <= INT64_MIN / 1000000000)
		return INT64_MIN;
	return sec * 1000000000;
}

/* An instant in UTC with as few fraction digits (0, 3, 6, 9) as it needs. */
static void
fmt_time(char *buf, int64_t ns)
{
	struct evk_time t;
	int digits = 9;

	t.sec = floor_div(ns, 1000000000);
	t.nsec = (int32_t)(ns % 1000000000);
	if (t.nsec < 0)
		t.nsec += 1000000000;
	t.off_min = 0;
	if (t.nsec % 1000000 == 0)
		digits = t.nsec ? 3 : 0;
	else if (t.nsec % 1000 == 0)
		digits = 6;
	if (evk_time_format(buf, &t, digits, 1) < 0)
		snprintf(buf, EVK_TIME_MAXLEN, "(out of range)");
}

/* A duration as 1d2h3m4.5s: no unit that is 0, fraction only on s. */
static void
fmt_dur(char *buf, size_t n, int64_t ns)
{
	int64_t s = ns / 1000000000, frac = ns % 1000000000;
	size_t w = 0;
	int d;

	buf[0] = '\0';
	if (s >= 86400)
		w += (size_t)snprintf(buf + w, n - w, "%lldd",
		    (long long)(s / 86400));
	if (s % 86400 >= 3600)
		w += (size_t)snprintf(buf + w, n - w, "%lldh",
		    (long long)(s % 86400 / 3600));
	if (s % 3600 >= 60)
		w += (size_t)snprintf(buf + w, n - w, "%lldm",
		    (long long)(s % 3600 / 60));
	if (s % 60 != 0 || frac != 0 || w == 0) {
		w += (size_t)snprintf(buf + w, n - w, "%lld",
		    (long long)(s % 60));
		if (frac != 0) {
			for (d = 9; frac % 10 == 0; d--)
				frac /= 10;
			snprintf(buf + w, n - w, ".%0*lld", d, (long long)frac);
			w = strlen(buf);
		}
		snprintf(buf + w, n - w, "s");
	}
}

static int
cmp_keys(const void *a, const void *b)
{
	const struct key *x = *(const struct key *const *)a;
	const struct key *y = *(const struct key *const *)b;
	int c;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	c = memcmp(x->name, y->name, x->len < y->len ? x->len : y->len);
	return c ? c : (int)x->len - (int)y->len;
}

/* The rows of `t` sorted by count (then name): a new array, or NULL. */
static const struct key **
sorted(const struct table *t)
{
	const struct key **v = malloc((t->n ? t->n : 1) * sizeof *v);
	size_t i;

	if (v == NULL)
		return NULL;
	for (i = 0; i < t->n; i++)
		v[i] = &t->key[i];
	qsort(v, t->n, sizeof *v, cmp_keys);
	return v;
}

static double
share(uint64_t n, uint64_t of)
{
	return of ? (double)n / (double)of : 0.0;
}

/* The name as a JSON string (quotes included when `quotes`). */
static int
add_name(struct evk_buf *out, const struct key *k, int quotes)
{
	size_t at = out->len;

	if (evk_json_escape(out, k->name, k->len) < 0)
		return EVK_ENOMEM;
	if (!quotes) {
		memmove(out->p + at, out->p + at + 1, out->len - at - 2);
		out->len -= 2;
		out->p[out->len] = '\0';
	}
	return 0;
}

static int
table_json(struct evk_buf *out, const struct table *t, uint64_t events,
    size_t top, const char *what)
{
	const struct key **v = sorted(t);
	uint64_t rest = t->other;
	size_t i;
	int rc = 0;

	if (v == NULL)
		return EVK_ENOMEM;
	rc |= addf(out, "\"%s\":{\"distinct\":%zu,\"more\":%s,\"top\":[", what,
	    t->n, t->full ? "true" : "false");
	for (i = 0; i < t->n; i++) {
		if (i >= top) {
			rest += v[i]->count;
			continue;
		}
		rc |= addf(out, "%s{\"name\":", i ? "," : "");
		rc |= add_name(out, v[i], 1);
		rc |= addf(out, ",\"count\":%llu,\"share\":%.4f}",
		    (unsigned long long)v[i]->count,
		    share(v[i]->count, events));
	}
	rc |= addf(out, "],\"other\":%llu,\"none\":%llu}",
	    (unsigned long long)rest, (unsigned long long)t->none);
	free(v);
	return rc ? EVK_ENOMEM : 0;
}

static int
table_text(struct evk_buf *out, const struct table *t, uint64_t events,
    size_t top, const char *what)
{
	const struct key **v = sorted(t);
	uint64_t rest = t->other;
	size_t i, nrest = 0, w = 0;
	int rc = 0;

	if (v == NULL)
		return EVK_ENOMEM;
	for (i = 0; i < t->n && i < top; i++)
		if (v[i]->len > w)
			w = v[i]->len;
	w = w < 12 ? 12 : w > 40 ? 40 : w;
	rc |= addf(out, "%-13s %zu%s\n", what, t->n,
	    t->full ? " or more (the rest counted as other)" : " distinct");
	for (i = 0; i < t->n; i++) {
		if (i >= top) {
			rest += v[i]->count;
			nrest++;
			continue;
		}
		size_t at = out->len, len;
		rc |= addf(out, "  ");
		rc |= add_name(out, v[i], 0);
		len = out->len - at - 2;
		rc |= addf(out, "%*s %10llu %5.1f%%\n",
		    (int)(len < w ? w - len : 0), "",
		    (unsigned long long)v[i]->count,
		    100 * share(v[i]->count, events));
	}
	if (rest > 0)
		rc |= addf(out, "  %-*s %10llu %5.1f%%\n", (int)w,
		    t->full          ? "(other)"
		        : nrest == 1 ? "(1 other)"
		                     : "(others)",
		    (unsigned long long)rest, 100 * share(rest, events));
	if (t->none > 0)
		rc |= addf(out, "  %-*s %10llu %5.1f%%\n", (int)w, "(none)",
		    (unsigned long long)t->none, 100 * share(t->none, events));
	free(v);
	return rc ? EVK_ENOMEM : 0;
}

static const char *const unit_names[] = {"second", "10 seconds", "minute",
    "10 minutes", "hour", "6 hours", "day", "week", "4 weeks", "52 weeks"};

/* The coarsest-needed width for at most `width` bars: its index. */
static size_t
chart_unit(const struct evk_stats *s, size_t width)
{
	size_t u = s->unit;
	int64_t f, lo, hi;

	for (; u + 1 < NUNITS; u++) {
		f = units[u] / units[s->unit];
		lo = floor_div(s->lo, f);
		hi = floor_div(s->lo + (int64_t)s->nb - 1, f);
		if (hi - lo + 1 <= (int64_t)width)
			break;
	}
	/* At least a minute: a bar per second of a short recording says
	 * little and rarely fits. */
	while (u < 2 && u + 1 < NUNITS && units[u] < 60) {
		f = units[u + 1] / units[s->unit];
		if (floor_div(s->lo + (int64_t)s->nb - 1, f) ==
		    floor_div(s->lo, f))
			break;
		u++;
	}
	return u;
}

/* Calls back with each bar's count at width units[u]. */
static size_t
bars(const struct evk_stats *s, size_t u, uint64_t *out, size_t max,
    int64_t *start)
{
	int64_t f = units[u] / units[s->unit], lo = floor_div(s->lo, f);
	size_t i, n = 0, b;

	for (i = 0; i < s->nb; i++) {
		b = (size_t)(floor_div(s->lo + (int64_t)i, f) - lo);
		if (b >= max)
			break;
		while (n <= b)
			out[n++] = 0;
		out[b] += s->counts[i];
	}
	*start = lo * units[u];
	return n;
}

int
evk_stats_report(const struct evk_stats *s, const struct evk_stats_fmt *f,
    struct evk_buf *out)
{
	static const char *const spark[] = {"\xe2\x96\x81", "\xe2\x96\x82",
	    "\xe2\x96\x83", "\xe2\x96\x84", "\xe2\x96\x85", "\xe2\x96\x86",
	    "\xe2\x96\x87", "\xe2\x96\x88"};
	size_t top = f && f->top ? f->top : 10;
	size_t width = f && f->width > 0 ? (size_t)f->width : 60;
	char t1[EVK_TIME_MAXLEN], t2[EVK_TIME_MAXLEN], d[64];
	uint64_t bar[EVK_STATS_BUCKETS], peak = 0;
	int64_t start = 0, peak_at = 0;
	size_t u = 0, n = 0, i;
	int rc = 0;

	if (s->have) {
		fmt_time(t1, s->first);
		fmt_time(t2, s->last);
		u = chart_unit(s, f && f->json ? EVK_STATS_BUCKETS : width);
		n = bars(s, u, bar, EVK_STATS_BUCKETS, &start);
		for (i = 0; i < n; i++)
			if (bar[i] > peak) {
				peak = bar[i];
				peak_at = start + (int64_t)i * units[u];
			}
	}
	if (f && f->json) {
		rc |= addf(out,
		    "{\"events\":%llu,\"bytes\":%llu,\"invalid\":%llu,"
		    "\"untimed\":%llu,\"out_of_order\":%llu,",
		    (unsigned long long)s->events, (unsigned long long)s->bytes,
		    (unsigned long long)s->invalid,
		    (unsigned long long)s->untimed,
		    (unsigned long long)s->backwards);
		if (s->have) {
			fmt_time(d, s->gap_at);
			rc |= addf(out,
			    "\"first\":\"%s\",\"last\":\"%s\",\"span_ns\":%lld,"
			    "\"largest_gap_ns\":%lld,\"largest_gap_after\":"
			    "\"%s\",",
			    t1, t2, (long long)sat_distance(s->first, s->last),
			    (long long)s->gap, d);
		} else
			rc |= addf(out,
			    "\"first\":null,\"last\":null,"
			    "\"span_ns\":0,\"largest_gap_ns\":0,"
			    "\"largest_gap_after\":null,");
		rc |= table_json(out, &s->types, s->events, top, "types");
		rc |= addf(out, ",");
		rc |= table_json(out, &s->sources, s->events, top, "sources");
		rc |= addf(out, ",\"rate\":{\"unit_s\":%lld,\"start\":",
		    (long long)units[u]);
		if (s->have) {
			fmt_time(d, sec_ns(start));
			rc |= addf(out, "\"%s\",\"counts\":[", d);
		} else
			rc |= addf(out, "null,\"counts\":[");
		for (i = 0; i < n; i++)
			rc |= addf(out, "%s%llu", i ? "," : "",
			    (unsigned long long)bar[i]);
		rc |= addf(out, "]}}\n");
		return rc ? EVK_ENOMEM : 0;
	}
	rc |=
	    addf(out, "%-13s %llu\n", "events", (unsigned long long)s->events);
	rc |= addf(out, "%-13s %llu\n", "bytes", (unsigned long long)s->bytes);
	rc |= addf(out, "%-13s %llu\n", "invalid lines",
	    (unsigned long long)s->invalid);
	if (s->have) {
		fmt_dur(d, sizeof d, sat_distance(s->first, s->last));
		rc |=
		    addf(out, "%-13s %s .. %s (%s)\n", "time span", t1, t2, d);
		fmt_dur(d, sizeof d, s->gap);
		fmt_time(t1, s->gap_at);
		rc |= addf(out, "%-13s %s after %s\n", "largest gap", d, t1);
	} else
		rc |= addf(out, "%-13s none (no event with a time)\n",
		    "time span");
	rc |= addf(out, "%-13s %llu\n", "out of order",
	    (unsigned long long)s->backwards);
	rc |= addf(out, "%-13s %llu\n", "untimed",
	    (unsigned long long)s->untimed);
	rc |= table_text(out, &s->types, s->events, top, "types");
	rc |= table_text(out, &s->sources, s->events, top, "sources");
	if (s->have) {
		fmt_time(t1, sec_ns(start));
		fmt_time(t2, sec_ns(peak_at));
		rc |= addf(out, "%-13s per %s from %s, peak %llu at %s\n",
		    "rate", unit_names[u], t1, (unsigned long long)peak, t2);
		rc |= addf(out, "  ");
		for (i = 0; i < n && i < width; i++)
			rc |= addf(out, "%s",
			    bar[i] == 0 ? " " : spark[(bar[i] * 8 - 1) / peak]);
		rc |= addf(out, "\n");
	}
	return rc ? EVK_ENOMEM : 0;
}

/*** reading from the end ***/

#define TAIL_BLOCK 65536

int
evk_replay_tail(int fd, uint64_t n, size_t max_line, evk_line_fn accept,
    void *ctx, off_t *off, struct evk_err *err)
{
	char *blk = malloc(TAIL_BLOCK);
	struct evk_buf line = EVK_BUF_ZERO; /* grows to the longest line read */
	struct stat st;
	off_t pos, end, q, lo;
	uint64_t found = 0;
	ssize_t got;
	size_t len, k;
	int rc = 0;

	*off = 0;
	if (blk == NULL) {
		rc = evk__err(err, EVK_ENOMEM, 0, "out of memory");
		goto done;
	}
	if (fstat(fd, &st) < 0) {
		rc = evk__err_sys(err, errno, "stat");
		goto done;
	}
	end = st.st_size; /* the current line is [q + 1, end) */
	if (n == 0) {
		*off = end;
		goto done;
	}
	pos = end;
	/* A final "\n" ends the last line; it does not start an empty one. */
	if (end > 0 && pread(fd, blk, 1, end - 1) == 1 && blk[0] == '\n')
		pos = end = end - 1;
	while (pos >= 0) {
		lo = pos > TAIL_BLOCK ? pos - TAIL_BLOCK : 0;
		got = lo < pos ? pread(fd, blk, (size_t)(pos - lo), lo) : 0;
		if (got < 0) {
			if (errno == EINTR)
				continue;
			rc = evk__err_sys(err, errno, "read");
			goto done;
		}
		if (got != pos - lo) { /* shrank under us: what we have */
			rc = evk__err(err, EVK_EIO, 0,
			    "read: the file shrank while read");
			goto done;
		}
		for (k = (size_t)got;; k--) {
			/* q: the "\n" before the line, or -1 at the start. */
			if (k > 0 && blk[k - 1] != '\n')
				continue;
			if (k == 0 && lo > 0)
				break; /* the line goes on in the block before */
			q = k > 0 ? lo + (off_t)k - 1 : -1;
			len = (size_t)(end - (q + 1));
			if (len <= max_line) {
				evk_buf_reset(&line);
				if (evk_buf_reserve(&line, len) < 0) {
					rc = evk__err(err, EVK_ENOMEM, 0,
					    "out of memory");
					goto done;
				}
				got = len ? pread(fd, line.p, len, q + 1) : 0;
				if (got != (ssize_t)len) {
					rc = evk__err_sys(err,
					    got < 0 ? errno : EIO, "read");
					goto done;
				}
				if (len > 0 && line.p[len - 1] == '\r')
					len--;
				if (accept(ctx, line.p, len) && ++found == n) {
					*off = q + 1;
					goto done;
				}
			}
			end = q;
			if (k == 0)
				break;
		}
		if (lo == 0)
			break;
		pos = lo;
	}
	*off = 0;
done:
	free(blk);
	evk_buf_free(&line);
	return rc;
}

/*** following a growing file ***/

struct evk_follow {
	struct evk_follow_opts o;
	char *path;
	int fd;
	struct stat st; /* of the file open */
	off_t pos; /* bytes read from it */
	int last_nl; /* the last byte handed out was "\n" (or none was) */
	int end_line; /* hand out a "\n" first */
	uint64_t rotations;
};

int
evk_follow_open(const char *path, const struct evk_follow_opts *o,
    struct evk_follow **fp, struct evk_err *err)
{
	struct evk_follow *f = calloc(1, sizeof *f);

	*fp = NULL;
	if (f == NULL || (f->path = strdup(path)) == NULL) {
		free(f);
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	}
	if (o != NULL)
		f->o = *o;
	if (f->o.poll_ns <= 0)
		f->o.poll_ns = 100000000;
	f->last_nl = 1;
	if ((f->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(f->fd, &f->st) < 0) {
		int e = errno;
		evk_follow_free(f);
		return evk__err_sys(err, e, "%s", path);
	}
	*fp = f;
	return 0;
}

void
evk_follow_free(struct evk_follow *f)
{
	if (f == NULL)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f);
}

uint64_t
evk_follow_rotations(const struct evk_follow *f)
{
	return f->rotations;
}

/* At the end of the file: has it been replaced or truncated?  Returns 1
 * when reading should go on at once. */
static int
rotated(struct evk_follow *f)
{
	struct stat now;
	int fd;

	if (stat(f->path, &now) == 0 &&
	    (now.st_ino != f->st.st_ino || now.st_dev != f->st.st_dev)) {
		/* Replaced: the old file was read to its end just now. */
		if ((fd = open(f->path, O_RDONLY | O_CLOEXEC)) < 0)
			return 0; /* gone again: look later */
		if (fstat(fd, &now) < 0) {
			close(fd);
			return 0;
		}
		close(f->fd);
		f->fd = fd;
		f->st = now;
		f->pos = 0;
		f->rotations++;
		f->end_line = !f->last_nl;
		return 1;
	}
	if (fstat(f->fd, &now) == 0 && now.st_size < f->pos) {
		/* Truncated (copytruncate): from the start again. */
		if (lseek(f->fd, 0, SEEK_SET) < 0)
			return 0;
		f->pos = 0;
		f->rotations++;
		f->end_line = !f->last_nl;
		return 1;
	}
	return 0;
}

ssize_t
evk_follow_read(void *ctx, void *buf, size_t len)
{
	struct evk_follow *f = ctx;
	struct timespec ts;
	ssize_t n;

	for (;;) {
		if (f->end_line && len > 0) {
			*(char *)buf = '\n';
			f->end_line = 0;
			f->last_nl = 1;
			return 1;
		}
		n = read(f->fd, buf, len);
		if (n > 0) {
			f->pos += n;
			f->last_nl = ((char *)buf)[n - 1] == '\n';
			return n;
		}
		if (n < 0 && errno != EINTR)
			return -1;
		if (n == 0 && rotated(f))
			continue;
		if (f->o.idle != NULL)
			f->o.idle(f->o.ctx);
		if (f->o.stop != NULL && *f->o.stop) {
			errno = EINTR;
			return -1;
		}
		ts.tv_sec = (time_t)(f->o.poll_ns / 1000000000);
		ts.tv_nsec = (long)(f->o.poll_ns % 1000000000);
		/* With the stop signals let in only while waiting, a stop
		 * that comes before the wait ends it at once. */
		(void)pselect(0, NULL, NULL, NULL, &ts, f->o.sigmask);
		if (f->o.stop != NULL && *f->o.stop) {
			errno = EINTR;
			return -1;
		}
	}
}

/* --- choosing the events --- */

/* Blanks only (space, tab, CR): what every program skips as no event. */
static int
blank(const char *p, size_t n)
{
	while (n > 0 && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++, n--;
	return n == 0;
}

int
evk_replay_event_time(struct evk_span ev, const char *time_field, int64_t *t_ns)
{
	struct evk_time t;

	if (evk_event_time_at(ev, time_field, &t, NULL) < 0)
		return 0;
	*t_ns = evk_time_ns(&t);
	return 1;
}

int
evk_replay_parse(const struct evk_replay_select *s, const char *p, size_t n,
    int *has_time, int64_t *t_ns, struct evk_err *err)
{
	struct evk_span ev = {p, n};
	enum evk_json_type type;

	if (blank(p, n))
		return EVK_REPLAY_BLANK;
	if (evk_json_check(s->json, p, n, &type, err) < 0)
		return EVK_REPLAY_BADJSON;
	if (type != EVK_JSON_OBJECT)
		return EVK_REPLAY_NOTOBJ;
	*has_time = evk_replay_event_time(ev, s->time_field, t_ns);
	return EVK_REPLAY_EVENT;
}

int
evk_replay_match(const struct evk_replay_select *s, struct evk_span ev,
    int known, int64_t t_ns, struct evk_err *err)
{
	int rc;

	/* Untimed events are outside any --since: they cannot be placed. */
	if (s->has_since && (!known || t_ns < s->since))
		return 0;
	if (s->has_until && known && t_ns >= s->until)
		return 0;
	if (s->expr == NULL)
		return 1;
	rc = evk_expr_eval(s->expr, ev, err);
	return rc < 0 ? rc : rc > 0;
}

int
evk_replay_accepts(void *ctx, const char *p, size_t n)
{
	const struct evk_replay_select *s = ctx;
	struct evk_span ev = {p, n};
	struct evk_err err = EVK_ERR_ZERO;
	int64_t t = 0;
	int has = 0;

	if (evk_replay_parse(s, p, n, &has, &t, NULL) != EVK_REPLAY_EVENT)
		return 0;
	return evk_replay_match(s, ev, has, t, &err) == 1;
}

void
evk_replay_pass_start(struct evk_replay_pass *ps)
{
	ps->clock = (struct evk_replay_clock)EVK_REPLAY_CLOCK_ZERO;
	ps->skipped = ps->selected = 0;
	ps->done = 0;
}

int
evk_replay_pick(const struct evk_replay_select *s, struct evk_replay_pass *ps,
    const char *p, size_t n, struct evk_replay_pick *pk, struct evk_err *err)
{
	int rc;

	pk->ev.p = p;
	pk->ev.len = n;
	pk->has_time = 0;
	pk->t_ns = 0;
	pk->eff = 0;
	rc = evk_replay_parse(s, p, n, &pk->has_time, &pk->t_ns, err);
	if (rc != EVK_REPLAY_EVENT)
		return rc;
	pk->clock = evk_replay_clock_step(&ps->clock, pk->has_time, pk->t_ns,
	    &pk->eff, &pk->known);
	/* Looking at a recording, each event has its own time; replaying
	 * it, the time it is replayed with. */
	if (!ps->replay) {
		pk->known = pk->has_time;
		pk->eff = pk->t_ns;
	}
	/* The clock never goes back: past `until`, nothing more comes. */
	if (ps->replay && s->has_until && pk->known && pk->eff >= s->until) {
		ps->done = 1;
		return EVK_REPLAY_SKIPPED;
	}
	if ((rc = evk_replay_match(s, pk->ev, pk->known, pk->eff, err)) <= 0)
		return rc < 0 ? rc : EVK_REPLAY_SKIPPED;
	if (ps->skipped < ps->skip) {
		ps->skipped++;
		return EVK_REPLAY_SKIPPED;
	}
	ps->selected++;
	if (ps->count > 0 && ps->selected >= ps->count)
		ps->done = 1;
	return EVK_REPLAY_EVENT;
}

/* evk_replay_span()'s test of a line: an event with a time, kept. */
struct span_ctx {
	const struct evk_replay_select *s;
	int64_t t;
};

static int
timed(void *ctx, const char *p, size_t n)
{
	struct span_ctx *sc = ctx;
	int64_t t = sc->t;
	int has = 0;

	if (evk_replay_parse(sc->s, p, n, &has, &t, NULL) != EVK_REPLAY_EVENT ||
	    !has)
		return 0;
	sc->t = t;
	return 1;
}

int
evk_replay_span(const struct evk_replay_select *s, const char *first,
    const char *last, size_t max_line, volatile sig_atomic_t *stop,
    const sigset_t *sigmask, int64_t *t_first, int64_t *t_last)
{
	struct evk_reader_opts ro = {0};
	struct span_ctx sc = {s, 0};
	struct evk_reader *r;
	struct evk_line ln;
	int64_t t0;
	off_t off;
	int fd, rc;

	/* The first time: from the start of the first file. */
	if ((fd = open(first, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	ro.max_line = max_line;
	ro.stop = stop;
	ro.sigmask = sigmask;
	if ((r = evk_reader_new(fd, &ro)) == NULL) {
		close(fd);
		return EVK_ENOMEM;
	}
	while (evk_reader_next(r, &ln, NULL) == 1)
		if (timed(&sc, ln.p, ln.len))
			break;
	evk_reader_free(r);
	close(fd);
	t0 = sc.t;
	/* The last: from the end of the last, which a large file makes
	 * worth not reading whole. */
	if ((fd = open(last, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	rc = evk_replay_tail(fd, 1, max_line, timed, &sc, &off, NULL);
	close(fd);
	if (rc < 0)
		return 0;
	*t_first = t0;
	*t_last = sc.t;
	return 1;
}

/* --- the last lines --- */

/* The slots are allocated at once and each keeps its memory when it is
 * reused, so a steady stream costs no allocation per line. */
struct evk_ring {
	struct evk_buf *b;
	size_t n, at, len; /* slots; the next to write; lines held */
};

struct evk_ring *
evk_ring_new(size_t n)
{
	struct evk_ring *r;

	if (n == 0 || (r = calloc(1, sizeof *r)) == NULL)
		return NULL;
	if ((r->b = calloc(n, sizeof *r->b)) == NULL) {
		free(r);
		return NULL;
	}
	r->n = n;
	return r;
}

void
evk_ring_free(struct evk_ring *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++)
		evk_buf_free(&r->b[i]);
	free(r->b);
	free(r);
}

int
evk_ring_push(struct evk_ring *r, const char *p, size_t len)
{
	struct evk_buf *b = &r->b[r->at];

	evk_buf_reset(b);
	if (evk_buf_add(b, p, len) < 0)
		return EVK_ENOMEM;
	r->at = (r->at + 1) % r->n;
	if (r->len < r->n)
		r->len++;
	return 0;
}

size_t
evk_ring_len(const struct evk_ring *r)
{
	return r->len;
}

struct evk_span
evk_ring_get(const struct evk_ring *r, size_t i)
{
	const struct evk_buf *b = &r->b[(r->at + r->n - r->len + i) % r->n];
	struct evk_span sp = {b->p, b->len};

	return sp;
}

/* --- pacing and progress --- */

int64_t
evk_replay_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int
evk_replay_wait(int64_t deadline, volatile sig_atomic_t *stop,
    const sigset_t *sigmask, int fd, evk_ready_fn ready, void *ctx,
    struct evk_err *err)
{
	struct timespec ts;
	int64_t left;
	fd_set rf;
	int rc;

	while ((stop == NULL || !*stop) &&
	    (left = deadline - evk_replay_now()) > 0) {
		/* Far off: wait where a stop signal and the fd can end the
		 * wait, and wake a millisecond early, since pselect() may
		 * oversleep by the timer slack. */
		if (left > 2000000) {
			left -= 1000000;
			ts.tv_sec = (time_t)(left / 1000000000);
			ts.tv_nsec = (long)(left % 1000000000);
			FD_ZERO(&rf);
			if (fd >= 0 && fd < FD_SETSIZE)
				FD_SET(fd, &rf);
			rc = pselect(fd + 1, &rf, NULL, NULL, &ts, sigmask);
			if (rc > 0 && fd >= 0 && fd < FD_SETSIZE &&
			    FD_ISSET(fd, &rf) && ready != NULL &&
			    (rc = ready(ctx, err)) < 0)
				return rc;
			continue;
		}
		/* Near: to the deadline itself, absolute. */
		ts.tv_sec = (time_t)(deadline / 1000000000);
		ts.tv_nsec = (long)(deadline % 1000000000);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	return 0;
}

/* The time left, as 1h02m03s, 2m03s or 3s: whole seconds, for a line
 * that changes four times a second. */
static void
eta_dur(char *buf, size_t n, int64_t ns)
{
	long long s = (long long)(ns / 1000000000);

	if (s >= 3600)
		snprintf(buf, n, "%lldh%02lldm%02llds", s / 3600, s % 3600 / 60,
		    s % 60);
	else if (s >= 60)
		snprintf(buf, n, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(buf, n, "%llds", s);
}

int
evk_replay_progress_line(const struct evk_replay_progress *p, const char *prog,
    uint64_t sent, int64_t elapsed_ns, int last, struct evk_buf *out)
{
	char pos[96] = "", eta[48] = "", dur[40], t[EVK_TIME_MAXLEN];
	struct evk_time tm;
	double f;
	size_t w;

	if (p->started) {
		tm.sec = p->eff / 1000000000;
		tm.nsec = (int32_t)(p->eff % 1000000000);
		tm.off_min = 0;
		if (tm.nsec < 0) {
			tm.sec--;
			tm.nsec += 1000000000;
		}
		if (evk_time_format(t, &tm, 0, 1) > 0)
			snprintf(pos, sizeof pos, "  at %s", t);
	}
	/* The share and the time left need a span that is not empty. */
	if (p->span && p->started && p->last > p->first) {
		f = ((double)p->eff - (double)p->first) /
		    ((double)p->last - (double)p->first);
		w = strlen(pos);
		f = f < 0 ? 0 : f > 1 ? 1 : f;
		snprintf(pos + w, sizeof pos - w, " (%.0f%%)", 100 * f);
		if (f > 0 && elapsed_ns > 0) {
			eta_dur(dur, sizeof dur,
			    (int64_t)((double)elapsed_ns * (1 - f) / f));
			snprintf(eta, sizeof eta, "  ETA %s", dur);
		}
	}
	if (evk_buf_add(out, "\r", 1) < 0 || evk_buf_adds(out, prog) < 0)
		return EVK_ENOMEM;
	return addf(out, ": sent %llu  %.0f/s%s%s\033[K%s",
	    (unsigned long long)sent,
	    elapsed_ns > 0 ? (double)sent * 1e9 / (double)elapsed_ns : 0.0, pos,
	    eta, last ? "\n" : "");
}
