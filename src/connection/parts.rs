//! Receiving messages in parts ([`Config::receive_parts`]): each data
//! frame's payload is handed out as it arrives, cut from what is buffered
//! (never at more than the part bound, never inside a UTF-8 code point),
//! unmasked in place, so that a connection holds no more than one read and
//! one part whatever the size of the message. Returns values; never changes
//! the connection's state.
//!
//! What does not depend on how the bytes were split into reads: join each
//! message's parts, in order, into one message where its last part (`fin`)
//! comes, and the events are exactly those of whole-message mode for the
//! same bytes (the same messages, control frames and Close, in the same
//! order, and the same error with the same close code); the bytes queued
//! in `out` and the connection's state are the same too. What does depend
//! on the reads: how many parts a message comes in and where they are cut
//! (a part holds what had arrived of its frame, or what the inflater gave
//! of it, up to the bound), and how much of a message that a failure
//! interrupts was handed out before it (always a prefix of its bytes).

use core::ops::Range;

use super::incoming::{InFrame, PartAt, Ready, Step};
use super::recv::Receiver;
use crate::config::Config;
use crate::wire::ProtocolError;
use crate::wire::mask::apply_mask;
use crate::wire::utf8::{is_boundary, sequence_len};

impl Receiver {
    /// The next part of the data frame `frame`, whose header is consumed:
    /// `frame.len` payload bytes remain from `pos`, the first `frame.done`
    /// of them unmasked (and, for uncompressed text, validated) already.
    pub(super) fn read_part(
        &mut self,
        mut frame: InFrame,
        config: &Config,
        max_part: usize,
    ) -> Result<Step, ProtocolError> {
        // A part holds at least one code point: a bound under 4 bytes (the
        // field may be set without the builder, which raises it) is taken
        // as 4. Then a part is never empty while a whole code point is
        // here, which the carry below relies on.
        let max_part = max_part.max(4);
        let text = self.is_text(&frame);
        let available = self.unread().min(frame.len);
        if available > frame.done {
            let new = self.pos + frame.done..self.pos + available;
            if let Some(key) = frame.mask {
                apply_mask(&mut self.buf[new.clone()], key, frame.consumed + frame.done);
            }
            // Fail at the first invalid byte (RFC 6455 §8.1).
            if text && !frame.compressed {
                self.utf8
                    .feed(&self.buf[new])
                    .map_err(|_| ProtocolError::InvalidUtf8)?;
            }
            frame.done = available;
        }
        if frame.compressed {
            return self.inflate_part(frame, config, max_part, text);
        }
        if self.carry_len > 0 {
            return self.complete_carry(frame);
        }
        // Hand out what is here, less an unfinished code point at its end.
        let tail = if text {
            self.utf8.incomplete_len().min(frame.done)
        } else {
            0
        };
        let mut n = (frame.done - tail).min(max_part);
        if text && n < frame.done - tail {
            // Cut by the part bound: back up to a code point's start.
            n = code_point_start(&self.buf[self.pos..], n);
        }
        if n == 0 {
            if tail > 0 && frame.done == frame.len && frame.fin {
                // The message ends inside a code point.
                return Err(ProtocolError::InvalidUtf8);
            }
            if frame.len == 0 && frame.fin {
                // An empty last frame ends the message with an empty part.
                return self.end_part(frame, text, self.pos..self.pos);
            }
            if frame.len > 0 && frame.done == frame.len && !frame.fin {
                // The frame's last bytes start a code point that the next
                // frame finishes: keep them aside. They are all of `done`
                // (`n` is 0, and with a bound of at least 4 it is 0 only
                // when no whole code point is here: `done == tail`), so at
                // most 3 bytes, fewer than their lead byte announces.
                let (pos, len) = (self.pos, frame.len);
                self.carry[..len].copy_from_slice(&self.buf[pos..pos + len]);
                self.carry_len = len as u8; // at most 3
                self.consume(&mut frame, len);
            }
            if frame.len == 0 {
                // An empty non-final frame carries no part.
                self.frame = None;
                return Ok(Step::NextFrame);
            }
            self.frame = Some(frame);
            return Ok(Step::NeedMore);
        }
        let range = self.pos..self.pos + n;
        self.consume(&mut frame, n);
        if frame.len == 0 && frame.fin {
            return self.end_part(frame, text, range);
        }
        self.frame = (frame.len > 0).then_some(frame);
        Ok(Step::Ready(part(text, PartAt::Buf(range), false)))
    }

    /// Consumes `n` payload bytes of `frame` at `pos`.
    fn consume(&mut self, frame: &mut InFrame, n: usize) {
        self.pos += n;
        frame.len -= n;
        frame.done -= n;
        frame.consumed += n;
    }

    /// The message's last part: checks it ends on a code point.
    fn end_part(
        &mut self,
        frame: InFrame,
        text: bool,
        range: Range<usize>,
    ) -> Result<Step, ProtocolError> {
        debug_assert!(frame.len == 0 && frame.fin);
        self.frame = None;
        self.receiving = None;
        if text {
            self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(Step::Ready(part(text, PartAt::Buf(range), true)))
    }

    /// A code point began in an earlier frame: finish it from this one and
    /// hand it out on its own (a part of 2 to 4 bytes). The carry holds
    /// 1 to 3 bytes, fewer than its lead byte announces (see `read_part`),
    /// so `need` is 1 to 3 and the carry never grows past 4 bytes.
    fn complete_carry(&mut self, mut frame: InFrame) -> Result<Step, ProtocolError> {
        let need = sequence_len(self.carry[0]) - usize::from(self.carry_len);
        let take = need.min(frame.done);
        let (pos, have) = (self.pos, usize::from(self.carry_len));
        self.carry[have..have + take].copy_from_slice(&self.buf[pos..pos + take]);
        self.carry_len += take as u8; // at most 3
        self.consume(&mut frame, take);
        if take == need {
            // Whole: hand it out (validated by the validator already).
            let fin = frame.len == 0 && frame.fin;
            self.frame = (frame.len > 0).then_some(frame);
            self.carry_delivered = true;
            if fin {
                self.receiving = None;
                self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
            }
            return Ok(Step::Ready(part(true, PartAt::Carry, fin)));
        }
        if frame.len == 0 {
            if frame.fin {
                // The message ended inside a code point.
                return Err(ProtocolError::InvalidUtf8);
            }
            self.frame = None;
            return Ok(Step::NextFrame);
        }
        self.frame = Some(frame);
        Ok(Step::NeedMore)
    }

    /// Compressed: inflates what is buffered into the part buffer
    /// (`message`), at most `max_part` bytes, and hands out what is complete.
    fn inflate_part(
        &mut self,
        mut frame: InFrame,
        config: &Config,
        max_part: usize,
        text: bool,
    ) -> Result<Step, ProtocolError> {
        let Some(inflater) = self.inflater.as_mut() else {
            return Err(ProtocolError::ReservedBits);
        };
        let input_complete = frame.done == frame.len;
        let fin = frame.fin && input_complete;
        // Never inflate past the message limit plus one byte, so that the
        // error does not depend on how the input arrived.
        let left = config
            .max_message_size
            .saturating_sub(self.inflated)
            .saturating_add(1);
        let room = max_part.saturating_sub(self.message.len()).max(1).min(left);
        let before = self.message.len();
        let input = &self.buf[self.pos..self.pos + frame.done];
        let result = inflater.inflate_part(input, fin, &mut self.message, room);
        // What was inflated before a failure is checked first, likewise.
        if text {
            self.utf8
                .feed(&self.message[before..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        let progress = result?;
        self.consume(&mut frame, progress.consumed);
        self.inflated = self.inflated.saturating_add(progress.produced);
        if self.inflated > config.max_message_size {
            return Err(ProtocolError::MessageTooLarge);
        }
        if fin && progress.done {
            self.frame = None;
            self.receiving = None;
            self.inflated = 0;
            if text {
                self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
            }
            let all = self.message.len();
            self.part_delivered = all;
            return Ok(Step::Ready(part(text, PartAt::Message(0..all), true)));
        }
        let tail = if text { self.utf8.incomplete_len() } else { 0 };
        let ready = self.message.len().saturating_sub(tail);
        // A full room: the inflater may hold more output of the bytes it
        // took, or corrupt data in them. The frame stays current until it
        // has given everything, so that all of it comes before anything of
        // the next frame (its header, a control frame), however cut.
        let held = progress.produced == room;
        let used_up = frame.len == 0 && !held;
        self.frame = (!used_up || fin).then_some(frame);
        if ready > 0 {
            self.part_delivered = ready;
            return Ok(Step::Ready(part(text, PartAt::Message(0..ready), false)));
        }
        if held || used_up && !frame.fin {
            return Ok(Step::NextFrame);
        }
        Ok(Step::NeedMore)
    }
}

/// The start of the code point that holds `text[n]`: `n`, or the nearest
/// character start before it (`text[0]` starts one).
fn code_point_start(text: &[u8], mut n: usize) -> usize {
    while n > 0 && !is_boundary(text[n]) {
        n -= 1;
    }
    n
}

/// A part of a text or binary message.
fn part(text: bool, at: PartAt, fin: bool) -> Ready {
    if text {
        Ready::TextPart(at, fin)
    } else {
        Ready::BinaryPart(at, fin)
    }
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
