//! permessage-deflate (RFC 7692) behind one seam. The connection and the
//! handshake see only what this module exports:
//!
//! * `params.rs`: what a negotiation settled ([`DeflateParams`]), and what
//!   it means for each side's codec;
//! * `compress.rs`: the framing glue, the sending half's [`Compression`]
//!   (whole messages and parts, the `min_compress_size` threshold);
//! * `zlib.rs`: the codec over zlib-rs, [`Deflater`] and [`Inflater`], with
//!   feature `deflate`; without it, `off.rs` stands in with types that
//!   have no values, so the connection's compression paths compile and are
//!   never taken (nothing is negotiated: `Config::deflate` is `None`).
//!
//! This file is where the feature is decided; nothing else in the crate
//! names it but the configuration's switch.

mod compress;
mod params;
#[cfg(feature = "deflate")]
mod zlib;
#[cfg(not(feature = "deflate"))]
#[path = "off.rs"]
mod zlib;

pub(crate) use compress::{Compression, Plan, codec, compress_once};
#[cfg(test)]
pub(crate) use params::Codec;
pub use params::{DeflateParams, PERMESSAGE_DEFLATE};
use zlib::{Deflater, deflater, hold, inflater};
pub(crate) use zlib::{Held, Inflater};

use crate::wire::ProtocolError;

/// zlib could not compress (an internal zlib error; it does not happen with
/// the parameters this module uses). The connection fails with 1011.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CompressError;

/// Why a compressed message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "deflate"), allow(dead_code))] // only zlib.rs makes them
pub(crate) enum InflateError {
    /// Not a valid DEFLATE stream.
    Corrupt,
    /// The message inflates to more than the limit.
    TooLarge,
}

/// The peer error that fails the connection: a corrupt stream closes with
/// 1007 (data "not consistent with the type of the message", RFC 6455
/// §7.4.1; node ws also uses 1007 for inflate errors), a message over the
/// limit with 1009.
impl From<InflateError> for ProtocolError {
    fn from(e: InflateError) -> Self {
        match e {
            InflateError::Corrupt => ProtocolError::InvalidCompressedData,
            InflateError::TooLarge => ProtocolError::MessageTooLarge,
        }
    }
}

/// What one [`Inflater::inflate_part`] call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Bytes of the input used; the caller passes the rest again.
    pub(crate) consumed: usize,
    /// Bytes appended to `out`.
    pub(crate) produced: usize,
    /// The message is complete (only with `fin`): all its input was used and
    /// all its output produced; the next call starts a new message.
    pub(crate) done: bool,
}
