//! An HTTP/1.1 upgrade request that another HTTP stack parsed (hyper,
//! axum, anything with the `http` crate's types): the same rules as the
//! connection's own server, run on the decoded method, target and fields,
//! and the `101`'s fields for that stack to send.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::server::{Accept, Request, check_accept, validate_request};
use super::{accept_key, extensions, http};
use crate::config::Config;
use crate::deflate::DeflateParams;
use crate::error::{HandshakeError, SendError};

/// Where [`validate_upgrade`] keeps the request it checks, so that the
/// [`Upgrade`] it returns can borrow from it. Reuse one per connection (or
/// per server task).
#[derive(Debug, Default)]
pub struct UpgradeBuf {
    head: Vec<u8>,
    scratch: String,
}

/// A valid upgrade request (RFC 6455 §4.2.1), borrowed from its
/// [`UpgradeBuf`].
#[derive(Debug)]
pub struct Upgrade<'a> {
    request: Request<'a>,
    key: &'a [u8],
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
/// // Send these with status 101, then hand the upgraded stream over.
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
    Ok(Upgrade { request, key })
}

impl<'a> Upgrade<'a> {
    /// The request: path, authority, origin, subprotocols, extensions,
    /// every field.
    pub fn request(&self) -> &Request<'a> {
        &self.request
    }

    /// Accepts the request: the `101 Switching Protocols` response's
    /// fields, with the chosen subprotocol, the permessage-deflate answer
    /// (negotiated from `config`, as the connection's own server does) and
    /// the caller's extra fields. If the request
    /// [`expects_continue`](Request::expects_continue), a `100 Continue`
    /// must go out before the `101` (RFC 9110 §7.8).
    ///
    /// Fails, building nothing, with [`SendError::SubprotocolNotOffered`],
    /// [`SendError::InvalidHeader`] or [`SendError::ReservedHeader`] (a
    /// field built here).
    pub fn accept(
        &self,
        accept: &Accept<'_>,
        config: &Config,
    ) -> Result<UpgradeResponse, SendError> {
        let fields = self.request.headers();
        check_accept(fields, accept)?;
        let deflate = extensions::answer(fields.get_all("sec-websocket-extensions"), config);
        let answer = accept_key(self.key);
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
        Ok(UpgradeResponse { headers, deflate })
    }
}

/// The `101` response's fields, built by [`Upgrade::accept`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpgradeResponse {
    headers: Vec<(String, String)>,
    deflate: Option<DeflateParams>,
}

impl UpgradeResponse {
    /// The fields to send with status 101, in order: `upgrade`,
    /// `connection`, `sec-websocket-accept`, then `sec-websocket-protocol`
    /// and `sec-websocket-extensions` when chosen, then the caller's.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The permessage-deflate parameters accepted, for
    /// [`Connection::new_open_with_deflate`](crate::Connection::new_open_with_deflate).
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate
    }
}
