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
