bats_require_minimum_version 1.5.0
load bus_helpers
# The manual pages: clean for mandoc -Tlint, each program's page in step
# with its --help, and every example in the pages runs as documented.
# The checks are functions taking the program's name; the files that a
# program's examples name are made by fixtures_PROG, and the examples of
# the bus's programs run against a bus of their own (start_bus).

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	T=$(mktemp -d)
	BUS_PIDS=""
}

teardown() {
	bus_teardown
	rm -rf "$T"
}

# start_bus DIR: a bus in memory on the socket DIR/bus.sock, logging to
# DIR/bus.log, named by EVBUS_URL (exported); returns once it listens.
start_bus() {
	mkdir -p "$1"
	export EVBUS_URL="unix:$1/bus.sock"
	bus_start "$1/bus.sock" "$1/bus.log" --memory
}

@test "mandoc -Tlint -W warning reports nothing" {
	if ! command -v mandoc > /dev/null; then
		echo "mandoc is missing (apt-get install mandoc)" >&2
		false
	fi
	pages=("$ROOT"/man/*.[1-8])
	[ -f "$ROOT/man/evpub.1" ]
	[ -f "$ROOT/man/evsub.1" ]
	[ -f "$ROOT/man/evbus.8" ]
	[ -f "$ROOT/man/evfilter.1" ]
	[ -f "$ROOT/man/evkit.7" ]
	[ -f "$ROOT/man/evsign.1" ]
	[ -f "$ROOT/man/evkit-event.5" ]
	run --separate-stderr mandoc -Tlint -W warning "${pages[@]}"
	echo "$output$stderr"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
}

# "$1 --help" and man/$1.$2 ($2: the section, 1 by default) name the
# same long options.  Every "Fl -option" of the page counts, so a page
# names the options of other programs otherwise (Li, Ic).
check_options() {
	local prog=$1 section=${2:-1} help page
	run --separate-stderr "$prog" --help
	[ "$status" -eq 0 ]
	help=$(grep -oE -- '--[a-z][a-z0-9-]*' <<< "$output" | sort -u)
	page=$(grep -oE '\bFl -[a-z][a-z0-9-]*' "$ROOT/man/$prog.$section" |
	    sed 's/^Fl -/--/' | sort -u)
	[ "$(wc -l <<< "$help")" -ge 9 ]
	diff <(echo "$help") <(echo "$page")
}

# The SYNOPSIS of man/$1.$2 ($2: the section, 1 by default) is the usage
# of "$1 --help": its lines up to the first blank line.
check_synopsis() {
	local prog=$1 section=${2:-1} usage synopsis
	command -v mandoc > /dev/null
	run --separate-stderr "$prog" --help
	[ "$status" -eq 0 ]
	usage=$(sed -n '1,/^$/p' <<< "$output" |
	    sed -e '/^$/d' -e 's/^usage: //' -e 's/^ *//')
	[ -n "$usage" ]
	synopsis=$(mandoc -Tascii -O width=200 "$ROOT/man/$prog.$section" |
	    sed 's/.\x08//g' | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' |
	    sed -e '1d;$d' -e '/^ *$/d' -e 's/^ *//')
	diff <(echo "$usage") <(echo "$synopsis")
}

@test "evpub --help and evpub(1) name the same long options" {
	check_options evpub
}

@test "evfilter --help and evfilter(1) name the same long options" {
	check_options evfilter
}

@test "the SYNOPSIS of evpub(1) is the usage of evpub --help" {
	check_synopsis evpub
}

@test "the SYNOPSIS of evfilter(1) is the usage of evfilter --help" {
	check_synopsis evfilter
}

@test "evsub --help and evsub(1) name the same long options" {
	check_options evsub
}

@test "the SYNOPSIS of evsub(1) is the usage of evsub --help" {
	check_synopsis evsub
}

@test "evbus --help and evbus(8) name the same long options" {
	check_options evbus 8
}

@test "the SYNOPSIS of evbus(8) is the usage of evbus --help" {
	check_synopsis evbus 8
}

@test "evsign --help and evsign(1) name the same long options" {
	check_options evsign
}

@test "the SYNOPSIS of evsign(1) is the usage of evsign --help" {
	check_synopsis evsign
	# One usage line for each command.
	run evsign --help
	[ "$(sed -n '1,/^$/p' <<< "$output" | grep -c 'evsign [a-z]')" -eq 5 ]
}

@test "evsign COMMAND --help is evsign --help" {
	run --separate-stderr evsign --help
	[ "$status" -eq 0 ]
	help=$output
	for c in sign verify canon keygen pubkey; do
		run --separate-stderr evsign "$c" --help
		[ "$status" -eq 0 ]
		[ "$output" = "$help" ]
	done
}

# Writes each .Bd -literal block of the section $2 (default EXAMPLES) of
# man/$1.1 (or of man/$1 when $1 names its section, as evkit-event.5) to
# $T/ex/N.sh, with the mdoc escapes \e (backslash) and \& undone; fails
# on any other escape, which the extraction would get wrong.
extract_examples() {
	local page=$1 section=${2:-EXAMPLES}
	case $page in
	*.[1-8]) ;;
	*) page=$page.1 ;;
	esac
	rm -rf "$T/ex"
	mkdir -p "$T/ex"
	awk -v dir="$T/ex" -v sh=".Sh $section" '
		/^\.Sh / { inex = ($0 == sh); next }
		!inex { next }
		/^\.Bd -literal/ { n++; f = dir "/" n ".sh"; inblk = 1; next }
		/^\.Ed/ { inblk = 0; close(f); next }
		inblk { print > f }
	' "$ROOT/man/$page"
	if grep -n '\\[^e&]' "$T"/ex/*.sh; then
		echo "unexpected roff escape in an example" >&2
		return 1
	fi
	sed -i -e 's/\\&//g' -e 's/\\e/\\/g' "$T"/ex/*.sh
}

# A tail in $T/bin that does not follow, so that "tail -F log | ..." ends.
fake_tail() {
	mkdir -p "$T/bin"
	printf '#!/bin/sh\nfor a; do shift; case $a in -F|-f|--follow) ;; *) set -- "$@" "$a" ;; esac; done\nexec %s "$@"\n' \
	    "$(command -v tail)" > "$T/bin/tail"
	chmod +x "$T/bin/tail"
}

# The input files the examples of evpub(1) name, in $1.
fixtures_evpub() {
	local f=$1
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
}

# The input files the examples of evfilter(1) name, in $1.  Some events
# happened minutes ago, for "now() - 15m", one of them in UTC+02:00.
fixtures_evfilter() {
	local f=$1 recent recent2 recent3
	mkdir -p "$f"
	recent=$(date -u -d '-5 minutes' +%Y-%m-%dT%H:%M:%SZ)
	recent2=$(TZ=UTC-2 date -d '-3 minutes' +%Y-%m-%dT%H:%M:%S%:z)
	recent3=$(date -u -d '-2 minutes' +%Y-%m-%dT%H:%M:%S.123456Z)
	cat > "$f/events.ndjson" <<EOF
{"specversion":"1.0","id":"e-1","source":"//shop/web","type":"order.created","time":"2026-11-28T09:00:00Z","data":{"order":"1017","sku":"C3","amount":59.90,"currency":"EUR"}}
{"specversion":"1.0","id":"e-2","source":"//shop/web","type":"order.created","time":"2026-11-28T09:05:00+01:00","data":{"order":"1018","sku":"B7","amount":250,"currency":"EUR","coupon":"WINTER"}}
{"specversion":"1.0","id":"e-3","source":"//shop/web","type":"order.created","time":"2026-11-28T09:06:00Z","data":{"order":"1019","sku":"A1","amount":120.5,"currency":"USD","coupon":null}}
{"specversion":"1.0","id":"e-4","source":"//shop/pay","type":"refund.issued","time":"2026-11-28T10:00:00Z","data":{"order":"1011","amount":150,"currency":"EUR"}}
{"specversion":"1.0","id":"e-5","source":"//shop/pay","type":"order.paid","time":"2026-11-28T10:01:00Z","data":{"order":"1018","amount":250,"currency":"EUR"}}
{"specversion":"1.0","id":"e-6","source":"//auth","type":"auth.failure","time":"$recent","data":{"user":"ada","attempts":1}}
{"specversion":"1.0","id":"e-7","source":"//auth","type":"auth.failure","time":"$recent2","data":{"user":"bob","attempts":1}}
{"specversion":"1.0","id":"e-8","source":"//auth","type":"auth.failure","time":"$recent3","data":{"user":"ada","attempts":3}}
{"specversion":"1.0","id":"e-9","source":"//mon","type":"heartbeat.ping","time":"$recent","data":{"host":"web-1"}}
{"specversion":"1.0","id":"e-10","source":"//ship","type":"shipment.sent","time":"2026-11-28T18:00:00Z","data":{"order":"1017","shipped_at":"2026-11-28T11:00:00-02:00","promised_by":"2026-11-28T12:30:00Z"}}
{"specversion":"1.0","id":"e-11","source":"//ship","type":"shipment.sent","time":"2026-11-28T18:01:00Z","data":{"order":"1018","shipped_at":"2026-11-28T12:00:00+01:00","promised_by":"2026-11-28T12:30:00Z"}}
{"specversion":"1.0","id":"e-12","source":"//mon","type":"heartbeat.ping","time":"2026-11-28T18:02:00Z","data":{"host":"web-2"}}
EOF
	cat > "$f/access.ndjson" <<'EOF'
{"specversion":"1.0","id":"a-1","source":"//web","type":"web.access","time":"2026-11-29T10:15:32Z","data":{"path":"/cart","status":200,"agent":"curl/8.5.0"}}
{"specversion":"1.0","id":"a-2","source":"//web","type":"web.access","time":"2026-11-29T10:15:33Z","data":{"path":"/checkout","status":502,"agent":"Mozilla/5.0"}}
{"specversion":"1.0","id":"a-3","source":"//web","type":"web.access","time":"2026-11-29T10:15:34Z","data":{"path":"/api/v2/items","status":200,"agent":"Mozilla/5.0 (compatible; Googlebot/2.1)"}}
{"specversion":"1.0","id":"a-4","source":"//web","type":"web.access","time":"2026-11-29T10:15:35Z","data":{"path":"/api/v1/orders","status":503,"agent":"curl/8.5.0"}}
{"specversion":"1.0","id":"a-5","source":"//web","type":"web.access","time":"2026-11-29T10:15:36Z","data":{"path":"/apiary","status":200,"agent":"my-crawler"}}
EOF
	cat > "$f/ci.ndjson" <<'EOF'
{"specversion":"1.0","id":"c-1","source":"//ci","type":"build.done","time":"2026-11-29T09:00:00Z","data":{"ok":true}}
{"specversion":"1.0","id":"c-2","source":"//ci","type":"deploy.failed","time":"2026-11-29T09:10:00Z","data":{"env":"staging"}}
{"specversion":"1.0","id":"c-3","source":"//ci","type":"deploy.failed","time":"2026-11-29T09:20:00Z","data":{"env":"prod"}}
EOF
	cat > "$f/sensors.jsonl" <<'EOF'
{"sensor":"t-4","celsius":21.5}
{"sensor":"t-5","celsius":22.25}
{"sensor":"t-6","fahrenheit":70}
EOF
	cat > "$f/upload.ndjson" <<'EOF'
{"specversion":"1.0","id":"u-1","source":"//plant","type":"sensor.reading","time":"2026-11-29T08:00:00Z","data":{"celsius":20.5}}
{"specversion":"1.0","id":"u-2","source":"//plant","type":"sensor.reading","time":"2026-11-29T08:00:01Z","data":{"celsius":21.0}}
{"specversion":"1.0","id":"u-3","source":"//plant","type":"sensor.rea
{"specversion":"1.0","id":"u-4","source":"//plant","type":"sensor.reading","time":"2026-11-29T08:00:03Z","data":{"celsius":19.8}}
EOF
}

# The files the examples of evsign(1) name, in $1: orders of the last
# minutes (so that --max-age 5m keeps them), an HS256 key k.jwk, an
# Ed25519 key old.jwk (id shop-2026-10) with old.jwk.pub, and the orders
# signed with each.  The keys are made by evsign keygen, mode 0600.
fixtures_evsign() {
	local f=$1 t1 t2 t3
	mkdir -p "$f"
	t1=$(date -u -d '-3 minutes' +%Y-%m-%dT%H:%M:%SZ)
	t2=$(date -u -d '-2 minutes' +%Y-%m-%dT%H:%M:%SZ)
	t3=$(date -u -d '-1 minutes' +%Y-%m-%dT%H:%M:%S.250Z)
	cat > "$f/orders.ndjson" <<EOF
{"specversion":"1.0","id":"o-1","source":"//shop/web","type":"order.created","time":"$t1","data":{"order":"1017","sku":"A1","qty":2}}
{"specversion":"1.0","id":"o-2","source":"//shop/web","type":"order.created","time":"$t2","data":{"order":"1018","sku":"B7","qty":1,"note":"caf\\u00e9 \\"au lait\\""}}
{"specversion":"1.0","id":"o-3","source":"//shop/web","type":"order.paid","time":"$t3","data":{"order":"1017","amount":5990,"currency":"EUR"}}
EOF
	evsign keygen -o "$f/k.jwk"
	evsign keygen --ed25519 --kid shop-2026-10 -o "$f/old.jwk"
	evsign sign -k "$f/k.jwk" "$f/orders.ndjson" > "$f/signed.ndjson"
	evsign sign -k "$f/old.jwk" "$f/orders.ndjson" > "$f/old-signed.ndjson"
}

# Every line of file $1 is a JSON object (with $2 "array": or an array,
# for the control lines of the bus's protocol).
ndjson() {
	if [ "${2:-}" = array ]; then
		jq -R -n -e '[inputs | fromjson | type == "object" or type == "array"] | all' \
		    "$1" > /dev/null
	else
		jq -R -n -e '[inputs | fromjson | type == "object"] | all' "$1" > /dev/null
	fi
}

# The events the examples of evsub(1) find on the bus, in $1.
fixtures_evsub() {
	local f=$1
	mkdir -p "$f"
	cat > "$f/shop.ndjson" <<'EOF'
{"specversion":"1.0","id":"e-1","source":"//shop/web","type":"order.created","time":"2026-12-06T09:00:00Z","data":{"order":"1017","amount":59.90,"currency":"EUR"}}
{"specversion":"1.0","id":"e-2","source":"//shop/pay","type":"order.paid","time":"2026-12-06T09:01:00Z","data":{"order":"1017","amount":59.90}}
{"specversion":"1.0","id":"e-3","source":"//auth","type":"user.login","time":"2026-12-06T09:02:00Z","data":{"user":"ada"}}
{"specversion":"1.0","id":"e-4","source":"//shop/web","type":"order.created","time":"2026-12-06T09:03:00Z","data":{"order":"1018","amount":250,"currency":"EUR"}}
{"specversion":"1.0","id":"e-5","source":"//ship","type":"shipment.sent","time":"2026-12-06T09:04:00Z","data":{"order":"1017","carrier":"post"}}
{"specversion":"1.0","id":"e-6","source":"//shop/pay","type":"order.paid","time":"2026-12-06T09:05:00Z","data":{"order":"1018","amount":250}}
EOF
}

# Publishes the events of fixtures_evsub to the bus of $EVBUS_URL, as they
# are (they are complete CloudEvents, which evpub --json passes through).
preload_evsub() {
	evpub -b "$EVBUS_URL" --json "$1/shop.ndjson"
}

# The examples of evbus(8) start buses of their own; they need no file.
fixtures_evbus() {
	mkdir -p "$1"
	: > "$1/empty"
}

# Runs every example of the page of $1 (man/$1.1, or its other section),
# each in a fresh copy of the files that fixtures_$1 makes.  $2 is the kind
# of program: "producer" (exit 1: lines were rejected, and reported),
# "filter" (exit 1: nothing selected), "consumer" (the bus's events,
# passed through), "daemon" (its output may hold the protocol's
# arrays) or "router" (it always writes a summary to standard error, and
# writes files in subdirectories too).  With $3 "bus", each example runs with a bus of its own, named
# by EVBUS_URL, that preload_$1 (when there is one) fills first, and that
# is stopped after it.  $4 is the fewest examples the page has (6).
#  - The exit status is 0, unless the example says "exit status N".
#  - Standard error is empty, unless the example says "standard error",
#    ends with 2, or is a producer's ending with 1: then it is not, and
#    every line of it starts with the name of an evkit program and ": ".
#  - Each example makes something, on standard output or in a new
#    non-empty .ndjson file, and that is NDJSON (a filter's -c: a count).
#  - A filter or a consumer passes events through byte for byte: every
#    line it writes is a line of its input files (unless the example
#    makes events).
run_examples() {
	local prog=$1 kind=$2 bus=${3:-} min=${4:-6} n=0 page ex exs dir want made out line shape depth
	command -v "$prog" > /dev/null
	page=$(cd "$ROOT/man" && ls "$prog".[1-8] | head -1)
	extract_examples "$page"
	"fixtures_$prog" "$T/fixtures"
	fake_tail
	cat "$T"/fixtures/* > "$T/inputs"
	shape=
	if [ "$kind" = daemon ]; then
		shape=array
	fi
	mapfile -t exs < <(printf '%s\n' "$T"/ex/*.sh | sort -V)
	for ex in "${exs[@]}"; do
		n=$((n + 1))
		dir="$T/run$n"
		cp -r "$T/fixtures" "$dir"
		want=0
		if grep -qE 'exit status [0-9]' "$ex"; then
			want=$(grep -oE 'exit status [0-9]' "$ex" | head -1 | cut -c13)
		fi
		echo "# $prog example $n (expect exit status $want):"
		sed 's/^/#   /' "$ex"
		if [ "$bus" = bus ]; then
			start_bus "$T/bus$n"
			if declare -F "preload_$prog" > /dev/null; then
				"preload_$prog" "$dir"
			fi
		fi
		cd "$dir"
		PATH="$T/bin:$PATH" run --separate-stderr timeout 30 bash "$ex" 3>&-
		cd "$ROOT"
		if [ "$bus" = bus ]; then
			stop_bus
			unset EVBUS_URL
		fi
		echo "# status $status, stderr: $stderr"
		[ "$status" -eq "$want" ]
		if [ "$kind" = router ]; then
			grep -q "^$prog: input: " <<< "$stderr"
			[ -z "$(grep -vE '^(evpub|evroute): ' <<< "$stderr")" ]
		elif grep -q 'standard error' "$ex" || [ "$want" -eq 2 ] ||
		    { [ "$kind" = producer ] && [ "$want" -eq 1 ]; }; then
			[ -n "$stderr" ]
			[ -z "$(grep -vE '^(evpub|evsub|evbus|evfilter|evsign): ' <<< "$stderr")" ]
		else
			[ -z "$stderr" ]
		fi
		# What it wrote, to stdout or to new .ndjson files, is NDJSON.
		made=0
		: > "$T/written"
		if [ -n "$output" ]; then
			printf '%s\n' "$output" > "$T/stdout"
			if [ "$kind" = filter ] && grep -qE "$prog .*-c " "$ex"; then
				grep -qxE '[0-9]+' "$T/stdout"
			else
				jq -e . "$T/stdout" > /dev/null
				ndjson "$T/stdout" $shape
				cat "$T/stdout" >> "$T/written"
			fi
			made=1
		fi
		depth=(-maxdepth 1)
		[ "$kind" = router ] && depth=()
		while IFS= read -r out; do
			[ -e "$T/fixtures/${out#"$dir"/}" ] && continue
			[ -s "$out" ]
			jq -e . "$out" > /dev/null
			ndjson "$out" $shape
			cat "$out" >> "$T/written"
			made=1
		done < <(find "$dir" "${depth[@]}" -name '*.ndjson' -type f)
		[ "$made" -eq 1 ]
		if { [ "$kind" = filter ] || [ "$kind" = consumer ] ||
		    [ "$kind" = router ]; } &&
		    ! grep -q 'evpub ' "$ex"; then
			while IFS= read -r line; do
				if ! grep -qxF -- "$line" "$T/inputs"; then
					echo "# not a line of the input: $line"
					return 1
				fi
			done < "$T/written"
		fi
	done
	[ "$n" -ge "$min" ]
}

@test "every example in evpub(1) runs, with the documented exit status" {
	run_examples evpub producer bus
}

@test "every example in evsub(1) runs against a bus, with the documented exit status" {
	run_examples evsub consumer bus 9
}

@test "every example in evbus(8) runs, with the documented exit status" {
	command -v socat > /dev/null
	run_examples evbus daemon bus 3
}

# Replays the sessions of "A session by hand" in evbus(8), in order, on a
# new bus: the lines typed (a publisher's lines that are not arrays; a
# subscriber's hello and its acknowledgements) are sent one by one, and
# what the bus answers must be the other lines, exactly.
@test "the sessions by hand in evbus(8) are what a bus answers" {
	command -v socat > /dev/null
	extract_examples evbus.8 PROTOCOL
	[ "$(ls "$T/ex" | wc -l)" -eq 3 ]
	start_bus "$T/bus"
	local f line sub first
	for f in "$T"/ex/1.sh "$T"/ex/2.sh "$T"/ex/3.sh; do
		head -1 "$f" | grep -q '^\$ socat - UNIX-CONNECT:'
		sub=0
		if sed -n 2p "$f" | grep -q '"op":"sub"'; then
			sub=1
		fi
		: > "$T/typed"
		: > "$T/want"
		first=1
		while IFS= read -r line; do
			if [ "$first" = 1 ] ||
			    { [ "$sub" = 0 ] && [ "${line:0:1}" != "[" ]; } ||
			    { [ "$sub" = 1 ] && [[ $line =~ ^\[\"ack\",[0-9]+\]$ ]]; }; then
				printf '%s\n' "$line" >> "$T/typed"
			else
				printf '%s\n' "$line" >> "$T/want"
			fi
			first=0
		done < <(tail -n +2 "$f")
		echo "# session ${f##*/}, typed:"
		sed 's/^/#   /' "$T/typed"
		{
			while IFS= read -r line; do
				printf '%s\n' "$line"
				sleep 0.5
			done < "$T/typed"
			sleep 0.5
		} | socat -t 2 - "UNIX-CONNECT:${EVBUS_URL#unix:}" > "$T/got" 3>&-
		diff "$T/want" "$T/got"
	done
	stop_bus
}

@test "every example in evfilter(1) runs, with the documented exit status" {
	run_examples evfilter filter
	[ "$(ls "$T/ex" | wc -l)" -ge 8 ]
}

@test "every example in evsign(1) runs, with the documented exit status" {
	command -v python3 > /dev/null
	run_examples evsign producer
	[ "$(ls "$T/ex" | wc -l)" -ge 10 ]
}

# The worked example of evkit-event(5), in the order of its blocks: the
# HS256 key, the event, its signed bytes, the signed event, the same with
# openssl; then the Ed25519 key, signed bytes, signed event, openssl.
# $1..$4 are the numbers of the blocks of one key.
check_worked_example() {
	local key=$1 bytes=$2 signed=$3 script=$4 sig
	cp "$T/ex/$key.sh" "$T/key.jwk"
	chmod 600 "$T/key.jwk"
	run --separate-stderr evsign canon -k "$T/key.jwk" "$T/event.ndjson"
	echo "# canon: $output $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$T/ex/$bytes.sh")" ]
	run --separate-stderr evsign sign -k "$T/key.jwk" "$T/event.ndjson"
	echo "# sign: $output $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$T/ex/$signed.sh")" ]
	run --separate-stderr evsign canon "$T/ex/$signed.sh"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$T/ex/$bytes.sh")" ]
	run --separate-stderr evsign verify -k "$T/key.jwk" "$T/ex/$signed.sh"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$T/ex/$signed.sh")" ]
	# The recipe with standard tools gives the same "sig".
	sig=$(jq -r .sig "$T/ex/$signed.sh")
	printf '%s' "$(cat "$T/ex/$bytes.sh")" > "$T/msg"
	cd "$T"
	run --separate-stderr bash "$T/ex/$script.sh"
	cd "$ROOT"
	echo "# $script.sh: $output $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "$sig" ]
	# Without its "kid", the key's id is the thumbprint the page gives.
	jq -c 'del(.kid)' "$T/ex/$key.sh" > "$T/key.jwk"
	chmod 600 "$T/key.jwk"
	run --separate-stderr evsign sign -k "$T/key.jwk" "$T/event.ndjson"
	[ "$status" -eq 0 ]
	grep -qF "$(jq -r .sigkid <<< "$output")" "$ROOT/man/evkit-event.5"
}

@test "the worked example of evkit-event(5) is what evsign and openssl compute" {
	command -v openssl > /dev/null
	extract_examples evkit-event.5
	[ "$(ls "$T/ex" | wc -l)" -eq 9 ]
	cp "$T/ex/2.sh" "$T/event.ndjson"
	check_worked_example 1 3 4 5
	check_worked_example 6 7 8 9
}

# Events on which jq and evfilter agree where evfilter(1) says they do:
# every field a translation reads is there with the type it expects (jq
# stops at a string function on null), times in UTC without fraction.
fixtures_translations() {
	local recent old
	recent=$(date -u -d '-2 minutes' +%Y-%m-%dT%H:%M:%SZ)
	old=$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ)
	cat > "$1" <<EOF
{"type":"order.created","time":"$recent","msg":"disk full","path":"/api/v1/x","code":"X","id":"1","cur":"EUR","name":"Ada","a":true,"b":false,"tags":["vip","new"],"data":{"amount":150,"items":[{"sku":"A1","qty":1},{"sku":"B7","qty":3}],"odd key":1,"coupon":null}}
{"type":"order.paid","time":"$old","msg":"Error: timeout","path":"/cart","code":"y","id":2,"cur":"USD","name":"Bo","a":true,"b":true,"tags":["new"],"data":{"amount":100,"items":[{"sku":"C3","qty":2}],"odd key":2,"coupon":"WINTER"}}
{"type":"order.created.eu","time":"$old","msg":"ok","path":"/api","code":"x","id":"3","cur":"GBP","name":"Chloé","a":false,"tags":[],"data":{"amount":99.5,"items":[]}}
{"type":"refund","time":"$recent","msg":"no disk","path":"/api/","code":"Z","id":null,"cur":"EUR","name":"Dmitri","a":1,"b":null,"data":{"amount":100.25}}
EOF
}

@test "the jq translations in evfilter(1) select what jq selects" {
	command -v jq > /dev/null
	extract_examples evfilter "COMPARED WITH jq"
	[ "$(ls "$T/ex" | wc -l)" -eq 1 ]
	fixtures_translations "$T/events.ndjson"
	n=0
	while IFS= read -r row; do
		[ -n "$row" ] || continue
		n=$((n + 1))
		# The two columns are separated by two spaces or more.
		j=$(sed -E 's/^(.*[^ ])  +[^ ].*$/\1/' <<< "$row")
		e=$(sed -E 's/^.*[^ ]  +([^ ].*)$/\1/' <<< "$row")
		echo "# jq -c '$j'  |  evfilter '$e'"
		jq -c "$j" "$T/events.ndjson" > "$T/jq.out"
		run --separate-stderr evfilter "$e" "$T/events.ndjson"
		echo "# jq: $(cat "$T/jq.out")"
		echo "# evfilter ($status): $output"
		[ "$status" -le 1 ]
		[ -z "$stderr" ]
		[ "$output" = "$(cat "$T/jq.out")" ]
		# Some events are selected and some are not: each row says
		# something about these events.
		[ -s "$T/jq.out" ]
		[ "$(wc -l < "$T/jq.out")" -lt 4 ]
	done < "$T/ex/1.sh"
	[ "$n" -ge 15 ]
}

@test "evroute --help and evroute(1) name the same long options" {
	check_options evroute
}

@test "the SYNOPSIS of evroute(1) is the usage of evroute --help" {
	check_synopsis evroute
}

# The files the examples of evroute(1) name, in $1.
fixtures_evroute() {
	local f=$1
	mkdir -p "$f"
	cat > "$f/access.ndjson" <<'EOF2'
{"specversion":"1.0","id":"a-1","source":"//web","type":"web.access","time":"2026-11-29T10:15:32Z","data":{"path":"/cart","status":200}}
{"specversion":"1.0","id":"a-2","source":"//web","type":"web.access","time":"2026-11-29T10:15:33Z","data":{"path":"/checkout","status":502}}
{"specversion":"1.0","id":"a-3","source":"//web","type":"web.access","time":"2026-11-29T10:15:34Z","data":{"path":"/missing","status":404}}
{"specversion":"1.0","id":"a-4","source":"//web","type":"web.access","time":"2026-11-29T10:15:35Z","data":{"path":"/api/v1/orders","status":503}}
{"specversion":"1.0","id":"a-5","source":"//web","type":"web.access","time":"2026-11-29T10:15:36Z","data":{"path":"/","status":301}}
EOF2
	cat > "$f/events.ndjson" <<'EOF2'
{"specversion":"1.0","id":"e-1","source":"//shop","type":"order.created","time":"2026-11-29T10:00:00Z","data":{"tenant":"acme","order":"1017"}}
{"specversion":"1.0","id":"e-2","source":"//shop","type":"order.paid","time":"2026-11-29T10:01:00Z","data":{"tenant":"acme","order":"1017"}}
{"specversion":"1.0","id":"e-3","source":"//shop","type":"order.created","time":"2026-11-29T10:02:00Z","data":{"tenant":"../globex","order":"1018"}}
{"specversion":"1.0","id":"e-4","source":"//auth","type":"user.login","time":"2026-11-29T10:03:00Z","data":{"user":"ada"}}
{"specversion":"1.0","id":"e-5","source":"//shop","type":"order.shipped","time":"2026-11-29T10:04:00Z","data":{"order":"1017"}}
EOF2
	cat > "$f/sensors.jsonl" <<'EOF2'
{"sensor":"t-4","celsius":21.5}
{"sensor":"t-5","celsius":22.25}
{"sensor":"t-4","celsius":21.75}
EOF2
}

# The examples of evroute(1) run (see run_examples) and do what they say.
@test "every example in evroute(1) runs, with the documented exit status" {
	run_examples evroute router
	# What the examples promise: the status classes, the tenants.
	[ "$(jq -r .id "$T/run1/5xx.ndjson" | paste -sd,)" = a-2,a-4 ]
	[ "$(jq -r .id "$T/run1/4xx.ndjson" | paste -sd,)" = a-3 ]
	[ "$(jq -r .id "$T/run1/ok.ndjson" | paste -sd,)" = a-1,a-5 ]
	[ "$(jq -r .id "$T/run2/tenants/acme/orders.ndjson" | paste -sd,)" = e-1,e-2 ]
	[ "$(jq -r .id "$T/run2/tenants/%2E.%2Fglobex/orders.ndjson")" = e-3 ]
	[ "$(jq -r .id "$T/run2/tenants/_missing/orders.ndjson")" = e-5 ]
	[ "$(cat "$T/run3/alerts.txt")" = "$(printf 'ALERT /checkout\nALERT /api/v1/orders')" ]
	[ "$(wc -l < "$T/run3/archive.ndjson")" -eq 5 ]
	[ "$(jq -r .id "$T/run4/payments.ndjson")" = e-2 ]
	[ "$(jq -r .id "$T/run4/orders.ndjson" | paste -sd,)" = e-1,e-3,e-5 ]
	[ "$(jq -r .id "$T/run4/other.ndjson")" = e-4 ]
	[ "$(wc -l < "$T/run5/sensors/t-4.ndjson")" -eq 2 ]
	[ "$(jq -r .id "$T/run6/undelivered.ndjson" | paste -sd,)" = e-1,e-2,e-3,e-5 ]
}
