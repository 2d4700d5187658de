//! permessage-deflate on a connection: what was negotiated, and the
//! sending half's compressor. The receiving half's inflater lives in the
//! receiver (`connection/recv.rs`). Returns values; never changes the
//! connection's state.

use alloc::vec::Vec;

use super::params::Codec;
use super::{DeflateParams, Deflater, Held, Inflater, deflater, hold, inflater};
use crate::config::{DeflateConfig, Release};

/// Bytes of compressed output kept between messages; a larger buffer,
/// grown by a large message, is freed after it.
const KEEP: usize = 4 << 10;

/// The sending side of a negotiated permessage-deflate.
#[derive(Debug)]
pub(crate) struct Compression {
    pub(crate) params: DeflateParams,
    /// What the parameters mean for our side.
    codec: Codec,
    /// `None` when outgoing messages are not compressed.
    deflater: Option<Deflater>,
    /// Messages shorter than this are sent plain.
    min_size: usize,
    /// The compressed payload being framed.
    scratch: Vec<u8>,
    release: Release,
}

/// Both halves, built once the handshake settled the parameters; `None`
/// in a build without a codec (feature `deflate` off), where nothing is
/// ever negotiated.
pub(crate) fn codec(
    params: DeflateParams,
    config: &DeflateConfig,
    is_server: bool,
) -> Option<(Held<Compression>, Held<Inflater>)> {
    let c = params.codec(is_server);
    let inflater = inflater(
        c.decompress_no_context_takeover,
        c.decompress_window_bits,
        config.release,
    )?;
    let deflater = if config.compress_outgoing {
        Some(deflater(
            config.level,
            c.compress_window_bits,
            c.compress_no_context_takeover,
            config.release,
        )?)
    } else {
        None
    };
    let compression = Compression {
        params,
        codec: c,
        deflater,
        min_size: config.min_compress_size,
        scratch: Vec::new(),
        release: config.release,
    };
    Some((hold(compression)?, hold(inflater)?))
}

/// How a connection sends a prepared message (see [`Compression::plan`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Uncompressed: its frame is shared by every connection.
    Plain,
    /// The payload compressed once is valid here: shared.
    Shared,
    /// This connection compresses it itself (its own history).
    Own,
}

/// A whole message's payload compressed on its own, from an empty window,
/// at `level` with `window_bits` (8-15; 8 compresses at 9): what any
/// connection whose compressor starts each message afresh, with a window
/// at least as large, would send. `None` in a build without a codec, or
/// if zlib failed.
pub(crate) fn compress_once(payload: &[u8], level: u8, window_bits: u8) -> Option<Vec<u8>> {
    let mut d = deflater(level, window_bits, true, Release::Never)?;
    let mut out = Vec::new();
    d.compress(payload, &mut out).ok()?;
    Some(out)
}

impl Compression {
    /// Whether a prepared message of `len` bytes, compressed once with
    /// `window_bits` (if it was), may be sent as it is on this connection.
    ///
    /// * Messages this connection sends plain (under
    ///   `min_compress_size`, or `compress_outgoing` off) share the plain
    ///   frame.
    /// * The compressed payload is shared when our side negotiated
    ///   no_context_takeover (RFC 7692 §7.1.1: each message starts from an
    ///   empty window, so the payload depends on nothing of this
    ///   connection) and a window at least as large as it was compressed
    ///   with (its back-references stay within the peer's window,
    ///   §7.1.2).
    /// * Otherwise (our context takeover: the peer's window holds our
    ///   previous messages, and our compressor must see this one to refer
    ///   to it later) the connection compresses it itself.
    pub(crate) fn plan(&self, len: usize, window_bits: Option<u8>) -> Plan {
        if len < self.min_size || self.deflater.is_none() {
            return Plan::Plain;
        }
        let fits = window_bits
            .is_some_and(|w| w.clamp(9, 15) <= self.codec.compress_window_bits.clamp(9, 15));
        if self.codec.compress_no_context_takeover && fits {
            Plan::Shared
        } else {
            Plan::Own
        }
    }

    /// Compresses a whole message of `len` bytes if the configuration says
    /// so; returns the payload to frame with RSV1, or `None`: send it plain.
    pub(crate) fn message(&mut self, payload: &[u8]) -> Option<Result<&[u8], ()>> {
        if payload.len() < self.min_size {
            return None;
        }
        let deflater = self.deflater.as_mut()?;
        self.scratch.clear();
        if self.scratch.capacity() > KEEP.max(payload.len()) {
            self.scratch = Vec::new();
        }
        Some(match deflater.compress(payload, &mut self.scratch) {
            Ok(()) => Ok(&self.scratch),
            Err(_) => Err(()),
        })
    }

    /// Gives back the compressor's zlib state and the scratch buffer
    /// between messages, as [`Release`] allows.
    pub(crate) fn release(&mut self) {
        if let Some(deflater) = self.deflater.as_mut() {
            deflater.release();
        }
        self.scratch = Vec::new();
    }

    /// A compressed message (or its last part) was framed: with
    /// [`Release::AfterMessage`] the scratch buffer goes too.
    pub(crate) fn sent(&mut self) {
        if self.release == Release::AfterMessage {
            self.scratch = Vec::new();
        }
    }

    /// Whether a fragmented message begun now is compressed.
    pub(crate) fn compresses_fragments(&self) -> bool {
        self.deflater.is_some()
    }

    /// Compresses one fragment of a compressed message (`fin`: the last).
    pub(crate) fn fragment(&mut self, payload: &[u8], fin: bool) -> Result<&[u8], ()> {
        let Some(deflater) = self.deflater.as_mut() else {
            return Err(());
        };
        self.scratch.clear();
        match deflater.compress_part(payload, fin, &mut self.scratch) {
            Ok(()) => Ok(&self.scratch),
            Err(_) => Err(()),
        }
    }
}
