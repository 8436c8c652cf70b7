/*
 * tests/unit/test_time.c - evk_time_*: RFC 3339 parsing and formatting,
 * epoch numbers, the calendar against gmtime_r().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evkit/time.h"
#include "t.h"

#define MIN_SEC INT64_C(-62167219200) /* 0000-01-01T00:00:00Z */
#define END_SEC INT64_C(253402300800) /* 10000-01-01T00:00:00Z */

/* Parses `s` from an exact-size heap copy, so that ASan catches any read
 * past `len` (the parser must not rely on a NUL). */
static int
parse(const char *s, size_t len, struct evk_time *t, struct evk_err *e)
{
	char *p = malloc(len ? len : 1);
	int rc;

	if (p == NULL)
		abort();
	memcpy(p, s, len);
	rc = evk_time_parse(p, len, t, e);
	free(p);
	return rc;
}

static int
parse_str(const char *s, struct evk_time *t, struct evk_err *e)
{
	return parse(s, strlen(s), t, e);
}

static int
epoch(const char *s, struct evk_time *t, struct evk_err *e)
{
	size_t len = strlen(s);
	char *p = malloc(len ? len : 1);
	int rc;

	if (p == NULL)
		abort();
	memcpy(p, s, len);
	rc = evk_time_from_epoch(p, len, t, e);
	free(p);
	return rc;
}


static int64_t
rng_sec(void)
{
	return MIN_SEC + (int64_t)(t_rng() % (uint64_t)(END_SEC - MIN_SEC));
}

static const struct {
	const char *s;
	int64_t sec;
	int32_t nsec, off;
} valid[] = {
	{"1970-01-01T00:00:00Z", 0, 0, 0},
	{"1970-01-01t00:00:00z", 0, 0, 0},
	{"1969-12-31T23:59:59Z", -1, 0, 0},
	{"1969-12-31T23:59:59.5Z", -1, 500000000, 0},
	{"1985-04-12T23:20:50.52Z", 482196050, 520000000, 0},
	{"1996-12-19T16:39:57-08:00", 851042397, 0, -480},
	{"1937-01-01T12:00:27.87+00:20", -1041337173, 870000000, 20},
	{"2024-01-01T00:00:00+05:30", 1704047400, 0, 330},
	{"2024-01-01T05:30:00+05:30", 1704067200, 0, 330},
	{"2023-12-31T16:00:00-08:00", 1704067200, 0, -480},
	{"2024-01-01T00:00:00-00:00", 1704067200, 0, 0},
	{"2024-01-01T00:00:00+00:00", 1704067200, 0, 0},
	{"2024-01-01T23:59:00+23:59", 1704067200, 0, 1439},
	{"2023-12-31T00:01:00-23:59", 1704067200, 0, -1439},
	{"2024-02-29T12:00:00Z", 1709208000, 0, 0},
	{"2000-02-29T00:00:00Z", 951782400, 0, 0},
	{"1900-03-01T00:00:00Z", -2203891200, 0, 0},
	{"2001-09-09T01:46:40Z", 1000000000, 0, 0},
	{"2038-01-19T03:14:08Z", INT64_C(2147483648), 0, 0},
	{"2100-12-31T23:59:59-08:00", INT64_C(4134009599), 0, -480},
	{"0000-01-01T00:00:00Z", MIN_SEC, 0, 0},
	{"0001-01-01T00:00:00Z", INT64_C(-62135596800), 0, 0},
	{"9999-12-31T23:59:59.999999999Z", END_SEC - 1, 999999999, 0},
	/* RFC 3339 5.8 leap-second examples fold onto the next second. */
	{"1990-12-31T23:59:60Z", 662688000, 0, 0},
	{"1990-12-31T15:59:60-08:00", 662688000, 0, -480},
	{"1990-12-31T23:59:60.25Z", 662688000, 250000000, 0},
};

TEST(parse_valid)
{
	struct evk_err e = EVK_ERR_ZERO;
	size_t i;

	for (i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		struct evk_time t = {1, 1, 1};

		CHECK_INT(parse_str(valid[i].s, &t, &e), 0);
		CHECK_INT(t.sec, valid[i].sec);
		CHECK_INT(t.nsec, valid[i].nsec);
		CHECK_INT(t.off_min, valid[i].off);
		if (t.sec != valid[i].sec || t.nsec != valid[i].nsec)
			printf("#   input %s\n", valid[i].s);
	}
}

TEST(parse_fraction_digits)
{
	static const struct {
		const char *s;
		int32_t nsec;
	} tab[] = {
		{"2020-01-01T00:00:00.1Z", 100000000},
		{"2020-01-01T00:00:00.12Z", 120000000},
		{"2020-01-01T00:00:00.123Z", 123000000},
		{"2020-01-01T00:00:00.1234Z", 123400000},
		{"2020-01-01T00:00:00.12345Z", 123450000},
		{"2020-01-01T00:00:00.123456Z", 123456000},
		{"2020-01-01T00:00:00.1234567Z", 123456700},
		{"2020-01-01T00:00:00.12345678Z", 123456780},
		{"2020-01-01T00:00:00.123456789Z", 123456789},
		/* Beyond nine digits: dropped, never rounded up. */
		{"2020-01-01T00:00:00.1234567899Z", 123456789},
		{"2020-01-01T00:00:00.9999999999999999999999Z", 999999999},
		{"2020-01-01T00:00:00.000000000999+01:00", 0},
		{"2020-01-01T00:00:00.0Z", 0},
		{"2020-01-01T00:00:00.000000001Z", 1},
	};
	struct evk_time t;
	size_t i;

	for (i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		CHECK_INT(parse_str(tab[i].s, &t, NULL), 0);
		CHECK_INT(t.nsec, tab[i].nsec);
		/* The fraction never carries into the seconds. */
		CHECK_INT(t.sec - (t.off_min ? -3600 : 0), 1577836800);
	}
}

static const struct {
	const char *s;
	size_t col;
	const char *msg;
} invalid[] = {
	{"", 1, "empty time"},
	{"1900-02-29T00:00:00Z", 9, "day 29 out of range for 1900-02"},
	{"2023-02-29T00:00:00Z", 9, "day 29 out of range for 2023-02"},
	{"2100-02-29T00:00:00Z", 9, "day 29 out of range for 2100-02"},
	{"2024-02-30T00:00:00Z", 9, "day 30 out of range for 2024-02"},
	{"2024-04-31T00:00:00Z", 9, "day 31 out of range for 2024-04"},
	{"2024-01-32T00:00:00Z", 9, "day 32 out of range for 2024-01"},
	{"2024-01-00T00:00:00Z", 9, "day 00 out of range for 2024-01"},
	{"2024-13-01T00:00:00Z", 6, "month 13 out of range"},
	{"2024-00-01T00:00:00Z", 6, "month 00 out of range"},
	{"2024-01-01T24:00:00Z", 12, "hour 24 out of range"},
	{"2024-01-01T23:60:00Z", 15, "minute 60 out of range"},
	{"2024-01-01T23:59:61Z", 18, "second 61 out of range"},
	{"2024-01-01 00:00:00Z", 11, "expected 'T' at column 11"},
	{"2024-01-01X00:00:00Z", 11, "expected 'T' at column 11"},
	{"2024-01-01", 11, "unexpected end at column 11"},
	{"2024-01-01T00:00:00", 20, "expected 'Z' or offset at column 20"},
	{"2024-01-01T00:00:00.5", 22, "expected 'Z' or offset at column 22"},
	{"2024-01-01T00:00:00 Z", 20, "expected 'Z' or offset at column 20"},
	{"2024-01-01T00:00:00.Z", 21, "expected digit after '.' at column 21"},
	{"2024-01-01T00:00:00.", 21, "expected digit after '.' at column 21"},
	{"2024-01-01T00:00:00,5Z", 20, "expected 'Z' or offset at column 20"},
	{"2024-01-01T00:00:00+5:00", 22, "expected digit at column 22"},
	{"2024-01-01T00:00:00+05", 23, "unexpected end at column 23"},
	{"2024-01-01T00:00:00+0500", 23, "expected ':' at column 23"},
	{"2024-01-01T00:00:00+24:00", 21, "offset hour 24 out of range"},
	{"2024-01-01T00:00:00+05:60", 24, "offset minute 60 out of range"},
	{"2024-01-01T00:00:00ZZ", 21, "trailing characters at column 21"},
	{"2024-01-01T00:00:00Z ", 21, "trailing characters at column 21"},
	{"2024-01-01T00:00:00+05:30x", 26, "trailing characters at column 26"},
	{"2024-01-01T00:00:00Z\n", 21, "trailing characters at column 21"},
	{" 2024-01-01T00:00:00Z", 1, "expected digit at column 1"},
	{"+2024-01-01T00:00:00Z", 1, "expected digit at column 1"},
	{"24-01-01T00:00:00Z", 3, "expected digit at column 3"},
	{"20240101T000000Z", 5, "expected '-' at column 5"},
	{"2024-1-01T00:00:00Z", 7, "expected digit at column 7"},
	{"2024-01-01T0:00:00Z", 13, "expected digit at column 13"},
	{"2024-01-01T00:00Z", 17, "expected ':' at column 17"},
	{"2024-01-01T00-00-00Z", 14, "expected ':' at column 14"},
	{"2024-01-01T00:00:00UTC", 20, "expected 'Z' or offset at column 20"},
	{"2024-01-01T00:00:00\xe2\x88\x92" "10:00", 20,
	    "expected 'Z' or offset at column 20"},
	{"\xff", 1, "expected digit at column 1"},
};

TEST(parse_invalid)
{
	size_t i;

	for (i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		struct evk_err e = EVK_ERR_ZERO;
		struct evk_time t;

		CHECK_INT(parse_str(invalid[i].s, &t, &e), EVK_ETIME);
		CHECK_INT(e.code, EVK_ETIME);
		CHECK_INT(e.column, invalid[i].col);
		CHECK_STR(e.msg, invalid[i].msg);
	}
}

/* A NUL inside the span is an ordinary bad byte, not an end. */
TEST(parse_embedded_nul)
{
	struct evk_err e = EVK_ERR_ZERO;
	struct evk_time t;

	CHECK_INT(parse("2024-01-01T00:00:00Z\0", 21, &t, &e), EVK_ETIME);
	CHECK_INT(e.column, 21);
	CHECK_INT(parse("2024-01-01T00:\0:00Z", 20, &t, &e), EVK_ETIME);
	CHECK_INT(e.column, 15);
}

/* Only s[0..len) is the time, whatever follows it in memory. */
TEST(parse_span)
{
	const char *s = "2024-01-01T00:00:00Z trailing";
	struct evk_time t;

	CHECK_INT(evk_time_parse(s, 20, &t, NULL), 0);
	CHECK_INT(t.sec, 1704067200);
	CHECK_INT(evk_time_parse(s, 19, &t, NULL), EVK_ETIME);
	CHECK_INT(evk_time_parse(NULL, 0, &t, NULL), EVK_ETIME);
}

/* Every proper prefix of a valid time is invalid, and reading it stays
 * within its length (the copy is exact, for ASan). */
TEST(parse_truncated)
{
	static const char *const full[] = {
		"2024-02-29T23:59:60.123456789+05:30",
		"1996-12-19T16:39:57-08:00",
		"1985-04-12T23:20:50.52Z",
		"0000-01-01T00:00:00z",
	};
	struct evk_time t;
	size_t i, n;

	for (i = 0; i < sizeof full / sizeof full[0]; i++) {
		size_t len = strlen(full[i]);

		for (n = 0; n < len; n++) {
			struct evk_err e = EVK_ERR_ZERO;

			CHECK_INT(parse(full[i], n, &t, &e), EVK_ETIME);
			CHECK(e.column >= 1 && e.column <= n + 1);
		}
		CHECK_INT(parse(full[i], len, &t, NULL), 0);
	}
}

/* On error `t` is left as it was; a NULL err is fine. */
TEST(parse_error_keeps_t)
{
	struct evk_time t = {42, 7, 60};

	CHECK_INT(evk_time_parse("2024-13-01T00:00:00Z", 20, &t, NULL),
	    EVK_ETIME);
	CHECK_INT(t.sec, 42);
	CHECK_INT(t.nsec, 7);
	CHECK_INT(t.off_min, 60);
}

/* Every day 0000-01-01..9999-12-31: format gives the next calendar day,
 * in order, and parsing gives the instant back.  Checks the leap-year
 * rules (and both calendar functions) over the whole range. */
TEST(calendar_every_day)
{
	static const int mdays[13] = {
		0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
	};
	char buf[EVK_TIME_MAXLEN], want[64];
	int y = 0, m = 1, d = 1, bad = 0;
	int64_t sec;

	for (sec = MIN_SEC; sec < END_SEC && bad < 5; sec += 86400) {
		struct evk_time t = {sec, 0, 0}, u;
		int leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);

		snprintf(want, sizeof want, "%04d-%02d-%02dT00:00:00Z", y, m,
		    d);
		if (evk_time_format(buf, &t, 0, 1) != 20 || strcmp(buf, want) ||
		    evk_time_parse(buf, 20, &u, NULL) != 0 || u.sec != sec) {
			printf("#   %s: got %s\n", want, buf);
			bad++;
		}
		if (++d > mdays[m] + (m == 2 && leap)) {
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
	}
	CHECK_INT(bad, 0);
	CHECK_INT(y, 10000);
}

TEST(leap_days)
{
	struct evk_time t;
	char s[32];
	int y, rc, leap;

	for (y = 0; y <= 9999; y++) {
		leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
		snprintf(s, sizeof s, "%04d-02-29T00:00:00Z", y);
		rc = evk_time_parse(s, 20, &t, NULL);
		if (rc != (leap ? 0 : EVK_ETIME)) {
			printf("#   %s: %d\n", s, rc);
			CHECK(0);
		}
	}
	CHECK_INT(parse_str("2024-02-29T00:00:00Z", &t, NULL), 0);
	CHECK_INT(parse_str("2000-02-29T00:00:00Z", &t, NULL), 0);
	CHECK_INT(parse_str("0000-02-29T00:00:00Z", &t, NULL), 0);
	CHECK_INT(parse_str("1900-02-29T00:00:00Z", &t, NULL), EVK_ETIME);
	CHECK_INT(parse_str("2023-02-29T00:00:00Z", &t, NULL), EVK_ETIME);
}

TEST(leap_second)
{
	struct evk_time t, u;
	char buf[EVK_TIME_MAXLEN];

	CHECK_INT(parse_str("2016-12-31T23:59:60Z", &t, NULL), 0);
	CHECK_INT(parse_str("2017-01-01T00:00:00Z", &u, NULL), 0);
	CHECK_INT(t.sec, u.sec);
	CHECK_INT(evk_time_format(buf, &t, 0, 0), 20);
	CHECK_STR(buf, "2017-01-01T00:00:00Z");
	/* Same leap second written in another offset. */
	CHECK_INT(parse_str("2017-01-01T05:29:60.5+05:30", &t, NULL), 0);
	CHECK_INT(t.sec, u.sec);
	CHECK_INT(t.nsec, 500000000);
	CHECK_INT(evk_time_format(buf, &t, 1, 0), 27);
	CHECK_STR(buf, "2017-01-01T05:30:00.5+05:30");
}

TEST(format_digits)
{
	static const struct {
		int digits;
		const char *want;
	} tab[] = {
		{0, "2024-02-29T12:34:56Z"},
		{1, "2024-02-29T12:34:56.0Z"},
		{3, "2024-02-29T12:34:56.012Z"},
		{6, "2024-02-29T12:34:56.012345Z"},
		{9, "2024-02-29T12:34:56.012345678Z"},
	};
	struct evk_time t = {1709210096, 12345678, 0};
	char buf[EVK_TIME_MAXLEN];
	size_t i;

	for (i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		memset(buf, 'x', sizeof buf);
		CHECK_INT(evk_time_format(buf, &t, tab[i].digits, 0),
		    strlen(tab[i].want));
		CHECK_STR(buf, tab[i].want);
	}
	/* Truncated, not rounded: .9999999999 never becomes the next second. */
	t.nsec = 999999999;
	CHECK_INT(evk_time_format(buf, &t, 3, 1), 24);
	CHECK_STR(buf, "2024-02-29T12:34:56.999Z");
	CHECK_INT(evk_time_format(buf, &t, 0, 1), 20);
	CHECK_STR(buf, "2024-02-29T12:34:56Z");
}

TEST(format_offsets)
{
	static const struct {
		int64_t sec;
		int32_t off;
		int utc;
		const char *want;
	} tab[] = {
		{1704067200, 0, 0, "2024-01-01T00:00:00Z"},
		{1704067200, 330, 0, "2024-01-01T05:30:00+05:30"},
		{1704067200, 330, 1, "2024-01-01T00:00:00Z"},
		{1704067200, -480, 0, "2023-12-31T16:00:00-08:00"},
		{1704067200, -480, 1, "2024-01-01T00:00:00Z"},
		{1704067200, 1439, 0, "2024-01-01T23:59:00+23:59"},
		{1704067200, -1439, 0, "2023-12-31T00:01:00-23:59"},
		{1704067200, -1, 0, "2023-12-31T23:59:00-00:01"},
		{1704067200, 1, 0, "2024-01-01T00:01:00+00:01"},
	};
	struct evk_time t = EVK_TIME_ZERO;
	char buf[EVK_TIME_MAXLEN];
	size_t i;

	for (i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		t.sec = tab[i].sec;
		t.off_min = tab[i].off;
		CHECK_INT(evk_time_format(buf, &t, 0, tab[i].utc),
		    strlen(tab[i].want));
		CHECK_STR(buf, tab[i].want);
	}
}

TEST(format_maxlen)
{
	struct evk_time t = {END_SEC - 1 + 1439 * 60, 999999999, -1439};
	char buf[EVK_TIME_MAXLEN + 8];

	memset(buf, 'x', sizeof buf);
	CHECK_INT(evk_time_format(buf, &t, 9, 0), EVK_TIME_MAXLEN - 1);
	CHECK_STR(buf, "9999-12-31T23:59:59.999999999-23:59");
	CHECK_INT(buf[EVK_TIME_MAXLEN], 'x');
}

TEST(format_range)
{
	static const struct evk_time bad[] = {
		{MIN_SEC - 1, 0, 0},
		{END_SEC, 0, 0},
		{INT64_MIN, 0, 0},
		{INT64_MAX, 0, 0},
		{INT64_MAX, 0, 1439},
		{INT64_MIN, 0, -1439},
		{MIN_SEC, 0, -1},         /* local year -1 */
		{END_SEC - 60, 0, 1},     /* local year 10000 */
		{0, -1, 0},               /* nsec */
		{0, 1000000000, 0},
		{0, 0, 1440},             /* offset */
		{0, 0, -1440},
		{0, 0, INT32_MIN},
	};
	struct evk_time t = EVK_TIME_ZERO;
	char buf[EVK_TIME_MAXLEN];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_INT(evk_time_format(buf, &bad[i], 0, 0), EVK_ERANGE);
	CHECK_INT(evk_time_format(buf, &t, -1, 0), EVK_ERANGE);
	CHECK_INT(evk_time_format(buf, &t, 10, 0), EVK_ERANGE);
	/* The offset is not looked at in UTC. */
	t.off_min = 5000;
	CHECK_INT(evk_time_format(buf, &t, 0, 1), 20);
	CHECK_STR(buf, "1970-01-01T00:00:00Z");
}

/* Years 0000 and 9999 are the bounds, in UTC and in local time. */
TEST(year_bounds)
{
	struct evk_time t;
	char buf[EVK_TIME_MAXLEN];

	CHECK_INT(parse_str("0000-01-01T00:00:00Z", &t, NULL), 0);
	CHECK_INT(t.sec, MIN_SEC);
	CHECK_INT(evk_time_format(buf, &t, 0, 1), 20);
	CHECK_STR(buf, "0000-01-01T00:00:00Z");
	t.sec--;
	CHECK_INT(evk_time_format(buf, &t, 0, 1), EVK_ERANGE);

	CHECK_INT(parse_str("9999-12-31T23:59:59.999999999Z", &t, NULL), 0);
	CHECK_INT(evk_time_format(buf, &t, 9, 1), 30);
	CHECK_STR(buf, "9999-12-31T23:59:59.999999999Z");
	t.sec++;
	CHECK_INT(evk_time_format(buf, &t, 9, 1), EVK_ERANGE);

	/* Written in local time within range, but UTC is outside it. */
	CHECK_INT(parse_str("0000-01-01T00:00:00+01:00", &t, NULL), 0);
	CHECK_INT(t.sec, MIN_SEC - 3600);
	CHECK_INT(evk_time_format(buf, &t, 0, 0), 25);
	CHECK_STR(buf, "0000-01-01T00:00:00+01:00");
	CHECK_INT(evk_time_format(buf, &t, 0, 1), EVK_ERANGE);
	CHECK_INT(parse_str("9999-12-31T23:00:00-05:00", &t, NULL), 0);
	CHECK_INT(evk_time_format(buf, &t, 0, 0), 25);
	CHECK_STR(buf, "9999-12-31T23:00:00-05:00");
	CHECK_INT(evk_time_format(buf, &t, 0, 1), EVK_ERANGE);
	/* A leap second at the very end folds into year 10000. */
	CHECK_INT(parse_str("9999-12-31T23:59:60Z", &t, NULL), 0);
	CHECK_INT(t.sec, END_SEC);
	CHECK_INT(evk_time_format(buf, &t, 0, 1), EVK_ERANGE);
}

/* parse -> format (utc=0, 9 digits) -> text as written, normalized. */
TEST(roundtrip_table)
{
	static const struct {
		const char *in, *out9, *utc3;
	} tab[] = {
		{"2024-01-01T00:00:00Z", "2024-01-01T00:00:00.000000000Z",
		    "2024-01-01T00:00:00.000Z"},
		{"2024-01-01t00:00:00.5z", "2024-01-01T00:00:00.500000000Z",
		    "2024-01-01T00:00:00.500Z"},
		{"2024-01-01T05:30:00.123456789+05:30",
		    "2024-01-01T05:30:00.123456789+05:30",
		    "2024-01-01T00:00:00.123Z"},
		{"1996-12-19T16:39:57-08:00",
		    "1996-12-19T16:39:57.000000000-08:00",
		    "1996-12-20T00:39:57.000Z"},
		{"1937-01-01T12:00:27.87+00:20",
		    "1937-01-01T12:00:27.870000000+00:20",
		    "1937-01-01T11:40:27.870Z"},
		{"2024-02-29T23:59:59.9999999999-23:59",
		    "2024-02-29T23:59:59.999999999-23:59",
		    "2024-03-01T23:58:59.999Z"},
		{"2024-02-29T00:00:00+00:00", "2024-02-29T00:00:00.000000000Z",
		    "2024-02-29T00:00:00.000Z"},
		{"2000-03-01T00:00:00-00:00", "2000-03-01T00:00:00.000000000Z",
		    "2000-03-01T00:00:00.000Z"},
		{"1969-12-31T23:59:59.999999999Z",
		    "1969-12-31T23:59:59.999999999Z",
		    "1969-12-31T23:59:59.999Z"},
		{"0000-03-01T00:00:00+14:00", "0000-03-01T00:00:00.000000000+14:00",
		    "0000-02-29T10:00:00.000Z"},
	};
	char buf[EVK_TIME_MAXLEN], buf2[EVK_TIME_MAXLEN];
	struct evk_time t, u;
	size_t i;
	int n;

	for (i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		CHECK_INT(parse_str(tab[i].in, &t, NULL), 0);
		n = evk_time_format(buf, &t, 9, 0);
		CHECK_INT(n, strlen(tab[i].out9));
		CHECK_STR(buf, tab[i].out9);
		CHECK_INT(evk_time_format(buf2, &t, 3, 1), strlen(tab[i].utc3));
		CHECK_STR(buf2, tab[i].utc3);
		CHECK_INT(parse(buf, (size_t)n, &u, NULL), 0);
		CHECK_INT(u.sec, t.sec);
		CHECK_INT(u.nsec, t.nsec);
		CHECK_INT(u.off_min, t.off_min);
	}
}

/* Random instants and offsets: format -> parse gives them back exactly. */
TEST(roundtrip_random)
{
	char buf[EVK_TIME_MAXLEN];
	struct evk_time t, u;
	int32_t p;
	int i, k, n, digits, bad = 0;

	for (i = 0; i < 200000 && bad < 5; i++) {
		t.sec = rng_sec();
		t.nsec = (int32_t)(t_rng() % 1000000000);
		t.off_min = (int32_t)(t_rng() % 2879) - 1439;
		digits = (int)(t_rng() % 10);
		n = evk_time_format(buf, &t, digits, i & 1);
		if (n < 0) {
			/* Only a local time outside the years can fail. */
			int64_t l = t.sec + ((i & 1) ? 0 : t.off_min * 60);

			if (l >= MIN_SEC && l < END_SEC) {
				printf("#   format failed %" PRId64 "\n", t.sec);
				bad++;
			}
			continue;
		}
		/* The fraction comes back truncated to `digits`. */
		for (p = 1, k = digits; k < 9; k++)
			p *= 10;
		if (evk_time_parse(buf, (size_t)n, &u, NULL) != 0 ||
		    u.sec != t.sec || u.nsec != t.nsec / p * p ||
		    u.off_min != ((i & 1) ? 0 : t.off_min)) {
			printf("#   %s: %" PRId64 ".%09d %+d\n", buf, t.sec,
			    (int)t.nsec, (int)t.off_min);
			bad++;
		}
	}
	CHECK_INT(bad, 0);
}

/* Our calendar against the C library's for pseudo-random seconds over
 * 0000..9999 (glibc with a 64-bit time_t handles the whole range). */
TEST(gmtime_consistency)
{
	char buf[EVK_TIME_MAXLEN], want[64];
	struct evk_time t = EVK_TIME_ZERO, u;
	struct tm tm;
	int i, bad = 0;

	if (sizeof(time_t) < 8) {
		printf("# skipped: 32-bit time_t\n");
		return;
	}
	for (i = 0; i < 5000 && bad < 5; i++) {
		time_t tt;

		t.sec = i < 2 ? (i ? END_SEC - 1 : MIN_SEC) : rng_sec();
		tt = (time_t)t.sec;
		if (gmtime_r(&tt, &tm) == NULL) {
			bad++;
			continue;
		}
		snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02dZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		if (evk_time_format(buf, &t, 0, 1) != 20 || strcmp(buf, want) ||
		    evk_time_parse(want, 20, &u, NULL) != 0 || u.sec != t.sec) {
			printf("#   %" PRId64 ": %s, expected %s\n", t.sec, buf,
			    want);
			bad++;
		}
	}
	CHECK_INT(bad, 0);
}

TEST(epoch_valid)
{
	static const struct {
		const char *s;
		int64_t sec;
		int32_t nsec;
	} tab[] = {
		{"0", 0, 0},
		{"-0", 0, 0},
		{"0.0", 0, 0},
		{"-0.0", 0, 0},
		{"1", 1, 0},
		{"1700000000", 1700000000, 0},
		{"1700000000.5", 1700000000, 500000000},
		{"1700000000.123456789", 1700000000, 123456789},
		{"1700000000.1234567899", 1700000000, 123456789},
		{"0.000000001", 0, 1},
		{"-1", -1, 0},
		{"-1.5", -2, 500000000},
		{"-0.000000001", -1, 999999999},
		{"-1.0000000009", -1, 0},
		{"-62167219200", MIN_SEC, 0},
		{"99999999999", 99999999999, 0},
		{"99999999999.999999999", 99999999999, 999999999},
		/* 1e11 and above: milliseconds. */
		{"100000000000", 100000000, 0},
		{"1700000000000", 1700000000, 0},
		{"1700000000123", 1700000000, 123000000},
		{"1700000000123.456", 1700000000, 123456000},
		{"1700000000123.456789", 1700000000, 123456789},
		{"1700000000123.4567891", 1700000000, 123456789},
		{"-100000000000", -100000000, 0},
		{"-1700000000123.5", -1700000001, 876500000},
		{"-62167219200000", MIN_SEC, 0},
		{"253402300799999", END_SEC - 1, 999000000},
		{"253402300799999.999999", END_SEC - 1, 999999999},
	};
	struct evk_err e = EVK_ERR_ZERO;
	size_t i;

	for (i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		struct evk_time t = {7, 7, 7};

		CHECK_INT(epoch(tab[i].s, &t, &e), 0);
		CHECK_INT(t.sec, tab[i].sec);
		CHECK_INT(t.nsec, tab[i].nsec);
		CHECK_INT(t.off_min, 0);
		if (t.sec != tab[i].sec || t.nsec != tab[i].nsec)
			printf("#   input %s\n", tab[i].s);
	}
}

TEST(epoch_invalid)
{
	static const struct {
		const char *s;
		int rc;
		size_t col;
		const char *msg;
	} tab[] = {
		{"", EVK_ETIME, 1, "empty epoch number"},
		{"1e5", EVK_ETIME, 2, "exponent not allowed at column 2"},
		{"1.5E5", EVK_ETIME, 4, "exponent not allowed at column 4"},
		{"+5", EVK_ETIME, 1, "expected digit at column 1"},
		{"12a", EVK_ETIME, 3, "trailing characters at column 3"},
		{" 5", EVK_ETIME, 1, "expected digit at column 1"},
		{"5 ", EVK_ETIME, 2, "trailing characters at column 2"},
		{"-", EVK_ETIME, 2, "unexpected end at column 2"},
		{"--5", EVK_ETIME, 2, "expected digit at column 2"},
		{"1.", EVK_ETIME, 3, "expected digit after '.' at column 3"},
		{".5", EVK_ETIME, 1, "expected digit at column 1"},
		{"1.x", EVK_ETIME, 3, "expected digit after '.' at column 3"},
		{"1.5.5", EVK_ETIME, 4, "trailing characters at column 4"},
		{"01", EVK_ETIME, 2, "leading zero at column 1"},
		{"-007", EVK_ETIME, 3, "leading zero at column 2"},
		{"0x10", EVK_ETIME, 2, "trailing characters at column 2"},
		{"NaN", EVK_ETIME, 1, "expected digit at column 1"},
		{"99999999999999999999999999x", EVK_ETIME, 27,
		    "trailing characters at column 27"},
		/* Numbers, but no 4-digit year. */
		{"-62167219201", EVK_ERANGE, 1,
		    "epoch number outside years 0000..9999"},
		{"-62167219200.5", EVK_ERANGE, 1,
		    "epoch number outside years 0000..9999"},
		{"253402300800000", EVK_ERANGE, 1,
		    "epoch number outside years 0000..9999"},
		{"-62167219200001", EVK_ERANGE, 1,
		    "epoch number outside years 0000..9999"},
		{"18446744073709551616", EVK_ERANGE, 1,
		    "epoch number outside years 0000..9999"},
		{"-99999999999999999999999999999999.5", EVK_ERANGE, 1,
		    "epoch number outside years 0000..9999"},
	};
	size_t i;

	for (i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		struct evk_err e = EVK_ERR_ZERO;
		struct evk_time t = {7, 7, 7};

		CHECK_INT(epoch(tab[i].s, &t, &e), tab[i].rc);
		CHECK_INT(e.code, tab[i].rc);
		CHECK_INT(e.column, tab[i].col);
		CHECK_STR(e.msg, tab[i].msg);
		CHECK_INT(t.sec, 7);
	}
	CHECK_INT(evk_time_from_epoch(NULL, 0, NULL, NULL), EVK_ETIME);
}

/* Epoch numbers written from random instants (both signs, seconds and
 * milliseconds) read back exactly. */
TEST(epoch_random)
{
	char num[64];
	struct evk_time u;
	int i, bad = 0;

	for (i = 0; i < 50000 && bad < 5; i++) {
		int64_t s = rng_sec(), mag;
		int32_t ns = (int32_t)(t_rng() % 1000000000), mns;
		const char *sign = s < 0 ? "-" : "";

		if (i % 3 == 0)
			ns = 0;
		/* |s + ns/1e9| as whole seconds `mag` and nanoseconds `mns`. */
		if (s >= 0) {
			mag = s;
			mns = ns;
		} else if (ns == 0) {
			mag = -s;
			mns = 0;
		} else {
			mag = -s - 1;
			mns = 1000000000 - ns;
		}
		if (mag < INT64_C(100000000000))
			snprintf(num, sizeof num, "%s%" PRId64 ".%09d", sign,
			    mag, (int)mns);
		else
			snprintf(num, sizeof num, "%s%" PRId64 "%03d.%06d",
			    sign, mag, (int)(mns / 1000000),
			    (int)(mns % 1000000));
		if (evk_time_from_epoch(num, strlen(num), &u, NULL) != 0 ||
		    u.sec != s || u.nsec != ns) {
			printf("#   %s: %" PRId64 ".%09d\n", num, u.sec,
			    (int)u.nsec);
			bad++;
		}
	}
	CHECK_INT(bad, 0);
}

TEST(now)
{
	struct evk_time t = {1, 1, 1}, u;
	char buf[EVK_TIME_MAXLEN];
	int n;

	evk_time_now(&t);
	CHECK(t.sec > 1577836800); /* after 2020 */
	CHECK(t.nsec >= 0 && t.nsec <= 999999999);
	CHECK_INT(t.off_min, 0);
	n = evk_time_format(buf, &t, 9, 0);
	CHECK_INT(n, 30);
	CHECK_INT(evk_time_parse(buf, (size_t)n, &u, NULL), 0);
	CHECK_INT(u.sec, t.sec);
	CHECK_INT(u.nsec, t.nsec);
	evk_time_now(&u);
	CHECK(u.sec >= t.sec);
}

/* Durations, each read from an exact-size heap copy (see parse()). */
static int
dur_parse(const char *s, int64_t *ns, struct evk_err *e)
{
	size_t len = strlen(s);
	char *p = t_dup_exact(s, len);
	int rc = evk_duration_parse(p, len, ns, e);

	free(p);
	return rc;
}

static int
dur_scan(const char *s, int64_t *ns, size_t *used, struct evk_err *e)
{
	size_t len = strlen(s);
	char *p = t_dup_exact(s, len);
	int rc = evk_duration_scan(p, len, ns, used, e);

	free(p);
	return rc;
}

static const struct {
	const char *s;
	int64_t ns;
} dur_ok[] = {
    {"1h30m", INT64_C(5400000000000)},
    {"1.5s", INT64_C(1500000000)},
    {"500ms", INT64_C(500000000)},
    {"2d", INT64_C(172800000000000)},
    {"0s", 0},
    {"1ns", 1},
    {"3us", 3000},
    {"10m", INT64_C(600000000000)},
    {"1.0000000001s", INT64_C(1000000000)},
    {"0.0000000015s", 1},
    {"1.001s", INT64_C(1001000000)},
    {"1.5d", INT64_C(129600000000000)},
    {"0.5h", INT64_C(1800000000000)},
    {"1.s", INT64_C(1000000000)},
    {"1.9ns", 1},
    {"1.2345678us", 1234},
    {"1d2h3m4s5ms6us7ns", INT64_C(93784005006007)},
    {"90m", INT64_C(5400000000000)},
    {"9223372036854775799ns", INT64_C(9223372036854775799)},
    {"9223372036854775799ns8ns", INT64_MAX},
    {"106751d", INT64_C(9223286400000000000)},
};

TEST(duration_valid)
{
	struct evk_err e = EVK_ERR_ZERO;
	int64_t ns;
	size_t i;

	for (i = 0; i < sizeof dur_ok / sizeof dur_ok[0]; i++) {
		ns = -1;
		if (dur_parse(dur_ok[i].s, &ns, &e) != 0 ||
		    ns != dur_ok[i].ns) {
			printf("#   %s: %" PRId64 " (%s)\n", dur_ok[i].s, ns,
			    e.msg);
			CHECK(0);
		}
	}
}

static const struct {
	const char *s;
	int rc;
	size_t col;
	const char *msg;
} dur_bad[] = {
    {"", EVK_EINVAL, 1, "empty duration"},
    {"5", EVK_EINVAL, 2, "missing unit (use ns, us, ms, s, m, h or d)"},
    {"1.5", EVK_EINVAL, 4, "missing unit (use ns, us, ms, s, m, h or d)"},
    {"-5m", EVK_EINVAL, 1, "negative duration"},
    {"+5m", EVK_EINVAL, 1, "invalid duration"},
    {"5x", EVK_EINVAL, 2,
        "unknown duration unit (use ns, us, ms, s, m, h or d)"},
    {"5min", EVK_EINVAL, 2,
        "unknown duration unit (use ns, us, ms, s, m, h or d)"},
    {"5M", EVK_EINVAL, 2,
        "unknown duration unit (use ns, us, ms, s, m, h or d)"},
    {"5m_", EVK_EINVAL, 2,
        "unknown duration unit (use ns, us, ms, s, m, h or d)"},
    {"m", EVK_EINVAL, 1, "invalid duration"},
    {".5s", EVK_EINVAL, 1, "invalid duration"},
    {" 5m", EVK_EINVAL, 1, "invalid duration"},
    {"5m3", EVK_EINVAL, 4, "missing unit (use ns, us, ms, s, m, h or d)"},
    {"5 m", EVK_EINVAL, 2, "missing unit (use ns, us, ms, s, m, h or d)"},
    {"1.5.5s", EVK_EINVAL, 4, "missing unit (use ns, us, ms, s, m, h or d)"},
    {"5m ", EVK_EINVAL, 3, "trailing characters at column 3"},
    {"5m-1s", EVK_EINVAL, 3, "trailing characters at column 3"},
    {"5m.", EVK_EINVAL, 3, "trailing characters at column 3"},
    {"99999999999999999999h", EVK_ERANGE, 1, "duration too long"},
    {"9223372036854775808ns", EVK_ERANGE, 1, "duration too long"},
    {"106752d", EVK_ERANGE, 1, "duration too long"},
    {"100000d100000d", EVK_ERANGE, 1, "duration too long"},
    {"9223372036854775799ns9ns", EVK_ERANGE, 1, "duration too long"},
    {"9223372036854775800ns", EVK_ERANGE, 1, "duration too long"},
};

TEST(duration_invalid)
{
	size_t i;

	for (i = 0; i < sizeof dur_bad / sizeof dur_bad[0]; i++) {
		struct evk_err e = EVK_ERR_ZERO;
		int64_t ns = -7;
		int rc = dur_parse(dur_bad[i].s, &ns, &e);

		if (rc != dur_bad[i].rc || e.code != dur_bad[i].rc ||
		    e.column != dur_bad[i].col ||
		    strcmp(e.msg, dur_bad[i].msg) != 0 || ns != -7) {
			printf("#   \"%s\": rc %d, column %zu, \"%s\"\n",
			    dur_bad[i].s, rc, e.column, e.msg);
			CHECK(0);
		}
	}
	/* No err to fill is fine. */
	CHECK_INT(evk_duration_parse("5", 1, &(int64_t){0}, NULL), EVK_EINVAL);
	/* err->line is the caller's. */
	{
		struct evk_err e = EVK_ERR_ZERO;
		int64_t ns;

		e.line = 12;
		CHECK_INT(dur_parse("5x", &ns, &e), EVK_EINVAL);
		CHECK_INT(e.line, 12);
	}
}

TEST(duration_scan_used)
{
	struct evk_err e = EVK_ERR_ZERO;
	int64_t ns;
	size_t used;

	/* The duration ends before the first byte that cannot go on. */
	CHECK_INT(dur_scan("1h30m", &ns, &used, &e), 0);
	CHECK_INT(ns, INT64_C(5400000000000));
	CHECK_INT(used, 5);
	CHECK_INT(dur_scan("10m == x", &ns, &used, &e), 0);
	CHECK_INT(ns, INT64_C(600000000000));
	CHECK_INT(used, 3);
	CHECK_INT(dur_scan("1.5s)", &ns, &used, &e), 0);
	CHECK_INT(used, 4);
	CHECK_INT(dur_scan("5m-1s", &ns, &used, &e), 0);
	CHECK_INT(used, 2);
	CHECK_INT(dur_scan("5m.", &ns, &used, &e), 0);
	CHECK_INT(used, 2);
	CHECK_INT(dur_scan("500ms+", &ns, &used, &e), 0);
	CHECK_INT(ns, 500000000);
	CHECK_INT(used, 5);
	CHECK_INT(dur_scan("1ns\n", &ns, &used, &e), 0);
	CHECK_INT(used, 3);
	/* Not a duration at all, or a pair without a known unit: the
	 * column is relative to s, len + 1 at the end. */
	CHECK_INT(dur_scan("x", &ns, &used, &e), EVK_EINVAL);
	CHECK_INT(e.column, 1);
	CHECK_STR(e.msg, "invalid duration");
	CHECK_INT(dur_scan("", &ns, &used, &e), EVK_EINVAL);
	CHECK_INT(e.column, 1);
	CHECK_INT(dur_scan("5", &ns, &used, &e), EVK_EINVAL);
	CHECK_INT(e.column, 2);
	CHECK_STR(e.msg,
	    "unknown duration unit (use ns, us, ms, s, m, h or d)");
	CHECK_INT(dur_scan("10m5", &ns, &used, &e), EVK_EINVAL);
	CHECK_INT(e.column, 5);
	CHECK_INT(dur_scan("5 m", &ns, &used, &e), EVK_EINVAL);
	CHECK_INT(e.column, 2);
	CHECK_INT(dur_scan("5min", &ns, &used, &e), EVK_EINVAL);
	CHECK_INT(e.column, 2);
	CHECK_INT(dur_scan("5m$", &ns, &used, &e), EVK_EINVAL);
	CHECK_INT(e.column, 2);
	CHECK_INT(dur_scan("1e5m", &ns, &used, &e), EVK_EINVAL);
	CHECK_INT(e.column, 2);
	CHECK_INT(dur_scan("1h99999999999999999999s", &ns, &used, &e),
	    EVK_ERANGE);
	CHECK_INT(e.column, 1);
	CHECK_STR(e.msg, "duration too long");
	/* A bound shorter than the text is honoured: "1ms" cut to "1m". */
	CHECK_INT(evk_duration_scan("1ms", 2, &ns, &used, &e), 0);
	CHECK_INT(ns, INT64_C(60000000000));
	CHECK_INT(used, 2);
	/* Outputs stay as they were on error. */
	ns = 42;
	used = 42;
	CHECK_INT(dur_scan("5x", &ns, &used, NULL), EVK_EINVAL);
	CHECK_INT(ns, 42);
	CHECK_INT(used, 42);
}

TEST(time_ns_saturates)
{
	struct evk_time t = {0};

	t.sec = 1;
	t.nsec = 5;
	CHECK(evk_time_ns(&t) == 1000000005);
	t.sec = -1;
	t.nsec = 999999999;
	CHECK(evk_time_ns(&t) == -1);
	CHECK_INT(evk_time_parse("2262-04-11T23:47:16Z", 20, &t, NULL), 0);
	CHECK(evk_time_ns(&t) == INT64_MAX);
	CHECK_INT(evk_time_parse("9999-12-31T23:59:59Z", 20, &t, NULL), 0);
	CHECK(evk_time_ns(&t) == INT64_MAX);
	CHECK_INT(evk_time_parse("0001-01-01T00:00:00Z", 20, &t, NULL), 0);
	CHECK(evk_time_ns(&t) == INT64_MIN);
	CHECK_INT(evk_time_parse("2026-12-06T00:00:00.25Z", 23, &t, NULL), 0);
	CHECK(evk_time_ns(&t) == 1796515200250000000LL);
}

int
main(void)
{
	t_rng_state = UINT64_C(0x9e3779b97f4a7c15); /* the sequence the tests were written with */
	RUN(parse_valid);
	RUN(parse_fraction_digits);
	RUN(parse_invalid);
	RUN(parse_embedded_nul);
	RUN(parse_span);
	RUN(parse_truncated);
	RUN(parse_error_keeps_t);
	RUN(calendar_every_day);
	RUN(leap_days);
	RUN(leap_second);
	RUN(format_digits);
	RUN(format_offsets);
	RUN(format_maxlen);
	RUN(format_range);
	RUN(year_bounds);
	RUN(roundtrip_table);
	RUN(roundtrip_random);
	RUN(gmtime_consistency);
	RUN(epoch_valid);
	RUN(epoch_invalid);
	RUN(epoch_random);
	RUN(now);
	RUN(duration_valid);
	RUN(duration_invalid);
	RUN(duration_scan_used);
	RUN(time_ns_saturates);
	return t_done();
}
