//! Incremental UTF-8 validation across frames and chunks.
//!
//! A text message may be split into frames, and a frame into reads, at any
//! byte, including inside a multi-byte character. [`Utf8Validator`] carries
//! the unfinished character from one piece to the next and reports an error
//! at the first byte that can no longer start or continue valid UTF-8, so a
//! connection can be failed as soon as the bad byte arrives (RFC 6455 §8.1).

use alloc::string::String;

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
///
/// The bulk of each piece is checked at once (by `simdutf8` with feature
/// `simd-utf8`, else by a shift automaton, or by `core::str::from_utf8`
/// where a `&str` is wanted); the few bytes of a character cut by a piece
/// boundary go through the automaton one at a time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Utf8Validator {
    /// The automaton's state ([`ACCEPT`] between characters). Only its
    /// low six bits mean anything (see [`step`]).
    state: u64,
    /// How many bytes of the unfinished character have been seen (0-3).
    incomplete: u8,
    /// Those bytes.
    pending: [u8; 3],
}

// ---------------------------------------------------------------- automaton
//
// A shift automaton: a state is a bit offset (a multiple of 6) into a 64-bit
// row, one row per byte value, and the next state is `ROWS[byte] >> state`.
// One shift per byte, no branch, no lookup that waits for the state.

/// Between characters (and at the start).
const ACCEPT: u64 = 0;
/// The input can no longer be UTF-8; every byte keeps it here.
const REJECT: u64 = 6;
/// One continuation byte (80-BF) to go.
const CONT1: u64 = 12;
/// Two to go, the next in A0-BF (after E0: no overlong form).
const AFTER_E0: u64 = 18;
/// Two to go, the next in 80-BF.
const CONT2: u64 = 24;
/// Two to go, the next in 80-9F (after ED: no surrogate).
const AFTER_ED: u64 = 30;
/// Three to go, the next in 90-BF (after F0: no overlong form).
const AFTER_F0: u64 = 36;
/// Three to go, the next in 80-BF.
const CONT3: u64 = 42;
/// Three to go, the next in 80-8F (after F4: nothing above U+10FFFF).
const AFTER_F4: u64 = 48;

/// The state after `byte` in `state` (RFC 3629 §4, the UTF8-octets rule).
const fn next(state: u64, byte: u8) -> u64 {
    match (state, byte) {
        (ACCEPT, 0x00..=0x7F) => ACCEPT,
        (ACCEPT, 0xC2..=0xDF) => CONT1,
        (ACCEPT, 0xE0) => AFTER_E0,
        (ACCEPT, 0xE1..=0xEC | 0xEE..=0xEF) => CONT2,
        (ACCEPT, 0xED) => AFTER_ED,
        (ACCEPT, 0xF0) => AFTER_F0,
        (ACCEPT, 0xF1..=0xF3) => CONT3,
        (ACCEPT, 0xF4) => AFTER_F4,
        (CONT1, 0x80..=0xBF) => ACCEPT,
        (CONT2, 0x80..=0xBF) | (AFTER_E0, 0xA0..=0xBF) | (AFTER_ED, 0x80..=0x9F) => CONT1,
        (CONT3, 0x80..=0xBF) | (AFTER_F0, 0x90..=0xBF) | (AFTER_F4, 0x80..=0x8F) => CONT2,
        _ => REJECT,
    }
}

/// Row `b`: for every state `s`, `next(s, b)` at bit offset `s`.
const ROWS: [u64; 256] = {
    let mut rows = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let mut s = ACCEPT;
        while s <= AFTER_F4 {
            rows[b] |= next(s, b as u8) << s;
            s += 6;
        }
        b += 1;
    }
    rows
};

/// One byte through the automaton. The shift count wraps at 64, so the
/// bits above the state's six are ignored: no mask on the critical path.
#[inline(always)]
fn step(state: u64, byte: u8) -> u64 {
    ROWS[byte as usize].wrapping_shr(state as u32)
}

/// (Without feature `simd-utf8`, the bulk check of [`Utf8Validator::feed`].)
#[cfg_attr(feature = "simd-utf8", allow(dead_code))]
/// Runs the automaton over `bytes` from `state`, skipping blocks of ASCII
/// met between characters.
fn run(mut state: u64, bytes: &[u8]) -> u64 {
    const BLOCK: usize = 64;
    let mut blocks = bytes.chunks_exact(BLOCK);
    for block in &mut blocks {
        let any = block.chunks_exact(8).fold(0, |any, w| {
            any | u64::from_ne_bytes(w.try_into().unwrap_or([0; 8]))
        });
        if between_characters(state) && all_ascii(any) {
            continue;
        }
        for &byte in block {
            state = step(state, byte);
        }
        if rejected(state) {
            return REJECT;
        }
    }
    for &byte in blocks.remainder() {
        state = step(state, byte);
    }
    state & 63
}

/// `run`'s shortcuts, each a test of its own. Turned off, they change
/// nothing but speed: a block of ASCII is then stepped through byte by
/// byte, and REJECT, which absorbs, is found at the end.
///
/// The automaton is between characters (nothing pending): a block of ASCII
/// leaves it there.
#[inline(always)]
fn between_characters(state: u64) -> bool {
    state & 63 == ACCEPT
}

/// No byte of the words OR-ed into `any` has its high bit set.
#[inline(always)]
fn all_ascii(any: u64) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    any & HIGH == 0
}

/// The input is not UTF-8, whatever follows.
#[inline(always)]
fn rejected(state: u64) -> bool {
    state & 63 == REJECT
}

/// Whether `bytes` is UTF-8 from start to end: the one bulk check (with
/// feature `simd-utf8`, `simdutf8`'s SIMD validator).
#[inline]
pub(crate) fn validate(bytes: &[u8]) -> Result<&str, Utf8Error> {
    #[cfg(feature = "simd-utf8")]
    return simdutf8::basic::from_utf8(bytes).map_err(|_| Utf8Error);
    #[cfg(not(feature = "simd-utf8"))]
    return core::str::from_utf8(bytes).map_err(|_| Utf8Error);
}

/// Whether `byte` starts a character (is not a continuation byte).
pub(crate) fn is_boundary(byte: u8) -> bool {
    byte & 0xC0 != 0x80
}

/// The length of the character `first` starts, from its lead bits alone
/// (1 for ASCII and for bytes no character starts with).
pub(crate) fn sequence_len(first: u8) -> usize {
    match first {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

/// How many bytes at the end of `bytes` begin a character that needs more
/// bytes than are there (0-3). Only lead bytes are looked at; whether the
/// bytes are valid is the caller's question (a byte that starts nothing
/// stays in the bulk, which fails).
fn unfinished_tail(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(3) {
        let byte = bytes[bytes.len() - back];
        if is_boundary(byte) {
            return if sequence_len(byte) > back { back } else { 0 };
        }
    }
    0
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Self {
            state: ACCEPT,
            incomplete: 0,
            pending: [0; 3],
        }
    }

    /// Forgets any unfinished character, ready for a new message.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Whether the input so far ends at a character boundary.
    pub const fn is_complete(&self) -> bool {
        self.incomplete == 0
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
        self.incomplete as usize
    }

    /// Validates the next piece. Fails as soon as the input can no longer be
    /// the prefix of valid UTF-8; an unfinished character at the end is kept
    /// for the next call.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), Utf8Error> {
        let Some(bytes) = self.finish_pending(bytes, None)? else {
            return Ok(());
        };
        let (whole, tail) = bytes.split_at(bytes.len() - unfinished_tail(bytes));
        #[cfg(feature = "simd-utf8")]
        validate(whole)?;
        #[cfg(not(feature = "simd-utf8"))]
        if run(ACCEPT, whole) != ACCEPT {
            return Err(Utf8Error);
        }
        self.start_pending(tail)
    }

    /// Validates the next piece like [`feed`](Self::feed), and appends the
    /// characters it completes to `text`: each byte is checked once, and
    /// the text needs no second check to be a `&str`.
    ///
    /// ```
    /// use wstate::wire::utf8::Utf8Validator;
    /// let mut v = Utf8Validator::new();
    /// let mut text = String::new();
    /// let bytes = "día 😀".as_bytes();
    /// v.feed_into(&bytes[..2], &mut text).unwrap(); // "d" and half of 'í'
    /// assert_eq!(text, "d");
    /// v.feed_into(&bytes[2..], &mut text).unwrap();
    /// assert_eq!(text, "día 😀");
    /// assert!(v.is_complete());
    /// ```
    pub fn feed_into(&mut self, bytes: &[u8], text: &mut String) -> Result<(), Utf8Error> {
        let Some(bytes) = self.finish_pending(bytes, Some(text))? else {
            return Ok(());
        };
        let (whole, tail) = bytes.split_at(bytes.len() - unfinished_tail(bytes));
        text.push_str(validate(whole)?);
        self.start_pending(tail)
    }

    /// Runs the first bytes of `bytes` through the automaton while a
    /// character from the last piece is unfinished; a finished one is
    /// appended to `text`. Returns the rest, or `None` if `bytes` ran out.
    fn finish_pending<'a>(
        &mut self,
        mut bytes: &'a [u8],
        mut text: Option<&mut String>,
    ) -> Result<Option<&'a [u8]>, Utf8Error> {
        while self.incomplete > 0 {
            let Some((&byte, rest)) = bytes.split_first() else {
                return Ok(None);
            };
            bytes = rest;
            self.state = step(self.state, byte) & 63;
            let seen = self.incomplete as usize;
            match self.state {
                REJECT => return Err(Utf8Error),
                ACCEPT => {
                    self.incomplete = 0;
                    if let Some(text) = text.as_deref_mut() {
                        // Checked already: decode it. The lead byte of a
                        // sequence of seen + 1 bytes has seen + 1 ones and
                        // a zero before its bits, so `0x7F >> seen` keeps
                        // them; each continuation adds its low 6 bits.
                        let lead = u32::from(self.pending[0] & (0x7F >> seen));
                        let code = self.pending[1..seen]
                            .iter()
                            .chain([&byte])
                            .fold(lead, |code, &b| (code << 6) + u32::from(b & 0x3F));
                        text.push(char::from_u32(code).ok_or(Utf8Error)?);
                    }
                }
                _ => {
                    // Not finished: at most 3 bytes of a 4-byte character.
                    *self.pending.get_mut(seen).ok_or(Utf8Error)? = byte;
                    self.incomplete += 1;
                }
            }
        }
        Ok(Some(bytes))
    }

    /// Keeps `tail`, the start of a character (at most 3 bytes), if it can
    /// still become one.
    fn start_pending(&mut self, tail: &[u8]) -> Result<(), Utf8Error> {
        let state = tail
            .iter()
            .fold(ACCEPT, |state, &byte| step(state, byte) & 63);
        if state == REJECT {
            return Err(Utf8Error);
        }
        self.state = state;
        self.incomplete = tail.len() as u8;
        self.pending[..tail.len()].copy_from_slice(tail);
        Ok(())
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

    /// What `feed` must report for `input` given whole: the verdict of
    /// `core::str::from_utf8` and, when valid so far, the unfinished tail.
    fn expected(input: &[u8]) -> Option<usize> {
        match core::str::from_utf8(input) {
            Ok(_) => Some(0),
            Err(e) if e.error_len().is_none() => Some(input.len() - e.valid_up_to()),
            Err(_) => None,
        }
    }

    fn verdict(pieces: &[&[u8]]) -> Option<usize> {
        let mut v = Utf8Validator::new();
        for piece in pieces {
            v.feed(piece).ok()?;
        }
        Some(v.incomplete_len())
    }

    /// Every sequence of four bytes drawn from the boundary values of
    /// RFC 3629's table, whole and cut at every point.
    #[test]
    fn boundary_bytes_in_fours_at_every_cut() {
        const EDGES: [u8; 24] = [
            0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1,
            0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF,
        ];
        for &a in &EDGES {
            for &b in &EDGES {
                for &c in &EDGES {
                    for &d in &EDGES {
                        let input = [a, b, c, d];
                        let want = expected(&input);
                        for cut in 0..=4 {
                            let (x, y) = input.split_at(cut);
                            assert_eq!(verdict(&[x, y]), want, "{input:x?} cut at {cut}");
                        }
                    }
                }
            }
        }
    }

    /// Long pseudo-random inputs (ASCII runs, characters of every length,
    /// and now and then a bad byte), whole, in pieces of every size up to
    /// 20 and byte by byte: the same verdict and tail as `core`.
    #[test]
    fn long_inputs_in_pieces_of_every_size() {
        let mut seed = 0x2545_f491_u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for round in 0..300 {
            let mut input = alloc::vec::Vec::new();
            while input.len() < 40 + round % 90 {
                let r = next();
                match r % 8 {
                    0..=2 => input.extend(core::iter::repeat_n(
                        b'a' + (r >> 8) as u8 % 26,
                        1 + (r >> 16) as usize % 24,
                    )),
                    3 => input.extend("é".as_bytes()),
                    4 => input.extend("€".as_bytes()),
                    5 => input.extend("😀".as_bytes()),
                    6 => input.extend("\u{10FFFF}\u{FFFF}".as_bytes()),
                    _ if round % 3 == 0 => input.push((r >> 8) as u8),
                    _ => input.push(b'z'),
                }
            }
            // Sometimes end in the middle of a character.
            if round % 5 == 0 {
                input.extend(&"😀".as_bytes()[..1 + round % 3]);
            }
            let want = expected(&input);
            assert_eq!(verdict(&[&input]), want, "{input:x?}");
            for size in 1..=20 {
                let pieces: alloc::vec::Vec<&[u8]> = input.chunks(size).collect();
                assert_eq!(verdict(&pieces), want, "{input:x?} in pieces of {size}");
            }
        }
    }

    /// A character cut short (or whole) at every offset, then a long ASCII
    /// run, then the rest of the character: the ASCII fast path must not
    /// skip a block while a character is unfinished.
    #[test]
    fn cut_character_before_an_ascii_run_at_every_offset() {
        for lead in ["é", "€", "😀"] {
            let lead = lead.as_bytes();
            for offset in 0..70 {
                for (keep, run) in (1..=lead.len()).flat_map(|k| (60..132).map(move |r| (k, r))) {
                    let mut input = alloc::vec![b'a'; offset];
                    input.extend(&lead[..keep]);
                    input.extend(core::iter::repeat_n(b'b', run));
                    // The rest after the run: not a way to finish it.
                    input.extend(&lead[keep..]);
                    let want = if keep == lead.len() { Some(0) } else { None };
                    assert_eq!(verdict(&[&input]), want, "{input:x?}");
                }
            }
        }
    }

    /// Whole 64-byte blocks whose bytes are only 0x00 and 0x80 (their OR is
    /// exactly the high bits): not ASCII, invalid, at every offset.
    #[test]
    fn blocks_of_bare_high_bits_are_not_ascii() {
        for offset in 0..64 {
            for pattern in [[0x80, 0x80], [0x80, 0x00], [0x00, 0x80]] {
                let mut input = alloc::vec![b'a'; offset];
                input.extend(pattern.repeat(64));
                assert_eq!(verdict(&[&input]), None, "{input:x?}");
            }
        }
    }
}
