#!/bin/sh
# Turn an access log into web.access events, rejected lines kept aside,
# then split the events by status class with plain shell tools.
#   usage: access-log.sh [LOG] [OUTDIR]
set -u
log=${1:-"$(dirname "$0")/data/access.log"}
out=${2:-out}
mkdir -p "$out"
re='^(?<ts>\S+) (?<ip>\S+) "(?<method>\w+) (?<path>\S+)[^"]*" (?<status>\d+) (?<bytes>\d+) (?<seconds>\S+)'
evpub -t web.access -s "//$(hostname)/access-log" --time-field ts \
    --parse "$re" --parse-types status=number,bytes=number,seconds=number \
    --dead-letter "$out/rejected.log" < "$log" > "$out/events.ndjson"
status=$?
# 2xx and 3xx to ok.ndjson, 4xx and 5xx to errors.ndjson (until evroute).
grep '"status":[23]' "$out/events.ndjson" > "$out/ok.ndjson" || true
grep '"status":[45]' "$out/events.ndjson" > "$out/errors.ndjson" || true
wc -l "$out"/*.ndjson "$out/rejected.log" >&2
exit "$status"
