#!/usr/bin/env python3
"""What permessage-deflate would save on the chat's messages, with and
without the server's context takeover (standard library only).

    python3 scripts/chat/deflate_sizes.py [N]

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
"""
import json
import random
import sys
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


def main():
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
