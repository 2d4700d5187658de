//! Echo server, one task per connection: `tokio_echo_server [--current-thread]
//! [ADDR]` (default 127.0.0.1:9001). Ctrl-C: Close 1001 to every connection,
//! at most 12 s of waiting for them, exit.
use std::time::Duration;
use tokio::{net::TcpListener, sync::watch};
use wstate::{CloseCode, Event, Message};

const USAGE: &str = "usage: tokio_echo_server [--current-thread] [ADDR]   (default 127.0.0.1:9001)";

fn main() -> std::io::Result<()> {
    let (flags, addr): (Vec<String>, Vec<String>) =
        std::env::args().skip(1).partition(|a| a.starts_with('-'));
    match (
        flags
            .iter()
            .find(|f| *f != "--current-thread")
            .map(String::as_str),
        addr.len(),
    ) {
        (Some("-h" | "--help"), _) => return Ok(println!("{USAGE}")),
        (Some(arg), _) => usage_error(&format!("unexpected argument {arg}")),
        (None, 2..) => usage_error("more than one address"),
        _ => {}
    }
    let mut runtime = match flags.is_empty() {
        true => tokio::runtime::Builder::new_multi_thread(),
        false => tokio::runtime::Builder::new_current_thread(),
    };
    runtime
        .enable_all()
        .build()?
        .block_on(serve(addr.first().map_or("127.0.0.1:9001", |a| a)))
}

fn usage_error(message: &str) -> ! {
    eprintln!("error: {message}\n{USAGE}");
    std::process::exit(2)
}

async fn serve(addr: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!(
        "tokio_echo_server listening on ws://{}",
        listener.local_addr()?
    );
    let (stop, mut ctrl_c) = (
        watch::channel(false).0,
        std::pin::pin!(tokio::signal::ctrl_c()),
    );
    for id in 1.. {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = &mut ctrl_c => break,
        };
        stream.set_nodelay(true)?;
        let mut stopping = stop.subscribe();
        tokio::spawn(async move {
            let end = async {
                let mut ws = wstate_tokio::accept(stream).await?;
                loop {
                    tokio::select! {
                        // Echo while holding the event: no copy.
                        event = ws.next_event(|event, reply| match event {
                            Event::Text(text) => drop(reply.send(Message::Text(text))),
                            Event::Binary(bytes) => drop(reply.send(Message::Binary(bytes))),
                            Event::Close(frame) => println!("conn {id}: {peer} closed {}", frame.code.0),
                            _ => {}
                        }) => if event.transpose()?.is_none() { return Ok(()) },
                        Ok(()) = stopping.changed() => {
                            let answer = ws.close(CloseCode::GOING_AWAY, "server shutting down").await?;
                            return Ok(println!("conn {id}: {peer} closed by us with 1001, answer {answer:?}"));
                        }
                    }
                }
            };
            if let Err(e) = end.await as Result<(), wstate_tokio::Error> {
                println!("conn {id}: {peer} {e}");
            }
            drop(stopping); // Only now: the server's "stopped" comes after the line above.
        });
    }
    println!(
        "Ctrl-C: closing {} connection(s) with 1001",
        stop.receiver_count()
    );
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(12), stop.closed()).await;
    Ok(println!("tokio_echo_server stopped"))
}
