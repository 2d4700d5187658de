//! A raw TCP echo on tokio, one task per connection, for
//! `scripts/many_connections.sh`: what an idle connection costs the runtime
//! alone (task, socket registration, allocator), without WebSocket.
//!
//! `many-tcp-echo [--buf BYTES] ADDR`: with `--buf 0` (the default) reads go
//! to a 64 KiB buffer per thread, as in `tokio_echo_server`, so a task holds
//! only its `TcpStream`; `--buf 8192` gives every connection its own read
//! buffer, allocated when it is accepted and kept while it is open (the
//! usual `let mut buf = vec![0; N]` echo).

use std::cell::RefCell;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

thread_local! {
    static READ: RefCell<Vec<u8>> = RefCell::new(vec![0; 64 << 10]);
}

fn main() {
    const USAGE: &str = "usage: many-tcp-echo [--buf BYTES] ADDR";
    let (mut addr, mut buf) = (None, 0usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--buf" => buf = args.next().and_then(|n| n.parse().ok()).expect(USAGE),
            _ if addr.is_none() => addr = Some(arg),
            _ => panic!("{USAGE}"),
        }
    }
    let addr = addr.expect(USAGE);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind(&addr).await.expect("bind");
        println!("many-tcp-echo listening on {}", listener.local_addr().unwrap());
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    eprintln!("accept: {e}");
                    continue;
                }
            };
            if buf == 0 {
                tokio::spawn(shared(stream));
            } else {
                tokio::spawn(own(stream, buf));
            }
        }
    });
}

/// Reads into this thread's buffer, writes each read back.
async fn shared(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    loop {
        let read = poll_fn(|cx| {
            READ.with_borrow_mut(|buf| {
                let mut rb = ReadBuf::new(buf);
                match Pin::new(&mut stream).poll_read(cx, &mut rb) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Ok(())) => Poll::Ready(Ok(rb.filled().to_vec())),
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                }
            })
        })
        .await;
        match read {
            Ok(bytes) if !bytes.is_empty() => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            _ => return,
        }
    }
}

/// Reads into a buffer of its own, kept while the connection is open.
async fn own(mut stream: TcpStream, size: usize) {
    use tokio::io::AsyncReadExt;
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0; size];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}
