#!/usr/bin/env python3
"""tests/cli/evsign_ref.py - evsign's scheme (evkit-event(5)) again, in
python3's standard library only and written from the contract, not from
evsign's code: the other side of the interop tests, and the python signer
of the benchmark.

    evsign_ref.py sign -k KEY [--kid ID] [--reserialize]  < events
    evsign_ref.py verify -k KEYS [-k KEYS]...              < signed events
    evsign_ref.py canon [-k KEY]                           < events
    evsign_ref.py thumbprint KEY      the kid of the (first) key
    evsign_ref.py pem KEY priv|pub    an Ed25519 JWK as PEM for openssl
    evsign_ref.py b64u | unb64u       base64url without padding, stdin->stdout

HS256 only (the standard library has no Ed25519: openssl does that part).
The canonical form is json.dumps(sort_keys=True, separators=(',', ':'),
ensure_ascii=False), which is RFC 8785 for objects whose numbers are
integers of at most 2^53 and whose keys sort the same by code point and
by UTF-16 code unit; anything else is refused rather than guessed.
Exit status as evsign: 0 all good, 1 some line rejected, 2 error.
"""
import base64
import hashlib
import hmac
import json
import sys

B64U = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    if not isinstance(s, str) or not set(s) <= B64U or len(s) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def no_dups(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError("duplicate key %s" % json.dumps(k))
        d[k] = v
    return d


def parse(text):
    return json.loads(text, object_pairs_hook=no_dups,
                      parse_constant=lambda c: (_ for _ in ()).throw(
                          ValueError("not JSON: " + c)))


def check_jcs_safe(v):
    """Refuses what json.dumps would not write as RFC 8785 does."""
    if isinstance(v, float):
        raise ValueError("a non-integer number (the reference does integers)")
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return
    if isinstance(v, int):
        if abs(v) > 2 ** 53:
            raise ValueError("an integer beyond 2^53")
        return
    if isinstance(v, list):
        for x in v:
            check_jcs_safe(x)
        return
    for k, x in v.items():
        if any(ord(c) > 0xFFFF for c in k):
            raise ValueError("a key outside the BMP")
        check_jcs_safe(x)


def canonical(obj):
    check_jcs_safe(obj)
    return json.dumps(obj, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def thumbprint(jwk):
    if jwk["kty"] == "oct":
        m = {"k": jwk["k"], "kty": "oct"}
    else:
        m = {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}
    return b64u(hashlib.sha256(canonical(m)).digest())


def load_jwks(path):
    with open(path, "rb") as f:
        doc = parse(f.read().decode())
    return doc["keys"] if "keys" in doc else [doc]


def load_keys(paths):
    """{kid: (alg, jwk)} of every key in the files."""
    ring = {}
    for p in paths:
        for jwk in load_jwks(p):
            kid = jwk.get("kid") or thumbprint(jwk)
            alg = "HS256" if jwk["kty"] == "oct" else "EdDSA"
            if kid in ring:
                raise ValueError("duplicate kid " + kid)
            ring[kid] = (alg, jwk)
    return ring


def lines():
    """(number, text without its line end, the line end) of stdin."""
    n = 0
    for raw in sys.stdin.buffer:
        n += 1
        end = b""
        if raw.endswith(b"\n"):
            raw, end = raw[:-1], b"\n"
            if raw.endswith(b"\r"):
                raw, end = raw[:-1], b"\r\n"
        yield n, raw, end


def reject(n, reason):
    sys.stderr.write("evsign_ref: line %d: %s\n" % (n, reason))


def cmd_sign(keys, kid, reserialize):
    ring = load_keys(keys)
    if kid is None:
        if len(ring) != 1:
            raise ValueError("several keys: --kid needed")
        kid = next(iter(ring))
    alg, jwk = ring[kid]
    if alg != "HS256":
        raise ValueError("the reference signs HS256 only")
    secret = unb64u(jwk["k"])
    out = sys.stdout.buffer
    rc = 0
    tail = ('"sigalg":"HS256","sigkid":%s,"sig":"' % json.dumps(kid)).encode()
    for n, raw, end in lines():
        if not raw.strip():
            continue
        try:
            text = raw.decode()
            obj = parse(text)
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
            if "sig" in obj or "sigalg" in obj or "sigkid" in obj:
                raise ValueError("already signed")
            obj["sigalg"], obj["sigkid"] = "HS256", kid
            mac = hmac.new(secret, canonical(obj), hashlib.sha256).digest()
        except (ValueError, UnicodeDecodeError) as e:
            reject(n, str(e))
            rc = 1
            continue
        if reserialize:
            obj["sig"] = b64u(mac)
            out.write(json.dumps(obj, ensure_ascii=False).encode() + end)
            continue
        body = raw.rstrip()[:-1]  # up to the closing brace
        sep = b"," if len(obj) > 2 else b""
        out.write(body + sep + tail + b64u(mac).encode() + b'"}' + end)
    return rc


def verify_one(ring, text):
    obj = parse(text)
    if not isinstance(obj, dict):
        return "malformed: not a JSON object"
    have = [k for k in ("sig", "sigalg", "sigkid") if k in obj]
    if not have:
        return "unsigned"
    if len(have) != 3 or not all(isinstance(obj[k], str) for k in have):
        return "malformed: sig, sigalg and sigkid must be strings"
    if obj["sigkid"] not in ring:
        return "unknown key %s" % json.dumps(obj["sigkid"])
    alg, jwk = ring[obj["sigkid"]]
    if obj["sigalg"] != alg:
        return "algorithm mismatch"
    if alg != "HS256":
        return "the reference verifies HS256 only"
    try:
        sig = unb64u(obj.pop("sig"))
    except ValueError:
        return "malformed: sig is not base64url"
    if len(sig) != 32:
        return "malformed: sig is not 32 bytes"
    mac = hmac.new(unb64u(jwk["k"]), canonical(obj), hashlib.sha256).digest()
    if not hmac.compare_digest(mac, sig):
        return "bad signature"
    return None


def cmd_verify(keys):
    ring = load_keys(keys)
    out = sys.stdout.buffer
    rc = 0
    for n, raw, end in lines():
        if not raw.strip():
            continue
        try:
            why = verify_one(ring, raw.decode())
        except (ValueError, UnicodeDecodeError) as e:
            why = "malformed: " + str(e)
        if why:
            reject(n, why)
            rc = 1
        else:
            out.write(raw + end)
    return rc


def cmd_canon(keys):
    ring = load_keys(keys) if keys else {}
    out = sys.stdout.buffer
    for n, raw, end in lines():
        if not raw.strip():
            continue
        obj = parse(raw.decode())
        obj.pop("sig", None)
        if ring and "sigalg" not in obj and "sigkid" not in obj:
            kid, (alg, _) = next(iter(ring.items()))
            obj["sigalg"], obj["sigkid"] = alg, kid
        out.write(canonical(obj) + b"\n")
    return 0


def cmd_pem(path, which):
    jwk = load_jwks(path)[0]
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 key")
    if which == "priv":
        der = bytes.fromhex("302e020100300506032b657004220420") + unb64u(jwk["d"])
        label = "PRIVATE KEY"
    else:
        der = bytes.fromhex("302a300506032b6570032100") + unb64u(jwk["x"])
        label = "PUBLIC KEY"
    print("-----BEGIN %s-----\n%s\n-----END %s-----" %
          (label, base64.b64encode(der).decode(), label))
    return 0


def main(argv):
    if not argv:
        raise SystemExit(__doc__)
    cmd, args = argv[0], argv[1:]
    keys, kid, reserialize, rest = [], None, False, []
    i = 0
    while i < len(args):
        if args[i] in ("-k", "--key"):
            keys.append(args[i + 1])
            i += 1
        elif args[i] == "--kid":
            kid = args[i + 1]
            i += 1
        elif args[i] == "--reserialize":
            reserialize = True
        else:
            rest.append(args[i])
        i += 1
    if cmd == "sign":
        return cmd_sign(keys, kid, reserialize)
    if cmd == "verify":
        return cmd_verify(keys)
    if cmd == "canon":
        return cmd_canon(keys)
    if cmd == "thumbprint":
        print(thumbprint(load_jwks(rest[0])[0]))
        return 0
    if cmd == "pem":
        return cmd_pem(rest[0], rest[1])
    if cmd == "b64u":
        print(b64u(sys.stdin.buffer.read()))
        return 0
    if cmd == "unb64u":
        sys.stdout.buffer.write(unb64u(sys.stdin.read().strip()))
        return 0
    raise SystemExit("evsign_ref: unknown command " + cmd)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (ValueError, KeyError, OSError, IndexError) as e:
        sys.stderr.write("evsign_ref: %s\n" % e)
        sys.exit(2)
