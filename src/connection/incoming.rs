//! What the receive pipeline passes along, as values: the frame whose
//! payload is arriving (from the frame decoder to the message assembler),
//! and what a poll found (a message, a control frame, a part), as positions
//! into the receiver's buffers rather than borrows.

use core::ops::Range;

use crate::wire::close::CloseFrame;
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

/// What a poll found, as positions rather than borrows so that the borrow
/// of the buffers is taken once, by the caller.
#[derive(Debug)]
pub(super) enum Ready {
    Text(At),
    Binary(At),
    Ping(Range<usize>),
    Pong(Range<usize>),
    Close(CloseFrame),
    /// Parts mode: a part of a message, and whether it is the last.
    TextPart(At, bool),
    BinaryPart(At, bool),
}

/// Where a message's or a part's bytes are.
#[derive(Debug)]
pub(super) enum At {
    /// In place in the receive buffer (a whole frame, or a binary part):
    /// relative to the payload the assembler was given until the decoder
    /// places it.
    Buf(Range<usize>),
    /// In the assembler's `message`: binary, reassembled or inflated.
    Message,
    /// In the assembler's `text`: checked as it arrived.
    Text,
}

/// What the assembler did with a data frame's payload.
#[derive(Debug)]
pub(super) enum Step {
    /// Something to hand out.
    Ready(Ready),
    /// Nothing to hand out, nothing to wait for: go on (with the current
    /// frame if it is not over, else the next one).
    NextFrame,
    /// Wait for more bytes; what arrived was used.
    NeedMore,
    /// Wait for the rest of the frame, keeping what arrived in the buffer.
    Wait,
}

impl Ready {
    /// The same, with a position in the buffer moved by `base`.
    #[inline]
    pub(super) fn at(self, base: usize) -> Self {
        let at = |at| match at {
            At::Buf(range) => At::Buf(range.start + base..range.end + base),
            at => at,
        };
        match self {
            Self::Text(a) => Self::Text(at(a)),
            Self::Binary(a) => Self::Binary(at(a)),
            Self::TextPart(a, last) => Self::TextPart(at(a), last),
            Self::BinaryPart(a, last) => Self::BinaryPart(at(a), last),
            other => other,
        }
    }
}
