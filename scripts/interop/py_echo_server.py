#!/usr/bin/env python3
"""Echo server on the Python `websockets` library (asyncio API), a real peer
for our `client` example in scripts/interop.sh.

    python py_echo_server.py [ADDR]        (default 127.0.0.1:9012)

Echoes each message with its type; `websockets` answers pings and closes by
itself.  Loopback addresses only.  Exits by itself after MAX_LIFETIME seconds.
"""
import asyncio
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

MAX_LIFETIME = 600
MAX_MESSAGE = 16 * 1024 * 1024


async def echo(ws):
    print("connection from %s:%s" % ws.remote_address[:2], flush=True)
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass
    rcvd = ws.protocol.close_rcvd
    print("closed: received %s" % (rcvd.code if rcvd else "no close frame"), flush=True)


async def main():
    addr = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9012"
    host, _, port = addr.rpartition(":")
    host = host.strip("[]")
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        sys.exit("py_echo_server: loopback addresses only, got %r" % host)
    async with serve(echo, host, int(port), max_size=MAX_MESSAGE):
        print("websockets echo server listening on ws://%s:%s" % (host, port), flush=True)
        await asyncio.sleep(MAX_LIFETIME)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
