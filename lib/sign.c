/*
 * lib/sign.c - keys as JWK, HS256 and EdDSA signatures of events over
 * their RFC 8785 canonical form, and the replay window (evkit/sign.h).
 *
 * The event functions never build a modified copy of the event: the
 * canonicalizer is told which top-level members to leave out ("sig") or
 * add ("sigalg", "sigkid"), and the signed line is the input's bytes with
 * the three members appended.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "evkit/json.h"
#include "evkit/sign.h"
#include "internal.h"

/* Longest key id accepted, in bytes. */
#define KID_MAX 256
/* Largest key file read. */
#define KEYFILE_MAX (1 << 20)

struct evk_key {
	enum evk_sigalg alg;
	int can_sign; /* has private material and key_ops allows "sign" */
	int priv; /* has private material */
	char *kid;
	struct evk_buf kid_json; /* the kid as a JSON string, quoted */
	unsigned char *secret; /* HS256 */
	size_t secretlen;
	crypto_auth_hmacsha256_state hmac; /* keyed once, copied per MAC */
	unsigned char pk[crypto_sign_PUBLICKEYBYTES]; /* EdDSA */
	unsigned char sk[crypto_sign_SECRETKEYBYTES]; /* seed then pk */
};

struct evk_keyring {
	struct evk_key **keys;
	size_t n, cap;
};

const char *
evk_sigalg_name(enum evk_sigalg a)
{
	switch (a) {
	case EVK_SIG_HS256: return "HS256";
	case EVK_SIG_EDDSA: return "EdDSA";
	}
	return NULL;
}

/*** base64url without padding (RFC 4648 section 5) ***/

/* Signatures are encoded and decoded once per event, so these are plain
 * table code rather than libsodium's constant-time versions, which cost
 * a tenth of a verification.  What they handle is public (signatures) or
 * read once from a file (keys). */
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Writes the base64url text of `bin[0..n)` and a NUL at `w`; returns the
 * text's length, (4n + 2) / 3. */
static size_t
b64_put(char *w, const unsigned char *bin, size_t n)
{
	char *w0 = w;
	size_t i;

	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)bin[i] << 16 |
		    (uint32_t)bin[i + 1] << 8 | bin[i + 2];
		*w++ = b64_alphabet[v >> 18];
		*w++ = b64_alphabet[(v >> 12) & 63];
		*w++ = b64_alphabet[(v >> 6) & 63];
		*w++ = b64_alphabet[v & 63];
	}
	if (n - i == 1) {
		*w++ = b64_alphabet[bin[i] >> 2];
		*w++ = b64_alphabet[(bin[i] & 3) << 4];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)bin[i] << 8 | bin[i + 1];
		*w++ = b64_alphabet[v >> 10];
		*w++ = b64_alphabet[(v >> 4) & 63];
		*w++ = b64_alphabet[(v & 15) << 2];
	}
	*w = '\0';
	return (size_t)(w - w0);
}

/* Appends the base64url text of `bin[0..n)`. */
static int
b64_add(struct evk_buf *out, const unsigned char *bin, size_t n)
{
	int rc;

	if ((rc = evk_buf_reserve(out, (n * 4 + 2) / 3)) < 0)
		return rc;
	out->len += b64_put(out->p + out->len, bin, n);
	return 0;
}

/* The value of each byte as a base64url character, or -1. */
/* clang-format off */
static const signed char b64_values[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};
/* clang-format on */

/*
 * Decodes `s[0..n)` into `bin` (room for `cap` bytes) when it is exactly
 * base64url without padding, in its one canonical spelling (unused low
 * bits zero, so one value has one text).  Returns the length or -1.
 */
static long
b64_decode(unsigned char *bin, size_t cap, const char *s, size_t n)
{
	size_t len = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0), i, o = 0;
	uint32_t acc = 0;
	int bits = 0, v;

	if (n == 0 || n % 4 == 1 || len > cap)
		return -1;
	for (i = 0; i < n; i++) {
		if ((v = b64_values[(unsigned char)s[i]]) < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			bin[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return acc != 0 ? -1 : (long)len;
}

/*** keys ***/

static struct evk_key *
key_new(enum evk_sigalg alg, struct evk_err *err)
{
	struct evk_key *k;

	if (sodium_init() < 0) {
		evk__err(err, EVK_ENOMEM, 0, "libsodium cannot initialise");
		return NULL;
	}
	if ((k = calloc(1, sizeof *k)) == NULL) {
		evk__err(err, EVK_ENOMEM, 0, "out of memory");
		return NULL;
	}
	k->alg = alg;
	return k;
}

void
evk_key_free(struct evk_key *k)
{
	if (k == NULL)
		return;
	if (k->secret != NULL) {
		sodium_memzero(k->secret, k->secretlen);
		free(k->secret);
	}
	free(k->kid);
	evk_buf_free(&k->kid_json);
	sodium_memzero(k, sizeof *k);
	free(k);
}

/* Sets the key id: `kid`, or the thumbprint when NULL.  Frees `k` on
 * error. */
static struct evk_key *
key_finish(struct evk_key *k, const char *kid, struct evk_err *err)
{
	char tp[EVK_THUMBPRINT_LEN + 1];

	if (kid == NULL) {
		evk_key_thumbprint(k, tp);
		kid = tp;
	}
	if (kid[0] == '\0' || strlen(kid) > KID_MAX) {
		evk__err(err, EVK_EINVAL, 0,
		    kid[0] == '\0' ? "empty kid" : "kid longer than %d bytes",
		    KID_MAX);
		evk_key_free(k);
		return NULL;
	}
	if ((k->kid = strdup(kid)) == NULL ||
	    evk_json_escape(&k->kid_json, kid, strlen(kid)) < 0) {
		evk__err(err, EVK_ENOMEM, 0, "out of memory");
		evk_key_free(k);
		return NULL;
	}
	return k;
}

struct evk_key *
evk_key_hs256(const void *secret, size_t len, const char *kid,
    struct evk_err *err)
{
	struct evk_key *k = key_new(EVK_SIG_HS256, err);

	if (k == NULL)
		return NULL;
	if ((k->secret = malloc(len ? len : 1)) == NULL) {
		evk__err(err, EVK_ENOMEM, 0, "out of memory");
		evk_key_free(k);
		return NULL;
	}
	memcpy(k->secret, secret, len);
	k->secretlen = len;
	crypto_auth_hmacsha256_init(&k->hmac, k->secret, len);
	k->priv = k->can_sign = 1;
	return key_finish(k, kid, err);
}

struct evk_key *
evk_key_ed25519(const unsigned char *seed, const unsigned char *pub,
    const char *kid, struct evk_err *err)
{
	struct evk_key *k = key_new(EVK_SIG_EDDSA, err);

	if (k == NULL)
		return NULL;
	if (seed != NULL) {
		crypto_sign_seed_keypair(k->pk, k->sk, seed);
		k->priv = k->can_sign = 1;
	} else {
		memcpy(k->pk, pub, sizeof k->pk);
	}
	return key_finish(k, kid, err);
}

struct evk_key *
evk_key_generate(enum evk_sigalg alg, const char *kid, struct evk_err *err)
{
	unsigned char b[32];
	struct evk_key *k;

	if (sodium_init() < 0) {
		evk__err(err, EVK_ENOMEM, 0, "libsodium cannot initialise");
		return NULL;
	}
	randombytes_buf(b, sizeof b);
	if (alg == EVK_SIG_HS256)
		k = evk_key_hs256(b, sizeof b, kid, err);
	else if (alg == EVK_SIG_EDDSA)
		k = evk_key_ed25519(b, NULL, kid, err);
	else
		k = (evk__err(err, EVK_EINVAL, 0, "unknown algorithm"), NULL);
	sodium_memzero(b, sizeof b);
	return k;
}

enum evk_sigalg
evk_key_alg(const struct evk_key *k)
{
	return k->alg;
}

const char *
evk_key_kid(const struct evk_key *k)
{
	return k->kid;
}

int
evk_key_can_sign(const struct evk_key *k)
{
	return k->can_sign;
}

int
evk_key_is_private(const struct evk_key *k)
{
	return k->priv;
}

/* Appends the RFC 7638 members of `k` in their canonical order (without
 * "alg", "kid"); with `priv`, "d" too.  The base64url alphabet needs no
 * escape, so this is the thumbprint input as it stands. */
static int
jwk_members(const struct evk_key *k, int priv, struct evk_buf *out)
{
	int rc;

	if (k->alg == EVK_SIG_HS256) {
		if ((rc = evk_buf_adds(out, "{\"k\":\"")) < 0 ||
		    (rc = b64_add(out, k->secret, k->secretlen)) < 0)
			return rc;
		return evk_buf_adds(out, "\",\"kty\":\"oct\"}");
	}
	if ((rc = evk_buf_adds(out,
	         "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"")) < 0 ||
	    (rc = b64_add(out, k->pk, sizeof k->pk)) < 0)
		return rc;
	if (priv &&
	    ((rc = evk_buf_adds(out, "\",\"d\":\"")) < 0 ||
	        (rc = b64_add(out, k->sk, 32)) < 0))
		return rc;
	return evk_buf_adds(out, "\"}");
}

void
evk_key_thumbprint(const struct evk_key *k, char out[EVK_THUMBPRINT_LEN + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	struct evk_buf b = EVK_BUF_ZERO;
	/* At most 1 MiB of secret: a stack buffer would not do. */
	if (jwk_members(k, 0, &b) < 0) {
		/* Out of memory: no thumbprint can be computed; an empty
		 * text makes key_finish() fail cleanly. */
		out[0] = '\0';
		evk_buf_free(&b);
		return;
	}
	crypto_hash_sha256(h, (const unsigned char *)b.p, b.len);
	sodium_memzero(b.p, b.len);
	evk_buf_free(&b);
	b64_put(out, h, sizeof h);
}

int
evk_key_to_jwk(const struct evk_key *k, int with_private, struct evk_buf *out,
    struct evk_err *err)
{
	size_t mark = out->len;
	int rc;

	if (k->alg == EVK_SIG_HS256 && !with_private)
		return evk__err(err, EVK_EINVAL, 0,
		    "an HS256 key is a shared secret: it has no public half");
	if (k->alg == EVK_SIG_HS256) {
		rc = evk_buf_adds(out,
		    "{\"kty\":\"oct\",\"alg\":\"HS256\",\"kid\":");
		if (rc == 0)
			rc = evk_buf_add(out, k->kid_json.p, k->kid_json.len);
		if (rc == 0)
			rc = evk_buf_adds(out, ",\"k\":\"");
		if (rc == 0)
			rc = b64_add(out, k->secret, k->secretlen);
	} else {
		rc = evk_buf_adds(out,
		    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
		    "\"alg\":\"EdDSA\",\"kid\":");
		if (rc == 0)
			rc = evk_buf_add(out, k->kid_json.p, k->kid_json.len);
		if (rc == 0)
			rc = evk_buf_adds(out, ",\"x\":\"");
		if (rc == 0)
			rc = b64_add(out, k->pk, sizeof k->pk);
		if (rc == 0 && with_private && k->priv) {
			rc = evk_buf_adds(out, "\",\"d\":\"");
			if (rc == 0)
				rc = b64_add(out, k->sk, 32);
		}
	}
	if (rc == 0)
		rc = evk_buf_adds(out, "\"}");
	if (rc < 0) {
		out->len = mark;
		return evk__err(err, rc, 0, "out of memory");
	}
	return 0;
}

int
evk_key_sign(const struct evk_key *k, const void *msg, size_t len,
    unsigned char sig[EVK_SIG_MAX], size_t *siglen, struct evk_err *err)
{
	crypto_auth_hmacsha256_state st;

	if (!k->can_sign)
		return evk__err(err, EVK_EINVAL, 0,
		    k->priv ? "key \"%s\" may not sign (its key_ops)"
		            : "key \"%s\" is a public key: it cannot sign",
		    k->kid);
	if (k->alg == EVK_SIG_HS256) {
		st = k->hmac;
		crypto_auth_hmacsha256_update(&st, msg, len);
		crypto_auth_hmacsha256_final(&st, sig);
		sodium_memzero(&st, sizeof st);
		*siglen = crypto_auth_hmacsha256_BYTES;
	} else {
		unsigned long long n;
		crypto_sign_detached(sig, &n, msg, len, k->sk);
		*siglen = (size_t)n;
	}
	return 0;
}

int
evk_key_verify(const struct evk_key *k, const void *msg, size_t len,
    const unsigned char *sig, size_t siglen)
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	int ok;

	if (k->alg == EVK_SIG_HS256) {
		if (siglen != sizeof mac)
			return 0;
		st = k->hmac;
		crypto_auth_hmacsha256_update(&st, msg, len);
		crypto_auth_hmacsha256_final(&st, mac);
		ok = crypto_verify_32(mac, sig) == 0;
		sodium_memzero(&st, sizeof st);
		sodium_memzero(mac, sizeof mac);
		return ok;
	}
	return siglen == crypto_sign_BYTES &&
	    crypto_sign_verify_detached(sig, msg, len, k->pk) == 0;
}

/*** JWK ***/

/* A string member of a JWK, or NULL; "not a string" is an error. */
static int
jwk_str(json_t *o, const char *name, const char **s, size_t *n, int required,
    const char *who, struct evk_err *err)
{
	json_t *v = json_object_get(o, name);

	*s = NULL;
	if (v == NULL)
		return required ? evk__err(err, EVK_EINVAL, 0,
		                      "%sno \"%s\" member", who, name)
		                : 0;
	if (!json_is_string(v))
		return evk__err(err, EVK_EINVAL, 0, "%s\"%s\" is not a string",
		    who, name);
	*s = json_string_value(v);
	*n = json_string_length(v);
	return 0;
}

/* A base64url member of exactly `want` bytes (0: an HS256 secret, 32 or
 * more) into a new buffer `*heap` or into `fixed`. */
static int
jwk_bytes(const char *s, size_t n, const char *name, size_t want,
    unsigned char *fixed, unsigned char **heap, size_t *len, const char *who,
    struct evk_err *err)
{
	size_t cap = n / 4 * 3 + 3;
	unsigned char *b;
	long got;

	if ((b = malloc(cap)) == NULL)
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	got = b64_decode(b, cap, s, n);
	if (got >= 0 &&
	    (want ? (size_t)got == want
	          : got >= crypto_auth_hmacsha256_BYTES)) {
		*len = (size_t)got;
		if (want == 0) {
			*heap = b;
			return 0;
		}
		memcpy(fixed, b, want);
	}
	sodium_memzero(b, cap);
	free(b);
	if (got < 0)
		return evk__err(err, EVK_EINVAL, 0,
		    "%s\"%s\" is not base64url without padding", who, name);
	if (want && (size_t)got != want)
		return evk__err(err, EVK_EINVAL, 0,
		    "%s\"%s\" has %ld bytes, %zu expected", who, name, got,
		    want);
	if (!want && got < crypto_auth_hmacsha256_BYTES)
		return evk__err(err, EVK_EINVAL, 0,
		    "%s\"%s\" has %ld bytes: an HS256 secret needs at least %d "
		    "(RFC 7518 3.2)",
		    who, name, got, crypto_auth_hmacsha256_BYTES);
	return 0;
}

/* Reads one JWK object into a key; `who` prefixes messages ("key 2: "). */
static struct evk_key *
jwk_key(json_t *o, const char *who, struct evk_err *err)
{
	const char *kty, *alg, *kid, *use, *crv, *x, *d, *ks;
	size_t ktyn, algn, kidn, usen, crvn, xn, dn = 0, ksn;
	unsigned char pub[32], seed[32], *secret = NULL;
	size_t len;
	int sign = 1, verify = 1;
	json_t *ops, *op;
	size_t i;
	struct evk_key *k = NULL;

	if (!json_is_object(o)) {
		evk__err(err, EVK_EINVAL, 0, "%snot a JSON object", who);
		return NULL;
	}
	if (jwk_str(o, "kty", &kty, &ktyn, 1, who, err) < 0 ||
	    jwk_str(o, "alg", &alg, &algn, 0, who, err) < 0 ||
	    jwk_str(o, "kid", &kid, &kidn, 0, who, err) < 0 ||
	    jwk_str(o, "use", &use, &usen, 0, who, err) < 0)
		return NULL;
	if (use != NULL && strcmp(use, "sig") != 0) {
		evk__err(err, EVK_EINVAL, 0,
		    "%s\"use\" is \"%.40s\": a signing key needs \"sig\"", who,
		    use);
		return NULL;
	}
	if ((ops = json_object_get(o, "key_ops")) != NULL) {
		if (!json_is_array(ops)) {
			evk__err(err, EVK_EINVAL, 0,
			    "%s\"key_ops\" is not an array", who);
			return NULL;
		}
		sign = verify = 0;
		json_array_foreach(ops, i, op)
		{
			if (!json_is_string(op)) {
				evk__err(err, EVK_EINVAL, 0,
				    "%s\"key_ops\" holds a non-string", who);
				return NULL;
			}
			sign |= !strcmp(json_string_value(op), "sign");
			verify |= !strcmp(json_string_value(op), "verify");
		}
		if (!verify) {
			evk__err(err, EVK_EINVAL, 0,
			    "%s\"key_ops\" does not allow \"verify\"", who);
			return NULL;
		}
	}
	if (kid != NULL &&
	    (kidn == 0 || kidn > KID_MAX || strlen(kid) != kidn)) {
		evk__err(err, EVK_EINVAL, 0, "%s\"kid\" is %s", who,
		    kidn == 0 ? "empty" : "too long");
		return NULL;
	}
	if (!strcmp(kty, "oct")) {
		if (alg != NULL && strcmp(alg, "HS256") != 0) {
			evk__err(err, EVK_EINVAL, 0,
			    "%s\"alg\" \"%.40s\" is not supported for an oct "
			    "key (HS256)",
			    who, alg);
			return NULL;
		}
		if (jwk_str(o, "k", &ks, &ksn, 1, who, err) < 0 ||
		    jwk_bytes(ks, ksn, "k", 0, NULL, &secret, &len, who, err) <
		        0)
			return NULL;
		k = evk_key_hs256(secret, len, kid, err);
		sodium_memzero(secret, len);
		free(secret);
	} else if (!strcmp(kty, "OKP")) {
		if (jwk_str(o, "crv", &crv, &crvn, 1, who, err) < 0)
			return NULL;
		if (strcmp(crv, "Ed25519") != 0) {
			evk__err(err, EVK_EINVAL, 0,
			    "%s\"crv\" \"%.40s\" is not supported (Ed25519)",
			    who, crv);
			return NULL;
		}
		if (alg != NULL && strcmp(alg, "EdDSA") != 0) {
			evk__err(err, EVK_EINVAL, 0,
			    "%s\"alg\" \"%.40s\" is not supported for an "
			    "Ed25519 key (EdDSA)",
			    who, alg);
			return NULL;
		}
		if (jwk_str(o, "x", &x, &xn, 1, who, err) < 0 ||
		    jwk_str(o, "d", &d, &dn, 0, who, err) < 0 ||
		    jwk_bytes(x, xn, "x", 32, pub, NULL, &len, who, err) < 0 ||
		    (d != NULL &&
		        jwk_bytes(d, dn, "d", 32, seed, NULL, &len, who, err) <
		            0))
			return NULL;
		k = evk_key_ed25519(d ? seed : NULL, pub, kid, err);
		sodium_memzero(seed, sizeof seed);
		if (k != NULL && memcmp(k->pk, pub, sizeof pub) != 0) {
			evk_key_free(k);
			evk__err(err, EVK_EINVAL, 0,
			    "%s\"d\" and \"x\" are not the same key pair", who);
			return NULL;
		}
	} else {
		evk__err(err, EVK_EINVAL, 0,
		    "%s\"kty\" \"%.40s\" is not supported (oct or OKP)", who,
		    kty);
		return NULL;
	}
	if (k != NULL && !sign)
		k->can_sign = 0;
	return k;
}

/*** key rings ***/

struct evk_keyring *
evk_keyring_new(void)
{
	if (sodium_init() < 0)
		return NULL;
	return calloc(1, sizeof(struct evk_keyring));
}

void
evk_keyring_free(struct evk_keyring *kr)
{
	size_t i;

	if (kr == NULL)
		return;
	for (i = 0; i < kr->n; i++)
		evk_key_free(kr->keys[i]);
	free(kr->keys);
	free(kr);
}

size_t
evk_keyring_count(const struct evk_keyring *kr)
{
	return kr->n;
}

const struct evk_key *
evk_keyring_at(const struct evk_keyring *kr, size_t i)
{
	return i < kr->n ? kr->keys[i] : NULL;
}

const struct evk_key *
evk_keyring_find(const struct evk_keyring *kr, const char *kid, size_t len)
{
	size_t i;

	for (i = 0; i < kr->n; i++)
		if (strlen(kr->keys[i]->kid) == len &&
		    !memcmp(kr->keys[i]->kid, kid, len))
			return kr->keys[i];
	return NULL;
}

int
evk_keyring_add(struct evk_keyring *kr, struct evk_key *k, struct evk_err *err)
{
	struct evk_key **nk;

	if (evk_keyring_find(kr, k->kid, strlen(k->kid)) != NULL) {
		evk__err(err, EVK_EINVAL, 0, "duplicate kid \"%.80s\"", k->kid);
		evk_key_free(k);
		return EVK_EINVAL;
	}
	if (kr->n == kr->cap) {
		size_t cap = kr->cap ? kr->cap * 2 : 4;
		if ((nk = realloc(kr->keys, cap * sizeof *nk)) == NULL) {
			evk_key_free(k);
			return evk__err(err, EVK_ENOMEM, 0, "out of memory");
		}
		kr->keys = nk;
		kr->cap = cap;
	}
	kr->keys[kr->n++] = k;
	return 0;
}

/* Parses the JWK or JWK Set text into `kr`, all or nothing; `*priv` is
 * set when a key holds private material. */
static int
add_jwk(struct evk_keyring *kr, const char *p, size_t len, int *priv,
    struct evk_err *err)
{
	struct evk_json_checker *c;
	json_t *root, *keys, *one;
	struct evk_err e = EVK_ERR_ZERO;
	size_t n0 = kr->n, i, nkeys;
	char who[32];
	int rc = 0;

	*priv = 0;
	if ((c = evk_json_checker_new(NULL)) == NULL)
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	root = evk_json_load(c, p, len, &e);
	evk_json_checker_free(c);
	if (root == NULL)
		return evk__err(err, e.code, e.column,
		    "not JSON: %s at column %zu", e.msg, e.column);
	keys = json_object_get(root, "keys");
	if (!json_is_object(root)) {
		rc = evk__err(err, EVK_EINVAL, 0,
		    "not a JWK or a JWK Set (a JSON object)");
	} else if (keys != NULL && !json_is_array(keys)) {
		rc = evk__err(err, EVK_EINVAL, 0, "\"keys\" is not an array");
	} else if (keys != NULL && json_array_size(keys) == 0) {
		rc = evk__err(err, EVK_EINVAL, 0, "the JWK Set has no keys");
	}
	nkeys = keys != NULL ? json_array_size(keys) : 1;
	for (i = 0; rc == 0 && i < nkeys; i++) {
		struct evk_key *k;
		one = keys != NULL ? json_array_get(keys, i) : root;
		if (keys != NULL)
			snprintf(who, sizeof who, "key %zu: ", i + 1);
		else
			who[0] = '\0';
		if ((k = jwk_key(one, who, err)) == NULL) {
			rc = err != NULL && err->code ? err->code : EVK_EINVAL;
			break;
		}
		*priv |= k->priv;
		rc = evk_keyring_add(kr, k, err);
	}
	json_decref(root);
	if (rc < 0) {
		while (kr->n > n0)
			evk_key_free(kr->keys[--kr->n]);
		*priv = 0;
	}
	return rc;
}

int
evk_keyring_add_jwk(struct evk_keyring *kr, const char *p, size_t len,
    struct evk_err *err)
{
	int priv;

	return add_jwk(kr, p, len, &priv, err);
}

int
evk_keyring_load(struct evk_keyring *kr, const char *path, struct evk_err *err)
{
	struct evk_buf b = EVK_BUF_ZERO;
	struct stat st;
	size_t n0 = kr->n;
	ssize_t got;
	int fd, rc = 0, priv;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0 ||
	    fstat(fd, &st) < 0) {
		rc = evk__err(err, EVK_EIO, 0, "%s", strerror(errno));
		if (err != NULL)
			err->sys_errno = errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	for (;;) {
		if ((rc = evk_buf_reserve(&b, 4096)) < 0) {
			rc = evk__err(err, rc, 0, "out of memory");
			break;
		}
		got = read(fd, b.p + b.len, b.cap - b.len - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = evk__err(err, EVK_EIO, 0, "%s", strerror(errno));
			break;
		}
		if (got == 0)
			break;
		b.len += (size_t)got;
		if (b.len > KEYFILE_MAX) {
			rc = evk__err(err, EVK_EINVAL, 0,
			    "larger than %d bytes: not a key file",
			    KEYFILE_MAX);
			break;
		}
	}
	close(fd);
	if (rc == 0)
		rc = add_jwk(kr, b.p != NULL ? b.p : "", b.len, &priv, err);
	if (rc == 0 && priv && (st.st_mode & 077) != 0) {
		rc = evk__err(err, EVK_EINVAL, 0,
		    "permissions %04o are too open: a private key must be "
		    "accessible by its owner only (chmod 600)",
		    (unsigned)(st.st_mode & 07777));
		while (kr->n > n0)
			evk_key_free(kr->keys[--kr->n]);
	}
	if (b.p != NULL)
		sodium_memzero(b.p, b.cap);
	evk_buf_free(&b);
	return rc;
}

/*** events ***/

/* The object without the white space around it. */
static struct evk_span
trim(const char *p, size_t len)
{
	struct evk_span s;

	while (
	    len > 0 && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
		p++;
		len--;
	}
	while (len > 0 &&
	    (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\n' ||
	        p[len - 1] == '\r'))
		len--;
	s.p = p;
	s.len = len;
	return s;
}

/* The members sig, sigalg and sigkid, as canonicalization finds them. */
static const struct evk_span sig_names[] = {{"sig", 3}, {"sigalg", 6},
    {"sigkid", 6}};

struct sigattrs {
	struct evk_span found[3]; /* sig, sigalg, sigkid */
	struct evk__canon_top top;
};

/* Sets up `a` for evk__canon_edit(): watch the three members, leave out
 * "sig" when `omit`, add `extra` (nextra pairs). */
static struct evk__canon_top *
sigattrs_init(struct sigattrs *a, int omit, const struct evk_span *extra,
    size_t nextra)
{
	memset(a, 0, sizeof *a);
	a->top.omit = omit ? sig_names : NULL;
	a->top.nomit = omit ? 1 : 0;
	a->top.extra = extra;
	a->top.nextra = nextra;
	a->top.watch = sig_names;
	a->top.nwatch = 3;
	a->top.found = a->found;
	return &a->top;
}

/* The members that signing adds before "sig", as canon extras. */
static void
sign_extras(const struct evk_key *k, struct evk_span extra[4])
{
	extra[0] = (struct evk_span){"\"sigalg\"", 8};
	extra[1] = k->alg == EVK_SIG_HS256 ? (struct evk_span){"\"HS256\"", 7}
	                                   : (struct evk_span){"\"EdDSA\"", 7};
	extra[2] = (struct evk_span){"\"sigkid\"", 8};
	extra[3] = (struct evk_span){k->kid_json.p, k->kid_json.len};
}

int
evk_event_sign(const struct evk_key *k, const char *p, size_t len,
    struct evk_buf *out, struct evk_buf *tmp, struct evk_err *err)
{
	struct evk_span obj = trim(p, len), extra[4];
	unsigned char sig[EVK_SIG_MAX];
	struct sigattrs a;
	size_t siglen, mark = out->len, i;
	int rc;

	if (obj.len < 2 || obj.p[0] != '{' || obj.p[obj.len - 1] != '}')
		return evk__err(err, EVK_EINVAL, 0, "not a JSON object");
	if (!k->can_sign)
		return evk_key_sign(k, "", 0, sig, &siglen, err);
	sign_extras(k, extra);
	evk_buf_reset(tmp);
	if ((rc = evk__canon_edit(obj.p, obj.len,
	         sigattrs_init(&a, 0, extra, 2), tmp, err)) < 0)
		return rc;
	for (i = 0; i < 3; i++)
		if (a.found[i].p != NULL)
			return evk__err(err, EVK_EINVAL, 0,
			    "already signed (it has a \"%s\" attribute)",
			    sig_names[i].p);
	evk_key_sign(k, tmp->p, tmp->len, sig, &siglen, NULL);
	/* The event up to its closing brace, then the three members. */
	rc = evk_buf_reserve(out, obj.len + k->kid_json.len + 120);
	if (rc == 0) {
		/* White space before the object stays, as in strip. */
		evk_buf_add(out, p, (size_t)(obj.p - p) + obj.len - 1);
		if (a.top.nmembers > 0)
			evk_buf_add(out, ",", 1);
		evk_buf_adds(out, "\"sigalg\":");
		evk_buf_add(out, extra[1].p, extra[1].len);
		evk_buf_adds(out, ",\"sigkid\":");
		evk_buf_add(out, k->kid_json.p, k->kid_json.len);
		evk_buf_adds(out, ",\"sig\":\"");
		rc = b64_add(out, sig, siglen);
	}
	if (rc == 0)
		rc = evk_buf_add(out, "\"}", 2);
	if (rc < 0) {
		out->len = mark;
		if (out->p != NULL)
			out->p[mark] = '\0';
		return evk__err(err, rc, 0, "out of memory");
	}
	return 0;
}

int
evk_event_signed_bytes(const struct evk_key *k, const char *p, size_t len,
    struct evk_buf *out, struct evk_err *err)
{
	struct evk_span obj = trim(p, len), extra[4];
	struct sigattrs a;

	size_t mark = out->len;
	int rc;

	rc = evk__canon_edit(obj.p, obj.len, sigattrs_init(&a, 1, NULL, 0), out,
	    err);
	if (rc < 0 || k == NULL || a.found[1].p != NULL || a.found[2].p != NULL)
		return rc;
	/* Unsigned: again, as sign would see it. */
	out->len = mark;
	out->p[mark] = '\0';
	sign_extras(k, extra);
	return evk__canon_edit(obj.p, obj.len, sigattrs_init(&a, 1, extra, 2),
	    out, err);
}

const char *
evk_verdict_name(enum evk_verdict v)
{
	switch (v) {
	case EVK_VERIFY_OK: return "valid";
	case EVK_VERIFY_UNSIGNED: return "unsigned";
	case EVK_VERIFY_MALFORMED: return "malformed";
	case EVK_VERIFY_UNKNOWN_KEY: return "unknown key";
	case EVK_VERIFY_ALG_MISMATCH: return "algorithm mismatch";
	case EVK_VERIFY_BAD_SIG: return "bad signature";
	}
	return "?";
}

static int verdict(struct evk_err *err, enum evk_verdict v, const char *fmt,
    ...) EVK__PRINTF(3, 4);

/* Fills err->msg with the verdict's word, then ": " and the detail. */
static int
verdict(struct evk_err *err, enum evk_verdict v, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL)
		return (int)v;
	evk__err(err, 0, 0, "%s", evk_verdict_name(v));
	if (fmt != NULL) {
		n = (int)strlen(err->msg);
		snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": ");
		va_start(ap, fmt);
		vsnprintf(err->msg + n + 2, sizeof err->msg - (size_t)n - 2,
		    fmt, ap);
		va_end(ap);
	}
	return (int)v;
}

/* How much of a raw JSON string span a message shows: all of it, or its
 * first 80 bytes or so, cut before a UTF-8 continuation byte (the caller
 * adds "..." when shown() < s.len). */
static int
shown(struct evk_span s)
{
	size_t n = s.len;

	if (n > 80)
		for (n = 80; n > 0 && ((unsigned char)s.p[n] & 0xc0) == 0x80;)
			n--;
	return (int)n;
}

/* The key whose id is the raw JSON string `kid`, escapes and all. */
static const struct evk_key *
find_kid(const struct evk_keyring *kr, struct evk_span kid)
{
	size_t i;

	if (memchr(kid.p, '\\', kid.len) == NULL)
		return evk_keyring_find(kr, kid.p + 1, kid.len - 2);
	for (i = 0; i < kr->n; i++)
		if (evk_json_key_eq(kid, kr->keys[i]->kid,
		        strlen(kr->keys[i]->kid)))
			return kr->keys[i];
	return NULL;
}

int
evk_event_verify(const struct evk_keyring *kr, const char *p, size_t len,
    struct evk_buf *tmp, const struct evk_key **key, struct evk_err *err)
{
	struct evk_span obj = trim(p, len), s, alg, kid;
	unsigned char sig[EVK_SIG_MAX];
	const struct evk_key *k;
	const char *name, *what;
	struct sigattrs a;
	char msg[sizeof err->msg];
	long siglen;
	int rc;

	/* Canonical bytes first: the same pass finds the three members.  A
	 * number it cannot write (1e400) fails it after the top-level object
	 * was opened, so the members are found all the same, and the failure
	 * is reported where evkit-event(5) puts it: after the key and the
	 * algorithm. */
	evk_buf_reset(tmp);
	msg[0] = '\0';
	rc = evk__canon_edit(obj.p, obj.len, sigattrs_init(&a, 1, NULL, 0), tmp,
	    err);
	if (rc == EVK_ENOMEM)
		return rc;
	if (rc < 0 && err != NULL)
		memcpy(msg, err->msg, sizeof msg);
	s = a.found[0];
	alg = a.found[1];
	kid = a.found[2];
	if (s.p == NULL && alg.p == NULL && kid.p == NULL)
		return verdict(err, EVK_VERIFY_UNSIGNED,
		    "no sig, sigalg or sigkid attribute");
	what = s.p == NULL ? "sig" : alg.p == NULL ? "sigalg" : "sigkid";
	if (s.p == NULL || alg.p == NULL || kid.p == NULL)
		return verdict(err, EVK_VERIFY_MALFORMED, "no \"%s\" attribute",
		    what);
	what = evk_json_type_of(s) != EVK_JSON_STRING  ? "sig"
	    : evk_json_type_of(alg) != EVK_JSON_STRING ? "sigalg"
	    : evk_json_type_of(kid) != EVK_JSON_STRING ? "sigkid"
	                                               : NULL;
	if (what != NULL)
		return verdict(err, EVK_VERIFY_MALFORMED, "%s is not a string",
		    what);
	if ((k = find_kid(kr, kid)) == NULL) {
		/* The id as written: escapes stay escapes, so no control
		 * character reaches a terminal. */
		if (err != NULL)
			snprintf(err->msg, sizeof err->msg,
			    "unknown key %.*s%s", shown(kid), kid.p,
			    (size_t)shown(kid) < kid.len ? "..." : "");
		return EVK_VERIFY_UNKNOWN_KEY;
	}
	name = evk_sigalg_name(k->alg);
	if (!evk_json_key_eq(alg, name, strlen(name)))
		return verdict(err, EVK_VERIFY_ALG_MISMATCH,
		    "the event says %.*s%s, key \"%s\" is %s", shown(alg),
		    alg.p, (size_t)shown(alg) < alg.len ? "..." : "", k->kid,
		    name);
	siglen = b64_decode(sig, sizeof sig, s.p + 1, s.len - 2);
	if (siglen < 0)
		return verdict(err, EVK_VERIFY_MALFORMED,
		    "sig is not base64url without padding");
	if ((size_t)siglen !=
	    (k->alg == EVK_SIG_HS256 ? crypto_auth_hmacsha256_BYTES
	                             : crypto_sign_BYTES))
		return verdict(err, EVK_VERIFY_MALFORMED,
		    "sig has %ld bytes, %s needs %d", siglen, name,
		    k->alg == EVK_SIG_HS256 ? crypto_auth_hmacsha256_BYTES
		                            : crypto_sign_BYTES);
	if (rc < 0)
		return verdict(err, EVK_VERIFY_MALFORMED, "%s",
		    msg[0] ? msg : "no canonical form");
	if (!evk_key_verify(k, tmp->p, tmp->len, sig, (size_t)siglen))
		return verdict(err, EVK_VERIFY_BAD_SIG, NULL);
	if (key != NULL)
		*key = k;
	return EVK_VERIFY_OK;
}

int
evk_event_strip(const char *p, size_t len, struct evk_buf *out)
{
	struct evk_span obj = trim(p, len), k, v;
	struct evk_json_iter it;
	const char *from = p, *prev_end = NULL;
	size_t mark = out->len;
	int kept = 0, skip_sep = 0, rc = 0;

	evk_json_iter_init(&it, obj);
	while (rc == 0 && evk_json_iter_next(&it, &k, &v)) {
		const char *end = v.p + v.len;
		if (evk_json_key_eq(k, "sig", 3) ||
		    evk_json_key_eq(k, "sigalg", 6) ||
		    evk_json_key_eq(k, "sigkid", 6)) {
			/* Out with its separator: the comma before it, or,
			 * when nothing was kept yet, the one after it. */
			const char *cut = k.p;
			if (kept) /* from the comma on: white space before it
			             stays, as it was before signing */
				for (cut = prev_end; *cut != ','; cut++)
					;
			if (kept || !skip_sep)
				rc = evk_buf_add(out, from,
				    (size_t)(cut - from));
			from = end;
			skip_sep = !kept;
		} else {
			if (skip_sep)
				from = k.p;
			skip_sep = 0;
			kept = 1;
		}
		prev_end = end;
	}
	if (rc == 0)
		rc = evk_buf_add(out, from, (size_t)(obj.p + obj.len - from));
	if (rc < 0) {
		out->len = mark;
		if (out->p != NULL)
			out->p[mark] = '\0';
	}
	return rc;
}

/*** replay window ***/

/*
 * An open-addressing hash table of 128-bit keyed hashes with deadlines.
 * Expired entries stay in place until the table is rebuilt, which happens
 * when it is 70% full: only the live entries move to the new table,
 * sized so that it is at most half full.
 */
struct dd_entry {
	uint64_t h0, h1;
	int64_t until; /* INT64_MIN: empty */
};

struct evk_dedupe {
	unsigned char key[crypto_generichash_KEYBYTES];
	struct dd_entry *t;
	size_t cap, n, max;
	int64_t next_expiry; /* earliest deadline at the last rebuild */
};

static struct dd_entry *
dd_table(size_t cap)
{
	struct dd_entry *t = malloc(cap * sizeof *t);
	size_t i;

	if (t != NULL)
		for (i = 0; i < cap; i++)
			t[i].until = INT64_MIN;
	return t;
}

struct evk_dedupe *
evk_dedupe_new(size_t max)
{
	struct evk_dedupe *d;

	if (max == 0 || max > SIZE_MAX / 4 / sizeof(struct dd_entry) ||
	    sodium_init() < 0 || (d = calloc(1, sizeof *d)) == NULL)
		return NULL;
	d->max = max;
	d->cap = 16;
	d->next_expiry = INT64_MAX;
	if ((d->t = dd_table(d->cap)) == NULL) {
		free(d);
		return NULL;
	}
	crypto_generichash_keygen(d->key);
	return d;
}

void
evk_dedupe_free(struct evk_dedupe *d)
{
	if (d == NULL)
		return;
	free(d->t);
	sodium_memzero(d, sizeof *d);
	free(d);
}

size_t
evk_dedupe_count(const struct evk_dedupe *d)
{
	return d->n;
}

static struct dd_entry *
dd_slot(struct dd_entry *t, size_t cap, uint64_t h0, uint64_t h1)
{
	size_t i = (size_t)h0 & (cap - 1);

	while (t[i].until != INT64_MIN && (t[i].h0 != h0 || t[i].h1 != h1))
		i = (i + 1) & (cap - 1);
	return &t[i];
}

/* Moves the entries live at `now` to a table at most half full. */
static int
dd_rebuild(struct evk_dedupe *d, int64_t now)
{
	size_t live = 0, cap = 16, i;
	struct dd_entry *t;

	for (i = 0; i < d->cap; i++)
		live += d->t[i].until != INT64_MIN && d->t[i].until > now;
	while (cap < 2 * (live + 1))
		cap *= 2;
	if ((t = dd_table(cap)) == NULL)
		return EVK_ENOMEM;
	d->next_expiry = INT64_MAX;
	for (i = 0; i < d->cap; i++) {
		struct dd_entry *e = &d->t[i];
		if (e->until == INT64_MIN || e->until <= now)
			continue;
		*dd_slot(t, cap, e->h0, e->h1) = *e;
		if (e->until < d->next_expiry)
			d->next_expiry = e->until;
	}
	free(d->t);
	d->t = t;
	d->cap = cap;
	d->n = live;
	return 0;
}

int
evk_dedupe_check(struct evk_dedupe *d, const char *source, size_t slen,
    const char *id, size_t ilen, int64_t until, int64_t now)
{
	crypto_generichash_state st;
	unsigned char h[16], n8[8];
	uint64_t h0, h1;
	struct dd_entry *e;
	size_t i;
	int rc;

	/* The source's length first, so ("ab","c") differs from ("a","bc"). */
	for (i = 0; i < 8; i++)
		n8[i] = (unsigned char)((uint64_t)slen >> (8 * i));
	crypto_generichash_init(&st, d->key, sizeof d->key, sizeof h);
	crypto_generichash_update(&st, n8, sizeof n8);
	crypto_generichash_update(&st, (const unsigned char *)source, slen);
	crypto_generichash_update(&st, (const unsigned char *)id, ilen);
	crypto_generichash_final(&st, h, sizeof h);
	memcpy(&h0, h, 8);
	memcpy(&h1, h + 8, 8);

	e = dd_slot(d->t, d->cap, h0, h1);
	if (e->until != INT64_MIN) {
		if (e->until > now)
			return 1;
		e->until = until; /* expired: remembered anew */
		if (until < d->next_expiry)
			d->next_expiry = until;
		return 0;
	}
	if (d->n + 1 > d->cap / 10 * 7 ||
	    (d->n >= d->max && now >= d->next_expiry)) {
		if ((rc = dd_rebuild(d, now)) < 0)
			return rc;
		e = dd_slot(d->t, d->cap, h0, h1);
	}
	if (d->n >= d->max)
		return EVK_ERANGE;
	e->h0 = h0;
	e->h1 = h1;
	e->until = until;
	d->n++;
	if (until < d->next_expiry)
		d->next_expiry = until;
	return 0;
}
