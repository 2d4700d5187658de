//! Echo server: `tokio_echo_server [--current-thread] [ADDR]` (default
//! 127.0.0.1:9001). Ctrl-C closes every connection with 1001, waits for
//! them at most 12 s, and exits.
use std::time::Duration;
use tokio::{net::TcpListener, sync::watch};
use wstate::{CloseCode, Event, Message};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a.starts_with('-') && a != "--current-thread") || args.len() > 2 {
        eprintln!("usage: tokio_echo_server [--current-thread] [ADDR]   (default 127.0.0.1:9001)");
        std::process::exit(2);
    }
    let current_thread = args.iter().any(|a| a == "--current-thread");
    let addr = args.into_iter().find(|a| !a.starts_with('-'));
    let mut runtime = match current_thread {
        true => tokio::runtime::Builder::new_current_thread(),
        false => tokio::runtime::Builder::new_multi_thread(),
    };
    runtime.enable_all().build()?.block_on(serve(addr.as_deref().unwrap_or("127.0.0.1:9001")))
}

async fn serve(addr: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("tokio_echo_server listening on ws://{}", listener.local_addr()?);
    let (stop, _) = watch::channel(false);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = tokio::signal::ctrl_c() => break,
        };
        stream.set_nodelay(true)?;
        let mut stopping = stop.subscribe();
        tokio::spawn(async move {
            let mut ws = wstate_tokio::accept(stream).await?;
            loop {
                tokio::select! {
                    // Echo while holding the event: no copy.
                    event = ws.next_event(|event, reply| match event {
                        Event::Text(text) => drop(reply.send(Message::Text(text))),
                        Event::Binary(bytes) => drop(reply.send(Message::Binary(bytes))),
                        _ => {}
                    }) => if event.transpose()?.is_none() { break },
                    _ = stopping.changed() => drop(ws.close(CloseCode::GOING_AWAY, "server shutting down").await?),
                }
            }
            drop(stopping);
            Ok::<(), wstate_tokio::Error>(())
        });
    }
    println!("Ctrl-C: closing {} connection(s) with 1001", stop.receiver_count());
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(12), stop.closed()).await;
    Ok(())
}
