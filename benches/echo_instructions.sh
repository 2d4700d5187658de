#!/usr/bin/env bash
# User-space instructions per echoed message of the loopback echo servers,
# under callgrind: the part of a server's CPU that is its own code (the
# kernel's, the syscalls, is the same for every server that makes the same
# ones, and `strace -c` counts those).
#
#   bash benches/echo_instructions.sh [CONNS SIZE DEPTH]   (default: 64 16 1)
#
# Each server runs under `valgrind --tool=callgrind` on 127.0.0.1 while the
# load generator (benches/src/bin/loadgen.rs) keeps DEPTH binary messages of
# SIZE bytes in flight on each of CONNS connections; twice, for 3 s and for
# 9 s. Per message = (instructions of the long run - the short run's) /
# (messages of the long run - the short run's): the start (runtime,
# handshakes) cancels out. Under valgrind a server runs some 50 times
# slower, so with many messages in flight a read brings more of them than
# at full speed; with one in flight (the default) every read is one
# message, as at full speed. Bounded: 127.0.0.1 only, about 2 minutes.
#
# SERVERS: the servers measured (default: the adapter, the core by hand,
# fastwebsockets), e.g.
# SERVERS="tokio_echo_server peer_fastwebsockets_echo".
set -euo pipefail

CONNS=${1:-64}
SIZE=${2:-16}
DEPTH=${3:-1}
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }

(cd "$ROOT" && cargo build --release --quiet --example tokio_custom_loop \
    && cargo build --release --quiet -p wstate-tokio --example tokio_echo_server)
(cd "$BENCH_DIR" && cargo build --release --quiet --bins)
abs() { case "$1" in /*) echo "$1" ;; *) echo "$2/$1" ;; esac; }
EXAMPLES="$(abs "${CARGO_TARGET_DIR:-target}" "$ROOT")/release/examples"
BINS="$(abs "${CARGO_TARGET_DIR:-target}" "$BENCH_DIR")/release"
read -r -a SERVERS <<<"${SERVERS:-tokio_echo_server tokio_custom_loop peer_fastwebsockets_echo}"
WORK=$(mktemp -d /tmp/wstate-echo-instructions.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# run SERVER SECONDS PORT: prints "INSTRUCTIONS MESSAGES"
run() {
    local server=$1 secs=$2 port=$3 cmd flags=()
    case $server in
        tokio_echo_server | tokio_custom_loop) cmd=$EXAMPLES/$server flags=(--current-thread) ;;
        *) cmd=$BINS/$server ;;
    esac
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" \
        "$cmd" "${flags[@]}" "127.0.0.1:$port" >/dev/null 2>"$WORK/valgrind.log" &
    local pid=$!
    # Waits until the server listens (valgrind starts slowly).
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    local out
    out=$("$BINS/loadgen" --addr "127.0.0.1:$port" --conns "$CONNS" --size "$SIZE" \
        --depth "$DEPTH" --secs "$secs" --label "$server")
    kill -INT "$pid" 2>/dev/null || true
    sleep 1
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local msgs ir
    msgs=$(grep -o 'msgs=[0-9]*' <<<"$out" | cut -d= -f2)
    ir=$(grep -E '^(summary|totals):' "$WORK/cg.out" | head -1 | awk '{print $2}')
    echo "$ir $msgs"
}

echo "# $(date -u +%FT%TZ) $(git -C "$ROOT" rev-parse --short HEAD) conns=$CONNS size=$SIZE depth=$DEPTH"
echo "| server | instructions per echoed message (user space) |"
echo "| --- | ---: |"
port=$((9500 + RANDOM % 200))
for server in "${SERVERS[@]}"; do
    read -r ir1 m1 < <(run "$server" 3 $((port += 1)))
    read -r ir2 m2 < <(run "$server" 9 $((port += 1)))
    awk -v s="$server" -v a="$ir1" -v b="$ir2" -v m="$m1" -v n="$m2" \
        'BEGIN { printf "| %s | %.0f |\n", s, (b - a) / (n - m) }'
done
