#!/usr/bin/env bats
# evsign against implementations we did not write, both directions:
#   python3's standard library (hmac, hashlib, json with sorted keys) for
#     HS256 and the canonical form of integer-and-string events,
#   openssl (pkeyutl -rawin) for Ed25519 over the canonical bytes,
#   Debian's jose for HS256 keys and RFC 7638 thumbprints.
# A missing tool fails the test with a message: these are the proof that
# the scheme is what evkit-event(5) says.

bats_require_minimum_version 1.5.0

setup() {
	for c in python3 openssl jose jq; do
		command -v "$c" > /dev/null || {
			echo "evsign interop tests need $c (apt-get install -y python3 openssl jose jq)" >&2
			return 1
		}
	done
	REF="python3 $BATS_TEST_DIRNAME/evsign_ref.py"
	T=$(mktemp -d)
	# Events whose numbers are integers and whose keys are in the BMP: the
	# ones json.dumps(sort_keys=True) writes as RFC 8785 does.
	cat > "$T/ev" <<'EOF'
{"specversion":"1.0","id":"1","source":"//shop/web","type":"order.created","time":"2026-11-29T10:00:00Z","data":{"sku":"A1","qty":2}}
{"type":"t","data":{"z":1,"a":[1,-2,{"y":null,"x":true}],"é":"café","€":"\u20ac","s":"tab\there \"q\" \\ /\u001f\u007f"}}
{ "b" : -9007199254740992 , "a" : 9007199254740992, "c": [ ], "d": { } }
{"emoji":"😀","Z":0,"a":false,"A":"\u00e9"}
{}
EOF
	evsign keygen -o "$T/hs"
	evsign keygen --ed25519 --kid ed-1 -o "$T/ed"
}

teardown() {
	rm -rf "$T"
}

# Hex to bytes and back, on stdin (python, so that xxd is not needed).
unhex() {
	python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.stdin.read()))'
}
hex() {
	python3 -c 'import sys; print(sys.stdin.buffer.read().hex())'
}

# pem JWK DIR: DIR/priv.pem and DIR/pub.pem from the Ed25519 JWK, by
# hand: PKCS#8 and SubjectPublicKeyInfo DER prefixes + the raw 32 bytes.
pem() {
	local d=$2
	mkdir -p "$d"
	{
		echo "-----BEGIN PRIVATE KEY-----"
		{ printf '302e020100300506032b657004220420' | unhex
		  jq -j .d "$1" | $REF unb64u; } | base64 -w0
		echo
		echo "-----END PRIVATE KEY-----"
	} > "$d/priv.pem"
	{
		echo "-----BEGIN PUBLIC KEY-----"
		{ printf '302a300506032b6570032100' | unhex
		  jq -j .x "$1" | $REF unb64u; } | base64 -w0
		echo
		echo "-----END PUBLIC KEY-----"
	} > "$d/pub.pem"
}

@test "python3 stdlib verifies evsign's HS256 signatures, and rejects them tampered" {
	for k in hs; do
		run --separate-stderr evsign sign -k "$T/$k" "$T/ev"
		[ "$status" -eq 0 ]
		printf '%s\n' "$output" > "$T/s"
		run --separate-stderr $REF verify -k "$T/$k" < "$T/s"
		echo "$stderr"
		[ "$status" -eq 0 ]
		[ -z "$stderr" ]
		printf '%s\n' "$output" | cmp - "$T/s"
	done
	# A hand-made key with an id, in a set with another.
	printf '{"keys":[{"kty":"oct","kid":"a","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"},%s]}\n' \
	    "$(cat "$T/hs")" > "$T/set"
	chmod 600 "$T/set"
	evsign sign -k "$T/set" --kid a "$T/ev" > "$T/s"
	$REF verify -k "$T/set" < "$T/s" > "$T/out"
	cmp "$T/out" "$T/s"
	# python rejects what was changed.
	sed 's/"qty":2/"qty":3/; s/"z":1/"z":2/; s/"b" : -/"b" : /; s/"Z":0/"Z":1/; s/^{"sigalg"/{"x":1,"sigalg"/' "$T/s" > "$T/t"
	run --separate-stderr $REF verify -k "$T/set" < "$T/t"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(grep -c 'bad signature' <<< "$stderr")" -eq 5 ]
}

@test "evsign verifies HS256 events signed by python3 stdlib, appended or re-serialized" {
	# Appended the way evsign does it: the same bytes as evsign's.
	$REF sign -k "$T/hs" < "$T/ev" > "$T/py"
	run --separate-stderr evsign verify -k "$T/hs" "$T/py"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	printf '%s\n' "$output" | cmp - "$T/py"
	cmp "$T/py" <(evsign sign -k "$T/hs" "$T/ev")
	# Written by json.dumps, python's spacing and key order, \u escapes.
	$REF sign -k "$T/hs" --reserialize < "$T/ev" > "$T/py2"
	grep -q '": ' "$T/py2"
	run --separate-stderr evsign verify -k "$T/hs" "$T/py2"
	echo "$stderr"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" | cmp - "$T/py2"
	# And stripped, back to the events python was given (by value).
	diff <(evsign verify -k "$T/hs" --strip "$T/py2" | jq -cS .) <(jq -cS . "$T/ev")
	# A python signature under another key, or changed: refused.
	evsign keygen -o "$T/other"
	jq -c --arg k "$(jq -r .kid "$T/hs")" '.kid = $k' "$T/other" > "$T/samekid"
	chmod 600 "$T/samekid"
	run --separate-stderr evsign verify -k "$T/samekid" "$T/py"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(grep -c ': bad signature$' <<< "$stderr")" -eq 5 ]
}

@test "python3's canonical bytes equal evsign canon, with and without -k" {
	run --separate-stderr evsign canon "$T/ev"
	[ "$status" -eq 0 ]
	[ "$output" = "$($REF canon < "$T/ev")" ]
	run --separate-stderr evsign canon -k "$T/hs" "$T/ev"
	[ "$status" -eq 0 ]
	[ "$output" = "$($REF canon -k "$T/hs" < "$T/ev")" ]
	evsign sign -k "$T/hs" "$T/ev" > "$T/s"
	[ "$(evsign canon < "$T/s")" = "$($REF canon < "$T/s")" ]
	# What python signs over is what evsign canon shows: the HMAC of the
	# canon bytes (without their newline) is the sig.
	secret=$(jq -j .k "$T/hs" | $REF unb64u | hex)
	n=0
	while IFS= read -r c; do
		n=$((n + 1))
		mac=$(printf '%s' "$c" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$secret" -binary | $REF b64u)
		[ "$mac" = "$(sed -n "${n}p" "$T/s" | jq -r .sig)" ]
	done < <(evsign canon < "$T/s")
	[ "$n" -eq 5 ]
}

@test "Ed25519: evsign's JWK as PEM; openssl derives the same public key" {
	pem "$T/ed" "$T/p"
	openssl pkey -in "$T/p/priv.pem" -pubout -out "$T/derived.pem"
	cmp "$T/derived.pem" "$T/p/pub.pem"
	# And the other way: a key made by openssl, as a JWK, loads in evsign
	# with the thumbprint as its id.
	openssl genpkey -algorithm ed25519 -out "$T/o.pem"
	d=$(openssl pkey -in "$T/o.pem" -outform DER | tail -c 32 | $REF b64u)
	x=$(openssl pkey -in "$T/o.pem" -pubout -outform DER | tail -c 32 | $REF b64u)
	printf '{"kty":"OKP","crv":"Ed25519","x":"%s","d":"%s"}\n' "$x" "$d" > "$T/o.jwk"
	chmod 600 "$T/o.jwk"
	run --separate-stderr evsign pubkey "$T/o.jwk"
	[ "$status" -eq 0 ]
	[ "$(jq -r .x <<< "$output")" = "$x" ]
	[ "$(jq -r .kid <<< "$output")" = "$($REF thumbprint "$T/o.jwk")" ]
	evsign sign -k "$T/o.jwk" "$T/ev" > "$T/s"
	[ "$(jq -r .sigkid "$T/s" | sort -u)" = "$($REF thumbprint "$T/o.jwk")" ]
	while IFS= read -r line; do
		printf '%s' "$(evsign canon <<< "$line")" > "$T/msg"
		jq -j .sig <<< "$line" | $REF unb64u > "$T/sig"
		openssl pkeyutl -verify -rawin -pubin -inkey <(openssl pkey -in "$T/o.pem" -pubout) \
		    -in "$T/msg" -sigfile "$T/sig"
	done < "$T/s"
}

@test "Ed25519: openssl pkeyutl -sign over evsign canon -k; evsign verifies; same bytes as evsign's" {
	pem "$T/ed" "$T/p"
	: > "$T/signed"
	while IFS= read -r c; do
		printf '%s' "$c" > "$T/msg"   # the canon line without its newline
		openssl pkeyutl -sign -rawin -inkey "$T/p/priv.pem" -in "$T/msg" -out "$T/sig"
		[ "$(wc -c < "$T/sig")" -eq 64 ]
		sig=$($REF b64u < "$T/sig")
		# The canonical object with "sig" added before its final brace.
		printf '%s,"sig":"%s"}\n' "${c%\}}" "$sig" >> "$T/signed"
	done < <(evsign canon -k "$T/ed" "$T/ev")
	[ "$(wc -l < "$T/signed")" -eq 5 ]
	run --separate-stderr evsign verify -k "$T/ed.pub" "$T/signed"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	printf '%s\n' "$output" | cmp - "$T/signed"
	# Ed25519 is deterministic: openssl's signatures are evsign's.
	diff <(jq -r .sig "$T/signed") <(evsign sign -k "$T/ed" "$T/ev" | jq -r .sig)
	# A signature by another key under the same kid: bad signature.
	openssl genpkey -algorithm ed25519 -out "$T/other.pem"
	c=$(evsign canon -k "$T/ed" "$T/ev" | head -1)
	printf '%s' "$c" > "$T/msg"
	openssl pkeyutl -sign -rawin -inkey "$T/other.pem" -in "$T/msg" -out "$T/sig"
	printf '%s,"sig":"%s"}\n' "${c%\}}" "$($REF b64u < "$T/sig")" > "$T/forged"
	run --separate-stderr evsign verify -k "$T/ed.pub" "$T/forged"
	[ "$status" -eq 1 ]
	[ "$stderr" = "evsign: $T/forged:1: bad signature" ]
}

@test "Ed25519: openssl pkeyutl -verify accepts evsign's signatures over evsign canon" {
	pem "$T/ed" "$T/p"
	evsign sign -k "$T/ed" "$T/ev" > "$T/s"
	n=0
	while IFS= read -r line; do
		n=$((n + 1))
		printf '%s' "$(evsign canon <<< "$line")" > "$T/msg"
		jq -j .sig <<< "$line" | $REF unb64u > "$T/sig"
		[ "$(wc -c < "$T/sig")" -eq 64 ]
		run --separate-stderr openssl pkeyutl -verify -rawin -pubin -inkey "$T/p/pub.pem" \
		    -in "$T/msg" -sigfile "$T/sig"
		echo "# $n: $output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"Signature Verified Successfully"* ]]
		# The same bytes with the newline of canon's output do not verify:
		# it is not part of what was signed.
		printf '\n' >> "$T/msg"
		run --separate-stderr openssl pkeyutl -verify -rawin -pubin -inkey "$T/p/pub.pem" \
		    -in "$T/msg" -sigfile "$T/sig"
		[ "$status" -ne 0 ]
	done < "$T/s"
	[ "$n" -eq 5 ]
}

@test "Ed25519: the RFC 8032 test key (TEST 1) loads, signs, and openssl verifies" {
	d=$(printf '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60' | unhex | $REF b64u)
	x=$(printf 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a' | unhex | $REF b64u)
	printf '{"kty":"OKP","crv":"Ed25519","kid":"rfc8032","x":"%s","d":"%s"}\n' "$x" "$d" > "$T/r.jwk"
	chmod 600 "$T/r.jwk"
	[ "$(evsign pubkey "$T/r.jwk" | jq -r .x)" = "$x" ]
	pem "$T/r.jwk" "$T/p"
	openssl pkey -in "$T/p/priv.pem" -pubout | cmp - "$T/p/pub.pem"
	evsign sign -k "$T/r.jwk" "$T/ev" > "$T/s"
	while IFS= read -r line; do
		printf '%s' "$(evsign canon <<< "$line")" > "$T/msg"
		jq -j .sig <<< "$line" | $REF unb64u > "$T/sig"
		openssl pkeyutl -verify -rawin -pubin -inkey "$T/p/pub.pem" -in "$T/msg" -sigfile "$T/sig"
	done < "$T/s"
	# A wrong "x" for that "d" is refused.
	x2=$(printf 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511b' | unhex | $REF b64u)
	printf '{"kty":"OKP","crv":"Ed25519","x":"%s","d":"%s"}\n' "$x2" "$d" > "$T/w.jwk"
	chmod 600 "$T/w.jwk"
	run --separate-stderr evsign sign -k "$T/w.jwk" "$T/ev"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
}

@test "jose: a key from jose jwk gen signs and verifies; its id is jose's S256 thumbprint" {
	jose jwk gen -i '{"alg":"HS256"}' -o "$T/j.jwk"
	chmod 600 "$T/j.jwk"
	thp=$(jose jwk thp -a S256 -i "$T/j.jwk")
	[ ${#thp} -eq 43 ]
	run --separate-stderr evsign sign -k "$T/j.jwk" "$T/ev"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	printf '%s\n' "$output" > "$T/s"
	[ "$(jq -r .sigkid "$T/s" | sort -u)" = "$thp" ]
	run --separate-stderr evsign verify -k "$T/j.jwk" "$T/s"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" | cmp - "$T/s"
	# python agrees on the id and the MACs.
	$REF verify -k "$T/j.jwk" < "$T/s" > /dev/null
	# evsign's own keys have jose's thumbprint as their default id.
	[ "$(jq -r .kid "$T/hs")" = "$(jose jwk thp -a S256 -i "$T/hs")" ]
	# jose reads evsign's keys: the secret is what jose sees.
	[ "$(jose jwk thp -a S256 -i "$T/hs")" = "$($REF thumbprint "$T/hs")" ]
	# A jose key with a kid of its own, in a ring with evsign's key.
	jose jwk gen -i '{"alg":"HS256","kid":"jose-1"}' -o "$T/j2.jwk"
	chmod 600 "$T/j2.jwk"
	evsign sign -k "$T/j2.jwk" "$T/ev" > "$T/s2"
	[ "$(jq -r .sigkid "$T/s2" | sort -u)" = jose-1 ]
	cat "$T/s" "$T/s2" > "$T/both"
	run --separate-stderr evsign verify -k "$T/j.jwk" -k "$T/j2.jwk" -k "$T/hs" "$T/both"
	[ "$status" -eq 0 ]
	[ "$(wc -l <<< "$output")" -eq 10 ]
	# jose's file at its default mode is refused when group or others can read it.
	chmod 644 "$T/j.jwk"
	run --separate-stderr evsign sign -k "$T/j.jwk" "$T/ev"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"permissions 0644 are too open"* ]]
}

@test "jose: a key set made with jose jwk gen -s works as a ring" {
	jose jwk gen -i '{"alg":"HS256","kid":"a"}' -i '{"alg":"HS256","kid":"b"}' -s -o "$T/set"
	chmod 600 "$T/set"
	[ "$(jq -r '[.keys[].kid] | join(",")' "$T/set")" = a,b ]
	evsign sign -k "$T/set" --kid b "$T/ev" > "$T/s"
	run --separate-stderr evsign verify -k "$T/set" "$T/s"
	[ "$status" -eq 0 ]
	[ "$(jq -r .sigkid <<< "$output" | sort -u)" = b ]
	$REF verify -k "$T/set" < "$T/s" > /dev/null
}
