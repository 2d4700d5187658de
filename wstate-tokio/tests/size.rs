//! What an idle connection costs in the caller's future.

use tokio::net::TcpStream;
use wstate_tokio::WebSocket;

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

/// The server runs on this thread (its allocations counted), the client on
/// another.
fn buffer_kept_then_given_back(large: usize) {
    use std::sync::mpsc;
    use std::time::Duration;
    use wstate::Event;
    use wstate_tokio::{ConnectRequest, Message};

    let (c, s) = tokio::io::duplex(2 * large);
    let (go, wait) = mpsc::channel::<()>();
    let client = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let request = ConnectRequest::new("ws://example.com/").unwrap();
            let mut ws = wstate_tokio::connect_with(c, &request).await.unwrap();
            let message = Message::Binary(vec![7; large].into());
            for pause in [true, false, false] {
                ws.send(message.clone()).await.unwrap();
                if pause {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                } else {
                    wait.recv().unwrap();
                }
            }
            ws.close(wstate::CloseCode::NORMAL, "").await.unwrap();
        });
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut server = runtime.block_on(wstate_tokio::accept(s)).unwrap();
    let length = |event: Event<'_>, _: wstate_tokio::Reply<'_>| match event {
        Event::Binary(bytes) => bytes.len(),
        _ => 0,
    };
    assert_eq!(
        runtime
            .block_on(server.next_event(length))
            .unwrap()
            .unwrap(),
        large
    );
    // 20 ms later: the buffer is still there.
    let (second, info) = measured(&runtime, server.next_event(length));
    assert_eq!(second.unwrap().unwrap(), large);
    assert!(info.bytes_total < large as u64 / 2, "{large}: {info:?}");
    // Quiet for 300 ms: given back (it held the whole message).
    let (quiet, info) = measured(&runtime, async {
        tokio::select! {
            event = server.next_event(length) => panic!("nothing was sent: {event:?}"),
            _ = tokio::time::sleep(Duration::from_millis(300)) => {}
        }
    });
    let () = quiet;
    assert!(info.bytes_current <= -(large as i64), "{large}: {info:?}");
    go.send(()).unwrap();
    let (third, info) = measured(&runtime, server.next_event(length));
    assert_eq!(third.unwrap().unwrap(), large);
    assert!(info.bytes_total >= large as u64, "{large}: {info:?}");
    go.send(()).unwrap();
    // The client's Close, answered.
    let end = runtime.block_on(server.next_event(length));
    assert_eq!(end.unwrap().unwrap(), 0);
    client.join().unwrap();
}
