//! The receive pipeline's first half and its buffer: bytes in, frames
//! decoded (each header checked once, each payload byte unmasked once) and
//! their payloads passed to the message assembler (`assemble.rs`); what is
//! ready comes back as values ([`Found`], [`ProtocolError`]), which the
//! connection in `mod.rs` turns into events, making every state change
//! itself.

use super::assemble::Assembler;
pub(super) use super::assemble::Kind;
use super::incoming::{At, Found, InFrame, Step};
use crate::config::Config;
use crate::deflate::{Held, Inflater};
use crate::wire::ProtocolError;
use crate::wire::frame::{FrameHeader, OpCode};
use crate::wire::mask::{apply_mask, mask_into};
use core::ops::Range;

/// Received bytes and the state of the frame and message being received.
#[derive(Debug, Default)]
pub(super) struct Receiver {
    /// Received bytes are `buf[..end]`; `buf[pos..end]` is not consumed
    /// yet. `buf[end..]` is room kept from earlier reads (initialised, so
    /// a read straight into it needs no zero-filling first).
    buf: alloc::vec::Vec<u8>,
    pos: usize,
    end: usize,
    /// The frame whose payload is arriving, if its header is decoded.
    frame: Option<InFrame>,
    /// The message being received.
    asm: Assembler,
    /// Since the last drain between messages, a read or a message needed
    /// more than `retained_buffer`: buffers grown for it are kept, as the
    /// next ones will likely need them too.
    needed_large: bool,
}

impl Receiver {
    /// Bytes buffered and not consumed yet.
    #[inline]
    pub(super) fn unread(&self) -> usize {
        self.end - self.pos
    }

    /// The bytes received and kept.
    #[inline]
    pub(super) fn received(&self) -> &[u8] {
        &self.buf[..self.end]
    }

    /// The receive buffer as a whole, the bytes received and the room
    /// after them: for a sender, which reads a pending request's head at
    /// its front.
    #[inline]
    pub(super) fn kept(&self) -> &[u8] {
        &self.buf
    }

    /// The bytes received and kept, to edit in place (an HTTP head).
    pub(super) fn received_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.end]
    }

    /// The bytes received and not consumed yet.
    #[inline]
    pub(super) fn unread_bytes(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    /// Marks the received bytes up to `pos` as consumed (an HTTP head),
    /// and returns the bytes received.
    pub(super) fn consume_to(&mut self, pos: usize) -> &[u8] {
        self.pos = pos;
        self.received()
    }

    /// The received bytes, and a string to build in that the next call
    /// that reads frames clears (the opening handshake's resource name).
    pub(super) fn received_and_scratch(&mut self) -> (&[u8], &mut alloc::string::String) {
        (&self.buf[..self.end], self.asm.scratch())
    }

    /// Appends received bytes, first moving the unread tail to the front
    /// once it is no larger than what was consumed (amortised linear
    /// however the bytes arrive). `keep` bytes at the front are never moved.
    /// Payload bytes of the frame being received that continue what is
    /// unmasked already are unmasked as they are copied in, in the same
    /// pass (the decoder unmasks the others, once its header is read).
    pub(super) fn push(&mut self, bytes: &[u8], keep: usize, retained: usize) {
        let len = self.room(bytes.len(), keep, retained).len();
        let unread = self.unread();
        let room = &mut self.buf[self.end..self.end + len];
        let unmasked = match &mut self.frame {
            Some(frame) if unread == frame.done => match frame.mask {
                Some(key) => {
                    let n = (frame.len - frame.done).min(len);
                    mask_into(&bytes[..n], room, key, frame.consumed + frame.done);
                    frame.done += n;
                    n
                }
                None => 0,
            },
            _ => 0,
        };
        room[unmasked..].copy_from_slice(&bytes[unmasked..]);
        self.end += len;
    }

    /// `len` bytes of room after the received bytes, for a read straight
    /// into it. Only room never used before is zero-filled (no `unsafe`
    /// here to skip it); [`filled`](Self::filled) then says how much of it
    /// the read filled.
    pub(super) fn room(&mut self, len: usize, keep: usize, retained: usize) -> &mut [u8] {
        self.compact(keep);
        let end = self.end + len;
        // A read (or the room it was given) larger than `retained`: the
        // buffer is kept until a drain between messages that needed none.
        self.needed_large |= end > retained;
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        &mut self.buf[self.end..end]
    }

    /// Payload bytes of the frame in progress that have not arrived yet (0
    /// between frames).
    pub(super) fn frame_missing(&self) -> usize {
        self.frame
            .as_ref()
            .map_or(0, |frame| frame.len.saturating_sub(self.unread()))
    }

    /// The first `n` bytes of the room were read into: received now.
    pub(super) fn filled(&mut self, n: usize) {
        self.end += n;
    }

    /// The last `n` bytes received are dropped after all (none are left
    /// if the receiver was released meanwhile).
    pub(super) fn unfilled(&mut self, n: usize) {
        self.end = self.end.saturating_sub(n);
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

    /// What the last event handed out from the assembler is no longer
    /// borrowed: its buffers are cleared for reuse (and kept, if it was
    /// larger than `retained`). Done before the assembler takes the next
    /// payload, and before buffers are judged for freeing; a message handed
    /// out in place, which the assembler never sees, skips it.
    fn recycle(&mut self, retained: usize) {
        if self.asm.delivered() {
            self.needed_large |= self.asm.recycle(retained);
        }
    }

    /// Everything buffered is consumed. Buffers grown past `retained` are
    /// kept while reads or messages keep needing them (none is allocated
    /// per message in steady state), and freed at the first drain between
    /// messages that none did since the last: after a small read or
    /// message that follows large ones. A drain with no input since the
    /// last (a caller that polls again before reading) judges nothing.
    pub(super) fn compact_if_drained(&mut self, retained: usize) {
        self.recycle(retained);
        if self.pos == self.end && self.end > 0 {
            self.end = 0;
            self.pos = 0;
            if self.frame.is_none() && self.asm.idle() {
                if !self.needed_large {
                    self.shrink(retained);
                }
                self.needed_large = false;
            }
        }
    }

    /// Frees each buffer grown past `retained` that holds nothing now.
    pub(super) fn shrink(&mut self, retained: usize) {
        self.recycle(retained);
        if self.pos == self.end && self.buf.capacity() > retained {
            self.buf = alloc::vec::Vec::new();
            self.end = 0;
            self.pos = 0;
        }
        self.asm.shrink(retained);
    }

    /// Gives an idle inflater's zlib state back, keeping its history (see
    /// [`Release`](crate::Release)).
    pub(super) fn release_inflater(&mut self) {
        self.asm.release_inflater();
    }

    /// Frees every buffer of a connection that will read no more.
    pub(super) fn release(&mut self) {
        *self = Self::default();
    }

    /// Whether this receiver holds any heap memory.
    pub(super) fn holds_memory(&self) -> bool {
        self.buf.capacity() != 0 || self.asm.holds_memory()
    }

    /// Decodes frames and passes their payloads to the assembler until
    /// something is ready to report or the buffered bytes run out
    /// (`Ok(None)`). A message in one frame takes the first steps only:
    /// its header decoded and checked, its payload unmasked in place.
    ///
    /// `inflater` is a negotiated decompressor not handed over yet (see
    /// `Core::install_codec`): it joins the assembler before a header that
    /// may be compressed is checked.
    #[inline]
    pub(super) fn read(
        &mut self,
        config: &Config,
        client: bool,
        inflater: &mut Option<Held<Inflater>>,
    ) -> Result<Option<Found>, ProtocolError> {
        if self.frame.is_none() {
            // The header of a whole Text or Binary message in one frame of
            // up to 125 bytes, the most common by far, read in one step
            // (its FIN, RSV and opcode are the first byte's value, so it is
            // not compressed) and given its own copy of the steps that
            // follow, which the compiler specialises. The rules are the
            // same: a header that breaks one goes on to the general decoder
            // in `read_payloads`, which finds the same error and reports it
            // (the checks change nothing before they pass).
            if let [b0 @ (0x81 | 0x82), b1 @ 0x80..=0xFD, k0, k1, k2, k3, ..] =
                self.buf[self.pos..self.end]
            {
                let header = FrameHeader {
                    fin: true,
                    rsv: 0,
                    opcode: if b0 == 0x81 {
                        OpCode::Text
                    } else {
                        OpCode::Binary
                    },
                    mask: Some([k0, k1, k2, k3]),
                    payload_len: u64::from(b1 & 0x7F),
                };
                if let Ok(frame) = self.check_header(&header, config, client) {
                    self.pos += 6;
                    if let Some(found) = self.in_place(&frame, config) {
                        return Ok(Some(found));
                    }
                    self.frame = Some(frame);
                }
            }
        }
        self.read_payloads(config, client, inflater)
    }

    /// The frame decoder: the header at `pos`, parsed and checked against
    /// the connection's rules, then consumed. `None` while it is cut.
    #[inline(always)]
    fn decode(&mut self, config: &Config, client: bool) -> Result<Option<InFrame>, ProtocolError> {
        let Some((header, n)) = FrameHeader::parse(&self.buf[self.pos..self.end])? else {
            return Ok(None);
        };
        let frame = self.check_header(&header, config, client)?;
        self.pos += n;
        Ok(Some(frame))
    }

    /// The steps after the header: the current frame's payload, as much of
    /// it as arrived, through the assembler, then the next frames'.
    #[inline(never)]
    fn read_payloads(
        &mut self,
        config: &Config,
        client: bool,
        inflater: &mut Option<Held<Inflater>>,
    ) -> Result<Option<Found>, ProtocolError> {
        self.recycle(config.retained_buffer);
        if let Some(inflater) = inflater.take() {
            self.asm.set_inflater(inflater);
        }
        loop {
            let mut frame = match self.frame.take() {
                Some(frame) => frame,
                None => {
                    let Some(frame) = self.decode(config, client)? else {
                        return Ok(None);
                    };
                    frame
                }
            };
            if let Some(found) = self.in_place(&frame, config) {
                return Ok(Some(found));
            }
            // Unmask what arrived of the payload, once.
            let available = self.unread().min(frame.len);
            if available > frame.done {
                if let Some(key) = frame.mask {
                    let new = self.pos + frame.done..self.pos + available;
                    apply_mask(&mut self.buf[new], key, frame.consumed + frame.done);
                }
                frame.done = available;
            }
            let base = self.pos;
            if frame.opcode.is_control() {
                if available < frame.len {
                    self.frame = Some(frame);
                    return Ok(None);
                }
                let range = base..base + frame.len;
                self.pos = range.end;
                return Ok(Some(match frame.opcode {
                    OpCode::Ping => Found::Ping(range),
                    OpCode::Pong => Found::Pong(range),
                    _ => Found::Close(range),
                }));
            }
            let at = base..base + available;
            let used = self.asm.data(&frame, &self.buf[at.clone()], at, config)?;
            self.pos += used.bytes;
            frame.len -= used.bytes;
            frame.done -= used.bytes;
            frame.consumed += used.bytes;
            if !used.frame_over {
                self.frame = Some(frame);
            }
            match used.step {
                Step::Ready(found) => return Ok(Some(found)),
                Step::NextFrame => {}
                Step::NeedMore => return Ok(None),
                Step::Wait => {
                    self.reserve_rest(&frame);
                    return Ok(None);
                }
            }
        }
    }

    /// A message in one frame, all here: unmasked and handed out in place,
    /// with nothing for the assembler to keep (text is checked once, by its
    /// conversion to `&str`). `None` for any other frame.
    #[inline(always)]
    fn in_place(&mut self, frame: &InFrame, config: &Config) -> Option<Found> {
        if !frame.whole_message() || frame.len > self.unread() || config.receive_parts.is_some() {
            return None;
        }
        let range = self.pos..self.pos + frame.len;
        if let Some(key) = frame.mask {
            apply_mask(
                &mut self.buf[range.start + frame.done..range.end],
                key,
                frame.done,
            );
        }
        self.pos = range.end;
        Some(Found::InPlace {
            text: frame.text,
            range,
        })
    }

    /// A frame waits in the buffer for the rest of its payload: make room
    /// for it at once, so that the buffer is not regrown (and copied) again
    /// and again as the payload arrives. Only once an eighth of it is here
    /// (or the rest is small): a bare header cannot make us allocate a
    /// frame's worth of memory.
    fn reserve_rest(&mut self, frame: &InFrame) {
        let missing = frame.len - frame.done;
        if missing <= 8 * self.unread().max(32 << 10) {
            let room = self.buf.len() - self.end;
            self.buf.reserve_exact(missing.saturating_sub(room));
        }
    }

    /// Bytes at `range` of the receive buffer (a frame's payload).
    #[inline]
    pub(super) fn slice(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// The binary bytes at `at`.
    #[inline]
    pub(super) fn bytes(&self, at: At) -> &[u8] {
        match at {
            At::Buf(range) => &self.buf[range],
            At::Message => self.asm.message(),
        }
    }

    /// The binary message handed out from the assembler.
    #[inline]
    pub(super) fn message(&self) -> &[u8] {
        self.asm.message()
    }

    /// The text handed out from the assembler (checked as it arrived).
    #[inline]
    pub(super) fn text(&self) -> &str {
        self.asm.text()
    }

    /// Applies the rules that depend on the connection to a decoded header;
    /// a data frame's go on in the assembler, which updates the message
    /// being received.
    #[inline(always)]
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
        let first = matches!(header.opcode, OpCode::Text | OpCode::Binary);
        let rsv1 = header.rsv == 0b100;
        if header.rsv != 0 && !(rsv1 && first && self.asm.compression_negotiated()) {
            return Err(ProtocolError::ReservedBits);
        }
        // "a client MUST mask all frames that it sends to the server" and "a
        // server MUST NOT mask any frames that it sends to the client" (§5.1)
        if header.mask.is_some() == client {
            return Err(if client {
                ProtocolError::MaskedFrame
            } else {
                ProtocolError::UnmaskedFrame
            });
        }
        if header.payload_len > config.max_frame_size as u64 {
            return Err(ProtocolError::FrameTooLarge);
        }
        // Fits in usize: bounded by max_frame_size.
        let len = header.payload_len as usize;
        let (text, compressed) = if header.opcode.is_control() {
            (false, false)
        } else {
            self.asm
                .admit(header.opcode, header.fin, rsv1, len, config)?
        };
        Ok(InFrame {
            opcode: header.opcode,
            fin: header.fin,
            mask: header.mask,
            len,
            done: 0,
            consumed: 0,
            text,
            compressed,
            first,
        })
    }
}
