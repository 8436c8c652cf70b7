#!/usr/bin/env bash
# tests/bench/evreplay.sh - evreplay's timing and its --stats, against
# peers on the same data:
#  (1) timing accuracy: a recording of 10000 events a second (gaps of 0 to
#      200 us, 100 us on average) for BENCH_REPLAY_SECONDS (default 60)
#      seconds, replayed at --speed 1 into a consumer (C, built here) that
#      timestamps each read() on CLOCK_MONOTONIC, already waiting on a
#      FIFO when the pacer starts.  The lateness of event i is
#      (arrival_i - arrival_0) - planned_i (negative when the first event
#      itself came late); printed: min, p50, p99, max and the drift, the
#      lateness of the last event as a share of the span.  The same
#      schedule is paced by two Python pacers: "sleep" sleeps each gap in
#      turn, as a shell `while read; sleep` loop or `pv -L` does (pv is
#      not installed here); "deadline" sleeps until absolute deadlines,
#      as evreplay does, in Python.
#      Targets: p99 lateness under 1 ms, drift under 0.1%.
#  (2) --stats --json over BENCH_LINES (default 1000000) events against jq
#      computing the same counts (events, per type, per source).  Target:
#      at least 10x jq.
set -euo pipefail
B=${B:-build}
SECS=${BENCH_REPLAY_SECONDS:-60}
N=${BENCH_LINES:-1000000}
CC=${CC:-cc}
for cmd in jq python3 /usr/bin/time "$CC"; do
	command -v "$cmd" > /dev/null || {
		echo "bench: $cmd is missing (apt-get install -y jq python3 time gcc)" >&2
		exit 2
	}
done
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"

# --- (1) timing ---------------------------------------------------------

cat > "$D/consumer.c" <<'EOF'
/* Reads events from stdin; for each, its arrival (the monotonic time of
 * the read() that completed its line) and its planned offset ("o":NS in
 * the line).  Prints p50/p99/max lateness and the drift. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static char buf[1 << 16], line[4096];
	size_t cap = 1 << 20, n = 0, ll = 0;
	int64_t *late = malloc(cap * sizeof *late), a0 = 0, p0 = 0, now, lastp = 0, lasta = 0;
	ssize_t r;
	struct timespec ts;
	/* Opened here, after start-up: the pacer's open ends the wait. */
	int fd = argc > 2 ? open(argv[2], O_RDONLY) : 0;
	while ((r = read(fd, buf, sizeof buf)) > 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		for (ssize_t i = 0; i < r; i++) {
			if (buf[i] != '\n') {
				if (ll < sizeof line - 1) line[ll++] = buf[i];
				continue;
			}
			line[ll] = 0;
			ll = 0;
			char *o = strstr(line, "\"o\":");
			if (o == NULL) continue;
			int64_t p = strtoll(o + 4, NULL, 10);
			if (n == 0) { a0 = now; p0 = p; }
			if (n == cap) late = realloc(late, (cap *= 2) * sizeof *late);
			late[n++] = (now - a0) - (p - p0);
			lastp = p - p0;
			lasta = now - a0;
		}
	}
	if (n == 0) { printf("%s: no events\n", argv[1]); return 1; }
	qsort(late, n, sizeof *late, cmp);
	printf("  %-9s %7zu events  lateness min %7.3f p50 %7.3f p99 %8.3f max %8.3f ms  drift %+.4f%% (%+.3f ms over %.1f s)\n",
	    argv[1], n, late[0] / 1e6, late[n / 2] / 1e6, late[n * 99 / 100] / 1e6, late[n - 1] / 1e6,
	    lastp ? 100.0 * (lasta - lastp) / lastp : 0.0, (lasta - lastp) / 1e6, lastp / 1e9);
	return 0;
}
EOF
"$CC" -O2 -o "$D/consumer" "$D/consumer.c"

# The recording: "o" is the planned offset in ns, "time" the same instant.
python3 - "$SECS" > "$D/rec.ndjson" <<'EOF'
import random, sys
random.seed(7)
secs = int(sys.argv[1])
base = 1795910400 * 10**9
t = 0
out = sys.stdout
while t < secs * 10**9:
    s, ns = divmod(base + t, 10**9)
    out.write('{"specversion":"1.0","id":"%d","source":"//bench","type":"tick","time":"2026-11-29T00:%02d:%02d.%09dZ","data":{"o":%d}}\n'
              % (t, (s - 1795910400) // 60, (s - 1795910400) % 60, ns, t))
    t += random.randint(0, 200000)
EOF
echo "(1) timing: $(wc -l < "$D/rec.ndjson") events over ${SECS} s, --speed 1"

cat > "$D/pacer.py" <<'EOF'
import json, sys, time
mode = sys.argv[1]
lines = open(sys.argv[2], 'rb').read().splitlines(keepends=True)
out = sys.stdout.buffer
prev = None
start = time.monotonic_ns()
for ln in lines:
    o = json.loads(ln)['data']['o']
    if mode == 'sleep':
        if prev is not None and o > prev:
            time.sleep((o - prev) / 1e9)
        prev = o
    else:
        d = start + o - time.monotonic_ns()
        if d > 0:
            time.sleep(d / 1e9)
    out.write(ln)
    out.flush()
EOF

# pace NAME CMD...: CMD writes into a FIFO that the consumer, started
# first, is already waiting on, so that its own start-up is not measured.
pace() {
	local name=$1 pid
	shift
	rm -f "$D/fifo"
	mkfifo "$D/fifo"
	"$D/consumer" "$name" "$D/fifo" &
	pid=$!
	"$@" > "$D/fifo"
	wait "$pid"
	echo "    load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}
pace evreplay "$B/evreplay" --no-progress --speed 1 "$D/rec.ndjson"
pace py-sleep python3 "$D/pacer.py" sleep "$D/rec.ndjson"
pace py-dline python3 "$D/pacer.py" deadline "$D/rec.ndjson"
echo "  targets: p99 lateness < 1 ms, drift < 0.1%"

# --- (2) --stats against jq ------------------------------------------------

awk -v n="$N" 'BEGIN {
	srand(7)
	split("order.created order.paid order.shipped user.login user.logout " \
	    "cart.updated payment.failed inventory.low search.query page.view", T, " ")
	for (i = 1; i <= n; i++) {
		t = T[1 + int(rand() * 10)]
		printf "{\"specversion\":\"1.0\",\"id\":\"01a2%012d-7abc-8def-0123456789ab\",\"source\":\"//shop/web-%d\",\"type\":\"%s\",\"time\":\"2026-11-29T%02d:%02d:%02d.%06dZ\",\"datacontenttype\":\"application/json\",\"data\":{\"order\":%d,\"amount\":%.2f}}\n",
		    i, i % 7, t, int(i / 3600 / 12) % 24, int(i / 720) % 60, int(i / 12) % 60, (i % 12) * 83333, i, 10 + rand() * 200
	}
}' > "$D/big.ndjson"
bytes=$(wc -c < "$D/big.ndjson")
cat "$D/big.ndjson" > /dev/null
echo "(2) --stats over $N events, $((bytes / 1048576)) MiB"
/usr/bin/time -f '%e %M' -o "$D/t1" "$B/evreplay" --stats --json --top 1000 "$D/big.ndjson" > "$D/ev.json"
/usr/bin/time -f '%e %M' -o "$D/t2" jq -n -c 'reduce inputs as $e ({events: 0, types: {}, sources: {}};
	.events += 1 | .types[$e.type] += 1 | .sources[$e.source] += 1)' "$D/big.ndjson" > "$D/jq.json"
read -r es ek < "$D/t1"
read -r js jk < "$D/t2"
# The same counts, or the comparison means nothing.
a=$(jq -c '{events, types: (.types.top | map({(.name): .count}) | add), sources: (.sources.top | map({(.name): .count}) | add)}' "$D/ev.json")
b=$(jq -c '{events, types: (.types | to_entries | sort_by(.key) | from_entries), sources: (.sources | to_entries | sort_by(.key) | from_entries)}' "$D/jq.json")
a=$(jq -c '{events, types: (.types | to_entries | sort_by(.key) | from_entries), sources: (.sources | to_entries | sort_by(.key) | from_entries)}' <<< "$a")
if [ "$a" != "$b" ]; then
	echo "bench: evreplay --stats and jq disagree" >&2
	echo "$a" >&2
	echo "$b" >&2
	exit 1
fi
printf '  evreplay --stats %6.2f s %7.0f MB/s  peak RSS %6d KiB\n' "$es" "$(awk -v b="$bytes" -v s="$es" 'BEGIN { print b / 1e6 / (s < 0.01 ? 0.01 : s) }')" "$ek"
printf '  jq reduce        %6.2f s %7.0f MB/s  peak RSS %6d KiB  evreplay is %.1fx jq (target: 10x)\n' \
    "$js" "$(awk -v b="$bytes" -v s="$js" 'BEGIN { print b / 1e6 / (s < 0.01 ? 0.01 : s) }')" "$jk" \
    "$(awk -v a="$js" -v b="$es" 'BEGIN { print a / (b < 0.01 ? 0.01 : b) }')"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
