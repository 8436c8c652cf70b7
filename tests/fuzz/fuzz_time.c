/*
 * tests/fuzz/fuzz_time.c - libFuzzer target for evk_time_parse() and
 * evk_time_from_epoch().
 *
 * A time that parses must format (as written and in UTC, 9 digits) and
 * parse back to the same instant and offset.  Formatting may refuse only a
 * time whose shown year is outside 0000..9999, which is checked here
 * against the bounds in seconds, independently of the calendar code.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evkit/time.h"

#define MIN_SEC INT64_C(-62167219200) /* 0000-01-01T00:00:00Z */
#define END_SEC INT64_C(253402300800) /* 10000-01-01T00:00:00Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_format(const struct evk_time *t, int utc)
{
	char buf[EVK_TIME_MAXLEN];
	struct evk_time u;
	int64_t shown;
	int n;

	shown = t->sec + (utc ? 0 : (int64_t)t->off_min * 60);
	n = evk_time_format(buf, t, 9, utc);
	if (n < 0) {
		if (n != EVK_ERANGE || (shown >= MIN_SEC && shown < END_SEC))
			abort();
		return;
	}
	if (shown < MIN_SEC || shown >= END_SEC)
		abort();
	if (n >= EVK_TIME_MAXLEN || buf[n] != '\0' || strlen(buf) != (size_t)n)
		abort();
	if (evk_time_parse(buf, (size_t)n, &u, NULL) != 0)
		abort();
	if (u.sec != t->sec || u.nsec != t->nsec ||
	    u.off_min != (utc ? 0 : t->off_min))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evk_err e = EVK_ERR_ZERO;
	struct evk_time t;
	char buf[EVK_TIME_MAXLEN];
	int rc;

	rc = evk_time_parse((const char *)data, size, &t, &e);
	if (rc == 0) {
		if (t.nsec < 0 || t.nsec > 999999999 || t.off_min < -1439 ||
		    t.off_min > 1439)
			abort();
		check_format(&t, 0);
		check_format(&t, 1);
	} else if (rc != EVK_ETIME || e.code != rc || e.column < 1 ||
	    e.column > size + 1 || e.msg[0] == '\0')
		abort();

	evk_err_clear(&e);
	rc = evk_time_from_epoch((const char *)data, size, &t, &e);
	if (rc == 0) {
		/* Epoch numbers give UTC instants inside the years. */
		if (t.nsec < 0 || t.nsec > 999999999 || t.off_min != 0 ||
		    evk_time_format(buf, &t, 9, 1) != 30)
			abort();
		check_format(&t, 1);
	} else if ((rc != EVK_ETIME && rc != EVK_ERANGE) || e.code != rc ||
	    e.column < 1 || e.column > size + 1 || e.msg[0] == '\0')
		abort();
	return 0;
}
