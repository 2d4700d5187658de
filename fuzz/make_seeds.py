#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz/corpus/ (RFC 6455 examples and one
input per class of malformed input). Re-run after changing an input format in
tests/fuzz_props/<target>.rs; files the fuzzer found are kept as they are.

Input formats (see tests/fuzz_props/<target>.rs):
  frame_header  raw header bytes
  receive       setup (5 bytes) + stream; setup byte 4 = read size (0: whole)
  chunking      setup (5 bytes, byte 4 = split count) + u16 BE splits + stream
  utf8          split count + split bytes + text
  timers        timer setup (5 bytes) + script (see timer_seeds below)
  extensions    mode + server config (3) + client config (3) + header value
  deflate_receive  flags + split count + u16 BE splits + body (see
                deflate_receive_seeds below)
  deflate_release  setup + policy + steps (see deflate_release_seeds below)
Setup byte 0: 0x01 client, 0x02 auto-pong off, 0x04 EOF at the end,
0x08 small limits (byte 1 = max frame / 4, byte 2 = max message / 8,
byte 3 = max fragments), 0x10 we send Close 1000 and a Ping before the stream,
0x20 also received in parts (bits 0xC0: parts of at most 4, 7, 16, 1024 bytes).
"""

import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = bytes([0x37, 0xFA, 0x21, 0x3D])  # RFC 6455 section 5.7


def frame(b0, payload, mask=None, length=None):
    """One frame; `length` overrides the encoded length form."""
    n = len(payload) if length is None else length
    bit = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, bit | n])
    elif n <= 0xFFFF:
        head = bytes([b0, bit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, bit | 127]) + struct.pack(">Q", n)
    if mask:
        head += mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + payload


def c2s(b0, payload=b"", length=None):
    """A frame as a client sends it: masked."""
    return frame(b0, payload, KEY, length)


def s2c(b0, payload=b"", length=None):
    """A frame as a server sends it: unmasked."""
    return frame(b0, payload, None, length)


def close(code, reason=b""):
    return struct.pack(">H", code) + reason


SERVER, CLIENT, NO_PONG, EOF, LIMITS, WE_CLOSE = 0x00, 0x01, 0x02, 0x04, 0x08, 0x10


def setup(flags=SERVER, frame_max=0, message_max=0, fragments=0, extra=0):
    return bytes([flags, frame_max, message_max, fragments, extra])


# Byte streams into an open connection: name -> (setup flags, limits, stream).
STREAMS = {
    # RFC 6455 section 5.7 examples.
    "server-rfc5.7-masked-text-hello": (SERVER, (), bytes.fromhex("818537fa213d7f9f4d5158")),
    "client-rfc5.7-unmasked-text-hello": (CLIENT, (), bytes.fromhex("810548656c6c6f")),
    "client-rfc5.7-fragmented-text-hello": (CLIENT, (), bytes.fromhex("010348656c80026c6f")),
    "client-rfc5.7-unmasked-ping-hello": (CLIENT, (), bytes.fromhex("890548656c6c6f")),
    "server-rfc5.7-masked-pong-hello": (SERVER, (), bytes.fromhex("8a8537fa213d7f9f4d5158")),
    "client-rfc5.7-binary-256-bytes": (CLIENT, (), s2c(0x82, bytes(range(256)))),
    "client-rfc5.7-binary-64k-header-then-eof": (
        CLIENT | EOF, (), bytes.fromhex("827f0000000000010000") + b"partial"),
    # Well-formed conversations.
    "server-fragmented-text-with-ping-and-pong-inside": (SERVER, (), b"".join([
        c2s(0x01, b"frag"), c2s(0x89, b"ping"), c2s(0x00, b""),
        c2s(0x8A, b"pong"), c2s(0x80, "ment-\u03ba\u03cc".encode())])),
    "server-utf8-char-split-across-fragments": (SERVER, (), c2s(0x01, b"\xf0\x9f") + c2s(0x80, b"\x98\x80")),
    "server-empty-messages": (SERVER, (), c2s(0x81) + c2s(0x82) + c2s(0x01) + c2s(0x80)),
    "server-close-1000-with-reason": (SERVER, (), c2s(0x88, close(1000, b"bye"))),
    "server-close-without-code": (SERVER, (), c2s(0x88)),
    "client-close-4999-then-data-ignored": (CLIENT, (), s2c(0x88, close(4999)) + s2c(0x81, b"late")),
    "server-ping-with-auto-pong-off": (SERVER | NO_PONG, (), c2s(0x89, b"x")),
    "server-eof-inside-a-frame": (SERVER | EOF, (), c2s(0x81, b"hello")[:5]),
    "server-eof-inside-a-fragmented-message": (SERVER | EOF, (), c2s(0x01, b"part")),
    "client-text-then-eof": (CLIENT | EOF, (), s2c(0x81, b"hi")),
    "server-limits-message-exactly-at-limit": (SERVER | LIMITS, (4, 1, 2), c2s(0x01, b"1234") + c2s(0x80, b"5678")),
    # After our Close: Pings still answered, data still delivered, no echo.
    "server-we-closed-ping-data-then-close": (SERVER | WE_CLOSE, (), c2s(0x89, b"ping") + c2s(0x81, b"late data") + c2s(0x88, close(1000))),
    "client-we-closed-close-without-code-then-eof": (CLIENT | WE_CLOSE | EOF, (), s2c(0x8A, b"pong") + s2c(0x88)),
    "client-we-closed-then-eof": (CLIENT | WE_CLOSE | EOF, (), s2c(0x89, b"p")),
    "malformed-we-closed-bad-frame-no-second-close": (CLIENT | WE_CLOSE, (), c2s(0x81, b"masked")),
    # One per class of malformed input (server role unless named).
    "malformed-reserved-opcode-3": (SERVER, (), c2s(0x83, b"x")),
    "malformed-reserved-opcode-b-control": (SERVER, (), c2s(0x8B)),
    "malformed-rsv1-without-extension": (SERVER, (), c2s(0xC1, b"x")),
    "malformed-rsv3-on-continuation": (SERVER, (), c2s(0x01, b"a") + c2s(0x90, b"b")),
    "malformed-fragmented-ping": (SERVER, (), c2s(0x09, b"x")),
    "malformed-ping-126-bytes": (SERVER, (), c2s(0x89, bytes(126))),
    "malformed-length-msb-set": (CLIENT, (), bytes.fromhex("827f8000000000000000")),
    "malformed-continuation-length-all-ones": (SERVER, (), c2s(0x01, b"a") + bytes.fromhex("80ff") + b"\xff" * 8 + KEY),
    "malformed-length-2pow63-minus-1-refused-before-alloc": (CLIENT, (), bytes.fromhex("827f7fffffffffffffff")),
    "malformed-non-minimal-16-bit-length": (CLIENT, (), bytes.fromhex("827e007d") + bytes(125)),
    "malformed-non-minimal-64-bit-length": (CLIENT, (), bytes.fromhex("827f000000000000ffff")),
    "malformed-continuation-without-message": (SERVER, (), c2s(0x80, b"x")),
    "malformed-new-message-inside-fragmented": (SERVER, (), c2s(0x01, b"a") + c2s(0x81, b"b")),
    "malformed-server-receives-unmasked": (SERVER, (), s2c(0x81, b"hi")),
    "malformed-client-receives-masked": (CLIENT, (), c2s(0x81, b"hi")),
    "malformed-invalid-utf8-text": (SERVER, (), c2s(0x81, b"ok\xff")),
    "malformed-invalid-utf8-fails-before-fin": (SERVER, (), c2s(0x01, "\u03ba\u03cc".encode() + b"\xf4\x90") + c2s(0x80, b"ok")),
    "malformed-utf8-truncated-at-fin": (SERVER, (), c2s(0x01, b"a") + c2s(0x80, b"\xe2\x82")),
    "malformed-utf8-surrogate": (CLIENT, (), s2c(0x81, b"\xed\xa0\x80")),
    "malformed-close-1-byte-payload": (SERVER, (), c2s(0x88, b"\x03")),
    "malformed-close-code-1005": (SERVER, (), c2s(0x88, close(1005))),
    "malformed-close-code-999": (SERVER, (), c2s(0x88, close(999))),
    "malformed-close-code-5000": (CLIENT, (), s2c(0x88, close(5000))),
    "malformed-close-reason-invalid-utf8": (SERVER, (), c2s(0x88, close(1000, b"\xc3\x28"))),
    "malformed-frame-over-max-frame-size": (SERVER | LIMITS, (2, 255, 255), c2s(0x82, bytes(9))),
    "malformed-message-over-max-message-size": (SERVER | LIMITS, (255, 1, 255), c2s(0x02, bytes(5)) + c2s(0x80, bytes(5))),
    "malformed-too-many-fragments": (SERVER | LIMITS, (255, 255, 2), c2s(0x01) + c2s(0x00) + c2s(0x00) + c2s(0x80)),
    "malformed-ping-over-small-max-frame-size": (SERVER | LIMITS, (1, 255, 255), c2s(0x89, b"hello")),
}


class Arb:
    """Builds input that `arbitrary` 1.x decodes to a chosen value: fixed-size
    values from the front, little-endian; string lengths from the back (one
    byte while at most 256 bytes remain, else two: see `data`);
    collections as a "more" flag before each element."""

    def __init__(self):
        self.front = bytearray()
        self.back = []

    def bool(self, v):
        self.front.append(1 if v else 0)

    def int(self, v, size):
        self.front += v.to_bytes(size, "little")

    def variant(self, index, count):
        x = -(-index * 2**32 // count)
        assert (x * count) >> 32 == index
        self.int(x, 4)

    def byte_vec(self, data):
        for b in data:
            self.bool(True)
            self.int(b, 1)
        self.bool(False)

    def string(self, text):
        data = text.encode()
        # The size is encoded in `data()`, once the total length is known:
        # remember where in the front stream it is read.
        self.back.append((len(self.front), len(data)))
        self.front += data

    def data(self):
        """Front bytes, then the sizes from the end. A size takes 1 byte
        while at most 256 bytes remain when it is read, else 2 (big-endian,
        up to 65,537): the widths depend on the total, so iterate."""
        widths = [1] * len(self.back)
        while True:
            total = len(self.front) + sum(widths)
            remaining, new = total, []
            consumed_front = 0
            for (at, n), w in zip(self.back, widths):
                remaining -= at - consumed_front
                consumed_front = at
                width = 1 if remaining <= 256 else 2
                new.append(width)
                remaining -= width
            if new == widths:
                break
            widths = new
        sizes = [n.to_bytes(w, "big") for (_, n), w in zip(self.back, widths)]
        return bytes(self.front) + b"".join(reversed(sizes))


# Op variants of `Op` and `Piece`, in declaration order.
TEXT, BINARY, PING, PONG, FRAGMENTED, CLOSE = range(6)
DATA, P_PING, P_PONG, MISUSE = range(4)
WHOLE_MESSAGE, OTHER_TYPE, CONTROL_FRAGMENT = range(3)


def conversation(client_sends, ops, limits=None, seed=0x12345678):
    a = Arb()
    a.bool(client_sends)
    a.int(seed, 4)
    a.bool(limits is not None)
    if limits:
        a.int(limits[0], 2)
        a.int(limits[1], 2)
        a.int(limits[2], 1)
    for op in ops:
        a.bool(True)
        kind = op[0]
        a.variant(kind, 6)
        if kind == TEXT:
            a.string(op[1])
        elif kind in (BINARY, PING, PONG):
            a.byte_vec(op[1])
        elif kind == FRAGMENTED:
            _, text, pieces, last = op
            a.bool(text)
            for piece in pieces:
                a.bool(True)
                a.variant(piece[0], 4)
                if piece[0] == MISUSE:
                    a.variant(piece[1], 3)
                else:
                    a.byte_vec(piece[1])
            a.bool(False)
            a.byte_vec(last)
        elif kind == CLOSE:
            a.int(op[1], 2)
            a.string(op[2])
    return a.data()


CONVERSATIONS = {
    "client-sends-each-kind-then-closes": (True, [
        (TEXT, "Hello"), (BINARY, b"\x00\xff"), (PING, b"hi"), (PONG, b""),
        (CLOSE, 1000, "bye")]),
    "server-sends-each-kind-then-closes": (False, [
        (TEXT, "\u03ba\u03cc\u03c3\u03bc\u03b5"), (BINARY, b""), (PING, b""),
        (CLOSE, 4000, "")]),
    "client-fragmented-text-with-ping-and-pong-inside": (True, [
        (FRAGMENTED, True, [(DATA, b"Hel"), (P_PING, b"p"), (DATA, b""), (P_PONG, b"q")], b"lo")]),
    "server-fragmented-binary-with-every-misuse": (False, [
        (FRAGMENTED, False, [(MISUSE, OTHER_TYPE), (DATA, b"\x01"), (MISUSE, WHOLE_MESSAGE),
                             (MISUSE, OTHER_TYPE), (MISUSE, CONTROL_FRAGMENT)], b"\x02")]),
    "sends-after-close-are-refused": (True, [
        (CLOSE, 1001, ""), (TEXT, "late"), (PING, b""), (CLOSE, 1000, "")]),
    "close-with-unsendable-codes-refused": (False, [
        (CLOSE, 1005, ""), (CLOSE, 1006, ""), (CLOSE, 999, ""), (CLOSE, 5000, ""), (TEXT, "still open")]),
    "ping-payload-over-125-refused": (True, [(PING, bytes(126)), (PING, bytes(125))]),
}

LIMITED = {
    # (frame, message, fragments) limits of the receiver.
    "receiver-frame-limit-exceeded": (True, [(TEXT, "abc"), (TEXT, "abcdef"), (TEXT, "x")], (4, 100, 10)),
    "receiver-message-limit-exceeded-by-fragments": (False, [
        (FRAGMENTED, False, [(DATA, b"1234"), (DATA, b"5678")], b"9")], (100, 8, 10)),
    "receiver-fragment-limit-exceeded": (True, [
        (FRAGMENTED, True, [(DATA, b"a"), (DATA, b"b")], b"c"), (TEXT, "gone")], (100, 100, 2)),
    "receiver-ping-over-frame-limit": (False, [(PING, b"hello"), (CLOSE, 1000, "")], (4, 100, 10)),
    "receiver-close-over-frame-limit": (True, [(CLOSE, 1000, "a long reason")], (8, 100, 10)),
}


# The opening handshake (RFC 6455 section 1.2/1.3 example).
RFC_REQUEST_LINES = [
    "GET /chat HTTP/1.1",
    "Host: server.example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Origin: http://example.com",
    "Sec-WebSocket-Protocol: chat, superchat",
    "Sec-WebSocket-Version: 13",
]
RFC_RESPONSE_LINES = [
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
]


def head(lines, drop=(), replace=None, add=()):
    """An HTTP head from lines, dropping lines that start with `drop`,
    replacing {prefix: line} and appending `add`."""
    replace = replace or {}
    out = []
    for line in lines:
        if any(line.startswith(d) for d in drop):
            continue
        for prefix, new in replace.items():
            if line.startswith(prefix):
                line = new
        out.append(line)
    out.extend(add)
    return ("\r\n".join(out) + "\r\n\r\n").encode()


# handshake_server flags: 0x01 EOF, 0x02 reject (status 150 + 2 * byte 4),
# 0x04 accept with the first subprotocol, 0x08 small limits, 0x10 extra
# header, 0x20 accept before the request (refused).
HS_EOF, HS_REJECT, HS_SUBPROTOCOL, HS_LIMITS, HS_HEADER, HS_EARLY = 1, 2, 4, 8, 16, 32
REQ = head(RFC_REQUEST_LINES)
SERVER_HANDSHAKES = {
    "rfc1.2-request-accepted": (0, REQ),
    "rfc1.2-request-accepted-with-subprotocol-and-header": (HS_SUBPROTOCOL | HS_HEADER, REQ),
    "rfc1.2-request-in-7-byte-reads": (HS_SUBPROTOCOL, REQ, 7),
    "request-then-frames-in-the-same-read": (0, REQ + c2s(0x81, b"Hello") + c2s(0x89, b"p") + c2s(0x88, close(1000))),
    "request-then-bad-frame": (0, REQ + s2c(0x81, b"unmasked")),
    "request-then-eof": (HS_EOF, REQ),
    "request-rejected-404": (HS_REJECT, REQ, 0, 127),
    "request-rejected-with-invalid-status": (HS_REJECT, REQ, 0, 0),
    "request-unanswered-then-eof": (HS_REJECT | HS_EOF, REQ, 0, 0),
    "request-unanswered-then-early-frames-in-9-byte-reads": (HS_REJECT, REQ + c2s(0x81, b"early") + c2s(0x89), 9, 0),
    "accept-before-request-refused": (HS_EARLY, REQ),
    "minimal-request-lowercase-names": (0, head(["GET / HTTP/1.1", "host: h", "upgrade: WebSocket",
                                                "connection: keep-alive, upgrade",
                                                "sec-websocket-key: AAAAAAAAAAAAAAAAAAAAAA==",
                                                "sec-websocket-version: 13"])),
    "malformed-method-post": (0, head(RFC_REQUEST_LINES, replace={"GET": "POST /chat HTTP/1.1"})),
    "malformed-http-1.0": (0, head(RFC_REQUEST_LINES, replace={"GET": "GET /chat HTTP/1.0"})),
    "malformed-request-line": (0, head(RFC_REQUEST_LINES, replace={"GET": "GET  /chat HTTP/1.1"})),
    "malformed-missing-host": (0, head(RFC_REQUEST_LINES, drop=("Host",))),
    "malformed-missing-upgrade": (0, head(RFC_REQUEST_LINES, drop=("Upgrade",))),
    "malformed-missing-connection-upgrade": (0, head(RFC_REQUEST_LINES, replace={"Connection": "Connection: keep-alive"})),
    "malformed-key-not-16-bytes": (0, head(RFC_REQUEST_LINES, replace={"Sec-WebSocket-Key": "Sec-WebSocket-Key: dGhlIHNhbXBsZQ=="})),
    "malformed-key-non-canonical-base64": (0, head(RFC_REQUEST_LINES, replace={"Sec-WebSocket-Key": "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR=="})),
    "malformed-two-keys": (0, head(RFC_REQUEST_LINES, add=["Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="])),
    "malformed-version-8-gets-426": (0, head(RFC_REQUEST_LINES, replace={"Sec-WebSocket-Version": "Sec-WebSocket-Version: 8"})),
    "malformed-folded-header": (0, head(RFC_REQUEST_LINES, add=[" folded"])),
    "malformed-header-without-colon": (0, head(RFC_REQUEST_LINES, add=["NoColon"])),
    "malformed-header-name-with-space": (0, head(RFC_REQUEST_LINES, add=["Bad Name: x"])),
    "malformed-head-over-max-handshake-size": (HS_LIMITS, REQ, 0, 0, (8, 64)),
    "malformed-too-many-headers": (HS_LIMITS, REQ, 0, 0, (255, 3)),
    "malformed-eof-inside-head": (HS_EOF, REQ[:40]),
    "malformed-binary-garbage": (0, bytes(range(256))),
    # The strict handshake (RFC 9110/9112 MUSTs): one seed per refusal.
    "malformed-content-length-11-with-body": (0, head(RFC_REQUEST_LINES, add=["Content-Length: 11"]) + b"hello world"),
    "malformed-transfer-encoding-chunked": (0, head(RFC_REQUEST_LINES, add=["Transfer-Encoding: chunked"]) + b"0\r\n\r\n"),
    "request-content-length-0-accepted": (0, head(RFC_REQUEST_LINES, add=["Content-Length: 0"])),
    "malformed-host-with-comma": (0, head(RFC_REQUEST_LINES, replace={"Host": "Host: a,b"})),
    "malformed-host-unclosed-ipv6": (0, head(RFC_REQUEST_LINES, replace={"Host": "Host: [::1"})),
    "malformed-host-port-not-a-number": (0, head(RFC_REQUEST_LINES, replace={"Host": "Host: example.com:port"})),
    "malformed-host-empty": (0, head(RFC_REQUEST_LINES, replace={"Host": "Host: "})),
    "malformed-target-asterisk": (0, head(RFC_REQUEST_LINES, replace={"GET": "GET * HTTP/1.1"})),
    "malformed-target-authority-form": (0, head(RFC_REQUEST_LINES, replace={"GET": "GET example.com:80 HTTP/1.1"})),
    "malformed-target-relative": (0, head(RFC_REQUEST_LINES, replace={"GET": "GET chat HTTP/1.1"})),
    "malformed-target-fragment": (0, head(RFC_REQUEST_LINES, replace={"GET": "GET /chat#frag HTTP/1.1"})),
    "malformed-target-userinfo": (0, head(RFC_REQUEST_LINES, replace={"GET": "GET ws://u@example.com/ HTTP/1.1"})),
    "malformed-target-too-long-gets-414": (0, head(RFC_REQUEST_LINES, replace={"GET": "GET /" + "a" * 9000 + " HTTP/1.1"})),
    "request-absolute-form-accepted": (HS_SUBPROTOCOL, head(RFC_REQUEST_LINES, replace={"GET": "GET ws://example.com:8080/chat?x=1 HTTP/1.1"})),
    "malformed-http-2.0-gets-505": (0, head(RFC_REQUEST_LINES, replace={"GET": "GET /chat HTTP/2.0"})),
    "request-http-1.2-accepted": (0, head(RFC_REQUEST_LINES, replace={"GET": "GET /chat HTTP/1.2"})),
    "malformed-subprotocol-repeated": (0, head(RFC_REQUEST_LINES, replace={"Sec-WebSocket-Protocol": "Sec-WebSocket-Protocol: chat, chat"})),
    "malformed-subprotocol-not-a-token": (0, head(RFC_REQUEST_LINES, replace={"Sec-WebSocket-Protocol": "Sec-WebSocket-Protocol: \"chat\""})),
    "malformed-bare-lf": (0, REQ.replace(b"\r\n", b"\n")),
    "request-after-empty-lines-accepted": (HS_SUBPROTOCOL, b"\r\n\r\n" + REQ),
    "request-upgrade-list-accepted": (0, head(RFC_REQUEST_LINES, replace={"Upgrade": "Upgrade: h2c, websocket"})),
    "request-expect-100-continue-accepted": (0, head(RFC_REQUEST_LINES, add=["Expect: 100-continue"])),
    "request-expect-100-continue-rejected-without-100": (HS_REJECT, head(RFC_REQUEST_LINES, add=["Expect: 100-continue"]), 0, 127),
    "request-expect-100-continue-with-subprotocol": (HS_SUBPROTOCOL, head(RFC_REQUEST_LINES, add=["Expect: 100-Continue"])),
    "request-rejected-426-with-upgrade": (HS_REJECT, REQ, 0, 138),
    "request-rejected-204-with-body-refused": (HS_REJECT, REQ, 0, 27),
    "request-rejected-304-with-body-refused": (HS_REJECT, REQ, 0, 77),
}

# handshake_client flags: 0x01 EOF, 0x06 subprotocols offered (0 none,
# 2 [chat], 4 [chat, superchat], 6 [v1.chat, v2.chat, chat]), 0x08 small limits.
HC_EOF, HC_CHAT, HC_CHAT_SUPERCHAT, HC_THREE, HC_LIMITS = 1, 2, 4, 6, 8
RESP = head(RFC_RESPONSE_LINES)
CLIENT_HANDSHAKES = {
    "rfc1.3-response-accepted": (0, RESP),
    "rfc1.3-response-with-subprotocol-chat": (HC_CHAT_SUPERCHAT, head(RFC_RESPONSE_LINES, add=["Sec-WebSocket-Protocol: chat"])),
    "rfc1.3-response-in-5-byte-reads": (HC_THREE, RESP, 5),
    "response-then-frames-in-the-same-read": (0, RESP + s2c(0x81, b"Hello") + s2c(0x89, b"p") + s2c(0x88, close(1001))),
    "response-then-masked-frame": (0, RESP + c2s(0x81, b"masked")),
    "response-then-eof": (HC_EOF, RESP),
    "response-lowercase-and-extra-headers": (0, head(["HTTP/1.1 101 ok", "upgrade: WEBSOCKET", "connection: upgrade",
                                                      "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "Server: x"])),
    "rejected-403-with-body": (0, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno"),
    "rejected-403-invalid-content-length-too-many-headers": (HC_LIMITS, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2x\r\n\r\nno", 0, (255, 0)),
    "rejected-403-content-length-0-then-bytes": (0, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\nno"),
    "rejected-403-content-length-list-of-one-value": (0, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2, 02\r\nContent-Length: 2\r\n\r\nnoXX"),
    "rejected-403-content-lengths-differ-reported-at-once": (0, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"),
    "rejected-403-folded-content-length-reported-at-once": (0, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 1\r\n x\r\n\r\nno"),
    "rejected-301-redirect": (0, head(["HTTP/1.1 301 Moved Permanently", "Location: wss://example.com/"])),
    "rejected-301-redirect-body-until-eof": (HC_EOF, head(["HTTP/1.1 301 Moved Permanently", "Location: wss://example.com/"]) + b"moved"),
    "rejected-204-without-body": (0, b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n"),
    "rejected-body-over-max-handshake-size": (HC_LIMITS, b"HTTP/1.1 403 Forbidden\r\n\r\n" + b"x" * 100, 3, (8, 64)),
    "malformed-wrong-accept": (0, head(RFC_RESPONSE_LINES, replace={"Sec-WebSocket-Accept": "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA="})),
    "malformed-two-accepts": (0, head(RFC_RESPONSE_LINES, add=["Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="])),
    "malformed-missing-upgrade": (0, head(RFC_RESPONSE_LINES, drop=("Upgrade",))),
    "malformed-missing-connection": (0, head(RFC_RESPONSE_LINES, drop=("Connection",))),
    "malformed-subprotocol-not-offered": (HC_CHAT, head(RFC_RESPONSE_LINES, add=["Sec-WebSocket-Protocol: superchat"])),
    "malformed-subprotocol-when-none-offered": (0, head(RFC_RESPONSE_LINES, add=["Sec-WebSocket-Protocol: chat"])),
    # The strict handshake: 1xx skipped, obs-fold unfolded, exact Upgrade.
    "interim-100-and-103-then-101-accepted": (0, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" + RESP + s2c(0x81, b"Hello")),
    "interim-100-then-403": (0, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno"),
    "interim-responses-over-max-handshake-size": (HC_LIMITS, b"HTTP/1.1 100 Continue\r\n\r\n" * 4, 0, (8, 64)),
    "response-obs-fold-accepted": (0, head(RFC_RESPONSE_LINES, replace={"Upgrade": "Upgrade:\r\n websocket"}, add=["X-Long: a", "\tb"])),
    "malformed-whitespace-before-first-field": (0, head(RFC_RESPONSE_LINES, replace={"Upgrade": " Upgrade: websocket"})),
    "malformed-upgrade-list-in-101": (0, head(RFC_RESPONSE_LINES, replace={"Upgrade": "Upgrade: websocket, h2c"})),
    "malformed-two-upgrade-lines": (0, head(RFC_RESPONSE_LINES, add=["Upgrade: h2c"])),
    "response-http-1.2-accepted": (0, head(RFC_RESPONSE_LINES, replace={"HTTP/1.1": "HTTP/1.2 101 Switching Protocols"})),
    "malformed-http-2.0": (0, head(RFC_RESPONSE_LINES, replace={"HTTP/1.1": "HTTP/2.0 101 Switching Protocols"})),
    "response-101-with-content-length-then-frame": (0, head(RFC_RESPONSE_LINES, add=["Content-Length: 11"]) + s2c(0x81, b"hello world")),
    "malformed-bare-lf": (0, RESP.replace(b"\r\n", b"\n")),
    "malformed-two-subprotocols": (HC_CHAT_SUPERCHAT, head(RFC_RESPONSE_LINES, add=["Sec-WebSocket-Protocol: chat, superchat"])),
    "malformed-extension-not-offered": (0, head(RFC_RESPONSE_LINES, add=["Sec-WebSocket-Extensions: permessage-deflate"])),
    "malformed-http-1.0": (0, head(RFC_RESPONSE_LINES, replace={"HTTP/1.1": "HTTP/1.0 101 Switching Protocols"})),
    "malformed-status-line": (0, head(RFC_RESPONSE_LINES, replace={"HTTP/1.1": "HTTP/1.1 1O1 Switching"})),
    "malformed-head-over-max-handshake-size": (HC_LIMITS, RESP, 0, (8, 64)),
    "malformed-too-many-headers": (HC_LIMITS, RESP, 0, (255, 2)),
    "malformed-eof-inside-head": (HC_EOF, RESP[:30]),
}


def caller_request(host, path, subprotocols=(), headers=()):
    """A `CallerRequest` for the client_request target."""
    a = Arb()
    a.string(host)
    a.string(path)
    for p in subprotocols:
        a.bool(True)
        a.string(p)
    a.bool(False)
    for name, value in headers:
        a.bool(True)
        a.string(name)
        a.string(value)
    return a.data()


CALLER_REQUESTS = {
    "rfc1.2-request": ("server.example.com", "/chat", ["chat", "superchat"], [("Origin", "http://example.com")]),
    "minimal": ("h", "/"),
    "query-and-port": ("example.com:8080", "/a/b?c=d&e", [], [("Authorization", "Bearer x"), ("Cookie", "a=b; c=d")]),
    "refused-header-injection-in-value": ("h", "/", [], [("X-A", "1\r\nX-Injected: 2")]),
    "refused-header-injection-in-name": ("h", "/", [], [("X-A: 1\r\nX-B", "2")]),
    "refused-host-with-space": ("a b", "/"),
    "refused-host-with-crlf": ("h\r\nX-Injected: 1", "/"),
    "refused-empty-host": ("", "/"),
    "refused-path-without-slash": ("h", "chat"),
    "refused-path-with-space": ("h", "/a b"),
    "refused-empty-subprotocol": ("h", "/", [""]),
    "refused-subprotocol-with-comma": ("h", "/", ["a,b"]),
    "repeated-key-header": ("h", "/", [], [("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==")]),
    "host-with-tab-and-non-ascii": ("\tex\u00e4mple", "/"),
    "seventy-caller-headers-over-default-max-headers": ("example.com", "/", [], [(f"X-{i}", "v") for i in range(70)]),
    "refused-reserved-header-upgrade": ("h", "/", [], [("Upgrade", "h2c")]),
    "refused-reserved-header-content-length": ("h", "/", [], [("Content-Length", "0")]),
    "refused-repeated-subprotocol": ("h", "/", ["chat", "chat"]),
    "refused-host-with-comma": ("a,b", "/"),
    "refused-path-with-brace": ("h", "/a{b}"),
}


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    for name, (flags, limits, stream) in STREAMS.items():
        head = setup(flags, *limits) if limits else setup(flags)
        write("receive", name, head + stream)
        # The same stream read 3 bytes at a time.
        if name.startswith(("server-rfc", "server-fragmented", "malformed-invalid-utf8")):
            write("receive", name + "-3-byte-reads", head[:4] + b"\x03" + stream)
        # For chunking: split at three points spread over the stream.
        n = len(stream)
        splits = [1, n // 2, max(n - 1, 0)]
        write("chunking", name, head[:4] + bytes([len(splits)])
              + b"".join(struct.pack(">H", s) for s in splits) + stream)

    headers = {
        "rfc5.7-masked-text-hello": bytes.fromhex("818537fa213d"),
        "rfc5.7-unmasked-ping": bytes.fromhex("8905"),
        "rfc5.7-binary-256-16-bit-length": bytes.fromhex("827e0100"),
        "rfc5.7-binary-64k-64-bit-length": bytes.fromhex("827f0000000000010000"),
        "max-length-masked": bytes.fromhex("82ff7fffffffffffffff01020304"),
        "continuation-rsv-all-set": bytes.fromhex("70 00".replace(" ", "")),
        "partial-16-bit-length": bytes.fromhex("827e01"),
        "partial-mask-key": bytes.fromhex("81853737"),
        "malformed-reserved-opcode": bytes.fromhex("8300"),
        "malformed-fragmented-close": bytes.fromhex("0800"),
        "malformed-control-length-126": bytes.fromhex("89fe0000"),
        "malformed-length-msb-set": bytes.fromhex("827f8000000000000000"),
        "malformed-non-minimal-16": bytes.fromhex("827e007d"),
        "malformed-non-minimal-64": bytes.fromhex("827f000000000000ffff"),
    }
    for name, data in headers.items():
        write("frame_header", name, data)

    texts = {
        "ascii-unsplit": (b"", b"Hello"),
        "kosme-split-inside-chars": (bytes([3, 2, 5]), "\u03ba\u1f79\u03c3\u03bc\u03b5".encode()),
        "emoji-split-at-every-byte": (bytes([1, 2, 3]), "\U0001F600".encode()),
        "max-code-point": (bytes([2]), b"\xf4\x8f\xbf\xbf"),
        "above-max-code-point": (bytes([1]), b"\xf4\x90\x80\x80"),
        "surrogate": (bytes([1]), b"\xed\xa0\x80"),
        "overlong-2-byte": (b"", b"\xc0\xaf"),
        "overlong-3-byte": (bytes([2]), b"\xe0\x80\xaf"),
        "truncated-at-end": (bytes([3]), b"\xce\xba\xe1\xbd"),
        "lone-continuation": (b"", b"a\x80b"),
        "five-byte-form": (bytes([1]), b"\xf8\x88\x80\x80\x80"),
        "bad-byte-after-valid-prefix-in-later-piece": (bytes([6]), "\u03ba\u03cc".encode() + b"\xf4\x90"),
    }
    for name, (splits, text) in texts.items():
        write("utf8", name, bytes([len(splits)]) + splits + text)

    for name, spec in SERVER_HANDSHAKES.items():
        flags, stream, read, status, limits = spec + (None, None, 0, 0, (0, 0))[len(spec):]
        write("handshake_server", name, bytes([flags, limits[0], limits[1], read, status]) + stream)
    for name, spec in CLIENT_HANDSHAKES.items():
        flags, stream, read, limits = spec + (None, None, 0, (0, 0))[len(spec):]
        write("handshake_client", name, bytes([flags, limits[0], limits[1], read, 0]) + stream)

    for name, spec in CALLER_REQUESTS.items():
        write("client_request", name, caller_request(*spec))

    for name, (client_sends, ops) in CONVERSATIONS.items():
        write("roundtrip", name, conversation(client_sends, ops))
    for name, (client_sends, ops, limits) in LIMITED.items():
        write("roundtrip", name, conversation(client_sends, ops, limits))

    timer_seeds()
    extensions_seeds()
    deflate_receive_seeds()
    deflate_release_seeds()
    parts_seeds()
    oracle_seeds()


# ---------------------------------------------------------------------------
# timers: setup byte 0 flags (0x01 client, 0x02 with the opening handshake,
# 0x04 EOF at the end, 0x08 any_data, 0x10 fixed_interval, 0x20 no
# keepalive, 0x40 accept at the next time step); bytes 1-4: handshake
# timeout, keepalive interval, keepalive timeout, close timeout, in 10 ms
# (0: none). Script: 0xff n = +n ms, 0xfc n = +100n ms, 0xfe n = a time n ms
# back, 0xfd = we close, other h = the next h bytes from the peer.
# ---------------------------------------------------------------------------

T_HANDSHAKE, T_ANY, T_FIXED, T_NO_KA, T_DEFER = 0x02, 0x08, 0x10, 0x20, 0x40
T_REQUEST = (b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
             b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             b"Sec-WebSocket-Version: 13\r\n\r\n")


def t_response():
    """The 101 for a timers client, whose nonce is the test key repeated."""
    import base64
    import hashlib
    key = base64.b64encode(KEY * 4)
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")


def t_ms(n):
    """Time advances by n ms (in steps of at most 25.5 s + 255 ms)."""
    out = b""
    while n >= 100:
        k = min(n // 100, 255)
        out += bytes([0xFC, k])
        n -= 100 * k
    return out + bytes([0xFF, n]) if n or not out else out


def t_bytes(data):
    out = b""
    while data:
        out += bytes([min(len(data), 0xFB)]) + data[:0xFB]
        data = data[0xFB:]
    return out


def t_ka(seq):
    return b"wska" + struct.pack(">I", seq)


T_CLOSE = bytes([0xFD])


def timer_seeds():
    # Timeouts: handshake 1 s, keepalive 2 s then 500 ms, close 2.5 s.
    std = bytes([100, 200, 50, 250])
    pong = lambda f, seq: f(0x8A, t_ka(seq))
    seeds = {
        "server-open-quiet-ping-then-1011": (0x00, t_ms(0) + t_ms(1999) + t_ms(1) + t_ms(499) + t_ms(1)),
        "client-open-quiet-ping-then-1011": (CLIENT, t_ms(0) + t_ms(2000) + t_ms(500)),
        "server-open-pong-resets": (0x00, t_ms(0) + t_ms(2000) + t_bytes(pong(c2s, 1)) + t_ms(100)
                                    + t_ms(1999) + t_ms(1) + t_bytes(pong(c2s, 1)) + t_ms(500)),
        "client-open-users-pong-not-an-answer": (CLIENT, t_ms(0) + t_ms(2000) + t_bytes(s2c(0x8A, b"user"))
                                                 + t_ms(499) + t_ms(1)),
        "client-open-users-pong-any-data": (CLIENT | T_ANY, t_ms(0) + t_ms(2000) + t_bytes(s2c(0x8A, b"user"))
                                            + t_ms(499) + t_ms(1) + t_ms(2000)),
        "server-fixed-interval-busy": (T_FIXED, t_ms(0) + t_bytes(c2s(0x81, b"busy")) + t_ms(1000)
                                       + t_ms(1000) + t_bytes(pong(c2s, 1)) + t_ms(2000)),
        "server-fixed-interval-any-data": (T_FIXED | T_ANY, t_ms(0) + t_ms(2000) + t_bytes(c2s(0x81, b"x"))
                                           + t_ms(100) + t_ms(1900) + t_ms(500)),
        "server-no-keepalive-eof": (T_NO_KA | EOF, t_ms(0) + t_ms(100000) + t_bytes(c2s(0x81, b"x"))),
        "server-handshake-silent": (T_HANDSHAKE, t_ms(0) + t_ms(999) + t_ms(1)),
        "server-handshake-partial-408": (T_HANDSHAKE, t_ms(0) + t_bytes(T_REQUEST[:20]) + t_ms(999)
                                         + t_bytes(T_REQUEST[20:40]) + t_ms(1)),
        "server-handshake-deciding-then-open": (T_HANDSHAKE | T_DEFER, t_ms(0) + t_bytes(T_REQUEST + c2s(0x81, b"early"))
                                                + t_ms(5000) + t_ms(1999) + t_ms(1) + t_bytes(pong(c2s, 1))),
        "server-handshake-in-pieces-around-time": (T_HANDSHAKE, t_ms(0) + t_bytes(T_REQUEST[:50]) + t_ms(400)
                                                   + t_bytes(T_REQUEST[50:] + c2s(0x01, b"frag")[:5]) + t_ms(5)
                                                   + t_bytes(c2s(0x01, b"frag")[5:] + c2s(0x80, b"ment"))
                                                   + t_ms(2000) + t_ms(500)),
        "client-handshake-silent": (CLIENT | T_HANDSHAKE, t_ms(0) + t_ms(1000)),
        "client-handshake-refusal-body-pending": (CLIENT | T_HANDSHAKE, t_ms(0)
                                                  + t_bytes(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\nabc")
                                                  + t_ms(1000)),
        "client-handshake-then-close-then-tcp-wait": (CLIENT | T_HANDSHAKE, t_ms(0) + t_bytes(t_response()[:40])
                                                      + t_ms(999) + t_bytes(t_response()[40:] + s2c(0x81, b"hi"))
                                                      + T_CLOSE + t_ms(16) + t_bytes(s2c(0x88, close(1000)))
                                                      + t_ms(2499) + t_ms(1)),
        "server-close-timeout": (0x00, t_ms(0) + t_ms(500) + T_CLOSE + t_bytes(c2s(0x81, b"late"))
                                 + t_ms(2499) + t_ms(1)),
        "client-close-timeout": (CLIENT, t_ms(0) + T_CLOSE + t_ms(2500)),
        "client-server-closes-then-tcp-wait": (CLIENT, t_ms(0) + t_ms(1200) + t_bytes(s2c(0x88, close(1001, b"bye")))
                                               + t_ms(2499) + t_ms(1)),
        "server-time-backwards": (0x00, t_ms(0) + t_ms(1500) + bytes([0xFE, 200]) + t_bytes(c2s(0x81, b"x"))
                                  + bytes([0xFE, 255]) + T_CLOSE + t_ms(2500)),
        "client-eof-while-closing": (CLIENT | EOF, t_ms(0) + T_CLOSE + t_ms(100)),
    }
    for name, (flags, script) in seeds.items():
        write("timers", name, bytes([flags]) + std + script)


# ---------------------------------------------------------------------------
# extensions (tests/fuzz_props/deflate.rs): byte 0 0x01 = header built from
# the vocabulary; bytes 1-3 the server's DeflateConfig, 4-6 the client's:
# flags (0x01 disabled, 0x02 server_no_context_takeover, 0x04
# client_no_context_takeover), server and client max window bits (% 20);
# then the header value, lines separated by \n.
# ---------------------------------------------------------------------------

def ext_config(flags=0, server_bits=15, client_bits=15):
    return bytes([flags, server_bits, client_bits])


def extensions_seeds():
    on = ext_config()
    seeds = {
        # What browsers, node ws and websockets offer (and so do we).
        "offer-browsers": (on, on, b"permessage-deflate; client_max_window_bits"),
        "offer-bare": (on, on, b"permessage-deflate"),
        "offer-server-no-context-takeover": (on, on, b"permessage-deflate; server_no_context_takeover"),
        "offer-client-no-context-takeover": (
            on, on, b"permessage-deflate; client_no_context_takeover; client_max_window_bits"),
        "offer-server-max-window-bits-8": (on, on, b"permessage-deflate; server_max_window_bits=8"),
        "offer-client-max-window-bits-10": (on, on, b"permessage-deflate; client_max_window_bits=10"),
        "offer-quoted-window-bits": (on, on, b'permessage-deflate; server_max_window_bits="1\\0"'),
        "offer-every-parameter": (on, on, b"permessage-deflate; client_no_context_takeover; "
                                          b"client_max_window_bits; server_no_context_takeover; "
                                          b"server_max_window_bits=9"),
        # Autobahn 13.7: three offers, the first one wins.
        "autobahn-13.7-three-offers": (on, on, b"permessage-deflate; server_no_context_takeover; "
                                               b"server_max_window_bits=9, permessage-deflate; "
                                               b"server_no_context_takeover, permessage-deflate"),
        # The first offer is unusable (leading zero): the second is taken.
        "offer-bad-then-good": (on, on, b"permessage-deflate; server_max_window_bits=08, "
                                        b"permessage-deflate; client_no_context_takeover"),
        "offer-two-lines": (on, on, b"x-webkit-deflate-frame\npermessage-deflate; client_max_window_bits"),
        "offer-unknown-parameter": (on, on, b"permessage-deflate; foo=1"),
        "offer-repeated-parameter": (on, on, b"permessage-deflate; server_no_context_takeover; "
                                             b"server_no_context_takeover"),
        "offer-server-bits-without-value": (on, on, b"permessage-deflate; server_max_window_bits"),
        "offer-bits-16": (on, on, b"permessage-deflate; client_max_window_bits=16"),
        "offer-other-extension-only": (on, on, b"x-webkit-deflate-frame"),
        "malformed-empty-value-after-equals": (on, on, b"permessage-deflate; foo="),
        "malformed-unterminated-quote": (on, on, b'permessage-deflate; server_max_window_bits="10'),
        "malformed-escaped-quote": (on, on, b'permessage-deflate; a="\\""'),
        "empty-elements-only": (on, on, b" , ,\t,"),
        "empty": (on, on, b""),
        # Server configurations: limited windows and no context takeover.
        "server-limits-windows": (ext_config(0x06, 10, 9), on,
                                  b"permessage-deflate; client_max_window_bits; server_max_window_bits=12"),
        "server-limits-client-window-not-offered": (ext_config(0, 15, 9), on, b"permessage-deflate"),
        "server-bits-out-of-range": (ext_config(0, 3, 19), on, b"permessage-deflate; client_max_window_bits"),
        "server-disabled": (ext_config(0x01), on, b"permessage-deflate"),
        # Answers, read by the client (validate_response).
        "answer-server-bits-over-offer": (on, ext_config(0, 10, 15),
                                          b"permessage-deflate; server_max_window_bits=11"),
        "answer-bare-client-bits": (on, on, b"permessage-deflate; client_max_window_bits"),
        "answer-twice": (on, on, b"permessage-deflate, permessage-deflate"),
        "answer-client-bits-within-offer": (on, ext_config(0x04, 15, 12),
                                            b"permessage-deflate; client_max_window_bits=9"),
        "client-disabled": (on, ext_config(0x01), b"permessage-deflate"),
    }
    for name, (server, client, value) in seeds.items():
        write("extensions", name, b"\x00" + server + client + value)
    # Vocabulary mode: indexes into VOCABULARY (tests/fuzz_props/deflate.rs).
    # permessage-deflate ; server_max_window_bits = 10 , permessage-deflate
    write("extensions", "vocabulary-two-offers", b"\x01" + on + on + bytes([0, 2, 12, 8, 16, 4, 0]))


# ---------------------------------------------------------------------------
# deflate_receive (tests/fuzz_props/deflate.rs): byte 0 flags: 0x01 client,
# 0x02 EOF at the end, 0x04 tiny limits (message 1000, frame 2000; else
# 64 KiB and 80 KiB), 0x18 the offer (0 default, 1 no context takeover,
# 2 window bits 9), 0x60 the mode (0 raw stream, 1 frame records
# b0 + u16 length + payload, masked for a server; 2 message records
# kind + u16 length + data sent by the peer), 0x80 the peer leaves
# messages under 16 bytes plain; byte 1: split count; u16 BE splits; body.
# ---------------------------------------------------------------------------

D_CLIENT, D_EOF, D_TINY = 0x01, 0x02, 0x04
D_NCT, D_BITS9 = 0x08, 0x10
D_FRAMES, D_MESSAGES = 0x20, 0x40
D_PEER_MIN = 0x80


def deflate(data, level=6, flush=zlib.Z_SYNC_FLUSH):
    """Raw DEFLATE of `data` as a permessage-deflate payload (RFC 7692
    section 7.2.1: the 00 00 ff ff tail removed)."""
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(flush)
    return out[:-4] if out.endswith(b"\x00\x00\xff\xff") else out


def deflate_tail_removed(out):
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def d_input(flags, body, splits=None):
    if splits is None:
        n = len(body)
        splits = [1, n // 2, max(n - 1, 0)] if flags & 0x60 == 0 else []
    return bytes([flags, len(splits)]) + b"".join(struct.pack(">H", s) for s in splits) + body


def rec(b, data):
    return bytes([b]) + struct.pack(">H", len(data)) + data


def deflate_receive_seeds():
    hello = bytes.fromhex("f248cdc9c90700")  # RFC 7692 section 7.2.3.1
    again = bytes.fromhex("f200110000")  # 7.2.3.2, after `hello`
    stored = bytes.fromhex("000500faff48656c6c6f00")  # 7.2.3.3
    bfinal = bytes.fromhex("f348cdc9c9070000")  # 7.2.3.4
    blocks = bytes.fromhex("f248050000 00ffff cac9c90700".replace(" ", ""))  # 7.2.3.5
    empty = bytes.fromhex("00")  # 7.2.3.6
    bomb = deflate(bytes(1 << 20), 9)  # 1 MiB of zeros in about 1 KB
    at_limit = deflate(bytes(64 << 10), 9)
    over_limit = deflate(bytes((64 << 10) + 1), 9)
    kosme = "\u03ba\u1f79\u03c3\u03bc\u03b5".encode()
    streams = {
        "rfc7692-7.2.3.1-hello": (0, [hello]),
        "rfc7692-7.2.3.1-hello-in-two-fragments": (0, [(0x41, hello[:3]), (0x80, hello[3:])]),
        "rfc7692-7.2.3.2-context-takeover": (0, [hello, again]),
        "rfc7692-7.2.3.3-stored-block": (0, [stored]),
        "rfc7692-7.2.3.4-bfinal-block": (0, [bfinal]),
        "rfc7692-7.2.3.5-two-blocks": (0, [blocks]),
        "rfc7692-7.2.3.6-empty-message": (0, [(0xC2, empty)]),
        "empty-payload-compressed-message": (0, [(0xC1, b"")]),
        "plain-message-between-compressed": (0, [hello, (0x81, b"plain"), again]),
        # With no context takeover promised, a back reference is corrupt.
        "no-context-takeover-back-reference": (D_NCT, [hello, again]),
        "window-bits-9-hello": (D_BITS9, [hello]),
        "bomb-1MiB-zeros": (0, [(0xC2, bomb)]),
        "bomb-1MiB-zeros-fragmented": (0, [(0x42, bomb[:300]), (0x00, bomb[300:600]), (0x80, bomb[600:])]),
        "limit-exactly-64KiB": (0, [(0xC2, at_limit)]),
        "limit-64KiB-plus-one": (0, [(0xC2, over_limit)]),
        "tiny-limit-1000-zeros": (D_TINY, [(0xC2, deflate(bytes(1000)))]),
        "tiny-limit-1001-zeros": (D_TINY, [(0xC2, deflate(bytes(1001)))]),
        "corrupt-data": (0, [(0xC1, b"\xff\xff\xff")]),
        "corrupt-reserved-block-type": (0, [(0xC1, b"\x07\x00")]),
        "truncated-compressed-message": (0, [(0xC1, hello[:4])]),
        "compressed-invalid-utf8-text": (0, [(0xC1, deflate(b"a\xffb"))]),
        "compressed-utf8-split-across-fragments": (0, [(0x41, deflate(kosme)[:4]), (0x80, deflate(kosme)[4:])]),
        "rsv1-on-continuation": (0, [(0x41, hello[:2]), (0xC0, hello[2:])]),
        "rsv1-on-ping": (0, [(0xC9, b"")]),
        "rsv1-on-close": (0, [(0xC8, struct.pack(">H", 1000))]),
        "rsv2-on-text": (0, [(0xA1, b"\x00")]),
        "ping-between-compressed-fragments": (0, [(0x42, hello[:3]), (0x89, b"ping"), (0x80, hello[3:])]),
        "close-after-compressed": (D_EOF, [hello, (0x88, close(1000, b"bye"))]),
        "eof-inside-compressed-message": (D_EOF, [(0x41, hello[:3])]),
    }
    for name, (flags, frames) in streams.items():
        for role, role_flag, make in (("server", 0, c2s), ("client", D_CLIENT, s2c)):
            body = b"".join(make(*(f if isinstance(f, tuple) else (0xC1, f))) for f in frames)
            write("deflate_receive", f"{role}-{name}", d_input(flags | role_flag, body))
    # Frame records: the harness masks them for a server.
    write("deflate_receive", "frames-server-hello-twice",
          d_input(D_FRAMES, rec(0xC1, hello) + rec(0xC1, again), [3]))
    write("deflate_receive", "frames-client-bomb",
          d_input(D_FRAMES | D_CLIENT, rec(0xC2, bomb)))
    write("deflate_receive", "frames-server-rsv1-continuation",
          d_input(D_FRAMES, rec(0x41, hello[:2]) + rec(0xC0, hello[2:])))
    # Message records, compressed by the peer: kind & 3 = binary, text,
    # ping, pong; (kind >> 2 & 3) + 1 fragments.
    msgs = (rec(0x01, b"Hello") + rec(0x01, b"Hello") + rec(0x02, b"ping")
            + rec(0x00, bytes(range(256)) * 8) + rec(0x0D, kosme * 30) + rec(0x03, b"pong")
            + rec(0x0C, b"") + rec(0x01, b"\xff not utf-8"))
    for name, flags in {
        "messages-server-default": D_MESSAGES,
        "messages-client-default": D_MESSAGES | D_CLIENT,
        "messages-server-no-context-takeover": D_MESSAGES | D_NCT,
        "messages-client-window-bits-9": D_MESSAGES | D_CLIENT | D_BITS9,
        "messages-server-small-ones-plain": D_MESSAGES | D_PEER_MIN,
        "messages-server-tiny-limits-eof": D_MESSAGES | D_TINY | D_EOF,
    }.items():
        write("deflate_receive", name, d_input(flags, msgs, [5, 600]))
    big = rec(0x01, b"x" * 999) + rec(0x01, b"y" * 1001) + rec(0x01, b"never")
    write("deflate_receive", "messages-server-tiny-limit-1001", d_input(D_MESSAGES | D_TINY, big))
    # Fragments inflating to exactly 16384 bytes each (a multiple of the
    # inflater's output chunk) were once taken for corrupt data (see
    # tests/fuzz_regressions.rs).
    write("deflate_receive", "messages-client-64KiB-zeros-fragmented",
          d_input(D_MESSAGES | D_CLIENT, rec(0x0C, bytes(65535))))
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    first = c.compress(bytes(1024)) + c.flush(zlib.Z_SYNC_FLUSH)
    last = deflate_tail_removed(c.compress(b"!") + c.flush(zlib.Z_SYNC_FLUSH))
    write("deflate_receive", "server-fragment-inflating-to-exactly-1024-bytes",
          d_input(0, c2s(0x42, first) + c2s(0x80, last), []))


# ---------------------------------------------------------------------------
# receive and chunking in parts mode (setup flag 0x20, part bound by bits
# 0xC0): the same stream received whole and in parts must agree.
# ---------------------------------------------------------------------------

PARTS = 0x20
PART_4, PART_7, PART_16, PART_1024 = 0x00, 0x40, 0x80, 0xC0


# ---------------------------------------------------------------------------
# deflate_release: byte 0 = window bits 9 + (b & 7) % 7, 0x08 no context
# takeover, 0x10 the client sends, 0x20 level 6; byte 1 % 2: WhenIdle or
# AfterMessage; then steps: a byte (& 3: 0 send, 1 in two parts, 2 idle
# sender, 3 idle receiver; for messages (b >> 2) & 3 = repeats - 1 and
# b >> 4 = the cut in sixteenths), a u16 BE length and the data.

def r_msg(kind, data, repeat=0, cut=0):
    return bytes([kind | (repeat << 2) | (cut << 4)]) + struct.pack(">H", len(data)) + data


def deflate_release_seeds():
    text = b'{"user":"u17","room":"r3","text":"hello again, hello again"},' * 30
    seeds = {
        "takeover-15-idle-each": bytes([6, 0]) + r_msg(0, text) + b"\x02\x03" + r_msg(0, text)
        + b"\x02\x03" + r_msg(1, text[:500], 3, 8) + b"\x02" + r_msg(0, b""),
        "takeover-9-after-message": bytes([0, 1]) + r_msg(0, text, 1) + r_msg(0, text[:100])
        + r_msg(1, text, 0, 4) + r_msg(0, text[7:900], 3),
        "nct-12-client": bytes([3 | 0x08 | 0x10, 1]) + r_msg(0, text) + b"\x02" + r_msg(0, text)
        + r_msg(1, text, 2, 15),
        "client-level-6-14": bytes([5 | 0x10 | 0x20, 0]) + r_msg(0, text) + b"\x03" + r_msg(0, text)
        + b"\x02\x03\x02" + r_msg(0, bytes(range(256)) * 4, 3),
    }
    for name, data in seeds.items():
        write("deflate_release", name, data)


def parts_seeds():
    text = "a\u00e9\u20ac\U0001F600".encode() * 10  # 1- to 4-byte code points
    big = 16 << 20
    streams = {
        # One text frame cut at 4 bytes: no part splits a code point.
        "parts-4-server-text-mixed-widths": (PARTS | PART_4, (), c2s(0x81, text)),
        # A code point split across frames, a Ping in between.
        "parts-7-server-code-point-across-frames-ping-between": (
            PARTS | PART_7, (),
            c2s(0x01, "ab\u20ac".encode()[:3]) + c2s(0x89, b"ping")
            + c2s(0x00, "ab\u20ac".encode()[3:] + b"c") + c2s(0x80, "\U0001F600".encode())),
        "parts-16-client-binary-256-bytes": (PARTS | PART_16 | CLIENT, (), s2c(0x82, bytes(range(256)))),
        # A 16 MiB frame announced, 300 bytes of it sent: parts hold no more
        # than a read and a part.
        "parts-1024-server-16MiB-frame-300-bytes": (
            PARTS | PART_1024, (), c2s(0x82, bytes(300), length=big)[:2 + 8 + 4 + 300]),
        "parts-1024-server-16MiB-text-frame-300-bytes-eof": (
            PARTS | PART_1024 | EOF, (), c2s(0x81, b"x" * 300, length=big)[:2 + 8 + 4 + 300]),
        # Bad UTF-8 in a later frame: parts delivered the beginning first.
        "parts-4-server-bad-utf8-in-second-frame": (
            PARTS | PART_4, (), c2s(0x01, b"hello ") + c2s(0x80, b"wor\xffld")),
        "parts-7-server-text-ends-inside-code-point": (
            PARTS | PART_7, (), c2s(0x81, "abc\u20ac".encode()[:-1])),
        # Limits: the message grows over max_message_size (8 * 4) in its
        # third frame; too many fragments (3).
        "parts-4-server-message-over-limit-in-continuation": (
            PARTS | PART_4 | LIMITS, (8, 4, 10),
            c2s(0x02, bytes(12)) + c2s(0x00, bytes(12)) + c2s(0x80, bytes(12))),
        "parts-16-server-too-many-fragments": (
            PARTS | PART_16 | LIMITS, (16, 16, 3),
            c2s(0x01, b"a") + c2s(0x00, b"b") + c2s(0x00, b"c") + c2s(0x80, b"d")),
        # A Close in the middle of a message; empty frames.
        "parts-4-server-close-mid-message": (
            PARTS | PART_4, (), c2s(0x02, b"abcdefgh") + c2s(0x88, close(1000, b"bye"))),
        "parts-4-client-empty-frames": (
            PARTS | PART_4 | CLIENT, (), s2c(0x01) + s2c(0x00) + s2c(0x80) + s2c(0x81)),
        "parts-16-client-we-closed-then-message": (
            PARTS | PART_16 | CLIENT | WE_CLOSE | EOF, (), s2c(0x81, text[:40])),
        # Whole mode: a bare header announcing 16 MiB costs no 16 MiB.
        "server-16MiB-frame-header-then-100-bytes": (
            SERVER, (), c2s(0x82, bytes(100), length=big)[:2 + 8 + 4 + 100]),
    }
    for name, (flags, limits, stream) in streams.items():
        head = setup(flags, *limits) if limits else setup(flags)
        write("receive", name, head + stream)
        write("receive", name + "-5-byte-reads", head[:4] + b"\x05" + stream)
        n = len(stream)
        splits = [1, n // 3, n // 2, max(n - 1, 0)]
        write("chunking", name, head[:4] + bytes([len(splits)])
              + b"".join(struct.pack(">H", min(sp, 0xFFFF)) for sp in splits) + stream)


def oracle_seeds():
    """Close codes at the edges of the RFC 6455 section 7.4 ranges (the
    roundtrip model has its own table), and requests the handshake model
    must judge like the server (status included)."""
    for sender, code in [(False, 3000), (True, 3999), (False, 4999), (False, 1012),
                         (True, 1013), (False, 1014), (False, 1010), (True, 1010),
                         (True, 2999), (False, 5000), (True, 1015), (False, 1004),
                         (True, 999), (False, 1016)]:
        who = "client" if sender else "server"
        write("roundtrip", f"close-code-{code}-from-{who}",
              conversation(sender, [(TEXT, "x"), (CLOSE, code, "")]))
    long_line = "X-Long: " + "a" * (8193 - 8)
    requests = {
        "model-duplicate-version-426": head(RFC_REQUEST_LINES, add=["Sec-WebSocket-Version: 13"]),
        "model-version-8-426": head(RFC_REQUEST_LINES, replace={"Sec-WebSocket-Version": "Sec-WebSocket-Version: 8"}),
        "model-post-405": head(RFC_REQUEST_LINES, replace={"GET": "POST /chat HTTP/1.1"}),
        "model-http-2-505": head(RFC_REQUEST_LINES, replace={"GET": "GET /chat HTTP/2.0"}),
        "model-http-1.0": head(RFC_REQUEST_LINES, replace={"GET": "GET /chat HTTP/1.0"}),
        "model-http-1.9-accepted": head(RFC_REQUEST_LINES, replace={"GET": "GET /chat HTTP/1.9"}),
        "model-tabs-around-values-accepted": head(
            ["GET /chat HTTP/1.1", "Host:\tserver.example.com\t", "Upgrade:\twebsocket\t",
             "Connection:\tUpgrade\t", "Sec-WebSocket-Key:\tdGhlIHNhbXBsZSBub25jZQ==\t",
             "Sec-WebSocket-Version:\t13\t"]),
        "model-header-line-over-8KiB-431": head(RFC_REQUEST_LINES, add=[long_line]),
        "model-two-hosts-400": head(RFC_REQUEST_LINES, add=["Host: other.example"]),
        "model-content-length-1-400": head(RFC_REQUEST_LINES, add=["Content-Length: 1"]),
        "model-content-length-0-0-accepted": head(RFC_REQUEST_LINES, add=["Content-Length: 0, 0"]),
        "model-absolute-ws-target-accepted": head(RFC_REQUEST_LINES, replace={"GET": "GET ws://a.example:80/chat?x HTTP/1.1"}),
        "model-absolute-http-target-query-no-path-accepted": head(RFC_REQUEST_LINES, replace={"GET": "GET http://a.example?x=1 HTTP/1.1"}),
        "model-absolute-wss-target-empty-query-accepted": head(RFC_REQUEST_LINES, replace={"GET": "GET wss://a.example? HTTP/1.1"}),
        "model-origin-form-empty-query-accepted": head(RFC_REQUEST_LINES, replace={"GET": "GET /chat? HTTP/1.1"}),
        "model-ipv6-host-accepted": head(RFC_REQUEST_LINES, replace={"Host": "Host: [::1]:8080"}),
        "model-userinfo-target-400": head(RFC_REQUEST_LINES, replace={"GET": "GET ws://u@a.example/ HTTP/1.1"}),
        "model-repeated-subprotocol-400": head(RFC_REQUEST_LINES, add=["Sec-WebSocket-Protocol: a, b", "Sec-WebSocket-Protocol: a"]),
        "model-key-of-15-bytes-400": head(RFC_REQUEST_LINES, replace={"Sec-WebSocket-Key": "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ==="}),
    }
    for name, data in requests.items():
        write("handshake_server", name, bytes([0, 0, 0, 0, 0]) + data)
    # At the limits: max_headers 6 (byte 2) with 6 and 7 fields.
    six = head(RFC_REQUEST_LINES, drop=("Origin", "Sec-WebSocket-Protocol"), add=["X-A: 1"])
    write("handshake_server", "model-max-headers-at-n", bytes([HS_LIMITS, 255, six.count(b"\r\n") - 2, 0, 0]) + six)
    write("handshake_server", "model-max-headers-at-n-plus-1", bytes([HS_LIMITS, 255, six.count(b"\r\n") - 3, 0, 0]) + six)


if __name__ == "__main__":
    # `make_seeds.py NAME...` runs only those seed functions (e.g.
    # extensions_seeds), leaving the other seeds as they are.
    if sys.argv[1:]:
        for name in sys.argv[1:]:
            globals()[name]()
    else:
        main()
