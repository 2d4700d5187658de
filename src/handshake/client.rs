//! The client's side of the opening handshake: writing the upgrade request
//! and validating the server's response (RFC 6455 §4.1).

use alloc::string::String;
use alloc::vec::Vec;

use super::extensions::{DeflateConfig, DeflateParams};
use super::http::{self, Fields};
use super::server::check_headers;
use super::subprotocol;
use super::uri;
use crate::error::{HandshakeError, Refusal, SendError};

/// What a client asks for, for [`Connection::client`](crate::Connection::client).
///
/// ```
/// use wstate::ClientRequest;
/// let request = ClientRequest::new("example.com", "/chat?room=1")
///     .subprotocols(&["v2.chat", "v1.chat"])
///     .headers(&[("Origin", "https://example.com")]);
/// # let _ = request;
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct ClientRequest<'a> {
    /// The `Host` header: host, and port unless it is the default.
    pub host: &'a str,
    /// The request target: path and query, starting with `/`.
    pub path: &'a str,
    /// Subprotocols to offer, most preferred first.
    pub subprotocols: &'a [&'a str],
    /// Extra header fields (e.g. `Origin`, `Authorization`, `Cookie`).
    pub headers: &'a [(&'a str, &'a str)],
}

impl<'a> ClientRequest<'a> {
    /// A request for `path` on `host`, with no subprotocols or extra headers.
    pub const fn new(host: &'a str, path: &'a str) -> Self {
        Self {
            host,
            path,
            subprotocols: &[],
            headers: &[],
        }
    }

    /// Offers subprotocols.
    #[must_use]
    pub const fn subprotocols(mut self, protocols: &'a [&'a str]) -> Self {
        self.subprotocols = protocols;
        self
    }

    /// Adds header fields.
    #[must_use]
    pub const fn headers(mut self, headers: &'a [(&'a str, &'a str)]) -> Self {
        self.headers = headers;
        self
    }
}

/// Writes the client's upgrade request; returns the subprotocols offered,
/// comma-separated, to check the response against.
/// `extensions` is the `Sec-WebSocket-Extensions` offer, if any.
pub(crate) fn write_request(
    request: &ClientRequest<'_>,
    key: &[u8; 24],
    extensions: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<String, SendError> {
    // The same rules our server applies (RFC 9112 §3.2, §3.2.1): an
    // origin-form target and a valid `host[:port]`.
    let target_ok =
        request.path.starts_with('/') && uri::is_path_and_query(request.path.as_bytes());
    if !target_ok || !uri::is_valid_host(request.host.as_bytes()) {
        return Err(SendError::InvalidHeader);
    }
    // §4.1: distinct tokens (see `check_offered`).
    if !subprotocol::can_offer(request.subprotocols) {
        return Err(SendError::InvalidSubprotocol);
    }
    check_headers(request.headers, REQUEST_RESERVED)?;
    let offered = request.subprotocols.join(", ");
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(request.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    http::write_field(out, "Host", request.host.as_bytes());
    out.extend_from_slice(b"Upgrade: websocket\r\nConnection: Upgrade\r\n");
    http::write_field(out, "Sec-WebSocket-Key", key);
    out.extend_from_slice(b"Sec-WebSocket-Version: 13\r\n");
    if !offered.is_empty() {
        http::write_field(out, "Sec-WebSocket-Protocol", offered.as_bytes());
    }
    if let Some(extensions) = extensions {
        http::write_field(out, "Sec-WebSocket-Extensions", extensions.as_bytes());
    }
    for (name, value) in request.headers {
        http::write_field(out, name, value.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    Ok(offered)
}

/// Header names a client may not add: those its request writes itself, and
/// those that would announce content (an upgrade request has none). Names
/// ending in `-` are prefixes.
const REQUEST_RESERVED: &[&str] = &[
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "upgrade",
    "sec-websocket-",
];

/// The server's acceptance, as seen by a client: of an HTTP/1.1 upgrade
/// (the `101`, in [`Event::Accepted`](crate::Event::Accepted)), or of an
/// extended CONNECT over HTTP/2 or HTTP/3 (the 2xx, from
/// [`Connect::validate_response`](super::h2::Connect::validate_response)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted<'a> {
    status: u16,
    subprotocol: Option<&'a str>,
    fields: Fields<'a>,
    deflate: Option<DeflateParams>,
}

impl<'a> Accepted<'a> {
    pub(crate) fn new(
        status: u16,
        subprotocol: Option<&'a str>,
        fields: Fields<'a>,
        deflate: Option<DeflateParams>,
    ) -> Self {
        Accepted {
            status,
            subprotocol,
            fields,
            deflate,
        }
    }

    /// The status: `101` over HTTP/1.1; over HTTP/2 and HTTP/3 a 2xx (200
    /// from a server following RFC 8441 §5.1).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The subprotocol the server selected, if any.
    pub fn subprotocol(&self) -> Option<&'a str> {
        self.subprotocol
    }

    /// The header fields of the `101`. Over HTTP/2 and HTTP/3 none: the
    /// response's fields are those the caller handed to
    /// [`Connect::validate_response`](super::h2::Connect::validate_response).
    pub fn headers(&self) -> Fields<'a> {
        self.fields
    }

    /// The value of the first header of the `101` named `name`
    /// (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.fields.get(name)
    }

    /// The permessage-deflate parameters the server accepted, `None` if it
    /// declined or none was offered; for
    /// [`Connection::new_open_with_deflate`](crate::Connection::new_open_with_deflate)
    /// over HTTP/2 and HTTP/3.
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate
    }
}

/// Checks the server's response (RFC 6455 §4.2.2 / §4.1, client side).
///
/// A `Content-Length` or `Transfer-Encoding` on a `101` is ignored: a 1xx
/// response "is always terminated by the first empty line after the header
/// fields, regardless of the header fields present in the message, and thus
/// cannot contain a message body" (RFC 9112 §6.3), so what follows the head
/// is frames.
pub(crate) fn validate_response<'a>(
    head: http::Head<'a>,
    expected_accept: &[u8; 28],
    offered: &str,
    deflate: Option<&DeflateConfig>,
) -> Result<Accepted<'a>, HandshakeError> {
    let (status, reason) = http::parse_status_line(head.first)?;
    let h = head.fields;
    if status != 101 {
        return Err(HandshakeError::Rejected(alloc::boxed::Box::new(Refusal {
            status,
            reason: String::from_utf8_lossy(reason).into_owned(),
            headers: h
                .iter()
                .map(|(n, v)| (String::from(n), String::from_utf8_lossy(v).into_owned()))
                .collect(),
            body: Vec::new(),
        })));
    }
    // §4.1: "If the response lacks an |Upgrade| header field or the
    // |Upgrade| header field contains a value that is not an ASCII
    // case-insensitive match for the value "websocket", the client MUST
    // _Fail the WebSocket Connection_": exactly one field, that value.
    let mut upgrades = h.get_all("upgrade");
    match (upgrades.next(), upgrades.next()) {
        (Some(v), None) if v.eq_ignore_ascii_case(b"websocket") => {}
        _ => return Err(HandshakeError::MissingUpgrade),
    }
    if !h.has_token("connection", "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    let mut accepts = h.get_all("sec-websocket-accept");
    if accepts.next() != Some(&expected_accept[..]) || accepts.next().is_some() {
        return Err(HandshakeError::InvalidAccept);
    }
    // "If the response includes a |Sec-WebSocket-Extensions| header field
    // and this header field indicates the use of an extension that was not
    // present in the client's handshake ..., the client MUST _Fail the
    // WebSocket Connection_" (§4.1).
    let deflate =
        super::extensions::validate_response(h.get_all("sec-websocket-extensions"), deflate)
            .map_err(|_| HandshakeError::UnexpectedExtension)?;
    // §4.1: one of the offered subprotocols, exactly (see `check_chosen`).
    let subprotocol = subprotocol::check_chosen(h.get_all("sec-websocket-protocol"), offered)
        .map_err(|_| HandshakeError::UnexpectedSubprotocol)?;
    Ok(Accepted::new(101, subprotocol, h, deflate))
}
