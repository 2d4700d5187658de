#!/usr/bin/env python3
"""Harness stand-in for `examples/autobahn_client` (NOT the crate under test).

    python standin_autobahn_client.py [URL] [AGENT]
        (defaults ws://127.0.0.1:9001 and "wstate")

Asks the fuzzing server for /getCaseCount, runs every case
(/runCase?case=i&agent=AGENT) echoing each message with its type, then calls
/updateReports?agent=AGENT and exits 0.  Built on `wsproto` with blocking
sockets; loopback targets only.  Leaves the TCP close to the server, as RFC 6455
section 7.1.1 asks of a client.
"""
import os
import socket
import sys
from urllib.parse import quote, urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (AcceptConnection, BytesMessage, CloseConnection,
                            Ping, RejectConnection, Request, TextMessage)

RECV_SIZE = 256 * 1024
READ_TIMEOUT = 60.0     # per recv(); the slowest 9.x case sends 16 MiB
LINGER = 5.0            # how long to wait for the server's TCP close


def endpoint(url):
    parts = urlsplit(url)
    if parts.scheme != "ws":
        sys.exit("only ws:// URLs are supported: %r" % url)
    host = parts.hostname or "127.0.0.1"
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        sys.exit("refusing non-loopback target %r" % host)
    return host, parts.port or 80


def extensions_to_offer():
    if os.environ.get("STANDIN_DEFLATE") == "1":
        from wsproto.extensions import PerMessageDeflate
        return [PerMessageDeflate()]
    return []


def session(addr, target, on_message):
    """Open one connection to `target`; call on_message(kind, data) for each
    complete message; the return value (or None) is sent back.  Returns the
    close code seen (1006 when the TCP connection ended without a close)."""
    sock = socket.create_connection(addr, timeout=READ_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = WSConnection(ConnectionType.CLIENT)
    host_header = "%s:%d" % addr
    sock.sendall(conn.send(Request(host=host_header, target=target,
                                   extensions=extensions_to_offer())))
    parts, kind, code = [], None, 1006
    try:
        while conn.state is not ConnectionState.CLOSED:
            data = sock.recv(RECV_SIZE)
            conn.receive_data(data if data else None)
            out = []
            for ev in conn.events():
                if isinstance(ev, RejectConnection):
                    raise SystemExit("handshake rejected for %s (status %s)" % (target, ev.status_code))
                if isinstance(ev, AcceptConnection):
                    continue
                if isinstance(ev, (TextMessage, BytesMessage)):
                    kind = type(ev)
                    parts.append(ev.data)
                    if ev.message_finished:
                        joined = "".join(parts) if kind is TextMessage else b"".join(parts)
                        parts = []
                        reply = on_message(kind, joined)
                        if reply is not None and conn.state is ConnectionState.OPEN:
                            out.append(conn.send(kind(data=reply)))
                elif isinstance(ev, Ping):
                    if conn.state is ConnectionState.OPEN:
                        out.append(conn.send(ev.response()))
                elif isinstance(ev, CloseConnection):
                    code = ev.code
                    if conn.state is ConnectionState.REMOTE_CLOSING:
                        out.append(conn.send(ev.response()))
                    elif conn.state is ConnectionState.OPEN:
                        out.append(conn.send(CloseConnection(code=ev.code)))
                    break
            if out:
                sock.sendall(b"".join(out))
            if not data or code != 1006:
                break
        # Wait (bounded) for the server to close TCP first.
        sock.settimeout(LINGER)
        try:
            while sock.recv(RECV_SIZE):
                pass
        except (socket.timeout, OSError):
            pass
    except (socket.timeout, OSError) as exc:
        sys.stderr.write("%s: %s\n" % (target, exc))
    finally:
        sock.close()
    return code


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:9001"
    agent = sys.argv[2] if len(sys.argv) > 2 else "wstate"
    addr = endpoint(url)
    count = []

    def take_count(kind, data):
        count.append(int(data))
        return None

    session(addr, "/getCaseCount", take_count)
    if not count:
        sys.exit("no case count received")
    total = count[0]
    print("%d cases" % total, flush=True)
    echo = lambda kind, data: data
    for i in range(1, total + 1):
        session(addr, "/runCase?case=%d&agent=%s" % (i, quote(agent)), echo)
    session(addr, "/updateReports?agent=%s" % quote(agent), lambda k, d: None)
    print("done", flush=True)


if __name__ == "__main__":
    main()
