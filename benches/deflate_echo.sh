#!/usr/bin/env bash
# Compressed echo benchmark: permessage-deflate echo servers, one run.
#
#   bash benches/deflate_echo.sh [REPEATS] [SECONDS]     (defaults: 3 repeats, 4 s)
#
# Servers, each with permessage-deflate on, answering the load generator's
# offer `permessage-deflate; client_max_window_bits`:
#   wstate      wstate-tokio/examples/tokio_echo_server built with --features deflate
#               (DeflateConfig::enabled(): zlib-rs level 1, window bits 15,
#               context takeover)
#   wstate-l2   the same loop at level 2 (src/bin/wstate_deflate_echo.rs
#               --level 2): zlib-rs's level 1 is zlib-ng's "quick" strategy,
#               level 2 the one closest to C zlib's level 1
#   wstate-l6   the same at level 6: C zlib's default level, which both
#               peers use
#   ws          node ws, perMessageDeflate: true, its defaults otherwise
#               (zlib level 6, window bits 15, memLevel 8; its threshold of
#               1024 B applies only with no_context_takeover, so every
#               message is compressed), scripts/interop/node_echo_server.js
#   ws-l1       the same at zlib level 1 (ws_deflate_echo.js 1): C zlib at
#               wstate's default level
#   websockets  Python websockets, its default compression="deflate"
#               (zlib level 6, window bits 12 both ways, memLevel 5),
#               scripts/interop/py_echo_server.py
# Shapes (16 connections each): `small`, JSON events of 100-300 B, 8 in
# flight per connection; `large`, 64 KiB JSON pages, 2 in flight. The load
# generator (src/bin/deflate_loadgen.rs) is a wstate client with
# permessage-deflate (level 1), the same for every server, on one thread.
# The server is pinned to core 0 and the load generator to core 1
# (taskset; no pinning on a single core). For every repeat, every shape,
# every server (in an order that rotates each repeat): start the server on
# 127.0.0.1, run the load generator for SECONDS, stop the server. Prints
# each run, then medians per (shape, server): messages/s, the server's CPU
# time (utime + stime from /proc/PID/stat) per message, the compression
# ratio (wire bytes, frame headers included / payload bytes) down (the
# server compressing), up (our client) and both, each with its ratio to ws,
# and how busy the server and the load generator were (CPU s / wall s: a
# server well below 100% was starved by the machine or by its client).
# Bounded: at most 60 s per run, 127.0.0.1 only. Runs from any directory.
# Installs node ws and Python websockets as scripts/interop.sh does (into
# target/conformance/, or WSTATE_CONFORMANCE_DIR).
set -euo pipefail

REPEATS=${1:-3}
SECS=${2:-4}
[[ "$REPEATS" =~ ^[0-9]+$ ]] && ((REPEATS >= 1 && REPEATS <= 20)) || { echo "REPEATS: 1..20" >&2; exit 2; }
[[ "$SECS" =~ ^[0-9]+([.][0-9]+)?$ ]] && awk "BEGIN{exit !($SECS >= 0.5 && $SECS <= 60)}" \
    || { echo "SECONDS: 0.5..60" >&2; exit 2; }
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
abs() { case "$1" in /*) echo "$1" ;; *) echo "$2/$1" ;; esac; }
CONFORMANCE=$(abs "${WSTATE_CONFORMANCE_DIR:-target/conformance}" "$ROOT")
PY="$CONFORMANCE/py3/bin/python"
export NODE_PATH="$CONFORMANCE/node/node_modules"

# The peers: the interop script's installs (CI cleared for this call only:
# interop.sh refuses --skip-browser under CI, and no browser is used here).
CI= WSTATE_CONFORMANCE_DIR="$CONFORMANCE" "$ROOT/scripts/interop.sh" --install-only --skip-browser
# Our server: the root package's example with the feature, copied out so
# that a later build without it (benches/loopback.sh) does not replace it
# under us. The load generator and wstate-l6: this package's binaries.
(cd "$ROOT" && cargo build --release --quiet -p wstate-tokio --example tokio_echo_server --features deflate)
(cd "$BENCH_DIR" && cargo build --release --quiet --bin deflate_loadgen --bin wstate_deflate_echo)
EXAMPLES="$(abs "${CARGO_TARGET_DIR:-target}" "$ROOT")/release/examples"
BINS="$(abs "${CARGO_TARGET_DIR:-target}" "$BENCH_DIR")/release"
WORK="$BINS/deflate-echo"
mkdir -p "$WORK"
cp "$EXAMPLES/tokio_echo_server" "$WORK/tokio_echo_server-deflate"
CLK_TCK=$(getconf CLK_TCK)
RESULTS=$(mktemp /tmp/wstate-deflate-echo.XXXXXX)

if (($(nproc) >= 2)); then
    ON_SERVER=(taskset -c 0) ON_LOADGEN=(taskset -c 1)
else
    echo "# one core: no pinning" >&2
    ON_SERVER=() ON_LOADGEN=()
fi
# start_server NAME ADDR: starts it in the background, sets pid (the server
# process itself: taskset execs it, so /proc/PID/stat is the server's).
start_server() {
    local name=$1 addr=$2
    case "$name" in
        wstate) "${ON_SERVER[@]}" "$WORK/tokio_echo_server-deflate" "$addr" >/dev/null 2>&1 & ;;
        wstate-l2) "${ON_SERVER[@]}" "$BINS/wstate_deflate_echo" "$addr" --level 2 >/dev/null 2>&1 & ;;
        wstate-l6) "${ON_SERVER[@]}" "$BINS/wstate_deflate_echo" "$addr" --level 6 >/dev/null 2>&1 & ;;
        ws) "${ON_SERVER[@]}" node "$ROOT/scripts/interop/node_echo_server.js" "$addr" default >/dev/null 2>&1 & ;;
        ws-l1) "${ON_SERVER[@]}" node "$BENCH_DIR/ws_deflate_echo.js" "$addr" 1 >/dev/null 2>&1 & ;;
        websockets) "${ON_SERVER[@]}" "$PY" "$ROOT/scripts/interop/py_echo_server.py" "$addr" default >/dev/null 2>&1 & ;;
        *) echo "unknown server $name" >&2; exit 2 ;;
    esac
    pid=$!
}
pid=
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; true' EXIT

SERVERS=(wstate wstate-l2 wstate-l6 ws ws-l1 websockets)
# kind depth
SHAPES=("small 8" "large 2")

echo "# $(date -u +%FT%TZ) $(nproc) cores, uptime: $(uptime)"
echo "# repeats=$REPEATS secs=$SECS results=$RESULTS"
port=9500
for ((r = 0; r < REPEATS; r++)); do
    for shape in "${SHAPES[@]}"; do
        read -r kind depth <<<"$shape"
        for ((i = 0; i < ${#SERVERS[@]}; i++)); do
            server=${SERVERS[$(((i + r) % ${#SERVERS[@]}))]}
            port=$((port + 1))
            start_server "$server" "127.0.0.1:$port"
            if line=$(timeout 90 "${ON_LOADGEN[@]}" "$BINS/deflate_loadgen" --addr "127.0.0.1:$port" \
                --kind "$kind" --conns 16 --depth "$depth" --secs "$SECS" --pid "$pid" \
                --clk-tck "$CLK_TCK" --label "$server"); then
                echo "repeat=$r $line" | tee -a "$RESULTS"
            else
                echo "repeat=$r label=$server kind=$kind FAILED" | tee -a "$RESULTS"
            fi
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            pid=
        done
    done
done
echo "# end $(date -u +%FT%TZ), uptime: $(uptime)"

python3 - "$RESULTS" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
    if "msgs_per_s" not in kv:
        continue
    rows.setdefault(kv["kind"], {}).setdefault(kv["label"], []).append(kv)

def med(runs, field):
    vals = [float(r[field]) for r in runs if field in r]
    return statistics.median(vals) if vals else float("nan")

ref = "ws"
print()
print("| shape | server | negotiated | msgs/s | vs ws | server CPU us/msg | vs ws "
      "| ratio down (server) | vs ws | ratio up (client) | ratio both | server busy | loadgen busy |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for kind, by in rows.items():
    r0 = next(iter(by.values()))[0]
    shape = f"{kind}: 16 x {int(r0['mean_size']):,} B avg, P={r0['depth']}"
    base = by.get(ref, [])
    b_rate, b_cpu, b_down = (med(base, f) for f in ("msgs_per_s", "cpu_us_per_msg", "ratio_down"))
    for label, runs in by.items():
        rate, cpu, down = (med(runs, f) for f in ("msgs_per_s", "cpu_us_per_msg", "ratio_down"))
        busy = lambda f: med(runs, f) / med(runs, "secs")
        print(f"| {shape} | {label} | `{runs[0].get('pmd', '')}` | {rate:,.0f} | {rate / b_rate:.2f}x "
              f"| {cpu:,.1f} | {cpu / b_cpu:.2f}x | {down:.3f} | {down / b_down:.2f}x "
              f"| {med(runs, 'ratio_up'):.3f} | {med(runs, 'ratio'):.3f} "
              f"| {busy('server_cpu_s'):.0%} | {busy('client_cpu_s'):.0%} |")
EOF
