//! An HTTP/1.1 upgrade parsed by another stack (`handshake::validate_upgrade`):
//! the same verdicts and the same `101` as the connection's own server
//! gives the same request as bytes.

use wstate::handshake::{UpgradeBuf, validate_upgrade};
use wstate::{Accept, Config, Connection, Event, HandshakeError, Polled, SendError};

/// A request as decoded fields, and the same request as bytes.
fn request(method: &str, target: &str, fields: &[(&str, &str)]) -> Vec<u8> {
    let mut head = format!("{method} {target} HTTP/1.1\r\n");
    for (n, v) in fields {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

const FIELDS: [(&str, &str); 5] = [
    ("host", "example.com"),
    ("upgrade", "websocket"),
    ("connection", "keep-alive, Upgrade"),
    ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("sec-websocket-version", "13"),
];

/// What the connection's own server answers for the same request: the
/// `101`'s fields (names lowercased, in order), or the error.
fn server_answer(
    bytes: &[u8],
    accept: &Accept<'_>,
) -> Result<Vec<(String, String)>, HandshakeError> {
    let mut server = Connection::server(Config::default());
    server.receive(bytes);
    let mut out = vec![];
    match server.poll_event(&mut out) {
        Polled::Event(Event::Request(_), tx) => tx.accept(accept, &mut out).unwrap(),
        Polled::Failed(wstate::Error::Handshake(e)) => return Err(e),
        other => panic!("{other:?}"),
    }
    let head = String::from_utf8(out).unwrap();
    let mut lines = head.lines();
    assert_eq!(lines.next(), Some("HTTP/1.1 101 Switching Protocols"));
    Ok(lines
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap();
            (n.to_ascii_lowercase(), v.to_string())
        })
        .collect())
}

fn upgrade_answer(
    method: &str,
    target: &str,
    fields: &[(&str, &str)],
    accept: &Accept<'_>,
) -> Result<Vec<(String, String)>, HandshakeError> {
    let mut buf = UpgradeBuf::default();
    let upgrade = validate_upgrade(method, target, fields, &mut buf)?;
    let response = upgrade.accept(accept, &Config::default()).unwrap();
    Ok(response
        .headers()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect())
}

#[test]
fn accepted_as_the_connection_accepts_it() {
    let mut with_protocols = FIELDS.to_vec();
    with_protocols.push(("sec-websocket-protocol", "chat, superchat"));
    let chat = Accept::new()
        .subprotocol("superchat")
        .headers(&[("X-Server", "w")]);
    for (target, fields, accept) in [
        ("/chat", FIELDS.to_vec(), Accept::new()),
        ("/chat?room=1", with_protocols.clone(), chat),
        ("http://example.com?x=1", FIELDS.to_vec(), Accept::new()),
    ] {
        // HTTP field names are case-insensitive: the bytes carry them
        // lowercased here, the decoded fields as the caller wrote them.
        let got = upgrade_answer("GET", target, &fields, &accept).map(|pairs| {
            pairs
                .into_iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v))
                .collect::<Vec<_>>()
        });
        let want = server_answer(&request("GET", target, &fields), &accept);
        assert_eq!(got, want, "{target}");
    }
    let got = upgrade_answer("GET", "/chat?room=1", &with_protocols, &chat).unwrap();
    let pairs: Vec<(&str, &str)> = got.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(
        pairs,
        [
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            ("sec-websocket-protocol", "superchat"),
            ("X-Server", "w"),
        ]
    );
}

#[test]
fn the_request_as_the_connection_sees_it() {
    let mut fields = FIELDS.to_vec();
    fields.push(("origin", "http://example.com"));
    fields.push(("sec-websocket-protocol", "chat"));
    fields.push(("expect", "100-continue"));
    let mut buf = UpgradeBuf::default();
    let upgrade = validate_upgrade("GET", "http://example.com?x=1", &fields, &mut buf).unwrap();
    let r = upgrade.request();
    assert_eq!(
        (r.path(), r.target(), r.authority()),
        ("/?x=1", "http://example.com?x=1", "example.com")
    );
    assert_eq!(r.origin(), Some("http://example.com"));
    assert_eq!(r.subprotocols().collect::<Vec<_>>(), ["chat"]);
    assert!(r.expects_continue());
}

#[test]
fn refused_as_the_connection_refuses_it() {
    let without = |name: &str| -> Vec<(&str, &str)> {
        FIELDS.iter().copied().filter(|(n, _)| *n != name).collect()
    };
    let with = |name: &'static str, value: &'static str| -> Vec<(&'static str, &'static str)> {
        FIELDS
            .iter()
            .map(|&(n, v)| if n == name { (n, value) } else { (n, v) })
            .collect()
    };
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, &'a str)>,
        HandshakeError,
        Option<u16>,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "POST",
            "/",
            FIELDS.to_vec(),
            HandshakeError::MethodNotGet,
            Some(405),
        ),
        (
            "GET",
            "/",
            without("host"),
            HandshakeError::MissingHost,
            Some(400),
        ),
        (
            "GET",
            "/",
            without("upgrade"),
            HandshakeError::MissingUpgrade,
            Some(400),
        ),
        (
            "GET",
            "/",
            with("sec-websocket-key", "short"),
            HandshakeError::InvalidKey,
            Some(400),
        ),
        (
            "GET",
            "/",
            with("sec-websocket-version", "8"),
            HandshakeError::UnsupportedVersion,
            Some(426),
        ),
    ];
    for (method, target, fields, error, status) in cases {
        assert_eq!(
            upgrade_answer(method, target, &fields, &Accept::new()),
            Err(error.clone()),
            "{error:?}"
        );
        assert_eq!(error.status(), status);
        // The connection's own server, given the bytes, says the same.
        assert_eq!(
            server_answer(&request(method, target, &fields), &Accept::new()),
            Err(error)
        );
    }
}

#[test]
fn a_line_break_inside_a_part_is_refused() {
    let mut buf = UpgradeBuf::default();
    let injected = [("x-a", "1\r\nsec-websocket-protocol: evil")];
    let mut fields = FIELDS.to_vec();
    fields.extend(injected);
    let refused = Err(HandshakeError::Malformed("a line break inside a field"));
    assert_eq!(
        validate_upgrade("GET", "/", &fields, &mut buf).map(|_| ()),
        refused
    );
    assert_eq!(
        validate_upgrade("GET", "/ HTTP/1.1\r\nx: y", &FIELDS, &mut buf).map(|_| ()),
        refused
    );
    assert_eq!(
        validate_upgrade("GET\n", "/", &FIELDS, &mut buf).map(|_| ()),
        refused
    );
    let name = [("x-a\r\nhost", "evil")];
    let mut fields = FIELDS.to_vec();
    fields.extend(name);
    assert_eq!(
        validate_upgrade("GET", "/", &fields, &mut buf).map(|_| ()),
        refused
    );
    // The buffer is reused: a valid request after the refusals.
    assert!(validate_upgrade("GET", "/", &FIELDS, &mut buf).is_ok());
}

#[test]
fn a_bad_answer_builds_nothing() {
    let mut buf = UpgradeBuf::default();
    let upgrade = validate_upgrade("GET", "/", &FIELDS, &mut buf).unwrap();
    let config = Config::default();
    assert_eq!(
        upgrade.accept(&Accept::new().subprotocol("chat"), &config),
        Err(SendError::SubprotocolNotOffered)
    );
    let reserved = [("Sec-WebSocket-Accept", "x")];
    assert_eq!(
        upgrade.accept(&Accept::new().headers(&reserved), &config),
        Err(SendError::ReservedHeader)
    );
    let invalid = [("X-A", "1\r\n")];
    assert_eq!(
        upgrade.accept(&Accept::new().headers(&invalid), &config),
        Err(SendError::InvalidHeader)
    );
}

#[cfg(feature = "deflate")]
#[test]
fn permessage_deflate_as_the_connection_negotiates_it() {
    use wstate::DeflateConfig;
    let mut fields = FIELDS.to_vec();
    fields.push((
        "sec-websocket-extensions",
        "permessage-deflate; client_max_window_bits",
    ));
    let config = Config::default().with_deflate(Some(DeflateConfig::default()));
    let mut buf = UpgradeBuf::default();
    let upgrade = validate_upgrade("GET", "/", &fields, &mut buf).unwrap();
    let response = upgrade.accept(&Accept::new(), &config).unwrap();
    let answered: Vec<(&str, &str)> = response.headers().collect();
    assert_eq!(
        answered[3],
        ("sec-websocket-extensions", "permessage-deflate")
    );
    // The connection's own server gives the same parameters.
    let mut server = Connection::server(config.clone());
    server.receive(&request("GET", "/", &fields));
    let mut out = vec![];
    match server.poll_event(&mut out) {
        Polled::Event(Event::Request(_), tx) => tx.accept(&Accept::new(), &mut out).unwrap(),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.deflate().copied(), response.deflate());
    let opened =
        Connection::new_open_with_deflate(wstate::Role::Server, config, response.deflate());
    assert_eq!(opened.deflate().copied(), response.deflate());
    // Without an offer, no answer.
    let mut buf = UpgradeBuf::default();
    let upgrade = validate_upgrade("GET", "/", &FIELDS, &mut buf).unwrap();
    let config = Config::default().with_deflate(Some(DeflateConfig::default()));
    assert_eq!(
        upgrade.accept(&Accept::new(), &config).unwrap().deflate(),
        None
    );
}
