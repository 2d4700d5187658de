//! Helpers shared by the blocking examples: entropy, and an
//! echo loop over a `TcpStream`.
#![allow(dead_code)] // each example uses a different subset

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use wstate::{CloseFrame, Connection, Event, Message, Polled};

/// The configuration of the examples: the defaults, with permessage-deflate
/// offered and accepted when the crate is built with `--features deflate`.
pub(crate) fn config() -> wstate::Config {
    let config = wstate::Config::default();
    #[cfg(feature = "deflate")]
    let config = config.deflate(wstate::handshake::extensions::DeflateConfig::enabled());
    config
}

/// Mask keys and nonces from the operating system's CSPRNG.
pub(crate) fn os_entropy(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the OS random source failed");
}

/// Reads like `Read::read`, but reports a reset connection as end of
/// stream: a peer that closes right after its Close frame (as servers do,
/// RFC 6455 §7.1.1) may reset the TCP connection before we read again.
pub(crate) fn read_or_eof(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    match stream.read(buf) {
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(0),
        other => other,
    }
}

/// Reads once, waiting no longer than the connection's next deadline
/// (`poll_timeout`, on the clock that started at `start`), feeds what came
/// (or the end of stream), then tells the connection the time: a Ping, the
/// Close of a keepalive timeout or a `408` may be queued in `out`, and the
/// next poll reports what expired. Returns the bytes read (`None`: the
/// deadline came first).
pub(crate) fn read_timed(
    stream: &mut TcpStream,
    conn: &mut Connection,
    start: Instant,
    buf: &mut [u8],
    out: &mut Vec<u8>,
) -> io::Result<Option<usize>> {
    // A zero read timeout means "none" to the OS: wait at least 1 ms.
    let wait = conn.poll_timeout().map(|deadline| {
        deadline
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(1))
    });
    stream.set_read_timeout(wait)?;
    let n = match read_or_eof(stream, buf) {
        Ok(0) => {
            conn.receive_eof();
            Some(0)
        }
        Ok(n) => {
            conn.receive(&buf[..n]);
            Some(n)
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            None
        }
        Err(e) => return Err(e),
    };
    conn.handle_timeout(start.elapsed(), out);
    Ok(n)
}

/// What ended an echo loop.
#[derive(Debug)]
pub(crate) struct Ended {
    /// The Close the peer sent (or 1006 if the transport just ended).
    pub(crate) received: Option<CloseFrame>,
    /// The protocol error that failed the connection, if any.
    pub(crate) error: Option<wstate::Error>,
    /// Messages echoed.
    pub(crate) messages: u64,
}

/// Echoes every message with its type until the connection ends, starting
/// with any bytes the connection already holds. Each message is sent back
/// while its event is held, without a copy; everything produced by one read
/// is written with one `write_all`. Time is `start.elapsed()`: reads wait
/// no longer than the connection's next deadline, so a peer that stops
/// answering the keepalive Pings is failed (1011) and a Close left
/// unanswered ends the connection.
pub(crate) fn echo(
    stream: &mut TcpStream,
    conn: &mut Connection,
    start: Instant,
    mut out: Vec<u8>,
) -> io::Result<Ended> {
    let mut buf = vec![0; 64 << 10];
    let mut messages = 0;
    let mut error = None;
    let mut done = false;
    while !done {
        loop {
            let (message, tx) = match conn.poll_event(&mut out) {
                Ok(Polled::Event(Event::Text(t), tx)) => (Message::Text(t), tx),
                Ok(Polled::Event(Event::Binary(b), tx)) => (Message::Binary(b), tx),
                // Pongs and Close replies are already queued in `out`.
                Ok(Polled::Event(..)) => continue,
                Ok(Polled::NeedMore) => break,
                Ok(Polled::Done) => {
                    done = true;
                    break;
                }
                // Our Close with the error's code is in `out`; the next
                // poll says Done.
                Err(e) => {
                    error = Some(e);
                    continue;
                }
            };
            // Fails only once we are closing; then the echo is moot.
            if tx.send(message, &mut out).is_ok() {
                messages += 1;
            }
        }
        if !out.is_empty() {
            stream.write_all(&out)?;
            out.clear();
        }
        if done {
            break;
        }
        read_timed(stream, conn, start, &mut buf, &mut out)?;
    }
    Ok(Ended {
        received: conn.received_close().cloned(),
        error,
        messages,
    })
}
