//! The opening handshake as the connection reads it: the server's request,
//! the client's response (interim 1xx heads skipped, a refusal's body read),
//! each checked by [`handshake`](crate::handshake). The transitions are
//! `Core` methods in `mod.rs`.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use super::{Connection, Pending, Polled, Sender, State};
use crate::error::{Error, HandshakeError, Refusal};
use crate::event::Event;
use crate::handshake::{self, extensions, http};

/// What a client remembers of its request to check the response.
#[derive(Debug)]
pub(super) struct ClientHandshake {
    /// The `Sec-WebSocket-Accept` the server must send.
    pub(super) accept: [u8; 28],
    /// The subprotocols offered, comma-separated.
    pub(super) offered: String,
    /// Where the response head being read starts: after any interim (1xx)
    /// responses skipped so far.
    pub(super) head_start: usize,
    pub(super) scanned: usize,
}

/// A refusal whose body is still arriving.
#[derive(Debug)]
pub(super) struct Rejection {
    pub(super) response: Refusal,
    /// How many body bytes to wait for; `None`: until the transport ends.
    pub(super) want: Option<usize>,
}

impl Connection {
    /// Server: looks for a complete request head and validates it.
    pub(super) fn poll_request(&mut self, out: &mut Vec<u8>) -> Result<Polled<'_>, Error> {
        let State::ReadingRequest { scanned } = &mut self.core.state else {
            return Ok(Polled::NeedMore);
        };
        let max = self.core.config.max_handshake_size;
        let len = self.rx.received().len();
        // Empty lines before the request line are ignored (RFC 9112 §2.2);
        // they count towards the head size limit.
        let start = http::empty_lines(self.rx.received());
        // Only the first `max` bytes can hold a head: a bare LF past them
        // must give the same answer (431) whether it arrived at once or not.
        let window = &self.rx.received()[..len.min(max)];
        let head_len = match http::find_head_end(window, start, scanned) {
            Err(e) => return Err(self.refuse(e, out)),
            // Found in the window: at most `max` bytes.
            Ok(Some(n)) => n,
            Ok(None) if len <= max && !self.core.eof => return Ok(Polled::NeedMore),
            Ok(None) if len <= max => {
                return Err(self.refuse(HandshakeError::UnexpectedEof, out));
            }
            _ => {
                // "A server that receives a request-target longer than any
                // URI it wishes to parse MUST respond with a 414 (URI Too
                // Long) status code" (RFC 9112 §3); other fields: 431.
                // Judged on the first `max + 1` bytes only: what a byte-by-byte
                // sender had sent when the limit was passed.
                let cap = len.min(max + 1);
                let e = http::request_too_large(&self.rx.received()[start.min(cap)..cap], max);
                return Err(self.refuse(e, out));
            }
        };
        // Frames start after the head (once accepted); the head itself stays
        // in place, borrowed by the request and read again by `accept`.
        let Self { rx, core } = self;
        rx.consume_to(head_len);
        // A resource name that is not a slice of the head is built in the
        // receiver's scratch string, unused until the connection opens; it
        // is cleared by the next poll, as a text message handed out from
        // there is.
        let (buf, scratch) = rx.received_and_scratch();
        let parsed = http::parse_head(&buf[start..head_len], core.config.max_headers)
            .map_err(|e| match e {
                HandshakeError::HeadTooLarge => http::request_too_large(&buf[start..head_len], max),
                e => e,
            })
            .and_then(|head| handshake::validate_request(head, scratch));
        match parsed {
            Ok((request, key)) => {
                // ReadingRequest -> RequestReceived: the caller decides. The
                // key stays in the buffer until `accept`: keep where. Bytes
                // over the bound that came in the reads of the head are
                // judged by the next poll (`poll_pending_request`).
                let at = |part: &[u8]| part.as_ptr().addr() - buf.as_ptr().addr();
                let fields = request.headers().lines();
                core.on_request(Pending {
                    head_len,
                    key_start: at(key),
                    fields: at(fields)..at(fields) + fields.len(),
                    expects_continue: request.expects_continue(),
                    deflate: extensions::answer(
                        request.headers().get_all("sec-websocket-extensions"),
                        &core.config,
                    ),
                });
                Ok(Polled::Event(
                    Event::Request(request),
                    Sender::new(core, buf),
                ))
            }
            Err(e) => {
                // With the HTTP error queued.
                handshake::write_error_response(&e, out);
                core.on_handshake_failed();
                Err(e.into())
            }
        }
    }

    /// Server: refuses the request with an HTTP error (ReadingRequest ->
    /// Failed).
    fn refuse(&mut self, e: HandshakeError, out: &mut Vec<u8>) -> Error {
        handshake::write_error_response(&e, out);
        self.core.on_handshake_failed();
        self.rx.release();
        e.into()
    }

    /// Server: a request awaits `accept` or `reject`.
    ///
    /// What follows its head is bounded by `max_handshake_size` (see
    /// `takes`). Bytes that came in the same reads as the head are judged
    /// here, at the first poll after the request was reported, not before:
    /// the caller's answer given right at the `Request` event then succeeds
    /// whether those bytes came with the head or after the answer, and a
    /// request left unanswered is refused with the same 400 either way. The
    /// bound is checked before the end of the transport, as `takes` checks
    /// it as the bytes arrive, before the end can be reported.
    pub(super) fn poll_pending_request(&mut self, out: &mut Vec<u8>) -> Result<Polled<'_>, Error> {
        let State::RequestReceived(ref pending) = self.core.state else {
            return Ok(Polled::NeedMore);
        };
        let head_len = pending.head_len;
        if self.rx.received().len() - head_len > self.core.config.max_handshake_size {
            self.core.on_overrun();
            self.rx.release();
            return Err(self.refuse_overrun(out));
        }
        if !self.core.eof {
            return Ok(Polled::NeedMore);
        }
        // RequestReceived -> Closed: the client left before the answer.
        self.rx.release();
        let event = Event::Close(self.core.on_transport_end());
        Ok(Polled::Event(event, Sender::new(&mut self.core, &[])))
    }

    /// Server: refuses a request that more than the bound followed
    /// (RequestOverrun -> Failed), with the HTTP error queued.
    pub(super) fn refuse_overrun(&mut self, out: &mut Vec<u8>) -> Error {
        let e = HandshakeError::EarlyDataTooLarge;
        handshake::write_error_response(&e, out);
        self.core.on_handshake_failed();
        e.into()
    }

    /// Client: looks for a complete response head and validates it, or for
    /// the body of a refusal.
    pub(super) fn poll_response(&mut self) -> Result<Polled<'_>, Error> {
        let max = self.core.config.max_handshake_size;
        let eof = self.core.eof;
        match &mut self.core.state {
            State::ReadingResponse(client) => {
                let len = self.rx.received().len();
                let start = client.head_start;
                // As for a request: only the first `max` bytes are searched.
                let window = &self.rx.received()[..len.min(max)];
                let found = http::find_head_end(window, start, &mut client.scanned);
                // The limit bounds every head read, interim ones included.
                let head_len = match found {
                    Err(e) => return Err(self.give_up(e)),
                    // Found in the window: at most `max` bytes.
                    Ok(Some(n)) => n,
                    Ok(None) if len <= max && !eof => return Ok(Polled::NeedMore),
                    Ok(None) if len <= max => {
                        return Err(self.give_up(HandshakeError::UnexpectedEof));
                    }
                    _ => return Err(self.give_up(HandshakeError::HeadTooLarge)),
                };
                http::unfold(&mut self.rx.received_mut()[start..head_len]);
                // Bytes after the head are frames (or a refusal's body).
                let head = &self.rx.consume_to(head_len)[start..head_len];
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
                    // Not consumed: the next head is read from `head_start`.
                    self.rx.consume_to(0);
                    return self.poll_response();
                }
                let config = &self.core.config;
                let checked = parsed.and_then(|head| {
                    handshake::validate_response(
                        head,
                        &client.accept,
                        &client.offered,
                        config.deflate(),
                    )
                });
                let checked = checked.map(|accepted| accepted.deflate());
                match checked {
                    Ok(Some(params)) => self.core.install_codec(params),
                    Ok(None) => {}
                    Err(HandshakeError::Rejected(response)) => {
                        // Wait for the body, up to the handshake limit.
                        let want = match body_length(&response) {
                            Ok(want) => want.map(|n| n.min(max)),
                            Err(e) => return Err(self.give_up(e)),
                        };
                        self.core.on_rejection(Rejection {
                            response: *response,
                            want,
                        });
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
                let head = &rx.received()[client.head_start..head_len];
                let config = &core.config;
                match http::parse_head(head, config.max_headers).and_then(|head| {
                    handshake::validate_response(
                        head,
                        &client.accept,
                        &client.offered,
                        config.deflate(),
                    )
                }) {
                    Ok(accepted) => {
                        core.on_response_accepted();
                        let sender = Sender::new(core, rx.received());
                        Ok(Polled::Event(Event::Accepted(accepted), sender))
                    }
                    Err(_) => Ok(Polled::NeedMore),
                }
            }
            State::ReadingRejection(rejection) => {
                // The body starts at `pos`, right after the head.
                let body = self.rx.unread_bytes();
                let have = body.len();
                let complete = match rejection.want {
                    Some(want) => have >= want,
                    None => have >= max,
                };
                if !complete && !eof {
                    return Ok(Polled::NeedMore);
                }
                let end = have.min(rejection.want.unwrap_or(max));
                let mut response = core::mem::replace(
                    &mut rejection.response,
                    Refusal {
                        status: 0,
                        reason: String::new(),
                        headers: Vec::new(),
                        body: Vec::new(),
                    },
                );
                response.body = self.rx.unread_bytes()[..end].to_vec();
                Err(self.give_up(HandshakeError::Rejected(Box::new(response))))
            }
            _ => Ok(Polled::NeedMore),
        }
    }

    /// Client: the handshake failed; nothing to send, just hang up
    /// (ReadingResponse | ReadingRejection -> Failed).
    fn give_up(&mut self, e: HandshakeError) -> Error {
        self.core.on_handshake_failed();
        self.rx.release();
        e.into()
    }
}

/// How many body bytes a refusal carries (RFC 9112 §6.3): none for 1xx,
/// 204 and 304; with a `Transfer-Encoding`, which "overrides the
/// Content-Length", or without either field, `None`: until the transport
/// ends; else its `Content-Length`.
///
/// An invalid `Content-Length` fails: "If a message is received without
/// Transfer-Encoding and with an invalid Content-Length header field, then
/// the message framing is invalid and the recipient MUST treat it as an
/// unrecoverable error, unless the field value can be successfully parsed
/// as a comma-separated list ..., all values in the list are valid, and
/// all values in the list are the same (in which case, the message is
/// processed with that single value used as the Content-Length field
/// value). ... If it is in a response message received by a user agent,
/// the user agent MUST close the connection to the server and discard the
/// received response" (RFC 9112 §6.3). The fields were unfolded first (see
/// `http::unfold`), so a folded value is judged whole. Several lines are
/// one list (RFC 9110 §5.3); empty elements are skipped (RFC 9110 §5.6.1).
/// A value too large for memory is as good as infinite: the body read is
/// bounded anyway.
fn body_length(response: &Refusal) -> Result<Option<usize>, HandshakeError> {
    if matches!(response.status, 100..=199 | 204 | 304) {
        return Ok(Some(0));
    }
    if response.header("transfer-encoding").is_some() {
        return Ok(None);
    }
    let invalid = HandshakeError::Malformed("invalid Content-Length in a refusal");
    let mut fields = response
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .peekable();
    if fields.peek().is_none() {
        return Ok(None);
    }
    // The value, without leading zeros ("01" and "1" are the same).
    let mut value: Option<&str> = None;
    for element in fields.flat_map(|(_, v)| v.split(',')) {
        let element = element.trim_matches([' ', '\t']);
        if element.is_empty() {
            continue;
        }
        // Content-Length = 1*DIGIT (RFC 9110 §8.6).
        if !element.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid);
        }
        let digits = element.trim_start_matches('0');
        if value.is_some_and(|v| v != digits) {
            return Err(invalid);
        }
        value = Some(digits);
    }
    // A field with no value at all is not 1*DIGIT either.
    let digits = value.ok_or(invalid)?;
    Ok(Some(digits.bytes().fold(0usize, |n, d| {
        n.saturating_mul(10).saturating_add(usize::from(d - b'0'))
    })))
}
