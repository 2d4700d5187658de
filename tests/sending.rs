//! Sending beyond whole messages: in parts, the header alone (payload from
//! the caller's buffer), masked in place, and a bound on queued output;
//! and reading straight into the connection's buffer.

mod common;
use common::*;
use wstate::{
    Accept, CloseCode, Config, Connection, Error, HandshakeError, Message, MessageKind, Role,
    SendError,
};

#[test]
fn parts_begin_continue_and_finish() {
    let mut s = server();
    let mut out = vec![];
    s.sender()
        .send_part(Message::Binary(b"ab"), &mut out)
        .unwrap();
    s.sender().send(Message::Pong(b"p"), &mut out).unwrap();
    s.sender()
        .send_part(Message::Binary(b""), &mut out)
        .unwrap();
    // Misuse, each a typed error with nothing written.
    let before = out.len();
    assert_eq!(
        s.sender().send_part(Message::Text("x"), &mut out),
        Err(SendError::FragmentTypeMismatch)
    );
    assert_eq!(
        s.sender().send(Message::Binary(b"whole"), &mut out),
        Err(SendError::FragmentInProgress)
    );
    assert_eq!(
        s.sender().send_part(Message::Ping(b""), &mut out),
        Err(SendError::ControlFragment)
    );
    assert_eq!(out.len(), before);
    s.sender().finish(Message::Binary(b"c"), &mut out).unwrap();
    assert_eq!(
        s.sender().finish(Message::Binary(b"d"), &mut out),
        Err(SendError::NoMessageInProgress)
    );
    assert_eq!(
        out,
        [
            s2c(0x02, b"ab"),
            s2c(0x8a, b"p"),
            s2c(0x00, b""),
            s2c(0x80, b"c")
        ]
        .concat()
    );
    // A client masks each part; a client server pair agrees.
    let mut c = client();
    let mut wire = vec![];
    c.sender().send_part(Message::Text("é"), &mut wire).unwrap();
    c.sender().finish(Message::Text("😀"), &mut wire).unwrap();
    let t = invariant(server, &wire, false);
    assert_eq!(t.events, [Owned::Text("é😀".into())]);
    // After our Close, no part may go.
    let mut s = server();
    s.sender()
        .close(CloseCode::NORMAL, "", &mut vec![])
        .unwrap();
    assert_eq!(
        s.sender().send_part(Message::Text("x"), &mut vec![]),
        Err(SendError::Closed)
    );
}

#[test]
fn header_only_and_in_place() {
    for len in [0, 125, 126, 65_535, 65_536] {
        let payload = vec![0x5a; len];
        // Server: the header alone, the payload untouched.
        let mut s = server();
        let mut out = vec![];
        s.sender()
            .send_header(Message::Binary(&payload), &mut out)
            .unwrap();
        out.extend_from_slice(&payload);
        assert_eq!(out, s2c(0x82, &payload), "{len}");
        let mut s = server();
        let mut out = vec![];
        let mut buf = payload.clone();
        s.sender()
            .send_in_place(MessageKind::Binary, &mut buf, &mut out)
            .unwrap();
        assert_eq!(buf, payload, "a server does not mask");
        out.extend_from_slice(&buf);
        assert_eq!(out, s2c(0x82, &payload), "{len}");
        // Client: masked in place, with the test key.
        let mut c = client();
        let mut out = vec![];
        let mut buf = payload.clone();
        c.sender()
            .send_in_place(MessageKind::Binary, &mut buf, &mut out)
            .unwrap();
        out.extend_from_slice(&buf);
        assert_eq!(out, c2s(0x82, &payload), "{len}");
        assert_eq!(
            c.sender()
                .send_header(Message::Binary(&payload), &mut vec![]),
            Err(SendError::MustMask)
        );
    }
    let mut s = server();
    assert_eq!(
        s.sender()
            .send_in_place(MessageKind::Text, &mut [0xff], &mut vec![]),
        Err(SendError::InvalidUtf8)
    );
    let mut text = *b"caf\xc3\xa9";
    let mut out = vec![];
    s.sender()
        .send_in_place(MessageKind::Text, &mut text, &mut out)
        .unwrap();
    out.extend_from_slice(&text);
    assert_eq!(out, s2c(0x81, "café".as_bytes()));
    assert_eq!(
        s.sender().send_header(Message::Ping(b""), &mut vec![]),
        Err(SendError::ControlFragment)
    );
}

#[test]
fn backpressure_refuses_data_past_the_bound() {
    let bounded = |max| {
        Connection::new_open(
            Role::Server,
            Config::default().with_max_pending_output(Some(max)),
        )
    };
    let mut s = bounded(10);
    let mut out = vec![];
    // Alone, even a message larger than the bound goes.
    s.sender()
        .send(Message::Binary(&[1; 20]), &mut out)
        .unwrap();
    assert_eq!(out.len(), 22);
    // Something queued: 22 + 0 > 10: refused, nothing written.
    assert_eq!(
        s.sender().send(Message::Binary(b""), &mut out),
        Err(SendError::Backpressure)
    );
    assert_eq!(
        s.sender().send_part(Message::Text("x"), &mut out),
        Err(SendError::Backpressure)
    );
    assert_eq!(out.len(), 22);
    // Control frames always go.
    s.sender().send(Message::Ping(b"ping"), &mut out).unwrap();
    s.sender().send(Message::Pong(b""), &mut out).unwrap();
    assert_eq!(out.len(), 22 + 6 + 2);
    // The caller wrote `out`: room again.
    out.clear();
    s.sender().send(Message::Binary(&[2; 5]), &mut out).unwrap();
    // At the bound exactly (7 queued + a 3-byte frame = 10): accepted; one
    // byte more: refused.
    let mut s = bounded(10);
    let mut out = vec![0; 7];
    s.sender().send(Message::Binary(&[3; 1]), &mut out).unwrap();
    assert_eq!(out.len(), 10);
    let mut out = vec![0; 7];
    assert_eq!(
        s.sender().send(Message::Binary(&[3; 2]), &mut out),
        Err(SendError::Backpressure)
    );
    // The header counted is the frame's own: 2, 4 or 10 bytes by length.
    for (len, header) in [(125, 2), (126, 4), (65_535, 4), (65_536, 10)] {
        let payload = vec![4; len];
        let frame = header + len;
        let mut out = vec![0; 1];
        bounded(1 + frame)
            .sender()
            .send(Message::Binary(&payload), &mut out)
            .unwrap();
        assert_eq!(out.len(), 1 + frame);
        let mut out = vec![0; 1];
        assert_eq!(
            bounded(frame)
                .sender()
                .send(Message::Binary(&payload), &mut out),
            Err(SendError::Backpressure),
            "{len}"
        );
    }
    // A client's frame counts its mask key too.
    let mut c = Connection::new_open(
        Role::client(fill_key),
        Config::default().with_max_pending_output(Some(10)),
    );
    let mut out = vec![0; 3];
    c.sender().send(Message::Binary(&[3; 1]), &mut out).unwrap();
    assert_eq!(out.len(), 10);
    let mut out = vec![0; 4];
    assert_eq!(
        c.sender().send(Message::Binary(&[3; 1]), &mut out),
        Err(SendError::Backpressure)
    );
    // Replies the protocol owes are queued however full `out` is.
    let mut s = bounded(1);
    s.receive(&[c2s(0x89, b"p"), c2s(0x88, &close_payload(1000, ""))].concat());
    let mut t = Transcript {
        out: vec![0; 100],
        ..Default::default()
    };
    drain(&mut s, &mut t);
    assert_eq!(
        t.out[100..],
        [s2c(0x8a, b"p"), server_close(1000, "")].concat()
    );
}

#[test]
fn receive_with_reads_into_the_connection() {
    // The same transcript as `receive`, at every split.
    let input = [
        c2s(0x81, "héllo".as_bytes()),
        c2s(0x89, b"ping"),
        c2s(0x02, &[9; 300]),
        c2s(0x80, &[8; 70_000]),
    ]
    .concat();
    let expected = invariant(server, &input, true);
    for split in [0, 1, 7, 300, 70_000, input.len()] {
        let mut s = server();
        let mut t = Transcript::default();
        let mut rest = &input[..];
        // A read of `split`, then reads of everything until all is in (a
        // read gets at most what the frame in progress needs past 64 KiB).
        let sizes = core::iter::once(split).chain(core::iter::repeat(input.len()));
        for size in sizes {
            if rest.is_empty() {
                break;
            }
            let n = s
                .receive_with(size, |room| {
                    let n = room.len().min(rest.len());
                    room[..n].copy_from_slice(&rest[..n]);
                    rest = &rest[n..];
                    Ok::<_, ()>(n)
                })
                .unwrap();
            assert!(n <= size);
            drain(&mut s, &mut t);
        }
        // A read of 0 is the end of the stream.
        assert_eq!(s.receive_with(16, |_| Ok::<_, ()>(0)), Ok(0));
        drain(&mut s, &mut t);
        assert_eq!(t, expected, "split {split}");
    }
    // An error from the read is returned, and nothing is received.
    let mut s = server();
    assert_eq!(s.receive_with(16, |_| Err("io")), Err("io"));
    assert_eq!(poll(&mut s, &mut vec![]), Ok(None));
}

/// Room past 64 KiB goes only to a frame that is arriving, and at most 64
/// KiB past its end: a large `max` (few reads while a large message streams
/// in) never grows the buffer much past the frame.
#[test]
fn receive_with_gives_large_room_only_to_the_frame_in_progress() {
    let rooms = |s: &mut Connection, max: usize, input: &mut &[u8]| {
        let mut room_len = 0;
        let n = s
            .receive_with(max, |room| {
                room_len = room.len();
                let n = room.len().min(input.len());
                room[..n].copy_from_slice(&input[..n]);
                *input = &input[n..];
                Ok::<_, ()>(n)
            })
            .unwrap();
        (room_len, n)
    };
    let payload: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    let second = c2s(0x82, &[7; 100]);
    let input = [c2s(0x82, &payload), second.clone(), vec![0x82; 70_000]].concat();
    let mut s = server();
    let mut out = vec![];
    let mut rest = &input[..];
    // A `max` below the rest is the room.
    assert_eq!(rooms(&mut s, 10, &mut rest), (10, 10));
    assert_eq!(poll(&mut s, &mut out), Ok(None));
    // No frame decoded yet (its header is 14 bytes): 64 KiB, whatever the
    // caller allows above it.
    assert_eq!(rooms(&mut s, 1 << 20, &mut rest), (64 << 10, 64 << 10));
    assert_eq!(poll(&mut s, &mut out), Ok(None));
    // The rest of the payload and 64 KiB past it: the second frame and
    // 64 KiB of what follows.
    let missing = 200_000 - (10 + (64 << 10) - 14);
    let room = missing + (64 << 10);
    assert_eq!(rooms(&mut s, 1 << 20, &mut rest), (room, room));
    assert_eq!(poll(&mut s, &mut out), Ok(Some(Owned::Binary(payload))));
    assert_eq!(
        poll(&mut s, &mut out),
        Ok(Some(Owned::Binary(vec![7; 100])))
    );
    assert_eq!(rest.len(), 70_000 - ((64 << 10) - second.len()));
}

#[test]
fn receive_with_keeps_the_bound_before_accept() {
    let request = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let mut s = Connection::server(Config::default().with_max_handshake_size(200));
    s.receive(request);
    assert!(matches!(
        poll(&mut s, &mut vec![]),
        Ok(Some(Owned::Other(_)))
    ));
    // 200 bytes after the head: kept.
    s.receive_with(200, |room| {
        room.fill(0);
        Ok::<_, ()>(200)
    })
    .unwrap();
    let mut s2 = Connection::server(Config::default().with_max_handshake_size(200));
    s2.receive(request);
    let _ = poll(&mut s2, &mut vec![]);
    s2.receive_with(201, |room| {
        room.fill(0);
        Ok::<_, ()>(201)
    })
    .unwrap();
    assert_eq!(
        s2.sender().accept(&Accept::new(), &mut vec![]),
        Err(SendError::Closed)
    );
    assert!(s.sender().accept(&Accept::new(), &mut vec![]).is_ok());
}

/// The room `receive_with` hands out is cleared only when it is new: a
/// kept buffer comes back with what the last read left in it (no pass over
/// it before each read), and the bytes beyond what was read are never
/// received.
#[test]
fn receive_with_reuses_its_room_without_clearing() {
    let mut s = Connection::new_open(Role::Server, Config::default().with_retained_buffer(1024));
    let ping = c2s(0x89, b"abc");
    let mut t = Transcript::default();
    let n = s
        .receive_with(64, |room| {
            assert_eq!(room, &[0; 64][..], "new room is zero-filled");
            room.fill(0xEE);
            room[..ping.len()].copy_from_slice(&ping);
            Ok::<_, ()>(ping.len())
        })
        .unwrap();
    assert_eq!(n, 9);
    drain(&mut s, &mut t);
    assert_eq!(t.events, vec![Owned::Ping(b"abc".to_vec())]);
    // Everything was consumed: the next read gets the same memory back,
    // the Ping's payload unmasked in place.
    s.receive_with(64, |room| {
        let mut expected = [0xEE; 64];
        expected[..6].copy_from_slice(&ping[..6]);
        expected[6..9].copy_from_slice(b"abc");
        assert_eq!(room, &expected[..]);
        Ok::<_, ()>(0)
    })
    .unwrap();
    drain(&mut s, &mut t);
    // The 0xEE filler was never taken for received bytes.
    assert_eq!(
        t.events,
        vec![
            Owned::Ping(b"abc".to_vec()),
            Owned::Close(1006, String::new())
        ]
    );
}

/// Bytes read straight into the connection and bytes handed to `receive`
/// stay in the order they came, even without a poll between them: the
/// middle of a text frame read with `receive_with` and its end given to
/// `receive` (which takes text straight from the caller's bytes only when
/// nothing is buffered before them) make the text in order.
#[test]
fn receive_with_then_receive_keep_the_order() {
    let text = "0123456789abcdefghij-é-KLMNOPQRSTUVWXYZ";
    let frame = c2s(0x81, text.as_bytes());
    for (a, b) in [(10, 25), (6, 7), (8, 40), (20, 21)] {
        let mut s = server();
        let mut t = Transcript::default();
        s.receive(&frame[..a]);
        drain(&mut s, &mut t);
        let middle = &frame[a..b];
        s.receive_with(middle.len() + 3, |room| {
            room[..middle.len()].copy_from_slice(middle);
            Ok::<_, ()>(middle.len())
        })
        .unwrap();
        s.receive(&frame[b..]);
        drain(&mut s, &mut t);
        assert_eq!(t.events, vec![Owned::Text(text.into())], "{a}..{b}");
    }
}

/// The bound on bytes after a request's head holds the same when they come
/// in the same read as the head: exactly `max_handshake_size` of them may
/// wait, one more and the next poll refuses the request with a 400. An
/// answer given at the `Request` event, before that poll, succeeds either
/// way, as it does when those bytes come after the answer.
#[test]
fn bytes_after_the_head_in_the_same_read_are_bounded_the_same() {
    let request = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    for (after, kept) in [(200, true), (201, false)] {
        let make = || {
            let mut s = Connection::server(Config::default().with_max_handshake_size(200));
            let mut input = request.to_vec();
            input.resize(request.len() + after, 0);
            s.receive(&input);
            assert!(matches!(
                poll(&mut s, &mut vec![]),
                Ok(Some(Owned::Other(_)))
            ));
            s
        };
        let answer = make().sender().accept(&Accept::new(), &mut vec![]);
        assert_eq!(answer, Ok(()), "{after} bytes after");
        let mut s = make();
        let mut out = vec![];
        match poll(&mut s, &mut out) {
            Ok(None) => assert!(kept, "{after} bytes after"),
            Err(Error::Handshake(HandshakeError::EarlyDataTooLarge)) => {
                assert!(!kept, "{after} bytes after");
                assert!(out.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
                assert_eq!(
                    s.sender().accept(&Accept::new(), &mut out),
                    Err(SendError::Closed)
                );
            }
            other => panic!("{after} bytes after: {other:?}"),
        }
    }
}

#[test]
fn a_frame_into_an_empty_buffer_reserves_about_its_size() {
    // `out` grows by what the frame needs (header + payload), not a multiple
    // of it: a 10,000-byte message must not leave 140 KB reserved.
    for (mut conn, header) in [(server(), 4), (client(), 8)] {
        let mut out = Vec::new();
        conn.sender()
            .send(Message::Binary(&[7; 10_000]), &mut out)
            .unwrap();
        assert_eq!(out.len(), header + 10_000);
        assert!(out.capacity() < 2 * out.len(), "{}", out.capacity());
    }
}

#[test]
fn debug_output_names_the_role_and_the_sender_state() {
    assert_eq!(format!("{:?}", Role::Server), "Server");
    // The entropy source is a closure: only its name is shown.
    assert_eq!(
        format!("{:?}", Role::client(|b| b.fill(1))),
        "Client(Entropy)"
    );
    let mut s = server();
    assert_eq!(format!("{:?}", s.sender()), "Sender { state: Open, .. }");
}

#[test]
fn send_errors_say_what_to_do() {
    // Display is what a caller logs; each names the misuse, some the remedy.
    let cases = [
        (SendError::NotOpen, "the connection is not open yet"),
        (
            SendError::Backpressure,
            "too much output queued: write it out first",
        ),
        (SendError::MustMask, "a client must mask: send in place"),
        (
            SendError::InvalidCloseCode(CloseCode(1005)),
            "this close code may not be sent",
        ),
    ];
    for (error, shown) in cases {
        assert_eq!(error.to_string(), shown);
    }
    // And the error a misuse returns is the one displayed.
    let mut out = vec![];
    let err = client()
        .sender()
        .send_header(Message::Binary(b"abc"), &mut out)
        .unwrap_err();
    assert_eq!(err.to_string(), "a client must mask: send in place");
    assert!(out.is_empty());
}

/// RFC 6455 §7.4.2 and the IANA registry: 3000-3999 (registered) and
/// 4000-4999 (private use) may be sent, as may 1012-1014; 2999 and 5000 may
/// not. The Close goes out exactly, from either role.
#[test]
fn close_codes_of_every_sendable_range() {
    for code in [3000u16, 3999, 4000, 4999, 1012, 1013, 1014, 1000, 1011] {
        let mut out = Vec::new();
        server()
            .sender()
            .close(CloseCode(code), "bye", &mut out)
            .unwrap();
        assert_eq!(out, server_close(code, "bye"), "{code}");
        let mut out = Vec::new();
        client()
            .sender()
            .close(CloseCode(code), "", &mut out)
            .unwrap();
        assert_eq!(out, c2s(0x88, &code.to_be_bytes()), "{code}");
    }
    for code in [2999u16, 5000, 999, 1004, 1005, 1006, 1015, 1016, 2000] {
        for mut conn in [server(), client()] {
            let mut out = Vec::new();
            assert_eq!(
                conn.sender().close(CloseCode(code), "", &mut out),
                Err(SendError::InvalidCloseCode(CloseCode(code)))
            );
            assert!(out.is_empty());
            assert_eq!(conn.state(), wstate::ConnectionState::Open);
        }
    }
}
