//! What the small accessors and constructors promise, each checked against
//! a value the test chose (found by cargo-mutants: none of these was
//! asserted anywhere else).

mod common;
use common::*;
use wstate::{Config, Connection, Role};

#[test]
fn is_client_tells_the_roles_apart() {
    assert!(!server().is_client());
    assert!(!Connection::new_open(Role::Server, Config::default()).is_client());
    assert!(client().is_client());
    assert!(Connection::new_open(Role::client(fill_key), Config::default()).is_client());
}

#[test]
fn config_is_the_one_given() {
    let config = Config::default()
        .with_max_frame_size(1234)
        .with_max_message_size(5678)
        .with_retained_buffer(99);
    let conn = Connection::new_open(Role::Server, config.clone());
    assert_eq!(conn.config().max_frame_size(), 1234);
    assert_eq!(conn.config().max_message_size(), 5678);
    assert_eq!(conn.config().retained_buffer(), 99);
    let conn = server_with(config);
    assert_eq!(conn.config().max_frame_size(), 1234);
}

/// 64 bytes from the OS: all zero (or all one value) once in 2^504 tries.
#[cfg(feature = "getrandom")]
#[test]
fn os_entropy_fills_the_buffer() {
    let mut a = [0u8; 64];
    wstate::os_entropy(&mut a);
    assert!(a.iter().any(|&b| b != a[0]), "{a:?}");
    let mut b = [0u8; 64];
    wstate::os_entropy(&mut b);
    assert_ne!(a, b);
}

/// A server made open with negotiated parameters takes the server's side of
/// them: with `server_no_context_takeover` (and the client's takeover left
/// on) its two identical messages compress to identical frames; the client
/// side of the same parameters keeps its window, so its second is shorter.
#[cfg(feature = "deflate")]
#[test]
fn new_open_with_deflate_takes_its_own_side() {
    use wstate::DeflateConfig;
    use wstate::Message;
    use wstate::handshake::extensions::negotiate;
    let config = Config::default().with_deflate(Some(DeflateConfig::default()));
    let offer = b"permessage-deflate; server_no_context_takeover";
    let params = negotiate([&offer[..]], config.deflate().unwrap()).expect("accepted");
    assert!(params.server_no_context_takeover && !params.client_no_context_takeover);
    let text = "the same words, again and again and again";
    let frames = |role: Role| {
        let mut conn = Connection::new_open_with_deflate(role, config.clone(), Some(params));
        let (mut first, mut second) = (vec![], vec![]);
        conn.sender().send(Message::Text(text), &mut first).unwrap();
        conn.sender()
            .send(Message::Text(text), &mut second)
            .unwrap();
        (first, second)
    };
    let (first, second) = frames(Role::Server);
    assert_eq!(first[0], 0xC1, "compressed text");
    assert_eq!(first, second);
    let (first, second) = frames(Role::client(|b: &mut [u8]| b.fill(0)));
    assert!(second.len() < first.len(), "{first:x?} {second:x?}");
}

/// Keepalive with `any_data`: bytes from the peer postpone the Ping, an
/// empty read (nothing arrived) does not.
#[test]
fn an_empty_read_is_not_activity() {
    use core::time::Duration;
    use wstate::Keepalive;
    let ms = Duration::from_millis;
    let keepalive = Keepalive::new(ms(100), ms(50)).with_any_data(true);
    let run = |read: &[u8]| {
        let config = Config::default().with_keepalive(Some(keepalive.clone()));
        let mut conn = Connection::new_open(Role::Server, config);
        let mut out = vec![];
        conn.handle_timeout(ms(0), &mut out);
        conn.receive(read);
        conn.handle_timeout(ms(90), &mut out);
        conn.handle_timeout(ms(100), &mut out);
        out
    };
    let pinged = run(&[]);
    assert_eq!(pinged[..2], [0x89, 8], "{pinged:x?}");
    // The first byte of a frame is activity: no Ping at 100 ms.
    assert_eq!(run(&[0x82]), b"");
}

/// Bytes that come after the end of the stream was reported are not read:
/// the connection ends with 1006, the late frame is never an event.
#[test]
fn bytes_after_eof_are_ignored() {
    let mut conn = server();
    conn.receive(&c2s(0x81, b"early"));
    conn.receive_eof();
    conn.receive(&c2s(0x81, b"late"));
    let mut t = Transcript::default();
    drain(&mut conn, &mut t);
    assert_eq!(
        t.events,
        vec![
            Owned::Text("early".into()),
            Owned::Close(1006, String::new())
        ]
    );
}
