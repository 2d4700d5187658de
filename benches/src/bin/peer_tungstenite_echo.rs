//! Benchmark peer: an echo server on `tokio-tungstenite`, written the way
//! its documentation suggests (the read half forwarded into the write half,
//! which flushes whenever no further message is ready), on a current-thread
//! runtime like the other servers of the one-core comparison:
//! `cargo run --release --bin peer_tungstenite_echo [ADDR]` in `benches/`
//! (default 127.0.0.1:9001).

use std::io;

use futures_util::{StreamExt, TryStreamExt, future};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    println!(
        "peer_tungstenite_echo listening on ws://{}",
        listener.local_addr()?
    );
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(serve(stream));
    }
}

async fn serve(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (write, read) = ws.split();
    // Pings are answered and Closes replied to by tungstenite itself.
    let _ = read
        .try_filter(|m| future::ready(m.is_text() || m.is_binary()))
        .forward(write)
        .await;
}
