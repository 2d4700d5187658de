//! [`ProtocolError`]: how the peer's bytes broke RFC 6455. Its close code
//! is given by [`ProtocolError::close_code`], defined beside the close codes
//! in [`close`](super::close) so that this file imports nothing.

use core::fmt;

/// The peer violated the protocol. The connection has failed and the Close
/// frame with [`close_code`](Self::close_code) is already in the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame used opcode 3-7 or 11-15.
    ReservedOpCode(u8),
    /// RSV1-3 set without an extension that defines them.
    ReservedBits,
    /// A control frame without FIN.
    FragmentedControlFrame,
    /// A control frame with more than 125 bytes of payload.
    ControlFrameTooLong,
    /// A 64-bit payload length with the most significant bit set.
    InvalidLength,
    /// A payload length not in its shortest encoding.
    NonMinimalLength,
    /// A continuation frame with no fragmented message to continue.
    UnexpectedContinuation,
    /// A new Text or Binary frame while a fragmented message was unfinished.
    ExpectedContinuation,
    /// A client sent an unmasked frame.
    UnmaskedFrame,
    /// A server sent a masked frame.
    MaskedFrame,
    /// A text message or close reason that is not UTF-8.
    InvalidUtf8,
    /// A Close frame with a 1-byte payload.
    InvalidClosePayload,
    /// A Close frame with a code that may not be sent on the wire.
    InvalidCloseCode(u16),
    /// A frame longer than [`Config::max_frame_size`](crate::Config::max_frame_size).
    FrameTooLarge,
    /// A message longer than [`Config::max_message_size`](crate::Config::max_message_size).
    MessageTooLarge,
    /// More frames in one message than [`Config::max_fragments`](crate::Config::max_fragments).
    TooManyFragments,
    /// A compressed message (permessage-deflate) that is not a valid
    /// DEFLATE stream.
    InvalidCompressedData,
}

impl ProtocolError {
    /// A short description, also used as the reason of the Close frame.
    pub const fn description(self) -> &'static str {
        match self {
            Self::ReservedOpCode(_) => "reserved opcode",
            Self::ReservedBits => "reserved bits set",
            Self::FragmentedControlFrame => "fragmented control frame",
            Self::ControlFrameTooLong => "control frame too long",
            Self::InvalidLength => "invalid payload length",
            Self::NonMinimalLength => "payload length not minimally encoded",
            Self::UnexpectedContinuation => "continuation without a message",
            Self::ExpectedContinuation => "new message inside a fragmented message",
            Self::UnmaskedFrame => "unmasked client frame",
            Self::MaskedFrame => "masked server frame",
            Self::InvalidUtf8 => "invalid UTF-8",
            Self::InvalidClosePayload => "invalid close payload",
            Self::InvalidCloseCode(_) => "invalid close code",
            Self::FrameTooLarge => "frame too large",
            Self::MessageTooLarge => "message too large",
            Self::TooManyFragments => "too many fragments",
            Self::InvalidCompressedData => "invalid compressed data",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedOpCode(op) => write!(f, "reserved opcode {op:#x}"),
            Self::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            other => f.write_str(other.description()),
        }
    }
}

impl core::error::Error for ProtocolError {}
