//! RFC 6455 §5.7 examples, byte for byte, in both directions.

mod common;
use common::*;
use wstate::{Config, Connection, Message, Role};

const HELLO_UNMASKED: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const HELLO_MASKED: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];
const HEL_LO_FRAGMENTED: [u8; 9] = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
const PING_HELLO_UNMASKED: [u8; 7] = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const PONG_HELLO_MASKED: [u8; 11] = [
    0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

#[test]
fn single_frame_unmasked_text_received_by_client() {
    let t = invariant(client, &HELLO_UNMASKED, false);
    assert_eq!(t.events, vec![Owned::Text("Hello".into())]);
    assert!(t.out.is_empty());
}

#[test]
fn single_frame_masked_text_received_by_server() {
    let t = invariant(server, &HELLO_MASKED, false);
    assert_eq!(t.events, vec![Owned::Text("Hello".into())]);
    assert!(t.out.is_empty());
}

#[test]
fn fragmented_unmasked_text_received_by_client() {
    let t = invariant(client, &HEL_LO_FRAGMENTED, false);
    assert_eq!(t.events, vec![Owned::Text("Hello".into())]);
}

#[test]
fn unmasked_ping_gets_masked_pong_from_client() {
    // The client answers the §5.7 ping with the §5.7 masked pong, because
    // its mask key is the example key.
    let t = invariant(client, &PING_HELLO_UNMASKED, false);
    assert_eq!(t.events, vec![Owned::Ping(b"Hello".to_vec())]);
    assert_eq!(t.out, PONG_HELLO_MASKED);
}

#[test]
fn server_sends_the_examples() {
    let mut server = server();
    let mut out = vec![];
    server
        .sender()
        .send(Message::Text("Hello"), &mut out)
        .unwrap();
    assert_eq!(out, HELLO_UNMASKED);
    out.clear();
    server
        .sender()
        .send_part(Message::Text("Hel"), &mut out)
        .unwrap();
    server
        .sender()
        .finish(Message::Text("lo"), &mut out)
        .unwrap();
    assert_eq!(out, HEL_LO_FRAGMENTED);
    out.clear();
    server
        .sender()
        .send(Message::Ping(b"Hello"), &mut out)
        .unwrap();
    assert_eq!(out, PING_HELLO_UNMASKED);
}

#[test]
fn client_sends_the_examples() {
    let mut client = client();
    let mut out = vec![];
    client
        .sender()
        .send(Message::Text("Hello"), &mut out)
        .unwrap();
    assert_eq!(out, HELLO_MASKED);
    out.clear();
    client
        .sender()
        .send(Message::Pong(b"Hello"), &mut out)
        .unwrap();
    assert_eq!(out, PONG_HELLO_MASKED);
}

#[test]
fn binary_256_and_64k_headers() {
    let mut server = Connection::new_open(Role::Server, Config::default());
    let mut out = vec![];
    server
        .sender()
        .send(Message::Binary(&[0xAB; 256]), &mut out)
        .unwrap();
    assert_eq!(out[..4], [0x82, 0x7E, 0x01, 0x00]);
    assert_eq!(out.len(), 4 + 256);
    out.clear();
    server
        .sender()
        .send(Message::Binary(&vec![0xCD; 65536]), &mut out)
        .unwrap();
    assert_eq!(out[..10], [0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
    assert_eq!(out.len(), 10 + 65536);
    // And the client receives them back intact.
    let t = invariant(client, &out, false);
    assert_eq!(t.events, vec![Owned::Binary(vec![0xCD; 65536])]);
}
