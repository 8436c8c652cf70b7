/*
 * evkit/time.h - instants, RFC 3339 text and epoch numbers.
 *
 * An instant is seconds and nanoseconds since 1970-01-01T00:00:00Z (UTC,
 * leap seconds not counted, as POSIX time), plus the UTC offset it was
 * written with so that a time can be written back as it was read.
 *
 * A duration is a count of nanoseconds in an int64_t (up to about 292
 * years), written as number-unit pairs: "10m", "1h30m".
 */
#ifndef EVKIT_TIME_H
#define EVKIT_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "evkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct evk_time {
	int64_t sec; /* seconds since the epoch, UTC */
	int32_t nsec; /* 0..999999999 */
	int32_t
	    off_min; /* offset east of UTC in minutes, as written (-1439..1439) */
};

#define EVK_TIME_ZERO \
	{ \
		0, 0, 0 \
	}

/* Longest text evk_time_format() writes, with its NUL:
 * "YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+HH:MM". */
#define EVK_TIME_MAXLEN 36

/*
 * Parses an RFC 3339 date-time (section 5.6): YYYY-MM-DD, "T" or "t", the
 * time with optional fraction (any number of digits; beyond nanoseconds
 * they are dropped, not rounded), then "Z", "z" or +HH:MM / -HH:MM.  The
 * whole of `s[0..len)` must be the time (no NUL needed, none read past
 * `len`).  Day of month is checked against the month and leap years; a
 * leap second (:60) is accepted and, as POSIX time has none, folds onto
 * the following second (23:59:60 reads as 00:00:00 of the next day).
 * "-00:00" (offset unknown) reads as "Z".  Returns 0, or EVK_ETIME with a
 * message naming the first bad column, also set in err->column; `t` is
 * written only on success.
 */
int evk_time_parse(const char *s, size_t len, struct evk_time *t,
    struct evk_err *err);

/* Nanoseconds since the epoch of `t`, saturated at INT64_MIN and
 * INT64_MAX beyond 1677..2262. */
int64_t evk_time_ns(const struct evk_time *t);

/*
 * Writes `t` as RFC 3339 into `buf` (at least EVK_TIME_MAXLEN bytes), with
 * `digits` fraction digits (0..9; 0 writes no fraction).  With `utc` set the
 * time is written in UTC with "Z", else with t->off_min as written ("Z" for
 * offset 0).  The fraction is truncated, never rounded.  Returns the
 * length written (without the NUL), or EVK_ERANGE for a year outside
 * 0000..9999 in the zone written, a bad `digits`, or a `t` not normalized
 * (nsec outside 0..999999999, off_min outside -1439..1439 unless `utc`).
 */
int evk_time_format(char *buf, const struct evk_time *t, int digits, int utc);

/* Fills `t` with the current time (CLOCK_REALTIME), offset 0. */
void evk_time_now(struct evk_time *t);

/*
 * Reads an epoch number: a JSON number text of seconds, or milliseconds
 * when its absolute value is 1e11 or more (1e11 seconds is the year 5138),
 * with an optional fraction: -?(0|[1-9][0-9]*)(\.[0-9]+)?, JSON's grammar
 * without the exponent.  Read exactly (no floating point); digits finer
 * than a nanosecond are dropped.  Sets offset 0.  Returns 0, EVK_ETIME
 * when `s[0..len)` is not such a number, EVK_ERANGE when the instant has
 * no 4-digit year; `t` is written only on success.
 */
int evk_time_from_epoch(const char *s, size_t len, struct evk_time *t,
    struct evk_err *err);

/*
 * Reads a duration at the start of `s[0..len)` (no NUL needed, none read
 * past `len`): one or more number-unit pairs without spaces, such as "10m",
 * "1h30m", "1.5s" or "500ms".  A number is [0-9]+ with an optional "."
 * and fraction digits ("1.s" is 1s); the units are ns, us, ms, s, m, h
 * and d (86400 s).  A unit must not be followed by a letter, '_' or '$'
 * ("5min" is an unknown unit, not 5m and "in"); after a unit another pair
 * is read if a digit follows, and the duration ends before anything else,
 * so that a caller can read one inside a larger text (evk_expr_compile()
 * does).  The sum is exact in integer nanoseconds; fraction digits finer
 * than a nanosecond are dropped, not rounded ("1.0000000001s" is 1s).
 *
 * Stores the nanoseconds (>= 0) in `*ns` and the number of bytes read in
 * `*used`, both only on success.  Returns 0; EVK_EINVAL when `s` does not
 * start with a digit ("invalid duration", column 1) or a pair has no known
 * unit ("unknown duration unit (use ns, us, ms, s, m, h or d)", the column
 * of the unit, len + 1 when the text ends there: "5", "10m5"); EVK_ERANGE
 * when the total passes INT64_MAX ns, or a number's integer part reaches
 * 9223372036854775800 ("duration too long", column 1).
 * err->column is 1-based and relative to `s`.
 */
int evk_duration_scan(const char *s, size_t len, int64_t *ns, size_t *used,
    struct evk_err *err);

/*
 * Reads `s[0..len)` as exactly one duration, as evk_duration_scan() does,
 * for an option value such as "--max-age 5m".  0s is valid; a caller that
 * needs a positive duration checks it.  Returns 0 and stores the
 * nanoseconds in `*ns` (only on success), or EVK_EINVAL for an empty value
 * ("empty duration"), a negative one ("negative duration"), one not
 * starting with a digit ("invalid duration"), a number without unit
 * ("missing unit (use ns, us, ms, s, m, h or d)": "5", "5m3", "5 m"), an
 * unknown unit ("unknown duration unit (use ...)") or anything after the
 * duration ("trailing characters at column N"); EVK_ERANGE for "duration
 * too long".  err->column is 1-based, relative to `s`.
 */
int evk_duration_parse(const char *s, size_t len, int64_t *ns,
    struct evk_err *err);

#ifdef __cplusplus
}
#endif
#endif
