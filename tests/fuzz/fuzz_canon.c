/*
 * tests/fuzz/fuzz_canon.c - libFuzzer target for evk_canon().
 *
 * Accepted input: canonicalization succeeds, or fails only with
 * EVK_ERANGE (a number beyond a double) and then leaves the output as it
 * was; its result is JSON the checker accepts, of the same type, and a
 * fixed point: canon(canon(x)) == canon(x).  Any input: evk_canon() runs
 * on it too and must stay inside the span (the data is an exact-size
 * copy under ASan) and, when it fails, restore the output.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evkit/canon.h"
#include "evkit/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct evk_json_checker *chk;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evk_buf out = EVK_BUF_ZERO, again = EVK_BUF_ZERO;
	struct evk_err e = EVK_ERR_ZERO;
	enum evk_json_type type, t;
	const char *p = (const char *)data;
	int rc;

	if (chk == NULL && (chk = evk_json_checker_new(NULL)) == NULL)
		abort();
	/* Output goes after a prefix, which every path must keep. */
	if (evk_buf_add(&out, "<", 1) < 0 || evk_buf_add(&again, "<", 1) < 0)
		abort();
	if (evk_json_check(chk, p, size, &type, NULL) != 0) {
		rc = evk_canon(p, size, &out, &e);
		if (rc < 0 && (out.len != 1 || e.code != rc))
			abort();
		goto done;
	}
	rc = evk_canon(p, size, &out, &e);
	if (rc == EVK_ERANGE) {
		if (out.len != 1 || e.column == 0 || e.column > size)
			abort();
		goto done;
	}
	if (rc != 0)
		abort();
	if (evk_json_check(chk, out.p + 1, out.len - 1, &t, NULL) != 0 ||
	    t != type)
		abort();
	if (evk_canon(out.p + 1, out.len - 1, &again, NULL) != 0 ||
	    again.len != out.len || memcmp(again.p, out.p, out.len) != 0)
		abort();
done:
	evk_buf_free(&out);
	evk_buf_free(&again);
	return 0;
}
