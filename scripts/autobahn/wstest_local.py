# Runs Autobahn|Testsuite's `wstest` (autobahntestsuite 25.10.1, Python 2.7)
# confined to the loopback interface.  wstest listens on every interface and
# has no flag for that, so before handing over to wstest's own entry point
# this wrapper changes Twisted's TCP classes:
#   * a listening port asked for "" / 0.0.0.0 / :: is bound to 127.0.0.1 / ::1,
#     and any other non-loopback interface is refused;
#   * an outgoing connection to anything but 127.0.0.0/8, localhost or ::1 is
#     refused.
# Usage (run with the Python 2.7 venv's interpreter; arguments as for wstest):
#   VENV/bin/python scripts/autobahn/wstest_local.py -m fuzzingclient -s spec.json
#   VENV/bin/python scripts/autobahn/wstest_local.py -m fuzzingserver -s spec.json -u 0
from __future__ import print_function

import sys

from twisted.internet import tcp

ANY_V4 = ("", "0.0.0.0")
ANY_V6 = ("::", "0:0:0:0:0:0:0:0")


def is_loopback(host):
    host = str(host)
    return host == "localhost" or host == "::1" or host.startswith("127.")


def refuse(what):
    sys.stderr.write("wstest_local: refused %s (loopback only)\n" % what)
    sys.stderr.flush()
    raise SystemExit(3)


_port_init = tcp.Port.__init__
_connector_init = tcp.Connector.__init__


def port_init(self, port, factory, backlog=50, interface="", reactor=None):
    if interface is None or interface in ANY_V4:
        interface = "127.0.0.1"
    elif interface in ANY_V6:
        interface = "::1"
    elif not is_loopback(interface):
        refuse("listening on %r" % (interface,))
    _port_init(self, port, factory, backlog, interface, reactor)


def connector_init(self, host, port, factory, timeout, bindAddress, reactor=None):
    if not is_loopback(host):
        refuse("connecting to %r" % (host,))
    _connector_init(self, host, port, factory, timeout, bindAddress, reactor)


tcp.Port.__init__ = port_init
tcp.Connector.__init__ = connector_init

from autobahntestsuite import wstest  # noqa: E402  (after the patch on purpose)

sys.argv[0] = "wstest"
wstest.run()
