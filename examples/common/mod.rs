//! Helpers shared by the blocking examples: URL parsing, entropy, and an
//! echo loop over a `TcpStream`.
#![allow(dead_code)] // each example uses a different subset

use std::io::{self, Read, Write};
use std::net::TcpStream;

use wstate::{CloseFrame, Connection, Event, Message};

/// Mask keys and nonces from the operating system's CSPRNG.
pub(crate) fn os_entropy(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the OS random source failed");
}

/// The parts of a `ws://host[:port]/path` URL.
pub(crate) struct WsUrl {
    /// `host:port` to connect to.
    pub(crate) addr: String,
    /// The `Host` header value.
    pub(crate) host: String,
    /// Path and query.
    pub(crate) path: String,
}

pub(crate) fn parse_ws_url(url: &str) -> Result<WsUrl, String> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| format!("only ws:// URLs are supported: {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(format!("no host in {url}"));
    }
    let addr = if authority
        .rsplit(':')
        .next()
        .is_some_and(|p| p.parse::<u16>().is_ok())
        && authority.contains(':')
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok(WsUrl {
        addr,
        host: authority.to_string(),
        path: path.to_string(),
    })
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
/// with any bytes the connection already holds. Everything produced by one
/// read is written with one `write_all`.
pub(crate) fn echo(
    stream: &mut TcpStream,
    conn: &mut Connection,
    mut out: Vec<u8>,
) -> io::Result<Ended> {
    let mut buf = vec![0; 64 << 10];
    let mut scratch: Vec<u8> = Vec::new();
    let mut messages = 0;
    let mut error = None;
    loop {
        loop {
            // Copy the message out of the connection's buffer so the
            // connection can be borrowed again to send the echo.
            let text = match conn.poll_event(&mut out) {
                Ok(Some(Event::Text(t))) => {
                    scratch.clear();
                    scratch.extend_from_slice(t.as_bytes());
                    true
                }
                Ok(Some(Event::Binary(b))) => {
                    scratch.clear();
                    scratch.extend_from_slice(b);
                    false
                }
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            };
            let message = match text {
                // The connection checked it is UTF-8.
                true => Message::Text(std::str::from_utf8(&scratch).expect("checked UTF-8")),
                false => Message::Binary(&scratch),
            };
            // Fails only once we are closing; then the echo is moot.
            if conn.send(message, &mut out).is_ok() {
                messages += 1;
            }
        }
        if !out.is_empty() {
            stream.write_all(&out)?;
            out.clear();
        }
        if conn.should_close_transport() || error.is_some() {
            break;
        }
        let n = read_or_eof(stream, &mut buf)?;
        if n == 0 {
            conn.receive_eof();
        } else {
            conn.receive(&buf[..n]);
        }
    }
    Ok(Ended {
        received: conn.received_close().cloned(),
        error,
        messages,
    })
}
