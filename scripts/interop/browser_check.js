// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// against our echo server (scripts/interop.sh).
//
//   NODE_PATH=target/conformance/node/node_modules \
//     node browser_check.js ws://127.0.0.1:PORT PAGE_PORT WORK_DIR [EXPECTED_EXTENSIONS [full|idle [W]]]
//
// Serves a small page on http://127.0.0.1:PAGE_PORT/, opens it in a fresh
// profile under WORK_DIR and runs the checks in the page with the browser's
// own WebSocket.  Chromium offers `permessage-deflate; client_max_window_bits`
// and cannot be configured otherwise: `pmd-extensions` checks `ws.extensions`
// (the negotiated Sec-WebSocket-Extensions) against EXPECTED_EXTENSIONS
// (default `permessage-deflate`), then `pmd-KIND-SIZE` echoes JSON-like and
// random text and binary of 1, 125, 126, 65536 and 1048576 bytes.
// Browsers cannot send pings, so there is no ping check.
//
// Mode `idle` (against our echo server run with --release-after-message and
// answering W window bits both ways, default 15: Chromium's offer leaves the
// size to the server): only `idle-wW-extensions` and the idle-cycle messages
// of payloads.py sized for W (`idle-wW-first`, `-repeat-N`, `-wrap`, `-tail`,
// `-binary`, `-binary-repeat`, a pause of IDLE_PAUSE_MS before each but the
// first) and `idle-wW-close-1000`; the page cannot count wire bytes, so there
// is no `history` check.
//
// Prints `PASS chromium[-idle]: CHECK` / `FAIL ...: CHECK: WHY` lines; exit 1 if any
// failed.  The browser's pid is written to WORK_DIR/chromium.pid so that the
// calling script can end it if this process is killed.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const { chromium } = require('playwright-core');

const SIZES = [1, 125, 126, 64 << 10, 1 << 20];
const KINDS = ['text-json', 'text-random', 'binary-json', 'binary-random'];
const MATRIX = KINDS.flatMap((kind) => SIZES.map((n) => [`pmd-${kind}-${n}`, kind, n]));
const IDLE_REPEATS = 3;
const IDLE_PAUSE_MS = 50;
const IDLE_STEPS = ['first', ...Array.from({ length: IDLE_REPEATS }, (_, i) => `repeat-${i + 1}`),
  'wrap', 'tail', 'binary', 'binary-repeat'];
const STEP_MS = 20000;
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const [wsUrl, pagePort, workDir, expectedExtensions = 'permessage-deflate', mode = 'full', bits = '15'] = process.argv.slice(2);
if (mode !== 'full' && mode !== 'idle') { console.error('mode must be full or idle'); process.exit(2); }
const IDLE_WINDOW_BITS = Number(bits);
if (!(IDLE_WINDOW_BITS >= 9 && IDLE_WINDOW_BITS <= 15)) { console.error('W must be 9 to 15'); process.exit(2); }
const PEER = mode === 'idle' ? 'chromium-idle' : 'chromium';
const CHECKS = mode === 'idle'
  ? ['extensions', ...IDLE_STEPS, 'close-1000'].map((name) => `idle-w${IDLE_WINDOW_BITS}-${name}`)
  : ['open', 'text', 'utf8-4byte', 'empty-text', 'binary', 'binary-1MiB', 'pmd-extensions',
    ...MATRIX.map(([name]) => name), 'close-1000'];
const done = new Map();
function result(name, ok, why) {
  if (done.has(name)) return;
  done.set(name, ok);
  console.log(ok ? `PASS ${PEER}: ${name}` : `FAIL ${PEER}: ${name}: ${why}`);
}
function finish(why) {
  for (const name of CHECKS) if (!done.has(name)) result(name, false, why);
  return [...done.values()].every(Boolean);
}

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>wstate interop</title></head>
<body><p>wstate interop page</p></body></html>`;

// Runs inside the page.  Returns [{name, ok, why}].
async function pageChecks({ url, stepMs, expectedExtensions, matrix }) {
  const out = [];
  const rec = (name, ok, why) => out.push({ name, ok, why: why || '' });
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const inbox = [];
  let wake = null;
  let closeEvent = null;
  ws.onmessage = (e) => { inbox.push(e.data); if (wake) wake(); };
  ws.onopen = () => { if (wake) wake(); };
  ws.onerror = () => { if (wake) wake(); };
  ws.onclose = (e) => { closeEvent = e; if (wake) wake(); };
  const until = (cond, what) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => { wake = null; reject(new Error(`timeout waiting for ${what}`)); }, stepMs);
    const poll = () => {
      const v = cond();
      if (v !== undefined) { clearTimeout(timer); wake = null; resolve(v); return; }
      if (closeEvent && what !== 'close') {
        clearTimeout(timer); wake = null;
        reject(new Error(`closed (code ${closeEvent.code}) while waiting for ${what}`));
        return;
      }
      wake = poll;
    };
    poll();
  });
  const nextMessage = () => until(() => (inbox.length ? inbox.shift() : undefined), 'a message');
  const describe = (d) => (typeof d === 'string' ? `text(${d.length} chars)` : `binary(${d.byteLength} bytes)`);
  const sameBytes = (a, b) => {
    if (!(a instanceof ArrayBuffer) || a.byteLength !== b.byteLength) return false;
    const x = new Uint8Array(a);
    for (let i = 0; i < x.length; i++) if (x[i] !== b[i]) return false;
    return true;
  };
  try {
    await until(() => (ws.readyState === WebSocket.OPEN ? true : undefined), 'open');
    rec('open', true);
    for (const [name, text] of [['text', 'hello from chromium'],
      ['utf8-4byte', 'h\u00e9llo \u{1F600} \u{1D11E}'], ['empty-text', '']]) {
      ws.send(text);
      const got = await nextMessage();
      rec(name, got === text, `sent text(${text.length} chars), got ${describe(got)} ${JSON.stringify(String(got).slice(0, 40))}`);
    }
    for (const [name, size] of [['binary', 256], ['binary-1MiB', 1 << 20]]) {
      const data = new Uint8Array(size);
      for (let i = 0; i < size; i++) data[i] = size === 256 ? i : i % 251;
      ws.send(data);
      const got = await nextMessage();
      rec(name, sameBytes(got, data), `sent binary(${size} bytes), got ${describe(got)} that differs`);
    }
    rec('pmd-extensions', ws.extensions === expectedExtensions,
      `ws.extensions ${JSON.stringify(ws.extensions)}, expected ${JSON.stringify(expectedExtensions)}`);
    // Exactly n bytes of JSON-like records (as in payloads.py).
    const jsonText = (n) => {
      const parts = [];
      let total = 0;
      for (let i = 0; total < n; i++) {
        const r = `{"id":${i},"user":"user-${i}","email":"user${i}@example.com","active":${i % 3 ? 'true' : 'false'},`
          + `"score":${(i * 7919) % 1000},"tags":["alpha","beta","gamma"]},`;
        parts.push(r);
        total += r.length;
      }
      return parts.join('').slice(0, n);
    };
    // Exactly n bytes of UTF-8: random code points of 1 to 4 bytes, no controls.
    const randomText = (n) => {
      const ranges = [[0x20, 0x7e], [0xa0, 0x7ff], [0x800, 0xffff], [0x10000, 0x10ffff]];
      const out = ['r'];
      let size = 1;
      while (size < n) {
        let width = 1 + Math.floor(Math.random() * 4);
        if (width > n - size) width = 1;
        const [lo, hi] = ranges[width - 1];
        let cp;
        do { cp = lo + Math.floor(Math.random() * (hi - lo + 1)); } while (cp >= 0xd800 && cp <= 0xdfff);
        out.push(String.fromCodePoint(cp));
        size += width;
      }
      return out.join('');
    };
    const randomBytes = (n) => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
      return b;
    };
    const utf8 = new TextEncoder();
    for (const [name, kind, n] of matrix) {
      let data;
      if (kind === 'text-json') data = jsonText(n);
      else if (kind === 'text-random') data = randomText(n);
      else if (kind === 'binary-json') data = utf8.encode(jsonText(n));
      else data = randomBytes(n);
      if (typeof data === 'string' && utf8.encode(data).length !== n) {
        rec(name, false, `page made ${utf8.encode(data).length} bytes instead of ${n}`);
        continue;
      }
      ws.send(data);
      const got = await nextMessage();
      if (typeof data === 'string') rec(name, got === data, `sent text(${n} bytes), got ${describe(got)} that differs`);
      else rec(name, sameBytes(got, data), `sent binary(${n} bytes), got ${describe(got)} that differs`);
    }
    ws.close(1000, 'done');
    const ev = await until(() => closeEvent || undefined, 'close');
    rec('close-1000', ev.code === 1000 && ev.wasClean, `code ${ev.code}, wasClean ${ev.wasClean}, reason ${JSON.stringify(ev.reason)}`);
  } catch (err) {
    rec('error', false, String(err && err.message));
  }
  return out;
}

// Runs inside the page: the idle cycles at w window bits.  Returns [{name, ok, why}].
async function pageIdleChecks({ url, stepMs, expectedExtensions, w, repeats, pauseMs }) {
  const out = [];
  const prefix = `idle-w${w}-`;
  const rec = (name, ok, why) => out.push({ name: prefix + name, ok, why: why || '' });
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const inbox = [];
  let wake = null;
  let closeEvent = null;
  ws.onmessage = (e) => { inbox.push(e.data); if (wake) wake(); };
  ws.onopen = () => { if (wake) wake(); };
  ws.onerror = () => { if (wake) wake(); };
  ws.onclose = (e) => { closeEvent = e; if (wake) wake(); };
  const until = (cond, what) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => { wake = null; reject(new Error(`timeout waiting for ${what}`)); }, stepMs);
    const poll = () => {
      const v = cond();
      if (v !== undefined) { clearTimeout(timer); wake = null; resolve(v); return; }
      if (closeEvent && what !== 'close') {
        clearTimeout(timer); wake = null;
        reject(new Error(`closed (code ${closeEvent.code}) while waiting for ${what}`));
        return;
      }
      wake = poll;
    };
    poll();
  });
  const nextMessage = () => until(() => (inbox.length ? inbox.shift() : undefined), 'a message');
  const sameBytes = (a, b) => {
    if (!(a instanceof ArrayBuffer) || a.byteLength !== b.byteLength) return false;
    const x = new Uint8Array(a);
    for (let i = 0; i < x.length; i++) if (x[i] !== b[i]) return false;
    return true;
  };
  // Exactly n bytes of UTF-8: random code points of 1 to 4 bytes, no controls.
  const randomText = (n) => {
    const ranges = [[0x20, 0x7e], [0xa0, 0x7ff], [0x800, 0xffff], [0x10000, 0x10ffff]];
    const parts = ['r'];
    let size = 1;
    while (size < n) {
      let width = 1 + Math.floor(Math.random() * 4);
      if (width > n - size) width = 1;
      const [lo, hi] = ranges[width - 1];
      let cp;
      do { cp = lo + Math.floor(Math.random() * (hi - lo + 1)); } while (cp >= 0xd800 && cp <= 0xdfff);
      parts.push(String.fromCodePoint(cp));
      size += width;
    }
    return parts.join('');
  };
  const utf8Suffix = (text, n) => {
    const data = new TextEncoder().encode(text);
    let cut = data.length - n;
    while ((data[cut] & 0xc0) === 0x80) cut++;
    return new TextDecoder().decode(data.subarray(cut));
  };
  const quarter = 1 << (w - 2);
  const text = randomText(quarter);
  const big = randomText(3 << w);
  const bytes = new Uint8Array(quarter);
  crypto.getRandomValues(bytes);
  const steps = [['first', text]];
  for (let i = 1; i <= repeats; i++) steps.push([`repeat-${i}`, text]);
  steps.push(['wrap', big], ['tail', utf8Suffix(big, quarter)], ['binary', bytes], ['binary-repeat', bytes]);
  try {
    await until(() => (ws.readyState === WebSocket.OPEN ? true : undefined), 'open');
    rec('extensions', ws.extensions === expectedExtensions,
      `ws.extensions ${JSON.stringify(ws.extensions)}, expected ${JSON.stringify(expectedExtensions)}`);
    for (const [i, [name, data]] of steps.entries()) {
      if (i) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      ws.send(data);
      const got = await nextMessage();
      if (typeof data === 'string') rec(name, got === data, `sent text(${data.length} chars), got a message that differs`);
      else rec(name, sameBytes(got, data), `sent binary(${data.length} bytes), got a message that differs`);
    }
    ws.close(1000, 'done');
    const ev = await until(() => closeEvent || undefined, 'close');
    rec('close-1000', ev.code === 1000 && ev.wasClean, `code ${ev.code}, wasClean ${ev.wasClean}, reason ${JSON.stringify(ev.reason)}`);
  } catch (err) {
    out.push({ name: 'error', ok: false, why: String(err && err.message) });
  }
  return out;
}

function browserPid() {
  // playwright starts chromium as our direct child: find it in /proc by parent pid.
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(workDir)) return Number(entry);
    } catch (_) { /* process went away */ }
  }
  return null;
}

async function main() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(Number(pagePort), '127.0.0.1', resolve); });
  const profile = fs.mkdtempSync(path.join(workDir, 'chromium-profile-'));
  let context = null;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: STEP_MS,
    });
    const pid = browserPid();
    if (pid) fs.writeFileSync(path.join(workDir, 'chromium.pid'), `${pid}\n`);
    const page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(STEP_MS);
    await page.goto(`http://127.0.0.1:${pagePort}/`);
    const results = mode === 'idle'
      ? await page.evaluate(pageIdleChecks, {
        url: wsUrl, stepMs: STEP_MS, expectedExtensions, w: IDLE_WINDOW_BITS, repeats: IDLE_REPEATS, pauseMs: IDLE_PAUSE_MS,
      })
      : await page.evaluate(pageChecks, {
        url: wsUrl, stepMs: STEP_MS, expectedExtensions, matrix: MATRIX,
      });
    let error = 'not reached';
    for (const r of results) {
      if (r.name === 'error') error = r.why;
      else result(r.name, r.ok, r.why);
    }
    return finish(error);
  } finally {
    if (context) await context.close().catch(() => {});
    server.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

const hardStop = setTimeout(() => { finish('overall timeout'); process.exit(1); }, 12 * STEP_MS);
main().then(
  (ok) => { clearTimeout(hardStop); process.exit(ok ? 0 : 1); },
  (err) => { clearTimeout(hardStop); finish(String(err && err.message).split('\n')[0]); process.exit(1); },
);
