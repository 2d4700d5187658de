//! A ready WebSocket over a blocking stream (feature `std`): the loop of
//! "Driving it" in the crate documentation, written once.
//!
//! [`WebSocket`] owns a [`Transport`] (a [`TcpStream`](std::net::TcpStream),
//! a `UnixStream`, or any `Read + Write` in [`Untimed`]) and a
//! [`Connection`]: it reads into a fixed buffer on the stack, feeds the
//! connection, tells it the time, and writes what it queued (Pongs, the
//! reply to a Close, the Close that fails a connection) before it waits for
//! the peer again.
//!
//! It lives in this crate behind feature `std` rather than in the tokio
//! adapter's crate because it needs nothing but the standard library: a
//! program on blocking sockets does not pull tokio, and without the feature
//! the crate stays `no_std`.
//!
//! * **Time without threads.** The read waits no longer than
//!   [`Connection::poll_timeout`] (through
//!   [`Transport::set_read_timeout`]), and the time, from
//!   [`Instant`], goes to
//!   [`Connection::handle_timeout`] after every read: the handshake
//!   timeout, keepalive Pings (a silent peer fails with 1011) and the close
//!   timeout work with the [`Config`](crate::Config) defaults. A transport without read
//!   timeouts sees deadlines only when a read returns (see [`Transport`]).
//! * **A closing that keeps our Close.** When the closing handshake ends or
//!   the connection fails, the last bytes are written, our direction is
//!   shut down (TCP: FIN), and what the peer still sends is read and
//!   dropped (at most 1 MiB, at most 2 s) before the call returns: a socket
//!   closed with unread input is reset, and a reset can destroy our Close
//!   before the peer reads it.
//! * **Writes block** until the transport takes the bytes: a peer that
//!   stops reading stops [`send`](WebSocket::send) too (memory stays
//!   bounded). Give a `TcpStream` a write timeout
//!   (`set_write_timeout`) to turn that into [`Error::Io`].
//! * **Errors say who is at fault** ([`Error`]): the peer (with the close
//!   code that went out), the transport, or the caller (send after Close is
//!   [`Error::Send`] with [`SendError::Closed`]).
//!   Nothing panics.
//!
//! A complete echo server, one thread per connection:
//!
//! ```no_run
//! use std::net::TcpListener;
//! use wstate::Config;
//! use wstate::blocking::{Message, WebSocket};
//! fn main() -> std::io::Result<()> {
//!     for stream in TcpListener::bind("127.0.0.1:9002")?.incoming() {
//!         let stream = stream?;
//!         std::thread::spawn(move || -> Result<(), wstate::blocking::Error> {
//!             let mut ws = WebSocket::accept(stream, Config::default())?;
//!             loop {
//!                 match ws.recv()? {
//!                     msg @ (Message::Text(_) | Message::Binary(_)) => ws.send(msg)?,
//!                     Message::Close(_) => return Ok(()), // reply sent, socket closed
//!                     _ => {}                             // Pongs are sent by themselves
//!                 }
//!             }
//!         });
//!     }
//!     Ok(())
//! }
//! ```
//!
//! The same conversation from a client, over loopback, with an echo that
//! never copies the message ([`WebSocket::recv_with`]):
//!
//! ```
//! use std::net::{TcpListener, TcpStream};
//! use wstate::blocking::{Message, WebSocket};
//! use wstate::{ClientRequest, CloseCode, Config, Event};
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let server = std::thread::spawn(move || -> Result<(), wstate::blocking::Error> {
//!     let mut ws = WebSocket::accept(listener.accept()?.0, Config::default())?;
//!     while ws.recv_with(|event, reply| match event {
//!         Event::Text(text) => reply.send(wstate::Message::Text(text)).is_ok(),
//!         _ => false, // the Close: answered and the socket closed already
//!     })? {}
//!     Ok(())
//! });
//! let request = ClientRequest::new("localhost", "/");
//! let entropy = |b: &mut [u8]| getrandom::fill(b).expect("OS entropy"); // or wstate::os_entropy
//! let mut ws = WebSocket::connect(TcpStream::connect(addr)?, &request, entropy, Config::default())?;
//! ws.send(Message::Text("hi".into()))?;
//! assert_eq!(ws.recv()?, Message::Text("hi".into()));
//! let answer = ws.close(CloseCode::NORMAL, "bye")?; // waits for the server's Close
//! assert_eq!(answer.code, CloseCode::NORMAL);
//! server.join().unwrap()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod handshake;
mod transport;

use std::io::{self, ErrorKind};
use std::string::String;
use std::time::{Duration, Instant};
use std::vec::Vec;

pub use error::Error;
pub use handshake::Answer;
pub use transport::{Transport, Untimed};

use crate::error::SendError;
use crate::event::Event;
use crate::wire::close::{CloseCode, CloseFrame};
use crate::{Connection, Polled, Sender};

/// Bytes read at most per read, into a buffer on the stack.
const READ_BUF: usize = 8 << 10;
/// The closing reads and drops at most this many bytes the peer still
/// sends...
const DRAIN_BYTES: usize = 1 << 20;
/// ...for at most this long.
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// A whole message, owned: what [`WebSocket::recv`] returns and
/// [`WebSocket::send`] takes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// A text message (checked UTF-8).
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A Ping (received: its Pong was sent already, unless
    /// [`Config::auto_pong`](crate::Config::auto_pong) is off).
    Ping(Vec<u8>),
    /// A Pong.
    Pong(Vec<u8>),
    /// A Close. Received: the closing handshake ended (the peer's code and
    /// reason, `None` if its Close had no code; our reply went out and the
    /// transport was closed). Sent: starts the closing handshake without
    /// waiting (`None` sends 1000); receive until the peer's Close.
    Close(Option<CloseFrame>),
}

/// The answer beside an event of [`WebSocket::recv_with`]: sends while the
/// event is held (an echo without a copy). What it queues is written before
/// `recv_with` returns.
#[derive(Debug)]
pub struct Reply<'a> {
    tx: Sender<'a>,
    out: &'a mut Vec<u8>,
}

impl<'a> Reply<'a> {
    /// Sends a whole message ([`Sender::send`]).
    pub fn send(self, message: crate::Message<'_>) -> Result<(), SendError> {
        self.tx.send(message, self.out)
    }

    /// Starts the closing handshake ([`Sender::close`]); receive until the
    /// peer's Close.
    pub fn close(self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.tx.close(code, reason, self.out)
    }

    /// The core's [`Sender`] and the queue it writes to, for everything
    /// else (messages in parts, in-place sends).
    pub fn into_parts(self) -> (Sender<'a>, &'a mut Vec<u8>) {
        (self.tx, self.out)
    }
}

/// A WebSocket over a blocking stream: a [`Connection`] with its IO loop.
/// See the [module documentation](self).
#[derive(Debug)]
pub struct WebSocket<S> {
    stream: S,
    conn: Connection,
    /// Bytes queued by the connection, written before every read.
    out: Vec<u8>,
    /// The origin of the connection's time.
    start: Instant,
    /// The read timeout in force, once one was set.
    timeout: Option<Option<Duration>>,
    /// The transport honours read timeouts.
    timed: bool,
    /// The transport reached its end.
    eof: bool,
    /// The connection is over: nothing more in or out.
    ended: bool,
    /// The subprotocol the handshake chose.
    subprotocol: Option<String>,
}

impl<S> WebSocket<S> {
    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The transport. Reading or writing it directly corrupts the
    /// conversation.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The transport, giving up the connection (bytes still queued are
    /// dropped: [`flush`](Self::flush) first).
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// The connection underneath: its state, configuration, the Closes sent
    /// and received, the permessage-deflate parameters in use.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The subprotocol the opening handshake chose, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }
}

impl<S: Transport> WebSocket<S> {
    /// Starts the connection's clock, with `out` already queued.
    fn new(stream: S, mut conn: Connection, mut out: Vec<u8>) -> Self {
        conn.handle_timeout(Duration::ZERO, &mut out);
        Self {
            stream,
            conn,
            out,
            start: Instant::now(),
            timeout: None,
            timed: false,
            eof: false,
            ended: false,
            subprotocol: None,
        }
    }

    /// Receives the next message, sending what the protocol requires
    /// meanwhile (Pongs, keepalive Pings, the reply to a Close).
    ///
    /// After [`Message::Close`] or an error the connection is over (our
    /// Close and the last bytes written, the transport shut down); later
    /// calls return [`Error::Closed`]. A transport that ends without a
    /// Close, even inside a frame, is [`Error::Abnormal`].
    pub fn recv(&mut self) -> Result<Message, Error> {
        if self.conn.config().receive_parts().is_some() {
            return Err(Error::PartsNeedRecvWith);
        }
        loop {
            let message = self.recv_with(|event, _| match event {
                Event::Text(text) => Some(Message::Text(text.into())),
                Event::Binary(bytes) => Some(Message::Binary(bytes.into())),
                Event::Ping(bytes) => Some(Message::Ping(bytes.into())),
                Event::Pong(bytes) => Some(Message::Pong(bytes.into())),
                Event::Close(frame) => Some(Message::Close(
                    (frame.code != CloseCode::NO_STATUS).then_some(frame),
                )),
                _ => None,
            })?;
            if let Some(message) = message {
                return Ok(message);
            }
        }
    }

    /// Receives the next event and hands it to `f` with a [`Reply`], while
    /// it still borrows the connection's buffers: the echo of a message
    /// without copying it, and the parts of a message with
    /// [`Config::with_receive_parts`](crate::Config::with_receive_parts). Returns what `f` returned, after
    /// writing what it queued.
    ///
    /// `f` sees [`Event::Text`], [`Event::Binary`], the parts, [`Event::Ping`],
    /// [`Event::Pong`] and [`Event::Close`] (after which the connection is
    /// over, as with [`recv`](Self::recv)); errors as `recv`.
    pub fn recv_with<R>(&mut self, f: impl FnOnce(Event<'_>, Reply<'_>) -> R) -> Result<R, Error> {
        if self.ended {
            return Err(Error::Closed);
        }
        loop {
            match self.conn.poll_event(&mut self.out) {
                Polled::Event(Event::Close(frame), _) if frame.code == CloseCode::ABNORMAL => {
                    self.finish()?;
                    return Err(Error::Abnormal);
                }
                Polled::Event(event, tx) => {
                    let close = matches!(event, Event::Close(_));
                    let out = &mut self.out;
                    let answer = f(event, Reply { tx, out });
                    if close {
                        self.finish()?;
                    } else {
                        self.write_out()?;
                    }
                    return Ok(answer);
                }
                Polled::Failed(e) => {
                    self.finish()?;
                    return Err(Error::Peer(e));
                }
                Polled::NeedMore => self.read_once()?,
                Polled::Done => {
                    self.finish()?;
                    return Err(Error::Closed);
                }
            }
        }
    }

    /// Sends a message and writes it out. [`Message::Close`] starts the
    /// closing handshake without waiting for the peer's answer (see
    /// [`close`](Self::close) for the waiting form).
    ///
    /// Refused with [`Error::Send`] by the connection's rules (a data
    /// message after our Close: [`SendError::Closed`]; a Ping payload over
    /// 125 bytes, ...), with [`Error::Closed`] once the connection is over.
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        if self.ended {
            return Err(Error::Closed);
        }
        let (tx, out) = (self.conn.sender(), &mut self.out);
        match &message {
            Message::Text(text) => tx.send(crate::Message::Text(text), out),
            Message::Binary(bytes) => tx.send(crate::Message::Binary(bytes), out),
            Message::Ping(bytes) => tx.send(crate::Message::Ping(bytes), out),
            Message::Pong(bytes) => tx.send(crate::Message::Pong(bytes), out),
            Message::Close(None) => tx.close(CloseCode::NORMAL, "", out),
            Message::Close(Some(frame)) => tx.close(frame.code, frame.reason(), out),
        }?;
        self.write_out()
    }

    /// Closes: sends a Close with `code` and `reason`, receives (and drops)
    /// what the peer still sends until its Close, then ends the connection
    /// like [`recv`](Self::recv) does. Returns the peer's Close;
    /// [`Error::Abnormal`] if none came within
    /// [`Config::close_timeout`](crate::Config::close_timeout) or before the
    /// transport ended.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<CloseFrame, Error> {
        self.send(Message::Close(Some(
            CloseFrame::with_reason(code, reason).ok_or(SendError::ReasonTooLong)?,
        )))?;
        loop {
            if let Some(frame) = self.recv_with(|event, _| match event {
                Event::Close(frame) => Some(frame),
                _ => None,
            })? {
                return Ok(frame);
            }
        }
    }

    /// Writes out whatever is queued and flushes the transport: what
    /// [`send`](Self::send) wrote into a transport that buffers (a
    /// `BufWriter` inside it) goes out now rather than at the next
    /// [`recv`](Self::recv), which flushes before it waits for the peer.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.write_out()?;
        self.stream.flush().map_err(|e| self.broken(e))
    }

    /// Writes out what the connection queued.
    fn write_out(&mut self) -> Result<(), Error> {
        if self.out.is_empty() {
            return Ok(());
        }
        let written = self.stream.write_all(&self.out);
        self.out.clear();
        written.map_err(|e| self.broken(e))
    }

    /// An IO error ends the connection.
    fn broken(&mut self, e: io::Error) -> Error {
        self.ended = true;
        Error::Io(e)
    }

    /// Writes what is queued and flushes the transport (a peer cannot
    /// answer what a buffering transport still holds), reads once (no
    /// longer than the next deadline), feeds what came, then the time.
    fn read_once(&mut self) -> Result<(), Error> {
        self.flush()?;
        let now = self.start.elapsed();
        let wait = self
            .conn
            .poll_timeout()
            .map(|deadline| deadline.saturating_sub(now).max(Duration::from_millis(1)));
        if !keeps_timeout(self.timeout, wait) {
            self.timed = self
                .stream
                .set_read_timeout(wait)
                .map_err(|e| self.broken(e))?;
            self.timeout = Some(wait);
        }
        let mut buf = [0; READ_BUF];
        match self.stream.read(&mut buf) {
            Ok(0) => self.on_eof(),
            Ok(n) => self.conn.receive(&buf[..n]),
            Err(e)
                if self.timed
                    && matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // A peer that closes right after its last bytes may reset the
            // connection before we read again: its end.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => self.on_eof(),
            Err(e) => return Err(self.broken(e)),
        }
        self.conn
            .handle_timeout(self.start.elapsed(), &mut self.out);
        Ok(())
    }

    fn on_eof(&mut self) {
        self.eof = true;
        self.conn.receive_eof();
    }

    /// The connection ended or failed: polls it to `Done` (a client reads
    /// until the server closes, within the core's bound), writes the last
    /// bytes, shuts down our direction and drains the peer's.
    /// Ends a handshake that did not open the connection: finishes the
    /// transport as [`finish`](Self::finish) does, then gives `error`, or
    /// the IO error that finishing met first.
    fn fail_handshake(&mut self, error: Error) -> Error {
        match self.finish() {
            Ok(()) => error,
            Err(io) => io,
        }
    }

    fn finish(&mut self) -> Result<(), Error> {
        loop {
            match self.conn.poll_event(&mut self.out) {
                Polled::Done => break,
                Polled::NeedMore => self.read_once()?,
                Polled::Event(..) | Polled::Failed(_) => {}
            }
        }
        self.write_out()?;
        self.ended = true;
        // The peer may be gone already: nothing more is owed to it.
        let _ = self.stream.flush();
        let _ = self.stream.shutdown_write();
        self.drain();
        Ok(())
    }

    /// Reads and drops what the peer still sends, until it ends its
    /// direction, [`DRAIN_BYTES`] or [`DRAIN_TIME`]; not at all without read
    /// timeouts.
    fn drain(&mut self) {
        let deadline = Instant::now() + DRAIN_TIME;
        let mut left = DRAIN_BYTES;
        let mut buf = [0; READ_BUF];
        while !self.eof && left > 0 {
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() || !matches!(self.stream.set_read_timeout(Some(wait)), Ok(true)) {
                break;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => left = left.saturating_sub(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        self.timeout = None;
    }
}

/// Whether the read timeout in force (`set`: `None` before the first read,
/// `Some(None)` for none) serves a read that should wait `wait` (`None`:
/// no deadline), saving a system call per read: it must wake the read at
/// most a little late (1/16 of the wait, at most 100 ms) and not much too
/// early (a read that times out early just reads again).
fn keeps_timeout(set: Option<Option<Duration>>, wait: Option<Duration>) -> bool {
    match (set, wait) {
        (Some(None), None) => true,
        (Some(Some(set)), Some(wait)) => {
            let slack = (wait / 16).min(Duration::from_millis(100));
            set >= wait / 2 && set <= wait + slack
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::keeps_timeout;
    use core::time::Duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_timeout_is_kept_only_while_it_wakes_the_read_in_time() {
        for (set, wait, kept) in [
            // Nothing set yet: set it, whatever the wait.
            (None, None, false),
            (None, Some(ms(100)), false),
            // No deadline, and none in force.
            (Some(None), None, true),
            // A deadline where none is in force, and the reverse.
            (Some(None), Some(ms(100)), false),
            (Some(Some(ms(100))), None, false),
            // At most 1/16 of the wait late...
            (Some(Some(ms(1000))), Some(ms(1000)), true),
            (Some(Some(ms(1062))), Some(ms(1000)), true),
            (Some(Some(ms(1063))), Some(ms(1000)), false),
            // ...and at most 100 ms late on long waits...
            (Some(Some(ms(10_100))), Some(ms(10_000)), true),
            (Some(Some(ms(10_101))), Some(ms(10_000)), false),
            // ...and at least half the wait.
            (Some(Some(ms(500))), Some(ms(1000)), true),
            (Some(Some(ms(499))), Some(ms(1000)), false),
        ] {
            assert_eq!(keeps_timeout(set, wait), kept, "{set:?} for {wait:?}");
        }
    }
}
