//! permessage-deflate on a connection (feature `deflate`): what was
//! negotiated, and the sending half's compressor. The receiving half's
//! inflater lives in the receiver (`recv.rs`). Returns values; never
//! changes the connection's state.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::deflate::{Deflater, Inflater};
use crate::handshake::extensions::{DeflateConfig, DeflateParams};

/// Bytes of compressed output kept between messages; a larger buffer,
/// grown by a large message, is freed after it.
const KEEP: usize = 4 << 10;

/// The sending side of a negotiated permessage-deflate.
#[derive(Debug)]
pub(super) struct Compression {
    pub(super) params: DeflateParams,
    /// `None` when outgoing messages are not compressed.
    deflater: Option<Deflater>,
    /// Messages shorter than this are sent plain.
    min_size: usize,
    /// The compressed payload being framed.
    scratch: Vec<u8>,
}

/// Both halves, built once the handshake settled the parameters.
pub(super) fn codec(
    params: DeflateParams,
    config: &DeflateConfig,
    is_server: bool,
) -> (Box<Compression>, Box<Inflater>) {
    let c = params.codec(is_server);
    let deflater = config.compress_outgoing.then(|| {
        Deflater::new(
            config.level,
            c.compress_window_bits,
            c.compress_no_context_takeover,
        )
    });
    let compression = Compression {
        params,
        deflater,
        min_size: config.min_compress_size,
        scratch: Vec::new(),
    };
    let inflater = Inflater::new(c.decompress_no_context_takeover);
    (Box::new(compression), Box::new(inflater))
}

impl Compression {
    /// Compresses a whole message of `len` bytes if the configuration says
    /// so; returns the payload to frame with RSV1, or `None`: send it plain.
    pub(super) fn message(&mut self, payload: &[u8]) -> Option<Result<&[u8], ()>> {
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

    /// Whether a fragmented message begun now is compressed.
    pub(super) fn compresses_fragments(&self) -> bool {
        self.deflater.is_some()
    }

    /// Compresses one fragment of a compressed message (`fin`: the last).
    pub(super) fn fragment(&mut self, payload: &[u8], fin: bool) -> Result<&[u8], ()> {
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
