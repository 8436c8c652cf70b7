#!/bin/sh
# make demo: a short live tour of evpub.  Run from the repository root
# (make demo does that); uses the programs in $B (default build/).
set -e
B=${B:-build}
PATH="$PWD/$B:$PATH"
cd "$(dirname "$0")"

show() {
	printf '\n$ %s\n' "$1"
	sh -c "$1" || true
}

echo "evkit demo: CloudEvents from arguments, log lines and JSON, then filtered"
show 'evpub -t order.created -s //shop/web sku=A1 qty=2 paid=true note="gift wrap" customer.id=c42'
show "evpub -t web.access -s //web1/nginx --time-field ts \\
    --parse '^(?<ts>\\S+) (?<ip>\\S+) \"(?<method>\\w+) (?<path>\\S+)[^\"]*\" (?<status>\\d+) (?<bytes>\\d+)' \\
    --parse-types status=number,bytes=number < data/access.log"
show 'evpub -t sensor.reading --json --time-field ts < data/sensors.ndjson'
show "evpub -t web.access --parse '^\\S+ \\S+ \"\\w+ (?<path>\\S+)[^\"]*\" (?<status>\\d+)' \\
    --parse-types status=number < data/access.log 2>/dev/null \\
  | evfilter 'data.status >= 500 || data.path startswith \"/admin\"'"
printf '\nThe unparsable line was reported on stderr with its number, and the\n'
printf 'exit status (1) says something was rejected.  Run "make test" next.\n'
