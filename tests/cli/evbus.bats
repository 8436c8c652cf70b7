#!/usr/bin/env bats
# evbus with evpub -b and evsub: publishing and subscribing by topic
# pattern, replay from all/seq/time, the protocol by hand (socat), bad
# clients that must not disturb others, the socket's safety, stopping,
# durability across restarts and kill -9, and gaps in memory mode.

bats_require_minimum_version 1.5.0
load bus_helpers

setup() {
	for c in jq socat python3; do
		command -v "$c" > /dev/null || {
			echo "evbus tests need $c (apt-get install -y $c)" >&2
			return 1
		}
	done
	T=$(mktemp -d)
	S="$T/run/bus.sock"
	export EVBUS_URL="unix:$S"
	BUS_PIDS=""
	# Complete CloudEvents, which evpub --json passes through unchanged.
	for i in 1 2 3 4 5 6; do
		case $i in
		1 | 4) type=order.created ;;
		2 | 5) type=order.paid ;;
		*) type=user.login ;;
		esac
		printf '{"specversion":"1.0","id":"%s","source":"//t","type":"%s","time":"2026-12-06T10:00:0%sZ","datacontenttype":"application/json","data":{"n":%s}}\n' \
		    "$i" "$type" "$i" "$i"
	done > "$T/ev"
}

teardown() {
	bus_teardown
	if mountpoint -q "$T/small" 2> /dev/null; then
		umount "$T/small"
	fi
	rm -rf "$T"
}

# start_bus [OPTIONS]: a bus on $S, logging to $T/bus.log.
start_bus() {
	bus_start "$S" "$T/bus.log" "$@"
}

@test "evpub -b publishes; evsub --from all --no-follow reads every event back byte for byte" {
	start_bus --memory
	run --separate-stderr evpub -b "unix:$S" --json "$T/ev"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run --separate-stderr evsub --from all --no-follow
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$T/ev")" ]
	# The default URL is $EVBUS_URL.
	run --separate-stderr evsub -b "$EVBUS_URL" --from all --no-follow -n 1
	[ "$status" -eq 0 ]
	[ "$output" = "$(head -1 "$T/ev")" ]
}

@test "topic patterns select events by type; several patterns add up; none means all" {
	start_bus --memory
	evpub -b "unix:$S" --json "$T/ev"
	run evsub --from all --no-follow 'order.*'
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .id | tr '\n' ' ')" = "1 2 4 5 " ]
	run evsub --from all --no-follow order.paid 'user.>'
	[ "$(echo "$output" | jq -r .id | tr '\n' ' ')" = "2 3 5 6 " ]
	run evsub --from all --no-follow nothing.here
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run --separate-stderr evsub 'order..x'
	[ "$status" -eq 2 ]
	[[ $stderr == "evsub: order..x: "* ]]
	run --separate-stderr evsub 'a"b'
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "evsub: a\"b: a topic pattern has no '\"' or '\\'" ]
}

@test "evsub follows: events published after it started arrive, -n COUNT ends it" {
	start_bus --memory
	evsub -n 3 'order.*' > "$T/got" 2> "$T/sub.err" 3>&- &
	local sub=$!
	sleep 1
	evpub -b "unix:$S" --json "$T/ev"
	wait "$sub"
	[ "$(jq -r .id "$T/got" | tr '\n' ' ')" = "1 2 4 " ]
	[ ! -s "$T/sub.err" ]
}

@test "evsub | head -3 ends cleanly while the bus carries on" {
	start_bus --memory
	evpub -b "unix:$S" --json "$T/ev"
	run bash -c 'evsub --from all | head -3'
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	# evsub saw its reader leave and ended; the bus still serves.
	kill -0 "$BUS"
	evpub -b "unix:$S" -t later.event k=v
	run evsub --from all --no-follow later.event
	[ "$(echo "$output" | jq -r .type)" = later.event ]
}

@test "--from a sequence number, an RFC 3339 time and -DURATION" {
	start_bus --memory
	evpub -b "unix:$S" --json "$T/ev"
	run evsub --from 4 --no-follow
	[ "$(echo "$output" | jq -r .id | tr '\n' ' ')" = "4 5 6 " ]
	run evsub --from -1h --no-follow
	[ "${#lines[@]}" -eq 6 ]
	run evsub --from 2100-01-01T00:00:00Z --no-follow
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run --separate-stderr evsub --from yesterday
	[ "$status" -eq 2 ]
	[[ $stderr == "evsub: --from yesterday: not new, all, a sequence number"* ]]
}

@test "--timeout ends a quiet subscription: 0 after events, 1 without any" {
	start_bus --memory
	run evsub --timeout 200ms
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	evpub -b "unix:$S" --json "$T/ev"
	run evsub --from all --timeout 300ms
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 6 ]
}

@test "the protocol by hand: hello, acknowledgements, a refused line among good ones" {
	start_bus --memory
	printf '%s\n' '{"op":"pub"}' '{"a":1}' 'not json' '[1]' '{"b":2}' |
	    socat -t 2 - "UNIX-CONNECT:$S" > "$T/answers"
	run cat "$T/answers"
	[ "${lines[0]}" = '["ok",{"first":1,"next":1}]' ]
	grep -qx '\["error",2,"invalid JSON: unexpected '"'"'o'"'"' at column 2"\]' "$T/answers"
	grep -qx '\["error",3,"not a JSON object"\]' "$T/answers"
	[ "${lines[${#lines[@]} - 1]}" = '["ack",4,2]' ]
	run evsub --from all --no-follow
	[ "$output" = '{"a":1}
{"b":2}' ]
	# A subscriber typed by hand.
	run bash -c "printf '%s\n' '{\"op\":\"sub\",\"from\":\"all\",\"follow\":false}' |
	    socat -t 2 - UNIX-CONNECT:$S"
	[ "$output" = '["ok",{"first":1,"next":3}]
{"a":1}
{"b":2}
["end"]' ]
}

@test "a subscriber that shut its side for writing still gets everything" {
	start_bus --memory
	seq 5000 | sed 's/.*/{"n":&}/' | evpub -b "unix:$S" -t many.x --json
	run bash -c "printf '%s\n' '{\"op\":\"sub\",\"from\":\"all\",\"follow\":false}' |
	    socat -t 5 - UNIX-CONNECT:$S"
	[ "${#lines[@]}" -eq 5002 ]
	[ "${lines[5001]}" = '["end"]' ]
}

@test "a bad hello gets an error line and the connection ends; the bus goes on" {
	start_bus --memory
	run bash -c "printf '%s\n' '{\"op\":\"get\"}' | socat -t 2 - UNIX-CONNECT:$S"
	[ "$output" = '["error",null,"hello: \"op\" is \"pub\" or \"sub\""]' ]
	run bash -c "printf 'hello\n' | socat -t 2 - UNIX-CONNECT:$S"
	[ "$output" = '["error",null,"hello: invalid JSON: unexpected '"'"'h'"'"' at column 1"]' ]
	run --separate-stderr evsub --group a/b
	[ "$status" -eq 2 ]
	[[ $stderr == "evsub: unix:$S: hello: \"group\" is 1 to 64 letters"* ]]
	evpub -b "unix:$S" -t still.here k=v
	[ "$(evsub --from all --no-follow | jq -r .type)" = still.here ]
}

@test "a group's members share the events: each goes to one member, together they get all" {
	start_bus --memory
	evsub --group w --from all --timeout 2s > "$T/m1" 2> /dev/null 3>&- &
	local m1=$!
	evsub --group w --from all --timeout 2s > "$T/m2" 2> /dev/null 3>&- &
	local m2=$!
	sleep 0.3
	seq 3000 | sed 's/.*/{"id":"&"}/' | evpub -b "unix:$S" -t job.run --json
	wait "$m1" "$m2"
	[ -s "$T/m1" ]
	[ -s "$T/m2" ]
	cat "$T/m1" "$T/m2" | jq -r .data.id | sort -n | cmp - <(seq 3000)
}

@test "a group resumes after what its members consumed, also after the bus restarts" {
	start_bus --data "$T/data"
	seq 10 | sed 's/.*/{"id":"&"}/' | evpub -b "unix:$S" -t job.run --json
	run evsub --group g --from all -n 3
	[ "$(echo "$output" | jq -r .data.id | tr '\n' ' ')" = "1 2 3 " ]
	# The member had more in flight: they go to the next member, in order.
	run evsub --group g -n 3
	[ "$(echo "$output" | jq -r .data.id | tr '\n' ' ')" = "4 5 6 " ]
	stop_bus
	[ "$(cat "$T/data/groups/g")" = 7 ]
	start_bus --data "$T/data"
	run evsub --group g --timeout 500ms
	[ "$(echo "$output" | jq -r .data.id | tr '\n' ' ')" = "7 8 9 10 " ]
	# Another group starts on its own.
	run evsub --group other --from all --no-follow
	[ "${#lines[@]}" -eq 10 ]
}

@test "the members of a group subscribe to the same patterns" {
	start_bus --memory
	{ echo '{"op":"sub","group":"g","topics":["a.*"]}'; sleep 1; } |
	    socat -t 1 - "UNIX-CONNECT:$S" > /dev/null 3>&- &
	local first=$!
	sleep 0.3
	run --separate-stderr evsub --group g 'b.*'
	[ "$status" -eq 2 ]
	[ "$stderr" = "evsub: unix:$S: hello: the members of group \"g\" subscribe to the same topic patterns, and this one does not" ]
	run --separate-stderr evsub --group g --timeout 200ms 'a.*'
	[ "$status" -eq 1 ]
	wait "$first"
}

@test "a member that goes away unacknowledged: its events go to another; acknowledged ones never again" {
	start_bus --memory
	seq 10 | sed 's/.*/{"id":"&"}/' | evpub -b "unix:$S" -t job.run --json
	# A member typed by hand takes all ten, acknowledges four, and dies.
	{ echo '{"op":"sub","group":"g","from":"all"}'; sleep 0.5; echo '["ack",4]'; sleep 0.3; } |
	    socat -t 1 - "UNIX-CONNECT:$S" > "$T/raw"
	[ "$(grep -c '"job.run"' "$T/raw")" -eq 10 ]
	run evsub --group g --timeout 500ms
	[ "$(echo "$output" | jq -r .data.id | tr '\n' ' ')" = "5 6 7 8 9 10 " ]
	# A member that acknowledges more than it was sent is cut off.
	run bash -c "{ echo '{\"op\":\"sub\",\"group\":\"h\"}'; echo '[\"ack\",5]'; sleep 0.5; } |
	    socat -t 1 - UNIX-CONNECT:$S"
	[[ $output == *'["error",null,"[\"ack\",N]: N is not between what was acknowledged and what was sent"]' ]]
}

@test "an over-long line ends that client only; the events around it from others flow" {
	start_bus --memory --max-line 400
	evsub 'ok.>' -n 2 --from all > "$T/got" 2> /dev/null 3>&- &
	local sub=$!
	sleep 0.3
	evpub -b "unix:$S" -t ok.one k=v
	long=$(printf '{"x":"%0500d"}' 0)
	run bash -c "printf '%s\n' '{\"op\":\"pub\"}' '$long' '{\"after\":1}' |
	    socat -t 2 - UNIX-CONNECT:$S"
	[[ $output == *'["error",1,"line longer than --max-line"]' ]]
	evpub -b "unix:$S" -t ok.two k=v
	wait "$sub"
	[ "$(jq -r .type "$T/got" | tr '\n' ' ')" = "ok.one ok.two " ]
	# Nothing of the long line nor what followed it was stored.
	[ "$(evsub --from all --no-follow | jq -r .type | tr '\n' ' ')" = "ok.one ok.two " ]
	grep -q "line longer than --max-line" "$T/bus.log"
}

@test "a client that leaves half a line is dropped after --line-timeout" {
	start_bus --memory --line-timeout 300ms
	run bash -c "{ printf '%s\n' '{\"op\":\"pub\"}'; printf '{\"half\":'; sleep 2; } |
	    socat -t 3 - UNIX-CONNECT:$S"
	[[ $output == *'["error",null,"half a line and nothing more (see --line-timeout)"]' ]]
	evpub -b "unix:$S" -t after.stall k=v
	[ "$(evsub --from all --no-follow | jq -r .type)" = after.stall ]
}

@test "the socket is 0600 in a 0700 directory; --group opens it 0660 to the group" {
	start_bus --memory
	[ "$(stat -c %a "$S")" = 600 ]
	[ "$(stat -c %a "$T/run")" = 700 ]
	stop_bus
	grp=$(id -gn daemon 2> /dev/null || true)
	[ -n "$grp" ] || skip "no group daemon to test --group with"
	rmdir "$T/run"
	start_bus --memory --group "$grp"
	[ "$(stat -c %a "$S")" = 660 ]
	[ "$(stat -c %G "$S")" = "$grp" ]
	# The directory it made lets the group through, no more.
	[ "$(stat -c %a "$T/run")" = 710 ]
	[ "$(stat -c %G "$T/run")" = "$grp" ]
	run --separate-stderr evbus -b "unix:$T/x.sock" --group no-such-group-here
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "evbus: --group no-such-group-here: no such group" ]
}

@test "the socket's directory must be safe: ours or root's, writable by no one else unless sticky" {
	mkdir -m 777 "$T/open"
	run --separate-stderr evbus -b "unix:$T/open/bus.sock" --memory
	[ "$status" -eq 2 ]
	[ "$stderr" = "evbus: $T/open is writable by others: not a safe place for the socket" ]
	mkdir "$T/theirs"
	chown 12345 "$T/theirs" || skip "cannot give a directory away"
	run --separate-stderr evbus -b "unix:$T/theirs/bus.sock" --memory
	[ "$status" -eq 2 ]
	[ "$stderr" = "evbus: $T/theirs belongs to uid 12345: not a safe place for the socket" ]
	mkdir -m 1777 "$T/sticky"
	S="$T/sticky/bus.sock"
	start_bus --memory
	evpub -b "unix:$S" -t in.sticky k=v
}

@test "a live bus is never stolen; the socket of a dead one is replaced" {
	start_bus --memory
	run --separate-stderr evbus -b "unix:$S" --memory
	[ "$status" -eq 2 ]
	[ "$stderr" = "evbus: another bus is listening on $S" ]
	kill -9 "$BUS"
	wait "$BUS" || true
	[ -S "$S" ]
	start_bus --memory
	grep -q "replaced the stale socket $S" "$T/bus.log"
	evpub -b "unix:$S" -t new.bus k=v
	: > "$T/file"
	run --separate-stderr evbus -b "unix:$T/file" --memory
	[ "$status" -eq 2 ]
	[ "$stderr" = "evbus: $T/file exists and is not a socket" ]
}

@test "SIGTERM stops the bus cleanly: exit 0, socket removed" {
	start_bus --memory
	kill -TERM "$BUS"
	rc=0
	wait "$BUS" || rc=$?
	[ "$rc" -eq 0 ]
	[ ! -e "$S" ]
	grep -q "stopped" "$T/bus.log"
}

@test "--allow-uid refuses other users with a clear error" {
	start_bus --memory --allow-uid "$(($(id -u) + 1))"
	run --separate-stderr evpub -b "unix:$S" -t x k=v
	[ "$status" -eq 2 ]
	[ "$stderr" = "evpub: unix:$S: uid not allowed by --allow-uid" ]
	grep -q "refused uid $(id -u)" "$T/bus.log"
	stop_bus
	start_bus --memory --allow-uid "1,$(id -u)"
	evpub -b "unix:$S" -t x k=v
}

@test "evpub -b with no bus: a clear message, exit 2, input not consumed" {
	run --separate-stderr evpub -b "unix:$T/none.sock" -t x k=v
	[ "$status" -eq 2 ]
	[ "$stderr" = "evpub: cannot connect to unix:$T/none.sock: No such file or directory" ]
	run --separate-stderr evpub -b "nats://localhost:4222" -t x k=v
	[ "$status" -eq 2 ]
	[[ $stderr == *"only unix:PATH bus URLs are supported" ]]
	run --separate-stderr evsub -b "unix:$T/none.sock"
	[ "$status" -eq 2 ]
	[ "$stderr" = "evsub: cannot connect to unix:$T/none.sock: No such file or directory" ]
	run --separate-stderr evpub -t x -o "$T/f" -b "unix:$S" k=v
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "evpub: -o and -b exclude each other" ]
	run --separate-stderr evpub -t x --no-ack k=v
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "evpub: --no-ack needs -b" ]
}

@test "evpub --no-ack fires and forgets" {
	start_bus --memory
	run evpub -b "unix:$S" --no-ack --json "$T/ev"
	[ "$status" -eq 0 ]
	[ "$(evsub --from all --no-follow | wc -l)" -eq 6 ]
}

@test "an event the bus refuses, and the ones it never acknowledged, are dead letters; exit 2" {
	start_bus --memory --max-line 300
	{ echo short; printf '%0400d\n' 0; echo after; } > "$T/lines"
	run --separate-stderr evpub -b "unix:$S" -t t.x --raw --dead-letter "$T/dead" "$T/lines"
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "evpub: the bus refused an event: line longer than --max-line" ]
	[ "${stderr_lines[1]}" = "evpub: 1 events were not acknowledged (kept as dead letters)" ]
	[ "${stderr_lines[2]}" = "evpub: unix:$S: the bus closed the connection" ]
	[ "$(jq -r .data "$T/dead" | cut -c1-5 | tr '\n' ' ')" = "00000 after " ]
	[ "$(evsub --from all --no-follow | jq -r .data)" = short ]
}

@test "evpub -b reports a refused event while it waits for more input" {
	start_bus --memory --max-line 300
	mkfifo "$T/in"
	evpub -b "unix:$S" -t t.x --raw --dead-letter "$T/dead" < "$T/in" 2> "$T/err" 3>&- &
	pub=$!
	exec 4> "$T/in"
	echo before >&4
	printf '%0400d\n' 0 >&4
	for i in $(seq 200); do
		grep -q refused "$T/err" && break
		sleep 0.05
	done
	# Said while the input is still open, not when more comes.
	grep -qx "evpub: the bus refused an event: line longer than --max-line" "$T/err"
	kill -0 "$pub"
	echo after >&4
	exec 4>&-
	rc=0
	wait "$pub" || rc=$?
	[ "$rc" -eq 2 ]
	[ "$(jq -r .data "$T/dead" | cut -c1-5 | tr '\n' ' ')" = "00000 after " ]
	[ "$(evsub --from all --no-follow | jq -r .data)" = before ]
}

@test "--fsync batch: subscribers get an event at once, its publisher's acknowledgement waits for the sync" {
	start_bus --data "$T/data" --fsync-interval 4s
	evsub --from all -n 1 > "$T/got" 3>&- &
	sub=$!
	evpub -b "unix:$S" -t t.first k=v 3>&- &
	pub=$!
	for i in $(seq 60); do
		kill -0 "$sub" 2> /dev/null || break
		sleep 0.05
	done
	wait "$sub"
	[ "$(jq -r .type "$T/got")" = t.first ]
	# Not synced yet: evpub still waits for its acknowledgement.
	kill -0 "$pub"
	wait "$pub"
	# A stopping bus syncs and acknowledges what waits.
	evpub -b "unix:$S" -t t.second k=v 2> "$T/err" 3>&- &
	pub=$!
	for i in $(seq 100); do
		[ "$(cat "$T/data"/*.ndjson | wc -l)" -eq 2 ] && break
		sleep 0.05
	done
	stop_bus
	wait "$pub"
	[ ! -s "$T/err" ]
	[ "$(jq -r .type "$T/data"/*.ndjson | tr '\n' ' ')" = "t.first t.second " ]
}

@test "--fsync-interval takes a duration or 0" {
	run --separate-stderr evbus --fsync-interval 5x
	[ "$status" -eq 2 ]
	[[ $stderr == "evbus: --fsync-interval 5x: "* ]]
	start_bus --data "$T/data" --fsync-interval 0
	evpub -b "unix:$S" -t t.x k=v
	[ "$(evsub --from all --no-follow | jq -r .type)" = t.x ]
}

@test "evsub --max-line reads events as long as the bus keeps; longer ones end it with a clear message" {
	start_bus --memory --max-line 3M
	big=$(head -c 1500000 /dev/zero | tr '\0' a)
	{ echo small; echo "$big"; } | evpub -b "unix:$S" -t t.x --raw --max-line 2M
	run --separate-stderr evsub --from all --no-follow
	[ "$status" -eq 2 ]
	[ "$stderr" = "evsub: unix:$S: the bus sent a line longer than the longest allowed" ]
	[ "$(echo "$output" | jq -r .data)" = small ]
	run --separate-stderr evsub --from all --no-follow --max-line 2M
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(echo "${lines[1]}" | jq -r .data)" = "$big" ]
	run --separate-stderr evsub --max-line 0
	[ "$status" -eq 2 ]
	[[ $stderr == "evsub: --max-line 0: "* ]]
}

@test "a bus in memory keeps --retain-bytes; a subscriber behind it is told what it missed" {
	start_bus --memory --retain-bytes 2K
	for i in $(seq 40); do cat "$T/ev"; done | evpub -b "unix:$S" --json
	run --separate-stderr evsub --from 1 --no-follow
	[ "$status" -eq 1 ]
	[[ $stderr =~ ^evsub:\ the\ bus\ dropped\ [0-9]+\ events\ before\ they\ were\ read$ ]]
	missed=$(echo "$stderr" | grep -o '[0-9]*')
	[ "$((missed + ${#lines[@]}))" -eq 240 ]
	# From the first kept: no gap.
	run --separate-stderr evsub --from all --no-follow
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -gt 0 ]
	[ "${#lines[@]}" -lt 240 ]
}

@test "durable: events survive a restart and numbering goes on; segments are NDJSON" {
	start_bus --data "$T/data" --segment-bytes 400
	evpub -b "unix:$S" --json "$T/ev"
	stop_bus
	[ "$(stat -c %a "$T/data")" = 700 ]
	cat "$T/data"/*.ndjson | cmp - "$T/ev"
	[ "$(ls "$T/data"/*.ndjson | wc -l)" -gt 1 ]
	start_bus --data "$T/data"
	grep -q "6 events" "$T/bus.log"
	evpub -b "unix:$S" -t after.restart k=v
	run evsub --from 7 --no-follow
	[ "$(echo "$output" | jq -r .type)" = after.restart ]
	run evsub --from all --no-follow
	[ "${#lines[@]}" -eq 7 ]
}

@test "a torn last record is cut on start, kept aside, and the bus says so" {
	start_bus --data "$T/data"
	evpub -b "unix:$S" --json "$T/ev"
	stop_bus
	seg=$(ls "$T/data"/*.ndjson | tail -1)
	printf '{"torn":' >> "$seg"
	start_bus --data "$T/data"
	grep -q "cut 8 bytes" "$T/bus.log"
	run evsub --from all --no-follow
	[ "$output" = "$(cat "$T/ev")" ]
	cat "$T/data"/*.damaged-1 | grep -qx '{"torn":'
}

@test "kill -9 during 100k acknowledged publishes: every acknowledged event is in the log once, in order" {
	start_bus --data "$T/data" --fsync batch
	seq 100000 | sed 's/.*/{"id":"&"}/' > "$T/load"
	evpub -b "unix:$S" -t load.test --json --dead-letter "$T/dead" "$T/load" \
	    > /dev/null 2> "$T/pub.err" 3>&- &
	local pub=$!
	# Killed while publishing: once a good part is in the log.
	for i in $(seq 600); do
		[ "$(cat "$T/data"/*.ndjson 2> /dev/null | wc -l)" -ge 20000 ] && break
		sleep 0.05
	done
	kill -9 "$BUS"
	wait "$BUS" || true
	wait "$pub" || true
	start_bus --data "$T/data"
	evsub --from all --no-follow | jq -r .data.id > "$T/stored"
	n=$(wc -l < "$T/stored")
	[ "$n" -gt 0 ]
	# In order, each once: exactly 1..n.
	seq "$n" | cmp - "$T/stored"
	# From the first event evpub did not see acknowledged on, every event
	# is a dead letter: with the log they cover everything (an event may
	# be in both, never in none).
	if [ -s "$T/dead" ]; then
		first_dead=$(head -1 "$T/dead" | jq -r .data.id)
		[ "$first_dead" -le $((n + 1)) ]
		jq -r .data.id "$T/dead" | cmp - <(seq "$first_dead" 100000)
		grep -q "the events still to come go to the dead letters" "$T/pub.err"
	else
		[ "$n" -eq 100000 ]
	fi
}

@test "a socket passed by systemd (LISTEN_FDS) is used as it is" {
	"$BATS_TEST_DIRNAME/listenfds.py" "$T/sa.sock" "$T/bus.log" evbus --memory 3>&- &
	BUS=$!
	BUS_PIDS="$BUS_PIDS $BUS"
	for i in $(seq 100); do grep -q "listening" "$T/bus.log" 2> /dev/null && break; sleep 0.05; done
	grep -q "listening on the socket passed by systemd" "$T/bus.log"
	evpub -b "unix:$T/sa.sock" -t via.systemd k=v
	[ "$(evsub -b "unix:$T/sa.sock" --from all --no-follow | jq -r .type)" = via.systemd ]
}

@test "many publishers and subscribers at once: each subscriber gets everything, each publisher's order kept" {
	start_bus --memory
	local subs="" p
	for s in 1 2 3; do
		evsub -n 2000 --from all > "$T/sub$s" 2> /dev/null 3>&- &
		subs="$subs $!"
	done
	sleep 0.3
	for p in 1 2 3 4; do
		seq 500 | sed "s/.*/{\"p\":$p,\"n\":&}/" |
		    evpub -b "unix:$S" -t "load.p$p" --json 3>&- &
	done
	wait $subs
	for s in 1 2 3; do
		[ "$(wc -l < "$T/sub$s")" -eq 2000 ]
		for p in 1 2 3 4; do
			jq -r "select(.data.p == $p) | .data.n" "$T/sub$s" | cmp - <(seq 500)
		done
	done
}

@test "retention on disk drops whole old segments; a subscriber behind it is told what it missed" {
	start_bus --data "$T/data" --segment-bytes 1K --retain-bytes 2K
	for i in $(seq 20); do cat "$T/ev"; done | evpub -b "unix:$S" --json
	# Retention runs about once a second.
	sleep 1.5
	evpub -b "unix:$S" -t tick k=v
	sleep 0.2
	[ ! -e "$T/data/00000000000000000001.ndjson" ]
	run --separate-stderr evsub --from 1 --no-follow
	[ "$status" -eq 1 ]
	[[ $stderr =~ ^evsub:\ the\ bus\ dropped\ [0-9]+\ events\ before\ they\ were\ read$ ]]
	missed=$(echo "$stderr" | grep -o '[0-9]*')
	[ "$((missed + ${#lines[@]}))" -eq 121 ]
	# What is left is the newest, in order, and still NDJSON on disk.
	[ "$(echo "$output" | tail -1 | jq -r .type)" = tick ]
	cat "$T/data"/*.ndjson | jq -c . > /dev/null
}

@test "--retain-age drops old segments by the time they were stored" {
	start_bus --data "$T/data" --segment-bytes 1K --retain-age 1s
	for i in $(seq 5); do cat "$T/ev"; done | evpub -b "unix:$S" --json
	sleep 2.5
	evpub -b "unix:$S" -t fresh k=v
	sleep 1.2
	run evsub --from all --no-follow
	[ "$(echo "$output" | jq -r .type | tail -1)" = fresh ]
	[ "${#lines[@]}" -lt 31 ]
}

@test "a full disk: publishes fail with a clear error, subscribers are still served, the log stays readable" {
	[ "$(id -u)" -eq 0 ] || skip "mounting a small tmpfs needs root"
	mkdir "$T/small"
	mount -t tmpfs -o size=64k tmpfs "$T/small" || skip "cannot mount a tmpfs here"
	start_bus --data "$T/small/data"
	evpub -b "unix:$S" --json "$T/ev"
	evsub -n 6 --from all > "$T/early" 2> /dev/null 3>&- &
	local sub=$!
	seq 2000 | sed 's/.*/{"n":&}/' > "$T/many"
	run --separate-stderr evpub -b "unix:$S" -t fill.up --json --dead-letter "$T/dead" "$T/many"
	[ "$status" -eq 1 ]
	[[ ${stderr_lines[0]} == "evpub: the bus refused an event: "*"No space left on device" ]]
	stored=$(evsub --from all --no-follow | wc -l)
	[ "$((stored - 6 + $(wc -l < "$T/dead")))" -eq 2000 ]
	wait "$sub"
	[ "$(wc -l < "$T/early")" -eq 6 ]
	# The bus still runs and serves; the segments are whole lines.
	kill -0 "$BUS"
	cat "$T/small/data"/*.ndjson | jq -c . > /dev/null
}

@test "a subscriber that stops reading holds up neither publishers nor other subscribers" {
	start_bus --memory --retain-bytes 64M
	evpub -b "unix:$S" -t marker k=v
	evsub -n 10001 --from all > "$T/slow" 2> /dev/null 3>&- &
	local slow=$! i
	# Stopped once it is surely subscribed: it wrote the first event.
	for i in $(seq 600); do [ -s "$T/slow" ] && break; sleep 0.05; done
	kill -STOP "$slow"
	evsub -n 10001 --from all > "$T/fast" 2> /dev/null 3>&- &
	local fast=$!
	seq 10000 | sed 's/.*/{"n":&}/' > "$T/many"
	timeout 120 evpub -b "unix:$S" -t load.x --json "$T/many"
	timeout 120 tail --pid="$fast" -f /dev/null
	[ "$(wc -l < "$T/fast")" -eq 10001 ]
	kill -CONT "$slow"
	wait "$slow"
	tail -n +2 "$T/slow" | jq -r .data.n | cmp - <(seq 10000)
}

@test "--max-inflight bounds what a group member holds unacknowledged" {
	start_bus --memory --max-inflight 2
	seq 10 | sed 's/.*/{"id":"&"}/' | evpub -b "unix:$S" -t job.run --json
	{ echo '{"op":"sub","group":"g","from":"all","window":5}'; sleep 0.5; echo '["ack",2]'; sleep 0.5; } |
	    socat -t 1 - "UNIX-CONNECT:$S" > "$T/raw"
	# Two, then two more after the acknowledgement.
	[ "$(grep -c '"job.run"' "$T/raw")" -eq 4 ]
	run evsub --group g --timeout 500ms
	[ "$(echo "$output" | jq -r .data.id | tr '\n' ' ')" = "3 4 5 6 7 8 9 10 " ]
}
