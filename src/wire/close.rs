//! Close codes and Close frame payloads (RFC 6455 §5.5.1, §7.4).

use arrayvec::ArrayString;
use core::fmt;

use super::ProtocolError;

/// The longest close reason that fits in a control frame: 125 bytes of
/// payload minus the 2-byte code.
pub const MAX_REASON_LEN: usize = 123;

/// A close status code (RFC 6455 §7.4).
///
/// Any `u16` can be represented; [`CloseCode::is_valid_on_wire`] tells whether
/// a peer may send it, [`CloseCode::is_sendable`] whether we may.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: Self = Self(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: the endpoint cannot accept this kind of data.
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1005: no status code was present. Local only, never on the wire.
    pub const NO_STATUS: Self = Self(1005);
    /// 1006: the connection closed without a Close frame. Local only.
    pub const ABNORMAL: Self = Self(1006);
    /// 1007: message data was inconsistent with its type (e.g. bad UTF-8).
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: a message was too big to process.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1010: the client expected the server to negotiate an extension.
    pub const MANDATORY_EXTENSION: Self = Self(1010);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: Self = Self(1011);
    /// 1012: the service is restarting (IANA registry).
    pub const SERVICE_RESTART: Self = Self(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: Self = Self(1013);
    /// 1014: a gateway received an invalid response (IANA registry).
    pub const BAD_GATEWAY: Self = Self(1014);
    /// 1015: the TLS handshake failed. Local only.
    pub const TLS_HANDSHAKE: Self = Self(1015);

    /// Whether this code may appear in a Close frame on the wire.
    ///
    /// RFC 6455 §7.4: 0-999 are not used; 1004 is reserved; 1005, 1006 and
    /// 1015 "MUST NOT be set as a status code in a Close control frame"; the
    /// rest of 1000-2999 is reserved for the protocol and its extensions
    /// (only the IANA-registered 1000-1003 and 1007-1014 are assigned);
    /// 3000-3999 are for libraries and frameworks, 4000-4999 private use.
    /// Codes of 5000 and above are not defined.
    pub const fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// Whether an application may send this code with
    /// [`Sender::close`](crate::Sender::close): the same set as
    /// [`is_valid_on_wire`](Self::is_valid_on_wire).
    pub const fn is_sendable(self) -> bool {
        self.is_valid_on_wire()
    }

    /// Whether an endpoint of this role may send this code: as
    /// [`is_sendable`](Self::is_sendable), less 1010 for a server. 1010
    /// means the client expected the server to negotiate an extension:
    /// "Note that this status code is not used by the server, because it
    /// can fail the WebSocket handshake instead" (RFC 6455 §7.4.1). The
    /// other codes (1011 widened to both ends by the IANA registry, 1012-1014
    /// registered without a rule on who sends them) are not restricted.
    pub const fn is_sendable_by(self, client: bool) -> bool {
        self.is_sendable() && (client || self.0 != 1010)
    }

    fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::NORMAL => "NORMAL",
            Self::GOING_AWAY => "GOING_AWAY",
            Self::PROTOCOL_ERROR => "PROTOCOL_ERROR",
            Self::UNSUPPORTED_DATA => "UNSUPPORTED_DATA",
            Self::NO_STATUS => "NO_STATUS",
            Self::ABNORMAL => "ABNORMAL",
            Self::INVALID_PAYLOAD => "INVALID_PAYLOAD",
            Self::POLICY_VIOLATION => "POLICY_VIOLATION",
            Self::MESSAGE_TOO_BIG => "MESSAGE_TOO_BIG",
            Self::MANDATORY_EXTENSION => "MANDATORY_EXTENSION",
            Self::INTERNAL_ERROR => "INTERNAL_ERROR",
            Self::SERVICE_RESTART => "SERVICE_RESTART",
            Self::TRY_AGAIN_LATER => "TRY_AGAIN_LATER",
            Self::BAD_GATEWAY => "BAD_GATEWAY",
            Self::TLS_HANDSHAKE => "TLS_HANDSHAKE",
            _ => return None,
        })
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}({})", self.0),
            None => write!(f, "CloseCode({})", self.0),
        }
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

/// A close code with its reason, as carried by a Close frame.
///
/// The reason is stored inline (at most [`MAX_REASON_LEN`] bytes), so a
/// `CloseFrame` never allocates.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    reason: ArrayString<MAX_REASON_LEN>,
}

impl CloseFrame {
    /// A close frame with an empty reason.
    pub const fn new(code: CloseCode) -> Self {
        Self {
            code,
            reason: ArrayString::new_const(),
        }
    }

    /// A close frame with a reason, or `None` if the reason is longer than
    /// [`MAX_REASON_LEN`] bytes.
    pub fn with_reason(code: CloseCode, reason: &str) -> Option<Self> {
        Some(Self {
            code,
            reason: ArrayString::from(reason).ok()?,
        })
    }

    /// Builds a close frame, cutting the reason at a character boundary so
    /// that it fits.
    pub(crate) fn truncated(code: CloseCode, reason: &str) -> Self {
        let mut end = reason.len().min(MAX_REASON_LEN);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        Self::with_reason(code, &reason[..end]).unwrap_or(Self::new(code))
    }

    /// The reason text (possibly empty).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Parses the payload of a Close frame received from the peer.
    ///
    /// An empty payload means "no status code" and gives a frame with code
    /// [`CloseCode::NO_STATUS`] (1005), the one form of that fact. A 1-byte
    /// payload, a code that may not appear on the wire, or a reason that is
    /// not UTF-8 is an error.
    ///
    /// ```
    /// use wstate::{CloseCode, CloseFrame};
    /// let frame = CloseFrame::parse(b"\x03\xe8bye").unwrap();
    /// assert_eq!(frame.code, CloseCode::NORMAL);
    /// assert_eq!(frame.reason(), "bye");
    /// assert_eq!(CloseFrame::parse(b"").unwrap().code, CloseCode::NO_STATUS);
    /// assert!(CloseFrame::parse(b"\x03").is_err());
    /// ```
    pub fn parse(payload: &[u8]) -> Result<Self, ProtocolError> {
        match payload {
            [] => Ok(Self::new(CloseCode::NO_STATUS)),
            [_] => Err(ProtocolError::InvalidClosePayload),
            [hi, lo, reason @ ..] => {
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                if !code.is_valid_on_wire() {
                    return Err(ProtocolError::InvalidCloseCode(code.0));
                }
                let reason =
                    core::str::from_utf8(reason).map_err(|_| ProtocolError::InvalidUtf8)?;
                // A control frame carries at most 125 bytes, so this fits;
                // the check keeps direct callers of `parse` honest.
                Self::with_reason(code, reason).ok_or(ProtocolError::ControlFrameTooLong)
            }
        }
    }

    /// The Close frame payload: the code in network byte order, then the
    /// reason; empty for [`CloseCode::NO_STATUS`], which is never sent.
    ///
    /// ```
    /// use wstate::{CloseCode, CloseFrame};
    /// let frame = CloseFrame::with_reason(CloseCode::GOING_AWAY, "bye").unwrap();
    /// assert_eq!(&frame.payload()[..], b"\x03\xe9bye");
    /// assert!(CloseFrame::new(CloseCode::NO_STATUS).payload().is_empty());
    /// ```
    pub fn payload(&self) -> ClosePayload {
        let mut out = ClosePayload {
            bytes: [0; 125],
            len: 0,
        };
        if self.code != CloseCode::NO_STATUS {
            let reason = self.reason.as_bytes();
            out.bytes[..2].copy_from_slice(&self.code.0.to_be_bytes());
            out.bytes[2..2 + reason.len()].copy_from_slice(reason);
            out.len = 2 + reason.len() as u8;
        }
        out
    }
}

/// The bytes of a Close frame's payload (at most 125), from
/// [`CloseFrame::payload`]. Dereferences to `[u8]`.
#[derive(Clone, Copy)]
pub struct ClosePayload {
    bytes: [u8; 125],
    len: u8,
}

impl core::ops::Deref for ClosePayload {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl AsRef<[u8]> for ClosePayload {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for ClosePayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Debug for CloseFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloseFrame")
            .field("code", &self.code)
            .field("reason", &self.reason.as_str())
            .finish()
    }
}

impl ProtocolError {
    /// The close code sent to the peer for this error: 1007 for bad UTF-8,
    /// 1009 for limits, 1002 for everything else. Never 1000.
    pub const fn close_code(self) -> CloseCode {
        match self {
            Self::InvalidUtf8 | Self::InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
            Self::FrameTooLarge | Self::MessageTooLarge | Self::TooManyFragments => {
                CloseCode::MESSAGE_TOO_BIG
            }
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::format;

    #[test]
    fn names_display_and_conversions() {
        // Debug names every registered code (RFC 6455 §7.4.1, IANA).
        let table = [
            (1000, "NORMAL"),
            (1001, "GOING_AWAY"),
            (1002, "PROTOCOL_ERROR"),
            (1003, "UNSUPPORTED_DATA"),
            (1005, "NO_STATUS"),
            (1006, "ABNORMAL"),
            (1007, "INVALID_PAYLOAD"),
            (1008, "POLICY_VIOLATION"),
            (1009, "MESSAGE_TOO_BIG"),
            (1010, "MANDATORY_EXTENSION"),
            (1011, "INTERNAL_ERROR"),
            (1012, "SERVICE_RESTART"),
            (1013, "TRY_AGAIN_LATER"),
            (1014, "BAD_GATEWAY"),
            (1015, "TLS_HANDSHAKE"),
        ];
        for (code, name) in table {
            assert_eq!(format!("{:?}", CloseCode(code)), format!("{name}({code})"));
            assert_eq!(format!("{}", CloseCode(code)), format!("{code}"));
        }
        assert_eq!(format!("{:?}", CloseCode(1004)), "CloseCode(1004)");
        assert_eq!(format!("{:?}", CloseCode(4321)), "CloseCode(4321)");
        assert_eq!(format!("{}", CloseCode(4321)), "4321");
        assert_eq!(u16::from(CloseCode(4321)), 4321);
        // Frames and payloads print readably.
        let frame = CloseFrame::with_reason(CloseCode::GOING_AWAY, "bye").unwrap();
        assert_eq!(
            format!("{frame:?}"),
            "CloseFrame { code: GOING_AWAY(1001), reason: \"bye\" }"
        );
        assert_eq!(format!("{:?}", frame.payload()), "[3, 233, 98, 121, 101]");
        assert_eq!(CloseCode::from(1000u16), CloseCode::NORMAL);
    }

    use super::*;

    #[test]
    fn wire_validity_matches_rfc_ranges() {
        for code in 0..=u16::MAX {
            let expected = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(CloseCode(code).is_valid_on_wire(), expected, "{code}");
        }
        for local in [1005, 1006, 1015] {
            assert!(!CloseCode(local).is_sendable());
        }
    }

    #[test]
    fn parse_rejects_bad_payloads() {
        assert_eq!(
            CloseFrame::parse(&[0x03]),
            Err(ProtocolError::InvalidClosePayload)
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xed]),
            Err(ProtocolError::InvalidCloseCode(1005))
        );
        assert_eq!(
            CloseFrame::parse(&[0x13, 0x88]),
            Err(ProtocolError::InvalidCloseCode(5000))
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xe8, 0xff]),
            Err(ProtocolError::InvalidUtf8)
        );
        let ok = CloseFrame::parse(&[0x0f, 0xa0]).unwrap();
        assert_eq!(ok.code, CloseCode(4000));
        assert_eq!(ok.reason(), "");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let long = "é".repeat(100); // 200 bytes
        let frame = CloseFrame::truncated(CloseCode::NORMAL, &long);
        assert_eq!(frame.reason().len(), 122);
        assert!(frame.payload().len() <= 125);
    }

    #[test]
    fn debug_names_known_codes() {
        assert_eq!(
            alloc::format!("{:?}", CloseCode(1002)),
            "PROTOCOL_ERROR(1002)"
        );
        assert_eq!(alloc::format!("{:?}", CloseCode(4001)), "CloseCode(4001)");
    }
}
