//! Target `client_request`: the request a client writes for what a caller
//! asks.

use super::common::*;
use super::handshake::*;
use arbitrary::{Arbitrary, Unstructured};
use wstate::{ClientRequest, Config, Connection, Polled};

/// What a caller asks `Connection::client` for.
#[derive(Arbitrary, Debug)]
pub(crate) struct CallerRequest {
    host: String,
    path: String,
    subprotocols: Vec<String>,
    headers: Vec<(String, String)>,
}

/// Header names the handshake itself writes: a caller who adds them again
/// makes a request the server may refuse (a second key, ...).
pub(crate) const HANDSHAKE_HEADERS: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
];

/// Whatever `Connection::client` agrees to send is a request our server
/// accepts, carrying exactly the caller's path, host, subprotocols and
/// headers (no header injection through the caller's strings); a refused
/// request writes nothing.
pub(crate) fn client_request(data: &[u8]) {
    let Ok(r) = CallerRequest::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let protocols: Vec<&str> = r.subprotocols.iter().map(String::as_str).collect();
    let headers: Vec<(&str, &str)> = r
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = ClientRequest::new(&r.host, &r.path)
        .subprotocols(&protocols)
        .headers(&headers);
    let mut out = Vec::new();
    let result = Connection::client(&request, client_entropy(), Config::default(), &mut out);
    let reserved = r.headers.iter().any(|(n, _)| {
        let n = n.to_ascii_lowercase();
        [
            "host",
            "upgrade",
            "connection",
            "content-length",
            "transfer-encoding",
        ]
        .contains(&n.as_str())
            || n.starts_with("sec-websocket-")
    });
    if reserved {
        // A header the request writes itself, or one announcing content.
        assert!(result.is_err(), "a reserved header was sent: {r:?}");
    }
    let Ok(_client) = result else {
        assert!(out.is_empty(), "bytes written for a refused request");
        return;
    };
    // Exactly one head, nothing after it.
    let head_len = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    assert_eq!(head_len, out.len(), "bytes after the request head");
    let ows = [' ', '\t'];
    // The server allows as many fields as the caller may add (the default
    // 64 would answer 431 to a long list the client may well send).
    let config = Config::default()
        .with_max_handshake_size(usize::MAX)
        .with_max_headers(r.headers.len() + 8);
    let mut server = Connection::server(config);
    let mut server_out = Vec::new();
    server.receive(&out);
    let request = match server.poll_event(&mut server_out) {
        Polled::Event(event, _) => own(event),
        Polled::Failed(e)
            if r.headers
                .iter()
                .any(|(n, _)| HANDSHAKE_HEADERS.contains(&n.to_ascii_lowercase().as_str())) =>
        {
            // The caller repeated a handshake header; refusing is fair.
            let _ = e;
            return;
        }
        other => panic!("our server refuses our request: {other:?}\n{r:?}"),
    };
    let Ev::Request(req) = request else {
        panic!("{request:?}")
    };
    // The server names the resource as RFC 6455 §3 builds it: the path,
    // then "?" and the query only "if the query component is non-empty".
    let resource = match r.path.split_once('?') {
        Some((path, "")) => path,
        _ => r.path.as_str(),
    };
    assert_eq!(req.path, resource);
    assert_eq!(req.key.as_deref().and_then(decode_key), Some(*NONCE));
    if !r
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-protocol"))
    {
        assert_eq!(req.subprotocols, r.subprotocols);
    }
    // Every field as the server sees it: the handshake's, then the caller's.
    let text = String::from_utf8_lossy(&out[..head_len - 4]).into_owned();
    let fields: Vec<(String, String)> = text
        .split("\r\n")
        .skip(1)
        .map(|line| {
            let (n, v) = line.split_once(':').expect("field line");
            (n.to_string(), v.trim_matches(ows).to_string())
        })
        .collect();
    let extra = &fields[fields.len() - r.headers.len()..];
    for ((name, value), (sent_name, sent_value)) in r.headers.iter().zip(extra) {
        assert_eq!(name, sent_name, "header name changed");
        assert_eq!(value.trim_matches(ows), sent_value, "header value changed");
    }
    let host = fields
        .iter()
        .find(|(n, _)| n == "Host")
        .map(|(_, v)| v.as_str());
    assert_eq!(host, Some(r.host.trim_matches(ows)), "Host changed");
}
