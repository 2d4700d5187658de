//! The send side: values in, frame bytes out. Framing and masking only;
//! whether a frame may be sent is decided by the state machine in `mod.rs`.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::wire::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use crate::wire::mask::apply_mask;

/// A client's source of mask keys and handshake nonces.
///
/// RFC 6455 §5.3 asks for mask keys "derived from a strong source of
/// entropy": build it from your platform's CSPRNG (for example
/// `getrandom::fill`, or `wstate::os_entropy` with the
/// `getrandom` feature). Tests may pass a fixed pattern.
pub struct Entropy(Box<FillFn>);

/// What an entropy source is: a function filling its argument.
type FillFn = dyn FnMut(&mut [u8]) + Send;

impl Entropy {
    /// Wraps a function that fills its argument with random bytes. Plain
    /// `fn` items and closures both work, without type annotations:
    ///
    /// ```
    /// use wstate::Entropy;
    /// fn os(b: &mut [u8]) { getrandom::fill(b).expect("OS entropy") }
    /// let _ = Entropy::new(os);
    /// let _ = Entropy::new(|b| getrandom::fill(b).expect("OS entropy"));
    /// ```
    pub fn new(fill: impl FnMut(&mut [u8]) + Send + 'static) -> Self {
        Self(Box::new(fill))
    }

    /// Fills `dest` with random bytes.
    pub(crate) fn fill(&mut self, dest: &mut [u8]) {
        (self.0)(dest)
    }

    fn mask_key(&mut self) -> [u8; 4] {
        let mut key = [0; 4];
        self.fill(&mut key);
        key
    }
}

impl core::fmt::Debug for Entropy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Entropy")
    }
}

/// Appends one frame to `out`, masked with a fresh key for a client
/// (`entropy` is `Some` exactly for a client).
pub(super) fn write_frame(
    entropy: Option<&mut Entropy>,
    opcode: OpCode,
    fin: bool,
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    write_frame_rsv(entropy, opcode, fin, 0, payload, out);
}

/// RSV1: "Per-Message Compressed" under permessage-deflate (RFC 7692 §6).
pub(super) const RSV1: u8 = 0b100;

/// [`write_frame`] with reserved bits set (RSV1 for a compressed message).
pub(super) fn write_frame_rsv(
    entropy: Option<&mut Entropy>,
    opcode: OpCode,
    fin: bool,
    rsv: u8,
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    out.reserve(MAX_HEADER_LEN + payload.len());
    let mask = write_header(entropy, opcode, fin, rsv, payload.len(), out);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key, 0);
    }
}

/// Appends a frame header for a payload of `len` bytes, with a fresh mask
/// key for a client; returns the key the payload must be masked with.
pub(super) fn write_header(
    entropy: Option<&mut Entropy>,
    opcode: OpCode,
    fin: bool,
    rsv: u8,
    len: usize,
    out: &mut Vec<u8>,
) -> Option<[u8; 4]> {
    let mask = entropy.map(Entropy::mask_key);
    let header = FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len: len as u64,
    };
    let mut head = [0; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    out.extend_from_slice(&head[..n]);
    mask
}

/// Which end of the connection we are.
#[derive(Debug)]
pub enum Role {
    /// The accepting end: never masks, requires masked frames.
    Server,
    /// The connecting end: masks every frame with keys from its entropy.
    Client(Entropy),
}

impl Role {
    /// The client role, with its source of mask keys: any
    /// `FnMut(&mut [u8])` that fills its argument with random bytes.
    ///
    /// ```
    /// // The operating system's CSPRNG (also `wstate::os_entropy`, feature `getrandom`).
    /// let _ = wstate::Role::client(|b| getrandom::fill(b).expect("OS entropy"));
    /// ```
    pub fn client(entropy: impl FnMut(&mut [u8]) + Send + 'static) -> Self {
        Self::Client(Entropy::new(entropy))
    }
}
