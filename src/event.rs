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
    /// next part of a text message. Parts are cut from what has arrived,
    /// never inside a code point; the concatenation of a message's parts is
    /// the message (checked UTF-8).
    TextPart {
        /// The part's text.
        part: &'a str,
        /// It is the message's last part.
        last: bool,
    },
    /// With [`Config::receive_parts`](crate::Config::receive_parts): the
    /// next part of a binary message.
    BinaryPart {
        /// The part's bytes.
        part: &'a [u8],
        /// It is the message's last part.
        last: bool,
    },
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

/// A message to send with [`Sender::send`](crate::Sender::send).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message<'a> {
    /// A text message (or, with [`Sender::send_part`](crate::Sender::send_part), one part of it).
    Text(&'a str),
    /// A binary message (or one part of it).
    Binary(&'a [u8]),
    /// A Ping with at most 125 bytes of payload.
    Ping(&'a [u8]),
    /// A Pong with at most 125 bytes of payload (unsolicited or a manual answer).
    Pong(&'a [u8]),
}

/// Whether a data message is Text or Binary, where the payload is not a
/// [`Message`] (see [`Sender::send_in_place`](crate::Sender::send_in_place)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// A Text message: its payload must be UTF-8.
    Text,
    /// A Binary message.
    Binary,
}
