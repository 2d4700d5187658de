//! permessage-deflate on a connection: what was negotiated, and the
//! sending half's compressor. The receiving half's inflater lives in the
//! receiver (`connection/recv.rs`). Returns values; never changes the
//! connection's state.

use alloc::vec::Vec;

use super::{DeflateParams, Deflater, Held, Inflater, deflater, hold, inflater};
use crate::config::{DeflateConfig, Release};

/// Bytes of compressed output kept between messages; a larger buffer,
/// grown by a large message, is freed after it.
const KEEP: usize = 4 << 10;

/// The sending side of a negotiated permessage-deflate.
#[derive(Debug)]
pub(crate) struct Compression {
    pub(crate) params: DeflateParams,
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
        deflater,
        min_size: config.min_compress_size,
        scratch: Vec::new(),
        release: config.release,
    };
    Some((hold(compression)?, hold(inflater)?))
}

impl Compression {
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
