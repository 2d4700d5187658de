//! [`Sender`]: the sending half of a connection, handed out beside each
//! event. Framing and compression of what the caller sends, its checks, and
//! the opening handshake's answers; the state transitions they cause are
//! `Core` methods in `mod.rs`.

use alloc::string::ToString;
use alloc::vec::Vec;
use core::ops::Range;

use super::recv::Kind;
use super::send::{self, write_frame};
use super::send::{PreparedMessage, write_frame_rsv};
use super::{Core, State};
use crate::deflate::Plan;
use crate::error::SendError;
use crate::event::{Message, MessageKind};
use crate::handshake::{self, Accept, http};
use crate::wire::close::{CloseCode, CloseFrame, MAX_REASON_LEN};
use crate::wire::frame::{MAX_CONTROL_PAYLOAD, OpCode};
use crate::wire::utf8::validate;

/// The sending half of a [`Connection`](super::Connection), handed out
/// beside each event (and by
/// [`Connection::sender`](super::Connection::sender)). Every method appends
/// bytes to `out` or returns a [`SendError`] having written nothing.
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

impl<'a> Sender<'a> {
    pub(super) fn new(core: &'a mut Core, received: &'a [u8]) -> Self {
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
    /// if let Polled::Event(Event::Text(text), tx) = server.poll_event(&mut out) {
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
            self.check_can_send_whole()?;
            self.check_room(payload.len(), out)?;
            if let Some(compression) = self.core.compression.as_mut()
                && let Some(compressed) = compression.message(payload)
            {
                // RFC 7692 §6: RSV1 on the (only) frame of a compressed message.
                let compressed = compressed.map_err(|()| SendError::CompressionFailed)?;
                let entropy = self.core.entropy.as_mut();
                write_frame_rsv(entropy, opcode, true, send::RSV1, compressed, out);
                compression.sent();
                return Ok(());
            }
        }
        write_frame(self.core.entropy.as_mut(), opcode, true, payload, out);
        Ok(())
    }

    /// Sends a [`PreparedMessage`]: the bytes `send` would write for the
    /// same message, copied from the ones built once where they are valid
    /// on this connection, compressed here where they are not (see
    /// [`PreparedMessage`] for exactly when). The same checks and errors as
    /// [`send`](Self::send).
    pub fn send_prepared(
        self,
        prepared: &PreparedMessage,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        let opcode = prepared.opcode;
        let len = prepared.len();
        if opcode.is_control() {
            self.check_can_send_control()?;
            if len > MAX_CONTROL_PAYLOAD {
                return Err(SendError::ControlPayloadTooLong);
            }
        } else {
            self.check_can_send_whole()?;
            self.check_room(len, out)?;
            if let Some(compression) = self.core.compression.as_mut() {
                let window_bits = prepared.compressed.as_ref().map(|(_, bits)| *bits);
                match compression.plan(len, window_bits) {
                    Plan::Plain => {}
                    Plan::Shared => {
                        if let Some((frame, _)) = prepared.compressed.as_ref() {
                            frame.write(self.core.entropy.as_mut(), opcode, send::RSV1, out);
                            return Ok(());
                        }
                    }
                    Plan::Own => {
                        if let Some(compressed) = compression.message(prepared.payload()) {
                            let compressed =
                                compressed.map_err(|()| SendError::CompressionFailed)?;
                            let entropy = self.core.entropy.as_mut();
                            write_frame_rsv(entropy, opcode, true, send::RSV1, compressed, out);
                            compression.sent();
                            return Ok(());
                        }
                    }
                }
            }
        }
        prepared
            .plain
            .write(self.core.entropy.as_mut(), opcode, 0, out);
        Ok(())
    }

    /// One frame of a message sent in parts: the first picks the type
    /// (Text or Binary), later ones must keep it, and `fin` ends it.
    fn send_fragment(
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
        self.check_room(payload.len(), out)?;
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
                if fin {
                    compression.sent();
                }
                self.core.sending = if fin { None } else { Some(kind) };
                return Ok(());
            }
        }
        write_frame(self.core.entropy.as_mut(), opcode, fin, payload, out);
        self.core.sending = if fin { None } else { Some(kind) };
        Ok(())
    }

    /// Sends the next part of a message sent in parts, beginning the
    /// message if none is in progress (its type is the part's: Text or
    /// Binary). Each part becomes one frame; control messages may go between
    /// parts with [`send`](Self::send); [`finish`](Self::finish) ends it.
    /// Misuse is a typed error: a part of the other type
    /// ([`SendError::FragmentTypeMismatch`]), a whole message meanwhile
    /// ([`SendError::FragmentInProgress`]). A text part is a `&str`, so it
    /// cannot end inside a code point.
    ///
    /// ```
    /// use wstate::{Config, Connection, Message, Role, SendError};
    /// let mut server = Connection::new_open(Role::Server, Config::default());
    /// let mut out = Vec::new();
    /// server.sender().send_part(Message::Text("Hel"), &mut out).unwrap();
    /// server.sender().send(Message::Ping(b""), &mut out).unwrap();
    /// assert_eq!(server.sender().send_part(Message::Binary(b"x"), &mut out), Err(SendError::FragmentTypeMismatch));
    /// server.sender().finish(Message::Text("lo"), &mut out).unwrap();
    /// assert_eq!(server.sender().finish(Message::Text(""), &mut out), Err(SendError::NoMessageInProgress));
    /// assert_eq!(out, [0x01, 0x03, b'H', b'e', b'l', 0x89, 0x00, 0x80, 0x02, b'l', b'o']);
    /// ```
    pub fn send_part(self, part: Message<'_>, out: &mut Vec<u8>) -> Result<(), SendError> {
        self.send_fragment(part, false, out)
    }

    /// Ends the message sent in parts with its `last` part (possibly empty);
    /// [`SendError::NoMessageInProgress`] if none was begun.
    pub fn finish(self, last: Message<'_>, out: &mut Vec<u8>) -> Result<(), SendError> {
        if self.core.sending.is_none() && matches!(self.core.state, State::Open) {
            return Err(SendError::NoMessageInProgress);
        }
        self.send_fragment(last, true, out)
    }

    /// Server: queues only the frame header of a whole Text or Binary
    /// `message`, never compressed; the caller then writes `out` and the
    /// payload itself, from its own buffer (e.g. with one vectored write),
    /// before anything queued later. Saves copying a large payload into
    /// `out`. A client must mask: [`SendError::MustMask`] (use
    /// [`send_in_place`](Self::send_in_place)).
    ///
    /// ```
    /// use wstate::{Config, Connection, Message, Role};
    /// let mut server = Connection::new_open(Role::Server, Config::default());
    /// let payload = vec![7u8; 300];
    /// let mut out = Vec::new();
    /// server.sender().send_header(Message::Binary(&payload), &mut out).unwrap();
    /// assert_eq!(out, [0x82, 126, 0x01, 0x2c]); // then write `payload`
    /// ```
    pub fn send_header(self, message: Message<'_>, out: &mut Vec<u8>) -> Result<(), SendError> {
        let (opcode, payload) = match message {
            Message::Text(text) => (OpCode::Text, text.as_bytes()),
            Message::Binary(bytes) => (OpCode::Binary, bytes),
            Message::Ping(_) | Message::Pong(_) => return Err(SendError::ControlFragment),
        };
        self.check_can_send_whole()?;
        if self.core.entropy.is_some() {
            return Err(SendError::MustMask);
        }
        self.check_room(payload.len(), out)?;
        send::write_header(None, opcode, true, 0, payload.len(), out);
        Ok(())
    }

    /// Queues the frame header of a whole message whose payload stays in
    /// the caller's buffer, masking it there first for a client (a server
    /// leaves it as it is); the caller then writes `out` and `payload`, in
    /// that order, before anything queued later. A Text message's payload
    /// must be UTF-8 ([`SendError::InvalidUtf8`]).
    /// Never compressed.
    ///
    /// ```
    /// use wstate::{Config, Connection, MessageKind, Role};
    /// let key = [0x37, 0xfa, 0x21, 0x3d];
    /// let mut client = Connection::new_open(Role::client(move |b| b.copy_from_slice(&key)), Config::default());
    /// let mut payload = *b"Hello";
    /// let mut out = Vec::new();
    /// client.sender().send_in_place(MessageKind::Text, &mut payload, &mut out).unwrap();
    /// // RFC 6455 §5.7, header and masked payload apart.
    /// assert_eq!(out, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]);
    /// assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    /// ```
    pub fn send_in_place(
        self,
        kind: MessageKind,
        payload: &mut [u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        let text = kind == MessageKind::Text;
        self.check_can_send_whole()?;
        if text && validate(payload).is_err() {
            return Err(SendError::InvalidUtf8);
        }
        self.check_room(payload.len(), out)?;
        let opcode = if text { OpCode::Text } else { OpCode::Binary };
        let key = send::write_header(
            self.core.entropy.as_mut(),
            opcode,
            true,
            0,
            payload.len(),
            out,
        );
        if let Some(key) = key {
            crate::wire::mask::apply_mask(payload, key, 0);
        }
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
    /// assert_eq!(server.sender().close(CloseCode::ABNORMAL, "", &mut out), Err(SendError::InvalidCloseCode(CloseCode::ABNORMAL)));
    /// server.sender().close(CloseCode::NORMAL, "bye", &mut out).unwrap();
    /// assert_eq!(out, [0x88, 0x05, 0x03, 0xe8, b'b', b'y', b'e']);
    /// assert_eq!(server.sender().close(CloseCode::NORMAL, "", &mut out), Err(SendError::Closed));
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
        self.core.on_close_sent(frame);
        Ok(())
    }

    /// Server: accepts the pending request with a `101` response, selecting
    /// a subprotocol if asked; a request with `Expect: 100-continue` (see
    /// [`Request::expects_continue`](crate::Request::expects_continue)) gets
    /// `HTTP/1.1 100 Continue` first. Frames that followed the request are
    /// processed by the next [`poll_event`](crate::Connection::poll_event).
    ///
    /// Fails with [`SendError::NoPendingRequest`] unless an
    /// [`Event::Request`](crate::Event::Request) awaits an answer, [`SendError::Closed`] if the
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
    /// let Polled::Event(Event::Request(request), tx) = server.poll_event(&mut out) else { panic!() };
    /// // Choose from the request while it is still borrowed.
    /// let chosen = request.subprotocols().find(|p| p.starts_with("v1")).unwrap();
    /// tx.accept(&Accept::new().subprotocol(chosen), &mut out).unwrap();
    /// assert!(out.ends_with(b"Sec-WebSocket-Protocol: v1.chat\r\n\r\n"));
    /// ```
    pub fn accept(self, accept: &Accept<'_>, out: &mut Vec<u8>) -> Result<(), SendError> {
        let State::RequestReceived(ref pending) = self.core.state else {
            return Err(self.no_request());
        };
        if self.core.eof {
            return Err(SendError::Closed);
        }
        // What the request's one parse noted: no part of it is parsed again.
        let part =
            |range: Range<usize>| self.received.get(range).ok_or(SendError::NoPendingRequest);
        let fields = http::Fields::head(part(pending.fields.clone())?);
        let key = part(pending.key_start..pending.key_start + 24)?;
        handshake::check_accept(fields, accept)?;
        let deflate = pending.deflate;
        let extensions = deflate.map(|params| params.to_string());
        handshake::write_accept(
            key,
            accept,
            extensions.as_deref(),
            pending.expects_continue,
            out,
        );
        if let Some(params) = deflate {
            self.core.install_codec(params);
        }
        self.core.on_accepted();
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
        self.core.on_rejected();
        Ok(())
    }

    /// The error for `accept`/`reject` without a pending request.
    fn no_request(&self) -> SendError {
        match self.core.state {
            State::Closed | State::Failed | State::RequestOverrun => SendError::Closed,
            _ => SendError::NoPendingRequest,
        }
    }

    /// Backpressure: refuses a data frame of `len` payload bytes that would
    /// leave more than the bound queued, header included (checked before compressing, on the
    /// uncompressed size: a refused message must not touch the compressor).
    fn check_room(&self, len: usize, out: &[u8]) -> Result<(), SendError> {
        // The frame: its header (2, 4 or 10 bytes, 4 more masked), payload.
        let header = match len {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        } + if self.core.entropy.is_some() { 4 } else { 0 };
        let frame = len.saturating_add(header);
        match self.core.config.max_pending_output {
            Some(max) if !out.is_empty() && out.len().saturating_add(frame) > max => {
                Err(SendError::Backpressure)
            }
            _ => Ok(()),
        }
    }

    /// A whole Text or Binary message: an open connection and no
    /// fragmented message in progress.
    fn check_can_send_whole(&self) -> Result<(), SendError> {
        self.check_can_send()?;
        if self.core.sending.is_some() {
            return Err(SendError::FragmentInProgress);
        }
        Ok(())
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
