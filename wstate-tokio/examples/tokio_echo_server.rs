//! Echo server, a task per connection: `tokio_echo_server [--current-thread] [ADDR]`
//! (default 127.0.0.1:9001). Ctrl-C: Close 1001 to every connection, 12 s at most to end.
use tokio::{net::TcpListener, runtime::Builder, signal::ctrl_c};
use wstate::{Event, Message};
use wstate_tokio::{Options, Reply, Shutdown};

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
    let mut runtime = match flags.is_empty() {
        true => Builder::new_multi_thread(),
        false => Builder::new_current_thread(),
    };
    let addr = addr.first().map_or("127.0.0.1:9001", |a| a);
    runtime.enable_all().build()?.block_on(serve(addr))
}

async fn serve(addr: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("tokio_echo_server on ws://{}", listener.local_addr()?);
    let shutdown = Shutdown::new();
    let options = Options::new().shutdown(&shutdown);
    for id in 1.. {
        let stream = tokio::select! {
            accepted = listener.accept() => accepted?.0,
            _ = ctrl_c() => break,
        };
        stream.set_nodelay(true)?;
        let accepting = options.accept(stream);
        tokio::spawn(async move {
            let mut ws = accepting.await?;
            // Echo while holding the event (no copy); the peer's Close last.
            let echo = |event: Event<'_>, reply: Reply<'_>| match event {
                Event::Text(text) => drop(reply.send(Message::Text(text))),
                Event::Binary(bytes) => drop(reply.send(Message::Binary(bytes))),
                Event::Close(frame) => println!("conn {id}: closed {}", frame.code.0),
                _ => {}
            };
            while let Some(event) = ws.next_event(echo).await {
                event.inspect_err(|e| println!("conn {id}: {e}"))?;
            }
            Ok::<(), wstate_tokio::Error>(())
        });
    }
    println!("Ctrl-C: Close 1001 to {} connection(s)", shutdown.live());
    shutdown.close_all();
    let left = shutdown.wait(std::time::Duration::from_secs(12)).await;
    println!("{left} connection(s) did not finish; tokio_echo_server stopped");
    Ok(())
}
