//! Target `extended_connect`: the extended CONNECT of WebSocket over HTTP/2
//! (RFC 8441) and HTTP/3 (RFC 9220), from decoded fields both ways.

use arbitrary::{Arbitrary, Unstructured};
use wstate::handshake::h3::{ConnectError, ExtendedConnect, Scheme};
use wstate::handshake::{h2, h3};
use wstate::{Accept, ClientRequest, Config, DeflateConfig, SendError};

/// Names an HTTP/2 or HTTP/3 stack may hand over, so that the fuzzer
/// reaches the checks behind the pseudo-header fields quickly.
const NAMES: &[&str] = &[
    ":method",
    ":protocol",
    ":scheme",
    ":path",
    ":authority",
    ":status",
    "host",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "sec-websocket-key",
    "sec-websocket-accept",
    "origin",
    "content-length",
    "connection",
    "te",
    "upgrade",
    "transfer-encoding",
    "keep-alive",
    "proxy-connection",
];

/// Values, likewise.
const VALUES: &[&str] = &[
    "CONNECT",
    "GET",
    "websocket",
    "https",
    "http",
    "/",
    "/chat?room=1",
    "/chat?",
    "/chat#frag",
    "chat",
    "server.example.com",
    "u@server.example.com",
    "websocket2",
    "8",
    "chat, chat",
    "5",
    "dGhlIHNhbXBsZSBub25jZQ==",
    "example.com",
    "example.com:443",
    "13",
    "trailers",
    "0",
    "chat, superchat",
    "permessage-deflate",
    "permessage-deflate; client_max_window_bits",
    "200",
    "",
];

#[derive(Arbitrary, Debug)]
enum Text {
    Known(u8),
    Raw(Vec<u8>),
}

impl Text {
    fn bytes(&self, table: &[&str]) -> Vec<u8> {
        match self {
            Self::Known(i) => table[usize::from(*i) % table.len()].as_bytes().to_vec(),
            Self::Raw(bytes) => bytes.clone(),
        }
    }
}

/// A request's fields: from scratch, or the request of RFC 8441 §5.1
/// edited, which reaches the checks behind a well-formed CONNECT.
#[derive(Arbitrary, Debug)]
enum RequestFields {
    Raw(Vec<(Text, Text)>),
    Edited(Vec<Edit>),
}

/// One change to the base request, at a field index (modulo its length).
#[derive(Arbitrary, Debug)]
enum Edit {
    SetValue(u8, Text),
    SetName(u8, Text),
    Remove(u8),
    Insert(u8, Text, Text),
    Swap(u8, u8),
}

/// The base request: RFC 8441 §5.1's, as a client offering
/// permessage-deflate sends it.
const BASE: &[(&str, &str)] = &[
    (":method", "CONNECT"),
    (":protocol", "websocket"),
    (":scheme", "https"),
    (":path", "/chat?room=1"),
    (":authority", "server.example.com"),
    ("sec-websocket-protocol", "chat, superchat"),
    (
        "sec-websocket-extensions",
        "permessage-deflate; client_max_window_bits",
    ),
    ("sec-websocket-version", "13"),
    ("origin", "http://www.example.com"),
];

impl RequestFields {
    fn build(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let edits = match self {
            Self::Raw(list) => return fields(list),
            Self::Edited(edits) => edits,
        };
        let mut f: Vec<(Vec<u8>, Vec<u8>)> = BASE
            .iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        for edit in edits {
            let at = |i: u8, len: usize| usize::from(i) % len.max(1);
            match edit {
                Edit::SetValue(i, v) if !f.is_empty() => {
                    let i = at(*i, f.len());
                    f[i].1 = v.bytes(VALUES);
                }
                Edit::SetName(i, n) if !f.is_empty() => {
                    let i = at(*i, f.len());
                    f[i].0 = n.bytes(NAMES);
                }
                Edit::Remove(i) if !f.is_empty() => {
                    f.remove(at(*i, f.len()));
                }
                Edit::Insert(i, n, v) => {
                    let i = at(*i, f.len() + 1);
                    f.insert(i, (n.bytes(NAMES), v.bytes(VALUES)));
                }
                Edit::Swap(i, j) if !f.is_empty() => {
                    let (i, j) = (at(*i, f.len()), at(*j, f.len()));
                    f.swap(i, j);
                }
                _ => {}
            }
        }
        f
    }
}

/// What a caller asks the client for.
#[derive(Arbitrary, Debug)]
struct Caller {
    host: String,
    path: String,
    subprotocols: Vec<String>,
    headers: Vec<(String, String)>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// A request's fields as the peer's HTTP stack decoded them.
    request: RequestFields,
    /// Whether the setting was sent or received.
    enabled: bool,
    /// Both sides offer and accept permessage-deflate (with feature
    /// `deflate`).
    deflate: bool,
    /// Which offered subprotocol the server picks (past the last: none).
    choose: u8,
    /// A request the client builds, sent through the server and back.
    caller: Caller,
    /// Fields a server adds to the response the client reads.
    response_extra: Vec<(Text, Text)>,
}

fn fields(list: &[(Text, Text)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    list.iter()
        .map(|(n, v)| (n.bytes(NAMES), v.bytes(VALUES)))
        .collect()
}

fn setting(enabled: bool) -> ExtendedConnect {
    match enabled {
        true => ExtendedConnect::Enabled,
        false => ExtendedConnect::NotEnabled,
    }
}

/// * Any request fields: `validate_request` answers the same over HTTP/2
///   and HTTP/3; a refusal is malformed exactly when it has no status, and
///   is never a client's error; without the setting, a `:protocol` is
///   malformed and nothing is accepted (the rest answered as with it); what
///   is accepted obeys a model of RFC 9113 §8.2-§8.3, RFC 9114 §4.2-§4.3,
///   RFC 8441 §4-§5 and RFC 6455 written here, names the `:path` and
///   authority sent, and can be answered with a `200`.
/// * Whatever `connect` agrees to build, only with the setting, the server
///   accepts with the caller's path, host and subprotocols, and the client
///   accepts the server's `200` with the chosen subprotocol and the same
///   permessage-deflate parameters; a response with extra fields never
///   panics, and one with `sec-websocket-accept` or `-key` is refused.
/// * Memory: at most a constant plus a multiple of the input.
pub(crate) fn extended_connect(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let peak = crate::memory::peak(|| check(&input));
    if let Some(peak) = peak {
        assert!(
            peak <= 64 * 1024 + 64 * data.len(),
            "{peak} bytes held for {} bytes of input",
            data.len()
        );
    }
}

fn check(input: &Input) {
    let config = Config::default().with_deflate(input.deflate.then(DeflateConfig::default));
    let request = input.request.build();
    let setting = setting(input.enabled);
    let result = h3::validate_request(&request, setting);
    assert_eq!(result, h2::validate_request(&request, setting));
    let has_protocol = request.iter().any(|(n, _)| n == b":protocol");
    match &result {
        Err(e) => {
            assert_eq!(e.status().is_none(), e.is_malformed(), "{e:?}");
            assert!(
                !matches!(
                    e,
                    ConnectError::Rejected(_)
                        | ConnectError::UnexpectedSubprotocol
                        | ConnectError::UnexpectedExtension
                        | ConnectError::HandshakeKeyInResponse
                ),
                "{e:?}"
            );
        }
        Ok(_) => assert!(input.enabled, "accepted without the setting"),
    }
    if !input.enabled {
        if has_protocol {
            assert!(
                result.as_ref().is_err_and(ConnectError::is_malformed),
                "{result:?}"
            );
        } else {
            assert_eq!(
                result,
                h3::validate_request(&request, ExtendedConnect::Enabled)
            );
        }
    }
    if let Ok(req) = &result {
        model_accepts(&request);
        let value = |name: &[u8]| request.iter().find(|(n, _)| n == name).map(|(_, v)| &v[..]);
        let path = value(b":path").expect(":path");
        let sent = match path.strip_suffix(b"?") {
            Some(stripped) if !stripped.contains(&b'?') => stripped,
            _ => path,
        };
        assert_eq!(req.request().path().as_bytes(), sent);
        assert_eq!(req.request().target().as_bytes(), path);
        assert_eq!(req.request().method(), "CONNECT");
        let authority = value(b":authority").or(value(b"host")).expect("authority");
        assert_eq!(req.request().authority().as_bytes(), authority);
        // The request's fields are the regular ones, in order.
        let regular: Vec<(&[u8], &[u8])> = request
            .iter()
            .filter(|(n, _)| n.first() != Some(&b':'))
            .map(|(n, v)| (&n[..], &v[..]))
            .collect();
        let kept: Vec<(&[u8], &[u8])> = req
            .request()
            .headers()
            .iter()
            .map(|(n, v)| (n.as_bytes(), v))
            .collect();
        assert_eq!(kept, regular);
        let offered: Vec<&str> = req.request().subprotocols().collect();
        let chosen = offered.get(usize::from(input.choose)).copied();
        let accept = match chosen {
            Some(p) => Accept::new().subprotocol(p),
            None => Accept::new(),
        };
        let response = req.accept(&accept, &config).expect("accept");
        assert_eq!(response.status(), 200);
        let answered: Vec<(&str, &str)> = response.headers().collect();
        assert!(answered.iter().all(|(n, _)| !n.starts_with(':')));
        assert_eq!(
            answered
                .iter()
                .find(|(n, _)| *n == "sec-websocket-protocol")
                .map(|(_, v)| *v),
            chosen
        );
        if config.deflate().is_none() {
            assert_eq!(response.deflate(), None);
        }
    }
    round_trip(input, &config);
}

/// What RFC 9113/9114, RFC 8441 and RFC 6455 ask of a request that a
/// WebSocket server accepts, written independently of the crate.
fn model_accepts(request: &[(Vec<u8>, Vec<u8>)]) {
    let mut regular = false;
    for (name, value) in request {
        let (pseudo, rest) = match name.split_first() {
            Some((b':', rest)) => (true, rest),
            _ => (false, &name[..]),
        };
        assert!(!rest.is_empty(), "empty name accepted");
        assert!(
            rest.iter()
                .all(|&b| b > 0x20 && b < 0x7f && b != b':' && !b.is_ascii_uppercase()),
            "name {name:?} accepted"
        );
        assert!(
            !value.iter().any(|b| matches!(b, 0 | b'\r' | b'\n')),
            "value {value:?} accepted"
        );
        assert!(
            !matches!(value.first(), Some(b' ' | b'\t'))
                && !matches!(value.last(), Some(b' ' | b'\t')),
            "value {value:?} accepted"
        );
        assert!(
            !(pseudo && regular),
            "pseudo-header field after a regular one accepted"
        );
        regular |= !pseudo;
        let connection_specific: &[&[u8]] = &[
            b"connection",
            b"proxy-connection",
            b"keep-alive",
            b"transfer-encoding",
            b"upgrade",
        ];
        assert!(
            !connection_specific.contains(&&name[..]),
            "{name:?} accepted"
        );
        assert!(
            name != b"te" || value == b"trailers",
            "te {value:?} accepted"
        );
        assert!(
            name != b"sec-websocket-key" && name != b"sec-websocket-accept",
            "{name:?} accepted"
        );
    }
    let all = |name: &[u8]| -> Vec<&[u8]> {
        request
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| &v[..])
            .collect()
    };
    assert_eq!(all(b":method"), [b"CONNECT"]);
    let protocol = all(b":protocol");
    assert!(protocol.len() == 1 && protocol[0].eq_ignore_ascii_case(b"websocket"));
    let scheme = all(b":scheme");
    assert!(
        scheme.len() == 1
            && (scheme[0].eq_ignore_ascii_case(b"http")
                || scheme[0].eq_ignore_ascii_case(b"https"))
    );
    let path = all(b":path");
    assert!(path.len() == 1 && path[0].starts_with(b"/") && !path[0].contains(&b'#'));
    assert!(all(b":status").is_empty());
    assert_eq!(all(b"sec-websocket-version"), [b"13"]);
    let authority = all(b":authority");
    let host = all(b"host");
    assert!(authority.len() <= 1 && host.len() <= 1 && authority.len() + host.len() >= 1);
    if let ([a], [h]) = (&authority[..], &host[..]) {
        assert_eq!(a, h);
    }
}

/// Our client's CONNECT, through our server and back.
fn round_trip(input: &Input, config: &Config) {
    let c = &input.caller;
    let protocols: Vec<&str> = c.subprotocols.iter().map(String::as_str).collect();
    let headers: Vec<(&str, &str)> = c
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = ClientRequest::new(&c.host, &c.path)
        .subprotocols(&protocols)
        .headers(&headers);
    let built = h3::connect(&request, Scheme::Https, setting(input.enabled), config);
    assert_eq!(
        built,
        h2::connect(&request, Scheme::Https, setting(input.enabled), config)
    );
    if !input.enabled {
        assert_eq!(built, Err(SendError::ExtendedConnectNotEnabled));
        return;
    }
    let Ok(connect) = built else { return };
    let sent: Vec<(&str, &str)> = connect.headers().collect();
    assert_eq!(
        sent[..5],
        [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "https"),
            (":path", c.path.as_str()),
            (":authority", c.host.as_str()),
        ]
    );
    let req = match h3::validate_request(&sent, ExtendedConnect::Enabled) {
        Ok(req) => req,
        // A caller's field that makes the request invalid (a second
        // `origin` is fine; an `sec-websocket-version` of its own is not
        // possible: reserved).
        Err(e) => panic!("our server refuses our CONNECT: {e}\n{sent:?}"),
    };
    let resource = match c.path.split_once('?') {
        Some((path, "")) => path,
        _ => c.path.as_str(),
    };
    assert_eq!(
        (req.request().path(), req.request().authority()),
        (resource, c.host.as_str())
    );
    assert_eq!(req.request().subprotocols().collect::<Vec<_>>(), protocols);
    let chosen = protocols.get(usize::from(input.choose)).copied();
    let accept = match chosen {
        Some(p) => Accept::new().subprotocol(p),
        None => Accept::new(),
    };
    let response = req.accept(&accept, config).expect("accept our own offer");
    // As the client's HTTP stack decodes it: `:status`, then the fields.
    let status = response.status().to_string();
    let answered: Vec<(&str, &str)> = [(":status", status.as_str())]
        .into_iter()
        .chain(response.headers())
        .collect();
    let accepted = connect
        .validate_response(&answered)
        .expect("our server's 200");
    assert_eq!((accepted.status(), accepted.subprotocol()), (200, chosen));
    assert_eq!(accepted.deflate(), response.deflate());
    assert_eq!(accepted.deflate().is_some(), config.deflate().is_some());
    assert_eq!(accepted.headers().iter().count(), 0);

    // The same response with more fields: no panic; HTTP/1.1's key or
    // accept refused.
    let mut more: Vec<(Vec<u8>, Vec<u8>)> = answered
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
    more.extend(fields(&input.response_extra));
    let result = connect.validate_response(&more);
    let has_key = more
        .iter()
        .any(|(n, _)| n == b"sec-websocket-accept" || n == b"sec-websocket-key");
    if has_key {
        assert!(result.is_err(), "{more:?}");
    }
    if let Err(e) = result {
        assert_eq!(e.status(), None, "{e:?}");
    }
}

/// What an input exercises, in a few words, for naming seeds: the server's
/// answer to the request fields, then whether our client's CONNECT was
/// built.
pub(crate) fn describe(data: &[u8]) -> Option<String> {
    let input = Input::arbitrary_take_rest(Unstructured::new(data)).ok()?;
    let request = input.request.build();
    let server = match h3::validate_request(&request, setting(input.enabled)) {
        Ok(_) => "accepted".to_string(),
        Err(ConnectError::Malformed(why)) => format!("malformed-{why}"),
        Err(e) => format!("{e:?}"),
    };
    let c = &input.caller;
    let protocols: Vec<&str> = c.subprotocols.iter().map(String::as_str).collect();
    let headers: Vec<(&str, &str)> = c
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = ClientRequest::new(&c.host, &c.path)
        .subprotocols(&protocols)
        .headers(&headers);
    let client = match h3::connect(
        &request,
        Scheme::Https,
        setting(input.enabled),
        &Config::default(),
    ) {
        Ok(_) => "connect-built".to_string(),
        Err(e) => format!("connect-{e:?}"),
    };
    let name: String = format!("{server}-{client}")
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() {
                ch.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    Some(
        name.split('-')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("-"),
    )
}
