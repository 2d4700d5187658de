#!/usr/bin/env bash
# Interoperability checks of wstate's examples against real peers, loopback only.
#
#   scripts/interop.sh [--standin] [--skip-browser] [--install-only]
#
# Installs its peers under target/conformance/ (Python websockets + wsproto in a
# venv, node ws + playwright-core with npm, Debian's chromium with apt-get when
# /usr/bin/chromium is missing), builds the examples in release mode, then:
#   a. examples/echo_server on 127.0.0.1:9011 against a Python websockets client,
#      a node ws client and headless Chromium (page served on 127.0.0.1:9014):
#      text, 4-byte UTF-8 text, empty text, binary, 1 MiB binary, ping/pong with
#      a payload (not in the browser), close 1000 seen by the peer;
#   b. examples/client against a Python websockets echo server (127.0.0.1:9012)
#      and a node ws echo server (127.0.0.1:9013), checking each output line
#      and a `closed 1000` end with exit status 0.
#   c. idle cycles: the same examples run with --release-after-message (the
#      deflate codec given back after every message and rebuilt from the kept
#      history for the next), context takeover both ways, every window size
#      9-15: examples/echo_server against a Python websockets client and a node
#      ws client (each offering server_/client_max_window_bits=W) and headless
#      Chromium (its offer leaves the size to the server: the example answers
#      W both ways, with --window-bits W, one server per size), and examples/client against the
#      websockets and ws echo servers in mode `takeover` (window bits from the
#      path /wW); the sequence (payloads.py, "Idle cycles"): random text of a
#      quarter window and three repeats, three windows of random text (the
#      history ring wraps), its last quarter window, random or pattern bytes
#      twice, a 50 ms pause before each; every echo exact, the negotiated
#      header exact, and the repeats on the wire at most a quarter of their
#      size plus 128 B each way (both sides compressed against the history
#      kept across the release; Chromium's page cannot count bytes).
# Both with permessage-deflate (the examples are built with --features deflate
# and use DeflateConfig::enabled(): level 1, window bits 15, context takeover):
#   - each peer's default deflate, and a second run with no_context_takeover
#     both ways and window bits 9 both ways where the peer can be configured
#     (websockets and ws as client and as server; Chromium cannot);
#   - the Sec-WebSocket-Extensions response as the peer saw it (pair a) or as
#     the peer's server sent it (pair b: the client example does not print
#     what it negotiated), compared with the exact expected value;
#   - echoes of JSON-like and random text and binary (pair b: the client's
#     `:bin N` pattern) of 1, 125, 126, 65536 and 1048576 bytes;
#   - the 1 MiB JSON text crossing the socket in less than half its size both
#     ways (websockets and ws peers): both sides really compressed.
# Prints a PASS/FAIL line per check and ends with `N passed, N failed`; exit 1
# on any failure.
#
# Fails closed: every checking program must print at least its known number of
# PASS/FAIL lines (MIN_CHECKS below: python-websockets client 30 + nct9 24,
# node-ws client 30 + nct9 24, chromium 28, client-vs-python-websockets 26 +
# nct9 20, client-vs-node-ws 26 + nct9 20; idle cycles: python-websockets 77,
# node-ws 77; chromium 10, client-vs-python-websockets and client-vs-node-ws
# 13 each per window size: 634 in all); a program that crashes, hangs, is not
# started (its server did not come up) or prints fewer lines adds a FAIL per
# missing check, and the run fails when fewer than 634 checks ran.  Skipping
# the browser is a local opt-out only: under CI (CI set, not 0/false)
# --skip-browser, INTEROP_SKIP_BROWSER, --standin, ECHO_SERVER_CMD and
# CLIENT_CMD are refused (exit 2); locally a skipped browser (both runs)
# lowers the minimum to 536 and is reported as SKIPPED.  (The stand-ins do
# not negotiate permessage-deflate as our examples do: with --standin the
# pmd-* and idle-* header and wire checks fail by design.)
#
# Options:
#   --standin        use the harness stand-ins (scripts/interop/standin_*.py)
#                    instead of our examples (to test this script itself)
#   --skip-browser   leave out the Chromium checks (also INTEROP_SKIP_BROWSER=1)
#   --install-only   install the peers and exit
# Environment: ECHO_SERVER_CMD (command; the listen address is appended;
#   pair c puts --release-after-message before it, and --window-bits W for
#   Chromium, except with --standin),
#   CLIENT_CMD (command; the URL is appended, likewise), INTEROP_PORT_BASE
#   (default 9010: uses BASE+1 .. BASE+4), WSTATE_CONFORMANCE_DIR (default
#   target/conformance).
set -euo pipefail
SCRIPT_NAME=interop
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/harness.sh
. "$ROOT/scripts/lib/harness.sh"

WORK="$BUILD_DIR/interop"
BASE=${INTEROP_PORT_BASE:-9010}
ECHO_PORT=$((BASE + 1)) PY_SERVER_PORT=$((BASE + 2)) NODE_SERVER_PORT=$((BASE + 3)) PAGE_PORT=$((BASE + 4))
skip_browser=${INTEROP_SKIP_BROWSER:-0} standin=0 install_only=0
# Checks each program prints (PASS or FAIL lines); the run needs them all.
declare -A MIN_CHECKS=([py_client]=30 [py_client_nct9]=24 [node_client]=30 [node_client_nct9]=24
    [browser]=28 [client_vs_python]=26 [client_vs_python_nct9]=20 [client_vs_node]=26
    [client_vs_node_nct9]=20 [py_idle]=77 [node_idle]=77)
CHECK_ORDER=(py_client py_client_nct9 node_client node_client_nct9 browser
    client_vs_python client_vs_python_nct9 client_vs_node client_vs_node_nct9
    py_idle node_idle)
IDLE_WINDOWS=(9 10 11 12 13 14 15)
for w in "${IDLE_WINDOWS[@]}"; do
    MIN_CHECKS[browser_idle_w$w]=10
    MIN_CHECKS[client_vs_python_idle_w$w]=13 MIN_CHECKS[client_vs_node_idle_w$w]=13
    CHECK_ORDER+=("browser_idle_w$w" "client_vs_python_idle_w$w" "client_vs_node_idle_w$w")
done
# The Sec-WebSocket-Extensions responses expected, exactly.  Our server
# (DeflateConfig::enabled()) answers the usual offer
# `permessage-deflate; client_max_window_bits` with the bare name, and an
# offer of no_context_takeover and 9 window bits both ways with all four.
PMD_OURS_DEFAULT='permessage-deflate'
PMD_NCT9='permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9'
# The peers' servers answering our client's `permessage-deflate; client_max_window_bits`:
PMD_WEBSOCKETS_DEFAULT='permessage-deflate; server_max_window_bits=12; client_max_window_bits=12'
PMD_WEBSOCKETS_NCT9='permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9'
PMD_WS_DEFAULT='permessage-deflate'
PMD_WS_NCT9='permessage-deflate; client_max_window_bits=9; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9'
# Pair c (idle cycles), W standing for the window bits: our server answering
# `server_max_window_bits=W; client_max_window_bits=W`, the peers' servers in
# mode `takeover` answering our client's offer; Chromium gets the bare name.
PMD_IDLE_OURS='permessage-deflate; server_max_window_bits=W; client_max_window_bits=W'
PMD_IDLE_WEBSOCKETS='permessage-deflate; server_max_window_bits=W; client_max_window_bits=W'
PMD_IDLE_WS='permessage-deflate; client_max_window_bits=W; server_max_window_bits=W'

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
    case "$1" in
        --standin) standin=1; shift ;;
        --skip-browser) skip_browser=1; shift ;;
        --install-only) install_only=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
case "$skip_browser" in 0|"") skip_browser=0 ;; *) skip_browser=1 ;; esac
if in_ci; then
    refused=()
    ((skip_browser)) && refused+=("--skip-browser / INTEROP_SKIP_BROWSER=${INTEROP_SKIP_BROWSER:-} (a skipped browser fails CI)")
    ((standin)) && refused+=("--standin")
    [[ -n "${ECHO_SERVER_CMD:-}" ]] && refused+=("ECHO_SERVER_CMD")
    [[ -n "${CLIENT_CMD:-}" ]] && refused+=("CLIENT_CMD")
    if ((${#refused[@]})); then
        for r in "${refused[@]}"; do log "error: refused under CI=$CI: $r"; done
        die "CI runs every peer and the browser against our own examples; unset the above"
    fi
fi
mkdir -p "$BUILD_DIR" "$WORK"
cd "$ROOT"   # relative paths in *_CMD are taken from the repository root

# ---------------------------------------------------------------- installs
# ensure_node_peers and ensure_chromium: scripts/lib/harness.sh
ensure_py3_venv
ensure_node_peers
((skip_browser)) || ensure_chromium
if ((install_only)); then log "install done"; exit 0; fi
PY="$PY3_VENV/bin/python"
export NODE_PATH="$NODE_DIR/node_modules"

# ---------------------------------------------------------------- commands under test
if ((standin)); then
    : "${ECHO_SERVER_CMD:=$PY $ROOT/scripts/interop/standin_echo_server.py}"
    : "${CLIENT_CMD:=$PY $ROOT/scripts/interop/standin_client.py}"
fi
if [[ -z "${ECHO_SERVER_CMD:-}" || -z "${CLIENT_CMD:-}" ]]; then
    build_examples
    [[ -n "${ECHO_SERVER_CMD:-}" ]] || need_binary "$EXAMPLES_DIR/echo_server"
    [[ -n "${CLIENT_CMD:-}" ]] || need_binary "$EXAMPLES_DIR/client"
fi
ECHO_SERVER_CMD=${ECHO_SERVER_CMD:-$EXAMPLES_DIR/echo_server}
CLIENT_CMD=${CLIENT_CMD:-$EXAMPLES_DIR/client}

# ---------------------------------------------------------------- running peers
RESULTS="$WORK/results.txt"
: >"$RESULTS"

# run_check NAME SECONDS CMD...: run one checking program, keep its PASS/FAIL
# lines; a crash or time-out without its own FAIL line counts as one failure.
# Each program's checks are counted in RAN[NAME] (missing_checks judges them).
declare -A RAN=()
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

# start_server NAME PORT CMD... : start a server in the background, wait for its port.
start_server() {
    local name=$1 port=$2
    shift 2
    require_free_port "$port"
    start_bg "$WORK/$name.log" 900 "$@"
    SERVER_PID=$BG_PID
    if ! wait_port "$port" "$SERVER_PID" 60 "$WORK/$name.log"; then
        echo "FAIL $name: did not start listening on 127.0.0.1:$port (log: $WORK/$name.log)" | tee -a "$RESULTS"
        stop_bg "$SERVER_PID"
        return 1
    fi
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

# a. our echo server against three clients
log "pair a: echo server under test: $ECHO_SERVER_CMD 127.0.0.1:$ECHO_PORT"
# shellcheck disable=SC2086  # the *_CMD variables are word-split on purpose
if start_server echo_server "$ECHO_PORT" $ECHO_SERVER_CMD "127.0.0.1:$ECHO_PORT"; then
    url="ws://127.0.0.1:$ECHO_PORT"
    run_check py_client 180 "$PY" "$ROOT/scripts/interop/py_client_check.py" "$url" default "$PMD_OURS_DEFAULT"
    run_check py_client_nct9 180 "$PY" "$ROOT/scripts/interop/py_client_check.py" "$url" nct9 "$PMD_NCT9"
    run_check node_client 180 node "$ROOT/scripts/interop/node_client_check.js" "$url" default "$PMD_OURS_DEFAULT"
    run_check node_client_nct9 180 node "$ROOT/scripts/interop/node_client_check.js" "$url" nct9 "$PMD_NCT9"
    if ((skip_browser)); then
        log "Chromium checks skipped"
    else
        rm -rf "$WORK"/chromium-profile-*
        require_free_port "$PAGE_PORT"
        run_check browser 300 node "$ROOT/scripts/interop/browser_check.js" "$url" "$PAGE_PORT" "$WORK" "$PMD_OURS_DEFAULT"
        kill_leftover_browser
    fi
    kill -0 "$SERVER_PID" 2>/dev/null \
        || echo "FAIL echo_server: exited during the checks (log: $WORK/echo_server.log)" | tee -a "$RESULTS"
    stop_bg "$SERVER_PID"
fi

# b. our client against two echo servers
log "pair b: client under test: $CLIENT_CMD URL"
# client_pair NAME PEER PORT MODE EXPECTED SERVER_CMD...: one echo server in
# deflate MODE (default / nct9), our client against it.
client_pair() {
    local name=$1 peer=$2 port=$3 mode=$4 expected=$5 only=()
    shift 5
    [[ "$mode" == default ]] || only=(--pmd-only)
    if start_server "${name}_server" "$port" "$@" "127.0.0.1:$port" "$mode"; then
        # shellcheck disable=SC2086
        run_check "$name" 180 python3 "$ROOT/scripts/interop/drive_client.py" --pmd "$expected" \
            "${only[@]+"${only[@]}"}" "$peer" "ws://127.0.0.1:$port/" $CLIENT_CMD
        stop_bg "$SERVER_PID"
    fi
}
client_pair client_vs_python python-websockets "$PY_SERVER_PORT" default "$PMD_WEBSOCKETS_DEFAULT" \
    "$PY" "$ROOT/scripts/interop/py_echo_server.py"
client_pair client_vs_python_nct9 python-websockets-nct9 "$PY_SERVER_PORT" nct9 "$PMD_WEBSOCKETS_NCT9" \
    "$PY" "$ROOT/scripts/interop/py_echo_server.py"
client_pair client_vs_node node-ws "$NODE_SERVER_PORT" default "$PMD_WS_DEFAULT" \
    node "$ROOT/scripts/interop/node_echo_server.js"
client_pair client_vs_node_nct9 node-ws-nct9 "$NODE_SERVER_PORT" nct9 "$PMD_WS_NCT9" \
    node "$ROOT/scripts/interop/node_echo_server.js"

# c. idle cycles: both examples release the codec after every message
release=--release-after-message
((standin)) && release=''   # the stand-ins have no codec to release
log "pair c: idle cycles, echo server under test: $ECHO_SERVER_CMD${release:+ $release} 127.0.0.1:$ECHO_PORT"
# shellcheck disable=SC2086
if start_server echo_server_idle "$ECHO_PORT" $ECHO_SERVER_CMD $release "127.0.0.1:$ECHO_PORT"; then
    url="ws://127.0.0.1:$ECHO_PORT"
    run_check py_idle 180 "$PY" "$ROOT/scripts/interop/py_idle_check.py" "$url" "$PMD_IDLE_OURS"
    run_check node_idle 180 node "$ROOT/scripts/interop/node_idle_check.js" "$url" "$PMD_IDLE_OURS"
    kill -0 "$SERVER_PID" 2>/dev/null \
        || echo "FAIL echo_server_idle: exited during the checks (log: $WORK/echo_server_idle.log)" | tee -a "$RESULTS"
    stop_bg "$SERVER_PID"
fi
# Chromium offers a bare `client_max_window_bits` and no server size: the
# echo server answers W both ways (--window-bits), one server per size; 15,
# the largest, goes without saying.
if ((skip_browser)); then
    log "Chromium checks skipped"
else
    for w in "${IDLE_WINDOWS[@]}"; do
        expected=${PMD_IDLE_OURS//W/$w}
        ((w == 15)) && expected=$PMD_OURS_DEFAULT
        # shellcheck disable=SC2086
        start_server "echo_server_idle_w$w" "$ECHO_PORT" $ECHO_SERVER_CMD $release \
            $([[ -n "$release" ]] && echo --window-bits "$w") "127.0.0.1:$ECHO_PORT" || continue
        rm -rf "$WORK"/chromium-profile-*
        require_free_port "$PAGE_PORT"
        run_check "browser_idle_w$w" 120 node "$ROOT/scripts/interop/browser_check.js" "ws://127.0.0.1:$ECHO_PORT" \
            "$PAGE_PORT" "$WORK" "$expected" idle "$w"
        kill_leftover_browser
        kill -0 "$SERVER_PID" 2>/dev/null \
            || echo "FAIL echo_server_idle_w$w: exited during the checks (log: $WORK/echo_server_idle_w$w.log)" | tee -a "$RESULTS"
        stop_bg "$SERVER_PID"
    done
fi
log "pair c: idle cycles, client under test: $CLIENT_CMD${release:+ $release} URL"
# idle_client_pair NAME PEER PORT EXPECTED SERVER_CMD...: one echo server in
# mode takeover, our client against it at each window size (path /wW).
idle_client_pair() {
    local name=$1 peer=$2 port=$3 expected=$4 w
    shift 4
    if start_server "${name}_server" "$port" "$@" "127.0.0.1:$port" takeover; then
        for w in "${IDLE_WINDOWS[@]}"; do
            # shellcheck disable=SC2086
            run_check "${name}_w$w" 60 python3 "$ROOT/scripts/interop/drive_client.py" --pmd "$expected" \
                --idle "$w" "$peer" "ws://127.0.0.1:$port/w$w" $CLIENT_CMD $release
        done
        stop_bg "$SERVER_PID"
    fi
}
idle_client_pair client_vs_python_idle python-websockets-idle "$PY_SERVER_PORT" "$PMD_IDLE_WEBSOCKETS" \
    "$PY" "$ROOT/scripts/interop/py_echo_server.py"
idle_client_pair client_vs_node_idle node-ws-idle "$NODE_SERVER_PORT" "$PMD_IDLE_WS" \
    node "$ROOT/scripts/interop/node_echo_server.js"

# Every program must have run all its checks; a skipped browser is allowed
# locally only (refused above under CI) and is reported.
min_total=0 ran_total=0 skipped=()
for name in "${CHECK_ORDER[@]}"; do
    if [[ "$name" == browser* ]] && ((skip_browser)); then
        skipped+=("browser (${MIN_CHECKS[$name]} checks)")
        continue
    fi
    want=${MIN_CHECKS[$name]} got=${RAN[$name]:-0}
    min_total=$((min_total + want)) ran_total=$((ran_total + got))
    if ((got < want)); then
        echo "FAIL $name: only $got of its $want checks ran" | tee -a "$RESULTS"
    fi
done
if ((ran_total < min_total)); then
    echo "FAIL interop: $ran_total checks ran, at least $min_total must" | tee -a "$RESULTS"
fi
passed=$(grep -c '^PASS ' "$RESULTS" || true)
failed=$(grep -c '^FAIL ' "$RESULTS" || true)
if ((${#skipped[@]})); then
    log "SKIPPED (local opt-out, refused under CI): ${skipped[*]}"
fi
log "$ran_total checks ran (minimum $min_total)"
log "logs in $WORK; took ${SECONDS}s"
if ((failed)); then
    echo "failures:"
    grep '^FAIL ' "$RESULTS" | sed 's/^/  /'
fi
echo "$passed passed, $failed failed"
((failed == 0))
