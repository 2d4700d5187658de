//! [`Error`]: everything a stream can fail with, saying whose fault it is.

use std::{fmt, io};

use wstate::{CloseCode, SendError, UrlError};

/// Why a WebSocket call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the protocol, the opening handshake failed (a
    /// server's refusal included), or the peer stopped answering keepalive
    /// Pings. Our Close with [`close_code`](Self::close_code) (or the HTTP
    /// error) was written before the transport was closed.
    Protocol(wstate::Error),
    /// The caller asked for something the connection cannot do now: send
    /// after the Close, a Ping payload over 125 bytes, an invalid close
    /// code, a header the handshake writes itself, ... Nothing was sent.
    Send(SendError),
    /// [`accept_with`](crate::accept_with)'s callback refused the request:
    /// the HTTP response with this status was written.
    Rejected {
        /// The response's status.
        status: u16,
    },
    /// The transport failed.
    Io(io::Error),
    /// The URL given to [`connect`](crate::connect) is not a WebSocket URL.
    Url(UrlError),
    /// A `wss://` URL without a TLS implementation to speak it (feature
    /// `rustls` is off).
    TlsUnavailable,
    /// The TLS handshake of a `wss://` connection failed: the server's
    /// certificate is not trusted or not for this host, no common
    /// version or cipher, the server's alert, ...
    #[cfg(feature = "rustls")]
    Tls(tokio_rustls::rustls::Error),
}

impl Error {
    /// The close code that went out in our Close when the peer was at fault
    /// (1002 for a protocol error, 1007 for invalid UTF-8, 1009 for a
    /// message too big, 1011 for an unanswered keepalive Ping, ...).
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Self::Protocol(e) => e.close_code(),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(e) => fmt::Display::fmt(e, f),
            Self::Send(e) => write!(f, "cannot send: {e}"),
            Self::Rejected { status } => write!(f, "the request was refused with {status}"),
            Self::Io(e) => write!(f, "transport error: {e}"),
            Self::Url(e) => write!(f, "not a WebSocket URL: {e}"),
            Self::TlsUnavailable => f.write_str("wss:// needs the `rustls` feature"),
            #[cfg(feature = "rustls")]
            Self::Tls(e) => write!(f, "TLS error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Protocol(e) => Some(e),
            Self::Send(e) => Some(e),
            Self::Io(e) => Some(e),
            #[cfg(feature = "rustls")]
            Self::Tls(e) => Some(e),
            _ => None,
        }
    }
}

impl From<wstate::Error> for Error {
    fn from(e: wstate::Error) -> Self {
        Self::Protocol(e)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        Self::Send(e)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<UrlError> for Error {
    fn from(e: UrlError) -> Self {
        Self::Url(e)
    }
}
