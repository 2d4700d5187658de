//! The permessage-deflate codec (RFC 7692 §7.2), with feature `deflate`: a
//! [`Deflater`] for the messages we send and an [`Inflater`] for the ones we
//! receive, each a thin layer over [zlib-rs](https://crates.io/crates/zlib-rs)
//! with the RFC's framing rules (sync flush, the `00 00 FF FF` tail, empty
//! messages, context takeover) and a hard output limit.
//!
//! **Needs std**: zlib-rs allocates only through `std::alloc`. This file uses
//! `alloc` only, but a build with `deflate` links std.
//!
//! **Memory.** zlib-rs always allocates a 64 Ki-entry hash head, so a
//! compressor holds 137 KB (window bits 9) to 380 KB (15, memLevel 8)
//! whatever is asked (see the `memory` test); a decompressor holds about
//! 47 KB (a 32 KiB window at any window bits). When our side's
//! `no_context_takeover` was negotiated nothing has to survive between
//! messages, so both types then hold their zlib state only while a message
//! is in progress and free it at the message's end: an idle connection
//! costs nothing, at the price of one allocation and initialisation per
//! message: for a 200-byte message at level 1, a fresh compressor costs
//! about 6 µs against 3 µs for a kept one that is reset (the reset clears
//! the 128 KiB hash head anyway), and a fresh decompressor 0.8 µs against
//! 0.4 µs (release build, this 2-core machine).
//!
//! With context takeover the zlib state may also go between messages
//! ([`Release`]): each side then keeps a [`History`] of the last
//! 2^window_bits bytes that went through it, and the next message rebuilds
//! the stream with it as a preset dictionary (RFC 1951 raw deflate; zlib's
//! `deflateSetDictionary` and `inflateSetDictionary`). A rebuilt
//! decompressor decodes exactly what a kept one would: its window holds the
//! same last bytes, and no back-reference of a peer that keeps to its
//! window reaches further. A rebuilt compressor may choose other matches
//! than a kept one (at zlib's fast levels a kept one has not hashed the
//! strings inside long matches; a dictionary hashes them all), so its bytes
//! may differ, never what they decode to: its distances stay within
//! `2^window_bits - 262`, inside the history the peer holds. A rebuild costs
//! about 35 µs at 15 window bits (the dictionary's 32 KiB are hashed), 15 at
//! 13, 6 at 12, for a 2 KiB message (`benches`' `deflate_fanout rebuild`).

use alloc::vec::Vec;
use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Inflate, InflateFlush, Status, Strategy};

use super::{CompressError, InflateError, Progress};
use crate::config::Release;

/// The empty stored block that ends every sync flush (RFC 7692 §7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The largest output slice handed to zlib at once. Output goes into
/// zero-filled space (we cannot `set_len` under `forbid(unsafe_code)`), so
/// slices are sized from the input and capped here.
const MAX_CHUNK: usize = 64 << 10;

/// The zlib memLevel used for a window size: 8 (zlib's default) at 15 bits,
/// one less per bit below, at least 1; the pairs websockets and uWS use
/// (12 → 5). In zlib-rs it sizes the pending buffer and the chain table.
fn mem_level_for(window_bits: u8) -> i32 {
    (i32::from(window_bits) - 7).clamp(1, 8)
}

/// Where a connection keeps a codec half: on the heap, so that only
/// connections that negotiated permessage-deflate pay for it.
pub(crate) type Held<T> = alloc::boxed::Box<T>;

/// `value`, held.
pub(crate) fn hold<T>(value: T) -> Option<Held<T>> {
    Some(alloc::boxed::Box::new(value))
}

/// A compressor, as the seam builds one: see [`Deflater::new`].
pub(crate) fn deflater(
    level: u8,
    window_bits: u8,
    no_context_takeover: bool,
    release: Release,
) -> Option<Deflater> {
    Some(Deflater::new(level, window_bits, no_context_takeover).with_release(release))
}

/// A decompressor, as the seam builds one: see [`Inflater::new`].
pub(crate) fn inflater(
    no_context_takeover: bool,
    window_bits: u8,
    release: Release,
) -> Option<Inflater> {
    Some(Inflater::new(no_context_takeover).with_release(release, window_bits))
}

/// What a codec with context takeover must keep to be rebuilt: the last
/// `max` bytes that went through it (RFC 7692 §7.2.3.2: the LZ77 window
/// the next message may refer to). A ring once full, so that a message
/// costs a copy of itself, not of the window.
#[derive(Debug, Default)]
struct History {
    /// The bytes, oldest at `start` once full (`start` is 0 until then).
    bytes: Vec<u8>,
    start: usize,
    max: usize,
}

impl History {
    /// For a window of `2^window_bits` bytes (9-15; 8 is compressed and
    /// read as 9 by zlib, whose distances then stay within 250).
    fn new(window_bits: u8) -> Self {
        Self {
            bytes: Vec::new(),
            start: 0,
            max: 1 << window_bits.clamp(9, 15),
        }
    }

    /// Appends `data`, keeping the last `max` bytes. Grows once, straight
    /// to `max` (next to the codec a busy connection holds, a full window
    /// is small), so that a busy connection allocates nothing per message;
    /// [`compact`](Self::compact) gives back what was not used.
    fn push(&mut self, data: &[u8]) {
        let mut data = data
            .get(data.len().saturating_sub(self.max)..)
            .unwrap_or_default();
        if self.bytes.len() < self.max {
            let room = self.max - self.bytes.len();
            let (now, rest) = data.split_at(data.len().min(room));
            if self.bytes.len() + now.len() > self.bytes.capacity() {
                self.bytes.reserve_exact(self.max - self.bytes.len());
            }
            self.bytes.extend_from_slice(now);
            data = rest;
        }
        // Full: overwrite the oldest bytes.
        while !data.is_empty() {
            let n = data.len().min(self.max - self.start);
            let (now, rest) = data.split_at(n);
            if let Some(dest) = self.bytes.get_mut(self.start..self.start + n) {
                dest.copy_from_slice(now);
            }
            self.start = (self.start + n) % self.max;
            data = rest;
        }
    }

    /// The bytes, oldest first, in one slice.
    fn contiguous(&mut self) -> &[u8] {
        self.bytes.rotate_left(self.start);
        self.start = 0;
        &self.bytes
    }

    /// Holds only its bytes, in order (called when the codec is given back).
    fn compact(&mut self) {
        self.contiguous();
        self.bytes.shrink_to_fit();
    }

    fn clear(&mut self) {
        self.bytes = Vec::new();
        self.start = 0;
    }
}

/// Compresses the messages we send (RFC 7692 §7.2.1).
/// Compresses the messages we send (RFC 7692 §7.2.1).
pub(crate) struct Deflater {
    config: DeflateConfig,
    no_context_takeover: bool,
    /// `None` between messages when `no_context_takeover`, and after a
    /// release.
    stream: Option<Deflate>,
    /// With context takeover and a release policy: what a rebuilt stream
    /// starts from.
    history: Option<History>,
    release: Release,
    /// A message sent in parts is in progress (the stream cannot go).
    in_message: bool,
}

/// Whether a compress call that wrote nothing also took nothing of the
/// input `rest` it had (`used` bytes): zlib made no progress. With
/// SyncFlush and room to write, zlib-rs always writes (see
/// `.cargo/mutants.toml`): a defensive check.
#[inline(always)]
fn stalled(used: usize, rest: &[u8]) -> bool {
    used == 0 && !rest.is_empty()
}

impl Deflater {
    /// A compressor at `level` (0-9, clamped) for a peer that accepts
    /// `window_bits` (8-15, clamped). 8 compresses at 9, which zlib-rs
    /// accepts: its longest match distance is `2^9 - 262 = 250`, inside a
    /// 256-byte window (tested in `wbits_9_fits_an_8_bit_window`). With
    /// `no_context_takeover` every message starts from an empty window.
    pub(crate) fn new(level: u8, window_bits: u8, no_context_takeover: bool) -> Self {
        let window_bits = window_bits.clamp(9, 15);
        let config = DeflateConfig {
            level: i32::from(level.min(9)),
            window_bits: -i32::from(window_bits), // negative: raw deflate
            mem_level: mem_level_for(window_bits),
            strategy: Strategy::Default,
            ..DeflateConfig::default()
        };
        Self {
            config,
            no_context_takeover,
            stream: None,
            history: None,
            release: Release::Never,
            in_message: false,
        }
    }

    /// With context takeover, keeps the history that `release` needs.
    pub(crate) fn with_release(mut self, release: Release) -> Self {
        self.release = release;
        let window_bits = u8::try_from(-self.config.window_bits).unwrap_or(15);
        self.history = (!self.no_context_takeover && release != Release::Never)
            .then(|| History::new(window_bits));
        self
    }

    /// Gives back the zlib state between messages, keeping the history;
    /// the next message rebuilds it. Nothing happens with
    /// [`Release::Never`] or during a message sent in parts.
    pub(crate) fn release(&mut self) {
        if let Some(history) = self.history.as_mut()
            && !self.in_message
        {
            self.stream = None;
            history.compact();
        }
    }

    /// The zlib stream, built (from the history, if any) when none is held.
    fn stream(&mut self) -> Result<&mut Deflate, CompressError> {
        if self.stream.is_none() {
            let mut z = Deflate::new_with_config(self.config);
            if let Some(history) = self.history.as_ref()
                && !history.bytes.is_empty()
            {
                // RFC 1951 raw deflate takes a preset dictionary before any
                // input: the window and hash chains start from the history.
                z.set_dictionary(&history.bytes)
                    .map_err(|_| CompressError)?;
            }
            self.stream = Some(z);
        }
        self.stream.as_mut().ok_or(CompressError)
    }

    /// Forgets the stream and the history after an error.
    fn fail(&mut self) -> CompressError {
        self.stream = None;
        self.in_message = false;
        if let Some(history) = self.history.as_mut() {
            history.clear();
        }
        CompressError
    }

    /// Whether zlib state is held now (for tests and memory accounting).
    #[cfg(test)]
    fn holds_state(&self) -> bool {
        self.stream.is_some()
    }

    /// Appends the payload of a whole message compressed: the DEFLATE
    /// blocks, sync-flushed, with the trailing `00 00 FF FF` removed.
    pub(crate) fn compress(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CompressError> {
        self.compress_part(input, true, out)
    }

    /// Appends the compressed bytes of one part of a message, to be sent
    /// as one frame (the first with RSV1 set). Each part is sync-flushed so
    /// that it can go out at once; `fin` marks the last part, whose tail is
    /// removed. An empty part that is not the last produces no bytes.
    pub(crate) fn compress_part(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), CompressError> {
        if input.is_empty() {
            if fin {
                // RFC 7692 §7.2.3.6: an empty message is sent as the single
                // byte 0x00 (with the receiver's tail, an empty stored
                // block). It is also the right last frame after sync-flushed
                // parts, and leaves the compressor's state untouched.
                out.push(0x00);
                self.end_message();
            }
            return Ok(());
        }
        let start = out.len();
        let z = match self.stream() {
            Ok(z) => z,
            Err(e) => {
                self.fail();
                return Err(e);
            }
        };
        let mut rest = input;
        loop {
            let chunk = rest.len().saturating_add(64).min(MAX_CHUNK);
            let len = out.len();
            out.resize(len + chunk, 0);
            let (in0, out0) = (z.total_in(), z.total_out());
            let status = z.compress(
                rest,
                out.get_mut(len..).unwrap_or_default(),
                DeflateFlush::SyncFlush,
            );
            let used = usize::try_from(z.total_in() - in0).unwrap_or(usize::MAX);
            let wrote = usize::try_from(z.total_out() - out0).unwrap_or(0);
            out.truncate(len + wrote.min(chunk));
            if status.is_err() {
                return Err(self.fail());
            }
            if wrote == 0 && stalled(used, rest) {
                return Err(self.fail()); // no progress: zlib is broken
            }
            rest = rest.get(used..).unwrap_or_default();
            // Output space left over means the flush is complete.
            if rest.is_empty() && wrote < chunk {
                break;
            }
        }
        if fin {
            // RFC 7692 §7.2.1: "Remove 4 octets (that are 0x00 0x00 0xff
            // 0xff) from the tail end. After this step, the last octet of
            // the compressed data contains (possibly part of) the DEFLATE
            // header bits with the "BTYPE" bits set to 00."
            let produced = out.get(start..).unwrap_or_default();
            if !produced.ends_with(&TAIL) {
                return Err(self.fail());
            }
            out.truncate(out.len() - TAIL.len());
        }
        if let Some(history) = self.history.as_mut() {
            history.push(input);
        }
        self.in_message = true;
        if fin {
            self.end_message();
        }
        Ok(())
    }

    fn end_message(&mut self) {
        self.in_message = false;
        if self.release == Release::AfterMessage {
            self.release();
        }
        // RFC 7692 §7.1.1.1: with server_no_context_takeover the server
        // "MUST start compressing each new message with an empty LZ77
        // sliding window" (§7.1.1.2 likewise for the client). Dropping the
        // state does that and frees its memory between messages.
        if self.no_context_takeover {
            self.stream = None;
        }
    }
}

/// Decompresses the messages we receive (RFC 7692 §7.2.2), incrementally:
/// payload bytes may arrive in any number of pieces across frames.
///
/// It always inflates with a 32 KiB window, whatever was negotiated: zlib-rs
/// allocates that window anyway, and it accepts peers (miniz-based ones)
/// whose back-references exceed the window bits they agreed to.
pub(crate) struct Inflater {
    no_context_takeover: bool,
    /// `None` between messages when `no_context_takeover`, and after a
    /// release.
    stream: Option<Inflate>,
    /// With the peer's context takeover and a release policy: the last
    /// 2^window_bits bytes inflated, what a rebuilt stream starts from.
    history: Option<History>,
    release: Release,
    /// Bytes of [`TAIL`] already fed in this message.
    tail_fed: usize,
    /// The peer's stream ended (a block with BFINAL = 1) in this message.
    ended: bool,
    /// The last call filled its output: zlib may hold more.
    pending: bool,
    /// Some payload byte of this message was fed.
    fed_any: bool,
    /// Bytes produced so far for the current message.
    produced: usize,
    /// zlib found corrupt data right after output that filled the room:
    /// the next call reports it.
    corrupt: bool,
}

impl Inflater {
    /// A decompressor; `no_context_takeover` is the peer's (its messages
    /// each start from an empty window, so ours may too).
    pub(crate) fn new(no_context_takeover: bool) -> Self {
        Self {
            no_context_takeover,
            stream: None,
            history: None,
            release: Release::Never,
            tail_fed: 0,
            ended: false,
            pending: false,
            fed_any: false,
            produced: 0,
            corrupt: false,
        }
    }

    /// With the peer's context takeover, keeps the history that `release`
    /// needs: the last `2^window_bits` bytes (the peer's window; a peer
    /// that refers farther back than it agreed to is refused with 1007
    /// after a rebuild).
    pub(crate) fn with_release(mut self, release: Release, window_bits: u8) -> Self {
        self.release = release;
        self.history = (!self.no_context_takeover && release != Release::Never)
            .then(|| History::new(window_bits));
        self
    }

    /// Whether zlib state is held now (for tests and memory accounting).
    #[cfg(test)]
    fn holds_state(&self) -> bool {
        self.stream.is_some()
    }

    /// Gives back the zlib state between messages, keeping the history;
    /// the next message rebuilds it. Nothing happens with
    /// [`Release::Never`] or inside a message.
    pub(crate) fn release(&mut self) {
        if let Some(history) = self.history.as_mut()
            && !self.fed_any
            && self.tail_fed == 0
        {
            self.stream = None;
            history.compact();
        }
    }

    /// The zlib stream, built (from the history, if any) when none is held.
    fn stream(&mut self) -> Result<&mut Inflate, InflateError> {
        if self.stream.is_none() {
            let mut z = Inflate::new(false, 15);
            if let Some(history) = self.history.as_mut()
                && !history.bytes.is_empty()
            {
                z.set_dictionary(history.contiguous())
                    .map_err(|_| InflateError::Corrupt)?;
            }
            self.stream = Some(z);
        }
        self.stream.as_mut().ok_or(InflateError::Corrupt)
    }

    /// Whole-message use: inflates `input` (the next payload bytes of a
    /// compressed message, any split) onto `out`. `fin` says these are the
    /// message's last bytes; the tail is then appended here. Fails with
    /// [`InflateError::TooLarge`] once the message would exceed
    /// `max_output` bytes in total, having appended at most `max_output + 1`
    /// bytes: a message of exactly `max_output` bytes is accepted.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
        max_output: usize,
    ) -> Result<(), InflateError> {
        let room = max_output.saturating_sub(self.produced).saturating_add(1);
        let progress = self.inflate_part(input, fin, out, room)?;
        if progress.produced >= room {
            self.abort();
            return Err(InflateError::TooLarge);
        }
        // Below `room`, inflate_part stops only when everything is used.
        if progress.consumed < input.len() || (fin && !progress.done) {
            self.abort();
            return Err(InflateError::Corrupt);
        }
        Ok(())
    }

    /// Part-by-part use: inflates from `input` onto `out`, appending at most
    /// `room` bytes. It stops when the room is full (then call again with
    /// `input[consumed..]`, possibly empty, to get the rest) or when all of
    /// `input` (and with `fin`, the tail) is used and nothing is pending.
    /// Size limits are the caller's in this mode (count `produced`).
    ///
    /// The answer depends on the output in order, never on how the input
    /// was cut: corrupt data fails the call that reaches it with room left,
    /// so a call whose room the output before it fills returns that output
    /// (as a split input would) and the next call fails.
    pub(crate) fn inflate_part(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
        room: usize,
    ) -> Result<Progress, InflateError> {
        if self.corrupt {
            self.abort();
            return Err(InflateError::Corrupt);
        }
        let mut consumed = 0;
        let mut produced = 0;
        while !self.ended {
            let left = room - produced;
            let (src, from_input) = match input.get(consumed..) {
                Some(rest) if !rest.is_empty() => (rest, true),
                // RFC 7692 §7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff
                // to the tail end of the payload of the message."
                // Not after an empty payload: a peer that flushes an empty
                // message twice (wsproto with Python's zlib) sends nothing,
                // and a lone tail would leave zlib inside a stored block.
                _ if fin && self.fed_any => (TAIL.get(self.tail_fed..).unwrap_or_default(), false),
                _ => (&[][..], false),
            };
            if left == 0 || (src.is_empty() && !self.pending) {
                break;
            }
            let chunk = src.len().saturating_mul(4).clamp(1024, MAX_CHUNK).min(left);
            let z = match self.stream() {
                Ok(z) => z,
                Err(e) => {
                    self.abort();
                    return Err(e);
                }
            };
            let len = out.len();
            out.resize(len + chunk, 0);
            let (in0, out0) = (z.total_in(), z.total_out());
            let status = z.decompress(
                src,
                out.get_mut(len..).unwrap_or_default(),
                InflateFlush::NoFlush,
            );
            let used = usize::try_from(z.total_in() - in0)
                .unwrap_or(usize::MAX)
                .min(src.len());
            let wrote = usize::try_from(z.total_out() - out0)
                .unwrap_or(0)
                .min(chunk);
            out.truncate(len + wrote);
            if let Some(history) = self.history.as_mut() {
                history.push(out.get(len..).unwrap_or_default());
            }
            produced += wrote;
            self.produced = self.produced.saturating_add(wrote);
            if from_input {
                consumed += used;
                self.fed_any = true;
            } else {
                self.tail_fed += used;
            }
            self.pending = wrote == chunk;
            if src.is_empty() && used == 0 && wrote == 0 && status.is_ok() {
                // Output that filled the last call's room exactly: there was
                // nothing more after all (zlib reports no progress, which is
                // not an error here). Not when zlib failed: the symbols it
                // still held, decoded now, were corrupt.
                self.pending = false;
                break;
            }
            match status {
                // RFC 7692 §7.2.3.4: a sender may end a message with a
                // final block (BFINAL = 1); the stream is then over, and
                // whatever follows it (the tail we append) is ignored.
                Ok(Status::StreamEnd) => self.ended = true,
                Ok(_) if used == 0 && wrote == 0 => {
                    // zlib can make no progress with input and room: broken.
                    self.abort();
                    return Err(InflateError::Corrupt);
                }
                Ok(_) => {}
                // zlib goes on decoding symbols that need no room once the
                // output is full (a length and distance, a block header),
                // and may find corrupt data there: everything before it is
                // in `out`. Had the input stopped short of the bad symbol,
                // this call would have returned the full room: so does it.
                Err(_) if produced == room => {
                    self.corrupt = true;
                    break;
                }
                Err(_) => {
                    self.abort();
                    return Err(InflateError::Corrupt);
                }
            }
        }
        if self.ended {
            // Bytes after the final block are ignored (the tail included).
            consumed = input.len();
            self.pending = false;
        }
        let done = fin
            && consumed == input.len()
            && !self.pending
            && (self.ended || self.tail_fed == TAIL.len() || !self.fed_any);
        if done {
            self.end_message();
        }
        Ok(Progress {
            consumed,
            produced,
            done,
        })
    }

    fn end_message(&mut self) {
        if self.ended || self.no_context_takeover {
            // After a final block the stream cannot continue; with the
            // peer's no_context_takeover each message starts afresh anyway.
            self.stream = None;
            if let Some(history) = self.history.as_mut() {
                history.clear();
            }
        }
        self.tail_fed = 0;
        self.ended = false;
        self.pending = false;
        self.fed_any = false;
        self.produced = 0;
        self.corrupt = false;
        if self.release == Release::AfterMessage {
            self.release();
        }
    }

    /// After an error: forget the message and the state.
    fn abort(&mut self) {
        self.stream = None;
        if let Some(history) = self.history.as_mut() {
            history.clear();
        }
        self.end_message();
    }
}

#[cfg(test)]
mod tests;

impl core::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Deflater")
            .field("no_context_takeover", &self.no_context_takeover)
            .field("holds_state", &self.stream.is_some())
            .finish_non_exhaustive()
    }
}

impl core::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Inflater")
            .field("no_context_takeover", &self.no_context_takeover)
            .field("holds_state", &self.stream.is_some())
            .finish_non_exhaustive()
    }
}
