// node `ws` client against our echo server run with --release-after-message:
// round trips across idle cycles (scripts/interop.sh).
//
//   NODE_PATH=target/conformance/node/node_modules \
//     node node_idle_check.js ws://127.0.0.1:PORT EXPECTED_EXTENSIONS
//
// The same sequence as py_idle_check.py (payloads.py, "Idle cycles"): one
// connection per window size w of 9..15 offering server/clientMaxWindowBits w
// with context takeover; checks `idle-wW-extensions` (the upgrade response's
// Sec-WebSocket-Extensions equals EXPECTED_EXTENSIONS with each `W` replaced by
// w), an echo check per message (`first`, `repeat-N`, `wrap`, `tail`,
// `binary`, `binary-repeat`, a pause of IDLE_PAUSE_MS before each but the
// first), `history` (the repeats crossed the socket in at most a quarter of
// their size plus IDLE_SLACK each way) and `close-1000`.
//
// Prints one `PASS node-ws-idle: CHECK` / `FAIL ...: CHECK: WHY` line per
// check; exit 1 if any failed.  Every step has a timeout.
'use strict';
const crypto = require('crypto');
const WebSocket = require('ws');

const [url, expected] = process.argv.slice(2);
if (!url || !expected) { console.error('usage: node_idle_check.js URL EXPECTED_EXTENSIONS'); process.exit(2); }
const PEER = 'node-ws-idle';
const WINDOW_BITS = [9, 10, 11, 12, 13, 14, 15];
const REPEATS = 3;
const IDLE_PAUSE_MS = 50;
const IDLE_SLACK = 128;
const STEP_MS = 20000;

const done = new Map();
function result(name, ok, why) {
  if (done.has(name)) return;
  done.set(name, ok);
  console.log(ok ? `PASS ${PEER}: ${name}` : `FAIL ${PEER}: ${name}: ${why}`);
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
  return out.join('');
}

// The last n bytes of a string's UTF-8, from the first character start.
function utf8Suffix(text, n) {
  const data = Buffer.from(text, 'utf8');
  let cut = data.length - n;
  while ((data[cut] & 0xc0) === 0x80) cut++;
  return data.subarray(cut).toString('utf8');
}

// [step name, payload, binary] of one connection at window bits w.
function steps(w) {
  const quarter = 1 << (w - 2);
  const text = randomText(quarter);
  const big = randomText(3 << w);
  const data = crypto.randomBytes(quarter);
  const out = [['first', text, false]];
  for (let i = 1; i <= REPEATS; i++) out.push([`repeat-${i}`, text, false]);
  out.push(['wrap', big, false], ['tail', utf8Suffix(big, quarter), false],
    ['binary', data, true], ['binary-repeat', data, true]);
  return out;
}
const STEP_NAMES = ['first', ...Array.from({ length: REPEATS }, (_, i) => `repeat-${i + 1}`),
  'wrap', 'tail', 'binary', 'binary-repeat'];
const CHECKS = WINDOW_BITS.flatMap((w) => ['extensions', ...STEP_NAMES, 'history', 'close-1000']
  .map((name) => `idle-w${w}-${name}`));

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

async function echoCheck(ws, name, payload, binary) {
  const reply = waitFor(ws, 'message', STEP_MS);
  ws.send(payload, { binary });
  const [data, isBinary] = await reply;
  const want = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  const got = Buffer.from(data);
  if (isBinary === binary && Buffer.compare(got, want) === 0) result(name, true);
  else result(name, false, `sent ${want.length} B (binary ${binary}), got ${got.length} B (binary ${isBinary}), content differs`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function oneWindow(w) {
  const prefix = `idle-w${w}-`;
  const ws = new WebSocket(url, {
    handshakeTimeout: STEP_MS, maxPayload: 16 << 20,
    perMessageDeflate: { serverMaxWindowBits: w, clientMaxWindowBits: w },
  });
  let header = null;
  ws.on('upgrade', (res) => { header = res.headers['sec-websocket-extensions'] ?? null; });
  await waitFor(ws, 'open', STEP_MS);
  const want = expected.replaceAll('W', String(w));
  result(`${prefix}extensions`, header === want && ws.extensions === 'permessage-deflate',
    `expected ${JSON.stringify(want)}, got header ${JSON.stringify(header)}, ws.extensions ${JSON.stringify(ws.extensions)}`);
  const sock = ws._socket;   // the net.Socket: bytesRead / bytesWritten
  let before = null;
  for (const [i, [name, payload, binary]] of steps(w).entries()) {
    if (i) await sleep(IDLE_PAUSE_MS);
    if (name === 'repeat-1') before = [sock.bytesWritten, sock.bytesRead];
    await echoCheck(ws, prefix + name, payload, binary);
    if (name === `repeat-${REPEATS}`) {
      const sent = sock.bytesWritten - before[0], got = sock.bytesRead - before[1];
      const limit = Math.floor(REPEATS * (1 << (w - 2)) / 4) + IDLE_SLACK;
      console.log(`note ${PEER}: w=${w}: ${REPEATS} repeats of ${1 << (w - 2)} B: sent ${sent} B, received ${got} B`);
      result(`${prefix}history`, sent > 0 && sent <= limit && got > 0 && got <= limit,
        `sent ${sent} B, received ${got} B (limit ${limit} each)`);
    }
  }
  const closed = waitFor(ws, 'close', STEP_MS);
  ws.close(1000, 'done');
  const [code, reason] = await closed;
  result(`${prefix}close-1000`, code === 1000, `server close code ${code} reason ${JSON.stringify(reason.toString())}`);
}

function finish(why, names) {
  for (const name of names) if (!done.has(name)) result(name, false, why);
  return [...done.values()].every(Boolean);
}

async function run() {
  for (const w of WINDOW_BITS) {
    try {
      await oneWindow(w);
    } catch (err) {   // this window's remaining checks fail; go on with the next
      finish(`${err && err.message}`, CHECKS.filter((c) => c.startsWith(`idle-w${w}-`)));
    }
  }
}

const hardStop = setTimeout(() => { finish('overall timeout', CHECKS); process.exit(1); }, 6 * STEP_MS);
run().then(
  () => { clearTimeout(hardStop); process.exit(finish('not reached', CHECKS) ? 0 : 1); },
  (err) => { clearTimeout(hardStop); finish(`${err && err.message}`, CHECKS); process.exit(1); },
);
