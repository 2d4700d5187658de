//! A WebSocket from a hyper (or axum) request's HTTP/1.1 upgrade (feature
//! `hyper`): [`upgrade`] checks the request with the core's rules, answers
//! it with the `101` response for the HTTP server to send (or with the
//! refusal's response), and hands back an [`Upgrading`] future that
//! resolves to the [`WebSocket`] once hyper gives up the connection.
//!
//! ```no_run
//! use std::convert::Infallible;
//! use http_body_util::Full;
//! use hyper::body::Bytes;
//! use hyper::{Request, Response};
//! use wstate_tokio::upgrade::{UpgradeError, upgrade};
//! use wstate_tokio::{Message, Options};
//!
//! type Reply = Result<Response<Full<Bytes>>, Infallible>;
//!
//! // The service of a hyper server run with `.with_upgrades()`.
//! async fn serve(mut request: Request<hyper::body::Incoming>) -> Reply {
//!     let answer = upgrade(&mut request, &Options::default(), |request| {
//!         match request.subprotocols().any(|p| p == "chat.v1") {
//!             true => Ok(wstate::Accept::new().subprotocol("chat.v1")),
//!             false => Err(UpgradeError::refuse(400, "chat.v1 is the one subprotocol")),
//!         }
//!     });
//!     let (response, upgrading) = match answer {
//!         Ok(accepted) => accepted,
//!         Err(refusal) => return Ok(refusal.response()),
//!     };
//!     tokio::spawn(async move {
//!         let mut ws = upgrading.await?;
//!         while let Some(message) = ws.recv().await {
//!             if let message @ Message::Text(_) = message? {
//!                 ws.send(message).await?;
//!             }
//!         }
//!         Ok::<(), wstate_tokio::Error>(())
//!     });
//!     Ok(response)
//! }
//! ```
//!
//! permessage-deflate (feature `deflate`) is negotiated from the request's
//! `Sec-WebSocket-Extensions` as the connection's own server does, with the
//! options' [`DeflateConfig`](wstate::DeflateConfig): the answer goes in
//! the `101`, and the WebSocket compresses with it.
//!
//! `Expect: 100-continue`: RFC 9110 §7.8 says a server that receives both
//! `Upgrade` and that expectation "MUST send a 100 (Continue) response
//! before sending a 101". hyper gives a service no way to send a `100`
//! before its response, and for a request without content it sends none
//! itself: through this upgrade such a request gets the `101` alone. The
//! adapter's own server ([`accept`](crate::accept), over the core's
//! handshake) sends the `100` first.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use wstate::handshake::{UpgradeBuf, validate_upgrade};
use wstate::{Accept, DeflateParams, HandshakeError, Role, SendError};

use crate::{Error, Options, WebSocket};

/// The stream under a WebSocket made by [`upgrade`]: hyper's upgraded
/// connection as a tokio stream.
pub type UpgradedStream = TokioIo<Upgraded>;

/// Why an upgrade request was not accepted; [`response`](Self::response)
/// is the HTTP answer to send instead of the `101`.
#[derive(Debug)]
#[non_exhaustive]
pub enum UpgradeError {
    /// The request is not a valid WebSocket upgrade (RFC 6455 §4.2.1):
    /// answered with [`HandshakeError::status`] (`400`; `426` with
    /// `Sec-WebSocket-Version: 13` for another version; `405` with
    /// `Allow: GET` for another method; `505` for a request that is not
    /// HTTP/1.1, ...).
    Invalid(HandshakeError),
    /// The server refused a valid request ([`refuse`](Self::refuse)).
    Refused {
        /// The response's status.
        status: StatusCode,
        /// The response's body, sent as `text/plain` when not empty.
        body: Bytes,
    },
    /// The server's answer cannot be sent: a subprotocol the client did not
    /// offer, an invalid or reserved header field. Answered with `500`.
    Answer(SendError),
}

impl UpgradeError {
    /// A refusal with `status` and a plain-text `body` (may be empty).
    /// A status outside 400-599 becomes `500`: a refusal is an error.
    pub fn refuse(status: u16, body: impl Into<Bytes>) -> Self {
        let status = StatusCode::from_u16(status)
            .ok()
            .filter(|s| s.is_client_error() || s.is_server_error())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self::Refused {
            status,
            body: body.into(),
        }
    }

    /// The status the request is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(e) => e
                .status()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::BAD_REQUEST),
            Self::Refused { status, .. } => *status,
            Self::Answer(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response to send: the [`status`](Self::status), the fields the
    /// status calls for, and a plain-text body saying why (the refusal's
    /// own body for [`Refused`](Self::Refused)).
    pub fn response<B: From<Bytes>>(&self) -> Response<B> {
        let status = self.status();
        let body = match self {
            Self::Refused { body, .. } => body.clone(),
            Self::Invalid(_) => Bytes::from(format!("{self}\n")),
            // The server's own mistake: the client learns only the status.
            Self::Answer(_) => Bytes::new(),
        };
        let mut response = Response::new(B::from(Bytes::new()));
        let headers = response.headers_mut();
        match status {
            // "The server MUST ... include ... a |Sec-WebSocket-Version|
            // header field ... indicating the version(s) the server is
            // capable of understanding" (RFC 6455 §4.4).
            StatusCode::UPGRADE_REQUIRED => {
                headers.insert("sec-websocket-version", HeaderValue::from_static("13"));
                headers.insert("upgrade", HeaderValue::from_static("websocket"));
            }
            // "The origin server MUST generate an Allow header field in a
            // 405 (Method Not Allowed) response" (RFC 9110 §15.5.6).
            StatusCode::METHOD_NOT_ALLOWED => {
                headers.insert("allow", HeaderValue::from_static("GET"));
            }
            _ => {}
        }
        if !body.is_empty() {
            let plain = HeaderValue::from_static("text/plain; charset=utf-8");
            headers.insert("content-type", plain);
        }
        *response.status_mut() = status;
        *response.body_mut() = B::from(body);
        response
    }
}

impl fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(e) => write!(f, "not a WebSocket upgrade: {e}"),
            Self::Refused { status, .. } => write!(f, "upgrade refused with {status}"),
            Self::Answer(e) => write!(f, "cannot accept the upgrade: {e}"),
        }
    }
}

impl std::error::Error for UpgradeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Invalid(e) => Some(e),
            Self::Answer(e) => Some(e),
            Self::Refused { .. } => None,
        }
    }
}

impl From<HandshakeError> for UpgradeError {
    fn from(e: HandshakeError) -> Self {
        Self::Invalid(e)
    }
}

impl From<SendError> for UpgradeError {
    fn from(e: SendError) -> Self {
        Self::Answer(e)
    }
}

/// Checks `request` as an HTTP/1.1 WebSocket upgrade (the core's rules,
/// [`validate_upgrade`]), lets `decide` accept it (with a subprotocol and
/// extra fields, as [`Accept`]) or refuse it, and returns the `101`
/// response for the HTTP server to send and the [`Upgrading`] future to
/// await once it is sent (typically in a task spawned by the handler). The
/// WebSocket runs with `options`.
///
/// A refusal, `decide`'s or the core's, is an [`UpgradeError`] whose
/// [`response`](UpgradeError::response) is the answer to send. The
/// request's body is not read: an upgrade request has none.
pub fn upgrade<'d, B, R, F>(
    request: &mut Request<B>,
    options: &Options,
    decide: F,
) -> Result<(Response<R>, Upgrading), UpgradeError>
where
    R: From<Bytes>,
    F: FnOnce(&wstate::Request<'_>) -> Result<Accept<'d>, UpgradeError>,
{
    match request.version() {
        Version::HTTP_11 => {}
        Version::HTTP_09 | Version::HTTP_10 => {
            return Err(HandshakeError::UnsupportedHttpVersion.into());
        }
        _ => return Err(HandshakeError::UnsupportedHttpMajorVersion.into()),
    }
    let uri = request.uri();
    // Origin-form as sent (`/chat?room=1`), or the absolute form.
    let absolute;
    let target = match (uri.scheme(), uri.path_and_query()) {
        (None, Some(path)) => path.as_str(),
        _ => {
            absolute = uri.to_string();
            &absolute
        }
    };
    let fields: Vec<(&str, &[u8])> = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    let mut buf = UpgradeBuf::default();
    let valid = validate_upgrade(request.method().as_str(), target, &fields, &mut buf)?;
    let accept = decide(&valid.request())?;
    // permessage-deflate negotiated from the request's offers and the
    // options' configuration (none without feature `deflate`).
    let answer = valid.accept(&accept, options.protocol())?;
    let mut response = Response::new(R::from(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    for (name, value) in answer.headers() {
        let name = HeaderName::from_bytes(name.as_bytes());
        let value = HeaderValue::from_str(value);
        let (Ok(name), Ok(value)) = (name, value) else {
            return Err(UpgradeError::Answer(SendError::InvalidHeader));
        };
        response.headers_mut().append(name, value);
    }
    let upgrading = Upgrading {
        on_upgrade: hyper::upgrade::on(request),
        options: options.clone(),
        subprotocol: accept.subprotocol.map(Box::from),
        deflate: answer.deflate(),
    };
    Ok((response, upgrading))
}

/// The WebSocket of an accepted [`upgrade`]: resolves once the HTTP server
/// has sent the `101` and handed over the connection. Fails with
/// [`Error::Io`] if the connection ended first, or if the server does not
/// hand connections over (a hyper server without `.with_upgrades()`).
#[must_use = "the WebSocket comes when this is awaited, after the 101 response is sent"]
pub struct Upgrading {
    on_upgrade: OnUpgrade,
    options: Options,
    subprotocol: Option<Box<str>>,
    /// The permessage-deflate parameters the `101` accepted.
    deflate: Option<DeflateParams>,
}

impl fmt::Debug for Upgrading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgrading")
            .field("subprotocol", &self.subprotocol)
            .field("deflate", &self.deflate)
            .finish_non_exhaustive()
    }
}

impl Future for Upgrading {
    type Output = Result<WebSocket<UpgradedStream>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let upgraded = ready!(Pin::new(&mut self.on_upgrade).poll(cx)).map_err(io::Error::other)?;
        let stream = TokioIo::new(upgraded);
        let mut ws = self
            .options
            .open_with_deflate(stream, Role::Server, self.deflate);
        ws.driver.subprotocol = self.subprotocol.take();
        Poll::Ready(Ok(ws))
    }
}
