//! [`Error`]: what the blocking adapter's calls fail with, split by who is
//! at fault: the peer, the transport, or the caller.

use std::fmt;
use std::io;

use crate::error::SendError;
use crate::wire::close::CloseCode;

/// What a [`WebSocket`](super::WebSocket) call failed with.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the protocol, its opening handshake was unacceptable,
    /// or a deadline passed (handshake timeout, unanswered keepalive Ping).
    /// What answers it (a Close with [`Error::close_code`], or an HTTP
    /// error response) was written before the call returned.
    Peer(crate::Error),
    /// The transport ended, or the close timeout passed, without the peer's
    /// Close (close code 1006, which never goes on the wire): mid-frame,
    /// mid-message or between messages.
    Abnormal,
    /// Reading or writing the transport failed. The connection is over.
    Io(io::Error),
    /// The caller's request was refused and nothing was sent: send after
    /// the Close ([`SendError::Closed`]), a Ping payload over 125 bytes, a
    /// subprotocol the client did not offer, ...
    Send(SendError),
    /// The connection is over (closing handshake done, failed, or an IO
    /// error was returned); nothing more can be received or sent.
    Closed,
    /// [`recv`](super::WebSocket::recv) on a connection configured with
    /// [`Config::with_receive_parts`](crate::Config::with_receive_parts):
    /// parts are received with [`recv_with`](super::WebSocket::recv_with).
    /// The connection is unchanged.
    PartsNeedRecvWith,
    /// The opening handshake was refused by the caller's decision with
    /// this HTTP status; the response was written.
    Rejected(u16),
}

impl Error {
    /// The close code that ended the connection because of this error: the
    /// code of our Close for a peer's protocol error (1002, 1007, 1009, ...)
    /// or keepalive timeout (1011), and 1006 for [`Error::Abnormal`].
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Self::Peer(e) => e.close_code(),
            Self::Abnormal => Some(CloseCode::ABNORMAL),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Peer(e) => e.fmt(f),
            Self::Abnormal => f.write_str("the connection ended without a Close (1006)"),
            Self::Io(e) => write!(f, "io error: {e}"),
            Self::Send(e) => write!(f, "cannot send: {e}"),
            Self::Closed => f.write_str("the connection is closed"),
            Self::PartsNeedRecvWith => f.write_str("messages in parts are received with recv_with"),
            Self::Rejected(status) => write!(f, "the request was rejected with {status}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Peer(e) => Some(e),
            Self::Io(e) => Some(e),
            Self::Send(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        Self::Send(e)
    }
}

impl From<crate::Error> for Error {
    fn from(e: crate::Error) -> Self {
        Self::Peer(e)
    }
}
