//! [`Connection`]: the WebSocket state machine. Every state transition of a
//! connection happens in this file.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use crate::config::Config;
use crate::error::{Error, HandshakeError, ProtocolError, SendError};
use crate::event::{Event, Message};
use crate::handshake::{self, Accept, ClientRequest, http};
use crate::wire::close::{CloseCode, CloseFrame, MAX_REASON_LEN};
use crate::wire::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode};
use crate::wire::mask::apply_mask;
use crate::wire::utf8::Utf8Validator;

/// A source of unpredictable bytes for client mask keys and handshake nonces.
///
/// RFC 6455 §5.3 asks for mask keys "derived from a strong source of
/// entropy"; use your platform's CSPRNG (e.g. `getrandom`). Closures
/// `FnMut(&mut [u8])` implement this trait. Tests may pass a fixed pattern.
pub trait Entropy: Send {
    /// Fills `dest` with random bytes.
    fn fill(&mut self, dest: &mut [u8]);
}

impl<F: FnMut(&mut [u8]) + Send> Entropy for F {
    fn fill(&mut self, dest: &mut [u8]) {
        self(dest)
    }
}

/// Which end of the connection we are.
pub enum Role {
    /// The accepting end: never masks, requires masked frames.
    Server,
    /// The connecting end: masks every frame with keys from its entropy source.
    Client(Box<dyn Entropy>),
}

impl Role {
    /// The client role, with its source of mask keys.
    pub fn client(entropy: impl Entropy + 'static) -> Self {
        Self::Client(Box::new(entropy))
    }
}

impl core::fmt::Debug for Role {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Server => "Server",
            Self::Client(_) => "Client",
        })
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
    /// Client: the request is sent; reading the response head.
    ReadingResponse(Box<ClientHandshake>),
    /// Both directions open.
    Open,
    /// We sent a Close; the peer may still send data, then its Close.
    CloseSent,
    /// Both Closes exchanged, or the transport ended. Nothing more in or out.
    Closed,
    /// We failed the connection; our Close (if it was still allowed) is
    /// queued. Nothing more in or out.
    Failed,
}

/// What a client remembers of its request to check the response.
#[derive(Debug)]
struct ClientHandshake {
    /// The `Sec-WebSocket-Accept` the server must send.
    accept: [u8; 28],
    /// The subprotocols offered, comma-separated.
    offered: String,
    scanned: usize,
}

/// The kind of a data message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Binary,
}

/// The frame whose payload is arriving.
#[derive(Clone, Copy, Debug)]
struct InFrame {
    opcode: OpCode,
    fin: bool,
    mask: Option<[u8; 4]>,
    len: usize,
    /// Payload bytes already unmasked (and UTF-8 checked, for text).
    done: usize,
    /// The payload is text whose UTF-8 must be checked as it arrives.
    text: bool,
}

/// What the receive path found, as positions rather than borrows so that
/// the borrow of the buffers is taken once, in `poll_event`.
enum Ready {
    Text(Payload),
    Binary(Payload),
    Ping(Range<usize>),
    Pong(Range<usize>),
    Close(Option<CloseFrame>),
}

/// Where a message's bytes are.
enum Payload {
    /// A single-frame message, in place in `inbuf[range]`.
    InPlace(Range<usize>),
    /// A reassembled message, in `message`.
    Reassembled,
}

/// Bytes events borrow from. Kept apart from the rest so that an event can
/// borrow them while the state machine is updated.
#[derive(Debug, Default)]
struct Buffers {
    /// Received bytes; `inbuf[pos..]` is not consumed yet.
    inbuf: Vec<u8>,
    pos: usize,
    /// The fragmented message being reassembled.
    message: Vec<u8>,
}

/// A WebSocket connection as a sans-IO state machine.
///
/// Feed it received bytes with [`receive`](Self::receive) (and
/// [`receive_eof`](Self::receive_eof) when the transport ends), then call
/// [`poll_event`](Self::poll_event) until it returns `Ok(None)`. Send with
/// [`send`](Self::send) and [`close`](Self::close). Every method that can
/// produce bytes appends them to the caller's `out`; write `out` to the
/// transport in order, and close the transport once
/// [`should_close_transport`](Self::should_close_transport) says so.
pub struct Connection {
    buffers: Buffers,
    state: State,
    config: Config,
    /// `Some` for a client: the source of mask keys.
    entropy: Option<Box<dyn Entropy>>,
    /// Payload state of the frame being received, if its header is parsed.
    frame: Option<InFrame>,
    /// Kind of the fragmented message being received, if any.
    receiving: Option<Kind>,
    /// Frames of that message so far.
    fragments: usize,
    /// UTF-8 state of the text message being received.
    utf8: Utf8Validator,
    /// `buffers.message` was handed out in the last event; clear it next call.
    message_delivered: bool,
    /// The transport reported end of stream.
    eof: bool,
    /// Kind of the fragmented message being sent, if any.
    sending: Option<Kind>,
    /// Boxed: allocated once at close time, keeping an open connection small.
    sent_close: Option<Box<CloseFrame>>,
    received_close: Option<Box<CloseFrame>>,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("state", &self.state)
            .field("client", &self.entropy.is_some())
            .field("buffered", &(self.buffers.inbuf.len() - self.buffers.pos))
            .field("sent_close", &self.sent_close)
            .field("received_close", &self.received_close)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection whose opening handshake already happened elsewhere (an
    /// HTTP server that did the upgrade, a test). It starts open.
    ///
    /// ```
    /// use wstate::{Config, Connection, Event, Role};
    /// let mut server = Connection::new_open(Role::Server, Config::default());
    /// let mut out = Vec::new();
    /// // RFC 6455 §5.7: a masked text frame "Hello".
    /// server.receive(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    /// assert_eq!(server.poll_event(&mut out), Ok(Some(Event::Text("Hello"))));
    /// assert_eq!(server.poll_event(&mut out), Ok(None));
    /// ```
    pub fn new_open(role: Role, config: Config) -> Self {
        Self {
            buffers: Buffers::default(),
            state: State::Open,
            config,
            entropy: match role {
                Role::Server => None,
                Role::Client(entropy) => Some(entropy),
            },
            frame: None,
            receiving: None,
            fragments: 0,
            utf8: Utf8Validator::new(),
            message_delivered: false,
            eof: false,
            sending: None,
            sent_close: None,
            received_close: None,
        }
    }

    /// A server connection awaiting the client's upgrade request: the first
    /// event is [`Event::Request`], to be answered with
    /// [`accept`](Self::accept) or [`reject`](Self::reject).
    pub fn server(config: Config) -> Self {
        let mut conn = Self::new_open(Role::Server, config);
        conn.state = State::ReadingRequest { scanned: 0 };
        conn
    }

    /// A client connection: queues the upgrade request in `out` at once,
    /// with a nonce from `entropy` (which also supplies the mask keys). The
    /// first event is [`Event::Accepted`] once the server's `101` arrives.
    ///
    /// Fails with [`SendError::InvalidHeader`] if the host, path, a
    /// subprotocol or a header is not valid in an HTTP head.
    pub fn client(
        request: &ClientRequest<'_>,
        entropy: impl Entropy + 'static,
        config: Config,
        out: &mut Vec<u8>,
    ) -> Result<Self, SendError> {
        let mut entropy: Box<dyn Entropy> = Box::new(entropy);
        let mut nonce = [0; 16];
        entropy.fill(&mut nonce);
        let key = handshake::key_for_nonce(&nonce);
        let offered = handshake::write_request(request, &key, out)?;
        let mut conn = Self::new_open(Role::Client(entropy), config);
        conn.state = State::ReadingResponse(Box::new(ClientHandshake {
            accept: handshake::accept_key(&key),
            offered,
            scanned: 0,
        }));
        Ok(conn)
    }

    /// Whether this is the client end.
    pub fn is_client(&self) -> bool {
        self.entropy.is_some()
    }

    /// The connection's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The phase of the connection.
    pub fn state(&self) -> ConnectionState {
        match self.state {
            State::ReadingRequest { .. }
            | State::RequestReceived { .. }
            | State::ReadingResponse(_) => ConnectionState::Connecting,
            State::Open => ConnectionState::Open,
            State::CloseSent => ConnectionState::Closing,
            State::Closed | State::Failed => ConnectionState::Closed,
        }
    }

    /// The Close we sent (by [`close`](Self::close), as the reply to the
    /// peer's Close, or when failing the connection), if any.
    pub fn sent_close(&self) -> Option<&CloseFrame> {
        self.sent_close.as_deref()
    }

    /// The Close we received: the peer's code and reason, 1005 if its Close
    /// had none, or 1006 if the transport ended without one.
    pub fn received_close(&self) -> Option<&CloseFrame> {
        self.received_close.as_deref()
    }

    /// Whether the caller should now close the transport, after writing out
    /// everything queued. A server closes first once the closing handshake is
    /// done (RFC 6455 §7.1.1); a client waits for the server to close the
    /// TCP connection (it reports that with [`receive_eof`](Self::receive_eof)),
    /// so a client caller should also apply a timeout of its own.
    pub fn should_close_transport(&self) -> bool {
        match self.state {
            State::Failed => true,
            State::Closed => !self.is_client() || self.eof,
            _ => self.eof,
        }
    }

    /// Buffers bytes received from the transport. Call
    /// [`poll_event`](Self::poll_event) afterwards until it returns `Ok(None)`.
    /// Bytes that arrive after the connection closed are dropped.
    pub fn receive(&mut self, bytes: &[u8]) {
        if matches!(self.state, State::Closed | State::Failed) || self.eof {
            return;
        }
        let b = &mut self.buffers;
        let unread = b.inbuf.len() - b.pos;
        if unread == 0 {
            b.inbuf.clear();
            b.pos = 0;
        } else if b.pos >= unread {
            // Move the unread tail to the front once it is no larger than
            // what was consumed: amortised linear however bytes arrive.
            b.inbuf.drain(..b.pos);
            b.pos = 0;
        }
        b.inbuf.extend_from_slice(bytes);
    }

    /// Reports that the transport reached end of stream. Bytes received
    /// before it are still processed; then, unless the closing handshake
    /// finished, [`poll_event`](Self::poll_event) reports `Close` with 1006.
    pub fn receive_eof(&mut self) {
        self.eof = true;
    }

    /// Returns the next event, `Ok(None)` when more bytes are needed.
    ///
    /// Bytes the protocol requires in response (a Pong, the reply to a Close,
    /// the Close that fails the connection) are appended to `out`. On a
    /// protocol error the connection has failed: the Close frame with the
    /// error's code is in `out`, and every later call returns `Ok(None)`.
    #[inline]
    pub fn poll_event(&mut self, out: &mut Vec<u8>) -> Result<Option<Event<'_>>, Error> {
        // The common case first, in a few instructions: a small whole data
        // message. Everything else takes the general path, out of line.
        let Some(ready) = self.read_small_message() else {
            return self.poll_event_general(out);
        };
        let (text, range) = ready;
        let payload = &self.buffers.inbuf[range];
        if !text {
            return Ok(Some(Event::Binary(payload)));
        }
        match core::str::from_utf8(payload) {
            Ok(text) => Ok(Some(Event::Text(text))),
            Err(_) => Err(fail(
                &mut self.state,
                &mut self.sent_close,
                &mut self.entropy,
                ProtocolError::InvalidUtf8,
                out,
            )
            .into()),
        }
    }

    #[inline(never)]
    fn poll_event_general(&mut self, out: &mut Vec<u8>) -> Result<Option<Event<'_>>, Error> {
        if self.message_delivered {
            self.message_delivered = false;
            self.buffers.message.clear();
            if self.buffers.message.capacity() > self.config.retained_buffer {
                self.buffers.message = Vec::new();
            }
        }
        match self.state {
            State::Open | State::CloseSent => {}
            State::ReadingRequest { .. } => return self.poll_request(out),
            State::ReadingResponse(_) => return self.poll_response(),
            State::RequestReceived { .. } => return Ok(None),
            State::Closed | State::Failed => return Ok(self.on_closed()),
        }
        let ready = self.read_frames(out);
        let ready = match ready {
            Ok(Some(ready)) => ready,
            Ok(None) => return Ok(self.on_need_more()),
            Err(e) => return Err(self.fail(e, out).into()),
        };
        let b = &self.buffers;
        let bytes = |payload| match payload {
            Payload::InPlace(range) => &b.inbuf[range],
            Payload::Reassembled => &b.message[..],
        };
        Ok(Some(match ready {
            // A text frame that arrived whole is checked here, once, by the
            // conversion itself.
            Ready::Text(payload) => match core::str::from_utf8(bytes(payload)) {
                Ok(text) => Event::Text(text),
                Err(_) => {
                    let e = ProtocolError::InvalidUtf8;
                    let e = fail(
                        &mut self.state,
                        &mut self.sent_close,
                        &mut self.entropy,
                        e,
                        out,
                    );
                    return Err(e.into());
                }
            },
            Ready::Binary(payload) => Event::Binary(bytes(payload)),
            Ready::Ping(range) => Event::Ping(&b.inbuf[range]),
            Ready::Pong(range) => Event::Pong(&b.inbuf[range]),
            Ready::Close(frame) => Event::Close(frame),
        }))
    }

    /// Nothing more comes in: free what the buffers hold.
    fn on_closed(&mut self) -> Option<Event<'static>> {
        if self.buffers.inbuf.capacity() != 0 {
            self.release_buffers();
        }
        None
    }

    /// Server: looks for a complete request head and validates it.
    fn poll_request(&mut self, out: &mut Vec<u8>) -> Result<Option<Event<'_>>, Error> {
        let State::ReadingRequest { scanned } = &mut self.state else {
            return Ok(None);
        };
        let buf = &self.buffers.inbuf;
        let max = self.config.max_handshake_size;
        let result = match http::find_head_end(buf, scanned) {
            Some(n) if n <= max => http::parse_head(&buf[..n], self.config.max_headers)
                .and_then(handshake::validate_request)
                // The key stays in the buffer until `accept`: keep where.
                .map(|(request, key)| (request, n, key.as_ptr().addr() - buf.as_ptr().addr())),
            None if buf.len() <= max && !self.eof => return Ok(None),
            None if buf.len() <= max => Err(HandshakeError::UnexpectedEof),
            _ => Err(HandshakeError::HeadTooLarge),
        };
        match result {
            Ok((request, head_len, key_start)) => {
                // ReadingRequest -> RequestReceived: the caller decides.
                self.state = State::RequestReceived {
                    head_len,
                    key_start,
                };
                Ok(Some(Event::Request(request)))
            }
            Err(e) => {
                // ReadingRequest -> Failed, with the HTTP error queued.
                handshake::write_error_response(&e, out);
                self.state = State::Failed;
                Err(e.into())
            }
        }
    }

    /// Client: looks for a complete response head and validates it.
    fn poll_response(&mut self) -> Result<Option<Event<'_>>, Error> {
        let State::ReadingResponse(client) = &mut self.state else {
            return Ok(None);
        };
        let buf = &self.buffers.inbuf;
        let max = self.config.max_handshake_size;
        let result = match http::find_head_end(buf, &mut client.scanned) {
            Some(n) if n <= max => http::parse_head(&buf[..n], self.config.max_headers)
                .and_then(|head| {
                    handshake::validate_response(head, &client.accept, &client.offered)
                })
                .map(|accepted| (accepted, n)),
            None if buf.len() <= max && !self.eof => return Ok(None),
            None if buf.len() <= max => Err(HandshakeError::UnexpectedEof),
            _ => Err(HandshakeError::HeadTooLarge),
        };
        match result {
            Ok((accepted, head_len)) => {
                // ReadingResponse -> Open; bytes after the head are frames.
                self.state = State::Open;
                self.buffers.pos = head_len;
                Ok(Some(Event::Accepted(accepted)))
            }
            Err(e) => {
                // ReadingResponse -> Failed: nothing to send, just hang up.
                self.state = State::Failed;
                Err(e.into())
            }
        }
    }

    /// Server: accepts the pending request with a `101` response, selecting
    /// a subprotocol if asked. Frames that followed the request are
    /// processed by the next [`poll_event`](Self::poll_event).
    ///
    /// Fails with [`SendError::NoPendingRequest`] unless an
    /// [`Event::Request`] awaits an answer, and with
    /// [`SendError::SubprotocolNotOffered`] or [`SendError::InvalidHeader`]
    /// for choices the client cannot accept; nothing is written then.
    pub fn accept(&mut self, accept: &Accept<'_>, out: &mut Vec<u8>) -> Result<(), SendError> {
        let State::RequestReceived {
            head_len,
            key_start,
        } = self.state
        else {
            return Err(SendError::NoPendingRequest);
        };
        let head = &self.buffers.inbuf[..head_len];
        if accept.subprotocol.is_some() {
            // Only a chosen subprotocol needs the request again.
            let (request, _) = http::parse_head(head, self.config.max_headers)
                .and_then(handshake::validate_request)
                .map_err(|_| SendError::NoPendingRequest)?;
            handshake::check_accept(&request, accept)?;
        } else {
            handshake::check_headers(accept.headers)?;
        }
        let key = head
            .get(key_start..key_start + 24)
            .ok_or(SendError::NoPendingRequest)?;
        handshake::write_accept(key, accept, out);
        // RequestReceived -> Open.
        self.buffers.pos = head_len;
        self.state = State::Open;
        Ok(())
    }

    /// Server: refuses the pending request with an HTTP response (`status`
    /// 200-599, e.g. 403 or 404), extra headers and a body. `Connection:
    /// close` and `Content-Length` are added. The transport should then be
    /// closed.
    pub fn reject(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        if !matches!(self.state, State::RequestReceived { .. }) {
            return Err(SendError::NoPendingRequest);
        }
        if !(200..=599).contains(&status) {
            return Err(SendError::InvalidStatus);
        }
        handshake::check_headers(headers)?;
        handshake::write_reject(status, headers, body, out);
        // RequestReceived -> Closed.
        self.state = State::Closed;
        self.release_buffers();
        Ok(())
    }

    /// Nothing more can be parsed: report a transport that ended without a
    /// Close, and give back memory held for a read that is now consumed.
    fn on_need_more(&mut self) -> Option<Event<'static>> {
        let b = &mut self.buffers;
        if b.pos == b.inbuf.len() {
            b.inbuf.clear();
            b.pos = 0;
            if b.inbuf.capacity() > self.config.retained_buffer {
                b.inbuf = Vec::new();
            }
        }
        if !self.eof {
            return None;
        }
        // Open | CloseSent -> Closed: the transport ended without a Close.
        self.state = State::Closed;
        let abnormal = CloseFrame::new(CloseCode::ABNORMAL);
        self.received_close = Some(Box::new(abnormal.clone()));
        self.release_buffers();
        Some(Event::Close(Some(abnormal)))
    }

    /// The common case, taken before the general path: a whole unfragmented
    /// Text or Binary frame of at most 125 bytes, masked as it should be,
    /// with no fragmented message in progress. Anything else, including every
    /// error, goes to `read_frames`.
    #[inline]
    fn read_small_message(&mut self) -> Option<(bool, Range<usize>)> {
        if self.message_delivered
            || !matches!(self.state, State::Open | State::CloseSent)
            || self.frame.is_some()
            || self.receiving.is_some()
        {
            return None;
        }
        let client = self.is_client();
        let b = &mut self.buffers;
        let buf = &mut b.inbuf[b.pos..];
        let [b0, b1, ..] = *buf else { return None };
        let len = (b1 & 0x7F) as usize;
        let masked = b1 & 0x80 != 0;
        let limit = self.config.max_frame_size.min(self.config.max_message_size);
        if !matches!(b0, 0x81 | 0x82) || len > 125 || len > limit || masked == client {
            return None;
        }
        let header_len = if masked { 6 } else { 2 };
        let (header, rest) = buf.split_at_mut_checked(header_len)?;
        let payload = rest.get_mut(..len)?;
        let text = b0 == 0x81;
        if let [_, _, k0, k1, k2, k3] = *header {
            apply_mask(payload, [k0, k1, k2, k3], 0);
        }
        let start = b.pos + header_len;
        b.pos = start + len;
        Some((text, start..start + len))
    }

    /// Parses frames until one yields an event or the buffered bytes run out.
    fn read_frames(&mut self, out: &mut Vec<u8>) -> Result<Option<Ready>, ProtocolError> {
        loop {
            let mut frame = match self.frame {
                Some(frame) => frame,
                None => {
                    let b = &mut self.buffers;
                    let Some((header, n)) = FrameHeader::parse(&b.inbuf[b.pos..])? else {
                        return Ok(None);
                    };
                    let frame = self.check_header(&header)?;
                    self.buffers.pos += n;
                    frame
                }
            };
            let b = &mut self.buffers;
            let available = (b.inbuf.len() - b.pos).min(frame.len);
            let start = b.pos;
            if available < frame.len {
                // Make room for the rest of the frame at once, so that the
                // buffer is not regrown (and copied) again and again as the
                // payload arrives. Only once an eighth of it is here (or the
                // rest is small): a bare header cannot make us allocate a
                // frame's worth of memory.
                let missing = frame.len - available;
                let buffered = b.inbuf.len() - b.pos;
                if missing <= 8 * buffered.max(32 << 10) {
                    b.inbuf.reserve_exact(missing);
                }
                // Part of the payload: unmask and check what arrived so that
                // bad UTF-8 fails the connection at once (RFC 6455 §8.1).
                if frame.text && available > frame.done {
                    let new = &mut b.inbuf[start + frame.done..start + available];
                    if let Some(key) = frame.mask {
                        apply_mask(new, key, frame.done);
                    }
                    self.utf8
                        .feed(new)
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                    frame.done = available;
                }
                self.frame = Some(frame);
                return Ok(None);
            }
            // The whole payload is here.
            self.frame = None;
            let end = start + frame.len;
            b.pos = end;
            let rest = &mut b.inbuf[start + frame.done..end];
            if let Some(key) = frame.mask {
                apply_mask(rest, key, frame.done);
            }
            let range = start..end;
            match frame.opcode {
                OpCode::Ping => {
                    if self.config.auto_pong && matches!(self.state, State::Open) {
                        let payload = &self.buffers.inbuf[range.clone()];
                        write_frame(&mut self.entropy, OpCode::Pong, true, payload, out);
                    }
                    return Ok(Some(Ready::Ping(range)));
                }
                OpCode::Pong => return Ok(Some(Ready::Pong(range))),
                OpCode::Close => {
                    let frame = CloseFrame::parse(&self.buffers.inbuf[range])?;
                    return Ok(Some(self.on_close_received(frame, out)));
                }
                OpCode::Text | OpCode::Binary if frame.fin => {
                    // A whole message in one frame: hand it out in place.
                    if frame.opcode == OpCode::Binary {
                        return Ok(Some(Ready::Binary(Payload::InPlace(range))));
                    }
                    if frame.done > 0 {
                        // Part of it was checked as it arrived; check the
                        // rest. (A frame that arrived whole is checked once,
                        // by the conversion to `&str` in `poll_event`.)
                        let rest = &self.buffers.inbuf[start + frame.done..end];
                        self.utf8
                            .feed(rest)
                            .map_err(|_| ProtocolError::InvalidUtf8)?;
                        self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                    }
                    return Ok(Some(Ready::Text(Payload::InPlace(range))));
                }
                OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                    // A fragment: append it to the message.
                    let rest = &self.buffers.inbuf[start + frame.done..end];
                    if frame.text {
                        self.utf8
                            .feed(rest)
                            .map_err(|_| ProtocolError::InvalidUtf8)?;
                    }
                    let message = &mut self.buffers.message;
                    grow_within(message, frame.len, self.config.max_message_size);
                    message.extend_from_slice(&self.buffers.inbuf[range]);
                    if !frame.fin {
                        continue;
                    }
                    self.message_delivered = true;
                    return Ok(Some(match self.receiving.take() {
                        Some(Kind::Text) => {
                            self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                            Ready::Text(Payload::Reassembled)
                        }
                        _ => Ready::Binary(Payload::Reassembled),
                    }));
                }
            }
        }
    }

    /// Applies the rules that depend on the connection to a parsed header,
    /// and updates the message being received.
    fn check_header(&mut self, header: &FrameHeader) -> Result<InFrame, ProtocolError> {
        // "MUST be 0 unless an extension is negotiated that defines meanings
        // for non-zero values" (§5.2)
        if header.rsv != 0 {
            return Err(ProtocolError::ReservedBits);
        }
        // "a client MUST mask all frames that it sends to the server" and "a
        // server MUST NOT mask any frames that it sends to the client" (§5.1)
        match (self.is_client(), header.mask.is_some()) {
            (false, false) => return Err(ProtocolError::UnmaskedFrame),
            (true, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if header.payload_len > self.config.max_frame_size as u64 {
            return Err(ProtocolError::FrameTooLarge);
        }
        // Fits in usize: bounded by max_frame_size.
        let len = header.payload_len as usize;
        let mut text = false;
        match header.opcode {
            OpCode::Text | OpCode::Binary => {
                if self.receiving.is_some() {
                    return Err(ProtocolError::ExpectedContinuation);
                }
                if len > self.config.max_message_size {
                    return Err(ProtocolError::MessageTooLarge);
                }
                let kind = if header.opcode == OpCode::Text {
                    Kind::Text
                } else {
                    Kind::Binary
                };
                if kind == Kind::Text {
                    self.utf8.reset();
                    text = true;
                }
                if !header.fin {
                    self.receiving = Some(kind);
                    self.fragments = 1;
                }
            }
            OpCode::Continuation => {
                let Some(kind) = self.receiving else {
                    return Err(ProtocolError::UnexpectedContinuation);
                };
                if len > self.config.max_message_size - self.buffers.message.len() {
                    return Err(ProtocolError::MessageTooLarge);
                }
                self.fragments += 1;
                if self.fragments > self.config.max_fragments {
                    return Err(ProtocolError::TooManyFragments);
                }
                text = kind == Kind::Text;
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
        })
    }

    /// The peer's Close arrived.
    fn on_close_received(&mut self, frame: Option<CloseFrame>, out: &mut Vec<u8>) -> Ready {
        if matches!(self.state, State::Open) {
            // Open -> Closed: "If an endpoint receives a Close frame and did
            // not previously send a Close frame, the endpoint MUST send a
            // Close frame in response" (§5.5.1), echoing the code.
            let code = frame.as_ref().map_or(CloseCode::NORMAL, |f| f.code);
            let reply = CloseFrame::new(code);
            write_frame(
                &mut self.entropy,
                OpCode::Close,
                true,
                &reply.payload(),
                out,
            );
            self.sent_close = Some(Box::new(reply));
        }
        // CloseSent -> Closed: the closing handshake is complete.
        self.state = State::Closed;
        self.received_close = Some(Box::new(
            frame
                .clone()
                .unwrap_or(CloseFrame::new(CloseCode::NO_STATUS)),
        ));
        self.release_buffers();
        Ready::Close(frame)
    }

    /// Fails the connection for a peer error: queues our Close (unless we
    /// already sent one) and stops all further input and output.
    fn fail(&mut self, error: ProtocolError, out: &mut Vec<u8>) -> ProtocolError {
        let e = fail(
            &mut self.state,
            &mut self.sent_close,
            &mut self.entropy,
            error,
            out,
        );
        self.release_buffers();
        e
    }

    /// Frees the receive buffers of a connection that will read no more.
    /// Only called where no event borrows them.
    fn release_buffers(&mut self) {
        self.frame = None;
        self.receiving = None;
        let b = &mut self.buffers;
        b.pos = 0;
        b.inbuf = Vec::new();
        if !self.message_delivered {
            b.message = Vec::new();
        }
    }

    /// Sends a whole message.
    ///
    /// ```
    /// use wstate::{Config, Connection, Message, Role};
    /// let mut client = Connection::new_open(Role::client(|b: &mut [u8]| b.copy_from_slice(&[0x37, 0xfa, 0x21, 0x3d])), Config::default());
    /// let mut out = Vec::new();
    /// client.send(Message::Text("Hello"), &mut out).unwrap();
    /// // RFC 6455 §5.7: a masked text frame "Hello".
    /// assert_eq!(out, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    /// ```
    pub fn send(&mut self, message: Message<'_>, out: &mut Vec<u8>) -> Result<(), SendError> {
        self.check_can_send()?;
        let (opcode, payload) = match message {
            Message::Text(text) => (OpCode::Text, text.as_bytes()),
            Message::Binary(bytes) => (OpCode::Binary, bytes),
            Message::Ping(bytes) => (OpCode::Ping, bytes),
            Message::Pong(bytes) => (OpCode::Pong, bytes),
        };
        if opcode.is_control() {
            if payload.len() > MAX_CONTROL_PAYLOAD {
                return Err(SendError::ControlPayloadTooLong);
            }
        } else if self.sending.is_some() {
            return Err(SendError::FragmentInProgress);
        }
        write_frame(&mut self.entropy, opcode, true, payload, out);
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
        &mut self,
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
        let opcode = match self.sending {
            None if kind == Kind::Text => OpCode::Text,
            None => OpCode::Binary,
            Some(sending) if sending == kind => OpCode::Continuation,
            Some(_) => return Err(SendError::FragmentTypeMismatch),
        };
        write_frame(&mut self.entropy, opcode, fin, payload, out);
        self.sending = if fin { None } else { Some(kind) };
        Ok(())
    }

    /// Starts the closing handshake: queues a Close with `code` and `reason`.
    /// The connection keeps delivering the peer's messages until its Close
    /// arrives, and sends nothing more.
    ///
    /// 1005, 1006 and 1015 are local-only and, like reserved or unassigned
    /// codes, refused with [`SendError::InvalidCloseCode`].
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
    pub fn close(
        &mut self,
        code: CloseCode,
        reason: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        self.check_can_send()?;
        if !code.is_sendable() {
            return Err(SendError::InvalidCloseCode(code));
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(SendError::ReasonTooLong);
        }
        let frame = CloseFrame::with_reason(code, reason).ok_or(SendError::ReasonTooLong)?;
        write_frame(
            &mut self.entropy,
            OpCode::Close,
            true,
            &frame.payload(),
            out,
        );
        self.sent_close = Some(Box::new(frame));
        // Open -> CloseSent.
        self.state = State::CloseSent;
        Ok(())
    }

    fn check_can_send(&self) -> Result<(), SendError> {
        match self.state {
            State::Open => Ok(()),
            State::ReadingRequest { .. }
            | State::RequestReceived { .. }
            | State::ReadingResponse(_) => Err(SendError::NotOpen),
            State::CloseSent | State::Closed | State::Failed => Err(SendError::Closed),
        }
    }
}

/// Fails the connection (any state -> Failed). Takes the fields it needs so
/// that `poll_event` can call it while an event borrows the buffers.
fn fail(
    state: &mut State,
    sent_close: &mut Option<Box<CloseFrame>>,
    entropy: &mut Option<Box<dyn Entropy>>,
    error: ProtocolError,
    out: &mut Vec<u8>,
) -> ProtocolError {
    if matches!(state, State::Open) {
        let frame = CloseFrame::truncated(error.close_code(), error.description());
        write_frame(entropy, OpCode::Close, true, &frame.payload(), out);
        *sent_close = Some(Box::new(frame));
    }
    *state = State::Failed;
    error
}

/// Makes room for `additional` more bytes, doubling as usual but never past
/// `limit` (which the caller has checked the new length against), so that a
/// message's buffer stays within the configured maximum.
fn grow_within(buf: &mut Vec<u8>, additional: usize, limit: usize) {
    let needed = buf.len() + additional;
    if needed > buf.capacity() {
        let target = needed.max(buf.capacity() * 2).min(limit.max(needed));
        buf.reserve_exact(target - buf.len());
    }
}

/// Appends one frame to `out`, masked with a fresh key for a client.
fn write_frame(
    entropy: &mut Option<Box<dyn Entropy>>,
    opcode: OpCode,
    fin: bool,
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    let mask = entropy.as_mut().map(|entropy| {
        let mut key = [0; 4];
        entropy.fill(&mut key);
        key
    });
    let header = FrameHeader {
        fin,
        rsv: 0,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    let mut head = [0; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    out.reserve(n + payload.len());
    out.extend_from_slice(&head[..n]);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key, 0);
    }
}
