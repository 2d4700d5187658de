// Echo server on node's `ws` library, a real peer for our `client` example in
// scripts/interop.sh.
//
//   NODE_PATH=target/conformance/node/node_modules node node_echo_server.js [ADDR] [default|nct9|takeover|off]
//   (default 127.0.0.1:9013)
//
// Echoes each message with its type; `ws` answers pings and close frames by
// itself.  permessage-deflate is on (ws's server leaves it off by default):
// `default` is `perMessageDeflate: true` (ws's defaults), `nct9` adds
// server/clientNoContextTakeover and server/clientMaxWindowBits 9, `takeover`
// takes the window bits W (9-15) from the request path `/wW` and sets
// server/clientMaxWindowBits W with context takeover (one WebSocketServer per
// window; another path gets 404), `off` is ws's server default (no
// permessage-deflate).
//
// Two text messages are answered instead of echoed, for the permessage-deflate
// checks: `wstate-interop:extensions` with the Sec-WebSocket-Extensions value
// this server sent (empty if none), `wstate-interop:wire` with `rx=N tx=M`, the
// socket's bytesRead and bytesWritten.  Loopback addresses only.  Exits by
// itself after MAX_LIFETIME_MS.
'use strict';
const { WebSocketServer } = require('ws');

const MAX_LIFETIME_MS = 600 * 1000;
const addr = process.argv[2] || '127.0.0.1:9013';
const mode = process.argv[3] || 'default';
const cut = addr.lastIndexOf(':');
const host = addr.slice(0, cut).replace(/^\[|\]$/g, '');
const port = Number(addr.slice(cut + 1));
if (!(host.startsWith('127.') || host === 'localhost' || host === '::1')) {
  console.error(`node_echo_server: loopback addresses only, got ${host}`);
  process.exit(2);
}
const MODES = {
  default: true,
  off: false,
  nct9: {
    serverNoContextTakeover: true, clientNoContextTakeover: true,
    serverMaxWindowBits: 9, clientMaxWindowBits: 9,
  },
};
if (!(mode in MODES) && mode !== 'takeover') {
  console.error('node_echo_server: mode must be default, nct9, takeover or off');
  process.exit(2);
}

const sent = new WeakMap();   // request -> the Sec-WebSocket-Extensions value we answered
function onHeaders(headers, req) {
  const line = headers.find((h) => /^sec-websocket-extensions:/i.test(h));
  sent.set(req, line ? line.slice(line.indexOf(':') + 1).trim() : '');
}
const listening = () => console.log(`ws echo server (${mode}) listening on ws://${host}:${port}`);
const servers = [];
if (mode === 'takeover') {
  const http = require('http');
  const byPath = new Map();
  for (let w = 9; w <= 15; w++) {
    const wss = new WebSocketServer({
      noServer: true, maxPayload: 16 * 1024 * 1024,
      perMessageDeflate: { serverMaxWindowBits: w, clientMaxWindowBits: w },
    });
    byPath.set(`/w${w}`, wss);
    servers.push(wss);
  }
  const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
  server.on('upgrade', (req, socket, head) => {
    const wss = byPath.get(req.url.replace(/\/$/, ''));
    if (!wss) { socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'); return; }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  server.listen(port, host, listening);
} else {
  const wss = new WebSocketServer({ host, port, maxPayload: 16 * 1024 * 1024, perMessageDeflate: MODES[mode] });
  wss.on('listening', listening);
  servers.push(wss);
}
for (const wss of servers) wss.on('headers', onHeaders);
for (const wss of servers) wss.on('connection', (ws, req) => {
  const extensions = sent.get(req) ?? '';
  const sock = req.socket;
  console.log(`connection from ${sock.remoteAddress}:${sock.remotePort}, extensions ${JSON.stringify(extensions)}`);
  ws.on('message', (data, isBinary) => {
    if (!isBinary && data.length < 64) {
      const text = data.toString('utf8');
      if (text === 'wstate-interop:extensions') return ws.send(extensions);
      if (text === 'wstate-interop:wire') return ws.send(`rx=${sock.bytesRead} tx=${sock.bytesWritten}`);
    }
    return ws.send(data, { binary: isBinary });
  });
  ws.on('close', (code) => console.log(`closed: received ${code}`));
  ws.on('error', (err) => console.log(`error: ${err.message}`));
});
setTimeout(() => process.exit(0), MAX_LIFETIME_MS).unref();
