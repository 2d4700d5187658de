//! Owned messages: what [`WebSocket::recv`](crate::WebSocket::recv) hands
//! out and [`WebSocket::send`](crate::WebSocket::send) takes.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;
use wstate::CloseFrame;

/// A UTF-8 string backed by [`Bytes`]: cheap to clone and to turn into
/// `Bytes` (for a broadcast, say), checked to be UTF-8 when it was made.
///
/// ```
/// use wstate_tokio::Utf8Bytes;
/// let text = Utf8Bytes::from("héllo");
/// assert_eq!(text.as_str(), "héllo");
/// assert_eq!(text.len(), 6);
/// assert!(Utf8Bytes::try_from(bytes::Bytes::from_static(b"\xff")).is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// A string from a `'static` one, without a copy.
    pub const fn from_static(text: &'static str) -> Self {
        Self(Bytes::from_static(text.as_bytes()))
    }

    /// The text. The bytes were checked when this value was made; the
    /// crate has no `unsafe`, so this checks them again (at memory speed:
    /// ASCII is checked a word at a time).
    pub fn as_str(&self) -> &str {
        // Never fails: every constructor checked the bytes.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The bytes of the text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying `Bytes`.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Utf8Bytes {
    fn from(text: &str) -> Self {
        Self(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl From<String> for Utf8Bytes {
    fn from(text: String) -> Self {
        Self(Bytes::from(text))
    }
}

impl From<&'static str> for Message {
    fn from(text: &'static str) -> Self {
        Self::Text(Utf8Bytes::from_static(text))
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Self::Text(text.into())
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = std::str::Utf8Error;
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Self(bytes))
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

/// A whole message, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// A text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A part of a text message: received with
    /// [`Config::with_receive_parts`](wstate::Config::with_receive_parts)
    /// as the message arrives (never split inside a code point; the parts
    /// joined are the message), or sent to stream a message out in parts
    /// (one frame each; `last` ends it, and a whole message may not go
    /// between them).
    TextPart {
        /// The part's text.
        part: Utf8Bytes,
        /// It is the message's last part.
        last: bool,
    },
    /// A part of a binary message, as [`TextPart`](Self::TextPart) is of a
    /// text message.
    BinaryPart {
        /// The part's bytes.
        part: Bytes,
        /// It is the message's last part.
        last: bool,
    },
    /// A Ping (at most 125 bytes). A received Ping was answered already.
    Ping(Bytes),
    /// A Pong (at most 125 bytes).
    Pong(Bytes),
    /// Received: the closing handshake ended, with the peer's code and
    /// reason (1005 if its Close had no code, 1006 if the transport ended
    /// without a Close). Sent: starts the closing handshake, with 1000 for
    /// `None`.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::Text(text.into())
    }

    /// A binary message.
    pub fn binary(bytes: impl Into<Bytes>) -> Self {
        Self::Binary(bytes.into())
    }

    /// An owned copy of a message event, or `None` for the events that are
    /// not messages.
    pub(crate) fn from_event(event: wstate::Event<'_>) -> Option<Self> {
        use wstate::Event;
        Some(match event {
            Event::Text(text) => Self::Text(text.into()),
            Event::Binary(bytes) => Self::Binary(Bytes::copy_from_slice(bytes)),
            Event::TextPart { part, last } => Self::TextPart {
                part: part.into(),
                last,
            },
            Event::BinaryPart { part, last } => Self::BinaryPart {
                part: Bytes::copy_from_slice(part),
                last,
            },
            Event::Ping(bytes) => Self::Ping(Bytes::copy_from_slice(bytes)),
            Event::Pong(bytes) => Self::Pong(Bytes::copy_from_slice(bytes)),
            Event::Close(frame) => Self::Close(Some(frame)),
            _ => return None,
        })
    }
}
