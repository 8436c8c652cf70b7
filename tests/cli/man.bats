bats_require_minimum_version 1.5.0
# The manual pages: clean for mandoc -Tlint, in step with evpub --help,
# and every example in evpub(1) runs as documented.

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	T=$(mktemp -d)
}

teardown() {
	rm -rf "$T"
}

@test "mandoc -Tlint -W warning reports nothing" {
	if ! command -v mandoc > /dev/null; then
		echo "mandoc is missing (apt-get install mandoc)" >&2
		false
	fi
	pages=("$ROOT"/man/*.[1-8])
	[ -f "$ROOT/man/evpub.1" ]
	[ -f "$ROOT/man/evkit.7" ]
	run --separate-stderr mandoc -Tlint -W warning "${pages[@]}"
	echo "$output$stderr"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
}

@test "evpub --help and evpub(1) name the same long options" {
	run --separate-stderr evpub --help
	[ "$status" -eq 0 ]
	help=$(grep -oE -- '--[a-z][a-z0-9-]*' <<< "$output" | sort -u)
	page=$(grep -oE '\bFl -[a-z][a-z0-9-]*' "$ROOT/man/evpub.1" |
	    sed 's/^Fl -/--/' | sort -u)
	[ "$(wc -l <<< "$help")" -ge 10 ]
	diff <(echo "$help") <(echo "$page")
}

@test "the SYNOPSIS of evpub(1) is the usage of evpub --help" {
	command -v mandoc > /dev/null
	run --separate-stderr evpub --help
	[ "$status" -eq 0 ]
	usage=$(sed -n '1,2p' <<< "$output" | sed -e 's/^usage: //' -e 's/^ *//')
	synopsis=$(mandoc -Tascii -O width=200 "$ROOT/man/evpub.1" |
	    sed 's/.\x08//g' | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' |
	    sed -e '1d;$d' -e '/^ *$/d' -e 's/^ *//')
	diff <(echo "$usage") <(echo "$synopsis")
}

# Writes each .Bd -literal block of the EXAMPLES section of evpub(1) to
# $T/ex/N.sh, with the mdoc escapes \e (backslash) and \& undone; fails
# on any other escape, which the extraction would get wrong.
extract_examples() {
	mkdir -p "$T/ex"
	awk -v dir="$T/ex" '
		/^\.Sh / { inex = ($0 == ".Sh EXAMPLES"); next }
		!inex { next }
		/^\.Bd -literal/ { n++; f = dir "/" n ".sh"; inblk = 1; next }
		/^\.Ed/ { inblk = 0; close(f); next }
		inblk { print > f }
	' "$ROOT/man/evpub.1"
	if grep -n '\\[^e&]' "$T"/ex/*.sh; then
		echo "unexpected roff escape in an example" >&2
		return 1
	fi
	sed -i -e 's/\\&//g' -e 's/\\e/\\/g' "$T"/ex/*.sh
}

# The input files the examples name.
make_fixtures() {
	local f="$T/fixtures"
	mkdir -p "$f"
	printf 'Leave it at the back door.\n' > "$f/note.txt"
	cat > "$f/access.log" <<'EOF'
203.0.113.7 - - [29/Nov/2026:10:15:32 +0000] "GET /cart HTTP/1.1" 200 5120 "-" "curl/8.5.0"
203.0.113.9 - ada [29/Nov/2026:10:15:33 +0000] "POST /checkout HTTP/1.1" 302 - "https://shop.example/cart" "Mozilla/5.0"
198.51.100.4 - - [29/Nov/2026:10:15:35 +0000] "GET /missing HTTP/1.1" 404 153 "-" "Mozilla/5.0"
EOF
	cat > "$f/orders.json" <<'EOF'
{
  "orders": [
    {"id": "1017", "created_at": "2026-11-28T09:00:00+01:00", "total": 59.90,
     "items": [{"sku": "A1", "qty": 2}]},
    {"id": "1018", "created_at": "2026-11-28T09:04:12.5Z", "total": 12.00,
     "items": [{"sku": "B7", "qty": 1}]}
  ]
}
EOF
	cat > "$f/upload.jsonl" <<'EOF'
{"sensor":"t-1","celsius":20.5,"ts":1795947330000}
{"sensor":"t-2","celsius":21.0,"ts":1795947331000}
{"sensor":"t-3","celsi
{"sensor":"t-4","celsius":19.8,"ts":1795947333000}
EOF
	cat > "$f/sensors.jsonl" <<'EOF'
{"sensor":"t-4","celsius":21.5,"ts":1795947332250}
{"sensor":"t-5","celsius":22.25,"ts":1795947333001}
{"sensor":"t-6","celsius":-3.0,"ts":"1795947334999"}
EOF
	cat > "$f/recorded.ndjson" <<'EOF'
{"specversion":"1.0","id":"a-1","source":"//door/1","type":"door.opened","time":"2026-11-29T08:00:00Z","data":{"door":"front"}}
{"specversion":"1.0","id":"a-2","source":"//door/1","type":"door.closed","time":"2026-11-29T08:00:09Z","data":{"door":"front"}}
EOF
	cat > "$f/partial.jsonl" <<'EOF'
{"specversion":"1.0","type":"door.opened","data":{"door":"back"}}
{"specversion": "1.0", "type": "door.closed", "data": {"door": "back"}}
EOF
	cat > "$f/app.log" <<'EOF'
2026-11-29T10:00:00Z INFO invoice 881 sent
2026-11-29T10:00:02Z ERROR invoice 882: card declined "insufficient funds"
2026-11-29T10:00:05Z INFO invoice 883 sent
2026-11-29T10:00:07Z ERROR invoice 884: timeout after 30s
EOF
	# tail that does not follow, so that "tail -F log | ..." ends.
	mkdir -p "$T/bin"
	printf '#!/bin/sh\nfor a; do shift; case $a in -F|-f|--follow) ;; *) set -- "$@" "$a" ;; esac; done\nexec %s "$@"\n' \
	    "$(command -v tail)" > "$T/bin/tail"
	chmod +x "$T/bin/tail"
}

# Every line of file $1 is a JSON object.
ndjson() {
	jq -R -n -e '[inputs | fromjson | type == "object"] | all' "$1" > /dev/null
}

@test "every example in evpub(1) runs, with the documented exit status" {
	command -v evpub > /dev/null
	extract_examples
	make_fixtures
	n=0
	for ex in "$T"/ex/*.sh; do
		n=$((n + 1))
		dir="$T/run$n"
		cp -r "$T/fixtures" "$dir"
		want=0
		if grep -q 'exit status 1' "$ex"; then
			want=1
		fi
		echo "# example $n (expect exit status $want):"
		sed 's/^/#   /' "$ex"
		cd "$dir"
		PATH="$T/bin:$PATH" run --separate-stderr timeout 30 bash "$ex"
		cd "$ROOT"
		echo "# status $status, stderr: $stderr"
		[ "$status" -eq "$want" ]
		if [ "$want" -eq 0 ]; then
			[ -z "$stderr" ]
		else
			[[ "$stderr" == evpub:\ * ]]
		fi
		# What it wrote, to stdout or to new .ndjson files, is NDJSON.
		made=0
		if [ -n "$output" ]; then
			printf '%s\n' "$output" > "$T/stdout"
			jq -e . "$T/stdout" > /dev/null
			ndjson "$T/stdout"
			made=1
		fi
		for out in "$dir"/*.ndjson; do
			[ -e "$out" ] || continue
			[ -e "$T/fixtures/${out##*/}" ] && continue
			[ -s "$out" ]
			jq -e . "$out" > /dev/null
			ndjson "$out"
			made=1
		done
		[ "$made" -eq 1 ]
	done
	[ "$n" -ge 6 ]
}
