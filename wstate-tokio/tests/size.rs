//! What an idle connection costs in the caller's future.

use tokio::io::{AsyncWriteExt, DuplexStream};
use tokio::net::TcpStream;
use wstate::Event;
use wstate_tokio::{Reply, WebSocket};

#[test]
fn a_websocket_is_one_pointer() {
    // The connection lives behind one allocation, so a task that holds a
    // WebSocket across several `.await`s does not carry it inline (the
    // compiler would not overlap it with the handshake's future).
    assert_eq!(size_of::<WebSocket<TcpStream>>(), size_of::<usize>());
}

#[test]
fn the_handshake_future_holds_only_the_connection() {
    let (_, stream) = tokio::io::duplex(64);
    let accepting = wstate_tokio::accept(stream);
    assert!(
        size_of_val(&accepting) <= 6 * size_of::<usize>(),
        "{}",
        size_of_val(&accepting)
    );
}

/// Runs `f` to completion on `runtime`, counting what this thread
/// allocates meanwhile.
fn measured<T>(
    runtime: &tokio::runtime::Runtime,
    f: impl std::future::Future<Output = T>,
) -> (T, allocation_counter::AllocationInfo) {
    let mut value = None;
    let info = allocation_counter::measure(|| value = Some(runtime.block_on(f)));
    (value.unwrap(), info)
}

/// The length of a binary message, 0 for other events.
fn length(event: Event<'_>, _: Reply<'_>) -> usize {
    match event {
        Event::Binary(bytes) => bytes.len(),
        _ => 0,
    }
}

/// Writes `frame` as the client, and returns what the server received.
async fn message(
    client: &mut DuplexStream,
    server: &mut WebSocket<DuplexStream>,
    frame: &[u8],
) -> usize {
    client.write_all(frame).await.unwrap();
    server.next_event(length).await.unwrap().unwrap()
}

/// A masked binary frame of `len` bytes of 7, as a client sends it.
fn client_frame(len: usize) -> Vec<u8> {
    let key = [1, 2, 3, 4];
    let mut frame = vec![0x82];
    match len {
        0..=125 => frame.push(0x80 | len as u8),
        126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend((len as u16).to_be_bytes());
        }
        _ => {
            frame.push(0x80 | 127);
            frame.extend((len as u64).to_be_bytes());
        }
    }
    frame.extend(key);
    frame.extend((0..len).map(|i| 7 ^ key[i % 4]));
    frame
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// A server past its handshake over a duplex pipe of `capacity` bytes, the
/// client's end, and a runtime on this thread on tokio's paused clock: the
/// test writes the client's frames between the server's polls, so every
/// step is the same in every run, and only the server and the pipe
/// allocate.
fn opened(
    capacity: usize,
) -> (
    tokio::runtime::Runtime,
    DuplexStream,
    WebSocket<DuplexStream>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let (mut client, s) = tokio::io::duplex(capacity);
    runtime.block_on(client.write_all(REQUEST)).unwrap();
    let server = runtime.block_on(wstate_tokio::accept(s)).unwrap();
    (runtime, client, server)
}

/// Polls the server once; `true` if it waits (with nothing to read, it
/// goes idle).
fn poll_once(runtime: &tokio::runtime::Runtime, server: &mut WebSocket<DuplexStream>) -> bool {
    use std::future::{Future, poll_fn};
    use std::task::Poll;
    runtime.block_on(async {
        let mut next = std::pin::pin!(server.next_event(length));
        poll_fn(|cx| Poll::Ready(next.as_mut().poll(cx).is_pending())).await
    })
}

/// A large message grows the connection's receive buffer (read straight
/// into it at 1 MiB, copied in from the thread's buffer at 16 KiB). The
/// next one, after a short pause, reuses it; a connection that stays quiet
/// gives it back, and the message after that grows it again.
#[test]
fn a_quiet_connection_gives_back_the_buffer_of_a_large_message() {
    for large in [1 << 20, 16 << 10] {
        buffer_kept_then_given_back(large);
    }
}

fn buffer_kept_then_given_back(large: usize) {
    use std::time::Duration;

    let (runtime, mut client, mut server) = opened(4 * large);
    let frame = client_frame(large);
    assert_eq!(
        runtime.block_on(message(&mut client, &mut server, &frame)),
        large
    );
    assert!(poll_once(&runtime, &mut server));
    runtime.block_on(async { tokio::time::sleep(Duration::from_millis(20)).await });
    // 20 ms later: the buffer is still there.
    let (second, info) = measured(&runtime, message(&mut client, &mut server, &frame));
    assert_eq!(second, large);
    assert!(info.bytes_total < large as u64 / 2, "{large}: {info:?}");
    // Quiet for 300 ms: given back (it held the whole message).
    assert!(poll_once(&runtime, &mut server));
    runtime.block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });
    let mut idle = false;
    let info = allocation_counter::measure(|| idle = poll_once(&runtime, &mut server));
    assert!(idle);
    assert!(info.bytes_current <= -(large as i64), "{large}: {info:?}");
    let (third, info) = measured(&runtime, message(&mut client, &mut server, &frame));
    assert_eq!(third, large);
    assert!(info.bytes_total >= large as u64, "{large}: {info:?}");
}

/// A message that came in a read of 4 KiB or less (here exactly 4 KiB:
/// the frame's header and 4,088 bytes): its buffer is given back as soon
/// as the connection goes quiet, not kept for the next.
#[test]
fn a_small_message_s_buffer_is_given_back_at_once() {
    const SMALL: usize = (4 << 10) - 8;
    let (runtime, mut client, mut server) = opened(1 << 16);
    let frame = client_frame(SMALL);
    assert_eq!(
        runtime.block_on(message(&mut client, &mut server, &frame)),
        SMALL
    );
    let mut quiet = false;
    let info = allocation_counter::measure(|| quiet = poll_once(&runtime, &mut server));
    assert!(quiet);
    // The 4 KiB buffer freed (the poll arms the keepalive's timer, about
    // a hundred bytes).
    assert!(info.bytes_current < -(SMALL as i64) + 512, "{info:?}");
}

/// A message whose frame fits in the receive buffer an idle connection
/// keeps (128 bytes by default) is copied into that buffer: once the
/// connection is warm, receiving one and going quiet again allocates
/// nothing. A larger one's buffer is given back when the connection goes
/// quiet.
#[test]
fn a_small_message_allocates_nothing_once_warm() {
    let (runtime, mut client, mut server) = opened(1 << 16);
    let receive = |client: &mut DuplexStream, server: &mut WebSocket<DuplexStream>, frame| {
        let len = runtime.block_on(message(client, server, frame));
        assert!(poll_once(&runtime, server));
        len
    };
    // A 122-byte frame (2 bytes of header, the mask key, 116 of payload),
    // and a 208-byte one; each once, so that the pipe has grown for them.
    let small = client_frame(116);
    let large = client_frame(200);
    assert_eq!((small.len(), large.len()), (122, 208));
    assert_eq!(receive(&mut client, &mut server, &large), 200);
    for _ in 0..2 {
        assert_eq!(receive(&mut client, &mut server, &small), 116);
    }
    let mut len = 0;
    let info = allocation_counter::measure(|| len = receive(&mut client, &mut server, &small));
    assert_eq!(len, 116);
    assert_eq!((info.count_total, info.bytes_current), (0, 0), "{info:?}");
    // The kept buffer grows for the large frame (to twice its 122 bytes),
    // and is freed when the connection goes quiet.
    let info = allocation_counter::measure(|| len = receive(&mut client, &mut server, &large));
    assert_eq!(len, 200);
    assert_eq!(
        (info.count_total, info.bytes_current),
        (1, -122),
        "{info:?}"
    );
}
