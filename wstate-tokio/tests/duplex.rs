//! Client and server back to back over `tokio::io::duplex`: exact messages
//! and close codes, the borrowing form, the Sink and Stream traits.

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use wstate::Event;
use wstate_tokio::{
    AcceptOptions, CloseCode, CloseFrame, ConnectRequest, Error, Message, Reject, WebSocket,
};

/// A connected pair: (client, server).
async fn pair() -> (WebSocket<DuplexStream>, WebSocket<DuplexStream>) {
    let (c, s) = duplex(1 << 16);
    let request = ConnectRequest::new("ws://example.com/chat").unwrap();
    let (client, server) = tokio::join!(
        wstate_tokio::connect_with(c, &request),
        wstate_tokio::accept(s)
    );
    (client.unwrap(), server.unwrap())
}

#[tokio::test]
async fn messages_and_close_codes_both_ways() {
    let (mut client, mut server) = pair().await;
    client.send(Message::text("hello")).await.unwrap();
    client
        .send(Message::binary(&b"\x00\x01"[..]))
        .await
        .unwrap();
    assert_eq!(
        server.recv().await.unwrap().unwrap(),
        Message::text("hello")
    );
    assert_eq!(
        server.recv().await.unwrap().unwrap(),
        Message::Binary(Bytes::from_static(b"\x00\x01"))
    );
    server
        .send(Message::Ping(Bytes::from_static(b"p")))
        .await
        .unwrap();
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::Ping(Bytes::from_static(b"p"))
    );
    // The client's Pong to it was queued and written by the client's recv.
    assert_eq!(
        server.recv().await.unwrap().unwrap(),
        Message::Pong(Bytes::from_static(b"p"))
    );
    let (closed, received) = tokio::join!(client.close(CloseCode::NORMAL, "bye"), async {
        let message = server.recv().await;
        (message, server.recv().await)
    });
    // The server saw our Close, then the end; the client got the echo of
    // its code.
    let (close, end) = received;
    assert_eq!(
        close.unwrap().unwrap(),
        Message::Close(CloseFrame::with_reason(CloseCode::NORMAL, "bye"))
    );
    assert!(end.is_none());
    assert_eq!(closed.unwrap(), Some(CloseFrame::new(CloseCode::NORMAL)));
    // Misuse after the end is a typed error.
    assert!(matches!(
        client.send(Message::text("late")).await,
        Err(Error::Send(wstate::SendError::Closed))
    ));
    assert!(client.recv().await.is_none());
}

#[tokio::test]
async fn exact_bytes_on_the_wire() {
    // A raw client: the server's 101, then its echo of a masked "Hello".
    let (mut raw, s) = duplex(1 << 16);
    let server = tokio::spawn(async move {
        let mut ws = wstate_tokio::accept(s).await.unwrap();
        let echo = ws
            .next_event(|event, reply| match event {
                Event::Text(text) => reply.send(wstate::Message::Text(text)),
                _ => panic!("not a text"),
            })
            .await;
        echo.unwrap().unwrap().unwrap();
        ws.recv().await
    });
    raw.write_all(
        b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    raw.write_all(&[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ])
    .await
    .unwrap();
    // A Close 1000 "", masked with a zero key.
    raw.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8])
        .await
        .unwrap();
    raw.shutdown().await.unwrap();
    let mut got = Vec::new();
    raw.read_to_end(&mut got).await.unwrap();
    let head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let mut expected = head.to_vec();
    expected.extend_from_slice(&[0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
    expected.extend_from_slice(&[0x88, 0x02, 0x03, 0xe8]);
    assert_eq!(got, expected);
    assert_eq!(
        server.await.unwrap().unwrap().unwrap(),
        Message::Close(Some(CloseFrame::new(CloseCode::NORMAL)))
    );
}

#[tokio::test]
async fn protocol_error_carries_the_close_code_and_our_close_is_written() {
    let (mut raw, s) = duplex(1 << 16);
    let server = tokio::spawn(async move {
        let mut ws = wstate_tokio::accept(s).await.unwrap();
        ws.recv().await
    });
    raw.write_all(
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    // An unmasked frame from a client: 1002.
    raw.write_all(&[0x81, 0x01, b'x']).await.unwrap();
    raw.shutdown().await.unwrap();
    let mut got = Vec::new();
    raw.read_to_end(&mut got).await.unwrap();
    let error = server.await.unwrap().unwrap().unwrap_err();
    assert_eq!(error.close_code(), Some(CloseCode::PROTOCOL_ERROR));
    assert!(matches!(error, Error::Protocol(wstate::Error::Protocol(_))));
    let mut close = vec![0x88, 23, 0x03, 0xea];
    close.extend_from_slice(b"unmasked client frame");
    assert!(got.ends_with(&close), "{got:?}");
}

#[tokio::test]
async fn accept_with_sees_the_request_and_rejects_with_a_status() {
    let (c, s) = duplex(1 << 16);
    let request = ConnectRequest::new("ws://example.com/private")
        .unwrap()
        .header("Origin", "https://evil.example");
    let (client, server) = tokio::join!(
        wstate_tokio::connect_with(c, &request),
        wstate_tokio::accept_with(s, |request| {
            assert_eq!(request.path(), "/private");
            assert_eq!(request.origin(), Some("https://evil.example"));
            Err(Reject::new(403).body("no"))
        })
    );
    assert!(matches!(server, Err(Error::Rejected { status: 403 })));
    let Err(Error::Protocol(wstate::Error::Handshake(wstate::HandshakeError::Rejected(response)))) =
        client
    else {
        panic!("{client:?}")
    };
    assert_eq!(response.status, 403);
}

#[tokio::test]
async fn subprotocol_chosen_from_the_offer() {
    let (c, s) = duplex(1 << 16);
    let request = ConnectRequest::new("ws://example.com/")
        .unwrap()
        .subprotocol("v2.chat")
        .subprotocol("v1.chat");
    let (client, server) = tokio::join!(
        wstate_tokio::connect_with(c, &request),
        wstate_tokio::accept_with(s, |request| {
            let offered: Vec<&str> = request.subprotocols().collect();
            assert_eq!(offered, ["v2.chat", "v1.chat"]);
            Ok(AcceptOptions::new()
                .subprotocol("v1.chat")
                .header("X-Server", "wstate"))
        })
    );
    assert_eq!(client.unwrap().subprotocol(), Some("v1.chat"));
    assert_eq!(server.unwrap().subprotocol(), Some("v1.chat"));
}

#[tokio::test]
async fn stream_and_sink() {
    use futures_core::Stream;
    use futures_sink::Sink;
    use std::future::poll_fn;
    use std::pin::Pin;
    let (mut client, mut server) = pair().await;
    for i in 0..3 {
        poll_fn(|cx| Pin::new(&mut client).poll_ready(cx))
            .await
            .unwrap();
        Pin::new(&mut client)
            .start_send(Message::text(format!("m{i}")))
            .unwrap();
    }
    poll_fn(|cx| Pin::new(&mut client).poll_flush(cx))
        .await
        .unwrap();
    for i in 0..3 {
        let next = poll_fn(|cx| Pin::new(&mut server).poll_next(cx)).await;
        assert_eq!(next.unwrap().unwrap(), Message::text(format!("m{i}")));
    }
    poll_fn(|cx| Pin::new(&mut client).poll_close(cx))
        .await
        .unwrap();
    // The server's Close comes once the connection ended: the client reads
    // the reply and ends too.
    let (close, reply) = tokio::join!(
        poll_fn(|cx| Pin::new(&mut server).poll_next(cx)),
        poll_fn(|cx| Pin::new(&mut client).poll_next(cx))
    );
    assert_eq!(
        close.unwrap().unwrap(),
        Message::Close(Some(CloseFrame::new(CloseCode::NORMAL)))
    );
    assert_eq!(
        reply.unwrap().unwrap(),
        Message::Close(Some(CloseFrame::new(CloseCode::NORMAL)))
    );
}

#[tokio::test]
async fn misuse_is_a_typed_error() {
    let (mut client, _server) = pair().await;
    let long = Bytes::from(vec![0; 126]);
    assert!(matches!(
        client.send(Message::Ping(long)).await,
        Err(Error::Send(wstate::SendError::ControlPayloadTooLong))
    ));
    assert!(matches!(
        client
            .send(Message::Close(Some(CloseFrame::new(CloseCode::ABNORMAL))))
            .await,
        Err(Error::Send(wstate::SendError::InvalidCloseCode(
            CloseCode::ABNORMAL
        )))
    ));
    client.send(Message::Close(None)).await.unwrap();
    assert!(matches!(
        client.send(Message::text("after")).await,
        Err(Error::Send(wstate::SendError::Closed))
    ));
}

/// Without a TLS implementation, `wss://` is refused before any connection
/// is tried (the port is one nothing listens on).
#[cfg(not(feature = "rustls"))]
#[tokio::test]
async fn wss_needs_the_rustls_feature() {
    let refused = wstate_tokio::connect("wss://127.0.0.1:9/").await;
    assert!(matches!(refused, Err(Error::TlsUnavailable)), "{refused:?}");
}
