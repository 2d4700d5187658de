// Two headless Chromium pages in the chat example (scripts/chat_browser.sh).
//
//   NODE_PATH=target/conformance/node/node_modules \
//     node browser_check.js PORT SERVER_PID WORK_DIR SCREENSHOT
//
// Against the chat example (wstate-tokio/examples/chat.rs) on
// 127.0.0.1:PORT: plain HTTP (the page, a 404), a WebSocket without the
// chat.v1 subprotocol refused with 400 (node `ws`),
// then two pages that join as alice and bob (Chromium's permessage-deflate
// offer accepted with server_no_context_takeover), each send a message, and
// must both show both messages (compressed frames the browser inflated) and a
// join notice; a screenshot of alice's page
// goes to SCREENSHOT.  Then SIGINT to SERVER_PID (the chat process, not a
// wrapper) and both pages must see close code 1001.  Prints `PASS chat: X` /
// `FAIL chat: X: WHY` lines, one per check in CHECKS; exit 1 if any failed.
// The browser's pid goes to WORK_DIR/chromium.pid for the calling script.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const WebSocket = require('ws');
const { chromium } = require('playwright-core');

const CHECKS = ['http-page', 'http-404', 'no-subprotocol-refused', 'pages-joined',
  'pages-deflate', 'messages-on-both-pages', 'join-notices', 'screenshot', 'close-1001-after-sigint'];
const STEP_MS = 15000;
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const [port, serverPid, workDir, screenshot] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
const done = new Map();
function result(name, ok, why) {
  if (done.has(name)) return;
  done.set(name, ok);
  console.log(ok ? `PASS chat: ${name}` : `FAIL chat: ${name}: ${why}`);
}
function finish(why) {
  for (const name of CHECKS) if (!done.has(name)) result(name, false, why);
  return [...done.values()].every(Boolean);
}

function get(urlPath) {
  return new Promise((resolve, reject) => {
    const req = http.get(base + urlPath, { timeout: STEP_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'] || '', body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

// A WebSocket offering no subprotocol: must be refused before the upgrade.
function withoutSubprotocol() {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, { handshakeTimeout: STEP_MS });
    ws.on('unexpected-response', (_req, res) => { resolve(`status ${res.statusCode}`); res.destroy(); });
    ws.on('open', () => { resolve('opened'); ws.terminate(); });
    ws.on('error', (e) => resolve(`error ${e.message}`));
  });
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

const logText = (page) => page.locator('#log').innerText();

async function join(page, name) {
  await page.goto(base + '/');
  await page.fill('#name', name);
  await page.click('#join');
  await page.waitForFunction(() => window.chat.open && !document.querySelector('#message').disabled);
}

async function main() {
  const pageRes = await get('/');
  result('http-page', pageRes.status === 200 && pageRes.type.startsWith('text/html') && pageRes.body.includes('chat.v1'),
    `status ${pageRes.status}, content-type ${pageRes.type}`);
  const missing = await get('/nope');
  result('http-404', missing.status === 404, `status ${missing.status}`);
  const refused = await withoutSubprotocol();
  result('no-subprotocol-refused', refused === 'status 400', refused);

  const profile = fs.mkdtempSync(path.join(workDir, 'chromium-profile-'));
  let context = null;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: STEP_MS,
      viewport: { width: 800, height: 640 },
    });
    const pid = browserPid();
    if (pid) fs.writeFileSync(path.join(workDir, 'chromium.pid'), `${pid}\n`);
    const alice = context.pages()[0] || await context.newPage();
    const bob = await context.newPage();
    for (const p of [alice, bob]) p.setDefaultTimeout(STEP_MS);

    await join(alice, 'alice');
    await join(bob, 'bob');
    const protocols = await Promise.all([alice, bob].map((p) => p.locator('#status').innerText()));
    result('pages-joined', protocols.every((s) => s.includes('(chat.v1)')), JSON.stringify(protocols));
    const extensions = await Promise.all([alice, bob].map((p) => p.evaluate(() => window.chat.extensions)));
    result('pages-deflate', extensions.every((e) => e === 'permessage-deflate; server_no_context_takeover'),
      JSON.stringify(extensions));

    for (const [page, text] of [[alice, 'hello from alice'], [bob, 'hi alice, bob here \u{1F600}']]) {
      await page.fill('#message', text);
      await page.click('#send');
    }
    const want = ['alice: hello from alice', 'bob: hi alice, bob here \u{1F600}'];
    const seen = async (page) => {
      await page.waitForFunction((w) => w.every((t) => document.querySelector('#log').innerText.includes(t)), want)
        .catch(() => {});
      return logText(page);
    };
    const [aliceLog, bobLog] = await Promise.all([seen(alice), seen(bob)]);
    const missingOn = (txt) => want.filter((t) => !txt.includes(t));
    result('messages-on-both-pages', !missingOn(aliceLog).length && !missingOn(bobLog).length,
      `alice lacks ${JSON.stringify(missingOn(aliceLog))}, bob lacks ${JSON.stringify(missingOn(bobLog))}`);
    result('join-notices', aliceLog.includes('bob joined (2 online)') && bobLog.includes('bob joined (2 online)')
      && aliceLog.includes('alice joined (1 online)'),
    `alice: ${JSON.stringify(aliceLog)}, bob: ${JSON.stringify(bobLog)}`);

    await alice.screenshot({ path: screenshot, fullPage: true });
    const size = fs.existsSync(screenshot) ? fs.statSync(screenshot).size : 0;
    result('screenshot', size > 1000, `${screenshot}: ${size} bytes`);

    // Ctrl-C the server: every page must be closed with 1001 (going away).
    process.kill(Number(serverPid), 'SIGINT');
    const codes = await Promise.all([alice, bob].map((p) => p
      .waitForFunction(() => window.chat.closeCode !== null)
      .then(() => p.evaluate(() => `${window.chat.closeCode} ${window.chat.closeReason}`))
      .catch(() => 'no close event')));
    result('close-1001-after-sigint', codes.every((c) => c.startsWith('1001 ')), JSON.stringify(codes));
    return finish('not reached');
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

const hardStop = setTimeout(() => { finish('overall timeout'); process.exit(1); }, 8 * STEP_MS);
main().then(
  (ok) => { clearTimeout(hardStop); process.exit(ok ? 0 : 1); },
  (err) => { clearTimeout(hardStop); finish(String(err && err.message).split('\n')[0]); process.exit(1); },
);
