#!/usr/bin/env bash
# Instruction counts of the micro-benchmark workloads under callgrind: exact
# and repeatable whatever else the machine is doing (unlike wall time), so
# they complement `cargo bench --bench micro` on a shared machine, and gate
# CI against slowdowns.
#
#   bash benches/callgrind.sh [REGEX]     table of every workload (default) or
#                                         those matching REGEX
#   bash benches/callgrind.sh --check     the gate: every wstate workload
#                                         against callgrind-baseline.txt
#   bash benches/callgrind.sh --update    rewrite callgrind-baseline.txt
#
# Each workload runs once to warm up, then ITERATIONS times inside
# `callgrind_measured`, the only function callgrind counts. The table gives
# instructions per element (message, header, handshake) or per byte.
#
# The gate measures the workloads whose name contains `wstate` (the others
# are the peers we compare with) and compares their instructions per
# iteration with the baseline: `--check` prints every workload's ratio and
# exits 1 if any grew by more than MAX_GROWTH_PERCENT (2%), or if a workload
# and the baseline do not match one to one (update the baseline); 2 on a
# configuration error (no valgrind, no baseline, the build failed).
# Counts that fell by more than 2% are reported, not failed: lock them in
# with `--update`.
#
# Repeatable: the binary is copied to a scratch directory and run there as
# `./micro` with an empty environment, so the initial stack (argv, the
# environment) is the same from one run, checkout or shell to the next;
# otherwise a few workloads move by a few instructions in 10^5 with the
# length of the environment or of the binary's path (alignment of copies).
# The counts do depend on the compiler, the CPU features glibc and the
# crates select at run time, and valgrind: the baseline records the rustc and
# valgrind it was made with, and `--check` says so when they differ.
set -euo pipefail
cd "$(dirname "$0")"   # benches/, the wstate-bench package
BASELINE=$PWD/callgrind-baseline.txt
MAX_GROWTH_PERCENT=2
GATE_FILTER=wstate

mode=table
FILTER=.
case "${1:-}" in
    --check) mode=check; FILTER=$GATE_FILTER ;;
    --update) mode=update; FILTER=$GATE_FILTER ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "usage: $0 [REGEX | --check | --update]" >&2; exit 2 ;;
    "") ;;
    *) FILTER=$1 ;;
esac
in_ci() { case "${CI:-}" in ""|0|false|FALSE|False) return 1 ;; *) return 0 ;; esac; }
if [[ $mode == update ]] && in_ci; then
    echo "error: --update under CI=$CI: regenerate the baseline locally and commit it" >&2
    exit 2
fi

VALGRIND=$(command -v valgrind) || { echo "error: valgrind not found (apt-get install -y valgrind)" >&2; exit 2; }
if [[ $mode == check && ! -s $BASELINE ]]; then
    echo "error: $BASELINE missing or empty: create it with $0 --update" >&2
    exit 2
fi

start=$SECONDS
build_log=$(cargo bench --bench micro --no-run 2>&1) || {
    printf '%s\n' "$build_log" >&2
    echo "error: cargo bench --bench micro --no-run failed" >&2
    exit 2
}
BIN=$(sed -n 's/.*Executable .*(\(.*micro-[0-9a-f]*\)).*/\1/p' <<<"$build_log" | tail -1)
[[ -x $BIN ]] || { printf '%s\n' "$build_log" >&2; echo "error: bench binary not found" >&2; exit 2; }
build_secs=$((SECONDS - start))

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp "$BIN" "$scratch/micro"

mapfile -t names < <("$scratch/micro" --list-workloads | grep -E -- "$FILTER" || true)
[[ ${#names[@]} -gt 0 ]] || { echo "error: no workload matches '$FILTER'" >&2; exit 2; }

# Runs one workload under callgrind; prints "COLLECTED ITERATIONS PER KIND".
measure() {
    local name=$1 iterations=20 log collected per kind
    [[ $name == *1MiB* ]] && iterations=3
    log=$(cd "$scratch" && env -i "$VALGRIND" --tool=callgrind --callgrind-out-file=/dev/null \
        --toggle-collect='*callgrind_measured*' ./micro --callgrind "$name" "$iterations" 2>&1) || {
        printf '%s\n' "$log" >&2
        echo "error: $name failed under valgrind" >&2
        return 1
    }
    collected=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' <<<"$log")
    read -r per kind < <(sed -n 's/^ran .* times (\([0-9]*\) \([a-z]*\) each)$/\1 \2/p' <<<"$log")
    [[ -n $collected && -n ${per:-} ]] || { printf '%s\n' "$log" >&2; echo "error: no count for $name" >&2; return 1; }
    echo "$collected $iterations $per $kind"
}

if [[ $mode == table ]]; then
    echo "| workload | instructions per unit | unit |"
    echo "|---|---:|---|"
    for name in "${names[@]}"; do
        m=$(measure "$name") || exit 2
        read -r collected iterations per kind <<<"$m"
        awk -v c="$collected" -v i="$iterations" -v p="$per" -v k="$kind" -v n="$name" \
            'BEGIN { printf "| %s | %.2f | %s |\n", n, c / i / p, (k == "bytes" ? "byte" : "element") }'
    done
    exit 0
fi

# The gate: instructions per iteration (one call of the workload), to two
# decimals (a frame header costs about 45: one instruction is 2%).
declare -A now
for name in "${names[@]}"; do
    m=$(measure "$name") || exit 2
    read -r collected iterations _ _ <<<"$m"
    now[$name]=$(awk -v c="$collected" -v i="$iterations" 'BEGIN { printf "%.2f", c / i }')
done
rustc_v=$(rustc --version)
valgrind_v=$("$VALGRIND" --version)

if [[ $mode == update ]]; then
    {
        cat <<EOF
# Instructions per iteration of each wstate micro workload
# (benches/benches/micro.rs), counted by callgrind: one line per workload,
# its name and the instructions one call costs (the mean of 20 calls, 3 for
# the 1 MiB workloads, after a warm-up call). The baseline of the CI gate
# \`bash benches/callgrind.sh --check\`, which fails when a workload grows by
# more than ${MAX_GROWTH_PERCENT}% over its line here.
#
# Regenerate with \`bash benches/callgrind.sh --update\` (not under CI).
# A change that is meant to cost instructions (or that saves them) updates
# this file in the same commit, and the commit message gives the reason and
# the workloads that moved. A new toolchain or valgrind may move the counts
# too: update the file in its own commit, saying so.
#
# measured with: $rustc_v, $valgrind_v
EOF
        for name in "${names[@]}"; do
            printf '%s %s\n' "$name" "${now[$name]}"
        done
    } > "$BASELINE"
    echo "wrote $BASELINE (${#names[@]} workloads, $((SECONDS - start)) s, build ${build_secs} s):"
    grep -v '^#' "$BASELINE"
    exit 0
fi

# --check
declare -A base
while read -r name count; do
    [[ -z $name || $name == \#* ]] && continue
    base[$name]=$count
done < "$BASELINE"
recorded=$(sed -n 's/^# measured with: //p' "$BASELINE")
if [[ $recorded != "$rustc_v, $valgrind_v" ]]; then
    echo "note: the baseline was measured with '$recorded', this run uses '$rustc_v, $valgrind_v':"
    echo "      a difference below may come from the toolchain, not the code"
fi

fail=0
printf '%-52s %13s %13s %s\n' workload baseline now ratio
for name in "${names[@]}"; do
    n=${now[$name]}
    if [[ -z ${base[$name]:-} ]]; then
        printf '%-52s %13s %13s %s\n' "$name" - "$n" "-  NOT IN BASELINE"
        fail=1
        continue
    fi
    b=${base[$name]}
    verdict=$(awk -v n="$n" -v b="$b" -v max="$MAX_GROWTH_PERCENT" 'BEGIN {
        r = n / b
        v = (n * 100 > b * (100 + max)) ? "  REGRESSION" : (n * 100 < b * (100 - max)) ? "  faster: --update to keep it" : ""
        printf "%.4f%s", r, v
    }')
    printf '%-52s %13s %13s %s\n' "$name" "$b" "$n" "$verdict"
    [[ $verdict == *REGRESSION* ]] && fail=1
    unset "base[$name]"
done
for name in "${!base[@]}"; do
    printf '%-52s %13s %13s %s\n' "$name" "${base[$name]}" - "-  NO SUCH WORKLOAD"
    fail=1
done
secs=$((SECONDS - start))
if [[ $fail -ne 0 ]]; then
    echo "FAIL callgrind: a workload grew by more than ${MAX_GROWTH_PERCENT}%, or the workloads and the baseline differ" >&2
    echo "     (if intended: bash benches/callgrind.sh --update, and give the reason in the commit message) (${secs} s, build ${build_secs} s)" >&2
    exit 1
fi
echo "PASS callgrind: ${#names[@]} workloads within ${MAX_GROWTH_PERCENT}% of the baseline (${secs} s, build ${build_secs} s)"
