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
//!   more than the `Connection` itself;
//! * Ctrl-C (SIGINT) is a graceful stop: a `watch` channel tells every
//!   connection task, which sends a Close 1001 ("going away") and goes on
//!   until the peer answers (or the close timeout, 10 s, passes); the server
//!   exits once every task ended. A second Ctrl-C exits at once.
//!
//! It prints the address it listens on and one line per connection when it
//! ends, with its close code.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::{Duration, Instant, timeout};
use wstate::{Accept, CloseCode, Config, Connection, Event, Message, Polled};

const USAGE: &str = "\
A WebSocket echo server on tokio, one task per connection.

usage: tokio_echo_server [ADDR]        (default 127.0.0.1:9001)
       cargo run --release --example tokio_echo_server [-- ADDR]

Ctrl-C closes every connection with 1001 (going away), then exits.";

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

fn main() {
    let mut addr = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            "--" => {}
            a if a.starts_with('-') || addr.is_some() => {
                eprintln!("error: unexpected argument {a}\n\n{USAGE}");
                std::process::exit(2);
            }
            _ => addr = Some(arg),
        }
    }
    let addr = addr.unwrap_or_else(|| "127.0.0.1:9001".into());
    // `#[tokio::main]` does the same; built by hand, tokio needs no
    // `macros` feature (and so no proc-macro crates).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let listener = match runtime.block_on(TcpListener::bind(&addr)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = runtime.block_on(run(listener)) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Accepts connections until Ctrl-C, then stops them all gracefully.
async fn run(listener: TcpListener) -> io::Result<()> {
    // Ctrl-C flips this to `true`; each connection task holds a receiver,
    // so `receiver_count` is the number of open connections and `closed()`
    // resolves once the last task ended.
    let (stop_tx, _) = watch::channel(false);
    // The first poll installs the handler: before "listening" is printed,
    // so no Ctrl-C is missed. The same future is polled in every turn of
    // the loop, never again once it is ready.
    let mut ctrl_c = pin!(tokio::signal::ctrl_c());
    let stop_now = match poll_fn(|cx| Poll::Ready(ctrl_c.as_mut().poll(cx))).await {
        Poll::Ready(Err(e)) => return Err(e),
        Poll::Ready(Ok(())) => true,
        Poll::Pending => false,
    };
    println!(
        "tokio_echo_server listening on ws://{}",
        listener.local_addr()?
    );
    let mut next_id = 1u64;
    loop {
        let accepted = poll_fn(|cx| {
            if stop_now || ctrl_c.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            listener.poll_accept(cx).map(Some)
        })
        .await;
        let (stream, peer) = match accepted {
            None => break,
            Some(Ok(accepted)) => accepted,
            // E.g. too many open files: the listener goes on.
            Some(Err(e)) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let id = next_id;
        next_id += 1;
        let mut stop = stop_tx.subscribe();
        tokio::spawn(async move {
            let line = match serve(stream, peer, &mut stop).await {
                Ok(summary) => summary,
                Err(e) => format!("{peer} io error: {e}"),
            };
            println!("conn {id}: {line}");
            // Only now: the server's "stopped" comes after this line.
            drop(stop);
        });
    }
    drop(listener);
    println!(
        "Ctrl-C: closing {} open connection(s) with 1001 (going away)",
        stop_tx.receiver_count()
    );
    let _ = stop_tx.send(true);
    // Each connection ends within the close timeout (10 s) of its 1001; a
    // second Ctrl-C ends the wait.
    let mut all_ended = pin!(timeout(Duration::from_secs(12), stop_tx.closed()));
    let mut second = pin!(tokio::signal::ctrl_c());
    let ended = poll_fn(|cx| {
        if let Poll::Ready(r) = all_ended.as_mut().poll(cx) {
            return Poll::Ready(r.is_ok());
        }
        second.as_mut().poll(cx).map(|_| false)
    });
    match ended.await {
        true => println!("tokio_echo_server stopped"),
        false => println!(
            "tokio_echo_server stopped, {} connection(s) still open",
            stop_tx.receiver_count()
        ),
    }
    Ok(())
}

/// Runs one connection: the handshake, then echo until it ends (or, once
/// `stop` says so, a Close 1001 and its answer). Returns a summary line.
async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    stop: &mut watch::Receiver<bool>,
) -> io::Result<String> {
    stream.set_nodelay(true)?;
    let config = Config::default();
    // permessage-deflate when built with `--features deflate`.
    #[cfg(feature = "deflate")]
    let config = config.deflate(wstate::handshake::extensions::DeflateConfig::enabled());
    let mut conn = Connection::server(config);
    let mut out = Vec::new();
    let mut echoed = 0u64;
    let mut path = None;
    let mut going_away = false;
    // The connection's clock: the handshake timeout, keepalive Pings and
    // the close timeout all count from here.
    let start = Instant::now();
    conn.handle_timeout(Duration::ZERO, &mut out);
    loop {
        // Read, but no longer than the next deadline, and not past a stop
        // request. `read` and `changed` are cancel-safe: bytes are fed to
        // the connection only once they are read.
        let deadline = conn.poll_timeout().map(|deadline| start + deadline);
        let n = {
            let mut read = pin!(read(&mut stream, &mut conn));
            let mut sleep = pin!(tokio::time::sleep_until(deadline.unwrap_or(start)));
            let mut stopped = pin!(stop.changed());
            poll_fn(|cx| {
                if let Poll::Ready(r) = read.as_mut().poll(cx) {
                    return Poll::Ready(r.map(Some));
                }
                if deadline.is_some() && sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Ok(None));
                }
                if !going_away && stopped.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Ok(None));
                }
                Poll::Pending
            })
            .await?
        };
        if !going_away && *stop.borrow() {
            going_away = true;
            // Fails if a Close was sent already, or before the handshake:
            // then the connection ends anyway (see below).
            if conn
                .close(CloseCode::GOING_AWAY, "server shutting down", &mut out)
                .is_err()
                && conn.sent_close().is_none()
            {
                return Ok(format!(
                    "{peer} dropped before the handshake: shutting down"
                ));
            }
        }
        // Then the time: a keepalive Ping, a 1011 Close or a `408` may be
        // queued, and the next poll reports what expired.
        conn.handle_timeout(start.elapsed(), &mut out);
        let done = drain(&mut conn, &mut out, &mut path, &mut echoed);
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
            if out.capacity() > KEEP {
                out = Vec::new();
            }
        }
        if done || n == Some(0) {
            // Server closes the TCP connection first (RFC 6455 §7.1.1).
            stream.shutdown().await?;
            let Some(path) = path else {
                return Ok(format!("{peer} left during the handshake"));
            };
            let close = match conn.received_close() {
                Some(frame) if going_away => {
                    format!("closed by us with 1001, peer answered {}", frame.code.0)
                }
                Some(frame) => format!("closed {}", frame.code.0),
                None if going_away => "closed by us with 1001, no answer".into(),
                None => "closed".into(),
            };
            return Ok(format!("{peer} {path} echoed {echoed} messages, {close}"));
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
/// while it is held (no copy); notes the request's path and counts the
/// echoes. Returns whether the connection is finished.
fn drain(
    conn: &mut Connection,
    out: &mut Vec<u8>,
    path: &mut Option<String>,
    echoed: &mut u64,
) -> bool {
    loop {
        match conn.poll_event(out) {
            Ok(Polled::Event(Event::Request(request), tx)) => {
                // A real server would check the path, the origin and the
                // subprotocols here, and maybe `tx.reject(..)`.
                *path = Some(request.path().to_string());
                tx.accept(&Accept::new(), out)
                    .expect("a request is pending");
            }
            // Fails only once we are closing; then the echo is moot.
            Ok(Polled::Event(Event::Text(text), tx)) => {
                *echoed += u64::from(tx.send(Message::Text(text), out).is_ok());
            }
            Ok(Polled::Event(Event::Binary(bytes), tx)) => {
                *echoed += u64::from(tx.send(Message::Binary(bytes), out).is_ok());
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
