#!/bin/sh
# Turn an access log into web.access events, rejected lines kept aside,
# then split the events by status class with evfilter.
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
# 2xx and 3xx to ok.ndjson, 4xx and 5xx to errors.ndjson (until evroute);
# evfilter exits 1 when nothing matched, which is fine here, 2 is not.
evfilter 'data.status < 400' "$out/events.ndjson" > "$out/ok.ndjson"
[ $? -le 1 ] || exit 2
evfilter 'data.status >= 400' "$out/events.ndjson" > "$out/errors.ndjson"
[ $? -le 1 ] || exit 2
wc -l "$out"/*.ndjson "$out/rejected.log" >&2
exit "$status"
