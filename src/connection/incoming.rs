//! What the receive pipeline passes along, as values: the frame whose
//! payload is arriving (from the frame decoder to the message assembler),
//! and what a poll found (a message, a control frame, a part), as positions
//! into the receiver's buffers rather than borrows.

use core::ops::Range;

use crate::wire::frame::OpCode;

/// The frame whose payload is arriving.
#[derive(Clone, Copy, Debug)]
pub(super) struct InFrame {
    pub(super) opcode: OpCode,
    pub(super) fin: bool,
    pub(super) mask: Option<[u8; 4]>,
    /// Payload bytes not consumed yet.
    pub(super) len: usize,
    /// Of those, the bytes unmasked already (those that have arrived).
    pub(super) done: usize,
    /// Payload bytes consumed already (the mask's offset).
    pub(super) consumed: usize,
    /// A data frame of a text message.
    pub(super) text: bool,
    /// A data frame of a compressed message (RFC 7692): its payload goes
    /// through the inflater.
    pub(super) compressed: bool,
    /// A data frame that begins its message (Text or Binary).
    pub(super) first: bool,
}

impl InFrame {
    /// A data frame that is a whole message by itself, uncompressed, none
    /// of it consumed yet: once all here, it is handed out in place.
    #[inline]
    pub(super) fn whole_message(&self) -> bool {
        self.fin && self.first && !self.compressed && self.consumed == 0
    }
}

/// What the decoder found, as positions rather than borrows, so that the
/// borrow of the buffers is taken once, by the caller: something to hand
/// out as an event, or a Close for the connection to act on.
#[derive(Debug)]
pub(super) enum Found {
    /// A Close frame whose payload (not parsed yet) is at this range.
    Close(Range<usize>),
    /// A message in one frame, in place in the receive buffer (text not
    /// checked yet: its conversion to `&str` checks it, once).
    InPlace {
        text: bool,
        range: Range<usize>,
    },
    /// A text message in the assembler's `text`, checked as it arrived.
    Text,
    /// A binary message in the assembler's `message`.
    Binary,
    Ping(Range<usize>),
    Pong(Range<usize>),
    /// Parts mode: a part of a message, and whether it is the last (a
    /// text part is in the assembler's `text`).
    TextPart(bool),
    BinaryPart(At, bool),
}

/// Where a binary part's bytes are.
#[derive(Debug)]
pub(super) enum At {
    /// In place in the receive buffer.
    Buf(Range<usize>),
    /// In the assembler's `message`, inflated.
    Message,
}

/// What the assembler did with a data frame's payload.
#[derive(Debug)]
pub(super) enum Step {
    /// Something to hand out.
    Ready(Found),
    /// Nothing to hand out, nothing to wait for: go on (with the current
    /// frame if it is not over, else the next one).
    NextFrame,
    /// Wait for more bytes; what arrived was used.
    NeedMore,
    /// Wait for the rest of the frame, keeping what arrived in the buffer.
    Wait,
}
