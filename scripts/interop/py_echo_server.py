#!/usr/bin/env python3
"""Echo server on the Python `websockets` library (asyncio API), a real peer
for our `client` example in scripts/interop.sh.

    python py_echo_server.py [ADDR] [default|nct9|takeover|off]     (default 127.0.0.1:9012)

Echoes each message with its type; `websockets` answers pings and closes by
itself.  permessage-deflate: `default` is websockets' default server
(`compression="deflate"`: server_max_window_bits=12, client_max_window_bits=12,
memLevel 5); `nct9` is ServerPerMessageDeflateFactory with
server_/client_no_context_takeover and server_/client_max_window_bits=9;
`takeover` takes the window bits W (9-15) from the request path `/wW` and
answers server_/client_max_window_bits=W with context takeover both ways
(ServerPerMessageDeflateFactory per connection; a path without a window is
refused with 404); `off` declines it (`compression=None`).

Two text messages are answered instead of echoed, for the permessage-deflate
checks: `wstate-interop:extensions` with the Sec-WebSocket-Extensions value
this server sent (empty if none), `wstate-interop:wire` with `rx=N tx=M`, the
bytes received from and written to this connection's socket since it opened.
Loopback addresses only.  Exits by itself after MAX_LIFETIME seconds.
"""
import asyncio
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

MAX_LIFETIME = 600
MAX_MESSAGE = 16 * 1024 * 1024


def count_wire(ws):
    """Counts the bytes websockets takes from and hands to the socket."""
    wire = {"rx": 0, "tx": 0}
    proto = ws.protocol
    receive, to_send = proto.receive_data, proto.data_to_send

    def receive_data(data):
        wire["rx"] += len(data)
        return receive(data)

    def data_to_send():
        out = to_send()
        wire["tx"] += sum(len(d) for d in out)
        return out
    proto.receive_data, proto.data_to_send = receive_data, data_to_send
    return wire


async def echo(ws):
    wire = count_wire(ws)
    extensions = ", ".join(ws.response.headers.get_all("Sec-WebSocket-Extensions"))
    print("connection from %s:%s, extensions %r" % (ws.remote_address[:2] + (extensions,)), flush=True)
    try:
        async for message in ws:
            if message == "wstate-interop:extensions":
                await ws.send(extensions)
            elif message == "wstate-interop:wire":
                await ws.send("rx=%d tx=%d" % (wire["rx"], wire["tx"]))
            else:
                await ws.send(message)
    except ConnectionClosed:
        pass
    rcvd = ws.protocol.close_rcvd
    print("closed: received %s" % (rcvd.code if rcvd else "no close frame"), flush=True)


def window_from_path(connection, request):
    """Mode `takeover`: permessage-deflate at the window bits of the path
    `/wW`, context takeover both ways (set before websockets negotiates)."""
    path = request.path.rstrip("/")
    if not (path.startswith("/w") and path[2:].isdigit() and 9 <= int(path[2:]) <= 15):
        return connection.respond(404, "ask for /w9 .. /w15\n")
    w = int(path[2:])
    connection.protocol.available_extensions = [ServerPerMessageDeflateFactory(
        server_max_window_bits=w, client_max_window_bits=w)]
    return None


async def main():
    addr = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9012"
    mode = sys.argv[2] if len(sys.argv) > 2 else "default"
    host, _, port = addr.rpartition(":")
    host = host.strip("[]")
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        sys.exit("py_echo_server: loopback addresses only, got %r" % host)
    kwargs = {}
    if mode == "nct9":
        kwargs = dict(compression=None, extensions=[ServerPerMessageDeflateFactory(
            server_no_context_takeover=True, client_no_context_takeover=True,
            server_max_window_bits=9, client_max_window_bits=9)])
    elif mode == "takeover":
        kwargs = dict(compression=None, process_request=window_from_path)
    elif mode == "off":
        kwargs = dict(compression=None)
    elif mode != "default":
        sys.exit("py_echo_server: mode must be default, nct9, takeover or off")
    async with serve(echo, host, int(port), max_size=MAX_MESSAGE, **kwargs):
        print("websockets echo server (%s) listening on ws://%s:%s" % (mode, host, port), flush=True)
        await asyncio.sleep(MAX_LIFETIME)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
