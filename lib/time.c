/*
 * lib/time.c - instants: RFC 3339 text, the clock and epoch numbers.
 *
 * The calendar is done by hand with Howard Hinnant's days-from-civil and
 * civil-from-days algorithms instead of timegm()/gmtime_r(): those depend
 * on the C library (timegm is not even POSIX), on the width of time_t and
 * sometimes on TZ, and they cost a call per event where evk_time_format()
 * sits in the hot loop.  All arithmetic below is on integers and exact.
 *
 * Only years 0000..9999 exist here, since RFC 3339 has four-digit years.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "evkit/time.h"
#include "internal.h"

/* First second of 0000-01-01 and of 10000-01-01, UTC. */
#define MIN_SEC INT64_C(-62167219200)
#define END_SEC INT64_C(253402300800)

#define DAY_SEC 86400
#define MAX_OFF 1439 /* 23:59 in minutes */

/* "00" "01" ... "99": two digits per table lookup when formatting. */
static const char pairs[200] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

static const int32_t p10[10] = {
    1,
    10,
    100,
    1000,
    10000,
    100000,
    1000000,
    10000000,
    100000000,
    1000000000,
};

/* Not isdigit(): that one looks at the locale and wants an int >= -1. */
static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_leap(int y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int
month_days(int y, int m)
{
	static const int days[12] = {
	    31,
	    28,
	    31,
	    30,
	    31,
	    30,
	    31,
	    31,
	    30,
	    31,
	    30,
	    31,
	};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/*
 * Days from 1970-01-01 to y-m-d (proleptic Gregorian).  The year is
 * counted from March so that the leap day ends it; an era is the 400-year
 * cycle of 146097 days.
 */
static int64_t
days_from_civil(int y, int m, int d)
{
	int era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int64_t)era * 146097 + doe - 719468;
}

/*
 * The inverse, for `day` counted from 0000-01-01 (0..3652424).  Counting
 * from 0000-03-01 one era early keeps everything unsigned: January and
 * February of year 0 would otherwise fall in era -1.
 */
static void
civil_from_days(uint32_t day, int *y, int *m, int *d)
{
	uint32_t z, era, doe, yoe, doy, mp;

	z = day - 60 + 146097; /* 0000-01-01 is 60 days before 0000-03-01 */
	era = z / 146097;
	doe = z % 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400) - 400 + (*m <= 2);
}

/* Reads `n` digits at s[i], never past `len`. */
static int
get_num(const char *s, size_t len, size_t i, int n, int *v, struct evk_err *err)
{
	int k;

	*v = 0;
	for (k = 0; k < n; k++, i++) {
		if (i >= len)
			return evk__err(err, EVK_ETIME, i + 1,
			    "unexpected end at column %zu", i + 1);
		if (!is_digit(s[i]))
			return evk__err(err, EVK_ETIME, i + 1,
			    "expected digit at column %zu", i + 1);
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* Checks for separator `c` (or `alt`, its other case) at s[i]. */
static int
get_sep(const char *s, size_t len, size_t i, char c, char alt,
    struct evk_err *err)
{
	if (i >= len)
		return evk__err(err, EVK_ETIME, i + 1,
		    "unexpected end at column %zu", i + 1);
	if (s[i] != c && s[i] != alt)
		return evk__err(err, EVK_ETIME, i + 1,
		    "expected '%c' at column %zu", c, i + 1);
	return 0;
}

int
evk_time_parse(const char *s, size_t len, struct evk_time *t,
    struct evk_err *err)
{
	int y, mo, d, h, mi, sec, oh, om, off, nsec, nd, rc;
	size_t i;

	if (len == 0)
		return evk__err(err, EVK_ETIME, 1, "empty time");

	/* Fields are checked left to right, so the error names the first
	 * bad column.  The fixed part is "YYYY-MM-DDTHH:MM:SS" (19 bytes). */
	if ((rc = get_num(s, len, 0, 4, &y, err)) != 0 ||
	    (rc = get_sep(s, len, 4, '-', '-', err)) != 0 ||
	    (rc = get_num(s, len, 5, 2, &mo, err)) != 0)
		return rc;
	if (mo < 1 || mo > 12)
		return evk__err(err, EVK_ETIME, 6, "month %02d out of range",
		    mo);
	if ((rc = get_sep(s, len, 7, '-', '-', err)) != 0 ||
	    (rc = get_num(s, len, 8, 2, &d, err)) != 0)
		return rc;
	if (d < 1 || d > month_days(y, mo))
		return evk__err(err, EVK_ETIME, 9,
		    "day %02d out of range for %04d-%02d", d, y, mo);
	if ((rc = get_sep(s, len, 10, 'T', 't', err)) != 0 ||
	    (rc = get_num(s, len, 11, 2, &h, err)) != 0)
		return rc;
	if (h > 23)
		return evk__err(err, EVK_ETIME, 12, "hour %02d out of range",
		    h);
	if ((rc = get_sep(s, len, 13, ':', ':', err)) != 0 ||
	    (rc = get_num(s, len, 14, 2, &mi, err)) != 0)
		return rc;
	if (mi > 59)
		return evk__err(err, EVK_ETIME, 15, "minute %02d out of range",
		    mi);
	if ((rc = get_sep(s, len, 16, ':', ':', err)) != 0 ||
	    (rc = get_num(s, len, 17, 2, &sec, err)) != 0)
		return rc;
	if (sec > 60)
		return evk__err(err, EVK_ETIME, 18, "second %02d out of range",
		    sec);

	/* Any number of fraction digits; those past the ninth are dropped
	 * (truncation, as the header promises, so no carry into seconds). */
	i = 19;
	nsec = 0;
	if (i < len && s[i] == '.') {
		i++;
		if (i >= len || !is_digit(s[i]))
			return evk__err(err, EVK_ETIME, i + 1,
			    "expected digit after '.' at column %zu", i + 1);
		for (nd = 0; i < len && is_digit(s[i]); i++)
			if (nd < 9) {
				nsec = nsec * 10 + (s[i] - '0');
				nd++;
			}
		if (nd < 9)
			nsec *= p10[9 - nd];
	}

	if (i >= len)
		return evk__err(err, EVK_ETIME, i + 1,
		    "expected 'Z' or offset at column %zu", i + 1);
	if (s[i] == 'Z' || s[i] == 'z') {
		off = 0;
		i++;
	} else if (s[i] == '+' || s[i] == '-') {
		/* "-00:00" (RFC 3339 4.3, offset unknown) reads as "Z". */
		if ((rc = get_num(s, len, i + 1, 2, &oh, err)) != 0)
			return rc;
		if (oh > 23)
			return evk__err(err, EVK_ETIME, i + 2,
			    "offset hour %02d out of range", oh);
		if ((rc = get_sep(s, len, i + 3, ':', ':', err)) != 0 ||
		    (rc = get_num(s, len, i + 4, 2, &om, err)) != 0)
			return rc;
		if (om > 59)
			return evk__err(err, EVK_ETIME, i + 5,
			    "offset minute %02d out of range", om);
		off = oh * 60 + om;
		if (s[i] == '-')
			off = -off;
		i += 6;
	} else
		return evk__err(err, EVK_ETIME, i + 1,
		    "expected 'Z' or offset at column %zu", i + 1);
	if (i != len)
		return evk__err(err, EVK_ETIME, i + 1,
		    "trailing characters at column %zu", i + 1);

	/* A leap second (:60) simply adds up to the next minute's :00, which
	 * is how POSIX time, having no leap seconds, reads it.  `t` is only
	 * written on success. */
	t->sec = days_from_civil(y, mo, d) * DAY_SEC + h * 3600 + mi * 60 +
	    sec - (int64_t)off * 60;
	t->nsec = nsec;
	t->off_min = off;
	return 0;
}

int
evk_time_format(char *buf, const struct evk_time *t, int digits, int utc)
{
	int64_t local;
	uint32_t u, tod;
	int32_t frac;
	int y, m, d, off, k;
	char *p = buf;

	if (digits < 0 || digits > 9 || t->nsec < 0 || t->nsec > 999999999)
		return EVK_ERANGE;
	off = utc ? 0 : t->off_min;
	if (off < -MAX_OFF || off > MAX_OFF)
		return EVK_ERANGE;
	/* Range first, so that adding the offset cannot overflow. */
	if (t->sec < MIN_SEC - DAY_SEC || t->sec >= END_SEC + DAY_SEC)
		return EVK_ERANGE;
	local = t->sec + (int64_t)off * 60;
	if (local < MIN_SEC || local >= END_SEC)
		return EVK_ERANGE;

	/* Counted from 0000-01-01 the day number is < 3652425 and fits
	 * 32 unsigned bits, which keeps the divisions below cheap. */
	u = (uint32_t)((local - MIN_SEC) / DAY_SEC);
	tod = (uint32_t)((local - MIN_SEC) % DAY_SEC);
	civil_from_days(u, &y, &m, &d);

	memcpy(p, pairs + 2 * (y / 100), 2);
	memcpy(p + 2, pairs + 2 * (y % 100), 2);
	p[4] = '-';
	memcpy(p + 5, pairs + 2 * m, 2);
	p[7] = '-';
	memcpy(p + 8, pairs + 2 * d, 2);
	p[10] = 'T';
	memcpy(p + 11, pairs + 2 * (tod / 3600), 2);
	p[13] = ':';
	memcpy(p + 14, pairs + 2 * (tod / 60 % 60), 2);
	p[16] = ':';
	memcpy(p + 17, pairs + 2 * (tod % 60), 2);
	p += 19;

	if (digits > 0) {
		/* Truncated, not rounded, as the parser does: rounding could
		 * carry into the seconds and change the date. */
		frac = t->nsec / p10[9 - digits];
		*p = '.';
		for (k = digits; k > 0; k--) {
			p[k] = (char)('0' + frac % 10);
			frac /= 10;
		}
		p += digits + 1;
	}

	if (off == 0)
		*p++ = 'Z';
	else {
		*p++ = off < 0 ? '-' : '+';
		if (off < 0)
			off = -off;
		memcpy(p, pairs + 2 * (off / 60), 2);
		p[2] = ':';
		memcpy(p + 3, pairs + 2 * (off % 60), 2);
		p += 5;
	}
	*p = '\0';
	return (int)(p - buf);
}

void
evk_time_now(struct evk_time *t)
{
	struct timespec ts;

	/* CLOCK_REALTIME is always there; time() is the belt to its braces. */
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
		ts.tv_sec = time(NULL);
		ts.tv_nsec = 0;
	}
	t->sec = (int64_t)ts.tv_sec;
	t->nsec = (int32_t)ts.tv_nsec;
	t->off_min = 0;
}

int
evk_time_from_epoch(const char *s, size_t len, struct evk_time *t,
    struct evk_err *err)
{
	size_t i = 0, fi, nd, want;
	uint64_t ip = 0;
	int64_t sec;
	int32_t nsec, frac = 0;
	int neg = 0, big = 0, ms;

	/* JSON's number grammar without the exponent: -?(0|[1-9][0-9]*)
	 * (\.[0-9]+)?.  The syntax is checked in full before the range, so
	 * that "1e99" and "9999999999999999999x" are not numbers at all. */
	if (len == 0)
		return evk__err(err, EVK_ETIME, 1, "empty epoch number");
	if (s[0] == '-') {
		neg = 1;
		i++;
	}
	if (i >= len)
		return evk__err(err, EVK_ETIME, i + 1,
		    "unexpected end at column %zu", i + 1);
	if (!is_digit(s[i]))
		return evk__err(err, EVK_ETIME, i + 1,
		    "expected digit at column %zu", i + 1);
	if (s[i] == '0' && i + 1 < len && is_digit(s[i + 1]))
		return evk__err(err, EVK_ETIME, i + 2,
		    "leading zero at column %zu", i + 1);
	for (; i < len && is_digit(s[i]); i++) {
		/* Anything past 1e17 is out of range either way; stop
		 * before uint64_t could wrap. */
		if (ip < UINT64_C(100000000000000000))
			ip = ip * 10 + (uint64_t)(s[i] - '0');
		else
			big = 1;
	}
	fi = nd = 0;
	if (i < len && s[i] == '.') {
		i++;
		if (i >= len || !is_digit(s[i]))
			return evk__err(err, EVK_ETIME, i + 1,
			    "expected digit after '.' at column %zu", i + 1);
		fi = i;
		while (i < len && is_digit(s[i]))
			i++;
		nd = i - fi;
	}
	if (i < len) {
		if (s[i] == 'e' || s[i] == 'E')
			return evk__err(err, EVK_ETIME, i + 1,
			    "exponent not allowed at column %zu", i + 1);
		return evk__err(err, EVK_ETIME, i + 1,
		    "trailing characters at column %zu", i + 1);
	}

	/* The unit is decided on the integer part alone: |v| >= 1e11 iff
	 * the integer part is.  In milliseconds the fraction has at most 6
	 * nanosecond digits; digits beyond the nanosecond are dropped. */
	ms = big || ip >= UINT64_C(100000000000);
	want = ms ? 6 : 9;
	for (; nd > 0 && want > 0; nd--, want--, fi++)
		frac = frac * 10 + (s[fi] - '0');
	frac *= p10[want];
	if (big)
		return evk__err(err, EVK_ERANGE, 1,
		    "epoch number outside years 0000..9999");
	if (ms) {
		sec = (int64_t)(ip / 1000);
		nsec = (int32_t)(ip % 1000) * 1000000 + frac;
	} else {
		sec = (int64_t)ip;
		nsec = frac;
	}
	/* Negative: -(sec + nsec) with nsec kept in 0..999999999. */
	if (neg) {
		sec = -sec;
		if (nsec > 0) {
			sec--;
			nsec = 1000000000 - nsec;
		}
	}
	if (sec < MIN_SEC || sec >= END_SEC)
		return evk__err(err, EVK_ERANGE, 1,
		    "epoch number outside years 0000..9999");
	t->sec = sec;
	t->nsec = nsec;
	t->off_min = 0;
	return 0;
}

/*
 * Durations.  Units are matched longest first where one is a prefix of
 * another ("ms" before "m").  Everything is in int64_t nanoseconds, which
 * reach about 292 years: plenty for ages and gaps, and exact, where a
 * double once made 1.001s into 1.000999999s.
 */
static const struct {
	const char *name;
	int64_t ns;
} dur_units[] = {
    {"ms", INT64_C(1000000)},
    {"us", INT64_C(1000)},
    {"ns", 1},
    {"s", INT64_C(1000000000)},
    {"m", INT64_C(60000000000)},
    {"h", INT64_C(3600000000000)},
    {"d", INT64_C(86400000000000)},
};

#define DUR_UNITS "(use ns, us, ms, s, m, h or d)"

/* What may continue a name in an expression ('$' included): a unit
 * followed by one of these is not that unit, so "5min" is an unknown unit
 * rather than 5m and then "in". */
static int
is_word(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    c == '$';
}

int
evk_duration_scan(const char *s, size_t len, int64_t *ns, size_t *used,
    struct evk_err *err)
{
	int64_t total = 0;
	size_t q = 0;

	if (len == 0 || !is_digit(s[0]))
		return evk__err(err, EVK_EINVAL, 1, "invalid duration");
	/* A pair, and another one for as long as a digit follows. */
	while (q < len && is_digit(s[q])) {
		int64_t ip = 0, frac = 0, un, mult, part;
		size_t u, ul = 0, fd = 0, nd = 0;
		int zeros = 0, k;

		for (; q < len && is_digit(s[q]); q++) {
			if (ip > (INT64_MAX - 9) / 10)
				return evk__err(err, EVK_ERANGE, 1,
				    "duration too long");
			ip = ip * 10 + (s[q] - '0');
		}
		/* "1.s" is 1s, as the expression lexer always took it. */
		if (q < len && s[q] == '.') {
			for (fd = ++q; q < len && is_digit(s[q]); q++)
				;
			nd = q - fd;
		}
		for (u = 0; u < sizeof dur_units / sizeof dur_units[0]; u++) {
			ul = strlen(dur_units[u].name);
			if (ul <= len - q &&
			    memcmp(s + q, dur_units[u].name, ul) == 0 &&
			    (q + ul == len || !is_word(s[q + ul])))
				break;
		}
		if (u == sizeof dur_units / sizeof dur_units[0])
			return evk__err(err, EVK_EINVAL, q + 1,
			    "unknown duration unit " DUR_UNITS);

		/* Exact in integers: a unit of un = mult * 10^zeros ns takes
		 * `zeros` fraction digits (padded with 0), the rest are below
		 * a nanosecond and dropped.  part < un, so the check below
		 * keeps ip * un + part within int64_t. */
		un = dur_units[u].ns;
		for (mult = un; mult % 10 == 0; mult /= 10)
			zeros++;
		for (k = 0; k < zeros; k++)
			frac = frac * 10 +
			    ((size_t)k < nd ? s[fd + (size_t)k] - '0' : 0);
		part = frac * mult;
		if (ip > (INT64_MAX - part) / un ||
		    total > INT64_MAX - (ip * un + part))
			return evk__err(err, EVK_ERANGE, 1,
			    "duration too long");
		total += ip * un + part;
		q += ul;
	}
	*ns = total;
	*used = q;
	return 0;
}

int
evk_duration_parse(const char *s, size_t len, int64_t *ns, struct evk_err *err)
{
	struct evk_err e = EVK_ERR_ZERO;
	int64_t v;
	size_t used;
	int rc;

	if (len == 0)
		return evk__err(err, EVK_EINVAL, 1, "empty duration");
	if (s[0] == '-')
		return evk__err(err, EVK_EINVAL, 1, "negative duration");
	rc = evk_duration_scan(s, len, &v, &used, &e);
	if (rc != 0) {
		/* The scanner calls every missing unit unknown, the wording
		 * evfilter's messages keep; a whole value can say that
		 * nothing is there: "5", "5m3", "5 m". */
		if (rc == EVK_EINVAL && e.column > 1 &&
		    (e.column > len || !is_word(s[e.column - 1])))
			return evk__err(err, rc, e.column,
			    "missing unit " DUR_UNITS);
		return evk__err(err, rc, e.column, "%s", e.msg);
	}
	if (used != len)
		return evk__err(err, EVK_EINVAL, used + 1,
		    "trailing characters at column %zu", used + 1);
	*ns = v;
	return 0;
}

int64_t
evk_time_ns(const struct evk_time *t)
{
	if (t->sec >= INT64_MAX / 1000000000 - 1)
		return INT64_MAX;
	if (t->sec <= INT64_MIN / 1000000000 + 1)
		return INT64_MIN;
	return t->sec * 1000000000 + t->nsec;
}
