//! The ground floor: the allocation-free wire pieces of RFC 6455. Nothing
//! here keeps state between calls except the UTF-8 validator, and nothing
//! allocates, so these are usable on their own, e.g. to parse frames
//! offline.
//!
//! * [`frame`]: opcodes and frame headers, parsed and encoded.
//! * [`mask`]: the XOR masking of payloads.
//! * [`close`]: close codes and the Close frame payload.
//! * [`utf8`]: an incremental UTF-8 validator that fails at the first bad byte.
//! * [`ProtocolError`]: what a peer's bytes can violate.

pub mod close;
mod error;
pub mod frame;
pub mod mask;
pub mod utf8;

pub use error::ProtocolError;
