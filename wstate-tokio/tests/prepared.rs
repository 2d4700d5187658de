//! A message prepared once, queued on the writing halves of several
//! connections: the frame built once reaches each peer byte for byte.

use std::future::poll_fn;
use std::pin::Pin;

use futures_sink::Sink;
use tokio::io::{AsyncReadExt, duplex};
use wstate::{Message as Core, PreparedMessage, Role};
use wstate_tokio::{Message, Options};

#[tokio::test]
async fn prepared_message_to_many_writers() {
    let hello = PreparedMessage::new(Core::Text("Hello"));
    let mut peers = Vec::new();
    let mut halves = Vec::new();
    for _ in 0..3 {
        let (ours, theirs) = duplex(1 << 10);
        let (reader, writer) = Options::default().open(ours, Role::Server).split();
        halves.push((reader, writer));
        peers.push(theirs);
    }
    for (_, writer) in &mut halves {
        poll_fn(|cx| Pin::new(&mut *writer).poll_ready(cx))
            .await
            .unwrap();
        writer.start_send_prepared(&hello).unwrap();
        // Queued, written by the flush.
        poll_fn(|cx| Pin::new(&mut *writer).poll_flush(cx))
            .await
            .unwrap();
    }
    for peer in &mut peers {
        let mut got = [0; 7];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(got, [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
    }
    // A closed connection refuses it, as `start_send` would.
    let (_, writer) = &mut halves[0];
    writer
        .close(wstate_tokio::CloseCode::NORMAL, "")
        .await
        .unwrap();
    assert!(writer.start_send_prepared(&hello).is_err());
    assert!(Pin::new(writer).start_send(Message::text("late")).is_err());
}
