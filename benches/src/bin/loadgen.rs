//! A bounded WebSocket echo load generator for the loopback benchmarks
//! (`benches/loopback.sh`):
//!
//! ```text
//! cargo run --release --bin loadgen -- [--addr 127.0.0.1:9001]   (in benches/)
//!     [--conns N] [--size BYTES] [--depth P] [--secs D] [--raw]
//!     [--pid SERVER_PID] [--label NAME] [--threads T]
//! ```
//!
//! Opens N connections, upgrades each (unless `--raw`, for a plain TCP echo
//! server), then keeps P binary messages of S bytes in flight on each for D
//! seconds (at most 60) and prints messages/s, MB/s, latency percentiles
//! and, with `--pid`, the server's CPU time per message read from
//! `/proc/PID/stat` over the same window. The result is one line of
//! `key=value` pairs. Everything is bounded: connections, sizes and time.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use wstate::wire::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};

/// Command-line options.
#[derive(Clone, Debug)]
struct Options {
    addr: String,
    conns: usize,
    size: usize,
    depth: usize,
    secs: f64,
    raw: bool,
    pid: Option<u32>,
    label: String,
    threads: usize,
    clk_tck: f64,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        addr: "127.0.0.1:9001".into(),
        conns: 1,
        size: 16,
        depth: 1,
        secs: 5.0,
        raw: false,
        pid: None,
        label: "server".into(),
        threads: 1,
        clk_tck: 100.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--raw" {
            o.raw = true;
            continue;
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => o.addr = value.clone(),
            "--conns" => o.conns = num(&flag, &value)?,
            "--size" => o.size = num(&flag, &value)?,
            "--depth" => o.depth = num(&flag, &value)?,
            "--secs" => o.secs = num(&flag, &value)?,
            "--pid" => o.pid = Some(num(&flag, &value)?),
            "--label" => o.label = value.clone(),
            "--threads" => o.threads = num(&flag, &value)?,
            "--clk-tck" => o.clk_tck = num(&flag, &value)?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if !(1..=1024).contains(&o.conns)
        || !(1..=16 << 20).contains(&o.size)
        || !(1..=1024).contains(&o.depth)
        || !(0.1..=60.0).contains(&o.secs)
        || !(1..=8).contains(&o.threads)
    {
        return Err(
            "out of bounds: conns 1..=1024, size 1..=16MiB, depth 1..=1024, \
                    secs 0.1..=60, threads 1..=8"
                .into(),
        );
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
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    let runtime = if options.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(options.threads);
        b
    }
    .enable_all()
    .build()
    .expect("a tokio runtime");
    match runtime.block_on(run(options)) {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(1);
        }
    }
}

/// A log-linear latency histogram in nanoseconds (32 buckets per power of
/// two: about 3% resolution).
#[derive(Clone)]
struct Histogram {
    counts: Vec<u64>,
}

impl Histogram {
    const SUB: u32 = 5;

    fn new() -> Self {
        Self {
            counts: vec![0; 64 << Self::SUB],
        }
    }

    fn index(ns: u64) -> usize {
        let ns = ns.max(1);
        let log = 63 - ns.leading_zeros();
        if log < Self::SUB {
            return ns as usize;
        }
        let shift = log - Self::SUB;
        let mantissa = (ns >> shift) as usize & ((1 << Self::SUB) - 1);
        (((shift + 1) as usize) << Self::SUB) + mantissa
    }

    /// The smallest value of bucket `i`.
    fn value(i: usize) -> u64 {
        let sub = 1usize << Self::SUB;
        if i < sub {
            return i as u64;
        }
        let shift = (i / sub - 1) as u32;
        ((sub + i % sub) as u64) << shift
    }

    fn record(&mut self, ns: u64) {
        self.counts[Self::index(ns)] += 1;
    }

    fn merge(&mut self, other: &Self) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    fn percentile(&self, p: f64) -> f64 {
        let total: u64 = self.counts.iter().sum();
        if total == 0 {
            return f64::NAN;
        }
        let rank = ((total as f64) * p).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value(i) as f64;
            }
        }
        f64::NAN
    }
}

/// What one connection measured inside the window.
struct Measured {
    messages: u64,
    bytes: u64,
    latency: Histogram,
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32, clk_tck: f64) -> io::Result<f64> {
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

async fn run(o: Options) -> Result<String, String> {
    // The message every connection sends: binary, masked with a fixed key
    // (a load generator needs no unpredictability).
    let payload: Vec<u8> = (0..o.size).map(|i| (i % 251) as u8).collect();
    let frame = {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            mask: Some(key),
            payload_len: o.size as u64,
        };
        let mut head = [0; MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        let mut f = head[..n].to_vec();
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        Rc::new(f)
    };
    let (start_tx, start_rx) = watch::channel(None::<Instant>);
    let local = tokio::task::LocalSet::new();
    let mut handles = Vec::new();
    // Connect and upgrade everything before the clock starts.
    let connect_deadline = Instant::now() + Duration::from_secs(10);
    let mut streams = Vec::new();
    for _ in 0..o.conns {
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
        streams.push(stream);
    }
    for stream in &mut streams {
        if !o.raw {
            upgrade(stream, &o.addr)
                .await
                .map_err(|e| format!("upgrade: {e}"))?;
        }
    }
    let secs = Duration::from_secs_f64(o.secs);
    for stream in streams {
        let frame = Rc::clone(&frame);
        let start_rx = start_rx.clone();
        let depth = o.depth;
        handles.push(
            local.spawn_local(async move { drive(stream, frame, depth, start_rx, secs).await }),
        );
    }
    let o2 = o.clone();
    let outcome = local
        .run_until(async move {
            // Let every task reach its start line.
            tokio::task::yield_now().await;
            let cpu0 = o2.pid.map(|p| cpu_seconds(p, o2.clk_tck)).transpose();
            let start = Instant::now();
            start_tx.send_replace(Some(start));
            tokio::time::sleep_until((start + secs).into()).await;
            let elapsed = start.elapsed().as_secs_f64();
            let cpu1 = o2.pid.map(|p| cpu_seconds(p, o2.clk_tck)).transpose();
            let mut results = Vec::new();
            for h in handles {
                results.push(h.await);
            }
            (cpu0, cpu1, elapsed, results)
        })
        .await;
    let (cpu0, cpu1, elapsed, results) = outcome;
    let mut total = Measured {
        messages: 0,
        bytes: 0,
        latency: Histogram::new(),
    };
    for r in results {
        let r = r
            .map_err(|e| format!("task: {e}"))?
            .map_err(|e| format!("io: {e}"))?;
        total.messages += r.messages;
        total.bytes += r.bytes;
        total.latency.merge(&r.latency);
    }
    let rate = total.messages as f64 / elapsed;
    let mut line = format!(
        "label={} conns={} size={} depth={} secs={:.2} msgs={} msgs_per_s={:.0} \
         mb_per_s={:.1} p50_us={:.1} p99_us={:.1}",
        o.label,
        o.conns,
        o.size,
        o.depth,
        elapsed,
        total.messages,
        rate,
        total.bytes as f64 / elapsed / 1e6,
        total.latency.percentile(0.50) / 1e3,
        total.latency.percentile(0.99) / 1e3,
    );
    if let (Ok(Some(a)), Ok(Some(b))) = (cpu0, cpu1) {
        let cpu = b - a;
        line += &format!(
            " server_cpu_s={cpu:.2} cpu_us_per_msg={:.3}",
            cpu / total.messages.max(1) as f64 * 1e6
        );
    }
    Ok(line)
}

/// Sends the upgrade request and reads the `101` head.
async fn upgrade(stream: &mut TcpStream, host: &str) -> io::Result<()> {
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    // Read byte-wise past the head: the server sends nothing after it until
    // we send frames, but stay exact anyway.
    let mut head = Vec::new();
    let mut byte = [0; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 || head.len() > 16 << 10 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(io::Error::other(
            String::from_utf8_lossy(&head).into_owned(),
        ));
    }
    Ok(())
}

/// Splits echoed frames out of the byte stream without copying payloads.
struct FrameCounter {
    header: Vec<u8>,
    /// Payload length of the current frame, once its header is parsed.
    len: Option<u64>,
    /// Payload bytes of the current frame still to skip.
    remaining: u64,
}

impl FrameCounter {
    fn new() -> Self {
        Self {
            header: Vec::with_capacity(MAX_HEADER_LEN),
            len: None,
            remaining: 0,
        }
    }

    /// Consumes `bytes`; calls `on_frame(payload_len)` per completed frame.
    fn feed(&mut self, mut bytes: &[u8], mut on_frame: impl FnMut(u64)) -> io::Result<()> {
        loop {
            if let Some(len) = self.len {
                let skip = self.remaining.min(bytes.len() as u64) as usize;
                self.remaining -= skip as u64;
                bytes = &bytes[skip..];
                if self.remaining > 0 {
                    return Ok(());
                }
                self.len = None;
                on_frame(len);
            }
            if bytes.is_empty() {
                return Ok(());
            }
            let take = (MAX_HEADER_LEN - self.header.len()).min(bytes.len());
            self.header.extend_from_slice(&bytes[..take]);
            match FrameHeader::parse(&self.header) {
                Ok(Some((header, n))) => {
                    // Give back what was taken beyond the header.
                    let extra = self.header.len() - n;
                    bytes = &bytes[take - extra..];
                    self.header.clear();
                    if header.opcode == OpCode::Close {
                        return Err(io::Error::other("the server sent a Close"));
                    }
                    self.len = Some(header.payload_len);
                    self.remaining = header.payload_len;
                }
                Ok(None) => bytes = &bytes[take..],
                Err(e) => return Err(io::Error::other(format!("bad frame: {e:?}"))),
            }
        }
    }
}

/// Runs one connection: waits for the start, then keeps `depth` messages in
/// flight until `secs` after the start; counts echoes that complete in time.
async fn drive(
    stream: TcpStream,
    frame: Rc<Vec<u8>>,
    depth: usize,
    mut start_rx: watch::Receiver<Option<Instant>>,
    secs: Duration,
) -> io::Result<Measured> {
    let start = loop {
        if let Some(start) = *start_rx.borrow_and_update() {
            break start;
        }
        start_rx
            .changed()
            .await
            .map_err(|_| io::Error::other("no start"))?;
    };
    let deadline = start + secs;
    let (mut reader, mut writer) = stream.into_split();
    let credits = Semaphore::new(depth);
    // Send times of the messages in flight, oldest first (echoes are in order).
    let sent: RefCell<VecDeque<Instant>> = RefCell::new(VecDeque::with_capacity(depth));
    let result = RefCell::new(Measured {
        messages: 0,
        bytes: 0,
        latency: Histogram::new(),
    });

    let write_side = async {
        let mut batch = Vec::new();
        loop {
            let Ok(permit) = credits.acquire().await else {
                return Ok::<(), io::Error>(());
            };
            permit.forget();
            let mut k = 1;
            while let Ok(p) = credits.try_acquire() {
                p.forget();
                k += 1;
            }
            let now = Instant::now();
            sent.borrow_mut().extend(std::iter::repeat_n(now, k));
            if frame.len() * k <= 64 << 10 {
                batch.clear();
                for _ in 0..k {
                    batch.extend_from_slice(&frame);
                }
                writer.write_all(&batch).await?;
            } else {
                for _ in 0..k {
                    writer.write_all(&frame).await?;
                }
            }
        }
    };
    let read_side = async {
        let mut buf = vec![0; 64 << 10];
        let mut counter = FrameCounter::new();
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                return Err::<(), io::Error>(io::ErrorKind::UnexpectedEof.into());
            }
            let now = Instant::now();
            let mut done = 0;
            counter.feed(&buf[..n], |len| {
                done += 1;
                let t0 = sent.borrow_mut().pop_front();
                if now <= deadline {
                    let mut r = result.borrow_mut();
                    r.messages += 1;
                    r.bytes += len;
                    if let Some(t0) = t0 {
                        r.latency.record((now - t0).as_nanos() as u64);
                    }
                }
            })?;
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
