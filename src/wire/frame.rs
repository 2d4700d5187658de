//! The frame layer (RFC 6455 §5.2): opcodes and frame headers.
//!
//! Parsing borrows the input and reports "not enough bytes yet" as `Ok(None)`,
//! never as an error. Nothing here allocates.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```

use super::ProtocolError;

/// The longest possible frame header: 2 bytes, 8 bytes of length, 4 of mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload a control frame may carry (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame opcode (RFC 6455 §5.2). Reserved opcodes are not representable:
/// [`TryFrom<u8>`] refuses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: starts or answers the closing handshake.
    Close,
    /// 0x9: asks the peer for a Pong.
    Ping,
    /// 0xA: answers a Ping, or a unidirectional heartbeat.
    Pong,
}

impl OpCode {
    /// Whether this is a control opcode (Close, Ping, Pong).
    #[inline]
    pub const fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }

    /// The 4-bit wire value.
    #[inline]
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }
}

impl TryFrom<u8> for OpCode {
    type Error = ProtocolError;

    /// "If an unknown opcode is received, the receiving endpoint MUST _Fail
    /// the WebSocket Connection_." (RFC 6455 §5.2)
    #[inline(always)]
    fn try_from(value: u8) -> Result<Self, ProtocolError> {
        Ok(match value {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            other => return Err(ProtocolError::ReservedOpCode(other)),
        })
    }
}

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// FIN: this is the last frame of its message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as the low three bits (`0b100` is RSV1). Only an
    /// extension may set them.
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// Length of the payload that follows the header.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Parses a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` holds only part of a header, and
    /// `Ok(Some((header, n)))` with `n` the header length once it is whole.
    /// Errors are the context-free rules of §5.2 and §5.5: a reserved opcode,
    /// a fragmented or oversized control frame, a 64-bit length with its most
    /// significant bit set, or a length not in its minimal encoding. RSV bits
    /// and masking depend on the connection and are checked there.
    ///
    /// ```
    /// use wstate::wire::frame::{FrameHeader, OpCode};
    /// // RFC 6455 §5.7: a single-frame masked text message "Hello".
    /// let bytes = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    /// let (header, n) = FrameHeader::parse(&bytes).unwrap().unwrap();
    /// assert_eq!((header.opcode, header.fin, header.payload_len, n), (OpCode::Text, true, 5, 6));
    /// assert_eq!(header.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
    /// assert_eq!(FrameHeader::parse(&bytes[..3]), Ok(None));
    /// ```
    #[inline(always)]
    pub fn parse(buf: &[u8]) -> Result<Option<(Self, usize)>, ProtocolError> {
        let [b0, b1, rest @ ..] = buf else {
            return Ok(None);
        };
        let opcode = OpCode::try_from(b0 & 0x0F)?;
        let fin = b0 & 0x80 != 0;
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7F;
        if opcode.is_control() {
            // "All control frames MUST have a payload length of 125 bytes or
            // less and MUST NOT be fragmented." (§5.5)
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if len7 > 125 {
                return Err(ProtocolError::ControlFrameTooLong);
            }
        }
        let (payload_len, ext) = match len7 {
            126 => {
                let [a, b, ..] = *rest else { return Ok(None) };
                let len = u16::from_be_bytes([a, b]) as u64;
                // "the minimal number of bytes MUST be used to encode the length"
                if len < 126 {
                    return Err(ProtocolError::NonMinimalLength);
                }
                (len, 2)
            }
            127 => {
                let [a, b, c, d, e, f, g, h, ..] = *rest else {
                    return Ok(None);
                };
                let len = u64::from_be_bytes([a, b, c, d, e, f, g, h]);
                // "the most significant bit MUST be 0"
                if len >> 63 != 0 {
                    return Err(ProtocolError::InvalidLength);
                }
                if len <= 0xFFFF {
                    return Err(ProtocolError::NonMinimalLength);
                }
                (len, 8)
            }
            short => (short as u64, 0),
        };
        let mask = if masked {
            let Some(&[a, b, c, d]) = rest.get(ext..ext + 4) else {
                return Ok(None);
            };
            Some([a, b, c, d])
        } else {
            None
        };
        let header = Self {
            fin,
            rsv: (b0 >> 4) & 0b111,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((header, 2 + ext + if masked { 4 } else { 0 })))
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    #[inline]
    pub const fn encoded_len(&self) -> usize {
        let ext = if self.payload_len < 126 {
            0
        } else if self.payload_len <= 0xFFFF {
            2
        } else {
            8
        };
        2 + ext + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Writes the header into `dst` in its minimal form and returns its length.
    ///
    /// ```
    /// use wstate::wire::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};
    /// let header = FrameHeader { fin: true, rsv: 0, opcode: OpCode::Binary, mask: None, payload_len: 256 };
    /// let mut buf = [0; MAX_HEADER_LEN];
    /// let n = header.encode(&mut buf);
    /// assert_eq!(&buf[..n], [0x82, 0x7E, 0x01, 0x00]); // RFC 6455 §5.7, 256 bytes
    /// assert_eq!(FrameHeader::parse(&buf[..n]), Ok(Some((header, n))));
    /// ```
    #[inline]
    pub fn encode(&self, dst: &mut [u8; MAX_HEADER_LEN]) -> usize {
        dst[0] = (self.fin as u8) << 7 | (self.rsv & 0b111) << 4 | self.opcode.as_u8();
        let mask_bit = (self.mask.is_some() as u8) << 7;
        let mut n = 2;
        if self.payload_len < 126 {
            dst[1] = mask_bit | self.payload_len as u8;
        } else if self.payload_len <= 0xFFFF {
            dst[1] = mask_bit | 126;
            dst[2..4].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
            n = 4;
        } else {
            dst[1] = mask_bit | 127;
            dst[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            n = 10;
        }
        if let Some(key) = self.mask {
            dst[n..n + 4].copy_from_slice(&key);
            n += 4;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(header: FrameHeader) {
        let mut buf = [0; MAX_HEADER_LEN];
        let n = header.encode(&mut buf);
        assert_eq!(n, header.encoded_len());
        assert_eq!(FrameHeader::parse(&buf[..n]), Ok(Some((header, n))));
        for short in 0..n {
            assert_eq!(
                FrameHeader::parse(&buf[..short]),
                Ok(None),
                "{header:?} {short}"
            );
        }
    }

    #[test]
    fn all_length_forms_roundtrip() {
        for len in [
            0,
            1,
            125,
            126,
            127,
            0xFFFF,
            0x1_0000,
            1 << 40,
            (1 << 63) - 1,
        ] {
            for mask in [None, Some([1, 2, 3, 4])] {
                for opcode in [OpCode::Continuation, OpCode::Text, OpCode::Binary] {
                    for fin in [false, true] {
                        roundtrip(FrameHeader {
                            fin,
                            rsv: 0b101,
                            opcode,
                            mask,
                            payload_len: len,
                        });
                    }
                }
            }
        }
    }

    #[test]
    fn rfc_examples() {
        // RFC 6455 §5.7: 64 KiB unmasked binary: 0x82 0x7F 0x0000000000010000.
        let h = FrameHeader::parse(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0])
            .unwrap()
            .unwrap();
        assert_eq!(
            (h.0.opcode, h.0.payload_len, h.1),
            (OpCode::Binary, 65536, 10)
        );
        // Unmasked ping "Hello": 0x89 0x05.
        let h = FrameHeader::parse(&[0x89, 0x05]).unwrap().unwrap();
        assert_eq!((h.0.opcode, h.0.fin, h.0.mask), (OpCode::Ping, true, None));
    }

    #[test]
    fn context_free_errors() {
        assert_eq!(
            FrameHeader::parse(&[0x83, 0]),
            Err(ProtocolError::ReservedOpCode(3))
        );
        assert_eq!(
            FrameHeader::parse(&[0x8F, 0]),
            Err(ProtocolError::ReservedOpCode(15))
        );
        assert_eq!(
            FrameHeader::parse(&[0x09, 0]),
            Err(ProtocolError::FragmentedControlFrame)
        );
        assert_eq!(
            FrameHeader::parse(&[0x89, 126]),
            Err(ProtocolError::ControlFrameTooLong)
        );
        assert_eq!(
            FrameHeader::parse(&[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(ProtocolError::InvalidLength)
        );
        assert_eq!(
            FrameHeader::parse(&[0x82, 126, 0, 125]),
            Err(ProtocolError::NonMinimalLength)
        );
        assert_eq!(
            FrameHeader::parse(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]),
            Err(ProtocolError::NonMinimalLength)
        );
    }

    #[test]
    fn opcode_try_from_every_nibble() {
        for v in 0..=255u8 {
            let r = OpCode::try_from(v);
            match v {
                0 | 1 | 2 | 8 | 9 | 10 => assert_eq!(r.unwrap().as_u8(), v),
                _ => assert_eq!(r, Err(ProtocolError::ReservedOpCode(v))),
            }
        }
    }
}
