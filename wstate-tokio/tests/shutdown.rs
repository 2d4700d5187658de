//! A server's graceful shutdown: `Shutdown::close_all` sends Close 1001 to
//! every live connection (the unsplit stream, and split halves whichever
//! is polled), once, and `Shutdown::wait` counts those that did not end.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use wstate::SendError;
use wstate_tokio::{
    CloseCode, CloseFrame, ConnectRequest, Error, Message, Options, Shutdown, WebSocket,
};

const REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Our Close 1001, no reason, as the server writes it.
const GOING_AWAY: [u8; 4] = [0x88, 0x02, 0x03, 0xe9];
/// The client's answer, masked with a zero key.
const GOING_AWAY_MASKED: [u8; 8] = [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe9];

/// Everything a test waits for is bounded.
const LIMIT: Duration = Duration::from_secs(5);

fn going_away() -> Message {
    Message::Close(Some(CloseFrame::new(CloseCode::GOING_AWAY)))
}

/// A server `WebSocket` watching `shutdown`, and the raw client end with
/// the `101` read off it.
async fn raw_pair(shutdown: &Shutdown) -> (WebSocket<DuplexStream>, DuplexStream) {
    let (mut client, server) = duplex(1 << 12);
    let accepting = Options::new().shutdown(shutdown).accept(server);
    client.write_all(REQUEST).await.unwrap();
    let ws = accepting.await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(client.read_u8().await.unwrap());
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    (ws, client)
}

/// A server and a client `WebSocket`, the server watching `shutdown`.
async fn pair(shutdown: &Shutdown) -> (WebSocket<DuplexStream>, WebSocket<DuplexStream>) {
    let (c, s) = duplex(1 << 12);
    let request = ConnectRequest::new("ws://a/").unwrap();
    let client_options = Options::new();
    let server_options = Options::new().shutdown(shutdown);
    let (client, server) = tokio::join!(
        client_options.connect_with(c, &request),
        server_options.accept(s)
    );
    (server.unwrap(), client.unwrap())
}

/// Reads to the end of the stream.
async fn read_all(stream: &mut DuplexStream) -> Vec<u8> {
    let mut rest = Vec::new();
    timeout(LIMIT, stream.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    rest
}

#[tokio::test]
async fn unsplit_stream_sends_1001_once_and_ends_on_the_peers_close() {
    let shutdown = Shutdown::new();
    let (mut ws, mut client) = raw_pair(&shutdown).await;
    assert_eq!(shutdown.live(), 1);
    let server = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(message) = ws.recv().await {
            got.push(message.unwrap());
        }
        got
    });
    tokio::task::yield_now().await;
    shutdown.close_all();
    let mut close = [0; 4];
    client.read_exact(&mut close).await.unwrap();
    assert_eq!(close, GOING_AWAY);
    // A message still in flight from the client is read, then its Close.
    client
        .write_all(&[0x81, 0x82, 0, 0, 0, 0, b'h', b'i'])
        .await
        .unwrap();
    client.write_all(&GOING_AWAY_MASKED).await.unwrap();
    // Nothing more from the server: its direction ends after the one Close.
    assert_eq!(read_all(&mut client).await, b"");
    let got = timeout(LIMIT, server).await.unwrap().unwrap();
    assert_eq!(got, [Message::text("hi"), going_away()]);
    assert_eq!(shutdown.wait(LIMIT).await, 0);
    assert_eq!(shutdown.live(), 0);
}

#[tokio::test]
async fn a_connection_closing_already_sends_no_second_close() {
    let shutdown = Shutdown::new();
    let (mut ws, mut client) = raw_pair(&shutdown).await;
    let server = tokio::spawn(async move { ws.close(CloseCode::NORMAL, "bye").await });
    let mut close = [0; 7];
    client.read_exact(&mut close).await.unwrap();
    assert_eq!(close, [0x88, 0x05, 0x03, 0xe8, b'b', b'y', b'e']);
    shutdown.close_all();
    // The client answers late: the server's `close` was waiting for it.
    tokio::time::sleep(Duration::from_millis(20)).await;
    client
        .write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8])
        .await
        .unwrap();
    assert_eq!(read_all(&mut client).await, b"");
    let answer = timeout(LIMIT, server).await.unwrap().unwrap().unwrap();
    assert_eq!(answer, Some(CloseFrame::new(CloseCode::NORMAL)));
    assert_eq!(shutdown.wait(LIMIT).await, 0);
}

#[tokio::test]
async fn split_reader_polled_writer_idle() {
    let shutdown = Shutdown::new();
    let (server, mut client) = pair(&shutdown).await;
    let (mut reader, mut writer) = server.split();
    let reading = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(message) = reader.recv().await {
            got.push(message.unwrap());
        }
        got
    });
    client.send(Message::text("before")).await.unwrap();
    tokio::task::yield_now().await;
    shutdown.close_all();
    // The client sees the 1001 (and answers it by itself).
    let message = timeout(LIMIT, client.recv()).await.unwrap();
    assert_eq!(message.unwrap().unwrap(), going_away());
    assert!(client.recv().await.is_none());
    let got = timeout(LIMIT, reading).await.unwrap().unwrap();
    assert_eq!(got, [Message::text("before"), going_away()]);
    // The writer, idle meanwhile, learns it on its next send.
    let late = writer.send(Message::text("late")).await;
    assert!(
        matches!(late, Err(Error::Send(SendError::Closed))),
        "{late:?}"
    );
    assert_eq!(shutdown.wait(LIMIT).await, 0);
}

#[tokio::test]
async fn split_writer_polled_reader_idle() {
    let shutdown = Shutdown::new();
    let (server, mut client) = pair(&shutdown).await;
    let (mut reader, mut writer) = server.split();
    // The writer sends until it is told to stop; nobody reads meanwhile.
    let writing = tokio::spawn(async move {
        let mut sent = 0u32;
        loop {
            match writer
                .send(Message::binary(sent.to_be_bytes().to_vec()))
                .await
            {
                Ok(()) => sent += 1,
                Err(e) => return (sent, e),
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    shutdown.close_all();
    let (sent, e) = timeout(LIMIT, writing).await.unwrap().unwrap();
    assert!(matches!(e, Error::Send(SendError::Closed)), "{e:?}");
    // The client gets every message in order, then the 1001.
    for i in 0..sent {
        let message = timeout(LIMIT, client.recv()).await.unwrap();
        assert_eq!(
            message.unwrap().unwrap(),
            Message::Binary(Bytes::copy_from_slice(&i.to_be_bytes()))
        );
    }
    // The reader has not been polled: the connection is live (the 1001 is
    // out, the client's answer unread), and a short wait says so.
    assert_eq!(shutdown.wait(Duration::from_millis(30)).await, 1);
    let reading = tokio::spawn(async move {
        let last = reader.recv().await.map(|m| m.unwrap());
        (last, reader.recv().await.is_none())
    });
    // The client gets the 1001 once the server closed the connection,
    // which the reader does on the client's answer.
    let message = timeout(LIMIT, client.recv()).await.unwrap();
    assert_eq!(message.unwrap().unwrap(), going_away());
    assert!(client.recv().await.is_none());
    let (last, then_none) = timeout(LIMIT, reading).await.unwrap().unwrap();
    assert_eq!(last, Some(going_away()));
    assert!(then_none);
    assert_eq!(shutdown.wait(LIMIT).await, 0);
}

#[tokio::test]
async fn a_peer_that_never_answers_ends_at_the_close_timeout() {
    let shutdown = Shutdown::new();
    let (client, server) = duplex(1 << 12);
    let config = wstate::Config::default().with_close_timeout(Some(Duration::from_millis(200)));
    let options = Options::new()
        .config(config)
        .linger(Duration::from_millis(50), 1024)
        .shutdown(&shutdown);
    let (mut client, accepting) = (client, options.accept(server));
    client.write_all(REQUEST).await.unwrap();
    let mut ws = accepting.await.unwrap();
    let serving =
        tokio::spawn(async move { ws.recv().await.map(|m| m.map_err(|e| e.to_string())) });
    tokio::task::yield_now().await;
    shutdown.close_all();
    // Not within 50 ms: the server waits for the client's Close.
    assert_eq!(shutdown.wait(Duration::from_millis(50)).await, 1);
    // Within the close timeout and the linger, it gives up.
    assert_eq!(shutdown.wait(LIMIT).await, 0);
    let ended = timeout(LIMIT, serving).await.unwrap().unwrap();
    assert!(ended.is_some(), "{ended:?}");
    // What the client saw: the 101, then the 1001, then the end.
    let seen = read_all(&mut client).await;
    assert!(seen.ends_with(&GOING_AWAY), "{seen:?}");
    assert!(seen.starts_with(b"HTTP/1.1 101 "));
}

#[tokio::test]
async fn handshakes_under_way_or_later_fail() {
    let shutdown = Shutdown::new();
    let (mut client, server) = duplex(1 << 12);
    let accepting = tokio::spawn(Options::new().shutdown(&shutdown).accept(server));
    tokio::task::yield_now().await;
    assert_eq!(shutdown.live(), 1);
    shutdown.close_all();
    let e = timeout(LIMIT, accepting)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&e, Error::Io(e) if e.kind() == io::ErrorKind::ConnectionAborted),
        "{e:?}"
    );
    assert_eq!(read_all(&mut client).await, b"");
    let (mut client, server) = duplex(1 << 12);
    client.write_all(REQUEST).await.unwrap();
    let later = Options::new().shutdown(&shutdown).accept(server).await;
    assert!(matches!(later, Err(Error::Io(_))), "{later:?}");
    assert_eq!(shutdown.wait(LIMIT).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_server_closes_every_connection() {
    let shutdown = Shutdown::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = Options::new().shutdown(&shutdown);
    let server = tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let accepting = options.accept(stream);
            tokio::spawn(async move {
                let mut ws = accepting.await?;
                while let Some(message) = ws.recv().await {
                    if let message @ Message::Text(_) = message? {
                        ws.send(message).await?;
                    }
                }
                Ok::<(), Error>(())
            });
        }
    });
    let url = format!("ws://{addr}/");
    let mut clients = Vec::new();
    for i in 0..3 {
        let stream = TcpStream::connect(addr).await.unwrap();
        let request = ConnectRequest::new(&url).unwrap();
        let mut ws = wstate_tokio::connect_with(stream, &request).await.unwrap();
        ws.send(Message::text(format!("{i}"))).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::text(format!("{i}"))
        );
        clients.push(ws);
    }
    assert_eq!(shutdown.live(), 3);
    shutdown.close_all();
    for ws in &mut clients {
        let message = timeout(LIMIT, ws.recv()).await.unwrap();
        assert_eq!(message.unwrap().unwrap(), going_away());
        assert!(ws.recv().await.is_none());
    }
    assert_eq!(shutdown.wait(LIMIT).await, 0);
    server.abort();
}
