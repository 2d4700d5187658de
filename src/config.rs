//! Limits, switches and timers of a connection.

use core::time::Duration;

#[cfg(feature = "deflate")]
use crate::handshake::extensions::DeflateConfig;

/// Limits and switches of a connection.
///
/// ```
/// use wstate::Config;
/// let config = Config::default().max_message_size(1 << 20).auto_pong(false);
/// assert_eq!(config.max_message_size, 1 << 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Largest frame payload accepted from the peer (default 16 MiB). A
    /// larger frame fails the connection with 1009 before any byte of it is
    /// buffered.
    pub max_frame_size: usize,
    /// Largest message accepted from the peer, summed over its fragments
    /// (default 16 MiB); 1009 when exceeded.
    pub max_message_size: usize,
    /// Most frames one message may span, empty continuations included
    /// (default 131,072); 1009 when exceeded.
    pub max_fragments: usize,
    /// Answer every Ping with a Pong of the same payload (default on).
    pub auto_pong: bool,
    /// Largest HTTP head in the opening handshake (default 16 KiB).
    pub max_handshake_size: usize,
    /// Most header fields in the opening handshake (default 64).
    pub max_headers: usize,
    /// Receive buffer capacity always kept (default 512 bytes). Buffers
    /// grown past it for a large read or message are kept while large
    /// reads or messages keep coming (so none is allocated per message),
    /// and freed at the first small read or message after them, at each
    /// keepalive Ping (a quiet connection), by
    /// [`Connection::shrink_buffers`](crate::Connection::shrink_buffers),
    /// and when the connection ends.
    pub retained_buffer: usize,
    /// Receive messages in parts of at most this many bytes (at least 4)
    /// as they arrive, as [`Event::TextPart`](crate::Event::TextPart) and
    /// [`Event::BinaryPart`](crate::Event::BinaryPart), instead of whole
    /// (default `None`: whole messages). The connection then holds no more
    /// than a read and a part, whatever the size of a frame or message;
    /// [`max_message_size`](Self::max_message_size) may be `usize::MAX`
    /// (no limit) and [`max_frame_size`](Self::max_frame_size) as large.
    pub receive_parts: Option<usize>,
    /// Backpressure: the most bytes that sending a Text or Binary message
    /// may leave queued in `out` (default `None`: no bound). A message that
    /// would go past it is refused with
    /// [`SendError::Backpressure`](crate::SendError::Backpressure) and
    /// nothing is queued, unless `out` is empty (a message larger than the
    /// bound still goes out alone). Pongs, Close replies and the caller's
    /// control frames are always queued.
    pub max_pending_output: Option<usize>,
    /// How long the opening handshake may take, counted from the first
    /// [`handle_timeout`](crate::Connection::handle_timeout) (default 10 s,
    /// as Python `websockets`' `open_timeout`). A server that received part
    /// of a request answers `408`; then the connection ends. `None`: no limit.
    pub handshake_timeout: Option<Duration>,
    /// Pings that notice a peer that vanished (default: on, see
    /// [`Keepalive::default`]). `None`: no keepalive.
    pub keepalive: Option<Keepalive>,
    /// How long to wait for the peer's Close after ours, and (client) for
    /// the server to close TCP after the closing handshake (default 10 s, as
    /// `websockets`' `close_timeout`; node `ws` waits 30 s). On expiry the
    /// connection reports `Close` with 1006 and ends. `None`: wait forever.
    pub close_timeout: Option<Duration>,
    /// permessage-deflate (RFC 7692; feature `deflate`): what to offer or
    /// accept, and how to compress (default: off).
    #[cfg(feature = "deflate")]
    pub deflate: DeflateConfig,
}

/// Keepalive: a Ping after a quiet interval, and a deadline for the answer.
///
/// Defaults: a Ping after 20 s without hearing from the peer, failing the
/// connection with 1011 if nothing comes back within 20 s more. The figures
/// are Python `websockets`' `ping_interval` and `ping_timeout`; like uWS
/// (`idleTimeout`, reset by received data), any data from the peer counts
/// as a sign of life, so a busy connection sends no Pings at all.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Keepalive {
    /// Quiet time before a Ping (or, with `fixed_interval`, time between
    /// Pings).
    pub interval: Duration,
    /// How long a Ping may stay unanswered before the connection fails with
    /// 1011 ("keepalive timeout").
    pub timeout: Duration,
    /// Ping every `interval` whatever the traffic (as `websockets` does)
    /// rather than after `interval` of silence from the peer.
    pub fixed_interval: bool,
    /// Any bytes from the peer answer a pending Ping, not only its Pong.
    pub any_data: bool,
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

    /// Sets [`fixed_interval`](Self::fixed_interval).
    #[must_use]
    pub fn fixed_interval(mut self, on: bool) -> Self {
        self.fixed_interval = on;
        self
    }

    /// Sets [`any_data`](Self::any_data).
    #[must_use]
    pub fn any_data(mut self, on: bool) -> Self {
        self.any_data = on;
        self
    }
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
            #[cfg(feature = "deflate")]
            deflate: DeflateConfig::default(),
        }
    }
}

impl Config {
    /// Sets [`max_frame_size`](Self::max_frame_size).
    #[must_use]
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`max_message_size`](Self::max_message_size).
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`max_fragments`](Self::max_fragments).
    #[must_use]
    pub fn max_fragments(mut self, frames: usize) -> Self {
        self.max_fragments = frames;
        self
    }

    /// Sets [`auto_pong`](Self::auto_pong).
    #[must_use]
    pub fn auto_pong(mut self, on: bool) -> Self {
        self.auto_pong = on;
        self
    }

    /// Sets [`max_handshake_size`](Self::max_handshake_size).
    #[must_use]
    pub fn max_handshake_size(mut self, bytes: usize) -> Self {
        self.max_handshake_size = bytes;
        self
    }

    /// Sets [`max_headers`](Self::max_headers).
    #[must_use]
    pub fn max_headers(mut self, count: usize) -> Self {
        self.max_headers = count;
        self
    }

    /// Sets [`retained_buffer`](Self::retained_buffer).
    #[must_use]
    pub fn retained_buffer(mut self, bytes: usize) -> Self {
        self.retained_buffer = bytes;
        self
    }

    /// Sets [`receive_parts`](Self::receive_parts); a bound under 4 bytes
    /// is taken as 4 (a part holds at least one code point).
    #[must_use]
    pub fn receive_parts(mut self, max_part: Option<usize>) -> Self {
        self.receive_parts = max_part.map(|n| n.max(4));
        self
    }

    /// Sets [`max_pending_output`](Self::max_pending_output).
    #[must_use]
    pub fn max_pending_output(mut self, bytes: Option<usize>) -> Self {
        self.max_pending_output = bytes;
        self
    }

    /// Sets [`handshake_timeout`](Self::handshake_timeout).
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets [`keepalive`](Self::keepalive).
    #[must_use]
    pub fn keepalive(mut self, keepalive: Option<Keepalive>) -> Self {
        self.keepalive = keepalive;
        self
    }

    /// Sets [`close_timeout`](Self::close_timeout).
    #[must_use]
    pub fn close_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Sets [`deflate`](Self::deflate).
    #[cfg(feature = "deflate")]
    #[must_use]
    pub fn deflate(mut self, deflate: DeflateConfig) -> Self {
        self.deflate = deflate;
        self
    }
}
