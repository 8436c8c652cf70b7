# tests/cli/bus_helpers.bash - buses for the tests (load bus_helpers):
# started in the background, waited for, stopped by their PID.

# bus_start SOCKET LOG [OPTIONS...]: evbus on SOCKET with OPTIONS, its
# stderr appended to LOG; sets BUS and adds it to BUS_PIDS; returns once
# this bus says it listens.
bus_start() {
	local sock=$1 log=$2 i before
	shift 2
	before=$(grep -c "listening on" "$log" 2> /dev/null) || true
	evbus -b "unix:$sock" "$@" > /dev/null 2>> "$log" 3>&- &
	BUS=$!
	BUS_PIDS="${BUS_PIDS:-} $BUS"
	for i in $(seq 600); do
		[ "$(grep -c "listening on" "$log" 2> /dev/null)" -gt "${before:-0}" ] &&
		    return 0
		kill -0 "$BUS" 2> /dev/null || break
		sleep 0.05
	done
	cat "$log" >&2
	return 1
}

# stop_bus: stops $BUS, which must exit 0.
stop_bus() {
	kill "$BUS"
	wait "$BUS"
	BUS_PIDS=${BUS_PIDS/ $BUS/}
}

# bus_teardown: stops every bus a test started and left running.
bus_teardown() {
	local pid
	for pid in ${BUS_PIDS:-}; do
		kill "$pid" 2> /dev/null || true
		wait "$pid" 2> /dev/null || true
	done
}
