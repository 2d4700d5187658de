//! What the receive path finds, as values: the frame whose payload is
//! arriving, and what a call hands back (a message, a control frame, a
//! part), as positions into the receiver's buffers rather than borrows.
//! Both readers use them: whole messages (`recv.rs`) and parts
//! (`parts.rs`).

use core::ops::Range;

use crate::wire::close::CloseFrame;
use crate::wire::frame::OpCode;

/// The frame whose payload is arriving.
#[derive(Clone, Copy, Debug)]
pub(super) struct InFrame {
    pub(super) opcode: OpCode,
    pub(super) fin: bool,
    pub(super) mask: Option<[u8; 4]>,
    /// Payload bytes not consumed yet (all of them, but in parts mode).
    pub(super) len: usize,
    /// Payload bytes already unmasked (and UTF-8 checked, for text).
    pub(super) done: usize,
    /// The payload is text whose UTF-8 must be checked as it arrives.
    pub(super) text: bool,
    /// The frame belongs to a compressed message (RFC 7692): its payload
    /// goes through the inflater.
    pub(super) compressed: bool,
    /// Parts mode: payload bytes handed out already (the mask's offset).
    pub(super) consumed: usize,
}

/// What the receive path found, as positions rather than borrows so that
/// the borrow of the buffers is taken once, by the caller.
#[derive(Debug)]
pub(super) enum Ready {
    Text(Payload),
    Binary(Payload),
    Ping(Range<usize>),
    Pong(Range<usize>),
    Close(CloseFrame),
    /// Parts mode: a part of a message, and whether it is the last.
    TextPart(PartAt, bool),
    BinaryPart(PartAt, bool),
}

/// Where a part's bytes are.
#[derive(Debug)]
pub(super) enum PartAt {
    /// In place in `buf[range]`.
    Buf(Range<usize>),
    /// In `carry`: a code point split across frames.
    Carry,
    /// In `message[range]`: inflated.
    Message(Range<usize>),
}

/// Where a message's bytes are.
#[derive(Debug)]
pub(super) enum Payload {
    /// A single-frame message, in place in `buf[range]`.
    InPlace(Range<usize>),
    /// A reassembled message, in `message`.
    Reassembled,
    /// A text message that did not arrive in one piece: its characters were
    /// checked and copied into `text` as they came, so they are checked
    /// once (a `&str` over the buffer would need a second pass).
    Text,
}

/// What one step of the parts reader found.
pub(super) enum Step {
    /// A part to hand out.
    Ready(Ready),
    /// No part yet, nothing to wait for: go on (with the current frame if
    /// it is kept, else the next one).
    NextFrame,
    /// Wait for more bytes.
    NeedMore,
}

/// Frames whose payload the parts reader hands out.
pub(super) fn is_data(opcode: OpCode) -> bool {
    matches!(opcode, OpCode::Text | OpCode::Binary | OpCode::Continuation)
}
