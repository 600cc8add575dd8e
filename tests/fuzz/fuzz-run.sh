#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs one libFuzzer harness for a while and sums it up.
#
#   fuzz-run.sh BINARY SEED_CORPUS WORK_DIR ARTIFACT_DIR SECONDS
#
# New inputs go to WORK_DIR (the committed SEED_CORPUS is only read), a
# crashing input to ARTIFACT_DIR; the log is WORK_DIR.log. Prints one line:
# harness, executions, coverage (libFuzzer's cov: and ft:), corpus size,
# crashes. Exits 1 when the harness crashed or found a leak.
set -u
bin=$1 seeds=$2 work=$3 artifacts=$4 seconds=$5
name=$(basename "$bin")

mkdir -p "$work" "$artifacts" || exit 99
log=$work.log
stamp=$work.stamp
: >"$stamp" || exit 99
started=$(date +%s)
# -rss_limit_mb: ASan's shadow plus a few mapped guest regions stay far
# below it; a harness that grows past it leaks.
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$artifacts/" \
	"$work" "$seeds" >"$log" 2>&1
status=$?
elapsed=$(($(date +%s) - started))

# The last status line (DONE, or the last before a crash).
done_line=$(grep -E '^#[0-9]+[[:space:]].* cov: ' "$log" | tail -n 1)
execs=$(grep -E '^stat::number_of_executed_units:' "$log" |
	sed 's/.*:[[:space:]]*//')
cov=$(printf '%s\n' "$done_line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
ft=$(printf '%s\n' "$done_line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
corp=$(printf '%s\n' "$done_line" | sed -n 's/.* corp: \([^ ]*\).*/\1/p')
# Only what this run found (older artifacts may still lie there).
crashes=$(find "$artifacts" -type f -newer "$stamp" | wc -l)
echo "$name: ${execs:-?} executions in ${elapsed}s, cov ${cov:-?}," \
	"ft ${ft:-?}, corpus ${corp:-?}, crashes $crashes"
if [ "$status" != 0 ] || [ "$crashes" != 0 ]; then
	echo "---- end of $log ----" >&2
	tail -n 60 "$log" >&2
	exit 1
fi
exit 0
