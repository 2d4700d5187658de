//! What a permessage-deflate negotiation settled (RFC 7692 §7): the
//! parameters as the server's response states them, and what they mean for
//! one side's compressor and decompressor. Plain data: the negotiation
//! itself (offers, answers, their checks) is in `handshake::extensions`.

use core::fmt;

/// The extension name (RFC 7692 §6).
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// A negotiated permessage-deflate configuration, as it appears in the
/// server's response. `None` window bits are absent (15).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateParams {
    /// `server_max_window_bits=N` in the response.
    pub server_max_window_bits: Option<u8>,
    /// `client_max_window_bits=N` in the response.
    pub client_max_window_bits: Option<u8>,
    /// The server compresses each message from an empty window.
    pub server_no_context_takeover: bool,
    /// The client compresses each message from an empty window.
    pub client_no_context_takeover: bool,
}

/// How one side compresses and decompresses under [`DeflateParams`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Codec {
    /// Window bits for our compressor (8 means "compress at 9", safe).
    pub(crate) compress_window_bits: u8,
    /// Reset our compressor after each message.
    pub(crate) compress_no_context_takeover: bool,
    /// Window bits the peer compresses with (our decompressor takes any).
    pub(crate) decompress_window_bits: u8,
    /// The peer resets after each message: so may our decompressor.
    pub(crate) decompress_no_context_takeover: bool,
}

impl DeflateParams {
    /// Our side's compressor and decompressor settings.
    pub(crate) fn codec(&self, is_server: bool) -> Codec {
        let server = (
            self.server_max_window_bits.unwrap_or(15),
            self.server_no_context_takeover,
        );
        let client = (
            self.client_max_window_bits.unwrap_or(15),
            self.client_no_context_takeover,
        );
        let (ours, theirs) = if is_server {
            (server, client)
        } else {
            (client, server)
        };
        Codec {
            compress_window_bits: ours.0,
            compress_no_context_takeover: ours.1,
            decompress_window_bits: theirs.0,
            decompress_no_context_takeover: theirs.1,
        }
    }
}

/// The response's `Sec-WebSocket-Extensions` value.
impl fmt::Display for DeflateParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PERMESSAGE_DEFLATE)?;
        if self.server_no_context_takeover {
            f.write_str("; server_no_context_takeover")?;
        }
        if self.client_no_context_takeover {
            f.write_str("; client_no_context_takeover")?;
        }
        if let Some(n) = self.server_max_window_bits {
            write!(f, "; server_max_window_bits={n}")?;
        }
        if let Some(n) = self.client_max_window_bits {
            write!(f, "; client_max_window_bits={n}")?;
        }
        Ok(())
    }
}
