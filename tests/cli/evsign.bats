#!/usr/bin/env bats
# evsign: every subcommand and option of the contract, every kind of bad
# input and bad key, the tampering that must be caught (each with its
# reason), key rotation, the replay window, and the output's edge cases.
# The interop with implementations we did not write is in
# evsign_interop.bats.

bats_require_minimum_version 1.5.0

# Two HS256 keys written by hand (secrets 00..1f and 20..3f) so that the
# tests do not depend on keygen; Ed25519 keys come from keygen.
K1='{"kty":"oct","alg":"HS256","kid":"k1","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}'
K2='{"kty":"oct","alg":"HS256","kid":"k2","k":"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8"}'

setup() {
	for c in jq python3; do
		command -v "$c" > /dev/null || {
			echo "evsign tests need $c (apt-get install -y $c)" >&2
			return 1
		}
	done
	REF="python3 $BATS_TEST_DIRNAME/evsign_ref.py"
	T=$(mktemp -d)
	printf '%s\n' "$K1" > "$T/k1"
	printf '%s\n' "$K2" > "$T/k2"
	chmod 600 "$T/k1" "$T/k2"
	cat > "$T/ev" <<'EOF'
{"specversion":"1.0","id":"1","source":"//shop/web","type":"order.created","time":"2026-11-29T10:00:00Z","data":{"sku":"A1","qty":2}}
{"specversion":"1.0","id":"2","source":"//shop/web","type":"order.paid","data":{"amount":59.90,"note":"caf\u00e9 \"ok\""}}
{"id":"3","type":"user.login","data":{"user":"ada","tags":["a","é",null,true,-0.0,1e2]}}
EOF
	unset EVSIGN_KEY_FILE
}

teardown() {
	rm -rf "$T"
}

# unsign < signed: the lines without what sign appended (the exact
# original bytes, CRLF kept), by text alone.
unsign() {
	sed -E 's/,?"sigalg":"(HS256|EdDSA)","sigkid":"[^"]*","sig":"[A-Za-z0-9_-]+"\}(\r?)$/}\2/'
}

# ed25519 NAME [KID]: an Ed25519 key pair $T/NAME, $T/NAME.pub by keygen.
ed25519() {
	evsign keygen --ed25519 ${2:+--kid "$2"} -o "$T/$1"
}

mode() {
	stat -c %a "$1"
}

@test "--help, COMMAND --help and --version" {
	run --separate-stderr evsign --help
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	help=$output
	[[ "$help" == "usage: evsign sign [-k KEY] [--kid ID] [options] [FILE ...]"* ]]
	for c in "evsign verify " "evsign canon " "evsign keygen " "evsign pubkey FILE" \
	    --max-age --skew --dedupe --dedupe-max --strip --reject --max-line \
	    --max-depth --line-buffered --ed25519 EVSIGN_KEY_FILE; do
		echo "# $c"
		[[ "$help" == *"$c"* ]]
	done
	# The usage lines, a blank line, then the options.
	[ "$(sed -n 6p <<< "$help")" = "" ]
	for c in sign verify canon keygen pubkey; do
		run --separate-stderr evsign "$c" --help
		echo "# $c --help: $status"
		[ "$status" -eq 0 ]
		[ "$output" = "$help" ]
	done
	run --separate-stderr evsign --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^evsign\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	run --separate-stderr evsign -V
	[[ "$output" =~ ^evsign\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "usage errors: no command, unknown command or option, bad values: exit 2, nothing read" {
	for args in "" "frobnicate" "sign --bogus" "verify --bogus" "canon --bogus" \
	    "keygen --bogus -o $T/x" "pubkey" "pubkey --bogus $T/k1" \
	    "sign -k" "sign --max-line 0" "sign --max-line 5x" "sign --max-depth 0" \
	    "verify --max-age 5x" "verify --max-age 5min" "verify --max-age 1h --skew x" \
	    "verify --max-age 1h --dedupe --dedupe-max 0" "verify --dedupe" \
	    "verify --skew 1m" "keygen" "keygen --kid a" \
	    "sign --ed25519" "verify --kid k1"; do
		run --separate-stderr evsign $args -k "$T/k1" < "$T/ev"
		echo "# evsign $args -k ...: $status: $stderr"
		[ "$status" -eq 2 ]
		[ -z "$output" ]
		[ -n "$stderr" ]
	done
	[ ! -e "$T/x" ]
	# The messages name the problem.
	run --separate-stderr evsign frobnicate < /dev/null
	[[ "$stderr" == *frobnicate* ]]
	run --separate-stderr evsign sign -k "$T/k1" --max-line 0 < /dev/null
	[[ "$stderr" == "evsign: --max-line 0: too small"* ]]
	run --separate-stderr evsign verify -k "$T/k1" --dedupe < /dev/null
	[[ "$stderr" == *--max-age* ]]
	run --separate-stderr evsign keygen < /dev/null
	[[ "$stderr" == *-o* ]]
}

# One message grammar: the program's name first, also for what getopt finds.
@test "an unknown option or a missing option value is reported as evsign: ..." {
	for args in "sign --bogus" "verify --bogus" "canon --bogus" "keygen --bogus" \
	    "pubkey --bogus" "sign -x" "verify --kid k1" "keygen --ed25519 -o" "sign -k"; do
		run --separate-stderr evsign $args < /dev/null
		echo "# evsign $args: $status: $stderr"
		[ "$status" -eq 2 ]
		[[ "$stderr" == "evsign: "* ]]
		[[ "$stderr" == *"Try 'evsign --help' for more information." ]]
	done
	run --separate-stderr "$(command -v evsign)" sign --bogus < /dev/null
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evsign: unrecognized option '--bogus'"* ]]
}

@test "keygen: HS256, mode 0600 even with umask 0, kid = RFC 7638 thumbprint, silent" {
	run --separate-stderr bash -c 'umask 0; evsign keygen -o "$1"' _ "$T/h"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ "$(mode "$T/h")" = 600 ]
	[ ! -e "$T/h.pub" ]
	[ "$(wc -l < "$T/h")" -le 1 ]
	[ "$(jq -r '[.kty, .alg] | join(" ")' "$T/h")" = "oct HS256" ]
	jq -re '.k | test("^[A-Za-z0-9_-]{43}$")' "$T/h"
	[ "$(jq -r .kid "$T/h")" = "$($REF thumbprint "$T/h")" ]
	# Two keys differ.
	evsign keygen --output "$T/h2"
	[ "$(jq -r .k "$T/h")" != "$(jq -r .k "$T/h2")" ]
	# --kid sets the id.
	evsign keygen --kid 'prod-2026 ü' -o "$T/h3"
	[ "$(jq -r .kid "$T/h3")" = 'prod-2026 ü' ]
}

@test "keygen --ed25519: FILE 0600 with d, FILE.pub 0644 without, same kid" {
	run --separate-stderr bash -c 'umask 022; evsign keygen --ed25519 -o "$1"' _ "$T/e"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ "$(mode "$T/e")" = 600 ]
	[ "$(mode "$T/e.pub")" = 644 ]
	[ "$(jq -r '[.kty, .crv, .alg] | join(" ")' "$T/e")" = "OKP Ed25519 EdDSA" ]
	jq -re '(.x | test("^[A-Za-z0-9_-]{43}$")) and (.d | test("^[A-Za-z0-9_-]{43}$"))' "$T/e"
	jq -re 'has("d") | not' "$T/e.pub"
	[ "$(jq -c 'del(.d)' "$T/e")" = "$(jq -c . "$T/e.pub")" ]
	[ "$(jq -r .kid "$T/e")" = "$($REF thumbprint "$T/e")" ]
	evsign keygen --ed25519 --kid ed-1 -o "$T/f"
	[ "$(jq -r .kid "$T/f")" = ed-1 ]
	[ "$(jq -r .kid "$T/f.pub")" = ed-1 ]
}

@test "keygen never overwrites: an existing FILE (or FILE.pub) is an error, exit 2" {
	echo keep > "$T/h"
	run --separate-stderr evsign keygen -o "$T/h"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evsign: "*"$T/h"* ]]
	[ "$(cat "$T/h")" = keep ]
	run --separate-stderr evsign keygen --ed25519 -o "$T/h"
	[ "$status" -eq 2 ]
	[ "$(cat "$T/h")" = keep ]
	[ ! -e "$T/h.pub" ]
	# A symlink is not followed either.
	ln -s "$T/target" "$T/link"
	run --separate-stderr evsign keygen -o "$T/link"
	[ "$status" -eq 2 ]
	[ ! -e "$T/target" ]
	# An existing FILE.pub is not replaced.
	echo keep > "$T/e.pub"
	run --separate-stderr evsign keygen --ed25519 -o "$T/e"
	echo "# $status $stderr"
	[ "$(cat "$T/e.pub")" = keep ]
	[ "$status" -eq 2 ]
	# A directory that does not exist.
	run --separate-stderr evsign keygen -o "$T/no/such/key"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evsign: "*"$T/no/such/key"* ]]
}

@test "pubkey: Ed25519 public JWK without d on one line; a set; HS256 refused" {
	ed25519 e e1
	run --separate-stderr evsign pubkey "$T/e"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(wc -l <<< "$output")" -eq 1 ]
	[ "$(jq -cS . <<< "$output")" = "$(jq -cS . "$T/e.pub")" ]
	jq -e 'has("d") | not' <<< "$output"
	# Of a public key: itself.
	run --separate-stderr evsign pubkey "$T/e.pub"
	[ "$status" -eq 0 ]
	[ "$(jq -cS . <<< "$output")" = "$(jq -cS . "$T/e.pub")" ]
	# A set: {"keys":[...]} of the public keys.
	ed25519 f f1
	jq -sc '{keys: .}' "$T/e" "$T/f" > "$T/set"
	chmod 600 "$T/set"
	run --separate-stderr evsign pubkey "$T/set"
	[ "$status" -eq 0 ]
	[ "$(wc -l <<< "$output")" -eq 1 ]
	[ "$(jq -c '[.keys[].kid]' <<< "$output")" = '["e1","f1"]' ]
	jq -e '[.keys[] | has("d")] == [false, false]' <<< "$output"
	[ "$(jq -cS '.keys[1]' <<< "$output")" = "$(jq -cS . "$T/f.pub")" ]
	# HS256 has no public half.
	run --separate-stderr evsign pubkey "$T/k1"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[[ "$stderr" == evsign:*public* ]]
	run --separate-stderr evsign pubkey "$T/missing"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evsign: $T/missing"* ]]
}

@test "sign: the input bytes plus sigalg, sigkid, sig; one line per event" {
	run --separate-stderr evsign sign -k "$T/k1" "$T/ev"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	printf '%s\n' "$output" > "$T/s"
	[ "$(wc -l < "$T/s")" -eq 3 ]
	# By text: strip what was appended, the original bytes are back.
	unsign < "$T/s" | cmp - "$T/ev"
	[ "$(grep -c ',"sigalg":"HS256","sigkid":"k1","sig":"[A-Za-z0-9_-]\{43\}"}$' "$T/s")" -eq 3 ]
	# By jq: the same object with three more string members.
	[ "$(jq -r '[.sigalg, .sigkid, (.sig | length)] | @tsv' "$T/s" | sort -u)" = $'HS256\tk1\t43' ]
	diff <(jq -c 'del(.sig, .sigalg, .sigkid)' "$T/s") <(jq -c . "$T/ev")
	# Deterministic (HMAC), and different keys give different MACs.
	[ "$(evsign sign -k "$T/k1" "$T/ev")" = "$output" ]
	[ "$(evsign sign -k "$T/k2" "$T/ev" | jq -r .sig | head -1)" != "$(jq -r .sig "$T/s" | head -1)" ]
	# Ed25519: EdDSA, 86 characters.
	ed25519 e e1
	evsign sign -k "$T/e" "$T/ev" > "$T/se"
	[ "$(jq -r '[.sigalg, .sigkid, (.sig | length)] | @tsv' "$T/se" | sort -u)" = $'EdDSA\te1\t86' ]
	unsign < "$T/se" | cmp - "$T/ev"
	# The default kid is the thumbprint.
	evsign keygen -o "$T/h"
	[ "$(evsign sign -k "$T/h" "$T/ev" | jq -r .sigkid | sort -u)" = "$(jq -r .kid "$T/h")" ]
}

@test "sign: CRLF kept, spacing kept, blank lines skipped, {} and { } signed, escapes untouched" {
	{
		printf '{"a":1}\r\n'
		printf '\n'
		printf '   \t\n'
		printf '{ "b" : "\\u00e9\\/" }  \t\n'
		printf '{}\n'
		printf '{ }\r\n'
		printf '\t{"c":[1,{"d":null}]}\n'
		printf '{"last":true}'
	} > "$T/in"
	run --separate-stderr evsign sign -k "$T/k1" "$T/in"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	printf '%s\n' "$output" > "$T/s"
	[ "$(wc -l < "$T/s")" -eq 6 ]
	# The CRLF lines keep their carriage return, before the newline.
	[ "$(sed -n 1p "$T/s" | tail -c 3 | od -An -c | tr -d ' ')" = '}\r\n' ]
	[ "$(sed -n 4p "$T/s" | tail -c 3 | od -An -c | tr -d ' ')" = '}\r\n' ]
	[ "$(grep -c $'\r' "$T/s")" -eq 2 ]
	# The bytes before the closing brace are kept; whitespace after it goes.
	[[ "$(sed -n 2p "$T/s")" == '{ "b" : "\u00e9\/" ,"sigalg":"HS256","sigkid":"k1","sig":"'*'"}' ]]
	[[ "$(sed -n 3p "$T/s")" == '{"sigalg":"HS256","sigkid":"k1","sig":"'*'"}' ]]
	[[ "$(sed -n 4p "$T/s")" == '{ "sigalg":"HS256","sigkid":"k1","sig":"'*'"}'$'\r' ]]
	# White space before the object stays.
	[[ "$(sed -n 5p "$T/s")" == $'\t''{"c":[1,{"d":null}],"sigalg":"HS256",'* ]]
	# The last line had no newline: it gets one.
	[[ "$(sed -n 6p "$T/s")" == '{"last":true,"sigalg":"HS256","sigkid":"k1","sig":"'*'"}' ]]
	# All of them verify, bytes unchanged.
	run --separate-stderr evsign verify -k "$T/k1" "$T/s"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	printf '%s\n' "$output" | cmp - "$T/s"
}

@test "sign: FILE operands, - and stdin, names in messages, a missing file is 2 and the others are signed" {
	printf '{"n":1}\n' > "$T/a"
	printf '{x\n{"n":2}\n' > "$T/b"
	run --separate-stderr evsign sign -k "$T/k1" "$T/a" "$T/missing" "$T/b"
	[ "$status" -eq 2 ]
	[ "$(jq -c '.n' <<< "$output" | paste -sd, -)" = 1,2 ]
	[ "$(sed -n 1p <<< "$stderr")" = "evsign: $T/missing: No such file or directory" ]
	[ "$(sed -n 2p <<< "$stderr")" = "evsign: $T/b:1: malformed: invalid JSON: unexpected 'x' at column 2" ]
	# Standard input, alone or as "-" among files.
	run --separate-stderr evsign sign -k "$T/k1" < "$T/b"
	[ "$status" -eq 1 ]
	[ "$(jq -c '.n' <<< "$output")" = 2 ]
	[ "$stderr" = "evsign: line 1: malformed: invalid JSON: unexpected 'x' at column 2" ]
	run --separate-stderr evsign sign -k "$T/k1" "$T/a" - < "$T/b"
	[ "$status" -eq 1 ]
	[ "$(jq -c '.n' <<< "$output" | paste -sd, -)" = 1,2 ]
	# verify and canon alike.
	evsign sign -k "$T/k1" "$T/a" > "$T/as"
	for cmd in verify canon; do
		run --separate-stderr evsign "$cmd" -k "$T/k1" "$T/missing" "$T/as"
		[ "$status" -eq 2 ]
		[ "$(jq -c '.n' <<< "$output")" = 1 ]
		[ "$stderr" = "evsign: $T/missing: No such file or directory" ]
	done
	# A directory.
	run --separate-stderr evsign sign -k "$T/k1" "$T" "$T/a"
	[ "$status" -eq 2 ]
	[ "$(jq -c '.n' <<< "$output")" = 1 ]
	[[ "$stderr" == "evsign: $T"*"Is a directory" ]]
}

@test "sign: the key from EVSIGN_KEY_FILE; -k wins; neither is a usage error" {
	run --separate-stderr env EVSIGN_KEY_FILE="$T/k2" evsign sign "$T/ev"
	[ "$status" -eq 0 ]
	[ "$(jq -r .sigkid <<< "$output" | sort -u)" = k2 ]
	run --separate-stderr env EVSIGN_KEY_FILE="$T/k2" evsign sign -k "$T/k1" "$T/ev"
	[ "$status" -eq 0 ]
	[ "$(jq -r .sigkid <<< "$output" | sort -u)" = k1 ]
	# verify reads it too.
	evsign sign -k "$T/k2" "$T/ev" > "$T/s"
	run --separate-stderr env EVSIGN_KEY_FILE="$T/k2" evsign verify "$T/s"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$T/s")" ]
	# Neither: exit 2 before reading.
	run --separate-stderr evsign sign "$T/ev"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[[ "$stderr" == evsign:* ]]
	run --separate-stderr evsign verify "$T/s"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	# A missing EVSIGN_KEY_FILE.
	run --separate-stderr env EVSIGN_KEY_FILE="$T/nokey" evsign sign "$T/ev"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[[ "$stderr" == "evsign: $T/nokey"* ]]
	# A key is never taken from the command line: a JWK as -k is a file name.
	run --separate-stderr evsign sign -k "$K1" "$T/ev"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
}

@test "sign: --kid picks the key in a set; several signing keys need it" {
	ed25519 e e1
	jq -sc '{keys: .}' "$T/k1" "$T/k2" "$T/e" > "$T/set"
	chmod 600 "$T/set"
	run --separate-stderr evsign sign -k "$T/set" "$T/ev"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[[ "$stderr" == *--kid* ]]
	for kid in k1 k2 e1; do
		run --separate-stderr evsign sign -k "$T/set" --kid "$kid" "$T/ev"
		[ "$status" -eq 0 ]
		[ "$(jq -r .sigkid <<< "$output" | sort -u)" = "$kid" ]
	done
	[ "$(evsign sign -k "$T/set" --kid e1 "$T/ev" | jq -r .sigalg | sort -u)" = EdDSA ]
	run --separate-stderr evsign sign -k "$T/set" --kid nope "$T/ev"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[[ "$stderr" == *nope* ]]
	# One private key among public ones: no --kid needed.
	ed25519 f f1
	jq -sc '{keys: .}' "$T/k1" "$T/e.pub" "$T/f.pub" > "$T/set2"
	chmod 600 "$T/set2"
	[ "$(evsign sign -k "$T/set2" "$T/ev" | jq -r .sigkid | sort -u)" = k1 ]
	# A public key cannot sign, by --kid or alone.
	run --separate-stderr evsign sign -k "$T/set2" --kid e1 "$T/ev"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	run --separate-stderr evsign sign -k "$T/e.pub" "$T/ev"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	# key_ops without "sign": the key cannot sign.
	jq -c '. + {key_ops: ["verify"]}' "$T/k1" > "$T/vo"
	chmod 600 "$T/vo"
	run --separate-stderr evsign sign -k "$T/vo" "$T/ev"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
}

@test "sign: an event already signed (or with any of sig, sigalg, sigkid) is refused" {
	evsign sign -k "$T/k1" "$T/ev" > "$T/s"
	{
		printf '{"n":1}\n'
		sed -n 1p "$T/s"
		printf '{"n":2,"sig":"x"}\n'
		printf '{"n":3,"sigalg":"HS256"}\n'
		printf '{"sigkid":"k1","n":4}\n'
		printf '{"n":5}\n'
	} > "$T/in"
	run --separate-stderr evsign sign -k "$T/k2" --reject "$T/rej" < "$T/in"
	[ "$status" -eq 1 ]
	[ "$(jq -c .n <<< "$output" | paste -sd, -)" = 1,5 ]
	[ "$(wc -l <<< "$stderr")" -eq 4 ]
	for n in 2 3 4 5; do
		[[ "$(sed -n $((n - 1))p <<< "$stderr")" == "evsign: line $n: already signed"* ]]
	done
	sed -n 2,5p "$T/in" | cmp - "$T/rej"
	# verify --strip, then sign again with another key.
	evsign verify -k "$T/k1" --strip "$T/s" | evsign sign -k "$T/k2" > "$T/s2"
	[ "$(jq -r .sigkid "$T/s2" | sort -u)" = k2 ]
	evsign verify -k "$T/k2" "$T/s2" > /dev/null
}

@test "verify: a ring from several -k and from a JWK Set, mixed algorithms; bytes unchanged" {
	ed25519 e e1
	{
		evsign sign -k "$T/k1" "$T/ev"
		evsign sign -k "$T/e" "$T/ev"
		printf '{"n":1}\r\n' | evsign sign -k "$T/k2"
	} > "$T/s"
	run --separate-stderr evsign verify -k "$T/k1" -k "$T/e.pub" --key "$T/k2" "$T/s"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	printf '%s\n' "$output" | cmp - "$T/s"
	# The same ring as one JWK Set file; a public set may be 0644.
	jq -sc '{keys: .}' "$T/k1" "$T/k2" "$T/e.pub" > "$T/set"
	chmod 600 "$T/set"
	run --separate-stderr evsign verify -k "$T/set" < "$T/s"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" | cmp - "$T/s"
	jq -sc '{keys: .}' "$T/e.pub" > "$T/pubset"
	chmod 644 "$T/pubset"
	run --separate-stderr evsign verify -k "$T/pubset" -k "$T/k1" -k "$T/k2" < "$T/s"
	[ "$status" -eq 0 ]
	# The private Ed25519 key verifies as well as its public half.
	run --separate-stderr evsign verify -k "$T/e" -k "$T/k1" -k "$T/k2" < "$T/s"
	[ "$status" -eq 0 ]
	# A duplicate kid in the ring is a key error.
	run --separate-stderr evsign verify -k "$T/k1" -k "$T/k1" < "$T/s"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[[ "$stderr" == *k1* ]]
}

@test "verify: key rotation: old and new keys verify with a ring of both; old key removed, unknown key" {
	cp "$T/k1" "$T/old"
	evsign keygen --kid 2026-02 -o "$T/new"
	printf '{"id":"a","n":1}\n{"id":"b","n":2}\n' | evsign sign -k "$T/old" > "$T/s"
	printf '{"id":"c","n":3}\n{"id":"d","n":4}\n' | evsign sign -k "$T/new" >> "$T/s"
	run --separate-stderr evsign verify -k "$T/old" -k "$T/new" "$T/s"
	[ "$status" -eq 0 ]
	[ "$(jq -r .id <<< "$output" | paste -sd, -)" = a,b,c,d ]
	# As a set, the way a ring file is kept.
	jq -sc '{keys: .}' "$T/new" "$T/old" > "$T/ring"
	chmod 600 "$T/ring"
	run --separate-stderr evsign verify -k "$T/ring" "$T/s"
	[ "$status" -eq 0 ]
	[ "$(jq -r .id <<< "$output" | paste -sd, -)" = a,b,c,d ]
	# The old key retired.
	run --separate-stderr evsign verify -k "$T/new" "$T/s"
	[ "$status" -eq 1 ]
	[ "$(jq -r .id <<< "$output" | paste -sd, -)" = c,d ]
	[ "$stderr" = "evsign: $T/s:1: unknown key \"k1\"
evsign: $T/s:2: unknown key \"k1\"" ]
}

@test "verify --strip gives back the original bytes exactly" {
	ed25519 e e1
	{
		cat "$T/ev"
		printf '{ "b" : "\\u00e9\\/" , "c":[1.50, 1e2]}  \n'
		printf '{}\n{ }\r\n{"a":1}\r\n'
		printf '{"s":"sigalg\\"sigkid","x":{"sig":1}}\n'
		printf ' \t{"lead":1}\n'
	} > "$T/in"
	evsign sign -k "$T/k1" "$T/in" > "$T/s"
	evsign sign -k "$T/e" "$T/in" >> "$T/s"
	run --separate-stderr evsign verify --strip -k "$T/k1" -k "$T/e.pub" "$T/s"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	# Whitespace after the closing brace is not signed: it is gone.
	sed -E 's/\}[ \t]+$/}/' "$T/in" > "$T/want"
	printf '%s\n' "$output" | cmp - <(cat "$T/want" "$T/want")
	# Stripping is not verifying: a bad line is still rejected.
	sed -n 1p "$T/s" | sed 's/"id":"1"/"id":"9"/' > "$T/bad"
	run --separate-stderr evsign verify --strip -k "$T/k1" "$T/bad"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "evsign: $T/bad:1: bad signature" ]
}

@test "verify --strip keeps white space before the closing brace" {
	printf '{"a":1 }\n{"a":2\t}\r\n{ "a" : 3 \t }\n{"a":[1, 2] , "b":{ } }\n' > "$T/in"
	evsign sign -k "$T/k1" "$T/in" > "$T/s"
	[ "$(wc -l < "$T/s")" -eq 4 ]
	run --separate-stderr evsign verify --strip -k "$T/k1" "$T/s"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" | cmp - "$T/in"
}

@test "verify --max-age and --skew: old and future events expired, no time is malformed" {
	at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
	{
		printf '{"id":"1","time":"%s"}\n' "$(at '-2 hours')"
		printf '{"id":"2","time":"%s"}\n' "$(at '-50 minutes')"
		printf '{"id":"3","time":"%s"}\n' "$(at '+30 seconds')"
		printf '{"id":"4","time":"%s"}\n' "$(at '+10 minutes')"
		printf '{"id":"5"}\n'
		printf '{"id":"6","time":"noon"}\n'
		printf '{"id":"7","time":12}\n'
		printf '{"id":"8","time":"%s"}\n' "$(TZ=UTC-2 date -d '-5 minutes' +%Y-%m-%dT%H:%M:%S.123456%:z)"
		printf '{"id":"9","time":"%s"}\n' "$(at '-61 minutes')"
	} | evsign sign -k "$T/k1" > "$T/s"
	run --separate-stderr evsign verify -k "$T/k1" --max-age 1h "$T/s"
	[ "$status" -eq 1 ]
	[ "$(jq -r .id <<< "$output" | paste -sd, -)" = 2,3,8 ]
	echo "$stderr"
	[ "$(wc -l <<< "$stderr")" -eq 6 ]
	[[ "$(sed -n 1p <<< "$stderr")" == "evsign: $T/s:1: expired: "* ]]
	[[ "$(sed -n 2p <<< "$stderr")" == "evsign: $T/s:4: expired: "*"in the future"* ]]
	[[ "$(sed -n 3p <<< "$stderr")" == "evsign: $T/s:5: malformed: "* ]]
	[[ "$(sed -n 4p <<< "$stderr")" == "evsign: $T/s:6: malformed: "* ]]
	[[ "$(sed -n 5p <<< "$stderr")" == "evsign: $T/s:7: malformed: "* ]]
	[[ "$(sed -n 6p <<< "$stderr")" == "evsign: $T/s:9: expired: "* ]]
	[[ "$(sed -n 6p <<< "$stderr")" != *future* ]]
	# --skew widens the future side only.
	run --separate-stderr evsign verify -k "$T/k1" --max-age 1h --skew 15m "$T/s"
	[ "$(jq -r .id <<< "$output" | paste -sd, -)" = 2,3,4,8 ]
	run --separate-stderr evsign verify -k "$T/k1" --max-age 1h --skew 10s "$T/s"
	[ "$(jq -r .id <<< "$output" | paste -sd, -)" = 2,8 ]
	# Compound durations.
	run --separate-stderr evsign verify -k "$T/k1" --max-age 2h30m "$T/s"
	[ "$(jq -r .id <<< "$output" | paste -sd, -)" = 1,2,3,8,9 ]
	run --separate-stderr evsign verify -k "$T/k1" --max-age 1d "$T/s"
	[ "$(jq -r .id <<< "$output" | paste -sd, -)" = 1,2,3,8,9 ]
	run --separate-stderr evsign verify -k "$T/k1" --max-age 3000000ms "$T/s"
	[ "$(jq -r .id <<< "$output" | paste -sd, -)" = 3,8 ]
	# Without --max-age the time is not looked at.
	run --separate-stderr evsign verify -k "$T/k1" "$T/s"
	[ "$status" -eq 0 ]
	[ "$(wc -l <<< "$output")" -eq 9 ]
	# The signature is checked first: a tampered old event is a bad signature.
	sed -n 1p "$T/s" | sed 's/"id":"1"/"id":"x"/' > "$T/bad"
	run --separate-stderr evsign verify -k "$T/k1" --max-age 1h "$T/bad"
	[ "$stderr" = "evsign: $T/bad:1: bad signature" ]
}

@test "verify --dedupe: a replayed (source, id) is rejected, a new one kept; needs --max-age" {
	now=$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%SZ)
	{
		printf '{"source":"//a","id":"1","time":"%s","n":1}\n' "$now"
		printf '{"source":"//a","id":"2","time":"%s","n":2}\n' "$now"
		printf '{"source":"//b","id":"1","time":"%s","n":3}\n' "$now"
		printf '{"source":"//a","id":"1","time":"%s","n":4}\n' "$now"
		printf '{"source":"//a","id":"3","time":"%s","n":5}\n' "$now"
	} | evsign sign -k "$T/k1" > "$T/s"
	sed -n 1p "$T/s" >> "$T/s"   # the same bytes again
	run --separate-stderr evsign verify -k "$T/k1" --max-age 1h --dedupe "$T/s"
	[ "$status" -eq 1 ]
	[ "$(jq -c .n <<< "$output" | paste -sd, -)" = 1,2,3,5 ]
	[[ "$(sed -n 1p <<< "$stderr")" == "evsign: $T/s:4: replayed: "* ]]
	[[ "$(sed -n 2p <<< "$stderr")" == "evsign: $T/s:6: replayed: "* ]]
	[ "$(wc -l <<< "$stderr")" -eq 2 ]
	# Without --dedupe every copy passes.
	run --separate-stderr evsign verify -k "$T/k1" --max-age 1h "$T/s"
	[ "$status" -eq 0 ]
	[ "$(wc -l <<< "$output")" -eq 6 ]
	# A forged copy does not enter the window: the genuine event after it passes.
	{ sed -n 1p "$T/s" | sed 's/"n":1/"n":9/'; sed -n 1p "$T/s"; } > "$T/f"
	run --separate-stderr evsign verify -k "$T/k1" --max-age 1h --dedupe "$T/f"
	[ "$status" -eq 1 ]
	[ "$(jq -c .n <<< "$output")" = 1 ]
	[ "$stderr" = "evsign: $T/f:1: bad signature" ]
	# --dedupe without --max-age is a usage error.
	run --separate-stderr evsign verify -k "$T/k1" --dedupe "$T/s"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
}

@test "verify --dedupe-max: a full window fails closed" {
	now=$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%SZ)
	for i in 1 2 3 4; do
		printf '{"source":"//a","id":"%s","time":"%s"}\n' "$i" "$now"
	done | evsign sign -k "$T/k1" > "$T/s"
	run --separate-stderr evsign verify -k "$T/k1" --max-age 1h --dedupe --dedupe-max 2 "$T/s"
	[ "$status" -eq 1 ]
	[ "$(jq -r .id <<< "$output" | paste -sd, -)" = 1,2 ]
	[[ "$(sed -n 1p <<< "$stderr")" == "evsign: $T/s:3: replayed: "*window*full* ]]
	[[ "$(sed -n 2p <<< "$stderr")" == "evsign: $T/s:4: replayed: "*window*full* ]]
	run --separate-stderr evsign verify -k "$T/k1" --max-age 1h --dedupe --dedupe-max 4 "$T/s"
	[ "$status" -eq 0 ]
	[ "$(wc -l <<< "$output")" -eq 4 ]
}

@test "verify: unsigned, partly signed, unknown key; exit 1 and the valid events around still come out" {
	evsign sign -k "$T/k1" "$T/ev" > "$T/s"
	{
		sed -n 1p "$T/s"
		printf '{"n":1}\n'                                                  # 2
		printf '{"n":2,"sigalg":"HS256","sigkid":"k1"}\n'                  # 3
		printf '{"n":3,"sig":"%s"}\n' "$(jq -r .sig "$T/s" | head -1)"     # 4
		printf '{"n":4,"sigalg":"HS256","sigkid":"k1","sig":7}\n'          # 5
		printf '{"n":5,"sigalg":"HS256","sigkid":"zz","sig":"%s"}\n' \
		    "$(jq -r .sig "$T/s" | head -1)"                               # 6
		sed -n 2p "$T/s"                                                    # 7
		printf '{"n":6,"sigalg":"HS256","sigkid":"k1","sig":"AAAA"}\n'     # 8
		printf '{"n":7,"sigalg":"HS256","sigkid":"k1","sig":"%s="}\n' \
		    "$(jq -r .sig "$T/s" | head -1)"                               # 9
		sed -n 3p "$T/s"                                                    # 10
	} > "$T/in"
	run --separate-stderr evsign verify -k "$T/k1" --reject "$T/rej" < "$T/in"
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" | cmp - "$T/s"
	echo "$stderr"
	[[ "$(sed -n 1p <<< "$stderr")" == "evsign: line 2: unsigned"* ]]
	[[ "$(sed -n 2p <<< "$stderr")" == "evsign: line 3: malformed: "* ]]
	[[ "$(sed -n 3p <<< "$stderr")" == "evsign: line 4: malformed: "* ]]
	[[ "$(sed -n 4p <<< "$stderr")" == "evsign: line 5: malformed: "* ]]
	[ "$(sed -n 5p <<< "$stderr")" = 'evsign: line 6: unknown key "zz"' ]
	[[ "$(sed -n 6p <<< "$stderr")" == "evsign: line 8: malformed: "* ]]
	[[ "$(sed -n 7p <<< "$stderr")" == "evsign: line 9: malformed: "* ]]
	[ "$(wc -l <<< "$stderr")" -eq 7 ]
	sed -n '2,6p;8,9p' "$T/in" | cmp - "$T/rej"
}

@test "--reject and --dead-letter keep rejected lines verbatim (CRLF, over-long, last line), appending" {
	printf '{"n":0}\n{"n":9}\n' | evsign sign -k "$T/k1" > "$T/s"
	{
		sed -n 1p "$T/s"
		printf '{"n":\r\n'
		printf '{"n":"%s"}\n' "$(printf 'y%.0s' $(seq 1 200))"
		printf 'a\0b\r\n'
		printf '{"n":1}\r\n'
		sed -n 2p "$T/s"
		printf '{"n":6'
	} > "$T/in"
	for cmd in verify sign canon; do
		for opt in --reject --dead-letter; do
			rm -f "$T/dead"
			run --separate-stderr evsign "$cmd" -k "$T/k1" --max-line 100 "$opt" "$T/dead" < "$T/in"
			echo "# $cmd $opt: $status"
			echo "$stderr"
			[ "$status" -eq 1 ]
			case $cmd in
			verify)  # line 5 is unsigned
				[ "$output" = "$(sed -n '1p;6p' "$T/in")" ]
				{ sed -n '2,5p;7p' "$T/in"; printf '\n'; } | cmp - "$T/dead"
				[ "$(wc -l <<< "$stderr")" -eq 5 ] ;;
			sign)    # lines 1 and 6 are already signed
				[ "$(unsign <<< "$output")" = $'{"n":1}\r' ]
				{ sed -n '1,4p;6,7p' "$T/in"; printf '\n'; } | cmp - "$T/dead"
				[ "$(wc -l <<< "$stderr")" -eq 6 ] ;;
			canon)   # every JSON object is fine
				[ "$output" = $'{"n":0,"sigalg":"HS256","sigkid":"k1"}\n{"n":1,"sigalg":"HS256","sigkid":"k1"}\n{"n":9,"sigalg":"HS256","sigkid":"k1"}' ]
				{ sed -n '2,4p;7p' "$T/in"; printf '\n'; } | cmp - "$T/dead"
				[ "$(wc -l <<< "$stderr")" -eq 4 ] ;;
			esac
		done
	done
	# Appended to, not replaced.
	rm -f "$T/dead"
	evsign verify -k "$T/k1" --max-line 100 --reject "$T/dead" < "$T/in" > /dev/null 2>&1 || true
	evsign verify -k "$T/k1" --max-line 100 --reject "$T/dead" < "$T/in" > /dev/null 2>&1 || true
	[ "$(wc -l < "$T/dead")" -eq 10 ]
	# A --reject file that cannot be opened: exit 2 before reading.
	run --separate-stderr evsign verify -k "$T/k1" --reject "$T/no/such/dir" < "$T/s"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[ "$stderr" = "evsign: $T/no/such/dir: No such file or directory" ]
}

@test "canon: RFC 8785 of the event without sig; with -k the bytes sign would sign" {
	{
		printf '{"b":2,"a":{"z":[1.50,1e2,-0.0,1E-7,123456789012345678901234],"y":"\\u00e9\\/\\u001f\\n"},"A":9007199254740993}\n'
		printf '{"\\u20ac":1,"\\ud83d\\ude00":2,"\\ufb33":3,"a":true}\r\n'
		printf '{}\n'
		printf ' {"x" : [ ] , "w" : { } } \n'
	} > "$T/in"
	run --separate-stderr evsign canon "$T/in"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	# Keys by UTF-16 code units (U+1F600 is D83D DE00, before U+FB33).
	diff <(printf '%s\n' "$output") <(
		printf '%s\n' '{"A":9007199254740992,"a":{"y":"é/\u001f\n","z":[1.5,100,0,1e-7,1.2345678901234569e+23]},"b":2}'
		printf '{"a":true,"\xe2\x82\xac":1,"\xf0\x9f\x98\x80":2,"\xef\xac\xb3":3}\n'
		printf '%s\n' '{}' '{"w":{},"x":[]}')
	# A signed event: its sigalg and sigkid are in, sig is not.
	evsign sign -k "$T/k1" "$T/ev" > "$T/s"
	run --separate-stderr evsign canon < "$T/s"
	[ "$status" -eq 0 ]
	[ "$(sed -n 1p <<< "$output")" = '{"data":{"qty":2,"sku":"A1"},"id":"1","sigalg":"HS256","sigkid":"k1","source":"//shop/web","specversion":"1.0","time":"2026-11-29T10:00:00Z","type":"order.created"}' ]
	[ "$(sed -n 2p <<< "$output")" = '{"data":{"amount":59.9,"note":"café \"ok\""},"id":"2","sigalg":"HS256","sigkid":"k1","source":"//shop/web","specversion":"1.0","type":"order.paid"}' ]
	# -k on an unsigned event adds the key's sigalg and sigkid: the same bytes.
	run --separate-stderr evsign canon -k "$T/k1" "$T/ev"
	[ "$status" -eq 0 ]
	[ "$output" = "$(evsign canon "$T/s")" ]
	ed25519 e e1
	[ "$(evsign canon -k "$T/e" "$T/ev" | jq -r '[.sigalg, .sigkid] | @tsv' | sort -u)" = $'EdDSA\te1' ]
	[ "$(evsign canon -k "$T/e.pub" "$T/ev")" = "$(evsign canon -k "$T/e" "$T/ev")" ]
	# The key may come from EVSIGN_KEY_FILE.
	[ "$(EVSIGN_KEY_FILE="$T/e" evsign canon "$T/ev")" = "$(evsign canon -k "$T/e" "$T/ev")" ]
	# -k on a signed event: the event's own sigalg and sigkid.
	[ "$(evsign canon -k "$T/e" "$T/s")" = "$(evsign canon "$T/s")" ]
	# Canonical output is canonical: canon of canon is itself.
	evsign canon "$T/in" "$T/s" > "$T/c1"
	evsign canon "$T/c1" > "$T/c2"
	cmp "$T/c1" "$T/c2"
	# The key order of the input does not matter.
	[ "$(jq -cS . "$T/ev" | evsign canon)" = "$(evsign canon "$T/ev")" ]
}

@test "bad lines: each kind reported with its line by sign, verify and canon; the good ones around flow" {
	good=$(printf '{"n":1}\n{"n":3}\r\n{"n":5}\n' | evsign sign -k "$T/k1")
	fake=$(printf 'A%.0s' $(seq 1 43))
	for cmd in sign verify canon; do
		if [ "$cmd" = verify ]; then
			g1=$(sed -n 1p <<< "$good") g3=$(sed -n 2p <<< "$good") g5=$(sed -n 3p <<< "$good")
			big='{"n":1e400,"sigalg":"HS256","sigkid":"k1","sig":"'$fake'"}'
		else
			g1='{"n":1}' g3=$'{"n":3}\r' g5='{"n":5}'
			big='{"n":1e400}'
		fi
		{
			printf '%s\n' "$g1"
			printf '{"n":\n'                  # 2 malformed
			printf '{"n":"\xff"}\n'           # 3 invalid UTF-8
			printf '%s\n' "$g3"               # 4 good, CRLF
			printf '{"n":\0}\n'               # 5 NUL
			printf '{"n":%s}\n' "$(printf '1%.0s' $(seq 1 200))"  # 6 too long
			printf '{"n":1,"n":2}\n'          # 7 duplicate key
			printf '{"n":[[[1]]]}\n'          # 8 too deep
			printf '[1]\n'                    # 9 not an object
			printf '"n"\n'                    # 10 not an object
			printf ' \n'                      # 11 blank: skipped
			printf '%s\n' "$big"              # 12 a number JCS cannot hold
			printf '%s\n' "$g5"               # 13
			printf '{"n":6'                   # 14 truncated last line
		} > "$T/in"
		run --separate-stderr evsign "$cmd" -k "$T/k1" --max-line 100 --max-depth 3 < "$T/in"
		echo "# $cmd: $status"
		echo "$stderr"
		[ "$status" -eq 1 ]
		case $cmd in
		sign)
			[ "$(wc -l <<< "$output")" -eq 3 ]
			[ "$(unsign <<< "$output")" = $'{"n":1}\n{"n":3}\r\n{"n":5}' ] ;;
		verify)
			[ "$output" = "$good" ] ;;
		canon)
			[ "$output" = $'{"n":1,"sigalg":"HS256","sigkid":"k1"}\n{"n":3,"sigalg":"HS256","sigkid":"k1"}\n{"n":5,"sigalg":"HS256","sigkid":"k1"}' ] ;;
		esac
		[ "$(wc -l <<< "$stderr")" -eq 10 ]
		[ "$(sed -n 1p <<< "$stderr")" = "evsign: line 2: malformed: invalid JSON: unexpected end of input at column 6" ]
		[ "$(sed -n 2p <<< "$stderr")" = "evsign: line 3: malformed: invalid JSON: invalid UTF-8 at column 7" ]
		[[ "$(sed -n 3p <<< "$stderr")" == "evsign: line 5: "*"NUL byte"* ]]
		[[ "$(sed -n 4p <<< "$stderr")" == "evsign: line 6: line too long (206 bytes, limit 100)" ]]
		[ "$(sed -n 5p <<< "$stderr")" = 'evsign: line 7: malformed: invalid JSON: duplicate key "n" at column 8' ]
		[ "$(sed -n 6p <<< "$stderr")" = "evsign: line 8: malformed: invalid JSON: nested deeper than 3 at column 8" ]
		[ "$(sed -n 7p <<< "$stderr")" = "evsign: line 9: malformed: not a JSON object" ]
		[ "$(sed -n 8p <<< "$stderr")" = "evsign: line 10: malformed: not a JSON object" ]
		[[ "$(sed -n 9p <<< "$stderr")" == "evsign: line 12: malformed: "* ]]
		[ "$(sed -n 10p <<< "$stderr")" = "evsign: line 14: malformed: invalid JSON: unexpected end of input at column 7" ]
		# A named file is in the messages.
		run --separate-stderr evsign "$cmd" -k "$T/k1" --max-line 100 --max-depth 3 "$T/in"
		[ "$(sed -n 1p <<< "$stderr")" = "evsign: $T/in:2: malformed: invalid JSON: unexpected end of input at column 6" ]
	done
	# --max-depth: 128 levels by default, the event object being the first.
	{
		printf '{"a":%s1%s}\n' "$(printf '[%.0s' $(seq 1 127))" "$(printf ']%.0s' $(seq 1 127))"
		printf '{"a":%s1%s}\n' "$(printf '[%.0s' $(seq 1 128))" "$(printf ']%.0s' $(seq 1 128))"
	} > "$T/deep"
	for cmd in sign canon; do
		run --separate-stderr evsign "$cmd" -k "$T/k1" "$T/deep"
		[ "$status" -eq 1 ]
		[ "$(wc -l <<< "$output")" -eq 1 ]
		[[ "$stderr" == "evsign: $T/deep:2: malformed: invalid JSON: nested deeper than 128 at column "* ]]
	done
	# --max-line takes K, M, G suffixes; the default is 1 MiB.
	printf '{"s":"%s"}\n' "$(head -c 2000 /dev/zero | tr '\0' x)" > "$T/long"
	run --separate-stderr evsign sign -k "$T/k1" --max-line 1K "$T/long"
	[ "$status" -eq 1 ]
	[ "$stderr" = "evsign: $T/long:1: line too long (2008 bytes, limit 1024)" ]
	run --separate-stderr evsign sign -k "$T/k1" "$T/long"
	[ "$status" -eq 0 ]
	head -c 1048600 /dev/zero | tr '\0' x | sed 's/^/{"s":"/; s/$/"}/' > "$T/huge"
	run --separate-stderr evsign sign -k "$T/k1" "$T/huge"
	[ "$status" -eq 1 ]
	[[ "$stderr" == "evsign: $T/huge:1: line too long"* ]]
}

@test "key files: missing, 0644 private refused, public 0644 accepted, every bad key exit 2" {
	evsign sign -k "$T/k1" "$T/ev" > "$T/s"
	for cmd in sign verify canon; do
		run --separate-stderr evsign "$cmd" -k "$T/nokey" "$T/ev"
		[ "$status" -eq 2 ]
		[ -z "$output" ]
		[ "$stderr" = "evsign: $T/nokey: No such file or directory" ]
	done
	# Too open: group or others may read it.
	for m in 644 640 604 660 700; do
		cp "$T/k1" "$T/open$m"
		chmod "$m" "$T/open$m"
		for cmd in sign verify; do
			run --separate-stderr evsign "$cmd" -k "$T/open$m" "$T/s"
			echo "# $m $cmd: $status $stderr"
			if [ "$m" = 700 ]; then
				[ "$status" -ne 2 ]
				continue
			fi
			[ "$status" -eq 2 ]
			[ -z "$output" ]
			[[ "$stderr" == "evsign: $T/open$m: permissions 0$m are too open"* ]]
			[[ "$stderr" == *"chmod 600"* ]]
		done
	done
	# Through EVSIGN_KEY_FILE too.
	run --separate-stderr env EVSIGN_KEY_FILE="$T/open644" evsign sign "$T/ev"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"permissions 0644 are too open"* ]]
	# A public key file may be 0644, also as a set.
	ed25519 e e1
	evsign sign -k "$T/e" "$T/ev" > "$T/se"
	chmod 644 "$T/e.pub"
	run --separate-stderr evsign verify -k "$T/e.pub" "$T/se"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	# The private Ed25519 key at 0644 is refused.
	chmod 644 "$T/e"
	run --separate-stderr evsign verify -k "$T/e" "$T/se"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"permissions 0644 are too open"* ]]
	# A set with one private key among public ones is private.
	chmod 600 "$T/e"
	jq -sc '{keys: .}' "$T/e.pub" "$T/k1" > "$T/mixed"
	chmod 644 "$T/mixed"
	run --separate-stderr evsign verify -k "$T/mixed" "$T/se"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"permissions 0644 are too open"* ]]
	# A directory, an empty file.
	run --separate-stderr evsign verify -k "$T" "$T/se"
	[ "$status" -eq 2 ]
	: > "$T/empty"
	chmod 600 "$T/empty"
	run --separate-stderr evsign verify -k "$T/empty" "$T/se"
	[ "$status" -eq 2 ]
}

@test "bad keys: short secret, bad base64url, garbage, wrong kty/crv/alg/use, d not matching x: exit 2" {
	ed25519 e e1
	ed25519 f f1
	x=$(jq -r .x "$T/e")
	d=$(jq -r .d "$T/e")
	dother=$(jq -r .d "$T/f")
	secret=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8
	n=0
	while IFS= read -r key; do
		n=$((n + 1))
		printf '%s\n' "$key" > "$T/bad$n"
		chmod 600 "$T/bad$n"
		for cmd in sign verify; do
			run --separate-stderr evsign "$cmd" -k "$T/bad$n" "$T/ev"
			echo "# $n $cmd: $status: $key: $stderr"
			[ "$status" -eq 2 ]
			[ -z "$output" ]
			[[ "$stderr" == "evsign: $T/bad$n"* ]]
		done
	done <<EOF
{"kty":"oct","k":"AAECAwQFBgcICQoLDA0ODw"}
{"kty":"oct","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg"}
{"kty":"oct","k":"${secret}="}
{"kty":"oct","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd+h8"}
{"kty":"oct","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd/h8"}
{"kty":"oct","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFR YXGBkaGxwdHh8"}
{"kty":"oct","k":""}
{"kty":"oct"}
{"kty":"oct","k":42}
{"kty":"oct","k":"$secret","alg":"EdDSA"}
{"kty":"oct","k":"$secret","alg":"HS512"}
{"kty":"oct","k":"$secret","use":"enc"}
{"kty":"oct","k":"$secret","kid":""}
{"kty":"oct","k":"$secret","kid":7}
{"kty":"oct","k":"$secret","k":"$secret"}
{"kty":"RSA","n":"AQAB","e":"AQAB"}
{"kty":"OKP","crv":"X25519","x":"$x"}
{"kty":"OKP","crv":"Ed448","x":"$x"}
{"kty":"OKP","crv":"Ed25519"}
{"kty":"OKP","crv":"Ed25519","x":"${x}A"}
{"kty":"OKP","crv":"Ed25519","x":"$x","d":"$dother"}
{"kty":"OKP","crv":"Ed25519","x":"$x","d":"${d}="}
{"kty":"OKP","crv":"Ed25519","x":"$x","alg":"HS256"}
{"keys":[{"kty":"oct","k":"$secret","kid":"a"},{"kty":"oct","k":"$secret","kid":"a"}]}
{"keys":[{"kty":"oct","k":"$secret"},{"kty":"oct","k":"AAECAwQFBgcICQoLDA0ODw"}]}
{"keys":[]}
{"keys":{}}
[{"kty":"oct","k":"$secret"}]
not json at all
{"kty":"oct","k":"$secret"
EOF
	# The message of one of them names the member.
	run --separate-stderr evsign verify -k "$T/bad1" "$T/ev"
	[[ "$stderr" == *'"k"'* || "$stderr" == *" k "* || "$stderr" == *secret* ]]
}

@test "keys made elsewhere: extra members ignored, no kid means the thumbprint, no alg is fine" {
	printf '%s\n' '{"kty":"oct","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8","key_ops":["sign","verify"],"ext":true,"x5t":"abc"}' > "$T/h"
	chmod 600 "$T/h"
	tp=$($REF thumbprint "$T/h")
	[ "$(evsign sign -k "$T/h" "$T/ev" | jq -r .sigkid | sort -u)" = "$tp" ]
	evsign sign -k "$T/h" "$T/ev" | evsign verify -k "$T/h" > /dev/null
	# The same secret under kid k1: the same MAC bytes need the same kid.
	[ "$(evsign sign -k "$T/h" "$T/ev" | evsign verify -k "$T/k1" 2>&1 >/dev/null | head -1)" = \
	    "evsign: line 1: unknown key \"$tp\"" ]
}

@test "tampering: any attribute or byte of data changed, attributes added or removed: bad signature" {
	ed25519 e e1
	for key in k1 e; do
		sed -n 1p "$T/ev" | evsign sign -k "$T/$key" > "$T/s"
		ring=(-k "$T/k1" -k "$T/k2" -k "$T/e.pub")
		# Untouched it verifies.
		evsign verify "${ring[@]}" "$T/s" > /dev/null
		: > "$T/t"
		for a in specversion id source type time data; do
			jq -c --arg a "$a" '.[$a] |= (if type == "string" then . + "x" else {x: .} end)' "$T/s" >> "$T/t"
			jq -c --arg a "$a" 'del(.[$a])' "$T/s" >> "$T/t"
		done
		jq -c '.subject = "new"' "$T/s" >> "$T/t"
		jq -c '.data.qty = 3' "$T/s" >> "$T/t"
		jq -c '.data.qty = "2"' "$T/s" >> "$T/t"
		jq -c '.data.qty = 2.5' "$T/s" >> "$T/t"
		jq -c '.data.sku = null' "$T/s" >> "$T/t"
		jq -c '.data.extra = 1' "$T/s" >> "$T/t"
		# Every letter or digit inside data, changed in place.
		python3 - "$T/s" >> "$T/t" <<'PY'
import sys
line = open(sys.argv[1]).read().rstrip("\n")
start = line.index('"data":') + 7
end = line.index(',"sigalg"')
for i in range(start, end):
    c = line[i]
    if c.isdigit():
        r = str((int(c) + 1) % 10)
    elif c.isalpha():
        r = "b" if c != "b" else "c"
    else:
        continue
    print(line[:i] + r + line[i + 1:])
PY
		want=$(wc -l < "$T/t")
		[ "$want" -gt 25 ]
		run --separate-stderr evsign verify "${ring[@]}" "$T/t"
		echo "# $key: $want tampered lines"
		echo "$stderr" | grep -v ': bad signature$' || true
		[ "$status" -eq 1 ]
		[ -z "$output" ]
		[ "$(grep -c ": bad signature$" <<< "$stderr")" -eq "$want" ]
		[ "$(wc -l <<< "$stderr")" -eq "$want" ]
	done
}

@test "tampering: sig, sigalg, sigkid changed or stripped, duplicate keys: each with its reason" {
	ed25519 e e1
	sed -n 1p "$T/ev" | evsign sign -k "$T/k1" > "$T/s"
	sed -n 1p "$T/ev" | evsign sign -k "$T/e" > "$T/se"
	sig=$(jq -r .sig "$T/s")
	first=${sig:0:1}
	[ "$first" = A ] && other=B || other=A
	{
		jq -c --arg s "$other${sig:1}" '.sig = $s' "$T/s"                # 1 a MAC byte
		jq -c '.sigkid = "k2"' "$T/s"                                       # 2 another HS256 key
		jq -c '.sigkid = "zz"' "$T/s"                                       # 3 no such key
		jq -c '.sigalg = "EdDSA"' "$T/s"                                    # 4 swap sigalg
		jq -c '.sigalg = "none"' "$T/s"                                     # 5
		jq -c 'del(.sig)' "$T/s"                                            # 6 strip sig
		jq -c 'del(.sigalg)' "$T/s"                                         # 7
		jq -c 'del(.sig, .sigalg, .sigkid)' "$T/s"                          # 8 strip all
		sed 's/^{/{"type":"evil",/' "$T/s"                                  # 9 duplicate key
		sed 's/}$/,"type":"evil"}/' "$T/s"                                  # 10 duplicate, last
		sed 's/"sku":"A1"/"sku":"A1","sku":"A2"/' "$T/s"                    # 11 duplicate, nested
		sed 's/}$/,"sig":"x"}/' "$T/s"                                      # 12 duplicate sig
		jq -c '.sig = .sig[0:42]' "$T/s"                                    # 13 short
		jq -c '.sigalg = "HS256"' "$T/se"                                   # 14 EdDSA event says HS256
		jq -c '.sigkid = "k1"' "$T/se"                                      # 15 EdDSA sig, HS256 key
		jq -c '.sig = .sig[0:43]' "$T/se"                                   # 16 short Ed25519 sig
		jq -c '.sig = "\(.sig[0:10])+\(.sig[11:])"' "$T/s"                  # 17 base64, not url
		jq -c '.sigalg = "hs256"' "$T/s"                                    # 18 case matters
	} > "$T/t"
	run --separate-stderr evsign verify -k "$T/k1" -k "$T/k2" -k "$T/e.pub" "$T/t"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	m() { sed -n "$1p" <<< "$stderr"; }
	f="evsign: $T/t"
	[ "$(m 1)" = "$f:1: bad signature" ]
	[ "$(m 2)" = "$f:2: bad signature" ]
	[ "$(m 3)" = "$f:3: unknown key \"zz\"" ]
	[[ "$(m 4)" == "$f:4: algorithm mismatch: "* ]]
	[[ "$(m 5)" == "$f:5: algorithm mismatch: "* || "$(m 5)" == "$f:5: malformed: "* ]]
	[[ "$(m 6)" == "$f:6: malformed: "* ]]
	[[ "$(m 7)" == "$f:7: malformed: "* ]]
	[[ "$(m 8)" == "$f:8: unsigned"* ]]
	[ "$(m 9)" = "$f:9: malformed: invalid JSON: duplicate key \"type\" at column 67" ]
	[[ "$(m 10)" == "$f:10: malformed: invalid JSON: duplicate key \"type\""* ]]
	[[ "$(m 11)" == "$f:11: malformed: invalid JSON: duplicate key \"sku\""* ]]
	[[ "$(m 12)" == "$f:12: malformed: invalid JSON: duplicate key \"sig\""* ]]
	[[ "$(m 13)" == "$f:13: malformed: "* ]]
	[[ "$(m 14)" == "$f:14: algorithm mismatch: "* ]]
	[[ "$(m 15)" == "$f:15: algorithm mismatch: "* ]]
	[[ "$(m 16)" == "$f:16: malformed: "* ]]
	[[ "$(m 17)" == "$f:17: malformed: "* ]]
	[[ "$(m 18)" == "$f:18: algorithm mismatch: "* || "$(m 18)" == "$f:18: malformed: "* ]]
	[ "$(wc -l <<< "$stderr")" -eq 18 ]
}

@test "tampering: reordered keys, other spacing and escapes still verify (the canonical form)" {
	ed25519 e e1
	{ evsign sign -k "$T/k1" "$T/ev"; evsign sign -k "$T/e" "$T/ev"; } > "$T/s"
	{
		jq -cS . "$T/s"                                   # sorted
		jq -c 'to_entries | reverse | from_entries' "$T/s" # reversed
		# Other spacing, every non-ASCII character escaped, numbers
		# rewritten (100.0 for 1e2, -0.0): the same values.
		python3 -c 'import json, sys
for l in sys.stdin:
    print(json.dumps(json.loads(l), separators=(" , ", " : "), ensure_ascii=True))' < "$T/s"
		sed 's/"1.0"/"\\u0031.0"/; s/"id":"1"/"id":"\\u0031"/' "$T/s" | head -3
		sed -n 1p "$T/s" | sed 's/"qty":2/"qty":2.0/'
		sed -n 1p "$T/s" | sed 's/"qty":2/"qty":0.2e1/'
		sed -n 1p "$T/s" | sed 's/"qty":2/"qty":2E+0/'
		# The signature members escaped: the same strings.
		sed -n 1p "$T/s" | sed 's/"sigkid":"k1"/"sigkid":"k\\u0031"/'
		sed -n 1p "$T/s" | sed 's/"sigalg":"HS256"/"sigalg":"HS\\u0032\\u00356"/'
		sed -n 1p "$T/s" | sed 's/"sigkid"/"sig\\u006bid"/'
	} > "$T/t"
	n=$(wc -l < "$T/t")
	run --separate-stderr evsign verify -k "$T/k1" -k "$T/e.pub" "$T/t"
	[ -z "$stderr" ]
	[ "$status" -eq 0 ]
	[ "$(wc -l <<< "$output")" -eq "$n" ]
	printf '%s\n' "$output" | cmp - "$T/t"
}

@test "algorithm confusion: an HS256 event made with an Ed25519 public key as secret is refused" {
	ed25519 e shared
	x=$(jq -r .x "$T/e")
	# The classic attack: the public key's bytes as the HMAC secret, or
	# the public JWK text itself, under the public key's kid.
	printf '{"kty":"oct","kid":"shared","k":"%s"}\n' "$x" > "$T/evil1"
	printf '{"kty":"oct","kid":"shared","k":"%s"}\n' "$(printf '%s' "$(cat "$T/e.pub")" | $REF b64u)" > "$T/evil2"
	chmod 600 "$T/evil1" "$T/evil2"
	# (Events with integers only: the python signer does those.)
	printf '{"id":"%s","n":1}\n' 1 2 3 > "$T/int"
	{
		$REF sign -k "$T/evil1" < "$T/int"
		$REF sign -k "$T/evil2" < "$T/int"
		evsign sign -k "$T/evil1" < "$T/int"
	} > "$T/t"
	run --separate-stderr evsign verify -k "$T/e.pub" "$T/t"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(wc -l <<< "$stderr")" -eq 9 ]
	[ "$(grep -c "^evsign: $T/t:[0-9]: algorithm mismatch: " <<< "$stderr")" -eq 9 ]
	# The other way: an EdDSA event against an HS256 key of the same kid.
	evsign keygen --kid shared -o "$T/h"
	evsign sign -k "$T/e" "$T/ev" > "$T/se"
	run --separate-stderr evsign verify -k "$T/h" "$T/se"
	[ "$status" -eq 1 ]
	[ "$(grep -c "algorithm mismatch: " <<< "$stderr")" -eq 3 ]
}

@test "Ed25519: a signature with a non-canonical S (S + L) is refused" {
	ed25519 e e1
	sed -n 1p "$T/ev" | evsign sign -k "$T/e" > "$T/s"
	python3 - "$T/s" > "$T/t" <<'PY'
import base64, json, sys
line = open(sys.argv[1]).read().rstrip("\n")
sig = json.loads(line)["sig"]
raw = base64.urlsafe_b64decode(sig + "==")
L = 2**252 + 27742317777372353535851937790883648493
s = int.from_bytes(raw[32:], "little") + L
assert s < 2**256
bad = base64.urlsafe_b64encode(raw[:32] + s.to_bytes(32, "little")).rstrip(b"=").decode()
print(line.replace(sig, bad))
PY
	evsign verify -k "$T/e.pub" "$T/s" > /dev/null
	run --separate-stderr evsign verify -k "$T/e.pub" "$T/t"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "evsign: $T/t:1: bad signature" ]
}

@test "--line-buffered: each signed event is out before the next line comes" {
	coproc EVS { evsign sign -k "$T/k1" --line-buffered; }
	pid=$EVS_PID
	echo '{"n":1}' >&"${EVS[1]}"
	read -r -t 10 line <&"${EVS[0]}"
	[[ "$line" == '{"n":1,"sigalg":"HS256",'* ]]
	echo '{"n":2}' >&"${EVS[1]}"
	read -r -t 10 line <&"${EVS[0]}"
	[[ "$line" == '{"n":2,"sigalg":"HS256",'* ]]
	exec {EVS[1]}>&-
	wait "$pid" 2> /dev/null || true
	# A producer/consumer pair over a pipe.
	coproc EVV { evsign sign -k "$T/k1" --line-buffered | evsign verify -k "$T/k1" --strip --line-buffered; }
	pid=$EVV_PID
	echo '{"n":3}' >&"${EVV[1]}"
	read -r -t 10 line <&"${EVV[0]}"
	[ "$line" = '{"n":3}' ]
	exec {EVV[1]}>&-
	wait "$pid" 2> /dev/null || true
}

@test "a closed downstream ends quietly (| head -1), sign and verify" {
	seq 1 200000 | sed 's/.*/{"n":&}/' > "$T/big"
	run bash -c 'evsign sign -k "$1" "$2" 2> "$3" | head -1; echo "${PIPESTATUS[0]}"' _ "$T/k1" "$T/big" "$T/err"
	[[ "$(sed -n 1p <<< "$output")" == '{"n":1,"sigalg"'* ]]
	[ "$(sed -n 2p <<< "$output")" = 0 ]
	[ ! -s "$T/err" ]
	evsign sign -k "$T/k1" "$T/big" > "$T/bigs"
	run bash -c 'evsign verify -k "$1" "$2" 2> "$3" | head -1; echo "${PIPESTATUS[0]}"' _ "$T/k1" "$T/bigs" "$T/err"
	[ "$(sed -n 1p <<< "$output")" = "$(head -1 "$T/bigs")" ]
	[ "$(sed -n 2p <<< "$output")" = 0 ]
	[ ! -s "$T/err" ]
	run bash -c 'evsign canon "$1" 2> "$2" | head -1; echo "${PIPESTATUS[0]}"' _ "$T/bigs" "$T/err"
	[ "$(sed -n 2p <<< "$output")" = 0 ]
	[ ! -s "$T/err" ]
}

@test "a full disk is an error, exit 2" {
	evsign sign -k "$T/k1" "$T/ev" > "$T/s"
	for args in "sign -k $T/k1 $T/ev" "verify -k $T/k1 $T/s" "canon $T/s" \
	    "verify --strip -k $T/k1 $T/s"; do
		run --separate-stderr bash -c 'evsign $1 > /dev/full' _ "$args"
		echo "# $args: $status $stderr"
		[ "$status" -eq 2 ]
		[ "$stderr" = "evsign: write: No space left on device" ]
	done
	ed25519 e e1
	run --separate-stderr bash -c 'evsign pubkey "$1" > /dev/full' _ "$T/e"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"No space left on device" ]]
	run --separate-stderr evsign verify -k "$T/k1" --reject /dev/full < "$T/ev"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"No space left on device"* ]]
}

# --jobs N: the workers share each batch; what comes out (events, messages,
# dead letters) is the same, in the same order, as with one thread.
@test "--jobs: the same output, messages and dead letters in input order as -j 1" {
	awk 'BEGIN {
		for (i = 1; i <= 20000; i++) {
			if (i % 997 == 0) print "{\"broken\":"
			else if (i % 1499 == 0) printf "{\"n\":%d,\"n\":%d}\n", i, i
			else if (i % 2003 == 0) printf "%08000d\n", 0
			else printf "{\"id\":\"%d\",\"source\":\"//t\",\"time\":\"2026-11-29T10:00:00Z\",\"s\":\"caf\\u00e9\"}\n", i
		}
	}' > "$T/in"
	for j in 1 2 4 8; do
		run --separate-stderr evsign sign -j "$j" --max-line 4000 \
		    --reject "$T/rej.$j" -k "$T/k1" "$T/in"
		[ "$status" -eq 1 ]
		printf '%s\n' "$output" > "$T/out.$j"
		printf '%s\n' "$stderr" > "$T/err.$j"
	done
	[ "$(wc -l < "$T/out.1")" -eq $((20000 - 20 - 13 - 9)) ]
	[ "$(wc -l < "$T/rej.1")" -eq 42 ]
	# The rejected lines, verbatim and in order: the over-long ones too.
	grep -vF '"sigalg"' "$T/in" | grep -v '"s":"caf' | cmp - "$T/rej.1"
	for j in 2 4 8; do
		cmp "$T/out.1" "$T/out.$j"
		cmp "$T/err.1" "$T/err.$j"
		cmp "$T/rej.1" "$T/rej.$j"
	done
	# verify in parallel: every event, in order; a replayed copy is
	# caught across batches and threads.
	cat "$T/out.1" "$T/out.1" > "$T/twice"
	for j in 1 3; do
		run --separate-stderr evsign verify -j "$j" -k "$T/k1" "$T/out.1"
		[ "$status" -eq 0 ]
		printf '%s\n' "$output" | cmp - "$T/out.1"
	done
	run --separate-stderr evsign verify -j 2 --max-age 100000d --dedupe \
	    -k "$T/k1" "$T/twice"
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" | cmp - "$T/out.1"
	[ "$(grep -c ': replayed: ' <<< "$stderr")" -eq "$(wc -l < "$T/out.1")" ]
}

@test "--jobs outside 1..8 is a usage error" {
	for j in 0 9 x; do
		run --separate-stderr evsign sign -j "$j" -k "$T/k1" "$T/ev"
		[ "$status" -eq 2 ]
		[ -z "$output" ]
		[[ "$stderr" == "evsign: --jobs $j: "* ]]
	done
}
