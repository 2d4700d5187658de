//! A bounded permessage-deflate echo load generator for
//! `benches/deflate_echo.sh`:
//!
//! ```text
//! cargo run --release --bin deflate_loadgen -- [--addr 127.0.0.1:9001]   (in benches/)
//!     [--kind small|large] [--conns N] [--depth P] [--secs D]
//!     [--pid SERVER_PID] [--clk-tck HZ] [--label NAME] [--seed S]
//! ```
//!
//! Opens N connections with a `wstate` client [`Connection`] offering
//! permessage-deflate (`DeflateConfig::default()`: level 1, the usual offer
//! `permessage-deflate; client_max_window_bits`), fails unless the server
//! accepts it, then keeps P text messages in flight on each for D seconds
//! (at most 60). The messages are a realistic JSON stream, generated from a
//! fixed seed (the same stream for every server): `small` is chat, telemetry,
//! presence, ticker and log events of 100-300 bytes, `large` is 64 KiB
//! pages of such events (a telemetry batch, a chat history, a log batch).
//! Each connection walks the corpus from its own offset, and the corpus is
//! long enough (1.4 MB, 3 MB) that no message repeats within a deflate window.
//! Before the clock starts, every connection echoes 256 small messages (44
//! KB) or one large one, so the windows start full whatever the number of
//! messages a run gets through. Every echo is compared with what was sent.
//!
//! Prints one line of `key=value` pairs: messages/s, the plain payload rate,
//! the compression ratio (bytes on the wire, frame headers included / plain
//! payload bytes) up (our client compressing) and down (the server
//! compressing), latency percentiles, this process's CPU time and, with
//! `--pid`, the server's (utime + stime from `/proc/PID/stat`) per message,
//! all over the same window. Bounded: connections, depth and time.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use wstate::DeflateConfig;
use wstate::DeflateParams;
use wstate::{ClientRequest, Config, Connection, Event, Message, Polled};

/// Which messages a run sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// 100-300 byte events.
    Small,
    /// 64 KiB pages of events.
    Large,
}

/// Command-line options.
#[derive(Clone, Debug)]
struct Options {
    addr: String,
    kind: Kind,
    conns: usize,
    depth: usize,
    secs: f64,
    pid: Option<u32>,
    clk_tck: f64,
    label: String,
    seed: u64,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        addr: "127.0.0.1:9001".into(),
        kind: Kind::Small,
        conns: 16,
        depth: 8,
        secs: 4.0,
        pid: None,
        clk_tck: 100.0,
        label: "server".into(),
        seed: 7692,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => o.addr = value,
            "--kind" => {
                o.kind = match value.as_str() {
                    "small" => Kind::Small,
                    "large" => Kind::Large,
                    _ => return Err(format!("--kind is small or large, not {value}")),
                }
            }
            "--conns" => o.conns = num(&flag, &value)?,
            "--depth" => o.depth = num(&flag, &value)?,
            "--secs" => o.secs = num(&flag, &value)?,
            "--pid" => o.pid = Some(num(&flag, &value)?),
            "--clk-tck" => o.clk_tck = num(&flag, &value)?,
            "--label" => o.label = value,
            "--seed" => o.seed = num(&flag, &value)?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if !(1..=256).contains(&o.conns)
        || !(1..=256).contains(&o.depth)
        || !(0.1..=60.0).contains(&o.secs)
    {
        return Err("out of bounds: conns 1..=256, depth 1..=256, secs 0.1..=60".into());
    }
    let host = o.addr.rsplit_once(':').map_or("", |(h, _)| h);
    if !(host.starts_with("127.") || host == "localhost" || host == "[::1]") {
        return Err(format!("loopback addresses only, not {}", o.addr));
    }
    Ok(o)
}

/// Parses the value of a numeric option.
fn num<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("bad value for {flag}: {value}"))
}

fn main() {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("deflate_loadgen: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(options)) {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("deflate_loadgen: {e}");
            std::process::exit(1);
        }
    }
}

// ------------------------------------------------------------------ corpus

/// splitmix64: deterministic, good enough for test data and mask keys.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `lo..hi`.
    fn float(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const NAMES: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yusuf", "zoe",
    "amara", "bruno", "chen", "dmitri", "elif", "farah", "goran", "hana", "ines", "jonas", "kenji",
];
const WORDS: &[&str] = &[
    "the",
    "deploy",
    "is",
    "done",
    "can",
    "you",
    "check",
    "latency",
    "on",
    "staging",
    "again",
    "looks",
    "good",
    "to",
    "me",
    "merged",
    "thanks",
    "meeting",
    "at",
    "noon",
    "tomorrow",
    "I",
    "think",
    "we",
    "should",
    "roll",
    "back",
    "cache",
    "miss",
    "rate",
    "went",
    "up",
    "after",
    "release",
    "dashboard",
    "shows",
    "spike",
    "in",
    "errors",
    "fixed",
    "typo",
    "lunch",
    "anyone",
    "coffee",
    "build",
    "green",
    "red",
    "flaky",
    "test",
    "retry",
    "ticket",
    "review",
    "please",
    "ok",
    "sure",
    "nice",
    "weekend",
    "plans",
    "sounds",
    "great",
    "let's",
    "ship",
    "it",
    "today",
];
const ROOMS: &[&str] = &[
    "general",
    "random",
    "dev",
    "ops",
    "incidents",
    "design",
    "sales",
    "support",
    "releases",
];
const SERVICES: &[&str] = &[
    "api-gateway",
    "auth",
    "billing",
    "search",
    "notifications",
    "checkout",
    "inventory",
];
const LOG_MSGS: &[&str] = &[
    "request completed",
    "upstream timeout, retrying",
    "cache refreshed",
    "token validated",
    "slow query detected",
    "connection pool exhausted",
    "user session created",
    "rate limit applied",
];
const SYMBOLS: &[&str] = &[
    "BTC-USD", "ETH-USD", "SOL-USD", "EUR-USD", "GBP-USD", "AAPL", "MSFT", "NVDA", "TSLA",
];
const STATUSES: &[&str] = &["online", "away", "busy", "offline"];
const CLIENTS: &[&str] = &["web/1.42.3", "ios/5.8.0", "android/5.7.2", "desktop/2.1.0"];

/// A running clock for the events' timestamps (milliseconds, increasing).
struct Clock(u64);

impl Clock {
    fn tick(&mut self, rng: &mut Rng) -> u64 {
        self.0 += 1 + rng.below(250);
        self.0
    }
}

fn words(rng: &mut Rng, lo: u64, hi: u64) -> String {
    let n = lo + rng.below(hi - lo);
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(rng.pick(WORDS));
    }
    s
}

fn chat(rng: &mut Rng, clock: &mut Clock) -> String {
    let user = rng.below(NAMES.len() as u64) as usize;
    format!(
        r#"{{"type":"chat.message","id":"msg_{:016x}","room":"{}","user":{{"id":{},"name":"{}"}},"ts":{},"text":"{}","reply_to":{}}}"#,
        rng.next(),
        rng.pick(ROOMS),
        10_000 + user,
        NAMES[user],
        clock.tick(rng),
        words(rng, 3, 22),
        if rng.below(4) == 0 {
            format!("\"msg_{:016x}\"", rng.next())
        } else {
            "null".into()
        },
    )
}

fn telemetry(rng: &mut Rng, clock: &mut Clock, device: u64, seq: u64) -> String {
    format!(
        r#"{{"type":"telemetry","device":"sensor-{device:04}","seq":{seq},"ts":{},"metrics":{{"temp_c":{:.2},"humidity":{:.1},"pressure_hpa":{:.1},"battery":{:.3}}},"status":"{}"}}"#,
        clock.tick(rng),
        rng.float(15.0, 35.0),
        rng.float(20.0, 80.0),
        rng.float(980.0, 1040.0),
        rng.float(0.05, 1.0),
        if rng.below(20) == 0 { "degraded" } else { "ok" },
    )
}

fn presence(rng: &mut Rng, clock: &mut Clock) -> String {
    format!(
        r#"{{"type":"presence","user":"{}{}","status":"{}","last_seen":{},"client":"{}"}}"#,
        rng.pick(NAMES),
        rng.below(1000),
        rng.pick(STATUSES),
        clock.tick(rng),
        rng.pick(CLIENTS),
    )
}

fn ticker(rng: &mut Rng, clock: &mut Clock) -> String {
    let last = rng.float(10.0, 70_000.0);
    let spread = last * rng.float(0.0001, 0.001);
    format!(
        r#"{{"type":"ticker","symbol":"{}","bid":{:.2},"ask":{:.2},"last":{last:.2},"volume_24h":{:.4},"change_pct":{:.3},"ts":{}}}"#,
        rng.pick(SYMBOLS),
        last - spread,
        last + spread,
        rng.float(1_000.0, 5_000_000.0),
        rng.float(-8.0, 8.0),
        clock.tick(rng),
    )
}

fn log_line(rng: &mut Rng, clock: &mut Clock) -> String {
    let status = [200, 200, 200, 201, 204, 304, 400, 404, 500, 503][rng.below(10) as usize];
    format!(
        r#"{{"type":"log","level":"{}","service":"{}","trace_id":"{:016x}{:016x}","msg":"{}","http":{{"method":"{}","path":"/v1/{}/{}","status":{status}}},"latency_ms":{:.1},"ts":{}}}"#,
        if status >= 500 { "error" } else { "info" },
        rng.pick(SERVICES),
        rng.next(),
        rng.next(),
        rng.pick(LOG_MSGS),
        ["GET", "GET", "POST", "PUT"][rng.below(4) as usize],
        rng.pick(&["users", "orders", "items", "sessions"]),
        rng.below(1_000_000),
        rng.float(0.2, 900.0),
        clock.tick(rng),
    )
}

/// 8,192 events of 100-300 bytes, of five kinds.
fn small_corpus(rng: &mut Rng) -> Vec<String> {
    let mut clock = Clock(1_718_000_000_000);
    let mut seq = 0;
    let mut out = Vec::with_capacity(8192);
    while out.len() < 8192 {
        let event = match rng.below(5) {
            0 => chat(rng, &mut clock),
            1 => {
                seq += 1;
                let device = rng.below(500);
                telemetry(rng, &mut clock, device, seq)
            }
            2 => presence(rng, &mut clock),
            3 => ticker(rng, &mut clock),
            _ => log_line(rng, &mut clock),
        };
        if (100..=300).contains(&event.len()) {
            out.push(event);
        }
    }
    out
}

/// 48 pages of at most 64 KiB: one device's telemetry batch, a room's chat
/// history or a service's log batch, as a JSON object holding an array.
fn large_corpus(rng: &mut Rng) -> Vec<String> {
    const MAX: usize = 64 << 10;
    let mut clock = Clock(1_718_000_000_000);
    (0..48)
        .map(|i| {
            let mut page = match i % 3 {
                0 => format!(
                    r#"{{"type":"telemetry.batch","device":"sensor-{:04}","samples":["#,
                    rng.below(500)
                ),
                1 => format!(
                    r#"{{"type":"chat.history","room":"{}","cursor":"c_{:016x}","messages":["#,
                    rng.pick(ROOMS),
                    rng.next()
                ),
                _ => format!(
                    r#"{{"type":"log.batch","host":"node-{:02}","entries":["#,
                    rng.below(64)
                ),
            };
            let device = rng.below(500);
            let mut seq = rng.below(1 << 20);
            let mut first = true;
            loop {
                seq += 1;
                let item = match i % 3 {
                    0 => telemetry(rng, &mut clock, device, seq),
                    1 => chat(rng, &mut clock),
                    _ => log_line(rng, &mut clock),
                };
                if page.len() + item.len() + 3 > MAX {
                    break;
                }
                if !first {
                    page.push(',');
                }
                first = false;
                page.push_str(&item);
            }
            page.push_str("]}");
            page
        })
        .collect()
}

// ------------------------------------------------------------------ measuring

/// What one connection measured inside the window.
#[derive(Default)]
struct Measured {
    messages: u64,
    /// Payload bytes we sent, and the bytes we wrote to the socket for them.
    plain_up: u64,
    wire_up: u64,
    /// Payload bytes echoed to us, and the bytes read from the socket.
    plain_down: u64,
    wire_down: u64,
    /// Round trips in nanoseconds.
    latency: Vec<u64>,
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: &str, clk_tck: f64) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; fields are counted after its ')'.
    let rest = &stat[stat.rfind(')').ok_or(io::ErrorKind::InvalidData)? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // Fields 14 and 15 of stat(5) are the 12th and 13th after the name.
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => Ok((u + s) / clk_tck),
        _ => Err(io::ErrorKind::InvalidData.into()),
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}

async fn run(o: Options) -> Result<String, String> {
    let mut rng = Rng(o.seed);
    let corpus = Rc::new(match o.kind {
        Kind::Small => small_corpus(&mut rng),
        Kind::Large => large_corpus(&mut rng),
    });
    let mean_size = corpus.iter().map(String::len).sum::<usize>() as f64 / corpus.len() as f64;

    // Connect and upgrade everything before the clock starts.
    let connect_deadline = Instant::now() + Duration::from_secs(10);
    let mut conns = Vec::new();
    let mut negotiated = None;
    for i in 0..o.conns {
        let stream = loop {
            match TcpStream::connect(&o.addr).await {
                Ok(s) => break s,
                // The server may still be starting.
                Err(_) if Instant::now() < connect_deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => return Err(format!("connect {}: {e}", o.addr)),
            }
        };
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (stream, conn, params) = tokio::time::timeout(
            Duration::from_secs(10),
            upgrade(stream, &o.addr, o.seed ^ (i as u64 + 1)),
        )
        .await
        .map_err(|_| "upgrade: timed out".to_string())?
        .map_err(|e| format!("upgrade: {e}"))?;
        negotiated = Some(params);
        conns.push((stream, conn));
    }
    // Warm every connection up, both ways, so that the window starts full
    // whatever the number of messages the run gets through: a cold start
    // compresses worse, and a slower server would see more of it.
    let n = o.conns;
    let warm = match o.kind {
        Kind::Small => 256,
        Kind::Large => 1,
    };
    for (i, (stream, conn)) in conns.iter_mut().enumerate() {
        let first = i * corpus.len() / n;
        tokio::time::timeout(
            Duration::from_secs(10),
            warm_up(stream, conn, &corpus, first, warm),
        )
        .await
        .map_err(|_| "warm-up: timed out".to_string())?
        .map_err(|e| format!("warm-up: {e}"))?;
    }
    let (start_tx, start_rx) = watch::channel(None::<Instant>);
    let secs = Duration::from_secs_f64(o.secs);
    let local = tokio::task::LocalSet::new();
    let mut handles = Vec::new();
    for (i, (stream, conn)) in conns.into_iter().enumerate() {
        let corpus = Rc::clone(&corpus);
        let first = i * corpus.len() / n + warm;
        let start_rx = start_rx.clone();
        let depth = o.depth;
        handles.push(local.spawn_local(async move {
            drive(stream, conn, corpus, first, depth, start_rx, secs).await
        }));
    }
    let pid = o.pid.map(|p| p.to_string());
    let clk_tck = o.clk_tck;
    let (server0, self0, elapsed, server1, self1, results) = local
        .run_until(async move {
            // Let every task reach its start line.
            tokio::task::yield_now().await;
            let server0 = pid.as_deref().map(|p| cpu_seconds(p, clk_tck)).transpose();
            let self0 = cpu_seconds("self", clk_tck);
            let start = Instant::now();
            start_tx.send_replace(Some(start));
            tokio::time::sleep_until((start + secs).into()).await;
            let elapsed = start.elapsed().as_secs_f64();
            let server1 = pid.as_deref().map(|p| cpu_seconds(p, clk_tck)).transpose();
            let self1 = cpu_seconds("self", clk_tck);
            let mut results = Vec::new();
            for h in handles {
                results.push(h.await);
            }
            (server0, self0, elapsed, server1, self1, results)
        })
        .await;
    let mut total = Measured::default();
    for r in results {
        let r = r.map_err(|e| format!("task: {e}"))??;
        total.messages += r.messages;
        total.plain_up += r.plain_up;
        total.wire_up += r.wire_up;
        total.plain_down += r.plain_down;
        total.wire_down += r.wire_down;
        total.latency.extend(r.latency);
    }
    if total.messages == 0 {
        return Err("no echo completed in the window".into());
    }
    total.latency.sort_unstable();
    let ratio = |wire: u64, plain: u64| wire as f64 / plain.max(1) as f64;
    let params = negotiated.map_or(String::new(), |p| describe(&p));
    let mut line = format!(
        "label={} kind={} conns={} depth={} mean_size={mean_size:.0} secs={elapsed:.2} msgs={} \
         msgs_per_s={:.0} plain_mb_per_s={:.1} ratio_up={:.4} ratio_down={:.4} ratio={:.4} \
         p50_us={:.1} p99_us={:.1} pmd={params}",
        o.label,
        match o.kind {
            Kind::Small => "small",
            Kind::Large => "large",
        },
        o.conns,
        o.depth,
        total.messages,
        total.messages as f64 / elapsed,
        total.plain_down as f64 / elapsed / 1e6,
        ratio(total.wire_up, total.plain_up),
        ratio(total.wire_down, total.plain_down),
        ratio(
            total.wire_up + total.wire_down,
            total.plain_up + total.plain_down
        ),
        percentile(&total.latency, 0.50) / 1e3,
        percentile(&total.latency, 0.99) / 1e3,
    );
    if let (Ok(a), Ok(b)) = (self0, self1) {
        let _ = write!(line, " client_cpu_s={:.2}", b - a);
    }
    if let (Ok(Some(a)), Ok(Some(b))) = (server0, server1) {
        let cpu = b - a;
        let _ = write!(
            line,
            " server_cpu_s={cpu:.2} cpu_us_per_msg={:.3}",
            cpu / total.messages as f64 * 1e6
        );
    }
    Ok(line)
}

/// The negotiated parameters in one token, e.g. `s15/c12` or `s15nct/c15nct`.
fn describe(p: &DeflateParams) -> String {
    format!(
        "s{}{}/c{}{}",
        p.server_max_window_bits.unwrap_or(15),
        if p.server_no_context_takeover {
            "nct"
        } else {
            ""
        },
        p.client_max_window_bits.unwrap_or(15),
        if p.client_no_context_takeover {
            "nct"
        } else {
            ""
        },
    )
}

/// The opening handshake with permessage-deflate offered; fails unless the
/// server accepts it.
async fn upgrade(
    mut stream: TcpStream,
    host: &str,
    seed: u64,
) -> Result<(TcpStream, Connection, DeflateParams), String> {
    let config = Config::default()
        .with_deflate(Some(DeflateConfig::default()))
        // Nothing times out inside a bounded run; no Pings from us.
        .with_keepalive(None);
    let mut rng = Rng(seed);
    let entropy = move |buf: &mut [u8]| {
        for chunk in buf.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next().to_le_bytes()[..chunk.len()]);
        }
    };
    let mut out = Vec::new();
    let mut conn = Connection::client(&ClientRequest::new(host, "/"), entropy, config, &mut out)
        .map_err(|e| format!("{e:?}"))?;
    stream.write_all(&out).await.map_err(|e| e.to_string())?;
    out.clear();
    let mut buf = vec![0; 16 << 10];
    loop {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the server closed during the handshake".into());
        }
        conn.receive(&buf[..n]);
        let accepted = match conn.poll_event(&mut out) {
            Polled::Event(Event::Accepted(_), _) => true,
            Polled::NeedMore => false,
            Polled::Event(e, _) => return Err(format!("unexpected {e:?}")),
            Polled::Done => return Err("rejected".into()),
            Polled::Failed(e) => return Err(format!("{e:?}")),
        };
        if accepted {
            let params = *conn
                .deflate()
                .ok_or("the server declined permessage-deflate")?;
            return Ok((stream, conn, params));
        }
    }
}

/// Sends `count` messages from `corpus[first..]` at once and waits for
/// their echoes, checking each.
async fn warm_up(
    stream: &mut TcpStream,
    conn: &mut Connection,
    corpus: &[String],
    first: usize,
    count: usize,
) -> Result<(), String> {
    let mut out = Vec::new();
    for k in 0..count {
        conn.sender()
            .send(Message::Text(&corpus[(first + k) % corpus.len()]), &mut out)
            .map_err(|e| format!("send: {e:?}"))?;
    }
    stream.write_all(&out).await.map_err(|e| e.to_string())?;
    out.clear();
    let mut buf = vec![0; 64 << 10];
    let mut echoed = 0;
    while echoed < count {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        conn.receive(&buf[..n]);
        loop {
            match conn.poll_event(&mut out) {
                Polled::Event(Event::Text(text), _) => {
                    if text != corpus[(first + echoed) % corpus.len()] {
                        return Err(format!("echo {echoed} differs from what was sent"));
                    }
                    echoed += 1;
                }
                Polled::Event(Event::Ping(_) | Event::Pong(_), _) => {}
                Polled::Event(e, _) => return Err(format!("unexpected {e:?}")),
                Polled::NeedMore => break,
                Polled::Done => return Err("the connection ended".into()),
                Polled::Failed(e) => return Err(format!("protocol error: {e:?}")),
            }
        }
        // Pongs, if the server pinged.
        if !out.is_empty() {
            stream.write_all(&out).await.map_err(|e| e.to_string())?;
            out.clear();
        }
    }
    Ok(())
}

/// Runs one connection: waits for the start, then keeps `depth` messages in
/// flight until `secs` after the start, checking every echo.
async fn drive(
    stream: TcpStream,
    conn: Connection,
    corpus: Rc<Vec<String>>,
    first: usize,
    depth: usize,
    mut start_rx: watch::Receiver<Option<Instant>>,
    secs: Duration,
) -> Result<Measured, String> {
    let start = loop {
        if let Some(start) = *start_rx.borrow_and_update() {
            break start;
        }
        start_rx.changed().await.map_err(|_| "no start")?;
    };
    let deadline = start + secs;
    let (mut reader, mut writer) = stream.into_split();
    // Borrowed by one side at a time, never across an `.await`.
    let conn = RefCell::new(conn);
    let credits = Semaphore::new(depth);
    // Corpus index and send time of the messages in flight, oldest first.
    let sent: RefCell<VecDeque<(usize, Instant)>> = RefCell::new(VecDeque::with_capacity(depth));
    // Pongs the connection queued while reading, for the writer to send.
    let replies = RefCell::new(Vec::new());
    let result = RefCell::new(Measured::default());

    let write_side = async {
        let mut next = first;
        let mut out = Vec::new();
        loop {
            let Ok(permit) = credits.acquire().await else {
                return Ok::<(), String>(());
            };
            permit.forget();
            let mut k = 1;
            while let Ok(p) = credits.try_acquire() {
                p.forget();
                k += 1;
            }
            let now = Instant::now();
            let mut plain = 0;
            {
                let mut conn = conn.borrow_mut();
                let mut sent = sent.borrow_mut();
                for _ in 0..k {
                    let i = next % corpus.len();
                    next += 1;
                    conn.sender()
                        .send(Message::Text(&corpus[i]), &mut out)
                        .map_err(|e| format!("send: {e:?}"))?;
                    sent.push_back((i, now));
                    plain += corpus[i].len() as u64;
                }
                out.append(&mut replies.borrow_mut());
            }
            if now <= deadline {
                let mut r = result.borrow_mut();
                r.plain_up += plain;
                r.wire_up += out.len() as u64;
            }
            writer.write_all(&out).await.map_err(|e| e.to_string())?;
            out.clear();
        }
    };
    let read_side = async {
        let mut buf = vec![0; 64 << 10];
        let mut queued = Vec::new();
        loop {
            let n = reader.read(&mut buf).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err::<(), String>("the server closed the connection".into());
            }
            let now = Instant::now();
            let in_window = now <= deadline;
            let mut done = 0;
            {
                let mut conn = conn.borrow_mut();
                let mut r = result.borrow_mut();
                conn.receive(&buf[..n]);
                loop {
                    match conn.poll_event(&mut queued) {
                        Polled::Event(Event::Text(text), _) => {
                            let (i, t0) = sent.borrow_mut().pop_front().ok_or("unasked echo")?;
                            if text != corpus[i] {
                                return Err(format!("echo {i} differs from what was sent"));
                            }
                            done += 1;
                            if in_window {
                                r.messages += 1;
                                r.plain_down += text.len() as u64;
                                r.latency.push((now - t0).as_nanos() as u64);
                            }
                        }
                        Polled::Event(Event::Close(frame), _) => {
                            return Err(format!("the server closed with {}", frame.code.0));
                        }
                        Polled::Event(Event::Binary(_), _) => {
                            return Err("a binary echo of a text message".into());
                        }
                        // Pings (their Pongs are queued), Pongs.
                        Polled::Event(..) => {}
                        Polled::NeedMore => break,
                        Polled::Done => return Err("the connection ended".into()),
                        Polled::Failed(e) => return Err(format!("protocol error: {e:?}")),
                    }
                }
                if in_window {
                    r.wire_down += n as u64;
                }
            }
            if !queued.is_empty() {
                replies.borrow_mut().append(&mut queued);
            }
            credits.add_permits(done);
        }
    };
    // Stop at the deadline, whichever side is waiting.
    tokio::select! {
        r = write_side => r?,
        r = read_side => r?,
        _ = tokio::time::sleep_until(deadline.into()) => {}
    }
    Ok(result.into_inner())
}
