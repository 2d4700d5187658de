//! Messages in parts: an 8 MiB upload streamed through in parts with the
//! memory of a few parts, text parts both ways, and the misuse of parts as
//! typed errors.

use bytes::Bytes;
use tokio::io::{DuplexStream, duplex};
use wstate::{Config, SendError};
use wstate_tokio::{CloseCode, ConnectRequest, Error, Message, Options, WebSocket};

/// The upload's size, and the largest part the server takes.
const TOTAL: usize = 8 << 20;
const PART: usize = 16 << 10;
/// The parts the client sends.
const SENT_PART: usize = 64 << 10;

/// Byte `i` of the upload.
fn byte(i: usize) -> u8 {
    (i % 251) as u8
}

/// A connected pair over `tokio::io::duplex`: (client, server), the
/// server with `server_config`.
async fn pair(server_config: Config) -> (WebSocket<DuplexStream>, WebSocket<DuplexStream>) {
    let (c, s) = duplex(64 << 10);
    let request = ConnectRequest::new("ws://example.com/upload").unwrap();
    let (client, server) = tokio::join!(
        wstate_tokio::connect_with(c, &request),
        Options::new().config(server_config).accept(s)
    );
    (client.unwrap(), server.unwrap())
}

/// What the server received of the upload.
#[derive(Debug, Default, PartialEq)]
struct Received {
    bytes: usize,
    parts: usize,
    largest: usize,
    /// Every byte was the one sent at its place.
    exact: bool,
    /// The last part said so, and only it.
    ended: bool,
}

/// The client streams `TOTAL` bytes out in parts and closes; the server
/// checks each byte as it comes, holding nothing but the current item.
async fn upload(server_config: Config) -> Received {
    let (mut client, mut server) = pair(server_config).await;
    let send = async move {
        let mut offset = 0;
        while offset < TOTAL {
            let part: Bytes = (offset..offset + SENT_PART).map(byte).collect();
            offset += SENT_PART;
            let last = offset == TOTAL;
            client
                .send(Message::BinaryPart { part, last })
                .await
                .unwrap();
        }
        client.close(CloseCode::NORMAL, "").await.unwrap()
    };
    let receive = async move {
        let mut received = Received {
            exact: true,
            ..Received::default()
        };
        let mut check = |part: &[u8]| {
            let start = received.bytes;
            received.exact &= part.iter().enumerate().all(|(i, b)| *b == byte(start + i));
            received.bytes += part.len();
            received.parts += 1;
            received.largest = received.largest.max(part.len());
        };
        while let Some(message) = server.recv().await {
            match message.unwrap() {
                Message::BinaryPart { part, last } => {
                    assert!(!received.ended, "a part after the last one");
                    check(&part);
                    received.ended = last;
                }
                Message::Binary(whole) => {
                    check(&whole);
                    received.ended = true;
                }
                Message::Close(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        received
    };
    let (closed, received) = tokio::join!(send, receive);
    assert_eq!(closed.map(|frame| frame.code), Some(CloseCode::NORMAL));
    received
}

/// Runs `upload` on a runtime on this thread, counting what it allocates.
fn measured(server_config: Config) -> (Received, allocation_counter::AllocationInfo) {
    let mut received = None;
    let info = allocation_counter::measure(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        received = Some(runtime.block_on(upload(server_config)));
    });
    (received.unwrap(), info)
}

#[test]
fn an_8_mib_upload_streams_through_in_parts_with_bounded_memory() {
    let (received, info) = measured(Config::default().with_receive_parts(Some(PART)));
    assert_eq!(received.bytes, TOTAL);
    assert!(received.exact && received.ended, "{received:?}");
    assert!(received.parts >= TOTAL / PART, "{received:?}");
    assert!(received.largest <= PART, "{received:?}");
    // Both ends together, the runtime included: under 1 MiB at any time,
    // an eighth of the message.
    assert!(info.bytes_max < 1 << 20, "{info:?}");
}

#[test]
fn without_parts_the_same_upload_is_held_whole() {
    // The measure above can fail: the whole message is held once.
    let (received, info) = measured(Config::default());
    assert_eq!(
        received,
        Received {
            bytes: TOTAL,
            parts: 1,
            largest: TOTAL,
            exact: true,
            ended: true,
        }
    );
    assert!(info.bytes_max > TOTAL as u64, "{info:?}");
}

#[tokio::test]
async fn text_in_parts_arrives_whole_or_in_parts_never_inside_a_code_point() {
    // A server that takes whole messages gets the parts joined.
    let (mut client, mut server) = pair(Config::default()).await;
    for (part, last) in [("hé", false), ("", false), ("llo ✓", true)] {
        let part = part.into();
        client.send(Message::TextPart { part, last }).await.unwrap();
    }
    assert_eq!(
        server.recv().await.unwrap().unwrap(),
        Message::text("héllo ✓")
    );

    // One that takes parts of at most 4 bytes gets them cut at code
    // points: "✓" is 3 bytes and is never split.
    let (mut client, mut server) = pair(Config::default().with_receive_parts(Some(4))).await;
    client.send(Message::text("ab✓✓c")).await.unwrap();
    let mut parts = Vec::new();
    loop {
        match server.recv().await.unwrap().unwrap() {
            Message::TextPart { part, last } => {
                parts.push(part.as_str().to_owned());
                if last {
                    break;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(parts.concat(), "ab✓✓c");
    assert!(parts.iter().all(|p| p.len() <= 4), "{parts:?}");
}

#[tokio::test]
async fn misused_parts_are_typed_errors() {
    let (mut client, _server) = pair(Config::default()).await;
    // `last` without a message begun.
    let part = Bytes::from_static(b"x");
    assert!(matches!(
        client
            .send(Message::BinaryPart {
                part: part.clone(),
                last: true
            })
            .await,
        Err(Error::Send(SendError::NoMessageInProgress))
    ));
    client
        .send(Message::BinaryPart {
            part: part.clone(),
            last: false,
        })
        .await
        .unwrap();
    // A whole message, or a part of the other type, while it is open.
    assert!(matches!(
        client.send(Message::text("whole")).await,
        Err(Error::Send(SendError::FragmentInProgress))
    ));
    assert!(matches!(
        client
            .send(Message::TextPart {
                part: "t".into(),
                last: true
            })
            .await,
        Err(Error::Send(SendError::FragmentTypeMismatch))
    ));
    client
        .send(Message::BinaryPart { part, last: true })
        .await
        .unwrap();
}
