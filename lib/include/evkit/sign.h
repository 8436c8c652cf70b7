/*
 * evkit/sign.h - signed events: keys as JWK (RFC 7517, RFC 8037), HS256
 * and EdDSA signatures over RFC 8785 canonical JSON, and a replay window.
 *
 * The scheme (evkit-event(5)): a signed event is the event object with
 * three added string members, "sigalg" ("HS256" or "EdDSA"), "sigkid"
 * (the key id) and "sig" (the MAC or signature, base64url without
 * padding).  The signed bytes are the JCS canonical form (evk_canon()) of
 * the event object without its "sig" member.  A verifier finds the key
 * by "sigkid", and the key, not the event, decides the algorithm.
 * libsodium does the cryptography; call sodium_init() (or any evk_key_*
 * constructor, which does) before using this from several threads.
 */
#ifndef EVKIT_SIGN_H
#define EVKIT_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "evkit/buf.h"
#include "evkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

enum evk_sigalg {
	EVK_SIG_HS256 = 1, /* HMAC-SHA256 (RFC 2104, RFC 7518 3.2) */
	EVK_SIG_EDDSA = 2, /* Ed25519, pure (RFC 8032, RFC 8037) */
};

/* The JOSE name of `a`: "HS256" or "EdDSA" (NULL for anything else). */
const char *evk_sigalg_name(enum evk_sigalg a);

/* Longest MAC or signature in bytes, and its base64url text with NUL. */
#define EVK_SIG_MAX 64
#define EVK_SIG_B64_MAX 87

/* Length of an RFC 7638 thumbprint: SHA-256, base64url, 43 characters. */
#define EVK_THUMBPRINT_LEN 43

/* --- keys ----------------------------------------------------------------- */

/* One key: an HS256 secret, or an Ed25519 key pair or public key.
 * Opaque; secrets are wiped when it is freed. */
struct evk_key;

/*
 * An HS256 key with the secret `secret[0..len)` (any length; the JWK
 * loader is stricter, see evk_keyring_add_jwk()) and the key id `kid`
 * (NULL: the RFC 7638 thumbprint).  Returns the key, or NULL with `err`
 * filled (EVK_ENOMEM, EVK_EINVAL for an empty kid).
 */
struct evk_key *evk_key_hs256(const void *secret, size_t len, const char *kid,
    struct evk_err *err);

/*
 * An Ed25519 key from the 32-byte private `seed` (RFC 8032's secret key;
 * JWK "d"), or, with `seed` NULL, the public key `pub` (32 bytes; JWK
 * "x") that can only verify.  `kid` as for evk_key_hs256().
 */
struct evk_key *evk_key_ed25519(const unsigned char *seed,
    const unsigned char *pub, const char *kid, struct evk_err *err);

/* A new random key (32 random bytes for HS256, a fresh Ed25519 pair). */
struct evk_key *evk_key_generate(enum evk_sigalg alg, const char *kid,
    struct evk_err *err);

/* Frees `k`, wiping its secret; NULL does nothing. */
void evk_key_free(struct evk_key *k);

enum evk_sigalg evk_key_alg(const struct evk_key *k);
/* The key id, NUL-terminated (valid while `k` lives). */
const char *evk_key_kid(const struct evk_key *k);
/* Nonzero when `k` holds private material (an HS256 secret, an Ed25519
 * seed) and may sign (its JWK "key_ops", when given, names "sign"). */
int evk_key_can_sign(const struct evk_key *k);
/* Nonzero when `k` holds private material at all (a file holding it must
 * be private). */
int evk_key_is_private(const struct evk_key *k);

/* Writes the RFC 7638 thumbprint of `k` (SHA-256 of its required members
 * in canonical form, base64url) and a NUL into `out`. */
void evk_key_thumbprint(const struct evk_key *k,
    char out[EVK_THUMBPRINT_LEN + 1]);

/*
 * Appends `k` as a JWK on one line, without a newline:
 *   {"kty":"oct","alg":"HS256","kid":"...","k":"..."}
 *   {"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":"...","x":"...","d":"..."}
 * With `with_private` zero, or a key that has none, the private member
 * ("d") is left out; an HS256 key has no public half, and asking for one
 * is EVK_EINVAL.  Returns 0, EVK_EINVAL or EVK_ENOMEM.
 */
int evk_key_to_jwk(const struct evk_key *k, int with_private,
    struct evk_buf *out, struct evk_err *err);

/* The MAC or signature of `msg[0..len)` into `sig` (32 bytes for HS256,
 * 64 for EdDSA; the length in `*siglen`).  Returns 0, or EVK_EINVAL when
 * `k` cannot sign. */
int evk_key_sign(const struct evk_key *k, const void *msg, size_t len,
    unsigned char sig[EVK_SIG_MAX], size_t *siglen, struct evk_err *err);

/* 1 when `sig[0..siglen)` is the MAC (compared in constant time) or a
 * valid signature of `msg[0..len)` under `k`, else 0. */
int evk_key_verify(const struct evk_key *k, const void *msg, size_t len,
    const unsigned char *sig, size_t siglen);

/* --- key rings ------------------------------------------------------------ */

/* A set of keys with distinct ids, as a JWK Set or several key files. */
struct evk_keyring;

/* Returns an empty ring, or NULL when out of memory (or when libsodium
 * cannot initialise). */
struct evk_keyring *evk_keyring_new(void);
/* Frees the ring and its keys; NULL does nothing. */
void evk_keyring_free(struct evk_keyring *kr);

/* Adds `k`; the ring owns it from then on, also on error (it is freed).
 * EVK_EINVAL "duplicate kid" when the ring has a key with that id. */
int evk_keyring_add(struct evk_keyring *kr, struct evk_key *k,
    struct evk_err *err);

/*
 * Adds the keys of the JSON text `p[0..len)`: one JWK object, or a JWK
 * Set {"keys":[...]}.  The text must be valid JSON without duplicate
 * keys.  A JWK is
 *   {"kty":"oct", "k":SECRET}              HS256; the secret is at least
 *                                          32 bytes (RFC 7518 3.2)
 *   {"kty":"OKP","crv":"Ed25519","x":PUB}  EdDSA, "d" (the seed) optional
 * with, optionally, "alg" (which must then be "HS256" resp. "EdDSA"),
 * "kid" (a non-empty string; default the RFC 7638 thumbprint), "use"
 * (must be "sig") and "key_ops" (an array of strings; without "sign" the
 * key cannot sign, without "verify" it cannot verify and is refused).
 * Base64url members are strict: no padding, no other alphabet, exact
 * lengths; a "d" must give the "x" that is written.  Other members (as
 * made by other JWK tools) are ignored.  Nothing is added when anything
 * is wrong.  Returns 0 or EVK_EINVAL/EVK_EJSON/... with a message that
 * names the key (by index in a set) and the member.
 */
int evk_keyring_add_jwk(struct evk_keyring *kr, const char *p, size_t len,
    struct evk_err *err);

/*
 * Adds the keys of the JWK or JWK Set file `path` (at most 1 MiB).  A
 * file that holds private material must not be accessible by group or
 * others (mode & 077), as ssh requires of private keys: EVK_EINVAL
 * "permissions 0644 are too open ...".  EVK_EIO when it cannot be read.
 */
int evk_keyring_load(struct evk_keyring *kr, const char *path,
    struct evk_err *err);

size_t evk_keyring_count(const struct evk_keyring *kr);
/* The i-th key in the order added (NULL when i is out of range). */
const struct evk_key *evk_keyring_at(const struct evk_keyring *kr, size_t i);
/* The key whose id is `kid[0..len)`, or NULL. */
const struct evk_key *evk_keyring_find(const struct evk_keyring *kr,
    const char *kid, size_t len);

/* --- events --------------------------------------------------------------- */

/*
 * Signs the event object `p[0..len)`, which evk_json_check() accepted as
 * an object with duplicate keys refused (whitespace around it allowed).
 * Appends to `out` the event's bytes up to its closing brace (white space
 * before it included, after it not), then
 * ,"sigalg":ALG,"sigkid":KID,"sig":SIG} (no leading comma for "{}"),
 * where SIG signs the canonical form of the event with "sigalg" and
 * "sigkid" added.  `tmp` is scratch kept between calls.  Returns 0, or
 * EVK_EINVAL "already signed" when the event has a "sig", "sigalg" or
 * "sigkid" member, EVK_EINVAL when `k` cannot sign, EVK_ERANGE for a
 * number JCS cannot represent, EVK_ENOMEM; `out` is unchanged on error.
 */
int evk_event_sign(const struct evk_key *k, const char *p, size_t len,
    struct evk_buf *out, struct evk_buf *tmp, struct evk_err *err);

/*
 * Appends the bytes that a signature of the checked event `p[0..len)`
 * covers: the canonical form of the event without its "sig" member.
 * With `k` set, and an event that has neither "sigalg" nor "sigkid",
 * those of `k` are added first (what evk_event_sign() would sign).
 * Returns 0, EVK_ERANGE or EVK_ENOMEM.
 */
int evk_event_signed_bytes(const struct evk_key *k, const char *p, size_t len,
    struct evk_buf *out, struct evk_err *err);

/* What verification found; every value but EVK_VERIFY_OK comes with a
 * message in err->msg. */
enum evk_verdict {
	EVK_VERIFY_OK = 0,
	EVK_VERIFY_UNSIGNED, /* none of sig, sigalg, sigkid */
	EVK_VERIFY_MALFORMED, /* some missing, not strings, sig not base64url
	                         of the key's length, number out of range */
	EVK_VERIFY_UNKNOWN_KEY, /* no key in the ring has the id sigkid */
	EVK_VERIFY_ALG_MISMATCH, /* sigalg is not the algorithm of that key */
	EVK_VERIFY_BAD_SIG, /* the signature does not verify */
};

/* A word for each verdict: "valid", "unsigned", "malformed",
 * "unknown key", "algorithm mismatch", "bad signature". */
const char *evk_verdict_name(enum evk_verdict v);

/*
 * Verifies the checked event `p[0..len)` (as for evk_event_sign(): JSON
 * with duplicate keys refused) against the ring.  Returns a verdict (>= 0;
 * with EVK_VERIFY_OK `*key`, when not NULL, is the key that verified), or
 * EVK_ENOMEM.  The reason for any other verdict is in err->msg, e.g.
 * "unknown key \"k1\"" or "algorithm mismatch: the event says \"HS256\",
 * key \"k1\" is EdDSA".  `tmp` is scratch kept between calls.
 */
int evk_event_verify(const struct evk_keyring *kr, const char *p, size_t len,
    struct evk_buf *tmp, const struct evk_key **key, struct evk_err *err);

/*
 * Appends the checked event object `p[0..len)` without its "sig",
 * "sigalg" and "sigkid" members; every other byte stays as it was (the
 * separators of the removed members go with them), so stripping what
 * evk_event_sign() appended gives back the original bytes.  White space
 * before the object stays; after it, it is dropped.  Returns 0 or
 * EVK_ENOMEM.
 */
int evk_event_strip(const char *p, size_t len, struct evk_buf *out);

/* --- replay window -------------------------------------------------------- */

/*
 * A set of (source, id) pairs, each remembered until a deadline: what a
 * verifier needs to refuse an event sent twice within its --max-age
 * window.  Pairs are kept as keyed 128-bit BLAKE2b hashes (the key random
 * per set, so collisions cannot be aimed at) in a hash table of 24-byte
 * slots kept between a quarter and 70% full: 35 to 100 bytes per
 * remembered pair, twice that for a moment while the table grows.  Never
 * more than `max` pairs are kept.
 */
struct evk_dedupe;

/* Returns a new set holding at most `max` pairs (> 0), or NULL. */
struct evk_dedupe *evk_dedupe_new(size_t max);
void evk_dedupe_free(struct evk_dedupe *d);

/*
 * Looks up (source, id) (their unescaped bytes) at time `now` (any
 * monotone unit, e.g. nanoseconds since the epoch); pairs whose deadline
 * is at or before `now` are forgotten.  Returns 1 when the pair is
 * remembered (a replay); else remembers it until `until` and returns 0.
 * EVK_ERANGE when `max` pairs are remembered and none has expired (the
 * caller cannot tell a replay from a new event then), EVK_ENOMEM.
 */
int evk_dedupe_check(struct evk_dedupe *d, const char *source, size_t slen,
    const char *id, size_t ilen, int64_t until, int64_t now);

/* How many pairs are remembered (some may have expired since). */
size_t evk_dedupe_count(const struct evk_dedupe *d);

#ifdef __cplusplus
}
#endif
#endif
