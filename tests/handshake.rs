//! The opening handshake: server and client, every rejection path, and
//! heads split at every byte.

mod common;
use common::*;
use wstate::handshake::accept_key;
use wstate::{
    Accept, ClientRequest, Config, Connection, ConnectionState, Error, Event, HandshakeError,
    Message, Polled, SendError,
};

const KEY_HDR: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT_HDR: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A request as a browser sends it, with `extra` header lines appended.
fn browser_request(lines: &[&str]) -> Vec<u8> {
    let mut head = String::from("GET /chat?room=1 HTTP/1.1\r\n");
    for line in lines {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

fn good_lines() -> Vec<&'static str> {
    vec![
        "Host: server.example.com",
        "Upgrade: websocket",
        "Connection: keep-alive, Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Origin: http://example.com",
        "Sec-WebSocket-Protocol: chat, superchat",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
        "Sec-WebSocket-Version: 13",
    ]
}

fn good_request() -> Vec<u8> {
    browser_request(&good_lines())
}

#[test]
fn rfc_accept_key() {
    // RFC 6455 §1.3.
    assert_eq!(&accept_key(KEY_HDR.as_bytes()), ACCEPT_HDR.as_bytes());
}

#[test]
fn server_accepts_with_subprotocol() {
    let mut conn = Connection::server(Config::default());
    assert_eq!(conn.state(), ConnectionState::Connecting);
    let mut out = vec![];
    conn.receive(&good_request());
    match conn.poll_event(&mut out) {
        Polled::Event(Event::Request(req), _) => {
            assert_eq!(req.method(), "GET");
            assert_eq!(req.path(), "/chat?room=1");
            assert_eq!(req.host(), Some("server.example.com"));
            assert_eq!(req.origin(), Some("http://example.com"));
            assert_eq!(
                req.subprotocols().collect::<Vec<_>>(),
                ["chat", "superchat"]
            );
            assert_eq!(
                req.extensions().collect::<Vec<_>>(),
                ["permessage-deflate; client_max_window_bits"]
            );
            assert_eq!(req.header("SEC-WEBSOCKET-VERSION"), Some(&b"13"[..]));
            assert_eq!(req.headers().iter().count(), 8);
        }
        other => panic!("{other:?}"),
    }
    // Waiting for the answer: nothing else happens, nothing can be sent.
    assert_eq!(poll(&mut conn, &mut out), Ok(None));
    assert_eq!(
        conn.sender().send(Message::Text("x"), &mut out),
        Err(SendError::NotOpen)
    );
    assert_eq!(
        conn.sender()
            .accept(&Accept::new().subprotocol("other"), &mut out),
        Err(SendError::SubprotocolNotOffered)
    );
    assert_eq!(
        conn.sender()
            .accept(&Accept::new().headers(&[("Bad Name", "x")]), &mut out),
        Err(SendError::InvalidHeader)
    );
    assert!(out.is_empty());
    conn.sender()
        .accept(
            &Accept::new()
                .subprotocol("superchat")
                .headers(&[("X-Server", "wstate")]),
            &mut out,
        )
        .unwrap();
    let expected = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {ACCEPT_HDR}\r\nSec-WebSocket-Protocol: superchat\r\nX-Server: wstate\r\n\r\n"
    );
    assert_eq!(String::from_utf8(out.clone()).unwrap(), expected);
    assert_eq!(conn.state(), ConnectionState::Open);
    assert_eq!(
        conn.sender().accept(&Accept::new(), &mut out),
        Err(SendError::NoPendingRequest)
    );
}

#[test]
fn server_request_split_at_every_byte() {
    let mut input = good_request();
    input.extend(c2s(0x81, b"pipelined"));
    let t = invariant(|| Connection::server(Config::default()), &input, false);
    assert_eq!(t.events.len(), 1);
    assert!(
        matches!(&t.events[0], Owned::Other(s) if s.starts_with("Request(")),
        "{:?}",
        t.events
    );
    assert!(t.out.is_empty());
}

#[test]
fn pipelined_frame_after_request_is_processed_after_accept() {
    let mut input = good_request();
    input.extend(c2s(0x81, b"early"));
    input.extend(c2s(0x89, b"p"));
    let mut conn = Connection::server(Config::default());
    let mut out = vec![];
    conn.receive(&input);
    assert!(matches!(
        conn.poll_event(&mut out),
        Polled::Event(Event::Request(_), _)
    ));
    conn.sender().accept(&Accept::new(), &mut out).unwrap();
    out.clear();
    assert_eq!(
        poll(&mut conn, &mut out),
        Ok(Some(Owned::Text("early".into())))
    );
    assert_eq!(
        poll(&mut conn, &mut out),
        Ok(Some(Owned::Ping(b"p".to_vec())))
    );
    assert_eq!(poll(&mut conn, &mut out), Ok(None));
    assert_eq!(out, s2c(0x8A, b"p"));
}

/// Feeds a request and expects the handshake to fail with `error` and the
/// response starting with `status_line` to be queued.
fn expect_refused(input: &[u8], error: HandshakeError, status_line: &str) {
    let t = invariant(|| Connection::server(Config::default()), input, false);
    assert_eq!(
        t.events,
        vec![Owned::Error(Error::Handshake(error.clone()))],
        "{status_line}"
    );
    let response = String::from_utf8_lossy(&t.out);
    assert!(response.starts_with(status_line), "{response}");
    assert!(
        response.contains("\r\nConnection: close\r\n")
            || response.contains("\r\nConnection: Upgrade, close\r\n"),
        "{response}"
    );
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(response.contains(&format!("Content-Length: {}\r\n", body.len())));
    assert_eq!(body, format!("{error}\n"));
    let (mut conn, _) = feed_chunks(Connection::server(Config::default()), &[input], false);
    assert!(is_done(&mut conn));
    assert_eq!(conn.state(), ConnectionState::Closed);
}

fn without(name: &str) -> Vec<u8> {
    let lines: Vec<&str> = good_lines()
        .into_iter()
        .filter(|l| !l.starts_with(name))
        .collect();
    browser_request(&lines)
}

fn replaced(name: &str, line: &'static str) -> Vec<u8> {
    let lines: Vec<&str> = good_lines()
        .into_iter()
        .map(|l| if l.starts_with(name) { line } else { l })
        .collect();
    browser_request(&lines)
}

#[test]
fn every_rejection_path() {
    use HandshakeError::*;
    const BAD: &str = "HTTP/1.1 400 Bad Request\r\n";
    expect_refused(&without("Host"), MissingHost, BAD);
    let mut lines = good_lines();
    lines.push("Host: other.example"); // RFC 9112 §3.2: exactly one Host
    expect_refused(&browser_request(&lines), MissingHost, BAD);
    expect_refused(&without("Upgrade"), MissingUpgrade, BAD);
    expect_refused(&replaced("Upgrade", "Upgrade: h2c"), MissingUpgrade, BAD);
    expect_refused(&without("Connection"), MissingConnectionUpgrade, BAD);
    expect_refused(
        &replaced("Connection", "Connection: keep-alive"),
        MissingConnectionUpgrade,
        BAD,
    );
    expect_refused(&without("Sec-WebSocket-Key"), InvalidKey, BAD);
    // 15 bytes of base64, 17 bytes, and not base64.
    expect_refused(
        &replaced(
            "Sec-WebSocket-Key",
            "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA",
        ),
        InvalidKey,
        BAD,
    );
    expect_refused(
        &replaced(
            "Sec-WebSocket-Key",
            "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=",
        ),
        InvalidKey,
        BAD,
    );
    expect_refused(
        &replaced(
            "Sec-WebSocket-Key",
            "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==",
        ),
        InvalidKey,
        BAD,
    );
    let mut lines = good_lines();
    lines.push("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==");
    expect_refused(&browser_request(&lines), InvalidKey, BAD);
    const UPGRADE: &str =
        "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
    expect_refused(
        &without("Sec-WebSocket-Version"),
        UnsupportedVersion,
        UPGRADE,
    );
    expect_refused(
        &replaced("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"),
        UnsupportedVersion,
        UPGRADE,
    );
    let mut post = good_request();
    post.splice(..3, *b"POST");
    expect_refused(
        &post,
        MethodNotGet,
        "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\n",
    );
    let http10 = String::from_utf8(good_request())
        .unwrap()
        .replacen("HTTP/1.1", "HTTP/1.0", 1);
    expect_refused(http10.as_bytes(), UnsupportedHttpVersion, BAD);
    let mut lines = good_lines();
    lines.push("Bad Header: x");
    expect_refused(
        &browser_request(&lines),
        Malformed("invalid header name"),
        BAD,
    );
    expect_refused(
        b"GET  / HTTP/1.1\r\n\r\n",
        Malformed("request line is not 'METHOD TARGET VERSION'"),
        BAD,
    );
}

#[test]
fn oversized_heads_get_431() {
    const TOO_LARGE: &str = "HTTP/1.1 431 Request Header Fields Too Large\r\n";
    let filler = format!("X-Filler: {}", "a".repeat(17 << 10));
    let mut lines = good_lines();
    lines.push(&filler);
    expect_refused(
        &browser_request(&lines),
        HandshakeError::HeadTooLarge,
        TOO_LARGE,
    );
    // No end of head in sight: refused once the limit is passed.
    let endless = vec![b'a'; (16 << 10) + 1];
    let (_, t) = feed_chunks(Connection::server(Config::default()), &[&endless], false);
    assert_eq!(
        t.events,
        vec![Owned::Error(Error::Handshake(HandshakeError::HeadTooLarge))]
    );
    let many: Vec<String> = (0..65).map(|i| format!("X-{i}: v")).collect();
    let mut lines = good_lines();
    lines.extend(many.iter().map(String::as_str));
    expect_refused(
        &browser_request(&lines),
        HandshakeError::TooManyHeaders,
        TOO_LARGE,
    );
}

#[test]
fn eof_during_handshake() {
    let (mut conn, t) = feed_chunks(Connection::server(Config::default()), &[b"GET / HT"], true);
    assert_eq!(
        t.events,
        vec![Owned::Error(Error::Handshake(
            HandshakeError::UnexpectedEof
        ))]
    );
    assert!(t.out.is_empty());
    assert!(is_done(&mut conn));
}

#[test]
fn server_rejects_with_status_headers_and_body() {
    let mut conn = Connection::server(Config::default());
    let mut out = vec![];
    assert_eq!(
        conn.sender().reject(403, &[], b"", &mut out),
        Err(SendError::NoPendingRequest)
    );
    conn.receive(&good_request());
    assert!(matches!(
        conn.poll_event(&mut out),
        Polled::Event(Event::Request(_), _)
    ));
    assert_eq!(
        conn.sender().reject(101, &[], b"", &mut out),
        Err(SendError::InvalidStatus)
    );
    conn.sender()
        .reject(403, &[("X-Why", "origin")], b"go away", &mut out)
        .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 403 Forbidden\r\nX-Why: origin\r\nConnection: close\r\nContent-Length: 7\r\n\r\ngo away"
    );
    assert!(is_done(&mut conn));
}

// ---- client ----

/// The key a client derives from the test entropy (KEY repeated).
fn client_key() -> String {
    use base64::Engine;
    let mut nonce = [0u8; 16];
    fill_key(&mut nonce);
    base64::engine::general_purpose::STANDARD.encode(nonce)
}

fn new_client(protocols: &'static [&'static str]) -> (Connection, Vec<u8>) {
    let mut out = vec![];
    let request = ClientRequest::new("example.com:9001", "/path?q=1")
        .subprotocols(protocols)
        .headers(&[("Origin", "http://example.com")]);
    let conn = Connection::client(&request, fill_key, Config::default(), &mut out).unwrap();
    (conn, out)
}

fn response(lines: &[String]) -> Vec<u8> {
    let mut r = String::from("HTTP/1.1 101 Switching Protocols\r\n");
    for l in lines {
        r.push_str(l);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    r.into_bytes()
}

fn good_response_lines() -> Vec<String> {
    let accept = accept_key(client_key().as_bytes());
    vec![
        "Upgrade: websocket".into(),
        "Connection: Upgrade".into(),
        format!(
            "Sec-WebSocket-Accept: {}",
            std::str::from_utf8(&accept).unwrap()
        ),
    ]
}

#[test]
fn client_request_bytes() {
    let (conn, out) = new_client(&["chat", "superchat"]);
    assert_eq!(conn.state(), ConnectionState::Connecting);
    let expected = format!(
        "GET /path?q=1 HTTP/1.1\r\nHost: example.com:9001\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
         Origin: http://example.com\r\n\r\n",
        client_key()
    );
    assert_eq!(String::from_utf8(out).unwrap(), expected);
    let mut out = vec![];
    for bad in [
        ClientRequest::new("", "/"),
        ClientRequest::new("h", "no-slash"),
        ClientRequest::new("h", "/a b"),
    ] {
        assert_eq!(
            Connection::client(&bad, fill_key, Config::default(), &mut out).err(),
            Some(SendError::InvalidHeader)
        );
    }
    let bad = ClientRequest::new("h", "/").headers(&[("X", "a\r\nInjected: yes")]);
    assert_eq!(
        Connection::client(&bad, fill_key, Config::default(), &mut out).err(),
        Some(SendError::InvalidHeader)
    );
    assert!(out.is_empty());
}

#[test]
fn client_accepts_101_split_at_every_byte_with_pipelined_frame() {
    let mut lines = good_response_lines();
    lines.push("Sec-WebSocket-Protocol: superchat".into());
    let mut input = response(&lines);
    input.extend(s2c(0x81, b"welcome"));
    let make = || new_client(&["chat", "superchat"]).0;
    let t = invariant(make, &input, false);
    assert_eq!(t.events.len(), 2, "{:?}", t.events);
    assert!(
        matches!(&t.events[0], Owned::Other(s) if s.contains("Some(\"superchat\")")),
        "{:?}",
        t.events
    );
    assert_eq!(t.events[1], Owned::Text("welcome".into()));
    let mut conn = make();
    let mut out = vec![];
    conn.receive(&input);
    match conn.poll_event(&mut out) {
        Polled::Event(Event::Accepted(a), _) => {
            assert_eq!(a.subprotocol(), Some("superchat"));
            assert_eq!(a.header("upgrade"), Some(&b"websocket"[..]));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(conn.state(), ConnectionState::Open);
}

fn expect_client_error(protocols: &'static [&'static str], input: &[u8], error: HandshakeError) {
    let make = || new_client(protocols).0;
    let t = invariant(make, input, false);
    assert_eq!(t.events, vec![Owned::Error(Error::Handshake(error))]);
    assert!(
        t.out.is_empty(),
        "a client sends nothing on a failed handshake"
    );
    let (mut conn, _) = feed_chunks(make(), &[input], false);
    assert!(is_done(&mut conn));
}

#[test]
fn client_rejection_paths() {
    use HandshakeError::*;
    let good = good_response_lines();
    let mut wrong = good.clone();
    wrong[2] = format!("Sec-WebSocket-Accept: {ACCEPT_HDR}");
    expect_client_error(&[], &response(&wrong), InvalidAccept);
    expect_client_error(&[], &response(&good[..2]), InvalidAccept);
    expect_client_error(&[], &response(&good[1..]), MissingUpgrade);
    expect_client_error(
        &[],
        &response(&[good[0].clone(), good[2].clone()]),
        MissingConnectionUpgrade,
    );
    let mut proto = good.clone();
    proto.push("Sec-WebSocket-Protocol: superchat".into());
    expect_client_error(&[], &response(&proto), UnexpectedSubprotocol);
    expect_client_error(&["chat"], &response(&proto), UnexpectedSubprotocol);
    let mut two = good.clone();
    two.push("Sec-WebSocket-Protocol: chat, superchat".into());
    expect_client_error(
        &["chat", "superchat"],
        &response(&two),
        UnexpectedSubprotocol,
    );
    let mut ext = good.clone();
    ext.push("Sec-WebSocket-Extensions: permessage-deflate".into());
    expect_client_error(&[], &response(&ext), UnexpectedExtension);
    expect_client_error(
        &[],
        b"HTTP/1.1 101 OK\r\nbad line\r\n\r\n",
        Malformed("header line without ':'"),
    );
}

#[test]
fn client_cut_short_fails_only_at_eof() {
    let (mut conn, _) = new_client(&[]);
    let mut out = vec![];
    conn.receive(b"HTTP/1.1 101");
    assert_eq!(poll(&mut conn, &mut out), Ok(None));
    conn.receive_eof();
    assert_eq!(
        poll(&mut conn, &mut out),
        Err(Error::Handshake(HandshakeError::UnexpectedEof))
    );
}

#[test]
fn client_gets_status_headers_and_body_of_non_101() {
    // No Content-Length: the body runs until the server closes.
    let input =
        b"HTTP/1.1 302 Found\r\nLocation: ws://elsewhere/\r\nSet-Cookie: a=\xffb\r\n\r\nmoved";
    let (mut conn, _) = new_client(&[]);
    let mut out = vec![];
    conn.receive(input);
    assert!(matches!(conn.poll_event(&mut out), Polled::NeedMore));
    conn.receive_eof();
    match conn.poll_event(&mut out) {
        Polled::Failed(Error::Handshake(HandshakeError::Rejected(r))) => {
            assert_eq!(r.status, 302);
            assert_eq!(r.reason, "Found");
            assert_eq!(r.header("location"), Some("ws://elsewhere/"));
            // Lossy, so that it prints readably.
            assert_eq!(r.header("set-cookie"), Some("a=\u{fffd}b"));
            assert_eq!(r.headers.len(), 2);
            assert_eq!(r.body, b"moved");
            let debug = format!("{r:?}");
            assert!(debug.contains("\"ws://elsewhere/\""), "{debug}");
        }
        other => panic!("{other:?}"),
    }
    assert!(out.is_empty());
    assert!(is_done(&mut conn));
}

#[test]
fn client_rejection_body_by_content_length_at_every_split() {
    let make = || new_client(&[]).0;
    let head = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 5\r\nWWW-Authenticate: Basic\r\n\r\n";
    // The body is complete after 5 bytes; what follows is not read.
    let input = format!("{head}nope!trailing");
    let t = invariant(make, input.as_bytes(), false);
    let [Owned::Error(Error::Handshake(HandshakeError::Rejected(r)))] = &t.events[..] else {
        panic!("{:?}", t.events)
    };
    assert_eq!((r.status, &r.body[..]), (401, &b"nope!"[..]));
    // Cut short by the server: what arrived.
    let t = invariant(make, format!("{head}no").as_bytes(), true);
    let [Owned::Error(Error::Handshake(HandshakeError::Rejected(r)))] = &t.events[..] else {
        panic!("{:?}", t.events)
    };
    assert_eq!(&r.body[..], b"no");
    // 204 and 304 have no body: reported at once.
    for status in ["204 No Content", "304 Not Modified"] {
        let input = format!("HTTP/1.1 {status}\r\nContent-Length: 9\r\n\r\n");
        let t = invariant(make, input.as_bytes(), false);
        let [Owned::Error(Error::Handshake(HandshakeError::Rejected(r)))] = &t.events[..] else {
            panic!("{:?}", t.events)
        };
        assert!(r.body.is_empty());
    }
    // A body longer than the handshake limit is cut at the limit.
    let limit = 124;
    let make = || {
        let config = Config::default().with_max_handshake_size(limit);
        Connection::client(&ClientRequest::new("h", "/"), fill_key, config, &mut vec![]).unwrap()
    };
    let body = "x".repeat(500);
    let input = format!("HTTP/1.1 500 Oops\r\n\r\n{body}");
    let (_, t) = feed_chunks(make(), &[input.as_bytes()], false);
    let [Owned::Error(Error::Handshake(HandshakeError::Rejected(r)))] = &t.events[..] else {
        panic!("{:?}", t.events)
    };
    assert_eq!(r.body.len(), limit);
    // With Transfer-Encoding, Content-Length does not frame the body (RFC
    // 9112 §6.3): it runs to the end of the stream.
    let head =
        "HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n";
    let input = format!("{head}5\r\nnope!\r\n0\r\n\r\n");
    let t = invariant(|| new_client(&[]).0, input.as_bytes(), true);
    let [Owned::Error(Error::Handshake(HandshakeError::Rejected(r)))] = &t.events[..] else {
        panic!("{:?}", t.events)
    };
    assert_eq!(&r.body[..], b"5\r\nnope!\r\n0\r\n\r\n");
}

#[test]
fn client_and_server_handshake_back_to_back() {
    let mut s = Connection::server(Config::default());
    let (mut c, request) = new_client(&["v2", "v1"]);
    let mut out = vec![];
    s.receive(&request);
    let chosen = match s.poll_event(&mut out) {
        Polled::Event(Event::Request(req), _) => req.subprotocols().last().unwrap().to_string(),
        other => panic!("{other:?}"),
    };
    s.sender()
        .accept(&Accept::new().subprotocol(&chosen), &mut out)
        .unwrap();
    s.sender().send(Message::Text("hi"), &mut out).unwrap();
    c.receive(&out);
    let mut out = vec![];
    match c.poll_event(&mut out) {
        Polled::Event(Event::Accepted(a), _) => assert_eq!(a.subprotocol(), Some("v1")),
        other => panic!("{other:?}"),
    }
    assert_eq!(poll(&mut c, &mut out), Ok(Some(Owned::Text("hi".into()))));
    c.sender().send(Message::Binary(b"yo"), &mut out).unwrap();
    s.receive(&out);
    assert_eq!(
        poll(&mut s, &mut vec![]),
        Ok(Some(Owned::Binary(b"yo".to_vec())))
    );
}
