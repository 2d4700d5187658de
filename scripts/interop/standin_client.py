#!/usr/bin/env python3
"""Harness stand-in for `examples/client` (NOT the crate under test), following
the same stdin/stdout protocol, so scripts/interop.sh can be checked before the
example exists.  Built on `wsproto`, one thread, selectors over stdin and the
socket.

    python standin_client.py ws://127.0.0.1:PORT/PATH

stdin lines: `:bin N` (binary, byte i = i % 251), `:ping TEXT`, `:close CODE
[REASON]`, anything else (also an empty line) is a text message.  EOF: close
with 1000 and wait for the server's close.
stdout: `connected`, `text LEN TEXT`, `binary LEN FNV1A32HEX`, `pong LEN TEXT`,
`ping LEN`, `closed CODE REASON` (or `closed 1006`).  Exit 0 on a clean close.
"""
import os
import selectors
import socket
import sys
import time
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (AcceptConnection, BytesMessage, CloseConnection,
                            Ping, Pong, RejectConnection, Request, TextMessage)

LINGER = 5.0


def fnv1a32(data):
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def emit(text):
    sys.stdout.buffer.write(text.encode("utf-8") + b"\n")
    sys.stdout.buffer.flush()


class Client:
    def __init__(self, url):
        parts = urlsplit(url)
        if parts.scheme != "ws":
            sys.exit("only ws:// URLs")
        host = parts.hostname or "127.0.0.1"
        if not (host.startswith("127.") or host in ("localhost", "::1")):
            sys.exit("refusing non-loopback target %r" % host)
        port = parts.port or 80
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(self.conn.send(Request(host="%s:%d" % (host, port), target=target)))
        self.parts, self.kind = [], None
        self.open = False
        self.close_seen = None        # (code, reason) once the close handshake ended
        self.tcp_eof = False

    def send(self, event):
        self.sock.sendall(self.conn.send(event))

    def command(self, line):
        if self.conn.state is not ConnectionState.OPEN:
            return
        if line.startswith(":bin "):
            n = int(line[5:])
            self.send(BytesMessage(data=bytes(i % 251 for i in range(n))))
        elif line.startswith(":ping "):
            self.send(Ping(payload=line[6:].encode("utf-8")))
        elif line.startswith(":close "):
            code, _, reason = line[7:].partition(" ")
            self.send(CloseConnection(code=int(code), reason=reason))
        else:
            self.send(TextMessage(data=line))

    def on_socket(self):
        data = self.sock.recv(256 * 1024)
        if not data:
            self.tcp_eof = True
        if self.conn.state is ConnectionState.CLOSED:
            return
        self.conn.receive_data(data or None)
        for ev in self.conn.events():
            if isinstance(ev, AcceptConnection):
                self.open = True
                emit("connected" + (" subprotocol=%s" % ev.subprotocol if ev.subprotocol else ""))
            elif isinstance(ev, RejectConnection):
                emit("closed 1006")
                self.close_seen = (1006, "")
            elif isinstance(ev, (TextMessage, BytesMessage)):
                self.kind = type(ev)
                self.parts.append(ev.data)
                if ev.message_finished:
                    if self.kind is TextMessage:
                        text = "".join(self.parts)
                        emit("text %d %s" % (len(text.encode("utf-8")), text))
                    else:
                        blob = b"".join(self.parts)
                        emit("binary %d %08x" % (len(blob), fnv1a32(blob)))
                    self.parts = []
            elif isinstance(ev, Ping):
                emit("ping %d" % len(ev.payload))
                if self.conn.state is ConnectionState.OPEN:
                    self.send(ev.response())
            elif isinstance(ev, Pong):
                emit("pong %d %s" % (len(ev.payload), bytes(ev.payload).decode("utf-8", "replace")))
            elif isinstance(ev, CloseConnection):
                if ev.code == 1006 and not data:
                    self.close_seen = (1006, "")
                    emit("closed 1006")
                    return
                if self.conn.state is ConnectionState.REMOTE_CLOSING:
                    self.send(ev.response())
                elif self.conn.state is ConnectionState.OPEN:   # protocol error
                    self.send(CloseConnection(code=ev.code))
                self.close_seen = (ev.code, ev.reason or "")
                emit("closed %d %s" % (ev.code, ev.reason or ""))
                return


def main():
    client = Client(sys.argv[1])
    sel = selectors.DefaultSelector()
    sel.register(client.sock, selectors.EVENT_READ, "sock")
    stdin_fd = sys.stdin.fileno()
    pending = b""
    while not client.open and client.close_seen is None:
        client.on_socket()
    if client.close_seen is None:
        sel.register(stdin_fd, selectors.EVENT_READ, "stdin")
    deadline = None
    while True:
        if client.close_seen is not None or client.tcp_eof:
            break
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready = sel.select(timeout)
        if not ready and deadline is not None:
            break
        for key, _ in ready:
            if key.data == "sock":
                client.on_socket()
            else:
                chunk = os.read(stdin_fd, 65536)
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    client.command(line.decode("utf-8"))
                if not chunk:
                    if pending:
                        client.command(pending.decode("utf-8"))
                        pending = b""
                    sel.unregister(stdin_fd)
                    if client.conn.state is ConnectionState.OPEN:
                        client.send(CloseConnection(code=1000))
                    deadline = time.monotonic() + 30
    if client.close_seen is None:
        emit("closed 1006")
        sys.exit(1)
    # wait (bounded) for the server to close the TCP connection
    client.sock.settimeout(LINGER)
    try:
        while not client.tcp_eof and client.sock.recv(65536):
            pass
    except OSError:
        pass
    client.sock.close()
    sys.exit(0 if client.close_seen[0] != 1006 else 1)


if __name__ == "__main__":
    main()
