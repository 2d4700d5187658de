#!/usr/bin/env python3
"""Python `websockets` client against our echo server (scripts/interop.sh).

    python py_client_check.py ws://127.0.0.1:PORT [default|nct9] [EXPECTED_EXTENSIONS]

Mode `default` (websockets' default client: permessage-deflate offered as
`permessage-deflate; client_max_window_bits`): the base checks (text, UTF-8,
empty, binary, 1 MiB, ping/pong, close 1000) plus the permessage-deflate
ones.  Mode `nct9`: a client offering server_/client_no_context_takeover and
server_/client_max_window_bits=9, permessage-deflate checks only.

permessage-deflate checks: `pmd-response-header` (the server's
Sec-WebSocket-Extensions as websockets saw it in `ws.response.headers` equals
EXPECTED_EXTENSIONS), `pmd-KIND-SIZE` echoes of JSON-like and random text and
binary of 1, 125, 126, 65536 and 1048576 bytes (payloads.py), and
`pmd-wire-json-1MiB` (the 1 MiB JSON text crossed the socket in less than half
its size both ways: both sides compressed).

Prints one `PASS python-websockets[-nct9]: CHECK` or `FAIL ...: CHECK: WHY`
line per check; exit 1 if any failed.  Every step has a timeout.
"""
import asyncio
import os
import sys

from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import payloads  # noqa: E402

BASE_CHECKS = ["open", "text", "utf8-4byte", "empty-text", "binary", "binary-1MiB",
               "ping-pong-payload", "close-1000"]
PMD_CHECKS = (["pmd-response-header"] + [name for name, _ in payloads.matrix()]
              + ["pmd-wire-json-1MiB"])
STEP_TIMEOUT = 20.0
UTF8_TEXT = "h\u00e9llo \U0001F600 \U0001D11E"      # "héllo 😀 𝄞": 2-, 4- and 4-byte sequences
BIG = bytes(i % 251 for i in range(1 << 20))
WIRE_CHECK = "pmd-text-json-%d" % (1 << 20)


class Report:
    def __init__(self, peer, checks):
        self.peer, self.checks = peer, checks
        self.done = {}

    def result(self, name, ok, why=""):
        if name in self.done:
            return
        self.done[name] = ok
        if ok:
            print("PASS %s: %s" % (self.peer, name), flush=True)
        else:
            print("FAIL %s: %s: %s" % (self.peer, name, why), flush=True)

    def finish(self, why):
        for name in self.checks:
            if name not in self.done:
                self.result(name, False, why)
        return all(self.done.values())


def describe(value):
    if isinstance(value, str):
        return "text(%d chars) %r" % (len(value), value[:40])
    return "binary(%d bytes)" % len(value)


class WireCounter:
    """Counts the bytes websockets hands to and takes from the socket."""

    def __init__(self, ws):
        self.rx = self.tx = 0
        proto = ws.protocol
        receive, to_send = proto.receive_data, proto.data_to_send

        def receive_data(data):
            self.rx += len(data)
            return receive(data)

        def data_to_send():
            out = to_send()
            self.tx += sum(len(d) for d in out)
            return out
        proto.receive_data, proto.data_to_send = receive_data, data_to_send


async def echo_check(rep, ws, name, payload):
    await asyncio.wait_for(ws.send(payload), STEP_TIMEOUT)
    got = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
    if type(got) is type(payload) and got == payload:
        rep.result(name, True)
    else:
        rep.result(name, False, "sent %s, got %s%s" % (describe(payload), describe(got),
                   " (content differs)" if type(got) is type(payload) else ""))


async def pmd_checks(rep, ws, wire, expected):
    got = ws.response.headers.get_all("Sec-WebSocket-Extensions")
    rep.result("pmd-response-header", got == [expected],
               "expected %r, got %r" % (expected, got))
    for name, payload in payloads.matrix():
        rx, tx = wire.rx, wire.tx
        await echo_check(rep, ws, name, payload)
        if name == WIRE_CHECK:
            rx, tx, limit = wire.rx - rx, wire.tx - tx, payloads.WIRE_MAX_SHARE * len(payload)
            print("note %s: 1 MiB JSON text on the wire: sent %d B, received %d B"
                  % (rep.peer, tx, rx), flush=True)
            rep.result("pmd-wire-json-1MiB", 0 < tx < limit and 0 < rx < limit,
                       "sent %d B, received %d B for %d B of text (limit %d each)"
                       % (tx, rx, len(payload), limit))


async def close_check(rep, ws):
    await asyncio.wait_for(ws.close(1000, "done"), STEP_TIMEOUT)
    rcvd = ws.protocol.close_rcvd
    if rcvd is not None and rcvd.code == 1000:
        rep.result("close-1000", True)
    else:
        rep.result("close-1000", False, "close frame from the server: %s" % (
            "none" if rcvd is None else "code %s reason %r" % (rcvd.code, rcvd.reason)))


async def run(url, mode, expected, rep):
    kwargs = dict(max_size=16 << 20, open_timeout=STEP_TIMEOUT, close_timeout=STEP_TIMEOUT)
    if mode == "nct9":
        kwargs["extensions"] = [ClientPerMessageDeflateFactory(
            server_no_context_takeover=True, client_no_context_takeover=True,
            server_max_window_bits=9, client_max_window_bits=9)]
        kwargs["compression"] = None
    ws = await asyncio.wait_for(connect(url, **kwargs), STEP_TIMEOUT)
    wire = WireCounter(ws)
    rep.result("open", True)
    if mode == "nct9":
        await pmd_checks(rep, ws, wire, expected)
        await close_check(rep, ws)
        return
    await echo_check(rep, ws, "text", "hello from python websockets")
    await echo_check(rep, ws, "utf8-4byte", UTF8_TEXT)
    await echo_check(rep, ws, "empty-text", "")
    await echo_check(rep, ws, "binary", bytes(range(256)))
    await echo_check(rep, ws, "binary-1MiB", BIG)
    await pmd_checks(rep, ws, wire, expected)
    # websockets resolves the waiter only for a pong whose payload equals ours
    waiter = await ws.ping(b"wstate ping \x00\xff")
    try:
        await asyncio.wait_for(waiter, STEP_TIMEOUT)
        rep.result("ping-pong-payload", True)
    except asyncio.TimeoutError:
        rep.result("ping-pong-payload", False, "no pong with the same payload within %ss" % STEP_TIMEOUT)
    await close_check(rep, ws)


def main():
    url = sys.argv[1]
    mode = sys.argv[2] if len(sys.argv) > 2 else "default"
    expected = sys.argv[3] if len(sys.argv) > 3 else "permessage-deflate"
    if mode not in ("default", "nct9"):
        sys.exit("mode must be default or nct9")
    if mode == "nct9":
        rep = Report("python-websockets-nct9", ["open"] + PMD_CHECKS + ["close-1000"])
    else:
        rep = Report("python-websockets", BASE_CHECKS + PMD_CHECKS)
    try:
        asyncio.run(run(url, mode, expected, rep))
        why = "not reached"
    except Exception as exc:  # any failure ends the sequence; remaining checks fail
        why = "%s: %s" % (type(exc).__name__, exc)
    sys.exit(0 if rep.finish(why) else 1)


if __name__ == "__main__":
    main()
