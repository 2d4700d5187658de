//! Owned halves in two tasks: messages both ways at once, and the
//! protocol's answers written while only the reader is polled.

use bytes::Bytes;
use tokio::io::duplex;
use wstate_tokio::{CloseCode, CloseFrame, ConnectRequest, Message, Options};

/// With feature `deflate`, both ends negotiate permessage-deflate.
fn options() -> Options {
    Options::default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn halves_in_two_tasks() {
    let (c, s) = duplex(1 << 12);
    let request = ConnectRequest::new("ws://example.com/").unwrap();
    let (client_options, server_options) = (options(), options());
    let (client, server) = tokio::join!(
        client_options.connect_with(c, &request),
        server_options.accept(s)
    );
    let (mut client, server) = (client.unwrap(), server.unwrap());
    assert_eq!(
        server.connection().deflate().is_some(),
        cfg!(feature = "deflate")
    );
    let (mut reader, mut writer) = server.split();
    // The writer sends 300 messages while the reader takes the client's
    // 300, each in its own task.
    let writing = tokio::spawn(async move {
        for i in 0..300 {
            writer
                .send(Message::text(format!("from server {i} {}", "x".repeat(i))))
                .await
                .unwrap();
        }
        writer
    });
    let reading = tokio::spawn(async move {
        let mut got = Vec::new();
        for _ in 0..300 {
            got.push(reader.recv().await.unwrap().unwrap());
        }
        (reader, got)
    });
    let mut from_server = Vec::new();
    for i in 0..300 {
        client
            .send(Message::binary(vec![i as u8; i]))
            .await
            .unwrap();
        // Read as we go so that neither side's buffers fill.
        while let Ok(Some(message)) =
            tokio::time::timeout(std::time::Duration::from_millis(1), client.recv()).await
        {
            from_server.push(message.unwrap());
        }
    }
    let (mut reader, got) = reading.await.unwrap();
    let expected: Vec<Message> = (0..300)
        .map(|i| Message::binary(vec![i as u8; i]))
        .collect();
    assert_eq!(got, expected);
    let mut writer = writing.await.unwrap();
    while from_server.len() < 300 {
        from_server.push(client.recv().await.unwrap().unwrap());
    }
    let expected: Vec<Message> = (0..300)
        .map(|i| Message::text(format!("from server {i} {}", "x".repeat(i))))
        .collect();
    assert_eq!(from_server, expected);

    // Only the reader is polled: the client's Ping is answered and its Close
    // replied to, in order.
    client
        .send(Message::Ping(Bytes::from_static(b"are you there")))
        .await
        .unwrap();
    let pong = tokio::spawn(async move {
        let pong = client.recv().await;
        let closed = client.close(CloseCode::NORMAL, "bye").await;
        (pong, closed)
    });
    assert_eq!(
        reader.recv().await.unwrap().unwrap(),
        Message::Ping(Bytes::from_static(b"are you there"))
    );
    assert_eq!(
        reader.recv().await.unwrap().unwrap(),
        Message::Close(CloseFrame::with_reason(CloseCode::NORMAL, "bye"))
    );
    assert!(reader.recv().await.is_none());
    let (pong, closed) = pong.await.unwrap();
    assert_eq!(
        pong.unwrap().unwrap(),
        Message::Pong(Bytes::from_static(b"are you there"))
    );
    assert_eq!(closed.unwrap(), Some(CloseFrame::new(CloseCode::NORMAL)));
    // The writer learns of the end as a typed error.
    assert!(matches!(
        writer.send(Message::text("late")).await,
        Err(wstate_tokio::Error::Send(wstate::SendError::Closed))
    ));
}
