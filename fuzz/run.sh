#!/usr/bin/env bash
# Runs every fuzz target (or those named after N) for N seconds each, one
# after another, and prints executions and coverage per target.
#
#   fuzz/run.sh            # 60 s per target
#   fuzz/run.sh 600        # 10 min per target
#   fuzz/run.sh 30 receive chunking
#
# New inputs go to fuzz/work/corpus/<target> (ignored by git); the checked-in
# seeds in fuzz/corpus/<target> are read, never written. Crashes land in
# fuzz/artifacts/<target>/. Extra libFuzzer flags: LIBFUZZER_FLAGS="-max_len=8192".
set -euo pipefail
cd "$(dirname "$0")"

secs="${1:-60}"
shift || true

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "cargo-fuzz needs a nightly toolchain: rustup toolchain install nightly" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    # The handshake targets last: the others matter most for the protocol.
    mapfile -t all < <(cargo +nightly fuzz list)
    targets=()
    for t in "${all[@]}"; do [[ "$t" == handshake* ]] || targets+=("$t"); done
    for t in "${all[@]}"; do [[ "$t" == handshake* ]] && targets+=("$t"); done
fi

cargo +nightly fuzz build

failed=()
summary=()
for t in "${targets[@]}"; do
    mkdir -p "work/corpus/$t" "corpus/$t"
    log="work/$t.log"
    echo "== $t: ${secs}s"
    # -jobs is not used: one process per target, in the foreground.
    if cargo +nightly fuzz run "$t" "work/corpus/$t" "corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 ${LIBFUZZER_FLAGS:-} >"$log" 2>&1; then
        status=ok
    else
        status="FAILED (see fuzz/$log and fuzz/artifacts/$t/)"
        failed+=("$t")
    fi
    # libFuzzer's last status line: "#<execs> ... cov: <edges> ft: <features> corp: ..."
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' || true)
    cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)
    ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)
    corp=$(grep -oE 'corp: [0-9]+/[0-9a-zA-Z]+' <<<"$last" || true)
    line=$(printf '%-18s %s  execs=%s cov=%s ft=%s %s' "$t" "$status" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corp")
    echo "$line"
    summary+=("$line")
done

echo
echo "== summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "failed: ${failed[*]}" >&2
    exit 1
fi
