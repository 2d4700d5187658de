#!/usr/bin/env python3
"""What permessage-deflate would save on the chat's messages, with and
without the server's context takeover (standard library only).

    python3 scripts/chat/deflate_sizes.py [N]
    python3 scripts/chat/deflate_sizes.py --live HOST:PORT [N]

Builds N (default 2000) `{"type":"msg","name":..,"text":..}` lines as the
chat example sends them (names from a small set, texts of common English
words, exponentially distributed word counts, mean 9; fixed seed) and
prints their total size plain, compressed each on its own from an empty
window (server_no_context_takeover: what a prepared message can share
between connections) and compressed in one stream (context takeover: each
connection compresses with its own history), at zlib levels 1 and 6, 15
window bits, raw deflate with the sync-flush tail removed (RFC 7692
§7.2.1).  zlib here is Python's (the system zlib), not zlib-rs: the sizes
agree in kind, not to the byte.

With --live, the same N texts are said in a running chat (built with
feature `deflate`) by a client without permessage-deflate, and a client
offering it as browsers do totals the payloads it receives for them: the
chat's own compression (zlib-rs, its level), against the plain JSON lines.
"""
import json
import os
import random
import sys
import threading
import zlib

WORDS = ("the a to and of is in it you that he was for on are with as I his they be at one "
         "have this from or had by hot word but what some we can out other were all there when "
         "up use your how said an each she which do their time if will way about many then them "
         "write would like so these her long make thing see him two has look more day could go "
         "come did number sound no most people my over know water than call first who may down "
         "side been now find any new work part take get place made live where after back little "
         "only round man year came show every good me give our under name very through just form "
         "sentence great think say help low line differ turn cause much mean before move right "
         "boy old too same tell does set three want air well also play small end put home read "
         "hand port large spell add even land here must big high such follow act why ask men "
         "change went light kind off need house picture try us again animal point mother world "
         "near build self earth father").split()
NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]


def lines(n):
    rng = random.Random(7)
    out = []
    for _ in range(n):
        words = max(1, int(rng.expovariate(1 / 9)))
        text = " ".join(rng.choice(WORDS) for _ in range(words))
        line = {"type": "msg", "name": rng.choice(NAMES), "text": text}
        out.append(json.dumps(line, separators=(",", ":")).encode())
    return out


def payload_len(compressor, message):
    out = compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return len(out) - 4


def live(addr, n):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from ws_client import Ws

    texts = [json.loads(m)["text"] for m in lines(n)]
    reader = Ws(addr, extensions="permessage-deflate; client_max_window_bits")
    reader.send_text("reader")
    sayer = Ws(addr)
    sayer.send_text("sayer")
    total = {"lines": 0, "compressed": 0, "wire": 0, "plain": 0}

    def read():
        while total["lines"] < n:
            b0, op, payload = reader.frame_bits()
            if op != 0x1:
                continue
            data = payload
            if b0 & 0x40:
                d = zlib.decompressobj(-15)
                data = d.decompress(payload + b"\x00\x00\xff\xff") + d.flush()
            msg = json.loads(data)
            if msg.get("type") == "msg" and msg.get("name") == "sayer":
                total["lines"] += 1
                total["compressed"] += bool(b0 & 0x40)
                total["wire"] += len(payload)
                total["plain"] += len(data)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    for text in texts:
        sayer.send_text(text)
    thread.join(60)
    for ws in (sayer, reader):
        ws.close()
    print("%d chat lines through %s: %d compressed, %d B on the wire for %d B plain (%.1f%%)"
          % (total["lines"], addr, total["compressed"], total["wire"], total["plain"],
             100.0 * total["wire"] / max(total["plain"], 1)))


def main():
    if sys.argv[1:2] == ["--live"]:
        live(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 2000)
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    msgs = lines(n)
    plain = sum(len(m) for m in msgs)
    median = sorted(len(m) for m in msgs)[n // 2]
    print("%d chat lines, median %d B, %d B in all" % (n, median, plain))
    for level in (1, 6):
        alone = sum(payload_len(zlib.compressobj(level, zlib.DEFLATED, -15), m) for m in msgs)
        stream = zlib.compressobj(level, zlib.DEFLATED, -15)
        together = sum(payload_len(stream, m) for m in msgs)
        print("level %d: server_no_context_takeover %d B (%.1f%% of plain), context takeover %d B (%.1f%%)"
              % (level, alone, 100.0 * alone / plain, together, 100.0 * together / plain))


if __name__ == "__main__":
    main()
