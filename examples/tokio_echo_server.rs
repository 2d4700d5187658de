//! A WebSocket echo server on tokio, one task per connection:
//! `cargo run --release --example tokio_echo_server [ADDR]` (default
//! 127.0.0.1:9001). Echoes every message with its type.
//!
//! The pattern to copy for an async server:
//!
//! * read once, feed the bytes to the [`Connection`], then drain **every**
//!   event of that read with `poll_event` until it says `NeedMore` (or
//!   `Done`), answering each event while it is held, without a copy;
//! * replies (ours, and the pongs and Close replies the connection queues
//!   itself) all go to one output buffer, written with **one** `write_all`
//!   per read: many messages per read cost two syscalls, not two each;
//! * reads wait no longer than the connection's next deadline
//!   (`poll_timeout`), then `handle_timeout` gets the time: a handshake
//!   that does not complete in time is answered `408` and dropped, a peer
//!   that stops answering Pings is failed with 1011;
//! * the read buffer is per thread, not per connection: `receive` copies
//!   only what the connection must keep, so an idle connection holds little
//!   more than the `Connection` itself.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Duration, Instant, timeout_at};
use wstate::{Accept, Config, Connection, Event, Message, Polled};

/// Bytes read per syscall.
const READ_BUF: usize = 64 << 10;
/// Output and scratch capacity kept between reads; a larger buffer (grown by
/// a large message) is freed once written, so idle connections stay small.
const KEEP: usize = 4 << 10;

thread_local! {
    /// The read buffer shared by every connection polled on this thread. It
    /// is only borrowed inside one poll, between a read and the `receive`
    /// that copies from it, never across an `.await`.
    static READ: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_BUF]);
}

#[tokio::main]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    println!(
        "tokio_echo_server listening on ws://{}",
        listener.local_addr()?
    );
    loop {
        let (stream, peer) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = serve(stream).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

/// Runs one connection: the handshake, then echo until it ends.
async fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let config = Config::default();
    // permessage-deflate when built with `--features deflate`.
    #[cfg(feature = "deflate")]
    let config = config.deflate(wstate::handshake::extensions::DeflateConfig::enabled());
    let mut conn = Connection::server(config);
    let mut out = Vec::new();
    // The connection's clock: the handshake timeout, keepalive Pings and
    // the close timeout all count from here.
    let start = Instant::now();
    conn.handle_timeout(Duration::ZERO, &mut out);
    loop {
        // Read, but no longer than the next deadline. `read` is cancel-safe:
        // bytes are fed to the connection only once they are read.
        let n = match conn.poll_timeout() {
            Some(deadline) => timeout_at(start + deadline, read(&mut stream, &mut conn))
                .await
                .ok()
                .transpose()?,
            None => Some(read(&mut stream, &mut conn).await?),
        };
        // Then the time: a keepalive Ping, a 1011 Close or a `408` may be
        // queued, and the next poll reports what expired.
        conn.handle_timeout(start.elapsed(), &mut out);
        let done = drain(&mut conn, &mut out);
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
            if out.capacity() > KEEP {
                out = Vec::new();
            }
        }
        if done || n == Some(0) {
            // Server closes the TCP connection first (RFC 6455 §7.1.1).
            return stream.shutdown().await;
        }
    }
}

/// Reads once into this thread's buffer and feeds the bytes to `conn` (or
/// reports end of stream). Returns the number of bytes read.
///
/// `poll_read` rather than `readable()` + `try_read`: after a short read,
/// tokio knows the socket is drained and skips the read that would only
/// return `WouldBlock`, one syscall less per wakeup.
async fn read(stream: &mut TcpStream, conn: &mut Connection) -> io::Result<usize> {
    poll_fn(|cx| {
        READ.with_borrow_mut(|buf| {
            let mut buf = ReadBuf::new(buf);
            match Pin::new(&mut *stream).poll_read(cx, &mut buf) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                    conn.receive_eof();
                    Poll::Ready(Ok(0))
                }
                Poll::Ready(Ok(())) => {
                    conn.receive(buf.filled());
                    Poll::Ready(Ok(buf.filled().len()))
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => {
                    conn.receive_eof();
                    Poll::Ready(Ok(0))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            }
        })
    })
    .await
}

/// Handles every event the bytes received so far produce, answering each
/// while it is held (no copy). Returns whether the connection is finished.
fn drain(conn: &mut Connection, out: &mut Vec<u8>) -> bool {
    loop {
        match conn.poll_event(out) {
            Ok(Polled::Event(Event::Request(_request), tx)) => {
                // A real server would check `_request.path()`, the origin and
                // the subprotocols here, and maybe `tx.reject(..)`.
                tx.accept(&Accept::new(), out)
                    .expect("a request is pending");
            }
            // Fails only once we are closing; then the echo is moot.
            Ok(Polled::Event(Event::Text(text), tx)) => {
                let _ = tx.send(Message::Text(text), out);
            }
            Ok(Polled::Event(Event::Binary(bytes), tx)) => {
                let _ = tx.send(Message::Binary(bytes), out);
            }
            // Pongs and Close replies are already queued in `out`.
            Ok(Polled::Event(..)) => {}
            Ok(Polled::NeedMore) => return false,
            Ok(Polled::Done) => return true,
            // A protocol error: the Close with its code is in `out`; the
            // next poll says Done.
            Err(_) => {}
        }
    }
}
