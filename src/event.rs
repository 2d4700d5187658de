//! The data a connection hands to its caller and takes from it.

use crate::handshake::{Accepted, Request};
use crate::wire::close::CloseFrame;

/// Something that happened on the connection, returned by
/// [`Connection::poll_event`](crate::Connection::poll_event).
///
/// Events borrow the connection's receive buffers: answer through the
/// [`Sender`](crate::Sender) handed out beside the event, and copy what you
/// keep past the next poll.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Server: a valid upgrade request arrived. Answer it with
    /// [`Sender::accept`](crate::Sender::accept) or
    /// [`Sender::reject`](crate::Sender::reject).
    Request(Request<'a>),
    /// Client: the server accepted the upgrade; the connection is open.
    Accepted(Accepted<'a>),
    /// A whole text message, checked to be UTF-8.
    Text(&'a str),
    /// A whole binary message.
    Binary(&'a [u8]),
    /// With [`Config::receive_parts`](crate::Config::receive_parts): the
    /// next part of a text message, and whether it is the last. Parts are
    /// cut from what has arrived, never inside a code point; the
    /// concatenation of a message's parts is the message (checked UTF-8).
    TextPart(&'a str, bool),
    /// With [`Config::receive_parts`](crate::Config::receive_parts): the
    /// next part of a binary message, and whether it is the last.
    BinaryPart(&'a [u8], bool),
    /// A Ping. Its Pong is already queued unless
    /// [`Config::auto_pong`](crate::Config::auto_pong) is off or we are closing.
    Ping(&'a [u8]),
    /// A Pong.
    Pong(&'a [u8]),
    /// The closing handshake ended: the peer's code and reason, 1005
    /// ([`CloseCode::NO_STATUS`](crate::CloseCode::NO_STATUS)) if its Close
    /// had no code, or 1006 ([`CloseCode::ABNORMAL`](crate::CloseCode::ABNORMAL))
    /// if the transport ended without a Close. The reply to the peer's
    /// Close, if one was due, is already queued.
    Close(CloseFrame),
}

/// A message to send with [`Connection::send`](crate::Connection::send).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message<'a> {
    /// A text message (or, with `send_fragment`, one piece of it).
    Text(&'a str),
    /// A binary message (or one piece of it).
    Binary(&'a [u8]),
    /// A Ping with at most 125 bytes of payload.
    Ping(&'a [u8]),
    /// A Pong with at most 125 bytes of payload (unsolicited or a manual answer).
    Pong(&'a [u8]),
}
