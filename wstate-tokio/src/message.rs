//! Owned messages: what [`WebSocket::recv`](crate::WebSocket::recv) hands
//! out and [`WebSocket::send`](crate::WebSocket::send) takes.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::str::Utf8Error;
use std::sync::Arc;

use bytes::Bytes;
use wstate::CloseFrame;

/// A UTF-8 string, cheap to clone and to turn into [`Bytes`] (for a
/// broadcast, say), checked to be UTF-8 once, when it was made:
/// [`as_str`](Self::as_str) checks nothing.
///
/// ```
/// use wstate_tokio::Utf8Bytes;
/// let text = Utf8Bytes::from("héllo");
/// assert_eq!(text.as_str(), "héllo");
/// assert_eq!(text.len(), 6);
/// assert_eq!(text.clone().into_bytes(), "héllo".as_bytes());
/// assert!(Utf8Bytes::try_from(bytes::Bytes::from_static(b"\xff")).is_err());
/// ```
#[derive(Clone)]
pub struct Utf8Bytes(Text);

/// Where the text lives. Only a type that is UTF-8 by construction (`str`,
/// `String`) hands out a `&str` without a check, and the crate has no
/// `unsafe`: a `Bytes` proven UTF-8 once would still be checked at every
/// `as_str`. So the text is kept as a string, shared behind an `Arc`, and
/// becomes `Bytes` without a copy ([`Bytes::from_owner`]).
#[derive(Clone)]
enum Text {
    /// A `'static` string: no allocation.
    Static(&'static str),
    /// Copied once, from a received message or a `&str`: one allocation
    /// for the count and the text, as a copy into `Bytes` would take.
    Shared(Arc<str>),
    /// A `String` handed over as it is: its text is not copied.
    Owned(Arc<String>),
}

/// The text as the owner of a `Bytes`.
struct Owner(Text);

impl AsRef<[u8]> for Owner {
    fn as_ref(&self) -> &[u8] {
        Utf8Bytes::str_of(&self.0).as_bytes()
    }
}

impl Utf8Bytes {
    /// A string from a `'static` one, without a copy.
    pub const fn from_static(text: &'static str) -> Self {
        Self(Text::Static(text))
    }

    /// The text: no check and no copy.
    pub fn as_str(&self) -> &str {
        Self::str_of(&self.0)
    }

    fn str_of(text: &Text) -> &str {
        match text {
            Text::Static(text) => text,
            Text::Shared(text) => text,
            Text::Owned(text) => text,
        }
    }

    /// The bytes of the text.
    pub fn as_bytes(&self) -> &[u8] {
        self.as_str().as_bytes()
    }

    /// The text as `Bytes`, without a copy: a `'static` string or a
    /// `String` held by nobody else becomes its buffer, and a shared text
    /// the owner of one.
    pub fn into_bytes(self) -> Bytes {
        match self.0 {
            Text::Static(text) => Bytes::from_static(text.as_bytes()),
            Text::Owned(text) => match Arc::try_unwrap(text) {
                Ok(text) => Bytes::from(text),
                Err(shared) => Bytes::from_owner(Owner(Text::Owned(shared))),
            },
            shared @ Text::Shared(_) => Bytes::from_owner(Owner(shared)),
        }
    }
}

impl Default for Utf8Bytes {
    fn default() -> Self {
        Self::from_static("")
    }
}

impl PartialEq for Utf8Bytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Utf8Bytes {}

impl Hash for Utf8Bytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
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
        Self(Text::Shared(Arc::from(text)))
    }
}

impl From<String> for Utf8Bytes {
    fn from(text: String) -> Self {
        Self(Text::Owned(Arc::new(text)))
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
    type Error = Utf8Error;
    /// Checks the bytes once. `Bytes` held by nobody else become the
    /// string's buffer; shared ones are copied.
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        match bytes.try_into_mut() {
            Ok(unique) => match String::from_utf8(Vec::from(unique)) {
                Ok(text) => Ok(Self::from(text)),
                Err(e) => Err(e.utf8_error()),
            },
            Err(shared) => Ok(Self::from(std::str::from_utf8(&shared)?)),
        }
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
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

#[cfg(test)]
mod tests {
    use std::collections::hash_map::DefaultHasher;
    use std::hash::{Hash, Hasher};

    use bytes::Bytes;

    use super::Utf8Bytes;

    fn hash(text: &Utf8Bytes) -> u64 {
        let mut hasher = DefaultHasher::new();
        text.hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn every_form_is_the_same_text() {
        let forms = [
            Utf8Bytes::from_static("héllo"),
            Utf8Bytes::from("héllo"),
            Utf8Bytes::from(String::from("héllo")),
            Utf8Bytes::try_from(Bytes::from("héllo".as_bytes().to_vec())).unwrap(),
            Utf8Bytes::try_from(Bytes::from_static("héllo".as_bytes())).unwrap(),
        ];
        for text in &forms {
            assert_eq!(text, &forms[0]);
            assert_eq!(hash(text), hash(&forms[0]));
            assert_eq!(text.as_str(), "héllo");
            assert_eq!(text.clone().into_bytes(), "héllo".as_bytes());
        }
        assert_eq!(Utf8Bytes::default(), "");
    }

    #[test]
    fn strings_and_bytes_change_hands_without_a_copy() {
        // A String handed over, then out as Bytes: the same buffer.
        let text = String::from("a string of its own");
        let at = text.as_ptr();
        let owned = Utf8Bytes::from(text);
        assert_eq!(owned.as_str().as_ptr(), at);
        assert_eq!(owned.clone().into_bytes().as_ptr(), at);
        assert_eq!(owned.into_bytes().as_ptr(), at);
        // A copied text, out as Bytes (shared or not): the same buffer.
        let shared = Utf8Bytes::from("copied once");
        let at = shared.as_str().as_ptr();
        assert_eq!(shared.clone().into_bytes().as_ptr(), at);
        assert_eq!(shared.into_bytes().as_ptr(), at);
        // Bytes held by nobody else become the string's buffer.
        let bytes = Bytes::from(b"unique bytes".to_vec());
        let at = bytes.as_ptr();
        assert_eq!(Utf8Bytes::try_from(bytes).unwrap().as_str().as_ptr(), at);
        const STATIC: &str = "static";
        let static_text = Utf8Bytes::from_static(STATIC);
        assert_eq!(static_text.into_bytes().as_ptr(), STATIC.as_ptr());
    }

    #[test]
    fn invalid_utf8_is_refused_shared_or_not() {
        let unique = Utf8Bytes::try_from(Bytes::from(b"ok\xff".to_vec()));
        assert_eq!(unique.unwrap_err().valid_up_to(), 2);
        let shared = Bytes::from_static(b"ok\xc3");
        assert_eq!(Utf8Bytes::try_from(shared).unwrap_err().valid_up_to(), 2);
    }
}
