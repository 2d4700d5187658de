#!/usr/bin/env python3
"""Python `websockets` client against our echo server (scripts/interop.sh).

    python py_client_check.py ws://127.0.0.1:PORT

Prints one `PASS python-websockets: CHECK` or `FAIL python-websockets: CHECK:
WHY` line per check; exit 1 if any failed.  Every step has a timeout.
"""
import asyncio
import sys

from websockets.asyncio.client import connect

PEER = "python-websockets"
CHECKS = ["open", "text", "utf8-4byte", "empty-text", "binary", "binary-1MiB",
          "ping-pong-payload", "close-1000"]
STEP_TIMEOUT = 20.0
UTF8_TEXT = "h\u00e9llo \U0001F600 \U0001D11E"      # "héllo 😀 𝄞": 2-, 4- and 4-byte sequences
BIG = bytes(i % 251 for i in range(1 << 20))


class Report:
    def __init__(self):
        self.done = {}

    def result(self, name, ok, why=""):
        self.done[name] = ok
        if ok:
            print("PASS %s: %s" % (PEER, name), flush=True)
        else:
            print("FAIL %s: %s: %s" % (PEER, name, why), flush=True)

    def finish(self, why):
        for name in CHECKS:
            if name not in self.done:
                self.result(name, False, why)
        return all(self.done.values())


def describe(value):
    if isinstance(value, str):
        return "text(%d chars) %r" % (len(value), value[:40])
    return "binary(%d bytes)" % len(value)


async def echo_check(rep, ws, name, payload):
    await asyncio.wait_for(ws.send(payload), STEP_TIMEOUT)
    got = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
    if type(got) is type(payload) and got == payload:
        rep.result(name, True)
    else:
        rep.result(name, False, "sent %s, got %s%s" % (describe(payload), describe(got),
                   " (content differs)" if type(got) is type(payload) else ""))


async def run(url, rep):
    ws = await asyncio.wait_for(connect(url, max_size=16 << 20, open_timeout=STEP_TIMEOUT,
                                        close_timeout=STEP_TIMEOUT), STEP_TIMEOUT)
    rep.result("open", True)
    await echo_check(rep, ws, "text", "hello from python websockets")
    await echo_check(rep, ws, "utf8-4byte", UTF8_TEXT)
    await echo_check(rep, ws, "empty-text", "")
    await echo_check(rep, ws, "binary", bytes(range(256)))
    await echo_check(rep, ws, "binary-1MiB", BIG)
    # websockets resolves the waiter only for a pong whose payload equals ours
    waiter = await ws.ping(b"wstate ping \x00\xff")
    try:
        latency = await asyncio.wait_for(waiter, STEP_TIMEOUT)
        rep.result("ping-pong-payload", True)
        del latency
    except asyncio.TimeoutError:
        rep.result("ping-pong-payload", False, "no pong with the same payload within %ss" % STEP_TIMEOUT)
    await asyncio.wait_for(ws.close(1000, "done"), STEP_TIMEOUT)
    rcvd = ws.protocol.close_rcvd
    if rcvd is not None and rcvd.code == 1000:
        rep.result("close-1000", True)
    else:
        rep.result("close-1000", False, "close frame from the server: %s" % (
            "none" if rcvd is None else "code %s reason %r" % (rcvd.code, rcvd.reason)))


def main():
    url = sys.argv[1]
    rep = Report()
    try:
        asyncio.run(run(url, rep))
        why = "not reached"
    except Exception as exc:  # any failure ends the sequence; remaining checks fail
        why = "%s: %s" % (type(exc).__name__, exc)
    sys.exit(0 if rep.finish(why) else 1)


if __name__ == "__main__":
    main()
