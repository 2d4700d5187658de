//! The server's side of the opening handshake: validating the client's
//! request (RFC 6455 §4.2.1) and writing the `101` or an error response.

use alloc::string::String;
use alloc::vec::Vec;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::accept_key;
use super::fields::{list_has, split_list};
use super::http::{self, Fields};
use super::subprotocol;
use super::uri;
use super::uri::Scheme;
use crate::deflate::DeflateParams;
use crate::error::{HandshakeError, SendError};

/// A WebSocket opening request that passed validation: an HTTP/1.1
/// upgrade (RFC 6455 §4.2.1), from the connection or from
/// [`validate_upgrade`](super::validate_upgrade), or an extended CONNECT
/// over HTTP/2 or HTTP/3 (RFC 8441, RFC 9220), from
/// [`h2::validate_request`](super::h2::validate_request). The same
/// questions have the same answers whichever carried it, so one check of
/// path, origin and subprotocols serves every transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    method: &'a str,
    target: &'a str,
    resource: &'a str,
    authority: &'a str,
    fields: Fields<'a>,
    /// `:scheme`, which only an extended CONNECT carries.
    scheme: Option<Scheme>,
    /// `Expect: 100-continue`, noted in the pass that checks the content.
    expects_continue: bool,
}

impl<'a> Request<'a> {
    /// An extended CONNECT that `connect::validate_request` checked:
    /// `:path` as sent and as a resource name. Its regular fields stay in
    /// the [`Upgrade`], which lends them (`Upgrade::request`).
    pub(crate) fn extended_connect(
        scheme: Scheme,
        path: &'a str,
        resource: &'a str,
        authority: &'a str,
    ) -> Self {
        Request {
            method: "CONNECT",
            target: path,
            resource,
            authority,
            fields: Fields::NONE,
            scheme: Some(scheme),
            expects_continue: false,
        }
    }

    /// The method: `GET` for an HTTP/1.1 upgrade, `CONNECT` for an
    /// extended CONNECT.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The resource name (RFC 6455 §3): path and query, e.g.
    /// `/chat?room=1`, also for an absolute-form target
    /// (`GET http://example.com/chat?room=1`); `/` for an empty path
    /// (`GET http://example.com?room=1` names `/?room=1`), and no `?` for
    /// an empty query (`GET /chat?` names `/chat`).
    pub fn path(&self) -> &'a str {
        self.resource
    }

    /// The request target exactly as sent: origin-form (`/chat?room=1`) or
    /// absolute-form (`http://example.com/chat?room=1`); `:path` for an
    /// extended CONNECT.
    pub fn target(&self) -> &'a str {
        self.target
    }

    /// `:scheme` of an extended CONNECT ([`Https`](Scheme::Https) for a
    /// `wss://` URI); `None` over HTTP/1.1, where the scheme is the
    /// transport's (TLS or not), which the caller knows.
    pub fn scheme(&self) -> Option<Scheme> {
        self.scheme
    }

    /// The authority the request is for: the authority of an absolute-form
    /// target, else the `Host` header (`:authority`, else `host`, for an
    /// extended CONNECT). "When an origin server receives a request with an
    /// absolute-form of request-target, the origin server MUST ignore the
    /// received Host header field (if any) and instead use the host
    /// information of the request-target" (RFC 9112 §3.2.2): route by
    /// this, not by [`host`](Self::host).
    pub fn authority(&self) -> &'a str {
        self.authority
    }

    /// Every header field, in order (for an extended CONNECT, the regular
    /// fields: no pseudo-header fields).
    pub fn headers(&self) -> Fields<'a> {
        self.fields
    }

    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.fields.get(name)
    }

    /// The `Host` header, as sent. For routing, use
    /// [`authority`](Self::authority), which differs for an absolute-form
    /// target.
    pub fn host(&self) -> Option<&'a str> {
        self.header("host")
            .and_then(|v| core::str::from_utf8(v).ok())
    }

    /// Whether the request carries `Expect: 100-continue` (RFC 9110
    /// §10.1.1; the expectation is case-insensitive). Accepting it sends a
    /// `100 (Continue)` before the `101`, as RFC 9110 §7.8 requires; a
    /// refusal needs none. Always `false` for an extended CONNECT.
    pub fn expects_continue(&self) -> bool {
        self.expects_continue
    }

    /// The `Origin` header (sent by browsers; check it to stop cross-site
    /// use), if it is valid UTF-8.
    pub fn origin(&self) -> Option<&'a str> {
        self.header("origin")
            .and_then(|v| core::str::from_utf8(v).ok())
    }

    /// The subprotocols the client offers, in its order of preference.
    pub fn subprotocols(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .list("sec-websocket-protocol")
            .filter_map(|p| core::str::from_utf8(p).ok())
    }

    /// The extensions the client offers, each with its parameters as sent
    /// (e.g. `permessage-deflate; client_max_window_bits`). A comma inside
    /// a quoted parameter value does not split an offer.
    pub fn extensions(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .list("sec-websocket-extensions")
            .filter_map(|p| core::str::from_utf8(p).ok())
    }
}

/// A valid opening request that another HTTP stack decoded: an HTTP/1.1
/// upgrade from [`validate_upgrade`](super::validate_upgrade), or an
/// extended CONNECT from
/// [`h2::validate_request`](super::h2::validate_request). Look at its
/// [`request`](Self::request), then answer with
/// [`accept`](Self::accept), or with the status of your refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upgrade<'a> {
    /// The request; an extended CONNECT's fields are `decoded`.
    pub(crate) request: Request<'a>,
    /// `Sec-WebSocket-Key` of an HTTP/1.1 upgrade; an extended CONNECT has
    /// none ("superseded by the :protocol pseudo-header field", RFC 8441
    /// §5).
    pub(crate) key: Option<&'a [u8]>,
    /// An extended CONNECT's regular fields, borrowed from the caller's.
    pub(crate) decoded: Vec<(&'a [u8], &'a [u8])>,
}

impl Upgrade<'_> {
    /// The request: path, authority, origin, subprotocols, extensions,
    /// every field.
    pub fn request(&self) -> Request<'_> {
        let mut request = self.request;
        if self.key.is_none() {
            request.fields = Fields::decoded(&self.decoded);
        }
        request
    }
}

/// The answer to an [`Upgrade`], built by [`Upgrade::accept`], for the
/// HTTP stack to send: its status and fields, and what was negotiated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) deflate: Option<DeflateParams>,
}

impl Response {
    /// `101` for an HTTP/1.1 upgrade; `200` for an extended CONNECT ("the
    /// server answers 200", RFC 8441 §5.1's example `:status = 200`).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The fields to send with the status, in order, then the caller's. For
    /// an HTTP/1.1 upgrade: `upgrade`, `connection`,
    /// `sec-websocket-accept`, then `sec-websocket-protocol` and
    /// `sec-websocket-extensions` when chosen. For an extended CONNECT:
    /// `sec-websocket-protocol` and `sec-websocket-extensions` when chosen,
    /// names lowercased; with the `h2` crate, send them without END_STREAM
    /// (HTTP/3: a HEADERS frame, the stream left open).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The permessage-deflate parameters accepted, for
    /// [`Connection::new_open_with_deflate`](crate::Connection::new_open_with_deflate).
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate
    }
}

/// Checks an upgrade request (RFC 6455 §4.2.1) and returns it with its key.
///
/// "If the server, while reading the handshake, finds that the client did
/// not send a handshake that matches the description below ..., including
/// but not limited to any violations of the ABNF grammar specified for the
/// components of the handshake, the server MUST stop processing the
/// client's handshake and return an HTTP response with an appropriate error
/// code (such as 400 Bad Request)" (§4.2.1).
///
/// A resource name that is not a slice of the head (an absolute-form
/// target with a query but no path) is written into `scratch`.
pub(crate) fn validate_request<'a>(
    head: http::Head<'a>,
    scratch: &'a mut String,
) -> Result<(Request<'a>, &'a [u8]), HandshakeError> {
    let (method, target) = http::parse_request_line(head.first)?;
    let h = head.fields;
    if method != "GET" {
        return Err(HandshakeError::MethodNotGet);
    }
    let parsed = uri::parse_target(target)?;
    // One pass over the fields notes what the rules below need; the rules
    // are then applied in their order, so the error reported does not
    // depend on the order of the fields.
    let seen = Seen::scan(h);
    // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status
    // code to any HTTP/1.1 request message that lacks a Host header field
    // and to any request message that contains more than one Host header
    // field line or a Host header field with an invalid field value."
    let Some(host) = seen.host.only() else {
        return Err(HandshakeError::MissingHost);
    };
    if !uri::is_valid_host(host) {
        return Err(HandshakeError::InvalidHost);
    }
    // §4.2.1: "An |Upgrade| header field containing the value "websocket"":
    // a request may list several protocols (RFC 9110 §7.8: "A client MAY
    // send a list of protocols in the Upgrade header field of a request"),
    // so the token anywhere in the list will do.
    if !seen.upgrade_websocket {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !seen.connection_upgrade {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    let key = match seen.key.only() {
        Some(key) if is_valid_key(key) => key,
        _ => return Err(HandshakeError::InvalidKey),
    };
    if seen.version.only() != Some(b"13") {
        return Err(HandshakeError::UnsupportedVersion);
    }
    // A GET upgrade has no content: the bytes after its head are frames.
    // "The presence of a message body in a request is signaled by a
    // Content-Length or Transfer-Encoding header field" (RFC 9112 §6), so a
    // request with `Transfer-Encoding`, or a `Content-Length` other than 0
    // (repeated zeros, "0, 0", are the same value: RFC 9110 §8.6), is
    // refused rather than have its content read as frames.
    if seen.content {
        return Err(HandshakeError::RequestContent);
    }
    let expects_continue = seen.expects_continue;
    // RFC 6455 §4.1: distinct tokens (see `check_offered`); refused with a
    // 400 by the §4.2.1 rule above.
    if seen.subprotocols {
        subprotocol::check_offered(h.get_all("sec-websocket-protocol"))
            .map_err(|_| HandshakeError::InvalidSubprotocol)?;
    }
    // RFC 9112 §3.2.2: "When an origin server receives a request with an
    // absolute-form of request-target, the origin server MUST ignore the
    // received Host header field (if any) and instead use the host
    // information of the request-target." The Host field is still checked
    // above: RFC 9112 §3.2's 400 is for "any HTTP/1.1 request message" that
    // lacks one or has an invalid one.
    let authority = match parsed.authority {
        Some(authority) => authority,
        // Valid, so ASCII.
        None => core::str::from_utf8(host).map_err(|_| HandshakeError::InvalidHost)?,
    };
    Ok((
        Request {
            method,
            target,
            resource: parsed.resource.as_str(scratch),
            authority,
            fields: h,
            scheme: None,
            expects_continue,
        },
        key,
    ))
}

/// A field that must come once: the first value and how many came.
#[derive(Default)]
struct Single<'a> {
    first: Option<&'a [u8]>,
    count: usize,
}

impl<'a> Single<'a> {
    fn note(&mut self, value: &'a [u8]) {
        self.first = self.first.or(Some(value));
        self.count += 1;
    }

    /// The value, if the field came exactly once.
    fn only(&self) -> Option<&'a [u8]> {
        self.first.filter(|_| self.count == 1)
    }
}

/// What one pass over a request's fields found, for `validate_request`.
#[derive(Default)]
struct Seen<'a> {
    /// `Host`, `Sec-WebSocket-Key` and `Sec-WebSocket-Version`, each of
    /// which must come once.
    host: Single<'a>,
    key: Single<'a>,
    version: Single<'a>,
    /// Some `Upgrade` lists `websocket`; some `Connection` lists `upgrade`
    /// (tokens, case-insensitive).
    upgrade_websocket: bool,
    connection_upgrade: bool,
    /// `Transfer-Encoding`, or a `Content-Length` that is not 0.
    content: bool,
    /// `Expect` lists `100-continue` (see `Request::expects_continue`).
    expects_continue: bool,
    /// There is a `Sec-WebSocket-Protocol` field.
    subprotocols: bool,
}

impl<'a> Seen<'a> {
    fn scan(h: Fields<'a>) -> Self {
        let mut seen = Self::default();
        for (name, value) in h.raw() {
            let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
            // The names' lengths first: most fields are none of these.
            match name.len() {
                4 if is("host") => seen.host.note(value),
                6 if is("expect") => seen.expects_continue |= list_has(value, b"100-continue"),
                7 if is("upgrade") => seen.upgrade_websocket |= list_has(value, b"websocket"),
                10 if is("connection") => seen.connection_upgrade |= list_has(value, b"upgrade"),
                14 if is("content-length") => {
                    let mut elements = split_list(value).peekable();
                    seen.content |= elements.peek().is_none() || !elements.all(|e| e == b"0");
                }
                17 if is("sec-websocket-key") => seen.key.note(value),
                17 if is("transfer-encoding") => seen.content = true,
                21 if is("sec-websocket-version") => seen.version.note(value),
                22 if is("sec-websocket-protocol") => seen.subprotocols = true,
                _ => {}
            }
        }
        seen
    }
}

/// "The value of this header field MUST be a nonce consisting of a randomly
/// selected 16-byte value that has been base64-encoded" (§4.1).
fn is_valid_key(key: &[u8]) -> bool {
    let mut decoded = [0; 18];
    key.len() == 24 && matches!(BASE64.decode_slice(key, &mut decoded), Ok(16))
}

/// How a server accepts a request, for [`Sender::accept`](crate::Sender::accept).
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
/// the subprotocol and headers. `extensions` is the negotiated
/// `Sec-WebSocket-Extensions` value, if any; `expects_continue`: the
/// request carries `Expect: 100-continue`.
pub(crate) fn write_accept(
    key: &[u8],
    accept: &Accept<'_>,
    extensions: Option<&str>,
    expects_continue: bool,
    out: &mut Vec<u8>,
) {
    if expects_continue {
        // "A server that receives both an Upgrade and an Expect header
        // field with the "100-continue" expectation (Section 10.1.1) MUST
        // send a 100 (Continue) response before sending a 101 (Switching
        // Protocols) response" (RFC 9110 §7.8). A refusal sends none: "A
        // server MAY omit sending a 100 (Continue) response if ... the
        // framing indicates that there is no content" (§10.1.1), and an
        // upgrade request has none (see `check_no_content`).
        out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
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

/// Writes an HTTP error response that ends the connection, with the fields
/// its status requires. The caller has checked the status, headers and
/// body ([`check_reject`]).
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
    if status == 426 {
        // "The server MUST send an Upgrade header field in a 426 response
        // to indicate the required protocol(s)" (RFC 9110 §15.5.22), and
        // "A sender of Upgrade MUST also send an "Upgrade" connection
        // option in the Connection header field" (RFC 9110 §7.8). RFC 6455
        // §4.4 adds the versions the server supports.
        out.extend_from_slice(b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
    }
    if status == 405 && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("allow")) {
        // "An origin server MUST generate an Allow header field in a 405
        // (Method Not Allowed) response" (RFC 9110 §15.5.6).
        out.extend_from_slice(b"Allow: GET\r\n");
    }
    for (name, value) in headers {
        http::write_field(out, name, value.as_bytes());
    }
    if status == 426 {
        out.extend_from_slice(b"Connection: Upgrade, close\r\n");
    } else {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    if matches!(status, 204 | 304) {
        // A 204 or 304 "is terminated by the end of the header section; it
        // cannot contain content" (RFC 9110 §15.3.5, §15.4.5), and "A
        // server MUST NOT send a Content-Length header field in any
        // response with a status code of ... 204 (No Content)" (§8.6).
        out.extend_from_slice(b"\r\n");
        return;
    }
    out.extend_from_slice(b"Content-Length: ");
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
    write_reject(
        status,
        &[("Content-Type", "text/plain")],
        body.as_bytes(),
        out,
    );
}

/// Checks the caller's choices for a `101` against the request's header
/// `fields`.
pub(crate) fn check_accept(fields: Fields<'_>, accept: &Accept<'_>) -> Result<(), SendError> {
    subprotocol::check_choice(fields.get_all("sec-websocket-protocol"), accept.subprotocol)?;
    check_headers(accept.headers, RESPONSE_RESERVED)
}

/// Checks a refusal: status, body and headers.
pub(crate) fn check_reject(
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(), SendError> {
    if !(200..=599).contains(&status) {
        return Err(SendError::InvalidStatus);
    }
    if matches!(status, 204 | 304) && !body.is_empty() {
        return Err(SendError::BodyNotAllowed);
    }
    check_headers(headers, RESPONSE_RESERVED)?;
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    // "A server generating a 401 (Unauthorized) response MUST send a
    // WWW-Authenticate header field containing at least one challenge"
    // (RFC 9110 §11.6.1); likewise Proxy-Authenticate in a 407 (§11.7.1).
    if status == 401 && !has("www-authenticate") {
        return Err(SendError::MissingHeader("WWW-Authenticate"));
    }
    if status == 407 && !has("proxy-authenticate") {
        return Err(SendError::MissingHeader("Proxy-Authenticate"));
    }
    Ok(())
}

/// Header names a response writer may not take from the caller: written by
/// the connection itself, or changing the framing of the message (RFC 9110
/// §8.6: "A server MUST NOT send a Content-Length header field in any
/// response with a status code of 1xx"; §6.1 likewise Transfer-Encoding).
/// Names ending in `-` are prefixes.
pub(crate) const RESPONSE_RESERVED: &[&str] = &[
    "connection",
    "content-length",
    "transfer-encoding",
    "upgrade",
    "sec-websocket-",
];

/// Checks caller-supplied header fields: valid HTTP, and none reserved.
pub(crate) fn check_headers(headers: &[(&str, &str)], reserved: &[&str]) -> Result<(), SendError> {
    for (name, value) in headers {
        if !http::valid_field(name, value) {
            return Err(SendError::InvalidHeader);
        }
        let is_reserved = |r: &&str| match r.strip_suffix('-') {
            Some(_) => name.len() >= r.len() && name[..r.len()].eq_ignore_ascii_case(r),
            None => name.eq_ignore_ascii_case(r),
        };
        if reserved.iter().any(is_reserved) {
            return Err(SendError::ReservedHeader);
        }
    }
    Ok(())
}
