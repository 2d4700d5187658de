#!/usr/bin/env bash
# Behaviour checks of the examples (what a person sees), loopback only.
#
#   scripts/examples.sh
#
# Builds the examples (release, --features deflate, as the other scripts do)
# and the Python `websockets` venv under target/conformance/, then checks:
#   a. usage: `--help` prints the usage on stdout with status 0, and a bad
#      argument prints an error and the usage on stderr with status 2, for
#      echo_server, tokio_echo_server (wstate-tokio), tokio_custom_loop,
#      client, tokio_client (wstate-tokio) and autobahn_client;
#   b. `printf 'a\nb\n' | client URL` (and tokio_client against our
#      echo_server) prints `connected`, both echoes and
#      `closed 1000 `, status 0: against our echo_server (127.0.0.1:BASE+1)
#      and a Python websockets echo server (127.0.0.1:BASE+2);
#   c. Ctrl-C: SIGINT to echo_server, tokio_echo_server and
#      tokio_custom_loop (BASE+3, +4, +6)
#      while a Python websockets client is connected: the client receives a
#      Close 1001, the server logs that connection's end and exits with
#      status 0 ("stopped");
#   d. a client that breaks the protocol and keeps sending still reads the
#      server's Close 1002 and an orderly end of stream, never a reset
#      (scripts/examples/close_after_error.py, ten trials each: echo_server,
#      tokio_echo_server and tokio_custom_loop at BASE+5, +7, +8).
# Every wait is bounded; every process it starts is stopped on exit. Prints a
# PASS/FAIL line per check and ends with `N passed, N failed`; exit 1 on any
# failure, 2 on a setup error.
# Environment: EXAMPLES_PORT_BASE (default 9030), WSTATE_CONFORMANCE_DIR.
set -euo pipefail
SCRIPT_NAME=examples
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/harness.sh
. "$ROOT/scripts/lib/harness.sh"

case "${1:-}" in
    "") ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
esac

BASE=${EXAMPLES_PORT_BASE:-9030}
WORK="$BUILD_DIR/examples"
mkdir -p "$WORK"
passed=0 failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# wait_exit PID SECONDS: wait for our child PID to exit; its status in
# EXIT_STATUS (124 if it was still running after SECONDS).
wait_exit() {
    local pid=$1 deadline=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        EXIT_STATUS=124
        return
    fi
    EXIT_STATUS=0
    wait "$pid" 2>/dev/null || EXIT_STATUS=$?
}

for port in $((BASE + 1)) $((BASE + 2)) $((BASE + 3)) $((BASE + 4)) $((BASE + 5)) $((BASE + 6)) $((BASE + 7)) $((BASE + 8)); do require_free_port "$port"; done
build_examples
ensure_py3_venv
PY="$PY3_VENV/bin/python"
for ex in echo_server tokio_echo_server tokio_custom_loop client tokio_client autobahn_client; do need_binary "$EXAMPLES_DIR/$ex"; done

# ---------------------------------------------------------------- a. usage
for ex in echo_server tokio_echo_server tokio_custom_loop client tokio_client autobahn_client; do
    rc=0
    out=$(timeout 10 "$EXAMPLES_DIR/$ex" --help 2>"$WORK/$ex.help.err" </dev/null) || rc=$?
    if ((rc == 0)) && grep -q '^usage:' <<<"$out"; then
        pass "$ex --help"
    else
        fail "$ex --help" "status $rc, no usage on stdout: $(head -c 300 <<<"$out")"
    fi
    rc=0
    err=$(timeout 10 "$EXAMPLES_DIR/$ex" --no-such-option 2>&1 >/dev/null </dev/null) || rc=$?
    if ((rc == 2)) && grep -q '^error: ' <<<"$err" && grep -q '^usage:' <<<"$err"; then
        pass "$ex bad argument"
    else
        fail "$ex bad argument" "status $rc (want 2), stderr: $(head -c 300 <<<"$err")"
    fi
done

# ------------------------------------------- b. client with piped stdin
# Output lines other than the server's occasional `ping N`, in order.
want_client=$'connected\ntext 1 a\ntext 1 b\nclosed 1000 '
client_piped() {  # client_piped NAME URL [CLIENT_EXAMPLE, default client]
    local name=$1 url=$2 client=${3:-client} rc=0 out
    out=$(printf 'a\nb\n' | timeout 20 "$EXAMPLES_DIR/$client" "$url" 2>"$WORK/$name.err") || rc=$?
    out=$(grep -v '^ping [0-9]*$' <<<"$out" || true)
    if ((rc == 0)) && [[ "$out" == "$want_client" ]]; then
        pass "$name"
    else
        fail "$name" "status $rc, output $(printf '%q' "$out") (want $(printf '%q' "$want_client")); stderr: $(head -c 300 "$WORK/$name.err")"
    fi
}

port=$((BASE + 1))
start_bg "$WORK/echo_server.log" 60 "$EXAMPLES_DIR/echo_server" "127.0.0.1:$port"
server=$BG_PID
if wait_port "$port" "$server" 20 "$WORK/echo_server.log"; then
    client_piped "client-stdin-vs-echo_server" "ws://127.0.0.1:$port/"
    client_piped "tokio_client-stdin-vs-echo_server" "ws://127.0.0.1:$port/" tokio_client
else
    fail "client-stdin-vs-echo_server" "echo_server did not listen"
fi
stop_bg "$server"

port=$((BASE + 2))
start_bg "$WORK/py_echo_server.log" 60 "$PY" "$ROOT/scripts/interop/py_echo_server.py" "127.0.0.1:$port"
server=$BG_PID
if wait_port "$port" "$server" 20 "$WORK/py_echo_server.log"; then
    client_piped "client-stdin-vs-python-websockets" "ws://127.0.0.1:$port/"
else
    fail "client-stdin-vs-python-websockets" "the Python echo server did not listen"
fi
stop_bg "$server"

# ---------------------------------------------------------- c. Ctrl-C
# The server runs without start_bg's `timeout` wrapper, which would pass the
# SIGINT on twice (to the process and to its group): a second Ctrl-C means
# "exit now". Cleanup still stops it (its own process group, via setsid).
going_away() {
    local ex=$1 port=$2 log="$WORK/$1.sigint.log" clog="$WORK/$1.client.log" server client deadline
    : >"$log" # before `&`: see start_bg
    setsid "$EXAMPLES_DIR/$ex" "127.0.0.1:$port" </dev/null >"$log" 2>&1 &
    server=$!
    BG_PIDS+=("$server")
    if ! wait_port "$port" "$server" 20 "$log"; then
        fail "$ex ctrl-c" "did not listen"
        return
    fi
    start_bg "$clog" 40 "$PY" "$ROOT/scripts/examples/going_away_client.py" "ws://127.0.0.1:$port/"
    client=$BG_PID
    deadline=$((SECONDS + 20))
    until grep -q '^ready$' "$clog" 2>/dev/null || ((SECONDS >= deadline)) || ! kill -0 "$client" 2>/dev/null; do
        sleep 0.1
    done
    if ! grep -q '^ready$' "$clog"; then
        fail "$ex ctrl-c" "the Python client never got its echo: $(head -c 300 "$clog")"
        return
    fi
    kill -INT "$server"
    wait_exit "$client" 25
    if ((EXIT_STATUS == 0)) && grep -q '^closed 1001 ' "$clog"; then
        pass "$ex ctrl-c: the connected client receives Close 1001"
    else
        fail "$ex ctrl-c: the connected client receives Close 1001" \
            "client status $EXIT_STATUS, its output: $(head -c 300 "$clog")"
    fi
    wait_exit "$server" 20
    if ((EXIT_STATUS == 0)) && grep -q 'stopped$' "$log" && grep -q '^conn [0-9]*: .* 1001' "$log"; then
        pass "$ex ctrl-c: logs the connection's 1001 end, exits 0"
    else
        fail "$ex ctrl-c: logs the connection's 1001 end, exits 0" \
            "server status $EXIT_STATUS, its output: $(head -c 600 "$log")"
    fi
}
going_away echo_server $((BASE + 3))
going_away tokio_echo_server $((BASE + 4))
going_away tokio_custom_loop $((BASE + 6))

# ------------------------------------- d. the Close survives a broken peer
# A client breaks the protocol and sends 256 KiB more in the same write: the
# server must still deliver its Close 1002 and end the stream in order (no
# reset that could destroy the Close), in each of ten trials.
close_after_error() {
    local ex=$1 port=$2 log="$WORK/$1.close_after_error.log" server rc=0 out
    start_bg "$log" 60 "$EXAMPLES_DIR/$ex" "127.0.0.1:$port"
    server=$BG_PID
    if ! wait_port "$port" "$server" 20 "$log"; then
        fail "$ex close after a protocol error" "did not listen"
        return
    fi
    out=$(timeout 120 "$PY" "$ROOT/scripts/examples/close_after_error.py" "127.0.0.1:$port" 10 2>&1) || rc=$?
    if ((rc == 0)); then
        pass "$ex close after a protocol error: Close 1002 read, then an orderly end (10 trials)"
    else
        fail "$ex close after a protocol error" "$(grep -v 'orderly end$' <<<"$out" | head -c 600)"
    fi
    stop_bg "$server"
}
close_after_error echo_server $((BASE + 5))
close_after_error tokio_echo_server $((BASE + 7))
close_after_error tokio_custom_loop $((BASE + 8))

echo "$passed passed, $failed failed"
((failed == 0))
