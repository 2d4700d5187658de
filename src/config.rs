//! Limits and switches of a connection.

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
    /// Receive buffer capacity kept while idle (default 512 bytes). Bigger
    /// buffers, grown for a large message or read, are freed once drained.
    pub retained_buffer: usize,
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
}
