#!/usr/bin/env python3
"""Python `websockets` client against our echo server run with
--release-after-message: round trips across idle cycles (scripts/interop.sh).

    python py_idle_check.py ws://127.0.0.1:PORT EXPECTED_EXTENSIONS

One connection per window size w of 9..15, each offering
`permessage-deflate; server_max_window_bits=w; client_max_window_bits=w`
(context takeover both ways).  Checks per connection, named `idle-wW-CHECK`:
`extensions` (the server's Sec-WebSocket-Extensions equals
EXPECTED_EXTENSIONS with each `W` replaced by w), an echo check per message of
payloads.idle_steps(w) (`first`, `repeat-N`, `wrap`, `tail`, `binary`,
`binary-repeat`), `history` (the repeats crossed the socket in at most
payloads.idle_history_limit(w) bytes each way: both sides compressed against
the history kept while idle) and `close-1000`.

Prints one `PASS python-websockets-idle: CHECK` or `FAIL ...: CHECK: WHY` line
per check; exit 1 if any failed.  Every step has a timeout.
"""
import asyncio
import os
import sys

from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import payloads  # noqa: E402
from py_client_check import STEP_TIMEOUT, Report, WireCounter, echo_check  # noqa: E402

PEER = "python-websockets-idle"


def checks(w):
    names = ["extensions"] + [name for name, _ in payloads.idle_steps(w)] + ["history", "close-1000"]
    return ["idle-w%d-%s" % (w, name) for name in names]


async def one_window(rep, url, w, expected):
    factory = ClientPerMessageDeflateFactory(server_max_window_bits=w, client_max_window_bits=w)
    ws = await asyncio.wait_for(connect(url, compression=None, extensions=[factory],
                                        max_size=16 << 20, open_timeout=STEP_TIMEOUT,
                                        close_timeout=STEP_TIMEOUT), STEP_TIMEOUT)
    wire = WireCounter(ws)
    prefix = "idle-w%d-" % w
    got = ws.response.headers.get_all("Sec-WebSocket-Extensions")
    want = expected.replace("W", str(w))
    rep.result(prefix + "extensions", got == [want], "expected %r, got %r" % (want, got))
    before = None
    for i, (name, payload) in enumerate(payloads.idle_steps(w)):
        if i:
            await asyncio.sleep(payloads.IDLE_PAUSE)
        if name == "repeat-1":
            before = (wire.tx, wire.rx)
        await echo_check(rep, ws, prefix + name, payload)
        if name == "repeat-%d" % payloads.IDLE_REPEATS:
            tx, rx = wire.tx - before[0], wire.rx - before[1]
            limit = payloads.idle_history_limit(w)
            print("note %s: w=%d: %d repeats of %d B: sent %d B, received %d B"
                  % (PEER, w, payloads.IDLE_REPEATS, len(payload.encode("utf-8")), tx, rx), flush=True)
            rep.result(prefix + "history", 0 < tx <= limit and 0 < rx <= limit,
                       "sent %d B, received %d B (limit %d each)" % (tx, rx, limit))
    await asyncio.wait_for(ws.close(1000, "done"), STEP_TIMEOUT)
    rcvd = ws.protocol.close_rcvd
    rep.result(prefix + "close-1000", rcvd is not None and rcvd.code == 1000,
               "close frame from the server: %s" % (
                   "none" if rcvd is None else "code %s reason %r" % (rcvd.code, rcvd.reason)))


async def run(url, expected, rep):
    for w in payloads.IDLE_WINDOW_BITS:
        rep.checks = checks(w)
        try:
            await one_window(rep, url, w, expected)
        except Exception as exc:  # this window's remaining checks fail; go on with the next
            rep.finish("%s: %s" % (type(exc).__name__, exc))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    url, expected = sys.argv[1], sys.argv[2]
    rep = Report(PEER, [])
    asyncio.run(run(url, expected, rep))
    rep.checks = [c for w in payloads.IDLE_WINDOW_BITS for c in checks(w)]
    sys.exit(0 if rep.finish("not reached") else 1)


if __name__ == "__main__":
    main()
