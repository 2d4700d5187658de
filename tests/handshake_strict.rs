//! Where the RFCs say MUST in the opening handshake and the closing rules:
//! every refusal as exact bytes or the exact event, each input fed whole,
//! byte by byte and split at every point (`invariant`).

mod common;
use common::*;
use wstate::{
    Accept, ClientRequest, CloseCode, Config, Connection, Error, Event, HandshakeError, Polled,
    ProtocolError, SendError,
};

const KEY_LINE: &str = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";

fn server() -> Connection {
    Connection::server(Config::default())
}

/// A request: `first` line, the usual upgrade fields with `replace`d
/// ones swapped (by name prefix), then `extra` lines.
fn request(first: &str, replace: &[&str], extra: &[&str]) -> Vec<u8> {
    let base = [
        "Host: example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        KEY_LINE,
        "Sec-WebSocket-Version: 13",
    ];
    let mut head = format!("{first}\r\n");
    for line in base {
        let name = line.split(':').next().unwrap();
        match replace.iter().find(|r| r.starts_with(&format!("{name}:"))) {
            Some(r) if **r == format!("{name}:") => {} // removed
            Some(r) => head.push_str(&format!("{r}\r\n")),
            None => head.push_str(&format!("{line}\r\n")),
        }
    }
    for line in extra {
        head.push_str(&format!("{line}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// The exact response a server queues for `error` with this status line.
fn error_response(status: &str, error: &HandshakeError) -> String {
    let body = format!("{error}\n");
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Feeds `input` to a server every way; expects exactly `error` and the
/// response bytes `response`.
fn refused(input: &[u8], error: HandshakeError, response: &str) {
    let t = invariant(server, input, false);
    assert_eq!(
        t.events,
        [Owned::Error(Error::Handshake(error))],
        "{}",
        String::from_utf8_lossy(input)
    );
    assert_eq!(String::from_utf8_lossy(&t.out), response);
}

fn bad_request(input: &[u8], error: HandshakeError) {
    let response = error_response("400 Bad Request", &error);
    refused(input, error, &response);
}

/// Feeds `input` to a server every way; expects a Request (then nothing).
fn accepted_request(input: &[u8]) {
    let t = invariant(server, input, false);
    assert_eq!(t.events.len(), 1, "{:?}", t.events);
    assert!(matches!(&t.events[0], Owned::Other(s) if s.starts_with("Request(")));
    assert!(t.out.is_empty());
}

/// Polls once and answers the Request with `f`; returns the output.
fn answer(
    input: &[u8],
    f: impl FnOnce(wstate::Request<'_>, wstate::Sender<'_>, &mut Vec<u8>),
) -> Vec<u8> {
    let mut conn = server();
    let mut out = vec![];
    conn.receive(input);
    match conn.poll_event(&mut out) {
        Polled::Event(Event::Request(r), tx) => f(r, tx, &mut out),
        other => panic!("{other:?}"),
    }
    out
}

// ---- 1: a request has no content; a 101 has none either ----

#[test]
fn request_content_is_refused() {
    let mut input = request_with(&["Content-Length: 11"]);
    input.extend_from_slice(b"hello world");
    bad_request(&input, HandshakeError::RequestContent);
    let mut input = request_with(&["Transfer-Encoding: chunked"]);
    input.extend_from_slice(b"5\r\nhello\r\n0\r\n\r\n");
    bad_request(&input, HandshakeError::RequestContent);
    bad_request(
        &request_with(&["Content-Length: x"]),
        HandshakeError::RequestContent,
    );
    bad_request(
        &request_with(&["Content-Length: 0, 1"]),
        HandshakeError::RequestContent,
    );
    // Zero is no content (and "0, 0" the same value, RFC 9110 §8.6).
    accepted_request(&request_with(&["Content-Length: 0"]));
    accepted_request(&request_with(&["Content-Length: 0, 0"]));
}

/// The rules are applied in one order whatever the order of the fields:
/// each request breaks two, the earlier rule's error is the one reported,
/// and the same answer is queued with the breaking fields before the usual
/// ones and after them.
#[test]
fn the_first_rule_broken_is_reported_whatever_the_field_order() {
    let g = "GET /chat HTTP/1.1";
    for (replace, extra, error) in [
        (
            &["Host:"][..],
            &["Transfer-Encoding: chunked"][..],
            HandshakeError::MissingHost,
        ),
        (
            &["Upgrade:"],
            &["Host: example.org"],
            HandshakeError::MissingHost,
        ),
        (
            &["Upgrade: h2c"],
            &["Sec-WebSocket-Key: x"],
            HandshakeError::MissingUpgrade,
        ),
        (
            &["Connection: close"],
            &["Sec-WebSocket-Version: 8"],
            HandshakeError::MissingConnectionUpgrade,
        ),
        (
            &["Sec-WebSocket-Key:"],
            &["Content-Length: 1"],
            HandshakeError::InvalidKey,
        ),
        (
            &["Sec-WebSocket-Version: 8"],
            &["Sec-WebSocket-Protocol: a, a"],
            HandshakeError::UnsupportedVersion,
        ),
        (
            &[],
            &["Content-Length: 5", "Sec-WebSocket-Protocol: a, a"],
            HandshakeError::RequestContent,
        ),
        (
            &[],
            &["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="],
            HandshakeError::InvalidKey,
        ),
        (
            &[],
            &["Sec-WebSocket-Version: 13"],
            HandshakeError::UnsupportedVersion,
        ),
        (
            &[],
            &[
                "Sec-WebSocket-Protocol: a",
                "sec-websocket-protocol: b, A, a",
            ],
            HandshakeError::InvalidSubprotocol,
        ),
    ] {
        let after = request(g, replace, extra);
        // The same fields with the extra ones first.
        let text = String::from_utf8(after.clone()).unwrap();
        let (first, rest) = text.split_once("\r\n").unwrap();
        let lines: Vec<&str> = rest.trim_end_matches("\r\n").split("\r\n").collect();
        let (usual, added) = lines.split_at(lines.len() - extra.len());
        let before = format!(
            "{first}\r\n{}\r\n{}\r\n\r\n",
            added.join("\r\n"),
            usual.join("\r\n")
        );
        let (a, b) = (
            invariant(server, &after, false),
            invariant(server, before.as_bytes(), false),
        );
        assert_eq!(a.events, [Owned::Error(Error::Handshake(error))], "{text}");
        assert_eq!((&b.events, &b.out), (&a.events, &a.out), "{before}");
    }
}

// ---- 2, 3: already on main; here split at every byte ----

#[test]
fn early_data_over_the_bound_and_eof_while_pending() {
    // 16 bytes of frames may wait after the head; 17 may not.
    let make = || Connection::server(Config::default().with_max_handshake_size(200));
    let mut input = chat_request();
    input.extend(c2s(0x82, &[0; 10])); // 16 bytes
    let t = invariant(make, &input, false);
    assert_eq!(t.events.len(), 1);
    assert!(t.out.is_empty());
    let mut input = chat_request();
    input.extend(c2s(0x82, &[0; 195])); // 203 bytes
    let t = invariant(make, &input, false);
    assert_eq!(t.events.len(), 2, "{:?}", t.events);
    assert_eq!(
        t.events[1],
        Owned::Error(Error::Handshake(HandshakeError::EarlyDataTooLarge))
    );
    let e = HandshakeError::EarlyDataTooLarge;
    assert_eq!(
        String::from_utf8_lossy(&t.out),
        error_response("400 Bad Request", &e)
    );
    // The client leaves while its request awaits an answer: 1006, Done.
    let (mut conn, t) = feed_chunks(server(), &[&chat_request()], true);
    let t2 = invariant(server, &chat_request(), true);
    assert_eq!(t, t2);
    assert_eq!(t.events[1], Owned::Close(1006, String::new()));
    assert!(t.out.is_empty());
    assert_eq!(
        conn.sender().accept(&Accept::new(), &mut vec![]),
        Err(SendError::Closed)
    );
    assert!(is_done(&mut conn));
}

#[test]
fn pong_for_a_ping_after_our_close() {
    let make = || {
        let mut s = wstate::Connection::new_open(wstate::Role::Server, Config::default());
        s.sender()
            .close(CloseCode::NORMAL, "", &mut vec![])
            .unwrap();
        s
    };
    let mut input = c2s(0x89, b"are you there");
    input.extend(c2s(0x88, &close_payload(1000, "")));
    let t = invariant(make, &input, false);
    assert_eq!(
        t.events,
        [
            Owned::Ping(b"are you there".to_vec()),
            Owned::Close(1000, String::new())
        ]
    );
    assert_eq!(t.out, s2c(0x8A, b"are you there"));
}

// ---- 4: Upgrade ----

#[test]
fn upgrade_lists() {
    // A request may list protocols (RFC 9110 §7.8).
    accepted_request(&request(
        "GET / HTTP/1.1",
        &["Upgrade: h2c, websocket"],
        &[],
    ));
    // A response must say exactly "websocket" (RFC 6455 §4.1).
    let list = ACCEPT_101.replace("Upgrade: websocket", "Upgrade: websocket, h2c");
    client_fails(list.as_bytes(), HandshakeError::MissingUpgrade);
    let two = ACCEPT_101.replace("Upgrade: websocket", "Upgrade: websocket\r\nUpgrade: h2c");
    client_fails(two.as_bytes(), HandshakeError::MissingUpgrade);
    let again = ACCEPT_101.replace(
        "Upgrade: websocket",
        "Upgrade: websocket\r\nUpgrade: websocket",
    );
    client_fails(again.as_bytes(), HandshakeError::MissingUpgrade);
    let case = ACCEPT_101.replace("Upgrade: websocket", "upgrade: WebSocket");
    client_opens(case.as_bytes());
}

// ---- 5: 426 ----

#[test]
fn version_426_carries_upgrade() {
    let e = HandshakeError::UnsupportedVersion;
    let body = format!("{e}\n");
    let expected = format!(
        "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Content-Type: text/plain\r\nConnection: Upgrade, close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let input = request("GET / HTTP/1.1", &["Sec-WebSocket-Version: 8"], &[]);
    refused(&input, e, &expected);
    // The same when the caller refuses with 426.
    let out = answer(&chat_request(), |_, tx, out| {
        tx.reject(426, &[], b"", out).unwrap()
    });
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Connection: Upgrade, close\r\nContent-Length: 0\r\n\r\n"
    );
}

// ---- 6: Host ----

#[test]
fn invalid_hosts_get_400() {
    for host in [
        "a b",
        "a,b",
        "[::1",
        "a:b:c:d",
        "example.com:port",
        "",
        "[::1]x",
        "user@host",
    ] {
        let line = format!("Host: {host}");
        let input = request("GET / HTTP/1.1", &[&line], &[]);
        bad_request(&input, HandshakeError::InvalidHost);
    }
    for host in ["[::1]:9001", "1.2.3.4", "example.com:", "[v1.x]"] {
        let line = format!("Host: {host}");
        accepted_request(&request("GET / HTTP/1.1", &[&line], &[]));
    }
    // Sibling: our client sends only what our server accepts.
    for host in ["a b", "a,b", "[::1", "", "h:x"] {
        let r = ClientRequest::new(host, "/");
        assert_eq!(
            Connection::client(&r, fill_key, Config::default(), &mut vec![]).err(),
            Some(SendError::InvalidHeader),
            "{host:?}"
        );
    }
}

// ---- 7: request target ----

#[test]
fn request_targets() {
    use HandshakeError::InvalidTarget;
    for (target, why) in [
        ("*", "asterisk-form is for OPTIONS only"),
        ("example.com:80", "authority-form is for CONNECT only"),
        ("chat", "not origin-form or absolute-form"),
        ("/chat#frag", "a request target has no fragment"),
        ("/a{b}", "invalid character in the request target"),
        ("/%zz", "invalid character in the request target"),
        (
            "ftp://example.com/",
            "absolute-form with a scheme other than ws, wss, http, https",
        ),
        ("ws://u@example.com/", "userinfo in the request target"),
        ("ws:///chat", "invalid authority in the request target"),
    ] {
        let input = request(&format!("GET {target} HTTP/1.1"), &[], &[]);
        bad_request(&input, InvalidTarget(why));
    }
    let input = request(
        "GET ws://example.com:8080/chat?x=1 HTTP/1.1",
        &["Host: other.example"],
        &[],
    );
    accepted_request(&input);
    answer(&input, |r, _, _| {
        assert_eq!(r.path(), "/chat?x=1");
        assert_eq!(r.target(), "ws://example.com:8080/chat?x=1");
        // RFC 9112 §3.2.2: the target's authority, not the Host header.
        assert_eq!(r.authority(), "example.com:8080");
        assert_eq!(r.host(), Some("other.example"));
    });
    let input = request("GET HTTPS://example.com HTTP/1.1", &[], &[]);
    answer(&input, |r, _, _| {
        assert_eq!((r.path(), r.authority()), ("/", "example.com"));
    });
    // RFC 6455 §3: "?" only before a non-empty query.
    let input = request("GET /chat? HTTP/1.1", &[], &[]);
    answer(&input, |r, _, _| {
        assert_eq!((r.path(), r.target()), ("/chat", "/chat?"));
    });
    answer(&chat_request(), |r, _, _| {
        assert_eq!((r.path(), r.authority()), ("/chat", "example.com"));
    });
    // Sibling: our client's path follows the same grammar.
    for path in ["/a{b}", "/%zz", "/a#b", "*"] {
        let r = ClientRequest::new("h", path);
        assert_eq!(
            Connection::client(&r, fill_key, Config::default(), &mut vec![]).err(),
            Some(SendError::InvalidHeader),
            "{path:?}"
        );
    }
}

/// "A server MUST accept the absolute-form in requests" (RFC 9112 §3.2.2),
/// also with an empty path: an http(s) URI with "an empty path component"
/// is the same as one with "/" (RFC 9110 §4.2.3), and RFC 6455 §3 puts "/"
/// before the query. "When an origin server receives a request with an
/// absolute-form of request-target, the origin server MUST ignore the
/// received Host header field (if any) and instead use the host
/// information of the request-target": `authority()`. A `ws` or `wss` URI
/// names the same resource (RFC 6455 §3) and is taken too.
#[test]
fn absolute_form_with_a_query_and_no_path() {
    for scheme in ["http", "https", "ws", "wss", "HTTP"] {
        let target = format!("{scheme}://example.com:8080?x=1");
        let input = request(
            &format!("GET {target} HTTP/1.1"),
            &["Host: other.example"],
            &["Sec-WebSocket-Protocol: chat"],
        );
        accepted_request(&input);
        let out = answer(&input, |r, tx, out| {
            assert_eq!(r.path(), "/?x=1");
            assert_eq!(r.target(), target);
            assert_eq!(r.authority(), "example.com:8080");
            assert_eq!(r.host(), Some("other.example"));
            tx.accept(&Accept::new().subprotocol("chat"), out).unwrap();
        });
        let want = ACCEPT_101.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat\r\n\r\n");
        assert_eq!(String::from_utf8(out).unwrap(), want);
        let input = request(&format!("GET {scheme}://example.com? HTTP/1.1"), &[], &[]);
        answer(&input, |r, _, _| assert_eq!(r.path(), "/"));
    }
    // The frames after such a request arrive intact, in the read of the
    // request or in later ones, whole or cut: the name built for the
    // request is gone once it is answered.
    let head = request("GET http://example.com?room=12 HTTP/1.1", &[], &[]);
    let n = head.len();
    for (text, split) in [("hi", n + 3), ("hi", n), ("a text of some bytes", n + 8)] {
        let mut input = head.clone();
        input.extend(c2s(0x81, text.as_bytes()));
        input.extend(c2s(0x01, b"x"));
        input.extend(c2s(0x80, b"y"));
        let mut conn = server();
        let mut out = vec![];
        for piece in [&input[..split], &input[split..]] {
            conn.receive(piece);
            loop {
                match conn.poll_event(&mut out) {
                    Polled::Event(Event::Request(r), tx) => {
                        assert_eq!(r.path(), "/?room=12");
                        tx.accept(&Accept::new(), &mut out).unwrap();
                    }
                    Polled::Event(Event::Text(t), _) => out.extend_from_slice(t.as_bytes()),
                    Polled::NeedMore => break,
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{ACCEPT_101}{text}xy")
        );
    }
}

// ---- 8: 1xx and obs-fold on the client ----

/// A client offering `chat` whose nonce makes the RFC 6455 §1.3 key.
fn client() -> Connection {
    client_offering(&["chat"])
}

/// A client offering `protocols` whose nonce makes the RFC 6455 §1.3 key.
fn client_offering(protocols: &'static [&'static str]) -> Connection {
    let nonce = *b"the sample nonce";
    let mut first = true;
    let entropy = move |b: &mut [u8]| {
        if first && b.len() == 16 {
            b.copy_from_slice(&nonce);
            first = false;
        } else {
            fill_key(b);
        }
    };
    let r = ClientRequest::new("example.com", "/chat").subprotocols(protocols);
    Connection::client(&r, entropy, Config::default(), &mut vec![]).unwrap()
}

fn client_fails(input: &[u8], error: HandshakeError) {
    let t = invariant(client, input, false);
    assert_eq!(t.events, [Owned::Error(Error::Handshake(error))]);
    assert!(t.out.is_empty());
}

/// Feeds `input` every way: Accepted, then whatever frames follow.
fn client_opens(input: &[u8]) -> Transcript {
    let t = invariant(client, input, false);
    assert!(
        matches!(&t.events[..], [Owned::Other(s), ..] if s.starts_with("Accepted(")),
        "{:?}",
        t.events
    );
    assert!(t.out.is_empty());
    t
}

#[test]
fn interim_responses_are_skipped() {
    let mut input = b"HTTP/1.1 100 Continue\r\n\r\n\
        HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
        HTTP/1.1 102 Processing\r\n\r\n"
        .to_vec();
    input.extend_from_slice(ACCEPT_101.as_bytes());
    input.extend(s2c(0x81, b"hi"));
    let t = client_opens(&input);
    assert_eq!(t.events[1..], [Owned::Text("hi".into())]);
    // A refusal after an interim response is the refusal.
    let input =
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno";
    let t = invariant(client, input, false);
    let [Owned::Error(Error::Handshake(HandshakeError::Rejected(r)))] = &t.events[..] else {
        panic!("{:?}", t.events)
    };
    assert_eq!((r.status, &r.body[..]), (403, &b"no"[..]));
    // The head limit bounds the interim responses too.
    let make = || {
        let r = ClientRequest::new("h", "/");
        let config = Config::default().with_max_handshake_size(100);
        Connection::client(&r, fill_key, config, &mut vec![]).unwrap()
    };
    let input = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(5);
    let t = invariant(make, &input, false);
    assert_eq!(
        t.events,
        [Owned::Error(Error::Handshake(HandshakeError::HeadTooLarge))]
    );
}

/// How a refusal's body is delimited (RFC 9112 §6.3): its Content-Length,
/// which may be a list or several lines of the same value; an invalid one
/// ("the message framing is invalid") fails at once: "the user agent MUST
/// close the connection to the server and discard the received response".
/// Fields are unfolded first (RFC 9112 §5.2). A Transfer-Encoding
/// "overrides the Content-Length": the body runs to the end.
#[test]
fn a_refusal_is_framed_by_a_valid_content_length() {
    let refusal = |fields: &str, body: &str| {
        format!("HTTP/1.1 403 Forbidden\r\n{fields}\r\n{body}").into_bytes()
    };
    let rejected = |input: &[u8], eof: bool| {
        let t = invariant(client, input, eof);
        let [Owned::Error(Error::Handshake(HandshakeError::Rejected(r)))] = &t.events[..] else {
            panic!("{:?}", t.events)
        };
        assert!(t.out.is_empty());
        String::from_utf8(r.body.clone()).unwrap()
    };
    for fields in [
        "Content-Length: 2\r\n",
        "Content-Length: 2, 2\r\n",
        "Content-Length: 2,\r\n",
        "Content-Length: 02\r\n",
        "Content-Length: 2\r\nContent-Length: 2\r\n",
        "Content-Length:\r\n 2\r\n",
    ] {
        assert_eq!(
            rejected(&refusal(fields, "noXX"), false),
            "no",
            "{fields:?}"
        );
    }
    let invalid = HandshakeError::Malformed("invalid Content-Length in a refusal");
    for fields in [
        "Content-Length: +2\r\n",
        "Content-Length: 2, 3\r\n",
        "Content-Length: 2\r\nContent-Length: 3\r\n",
        "Content-Length:\r\n",
        "Content-Length: ,\r\n",
        "Content-Length: 2 2\r\n",
        "Content-Length: 0x2\r\n",
        "Content-Length: 2\r\n Forbidden\r\n",
        "Content-Length: 1\r\n Forbidden\r\nContent-Length: 1\r\n",
    ] {
        // Reported as soon as the head is whole: no body is waited for.
        client_fails(&refusal(fields, ""), invalid.clone());
        client_fails(&refusal(fields, "no"), invalid.clone());
    }
    // No length, or a Transfer-Encoding: the body runs to the end.
    for fields in ["", "Transfer-Encoding: chunked\r\nContent-Length: x\r\n"] {
        assert_eq!(rejected(&refusal(fields, "no"), true), "no", "{fields:?}");
    }
    // 204 and 304 have no body, whatever the fields say.
    let input = b"HTTP/1.1 204 No Content\r\nContent-Length: x\r\n\r\n";
    assert_eq!(rejected(input, false), "");
}

#[test]
fn obs_fold_in_a_response_is_unfolded() {
    let folded = ACCEPT_101.replace(
        "Upgrade: websocket",
        "Upgrade:\r\n websocket\r\nX-Long: a\r\n\tb",
    );
    let mut input = folded.into_bytes();
    input.extend(s2c(0x81, b"ok"));
    let t = client_opens(&input);
    assert_eq!(t.events[1..], [Owned::Text("ok".into())]);
    let mut conn = client();
    conn.receive(&input);
    let Polled::Event(Event::Accepted(a), _) = conn.poll_event(&mut vec![]) else {
        panic!()
    };
    assert_eq!(a.header("x-long"), Some(&b"a  \tb"[..]));
    // Whitespace before the first field is no fold (RFC 9112 §2.2).
    let bad = ACCEPT_101.replace("\r\nUpgrade", "\r\n Upgrade");
    client_fails(
        bad.as_bytes(),
        HandshakeError::Malformed("obsolete line folding is not accepted"),
    );
    // A server refuses folding with a 400 that says why (RFC 9112 §5.2).
    bad_request(
        &request_with(&["X-A: 1", " 2"]),
        HandshakeError::Malformed("obsolete line folding is not accepted"),
    );
}

#[test]
fn a_101_with_content_length_has_no_body() {
    // RFC 9112 §6.3: a 1xx ends at its blank line; what follows is frames.
    let head = ACCEPT_101.replace("\r\n\r\n", "\r\nContent-Length: 11\r\n\r\n");
    let mut input = head.into_bytes();
    input.extend(s2c(0x81, b"frame"));
    let t = client_opens(&input);
    assert_eq!(t.events[1..], [Owned::Text("frame".into())]);
}

// ---- 9: what a caller may add ----

#[test]
fn reject_rules() {
    let input = chat_request();
    let out = answer(&input, |_, tx, out| {
        tx.reject(204, &[("X-A", "1")], b"", out).unwrap()
    });
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 204 No Content\r\nX-A: 1\r\nConnection: close\r\n\r\n"
    );
    let out = answer(&input, |_, tx, out| tx.reject(405, &[], b"", out).unwrap());
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    let out = answer(&input, |_, tx, out| {
        tx.reject(401, &[("WWW-Authenticate", "Basic")], b"", out)
            .unwrap()
    });
    assert!(out.starts_with(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\n"));
    type Case = (
        u16,
        &'static [(&'static str, &'static str)],
        &'static [u8],
        SendError,
    );
    let cases: &[Case] = &[
        (204, &[], b"x", SendError::BodyNotAllowed),
        (304, &[], b"x", SendError::BodyNotAllowed),
        (401, &[], b"", SendError::MissingHeader("WWW-Authenticate")),
        (
            407,
            &[],
            b"",
            SendError::MissingHeader("Proxy-Authenticate"),
        ),
        (
            403,
            &[("Content-Length", "0")],
            b"",
            SendError::ReservedHeader,
        ),
        (
            403,
            &[("transfer-encoding", "chunked")],
            b"",
            SendError::ReservedHeader,
        ),
        (
            403,
            &[("Connection", "keep-alive")],
            b"",
            SendError::ReservedHeader,
        ),
        (403, &[("Upgrade", "h2c")], b"", SendError::ReservedHeader),
        (
            403,
            &[("Sec-WebSocket-Accept", "x")],
            b"",
            SendError::ReservedHeader,
        ),
        (403, &[("X", "a\r\nB: c")], b"", SendError::InvalidHeader),
    ];
    for (status, headers, body, error) in cases {
        let mut conn = server();
        let mut out = vec![];
        conn.receive(&input);
        assert!(matches!(conn.poll_event(&mut out), Polled::Event(..)));
        assert_eq!(
            conn.sender().reject(*status, headers, body, &mut out),
            Err(*error)
        );
        assert!(out.is_empty());
        // Still pending: a valid answer works.
        conn.sender().reject(403, &[], b"", &mut out).unwrap();
    }
    for name in [
        "Content-Length",
        "Connection",
        "Upgrade",
        "Sec-WebSocket-Extensions",
    ] {
        let mut conn = server();
        let mut out = vec![];
        conn.receive(&input);
        assert!(matches!(conn.poll_event(&mut out), Polled::Event(..)));
        let headers = [(name, "1")];
        let accept = Accept::new().headers(&headers);
        assert_eq!(
            conn.sender().accept(&accept, &mut out),
            Err(SendError::ReservedHeader)
        );
        assert!(out.is_empty());
    }
    for name in [
        "Host",
        "Upgrade",
        "Sec-WebSocket-Key",
        "Content-Length",
        "connection",
    ] {
        let headers = [(name, "1")];
        let r = ClientRequest::new("h", "/").headers(&headers);
        let mut out = vec![];
        assert_eq!(
            Connection::client(&r, fill_key, Config::default(), &mut out).err(),
            Some(SendError::ReservedHeader)
        );
        assert!(out.is_empty());
    }
}

// ---- 10: HTTP versions ----

#[test]
fn http_versions() {
    accepted_request(&request("GET / HTTP/1.2", &[], &[]));
    let e = HandshakeError::UnsupportedHttpMajorVersion;
    let expected = error_response("505 HTTP Version Not Supported", &e);
    refused(&request("GET / HTTP/2.0", &[], &[]), e.clone(), &expected);
    bad_request(
        &request("GET / HTTP/1.0", &[], &[]),
        HandshakeError::UnsupportedHttpVersion,
    );
    bad_request(
        &request("GET / HTTP/1.10", &[], &[]),
        HandshakeError::Malformed("invalid HTTP version"),
    );
    client_opens(ACCEPT_101.replace("HTTP/1.1", "HTTP/1.2").as_bytes());
    client_fails(ACCEPT_101.replace("HTTP/1.1", "HTTP/2.0").as_bytes(), e);
}

// ---- 11: subprotocols and lists ----

#[test]
fn subprotocol_tokens() {
    for offer in ["chat, chat", "chat, \"quoted\"", "a/b", "chat, x y"] {
        let line = format!("Sec-WebSocket-Protocol: {offer}");
        bad_request(&request_with(&[&line]), HandshakeError::InvalidSubprotocol);
    }
    let two = request_with(&[
        "Sec-WebSocket-Protocol: chat",
        "Sec-WebSocket-Protocol: chat",
    ]);
    bad_request(&two, HandshakeError::InvalidSubprotocol);
    accepted_request(&request_with(&["Sec-WebSocket-Protocol: chat, Chat"]));
    for protocols in [&["chat", "chat"][..], &["a b"], &[""], &["a,b"]] {
        let r = ClientRequest::new("h", "/").subprotocols(protocols);
        assert_eq!(
            Connection::client(&r, fill_key, Config::default(), &mut vec![]).err(),
            Some(SendError::InvalidSubprotocol),
            "{protocols:?}"
        );
    }
    let input = request_with(&["Sec-WebSocket-Extensions: x; p=\"a,b\", y; q=\"\\\",\""]);
    answer(&input, |r, _, _| {
        let ext: Vec<&str> = r.extensions().collect();
        assert_eq!(ext, ["x; p=\"a,b\"", "y; q=\"\\\",\""]);
    });
}

/// RFC 6455 §4.1: a `Sec-WebSocket-Protocol` in the `101` must name exactly
/// one subprotocol the client offered ("If the response includes a
/// |Sec-WebSocket-Protocol| header field and this header field indicates
/// the use of a subprotocol that was not present in the client's handshake
/// ..., the client MUST _Fail the WebSocket Connection_"). An empty value
/// or a bare comma names none: it is no answer, and refused.
#[test]
fn the_101_names_exactly_one_offered_subprotocol() {
    let with = |lines: &[&str]| {
        let mut fields = String::new();
        for line in lines {
            fields.push_str(line);
            fields.push_str("\r\n");
        }
        ACCEPT_101.replace("\r\n\r\n", &format!("\r\n{fields}\r\n"))
    };
    let t = client_opens(with(&["Sec-WebSocket-Protocol: chat"]).as_bytes());
    assert_eq!(t.events.len(), 1);
    for lines in [
        &["Sec-WebSocket-Protocol:"][..],
        &["Sec-WebSocket-Protocol: "],
        &["Sec-WebSocket-Protocol: ,"],
        &["Sec-WebSocket-Protocol: chat,"],
        &["Sec-WebSocket-Protocol: , chat"],
        &["Sec-WebSocket-Protocol: chat, chat"],
        &[
            "Sec-WebSocket-Protocol: chat",
            "Sec-WebSocket-Protocol: chat",
        ],
        &["Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol:"],
        &["Sec-WebSocket-Protocol: Chat"],
        &["Sec-WebSocket-Protocol: \"chat\""],
    ] {
        client_fails(
            with(lines).as_bytes(),
            HandshakeError::UnexpectedSubprotocol,
        );
    }
    // A client that offered none: any such field, even empty, is refused.
    let bare = || client_offering(&[]);
    for value in ["", ",", "chat"] {
        let line = format!("Sec-WebSocket-Protocol: {value}");
        let t = invariant(bare, with(&[&line]).as_bytes(), false);
        assert_eq!(
            t.events,
            [Owned::Error(Error::Handshake(
                HandshakeError::UnexpectedSubprotocol
            ))],
            "{value:?}"
        );
    }
}

// ---- 12: the smaller ones ----

/// "A server that receives both an Upgrade and an Expect header field with
/// the "100-continue" expectation (Section 10.1.1) MUST send a 100
/// (Continue) response before sending a 101 (Switching Protocols)
/// response" (RFC 9110 §7.8); "The expectation is case-insensitive"
/// (§10.1.1). A refusal needs no 100: "A server MAY omit sending a 100
/// (Continue) response if ... the framing indicates that there is no
/// content" (§10.1.1).
#[test]
fn expect_100_continue_gets_a_100_before_the_101() {
    const CONTINUE: &str = "HTTP/1.1 100 Continue\r\n\r\n";
    for expect in [
        "Expect: 100-continue",
        "Expect: 100-Continue",
        "Expect: 100-continue, x-other",
    ] {
        let input = request_with(&[expect, "Sec-WebSocket-Protocol: chat"]);
        accepted_request(&input);
        let out = answer(&input, |r, tx, out| {
            assert!(r.expects_continue());
            tx.accept(&Accept::new(), out).unwrap();
        });
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{CONTINUE}{ACCEPT_101}"),
            "{expect}"
        );
        // Also on the path that reads the request again (a subprotocol).
        let out = answer(&input, |_, tx, out| {
            tx.accept(&Accept::new().subprotocol("chat"), out).unwrap();
        });
        let with_protocol =
            ACCEPT_101.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat\r\n\r\n");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{CONTINUE}{with_protocol}")
        );
        // A refusal: no 100.
        let out = answer(&input, |_, tx, out| tx.reject(403, &[], b"", out).unwrap());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        );
        // An answer that fails writes nothing, the 100 included.
        let out = answer(&input, |_, tx, out| {
            let e = tx.accept(&Accept::new().subprotocol("other"), out);
            assert_eq!(e, Err(SendError::SubprotocolNotOffered));
        });
        assert!(out.is_empty());
    }
    // Without it, or with another expectation only: the 101 alone.
    for extra in [&[][..], &["Expect: x-other"], &["X-Expect: 100-continue"]] {
        let out = answer(&request_with(extra), |r, tx, out| {
            assert!(!r.expects_continue());
            tx.accept(&Accept::new(), out).unwrap();
        });
        assert_eq!(String::from_utf8(out).unwrap(), ACCEPT_101, "{extra:?}");
    }
    // Our client, asked to send the expectation, skips the 100 and opens.
    let r = ClientRequest::new("example.com", "/chat").headers(&[("Expect", "100-continue")]);
    let mut out = vec![];
    let mut client = Connection::client(&r, fill_key, Config::default(), &mut out).unwrap();
    let mut server = server();
    server.receive(&out);
    let mut answer = vec![];
    match server.poll_event(&mut answer) {
        Polled::Event(Event::Request(_), tx) => tx.accept(&Accept::new(), &mut answer).unwrap(),
        other => panic!("{other:?}"),
    }
    assert!(answer.starts_with(CONTINUE.as_bytes()));
    client.receive(&answer);
    assert!(matches!(
        client.poll_event(&mut out),
        Polled::Event(Event::Accepted(_), _)
    ));
}

#[test]
fn bare_lf_is_refused_at_once() {
    let e = HandshakeError::Malformed("bare LF line terminator");
    // No EOF needed: the first bare LF decides.
    bad_request(b"GET / HTTP/1.1\nHost: a\n\n", e.clone());
    bad_request(b"GET / HTTP/1.1\r\nHost: a\n", e.clone());
    bad_request(b"\n", e.clone());
    client_fails(b"HTTP/1.1 101 Switching Protocols\nUpgrade", e);
}

/// A CR that no LF follows is a byte of its line, not a line end: a field
/// value or request line holding one is refused for that byte.
#[test]
fn a_bare_cr_is_a_byte_of_its_line() {
    bad_request(
        &request_with(&["Origin: http://a\rb.example"]),
        HandshakeError::Malformed("invalid byte in header value"),
    );
    bad_request(
        &request("GET /a\rb HTTP/1.1", &[], &[]),
        HandshakeError::Malformed("invalid request target"),
    );
    client_fails(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: web\rsocket\r\n\r\n",
        HandshakeError::Malformed("invalid byte in header value"),
    );
}

/// Fields whose names are as long as those the rules read are not taken
/// for them: the rules match names, not lengths.
#[test]
fn fields_are_told_apart_by_name() {
    // Pragma (as long as Expect), Accept-Charset (Content-Length),
    // If-Modified-Since (Transfer-Encoding), X-Custom-Header-Abcde
    // (Sec-WebSocket-Version), X-Custom-Header-Abcdef (-Protocol): a 101,
    // without a 100.
    let input = request_with(&[
        "Pragma: 100-continue",
        "Accept-Charset: 5",
        "If-Modified-Since: 1",
        "X-Custom-Header-Abcde: 8",
        "X-Custom-Header-Abcdef: a, a",
    ]);
    let out = answer(&input, |r, tx, out| {
        assert!(!r.expects_continue());
        tx.accept(&Accept::new(), out).unwrap();
    });
    assert_eq!(String::from_utf8(out).unwrap(), ACCEPT_101);
    // Referer (as long as Upgrade), User-Agent (Connection).
    let g = "GET /chat HTTP/1.1";
    bad_request(
        &request(g, &["Upgrade:"], &["Referer: websocket"]),
        HandshakeError::MissingUpgrade,
    );
    bad_request(
        &request(g, &["Connection:"], &["User-Agent: upgrade"]),
        HandshakeError::MissingConnectionUpgrade,
    );
}

#[test]
fn empty_lines_before_the_request_line_are_ignored() {
    let mut input = b"\r\n\r\n".to_vec();
    input.extend(request_with(&["Sec-WebSocket-Protocol: chat"]));
    accepted_request(&input);
    let out = answer(&input, |r, tx, out| {
        assert_eq!(r.path(), "/chat");
        tx.accept(&Accept::new().subprotocol("chat"), out).unwrap()
    });
    assert!(out.ends_with(b"Sec-WebSocket-Protocol: chat\r\n\r\n"));
}

/// The request line may be 8 KiB (8192 bytes) long: one that long with a
/// head too large because of a field is 431; one byte longer, 414.
#[test]
fn a_request_line_of_8_kib_is_not_what_is_too_long() {
    let filler = format!("X-Filler: {}", "a".repeat(9000));
    for (len, e, status) in [
        (
            8192,
            HandshakeError::HeadTooLarge,
            "431 Request Header Fields Too Large",
        ),
        (8193, HandshakeError::TargetTooLong, "414 URI Too Long"),
    ] {
        let line = format!("GET /{} HTTP/1.1", "a".repeat(len - 14));
        assert_eq!(line.len(), len);
        let expected = error_response(status, &e);
        refused(&request(&line, &[], &[&filler]), e, &expected);
    }
    // Without the filler the head fits: 8192 bytes are accepted.
    let line = format!("GET /{} HTTP/1.1", "a".repeat(8192 - 14));
    accepted_request(&request(&line, &[], &[]));
}

#[test]
fn long_target_is_414_long_fields_431() {
    let e = HandshakeError::TargetTooLong;
    let expected = error_response("414 URI Too Long", &e);
    let target = format!("/{}", "a".repeat(9000));
    refused(
        &request(&format!("GET {target} HTTP/1.1"), &[], &[]),
        e.clone(),
        &expected,
    );
    // Still in the request line when the head limit passes.
    let endless = format!("GET /{}", "a".repeat(16 << 10));
    refused(endless.as_bytes(), e, &expected);
    let filler = format!("X-Filler: {}", "a".repeat(9000));
    let e = HandshakeError::HeadTooLarge;
    let expected = error_response("431 Request Header Fields Too Large", &e);
    refused(&request_with(&[&filler]), e, &expected);
}

#[test]
fn close_1010_is_for_clients() {
    let make = || wstate::Connection::new_open(wstate::Role::Server, Config::default());
    let t = invariant(make, &c2s(0x88, &close_payload(1010, "deflate")), false);
    assert_eq!(t.events, [Owned::Close(1010, "deflate".into())]);
    // §7.4.1: 1010 "is not used by the server": the reply says 1000.
    assert_eq!(t.out, server_close(1000, ""));
    let mut s = make();
    assert_eq!(
        s.sender()
            .close(CloseCode::MANDATORY_EXTENSION, "", &mut vec![]),
        Err(SendError::InvalidCloseCode(CloseCode::MANDATORY_EXTENSION))
    );
    let mut c = common::client();
    let mut out = vec![];
    c.sender()
        .close(CloseCode::MANDATORY_EXTENSION, "", &mut out)
        .unwrap();
    assert_eq!(out, c2s(0x88, &close_payload(1010, "")));
    // A client echoes what a server should not send.
    let t = invariant(common::client, &server_close(1010, ""), false);
    assert_eq!(t.events, [Owned::Close(1010, String::new())]);
    assert_eq!(t.out, c2s(0x88, &close_payload(1010, "")));
}

#[test]
fn an_error_after_our_close_sends_nothing() {
    let make = || {
        let mut s = wstate::Connection::new_open(wstate::Role::Server, Config::default());
        s.sender()
            .close(CloseCode::NORMAL, "bye", &mut vec![])
            .unwrap();
        s
    };
    let input = c2s(0x83, b"x"); // reserved opcode
    let t = invariant(make, &input, false);
    let [Owned::Error(e)] = &t.events[..] else {
        panic!("{:?}", t.events)
    };
    assert_eq!(*e, Error::Protocol(ProtocolError::ReservedOpCode(3)));
    assert_eq!(e.close_code(), Some(CloseCode::PROTOCOL_ERROR));
    assert!(t.out.is_empty(), "no second Close");
    // What went out is our earlier Close.
    let (conn, _) = feed_chunks(make(), &[&input], false);
    assert_eq!(conn.sent_close().map(|f| f.code), Some(CloseCode::NORMAL));
}

/// A bare LF past the head limit: 431 however the bytes arrive (found by
/// fuzzing: whole, the LF was seen first and answered 400; byte by byte,
/// the limit was). Both roles.
#[test]
fn bare_lf_past_the_limit_is_431_at_every_split() {
    let mut input = b"GET / HTTP/1.1\r\nHost: h\r\nX-Long: ".to_vec();
    input.resize(100, b'a');
    input.extend_from_slice(b"\n\r\n");
    let t = invariant(
        || Connection::server(Config::default().with_max_handshake_size(64)),
        &input,
        false,
    );
    assert_eq!(
        t.events,
        [Owned::Error(Error::Handshake(HandshakeError::HeadTooLarge))]
    );
    assert!(t.out.starts_with(b"HTTP/1.1 431 "));
    // Before the limit, a bare LF is refused at once with 400.
    let t = invariant(
        || Connection::server(Config::default().with_max_handshake_size(64)),
        b"GET / HTTP/1.1\nHost: h\r\n\r\n",
        false,
    );
    assert!(t.out.starts_with(b"HTTP/1.1 400 "), "{:?}", t.events);
}

/// A request line that ends right at the head limit (its CR the last byte
/// allowed, its LF the first past it) is not what is too long: 431, not
/// 414, at every split. One byte longer, and it is: 414.
#[test]
fn a_request_line_ending_at_the_limit_is_431() {
    let line = format!("GET /{} HTTP/1.1", "a".repeat(85)); // 99 bytes
    assert_eq!(line.len(), 99);
    let input = format!("{line}\r\nHost: h\r\n\r\n");
    let make = || Connection::server(Config::default().with_max_handshake_size(100));
    let t = invariant(make, input.as_bytes(), false);
    assert_eq!(
        t.events,
        [Owned::Error(Error::Handshake(HandshakeError::HeadTooLarge))]
    );
    assert!(t.out.starts_with(b"HTTP/1.1 431 "));
    let input = format!("{line}a\r\nHost: h\r\n\r\n");
    let t = invariant(make, input.as_bytes(), false);
    assert_eq!(
        t.events,
        [Owned::Error(Error::Handshake(
            HandshakeError::TargetTooLong
        ))]
    );
    assert!(t.out.starts_with(b"HTTP/1.1 414 "));
}

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
    refused_by(
        config,
        &over,
        HandshakeError::HeadTooLarge,
        &refusal_response(
            "431 Request Header Fields Too Large",
            "",
            "HTTP head too large\n",
        ),
    );
}

/// RFC 6455 §4.1: the request "MUST include a header field with the name
/// |Sec-WebSocket-Version|" whose value is 13; two of them are not one
/// version: 426 with the version the server speaks (§4.4).
#[test]
fn duplicate_version_refused_with_426() {
    let response = refusal_response(
        "426 Upgrade Required",
        "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
        "Sec-WebSocket-Version is not 13\n",
    );
    for second in ["13", "8"] {
        let request = request_with(&[format!("Sec-WebSocket-Version: {second}")]);
        refused_by(
            Config::default(),
            &request,
            HandshakeError::UnsupportedVersion,
            &response,
        );
    }
}

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
    let accept = accept_for(&out);
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
