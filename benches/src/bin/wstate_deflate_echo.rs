//! A tokio echo server over the core, written by hand like
//! `examples/tokio_custom_loop`, with the permessage-deflate knobs on the
//! command line, for `benches/deflate_echo.sh` and `scripts/deflate_memory.sh`:
//!
//! ```text
//! wstate_deflate_echo [ADDR] [--level 0..9] [--window-bits 9..15] [--no-context-takeover]
//!                     [--release never|when-idle|after-message] [--no-deflate]
//!                     [--read-buffer BYTES] [--shrink]
//! ```
//!
//! (default 127.0.0.1:9001, level 1, window bits 15, context takeover: the
//! example's `DeflateConfig::default()`.) `--window-bits` limits both
//! directions (`server_max_window_bits` and `client_max_window_bits` in
//! the answer); `--no-context-takeover` asks it of both sides; `--release`
//! sets `DeflateConfig::with_release`; `--no-deflate` declines
//! permessage-deflate (the same server without it, for
//! `scripts/deflate_memory.sh`); `--read-buffer` sizes each connection's
//! read buffer (default 64 KiB; `calloc` touches it all when it reuses
//! freed memory, so memory runs use a small one); `--shrink` gives back,
//! whenever the peer has sent nothing more, the buffers a large message
//! grew (`Connection::shrink_buffers` and the output buffer), so that an
//! idle connection holds only its state (with or without deflate: the
//! difference is the deflate state, for `scripts/deflate_memory.sh`). The same
//! loop as the example (read, feed, drain every event answering each in
//! place, one `write_all` per read), without its timeouts and graceful
//! stop: a benchmark peer, loopback addresses only.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wstate::{Accept, Config, Connection, Event, Message, Polled};
use wstate::{DeflateConfig, Release};

fn main() {
    let mut addr = "127.0.0.1:9001".to_string();
    let mut deflate = Some(DeflateConfig::default());
    let mut read_buffer = 64 << 10;
    let mut shrink = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> u8 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| fail(&format!("{name} needs a number")))
        };
        match arg.as_str() {
            "--level" => {
                let level = value("--level");
                deflate = deflate.map(|d| d.with_level(level));
            }
            "--window-bits" => {
                let bits = value("--window-bits");
                deflate = deflate.map(|d| {
                    d.with_server_max_window_bits(bits)
                        .with_client_max_window_bits(bits)
                });
            }
            "--no-context-takeover" => {
                deflate = deflate.map(|d| {
                    d.with_server_no_context_takeover(true)
                        .with_client_no_context_takeover(true)
                });
            }
            "--release" => {
                let release = match args.next().as_deref() {
                    Some("never") => Release::Never,
                    Some("when-idle") => Release::WhenIdle,
                    Some("after-message") => Release::AfterMessage,
                    _ => fail("--release needs never, when-idle or after-message"),
                };
                deflate = deflate.map(|d| d.with_release(release));
            }
            "--no-deflate" => deflate = None,
            "--shrink" => shrink = true,
            "--read-buffer" => {
                read_buffer = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n: &usize| n > 0)
                    .unwrap_or_else(|| fail("--read-buffer needs a number of bytes"));
            }
            a if a.starts_with('-') => fail(&format!("unknown option {a}")),
            _ => addr = arg,
        }
    }
    let host = addr.rsplit_once(':').map_or("", |(h, _)| h);
    if !(host.starts_with("127.") || host == "localhost" || host == "[::1]") {
        fail(&format!("loopback addresses only, not {addr}"));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let config = Config::default().with_deflate(deflate);
    if let Err(e) = runtime.block_on(run(&addr, config, read_buffer, shrink)) {
        fail(&e.to_string());
    }
}

fn fail(message: &str) -> ! {
    eprintln!("wstate_deflate_echo: {message}");
    std::process::exit(2);
}

async fn run(addr: &str, config: Config, read_buffer: usize, shrink: bool) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!(
        "wstate_deflate_echo listening on ws://{}",
        listener.local_addr()?
    );
    loop {
        let (stream, _) = listener.accept().await?;
        let config = config.clone();
        tokio::spawn(async move {
            let _ = serve(stream, config, read_buffer, shrink).await;
        });
    }
}

async fn serve(
    mut stream: TcpStream,
    config: Config,
    read_buffer: usize,
    shrink: bool,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut conn = Connection::server(config);
    let mut buf = vec![0; read_buffer];
    let mut out = Vec::new();
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            conn.receive_eof();
        } else {
            conn.receive(&buf[..n]);
        }
        let done = loop {
            match conn.poll_event(&mut out) {
                Polled::Event(Event::Request(_), tx) => {
                    tx.accept(&Accept::new(), &mut out)
                        .expect("a request is pending");
                }
                Polled::Event(Event::Text(text), tx) => {
                    let _ = tx.send(Message::Text(text), &mut out);
                }
                Polled::Event(Event::Binary(bytes), tx) => {
                    let _ = tx.send(Message::Binary(bytes), &mut out);
                }
                Polled::Event(..) | Polled::Failed(_) => {}
                Polled::NeedMore => break false,
                Polled::Done => break true,
            }
        };
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        if done || n == 0 {
            return stream.shutdown().await;
        }
        if shrink {
            conn.shrink_buffers();
            out.shrink_to(read_buffer);
        }
    }
}
