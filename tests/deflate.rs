//! permessage-deflate (RFC 7692) on a connection: negotiation, the RFC's
//! byte examples, RSV1 rules, limits on the inflated size, and a client and
//! a server back to back, every input split at every byte.
#![cfg(feature = "deflate")]

mod common;
use common::*;
use wstate::DeflateConfig;
use wstate::{
    Accept, ClientRequest, CloseCode, Config, Connection, Error, Event, HandshakeError, Message,
    Polled, ProtocolError, Role,
};

fn request(offer: &str) -> Vec<u8> {
    format!(
        "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: {offer}\r\n\r\n"
    )
    .into_bytes()
}

/// A server that accepted `offer`; returns it and its 101 response.
fn server_accepting(config: Config, offer: &str) -> (Connection, String) {
    let mut s = Connection::server(config);
    let mut out = vec![];
    s.receive(&request(offer));
    match s.poll_event(&mut out) {
        Polled::Event(Event::Request(_), tx) => tx.accept(&Accept::new(), &mut out).unwrap(),
        other => panic!("{other:?}"),
    }
    (s, String::from_utf8(out).unwrap())
}

fn enabled() -> Config {
    Config::default().with_deflate(Some(DeflateConfig::default()))
}

fn deflate_server() -> Connection {
    server_accepting(enabled(), "permessage-deflate").0
}

fn extensions_line(response: &str) -> Option<&str> {
    response
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Extensions: "))
}

#[test]
fn the_101_says_exactly_what_the_server_will_do() {
    let table = [
        // (offer, answer)
        ("permessage-deflate", Some("permessage-deflate")),
        (
            "permessage-deflate; client_max_window_bits",
            Some("permessage-deflate"),
        ),
        (
            "permessage-deflate; server_no_context_takeover",
            Some("permessage-deflate; server_no_context_takeover"),
        ),
        (
            "permessage-deflate; server_max_window_bits=9",
            Some("permessage-deflate; server_max_window_bits=9"),
        ),
        (
            "permessage-deflate; server_max_window_bits=8",
            Some("permessage-deflate; server_max_window_bits=8"),
        ),
        // A bad offer is declined and the next one taken (RFC 7692 §5.1).
        (
            "permessage-deflate; server_max_window_bits=08, permessage-deflate; client_no_context_takeover",
            Some("permessage-deflate; client_no_context_takeover"),
        ),
        ("permessage-deflate; foo=1", None),
        ("x-webkit-deflate-frame", None),
    ];
    for (offer, answer) in table {
        let (s, response) = server_accepting(enabled(), offer);
        assert_eq!(extensions_line(&response), answer, "{offer}");
        assert_eq!(s.deflate().is_some(), answer.is_some(), "{offer}");
    }
    // Off by default: nothing negotiated whatever the offer.
    let (s, response) = server_accepting(Config::default(), "permessage-deflate");
    assert_eq!(extensions_line(&response), None);
    assert!(s.deflate().is_none());
}

#[test]
fn rfc_7692_hello_sent_with_context_takeover() {
    let mut s = deflate_server();
    let mut out = vec![];
    s.sender().send(Message::Text("Hello"), &mut out).unwrap();
    // §7.2.3.1: "Hello" compressed, RSV1 set.
    assert_eq!(out, [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    out.clear();
    s.sender().send(Message::Text("Hello"), &mut out).unwrap();
    // The second refers back to the first (level 1, the default: a stored
    // literal run is not needed; a length-5 distance-5 match is coded).
    assert_eq!(out, [0xc1, 0x04, 0x02, 0x13, 0x00, 0x00]);
    // At level 6, exactly §7.2.3.2's bytes.
    let config = Config::default().with_deflate(Some(DeflateConfig::default().with_level(6)));
    let mut s6 = server_accepting(config, "permessage-deflate").0;
    let mut out6 = vec![];
    s6.sender().send(Message::Text("Hello"), &mut out6).unwrap();
    out6.clear();
    s6.sender().send(Message::Text("Hello"), &mut out6).unwrap();
    assert_eq!(out6, [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
    // Ours decodes to "Hello" after the first (context takeover).
    let (mut c, _) = pair(DeflateConfig::default(), DeflateConfig::default());
    c.receive(&[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    c.receive(&[0xc1, 0x04, 0x02, 0x13, 0x00, 0x00]);
    let hello = Some(Owned::Text("Hello".into()));
    assert_eq!(poll(&mut c, &mut vec![]), Ok(hello.clone()));
    assert_eq!(poll(&mut c, &mut vec![]), Ok(hello));
    out.clear();
    // §7.2.3.6: an empty message is the single byte 0x00.
    s.sender().send(Message::Binary(b""), &mut out).unwrap();
    assert_eq!(out, [0xc2, 0x01, 0x00]);
    // Control frames are never compressed.
    out.clear();
    s.sender().send(Message::Ping(b"Hello"), &mut out).unwrap();
    assert_eq!(out, s2c(0x89, b"Hello"));
}

#[test]
fn rfc_7692_examples_received_at_every_split() {
    let one = c2s(0xc1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    // §7.2.3.1 in two fragments: RSV1 on the first only.
    let mut two = c2s(0x41, &[0xf2, 0x48, 0xcd]);
    two.extend(c2s(0x80, &[0xc9, 0xc9, 0x07, 0x00]));
    // §7.2.3.2: context takeover.
    let again = c2s(0xc1, &[0xf2, 0x00, 0x11, 0x00, 0x00]);
    // §7.2.3.3: a stored (uncompressed) block.
    let stored = c2s(
        0xc1,
        &[
            0x00, 0x05, 0x00, 0xfa, 0xff, b'H', b'e', b'l', b'l', b'o', 0x00,
        ],
    );
    // §7.2.3.5: two blocks; §7.2.3.4: a final block (BFINAL) is legal.
    let blocks = c2s(
        0xc1,
        &[
            0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
        ],
    );
    let bfinal = c2s(0xc1, &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]);
    // A plain message on a deflate connection, and an empty compressed one.
    let plain = c2s(0x81, b"plain");
    let empty = c2s(0xc2, &[0x00]);
    let input = [one, two, again, stored, blocks, bfinal, plain, empty].concat();
    let t = invariant(deflate_server, &input, false);
    let hello = Owned::Text("Hello".into());
    assert_eq!(
        t.events,
        [
            hello.clone(),
            hello.clone(),
            hello.clone(),
            hello.clone(),
            hello.clone(),
            hello,
            Owned::Text("plain".into()),
            Owned::Binary(vec![])
        ]
    );
    assert!(t.out.is_empty());
}

#[test]
fn rsv1_where_it_may_not_be() {
    let table: [(&str, Vec<u8>); 5] = [
        (
            "on a continuation",
            [c2s(0x41, &[0xf2, 0x48]), c2s(0xc0, &[0xcd])].concat(),
        ),
        ("on a Ping", c2s(0xc9, b"")),
        ("on a Close", c2s(0xc8, &[0x03, 0xe8])),
        ("RSV2", c2s(0xa1, &[0x00])),
        ("RSV3", c2s(0x91, &[0x00])),
    ];
    for (what, input) in table {
        let t = invariant(deflate_server, &input, false);
        assert_eq!(
            t.events,
            [Owned::Error(Error::Protocol(ProtocolError::ReservedBits))],
            "{what}"
        );
        assert_eq!(t.out, server_close(1002, "reserved bits set"), "{what}");
    }
    // Not negotiated: RSV1 is a reserved bit like the others.
    let (s, _) = server_accepting(Config::default(), "permessage-deflate");
    let mut s = s;
    let mut out = vec![];
    s.receive(&c2s(0xc1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]));
    assert_eq!(
        poll(&mut s, &mut out),
        Err(Error::Protocol(ProtocolError::ReservedBits))
    );
}

/// `n` zeros compressed, as one compressed frame's payload.
fn zeros_compressed(n: usize) -> Vec<u8> {
    compressed(&vec![0; n])
}

/// `message` compressed (a fresh compressor), as one compressed frame's
/// payload.
fn compressed(message: &[u8]) -> Vec<u8> {
    let mut s = deflate_server();
    let mut out = vec![];
    s.sender().send(Message::Binary(message), &mut out).unwrap();
    // Strip the server's frame header to get the payload.
    let len = out.len();
    let header = if len - 2 < 126 {
        2
    } else if len - 4 <= 0xffff {
        4
    } else {
        10
    };
    out[header..].to_vec()
}

#[test]
fn the_limit_applies_to_the_inflated_size() {
    let limit = 100_000;
    let make = || {
        let config = enabled().with_max_message_size(limit);
        server_accepting(config, "permessage-deflate").0
    };
    // Exactly the limit: accepted.
    let at = c2s(0xc2, &zeros_compressed(limit));
    let t = invariant(make, &at, false);
    assert_eq!(t.events, [Owned::Binary(vec![0; limit])]);
    // One more byte: 1009, although the frame is tiny.
    let over = c2s(0xc2, &zeros_compressed(limit + 1));
    assert!(over.len() < 1000);
    let t = invariant(make, &over, false);
    assert_eq!(
        t.events,
        [Owned::Error(Error::Protocol(
            ProtocolError::MessageTooLarge
        ))]
    );
    assert_eq!(t.out, server_close(1009, "message too large"));
    // A 1000:1 bomb in fragments: stopped at the limit too.
    let bomb = zeros_compressed(64 << 20);
    let mut input = vec![];
    for (i, piece) in bomb.chunks(4096).enumerate() {
        let b0 = match (i, (i + 1) * 4096 >= bomb.len()) {
            (0, _) => 0x42,
            (_, true) => 0x80,
            _ => 0x00,
        };
        input.extend(c2s(b0, piece));
    }
    let (_, t) = feed_chunks(make(), &[&input], false);
    assert_eq!(
        t.events,
        [Owned::Error(Error::Protocol(
            ProtocolError::MessageTooLarge
        ))]
    );
}

#[test]
fn corrupt_data_is_1007() {
    let t = invariant(deflate_server, &c2s(0xc1, &[0xff, 0xff, 0xff]), false);
    assert_eq!(
        t.events,
        [Owned::Error(Error::Protocol(
            ProtocolError::InvalidCompressedData
        ))]
    );
    assert_eq!(t.out, server_close(1007, "invalid compressed data"));
    // Compressed bytes that inflate to bad UTF-8 in a text message: 1007.
    let mut s = deflate_server();
    let mut out = vec![];
    s.sender()
        .send(Message::Binary(&[b'a', 0xff, b'b']), &mut out)
        .unwrap();
    let payload = out[2..].to_vec();
    let t = invariant(deflate_server, &c2s(0xc1, &payload), false);
    assert_eq!(
        t.events,
        [Owned::Error(Error::Protocol(ProtocolError::InvalidUtf8))]
    );
}

/// A compressed frame is inflated and checked as it arrives: corrupt data,
/// or text that inflates to bad UTF-8, fails the connection (1007) before
/// the rest of the frame is there (RFC 6455 §8.1 for text).
#[test]
fn a_compressed_frame_fails_before_it_ends() {
    // Header (2 + 2 + 4 mask bytes) and the first `n` payload bytes.
    let head_of = |b0, payload: &[u8], n: usize| c2s(b0, payload)[..8 + n].to_vec();
    let mut corrupt = vec![0xff; 3];
    corrupt.resize(10_000, 0);
    let t = invariant(deflate_server, &head_of(0xc2, &corrupt, 3), false);
    assert_eq!(
        t.events,
        [Owned::Error(Error::Protocol(
            ProtocolError::InvalidCompressedData
        ))]
    );
    assert_eq!(t.out, server_close(1007, "invalid compressed data"));
    // Text: "a", a byte that is never UTF-8, then 20 KB that do not
    // compress; only the first 1000 bytes of the compressed frame arrive.
    let mut text = vec![b'a', 0xff];
    let mut x = 12345u32;
    text.extend((0..20_000).map(|_| {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (x >> 16) as u8
    }));
    let payload = compressed(&text);
    assert!(payload.len() > 10_000);
    let (_, t) = feed_chunks(deflate_server(), &[&head_of(0xc1, &payload, 1000)], false);
    assert_eq!(
        t.events,
        [Owned::Error(Error::Protocol(ProtocolError::InvalidUtf8))]
    );
    assert_eq!(t.out, server_close(1007, "invalid UTF-8"));
}

/// A fixed-Huffman block that inflates to 1,001 zeros, then a symbol with
/// an invalid distance code in the payload's last byte.
const ZEROS_THEN_BAD_DISTANCE: [u8; 11] = [
    0x62, 0x60, 0x18, 0x05, 0xa3, 0x60, 0x14, 0x0c, 0x7b, 0x00, 0xfa,
];

/// Errors come in the order of the inflated bytes, whatever the split: a
/// message whose first `limit + 1` bytes inflate before its corrupt data
/// is over the limit (1009), one that fits is corrupt (1007). Whole, zlib
/// went on past its full output and found the bad symbol in the same call
/// (1007), while split before that byte the output reached the limit first
/// (1009). Both roles, text and binary.
#[test]
fn corrupt_data_past_the_limit_is_1009_however_split() {
    for (limit, error, close) in [
        (
            1000,
            ProtocolError::MessageTooLarge,
            (1009, "message too large"),
        ),
        (
            1001,
            ProtocolError::InvalidCompressedData,
            (1007, "invalid compressed data"),
        ),
    ] {
        let config = enabled().with_max_message_size(limit);
        for b0 in [0xc1, 0xc2] {
            let want = [Owned::Error(Error::Protocol(error))];
            let server = || server_accepting(config.clone(), "permessage-deflate").0;
            let t = invariant(server, &c2s(b0, &ZEROS_THEN_BAD_DISTANCE), false);
            assert_eq!(t.events, want, "server, limit {limit}, {b0:#x}");
            assert_eq!(t.out, server_close(close.0, close.1));
            let client = || connected(config.clone(), enabled()).0;
            let t = invariant(client, &s2c(b0, &ZEROS_THEN_BAD_DISTANCE), false);
            assert_eq!(t.events, want, "client, limit {limit}, {b0:#x}");
            // The same Close, masked with the key a client makes next.
            let mut close_frame = vec![];
            client()
                .sender()
                .close(CloseCode(close.0), close.1, &mut close_frame)
                .unwrap();
            assert_eq!(t.out, close_frame, "client, limit {limit}");
        }
    }
}

/// A client and a server with `client` / `server` deflate configurations,
/// connected: the handshake done, both open.
fn pair(client: DeflateConfig, server: DeflateConfig) -> (Connection, Connection) {
    connected(
        Config::default().with_deflate(Some(client)),
        Config::default().with_deflate(Some(server)),
    )
}

/// [`pair`] with whole configurations.
fn connected(client: Config, server: Config) -> (Connection, Connection) {
    let mut to_server = vec![];
    let mut c = Connection::client(
        &ClientRequest::new("h", "/"),
        fill_key,
        client,
        &mut to_server,
    )
    .unwrap();
    let mut s = Connection::server(server);
    s.receive(&to_server);
    let mut to_client = vec![];
    match s.poll_event(&mut to_client) {
        Polled::Event(Event::Request(_), tx) => tx.accept(&Accept::new(), &mut to_client).unwrap(),
        other => panic!("{other:?}"),
    }
    c.receive(&to_client);
    match c.poll_event(&mut vec![]) {
        Polled::Event(Event::Accepted(a), _) => {
            assert_eq!(a.deflate(), s.deflate().copied());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.deflate(), s.deflate());
    (c, s)
}

/// Sends `message` from `a` (as a whole or in `parts`), delivers it to `b`,
/// and returns what `b` got.
fn carry(a: &mut Connection, b: &mut Connection, message: &[u8], parts: usize) -> Owned {
    let mut wire = vec![];
    if parts <= 1 {
        a.sender()
            .send(Message::Binary(message), &mut wire)
            .unwrap();
    } else {
        let size = message.len().div_ceil(parts).max(1);
        let mut chunks: Vec<&[u8]> = message.chunks(size).collect();
        // At least a part and the one that finishes the message.
        while chunks.len() < 2 {
            chunks.push(b"");
        }
        for (i, chunk) in chunks.iter().enumerate() {
            let tx = a.sender();
            if i + 1 == chunks.len() {
                tx.finish(Message::Binary(chunk), &mut wire).unwrap();
            } else {
                tx.send_part(Message::Binary(chunk), &mut wire).unwrap();
            }
        }
    }
    b.receive(&wire);
    poll(b, &mut vec![]).unwrap().expect("a message")
}

#[test]
fn client_and_server_in_every_mode() {
    let text: Vec<u8> = (0..300_000u32)
        .flat_map(|i| format!("{{\"id\":{i},\"name\":\"item {}\"}},", i % 97).into_bytes())
        .take(1 << 20)
        .collect();
    let modes = [
        (
            "defaults",
            DeflateConfig::default(),
            DeflateConfig::default(),
        ),
        (
            "no context takeover both ways",
            DeflateConfig::default()
                .with_client_no_context_takeover(true)
                .with_server_no_context_takeover(true),
            DeflateConfig::default(),
        ),
        (
            "window bits 9",
            DeflateConfig::default()
                .with_client_max_window_bits(9)
                .with_server_max_window_bits(9),
            DeflateConfig::default(),
        ),
        (
            "server answers plainly",
            DeflateConfig::default(),
            DeflateConfig::default().with_compress_outgoing(false),
        ),
        (
            "level 9, small messages plain",
            DeflateConfig::default()
                .with_level(9)
                .with_min_compress_size(100),
            DeflateConfig::default()
                .with_level(9)
                .with_min_compress_size(100),
        ),
    ];
    for (mode, client, server) in modes {
        let (mut c, mut s) = pair(client, server);
        assert!(c.deflate().is_some(), "{mode}");
        for size in [0, 1, 50, 125, 126, 4096, 65_536, 1 << 20] {
            let m = &text[..size];
            for parts in [1, 3] {
                assert_eq!(
                    carry(&mut c, &mut s, m, parts),
                    Owned::Binary(m.to_vec()),
                    "{mode} c->s {size}/{parts}"
                );
                assert_eq!(
                    carry(&mut s, &mut c, m, parts),
                    Owned::Binary(m.to_vec()),
                    "{mode} s->c {size}/{parts}"
                );
            }
        }
        // And the closing handshake still works.
        let mut wire = vec![];
        c.sender().close(CloseCode::NORMAL, "", &mut wire).unwrap();
        s.receive(&wire);
        assert_eq!(
            poll(&mut s, &mut vec![]),
            Ok(Some(Owned::Close(1000, String::new())))
        );
    }
}

#[test]
fn compression_shrinks_repetitive_messages() {
    let (mut c, mut s) = pair(DeflateConfig::default(), DeflateConfig::default());
    let json = br#"{"type":"update","value":12345,"tags":["a","b","c"]}"#.repeat(50);
    let mut wire = vec![];
    c.sender()
        .send(
            Message::Text(std::str::from_utf8(&json).unwrap()),
            &mut wire,
        )
        .unwrap();
    assert!(
        wire.len() < json.len() / 10,
        "{} of {}",
        wire.len(),
        json.len()
    );
    assert_eq!(wire[0], 0xc1);
    s.receive(&wire);
    assert_eq!(
        poll(&mut s, &mut vec![]),
        Ok(Some(Owned::Text(String::from_utf8(json).unwrap())))
    );
}

#[test]
fn a_client_fails_on_an_answer_it_did_not_allow() {
    for (config, answer) in [
        // We offered nothing.
        (None, "permessage-deflate"),
        // A parameter we did not offer.
        (
            Some(DeflateConfig::default()),
            "permessage-deflate; client_max_window_bits",
        ),
        (Some(DeflateConfig::default()), "permessage-deflate; foo"),
        (
            Some(DeflateConfig::default()),
            "permessage-deflate, permessage-deflate",
        ),
        (Some(DeflateConfig::default()), "x-other"),
        (
            Some(DeflateConfig::default().with_server_max_window_bits(10)),
            "permessage-deflate; server_max_window_bits=11",
        ),
    ] {
        let mut request = vec![];
        let mut c = Connection::client(
            &ClientRequest::new("h", "/"),
            fill_key,
            Config::default().with_deflate(config),
            &mut request,
        )
        .unwrap();
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: {answer}\r\n\r\n",
            accept_for(&request)
        );
        c.receive(response.as_bytes());
        assert_eq!(
            poll(&mut c, &mut vec![]),
            Err(Error::Handshake(HandshakeError::UnexpectedExtension)),
            "{answer}"
        );
    }
}

#[test]
fn the_client_offer() {
    let mut request = vec![];
    Connection::client(
        &ClientRequest::new("h", "/"),
        fill_key,
        enabled(),
        &mut request,
    )
    .unwrap();
    let request = String::from_utf8(request).unwrap();
    assert_eq!(
        extensions_line(&request),
        Some("permessage-deflate; client_max_window_bits")
    );
}

/// A message sent in fragments is compressed too, RSV1 on its first frame
/// only (RFC 7692 §6.1); with `compress_outgoing` off, fragments go plain.
#[test]
fn fragments_are_compressed_with_rsv1_on_the_first() {
    let json = br#"{"type":"update","value":12345,"tags":["a","b","c"]}"#.repeat(60);
    let parts: Vec<&[u8]> = json.chunks(1000).collect();
    assert_eq!(parts.len(), 4);
    // The bytes on the wire, and each frame's first byte.
    let send = |c: &mut Connection| {
        let mut wire = vec![];
        let mut heads = vec![];
        for (i, part) in parts.iter().enumerate() {
            let at = wire.len();
            let text = std::str::from_utf8(part).unwrap();
            let tx = c.sender();
            if i + 1 == parts.len() {
                tx.finish(Message::Text(text), &mut wire).unwrap();
            } else {
                tx.send_part(Message::Text(text), &mut wire).unwrap();
            }
            heads.push(wire[at]);
        }
        (wire, heads)
    };
    let (mut c, mut s) = pair(DeflateConfig::default(), DeflateConfig::default());
    let (wire, heads) = send(&mut c);
    assert_eq!(heads, [0x41, 0x00, 0x00, 0x80]);
    assert!(
        wire.len() < json.len() / 4,
        "{} of {}",
        wire.len(),
        json.len()
    );
    s.receive(&wire);
    assert_eq!(
        poll(&mut s, &mut vec![]),
        Ok(Some(Owned::Text(String::from_utf8(json.clone()).unwrap())))
    );
    // Not compressing: plain fragments, every payload byte on the wire.
    let (mut c, _) = pair(
        DeflateConfig::default().with_compress_outgoing(false),
        DeflateConfig::default(),
    );
    let (wire, heads) = send(&mut c);
    assert_eq!(heads, [0x01, 0x00, 0x00, 0x80]);
    assert!(wire.len() > json.len());
}

/// A server made open with negotiated parameters takes the server's side of
/// them: with `server_no_context_takeover` (and the client's takeover left
/// on) its two identical messages compress to identical frames; the client
/// side of the same parameters keeps its window, so its second is shorter.
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
