#!/usr/bin/env python3
"""Many idle connections to one server on 127.0.0.1 (stdlib only, asyncio).

    client.py PORT SERVER_PID N [--mode ws|raw] [--concurrency C] [--settle S]

Raw non-blocking sockets, the WebSocket upgrade done by hand (a fixed
Sec-WebSocket-Key, no extension offered), so the client stays light and
runs in its own process. Steps:

 1. warm-up: 10 connections opened, upgraded, one echo each, closed;
 2. RSS0: the server's VmRSS (/proc/SERVER_PID/status);
 3. opens N connections, at most C connects+upgrades in flight (the
    server's listen backlog is finite), and times it: from the first
    connect to the last `101` read = the time to accept them all;
 4. RSS after the handshakes (all N open and idle);
 5. one echo on every connection (a masked 16-byte text frame, the
    unmasked echo compared), timed; every connection has a reader that
    answers the server's keepalive Pings all along, as a live client would;
 6. RSS with N open and idle again (after --settle seconds);
 7. prints one JSON line, then closes everything with resets (no
    TIME_WAIT: consecutive runs would otherwise hunt for free local ports
    among N sockets in TIME_WAIT, which made connects 3x slower).

--mode raw talks to a plain TCP echo instead: the "upgrade" is 16 bytes
sent and read back, the echo another 16. Per connection =
(RSS with N - RSS0) / N.
"""
import argparse
import asyncio
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = base64.b64encode(
    hashlib.sha1(KEY + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
MASK = b"\x37\xfa\x21\x3d"


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def threads(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def frame(i):
    payload = b"echo %011d" % i  # 16 bytes
    masked = bytes(b ^ MASK[j % 4] for j, b in enumerate(payload))
    return payload, b"\x81" + bytes([0x80 | len(payload)]) + MASK + masked


async def recv_exactly(loop, sock, n):
    buf = b""
    while len(buf) < n:
        chunk = await loop.sock_recv(sock, n - len(buf))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


class Client:
    def __init__(self, port, mode):
        self.port = port
        self.mode = mode
        self.request = (
            "GET /many HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n" % (port, KEY.decode())).encode()

    async def open(self, loop):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, ("127.0.0.1", self.port))
            if self.mode == "raw":
                msg = b"hello raw echo!\n"
                await loop.sock_sendall(sock, msg)
                if await recv_exactly(loop, sock, len(msg)) != msg:
                    raise ValueError("raw echo differs")
                return sock
            await loop.sock_sendall(sock, self.request)
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = await loop.sock_recv(sock, 1024)
                if not chunk:
                    raise ConnectionError("closed during the handshake: %r" % buf[:80])
                buf += chunk
            head, _, rest = buf.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 101") or ACCEPT not in head:
                raise ValueError("not a 101 with the right accept: %r" % head[:200])
            if rest:
                raise ValueError("unexpected bytes after the 101: %r" % rest[:40])
            return sock
        except BaseException:
            sock.close()
            raise

    async def reader(self, loop, conn):
        """Reads for ever: answers Pings (the server's keepalive: a Ping
        after 20 s of silence, 1011 if no answer within 20 s more) and hands
        each echo to the waiting `echo`."""
        sock, buf = conn["sock"], b""
        try:
            while True:
                data = await loop.sock_recv(sock, 4096)
                if not data:
                    raise ConnectionError("closed by the server")
                buf += data
                while True:
                    if self.mode == "raw":
                        if len(buf) < 16:
                            break
                        payload, buf, op = buf[:16], buf[16:], 1
                    else:
                        if len(buf) < 2:
                            break
                        op, n, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
                        if n == 126:
                            if len(buf) < 4:
                                break
                            n, at = int.from_bytes(buf[2:4], "big"), 4
                        if len(buf) < at + n:
                            break
                        payload, buf = buf[at:at + n], buf[at + n:]
                    if op == 0x9:
                        masked = bytes(b ^ MASK[j % 4] for j, b in enumerate(payload))
                        await loop.sock_sendall(sock, b"\x8a" + bytes([0x80 | len(payload)]) + MASK + masked)
                        conn["pings"] += 1
                    elif op == 0x1 and conn["waiter"] and not conn["waiter"].done():
                        conn["waiter"].set_result(payload)
                    elif op == 0x8:
                        raise ConnectionError("Close from the server: %r" % payload[:40])
        except (ConnectionError, OSError) as e:
            if conn["waiter"] and not conn["waiter"].done():
                conn["waiter"].set_exception(e)
            conn["error"] = str(e)

    async def echo(self, loop, conn, i):
        if self.mode == "raw":
            payload = data = b"echo %011d" % i
        else:
            payload, data = frame(i)
        if conn["error"]:
            raise ConnectionError(conn["error"])
        conn["waiter"] = loop.create_future()
        await loop.sock_sendall(conn["sock"], data)
        got = await asyncio.wait_for(conn["waiter"], 60)
        if got != payload:
            raise ValueError("echo differs: %r" % got)


async def bounded(items, limit, fn):
    """fn(item) for every item, at most `limit` at once; first error raises."""
    sem = asyncio.Semaphore(limit)

    async def one(item):
        async with sem:
            return await fn(item)

    return await asyncio.gather(*(one(x) for x in items))


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("pid", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("--mode", choices=("ws", "raw"), default="ws")
    ap.add_argument("--concurrency", type=int, default=128)
    ap.add_argument("--settle", type=float, default=2.0)
    a = ap.parse_args()
    loop = asyncio.get_running_loop()
    cl = Client(a.port, a.mode)

    conns = []

    async def open_one(_):
        conn = {"sock": await cl.open(loop), "waiter": None, "error": None, "pings": 0}
        conn["task"] = loop.create_task(cl.reader(loop, conn))
        conns.append(conn)
        return conn

    def close_all():
        # With a reset (SO_LINGER 0), not a FIN: no TIME_WAIT left behind,
        # so N local ports are free again for the next run at once.
        for c in conns:
            c["task"].cancel()
            c["sock"].setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c["sock"].close()
        conns.clear()

    for i in range(10):  # warm-up: threads, allocator arenas, timer wheel
        await cl.echo(loop, await open_one(i), i)
    close_all()
    await asyncio.sleep(a.settle)
    rss0 = rss_kib(a.pid)

    t0 = time.monotonic()
    try:
        await bounded(range(a.n), a.concurrency, open_one)
    except Exception as e:
        print(json.dumps({"error": "opening connection %d of %d: %s: %s"
                          % (len(conns) + 1, a.n, type(e).__name__, e)}))
        return 1
    t_accept = time.monotonic() - t0
    await asyncio.sleep(a.settle)
    rss_open = rss_kib(a.pid)

    t1 = time.monotonic()
    try:
        await bounded(list(enumerate(conns)), a.concurrency,
                      lambda x: cl.echo(loop, x[1], x[0]))
    except Exception as e:
        print(json.dumps({"error": "echo: %s: %s" % (type(e).__name__, e)}))
        return 1
    t_echo = time.monotonic() - t1
    await asyncio.sleep(a.settle)
    rss_n = rss_kib(a.pid)
    n = a.n
    lost = [c["error"] for c in conns if c["error"]]
    if lost:
        print(json.dumps({"error": "%d connection(s) lost while idle, e.g. %s"
                          % (len(lost), lost[0])}))
        return 1
    print(json.dumps({
        "mode": a.mode, "n": n, "concurrency": a.concurrency,
        "rss0_kib": rss0, "rss_open_kib": rss_open, "rss_n_kib": rss_n,
        "per_conn_open_b": round((rss_open - rss0) * 1024 / n),
        "per_conn_b": round((rss_n - rss0) * 1024 / n),
        "accept_s": round(t_accept, 3), "accept_per_s": round(n / t_accept),
        "echo_s": round(t_echo, 3), "server_threads": threads(a.pid),
        "pings_answered": sum(c["pings"] for c in conns),
        "errors": sum(1 for c in conns if c["error"]),
    }), flush=True)
    close_all()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
