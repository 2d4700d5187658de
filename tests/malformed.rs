//! Every class of bad input from the peer → the exact error, the exact
//! Close frame on the wire, and the same result however the bytes are split.

mod common;
use common::*;
use wstate::{CloseCode, Config, Connection, Error, Event, Polled, ProtocolError};

struct Case {
    name: &'static str,
    input: Vec<u8>,
    /// Events delivered before the failure.
    before: Vec<Owned>,
    error: ProtocolError,
    code: u16,
    reason: &'static str,
}

fn case(
    name: &'static str,
    input: Vec<u8>,
    error: ProtocolError,
    code: u16,
    reason: &'static str,
) -> Case {
    Case {
        name,
        input,
        before: vec![],
        error,
        code,
        reason,
    }
}

fn server_cases() -> Vec<Case> {
    use ProtocolError::*;
    let mut cases = vec![
        case(
            "rsv1 without extension",
            c2s(0xC1, b"x"),
            ReservedBits,
            1002,
            "reserved bits set",
        ),
        case(
            // Refused at its header: not when the payload is complete.
            "rsv1 without extension, before its payload",
            c2s(0xC1, b"hello")[..6].to_vec(),
            ReservedBits,
            1002,
            "reserved bits set",
        ),
        case(
            "rsv2",
            c2s(0xA1, b"x"),
            ReservedBits,
            1002,
            "reserved bits set",
        ),
        case(
            "rsv3 on ping",
            c2s(0x99, b""),
            ReservedBits,
            1002,
            "reserved bits set",
        ),
        case(
            "fragmented ping",
            c2s(0x09, b"x"),
            FragmentedControlFrame,
            1002,
            "fragmented control frame",
        ),
        case(
            "ping of 126 bytes",
            c2s(0x89, &[b'a'; 126]),
            ControlFrameTooLong,
            1002,
            "control frame too long",
        ),
        case(
            "continuation alone",
            c2s(0x80, b"x"),
            UnexpectedContinuation,
            1002,
            "continuation without a message",
        ),
        case(
            "new message inside fragmented",
            cat(&[c2s(0x01, b"a"), c2s(0x81, b"b")]),
            ExpectedContinuation,
            1002,
            "new message inside a fragmented message",
        ),
        case(
            "unmasked client frame",
            s2c(0x81, b"hi"),
            UnmaskedFrame,
            1002,
            "unmasked client frame",
        ),
        case(
            // Enough bytes behind it that its first payload bytes could pass
            // for a masking key.
            "unmasked client frame, more behind it",
            cat(&[s2c(0x82, b"hello"), c2s(0x82, b"next frame")]),
            UnmaskedFrame,
            1002,
            "unmasked client frame",
        ),
        case(
            "64-bit length with top bit",
            vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0],
            InvalidLength,
            1002,
            "invalid payload length",
        ),
        case(
            "16-bit length not minimal",
            vec![0x82, 0xFE, 0x00, 0x05],
            NonMinimalLength,
            1002,
            "payload length not minimally encoded",
        ),
        case(
            "invalid utf-8 text",
            c2s(0x81, &[b'a', 0xFF, b'b']),
            InvalidUtf8,
            1007,
            "invalid UTF-8",
        ),
        case(
            "text ends mid-character",
            c2s(0x81, &[0xCE]),
            InvalidUtf8,
            1007,
            "invalid UTF-8",
        ),
        case(
            "invalid utf-8 in second fragment",
            cat(&[c2s(0x01, "κό".as_bytes()), c2s(0x80, &[0xED, 0xA0, 0x80])]),
            InvalidUtf8,
            1007,
            "invalid UTF-8",
        ),
        case(
            "fragmented text ends mid-character",
            cat(&[c2s(0x01, &[0xCE]), c2s(0x80, b"")]),
            InvalidUtf8,
            1007,
            "invalid UTF-8",
        ),
        case(
            "invalid utf-8 in close reason",
            c2s(0x88, &[0x03, 0xE8, 0xFF]),
            InvalidUtf8,
            1007,
            "invalid UTF-8",
        ),
        case(
            "close payload of 1 byte",
            c2s(0x88, &[0x03]),
            InvalidClosePayload,
            1002,
            "invalid close payload",
        ),
    ];
    for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        cases.push(case(
            "reserved opcode",
            c2s(0x80 | op, b""),
            ReservedOpCode(op),
            1002,
            "reserved opcode",
        ));
    }
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        cases.push(case(
            "invalid close code",
            c2s(0x88, &close_payload(code, "")),
            InvalidCloseCode(code),
            1002,
            "invalid close code",
        ));
    }
    // A message that arrived whole before the bad frame is delivered first.
    cases.push(Case {
        name: "good message then bad frame",
        input: cat(&[c2s(0x81, b"ok"), c2s(0x82, b"\x01"), c2s(0xC1, b"x")]),
        before: vec![Owned::Text("ok".into()), Owned::Binary(vec![1])],
        error: ReservedBits,
        code: 1002,
        reason: "reserved bits set",
    });
    // A ping inside a fragmented message is answered before the failure.
    cases.push(Case {
        name: "ping inside fragments then bad continuation",
        input: cat(&[c2s(0x01, b"a"), c2s(0x89, b"p"), c2s(0x81, b"b")]),
        before: vec![Owned::Ping(b"p".to_vec())],
        error: ExpectedContinuation,
        code: 1002,
        reason: "new message inside a fragmented message",
    });
    cases
}

fn check(
    case: &Case,
    make: impl Fn() -> Connection,
    close_frame: impl Fn(&[u8]) -> Vec<u8>,
    prefix: &[u8],
) {
    let t = invariant(&make, &case.input, false);
    let mut events = case.before.clone();
    events.push(Owned::Error(Error::Protocol(case.error)));
    assert_eq!(t.events, events, "{}", case.name);
    assert_eq!(
        case.error.close_code(),
        CloseCode(case.code),
        "{}",
        case.name
    );
    let mut expected = prefix.to_vec();
    expected.extend(close_frame(&close_payload(case.code, case.reason)));
    assert_eq!(t.out, expected, "{}: output bytes", case.name);
}

#[test]
fn server_fails_with_exact_close() {
    for case in server_cases() {
        // The ping case queues a Pong before the Close.
        let prefix = if case.name.starts_with("ping inside") {
            s2c(0x8A, b"p")
        } else {
            vec![]
        };
        check(&case, server, |p| s2c(0x88, p), &prefix);
    }
}

#[test]
fn client_fails_with_exact_masked_close() {
    // A client refuses masked frames, and its Close is masked.
    let case = case(
        "masked server frame",
        c2s(0x81, b"hi"),
        ProtocolError::MaskedFrame,
        1002,
        "masked server frame",
    );
    check(&case, client, |p| c2s(0x88, p), &[]);
    let case = case_unmasked_utf8();
    check(&case, client, |p| c2s(0x88, p), &[]);
}

fn case_unmasked_utf8() -> Case {
    case(
        "client: invalid utf-8",
        s2c(0x81, &[0xC0, 0x80]),
        ProtocolError::InvalidUtf8,
        1007,
        "invalid UTF-8",
    )
}

#[test]
fn limits_fail_with_1009_before_buffering() {
    let small = || {
        server_with(
            Config::default()
                .with_max_frame_size(125)
                .with_max_message_size(175)
                .with_max_fragments(3),
        )
    };
    // Frame over the frame limit: refused from its header alone.
    let header_only = &c2s(0x82, &[0; 126])[..8];
    let t = invariant(small, header_only, false);
    assert_eq!(
        t.events,
        vec![Owned::Error(Error::Protocol(ProtocolError::FrameTooLarge))]
    );
    assert_eq!(t.out, s2c(0x88, &close_payload(1009, "frame too large")));

    // A 2^62-byte frame header at default limits: refused, nothing allocated.
    let mut conn = server();
    conn.receive(&[0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    let mut out = vec![];
    assert_eq!(
        poll(&mut conn, &mut out),
        Err(Error::Protocol(ProtocolError::FrameTooLarge))
    );

    // Message over the message limit, found at the second fragment's header.
    let input = cat(&[c2s(0x02, &[1; 125]), c2s(0x80, &[2; 51])[..8].to_vec()]);
    let t = invariant(small, &input, false);
    assert_eq!(
        t.events,
        vec![Owned::Error(Error::Protocol(
            ProtocolError::MessageTooLarge
        ))]
    );
    assert_eq!(t.out, s2c(0x88, &close_payload(1009, "message too large")));

    // Too many fragments, empty ones included.
    let input = cat(&[
        c2s(0x02, b""),
        c2s(0x00, b""),
        c2s(0x00, b""),
        c2s(0x80, b""),
    ]);
    let t = invariant(small, &input, false);
    assert_eq!(
        t.events,
        vec![Owned::Error(Error::Protocol(
            ProtocolError::TooManyFragments
        ))]
    );
    assert_eq!(t.out, s2c(0x88, &close_payload(1009, "too many fragments")));

    // Exactly at the limits is fine.
    let input = cat(&[c2s(0x02, &[1; 125]), c2s(0x00, &[2; 50]), c2s(0x80, b"")]);
    let t = invariant(small, &input, false);
    let mut expected = vec![1; 125];
    expected.extend([2; 50]);
    assert_eq!(t.events, vec![Owned::Binary(expected)]);
    assert!(t.out.is_empty());
}

#[test]
fn after_failure_nothing_in_nothing_out() {
    let mut conn = server();
    let mut out = vec![];
    conn.receive(&c2s(0xC1, b"x"));
    assert!(matches!(
        conn.poll_event(&mut out),
        wstate::Polled::Failed(_)
    ));
    let queued = out.clone();
    conn.receive(&c2s(0x81, b"more"));
    conn.receive(&c2s(0x89, b"ping"));
    assert!(is_done(&mut conn));
    assert_eq!(
        conn.sender().send(wstate::Message::Text("x"), &mut out),
        Err(wstate::SendError::Closed)
    );
    assert_eq!(
        conn.sender().close(CloseCode::NORMAL, "", &mut out),
        Err(wstate::SendError::Closed)
    );
    assert_eq!(out, queued);
    assert!(is_done(&mut conn));
    assert_eq!(
        conn.sent_close().map(|f| f.code),
        Some(CloseCode::PROTOCOL_ERROR)
    );
    assert_eq!(conn.state(), wstate::ConnectionState::Closed);
}

#[test]
fn failure_while_closing_sends_no_second_close() {
    let mut conn = server();
    let mut out = vec![];
    conn.sender()
        .close(CloseCode::GOING_AWAY, "", &mut out)
        .unwrap();
    assert_eq!(out, s2c(0x88, &close_payload(1001, "")));
    conn.receive(&c2s(0x81, &[0xFF]));
    assert_eq!(
        poll(&mut conn, &mut out),
        Err(Error::Protocol(ProtocolError::InvalidUtf8))
    );
    assert_eq!(out, s2c(0x88, &close_payload(1001, "")));
}

/// The message limit counts every byte of a text message, the start of a
/// character cut by a fragment boundary included: "abc" + half of 'é',
/// then its other half + "x" is 6 bytes (fine at 6, 1009 at 5), however
/// the bytes arrive.
#[test]
fn text_limit_counts_a_cut_character() {
    let e = "é".as_bytes();
    let input = cat(&[
        c2s(0x01, &[b'a', b'b', b'c', e[0]]),
        c2s(0x80, &[e[1], b'x']),
    ]);
    let limited =
        |limit: usize| move || server_with(Config::default().with_max_message_size(limit));
    let t = invariant(limited(6), &input, false);
    assert_eq!(t.events, vec![Owned::Text("abcéx".into())]);
    assert_eq!(t.out, b"");
    let t = invariant(limited(5), &input, false);
    assert_eq!(
        t.events,
        vec![Owned::Error(Error::Protocol(
            ProtocolError::MessageTooLarge
        ))]
    );
    assert_eq!(t.out, s2c(0x88, &close_payload(1009, "message too large")));
}

/// A text frame that arrives over several reads is checked as it comes:
/// the Close with 1007 is queued as soon as the bad byte is in, before the
/// rest of the frame, and a valid one arrives whole, in order, at every
/// split (the characters were moved out of the read buffer as they came).
#[test]
fn text_frame_over_several_reads() {
    let text = "κόσμε 😀 ".repeat(40);
    let frame = c2s(0x81, text.as_bytes());
    let t = invariant(server, &frame, false);
    assert_eq!(t.events, vec![Owned::Text(text.clone())]);
    // Bad byte in the middle: fails with only the first half received.
    let mut bad = text.clone().into_bytes();
    bad[100] = 0xFF;
    let frame = c2s(0x81, &bad);
    let half = &frame[..frame.len() / 2];
    let t = invariant(server, half, false);
    assert_eq!(
        t.events,
        vec![Owned::Error(Error::Protocol(ProtocolError::InvalidUtf8))]
    );
    assert_eq!(t.out, s2c(0x88, &close_payload(1007, "invalid UTF-8")));
    // Then a text message of three fragments, each cut mid-character.
    let bytes = text.as_bytes();
    let input = cat(&[
        c2s(0x01, &bytes[..7]),
        c2s(0x00, &bytes[7..301]),
        c2s(0x80, &bytes[301..]),
    ]);
    let t = invariant(server, &input, false);
    assert_eq!(t.events, vec![Owned::Text(text)]);
}

/// Text over several reads is checked in blocks of 4 KiB straight from the
/// caller's bytes: a 12 KB frame (characters cut at the block edges) with a
/// Ping right behind it arrives the same at every split and byte by byte;
/// a bad byte in its last block fails it (1007) with nothing delivered,
/// and so does one in a block taken after the first.
#[test]
fn long_text_over_several_reads() {
    let text = "aé€😀 ".repeat(1200); // 12,000 bytes
    let input = cat(&[c2s(0x81, text.as_bytes()), c2s(0x89, b"hi")]);
    let t = invariant(server, &input, false);
    assert_eq!(
        t.events,
        vec![Owned::Text(text.clone()), Owned::Ping(b"hi".to_vec())]
    );
    assert_eq!(t.out, s2c(0x8A, b"hi"));
    for bad_at in [11_990, 4_097, 4_095, 8_200] {
        let mut bad = text.clone().into_bytes();
        bad[bad_at] = 0xC0; // never valid
        let input = cat(&[c2s(0x81, &bad), c2s(0x89, b"hi")]);
        let t = invariant(server, &input, false);
        assert_eq!(
            t.events,
            vec![Owned::Error(Error::Protocol(ProtocolError::InvalidUtf8))],
            "bad byte at {bad_at}"
        );
        assert_eq!(t.out, s2c(0x88, &close_payload(1007, "invalid UTF-8")));
    }
}

#[test]
fn protocol_errors_display_what_broke() {
    use ProtocolError::*;
    // The Close reason is the bare description; Display adds the value
    // that was wrong where there is one.
    let cases = [
        (ReservedOpCode(0xB), "reserved opcode 0xb"),
        (InvalidCloseCode(1005), "invalid close code 1005"),
        (ReservedBits, "reserved bits set"),
        (NonMinimalLength, "payload length not minimally encoded"),
        (InvalidCompressedData, "invalid compressed data"),
    ];
    for (error, shown) in cases {
        assert_eq!(error.to_string(), shown);
    }
    assert_eq!(ReservedOpCode(0xB).description(), "reserved opcode");
    assert_eq!(
        Error::Protocol(MessageTooLarge).to_string(),
        "protocol error: message too large"
    );
}

/// RFC 6455 §8.1 ("fail fast"): invalid UTF-8 in the first bytes of a text
/// frame fails the connection with 1007 before the rest of the frame
/// arrives, in one frame and in a continuation.
#[test]
fn bad_utf8_fails_before_the_rest_of_the_frame() {
    let close = server_close(1007, "invalid UTF-8");
    let want = [Owned::Error(Error::Protocol(ProtocolError::InvalidUtf8))];
    // A 20-byte text frame of which the header and 3 bytes arrived, the
    // second of which can start no UTF-8 sequence.
    let payload = b"a\xffbcdefghijklmnopqrs";
    let whole = c2s(0x81, payload);
    let partial = &whole[..6 + 3];
    let t = invariant(server, partial, false);
    assert_eq!(t.events, want);
    assert_eq!(t.out, close);
    // A continuation: "é" split by a bad second byte, the rest missing.
    let mut input = c2s(0x01, b"ok");
    let cont = c2s(0x80, b"\xc3(and more text to come)");
    input.extend_from_slice(&cont[..6 + 2]);
    let t = invariant(server, &input, false);
    assert_eq!(t.events, want);
    assert_eq!(t.out, close);
    // A client receiving an unmasked frame: the same.
    let partial = &s2c(0x81, payload)[..2 + 3];
    let t = invariant(client, partial, false);
    assert_eq!(t.events, want);
    assert_eq!(t.out, c2s(0x88, &close_payload(1007, "invalid UTF-8")));
}

/// The memory contract (lib.rs "Bounded"; `Config::max_frame_size`): what
/// a connection holds is bounded by what arrived, within the limits, plus a
/// constant; a length the peer announced is not memory. A header announcing
/// 16 MiB (the default limit) followed by 100 bytes may cost the input
/// (twice, for a growing buffer) plus `ALLOWANCE`, a constant chosen as
/// 1/16 of the announced size: far above any per-connection bookkeeping,
/// far below the announced length.
#[test]
fn announced_length_is_not_memory() {
    const ALLOWANCE: u64 = 1 << 20;
    let announced = 16 << 20;
    let mut input = vec![0x82, 0xFF];
    input.extend((announced as u64).to_be_bytes());
    input.extend(KEY);
    input.extend([0x55; 100]);
    for parts in [None, Some(4096)] {
        let config = Config::default().with_receive_parts(parts);
        assert_eq!(config.max_frame_size(), announced);
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            let mut conn = server_with(config.clone());
            let mut out = Vec::new();
            let info = allocation_counter::measure(|| {
                for piece in [a, b] {
                    conn.receive(piece);
                    loop {
                        match conn.poll_event(&mut out) {
                            Polled::Event(
                                Event::BinaryPart {
                                    part: p,
                                    last: false,
                                },
                                _,
                            ) => {
                                assert!(!p.is_empty())
                            }
                            Polled::NeedMore => break,
                            other => panic!("{other:?}"),
                        }
                    }
                }
            });
            let bound = 2 * input.len() as u64 + ALLOWANCE;
            assert!(
                info.bytes_max <= bound,
                "split {split}, parts {parts:?}: {} bytes held, bound {bound}",
                info.bytes_max
            );
            assert!(out.is_empty());
        }
    }
}

/// `max_message_size` holds for a message of one frame even when
/// `max_frame_size` is larger: 1009 with the exact Close, in both modes.
#[test]
fn single_frame_over_max_message_size() {
    for parts in [None, Some(4)] {
        let config = Config::default()
            .with_max_frame_size(1000)
            .with_max_message_size(100)
            .with_receive_parts(parts);
        let make = || server_with(config.clone());
        for (b0, len) in [(0x82, 101), (0x81, 101), (0x82, 126), (0x82, 1000)] {
            let t = invariant(make, &c2s(b0, &vec![b'x'; len]), false);
            assert_eq!(
                t.events,
                [Owned::Error(Error::Protocol(
                    ProtocolError::MessageTooLarge
                ))],
                "{b0:#x} {len} {parts:?}"
            );
            assert_eq!(t.out, server_close(1009, "message too large"));
        }
    }
    // At the limit: delivered.
    let config = Config::default()
        .with_max_frame_size(1000)
        .with_max_message_size(100);
    let t = invariant(|| server_with(config.clone()), &c2s(0x82, &[7; 100]), false);
    assert!(t.out.is_empty());
    assert_eq!(t.events, [Owned::Binary(vec![7; 100])]);
}
