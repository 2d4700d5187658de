//! In-memory micro-benchmarks of `wstate` against `tungstenite` and
//! `fastwebsockets`, all measured in the same run.
//!
//! Run with `cargo bench --bench micro` in `benches/` (about three
//! minutes). Every group holds the same work done by each implementation, so
//! the ratios within a group are what to read; absolute numbers vary with
//! the machine.
//!
//! Reads are simulated by an endless in-memory stream that hands out one
//! batch of frames per read (at most [`READ_CHUNK`] bytes), the same bytes
//! for every implementation.

use std::cell::RefCell;
use std::future::Future;
use std::hint::black_box;
use std::io::{self, Cursor, Read, Write};
use std::ops::Range;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wstate::wire::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use wstate::wire::utf8::Utf8Validator;
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
/// `data` (one "batch" per read) and at [`READ_CHUNK`]. Writes are copied
/// into a reused buffer, as a socket's kernel copies them, and counted.
/// Implements both std and tokio I/O traits, vectored writes included.
struct Endless {
    data: Vec<u8>,
    pos: usize,
    sink: Vec<u8>,
    written: usize,
}

impl Endless {
    fn new(data: Vec<u8>) -> Self {
        Self {
            data,
            pos: 0,
            sink: Vec::new(),
            written: 0,
        }
    }

    /// "Sends" `bufs`: one copy, like a `write`/`writev` syscall.
    fn put(&mut self, bufs: &[&[u8]]) -> usize {
        self.sink.clear();
        for buf in bufs {
            self.sink.extend_from_slice(buf);
        }
        black_box(&self.sink);
        self.written += self.sink.len();
        self.sink.len()
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

/// The first two slices of a vectored write (the peers write a header and a
/// payload); a short write is allowed, as with a socket.
fn two<'a>(bufs: &'a [io::IoSlice<'_>]) -> [&'a [u8]; 2] {
    match bufs {
        [] => [&[], &[]],
        [a] => [a, &[]],
        [a, b, ..] => [a, b],
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
        Ok(self.put(&[buf]))
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        Ok(self.put(&two(bufs)))
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
        Poll::Ready(Ok(self.get_mut().put(&[buf])))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(self.get_mut().put(&two(bufs))))
    }

    fn is_write_vectored(&self) -> bool {
        true
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
        while let wstate::Polled::Event(event, _) = conn.poll_event(out) {
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

// ---------------------------------------------------------------- workloads

/// One benchmarked routine: its group, its name within the group, the work
/// one call does, and the routine itself (state set up once, reused).
struct Workload {
    group: &'static str,
    name: &'static str,
    throughput: Throughput,
    run: Box<dyn FnMut()>,
}

fn workload(
    group: &'static str,
    name: &'static str,
    throughput: Throughput,
    run: impl FnMut() + 'static,
) -> Workload {
    Workload {
        group,
        name,
        throughput,
        run: Box::new(run),
    }
}

/// Mask keys from a cheap deterministic source.
fn cheap_entropy() -> impl FnMut(&mut [u8]) + Send + 'static {
    let mut state = 0x1234_5678u32;
    move |dest: &mut [u8]| {
        for byte in dest {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            *byte = state as u8;
        }
    }
}

/// A wstate server connection that is already open.
fn open_server() -> Connection {
    Connection::new_open(Role::Server, Config::default())
}

fn frame_header(w: &mut Vec<Workload>) {
    let one = Throughput::Elements(1);
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
    for (names, bytes) in [
        (["parse_6B/wstate", "parse_6B/tungstenite"], short),
        (["parse_14B/wstate", "parse_14B/tungstenite"], long),
    ] {
        let ours = bytes.clone();
        w.push(workload("frame_header", names[0], one.clone(), move || {
            black_box(FrameHeader::parse(black_box(&ours)).unwrap().unwrap().1);
        }));
        w.push(workload("frame_header", names[1], one.clone(), move || {
            let mut cursor = Cursor::new(black_box(bytes.as_slice()));
            let (_, len) = tungstenite::protocol::frame::FrameHeader::parse(&mut cursor)
                .unwrap()
                .unwrap();
            black_box(len + cursor.position());
        }));
    }
    // Encoding an unmasked 16-byte binary frame header (what a server sends).
    let ours = FrameHeader {
        fin: true,
        rsv: 0,
        opcode: OpCode::Binary,
        mask: None,
        payload_len: SMALL as u64,
    };
    let mut buf = [0; MAX_HEADER_LEN];
    w.push(workload(
        "frame_header",
        "encode_2B/wstate",
        one.clone(),
        move || {
            black_box(black_box(&ours).encode(&mut buf));
            black_box(&buf);
        },
    ));
    let theirs = tungstenite::protocol::frame::FrameHeader {
        opcode: tungstenite::protocol::frame::coding::OpCode::Data(
            tungstenite::protocol::frame::coding::Data::Binary,
        ),
        ..Default::default()
    };
    let mut buf = [0u8; MAX_HEADER_LEN];
    w.push(workload(
        "frame_header",
        "encode_2B/tungstenite",
        one.clone(),
        move || {
            let mut out = &mut buf[..];
            black_box(&theirs)
                .format(black_box(SMALL as u64), &mut out)
                .unwrap();
            black_box(MAX_HEADER_LEN - out.len());
            black_box(&buf);
        },
    ));
    let payload = [0u8; SMALL];
    let mut buf = [0u8; 16];
    w.push(workload(
        "frame_header",
        "encode_2B/fastwebsockets",
        one,
        move || {
            let mut frame = fastwebsockets::Frame::binary(fastwebsockets::Payload::Borrowed(
                black_box(&payload[..]),
            ));
            black_box(frame.fmt_head(&mut buf));
            black_box(&buf);
        },
    ));
}

fn mask(w: &mut Vec<Workload>) {
    let g = "mask_1MiB";
    let t = || Throughput::Bytes(MIB as u64);
    // One buffer for every variant, so that all see the same memory. The
    // aligned view starts on a 64-byte boundary; the unaligned one 14 bytes
    // past it, where a payload after a 14-byte header starts.
    let buffer = Rc::new(RefCell::new(vec![0x5au8; MIB + 128]));
    let base = buffer.borrow().as_ptr().align_offset(64);
    assert!(base < 64, "no 64-byte boundary found");
    let aligned = base..base + MIB;
    let unaligned = base + 14..base + 14 + MIB;
    type Mask = fn(&mut [u8], [u8; 4]);
    let variants: [(&'static str, Mask, &Range<usize>); 5] = [
        (
            "wstate_apply_mask",
            |b, k| wstate::wire::mask::apply_mask(b, k, 0),
            &aligned,
        ),
        (
            "wstate_apply_mask_unaligned",
            |b, k| wstate::wire::mask::apply_mask(b, k, 0),
            &unaligned,
        ),
        ("fastwebsockets_unmask", fastwebsockets::unmask, &aligned),
        (
            "fastwebsockets_unmask_unaligned",
            fastwebsockets::unmask,
            &unaligned,
        ),
        // tungstenite's apply_mask is private; fastwebsockets' unmask is the
        // same 32-bit word algorithm (its source says it is taken from it).
        (
            "naive_loop",
            |b, k| {
                for (i, byte) in b.iter_mut().enumerate() {
                    *byte ^= k[i & 3];
                }
            },
            &aligned,
        ),
    ];
    for (name, f, range) in variants {
        let (buffer, range) = (Rc::clone(&buffer), range.clone());
        w.push(workload(g, name, t(), move || {
            f(black_box(&mut buffer.borrow_mut()[range.clone()]), KEY)
        }));
    }
    let src = vec![0xa5u8; MIB];
    w.push(workload(g, "memcpy_ceiling", t(), move || {
        buffer.borrow_mut()[aligned.clone()].copy_from_slice(black_box(&src))
    }));
}

fn utf8(w: &mut Vec<Workload>) {
    for (g, text) in [
        ("utf8_1MiB_ascii", ascii_text()),
        ("utf8_1MiB_mixed", mixed_text()),
    ] {
        let len = text.len() as u64;
        let t = || Throughput::Bytes(len);
        let data = text.clone();
        w.push(workload(g, "wstate_validator", t(), move || {
            let mut v = Utf8Validator::new();
            v.feed(black_box(&data)).unwrap();
            v.finish().unwrap();
        }));
        let data = text.clone();
        w.push(workload(
            g,
            "wstate_validator_4KiB_pieces",
            t(),
            move || {
                let mut v = Utf8Validator::new();
                for piece in black_box(&data).chunks(4096) {
                    v.feed(piece).unwrap();
                }
                v.finish().unwrap();
            },
        ));
        let data = text.clone();
        w.push(workload(g, "core_str_from_utf8", t(), move || {
            black_box(core::str::from_utf8(black_box(&data)).unwrap().len());
        }));
        let data = text;
        w.push(workload(g, "simdutf8_basic", t(), move || {
            black_box(simdutf8::basic::from_utf8(black_box(&data)).unwrap().len());
        }));
    }
}

/// The same stream of messages, received by each implementation:
/// `count` messages per call.
fn receive_peers(
    w: &mut Vec<Workload>,
    g: &'static str,
    input: Vec<u8>,
    count: usize,
    throughput: Throughput,
    expect_bytes: Option<usize>,
) {
    let data = input.clone();
    let mut conn = open_server();
    let mut out = Vec::new();
    w.push(workload(g, "wstate", throughput.clone(), move || {
        let (n, bytes) = wstate_receive(&mut conn, &data, &mut out);
        assert_eq!(n, count);
        if let Some(expected) = expect_bytes {
            assert_eq!(bytes, expected);
        }
    }));
    if expect_bytes.is_some_and(|n| n >= MIB) {
        // The peers keep their buffers between messages. wstate keeps a
        // buffer grown past `retained_buffer` (512 bytes by default) while
        // large messages keep coming, so the default config above does
        // too; this one keeps everything up to 4 MiB whatever comes.
        let data = input.clone();
        let config = Config::default().with_retained_buffer(4 * MIB);
        let mut conn = Connection::new_open(Role::Server, config);
        let mut out = Vec::new();
        w.push(workload(
            g,
            "wstate_buffers_kept",
            throughput.clone(),
            move || {
                let (n, bytes) = wstate_receive(&mut conn, &data, &mut out);
                assert_eq!((n, Some(bytes)), (count, expect_bytes));
            },
        ));
    }
    let mut ws = tungstenite::WebSocket::from_raw_socket(
        Endless::new(input.clone()),
        tungstenite::protocol::Role::Server,
        None,
    );
    w.push(workload(
        g,
        "tungstenite_websocket",
        throughput.clone(),
        move || {
            for _ in 0..count {
                black_box(ws.read().unwrap());
            }
        },
    ));
    if count > 1 {
        // Frames only: no unmasking, no UTF-8 check, no message assembly.
        let mut socket =
            tungstenite::protocol::frame::FrameSocket::new(Endless::new(input.clone()));
        w.push(workload(
            g,
            "tungstenite_framesocket_no_unmask",
            throughput.clone(),
            move || {
                for _ in 0..count {
                    black_box(socket.read(None).unwrap().unwrap());
                }
            },
        ));
    }
    let mut ws =
        fastwebsockets::FragmentCollector::new(fastwebsockets::WebSocket::after_handshake(
            Endless::new(input.clone()),
            fastwebsockets::Role::Server,
        ));
    w.push(workload(
        g,
        "fastwebsockets_collector",
        throughput.clone(),
        move || {
            block_on(async {
                for _ in 0..count {
                    black_box(ws.read_frame().await.unwrap().payload.len());
                }
            })
        },
    ));
    let mut ws = fastwebsockets::WebSocket::after_handshake(
        Endless::new(input),
        fastwebsockets::Role::Server,
    );
    w.push(workload(
        g,
        "fastwebsockets_frames",
        throughput,
        move || {
            block_on(async {
                for _ in 0..count {
                    black_box(ws.read_frame().await.unwrap().payload.len());
                }
            })
        },
    ));
}

fn receive(w: &mut Vec<Workload>) {
    let payload = *b"0123456789abcdef";
    let batch = Throughput::Elements(BATCH as u64);
    receive_peers(
        w,
        "receive_16B_binary",
        frames(OpCode::Binary, &payload, BATCH),
        BATCH,
        batch.clone(),
        Some(BATCH * SMALL),
    );
    receive_peers(
        w,
        "receive_16B_text",
        frames(OpCode::Text, &payload, BATCH),
        BATCH,
        batch,
        Some(BATCH * SMALL),
    );
    receive_peers(
        w,
        "receive_1MiB_binary",
        masked_frame(OpCode::Binary, &vec![0x42; MIB]),
        1,
        Throughput::Bytes(MIB as u64),
        Some(MIB),
    );
    let text = mixed_text();
    let len = text.len();
    receive_peers(
        w,
        "receive_1MiB_text",
        masked_frame(OpCode::Text, &text),
        1,
        Throughput::Bytes(len as u64),
        Some(len),
    );
}

fn send(w: &mut Vec<Workload>) {
    let small = b"0123456789abcdef".to_vec();
    let large = vec![0x42u8; MIB];
    for (g, payload, count) in [
        ("send_16B_binary", small, BATCH),
        ("send_1MiB_binary", large, 1),
    ] {
        let t = if count == 1 {
            Throughput::Bytes(payload.len() as u64)
        } else {
            Throughput::Elements(count as u64)
        };
        // Server side: unmasked frames into a reused output buffer.
        // Then `out` is written with one syscall, like the peers' buffers.
        let data = payload.clone();
        let mut conn = open_server();
        let mut out = Vec::new();
        let mut socket = Endless::new(Vec::new());
        w.push(workload(g, "wstate_server", t.clone(), move || {
            for _ in 0..count {
                conn.sender()
                    .send(Message::Binary(black_box(&data)), &mut out)
                    .unwrap();
            }
            socket.write_all(&out).unwrap();
            out.clear();
        }));
        // Client side: masked with keys from a cheap deterministic source.
        let data = payload.clone();
        let mut conn = Connection::new_open(Role::client(cheap_entropy()), Config::default());
        let mut out = Vec::new();
        let mut socket = Endless::new(Vec::new());
        w.push(workload(g, "wstate_client", t.clone(), move || {
            for _ in 0..count {
                conn.sender()
                    .send(Message::Binary(black_box(&data)), &mut out)
                    .unwrap();
            }
            socket.write_all(&out).unwrap();
            out.clear();
        }));
        if count == 1 {
            // The no-copy paths for a large payload: a server queues only the
            // header and writes the payload from its own buffer (one vectored
            // write); a client masks in place in a buffer it hands over.
            let data = payload.clone();
            let mut conn = open_server();
            let mut out = Vec::new();
            let mut socket = Endless::new(Vec::new());
            w.push(workload(g, "wstate_server_header", t.clone(), move || {
                conn.sender()
                    .send_header(Message::Binary(black_box(&data)), &mut out)
                    .unwrap();
                let slices = [io::IoSlice::new(&out), io::IoSlice::new(&data)];
                assert_eq!(
                    socket.write_vectored(&slices).unwrap(),
                    out.len() + data.len()
                );
                out.clear();
            }));
            let mut data = payload.clone();
            let mut conn = Connection::new_open(Role::client(cheap_entropy()), Config::default());
            let mut out = Vec::new();
            let mut socket = Endless::new(Vec::new());
            w.push(workload(
                g,
                "wstate_client_in_place",
                t.clone(),
                move || {
                    conn.sender()
                        .send_in_place(wstate::MessageKind::Binary, black_box(&mut data), &mut out)
                        .unwrap();
                    let slices = [io::IoSlice::new(&out), io::IoSlice::new(&data)];
                    assert_eq!(
                        socket.write_vectored(&slices).unwrap(),
                        out.len() + data.len()
                    );
                    out.clear();
                },
            ));
            let mut data = payload.clone();
            let mut ws = fastwebsockets::WebSocket::after_handshake(
                Endless::new(Vec::new()),
                fastwebsockets::Role::Client,
            );
            w.push(workload(g, "fastwebsockets_client", t.clone(), move || {
                block_on(async {
                    let frame = fastwebsockets::Frame::binary(
                        fastwebsockets::Payload::BorrowedMut(black_box(&mut data)),
                    );
                    ws.write_frame(frame).await.unwrap();
                })
            }));
        }
        let bytes = tungstenite::Bytes::from(payload.clone());
        let mut ws = tungstenite::WebSocket::from_raw_socket(
            Endless::new(Vec::new()),
            tungstenite::protocol::Role::Server,
            None,
        );
        w.push(workload(g, "tungstenite_server", t.clone(), move || {
            for _ in 0..count {
                ws.write(tungstenite::Message::Binary(bytes.clone()))
                    .unwrap();
            }
            ws.flush().unwrap();
        }));
        let data = payload;
        let mut ws = fastwebsockets::WebSocket::after_handshake(
            Endless::new(Vec::new()),
            fastwebsockets::Role::Server,
        );
        w.push(workload(g, "fastwebsockets_server", t, move || {
            block_on(async {
                for _ in 0..count {
                    let frame = fastwebsockets::Frame::binary(fastwebsockets::Payload::Borrowed(
                        black_box(&data),
                    ));
                    ws.write_frame(frame).await.unwrap();
                }
            })
        }));
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

/// The server side of the opening handshake: a new connection reads the
/// request above, accepts it and writes the `101`.
fn handshake(w: &mut Vec<Workload>) {
    let g = "server_handshake";
    let mut out = Vec::with_capacity(256);
    w.push(workload(g, "wstate", Throughput::Elements(1), move || {
        let mut conn = Connection::server(Config::default());
        conn.receive(black_box(REQUEST));
        match conn.poll_event(&mut out) {
            wstate::Polled::Event(Event::Request(request), tx) => {
                black_box(request.path());
                tx.accept(&wstate::Accept::new(), &mut out).unwrap();
            }
            other => panic!("expected a request: {other:?}"),
        }
        black_box(&out);
        out.clear();
    }));
    w.push(workload(
        g,
        "tungstenite",
        Throughput::Elements(1),
        move || {
            let ws = tungstenite::accept(Endless::new(REQUEST.to_vec())).unwrap();
            black_box(ws.get_ref().written);
        },
    ));
}

fn all_workloads() -> Vec<Workload> {
    let mut w = Vec::new();
    frame_header(&mut w);
    mask(&mut w);
    utf8(&mut w);
    receive(&mut w);
    send(&mut w);
    handshake(&mut w);
    w
}

// ---------------------------------------------------------------- drivers

/// Short runs: the whole suite takes a few minutes on two shared cores.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(20)
        .without_plots()
        .configure_from_args()
}

/// The workload each group's ratios are computed against: the peer named
/// by the targets (`wstate` must be at least as fast), or the peer doing
/// the same work.
fn reference(group: &str) -> &'static str {
    match group {
        "frame_header" => "tungstenite",
        "mask_1MiB" => "fastwebsockets_unmask",
        "utf8_1MiB_ascii" | "utf8_1MiB_mixed" => "core_str_from_utf8",
        "send_16B_binary" => "tungstenite_server",
        "send_1MiB_binary" => "fastwebsockets_server",
        "server_handshake" => "tungstenite",
        _ => "tungstenite_websocket",
    }
}

/// The reference for one workload of a group: the same variant (header
/// size, alignment) of the reference implementation.
fn reference_for(group: &str, name: &str) -> String {
    let base = reference(group);
    if group == "frame_header" {
        let op = name.split('/').next().unwrap_or(name);
        return format!("{op}/{base}");
    }
    if name.ends_with("_unaligned") {
        return format!("{base}_unaligned");
    }
    base.to_string()
}

/// Times every workload of each group in short slices, interleaved over
/// `rounds` rounds, and prints the median time per call with the ratio to
/// the group's reference (above 1: faster than the reference).
fn interleaved(workloads: &mut [Workload], rounds: usize) {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "interleaved: {rounds} rounds of ~5 ms slices; load average {}",
        load.split(' ').take(3).collect::<Vec<_>>().join(" ")
    );
    println!();
    println!("| group | workload | median per call | throughput | ratio |");
    println!("|---|---|---:|---:|---:|");
    let mut start = 0;
    while start < workloads.len() {
        let group = workloads[start].group;
        let end = start
            + workloads[start..]
                .iter()
                .take_while(|w| w.group == group)
                .count();
        let ws = &mut workloads[start..end];
        // Calibrate: calls per slice of about 5 ms.
        let calls: Vec<u64> = ws
            .iter_mut()
            .map(|w| {
                (w.run)();
                let t = Instant::now();
                let mut n = 0u64;
                while t.elapsed() < Duration::from_millis(2) {
                    (w.run)();
                    n += 1;
                }
                (n * 5 / 2).max(1)
            })
            .collect();
        let mut samples = vec![Vec::with_capacity(rounds); ws.len()];
        for round in 0..rounds {
            for k in 0..ws.len() {
                let j = (k + round) % ws.len();
                let t = Instant::now();
                for _ in 0..calls[j] {
                    (ws[j].run)();
                }
                samples[j].push(t.elapsed().as_secs_f64() / calls[j] as f64);
            }
        }
        let medians: Vec<f64> = samples
            .iter_mut()
            .map(|s| {
                s.sort_by(f64::total_cmp);
                s[s.len() / 2]
            })
            .collect();
        for (j, w) in ws.iter().enumerate() {
            let median = medians[j];
            let rate = match w.throughput {
                Throughput::Bytes(n) => {
                    format!("{:.2} GiB/s", n as f64 / median / (1u64 << 30) as f64)
                }
                Throughput::Elements(n) => format!("{:.2} M/s", n as f64 / median / 1e6),
                _ => String::new(),
            };
            let wanted = reference_for(group, w.name);
            let ratio = ws
                .iter()
                .position(|r| r.name == wanted)
                .map_or(String::new(), |r| {
                    format!("{:.2}x vs {wanted}", medians[r] / median)
                });
            println!(
                "| {group} | {} | {} | {rate} | {ratio} |",
                w.name,
                human(median)
            );
        }
        start = end;
    }
}

/// A duration in the unit that suits it.
fn human(seconds: f64) -> String {
    if seconds < 1e-6 {
        format!("{:.2} ns", seconds * 1e9)
    } else if seconds < 1e-3 {
        format!("{:.2} µs", seconds * 1e6)
    } else {
        format!("{:.3} ms", seconds * 1e3)
    }
}

/// Runs one workload `iterations` times. Under callgrind,
/// `--toggle-collect='*callgrind_measured*'` counts only this call.
#[inline(never)]
fn callgrind_measured(run: &mut dyn FnMut(), iterations: u64) {
    for _ in 0..iterations {
        run();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut workloads = all_workloads();
    // `--callgrind GROUP/NAME [ITERATIONS]`: run one workload outside
    // criterion, for instruction counts that do not depend on machine load.
    if let Some(i) = args.iter().position(|a| a == "--callgrind") {
        let target = args.get(i + 1).expect("--callgrind GROUP/NAME");
        let iterations = args
            .get(i + 2)
            .map_or(10, |n| n.parse().expect("iterations"));
        let w = workloads
            .iter_mut()
            .find(|w| format!("{}/{}", w.group, w.name) == *target)
            .unwrap_or_else(|| panic!("no workload {target}"));
        (w.run)(); // warm up: buffers reach their steady size
        callgrind_measured(&mut w.run, iterations);
        let per = match w.throughput {
            Throughput::Elements(n) => format!("{n} elements"),
            Throughput::Bytes(n) => format!("{n} bytes"),
            _ => String::new(),
        };
        println!("ran {target} {iterations} times ({per} each)");
        return;
    }
    // `--interleaved [ROUNDS]`: every workload of a group in turn, round
    // after round, so that a change in machine load hits all of them alike.
    if let Some(i) = args.iter().position(|a| a == "--interleaved") {
        let rounds = args.get(i + 1).map_or(30, |n| n.parse().expect("rounds"));
        // `--only NAME`: just the groups whose name contains NAME.
        if let Some(j) = args.iter().position(|a| a == "--only") {
            let only = args.get(j + 1).expect("--only GROUP");
            workloads.retain(|w| w.group.contains(only.as_str()));
        }
        interleaved(&mut workloads, rounds);
        return;
    }
    if args.iter().any(|a| a == "--list-workloads") {
        for w in &workloads {
            println!("{}/{}", w.group, w.name);
        }
        return;
    }
    let mut c = config();
    let mut i = 0;
    while i < workloads.len() {
        let group = workloads[i].group;
        let mut g = c.benchmark_group(group);
        while i < workloads.len() && workloads[i].group == group {
            let w = &mut workloads[i];
            g.throughput(w.throughput.clone());
            g.bench_function(w.name, |b| b.iter(&mut w.run));
            i += 1;
        }
        g.finish();
    }
    c.final_summary();
}
