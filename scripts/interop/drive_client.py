#!/usr/bin/env python3
"""Drive our `client` example through its stdin/stdout protocol against one
echo server and check every output line (scripts/interop.sh, pair b).

    python3 drive_client.py [--pmd EXTENSIONS [--pmd-only]] PEER_NAME URL CMD [ARG...]

Runs `CMD ARG... URL`, feeds it one stdin line at a time and waits for the
answer before sending the next (so the echo order is deterministic), then
closes stdin and expects `closed 1000` and exit status 0.  Prints `PASS
client-vs-PEER: CHECK` / `FAIL client-vs-PEER: CHECK: WHY` lines; exit 1 if any
failed.  Standard library only.

--pmd EXTENSIONS: the server (py_echo_server.py / node_echo_server.js) is asked
what it negotiated (`wstate-interop:extensions`, check `pmd-extensions`: it
must answer EXTENSIONS; if the client prints `connected ... extensions=VALUE`,
VALUE must be EXTENSIONS too), then `pmd-KIND-SIZE` echoes JSON-like text,
random UTF-8 text and the client's `:bin N` pattern of 1, 125, 126, 65536 and
1048576 bytes (the client example cannot send arbitrary bytes, so there is no
random binary here), and `pmd-wire-json-1MiB`: the server's socket counters
(`wstate-interop:wire`) before and after the 1 MiB JSON text must show less
than half its size each way.  --pmd-only leaves out the base steps.

--idle W (with --pmd EXTENSIONS, run our client with --release-after-message):
instead of those steps, the idle-cycle sequence of payloads.py at window bits
W, a pause of payloads.IDLE_PAUSE before each message: `idle-wW-extensions`
(EXTENSIONS with each `W` replaced by W), an echo check per message (the
binary ones are the client's `:bin N` pattern) and `idle-wW-history`: the
server's socket counters around the repeats show at most
payloads.idle_history_limit(W) bytes each way.  Every check is named
`idle-wW-...`.
"""
import os
import queue
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import payloads  # noqa: E402

STEP_TIMEOUT = 20.0
EXIT_TIMEOUT = 15.0
UTF8_TEXT = "h\u00e9llo \U0001F600 \U0001D11E"


def fnv1a32(data):
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def pattern_bytes(n):
    return bytes(i % 251 for i in range(n))


def text_line(text):
    return "text %d %s" % (len(text.encode("utf-8")), text)


# (check name, stdin line, expected output line)
STEPS = [
    ("text", "hello from wstate", text_line("hello from wstate")),
    ("utf8-4byte", UTF8_TEXT, text_line(UTF8_TEXT)),
    ("empty-line", "", text_line("")),
    ("bin-16", ":bin 16", "binary 16 %08x" % fnv1a32(pattern_bytes(16))),
    ("bin-1MiB", ":bin 1048576", "binary 1048576 %08x" % fnv1a32(pattern_bytes(1 << 20))),
    ("ping-abc", ":ping abc", "pong 3 abc"),
]
WIRE = "wstate-interop:wire"


def pmd_steps(expected):
    """The permessage-deflate steps; a None check is a query whose answer is kept."""
    steps = [("pmd-extensions", "wstate-interop:extensions", text_line(expected))]
    for kind in ("text-json", "text-random", "binary-pattern"):
        for n in payloads.SIZES:
            name = "pmd-%s-%d" % (kind, n)
            if kind == "binary-pattern":
                steps.append((name, ":bin %d" % n, "binary %d %08x" % (n, fnv1a32(pattern_bytes(n)))))
                continue
            text = payloads.payload(kind, n)
            wire = kind == "text-json" and n == 1 << 20
            if wire:
                steps.append((None, WIRE, "before"))
            steps.append((name, text, text_line(text)))
            if wire:
                steps.append((None, WIRE, "after"))
    return steps


def idle_steps(w, expected):
    """The idle-cycle steps at window bits w (payloads.idle_steps); a None
    check is a wire counter query around the repeats."""
    prefix = "idle-w%d-" % w
    steps = [(prefix + "extensions", "wstate-interop:extensions",
              text_line(expected.replace("W", str(w))))]
    for name, payload in payloads.idle_steps(w):
        if name == "repeat-1":
            steps.append((None, WIRE, "before"))
        if isinstance(payload, bytes):
            n = len(payload)
            steps.append((prefix + name, ":bin %d" % n, "binary %d %08x" % (n, fnv1a32(pattern_bytes(n)))))
        else:
            steps.append((prefix + name, payload, text_line(payload)))
        if name == "repeat-%d" % payloads.IDLE_REPEATS:
            steps.append((None, WIRE, "after"))
    return steps


def same_line(got, want):
    # exact, trailing space included: `text 0 ` and `closed 1000 ` end in one
    return got == want


def parse_wire(line):
    m = re.fullmatch(r"text \d+ rx=(\d+) tx=(\d+)", line)
    return (int(m.group(1)), int(m.group(2))) if m else None


def main():
    args = sys.argv[1:]
    expected, pmd_only, idle = None, False, None
    while args and args[0].startswith("--"):
        if args[0] == "--pmd":
            expected, args = args[1], args[2:]
        elif args[0] == "--pmd-only":
            pmd_only, args = True, args[1:]
        elif args[0] == "--idle":
            idle, args = int(args[1]), args[2:]
        else:
            sys.exit("unknown option %s" % args[0])
    peer, url, cmd = args[0], args[1], args[2:]
    if idle is not None and expected is None:
        sys.exit("--idle needs --pmd EXTENSIONS")
    prefix = "" if idle is None else "idle-w%d-" % idle
    if idle is not None:
        steps = idle_steps(idle, expected)
        wire_check, wire_limit = prefix + "history", payloads.idle_history_limit(idle)
        wire_what = "w=%d: %d repeats" % (idle, payloads.IDLE_REPEATS)
    else:
        steps = [] if pmd_only else list(STEPS)
        if expected is not None:
            steps += pmd_steps(expected)
        wire_check, wire_limit = "pmd-wire-json-1MiB", payloads.WIRE_MAX_SHARE * (1 << 20)
        wire_what = "1 MiB JSON text"
    checks = [prefix + "connected"] + [s[0] for s in steps if s[0]]
    if expected is not None:
        checks.append(wire_check)
    checks += [prefix + "closed-1000", prefix + "exit-0"]
    name = "client-vs-%s" % peer
    done = {}

    def result(check, ok, why=""):
        if check in done:
            return
        done[check] = ok
        print(("PASS %s: %s" % (name, check)) if ok else ("FAIL %s: %s: %s" % (name, check, why)), flush=True)

    proc = subprocess.Popen(cmd + [url], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    lines = queue.Queue()

    def reader():
        for raw in proc.stdout:
            lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
        lines.put(None)
    threading.Thread(target=reader, daemon=True).start()

    def next_line(timeout=STEP_TIMEOUT, skip_pings=True):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return "<timeout after %ss>" % timeout
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                return "<timeout after %ss>" % timeout
            if line is None:
                lines.put(None)   # keep reporting end of output
                return "<end of output>"
            if skip_pings and re.fullmatch(r"ping \d+", line):
                continue   # a server ping is allowed at any time
            return line

    try:
        got = next_line()
        m = re.fullmatch(r"connected( subprotocol=\S+)?( extensions=(.*))?", got)
        if m:
            result(prefix + "connected", True)
            printed = m.group(3)   # if the client prints what it negotiated
            if printed is not None and expected is not None and idle is None and printed != expected:
                result("pmd-extensions", False, "the client printed extensions=%r, expected %r"
                       % (printed, expected))
            wire = {}
            for i, (check, send, want) in enumerate(steps):
                if idle is not None and i and check is not None:
                    time.sleep(payloads.IDLE_PAUSE)
                proc.stdin.write(send.encode("utf-8") + b"\n")
                proc.stdin.flush()
                got = next_line()
                shown = got if len(got) < 120 else got[:120] + "..."
                if check is None:   # a wire counter query: `before` / `after`
                    wire[want] = parse_wire(got)
                    if wire[want] is None:
                        result(wire_check, False, "wire query answered %r" % shown)
                    continue
                result(check, same_line(got, want), "expected %r, got %r" % (
                    want if len(want) < 120 else want[:120] + "...", shown))
            if wire.get("before") and wire.get("after"):
                (rx0, tx0), (rx1, tx1) = wire["before"], wire["after"]
                rx, tx, limit = rx1 - rx0, tx1 - tx0, wire_limit
                print("note %s: %s on the wire: the server received %d B, sent %d B"
                      % (name, wire_what, rx, tx), flush=True)
                result(wire_check, 0 < rx <= limit and 0 < tx <= limit,
                       "the server received %d B and sent %d B for the %s (limit %d each)"
                       % (rx, tx, wire_what, limit))
            proc.stdin.close()
            got = next_line()
            result(prefix + "closed-1000", same_line(got, "closed 1000 "),
                   "expected %r, got %r" % ("closed 1000 ", got))
        else:
            result(prefix + "connected", False, "first line %r" % got)
            proc.stdin.close()
    except (BrokenPipeError, OSError) as exc:
        for check in checks[:-1]:
            result(check, False, "client stdin: %s" % exc)
    try:
        rc = proc.wait(timeout=EXIT_TIMEOUT)
        result(prefix + "exit-0", rc == 0, "exit status %s" % rc)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        result(prefix + "exit-0", False, "still running %ss after stdin EOF; killed" % EXIT_TIMEOUT)
    extra = []
    while True:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            break
        if line is None:
            break
        extra.append(line)
    for check in checks:
        result(check, False, "not reached")
    if extra:
        print("note %s: output after the close line: %r" % (name, extra[:5]), flush=True)
    sys.exit(0 if all(done.values()) else 1)


if __name__ == "__main__":
    main()
