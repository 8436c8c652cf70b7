#!/bin/sh
# A CI step announces its result as an event; a consumer downstream reacts.
#   usage: ci-hook.sh STEP COMMAND...
set -u
step=$1
shift
start=$(date +%s)
"$@" > /dev/null 2>&1
rc=$?
evpub -t ci.step.finished -s "//$(hostname)/ci" --subject "$step" \
    step="$step" exit_code="$rc" ok:="$([ "$rc" -eq 0 ] && echo true || echo false)" \
    duration_s="$(( $(date +%s) - start ))" host="$(hostname)"
