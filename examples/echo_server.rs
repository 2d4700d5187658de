//! A WebSocket echo server on blocking std sockets, one thread per
//! connection: `cargo run --release --example echo_server [ADDR]`
//! (default 127.0.0.1:9001). Echoes every message with its type.
//!
//! Prints the address it listens on and one line per connection when it
//! ends, with its close code. Ctrl-C (SIGINT) stops it gracefully: every
//! open connection gets a Close 1001 ("going away") and the server exits
//! once they all ended (at most the close timeout, 10 s, later); a second
//! Ctrl-C exits at once.

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wstate::{Accept, Connection, Event, Polled};

const USAGE: &str = "\
A WebSocket echo server on blocking std sockets, one thread per connection.

usage: echo_server [--release-after-message] [--window-bits N] [ADDR]
       (default 127.0.0.1:9001)
       cargo run --release --example echo_server [-- ADDR]

--release-after-message: with --features deflate, give back the compressor
and decompressor after every message and rebuild them from the kept
history (Release::AfterMessage; the default releases them when idle).
--window-bits N: with --features deflate, answer server_max_window_bits=N
and client_max_window_bits=N (9 to 15; the default answers neither, 15).

Ctrl-C closes every connection with 1001 (going away), then exits.";

/// Connections being served.
static OPEN: AtomicUsize = AtomicUsize::new(0);

fn main() {
    let args = common::positional_args(USAGE, 1);
    let addr = args.first().map_or("127.0.0.1:9001", String::as_str);
    let listener = match TcpListener::bind(addr) {
        Ok(listener) => listener,
        Err(e) => common::usage_exit(USAGE, Some(&format!("cannot listen on {addr}: {e}"))),
    };
    if let Err(e) = run(listener) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(listener: TcpListener) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    // Ctrl-C: `common::stopping()` turns true, which every connection's
    // echo loop notices within 200 ms; a connection to ourselves wakes the
    // `accept` below.
    common::on_ctrl_c(move || {
        let open = OPEN.load(Ordering::Relaxed);
        println!("Ctrl-C: closing {open} open connection(s) with 1001 (going away)");
        let _ = TcpStream::connect(local);
    })?;
    println!("echo_server listening on ws://{local}");
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    for stream in listener.incoming() {
        if common::stopping() {
            break;
        }
        let Ok(stream) = stream else { continue };
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        OPEN.fetch_add(1, Ordering::Relaxed);
        std::thread::spawn(move || {
            let line = match serve(stream) {
                Ok(summary) => summary,
                Err(e) => format!("io error: {e}"),
            };
            println!("conn {id}: {line}");
            OPEN.fetch_sub(1, Ordering::Relaxed);
        });
    }
    drop(listener);
    // Each connection ends within the close timeout (10 s) of its 1001.
    let deadline = Instant::now() + Duration::from_secs(12);
    while OPEN.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    match OPEN.load(Ordering::Relaxed) {
        0 => println!("echo_server stopped"),
        n => println!("echo_server stopped, {n} connection(s) still open"),
    }
    Ok(())
}

/// Runs one connection: the handshake, then echo until it ends.
fn serve(mut stream: TcpStream) -> std::io::Result<String> {
    let peer = stream.peer_addr()?;
    stream.set_nodelay(true)?;
    let mut conn = Connection::server(common::config());
    let mut out = Vec::new();
    // The connection's clock: a request not complete within the handshake
    // timeout (10 s by default) is answered `408` (or, if nothing came,
    // just dropped); later, keepalive Pings find a peer that vanished.
    let start = Instant::now();
    conn.handle_timeout(Duration::ZERO, &mut out);
    let mut buf = vec![0; 16 << 10];
    let path;
    loop {
        if common::stopping() {
            return Ok(format!(
                "{peer} dropped during the handshake: shutting down"
            ));
        }
        common::read_timed(&mut stream, &mut conn, start, &mut buf, &mut out)?;
        match conn.poll_event(&mut out) {
            Polled::Event(Event::Request(request), tx) => {
                path = request.path().to_string();
                tx.accept(&Accept::new(), &mut out)
                    .expect("a request is pending");
                break;
            }
            Polled::Done => {
                stream.write_all(&out)?;
                common::finish_transport(&mut stream);
                return Ok(format!("{peer} left during the handshake"));
            }
            Polled::Event(..) | Polled::NeedMore => {}
            Polled::Failed(wstate::Error::Handshake(wstate::HandshakeError::UnexpectedEof)) => {
                return Ok(format!("{peer} left during the handshake"));
            }
            Polled::Failed(e) => {
                stream.write_all(&out)?;
                common::finish_transport(&mut stream);
                return Ok(format!("{peer} handshake refused: {e}"));
            }
        }
    }
    let ended = common::echo(&mut stream, &mut conn, start, out)?;
    Ok(format!(
        "{peer} {path} echoed {} messages, {}",
        ended.messages,
        ended.describe()
    ))
}
