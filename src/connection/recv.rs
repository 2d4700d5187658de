//! The receive side: bytes in, frames parsed, payloads unmasked, fragments
//! reassembled, UTF-8 checked, limits applied. Everything here returns
//! values ([`Ready`], [`ProtocolError`]); the connection's state is changed
//! only by its caller in `mod.rs`.

use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use super::incoming::{self, InFrame, Payload, Ready, Step};
use crate::config::Config;
use crate::deflate::{Held, Inflater};
use crate::wire::ProtocolError;
use crate::wire::close::CloseFrame;
use crate::wire::frame::{FrameHeader, OpCode};
use crate::wire::mask::{apply_mask, mask_into};
use crate::wire::utf8::Utf8Validator;

/// The kind of a data message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    Binary,
}

/// Received bytes and the state of the frame and message being received.
#[derive(Debug, Default)]
pub(super) struct Receiver {
    /// Received bytes are `buf[..end]`; `buf[pos..end]` is not consumed
    /// yet. `buf[end..]` is room kept from earlier reads (initialised, so
    /// a read straight into it needs no zero-filling first).
    pub(super) buf: Vec<u8>,
    pub(super) pos: usize,
    pub(super) end: usize,
    /// The fragmented message being reassembled (binary, or inflated).
    pub(super) message: Vec<u8>,
    /// The text message being received, when it did not arrive in one
    /// piece: checked characters only (see [`Payload::Text`]).
    pub(super) text: String,
    /// Payload state of the frame being received, if its header is parsed.
    pub(super) frame: Option<InFrame>,
    /// Kind of the fragmented message being received, if any.
    pub(super) receiving: Option<Kind>,
    /// Frames of that message so far.
    fragments: usize,
    /// UTF-8 state of the text message being received.
    pub(super) utf8: Utf8Validator,
    /// `message` was handed out in the last event; clear it next call.
    pub(super) message_delivered: bool,
    /// The fragmented message being received is compressed.
    receiving_compressed: bool,
    /// Parts mode: a code point begun at the end of one frame, finished
    /// from the next (`carry_len` bytes), and whether it was handed out.
    pub(super) carry: [u8; 4],
    pub(super) carry_len: u8,
    pub(super) carry_delivered: bool,
    /// Parts mode: bytes at the front of `message` handed out in the last
    /// event (inflated parts); the rest is an unfinished code point.
    pub(super) part_delivered: usize,
    /// Parts mode: bytes of the message so far (inflated, if compressed),
    /// for the message limit.
    pub(super) inflated: usize,
    /// Since the last drain between messages, a read or a message needed
    /// more than `retained_buffer`: buffers grown for it are kept, as the
    /// next ones will likely need them too.
    needed_large: bool,
    /// permessage-deflate was negotiated: the peer's compressed messages
    /// are inflated here (boxed: only negotiated connections pay for it).
    pub(super) inflater: Option<Held<Inflater>>,
}

impl Receiver {
    /// Bytes buffered and not consumed yet.
    pub(super) fn unread(&self) -> usize {
        self.end - self.pos
    }

    /// The bytes received and kept.
    pub(super) fn received(&self) -> &[u8] {
        &self.buf[..self.end]
    }

    /// Appends received bytes, first moving the unread tail to the front
    /// once it is no larger than what was consumed (amortised linear
    /// however the bytes arrive). `keep` bytes at the front are never moved.
    pub(super) fn push(&mut self, bytes: &[u8], keep: usize) {
        self.compact(keep);
        self.buf.truncate(self.end);
        self.buf.extend_from_slice(bytes);
        self.end = self.buf.len();
    }

    /// Makes `len` bytes of room after the received bytes for a read
    /// straight into it, and returns where that room starts. Only room
    /// never used before is zero-filled (no `unsafe` here to skip it);
    /// move `end` past the bytes read after.
    pub(super) fn room(&mut self, len: usize, keep: usize) -> usize {
        self.compact(keep);
        if self.buf.len() < self.end + len {
            self.buf.resize(self.end + len, 0);
        }
        self.end
    }

    /// Moves the unread bytes to the front once they are no more than what
    /// was consumed (amortised linear however bytes arrive); `keep` bytes at
    /// the front are never moved.
    fn compact(&mut self, keep: usize) {
        if keep == 0 {
            let unread = self.unread();
            if unread == 0 {
                self.end = 0;
                self.pos = 0;
            } else if self.pos >= unread {
                self.buf.copy_within(self.pos..self.end, 0);
                self.end = unread;
                self.pos = 0;
            }
        }
    }

    /// Called at the start of each poll: a reassembled message handed out
    /// by the previous event is no longer borrowed, so its buffer is reused
    /// (and kept, if the message was larger than `retained`).
    pub(super) fn recycle(&mut self, retained: usize) {
        if self.carry_delivered {
            self.carry_delivered = false;
            self.carry_len = 0;
        }
        if self.part_delivered > 0 {
            self.message.drain(..self.part_delivered);
            self.part_delivered = 0;
        }
        if self.message_delivered {
            self.message_delivered = false;
            if self.message.len().max(self.text.len()) > retained {
                self.needed_large = true;
            }
            self.message.clear();
            self.text.clear();
        }
    }

    /// Everything buffered is consumed. Buffers grown past `retained` are
    /// kept while reads or messages keep needing them (none is allocated
    /// per message in steady state), and freed at the first drain between
    /// messages that none did since the last: after a small read or
    /// message that follows large ones.
    pub(super) fn compact_if_drained(&mut self, retained: usize) {
        if self.pos == self.end {
            // What was buffered, or the room a read was given.
            self.needed_large |= self.buf.len() > retained;
            self.end = 0;
            self.pos = 0;
            if self.frame.is_none() && self.receiving.is_none() {
                if !self.needed_large {
                    self.shrink(retained);
                }
                self.needed_large = false;
            }
        }
    }

    /// Frees each buffer grown past `retained` that holds nothing now.
    pub(super) fn shrink(&mut self, retained: usize) {
        if self.pos == self.end && self.buf.capacity() > retained {
            self.buf = Vec::new();
            self.end = 0;
            self.pos = 0;
        }
        if self.message.is_empty() && self.message.capacity() > retained {
            self.message = Vec::new();
        }
        if self.text.is_empty() && self.text.capacity() > retained {
            self.text = String::new();
        }
    }

    /// Frees every buffer of a connection that will read no more.
    pub(super) fn release(&mut self) {
        *self = Self::default();
    }

    /// Whether RSV1 may mark a message as compressed.
    fn compression_negotiated(&self) -> bool {
        self.inflater.is_some()
    }

    /// Inflates `buf[range]`, payload bytes of a compressed message, onto
    /// `message`, checking the new text as it comes; `fin`: the message's
    /// last bytes. The message limit applies to the inflated size.
    fn inflate(
        &mut self,
        range: Range<usize>,
        fin: bool,
        text: bool,
        config: &Config,
    ) -> Result<(), ProtocolError> {
        let Some(inflater) = self.inflater.as_mut() else {
            return Err(ProtocolError::ReservedBits);
        };
        let before = self.message.len();
        let input = &self.buf[range];
        let inflated = inflater.inflate(input, fin, &mut self.message, config.max_message_size);
        // What was inflated before a failure is checked first: the error
        // must not depend on how far the input had arrived.
        if text {
            self.utf8
                .feed(&self.message[before..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(inflated?)
    }

    /// Whether this receiver holds any heap memory.
    pub(super) fn holds_memory(&self) -> bool {
        self.buf.capacity() != 0 || self.message.capacity() != 0 || self.text.capacity() != 0
    }

    /// The common case, taken before the general path: a whole unfragmented
    /// Text or Binary frame of at most 125 bytes, masked as it should be,
    /// with no fragmented message in progress. Anything else, including every
    /// error, is left to [`read_frames`](Self::read_frames). Returns whether
    /// it is text, and where its payload is.
    #[inline]
    pub(super) fn read_small_message(
        &mut self,
        config: &Config,
        client: bool,
    ) -> Option<(bool, Range<usize>)> {
        if self.message_delivered
            || self.frame.is_some()
            || self.receiving.is_some()
            || config.receive_parts.is_some()
        {
            return None;
        }
        let buf = &mut self.buf[self.pos..self.end];
        let [b0, b1, ..] = *buf else { return None };
        let len = (b1 & 0x7F) as usize;
        let masked = b1 & 0x80 != 0;
        let limit = config.max_frame_size.min(config.max_message_size);
        if !matches!(b0, 0x81 | 0x82) || len > 125 || len > limit || masked == client {
            return None;
        }
        let header_len = if masked { 6 } else { 2 };
        let (header, rest) = buf.split_at_mut_checked(header_len)?;
        let payload = rest.get_mut(..len)?;
        if let [_, _, k0, k1, k2, k3] = *header {
            apply_mask(payload, [k0, k1, k2, k3], 0);
        }
        let start = self.pos + header_len;
        self.pos = start + len;
        Some((b0 == 0x81, start..start + len))
    }

    /// Parses frames until one yields something to report or the buffered
    /// bytes run out (`Ok(None)`).
    pub(super) fn read_frames(
        &mut self,
        config: &Config,
        client: bool,
    ) -> Result<Option<Ready>, ProtocolError> {
        loop {
            let mut frame = match self.frame {
                Some(frame) => frame,
                None => {
                    let Some((header, n)) = FrameHeader::parse(&self.buf[self.pos..self.end])?
                    else {
                        return Ok(None);
                    };
                    let frame = self.check_header(&header, config, client)?;
                    self.pos += n;
                    frame
                }
            };
            if let Some(max_part) = config.receive_parts
                && incoming::is_data(frame.opcode)
            {
                match self.read_part(frame, config, max_part)? {
                    Step::Ready(ready) => return Ok(Some(ready)),
                    Step::NextFrame => continue,
                    Step::NeedMore => return Ok(None),
                }
            }
            let available = self.unread().min(frame.len);
            let start = self.pos;
            if available < frame.len && frame.text {
                // Uncompressed text that is not all here: check what came
                // (bad UTF-8 fails the connection at once, RFC 6455 §8.1)
                // and move its characters into `text`, so that the buffer
                // holds no more than a read. (Usually `take_text` has taken
                // such bytes before they reached the buffer.)
                if let Some(key) = frame.mask {
                    apply_mask(&mut self.buf[start..start + available], key, frame.consumed);
                }
                self.text_room(&frame, available, config);
                self.utf8
                    .feed_into(&self.buf[start..start + available], &mut self.text)
                    .map_err(|_| ProtocolError::InvalidUtf8)?;
                self.pos += available;
                frame.len -= available;
                frame.consumed += available;
                self.frame = Some(frame);
                return Ok(None);
            }
            if available < frame.len {
                // Make room for the rest of the frame at once, so that the
                // buffer is not regrown (and copied) again and again as the
                // payload arrives. Only once an eighth of it is here (or the
                // rest is small): a bare header cannot make us allocate a
                // frame's worth of memory.
                let missing = frame.len - available;
                if missing <= 8 * self.unread().max(32 << 10) {
                    let room = self.buf.len() - self.end;
                    self.buf.reserve_exact(missing.saturating_sub(room));
                }
                // Part of a compressed payload (uncompressed text took the
                // branch above): unmask and inflate what arrived, so that
                // corrupt data or bad UTF-8 fails the connection at once
                // (RFC 6455 §8.1).
                if frame.compressed && available > frame.done {
                    let new = start + frame.done..start + available;
                    if let Some(key) = frame.mask {
                        apply_mask(&mut self.buf[new.clone()], key, frame.done);
                    }
                    let text = self.is_text(&frame);
                    self.inflate(new, false, text, config)?;
                    frame.done = available;
                }
                self.frame = Some(frame);
                return Ok(None);
            }
            // The whole payload is here.
            self.frame = None;
            let end = start + frame.len;
            self.pos = end;
            let rest = &mut self.buf[start + frame.done..end];
            if let Some(key) = frame.mask {
                apply_mask(rest, key, frame.consumed + frame.done);
            }
            let range = start..end;
            match frame.opcode {
                OpCode::Ping => return Ok(Some(Ready::Ping(range))),
                OpCode::Pong => return Ok(Some(Ready::Pong(range))),
                OpCode::Close => {
                    let close = CloseFrame::parse(&self.buf[range])?;
                    return Ok(Some(Ready::Close(close)));
                }
                _ if frame.compressed => {
                    // RFC 7692 §7.2.2: inflate the payloads of all frames of
                    // the message, the tail appended at its end.
                    let text = self.is_text(&frame);
                    self.inflate(start + frame.done..end, frame.fin, text, config)?;
                    if !frame.fin {
                        continue;
                    }
                    self.receiving = None;
                    self.message_delivered = true;
                    if !text {
                        return Ok(Some(Ready::Binary(Payload::Reassembled)));
                    }
                    self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                    return Ok(Some(Ready::Text(Payload::Reassembled)));
                }
                OpCode::Text | OpCode::Binary if frame.fin && frame.consumed == 0 => {
                    // A whole message in one frame, all here: hand it out in
                    // place. (Text is checked once, by the conversion to
                    // `&str` in `poll_event`.)
                    return Ok(Some(match frame.opcode {
                        OpCode::Text => Ready::Text(Payload::InPlace(range)),
                        _ => Ready::Binary(Payload::InPlace(range)),
                    }));
                }
                _ if frame.text => {
                    // The rest of a text message: its characters join `text`.
                    reserve_within(&mut self.text, frame.len, config.max_message_size);
                    self.utf8
                        .feed_into(&self.buf[range], &mut self.text)
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                    if !frame.fin {
                        continue;
                    }
                    self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                    self.receiving = None;
                    self.message_delivered = true;
                    return Ok(Some(Ready::Text(Payload::Text)));
                }
                OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                    // A binary fragment: append it to the message.
                    grow_within(&mut self.message, frame.len, config.max_message_size);
                    self.message.extend_from_slice(&self.buf[range]);
                    if !frame.fin {
                        continue;
                    }
                    self.receiving = None;
                    self.message_delivered = true;
                    return Ok(Some(Ready::Binary(Payload::Reassembled)));
                }
            }
        }
    }

    /// The header of a frame whose payload goes on past `bytes`, parsed
    /// straight from the caller's bytes when nothing is buffered before
    /// them: then [`take_text`](Self::take_text) takes the text of the read
    /// that starts a frame too, not only of the reads after it, and the
    /// buffer gets no header to copy. Returns the bytes after the header, or
    /// all of them where they hold a whole frame (handed out in place from
    /// the buffer) or a header that is cut, bad or refused: `check_header`
    /// changes nothing when it refuses, and `read_frames` finds the same
    /// error at the same point.
    pub(super) fn take_header<'a>(
        &mut self,
        bytes: &'a [u8],
        config: &Config,
        client: bool,
    ) -> &'a [u8] {
        // A text message handed out from `text` is cleared by the next poll:
        // its successor must not start there before.
        if self.frame.is_some() || self.unread() > 0 || self.message_delivered {
            return bytes;
        }
        let Ok(Some((header, n))) = FrameHeader::parse(bytes) else {
            return bytes;
        };
        if header.payload_len <= (bytes.len() - n) as u64 {
            return bytes;
        }
        match self.check_header(&header, config, client) {
            Ok(frame) => {
                self.frame = Some(frame);
                &bytes[n..]
            }
            Err(_) => bytes,
        }
    }

    /// Uncompressed text arriving over several reads, taken straight from
    /// the caller's bytes when nothing is buffered before them: a server's
    /// unmasked a block at a time (on the stack, or in a block at the front
    /// of `buf` for larger reads; a client's needs no unmasking), checked
    /// and moved into `text`, so the payload is read once and never
    /// buffered in `buf` (the same steps as
    /// [`read_frames`](Self::read_frames) takes for such text, one memory
    /// pass fewer). Returns the bytes not taken: what follows the frame,
    /// or, from a block with bad UTF-8 on, the rest of it, left for
    /// `read_frames` to find the same error at the same point.
    pub(super) fn take_text<'a>(&mut self, bytes: &'a [u8], config: &Config) -> &'a [u8] {
        let Some(mut frame) = self.frame else {
            return bytes;
        };
        if !frame.text || self.unread() > 0 || config.receive_parts.is_some() {
            return bytes;
        }
        let n = bytes.len().min(frame.len);
        self.text_room(&frame, n, config);
        // Where a server unmasks: a block of the read buffer, which holds
        // nothing unread here, once a read brings more than a stack block
        // (zero-filled once, not per read; kept with the text it serves),
        // else a block on the stack.
        let mut stack;
        let block: &mut [u8] = if n > TEXT_BLOCK && frame.mask.is_some() {
            (self.pos, self.end) = (0, 0);
            if self.buf.len() < TEXT_SCRATCH {
                self.buf.resize(TEXT_SCRATCH, 0);
            }
            &mut self.buf[..TEXT_SCRATCH]
        } else {
            stack = [0; TEXT_BLOCK];
            &mut stack
        };
        let mut taken = 0;
        for piece in bytes[..n].chunks(block.len()) {
            let block: &[u8] = match frame.mask {
                Some(key) => {
                    let block = &mut block[..piece.len()];
                    mask_into(piece, block, key, frame.consumed);
                    block
                }
                // A client's text is checked where it is.
                None => piece,
            };
            let (utf8, len) = (self.utf8, self.text.len());
            if self.utf8.feed_into(block, &mut self.text).is_err() {
                // Undone: `text` held whole characters only, so `len` is
                // a character boundary.
                self.utf8 = utf8;
                self.text.truncate(len);
                break;
            }
            taken += piece.len();
            frame.len -= piece.len();
            frame.consumed += piece.len();
        }
        self.frame = Some(frame);
        &bytes[taken..]
    }

    /// Makes room in `text` for `available` more bytes of `frame`'s payload
    /// when it is full: room for the rest of the frame, but never more than
    /// eight times what came of it so far (at least 256 KiB), so that a
    /// bare header cannot make us allocate a frame's worth and small reads
    /// grow it in few steps.
    fn text_room(&mut self, frame: &InFrame, available: usize, config: &Config) {
        if self.text.len() + available > self.text.capacity() {
            let seen = (frame.consumed + available).max(32 << 10);
            let room = frame.len.min(seen.saturating_mul(8));
            reserve_within(&mut self.text, room, config.max_message_size);
        }
    }

    /// Whether a data frame belongs to a text message.
    pub(super) fn is_text(&self, frame: &InFrame) -> bool {
        match frame.opcode {
            OpCode::Text => true,
            OpCode::Continuation => self.receiving == Some(Kind::Text),
            _ => false,
        }
    }

    /// Applies the rules that depend on the connection to a parsed header,
    /// and updates the message being received.
    fn check_header(
        &mut self,
        header: &FrameHeader,
        config: &Config,
        client: bool,
    ) -> Result<InFrame, ProtocolError> {
        // "MUST be 0 unless an extension is negotiated that defines meanings
        // for non-zero values" (§5.2). permessage-deflate defines RSV1 as
        // "Per-Message Compressed", set on the first frame of a message only:
        // "An endpoint MUST NOT set the "Per-Message Compressed" bit of
        // control frames and non-first fragments of a data message" (RFC
        // 7692 §6.1).
        let rsv1 = header.rsv == 0b100;
        let first_data = matches!(header.opcode, OpCode::Text | OpCode::Binary);
        if header.rsv != 0 && !(rsv1 && first_data && self.compression_negotiated()) {
            return Err(ProtocolError::ReservedBits);
        }
        // "a client MUST mask all frames that it sends to the server" and "a
        // server MUST NOT mask any frames that it sends to the client" (§5.1)
        match (client, header.mask.is_some()) {
            (false, false) => return Err(ProtocolError::UnmaskedFrame),
            (true, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if header.payload_len > config.max_frame_size as u64 {
            return Err(ProtocolError::FrameTooLarge);
        }
        // Fits in usize: bounded by max_frame_size.
        let len = header.payload_len as usize;
        let mut text = false;
        let mut compressed = false;
        match header.opcode {
            OpCode::Text | OpCode::Binary => {
                if self.receiving.is_some() {
                    return Err(ProtocolError::ExpectedContinuation);
                }
                // A compressed payload's size says little about the
                // message's: that limit is applied while inflating.
                compressed = rsv1;
                if len > config.max_message_size && !compressed {
                    return Err(ProtocolError::MessageTooLarge);
                }
                let kind = if header.opcode == OpCode::Text {
                    Kind::Text
                } else {
                    Kind::Binary
                };
                if kind == Kind::Text {
                    self.utf8.reset();
                    text = !compressed;
                }
                if !header.fin {
                    self.receiving = Some(kind);
                    self.receiving_compressed = compressed;
                    self.fragments = 1;
                }
                // Parts mode counts the message's bytes as its frames come
                // (a compressed message's as they are inflated).
                self.inflated = if compressed { 0 } else { len };
            }
            OpCode::Continuation => {
                let Some(kind) = self.receiving else {
                    return Err(ProtocolError::UnexpectedContinuation);
                };
                compressed = self.receiving_compressed;
                let so_far = match config.receive_parts {
                    Some(_) => self.inflated,
                    // Text so far: its characters and an unfinished one.
                    None if kind == Kind::Text && !compressed => {
                        self.text.len() + self.utf8.incomplete_len()
                    }
                    None => self.message.len(),
                };
                if len > config.max_message_size.saturating_sub(so_far) && !compressed {
                    return Err(ProtocolError::MessageTooLarge);
                }
                // Every check before any change: a header refused here
                // leaves the receiver as it was (see `take_header`).
                if self.fragments >= config.max_fragments {
                    return Err(ProtocolError::TooManyFragments);
                }
                self.fragments += 1;
                if !compressed {
                    self.inflated += len;
                }
                text = kind == Kind::Text && !compressed;
            }
            OpCode::Close | OpCode::Ping | OpCode::Pong => {}
        }
        Ok(InFrame {
            opcode: header.opcode,
            fin: header.fin,
            mask: header.mask,
            len,
            done: 0,
            text,
            compressed,
            consumed: 0,
        })
    }
}

/// Bytes of text unmasked and checked at a time by
/// [`take_text`](Receiver::take_text) in a block on the stack, for reads
/// that bring no more than this: small enough to stay in the L1 cache.
const TEXT_BLOCK: usize = 4096;
/// Text of a server's larger reads is unmasked in blocks of this size, in
/// the read buffer (measured: 8 KiB beat 4 KiB, and 16 KiB or more lose to
/// the first-level cache).
const TEXT_SCRATCH: usize = 8192;

/// Makes room for `additional` more bytes, doubling as usual but never past
/// `limit` (which the caller has checked the new length against), so that a
/// message's buffer stays within the configured maximum.
fn grow_within(buf: &mut Vec<u8>, additional: usize, limit: usize) {
    if let Some(more) = growth(buf.len(), buf.capacity(), additional, limit) {
        buf.reserve_exact(more);
    }
}

/// [`grow_within`] for the text being received.
fn reserve_within(text: &mut String, additional: usize, limit: usize) {
    if let Some(more) = growth(text.len(), text.capacity(), additional, limit) {
        text.reserve_exact(more);
    }
}

/// How much to reserve past `len` for `additional` more bytes: none if they
/// fit, else at least double the capacity but not past `limit`.
fn growth(len: usize, capacity: usize, additional: usize, limit: usize) -> Option<usize> {
    let needed = len + additional;
    (needed > capacity).then(|| needed.max(capacity * 2).min(limit.max(needed)) - len)
}
