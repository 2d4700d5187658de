#!/usr/bin/env python3
"""permessage-deflate in the chat room (scripts/chat_browser.sh).

    python3 deflate_check.py HOST:PORT

Against the chat example (wstate-tokio/examples/chat.rs) built with feature
`deflate`, three raw-socket clients join: `zed` offers permessage-deflate
as browsers do (`permessage-deflate; client_max_window_bits`), `yan` offers
it with `server_max_window_bits=10` (a window smaller than the one the room
compresses each line with once: its connection compresses the line itself)
and `xia` offers nothing. Then:

  * the 101s: `permessage-deflate; server_no_context_takeover` for zed,
    the same with `; server_max_window_bits=10` for yan, no extension for xia;
  * xia says a line: zed and yan get it as one compressed frame (RSV1 set),
    zed's payload smaller than the plain one, each inflating (each message
    alone, from an empty window; yan's with a 10-bit window) to exactly the
    bytes xia gets uncompressed, whose `text` is the line sent;
  * zed says two lines compressed in one stream (client context takeover,
    the second referring back into the first): xia gets both, exact.

Standard library only (ws_client.py: raw sockets, RFC 6455 by hand; zlib).
Prints `PASS chat-deflate: X` / `FAIL chat-deflate: X: WHY` per check; exit 1
on a failure.
"""

import json
import sys
import zlib

from ws_client import Ws

CHECKS = ["offer-answered", "small-window-answered", "no-offer-no-extension",
          "broadcast-compressed-shared", "broadcast-compressed-own", "client-compressed-lines"]
RSV1 = 0x40
TAIL = b"\x00\x00\xff\xff"
# Words repeated, so that compression shows; not ASCII only.
LINE = "the quick brown fox — the quick brown fox — the quick brown fox jumps, naïvely"
ZED_LINES = ["a line from zed, compressed by zed, about zed and the room",
             "a line from zed, compressed by zed, about zed and the room again"]

results = {}


def result(name, ok, why=""):
    if name in results:
        return
    results[name] = ok
    print(f"PASS chat-deflate: {name}" if ok else f"FAIL chat-deflate: {name}: {why}", flush=True)


def inflate(payload, window_bits=15):
    """One message compressed from an empty window (server_no_context_takeover)."""
    d = zlib.decompressobj(-window_bits)
    return d.decompress(payload + TAIL) + d.flush()


def next_msg(ws, name, window_bits=15):
    """(first byte, wire payload, message bytes) of the next `msg` from `name`."""
    while True:
        b0, op, payload = ws.frame_bits()
        if op == 0x8:
            raise EOFError(f"closed: {payload[:2].hex()} {payload[2:]!r}")
        if op != 0x1:
            continue
        data = inflate(payload, window_bits) if b0 & RSV1 else payload
        msg = json.loads(data)
        if msg.get("type") == "msg" and msg.get("name") == name:
            return b0, payload, data


def main(addr):
    zed = Ws(addr, extensions="permessage-deflate; client_max_window_bits")
    yan = Ws(addr, extensions="permessage-deflate; server_max_window_bits=10")
    xia = Ws(addr)
    want = "permessage-deflate; server_no_context_takeover"
    got = zed.header("Sec-WebSocket-Extensions")
    result("offer-answered", got == want, f"answered {got!r}, want {want!r}")
    want_small = want + "; server_max_window_bits=10"
    got = yan.header("Sec-WebSocket-Extensions")
    result("small-window-answered", got == want_small, f"answered {got!r}, want {want_small!r}")
    got = xia.header("Sec-WebSocket-Extensions")
    result("no-offer-no-extension", got is None, f"answered {got!r}")
    for ws, name in ((zed, "zed"), (yan, "yan"), (xia, "xia")):
        ws.send_text(name)

    xia.send_text(LINE)
    b0, plain, exact = next_msg(xia, "xia")
    sent = json.loads(exact).get("text")
    if b0 & RSV1 or sent != LINE:
        result("broadcast-compressed-shared", False, f"xia got {b0:#x} {exact!r}")
        result("broadcast-compressed-own", False, f"xia got {b0:#x} {exact!r}")
    else:
        b0, wire, data = next_msg(zed, "xia")
        result("broadcast-compressed-shared",
               b0 & RSV1 and data == exact and len(wire) < len(plain),
               f"zed got first byte {b0:#x}, {len(wire)} B on the wire for {len(plain)} plain, "
               f"inflated {data!r}, xia got {exact!r}")
        b0, wire, data = next_msg(yan, "xia", window_bits=10)
        result("broadcast-compressed-own", b0 & RSV1 and data == exact,
               f"yan got first byte {b0:#x}, inflated {data!r}, xia got {exact!r}")

    # Client context takeover: one compressor for both lines, each flushed.
    stream = zlib.compressobj(6, zlib.DEFLATED, -15)
    for line in ZED_LINES:
        out = stream.compress(line.encode()) + stream.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(TAIL)
        zed.send(0x1, out[:-4], rsv=RSV1)
    got = [json.loads(next_msg(xia, "zed")[2]).get("text") for _ in ZED_LINES]
    result("client-compressed-lines", got == ZED_LINES, f"xia got {got!r}")

    for ws in (zed, yan, xia):
        ws.close()


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except Exception as e:  # a check that did not run is a failure
        for name in CHECKS:
            result(name, False, f"{type(e).__name__}: {e}")
    for name in CHECKS:
        result(name, False, "did not run")
    sys.exit(0 if all(results.values()) else 1)
