//! Every `Config` value at its bounds and past them, set through the
//! builder (the only way to set one): what the getter then says, and what
//! a peer's input does with it. No configuration lets a peer make the
//! connection panic or stall.

mod common;

use common::*;
use core::time::Duration;
use wstate::{
    ClientRequest, Config, Connection, Error, Event, HandshakeError, Keepalive, Message, Polled,
    ProtocolError, Role, SendError,
};

/// A server with `config` fed `input` (whole, byte by byte and split at
/// every point: the same transcript each way).
fn run(config: &Config, input: &[u8]) -> Transcript {
    invariant(|| server_with(config.clone()), input, false)
}

fn failed(t: &Transcript, error: ProtocolError, code: u16, reason: &str) {
    assert_eq!(t.events, vec![Owned::Error(Error::Protocol(error))]);
    assert_eq!(t.out, server_close(code, reason));
}

/// The parts a server hands out for "é😀" sent as two fragments split
/// after byte 4 (inside the 4-byte code point), fed at once.
fn parts_of_split_code_point(config: Config) -> Vec<String> {
    let text = "é😀".as_bytes();
    let mut conn = server_with(config);
    conn.receive(&[c2s(0x01, &text[..4]), c2s(0x80, &text[4..])].concat());
    let mut out = vec![];
    let mut parts = vec![];
    loop {
        match conn.poll_event(&mut out) {
            Polled::Event(Event::TextPart { part, last: fin }, _) => {
                parts.push(format!("{part}:{fin}"))
            }
            Polled::NeedMore => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(out.is_empty());
    parts
}

#[test]
fn receive_parts_under_four_bytes_is_four() {
    // Each bound under 4 used to reach the receiver as is, and a code point
    // split between fragments overflowed its carry.
    for asked in 0..=4 {
        let config = Config::default().with_receive_parts(Some(asked));
        assert_eq!(config.receive_parts(), Some(4), "asked {asked}");
        assert_eq!(
            parts_of_split_code_point(config),
            ["é:false", "😀:true"],
            "asked {asked}"
        );
    }
    let five = Config::default().with_receive_parts(Some(5));
    assert_eq!(five.receive_parts(), Some(5));
    assert_eq!(
        Config::default().with_receive_parts(None).receive_parts(),
        None
    );
    // Whatever the bound, the same split message joins to the same text.
    for bound in [4, 5, 6, 7, 1024] {
        let parts = parts_of_split_code_point(Config::default().with_receive_parts(Some(bound)));
        let joined: String = parts
            .iter()
            .map(|p| p.rsplit_once(':').unwrap().0)
            .collect();
        assert_eq!(joined, "é😀", "bound {bound}");
    }
}

#[test]
fn max_frame_size_keeps_room_for_control_frames() {
    for asked in [0, 1, 124, 125] {
        let config = Config::default().with_max_frame_size(asked);
        assert_eq!(config.max_frame_size(), 125, "asked {asked}");
        // A 125-byte Ping (the largest control frame) is answered...
        let t = run(&config, &c2s(0x89, &[7; 125]));
        assert_eq!(t.events, vec![Owned::Ping(vec![7; 125])]);
        assert_eq!(t.out, s2c(0x8A, &[7; 125]));
        // ... a 126-byte data frame is over the bound.
        let t = run(&config, &c2s(0x82, &[1; 126]));
        failed(&t, ProtocolError::FrameTooLarge, 1009, "frame too large");
    }
    let config = Config::default().with_max_frame_size(300);
    assert_eq!(config.max_frame_size(), 300);
    let t = run(&config, &c2s(0x82, &[1; 300]));
    assert_eq!(t.events, vec![Owned::Binary(vec![1; 300])]);
    let t = run(&config, &c2s(0x82, &[1; 301]));
    failed(&t, ProtocolError::FrameTooLarge, 1009, "frame too large");
    let max = Config::default().with_max_frame_size(usize::MAX);
    assert_eq!(max.max_frame_size(), usize::MAX);
    let t = run(&max, &c2s(0x82, &[1; 3]));
    assert_eq!(t.events, vec![Owned::Binary(vec![1; 3])]);
}

#[test]
fn max_message_size_from_zero_to_unbounded() {
    let zero = Config::default().with_max_message_size(0);
    assert_eq!(zero.max_message_size(), 0);
    let t = run(&zero, &c2s(0x81, b""));
    assert_eq!(t.events, vec![Owned::Text(String::new())]);
    let t = run(&zero, &c2s(0x81, b"x"));
    failed(
        &t,
        ProtocolError::MessageTooLarge,
        1009,
        "message too large",
    );
    // Control frames are not messages.
    let t = run(&zero, &c2s(0x89, b"ping"));
    assert_eq!(t.events, vec![Owned::Ping(b"ping".to_vec())]);

    let ten = Config::default().with_max_message_size(10);
    let at = [c2s(0x01, b"12345"), c2s(0x80, b"67890")].concat();
    assert_eq!(
        run(&ten, &at).events,
        vec![Owned::Text("1234567890".into())]
    );
    let past = [c2s(0x01, b"12345"), c2s(0x80, b"678901")].concat();
    failed(
        &run(&ten, &past),
        ProtocolError::MessageTooLarge,
        1009,
        "message too large",
    );

    let unbounded = Config::default().with_max_message_size(usize::MAX);
    assert_eq!(unbounded.max_message_size(), usize::MAX);
    let t = run(&unbounded, &at);
    assert_eq!(t.events, vec![Owned::Text("1234567890".into())]);
    let parts = unbounded.with_receive_parts(Some(4));
    let (_, t) = feed_chunks(server_with(parts), &[&c2s(0x82, &[9; 3])], false);
    assert_eq!(
        t.events,
        vec![Owned::Other(
            "BinaryPart { part: [9, 9, 9], last: true }".into()
        )]
    );
}

#[test]
fn max_fragments_is_at_least_one() {
    for asked in [0, 1] {
        let one = Config::default().with_max_fragments(asked);
        assert_eq!(one.max_fragments(), 1, "asked {asked}");
        let t = run(&one, &c2s(0x82, b"ab"));
        assert_eq!(t.events, vec![Owned::Binary(b"ab".to_vec())]);
        let two = [c2s(0x02, b"a"), c2s(0x80, b"b")].concat();
        failed(
            &run(&one, &two),
            ProtocolError::TooManyFragments,
            1009,
            "too many fragments",
        );
    }
    let three = Config::default().with_max_fragments(3);
    let at = [c2s(0x02, b"a"), c2s(0x00, b""), c2s(0x80, b"b")].concat();
    assert_eq!(run(&three, &at).events, vec![Owned::Binary(b"ab".to_vec())]);
    let past = [
        c2s(0x02, b"a"),
        c2s(0x00, b""),
        c2s(0x00, b""),
        c2s(0x80, b"b"),
    ]
    .concat();
    failed(
        &run(&three, &past),
        ProtocolError::TooManyFragments,
        1009,
        "too many fragments",
    );
}

/// What a server with `config` does with [`REQUEST`]: the request event's
/// path, or the handshake error.
fn request_answer(config: Config) -> Result<String, HandshakeError> {
    let mut conn = Connection::server(config);
    conn.receive(REQUEST);
    let mut out = vec![];
    match conn.poll_event(&mut out) {
        Polled::Event(Event::Request(req), _) => {
            assert!(out.is_empty());
            Ok(req.path().to_string())
        }
        Polled::Failed(Error::Handshake(e)) => {
            assert!(out.starts_with(b"HTTP/1.1 431 "), "{e:?}");
            Err(e)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn max_handshake_size_at_and_past_the_request() {
    let config = Config::default().with_max_handshake_size(REQUEST.len());
    assert_eq!(config.max_handshake_size(), REQUEST.len());
    assert_eq!(request_answer(config), Ok("/".into()));
    for size in [0, 1, REQUEST.len() - 1] {
        let config = Config::default().with_max_handshake_size(size);
        assert_eq!(config.max_handshake_size(), size);
        assert_eq!(
            request_answer(config),
            Err(HandshakeError::HeadTooLarge),
            "{size}"
        );
    }
}

#[test]
fn max_headers_at_and_past_the_request() {
    let config = Config::default().with_max_headers(REQUEST_FIELDS);
    assert_eq!(config.max_headers(), REQUEST_FIELDS);
    assert_eq!(request_answer(config), Ok("/".into()));
    for count in [0, REQUEST_FIELDS - 1] {
        let config = Config::default().with_max_headers(count);
        assert_eq!(
            request_answer(config),
            Err(HandshakeError::TooManyHeaders),
            "{count}"
        );
    }
}

#[test]
fn retained_buffer_any_size() {
    for bytes in [0, 1, usize::MAX] {
        let config = Config::default().with_retained_buffer(bytes);
        assert_eq!(config.retained_buffer(), bytes);
        let input = [
            c2s(0x82, &[1; 2000]),
            c2s(0x81, b"hi"),
            c2s(0x82, &[2; 700]),
        ]
        .concat();
        let mut conn = server_with(config);
        conn.receive(&input);
        let mut t = Transcript::default();
        drain(&mut conn, &mut t);
        conn.shrink_buffers();
        assert_eq!(
            t.events,
            vec![
                Owned::Binary(vec![1; 2000]),
                Owned::Text("hi".into()),
                Owned::Binary(vec![2; 700])
            ],
            "{bytes}"
        );
    }
}

#[test]
fn max_pending_output_zero_lets_one_message_out() {
    let config = Config::default().with_max_pending_output(Some(0));
    assert_eq!(config.max_pending_output(), Some(0));
    let mut conn = Connection::new_open(wstate::Role::Server, config);
    let mut out = vec![];
    conn.sender().send(Message::Binary(b"a"), &mut out).unwrap();
    assert_eq!(out, [0x82, 0x01, b'a']);
    assert_eq!(
        conn.sender().send(Message::Binary(b"b"), &mut out),
        Err(SendError::Backpressure)
    );
    assert_eq!(out, [0x82, 0x01, b'a']);
}

#[test]
fn zero_durations_end_at_once_without_stalling() {
    // A handshake timeout of zero: a begun request is answered 408 at the
    // first tick.
    let config = Config::default().with_handshake_timeout(Some(Duration::ZERO));
    assert_eq!(config.handshake_timeout(), Some(Duration::ZERO));
    let mut conn = Connection::server(config);
    conn.receive(b"GET / HT");
    let mut out = vec![];
    conn.handle_timeout(Duration::ZERO, &mut out);
    assert!(out.starts_with(b"HTTP/1.1 408 "), "{out:?}");
    assert_eq!(
        poll(&mut conn, &mut vec![]),
        Err(Error::Handshake(HandshakeError::Timeout))
    );
    assert!(is_done(&mut conn));
    assert_eq!(conn.poll_timeout(), None);

    // A keepalive of zero and zero: a Ping at the first tick, the failure
    // at the next; then no deadline is left.
    let keepalive = Keepalive::new(Duration::ZERO, Duration::ZERO);
    assert_eq!(
        (keepalive.interval(), keepalive.timeout()),
        (Duration::ZERO, Duration::ZERO)
    );
    let config = Config::default().with_keepalive(Some(keepalive));
    let mut conn = Connection::new_open(wstate::Role::Server, config);
    let mut out = vec![];
    conn.handle_timeout(Duration::ZERO, &mut out);
    assert_eq!(out, [0x89, 0x08, b'w', b's', b'k', b'a', 0, 0, 0, 1]);
    out.clear();
    conn.handle_timeout(Duration::ZERO, &mut out);
    assert_eq!(out, server_close(1011, "keepalive timeout"));
    assert_eq!(poll(&mut conn, &mut vec![]), Err(Error::KeepaliveTimeout));
    assert!(is_done(&mut conn));
    assert_eq!(conn.poll_timeout(), None);

    // A close timeout of zero: the peer's Close is not awaited.
    let config = Config::default().with_close_timeout(Some(Duration::ZERO));
    assert_eq!(config.close_timeout(), Some(Duration::ZERO));
    let mut conn = Connection::new_open(wstate::Role::Server, config);
    let mut out = vec![];
    conn.handle_timeout(Duration::ZERO, &mut out);
    conn.sender()
        .close(wstate::CloseCode::NORMAL, "", &mut out)
        .unwrap();
    conn.handle_timeout(Duration::ZERO, &mut out);
    assert_eq!(
        poll(&mut conn, &mut out),
        Ok(Some(Owned::Close(1006, String::new())))
    );
    assert!(is_done(&mut conn));
}

#[test]
fn keepalive_switches() {
    let k = Keepalive::default();
    assert_eq!(
        (k.interval(), k.timeout(), k.fixed_interval(), k.any_data()),
        (
            Duration::from_secs(20),
            Duration::from_secs(20),
            false,
            true
        )
    );
    let k = k.with_fixed_interval(true).with_any_data(false);
    assert_eq!((k.fixed_interval(), k.any_data()), (true, false));
    assert_eq!(Config::default().with_keepalive(None).keepalive(), None);
    assert_eq!(
        Config::default()
            .with_keepalive(Some(k.clone()))
            .keepalive(),
        Some(&k)
    );
}

#[cfg(feature = "deflate")]
#[test]
fn deflate_values_within_the_rfc() {
    use wstate::DeflateConfig;
    let d = DeflateConfig::default();
    assert_eq!(
        (
            d.server_no_context_takeover(),
            d.client_no_context_takeover(),
            d.min_compress_size(),
            d.compress_outgoing()
        ),
        (false, false, 0, true)
    );
    assert_eq!(
        (
            d.level(),
            d.server_max_window_bits(),
            d.client_max_window_bits()
        ),
        (1, 15, 15)
    );
    for (asked, got) in [
        (0, 8),
        (7, 8),
        (8, 8),
        (9, 9),
        (15, 15),
        (16, 15),
        (255, 15),
    ] {
        let d = DeflateConfig::default()
            .with_server_max_window_bits(asked)
            .with_client_max_window_bits(asked);
        assert_eq!(
            (d.server_max_window_bits(), d.client_max_window_bits()),
            (got, got),
            "{asked}"
        );
    }
    for (asked, got) in [(0, 0), (9, 9), (10, 9), (255, 9)] {
        assert_eq!(DeflateConfig::default().with_level(asked).level(), got);
    }
    let d = DeflateConfig::default()
        .with_server_no_context_takeover(true)
        .with_client_no_context_takeover(true)
        .with_min_compress_size(1024)
        .with_compress_outgoing(false);
    assert_eq!(
        (
            d.server_no_context_takeover(),
            d.client_no_context_takeover(),
            d.min_compress_size(),
            d.compress_outgoing()
        ),
        (true, true, 1024, false)
    );
    assert_eq!(Config::default().deflate(), None);
    let on = Config::default().with_deflate(Some(d));
    assert_eq!(on.deflate(), Some(&d));
    assert_eq!(on.with_deflate(None).deflate(), None);
}

/// `max_handshake_size` is the largest head accepted: a head of exactly
/// that size is accepted, one byte more is refused (431), for a server;
/// for a client, the response head likewise (refused: nothing written).
#[test]
fn head_of_exactly_the_limit_is_accepted() {
    let request = request_with(&["X-Pad: abc"]);
    let n = request.len();
    accepted_header(
        Config::default().with_max_handshake_size(n),
        &request,
        "x-pad",
    );
    refused_by(
        Config::default().with_max_handshake_size(n - 1),
        &request,
        HandshakeError::HeadTooLarge,
        &refusal_response(
            "431 Request Header Fields Too Large",
            "",
            "HTTP head too large\n",
        ),
    );
    // Client: the response head.
    let req = ClientRequest::new("example.com", "/");
    let mut out = Vec::new();
    Connection::client(&req, fill_key, Config::default(), &mut out).unwrap();
    let response = String::from_utf8(response_101(&out)).unwrap();
    let r = response.len();
    for (max, ok) in [(r, true), (r - 1, false)] {
        let config = Config::default().with_max_handshake_size(max);
        let make = || {
            Connection::client(&req, fill_key, config.clone(), &mut Vec::new()).expect("request")
        };
        let t = invariant(make, response.as_bytes(), false);
        assert!(t.out.is_empty());
        if ok {
            assert!(matches!(&t.events[..], [Owned::Other(a)] if a.starts_with("Accepted")));
        } else {
            assert_eq!(
                t.events,
                [Owned::Error(Error::Handshake(HandshakeError::HeadTooLarge))]
            );
        }
    }
}

/// `max_headers` is the most header fields accepted: N fields pass, N+1
/// get a 431.
#[test]
fn max_headers_at_n_and_n_plus_one() {
    for n in [REQUEST_FIELDS, 8, 64] {
        let pad = |k: usize| -> Vec<String> { (0..k).map(|i| format!("X-{i}: {i}")).collect() };
        let config = Config::default().with_max_headers(n);
        let at = request_with(&pad(n - REQUEST_FIELDS));
        accepted_header(config.clone(), &at, "host");
        let over = request_with(&pad(n + 1 - REQUEST_FIELDS));
        refused_by(
            config,
            &over,
            HandshakeError::TooManyHeaders,
            &refusal_response(
                "431 Request Header Fields Too Large",
                "",
                "too many HTTP header fields\n",
            ),
        );
    }
    // The default, 64, likewise.
    let pad: Vec<String> = (0..65 - REQUEST_FIELDS)
        .map(|i| format!("X-{i}: {i}"))
        .collect();
    refused_by(
        Config::default(),
        &request_with(&pad),
        HandshakeError::TooManyHeaders,
        &refusal_response(
            "431 Request Header Fields Too Large",
            "",
            "too many HTTP header fields\n",
        ),
    );
    accepted_header(Config::default(), &request_with(&pad[1..]), "host");
}

#[test]
fn is_client_tells_the_roles_apart() {
    assert!(!server().is_client());
    assert!(!Connection::new_open(Role::Server, Config::default()).is_client());
    assert!(client().is_client());
    assert!(Connection::new_open(Role::client(fill_key), Config::default()).is_client());
}

#[test]
fn unread_input_counts_what_the_next_polls_hand_out() {
    let mut conn = Connection::new_open(Role::Server, Config::default());
    let mut out = Vec::new();
    assert_eq!(conn.unread_input(), 0);
    // Two masked texts "Hello" (11 bytes each) and the first 3 bytes of a third.
    let frame = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let mut read = [frame, frame].concat();
    read.extend_from_slice(&frame[..3]);
    conn.receive(&read);
    assert_eq!(conn.unread_input(), 25);
    assert!(matches!(
        conn.poll_event(&mut out),
        Polled::Event(Event::Text("Hello"), _)
    ));
    assert_eq!(conn.unread_input(), 14);
    assert!(matches!(
        conn.poll_event(&mut out),
        Polled::Event(Event::Text("Hello"), _)
    ));
    assert_eq!(conn.unread_input(), 3);
    assert!(matches!(conn.poll_event(&mut out), Polled::NeedMore));
    conn.receive(&frame[3..]);
    assert_eq!(conn.unread_input(), 11);
    assert!(matches!(
        conn.poll_event(&mut out),
        Polled::Event(Event::Text("Hello"), _)
    ));
    assert_eq!(conn.unread_input(), 0);
    assert!(out.is_empty());
}

/// Bytes read after the closing handshake are dropped, by `receive_with`
/// as by `receive`: nothing is kept or left to hand out, and the
/// connection stays done.
#[test]
fn bytes_after_the_close_are_dropped() {
    let frame = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    for with in [true, false] {
        let mut conn = Connection::new_open(Role::Server, Config::default());
        let mut out = Vec::new();
        // A masked Close with code 1000 (key of zeros).
        conn.receive(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
        assert!(matches!(
            conn.poll_event(&mut out),
            Polled::Event(Event::Close(_), _)
        ));
        assert_eq!(out, [0x88, 0x02, 0x03, 0xe8]);
        if with {
            let n = conn
                .receive_with(64, |room| {
                    room[..frame.len()].copy_from_slice(&frame);
                    Ok::<_, ()>(frame.len())
                })
                .unwrap();
            assert_eq!(n, frame.len());
        } else {
            conn.receive(&frame);
        }
        assert_eq!(conn.unread_input(), 0, "receive_with: {with}");
        assert!(matches!(conn.poll_event(&mut out), Polled::Done));
        assert_eq!(out, [0x88, 0x02, 0x03, 0xe8]);
    }
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

#[test]
fn getters_say_what_the_builders_set() {
    let d = Config::default();
    assert_eq!(
        (
            d.max_frame_size(),
            d.max_message_size(),
            d.max_fragments(),
            d.auto_pong(),
            d.max_handshake_size(),
            d.max_headers(),
            d.retained_buffer(),
            d.receive_parts(),
            d.max_pending_output(),
        ),
        (
            16 << 20,
            16 << 20,
            1 << 17,
            true,
            16 << 10,
            64,
            512,
            None,
            None
        )
    );
    let secs = Duration::from_secs;
    assert_eq!(
        (d.handshake_timeout(), d.close_timeout(), d.keepalive()),
        (Some(secs(10)), Some(secs(10)), Some(&Keepalive::default()))
    );
    let c = Config::default()
        .with_max_frame_size(1000)
        .with_max_message_size(2000)
        .with_max_fragments(3)
        .with_auto_pong(false)
        .with_max_handshake_size(4000)
        .with_max_headers(5)
        .with_retained_buffer(6)
        .with_receive_parts(Some(7))
        .with_max_pending_output(Some(8))
        .with_handshake_timeout(Some(secs(9)))
        .with_close_timeout(Some(secs(11)))
        .with_keepalive(Some(Keepalive::new(secs(12), secs(13))));
    assert_eq!(
        (
            c.max_frame_size(),
            c.max_message_size(),
            c.max_fragments(),
            c.auto_pong(),
            c.max_handshake_size(),
            c.max_headers(),
            c.retained_buffer(),
            c.receive_parts(),
            c.max_pending_output(),
        ),
        (1000, 2000, 3, false, 4000, 5, 6, Some(7), Some(8))
    );
    assert_eq!(
        (c.handshake_timeout(), c.close_timeout()),
        (Some(secs(9)), Some(secs(11)))
    );
    let k = c.keepalive().unwrap();
    assert_eq!((k.interval(), k.timeout()), (secs(12), secs(13)));
    let off = c
        .with_handshake_timeout(None)
        .with_close_timeout(None)
        .with_max_pending_output(None)
        .with_receive_parts(None)
        .with_keepalive(None);
    assert_eq!(
        (
            off.handshake_timeout(),
            off.close_timeout(),
            off.max_pending_output(),
            off.receive_parts(),
            off.keepalive()
        ),
        (None, None, None, None, None)
    );
}
