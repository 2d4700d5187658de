//! A WebSocket echo server on blocking std sockets, one thread per
//! connection: `cargo run --release --example echo_server [ADDR]`
//! (default 127.0.0.1:9001). Echoes every message with its type.

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wstate::{Accept, Connection, Event, Polled};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr)?;
    println!("echo_server listening on ws://{}", listener.local_addr()?);
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        std::thread::spawn(move || {
            let line = match serve(stream) {
                Ok(summary) => summary,
                Err(e) => format!("io error: {e}"),
            };
            println!("conn {id}: {line}");
        });
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
        common::read_timed(&mut stream, &mut conn, start, &mut buf, &mut out)?;
        match conn.poll_event(&mut out) {
            Ok(Polled::Event(Event::Request(request), tx)) => {
                path = request.path().to_string();
                tx.accept(&Accept::new(), &mut out)
                    .expect("a request is pending");
                break;
            }
            Ok(Polled::Done) => {
                stream.write_all(&out)?;
                return Ok(format!("{peer} left during the handshake"));
            }
            Ok(_) => {}
            Err(e) => {
                stream.write_all(&out)?;
                return Ok(format!("{peer} handshake refused: {e}"));
            }
        }
    }
    let ended = common::echo(&mut stream, &mut conn, start, out)?;
    let close = match (&ended.error, &ended.received) {
        (Some(e), _) => format!("failed: {e}"),
        (None, Some(frame)) => format!("closed {} {:?}", frame.code.0, frame.reason()),
        (None, None) => "closed".to_string(),
    };
    Ok(format!(
        "{peer} {path} echoed {} messages, {close}",
        ended.messages
    ))
}
