#!/usr/bin/env bats
# evpub: every form, every option, every kind of bad input.

bats_require_minimum_version 1.5.0

setup() {
	T=$(mktemp -d)
	UUID7='^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
	TIME6='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$'
}

teardown() {
	rm -rf "$T"
}

# Each line of $1 is a valid CloudEvent by evpub's own validator (a
# passthrough that must leave the bytes as they are) and by jq.
valid_events() {
	evpub --json < "$1" > "$T/again"
	cmp "$1" "$T/again"
	jq -e 'select(.specversion == "1.0" and (.id|type) == "string"
	    and (.source|type) == "string" and (.type|type) == "string")' \
	    "$1" > /dev/null
}

@test "--help and --version" {
	run evpub --help
	[ "$status" -eq 0 ]
	[[ "$output" == usage:\ evpub* ]]
	[[ "$output" == *--dead-letter* ]]
	run evpub --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^evpub\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "one event from arguments, typed like jo" {
	run --separate-stderr evpub -t order.created -s //shop/web sku=A1 qty=2 \
	    paid=true note="two words" 'items:=[1,2]' a.b=1 empty=
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	echo "$output" > "$T/ev"
	valid_events "$T/ev"
	[ "$(jq -c .data "$T/ev")" = \
	    '{"sku":"A1","qty":2,"paid":true,"note":"two words","items":[1,2],"a":{"b":1},"empty":""}' ]
	[ "$(jq -r .type "$T/ev")" = order.created ]
	[ "$(jq -r .source "$T/ev")" = //shop/web ]
	[ "$(jq -r .datacontenttype "$T/ev")" = application/json ]
	[ "$(jq -r .specversion "$T/ev")" = 1.0 ]
	[[ "$(jq -r .id "$T/ev")" =~ $UUID7 ]]
	[[ "$(jq -r .time "$T/ev")" =~ $TIME6 ]]
	[ "$(jq -r 'has("subject")' "$T/ev")" = false ]
}

@test "attribute order is fixed and the default source names the host" {
	run evpub -t x.y k=v
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r '[keys_unsorted[]]|join(",")')" = \
	    specversion,id,source,type,time,datacontenttype,data ]
	[ "$(echo "$output" | jq -r .source)" = "//$(hostname)/evpub" ]
}

@test "no arguments: an event without data" {
	run evpub -t ci.build.done --subject "job 42"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r 'has("data")')" = false ]
	[ "$(echo "$output" | jq -r .subject)" = "job 42" ]
}

@test "key=@file reads a file as a string" {
	printf 'line "1"\nline 2\n' > "$T/msg"
	run evpub -t x msg=@"$T/msg"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -c .data.msg)" = '"line \"1\"\nline 2\n"' ]
}

@test "bad arguments are usage errors with the argument named" {
	run --separate-stderr evpub -t x a=1 a=2
	[ "$status" -eq 2 ]
	[ "$stderr" = 'evpub: a=2: duplicate key "a"' ]
	[ -z "$output" ]
	run --separate-stderr evpub -t x 'j:=[1,'
	[ "$status" -eq 2 ]
	[ "$stderr" = "evpub: j:=[1,: unexpected end of input at column 7" ]
	run --separate-stderr evpub -t x novalue
	[ "$status" -eq 2 ]
	[ "$stderr" = "evpub: novalue: expected key=value, key:=JSON or key=@FILE" ]
	run --separate-stderr evpub -t x f=@"$T/missing"
	[ "$status" -eq 2 ]
	[ "$stderr" = "evpub: f=@$T/missing: $T/missing: No such file or directory" ]
}

@test "usage errors exit 2" {
	run --separate-stderr evpub k=v
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evpub: -t TYPE is required (except with --json)"* ]]
	run --separate-stderr evpub -t x --raw --json
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evpub: --raw, --json and --parse exclude each other"* ]]
	run --separate-stderr evpub -t 'order.*' k=v
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evpub: -t order.*: wildcard '*' in topic"* ]]
	run --separate-stderr evpub -t 'a..b' k=v
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evpub: -t a..b: empty token in topic"* ]]
	run --separate-stderr evpub -t x --raw --max-line 5x
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evpub: --max-line 5x: invalid number"* ]]
	run --separate-stderr evpub -t x --raw --max-line 0
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evpub: --max-line 0: too small"* ]]
	run --separate-stderr evpub -t x --json --max-depth 99999
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evpub: --max-depth 99999: too large"* ]]
	run --separate-stderr evpub -t x --raw --time-field ts
	[ "$status" -eq 2 ]
	run --separate-stderr evpub -t x --parse-types auto --raw
	[ "$status" -eq 2 ]
	run --separate-stderr evpub -t x --parse '(?<a>'
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evpub: --parse: missing closing parenthesis at column 6"* ]]
	run --separate-stderr evpub -t x --parse '(\d+)'
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evpub: --parse: the pattern has no named groups"* ]]
	run --separate-stderr evpub -t x -s '' k=v
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evpub: empty source"* ]]
	run --separate-stderr evpub --bogus
	[ "$status" -eq 2 ]
	# getopt's messages name the program, also when run by its path.
	run --separate-stderr "$(command -v evpub)" --bogus
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evpub: unrecognized option '--bogus'"* ]]
}

@test "--raw: each line becomes a text/plain string event" {
	printf 'first\r\n\nsay "hi"\tand é\nlast' > "$T/in"
	run --separate-stderr evpub -t log.line --raw < "$T/in"
	[ "$status" -eq 0 ]
	echo "$output" > "$T/out"
	valid_events "$T/out"
	[ "$(jq -c .data "$T/out" | paste -sd'|')" = \
	    '"first"|""|"say \"hi\"\tand é"|"last"' ]
	[ "$(jq -r .datacontenttype "$T/out" | sort -u)" = text/plain ]
}

@test "ids are unique and increasing across a stream" {
	seq 1 20000 | evpub -t n --raw > "$T/out"
	[ "$(jq -r .id "$T/out" | sort -u | wc -l)" -eq 20000 ]
	jq -r .id "$T/out" > "$T/ids"
	LC_ALL=C sort -c "$T/ids"
}

@test "--json: each value becomes data, bytes kept" {
	printf '%s\n' '{"a": 1, "b":[1.50, "x"]}' '42' '"s"' '' '  ' \
	    '123456789012345678901234' 'null' > "$T/in"
	run --separate-stderr evpub -t t.v --json < "$T/in"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	echo "$output" > "$T/out"
	valid_events "$T/out"
	[ "$(wc -l < "$T/out")" -eq 5 ]
	# The data bytes are the input bytes, not a re-serialisation.
	[[ "$(sed -n 1p "$T/out")" == *',"data":{"a": 1, "b":[1.50, "x"]}}' ]]
	[[ "$(sed -n 4p "$T/out")" == *',"data":123456789012345678901234}' ]]
}

@test "--json: a CloudEvent passes through, missing attributes filled" {
	full='{"specversion":"1.0","id":"1","source":"s","type":"t","time":"2020-01-01T00:00:00Z","data":{"x":1}}'
	part='{"specversion" : "1.0", "type":"a.b", "data":[1]}'
	printf '%s\n' "$full" "$part" > "$T/in"
	run --separate-stderr evpub --json -s //me < "$T/in"
	[ "$status" -eq 0 ]
	[ "$(sed -n 1p <<< "$output")" = "$full" ]
	line2=$(sed -n 2p <<< "$output")
	[[ "$line2" == '{"id":"'*'","source":"//me","time":"'*'","specversion" : "1.0", "type":"a.b", "data":[1]}' ]]
	echo "$line2" > "$T/o2"
	valid_events "$T/o2"
}

@test "--json: an invalid CloudEvent or a value without -t is rejected" {
	printf '%s\n' '{"specversion":"1.0","id":"1","source":"s","type":"t","Bad":1}' \
	    '{"specversion":"1.0","id":"2","source":"s","type":"t"}' '[1]' > "$T/in"
	run --separate-stderr evpub --json < "$T/in"
	[ "$status" -eq 1 ]
	[ "$(sed -n 1p <<< "$stderr")" = \
	    'evpub: line 1: invalid CloudEvent: attribute name "Bad" is not lowercase a-z0-9' ]
	[ "$(sed -n 2p <<< "$stderr")" = \
	    'evpub: line 3: not a CloudEvent, and no -t TYPE given' ]
	[ "$(echo "$output" | jq -r .id)" = 2 ]
}

@test "--parse: named groups become data, --parse-types types them" {
	cat > "$T/log" <<'EOF'
127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /index.html HTTP/1.0" 200 2326
garbage line
10.0.0.2 - bob [10/Oct/2000:13:55:37 -0700] "POST /api HTTP/1.1" 500 -
EOF
	re='^(?<ip>\S+) \S+ (?<user>\S+) \[(?<ts>[^]]+)\] "(?<method>\w+) (?<path>\S+)[^"]*" (?<status>\d+) (?<bytes>\S+)'
	run --separate-stderr evpub -t web.access --parse "$re" --parse-types status=number < "$T/log"
	[ "$status" -eq 1 ]
	[ "$stderr" = "evpub: line 2: no match for --parse" ]
	echo "$output" > "$T/out"
	valid_events "$T/out"
	[ "$(jq -c .data "$T/out" | head -1)" = \
	    '{"ip":"127.0.0.1","user":"-","ts":"10/Oct/2000:13:55:36 -0700","method":"GET","path":"/index.html","status":200,"bytes":"2326"}' ]
	[ "$(jq -r .data.bytes "$T/out" | tail -1)" = - ]
	run --separate-stderr evpub -t web.access --parse "$re" --parse-types bytes=number < "$T/log"
	[ "$status" -eq 1 ]
	[ "$(sed -n 2p <<< "$stderr")" = 'evpub: line 3: group "bytes" is not a number' ]
	[ "$(echo "$output" | wc -l)" -eq 1 ]
}

@test "--time-field: RFC 3339 with offsets, epoch seconds and milliseconds" {
	printf '%s\n' '{"ts":"2024-02-29T23:30:00.5-01:00"}' '{"ts":1700000000}' \
	    '{"ts":1700000000250}' '{"m":{"t":"1700000001"}}' '{"x":1}' \
	    '{"ts":"noon"}' > "$T/in"
	run --separate-stderr evpub -t x --json --time-field ts < "$T/in"
	[ "$status" -eq 1 ]
	[ "$(jq -r .time <<< "$output" | paste -sd' ')" = \
	    "2024-03-01T00:30:00.500000Z 2023-11-14T22:13:20.000000Z 2023-11-14T22:13:20.250000Z" ]
	[ "$(sed -n 1p <<< "$stderr")" = 'evpub: line 4: --time-field ts: no field "ts"' ]
	[ "$(sed -n 3p <<< "$stderr")" = 'evpub: line 6: --time-field ts: expected a digit at column 1' ] || \
	    [[ "$(sed -n 3p <<< "$stderr")" == 'evpub: line 6: --time-field ts: '* ]]
	run evpub -t x --json --time-field m.t <<< '{"m":{"t":"1700000001"}}'
	[ "$(jq -r .time <<< "$output")" = 2023-11-14T22:13:21.000000Z ]
	run evpub -t x --time-field when when=2020-01-01T00:00:00Z
	[ "$(jq -r .time <<< "$output")" = 2020-01-01T00:00:00.000000Z ]
}

@test "-o FILE appends" {
	evpub -t a -o "$T/out" k=1
	evpub -t b -o "$T/out" k=2
	[ "$(jq -r .type "$T/out" | paste -sd,)" = a,b ]
	run --separate-stderr evpub -t a -o "$T/no/such/dir" k=1
	[ "$status" -eq 2 ]
	[ "$stderr" = "evpub: $T/no/such/dir: No such file or directory" ]
}

@test "bad lines are reported, kept verbatim, and the good ones still flow" {
	{
		printf '{"n":1}\n'
		printf '{"n":\n'                  # malformed
		printf '{"n":"\xff"}\n'           # invalid UTF-8
		printf '{"n":3}\r\n'
		printf 'a\0b\n'                   # NUL
		printf '{"n":%s}\n' "$(printf '1%.0s' $(seq 1 200))"  # too long
		printf '{"a":1,"a":2}\n'          # duplicate key
		printf '[[[[1]]]]\n'              # too deep
		printf '{"n":5}\n'
		printf '{"n":6'                   # truncated last line
	} > "$T/in"
	run --separate-stderr evpub -t x --json --max-line 100 --max-depth 3 \
	    --dead-letter "$T/dead" < "$T/in"
	[ "$status" -eq 1 ]
	[ "$(echo "$output" | jq -c .data | paste -sd' ')" = '{"n":1} {"n":3} {"n":5}' ]
	expected_err="evpub: line 2: invalid JSON: unexpected end of input at column 6
evpub: line 3: invalid JSON: invalid UTF-8 at column 7
evpub: line 5: NUL byte in line
evpub: line 6: line too long (206 bytes, limit 100)
evpub: line 7: invalid JSON: duplicate key \"a\" at column 8
evpub: line 8: invalid JSON: nested deeper than 3 at column 4
evpub: line 10: invalid JSON: unexpected end of input at column 7"
	diff <(echo "$stderr") <(echo "$expected_err")
	# The dead letters are the rejected lines, byte for byte.
	sed -n '2,3p;5,8p;10p' "$T/in" > "$T/want"
	printf '\n' >> "$T/want"   # the truncated line gets its newline
	cmp "$T/dead" "$T/want"
}

@test "--raw rejects invalid UTF-8 and NUL, keeps CRLF in dead letters" {
	printf 'ok\r\nbad\xc3\x28\r\nnul\0\r\nfine\n' > "$T/in"
	run --separate-stderr evpub -t x --raw --dead-letter "$T/dead" < "$T/in"
	[ "$status" -eq 1 ]
	[ "$(echo "$output" | jq -r .data | paste -sd,)" = ok,fine ]
	[ "$stderr" = "evpub: line 2: invalid UTF-8 at column 4
evpub: line 3: NUL byte in line" ]
	printf 'bad\xc3\x28\r\nnul\0\r\n' | cmp - "$T/dead"
}

@test "files as operands: names in messages, a missing file is an error, others still read" {
	printf '1\n' > "$T/a"
	printf '{x\n2\n' > "$T/b"
	run --separate-stderr evpub -t x --json "$T/a" "$T/missing" "$T/b"
	[ "$status" -eq 2 ]
	[ "$(echo "$output" | jq -c .data | paste -sd,)" = 1,2 ]
	[ "$stderr" = "evpub: $T/missing: No such file or directory
evpub: $T/b:1: invalid JSON: unexpected 'x' at column 2" ] || {
		echo "$stderr"; false; }
}

@test "a closed downstream ends quietly (| head -1)" {
	seq 1 300000 > "$T/in"
	run bash -c 'evpub -t x --raw < "$1" 2>"$2" | head -1 > /dev/null; echo "${PIPESTATUS[0]}"' _ "$T/in" "$T/err"
	[ "$output" = 0 ]
	[ ! -s "$T/err" ]
}

@test "a full disk is an error, exit 2" {
	run --separate-stderr bash -c 'evpub -t x k=v > /dev/full'
	[ "$status" -eq 2 ]
	[ "$stderr" = "evpub: write: No space left on device" ]
}

@test "--line-buffered: each event is out before the next line comes" {
	coproc EVP { evpub -t x --raw --line-buffered; }
	pid=$EVP_PID   # bash unsets EVP_PID once it reaps the coprocess
	echo one >&"${EVP[1]}"
	read -r -t 10 line <&"${EVP[0]}"
	[ "$(jq -r .data <<< "$line")" = one ]
	echo two >&"${EVP[1]}"
	read -r -t 10 line <&"${EVP[0]}"
	[ "$(jq -r .data <<< "$line")" = two ]
	exec {EVP[1]}>&-
	wait "$pid" 2> /dev/null || true
}

@test "SIGTERM: the events made so far are written, then the signal ends it" {
	mkfifo "$T/fifo"
	evpub -t x --raw < "$T/fifo" > "$T/out" &
	pid=$!
	exec 4> "$T/fifo"
	# Bounded waits, no bare sleep: first until evpub waits for input
	# (in pselect: wchan poll_schedule_timeout, or syscall 270 on x86-64),
	# then until it has read our 4 bytes and waits again.  The events sit
	# in its output buffer: the file stays empty until it stops.
	waiting() {
		grep -q poll_schedule /proc/$pid/wchan 2>/dev/null ||
		    [ "$(cut -d' ' -f1 /proc/$pid/syscall 2>/dev/null)" = 270 ]
	}
	rchar() { awk '/^rchar/ {print $2}' /proc/$pid/io; }
	for i in $(seq 1 200); do waiting && break; sleep 0.05; done
	r0=$(rchar)
	printf 'a\nb\n' >&4
	for i in $(seq 1 200); do
		[ "$(rchar)" -ge $((r0 + 4)) ] && waiting && break
		sleep 0.05
	done
	[ ! -s "$T/out" ]
	kill -TERM "$pid"
	rc=0; wait "$pid" || rc=$?
	exec 4>&-
	[ "$rc" -eq 143 ]
	[ "$(jq -r .data "$T/out" | paste -sd,)" = a,b ]
}

@test "SIGTERM while input is always ready (a big file): stops with whole events" {
	seq 1 5000000 > "$T/big"
	evpub -t x --raw "$T/big" > "$T/out" &
	pid=$!
	# Bounded wait until output has started, then stop it mid-file.
	for i in $(seq 1 400); do [ -s "$T/out" ] && break; sleep 0.02; done
	kill -TERM "$pid"
	rc=0; wait "$pid" || rc=$?
	[ "$rc" -eq 143 ]
	n=$(wc -l < "$T/out")
	[ "$n" -gt 0 ] && [ "$n" -lt 5000000 ]
	# Every event written is whole, and they are the first n lines in order.
	[ "$(jq -r .data "$T/out" | tail -1)" = "$n" ]
}

@test "options after KEY=VALUE operands, and --max-depth applies to :=JSON" {
	run --separate-stderr evpub -t x 'a:=[[1]]' --max-depth 2
	[ "$status" -eq 0 ]
	run --separate-stderr evpub -t x 'a:=[[[1]]]' --max-depth 2
	[ "$status" -eq 2 ]
	[ "$stderr" = "evpub: a:=[[[1]]]: nested deeper than 2 at column 6" ]
}

@test "--time-field does not override the time a CloudEvent already has" {
	printf '%s\n' '{"specversion":"1.0","id":"1","source":"s","type":"t","time":"2020-01-01T00:00:00Z"}' \
	    '{"specversion":"1.0","id":"2","source":"s","type":"t","ts":1700000000}' > "$T/in"
	run --separate-stderr evpub --json --time-field ts < "$T/in"
	[ "$status" -eq 0 ]
	[ "$(jq -r .time <<< "$output" | paste -sd' ')" = \
	    "2020-01-01T00:00:00Z 2023-11-14T22:13:20.000000Z" ]
}
