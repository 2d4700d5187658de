// node `ws` client against our echo server (scripts/interop.sh).
//
//   NODE_PATH=target/conformance/node/node_modules \
//     node node_client_check.js ws://127.0.0.1:PORT [default|nct9] [EXPECTED_EXTENSIONS]
//
// Mode `default` (ws's default client: permessage-deflate offered as
// `permessage-deflate; client_max_window_bits`): the base checks plus the
// permessage-deflate ones.  Mode `nct9`: perMessageDeflate with
// server/clientNoContextTakeover and server/clientMaxWindowBits 9, the
// permessage-deflate checks only.
//
// permessage-deflate checks: `pmd-response-header` (the upgrade response's
// Sec-WebSocket-Extensions equals EXPECTED_EXTENSIONS and `ws.extensions`
// names permessage-deflate), `pmd-KIND-SIZE` echoes of JSON-like and random
// text and binary of 1, 125, 126, 65536 and 1048576 bytes, and
// `pmd-wire-json-1MiB` (the 1 MiB JSON text crossed the socket in less than
// half its size both ways).
//
// Prints one `PASS node-ws[-nct9]: CHECK` / `FAIL ...: CHECK: WHY` line per
// check; exit 1 if any failed.  Every step has a timeout.
'use strict';
const crypto = require('crypto');
const WebSocket = require('ws');

const [url, mode = 'default', expected = 'permessage-deflate'] = process.argv.slice(2);
if (mode !== 'default' && mode !== 'nct9') { console.error('mode must be default or nct9'); process.exit(2); }
const PEER = mode === 'nct9' ? 'node-ws-nct9' : 'node-ws';
const SIZES = [1, 125, 126, 64 << 10, 1 << 20];
const KINDS = ['text-json', 'text-random', 'binary-json', 'binary-random'];
const MATRIX = KINDS.flatMap((kind) => SIZES.map((n) => [`pmd-${kind}-${n}`, kind, n]));
const PMD_CHECKS = ['pmd-response-header', ...MATRIX.map(([name]) => name), 'pmd-wire-json-1MiB'];
const CHECKS = mode === 'nct9'
  ? ['open', ...PMD_CHECKS, 'close-1000']
  : ['open', 'text', 'utf8-4byte', 'empty-text', 'binary', 'binary-1MiB', ...PMD_CHECKS,
    'ping-pong-payload', 'close-1000'];
const STEP_MS = 20000;
const WIRE_MAX_SHARE = 0.5;
const UTF8_TEXT = 'h\u00e9llo \u{1F600} \u{1D11E}';
const BIG = Buffer.alloc(1 << 20);
for (let i = 0; i < BIG.length; i++) BIG[i] = i % 251;

const done = new Map();
function result(name, ok, why) {
  if (done.has(name)) return;
  done.set(name, ok);
  console.log(ok ? `PASS ${PEER}: ${name}` : `FAIL ${PEER}: ${name}: ${why}`);
}

// Exactly n bytes of JSON-like records (as in payloads.py).
function jsonText(n) {
  const parts = [];
  let total = 0;
  for (let i = 0; total < n; i++) {
    const rec = `{"id":${i},"user":"user-${i}","email":"user${i}@example.com","active":${i % 3 ? 'true' : 'false'},`
      + `"score":${(i * 7919) % 1000},"tags":["alpha","beta","gamma"]},`;
    parts.push(rec);
    total += rec.length;
  }
  return parts.join('').slice(0, n);
}

// Exactly n bytes of UTF-8: random code points of 1 to 4 bytes, no controls.
function randomText(n) {
  const ranges = [[0x20, 0x7e], [0xa0, 0x7ff], [0x800, 0xffff], [0x10000, 0x10ffff]];
  const out = ['r'];
  let size = 1;
  while (size < n) {
    let width = 1 + crypto.randomInt(4);
    if (width > n - size) width = 1;
    const [lo, hi] = ranges[width - 1];
    let cp;
    do { cp = lo + crypto.randomInt(hi - lo + 1); } while (cp >= 0xd800 && cp <= 0xdfff);
    out.push(String.fromCodePoint(cp));
    size += width;
  }
  const s = out.join('');
  if (Buffer.byteLength(s) !== n) throw new Error(`randomText(${n}) made ${Buffer.byteLength(s)} bytes`);
  return s;
}

function payload(kind, n) {
  switch (kind) {
    case 'text-json': return jsonText(n);
    case 'text-random': return randomText(n);
    case 'binary-json': return Buffer.from(jsonText(n), 'latin1');
    case 'binary-random': return crypto.randomBytes(n);
    default: throw new Error(kind);
  }
}

// Turn the socket's events into awaitable "next event of kind X" calls.
function waitFor(ws, event, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`no ${event} within ${ms} ms`)); }, ms);
    const onEvent = (...args) => { cleanup(); resolve(args); };
    const onClose = (code) => { cleanup(); reject(new Error(`connection closed (${code}) while waiting for ${event}`)); };
    const onError = (err) => { cleanup(); reject(err); };
    function cleanup() {
      clearTimeout(timer);
      ws.off(event, onEvent);
      if (event !== 'close') ws.off('close', onClose);
      ws.off('error', onError);
    }
    ws.on(event, onEvent);
    if (event !== 'close') ws.on('close', onClose);
    ws.on('error', onError);
  });
}

function describe(data, isBinary) {
  return isBinary ? `binary(${data.length} bytes)` : `text(${data.length} bytes) ${JSON.stringify(data.toString('utf8').slice(0, 40))}`;
}

async function echoCheck(ws, name, payload, binary) {
  const reply = waitFor(ws, 'message', STEP_MS);
  ws.send(payload, { binary });
  const [data, isBinary] = await reply;
  const want = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  if (isBinary === binary && Buffer.compare(Buffer.from(data), want) === 0) result(name, true);
  else result(name, false, `sent ${describe(want, binary)}, got ${describe(Buffer.from(data), isBinary)} (content differs)`);
}

async function pmdChecks(ws, header) {
  const names = ws.extensions;
  result('pmd-response-header', header === expected && names === 'permessage-deflate',
    `expected ${JSON.stringify(expected)}, got header ${JSON.stringify(header)}, ws.extensions ${JSON.stringify(names)}`);
  const sock = ws._socket;   // the net.Socket: bytesRead / bytesWritten
  for (const [name, kind, n] of MATRIX) {
    const rx = sock.bytesRead, tx = sock.bytesWritten;
    await echoCheck(ws, name, payload(kind, n), kind.startsWith('binary'));
    if (kind === 'text-json' && n === 1 << 20) {
      const got = sock.bytesRead - rx, sent = sock.bytesWritten - tx, limit = WIRE_MAX_SHARE * n;
      console.log(`note ${PEER}: 1 MiB JSON text on the wire: sent ${sent} B, received ${got} B`);
      result('pmd-wire-json-1MiB', sent > 0 && sent < limit && got > 0 && got < limit,
        `sent ${sent} B, received ${got} B for ${n} B of text (limit ${limit} each)`);
    }
  }
}

async function run() {
  const options = { handshakeTimeout: STEP_MS, maxPayload: 16 << 20 };
  if (mode === 'nct9') {
    options.perMessageDeflate = {
      serverNoContextTakeover: true, clientNoContextTakeover: true,
      serverMaxWindowBits: 9, clientMaxWindowBits: 9,
    };
  }
  const ws = new WebSocket(url, options);
  let header = null;
  ws.on('upgrade', (res) => { header = res.headers['sec-websocket-extensions'] ?? null; });
  await waitFor(ws, 'open', STEP_MS);
  result('open', true);
  if (mode === 'default') {
    await echoCheck(ws, 'text', 'hello from node ws', false);
    await echoCheck(ws, 'utf8-4byte', UTF8_TEXT, false);
    await echoCheck(ws, 'empty-text', '', false);
    await echoCheck(ws, 'binary', Buffer.from(Array.from({ length: 256 }, (_, i) => i)), true);
    await echoCheck(ws, 'binary-1MiB', BIG, true);
  }
  await pmdChecks(ws, header);
  if (mode === 'default') {
    const ping = Buffer.from('wstate ping \x00\xff', 'latin1');
    const pong = waitFor(ws, 'pong', STEP_MS);
    ws.ping(ping);
    try {
      const [got] = await pong;
      if (Buffer.compare(got, ping) === 0) result('ping-pong-payload', true);
      else result('ping-pong-payload', false, `pong payload ${got.toString('hex')}, sent ${ping.toString('hex')}`);
    } catch (err) {
      if (ws.readyState !== WebSocket.OPEN) throw err;
      result('ping-pong-payload', false, err.message);   // go on to the close check
    }
  }
  const closed = waitFor(ws, 'close', STEP_MS);
  ws.close(1000, 'done');
  const [code, reason] = await closed;
  // ws reports the code of the close frame it received (1005 if none had a code,
  // 1006 if the TCP connection ended without a close frame).
  if (code === 1000) result('close-1000', true);
  else result('close-1000', false, `server close code ${code} reason ${JSON.stringify(reason.toString())}`);
}

const hardStop = setTimeout(() => { finish('overall timeout'); process.exit(1); }, 12 * STEP_MS);
function finish(why) {
  for (const name of CHECKS) if (!done.has(name)) result(name, false, why);
  return [...done.values()].every(Boolean);
}
run().then(
  () => { clearTimeout(hardStop); process.exit(finish('not reached') ? 0 : 1); },
  (err) => { clearTimeout(hardStop); finish(`${err && err.message}`); process.exit(1); },
);
