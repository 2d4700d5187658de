//! Promises of the README and RFC 6455 that hand-made mutants of the crate
//! once broke without any test noticing (issue "Tests that catch what they
//! claim", item 4). Each test names the mutant it kills. Where bytes come
//! in, they are fed whole, byte by byte and split at every point
//! (`common::invariant`), and the events and output are exact.

mod common;
use common::*;
use wstate::{
    ClientRequest, CloseCode, Config, Connection, Error, Event, HandshakeError, Polled,
    ProtocolError, SendError,
};

/// A valid upgrade request with these extra header lines (each `name: value`
/// without CRLF), in the order given after the required ones.
fn request_with(extra: &[String]) -> Vec<u8> {
    let mut head = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n"
        .to_vec();
    for line in extra {
        head.extend_from_slice(line.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// The number of header fields in [`request_with`] before the extra ones.
const REQUIRED_FIELDS: usize = 5;

/// The error response a server queues for a refused request: the status
/// line, the fields its status requires, and the error as a text body.
fn error_response(status_line: &str, fields: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status_line}\r\n{fields}Content-Type: text/plain\r\n{}Content-Length: {}\r\n\r\n{body}",
        if status_line.starts_with("426") {
            "Connection: Upgrade, close\r\n"
        } else {
            "Connection: close\r\n"
        },
        body.len()
    )
    .into_bytes()
}

/// A server reading its request with `config`.
fn hs_server(config: Config) -> impl Fn() -> Connection {
    move || Connection::server(config.clone())
}

/// What a server reports for `request`: the request (its path and the
/// value of `name`) or the error, checked split-invariant.
fn accepted_header(config: Config, request: &[u8], name: &str) -> Vec<u8> {
    let t = invariant(hs_server(config.clone()), request, false);
    assert!(t.out.is_empty(), "output for a valid request: {:?}", t.out);
    assert!(
        matches!(&t.events[..], [Owned::Other(r)] if r.starts_with("Request")),
        "{:?}",
        t.events
    );
    let mut conn = Connection::server(config);
    conn.receive(request);
    match conn.poll_event(&mut Vec::new()) {
        Polled::Event(Event::Request(r), _) => {
            assert_eq!(r.path(), "/chat");
            r.header(name).expect("the header").to_vec()
        }
        other => panic!("{other:?}"),
    }
}

/// Refused with exactly `response` however the bytes arrive.
fn refused(config: Config, request: &[u8], error: HandshakeError, response: &[u8]) {
    let t = invariant(hs_server(config), request, false);
    assert_eq!(t.events, [Owned::Error(Error::Handshake(error))]);
    assert_eq!(
        String::from_utf8_lossy(&t.out),
        String::from_utf8_lossy(response)
    );
}

// (1) Mutant: no UTF-8 check of a partly received frame.

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

// (2) Mutant: no 8 KiB per-line limit in the HTTP head.

/// README "Limits": "8 KiB per line", `431` queued. A header line of 8193
/// bytes in a head well under `max_handshake_size` is refused; 8192 is not.
#[test]
fn header_line_over_8_kib_gets_431() {
    let config = Config::default().with_max_handshake_size(64 << 10);
    let line = |len: usize| format!("X-Long: {}", "a".repeat(len - "X-Long: ".len()));
    let ok = request_with(&[line(8192)]);
    let value = accepted_header(config.clone(), &ok, "x-long");
    assert_eq!(value.len(), 8192 - 8);
    let over = request_with(&[line(8193)]);
    assert!(over.len() < 10 << 10);
    refused(
        config,
        &over,
        HandshakeError::HeadTooLarge,
        &error_response(
            "431 Request Header Fields Too Large",
            "",
            "HTTP head too large\n",
        ),
    );
}

// (3) Mutant: a duplicate Sec-WebSocket-Version accepted.

/// RFC 6455 §4.1: the request "MUST include a header field with the name
/// |Sec-WebSocket-Version|" whose value is 13; two of them are not one
/// version: 426 with the version the server speaks (§4.4).
#[test]
fn duplicate_version_refused_with_426() {
    let response = error_response(
        "426 Upgrade Required",
        "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
        "Sec-WebSocket-Version is not 13\n",
    );
    for second in ["13", "8"] {
        let request = request_with(&[format!("Sec-WebSocket-Version: {second}")]);
        refused(
            Config::default(),
            &request,
            HandshakeError::UnsupportedVersion,
            &response,
        );
    }
}

// (4) Mutant: a client accepting a 2xx response with upgrade headers.

/// RFC 6455 §4.1: "If the status code received from the server is not 101,
/// the client handles the response per HTTP procedures": a 200 with every
/// upgrade header (and the right accept key) is a refusal.
#[test]
fn client_refuses_200_with_upgrade_headers() {
    let request = ClientRequest::new("example.com", "/");
    let make = || {
        let mut out = Vec::new();
        Connection::client(&request, fill_key, Config::default(), &mut out).unwrap()
    };
    // The key our client sends, and the matching accept value.
    let mut out = Vec::new();
    Connection::client(&request, fill_key, Config::default(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let key = text
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap();
    let accept = wstate::handshake::accept_key(key.as_bytes());
    let accept = std::str::from_utf8(&accept).unwrap();
    for status in ["200 OK", "204 No Content", "299 Whatever"] {
        let response = format!(
            "HTTP/1.1 {status}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: {accept}\r\nContent-Length: 0\r\n\r\n"
        );
        let t = invariant(make, response.as_bytes(), false);
        assert!(t.out.is_empty(), "a refused client writes nothing");
        match &t.events[..] {
            [Owned::Error(Error::Handshake(HandshakeError::Rejected(r)))] => {
                assert_eq!(r.status.to_string(), status[..3]);
                assert!(r.body.is_empty());
            }
            other => panic!("{status}: {other:?}"),
        }
    }
    // The same response with 101 is accepted.
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    let t = invariant(make, response.as_bytes(), false);
    assert!(matches!(&t.events[..], [Owned::Other(a)] if a.starts_with("Accepted")));
}

// (5) Mutant: reserving the whole announced frame on a bare header.

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

// (6) Mutant: no message-size check on a single frame.

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

// (7) Mutant: a head of exactly the size limit refused.

/// `max_handshake_size` is the largest head accepted: a head of exactly
/// that size is accepted, one byte more is refused (431), for a server;
/// for a client, the response head likewise (refused: nothing written).
#[test]
fn head_of_exactly_the_limit_is_accepted() {
    let request = request_with(&["X-Pad: abc".into()]);
    let n = request.len();
    accepted_header(
        Config::default().with_max_handshake_size(n),
        &request,
        "x-pad",
    );
    refused(
        Config::default().with_max_handshake_size(n - 1),
        &request,
        HandshakeError::HeadTooLarge,
        &error_response(
            "431 Request Header Fields Too Large",
            "",
            "HTTP head too large\n",
        ),
    );
    // Client: the response head.
    let req = ClientRequest::new("example.com", "/");
    let mut out = Vec::new();
    Connection::client(&req, fill_key, Config::default(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let key = text
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap();
    let accept = wstate::handshake::accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: {}\r\n\r\n",
        std::str::from_utf8(&accept).unwrap()
    );
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

// (8) Mutant: close codes 3000-3999 or 1012-1014 made unsendable.

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

// (9) Mutant: a tab not trimmed from a header value.

/// RFC 9110 §5.5: "A field value does not include leading or trailing
/// whitespace" (OWS = SP / HTAB): tabs around the values are not part of
/// them.
#[test]
fn tabs_around_header_values_are_trimmed() {
    let head = b"GET /chat HTTP/1.1\r\nHost:\texample.com\t\r\nUpgrade:\twebsocket\t\r\n\
Connection:\t Upgrade \t\r\nSec-WebSocket-Key:\tdGhlIHNhbXBsZSBub25jZQ==\t\r\n\
Sec-WebSocket-Version:\t13\t\r\nX-Tabs:\t\ta b\t\t\r\n\r\n";
    let config = Config::default();
    assert_eq!(accepted_header(config.clone(), head, "x-tabs"), b"a b");
    assert_eq!(
        accepted_header(config.clone(), head, "upgrade"),
        b"websocket"
    );
    assert_eq!(accepted_header(config, head, "host"), b"example.com");
}

// (10) Mutant: `>` / `>=` at the head limits (max_headers at N and N+1).

/// `max_headers` is the most header fields accepted: N fields pass, N+1
/// get a 431.
#[test]
fn max_headers_at_n_and_n_plus_one() {
    for n in [REQUIRED_FIELDS, 8, 64] {
        let pad = |k: usize| -> Vec<String> { (0..k).map(|i| format!("X-{i}: {i}")).collect() };
        let config = Config::default().with_max_headers(n);
        let at = request_with(&pad(n - REQUIRED_FIELDS));
        accepted_header(config.clone(), &at, "host");
        let over = request_with(&pad(n + 1 - REQUIRED_FIELDS));
        refused(
            config,
            &over,
            HandshakeError::TooManyHeaders,
            &error_response(
                "431 Request Header Fields Too Large",
                "",
                "too many HTTP header fields\n",
            ),
        );
    }
    // The default, 64, likewise.
    let pad: Vec<String> = (0..65 - REQUIRED_FIELDS)
        .map(|i| format!("X-{i}: {i}"))
        .collect();
    refused(
        Config::default(),
        &request_with(&pad),
        HandshakeError::TooManyHeaders,
        &error_response(
            "431 Request Header Fields Too Large",
            "",
            "too many HTTP header fields\n",
        ),
    );
    accepted_header(Config::default(), &request_with(&pad[1..]), "host");
}
