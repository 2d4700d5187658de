#!/usr/bin/env bash
# Memory per idle connection with permessage-deflate, loopback only.
#
#   scripts/deflate_memory.sh [-n N] [-m BYTES] [--quick] [--wstate-only] [--bin-dir DIR]
#                             [--server CMD] [--plain-server CMD] [--gate BYTES]
#
# Opens N (default 500, at most 2000) idle connections, each after one
# message each way (a JSON-like text of BYTES, default 2048; -m 65536 fills
# more of the compressors' buffers), to one server at a time, and
# reads the server process's VmRSS: (RSS with N open - RSS with 0 open) / N,
# and the slope over the second N/2 (which leaves out one-time costs).  A
# warm-up of 10 connections (opened, used, closed) comes before the 0 figure.
# Every run uses a fresh server process on 127.0.0.1:9021 (freed memory kept
# by the allocator would hide the next run's growth).  Servers:
#   wstate-deflate    wstate-tokio/examples/tokio_echo_server built with --features deflate
#                     (DeflateConfig::enabled(): level 1, window 15, context
#                     takeover unless the client asks otherwise)
#   wstate-plain      the same example without the feature (deflate declined)
#   websockets        Python websockets, its default compression="deflate"
#                     (server/client_max_window_bits=12, memLevel 5)
#   websockets-off    compression=None
#   ws                node ws, perMessageDeflate: true (its defaults)
#   ws-off            ws's server default: no permessage-deflate
# The client (scripts/interop/pmd_mem_client.py: Python websockets in one
# process, measured separately from the server) makes one of three offers:
#   default  `permessage-deflate; client_max_window_bits` (browsers, ws, websockets)
#   w9       server_max_window_bits=9; client_max_window_bits=9
#   nct      server_no_context_takeover; client_no_context_takeover
# (a server honours these, so our example runs in those modes without a flag).
# --quick: only the `default` offer.  --bin-dir DIR: use DIR/tokio_echo_server-
# deflate and DIR/tokio_echo_server-plain instead of building them (e.g. built
# from a clean checkout while the work tree is being edited).  --server CMD
# (or DEFLATE_MEMORY_SERVER): any server command for the wstate-deflate rows
# (word-split; the listen address is appended), e.g. benches'
# `wstate_deflate_echo --release after-message`; --plain-server CMD (or
# DEFLATE_MEMORY_PLAIN_SERVER) likewise for wstate-plain.  With both, nothing
# is built.  --wstate-only: leave out the node ws and websockets rows.
# --gate BYTES: exit 1 when the permessage-deflate state per idle connection
# with the default offer (wstate-deflate's per-connection figure minus
# wstate-plain's: the same server without deflate) is over BYTES.  Prints a
# Markdown table and writes it with the raw JSON lines to
# target/conformance/deflate-memory/.  About 3 minutes (12 runs at N=500).
set -euo pipefail
SCRIPT_NAME=deflate_memory
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/harness.sh
. "$ROOT/scripts/lib/harness.sh"

N=500 quick=0 bin_dir= MSG=2048 gate= wstate_only=0
SERVER_CMD=${DEFLATE_MEMORY_SERVER:-}
PLAIN_CMD=${DEFLATE_MEMORY_PLAIN_SERVER:-}
PORT=${DEFLATE_MEMORY_PORT:-9021}
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
    case "$1" in
        -n) N=${2:?-n needs a number}; shift 2 ;;
        -m) MSG=${2:?-m needs a number}; shift 2 ;;
        --quick) quick=1; shift ;;
        --bin-dir) bin_dir=${2:?--bin-dir needs a directory}; shift 2 ;;
        --server) SERVER_CMD=${2:?--server needs a command}; shift 2 ;;
        --plain-server) PLAIN_CMD=${2:?--plain-server needs a command}; shift 2 ;;
        --gate) gate=${2:?--gate needs a number of bytes}; shift 2 ;;
        --wstate-only) wstate_only=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ "$N" =~ ^[0-9]+$ ]] && ((N >= 2 && N <= 2000)) || die "-n must be 2..2000"
[[ "$MSG" =~ ^[0-9]+$ ]] && ((MSG >= 1 && MSG <= 1048576)) || die "-m must be 1..1048576"
[[ -z "$gate" || "$gate" =~ ^[0-9]+$ ]] || die "--gate must be a number of bytes"
WORK="$BUILD_DIR/deflate-memory"
BIN="$WORK/bin"
mkdir -p "$WORK" "$BIN"
cd "$ROOT"

# Each connection is a socket in the client and one in the server.
need_fds=$((N + 200))
if (($(ulimit -n) < need_fds)); then
    ulimit -n "$need_fds" 2>/dev/null || die "need $need_fds open files (ulimit -n is $(ulimit -n))"
fi

# Peers: the interop script's installs (Python websockets venv, node ws).  CI
# is cleared for this call only: interop.sh refuses --skip-browser under CI,
# and no browser is needed here (nothing is checked by that call).
CI= "$ROOT/scripts/interop.sh" --install-only --skip-browser
PY="$PY3_VENV/bin/python"
export NODE_PATH="$BUILD_DIR/node/node_modules"

build() {   # build FEATURES_ARGS... ; copies the example to $BIN/tokio_echo_server-$label
    local label=$1
    shift
    log "building tokio_echo_server ($label): cargo build --release -p wstate-tokio --example tokio_echo_server $*"
    timeout "${CARGO_BUILD_TIMEOUT:-900}" cargo build --release -p wstate-tokio --example tokio_echo_server --quiet "$@" </dev/null \
        || die "cargo build of tokio_echo_server ($label) failed"
    cp "$EXAMPLES_DIR/tokio_echo_server" "$BIN/tokio_echo_server-$label"
}
if [[ -n "$SERVER_CMD" && -n "$PLAIN_CMD" ]]; then
    log "servers given: wstate-deflate: $SERVER_CMD; wstate-plain: $PLAIN_CMD"
elif [[ -n "$bin_dir" ]]; then
    for v in plain deflate; do
        [[ -x "$bin_dir/tokio_echo_server-$v" ]] || die "$bin_dir/tokio_echo_server-$v missing"
        cp "$bin_dir/tokio_echo_server-$v" "$BIN/"
    done
else
    [[ -n "$PLAIN_CMD" ]] || build plain
    [[ -n "$SERVER_CMD" ]] || build deflate --features deflate
fi
: "${SERVER_CMD:=$BIN/tokio_echo_server-deflate}"
: "${PLAIN_CMD:=$BIN/tokio_echo_server-plain}"

# server_pid WRAPPER_PID: the process `timeout` started (start_bg runs setsid timeout CMD).
server_pid() {
    local child
    child=$(ps -o pid= --ppid "$1" | head -n 1 | tr -d ' ')
    [[ -n "$child" ]] || return 1
    echo "$child"
}

RAW="$WORK/results.jsonl"
: >"$RAW"
failed=0
# measure LABEL OFFER CMD... : one fresh server, one client run; _ADDR_ in
# CMD is replaced by the listen address (appended if absent).
measure() {
    local label=$1 offer=$2 pid out arg cmd=() placed=0
    shift 2
    for arg in "$@"; do
        if [[ "$arg" == _ADDR_ ]]; then cmd+=("127.0.0.1:$PORT"); placed=1; else cmd+=("$arg"); fi
    done
    ((placed)) || cmd+=("127.0.0.1:$PORT")
    require_free_port "$PORT"
    start_bg "$WORK/$label-$offer.log" 600 "${cmd[@]}"
    if ! wait_port "$PORT" "$BG_PID" 60 "$WORK/$label-$offer.log" || ! pid=$(server_pid "$BG_PID"); then
        log "FAIL $label/$offer: the server did not start"
        failed=$((failed + 1))
        stop_bg "$BG_PID"
        return 0
    fi
    log "$label, offer $offer: $N connections (server pid $pid)"
    if out=$(timeout -k 5 300 "$PY" "$ROOT/scripts/interop/pmd_mem_client.py" "ws://127.0.0.1:$PORT/" "$pid" "$N" "$offer" "$MSG" </dev/null); then
        "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); d["server"]=sys.argv[2]; print(json.dumps(d))' \
            "$out" "$label" | tee -a "$RAW"
    else
        log "FAIL $label/$offer: the client failed (log: $WORK/$label-$offer.log)"
        failed=$((failed + 1))
    fi
    stop_bg "$BG_PID"
}

offers=(default w9 nct)
((quick)) && offers=(default)
# shellcheck disable=SC2086 # the server commands are word-split on purpose
for offer in "${offers[@]}"; do
    measure wstate-deflate "$offer" $SERVER_CMD
    ((wstate_only)) && continue
    measure websockets "$offer" "$PY" "$ROOT/scripts/interop/py_echo_server.py" _ADDR_ default
    measure ws "$offer" node "$ROOT/scripts/interop/node_echo_server.js" _ADDR_ default
done
# shellcheck disable=SC2086
measure wstate-plain default $PLAIN_CMD
if ((!wstate_only)); then
    measure websockets-off default "$PY" "$ROOT/scripts/interop/py_echo_server.py" _ADDR_ off
    measure ws-off default node "$ROOT/scripts/interop/node_echo_server.js" _ADDR_ off
fi

"$PY" - "$RAW" "$N" <<'PYEOF' | tee "$WORK/results.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
if rows:
    print("%s idle connections per server, each after one %d-byte JSON-like text each way:\n"
          % (sys.argv[2], rows[0]["message_bytes"]))
print("| server | client offer | negotiated (server's answer) | RSS 0 conns (KiB) | RSS %s conns (KiB) | per conn (B) | per conn, 2nd half (B) |" % sys.argv[2])
print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
for r in rows:
    ext = ", ".join("`%s`" % e for e in r["extensions"] if e) or "(none)"
    print("| %s | %s | %s | %d | %d | %d | %d |" % (
        r["server"], r["offer"], ext, r["rss_kib"]["0"], r["rss_kib"]["n"],
        r["per_conn_bytes"], r["per_conn_bytes_second_half"]))
PYEOF
log "raw results: $RAW; table: $WORK/results.md; took ${SECONDS}s"
((failed == 0)) || { log "$failed runs failed"; exit 1; }
if [[ -n "$gate" ]]; then
    "$PY" - "$RAW" "$gate" <<'PYEOF' || exit 1
import json, sys
rows = {(r["server"], r["offer"]): r for r in (json.loads(l) for l in open(sys.argv[1]) if l.strip())}
gate = int(sys.argv[2])
ours = rows.get(("wstate-deflate", "default"))
plain = rows.get(("wstate-plain", "default"))
if ours is None or plain is None:
    sys.exit("gate: no wstate-deflate and wstate-plain figures with the default offer")
state = ours["per_conn_bytes"] - plain["per_conn_bytes"]
verdict = "ok" if state <= gate else "FAIL"
print("gate: permessage-deflate state per idle connection %d B (wstate-deflate %d B - wstate-plain %d B), limit %d B: %s"
      % (state, ours["per_conn_bytes"], plain["per_conn_bytes"], gate, verdict))
sys.exit(0 if verdict == "ok" else 1)
PYEOF
fi
