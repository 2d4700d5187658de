//! A line-oriented WebSocket client: `cargo run --example client -- ws://127.0.0.1:9001/`.
//!
//! Each stdin line is sent as a text message, except `:bin N` (N bytes of
//! binary, byte i = i % 251), `:ping TEXT` and `:close CODE [REASON]`. On
//! stdin EOF it waits for the replies still in flight (as many echoes and
//! pongs as it sent messages and pings, or until 2 s pass without traffic),
//! then closes with 1000. It prints what comes back, one line each:
//! `text LEN TEXT`, `binary LEN FNV1A32`, `ping LEN`, `pong LEN PAYLOAD`, and
//! finally `closed CODE REASON`. So `printf 'a\nb\n' | client URL` prints
//! both echoes before `closed 1000 `.

mod common;

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use wstate::{CloseCode, Connection, Event, Message, Polled, WsUrl};

const USAGE: &str = "\
A line-oriented WebSocket client: each stdin line is sent as a text message.

usage: client [URL]        (default ws://127.0.0.1:9001/; ws:// only, no TLS)
       cargo run --example client -- [URL]

Special lines: `:bin N` (N bytes of binary), `:ping TEXT`, `:close CODE [REASON]`.
Prints `connected`, then what comes back, one line each: `text LEN TEXT`,
`binary LEN FNV1A32`, `ping LEN`, `pong LEN PAYLOAD`, and `closed CODE REASON`.
At the end of stdin it waits for the replies still due (at most 2 s of
silence), then closes with 1000. Exit status: 0 after a clean close, 1 after
an unclean one, 2 on an error.";

/// At the end of stdin, how long a silent server may still owe replies.
const QUIET: Duration = Duration::from_secs(2);

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
    let args = common::positional_args(USAGE, 1);
    let url = args.first().map_or("ws://127.0.0.1:9001/", String::as_str);
    let url = match WsUrl::parse(url) {
        Ok(url) if url.is_secure() => common::usage_exit(
            USAGE,
            Some("wss:// needs TLS, which this example does not do"),
        ),
        Ok(url) => url,
        Err(e) => common::usage_exit(USAGE, Some(&format!("bad URL {url:?}: {e}"))),
    };
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
fn run(url: &WsUrl) -> Result<bool, Box<dyn std::error::Error>> {
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
    // Replies the server owes: an echo per message, a pong per ping.
    let (mut replies_due, mut replies) = (0u64, 0u64);
    // Set at the end of stdin, until our Close is queued.
    let mut closing_after: Option<Instant> = None;
    loop {
        // Wait for input, but no longer than the connection's next deadline
        // (or, stdin ended, the end of the quiet period).
        let deadline = [
            conn.poll_timeout().map(|deadline| start + deadline),
            closing_after,
        ]
        .into_iter()
        .flatten()
        .min();
        let input = match deadline {
            Some(deadline) => {
                match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(input) => Some(input),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            None => Some(rx.recv()?),
        };
        match input {
            Some(Input::Net(bytes)) => {
                conn.receive(&bytes);
                // Traffic: the server is still at work.
                if closing_after.is_some() {
                    closing_after = Some(Instant::now() + QUIET);
                }
            }
            Some(Input::NetEnd) => conn.receive_eof(),
            Some(Input::Line(line)) => {
                replies_due += u64::from(send_line(&mut conn, &line, &mut out));
            }
            Some(Input::StdinEnd) => closing_after = Some(Instant::now() + QUIET),
            None => {}
        }
        // Then the time: a keepalive Ping may be queued, or a deadline
        // reported by the next poll (after the closing handshake, the wait
        // for the server's TCP close ends here: Done).
        conn.handle_timeout(start.elapsed(), &mut out);
        let mut done = false;
        loop {
            match conn.poll_event(&mut out) {
                Polled::Event(Event::Accepted(accepted), _) => {
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
                Polled::Event(Event::Text(t), _) => {
                    replies += 1;
                    writeln!(stdout, "text {} {t}", t.len())?
                }
                Polled::Event(Event::Binary(b), _) => {
                    replies += 1;
                    writeln!(stdout, "binary {} {:08x}", b.len(), fnv1a32(b))?
                }
                Polled::Event(Event::Ping(p), _) => writeln!(stdout, "ping {}", p.len())?,
                Polled::Event(Event::Pong(p), _) => {
                    replies += 1;
                    writeln!(stdout, "pong {} {}", p.len(), String::from_utf8_lossy(p))?
                }
                Polled::Event(Event::Close(frame), _) => {
                    writeln!(stdout, "closed {} {}", frame.code.0, frame.reason())?;
                    closed_clean = frame.code != CloseCode::ABNORMAL;
                }
                Polled::Event(..) => {}
                Polled::NeedMore => break,
                Polled::Done => {
                    done = true;
                    break;
                }
                // The next poll says Done.
                Polled::Failed(e) => writeln!(stdout, "error {e}")?,
            }
        }
        // Stdin ended: close once every reply came, or the server has been
        // silent for the quiet period.
        if let Some(quiet_end) = closing_after
            && (replies >= replies_due || Instant::now() >= quiet_end)
        {
            closing_after = None;
            // Already closing or closed: nothing to do.
            let _ = conn.sender().close(CloseCode::NORMAL, "", &mut out);
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

/// Sends one stdin line as the message it describes. Returns whether the
/// server owes a reply (an echo or a pong).
fn send_line(conn: &mut Connection, line: &str, out: &mut Vec<u8>) -> bool {
    let mut reply_due = true;
    let result = if let Some(n) = line.strip_prefix(":bin ") {
        let n: usize = n.trim().parse().unwrap_or(0);
        let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        conn.sender().send(Message::Binary(&data), out)
    } else if let Some(text) = line.strip_prefix(":ping ") {
        conn.sender().send(Message::Ping(text.as_bytes()), out)
    } else if let Some(rest) = line.strip_prefix(":close") {
        let rest = rest.trim_start();
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let code = code.parse().map(CloseCode).unwrap_or(CloseCode::NORMAL);
        reply_due = false;
        conn.sender().close(code, reason, out)
    } else {
        conn.sender().send(Message::Text(line), out)
    };
    match result {
        Ok(()) => reply_due,
        Err(e) => {
            eprintln!("cannot send: {e}");
            false
        }
    }
}
