//! The client's side of the extended CONNECT: building the request
//! (RFC 8441 §4, §5; RFC 9220 §3), checking the response.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::{
    ConnectError, ExtendedConnect, Scheme, check_extra_headers, check_path, has_handshake_key,
    pairs, push_lowercase, read_fields, values,
};
use crate::config::Config;
use crate::error::SendError;
use crate::handshake::extensions::{self, DeflateConfig};
use crate::handshake::fields::Fields;
use crate::handshake::{Accepted, ClientRequest, subprotocol, uri};

/// Names a client's caller may not add to the CONNECT: as for a response,
/// and `host`, which "Clients MUST NOT generate ... that differs from the
/// ":authority" pseudo-header field" (RFC 9113 §8.3.1, RFC 9114 §4.3.1 in
/// the same words): the authority goes
/// in `:authority` only.
const REQUEST_RESERVED: &[&str] = &[
    "host",
    "connection",
    "proxy-connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "te",
    "content-length",
    "sec-websocket-",
];

/// Builds a client's extended CONNECT (RFC 8441 §4, §5; RFC 9220 §3) for
/// `request`: `request.host` becomes `:authority`, `request.path` `:path`,
/// and the permessage-deflate offer comes from `config.deflate` (feature
/// `deflate`). `setting` says whether the server's SETTINGS carried
/// `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`. Keep the result to check the
/// response with [`Connect::validate_response`].
///
/// Fails with [`SendError::ExtendedConnectNotEnabled`] before the server
/// enabled it ("Upon receipt of SETTINGS_ENABLE_CONNECT_PROTOCOL with a
/// value of 1, a client MAY use the Extended CONNECT", RFC 8441 §3; RFC 9220
/// §3), [`SendError::InvalidHeader`] for a host or path our server would
/// refuse, or an invalid extra field, [`SendError::InvalidSubprotocol`] for
/// a subprotocol that is not a token or is repeated (RFC 6455 §4.1: they
/// "MUST all be unique strings"), and [`SendError::ReservedHeader`] for an
/// extra field built here, a connection-specific one, `te`,
/// `content-length` or `host`.
pub fn connect(
    request: &ClientRequest<'_>,
    scheme: Scheme,
    setting: ExtendedConnect,
    config: &Config,
) -> Result<Connect, SendError> {
    if setting == ExtendedConnect::NotEnabled {
        return Err(SendError::ExtendedConnectNotEnabled);
    }
    // The rules our server applies: a non-empty origin-form path and a
    // valid `host[:port]` (see `validate_request`).
    if check_path(request.path.as_bytes()).is_err() || !uri::is_valid_host(request.host.as_bytes())
    {
        return Err(SendError::InvalidHeader);
    }
    // RFC 6455 §4.1: distinct tokens, as over HTTP/1.1.
    let protocols = request.subprotocols;
    if !subprotocol::can_offer(protocols) {
        return Err(SendError::InvalidSubprotocol);
    }
    check_extra_headers(request.headers, REQUEST_RESERVED)?;
    let field = |n: &str, v: &str| (n.to_string(), v.to_string());
    // In the order of RFC 8441 §5.1's example.
    let mut headers = alloc::vec![
        field(":method", "CONNECT"),
        field(":protocol", "websocket"),
        field(":scheme", scheme.as_str()),
        field(":path", request.path),
        field(":authority", request.host),
    ];
    if !protocols.is_empty() {
        headers.push(field("sec-websocket-protocol", &protocols.join(", ")));
    }
    if let Some(offer) = config.deflate().map(extensions::offer) {
        headers.push(field("sec-websocket-extensions", &offer));
    }
    headers.push(field("sec-websocket-version", "13"));
    push_lowercase(&mut headers, request.headers);
    Ok(Connect {
        headers,
        offered: protocols.join(", "),
        deflate: config.deflate().copied(),
    })
}

/// A client's extended CONNECT, built by [`connect`]: its fields, and what
/// it offered, to check the response against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connect {
    headers: Vec<(String, String)>,
    /// The subprotocols offered, comma-separated.
    offered: String,
    /// What was offered, if permessage-deflate was.
    deflate: Option<DeflateConfig>,
}

impl Connect {
    /// The request's fields for the HTTP stack, pseudo-header fields first
    /// (`:method`, `:protocol`, `:scheme`, `:path`, `:authority`), then
    /// `sec-websocket-protocol`, `sec-websocket-extensions`,
    /// `sec-websocket-version` and the caller's, lowercased. With the `h2`
    /// crate: method `CONNECT`, the `h2::ext::Protocol` extension
    /// `websocket`, the URI `scheme://authority/path`, and the regular
    /// fields as headers; send it without END_STREAM (HTTP/3: a HEADERS
    /// frame, the stream left open).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        pairs(&self.headers)
    }

    /// The subprotocols offered, most preferred first.
    pub fn subprotocols(&self) -> impl Iterator<Item = &str> {
        self.offered.split(", ").filter(|p| !p.is_empty())
    }

    /// Checks the server's response from its decoded fields (`:status`
    /// first, names lowercase). A 2xx accepts: "Any 2xx (Successful)
    /// response indicates that the sender (and all inbound proxies) will
    /// switch to tunnel mode immediately after the response header section"
    /// (RFC 9110 §9.3.6); RFC 8441 §5.1's server answers 200. Give the
    /// final response, not an interim 1xx (the HTTP stack reads those).
    ///
    /// A `content-length` is ignored: "A client MUST ignore any
    /// Content-Length or Transfer-Encoding header fields received in a
    /// successful response to CONNECT" (RFC 9110 §9.3.6; a
    /// `transfer-encoding` is connection-specific in HTTP/2 and HTTP/3 and
    /// makes the response malformed). A `sec-websocket-accept` (or
    /// `-key`) is refused, [`ConnectError::HandshakeKeyInResponse`]: RFC
    /// 8441 §5 replaces them with `:protocol`.
    pub fn validate_response<'a, N, V>(
        &self,
        fields: &'a [(N, V)],
    ) -> Result<Accepted<'a>, ConnectError>
    where
        N: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let p = read_fields(fields, true)?;
        // RFC 9113 §8.3.2 (RFC 9114 §4.3.2 for HTTP/3): "For HTTP/2
        // responses, a single :status
        // pseudo-header field is defined that carries the HTTP status code
        // field ... This pseudo-header field MUST be included in all
        // responses, including interim responses; otherwise, the response
        // is malformed".
        let status = p.status.ok_or(ConnectError::Malformed("missing :status"))?;
        let status = match status {
            [a @ b'1'..=b'5', b, c] if b.is_ascii_digit() && c.is_ascii_digit() => {
                u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
            }
            _ => return Err(ConnectError::Malformed("invalid :status")),
        };
        if !(200..300).contains(&status) {
            return Err(ConnectError::Rejected(status));
        }
        // RFC 8441 §5: the extended CONNECT does "not do the processing of
        // the Sec-WebSocket-Key and Sec-WebSocket-Accept header fields".
        if has_handshake_key(fields) {
            return Err(ConnectError::HandshakeKeyInResponse);
        }
        // "If the response includes a |Sec-WebSocket-Extensions| header
        // field and this header field indicates the use of an extension
        // that was not present in the client's handshake ..., the client
        // MUST _Fail the WebSocket Connection_" (RFC 6455 §4.1).
        let answered = values(fields, "sec-websocket-extensions");
        let deflate = extensions::validate_response(answered, self.deflate.as_ref())
            .map_err(|_| ConnectError::UnexpectedExtension)?;
        // RFC 6455 §4.1: exactly one of the offered subprotocols, once, as
        // over HTTP/1.1 (see `check_chosen`).
        let subprotocol =
            subprotocol::check_chosen(values(fields, "sec-websocket-protocol"), &self.offered)
                .map_err(|_| ConnectError::UnexpectedSubprotocol)?;
        Ok(Accepted::new(status, subprotocol, Fields::NONE, deflate))
    }
}
