#!/usr/bin/env bash
# The chat example (wstate-tokio/examples/chat.rs) in headless Chromium,
# loopback only.
#
#   scripts/chat_browser.sh [--install-only]
#
# Installs what it needs as scripts/interop.sh does (node ws + playwright-core
# under target/conformance/node, Debian's chromium with apt-get when missing),
# builds the example in release mode (`cargo build --release -p wstate-tokio
# --features hyper,deflate --example chat`), starts `chat 127.0.0.1:PORT`, then:
#   1. scripts/chat/slow_client_check.py (stdlib Python, raw sockets): a
#      client that stops reading while another floods the room is closed
#      with 1008/1013 and announced to the room; the fast one stays (3 checks);
#   2. scripts/chat/deflate_check.py (stdlib Python, raw sockets, zlib): an
#      offer of permessage-deflate is answered `permessage-deflate;
#      server_no_context_takeover` in the 101 (with the client's smaller
#      server_max_window_bits when it asks for one), no offer gets no
#      extension; a line said by a client without deflate reaches the others
#      as one compressed frame (RSV1) that inflates to exactly the bytes it
#      gets plain; lines compressed by a client (context takeover) reach the
#      others exact (6 checks);
#   3. scripts/chat/browser_check.js: GET / is the page, other paths 404, a
#      WebSocket without the chat.v1 subprotocol is refused with 400; two
#      Chromium pages join (permessage-deflate accepted with
#      server_no_context_takeover), each sends a message, both pages show
#      both messages and the join notices; a screenshot of a page goes to
#      target/chat-screenshot.png; then it sends SIGINT to the server and
#      both pages must see close code 1001 (9 checks);
#   4. the server exits by itself with status 0 within SHUTDOWN_WAIT seconds
#      of the SIGINT, its output shows each join and each leave with its close
#      code (1008 for the slow client, 1000 for the fast one, 1001 for the
#      pages) and `bye` (2 checks).
# Prints a PASS/FAIL line per check and ends with `N passed, N failed`; exit 1
# on any failure, 2 on a configuration error.  Fails closed: fewer checks than
# MIN_CHECKS (a program crashed, timed out or was never started) is a FAIL.
# There is nothing to skip: the browser is required, locally and under CI.
#
# Environment: CHAT_PORT (default 9021), WSTATE_CONFORMANCE_DIR (default
# target/conformance), CHAT_SCREENSHOT (default target/chat-screenshot.png).
set -euo pipefail
SCRIPT_NAME=chat
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/harness.sh
. "$ROOT/scripts/lib/harness.sh"

WORK="$BUILD_DIR/chat"
PORT=${CHAT_PORT:-9021}
SCREENSHOT=${CHAT_SCREENSHOT:-$TARGET_DIR/chat-screenshot.png}
SHUTDOWN_WAIT=10
declare -A MIN_CHECKS=([chat_slow]=3 [chat_deflate]=6 [chat_browser]=9 [chat_server]=2)
install_only=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
    case "$1" in
        --install-only) install_only=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ "$PORT" =~ ^[0-9]+$ ]] || die "CHAT_PORT must be a port number"
mkdir -p "$BUILD_DIR" "$WORK" "$(dirname "$SCREENSHOT")"
cd "$ROOT"

ensure_node_peers
ensure_chromium
if ((install_only)); then log "install done"; exit 0; fi
export NODE_PATH="$NODE_DIR/node_modules"
log "building the chat example (cargo build --release -p wstate-tokio --features hyper,deflate --example chat)"
(timeout "${CARGO_BUILD_TIMEOUT:-900}" cargo build --release -p wstate-tokio --features hyper,deflate --example chat --quiet </dev/null) \
    || die "cargo build --release -p wstate-tokio --features hyper,deflate --example chat failed"
need_binary "$EXAMPLES_DIR/chat"

RESULTS="$WORK/results.txt"
: >"$RESULTS"
rm -f "$SCREENSHOT"
declare -A RAN=()
# run_check NAME SECONDS CMD...: as in interop.sh.
run_check() {
    local name=$1 secs=$2 out rc=0
    shift 2
    out="$WORK/$name.out"
    log "running $name"
    timeout -k 5 "$secs" "$@" </dev/null >"$out" 2>"$WORK/$name.err" || rc=$?
    cat "$out"
    grep -E '^(PASS|FAIL) ' "$out" >>"$RESULTS" || true
    RAN[$name]=$(grep -cE '^(PASS|FAIL) ' "$out" || true)
    if ((rc == 124 || rc == 137)); then
        echo "FAIL $name: timed out after ${secs}s (stderr: $WORK/$name.err)" | tee -a "$RESULTS"
    elif ((rc != 0)) && ! grep -q '^FAIL ' "$out"; then
        echo "FAIL $name: exited with status $rc (stderr: $WORK/$name.err)" | tee -a "$RESULTS"
        tail -n 5 "$WORK/$name.err" >&2 || true
    fi
}
check() { # check NAME OK WHY
    if (($2)); then echo "PASS chat-server: $1"; else echo "FAIL chat-server: $1: $3"; fi | tee -a "$RESULTS"
    RAN[chat_server]=$((${RAN[chat_server]:-0} + 1))
}

kill_leftover_browser() {
    local pidfile="$WORK/chromium.pid" pid
    [[ -f "$pidfile" ]] || return 0
    pid=$(cat "$pidfile")
    rm -f "$pidfile"
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
        && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$WORK/chromium-profile-"; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        sleep 1
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
}
EXTRA_CLEANUP+=(kill_leftover_browser)

require_free_port "$PORT"
SERVER_LOG="$WORK/chat.log"
start_bg "$SERVER_LOG" 300 "$EXAMPLES_DIR/chat" "127.0.0.1:$PORT"
WRAPPER_PID=$BG_PID
if wait_port "$PORT" "$WRAPPER_PID" 60 "$SERVER_LOG"; then
    # start_bg runs `timeout … chat`: SIGINT goes to chat itself, as a
    # terminal's Ctrl-C would.
    CHAT_PID=$(pgrep -P "$WRAPPER_PID" -x chat || true)
    [[ "$CHAT_PID" =~ ^[0-9]+$ ]] || die "cannot find the chat process under pid $WRAPPER_PID"
    run_check chat_slow 60 python3 "$ROOT/scripts/chat/slow_client_check.py" "127.0.0.1:$PORT"
    run_check chat_deflate 60 python3 "$ROOT/scripts/chat/deflate_check.py" "127.0.0.1:$PORT"
    rm -rf "$WORK"/chromium-profile-*
    run_check chat_browser 150 node "$ROOT/scripts/chat/browser_check.js" "$PORT" "$CHAT_PID" "$WORK" "$SCREENSHOT"
    kill_leftover_browser
    # The browser check sent SIGINT; the server must leave by itself.
    kill -INT "$CHAT_PID" 2>/dev/null || true   # (no-op unless that check died early)
    exited=0
    for _ in $(seq 1 $((SHUTDOWN_WAIT * 10))); do
        kill -0 "$WRAPPER_PID" 2>/dev/null || { exited=1; break; }
        sleep 0.1
    done
    status=unknown
    if ((exited)); then
        status=0
        wait "$WRAPPER_PID" || status=$?
    fi
    check exits-after-sigint "$((exited && status == 0))" \
        "exited=$exited status=$status within ${SHUTDOWN_WAIT}s (log: $SERVER_LOG)"
    want=("^chat on http://127.0.0.1:$PORT/"
        '^join  slow ' '^join  fast ' '^leave slow 1008 ' '^leave fast 1000,'
        '^join  alice ' '^join  bob ' '^leave alice 1001 ' '^leave bob 1001 '
        '^shutting down' '^bye$')
    missing=()
    for re in "${want[@]}"; do grep -qE "$re" "$SERVER_LOG" || missing+=("$re"); done
    check server-output "$((${#missing[@]} == 0))" "no line matching: ${missing[*]} (log: $SERVER_LOG)"
    stop_bg "$WRAPPER_PID"
else
    echo "FAIL chat: the server did not start listening on 127.0.0.1:$PORT (log: $SERVER_LOG)" | tee -a "$RESULTS"
fi

min_total=0 ran_total=0
for name in "${!MIN_CHECKS[@]}"; do
    want=${MIN_CHECKS[$name]} got=${RAN[$name]:-0}
    min_total=$((min_total + want)) ran_total=$((ran_total + got))
    ((got >= want)) || echo "FAIL $name: only $got of its $want checks ran" | tee -a "$RESULTS"
done
passed=$(grep -c '^PASS ' "$RESULTS" || true)
failed=$(grep -c '^FAIL ' "$RESULTS" || true)
log "$ran_total checks ran (minimum $min_total); server log $SERVER_LOG; screenshot $SCREENSHOT"
log "took ${SECONDS}s"
if ((failed)); then
    echo "failures:"
    grep '^FAIL ' "$RESULTS" | sed 's/^/  /'
fi
echo "$passed passed, $failed failed"
((failed == 0))
