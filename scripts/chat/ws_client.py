"""A minimal chat.v1 client for the chat checks: the opening handshake,
masked sends, frame reads. Standard library only (raw sockets, RFC 6455 by
hand)."""

import base64
import os
import socket
import struct
import threading


class Ws:
    """A minimal client: handshake, masked sends, frame reads.

    `extensions`: a Sec-WebSocket-Extensions offer to send; `head` is the
    101 response's head (status line and fields) as received."""

    def __init__(self, addr, rcvbuf=None, extensions=None):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        offer = f"Sec-WebSocket-Extensions: {extensions}\r\n" if extensions else ""
        self.sock.sendall(
            (
                f"GET /chat HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat.v1\r\n"
                f"{offer}\r\n"
            ).encode()
        )
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("closed during the handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode("latin-1")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"not upgraded: {head[:60]!r}")
        self.send_lock = threading.Lock()

    def header(self, name):
        """The 101's field `name` (the first), or None."""
        for line in self.head.split("\r\n")[1:]:
            field, _, value = line.partition(":")
            if field.strip().lower() == name.lower():
                return value.strip()
        return None

    def send(self, opcode, payload, rsv=0):
        """One final frame; `rsv` is ORed into the first byte (0x40: RSV1)."""
        mask = os.urandom(4)
        n = len(payload)
        b0 = 0x80 | rsv | opcode
        if n < 126:
            header = struct.pack("!BB", b0, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", b0, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", b0, 0x80 | 127, n)
        key = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
        with self.send_lock:
            self.sock.sendall(header + mask + masked)

    def send_text(self, text):
        self.send(0x1, text.encode())

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def close(self, code=1000):
        """The closing handshake: our Close, the frames up to the server's
        Close (or the end of the stream), then the socket closed."""
        self.send(0x8, struct.pack("!H", code))
        try:
            while self.frame()[0] != 0x8:
                pass
        except (EOFError, OSError):
            pass
        self.sock.close()

    def frame(self):
        """(opcode, payload) of the next frame (the server sends no fragments)."""
        _, opcode, payload = self.frame_bits()
        return opcode, payload

    def frame_bits(self):
        """(first byte, opcode, payload) of the next frame: the first byte
        holds FIN and the RSV bits (0x40: RSV1, compressed)."""
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(off + n)
        payload, self.buf = self.buf[off : off + n], self.buf[off + n :]
        return b0, b0 & 0x0F, payload
