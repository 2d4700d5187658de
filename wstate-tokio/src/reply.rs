//! [`Reply`]: where an event borrowed from the connection is answered,
//! for the unsplit stream and the reader half alike.

use wstate::{CloseCode, SendError, Sender};

/// Where a borrowed event is answered: the connection's [`Sender`] and its
/// output, handed beside the event to the closure of
/// [`WebSocket::next_event`](crate::WebSocket::next_event) (or
/// [`Reader::next_event`](crate::Reader::next_event)).
pub struct Reply<'a> {
    tx: Sender<'a>,
    out: &'a mut Vec<u8>,
}

impl<'a> Reply<'a> {
    pub(crate) fn new(tx: Sender<'a>, out: &'a mut Vec<u8>) -> Self {
        Self { tx, out }
    }

    /// Queues a message, which may borrow the event (an echo without a
    /// copy). Written before the next event is read.
    pub fn send(self, message: wstate::Message<'_>) -> Result<(), SendError> {
        self.tx.send(message, self.out)
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
