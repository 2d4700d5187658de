//! Benchmark peer: an echo server on `fastwebsockets` 0.10, built the way
//! its own `examples/echo_server.rs` is:
//! `cargo run --release --bin peer_fastwebsockets_echo [ADDR]` in `benches/`
//! (default 127.0.0.1:9001).
//!
//! As in that example: a current-thread tokio runtime; hyper serves each
//! TCP connection and `fastwebsockets::upgrade` answers the upgrade; the
//! upgraded connection runs in its own task, wrapped in
//! `tokio::task::unconstrained` (no cooperative-budget yields); a
//! `FragmentCollector` reassembles messages, and auto-pong and auto-close
//! are on (fastwebsockets' defaults, set here explicitly). The only
//! differences: the address comes from the command line, `TCP_NODELAY` is
//! set (as every server in the loopback run does) and nothing is printed
//! per connection.

use fastwebsockets::{FragmentCollector, OpCode, WebSocketError, upgrade};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use tokio::net::TcpListener;

async fn handle_client(fut: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = fut.await?;
    ws.set_auto_pong(true);
    ws.set_auto_close(true);
    let mut ws = FragmentCollector::new(ws);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => break,
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
    Ok(())
}

async fn server_upgrade(
    mut req: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, fut) = upgrade::upgrade(&mut req)?;
    tokio::task::spawn(async move {
        let _ = tokio::task::unconstrained(handle_client(fut)).await;
    });
    Ok(response)
}

fn main() -> Result<(), WebSocketError> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async move {
        let listener = TcpListener::bind(&addr).await?;
        println!(
            "peer_fastwebsockets_echo listening on ws://{}",
            listener.local_addr()?
        );
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let conn_fut = http1::Builder::new()
                    .serve_connection(io, service_fn(server_upgrade))
                    .with_upgrades();
                let _ = conn_fut.await;
            });
        }
    })
}
