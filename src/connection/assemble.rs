//! The message assembler: the one place where data frames become messages,
//! for whole messages, messages in parts ([`Config::receive_parts`]) and
//! compressed messages (RFC 7692) alike. It gets each data frame's payload
//! from the frame decoder (`recv.rs`) unmasked, as it arrives, and answers
//! how many of those bytes it used and what is ready, as values: positions
//! into the decoder's buffer, or its own `text` and `message`.
//!
//! UTF-8 is checked exactly once per byte: text that arrives whole in one
//! frame is handed out in place and checked by its conversion to `&str`
//! (`Receiver::event`); every other text (a frame in several reads,
//! fragments, parts, inflated text) goes through the validator into `text`
//! as it arrives, which fails at the first invalid byte (RFC 6455 §8.1) and
//! yields characters that need no second check.
//!
//! Parts mode, what does not depend on how the bytes were split into reads:
//! join each message's parts, in order, into one message where its last
//! part (`last`) comes, and the events are exactly those of whole-message
//! mode for the same bytes (the same messages, control frames and Close,
//! in the same order, and the same error with the same close code); the
//! bytes queued in `out` and the connection's state are the same too. What
//! does depend on the reads: how many parts a message comes in and where
//! they are cut (a part holds what had arrived of its frame, or what the
//! inflater gave of it, up to the bound, never cut inside a code point),
//! and how much of a message that a failure interrupts was handed out
//! before it (always a prefix of its bytes).

use alloc::string::String;
use alloc::vec::Vec;

use core::ops::Range;

use super::incoming::{At, Found, InFrame, Step};
use crate::config::Config;
use crate::deflate::{Held, Inflater};
use crate::wire::ProtocolError;
use crate::wire::frame::OpCode;
use crate::wire::utf8::Utf8Validator;

/// The kind of a data message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    Binary,
}

/// What one call of [`Assembler::data`] did with the payload it was given.
pub(super) struct Used {
    /// Payload bytes used, from the front.
    pub(super) bytes: usize,
    /// The frame is over: the next bytes are a header.
    pub(super) frame_over: bool,
    pub(super) step: Step,
}

/// The message being received.
#[derive(Debug, Default)]
pub(super) struct Assembler {
    /// A reassembled binary message, an inflated binary part, or the
    /// inflater's output before its characters join `text`.
    message: Vec<u8>,
    /// Text not handed out in place: checked characters only.
    text: String,
    utf8: Utf8Validator,
    /// Kind of the fragmented message being received, if any.
    receiving: Option<Kind>,
    /// That message is compressed.
    compressed: bool,
    /// Its frames so far.
    fragments: usize,
    /// Its bytes so far (inflated, if compressed), for the message limit.
    size: usize,
    /// `text` and `message` were handed out in the last event: clear them
    /// before anything else.
    delivered: bool,
    /// permessage-deflate was negotiated: the peer's compressed messages
    /// are inflated here (boxed: only negotiated connections pay for it).
    inflater: Option<Held<Inflater>>,
}

/// Bytes of text checked and copied at a time (see `Assembler::feed`).
const TEXT_BLOCK: usize = 4096;

/// Bytes the inflater gives at a time for text, before its characters
/// join `text`: the scratch buffer stays small whatever the message.
const INFLATE_TEXT_BLOCK: usize = 16 << 10;

impl Assembler {
    /// The inflater of a negotiated permessage-deflate.
    pub(super) fn set_inflater(&mut self, inflater: Held<Inflater>) {
        self.inflater = Some(inflater);
    }

    /// Gives an idle inflater's zlib state back, keeping its history.
    pub(super) fn release_inflater(&mut self) {
        if let Some(inflater) = self.inflater.as_mut() {
            inflater.release();
        }
    }

    /// Whether RSV1 may mark a message as compressed.
    #[inline]
    pub(super) fn compression_negotiated(&self) -> bool {
        self.inflater.is_some()
    }

    /// No message is in progress.
    #[inline]
    pub(super) fn idle(&self) -> bool {
        self.receiving.is_none()
    }

    /// The text being received, handed out by the last event.
    #[inline]
    pub(super) fn text(&self) -> &str {
        &self.text
    }

    /// The binary message or part being received, handed out by the last
    /// event.
    #[inline]
    pub(super) fn message(&self) -> &[u8] {
        &self.message
    }

    /// A string to build in, cleared by the next call that reads frames
    /// (the opening handshake builds a resource name there).
    pub(super) fn scratch(&mut self) -> &mut String {
        self.delivered = true;
        &mut self.text
    }

    /// The last event handed out `text` or `message`.
    #[inline]
    pub(super) fn delivered(&self) -> bool {
        self.delivered
    }

    /// Clears what the last event handed out; returns whether it was
    /// larger than `retained` (its buffers are then kept for the next).
    #[inline(never)]
    pub(super) fn recycle(&mut self, retained: usize) -> bool {
        if !self.delivered {
            return false;
        }
        self.delivered = false;
        let large = self.message.len().max(self.text.len()) > retained;
        self.message.clear();
        self.text.clear();
        large
    }

    /// Frees each buffer grown past `retained` that holds nothing now.
    pub(super) fn shrink(&mut self, retained: usize) {
        if self.message.is_empty() && self.message.capacity() > retained {
            self.message = Vec::new();
        }
        if self.text.is_empty() && self.text.capacity() > retained {
            self.text = String::new();
        }
    }

    /// Whether it holds any heap memory.
    pub(super) fn holds_memory(&self) -> bool {
        self.message.capacity() != 0 || self.text.capacity() != 0
    }

    /// The rules for a data frame's header that depend on the message in
    /// progress; every check before any change. Returns whether the frame
    /// is text and whether it is compressed.
    #[inline(always)]
    pub(super) fn admit(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv1: bool,
        len: usize,
        config: &Config,
    ) -> Result<(bool, bool), ProtocolError> {
        if opcode == OpCode::Continuation {
            let Some(kind) = self.receiving else {
                return Err(ProtocolError::UnexpectedContinuation);
            };
            // A compressed payload's size says little about the message's:
            // that limit is applied while inflating.
            let compressed = self.compressed;
            if len > config.max_message_size.saturating_sub(self.size) && !compressed {
                return Err(ProtocolError::MessageTooLarge);
            }
            if self.fragments >= config.max_fragments {
                return Err(ProtocolError::TooManyFragments);
            }
            self.fragments += 1;
            if !compressed {
                self.size += len;
            }
            if fin {
                self.receiving = None;
            }
            return Ok((kind == Kind::Text, compressed));
        }
        if self.receiving.is_some() {
            return Err(ProtocolError::ExpectedContinuation);
        }
        let compressed = rsv1;
        if len > config.max_message_size && !compressed {
            return Err(ProtocolError::MessageTooLarge);
        }
        let text = opcode == OpCode::Text;
        // The validator needs no reset: a text message that went through
        // it ended on a character boundary (or failed the connection).
        debug_assert!(self.utf8.is_complete());
        if !fin {
            self.receiving = Some(if text { Kind::Text } else { Kind::Binary });
            self.compressed = compressed;
            self.fragments = 1;
        }
        self.size = if compressed { 0 } else { len };
        Ok((text, compressed))
    }

    /// Takes what it can of `payload`, the unmasked bytes of `frame` that
    /// have arrived (at most `frame.len`, the bytes it has left), which are
    /// at `at` in the receive buffer.
    #[inline]
    pub(super) fn data(
        &mut self,
        frame: &InFrame,
        payload: &[u8],
        at: Range<usize>,
        config: &Config,
    ) -> Result<Used, ProtocolError> {
        let arrived = payload.len() == frame.len;
        if let Some(max_part) = config.receive_parts {
            // A part holds at least one code point.
            let max_part = max_part.max(4);
            return if frame.compressed {
                self.inflate_part(frame, payload, config, max_part)
            } else if frame.text {
                self.text_part(frame, payload, max_part)
            } else {
                Ok(self.binary_part(frame, at, max_part))
            };
        }
        if frame.compressed {
            return self.inflate_whole(frame, payload, config);
        }
        if frame.text {
            // Text: its characters join `text` as they come.
            self.reserve_text(frame, payload.len(), config.max_message_size);
            self.feed(payload)?;
            let step = if !arrived {
                Step::NeedMore
            } else if frame.fin {
                self.finish()?;
                Step::Ready(Found::Text)
            } else {
                Step::NextFrame
            };
            return Ok(used(payload.len(), arrived, step));
        }
        if !arrived {
            // Binary waits in the buffer until its frame is all here.
            return Ok(used(0, false, Step::Wait));
        }
        grow_within(&mut self.message, frame.len, config.max_message_size);
        self.message.extend_from_slice(payload);
        let step = if frame.fin {
            self.delivered = true;
            Step::Ready(Found::Binary)
        } else {
            Step::NextFrame
        };
        Ok(used(frame.len, true, step))
    }

    /// Checks text and appends its characters to `text`, a block at a
    /// time: each block is copied while the check has just brought it
    /// into the first-level cache.
    fn feed(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        for block in bytes.chunks(TEXT_BLOCK) {
            self.utf8
                .feed_into(block, &mut self.text)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }

    /// The text message ends: it must end on a character boundary.
    fn finish(&mut self) -> Result<(), ProtocolError> {
        self.delivered = true;
        self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)
    }

    /// Makes room in `text` for `available` more bytes of `frame`'s payload
    /// when it is full: room for the rest of the frame, but never more than
    /// eight times what came of it so far (at least 256 KiB), so that a
    /// bare header cannot make us allocate a frame's worth and small reads
    /// grow it in few steps.
    fn reserve_text(&mut self, frame: &InFrame, available: usize, limit: usize) {
        if self.text.len() + available > self.text.capacity() {
            let seen = (frame.consumed + available).max(32 << 10);
            let room = frame.len.min(seen.saturating_mul(8));
            if let Some(more) = growth(self.text.len(), self.text.capacity(), room, limit) {
                self.text.reserve_exact(more);
            }
        }
    }

    /// Parts mode, binary: what is here, in place, up to the bound.
    fn binary_part(&mut self, frame: &InFrame, at: Range<usize>, max_part: usize) -> Used {
        let n = at.len().min(max_part);
        let frame_over = n == frame.len;
        if n == 0 && !frame_over {
            return used(0, false, Step::NeedMore);
        }
        if n == 0 && !frame.fin {
            // An empty non-final frame carries no part.
            return used(0, true, Step::NextFrame);
        }
        let last = frame_over && frame.fin;
        used(
            n,
            frame_over,
            Step::Ready(Found::BinaryPart(At::Buf(at.start..at.start + n), last)),
        )
    }

    /// Parts mode, text: the characters of what is here, up to the bound;
    /// a character cut by the end of what arrived (or of its frame) waits
    /// in the validator for its next bytes.
    fn text_part(
        &mut self,
        frame: &InFrame,
        payload: &[u8],
        max_part: usize,
    ) -> Result<Used, ProtocolError> {
        // The validator's unfinished character joins the part it ends.
        let n = payload.len().min(max_part - self.utf8.incomplete_len());
        self.feed(&payload[..n])?;
        let frame_over = n == frame.len;
        let last = frame_over && frame.fin;
        if last {
            self.finish()?;
        } else if self.text.is_empty() {
            let step = if frame_over {
                Step::NextFrame
            } else {
                Step::NeedMore
            };
            return Ok(used(n, frame_over, step));
        }
        self.delivered = true;
        Ok(used(n, frame_over, Step::Ready(Found::TextPart(last))))
    }

    /// Whole-message mode, compressed: inflates what arrived onto the
    /// message (text: a block at a time through the validator into `text`).
    /// RFC 7692 §7.2.2: the payloads of all frames of the message are
    /// inflated as one stream, the tail appended at its end. The message
    /// limit applies to the inflated size.
    fn inflate_whole(
        &mut self,
        frame: &InFrame,
        payload: &[u8],
        config: &Config,
    ) -> Result<Used, ProtocolError> {
        let arrived = payload.len() == frame.len;
        let fin = frame.fin && arrived;
        if payload.is_empty() && !arrived {
            return Ok(used(0, false, Step::NeedMore));
        }
        let limit = config.max_message_size;
        if frame.text {
            self.inflate_text(payload, fin, limit)?;
        } else if let Some(inflater) = self.inflater.as_mut() {
            inflater.inflate(payload, fin, &mut self.message, limit)?;
        }
        let step = if !arrived {
            Step::NeedMore
        } else if !frame.fin {
            Step::NextFrame
        } else if frame.text {
            self.finish()?;
            Step::Ready(Found::Text)
        } else {
            self.delivered = true;
            Step::Ready(Found::Binary)
        };
        Ok(used(payload.len(), arrived, step))
    }

    /// Inflates the next payload bytes of a compressed text message, a
    /// block at a time through the validator into `text`.
    fn inflate_text(
        &mut self,
        payload: &[u8],
        fin: bool,
        limit: usize,
    ) -> Result<(), ProtocolError> {
        // Compressed frames are admitted only with an inflater.
        let Some(inflater) = self.inflater.as_mut() else {
            return Ok(());
        };
        let mut consumed = 0;
        loop {
            // Never past the message limit plus one byte, so that the
            // error does not depend on how the input arrived.
            let left = limit.saturating_sub(self.size).saturating_add(1);
            let room = left.min(INFLATE_TEXT_BLOCK);
            let result = inflater.inflate_part(&payload[consumed..], fin, &mut self.message, room);
            // What was inflated before a failure is checked first: the
            // error must not depend on how far the input had arrived.
            check_inflated(&mut self.utf8, &mut self.message, &mut self.text)?;
            let progress = result?;
            consumed += progress.consumed;
            self.size = self.size.saturating_add(progress.produced);
            if self.size > limit {
                return Err(ProtocolError::MessageTooLarge);
            }
            // Below its room the inflater stops only with all the input
            // used and nothing held back.
            if progress.produced < room {
                return Ok(());
            }
        }
    }

    /// Parts mode, compressed: inflates what is here into a part of at most
    /// `max_part` bytes, and hands out what is complete.
    fn inflate_part(
        &mut self,
        frame: &InFrame,
        payload: &[u8],
        config: &Config,
        max_part: usize,
    ) -> Result<Used, ProtocolError> {
        let Some(inflater) = self.inflater.as_mut() else {
            return Err(ProtocolError::ReservedBits);
        };
        let fin = frame.fin && payload.len() == frame.len;
        // Never inflate past the message limit plus one byte, so that the
        // error does not depend on how the input arrived.
        let left = config
            .max_message_size
            .saturating_sub(self.size)
            .saturating_add(1);
        // Text: the validator's unfinished character joins the part.
        let held_back = if frame.text {
            self.utf8.incomplete_len()
        } else {
            0
        };
        let room = (max_part - held_back).min(left);
        let result = inflater.inflate_part(payload, fin, &mut self.message, room);
        if frame.text {
            // What was inflated before a failure is checked first.
            check_inflated(&mut self.utf8, &mut self.message, &mut self.text)?;
        }
        let progress = result?;
        self.size = self.size.saturating_add(progress.produced);
        if self.size > config.max_message_size {
            return Err(ProtocolError::MessageTooLarge);
        }
        let n = progress.consumed;
        if fin && progress.done {
            if frame.text {
                self.finish()?;
            }
            self.delivered = true;
            return Ok(used(n, true, Step::Ready(inflated_part(frame.text, true))));
        }
        // A full room: the inflater may hold more output of the bytes it
        // took, or corrupt data in them. The frame stays current until it
        // has given everything, so that all of it comes before anything of
        // the next frame (its header, a control frame), however cut.
        let held = progress.produced == room;
        let used_up = n == frame.len && !held;
        let frame_over = used_up && !fin;
        let ready = if frame.text {
            !self.text.is_empty()
        } else {
            !self.message.is_empty()
        };
        if ready {
            self.delivered = true;
            return Ok(used(
                n,
                frame_over,
                Step::Ready(inflated_part(frame.text, false)),
            ));
        }
        let step = if held || used_up && !frame.fin {
            Step::NextFrame
        } else {
            Step::NeedMore
        };
        Ok(used(n, frame_over, step))
    }
}

/// Checks inflated text and moves its characters from `inflated` to `text`
/// (the validator keeps an unfinished one), leaving `inflated` empty.
fn check_inflated(
    utf8: &mut Utf8Validator,
    inflated: &mut Vec<u8>,
    text: &mut String,
) -> Result<(), ProtocolError> {
    let checked = utf8.feed_into(inflated, text);
    inflated.clear();
    checked.map_err(|_| ProtocolError::InvalidUtf8)
}

fn used(bytes: usize, frame_over: bool, step: Step) -> Used {
    Used {
        bytes,
        frame_over,
        step,
    }
}

/// An inflated part of a text message (in `text`) or a binary one (in
/// `message`).
fn inflated_part(text: bool, last: bool) -> Found {
    if text {
        Found::TextPart(last)
    } else {
        Found::BinaryPart(At::Message, last)
    }
}

/// Makes room for `additional` more bytes, doubling as usual but never past
/// `limit` (which the caller has checked the new length against), so that a
/// message's buffer stays within the configured maximum.
fn grow_within(buf: &mut Vec<u8>, additional: usize, limit: usize) {
    if let Some(more) = growth(buf.len(), buf.capacity(), additional, limit) {
        buf.reserve_exact(more);
    }
}

/// How much to reserve past `len` for `additional` more bytes: none if they
/// fit, else at least double the capacity but not past `limit`.
fn growth(len: usize, capacity: usize, additional: usize, limit: usize) -> Option<usize> {
    let needed = len + additional;
    (needed > capacity).then(|| needed.max(capacity * 2).min(limit.max(needed)) - len)
}

#[cfg(test)]
mod tests {
    use alloc::format;
    use alloc::string::String;
    use alloc::vec::Vec;

    use crate::{Config, Connection, Polled, Role};

    /// A client's frame (masked, with a key of zeros) of under 126 bytes.
    fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::from([b0, 0x80 | payload.len() as u8, 0, 0, 0, 0]);
        f.extend_from_slice(payload);
        f
    }

    /// The events of a server receiving in parts of `max_part` bytes, set
    /// on the field (the builder would raise a bound under 4), fed
    /// `pieces`.
    fn events(max_part: usize, pieces: &[&[u8]]) -> Vec<String> {
        let config = Config {
            receive_parts: Some(max_part),
            ..Config::default()
        };
        let mut conn = Connection::new_open(Role::Server, config);
        let (mut got, mut out) = (Vec::new(), Vec::new());
        for piece in pieces {
            conn.receive(piece);
            loop {
                match conn.poll_event(&mut out) {
                    Polled::Event(event, _) => got.push(format!("{event:?}")),
                    Polled::Failed(e) => got.push(format!("{e:?}")),
                    _ => break,
                }
            }
        }
        assert!(out.is_empty());
        got
    }

    /// Whole, byte by byte and split in two at every point.
    fn feeds(input: &[u8]) -> Vec<Vec<&[u8]>> {
        let mut all = Vec::from([Vec::from([input]), input.chunks(1).collect()]);
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            all.push(Vec::from([a, b]));
        }
        all
    }

    /// "é😀" with the frame boundary after byte 4, inside the 😀, with part
    /// bounds of 0 to 4: the same two parts each way. With a bound of 1
    /// the carry took all 4 bytes of the first frame and finishing it
    /// subtracted 4 from the sequence length of "é" (2): a panic.
    #[test]
    fn a_bound_under_4_is_taken_as_4() {
        let text = "é😀".as_bytes();
        let input = [frame(0x01, &text[..4]), frame(0x80, &text[4..])].concat();
        let want = [
            "TextPart { part: \"é\", last: false }",
            "TextPart { part: \"😀\", last: true }",
        ];
        for max_part in 0..=4 {
            for feed in feeds(&input) {
                assert_eq!(events(max_part, &feed), want, "bound {max_part}");
            }
        }
    }

    /// Bounds under 4, every character length, in one frame and across
    /// frames, text and binary: parts of at most 4 bytes, never empty
    /// unless the last, and the message whatever the split.
    #[test]
    fn parts_under_a_bound_under_4() {
        let text = "a😀😀é€b".as_bytes();
        let inputs = [
            (true, frame(0x81, text)),
            (
                true,
                [frame(0x01, &text[..6]), frame(0x80, &text[6..])].concat(),
            ),
            (
                true,
                [
                    frame(0x01, &text[..9]),
                    frame(0x00, &text[9..10]),
                    frame(0x80, &text[10..]),
                ]
                .concat(),
            ),
            (
                false,
                [frame(0x02, &text[..5]), frame(0x80, &text[5..])].concat(),
            ),
        ];
        for (is_text, input) in &inputs {
            for max_part in 0..4 {
                for feed in feeds(input) {
                    let config = Config {
                        receive_parts: Some(max_part),
                        ..Config::default()
                    };
                    let mut conn = Connection::new_open(Role::Server, config);
                    let mut joined = Vec::new();
                    let mut ended = false;
                    for piece in &feed {
                        conn.receive(piece);
                        loop {
                            let (part, fin) = match conn.poll_event(&mut Vec::new()) {
                                Polled::Event(crate::Event::TextPart { part: t, last: fin }, _) => {
                                    assert!(*is_text);
                                    (t.as_bytes(), fin)
                                }
                                Polled::Event(
                                    crate::Event::BinaryPart { part: b, last: fin },
                                    _,
                                ) => {
                                    assert!(!*is_text);
                                    (b, fin)
                                }
                                Polled::NeedMore => break,
                                other => panic!("{other:?}"),
                            };
                            assert!(part.len() <= 4, "bound {max_part}: {part:?}");
                            assert!(fin || !part.is_empty());
                            joined.extend_from_slice(part);
                            ended |= fin;
                        }
                    }
                    assert!(ended && joined == text, "bound {max_part}");
                }
            }
        }
    }
}
