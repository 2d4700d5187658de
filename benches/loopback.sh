#!/usr/bin/env bash
# Loopback echo benchmark: wstate's echo servers against tokio-tungstenite,
# fastwebsockets and a raw TCP echo, in one interleaved run.
#
#   bash benches/loopback.sh [--pin] [REPEATS] [SECONDS]   (defaults: 3 repeats, 4 s)
#
# For every repeat, every load shape, every server (in an order that rotates
# each repeat): start the server on 127.0.0.1, run the load generator
# against it for SECONDS, stop it. wstate's servers are the repository's
# examples, built at the root: wstate-tokio's tokio_echo_server (the
# adapter), tokio_custom_loop (the core driven by a hand-written tokio loop)
# and echo_server (blocking, a thread per connection); the peers and the
# load generator are this package's binaries (src/bin/). Prints
# each run as it goes, then the median of the repeats per (shape, server):
# messages/s and the server's CPU time (utime + stime from /proc/PID/stat)
# per echoed message, each also as a ratio to fastwebsockets and to the raw
# TCP echo. Bounded: at most 60 s per run, 127.0.0.1 only. Runs from any
# directory.
#
# LOOPBACK_SHAPES="conns size depth; ...": run only these shapes.
#
# --pin: the one-core comparison (DESIGN.md, "One-core benchmarks"). Every
# server runs on core 0 (`taskset -c 0`), the load generator on core 1, so
# the load generator is not what bounds the numbers; the shapes are
# 64 x 16 B (1 and 16 in flight), 200 x 16 KiB and 4 x 1 MiB; every tokio
# server runs a current-thread runtime (`--current-thread` for ours, the
# configuration fastwebsockets' example uses): tokio_echo_server,
# tokio_custom_loop, tokio-tungstenite, fastwebsockets and the raw TCP echo;
# echo_server beside them.
set -euo pipefail

PIN=0
if [[ ${1:-} == --pin ]]; then
    PIN=1
    shift
fi
REPEATS=${1:-3}
SECS=${2:-4}
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)

# wstate's echo servers: the root package's examples (root target/); the
# peers and loadgen: this package's binaries (benches/target/, its own
# workspace). A CARGO_TARGET_DIR set by the caller holds both.
(cd "$ROOT" && cargo build --release --quiet --example echo_server --example tokio_custom_loop \
    && cargo build --release --quiet -p wstate-tokio --example tokio_echo_server)
(cd "$BENCH_DIR" && cargo build --release --quiet --bins)
abs() { case "$1" in /*) echo "$1" ;; *) echo "$2/$1" ;; esac; }
EXAMPLES="$(abs "${CARGO_TARGET_DIR:-target}" "$ROOT")/release/examples"
BINS="$(abs "${CARGO_TARGET_DIR:-target}" "$BENCH_DIR")/release"
bin() { case "$1" in echo_server | tokio_echo_server | tokio_custom_loop) echo "$EXAMPLES/$1" ;; *) echo "$BINS/$1" ;; esac; }
CLK_TCK=$(getconf CLK_TCK)
RESULTS=$(mktemp /tmp/wstate-loopback.XXXXXX)

SERVERS=(tokio_echo_server tokio_custom_loop echo_server peer_tungstenite_echo peer_fastwebsockets_echo peer_tcp_echo)
# conns size depth
SHAPES=("1 16 1" "64 16 1" "64 16 16" "64 4096 4" "4 1048576 1")
SERVER_PIN=()
LOADGEN_PIN=()
if ((PIN)); then
    command -v taskset >/dev/null || { echo "--pin needs taskset (util-linux)" >&2; exit 1; }
    SERVERS=(tokio_echo_server tokio_custom_loop echo_server peer_tungstenite_echo peer_fastwebsockets_echo peer_tcp_echo)
    SHAPES=("64 16 1" "64 16 16" "200 16384 1" "4 1048576 1")
    SERVER_PIN=(taskset -c 0)
    LOADGEN_PIN=(taskset -c 1)
fi
# LOOPBACK_SHAPES="200 16384 1; 4 1048576 1": only these shapes.
if [[ -n ${LOOPBACK_SHAPES:-} ]]; then
    IFS=';' read -r -a SHAPES <<<"$LOOPBACK_SHAPES"
fi

echo "# $(date -u +%FT%TZ) $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# repeats=$REPEATS secs=$SECS pin=$PIN results=$RESULTS"
port=9300
for ((r = 0; r < REPEATS; r++)); do
    for shape in "${SHAPES[@]}"; do
        read -r conns size depth <<<"$shape"
        for ((i = 0; i < ${#SERVERS[@]}; i++)); do
            server=${SERVERS[$(((i + r) % ${#SERVERS[@]}))]}
            port=$((port + 1))
            flags=()
            [[ $server == tokio_echo_server || $server == tokio_custom_loop ]] && ((PIN)) && flags=(--current-thread)
            "${SERVER_PIN[@]}" "$(bin "$server")" "${flags[@]}" "127.0.0.1:$port" >/dev/null 2>&1 &
            pid=$!
            raw=()
            [[ $server == peer_tcp_echo ]] && raw=(--raw)
            if line=$(timeout 90 "${LOADGEN_PIN[@]}" "$BINS/loadgen" --addr "127.0.0.1:$port" --conns "$conns" \
                --size "$size" --depth "$depth" --secs "$SECS" --pid "$pid" \
                --clk-tck "$CLK_TCK" --label "$server" "${raw[@]}"); then
                echo "repeat=$r $line" | tee -a "$RESULTS"
            else
                echo "repeat=$r label=$server conns=$conns size=$size depth=$depth FAILED" | tee -a "$RESULTS"
            fi
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        done
    done
done

python3 - "$RESULTS" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
    if "msgs_per_s" not in kv:
        continue
    key = (int(kv["conns"]), int(kv["size"]), int(kv["depth"]))
    rows.setdefault(key, {}).setdefault(kv["label"], []).append(kv)

def med(runs, field):
    vals = [float(r[field]) for r in runs if field in r]
    return statistics.median(vals) if vals else float("nan")

ref, raw = "peer_fastwebsockets_echo", "peer_tcp_echo"
print()
print("| conns x size, depth | server | msgs/s | vs fastwebsockets | vs raw TCP | p50 us | p99 us "
      "| server CPU us/msg | vs fastwebsockets | vs raw TCP |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for key in rows:
    conns, size, depth = key
    shape = f"{conns} x {size} B, P={depth}"
    by = rows[key]
    base_rate, base_cpu = med(by.get(ref, []), "msgs_per_s"), med(by.get(ref, []), "cpu_us_per_msg")
    raw_rate, raw_cpu = med(by.get(raw, []), "msgs_per_s"), med(by.get(raw, []), "cpu_us_per_msg")
    for label, runs in by.items():
        rate = med(runs, "msgs_per_s")
        cpu = med(runs, "cpu_us_per_msg")
        print(f"| {shape} | {label} | {rate:,.0f} | {rate / base_rate:.2f}x | {rate / raw_rate:.2f}x | "
              f"{med(runs, 'p50_us'):.0f} | {med(runs, 'p99_us'):.0f} | {cpu:.2f} | "
              f"{cpu / base_cpu:.2f}x | {cpu / raw_cpu:.2f}x |")
EOF
