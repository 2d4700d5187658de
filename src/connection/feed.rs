//! Feeding a [`Connection`] what the transport delivered: bytes (copied
//! in, or read straight into its buffer) and the end of the stream. Whether
//! bytes are kept is decided by `Connection::takes` in `mod.rs`, with the
//! state transitions.

use super::Connection;

/// The room a read gets past the frame in progress (see `receive_with`).
const ROOM_PAST_FRAME: usize = 64 << 10;

impl Connection {
    /// Buffers bytes received from the transport. Call
    /// [`poll_event`](Self::poll_event) afterwards until it says `NeedMore`.
    /// Bytes that arrive after the connection closed are dropped.
    pub fn receive(&mut self, bytes: &[u8]) {
        if self.takes(bytes.len(), 0) {
            let keep = self.head_kept();
            self.rx.push(bytes, keep, self.core.config.retained_buffer);
        }
    }

    /// Reads straight into the connection's receive buffer, with no buffer
    /// of the caller's in between: `read` gets up to `max` bytes of room
    /// and returns how many it filled (`Ok(0)`: end of stream, as
    /// [`receive_eof`](Self::receive_eof)). Returns what `read` returned.
    ///
    /// Room beyond 64 KiB is offered only to a frame that is arriving: a
    /// read gets at most 64 KiB more than the frame in progress still needs
    /// (64 KiB between frames). So a large `max` (fewer reads while a large
    /// message streams in) grows the buffer at most 64 KiB past the frame,
    /// and a read that takes the rest of a frame can still come back short,
    /// which tells the caller the transport is drained.
    ///
    /// The room is zero-filled only the first time it is handed out (there
    /// is no `unsafe` here to skip that); after, it holds whatever earlier
    /// reads left there. The buffer is kept between reads while they are
    /// given more room than
    /// [`Config::retained_buffer`](crate::Config::retained_buffer) (and
    /// freed with the other large buffers when the connection is quiet, see
    /// [`shrink_buffers`](Self::shrink_buffers)), so that reads reuse it
    /// rather than allocate and clear it again.
    ///
    /// ```
    /// use std::io::Read;
    /// use wstate::{Config, Connection, Event, Polled, Role};
    /// let mut server = Connection::new_open(Role::Server, Config::default());
    /// let mut sock: &[u8] = &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    /// let n = server.receive_with(4096, |room| sock.read(room)).unwrap();
    /// assert_eq!(n, 11);
    /// assert!(matches!(server.poll_event(&mut Vec::new()), Polled::Event(Event::Text("Hello"), _)));
    /// ```
    pub fn receive_with<E>(
        &mut self,
        max: usize,
        read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        let keep = self.head_kept();
        let retained = self.core.config.retained_buffer;
        let max = max.min(self.rx.frame_missing().saturating_add(ROOM_PAST_FRAME));
        let result = read(self.rx.room(max, keep, retained));
        let n = result.as_ref().map_or(0, |n| (*n).min(max));
        self.rx.filled(n);
        if !self.takes(n, n) {
            self.rx.unfilled(n);
        }
        if max > 0 && matches!(result, Ok(0)) {
            self.receive_eof();
        }
        result
    }

    /// Reports that the transport reached end of stream. Bytes received
    /// before it are still processed; then, unless the closing handshake
    /// finished, [`poll_event`](Self::poll_event) reports `Close` with 1006.
    pub fn receive_eof(&mut self) {
        self.core.eof = true;
    }

    /// Frees the receive buffers that grew past
    /// [`Config::retained_buffer`](crate::Config::retained_buffer) for
    /// large reads or messages and hold nothing now. The connection keeps
    /// such buffers while large reads or messages keep coming, and frees
    /// them by itself after a small one, at each keepalive Ping (the
    /// connection was quiet) and when it ends; call this where the caller
    /// knows better, e.g. a connection that goes idle with the keepalive
    /// off. Buffers still in use (a message or frame in progress) stay.
    ///
    /// With permessage-deflate and [`Release::WhenIdle`](crate::Release)
    /// (the default), the zlib-rs compressor and decompressor are given
    /// back too, keeping only the history the next message needs.
    pub fn shrink_buffers(&mut self) {
        self.rx.shrink(self.core.config.retained_buffer);
        if let Some(compression) = self.core.compression.as_mut() {
            compression.release();
        }
        self.rx.release_inflater();
    }
}
