//! Transports that misbehave: a writer taking one byte at a time, a read
//! error, the end of the stream inside a frame, a peer that never reads, a
//! `recv` dropped mid-way; over `tokio::io::duplex` and TCP on 127.0.0.1.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{
    AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf, duplex,
};
use tokio::net::{TcpListener, TcpStream};
use wstate::Event;
use wstate_tokio::{CloseCode, CloseFrame, ConnectRequest, Error, Message, Reply, WebSocket};

const REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// A stream that moves one byte per call and says `Pending` every other
/// call (waking itself), in both directions.
struct Trickle<S> {
    inner: S,
    /// Whether the last read and the last write said `Pending`.
    stalled: [bool; 2],
}

impl<S> Trickle<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            stalled: [false; 2],
        }
    }

    /// `true` on every other call in direction `dir`: this one is `Pending`.
    fn stalls(&mut self, dir: usize, cx: &mut Context<'_>) -> bool {
        self.stalled[dir] = !self.stalled[dir];
        if self.stalled[dir] {
            cx.waker().wake_by_ref();
        }
        self.stalled[dir]
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Trickle<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.stalls(0, cx) {
            return Poll::Pending;
        }
        let mut one = [0; 1];
        let mut small = ReadBuf::new(&mut one);
        let result = Pin::new(&mut self.inner).poll_read(cx, &mut small);
        if let Poll::Ready(Ok(())) = result {
            buf.put_slice(small.filled());
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Trickle<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.stalls(1, cx) {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_write(cx, &buf[..buf.len().min(1)])
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A stream whose reads fail once `left` bytes were read.
struct FailingRead {
    inner: DuplexStream,
    left: usize,
}

impl AsyncRead for FailingRead {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.left == 0 {
            return Poll::Ready(Err(io::Error::other("the disk caught fire")));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.left = self.left.saturating_sub(n);
        result
    }
}

impl AsyncWrite for FailingRead {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A stream that takes vectored writes (as a `TcpStream` does), a few
/// bytes per call across the buffers it is given, saying `Pending` every
/// other call; its writes fail once `left` bytes were written. Reads pass
/// through.
struct Gather {
    inner: DuplexStream,
    stalled: bool,
    left: Arc<AtomicUsize>,
}

impl Gather {
    fn new(inner: DuplexStream, left: &Arc<AtomicUsize>) -> Self {
        Self {
            inner,
            stalled: false,
            left: left.clone(),
        }
    }
}

impl AsyncRead for Gather {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Gather {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.stalled = !self.stalled;
        if self.stalled {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let left = self.left.load(Ordering::Relaxed);
        if left == 0 {
            return Poll::Ready(Err(io::Error::other("the cable was cut")));
        }
        let few: Vec<u8> = bufs
            .iter()
            .flat_map(|b| b.iter())
            .copied()
            .take(3)
            .collect();
        let few = &few[..few.len().min(left)];
        let n = ready!(Pin::new(&mut self.inner).poll_write(cx, few))?;
        self.left.store(left - n, Ordering::Relaxed);
        Poll::Ready(Ok(n))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

async fn pair_over<C, S>(c: C, s: S) -> (WebSocket<C>, WebSocket<S>)
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let request = ConnectRequest::new("ws://example.com/").unwrap();
    let (client, server) = tokio::join!(
        wstate_tokio::connect_with(c, &request),
        wstate_tokio::accept(s)
    );
    (client.unwrap(), server.unwrap())
}

#[tokio::test]
async fn one_byte_at_a_time_both_ways() {
    let (c, s) = duplex(1 << 16);
    let (mut client, mut server) = pair_over(Trickle::new(c), Trickle::new(s)).await;
    let large = Bytes::from((0..70_000u32).map(|i| i as u8).collect::<Vec<u8>>());
    let (sent, received) = tokio::join!(
        async {
            client.send(Message::text("hé")).await.unwrap();
            client.send(Message::Binary(large.clone())).await.unwrap();
            client.close(CloseCode::GOING_AWAY, "done").await
        },
        async {
            let mut got = Vec::new();
            while let Some(message) = server.recv().await {
                let message = message.unwrap();
                if let Message::Text(_) | Message::Binary(_) = message {
                    server.send(message.clone()).await.unwrap();
                }
                got.push(message);
            }
            got
        }
    );
    assert_eq!(
        received,
        [
            Message::text("hé"),
            Message::Binary(large),
            Message::Close(CloseFrame::with_reason(CloseCode::GOING_AWAY, "done")),
        ]
    );
    // The echoes were dropped by `close`; the Close came back with 1001.
    assert_eq!(sent.unwrap(), Some(CloseFrame::new(CloseCode::GOING_AWAY)));
}

/// Echoes every message while holding its event, as a server does.
fn echo(event: Event<'_>, reply: Reply<'_>) {
    let _ = match event {
        Event::Text(text) => reply.send(wstate::Message::Text(text)),
        Event::Binary(bytes) => reply.send(wstate::Message::Binary(bytes)),
        _ => Ok(()),
    };
}

/// Large echoes leave from the event's buffer, small ones are queued: over
/// a transport that takes a few bytes per call, across the header and the
/// payload, the peer still gets every byte in order, with the small
/// answers queued before a large one ahead of it.
#[tokio::test]
async fn large_echoes_written_in_place_arrive_whole_and_in_order() {
    let (c, s) = duplex(1 << 20);
    let left = Arc::new(AtomicUsize::new(usize::MAX));
    let (mut client, mut server) = pair_over(c, Gather::new(s, &left)).await;
    let large = |n: u32| Bytes::from((0..n).map(|i| (i * 7) as u8).collect::<Vec<u8>>());
    let messages = [
        Message::text("a"),
        Message::Binary(large(70_000)),
        Message::text("b"),
        Message::text("é".repeat(9_000)),
        Message::Binary(large(16 << 10)),
        Message::Binary(large((16 << 10) - 1)),
        Message::Binary(Bytes::from_static(b"c")),
    ];
    let server = async {
        while let Some(end) = server.next_event(echo).await {
            end.unwrap();
        }
    };
    let client = async {
        for message in &messages {
            client.send(message.clone()).await.unwrap();
        }
        let mut echoed = Vec::new();
        while echoed.len() < messages.len() {
            echoed.push(client.recv().await.unwrap().unwrap());
        }
        let closed = client.close(CloseCode::NORMAL, "").await.unwrap();
        (echoed, closed)
    };
    let ((echoed, closed), ()) = tokio::join!(client, server);
    assert_eq!(echoed, messages);
    assert_eq!(closed, Some(CloseFrame::new(CloseCode::NORMAL)));
}

/// A client masks what it sends, so its large answers are copied (and
/// masked) even over a transport with vectored writes.
#[tokio::test]
async fn a_clients_large_echo_is_masked() {
    let (c, s) = duplex(1 << 20);
    let left = Arc::new(AtomicUsize::new(usize::MAX));
    let (mut client, mut server) = pair_over(Gather::new(c, &left), s).await;
    let large = Message::Binary(Bytes::from(
        (0..20_000u32).map(|i| i as u8).collect::<Vec<u8>>(),
    ));
    let echoed = tokio::time::timeout(Duration::from_secs(10), async {
        server.send(large.clone()).await.unwrap();
        // The client answers, then is kept polled (writing its answer out)
        // until the server has it.
        let answering = async {
            client.next_event(echo).await.unwrap().unwrap();
            client.next_event(echo).await
        };
        tokio::select! {
            end = answering => panic!("the client ended: {end:?}"),
            echoed = server.recv() => echoed,
        }
    })
    .await
    .expect("the client's echo arrives");
    assert_eq!(echoed.unwrap().unwrap(), large);
}

/// A write of a large echo in place that fails ends the stream with the
/// transport's error, after the event it answered.
#[tokio::test]
async fn a_failed_write_in_place_ends_the_stream_with_it() {
    let (c, s) = duplex(1 << 20);
    let left = Arc::new(AtomicUsize::new(usize::MAX));
    let (mut client, mut server) = pair_over(c, Gather::new(s, &left)).await;
    // From now on, 100 more bytes: the header and part of the payload.
    left.store(100, Ordering::Relaxed);
    client
        .send(Message::Binary(Bytes::from(vec![1; 20_000])))
        .await
        .unwrap();
    server.next_event(echo).await.unwrap().unwrap();
    match server.next_event(echo).await {
        Some(Err(Error::Io(e))) => assert_eq!(e.to_string(), "the cable was cut"),
        other => panic!("{other:?}"),
    }
    assert!(server.next_event(echo).await.is_none());
}

#[tokio::test]
async fn a_read_error_ends_the_stream_with_it() {
    let (mut peer, s) = duplex(1 << 16);
    peer.write_all(REQUEST).await.unwrap();
    let failing = FailingRead {
        inner: s,
        left: REQUEST.len(),
    };
    let mut ws = wstate_tokio::accept(failing).await.unwrap();
    match ws.recv().await {
        Some(Err(Error::Io(e))) => assert_eq!(e.to_string(), "the disk caught fire"),
        other => panic!("{other:?}"),
    }
    assert!(ws.recv().await.is_none());
    assert!(matches!(
        ws.send(Message::text("x")).await,
        Err(Error::Send(wstate::SendError::Closed))
    ));
}

#[tokio::test]
async fn eof_inside_a_frame_is_a_close_1006() {
    let (mut peer, s) = duplex(1 << 16);
    peer.write_all(REQUEST).await.unwrap();
    // Half of a masked "Hello", then the end.
    peer.write_all(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f])
        .await
        .unwrap();
    peer.shutdown().await.unwrap();
    let mut ws = wstate_tokio::accept(s).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::Close(Some(CloseFrame::new(CloseCode::ABNORMAL)))
    );
    assert!(ws.recv().await.is_none());
}

/// Ready on its `n`th poll, waking itself before.
struct ReadyAfter(u32);

impl Future for ReadyAfter {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[tokio::test]
async fn a_dropped_recv_loses_no_message() {
    let (c, s) = duplex(1 << 16);
    // The server reads a byte at a time, so most `recv`s are dropped mid-way.
    let (mut client, mut server) = pair_over(c, Trickle::new(s)).await;
    let sender = tokio::spawn(async move {
        for i in 0..200 {
            client
                .send(Message::text(format!("message {i}")))
                .await
                .unwrap();
        }
        client.close(CloseCode::NORMAL, "").await.unwrap()
    });
    let (mut got, mut dropped) = (Vec::new(), 0);
    loop {
        tokio::select! {
            biased;
            message = server.recv() => match message {
                Some(message) => got.push(message.unwrap()),
                None => break,
            },
            () = ReadyAfter(3) => dropped += 1,
        }
    }
    assert!(dropped > 100, "{dropped}");
    let mut expected: Vec<Message> = (0..200)
        .map(|i| Message::text(format!("message {i}")))
        .collect();
    expected.push(Message::Close(Some(CloseFrame::new(CloseCode::NORMAL))));
    assert_eq!(got, expected);
    assert_eq!(
        sender.await.unwrap(),
        Some(CloseFrame::new(CloseCode::NORMAL))
    );
}

#[tokio::test]
async fn a_peer_that_never_reads_holds_the_sender_with_bounded_output() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut peer = TcpStream::connect(addr).await.unwrap();
    peer.write_all(REQUEST).await.unwrap();
    let mut response = [0; 129];
    let (accepted, read) = tokio::join!(
        async { wstate_tokio::accept(listener.accept().await.unwrap().0).await },
        peer.read_exact(&mut response)
    );
    read.unwrap();
    let mut ws = accepted.unwrap();
    let chunk = Bytes::from(vec![7; 64 << 10]);
    let mut sent = 0usize;
    // The peer reads nothing: within a second the sender waits for good.
    let stalled = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            ws.send(Message::Binary(chunk.clone())).await.unwrap();
            sent += 1;
        }
    })
    .await;
    assert!(stalled.is_err());
    // What went out is what the kernel's buffers hold plus our bound (64
    // KiB) and one message, not everything asked for.
    assert!(sent > 0 && sent < 400, "{sent} messages of 64 KiB");
    // The peer leaves: the next send fails with a typed error, no panic.
    drop(peer);
    let failed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Err(e) = ws.send(Message::Binary(chunk.clone())).await {
                return e;
            }
        }
    })
    .await
    .unwrap();
    assert!(
        matches!(
            failed,
            Error::Io(_) | Error::Send(wstate::SendError::Closed)
        ),
        "{failed:?}"
    );
}

#[tokio::test]
async fn after_a_protocol_error_the_peer_reads_our_close_not_a_reset() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut ws = wstate_tokio::accept(listener.accept().await.unwrap().0)
            .await
            .unwrap();
        ws.recv().await
    });
    let mut peer = TcpStream::connect(addr).await.unwrap();
    peer.write_all(REQUEST).await.unwrap();
    let mut response = [0; 129];
    peer.read_exact(&mut response).await.unwrap();
    // An unmasked frame (1002), then 200 KB more that the server will not
    // take as frames: unread, they would make its kernel reset the
    // connection when it closes, destroying the Close on its way.
    peer.write_all(&[0x81, 0x01, b'x']).await.unwrap();
    peer.write_all(&vec![0x82; 200_000]).await.unwrap();
    peer.shutdown().await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), peer.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    let mut close = vec![0x88, 23, 0x03, 0xea];
    close.extend_from_slice(b"unmasked client frame");
    assert_eq!(got, close);
    let error = server.await.unwrap().unwrap().unwrap_err();
    assert_eq!(error.close_code(), Some(CloseCode::PROTOCOL_ERROR));
}
