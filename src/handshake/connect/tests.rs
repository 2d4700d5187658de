//! Tests of the RFC 8441 extended CONNECT: requests in, responses out.

use super::*;
use crate::config::Config;
#[cfg(feature = "deflate")]
use crate::handshake::extensions;
use crate::handshake::{Accept, ClientRequest};
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

type Fields = Vec<(&'static str, &'static str)>;

/// RFC 8441 §5.1's request, with a query.
fn base() -> Fields {
    vec![
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":path", "/chat?room=1"),
        (":authority", "server.example.com"),
        ("sec-websocket-protocol", "chat, superchat"),
        ("sec-websocket-extensions", "permessage-deflate"),
        ("sec-websocket-version", "13"),
        ("origin", "http://www.example.com"),
    ]
}

/// The base request with the first field `name` given `value`.
fn set(name: &'static str, value: &'static str) -> Fields {
    let mut f = base();
    let i = f.iter().position(|(n, _)| *n == name).unwrap();
    f[i].1 = value;
    f
}

/// The base request without the field `name`.
fn without(name: &str) -> Fields {
    let mut f = base();
    f.retain(|(n, _)| *n != name);
    f
}

/// The base request with a field appended.
fn plus(name: &'static str, value: &'static str) -> Fields {
    let mut f = base();
    f.push((name, value));
    f
}

/// The base request with a field inserted at `i`.
fn insert(i: usize, name: &'static str, value: &'static str) -> Fields {
    let mut f = base();
    f.insert(i, (name, value));
    f
}

#[test]
fn valid_requests() {
    let f = base();
    let r = validate_request(&f, ExtendedConnect::Enabled).unwrap();
    assert_eq!(r.request().scheme(), Some(Scheme::Https));
    assert_eq!(r.request().authority(), "server.example.com");
    assert_eq!(r.request().path(), "/chat?room=1");
    assert_eq!(r.request().origin(), Some("http://www.example.com"));
    assert_eq!(
        r.request().subprotocols().collect::<Vec<_>>(),
        ["chat", "superchat"]
    );
    assert_eq!(
        r.request().extensions().collect::<Vec<_>>(),
        ["permessage-deflate"]
    );

    // Each (fields, authority, path, subprotocols) is accepted.
    let mut from_host = without(":authority");
    from_host.push(("host", "[::1]:8443"));
    let mut two_lines = without("sec-websocket-protocol");
    two_lines.push(("sec-websocket-protocol", "a"));
    two_lines.push(("sec-websocket-protocol", "b, c"));
    let cases: Vec<(Fields, &str, &str, Vec<&str>)> = vec![
        // :authority, else host (RFC 9113 §8.3.1), the same if both.
        (
            from_host,
            "[::1]:8443",
            "/chat?room=1",
            vec!["chat", "superchat"],
        ),
        (
            plus("host", "server.example.com"),
            "server.example.com",
            "/chat?room=1",
            vec!["chat", "superchat"],
        ),
        (
            set(":path", "/"),
            "server.example.com",
            "/",
            vec!["chat", "superchat"],
        ),
        // RFC 6455 §3: "?" only before a non-empty query.
        (
            set(":path", "/chat?"),
            "server.example.com",
            "/chat",
            vec!["chat", "superchat"],
        ),
        (
            set(":path", "/?"),
            "server.example.com",
            "/",
            vec!["chat", "superchat"],
        ),
        (
            set(":scheme", "HTTP"),
            "server.example.com",
            "/chat?room=1",
            vec!["chat", "superchat"],
        ),
        (
            set(":protocol", "WebSocket"),
            "server.example.com",
            "/chat?room=1",
            vec!["chat", "superchat"],
        ),
        (
            without("sec-websocket-protocol"),
            "server.example.com",
            "/chat?room=1",
            vec![],
        ),
        (
            two_lines,
            "server.example.com",
            "/chat?room=1",
            vec!["a", "b", "c"],
        ),
        (
            plus("te", "trailers"),
            "server.example.com",
            "/chat?room=1",
            vec!["chat", "superchat"],
        ),
        (
            plus("content-length", "0"),
            "server.example.com",
            "/chat?room=1",
            vec!["chat", "superchat"],
        ),
        (
            plus("x-empty", ""),
            "server.example.com",
            "/chat?room=1",
            vec!["chat", "superchat"],
        ),
        (
            plus("x-obs-text", "caf\u{e9}"),
            "server.example.com",
            "/chat?room=1",
            vec!["chat", "superchat"],
        ),
    ];
    for (fields, authority, path, protocols) in cases {
        let r = validate_request(&fields, ExtendedConnect::Enabled)
            .unwrap_or_else(|e| panic!("{fields:?}: {e}"));
        assert_eq!(r.request().authority(), authority, "{fields:?}");
        assert_eq!(r.request().path(), path, "{fields:?}");
        assert_eq!(
            r.request().subprotocols().collect::<Vec<_>>(),
            protocols,
            "{fields:?}"
        );
    }
    assert_eq!(
        validate_request(&set(":scheme", "http"), ExtendedConnect::Enabled)
            .unwrap()
            .request()
            .scheme(),
        Some(Scheme::Http)
    );
    assert_eq!(
        validate_request(&without("origin"), ExtendedConnect::Enabled)
            .unwrap()
            .request()
            .origin(),
        None
    );
    // Values as bytes, as an HTTP/2 stack hands them.
    let bytes: Vec<(&str, &[u8])> = base().into_iter().map(|(n, v)| (n, v.as_bytes())).collect();
    assert_eq!(
        validate_request(&bytes, ExtendedConnect::Enabled)
            .unwrap()
            .request()
            .path(),
        "/chat?room=1"
    );
}

#[test]
fn invalid_requests() {
    use ConnectError::*;
    let mut repeated_host = plus("host", "server.example.com");
    repeated_host.push(("host", "server.example.com"));
    let mut two_versions = base();
    two_versions.push(("sec-websocket-version", "13"));
    let mut repeated_protocol_lines = base();
    repeated_protocol_lines.push(("sec-websocket-protocol", "chat"));
    let bad_value: Fields = vec![(":method", "CONNECT"), ("x", "a\r\nb: c")];
    let get_without = |f: &Fields, name: &str| -> Fields {
        f.iter().filter(|(n, _)| *n != name).copied().collect()
    };
    let with = |f: &Fields, name: &str, value: &'static str| -> Fields {
        f.iter()
            .map(|&(n, v)| if n == name { (n, value) } else { (n, v) })
            .collect()
    };
    // A well-formed GET, and a well-formed CONNECT for a TCP tunnel.
    let get = with(&without(":protocol"), ":method", "GET");
    let tunnel: Fields = vec![
        (":method", "CONNECT"),
        (":authority", "server.example.com:443"),
    ];
    let cases: Vec<(Fields, ConnectError)> = vec![
        // RFC 9113 §8.2.1: field names and values.
        (
            plus("Origin", "x"),
            Malformed("field name with an uppercase letter or a byte not allowed"),
        ),
        (
            plus("x y", "x"),
            Malformed("field name with an uppercase letter or a byte not allowed"),
        ),
        (
            plus("x:y", "x"),
            Malformed("field name with an uppercase letter or a byte not allowed"),
        ),
        (
            plus("x\u{e9}", "x"),
            Malformed("field name with an uppercase letter or a byte not allowed"),
        ),
        (plus("", "x"), Malformed("empty field name")),
        (insert(0, ":", "x"), Malformed("empty field name")),
        (bad_value, Malformed("NUL, CR or LF in a field value")),
        (
            plus("x", "a\0b"),
            Malformed("NUL, CR or LF in a field value"),
        ),
        (
            plus("x", " a"),
            Malformed("whitespace around a field value"),
        ),
        (
            plus("x", "a\t"),
            Malformed("whitespace around a field value"),
        ),
        (
            set(":path", "/chat "),
            Malformed("whitespace around a field value"),
        ),
        // RFC 9113 §8.3: pseudo-header fields.
        (
            plus(":method", "CONNECT"),
            Malformed("pseudo-header field after a regular field"),
        ),
        (
            insert(1, ":method", "CONNECT"),
            Malformed("repeated pseudo-header field"),
        ),
        (
            insert(1, ":status", "200"),
            Malformed("undefined pseudo-header field"),
        ),
        (
            insert(1, ":foo", "x"),
            Malformed("undefined pseudo-header field"),
        ),
        (without(":method"), Malformed("missing :method")),
        (without(":scheme"), Malformed("missing :scheme")),
        (without(":path"), Malformed("missing :path")),
        (
            without(":authority"),
            Malformed("neither :authority nor host"),
        ),
        (
            plus("host", "other.example.com"),
            Malformed(":authority and host differ"),
        ),
        (repeated_host, Malformed("repeated host field")),
        // RFC 9113 §8.2.2, RFC 8441 §5: connection-specific fields.
        (
            plus("connection", "upgrade"),
            Malformed("connection-specific field"),
        ),
        (
            plus("upgrade", "websocket"),
            Malformed("connection-specific field"),
        ),
        (
            plus("keep-alive", "timeout=5"),
            Malformed("connection-specific field"),
        ),
        (
            plus("proxy-connection", "keep-alive"),
            Malformed("connection-specific field"),
        ),
        (
            plus("transfer-encoding", "chunked"),
            Malformed("connection-specific field"),
        ),
        (plus("te", "gzip"), Malformed("te other than \"trailers\"")),
        // The method and protocol. RFC 8441 §4, RFC 9113 §8.3: :protocol
        // belongs to CONNECT; on another method it makes the request
        // malformed, not one to answer with 405.
        (
            set(":method", "GET"),
            Malformed(":protocol in a request other than CONNECT"),
        ),
        (
            set(":method", "connect"),
            Malformed(":protocol in a request other than CONNECT"),
        ),
        (get.clone(), MethodNotConnect),
        (get_without(&get, ":path"), Malformed("missing :path")),
        (get_without(&get, ":scheme"), Malformed("missing :scheme")),
        (with(&get, ":path", ""), Malformed("empty :path")),
        // RFC 9113 §8.5: a CONNECT without :protocol has no :scheme or
        // :path, and an :authority; well-formed, it asks for a tunnel: 501.
        (
            without(":protocol"),
            Malformed(":scheme or :path in a CONNECT without :protocol"),
        ),
        (
            get_without(&without(":protocol"), ":scheme"),
            Malformed(":scheme or :path in a CONNECT without :protocol"),
        ),
        (
            get_without(&without(":protocol"), ":path"),
            Malformed(":scheme or :path in a CONNECT without :protocol"),
        ),
        (tunnel.clone(), NotExtendedConnect),
        (
            get_without(&tunnel, ":authority"),
            Malformed("CONNECT without :authority"),
        ),
        (set(":protocol", "webtransport"), UnsupportedProtocol),
        (set(":protocol", ""), UnsupportedProtocol),
        // The target.
        (set(":scheme", "ws"), InvalidScheme),
        (set(":scheme", "ftp"), InvalidScheme),
        // RFC 9113 §8.3.1: ":path ... MUST NOT be empty for "http" or
        // "https" URIs".
        (set(":path", ""), Malformed("empty :path")),
        (set(":path", "chat"), InvalidPath("not starting with '/'")),
        (set(":path", "*"), InvalidPath("not starting with '/'")),
        (
            set(":path", "https://server.example.com/chat"),
            InvalidPath("not starting with '/'"),
        ),
        (
            set(":path", "/chat#top"),
            InvalidPath("a request target has no fragment"),
        ),
        (set(":path", "/a b"), InvalidPath("invalid character")),
        (set(":path", "/a%zz"), InvalidPath("invalid character")),
        (set(":path", "/{x}"), InvalidPath("invalid character")),
        // RFC 9113 §8.3.1: :authority and host "MUST NOT be empty", and
        // no userinfo in :authority.
        (set(":authority", ""), Malformed("empty :authority or host")),
        (plus("host", ""), Malformed("empty :authority or host")),
        (
            set(":authority", "user@server.example.com"),
            Malformed("userinfo in :authority"),
        ),
        (
            set(":authority", "server.example.com:port"),
            InvalidAuthority,
        ),
        (set(":authority", "a,b"), InvalidAuthority),
        (set(":authority", "[::1"), InvalidAuthority),
        // The WebSocket fields. HTTP/1.1's key and accept are superseded
        // by :protocol (RFC 8441 §5).
        (
            plus("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            HandshakeKeyInRequest,
        ),
        (plus("sec-websocket-accept", "x"), HandshakeKeyInRequest),
        (plus("sec-websocket-key", ""), HandshakeKeyInRequest),
        (without("sec-websocket-version"), UnsupportedVersion),
        (set("sec-websocket-version", "8"), UnsupportedVersion),
        (set("sec-websocket-version", "13, 8"), UnsupportedVersion),
        (two_versions, UnsupportedVersion),
        (
            set("sec-websocket-protocol", "chat, chat"),
            InvalidSubprotocol,
        ),
        (
            set("sec-websocket-protocol", "chat, a b"),
            InvalidSubprotocol,
        ),
        (
            set("sec-websocket-protocol", "chat, \"x\""),
            InvalidSubprotocol,
        ),
        (repeated_protocol_lines, InvalidSubprotocol),
        (plus("content-length", "5"), RequestContent),
        (plus("content-length", ""), RequestContent),
        (plus("content-length", "0, 1"), RequestContent),
    ];
    for (fields, expected) in cases {
        assert_eq!(
            validate_request(&fields, ExtendedConnect::Enabled),
            Err(expected),
            "{fields:?}"
        );
    }
}

#[test]
fn error_statuses() {
    use ConnectError::*;
    type Case = (
        ConnectError,
        Option<u16>,
        &'static [(&'static str, &'static str)],
    );
    let cases: [Case; 17] = [
        (Malformed("x"), None, &[]),
        (MethodNotConnect, Some(405), &[("allow", "CONNECT")]),
        (NotExtendedConnect, Some(501), &[]),
        (UnsupportedProtocol, Some(501), &[]),
        (InvalidScheme, Some(400), &[]),
        (InvalidPath("empty"), Some(400), &[]),
        (InvalidAuthority, Some(400), &[]),
        (
            UnsupportedVersion,
            Some(400),
            &[("sec-websocket-version", "13")],
        ),
        (InvalidSubprotocol, Some(400), &[]),
        (RequestContent, Some(400), &[]),
        (HandshakeKeyInRequest, Some(400), &[]),
        (Rejected(404), None, &[]),
        (Rejected(200), None, &[]),
        (UnexpectedSubprotocol, None, &[]),
        (UnexpectedExtension, None, &[]),
        (HandshakeKeyInResponse, None, &[]),
        (Malformed(""), None, &[]),
    ];
    for (error, status, headers) in cases {
        assert_eq!(error.status(), status, "{error}");
        assert_eq!(error.response_headers(), headers, "{error}");
    }
    for (error, _, _) in &cases {
        assert_eq!(
            error.is_malformed(),
            matches!(error, Malformed(_)),
            "{error}"
        );
    }
    let shown: Vec<String> = cases
        .iter()
        .map(|(e, _, _)| alloc::format!("{e}"))
        .collect();
    assert_eq!(
        shown,
        [
            "malformed message: x",
            ":method is not CONNECT",
            "CONNECT without :protocol",
            ":protocol is not websocket",
            ":scheme is not http or https",
            "invalid :path: empty",
            "invalid :authority",
            "sec-websocket-version is not 13",
            "sec-websocket-protocol offers a non-token or a repeated element",
            "a CONNECT request has no content",
            "sec-websocket-key or -accept in an extended CONNECT",
            "server answered 404",
            "server answered 200",
            "server chose a subprotocol not offered",
            "server chose an extension not offered",
            "sec-websocket-accept or -key in the response to an extended CONNECT",
            "malformed message: ",
        ]
    );
    assert_eq!(
        alloc::format!("{}", InvalidPath("empty")),
        "invalid :path: empty"
    );
}

fn accept_fields(accept: &Accept<'_>, config: &Config) -> Result<Vec<(String, String)>, SendError> {
    let fields = base();
    let request = validate_request(&fields, ExtendedConnect::Enabled).unwrap();
    let response = request.accept(accept, config)?;
    // "the server answers 200" (RFC 8441 §5.1), whatever was chosen.
    assert_eq!(response.status(), 200);
    Ok(response
        .headers()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect())
}

fn owned(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn responses() {
    let config = Config::default();
    let cases: Vec<(Accept<'_>, &[(&str, &str)])> = vec![
        (Accept::new(), &[]),
        (
            Accept::new().subprotocol("chat"),
            &[("sec-websocket-protocol", "chat")],
        ),
        (
            Accept::new()
                .subprotocol("superchat")
                .headers(&[("X-Server", "wstate"), ("set-cookie", "a=b")]),
            &[
                ("sec-websocket-protocol", "superchat"),
                ("x-server", "wstate"),
                ("set-cookie", "a=b"),
            ],
        ),
    ];
    for (accept, expected) in cases {
        assert_eq!(accept_fields(&accept, &config), Ok(owned(expected)));
    }
    let refused: Vec<(Accept<'_>, SendError)> = vec![
        (
            Accept::new().subprotocol("other"),
            SendError::SubprotocolNotOffered,
        ),
        (
            Accept::new().subprotocol("chat, superchat"),
            SendError::SubprotocolNotOffered,
        ),
        (
            Accept::new().headers(&[("Connection", "close")]),
            SendError::ReservedHeader,
        ),
        (
            Accept::new().headers(&[("upgrade", "websocket")]),
            SendError::ReservedHeader,
        ),
        (
            Accept::new().headers(&[("keep-alive", "5")]),
            SendError::ReservedHeader,
        ),
        (
            Accept::new().headers(&[("Content-Length", "0")]),
            SendError::ReservedHeader,
        ),
        (
            Accept::new().headers(&[("te", "trailers")]),
            SendError::ReservedHeader,
        ),
        (
            Accept::new().headers(&[("Sec-WebSocket-Accept", "x")]),
            SendError::ReservedHeader,
        ),
        (
            Accept::new().headers(&[(":status", "101")]),
            SendError::InvalidHeader,
        ),
        (
            Accept::new().headers(&[("x", "a\r\nb")]),
            SendError::InvalidHeader,
        ),
        (
            Accept::new().headers(&[("x", " a")]),
            SendError::InvalidHeader,
        ),
        (
            Accept::new().headers(&[("", "a")]),
            SendError::InvalidHeader,
        ),
    ];
    for (accept, expected) in refused {
        assert_eq!(accept_fields(&accept, &config), Err(expected), "{accept:?}");
    }
}

#[cfg(feature = "deflate")]
#[test]
fn responses_negotiate_deflate() {
    use crate::handshake::extensions::DeflateConfig;
    let on = Config::default().with_deflate(Some(DeflateConfig::default()));
    // Declined when off, as the HTTP/1.1 server does.
    let fields = base();
    let response = validate_request(&fields, ExtendedConnect::Enabled)
        .unwrap()
        .accept(&Accept::new(), &Config::default())
        .unwrap();
    assert_eq!(response.deflate(), None);
    assert_eq!(response.headers().count(), 0);
    let cases: [(&str, Option<&str>); 4] = [
        ("permessage-deflate", Some("permessage-deflate")),
        (
            "permessage-deflate; client_max_window_bits=10; server_no_context_takeover",
            Some("permessage-deflate; server_no_context_takeover; client_max_window_bits=10"),
        ),
        ("x-webkit-deflate-frame, permessage-deflate; x=1", None),
        ("permessage-deflate; server_max_window_bits=7", None),
    ];
    for (offer, answer) in cases {
        let fields = set("sec-websocket-extensions", offer);
        let request = validate_request(&fields, ExtendedConnect::Enabled).unwrap();
        let response = request
            .accept(&Accept::new().subprotocol("chat"), &on)
            .unwrap();
        let mut expected = vec![("sec-websocket-protocol", "chat")];
        expected.extend(answer.map(|a| ("sec-websocket-extensions", a)));
        assert_eq!(response.headers().collect::<Vec<_>>(), expected, "{offer}");
        let params = extensions::negotiate([offer.as_bytes()], &on.deflate);
        assert_eq!(response.deflate(), params, "{offer}");
    }
}

#[test]
fn client_requests() {
    let config = Config::default();
    let request = ClientRequest::new("server.example.com", "/chat")
        .subprotocols(&["chat", "superchat"])
        .headers(&[("Origin", "http://www.example.com"), ("Cookie", "a=b")]);
    let connect = connect(&request, Scheme::Https, ExtendedConnect::Enabled, &config).unwrap();
    assert_eq!(
        connect.headers().collect::<Vec<_>>(),
        [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "https"),
            (":path", "/chat"),
            (":authority", "server.example.com"),
            ("sec-websocket-protocol", "chat, superchat"),
            ("sec-websocket-version", "13"),
            ("origin", "http://www.example.com"),
            ("cookie", "a=b"),
        ]
    );
    assert_eq!(
        connect.subprotocols().collect::<Vec<_>>(),
        ["chat", "superchat"]
    );
    // What we send, our server accepts.
    let sent: Vec<(&str, &str)> = connect.headers().collect();
    let r = validate_request(&sent, ExtendedConnect::Enabled).unwrap();
    assert_eq!(
        (r.request().authority(), r.request().path()),
        ("server.example.com", "/chat")
    );

    let plain = super::connect(
        &ClientRequest::new("[::1]:9001", "/"),
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
            (":authority", "[::1]:9001"),
            ("sec-websocket-version", "13"),
        ]
    );
    assert_eq!(plain.subprotocols().count(), 0);

    let refused: Vec<(ClientRequest<'_>, SendError)> = vec![
        (ClientRequest::new("", "/"), SendError::InvalidHeader),
        (ClientRequest::new("a b", "/"), SendError::InvalidHeader),
        (
            ClientRequest::new("user@host", "/"),
            SendError::InvalidHeader,
        ),
        (ClientRequest::new("host", ""), SendError::InvalidHeader),
        (ClientRequest::new("host", "chat"), SendError::InvalidHeader),
        (ClientRequest::new("host", "/a b"), SendError::InvalidHeader),
        (ClientRequest::new("host", "/a#b"), SendError::InvalidHeader),
        (
            ClientRequest::new("host", "/").subprotocols(&["a", "a"]),
            SendError::InvalidSubprotocol,
        ),
        (
            ClientRequest::new("host", "/").subprotocols(&["a b"]),
            SendError::InvalidSubprotocol,
        ),
        (
            ClientRequest::new("host", "/").subprotocols(&[""]),
            SendError::InvalidSubprotocol,
        ),
        (
            ClientRequest::new("host", "/").headers(&[("Host", "host")]),
            SendError::ReservedHeader,
        ),
        (
            ClientRequest::new("host", "/").headers(&[("Upgrade", "websocket")]),
            SendError::ReservedHeader,
        ),
        (
            ClientRequest::new("host", "/").headers(&[("connection", "upgrade")]),
            SendError::ReservedHeader,
        ),
        (
            ClientRequest::new("host", "/").headers(&[("TE", "trailers")]),
            SendError::ReservedHeader,
        ),
        (
            ClientRequest::new("host", "/").headers(&[("sec-websocket-key", "x")]),
            SendError::ReservedHeader,
        ),
        (
            ClientRequest::new("host", "/").headers(&[(":protocol", "x")]),
            SendError::InvalidHeader,
        ),
        (
            ClientRequest::new("host", "/").headers(&[("x", "a ")]),
            SendError::InvalidHeader,
        ),
    ];
    for (request, expected) in refused {
        assert_eq!(
            super::connect(&request, Scheme::Https, ExtendedConnect::Enabled, &config),
            Err(expected),
            "{request:?}"
        );
    }
}

#[test]
fn client_validates_responses() {
    use ConnectError::*;
    let config = Config::default();
    let connect = connect(
        &ClientRequest::new("server.example.com", "/chat").subprotocols(&["chat", "superchat"]),
        Scheme::Https,
        ExtendedConnect::Enabled,
        &config,
    )
    .unwrap();
    let ok: Vec<(Fields, u16, Option<&str>)> = vec![
        (vec![(":status", "200")], 200, None),
        (
            vec![(":status", "200"), ("sec-websocket-protocol", "chat")],
            200,
            Some("chat"),
        ),
        (
            vec![(":status", "204"), ("sec-websocket-protocol", "superchat")],
            204,
            Some("superchat"),
        ),
        // Ignored (RFC 9110 §9.3.6).
        (
            vec![(":status", "200"), ("content-length", "10")],
            200,
            None,
        ),
        (
            vec![(":status", "200"), ("sec-websocket-extensions", "")],
            200,
            None,
        ),
    ];
    for (fields, status, subprotocol) in ok {
        let accepted = connect
            .validate_response(&fields)
            .unwrap_or_else(|e| panic!("{fields:?}: {e}"));
        assert_eq!(
            (accepted.status(), accepted.subprotocol()),
            (status, subprotocol)
        );
    }
    let refused: Vec<(Fields, ConnectError)> = vec![
        (vec![], Malformed("missing :status")),
        (
            vec![(":status", "200"), ("sec-websocket-accept", "x")],
            HandshakeKeyInResponse,
        ),
        (
            vec![(":status", "200"), ("sec-websocket-key", "x")],
            HandshakeKeyInResponse,
        ),
        (
            vec![("sec-websocket-protocol", "chat")],
            Malformed("missing :status"),
        ),
        (vec![(":status", "20")], Malformed("invalid :status")),
        (vec![(":status", "2000")], Malformed("invalid :status")),
        (vec![(":status", "abc")], Malformed("invalid :status")),
        (vec![(":status", "099")], Malformed("invalid :status")),
        (
            vec![(":status", "200"), (":status", "200")],
            Malformed("repeated pseudo-header field"),
        ),
        (
            vec![(":status", "200"), (":path", "/")],
            Malformed("undefined pseudo-header field"),
        ),
        (
            vec![("x", "y"), (":status", "200")],
            Malformed("pseudo-header field after a regular field"),
        ),
        (
            vec![(":status", "200"), ("upgrade", "websocket")],
            Malformed("connection-specific field"),
        ),
        (
            vec![(":status", "200"), ("transfer-encoding", "chunked")],
            Malformed("connection-specific field"),
        ),
        (
            vec![(":status", "200"), ("X", "y")],
            Malformed("field name with an uppercase letter or a byte not allowed"),
        ),
        (vec![(":status", "101")], Rejected(101)),
        (vec![(":status", "301")], Rejected(301)),
        (vec![(":status", "404")], Rejected(404)),
        (vec![(":status", "429")], Rejected(429)),
        (vec![(":status", "501")], Rejected(501)),
        (
            vec![(":status", "200"), ("sec-websocket-protocol", "other")],
            UnexpectedSubprotocol,
        ),
        (
            vec![
                (":status", "200"),
                ("sec-websocket-protocol", "chat, superchat"),
            ],
            UnexpectedSubprotocol,
        ),
        (
            vec![
                (":status", "200"),
                ("sec-websocket-protocol", "chat"),
                ("sec-websocket-protocol", "chat"),
            ],
            UnexpectedSubprotocol,
        ),
        // RFC 6455 §4.1: exactly one offered token; an empty value or a
        // bare comma names none of them.
        (
            vec![(":status", "200"), ("sec-websocket-protocol", "")],
            UnexpectedSubprotocol,
        ),
        (
            vec![(":status", "200"), ("sec-websocket-protocol", ",")],
            UnexpectedSubprotocol,
        ),
        (
            vec![(":status", "200"), ("sec-websocket-protocol", "chat,")],
            UnexpectedSubprotocol,
        ),
        // Not offered (deflate off).
        (
            vec![
                (":status", "200"),
                ("sec-websocket-extensions", "permessage-deflate"),
            ],
            UnexpectedExtension,
        ),
        (
            vec![(":status", "200"), ("sec-websocket-extensions", "x-custom")],
            UnexpectedExtension,
        ),
    ];
    for (fields, expected) in refused {
        assert_eq!(
            connect.validate_response(&fields),
            Err(expected),
            "{fields:?}"
        );
    }
    // No subprotocol offered: none may be chosen.
    let bare = super::connect(
        &ClientRequest::new("h", "/"),
        Scheme::Http,
        ExtendedConnect::Enabled,
        &config,
    )
    .unwrap();
    for chosen in ["chat", "", ","] {
        assert_eq!(
            bare.validate_response(&[(":status", "200"), ("sec-websocket-protocol", chosen)]),
            Err(UnexpectedSubprotocol),
            "{chosen:?}"
        );
    }
}

#[cfg(feature = "deflate")]
#[test]
fn client_negotiates_deflate() {
    use crate::handshake::extensions::DeflateConfig;
    let config = Config::default().with_deflate(Some(DeflateConfig::default()));
    let connect = connect(
        &ClientRequest::new("h", "/"),
        Scheme::Https,
        ExtendedConnect::Enabled,
        &config,
    )
    .unwrap();
    assert_eq!(
        connect.headers().collect::<Vec<_>>(),
        [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "https"),
            (":path", "/"),
            (":authority", "h"),
            (
                "sec-websocket-extensions",
                "permessage-deflate; client_max_window_bits"
            ),
            ("sec-websocket-version", "13"),
        ]
    );
    let accepted = connect
        .validate_response(&[
            (":status", "200"),
            (
                "sec-websocket-extensions",
                "permessage-deflate; client_max_window_bits=12",
            ),
        ])
        .unwrap();
    let params = accepted.deflate().unwrap();
    assert_eq!(params.client_max_window_bits, Some(12));
    assert_eq!(accepted.subprotocol(), None);
    for bad in [
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate, permessage-deflate",
        "permessage-deflate; x=1",
        "x-custom",
    ] {
        assert_eq!(
            connect.validate_response(&[(":status", "200"), ("sec-websocket-extensions", bad)]),
            Err(ConnectError::UnexpectedExtension),
            "{bad}"
        );
    }
    assert_eq!(
        connect
            .validate_response(&[(":status", "200")])
            .unwrap()
            .deflate(),
        None
    );
}

/// No input panics: every field of a valid request and response, each
/// byte replaced by bytes that matter to the parsers, or cut short.
#[test]
fn no_panic_on_mutated_fields() {
    let config = Config::default();
    let connect = connect(
        &ClientRequest::new("h", "/").subprotocols(&["chat"]),
        Scheme::Https,
        ExtendedConnect::Enabled,
        &config,
    )
    .unwrap();
    let request: Vec<(Vec<u8>, Vec<u8>)> = base()
        .into_iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
    let response: Vec<(Vec<u8>, Vec<u8>)> = [
        (":status", "200"),
        ("sec-websocket-protocol", "chat"),
        (
            "sec-websocket-extensions",
            "permessage-deflate; client_max_window_bits=9",
        ),
    ]
    .into_iter()
    .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
    .collect();
    let bytes = [
        0, b'\t', b' ', b'"', b',', b'/', b':', b';', b'=', b'@', b'A', b'[', 0x7f, 0xc3, 0xff,
    ];
    for fields in [&request, &response] {
        for i in 0..fields.len() {
            for part in 0..2 {
                let len = if part == 0 {
                    fields[i].0.len()
                } else {
                    fields[i].1.len()
                };
                for at in 0..len {
                    let mut variants = Vec::new();
                    for b in bytes {
                        let mut f = fields.clone();
                        let target = if part == 0 { &mut f[i].0 } else { &mut f[i].1 };
                        target[at] = b;
                        variants.push(f);
                    }
                    let mut cut = fields.clone();
                    let target = if part == 0 {
                        &mut cut[i].0
                    } else {
                        &mut cut[i].1
                    };
                    target.truncate(at);
                    variants.push(cut);
                    for f in &variants {
                        if let Ok(r) = validate_request(f, ExtendedConnect::Enabled) {
                            let _ = (
                                r.request().subprotocols().count(),
                                r.request().extensions().count(),
                            );
                            let _ = r.accept(&Accept::new(), &config);
                        }
                        let _ = connect.validate_response(f);
                    }
                }
            }
        }
    }
}
