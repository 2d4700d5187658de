#!/usr/bin/env python3
"""Break the protocol and keep sending: the server's Close must still arrive
(scripts/examples.sh).

    python3 close_after_error.py HOST:PORT [TRIALS]

Each trial (default 10) opens a raw TCP connection, completes the opening
handshake, then sends in one write an unmasked Binary frame (a client must
mask: the server fails the connection with 1002) followed by 256 KiB that
the server never reads as frames. A server that closes its socket with that
input unread makes the kernel send a reset, which can destroy its Close
frame before we read it. Here the Close frame must be read in full, code
1002, followed by an orderly end of stream (no reset). Prints one line per
trial and exits 0 only if every trial passed. Stdlib only, bounded: 10 s per
trial.
"""
import base64
import os
import socket
import struct
import sys


def read_until(sock, marker, limit=65536):
    data = b""
    while marker not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError("end of stream inside the response head")
        data += chunk
        if len(data) > limit:
            raise ValueError("response head too long")
    head, rest = data.split(marker, 1)
    return head, rest


def trial(host, port):
    sock = socket.create_connection((host, port), timeout=10)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                "GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n" % (host, port, key)
            ).encode()
        )
        head, rest = read_until(sock, b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            return "no 101: %r" % head[:40]
        # FIN + Binary, unmasked, 5 bytes; then input the server never parses.
        sock.sendall(b"\x82\x05hello" + b"\x00" * (256 << 10))
        data = rest
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            return "connection reset after %d bytes: %r" % (len(data), data[:8])
        if len(data) < 4 or data[0] != 0x88:
            return "no Close frame before the end of stream: %r" % data[:8]
        length = data[1] & 0x7F
        if length < 2 or len(data) < 2 + length:
            return "truncated Close frame: %r" % data[:8]
        (code,) = struct.unpack("!H", data[2:4])
        if code != 1002:
            return "Close code %d, want 1002" % code
        if len(data) != 2 + length:
            return "%d bytes after the Close frame" % (len(data) - 2 - length)
        return None
    finally:
        sock.close()


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    failures = 0
    for i in range(trials):
        try:
            problem = trial(host, int(port))
        except (OSError, EOFError, ValueError) as exc:
            problem = "%s: %s" % (type(exc).__name__, exc)
        if problem:
            failures += 1
            print("trial %d: %s" % (i + 1, problem), flush=True)
        else:
            print("trial %d: Close 1002 read, then an orderly end" % (i + 1), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
