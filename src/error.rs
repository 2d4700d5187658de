//! Errors, split by who is at fault.
//!
//! * [`ProtocolError`]: the peer broke RFC 6455. Each knows the close code
//!   it calls for ([`ProtocolError::close_code`]), sent unless our own Close
//!   had gone first.
//! * [`HandshakeError`]: the peer's opening handshake was unacceptable. As a
//!   server, the HTTP error response is already queued.
//! * [`SendError`]: the caller asked for something the protocol forbids in
//!   the current state. Nothing was written.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::wire::ProtocolError;
use crate::wire::close::CloseCode;

/// A server's refusal: an HTTP response that was not `101 Switching
/// Protocols`, as seen by a client. Strings are decoded lossily (invalid UTF-8 becomes U+FFFD) so
/// that it prints readably.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The status code, e.g. 301, 401, 403.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body: the `Content-Length` bytes, or what came before the server
    /// closed the connection, at most
    /// [`Config::max_handshake_size`](crate::Config::max_handshake_size)
    /// bytes (a chunked body is not decoded).
    pub body: Vec<u8>,
}

impl Refusal {
    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The opening handshake failed because of what the peer sent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The HTTP head is longer than [`Config::max_handshake_size`](crate::Config::max_handshake_size).
    HeadTooLarge,
    /// More header fields than [`Config::max_headers`](crate::Config::max_headers).
    TooManyHeaders,
    /// The HTTP head is not valid HTTP/1.1 syntax; says where.
    Malformed(&'static str),
    /// The request method is not `GET`.
    MethodNotGet,
    /// The request or response is HTTP/1.0, which cannot upgrade (a later
    /// HTTP/1 minor version is taken as 1.1).
    UnsupportedHttpVersion,
    /// The request or response is not HTTP/1 (e.g. `HTTP/2.0` in an
    /// HTTP/1 head; a `505` was queued).
    UnsupportedHttpMajorVersion,
    /// The request has no `Host` header, or more than one.
    MissingHost,
    /// The `Host` value is not `host[:port]` (RFC 9112 §3.2).
    InvalidHost,
    /// The request target is not origin-form (`/path?query`) or an
    /// absolute `ws`, `wss`, `http` or `https` URI; says why.
    InvalidTarget(&'static str),
    /// The request target is longer than a line may be (a `414` was queued).
    TargetTooLong,
    /// The request announces content (`Transfer-Encoding`, or a
    /// `Content-Length` other than 0): an upgrade request has none, and its
    /// bytes would be taken for frames.
    RequestContent,
    /// `Sec-WebSocket-Protocol` in the request offers an element that is
    /// not a token, or one twice (RFC 6455 §4.1).
    InvalidSubprotocol,
    /// `Upgrade` does not contain the `websocket` token (a request), or is
    /// not exactly `websocket` (a response, RFC 6455 §4.1).
    MissingUpgrade,
    /// `Connection` does not contain the `upgrade` token.
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Key` is missing, repeated, or not base64 of 16 bytes.
    InvalidKey,
    /// `Sec-WebSocket-Version` is missing or not 13 (a `426` was queued).
    UnsupportedVersion,
    /// The server's `Sec-WebSocket-Accept` does not match our key.
    InvalidAccept,
    /// The server's `Sec-WebSocket-Protocol` is not exactly one of the
    /// subprotocols we offered: one we did not offer, several, or empty.
    UnexpectedSubprotocol,
    /// The server chose an extension we did not offer.
    UnexpectedExtension,
    /// The server answered with a status other than 101.
    Rejected(Box<Refusal>),
    /// The transport ended before the handshake completed.
    UnexpectedEof,
    /// The client sent more than
    /// [`Config::max_handshake_size`](crate::Config::max_handshake_size)
    /// bytes after its request while the request awaited an answer (a `400`
    /// was queued).
    EarlyDataTooLarge,
    /// The handshake did not complete within
    /// [`Config::handshake_timeout`](crate::Config::handshake_timeout). A
    /// server that had received part of the request queued a `408`.
    Timeout,
}

impl HandshakeError {
    /// The HTTP status a server answers this error with (already queued).
    pub const fn status(&self) -> Option<u16> {
        match self {
            Self::HeadTooLarge | Self::TooManyHeaders => Some(431),
            Self::TargetTooLong => Some(414),
            Self::UnsupportedHttpMajorVersion => Some(505),
            Self::UnsupportedVersion => Some(426),
            Self::Timeout => Some(408),
            Self::MethodNotGet => Some(405),
            Self::InvalidAccept
            | Self::UnexpectedSubprotocol
            | Self::UnexpectedExtension
            | Self::Rejected(_)
            | Self::UnexpectedEof => None,
            _ => Some(400),
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HeadTooLarge => f.write_str("HTTP head too large"),
            Self::TooManyHeaders => f.write_str("too many HTTP header fields"),
            Self::Malformed(what) => write!(f, "malformed HTTP head: {what}"),
            Self::MethodNotGet => f.write_str("method is not GET"),
            Self::UnsupportedHttpVersion => f.write_str("HTTP/1.0 cannot upgrade"),
            Self::UnsupportedHttpMajorVersion => f.write_str("not HTTP/1"),
            Self::MissingHost => f.write_str("missing or repeated Host header"),
            Self::InvalidHost => f.write_str("invalid Host header"),
            Self::InvalidTarget(why) => write!(f, "invalid request target: {why}"),
            Self::TargetTooLong => f.write_str("request target too long"),
            Self::RequestContent => f.write_str("an upgrade request has no content"),
            Self::InvalidSubprotocol => {
                f.write_str("Sec-WebSocket-Protocol offers a non-token or a repeated element")
            }
            Self::MissingUpgrade => f.write_str("Upgrade header lacks 'websocket'"),
            Self::MissingConnectionUpgrade => f.write_str("Connection header lacks 'upgrade'"),
            Self::InvalidKey => f.write_str("missing or invalid Sec-WebSocket-Key"),
            Self::UnsupportedVersion => f.write_str("Sec-WebSocket-Version is not 13"),
            Self::InvalidAccept => f.write_str("Sec-WebSocket-Accept does not match the key"),
            Self::UnexpectedSubprotocol => f.write_str("server chose a subprotocol not offered"),
            Self::UnexpectedExtension => f.write_str("server chose an extension not offered"),
            Self::Rejected(r) => write!(f, "server answered {} {}", r.status, r.reason),
            Self::UnexpectedEof => f.write_str("connection closed during the handshake"),
            Self::EarlyDataTooLarge => f.write_str("too much data before the request was answered"),
            Self::Timeout => f.write_str("the opening handshake timed out"),
        }
    }
}

impl core::error::Error for HandshakeError {}

/// What [`Connection::poll_event`](crate::Connection::poll_event) can fail with:
/// the peer's fault, in either phase of the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the framing protocol. A Close with the error's code
    /// was queued unless we had already sent a Close of our own (the
    /// closing handshake had started): then nothing more was sent, and
    /// [`Connection::sent_close`](crate::Connection::sent_close) is still
    /// our earlier Close.
    Protocol(ProtocolError),
    /// The opening handshake failed.
    Handshake(HandshakeError),
    /// The peer did not answer a keepalive Ping within
    /// [`Keepalive::timeout`](crate::Keepalive::timeout): a Close with 1011
    /// was queued (unless ours was already sent).
    KeepaliveTimeout,
}

impl Error {
    /// The close code a protocol error calls for. It went out in our Close
    /// unless a Close of ours had gone before (see [`Error::Protocol`]);
    /// [`Connection::sent_close`](crate::Connection::sent_close) says what
    /// was actually sent.
    pub const fn close_code(&self) -> Option<CloseCode> {
        match self {
            Self::Protocol(e) => Some(e.close_code()),
            Self::KeepaliveTimeout => Some(CloseCode::INTERNAL_ERROR),
            Self::Handshake(_) => None,
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Self::Protocol(e)
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Self::Handshake(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::Handshake(e) => write!(f, "handshake failed: {e}"),
            Self::KeepaliveTimeout => f.write_str("keepalive timeout: the peer stopped answering"),
        }
    }
}

impl core::error::Error for Error {}

/// The caller asked for something the connection cannot do now. Nothing was
/// written and the connection is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The opening handshake has not completed.
    NotOpen,
    /// A Close frame was sent or received, or the connection failed:
    /// nothing more may be sent.
    Closed,
    /// The close code may not be sent (1005, 1006, 1015, reserved or
    /// unassigned codes).
    InvalidCloseCode(CloseCode),
    /// The close reason is longer than 123 bytes.
    ReasonTooLong,
    /// A Ping or Pong payload is longer than 125 bytes.
    ControlPayloadTooLong,
    /// A whole message was sent while a fragmented one is unfinished.
    FragmentInProgress,
    /// A fragment of a different type than the message it continues.
    FragmentTypeMismatch,
    /// A Ping or Pong cannot be sent in fragments.
    ControlFragment,
    /// `accept`/`reject` without a pending request, or twice.
    NoPendingRequest,
    /// The chosen subprotocol was not offered by the client.
    SubprotocolNotOffered,
    /// A header name or value the caller supplied is not valid HTTP (or,
    /// for a client, the host or path is not valid in a request).
    InvalidHeader,
    /// The caller supplied a header the connection writes itself, or one
    /// that would change the message framing: `Host`, `Upgrade`,
    /// `Connection`, `Content-Length`, `Transfer-Encoding`, `Sec-WebSocket-*`.
    ReservedHeader,
    /// A subprotocol to offer is not a token (RFC 9110 §5.6.2) or is
    /// offered twice (RFC 6455 §4.1: they "MUST all be unique strings").
    InvalidSubprotocol,
    /// A rejection status whose required header is missing: `401` without
    /// `WWW-Authenticate` (RFC 9110 §11.6.1), `407` without
    /// `Proxy-Authenticate` (§11.7.1). Names the header.
    MissingHeader(&'static str),
    /// A body for a `204` or `304` response, which has none (RFC 9110
    /// §15.3.5, §15.4.5).
    BodyNotAllowed,
    /// A rejection status outside 200-599.
    InvalidStatus,
    /// The compressor failed (permessage-deflate; not seen with the
    /// parameters this crate uses). Nothing was written.
    CompressionFailed,
    /// [`Config::max_pending_output`](crate::Config::max_pending_output)
    /// bytes are queued in `out` already: the message was not queued (send
    /// it again once `out` was written). Control frames are never refused.
    Backpressure,
    /// [`Sender::finish`](crate::Sender::finish) with no message begun.
    NoMessageInProgress,
    /// [`Sender::send_header`](crate::Sender::send_header) on a client,
    /// which must mask: use [`Sender::send_in_place`](crate::Sender::send_in_place).
    MustMask,
    /// A text payload given as bytes is not UTF-8.
    InvalidUtf8,
    /// An extended CONNECT (WebSocket over HTTP/2 or HTTP/3) to a server
    /// whose SETTINGS did not enable it
    /// (`SETTINGS_ENABLE_CONNECT_PROTOCOL`, RFC 8441 §3).
    ExtendedConnectNotEnabled,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotOpen => "the connection is not open yet",
            Self::Closed => "the connection is closing or closed",
            Self::InvalidCloseCode(_) => "this close code may not be sent",
            Self::ReasonTooLong => "close reason longer than 123 bytes",
            Self::ControlPayloadTooLong => "control payload longer than 125 bytes",
            Self::FragmentInProgress => "a fragmented message is unfinished",
            Self::FragmentTypeMismatch => "fragment type differs from its message",
            Self::ControlFragment => "control messages cannot be fragmented",
            Self::NoPendingRequest => "no request is waiting for an answer",
            Self::SubprotocolNotOffered => "subprotocol was not offered by the client",
            Self::InvalidHeader => "invalid header name or value",
            Self::ReservedHeader => "this header is written by the connection itself",
            Self::InvalidSubprotocol => "subprotocol is not a token or is repeated",
            Self::BodyNotAllowed => "a 204 or 304 response has no body",
            Self::MissingHeader(_) => "this status requires a header that is missing",
            Self::CompressionFailed => "the compressor failed",
            Self::Backpressure => "too much output queued: write it out first",
            Self::NoMessageInProgress => "no fragmented message to finish",
            Self::MustMask => "a client must mask: send in place",
            Self::InvalidUtf8 => "a text message must be UTF-8",
            Self::InvalidStatus => "rejection status must be 200-599",
            Self::ExtendedConnectNotEnabled => "the server did not enable the extended CONNECT",
        })
    }
}

impl core::error::Error for SendError {}
