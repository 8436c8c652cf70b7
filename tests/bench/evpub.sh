#!/usr/bin/env bash
# tests/bench/run - evpub against its peers on the same data, same run.
#
# evpub --json over N generated lines against `jq -c` doing the same
# wrapping (a CloudEvents envelope with an id and a time around each
# value), printing times, the throughput ratio and the peak RSS of both;
# then evpub's peak RSS at N/10, N and 4N lines to show memory stays flat.
# N defaults to 1000000 (BENCH_LINES).
set -euo pipefail
B=${B:-build}
N=${BENCH_LINES:-1000000}
for cmd in jq /usr/bin/time; do
	command -v "$cmd" > /dev/null || {
		echo "bench: $cmd is missing (apt-get install -y jq time)" >&2
		exit 2
	}
done
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT

# Typical order events: nested data, numbers, unicode, an escape.
awk -v n="$N" 'BEGIN {
	srand(42)
	for (i = 1; i <= n; i++)
		printf "{\"order\":%d,\"customer\":{\"id\":\"c%05d\",\"name\":\"Zoë \\\"Z\\\" %d\",\"region\":\"eu-%d\"},\"items\":[{\"sku\":\"A%d\",\"qty\":%d,\"price\":%.2f},{\"sku\":\"B%d\",\"qty\":1,\"price\":9.99}],\"paid\":%s,\"note\":null}\n",
		    i, int(rand() * 99999), i, i % 4, i % 977, 1 + i % 5, rand() * 100, i % 13,
		    (i % 3 ? "true" : "false")
}' > "$D/in.ndjson"
head -c 1 "$D/in.ndjson" > /dev/null
bytes=$(wc -c < "$D/in.ndjson")

# Runs a command with stdin from $1, output to /dev/null; prints
# "seconds maxrss_kib".
measure() {
	local in=$1; shift
	/usr/bin/time -f '%e %M' -o "$D/time" "$@" < "$in" > "$D/out"
	cat "$D/time"
}

JQ_PROG='{specversion:"1.0", id:"\(now)-\(input_line_number)", source:"//bench/jq", type:"bench.order", time:(now|todate), datacontenttype:"application/json", data:.}'

# Warm the page cache, then measure.
cat "$D/in.ndjson" > /dev/null
read -r ev_s ev_kb < <(measure "$D/in.ndjson" "$B/evpub" -t bench.order -s //bench/evpub --json)
ev_lines=$(wc -l < "$D/out")
read -r jq_s jq_kb < <(measure "$D/in.ndjson" jq -c "$JQ_PROG")
jq_lines=$(wc -l < "$D/out")
[ "$ev_lines" -eq "$N" ] && [ "$jq_lines" -eq "$N" ] || {
	echo "bench: line counts differ: evpub $ev_lines, jq $jq_lines, want $N" >&2
	exit 1
}

echo "evpub --json vs jq -c, $N lines, $((bytes / 1048576)) MiB"
awk -v es="$ev_s" -v js="$jq_s" -v ek="$ev_kb" -v jk="$jq_kb" -v n="$N" 'BEGIN {
	es = es < 0.01 ? 0.01 : es
	printf "  evpub  %7.2f s  %9.0f lines/s  peak RSS %6d KiB\n", es, n / es, ek
	printf "  jq     %7.2f s  %9.0f lines/s  peak RSS %6d KiB\n", js, n / js, jk
	printf "  ratio  evpub is %.1fx jq throughput (target >= 5x)\n", js / es
}'

# Flat memory: the same work at N/10, N and 4N lines.
head -n $((N / 10)) "$D/in.ndjson" > "$D/small.ndjson"
for i in 1 2 3 4; do cat "$D/in.ndjson"; done > "$D/big.ndjson"
echo "evpub --json peak RSS as input grows"
for f in small in big; do
	read -r s kb < <(measure "$D/$f.ndjson" "$B/evpub" -t bench.order --json)
	printf "  %9d lines  %7.2f s  peak RSS %6d KiB\n" \
	    "$(wc -l < "$D/$f.ndjson")" "$s" "$kb"
done
