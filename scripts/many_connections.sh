#!/usr/bin/env bash
# Many idle connections to tokio_echo_server, loopback only.
#
#   scripts/many_connections.sh [-n N] [--deflate] [--no-compare] [-c C] [--max-bytes B]
#
# Raises the soft open-files limit to the hard limit, starts
# wstate-tokio/examples/tokio_echo_server (cargo build --release -p wstate-tokio --example
# tokio_echo_server) on 127.0.0.1:9041 and opens N idle WebSocket
# connections to it from another process (scripts/many/client.py: stdlib
# Python asyncio, raw sockets, the upgrade written by hand, at most C = 128
# connects+upgrades in flight), echoes one 16-byte text on each, and reports
# the server's VmRSS per connection, (RSS with N open - RSS with 0) / N,
# after the handshakes and after the echo, and the time to accept them all
# (first connect to last `101` read, as seen by the client).  N defaults to
# the hard limit minus 100 (19,900 with a hard limit of 20,000), at least
# 10,000 by default; -n takes 10..the limit.
#
# For comparison (unless --no-compare) the same client in raw mode against
# scripts/many/tcp_echo (tokio, one task per connection, no WebSocket): with a
# 64 KiB read buffer per thread, as our example has, and with an 8 KiB read
# buffer per connection.  --deflate adds a row for tokio_echo_server built
# with --features deflate (the client offers no extension, so none is
# negotiated).  Each row is a fresh server process.  Prints a Markdown table
# and writes it with the JSON lines to target/conformance/many/.
#
# --max-bytes B (or MANY_MAX_BYTES): a gate, failing when a tokio_echo_server
# row costs more than B bytes per connection after the echo (e.g. 2048).
#
# Variables: MANY_PORT (9041), MANY_SERVER_CMD (measure this command instead
# of the example; it gets the address as its last argument), MANY_SERVER_MODE
# (ws, or raw for a plain TCP echo such as the comparison's), MANY_SETTLE
# (seconds before each RSS reading, 2).  RSS is robust to load; the accept
# and echo times are not (the machine may be shared).  About 1-2 minutes
# after the builds.
set -euo pipefail
SCRIPT_NAME=many_connections
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/harness.sh
. "$ROOT/scripts/lib/harness.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
N= deflate=0 compare=1 CONC=128
MAX_BYTES=${MANY_MAX_BYTES:-}
PORT=${MANY_PORT:-9041}
SETTLE=${MANY_SETTLE:-2}
while (($#)); do
    case "$1" in
        -n) N=${2:?-n needs a number}; shift 2 ;;
        -c) CONC=${2:?-c needs a number}; shift 2 ;;
        --deflate) deflate=1; shift ;;
        --no-compare) compare=0; shift ;;
        --max-bytes) MAX_BYTES=${2:?--max-bytes needs a number}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

# Both processes hold N sockets plus a few: raise the soft limit to the hard
# one (children inherit it).
hard=$(ulimit -Hn)
[[ "$hard" == unlimited ]] && hard=1048576
ulimit -n "$hard" || die "cannot raise ulimit -n to $hard"
max=$((hard - 100))
# One local port per connection (all to the same address).
read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
((max > hi - lo - 500)) && max=$((hi - lo - 500))
if [[ -z "$N" ]]; then
    N=$max
    ((N >= 10000)) || die "the open-files hard limit ($hard) allows only $N connections; at least 10000 are the point (-n for fewer)"
fi
[[ "$N" =~ ^[0-9]+$ ]] && ((N >= 10 && N <= max)) || die "-n must be 10..$max (hard limit $hard)"
[[ "$CONC" =~ ^[0-9]+$ ]] && ((CONC >= 1)) || die "-c must be a positive number"
command -v python3 >/dev/null || die "python3 is needed"
export PYTHONDONTWRITEBYTECODE=1

WORK="$BUILD_DIR/many"
BIN="$WORK/bin"
mkdir -p "$WORK" "$BIN"
cd "$ROOT"

build() {   # build LABEL CARGO_ARGS... (bounded)
    local label=$1
    shift
    log "building $label: cargo build --release $*"
    timeout "${CARGO_BUILD_TIMEOUT:-900}" cargo build --release --quiet "$@" </dev/null \
        || die "cargo build of $label failed"
}
if [[ -z "${MANY_SERVER_CMD:-}" ]]; then
    build tokio_echo_server -p wstate-tokio --example tokio_echo_server
    cp "$EXAMPLES_DIR/tokio_echo_server" "$BIN/tokio_echo_server-plain"
    if ((deflate)); then
        build "tokio_echo_server (deflate)" -p wstate-tokio --example tokio_echo_server --features deflate
        cp "$EXAMPLES_DIR/tokio_echo_server" "$BIN/tokio_echo_server-deflate"
    fi
fi
if ((compare)); then
    CARGO_TARGET_DIR="$TARGET_DIR/many" build many-tcp-echo \
        --manifest-path "$ROOT/scripts/many/tcp_echo/Cargo.toml"
    cp "$TARGET_DIR/many/release/many-tcp-echo" "$BIN/"
fi

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
# measure LABEL MODE CMD... : a fresh server (the address appended), one client run.
measure() {
    local label=$1 mode=$2 pid out server
    shift 2
    require_free_port "$PORT"
    start_bg "$WORK/$label.log" 600 "$@" "127.0.0.1:$PORT"
    server=$BG_PID
    if ! wait_port "$PORT" "$server" 60 "$WORK/$label.log" || ! pid=$(server_pid "$server"); then
        log "FAIL $label: the server did not start"
        failed=$((failed + 1))
        stop_bg "$server"
        return 0
    fi
    log "$label: $N connections (server pid $pid, ulimit -n $(ulimit -n))"
    # In the background and waited for, so that a signal stops the run at
    # once (bash runs traps only between foreground commands).
    local cpid rc=0
    start_bg "$WORK/$label.client" 300 python3 "$ROOT/scripts/many/client.py" "$PORT" "$pid" "$N" \
        --mode "$mode" --concurrency "$CONC" --settle "$SETTLE"
    cpid=$BG_PID
    wait "$cpid" || rc=$?
    out=$(grep '^{' "$WORK/$label.client" | tail -n 1 || true)
    if ((rc == 0)) && [[ "$out" == *'"per_conn_b"'* ]]; then
        python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["server"]=sys.argv[2]; print(json.dumps(d))' \
            "$out" "$label" | tee -a "$RAW"
    else
        log "FAIL $label: ${out:-the client failed (exit $rc)} (server log: $WORK/$label.log, client: $WORK/$label.client)"
        tail -n 5 "$WORK/$label.log" >&2 || true
        failed=$((failed + 1))
    fi
    stop_bg "$server"
}

if [[ -n "${MANY_SERVER_CMD:-}" ]]; then
    # shellcheck disable=SC2086  # a command line, split on purpose
    measure custom "${MANY_SERVER_MODE:-ws}" $MANY_SERVER_CMD
else
    measure tokio_echo_server ws "$BIN/tokio_echo_server-plain"
    ((deflate)) && measure "tokio_echo_server (deflate)" ws "$BIN/tokio_echo_server-deflate"
fi
if ((compare)); then
    measure "tcp echo, buffer per thread" raw "$BIN/many-tcp-echo"
    measure "tcp echo, 8 KiB buffer per connection" raw "$BIN/many-tcp-echo" --buf 8192
fi

python3 - "$RAW" "$(cat /proc/loadavg)" <<'PYEOF' | tee "$WORK/results.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("load average at the end: %s (timings depend on it, RSS does not)\n"
      % " ".join(sys.argv[2].split()[:3]))
print("| server | N | RSS 0 (KiB) | RSS N, after the handshakes (KiB) | RSS N, after one echo each (KiB) "
      "| per conn, handshakes (B) | **per conn, after the echo (B)** | accept all (s) | conns/s | echo all (s) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for r in rows:
    print("| %s | %s | %s | %s | %s | %s | **%s** | %.2f | %s | %.2f |" % (
        r["server"], format(r["n"], ","), format(r["rss0_kib"], ","),
        format(r["rss_open_kib"], ","), format(r["rss_n_kib"], ","),
        format(r["per_conn_open_b"], ","), format(r["per_conn_b"], ","),
        r["accept_s"], format(r["accept_per_s"], ","), r["echo_s"]))
PYEOF
runs=$((1 + deflate + 2 * compare))
[[ -n "${MANY_SERVER_CMD:-}" ]] && runs=$((1 + 2 * compare))
if [[ -n "$MAX_BYTES" ]]; then
    [[ "$MAX_BYTES" =~ ^[0-9]+$ ]] || die "--max-bytes must be a number of bytes"
    runs=$((runs + 1))
    over=$(python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ours = [r for r in rows if not r["server"].startswith("tcp echo")]
print(" ".join("%s=%s" % (r["server"].replace(" ", "_"), r["per_conn_b"]) for r in ours if r["per_conn_b"] > int(sys.argv[2])) or ("-" if ours else "none measured"))
' "$RAW" "$MAX_BYTES")
    if [[ "$over" == - ]]; then
        log "PASS every measured server within $MAX_BYTES B per connection"
    else
        log "FAIL over $MAX_BYTES B per connection: $over"
        failed=$((failed + 1))
    fi
fi
log "$((runs - failed)) passed, $failed failed"
((failed == 0))
