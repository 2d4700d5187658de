//! Echo server, one task per connection: `tokio_echo_server [--current-thread]
//! [ADDR]` (default 127.0.0.1:9001). Ctrl-C: Close 1001 to every connection,
//! at most 12 s of waiting for them, exit.
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::{runtime::Builder, signal::ctrl_c, sync::watch};
use wstate::{CloseCode, Event, Message};

const USAGE: &str = "usage: tokio_echo_server [--current-thread] [ADDR]   (default 127.0.0.1:9001)";

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (flags, addr): (Vec<&String>, Vec<&String>) = args.iter().partition(|a| a.starts_with('-'));
    if flags.iter().any(|f| *f == "-h" || *f == "--help") {
        println!("{USAGE}");
        return Ok(());
    } else if flags.iter().any(|f| *f != "--current-thread") || addr.len() > 1 {
        eprintln!("error: unexpected arguments {args:?}\n{USAGE}");
        std::process::exit(2);
    }
    let mut runtime = Builder::new_multi_thread();
    if !flags.is_empty() {
        runtime = Builder::new_current_thread();
    }
    let addr = addr.first().map_or("127.0.0.1:9001", |a| a);
    runtime.enable_all().build()?.block_on(serve(addr))
}

async fn serve(addr: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    println!("tokio_echo_server listening on ws://{local}");
    let (stop, mut ctrl_c) = (watch::channel(false).0, std::pin::pin!(ctrl_c()));
    for id in 1.. {
        let stream = tokio::select! {
            accepted = listener.accept() => accepted?.0,
            _ = &mut ctrl_c => break,
        };
        let mut stopping = stop.subscribe();
        tokio::spawn(async move {
            let end = match echo(stream, &mut stopping).await {
                Ok(code) => format!("closed {code}"),
                Err(e) => e.to_string(),
            };
            println!("conn {id}: {end}");
            drop(stopping); // Only now: "stopped" comes after this line.
        });
    }
    let open = stop.receiver_count();
    println!("Ctrl-C: closing {open} connection(s) with 1001");
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(12), stop.closed()).await;
    println!("tokio_echo_server stopped");
    Ok(())
}

/// Echoes every message until the peer closes, or `stop` says so (then our
/// Close 1001); returns the close code the connection ended with.
async fn echo(stream: TcpStream, stop: &mut watch::Receiver<bool>) -> wstate_tokio::Result<u16> {
    stream.set_nodelay(true)?;
    let mut ws = wstate_tokio::accept(stream).await?;
    let mut code = 0;
    loop {
        tokio::select! {
            // Echo while holding the event: no copy.
            event = ws.next_event(|event, reply| match event {
                Event::Text(text) => drop(reply.send(Message::Text(text))),
                Event::Binary(bytes) => drop(reply.send(Message::Binary(bytes))),
                Event::Close(frame) => code = frame.code.0,
                _ => {}
            }) => if event.transpose()?.is_none() { return Ok(code) },
            Ok(()) = stop.changed() => {
                let answer = ws.close(CloseCode::GOING_AWAY, "server shutting down").await?;
                return Ok(answer.map_or(1001, |frame| frame.code.0));
            }
        }
    }
}
