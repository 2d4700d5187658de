//! [`Connection`]: the WebSocket state machine. Every transition of the
//! private [`State`] happens in this file; the receive pipeline (`recv.rs`,
//! the frame decoder, feeding `assemble.rs`, the message assembler) and
//! `send.rs` beside it turn bytes into values and values into bytes.

mod ask;
mod assemble;
mod feed;
mod incoming;
mod opening;
mod recv;
mod send;
mod sender;
mod timers;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::time::Duration;

use crate::config::Config;
use crate::deflate::{self, Compression, DeflateParams, Held, Inflater};
use crate::error::{Error, HandshakeError, SendError};
use crate::event::Event;
use crate::handshake::{self, ClientRequest};
use crate::wire::ProtocolError;
use crate::wire::close::{CloseCode, CloseFrame};
use crate::wire::frame::OpCode;
use crate::wire::utf8::validate;
pub use ask::{ConnectionState, Polled};
use core::ops::Range;
use incoming::Found;
use opening::{ClientHandshake, Rejection};
use recv::{Kind, Receiver};
use send::write_frame;
pub use send::{Entropy, PreparedMessage, Role};
pub use sender::Sender;
use timers::{Due, Phase, Timers};

/// The private state. Each variant is one phase of the connection.
/// A request that awaits its answer: where its parts lie in the head (at
/// the start of the receive buffer), and what accepting it settles.
#[derive(Debug)]
struct Pending {
    head_len: usize,
    /// Where the 24-character key starts.
    key_start: usize,
    /// Where the header fields lie: `accept` checks the chosen subprotocol
    /// against their offer.
    fields: Range<usize>,
    /// It carries `Expect: 100-continue`.
    expects_continue: bool,
    /// The permessage-deflate answer to its offers, under the config.
    deflate: Option<DeflateParams>,
}

#[derive(Debug)]
enum State {
    /// Both directions open. (This and `CloseSent` come first: the poll's
    /// test for the two is then one comparison.)
    Open,
    /// We sent a Close; the peer may still send data, then its Close.
    CloseSent,
    /// Server: reading the request head; `scanned` bytes were searched for
    /// its end already.
    ReadingRequest { scanned: usize },
    /// Server: the request was delivered as an event and awaits `accept` or
    /// `reject`. Its head stays at the start of the buffer, and what
    /// `accept` needs of it was noted when it was parsed, once.
    RequestReceived(Box<Pending>),
    /// Server: while the request awaited an answer, more than the bound
    /// followed its head; the next poll refuses the request.
    RequestOverrun,
    /// Client: the request is sent; reading the response head.
    ReadingResponse(Box<ClientHandshake>),
    /// Client: the server refused the upgrade; reading (a bounded part of)
    /// its response body before reporting it.
    ReadingRejection(Box<Rejection>),
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
    sending_compressed: bool,
    /// The transport reported end of stream.
    eof: bool,
    /// Boxed: allocated once at close time, keeping an open connection small.
    sent_close: Option<Box<CloseFrame>>,
    received_close: Option<Box<CloseFrame>>,
    timers: Timers,
    /// permessage-deflate, once negotiated: the compressor, and the
    /// inflater on its way to the receiver (see `install_codec`).
    compression: Option<Held<Compression>>,
    inflater: Option<Held<Inflater>>,
}

/// A WebSocket connection as a sans-IO state machine.
///
/// Its methods come in three classes:
///
/// * **Feed it** what happened outside: [`receive`](Self::receive) or
///   [`receive_with`](Self::receive_with) for bytes from the transport,
///   [`receive_eof`](Self::receive_eof) when the transport ends, and
///   [`handle_timeout`](Self::handle_timeout) for the time.
/// * **Ask it** what follows: [`poll_event`](Self::poll_event), until it
///   says [`NeedMore`](Polled::NeedMore) or [`Done`](Polled::Done);
///   [`poll_timeout`](Self::poll_timeout) for the next deadline; and the
///   getters ([`state`](Self::state), [`config`](Self::config),
///   [`sent_close`](Self::sent_close), ...), which change nothing.
/// * **Command it** through a [`Sender`]: the one handed out beside each
///   event (to answer while holding it, without copying), or the
///   connection's own from [`sender`](Self::sender) when no event is held.
///
/// Every call that can produce bytes appends them to the caller's `out`;
/// write `out` to the transport in order. It is safe to drop a connection
/// once `poll_event` returned `Done` and `out` was written: the closing
/// handshake is complete (or failed, or the transport ended) and nothing
/// more is owed to the peer.
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
    /// assert!(matches!(server.poll_event(&mut out), Polled::Event(Event::Text("Hello"), _)));
    /// assert!(matches!(server.poll_event(&mut out), Polled::NeedMore));
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
                sending_compressed: false,
                eof: false,
                sent_close: None,
                received_close: None,
                timers: Timers::default(),
                compression: None,
                inflater: None,
            },
        }
    }

    /// [`new_open`](Self::new_open) with the permessage-deflate parameters
    /// the handshake negotiated elsewhere (feature `deflate`): from
    /// [`handshake::h2`](crate::handshake::h2) for RFC 8441, or from
    /// [`extensions::negotiate`](crate::handshake::extensions::negotiate) /
    /// [`extensions::validate_response`](crate::handshake::extensions::validate_response)
    /// for an HTTP/1.1 upgrade done by another server or client. `None` is
    /// `new_open`. `config.deflate` must be the configuration they were
    /// negotiated with: it also sets the compression level,
    /// `min_compress_size` and `compress_outgoing`.
    ///
    /// ```
    /// use wstate::handshake::extensions::negotiate;
    /// use wstate::{Config, Connection, DeflateConfig, Role};
    /// let config = Config::default().with_deflate(Some(DeflateConfig::default()));
    /// // `None` without feature `deflate`: nothing to negotiate with.
    /// let params = config.deflate().and_then(|d| negotiate([&b"permessage-deflate"[..]], d));
    /// let server = Connection::new_open_with_deflate(Role::Server, config, params);
    /// assert_eq!(server.deflate(), params.as_ref());
    /// ```
    pub fn new_open_with_deflate(
        role: Role,
        config: Config,
        deflate: Option<DeflateParams>,
    ) -> Self {
        let mut conn = Self::new_open(role, config);
        if let Some(params) = deflate {
            conn.core.install_codec(params);
        }
        conn
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
        let extensions = config.deflate().map(handshake::extensions::offer);
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

    /// Bytes at the front of the receive buffer that must stay: a pending
    /// request's head.
    fn head_kept(&self) -> usize {
        match self.core.state {
            State::RequestReceived(ref pending) => pending.head_len,
            _ => 0,
        }
    }

    /// Whether `n` more received bytes are kept. Dropped after the end;
    /// while a request awaits `accept` what follows its head is bounded (a
    /// server that authenticates before accepting must not buffer without
    /// limit): new bytes over it, RequestReceived -> RequestOverrun. `already`
    /// of them are in the buffer already. (Bytes that came in the reads of
    /// the head are judged by the next poll: see `poll_pending_request`.)
    fn takes(&mut self, n: usize, already: usize) -> bool {
        if n > 0 {
            self.core.timers.on_receive();
        }
        match self.core.state {
            State::Closed | State::Failed | State::RequestOverrun | State::Expired(_) => false,
            _ if self.core.eof => false,
            State::RequestReceived(ref pending) => {
                let head_len = pending.head_len;
                let early = self.rx.received().len() - already - head_len + n;
                if n > 0 && early > self.core.config.max_handshake_size {
                    self.core.on_overrun();
                    self.rx.release();
                    return false;
                }
                true
            }
            _ => true,
        }
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
    /// let config = Config::default().with_keepalive(Some(Keepalive::new(Duration::from_secs(20), Duration::from_secs(5))));
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
                // Quiet for a keepalive interval: give back large buffers
                // (and an idle codec's zlib state).
                self.shrink_buffers();
            }
            Due::Handshake => {
                // "408 (Request Timeout) ... the server did not receive a
                // complete request message within the time that it was
                // prepared to wait" (RFC 9110 §15.5.9): only for a request
                // that began; a silent connection is just closed.
                let server = matches!(core.state, State::ReadingRequest { .. });
                if server && !self.rx.received().is_empty() {
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
    /// Before the first `handle_timeout`, a connection with a deadline to
    /// keep says `Some(Duration::ZERO)`: tell it the time now, which starts
    /// its clock. Deadlines move only with calls on the connection: ask
    /// again after each.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.core
            .timers
            .deadline(self.core.phase(), &self.core.config)
    }

    /// Returns the next thing that happened: an event with the [`Sender`]
    /// to answer it, [`Polled::Failed`], [`Polled::NeedMore`], or
    /// [`Polled::Done`].
    ///
    /// Bytes the protocol requires in response (a Pong, the reply to a Close,
    /// the Close that fails the connection) are appended to `out`. On a
    /// protocol error the connection has failed: the Close frame with the
    /// error's code (or, during the handshake, the HTTP error response) is in
    /// `out`, the answer is `Failed`, and every later call returns `Done`.
    #[inline]
    pub fn poll_event(&mut self, out: &mut Vec<u8>) -> Polled<'_> {
        // Frames, the common case, inline; the other states out of line.
        if !matches!(self.core.state, State::Open | State::CloseSent) {
            return self.poll_general(out);
        }
        self.poll_frames(out)
    }

    /// The next frame's event (Open | CloseSent). Builds the answer in
    /// place: a `Polled` is large (a Close carries its reason inline), and
    /// converting it from a `Result` would copy it for every message.
    #[inline]
    fn poll_frames(&mut self, out: &mut Vec<u8>) -> Polled<'_> {
        let client = self.core.is_client();
        let found = match self
            .rx
            .read(&self.core.config, client, &mut self.core.inflater)
        {
            Ok(Some(found)) => found,
            Ok(None) => return self.on_need_more(),
            Err(e) => return Polled::Failed(fail_receiving(&mut self.rx, &mut self.core, e, out)),
        };
        let Self { rx, core } = self;
        let event = match found {
            // Text handed out in place is checked here, once, by the
            // conversion itself; all other text was checked as it came.
            Found::InPlace { text: true, range } => match validate(rx.slice(range)) {
                Ok(text) => Event::Text(text),
                Err(_) => return Polled::Failed(core.fail(ProtocolError::InvalidUtf8, out).into()),
            },
            Found::InPlace { text: false, range } => Event::Binary(rx.slice(range)),
            Found::Close(range) => return close_received(rx, core, range, out),
            Found::Binary => Event::Binary(rx.message()),
            Found::Text => Event::Text(rx.text()),
            Found::TextPart(last) => Event::TextPart {
                part: rx.text(),
                last,
            },
            Found::BinaryPart(at, last) => Event::BinaryPart {
                part: rx.bytes(at),
                last,
            },
            Found::Ping(range) => {
                let payload = rx.slice(range);
                // "Upon receipt of a Ping frame, an endpoint MUST send a Pong
                // frame in response, unless it already received a Close
                // frame" (§5.5.2): also after sending our own Close.
                if core.config.auto_pong {
                    write_frame(core.entropy.as_mut(), OpCode::Pong, true, payload, out);
                }
                Event::Ping(payload)
            }
            Found::Pong(range) => {
                let payload = rx.slice(range);
                core.timers.on_pong(payload);
                Event::Pong(payload)
            }
        };
        Polled::Event(event, Sender::new(core, rx.kept()))
    }

    #[inline(never)]
    fn poll_general(&mut self, out: &mut Vec<u8>) -> Polled<'_> {
        let polled = match self.core.state {
            State::Open | State::CloseSent => return self.poll_frames(out),
            State::ReadingRequest { .. } => self.poll_request(out),
            State::RequestReceived { .. } => self.poll_pending_request(out),
            State::RequestOverrun => Err(self.refuse_overrun(out)),
            State::ReadingResponse(_) | State::ReadingRejection(_) => self.poll_response(),
            State::Expired(expiry) => self.poll_expired(expiry),
            State::Closed | State::Failed => {
                if self.rx.holds_memory() {
                    self.rx.release();
                }
                // A decompressor the receiver never needed.
                self.core.inflater = None;
                Ok(self.core.end())
            }
        };
        polled.unwrap_or_else(Polled::Failed)
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
}

impl Core {
    /// permessage-deflate with `params` was negotiated: the compressor goes
    /// to the sending side now, the decompressor to the receiver when it
    /// next decodes a header that may be compressed.
    fn install_codec(&mut self, params: DeflateParams) {
        if let Some((compression, inflater)) =
            deflate::codec(params, &self.config.deflate, !self.is_client())
        {
            self.compression = Some(compression);
            self.inflater = Some(inflater);
        }
    }

    /// The request is valid (ReadingRequest -> RequestReceived): the caller
    /// decides.
    fn on_request(&mut self, pending: Pending) {
        self.state = State::RequestReceived(Box::new(pending));
    }

    /// More than the bound follows the unanswered request's head
    /// (RequestReceived -> RequestOverrun): the next poll refuses it.
    fn on_overrun(&mut self) {
        self.state = State::RequestOverrun;
    }

    /// The opening handshake failed (ReadingRequest | ReadingResponse |
    /// ReadingRejection -> Failed); a server's HTTP error is queued.
    fn on_handshake_failed(&mut self) {
        self.state = State::Failed;
    }

    /// The server refused (ReadingResponse -> ReadingRejection): its body
    /// comes next.
    fn on_rejection(&mut self, rejection: Rejection) {
        self.state = State::ReadingRejection(Box::new(rejection));
    }

    /// The server's `101` is valid (ReadingResponse -> Open).
    fn on_response_accepted(&mut self) {
        self.state = State::Open;
        self.timers.opened();
    }

    /// Our Close went out (Open -> CloseSent): the close timeout starts.
    fn on_close_sent(&mut self, frame: CloseFrame) {
        self.sent_close = Some(Box::new(frame));
        self.state = State::CloseSent;
        self.timers.start_phase();
    }

    /// The caller accepted the request (RequestReceived -> Open); the
    /// receive buffer resumes after the head.
    fn on_accepted(&mut self) {
        self.state = State::Open;
        self.timers.opened();
    }

    /// The caller refused the request (RequestReceived -> Failed): the
    /// upgrade did not happen; nothing more in or out.
    fn on_rejected(&mut self) {
        self.state = State::Failed;
    }

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

/// The peer's Close, its payload at `range`: the closing handshake (see
/// `Core::on_close_received`), and the receiver reads no more.
fn close_received<'a>(
    rx: &mut Receiver,
    core: &'a mut Core,
    range: Range<usize>,
    out: &mut Vec<u8>,
) -> Polled<'a> {
    let frame = match CloseFrame::parse(rx.slice(range)) {
        Ok(frame) => frame,
        Err(e) => return Polled::Failed(fail_receiving(rx, core, e, out)),
    };
    core.on_close_received(&frame, out);
    rx.release();
    Polled::Event(Event::Close(frame), Sender::new(core, &[]))
}

/// The peer broke the protocol (Open | CloseSent -> Failed): our Close is
/// queued, and the receiver reads no more.
#[inline(never)]
fn fail_receiving(
    rx: &mut Receiver,
    core: &mut Core,
    e: ProtocolError,
    out: &mut Vec<u8>,
) -> Error {
    let e = core.fail(e, out);
    rx.release();
    e.into()
}
