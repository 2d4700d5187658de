//! The server's side of the extended CONNECT: checking the request
//! (RFC 8441 §4, §5; RFC 9220 §3), building the `200`.

use alloc::string::ToString;
use alloc::vec::Vec;

use super::{
    ConnectError, ExtendedConnect, Scheme, check_extra_headers, check_path, has_handshake_key,
    push_lowercase, read_fields, regular, values,
};
use crate::config::Config;
use crate::error::SendError;
use crate::handshake::extensions;
use crate::handshake::fields::split_list;
use crate::handshake::server::{Request, Response, Upgrade};
use crate::handshake::uri::{self, ResourceName};
use crate::handshake::{Accept, subprotocol};

/// The `200` for an extended CONNECT that [`validate_request`] checked:
/// the chosen subprotocol, the permessage-deflate answer (negotiated from
/// `config.deflate` exactly as the HTTP/1.1 server does) and the caller's
/// extra fields, names lowercased (see `Upgrade::accept`).
pub(crate) fn answer(
    request: &Request<'_>,
    accept: &Accept<'_>,
    config: &Config,
) -> Result<Response, SendError> {
    let fields = request.headers();
    // RFC 6455 §4.2.2: the server's choice is "one of the values provided
    // by the client in the |Sec-WebSocket-Protocol| header field"; RFC 8441
    // §5 keeps the field "as defined in [RFC6455]".
    subprotocol::check_choice(fields.get_all("sec-websocket-protocol"), accept.subprotocol)?;
    check_extra_headers(accept.headers, RESPONSE_RESERVED)?;
    let deflate = extensions::answer(fields.get_all("sec-websocket-extensions"), config);
    let mut headers = Vec::with_capacity(2 + accept.headers.len());
    if let Some(chosen) = accept.subprotocol {
        headers.push(("sec-websocket-protocol".to_string(), chosen.to_string()));
    }
    if let Some(params) = deflate {
        headers.push(("sec-websocket-extensions".to_string(), params.to_string()));
    }
    push_lowercase(&mut headers, accept.headers);
    Ok(Response {
        status: 200,
        headers,
        deflate,
    })
}

/// Checks an extended CONNECT request for a WebSocket (RFC 8441 §4, §5;
/// RFC 9220 §3) from its decoded fields, pseudo-header fields first, names
/// lowercase as HTTP/2 and HTTP/3 carry them. `setting` says whether this
/// server sent `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` on the connection the
/// request came in on: without it a `:protocol` is malformed ("a
/// non-supporting peer would detect a malformed request and generate a
/// stream error", RFC 8441 §3).
///
/// With the `h2` crate, the fields are the request's method, its
/// `h2::ext::Protocol` extension, the URI's scheme, path and query and
/// authority, then its `HeaderMap` (see the examples in `benches/`).
///
/// The [`Upgrade`] it returns holds the [`Request`], whose questions are
/// those of an HTTP/1.1 upgrade (its [`scheme`](Request::scheme) is
/// `:scheme`, its [`headers`](Request::headers) the regular fields), and
/// [`accept`](Upgrade::accept) builds the `200`.
///
/// A `sec-websocket-key` or `sec-websocket-accept` field is refused
/// ([`ConnectError::HandshakeKeyInRequest`], 400): "Implementations using
/// this extended CONNECT to bootstrap WebSockets do not do the processing
/// of the Sec-WebSocket-Key and Sec-WebSocket-Accept header fields of
/// \[RFC6455\] as that functionality has been superseded by the :protocol
/// pseudo-header field" (RFC 8441 §5).
pub fn validate_request<N, V>(
    fields: &[(N, V)],
    setting: ExtendedConnect,
) -> Result<Upgrade<'_>, ConnectError>
where
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let p = read_fields(fields, false)?;
    // RFC 9113 §8.3.1: "All HTTP/2 requests MUST include exactly one valid
    // value for the ":method", ":scheme", and ":path" pseudo-header fields,
    // unless they are CONNECT requests (Section 8.5). An HTTP request that
    // omits mandatory pseudo-header fields is malformed"; RFC 9114 §4.3.1
    // says the same of HTTP/3.
    let method = p.method.ok_or(ConnectError::Malformed("missing :method"))?;
    // RFC 8441 §3: "Upon receipt of SETTINGS_ENABLE_CONNECT_PROTOCOL with a
    // value of 1, a client MAY use the Extended CONNECT"; before it,
    // `:protocol` is no defined pseudo-header field (RFC 9113 §8.3, RFC 9114
    // §4.3: malformed).
    if p.protocol.is_some() && setting == ExtendedConnect::NotEnabled {
        return Err(ConnectError::Malformed(
            ":protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL",
        ));
    }
    let protocol = match (method == b"CONNECT", p.protocol) {
        (true, Some(protocol)) => protocol,
        // RFC 8441 §4: ":protocol ... indicating the desired protocol to be
        // spoken on the tunnel created by CONNECT"; on another method it is
        // no defined pseudo-header field, and RFC 9113 §8.3: "Endpoints MUST
        // treat a request or response that contains undefined or invalid
        // pseudo-header fields as malformed".
        (false, Some(_)) => {
            return Err(ConnectError::Malformed(
                ":protocol in a request other than CONNECT",
            ));
        }
        (false, None) => {
            // A well-formed request for something else (RFC 9113 §8.3.1,
            // above): 405.
            let scheme = p.scheme.ok_or(ConnectError::Malformed("missing :scheme"))?;
            let path = p.path.ok_or(ConnectError::Malformed("missing :path"))?;
            check_path_not_empty(scheme, path)?;
            return Err(ConnectError::MethodNotConnect);
        }
        (true, None) => {
            // A CONNECT for a TCP tunnel: "The :scheme and :path
            // pseudo-header fields MUST be omitted. ... The :authority
            // pseudo-header field contains the host and port to connect to
            // ... A CONNECT request that does not conform to these
            // restrictions is malformed" (RFC 9113 §8.5; RFC 9114 §4.4). A well-formed one
            // asks for a tunnel we do not provide: 501.
            if p.scheme.is_some() || p.path.is_some() {
                return Err(ConnectError::Malformed(
                    ":scheme or :path in a CONNECT without :protocol",
                ));
            }
            if p.authority.is_none() {
                return Err(ConnectError::Malformed("CONNECT without :authority"));
            }
            return Err(ConnectError::NotExtendedConnect);
        }
    };
    // RFC 8441 §5: "The :protocol pseudo-header field MUST be included in
    // the CONNECT request, and it MUST have a value of "websocket" to
    // initiate a WebSocket connection on an HTTP/2 stream"; RFC 9220 §3:
    // a server that "receives an Extended CONNECT request with a ":protocol"
    // value that is unknown or is not supported ... SHOULD respond to the
    // request with a 501". (Upgrade tokens, like RFC 6455's Upgrade value,
    // compare case-insensitively.)
    if !protocol.eq_ignore_ascii_case(b"websocket") {
        return Err(ConnectError::UnsupportedProtocol);
    }
    // RFC 8441 §4: "On requests that contain the :protocol pseudo-header
    // field, the :scheme and :path pseudo-header fields of the target URI
    // (see Section 5) MUST also be included."
    let scheme = p.scheme.ok_or(ConnectError::Malformed("missing :scheme"))?;
    let path = p.path.ok_or(ConnectError::Malformed("missing :path"))?;
    check_path_not_empty(scheme, path)?;
    // §5: the scheme "MUST be "https" for "wss"-schemed WebSockets and
    // "http" for "ws"-schemed WebSockets". Schemes are case-insensitive
    // (RFC 3986 §3.1).
    let scheme = if scheme.eq_ignore_ascii_case(b"https") {
        Scheme::Https
    } else if scheme.eq_ignore_ascii_case(b"http") {
        Scheme::Http
    } else {
        return Err(ConnectError::InvalidScheme);
    };
    // RFC 6455 §3: "?" only before a non-empty query (`/chat?` names
    // `/chat`); `:path` starts with "/", so the path is never empty.
    let target = check_path(path)?;
    let ResourceName::Sent(path) = uri::resource_name(target) else {
        return Err(ConnectError::InvalidPath("not starting with '/'"));
    };
    let authority = request_authority(fields, p.authority)?;
    if has_handshake_key(fields) {
        return Err(ConnectError::HandshakeKeyInRequest);
    }
    let mut versions = values(fields, "sec-websocket-version");
    if versions.next() != Some(b"13") || versions.next().is_some() {
        return Err(ConnectError::UnsupportedVersion);
    }
    // RFC 9110 §9.3.6: "A CONNECT request message does not have content";
    // its DATA frames are the tunnel (here, WebSocket frames). "0", or a
    // list of zeros (RFC 9110 §8.6), announces none.
    for value in values(fields, "content-length") {
        let mut elements = split_list(value).peekable();
        if elements.peek().is_none() || !elements.all(|e| e == b"0") {
            return Err(ConnectError::RequestContent);
        }
    }
    // RFC 6455 §4.1: distinct tokens, as over HTTP/1.1 (see `check_offered`).
    subprotocol::check_offered(values(fields, "sec-websocket-protocol"))
        .map_err(|_| ConnectError::InvalidSubprotocol)?;
    Ok(Upgrade {
        request: Request::extended_connect(scheme, target, path, authority),
        key: None,
        decoded: regular(fields),
    })
}

/// The authority of a request. RFC 9113 §8.3.1 (RFC 9114 §4.3.1 in the
/// same words): "If the :scheme
/// pseudo-header field identifies a scheme that has a mandatory authority
/// component (including "http" and "https"), the request MUST contain
/// either an :authority pseudo-header field or a Host header field. If
/// these fields are present, they MUST NOT be empty. If both fields are
/// present, they MUST contain the same value." A request that breaks these
/// is malformed (RFC 9113 §8.3: "invalid pseudo-header fields"). The value
/// is then checked as our HTTP/1.1 `Host` is (`uri-host [ ":" port ]`).
fn request_authority<'a, N, V>(
    fields: &'a [(N, V)],
    pseudo: Option<&'a [u8]>,
) -> Result<&'a str, ConnectError>
where
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut hosts = values(fields, "host");
    let host = hosts.next();
    // Host is a singleton field (RFC 9110 §7.2).
    if hosts.next().is_some() {
        return Err(ConnectError::Malformed("repeated host field"));
    }
    // "If these fields are present, they MUST NOT be empty."
    if pseudo.is_some_and(<[u8]>::is_empty) || host.is_some_and(<[u8]>::is_empty) {
        return Err(ConnectError::Malformed("empty :authority or host"));
    }
    // ":authority ... MUST NOT include the deprecated userinfo subcomponent
    // for "http" or "https" schemed URIs" (RFC 9113 §8.3.1, RFC 9114
    // §4.3.1).
    if pseudo.is_some_and(|a| a.contains(&b'@')) {
        return Err(ConnectError::Malformed("userinfo in :authority"));
    }
    let authority = match (pseudo, host) {
        (None, None) => return Err(ConnectError::Malformed("neither :authority nor host")),
        (Some(a), Some(h)) if a != h => {
            return Err(ConnectError::Malformed(":authority and host differ"));
        }
        (Some(a), _) | (None, Some(a)) => a,
    };
    if !uri::is_valid_host(authority) {
        return Err(ConnectError::InvalidAuthority);
    }
    // Checked: ASCII.
    core::str::from_utf8(authority).map_err(|_| ConnectError::InvalidAuthority)
}

/// RFC 9113 §8.3.1, of `:path`: "This pseudo-header field MUST NOT be
/// empty for "http" or "https" URIs"; an invalid pseudo-header field makes
/// the request malformed (RFC 9113 §8.3).
fn check_path_not_empty(scheme: &[u8], path: &[u8]) -> Result<(), ConnectError> {
    let http = scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https");
    if http && path.is_empty() {
        return Err(ConnectError::Malformed("empty :path"));
    }
    Ok(())
}

/// Names a server's caller may not add to the `200`: built here, or
/// connection-specific (RFC 9113 §8.2.2, RFC 9114 §4.2), or `content-length` (RFC 9110
/// §9.3.6). Names ending in `-` are prefixes.
const RESPONSE_RESERVED: &[&str] = &[
    "connection",
    "proxy-connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "te",
    "content-length",
    "sec-websocket-",
];
