//! Benchmark peer: an echo server on `fastwebsockets`, its frame loop used as
//! its documentation shows (read a frame, write it back):
//! `cargo run --release --bin peer_fastwebsockets_echo [ADDR]` in `benches/`
//! (default 127.0.0.1:9001).
//!
//! The upgrade is done by hand on the raw `TcpStream` (fastwebsockets offers
//! it through hyper, whose upgraded stream adds a layer): this gives the
//! peer its fastest transport. Only what the load generator sends is
//! handled; it is a benchmark peer, not a server to copy.

use std::io;

use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    println!(
        "peer_fastwebsockets_echo listening on ws://{}",
        listener.local_addr()?
    );
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = serve(stream).await;
        });
    }
}

/// Reads the request head (and nothing after it: the client waits for the
/// 101 before it sends frames) and writes the 101.
async fn upgrade(stream: &mut TcpStream) -> io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await?;
        if n == 0 || head.len() > 16 << 10 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&byte[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let key = text
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_string())
        })
        .ok_or(io::ErrorKind::InvalidData)?;
    let accept = wstate::handshake::accept_key(key.as_bytes());
    let mut response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: "
        .to_vec();
    response.extend_from_slice(&accept);
    response.extend_from_slice(b"\r\n\r\n");
    stream.write_all(&response).await
}

async fn serve(mut stream: TcpStream) -> Result<(), Box<dyn std::error::Error>> {
    stream.set_nodelay(true)?;
    upgrade(&mut stream).await?;
    let mut ws = FragmentCollector::new(WebSocket::after_handshake(stream, Role::Server));
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}
