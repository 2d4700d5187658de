//! A WebSocket echo server on tokio with the IO loop written by hand over
//! the sans-IO core: `cargo run --release --example tokio_custom_loop
//! [-- [--current-thread] ADDR]` (default 127.0.0.1:9003). Echoes every
//! message with its type.
//!
//! Most tokio users want the `wstate-tokio` crate, which runs this loop for
//! them. This example is for those who wrap the core in their own IO (a
//! custom runtime, their own buffers or scheduling) and shows what such a
//! loop must do:
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
//! * small reads land in one buffer per thread, shared by every connection
//!   served there, and are fed to the connection at once, so an idle
//!   connection holds no read buffer of its own; once a read fills that
//!   buffer (a large message is streaming in), reads go straight into the
//!   connection's receive buffer (`receive_with`), so only the kernel
//!   copies what arrives, until a read comes back short again;
//! * a large message is echoed from where it was received: its header goes
//!   to the output buffer, then header and payload leave in one vectored
//!   write, so only the kernel copies the payload;
//! * a connection keeps its receive buffer between large messages, up to
//!   [`RETAINED`]: a client that sends large messages one after another
//!   reuses warm memory rather than page-faulting fresh memory in for every
//!   message; the connection gives it back once it is quiet;
//! * the server closes the transport in order: after the last write it
//!   shuts down its direction, then reads and drops what the peer still
//!   sends (at most [`LINGER_BYTES`], [`LINGER_TIME`]) before dropping the
//!   socket, so the kernel never resets the connection under our Close;
//! * Ctrl-C (SIGINT) is a graceful stop: a `watch` channel tells every
//!   connection task, which sends a Close 1001 ("going away") and goes on
//!   until the peer answers (or the close timeout, 10 s, passes); the server
//!   exits once every task ended. A second Ctrl-C exits at once.
//!
//! It prints the address it listens on and one line per connection when it
//! ends, with its close code.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::task::{Poll, ready};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::{Duration, Instant, timeout};
use wstate::{Accept, CloseCode, Config, Connection, Event, Message, Polled};

const USAGE: &str = "\
A WebSocket echo server on tokio, one task per connection.

usage: tokio_custom_loop [--current-thread] [ADDR]   (default 127.0.0.1:9003)
       cargo run --release --example tokio_custom_loop [-- ADDR]

  --current-thread   run every connection on one thread (tokio's
                     current-thread runtime) instead of one worker per core

Ctrl-C closes every connection with 1001 (going away), then exits.";

/// Bytes read per syscall into the shared buffer, at most.
const READ_BUF: usize = 64 << 10;
/// Room asked for by a read straight into the connection: it offers what
/// the frame in progress still needs and 64 KiB more, up to this, so a
/// large message takes a few large reads and the buffer grows at most 64
/// KiB past the frame.
const DIRECT_READ: usize = 1 << 20;
/// The most the closing reads and drops of what the peer still sends.
const LINGER_BYTES: usize = 4 << 20;
/// The longest the closing waits for the peer's end of stream.
const LINGER_TIME: Duration = Duration::from_secs(2);

thread_local! {
    /// The read buffer shared by the connections served on this thread:
    /// a read is fed to its connection before the task yields, so one
    /// buffer serves them all.
    static SHARED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}
/// Receive buffer a connection keeps once a message is consumed (the
/// crate's default is 512 bytes, for the smallest idle connections). Bigger
/// than a read, or large reads would allocate, and than the largest
/// messages expected in a row (1 MiB here), or each would fault in fresh
/// pages: the kernel hands out zeroed memory page by page, which for a
/// 1 MiB message costs more than receiving it.
const RETAINED: usize = 2 << 20;
/// Messages from this size on are echoed with a vectored write from the
/// receive buffer instead of being copied into `out`.
const LARGE: usize = 8 << 10;
/// Output capacity kept between writes; a larger buffer is freed once
/// written, so idle connections stay small.
const KEEP: usize = 4 << 10;

fn main() {
    let mut addr = None;
    let mut current_thread = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            "--current-thread" => current_thread = true,
            "--" => {}
            a if a.starts_with('-') || addr.is_some() => {
                eprintln!("error: unexpected argument {a}\n\n{USAGE}");
                std::process::exit(2);
            }
            _ => addr = Some(arg),
        }
    }
    let addr = addr.unwrap_or_else(|| "127.0.0.1:9003".into());
    // `#[tokio::main]` does the same; built by hand, tokio needs no
    // `macros` feature (and so no proc-macro crates). The default is a
    // worker per core. `--current-thread` runs everything on this thread:
    // no work stealing, no cross-thread wakeups, the cheapest per message
    // when one core is all the server gets (`taskset -c 0`).
    let mut builder = if current_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = builder.enable_all().build().expect("a tokio runtime");
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
        "tokio_custom_loop listening on ws://{}",
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
        true => println!("tokio_custom_loop stopped"),
        false => println!(
            "tokio_custom_loop stopped, {} connection(s) still open",
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
    let config = Config::default().with_retained_buffer(RETAINED);
    // permessage-deflate when built with `--features deflate`.
    #[cfg(feature = "deflate")]
    let config = config.with_deflate(Some(wstate::DeflateConfig::default()));
    let mut conn = Connection::server(config);
    let mut out = Vec::new();
    let mut echoed = 0u64;
    let mut path = None;
    let mut going_away = false;
    // Reads go straight into the connection's buffer while they fill the
    // room they are given (a large message is streaming in).
    let mut direct = false;
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
            let mut read = pin!(read(&mut stream, &mut conn, &mut direct));
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
                .sender()
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
        let done = drain(&mut conn, &mut stream, &mut out, &mut path, &mut echoed).await?;
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
            if out.capacity() > KEEP {
                out = Vec::new();
            }
        }
        if done || n == Some(0) {
            // Server closes the TCP connection first (RFC 6455 §7.1.1).
            finish_transport(&mut stream).await;
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

/// Reads once and feeds the bytes to the
/// connection (or reports the end of stream). Returns the number of bytes
/// read.
///
/// A read lands in the thread's [`SHARED`] buffer and is copied into the
/// connection only as far as the connection must keep it (a frame not yet
/// complete), unless `direct` is set: then it goes straight into the
/// connection's own receive buffer (`receive_with`), with no copy. `direct`
/// follows the reads: set after one of [`READ_BUF`] bytes or more, cleared
/// after a shorter one.
///
/// `poll_read` rather than `readable()` + `try_read`: after a short read,
/// tokio knows the socket is drained and skips the read that would only
/// return `WouldBlock`, one syscall less per wakeup.
async fn read(
    stream: &mut TcpStream,
    conn: &mut Connection,
    direct: &mut bool,
) -> io::Result<usize> {
    let n = poll_fn(|cx| {
        // Readiness first: a connection that never receives gets no room.
        ready!(stream.poll_read_ready(cx))?;
        let read = if *direct {
            conn.receive_with(DIRECT_READ, |room| poll_into(stream, cx, room))
        } else {
            SHARED.with_borrow_mut(|shared| {
                shared.resize(READ_BUF, 0);
                let n = poll_into(stream, cx, shared)?;
                match n {
                    0 => conn.receive_eof(),
                    n => conn.receive(&shared[..n]),
                }
                Ok(n)
            })
        };
        match read {
            // 0: the end of stream is noted.
            Ok(n) => Poll::Ready(Ok(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                conn.receive_eof();
                Poll::Ready(Ok(0))
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    })
    .await?;
    *direct = n >= READ_BUF;
    Ok(n)
}

/// One `poll_read` into `room`: the bytes read, or `WouldBlock` when the
/// socket was not readable after all (nothing was read, and the task is
/// woken when it is).
fn poll_into(
    stream: &mut TcpStream,
    cx: &mut std::task::Context<'_>,
    room: &mut [u8],
) -> io::Result<usize> {
    let mut buf = ReadBuf::new(room);
    match Pin::new(stream).poll_read(cx, &mut buf) {
        Poll::Ready(Ok(())) => Ok(buf.filled().len()),
        Poll::Ready(Err(e)) => Err(e),
        Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
    }
}

/// Ends the transport of a finished connection without losing what was
/// written last: shuts down our direction (the peer reads our Close, then
/// the end of stream), then reads and drops what the peer still sends
/// until it ends its side too, at most [`LINGER_BYTES`] and
/// [`LINGER_TIME`]. Closing a socket with unread input would make the
/// kernel send a reset, which may destroy our Close before the peer reads
/// it.
async fn finish_transport(stream: &mut TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        let mut dropped = 0;
        // On the heap, and only now: an array here would make every
        // connection's task larger for its whole life.
        let mut sink = vec![0; 4 << 10];
        while dropped < LINGER_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(n) => dropped += n,
            }
        }
    };
    let _ = timeout(LINGER_TIME, drain).await;
}

/// Handles every event the bytes received so far produce, answering each
/// while it is held (no copy); notes the request's path and counts the
/// echoes. A large message is written out at once, from the receive buffer
/// (see [`write_large`]); everything else is queued in `out`. Returns
/// whether the connection is finished.
async fn drain(
    conn: &mut Connection,
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
    path: &mut Option<String>,
    echoed: &mut u64,
) -> io::Result<bool> {
    // `send_header` never compresses: with permessage-deflate negotiated,
    // large messages go through `send` and are compressed like the others.
    #[cfg(feature = "deflate")]
    let vectored = conn.deflate().is_none();
    #[cfg(not(feature = "deflate"))]
    let vectored = true;
    loop {
        match conn.poll_event(out) {
            Polled::Event(Event::Request(request), tx) => {
                // A real server would check the path, the origin and the
                // subprotocols here, and maybe `tx.reject(..)`.
                *path = Some(request.path().to_string());
                tx.accept(&Accept::new(), out)
                    .expect("a request is pending");
            }
            // Fails only once we are closing; then the echo is moot.
            Polled::Event(Event::Text(text), tx) if vectored && text.len() >= LARGE => {
                if tx.send_header(Message::Text(text), out).is_ok() {
                    write_large(stream, out, text.as_bytes()).await?;
                    *echoed += 1;
                }
            }
            Polled::Event(Event::Binary(bytes), tx) if vectored && bytes.len() >= LARGE => {
                if tx.send_header(Message::Binary(bytes), out).is_ok() {
                    write_large(stream, out, bytes).await?;
                    *echoed += 1;
                }
            }
            Polled::Event(Event::Text(text), tx) => {
                *echoed += u64::from(tx.send(Message::Text(text), out).is_ok());
            }
            Polled::Event(Event::Binary(bytes), tx) => {
                *echoed += u64::from(tx.send(Message::Binary(bytes), out).is_ok());
            }
            // Pongs and Close replies are already queued in `out`.
            Polled::Event(..) => {}
            Polled::NeedMore => return Ok(false),
            Polled::Done => return Ok(true),
            // A protocol error: the Close with its code is in `out`; the
            // next poll says Done.
            Polled::Failed(_) => {}
        }
    }
}

/// Writes `out` (what was queued, ending with a frame header) and then the
/// frame's `payload`, in vectored writes: one syscall for both while the
/// socket takes them, and no copy of the payload into `out`. Empties `out`.
async fn write_large(stream: &mut TcpStream, out: &mut Vec<u8>, payload: &[u8]) -> io::Result<()> {
    let mut slices = [IoSlice::new(out), IoSlice::new(payload)];
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        match stream.write_vectored(slices).await? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => IoSlice::advance_slices(&mut slices, n),
        }
    }
    out.clear();
    Ok(())
}
