"""Messages for the permessage-deflate interop checks (scripts/interop.sh):
compressible JSON-like text and incompressible random text or bytes, of the
sizes around the frame-length boundaries (1, 125, 126 B) and large (64 KiB,
1 MiB), and the idle-cycle sequence (idle_steps).  Standard library only;
imported by py_client_check.py, py_idle_check.py and
drive_client.py (node_client_check.js and browser_check.js build the same
kinds of payload themselves).
"""
import random

SIZES = (1, 125, 126, 64 << 10, 1 << 20)
KINDS = ("text-json", "text-random", "binary-json", "binary-random")
# A compressible message must cross the wire in less than this share of its size.
WIRE_MAX_SHARE = 0.5


def json_text(n):
    """Exactly n bytes (ASCII) of JSON-like records."""
    parts, total, i = [], 0, 0
    while total < n:
        rec = ('{"id":%d,"user":"user-%d","email":"user%d@example.com","active":%s,'
               '"score":%d,"tags":["alpha","beta","gamma"]},'
               % (i, i, i, "true" if i % 3 else "false", (i * 7919) % 1000))
        parts.append(rec)
        total += len(rec)
        i += 1
    return "".join(parts)[:n]


def _random_char(rng, room):
    """A random code point whose UTF-8 form fits in `room` bytes (no controls,
    no surrogates): mixes 1-, 2-, 3- and 4-byte sequences."""
    width = rng.choice((1, 2, 3, 4))
    if width > room:
        width = 1
    while True:
        if width == 1:
            cp = rng.randint(0x20, 0x7E)
        elif width == 2:
            cp = rng.randint(0xA0, 0x7FF)
        elif width == 3:
            cp = rng.randint(0x800, 0xFFFF)
        else:
            cp = rng.randint(0x10000, 0x10FFFF)
        if not 0xD800 <= cp <= 0xDFFF:
            return chr(cp)


def random_text(n, seed):
    """Exactly n bytes of UTF-8 in random code points of every length; starts
    with a letter (a leading ':' would be a command to the client example) and
    holds no control characters (so it fits on one line)."""
    rng = random.Random(seed)
    out, size = ["r"], 1
    while size < n:
        c = _random_char(rng, n - size)
        out.append(c)
        size += len(c.encode("utf-8"))
    text = "".join(out)
    assert len(text.encode("utf-8")) == n
    return text


def random_bytes(n, seed):
    return random.Random(seed).randbytes(n)


def payload(kind, n):
    seed = n * 31 + len(kind)   # fixed: a failure can be replayed
    if kind == "text-json":
        return json_text(n)
    if kind == "text-random":
        return random_text(n, seed)
    if kind == "binary-json":
        return json_text(n).encode("ascii")
    if kind == "binary-random":
        return random_bytes(n, seed)
    raise ValueError(kind)


def matrix(kinds=KINDS):
    """(check name, payload) for every kind and size: `pmd-text-json-125`..."""
    for kind in kinds:
        for n in SIZES:
            yield "pmd-%s-%d" % (kind, n), payload(kind, n)


# Idle cycles (scripts/interop.sh, the `idle-w*` checks): one connection per
# window size, both sides taking over their context, our side built with
# --release-after-message, so that every message after the first is
# compressed and inflated by a codec rebuilt from the history kept while the
# connection was idle.  The messages of one connection, in order, with a
# pause of IDLE_PAUSE seconds before each but the first:
#   first, repeat-1..IDLE_REPEATS  random text of a quarter window (a quarter
#                                  keeps it inside zlib's reach, 2^w - 262)
#   wrap                           random text of three windows: the kept
#                                  history is a ring, this wraps it
#   tail                           the last quarter window of `wrap` again
#   binary, binary-repeat          random bytes of a quarter window, twice
# Random text does not compress on its own (more than 3/4 of its size on the
# wire), so the repeats crossing the socket in less than a quarter of their
# size each way (`history`, with IDLE_SLACK bytes for headers and, for our
# client, the two counter queries) shows that both sides compressed against
# the history of the message before, across the release.
IDLE_WINDOW_BITS = range(9, 16)
IDLE_REPEATS = 3
IDLE_PAUSE = 0.05
IDLE_SLACK = 128


def utf8_suffix(text, n):
    """The longest suffix of `text` of at most n bytes of UTF-8 that starts
    with neither ':' (a command to the client example) nor a space."""
    data = text.encode("utf-8")
    cut = len(data) - n
    while cut < len(data) and ((data[cut] & 0xC0) == 0x80 or data[cut] in b": "):
        cut += 1
    return data[cut:].decode("utf-8")


def idle_steps(w):
    """(step name, payload) of one idle-cycle connection at window bits w."""
    quarter = 1 << (w - 2)
    text = random_text(quarter, 1000 + w)
    big = random_text(3 << w, 2000 + w)
    data = random_bytes(quarter, 3000 + w)
    steps = [("first", text)]
    steps += [("repeat-%d" % i, text) for i in range(1, IDLE_REPEATS + 1)]
    steps += [("wrap", big), ("tail", utf8_suffix(big, quarter)),
              ("binary", data), ("binary-repeat", data)]
    return steps


def idle_history_limit(w):
    """The most bytes the repeats may take on the wire each way."""
    return IDLE_REPEATS * (1 << (w - 2)) // 4 + IDLE_SLACK
