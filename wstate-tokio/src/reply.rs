//! [`Reply`]: where an event borrowed from the connection is answered,
//! for the unsplit stream and the reader half alike.

use wstate::{CloseCode, Message, SendError, Sender};

/// A payload at least this long, answered beside the event that holds
/// it, is written from the event's buffer rather than copied into the
/// output first: one vectored write takes what is queued, the frame
/// header and the payload, and only what the transport does not take is
/// copied. Shorter ones are copied, so that the answers to the events of
/// one read leave in one write.
const DIRECT_MIN: usize = 16 << 10;

/// The transport as an answer to an event sees it: a payload that lies in
/// the event's buffer is written from there (the driver implements it over
/// its transport, for the time of one poll).
pub(crate) trait WriteNow {
    /// Writes the output's unwritten bytes, then `payload`, as far as the
    /// transport takes them without waiting, and queues the rest of
    /// `payload` in `out`: the bytes leave in the same order either way.
    fn write(&mut self, out: &mut Vec<u8>, payload: &[u8]);
}

/// Where a borrowed event is answered: the connection's [`Sender`] and its
/// output, handed beside the event to the closure of
/// [`WebSocket::next_event`](crate::WebSocket::next_event) (or
/// [`Reader::next_event`](crate::Reader::next_event)).
pub struct Reply<'a> {
    tx: Sender<'a>,
    out: &'a mut Vec<u8>,
    /// The transport, where a large payload may be written at once: a
    /// server's, without compression, over a transport that takes
    /// vectored writes.
    now: Option<&'a mut dyn WriteNow>,
}

impl<'a> Reply<'a> {
    pub(crate) fn new(
        tx: Sender<'a>,
        out: &'a mut Vec<u8>,
        now: Option<&'a mut dyn WriteNow>,
    ) -> Self {
        Self { tx, out, now }
    }

    /// Queues a message, which may borrow the event (an echo without a
    /// copy). Written before the next event is read; a large one may be
    /// written at once, from where it lies.
    #[inline]
    pub fn send(self, message: Message<'_>) -> Result<(), SendError> {
        let payload = match message {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(bytes) => bytes,
            _ => &[],
        };
        match self.now {
            Some(now) if payload.len() >= DIRECT_MIN => {
                self.tx.send_header(message, self.out)?;
                now.write(self.out, payload);
                Ok(())
            }
            _ => self.tx.send(message, self.out),
        }
    }

    /// Starts the closing handshake.
    pub fn close(self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.tx.close(code, reason, self.out)
    }

    /// The sender and the output, for everything else the core's
    /// [`Sender`] does (a message in parts, say). What it appends to the
    /// output is written in order with the rest.
    pub fn into_parts(self) -> (Sender<'a>, &'a mut Vec<u8>) {
        (self.tx, self.out)
    }
}
