//! A line-oriented WebSocket client: `cargo run --example client -- ws://127.0.0.1:9001/`.
//!
//! Each stdin line is sent as a text message, except `:bin N` (N bytes of
//! binary, byte i = i % 251), `:ping TEXT` and `:close CODE [REASON]`. On
//! stdin EOF it closes with 1000. It prints what comes back, one line each:
//! `text LEN TEXT`, `binary LEN FNV1A32`, `ping LEN`, `pong LEN PAYLOAD`, and
//! finally `closed CODE REASON`.

mod common;

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use wstate::{CloseCode, Connection, Event, Message, Polled, WsUrl};

/// What the main loop waits for.
enum Input {
    Net(Vec<u8>),
    NetEnd,
    Line(String),
    StdinEnd,
}

fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, b| {
        (h ^ *b as u32).wrapping_mul(0x0100_0193)
    })
}

fn main() {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001/".into());
    match run(&url) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}

/// Returns whether the connection ended with a clean closing handshake.
fn run(url: &str) -> Result<bool, Box<dyn std::error::Error>> {
    let url = WsUrl::parse(url)?;
    if url.is_secure() {
        return Err("wss:// needs TLS, which this example does not do".into());
    }
    let mut stream = TcpStream::connect((url.host(), url.port()))?;
    stream.set_nodelay(true)?;
    let mut out = Vec::new();
    let mut conn = Connection::client(
        &url.request(),
        common::os_entropy,
        common::config(),
        &mut out,
    )?;
    stream.write_all(&out)?;
    out.clear();
    // The connection's clock: the handshake timeout, keepalive and the
    // bounded waits for the server's Close and TCP close count from here.
    let start = Instant::now();
    conn.handle_timeout(Duration::ZERO, &mut out);

    let (tx, rx) = mpsc::channel();
    let mut reader = stream.try_clone()?;
    let net_tx = tx.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0; 64 << 10];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if net_tx.send(Input::Net(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = net_tx.send(Input::NetEnd);
    });

    let mut stdout = std::io::stdout().lock();
    let mut stdin_started = false;
    let mut closed_clean = false;
    loop {
        // Wait for input, but no longer than the connection's next deadline.
        let input = match conn.poll_timeout() {
            Some(deadline) => match rx.recv_timeout(deadline.saturating_sub(start.elapsed())) {
                Ok(input) => Some(input),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            },
            None => Some(rx.recv()?),
        };
        match input {
            Some(Input::Net(bytes)) => conn.receive(&bytes),
            Some(Input::NetEnd) => conn.receive_eof(),
            Some(Input::Line(line)) => send_line(&mut conn, &line, &mut out),
            Some(Input::StdinEnd) => {
                // Already closing or closed: nothing to do.
                let _ = conn.close(CloseCode::NORMAL, "", &mut out);
            }
            None => {}
        }
        // Then the time: a keepalive Ping may be queued, or a deadline
        // reported by the next poll (after the closing handshake, the wait
        // for the server's TCP close ends here: Done).
        conn.handle_timeout(start.elapsed(), &mut out);
        let mut done = false;
        loop {
            match conn.poll_event(&mut out) {
                Ok(Polled::Event(Event::Accepted(accepted), _)) => {
                    match accepted.subprotocol() {
                        Some(p) => writeln!(stdout, "connected subprotocol={p}")?,
                        None => writeln!(stdout, "connected")?,
                    }
                    if !stdin_started {
                        stdin_started = true;
                        let tx = tx.clone();
                        std::thread::spawn(move || {
                            for line in std::io::stdin().lock().lines() {
                                let Ok(line) = line else { break };
                                if tx.send(Input::Line(line)).is_err() {
                                    return;
                                }
                            }
                            let _ = tx.send(Input::StdinEnd);
                        });
                    }
                }
                Ok(Polled::Event(Event::Text(t), _)) => writeln!(stdout, "text {} {t}", t.len())?,
                Ok(Polled::Event(Event::Binary(b), _)) => {
                    writeln!(stdout, "binary {} {:08x}", b.len(), fnv1a32(b))?
                }
                Ok(Polled::Event(Event::Ping(p), _)) => writeln!(stdout, "ping {}", p.len())?,
                Ok(Polled::Event(Event::Pong(p), _)) => {
                    writeln!(stdout, "pong {} {}", p.len(), String::from_utf8_lossy(p))?
                }
                Ok(Polled::Event(Event::Close(frame), _)) => {
                    writeln!(stdout, "closed {} {}", frame.code.0, frame.reason())?;
                    closed_clean = frame.code != CloseCode::ABNORMAL;
                }
                Ok(Polled::Event(..)) => {}
                Ok(Polled::NeedMore) => break,
                Ok(Polled::Done) => {
                    done = true;
                    break;
                }
                // The next poll says Done.
                Err(e) => writeln!(stdout, "error {e}")?,
            }
        }
        stdout.flush()?;
        if !out.is_empty() {
            stream.write_all(&out)?;
            out.clear();
        }
        if done {
            break;
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    Ok(closed_clean)
}

/// Sends one stdin line as the message it describes.
fn send_line(conn: &mut Connection, line: &str, out: &mut Vec<u8>) {
    let result = if let Some(n) = line.strip_prefix(":bin ") {
        let n: usize = n.trim().parse().unwrap_or(0);
        let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        conn.send(Message::Binary(&data), out)
    } else if let Some(text) = line.strip_prefix(":ping ") {
        conn.send(Message::Ping(text.as_bytes()), out)
    } else if let Some(rest) = line.strip_prefix(":close") {
        let rest = rest.trim_start();
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let code = code.parse().map(CloseCode).unwrap_or(CloseCode::NORMAL);
        conn.close(code, reason, out)
    } else {
        conn.send(Message::Text(line), out)
    };
    if let Err(e) = result {
        eprintln!("cannot send: {e}");
    }
}
