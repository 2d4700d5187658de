//! The extended CONNECT that carries a WebSocket over one HTTP/2 stream
//! (RFC 8441) or one HTTP/3 request stream (RFC 9220), as pure functions
//! over the header fields the caller's HTTP stack decoded. "The semantics
//! of the pseudo-header fields and setting are identical to those in HTTP/2
//! as defined in \[RFC8441\]" (RFC 9220 §3), and so are the field rules
//! the two versions share (RFC 9113 §8.2-§8.5, RFC 9114 §4.2-§4.4): one
//! implementation serves both, published as [`h2`](super::h2) and
//! [`h3`](super::h3), whose documentation says what differs (frames,
//! stream errors, how the stream ends).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::server::check_headers;
use super::uri;
use crate::error::SendError;

mod client;
mod server;

pub use super::uri::Scheme;
pub use client::{Connect, connect};
pub(crate) use server::answer;
pub use server::validate_request;

/// `SETTINGS_ENABLE_CONNECT_PROTOCOL` (0x08, in HTTP/2's SETTINGS frame and
/// in HTTP/3's alike) on this connection, as the caller's HTTP stack knows
/// it: for a server, whether it sent the value 1; for a client, whether the
/// server's SETTINGS carried the value 1.
///
/// "Upon receipt of SETTINGS_ENABLE_CONNECT_PROTOCOL with a value of 1, a
/// client MAY use the Extended CONNECT as defined in this document when
/// creating new streams" (RFC 8441 §3; RFC 9220 §3 takes the same setting
/// to HTTP/3). A server advertises it only where its WebSocket handler is
/// really reachable over that connection: browsers take the setting as a
/// promise and send every WebSocket to such a server as an extended
/// CONNECT, with no fall-back to HTTP/1.1 when it is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtendedConnect {
    /// The setting was sent (server) or received (client) with the value 1.
    Enabled,
    /// It was not, or with the value 0: a server treats a `:protocol` as
    /// malformed, a client may not send the extended CONNECT.
    NotEnabled,
}

/// Why an extended CONNECT request, or the response to one, is refused.
///
/// How the caller's HTTP stack answers it:
///
/// * A [`Malformed`](Self::Malformed) message ([`is_malformed`](Self::is_malformed)):
///   the receiver, server or client alike, treats it as a stream error:
///   "Malformed requests or responses that are detected MUST be treated as
///   a stream error (Section 5.4.2) of type PROTOCOL_ERROR" (RFC 9113
///   §8.1.1: `RST_STREAM(PROTOCOL_ERROR)`), "of type H3_MESSAGE_ERROR"
///   (RFC 9114 §4.1.2: reset the stream with `H3_MESSAGE_ERROR`, 0x010e).
///   [`status`](Self::status) is `None`: no response is owed ("For
///   malformed requests, a server MAY send an HTTP response ... prior to
///   closing or resetting the stream", a 400 if one is sent).
/// * Any other request error is a well-formed request the server refuses:
///   answer [`status`](Self::status) with
///   [`response_headers`](Self::response_headers), ending the stream.
/// * Any other response error: the client fails the WebSocket connection
///   and cancels the stream (HTTP/2 `RST_STREAM(CANCEL)`, HTTP/3
///   `H3_REQUEST_CANCELLED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectError {
    /// Not a well-formed HTTP/2 or HTTP/3 message (RFC 9113 §8.1.1, RFC
    /// 9114 §4.1.2): an invalid field name or value, a pseudo-header field
    /// repeated, unknown, missing, empty where it may not be, or after a
    /// regular field, `:protocol` on a method other than `CONNECT` (RFC
    /// 8441 §4) or on a connection whose server did not enable it (RFC 8441
    /// §3), `:scheme` or `:path` on a `CONNECT` without `:protocol` (RFC
    /// 9113 §8.5, RFC 9114 §4.4), a connection-specific field, a `te` other
    /// than `trailers`, or `:authority` and `host` that differ. Says which.
    /// Reset the stream (see [`ConnectError`]); no status.
    Malformed(&'static str),
    /// A well-formed request whose `:method` is not `CONNECT` (405, with
    /// `allow: CONNECT`).
    MethodNotConnect,
    /// A well-formed `CONNECT` without `:protocol` (only `:authority`, RFC
    /// 9113 §8.5, RFC 9114 §4.4): a request for a TCP tunnel, which a
    /// WebSocket endpoint does not provide (501).
    NotExtendedConnect,
    /// `:protocol` is not `websocket` (501: "If a server advertises support
    /// for Extended CONNECT but receives an Extended CONNECT request with a
    /// ":protocol" value that is unknown or is not supported, the server
    /// SHOULD respond to the request with a 501 (Not Implemented) status
    /// code", RFC 9220 §3).
    UnsupportedProtocol,
    /// `:scheme` is neither `http` nor `https` (400).
    InvalidScheme,
    /// `:path` is not a path with an optional query (400). Says why.
    InvalidPath(&'static str),
    /// The authority (`:authority`, else `host`) is not a valid
    /// `host[:port]` (400).
    InvalidAuthority,
    /// `sec-websocket-version` is missing, repeated or not `13` (400, with
    /// `sec-websocket-version: 13`).
    UnsupportedVersion,
    /// `sec-websocket-protocol` offers a non-token or a repeated element
    /// (400).
    InvalidSubprotocol,
    /// The request announces content (`content-length` other than 0): "A
    /// CONNECT request message does not have content" (RFC 9110 §9.3.6)
    /// (400).
    RequestContent,
    /// The request carries `sec-websocket-key` or `sec-websocket-accept`,
    /// HTTP/1.1's handshake fields, which the extended CONNECT replaces
    /// (400; see [`validate_request`](super::h2::validate_request)).
    HandshakeKeyInRequest,
    /// Client: the server answered this status, not a 2xx.
    Rejected(u16),
    /// Client: the server's `sec-websocket-protocol` is not exactly one of
    /// the subprotocols offered: one not offered, several, or empty.
    UnexpectedSubprotocol,
    /// Client: the server answered an extension not offered, or invalid
    /// permessage-deflate parameters.
    UnexpectedExtension,
    /// Client: the response carries `sec-websocket-accept` or
    /// `sec-websocket-key`, which no server of the extended CONNECT sends.
    HandshakeKeyInResponse,
}

impl ConnectError {
    /// The status a server answers with; `None` for a malformed request
    /// (reset the stream, see [`ConnectError`]) and for the client's
    /// errors.
    ///
    /// A version error gets 400, not the 426 of HTTP/1.1: "The server MUST
    /// send an Upgrade header field in a 426 response" (RFC 9110
    /// §15.5.22), and Upgrade is a connection-specific field that HTTP/2
    /// and HTTP/3 forbid (RFC 9113 §8.2.2, RFC 9114 §4.2). RFC 6455 §4.2.2
    /// only asks for "an appropriate HTTP error code (such as 426 Upgrade
    /// Required)".
    pub const fn status(&self) -> Option<u16> {
        match self {
            Self::MethodNotConnect => Some(405),
            Self::NotExtendedConnect | Self::UnsupportedProtocol => Some(501),
            Self::Malformed(_)
            | Self::Rejected(_)
            | Self::UnexpectedSubprotocol
            | Self::UnexpectedExtension
            | Self::HandshakeKeyInResponse => None,
            _ => Some(400),
        }
    }

    /// Fields the error response must carry besides `:status`: "An origin
    /// server MUST generate an Allow header field in a 405 (Method Not
    /// Allowed) response" (RFC 9110 §15.5.6); a version error names the
    /// version we speak, as "the server MUST abort the WebSocket handshake
    /// ... and instead send an appropriate HTTP error code ... and a
    /// |Sec-WebSocket-Version| header field indicating the version(s) the
    /// server is capable of understanding" (RFC 6455 §4.2.2).
    pub const fn response_headers(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::MethodNotConnect => &[("allow", "CONNECT")],
            Self::UnsupportedVersion => &[("sec-websocket-version", "13")],
            _ => &[],
        }
    }

    /// Whether this is a malformed message, which the receiver (server or
    /// client) treats as a stream error: `RST_STREAM(PROTOCOL_ERROR)` over
    /// HTTP/2 (RFC 9113 §8.1.1), `H3_MESSAGE_ERROR` over HTTP/3 (RFC 9114
    /// §4.1.2).
    pub const fn is_malformed(&self) -> bool {
        matches!(self, Self::Malformed(_))
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed message: {why}"),
            Self::MethodNotConnect => f.write_str(":method is not CONNECT"),
            Self::NotExtendedConnect => f.write_str("CONNECT without :protocol"),
            Self::UnsupportedProtocol => f.write_str(":protocol is not websocket"),
            Self::InvalidScheme => f.write_str(":scheme is not http or https"),
            Self::InvalidPath(why) => write!(f, "invalid :path: {why}"),
            Self::InvalidAuthority => f.write_str("invalid :authority"),
            Self::UnsupportedVersion => f.write_str("sec-websocket-version is not 13"),
            Self::InvalidSubprotocol => {
                f.write_str("sec-websocket-protocol offers a non-token or a repeated element")
            }
            Self::RequestContent => f.write_str("a CONNECT request has no content"),
            Self::HandshakeKeyInRequest => {
                f.write_str("sec-websocket-key or -accept in an extended CONNECT")
            }
            Self::Rejected(status) => write!(f, "server answered {status}"),
            Self::UnexpectedSubprotocol => f.write_str("server chose a subprotocol not offered"),
            Self::UnexpectedExtension => f.write_str("server chose an extension not offered"),
            Self::HandshakeKeyInResponse => {
                f.write_str("sec-websocket-accept or -key in the response to an extended CONNECT")
            }
        }
    }
}

impl core::error::Error for ConnectError {}

/// Checks one decoded field (RFC 9113 §8.2.1; "A request or response that
/// contains a field that violates any of these conditions MUST be treated
/// as malformed"; RFC 9114 §4.1.2 and §4.2 make the same fields malformed
/// in HTTP/3: "a request or response containing uppercase characters in
/// field names", and values with "prohibited characters", RFC 9110 §5.5).
/// Returns whether it is a pseudo-header field.
fn check_field(name: &[u8], value: &[u8]) -> Result<bool, ConnectError> {
    let (pseudo, rest) = match name {
        [b':', rest @ ..] => (true, rest),
        _ => (false, name),
    };
    if rest.is_empty() {
        return Err(ConnectError::Malformed("empty field name"));
    }
    // "A field name MUST NOT contain characters in the ranges 0x00-0x20,
    // 0x41-0x5a, or 0x7f-0xff (all ranges inclusive)", and "With the
    // exception of pseudo-header fields, which have a name that starts with
    // a single colon, field names MUST NOT include a colon".
    if rest
        .iter()
        .any(|&b| b <= 0x20 || b.is_ascii_uppercase() || b >= 0x7f || b == b':')
    {
        return Err(ConnectError::Malformed(
            "field name with an uppercase letter or a byte not allowed",
        ));
    }
    // "A field value MUST NOT contain the zero value (ASCII NUL, 0x00),
    // line feed (ASCII LF, 0x0a), or carriage return (ASCII CR, 0x0d) at
    // any position."
    if value.iter().any(|b| matches!(b, 0 | b'\n' | b'\r')) {
        return Err(ConnectError::Malformed("NUL, CR or LF in a field value"));
    }
    // "A field value MUST NOT start or end with an ASCII whitespace
    // character (ASCII SP or HTAB, 0x20 or 0x09)."
    if matches!(value.first(), Some(b' ' | b'\t')) || matches!(value.last(), Some(b' ' | b'\t')) {
        return Err(ConnectError::Malformed("whitespace around a field value"));
    }
    Ok(pseudo)
}

/// The field names with connection-specific semantics. "An endpoint MUST
/// NOT generate an HTTP/2 message containing connection-specific header
/// fields. This includes the Connection header field and those listed as
/// having connection-specific semantics in Section 7.6.1 of [HTTP] (that
/// is, Proxy-Connection, Keep-Alive, Transfer-Encoding, and Upgrade). Any
/// message containing connection-specific header fields MUST be treated as
/// malformed" (RFC 9113 §8.2.2). For WebSockets RFC 8441 §5 says it again:
/// "[RFC6455] requires the use of Connection and Upgrade header fields that
/// are not part of HTTP/2. They MUST NOT be included in the CONNECT request
/// defined here." HTTP/3 has the same rule: "An endpoint MUST NOT generate
/// an HTTP/3 field section containing connection-specific fields; any
/// message containing connection-specific fields MUST be treated as
/// malformed" (RFC 9114 §4.2).
const CONNECTION_SPECIFIC: &[&str] = &[
    "connection",
    "proxy-connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
];

/// Refuses connection-specific fields, and a `te` other than `trailers`:
/// "The only exception to this is the TE header field, which MAY be present
/// in an HTTP/2 request; when it is, it MUST NOT contain any value other
/// than "trailers"" (RFC 9113 §8.2.2; RFC 9114 §4.2 says the same of
/// HTTP/3).
fn check_not_connection_specific(name: &[u8], value: &[u8]) -> Result<(), ConnectError> {
    if CONNECTION_SPECIFIC.iter().any(|n| n.as_bytes() == name) {
        return Err(ConnectError::Malformed("connection-specific field"));
    }
    if name == b"te" && value != b"trailers" {
        return Err(ConnectError::Malformed("te other than \"trailers\""));
    }
    Ok(())
}

/// The fields of HTTP/1.1's opening handshake that the extended CONNECT
/// replaces: "Implementations using this extended CONNECT to bootstrap
/// WebSockets do not do the processing of the Sec-WebSocket-Key and
/// Sec-WebSocket-Accept header fields of \[RFC6455\] as that functionality
/// has been superseded by the :protocol pseudo-header field" (RFC 8441 §5;
/// RFC 9220 §3 keeps RFC 8441's semantics). A message that carries one
/// comes from a peer that mixed up the two handshakes: it is refused rather
/// than half processed.
fn has_handshake_key<N, V>(fields: &[(N, V)]) -> bool
where
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    fields.iter().any(|(n, _)| {
        let n = n.as_ref();
        n == b"sec-websocket-key" || n == b"sec-websocket-accept"
    })
}

/// The pseudo-header fields of a request, each at most once.
#[derive(Default)]
struct Pseudo<'a> {
    method: Option<&'a [u8]>,
    protocol: Option<&'a [u8]>,
    scheme: Option<&'a [u8]>,
    path: Option<&'a [u8]>,
    authority: Option<&'a [u8]>,
    status: Option<&'a [u8]>,
}

/// Checks every field and collects the pseudo-header fields; `allowed` are
/// the names this message may carry. RFC 9113 §8.3 (RFC 9114 §4.3 in the
/// same words for HTTP/3): "Endpoints MUST treat a
/// request or response that contains undefined or invalid pseudo-header
/// fields as malformed", "The same pseudo-header field name MUST NOT appear
/// more than once in a field block", and "All pseudo-header fields MUST
/// appear in a field block before all regular field lines. Any request or
/// response that contains a pseudo-header field that appears in a field
/// block after a regular field line MUST be treated as malformed".
fn read_fields<'a, N, V>(fields: &'a [(N, V)], response: bool) -> Result<Pseudo<'a>, ConnectError>
where
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut p = Pseudo::default();
    let mut regular = false;
    for (name, value) in fields {
        let (name, value) = (name.as_ref(), value.as_ref());
        if !check_field(name, value)? {
            check_not_connection_specific(name, value)?;
            regular = true;
            continue;
        }
        if regular {
            return Err(ConnectError::Malformed(
                "pseudo-header field after a regular field",
            ));
        }
        let slot = match (name, response) {
            (b":status", true) => &mut p.status,
            (b":method", false) => &mut p.method,
            // RFC 8441 §4: "A new pseudo-header field :protocol MAY be
            // included on request HEADERS".
            (b":protocol", false) => &mut p.protocol,
            (b":scheme", false) => &mut p.scheme,
            (b":path", false) => &mut p.path,
            (b":authority", false) => &mut p.authority,
            _ => return Err(ConnectError::Malformed("undefined pseudo-header field")),
        };
        if slot.replace(value).is_some() {
            return Err(ConnectError::Malformed("repeated pseudo-header field"));
        }
    }
    Ok(p)
}

/// The regular fields (no pseudo-header fields), borrowed, for the
/// [`Upgrade`](super::Upgrade) to keep and lend to its request.
fn regular<N, V>(fields: &[(N, V)]) -> Vec<(&[u8], &[u8])>
where
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    fields
        .iter()
        .map(|(name, value)| (name.as_ref(), value.as_ref()))
        .filter(|(name, _)| !name.starts_with(b":"))
        .collect()
}

/// Every value of the regular fields named `name` (lowercase), in order.
fn values<'a, 'n, N, V>(fields: &'a [(N, V)], name: &'n str) -> impl Iterator<Item = &'a [u8]> + 'n
where
    'a: 'n,
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    fields
        .iter()
        .filter(move |(n, _)| n.as_ref() == name.as_bytes())
        .map(|(_, v)| v.as_ref())
}

/// `:path` for an `http` or `https` URI: "This pseudo-header field MUST NOT
/// be empty for "http" or "https" URIs; "http" or "https" URIs that do not
/// contain a path component MUST include a value of '/'" (RFC 9113
/// §8.3.1, RFC 9114 §4.3.1). The rest are the rules of our HTTP/1.1 origin-form target
/// (RFC 9112 §3.2.1): path and query, no fragment ("Fragment identifiers
/// are meaningless in the context of WebSocket URIs and MUST NOT be used on
/// these URIs", RFC 6455 §3).
fn check_path(path: &[u8]) -> Result<&str, ConnectError> {
    if path.is_empty() {
        return Err(ConnectError::InvalidPath("empty"));
    }
    if path.contains(&b'#') {
        return Err(ConnectError::InvalidPath(
            "a request target has no fragment",
        ));
    }
    if path[0] != b'/' {
        return Err(ConnectError::InvalidPath("not starting with '/'"));
    }
    if !uri::is_path_and_query(path) {
        return Err(ConnectError::InvalidPath("invalid character"));
    }
    // Checked: ASCII.
    core::str::from_utf8(path).map_err(|_| ConnectError::InvalidPath("invalid character"))
}

/// Checks caller-supplied fields: valid HTTP, none reserved (pseudo-header
/// names are not tokens, so they are invalid), and no whitespace around a
/// value (RFC 9113 §8.2.1, above).
fn check_extra_headers(headers: &[(&str, &str)], reserved: &[&str]) -> Result<(), SendError> {
    check_headers(headers, reserved)?;
    if headers
        .iter()
        .any(|(_, v)| v.trim_matches([' ', '\t']).len() != v.len())
    {
        return Err(SendError::InvalidHeader);
    }
    Ok(())
}

/// Appends the caller's fields with their names lowercased: "field names
/// MUST be converted to lowercase when constructing an HTTP/2 message"
/// (RFC 9113 §8.2); "Characters in field names MUST be converted to
/// lowercase prior to their encoding" (RFC 9114 §4.2).
fn push_lowercase(out: &mut Vec<(String, String)>, headers: &[(&str, &str)]) {
    for (name, value) in headers {
        out.push((name.to_ascii_lowercase(), value.to_string()));
    }
}

/// The fields of a list as `(&str, &str)`.
fn pairs(fields: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    fields.iter().map(|(n, v)| (n.as_str(), v.as_str()))
}

#[cfg(test)]
mod tests;
