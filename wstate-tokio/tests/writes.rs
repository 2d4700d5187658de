//! How answers reach the transport: a large answer given beside its event
//! leaves from the event's buffer in one vectored write (nothing copied,
//! nothing allocated for it), a transport without vectored writes gets a
//! copy, and the transport is flushed after either.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wstate::Event;
use wstate_tokio::{Reply, WebSocket};

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// Both directions of an in-memory transport, shared with the test.
#[derive(Default)]
struct Wire {
    /// What the peer sent and the server has not read, in chunks.
    input: VecDeque<Vec<u8>>,
    /// What the server wrote.
    output: Vec<u8>,
    /// The transport says it takes vectored writes.
    vectored: bool,
    /// A flush came after the last write.
    flushed: bool,
    /// Each write call: the lengths of the (at most two) non-empty
    /// buffers it was given.
    writes: Vec<[usize; 2]>,
    /// Each read call: the room it was given.
    reads: Vec<usize>,
    /// A write takes at most this much (0: no limit); the first
    /// `stalls` writes that take less than they were given make the next
    /// call `Pending`.
    max_write: usize,
    stalls: usize,
    stall_next: bool,
}

/// The server's end: each write takes everything it is given (and says 0
/// for nothing, as a socket does); reads take the next chunk, `Pending`
/// when there is none (the test only polls when there is).
struct Memory(Arc<Mutex<Wire>>);

impl Memory {
    fn wire(&self) -> MutexGuard<'_, Wire> {
        lock(&self.0)
    }
}

fn lock(wire: &Mutex<Wire>) -> MutexGuard<'_, Wire> {
    wire.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A server over a [`Memory`] transport set up as `wire` says, past its
/// handshake, with a runtime on this thread to poll it.
struct Server {
    wire: Arc<Mutex<Wire>>,
    runtime: tokio::runtime::Runtime,
    ws: WebSocket<Memory>,
}

fn server(wire: Wire) -> Server {
    let wire = Arc::new(Mutex::new(wire));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    lock(&wire).input.push_back(REQUEST.to_vec());
    let ws = runtime
        .block_on(wstate_tokio::accept(Memory(wire.clone())))
        .unwrap();
    Server { wire, runtime, ws }
}

impl AsyncRead for Memory {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut wire = self.wire();
        let Some(mut chunk) = wire.input.pop_front() else {
            return Poll::Pending;
        };
        wire.reads.push(buf.remaining());
        let n = chunk.len().min(buf.remaining());
        buf.put_slice(&chunk[..n]);
        if n < chunk.len() {
            chunk.drain(..n);
            wire.input.push_front(chunk);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Memory {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut wire = self.wire();
        if wire.stall_next {
            wire.stall_next = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let before = wire.output.len();
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let mut room = match wire.max_write {
            0 => usize::MAX,
            max => max,
        };
        if total > room && wire.stalls > 0 {
            wire.stalls -= 1;
            wire.stall_next = true;
        }
        for buf in bufs {
            let n = buf.len().min(room);
            wire.output.extend_from_slice(&buf[..n]);
            room -= n;
        }
        let mut lengths = [0; 2];
        for (slot, len) in lengths
            .iter_mut()
            .zip(bufs.iter().map(|b| b.len()).filter(|n| *n > 0))
        {
            *slot = len;
        }
        wire.writes.push(lengths);
        wire.flushed = false;
        Poll::Ready(Ok(wire.output.len() - before))
    }
    fn is_write_vectored(&self) -> bool {
        self.wire().vectored
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.wire().flushed = true;
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A binary frame of `len` bytes of 7: masked (as a client sends it) or not.
fn frame(len: usize, masked: bool) -> Vec<u8> {
    frame_of(0x82, 7, len, masked)
}

/// A frame with first byte `first` and `len` bytes `byte`.
fn frame_of(first: u8, byte: u8, len: usize, masked: bool) -> Vec<u8> {
    let key = [1, 2, 3, 4];
    let bit = if masked { 0x80 } else { 0 };
    let mut frame = vec![first];
    match len {
        0..=125 => frame.push(bit | len as u8),
        126..=0xffff => {
            frame.push(bit | 126);
            frame.extend((len as u16).to_be_bytes());
        }
        _ => {
            frame.push(bit | 127);
            frame.extend((len as u64).to_be_bytes());
        }
    }
    if masked {
        frame.extend(key);
        frame.extend((0..len).map(|i| byte ^ key[i % 4]));
    } else {
        frame.extend(std::iter::repeat_n(byte, len));
    }
    frame
}

fn echo(event: Event<'_>, reply: Reply<'_>) {
    match event {
        Event::Binary(bytes) => reply.send(wstate::Message::Binary(bytes)).unwrap(),
        Event::Text(text) => reply.send(wstate::Message::Text(text)).unwrap(),
        _ => {}
    }
}

/// What the second echo of a 100 KB message (after a first that grew the
/// connection's buffers) did to the transport.
struct Echo {
    written: Vec<u8>,
    /// The buffers of each write call, by length.
    writes: Vec<[usize; 2]>,
    /// The room of each read call, in the first echo and in the second.
    first_reads: Vec<usize>,
    reads: Vec<usize>,
    allocated: allocation_counter::AllocationInfo,
    flushed: bool,
}

fn second_echo(vectored: bool) -> Echo {
    echo_twice(vectored, &frame(100_000, true), 1)
}

/// What the second echo of the client's `message` (`events` messages in
/// one read) did to the transport.
fn echo_twice(vectored: bool, message: &[u8], events: usize) -> Echo {
    let Server {
        wire,
        runtime,
        mut ws,
    } = server(Wire {
        vectored,
        output: Vec::with_capacity(4 << 20),
        writes: Vec::with_capacity(64),
        ..Wire::default()
    });
    lock(&wire).reads.clear();
    lock(&wire).input.push_back(message.to_vec());
    for _ in 0..events {
        runtime.block_on(ws.next_event(echo)).unwrap().unwrap();
    }
    lock(&wire).output.clear();
    lock(&wire).writes.clear();
    let first_reads = std::mem::take(&mut lock(&wire).reads);
    lock(&wire).input.push_back(message.to_vec());
    let allocated = allocation_counter::measure(|| {
        for _ in 0..events {
            runtime.block_on(ws.next_event(echo)).unwrap().unwrap();
        }
    });
    let mut wire = lock(&wire);
    Echo {
        written: std::mem::take(&mut wire.output),
        writes: std::mem::take(&mut wire.writes),
        first_reads,
        reads: std::mem::take(&mut wire.reads),
        allocated,
        flushed: wire.flushed,
    }
}

#[test]
fn a_large_answer_leaves_from_the_event_without_a_copy() {
    let echo = second_echo(true);
    assert!(echo.written == frame(100_000, false));
    // One write: the 10-byte header from the output, the payload from the
    // event's buffer; nothing allocated for it.
    assert_eq!(echo.writes, [[10, 100_000]]);
    assert!(echo.allocated.bytes_total < 1024, "{:?}", echo.allocated);
    assert!(echo.flushed);
}

#[test]
fn without_vectored_writes_a_large_answer_is_copied() {
    let echo = second_echo(false);
    assert!(echo.written == frame(100_000, false));
    // One write of the whole frame, copied into the output first.
    assert_eq!(echo.writes, [[100_010, 0]]);
    assert!(echo.flushed);
}

#[test]
fn a_large_text_answer_leaves_from_the_event_too() {
    let echo = echo_twice(true, &frame_of(0x81, b'a', 40_000, true), 1);
    assert!(echo.written == frame_of(0x81, b'a', 40_000, false));
    assert_eq!(echo.writes, [[4, 40_000]]);
}

#[test]
fn small_answers_are_copied_to_leave_together() {
    // Three messages in one read: their echoes leave in one write, below
    // the size from which an answer leaves from the event's buffer.
    let three = [
        frame(100, true),
        frame((16 << 10) - 1, true),
        frame(5, true),
    ]
    .concat();
    let echo = echo_twice(true, &three, 3);
    let expected = [
        frame(100, false),
        frame((16 << 10) - 1, false),
        frame(5, false),
    ]
    .concat();
    assert!(echo.written == expected);
    assert_eq!(echo.writes, [[expected.len(), 0]]);
}

#[test]
fn a_large_message_is_read_straight_into_the_connection_to_its_end() {
    // The first read lands in the thread's 64 KiB buffer and fills it:
    // the rest of the message is read straight into the connection, whose
    // room is what the frame still needs and 64 KiB more, up to the 1 MiB
    // the adapter asks for. After a large read, the next message is read
    // straight in from its start: 64 KiB (no frame yet), then the rest.
    for (size, room) in [(300_000, 300_014), (1 << 20, 1 << 20)] {
        let message = frame(size, true);
        let echo = echo_twice(true, &message, 1);
        assert!(echo.written == frame(size, false));
        assert_eq!(echo.first_reads, [64 << 10, room], "{size}");
        assert_eq!(echo.reads, [64 << 10, room], "{size}");
    }
}

/// A large answer written in place while an earlier answer is still partly
/// unwritten (the transport takes 50 bytes a call, and says `Pending`
/// after the first two such writes): the earlier answer's rest leaves
/// first, then the header and the payload, over several calls.
#[test]
fn a_large_answer_after_a_partly_written_one_keeps_the_order() {
    let Server {
        wire,
        runtime,
        mut ws,
    } = server(Wire {
        vectored: true,
        max_write: 50,
        ..Wire::default()
    });
    lock(&wire).output.clear();
    lock(&wire).stalls = 2;
    lock(&wire).input.push_back(frame(200, true));
    runtime.block_on(ws.next_event(echo)).unwrap().unwrap();
    lock(&wire).input.push_back(frame(20_000, true));
    runtime.block_on(ws.next_event(echo)).unwrap().unwrap();
    let expected = [frame(200, false), frame(20_000, false)].concat();
    // Poll on (nothing more to read) until everything is written.
    runtime.block_on(async {
        let mut next = std::pin::pin!(ws.next_event(echo));
        std::future::poll_fn(|cx| {
            let _ = std::future::Future::poll(next.as_mut(), cx);
            match lock(&wire).output.len() >= expected.len() {
                true => Poll::Ready(()),
                false => Poll::Pending,
            }
        })
        .await
    });
    assert!(lock(&wire).output == expected);
}

/// Connections that answer and go quiet in turn reuse one output buffer:
/// a small echo after the first allocates nothing.
#[test]
fn small_answers_reuse_the_threads_spare_buffer() {
    let Server {
        wire,
        runtime,
        mut ws,
    } = server(Wire {
        vectored: true,
        output: Vec::with_capacity(1 << 20),
        writes: Vec::with_capacity(64),
        reads: Vec::with_capacity(64),
        ..Wire::default()
    });
    let round = |ws: &mut WebSocket<Memory>| {
        runtime.block_on(ws.next_event(echo)).unwrap().unwrap();
        // Nothing more to read: the connection goes quiet.
        runtime.block_on(async {
            let mut next = std::pin::pin!(ws.next_event(echo));
            std::future::poll_fn(|cx| {
                Poll::Ready(std::future::Future::poll(next.as_mut(), cx).is_pending())
            })
            .await
        })
    };
    lock(&wire).input.push_back(frame(100, true));
    assert!(round(&mut ws));
    lock(&wire).input.push_back(frame(100, true));
    let mut quiet = false;
    let info = allocation_counter::measure(|| quiet = round(&mut ws));
    assert!(quiet);
    // One allocation: the receive buffer of the 106-byte read (a small
    // read's buffer is freed as the connection goes quiet). The output
    // buffer came from the spare the first round left.
    assert_eq!((info.count_total, info.bytes_total), (1, 106), "{info:?}");
}
