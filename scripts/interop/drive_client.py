#!/usr/bin/env python3
"""Drive our `client` example through its stdin/stdout protocol against one
echo server and check every output line (scripts/interop.sh, pair b).

    python3 drive_client.py PEER_NAME URL CMD [ARG...]

Runs `CMD ARG... URL`, feeds it one stdin line at a time and waits for the
answer before sending the next (so the echo order is deterministic), then
closes stdin and expects `closed 1000` and exit status 0.  Prints `PASS
client-vs-PEER: CHECK` / `FAIL client-vs-PEER: CHECK: WHY` lines; exit 1 if any
failed.  Standard library only.
"""
import queue
import re
import subprocess
import sys
import threading
import time

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
CHECKS = ["connected"] + [s[0] for s in STEPS] + ["closed-1000", "exit-0"]


def same_line(got, want):
    # exact, trailing space included: `text 0 ` and `closed 1000 ` end in one
    return got == want


def main():
    peer, url, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
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
        if re.fullmatch(r"connected( subprotocol=\S+)?", got):
            result("connected", True)
            for check, send, want in STEPS:
                proc.stdin.write(send.encode("utf-8") + b"\n")
                proc.stdin.flush()
                got = next_line()
                shown = got if len(got) < 120 else got[:120] + "..."
                result(check, same_line(got, want), "expected %r, got %r" % (want, shown))
            proc.stdin.close()
            got = next_line()
            result("closed-1000", same_line(got, "closed 1000 "),
                   "expected %r, got %r" % ("closed 1000 ", got))
        else:
            result("connected", False, "first line %r" % got)
            proc.stdin.close()
    except (BrokenPipeError, OSError) as exc:
        for check in CHECKS[:-1]:
            result(check, False, "client stdin: %s" % exc)
    try:
        rc = proc.wait(timeout=EXIT_TIMEOUT)
        result("exit-0", rc == 0, "exit status %s" % rc)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        result("exit-0", False, "still running %ss after stdin EOF; killed" % EXIT_TIMEOUT)
    extra = []
    while True:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            break
        if line is None:
            break
        extra.append(line)
    for check in CHECKS:
        result(check, False, "not reached")
    if extra:
        print("note %s: output after the close line: %r" % (name, extra[:5]), flush=True)
    sys.exit(0 if all(done.values()) else 1)


if __name__ == "__main__":
    main()
