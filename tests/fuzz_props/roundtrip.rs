//! Target `roundtrip`: a conversation between a client and a server,
//! checked against a model of what each side sent.

use super::common::*;
use arbitrary::{Arbitrary, Unstructured};
use wstate::{
    CloseCode, Config, Connection, ConnectionState, Error, Message, ProtocolError, Role, SendError,
};

/// A conversation: one side sends, the other receives and answers.
#[derive(Arbitrary, Debug)]
pub(crate) struct Conversation {
    /// The client sends (else the server does).
    client_sends: bool,
    /// Seed of the client's mask keys.
    seed: u32,
    /// Limits of the receiver (else the defaults).
    limits: Option<Limits>,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
pub(crate) struct Limits {
    frame: u16,
    message: u16,
    fragments: u8,
}

#[derive(Arbitrary, Debug)]
pub(crate) enum Op {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// A message sent with `send_fragment`: the pieces, then `last` with FIN.
    Fragmented {
        text: bool,
        pieces: Vec<Piece>,
        last: Vec<u8>,
    },
    Close {
        code: u16,
        reason: String,
    },
}

#[derive(Arbitrary, Debug)]
pub(crate) enum Piece {
    Data(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// A call the protocol forbids in the middle of a message.
    Misuse(Misuse),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub(crate) enum Misuse {
    /// `send` of a whole data message.
    WholeMessage,
    /// A fragment of the other data type.
    OtherType,
    /// A Ping through `send_fragment`.
    ControlFragment,
}

/// What the receiver does, as modelled from the frames sent.
#[derive(Debug)]
pub(crate) struct Model {
    limits: Config,
    /// The receiver is open (not failed, not closed).
    rx_open: bool,
    /// The sender may still send data (it sent no Close and learnt of no
    /// failure).
    tx_open: bool,
    /// The sender received the receiver's Close (an echo, or the Close of a
    /// failure): from then on it may send nothing at all. Between our Close
    /// and the peer's, Ping and Pong are still allowed (§5.5.1 forbids only
    /// data frames after a Close), but here the peer always answers within
    /// the same delivery.
    tx_closed: bool,
    /// The receiver failed; the sender learns it when the bytes are delivered.
    tx_told_failure: bool,
    /// Bytes and frames of the message being received.
    receiving: Option<(usize, usize)>,
    /// The message being sent: text?, bytes so far.
    sending: Option<(bool, Vec<u8>)>,
    rx_events: Vec<Ev>,
    tx_events: Vec<Ev>,
}

/// A 1009 Close from the receiver, reason unchecked.
pub(crate) const TOO_BIG: u16 = 1009;

impl Model {
    /// A data frame goes out; the receiver checks it against its limits.
    fn data_frame(&mut self, first: bool, fin: bool, len: usize) -> bool {
        if !self.rx_open {
            return false;
        }
        let c = &self.limits;
        let (total, frames) = match (first, self.receiving) {
            (true, _) | (false, None) => (len, 1),
            (false, Some((total, frames))) => (total + len, frames + 1),
        };
        let too_big = len > c.max_frame_size()
            || total > c.max_message_size()
            || (!first && frames > c.max_fragments());
        if too_big {
            self.fail_rx();
            return false;
        }
        self.receiving = if fin { None } else { Some((total, frames)) };
        true
    }

    /// A control frame goes out.
    fn control_frame(&mut self, len: usize) -> bool {
        if !self.rx_open {
            return false;
        }
        if len > self.limits.max_frame_size() {
            self.fail_rx();
            return false;
        }
        true
    }

    /// The receiver fails with 1009 and tells the sender.
    fn fail_rx(&mut self) {
        self.rx_open = false;
        self.rx_events
            .push(Ev::Error(Error::Protocol(ProtocolError::MessageTooLarge)));
        self.tx_told_failure = true;
    }

    /// The bytes were delivered: the sender learns of a failure.
    fn delivered(&mut self) {
        if core::mem::take(&mut self.tx_told_failure) {
            // The sender gets the 1009 Close and (unless it sent a Close
            // already) echoes it; the connection is closed for it.
            self.tx_events.push(Ev::Close((TOO_BIG, String::new())));
            self.tx_closed = true;
            self.tx_open = false;
        }
    }
}

/// Normalizes what the receiver's limits allow to differ: which 1009 error
/// and the reason of its Close.
pub(crate) fn normalize(events: &[Ev]) -> Vec<Ev> {
    events
        .iter()
        .map(|e| match e {
            Ev::Error(Error::Protocol(p)) if p.close_code() == CloseCode::MESSAGE_TOO_BIG => {
                Ev::Error(Error::Protocol(ProtocolError::MessageTooLarge))
            }
            Ev::Close((TOO_BIG, _)) => Ev::Close((TOO_BIG, String::new())),
            other => other.clone(),
        })
        .collect()
}

/// The two ends and the wire between them.
pub(crate) struct Pair {
    tx: Connection,
    rx: Connection,
    tx_client: bool,
    tx_t: Transcript,
    rx_t: Transcript,
}

impl Pair {
    /// Delivers what each side wrote to the other until both are quiet.
    fn deliver(&mut self) {
        // Data, then the answers (Pongs, a Close), then the echo of a Close.
        for _ in 0..3 {
            let bytes = core::mem::take(&mut self.tx_t.out);
            parse_output(&bytes, self.tx_client);
            self.rx.receive(&bytes);
            drain(&mut self.rx, &mut self.rx_t);
            let bytes = core::mem::take(&mut self.rx_t.out);
            parse_output(&bytes, !self.tx_client);
            self.tx.receive(&bytes);
            drain(&mut self.tx, &mut self.tx_t);
        }
        assert!(self.tx_t.out.is_empty() && self.rx_t.out.is_empty());
    }

    /// Calls a send method; on an error, nothing may have been written.
    fn call(
        &mut self,
        f: impl FnOnce(&mut Connection, &mut Vec<u8>) -> Result<(), SendError>,
    ) -> Result<(), SendError> {
        let before = self.tx_t.out.len();
        let result = f(&mut self.tx, &mut self.tx_t.out);
        if result.is_err() {
            assert_eq!(self.tx_t.out.len(), before, "bytes written on {result:?}");
        }
        result
    }
}

/// Messages sent by one `Connection` arrive at the other exactly as sent,
/// Pings are answered, the closing handshake completes, the receiver's
/// limits fail the connection with 1009 exactly when exceeded, and the
/// sender's misuse is refused without writing anything.
pub(crate) fn roundtrip(data: &[u8]) {
    let Ok(conv) = Conversation::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let limits = match &conv.limits {
        Some(l) => Config::default()
            .with_max_frame_size(usize::from(l.frame))
            .with_max_message_size(usize::from(l.message))
            .with_max_fragments(usize::from(l.fragments)),
        None => Config::default(),
    };
    let client = || Role::client(entropy(conv.seed));
    let (tx_role, rx_role) = if conv.client_sends {
        (client(), Role::Server)
    } else {
        (Role::Server, client())
    };
    let mut pair = Pair {
        tx: Connection::new_open(tx_role, Config::default()),
        rx: Connection::new_open(rx_role, limits.clone()),
        tx_client: conv.client_sends,
        tx_t: Transcript::default(),
        rx_t: Transcript::default(),
    };
    let mut m = Model {
        limits,
        rx_open: true,
        tx_open: true,
        tx_closed: false,
        tx_told_failure: false,
        receiving: None,
        sending: None,
        rx_events: Vec::new(),
        tx_events: Vec::new(),
    };

    for op in &conv.ops {
        match op {
            Op::Text(s) => {
                let r = pair.call(|c, out| c.sender().send(Message::Text(s), out));
                if expect_sent(&m, r) && m.data_frame(true, true, s.len()) {
                    m.rx_events.push(Ev::Text(s.clone()));
                }
            }
            Op::Binary(b) => {
                let r = pair.call(|c, out| c.sender().send(Message::Binary(b), out));
                if expect_sent(&m, r) && m.data_frame(true, true, b.len()) {
                    m.rx_events.push(Ev::Binary(b.clone()));
                }
            }
            Op::Ping(p) | Op::Pong(p) => send_control(&mut pair, &mut m, op, p),
            Op::Fragmented { text, pieces, last } => {
                send_fragmented(&mut pair, &mut m, *text, pieces, last)
            }
            Op::Close { code, reason } => {
                let r = pair.call(|c, out| c.sender().close(CloseCode(*code), reason, out));
                if !m.tx_open {
                    assert_eq!(r, Err(SendError::Closed));
                } else if !rfc_sendable(*code, conv.client_sends) {
                    assert_eq!(r, Err(SendError::InvalidCloseCode(CloseCode(*code))));
                } else if reason.len() > 123 {
                    assert_eq!(r, Err(SendError::ReasonTooLong));
                } else {
                    assert_eq!(r, Ok(()));
                    m.tx_open = false;
                    // Before the peer answers: no more data, no second Close,
                    // but a Ping is allowed. The peer receives it after our
                    // Close, so it neither delivers nor answers it (§5.5.2:
                    // no Pong once a Close was received).
                    let data = pair.call(|c, out| c.sender().send(Message::Binary(b"late"), out));
                    assert_eq!(data, Err(SendError::Closed));
                    let again = pair.call(|c, out| c.sender().close(CloseCode::NORMAL, "", out));
                    assert_eq!(again, Err(SendError::Closed));
                    let ping =
                        pair.call(|c, out| c.sender().send(Message::Ping(b"after close"), out));
                    assert_eq!(ping, Ok(()));
                    if m.control_frame(2 + reason.len()) {
                        m.rx_open = false;
                        m.rx_events.push(Ev::Close((*code, reason.clone())));
                        // The receiver echoes the code (§5.5.1: "typically
                        // echos the status code it received"), but a server
                        // never sends 1010 (§7.4.1): it answers 1000 to it.
                        let echo = if *code == 1010 && conv.client_sends {
                            1000
                        } else {
                            *code
                        };
                        m.tx_events.push(Ev::Close((echo, String::new())));
                        m.tx_closed = true;
                    }
                }
            }
        }
        pair.deliver();
        m.delivered();
        let rx = normalize(&pair.rx_t.events);
        assert_eq!(rx, normalize(&m.rx_events), "receiver after {op:?}");
        let tx = normalize(&pair.tx_t.events);
        assert_eq!(tx, normalize(&m.tx_events), "sender after {op:?}");
        // Done: a failed end at once; after the closing handshake, a server
        // at once, a client only once the server closes the transport
        // (§7.1.1), which never happens here.
        let rx_failed = m.rx_events.iter().any(|e| matches!(e, Ev::Error(_)));
        let rx_client = !conv.client_sends;
        assert_eq!(pair.rx_t.done, !m.rx_open && (rx_failed || !rx_client));
        assert_eq!(pair.tx_t.done, m.tx_closed && !conv.client_sends);
    }
    if m.tx_closed {
        assert_eq!(pair.tx.state(), ConnectionState::Closed);
    }
    if !m.rx_open {
        assert_eq!(pair.rx.state(), ConnectionState::Closed);
    }
}

/// Whether a whole-message send should have worked; checks its result.
pub(crate) fn expect_sent(m: &Model, result: Result<(), SendError>) -> bool {
    if m.tx_open {
        assert_eq!(result, Ok(()));
        true
    } else {
        assert_eq!(result, Err(SendError::Closed));
        false
    }
}

/// Sends a Ping or Pong (`op` says which) and models its answer.
pub(crate) fn send_control(pair: &mut Pair, m: &mut Model, op: &Op, payload: &[u8]) {
    let ping = matches!(op, Op::Ping(_));
    let message = if ping {
        Message::Ping(payload)
    } else {
        Message::Pong(payload)
    };
    let r = pair.call(|c, out| c.sender().send(message, out));
    if m.tx_closed {
        assert_eq!(r, Err(SendError::Closed));
        return;
    }
    if payload.len() > 125 {
        assert_eq!(r, Err(SendError::ControlPayloadTooLong));
        return;
    }
    assert_eq!(r, Ok(()));
    if !m.control_frame(payload.len()) {
        return;
    }
    if ping {
        m.rx_events.push(Ev::Ping(payload.to_vec()));
        // The auto-pong comes back to the sender.
        m.tx_events.push(Ev::Pong(payload.to_vec()));
    } else {
        m.rx_events.push(Ev::Pong(payload.to_vec()));
    }
}

/// Sends a message in pieces, with control frames and misuse in between.
pub(crate) fn send_fragmented(
    pair: &mut Pair,
    m: &mut Model,
    text: bool,
    pieces: &[Piece],
    last: &[u8],
) {
    let as_text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let fragment = |pair: &mut Pair, m: &mut Model, bytes: &[u8], fin: bool| {
        let owned;
        let message = if text {
            owned = as_text(bytes);
            Message::Text(&owned)
        } else {
            Message::Binary(bytes)
        };
        // The first frame of a message that is also its last is a whole
        // message; otherwise a part, or the part that finishes it.
        let whole = fin && m.sending.is_none();
        let r = pair.call(|c, out| match (whole, fin) {
            (true, _) => c.sender().send(message, out),
            (false, true) => c.sender().finish(message, out),
            (false, false) => c.sender().send_part(message, out),
        });
        if !expect_sent(m, r) {
            return;
        }
        let payload = match message {
            Message::Text(s) => s.as_bytes(),
            Message::Binary(b) => b,
            _ => unreachable!(),
        };
        let (first, mut so_far) = match m.sending.take() {
            Some((_, so_far)) => (false, so_far),
            None => (true, Vec::new()),
        };
        so_far.extend_from_slice(payload);
        let delivered = m.data_frame(first, fin, payload.len());
        if fin {
            if delivered {
                m.rx_events.push(if text {
                    Ev::Text(String::from_utf8(so_far).expect("pieces are UTF-8"))
                } else {
                    Ev::Binary(so_far)
                });
            }
        } else {
            m.sending = Some((text, so_far));
        }
    };
    for piece in pieces {
        match piece {
            Piece::Data(bytes) => fragment(pair, m, bytes, false),
            Piece::Ping(p) => send_control(pair, m, &Op::Ping(Vec::new()), p),
            Piece::Pong(p) => send_control(pair, m, &Op::Pong(Vec::new()), p),
            Piece::Misuse(misuse) => {
                let other = if text {
                    Message::Binary(b"x")
                } else {
                    Message::Text("x")
                };
                let r = match misuse {
                    Misuse::WholeMessage => pair.call(|c, out| c.sender().send(other, out)),
                    Misuse::OtherType => pair.call(|c, out| c.sender().finish(other, out)),
                    Misuse::ControlFragment => {
                        pair.call(|c, out| c.sender().finish(Message::Ping(b""), out))
                    }
                };
                let expected = match (m.tx_open, misuse, &m.sending) {
                    (false, _, _) => Err(SendError::Closed),
                    (true, Misuse::WholeMessage, Some(_)) => Err(SendError::FragmentInProgress),
                    // Nothing in progress yet: a whole message is fine...
                    (true, Misuse::WholeMessage, None) => Ok(()),
                    // ... but there is nothing to finish.
                    (true, _, None) => Err(SendError::NoMessageInProgress),
                    (true, Misuse::ControlFragment, Some(_)) => Err(SendError::ControlFragment),
                    (true, Misuse::OtherType, Some(_)) => Err(SendError::FragmentTypeMismatch),
                };
                assert_eq!(r, expected, "{misuse:?}");
                if r.is_ok() {
                    // The other-type message went out whole.
                    if m.data_frame(true, true, 1) {
                        m.rx_events.push(if text {
                            Ev::Binary(b"x".to_vec())
                        } else {
                            Ev::Text("x".into())
                        });
                    }
                }
            }
        }
    }
    fragment(pair, m, last, true);
}
