#!/usr/bin/env python3
"""Connect to a server, check one echo, then wait for the server to close
(scripts/examples.sh: Ctrl-C of our servers must send Close 1001).

    python3 going_away_client.py URL

Prints `ready` once the echo came back, then `closed CODE REASON` with the
Close the server sent (`closed none` if the connection ended without one).
Exit status 0 after a Close frame from the server, 1 otherwise. Bounded: at
most 30 s in all.
"""
import sys

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


def main():
    url = sys.argv[1]
    with connect(url, open_timeout=10, close_timeout=10) as ws:
        ws.send("hello")
        if ws.recv(timeout=10) != "hello":
            print("bad echo", flush=True)
            return 1
        print("ready", flush=True)
        try:
            message = ws.recv(timeout=20)
            print("unexpected message %r" % (message,), flush=True)
            return 1
        except TimeoutError:
            print("no close within 20 s", flush=True)
            return 1
        except ConnectionClosed as exc:
            if exc.rcvd is None:
                print("closed none", flush=True)
                return 1
            print("closed %d %s" % (exc.rcvd.code, exc.rcvd.reason), flush=True)
            return 0


if __name__ == "__main__":
    sys.exit(main())
