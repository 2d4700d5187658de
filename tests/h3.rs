//! WebSocket over HTTP/3 (RFC 9220) without an HTTP/3 stack: the exact
//! field lists of the extended CONNECT both ways, every refusal (RFC 9220,
//! RFC 9114, RFC 8441), the requirements of RFC 9220 §3 one by one, and a
//! conversation over what would be the request stream's DATA frames, ended
//! by a FIN or by `H3_REQUEST_CANCELLED`.

use wstate::handshake::h2;
use wstate::handshake::h3::{self, ConnectError, ExtendedConnect, Scheme};
use wstate::{
    Accept, ClientRequest, CloseCode, Config, Connection, Event, Message, Polled, Role, SendError,
};

type Fields = Vec<(&'static str, &'static str)>;

/// The CONNECT our client builds for `wss://example.com/chat` offering
/// `chat`, as an HTTP/3 stack's QPACK decoder hands it over.
fn fields() -> Fields {
    vec![
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":path", "/chat"),
        (":authority", "example.com"),
        ("sec-websocket-protocol", "chat"),
        ("sec-websocket-version", "13"),
    ]
}

fn with(mut fields: Fields, name: &'static str, value: &'static str) -> Fields {
    match fields.iter_mut().find(|(n, _)| *n == name) {
        Some(field) => field.1 = value,
        None => fields.push((name, value)),
    }
    fields
}

/// `fields` with a pseudo-header field added right after the first.
fn pseudo(mut fields: Fields, name: &'static str, value: &'static str) -> Fields {
    fields.insert(1, (name, value));
    fields
}

fn without(mut fields: Fields, name: &str) -> Fields {
    fields.retain(|(n, _)| *n != name);
    fields
}

fn owned<'a>(fields: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    fields
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// The response as the client's QPACK decoder hands it over: `:status`,
/// then the fields.
fn decoded(response: &wstate::handshake::Response) -> Vec<(String, String)> {
    let mut fields = vec![(":status".to_string(), response.status().to_string())];
    fields.extend(owned(response.headers()));
    fields
}

// ------------------------------------------------------- the field lists

#[test]
fn client_connect_fields_exactly() {
    let config = Config::default();
    let request = ClientRequest::new("example.com:4433", "/chat?room=1")
        .subprotocols(&["chat", "superchat"])
        .headers(&[("Origin", "https://example.com"), ("User-Agent", "t")]);
    let connect = h3::connect(&request, Scheme::Https, ExtendedConnect::Enabled, &config).unwrap();
    assert_eq!(
        connect.headers().collect::<Vec<_>>(),
        [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "https"),
            (":path", "/chat?room=1"),
            (":authority", "example.com:4433"),
            ("sec-websocket-protocol", "chat, superchat"),
            ("sec-websocket-version", "13"),
            ("origin", "https://example.com"),
            ("user-agent", "t"),
        ]
    );
    assert_eq!(
        connect.subprotocols().collect::<Vec<_>>(),
        ["chat", "superchat"]
    );
    // ws:// is `http` (RFC 8441 §5), no subprotocol field when none is
    // offered.
    let plain = h3::connect(
        &ClientRequest::new("[::1]:80", "/"),
        Scheme::Http,
        ExtendedConnect::Enabled,
        &config,
    )
    .unwrap();
    assert_eq!(
        plain.headers().collect::<Vec<_>>(),
        [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "[::1]:80"),
            ("sec-websocket-version", "13"),
        ]
    );
    assert_eq!(plain.subprotocols().count(), 0);
}

#[cfg(feature = "deflate")]
#[test]
fn deflate_offer_and_answer_fields_exactly() {
    use wstate::DeflateConfig;
    let config = Config::default().with_deflate(Some(DeflateConfig::default()));
    let connect = h3::connect(
        &ClientRequest::new("example.com", "/chat"),
        Scheme::Https,
        ExtendedConnect::Enabled,
        &config,
    )
    .unwrap();
    let sent = owned(connect.headers());
    assert_eq!(
        sent[5..],
        [
            (
                "sec-websocket-extensions".to_string(),
                "permessage-deflate; client_max_window_bits".to_string()
            ),
            ("sec-websocket-version".to_string(), "13".to_string()),
        ]
    );
    let req = h3::validate_request(&sent, ExtendedConnect::Enabled).unwrap();
    assert_eq!(
        req.request().extensions().collect::<Vec<_>>(),
        ["permessage-deflate; client_max_window_bits"]
    );
    let response = req.accept(&Accept::new(), &config).unwrap();
    assert_eq!(
        response.headers().collect::<Vec<_>>(),
        [("sec-websocket-extensions", "permessage-deflate")]
    );
    assert_eq!(response.status(), 200);
    let answered = decoded(&response);
    let accepted = connect.validate_response(&answered).unwrap();
    assert!(accepted.deflate().is_some());
    assert_eq!(accepted.deflate(), response.deflate());
}

#[test]
fn server_response_fields_exactly() {
    let config = Config::default();
    let fields = with(fields(), "origin", "https://example.com");
    let req = h3::validate_request(&fields, ExtendedConnect::Enabled).unwrap();
    assert_eq!(req.request().scheme(), Some(Scheme::Https));
    assert_eq!(req.request().authority(), "example.com");
    assert_eq!(req.request().path(), "/chat");
    assert_eq!(req.request().origin(), Some("https://example.com"));
    assert_eq!(req.request().subprotocols().collect::<Vec<_>>(), ["chat"]);
    assert_eq!(req.request().extensions().count(), 0);
    let response = req
        .accept(
            &Accept::new()
                .subprotocol("chat")
                .headers(&[("Server", "wstate"), ("Alt-Svc", "clear")]),
            &config,
        )
        .unwrap();
    assert_eq!(
        response.headers().collect::<Vec<_>>(),
        [
            ("sec-websocket-protocol", "chat"),
            ("server", "wstate"),
            ("alt-svc", "clear"),
        ]
    );
    assert_eq!(response.status(), 200);
    assert_eq!(response.deflate(), None);
    // Without a subprotocol: the status alone.
    let bare = req.accept(&Accept::new(), &config).unwrap();
    assert_eq!(bare.status(), 200);
    assert_eq!(bare.headers().count(), 0);
}

/// "The semantics of the pseudo-header fields and setting are identical to
/// those in HTTP/2 as defined in [RFC8441]" (RFC 9220 §3): the same
/// request gives the same fields and the same answers over both versions.
#[test]
fn rfc9220_fields_identical_to_rfc8441() {
    let config = Config::default();
    let request = ClientRequest::new("example.com", "/chat").subprotocols(&["chat"]);
    let over3 = h3::connect(&request, Scheme::Https, ExtendedConnect::Enabled, &config).unwrap();
    let over2 = h2::connect(&request, Scheme::Https, ExtendedConnect::Enabled, &config).unwrap();
    assert_eq!(over3, over2);
    assert_eq!(owned(over3.headers()), owned(fields().into_iter()));
    let mut cases = vec![fields(), with(fields(), ":protocol", "chat")];
    cases.push(without(fields(), ":authority"));
    for fields in cases {
        assert_eq!(
            h3::validate_request(&fields, ExtendedConnect::Enabled),
            h2::validate_request(&fields, ExtendedConnect::Enabled),
            "{fields:?}"
        );
    }
}

// ------------------------------------------------------------ refusals

/// Every refusal of a request, with what the server's HTTP/3 stack does:
/// `None` is a malformed request, a stream error of type H3_MESSAGE_ERROR
/// (RFC 9114 §4.1.2); a status is the response to send.
#[test]
fn refused_requests() {
    use ConnectError::*;
    let get = without(with(fields(), ":method", "GET"), ":protocol");
    let tunnel: Fields = vec![(":method", "CONNECT"), (":authority", "example.com:443")];
    let mut late_pseudo = fields();
    late_pseudo.swap(4, 5);
    let cases: Vec<(Fields, ConnectError, Option<u16>)> = vec![
        // RFC 9114 §4.2: "A request or response containing uppercase
        // characters in field names MUST be treated as malformed."
        (
            with(fields(), "Origin", "x"),
            Malformed("field name with an uppercase letter or a byte not allowed"),
            None,
        ),
        (
            with(fields(), "x y", "x"),
            Malformed("field name with an uppercase letter or a byte not allowed"),
            None,
        ),
        (with(fields(), "", "x"), Malformed("empty field name"), None),
        // Values with prohibited characters (RFC 9110 §5.5).
        (
            with(fields(), "x", "a\r\nb"),
            Malformed("NUL, CR or LF in a field value"),
            None,
        ),
        (
            with(fields(), "x", "a\0"),
            Malformed("NUL, CR or LF in a field value"),
            None,
        ),
        (
            with(fields(), "x", " a"),
            Malformed("whitespace around a field value"),
            None,
        ),
        // RFC 9114 §4.2: connection-specific fields make a message
        // malformed; `te` only with "trailers".
        (
            with(fields(), "connection", "upgrade"),
            Malformed("connection-specific field"),
            None,
        ),
        (
            with(fields(), "keep-alive", "5"),
            Malformed("connection-specific field"),
            None,
        ),
        (
            with(fields(), "proxy-connection", "keep-alive"),
            Malformed("connection-specific field"),
            None,
        ),
        (
            with(fields(), "transfer-encoding", "chunked"),
            Malformed("connection-specific field"),
            None,
        ),
        (
            with(fields(), "upgrade", "websocket"),
            Malformed("connection-specific field"),
            None,
        ),
        (
            with(fields(), "te", "gzip"),
            Malformed("te other than \"trailers\""),
            None,
        ),
        (
            with(fields(), "te", "trailers, gzip"),
            Malformed("te other than \"trailers\""),
            None,
        ),
        // RFC 9114 §4.3: pseudo-header fields undefined, repeated, after
        // a regular field, or a response's in a request.
        (
            pseudo(fields(), ":status", "200"),
            Malformed("undefined pseudo-header field"),
            None,
        ),
        (
            pseudo(fields(), ":x", "y"),
            Malformed("undefined pseudo-header field"),
            None,
        ),
        (
            late_pseudo,
            Malformed("pseudo-header field after a regular field"),
            None,
        ),
        (
            {
                let mut f = fields();
                f.insert(1, (":method", "CONNECT"));
                f
            },
            Malformed("repeated pseudo-header field"),
            None,
        ),
        // RFC 9114 §4.3.1: :method, :scheme, :path; :authority or host,
        // not empty, the same when both, no userinfo.
        (
            without(fields(), ":method"),
            Malformed("missing :method"),
            None,
        ),
        (
            without(fields(), ":scheme"),
            Malformed("missing :scheme"),
            None,
        ),
        (without(fields(), ":path"), Malformed("missing :path"), None),
        (with(fields(), ":path", ""), Malformed("empty :path"), None),
        (
            without(fields(), ":authority"),
            Malformed("neither :authority nor host"),
            None,
        ),
        (
            with(fields(), ":authority", ""),
            Malformed("empty :authority or host"),
            None,
        ),
        (
            with(fields(), "host", "example.org"),
            Malformed(":authority and host differ"),
            None,
        ),
        (
            with(fields(), ":authority", "u@example.com"),
            Malformed("userinfo in :authority"),
            None,
        ),
        // RFC 8441 §4: `:protocol` only on CONNECT; RFC 9114 §4.4: a
        // CONNECT without it has neither :scheme nor :path.
        (
            with(fields(), ":method", "GET"),
            Malformed(":protocol in a request other than CONNECT"),
            None,
        ),
        (
            without(fields(), ":protocol"),
            Malformed(":scheme or :path in a CONNECT without :protocol"),
            None,
        ),
        (
            vec![(":method", "CONNECT")],
            Malformed("CONNECT without :authority"),
            None,
        ),
        // Well-formed requests this endpoint does not serve.
        (get, MethodNotConnect, Some(405)),
        (tunnel, NotExtendedConnect, Some(501)),
        (
            with(fields(), ":protocol", "webtransport"),
            UnsupportedProtocol,
            Some(501),
        ),
        (
            with(fields(), ":protocol", "connect-udp"),
            UnsupportedProtocol,
            Some(501),
        ),
        (with(fields(), ":scheme", "ftp"), InvalidScheme, Some(400)),
        (
            with(fields(), ":path", "chat"),
            InvalidPath("not starting with '/'"),
            Some(400),
        ),
        (
            with(fields(), ":path", "/chat#x"),
            InvalidPath("a request target has no fragment"),
            Some(400),
        ),
        (
            with(fields(), ":path", "/a b"),
            InvalidPath("invalid character"),
            Some(400),
        ),
        (
            with(fields(), ":authority", "example.com:x"),
            InvalidAuthority,
            Some(400),
        ),
        (
            without(fields(), "sec-websocket-version"),
            UnsupportedVersion,
            Some(400),
        ),
        (
            with(fields(), "sec-websocket-version", "8"),
            UnsupportedVersion,
            Some(400),
        ),
        (
            with(fields(), "sec-websocket-protocol", "chat, chat"),
            InvalidSubprotocol,
            Some(400),
        ),
        (
            with(fields(), "content-length", "5"),
            RequestContent,
            Some(400),
        ),
        // RFC 8441 §5: the extended CONNECT supersedes HTTP/1.1's key and
        // accept.
        (
            with(fields(), "sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            HandshakeKeyInRequest,
            Some(400),
        ),
        (
            with(
                fields(),
                "sec-websocket-accept",
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
            ),
            HandshakeKeyInRequest,
            Some(400),
        ),
    ];
    for (fields, expected, status) in cases {
        let error = h3::validate_request(&fields, ExtendedConnect::Enabled).unwrap_err();
        assert_eq!(error, expected, "{fields:?}");
        assert_eq!(error.status(), status, "{fields:?}");
        assert_eq!(error.is_malformed(), status.is_none(), "{fields:?}");
    }
}

/// Every refusal of a response by the client: a malformed one is a stream
/// error (H3_MESSAGE_ERROR); the others fail the WebSocket connection.
#[test]
fn refused_responses() {
    use ConnectError::*;
    let config = Config::default();
    let connect = h3::connect(
        &ClientRequest::new("example.com", "/chat").subprotocols(&["chat"]),
        Scheme::Https,
        ExtendedConnect::Enabled,
        &config,
    )
    .unwrap();
    let ok: Fields = vec![(":status", "200"), ("sec-websocket-protocol", "chat")];
    let cases: Vec<(Fields, ConnectError)> = vec![
        (vec![], Malformed("missing :status")),
        (vec![(":status", "2xx")], Malformed("invalid :status")),
        (vec![(":status", "600")], Malformed("invalid :status")),
        (
            pseudo(ok.clone(), ":path", "/"),
            Malformed("undefined pseudo-header field"),
        ),
        (
            pseudo(ok.clone(), ":protocol", "websocket"),
            Malformed("undefined pseudo-header field"),
        ),
        (
            with(ok.clone(), "Server", "x"),
            Malformed("field name with an uppercase letter or a byte not allowed"),
        ),
        (
            with(ok.clone(), "connection", "close"),
            Malformed("connection-specific field"),
        ),
        (
            with(ok.clone(), "transfer-encoding", "chunked"),
            Malformed("connection-specific field"),
        ),
        (
            with(ok.clone(), "upgrade", "websocket"),
            Malformed("connection-specific field"),
        ),
        (
            with(ok.clone(), "te", "gzip"),
            Malformed("te other than \"trailers\""),
        ),
        (
            vec![("server", "x"), (":status", "200")],
            Malformed("pseudo-header field after a regular field"),
        ),
        (vec![(":status", "404")], Rejected(404)),
        (vec![(":status", "501")], Rejected(501)),
        (vec![(":status", "101")], Rejected(101)),
        (
            with(
                ok.clone(),
                "sec-websocket-accept",
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
            ),
            HandshakeKeyInResponse,
        ),
        (
            with(ok.clone(), "sec-websocket-protocol", "superchat"),
            UnexpectedSubprotocol,
        ),
        (
            with(ok.clone(), "sec-websocket-protocol", "chat, chat"),
            UnexpectedSubprotocol,
        ),
        (
            with(ok.clone(), "sec-websocket-extensions", "permessage-deflate"),
            UnexpectedExtension,
        ),
    ];
    for (fields, expected) in cases {
        let error = connect.validate_response(&fields).unwrap_err();
        assert_eq!(error, expected, "{fields:?}");
        assert_eq!(error.status(), None, "{fields:?}");
    }
    let accepted = connect.validate_response(&ok).unwrap();
    assert_eq!(
        (accepted.status(), accepted.subprotocol()),
        (200, Some("chat"))
    );
}

/// What a client or a server may not build: typed errors, nothing built.
#[test]
fn refused_builds() {
    let config = Config::default();
    let build = |request: &ClientRequest<'_>| {
        h3::connect(request, Scheme::Https, ExtendedConnect::Enabled, &config).unwrap_err()
    };
    assert_eq!(
        build(&ClientRequest::new("example.com", "chat")),
        SendError::InvalidHeader
    );
    assert_eq!(
        build(&ClientRequest::new("a b", "/")),
        SendError::InvalidHeader
    );
    assert_eq!(
        build(&ClientRequest::new("example.com", "/").subprotocols(&["a", "a"])),
        SendError::InvalidSubprotocol
    );
    for name in [
        "host",
        "connection",
        "upgrade",
        "te",
        "content-length",
        "sec-websocket-key",
    ] {
        let extra = [(name, "x")];
        assert_eq!(
            build(&ClientRequest::new("example.com", "/").headers(&extra)),
            SendError::ReservedHeader,
            "{name}"
        );
    }
    assert_eq!(
        build(&ClientRequest::new("example.com", "/").headers(&[("x", " y")])),
        SendError::InvalidHeader
    );
    let fields = fields();
    let req = h3::validate_request(&fields, ExtendedConnect::Enabled).unwrap();
    let answer = |accept: &Accept<'_>| req.accept(accept, &config).unwrap_err();
    assert_eq!(
        answer(&Accept::new().subprotocol("other")),
        SendError::SubprotocolNotOffered
    );
    for name in [
        "connection",
        "transfer-encoding",
        "content-length",
        "sec-websocket-accept",
    ] {
        let extra = [(name, "x")];
        assert_eq!(
            answer(&Accept::new().headers(&extra)),
            SendError::ReservedHeader,
            "{name}"
        );
    }
}

// ------------------------------------------- RFC 9220 §3, one by one

/// "The SETTINGS_ENABLE_CONNECT_PROTOCOL value is 0x08 (decimal 8), as in
/// HTTP/2", with RFC 8441 §3's meaning: a client MAY use the extended
/// CONNECT "upon receipt of SETTINGS_ENABLE_CONNECT_PROTOCOL with a value
/// of 1", and a server that did not send it sees a malformed request.
#[test]
fn rfc9220_setting_gates_the_extended_connect() {
    let config = Config::default();
    let request = ClientRequest::new("example.com", "/chat");
    assert_eq!(
        h3::connect(
            &request,
            Scheme::Https,
            ExtendedConnect::NotEnabled,
            &config
        ),
        Err(SendError::ExtendedConnectNotEnabled)
    );
    let error = h3::validate_request(&fields(), ExtendedConnect::NotEnabled).unwrap_err();
    assert_eq!(
        error,
        ConnectError::Malformed(":protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL")
    );
    assert_eq!(error.status(), None);
    // Without `:protocol`, the setting changes nothing: the same answers.
    let get = without(with(fields(), ":method", "GET"), ":protocol");
    let tunnel: Fields = vec![(":method", "CONNECT"), (":authority", "example.com:443")];
    for fields in [get, tunnel] {
        assert_eq!(
            h3::validate_request(&fields, ExtendedConnect::NotEnabled),
            h3::validate_request(&fields, ExtendedConnect::Enabled),
            "{fields:?}"
        );
    }
    // `:protocol` on a GET is malformed either way.
    assert!(
        h3::validate_request(
            &with(fields(), ":method", "GET"),
            ExtendedConnect::NotEnabled
        )
        .unwrap_err()
        .is_malformed()
    );
}

/// "If a server advertises support for Extended CONNECT but receives an
/// Extended CONNECT request with a ":protocol" value that is unknown or is
/// not supported, the server SHOULD respond to the request with a 501 (Not
/// Implemented) status code."
#[test]
fn rfc9220_unknown_protocol_is_501() {
    for protocol in [
        "webtransport",
        "connect-udp",
        "connect-ip",
        "websocket2",
        "x",
    ] {
        let fields = with(fields(), ":protocol", protocol);
        let error = h3::validate_request(&fields, ExtendedConnect::Enabled).unwrap_err();
        assert_eq!(error, ConnectError::UnsupportedProtocol, "{protocol}");
        assert_eq!(error.status(), Some(501), "{protocol}");
        assert_eq!(error.response_headers(), &[], "{protocol}");
    }
    // Upgrade tokens compare case-insensitively.
    let fields = with(fields(), ":protocol", "WebSocket");
    assert!(h3::validate_request(&fields, ExtendedConnect::Enabled).is_ok());
}

/// The handshake over `config`, then both connections, opened as RFC 8441
/// §5 says: "the peers should proceed with the WebSocket Protocol ... using
/// the HTTP/2 stream from the CONNECT transaction as if it were the TCP
/// connection".
fn open(config: &Config) -> (Connection, Connection) {
    let request = ClientRequest::new("example.com", "/chat").subprotocols(&["chat"]);
    let connect = h3::connect(&request, Scheme::Https, ExtendedConnect::Enabled, config).unwrap();
    let sent = owned(connect.headers());
    let req = h3::validate_request(&sent, ExtendedConnect::Enabled).unwrap();
    let response = req
        .accept(&Accept::new().subprotocol("chat"), config)
        .unwrap();
    let answered = decoded(&response);
    let accepted = connect.validate_response(&answered).unwrap();
    assert_eq!(accepted.subprotocol(), Some("chat"));
    let client_role = Role::client(|b| b.fill(0x5a));
    #[cfg(feature = "deflate")]
    return (
        Connection::new_open_with_deflate(Role::Server, config.clone(), response.deflate()),
        Connection::new_open_with_deflate(client_role, config.clone(), accepted.deflate()),
    );
    #[cfg(not(feature = "deflate"))]
    (
        Connection::new_open(Role::Server, config.clone()),
        Connection::new_open(client_role, config.clone()),
    )
}

/// The events up to `NeedMore` or `Done`, as text; the last answer.
fn drain(conn: &mut Connection, out: &mut Vec<u8>) -> (Vec<String>, &'static str) {
    let mut got = Vec::new();
    loop {
        match conn.poll_event(out) {
            Polled::Failed(e) => panic!("{e}"),
            Polled::Event(Event::Text(t), _) => got.push(format!("text {t}")),
            Polled::Event(Event::Binary(b), _) => got.push(format!("binary {b:?}")),
            Polled::Event(Event::Close(c), _) => got.push(format!("close {}", c.code.0)),
            Polled::Event(other, _) => got.push(format!("{other:?}")),
            Polled::NeedMore => return (got, "NeedMore"),
            Polled::Done => return (got, "Done"),
        }
    }
}

/// "Orderly TCP-level closures are represented as a FIN bit on the stream
/// (Section 4.4 of [HTTP/3])": messages both ways, the closing handshake,
/// the server's FIN first, then the client's on `receive_eof`.
#[test]
fn rfc9220_orderly_close_is_the_fin() {
    for config in configs() {
        let (mut server, mut client) = open(&config);
        let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
        let big = "x".repeat(70_000);
        client
            .sender()
            .send(Message::Text("hello"), &mut to_server)
            .unwrap();
        client
            .sender()
            .send(Message::Binary(&[0, 255]), &mut to_server)
            .unwrap();
        client
            .sender()
            .send(Message::Text(&big), &mut to_server)
            .unwrap();
        server.receive(&to_server);
        to_server.clear();
        let (got, _) = drain(&mut server, &mut to_client);
        assert_eq!(
            got,
            [
                "text hello".to_string(),
                "binary [0, 255]".into(),
                format!("text {big}")
            ]
        );
        server
            .sender()
            .send(Message::Text("world"), &mut to_client)
            .unwrap();
        server
            .sender()
            .send(Message::Binary(&[7]), &mut to_client)
            .unwrap();
        client.receive(&to_client);
        to_client.clear();
        assert_eq!(
            drain(&mut client, &mut to_server),
            (vec!["text world".into(), "binary [7]".into()], "NeedMore")
        );

        client
            .sender()
            .close(CloseCode::NORMAL, "bye", &mut to_server)
            .unwrap();
        server.receive(&to_server);
        to_server.clear();
        // The server answers the Close and is done: it sends its FIN.
        assert_eq!(
            drain(&mut server, &mut to_client),
            (vec!["close 1000".into()], "Done")
        );
        // Its reply echoes the code (RFC 6455 §5.5.1).
        assert_eq!(to_client, [0x88, 0x02, 0x03, 0xe8]);
        client.receive(&to_client);
        // The client waits for the server's FIN (RFC 6455 §7.1.1) ...
        assert_eq!(
            drain(&mut client, &mut to_server),
            (vec!["close 1000".into()], "NeedMore")
        );
        // ... which is `receive_eof`: then it finishes its side too.
        client.receive_eof();
        assert_eq!(drain(&mut client, &mut to_server), (vec![], "Done"));
        assert!(to_server.is_empty());
        assert_eq!(
            client.received_close().map(|c| c.code),
            Some(CloseCode::NORMAL)
        );
    }
}

/// "RST exceptions are represented with a stream error (Section 8 of
/// [HTTP/3]) of type H3_REQUEST_CANCELLED": the stream reset mid-message is
/// the transport's abrupt end, `receive_eof`: the connection reports 1006,
/// delivers no partial message and sends nothing.
#[test]
fn rfc9220_request_cancelled_is_an_abrupt_end() {
    for config in configs() {
        let (mut server, mut client) = open(&config);
        let mut to_server = Vec::new();
        client
            .sender()
            .send(Message::Text("whole"), &mut to_server)
            .unwrap();
        let whole = to_server.len();
        client
            .sender()
            .send(Message::Binary(&[1; 300]), &mut to_server)
            .unwrap();
        // The stream is reset after the first message and half the second
        // (compressed, the second is a few bytes).
        let half = whole + (to_server.len() - whole) / 2;
        server.receive(&to_server[..half]);
        server.receive_eof();
        let mut out = Vec::new();
        assert_eq!(
            drain(&mut server, &mut out),
            (vec!["text whole".into(), "close 1006".into()], "Done")
        );
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(
            server.sender().send(Message::Text("late"), &mut out),
            Err(SendError::Closed)
        );
        assert!(out.is_empty());
    }
}

fn configs() -> Vec<Config> {
    #[allow(unused_mut, reason = "one more with feature deflate")]
    let mut configs = vec![Config::default()];
    #[cfg(feature = "deflate")]
    configs.push(Config::default().with_deflate(Some(wstate::DeflateConfig::default())));
    configs
}
