#!/usr/bin/env python3
"""Memory per idle connection of a WebSocket echo server, with the client's
permessage-deflate offer chosen (scripts/deflate_memory.sh).

    python pmd_mem_client.py URL SERVER_PID N OFFER [MESSAGE_BYTES]

OFFER: `default` (websockets' client: `permessage-deflate;
client_max_window_bits`), `w9` (server_max_window_bits=9,
client_max_window_bits=9: the server compresses with a 9-bit window),
`nct` (server_no_context_takeover and client_no_context_takeover).

Reads the server's VmRSS from /proc/SERVER_PID/status: after a warm-up of
WARMUP connections opened, used and closed (the server's first-connection
costs: threads, imports, JIT), with 0 connections open; with N/2; with N
open, each after one message each way (a JSON-like text of MESSAGE_BYTES,
default 2048, echoed and compared); and again after closing them all.  Connections are opened
CONCURRENCY at a time and stay idle (no client pings) while measured.
Prints one JSON line; exit 1 if a connection failed or an echo differed.
Loopback only.
"""
import asyncio
import json
import os
import sys
import time

from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import payloads  # noqa: E402

WARMUP = 10
CONCURRENCY = 50
SETTLE = 2.0
STEP_TIMEOUT = 30.0
MESSAGE = payloads.json_text(2048)   # replaced by main() from MESSAGE_BYTES


def offer(name):
    if name == "default":
        return None            # websockets' default factory (memLevel 5)
    if name == "w9":
        return [ClientPerMessageDeflateFactory(server_max_window_bits=9, client_max_window_bits=9,
                                               compress_settings={"memLevel": 5})]
    if name == "nct":
        return [ClientPerMessageDeflateFactory(server_no_context_takeover=True,
                                               client_no_context_takeover=True,
                                               compress_settings={"memLevel": 5})]
    raise SystemExit("OFFER must be default, w9 or nct")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS for pid %d" % pid)


async def settled_rss(pid):
    await asyncio.sleep(SETTLE)
    return rss_kib(pid)


async def open_one(url, extensions, sem, conns, seen):
    async with sem:
        kwargs = dict(open_timeout=STEP_TIMEOUT, ping_interval=None, max_size=1 << 20)
        if extensions is not None:
            kwargs.update(extensions=extensions, compression=None)
        ws = await asyncio.wait_for(connect(url, **kwargs), STEP_TIMEOUT)
        await ws.send(MESSAGE)
        got = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
        if got != MESSAGE:
            raise RuntimeError("echo differs")
        seen.add(", ".join(ws.response.headers.get_all("Sec-WebSocket-Extensions")))
        conns.append(ws)


async def open_many(url, extensions, n, conns, seen):
    sem = asyncio.Semaphore(CONCURRENCY)
    await asyncio.gather(*(open_one(url, extensions, sem, conns, seen) for _ in range(n)))


async def run(url, pid, n, offer_name):
    extensions = offer(offer_name)
    seen = set()
    warm = []
    await open_many(url, extensions, WARMUP, warm, seen)
    await asyncio.gather(*(ws.close() for ws in warm))
    r0 = await settled_rss(pid)
    conns = []
    t = time.monotonic()
    await open_many(url, extensions, n // 2, conns, seen)
    r_half = await settled_rss(pid)
    await open_many(url, extensions, n - n // 2, conns, seen)
    setup = time.monotonic() - t - SETTLE
    r_n = await settled_rss(pid)
    await asyncio.gather(*(asyncio.wait_for(ws.close(), STEP_TIMEOUT) for ws in conns))
    r_after = await settled_rss(pid)
    return {
        "offer": offer_name, "n": n, "message_bytes": len(MESSAGE), "extensions": sorted(seen),
        "rss_kib": {"0": r0, "half": r_half, "n": r_n, "closed": r_after},
        "per_conn_bytes": round((r_n - r0) * 1024 / n),
        "per_conn_bytes_second_half": round((r_n - r_half) * 1024 / (n - n // 2)),
        "setup_s": round(setup, 1),
    }


def main():
    global MESSAGE
    url, pid, n, offer_name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    size = int(sys.argv[5]) if len(sys.argv) > 5 else 2048
    if not 1 <= size <= 1 << 20:
        sys.exit("MESSAGE_BYTES must be 1..1048576")
    MESSAGE = payloads.json_text(size)
    if not url.startswith(("ws://127.", "ws://localhost")):
        sys.exit("loopback URLs only")
    if not 2 <= n <= 2000:
        sys.exit("N must be 2..2000")
    print(json.dumps(asyncio.run(run(url, pid, n, offer_name))), flush=True)


if __name__ == "__main__":
    main()
