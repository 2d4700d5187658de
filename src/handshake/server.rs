//! The server's side of the opening handshake: validating the client's
//! request (RFC 6455 §4.2.1) and writing the `101` or an error response.

use alloc::vec::Vec;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::accept_key;
use super::http::{self, Fields};
use crate::error::{HandshakeError, SendError};

/// An upgrade request that passed validation, borrowed from the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    method: &'a str,
    target: &'a str,
    headers: Fields<'a>,
}

impl<'a> Request<'a> {
    /// The method (always `GET` for a valid upgrade).
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The request target: path and query, e.g. `/chat?room=1`.
    pub fn path(&self) -> &'a str {
        self.target
    }

    /// Every header field, in order.
    pub fn headers(&self) -> Fields<'a> {
        self.headers
    }

    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers.get(name)
    }

    /// The `Host` header.
    pub fn host(&self) -> Option<&'a str> {
        self.header("host")
            .and_then(|v| core::str::from_utf8(v).ok())
    }

    /// The `Origin` header (sent by browsers; check it to stop cross-site use).
    pub fn origin(&self) -> Option<&'a str> {
        self.header("origin")
            .and_then(|v| core::str::from_utf8(v).ok())
    }

    /// The subprotocols the client offers, in its order of preference.
    pub fn subprotocols(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .list("sec-websocket-protocol")
            .filter_map(|p| core::str::from_utf8(p).ok())
    }

    /// The extensions the client offers, each with its parameters as sent
    /// (e.g. `permessage-deflate; client_max_window_bits`).
    pub fn extensions(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .list("sec-websocket-extensions")
            .filter_map(|p| core::str::from_utf8(p).ok())
    }
}

/// Checks an upgrade request (RFC 6455 §4.2.1) and returns it with its key.
pub(crate) fn validate_request(
    head: http::Head<'_>,
) -> Result<(Request<'_>, &[u8]), HandshakeError> {
    let (method, target) = http::parse_request_line(head.first)?;
    let h = head.fields;
    if method != "GET" {
        return Err(HandshakeError::MethodNotGet);
    }
    // RFC 9112 §3.2: a request without a Host field, or with more than
    // one, gets a 400.
    if h.get_all("host").count() != 1 {
        return Err(HandshakeError::MissingHost);
    }
    if !h.has_token("upgrade", "websocket") {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !h.has_token("connection", "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    let mut keys = h.get_all("sec-websocket-key");
    let key = keys.next().ok_or(HandshakeError::InvalidKey)?;
    if keys.next().is_some() || !is_valid_key(key) {
        return Err(HandshakeError::InvalidKey);
    }
    let mut versions = h.get_all("sec-websocket-version");
    if versions.next() != Some(b"13") || versions.next().is_some() {
        return Err(HandshakeError::UnsupportedVersion);
    }
    Ok((
        Request {
            method,
            target,
            headers: h,
        },
        key,
    ))
}

/// "The value of this header field MUST be a nonce consisting of a randomly
/// selected 16-byte value that has been base64-encoded" (§4.1).
fn is_valid_key(key: &[u8]) -> bool {
    let mut decoded = [0; 18];
    key.len() == 24 && matches!(BASE64.decode_slice(key, &mut decoded), Ok(16))
}

/// How a server accepts a request, for [`Connection::accept`](crate::Connection::accept).
///
/// ```
/// use wstate::Accept;
/// let accept = Accept::new().subprotocol("chat").headers(&[("X-Server", "wstate")]);
/// # let _ = accept;
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct Accept<'a> {
    /// The subprotocol to select; must be one the client offered.
    pub subprotocol: Option<&'a str>,
    /// Extra header fields for the `101` response.
    pub headers: &'a [(&'a str, &'a str)],
}

impl<'a> Accept<'a> {
    /// Accept with no subprotocol and no extra headers.
    pub const fn new() -> Self {
        Self {
            subprotocol: None,
            headers: &[],
        }
    }

    /// Selects a subprotocol.
    #[must_use]
    pub const fn subprotocol(mut self, name: &'a str) -> Self {
        self.subprotocol = Some(name);
        self
    }

    /// Adds header fields to the `101` response.
    #[must_use]
    pub const fn headers(mut self, headers: &'a [(&'a str, &'a str)]) -> Self {
        self.headers = headers;
        self
    }
}

/// Writes the `101 Switching Protocols` response. The caller has checked
/// the subprotocol and headers.
/// `extensions` is the negotiated `Sec-WebSocket-Extensions` value, if any.
pub(crate) fn write_accept(
    key: &[u8],
    accept: &Accept<'_>,
    extensions: Option<&str>,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
    );
    http::write_field(out, "Sec-WebSocket-Accept", &accept_key(key));
    if let Some(protocol) = accept.subprotocol {
        http::write_field(out, "Sec-WebSocket-Protocol", protocol.as_bytes());
    }
    if let Some(extensions) = extensions {
        http::write_field(out, "Sec-WebSocket-Extensions", extensions.as_bytes());
    }
    for (name, value) in accept.headers {
        http::write_field(out, name, value.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes an HTTP error response that ends the connection.
pub(crate) fn write_reject(status: u16, headers: &[(&str, &str)], body: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(&[
        b'0' + (status / 100) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
    ]);
    out.push(b' ');
    out.extend_from_slice(http::reason_phrase(status).as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        http::write_field(out, name, value.as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\nContent-Length: ");
    let mut digits = [0u8; 20];
    let mut n = body.len();
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

/// The response a server queues for a request it cannot accept.
pub(crate) fn write_error_response(error: &HandshakeError, out: &mut Vec<u8>) {
    let Some(status) = error.status() else { return };
    let mut body = alloc::format!("{error}\n");
    body.truncate(200);
    let headers: &[(&str, &str)] = match error {
        HandshakeError::UnsupportedVersion => &[
            ("Sec-WebSocket-Version", "13"),
            ("Content-Type", "text/plain"),
        ],
        HandshakeError::MethodNotGet => &[("Allow", "GET"), ("Content-Type", "text/plain")],
        _ => &[("Content-Type", "text/plain")],
    };
    write_reject(status, headers, body.as_bytes(), out);
}

/// Checks the caller's choices for a `101` against the request.
pub(crate) fn check_accept(request: &Request<'_>, accept: &Accept<'_>) -> Result<(), SendError> {
    if let Some(protocol) = accept.subprotocol
        && !request.subprotocols().any(|p| p == protocol)
    {
        return Err(SendError::SubprotocolNotOffered);
    }
    check_headers(accept.headers)
}

pub(crate) fn check_headers(headers: &[(&str, &str)]) -> Result<(), SendError> {
    if headers.iter().all(|(n, v)| http::valid_field(n, v)) {
        Ok(())
    } else {
        Err(SendError::InvalidHeader)
    }
}
