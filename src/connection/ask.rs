//! Asking a [`Connection`]: what the answers of
//! [`poll_event`](Connection::poll_event) are ([`Polled`]), the public view
//! of its state, and the getters, which change nothing.

use super::{Connection, Sender, State};
use crate::config::Config;
use crate::deflate::DeflateParams;
use crate::error::Error;
use crate::event::Event;
use crate::wire::close::CloseFrame;

/// The public view of a connection's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// The opening handshake is in progress.
    Connecting,
    /// Messages flow both ways.
    Open,
    /// We sent a Close and wait for the peer's.
    Closing,
    /// The closing handshake finished, the transport ended, or the
    /// connection failed. Nothing more is sent or received.
    Closed,
}

/// What [`Connection::poll_event`] found.
///
/// Match all four: `NeedMore` and `Done` are different answers, so a loop
/// cannot mistake the end of the connection for a pause; and a failure is
/// an answer like the others, not an `Err` that a `?` would carry away
/// before the bytes that answer it were written.
#[must_use]
#[derive(Debug)]
pub enum Polled<'a> {
    /// Something happened. The event borrows only the connection's receive
    /// buffers; the [`Sender`] beside it sends, closes, accepts or rejects
    /// while the event is still held (echo without copying).
    Event(Event<'a>, Sender<'a>),
    /// The connection failed: the peer broke the protocol, a deadline
    /// passed, or the opening handshake was refused. What answers it (a
    /// Close with the error's code, or during the handshake an HTTP error
    /// response) is already in `out`: keep polling, which says `Done`, and
    /// write `out` out before closing the transport.
    Failed(Error),
    /// Nothing more can happen until more bytes arrive (or, for a pending
    /// [`Event::Request`], until it is accepted or rejected): read from the
    /// transport, then poll again.
    NeedMore,
    /// The connection is finished: write out what is queued in `out`, then
    /// close the transport and drop the connection. Every later poll says
    /// `Done` again.
    Done,
}

impl Connection {
    /// Whether this is the client end.
    pub fn is_client(&self) -> bool {
        self.core.is_client()
    }

    /// The connection's configuration.
    pub fn config(&self) -> &Config {
        &self.core.config
    }

    /// The phase of the connection.
    pub fn state(&self) -> ConnectionState {
        match self.core.state {
            State::ReadingRequest { .. }
            | State::RequestReceived { .. }
            | State::RequestOverrun
            | State::ReadingResponse(_)
            | State::ReadingRejection(_) => ConnectionState::Connecting,
            State::Open => ConnectionState::Open,
            State::CloseSent => ConnectionState::Closing,
            State::Closed | State::Failed | State::Expired(_) => ConnectionState::Closed,
        }
    }

    /// The Close we sent (by [`Sender::close`], as the reply to the
    /// peer's Close, or when failing the connection), if any.
    pub fn sent_close(&self) -> Option<&CloseFrame> {
        self.core.sent_close.as_deref()
    }

    /// The Close we received: the peer's code and reason, 1005 if its Close
    /// had none, or 1006 if the transport ended without one.
    pub fn received_close(&self) -> Option<&CloseFrame> {
        self.core.received_close.as_deref()
    }

    /// The permessage-deflate parameters in use (feature `deflate`), once
    /// the handshake negotiated them.
    pub fn deflate(&self) -> Option<&DeflateParams> {
        self.core.compression.as_ref().map(|c| &c.params)
    }

    /// Bytes received and not handed out yet: the rest of a read whose
    /// first events were polled, or a frame still arriving. An IO loop
    /// batches its writes with it: while it is not zero after an event, the
    /// next poll may hand out another event of the same read, whose answer
    /// can leave in the same write.
    pub fn unread_input(&self) -> usize {
        self.rx.unread()
    }

    /// The connection's [`Sender`], to command it when no event is held:
    /// send, close, accept or reject (beside an event, use the one
    /// [`poll_event`](Self::poll_event) hands out).
    #[inline]
    pub fn sender(&mut self) -> Sender<'_> {
        Sender::new(&mut self.core, self.rx.kept())
    }
}
