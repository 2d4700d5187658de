#!/usr/bin/env python3
"""A slow client is disconnected, not waited for (scripts/chat_browser.sh).

    python3 slow_client_check.py HOST:PORT

Against the chat example (wstate-tokio/examples/chat.rs): `slow` joins and
then stops reading (a 4 KiB receive buffer); `fast` joins and sends 2 KiB
lines (at most MAX_LINES, MAX_SECONDS) until it sees the room's leave notice
for `slow`. Then `slow` reads again and must find a Close with 1008 or 1013
after the backlog; `fast` must still get its own next line back. Standard
library only (ws_client.py: raw sockets, RFC 6455 by hand).
Prints `PASS chat-slow: X` / `FAIL chat-slow: X: WHY` per check; exit 1 on a
failure.
"""

import json
import struct
import sys
import threading
import time

from ws_client import Ws

CHECKS = ["slow-client-leave-notice", "slow-client-close-code", "fast-client-still-served"]
MAX_LINES = 20000
MAX_SECONDS = 30
LINE = "x" * 2048
WINDOW = 64

results = {}


def result(name, ok, why=""):
    if name in results:
        return
    results[name] = ok
    print(f"PASS chat-slow: {name}" if ok else f"FAIL chat-slow: {name}: {why}", flush=True)


def main(addr):
    slow = Ws(addr, rcvbuf=4096)
    slow.send_text("slow")
    fast = Ws(addr)
    fast.send_text("fast")

    # fast's reader: everything the room sends it, watching for slow's leave.
    leave = {}
    lines_back = [0]
    seen = threading.Event()

    def read_fast():
        try:
            while True:
                op, payload = fast.frame()
                if op == 0x8:
                    return
                if op != 0x1:
                    continue
                msg = json.loads(payload)
                if msg.get("type") == "leave" and msg.get("name") == "slow":
                    leave.update(msg)
                    seen.set()
                elif msg.get("type") == "msg" and msg.get("name") == "fast":
                    lines_back[0] += 1
        except (OSError, EOFError, ValueError):
            return

    reader = threading.Thread(target=read_fast, daemon=True)
    reader.start()

    sent, deadline = 0, time.monotonic() + MAX_SECONDS
    while not seen.is_set() and sent < MAX_LINES and time.monotonic() < deadline:
        # fast is a well-behaved client: at most WINDOW of its lines in
        # flight, so that it reads as fast as it sends.
        while sent - lines_back[0] >= WINDOW and reader.is_alive() and time.monotonic() < deadline:
            time.sleep(0.001)
        fast.send_text(LINE)
        sent += 1
    seen.wait(5)
    result(
        "slow-client-leave-notice",
        leave.get("code") in (1008, 1013),
        f"after {sent} lines of {len(LINE)} bytes: notice {leave or 'never came'}",
    )

    # slow reads again: the backlog, then the server's Close.
    code, frames = None, 0
    try:
        while True:
            op, payload = slow.frame()
            frames += 1
            if op == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                slow.send(0x8, payload[:2])
                break
    except (OSError, EOFError) as e:
        why = f"{e} after {frames} frames"
    else:
        why = f"close code {code} after {frames} frames"
    result("slow-client-close-code", code in (1008, 1013), why)
    slow.sock.close()

    # fast is still in the room: its next line comes back.
    before = lines_back[0]
    fast.send_text("still here")
    end = time.monotonic() + 10
    while time.monotonic() < end and lines_back[0] <= before and reader.is_alive():
        time.sleep(0.05)
    result("fast-client-still-served", lines_back[0] > before, f"reader alive: {reader.is_alive()}")
    fast.send(0x8, struct.pack("!H", 1000))
    reader.join(5)
    fast.sock.close()


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except Exception as e:  # noqa: BLE001 - every check left is a FAIL
        why = f"{type(e).__name__}: {e}"
    else:
        why = "not reached"
    for name in CHECKS:
        result(name, False, why)
    sys.exit(0 if all(results.values()) else 1)
