//! WebSocket over HTTP/2 (RFC 8441) without an HTTP/2 stack: the client's
//! CONNECT fields checked by the server, its `200` by the client, then two
//! connections built from what was negotiated exchange messages both ways
//! (compressed with feature `deflate`) and close. The bytes that would go in
//! DATA frames are handed over directly.

use wstate::handshake::h2::{self, ExtendedConnect, Scheme};
use wstate::{Accept, ClientRequest, CloseCode, Config, Connection, Event, Message, Polled, Role};

/// Polls until `NeedMore` or `Done`; the data messages, as text.
fn drain(conn: &mut Connection, out: &mut Vec<u8>) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        match conn.poll_event(out) {
            Polled::Failed(e) => panic!("{e}"),
            Polled::Event(Event::Text(t), _) => got.push(t.to_string()),
            Polled::Event(Event::Binary(b), _) => got.push(format!("{b:?}")),
            Polled::Event(_, _) => {}
            Polled::NeedMore | Polled::Done => return got,
        }
    }
}

/// The handshake over `config`; the two open connections.
fn open(config: &Config) -> (Connection, Connection) {
    let request = ClientRequest::new("localhost:8443", "/echo").subprotocols(&["echo"]);
    let connect = h2::connect(&request, Scheme::Https, ExtendedConnect::Enabled, config).unwrap();
    let sent: Vec<(String, String)> = connect
        .headers()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();

    let req = h2::validate_request(&sent, ExtendedConnect::Enabled).unwrap();
    assert_eq!(req.request().path(), "/echo");
    let response = req
        .accept(&Accept::new().subprotocol("echo"), config)
        .unwrap();
    assert_eq!(response.status(), 200);
    let status = response.status().to_string();
    let answered: Vec<(&str, &[u8])> = [(":status", status.as_str())]
        .into_iter()
        .chain(response.headers())
        .map(|(n, v)| (n, v.as_bytes()))
        .collect();
    let accepted = connect.validate_response(&answered).unwrap();
    assert_eq!(accepted.subprotocol(), Some("echo"));

    let client_role = Role::client(|b| b.fill(0x5a));
    #[cfg(feature = "deflate")]
    let pair = {
        assert_eq!(response.deflate(), accepted.deflate());
        (
            Connection::new_open_with_deflate(Role::Server, config.clone(), response.deflate()),
            Connection::new_open_with_deflate(client_role, config.clone(), accepted.deflate()),
        )
    };
    #[cfg(not(feature = "deflate"))]
    let pair = (
        Connection::new_open(Role::Server, config.clone()),
        Connection::new_open(client_role, config.clone()),
    );
    pair
}

fn exchange(config: &Config) -> (Connection, Connection) {
    let (mut server, mut client) = open(config);
    let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    let text = "hello over HTTP/2 ".repeat(20);
    client
        .sender()
        .send(Message::Text(&text), &mut to_server)
        .unwrap();
    client
        .sender()
        .send(Message::Binary(&[1, 2, 3]), &mut to_server)
        .unwrap();
    server.receive(&to_server);
    to_server.clear();
    assert_eq!(
        drain(&mut server, &mut to_client),
        [text.clone(), "[1, 2, 3]".to_string()]
    );
    server
        .sender()
        .send(Message::Text(&text), &mut to_client)
        .unwrap();
    client.receive(&to_client);
    to_client.clear();
    assert_eq!(drain(&mut client, &mut to_server), [text]);

    // The closing handshake: the client closes, the server answers and is
    // done; its END_STREAM is the client's end of transport.
    client
        .sender()
        .close(CloseCode::NORMAL, "bye", &mut to_server)
        .unwrap();
    server.receive(&to_server);
    to_server.clear();
    drain(&mut server, &mut to_client);
    assert!(matches!(server.poll_event(&mut vec![]), Polled::Done));
    client.receive(&to_client);
    drain(&mut client, &mut to_server);
    client.receive_eof();
    drain(&mut client, &mut to_server);
    assert!(matches!(client.poll_event(&mut vec![]), Polled::Done));
    assert_eq!(
        client.received_close().map(|c| c.code),
        Some(CloseCode::NORMAL)
    );
    (server, client)
}

#[test]
fn messages_both_ways_then_close() {
    let (server, client) = exchange(&Config::default());
    #[cfg(feature = "deflate")]
    assert!(server.deflate().is_none() && client.deflate().is_none());
    let _ = (server, client);
}

#[cfg(feature = "deflate")]
#[test]
fn messages_compressed_both_ways() {
    use wstate::DeflateConfig;
    let config = Config::default().with_deflate(Some(DeflateConfig::default()));
    let (server, client) = exchange(&config);
    assert!(server.deflate().is_some());
    assert_eq!(server.deflate(), client.deflate());
}

#[cfg(feature = "deflate")]
#[test]
fn new_open_with_deflate_compresses() {
    use wstate::DeflateConfig;
    use wstate::handshake::extensions::negotiate;
    let config = Config::default().with_deflate(Some(DeflateConfig::default()));
    let params = negotiate([&b"permessage-deflate"[..]], config.deflate().unwrap());
    let mut server = Connection::new_open_with_deflate(Role::Server, config.clone(), params);
    let mut out = Vec::new();
    let text = "a".repeat(1000);
    server
        .sender()
        .send(Message::Text(&text), &mut out)
        .unwrap();
    // RSV1 set, and far shorter than the text.
    assert_eq!(out[0], 0xC1);
    assert!(out.len() < 100, "{}", out.len());
    let mut plain = Connection::new_open_with_deflate(Role::Server, config, None);
    out.clear();
    plain.sender().send(Message::Text(&text), &mut out).unwrap();
    assert_eq!(out[0], 0x81);
    assert!(plain.deflate().is_none());
}

/// What a server's HTTP/2 stack does with each refused request: a
/// malformed one is a stream error (RST_STREAM with PROTOCOL_ERROR, RFC
/// 9113 §8.1.1: "Malformed requests or responses that are detected MUST be
/// treated as a stream error (Section 5.4.2) of type PROTOCOL_ERROR"), with
/// no status; a well-formed one it does not serve gets a response.
#[test]
fn malformed_requests_reset_the_stream_others_get_a_status() {
    let connect = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":path", "/echo"),
        (":authority", "localhost:8443"),
        ("sec-websocket-version", "13"),
    ];
    let without = |name: &str| -> Vec<(&str, &str)> {
        connect
            .iter()
            .filter(|(n, _)| *n != name)
            .copied()
            .collect()
    };
    let set = |name: &str, value: &'static str| -> Vec<(&'static str, &'static str)> {
        connect
            .iter()
            .map(|&(n, v)| if n == name { (n, value) } else { (n, v) })
            .collect()
    };
    let mut get = set(":method", "GET");
    get.retain(|(n, _)| *n != ":protocol");
    let tunnel = [(":method", "CONNECT"), (":authority", "localhost:8443")];
    // (fields, status; None: reset the stream with PROTOCOL_ERROR)
    type Fields = Vec<(&'static str, &'static str)>;
    let cases: Vec<(Fields, Option<u16>)> = vec![
        // RFC 8441 §4, RFC 9113 §8.3: :protocol on a GET.
        (set(":method", "GET"), None),
        // RFC 9113 §8.5: :scheme and :path on a CONNECT without :protocol.
        (without(":protocol"), None),
        // RFC 8441 §4: "On requests that contain the :protocol pseudo-header
        // field, the :scheme and :path pseudo-header fields of the target
        // URI ... MUST also be included".
        (without(":path"), None),
        (without(":scheme"), None),
        // RFC 9113 §8.3.1: empty :path or :authority.
        (set(":path", ""), None),
        (set(":authority", ""), None),
        // Well-formed, not served.
        (get, Some(405)),
        (tunnel.to_vec(), Some(501)),
        (set(":protocol", "webtransport"), Some(501)),
        (set(":scheme", "ftp"), Some(400)),
        (without("sec-websocket-version"), Some(400)),
    ];
    for (fields, status) in cases {
        let e = h2::validate_request(&fields, ExtendedConnect::Enabled).unwrap_err();
        assert_eq!(e.is_malformed(), status.is_none(), "{fields:?}: {e}");
        assert_eq!(e.status(), status, "{fields:?}: {e}");
    }
}

/// The same request over HTTP/1.1 (decoded by another stack) and as an
/// extended CONNECT is one `Request` with the same answers; only what
/// differs between the two says so (method, target, scheme, `Host`), and
/// the answers differ only in status and in what HTTP/1.1 adds.
#[test]
fn one_request_whatever_carried_it() {
    use wstate::handshake::{UpgradeBuf, validate_upgrade};
    let common = [
        ("origin", "https://example.com"),
        ("sec-websocket-protocol", "v2, v1"),
        ("sec-websocket-extensions", "x-ext; a=\"1,2\", y-ext"),
        ("x-trace", "7"),
        ("sec-websocket-version", "13"),
    ];
    let mut http1 = vec![
        ("host", "example.com"),
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    http1.extend(common);
    let mut h2_fields = vec![
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":path", "/chat?room=1"),
        (":authority", "example.com"),
    ];
    h2_fields.extend(common);
    let mut buf = UpgradeBuf::default();
    let over_1 = validate_upgrade("GET", "/chat?room=1", &http1, &mut buf).unwrap();
    let over_2 = h2::validate_request(&h2_fields, ExtendedConnect::Enabled).unwrap();
    for (upgrade, method, scheme, host) in [
        (&over_1, "GET", None, Some("example.com")),
        (&over_2, "CONNECT", Some(Scheme::Https), None),
    ] {
        let req = upgrade.request();
        assert_eq!(
            (req.method(), req.scheme(), req.host()),
            (method, scheme, host)
        );
        assert_eq!(req.target(), "/chat?room=1");
        assert_eq!(req.path(), "/chat?room=1");
        assert_eq!(req.authority(), "example.com");
        assert_eq!(req.origin(), Some("https://example.com"));
        assert_eq!(req.subprotocols().collect::<Vec<_>>(), ["v2", "v1"]);
        assert_eq!(
            req.extensions().collect::<Vec<_>>(),
            ["x-ext; a=\"1,2\"", "y-ext"]
        );
        assert_eq!(req.header("X-Trace"), Some(&b"7"[..]));
        assert_eq!(req.header(":path"), None);
        assert!(!req.expects_continue());
    }
    // HTTP/1.1's fields as sent; the extended CONNECT's regular fields.
    let names = |u: &wstate::handshake::Upgrade<'_>| -> Vec<String> {
        u.request()
            .headers()
            .iter()
            .map(|(n, _)| n.to_string())
            .collect()
    };
    assert_eq!(
        names(&over_1),
        http1.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(
        names(&over_2),
        common
            .iter()
            .map(|(n, _)| n.to_string())
            .collect::<Vec<_>>()
    );

    let accept = Accept::new()
        .subprotocol("v1")
        .headers(&[("x-server", "wstate")]);
    let config = Config::default();
    let one = over_1.accept(&accept, &config).unwrap();
    let two = over_2.accept(&accept, &config).unwrap();
    assert_eq!(one.status(), 101);
    assert_eq!(
        one.headers().collect::<Vec<_>>(),
        [
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            ("sec-websocket-protocol", "v1"),
            ("x-server", "wstate"),
        ]
    );
    assert_eq!(two.status(), 200);
    assert_eq!(
        two.headers().collect::<Vec<_>>(),
        [("sec-websocket-protocol", "v1"), ("x-server", "wstate")]
    );
    // A choice the client did not offer is refused by both alike.
    let other = Accept::new().subprotocol("v3");
    assert_eq!(
        over_1.accept(&other, &config),
        Err(wstate::SendError::SubprotocolNotOffered)
    );
    assert_eq!(
        over_2.accept(&other, &config),
        Err(wstate::SendError::SubprotocolNotOffered)
    );
}

/// The client's `Accepted` over HTTP/2 has the status and the chosen
/// subprotocol; the response's fields are the caller's (none here).
#[test]
fn accepted_has_the_status_over_http2() {
    let request = ClientRequest::new("example.com", "/chat").subprotocols(&["v1"]);
    let config = Config::default();
    let connect = h2::connect(&request, Scheme::Https, ExtendedConnect::Enabled, &config).unwrap();
    let answered = [
        (":status", "204"),
        ("sec-websocket-protocol", "v1"),
        ("set-cookie", "a=b"),
    ];
    let accepted = connect.validate_response(&answered).unwrap();
    assert_eq!(
        (accepted.status(), accepted.subprotocol()),
        (204, Some("v1"))
    );
    assert_eq!(accepted.headers().iter().count(), 0);
    assert_eq!(accepted.header("set-cookie"), None);
    assert_eq!(accepted.deflate(), None);
}
