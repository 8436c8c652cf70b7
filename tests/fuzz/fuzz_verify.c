/*
 * tests/fuzz/fuzz_verify.c - libFuzzer target for the signed-event
 * functions: evk_event_verify(), evk_event_sign(), evk_event_strip() and
 * evk_event_signed_bytes().
 *
 * Any line that evk_json_check() (duplicate keys refused) accepts as an
 * object: verification against a fixed ring (one HS256 key "h1", one
 * Ed25519 key "e1", from fixed bytes) gives a verdict with a message and
 * never crashes; stripping gives JSON without sig/sigalg/sigkid, which is
 * unsigned (malformed when a number is beyond a double).  The oracle: when evk_event_sign() with either key succeeds,
 * its result is JSON, verifies as valid with that key, strips back to
 * exactly the input (without white space after it), covers the bytes
 * evk_event_signed_bytes() names, and stops being valid when one
 * character of the signature's base64url text changes.  When it fails,
 * the output is unchanged and the reason is one the API allows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evkit/json.h"
#include "evkit/sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct evk_json_checker *chk;
static struct evk_keyring *ring;
static const struct evk_key *keys[2]; /* in the ring: h1, e1 */
static struct evk_buf tmp = EVK_BUF_ZERO;

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void
setup(void)
{
	unsigned char secret[32], seed[32];
	struct evk_err e = EVK_ERR_ZERO;
	int i;

	for (i = 0; i < 32; i++) {
		secret[i] = (unsigned char)(i * 7 + 3);
		seed[i] = (unsigned char)(0xa5 ^ (i * 13));
	}
	if ((chk = evk_json_checker_new(NULL)) == NULL ||
	    (ring = evk_keyring_new()) == NULL ||
	    evk_keyring_add(ring, evk_key_hs256(secret, 32, "h1", &e), &e) !=
	        0 ||
	    evk_keyring_add(ring, evk_key_ed25519(seed, NULL, "e1", &e), &e) !=
	        0)
		abort();
	keys[0] = evk_keyring_find(ring, "h1", 2);
	keys[1] = evk_keyring_find(ring, "e1", 2);
	if (keys[0] == NULL || keys[1] == NULL)
		abort();
}

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Verifies p[0..n) (checked); aborts on anything but a verdict, or a
 * verdict other than OK without a message. */
static int
verdict(const char *p, size_t n, const struct evk_key **key)
{
	struct evk_err e = EVK_ERR_ZERO;
	int v;

	*key = NULL;
	v = evk_event_verify(ring, p, n, &tmp, key, &e);
	if (v < EVK_VERIFY_OK || v > EVK_VERIFY_BAD_SIG)
		abort();
	if (v != EVK_VERIFY_OK &&
	    (e.msg[0] == '\0' || memchr(e.msg, '\0', sizeof e.msg) == NULL))
		abort();
	if (v == EVK_VERIFY_OK && *key != keys[0] && *key != keys[1])
		abort();
	return v;
}

static int
has_sig_member(const char *p, size_t n)
{
	struct evk_span obj = {p, n}, v;

	return evk_json_get(obj, "sig", 3, &v) ||
	    evk_json_get(obj, "sigalg", 6, &v) ||
	    evk_json_get(obj, "sigkid", 6, &v);
}

static void
oracle(const struct evk_key *k, const char *p, size_t n, size_t pick)
{
	struct evk_buf out = EVK_BUF_ZERO, back = EVK_BUF_ZERO,
	               b1 = EVK_BUF_ZERO, b2 = EVK_BUF_ZERO;
	struct evk_err e = EVK_ERR_ZERO;
	const struct evk_key *who;
	enum evk_json_type type;
	size_t plen = n, lo = 0, hi = n, siglen, at;
	char *q, *c;
	int rc;

	if (evk_buf_add(&out, "<", 1) < 0)
		abort();
	rc = evk_event_sign(k, p, n, &out, &tmp, &e);
	if (rc != 0) {
		if (out.len != 1)
			abort();
		if (rc == EVK_EINVAL && !has_sig_member(p, n))
			abort();
		if (rc != EVK_EINVAL && rc != EVK_ERANGE && rc != EVK_ENOMEM)
			abort();
		goto done;
	}
	if (has_sig_member(p, n))
		abort();
	q = out.p + 1;
	n = out.len - 1;
	if (evk_json_check(chk, q, n, &type, NULL) != 0 ||
	    type != EVK_JSON_OBJECT)
		abort();
	if (verdict(q, n, &who) != EVK_VERIFY_OK || who != k)
		abort();
	/* Strip gives the input back, without surrounding whitespace. */
	/* White space before the object is kept, after it dropped. */
	while (hi > lo && is_ws(p[hi - 1]))
		hi--;
	if (evk_event_strip(q, n, &back) != 0 || back.len != hi - lo ||
	    memcmp(back.p, p + lo, hi - lo) != 0)
		abort();
	/* What was signed is what signed_bytes says. */
	if (evk_event_signed_bytes(NULL, q, n, &b1, &e) != 0 ||
	    evk_event_signed_bytes(k, p, plen, &b2, &e) != 0 ||
	    b1.len != b2.len || memcmp(b1.p, b2.p, b1.len) != 0)
		abort();
	/* One character of the signature's text changed: not valid.  The
	 * signer wrote it last: ..."sig":"TEXT"} */
	siglen = evk_key_alg(k) == EVK_SIG_HS256 ? 43 : 86;
	if (n < siglen + 2 || memcmp(q + n - 2, "\"}", 2) != 0 ||
	    q[n - siglen - 3] != '"')
		abort();
	at = n - 2 - siglen + pick % siglen;
	c = strchr(b64url, q[at]);
	if (c == NULL || *c == '\0')
		abort();
	q[at] = b64url[(size_t)(c - b64url + 1 + pick / siglen % 63) % 64];
	if (verdict(q, n, &who) == EVK_VERIFY_OK)
		abort();
done:
	evk_buf_free(&out);
	evk_buf_free(&back);
	evk_buf_free(&b1);
	evk_buf_free(&b2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evk_buf st = EVK_BUF_ZERO, sb = EVK_BUF_ZERO;
	enum evk_json_type type;
	const struct evk_key *who;
	size_t pick = 0, i, lo, hi;
	char *p;

	if (chk == NULL)
		setup();
	if (evk_json_check(chk, (const char *)data, size, &type, NULL) != 0 ||
	    type != EVK_JSON_OBJECT)
		return 0;
	/* An exact-size copy, so ASan sees a read past the end. */
	if ((p = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(p, data, size);
	for (i = 0; i < size; i++)
		pick = pick * 31 + data[i];

	verdict(p, size, &who);
	/* Stripped: JSON, none of the three members, unsigned (or
	 * malformed when it has a number JCS cannot hold). */
	if (evk_event_strip(p, size, &st) != 0 ||
	    evk_json_check(chk, st.p, st.len, &type, NULL) != 0 ||
	    type != EVK_JSON_OBJECT || has_sig_member(st.p, st.len))
		abort();
	switch (verdict(st.p, st.len, &who)) {
	case EVK_VERIFY_UNSIGNED: break;
	case EVK_VERIFY_MALFORMED:
		if (evk_event_signed_bytes(NULL, st.p, st.len, &sb, NULL) !=
		    EVK_ERANGE)
			abort();
		break;
	default: abort();
	}
	/* Nothing to strip: the same bytes. */
	lo = 0;
	hi = size;
	/* White space before the object is kept, after it dropped. */
	while (hi > lo && is_ws(p[hi - 1]))
		hi--;
	if (!has_sig_member(p, size) &&
	    (st.len != hi - lo || memcmp(st.p, p + lo, hi - lo) != 0))
		abort();
	oracle(keys[0], p, size, pick);
	oracle(keys[1], p, size, pick >> 7);
	evk_buf_free(&st);
	evk_buf_free(&sb);
	free(p);
	return 0;
}
