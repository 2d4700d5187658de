//! [`Connection`]: the WebSocket state machine. Every transition of the
//! private [`State`] happens in this file; `recv.rs` and `send.rs` beside it
//! turn bytes into values and values into bytes.

#[cfg(feature = "deflate")]
mod compress;
mod parts;
mod recv;
mod send;
mod timers;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use crate::config::Config;
use crate::error::{Error, HandshakeError, ProtocolError, Response, SendError};
use crate::event::{Event, Message};
#[cfg(feature = "deflate")]
use crate::handshake::extensions::DeflateParams;
use crate::handshake::{self, Accept, ClientRequest, http};
use crate::wire::close::{CloseCode, CloseFrame, MAX_REASON_LEN};
use crate::wire::frame::{MAX_CONTROL_PAYLOAD, OpCode};
#[cfg(feature = "deflate")]
use compress::Compression;
use recv::{Kind, PartAt, Payload, Ready, Receiver};
pub use send::Entropy;
use send::write_frame;
#[cfg(feature = "deflate")]
use send::write_frame_rsv;
use timers::{Due, Phase, Timers};

/// Which end of the connection we are.
#[derive(Debug)]
pub enum Role {
    /// The accepting end: never masks, requires masked frames.
    Server,
    /// The connecting end: masks every frame with keys from its entropy.
    Client(Entropy),
}

impl Role {
    /// The client role, with its source of mask keys: any
    /// `FnMut(&mut [u8])` that fills its argument with random bytes.
    ///
    /// ```
    /// let _ = wstate::Role::client(|b| b.fill(7)); // use a CSPRNG in production
    /// ```
    pub fn client(entropy: impl FnMut(&mut [u8]) + Send + 'static) -> Self {
        Self::Client(Entropy::new(entropy))
    }
}

/// The public view of a connection's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// The opening handshake is in progress.
    Connecting,
    /// Messages flow both ways.
    Open,
    /// We sent a Close and wait for the peer's.
    Closing,
    /// The closing handshake finished, the transport ended, or the
    /// connection failed. Nothing more is sent or received.
    Closed,
}

/// The private state. Each variant is one phase of the connection.
#[derive(Debug)]
enum State {
    /// Server: reading the request head; `scanned` bytes were searched for
    /// its end already.
    ReadingRequest { scanned: usize },
    /// Server: the request was delivered as an event and awaits `accept` or
    /// `reject`. Its head stays at the start of the buffer.
    RequestReceived { head_len: usize, key_start: usize },
    /// Server: while the request awaited an answer, the client sent more
    /// than the bound allows; the next poll refuses the request.
    RequestOverrun,
    /// Client: the request is sent; reading the response head.
    ReadingResponse(Box<ClientHandshake>),
    /// Client: the server refused the upgrade; reading (a bounded part of)
    /// its response body before reporting it.
    ReadingRejection(Box<Rejection>),
    /// Both directions open.
    Open,
    /// We sent a Close; the peer may still send data, then its Close.
    CloseSent,
    /// Both Closes exchanged, or the transport ended. Nothing more in or out.
    Closed,
    /// A deadline passed (its bytes, if any, are queued); the next poll
    /// reports it.
    Expired(Expiry),
    /// We failed the connection; our Close (if it was still allowed) is
    /// queued. Nothing more in or out.
    Failed,
}

/// Which deadline passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expiry {
    /// The opening handshake took too long.
    Handshake,
    /// The keepalive Ping went unanswered.
    Keepalive,
    /// The peer's Close did not come after ours.
    Close,
}

/// What a client remembers of its request to check the response.
#[derive(Debug)]
struct ClientHandshake {
    /// The `Sec-WebSocket-Accept` the server must send.
    accept: [u8; 28],
    /// The subprotocols offered, comma-separated.
    offered: String,
    /// Where the response head being read starts: after any interim (1xx)
    /// responses skipped so far.
    head_start: usize,
    scanned: usize,
}

/// A refusal whose body is still arriving.
#[derive(Debug)]
struct Rejection {
    response: Response,
    /// How many body bytes to wait for; `None`: until the transport ends.
    want: Option<usize>,
}

/// What [`Connection::poll_event`] found.
///
/// Match all three: `NeedMore` and `Done` are different answers, so a loop
/// cannot mistake the end of the connection for a pause.
#[must_use]
#[derive(Debug)]
pub enum Polled<'a> {
    /// Something happened. The event borrows only the connection's receive
    /// buffers; the [`Sender`] beside it sends, closes, accepts or rejects
    /// while the event is still held (echo without copying).
    Event(Event<'a>, Sender<'a>),
    /// Nothing more can happen until more bytes arrive (or, for a pending
    /// [`Event::Request`], until it is accepted or rejected): read from the
    /// transport, then poll again.
    NeedMore,
    /// The connection is finished: write out what is queued in `out`, then
    /// close the transport and drop the connection. Every later poll says
    /// `Done` again.
    Done,
}

/// The sending half of a [`Connection`], handed out beside each event (and
/// by [`Connection::sender`]). Every method appends bytes to `out` or
/// returns a [`SendError`] having written nothing.
pub struct Sender<'a> {
    core: &'a mut Core,
    /// The receive buffer, read (never written) by `accept` for the request.
    received: &'a [u8],
}

impl core::fmt::Debug for Sender<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sender")
            .field("state", &self.core.state)
            .finish_non_exhaustive()
    }
}

/// Everything but the receive buffers: what the sending half may change.
#[derive(Debug)]
struct Core {
    state: State,
    config: Config,
    /// `Some` for a client: the source of mask keys.
    entropy: Option<Entropy>,
    /// Kind of the fragmented message being sent, if any.
    sending: Option<Kind>,
    /// That message is compressed.
    #[cfg(feature = "deflate")]
    sending_compressed: bool,
    /// The transport reported end of stream.
    eof: bool,
    /// Boxed: allocated once at close time, keeping an open connection small.
    sent_close: Option<Box<CloseFrame>>,
    received_close: Option<Box<CloseFrame>>,
    timers: Timers,
    /// permessage-deflate, once negotiated: the compressor, and the
    /// inflater on its way to the receiver (handed over at the next poll).
    #[cfg(feature = "deflate")]
    compression: Option<Box<Compression>>,
    #[cfg(feature = "deflate")]
    inflater: Option<Box<crate::deflate::Inflater>>,
}

/// A WebSocket connection as a sans-IO state machine.
///
/// Feed it received bytes with [`receive`](Self::receive) (and
/// [`receive_eof`](Self::receive_eof) when the transport ends), then call
/// [`poll_event`](Self::poll_event) until it says
/// [`NeedMore`](Polled::NeedMore) or [`Done`](Polled::Done). Send with the
/// [`Sender`] handed out beside each event, or with [`send`](Self::send)
/// and [`close`](Self::close). Every method that can produce bytes appends
/// them to the caller's `out`; write `out` to the transport in order.
///
/// It is safe to drop a connection once `poll_event` returned `Done` and
/// `out` was written: the closing handshake is complete (or failed, or the
/// transport ended) and nothing more is owed to the peer.
pub struct Connection {
    rx: Receiver,
    core: Core,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("state", &self.core.state)
            .field("client", &self.core.entropy.is_some())
            .field("buffered", &self.rx.unread())
            .field("sent_close", &self.core.sent_close)
            .field("received_close", &self.core.received_close)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection whose opening handshake already happened elsewhere (an
    /// HTTP server that did the upgrade, a test). It starts open.
    ///
    /// ```
    /// use wstate::{Config, Connection, Event, Polled, Role};
    /// let mut server = Connection::new_open(Role::Server, Config::default());
    /// let mut out = Vec::new();
    /// // RFC 6455 §5.7: a masked text frame "Hello".
    /// server.receive(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    /// assert!(matches!(server.poll_event(&mut out), Ok(Polled::Event(Event::Text("Hello"), _))));
    /// assert!(matches!(server.poll_event(&mut out), Ok(Polled::NeedMore)));
    /// ```
    pub fn new_open(role: Role, config: Config) -> Self {
        Self {
            rx: Receiver::default(),
            core: Core {
                state: State::Open,
                config,
                entropy: match role {
                    Role::Server => None,
                    Role::Client(entropy) => Some(entropy),
                },
                sending: None,
                #[cfg(feature = "deflate")]
                sending_compressed: false,
                eof: false,
                sent_close: None,
                received_close: None,
                timers: Timers::default(),
                #[cfg(feature = "deflate")]
                compression: None,
                #[cfg(feature = "deflate")]
                inflater: None,
            },
        }
    }

    /// A server connection awaiting the client's upgrade request: the first
    /// event is [`Event::Request`], to be answered with
    /// [`Sender::accept`] or [`Sender::reject`].
    pub fn server(config: Config) -> Self {
        let mut conn = Self::new_open(Role::Server, config);
        conn.core.state = State::ReadingRequest { scanned: 0 };
        conn
    }

    /// A client connection: queues the upgrade request in `out` at once,
    /// with a nonce from `entropy` (which also supplies the mask keys: any
    /// `FnMut(&mut [u8])` filling its argument with random bytes). The first
    /// event is [`Event::Accepted`] once the server's `101` arrives.
    ///
    /// Fails with [`SendError::InvalidHeader`] if the host, path, a
    /// subprotocol or a header is not valid in an HTTP head.
    pub fn client(
        request: &ClientRequest<'_>,
        entropy: impl FnMut(&mut [u8]) + Send + 'static,
        config: Config,
        out: &mut Vec<u8>,
    ) -> Result<Self, SendError> {
        let mut entropy = Entropy::new(entropy);
        let mut nonce = [0; 16];
        entropy.fill(&mut nonce);
        let key = handshake::key_for_nonce(&nonce);
        #[cfg(feature = "deflate")]
        let extensions = config.deflate.offer();
        #[cfg(not(feature = "deflate"))]
        let extensions: Option<String> = None;
        let offered = handshake::write_request(request, &key, extensions.as_deref(), out)?;
        let mut conn = Self::new_open(Role::Client(entropy), config);
        conn.core.state = State::ReadingResponse(Box::new(ClientHandshake {
            accept: handshake::accept_key(&key),
            offered,
            head_start: 0,
            scanned: 0,
        }));
        Ok(conn)
    }

    /// Whether this is the client end.
    pub fn is_client(&self) -> bool {
        self.core.is_client()
    }

    /// The connection's configuration.
    pub fn config(&self) -> &Config {
        &self.core.config
    }

    /// The phase of the connection.
    pub fn state(&self) -> ConnectionState {
        match self.core.state {
            State::ReadingRequest { .. }
            | State::RequestReceived { .. }
            | State::RequestOverrun
            | State::ReadingResponse(_)
            | State::ReadingRejection(_) => ConnectionState::Connecting,
            State::Open => ConnectionState::Open,
            State::CloseSent => ConnectionState::Closing,
            State::Closed | State::Failed | State::Expired(_) => ConnectionState::Closed,
        }
    }

    /// The Close we sent (by [`close`](Self::close), as the reply to the
    /// peer's Close, or when failing the connection), if any.
    pub fn sent_close(&self) -> Option<&CloseFrame> {
        self.core.sent_close.as_deref()
    }

    /// The Close we received: the peer's code and reason, 1005 if its Close
    /// had none, or 1006 if the transport ended without one.
    pub fn received_close(&self) -> Option<&CloseFrame> {
        self.core.received_close.as_deref()
    }

    /// Whether the caller should now close the transport, after writing out
    /// everything queued: the same moment [`poll_event`](Self::poll_event)
    /// starts answering [`Polled::Done`]. A server closes first once the
    /// closing handshake is done (RFC 6455 §7.1.1); a client waits for the
    /// server to close the TCP connection (reported with
    /// [`receive_eof`](Self::receive_eof)), so a client caller should also
    /// apply a timeout of its own.
    pub fn should_close_transport(&self) -> bool {
        self.core.is_done()
    }

    /// The permessage-deflate parameters in use (feature `deflate`), once
    /// the handshake negotiated them.
    #[cfg(feature = "deflate")]
    pub fn deflate(&self) -> Option<&DeflateParams> {
        self.core.compression.as_ref().map(|c| &c.params)
    }

    /// The sending half, for sending when no event is held.
    pub fn sender(&mut self) -> Sender<'_> {
        Sender {
            core: &mut self.core,
            received: &self.rx.buf,
        }
    }

    /// Buffers bytes received from the transport. Call
    /// [`poll_event`](Self::poll_event) afterwards until it says `NeedMore`.
    /// Bytes that arrive after the connection closed are dropped.
    pub fn receive(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.core.timers.on_receive();
        }
        match self.core.state {
            State::Closed | State::Failed | State::RequestOverrun | State::Expired(_) => {}
            _ if self.core.eof => {}
            State::RequestReceived { head_len, .. } => {
                // The request head stays in place until `accept`, and what
                // follows it is held, bounded: a server that authenticates
                // before accepting must not buffer without limit.
                let early = self.rx.buf.len() - head_len + bytes.len();
                if early > self.core.config.max_handshake_size {
                    self.core.state = State::RequestOverrun;
                    self.rx.release();
                } else {
                    self.rx.push(bytes, head_len);
                }
            }
            _ => self.rx.push(bytes, 0),
        }
    }

    /// Reports that the transport reached end of stream. Bytes received
    /// before it are still processed; then, unless the closing handshake
    /// finished, [`poll_event`](Self::poll_event) reports `Close` with 1006.
    pub fn receive_eof(&mut self) {
        self.core.eof = true;
    }

    /// Tells the connection the time: `now` is a monotonic time since an
    /// origin of the caller's choosing (e.g. `Instant::now() - start`), the
    /// same origin for every call. Acts on every deadline that passed:
    /// queues a keepalive Ping, or the Close (1011) or `408` of a timeout,
    /// in `out`; the next [`poll_event`](Self::poll_event) reports a timeout
    /// like any other end. Nothing happens between calls: the same inputs at
    /// the same times give the same bytes and events.
    ///
    /// Call it once when the connection is created (time starts then), and
    /// again whenever [`poll_timeout`](Self::poll_timeout)'s deadline passes
    /// or bytes arrive. A time earlier than the last one is taken as the
    /// last one.
    ///
    /// ```
    /// use core::time::Duration;
    /// use wstate::{Config, Connection, Keepalive, Role};
    /// let config = Config::default().keepalive(Some(Keepalive::new(Duration::from_secs(20), Duration::from_secs(5))));
    /// let mut server = Connection::new_open(Role::Server, config);
    /// let mut out = Vec::new();
    /// server.handle_timeout(Duration::ZERO, &mut out);
    /// assert_eq!(server.poll_timeout(), Some(Duration::from_secs(20)));
    /// server.handle_timeout(Duration::from_secs(20), &mut out);
    /// // A Ping with the keepalive's payload, then 5 s to answer it.
    /// assert_eq!(out, [0x89, 0x08, b'w', b's', b'k', b'a', 0, 0, 0, 1]);
    /// assert_eq!(server.poll_timeout(), Some(Duration::from_secs(25)));
    /// ```
    pub fn handle_timeout(&mut self, now: Duration, out: &mut Vec<u8>) {
        let phase = self.core.phase();
        let Some(due) = self.core.timers.expired(now, phase, &self.core.config) else {
            return;
        };
        let core = &mut self.core;
        match due {
            Due::Ping(payload) => {
                write_frame(core.entropy.as_mut(), OpCode::Ping, true, &payload, out);
            }
            Due::Handshake => {
                // "408 (Request Timeout) ... the server did not receive a
                // complete request message within the time that it was
                // prepared to wait" (RFC 9110 §15.5.9): only for a request
                // that began; a silent connection is just closed.
                let server = matches!(core.state, State::ReadingRequest { .. });
                if server && !self.rx.buf.is_empty() {
                    handshake::write_error_response(&HandshakeError::Timeout, out);
                }
                // ReadingRequest | ReadingResponse | ReadingRejection -> Expired.
                core.state = State::Expired(Expiry::Handshake);
                self.rx.release();
            }
            Due::KeepaliveTimeout => {
                // Open -> Expired: fail with 1011, as for any failure.
                let frame = CloseFrame::with_reason(CloseCode::INTERNAL_ERROR, "keepalive timeout")
                    .unwrap_or(CloseFrame::new(CloseCode::INTERNAL_ERROR));
                write_frame(
                    core.entropy.as_mut(),
                    OpCode::Close,
                    true,
                    &frame.payload(),
                    out,
                );
                core.sent_close = Some(Box::new(frame));
                core.state = State::Expired(Expiry::Keepalive);
                self.rx.release();
            }
            Due::CloseTimeout => {
                // CloseSent -> Expired: give up on the peer's Close.
                core.state = State::Expired(Expiry::Close);
                self.rx.release();
            }
            Due::TcpCloseTimeout => {
                // Client, Closed: stop waiting for the server to close TCP.
                core.eof = true;
            }
        }
    }

    /// The next time [`handle_timeout`](Self::handle_timeout) has something
    /// to do, on the caller's time scale; `None` while no deadline is armed.
    /// Deadlines move only with calls on the connection: ask again after
    /// each.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.core
            .timers
            .deadline(self.core.phase(), &self.core.config)
    }

    /// Returns the next thing that happened: an event with the [`Sender`]
    /// to answer it, [`Polled::NeedMore`], or [`Polled::Done`].
    ///
    /// Bytes the protocol requires in response (a Pong, the reply to a Close,
    /// the Close that fails the connection) are appended to `out`. On a
    /// protocol error the connection has failed: the Close frame with the
    /// error's code (or, during the handshake, the HTTP error response) is in
    /// `out`, and every later call returns `Done`.
    #[inline]
    pub fn poll_event(&mut self, out: &mut Vec<u8>) -> Result<Polled<'_>, Error> {
        // The common case first, in a few instructions: a small whole data
        // message. Everything else takes the general path, out of line.
        if !matches!(self.core.state, State::Open | State::CloseSent) {
            return self.poll_general(out);
        }
        let client = self.core.is_client();
        let Some((text, range)) = self.rx.read_small_message(&self.core.config, client) else {
            return self.poll_general(out);
        };
        let Self { rx, core } = self;
        let payload = &rx.buf[range];
        let event = if text {
            match core::str::from_utf8(payload) {
                Ok(text) => Event::Text(text),
                Err(_) => return Err(core.fail(ProtocolError::InvalidUtf8, out).into()),
            }
        } else {
            Event::Binary(payload)
        };
        Ok(Polled::Event(event, Sender::new(core, &rx.buf)))
    }

    #[inline(never)]
    fn poll_general(&mut self, out: &mut Vec<u8>) -> Result<Polled<'_>, Error> {
        self.rx.recycle(self.core.config.retained_buffer);
        #[cfg(feature = "deflate")]
        if let Some(inflater) = self.core.inflater.take() {
            self.rx.inflater = Some(inflater);
        }
        match self.core.state {
            State::Open | State::CloseSent => {}
            State::ReadingRequest { .. } => return self.poll_request(out),
            State::RequestReceived { .. } => return Ok(self.poll_pending_request()),
            State::RequestOverrun => {
                // RequestOverrun -> Failed, with the HTTP error queued.
                let e = HandshakeError::EarlyDataTooLarge;
                handshake::write_error_response(&e, out);
                self.core.state = State::Failed;
                return Err(e.into());
            }
            State::ReadingResponse(_) | State::ReadingRejection(_) => {
                return self.poll_response();
            }
            State::Expired(expiry) => return self.poll_expired(expiry),
            State::Closed | State::Failed => {
                if self.rx.holds_memory() {
                    self.rx.release();
                }
                return Ok(self.core.end());
            }
        }
        let client = self.core.is_client();
        let ready = match self.rx.read_frames(&self.core.config, client) {
            Ok(Some(ready)) => ready,
            Ok(None) => return Ok(self.on_need_more()),
            Err(e) => {
                let e = self.core.fail(e, out);
                self.rx.release();
                return Err(e.into());
            }
        };
        if let Ready::Close(frame) = ready {
            self.core.on_close_received(&frame, out);
            self.rx.release();
            let sender = Sender::new(&mut self.core, &[]);
            return Ok(Polled::Event(Event::Close(frame), sender));
        }
        let Self { rx, core } = self;
        let bytes = |payload| match payload {
            Payload::InPlace(range) => &rx.buf[range],
            Payload::Reassembled => &rx.message[..],
        };
        let event = match ready {
            // A text frame that arrived whole is checked here, once, by the
            // conversion itself.
            Ready::Text(payload) => match core::str::from_utf8(bytes(payload)) {
                Ok(text) => Event::Text(text),
                Err(_) => return Err(core.fail(ProtocolError::InvalidUtf8, out).into()),
            },
            Ready::Binary(payload) => Event::Binary(bytes(payload)),
            Ready::Ping(range) => {
                // "Upon receipt of a Ping frame, an endpoint MUST send a Pong
                // frame in response, unless it already received a Close
                // frame" (§5.5.2): also after sending our own Close.
                if core.config.auto_pong {
                    let payload = &rx.buf[range.clone()];
                    write_frame(core.entropy.as_mut(), OpCode::Pong, true, payload, out);
                }
                Event::Ping(&rx.buf[range])
            }
            Ready::Pong(range) => {
                core.timers.on_pong(&rx.buf[range.clone()]);
                Event::Pong(&rx.buf[range])
            }
            Ready::Close(_) => return Ok(Polled::NeedMore), // handled above
            Ready::TextPart(at, fin) => {
                let bytes = part_bytes(rx, at);
                match core::str::from_utf8(bytes) {
                    Ok(text) => Event::TextPart(text, fin),
                    Err(_) => return Err(core.fail(ProtocolError::InvalidUtf8, out).into()),
                }
            }
            Ready::BinaryPart(at, fin) => Event::BinaryPart(part_bytes(rx, at), fin),
        };
        Ok(Polled::Event(event, Sender::new(core, &rx.buf)))
    }

    /// Reports a deadline that passed (Expired -> Failed | Closed).
    fn poll_expired(&mut self, expiry: Expiry) -> Result<Polled<'_>, Error> {
        match expiry {
            Expiry::Handshake => {
                self.core.state = State::Failed;
                Err(HandshakeError::Timeout.into())
            }
            Expiry::Keepalive => {
                self.core.state = State::Failed;
                Err(Error::KeepaliveTimeout)
            }
            Expiry::Close => {
                // As if the transport ended: 1006, and nothing more to wait
                // for, for either role.
                self.core.eof = true;
                let event = Event::Close(self.core.on_transport_end());
                Ok(Polled::Event(event, Sender::new(&mut self.core, &[])))
            }
        }
    }

    /// Server: looks for a complete request head and validates it.
    fn poll_request(&mut self, out: &mut Vec<u8>) -> Result<Polled<'_>, Error> {
        let State::ReadingRequest { scanned } = &mut self.core.state else {
            return Ok(Polled::NeedMore);
        };
        let max = self.core.config.max_handshake_size;
        let len = self.rx.buf.len();
        // Empty lines before the request line are ignored (RFC 9112 §2.2);
        // they count towards the head size limit.
        let start = http::empty_lines(&self.rx.buf);
        let head_len = match http::find_head_end(&self.rx.buf, start, scanned) {
            Err(e) => return Err(self.refuse(e, out)),
            Ok(Some(n)) if n <= max => n,
            Ok(None) if len <= max && !self.core.eof => return Ok(Polled::NeedMore),
            Ok(None) if len <= max => {
                return Err(self.refuse(HandshakeError::UnexpectedEof, out));
            }
            _ => {
                // "A server that receives a request-target longer than any
                // URI it wishes to parse MUST respond with a 414 (URI Too
                // Long) status code" (RFC 9112 §3); other fields: 431.
                let e = http::request_too_large(&self.rx.buf[start..], max);
                return Err(self.refuse(e, out));
            }
        };
        // Frames start after the head (once accepted); the head itself stays
        // in place, borrowed by the request and read again by `accept`.
        self.rx.pos = head_len;
        let Self { rx, core } = self;
        let buf = &rx.buf[..];
        let parsed = http::parse_head(&buf[start..head_len], core.config.max_headers)
            .map_err(|e| match e {
                HandshakeError::HeadTooLarge => http::request_too_large(&buf[start..], max),
                e => e,
            })
            .and_then(handshake::validate_request);
        match parsed {
            Ok((request, key)) => {
                // ReadingRequest -> RequestReceived: the caller decides. The
                // key stays in the buffer until `accept`: keep where.
                let key_start = key.as_ptr().addr() - buf.as_ptr().addr();
                core.state = if buf.len() - head_len > core.config.max_handshake_size {
                    // More than the bound already follows the head (it came
                    // in the same reads): the same answer as if it came
                    // after, whatever the chunking. The request is still
                    // reported; answering it fails, the next poll refuses it.
                    State::RequestOverrun
                } else {
                    State::RequestReceived {
                        head_len,
                        key_start,
                    }
                };
                Ok(Polled::Event(
                    Event::Request(request),
                    Sender::new(core, buf),
                ))
            }
            Err(e) => {
                // ReadingRequest -> Failed, with the HTTP error queued.
                handshake::write_error_response(&e, out);
                core.state = State::Failed;
                Err(e.into())
            }
        }
    }

    /// Server: refuses the request with an HTTP error (ReadingRequest ->
    /// Failed).
    fn refuse(&mut self, e: HandshakeError, out: &mut Vec<u8>) -> Error {
        handshake::write_error_response(&e, out);
        self.core.state = State::Failed;
        self.rx.release();
        e.into()
    }

    /// Server: a request awaits `accept` or `reject`.
    fn poll_pending_request(&mut self) -> Polled<'_> {
        if !self.core.eof {
            return Polled::NeedMore;
        }
        // RequestReceived -> Closed: the client left before the answer.
        self.rx.release();
        let event = Event::Close(self.core.on_transport_end());
        Polled::Event(event, Sender::new(&mut self.core, &[]))
    }

    /// Client: looks for a complete response head and validates it, or for
    /// the body of a refusal.
    fn poll_response(&mut self) -> Result<Polled<'_>, Error> {
        let max = self.core.config.max_handshake_size;
        let eof = self.core.eof;
        match &mut self.core.state {
            State::ReadingResponse(client) => {
                let len = self.rx.buf.len();
                let start = client.head_start;
                let found = http::find_head_end(&self.rx.buf, start, &mut client.scanned);
                // The limit bounds every head read, interim ones included.
                let head_len = match found {
                    Err(e) => return Err(self.give_up(e)),
                    Ok(Some(n)) if n <= max => n,
                    Ok(None) if len <= max && !eof => return Ok(Polled::NeedMore),
                    Ok(None) if len <= max => {
                        return Err(self.give_up(HandshakeError::UnexpectedEof));
                    }
                    _ => return Err(self.give_up(HandshakeError::HeadTooLarge)),
                };
                http::unfold(&mut self.rx.buf[start..head_len]);
                let head = &self.rx.buf[start..head_len];
                let max_headers = self.core.config.max_headers;
                let parsed = http::parse_head(head, max_headers);
                if let Ok(status) = parsed
                    .clone()
                    .and_then(|h| http::parse_status_line(h.first))
                    && matches!(status.0, 100..=199)
                    && status.0 != 101
                {
                    // "A client MUST be able to parse one or more 1xx
                    // responses received prior to a final response, even if
                    // the client does not expect one. A user agent MAY
                    // ignore unexpected 1xx responses" (RFC 9110 §15.2):
                    // skip it and read the next head (ReadingResponse ->
                    // ReadingResponse). 101 is the final one here.
                    client.head_start = head_len;
                    client.scanned = head_len;
                    return self.poll_response();
                }
                // Bytes after the head are frames (or a refusal's body).
                self.rx.pos = head_len;
                #[cfg(feature = "deflate")]
                let config = &self.core.config;
                let checked = parsed.and_then(|head| {
                    handshake::validate_response(
                        head,
                        &client.accept,
                        &client.offered,
                        #[cfg(feature = "deflate")]
                        &config.deflate,
                    )
                });
                #[cfg(feature = "deflate")]
                let checked = checked.map(|accepted| accepted.deflate().copied());
                #[cfg(not(feature = "deflate"))]
                let checked = checked.map(|_| ());
                match checked {
                    #[cfg(feature = "deflate")]
                    Ok(Some(params)) => {
                        let (compression, inflater) =
                            compress::codec(params, &self.core.config.deflate, false);
                        self.core.compression = Some(compression);
                        self.rx.inflater = Some(inflater);
                    }
                    Ok(_) => {}
                    Err(HandshakeError::Rejected(response)) => {
                        // ReadingResponse -> ReadingRejection: wait for the
                        // body, up to the handshake limit.
                        let want = body_length(&response).map(|n| n.min(max));
                        self.core.state = State::ReadingRejection(Box::new(Rejection {
                            response: *response,
                            want,
                        }));
                        return self.poll_response();
                    }
                    Err(e) => return Err(self.give_up(e)),
                }
                // Checked: parse again for the event, borrowing the buffer
                // (once per connection).
                let Self { rx, core } = self;
                let State::ReadingResponse(client) = &core.state else {
                    return Ok(Polled::NeedMore);
                };
                let head = &rx.buf[client.head_start..head_len];
                let config = &core.config;
                match http::parse_head(head, config.max_headers).and_then(|head| {
                    handshake::validate_response(
                        head,
                        &client.accept,
                        &client.offered,
                        #[cfg(feature = "deflate")]
                        &config.deflate,
                    )
                }) {
                    Ok(accepted) => {
                        // ReadingResponse -> Open.
                        core.state = State::Open;
                        core.timers.opened();
                        let sender = Sender::new(core, &rx.buf);
                        Ok(Polled::Event(Event::Accepted(accepted), sender))
                    }
                    Err(_) => Ok(Polled::NeedMore),
                }
            }
            State::ReadingRejection(rejection) => {
                // The body starts at `pos`, right after the head.
                let have = self.rx.unread();
                let complete = match rejection.want {
                    Some(want) => have >= want,
                    None => have >= max,
                };
                if !complete && !eof {
                    return Ok(Polled::NeedMore);
                }
                let start = self.rx.pos;
                let end = start + have.min(rejection.want.unwrap_or(max));
                let mut response = core::mem::replace(
                    &mut rejection.response,
                    Response {
                        status: 0,
                        reason: String::new(),
                        headers: Vec::new(),
                        body: Vec::new(),
                    },
                );
                response.body = self.rx.buf[start..end].to_vec();
                Err(self.give_up(HandshakeError::Rejected(Box::new(response))))
            }
            _ => Ok(Polled::NeedMore),
        }
    }

    /// Client: the handshake failed; nothing to send, just hang up
    /// (ReadingResponse | ReadingRejection -> Failed).
    fn give_up(&mut self, e: HandshakeError) -> Error {
        self.core.state = State::Failed;
        self.rx.release();
        e.into()
    }

    /// Nothing more can be parsed: report a transport that ended without a
    /// Close, and give back memory held for a read that is now consumed.
    fn on_need_more(&mut self) -> Polled<'_> {
        self.rx.compact_if_drained(self.core.config.retained_buffer);
        if !self.core.eof {
            return Polled::NeedMore;
        }
        self.rx.release();
        let event = Event::Close(self.core.on_transport_end());
        Polled::Event(event, Sender::new(&mut self.core, &[]))
    }

    /// Sends a whole message: see [`Sender::send`].
    ///
    /// ```
    /// use wstate::{Config, Connection, Message, Role};
    /// let mut client = Connection::new_open(Role::client(|b| b.copy_from_slice(&[0x37, 0xfa, 0x21, 0x3d])), Config::default());
    /// let mut out = Vec::new();
    /// client.send(Message::Text("Hello"), &mut out).unwrap();
    /// // RFC 6455 §5.7: a masked text frame "Hello".
    /// assert_eq!(out, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    /// ```
    pub fn send(&mut self, message: Message<'_>, out: &mut Vec<u8>) -> Result<(), SendError> {
        self.sender().send(message, out)
    }

    /// Sends one piece of a fragmented message: see [`Sender::send_fragment`].
    pub fn send_fragment(
        &mut self,
        message: Message<'_>,
        fin: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        self.sender().send_fragment(message, fin, out)
    }

    /// Starts the closing handshake: see [`Sender::close`].
    pub fn close(
        &mut self,
        code: CloseCode,
        reason: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        self.sender().close(code, reason, out)
    }

    /// Server: accepts the pending request: see [`Sender::accept`].
    pub fn accept(&mut self, accept: &Accept<'_>, out: &mut Vec<u8>) -> Result<(), SendError> {
        self.sender().accept(accept, out)
    }

    /// Server: refuses the pending request: see [`Sender::reject`].
    pub fn reject(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        self.sender().reject(status, headers, body, out)
    }
}

impl Core {
    fn is_client(&self) -> bool {
        self.entropy.is_some()
    }

    /// Which deadlines apply now.
    fn phase(&self) -> Phase {
        match self.state {
            State::ReadingRequest { .. }
            | State::ReadingResponse(_)
            | State::ReadingRejection(_) => Phase::Handshake,
            State::RequestReceived { .. } | State::RequestOverrun => Phase::Deciding,
            State::Open => Phase::Open,
            State::CloseSent => Phase::Closing,
            State::Closed if self.is_client() && !self.eof => Phase::AwaitingTcpClose,
            State::Closed | State::Failed | State::Expired(_) => Phase::Over,
        }
    }

    /// Whether the connection is finished: nothing more in or out.
    fn is_done(&self) -> bool {
        match self.state {
            State::Failed => true,
            // A client waits for the server to close TCP (§7.1.1).
            State::Closed => !self.is_client() || self.eof,
            _ => false,
        }
    }

    /// The answer of a poll in Closed or Failed.
    fn end(&self) -> Polled<'static> {
        if self.is_done() {
            Polled::Done
        } else {
            Polled::NeedMore
        }
    }

    /// The peer's Close arrived.
    fn on_close_received(&mut self, frame: &CloseFrame, out: &mut Vec<u8>) {
        if matches!(self.state, State::Open) {
            // Open -> Closed: "If an endpoint receives a Close frame and did
            // not previously send a Close frame, the endpoint MUST send a
            // Close frame in response" (§5.5.1), echoing the code.
            let code = match frame.code {
                CloseCode::NO_STATUS => CloseCode::NORMAL,
                // 1010 "is not used by the server" (§7.4.1): a server does
                // not echo it.
                CloseCode::MANDATORY_EXTENSION if !self.is_client() => CloseCode::NORMAL,
                code => code,
            };
            let reply = CloseFrame::new(code);
            let payload = reply.payload();
            write_frame(self.entropy.as_mut(), OpCode::Close, true, &payload, out);
            self.sent_close = Some(Box::new(reply));
        }
        // CloseSent -> Closed: the closing handshake is complete. A client
        // now waits (bounded) for the server to close TCP.
        self.state = State::Closed;
        self.timers.start_phase();
        self.received_close = Some(Box::new(frame.clone()));
    }

    /// The transport ended without a Close (any state -> Closed): 1006.
    fn on_transport_end(&mut self) -> CloseFrame {
        self.state = State::Closed;
        let abnormal = CloseFrame::new(CloseCode::ABNORMAL);
        self.received_close = Some(Box::new(abnormal.clone()));
        abnormal
    }

    /// Fails the connection for a peer error (any state -> Failed): queues
    /// our Close unless we already sent one.
    fn fail(&mut self, error: ProtocolError, out: &mut Vec<u8>) -> ProtocolError {
        if matches!(self.state, State::Open) {
            let frame = CloseFrame::truncated(error.close_code(), error.description());
            write_frame(
                self.entropy.as_mut(),
                OpCode::Close,
                true,
                &frame.payload(),
                out,
            );
            self.sent_close = Some(Box::new(frame));
        }
        self.state = State::Failed;
        error
    }
}

impl<'a> Sender<'a> {
    fn new(core: &'a mut Core, received: &'a [u8]) -> Self {
        Self { core, received }
    }

    /// Sends a whole message. Text and Binary need an open connection; a
    /// Ping or Pong may also be sent after our Close, until the peer's
    /// arrives (RFC 6455 §5.5.1 forbids only data frames after a Close).
    ///
    /// An echo that never copies the payload:
    ///
    /// ```
    /// use wstate::{Config, Connection, Event, Message, Polled, Role};
    /// let mut server = Connection::new_open(Role::Server, Config::default());
    /// let mut out = Vec::new();
    /// server.receive(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    /// if let Ok(Polled::Event(Event::Text(text), tx)) = server.poll_event(&mut out) {
    ///     tx.send(Message::Text(text), &mut out).unwrap();
    /// }
    /// assert_eq!(out, [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
    /// ```
    pub fn send(self, message: Message<'_>, out: &mut Vec<u8>) -> Result<(), SendError> {
        let (opcode, payload) = match message {
            Message::Text(text) => (OpCode::Text, text.as_bytes()),
            Message::Binary(bytes) => (OpCode::Binary, bytes),
            Message::Ping(bytes) => (OpCode::Ping, bytes),
            Message::Pong(bytes) => (OpCode::Pong, bytes),
        };
        if opcode.is_control() {
            self.check_can_send_control()?;
            if payload.len() > MAX_CONTROL_PAYLOAD {
                return Err(SendError::ControlPayloadTooLong);
            }
        } else {
            self.check_can_send()?;
            if self.core.sending.is_some() {
                return Err(SendError::FragmentInProgress);
            }
            #[cfg(feature = "deflate")]
            if let Some(compression) = self.core.compression.as_mut()
                && let Some(compressed) = compression.message(payload)
            {
                // RFC 7692 §6: RSV1 on the (only) frame of a compressed message.
                let compressed = compressed.map_err(|()| SendError::CompressionFailed)?;
                let entropy = self.core.entropy.as_mut();
                write_frame_rsv(entropy, opcode, true, send::RSV1, compressed, out);
                return Ok(());
            }
        }
        write_frame(self.core.entropy.as_mut(), opcode, true, payload, out);
        Ok(())
    }

    /// Sends one piece of a fragmented message: the first call picks the
    /// message type from `message` (Text or Binary), later calls must use the
    /// same type, and the call with `fin = true` ends the message. Control
    /// messages may be sent with [`send`](Self::send) between the pieces.
    ///
    /// ```
    /// use wstate::{Config, Connection, Message, Role};
    /// let mut server = Connection::new_open(Role::Server, Config::default());
    /// let mut out = Vec::new();
    /// server.send_fragment(Message::Text("Hel"), false, &mut out).unwrap();
    /// server.send_fragment(Message::Text("lo"), true, &mut out).unwrap();
    /// // RFC 6455 §5.7: a fragmented unmasked text message.
    /// assert_eq!(out, [0x01, 0x03, b'H', b'e', b'l', 0x80, 0x02, b'l', b'o']);
    /// ```
    pub fn send_fragment(
        self,
        message: Message<'_>,
        fin: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        self.check_can_send()?;
        let (kind, payload) = match message {
            Message::Text(text) => (Kind::Text, text.as_bytes()),
            Message::Binary(bytes) => (Kind::Binary, bytes),
            Message::Ping(_) | Message::Pong(_) => return Err(SendError::ControlFragment),
        };
        let opcode = match self.core.sending {
            None if kind == Kind::Text => OpCode::Text,
            None => OpCode::Binary,
            Some(sending) if sending == kind => OpCode::Continuation,
            Some(_) => return Err(SendError::FragmentTypeMismatch),
        };
        #[cfg(feature = "deflate")]
        {
            let first = opcode != OpCode::Continuation;
            if first {
                let compression = self.core.compression.as_ref();
                self.core.sending_compressed =
                    compression.is_some_and(|c| c.compresses_fragments());
            }
            if self.core.sending_compressed
                && let Some(compression) = self.core.compression.as_mut()
            {
                // Each fragment compressed and flushed; RSV1 on the first
                // only (RFC 7692 §6.1).
                let compressed = compression
                    .fragment(payload, fin)
                    .map_err(|()| SendError::CompressionFailed)?;
                let rsv = if first { send::RSV1 } else { 0 };
                write_frame_rsv(
                    self.core.entropy.as_mut(),
                    opcode,
                    fin,
                    rsv,
                    compressed,
                    out,
                );
                self.core.sending = if fin { None } else { Some(kind) };
                return Ok(());
            }
        }
        write_frame(self.core.entropy.as_mut(), opcode, fin, payload, out);
        self.core.sending = if fin { None } else { Some(kind) };
        Ok(())
    }

    /// Starts the closing handshake: queues a Close with `code` and `reason`.
    /// The connection keeps delivering the peer's messages until its Close
    /// arrives, and sends no more data.
    ///
    /// 1005, 1006 and 1015 are local-only and, like reserved or unassigned
    /// codes, refused with [`SendError::InvalidCloseCode`]; so is 1010 from
    /// a server (§7.4.1: it "is not used by the server").
    ///
    /// ```
    /// use wstate::{CloseCode, Config, Connection, Role, SendError};
    /// let mut server = Connection::new_open(Role::Server, Config::default());
    /// let mut out = Vec::new();
    /// assert_eq!(server.close(CloseCode::ABNORMAL, "", &mut out), Err(SendError::InvalidCloseCode(CloseCode::ABNORMAL)));
    /// server.close(CloseCode::NORMAL, "bye", &mut out).unwrap();
    /// assert_eq!(out, [0x88, 0x05, 0x03, 0xe8, b'b', b'y', b'e']);
    /// assert_eq!(server.close(CloseCode::NORMAL, "", &mut out), Err(SendError::Closed));
    /// ```
    pub fn close(self, code: CloseCode, reason: &str, out: &mut Vec<u8>) -> Result<(), SendError> {
        self.check_can_send()?;
        if !code.is_sendable_by(self.core.is_client()) {
            return Err(SendError::InvalidCloseCode(code));
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(SendError::ReasonTooLong);
        }
        let frame = CloseFrame::with_reason(code, reason).ok_or(SendError::ReasonTooLong)?;
        let payload = frame.payload();
        write_frame(
            self.core.entropy.as_mut(),
            OpCode::Close,
            true,
            &payload,
            out,
        );
        self.core.sent_close = Some(Box::new(frame));
        // Open -> CloseSent: the close timeout starts.
        self.core.state = State::CloseSent;
        self.core.timers.start_phase();
        Ok(())
    }

    /// Server: accepts the pending request with a `101` response, selecting
    /// a subprotocol if asked. Frames that followed the request are
    /// processed by the next [`poll_event`](Connection::poll_event).
    ///
    /// Fails with [`SendError::NoPendingRequest`] unless an
    /// [`Event::Request`] awaits an answer, [`SendError::Closed`] if the
    /// client left meanwhile, and [`SendError::SubprotocolNotOffered`],
    /// [`SendError::InvalidHeader`] or [`SendError::ReservedHeader`] (a
    /// header the `101` writes itself, or `Content-Length` and
    /// `Transfer-Encoding`, which a 1xx may not carry) for choices the
    /// client cannot accept; nothing is written then.
    ///
    /// ```
    /// use wstate::{Accept, Config, Connection, Event, Polled};
    /// let mut server = Connection::server(Config::default());
    /// let mut out = Vec::new();
    /// server.receive(b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
    ///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    ///     Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v2.chat, v1.chat\r\n\r\n");
    /// let Ok(Polled::Event(Event::Request(request), tx)) = server.poll_event(&mut out) else { panic!() };
    /// // Choose from the request while it is still borrowed.
    /// let chosen = request.subprotocols().find(|p| p.starts_with("v1")).unwrap();
    /// tx.accept(&Accept::new().subprotocol(chosen), &mut out).unwrap();
    /// assert!(out.ends_with(b"Sec-WebSocket-Protocol: v1.chat\r\n\r\n"));
    /// ```
    pub fn accept(self, accept: &Accept<'_>, out: &mut Vec<u8>) -> Result<(), SendError> {
        let State::RequestReceived {
            head_len,
            key_start,
        } = self.core.state
        else {
            return Err(self.no_request());
        };
        if self.core.eof {
            return Err(SendError::Closed);
        }
        let head = self
            .received
            .get(..head_len)
            .ok_or(SendError::NoPendingRequest)?;
        let config = &self.core.config;
        #[cfg(feature = "deflate")]
        let mut deflate = None;
        #[cfg(feature = "deflate")]
        let wants_request = accept.subprotocol.is_some() || config.deflate.enabled;
        #[cfg(not(feature = "deflate"))]
        let wants_request = accept.subprotocol.is_some();
        if wants_request {
            // Only a chosen subprotocol or an extension needs the request
            // again.
            let start = http::empty_lines(head);
            let (request, _) = http::parse_head(&head[start..], config.max_headers)
                .and_then(handshake::validate_request)
                .map_err(|_| SendError::NoPendingRequest)?;
            handshake::check_accept(&request, accept)?;
            #[cfg(feature = "deflate")]
            {
                let offers = request.headers().get_all("sec-websocket-extensions");
                deflate = handshake::extensions::negotiate(offers, &config.deflate);
            }
        } else {
            handshake::check_headers(accept.headers, handshake::RESPONSE_RESERVED)?;
        }
        let key = head
            .get(key_start..key_start + 24)
            .ok_or(SendError::NoPendingRequest)?;
        #[cfg(feature = "deflate")]
        let extensions = deflate.map(|params| alloc::string::ToString::to_string(&params));
        #[cfg(not(feature = "deflate"))]
        let extensions: Option<String> = None;
        handshake::write_accept(key, accept, extensions.as_deref(), out);
        #[cfg(feature = "deflate")]
        if let Some(params) = deflate {
            let (compression, inflater) = compress::codec(params, &self.core.config.deflate, true);
            self.core.compression = Some(compression);
            self.core.inflater = Some(inflater);
        }
        // RequestReceived -> Open; the receive buffer resumes after the head.
        self.core.state = State::Open;
        self.core.timers.opened();
        Ok(())
    }

    /// Server: refuses the pending request with an HTTP response (`status`
    /// 200-599, e.g. 403 or 404), extra headers and a body. `Connection:
    /// close` and `Content-Length` are added (no `Content-Length` for 204
    /// and 304, which have no body); a `426` gets `Upgrade: websocket` and
    /// `Sec-WebSocket-Version: 13`, a `405` gets `Allow: GET` unless given.
    /// The next poll says `Done`.
    ///
    /// Fails, writing nothing, with [`SendError::InvalidStatus`] outside
    /// 200-599, [`SendError::BodyNotAllowed`] for a body on 204 or 304,
    /// [`SendError::MissingHeader`] for a 401 without `WWW-Authenticate`
    /// (or 407 without `Proxy-Authenticate`), [`SendError::InvalidHeader`]
    /// for an invalid field and [`SendError::ReservedHeader`] for one the
    /// connection writes itself (`Connection`, `Content-Length`,
    /// `Transfer-Encoding`, `Upgrade`, `Sec-WebSocket-*`).
    pub fn reject(
        self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        if !matches!(self.core.state, State::RequestReceived { .. }) {
            return Err(self.no_request());
        }
        handshake::check_reject(status, headers, body)?;
        handshake::write_reject(status, headers, body, out);
        // RequestReceived -> Failed: the upgrade did not happen; nothing
        // more in or out.
        self.core.state = State::Failed;
        Ok(())
    }

    /// The error for `accept`/`reject` without a pending request.
    fn no_request(&self) -> SendError {
        match self.core.state {
            State::Closed | State::Failed | State::RequestOverrun => SendError::Closed,
            _ => SendError::NoPendingRequest,
        }
    }

    fn check_can_send(&self) -> Result<(), SendError> {
        match self.core.state {
            State::Open => Ok(()),
            State::ReadingRequest { .. }
            | State::RequestReceived { .. }
            | State::ReadingResponse(_) => Err(SendError::NotOpen),
            State::RequestOverrun
            | State::ReadingRejection(_)
            | State::Expired(_)
            | State::CloseSent
            | State::Closed
            | State::Failed => Err(SendError::Closed),
        }
    }

    /// Ping and Pong: also allowed after our Close, until the peer's.
    fn check_can_send_control(&self) -> Result<(), SendError> {
        match self.core.state {
            State::CloseSent => Ok(()),
            _ => self.check_can_send(),
        }
    }
}

/// The bytes of a part, wherever the receiver put them.
fn part_bytes(rx: &Receiver, at: PartAt) -> &[u8] {
    match at {
        PartAt::Buf(range) => &rx.buf[range],
        PartAt::Carry => &rx.carry[..rx.carry_len],
        PartAt::Message(range) => &rx.message[range],
    }
}

/// How many body bytes a refusal carries: its `Content-Length`, none for
/// 1xx, 204 and 304 (RFC 9112 §6.3), or `None`: until the transport ends.
fn body_length(response: &Response) -> Option<usize> {
    if matches!(response.status, 100..=199 | 204 | 304) {
        return Some(0);
    }
    let chunked = response.header("transfer-encoding").is_some();
    match response.header("content-length") {
        Some(v) if !chunked => v.trim().parse().ok(),
        _ => None,
    }
}
