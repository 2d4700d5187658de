// node ws echo server with permessage-deflate at a chosen zlib level, for
// benches/deflate_echo.sh (the `ws-l1` row: C zlib at level 1, like-for-like
// with wstate's default level):
//
//   NODE_PATH=target/conformance/node/node_modules node ws_deflate_echo.js ADDR LEVEL
//
// perMessageDeflate with ws's defaults (window bits 15, memLevel 8, context
// takeover, threshold 1024 B applying only with no_context_takeover) but
// zlibDeflateOptions.level = LEVEL. Echoes each message with its type.
// Loopback addresses only; exits by itself after MAX_LIFETIME_MS.
'use strict';
const { WebSocketServer } = require('ws');

const MAX_LIFETIME_MS = 600 * 1000;
const addr = process.argv[2] || '127.0.0.1:9001';
const level = Number(process.argv[3] ?? 1);
const cut = addr.lastIndexOf(':');
const host = addr.slice(0, cut).replace(/^\[|\]$/g, '');
const port = Number(addr.slice(cut + 1));
if (!(host.startsWith('127.') || host === 'localhost' || host === '::1')) {
  console.error(`ws_deflate_echo: loopback addresses only, got ${host}`);
  process.exit(2);
}
if (!(Number.isInteger(level) && level >= 0 && level <= 9)) {
  console.error('ws_deflate_echo: LEVEL must be 0..9');
  process.exit(2);
}
const wss = new WebSocketServer({
  host, port, maxPayload: 16 * 1024 * 1024,
  perMessageDeflate: { zlibDeflateOptions: { level } },
});
wss.on('listening', () => console.log(`ws echo server (level ${level}) listening on ws://${host}:${port}`));
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', (err) => console.log(`error: ${err.message}`));
});
setTimeout(() => process.exit(0), MAX_LIFETIME_MS).unref();
