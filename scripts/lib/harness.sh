# shellcheck shell=bash
# Shared shell helpers for scripts/autobahn.sh and scripts/interop.sh.
# Source it; it defines functions and a cleanup trap, nothing runs on its own.
# Every background process goes through start_bg, which puts it in its own
# process group under a hard `timeout`, and is stopped by that group id when
# the calling script exits (normally, on error, or on INT/TERM/HUP).

: "${ROOT:?ROOT must be set before sourcing harness.sh}"
BUILD_DIR="${WSTATE_CONFORMANCE_DIR:-$ROOT/target/conformance}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
# shellcheck disable=SC2034  # used by the scripts that source this file
EXAMPLES_DIR="$TARGET_DIR/release/examples"
PY3_VENV="$BUILD_DIR/py3"
# node ws + playwright-core (scripts/interop/package.json), Debian's chromium
NODE_DIR="$BUILD_DIR/node"
CHROMIUM=/usr/bin/chromium
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONUNBUFFERED=1
export NO_COLOR=1 npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

BG_PIDS=()

# in_ci: CI is set to anything but "", "0" or "false" (CI=true on every CI service).
# Under CI the scripts refuse every variable or option that skips or narrows a check.
in_ci() { case "${CI:-}" in ""|0|false|FALSE|False) return 1 ;; *) return 0 ;; esac; }

log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${SCRIPT_NAME:-harness}" "$*" >&2; }
die() { log "error: $*"; exit 2; }

# start_bg LOGFILE MAX_SECONDS CMD... ; sets BG_PID
start_bg() {
    local logfile=$1 max=$2
    shift 2
    # Emptied here, not only by the child's redirection, which runs after
    # `&` returns: a caller polling the log must never see the last run's.
    : >"$logfile"
    setsid timeout -k 5 "$max" "$@" </dev/null >"$logfile" 2>&1 &
    BG_PID=$!
    BG_PIDS+=("$BG_PID")
}

# stop_bg PID: TERM the process group, then KILL it after 5 s.
stop_bg() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

EXTRA_CLEANUP=()
cleanup_all() {
    local pid f
    for f in "${EXTRA_CLEANUP[@]+"${EXTRA_CLEANUP[@]}"}"; do "$f" || true; done
    for pid in "${BG_PIDS[@]+"${BG_PIDS[@]}"}"; do stop_bg "$pid"; done
}
trap cleanup_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# port_open HOST PORT: something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# require_free_port PORT: refuse to run against somebody else's server.
require_free_port() {
    if port_open 127.0.0.1 "$1"; then
        die "127.0.0.1:$1 is already in use; stop whatever listens there first"
    fi
}

# wait_port PORT PID SECONDS LOGFILE: wait until the process listens.
wait_port() {
    local port=$1 pid=$2 secs=$3 logfile=$4 deadline=$((SECONDS + $3))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "process $pid exited before listening on 127.0.0.1:$port; its log:"
            tail -n 20 "$logfile" >&2 || true
            return 1
        fi
        port_open 127.0.0.1 "$port" && return 0
        sleep 0.2
    done
    log "nothing listens on 127.0.0.1:$port after ${secs}s; log of the process:"
    tail -n 20 "$logfile" >&2 || true
    return 1
}

# ensure_py3_venv: target/conformance/py3 with websockets + wsproto (peers and stand-ins).
ensure_py3_venv() {
    local req="$ROOT/scripts/interop/requirements.txt" stamp="$PY3_VENV/.harness-stamp" want
    want=$(sha256sum "$req" | cut -d' ' -f1)
    if [[ -x "$PY3_VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    log "installing Python peers into $PY3_VENV"
    rm -rf "$PY3_VENV"
    timeout 300 python3 -m venv "$PY3_VENV" </dev/null
    timeout 600 "$PY3_VENV/bin/pip" install -q -r "$req" </dev/null
    echo "$want" >"$stamp"
}

# build_examples: cargo build --release --examples of both packages, wstate
# and wstate-tokio (bounded).
build_examples() {
    # With permessage-deflate: the examples offer and accept it then.
    log "building examples (cargo build --release --examples --features deflate, -p wstate and -p wstate-tokio)"
    (cd "$ROOT" && timeout "${CARGO_BUILD_TIMEOUT:-900}" cargo build --release -p wstate -p wstate-tokio --examples --features deflate --quiet </dev/null) \
        || die "cargo build --release -p wstate -p wstate-tokio --examples --features deflate failed"
}

# need_binary PATH: the example binary exists after the build.
need_binary() {
    [[ -x "$1" ]] || die "$1 not found after the build (does examples/$(basename "$1").rs exist?)"
}

# ensure_node_peers: node ws + playwright-core under $NODE_DIR (no browser
# download: playwright drives Debian's chromium).
# ensure_chromium: /usr/bin/chromium, installed with apt-get when missing.
ensure_node_peers() {
    local pkg="$ROOT/scripts/interop/package.json" stamp="$NODE_DIR/.harness-stamp" want
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then die "node and npm are needed"; fi
    want=$(sha256sum "$pkg" | cut -d' ' -f1)
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -d "$NODE_DIR/node_modules/ws" ]]; then
        return 0
    fi
    log "installing node peers (ws, playwright-core) into $NODE_DIR"
    rm -rf "$NODE_DIR"
    mkdir -p "$NODE_DIR"
    cp "$pkg" "$NODE_DIR/package.json"
    # playwright-core downloads no browser; we use Debian's chromium
    (cd "$NODE_DIR" && timeout 600 npm install --no-audit --no-fund --no-package-lock \
        --loglevel=error </dev/null) || die "npm install failed"
    echo "$want" >"$stamp"
}

ensure_chromium() {
    [[ -x "$CHROMIUM" ]] && return 0
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || die "chromium is missing and neither root nor sudo is available"
        sudo=(sudo -n)
    fi
    log "installing Debian's chromium (apt-get)"
    timeout 600 "${sudo[@]+"${sudo[@]}"}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null \
        || die "apt-get update failed"
    timeout 900 "${sudo[@]+"${sudo[@]}"}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends chromium </dev/null >"$BUILD_DIR/apt.log" 2>&1 \
        || { tail -n 20 "$BUILD_DIR/apt.log" >&2; die "apt-get install chromium failed"; }
    [[ -x "$CHROMIUM" ]] || die "$CHROMIUM still missing after apt-get install"
}
