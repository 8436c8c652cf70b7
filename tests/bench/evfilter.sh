#!/usr/bin/env bash
# tests/bench/evfilter.sh - evfilter against jq -c 'select(...)' and grep on
# one generated file of N CloudEvents (~250 bytes each), side by side:
#   (a) type == "order.created"                      (10% match)
#   (b) type == "order.created" && data.amount > 100
#   (c) type =~ /^order\./                           (30% match)
#   (d) data.amount >= 10                            (~90% match)
# Prints MB/s and the ratios, checks that evfilter and jq select the same
# number of events, then evfilter's peak RSS at N and 4N lines.
# N defaults to 1000000 (BENCH_LINES).
set -euo pipefail
B=${B:-build}
N=${BENCH_LINES:-1000000}
for cmd in jq grep /usr/bin/time; do
	command -v "$cmd" > /dev/null || {
		echo "bench: $cmd is missing (apt-get install -y jq grep time)" >&2
		exit 2
	}
done
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT

awk -v n="$N" 'BEGIN {
	srand(7)
	split("order.created order.paid order.shipped user.login user.logout " \
	    "cart.updated payment.failed inventory.low search.query page.view", T, " ")
	for (i = 1; i <= n; i++) {
		t = T[1 + (i % 10)]
		printf "{\"specversion\":\"1.0\",\"id\":\"01a2%012d-7abc-8def-0123456789ab\",\"source\":\"//shop/web-%d\",\"type\":\"%s\",\"time\":\"2026-11-29T10:%02d:%02d.%06dZ\",\"datacontenttype\":\"application/json\",\"data\":{\"order\":%d,\"amount\":%.2f,\"currency\":\"EUR\",\"customer\":\"c%05d\"}}\n",
		    i, i % 7, t, (i / 60) % 60, i % 60, i % 1000000, i, (i % 10 == 3 ? 5 : 10) + rand() * 200, i % 99991
	}
}' > "$D/ev.ndjson"
bytes=$(wc -c < "$D/ev.ndjson")
cat "$D/ev.ndjson" > /dev/null

# measure FILE CMD...: "seconds maxrss_kib lines" of CMD < FILE.
measure() {
	local in=$1; shift
	/usr/bin/time -f '%e %M' -o "$D/time" "$@" < "$in" > "$D/out"
	echo "$(cat "$D/time") $(wc -l < "$D/out")"
}
mbs() { awk -v b="$bytes" -v s="$1" 'BEGIN { s = s < 0.01 ? 0.01 : s; printf "%7.0f MB/s", b / 1e6 / s }'; }

echo "evfilter vs jq 1.6 and grep, $N events, $((bytes / 1048576)) MiB"
run_case() { # name evfilter-expr jq-select grep-args...
	local name=$1 ev=$2 jqx=$3; shift 3
	read -r es ek el < <(measure "$D/ev.ndjson" "$B/evfilter" "$ev")
	read -r js jk jl < <(measure "$D/ev.ndjson" jq -c "select($jqx)")
	printf '%s %s\n  evfilter %6.2f s %s  %8d matches\n' "$name" "$ev" "$es" "$(mbs "$es")" "$el"
	printf '  jq       %6.2f s %s  %8d matches  evfilter is %.1fx jq\n' \
	    "$js" "$(mbs "$js")" "$jl" "$(awk -v a="$js" -v b="$es" 'BEGIN { print a / (b < 0.01 ? 0.01 : b) }')"
	if [ "$el" != "$jl" ]; then
		echo "bench: evfilter and jq disagree on $name" >&2
		exit 1
	fi
	if [ $# -gt 0 ]; then
		read -r gs gk gl < <(measure "$D/ev.ndjson" grep "$@")
		printf '  grep %-3s %6.2f s %s  %8d matches  evfilter takes %.2fx grep'"'"'s time\n' \
		    "$1" "$gs" "$(mbs "$gs")" "$gl" "$(awk -v a="$es" -v b="$gs" 'BEGIN { print a / (b < 0.01 ? 0.01 : b) }')"
	fi
}
run_case "(a)" 'type == "order.created"' '.type == "order.created"' -F '"type":"order.created"'
run_case "(b)" 'type == "order.created" && data.amount > 100' '.type == "order.created" and .data.amount > 100'
run_case "(c)" 'type =~ /^order\./' '.type | test("^order\\.")' -P '"type":"order\.'
run_case "(d)" 'data.amount >= 10' '.data.amount >= 10'
echo "(gojq is not in Debian 12: not compared)"

for i in 1 2 3 4; do cat "$D/ev.ndjson"; done > "$D/big.ndjson"
echo "evfilter peak RSS as input grows"
for f in ev big; do
	read -r s kb l < <(measure "$D/$f.ndjson" "$B/evfilter" 'data.amount >= 10')
	printf "  %9d lines  %6.2f s  peak RSS %6d KiB\n" "$(wc -l < "$D/$f.ndjson")" "$s" "$kb"
done
