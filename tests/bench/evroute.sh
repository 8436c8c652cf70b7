#!/usr/bin/env bash
# tests/bench/evroute.sh - evroute against evfilter alone and against jq
# (one `jq -c 'select(...)'` per destination, fed by tee, as people build
# it today) on one generated file of N CloudEvents (~250 bytes each):
#   (a) split by topic into 20 templated files:
#         evroute -r '> -> file:split/{type}.ndjson'
#       jq: 20 x jq -c 'select(.type == "T")' > split/T.ndjson
#       evfilter: evfilter -t '>' > one file (the same parse, one output)
#   (b) fan-out of every event to 4 files, by 4 different rules:
#         *, >, data.amount >= 0, exists(id)
#       jq: 4 x jq -c 'select(...)' of the same meaning
# Prints the times (evfilter's and evroute's the best of 3), MB/s and
# the ratios, checks that every tool wrote the same
# events, then evroute's peak RSS at N and 4N lines.
# Targets (issue 6): (a) at least 0.7x evfilter's throughput, at least 20x
# the jq pipeline's.  N defaults to 1000000 (BENCH_LINES).
set -euo pipefail
B=${B:-build}
N=${BENCH_LINES:-1000000}
for cmd in jq /usr/bin/time; do
	command -v "$cmd" > /dev/null || {
		echo "bench: $cmd is missing (apt-get install -y jq time)" >&2
		exit 2
	}
done
# The files go to memory (/dev/shm, or BENCH_TMP) when it can be had:
# writing 1 GB to a disk measures the disk's writeback, not the tools.
D=$(mktemp -d -p "${BENCH_TMP:-/dev/shm}" 2> /dev/null || mktemp -d)
trap 'rm -rf "$D"' EXIT

awk -v n="$N" 'BEGIN {
	srand(7)
	split("order.created order.paid order.shipped order.refunded user.login " \
	    "user.logout user.signup cart.updated cart.emptied payment.failed " \
	    "payment.settled inventory.low inventory.restocked search.query " \
	    "page.view page.error ship.label ship.delivered review.posted " \
	    "coupon.used", T, " ")
	for (i = 1; i <= n; i++) {
		t = T[1 + (i % 20)]
		printf "{\"specversion\":\"1.0\",\"id\":\"01a2%012d-7abc-8def-0123456789ab\",\"source\":\"//shop/web-%d\",\"type\":\"%s\",\"time\":\"2026-11-29T10:%02d:%02d.%06dZ\",\"datacontenttype\":\"application/json\",\"data\":{\"order\":%d,\"amount\":%.2f,\"currency\":\"EUR\",\"customer\":\"c%05d\"}}\n",
		    i, i % 7, t, (i / 60) % 60, i % 60, i % 1000000, i, 5 + rand() * 200, i % 99991
	}
}' > "$D/ev.ndjson"
bytes=$(wc -c < "$D/ev.ndjson")
types=$(jq -r .type "$D/ev.ndjson" | sort -u)
cat "$D/ev.ndjson" > /dev/null

# timed CMD...: seconds (wall) of CMD < ev.ndjson, in $secs; peak RSS
# (KiB, of the biggest process) in $rss.
timed() {
	sync # dirty pages of the last run are not this run's cost
	/usr/bin/time -f '%e %M' -o "$D/time" "$@" < "$D/ev.ndjson"
	read -r secs rss < "$D/time"
}
# best CLEAN CMD...: the fastest of 3 runs of timed CMD, each after the
# command CLEAN (evroute appends: its files go first), in $secs.
best() {
	local clean=$1 b=
	shift
	for _ in 1 2 3; do
		eval "$clean"
		timed "$@"
		if [ -z "$b" ] || awk -v a="$secs" -v b="$b" 'BEGIN { exit !(a < b) }'; then
			b=$secs
		fi
	done
	secs=$b
}
mbs() { awk -v b="$bytes" -v s="$1" 'BEGIN { s = s < 0.01 ? 0.01 : s; printf "%7.0f MB/s", b / 1e6 / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / (b < 0.01 ? 0.01 : b) }'; }
same() { # a b: the same lines, in any order
	if ! cmp -s <(sort "$1") <(sort "$2"); then
		echo "bench: $1 and $2 differ" >&2
		exit 1
	fi
}

echo "evroute vs evfilter and jq 1.6, $N events, $((bytes / 1048576)) MiB, files in ${D%/*}"

# --- (a) split by topic into 20 templated files -----------------------------
mkdir -p "$D/ev-split" "$D/jq-split"
best : sh -c "exec '$B/evfilter' -t '>' > '$D/evfilter.out'"
fs=$secs
best 'rm -rf "$D/ev-split"' "$B/evroute" -r "> -> file:$D/ev-split/{type}.ndjson" 2> "$D/err" ||
    { cat "$D/err" >&2; exit 1; }
es=$secs er=$rss
jqcmd="tee"
for t in $types; do
	jqcmd+=" >(jq -c 'select(.type == \"$t\")' > '$D/jq-split/$t.ndjson')"
done
timed bash -c "$jqcmd > /dev/null; wait"
js=$secs
[ "$(ls "$D/ev-split" | wc -l)" -eq 20 ]
for t in $types; do
	# jq may rewrite numbers; compare the events by id.
	cmp -s <(jq -r .id "$D/ev-split/$t.ndjson") <(jq -r .id "$D/jq-split/$t.ndjson") ||
	    { echo "bench: evroute and jq split $t differently" >&2; exit 1; }
done
same "$D/evfilter.out" <(cat "$D"/ev-split/*.ndjson)
printf '(a) split by topic into 20 templated files\n'
printf '  evfilter -t ">"   %6.2f s %s  (one output file)\n' "$fs" "$(mbs "$fs")"
printf '  evroute           %6.2f s %s  %sx evfilter, %sx jq  (peak RSS %d KiB)\n' \
    "$es" "$(mbs "$es")" "$(ratio "$fs" "$es")" "$(ratio "$js" "$es")" "$er"
printf '  20 x jq (tee)     %6.2f s %s\n' "$js" "$(mbs "$js")"

# --- (b) fan-out of every event to 4 destinations ----------------------------
mkdir -p "$D/fan"
best 'rm -f "$D"/fan/?' "$B/evroute" -r "* -> file:$D/fan/1" -r "> -> file:$D/fan/2" \
    -r "data.amount >= 0 -> file:$D/fan/3" -r "exists(id) -> file:$D/fan/4" 2> "$D/err" ||
    { cat "$D/err" >&2; exit 1; }
es=$secs
for i in 1 2 3 4; do
	cmp -s "$D/ev.ndjson" "$D/fan/$i" || { echo "bench: fan/$i differs" >&2; exit 1; }
done
timed bash -c "tee >(jq -c 'select(true)' > $D/fan/j1) >(jq -c 'select(.type != null)' > $D/fan/j2) \
    >(jq -c 'select(.data.amount >= 0)' > $D/fan/j3) >(jq -c 'select(has(\"id\"))' > $D/fan/j4) > /dev/null; wait"
js=$secs
for i in 1 2 3 4; do
	[ "$(wc -l < "$D/fan/j$i")" -eq "$N" ] || { echo "bench: jq fan $i" >&2; exit 1; }
done
printf '(b) fan-out of every event to 4 files\n'
printf '  evfilter -t ">"   %6.2f s %s  (one output file)\n' "$fs" "$(mbs "$fs")"
printf '  evroute           %6.2f s %s  %sx evfilter, %sx jq\n' \
    "$es" "$(mbs "$es")" "$(ratio "$fs" "$es")" "$(ratio "$js" "$es")"
printf '  4 x jq (tee)      %6.2f s %s\n' "$js" "$(mbs "$js")"

# --- memory as input grows ---------------------------------------------------
for i in 1 2 3 4; do cat "$D/ev.ndjson"; done > "$D/big.ndjson"
echo "evroute peak RSS as input grows (split into 20 files)"
for f in ev big; do
	rm -rf "$D/ev-split"
	/usr/bin/time -f '%e %M' -o "$D/time" "$B/evroute" \
	    -r "> -> file:$D/ev-split/{type}.ndjson" "$D/$f.ndjson" 2> /dev/null
	read -r s kb < "$D/time"
	printf "  %9d lines  %6.2f s  peak RSS %6d KiB\n" "$(wc -l < "$D/$f.ndjson")" "$s" "$kb"
done
