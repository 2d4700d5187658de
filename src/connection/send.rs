//! The send side: values in, frame bytes out. Framing and masking only;
//! whether a frame may be sent is decided by the state machine in `mod.rs`.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::deflate;
use crate::event::Message;
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

/// A message framed once, and compressed once where the negotiated
/// parameters allow, for sending to any number of connections with
/// [`Sender::send_prepared`](super::Sender::send_prepared): a broadcast
/// pays for the compression once, not once per recipient.
///
/// Each connection sends it as [`Sender::send`](super::Sender::send) would,
/// taking the shared bytes where they are valid on it:
///
/// * **Uncompressed** (no permessage-deflate on the connection, a message
///   under its `min_compress_size`, `compress_outgoing` off, or a prepared
///   message built with [`new`](Self::new)): the plain frame, always
///   shareable.
/// * **Compressed, shared**: the connection's own side negotiated
///   no_context_takeover (a server: `server_no_context_takeover`; a
///   client: `client_no_context_takeover`) and its window bits for our side
///   are at least the ones the message was compressed with. The payload is
///   then what the connection's own compressor would produce at the same
///   level (each message starts from an empty window), byte for byte.
/// * **Compressed by the connection**: with context takeover on our side
///   the peer's window holds our earlier messages and our compressor must
///   see this one to refer to it later, so each such connection compresses
///   it with its own history (what `send` does).
///
/// A server copies the frame as it is. A client masks every frame with a
/// fresh key of its own (RFC 6455 §5.3): it writes the header with its key
/// and masks its copy of the shared payload, so the payload is shared,
/// never the masked bytes.
///
/// ```
/// use wstate::{Config, Connection, Message, PreparedMessage, Role};
/// let hello = PreparedMessage::new(Message::Text("Hello"));
/// let mut out = Vec::new();
/// for _ in 0..2 {
///     let mut server = Connection::new_open(Role::Server, Config::default());
///     server.sender().send_prepared(&hello, &mut out).unwrap();
/// }
/// assert_eq!(out, [0x81, 0x05, b'H', b'e', b'l', b'l', b'o', 0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
/// ```
#[derive(Clone, Debug)]
pub struct PreparedMessage {
    pub(super) opcode: OpCode,
    /// The uncompressed frame as a server sends it: header, then payload.
    pub(super) plain: Frame,
    /// The compressed frame (RSV1), and the window bits it needs.
    pub(super) compressed: Option<(Frame, u8)>,
}

/// A frame built once: its bytes as a server sends them, and where the
/// payload starts.
#[derive(Clone, Debug)]
pub(super) struct Frame {
    bytes: Vec<u8>,
    header: usize,
}

impl Frame {
    fn new(opcode: OpCode, rsv: u8, payload: &[u8]) -> Self {
        let mut bytes = Vec::new();
        write_frame_rsv(None, opcode, true, rsv, payload, &mut bytes);
        let header = bytes.len() - payload.len();
        Self { bytes, header }
    }

    /// The payload's length.
    pub(super) fn payload_len(&self) -> usize {
        self.bytes.len() - self.header
    }

    /// Appends the frame: as built for a server, with a fresh key and the
    /// payload masked for a client.
    pub(super) fn write(
        &self,
        entropy: Option<&mut Entropy>,
        opcode: OpCode,
        rsv: u8,
        out: &mut Vec<u8>,
    ) {
        match entropy {
            None => out.extend_from_slice(&self.bytes),
            Some(entropy) => {
                let payload = self.bytes.get(self.header..).unwrap_or_default();
                write_frame_rsv(Some(entropy), opcode, true, rsv, payload, out);
            }
        }
    }
}

impl PreparedMessage {
    /// A message sent uncompressed to every connection (with
    /// permessage-deflate, each connection compresses it if it would
    /// compress it with `send`, with its own compressor).
    pub fn new(message: Message<'_>) -> Self {
        let (opcode, payload) = opcode_and_payload(message);
        Self {
            opcode,
            plain: Frame::new(opcode, 0, payload),
            compressed: None,
        }
    }

    /// A Text or Binary message also compressed once, at `level` (0-9)
    /// with a window of `window_bits` (8-15), for the connections where
    /// that payload is valid (see the type's documentation). Choose the
    /// level and bits of the connections'
    /// [`DeflateConfig`](crate::DeflateConfig) to send the same bytes
    /// `send` would. Without
    /// feature `deflate` this is [`new`](Self::new); so it is for a Ping or
    /// a Pong, which are never compressed.
    pub fn compressed(message: Message<'_>, level: u8, window_bits: u8) -> Self {
        let mut prepared = Self::new(message);
        if !prepared.opcode.is_control() {
            let window_bits = window_bits.clamp(8, 15);
            let payload = prepared
                .plain
                .bytes
                .get(prepared.plain.header..)
                .unwrap_or_default();
            prepared.compressed = deflate::compress_once(payload, level.min(9), window_bits)
                .map(|c| (Frame::new(prepared.opcode, RSV1, &c), window_bits));
        }
        prepared
    }

    /// The uncompressed payload's length.
    pub fn len(&self) -> usize {
        self.plain.payload_len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The compressed payload's length, if it was compressed.
    pub fn compressed_len(&self) -> Option<usize> {
        self.compressed
            .as_ref()
            .map(|(frame, _)| frame.payload_len())
    }

    /// The uncompressed payload.
    pub(super) fn payload(&self) -> &[u8] {
        self.plain
            .bytes
            .get(self.plain.header..)
            .unwrap_or_default()
    }
}

fn opcode_and_payload(message: Message<'_>) -> (OpCode, &[u8]) {
    match message {
        Message::Text(text) => (OpCode::Text, text.as_bytes()),
        Message::Binary(bytes) => (OpCode::Binary, bytes),
        Message::Ping(bytes) => (OpCode::Ping, bytes),
        Message::Pong(bytes) => (OpCode::Pong, bytes),
    }
}
