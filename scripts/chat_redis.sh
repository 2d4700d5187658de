#!/usr/bin/env bash
# Two chat processes (wstate-tokio/examples/chat.rs --redis) share one room
# through a real Redis, loopback only, and live through a Redis outage.
#
#   scripts/chat_redis.sh
#
# Installs redis-server with apt-get when missing, builds the example in
# release mode (`cargo build --release -p wstate-tokio --features hyper,deflate
# --example chat`), starts redis-server on 127.0.0.1 at a free port (under a
# loop that starts it again when it exits, unless the hold file exists), and
# two `chat --redis redis://127.0.0.1:PORT 127.0.0.1:PORT_A|B`, then:
#   1. scripts/chat/redis_check.py (stdlib Python, raw sockets): two clients
#      on each process; every line reaches every client once, in order per
#      sender; Redis stopped (SHUTDOWN NOSAVE): every client is told
#      (`{"type":"link","up":false}`), the room goes on within each process
#      and a client joining then is told at once; Redis back: every client
#      is told (`"up":true`) and lines cross again, once and in order; the
#      outage's lines never cross (8 checks);
#   2. both processes lived through it (running, no panic in their logs),
#      logged the link lost and found again, and exit with status 0 within
#      SHUTDOWN_WAIT seconds of a SIGINT (3 checks).
# Prints a PASS/FAIL line per check and ends with `N passed, N failed`; exit 1
# on any failure, 2 on a configuration error.  Fails closed: fewer checks than
# MIN_CHECKS (a program crashed, timed out or was never started) is a FAIL.
set -euo pipefail
SCRIPT_NAME=chat-redis
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/harness.sh
. "$ROOT/scripts/lib/harness.sh"

WORK="$BUILD_DIR/chat-redis"
SHUTDOWN_WAIT=10
declare -A MIN_CHECKS=([chat_redis]=8 [chat_processes]=3)

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
case "${1:-}" in
    "") ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
esac
mkdir -p "$WORK"
cd "$ROOT"

if ! command -v redis-server >/dev/null; then
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || die "redis-server is missing and neither root nor sudo is available"
        sudo=(sudo -n)
    fi
    log "installing redis-server (apt-get)"
    apt=("${sudo[@]+"${sudo[@]}"}" env DEBIAN_FRONTEND=noninteractive apt-get)
    timeout 900 "${apt[@]}" install -y -qq redis-server </dev/null >"$WORK/apt.log" 2>&1 \
        || { timeout 600 "${apt[@]}" update -qq </dev/null >>"$WORK/apt.log" 2>&1 \
            && timeout 900 "${apt[@]}" install -y -qq redis-server </dev/null >>"$WORK/apt.log" 2>&1; } \
        || { tail -n 20 "$WORK/apt.log" >&2; die "apt-get install redis-server failed"; }
    command -v redis-server >/dev/null || die "redis-server still missing after apt-get install"
fi
log "building the chat example (cargo build --release -p wstate-tokio --features hyper,deflate --example chat)"
(timeout "${CARGO_BUILD_TIMEOUT:-900}" cargo build --release -p wstate-tokio --features hyper,deflate --example chat --quiet </dev/null) \
    || die "cargo build --release -p wstate-tokio --features hyper,deflate --example chat failed"
need_binary "$EXAMPLES_DIR/chat"

# free_port: a port nothing listens on now (the kernel's choice).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
REDIS_PORT=$(free_port)
PORT_A=$(free_port)
PORT_B=$(free_port)
HOLD="$WORK/redis.hold"
rm -f "$HOLD"

RESULTS="$WORK/results.txt"
: >"$RESULTS"
declare -A RAN=()
check() { # check NAME OK WHY
    if (($2)); then echo "PASS chat-processes: $1"; else echo "FAIL chat-processes: $1: $3"; fi | tee -a "$RESULTS"
    RAN[chat_processes]=$((${RAN[chat_processes]:-0} + 1))
}

# Redis, started again whenever it exits unless $HOLD exists; the whole loop
# is one process group that stop_bg ends.
REDIS_LOG="$WORK/redis.log"
start_bg "$REDIS_LOG" 300 bash -c '
    while :; do
        if [[ -e "$1" ]]; then sleep 0.1; continue; fi
        redis-server --bind 127.0.0.1 --port "$2" --save "" --appendonly no --dir "$3" --daemonize no
        sleep 0.2
    done' redis-loop "$HOLD" "$REDIS_PORT" "$WORK"
wait_port "$REDIS_PORT" "$BG_PID" 30 "$REDIS_LOG" || die "redis-server did not start (log: $REDIS_LOG)"

declare -A WRAPPER=() CHAT=()
for side in a b; do
    port_var="PORT_${side^^}"
    start_bg "$WORK/chat-$side.log" 300 "$EXAMPLES_DIR/chat" --redis "redis://127.0.0.1:$REDIS_PORT" "127.0.0.1:${!port_var}"
    WRAPPER[$side]=$BG_PID
    wait_port "${!port_var}" "$BG_PID" 60 "$WORK/chat-$side.log" || die "chat $side did not start (log: $WORK/chat-$side.log)"
    # start_bg runs `timeout … chat`: SIGINT goes to chat itself.
    CHAT[$side]=$(pgrep -P "$BG_PID" -x chat || true)
    [[ "${CHAT[$side]}" =~ ^[0-9]+$ ]] || die "cannot find the chat process under pid $BG_PID"
done
for side in a b; do
    for _ in $(seq 1 100); do grep -q '^redis: linked' "$WORK/chat-$side.log" && break; sleep 0.1; done
done

log "running chat_redis"
out="$WORK/chat_redis.out"
rc=0
timeout -k 5 180 python3 "$ROOT/scripts/chat/redis_check.py" "127.0.0.1:$PORT_A" "127.0.0.1:$PORT_B" \
    "$REDIS_PORT" "$HOLD" </dev/null >"$out" 2>"$WORK/chat_redis.err" || rc=$?
cat "$out"
grep -E '^(PASS|FAIL) ' "$out" >>"$RESULTS" || true
RAN[chat_redis]=$(grep -cE '^(PASS|FAIL) ' "$out" || true)
if ((rc == 124 || rc == 137)); then
    echo "FAIL chat_redis: timed out (stderr: $WORK/chat_redis.err)" | tee -a "$RESULTS"
elif ((rc != 0)) && ! grep -q '^FAIL ' "$out"; then
    echo "FAIL chat_redis: exited with status $rc (stderr: $WORK/chat_redis.err)" | tee -a "$RESULTS"
fi
rm -f "$HOLD"

alive=() panicked=()
for side in a b; do
    kill -0 "${CHAT[$side]}" 2>/dev/null && alive+=("$side")
    grep -q 'panicked' "$WORK/chat-$side.log" && panicked+=("$side")
done
check lived-through-the-outage "$((${#alive[@]} == 2 && ${#panicked[@]} == 0))" \
    "running: ${alive[*]:-none}; panicked: ${panicked[*]:-none} (logs: $WORK/chat-a.log, $WORK/chat-b.log)"
logged=()
for side in a b; do
    [[ $(grep -c '^redis: linked' "$WORK/chat-$side.log") -ge 2 ]] \
        && grep -q '^redis: link down' "$WORK/chat-$side.log" && logged+=("$side")
done
check logged-link-down-and-up "$((${#logged[@]} == 2))" \
    "only ${logged[*]:-none} logged 'redis: link down' and 'redis: linked' twice"
for side in a b; do kill -INT "${CHAT[$side]}" 2>/dev/null || true; done
exited=()
for side in a b; do
    status=unknown
    for _ in $(seq 1 $((SHUTDOWN_WAIT * 10))); do
        kill -0 "${WRAPPER[$side]}" 2>/dev/null || { status=0; wait "${WRAPPER[$side]}" || status=$?; break; }
        sleep 0.1
    done
    [[ "$status" == 0 ]] && grep -q '^bye$' "$WORK/chat-$side.log" && exited+=("$side")
done
check exits-after-sigint "$((${#exited[@]} == 2))" \
    "only ${exited[*]:-none} exited with status 0 and 'bye' within ${SHUTDOWN_WAIT}s of SIGINT"

min_total=0 ran_total=0
for name in "${!MIN_CHECKS[@]}"; do
    want=${MIN_CHECKS[$name]} got=${RAN[$name]:-0}
    min_total=$((min_total + want)) ran_total=$((ran_total + got))
    ((got >= want)) || echo "FAIL $name: only $got of its $want checks ran" | tee -a "$RESULTS"
done
passed=$(grep -c '^PASS ' "$RESULTS" || true)
failed=$(grep -c '^FAIL ' "$RESULTS" || true)
log "$ran_total checks ran (minimum $min_total); logs in $WORK"
log "took ${SECONDS}s"
if ((failed)); then
    echo "failures:"
    grep '^FAIL ' "$RESULTS" | sed 's/^/  /'
fi
echo "$passed passed, $failed failed"
((failed == 0))
