/*
 * tests/unit/test_sign.c - lib/sign.c: HS256 against RFC 4231 and Ed25519
 * against RFC 8032 (tests/vectors), the RFC 8037 appendix A key, JWK and
 * JWK Set loading with its refusals, JWK output, signed events (format,
 * verdicts, canonical bytes, strip) and the replay window.
 *
 * Expected MACs and signatures of events are computed here with libsodium
 * directly over hand-written canonical text, so the scheme itself is
 * checked, not only that sign and verify agree with each other.
 */
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "evkit/canon.h"
#include "evkit/json.h"
#include "evkit/sign.h"
#include "t.h"

#define S(lit) lit, sizeof(lit) - 1 /* a literal with its exact length */

static struct evk_json_checker *chk; /* defaults: duplicate keys refused */
static struct evk_buf scratch = EVK_BUF_ZERO; /* `tmp` kept between calls */

/* RFC 8037 A.1 (the seed and public key of RFC 8032 TEST 1). */
#define RFC8037_D "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define RFC8037_X "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define RFC8037_THP "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
/* RFC 8032 TEST 2 as base64url. */
#define T2_D "TM0Imyj_ltqdtsNG7BFOD1uKMZ81q6Yk2oz27U-4pvs"
#define T2_X "PUAXw-hDiVqStwqnTRt-vJyYLM8uxJaMwM1V8Sr0Zgw"
/* The HS256 secret used below, bytes (i * 7 + 3) & 255, i = 0..31, and
 * its RFC 7638 thumbprint (computed with python3 hashlib). */
#define K32 "AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dw"
#define K32_THP "OaxBRLpT_HMmr1f7GzYBpd3_BPsy1Ei6h3AUDvqFC-8"
/* Its first 31 bytes. */
#define K31 "AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1Q"

static unsigned char secret32[32];
static unsigned char t1_seed[32], t1_pub[32];

/*** helpers ***/

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the hex text s[0..n) into out (at most max bytes); returns the
 * length, or (size_t)-1 on a bad digit or overflow. */
static size_t
unhex(const char *s, size_t n, unsigned char *out, size_t max)
{
	size_t i;

	if (n % 2 != 0 || n / 2 > max)
		return (size_t)-1;
	for (i = 0; i < n; i += 2) {
		int hi = hexval((unsigned char)s[i]);
		int lo = hexval((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0)
			return (size_t)-1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return n / 2;
}

/* base64url without padding of p[0..n) into out (libsodium's encoder, not
 * the library's). */
static void
b64u(const unsigned char *p, size_t n, char *out, size_t outlen)
{
	sodium_bin2base64(out, outlen, p, n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Shows bytes in a TAP comment without raw control bytes. */
static void
show(const char *label, const char *s, size_t len)
{
	size_t i;

	printf("#   %s: \"", label);
	for (i = 0; s != NULL && i < len && i < 300; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			putchar(ch);
		else
			printf("\\x%02x", ch);
	}
	printf("%s\"\n", i < len ? "..." : "");
}

/* A malloc'd copy of s with the first `from` replaced by `to` (abort when
 * `from` is not there: the test itself is wrong then). */
static char *
subst(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	size_t fl = strlen(from), tl = strlen(to), sl = strlen(s);
	char *r;

	if (at == NULL) {
		printf("# subst: \"%s\" not in \"%s\"\n", from, s);
		abort();
	}
	r = malloc(sl - fl + tl + 1);
	if (r == NULL)
		abort();
	memcpy(r, s, (size_t)(at - s));
	memcpy(r + (at - s), to, tl);
	memcpy(r + (at - s) + tl, at + fl, sl - (size_t)(at - s) - fl + 1);
	return r;
}

/* Copies the unescaped string member `name` of the JSON object text into
 * out; returns 1, or 0 when the text is not checked JSON or the member is
 * missing or not a string. */
static int
json_str(const char *text, size_t len, const char *name, char *out,
    size_t outsz)
{
	struct evk_span obj = {text, len}, v;
	struct evk_buf b = EVK_BUF_ZERO;
	int ok = 0;

	if (evk_json_check(chk, text, len, NULL, NULL) != 0)
		return 0;
	if (evk_json_get(obj, name, strlen(name), &v) &&
	    evk_json_type_of(v) == EVK_JSON_STRING &&
	    evk_json_unescape(v, &b) == 0 && b.len < outsz) {
		memcpy(out, b.p ? b.p : "", b.len);
		out[b.len] = '\0';
		ok = 1;
	}
	evk_buf_free(&b);
	return ok;
}

/* Nonzero when the JSON object text has a member `name`. */
static int
json_has(const char *text, size_t len, const char *name)
{
	struct evk_span obj = {text, len}, v;

	return evk_json_check(chk, text, len, NULL, NULL) == 0 &&
	    evk_json_get(obj, name, strlen(name), &v);
}

/* evk_keyring_add_jwk() on an exact-size copy of the C string s. */
static int
add_jwk(struct evk_keyring *kr, const char *s, struct evk_err *e)
{
	size_t n = strlen(s);
	char *p = t_dup_exact(s, n);
	int rc;

	evk_err_clear(e);
	rc = evk_keyring_add_jwk(kr, p, n, e);
	free(p);
	return rc;
}

/* The key as a JWK into a malloc'd string, or NULL (rc in *rcp). */
static char *
to_jwk(const struct evk_key *k, int priv, int *rcp)
{
	struct evk_buf b = EVK_BUF_ZERO;
	struct evk_err e = EVK_ERR_ZERO;
	char *r = NULL;
	int rc;

	rc = evk_key_to_jwk(k, priv, &b, &e);
	if (rcp)
		*rcp = rc;
	if (rc == 0)
		r = strdup(b.p ? b.p : "");
	evk_buf_free(&b);
	return r;
}

static struct evk_key *
hs_key(const char *kid)
{
	struct evk_err e = EVK_ERR_ZERO;
	struct evk_key *k = evk_key_hs256(secret32, sizeof secret32, kid, &e);

	if (k == NULL)
		printf("#   evk_key_hs256: %s\n", e.msg);
	return k;
}

static struct evk_key *
ed_key(const char *kid, int with_seed)
{
	struct evk_err e = EVK_ERR_ZERO;
	struct evk_key *k = evk_key_ed25519(with_seed ? t1_seed : NULL,
	    with_seed ? NULL : t1_pub, kid, &e);

	if (k == NULL)
		printf("#   evk_key_ed25519: %s\n", e.msg);
	return k;
}

/* Signs the checked event s with k: a malloc'd result, or NULL with the
 * code in *rcp.  `out` starts with a prefix which every path must keep. */
static char *
sign_ev(const struct evk_key *k, const char *s, int *rcp)
{
	struct evk_buf out = EVK_BUF_ZERO;
	struct evk_err e = EVK_ERR_ZERO;
	size_t n = strlen(s);
	char *p, *r = NULL;
	int rc;

	if (evk_json_check(chk, s, n, NULL, &e) != 0) {
		printf("#   sign_ev: test input is not JSON: %s\n", e.msg);
		show("input", s, n);
		*rcp = -100;
		return NULL;
	}
	p = t_dup_exact(s, n);
	evk_buf_add(&out, "<", 1);
	rc = evk_event_sign(k, p, n, &out, &scratch, &e);
	*rcp = rc;
	if (rc == 0) {
		if (out.len < 1 || out.p[0] != '<')
			printf("#   sign_ev: prefix lost\n");
		else
			r = strdup(out.p + 1);
	} else if (out.len != 1) {
		printf("#   sign_ev: rc %d but out changed\n", rc);
		*rcp = -101;
	}
	free(p);
	evk_buf_free(&out);
	return r;
}

/* Verifies the event s (checked first) against kr; the verdict, or -100
 * when the test input is not JSON the checker accepts. */
static int
verify_ev(const struct evk_keyring *kr, const char *s,
    const struct evk_key **key, struct evk_err *e)
{
	size_t n = strlen(s);
	char *p;
	int rc;

	if (evk_json_check(chk, s, n, NULL, e) != 0)
		return -100;
	p = t_dup_exact(s, n);
	evk_err_clear(e);
	rc = evk_event_verify(kr, p, n, &scratch, key, e);
	free(p);
	return rc;
}

/* evk_event_strip() of the checked s into a malloc'd string, or NULL. */
static char *
strip_ev(const char *s)
{
	struct evk_buf out = EVK_BUF_ZERO;
	size_t n = strlen(s);
	char *p, *r = NULL;

	if (evk_json_check(chk, s, n, NULL, NULL) != 0) {
		show("strip_ev: test input is not JSON", s, n);
		return NULL;
	}
	p = t_dup_exact(s, n);
	evk_buf_add(&out, "<", 1);
	if (evk_event_strip(p, n, &out) == 0 && out.p[0] == '<')
		r = strdup(out.p + 1);
	free(p);
	evk_buf_free(&out);
	return r;
}

/* The base64url text of the "sig" the signer appended (after
 * ,"sig":" or {"sig":"), into out; returns its length or 0. */
static size_t
sig_text(const char *signed_ev, char *out, size_t outsz)
{
	const char *at = strstr(signed_ev, "\"sig\":\""), *end;

	if (at == NULL)
		return 0;
	at += 7;
	end = strchr(at, '"');
	if (end == NULL || (size_t)(end - at) >= outsz)
		return 0;
	memcpy(out, at, (size_t)(end - at));
	out[end - at] = '\0';
	return (size_t)(end - at);
}

/* HMAC-SHA256 with secret32 over s, base64url, by libsodium directly. */
static void
hmac_b64(const char *s, char out[EVK_SIG_B64_MAX])
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[32];

	crypto_auth_hmacsha256_init(&st, secret32, sizeof secret32);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)s, strlen(s));
	crypto_auth_hmacsha256_final(&st, mac);
	b64u(mac, sizeof mac, out, EVK_SIG_B64_MAX);
}

/* Ed25519 with the TEST 1 seed over s, base64url, by libsodium. */
static void
ed_b64(const char *s, char out[EVK_SIG_B64_MAX])
{
	unsigned char pk[32], sk[64], sig[64];

	crypto_sign_seed_keypair(pk, sk, t1_seed);
	crypto_sign_detached(sig, NULL, (const unsigned char *)s, strlen(s),
	    sk);
	b64u(sig, sizeof sig, out, EVK_SIG_B64_MAX);
}

/* Splits the next line of a TSV text at tabs in place: up to `max`
 * fields; returns the field count, 0 at the end. */
static int
tsv_next(char **pos, char **f, int max)
{
	char *line = *pos, *next;
	int n = 0;

	if (*line == '\0')
		return 0;
	if ((next = strchr(line, '\n')) != NULL)
		*next++ = '\0';
	else
		next = line + strlen(line);
	*pos = next;
	f[n++] = line;
	while (n < max && (line = strchr(line, '\t')) != NULL) {
		*line++ = '\0';
		f[n++] = line;
	}
	return n;
}

static char *
vslurp(const char *rel)
{
	char path[1024];

	snprintf(path, sizeof path, "%s/%s", t_vectors(), rel);
	return t_slurp(path, NULL);
}

/*** names ***/

TEST(names)
{
	CHECK_STR(evk_sigalg_name(EVK_SIG_HS256), "HS256");
	CHECK_STR(evk_sigalg_name(EVK_SIG_EDDSA), "EdDSA");
	CHECK(evk_sigalg_name((enum evk_sigalg)0) == NULL);
	CHECK(evk_sigalg_name((enum evk_sigalg)3) == NULL);
	CHECK_STR(evk_verdict_name(EVK_VERIFY_OK), "valid");
	CHECK_STR(evk_verdict_name(EVK_VERIFY_UNSIGNED), "unsigned");
	CHECK_STR(evk_verdict_name(EVK_VERIFY_MALFORMED), "malformed");
	CHECK_STR(evk_verdict_name(EVK_VERIFY_UNKNOWN_KEY), "unknown key");
	CHECK_STR(evk_verdict_name(EVK_VERIFY_ALG_MISMATCH),
	    "algorithm mismatch");
	CHECK_STR(evk_verdict_name(EVK_VERIFY_BAD_SIG), "bad signature");
}

/*** RFC 4231 ***/

static void
hmac_rfc4231(void)
{
	char *text = vslurp("hmac-sha256-rfc4231/rfc4231_hmac_sha256.tsv");
	char *pos, *f[6], name[64];
	unsigned char key[256], data[256], want[32], sig[EVK_SIG_MAX];
	size_t kl, dl, wl, cmp, siglen;
	int rows = 0, nf;

	if (text == NULL) {
		t_result(0, "rfc4231: vectors readable");
		return;
	}
	for (pos = text; (nf = tsv_next(&pos, f, 6)) > 0;) {
		struct evk_err e = EVK_ERR_ZERO;
		struct evk_key *k;
		int ok = 1;

		if (*f[0] == '#' || strcmp(f[0], "case") == 0 || nf < 4)
			continue;
		rows++;
		kl = unhex(f[1], strlen(f[1]), key, sizeof key);
		dl = unhex(f[2], strlen(f[2]), data, sizeof data);
		wl = unhex(f[3], strlen(f[3]), want, sizeof want);
		cmp = nf > 4 && *f[4] != '\0' ? (size_t)atoi(f[4]) : 32;
		snprintf(name, sizeof name, "rfc4231 HMAC-SHA256 case %s",
		    f[0]);
		if (kl == (size_t)-1 || dl == (size_t)-1 || wl != cmp) {
			printf("#   bad vector row\n");
			t_result(0, name);
			continue;
		}
		k = evk_key_hs256(key, kl, "rfc4231", &e);
		if (k == NULL) {
			printf("#   evk_key_hs256: %s\n", e.msg);
			t_result(0, name);
			continue;
		}
		ok &= evk_key_alg(k) == EVK_SIG_HS256;
		ok &= evk_key_can_sign(k) != 0;
		ok &= evk_key_is_private(k) != 0;
		siglen = 0;
		if (evk_key_sign(k, data, dl, sig, &siglen, &e) != 0 ||
		    siglen != 32) {
			printf("#   sign failed or siglen %zu: %s\n", siglen,
			    e.msg);
			ok = 0;
		} else {
			ok &= memcmp(sig, want, cmp) == 0;
			ok &= evk_key_verify(k, data, dl, sig, siglen) == 1;
			if (cmp == 32)
				ok &=
				    evk_key_verify(k, data, dl, want, 32) == 1;
			/* A truncated MAC is not the MAC. */
			ok &= evk_key_verify(k, data, dl, sig, 16) == 0;
			ok &= evk_key_verify(k, data, dl, sig, 0) == 0;
			sig[siglen - 1] ^= 0x01;
			ok &= evk_key_verify(k, data, dl, sig, siglen) == 0;
			sig[siglen - 1] ^= 0x01;
			sig[0] ^= 0x80;
			ok &= evk_key_verify(k, data, dl, sig, siglen) == 0;
			sig[0] ^= 0x80;
			if (dl > 0) {
				data[0] ^= 0x01;
				ok &= evk_key_verify(k, data, dl, sig,
				          siglen) == 0;
				data[0] ^= 0x01;
			}
		}
		evk_key_free(k);
		t_result(ok, name);
	}
	t_result(rows == 7, "rfc4231: 7 cases read");
	free(text);
}

/*** RFC 8032 ***/

static void
ed25519_rfc8032(void)
{
	char *text = vslurp("ed25519-rfc8032/rfc8032_ed25519.tsv");
	char *pos, *f[6], name[64], x[64], d[64], want_x[64], want_d[64];
	char thp[EVK_THUMBPRINT_LEN + 1];
	char want_thp[EVK_THUMBPRINT_LEN + 1], tjson[128], *jwk;
	static unsigned char msg[2048];
	unsigned char seed[32], pub[32], want[64], sig[EVK_SIG_MAX], h[32];
	size_t ml, siglen;
	int rows = 0, nf, rc;

	if (text == NULL) {
		t_result(0, "rfc8032: vectors readable");
		return;
	}
	for (pos = text; (nf = tsv_next(&pos, f, 6)) > 0;) {
		struct evk_err e = EVK_ERR_ZERO;
		struct evk_key *k, *pk;
		int ok = 1;

		if (*f[0] == '#' || strcmp(f[0], "name") == 0 || nf < 5)
			continue;
		rows++;
		snprintf(name, sizeof name, "rfc8032 Ed25519 %s", f[0]);
		ml = unhex(f[3], strlen(f[3]), msg, sizeof msg);
		if (unhex(f[1], strlen(f[1]), seed, 32) != 32 ||
		    unhex(f[2], strlen(f[2]), pub, 32) != 32 ||
		    unhex(f[4], strlen(f[4]), want, 64) != 64 ||
		    ml == (size_t)-1) {
			printf("#   bad vector row\n");
			t_result(0, name);
			continue;
		}
		b64u(pub, 32, want_x, sizeof want_x);
		/* RFC 7638 over the required members, by hand. */
		snprintf(tjson, sizeof tjson,
		    "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}",
		    want_x);
		crypto_hash_sha256(h, (const unsigned char *)tjson,
		    strlen(tjson));
		b64u(h, 32, want_thp, sizeof want_thp);

		k = evk_key_ed25519(seed, NULL, NULL, &e);
		pk = evk_key_ed25519(NULL, pub, NULL, &e);
		if (k == NULL || pk == NULL) {
			printf("#   evk_key_ed25519: %s\n", e.msg);
			evk_key_free(k);
			evk_key_free(pk);
			t_result(0, name);
			continue;
		}
		ok &= evk_key_alg(k) == EVK_SIG_EDDSA;
		ok &= evk_key_can_sign(k) != 0 && evk_key_is_private(k) != 0;
		/* The public key, through the JWK's "x". */
		jwk = to_jwk(k, 0, &rc);
		if (jwk == NULL ||
		    !json_str(jwk, strlen(jwk), "x", x, sizeof x)) {
			printf("#   to_jwk rc %d\n", rc);
			ok = 0;
		} else {
			if (strcmp(x, want_x) != 0) {
				printf("#   x %s, expected %s\n", x, want_x);
				ok = 0;
			}
			ok &= !json_has(jwk, strlen(jwk), "d");
		}
		free(jwk);
		jwk = to_jwk(k, 1, &rc);
		b64u(seed, 32, want_d, sizeof want_d);
		ok &= jwk != NULL &&
		    json_str(jwk, strlen(jwk), "d", d, sizeof d) &&
		    strcmp(d, want_d) == 0;
		free(jwk);
		/* The thumbprint, which is also the default kid. */
		evk_key_thumbprint(k, thp);
		if (strcmp(thp, want_thp) != 0) {
			printf("#   thumbprint %s, expected %s\n", thp,
			    want_thp);
			ok = 0;
		}
		ok &= strcmp(evk_key_kid(k), want_thp) == 0;
		ok &= strcmp(evk_key_kid(pk), want_thp) == 0;
		/* The deterministic signature. */
		siglen = 0;
		if (evk_key_sign(k, msg, ml, sig, &siglen, &e) != 0 ||
		    siglen != 64) {
			printf("#   sign failed or siglen %zu: %s\n", siglen,
			    e.msg);
			ok = 0;
		} else if (memcmp(sig, want, 64) != 0) {
			printf("#   signature differs from the vector\n");
			ok = 0;
		}
		ok &= evk_key_verify(k, msg, ml, want, 64) == 1;
		ok &= evk_key_verify(pk, msg, ml, want, 64) == 1;
		ok &= evk_key_verify(pk, msg, ml, want, 63) == 0;
		want[10] ^= 0x04;
		ok &= evk_key_verify(pk, msg, ml, want, 64) == 0;
		want[10] ^= 0x04;
		if (ml > 0) {
			msg[ml - 1] ^= 0x01;
			ok &= evk_key_verify(pk, msg, ml, want, 64) == 0;
			msg[ml - 1] ^= 0x01;
		}
		/* The public-only key cannot sign. */
		ok &= evk_key_can_sign(pk) == 0 && evk_key_is_private(pk) == 0;
		siglen = 0;
		rc = evk_key_sign(pk, msg, ml, sig, &siglen, &e);
		if (rc != EVK_EINVAL) {
			printf("#   public key sign rc %d\n", rc);
			ok = 0;
		}
		evk_key_free(k);
		evk_key_free(pk);
		t_result(ok, name);
	}
	t_result(rows == 5, "rfc8032: 5 vectors read");
	free(text);
}

/* A signature (R, S) with S replaced by S + L, the group order, is the
 * same signature mathematically; libsodium refuses the non-canonical S. */
TEST(ed25519_noncanonical_s_refused)
{
	static const unsigned char L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63,
	    0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
	struct evk_key *k = ed_key("e1", 1);
	struct evk_err e = EVK_ERR_ZERO;
	unsigned char sig[EVK_SIG_MAX];
	size_t siglen = 0;
	unsigned carry = 0;
	int i;

	if (k == NULL) {
		CHECK(0);
		return;
	}
	CHECK_INT(evk_key_sign(k, S("msg"), sig, &siglen, &e), 0);
	CHECK_INT(evk_key_verify(k, S("msg"), sig, 64), 1);
	for (i = 0; i < 32; i++) {
		unsigned v = sig[32 + i] + L[i] + carry;
		sig[32 + i] = (unsigned char)v;
		carry = v >> 8;
	}
	CHECK_INT(carry, 0);
	CHECK_INT(evk_key_verify(k, S("msg"), sig, 64), 0);
	evk_key_free(k);
}

/*** RFC 8037 appendix A ***/

TEST(rfc8037_appendix_a)
{
	static const char a1[] =
	    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
	    "\"d\":\"" RFC8037_D "\",\"x\":\"" RFC8037_X "\"}";
	static const char pub[] =
	    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC8037_X "\"}";
	static const char input[] =
	    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
	static const char want[] = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR"
	                           "6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0"
	                           "KAg";
	struct evk_keyring *kr = evk_keyring_new(), *pr = evk_keyring_new();
	struct evk_err e = EVK_ERR_ZERO;
	const struct evk_key *k, *pk;
	char thp[EVK_THUMBPRINT_LEN + 1], b64[EVK_SIG_B64_MAX];
	unsigned char sig[EVK_SIG_MAX];
	size_t siglen = 0;
	int rc;

	CHECK(kr != NULL && pr != NULL);
	rc = add_jwk(kr, a1, &e);
	if (rc != 0)
		printf("#   A.1: %s\n", e.msg);
	CHECK_INT(rc, 0);
	CHECK_INT(evk_keyring_count(kr), 1);
	CHECK_INT(add_jwk(pr, pub, &e), 0);
	k = evk_keyring_at(kr, 0);
	pk = evk_keyring_at(pr, 0);
	if (k == NULL || pk == NULL) {
		CHECK(0);
		goto out;
	}
	CHECK(evk_keyring_at(kr, 1) == NULL);
	CHECK_INT(evk_key_alg(k), EVK_SIG_EDDSA);
	CHECK(evk_key_can_sign(k));
	CHECK(evk_key_is_private(k));
	CHECK(!evk_key_can_sign(pk));
	CHECK(!evk_key_is_private(pk));
	/* A.3: the thumbprint, and the default kid. */
	evk_key_thumbprint(k, thp);
	CHECK_STR(thp, RFC8037_THP);
	CHECK_STR(evk_key_kid(k), RFC8037_THP);
	CHECK_STR(evk_key_kid(pk), RFC8037_THP);
	CHECK(evk_keyring_find(kr, S(RFC8037_THP)) == k);
	CHECK(evk_keyring_find(kr, RFC8037_THP, 42) == NULL);
	CHECK(evk_keyring_find(kr, S("nope")) == NULL);
	/* A.4: the signature of the JWS signing input. */
	CHECK_INT(evk_key_sign(k, input, strlen(input), sig, &siglen, &e), 0);
	CHECK_INT(siglen, 64);
	b64u(sig, 64, b64, sizeof b64);
	CHECK_STR(b64, want);
	CHECK_INT(evk_key_verify(pk, input, strlen(input), sig, 64), 1);
	CHECK_INT(evk_key_verify(pk, input, strlen(input) - 1, sig, 64), 0);
	/* The same key as RFC 8032 TEST 1. */
	b64u(t1_pub, 32, b64, sizeof b64);
	CHECK_STR(b64, RFC8037_X);
out:
	evk_keyring_free(kr);
	evk_keyring_free(pr);
}

/*** JWK loading ***/

TEST(jwk_single_and_set)
{
	struct evk_keyring *kr = evk_keyring_new();
	struct evk_err e = EVK_ERR_ZERO;
	const struct evk_key *k;
	unsigned char sig[EVK_SIG_MAX];
	size_t siglen = 0;
	int rc;

	rc = add_jwk(kr,
	    "{\"kty\":\"oct\",\"alg\":\"HS256\",\"kid\":\"h1\","
	    "\"k\":\"" K32 "\"}",
	    &e);
	if (rc != 0)
		printf("#   %s\n", e.msg);
	CHECK_INT(rc, 0);
	CHECK_INT(evk_keyring_count(kr), 1);
	/* A set, with whitespace and members in another order. */
	rc = add_jwk(kr,
	    " {\n \"keys\" : [\n"
	    "  {\"x\":\"" RFC8037_X "\",\"crv\":\"Ed25519\","
	    "\"kid\":\"e1\",\"kty\":\"OKP\"},\n"
	    "  {\"kid\":\"e2\",\"kty\":\"OKP\",\"alg\":\"EdDSA\","
	    "\"crv\":\"Ed25519\",\"use\":\"sig\","
	    "\"x\":\"" T2_X "\",\"d\":\"" T2_D "\"}\n ]\n}\n",
	    &e);
	if (rc != 0)
		printf("#   %s\n", e.msg);
	CHECK_INT(rc, 0);
	CHECK_INT(evk_keyring_count(kr), 3);
	if (evk_keyring_count(kr) != 3)
		goto out;
	CHECK_STR(evk_key_kid(evk_keyring_at(kr, 0)), "h1");
	CHECK_STR(evk_key_kid(evk_keyring_at(kr, 1)), "e1");
	CHECK_STR(evk_key_kid(evk_keyring_at(kr, 2)), "e2");
	CHECK(evk_keyring_at(kr, 3) == NULL);
	k = evk_keyring_find(kr, S("h1"));
	CHECK(k == evk_keyring_at(kr, 0));
	if (k != NULL) {
		CHECK_INT(evk_key_alg(k), EVK_SIG_HS256);
		CHECK(evk_key_can_sign(k));
		/* The loaded secret is secret32. */
		CHECK_INT(evk_key_sign(k, S("abc"), sig, &siglen, &e), 0);
		CHECK_INT(siglen, 32);
		{
			unsigned char want[32];
			crypto_auth_hmacsha256_state st;
			crypto_auth_hmacsha256_init(&st, secret32, 32);
			crypto_auth_hmacsha256_update(&st,
			    (const unsigned char *)"abc", 3);
			crypto_auth_hmacsha256_final(&st, want);
			CHECK(memcmp(sig, want, 32) == 0);
		}
	}
	k = evk_keyring_find(kr, S("e1"));
	CHECK(k != NULL && evk_key_alg(k) == EVK_SIG_EDDSA &&
	    !evk_key_can_sign(k) && !evk_key_is_private(k));
	k = evk_keyring_find(kr, S("e2"));
	CHECK(k != NULL && evk_key_alg(k) == EVK_SIG_EDDSA &&
	    evk_key_can_sign(k) && evk_key_is_private(k));
	CHECK(evk_keyring_find(kr, S("e")) == NULL);
	CHECK(evk_keyring_find(kr, S("e12")) == NULL);
out:
	evk_keyring_free(kr);
}

/* What `jose jwk gen -i '{"alg":"HS256"}'` writes: key_ops, no kid. */
TEST(jwk_jose_style)
{
	struct evk_keyring *kr = evk_keyring_new();
	struct evk_err e = EVK_ERR_ZERO;
	const struct evk_key *k;
	char thp[EVK_THUMBPRINT_LEN + 1];
	int rc;

	rc = add_jwk(kr,
	    "{\"alg\":\"HS256\",\"k\":\"" K32 "\",\"key_ops\":[\"sign\","
	    "\"verify\"],\"kty\":\"oct\"}\n",
	    &e);
	if (rc != 0)
		printf("#   %s\n", e.msg);
	CHECK_INT(rc, 0);
	k = evk_keyring_at(kr, 0);
	if (k == NULL) {
		CHECK(0);
		goto out;
	}
	CHECK_STR(evk_key_kid(k), K32_THP);
	evk_key_thumbprint(k, thp);
	CHECK_STR(thp, K32_THP);
	CHECK(evk_key_can_sign(k));
	CHECK_INT(evk_key_alg(k), EVK_SIG_HS256);
out:
	evk_keyring_free(kr);
}

TEST(jwk_key_ops_use_and_extra_members)
{
	struct evk_keyring *kr = evk_keyring_new();
	struct evk_err e = EVK_ERR_ZERO;
	const struct evk_key *k;
	int rc;

	/* Verify only: loads, private, cannot sign. */
	rc = add_jwk(kr,
	    "{\"kty\":\"oct\",\"kid\":\"v\",\"k\":\"" K32
	    "\",\"key_ops\":[\"verify\"]}",
	    &e);
	CHECK_INT(rc, 0);
	k = evk_keyring_find(kr, S("v"));
	CHECK(k != NULL && !evk_key_can_sign(k) && evk_key_is_private(k));
	if (k != NULL) {
		unsigned char sig[EVK_SIG_MAX];
		size_t siglen = 0;
		CHECK_INT(evk_key_sign(k, S("x"), sig, &siglen, &e),
		    EVK_EINVAL);
	}
	/* An Ed25519 pair with key_ops verify only. */
	rc = add_jwk(kr,
	    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ev\","
	    "\"x\":\"" RFC8037_X "\",\"d\":\"" RFC8037_D
	    "\",\"key_ops\":[\"verify\"]}",
	    &e);
	CHECK_INT(rc, 0);
	k = evk_keyring_find(kr, S("ev"));
	CHECK(k != NULL && !evk_key_can_sign(k) && evk_key_is_private(k));
	/* Members other tools write are ignored; use "sig" is fine. */
	rc = add_jwk(kr,
	    "{\"kty\":\"oct\",\"kid\":\"x\",\"k\":\"" K32 "\","
	    "\"use\":\"sig\",\"ext\":true,\"x5c\":[],"
	    "\"key_ops\":[\"verify\",\"sign\",\"wrapKey\"],"
	    "\"n\":{\"deep\":[1,2,3]},\"iat\":1.5e9}",
	    &e);
	if (rc != 0)
		printf("#   %s\n", e.msg);
	CHECK_INT(rc, 0);
	k = evk_keyring_find(kr, S("x"));
	CHECK(k != NULL && evk_key_can_sign(k));
	/* A kid that needs escaping, and an escaped member name. */
	rc = add_jwk(kr,
	    "{\"kty\":\"oct\",\"kid\":\"a\\\"b\\u00e9\","
	    "\"\\u006b\":\"" K32 "\"}",
	    &e);
	if (rc != 0)
		printf("#   %s\n", e.msg);
	CHECK_INT(rc, 0);
	CHECK(evk_keyring_find(kr, S("a\"b\xc3\xa9")) != NULL);
	CHECK_INT(evk_keyring_count(kr), 4);
	evk_keyring_free(kr);
}

/* Refusals: each leaves a ring holding one key unchanged. */
static const struct {
	const char *what;
	const char *jwk;
	const char *want; /* a word the message must contain, or NULL */
} refusals[] = {
    {"secret of 31 bytes", "{\"kty\":\"oct\",\"k\":\"" K31 "\"}", NULL},
    {"secret of 1 byte", "{\"kty\":\"oct\",\"k\":\"AA\"}", NULL},
    {"secret empty", "{\"kty\":\"oct\",\"k\":\"\"}", NULL},
    {"base64url with padding", "{\"kty\":\"oct\",\"k\":\"" K32 "=\"}", NULL},
    {"'+' in base64url", "{\"kty\":\"oct\",\"k\":\"+" K32 "\"}", NULL},
    {"'/' in base64url", "{\"kty\":\"oct\",\"k\":\"/" K32 "\"}", NULL},
    {"space in base64url", "{\"kty\":\"oct\",\"k\":\" " K32 "\"}", NULL},
    {"k not a string", "{\"kty\":\"oct\",\"k\":32}", NULL},
    {"k missing", "{\"kty\":\"oct\",\"kid\":\"z\"}", NULL},
    {"kty missing", "{\"k\":\"" K32 "\"}", "kty"},
    {"kty RSA", "{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", "kty"},
    {"kty EC",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" RFC8037_X
        "\",\"y\":\"" RFC8037_X "\"}",
        NULL},
    {"kty not a string", "{\"kty\":1,\"k\":\"" K32 "\"}", "kty"},
    {"x of 31 bytes",
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
        "\"x\":\"PUAXw-hDiVqStwqnTRt-vJyYLM8uxJaMwM1V8Sr0Zg\"}",
        NULL},
    {"x of 33 bytes",
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
        "\"x\":\"PUAXw-hDiVqStwqnTRt-vJyYLM8uxJaMwM1V8Sr0ZgwA\"}",
        NULL},
    {"x missing", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"" T2_D "\"}",
        NULL},
    {"x empty", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"\"}", NULL},
    {"d of 31 bytes",
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" T2_X "\","
        "\"d\":\"PUAXw-hDiVqStwqnTRt-vJyYLM8uxJaMwM1V8Sr0Zg\"}",
        NULL},
    {"d not matching x",
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" T2_X
        "\",\"d\":\"" RFC8037_D "\"}",
        NULL},
    {"crv X25519",
        "{\"kty\":\"OKP\",\"crv\":\"X25519\","
        "\"x\":\"3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08\"}",
        "crv"},
    {"crv Ed448",
        "{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"BnJNZy1_JXpGRlrNLYsz_9I5"
        "NCM-Py39P1kEOyrLRXJj38rnOJe7cJaVsOnPj2NkL_jVtG_qkjOA\"}",
        "crv"},
    {"crv missing", "{\"kty\":\"OKP\",\"x\":\"" RFC8037_X "\"}", "crv"},
    {"oct with alg EdDSA",
        "{\"kty\":\"oct\",\"alg\":\"EdDSA\",\"k\":\"" K32 "\"}", "alg"},
    {"OKP with alg HS256",
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"HS256\","
        "\"x\":\"" RFC8037_X "\"}",
        "alg"},
    {"oct with alg HS512",
        "{\"kty\":\"oct\",\"alg\":\"HS512\",\"k\":\"" K32 "\"}", "alg"},
    {"alg not a string", "{\"kty\":\"oct\",\"alg\":null,\"k\":\"" K32 "\"}",
        "alg"},
    {"use enc", "{\"kty\":\"oct\",\"use\":\"enc\",\"k\":\"" K32 "\"}", "use"},
    {"key_ops without verify",
        "{\"kty\":\"oct\",\"key_ops\":[\"sign\"],\"k\":\"" K32 "\"}",
        "key_ops"},
    {"key_ops empty", "{\"kty\":\"oct\",\"key_ops\":[],\"k\":\"" K32 "\"}",
        "key_ops"},
    {"key_ops not an array",
        "{\"kty\":\"oct\",\"key_ops\":\"verify\",\"k\":\"" K32 "\"}",
        "key_ops"},
    {"key_ops with a number",
        "{\"kty\":\"oct\",\"key_ops\":[\"verify\",1],\"k\":\"" K32 "\"}",
        "key_ops"},
    {"kid empty", "{\"kty\":\"oct\",\"kid\":\"\",\"k\":\"" K32 "\"}", "kid"},
    {"kid not a string", "{\"kty\":\"oct\",\"kid\":7,\"k\":\"" K32 "\"}",
        "kid"},
    {"kid already in the ring",
        "{\"kty\":\"oct\",\"kid\":\"ring1\",\"k\":\"" K32 "\"}",
        "duplicate kid"},
    {"duplicate JSON key",
        "{\"kty\":\"oct\",\"k\":\"" K32 "\",\"kty\":\"oct\"}", "duplicate"},
    {"duplicate JSON key, escaped",
        "{\"kty\":\"oct\",\"k\":\"" K32 "\",\"\\u006b\":\"" K32 "\"}",
        "duplicate"},
    {"not JSON", "kty=oct", NULL},
    {"truncated JSON", "{\"kty\":\"oct\",\"k\":\"" K32 "\"", NULL},
    {"two JSON values", "{\"kty\":\"oct\",\"k\":\"" K32 "\"} {}", NULL},
    {"empty text", "", NULL},
    {"invalid UTF-8", "{\"kty\":\"oct\",\"kid\":\"\xff\",\"k\":\"" K32 "\"}",
        NULL},
    {"an array", "[{\"kty\":\"oct\",\"k\":\"" K32 "\"}]", NULL},
    {"a string", "\"" K32 "\"", NULL},
    {"empty object", "{}", NULL},
    {"empty set", "{\"keys\":[]}", NULL},
    {"keys not an array", "{\"keys\":{}}", NULL},
    {"set with a non-object", "{\"keys\":[1]}", NULL},
    {"set whose second key is bad",
        "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"s1\",\"k\":\"" K32 "\"},"
        "{\"kty\":\"oct\",\"kid\":\"s2\",\"k\":\"short\"}]}",
        NULL},
    {"set with a duplicate kid",
        "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"s1\",\"k\":\"" K32 "\"},"
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"s1\",\"x\":\"" T2_X
        "\"}]}",
        "duplicate kid"},
    {"set with the same key twice (same thumbprint)",
        "{\"keys\":[{\"kty\":\"oct\",\"k\":\"" K32 "\"},"
        "{\"kty\":\"oct\",\"k\":\"" K32 "\"}]}",
        "duplicate kid"},
};

static void
jwk_refusals(void)
{
	size_t i;

	for (i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
		struct evk_keyring *kr = evk_keyring_new();
		struct evk_err e = EVK_ERR_ZERO;
		const char *jwk = refusals[i].jwk;
		char name[160];
		int rc, ok = 1;

		if (kr == NULL ||
		    add_jwk(kr,
		        "{\"kty\":\"oct\",\"kid\":\"ring1\","
		        "\"k\":\"" K32 "\"}",
		        &e) != 0) {
			t_result(0, "jwk refusal: setup");
			evk_keyring_free(kr);
			continue;
		}
		rc = add_jwk(kr, jwk, &e);
		snprintf(name, sizeof name, "jwk refused: %s",
		    refusals[i].what);
		if (rc >= 0) {
			printf("#   accepted (rc %d)\n", rc);
			ok = 0;
		} else {
			printf("#   %s -> %d \"%s\"\n", refusals[i].what, rc,
			    e.msg);
			if (e.msg[0] == '\0') {
				printf("#   no message\n");
				ok = 0;
			}
			if (refusals[i].want != NULL &&
			    strstr(e.msg, refusals[i].want) == NULL) {
				printf("#   message lacks \"%s\"\n",
				    refusals[i].want);
				ok = 0;
			}
		}
		if (evk_keyring_count(kr) != 1) {
			printf("#   ring has %zu keys, expected 1\n",
			    evk_keyring_count(kr));
			ok = 0;
		}
		ok &= evk_keyring_find(kr, S("s1")) == NULL;
		t_result(ok, name);
		evk_keyring_free(kr);
	}
}

/* A message about a key in a set names its index. */
TEST(jwk_set_error_names_index)
{
	struct evk_keyring *kr = evk_keyring_new();
	struct evk_err e = EVK_ERR_ZERO;
	int rc;

	rc = add_jwk(kr,
	    "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"s1\",\"k\":\"" K32 "\"},"
	    "{\"kty\":\"oct\",\"kid\":\"s2\",\"use\":\"enc\",\"k\":\"" K32
	    "\"}]}",
	    &e);
	CHECK(rc < 0);
	printf("#   message: \"%s\"\n", e.msg);
	CHECK(strstr(e.msg, "use") != NULL);
	CHECK_INT(evk_keyring_count(kr), 0);
	evk_keyring_free(kr);
}

/* Base64url text whose unused trailing bits are not zero is not the
 * canonical encoding of any key: strict decoding refuses it (else two
 * texts, two thumbprints, one key). */
TEST(jwk_noncanonical_trailing_bits)
{
	struct evk_keyring *kr = evk_keyring_new();
	struct evk_err e = EVK_ERR_ZERO;
	/* K32 ends in 'w' (0b110000); 'x' sets a bit that is not used. */
	static const char k[] =
	    "{\"kty\":\"oct\",\"k\":\"AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dx\"}";
	int rc = add_jwk(kr, k, &e);

	if (rc >= 0)
		printf("#   accepted; kid %s\n",
		    evk_key_kid(evk_keyring_at(kr, 0)));
	CHECK(rc < 0);
	CHECK_INT(evk_keyring_count(kr), 0);
	evk_keyring_free(kr);
}

TEST(keyring_add_duplicate_kid)
{
	struct evk_keyring *kr = evk_keyring_new();
	struct evk_err e = EVK_ERR_ZERO;
	int rc;

	CHECK_INT(evk_keyring_add(kr, hs_key("k1"), &e), 0);
	CHECK_INT(evk_keyring_add(kr, ed_key("k2", 0), &e), 0);
	/* The ring owns (and frees) the refused key too. */
	rc = evk_keyring_add(kr, ed_key("k1", 1), &e);
	CHECK_INT(rc, EVK_EINVAL);
	CHECK(strstr(e.msg, "duplicate kid") != NULL);
	CHECK_INT(evk_keyring_count(kr), 2);
	CHECK_INT(evk_key_alg(evk_keyring_find(kr, S("k1"))), EVK_SIG_HS256);
	/* The JWK loader checks against keys added directly. */
	rc = add_jwk(kr,
	    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k2\","
	    "\"x\":\"" T2_X "\"}",
	    &e);
	CHECK_INT(rc, EVK_EINVAL);
	CHECK_INT(evk_keyring_count(kr), 2);
	/* Empty kid for the constructors. */
	CHECK(evk_key_hs256(secret32, 32, "", &e) == NULL);
	CHECK_INT(e.code, EVK_EINVAL);
	CHECK(evk_key_ed25519(t1_seed, NULL, "", &e) == NULL);
	evk_keyring_free(kr);
	evk_keyring_free(NULL);
	evk_key_free(NULL);
}

/*** key files ***/

/* Writes `text` to a new temporary file with mode `mode`; its path goes
 * into `path` (char[64]).  Returns 0 or -1. */
static int
key_file(char *path, const char *text, mode_t mode)
{
	FILE *f;
	int fd;

	snprintf(path, 64, "/tmp/evkit-test-sign-XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		return -1;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(path);
		return -1;
	}
	fputs(text, f);
	if (fclose(f) != 0 || chmod(path, mode) != 0) {
		unlink(path);
		return -1;
	}
	return 0;
}

TEST(keyring_load_files)
{
	static const char priv[] =
	    "{\"kty\":\"oct\",\"kid\":\"f1\",\"k\":\"" K32 "\"}\n";
	static const char pub[] = "{\"keys\":[{\"kty\":\"OKP\",\"crv\":"
	                          "\"Ed25519\",\"kid\":\"f2\",\"x\":"
	                          "\"" RFC8037_X "\"}]}\n";
	static const char okp_priv[] =
	    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"f3\","
	    "\"x\":\"" RFC8037_X "\",\"d\":\"" RFC8037_D "\"}";
	struct evk_keyring *kr = evk_keyring_new();
	struct evk_err e = EVK_ERR_ZERO;
	char path[64];
	int rc;

	/* A private key readable by others is refused. */
	if (key_file(path, priv, 0644) == 0) {
		rc = evk_keyring_load(kr, path, &e);
		CHECK_INT(rc, EVK_EINVAL);
		if (strstr(e.msg, "permissions 0644 are too open") == NULL)
			printf("#   message: \"%s\"\n", e.msg);
		CHECK(strstr(e.msg, "permissions 0644 are too open") != NULL);
		CHECK_INT(evk_keyring_count(kr), 0);
		chmod(path, 0640);
		CHECK_INT(evk_keyring_load(kr, path, &e), EVK_EINVAL);
		CHECK(strstr(e.msg, "0640") != NULL);
		chmod(path, 0600);
		CHECK_INT(evk_keyring_load(kr, path, &e), 0);
		CHECK(evk_keyring_find(kr, S("f1")) != NULL);
		chmod(path, 0400);
		/* Loaded twice: the kid is taken now. */
		CHECK_INT(evk_keyring_load(kr, path, &e), EVK_EINVAL);
		CHECK(strstr(e.msg, "duplicate kid") != NULL);
		unlink(path);
	} else {
		CHECK(0);
	}
	if (key_file(path, okp_priv, 0604) == 0) {
		CHECK_INT(evk_keyring_load(kr, path, &e), EVK_EINVAL);
		CHECK(strstr(e.msg, "permissions 0604 are too open") != NULL);
		unlink(path);
	} else {
		CHECK(0);
	}
	/* A public key may be readable by all. */
	if (key_file(path, pub, 0644) == 0) {
		rc = evk_keyring_load(kr, path, &e);
		if (rc != 0)
			printf("#   %s\n", e.msg);
		CHECK_INT(rc, 0);
		CHECK(evk_keyring_find(kr, S("f2")) != NULL);
		unlink(path);
	} else {
		CHECK(0);
	}
	/* A file that is not there. */
	CHECK_INT(evk_keyring_load(kr, "/nonexistent/evkit.jwk", &e), EVK_EIO);
	CHECK(e.msg[0] != '\0');
	CHECK_INT(evk_keyring_count(kr), 2);
	evk_keyring_free(kr);
}

/*** JWK output ***/

TEST(jwk_output_exact)
{
	struct evk_key *h = hs_key("h1"), *ed = ed_key("e1", 1),
	               *pub = ed_key("e1", 0);
	struct evk_buf b = EVK_BUF_ZERO;
	struct evk_err e = EVK_ERR_ZERO;
	char *j;
	int rc;

	if (h == NULL || ed == NULL || pub == NULL) {
		CHECK(0);
		goto out;
	}
	j = to_jwk(h, 1, &rc);
	CHECK_STR(j,
	    "{\"kty\":\"oct\",\"alg\":\"HS256\",\"kid\":\"h1\","
	    "\"k\":\"" K32 "\"}");
	free(j);
	j = to_jwk(ed, 1, &rc);
	CHECK_STR(j,
	    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"EdDSA\","
	    "\"kid\":\"e1\",\"x\":\"" RFC8037_X "\","
	    "\"d\":\"" RFC8037_D "\"}");
	free(j);
	j = to_jwk(ed, 0, &rc);
	CHECK_STR(j,
	    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"EdDSA\","
	    "\"kid\":\"e1\",\"x\":\"" RFC8037_X "\"}");
	free(j);
	/* A public key asked for its private half gives what it has. */
	j = to_jwk(pub, 1, &rc);
	CHECK_STR(j,
	    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"EdDSA\","
	    "\"kid\":\"e1\",\"x\":\"" RFC8037_X "\"}");
	free(j);
	/* HS256 has no public half; `out` keeps what it had. */
	evk_buf_adds(&b, "pre");
	rc = evk_key_to_jwk(h, 0, &b, &e);
	CHECK_INT(rc, EVK_EINVAL);
	CHECK(e.msg[0] != '\0');
	CHECK_STR(b.p, "pre");
	/* Appends. */
	CHECK_INT(evk_key_to_jwk(pub, 0, &b, &e), 0);
	CHECK(strncmp(b.p, "pre{\"kty\":\"OKP\"", 15) == 0);
	CHECK(strchr(b.p, '\n') == NULL);
out:
	evk_buf_free(&b);
	evk_key_free(h);
	evk_key_free(ed);
	evk_key_free(pub);
}

/* to_jwk -> add_jwk gives the same kid and the same signatures. */
static int
round_trip_one(const struct evk_key *k, int priv)
{
	struct evk_keyring *kr = evk_keyring_new();
	struct evk_err e = EVK_ERR_ZERO;
	const struct evk_key *k2;
	unsigned char s1[EVK_SIG_MAX], s2[EVK_SIG_MAX];
	size_t l1 = 0, l2 = 0;
	char *j;
	int rc, ok = 1;

	j = to_jwk(k, priv, &rc);
	if (j == NULL || evk_json_check(chk, j, strlen(j), NULL, &e) != 0) {
		printf("#   to_jwk rc %d or not JSON\n", rc);
		evk_keyring_free(kr);
		free(j);
		return 0;
	}
	rc = add_jwk(kr, j, &e);
	if (rc != 0) {
		printf("#   add_jwk(%s): %s\n", j, e.msg);
		ok = 0;
		goto out;
	}
	k2 = evk_keyring_at(kr, 0);
	ok &= evk_keyring_count(kr) == 1;
	ok &= strcmp(evk_key_kid(k2), evk_key_kid(k)) == 0;
	ok &= evk_key_alg(k2) == evk_key_alg(k);
	ok &= evk_key_is_private(k2) == (priv && evk_key_is_private(k));
	if (evk_key_can_sign(k)) {
		ok &= evk_key_sign(k, S("round trip"), s1, &l1, &e) == 0;
		if (priv) {
			ok &=
			    evk_key_sign(k2, S("round trip"), s2, &l2, &e) == 0;
			ok &= l1 == l2 && memcmp(s1, s2, l1) == 0;
		}
		ok &= evk_key_verify(k2, S("round trip"), s1, l1) == 1;
	}
out:
	if (!ok)
		printf("#   round trip of %s failed\n", j);
	free(j);
	evk_keyring_free(kr);
	return ok;
}

TEST(jwk_round_trip)
{
	struct evk_err e = EVK_ERR_ZERO;
	struct evk_key *keys[6];
	size_t i;

	keys[0] = hs_key(NULL);
	keys[1] = hs_key("a \"quoted\" \\ kid \xe2\x82\xac \t");
	keys[2] = ed_key(NULL, 1);
	keys[3] = ed_key("e1", 0);
	keys[4] = evk_key_generate(EVK_SIG_HS256, NULL, &e);
	keys[5] = evk_key_generate(EVK_SIG_EDDSA, "gen", &e);
	for (i = 0; i < 6; i++) {
		if (keys[i] == NULL) {
			CHECK(0);
			continue;
		}
		if (evk_key_is_private(keys[i]))
			CHECK(round_trip_one(keys[i], 1));
		if (evk_key_alg(keys[i]) == EVK_SIG_EDDSA)
			CHECK(round_trip_one(keys[i], 0));
	}
	CHECK_STR(evk_key_kid(keys[0]), K32_THP);
	for (i = 0; i < 6; i++)
		evk_key_free(keys[i]);
}

TEST(key_generate)
{
	struct evk_err e = EVK_ERR_ZERO;
	struct evk_key *a = evk_key_generate(EVK_SIG_HS256, NULL, &e);
	struct evk_key *b = evk_key_generate(EVK_SIG_HS256, NULL, &e);
	struct evk_key *c = evk_key_generate(EVK_SIG_EDDSA, NULL, &e);
	struct evk_key *d = evk_key_generate(EVK_SIG_EDDSA, "mine", &e);
	char thp[EVK_THUMBPRINT_LEN + 1];

	CHECK(a != NULL && b != NULL && c != NULL && d != NULL);
	if (a == NULL || b == NULL || c == NULL || d == NULL)
		goto out;
	CHECK_INT(evk_key_alg(a), EVK_SIG_HS256);
	CHECK_INT(evk_key_alg(c), EVK_SIG_EDDSA);
	CHECK(evk_key_can_sign(a) && evk_key_can_sign(c));
	CHECK(strcmp(evk_key_kid(a), evk_key_kid(b)) != 0);
	CHECK_INT(strlen(evk_key_kid(a)), EVK_THUMBPRINT_LEN);
	evk_key_thumbprint(c, thp);
	CHECK_STR(evk_key_kid(c), thp);
	CHECK_STR(evk_key_kid(d), "mine");
	evk_key_thumbprint(d, thp);
	CHECK_INT(strlen(thp), EVK_THUMBPRINT_LEN);
	CHECK(evk_key_generate((enum evk_sigalg)0, NULL, &e) == NULL);
out:
	evk_key_free(a);
	evk_key_free(b);
	evk_key_free(c);
	evk_key_free(d);
}

/*** events ***/

static struct evk_key *kh, *ke; /* HS256 "h1", Ed25519 "e1" (TEST 1) */
static struct evk_keyring *ring; /* h1 and the public half of e1 */

static const char ev1[] =
    "{\"specversion\":\"1.0\",\"id\":\"42\",\"source\":\"//shop/web\","
    "\"type\":\"order.created\",\"time\":\"2026-11-29T16:57:32Z\","
    "\"data\":{\"sku\":\"A1\",\"qty\":2,\"paid\":true,\"n\":null}}";
/* Its canonical form with sigalg/sigkid for h1, written by hand. */
static const char ev1_canon_h1[] =
    "{\"data\":{\"n\":null,\"paid\":true,\"qty\":2,\"sku\":\"A1\"},"
    "\"id\":\"42\",\"sigalg\":\"HS256\",\"sigkid\":\"h1\","
    "\"source\":\"//shop/web\",\"specversion\":\"1.0\","
    "\"time\":\"2026-11-29T16:57:32Z\",\"type\":\"order.created\"}";
static const char ev1_canon_e1[] =
    "{\"data\":{\"n\":null,\"paid\":true,\"qty\":2,\"sku\":\"A1\"},"
    "\"id\":\"42\",\"sigalg\":\"EdDSA\",\"sigkid\":\"e1\","
    "\"source\":\"//shop/web\",\"specversion\":\"1.0\","
    "\"time\":\"2026-11-29T16:57:32Z\",\"type\":\"order.created\"}";

static int
events_setup(void)
{
	struct evk_err e = EVK_ERR_ZERO;

	kh = hs_key("h1");
	ke = ed_key("e1", 1);
	ring = evk_keyring_new();
	if (kh == NULL || ke == NULL || ring == NULL)
		return -1;
	if (evk_keyring_add(ring, hs_key("h1"), &e) != 0 ||
	    evk_keyring_add(ring, ed_key("e1", 0), &e) != 0)
		return -1;
	return 0;
}

static void
events_teardown(void)
{
	evk_key_free(kh);
	evk_key_free(ke);
	evk_keyring_free(ring);
}

TEST(event_sign_hs256_format)
{
	char want[1024], mac[EVK_SIG_B64_MAX], *s;
	const struct evk_key *who = NULL;
	struct evk_err e = EVK_ERR_ZERO;
	int rc;

	hmac_b64(ev1_canon_h1, mac);
	snprintf(want, sizeof want,
	    "%.*s,\"sigalg\":\"HS256\",\"sigkid\":\"h1\",\"sig\":\"%s\"}",
	    (int)strlen(ev1) - 1, ev1, mac);
	s = sign_ev(kh, ev1, &rc);
	CHECK_INT(rc, 0);
	CHECK_STR(s, want);
	CHECK_INT(strlen(mac), 43);
	if (s != NULL) {
		rc = verify_ev(ring, s, &who, &e);
		CHECK_INT(rc, EVK_VERIFY_OK);
		CHECK(who == evk_keyring_find(ring, S("h1")));
	}
	free(s);
}

TEST(event_sign_eddsa_format)
{
	char want[1024], sig[EVK_SIG_B64_MAX], *s;
	const struct evk_key *who = NULL;
	struct evk_err e = EVK_ERR_ZERO;
	int rc;

	ed_b64(ev1_canon_e1, sig);
	CHECK_INT(strlen(sig), 86);
	snprintf(want, sizeof want,
	    "%.*s,\"sigalg\":\"EdDSA\",\"sigkid\":\"e1\",\"sig\":\"%s\"}",
	    (int)strlen(ev1) - 1, ev1, sig);
	s = sign_ev(ke, ev1, &rc);
	CHECK_INT(rc, 0);
	CHECK_STR(s, want);
	if (s != NULL) {
		CHECK_INT(verify_ev(ring, s, &who, &e), EVK_VERIFY_OK);
		CHECK(who == evk_keyring_find(ring, S("e1")));
	}
	free(s);
}

TEST(event_sign_empty_and_whitespace)
{
	/* The input, the bytes kept before the added members, the
	 * separator, and the canonical text that is signed. */
	static const struct {
		const char *in, *prefix, *sep, *canon;
	} rows[] = {
	    {"{}", "{", "", "{\"sigalg\":\"HS256\",\"sigkid\":\"h1\"}"},
	    {"{ }", "{ ", "", "{\"sigalg\":\"HS256\",\"sigkid\":\"h1\"}"},
	    {"{\n\t}\r\n", "{\n\t", "",
	        "{\"sigalg\":\"HS256\",\"sigkid\":\"h1\"}"},
	    {"{ \"b\" : [ 1 , 2 ] , \"a\" : 1 }  \n",
	        "{ \"b\" : [ 1 , 2 ] , \"a\" : 1 ", ",",
	        "{\"a\":1,\"b\":[1,2],\"sigalg\":\"HS256\",\"sigkid\":\"h1\"}"},
	    {"{\"a\":1.0,\"b\":\"\\u0041\"}", "{\"a\":1.0,\"b\":\"\\u0041\"",
	        ",",
	        "{\"a\":1,\"b\":\"A\",\"sigalg\":\"HS256\",\"sigkid\":\"h1\"}"},
	    {"{\"a\":{}}", "{\"a\":{}", ",",
	        "{\"a\":{},\"sigalg\":\"HS256\",\"sigkid\":\"h1\"}"},
	};
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char want[1024], mac[EVK_SIG_B64_MAX], *s, *back;
		struct evk_err e = EVK_ERR_ZERO;
		size_t bl;
		int rc;

		hmac_b64(rows[i].canon, mac);
		snprintf(want, sizeof want,
		    "%s%s\"sigalg\":\"HS256\",\"sigkid\":\"h1\",\"sig\":\"%s\"}",
		    rows[i].prefix, rows[i].sep, mac);
		s = sign_ev(kh, rows[i].in, &rc);
		if (s == NULL || strcmp(s, want) != 0) {
			show("input", rows[i].in, strlen(rows[i].in));
			show("got", s, s ? strlen(s) : 0);
			show("want", want, strlen(want));
			CHECK(0);
		}
		if (s == NULL)
			continue;
		CHECK_INT(verify_ev(ring, s, NULL, &e), EVK_VERIFY_OK);
		/* Stripped: the original without whitespace after '}'. */
		back = strip_ev(s);
		bl = back ? strlen(back) : 0;
		if (back == NULL || bl == 0 || back[bl - 1] != '}' ||
		    strncmp(back, rows[i].in, bl) != 0 ||
		    strspn(rows[i].in + bl, " \t\r\n") !=
		        strlen(rows[i].in + bl)) {
			show("strip gave", back, bl);
			CHECK(0);
		}
		free(back);
		free(s);
	}
}

/* Keys reordered, whitespace and escapes changed, numbers respelled:
 * the canonical form is the same, so the signature holds. */
TEST(event_verify_equivalent_forms)
{
	char sig[EVK_SIG_B64_MAX], esig[EVK_SIG_B64_MAX], buf[2048], *s, *t;
	struct evk_err e = EVK_ERR_ZERO;
	int rc;

	s = sign_ev(kh, ev1, &rc);
	t = sign_ev(ke, ev1, &rc);
	if (s == NULL || t == NULL || !sig_text(s, sig, sizeof sig) ||
	    !sig_text(t, esig, sizeof esig)) {
		CHECK(0);
		goto out;
	}
	snprintf(buf, sizeof buf,
	    " {\n  \"sig\" : \"%s\",\n  \"data\" : { \"qty\" : 2.0, "
	    "\"n\" : null, \"paid\" : true, \"sku\" : \"\\u0041\\u0031\" },"
	    "\r\n  \"type\":\"order.created\", \"sigkid\":\"h\\u0031\","
	    "\"source\":\"\\/\\/shop\\/web\",\"id\":\"42\","
	    "\"time\":\"2026-11-29T16:57:32Z\",\"sigalg\":\"HS256\","
	    "\"specversion\":\"1.0\"\t}\n",
	    sig);
	rc = verify_ev(ring, buf, NULL, &e);
	if (rc != EVK_VERIFY_OK)
		printf("#   %d %s\n", rc, e.msg);
	CHECK_INT(rc, EVK_VERIFY_OK);
	/* The same for EdDSA, and the member name "sig" escaped. */
	snprintf(buf, sizeof buf,
	    "{\"data\":{\"sku\":\"A1\",\"qty\":20e-1,\"paid\":true,"
	    "\"n\":null},\"\\u0073ig\":\"%s\",\"sigalg\":\"EdDSA\","
	    "\"sigkid\":\"e1\",\"specversion\":\"1.0\",\"id\":\"42\","
	    "\"source\":\"//shop/web\",\"type\":\"order.created\","
	    "\"time\":\"2026-11-29T16:57:32Z\"}",
	    esig);
	rc = verify_ev(ring, buf, NULL, &e);
	if (rc != EVK_VERIFY_OK)
		printf("#   %d %s\n", rc, e.msg);
	CHECK_INT(rc, EVK_VERIFY_OK);
out:
	free(s);
	free(t);
}

/* Tampering with a signed event: each change and its verdict. */
enum { SUBST, DROP_SIG, CUT_SIG, PLUS_SIG, TRAIL_SIG };

static const struct {
	const char *what;
	int ed; /* 0: signed with h1, 1: with e1 */
	int how; /* SUBST from -> to; DROP_SIG the member; CUT_SIG `cut`
	            chars off the sig text; PLUS_SIG its first char '+';
	            TRAIL_SIG an unused bit of its last char set */
	const char *from, *to;
	size_t cut;
	int want;
	const char *msg; /* in err->msg, or NULL */
} tamper[] = {
    {"changed attribute", 0, SUBST, "\"type\":\"order.created\"",
        "\"type\":\"order.createe\"", 0, EVK_VERIFY_BAD_SIG, NULL},
    {"changed data byte", 0, SUBST, "\"qty\":2", "\"qty\":3", 0,
        EVK_VERIFY_BAD_SIG, NULL},
    {"added member", 0, SUBST, "\"id\":\"42\"", "\"id\":\"42\",\"x\":0", 0,
        EVK_VERIFY_BAD_SIG, NULL},
    {"removed member", 0, SUBST, "\"id\":\"42\",", "", 0, EVK_VERIFY_BAD_SIG,
        NULL},
    {"null became false", 0, SUBST, "\"n\":null", "\"n\":false", 0,
        EVK_VERIFY_BAD_SIG, NULL},
    {"changed sigkid of the same key", 0, SUBST, "\"sigkid\":\"h1\"",
        "\"sigkid\":\"h\\u0031\"", 0, EVK_VERIFY_OK, NULL},
    {"changed data byte (EdDSA)", 1, SUBST, "\"sku\":\"A1\"", "\"sku\":\"A2\"",
        0, EVK_VERIFY_BAD_SIG, NULL},
    {"changed data byte (EdDSA)", 1, SUBST, "\"paid\":true", "\"paid\":false",
        0, EVK_VERIFY_BAD_SIG, NULL},
    {"sig removed", 0, DROP_SIG, NULL, NULL, 0, EVK_VERIFY_MALFORMED, NULL},
    {"sig removed (EdDSA)", 1, DROP_SIG, NULL, NULL, 0, EVK_VERIFY_MALFORMED,
        NULL},
    {"sig renamed", 0, SUBST, ",\"sig\":\"", ",\"zig\":\"", 0,
        EVK_VERIFY_MALFORMED, NULL},
    {"sigkid removed", 0, SUBST, ",\"sigkid\":\"h1\"", "", 0,
        EVK_VERIFY_MALFORMED, NULL},
    {"sigalg removed", 0, SUBST, ",\"sigalg\":\"HS256\"", "", 0,
        EVK_VERIFY_MALFORMED, NULL},
    {"sigalg swapped to EdDSA", 0, SUBST, "\"sigalg\":\"HS256\"",
        "\"sigalg\":\"EdDSA\"", 0, EVK_VERIFY_ALG_MISMATCH,
        "algorithm mismatch"},
    {"sigalg swapped to HS256", 1, SUBST, "\"sigalg\":\"EdDSA\"",
        "\"sigalg\":\"HS256\"", 0, EVK_VERIFY_ALG_MISMATCH,
        "algorithm mismatch"},
    {"sigalg none", 0, SUBST, "\"sigalg\":\"HS256\"", "\"sigalg\":\"none\"", 0,
        EVK_VERIFY_ALG_MISMATCH, NULL},
    {"sigalg lowercase", 0, SUBST, "\"sigalg\":\"HS256\"",
        "\"sigalg\":\"hs256\"", 0, EVK_VERIFY_ALG_MISMATCH, NULL},
    {"unknown sigkid", 0, SUBST, "\"sigkid\":\"h1\"", "\"sigkid\":\"h9\"", 0,
        EVK_VERIFY_UNKNOWN_KEY, "unknown key \"h9\""},
    {"sigkid a prefix of a kid", 0, SUBST, "\"sigkid\":\"h1\"",
        "\"sigkid\":\"h\"", 0, EVK_VERIFY_UNKNOWN_KEY, "unknown key"},
    {"sig with '+'", 0, PLUS_SIG, NULL, NULL, 0, EVK_VERIFY_MALFORMED, NULL},
    {"sig with '+' (EdDSA)", 1, PLUS_SIG, NULL, NULL, 0, EVK_VERIFY_MALFORMED,
        NULL},
    {"sig padded", 0, SUBST, "\"}", "=\"}", 0, EVK_VERIFY_MALFORMED, NULL},
    {"sig with an unused trailing bit set", 0, TRAIL_SIG, NULL, NULL, 0,
        EVK_VERIFY_MALFORMED, NULL},
    {"sig with an unused trailing bit set (EdDSA)", 1, TRAIL_SIG, NULL, NULL, 0,
        EVK_VERIFY_MALFORMED, NULL},
    {"sig one char short", 0, CUT_SIG, NULL, NULL, 1, EVK_VERIFY_MALFORMED,
        NULL},
    {"sig of the EdDSA length for an HS256 key", 0, SUBST, "\"}",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}", 0,
        EVK_VERIFY_MALFORMED, NULL},
    {"sig of the HS256 length for an EdDSA key", 1, CUT_SIG, NULL, NULL, 43,
        EVK_VERIFY_MALFORMED, NULL},
    {"sig a number", 0, SUBST, ",\"sig\":\"", ",\"sig\":0,\"zig\":\"", 0,
        EVK_VERIFY_MALFORMED, NULL},
    {"sig null", 0, SUBST, ",\"sig\":\"", ",\"sig\":null,\"zig\":\"", 0,
        EVK_VERIFY_MALFORMED, NULL},
    {"sig empty", 0, SUBST, ",\"sig\":\"", ",\"sig\":\"\",\"zig\":\"", 0,
        EVK_VERIFY_MALFORMED, NULL},
    {"sigkid a number", 0, SUBST, "\"sigkid\":\"h1\"", "\"sigkid\":1", 0,
        EVK_VERIFY_MALFORMED, NULL},
    {"sigalg an array", 0, SUBST, "\"sigalg\":\"HS256\"",
        "\"sigalg\":[\"HS256\"]", 0, EVK_VERIFY_MALFORMED, NULL},
    {"number JCS cannot hold", 0, SUBST, "\"qty\":2", "\"qty\":1e400", 0,
        EVK_VERIFY_MALFORMED, "out of range"},
};

/* The tampered copy of `base` (malloc'd). */
static char *
tampered(const char *base, size_t i)
{
	const char *at = strstr(base, ",\"sig\":\"");
	char *t = strdup(base);
	size_t off;

	if (tamper[i].how == SUBST) {
		free(t);
		return subst(base, tamper[i].from, tamper[i].to);
	}
	if (at == NULL || t == NULL)
		abort();
	off = (size_t)(at - base);
	if (tamper[i].how == DROP_SIG) /* up to the final '}' */
		memmove(t + off, t + strlen(t) - 1, 2);
	else if (tamper[i].how == CUT_SIG)
		memmove(t + off + 8, t + off + 8 + tamper[i].cut,
		    strlen(t + off + 8 + tamper[i].cut) + 1);
	else if (tamper[i].how == PLUS_SIG)
		t[off + 8] = '+';
	else { /* the last sig char is before the final "} */
		static const char b64[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-_";
		char *c = t + strlen(t) - 3;
		*c = b64[(strchr(b64, *c) - b64) ^ 1];
	}
	return t;
}

static void
event_tampering(void)
{
	char *signed_h = NULL, *signed_e = NULL;
	size_t i;
	int rc;

	signed_h = sign_ev(kh, ev1, &rc);
	signed_e = sign_ev(ke, ev1, &rc);
	if (signed_h == NULL || signed_e == NULL) {
		t_result(0, "tampering: setup");
		goto out;
	}
	for (i = 0; i < sizeof tamper / sizeof tamper[0]; i++) {
		struct evk_err e = EVK_ERR_ZERO;
		char name[160], *t;
		int ok = 1;

		t = tampered(tamper[i].ed ? signed_e : signed_h, i);
		snprintf(name, sizeof name, "tampered: %s -> %s",
		    tamper[i].what, evk_verdict_name(tamper[i].want));
		rc = verify_ev(ring, t, NULL, &e);
		if (rc != tamper[i].want) {
			printf("#   verdict %d (%s) \"%s\"\n", rc,
			    rc >= 0 ? evk_verdict_name(rc) : "error", e.msg);
			show("event", t, strlen(t));
			ok = 0;
		} else if (rc != EVK_VERIFY_OK && e.msg[0] == '\0') {
			printf("#   no message\n");
			ok = 0;
		} else if (tamper[i].msg != NULL &&
		    strstr(e.msg, tamper[i].msg) == NULL) {
			printf("#   message \"%s\" lacks \"%s\"\n", e.msg,
			    tamper[i].msg);
			ok = 0;
		}
		free(t);
		t_result(ok, name);
	}
out:
	free(signed_h);
	free(signed_e);
}

TEST(event_unsigned_and_sig_only)
{
	struct evk_err e = EVK_ERR_ZERO;
	int rc;
	char *s = sign_ev(kh, ev1, &rc), *bare;

	CHECK_INT(verify_ev(ring, ev1, NULL, &e), EVK_VERIFY_UNSIGNED);
	CHECK(e.msg[0] != '\0');
	CHECK_INT(verify_ev(ring, "{}", NULL, &e), EVK_VERIFY_UNSIGNED);
	if (s == NULL) {
		CHECK(0);
		return;
	}
	/* All three removed by strip: unsigned again. */
	bare = strip_ev(s);
	CHECK_STR(bare, ev1);
	if (bare != NULL)
		CHECK_INT(verify_ev(ring, bare, NULL, &e), EVK_VERIFY_UNSIGNED);
	free(bare);
	/* sig alone, sigalg alone, sigkid alone. */
	CHECK_INT(verify_ev(ring,
	              "{\"a\":1,\"sig\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	              "AAAAAAA\"}",
	              NULL, &e),
	    EVK_VERIFY_MALFORMED);
	CHECK_INT(verify_ev(ring, "{\"a\":1,\"sigalg\":\"HS256\"}", NULL, &e),
	    EVK_VERIFY_MALFORMED);
	CHECK_INT(verify_ev(ring, "{\"sigkid\":\"h1\"}", NULL, &e),
	    EVK_VERIFY_MALFORMED);
	/* Malformed comes before unknown key. */
	CHECK_INT(verify_ev(ring,
	              "{\"sigalg\":\"HS256\",\"sigkid\":\"nope\",\"sig\":5}",
	              NULL, &e),
	    EVK_VERIFY_MALFORMED);
	/* Unknown key comes before algorithm mismatch. */
	CHECK_INT(verify_ev(ring,
	              "{\"sigalg\":\"XX\",\"sigkid\":\"nope\",\"sig\":"
	              "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
	              NULL, &e),
	    EVK_VERIFY_UNKNOWN_KEY);
	/* Algorithm mismatch comes before a bad signature. */
	CHECK_INT(verify_ev(ring,
	              "{\"sigalg\":\"EdDSA\",\"sigkid\":\"h1\",\"sig\":"
	              "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
	              NULL, &e),
	    EVK_VERIFY_ALG_MISMATCH);
	/* Nested members named sig are data, not a signature. */
	CHECK_INT(verify_ev(ring, "{\"data\":{\"sig\":1,\"sigalg\":2}}", NULL,
	              &e),
	    EVK_VERIFY_UNSIGNED);
	free(s);
}

/* An HS256 event checked against a ring where its kid is an Ed25519
 * public key: the key decides, so it is an algorithm mismatch, never an
 * HMAC keyed with public bytes. */
TEST(event_alg_confusion)
{
	struct evk_keyring *kr = evk_keyring_new();
	struct evk_err e = EVK_ERR_ZERO;
	struct evk_key *k;
	char *s, mac[EVK_SIG_B64_MAX], buf[512], canon[256];
	int rc;

	/* An HMAC keyed with the public key's bytes, as an attacker who
	 * knows the public key would make it. */
	k = evk_key_hs256(t1_pub, 32, "x1", &e);
	CHECK_INT(evk_keyring_add(kr, evk_key_ed25519(NULL, t1_pub, "x1", &e),
	              &e),
	    0);
	s = sign_ev(k, "{\"a\":1}", &rc);
	CHECK_INT(rc, 0);
	if (s != NULL) {
		rc = verify_ev(kr, s, NULL, &e);
		CHECK_INT(rc, EVK_VERIFY_ALG_MISMATCH);
		printf("#   message: \"%s\"\n", e.msg);
		CHECK(strstr(e.msg, "algorithm mismatch") != NULL);
	}
	free(s);
	/* The same forged by hand with sigalg EdDSA and a 43-char sig:
	 * malformed (not the key's length), never valid. */
	{
		crypto_auth_hmacsha256_state st;
		unsigned char m[32];

		snprintf(canon, sizeof canon,
		    "{\"a\":1,\"sigalg\":\"EdDSA\",\"sigkid\":\"x1\"}");
		crypto_auth_hmacsha256_init(&st, t1_pub, 32);
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)canon,
		    strlen(canon));
		crypto_auth_hmacsha256_final(&st, m);
		b64u(m, 32, mac, sizeof mac);
	}
	snprintf(buf, sizeof buf,
	    "{\"a\":1,\"sigalg\":\"EdDSA\",\"sigkid\":\"x1\",\"sig\":\"%s\"}",
	    mac);
	rc = verify_ev(kr, buf, NULL, &e);
	CHECK(rc != EVK_VERIFY_OK);
	CHECK_INT(rc, EVK_VERIFY_MALFORMED);
	evk_key_free(k);
	evk_keyring_free(kr);
}

TEST(event_sign_refusals)
{
	static const char *const signed_already[] = {
	    "{\"a\":1,\"sig\":\"x\"}",
	    "{\"sigalg\":\"HS256\",\"a\":1}",
	    "{\"a\":1,\"sigkid\":\"h1\",\"b\":2}",
	    "{\"\\u0073ig\":1}",
	    "{\"sig\\u0061lg\":null}",
	};
	struct evk_key *pub = ed_key("e1", 0);
	struct evk_keyring *kr = evk_keyring_new();
	struct evk_err e = EVK_ERR_ZERO;
	const struct evk_key *vonly;
	char *s, *again;
	size_t i;
	int rc;

	for (i = 0; i < sizeof signed_already / sizeof signed_already[0]; i++) {
		s = sign_ev(kh, signed_already[i], &rc);
		if (rc != EVK_EINVAL)
			show("not refused", signed_already[i],
			    strlen(signed_already[i]));
		CHECK_INT(rc, EVK_EINVAL);
		free(s);
	}
	/* Signing twice is refused too. */
	s = sign_ev(kh, ev1, &rc);
	if (s != NULL) {
		struct evk_buf out = EVK_BUF_ZERO;
		rc = evk_event_sign(ke, s, strlen(s), &out, &scratch, &e);
		CHECK_INT(rc, EVK_EINVAL);
		CHECK(strstr(e.msg, "already signed") != NULL);
		CHECK_INT(out.len, 0);
		evk_buf_free(&out);
	}
	free(s);
	/* Keys that cannot sign. */
	again = sign_ev(pub, ev1, &rc);
	CHECK(again == NULL);
	CHECK_INT(rc, EVK_EINVAL);
	free(again);
	CHECK_INT(add_jwk(kr,
	              "{\"kty\":\"oct\",\"kid\":\"v\",\"k\":\"" K32
	              "\",\"key_ops\":[\"verify\"]}",
	              &e),
	    0);
	vonly = evk_keyring_at(kr, 0);
	if (vonly != NULL) {
		s = sign_ev(vonly, ev1, &rc);
		CHECK(s == NULL);
		CHECK_INT(rc, EVK_EINVAL);
		free(s);
	}
	/* A number beyond a double. */
	s = sign_ev(kh, "{\"a\":1e400}", &rc);
	CHECK(s == NULL);
	CHECK_INT(rc, EVK_ERANGE);
	free(s);
	/* Nested "sig" members are not a signature. */
	s = sign_ev(kh, "{\"data\":{\"sig\":1,\"sigkid\":2}}", &rc);
	CHECK_INT(rc, 0);
	if (s != NULL)
		CHECK_INT(verify_ev(ring, s, NULL, &e), EVK_VERIFY_OK);
	free(s);
	evk_key_free(pub);
	evk_keyring_free(kr);
}

/* A kid that needs escaping in the signed line. */
TEST(event_sign_escaped_kid)
{
	struct evk_keyring *kr = evk_keyring_new();
	struct evk_err e = EVK_ERR_ZERO;
	static const char kid[] = "k \"1\" \\ \xc3\xa9 \x01";
	struct evk_key *k = evk_key_hs256(secret32, 32, kid, &e);
	char *s;
	int rc;

	CHECK_INT(evk_keyring_add(kr, evk_key_hs256(secret32, 32, kid, &e), &e),
	    0);
	s = sign_ev(k, "{\"a\":\"b\"}", &rc);
	CHECK_INT(rc, 0);
	if (s != NULL) {
		char got[64];
		CHECK_INT(evk_json_check(chk, s, strlen(s), NULL, &e), 0);
		CHECK(json_str(s, strlen(s), "sigkid", got, sizeof got) &&
		    strcmp(got, kid) == 0);
		CHECK_INT(verify_ev(kr, s, NULL, &e), EVK_VERIFY_OK);
	}
	free(s);
	evk_key_free(k);
	evk_keyring_free(kr);
}

static int
canon_of(const char *s, struct evk_buf *out)
{
	evk_buf_reset(out);
	if (evk_json_check(chk, s, strlen(s), NULL, NULL) != 0)
		return -100;
	return evk_canon(s, strlen(s), out, NULL);
}

static int
signed_bytes_is(const struct evk_key *k, const char *ev, const char *want)
{
	struct evk_buf got = EVK_BUF_ZERO, exp = EVK_BUF_ZERO;
	struct evk_err e = EVK_ERR_ZERO;
	char *p = t_dup_exact(ev, strlen(ev));
	int ok;

	evk_buf_add(&got, "<", 1);
	ok =
	    evk_event_signed_bytes(k, p, strlen(ev), &got, &e) == 0 &&
	    canon_of(want, &exp) == 0 && got.len == exp.len + 1 &&
	    memcmp(got.p + 1, exp.p, exp.len) == 0;
	if (!ok) {
		show("event", ev, strlen(ev));
		show("got", got.p, got.len);
		show("want", exp.p, exp.len);
	}
	free(p);
	evk_buf_free(&got);
	evk_buf_free(&exp);
	return ok;
}

TEST(event_signed_bytes)
{
	struct evk_buf c = EVK_BUF_ZERO;
	char *s;
	int rc;

	/* The hand-written canonical text is canonical already. */
	CHECK_INT(canon_of(ev1_canon_h1, &c), 0);
	CHECK_STR(c.p, ev1_canon_h1);
	s = sign_ev(kh, ev1, &rc);
	if (s != NULL) {
		CHECK(signed_bytes_is(NULL, s, ev1_canon_h1));
		/* With a key, an event that names its own keeps them. */
		CHECK(signed_bytes_is(ke, s, ev1_canon_h1));
	}
	free(s);
	/* An unsigned event with a key: what sign would sign. */
	CHECK(signed_bytes_is(kh, ev1, ev1_canon_h1));
	CHECK(signed_bytes_is(ke, ev1, ev1_canon_e1));
	/* Without a key: the event's own canonical form. */
	CHECK(signed_bytes_is(NULL, ev1, ev1));
	CHECK(signed_bytes_is(NULL, " { \"b\" : 2 , \"a\" : [ 1e2 ] } ",
	    "{\"a\":[100],\"b\":2}"));
	CHECK(signed_bytes_is(kh, "{}",
	    "{\"sigalg\":\"HS256\",\"sigkid\":\"h1\"}"));
	/* sig is left out wherever it is; sigalg and sigkid stay. */
	CHECK(signed_bytes_is(NULL,
	    "{\"sig\":\"zz\",\"b\":1,\"sigkid\":\"q\",\"a\":0}",
	    "{\"a\":0,\"b\":1,\"sigkid\":\"q\"}"));
	CHECK(signed_bytes_is(kh, "{\"sigalg\":\"EdDSA\",\"a\":0}",
	    "{\"a\":0,\"sigalg\":\"EdDSA\"}"));
	/* A number beyond a double. */
	{
		struct evk_buf out = EVK_BUF_ZERO;
		CHECK_INT(evk_event_signed_bytes(NULL, S("{\"a\":-1e999}"),
		              &out, NULL),
		    EVK_ERANGE);
		evk_buf_free(&out);
	}
	evk_buf_free(&c);
}

/* Signing then stripping gives back the original bytes. */
TEST(event_strip_round_trip)
{
	static const char *const evs[] = {
	    "{}",
	    "{ }",
	    "{\n}",
	    "{ \"a\" : 1 }",
	    "{\"a\":1 \n}",
	    "{\"a\":1,\n\t\"b\":[{\"c\":{}}] }",
	    "{\"x\":\"}\",\"y\":\"\\\"}\"}",
	    ev1,
	};
	size_t i;

	for (i = 0; i < sizeof evs / sizeof evs[0]; i++) {
		int k;
		for (k = 0; k < 2; k++) {
			char *s, *back;
			int rc;

			s = sign_ev(k ? ke : kh, evs[i], &rc);
			if (s == NULL) {
				show("sign failed", evs[i], strlen(evs[i]));
				CHECK(0);
				continue;
			}
			back = strip_ev(s);
			if (back == NULL || strcmp(back, evs[i]) != 0) {
				show("signed", s, strlen(s));
				show("stripped", back, back ? strlen(back) : 0);
				show("want", evs[i], strlen(evs[i]));
				CHECK(0);
			}
			free(back);
			free(s);
		}
	}
}

TEST(event_strip_positions)
{
	static const struct {
		const char *in, *want;
	} rows[] = {
	    {"{\"sig\":\"x\",\"a\":1}", "{\"a\":1}"},
	    {"{\"a\":1,\"sigkid\":\"k\",\"b\":2}", "{\"a\":1,\"b\":2}"},
	    {"{\"a\":1,\"sigalg\":\"x\"}", "{\"a\":1}"},
	    {"{\"sigalg\":\"HS256\",\"a\":1,\"sigkid\":\"h1\",\"b\":2,"
	     "\"sig\":\"q\"}",
	        "{\"a\":1,\"b\":2}"},
	    {"{\"sig\":1,\"sigalg\":2,\"sigkid\":3}", "{}"},
	    {"{\"a\":{\"sig\":1},\"sig\":1}", "{\"a\":{\"sig\":1}}"},
	    {"{\"\\u0073ig\":\"x\",\"a\":1}", "{\"a\":1}"},
	    {"{\"a\":1}", "{\"a\":1}"},
	    {"  {\"a\":1}\r\n", "  {\"a\":1}"},
	    {"{\"a\":[1,2],\"b\":\"sig\"}", "{\"a\":[1,2],\"b\":\"sig\"}"},
	    {"{\"siga\":1,\"si\":2}", "{\"siga\":1,\"si\":2}"},
	};
	static const char *const ws[] = {
	    /* With whitespace the exact result is the library's choice;
	     * it must be JSON and mean the same. */
	    "{ \"sig\" : \"x\" , \"a\" : 1 }",
	    "{ \"a\" : 1 , \"sigkid\" : \"k\" , \"b\" : 2 }",
	    "{\n  \"a\": 1,\n  \"sigalg\": \"x\"\n}",
	    "{ \"sig\" : 1 ,\n \"sigalg\" : 2 , \"sigkid\" : 3 }",
	    "{\"sig\" :1 ,\"a\":1 , \"sigkid\":2}",
	};
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char *got = strip_ev(rows[i].in);
		if (got == NULL || strcmp(got, rows[i].want) != 0) {
			show("input", rows[i].in, strlen(rows[i].in));
			show("got", got, got ? strlen(got) : 0);
			CHECK(0);
		}
		free(got);
	}
	for (i = 0; i < sizeof ws / sizeof ws[0]; i++) {
		struct evk_buf a = EVK_BUF_ZERO;
		char *got = strip_ev(ws[i]);
		int ok = got != NULL &&
		    evk_json_check(chk, got, strlen(got), NULL, NULL) == 0 &&
		    !json_has(got, strlen(got), "sig") &&
		    !json_has(got, strlen(got), "sigalg") &&
		    !json_has(got, strlen(got), "sigkid");
		if (ok) {
			/* The canonical forms agree with the hand-written
			 * ones. */
			const char *want = i == 0 ? "{\"a\":1}"
			    : i == 1              ? "{\"a\":1,\"b\":2}"
			    : i == 2              ? "{\"a\":1}"
			    : i == 3              ? "{}"
			                          : "{\"a\":1}";
			ok = canon_of(got, &a) == 0 && strcmp(a.p, want) == 0;
		}
		if (!ok) {
			show("input", ws[i], strlen(ws[i]));
			show("got", got, got ? strlen(got) : 0);
			CHECK(0);
		}
		evk_buf_free(&a);
		free(got);
	}
}

/*** replay window ***/

TEST(dedupe_basic)
{
	struct evk_dedupe *d = evk_dedupe_new(8);

	CHECK(d != NULL);
	if (d == NULL)
		return;
	CHECK_INT(evk_dedupe_count(d), 0);
	CHECK_INT(evk_dedupe_check(d, S("//s"), S("1"), 100, 0), 0);
	CHECK_INT(evk_dedupe_count(d), 1);
	CHECK_INT(evk_dedupe_check(d, S("//s"), S("1"), 100, 1), 1);
	CHECK_INT(evk_dedupe_check(d, S("//s"), S("1"), 100, 99), 1);
	CHECK_INT(evk_dedupe_check(d, S("//s"), S("2"), 100, 99), 0);
	CHECK_INT(evk_dedupe_check(d, S("//t"), S("1"), 100, 99), 0);
	/* At the deadline it is forgotten, and remembered anew. */
	CHECK_INT(evk_dedupe_check(d, S("//s"), S("1"), 200, 100), 0);
	CHECK_INT(evk_dedupe_check(d, S("//s"), S("1"), 200, 150), 1);
	CHECK_INT(evk_dedupe_check(d, S("//s"), S("1"), 300, 250), 0);
	/* Empty source or id. */
	CHECK_INT(evk_dedupe_check(d, "", 0, S("x"), 1000, 300), 0);
	CHECK_INT(evk_dedupe_check(d, S("x"), "", 0, 1000, 300), 0);
	CHECK_INT(evk_dedupe_check(d, "", 0, S("x"), 1000, 301), 1);
	CHECK_INT(evk_dedupe_check(d, S("x"), "", 0, 1000, 301), 1);
	/* Bytes, not C strings: an embedded NUL counts. */
	CHECK_INT(evk_dedupe_check(d, "a\0b", 3, S("1"), 1000, 301), 0);
	CHECK_INT(evk_dedupe_check(d, "a\0c", 3, S("1"), 1000, 301), 0);
	CHECK_INT(evk_dedupe_check(d, "a\0b", 3, S("1"), 1000, 302), 1);
	evk_dedupe_free(d);
	evk_dedupe_free(NULL);
}

/* ("ab","c") and ("a","bc") have the same concatenation. */
TEST(dedupe_split)
{
	struct evk_dedupe *d = evk_dedupe_new(8);

	CHECK(d != NULL);
	if (d == NULL)
		return;
	CHECK_INT(evk_dedupe_check(d, S("ab"), S("c"), 100, 0), 0);
	CHECK_INT(evk_dedupe_check(d, S("a"), S("bc"), 100, 0), 0);
	CHECK_INT(evk_dedupe_check(d, S("abc"), "", 0, 100, 0), 0);
	CHECK_INT(evk_dedupe_check(d, "", 0, S("abc"), 100, 0), 0);
	CHECK_INT(evk_dedupe_check(d, S("ab"), S("c"), 100, 1), 1);
	CHECK_INT(evk_dedupe_check(d, S("a"), S("bc"), 100, 1), 1);
	CHECK_INT(evk_dedupe_count(d), 4);
	evk_dedupe_free(d);
}

TEST(dedupe_full)
{
	struct evk_dedupe *d = evk_dedupe_new(3);

	CHECK(d != NULL);
	if (d == NULL)
		return;
	CHECK_INT(evk_dedupe_check(d, S("s"), S("1"), 10, 0), 0);
	CHECK_INT(evk_dedupe_check(d, S("s"), S("2"), 100, 0), 0);
	CHECK_INT(evk_dedupe_check(d, S("s"), S("3"), 100, 0), 0);
	/* Full, nothing expired. */
	CHECK_INT(evk_dedupe_check(d, S("s"), S("4"), 100, 5), EVK_ERANGE);
	CHECK_INT(evk_dedupe_count(d), 3);
	/* A replay is still seen when full. */
	CHECK_INT(evk_dedupe_check(d, S("s"), S("2"), 100, 5), 1);
	/* "1" expires at 10 and makes room. */
	CHECK_INT(evk_dedupe_check(d, S("s"), S("4"), 100, 10), 0);
	CHECK_INT(evk_dedupe_check(d, S("s"), S("5"), 100, 11), EVK_ERANGE);
	CHECK_INT(evk_dedupe_check(d, S("s"), S("4"), 100, 11), 1);
	/* All expire. */
	CHECK_INT(evk_dedupe_check(d, S("s"), S("5"), 300, 100), 0);
	CHECK_INT(evk_dedupe_check(d, S("s"), S("6"), 300, 100), 0);
	CHECK_INT(evk_dedupe_check(d, S("s"), S("7"), 300, 100), 0);
	CHECK_INT(evk_dedupe_check(d, S("s"), S("8"), 300, 100), EVK_ERANGE);
	CHECK(evk_dedupe_count(d) <= 3);
	evk_dedupe_free(d);
}

/* Many pairs: each new once, a replay after, in a set that is full. */
TEST(dedupe_many)
{
	enum { N = 20000 };
	struct evk_dedupe *d = evk_dedupe_new(N);
	char id[32];
	int i, fresh = 0, replay = 0, full;

	CHECK(d != NULL);
	if (d == NULL)
		return;
	for (i = 0; i < N; i++) {
		int n = snprintf(id, sizeof id, "%d", i);
		fresh += evk_dedupe_check(d, S("//src"), id, (size_t)n,
		             INT64_C(1) << 40, i) == 0;
	}
	for (i = 0; i < N; i++) {
		int n = snprintf(id, sizeof id, "%d", i);
		replay += evk_dedupe_check(d, S("//src"), id, (size_t)n,
		              INT64_C(1) << 40, N + i) == 1;
	}
	full =
	    evk_dedupe_check(d, S("//src"), S("new"), INT64_C(1) << 40, 2 * N);
	CHECK_INT(fresh, N);
	CHECK_INT(replay, N);
	CHECK_INT(full, EVK_ERANGE);
	CHECK_INT(evk_dedupe_count(d), N);
	/* Past every deadline: room for all again. */
	CHECK_INT(evk_dedupe_check(d, S("//src"), S("new"), INT64_C(1) << 41,
	              INT64_C(1) << 40),
	    0);
	evk_dedupe_free(d);
}

int
main(void)
{
	size_t i;

	if (sodium_init() < 0 || (chk = evk_json_checker_new(NULL)) == NULL) {
		printf("Bail out! setup\n");
		return 2;
	}
	for (i = 0; i < 32; i++)
		secret32[i] = (unsigned char)((i * 7 + 3) & 255);
	unhex(S("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f"
	        "60"),
	    t1_seed, 32);
	unhex(S("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f70751"
	        "1a"),
	    t1_pub, 32);

	RUN(names);
	hmac_rfc4231();
	ed25519_rfc8032();
	RUN(ed25519_noncanonical_s_refused);
	RUN(rfc8037_appendix_a);
	RUN(jwk_single_and_set);
	RUN(jwk_jose_style);
	RUN(jwk_key_ops_use_and_extra_members);
	jwk_refusals();
	RUN(jwk_set_error_names_index);
	RUN(jwk_noncanonical_trailing_bits);
	RUN(keyring_add_duplicate_kid);
	RUN(keyring_load_files);
	RUN(jwk_output_exact);
	RUN(jwk_round_trip);
	RUN(key_generate);
	if (events_setup() != 0) {
		printf("Bail out! event keys\n");
		return 2;
	}
	RUN(event_sign_hs256_format);
	RUN(event_sign_eddsa_format);
	RUN(event_sign_empty_and_whitespace);
	RUN(event_verify_equivalent_forms);
	event_tampering();
	RUN(event_unsigned_and_sig_only);
	RUN(event_alg_confusion);
	RUN(event_sign_refusals);
	RUN(event_sign_escaped_kid);
	RUN(event_signed_bytes);
	RUN(event_strip_round_trip);
	RUN(event_strip_positions);
	events_teardown();
	RUN(dedupe_basic);
	RUN(dedupe_split);
	RUN(dedupe_full);
	RUN(dedupe_many);
	evk_buf_free(&scratch);
	evk_json_checker_free(chk);
	return t_done();
}
