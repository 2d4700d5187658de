#!/usr/bin/env python3
"""Harness stand-in for `examples/echo_server` (NOT the crate under test).

Used only to check that scripts/autobahn.sh and scripts/interop.sh work before
our own examples exist (or to compare against a reference).  Built on the
sans-IO library `wsproto` with plain blocking sockets, one thread per
connection.

    python standin_echo_server.py [ADDR]        (default 127.0.0.1:9001)

Echoes every message with its type, answers pings, answers a close with the
same code, fails the connection on a protocol error, prints one line per
connection.  Refuses to bind a non-loopback address.  Needs wsproto (installed
into the harness venv by the scripts).  With STANDIN_DEFLATE=1 it also accepts
permessage-deflate offers (for trying the 12.x/13.x mode of autobahn.sh).
"""
import os
import socket
import sys
import threading

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (AcceptConnection, BytesMessage, CloseConnection,
                            Ping, Request, TextMessage)
from wsproto.utilities import RemoteProtocolError

RECV_SIZE = 256 * 1024
IDLE_TIMEOUT = 120.0


def parse_addr(text):
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        sys.exit("standin_echo_server: only loopback addresses are allowed, got %r" % host)
    return host, int(port)


def extensions_to_offer():
    if os.environ.get("STANDIN_DEFLATE") == "1":
        from wsproto.extensions import PerMessageDeflate
        return [PerMessageDeflate()]
    return []


def serve_one(sock, peer, number):
    conn = WSConnection(ConnectionType.SERVER)
    parts = []            # pieces of the message being received
    kind = None           # TextMessage or BytesMessage while a message is open
    outcome = "eof"
    sock.settimeout(IDLE_TIMEOUT)
    try:
        while True:
            data = sock.recv(RECV_SIZE)
            conn.receive_data(data if data else None)
            out = []
            done = False
            for ev in conn.events():
                if isinstance(ev, Request):
                    out.append(conn.send(AcceptConnection(extensions=extensions_to_offer())))
                elif isinstance(ev, (TextMessage, BytesMessage)):
                    kind = type(ev)
                    parts.append(ev.data)
                    if ev.message_finished:
                        joined = "".join(parts) if kind is TextMessage else b"".join(parts)
                        out.append(conn.send(kind(data=joined)))
                        parts, kind = [], None
                elif isinstance(ev, Ping):
                    out.append(conn.send(ev.response()))
                elif isinstance(ev, CloseConnection):
                    if conn.state is ConnectionState.REMOTE_CLOSING:
                        out.append(conn.send(ev.response()))
                        outcome = "closed %s" % ev.code
                    elif conn.state is ConnectionState.OPEN:
                        # wsproto reports a protocol error as a close event
                        # while the state is still OPEN: fail the connection.
                        out.append(conn.send(CloseConnection(code=ev.code)))
                        outcome = "failed %s" % ev.code
                    done = True
                    break
            if out:
                sock.sendall(b"".join(out))
            if done or not data:
                break
    except RemoteProtocolError as exc:
        outcome = "bad handshake (%s)" % exc
        if exc.event_hint is not None:
            try:
                sock.sendall(conn.send(exc.event_hint))
            except Exception:
                pass
    except (OSError, socket.timeout) as exc:
        outcome = "io error (%s)" % exc
    finally:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
    print("connection %d from %s:%d: %s" % (number, peer[0], peer[1], outcome), flush=True)


def main():
    host, port = parse_addr(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9001")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    lsock = socket.socket(family, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((host, port))
    lsock.listen(64)
    print("standin echo server listening on ws://%s:%d" % (host, port), flush=True)
    count = 0
    while True:
        sock, peer = lsock.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        count += 1
        threading.Thread(target=serve_one, args=(sock, peer, count), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
