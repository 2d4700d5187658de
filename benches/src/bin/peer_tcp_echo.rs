//! Benchmark peer: a raw TCP echo server on tokio (no WebSocket at all), the
//! floor for the loopback load test: `cargo run --release --bin
//! peer_tcp_echo [ADDR]` (default 127.0.0.1:9001). Drive it with
//! `loadgen --raw`, which skips the upgrade and accepts its own masked frames
//! echoed back. A current-thread runtime, like the fastwebsockets peer and
//! our tokio servers (`--current-thread`) in the one-core comparison.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(&addr).await?;
        println!("peer_tcp_echo listening on {}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(async move {
                let _ = serve(stream).await;
            });
        }
    })
}

async fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0; 64 << 10];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}
