// node `ws` client against our echo server (scripts/interop.sh).
//
//   NODE_PATH=target/conformance/node/node_modules node node_client_check.js ws://127.0.0.1:PORT
//
// Prints one `PASS node-ws: CHECK` / `FAIL node-ws: CHECK: WHY` line per check;
// exit 1 if any failed.  Every step has a timeout.
'use strict';
const WebSocket = require('ws');

const PEER = 'node-ws';
const CHECKS = ['open', 'text', 'utf8-4byte', 'empty-text', 'binary', 'binary-1MiB',
  'ping-pong-payload', 'close-1000'];
const STEP_MS = 20000;
const UTF8_TEXT = 'h\u00e9llo \u{1F600} \u{1D11E}';
const BIG = Buffer.alloc(1 << 20);
for (let i = 0; i < BIG.length; i++) BIG[i] = i % 251;

const done = new Map();
function result(name, ok, why) {
  done.set(name, ok);
  console.log(ok ? `PASS ${PEER}: ${name}` : `FAIL ${PEER}: ${name}: ${why}`);
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

async function run(url) {
  const ws = new WebSocket(url, { handshakeTimeout: STEP_MS, maxPayload: 16 << 20 });
  await waitFor(ws, 'open', STEP_MS);
  result('open', true);
  await echoCheck(ws, 'text', 'hello from node ws', false);
  await echoCheck(ws, 'utf8-4byte', UTF8_TEXT, false);
  await echoCheck(ws, 'empty-text', '', false);
  await echoCheck(ws, 'binary', Buffer.from(Array.from({ length: 256 }, (_, i) => i)), true);
  await echoCheck(ws, 'binary-1MiB', BIG, true);
  const payload = Buffer.from('wstate ping \x00\xff', 'latin1');
  const pong = waitFor(ws, 'pong', STEP_MS);
  ws.ping(payload);
  try {
    const [got] = await pong;
    if (Buffer.compare(got, payload) === 0) result('ping-pong-payload', true);
    else result('ping-pong-payload', false, `pong payload ${got.toString('hex')}, sent ${payload.toString('hex')}`);
  } catch (err) {
    if (ws.readyState !== WebSocket.OPEN) throw err;
    result('ping-pong-payload', false, err.message);   // go on to the close check
  }
  const closed = waitFor(ws, 'close', STEP_MS);
  ws.close(1000, 'done');
  const [code, reason] = await closed;
  // ws reports the code of the close frame it received (1005 if none had a code,
  // 1006 if the TCP connection ended without a close frame).
  if (code === 1000) result('close-1000', true);
  else result('close-1000', false, `server close code ${code} reason ${JSON.stringify(reason.toString())}`);
}

const url = process.argv[2];
const hardStop = setTimeout(() => { finish('overall timeout'); process.exit(1); }, 8 * STEP_MS);
function finish(why) {
  for (const name of CHECKS) if (!done.has(name)) result(name, false, why);
  return [...done.values()].every(Boolean);
}
run(url).then(
  () => { clearTimeout(hardStop); process.exit(finish('not reached') ? 0 : 1); },
  (err) => { clearTimeout(hardStop); finish(`${err && err.message}`); process.exit(1); },
);
