#!/usr/bin/env bats
# evroute: every destination kind, templates with hostile values, fan-out
# and --first, --else, logrotate with SIGHUP, a socket that goes away and
# comes back, an exec child that dies, a full disk, a destination that
# blocks, bad input and bad rules.

bats_require_minimum_version 1.5.0
load bus_helpers

setup() {
	T=$BATS_TEST_TMPDIR
	PIDS=""
	MNT=""
	BUS_PIDS=""
	cat > "$T/ev" <<'EOF'
{"type":"order.created","id":1,"data":{"region":"eu","status":200,"tenant":"acme"}}
{"type":"order.paid","id":2,"data":{"region":"us","status":503,"tenant":"acme"}}
{"type":"user.login","id":3,"data":{"region":"eu","status":404,"tenant":"globex"}}
{"type":"order.created","id":4,"data":{"region":"us","status":201,"tenant":"initech"}}
{"type":"web.access","id":5,"data":{"status":500}}
EOF
}

teardown() {
	local p
	for p in $PIDS; do
		kill "$p" 2> /dev/null || true
	done
	for p in $PIDS; do
		wait "$p" 2> /dev/null || true
	done
	for p in ${BUS_PIDS:-}; do
		kill -CONT "$p" 2> /dev/null || true
	done
	bus_teardown
	if [ -n "$MNT" ]; then
		umount "$MNT" 2> /dev/null || umount -l "$MNT" || true
	fi
}

# bg CMD...: runs CMD in the background (fd 3 closed), remembers its PID
# in $BG and for teardown.
bg() {
	"$@" 0<&0 3>&- 4>&- &
	BG=$!
	PIDS="$PIDS $BG"
}

# wait_lines FILE N: waits (at most 10 s) until FILE has at least N lines.
wait_lines() {
	local i
	for i in $(seq 200); do
		if [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]; then
			return 0
		fi
		sleep 0.05
	done
	echo "# $1 has $(wc -l < "$1" 2> /dev/null) lines, not $2" >&2
	return 1
}

# wait_file FILE: waits (at most 10 s) until FILE exists.
wait_file() {
	local i
	for i in $(seq 200); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# wait_exit PID: waits (at most 15 s) for PID to end; sets $rc.
wait_exit() {
	local i
	for i in $(seq 300); do
		kill -0 "$1" 2> /dev/null || break
		sleep 0.05
	done
	if kill -0 "$1" 2> /dev/null; then
		echo "# process $1 did not end" >&2
		return 1
	fi
	rc=0
	wait "$1" || rc=$?
	PIDS=${PIDS/ $1/}
}

# listen SOCKET OUT: a Unix stream socket server (python3) writing what
# each connection sends to OUT, one connection after the other.
listen() {
	bg python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(4)
out = open(sys.argv[2], "ab", buffering=0)
while True:
    c, _ = s.accept()
    while True:
        d = c.recv(65536)
        if not d:
            break
        out.write(d)
    c.close()
' "$1" "$2"
	wait_file "$1"
}

# ids FILE: the ids of the events in FILE, comma-separated.
ids() {
	jq -r .id "$1" | paste -sd, -
}

@test "--help, --version, usage errors" {
	run --separate-stderr evroute --help
	[ "$status" -eq 0 ]
	[[ "$output" == "usage: evroute [options] RULES [FILE ...]"* ]]
	[[ "$output" == *--on-full* ]]
	run --separate-stderr evroute --version
	[[ "$output" =~ ^evroute\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	run --separate-stderr evroute
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"evroute: no rules (RULES, -r RULE or -f RULES)"* ]]
	run --separate-stderr evroute --on-full later -r '* -> null'
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"evroute: --on-full later: block or drop-new"* ]]
	run --separate-stderr evroute --file-mode 0999 -r '* -> null'
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"--file-mode 0999: not an octal mode"* ]]
	run --separate-stderr evroute --max-open 0 -r '* -> null'
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"--max-open 0: too small"* ]]
	run --separate-stderr evroute -f "$T/nope" < /dev/null
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"$T/nope: No such file or directory"* ]]
}

@test "bad rules: every error with its line and column, exit 2, nothing read" {
	cat > "$T/rules" <<'EOF'
# comment, then a blank line

order.> -> file:OUT/orders.ndjson
order.> => file:x
  data.status >= ( -> stdout
foo -> fiel:x
order.* -> file:out/{data..x}.ndjson
order* -> stdout
 -> stdout
x -> file:a{b
x -> fd:0
x -> unix:
web.access ->
EOF
	cd "$T"
	run --separate-stderr evroute -f rules "$T/ev"
	cd - > /dev/null
	echo "$stderr"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[ ! -e "$T/OUT" ]
	grep -qxF "evroute: rules:4:18: missing '->' between the rule and its destination" <<< "$stderr"
	grep -qxF "evroute: rules:5:19: unexpected end of expression" <<< "$stderr"
	grep -qE "^evroute: rules:6:8: unknown destination 'fiel:'" <<< "$stderr"
	grep -qxF "evroute: rules:7:27: invalid field path in '{...}' (names separated by '.')" <<< "$stderr"
	grep -qxF "evroute: rules:8:6: a wildcard '*' must be a whole token of the topic pattern" <<< "$stderr"
	grep -qxF "evroute: rules:9:2: missing rule before '->'" <<< "$stderr"
	grep -qxF "evroute: rules:10:12: unterminated '{' in file name" <<< "$stderr"
	grep -qxF "evroute: rules:11:9: fd:N needs a descriptor number from 1 to 1048576" <<< "$stderr"
	grep -qxF "evroute: rules:12:11: unix: needs a socket path" <<< "$stderr"
	grep -qxF "evroute: rules:13:14: missing destination after '->'" <<< "$stderr"
	grep -qxF "evroute: 10 errors in the rules, nothing read" <<< "$stderr"
	# The rule is shown with a caret under the column.
	grep -qxF "  order.> => file:x" <<< "$stderr"
	grep -qxF "                   ^" <<< "$stderr"
	# An expression's own error, at its column in the line.
	run --separate-stderr evroute -r 'data.x == 1 && (type -> stdout' < /dev/null
	[ "$status" -eq 2 ]
	grep -qxF "evroute: -r #1:21: missing ')'" <<< "$stderr"
	run --separate-stderr evroute -r '* -> stdout' --else 'file:' < /dev/null
	[ "$status" -eq 2 ]
	grep -qxF "evroute: --else:6: file: needs a path" <<< "$stderr"
}

@test "stdout, stderr, null and fd:N get the events byte for byte" {
	printf '{"type":"a.b",  "id":1 }\r\n{"type":"a.c","id":2,"s":"caf\\u00e9 \xc3\xa9"}\n' > "$T/odd"
	run --separate-stderr evroute -r 'a.b -> stdout' -r 'a.c -> stderr' \
	    -r '* -> null' -r '* -> fd:5' "$T/odd" 5> "$T/fd5"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '{"type":"a.b",  "id":1 }\r')" ]
	grep -qxF "$(sed -n 2p "$T/odd")" <<< "$stderr"
	cmp "$T/odd" "$T/fd5"
	grep -qxF "evroute: null: 2 written, 0 dropped, 0 dead-lettered, 0 errors" <<< "$stderr"
	grep -qxF "evroute: input: 2 events, 0 lines rejected" <<< "$stderr"
	# fd:N that is not open is an error of that destination.
	run --separate-stderr evroute -r '* -> fd:9' "$T/ev"
	[ "$status" -eq 2 ]
	grep -qF "evroute: fd:9: open: Bad file descriptor" <<< "$stderr"
}

@test "file: appends, creates with --file-mode, templates make directories" {
	cd "$T"
	echo '{"type":"old","id":0}' > all.ndjson
	run --separate-stderr evroute --file-mode 0600 -r '* -> file:all.ndjson' \
	    -r '* -> file:out/{data.region}/{type}.ndjson' ev
	[ "$status" -eq 0 ]
	[ "$(ids all.ndjson)" = 0,1,2,3,4,5 ]
	[ "$(ids out/eu/order.created.ndjson)" = 1 ]
	[ "$(ids out/us/order.created.ndjson)" = 4 ]
	[ "$(ids out/_missing/web.access.ndjson)" = 5 ]
	[ "$(stat -c %a out/eu/user.login.ndjson)" = 600 ]
	[ "$(find out -type f | wc -l)" -eq 5 ]
	cd - > /dev/null
}

@test "templates: hostile values stay one safe file name each" {
	long=$(printf 'x%.0s' $(seq 300))
	cat > "$T/bad" <<EOF
{"type":"t","id":1,"v":"../../etc/passwd"}
{"type":"t","id":2,"v":"/"}
{"type":"t","id":3,"v":""}
{"type":"t","id":4,"v":"$long"}
{"type":"t","id":5,"v":"$long-2"}
{"type":"t","id":6,"v":"münchen"}
{"type":"t","id":7,"v":".."}
{"type":"t","id":8}
{"type":"t","id":9,"v":"a\\u002fb"}
{"type":"t","id":10,"v":"_missing"}
{"type":"t","id":11,"v":{"x":1}}
{"type":"t","id":12,"v":42}
{"type":"t","id":13,"v":"new\\nline"}
EOF
	mkdir "$T/o"
	run --separate-stderr evroute -r "* -> file:$T/o/{v}.ndjson" "$T/bad"
	echo "$stderr"
	[ "$status" -eq 0 ]
	# Everything stayed inside $T/o, one file per value.
	[ "$(find "$T" -name '*.ndjson' | grep -vc "^$T/o/")" -eq 0 ]
	[ "$(find "$T/o" -type f | wc -l)" -eq 13 ]
	[ "$(find "$T/o" -mindepth 2 | wc -l)" -eq 0 ]
	[ "$(ids "$T/o/%2E.%2F..%2Fetc%2Fpasswd.ndjson")" = 1 ]
	[ "$(ids "$T/o/%2F.ndjson")" = 2 ]
	[ "$(ids "$T/o/_empty.ndjson")" = 3 ]
	[ "$(ids "$T/o/%2E..ndjson")" = 7 ]
	[ "$(ids "$T/o/_missing.ndjson")" = 8 ]
	[ "$(ids "$T/o/a%2Fb.ndjson")" = 9 ]
	[ "$(ids "$T/o/%5Fmissing.ndjson")" = 10 ]
	[ "$(ids "$T/o/_object.ndjson")" = 11 ]
	[ "$(ids "$T/o/42.ndjson")" = 12 ]
	[ "$(ids "$T/o/new%0Aline.ndjson")" = 13 ]
	[ "$(ids "$T/o/m%C3%BCnchen.ndjson")" = 6 ]
	# The long values: cut, and told apart by a hash.
	n=$(find "$T/o" -name 'xxx*~*' | wc -l)
	[ "$n" -eq 2 ]
	for f in "$T"/o/xxx*; do
		b=${f##*/}
		[ "${#b}" -le 127 ]
	done
}

@test "fan-out by default, --first, one destination once, --else" {
	cd "$T"
	run --separate-stderr evroute -r 'order.> -> file:a.ndjson' \
	    -r 'data.status >= 500 -> file:b.ndjson' \
	    -r 'data.region == "eu" -> file:a.ndjson' ev
	[ "$status" -eq 0 ]
	[ "$(ids a.ndjson)" = 1,2,3,4 ]
	[ "$(ids b.ndjson)" = 2,5 ]
	grep -qxF "evroute: unmatched: 0 dropped" <<< "$stderr"
	rm -f a.ndjson b.ndjson
	run --separate-stderr evroute --first -r 'order.> -> file:a.ndjson' \
	    -r 'data.status >= 500 -> file:b.ndjson' ev
	[ "$status" -eq 0 ]
	[ "$(ids a.ndjson)" = 1,2,4 ]
	[ "$(ids b.ndjson)" = 5 ]
	grep -qxF "evroute: unmatched: 1 dropped" <<< "$stderr"
	rm -f a.ndjson b.ndjson
	run --separate-stderr evroute --else file:rest.ndjson \
	    -r 'order.* -> file:a.ndjson' ev
	[ "$status" -eq 0 ]
	[ "$(ids a.ndjson)" = 1,2,4 ]
	[ "$(ids rest.ndjson)" = 3,5 ]
	! grep -q unmatched <<< "$stderr"
	cd - > /dev/null
}

@test "a rules file: comments, blank lines, CRLF, a regex holding '->'" {
	printf '# routes\n\n  order.> -> file:%s/o.ndjson\r\ntype =~ /->|web/ -> file:%s/w.ndjson\ndata.region == "a -> b" -> stdout\n' \
	    "$T" "$T" > "$T/routes.conf"
	run --separate-stderr evroute "$T/routes.conf" "$T/ev"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(ids "$T/o.ndjson")" = 1,2,4 ]
	[ "$(ids "$T/w.ndjson")" = 5 ]
}

@test "SIGHUP reopens files: no event lost across a rotation" {
	mkfifo "$T/in"
	exec 4<> "$T/in"
	bg evroute -r "* -> file:$T/log.ndjson" -r "* -> file:$T/t/{type}.ndjson" < "$T/in" 2> "$T/err"
	pid=$BG
	for i in $(seq 1 50); do echo "{\"type\":\"a\",\"id\":$i}"; done >&4
	wait_lines "$T/log.ndjson" 50
	wait_lines "$T/t/a.ndjson" 50
	mv "$T/log.ndjson" "$T/log.ndjson.1"
	mv "$T/t/a.ndjson" "$T/t/a.ndjson.1"
	# Written after the rename, before the signal: still the old file.
	for i in $(seq 51 60); do echo "{\"type\":\"a\",\"id\":$i}"; done >&4
	wait_lines "$T/log.ndjson.1" 60
	kill -HUP "$pid"
	wait_file "$T/log.ndjson"
	for i in $(seq 61 100); do echo "{\"type\":\"a\",\"id\":$i}"; done >&4
	exec 4>&-
	wait_exit "$pid"
	cat "$T/err"
	[ "$rc" -eq 0 ]
	[ "$(ids "$T/log.ndjson.1")" = "$(seq -s, 1 60)" ]
	[ "$(ids "$T/log.ndjson")" = "$(seq -s, 61 100)" ]
	[ "$(cat "$T/t/a.ndjson.1" "$T/t/a.ndjson" | jq -r .id | paste -sd,)" = "$(seq -s, 1 100)" ]
}

@test "SIGUSR1 prints the summary while running" {
	mkfifo "$T/in"
	exec 4<> "$T/in"
	bg evroute -r "* -> file:$T/o.ndjson" < "$T/in" 2> "$T/err"
	pid=$BG
	printf '{"type":"a"}\n{"type":"b"}\n' >&4
	wait_lines "$T/o.ndjson" 2
	kill -USR1 "$pid"
	wait_lines "$T/err" 3
	grep -qxF "evroute: file:$T/o.ndjson: 2 written, 0 dropped, 0 dead-lettered, 0 errors" "$T/err"
	exec 4>&-
	wait_exit "$pid"
	[ "$rc" -eq 0 ]
}

@test "unix: a socket that goes away and comes back" {
	command -v python3 > /dev/null
	listen "$T/s.sock" "$T/got1"
	l1=$BG
	mkfifo "$T/in"
	exec 4<> "$T/in"
	bg evroute --dead-letter "$T/dead" -r "* -> unix:$T/s.sock" < "$T/in" 2> "$T/err"
	pid=$BG
	for i in 1 2 3; do echo "{\"type\":\"a\",\"id\":$i}"; done >&4
	wait_lines "$T/got1" 3
	kill "$l1"
	wait_exit "$l1"
	rm -f "$T/s.sock"
	for i in 4 5 6; do echo "{\"type\":\"a\",\"id\":$i}"; done >&4
	wait_lines "$T/dead" 3
	listen "$T/s.sock" "$T/got2"
	sleep 1 # longer than the backoff so far
	for i in 7 8 9; do echo "{\"type\":\"a\",\"id\":$i}"; done >&4
	wait_lines "$T/got2" 3
	exec 4>&-
	wait_exit "$pid"
	cat "$T/err"
	[ "$rc" -eq 1 ]
	[ "$(ids "$T/got1")" = 1,2,3 ]
	[ "$(ids "$T/dead")" = 4,5,6 ]
	[ "$(ids "$T/got2")" = 7,8,9 ]
	grep -q "evroute: unix:$T/s.sock: down, its events go to $T/dead until it is back" "$T/err"
	grep -qxF "evroute: unix:$T/s.sock: back" "$T/err"
	grep -qxF "evroute: unix:$T/s.sock: 6 written, 0 dropped, 3 dead-lettered, 2 errors" "$T/err" ||
	    grep -qE "^evroute: unix:$T/s.sock: 6 written, 0 dropped, 3 dead-lettered, [1-9] errors$" "$T/err"
}

@test "unix: refused with no --dead-letter stops with a clear message" {
	run --separate-stderr evroute -r "* -> unix:$T/none.sock" "$T/ev"
	[ "$status" -eq 2 ]
	grep -qxF "evroute: unix:$T/none.sock: connect: No such file or directory" <<< "$stderr"
	grep -qxF "evroute: stopping: no --dead-letter to keep the events of unix:$T/none.sock" <<< "$stderr"
}

@test "exec: events on the child's stdin; a child that dies is restarted" {
	mkfifo "$T/in"
	exec 4<> "$T/in"
	cat > "$T/child.sh" <<EOF
while IFS= read -r l; do
	printf '%s\n' "\$l" >> "$T/got"
	case \$l in *die*) exit 3 ;; esac
done
EOF
	bg evroute --dead-letter "$T/dead" -r "* -> exec:sh $T/child.sh" \
	    -r "* -> file:$T/all.ndjson" < "$T/in" 2> "$T/err"
	pid=$BG
	printf '{"id":1}\n{"id":2,"die":1}\n' >&4
	wait_lines "$T/got" 2
	sleep 0.2 # the child is gone
	printf '{"id":3}\n' >&4
	wait_lines "$T/dead" 1
	sleep 0.5 # past the backoff
	printf '{"id":4}\n{"id":5}\n' >&4
	wait_lines "$T/got" 4
	exec 4>&-
	wait_exit "$pid"
	cat "$T/err"
	[ "$rc" -eq 1 ]
	[ "$(ids "$T/got")" = 1,2,4,5 ]
	[ "$(ids "$T/dead")" = 3 ]
	[ "$(ids "$T/all.ndjson")" = 1,2,3,4,5 ]
	grep -q "evroute: exec:sh $T/child.sh: write: Broken pipe" "$T/err"
	grep -qxF "evroute: exec:sh $T/child.sh: back" "$T/err"
}

@test "exec: what a dead command had not read is reported, not lost silently" {
	mkfifo "$T/in"
	exec 4<> "$T/in"
	# It reads one line (the shell's read takes no more) and exits.
	bg evroute -r "* -> exec:read -r l; echo \"\$l\" > $T/one" < "$T/in" 2> "$T/err"
	pid=$BG
	printf '{"id":1}\n{"id":2}\n{"id":3}\n' >&4
	wait_lines "$T/one" 1
	sleep 0.3
	printf '{"id":4}\n' >&4
	exec 4>&-
	wait_exit "$pid"
	cat "$T/err"
	[ "$rc" -eq 2 ]
	[ "$(ids "$T/one")" = 1 ]
	grep -qxF 'evroute: exec:read -r l; echo "$l" > '"$T"'/one: 18 bytes of events it had not read are lost' "$T/err"
}

@test "exec: a command that reads everything gets everything" {
	run --separate-stderr evroute -r "order.> -> exec:cat > $T/orders" \
	    -r "* -> exec:wc -l > $T/count" "$T/ev"
	[ "$status" -eq 0 ]
	[ "$(ids "$T/orders")" = 1,2,4 ]
	[ "$(cat "$T/count")" -eq 5 ]
}

@test "bus: publishes to evbus, the default URL from EVBUS_URL" {
	command -v evbus > /dev/null
	bus_start "$T/bus.sock" "$T/bus.log" --memory
	EVBUS_URL="unix:$T/bus.sock" run --separate-stderr evroute -r 'order.> -> bus:' "$T/ev"
	[ "$status" -eq 0 ]
	grep -qxF "evroute: bus:: 3 written, 0 dropped, 0 dead-lettered, 0 errors" <<< "$stderr"
	run --separate-stderr evroute -r "data.status >= 500 -> bus:unix:$T/bus.sock" "$T/ev"
	[ "$status" -eq 0 ]
	run --separate-stderr timeout 10 evsub -b "unix:$T/bus.sock" --from all --no-follow
	[ "$status" -eq 0 ]
	[ "$(jq -r .id <<< "$output" | paste -sd,)" = 1,2,4,2,5 ]
}

@test "bus: with --on-full drop-new, a bus that does not acknowledge loses new events, counted" {
	command -v evbus > /dev/null
	bus_start "$T/bus.sock" "$T/bus.log" --memory
	for i in $(seq 20000); do echo "{\"type\":\"t.x\",\"id\":$i}"; done > "$T/many"
	kill -STOP "$BUS"
	bg evroute --on-full drop-new -r "* -> bus:unix:$T/bus.sock" < "$T/many" 2> "$T/err"
	r=$BG
	# The whole input read (the events before its last block routed,
	# far more than the window of 1024), then the bus goes on.
	size=$(stat -c %s "$T/many")
	for i in $(seq 600); do
		[ "$(awk '/^pos:/ { print $2 }' "/proc/$r/fdinfo/0" 2> /dev/null)" = "$size" ] && break
		sleep 0.05
	done
	kill -CONT "$BUS"
	rc=0
	wait "$r" || rc=$?
	[ "$rc" -eq 1 ]
	line=$(grep "^evroute: bus:unix:" "$T/err")
	written=$(sed -E 's/.*: ([0-9]+) written, ([0-9]+) dropped, 0 dead-lettered, 0 errors$/\1/' <<< "$line")
	dropped=$(sed -E 's/.*: ([0-9]+) written, ([0-9]+) dropped, 0 dead-lettered, 0 errors$/\2/' <<< "$line")
	[ "$dropped" -gt 0 ]
	[ "$((written + dropped))" -eq 20000 ]
	[ "$(timeout 10 evsub -b "unix:$T/bus.sock" --from all --no-follow | wc -l)" -eq "$written" ]
}

@test "bus: no bus, the events are dead letters" {
	run --separate-stderr evroute --dead-letter "$T/dead" -r "order.> -> bus:unix:$T/no.sock" "$T/ev"
	[ "$status" -eq 1 ]
	[ "$(ids "$T/dead")" = 1,2,4 ]
	grep -qF "evroute: bus:unix:$T/no.sock: cannot connect to unix:$T/no.sock" <<< "$stderr"
	run --separate-stderr evroute -r 'x -> bus:http://x' < /dev/null
	[ "$status" -eq 2 ]
	grep -qF "evroute: -r #1:10: a bus URL is unix:PATH or nats://HOST:PORT" <<< "$stderr"
}

@test "a full disk: events to the dead letters, or a stop without them" {
	if [ "$(id -u)" -ne 0 ]; then
		skip "mounting a small tmpfs needs root"
	fi
	MNT="$T/mnt"
	mkdir "$MNT"
	mount -t tmpfs -o size=64k tmpfs "$MNT" || skip "cannot mount tmpfs here"
	for i in $(seq 1 2000); do printf '{"type":"a","id":%d,"pad":"%080d"}\n' "$i" 0; done > "$T/many"
	run --separate-stderr evroute --dead-letter "$T/dead" -r "* -> file:$MNT/o.ndjson" \
	    -r "* -> file:$T/all.ndjson" "$T/many"
	echo "$stderr" | head -5
	[ "$status" -eq 1 ]
	grep -q "evroute: file:$MNT/o.ndjson: write: No space left on device" <<< "$stderr"
	# Every event is in the file or in the dead letters, whole.
	[ "$(wc -l < "$T/all.ndjson")" -eq 2000 ]
	# ... and the file holds no part of an event that did not fit.
	{ cat "$MNT/o.ndjson" "$T/dead"; } | jq -r .id | sort -n > "$T/seen"
	[ "$(uniq < "$T/seen" | wc -l)" -eq 2000 ]
	[ "$(wc -l < "$T/seen")" -eq 2000 ]
	n=$(grep -c . "$T/dead")
	[ "$n" -gt 0 ]
	grep -qE "^evroute: file:$MNT/o.ndjson: [0-9]+ written, 0 dropped, $n dead-lettered, [1-9][0-9]* errors$" <<< "$stderr"
	# Without --dead-letter: a clear stop, exit 2.
	rm -f "$MNT/o.ndjson"
	: > "$MNT/fill"
	head -c 60k /dev/zero > "$MNT/fill" || true
	run --separate-stderr evroute -r "* -> file:$MNT/o.ndjson" "$T/many"
	[ "$status" -eq 2 ]
	grep -q "No space left on device" <<< "$stderr"
	grep -qxF "evroute: stopping: no --dead-letter to keep the events of file:$MNT/o.ndjson" <<< "$stderr"
}

@test "a full disk comes back: a templated file is retried after its backoff" {
	if [ "$(id -u)" -ne 0 ]; then
		skip "mounting a small tmpfs needs root"
	fi
	MNT="$T/mnt"
	mkdir "$MNT"
	mount -t tmpfs -o size=64k tmpfs "$MNT" || skip "cannot mount tmpfs here"
	head -c 1M /dev/zero > "$MNT/fill" 2> /dev/null || true
	mkfifo "$T/in"
	exec 4<> "$T/in"
	bg evroute --dead-letter "$T/dead" -r "* -> file:$MNT/{type}.ndjson" < "$T/in" 2> "$T/err"
	pid=$BG
	# 8K events: no room for one.
	for i in 1 2 3; do printf '{"type":"a","id":%d,"pad":"%08000d"}\n' "$i" 0; done >&4
	wait_lines "$T/dead" 3
	rm "$MNT/fill"
	sleep 1 # past the backoff
	for i in 4 5; do printf '{"type":"a","id":%d,"pad":"%08000d"}\n' "$i" 0; done >&4
	exec 4>&-
	wait_exit "$pid"
	cat "$T/err"
	[ "$rc" -eq 1 ]
	[ "$(ids "$T/dead")" = 1,2,3 ]
	# No part of an event that did not fit stayed in the file.
	[ "$(ids "$MNT/a.ndjson")" = 4,5 ]
	grep -q "No space left on device" "$T/err"
	grep -qxF "evroute: file:$MNT/{type}.ndjson: back" "$T/err"
}

@test "a destination that blocks holds the router back, then all comes through" {
	mkfifo "$T/slow"
	# A reader that holds the FIFO open and reads nothing.
	bg sleep 60 0<> "$T/slow"
	holder=$BG
	for i in $(seq 1 3000); do printf '{"type":"a","id":%d,"pad":"%0100d"}\n' "$i" 0; done > "$T/many"
	bg evroute --buffer 16K -r "* -> file:$T/slow" -r "* -> file:$T/all.ndjson" "$T/many" 2> "$T/err"
	pid=$BG
	sleep 1
	# Still running: held back by the FIFO (the pipe holds 64K at most).
	kill -0 "$pid"
	[ "$(wc -l < "$T/all.ndjson" 2> /dev/null || echo 0)" -lt 3000 ]
	bg cat "$T/slow" > "$T/got"
	wait_exit "$pid"
	[ "$rc" -eq 0 ]
	[ "$(wc -l < "$T/all.ndjson")" -eq 3000 ]
	kill "$holder"
	wait_lines "$T/got" 3000
	cmp "$T/many" "$T/got"
}

@test "--on-full drop-new: a blocked destination loses new events, counted" {
	mkfifo "$T/slow"
	bg sleep 60 0<> "$T/slow"
	for i in $(seq 1 3000); do printf '{"type":"a","id":%d,"pad":"%0100d"}\n' "$i" 0; done > "$T/many"
	run --separate-stderr timeout 20 evroute --on-full drop-new --buffer 16K \
	    -r "* -> file:$T/slow" -r "* -> file:$T/all.ndjson" "$T/many"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "$(wc -l < "$T/all.ndjson")" -eq 3000 ]
	line=$(grep "^evroute: file:$T/slow: .* written, " <<< "$stderr")
	w=$(sed -E 's/.*: ([0-9]+) written, ([0-9]+) dropped.*/\1/' <<< "$line")
	d=$(sed -E 's/.*: ([0-9]+) written, ([0-9]+) dropped.*/\2/' <<< "$line")
	[ "$d" -gt 0 ]
	[ $((w + d)) -eq 3000 ]
}

@test "bad input: reported with its line, the events around it still routed" {
	long=$(printf 'y%.0s' $(seq 200))
	{
		echo '{"type":"a","id":1}'
		echo '{"type":"a","id":2'
		echo '{"type":"a","id":3}'
		printf '{"type":"a","id":4,"s":"\xff"}\n'
		echo '[1,2]'
		echo "{\"type\":\"a\",\"id\":5,\"s\":\"$long\"}"
		echo '{"type":"a","id":6}'
		printf '{"type":"a","id":7}'
	} > "$T/badin"
	run --separate-stderr evroute --max-line 100 --dead-letter "$T/dead" \
	    -r "* -> file:$T/o.ndjson" "$T/badin" "$T/missing" -
	echo "$stderr"
	[ "$status" -eq 2 ]
	[ "$(ids "$T/o.ndjson")" = 1,3,6,7 ]
	grep -qxF "evroute: $T/badin:2: invalid JSON: unexpected end of input at column 19" <<< "$stderr"
	grep -qE "^evroute: $T/badin:4: invalid JSON: invalid UTF-8 at column [0-9]+$" <<< "$stderr"
	grep -qxF "evroute: $T/badin:5: not a JSON object" <<< "$stderr"
	grep -qE "^evroute: $T/badin:6: line too long" <<< "$stderr"
	grep -qxF "evroute: $T/missing: No such file or directory" <<< "$stderr"
	[ "$(wc -l < "$T/dead")" -eq 4 ]
	cmp <(sed -n '2p;4p;5p;6p' "$T/badin") "$T/dead"
	# Without the missing file: exit 1.
	run --separate-stderr evroute -r "* -> null" "$T/badin"
	[ "$status" -eq 1 ]
	grep -qxF "evroute: input: 5 events, 3 lines rejected" <<< "$stderr"
	# A truncated last line is rejected like any other.
	printf '{"type":"a","id":1}\n{"type":"a","i' | {
		run --separate-stderr evroute -r '* -> stdout'
		[ "$status" -eq 1 ]
		[ "$output" = '{"type":"a","id":1}' ]
		grep -qxF "evroute: line 2: invalid JSON: unexpected end of input at column 15" <<< "$stderr"
	}
}

@test "--max-open: the least recently used file is closed, nothing lost" {
	for i in $(seq 1 200); do echo "{\"type\":\"t$((i % 7))\",\"id\":$i}"; done > "$T/seven"
	run --separate-stderr evroute --max-open 2 -r "* -> file:$T/m/{type}.ndjson" "$T/seven"
	[ "$status" -eq 0 ]
	for k in 0 1 2 3 4 5 6; do
		[ "$(ids "$T/m/t$k.ndjson")" = "$(seq "$k" 7 200 | grep -vx 0 | paste -sd,)" ]
	done
	# Only a few descriptors at once: checked on /proc while running.
	mkfifo "$T/in"
	exec 4<> "$T/in"
	bg evroute --max-open 2 -r "* -> file:$T/m2/{type}.ndjson" < "$T/in" 2> /dev/null
	pid=$BG
	cat "$T/seven" >&4
	wait_lines "$T/m2/t6.ndjson" 28
	n=$(ls -l /proc/"$pid"/fd | grep -c "$T/m2/")
	[ "$n" -le 2 ]
	exec 4>&-
	wait_exit "$pid"
}

@test "stdout closed by its reader: a quiet stop" {
	for i in $(seq 1 100000); do echo "{\"type\":\"a\",\"id\":$i}"; done > "$T/lots"
	run --separate-stderr bash -c "evroute -r '* -> stdout' '$T/lots' | head -1"
	[ "$status" -eq 0 ]
	[ "$output" = '{"type":"a","id":1}' ]
	! grep -q 'Broken pipe' <<< "$stderr"
}
