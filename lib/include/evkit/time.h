/*
 * evkit/time.h - instants, RFC 3339 text and epoch numbers.
 *
 * An instant is seconds and nanoseconds since 1970-01-01T00:00:00Z (UTC,
 * leap seconds not counted, as POSIX time), plus the UTC offset it was
 * written with so that a time can be written back as it was read.
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

#ifdef __cplusplus
}
#endif
#endif
