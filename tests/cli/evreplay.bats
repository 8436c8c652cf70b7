#!/usr/bin/env bats
# evreplay: the schedule checked exactly through --dry-run --timing (speed,
# rate, max-gap, loop, windows, untimed and out-of-order events), a few
# real-time runs that check order and count only, -b into a bus, --follow
# across rotations, --stats on known recordings, --head/--tail, bad input,
# usage errors, and the man page (lint, options, synopsis, examples).

bats_require_minimum_version 1.5.0
load bus_helpers

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	T=$(mktemp -d)
	BUS_PIDS=""
	PIDS=""
	# Six events: gaps of 1, 2, 0.5, 60 and 0.5 seconds.
	ev 1 order.created //shop 2026-12-01T10:00:00Z > "$T/rec"
	ev 2 order.paid //shop 2026-12-01T10:00:01Z >> "$T/rec"
	ev 3 user.login //auth 2026-12-01T10:00:03Z >> "$T/rec"
	ev 4 order.created //shop 2026-12-01T10:00:03.5Z >> "$T/rec"
	ev 5 order.shipped //ship 2026-12-01T10:01:03.5Z >> "$T/rec"
	ev 6 order.created //shop 2026-12-01T10:01:04Z >> "$T/rec"
}

teardown() {
	local pid
	for pid in $PIDS; do
		stop_pid "$pid" || true
	done
	bus_teardown
	rm -rf "$T"
}

# ev ID TYPE SOURCE TIME: one complete CloudEvent (TIME "" for none).
ev() {
	local t=""
	[ -n "$4" ] && t=",\"time\":\"$4\""
	printf '{"specversion":"1.0","id":"%s","source":"%s","type":"%s"%s,"data":{"n":%s}}\n' \
	    "$1" "$3" "$2" "$t" "$1"
}

# The offsets of --dry-run --timing with the given arguments, one per
# line, "OFFSET LINE" with the file name left out.
plan() {
	evreplay --dry-run --timing "$@" | sed -E 's/ [^ ]*:([0-9]+)$/ \1/'
}

# running PID: the process has not ended (a zombie has).
running() {
	[ -r "/proc/$1/stat" ] && ! grep -qE '^[0-9]+ \(.*\) Z' "/proc/$1/stat"
}

# stop_pid PID: SIGTERM, at most 10 s to end, then SIGKILL; its exit
# status in STOP_RC; removed from PIDS.
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2> /dev/null || true
	for i in $(seq 200); do
		running "$pid" || break
		sleep 0.05
	done
	kill -KILL "$pid" 2> /dev/null || true
	STOP_RC=0
	wait "$pid" 2> /dev/null || STOP_RC=$?
	PIDS=${PIDS/ $pid/}
}

# wait_for N FILE: until FILE has N lines or more (at most 10 s).
wait_for() {
	local i
	for i in $(seq 200); do
		[ "$(wc -l < "$2" 2> /dev/null || echo 0)" -ge "$1" ] && return 0
		sleep 0.05
	done
	echo "# timed out waiting for $1 lines in $2 (have $(wc -l < "$2"))"
	return 1
}

# --- options and help ----------------------------------------------------

@test "--help and --version" {
	run --separate-stderr evreplay --help
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ "$output" == "usage: evreplay [-b URL] [--speed X | --fast | --rate N/s] [options] [FILE ...]"* ]]
	[[ "$output" == *"Exit status: 0 all good, 1 some input was rejected, 2 usage or fatal error."* ]]
	run --separate-stderr evreplay -h
	[[ "$output" == usage:* ]]
	run --separate-stderr evreplay --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^evreplay\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	run --separate-stderr evreplay -V
	[[ "$output" =~ ^evreplay\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

# usage_error "MESSAGE" ARGS...: exit 2, the message and the hint, no
# output, nothing read (stdin would block: it is a terminal-less pipe).
usage_error() {
	local msg=$1
	shift
	run --separate-stderr evreplay "$@" < /dev/null
	echo "# evreplay $* -> $status: $stderr"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[ "${stderr_lines[0]}" = "evreplay: $msg" ]
	[ "${stderr_lines[1]}" = "Try 'evreplay --help' for more information." ]
}

@test "usage errors exit 2 before reading, with a message" {
	usage_error "--speed 0: must be more than 0" --speed 0
	usage_error "--speed -1: not a positive number" --speed -1
	usage_error "--speed 2x: not a positive number" --speed 2x
	usage_error "--speed 1.0000001: more than 6 fraction digits" --speed 1.0000001
	usage_error "--speed 2000000: too large (at most 1000000)" --speed 2000000
	usage_error "--rate 10/d: unknown unit (use /s, /m or /h)" --rate 10/d
	usage_error "--rate 0/s: must be more than 0" --rate 0/s
	usage_error "--max-gap 5: missing unit (use ns, us, ms, s, m, h or d)" --max-gap 5
	usage_error "--max-gap 0s: must be more than 0" --max-gap 0s
	usage_error "--loop x: invalid number" --loop x "$T/rec"
	usage_error "--loop -1: too small" --loop -1 "$T/rec"
	usage_error "-n 0: too small" -n 0
	usage_error "--skip 5x: invalid number" --skip 5x
	usage_error "--head 0: too small" --head 0
	usage_error "--top 1001: too large" --stats --top 1001
	usage_error "--speed, --fast and --rate exclude each other" --speed 2 --fast
	usage_error "--speed, --fast and --rate exclude each other" --rate 5/s --speed 2
	usage_error "--max-gap goes with recorded times: not with --fast or --rate" --rate 5/s --max-gap 1s
	usage_error "--timing needs --dry-run" --timing
	usage_error "--json needs --stats" --json
	usage_error "--top needs --stats" --top 3
	usage_error "--loop-gap needs --loop" --loop-gap 1s
	usage_error "--stats, --head and --tail exclude each other" --stats --head 1
	usage_error "--head and --tail: not with --skip or -n" --tail 3 -n 1
	usage_error "--loop needs FILE operands" --loop 2
	usage_error "--loop cannot read standard input again" --loop 2 -
	usage_error "--follow needs FILE operands" --follow
	usage_error "--follow takes one FILE, without --loop" --follow "$T/rec" "$T/rec"
	usage_error "-b and --dry-run exclude each other" -b '' --dry-run
	usage_error "--since yesterday: not an RFC 3339 time or -DURATION (expected digit at column 1)" --since yesterday
	usage_error "--until -2x: unknown duration unit (use ns, us, ms, s, m, h or d)" --until -2x
	usage_error "--time-field: empty path" --time-field ''
	usage_error "-t order..x: empty token in topic" -t order..x
	[[ "$(evreplay --stats --speed 2 < /dev/null 2>&1)" == "evreplay: --stats, --head and --tail do not replay"* ]]
	# An error in an expression: its column and a caret, as evfilter.
	run --separate-stderr evreplay -e 'data.n >' < /dev/null
	[ "$status" -eq 2 ]
	[[ "${stderr_lines[0]}" == "evreplay: -e: column "* ]]
	[ "${stderr_lines[1]}" = "  data.n >" ]
	[[ "${stderr_lines[2]}" =~ ^\ +\^$ ]]
	run --separate-stderr evreplay --bogus
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"unrecognized option"* ]]
}

# --- the schedule, exactly ------------------------------------------------

@test "--dry-run --timing: the recorded gaps at --speed 1 (the default)" {
	run --separate-stderr evreplay --dry-run --timing "$T/rec"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$output" = "0.000000000 $T/rec:1
1.000000000 $T/rec:2
3.000000000 $T/rec:3
3.500000000 $T/rec:4
63.500000000 $T/rec:5
64.000000000 $T/rec:6" ]
	[ "$(plan --speed 1 "$T/rec")" = "$(plan "$T/rec")" ]
	# Standard input is "-".
	run evreplay --dry-run --timing < "$T/rec"
	[ "${lines[1]}" = "1.000000000 -:2" ]
}

@test "--speed divides every gap, exactly, with no rounding that adds up" {
	[ "$(plan --speed 2 "$T/rec" | cut -d' ' -f1 | paste -sd' ')" = \
	    "0.000000000 0.500000000 1.500000000 1.750000000 31.750000000 32.000000000" ]
	[ "$(plan --speed 10 "$T/rec" | cut -d' ' -f1 | paste -sd' ')" = \
	    "0.000000000 0.100000000 0.300000000 0.350000000 6.350000000 6.400000000" ]
	[ "$(plan --speed 0.5 "$T/rec" | cut -d' ' -f1 | paste -sd' ')" = \
	    "0.000000000 2.000000000 6.000000000 7.000000000 127.000000000 128.000000000" ]
	# 3x: each offset is the distance from the first event divided by 3,
	# truncated to the nanosecond; it is never the sum of rounded gaps.
	[ "$(plan --speed 3 "$T/rec" | cut -d' ' -f1 | paste -sd' ')" = \
	    "0.000000000 0.333333333 1.000000000 1.166666666 21.166666666 21.333333333" ]
	# 1000 events 1 ms apart at 3x: the last is at 999 ms / 3 = 333 ms
	# exactly (a sum of rounded gaps would be 333 us short).
	awk 'BEGIN { for (i = 0; i < 1000; i++) printf "{\"time\":\"2026-12-01T10:00:00.%03dZ\"}\n", i }' > "$T/ms"
	[ "$(plan --speed 3 "$T/ms" | tail -1)" = "0.333000000 1000" ]
	[ "$(plan --speed 3 "$T/ms" | sed -n 2p)" = "0.000333333 2" ]
}

@test "--rate N/s, N/m, N/h and a bare N: i times the interval, exactly" {
	[ "$(plan --rate 4/s "$T/rec" | cut -d' ' -f1 | paste -sd' ')" = \
	    "0.000000000 0.250000000 0.500000000 0.750000000 1.000000000 1.250000000" ]
	[ "$(plan --rate 4 "$T/rec")" = "$(plan --rate 4/s "$T/rec")" ]
	[ "$(plan --rate 240/m "$T/rec")" = "$(plan --rate 4/s "$T/rec")" ]
	[ "$(plan --rate 14400/h "$T/rec")" = "$(plan --rate 4/s "$T/rec")" ]
	[ "$(plan --rate 0.5/s "$T/rec" | cut -d' ' -f1 | paste -sd' ')" = \
	    "0.000000000 2.000000000 4.000000000 6.000000000 8.000000000 10.000000000" ]
	[ "$(plan --rate 3/s "$T/rec" | cut -d' ' -f1 | paste -sd' ')" = \
	    "0.000000000 0.333333333 0.666666666 1.000000000 1.333333333 1.666666666" ]
	# 10000 events at 10000/s: the last is at 0.9999 s, no drift.
	for i in $(seq 10000); do echo '{}'; done > "$T/many"
	[ "$(plan --rate 10000/s "$T/many" | tail -1)" = "0.999900000 10000" ]
	# By rate, recorded times do not matter: none is needed.
	run --separate-stderr evreplay --dry-run --timing --rate 2/s "$T/many"
	[ -z "$stderr" ]
}

@test "--max-gap caps a wait after the speed; the gaps after it are kept" {
	[ "$(plan --max-gap 2s "$T/rec" | cut -d' ' -f1 | paste -sd' ')" = \
	    "0.000000000 1.000000000 3.000000000 3.500000000 5.500000000 6.000000000" ]
	# Every gap over 0.6 s becomes 0.6 s.
	[ "$(plan --max-gap 600ms "$T/rec" | cut -d' ' -f1 | paste -sd' ')" = \
	    "0.000000000 0.600000000 1.200000000 1.700000000 2.300000000 2.800000000" ]
	# At 10x the 60 s gap is 6 s, capped to 1 s; the 2 s gap is 0.2 s.
	[ "$(plan --speed 10 --max-gap 1s "$T/rec" | cut -d' ' -f1 | paste -sd' ')" = \
	    "0.000000000 0.100000000 0.300000000 0.350000000 1.350000000 1.400000000" ]
}

@test "--loop N replays N times, --loop-gap between passes, --loop 0 forever" {
	run --separate-stderr evreplay --dry-run --timing --loop 3 "$T/rec"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 18 ]
	# Pass 2 starts right after the last event of pass 1.
	[ "${lines[6]}" = "64.000000000 $T/rec:1" ]
	[ "${lines[7]}" = "65.000000000 $T/rec:2" ]
	[ "${lines[17]}" = "192.000000000 $T/rec:6" ]
	run evreplay --dry-run --timing --loop 2 --loop-gap 10s --max-gap 1s "$T/rec"
	[ "$(printf '%s\n' "${lines[@]}" | cut -d' ' -f1 | paste -sd' ')" = \
	    "0.000000000 1.000000000 2.000000000 2.500000000 3.500000000 4.000000000 14.000000000 15.000000000 16.000000000 16.500000000 17.500000000 18.000000000" ]
	# By rate the rate goes on across passes, plus the gap.
	run evreplay --dry-run --timing --loop 2 --loop-gap 1s --rate 2/s "$T/rec"
	[ "${lines[5]}" = "2.500000000 $T/rec:6" ]
	[ "${lines[6]}" = "4.000000000 $T/rec:1" ]
	[ "${lines[11]}" = "6.500000000 $T/rec:6" ]
	# Windows apply to each pass.
	run evreplay --dry-run --timing --loop 2 -n 2 --rate 1/s "$T/rec"
	[ "$(printf '%s\n' "${lines[@]}" | sed 's/.*://' | paste -sd' ')" = "1 2 1 2" ]
	# --loop 0: until stopped (here by head closing the pipe).
	run bash -c "evreplay --dry-run --timing --loop 0 --fast '$T/rec' | head -100 | wc -l"
	[ "$output" = 100 ]
	# Several files make one recording, read again each pass.
	run evreplay --dry-run --timing --loop 2 --fast "$T/rec" "$T/rec"
	[ "${#lines[@]}" -eq 24 ]
}

@test "--since/--until (RFC 3339), --skip, -n, -t and -e select; the first selected is at 0" {
	[ "$(plan --since 2026-12-01T10:00:03Z "$T/rec")" = "0.000000000 3
0.500000000 4
60.500000000 5
61.000000000 6" ]
	[ "$(plan --until 2026-12-01T10:00:03.5Z "$T/rec")" = "0.000000000 1
1.000000000 2
3.000000000 3" ]
	# Offsets keep the event's time zone into account.
	[ "$(plan --since 2026-12-01T11:00:01+01:00 --until 2026-12-01T10:00:04Z "$T/rec")" = "0.000000000 2
2.000000000 3
2.500000000 4" ]
	[ "$(plan --skip 2 -n 2 "$T/rec")" = "0.000000000 3
0.500000000 4" ]
	[ "$(plan -t 'order.*' "$T/rec" | cut -d' ' -f2 | paste -sd' ')" = "1 2 4 5 6" ]
	[ "$(plan -t order.paid -t user.login "$T/rec" | cut -d' ' -f2 | paste -sd' ')" = "2 3" ]
	[ "$(plan -e 'data.n >= 3' -e 'data.n < 6' "$T/rec" | cut -d' ' -f2 | paste -sd' ')" = "3 4 5" ]
	[ "$(plan -t 'order.*' -e 'source == "//shop"' --skip 1 "$T/rec")" = "0.000000000 2
2.500000000 4
63.000000000 6" ]
	# A window that selects nothing: nothing sent, no error.
	run --separate-stderr evreplay --dry-run --timing --since 2030-01-01T00:00:00Z "$T/rec"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "--since and --until relative to now (-DUR)" {
	local old recent
	old=$(date -u -d '-3 hours' +%Y-%m-%dT%H:%M:%SZ)
	recent=$(date -u -d '-30 minutes' +%Y-%m-%dT%H:%M:%SZ)
	{ ev 1 a.b //x "$old"; ev 2 a.b //x "$recent"; } > "$T/rel"
	run evreplay --dry-run --timing --since -2h "$T/rel"
	[ "$output" = "0.000000000 $T/rel:2" ]
	run evreplay --dry-run --timing --until -1h "$T/rel"
	[ "$output" = "0.000000000 $T/rel:1" ]
}

@test "events without a usable time or out of order: the previous time, counted, never dropped" {
	{
		ev 1 a.b //x 2026-12-01T10:00:00Z
		ev 2 a.b //x ""                       # no time
		ev 3 a.b //x 2026-12-01T10:00:05Z
		ev 4 a.b //x 2026-12-01T10:00:02Z     # out of order
		printf '{"id":"5","time":"yesterday"}\n' # not a time
		printf '{"id":"6","time":12}\n'          # epoch seconds: 1970, out of order
		ev 7 a.b //x 2026-12-01T10:00:06Z
	} > "$T/odd"
	run --separate-stderr evreplay --dry-run --timing "$T/odd"
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "${lines[@]}" | cut -d' ' -f1 | paste -sd' ')" = \
	    "0.000000000 0.000000000 5.000000000 5.000000000 5.000000000 5.000000000 6.000000000" ]
	[ "$stderr" = "evreplay: warning: 4 events sent with the time of the event before: 2 without a usable time, 2 out of order" ]
	# Sent for real (fast): all seven, in their order, byte for byte.
	run --separate-stderr evreplay --speed 1000 "$T/odd"
	[ "$output" = "$(cat "$T/odd")" ]
	[[ "$stderr" == *"2 without a usable time, 2 out of order" ]]
	# An untimed event before any timed one is sent at once.
	{ printf '{"id":0}\n'; ev 1 a.b //x 2026-12-01T10:00:00Z; ev 2 a.b //x 2026-12-01T10:00:01Z; } > "$T/first"
	[ "$(plan "$T/first" | cut -d' ' -f1 | paste -sd' ')" = "0.000000000 0.000000000 1.000000000" ]
	# With --since, an event whose time is unknown is before it.
	[ "$(plan --since 2026-12-01T09:00:00Z "$T/first" | cut -d' ' -f2 | paste -sd' ')" = "2 3" ]
}

@test "--time-field PATH reads another member: RFC 3339 or epoch s/ms" {
	cat > "$T/ts" <<'EOF'
{"id":1,"meta":{"ts":1795947330000}}
{"id":2,"meta":{"ts":1795947330250}}
{"id":3,"meta":{"ts":"1795947331"}}
{"id":4,"meta":{"ts":"2026-11-29T11:15:31.5+01:00"}}
EOF
	[ "$(plan --time-field meta.ts "$T/ts" | cut -d' ' -f1 | paste -sd' ')" = \
	    "0.000000000 0.250000000 1.000000000 1.500000000" ]
	# Without it, "time" is missing: everything at once, and a warning.
	run --separate-stderr evreplay --dry-run --timing "$T/ts"
	[ "$(printf '%s\n' "${lines[@]}" | cut -d' ' -f1 | sort -u)" = "0.000000000" ]
	[[ "$stderr" == *"4 without a usable time"* ]]
}

@test "--dry-run alone: how many events and the last offset, nothing sent" {
	run --separate-stderr evreplay --dry-run "$T/rec"
	[ "$status" -eq 0 ]
	[ "$output" = "6 events over 64.000000000 s" ]
	run --separate-stderr evreplay --dry-run --speed 4 -t 'order.*' "$T/rec"
	[ "$output" = "5 events over 16.000000000 s" ]
	run --separate-stderr evreplay --dry-run < /dev/null
	[ "$output" = "0 events over 0.000000000 s" ]
}

# --- real time: behaviour only -------------------------------------------

@test "a timed replay writes every event byte for byte, in order" {
	# CRLF, spaces and escapes pass through as they are.
	{
		printf '{"time":"2026-12-01T10:00:00Z", "id":1}\r\n'
		printf '{ "id" : 2 , "time":"2026-12-01T10:00:00.01Z","s":"caf\\u00e9"}\n'
		printf '{"id":3,"time":"2026-12-01T10:00:00.02Z"}'
	} > "$T/raw"
	run --separate-stderr evreplay "$T/raw"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	cmp <(evreplay "$T/raw") <(cat "$T/raw"; echo)
	# At 200x: the six events, in order (the 64 s recording in 0.32 s).
	run --separate-stderr evreplay --speed 200 "$T/rec"
	[ "$output" = "$(cat "$T/rec")" ]
	# By rate, and with --fast, the same.
	run --separate-stderr evreplay --rate 100/s "$T/rec"
	[ "$output" = "$(cat "$T/rec")" ]
	run --separate-stderr evreplay --fast --line-buffered "$T/rec"
	[ "$output" = "$(cat "$T/rec")" ]
	run --separate-stderr evreplay --fast - < "$T/rec"
	[ "$output" = "$(cat "$T/rec")" ]
}

@test "events reach a reader as they are sent, not at the end" {
	# The first event at once, the second 600 s later: the reader sees
	# the first while evreplay waits, then it is stopped by SIGTERM.
	{ ev 1 a.b //x 2026-12-01T10:00:00Z; ev 2 a.b //x 2026-12-01T10:10:00Z; } > "$T/slow"
	evreplay "$T/slow" > "$T/out" 2> "$T/err" 3>&- &
	local pid=$!
	PIDS="$PIDS $pid"
	wait_for 1 "$T/out"
	running "$pid"
	stop_pid "$pid"
	# Ended by the signal (128 + 15), the first event only.
	[ "$STOP_RC" -eq 143 ]
	[ "$(cat "$T/out")" = "$(head -1 "$T/slow")" ]
}

@test "a reader that leaves ends the replay quietly" {
	for i in $(seq 50000); do echo '{"a":1}'; done > "$T/big"
	run --separate-stderr bash -c "evreplay --fast '$T/big' | head -1"
	[ "$status" -eq 0 ]
	[ "$output" = '{"a":1}' ]
	[ -z "$stderr" ]
}

@test "--progress writes a live line on standard error; --no-progress none" {
	run --separate-stderr evreplay --progress --speed 1000 "$T/rec"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$T/rec")" ]
	# The last state: six sent, the recording's end reached (100%).
	[[ "$stderr" == *"evreplay: sent 6 "* ]]
	[[ "$stderr" == *"at 2026-12-01T10:01:04Z (100%)"* ]]
	run --separate-stderr evreplay --no-progress --speed 1000 "$T/rec"
	[ -z "$stderr" ]
	# Not a terminal: none by default.
	run --separate-stderr evreplay --speed 1000 "$T/rec"
	[ -z "$stderr" ]
}

# --- the bus ---------------------------------------------------------------

@test "-b publishes to a bus, in order, byte for byte; -b '' is the default bus" {
	command -v evbus > /dev/null
	bus_start "$T/bus.sock" "$T/bus.log" --memory
	run --separate-stderr evreplay -b "unix:$T/bus.sock" --speed 100 "$T/rec"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	run --separate-stderr evsub -b "unix:$T/bus.sock" --from all --no-follow
	[ "$output" = "$(cat "$T/rec")" ]
	EVBUS_URL="unix:$T/bus.sock" run --separate-stderr evreplay -b '' --rate 500/s --loop 2 -t 'order.*' "$T/rec"
	[ "$status" -eq 0 ]
	run --separate-stderr evsub -b "unix:$T/bus.sock" --from all --no-follow 'order.*'
	[ "${#lines[@]}" -eq 15 ]
	[ "$(printf '%s\n' "${lines[@]}" | tail -10 | jq -r .id | paste -sd' ')" = "1 2 4 5 6 1 2 4 5 6" ]
	stop_bus
}

@test "-b: a bad line is reported and the others are published; no bus is an error" {
	command -v evbus > /dev/null
	bus_start "$T/bus.sock" "$T/bus.log" --memory
	{ head -2 "$T/rec"; echo '{"broken":'; tail -1 "$T/rec"; } > "$T/bad"
	run --separate-stderr evreplay -b "unix:$T/bus.sock" --fast "$T/bad"
	[ "$status" -eq 1 ]
	[ "$stderr" = "evreplay: $T/bad:3: invalid JSON: unexpected end of input at column 11" ]
	run evsub -b "unix:$T/bus.sock" --from all --no-follow
	[ "$(printf '%s\n' "${lines[@]}" | jq -r .id | paste -sd' ')" = "1 2 6" ]
	stop_bus
	run --separate-stderr evreplay -b "unix:$T/none.sock" --fast "$T/rec"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evreplay: cannot connect to unix:$T/none.sock"* ]]
}

@test "the segment files of an evbus log are recordings as they are" {
	command -v evbus > /dev/null
	bus_start "$T/bus.sock" "$T/bus.log" --data "$T/data"
	evreplay -b "unix:$T/bus.sock" --fast "$T/rec"
	stop_bus
	ls "$T"/data/*.ndjson
	run --separate-stderr evreplay --fast "$T"/data/*.ndjson
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$T/rec")" ]
	run --separate-stderr evreplay --stats --json "$T"/data/*.ndjson
	[ "$(jq -c '[.events, .span_ns]' <<< "$output")" = "[6,64000000000]" ]
}

@test "-b: an event the bus refuses is reported and kept, with those it did not acknowledge" {
	command -v evbus > /dev/null
	bus_start "$T/bus.sock" "$T/bus.log" --memory --max-line 300
	pad=$(printf '{"pad":"%s"}' "$(head -c 400 /dev/zero | tr '\0' p)")
	{ head -2 "$T/rec"; echo "$pad"; sed -n 3p "$T/rec"; } > "$T/in"
	run --separate-stderr evreplay -b "unix:$T/bus.sock" --fast --dead-letter "$T/dead" "$T/in"
	echo "# $stderr"
	# The bus ends the connection after an over-long line: what came
	# after it was not acknowledged, and is kept too; exit 2.
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "evreplay: the bus refused an event: line longer than --max-line" ]
	grep -qxF -- "$pad" "$T/dead"
	grep -qxF -- "$(sed -n 3p "$T/rec")" "$T/dead"
	run evsub -b "unix:$T/bus.sock" --from all --no-follow
	[ "$output" = "$(head -2 "$T/rec")" ]
}

# --- --follow --------------------------------------------------------------

@test "--follow reads a growing file and survives rotation by rename and by truncation" {
	head -2 "$T/rec" > "$T/live"
	evreplay --follow --fast "$T/live" > "$T/out" 2> "$T/err" 3>&- &
	local pid=$!
	PIDS="$PIDS $pid"
	wait_for 2 "$T/out"
	sed -n 3p "$T/rec" >> "$T/live"
	wait_for 3 "$T/out"
	# Rotation by rename: a line written to the old file before the new
	# one exists is still read, then the new file from its start.
	mv "$T/live" "$T/live.1"
	sed -n 4p "$T/rec" >> "$T/live.1"
	sed -n 5p "$T/rec" > "$T/live"
	wait_for 5 "$T/out"
	# Truncation (copytruncate): read again from the start.  Event 6 is
	# shorter than event 5, so the file is seen smaller than what was
	# read from it, whenever evreplay looks.
	: > "$T/live"
	sed -n 6p "$T/rec" > "$T/live"
	wait_for 6 "$T/out"
	running "$pid"
	stop_pid "$pid"
	[ "$STOP_RC" -eq 143 ]
	[ "$(cat "$T/out")" = "$(cat "$T/rec")" ]
	[ ! -s "$T/err" ]
}

@test "--follow: a line cut by a rotation is rejected, never glued to the next" {
	printf '%s\n{"cut":' "$(head -1 "$T/rec")" > "$T/live"
	evreplay --follow --fast "$T/live" > "$T/out" 2> "$T/err" 3>&- &
	local pid=$!
	PIDS="$PIDS $pid"
	wait_for 1 "$T/out"
	mv "$T/live" "$T/live.1"
	sed -n 2p "$T/rec" > "$T/live"
	wait_for 2 "$T/out"
	stop_pid "$pid"
	[ "$(cat "$T/out")" = "$(head -2 "$T/rec")" ]
	[ "$(cat "$T/err")" = "evreplay: $T/live:2: invalid JSON: unexpected end of input at column 8" ]
	# Stopped by the signal after a rejected line.
	[ "$STOP_RC" -eq 143 ]
}

@test "--follow keeps the timing of events as they come" {
	head -1 "$T/rec" > "$T/live"
	evreplay --follow --speed 100 "$T/live" > "$T/out" 3>&- &
	local pid=$!
	PIDS="$PIDS $pid"
	wait_for 1 "$T/out"
	sed -n 2,6p "$T/rec" >> "$T/live"
	wait_for 6 "$T/out"
	stop_pid "$pid"
	[ "$STOP_RC" -eq 143 ]
	[ "$(cat "$T/out")" = "$(cat "$T/rec")" ]
}

# --- --stats ---------------------------------------------------------------

@test "--stats on a known recording: counts, span, gap, types, sources, rate" {
	run --separate-stderr evreplay --stats "$T/rec"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	echo "$output"
	[ "${lines[0]}" = "events        6" ]
	[ "${lines[1]}" = "bytes         $(wc -c < "$T/rec")" ]
	[ "${lines[2]}" = "invalid lines 0" ]
	[ "${lines[3]}" = "time span     2026-12-01T10:00:00Z .. 2026-12-01T10:01:04Z (1m4s)" ]
	[ "${lines[4]}" = "largest gap   1m after 2026-12-01T10:00:03.500Z" ]
	[ "${lines[5]}" = "out of order  0" ]
	[ "${lines[6]}" = "untimed       0" ]
	[ "${lines[7]}" = "types         4 distinct" ]
	[[ "${lines[8]}" =~ ^\ \ order\.created\ +3\ +50\.0%$ ]]
	[[ "${lines[9]}" =~ ^\ \ order\.paid\ +1\ +16\.7%$ ]]
	[[ "${lines[10]}" =~ ^\ \ order\.shipped\ +1\ +16\.7%$ ]]
	[[ "${lines[11]}" =~ ^\ \ user\.login\ +1\ +16\.7%$ ]]
	[ "${lines[12]}" = "sources       3 distinct" ]
	[[ "${lines[13]}" =~ ^\ \ //shop\ +4\ +66\.7%$ ]]
	[ "${lines[16]}" = "rate          per minute from 2026-12-01T10:00:00Z, peak 4 at 2026-12-01T10:00:00Z" ]
	# Four events in the first minute, two in the second: full and half.
	[ "${lines[17]}" = "  █▄" ]
}

@test "--stats --json: the same numbers for a script" {
	run --separate-stderr evreplay --stats --json "$T/rec"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	j=$output
	[ "$(jq -c '[.events, .invalid, .untimed, .out_of_order, .span_ns, .largest_gap_ns]' <<< "$j")" = "[6,0,0,0,64000000000,60000000000]" ]
	[ "$(jq -r '.first, .last, .largest_gap_after' <<< "$j" | paste -sd' ')" = \
	    "2026-12-01T10:00:00Z 2026-12-01T10:01:04Z 2026-12-01T10:00:03.500Z" ]
	[ "$(jq .bytes <<< "$j")" = "$(wc -c < "$T/rec")" ]
	[ "$(jq -c '.types.top | map([.name, .count, .share])' <<< "$j")" = \
	    '[["order.created",3,0.5],["order.paid",1,0.1667],["order.shipped",1,0.1667],["user.login",1,0.1667]]' ]
	[ "$(jq -c '[.types.distinct, .types.other, .types.none, .types.more, .sources.distinct]' <<< "$j")" = "[4,0,0,false,3]" ]
	[ "$(jq -c '.rate' <<< "$j")" = '{"unit_s":60,"start":"2026-12-01T10:00:00Z","counts":[4,2]}' ]
	# --top 2: the rest add up in "other" (text: "(others)").
	run evreplay --stats --json --top 2 "$T/rec"
	[ "$(jq -c '[(.types.top | length), .types.other]' <<< "$output")" = "[2,2]" ]
	run evreplay --stats --top 2 "$T/rec"
	[[ "$output" == *"(others)"*"2  33.3%"* ]]
	# The selection options apply.
	run evreplay --stats --json -t 'order.*' --skip 1 "$T/rec"
	[ "$(jq .events <<< "$output")" = 4 ]
	# Counts agree with jq's over a generated recording.
	awk 'BEGIN { for (i = 0; i < 3000; i++) printf "{\"type\":\"t%d\",\"source\":\"s%d\",\"time\":%d}\n", i % 7, i % 3, 1795947330 + i }' > "$T/gen"
	run evreplay --stats --json --top 1000 "$T/gen"
	[ "$(jq -c '.types.top | map({(.name): .count}) | add' <<< "$output")" = \
	    "$(jq -s -c 'group_by(.type) | map({(.[0].type): length}) | add' "$T/gen")" ]
	[ "$(jq -c '.rate.unit_s, (.rate.counts | add)' <<< "$output" | paste -sd' ')" = "60 3000" ]
}

@test "--stats of an empty file and of a file of only bad lines" {
	: > "$T/empty"
	run --separate-stderr evreplay --stats "$T/empty"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "events        0" ]
	[ "${lines[3]}" = "time span     none (no event with a time)" ]
	[ "${lines[6]}" = "types         0 distinct" ]
	run --separate-stderr evreplay --stats --json "$T/empty"
	[ "$status" -eq 0 ]
	[ "$(jq -c '[.events, .bytes, .invalid, .first, .span_ns, .types.distinct, .rate.counts]' <<< "$output")" = '[0,0,0,null,0,0,[]]' ]
	printf 'nope\n[1,2]\n{"a":\n' > "$T/bad"
	run --separate-stderr evreplay --stats --json "$T/bad"
	[ "$status" -eq 1 ]
	[ "$(jq -c '[.events, .invalid, .first]' <<< "$output")" = '[0,3,null]' ]
	[ "${#stderr_lines[@]}" -eq 3 ]
	[ "${stderr_lines[1]}" = "evreplay: $T/bad:2: not a JSON object" ]
}

@test "--stats: out of order, untimed, no type, odd names escaped, the 'other' bucket beyond 4096 types" {
	{
		printf '{"type":"a","time":"2026-12-01T10:00:05Z"}\n'
		printf '{"type":"a","time":"2026-12-01T10:00:01Z"}\n'
		printf '{"type":"b"}\n'
		printf '{"time":"2026-12-01T10:00:06Z","source":7}\n'
		printf '{"type":"x\\u001b[31my","time":"2026-12-01T10:00:07Z"}\n'
	} > "$T/odd"
	run evreplay --stats --json "$T/odd"
	[ "$(jq -c '[.out_of_order, .untimed, .types.none, .sources.none]' <<< "$output")" = "[1,1,1,5]" ]
	[ "$(jq -r '.types.top[] | select(.count == 1 and (.name | startswith("x"))) | .name' <<< "$output")" = $'x\e[31my' ]
	run evreplay --stats "$T/odd"
	# The escape never reaches the terminal as a raw ESC byte.
	[[ "$output" != *$'\e'* ]]
	[[ "$output" == *'x\u001b[31my'* ]]
	awk 'BEGIN { for (i = 0; i < 5000; i++) printf "{\"type\":\"t%d\"}\n", i }' > "$T/wide"
	run evreplay --stats --json "$T/wide"
	[ "$(jq -c '[.events, .types.distinct, .types.more, .types.other]' <<< "$output")" = "[5000,4096,true,4990]" ]
	run evreplay --stats "$T/wide"
	[[ "$output" == *"types         4096 or more (the rest counted as other)"* ]]
}

@test "--stats picks the chart's unit by the span: seconds for a minute, hours for days" {
	awk 'BEGIN { for (i = 0; i < 40; i++) printf "{\"time\":%d}\n", 1795947300 + i }' > "$T/short"
	run evreplay --stats --json "$T/short"
	# Within one minute: 10 s bars.
	[ "$(jq -c '[.rate.unit_s, .rate.counts]' <<< "$output")" = "[10,[10,10,10,10]]" ]
	awk 'BEGIN { for (i = 0; i < 48; i++) printf "{\"time\":%d}\n", 1795910400 + i * 3600 }' > "$T/days"
	run evreplay --stats "$T/days"
	[[ "$output" == *"rate          per hour from "* ]]
	# 400 days: 58 weeks fit in 60 bars; 500 days do not.
	awk 'BEGIN { for (i = 0; i < 400; i++) printf "{\"time\":%d}\n", 1795910400 + i * 86400 }' > "$T/year"
	run evreplay --stats "$T/year"
	[[ "$output" == *"rate          per week from "* ]]
	awk 'BEGIN { for (i = 0; i < 500; i++) printf "{\"time\":%d}\n", 1795910400 + i * 86400 }' > "$T/year"
	run evreplay --stats "$T/year"
	[[ "$output" == *"rate          per 4 weeks from "* ]]
}

# --- --head and --tail -----------------------------------------------------

@test "--head N: the first N selected events at once" {
	run --separate-stderr evreplay --head 2 "$T/rec"
	[ "$status" -eq 0 ]
	[ "$output" = "$(head -2 "$T/rec")" ]
	run evreplay --head 2 -t 'user.*' "$T/rec"
	[ "$output" = "$(sed -n 3p "$T/rec")" ]
	run evreplay --head 100 < "$T/rec"
	[ "$output" = "$(cat "$T/rec")" ]
	# It stops reading: a bad line after the head is never seen.
	{ cat "$T/rec"; echo 'bad'; } > "$T/tailbad"
	run --separate-stderr evreplay --head 3 "$T/tailbad"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}

@test "--tail N of a file reads from its end; of a pipe, all of it" {
	run --separate-stderr evreplay --tail 2 "$T/rec"
	[ "$status" -eq 0 ]
	[ "$output" = "$(tail -2 "$T/rec")" ]
	run evreplay --tail 2 -t 'order.c*' -t order.created "$T/rec"
	[ "$output" = "$(sed -n '4p;6p' "$T/rec")" ]
	run evreplay --tail 100 "$T/rec"
	[ "$output" = "$(cat "$T/rec")" ]
	run evreplay --tail 3 < "$T/rec"
	[ "$output" = "$(tail -3 "$T/rec")" ]
	# A file that starts with a bad line: the tail of the file never
	# reads it (no report, status 0); the pipe reads everything.
	{ echo 'bad line'; cat "$T/rec"; } > "$T/badstart"
	run --separate-stderr evreplay --tail 2 "$T/badstart"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$output" = "$(tail -2 "$T/rec")" ]
	run --separate-stderr evreplay --tail 2 < "$T/badstart"
	[ "$status" -eq 1 ]
	[ "$stderr" = "evreplay: line 1: invalid JSON: unexpected 'b' at column 1" ]
	[ "$output" = "$(tail -2 "$T/rec")" ]
}

@test "--tail: blank and bad lines at the end, no final newline, CRLF, blocks of 64 KiB" {
	{ cat "$T/rec"; printf '\n{"x":\n\n'; } > "$T/end"
	run --separate-stderr evreplay --tail 1 "$T/end"
	[ "$status" -eq 1 ]
	[ "$output" = "$(tail -1 "$T/rec")" ]
	# The bad line is in the tail: reported, counting from its start.
	[ "$stderr" = "evreplay: $T/end (tail):3: invalid JSON: unexpected end of input at column 6" ]
	{ head -5 "$T/rec"; printf '%s' "$(tail -1 "$T/rec")"; } > "$T/nonl"
	run evreplay --tail 2 "$T/nonl"
	[ "$output" = "$(tail -2 "$T/rec")" ]
	sed 's/$/\r/' "$T/rec" > "$T/crlf"
	cmp <(evreplay --tail 2 "$T/crlf") <(tail -2 "$T/crlf")
	# Lines across block boundaries: 200000 events, each its number.
	seq 200000 | sed 's/.*/{"n":&}/' > "$T/long"
	[ "$(evreplay --tail 70000 "$T/long" | head -1)" = '{"n":130001}' ]
	[ "$(evreplay --tail 70000 "$T/long" | wc -l)" = 70000 ]
	[ "$(evreplay --tail 1 "$T/long")" = '{"n":200000}' ]
	# An over-long line in the tail does not count.
	{ echo '{"n":1}'; printf '{"s":"%s"}\n' "$(head -c 100 /dev/zero | tr '\0' x)"; } > "$T/over"
	run --separate-stderr evreplay --tail 1 --max-line 50 "$T/over"
	[ "$output" = '{"n":1}' ]
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"line too long"* ]]
}

# --- bad input --------------------------------------------------------------

@test "bad lines are reported with file and line, the events around them come through, exit 1" {
	{
		sed -n 1p "$T/rec"
		echo '{"a":1,}'
		printf '{"s":"\xff"}\n'
		echo '[1]'
		echo '   '
		printf '{"a":1}\0x\n'
		sed -n 2p "$T/rec"
		printf '{"truncated":'
	} > "$T/bad"
	run --separate-stderr evreplay --fast "$T/bad"
	[ "$status" -eq 1 ]
	[ "$output" = "$(head -2 "$T/rec")" ]
	[ "${stderr_lines[0]}" = "evreplay: $T/bad:2: invalid JSON: unexpected '}' at column 8" ]
	[ "${stderr_lines[1]}" = "evreplay: $T/bad:3: invalid JSON: invalid UTF-8 at column 7" ]
	[ "${stderr_lines[2]}" = "evreplay: $T/bad:4: not a JSON object" ]
	[[ "${stderr_lines[3]}" == "evreplay: $T/bad:6: "*NUL* ]]
	[ "${stderr_lines[4]}" = "evreplay: $T/bad:8: invalid JSON: unexpected end of input at column 14" ]
	[ "${#stderr_lines[@]}" -eq 5 ]
	# --dead-letter keeps them verbatim (the NUL too).
	run --separate-stderr evreplay --fast --dead-letter "$T/dead" "$T/bad"
	[ "$status" -eq 1 ]
	cmp "$T/dead" <(sed -n '2,4p;6p;8p' "$T/bad"; echo)
	# Standard input: "line N".
	run --separate-stderr evreplay --fast < "$T/bad"
	[ "${stderr_lines[0]}" = "evreplay: line 2: invalid JSON: unexpected '}' at column 8" ]
}

@test "over-long lines are skipped to the next line and kept whole as dead letters" {
	long=$(printf '{"s":"%s"}' "$(head -c 3000 /dev/zero | tr '\0' y)")
	{ sed -n 1p "$T/rec"; echo "$long"; sed -n 2p "$T/rec"; } > "$T/long"
	run --separate-stderr evreplay --fast --max-line 1K --dead-letter "$T/dead" "$T/long"
	[ "$status" -eq 1 ]
	[ "$output" = "$(head -2 "$T/rec")" ]
	[[ "$stderr" == "evreplay: $T/long:2: line too long"* ]]
	[ "$(cat "$T/dead")" = "$long" ]
	run --separate-stderr evreplay --fast --max-line 4K "$T/long"
	[ "$status" -eq 0 ]
	# --max-depth.
	echo '{"a":{"b":{"c":1}}}' > "$T/deep"
	run --separate-stderr evreplay --fast --max-depth 2 "$T/deep"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"nested"* || "$stderr" == *"deep"* ]]
	run --separate-stderr evreplay --fast --max-depth 3 "$T/deep"
	[ "$status" -eq 0 ]
}

@test "a missing file is reported, the other files are replayed, exit 2" {
	run --separate-stderr evreplay --fast "$T/rec" "$T/nothere" "$T/rec"
	[ "$status" -eq 2 ]
	[ "$stderr" = "evreplay: $T/nothere: No such file or directory" ]
	[ "${#lines[@]}" -eq 12 ]
	run --separate-stderr evreplay --stats --json "$T/nothere" "$T/rec"
	[ "$status" -eq 2 ]
	[ "$(jq .events <<< "$output")" = 6 ]
	run --separate-stderr evreplay --tail 1 "$T/nothere"
	[ "$status" -eq 2 ]
	run --separate-stderr evreplay --follow "$T/nothere"
	[ "$status" -eq 2 ]
	[ "$stderr" = "evreplay: $T/nothere: No such file or directory" ]
	# An expression that cannot be evaluated on a line rejects that line.
	printf '{"s":"%s"}\n' "$(head -c 20 /dev/zero | tr '\0' a)" > "$T/re"
	run --separate-stderr evreplay --fast -e 's =~ /^(a|aa)+$/' "$T/re"
	[ "$status" -le 1 ]
}

# --- the man page -----------------------------------------------------------

@test "evreplay(1) is clean for mandoc -Tlint" {
	command -v mandoc > /dev/null
	run --separate-stderr mandoc -Tlint -W warning "$ROOT/man/evreplay.1"
	echo "$output$stderr"
	[ "$status" -eq 0 ]
	[ -z "$output$stderr" ]
}

@test "evreplay --help and evreplay(1) name the same long options" {
	local help page
	run --separate-stderr evreplay --help
	help=$(grep -oE -- '--[a-z][a-z0-9-]*' <<< "$output" | sort -u)
	page=$(grep -oE '\bFl -[a-z][a-z0-9-]*' "$ROOT/man/evreplay.1" |
	    sed 's/^Fl -/--/' | sort -u)
	[ "$(wc -l <<< "$help")" -ge 25 ]
	diff <(echo "$help") <(echo "$page")
}

@test "the SYNOPSIS of evreplay(1) is the usage of evreplay --help" {
	local usage synopsis
	command -v mandoc > /dev/null
	run --separate-stderr evreplay --help
	usage=$(sed -n '1,/^$/p' <<< "$output" |
	    sed -e '/^$/d' -e 's/^usage: //' -e 's/^ *//')
	synopsis=$(mandoc -Tascii -O width=200 "$ROOT/man/evreplay.1" |
	    sed 's/.\x08//g' | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' |
	    sed -e '1d;$d' -e '/^ *$/d' -e 's/^ *//')
	[ "$(wc -l <<< "$usage")" -eq 3 ]
	diff <(echo "$usage") <(echo "$synopsis")
}

# The files the examples of evreplay(1) name, in $1.
fixtures() {
	mkdir -p "$1"
	local i s
	for i in $(seq 0 29); do
		s=200
		[ $((i % 7)) -eq 3 ] && s=502
		printf '{"specversion":"1.0","id":"i-%d","source":"//web","type":"web.access","time":"2026-12-05T14:00:%02d.%dZ","data":{"status":%d}}\n' \
		    "$i" $((i / 10)) $((i % 10)) "$s"
	done > "$1/incident.ndjson"
	for i in $(seq 1 20); do
		ev "$i" order.created //shop "2026-12-05T09:00:$(printf %02d "$i")Z"
	done > "$1/orders.ndjson"
	{
		cat "$T/rec"
		ev 7 order.paid //shop 2026-12-01T11:00:00Z
		ev 8 order.created //shop 2026-12-01T23:59:59Z
	} > "$1/day.ndjson"
	{ head -2 "$T/rec"; echo '{"specversion":"1.0","id":"u-3","sou'; tail -1 "$T/rec"; } > "$1/upload.ndjson"
}

@test "every example in evreplay(1) runs, with the documented exit status" {
	command -v evbus > /dev/null
	rm -rf "$T/ex"
	mkdir -p "$T/ex"
	awk -v dir="$T/ex" '
		/^\.Sh / { inex = ($0 == ".Sh EXAMPLES"); next }
		!inex { next }
		/^\.Bd -literal/ { n++; f = dir "/" n ".sh"; inblk = 1; next }
		/^\.Ed/ { inblk = 0; close(f); next }
		inblk { print > f }
	' "$ROOT/man/evreplay.1"
	! grep -n '\\[^e&]' "$T"/ex/*.sh
	sed -i -e 's/\\&//g' -e 's/\\e/\\/g' "$T"/ex/*.sh
	local ex n=0 want dir
	for ex in $(ls "$T"/ex/*.sh | sort -V); do
		n=$((n + 1))
		dir="$T/run$n"
		fixtures "$dir"
		want=0
		if grep -qE 'exit status [0-9]' "$ex"; then
			want=$(grep -oE 'exit status [0-9]' "$ex" | head -1 | cut -c13)
		fi
		echo "# example $n (exit status $want):"
		sed 's/^/#   /' "$ex"
		bus_start "$dir/bus.sock" "$dir/bus.log" --memory
		cd "$dir"
		EVBUS_URL="unix:$dir/bus.sock" run --separate-stderr timeout 30 bash "$ex" 3>&-
		cd "$ROOT"
		echo "# status $status, stderr: $stderr"
		[ "$status" -eq "$want" ]
		if [ "$want" -eq 0 ]; then
			[ -z "$stderr" ]
		else
			[ -z "$(grep -v '^evreplay: ' <<< "$stderr")" ]
		fi
		case $n in
		1) # the server errors of the incident, at 10x
			[ "$(jq -r .id <<< "$output" | paste -sd' ')" = "i-3 i-10 i-17 i-24" ] ;;
		2) [ "${#lines[@]}" -eq 30 ] ;;
		3) # 3 x 20 orders on the bus
			[ -z "$output" ]
			[ "$(evsub -b "unix:$dir/bus.sock" --from all --no-follow | wc -l)" -eq 60 ] ;;
		4) [ "${lines[0]}" = "events        8" ]
			[ "${lines[${#lines[@]} - 1]}" = '{"events":8,"invalid":0,"span_ns":50399000000000}' ] ;;
		5) [ "${#lines[@]}" -eq 30 ]
			[ "${lines[29]}" = "1.450000000 incident.ndjson:30" ] ;;
		6) [ "$(jq -r .id <<< "$output" | paste -sd' ')" = "6 7 8 1" ] ;;
		7) [ "$(jq -r .id <<< "$output" | paste -sd' ')" = "1 2 6" ]
			[ "$(cat "$dir/rejected.jsonl")" = '{"specversion":"1.0","id":"u-3","sou' ] ;;
		esac
		stop_bus
	done
	[ "$n" -eq 7 ]
}
