//! Helpers shared by the blocking examples: the configuration, entropy,
//! command-line usage, Ctrl-C, and an echo loop over a `TcpStream`.
#![allow(dead_code)] // each example uses a different subset

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use wstate::{CloseCode, CloseFrame, Connection, Event, Message, Polled};

/// Prints `usage` and exits: to stdout with status 0 for `--help`, else to
/// stderr after `error` with status 2.
pub(crate) fn usage_exit(usage: &str, error: Option<&str>) -> ! {
    match error {
        None => {
            println!("{usage}");
            std::process::exit(0)
        }
        Some(error) => {
            eprintln!("error: {error}\n\n{usage}");
            std::process::exit(2)
        }
    }
}

/// The option that makes [`config`] release the permessage-deflate codec
/// after every message (`Release::AfterMessage`), for conformance runs of
/// the rebuild from the kept history.
pub(crate) const RELEASE_OPTION: &str = "--release-after-message";

/// Set by [`RELEASE_OPTION`].
static RELEASE_AFTER_MESSAGE: AtomicBool = AtomicBool::new(false);

/// The option that makes [`config`] limit the permessage-deflate window
/// to `2^N` bytes both ways (`N` 9 to 15): a server answers
/// `server_max_window_bits=N; client_max_window_bits=N` (the latter where
/// the offer allows it), a client offers both.
pub(crate) const WINDOW_BITS_OPTION: &str = "--window-bits";

/// Set by [`WINDOW_BITS_OPTION`]; 0 for the default.
static WINDOW_BITS: AtomicU8 = AtomicU8::new(0);

/// The positional arguments, at most `max` of them; `--help`/`-h` prints
/// `usage`, [`RELEASE_OPTION`] and [`WINDOW_BITS_OPTION`] are taken, an
/// unknown option, a bad value or one argument too many is an error.
pub(crate) fn positional_args(usage: &str, max: usize) -> Vec<String> {
    let mut args = Vec::new();
    let mut all = std::env::args().skip(1);
    while let Some(arg) = all.next() {
        match arg.as_str() {
            "-h" | "--help" => usage_exit(usage, None),
            RELEASE_OPTION => RELEASE_AFTER_MESSAGE.store(true, Ordering::Relaxed),
            WINDOW_BITS_OPTION => match all.next().and_then(|n| n.parse().ok()) {
                Some(bits @ 9..=15) => WINDOW_BITS.store(bits, Ordering::Relaxed),
                _ => usage_exit(usage, Some("--window-bits needs a number from 9 to 15")),
            },
            "--" => {}
            a if a.starts_with('-') && a.len() > 1 => {
                usage_exit(usage, Some(&format!("unknown option {a}")))
            }
            _ if args.len() == max => {
                usage_exit(usage, Some(&format!("unexpected argument {arg}")))
            }
            _ => args.push(arg),
        }
    }
    args
}

/// Set once Ctrl-C (SIGINT) asked the program to stop.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C asked the program to stop.
pub(crate) fn stopping() -> bool {
    STOPPING.load(Ordering::Relaxed)
}

/// The longest a read waits before `echo` looks at [`stopping`] again.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// On the first Ctrl-C (SIGINT): sets [`stopping`] and runs `then` (on a
/// thread of its own); on a second one, exits at once with status 130.
/// Returns once the handler is installed.
///
/// The standard library has no signal API; tokio, a dev-dependency of these
/// examples anyway, catches the signal on a small thread. A blocking program
/// of your own would use a crate such as `signal-hook` or `ctrlc`.
pub(crate) fn on_ctrl_c(then: impl FnOnce() + Send + 'static) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        runtime.block_on(async {
            let mut first = std::pin::pin!(tokio::signal::ctrl_c());
            // The first poll installs the handler.
            let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(first.as_mut().poll(cx)));
            let signalled = match polled.await {
                std::task::Poll::Ready(Err(_)) => return,
                std::task::Poll::Ready(Ok(())) => true,
                std::task::Poll::Pending => false,
            };
            let _ = ready_tx.send(());
            if !signalled && first.await.is_err() {
                return;
            }
            STOPPING.store(true, Ordering::Relaxed);
            std::thread::spawn(then);
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("second Ctrl-C: exiting now");
                std::process::exit(130);
            }
        })
    });
    ready_rx
        .recv()
        .map_err(|_| io::Error::other("cannot install the Ctrl-C handler"))
}

/// The configuration of the examples: the defaults, with permessage-deflate
/// offered and accepted when the crate is built with `--features deflate`
/// (its codec released after every message with [`RELEASE_OPTION`], its
/// window limited with [`WINDOW_BITS_OPTION`]).
pub(crate) fn config() -> wstate::Config {
    let mut deflate = wstate::DeflateConfig::default();
    if RELEASE_AFTER_MESSAGE.load(Ordering::Relaxed) {
        deflate = deflate.with_release(wstate::Release::AfterMessage);
    }
    match WINDOW_BITS.load(Ordering::Relaxed) {
        0 => {}
        bits => {
            deflate = deflate
                .with_server_max_window_bits(bits)
                .with_client_max_window_bits(bits);
        }
    }
    let config = wstate::Config::default();
    #[cfg(feature = "deflate")]
    let config = config.with_deflate(Some(deflate));
    #[cfg(not(feature = "deflate"))]
    let _ = deflate;
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
/// deadline came first). A read waits at most 200 ms, so that a caller
/// notices [`stopping`] soon.
pub(crate) fn read_timed(
    stream: &mut TcpStream,
    conn: &mut Connection,
    start: Instant,
    buf: &mut [u8],
    out: &mut Vec<u8>,
) -> io::Result<Option<usize>> {
    // A zero read timeout means "none" to the OS: wait at least 1 ms.
    let wait = conn.poll_timeout().map_or(STOP_CHECK, |deadline| {
        deadline
            .saturating_sub(start.elapsed())
            .clamp(Duration::from_millis(1), STOP_CHECK)
    });
    stream.set_read_timeout(Some(wait))?;
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
    /// We closed with 1001 because Ctrl-C asked us to stop.
    pub(crate) going_away: bool,
}

impl Ended {
    /// How the connection ended, for a log line: `closed 1000 "bye"`,
    /// `went away (1001), peer answered 1001`, `failed: ...`.
    pub(crate) fn describe(&self) -> String {
        match (&self.error, &self.received) {
            (Some(e), _) => format!("failed: {e}"),
            (None, Some(frame)) if self.going_away => {
                format!("closed by us with 1001, peer answered {}", frame.code.0)
            }
            (None, Some(frame)) if frame.reason().is_empty() => {
                format!("closed {}", frame.code.0)
            }
            (None, Some(frame)) => format!("closed {} {:?}", frame.code.0, frame.reason()),
            (None, None) if self.going_away => "closed by us with 1001, no answer".into(),
            (None, None) => "closed".into(),
        }
    }
}

/// Echoes every message with its type until the connection ends, starting
/// with any bytes the connection already holds. Each message is sent back
/// while its event is held, without a copy; everything produced by one read
/// is written with one `write_all`. Time is `start.elapsed()`: reads wait
/// no longer than the connection's next deadline, so a peer that stops
/// answering the keepalive Pings is failed (1011) and a Close left
/// unanswered ends the connection. Once [`stopping`], it sends a Close 1001
/// ("going away") and goes on until the peer's answer (or the close
/// timeout) ends the connection.
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
    let mut going_away = false;
    let mut stop_seen = false;
    while !done {
        loop {
            let (message, tx) = match conn.poll_event(&mut out) {
                Polled::Event(Event::Text(t), tx) => (Message::Text(t), tx),
                Polled::Event(Event::Binary(b), tx) => (Message::Binary(b), tx),
                // Pongs and Close replies are already queued in `out`.
                Polled::Event(..) => continue,
                Polled::NeedMore => break,
                Polled::Done => {
                    done = true;
                    break;
                }
                // Our Close with the error's code is in `out`; the next
                // poll says Done.
                Polled::Failed(e) => {
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
        if stopping() && !stop_seen {
            stop_seen = true;
            // Fails if a Close was already sent: then the connection is
            // ending anyway.
            going_away = conn
                .sender()
                .close(CloseCode::GOING_AWAY, "server shutting down", &mut out)
                .is_ok();
        }
    }
    finish_transport(stream);
    Ok(Ended {
        received: conn.received_close().cloned(),
        error,
        messages,
        going_away,
    })
}

/// Ends the transport of a finished connection without losing what was
/// written last (our Close frame, or an HTTP error response).
///
/// Closing a socket whose receive queue still holds unread bytes makes the
/// kernel send a reset instead of an orderly end, and a reset may destroy
/// data the peer has not read yet: after a protocol error the peer has often
/// sent more. So: shut down our direction (the peer reads our last bytes,
/// then the end of stream), then read and drop what the peer still sends
/// until it closes its side too, at most [`LINGER_BYTES`] and
/// [`LINGER_TIME`], and only then drop the socket.
pub(crate) fn finish_transport(stream: &mut TcpStream) {
    if stream.shutdown(std::net::Shutdown::Write).is_err() {
        return; // already reset or closed by the peer
    }
    let deadline = Instant::now() + LINGER_TIME;
    let mut sink = [0; 16 << 10];
    let mut dropped = 0;
    while dropped < LINGER_BYTES {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return;
        };
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(n) => dropped += n,
        }
    }
}

/// The most [`finish_transport`] reads and drops before giving up.
pub(crate) const LINGER_BYTES: usize = 4 << 20;
/// The longest [`finish_transport`] waits for the peer's end of stream.
pub(crate) const LINGER_TIME: Duration = Duration::from_secs(2);
