//! permessage-deflate on connections that give back their codec between
//! messages (`DeflateConfig::with_release`), and prepared messages sent to
//! many connections (`PreparedMessage`): exact bytes in both roles.
#![cfg(feature = "deflate")]

mod common;
use common::*;
use wstate::handshake::extensions::negotiate;
use wstate::{
    Config, Connection, DeflateConfig, DeflateParams, Message, PreparedMessage, Release, Role,
    SendError,
};

/// Messages that refer back into earlier ones, across every window size.
fn messages() -> Vec<Vec<u8>> {
    let text: Vec<u8> = (0..20_000u32)
        .flat_map(|i| format!("{{\"id\":{},\"name\":\"item {}\"}},", i % 1000, i % 97).into_bytes())
        .collect();
    [
        &text[..2048],
        &text[..2048],
        b"",
        &text[500..900],
        &text[..65_536],
        &text[1000..1100],
        &text[100_000..140_000],
    ]
    .iter()
    .map(|m| m.to_vec())
    .collect()
}

/// Both sides with `release`, negotiated from `offer`; every message goes
/// both ways, an idle moment (`shrink_buffers`) after each. Returns the
/// wire bytes each way, having checked every message arrived exactly.
fn conversation(release: Release, offer: &str) -> (Vec<u8>, Vec<u8>) {
    let config =
        Config::default().with_deflate(Some(DeflateConfig::default().with_release(release)));
    let params = negotiate([offer.as_bytes()], config.deflate().unwrap()).expect("accepted");
    let mut c =
        Connection::new_open_with_deflate(Role::client(fill_key), config.clone(), Some(params));
    let mut s = Connection::new_open_with_deflate(Role::Server, config, Some(params));
    let (mut up, mut down) = (vec![], vec![]);
    for m in messages() {
        up.extend_from_slice(&carry(&mut c, &mut s, &m, release));
        down.extend_from_slice(&carry(&mut s, &mut c, &m, release));
    }
    (up, down)
}

/// Sends `m` from `from` to `to`, checks it arrives, then an idle moment
/// on both; returns the wire bytes.
fn carry(from: &mut Connection, to: &mut Connection, m: &[u8], release: Release) -> Vec<u8> {
    let mut bytes = vec![];
    from.sender().send(Message::Binary(m), &mut bytes).unwrap();
    to.receive(&bytes);
    assert_eq!(
        poll(to, &mut vec![]),
        Ok(Some(Owned::Binary(m.to_vec()))),
        "{release:?}"
    );
    from.shrink_buffers();
    to.shrink_buffers();
    bytes
}

#[test]
fn release_round_trips_in_both_roles_at_every_window() {
    for bits in 9..=15 {
        for nct in [
            "",
            "; server_no_context_takeover; client_no_context_takeover",
        ] {
            let offer = format!(
                "permessage-deflate; server_max_window_bits={bits}; client_max_window_bits={bits}{nct}"
            );
            let kept = conversation(Release::Never, &offer);
            let idle = conversation(Release::WhenIdle, &offer);
            let each = conversation(Release::AfterMessage, &offer);
            // Released at the same points, the same bytes.
            assert_eq!(idle, each, "{offer}");
            if nct.is_empty() {
                // A rebuilt compressor may choose other matches; the ratio
                // stays within 1 %.
                for (a, b) in [(&kept.0, &idle.0), (&kept.1, &idle.1)] {
                    assert!(
                        b.len() * 100 <= a.len() * 101,
                        "{offer}: {} against {}",
                        b.len(),
                        a.len()
                    );
                }
            } else {
                assert_eq!(kept, idle, "{offer}");
            }
        }
    }
}

/// The default browser offer, the default policy: after one message each
/// way and an idle moment, the second message still refers back into the
/// first (context takeover kept across the release).
#[test]
fn context_takeover_survives_an_idle_moment() {
    let config = Config::default().with_deflate(Some(DeflateConfig::default()));
    assert_eq!(config.deflate().unwrap().release(), Release::WhenIdle);
    let offer = b"permessage-deflate; client_max_window_bits";
    let params = negotiate([&offer[..]], config.deflate().unwrap()).unwrap();
    let mut s = Connection::new_open_with_deflate(Role::Server, config, Some(params));
    let mut out = vec![];
    s.sender().send(Message::Text("Hello"), &mut out).unwrap();
    s.shrink_buffers();
    s.sender().send(Message::Text("Hello"), &mut out).unwrap();
    // The second "Hello" is one back-reference into the first (a fixed
    // block, length 5, distance 5), as a kept compressor sends it.
    let second = [0xc1, 0x04, 0x02, 0x13, 0x00, 0x00];
    assert_eq!(out, [&[0xc1, 0x07][..], &RFC_HELLO, &second].concat());
    let mut kept = Connection::new_open_with_deflate(
        Role::Server,
        Config::default().with_deflate(Some(DeflateConfig::default().with_release(Release::Never))),
        Some(params),
    );
    let mut same = vec![];
    for _ in 0..2 {
        kept.sender()
            .send(Message::Text("Hello"), &mut same)
            .unwrap();
    }
    assert_eq!(out, same);
}

// Prepared messages.

fn open(role: Role, deflate: Option<(DeflateConfig, &str)>) -> Connection {
    let Some((deflate, offer)) = deflate else {
        return Connection::new_open(role, Config::default());
    };
    let config = Config::default().with_deflate(Some(deflate));
    let params: DeflateParams = negotiate([offer.as_bytes()], config.deflate().unwrap()).unwrap();
    Connection::new_open_with_deflate(role, config, Some(params))
}

fn server(deflate: Option<(DeflateConfig, &str)>) -> Connection {
    open(Role::Server, deflate)
}

/// What `send` writes for `message` on a connection like `make()`'s, and
/// what `send_prepared` does, twice each (the second shows what the first
/// left behind).
fn both(
    make: impl Fn() -> Connection,
    message: Message<'_>,
    prepared: &PreparedMessage,
) -> (Vec<u8>, Vec<u8>) {
    let (mut a, mut b) = (make(), make());
    let (mut sent, mut shared) = (vec![], vec![]);
    for _ in 0..2 {
        a.sender().send(message, &mut sent).unwrap();
        b.sender().send_prepared(prepared, &mut shared).unwrap();
    }
    (sent, shared)
}

const RFC_HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

#[test]
fn prepared_uncompressed_is_the_plain_frame() {
    let hello = PreparedMessage::compressed(Message::Text("Hello"), 6, 15);
    assert_eq!(hello.compressed_len(), Some(7));
    let (sent, shared) = both(|| server(None), Message::Text("Hello"), &hello);
    assert_eq!(
        shared,
        [
            0x81, 0x05, b'H', b'e', b'l', b'l', b'o', 0x81, 0x05, b'H', b'e', b'l', b'l', b'o'
        ]
    );
    assert_eq!(shared, sent);
    // Under min_compress_size: plain too.
    let small = DeflateConfig::default().with_min_compress_size(6);
    let (sent, shared) = both(
        || {
            server(Some((
                small,
                "permessage-deflate; server_no_context_takeover",
            )))
        },
        Message::Text("Hello"),
        &hello,
    );
    assert_eq!(
        shared,
        [
            0x81, 0x05, b'H', b'e', b'l', b'l', b'o', 0x81, 0x05, b'H', b'e', b'l', b'l', b'o'
        ]
    );
    assert_eq!(shared, sent);
}

#[test]
fn prepared_compressed_is_shared_without_context_takeover() {
    let hello = PreparedMessage::compressed(Message::Text("Hello"), 6, 15);
    let level6 = DeflateConfig::default().with_level(6);
    let make = || {
        server(Some((
            level6,
            "permessage-deflate; server_no_context_takeover",
        )))
    };
    let (sent, shared) = both(make, Message::Text("Hello"), &hello);
    let frame: Vec<u8> = [&[0xc1, 0x07][..], &RFC_HELLO].concat();
    assert_eq!(shared, [frame.clone(), frame].concat());
    assert_eq!(shared, sent);
    // A window at least as large shares it too; a smaller one compresses.
    let at_9 = PreparedMessage::compressed(Message::Text("Hello"), 6, 9);
    let make = || {
        server(Some((
            level6,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9",
        )))
    };
    let (sent, shared) = both(make, Message::Text("Hello"), &at_9);
    assert_eq!(shared, sent);
}

/// A message of exactly `min_compress_size` bytes is compressed: the
/// compressed frame is shared, as `send` compresses it.
#[test]
fn prepared_at_min_compress_size_is_compressed() {
    let hello = PreparedMessage::compressed(Message::Text("Hello"), 6, 15);
    let five = DeflateConfig::default()
        .with_level(6)
        .with_min_compress_size(5);
    let make = || {
        server(Some((
            five,
            "permessage-deflate; server_no_context_takeover",
        )))
    };
    let (sent, shared) = both(make, Message::Text("Hello"), &hello);
    let frame: Vec<u8> = [&[0xc1, 0x07][..], &RFC_HELLO].concat();
    assert_eq!(shared, [frame.clone(), frame].concat());
    assert_eq!(shared, sent);
}

/// With the server's context takeover each connection compresses with its
/// own history: the second "Hello" refers back into the first.
#[test]
fn prepared_falls_back_with_context_takeover() {
    let hello = PreparedMessage::compressed(Message::Text("Hello"), 6, 15);
    let level6 = DeflateConfig::default().with_level(6);
    let make = || server(Some((level6, "permessage-deflate")));
    let (sent, shared) = both(make, Message::Text("Hello"), &hello);
    let first: Vec<u8> = [&[0xc1, 0x07][..], &RFC_HELLO].concat();
    assert_eq!(
        shared,
        [&first[..], &[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]].concat()
    );
    assert_eq!(shared, sent);
    // A window smaller than the prepared message's: compressed here.
    let text = "a".repeat(600) + &"b".repeat(10) + &"a".repeat(600);
    let wide = PreparedMessage::compressed(Message::Text(&text), 6, 15);
    let make = || {
        server(Some((
            level6,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9",
        )))
    };
    let (sent, shared) = both(make, Message::Text(&text), &wide);
    assert_eq!(shared, sent);
    // A prepared message built uncompressed is compressed by each
    // connection that compresses.
    let plain = PreparedMessage::new(Message::Text("Hello"));
    let make = || {
        server(Some((
            level6,
            "permessage-deflate; server_no_context_takeover",
        )))
    };
    let (sent, shared) = both(make, Message::Text("Hello"), &plain);
    assert_eq!(shared, [first.clone(), first].concat());
    assert_eq!(shared, sent);
}

/// A client masks the shared payload with its own key per frame.
#[test]
fn prepared_is_masked_per_client() {
    let hello = PreparedMessage::compressed(Message::Text("Hello"), 6, 15);
    let level6 = DeflateConfig::default().with_level(6);
    let offer = "permessage-deflate; client_no_context_takeover";
    for key in [[1u8, 2, 3, 4], [0x37, 0xfa, 0x21, 0x3d]] {
        let make = || {
            open(
                Role::client(move |b: &mut [u8]| b.copy_from_slice(&key[..b.len()])),
                Some((level6, offer)),
            )
        };
        let (sent, shared) = both(make, Message::Text("Hello"), &hello);
        let masked: Vec<u8> = RFC_HELLO
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        let frame: Vec<u8> = [&[0xc1, 0x87][..], &key, &masked].concat();
        assert_eq!(shared, [frame.clone(), frame].concat());
        assert_eq!(shared, sent);
    }
    // And the plain frame, uncompressed.
    let key = [9u8, 8, 7, 6];
    let mut c = open(
        Role::client(move |b: &mut [u8]| b.copy_from_slice(&key[..b.len()])),
        None,
    );
    let mut out = vec![];
    c.sender().send_prepared(&hello, &mut out).unwrap();
    let masked: Vec<u8> = b"Hello"
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect();
    assert_eq!(out, [&[0x81, 0x85][..], &key, &masked].concat());
}

#[test]
fn prepared_control_and_errors() {
    let ping = PreparedMessage::compressed(Message::Ping(b"hi"), 6, 15);
    assert_eq!(ping.compressed_len(), None);
    let mut s = server(Some((
        DeflateConfig::default(),
        "permessage-deflate; server_no_context_takeover",
    )));
    let mut out = vec![];
    s.sender().send_prepared(&ping, &mut out).unwrap();
    assert_eq!(out, [0x89, 0x02, b'h', b'i']);
    // 125 bytes, the most a control frame carries, go; 126 do not.
    let longest = PreparedMessage::new(Message::Ping(&[7; 125]));
    out.clear();
    s.sender().send_prepared(&longest, &mut out).unwrap();
    assert_eq!(out, [&[0x89, 0x7d][..], &[7; 125]].concat());
    let long = PreparedMessage::new(Message::Ping(&[0; 126]));
    assert_eq!(
        s.sender().send_prepared(&long, &mut out),
        Err(SendError::ControlPayloadTooLong)
    );
    assert_eq!((long.len(), long.is_empty()), (126, false));
    let empty = PreparedMessage::new(Message::Ping(b""));
    assert_eq!((empty.len(), empty.is_empty()), (0, true));
    s.sender().send_part(Message::Text("a"), &mut out).unwrap();
    let text = PreparedMessage::new(Message::Text("b"));
    assert_eq!(
        s.sender().send_prepared(&text, &mut out),
        Err(SendError::FragmentInProgress)
    );
    let mut handshaking = Connection::server(Config::default());
    assert_eq!(
        handshaking.sender().send_prepared(&text, &mut out),
        Err(SendError::NotOpen)
    );
}
