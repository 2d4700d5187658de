#!/usr/bin/env python3
"""Two chat processes share one room through Redis (scripts/chat_redis.sh).

    python3 redis_check.py HOST:PORT_A HOST:PORT_B REDIS_PORT HOLD_FILE

Against two chat examples (wstate-tokio/examples/chat.rs) started with
`--redis` on one Redis at 127.0.0.1:REDIS_PORT, which the calling script
restarts whenever it exits unless HOLD_FILE exists. Clients a1, a2 on A and
b1, b2 on B join; each sends LINES numbered lines, all four at once; every
client must get every line once, in order per sender, whichever process it
came through. Then Redis is stopped (HOLD_FILE, then SHUTDOWN NOSAVE): every
client must be told (`{"type":"link","up":false}`), the room goes on within
each process, and a client joining then is told at once. Then Redis comes
back: every client must be told (`{"type":"link","up":true}`), and new lines
cross again, once and in order; the lines said during the outage never
cross. Standard library only
(ws_client.py). Prints `PASS chat-redis: X` / `FAIL chat-redis: X: WHY` per
check; exit 1 on a failure.
"""

import json
import os
import socket
import struct
import sys
import threading
import time

from ws_client import Ws

CHECKS = [
    "joins-cross-processes",
    "every-line-once-in-order",
    "clients-told-link-down",
    "room-goes-on-within-a-process",
    "joining-during-outage-told",
    "clients-told-link-up",
    "lines-cross-again-once-in-order",
    "outage-lines-stay-local",
]
LINES = 40
STEP = 15.0

results = {}


def result(name, ok, why=""):
    if name in results:
        return
    results[name] = ok
    print(f"PASS chat-redis: {name}" if ok else f"FAIL chat-redis: {name}: {why}", flush=True)


class Client:
    """A chat client that records every JSON object the room sends it."""

    def __init__(self, addr, name):
        self.name = name
        self.ws = Ws(addr)
        self.ws.send_text(name)
        # The reader waits as long as it takes (it answers the server's Pings).
        self.ws.sock.settimeout(None)
        self.got = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        try:
            while True:
                op, payload = self.ws.frame()
                if op == 0x8:
                    return
                if op == 0x9:
                    self.ws.send(0xA, payload)
                if op != 0x1:
                    continue
                with self.cond:
                    self.got.append(json.loads(payload))
                    self.cond.notify_all()
        except (OSError, EOFError, ValueError):
            return

    def wait(self, pred, secs=STEP):
        """Waits until pred(self.got) holds; returns whether it did."""
        with self.cond:
            return self.cond.wait_for(lambda: pred(self.got), timeout=secs)

    def lines(self):
        """{sender: [text, ...]} of the chat lines received so far."""
        by = {}
        with self.cond:
            for m in self.got:
                if m.get("type") == "msg":
                    by.setdefault(m["name"], []).append(m["text"])
        return by

    def close(self):
        try:
            self.ws.send(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.reader.join(5)
        self.ws.sock.close()


def joined(names):
    return lambda got: names <= {m.get("name") for m in got if m.get("type") == "join"}


def link(up, after=0):
    return lambda got: any(m == {"type": "link", "up": up} for m in got[after:])


def redis_command(port, *args):
    """One command in RESP; the reply's first line (None if the server
    closed the connection, as SHUTDOWN does)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"*{len(args)}\r\n".encode() + b"".join(f"${len(a)}\r\n{a}\r\n".encode() for a in args))
        reply = s.makefile("rb").readline()
        return reply.decode().strip() or None


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def wait_for(pred, secs=STEP):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def say_all(clients, texts):
    """Each client sends its texts, all four interleaved."""
    for text in texts:
        for c in clients:
            c.ws.send_text(text)


def check_lines(clients, want, name):
    """Every client got exactly `want` from every sender (in order)."""
    wanted = set(want)

    def complete(got):
        return sum(m.get("type") == "msg" and m["text"] in wanted for m in got) >= len(want) * len(clients)

    ok = all(c.wait(complete) for c in clients)
    time.sleep(0.5)  # anything sent twice would arrive by now
    bad = []
    for c in clients:
        by = c.lines()
        for sender in clients:
            seen = [t for t in by.get(sender.name, []) if t in want]
            if seen != want:
                bad.append(f"{c.name} got {len(seen)} of {sender.name}'s {len(want)} lines, first differences {diff(seen, want)}")
    result(name, ok and not bad, "; ".join(bad[:4]) or "timed out")


def diff(seen, want):
    for i, (s, w) in enumerate(zip(seen, want)):
        if s != w:
            return f"at {i}: {s!r} for {w!r}"
    return f"lengths {len(seen)} and {len(want)}"


def main(addr_a, addr_b, redis_port, hold):
    redis_port = int(redis_port)
    a1 = Client(addr_a, "a1")
    a1.wait(joined({"a1"}))
    rest = [Client(addr_a, "a2"), Client(addr_b, "b1"), Client(addr_b, "b2")]
    clients = [a1] + rest
    names = {c.name for c in clients}
    # a1 came first: it sees everyone join, b1 and b2 through Redis.
    # (Then all four are in the room: the lines below reach each of them.)
    result("joins-cross-processes", a1.wait(joined(names)), f"a1 saw {a1.got}")

    first = [str(k) for k in range(LINES)]
    say_all(clients, first)
    check_lines(clients, first, "every-line-once-in-order")

    # Redis goes away.
    marks = [len(c.got) for c in clients]
    open(hold, "w").close()
    redis_command(redis_port, "SHUTDOWN", "NOSAVE")
    gone = wait_for(lambda: not port_open(redis_port))
    told = [c.wait(link(False, m)) for c, m in zip(clients, marks)]
    result(
        "clients-told-link-down",
        gone and all(told),
        f"Redis stopped: {gone}; told: {dict(zip(sorted(names), told))}",
    )
    a2, b1, b2 = rest
    a1.ws.send_text("outage-a")
    b1.ws.send_text("outage-b")
    local = a2.wait(lambda got: {"type": "msg", "name": "a1", "text": "outage-a"} in got) and b2.wait(
        lambda got: {"type": "msg", "name": "b1", "text": "outage-b"} in got
    )
    result("room-goes-on-within-a-process", local, f"a2: {a2.got[-3:]}, b2: {b2.got[-3:]}")
    late = Client(addr_a, "a3")
    result("joining-during-outage-told", late.wait(link(False)), f"a3 got {late.got}")
    late.close()

    # Redis comes back.
    marks = [len(c.got) for c in clients]
    os.unlink(hold)
    back = wait_for(lambda: port_open(redis_port))
    told = [c.wait(link(True, m), secs=2 * STEP) for c, m in zip(clients, marks)]
    result(
        "clients-told-link-up",
        back and all(told),
        f"Redis back: {back}; told: {dict(zip(sorted(names), told))}",
    )

    second = [str(k) for k in range(LINES, 2 * LINES)]
    say_all(clients, second)
    check_lines(clients, second, "lines-cross-again-once-in-order")

    leaked = [
        f"{c.name} got {t!r}"
        for c in clients
        for t, side in (("outage-a", "a"), ("outage-b", "b"))
        for s, texts in c.lines().items()
        if t in texts and (c.name[0] != side or texts.count(t) != 1)
    ]
    result("outage-lines-stay-local", not leaked, ", ".join(leaked))
    for c in clients:
        c.close()


if __name__ == "__main__":
    try:
        main(*sys.argv[1:5])
    except Exception as e:  # noqa: BLE001 - every check left is a FAIL
        why = f"{type(e).__name__}: {e}"
    else:
        why = "not reached"
    for name in CHECKS:
        result(name, False, why)
    sys.exit(0 if all(results.values()) else 1)
