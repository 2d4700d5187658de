#!/usr/bin/env bash
# Repeated interleaved runs of one group of the in-memory micro benchmark,
# for ratios that a noisy machine cannot fake with one lucky run.
#
#   bash benches/repeat.sh [-f FEATURES] RUNS GROUP [BINARY...]
#
# Runs `micro --interleaved 40 --only GROUP` RUNS times (about a second
# each) and prints, for every wstate workload against every peer workload of
# the group, the median, lowest and highest per-run ratio of the peer's
# median time to ours (above 1: wstate is faster). Without BINARY, builds
# the micro benchmark (with `--features FEATURES`, e.g. simd-utf8) and uses
# it; with BINARY paths (micro builds copied aside, e.g. before and after a
# change), runs them in turn within each repeat, so that every build sees
# the same stretch of machine noise, and prints each one's ratios.
#
#   bash benches/repeat.sh -f simd-utf8 20 receive_1MiB_text
set -euo pipefail

features=""
if [[ ${1:-} == -f ]]; then
    features=$2
    shift 2
fi
runs=${1:?usage: repeat.sh [-f FEATURES] RUNS GROUP [BINARY...]}
group=${2:?usage: repeat.sh [-f FEATURES] RUNS GROUP [BINARY...]}
shift 2
bins=("$@")
if [[ ${#bins[@]} -eq 0 ]]; then
    cd "$(dirname "$0")"
    args=(bench --bench micro --no-run --message-format=json)
    [[ -n $features ]] && args+=(--features "$features")
    bin=$(cargo "${args[@]}" 2>/dev/null | grep '"name":"micro"' |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
    [[ -x $bin ]] || { echo "error: could not build the micro benchmark" >&2; exit 1; }
    bins=("$bin")
fi

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for ((i = 0; i < runs; i++)); do
    for bin in "${bins[@]}"; do
        # Rows: "| group | workload | median per call | ...": keep name and
        # time in microseconds.
        "$bin" --interleaved 40 --only "$group" 2>&1 | awk -F'|' -v b="$(basename "$bin")" -v g="$group" '
            function us(t) {
                n = t + 0
                if (t ~ /ns/) return n / 1000
                if (t ~ /ms/) return n * 1000
                return n
            }
            $2 ~ ("^ " g " $") { gsub(/ /, "", $3); time[$3] = us($4); names[++k] = $3 }
            END {
                for (i = 1; i <= k; i++) {
                    w = names[i]
                    if (w !~ /^wstate/) continue
                    for (j = 1; j <= k; j++) {
                        p = names[j]
                        if (p ~ /^wstate/) continue
                        printf "%s %s %s %.4f\n", b, w, p, time[p] / time[w]
                    }
                }
            }' >>"$results"
    done
done

echo "$runs interleaved runs of $group (ratio: the peer's time / ours)"
echo "| build | wstate workload | peer | median | lowest | highest |"
echo "|---|---|---|---:|---:|---:|"
sort -k1,1 -k2,2 -k3,3 -k4,4n "$results" | awk '
    { key = $1 " | " $2 " | " $3; v[key, ++n[key]] = $4; if (!(key in seen)) { seen[key] = 1; order[++m] = key } }
    END {
        for (i = 1; i <= m; i++) {
            key = order[i]; c = n[key]
            printf "| %s | %.3fx | %.3fx | %.3fx |\n", key, v[key, int((c + 1) / 2)], v[key, 1], v[key, c]
        }
    }'
