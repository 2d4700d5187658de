//! In-memory micro-benchmarks of `wstate` against `tungstenite` and
//! `fastwebsockets`, all measured in the same run.
//!
//! Run with `cargo bench --bench micro` (about three minutes). Every group
//! holds the same work done by each implementation, so the ratios within a
//! group are what to read; absolute numbers vary with the machine.
//!
//! Reads are simulated by an endless in-memory stream that hands out one
//! batch of frames per read (at most [`READ_CHUNK`] bytes), the same bytes
//! for every implementation.

use std::future::Future;
use std::hint::black_box;
use std::io::{self, Cursor, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wstate::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use wstate::utf8::Utf8Validator;
use wstate::{Config, Connection, Event, Message, Role};

/// The most bytes one simulated read returns.
const READ_CHUNK: usize = 64 * 1024;
/// Small messages per iteration of the message benchmarks.
const BATCH: usize = 1000;
/// Payload size of the small messages.
const SMALL: usize = 16;
/// 1 MiB.
const MIB: usize = 1 << 20;
/// The mask key used for every client frame.
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

// ---------------------------------------------------------------- helpers

/// One frame as a client sends it: masked with [`KEY`].
fn masked_frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode,
        mask: Some(KEY),
        payload_len: payload.len() as u64,
    };
    let mut head = [0; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    let mut out = head[..n].to_vec();
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    out
}

/// `count` copies of one masked frame, back to back.
fn frames(opcode: OpCode, payload: &[u8], count: usize) -> Vec<u8> {
    masked_frame(opcode, payload).repeat(count)
}

/// 1 MiB of printable ASCII.
fn ascii_text() -> Vec<u8> {
    (0..MIB).map(|i| b' ' + (i % 95) as u8).collect()
}

/// 1 MiB of valid UTF-8 mixing 1-, 2-, 3- and 4-byte characters.
fn mixed_text() -> Vec<u8> {
    let pattern = "aé€😀Zñ中𝄞 κόσμε ".as_bytes();
    let mut text = Vec::with_capacity(MIB + pattern.len());
    while text.len() < MIB {
        text.extend_from_slice(pattern);
    }
    // Cut at a character boundary at or below 1 MiB.
    let mut end = MIB;
    while core::str::from_utf8(&text[..end]).is_err() {
        end -= 1;
    }
    text.truncate(end);
    text
}

/// An endless byte stream repeating `data`; each read stops at the end of
/// `data` (one "batch" per read) and at [`READ_CHUNK`]. Writes are counted
/// and dropped. Implements both std and tokio I/O traits.
struct Endless {
    data: Vec<u8>,
    pos: usize,
    written: usize,
}

impl Endless {
    fn new(data: Vec<u8>) -> Self {
        Self {
            data,
            pos: 0,
            written: 0,
        }
    }

    fn next_chunk(&mut self, max: usize) -> &[u8] {
        if self.pos == self.data.len() {
            self.pos = 0;
        }
        let n = (self.data.len() - self.pos).min(max).min(READ_CHUNK);
        let chunk = &self.data[self.pos..self.pos + n];
        self.pos += n;
        chunk
    }
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let chunk = self.next_chunk(buf.len());
        let n = chunk.len();
        buf[..n].copy_from_slice(chunk);
        Ok(n)
    }
}

impl Write for Endless {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for Endless {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let chunk = this.next_chunk(buf.remaining());
        buf.put_slice(chunk);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Endless {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().written += buf.len();
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Runs a future whose I/O never waits (the in-memory stream above).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Feeds `data` to `conn` in reads of at most [`READ_CHUNK`] and drains
/// every event; returns the number of data messages and their bytes.
fn wstate_receive(conn: &mut Connection, data: &[u8], out: &mut Vec<u8>) -> (usize, usize) {
    let (mut messages, mut bytes) = (0, 0);
    for chunk in data.chunks(READ_CHUNK) {
        conn.receive(chunk);
        while let Some(event) = conn.poll_event(out).expect("valid input") {
            match event {
                Event::Binary(b) => bytes += black_box(b).len(),
                Event::Text(t) => bytes += black_box(t).len(),
                _ => {}
            }
            messages += 1;
        }
    }
    out.clear();
    (messages, bytes)
}

// ---------------------------------------------------------------- groups

fn frame_header(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame_header");
    g.throughput(Throughput::Elements(1));
    // A masked 16-byte binary frame (6-byte header) and a masked 64 KiB one
    // (14-byte header), as a server parses them.
    let short = masked_frame(OpCode::Binary, &[0; SMALL])[..6].to_vec();
    let long = {
        let h = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            mask: Some(KEY),
            payload_len: 1 << 16,
        };
        let mut b = [0; MAX_HEADER_LEN];
        let n = h.encode(&mut b);
        b[..n].to_vec()
    };
    for (name, bytes) in [("6B", &short), ("14B", &long)] {
        g.bench_function(format!("parse_{name}/wstate"), |b| {
            b.iter(|| FrameHeader::parse(black_box(bytes)).unwrap().unwrap().1)
        });
        g.bench_function(format!("parse_{name}/tungstenite"), |b| {
            b.iter(|| {
                let mut cursor = Cursor::new(black_box(bytes.as_slice()));
                let (_, len) = tungstenite::protocol::frame::FrameHeader::parse(&mut cursor)
                    .unwrap()
                    .unwrap();
                len + cursor.position()
            })
        });
    }
    // Encoding an unmasked 16-byte binary frame header (what a server sends).
    let ours = FrameHeader {
        fin: true,
        rsv: 0,
        opcode: OpCode::Binary,
        mask: None,
        payload_len: SMALL as u64,
    };
    g.bench_function("encode_2B/wstate", |b| {
        let mut buf = [0; MAX_HEADER_LEN];
        b.iter(|| {
            let n = black_box(&ours).encode(&mut buf);
            black_box(&buf);
            n
        })
    });
    let theirs = tungstenite::protocol::frame::FrameHeader {
        opcode: tungstenite::protocol::frame::coding::OpCode::Data(
            tungstenite::protocol::frame::coding::Data::Binary,
        ),
        ..Default::default()
    };
    g.bench_function("encode_2B/tungstenite", |b| {
        let mut buf = [0u8; MAX_HEADER_LEN];
        b.iter(|| {
            let mut w = &mut buf[..];
            black_box(&theirs)
                .format(black_box(SMALL as u64), &mut w)
                .unwrap();
            let n = MAX_HEADER_LEN - w.len();
            black_box(&buf);
            n
        })
    });
    let payload = [0u8; SMALL];
    g.bench_function("encode_2B/fastwebsockets", |b| {
        let mut buf = [0u8; 16];
        b.iter(|| {
            let mut frame = fastwebsockets::Frame::binary(fastwebsockets::Payload::Borrowed(
                black_box(&payload[..]),
            ));
            let n = frame.fmt_head(&mut buf);
            black_box(&buf);
            n
        })
    });
    g.finish();
}

fn mask(c: &mut Criterion) {
    let mut g = c.benchmark_group("mask_1MiB");
    g.throughput(Throughput::Bytes(MIB as u64));
    // One byte more than 1 MiB so that `[1..]` is an unaligned 1 MiB view.
    let mut buf = vec![0x5au8; MIB + 1];
    g.bench_function("wstate_apply_mask", |b| {
        b.iter(|| wstate::mask::apply_mask(black_box(&mut buf[..MIB]), KEY, 0))
    });
    g.bench_function("wstate_apply_mask_unaligned", |b| {
        b.iter(|| wstate::mask::apply_mask(black_box(&mut buf[1..]), KEY, 0))
    });
    g.bench_function("fastwebsockets_unmask", |b| {
        b.iter(|| fastwebsockets::unmask(black_box(&mut buf[..MIB]), KEY))
    });
    g.bench_function("fastwebsockets_unmask_unaligned", |b| {
        b.iter(|| fastwebsockets::unmask(black_box(&mut buf[1..]), KEY))
    });
    // tungstenite's apply_mask is private; fastwebsockets' unmask is the
    // same 32-bit word algorithm (its source says it is taken from it).
    g.bench_function("naive_loop", |b| {
        b.iter(|| {
            for (i, byte) in black_box(&mut buf[..MIB]).iter_mut().enumerate() {
                *byte ^= KEY[i & 3];
            }
        })
    });
    let src = vec![0xa5u8; MIB];
    g.bench_function("memcpy_ceiling", |b| {
        b.iter(|| buf[..MIB].copy_from_slice(black_box(&src)))
    });
    g.finish();
}

fn utf8(c: &mut Criterion) {
    for (name, text) in [("ascii", ascii_text()), ("mixed", mixed_text())] {
        let mut g = c.benchmark_group(format!("utf8_1MiB_{name}"));
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function("wstate_validator", |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                v.feed(black_box(&text)).unwrap();
                v.finish().unwrap();
            })
        });
        g.bench_function("wstate_validator_4KiB_pieces", |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                for piece in black_box(&text).chunks(4096) {
                    v.feed(piece).unwrap();
                }
                v.finish().unwrap();
            })
        });
        g.bench_function("core_str_from_utf8", |b| {
            b.iter(|| core::str::from_utf8(black_box(&text)).unwrap().len())
        });
        g.bench_function("simdutf8_basic", |b| {
            b.iter(|| simdutf8::basic::from_utf8(black_box(&text)).unwrap().len())
        });
        g.finish();
    }
}

fn receive_small(c: &mut Criterion) {
    for (name, opcode) in [("binary", OpCode::Binary), ("text", OpCode::Text)] {
        let mut g = c.benchmark_group(format!("receive_16B_{name}"));
        g.throughput(Throughput::Elements(BATCH as u64));
        let payload = *b"0123456789abcdef";
        let input = frames(opcode, &payload, BATCH);

        g.bench_function("wstate", |b| {
            let mut conn = Connection::new_open(Role::Server, Config::default());
            let mut out = Vec::new();
            b.iter(|| {
                let (n, _) = wstate_receive(&mut conn, &input, &mut out);
                assert_eq!(n, BATCH);
            })
        });
        g.bench_function("tungstenite_websocket", |b| {
            let mut ws = tungstenite::WebSocket::from_raw_socket(
                Endless::new(input.clone()),
                tungstenite::protocol::Role::Server,
                None,
            );
            b.iter(|| {
                for _ in 0..BATCH {
                    black_box(ws.read().unwrap());
                }
            })
        });
        g.bench_function("tungstenite_framesocket_no_unmask", |b| {
            let mut socket =
                tungstenite::protocol::frame::FrameSocket::new(Endless::new(input.clone()));
            b.iter(|| {
                for _ in 0..BATCH {
                    black_box(socket.read(None).unwrap().unwrap());
                }
            })
        });
        g.bench_function("fastwebsockets_collector", |b| {
            let ws = fastwebsockets::WebSocket::after_handshake(
                Endless::new(input.clone()),
                fastwebsockets::Role::Server,
            );
            let mut ws = fastwebsockets::FragmentCollector::new(ws);
            b.iter(|| {
                block_on(async {
                    for _ in 0..BATCH {
                        let frame = ws.read_frame().await.unwrap();
                        black_box(frame.payload.len());
                    }
                })
            })
        });
        g.bench_function("fastwebsockets_frames", |b| {
            let mut ws = fastwebsockets::WebSocket::after_handshake(
                Endless::new(input.clone()),
                fastwebsockets::Role::Server,
            );
            b.iter(|| {
                block_on(async {
                    for _ in 0..BATCH {
                        let frame = ws.read_frame().await.unwrap();
                        black_box(frame.payload.len());
                    }
                })
            })
        });
        g.finish();
    }
}

fn receive_large(c: &mut Criterion) {
    let mut g = c.benchmark_group("receive_1MiB_binary");
    g.throughput(Throughput::Bytes(MIB as u64));
    let payload = vec![0x42u8; MIB];
    let input = masked_frame(OpCode::Binary, &payload);
    g.bench_function("wstate", |b| {
        let mut conn = Connection::new_open(Role::Server, Config::default());
        let mut out = Vec::new();
        b.iter(|| {
            let (n, bytes) = wstate_receive(&mut conn, &input, &mut out);
            assert_eq!((n, bytes), (1, MIB));
        })
    });
    g.bench_function("tungstenite_websocket", |b| {
        let mut ws = tungstenite::WebSocket::from_raw_socket(
            Endless::new(input.clone()),
            tungstenite::protocol::Role::Server,
            None,
        );
        b.iter(|| assert_eq!(ws.read().unwrap().len(), MIB))
    });
    g.bench_function("fastwebsockets_collector", |b| {
        let ws = fastwebsockets::WebSocket::after_handshake(
            Endless::new(input.clone()),
            fastwebsockets::Role::Server,
        );
        let mut ws = fastwebsockets::FragmentCollector::new(ws);
        b.iter(|| block_on(async { assert_eq!(ws.read_frame().await.unwrap().payload.len(), MIB) }))
    });
    g.finish();

    let mut g = c.benchmark_group("receive_1MiB_text");
    g.throughput(Throughput::Bytes(MIB as u64));
    let text = mixed_text();
    let input = masked_frame(OpCode::Text, &text);
    g.bench_function("wstate", |b| {
        let mut conn = Connection::new_open(Role::Server, Config::default());
        let mut out = Vec::new();
        b.iter(|| {
            let (n, _) = wstate_receive(&mut conn, &input, &mut out);
            assert_eq!(n, 1);
        })
    });
    g.bench_function("tungstenite_websocket", |b| {
        let mut ws = tungstenite::WebSocket::from_raw_socket(
            Endless::new(input.clone()),
            tungstenite::protocol::Role::Server,
            None,
        );
        b.iter(|| black_box(ws.read().unwrap()))
    });
    g.bench_function("fastwebsockets_collector", |b| {
        let ws = fastwebsockets::WebSocket::after_handshake(
            Endless::new(input.clone()),
            fastwebsockets::Role::Server,
        );
        let mut ws = fastwebsockets::FragmentCollector::new(ws);
        b.iter(|| block_on(async { black_box(ws.read_frame().await.unwrap().payload.len()) }))
    });
    g.finish();
}

fn send(c: &mut Criterion) {
    let small = *b"0123456789abcdef";
    let large = vec![0x42u8; MIB];
    for (name, payload, count) in [("16B", &small[..], BATCH), ("1MiB", &large[..], 1)] {
        let mut g = c.benchmark_group(format!("send_{name}_binary"));
        if count == 1 {
            g.throughput(Throughput::Bytes(payload.len() as u64));
        } else {
            g.throughput(Throughput::Elements(count as u64));
        }
        // Server side: unmasked frames into a reused output buffer.
        g.bench_function("wstate_server", |b| {
            let mut conn = Connection::new_open(Role::Server, Config::default());
            let mut out = Vec::new();
            b.iter(|| {
                for _ in 0..count {
                    conn.send(Message::Binary(black_box(payload)), &mut out)
                        .unwrap();
                }
                black_box(&out);
                out.clear();
            })
        });
        // Client side: masked with a key from a cheap deterministic source.
        g.bench_function("wstate_client", |b| {
            let mut state = 0x1234_5678u32;
            let entropy = move |dest: &mut [u8]| {
                for byte in dest {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    *byte = state as u8;
                }
            };
            let mut conn = Connection::new_open(Role::client(entropy), Config::default());
            let mut out = Vec::new();
            b.iter(|| {
                for _ in 0..count {
                    conn.send(Message::Binary(black_box(payload)), &mut out)
                        .unwrap();
                }
                black_box(&out);
                out.clear();
            })
        });
        g.bench_function("tungstenite_server", |b| {
            let mut ws = tungstenite::WebSocket::from_raw_socket(
                Endless::new(Vec::new()),
                tungstenite::protocol::Role::Server,
                None,
            );
            let bytes = tungstenite::Bytes::copy_from_slice(payload);
            b.iter(|| {
                for _ in 0..count {
                    ws.write(tungstenite::Message::Binary(bytes.clone()))
                        .unwrap();
                }
                ws.flush().unwrap();
            })
        });
        g.bench_function("fastwebsockets_server", |b| {
            let mut ws = fastwebsockets::WebSocket::after_handshake(
                Endless::new(Vec::new()),
                fastwebsockets::Role::Server,
            );
            b.iter(|| {
                block_on(async {
                    for _ in 0..count {
                        let frame = fastwebsockets::Frame::binary(
                            fastwebsockets::Payload::Borrowed(black_box(payload)),
                        );
                        ws.write_frame(frame).await.unwrap();
                    }
                })
            })
        });
        g.finish();
    }
}

/// A typical browser upgrade request.
const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: */*\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Sec-WebSocket-Version: 13\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Connection: keep-alive, Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
Upgrade: websocket\r\n\r\n";

fn handshake(c: &mut Criterion) {
    let mut g = c.benchmark_group("server_handshake");
    g.throughput(Throughput::Elements(1));
    handshake_wstate(&mut g);
    g.bench_function("tungstenite_accept", |b| {
        b.iter_batched(
            || Endless::new(REQUEST.to_vec()),
            |stream| {
                let ws = tungstenite::accept(stream).unwrap();
                black_box(ws.get_ref().written)
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// `wstate`: parse the request, accept it, write the 101.
fn handshake_wstate(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.bench_function("wstate_accept", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            let mut conn = Connection::server(Config::default());
            conn.receive(black_box(REQUEST));
            match conn.poll_event(&mut out) {
                Ok(Some(Event::Request(request))) => {
                    black_box(request.path());
                }
                other => panic!("expected a request: {other:?}"),
            }
            conn.accept(&wstate::Accept::new(), &mut out).unwrap();
            black_box(&out);
            out.clear();
        })
    });
}

/// Short runs: the whole suite takes a few minutes on two shared cores.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(20)
}

/// The generated `benches` function has no doc comment of its own.
#[allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]
mod group {
    use super::*;
    criterion_group! {
        name = benches;
        config = config();
        targets = frame_header, mask, utf8, receive_small, receive_large, send, handshake
    }
}
criterion_main!(group::benches);
