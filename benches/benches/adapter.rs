//! The adapter measured against itself: `cargo bench --bench adapter`
//! (from benches/).
//!
//! * `split_echo`: a client sends 64 binary messages of 16 B and reads the
//!   64 echoes, over `tokio::io::duplex` on one current-thread runtime;
//!   the server echoes through the unsplit `WebSocket` (`recv`, `send`) or
//!   through its halves (`Reader::recv`, `Writer::send`), everything else
//!   alike. The difference is what the halves cost: the lock per call and
//!   the shared waker. `ADAPTER_CALLGRIND=split:200` (or `unsplit:200`)
//!   runs 200 rounds instead, inside `callgrind_measured`, for exact
//!   instruction counts under callgrind (see BENCHMARKS.md).
//! * `utf8_as_str`: `Utf8Bytes::as_str` on a received text, beside
//!   `std::str::from_utf8` on the same bytes (what `as_str` cost while the
//!   text was kept as `Bytes`, checked again at every call).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use tokio::io::{DuplexStream, duplex};
use tokio::runtime::Runtime;
use wstate_tokio::{ConnectRequest, Message, Options, Utf8Bytes, WebSocket};

const BATCH: usize = 64;
const SIZE: usize = 16;

#[derive(Clone, Copy)]
enum Server {
    Unsplit,
    Split,
}

/// A client and a server over a duplex pipe, the server's echo loop
/// spawned on `rt`.
fn pair(rt: &Runtime, server: Server) -> WebSocket<DuplexStream> {
    rt.block_on(async {
        let (c, s) = duplex(1 << 16);
        // No deflate: the cost of the halves, not of the codec.
        let options = Options::new().config(wstate::Config::default().with_deflate(None));
        let request = ConnectRequest::new("ws://bench/").unwrap().deflate(None);
        let (client, ws) = tokio::join!(options.connect_with(c, &request), options.accept(s));
        let ws = ws.unwrap();
        match server {
            Server::Unsplit => tokio::spawn(async move {
                let mut ws = ws;
                while let Some(Ok(message)) = ws.recv().await {
                    if ws.send(message).await.is_err() {
                        break;
                    }
                }
            }),
            Server::Split => tokio::spawn(async move {
                let (mut reader, mut writer) = ws.split();
                while let Some(Ok(message)) = reader.recv().await {
                    if writer.send(message).await.is_err() {
                        break;
                    }
                }
            }),
        };
        client.unwrap()
    })
}

/// One round: `BATCH` messages out, their echoes back.
async fn round(client: &mut WebSocket<DuplexStream>, payload: &Bytes) {
    for _ in 0..BATCH {
        client.send(Message::Binary(payload.clone())).await.unwrap();
    }
    for _ in 0..BATCH {
        black_box(client.recv().await.unwrap().unwrap());
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const SHAPES: [(&str, Server); 2] = [("unsplit", Server::Unsplit), ("split", Server::Split)];

fn split_echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("split_echo");
    group.throughput(Throughput::Elements(BATCH as u64));
    let payload = Bytes::from(vec![0x5a; SIZE]);
    for (name, server) in SHAPES {
        let rt = runtime();
        let mut client = pair(&rt, server);
        group.bench_function(BenchmarkId::new(name, format!("{BATCH}x{SIZE}B")), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        round(&mut client, &payload).await;
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

/// `ADAPTER_CALLGRIND=SHAPE:ROUNDS`: `ROUNDS` rounds of `split_echo` with
/// the server `SHAPE` (`unsplit` or `split`) inside `callgrind_measured`,
/// after one round of warm-up, for
/// `valgrind --tool=callgrind --toggle-collect=*callgrind_measured*`:
/// instructions per echoed message, both ends, exactly.
fn callgrind(spec: &str) {
    let (shape, rounds) = spec.split_once(':').expect("SHAPE:ROUNDS");
    let rounds: u64 = rounds.parse().expect("ROUNDS");
    let server = SHAPES
        .iter()
        .find(|(name, _)| *name == shape)
        .expect("SHAPE")
        .1;
    let rt = runtime();
    let mut client = pair(&rt, server);
    let payload = Bytes::from(vec![0x5a; SIZE]);
    rt.block_on(round(&mut client, &payload));
    callgrind_measured(&rt, &mut client, &payload, rounds);
    println!("{shape}: {rounds} rounds of {BATCH} messages");
}

#[inline(never)]
fn callgrind_measured(
    rt: &Runtime,
    client: &mut WebSocket<DuplexStream>,
    payload: &Bytes,
    rounds: u64,
) {
    rt.block_on(async {
        for _ in 0..rounds {
            round(client, payload).await;
        }
    });
}

fn utf8_as_str(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8_as_str");
    let texts = [
        ("ascii_16B", "0123456789abcdef".to_owned()),
        ("ascii_4KiB", "a".repeat(4096)),
        ("mixed_4KiB", "héllo wörld ✓ ".repeat(4096 / 18)),
    ];
    for (name, text) in texts {
        // As `recv` makes it: from the event's `&str`.
        let owned = Utf8Bytes::from(text.as_str());
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(BenchmarkId::new("as_str", name), |b| {
            b.iter(|| black_box(&owned).as_str().len())
        });
        // What `as_str` did while the text was kept as `Bytes`: check it
        // again at every call.
        let bytes = Bytes::copy_from_slice(text.as_bytes());
        group.bench_function(BenchmarkId::new("from_utf8", name), |b| {
            b.iter(|| {
                std::str::from_utf8(black_box(&bytes))
                    .unwrap_or_default()
                    .len()
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = split_echo, utf8_as_str
}
fn main() {
    if let Ok(spec) = std::env::var("ADAPTER_CALLGRIND") {
        return callgrind(&spec);
    }
    // What `criterion_main!` writes.
    benches();
    Criterion::default().configure_from_args().final_summary();
}
