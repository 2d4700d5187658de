#!/usr/bin/env bash
# Instruction counts of the micro-benchmark workloads under callgrind: exact
# and repeatable whatever else the machine is doing (unlike wall time), so
# they complement `cargo bench --bench micro` on a shared machine.
#
#   bash benches/callgrind.sh [REGEX]     (default: every workload)
#
# Each workload runs once to warm up, then ITERATIONS times inside
# `callgrind_measured`, the only function callgrind counts. Prints
# instructions per element (message, header, handshake) or per byte.
set -euo pipefail
FILTER=${1:-.}
cd "$(dirname "$0")"   # benches/, the wstate-bench package

BIN=$(cargo bench --bench micro --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*micro-[0-9a-f]*\)).*/\1/p' | tail -1)
[[ -x $BIN ]] || { echo "bench binary not found" >&2; exit 1; }

echo "| workload | instructions per unit | unit |"
echo "|---|---:|---|"
"$BIN" --list-workloads | grep -E -- "$FILTER" | while read -r name; do
    iterations=20
    [[ $name == *1MiB* ]] && iterations=3
    log=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        --toggle-collect='*callgrind_measured*' "$BIN" --callgrind "$name" "$iterations" 2>&1)
    collected=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' <<<"$log")
    unit=$(sed -n 's/^ran .* each (\([0-9]*\) \([a-z]*\) each)$/\1 \2/p;s/^ran .* times (\([0-9]*\) \([a-z]*\) each)$/\1 \2/p' <<<"$log")
    read -r per kind <<<"$unit"
    awk -v c="$collected" -v i="$iterations" -v p="$per" -v k="$kind" -v n="$name" \
        'BEGIN { printf "| %s | %.2f | %s |\n", n, c / i / p, (k == "bytes" ? "byte" : "element") }'
done
