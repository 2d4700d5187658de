//! Receiving in parts (`Config::receive_parts`): parts are cut from what
//! has arrived, never inside a code point, never over the bound; their
//! concatenation is the message however the bytes are split; bad UTF-8
//! fails at once; limits hold at N and N+1; memory stays bounded by the
//! read and the part, not by the message.

mod common;
use common::*;
use wstate::{Config, Connection, Error, Event, Polled, ProtocolError, Role};

/// One received part, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Got {
    Text(String, bool),
    Binary(Vec<u8>, bool),
    Other(Owned),
    Error(Error),
}

fn parts_server(max_part: usize) -> Connection {
    let config = Config::default().with_receive_parts(Some(max_part));
    Connection::new_open(Role::Server, config)
}

/// Feeds `chunks`, polling after each, and returns every part and event.
fn run(mut conn: Connection, chunks: &[&[u8]]) -> (Vec<Got>, Vec<u8>) {
    let mut got = vec![];
    let mut out = vec![];
    for chunk in chunks {
        conn.receive(chunk);
        loop {
            match conn.poll_event(&mut out) {
                Polled::Event(Event::TextPart { part: t, last: fin }, _) => {
                    got.push(Got::Text(t.into(), fin))
                }
                Polled::Event(Event::BinaryPart { part: b, last: fin }, _) => {
                    got.push(Got::Binary(b.into(), fin))
                }
                Polled::Event(e, _) => got.push(Got::Other(own(e))),
                Polled::NeedMore | Polled::Done => break,
                Polled::Failed(e) => got.push(Got::Error(e)),
            }
        }
    }
    (got, out)
}

/// Joins consecutive parts into messages: what must not depend on the
/// chunking. Checks every part's size against the bound on the way.
fn messages(got: &[Got], max_part: usize) -> Vec<Got> {
    let mut all = vec![];
    let mut text = String::new();
    let mut binary = vec![];
    for g in got {
        match g {
            Got::Text(t, fin) => {
                assert!(t.len() <= max_part, "a part of {} bytes", t.len());
                text.push_str(t);
                if *fin {
                    all.push(Got::Text(std::mem::take(&mut text), true));
                }
            }
            Got::Binary(b, fin) => {
                assert!(b.len() <= max_part, "a part of {} bytes", b.len());
                binary.extend_from_slice(b);
                if *fin {
                    all.push(Got::Binary(std::mem::take(&mut binary), true));
                }
            }
            other => all.push(other.clone()),
        }
    }
    all
}

/// A short description of messages, for failures.
fn brief(m: &[Got]) -> String {
    let d: Vec<String> = m
        .iter()
        .map(|g| match g {
            Got::Text(t, _) => format!("Text({} bytes)", t.len()),
            Got::Binary(b, _) => format!("Binary({} bytes)", b.len()),
            other => format!("{other:?}"),
        })
        .collect();
    d.join(", ")
}

/// Feeds `input` whole, byte by byte and split at every point: the same
/// messages, events and output each time. Returns the messages.
fn invariant_parts(
    make: impl Fn() -> Connection,
    input: &[u8],
    max_part: usize,
) -> (Vec<Got>, Vec<u8>) {
    let (got, out) = run(make(), &[input]);
    let whole = messages(&got, max_part);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let (got, out1) = run(make(), &bytes);
    assert_eq!(messages(&got, max_part), whole, "byte by byte");
    assert_eq!(out1, out);
    let n = input.len();
    for split in (0..=n).filter(|&i| n <= 2048 || i % 97 == 0) {
        let (a, b) = input.split_at(split);
        let (got, out2) = run(make(), &[a, b]);
        let m = messages(&got, max_part);
        assert!(m == whole, "split at {split}: {}", brief(&m));
        assert_eq!(out2, out, "split at {split}");
    }
    (whole, out)
}

#[test]
fn parts_never_split_a_code_point() {
    let text = "aé€😀".repeat(40); // 1, 2, 3 and 4-byte characters
    for max_part in [4, 5, 7, 64] {
        let input = c2s(0x81, text.as_bytes());
        let (msgs, out) = invariant_parts(|| parts_server(max_part), &input, max_part);
        assert_eq!(msgs, [Got::Text(text.clone(), true)]);
        assert!(out.is_empty());
        // Each part on its own is valid UTF-8 (it is a &str) and within the bound.
        let bytes: Vec<&[u8]> = input.chunks(3).collect();
        let (got, _) = run(parts_server(max_part), &bytes);
        assert!(got.len() > 1);
    }
}

#[test]
fn a_code_point_across_fragments_is_carried() {
    // "😀" (f0 9f 98 80) split 1 / 2 / 1 across three frames, with a Ping
    // between the fragments.
    let input = [
        c2s(0x01, b"a\xf0"),
        c2s(0x89, b"p"),
        c2s(0x00, b"\x9f\x98"),
        c2s(0x80, b"\x80b"),
    ]
    .concat();
    let (msgs, out) = invariant_parts(|| parts_server(16), &input, 16);
    assert_eq!(
        msgs,
        [
            Got::Other(Owned::Ping(b"p".to_vec())),
            Got::Text("a😀b".into(), true)
        ]
    );
    assert_eq!(out, s2c(0x8a, b"p"));
    // Whole, the parts are exactly: "a", the ping, and "😀b": the code
    // point's first bytes wait until the frame that finishes it.
    let (got, _) = run(parts_server(16), &[&input]);
    assert_eq!(
        got,
        [
            Got::Text("a".into(), false),
            Got::Other(Owned::Ping(b"p".to_vec())),
            Got::Text("😀b".into(), true),
        ]
    );
}

/// Characters of 2, 3 and 4 bytes each cut after their first byte by a
/// frame boundary, the last one finished by the last frame's only bytes:
/// each is carried and handed out whole, and the message ends with it.
#[test]
fn every_character_length_carried_after_its_first_byte() {
    let input = [
        c2s(0x01, b"a\xc3"),
        c2s(0x00, b"\xa9\xe2"),
        c2s(0x00, b"\x82\xac\xf0"),
        c2s(0x80, b"\x9f\x98\x80"),
    ]
    .concat();
    let (msgs, out) = invariant_parts(|| parts_server(16), &input, 16);
    assert_eq!(msgs, [Got::Text("aé€😀".into(), true)]);
    assert!(out.is_empty());
    let (got, _) = run(parts_server(16), &[&input]);
    assert_eq!(
        got,
        [
            Got::Text("a".into(), false),
            Got::Text("é".into(), false),
            Got::Text("€".into(), false),
            Got::Text("😀".into(), true),
        ]
    );
}

/// "é😀" with the frame boundary after byte 4, inside the 😀: "é" is
/// handed out, the 😀's first two bytes are carried, and the next frame
/// finishes it. Exactly these parts, fed whole, byte by byte and split in
/// two anywhere. (Bounds under 4, which the builder raises, are tested in
/// `src/connection/parts.rs`.)
#[test]
fn a_code_point_across_fragments_with_the_smallest_part_bound() {
    let text = "é😀".as_bytes();
    let input = [c2s(0x01, &text[..4]), c2s(0x80, &text[4..])].concat();
    let want = vec![Got::Text("é".into(), false), Got::Text("😀".into(), true)];
    let mut feeds = vec![vec![&input[..]], input.chunks(1).collect()];
    for split in 0..=input.len() {
        let (a, b) = input.split_at(split);
        feeds.push(vec![a, b]);
    }
    for feed in feeds {
        let lens: Vec<usize> = feed.iter().map(|p| p.len()).collect();
        assert_eq!(
            run(parts_server(4), &feed),
            (want.clone(), vec![]),
            "{lens:?}"
        );
    }
}

#[test]
fn invalid_utf8_fails_at_once() {
    // The frame announces 1000 bytes; the bad byte is the 3rd.
    let mut frame = c2s(0x81, &[b'a'; 1000]);
    frame[6 + 2] ^= 0xff; // masked payload starts after 6 header... (2 + 4 key)
    let bad_at = 6 + 2 + 1;
    let (got, out) = run(parts_server(64), &[&frame[..bad_at]]);
    assert_eq!(
        got.last(),
        Some(&Got::Error(Error::Protocol(ProtocolError::InvalidUtf8)))
    );
    assert_eq!(out, server_close(1007, "invalid UTF-8"));
    // A message that ends inside a code point: 1007 too.
    let (got, _) = run(parts_server(64), &[&c2s(0x81, b"ab\xe2\x82")]);
    assert_eq!(
        got.last(),
        Some(&Got::Error(Error::Protocol(ProtocolError::InvalidUtf8)))
    );
}

#[test]
fn empty_messages_and_fragments() {
    let input = [
        c2s(0x81, b""),
        c2s(0x02, b""),
        c2s(0x00, b"x"),
        c2s(0x00, b""),
        c2s(0x80, b""),
    ]
    .concat();
    let (msgs, _) = invariant_parts(|| parts_server(8), &input, 8);
    assert_eq!(
        msgs,
        [
            Got::Text(String::new(), true),
            Got::Binary(b"x".to_vec(), true)
        ]
    );
    let (got, _) = run(parts_server(8), &[&input]);
    assert_eq!(
        got,
        [
            Got::Text(String::new(), true),
            Got::Binary(b"x".to_vec(), false),
            Got::Binary(vec![], true),
        ]
    );
}

#[test]
fn message_limit_at_n_and_n_plus_one() {
    let make = |limit| {
        move || {
            Connection::new_open(
                Role::Server,
                Config::default()
                    .with_receive_parts(Some(10))
                    .with_max_message_size(limit),
            )
        }
    };
    let at = [c2s(0x02, &[1; 60]), c2s(0x80, &[2; 40])].concat();
    let (msgs, _) = invariant_parts(make(100), &at, 10);
    assert_eq!(
        msgs,
        [Got::Binary([vec![1; 60], vec![2; 40]].concat(), true)]
    );
    let (msgs, out) = invariant_parts(make(99), &at, 10);
    assert_eq!(
        msgs.last(),
        Some(&Got::Error(Error::Protocol(ProtocolError::MessageTooLarge)))
    );
    assert_eq!(out, server_close(1009, "message too large"));
    // No limit at all.
    let (msgs, _) = invariant_parts(make(usize::MAX), &at, 10);
    assert_eq!(msgs.len(), 1);
    // Three fragments: the size so far is the sum of the first two.
    let (a, b, c) = (
        c2s(0x02, &[1; 30]),
        c2s(0x00, &[2; 30]),
        c2s(0x80, &[3; 40]),
    );
    let at = [a, b, c].concat();
    let (msgs, _) = invariant_parts(make(100), &at, 10);
    let whole = [vec![1; 30], vec![2; 30], vec![3; 40]].concat();
    assert_eq!(msgs, [Got::Binary(whole, true)]);
    let (msgs, out) = invariant_parts(make(99), &at, 10);
    assert_eq!(
        msgs.last(),
        Some(&Got::Error(Error::Protocol(ProtocolError::MessageTooLarge)))
    );
    assert_eq!(out, server_close(1009, "message too large"));
}

#[test]
fn memory_is_bounded_by_the_read_and_the_part() {
    // A 64 MiB binary message in one frame, read 64 KiB at a time, parts of
    // 16 KiB: the connection holds about a read, not the frame.
    let len = 64 << 20;
    let config = Config::default()
        .with_receive_parts(Some(16 << 10))
        .with_max_frame_size(usize::MAX)
        .with_max_message_size(usize::MAX);
    let mut conn = Connection::new_open(Role::Server, config);
    let mut head = vec![0x82, 0xff];
    head.extend((len as u64).to_be_bytes());
    head.extend(KEY);
    // Zeros, masked: the key's bytes over and over (a read is a multiple of 4).
    let read: Vec<u8> = KEY.iter().copied().cycle().take(64 << 10).collect();
    let mut out = vec![];
    let mut total = 0;
    let mut last_fin = false;
    // Counted by `allocation-counter`, this thread only: the most bytes
    // held at once while the whole message goes through.
    let info = allocation_counter::measure(|| {
        conn.receive(&head);
        let mut sent = 0;
        while sent < len {
            conn.receive(&read);
            sent += read.len();
            loop {
                match conn.poll_event(&mut out) {
                    Polled::Event(Event::BinaryPart { part: b, last: fin }, _) => {
                        assert!(b.iter().all(|&x| x == 0));
                        total += b.len();
                        last_fin = fin;
                    }
                    Polled::NeedMore => break,
                    other => panic!("{other:?}"),
                }
            }
        }
    });
    assert_eq!(total, len);
    assert!(last_fin);
    let peak = info.bytes_max;
    assert!(
        peak < 4 * (64 << 10),
        "peak {peak} bytes for a 64 MiB message"
    );
}

#[cfg(feature = "deflate")]
mod deflate {
    use super::*;
    use wstate::DeflateConfig;
    use wstate::{Accept, Message};

    fn server(max_part: usize, limit: usize) -> Connection {
        let config = Config::default()
            .with_receive_parts(Some(max_part))
            .with_max_message_size(limit)
            .with_deflate(Some(DeflateConfig::default()));
        let mut s = Connection::server(config);
        s.receive(
            b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
              Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
        );
        match s.poll_event(&mut vec![]) {
            Polled::Event(Event::Request(_), tx) => tx.accept(&Accept::new(), &mut vec![]).unwrap(),
            other => panic!("{other:?}"),
        }
        s
    }

    /// `message` as a client with deflate would send it.
    fn compressed(message: &str) -> Vec<u8> {
        let mut s = server(64, usize::MAX);
        let mut wire = vec![];
        s.sender().send(Message::Text(message), &mut wire).unwrap();
        // Re-frame as a masked client frame with RSV1.
        let payload = &wire[header_len(&wire)..];
        c2s(0xc1, payload)
    }

    fn header_len(frame: &[u8]) -> usize {
        match frame[1] & 0x7f {
            126 => 4,
            127 => 10,
            _ => 2,
        }
    }

    #[test]
    fn compressed_messages_in_parts() {
        let text = "héllo wörld 😀 ".repeat(2000);
        let input = [compressed(&text), compressed("second")].concat();
        let (msgs, out) = invariant_parts(|| server(100, usize::MAX), &input, 100);
        assert_eq!(
            msgs,
            [Got::Text(text, true), Got::Text("second".into(), true)]
        );
        assert!(out.is_empty());
    }

    /// A compressed message sent in fragments, each frame re-framed as a
    /// client's (masked): the server's inflater gets non-final frames
    /// whose first bytes inflate to nothing yet.
    #[test]
    fn compressed_fragments_in_parts() {
        let text = "héllo wörld 😀 ".repeat(200);
        let mut sender = server(64, usize::MAX);
        let mut wire = vec![];
        let pieces: Vec<&str> = vec![&text[..703], &text[703..1501], &text[1501..]];
        for (i, piece) in pieces.iter().enumerate() {
            let tx = sender.sender();
            if i + 1 == pieces.len() {
                tx.finish(Message::Text(piece), &mut wire).unwrap();
            } else {
                tx.send_part(Message::Text(piece), &mut wire).unwrap();
            }
        }
        let mut input = vec![];
        let mut rest = &wire[..];
        while !rest.is_empty() {
            let (head, len) = match rest[1] & 0x7f {
                126 => (4, usize::from(u16::from_be_bytes([rest[2], rest[3]]))),
                127 => unreachable!("small frames only"),
                n => (2, usize::from(n)),
            };
            input.extend(c2s(rest[0], &rest[head..head + len]));
            rest = &rest[head + len..];
        }
        assert_eq!(input[0], 0x41, "RSV1 on the first, not FIN");
        let (msgs, out) = invariant_parts(|| server(100, usize::MAX), &input, 100);
        assert_eq!(msgs, [Got::Text(text, true)]);
        assert!(out.is_empty());
    }

    /// A fixed-Huffman block that inflates to 1,001 zeros, then a symbol
    /// with an invalid distance code in the payload's last byte.
    const ZEROS_THEN_BAD_DISTANCE: [u8; 11] = [
        0x62, 0x60, 0x18, 0x05, 0xa3, 0x60, 0x14, 0x0c, 0x7b, 0x00, 0xfa,
    ];

    /// As whole messages: 1009 once `limit + 1` bytes inflate before the
    /// corrupt data, else 1007, whatever the split and the part bound
    /// (bounds below, at and above the 1,001 bytes).
    #[test]
    fn corrupt_data_past_the_limit_in_parts() {
        let input = c2s(0xc2, &ZEROS_THEN_BAD_DISTANCE);
        for max_part in [4, 100, 1000, 1001, 1002, 4096] {
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
                let (msgs, out) = invariant_parts(|| server(max_part, limit), &input, max_part);
                assert_eq!(
                    msgs,
                    [Got::Error(Error::Protocol(error))],
                    "{max_part} {limit}"
                );
                assert_eq!(out, server_close(close.0, close.1));
            }
        }
    }

    /// A frame's inflated bytes, and any corrupt data in them, come before
    /// anything of the next frame, whatever the split: here the output
    /// fills a part exactly, then corrupt data; a frame with RSV2 (1002)
    /// follows. Whole, the part was handed out, the frame dropped as used
    /// up, and the next header failed the connection with 1002; split,
    /// 1007.
    #[test]
    fn a_frame_is_inflated_to_its_end_before_the_next_header() {
        let bad_next = c2s(0xa0, b"");
        let input = [c2s(0x42, &ZEROS_THEN_BAD_DISTANCE), bad_next].concat();
        for max_part in [1001, 1002] {
            let (msgs, out) = invariant_parts(|| server(max_part, 1 << 20), &input, max_part);
            let corrupt = ProtocolError::InvalidCompressedData;
            assert_eq!(msgs, [Got::Error(Error::Protocol(corrupt))], "{max_part}");
            assert_eq!(out, server_close(1007, "invalid compressed data"));
            // Fed whole: the zeros in one part if they fill it, then the
            // error; with room left, the error at once.
            let (got, _) = run(server(max_part, 1 << 20), &[&input]);
            let mut want = vec![Got::Error(Error::Protocol(corrupt))];
            if max_part == 1001 {
                want.insert(0, Got::Binary(vec![0; 1001], false));
            }
            assert!(got == want, "{max_part}: {}", brief(&got));
        }
    }

    /// Fixed-Huffman symbols that inflate to 524 bytes, then a distance
    /// further back than anything inflated, in the last byte.
    const DISTANCE_TOO_FAR_BACK: [u8; 15] = [
        0x62, 0x60, 0x18, 0x05, 0xa3, 0x60, 0xde, 0xc2, 0xc8, 0x05, 0xde, 0xc2, 0xc8, 0x05, 0xde,
    ];

    /// The first frame of a compressed message holds corrupt data that the
    /// inflater finds only once the output before it is out; a frame with a
    /// reserved opcode (1002) follows. As whole messages, 1007 however
    /// split: the parts reader took the inflater's last call, with its
    /// input used up, for one with nothing more to give, and moved on to
    /// the next header (1002) for most part bounds.
    #[test]
    fn corrupt_data_held_by_the_inflater_comes_before_the_next_frame() {
        let input = [c2s(0x42, &DISTANCE_TOO_FAR_BACK), c2s(0x8f, b"")].concat();
        let corrupt = Got::Error(Error::Protocol(ProtocolError::InvalidCompressedData));
        for max_part in [4, 7, 100, 523, 524, 525, 4096] {
            let (msgs, out) = invariant_parts(|| server(max_part, 1 << 20), &input, max_part);
            assert_eq!(msgs, std::slice::from_ref(&corrupt), "{max_part}");
            assert_eq!(out, server_close(1007, "invalid compressed data"));
        }
    }

    #[test]
    fn inflated_limit_in_parts() {
        let text = "z".repeat(10_000);
        let input = compressed(&text);
        let (msgs, _) = invariant_parts(|| server(100, 10_000), &input, 100);
        assert_eq!(msgs, [Got::Text(text.clone(), true)]);
        let (msgs, out) = invariant_parts(|| server(100, 9_999), &input, 100);
        assert_eq!(
            msgs.last(),
            Some(&Got::Error(Error::Protocol(ProtocolError::MessageTooLarge)))
        );
        assert_eq!(out, server_close(1009, "message too large"));
    }
}
