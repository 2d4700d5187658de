//! Limits, switches and timers of a connection: plain data, built with
//! `with_*` methods that keep every value within its bounds, and read with
//! getters of the same names.

use core::time::Duration;

/// The smallest `max_frame_size`: a control frame may carry 125
/// bytes (RFC 6455 §5.5), and a peer's Ping or Close must never be refused
/// as too large.
const MIN_FRAME_SIZE: usize = 125;

/// Whether this build has the permessage-deflate codec (feature `deflate`).
const CODEC: bool = cfg!(feature = "deflate");

/// The smallest part `receive_parts` hands out: one UTF-8
/// code point is up to 4 bytes, and a text part never splits one.
const MIN_PART_SIZE: usize = 4;

/// Limits and switches of a connection.
///
/// Built from [`Config::default`] with `with_*` methods; each one keeps its
/// value within the bounds it documents, so that no configuration lets a
/// peer make the connection panic or stall.
///
/// ```
/// use wstate::Config;
/// let config = Config::default().with_max_message_size(1 << 20).with_auto_pong(false);
/// assert_eq!(config.max_message_size(), 1 << 20);
/// assert!(!config.auto_pong());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub(crate) max_frame_size: usize,
    pub(crate) max_message_size: usize,
    pub(crate) max_fragments: usize,
    pub(crate) auto_pong: bool,
    pub(crate) max_handshake_size: usize,
    pub(crate) max_headers: usize,
    pub(crate) retained_buffer: usize,
    pub(crate) receive_parts: Option<usize>,
    pub(crate) max_pending_output: Option<usize>,
    pub(crate) handshake_timeout: Option<Duration>,
    pub(crate) keepalive: Option<Keepalive>,
    pub(crate) close_timeout: Option<Duration>,
    /// `enabled` is false while permessage-deflate is off.
    pub(crate) deflate: DeflateConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_size: 16 << 20,
            max_message_size: 16 << 20,
            max_fragments: 1 << 17,
            auto_pong: true,
            max_handshake_size: 16 << 10,
            max_headers: 64,
            retained_buffer: 512,
            receive_parts: None,
            max_pending_output: None,
            handshake_timeout: Some(Duration::from_secs(10)),
            keepalive: Some(Keepalive::default()),
            close_timeout: Some(Duration::from_secs(10)),
            deflate: DeflateConfig {
                enabled: false,
                ..DeflateConfig::default()
            },
        }
    }
}

impl Config {
    /// Largest frame payload accepted from the peer (default 16 MiB). A
    /// larger frame fails the connection with 1009 before any byte of it is
    /// buffered.
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// Sets [`max_frame_size`](Self::max_frame_size); at least
    /// 125 bytes, so that control frames always fit.
    #[must_use]
    pub fn with_max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes.max(MIN_FRAME_SIZE);
        self
    }

    /// Largest message accepted from the peer, summed over its fragments
    /// (and, compressed, after inflation; default 16 MiB); 1009 when
    /// exceeded. Any value is allowed, 0 (only empty messages) to
    /// `usize::MAX` (no limit: sensible only with
    /// [`receive_parts`](Self::receive_parts), which holds no message
    /// whole).
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Sets [`max_message_size`](Self::max_message_size).
    #[must_use]
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Most frames one message may span, empty continuations included
    /// (default 131,072); 1009 when exceeded.
    pub fn max_fragments(&self) -> usize {
        self.max_fragments
    }

    /// Sets [`max_fragments`](Self::max_fragments); at least 1 (a message
    /// is at least one frame).
    #[must_use]
    pub fn with_max_fragments(mut self, frames: usize) -> Self {
        self.max_fragments = frames.max(1);
        self
    }

    /// Answer every Ping with a Pong of the same payload (default on).
    pub fn auto_pong(&self) -> bool {
        self.auto_pong
    }

    /// Sets [`auto_pong`](Self::auto_pong).
    #[must_use]
    pub fn with_auto_pong(mut self, on: bool) -> Self {
        self.auto_pong = on;
        self
    }

    /// Largest HTTP head in the opening handshake (default 16 KiB), and the
    /// most bytes a server keeps after a request's head while the request
    /// awaits an answer.
    pub fn max_handshake_size(&self) -> usize {
        self.max_handshake_size
    }

    /// Sets [`max_handshake_size`](Self::max_handshake_size).
    #[must_use]
    pub fn with_max_handshake_size(mut self, bytes: usize) -> Self {
        self.max_handshake_size = bytes;
        self
    }

    /// Most header fields in the opening handshake (default 64).
    pub fn max_headers(&self) -> usize {
        self.max_headers
    }

    /// Sets [`max_headers`](Self::max_headers).
    #[must_use]
    pub fn with_max_headers(mut self, count: usize) -> Self {
        self.max_headers = count;
        self
    }

    /// Receive buffer capacity always kept (default 512 bytes). Buffers
    /// grown past it for a large read or message are kept while large
    /// reads or messages keep coming (so none is allocated per message),
    /// and freed at the first small read or message after them, at each
    /// keepalive Ping (a quiet connection), by
    /// [`Connection::shrink_buffers`](crate::Connection::shrink_buffers),
    /// and when the connection ends.
    pub fn retained_buffer(&self) -> usize {
        self.retained_buffer
    }

    /// Sets [`retained_buffer`](Self::retained_buffer).
    #[must_use]
    pub fn with_retained_buffer(mut self, bytes: usize) -> Self {
        self.retained_buffer = bytes;
        self
    }

    /// Receive messages in parts of at most this many bytes as they arrive,
    /// as [`Event::TextPart`](crate::Event::TextPart) and
    /// [`Event::BinaryPart`](crate::Event::BinaryPart), instead of whole
    /// (default `None`: whole messages). The connection then holds no more
    /// than a read and a part, whatever the size of a frame or message;
    /// [`max_message_size`](Self::max_message_size) may be `usize::MAX`
    /// (no limit) and [`max_frame_size`](Self::max_frame_size) as large.
    ///
    /// What does not depend on how the bytes were split into reads: the
    /// joined parts of each message (the whole message's bytes), the order
    /// of messages and control frames, the bytes queued in `out`, and the
    /// close code of a failure. Where a message is cut into parts does
    /// depend on the reads: a part holds what was buffered of its frame,
    /// at most the bound, and never half a code point.
    pub fn receive_parts(&self) -> Option<usize> {
        self.receive_parts
    }

    /// Sets [`receive_parts`](Self::receive_parts); a bound under
    /// 4 bytes is taken as 4, so that a part holds at
    /// least one code point.
    #[must_use]
    pub fn with_receive_parts(mut self, max_part: Option<usize>) -> Self {
        self.receive_parts = max_part.map(|n| n.max(MIN_PART_SIZE));
        self
    }

    /// Backpressure: the most bytes that sending a Text or Binary message
    /// may leave queued in `out` (default `None`: no bound). A message that
    /// would go past it is refused with
    /// [`SendError::Backpressure`](crate::SendError::Backpressure) and
    /// nothing is queued, unless `out` is empty (a message larger than the
    /// bound still goes out alone). Pongs, Close replies and the caller's
    /// control frames are always queued.
    pub fn max_pending_output(&self) -> Option<usize> {
        self.max_pending_output
    }

    /// Sets [`max_pending_output`](Self::max_pending_output).
    #[must_use]
    pub fn with_max_pending_output(mut self, bytes: Option<usize>) -> Self {
        self.max_pending_output = bytes;
        self
    }

    /// How long the opening handshake may take, counted from the
    /// connection's first [`handle_timeout`](crate::Connection::handle_timeout)
    /// (default 10 s, as Python `websockets`' `open_timeout`). A server that
    /// received part of a request answers `408`; then the connection ends.
    /// `None`: no limit.
    pub fn handshake_timeout(&self) -> Option<Duration> {
        self.handshake_timeout
    }

    /// Sets [`handshake_timeout`](Self::handshake_timeout).
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Pings that notice a peer that vanished (default: on, see
    /// [`Keepalive::default`]). `None`: no keepalive.
    pub fn keepalive(&self) -> Option<&Keepalive> {
        self.keepalive.as_ref()
    }

    /// Sets [`keepalive`](Self::keepalive).
    #[must_use]
    pub fn with_keepalive(mut self, keepalive: Option<Keepalive>) -> Self {
        self.keepalive = keepalive;
        self
    }

    /// How long to wait for the peer's Close after ours, and (client) for
    /// the server to close TCP after the closing handshake (default 10 s, as
    /// `websockets`' `close_timeout`; node `ws` waits 30 s). On expiry the
    /// connection reports `Close` with 1006 and ends. `None`: wait forever.
    pub fn close_timeout(&self) -> Option<Duration> {
        self.close_timeout
    }

    /// Sets [`close_timeout`](Self::close_timeout).
    #[must_use]
    pub fn with_close_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// permessage-deflate (RFC 7692): what to offer or accept, and how to
    /// compress; `None` (the default) when off, and always in a build
    /// without feature `deflate`, which has no codec.
    pub fn deflate(&self) -> Option<&DeflateConfig> {
        (CODEC && self.deflate.enabled).then_some(&self.deflate)
    }

    /// Sets [`deflate`](Self::deflate): `Some` offers (client) or accepts
    /// (server) permessage-deflate with these parameters. Needs feature
    /// `deflate` (the codec, through zlib-rs): without it the setting is
    /// kept but [`deflate`](Self::deflate) stays `None`, and nothing is
    /// offered or accepted.
    ///
    /// ```
    /// use wstate::{Config, DeflateConfig};
    /// let config = Config::default().with_deflate(Some(DeflateConfig::default()));
    /// let built_with_codec = cfg!(feature = "deflate");
    /// assert_eq!(config.deflate().is_some(), built_with_codec);
    /// assert_eq!(Config::default().deflate(), None);
    /// ```
    #[must_use]
    pub fn with_deflate(mut self, deflate: Option<DeflateConfig>) -> Self {
        self.deflate = match deflate {
            // Every DeflateConfig a caller can hold is enabled: only a
            // Config's own, which `deflate()` never hands out, is not.
            Some(deflate) => deflate,
            None => DeflateConfig {
                enabled: false,
                ..DeflateConfig::default()
            },
        };
        self
    }
}

/// Keepalive: a Ping after a quiet interval, and a deadline for the answer.
///
/// Defaults: a Ping after 20 s without hearing from the peer, failing the
/// connection with 1011 if nothing comes back within 20 s more. The figures
/// are Python `websockets`' `ping_interval` and `ping_timeout`; like uWS
/// (`idleTimeout`, reset by received data), any data from the peer counts
/// as a sign of life, so a busy connection sends no Pings at all.
///
/// ```
/// use core::time::Duration;
/// use wstate::Keepalive;
/// let k = Keepalive::new(Duration::from_secs(30), Duration::from_secs(10)).with_fixed_interval(true);
/// assert_eq!((k.interval(), k.timeout(), k.fixed_interval()), (Duration::from_secs(30), Duration::from_secs(10), true));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keepalive {
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) fixed_interval: bool,
    pub(crate) any_data: bool,
}

impl Default for Keepalive {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(20),
            timeout: Duration::from_secs(20),
            fixed_interval: false,
            any_data: true,
        }
    }
}

impl Keepalive {
    /// A Ping after `interval` of quiet, failing after `timeout` more.
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        Self {
            interval,
            timeout,
            ..Self::default()
        }
    }

    /// Quiet time before a Ping (or, with
    /// [`fixed_interval`](Self::fixed_interval), time between Pings).
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// How long a Ping may stay unanswered before the connection fails
    /// with 1011 ("keepalive timeout").
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Ping every `interval` whatever the traffic (as `websockets` does)
    /// rather than after `interval` of silence from the peer (default off).
    pub fn fixed_interval(&self) -> bool {
        self.fixed_interval
    }

    /// Sets [`fixed_interval`](Self::fixed_interval).
    #[must_use]
    pub fn with_fixed_interval(mut self, on: bool) -> Self {
        self.fixed_interval = on;
        self
    }

    /// Any bytes from the peer answer a pending Ping, not only its Pong
    /// (default on).
    pub fn any_data(&self) -> bool {
        self.any_data
    }

    /// Sets [`any_data`](Self::any_data).
    #[must_use]
    pub fn with_any_data(mut self, on: bool) -> Self {
        self.any_data = on;
        self
    }
}

/// How permessage-deflate (RFC 7692; the codec needs feature `deflate`) is offered,
/// accepted and used: pass it to
/// [`Config::with_deflate`](crate::Config::with_deflate).
///
/// Compression costs memory (zlib-rs holds about 380 KB to compress with a
/// 15-bit window and 47 KB to decompress while a connection uses them; with
/// context takeover, an idle connection keeps only the last 2^window_bits
/// bytes each way: see [`Release`]) and CPU; like node ws's server and
/// uWebSockets, a [`Config`] leaves it off by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Off inside a [`Config`] that does not use permessage-deflate.
    pub(crate) enabled: bool,
    pub(crate) level: u8,
    pub(crate) server_max_window_bits: u8,
    pub(crate) client_max_window_bits: u8,
    pub(crate) server_no_context_takeover: bool,
    pub(crate) client_no_context_takeover: bool,
    pub(crate) min_compress_size: usize,
    pub(crate) compress_outgoing: bool,
    pub(crate) release: Release,
}

/// When a connection with context takeover gives back its zlib-rs
/// compressor and decompressor (about 380 KB and 47 KB at 15 window bits),
/// keeping only the history the next message may refer to: the last
/// 2^window_bits bytes sent compressed, and as many received (less while
/// less went through). The next message rebuilds the codec from that
/// history (a preset dictionary, RFC 1951 raw deflate) and decodes to the
/// same bytes; what it sends may be compressed differently (see
/// `DeflateConfig::with_release`). Without context takeover the codec is
/// given back after every message whatever this says: nothing has to
/// survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Release {
    /// Keep the codec for the connection's life: no work and no
    /// allocation per message, the most memory.
    Never,
    /// Give it back when the connection is idle: at
    /// [`Connection::shrink_buffers`](crate::Connection::shrink_buffers)
    /// and at each keepalive Ping (the connection was quiet for the
    /// keepalive interval). Each message copies its bytes into the
    /// history (no allocation once it is full).
    WhenIdle,
    /// Give it back after every message: an idle connection never holds
    /// more than its history, and every message with context takeover pays
    /// for a rebuild.
    AfterMessage,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            level: 1,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            min_compress_size: 0,
            compress_outgoing: true,
            release: Release::WhenIdle,
        }
    }
}

impl DeflateConfig {
    /// zlib level, 0-9. Default 1: with zlib-rs it compresses about ten
    /// times faster than 6 (about 400 against 30 MB/s) for about 70-80 % of
    /// its ratio on text, and 0.5 µs against 7-10 µs for a small message
    /// with context takeover.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// Sets [`level`](Self::level) (at most 9).
    #[must_use]
    pub fn with_level(mut self, level: u8) -> Self {
        self.level = level.min(9);
        self
    }

    /// The largest window the server compresses with, 8-15 (RFC 7692
    /// §7.1.2.1). Default 15, the RFC's default. As a server, we answer at
    /// most this; as a client, below 15 we ask for it.
    pub fn server_max_window_bits(&self) -> u8 {
        self.server_max_window_bits
    }

    /// Sets [`server_max_window_bits`](Self::server_max_window_bits)
    /// (within 8-15).
    #[must_use]
    pub fn with_server_max_window_bits(mut self, bits: u8) -> Self {
        self.server_max_window_bits = bits.clamp(8, 15);
        self
    }

    /// The largest window the client compresses with, 8-15 (RFC 7692
    /// §7.1.2.2). Default 15. As a server, we ask for it only when the
    /// client's offer allows; as a client, we offer it as our limit.
    pub fn client_max_window_bits(&self) -> u8 {
        self.client_max_window_bits
    }

    /// Sets [`client_max_window_bits`](Self::client_max_window_bits)
    /// (within 8-15).
    #[must_use]
    pub fn with_client_max_window_bits(mut self, bits: u8) -> Self {
        self.client_max_window_bits = bits.clamp(8, 15);
        self
    }

    /// Have the server compress each message from an empty window (less
    /// memory, worse ratio). Default off. A server always honours the
    /// client's request for it.
    pub fn server_no_context_takeover(&self) -> bool {
        self.server_no_context_takeover
    }

    /// Sets [`server_no_context_takeover`](Self::server_no_context_takeover).
    #[must_use]
    pub fn with_server_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self
    }

    /// Have the client compress each message from an empty window. Default
    /// off. A server always echoes a client's offer of it.
    pub fn client_no_context_takeover(&self) -> bool {
        self.client_no_context_takeover
    }

    /// Sets [`client_no_context_takeover`](Self::client_no_context_takeover).
    #[must_use]
    pub fn with_client_no_context_takeover(mut self, on: bool) -> Self {
        self.client_no_context_takeover = on;
        self
    }

    /// Messages shorter than this are sent uncompressed. Default 0: with
    /// context takeover even 100-byte messages shrink (about 2.9× on small
    /// JSON). Without it on our side, small messages often grow: 1024 (node
    /// ws's threshold) is then a good value.
    pub fn min_compress_size(&self) -> usize {
        self.min_compress_size
    }

    /// Sets [`min_compress_size`](Self::min_compress_size).
    #[must_use]
    pub fn with_min_compress_size(mut self, bytes: usize) -> Self {
        self.min_compress_size = bytes;
        self
    }

    /// Compress the messages we send. Default on. Off, we still accept
    /// compressed messages and send ours plainly (RSV1 clear), which
    /// RFC 7692 allows: only the messages with RSV1 set are compressed.
    pub fn compress_outgoing(&self) -> bool {
        self.compress_outgoing
    }

    /// Sets [`compress_outgoing`](Self::compress_outgoing).
    #[must_use]
    pub fn with_compress_outgoing(mut self, on: bool) -> Self {
        self.compress_outgoing = on;
        self
    }

    /// When the zlib-rs state of a connection with context takeover is
    /// given back ([`Release`]). Default [`Release::WhenIdle`].
    pub fn release(&self) -> Release {
        self.release
    }

    /// Sets [`release`](Self::release).
    ///
    /// A codec rebuilt from the history decodes exactly what a kept one
    /// would. The compressor may choose other matches than a kept one
    /// (zlib's fastest levels skip strings inside long matches, a
    /// dictionary inserts them all), so the bytes sent may differ, never
    /// the message the peer decodes: every back-reference stays within the
    /// last 2^window_bits bytes, which the peer holds.
    #[must_use]
    pub fn with_release(mut self, release: Release) -> Self {
        self.release = release;
        self
    }
}
