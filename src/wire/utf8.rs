//! Incremental UTF-8 validation across frames and chunks.
//!
//! A text message may be split into frames, and a frame into reads, at any
//! byte, including inside a multi-byte character. [`Utf8Validator`] carries
//! the unfinished character from one piece to the next and reports an error
//! at the first byte that can no longer start or continue valid UTF-8, so a
//! connection can be failed as soon as the bad byte arrives (RFC 6455 §8.1).

/// The input is not valid UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utf8Error;

impl core::fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("invalid UTF-8")
    }
}

/// Validates UTF-8 that arrives in pieces.
///
/// ```
/// use wstate::wire::utf8::Utf8Validator;
/// let mut v = Utf8Validator::new();
/// let text = "é😀".as_bytes(); // c3 a9 f0 9f 98 80
/// assert!(v.feed(&text[..1]).is_ok()); // half of 'é' is fine so far
/// assert!(!v.is_complete());
/// assert!(v.feed(&text[1..4]).is_ok());
/// assert!(v.feed(&text[4..]).is_ok());
/// assert!(v.is_complete());
/// // An invalid continuation fails at once, before the message ends.
/// let mut v = Utf8Validator::new();
/// assert!(v.feed(&[0xf0, 0x9f]).is_ok());
/// assert!(v.feed(&[0x41]).is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Utf8Validator {
    /// Bytes of a character that is not finished yet (at most 3 are kept).
    pending: [u8; 4],
    pending_len: u8,
}

/// The length of a UTF-8 sequence from its first byte (0 if it cannot start one).
#[inline]
fn sequence_len(first: u8) -> usize {
    match first {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Self {
            pending: [0; 4],
            pending_len: 0,
        }
    }

    /// Forgets any unfinished character, ready for a new message.
    pub fn reset(&mut self) {
        self.pending_len = 0;
    }

    /// Whether the input so far ends at a character boundary.
    pub const fn is_complete(&self) -> bool {
        self.pending_len == 0
    }

    /// How many bytes at the end of the input so far begin a character
    /// that is not finished yet (0 to 3).
    ///
    /// ```
    /// use wstate::wire::utf8::Utf8Validator;
    /// let mut v = Utf8Validator::new();
    /// v.feed(&[b'a', 0xf0, 0x9f]).unwrap();
    /// assert_eq!(v.incomplete_len(), 2);
    /// ```
    pub const fn incomplete_len(&self) -> usize {
        self.pending_len as usize
    }

    /// Validates the next piece. Fails as soon as the input can no longer be
    /// the prefix of valid UTF-8; an unfinished character at the end is kept
    /// for the next call.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Utf8Error> {
        if self.pending_len > 0 {
            let have = self.pending_len as usize;
            let need = sequence_len(self.pending[0]);
            let take = (need - have).min(bytes.len());
            self.pending[have..have + take].copy_from_slice(&bytes[..take]);
            let len = have + take;
            match core::str::from_utf8(&self.pending[..len]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_none() => {
                    // Still a valid prefix; `bytes` is used up.
                    self.pending_len = len as u8;
                    return Ok(());
                }
                Err(_) => return Err(Utf8Error),
            }
            bytes = &bytes[take..];
        }
        match core::str::from_utf8(bytes) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                // The input ends inside a character that is valid so far.
                let tail = &bytes[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(Utf8Error),
        }
    }

    /// Checks that the input ended at a character boundary.
    pub fn finish(&self) -> Result<(), Utf8Error> {
        if self.is_complete() {
            Ok(())
        } else {
            Err(Utf8Error)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_display() {
        assert_eq!(alloc::format!("{}", Utf8Error), "invalid UTF-8");
    }

    use super::*;

    fn check_all_splits(input: &[u8]) {
        let expected = core::str::from_utf8(input).is_ok();
        for a in 0..=input.len() {
            for b in a..=input.len() {
                let mut v = Utf8Validator::new();
                let ok = v.feed(&input[..a]).is_ok()
                    && v.feed(&input[a..b]).is_ok()
                    && v.feed(&input[b..]).is_ok()
                    && v.finish().is_ok();
                assert_eq!(ok, expected, "{input:x?} split at {a},{b}");
            }
        }
    }

    #[test]
    fn agrees_with_core_at_every_split() {
        let cases: [&[u8]; 14] = [
            b"",
            b"hello",
            "κόσμε".as_bytes(),
            "𝄞 and 😀".as_bytes(),
            &[0xf4, 0x8f, 0xbf, 0xbf],       // U+10FFFF
            &[0xf4, 0x90, 0x80, 0x80],       // above U+10FFFF
            &[0xed, 0xa0, 0x80],             // surrogate
            &[0xc0, 0xaf],                   // overlong
            &[0xe0, 0x80, 0xaf],             // overlong
            &[0xce, 0xba, 0xe1, 0xbd],       // truncated at the end
            &[0x80],                         // lone continuation
            &[0xf8, 0x88, 0x80, 0x80, 0x80], // 5-byte form
            &[0x61, 0xff, 0x62],
            &[0xe2, 0x82, 0xac, 0xf0, 0x90, 0x8d, 0x88],
        ];
        for case in cases {
            check_all_splits(case);
        }
    }

    #[test]
    fn fails_at_first_invalid_byte() {
        // 6.4.x-style: a valid prefix, then a byte that makes it invalid.
        let mut v = Utf8Validator::new();
        assert!(v.feed("κόσμε".as_bytes()).is_ok());
        assert!(v.feed(&[0xf4]).is_ok()); // could still be valid
        assert_eq!(v.feed(&[0x90]), Err(Utf8Error)); // > U+10FFFF: fails here
    }

    #[test]
    fn byte_by_byte_over_all_two_byte_inputs() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let input = [a, b, b'x'];
                let mut v = Utf8Validator::new();
                let ok = input
                    .iter()
                    .all(|byte| v.feed(core::slice::from_ref(byte)).is_ok())
                    && v.finish().is_ok();
                assert_eq!(ok, core::str::from_utf8(&input).is_ok(), "{a:x} {b:x}");
            }
        }
    }
}
