//! An HTTP/1.1 upgrade request that another HTTP stack parsed (hyper,
//! axum, anything with the `http` crate's types): the same rules as the
//! connection's own server, run on the decoded method, target and fields,
//! and the `101`'s fields for that stack to send.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::server::{Accept, Response, Upgrade, check_accept, validate_request};
use super::{accept_key, connect, extensions, http};
use crate::config::Config;
use crate::error::{HandshakeError, SendError};

/// Where [`validate_upgrade`] keeps the request it checks, so that the
/// [`Upgrade`] it returns can borrow from it. Reuse one per connection (or
/// per server task).
#[derive(Debug, Default)]
pub struct UpgradeBuf {
    head: Vec<u8>,
    scratch: String,
}

/// Checks an HTTP/1.1 upgrade request from its decoded parts: the method,
/// the request target as sent (origin-form `/chat?room=1`, or
/// absolute-form), and every header field in order, names in any case.
/// The rules are those [`Connection::server`](crate::Connection::server)
/// applies to the bytes of a request; a refusal is the same
/// [`HandshakeError`], whose [`status`](HandshakeError::status) the caller
/// answers with. The request must be HTTP/1.1 (an HTTP/2 or HTTP/3
/// extended CONNECT goes to
/// [`h2::validate_request`](super::h2::validate_request) or
/// [`h3::validate_request`](super::h3::validate_request)).
///
/// ```
/// use wstate::handshake::{UpgradeBuf, validate_upgrade};
/// use wstate::{Accept, Config, Connection, Role};
/// // As hyper or axum decoded them.
/// let fields = [
///     ("host", "example.com"),
///     ("upgrade", "websocket"),
///     ("connection", "Upgrade"),
///     ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
///     ("sec-websocket-version", "13"),
///     ("sec-websocket-protocol", "chat"),
/// ];
/// let mut buf = UpgradeBuf::default();
/// let upgrade = validate_upgrade("GET", "/chat?room=1", &fields, &mut buf).unwrap();
/// assert_eq!(upgrade.request().path(), "/chat?room=1");
/// let config = Config::default();
/// let response = upgrade.accept(&Accept::new().subprotocol("chat"), &config).unwrap();
/// // Send the status and fields, then hand the upgraded stream over.
/// assert_eq!(response.status(), 101);
/// let fields: Vec<(&str, &str)> = response.headers().collect();
/// assert_eq!(fields, [
///     ("upgrade", "websocket"),
///     ("connection", "Upgrade"),
///     ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
///     ("sec-websocket-protocol", "chat"),
/// ]);
/// let server = Connection::new_open_with_deflate(Role::Server, config, response.deflate());
/// # let _ = server;
/// ```
pub fn validate_upgrade<'a, N: AsRef<str>, V: AsRef<[u8]>>(
    method: &str,
    target: &str,
    fields: &[(N, V)],
    buf: &'a mut UpgradeBuf,
) -> Result<Upgrade<'a>, HandshakeError> {
    // The head as it came on the wire, for the one set of HTTP/1.1 rules.
    // A line break inside a decoded part would make another line of it.
    let broken = |b: &[u8]| b.iter().any(|&c| c == b'\r' || c == b'\n');
    let head = &mut buf.head;
    head.clear();
    for part in [method.as_bytes(), target.as_bytes()] {
        if broken(part) {
            return Err(HandshakeError::Malformed("a line break inside a field"));
        }
        head.extend_from_slice(part);
        head.push(b' ');
    }
    head.extend_from_slice(b"HTTP/1.1\r\n");
    for (name, value) in fields {
        let (name, value) = (name.as_ref().as_bytes(), value.as_ref());
        if broken(name) || broken(value) {
            return Err(HandshakeError::Malformed("a line break inside a field"));
        }
        head.extend_from_slice(name);
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let parsed = http::parse_head(&buf.head, fields.len())?;
    let (request, key) = validate_request(parsed, &mut buf.scratch)?;
    Ok(Upgrade {
        request,
        key: Some(key),
        decoded: Vec::new(),
    })
}

impl Upgrade<'_> {
    /// Accepts the request: the response's status and fields, with the
    /// chosen subprotocol, the permessage-deflate answer (negotiated from
    /// `config`, as the connection's own server does) and the caller's
    /// extra fields. For an HTTP/1.1 upgrade that
    /// [`expects_continue`](super::Request::expects_continue), a `100 Continue`
    /// must go out before the `101` (RFC 9110 §7.8).
    ///
    /// Fails, building nothing, with [`SendError::SubprotocolNotOffered`],
    /// [`SendError::InvalidHeader`] (not valid HTTP; over HTTP/2 and
    /// HTTP/3 also a value with whitespace around it, which they forbid) or
    /// [`SendError::ReservedHeader`] (a field built here; for an extended
    /// CONNECT also a connection-specific one, or `content-length`: "A
    /// server MUST NOT send any Transfer-Encoding or Content-Length header
    /// fields in a 2xx (Successful) response to CONNECT", RFC 9110 §9.3.6).
    pub fn accept(&self, accept: &Accept<'_>, config: &Config) -> Result<Response, SendError> {
        let Some(key) = self.key else {
            return connect::answer(&self.request(), accept, config);
        };
        let fields = self.request.headers();
        check_accept(fields, accept)?;
        let deflate = extensions::answer(fields.get_all("sec-websocket-extensions"), config);
        let answer = accept_key(key);
        let mut headers = Vec::with_capacity(5 + accept.headers.len());
        let mut push =
            |name: &str, value: &str| headers.push((name.to_string(), value.to_string()));
        push("upgrade", "websocket");
        push("connection", "Upgrade");
        // 28 base64 characters: always UTF-8.
        push(
            "sec-websocket-accept",
            core::str::from_utf8(&answer).unwrap_or_default(),
        );
        if let Some(chosen) = accept.subprotocol {
            push("sec-websocket-protocol", chosen);
        }
        if let Some(params) = deflate {
            push("sec-websocket-extensions", &params.to_string());
        }
        for (name, value) in accept.headers {
            push(name, value);
        }
        Ok(Response {
            status: 101,
            headers,
            deflate,
        })
    }
}
