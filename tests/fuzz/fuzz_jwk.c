/*
 * tests/fuzz/fuzz_jwk.c - libFuzzer target for evk_keyring_add_jwk().
 *
 * Any input: loading never crashes, leaks or reads outside the exact-size
 * data; on error nothing is added and the message is a NUL-terminated
 * string.  When the input loads, every key written back with
 * evk_key_to_jwk() (with its private half when it has one, and the
 * public half of an Ed25519 key) is JSON, loads into a fresh ring with
 * the same kid, algorithm and private-ness, and signs and verifies the
 * same: HS256 MACs equal, Ed25519 signatures equal (deterministic), each
 * verifying under the other key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evkit/json.h"
#include "evkit/sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct evk_json_checker *chk;

/* Checks that the key written as a JWK loads again as the same key. */
static void
reload(const struct evk_key *k, int with_private, const void *msg, size_t mlen)
{
	struct evk_buf j = EVK_BUF_ZERO;
	struct evk_err e = EVK_ERR_ZERO;
	struct evk_keyring *kr;
	const struct evk_key *k2;
	unsigned char s1[EVK_SIG_MAX], s2[EVK_SIG_MAX];
	size_t l1 = 0, l2 = 0;
	enum evk_json_type type;

	if (evk_key_to_jwk(k, with_private, &j, &e) != 0)
		abort();
	if (evk_json_check(chk, j.p, j.len, &type, NULL) != 0 ||
	    type != EVK_JSON_OBJECT || memchr(j.p, '\n', j.len) != NULL)
		abort();
	if ((kr = evk_keyring_new()) == NULL)
		abort();
	if (evk_keyring_add_jwk(kr, j.p, j.len, &e) != 0 ||
	    evk_keyring_count(kr) != 1)
		abort();
	k2 = evk_keyring_at(kr, 0);
	if (strcmp(evk_key_kid(k2), evk_key_kid(k)) != 0 ||
	    evk_key_alg(k2) != evk_key_alg(k) ||
	    !evk_key_is_private(k2) != !(with_private && evk_key_is_private(k)))
		abort();
	/* key_ops are not written: the copy may sign when the original
	 * may not, never the other way round. */
	if (evk_key_can_sign(k) && with_private && !evk_key_can_sign(k2))
		abort();
	if (evk_key_can_sign(k)) {
		if (evk_key_sign(k, msg, mlen, s1, &l1, &e) != 0 ||
		    l1 != (evk_key_alg(k) == EVK_SIG_HS256 ? 32u : 64u))
			abort();
		if (evk_key_verify(k2, msg, mlen, s1, l1) != 1 ||
		    evk_key_verify(k, msg, mlen, s1, l1) != 1)
			abort();
		if (with_private) {
			if (evk_key_sign(k2, msg, mlen, s2, &l2, &e) != 0 ||
			    l2 != l1 || memcmp(s1, s2, l1) != 0)
				abort();
		}
		s1[l1 / 2] ^= 0x10;
		if (evk_key_verify(k2, msg, mlen, s1, l1) != 0)
			abort();
	}
	evk_keyring_free(kr);
	evk_buf_free(&j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evk_err e = EVK_ERR_ZERO;
	struct evk_keyring *kr;
	size_t i, n;
	char *p;
	int rc;

	if (chk == NULL && (chk = evk_json_checker_new(NULL)) == NULL)
		abort();
	if ((kr = evk_keyring_new()) == NULL)
		abort();
	/* An exact-size copy, so ASan sees a read past the end. */
	p = malloc(size ? size : 1);
	if (p == NULL)
		abort();
	memcpy(p, data, size);
	rc = evk_keyring_add_jwk(kr, p, size, &e);
	if (memchr(e.msg, '\0', sizeof e.msg) == NULL)
		abort();
	if (rc < 0) {
		if (evk_keyring_count(kr) != 0 || e.msg[0] == '\0')
			abort();
		goto done;
	}
	if (rc != 0 || (n = evk_keyring_count(kr)) == 0)
		abort();
	for (i = 0; i < n; i++) {
		const struct evk_key *k = evk_keyring_at(kr, i);
		char thp[EVK_THUMBPRINT_LEN + 1];
		struct evk_buf j = EVK_BUF_ZERO;
		const char *kid;

		if (k == NULL)
			abort();
		kid = evk_key_kid(k);
		if (kid == NULL || *kid == '\0' ||
		    evk_keyring_find(kr, kid, strlen(kid)) != k)
			abort();
		evk_key_thumbprint(k, thp);
		if (strlen(thp) != EVK_THUMBPRINT_LEN ||
		    strspn(thp,
		        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
		        "vwxyz0123456789-_") != EVK_THUMBPRINT_LEN)
			abort();
		if (evk_key_can_sign(k) && !evk_key_is_private(k))
			abort();
		switch (evk_key_alg(k)) {
		case EVK_SIG_HS256:
			if (!evk_key_is_private(k))
				abort();
			reload(k, 1, data, size);
			/* No public half. */
			if (evk_key_to_jwk(k, 0, &j, &e) != EVK_EINVAL)
				abort();
			break;
		case EVK_SIG_EDDSA:
			if (evk_key_is_private(k))
				reload(k, 1, data, size);
			reload(k, 0, data, size);
			break;
		default: abort();
		}
		evk_buf_free(&j);
	}
	if (evk_keyring_at(kr, n) != NULL)
		abort();
done:
	free(p);
	evk_keyring_free(kr);
	return 0;
}
