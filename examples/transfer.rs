//! Moves one huge binary message through a WebSocket connection on
//! loopback with constant memory:
//! `cargo run --release --example transfer [SIZE_MIB]` (default 4096: 4 GiB).
//!
//! The client streams the message in parts (`send_part` / `finish`), masking
//! each part in its own buffer, with a bound on queued output
//! (`max_pending_output`); the server receives it in parts
//! (`Config::receive_parts`) as the bytes arrive, and checks every byte.
//! Neither side ever holds the message: at the end the program prints the
//! time, the throughput and the process's peak resident memory.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use wstate::{Accept, CloseCode, Config, Connection, Event, Message, Polled, SendError, WsUrl};

/// Bytes per part sent, and the most received in one part.
const PART: usize = 64 << 10;

const USAGE: &str = "\
Moves one binary message of SIZE_MIB MiB through a WebSocket connection on
loopback, in parts, with constant memory; prints time, throughput, peak RSS.

usage: transfer [SIZE_MIB]        (default 4096: 4 GiB)
       cargo run --release --example transfer [-- SIZE_MIB]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = common::positional_args(USAGE, 1);
    let mib: u64 = match args.first() {
        Some(a) => match a.parse() {
            Ok(mib) => mib,
            Err(_) => common::usage_exit(USAGE, Some(&format!("not a size in MiB: {a}"))),
        },
        None => 4096,
    };
    let size = mib << 20;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || -> Result<u64, String> {
        let (stream, _) = listener.accept().map_err(|e| e.to_string())?;
        receive(stream).map_err(|e| e.to_string())
    });
    let start = Instant::now();
    send(&format!("ws://{addr}/"), size)?;
    let received = server.join().map_err(|_| "server panicked")??;
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(received, size, "bytes received");
    println!(
        "moved {} MiB in {secs:.2} s ({:.0} MiB/s), peak RSS {} KiB",
        mib,
        mib as f64 / secs,
        peak_rss_kib().unwrap_or(0)
    );
    Ok(())
}

/// The message's bytes: byte `i` is `i % 251`, a pattern both sides know.
/// Returns the `n` bytes from offset `at`, from a table of one part plus a
/// period.
fn pattern(table: &[u8], at: u64, n: usize) -> &[u8] {
    let from = (at % 251) as usize;
    &table[from..from + n]
}

fn pattern_table() -> Vec<u8> {
    (0..PART + 251).map(|i| (i % 251) as u8).collect()
}

/// Client: connects and sends `size` bytes as one binary message in parts.
fn send(url: &str, size: u64) -> Result<(), Box<dyn std::error::Error>> {
    let url = WsUrl::parse(url)?;
    let mut sock = TcpStream::connect((url.host(), url.port()))?;
    let mut out = Vec::new();
    let config = Config::default().with_max_pending_output(Some(4 * PART));
    let mut conn = Connection::client(&url.request(), common::os_entropy, config, &mut out)?;
    sock.write_all(&out)?;
    out.clear();
    let mut buf = vec![0; 16 << 10];
    // The handshake.
    loop {
        let n = common::read_or_eof(&mut sock, &mut buf)?;
        if n == 0 {
            return Err("closed during the handshake".into());
        }
        conn.receive(&buf[..n]);
        match conn.poll_event(&mut out) {
            Polled::Event(Event::Accepted(_), _) => break,
            Polled::Failed(e) => return Err(e.into()),
            _ => {}
        }
    }
    // The message, part by part: out never holds more than the bound.
    let table = pattern_table();
    let mut part = vec![0u8; PART];
    let mut sent = 0;
    while sent < size {
        let n = PART.min((size - sent) as usize);
        let chunk = &mut part[..n];
        chunk.copy_from_slice(pattern(&table, sent, n));
        let last = sent + n as u64 == size;
        let result = if last {
            conn.sender().finish(Message::Binary(chunk), &mut out)
        } else {
            conn.sender().send_part(Message::Binary(chunk), &mut out)
        };
        match result {
            Ok(()) => sent += n as u64,
            // The bound is reached: write what is queued, then retry.
            Err(SendError::Backpressure) => {}
            Err(e) => return Err(e.into()),
        }
        sock.write_all(&out)?;
        out.clear();
    }
    conn.sender().close(CloseCode::NORMAL, "done", &mut out)?;
    sock.write_all(&out)?;
    out.clear();
    // Wait for the server's Close and its end of the TCP connection.
    loop {
        let n = common::read_or_eof(&mut sock, &mut buf)?;
        if n == 0 {
            conn.receive_eof();
        } else {
            conn.receive(&buf[..n]);
        }
        match conn.poll_event(&mut out) {
            Polled::Failed(e) => return Err(e.into()),
            Polled::Done => return Ok(()),
            _ if n == 0 => return Ok(()),
            _ => {}
        }
    }
}

/// Server: receives one message in parts, checking each byte; returns the
/// message's length.
fn receive(mut sock: TcpStream) -> std::io::Result<u64> {
    let config = Config::default()
        .with_receive_parts(Some(PART))
        .with_max_frame_size(usize::MAX)
        .with_max_message_size(usize::MAX);
    let mut conn = Connection::server(config);
    let mut out = Vec::new();
    let mut got: u64 = 0;
    let table = pattern_table();
    loop {
        // Straight into the connection's buffer.
        let n = conn.receive_with(PART, |room| sock.read(room))?;
        loop {
            match conn.poll_event(&mut out) {
                Polled::Event(Event::Request(_), tx) => {
                    tx.accept(&Accept::new(), &mut out).expect("a request");
                }
                Polled::Event(Event::BinaryPart { part: bytes, .. }, _) => {
                    let expected = pattern(&table, got, bytes.len());
                    assert!(bytes == expected, "a part at {got} differs");
                    got += bytes.len() as u64;
                }
                Polled::Event(..) => {}
                Polled::NeedMore => break,
                Polled::Done => {
                    sock.write_all(&out)?;
                    return Ok(got);
                }
                Polled::Failed(e) => return Err(std::io::Error::other(e.to_string())),
            }
        }
        sock.write_all(&out)?;
        out.clear();
        if n == 0 {
            return Ok(got);
        }
    }
}

/// The peak resident set size of this process (Linux), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
