//! Pieces every target shares: owned events, the output parser, entropy,
//! the setup bytes of a connection, and the transcript of polling it.

use wstate::wire::frame::{FrameHeader, OpCode};
use wstate::{
    CloseCode, CloseFrame, Config, Connection, ConnectionState, Error, Event, Message, Polled,
    Role, SendError,
};

/// An event with its data copied out, so that transcripts can be compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ev {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// Code and reason: 1005 (empty reason) when the peer's Close had no
    /// code, 1006 when the transport ended without a Close.
    Close((u16, String)),
    /// `poll_event` failed with this error.
    Error(Error),
    /// Parts mode: a part of a text message, and whether it is the last.
    TextPart(String, bool),
    /// Parts mode: a part of a binary message, and whether it is the last.
    BinaryPart(Vec<u8>, bool),
    /// Server: the upgrade request.
    Request(RequestCopy),
    /// Client: the server's `101`; the subprotocol it chose, and the event's
    /// `Debug` text.
    Accepted(Option<String>, String),
    /// Any other event, by its `Debug` text.
    Other(String),
}

/// What the fuzz checks need of a `Request`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequestCopy {
    pub(crate) path: String,
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) subprotocols: Vec<String>,
    /// The event's `Debug` text (method, target, every header).
    pub(crate) debug: String,
}

pub(crate) fn own(event: Event<'_>) -> Ev {
    match event {
        Event::Text(t) => Ev::Text(t.into()),
        Event::Binary(b) => Ev::Binary(b.to_vec()),
        Event::Ping(b) => Ev::Ping(b.to_vec()),
        Event::Pong(b) => Ev::Pong(b.to_vec()),
        Event::TextPart { part, last } => Ev::TextPart(part.into(), last),
        Event::BinaryPart { part, last } => Ev::BinaryPart(part.to_vec(), last),
        Event::Close(f) => Ev::Close((f.code.0, f.reason().into())),
        Event::Request(req) => Ev::Request(RequestCopy {
            path: req.path().into(),
            key: req.header("sec-websocket-key").map(<[u8]>::to_vec),
            subprotocols: req.subprotocols().map(String::from).collect(),
            debug: format!("{req:?}"),
        }),
        Event::Accepted(acc) => {
            Ev::Accepted(acc.subprotocol().map(String::from), format!("{acc:?}"))
        }
        other => Ev::Other(format!("{other:?}")),
    }
}

/// A frame found in a connection's output, unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OutFrame {
    pub(crate) opcode: OpCode,
    pub(crate) fin: bool,
    pub(crate) payload: Vec<u8>,
}

/// Parses everything a connection wrote as frames of its role: a client's
/// frames are all masked, a server's none; no RSV bit; whole frames only.
pub(crate) fn parse_output(mut out: &[u8], client: bool) -> Vec<OutFrame> {
    let mut frames = Vec::new();
    while !out.is_empty() {
        let (header, n) = match FrameHeader::parse(out) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => panic!("output ends inside a frame header: {out:x?}"),
            Err(e) => panic!("output is not a valid frame ({e}): {out:x?}"),
        };
        assert_eq!(header.rsv, 0, "RSV bits set in our output");
        assert_eq!(
            header.mask.is_some(),
            client,
            "a client must mask every frame and a server none"
        );
        let len = usize::try_from(header.payload_len).expect("length fits in memory");
        let rest = &out[n..];
        assert!(rest.len() >= len, "output ends inside a frame payload");
        let mut payload = rest[..len].to_vec();
        if let Some(key) = header.mask {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        frames.push(OutFrame {
            opcode: header.opcode,
            fin: header.fin,
            payload,
        });
        out = &rest[len..];
    }
    frames
}

/// The code and reason of a Close frame we sent: it must carry a code that
/// is valid on the wire and a UTF-8 reason.
pub(crate) fn sent_close(frame: &OutFrame) -> (u16, String) {
    assert_eq!(frame.opcode, OpCode::Close);
    assert!(
        !frame.payload.is_empty(),
        "we sent a Close without a status code"
    );
    match CloseFrame::parse(&frame.payload) {
        Ok(close) => {
            assert!(rfc_on_wire(close.code.0), "sent {:?}", close.code);
            (close.code.0, close.reason().into())
        }
        Err(e) => panic!("we sent an invalid Close payload ({e}): {frame:x?}"),
    }
}

/// Deterministic "entropy" for client mask keys: a simple generator.
pub(crate) fn entropy(seed: u32) -> impl FnMut(&mut [u8]) + Send + 'static {
    let mut state = seed;
    move |dest: &mut [u8]| {
        for b in dest {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *b = (state >> 24) as u8;
        }
    }
}

/// How a fuzz input sets up an open connection: its first 5 bytes.
///
/// * byte 0, flags: `0x01` client (else server), `0x02` auto-pong off,
///   `0x04` end of stream after the input, `0x08` small limits from bytes 1-3,
///   `0x10` we start the closing handshake (Close 1000, then a Ping) before
///   the stream arrives, `0x20` the same stream is also received in parts
///   (`Config::receive_parts`) and compared with whole messages
///   ([`check_parts_against_whole`]), parts of at most 4 (asked as 1), 7, 16 or 1024
///   bytes by bits `0xC0`.
/// * byte 1: max frame size / 4; byte 2: max message size / 8; byte 3: max
///   fragments (only with `0x08`).
/// * byte 4: target specific. The rest is the byte stream from the peer.
///
/// Missing bytes count as zero.
#[derive(Clone, Debug)]
pub(crate) struct Setup {
    pub(crate) client: bool,
    pub(crate) eof: bool,
    /// We sent a Close (1000, no reason) and then a Ping (`CLOSING_PING`)
    /// before the peer's first byte.
    pub(crate) we_closed: bool,
    pub(crate) config: Config,
    pub(crate) extra: u8,
    /// Flag `0x20`: also run in parts mode with this part bound (`config`
    /// itself receives whole messages).
    pub(crate) parts: Option<usize>,
}

/// The part bounds of flag `0x20`, by bits `0xC0`, as asked of the
/// builder (which takes 1 as 4, the smallest part).
pub(crate) const PART_BOUNDS: [usize; 4] = [1, 7, 16, 1024];

pub(crate) const SETUP_LEN: usize = 5;

pub(crate) fn setup(data: &[u8]) -> (Setup, &[u8]) {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let flags = byte(0);
    let mut config = Config::default().with_auto_pong(flags & 0x02 == 0);
    if flags & 0x08 != 0 {
        config = config
            .with_max_frame_size(usize::from(byte(1)) * 4)
            .with_max_message_size(usize::from(byte(2)) * 8)
            .with_max_fragments(usize::from(byte(3)));
    }
    // The part bound in effect, as the builder set it.
    let parts = (flags & 0x20 != 0)
        .then(|| {
            let asked = PART_BOUNDS[usize::from(flags >> 6)];
            config
                .clone()
                .with_receive_parts(Some(asked))
                .receive_parts()
        })
        .flatten();
    let setup = Setup {
        client: flags & 0x01 != 0,
        eof: flags & 0x04 != 0,
        we_closed: flags & 0x10 != 0,
        config,
        extra: byte(4),
        parts,
    };
    (setup, data.get(SETUP_LEN..).unwrap_or(&[]))
}

/// The payload of the Ping sent after our Close with setup flag `0x10`.
pub(crate) const CLOSING_PING: &[u8] = b"still there?";

impl Setup {
    /// The open connection, with what it wrote before the stream (our Close
    /// and Ping with flag `0x10`).
    pub(crate) fn start(&self) -> (Connection, Transcript) {
        let role = if self.client {
            Role::client(entropy(0x5eed))
        } else {
            Role::Server
        };
        let mut conn = Connection::new_open(role, self.config.clone());
        let mut t = Transcript::default();
        if self.we_closed {
            let out = &mut t.out;
            conn.sender()
                .close(CloseCode::NORMAL, "", out)
                .expect("close an open connection");
            assert_eq!(conn.state(), ConnectionState::Closing);
            // §5.5.1: "The application MUST NOT send any more data frames
            // after sending a Close frame", and a second Close is no more
            // allowed: refused, nothing written.
            let before = out.len();
            assert_eq!(
                conn.sender().send(Message::Text("x"), out),
                Err(SendError::Closed)
            );
            assert_eq!(
                conn.sender().send_part(Message::Binary(b"x"), out),
                Err(SendError::Closed)
            );
            assert_eq!(
                conn.sender().close(CloseCode::NORMAL, "", out),
                Err(SendError::Closed)
            );
            assert_eq!(out.len(), before, "bytes written by a refused send");
            // Control frames are not data: a Ping may follow our Close.
            conn.sender()
                .send(Message::Ping(CLOSING_PING), out)
                .expect("a Ping after our Close");
        }
        (conn, t)
    }
}

/// Everything a connection produced, and where it ended up.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct Transcript {
    pub(crate) events: Vec<Ev>,
    pub(crate) out: Vec<u8>,
    /// `poll_event` answered `Done`.
    pub(crate) done: bool,
}

/// What one poll answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// An event, or an error (recorded in the transcript).
    Event,
    NeedMore,
    Done,
}

/// One `poll_event`, recorded in `t`, checking the rules of the end of a
/// connection:
///
/// * after an error, the next poll says `Done`;
/// * once `Done`, always `Done`: no event, no error, no `NeedMore`;
/// * `Done` and `NeedMore` write nothing.
pub(crate) fn step(conn: &mut Connection, t: &mut Transcript) -> Step {
    let before = t.out.len();
    let failed = matches!(t.events.last(), Some(Ev::Error(_)));
    let step = match conn.poll_event(&mut t.out) {
        Polled::Event(event, _) => {
            let event = own(event);
            assert!(!t.done, "event after Done: {event:?}");
            assert!(!failed, "event after a failure: {event:?}");
            t.events.push(event);
            Step::Event
        }
        Polled::Failed(e) => {
            assert!(!t.done, "error after Done: {e:?}");
            assert!(!failed, "error after a failure: {e:?}");
            t.events.push(Ev::Error(e));
            Step::Event
        }
        Polled::NeedMore => {
            assert!(!t.done, "NeedMore after Done");
            assert!(!failed, "NeedMore after a failure");
            Step::NeedMore
        }
        Polled::Done => {
            t.done = true;
            Step::Done
        }
    };
    if step != Step::Event {
        assert_eq!(t.out.len(), before, "output with {step:?}");
    }
    step
}

/// Polls until `NeedMore` or `Done`. After an error the next poll says
/// `Done`; after `Done`, polling again says `Done` and writes nothing.
pub(crate) fn drain(conn: &mut Connection, t: &mut Transcript) {
    // Every event but the final 1006 Close consumes a frame header (2+
    // bytes), so a bounded number of polls must reach `NeedMore` or `Done`.
    for _ in 0..(1 << 20) {
        match step(conn, t) {
            Step::Event => {}
            Step::NeedMore => return,
            Step::Done => {
                for _ in 0..2 {
                    assert_eq!(step(conn, t), Step::Done, "Done, then not Done");
                }
                return;
            }
        }
    }
    panic!("poll_event never returned NeedMore or Done");
}

/// The final state of a connection, for comparisons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) state: ConnectionState,
    pub(crate) sent_close: Option<CloseFrame>,
    pub(crate) received_close: Option<CloseFrame>,
    /// A last poll says `Done`: the caller closes the transport.
    pub(crate) should_close_transport: bool,
}

/// Taken after the input was drained: a last poll, which writes nothing,
/// says whether the connection is done.
pub(crate) fn summary(conn: &mut Connection) -> Summary {
    let mut out = Vec::new();
    let done = match conn.poll_event(&mut out) {
        Polled::Done => true,
        Polled::NeedMore => false,
        other => panic!("a drained connection answered {other:?}"),
    };
    assert!(out.is_empty(), "a drained connection wrote {out:?}");
    Summary {
        state: conn.state(),
        sent_close: conn.sent_close().cloned(),
        received_close: conn.received_close().cloned(),
        should_close_transport: done,
    }
}

/// Close codes that may appear in a Close frame (RFC 6455 §7.4.1-7.4.2,
/// the IANA registry): 1000-1003, 1007-1014, 3000-4999. See
/// [`rfc_sendable`] for the ranges.
pub(crate) fn rfc_on_wire(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Which close codes an endpoint may send, written from RFC 6455 §7.4 and
/// the IANA "WebSocket Close Code Number Registry", not asked of the crate
/// (so that a wrong range in `CloseCode` cannot agree with itself):
///
/// * 1000-1003 and 1007-1011 (§7.4.1), 1012-1014 (registered by IANA, no
///   rule on which end sends them): sendable. 1010 "is not used by the
///   server, because it can fail the WebSocket handshake instead": a client
///   only.
/// * 1004 (reserved), 1005, 1006 and 1015 ("MUST NOT be set as a status
///   code in a Close control frame by an endpoint"): never.
/// * 0-999 ("not used"), 1016-2999 (reserved for this protocol, its
///   revisions and extensions): never.
/// * 3000-3999 (registered with IANA) and 4000-4999 (private use): sendable.
/// * 5000 and up: outside every range, never.
pub(crate) fn rfc_sendable(code: u16, client: bool) -> bool {
    match code {
        1010 => client,
        1000..=1003 | 1007..=1009 | 1011..=1014 => true,
        // Registered with IANA.
        3000..=3999 => true,
        // Private use.
        4000..=4999 => true,
        // Reserved, or never to be set in a Close frame.
        1004..=1006 | 1015 => false,
        // Unused, reserved for the protocol, out of range.
        0..=999 | 1016..=2999 | 5000.. => false,
    }
}
