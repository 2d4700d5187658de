// Echo server on node's `ws` library, a real peer for our `client` example in
// scripts/interop.sh.
//
//   NODE_PATH=target/conformance/node/node_modules node node_echo_server.js [ADDR]
//   (default 127.0.0.1:9013)
//
// Echoes each message with its type; `ws` answers pings and close frames by
// itself.  Loopback addresses only.  Exits by itself after MAX_LIFETIME_MS.
'use strict';
const { WebSocketServer } = require('ws');

const MAX_LIFETIME_MS = 600 * 1000;
const addr = process.argv[2] || '127.0.0.1:9013';
const cut = addr.lastIndexOf(':');
const host = addr.slice(0, cut).replace(/^\[|\]$/g, '');
const port = Number(addr.slice(cut + 1));
if (!(host.startsWith('127.') || host === 'localhost' || host === '::1')) {
  console.error(`node_echo_server: loopback addresses only, got ${host}`);
  process.exit(2);
}

const wss = new WebSocketServer({ host, port, maxPayload: 16 * 1024 * 1024 });
wss.on('listening', () => console.log(`ws echo server listening on ws://${host}:${port}`));
wss.on('connection', (ws, req) => {
  console.log(`connection from ${req.socket.remoteAddress}:${req.socket.remotePort}`);
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('close', (code) => console.log(`closed: received ${code}`));
  ws.on('error', (err) => console.log(`error: ${err.message}`));
});
setTimeout(() => process.exit(0), MAX_LIFETIME_MS).unref();
