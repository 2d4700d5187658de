#!/usr/bin/env bash
# Autobahn|Testsuite conformance run for wstate, loopback only.
#
#   scripts/autobahn.sh [options]
#
# Installs the runner under target/conformance/ (wstest 25.10.1 on pyenv's
# Python 2.7.18; kosoku 0.1.0 only if that install fails), builds the examples
# in release mode, then
#   server role: examples/echo_server on 127.0.0.1:9001, driven by the fuzzingclient
#   client role: examples/autobahn_client against the fuzzingserver on 127.0.0.1:9002
# (with --examples tokio: the tokio adapter's tokio_echo_server and
# tokio_autobahn_client from wstate-tokio/examples/ instead)
# and judges both index.json files with scripts/autobahn_verdicts.py against
# scripts/autobahn-expected.json.  Ends with a per-role count line
# (`server: N OK, N INFORMATIONAL, N NON-STRICT, N FAILED, N UNIMPLEMENTED`)
# and `N passed, N failed`; exit 0 only when every selected case ran in both
# roles and passed (OK or INFORMATIONAL, or UNIMPLEMENTED where the expectation
# file says so).
#
# Fails closed (exit 2 before anything runs): a missing, empty or invalid
# expectation file (a non-passing verdict such as FAILED or NON-STRICT in it is
# invalid); a selection of zero cases or of an unknown case id; a suite whose
# selection is not its known size (core 301, deflate-quick 385, full 517); a
# suite case with no expectation; a runner whose case list differs from
# scripts/autobahn/case-ids.txt.  After the run, a role with fewer cases in its
# report than selected fails.  Under CI (CI set, not 0/false) every option or
# variable that narrows or replaces what is tested is refused: --cases,
# --exclude, AUTOBAHN_CASES, AUTOBAHN_EXCLUDE, --role/AUTOBAHN_ROLE other than
# both, --standin, ECHO_SERVER_CMD, AUTOBAHN_CLIENT_CMD, --update-expected.
#
# Options:
#   --cases 'P ...'     case patterns to run instead of the suite's (wstest syntax:
#                       '1.*', '6.4.1', '9.*'; comma or space separated); the
#                       suite's exclusions are dropped unless --exclude is given
#   --exclude 'P ...'   case patterns to leave out
#   --suite NAME        core (default): 1.* to 10.*, no 12.*/13.*: 301 cases (~25 s per role)
#                       deflate-quick:  all but the big 12.x/13.x cases: 385 (1.5-3 min per role)
#                       full:           all 517 incl. 12.*/13.* (permessage-deflate;
#                                       ~13 min per role with wstest once deflate exists)
#                       (.ci/run picks the suite CI runs: CI_AUTOBAHN_SUITE there)
#   --full              same as --suite full
#   --role R            server, client or both (default both)
#   --runner R          auto (default: wstest, kosoku if wstest cannot be installed),
#                       wstest or kosoku
#   --standin           test the harness stand-ins (scripts/interop/standin_*.py)
#                       instead of our examples
#   --parallel          run the two roles at the same time (ports 9001 and 9002;
#                       also AUTOBAHN_PARALLEL=1); default: one after the other
#   --update-expected   write this run's verdicts into scripts/autobahn-expected.json
#                       (refused when a case fails or is missing; not under CI)
#   --all               print every case's verdict, not only the non-OK ones
#   --install-only      install the runner and exit
#   --examples SET      core (default): examples/echo_server and autobahn_client;
#                       tokio: wstate-tokio's tokio_echo_server and
#                       tokio_autobahn_client (also AUTOBAHN_EXAMPLES)
#   --release-after-message
#                       pass --release-after-message to both examples (core set
#                       only): the deflate codec is given back after every
#                       message and rebuilt from the kept history for the next
#                       (also AUTOBAHN_RELEASE_AFTER_MESSAGE=1)
# Environment: AUTOBAHN_SUITE, AUTOBAHN_ROLE, AUTOBAHN_RUNNER, AUTOBAHN_CASES,
#   AUTOBAHN_EXCLUDE, AUTOBAHN_PARALLEL, AUTOBAHN_EXAMPLES, AUTOBAHN_RELEASE_AFTER_MESSAGE, AUTOBAHN_AGENT (default wstate), AUTOBAHN_RUN_TIMEOUT (s, per role),
#   ECHO_SERVER_CMD   (command; the listen address 127.0.0.1:9001 is appended)
#   AUTOBAHN_CLIENT_CMD (command; URL ws://127.0.0.1:9002 and the agent are appended)
#   AUTOBAHN_SERVER_PORT (9001), AUTOBAHN_FUZZ_PORT (9002),
#   WSTATE_CONFORMANCE_DIR (build dir, default target/conformance), WSTEST_PYTHON2.
set -euo pipefail
SCRIPT_NAME=autobahn
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/harness.sh
. "$ROOT/scripts/lib/harness.sh"

SERVER_PORT=${AUTOBAHN_SERVER_PORT:-9001}
FUZZ_PORT=${AUTOBAHN_FUZZ_PORT:-9002}
WSTEST_VERSION=25.10.1
KOSOKU_VERSION=0.1.0
WSTEST_VENV="$BUILD_DIR/wstest-py27"
KOSOKU_VENV="$BUILD_DIR/kosoku"
REPORT_DIR="$BUILD_DIR/reports"
EXPECTED="$ROOT/scripts/autobahn-expected.json"
CASE_IDS="$ROOT/scripts/autobahn/case-ids.txt"
VERDICTS="$ROOT/scripts/autobahn_verdicts.py"

suite=${AUTOBAHN_SUITE:-core}
role=${AUTOBAHN_ROLE:-both}
runner=${AUTOBAHN_RUNNER:-auto}
agent=${AUTOBAHN_AGENT:-wstate}
cases=${AUTOBAHN_CASES-__unset__}     # set, even to '', means a custom selection
exclude=${AUTOBAHN_EXCLUDE-__unset__}
parallel=${AUTOBAHN_PARALLEL:-0}
examples=${AUTOBAHN_EXAMPLES:-core}
release_after_message=${AUTOBAHN_RELEASE_AFTER_MESSAGE:-0}
standin=0 update_expected=0 print_all=0 install_only=0
custom_selection=0
[[ "$cases" != __unset__ || "$exclude" != __unset__ ]] && custom_selection=1

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
    case "$1" in
        --cases) cases=${2?--cases needs a value}; custom_selection=1; shift 2 ;;
        --cases=*) cases=${1#*=}; custom_selection=1; shift ;;
        --exclude) exclude=${2?--exclude needs a value}; custom_selection=1; shift 2 ;;
        --exclude=*) exclude=${1#*=}; custom_selection=1; shift ;;
        --suite) suite=${2:?}; shift 2 ;;
        --suite=*) suite=${1#*=}; shift ;;
        --full) suite=full; shift ;;
        --role) role=${2:?}; shift 2 ;;
        --role=*) role=${1#*=}; shift ;;
        --runner) runner=${2:?}; shift 2 ;;
        --runner=*) runner=${1#*=}; shift ;;
        --standin) standin=1; shift ;;
        --parallel) parallel=1; shift ;;
        --update-expected) update_expected=1; shift ;;
        --all) print_all=1; shift ;;
        --install-only) install_only=1; shift ;;
        --examples) examples=${2:?}; shift 2 ;;
        --examples=*) examples=${1#*=}; shift ;;
        --release-after-message) release_after_message=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

case "$examples" in
    core)  server_example=echo_server; client_example=autobahn_client ;;
    tokio) server_example=tokio_echo_server; client_example=tokio_autobahn_client ;;
    *) die "unknown example set '$examples' (core, tokio)" ;;
esac
case "$release_after_message" in
    0|"") release_flag='' ;;
    1) [[ "$examples" == core ]] \
           || die "--release-after-message is an option of the core examples only (--examples core)"
       release_flag=' --release-after-message' ;;
    *) die "AUTOBAHN_RELEASE_AFTER_MESSAGE must be 0 or 1, not '$release_after_message'" ;;
esac

# suite_count: how many cases the suite has (checked against the runner's case list)
case "$suite" in
    core)          suite_cases='*'; suite_exclude='12.* 13.*'; suite_count=301; run_timeout=420 ;;
    deflate-quick) suite_cases='*'
                   suite_exclude='12.*.8 12.*.9 12.*.1[0-8] 13.*.8 13.*.9 13.*.1[0-8]'
                   suite_count=385; run_timeout=900 ;;
    full)          suite_cases='*'; suite_exclude=''; suite_count=517; run_timeout=2400 ;;
    *) die "unknown suite '$suite' (core, deflate-quick, full)" ;;
esac

# ---------------------------------------------------------------- fail-closed checks
if in_ci; then
    refused=()
    ((custom_selection)) && refused+=("a case selection (--cases/--exclude/AUTOBAHN_CASES/AUTOBAHN_EXCLUDE)")
    [[ "$role" != both ]] && refused+=("--role/AUTOBAHN_ROLE=$role (CI runs both roles)")
    ((standin)) && refused+=("--standin")
    [[ -n "${ECHO_SERVER_CMD:-}" ]] && refused+=("ECHO_SERVER_CMD")
    [[ -n "${AUTOBAHN_CLIENT_CMD:-}" ]] && refused+=("AUTOBAHN_CLIENT_CMD")
    ((update_expected)) && refused+=("--update-expected")
    if ((${#refused[@]})); then
        for r in "${refused[@]}"; do log "error: refused under CI=$CI: $r"; done
        die "CI runs the whole '$suite' suite against our own examples; unset the above"
    fi
fi
if ((custom_selection)); then
    # --cases replaces the suite's cases and drops its exclusions; --exclude
    # alone replaces the exclusions.  An empty --cases selects nothing (and fails).
    if [[ "$cases" == __unset__ ]]; then cases=$suite_cases; fi
    if [[ "$exclude" == __unset__ ]]; then exclude=''; fi
    expect_count=()
else
    cases=$suite_cases exclude=$suite_exclude
    expect_count=(--expect-count "$suite_count")
fi
roles_judged=()
[[ "$role" != client ]] && roles_judged+=(server)
[[ "$role" != server ]] && roles_judged+=(client)
# A named suite must have an expectation for every case in each role run; a
# custom selection is judged by the rule alone (OK/INFORMATIONAL pass).
require_listed=()
((custom_selection)) || require_listed=(--require-listed "$(IFS=,; echo "${roles_judged[*]}")")
# check_selection: the expected file is valid and the selection is not empty.
check_selection() {
    local out rc=0
    local upd=()
    ((update_expected)) && upd=(--update-expected)
    out=$(python3 "$VERDICTS" --check-selection --expected "$EXPECTED" --case-ids "$CASE_IDS" \
        --cases "$cases" --exclude "$exclude" "${expect_count[@]+"${expect_count[@]}"}" \
        "${require_listed[@]+"${require_listed[@]}"}" "${upd[@]+"${upd[@]}"}" 2>&1) || rc=$?
    if ((rc)); then
        printf '%s\n' "$out" >&2
        die "not running Autobahn: fix the expectation file or the case selection (see above)"
    fi
    log "$out"
}
check_selection
run_timeout=${AUTOBAHN_RUN_TIMEOUT:-$run_timeout}
case "$role" in server|client|both) ;; *) die "--role must be server, client or both" ;; esac
case "$parallel" in 0|1) ;; *) die "AUTOBAHN_PARALLEL must be 0 or 1" ;; esac
case "$runner" in auto|wstest|kosoku) ;; *) die "--runner must be auto, wstest or kosoku" ;; esac

mkdir -p "$BUILD_DIR"
cd "$ROOT"   # relative paths in *_CMD are taken from the repository root

# ---------------------------------------------------------------- runner install
python2_for_wstest() {
    local root
    if [[ -n "${WSTEST_PYTHON2:-}" ]]; then echo "$WSTEST_PYTHON2"; return; fi
    root=${PYENV_ROOT:-}
    [[ -z "$root" ]] && command -v pyenv >/dev/null 2>&1 && root=$(pyenv root 2>/dev/null || true)
    [[ -z "$root" ]] && root="$HOME/.pyenv"
    if [[ -x "$root/versions/2.7.18/bin/python2.7" ]]; then
        echo "$root/versions/2.7.18/bin/python2.7"
    elif command -v python2.7 >/dev/null 2>&1; then
        command -v python2.7
    else
        return 1
    fi
}

install_wstest() {
    local stamp="$WSTEST_VENV/.harness-stamp" py2 tool="$BUILD_DIR/virtualenv-tool"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "autobahntestsuite==$WSTEST_VERSION" ]] \
        && "$WSTEST_VENV/bin/python" -c 'import autobahntestsuite' 2>/dev/null; then
        return 0
    fi
    py2=$(python2_for_wstest) || { log "no Python 2.7 for wstest (pyenv 2.7.18 expected)"; return 1; }
    log "installing wstest (autobahntestsuite==$WSTEST_VERSION on $py2) into $WSTEST_VENV"
    rm -rf "$WSTEST_VENV" "$tool"
    timeout 300 python3 -m pip install -q --target "$tool" 'virtualenv<20.22' </dev/null || return 1
    PYTHONPATH="$tool" timeout 300 python3 -m virtualenv -q -p "$py2" "$WSTEST_VENV" </dev/null || return 1
    PYTHONWARNINGS=ignore timeout 600 "$WSTEST_VENV/bin/pip" install -q --no-python-version-warning \
        "autobahntestsuite==$WSTEST_VERSION" </dev/null || return 1
    "$WSTEST_VENV/bin/python" -c 'import autobahntestsuite' || return 1
    echo "autobahntestsuite==$WSTEST_VERSION" >"$stamp"
}

install_kosoku() {
    local stamp="$KOSOKU_VENV/.harness-stamp"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "kosoku==$KOSOKU_VERSION" && -x "$KOSOKU_VENV/bin/kosoku" ]]; then
        return 0
    fi
    log "installing kosoku==$KOSOKU_VERSION into $KOSOKU_VENV"
    rm -rf "$KOSOKU_VENV"
    timeout 300 python3 -m venv "$KOSOKU_VENV" </dev/null || return 1
    timeout 600 "$KOSOKU_VENV/bin/pip" install -q "kosoku==$KOSOKU_VERSION" </dev/null || return 1
    echo "kosoku==$KOSOKU_VERSION" >"$stamp"
}

case "$runner" in
    wstest) install_wstest || die "wstest install failed" ;;
    kosoku) install_kosoku || die "kosoku install failed" ;;
    auto)
        if install_wstest; then
            runner=wstest
        else
            log "wstest install failed; falling back to kosoku"
            install_kosoku || die "kosoku install failed too"
            runner=kosoku
        fi ;;
esac
# selection_size [EXTRA_EXCLUDE]: how many cases the selection (minus EXTRA_EXCLUDE) has; 0 if none.
selection_size() {
    python3 "$VERDICTS" --check-selection --expected "$EXPECTED" --case-ids "$CASE_IDS" \
        --cases "$cases" --exclude "$exclude ${1:-}" 2>/dev/null \
        | sed -n 's/^selection: \([0-9]*\) .*/\1/p' | grep . || echo 0
}
KOSOKU_BROKEN='13.2.1 13.2.2 13.2.3 13.5.1 13.5.2 13.5.3 13.6.1 13.6.2 13.6.3 13.7.1 13.7.2 13.7.3'
if [[ "$runner" == kosoku && "$(selection_size)" != "$(selection_size "$KOSOKU_BROKEN")" ]]; then
    log "warning: kosoku $KOSOKU_VERSION ends $KOSOKU_BROKEN in ERROR whatever the peer does: they will fail; run 13.x with wstest"
fi
# The verdict script resolves selections against the committed case list: it
# must be the runner's own (kosoku has no list command; its report is checked
# for completeness after the run instead).
if [[ "$runner" == wstest ]]; then
    PYTHONWARNINGS=ignore "$WSTEST_VENV/bin/python" "$ROOT/scripts/autobahn/wstest_case_ids.py" \
        </dev/null >"$BUILD_DIR/case-ids.runner.txt" || die "could not list wstest's cases"
    if ! diff <(grep -v '^#' "$CASE_IDS") "$BUILD_DIR/case-ids.runner.txt" >/dev/null; then
        die "wstest's case list ($(wc -l <"$BUILD_DIR/case-ids.runner.txt") cases) differs from $CASE_IDS; regenerate it with scripts/autobahn/wstest_case_ids.py"
    fi
fi
log "runner: $runner; cases: '$cases'; excluded: '${exclude:-none}'; per-role timeout ${run_timeout}s; roles: ${roles_judged[*]}$( ((parallel)) && echo ' (in parallel)')${release_flag:+; examples run with$release_flag}"
if ((install_only)); then
    ((standin)) && ensure_py3_venv
    log "install done"
    exit 0
fi

# ---------------------------------------------------------------- commands under test
if ((standin)); then
    ensure_py3_venv
    : "${ECHO_SERVER_CMD:=$PY3_VENV/bin/python $ROOT/scripts/interop/standin_echo_server.py}"
    : "${AUTOBAHN_CLIENT_CMD:=$PY3_VENV/bin/python $ROOT/scripts/interop/standin_autobahn_client.py}"
fi
need_build=0
if [[ "$role" != client && -z "${ECHO_SERVER_CMD:-}" ]]; then need_build=1; fi
if [[ "$role" != server && -z "${AUTOBAHN_CLIENT_CMD:-}" ]]; then need_build=1; fi
if ((need_build)); then
    build_examples
    if [[ "$role" != client && -z "${ECHO_SERVER_CMD:-}" ]]; then need_binary "$EXAMPLES_DIR/$server_example"; fi
    if [[ "$role" != server && -z "${AUTOBAHN_CLIENT_CMD:-}" ]]; then need_binary "$EXAMPLES_DIR/$client_example"; fi
fi
ECHO_SERVER_CMD=${ECHO_SERVER_CMD:-$EXAMPLES_DIR/$server_example$release_flag}
AUTOBAHN_CLIENT_CMD=${AUTOBAHN_CLIENT_CMD:-$EXAMPLES_DIR/$client_example$release_flag}

# ---------------------------------------------------------------- helpers
# write_spec FILE KIND: wstest spec for fuzzingclient/fuzzingserver.
write_spec() {
    python3 - "$1" "$2" "$cases" "$exclude" "$agent" "$SERVER_PORT" "$FUZZ_PORT" "$REPORT_DIR" <<'PY'
import json, re, sys
path, kind, cases, exclude, agent, sport, fport, reports = sys.argv[1:]
split = lambda s: [p for p in re.split(r"[,\s]+", s) if p]
spec = {"cases": split(cases), "exclude-cases": split(exclude), "exclude-agent-cases": {}}
if kind == "fuzzingclient":
    spec["outdir"] = reports + "/servers"
    spec["servers"] = [{"agent": agent, "url": "ws://127.0.0.1:%s" % sport}]
else:
    spec["outdir"] = reports + "/clients"
    spec["url"] = "ws://127.0.0.1:%s" % fport
with open(path, "w") as fh:
    json.dump(spec, fh, indent=1)
PY
}

kosoku_selection() {
    local p
    KOSOKU_ARGS=()
    for p in ${cases//,/ }; do [[ "$p" == '*' ]] || KOSOKU_ARGS+=(-i "$p"); done
    for p in ${exclude//,/ }; do KOSOKU_ARGS+=(-x "$p"); done
}

mkdir -p "$REPORT_DIR"
rm -f "$REPORT_DIR"/failures.*
set -f  # the case patterns contain '*': no globbing from here on

# role_fail ROLE TEXT: a failure outside the per-case verdicts (crash, time-out).
# Kept in a file so that a role run in a subshell (--parallel) can report it.
role_fail() { printf '%s role: %s\n' "$1" "$2" >>"$REPORT_DIR/failures.$1"; log "$1 role: FAIL: $2"; }

# run_bg_wait LOG SECONDS CMD...: run a command under a hard time limit like
# start_bg (so the exit trap stops it), wait for it; RUN_RC is its status.
run_bg_wait() {
    RUN_RC=0
    start_bg "$@"
    wait "$BG_PID" || RUN_RC=$?
}

# ---------------------------------------------------------------- server role
run_server_role() {
    local out="$REPORT_DIR/servers" slog="$REPORT_DIR/echo_server.log" rlog="$REPORT_DIR/fuzzingclient.log" rc=0
    rm -rf "$out"
    require_free_port "$SERVER_PORT"
    log "server role: starting: $ECHO_SERVER_CMD 127.0.0.1:$SERVER_PORT"
    # shellcheck disable=SC2086  # the *_CMD variables are word-split on purpose
    start_bg "$slog" $((run_timeout + 120)) $ECHO_SERVER_CMD "127.0.0.1:$SERVER_PORT"
    local spid=$BG_PID
    if ! wait_port "$SERVER_PORT" "$spid" 60 "$slog"; then
        role_fail server "echo_server did not start (log: $slog)"
        stop_bg "$spid"
        return
    fi
    log "server role: running the fuzzingclient ($runner), log $rlog"
    if [[ "$runner" == wstest ]]; then
        write_spec "$BUILD_DIR/fuzzingclient.json" fuzzingclient
        run_bg_wait "$rlog" "$run_timeout" env PYTHONWARNINGS=ignore "$WSTEST_VENV/bin/python" \
            "$ROOT/scripts/autobahn/wstest_local.py" -m fuzzingclient -s "$BUILD_DIR/fuzzingclient.json"
        rc=$RUN_RC
    else
        kosoku_selection
        run_bg_wait "$rlog" "$run_timeout" "$KOSOKU_VENV/bin/kosoku" -m fuzzingclient "127.0.0.1:$SERVER_PORT" \
            "${KOSOKU_ARGS[@]+"${KOSOKU_ARGS[@]}"}" -o "$out"
        rc=$RUN_RC
        # kosoku exits 1 when a case fails; the verdict script judges that
        ((rc == 1)) && rc=0
    fi
    if ((rc == 124 || rc == 137)); then
        role_fail server "the fuzzingclient timed out after ${run_timeout}s (log: $rlog)"
    elif ((rc != 0)); then
        role_fail server "the fuzzingclient exited with $rc (log: $rlog)"
    fi
    if ! kill -0 "$spid" 2>/dev/null; then
        role_fail server "echo_server exited during the run (log: $slog)"
    fi
    stop_bg "$spid"
    log "server role: done after ${SECONDS}s"
}

# ---------------------------------------------------------------- client role
run_client_role() {
    local out="$REPORT_DIR/clients" flog="$REPORT_DIR/fuzzingserver.log" clog="$REPORT_DIR/autobahn_client.log" rc=0
    rm -rf "$out"
    require_free_port "$FUZZ_PORT"
    log "client role: starting the fuzzingserver ($runner) on 127.0.0.1:$FUZZ_PORT, log $flog"
    if [[ "$runner" == wstest ]]; then
        write_spec "$BUILD_DIR/fuzzingserver.json" fuzzingserver
        start_bg "$flog" $((run_timeout + 120)) env PYTHONWARNINGS=ignore "$WSTEST_VENV/bin/python" \
            "$ROOT/scripts/autobahn/wstest_local.py" -m fuzzingserver -s "$BUILD_DIR/fuzzingserver.json" -u 0
    else
        kosoku_selection
        start_bg "$flog" $((run_timeout + 120)) "$KOSOKU_VENV/bin/kosoku" -m fuzzingserver \
            "127.0.0.1:$FUZZ_PORT" "${KOSOKU_ARGS[@]+"${KOSOKU_ARGS[@]}"}" -o "$out"
    fi
    local fpid=$BG_PID
    if ! wait_port "$FUZZ_PORT" "$fpid" 60 "$flog"; then
        role_fail client "the fuzzingserver did not start (log: $flog)"
        stop_bg "$fpid"
        return
    fi
    log "client role: running: $AUTOBAHN_CLIENT_CMD ws://127.0.0.1:$FUZZ_PORT $agent"
    # shellcheck disable=SC2086
    run_bg_wait "$clog" "$run_timeout" $AUTOBAHN_CLIENT_CMD "ws://127.0.0.1:$FUZZ_PORT" "$agent"
    rc=$RUN_RC
    if ((rc == 124 || rc == 137)); then
        role_fail client "autobahn_client timed out after ${run_timeout}s (log: $clog)"
    elif ((rc != 0)); then
        role_fail client "autobahn_client exited with $rc (log: $clog)"
    fi
    # The report is written when the client calls /updateReports; allow it a moment.
    local tries=100
    ((rc == 0)) || tries=10
    for _ in $(seq 1 "$tries"); do
        [[ -s "$out/index.json" ]] && break
        kill -0 "$fpid" 2>/dev/null || break
        sleep 0.2
    done
    sleep 0.5
    stop_bg "$fpid"
    log "client role: done after ${SECONDS}s"
}

reports=()
[[ "$role" != client ]] && reports+=("server=$REPORT_DIR/servers")
[[ "$role" != server ]] && reports+=("client=$REPORT_DIR/clients")
if ((parallel)) && [[ "$role" == both ]]; then
    # The server role in a subshell with its own cleanup; the parent's exit
    # trap TERMs the subshell, whose trap stops what it started.
    (
        BG_PIDS=() EXTRA_CLEANUP=()
        trap cleanup_all EXIT
        trap 'exit 143' TERM
        trap 'exit 130' INT
        run_server_role
    ) &
    server_sub=$!
    BG_PIDS+=("$server_sub")
    run_client_role
    server_rc=0
    wait "$server_sub" || server_rc=$?
    ((server_rc == 0)) || role_fail server "the server-role runner exited with status $server_rc"
else
    if [[ "$role" != client ]]; then run_server_role; fi
    if [[ "$role" != server ]]; then run_client_role; fi
fi

# ---------------------------------------------------------------- verdicts
extra_failures=()
for f in "$REPORT_DIR"/failures.server "$REPORT_DIR"/failures.client; do
    [[ -f "$f" ]] || continue
    while IFS= read -r line; do extra_failures+=("$line"); done <"$f"
done
verdict_args=(--expected "$EXPECTED" --case-ids "$CASE_IDS" --cases "$cases" --exclude "$exclude"
              --table "$REPORT_DIR/verdicts.tsv"
              "${expect_count[@]+"${expect_count[@]}"}" "${require_listed[@]+"${require_listed[@]}"}")
# wstest names the agent as we ask; kosoku uses its own name for the server role
[[ "$runner" == wstest ]] && verdict_args+=(--agent "$agent")
((print_all)) && verdict_args+=(--all)
if ((update_expected)); then
    if ((${#extra_failures[@]})); then
        printf 'FAIL: %s\n' "${extra_failures[@]}"
        die "not updating $EXPECTED after a broken run"
    fi
    exec python3 "$VERDICTS" "${verdict_args[@]}" --update-expected "${reports[@]}"
fi
for f in "${extra_failures[@]+"${extra_failures[@]}"}"; do verdict_args+=(--extra-failure "$f"); done
log "reports in $REPORT_DIR (per-case table: $REPORT_DIR/verdicts.tsv); took ${SECONDS}s"
rc=0
python3 "$VERDICTS" "${verdict_args[@]}" "${reports[@]}" || rc=$?
((rc == 0 || rc == 2)) || rc=1
if ((rc)); then
    log "FAILED (exit $rc): see the FAIL lines above; if a case now passes on purpose, refresh the"
    log "baseline with scripts/autobahn.sh --update-expected (refused for failing cases)"
fi
exit "$rc"
