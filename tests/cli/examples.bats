#!/usr/bin/env bats
# Every script in examples/ runs, and does what its comment says.

bats_require_minimum_version 1.5.0

setup() {
	T=$(mktemp -d)
}

teardown() {
	rm -rf "$T"
}

@test "examples/demo.sh (make demo) prints valid events, filters, reports the bad log line" {
	run --separate-stderr sh examples/demo.sh
	[ "$status" -eq 0 ]
	grep '^{' <<< "$output" > "$T/events"
	[ "$(wc -l < "$T/events")" -eq 10 ]
	# The last step kept the 502 and the /admin request.
	[ "$(tail -2 "$T/events" | jq -r .data.path | paste -sd,)" = /checkout,/admin ]
	jq -e 'select(.specversion == "1.0")' "$T/events" > /dev/null
	[ "$stderr" = "evpub: line 4: no match for --parse" ]
	# --time-field turned the log's local times into UTC.
	grep -q '"time":"2026-11-29T09:00:01.000000Z"' "$T/events"
}

@test "examples/access-log.sh: events, split by status class, rejects kept" {
	run --separate-stderr examples/access-log.sh examples/data/access.log "$T/out"
	[ "$status" -eq 1 ]
	[ "$(wc -l < "$T/out/events.ndjson")" -eq 4 ]
	[ "$(jq -r .data.path "$T/out/ok.ndjson" | paste -sd,)" = /cart,/health ]
	[ "$(jq -r .data.status "$T/out/errors.ndjson" | paste -sd,)" = 502,403 ]
	[ "$(jq -r .data.seconds "$T/out/errors.ndjson" | paste -sd,)" = 3.001,0.004 ]
	[ "$(cat "$T/out/rejected.log")" = "this line is not an access log line" ]
}

@test "examples/ci-hook.sh: a step's result as an event" {
	run --separate-stderr examples/ci-hook.sh build true
	[ "$status" -eq 0 ]
	[ "$(jq -c '[.type, .subject, .data.ok, .data.exit_code]' <<< "$output")" = \
	    '["ci.step.finished","build",true,0]' ]
	run --separate-stderr examples/ci-hook.sh unit-tests false
	[ "$status" -eq 0 ]
	[ "$(jq -c '[.subject, .data.ok, .data.exit_code]' <<< "$output")" = \
	    '["unit-tests",false,1]' ]
}

@test "examples/systemd: the units start evbus by socket activation where clients look by default" {
	command -v python3 > /dev/null
	rt="$T/rt" state="$T/state"
	listen=$(sed -n 's/^ListenStream=//p' examples/systemd/evbus.socket)
	[ "$(sed -n 's/^SocketMode=//p' examples/systemd/evbus.socket)" = 0600 ]
	exec_start=$(sed -n 's/^ExecStart=//p' examples/systemd/evbus.service)
	sock=${listen//%t/$rt}
	read -r -a cmd <<< "${exec_start//%S/$state}"
	[ "${cmd[0]}" = /usr/local/bin/evbus ]
	cmd[0]=evbus
	mkdir -p "$state"
	"$BATS_TEST_DIRNAME/listenfds.py" "$sock" "$T/bus.log" "${cmd[@]}" 3>&- &
	bus=$!
	for i in $(seq 100); do grep -q listening "$T/bus.log" 2> /dev/null && break; sleep 0.05; done
	evpub -b "unix:$sock" -t unit.test k=v
	# evsub's default URL, with no EVBUS_URL, is the unit's socket.
	unset EVBUS_URL
	export XDG_RUNTIME_DIR=$rt
	run evsub --from all --no-follow
	kill -TERM "$bus"
	rc=0
	wait "$bus" || rc=$?
	[ "$rc" -eq 0 ]
	[ "$(echo "$output" | jq -r .type)" = unit.test ]
	[ "$(jq -r .type "$state"/evbus/*.ndjson)" = unit.test ]
	[ "$(stat -c %a "$(dirname "$sock")")" = 700 ]
}
