//! Properties of `wstate` checked on arbitrary input.
//!
//! One function per fuzz target. Each takes the raw input bytes and panics
//! when a property of the contract (DESIGN.md) fails. The same functions run
//! under cargo-fuzz (`fuzz/fuzz_targets/*.rs`) and, on stable, over the
//! checked-in corpus (`tests/fuzz_corpus.rs`).
//!
//! The including crate provides `crate::memory::peak(f) -> Option<usize>`:
//! the most bytes held at once on this thread while `f` runs, beyond what
//! was held before (the fuzz targets count with their own global
//! allocator, the stable replay with `allocation-counter`'s; `None` if the
//! including crate cannot count).
#![allow(dead_code, reason = "each fuzz target uses one of the checks")]

use arbitrary::{Arbitrary, Unstructured};
use wstate::wire::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use wstate::wire::utf8::Utf8Validator;
use wstate::{
    Accept, ClientRequest, CloseCode, CloseFrame, Config, Connection, ConnectionState, Error,
    Event, HandshakeError, Message, Polled, ProtocolError, Role, SendError,
};

/// A property check over one raw fuzz input; panics on a violation.
pub(crate) type Check = fn(&[u8]);

/// The targets, by the name of their corpus directory.
pub(crate) const TARGETS: &[(&str, Check)] = &[
    ("frame_header", frame_header),
    ("receive", receive),
    ("chunking", chunking),
    ("utf8", utf8),
    ("roundtrip", roundtrip),
    ("handshake_server", handshake_server),
    ("handshake_client", handshake_client),
    ("client_request", client_request),
    ("timers", timers),
    #[cfg(feature = "deflate")]
    ("extensions", deflate::extensions),
    #[cfg(feature = "deflate")]
    ("deflate_receive", deflate::deflate_receive),
];

/// The targets that need wstate's `deflate` feature: without it, `TARGETS`
/// leaves them out and the corpus replay skips their directories.
pub(crate) const DEFLATE_TARGETS: &[&str] = &["extensions", "deflate_receive"];

/// permessage-deflate (RFC 7692): `extensions` and `deflate_receive`.
#[cfg(feature = "deflate")]
pub(crate) mod deflate;

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// frame_header
// ---------------------------------------------------------------------------

/// `FrameHeader::parse` never panics; a parsed header re-encodes to exactly
/// the bytes it came from; every shorter prefix is "need more"; an error is
/// final (every prefix is "need more" or the same error).
pub(crate) fn frame_header(data: &[u8]) {
    let result = FrameHeader::parse(data);
    match &result {
        Ok(Some((header, n))) => {
            let n = *n;
            assert!(n <= data.len() && n <= MAX_HEADER_LEN);
            assert_eq!(n, header.encoded_len());
            let mut buf = [0; MAX_HEADER_LEN];
            let written = header.encode(&mut buf);
            assert_eq!(&buf[..written], &data[..n], "re-encoding differs");
            if header.opcode.is_control() {
                assert!(header.fin && header.payload_len <= 125);
            }
            assert!(header.payload_len < 1 << 63);
            for short in 0..n {
                assert_eq!(
                    FrameHeader::parse(&data[..short]),
                    Ok(None),
                    "prefix {short}"
                );
            }
        }
        Ok(None) => assert!(data.len() < MAX_HEADER_LEN, "a whole header was not parsed"),
        Err(e) => {
            assert_eq!(e.close_code(), CloseCode::PROTOCOL_ERROR);
            for short in 0..data.len().min(MAX_HEADER_LEN) {
                let prefix = FrameHeader::parse(&data[..short]);
                assert!(
                    prefix == Ok(None) || prefix == result,
                    "prefix {short}: {prefix:?}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// receive
// ---------------------------------------------------------------------------

/// Arbitrary bytes from the peer into an open connection (role and limits
/// from the [`setup`] bytes; byte 4 is the read size, 0 = all at once).
///
/// * Only protocol errors; after one, every poll says `Done` and writes
///   nothing (see [`step`]).
/// * The output parses as frames of our role, and is exactly what the events
///   call for: a Pong per Ping (with auto-pong, also after our own Close),
///   the echo of the peer's Close (unless we sent ours), or one Close with
///   the error's code after a failure (unless we sent ours); nothing else.
/// * Messages never exceed `max_message_size`, control payloads 125 bytes,
///   and the connection allocates no more than its limits allow.
pub(crate) fn receive(data: &[u8]) {
    let (setup, stream) = setup(data);
    let read = match setup.extra {
        0 => stream.len().max(1),
        n => usize::from(n),
    };
    let run = |config: &Config| {
        let mut conn = None;
        let mut t = Transcript::default();
        let peak = crate::memory::peak(|| {
            let (mut c, start) = Setup {
                config: config.clone(),
                ..setup.clone()
            }
            .start();
            t = start;
            for chunk in stream.chunks(read) {
                c.receive(chunk);
                drain(&mut c, &mut t);
            }
            if setup.eof {
                c.receive_eof();
                drain(&mut c, &mut t);
            }
            conn = Some(c);
        });
        let mut conn = conn.expect("the run finished");
        (t, summary(&mut conn), peak)
    };
    let (t, end, peak) = run(&setup.config);
    check_receive_transcript(&setup, &end, &t);
    check_against_reference(&setup, stream, &t.events);
    if let Some(peak) = peak {
        check_counter(peak, &t);
        // The connection may hold the unread input (twice, counting Vec
        // growth) and a message of at most max_message_size (idem), which
        // cannot be longer than the input; what a peer merely announced
        // may cost no more than `ANNOUNCED_ALLOWANCE`. Our output and event
        // copies come on top; anything else must be a small constant.
        let c = &setup.config;
        let bound = 2 * stream.len()
            + 2 * c.max_message_size().min(stream.len())
            + c.max_frame_size().min(ANNOUNCED_ALLOWANCE)
            + ours(&t)
            + 4096;
        assert!(peak <= bound, "allocated {peak} bytes, bound {bound}");
    }
    if let Some(max_part) = setup.parts {
        let parts = run(&setup.config.clone().with_receive_parts(Some(max_part)));
        check_parts_against_whole(&setup, stream, max_part, (&t, &end), (&parts.0, &parts.1));
        if let Some(peak) = parts.2 {
            check_counter(peak, &parts.0);
            // In parts: a read (twice, for Vec growth, plus the at most
            // 139 bytes of an unfinished header or control frame kept
            // from the read before) and nothing that grows with the frame
            // or the message, announced or received.
            let bound = 2 * (read + 256) + 2 * max_part + ours(&parts.0) + 4096;
            assert!(
                peak <= bound,
                "parts mode allocated {peak} bytes, bound {bound}"
            );
        }
    }
}

/// What a peer merely announced (a frame length whose bytes have not
/// arrived) may cost a connection, beyond the bytes that did arrive: 1 MiB.
///
/// The contract (lib.rs "Bounded", `Config::max_frame_size`): memory is
/// bounded by the configured limits and by what arrived, plus a constant;
/// an announced length is not memory. The constant is stated here, not
/// taken from the crate: one sixteenth of the default frame and message
/// limits (16 MiB), so that a peer sending bare 16 MiB headers cannot make
/// a connection reserve the limit, while a receiver may still read ahead
/// by a fixed amount (the crate's own read-ahead may change within it).
pub(crate) const ANNOUNCED_ALLOWANCE: usize = 1 << 20;

/// The allocation counter works: what we still hold was allocated while
/// counting.
pub(crate) fn check_counter(peak: usize, t: &Transcript) {
    let held = t.out.capacity() + t.events.capacity() * size_of::<Ev>();
    assert!(peak >= held, "allocation counter broken: {peak} < {held}");
}

/// What the checks themselves hold: the output (twice, for Vec growth) and
/// the copies of the events.
pub(crate) fn ours(t: &Transcript) -> usize {
    2 * t.out.len()
        + t.events.iter().map(ev_len).sum::<usize>()
        + 2 * t.events.capacity() * size_of::<Ev>()
}

/// How the reference decoder says a stream ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Nothing wrong (the rest, if any, is an incomplete frame).
    Clean,
    /// The connection fails with one of these close codes.
    Fail(Vec<u16>),
    /// An incomplete header already breaks a rule: failing now (with one of
    /// these codes) or waiting for the rest of the header are both right.
    MayFail(Vec<u16>),
}

/// Decodes a peer's byte stream by RFC 6455 alone (no crate code): the
/// events an open connection must produce, and how it ends.
pub(crate) fn reference(setup: &Setup, s: &[u8]) -> (Vec<Ev>, Ending) {
    let (events, ending, _) = reference_full(setup, s);
    (events, ending)
}

/// The data message in progress where a stream ends: text?, its payload
/// so far (unmasked, the part of a frame that arrived included).
pub(crate) type InProgress = Option<(bool, Vec<u8>)>;

/// [`reference`], and the message in progress where the decoding stopped
/// (at the end of the stream, a failure or a Close).
pub(crate) fn reference_full(setup: &Setup, mut s: &[u8]) -> (Vec<Ev>, Ending, InProgress) {
    let c = &setup.config;
    let mut events = Vec::new();
    // The fragmented message being received: text?, bytes, frames.
    let mut message: Option<(bool, Vec<u8>, usize)> = None;
    let valid_prefix = |b: &[u8]| match core::str::from_utf8(b) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    let so_far = |m: &Option<(bool, Vec<u8>, usize)>| m.as_ref().map(|(t, d, _)| (*t, d.clone()));
    loop {
        let [b0, b1, rest @ ..] = s else {
            return (events, Ending::Clean, so_far(&message));
        };
        let (fin, rsv, opcode, masked, len7) = (
            b0 & 0x80 != 0,
            b0 & 0x70,
            b0 & 0x0F,
            b1 & 0x80 != 0,
            b1 & 0x7F,
        );
        let control = opcode >= 8;
        // Every rule the header breaks, as far as its bytes are here: a
        // connection may fail as soon as a rule is known to be broken, or
        // wait for the whole header.
        let mut broken = Vec::new();
        if !matches!(opcode, 0 | 1 | 2 | 8 | 9 | 10) {
            broken.push(1002); // reserved opcode (§5.2)
        }
        if control && (!fin || len7 > 125) {
            broken.push(1002); // fragmented or long control frame (§5.5)
        }
        if rsv != 0 || masked == setup.client {
            broken.push(1002); // RSV without extension, masking (§5.2, §5.1)
        }
        match (opcode, &message) {
            (1 | 2, Some(_)) | (0, None) => broken.push(1002), // §5.4
            (0, Some((_, _, frames))) if frames + 1 > c.max_fragments() => broken.push(1009),
            _ => {}
        }
        let ext = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let header_len = 2 + ext + if masked { 4 } else { 0 };
        let len = (rest.len() >= ext).then(|| match len7 {
            126 => u64::from(u16::from_be_bytes([rest[0], rest[1]])),
            127 => u64::from_be_bytes(rest[..8].try_into().unwrap()),
            n => u64::from(n),
        });
        if let Some(len) = len {
            if (len7 == 126 && len < 126) || (len7 == 127 && (len <= 0xFFFF || len >> 63 != 0)) {
                broken.push(1002); // not minimal, or the top bit set (§5.2)
            }
            if len > c.max_frame_size() as u64 {
                broken.push(1009);
            }
            let too_big = |n: u64| n > c.max_message_size() as u64;
            match (opcode, &message) {
                (1 | 2, None) if too_big(len) => broken.push(1009),
                (0, Some((_, data, _))) if too_big((data.len() as u64).saturating_add(len)) => {
                    broken.push(1009)
                }
                _ => {}
            }
        }
        let complete = rest.len() + 2 >= header_len;
        match (broken.is_empty(), complete) {
            (false, true) => return (events, Ending::Fail(broken), so_far(&message)),
            (false, false) => return (events, Ending::MayFail(broken), so_far(&message)),
            (true, false) => return (events, Ending::Clean, so_far(&message)),
            (true, true) => {}
        }
        let len = len.unwrap() as usize;
        let key = masked.then(|| [rest[ext], rest[ext + 1], rest[ext + 2], rest[ext + 3]]);
        let body = &s[header_len..];
        let available = body.len().min(len);
        let mut payload = body[..available].to_vec();
        if let Some(key) = key {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        let text = match (opcode, &message) {
            (1, _) => true,
            (0, Some((text, _, _))) => *text,
            _ => false,
        };
        if available < len {
            // "fail fast" on bad UTF-8 (§8.1): as soon as it arrives.
            let progress = match (&message, opcode) {
                (Some((_, data, _)), 0) => Some((text, [data.as_slice(), &payload].concat())),
                (_, 1 | 2) => Some((text, payload)),
                _ => so_far(&message),
            };
            let bad = progress
                .as_ref()
                .is_some_and(|(text, data)| *text && !valid_prefix(data));
            let ending = if bad {
                Ending::Fail(vec![1007])
            } else {
                Ending::Clean
            };
            return (events, ending, progress);
        }
        s = &body[len..];
        match opcode {
            8 => {
                let frame = match payload.as_slice() {
                    // §7.1.5: "If this Close control frame contains no
                    // status code, _The WebSocket Connection Close Code_ is
                    // considered to be 1005."
                    [] => (1005, String::new()),
                    [_] => return (events, Ending::Fail(vec![1002]), so_far(&message)),
                    [hi, lo, reason @ ..] => {
                        let code = u16::from_be_bytes([*hi, *lo]);
                        // §7.4: codes that may appear on the wire.
                        if !rfc_on_wire(code) {
                            return (events, Ending::Fail(vec![1002]), so_far(&message));
                        }
                        let Ok(reason) = core::str::from_utf8(reason) else {
                            return (events, Ending::Fail(vec![1007]), so_far(&message));
                        };
                        (code, reason.to_string())
                    }
                };
                events.push(Ev::Close(frame));
                return (events, Ending::Clean, so_far(&message));
            }
            9 => events.push(Ev::Ping(payload)),
            10 => events.push(Ev::Pong(payload)),
            _ => {
                let (kind_text, mut data, frames) = match message.take() {
                    Some((t, data, frames)) => (t, data, frames + 1),
                    None => (opcode == 1, Vec::new(), 1),
                };
                data.extend_from_slice(&payload);
                if kind_text && !valid_prefix(&data) {
                    return (events, Ending::Fail(vec![1007]), Some((true, data)));
                }
                if !fin {
                    message = Some((kind_text, data, frames));
                    continue;
                }
                events.push(if kind_text {
                    match String::from_utf8(data) {
                        Ok(text) => Ev::Text(text),
                        Err(e) => {
                            let data = e.into_bytes();
                            return (events, Ending::Fail(vec![1007]), Some((true, data)));
                        }
                    }
                } else {
                    Ev::Binary(data)
                });
            }
        }
    }
}

/// The connection's events are the reference decoder's.
pub(crate) fn check_against_reference(setup: &Setup, stream: &[u8], events: &[Ev]) {
    let (expected, ending) = reference(setup, stream);
    let n = expected.len();
    assert!(
        events.len() >= n,
        "missing events: got {events:?}, want {expected:?} then {ending:?}"
    );
    assert_eq!(
        &events[..n],
        &expected[..],
        "events differ from RFC 6455 decoding"
    );
    let closed = matches!(expected.last(), Some(Ev::Close(_)));
    // §7.1.5: the transport ended without a Close: 1006.
    let eof_close = [Ev::Close((1006, String::new()))];
    let clean: &[Ev] = if setup.eof && !closed {
        &eof_close
    } else {
        &[]
    };
    let rest = &events[n..];
    let failed_with = |codes: &[u16]| match rest {
        [Ev::Error(Error::Protocol(e))] => codes.contains(&e.close_code().0),
        _ => false,
    };
    let ok = match &ending {
        Ending::Clean => rest == clean,
        Ending::Fail(codes) => failed_with(codes),
        Ending::MayFail(codes) => rest == clean || failed_with(codes),
    };
    assert!(
        ok,
        "ending differs: got {rest:?}, want {ending:?} (then {clean:?})"
    );
}

/// Joins the parts of a parts-mode transcript into whole messages, each
/// where its last part came; other events pass through. Returns the
/// events and the message left unfinished at the end (text?, bytes).
///
/// Checks each part: at most `max_part` bytes; not empty unless it is the
/// last of its message; of the kind its message began with; a text part is
/// valid UTF-8 on its own (it is a `&str`), so no code point is split
/// between parts.
pub(crate) fn join_parts(events: &[Ev], max_part: usize) -> (Vec<Ev>, InProgress) {
    let mut joined = Vec::new();
    let mut pending: InProgress = None;
    for event in events {
        let (text, bytes, fin) = match event {
            Ev::TextPart(s, fin) => (true, s.as_bytes(), *fin),
            Ev::BinaryPart(b, fin) => (false, b.as_slice(), *fin),
            Ev::Text(_) | Ev::Binary(_) => panic!("a whole message in parts mode: {event:?}"),
            other => {
                joined.push(other.clone());
                continue;
            }
        };
        assert!(bytes.len() <= max_part, "a part of {} bytes", bytes.len());
        assert!(
            fin || !bytes.is_empty(),
            "an empty part that is not the last"
        );
        let (kind, data) = pending.get_or_insert_with(|| (text, Vec::new()));
        assert_eq!(*kind, text, "text and binary parts in one message");
        data.extend_from_slice(bytes);
        if fin {
            let (text, data) = pending.take().expect("the message");
            joined.push(if text {
                Ev::Text(String::from_utf8(data).expect("parts of whole code points"))
            } else {
                Ev::Binary(data)
            });
        }
    }
    (joined, pending)
}

/// Parts mode against whole messages, for the same stream fed the same way.
///
/// The rule (`Config::receive_parts`): parts mode hands out each message's
/// bytes as they arrive instead of at its end, and nothing else differs.
/// So, with each message's parts joined where its last part came:
///
/// * the events are exactly those of whole mode: the same messages, the
///   same control frames, the same Close, the same error (close code and
///   all); the output (Pongs, Close frames) and the final state are the
///   same;
/// * the one difference: parts of a message that never ended (the stream
///   stopped, the connection failed, or a Close came in its middle) were
///   delivered, where whole mode delivered nothing. Those bytes must be a
///   prefix of what the stream carried for that message (RFC 6455 decoding,
///   [`reference_full`]); unless the connection failed, they are all of
///   it but an unfinished code point (at most 3 bytes) at the end of text.
pub(crate) fn check_parts_against_whole(
    setup: &Setup,
    stream: &[u8],
    max_part: usize,
    whole: (&Transcript, &Summary),
    parts: (&Transcript, &Summary),
) {
    let (joined, pending) = join_parts(&parts.0.events, max_part);
    assert_eq!(
        joined, whole.0.events,
        "parts mode: not the events of whole mode"
    );
    assert_eq!(
        parts.0.out, whole.0.out,
        "parts mode: not the output of whole mode"
    );
    assert_eq!(parts.0.done, whole.0.done, "parts mode: Done differs");
    assert_eq!(parts.1, whole.1, "parts mode: the final state differs");
    let (_, _, in_progress) = reference_full(setup, stream);
    let failed = matches!(whole.0.events.last(), Some(Ev::Error(_)));
    match (in_progress, pending) {
        (None, None) => {}
        (None, Some(got)) => panic!("parts of no message in progress: {got:?}"),
        (Some((text, want)), got) => {
            let got = got.unwrap_or((text, Vec::new()));
            assert_eq!(got.0, text, "parts of the wrong kind");
            assert!(
                want.starts_with(&got.1),
                "parts mode delivered {:x?}, not a prefix of {want:x?}",
                got.1
            );
            if !failed {
                let held = want.len() - got.1.len();
                let may_hold = if text { 3 } else { 0 };
                assert!(
                    held <= may_hold,
                    "parts mode holds {held} bytes that arrived: {:x?} of {want:x?}",
                    got.1
                );
            }
        }
    }
}

/// The heap bytes held by an event copy.
fn ev_len(event: &Ev) -> usize {
    match event {
        Ev::Text(s) | Ev::Other(s) | Ev::Accepted(_, s) | Ev::TextPart(s, _) => s.len(),
        Ev::BinaryPart(b, _) => b.len(),
        Ev::Request(r) => r.debug.len() + r.path.len(),
        Ev::Binary(b) | Ev::Ping(b) | Ev::Pong(b) => b.len(),
        Ev::Close((_, reason)) => reason.len(),
        Ev::Error(_) => 0,
    }
}

/// The receive properties on a finished transcript.
pub(crate) fn check_receive_transcript(setup: &Setup, end: &Summary, t: &Transcript) {
    let c = &setup.config;
    let mut expected = Vec::new();
    if setup.we_closed {
        expected.push((OpCode::Close, 1000u16.to_be_bytes().to_vec()));
        expected.push((OpCode::Ping, CLOSING_PING.to_vec()));
    }
    let mut ended = false;
    for (i, event) in t.events.iter().enumerate() {
        assert!(!ended, "event after the end: {:?}", &t.events[i..]);
        match event {
            Ev::Text(s) => assert!(s.len() <= c.max_message_size(), "text over the limit"),
            Ev::Binary(b) => assert!(b.len() <= c.max_message_size(), "binary over the limit"),
            Ev::Ping(p) => {
                assert!(p.len() <= 125 && p.len() <= c.max_frame_size());
                // §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST
                // send a Pong frame in response, unless it already received
                // a Close frame": having sent our own Close does not stop
                // the Pong. (A Ping after the peer's Close is never
                // delivered: the Close ends the events.)
                if c.auto_pong() {
                    expected.push((OpCode::Pong, p.clone()));
                }
            }
            Ev::Pong(p) => assert!(p.len() <= 125 && p.len() <= c.max_frame_size()),
            Ev::Close((code, reason)) => {
                ended = true;
                // §5.5.1: "If an endpoint receives a Close frame and did not
                // previously send a Close frame, the endpoint MUST send a
                // Close frame in response"; after our own Close, nothing.
                let echo = match *code {
                    // The transport ended without a Close: nothing is sent.
                    1006 if i + 1 == t.events.len() && setup.eof => {
                        assert!(reason.is_empty());
                        None
                    }
                    // The peer's Close had no code: answer 1000.
                    1005 => {
                        assert!(reason.is_empty());
                        Some(1000u16)
                    }
                    // 1010 "is not used by the server" (§7.4.1): a server
                    // answers it with 1000.
                    1010 if !setup.client => Some(1000),
                    // The peer's Close: echo its code.
                    code => {
                        assert!(rfc_on_wire(code), "peer code {code}");
                        Some(code)
                    }
                };
                if let Some(code) = echo.filter(|_| !setup.we_closed) {
                    expected.push((OpCode::Close, code.to_be_bytes().to_vec()));
                }
            }
            Ev::Error(Error::Protocol(e)) => {
                ended = true;
                // Failing the connection sends a Close with the error's code,
                // unless we sent one already: never two Closes.
                if !setup.we_closed {
                    let mut payload = e.close_code().0.to_be_bytes().to_vec();
                    payload.extend_from_slice(e.description().as_bytes());
                    expected.push((OpCode::Close, payload));
                }
            }
            other => panic!("unexpected event on an open connection: {other:?}"),
        }
    }
    let frames = parse_output(&t.out, setup.client);
    let got: Vec<(OpCode, Vec<u8>)> = frames
        .iter()
        .map(|f| {
            assert!(f.fin, "we only send whole control frames here");
            if f.opcode == OpCode::Close {
                sent_close(f);
            }
            (f.opcode, f.payload.clone())
        })
        .collect();
    assert_eq!(got, expected, "output does not match the events");
    // The state agrees with how the transcript ended.
    assert_eq!(end.should_close_transport, t.done);
    match t.events.last() {
        Some(Ev::Error(_)) => {
            assert_eq!(end.state, ConnectionState::Closed);
            assert!(t.done, "a failed connection is done");
        }
        Some(Ev::Close(frame)) => {
            assert_eq!(end.state, ConnectionState::Closed);
            let abnormal = frame.0 == 1006;
            let received = end.received_close.as_ref().expect("the received Close");
            assert_eq!((received.code.0, received.reason()), (frame.0, &*frame.1));
            assert_eq!(
                end.sent_close.is_some(),
                !abnormal || setup.we_closed,
                "a Close is sent unless 1006"
            );
            // §7.1.1: the server closes the transport first; a client waits
            // for the server to close it (end of stream).
            assert_eq!(t.done, !setup.client || setup.eof, "Done after {frame:?}");
        }
        _ => {
            let state = if setup.we_closed {
                ConnectionState::Closing
            } else {
                ConnectionState::Open
            };
            assert_eq!(end.state, state);
            assert!(!setup.eof, "end of stream must end in a Close event");
            assert!(!t.done, "Done on a connection still open");
        }
    }
}

// ---------------------------------------------------------------------------
// chunking
// ---------------------------------------------------------------------------

/// Feeding the stream whole, split at arbitrary points (polling after each
/// piece, or only at the end) or one byte at a time gives identical events,
/// output and final state.
///
/// After the [`setup`] bytes: byte 4 % 16 is the number of split points,
/// each a big-endian u16 (modulo the stream length + 1), then the stream.
pub(crate) fn chunking(data: &[u8]) {
    let (setup, rest) = setup(data);
    let count = usize::from(setup.extra % 16);
    let (points, stream) = rest.split_at((2 * count).min(rest.len()));
    let mut splits: Vec<usize> = points
        .chunks_exact(2)
        .map(|p| usize::from(u16::from_be_bytes([p[0], p[1]])) % (stream.len() + 1))
        .collect();
    splits.sort_unstable();
    let mut pieces = Vec::new();
    let mut at = 0;
    for split in splits.into_iter().chain([stream.len()]) {
        pieces.push(&stream[at..split]);
        at = split;
    }

    // `direct`: each piece read straight into the connection
    // (`receive_with`), into room larger than the read (reused room holds
    // earlier bytes); an empty read would be the end of the stream, so
    // empty pieces are skipped.
    let slack = usize::from(setup.extra % 7);
    let run_with = |pieces: &[&[u8]], poll_each: bool, parts: Option<usize>, direct: bool| {
        let (mut conn, mut t) = Setup {
            config: setup.config.clone().with_receive_parts(parts),
            ..setup.clone()
        }
        .start();
        for piece in pieces {
            if !direct {
                conn.receive(piece);
            } else if !piece.is_empty() {
                let n = conn.receive_with(piece.len() + slack, |room| {
                    room[..piece.len()].copy_from_slice(piece);
                    Ok::<_, ()>(piece.len())
                });
                assert_eq!(n, Ok(piece.len()));
            }
            if poll_each {
                drain(&mut conn, &mut t);
            }
        }
        drain(&mut conn, &mut t);
        if setup.eof {
            conn.receive_eof();
            drain(&mut conn, &mut t);
        }
        (t, summary(&mut conn))
    };
    let run = |pieces: &[&[u8]], poll_each: bool| run_with(pieces, poll_each, None, false);
    let whole = run(&[stream], true);
    check_receive_transcript(&setup, &whole.1, &whole.0);
    check_against_reference(&setup, stream, &whole.0.events);
    let split = run(&pieces, true);
    assert_eq!(split, whole, "split at {pieces:?}");
    let at_end = run(&pieces, false);
    assert_eq!(at_end, whole, "split, polled at the end");
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    let by_byte = run(&bytes, true);
    assert_eq!(by_byte, whole, "byte by byte");
    let direct = run_with(&pieces, true, None, true);
    assert_eq!(direct, whole, "split, read straight into the connection");
    // Parts mode: each way of feeding against whole mode fed the same way
    // (where the parts are cut, and how much of an unfinished message was
    // delivered before a failure, depend on the reads; nothing else does).
    if let Some(max_part) = setup.parts {
        type Feed<'a> = (&'a [&'a [u8]], bool, &'a (Transcript, Summary));
        let feeds: [Feed<'_>; 4] = [
            (&[stream], true, &whole),
            (&pieces, true, &split),
            (&pieces, false, &at_end),
            (&bytes, true, &by_byte),
        ];
        for (pieces, poll_each, whole) in feeds {
            let (t, end) = run_with(pieces, poll_each, Some(max_part), false);
            check_parts_against_whole(&setup, stream, max_part, (&whole.0, &whole.1), (&t, &end));
        }
    }
}

// ---------------------------------------------------------------------------
// utf8
// ---------------------------------------------------------------------------

/// `Utf8Validator` agrees with `core::str::from_utf8` however the input is
/// split, and fails in the piece holding the first byte that cannot
/// continue valid UTF-8 (not later).
///
/// Byte 0 % 8 is the number of split points, each one byte (modulo the
/// length + 1); the rest is the text.
pub(crate) fn utf8(data: &[u8]) {
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let count = usize::from(count % 8).min(rest.len());
    let (points, text) = rest.split_at(count);
    let mut splits: Vec<usize> = points
        .iter()
        .map(|&p| usize::from(p) % (text.len() + 1))
        .collect();
    splits.sort_unstable();

    // The index of the first byte after which no continuation is valid.
    let first_bad = match core::str::from_utf8(text) {
        Ok(_) => None,
        Err(e) if e.error_len().is_none() => None, // only truncated at the end
        Err(e) => {
            let start = e.valid_up_to();
            (start..text.len()).find(|&end| {
                core::str::from_utf8(&text[start..=end]).is_err_and(|e| e.error_len().is_some())
            })
        }
    };
    let valid = core::str::from_utf8(text).is_ok();

    let mut v = Utf8Validator::new();
    // `feed_into` beside it: the same verdicts, and the characters so far.
    let mut w = Utf8Validator::new();
    let mut chars = String::new();
    let mut at = 0;
    let mut failed = false;
    for split in splits.into_iter().chain([text.len()]) {
        let piece = &text[at..split];
        let result = v.feed(piece);
        assert_eq!(
            w.feed_into(piece, &mut chars),
            result,
            "feed_into, piece {at}..{split}"
        );
        if result.is_ok() {
            assert_eq!(w.incomplete_len(), v.incomplete_len());
            let boundary = split - v.incomplete_len();
            assert_eq!(
                chars.as_bytes(),
                &text[..boundary],
                "characters up to {boundary}"
            );
        }
        match first_bad {
            Some(bad) if (at..split).contains(&bad) => {
                assert!(result.is_err(), "missed the bad byte at {bad}");
                failed = true;
                break;
            }
            _ => assert!(
                result.is_ok(),
                "failed before the bad byte, piece {at}..{split}"
            ),
        }
        // After valid pieces, "complete" means "at a character boundary".
        assert_eq!(
            v.is_complete(),
            core::str::from_utf8(&text[..split]).is_ok(),
            "is_complete after {split}"
        );
        at = split;
    }
    if !failed {
        assert_eq!(v.finish().is_ok(), valid);
    }
    assert_eq!(failed || v.finish().is_err(), !valid);
    // `reset` forgets a partial character.
    v.reset();
    assert!(v.is_complete() && v.feed(b"ok").is_ok() && v.finish().is_ok());
}

// ---------------------------------------------------------------------------
// roundtrip
// ---------------------------------------------------------------------------

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
struct Model {
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
const TOO_BIG: u16 = 1009;

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
fn normalize(events: &[Ev]) -> Vec<Ev> {
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
struct Pair {
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

/// Whether a whole-message send should have worked; checks its result.
fn expect_sent(m: &Model, result: Result<(), SendError>) -> bool {
    if m.tx_open {
        assert_eq!(result, Ok(()));
        true
    } else {
        assert_eq!(result, Err(SendError::Closed));
        false
    }
}

/// Sends a Ping or Pong (`op` says which) and models its answer.
fn send_control(pair: &mut Pair, m: &mut Model, op: &Op, payload: &[u8]) {
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
fn send_fragmented(pair: &mut Pair, m: &mut Model, text: bool, pieces: &[Piece], last: &[u8]) {
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

// ---------------------------------------------------------------------------
// Handshake helpers
// ---------------------------------------------------------------------------

/// How a handshake fuzz input sets up its connection: its first 5 bytes.
///
/// * byte 0, flags: `0x01` end of stream after the input; `0x08` small
///   limits from bytes 1-2; the other bits are target specific.
/// * byte 1: max handshake size / 8; byte 2: max headers (with `0x08`).
/// * byte 3: read size (0 = all at once). byte 4: target specific.
/// * The rest is the byte stream from the peer.
#[derive(Clone, Debug)]
pub(crate) struct HsSetup {
    pub(crate) flags: u8,
    pub(crate) eof: bool,
    pub(crate) config: Config,
    pub(crate) read: usize,
    pub(crate) extra: u8,
}

pub(crate) fn hs_setup(data: &[u8]) -> (HsSetup, &[u8]) {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let flags = byte(0);
    let mut config = Config::default();
    if flags & 0x08 != 0 {
        config = config
            .with_max_handshake_size(usize::from(byte(1)) * 8)
            .with_max_headers(usize::from(byte(2)));
    }
    let setup = HsSetup {
        flags,
        eof: flags & 0x01 != 0,
        config,
        read: usize::from(byte(3)),
        extra: byte(4),
    };
    (setup, data.get(SETUP_LEN..).unwrap_or(&[]))
}

/// Splits `stream` into reads of `read` bytes (0: one read).
fn reads(stream: &[u8], read: usize) -> Vec<&[u8]> {
    if read == 0 || stream.is_empty() {
        vec![stream]
    } else {
        stream.chunks(read).collect()
    }
}

/// Standard base64 of exactly 16 bytes, canonical form only (24 characters,
/// `==`, zero trailing bits), as RFC 6455 §4.1 asks of the key.
pub(crate) fn decode_key(key: &[u8]) -> Option<[u8; 16]> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (body, pad) = key.split_at_checked(22)?;
    if pad != b"==" {
        return None;
    }
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = Vec::with_capacity(16);
    for c in body {
        bits = bits << 6 | ALPHABET.iter().position(|a| a == c)? as u32;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    // 22 characters: 132 bits, 128 of data and 4 that must be zero.
    (bits == 0).then(|| out.try_into().ok())?
}

/// An HTTP/1.1 response, parsed independently of the crate.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// Bytes after the head (and after the body, if it has a length).
    pub(crate) rest: Vec<u8>,
}

impl HttpResponse {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a response we wrote: `HTTP/1.1 NNN reason`, `name: value` lines of
/// printable ASCII, a blank line, and a body of `Content-Length` bytes.
pub(crate) fn parse_response(bytes: &[u8]) -> HttpResponse {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head ends with a blank line");
    let head = core::str::from_utf8(&bytes[..end]).expect("response head is ASCII");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let rest = status_line
        .strip_prefix("HTTP/1.1 ")
        .expect("status line starts with HTTP/1.1");
    let status: u16 = rest[..3].parse().expect("3-digit status");
    assert!(
        rest.len() == 3 || rest.as_bytes()[3] == b' ',
        "{status_line}"
    );
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(": ").expect("header line 'name: value'");
            assert!(!name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':'));
            assert!(
                value
                    .bytes()
                    .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
            );
            (name.into(), value.into())
        })
        .collect();
    let mut response = HttpResponse {
        status,
        headers,
        body: Vec::new(),
        rest: bytes[end + 4..].to_vec(),
    };
    if let Some(len) = response.header("content-length") {
        let len: usize = len.parse().expect("Content-Length is a number");
        assert!(
            response.rest.len() >= len,
            "body shorter than Content-Length"
        );
        response.body = response.rest.drain(..len).collect();
    }
    response
}

/// Drives a connection through a list of reads, polling after each, with
/// `on_event` deciding what to do after each event (e.g. answer a Request).
/// Records events and errors; after an error nothing more may come out.
fn drive(
    conn: &mut Connection,
    pieces: &[&[u8]],
    eof: bool,
    t: &mut Transcript,
    mut on_event: impl FnMut(&mut Connection, &Ev, &mut Vec<u8>, usize),
) {
    let mut received = 0;
    let mut poll = |conn: &mut Connection, t: &mut Transcript, received: usize| {
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
            let event = t.events.last().cloned().expect("the event just recorded");
            if !matches!(event, Ev::Error(_)) {
                on_event(conn, &event, &mut t.out, received);
            }
        }
        panic!("poll_event never returned NeedMore or Done");
    };
    for piece in pieces {
        conn.receive(piece);
        received += piece.len();
        poll(conn, t, received);
    }
    if eof {
        conn.receive_eof();
        poll(conn, t, received);
    }
}

/// The events after the handshake, and the output after the handshake's
/// own bytes, as a receive transcript.
fn after_handshake(t: &Transcript, events_from: usize, out_from: usize) -> Transcript {
    Transcript {
        events: t.events[events_from..].to_vec(),
        out: t.out[out_from..].to_vec(),
        done: t.done,
    }
}

// ---------------------------------------------------------------------------
// handshake_server
// ---------------------------------------------------------------------------

/// What the server did with the request, learnt while driving it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ServerAnswer {
    /// The request's key, decoded.
    key: Option<[u8; 16]>,
    /// The subprotocols offered that our client could offer (tokens).
    offered: Vec<String>,
    /// The subprotocol accepted with, if any.
    chosen: Option<String>,
    /// The result of accept/reject, and where the answer starts in `out`.
    result: Option<(Result<(), SendError>, usize)>,
}

/// An HTTP `tchar` (RFC 9110 §5.6.2).
fn tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An HTTP token (RFC 9110 §5.6.2), as a subprotocol name must be.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Arbitrary request bytes into `Connection::server` (set up by
/// [`hs_setup`]; flags `0x02` reject instead of accept, `0x04` accept with
/// the first subprotocol offered, `0x10` with an extra header, `0x20` try
/// `accept` before the request; byte 4 picks the rejection status).
///
/// * Never a panic; before the request only handshake errors, and with one,
///   the HTTP error response its status calls for, or nothing.
/// * A Request event only for a valid upgrade (GET, Host, Upgrade,
///   Connection, a 16-byte key, version 13) within the limits.
/// * Accepting writes a `101` that our client, built with the same key and
///   subprotocols, accepts; the frames after the request are then processed
///   under the receive properties. Rejecting writes exactly the response
///   asked for, or nothing if the status is invalid.
/// * The same events and output however the bytes are split.
pub(crate) fn handshake_server(data: &[u8]) {
    let (setup, stream) = hs_setup(data);
    let run = |pieces: &[&[u8]]| {
        let mut conn = Connection::server(setup.config.clone());
        let mut t = Transcript::default();
        let mut answer = ServerAnswer::default();
        if setup.flags & 0x20 != 0 {
            // Misuse: nothing to answer yet.
            let r = conn.sender().accept(&Accept::new(), &mut t.out);
            assert_eq!(r, Err(SendError::NoPendingRequest));
            let r = conn.sender().reject(403, &[], b"", &mut t.out);
            assert_eq!(r, Err(SendError::NoPendingRequest));
            assert!(t.out.is_empty());
        }
        drive(
            &mut conn,
            pieces,
            setup.eof,
            &mut t,
            |conn, event, out, received| {
                if let Ev::Close(_) = event {
                    // The connection ended (the client left while its request
                    // awaited an answer, or closed after the upgrade): too late
                    // to answer, refused without writing anything.
                    let before = out.len();
                    assert_eq!(
                        conn.sender().accept(&Accept::new(), out),
                        Err(SendError::Closed)
                    );
                    assert_eq!(
                        conn.sender().reject(403, &[], b"", out),
                        Err(SendError::Closed)
                    );
                    assert_eq!(out.len(), before);
                }
                let Ev::Request(request) = event else { return };
                assert!(answer.result.is_none(), "a second Request");
                answer.key = request.key.as_deref().and_then(decode_key);
                answer.offered = request
                    .subprotocols
                    .iter()
                    .filter(|p| is_token(p))
                    .cloned()
                    .collect();
                if setup.flags & 0x04 != 0 {
                    answer.chosen = answer.offered.first().cloned();
                }
                // Bytes that followed the head in the reads so far.
                let head_len = request_head_end(stream).unwrap_or(0);
                let early = received.saturating_sub(head_len);
                server_answers(&setup, conn, out, &mut answer, early);
            },
        );
        (t, summary(&mut conn), answer)
    };
    // Which refusal an answer that came too late got (the early data was
    // over the bound when it was tried, or only later) depends on when the
    // caller acted; whether it succeeded must not.
    let same = |r: &(Transcript, Summary, ServerAnswer)| {
        let result = r.2.result.as_ref().map(|(r, start)| (r.is_ok(), *start));
        (
            r.0.clone(),
            r.1.clone(),
            r.2.key,
            r.2.offered.clone(),
            result,
        )
    };
    let whole = run(&[stream]);
    let split = run(&reads(stream, setup.read));
    assert_eq!(
        same(&split),
        same(&whole),
        "the handshake depends on how the bytes are split"
    );
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    if stream.len() <= 512 {
        assert_eq!(same(&run(&bytes)), same(&whole), "byte by byte");
    }
    check_server_handshake(&setup, stream, &whole.0, &whole.1, &whole.2);
    check_server_against_model(&setup, stream, &whole.0);
}

/// What RFC 6455 §4.2.1 and RFC 9110/9112 say a server does with a request
/// stream, decided from the bytes alone (see [`rfc_request_verdict`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No whole head yet, nothing wrong so far, within the limit.
    Wait,
    /// The client left before a whole head: refused, no response.
    Eof,
    /// A valid upgrade request.
    Accept,
    /// Refused; the status must be one of these (each names a problem the
    /// request has: where it has several, which is reported is a choice).
    Refuse(Vec<u16>),
}

/// The longest line of a head the server reads (README "Limits").
const MAX_LINE: usize = 8 << 10;

/// The server decides as the model does: it accepts exactly the requests
/// the model accepts, and refuses the others with a status the model
/// allows (400 / 405 / 414 / 426 / 431 / 505).
fn check_server_against_model(setup: &HsSetup, stream: &[u8], t: &Transcript) {
    let c = &setup.config;
    let verdict = rfc_request_verdict(stream, c.max_handshake_size(), c.max_headers(), setup.eof);
    let got = match t.events.first() {
        None => Verdict::Wait,
        Some(Ev::Request(_)) => Verdict::Accept,
        Some(Ev::Error(Error::Handshake(e))) => match e.status() {
            None => Verdict::Eof,
            Some(status) => Verdict::Refuse(vec![status]),
        },
        Some(other) => panic!("first event {other:?}"),
    };
    let agrees = match (&verdict, &got) {
        (Verdict::Refuse(allowed), Verdict::Refuse(status)) => allowed.contains(&status[0]),
        _ => verdict == got,
    };
    assert!(
        agrees,
        "the server answered {got:?}, the RFC model says {verdict:?}"
    );
}

/// RFC 3986 `pchar` and friends: a path and query, `%` followed by two hex
/// digits.
fn rfc_path_and_query(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let hex = |j: usize| s.get(j).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    return false;
                }
                i += 3;
            }
            b if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&b) => i += 1,
            _ => return false,
        }
    }
    true
}

/// RFC 9110 §7.2 `Host = uri-host [ ":" port ]` (RFC 3986 §3.2.2-3.2.3),
/// with a non-empty host (RFC 9110 §4.2.1) and no comma (a singleton field
/// written as a list: RFC 9112 §3.2 asks for a 400).
fn rfc_host(v: &[u8]) -> bool {
    let (host_ok, port) = if let Some(inner) = v.strip_prefix(b"[") {
        let Some(close) = inner.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = core::str::from_utf8(&inner[..close]).unwrap_or("\u{0}");
        let future = |l: &str| {
            let Some(rest) = l.strip_prefix(['v', 'V']) else {
                return false;
            };
            let Some((hex, tail)) = rest.split_once('.') else {
                return false;
            };
            !hex.is_empty()
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
                && !tail.is_empty()
                && tail
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:".contains(&b))
        };
        let ok = literal.parse::<std::net::Ipv6Addr>().is_ok() || future(literal);
        match &inner[close + 1..] {
            [] => (ok, &[][..]),
            [b':', port @ ..] => (ok, port),
            _ => return false,
        }
    } else {
        let (host, port) = match v.iter().position(|&b| b == b':') {
            Some(i) => (&v[..i], &v[i + 1..]),
            None => (v, &[][..]),
        };
        let reg_name = !host.is_empty()
            && rfc_path_and_query(host)
            && !host.iter().any(|b| b",:@/?".contains(b));
        (reg_name, port)
    };
    host_ok && port.iter().all(u8::is_ascii_digit)
}

/// The request target (RFC 9112 §3.2): origin-form, or absolute-form with
/// a `ws`, `wss`, `http` or `https` URI (RFC 6455 §3), no userinfo (RFC
/// 9110 §4.2.4), no fragment. "A server MUST accept the absolute-form"
/// (RFC 9112 §3.2.2), with an empty path too (`http://h?q`).
fn rfc_target(t: &[u8]) -> bool {
    if t.contains(&b'#') {
        return false;
    }
    if t.first() == Some(&b'/') {
        return rfc_path_and_query(t);
    }
    let text = String::from_utf8_lossy(t).to_ascii_lowercase();
    let Some(rest) = ["ws://", "wss://", "http://", "https://"]
        .iter()
        .find_map(|scheme| text.strip_prefix(scheme))
    else {
        return false;
    };
    let rest = &t[t.len() - rest.len()..];
    let end = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    let (authority, resource) = rest.split_at(end);
    !authority.contains(&b'@') && rfc_host(authority) && rfc_path_and_query(resource)
}

/// The resource name of an accepted target (RFC 6455 §3): "/" if the path
/// component is empty, the path, "?" if the query component is non-empty,
/// the query.
fn rfc_resource_name(target: &str) -> String {
    let lower = target.to_ascii_lowercase();
    let after_scheme = ["ws://", "wss://", "http://", "https://"]
        .iter()
        .find_map(|s| lower.strip_prefix(s))
        .map(|rest| &target[target.len() - rest.len()..]);
    let path_and_query = match after_scheme {
        Some(rest) => &rest[rest.find(['/', '?']).unwrap_or(rest.len())..],
        None => target,
    };
    let (path, query) = match path_and_query.find('?') {
        Some(i) => (&path_and_query[..i], &path_and_query[i + 1..]),
        None => (path_and_query, ""),
    };
    let mut name = String::from(if path.is_empty() { "/" } else { path });
    if !query.is_empty() {
        name.push('?');
        name.push_str(query);
    }
    name
}

/// The RFC 6455 §4.2.1 acceptance rule, with the RFC 9110/9112 rules the
/// server enforces, from the request bytes alone (no crate code):
///
/// * empty lines before the request line are skipped (RFC 9112 §2.2); the
///   head ends at the first blank line; a bare LF is refused (400); a head
///   (counted from the first byte) over `max` is refused with 431, or 414
///   when its request line is what is too long; more than `max_headers`
///   fields, or a line over 8 KiB: 431 (README "Limits");
/// * field lines: `token ":" value`, the value of visible ASCII, SP, HTAB
///   or obs-text; no obs-fold or leading whitespace (RFC 9112 §5.2): 400;
/// * request line `GET SP target SP HTTP/1.x` (x > 0): another method 405;
///   another major version 505 (RFC 9110 §15.6.6); HTTP/1.0 cannot upgrade
///   (any of 400, 426, 505); a malformed line 400;
/// * a valid target (see [`rfc_target`]), one valid Host: else 400;
/// * Upgrade lists `websocket`, Connection lists `upgrade` (tokens,
///   case-insensitive): else 400;
/// * one Sec-WebSocket-Key, the base64 of 16 bytes: else 400;
/// * one Sec-WebSocket-Version, `13`: else 426 (§4.4);
/// * no content: no Transfer-Encoding, any Content-Length 0 (RFC 9112 §6):
///   else 400; offered subprotocols are distinct tokens (§4.1): else 400.
pub(crate) fn rfc_request_verdict(
    stream: &[u8],
    max: usize,
    max_headers: usize,
    eof: bool,
) -> Verdict {
    let mut start = 0;
    while stream[start..].starts_with(b"\r\n") {
        start += 2;
    }
    let end = stream[start..]
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| start + i + 4);
    let scanned = end.unwrap_or(stream.len());
    let mut problems: Vec<u16> = Vec::new();
    if (start..scanned).any(|i| stream[i] == b'\n' && (i == start || stream[i - 1] != b'\r')) {
        problems.push(400);
    }
    if scanned > max {
        // The head (or what arrived of it) is over the limit: 431, or 414
        // if the request line itself is too long (or not ended yet).
        let line = stream[start..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or(stream.len() - start);
        problems.push(431);
        if line > MAX_LINE || start + line + 2 > max {
            problems.push(414);
        }
    }
    let Some(end) = end.filter(|_| problems.is_empty()) else {
        return match (problems.is_empty(), eof) {
            (false, _) => Verdict::Refuse(problems),
            (true, true) => Verdict::Eof,
            (true, false) => Verdict::Wait,
        };
    };
    // The head without its final CRLF CRLF: every line but the last still
    // ends in the CR of its CRLF; the last line's CRLF is the terminator's
    // (a CR left at its end is a bare CR, part of the line).
    let body = &stream[start..end - 4];
    let count = body.split(|&b| b == b'\n').count();
    let mut lines = body.split(|&b| b == b'\n').enumerate().map(|(i, l)| {
        if i + 1 < count {
            l.strip_suffix(b"\r").unwrap_or(l)
        } else {
            l
        }
    });
    let request_line = lines.next().unwrap_or_default();
    let field_lines: Vec<&[u8]> = lines.collect();
    if request_line.len() > MAX_LINE {
        problems.extend([414, 431]);
    }
    if field_lines.len() > max_headers || field_lines.iter().any(|l| l.len() > MAX_LINE) {
        problems.push(431);
    }
    let mut fields: Vec<(String, &[u8])> = Vec::new();
    for line in &field_lines {
        let colon = line.iter().position(|&b| b == b':');
        let ok = match colon {
            Some(c) => {
                let name = &line[..c];
                !name.is_empty()
                    && name.iter().all(|&b| tchar(b))
                    && line[c + 1..].iter().all(|&b| {
                        b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80
                    })
            }
            None => false,
        };
        if !ok {
            problems.push(400);
            continue;
        }
        let c = colon.expect("checked");
        // OWS (SP / HTAB) around the value is not part of it (RFC 9110
        // §5.5); the value bytes allowed hold no other ASCII whitespace.
        let value = line[c + 1..].trim_ascii();
        fields.push((
            String::from_utf8_lossy(&line[..c]).to_ascii_lowercase(),
            value,
        ));
    }
    let parts: Vec<&[u8]> = request_line.split(|&b| b == b' ').collect();
    match parts[..] {
        [method, target, version] if !method.is_empty() && method.iter().all(|&b| tchar(b)) => {
            match version {
                [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'1'..=b'9'] => {}
                b"HTTP/1.0" => problems.extend([400, 426, 505]),
                [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
                    if major.is_ascii_digit() && minor.is_ascii_digit() =>
                {
                    problems.push(505)
                }
                _ => problems.push(400),
            }
            if method != b"GET" {
                problems.push(405);
            }
            if target.is_empty() || !target.iter().all(u8::is_ascii_graphic) || !rfc_target(target)
            {
                problems.push(400);
            }
        }
        _ => problems.push(400),
    }
    let all = |name: &str| -> Vec<&[u8]> {
        fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .collect()
    };
    let elements = |name: &str| -> Vec<Vec<u8>> {
        all(name)
            .iter()
            .flat_map(|v| v.split(|&b| b == b','))
            .map(|e| e.trim_ascii().to_vec())
            .filter(|e| !e.is_empty())
            .collect()
    };
    let lists = |name: &str, token: &str| {
        elements(name)
            .iter()
            .any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
    };
    match all("host")[..] {
        [host] if rfc_host(host) => {}
        _ => problems.push(400),
    }
    if !lists("upgrade", "websocket") || !lists("connection", "upgrade") {
        problems.push(400);
    }
    match all("sec-websocket-key")[..] {
        [key] if decode_key(key).is_some() => {}
        _ => problems.push(400),
    }
    if all("sec-websocket-version") != [b"13"] {
        problems.push(426);
    }
    let lengths_zero = all("content-length").iter().all(|v| {
        let e: Vec<&[u8]> = v
            .split(|&b| b == b',')
            .map(<[u8]>::trim_ascii)
            .filter(|e| !e.is_empty())
            .collect();
        !e.is_empty() && e.iter().all(|e| *e == b"0")
    });
    if !all("transfer-encoding").is_empty() || !lengths_zero {
        problems.push(400);
    }
    let offered = elements("sec-websocket-protocol");
    let distinct = offered
        .iter()
        .enumerate()
        .all(|(i, p)| !offered[..i].contains(p));
    if !distinct
        || !offered
            .iter()
            .all(|p| is_token(&String::from_utf8_lossy(p)))
    {
        problems.push(400);
    }
    if problems.is_empty() {
        Verdict::Accept
    } else {
        Verdict::Refuse(problems)
    }
}

/// Answers a Request event as the flags say; checks the request first.
fn server_answers(
    setup: &HsSetup,
    conn: &mut Connection,
    out: &mut Vec<u8>,
    a: &mut ServerAnswer,
    early: usize,
) {
    // The request is gone from the event once we answer; check it through
    // a fresh look: poll_event says NeedMore while it awaits an answer.
    // Unless more than the bound already follows the head (it came in the
    // reads of the head): that poll would refuse the request. An answer
    // given before it succeeds, as it does when those bytes come after
    // the answer: whether an answer succeeds does not depend on the split.
    if early <= setup.config.max_handshake_size() {
        let polled = conn.poll_event(out);
        assert!(
            matches!(polled, Polled::NeedMore),
            "a second event before answering: {polled:?}"
        );
    }
    assert_eq!(conn.state(), ConnectionState::Connecting);
    // Sending before the handshake completed is refused.
    let before = out.len();
    assert_eq!(
        conn.sender().send(Message::Text("x"), out),
        Err(SendError::NotOpen)
    );
    assert_eq!(out.len(), before);
    let start = out.len();
    let result = if setup.flags & 0x02 != 0 {
        let status = 150 + 2 * u16::from(setup.extra);
        let body = b"no thanks";
        let r = conn
            .sender()
            .reject(status, &[("X-Reason", "fuzz")], body, out);
        let expected = match status {
            _ if !(200..=599).contains(&status) => Err(SendError::InvalidStatus),
            // RFC 9110 §15.3.5, §15.4.5: no content.
            204 | 304 => Err(SendError::BodyNotAllowed),
            // RFC 9110 §11.6.1, §11.7.1: the challenge is required.
            401 => Err(SendError::MissingHeader("WWW-Authenticate")),
            407 => Err(SendError::MissingHeader("Proxy-Authenticate")),
            _ => Ok(()),
        };
        assert_eq!(r, expected);
        r
    } else {
        let extra: &[(&str, &str)] = if setup.flags & 0x10 != 0 {
            &[("X-Server", "wstate-fuzz")]
        } else {
            &[]
        };
        let chosen = a.chosen.clone();
        let mut accept = Accept::new().headers(extra);
        if let Some(p) = &chosen {
            accept = accept.subprotocol(p);
        }
        let r = conn.sender().accept(&accept, out);
        assert_eq!(r, Ok(()));
        // Answering twice is refused.
        let before = out.len();
        assert_eq!(
            conn.sender().accept(&accept, out),
            Err(SendError::NoPendingRequest)
        );
        assert_eq!(out.len(), before);
        r
    };
    if result.is_err() {
        assert_eq!(out.len(), start, "bytes written on a refused answer");
    }
    a.result = Some((result, start));
}

/// The server handshake properties on a finished run.
fn check_server_handshake(
    setup: &HsSetup,
    stream: &[u8],
    t: &Transcript,
    end: &Summary,
    a: &ServerAnswer,
) {
    let head_end = request_head_end(stream);
    let Some(first) = t.events.first() else {
        // Still waiting: no head yet, and not over the limit.
        assert!(t.out.is_empty());
        assert!(
            !setup.eof,
            "end of stream during the handshake must be reported"
        );
        assert!(
            stream.len() <= setup.config.max_handshake_size(),
            "head over the limit buffered"
        );
        assert!(head_end.is_none(), "a whole head was not answered");
        assert_eq!(end.state, ConnectionState::Connecting);
        assert!(!t.done);
        return;
    };
    match first {
        Ev::Error(Error::Handshake(e)) => {
            assert_eq!(t.events.len(), 1);
            assert_eq!(end.state, ConnectionState::Closed);
            assert!(end.should_close_transport);
            assert!(t.done, "a failed handshake is done");
            match e.status() {
                Some(status) => {
                    let response = parse_response(&t.out);
                    assert_eq!(response.status, status);
                    assert!(response.rest.is_empty(), "bytes after the error response");
                    check_status_fields(&response);
                }
                None => assert!(t.out.is_empty(), "output for {e:?}"),
            }
        }
        Ev::Request(request) => {
            let head_len = head_end.expect("a Request without a whole head");
            assert!(head_len <= setup.config.max_handshake_size());
            let head_start = stream.len() - stream.trim_ascii_start().len();
            let head = &stream[head_start..head_len];
            check_request_head(head);
            let line = String::from_utf8_lossy(head);
            let target = line.split(' ').nth(1).expect("a request target");
            assert_eq!(request.path, rfc_resource_name(target), "{target:?}");
            let (result, start) = a.result.expect("the request was answered");
            assert_eq!(t.out[..start].len(), 0, "output before the answer");
            let answer = &t.out[start..];
            if result.is_err() {
                check_unanswered(setup, stream.len() - head_len, t, answer, end);
                return;
            }
            // RFC 9110 §7.8: a server that receives both an Upgrade and
            // "Expect: 100-continue" MUST send a 100 (Continue) before the
            // 101; a refusal needs none (§10.1.1: no content).
            let continued = answer.strip_prefix(&b"HTTP/1.1 100 Continue\r\n\r\n"[..]);
            let accepting = setup.flags & 0x02 == 0;
            let expects = expects_continue(head);
            assert_eq!(continued.is_some(), accepting && expects, "100 (Continue)");
            let (answer, start) = match continued {
                Some(rest) => (rest, start + (answer.len() - rest.len())),
                None => (answer, start),
            };
            if setup.flags & 0x02 != 0 {
                let response = parse_response(answer);
                assert_eq!(response.status, 150 + 2 * u16::from(setup.extra));
                check_status_fields(&response);
                assert_eq!(response.body, b"no thanks");
                assert_eq!(response.header("x-reason"), Some("fuzz"));
                assert!(response.rest.is_empty(), "bytes after the rejection");
                assert_eq!(t.events.len(), 1, "events after the rejection");
                assert_eq!(end.state, ConnectionState::Closed);
                assert!(end.should_close_transport);
                assert!(t.done, "Done after a rejection");
            } else {
                let response = parse_response(answer);
                assert_eq!(response.status, 101);
                if setup.flags & 0x10 != 0 {
                    assert_eq!(response.header("x-server"), Some("wstate-fuzz"));
                }
                let key = a.key.expect("an accepted request has a valid key");
                client_accepts(setup, answer, key, &a.offered, a.chosen.as_deref());
                // What followed the request was processed as frames.
                let head_bytes = answer.len() - response.rest.len();
                let frames = after_handshake(t, 1, start + head_bytes);
                let rx = Setup {
                    client: false,
                    eof: setup.eof,
                    we_closed: false,
                    config: setup.config.clone(),
                    extra: 0,
                    parts: None,
                };
                check_receive_transcript(&rx, end, &frames);
                check_against_reference(&rx, &stream[head_len..], &frames.events);
            }
        }
        other => panic!("unexpected first event on a server: {other:?}"),
    }
}

/// A request left unanswered (the rejection was refused): the bytes after
/// its head (`early` of them) are held, but no more than
/// `max_handshake_size`, however they arrive: over that, the request is
/// refused with a 400. If the client leaves first, the connection ends with
/// a 1006 Close and nothing is sent.
fn check_unanswered(setup: &HsSetup, early: usize, t: &Transcript, answer: &[u8], end: &Summary) {
    let rest = &t.events[1..];
    if early > setup.config.max_handshake_size() {
        match rest {
            [Ev::Error(Error::Handshake(e))] => {
                assert_eq!(*e, HandshakeError::EarlyDataTooLarge);
                let response = parse_response(answer);
                assert_eq!(Some(response.status), e.status());
                assert_eq!(response.status, 400);
                assert!(response.rest.is_empty(), "bytes after the error response");
                assert_eq!(response.header("connection"), Some("close"));
            }
            other => panic!("{early} bytes held after an unanswered request: {other:?}"),
        }
        assert_eq!(end.state, ConnectionState::Closed);
        assert!(t.done);
        return;
    }
    assert!(answer.is_empty(), "output for an unanswered request");
    if setup.eof {
        assert_eq!(rest, [Ev::Close((1006, String::new()))]);
        assert_eq!(end.state, ConnectionState::Closed);
        assert!(end.sent_close.is_none());
        assert!(t.done, "Done once the client left");
    } else {
        assert_eq!(rest, [], "events while the request awaits an answer");
        assert_eq!(end.state, ConnectionState::Connecting);
        assert!(!t.done);
    }
}

/// Where a request head ends: after the empty lines a server ignores
/// before it (RFC 9112 §2.2), the first blank line.
fn request_head_end(stream: &[u8]) -> Option<usize> {
    let mut start = 0;
    while stream[start..].starts_with(b"\r\n") {
        start += 2;
    }
    let i = stream[start..].windows(4).position(|w| w == b"\r\n\r\n")?;
    Some(start + i + 4)
}

/// The fields a status requires in a response we wrote (RFC 9110 §15.5.6,
/// §15.5.22, §7.8; RFC 6455 §4.4), and the end of the connection.
fn check_status_fields(response: &HttpResponse) {
    if response.status == 426 {
        assert_eq!(response.header("upgrade"), Some("websocket"));
        assert_eq!(response.header("sec-websocket-version"), Some("13"));
        assert_eq!(response.header("connection"), Some("Upgrade, close"));
    } else {
        assert_eq!(response.header("connection"), Some("close"));
    }
    if response.status == 405 {
        assert!(response.header("allow").is_some());
    }
    if matches!(response.status, 204 | 304) {
        assert_eq!(response.header("content-length"), None);
    }
}

/// The `(lowercase name, trimmed value)` field lines of a head after its
/// first line, obs-folds joined to the line they continue (RFC 9112 §5.2).
fn unfolded_fields(text: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
        if line.starts_with([' ', '\t']) {
            let last = fields.last_mut().expect("a fold continues a field");
            let joined = format!("{} {}", last.1, line);
            last.1 = joined.trim_matches([' ', '\t']).to_string();
            continue;
        }
        let (n, v) = line.split_once(':').expect("field line");
        fields.push((
            n.to_ascii_lowercase(),
            v.trim_matches([' ', '\t']).to_string(),
        ));
    }
    fields
}

/// Whether a request head expects 100-continue: an `Expect` field lists
/// `100-continue`, case-insensitively (RFC 9110 §10.1.1).
fn expects_continue(head: &[u8]) -> bool {
    unfolded_fields(&String::from_utf8_lossy(head))
        .iter()
        .filter(|(n, _)| n == "expect")
        .flat_map(|(_, v)| v.split(','))
        .any(|e| {
            e.trim_matches([' ', '\t'])
                .eq_ignore_ascii_case("100-continue")
        })
}

/// Whether a version is HTTP/1.1 or a later HTTP/1 minor version, which
/// RFC 9110 §2.5 says to process as 1.1.
fn is_http_1_1_or_later(version: &str) -> bool {
    matches!(
        version.as_bytes(),
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'1'..=b'9']
    )
}

/// Checks, without the crate, that a head is a valid upgrade request.
fn check_request_head(head: &[u8]) {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap();
    let parts: Vec<&str> = request_line.split(' ').collect();
    assert_eq!(parts.len(), 3, "{request_line:?}");
    assert_eq!(parts[0], "GET");
    assert!(is_http_1_1_or_later(parts[2]), "{request_line:?}");
    // RFC 9112 §3.2: origin-form or absolute-form, no fragment.
    let target = parts[1];
    assert!(!target.contains('#'), "{target:?}");
    let lower = target.to_ascii_lowercase();
    assert!(
        target.starts_with('/')
            || ["ws://", "wss://", "http://", "https://"]
                .iter()
                .any(|s| lower.starts_with(s)),
        "{target:?}"
    );
    assert!(
        lines.all(|l| !l.starts_with([' ', '\t'])),
        "obs-fold in a request"
    );
    let fields = unfolded_fields(&text);
    let all = |name: &str| -> Vec<&str> {
        fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let has_token = |name: &str, token: &str| {
        all(name)
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| t.trim_matches([' ', '\t']).eq_ignore_ascii_case(token))
    };
    // "A server MUST respond with a 400 (Bad Request) status code to any
    // HTTP/1.1 request message that lacks a Host header field and to any that
    // contains more than one Host header field line" (RFC 9112 §3.2).
    assert_eq!(
        all("host").len(),
        1,
        "a request without exactly one Host line"
    );
    let host = all("host")[0];
    assert!(
        !host.is_empty() && !host.contains([' ', '\t', ',', '@', '/']),
        "Host {host:?}"
    );
    // RFC 9112 §6: no content on an upgrade request.
    assert!(all("transfer-encoding").is_empty());
    assert!(
        all("content-length")
            .iter()
            .flat_map(|v| v.split(','))
            .all(|e| e.trim_matches([' ', '\t']) == "0")
    );
    assert!(has_token("upgrade", "websocket"));
    assert!(has_token("connection", "upgrade"));
    let keys = all("sec-websocket-key");
    assert_eq!(keys.len(), 1);
    assert!(
        decode_key(keys[0].as_bytes()).is_some(),
        "key {:?}",
        keys[0]
    );
    assert_eq!(all("sec-websocket-version"), ["13"]);
}

/// Our client, had it sent this request, accepts the server's `101`.
fn client_accepts(
    setup: &HsSetup,
    answer: &[u8],
    key: [u8; 16],
    offered: &[String],
    chosen: Option<&str>,
) {
    let offered: Vec<&str> = offered.iter().map(String::as_str).collect();
    let request = ClientRequest::new("example.com", "/").subprotocols(&offered);
    let mut nonce = Some(key);
    let entropy = move |dest: &mut [u8]| match nonce.take() {
        Some(n) if dest.len() == 16 => dest.copy_from_slice(&n),
        _ => dest.fill(0x5a),
    };
    let mut out = Vec::new();
    let mut client = Connection::client(&request, entropy, setup.config.clone(), &mut out)
        .expect("a valid client request");
    client.receive(answer);
    match client.poll_event(&mut out) {
        Polled::Event(Event::Accepted(accepted), _) => {
            assert_eq!(accepted.subprotocol(), chosen);
        }
        other => panic!("our client refuses our 101: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// handshake_client
// ---------------------------------------------------------------------------

/// The client's nonce: RFC 6455 §1.3's example, so that the seeds can carry
/// the matching `Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`.
pub(crate) const NONCE: &[u8; 16] = b"the sample nonce";
pub(crate) const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// The subprotocols a client offers, by flag bits `0x06`.
fn offered_by(flags: u8) -> &'static [&'static str] {
    match (flags >> 1) & 0b11 {
        0 => &[],
        1 => &["chat"],
        2 => &["chat", "superchat"],
        _ => &["v1.chat", "v2.chat", "chat"],
    }
}

/// The client's entropy: the nonce first, then mask keys.
fn client_entropy() -> impl FnMut(&mut [u8]) + Send + 'static {
    let mut nonce_sent = false;
    let mut keys = entropy(0x5eed);
    move |dest: &mut [u8]| {
        if !nonce_sent && dest.len() == 16 {
            nonce_sent = true;
            dest.copy_from_slice(NONCE);
        } else {
            keys(dest);
        }
    }
}

/// Arbitrary response bytes into `Connection::client` (set up by
/// [`hs_setup`]; flag bits `0x06` choose the subprotocols offered).
///
/// * Our request is accepted by our server, with the path and subprotocols
///   asked for.
/// * Never a panic; before the `101` only handshake errors, and the client
///   writes nothing more on one.
/// * `Accepted` only for a `101` with Upgrade, Connection, the right
///   `Sec-WebSocket-Accept` and no subprotocol or an offered one (checked
///   without the crate); the frames after it follow the receive properties.
/// * The same events and output however the bytes are split.
pub(crate) fn handshake_client(data: &[u8]) {
    let (setup, stream) = hs_setup(data);
    let offered = offered_by(setup.flags);
    let request = ClientRequest::new("example.com", "/chat?room=1").subprotocols(offered);
    let run = |pieces: &[&[u8]]| {
        let mut t = Transcript::default();
        let mut conn =
            Connection::client(&request, client_entropy(), setup.config.clone(), &mut t.out)
                .expect("a valid request");
        assert_eq!(conn.state(), ConnectionState::Connecting);
        let before = t.out.len();
        assert_eq!(
            conn.sender().send(Message::Text("x"), &mut t.out),
            Err(SendError::NotOpen)
        );
        assert_eq!(t.out.len(), before);
        drive(&mut conn, pieces, setup.eof, &mut t, |_, _, _, _| {});
        (t, summary(&mut conn))
    };
    let whole = run(&[stream]);
    let split = run(&reads(stream, setup.read));
    assert_eq!(
        split, whole,
        "the handshake depends on how the bytes are split"
    );
    if stream.len() <= 512 {
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(run(&bytes), whole, "byte by byte");
    }
    let (t, end) = whole;

    // The request: our server takes it as sent.
    let request_len = t
        .out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a request")
        + 4;
    let mut server = Connection::server(Config::default());
    let mut server_out = Vec::new();
    server.receive(&t.out[..request_len]);
    match server.poll_event(&mut server_out) {
        Polled::Event(event, _) => match own(event) {
            Ev::Request(r) => {
                assert_eq!(r.path, "/chat?room=1");
                assert_eq!(r.subprotocols, offered);
                assert_eq!(r.key.as_deref().and_then(decode_key), Some(*NONCE));
            }
            other => panic!("{other:?}"),
        },
        other => panic!("our server refuses our request: {other:?}"),
    }

    let (head_start, head_end) = response_head(stream);
    match t.events.first() {
        None => {
            assert_eq!(
                t.out.len(),
                request_len,
                "output while waiting for the response"
            );
            assert!(
                !setup.eof,
                "end of stream during the handshake must be reported"
            );
            match head_end {
                None => assert!(
                    stream.len() <= setup.config.max_handshake_size(),
                    "head over the limit buffered"
                ),
                // Only a refusal waits after its head, for its body.
                Some(head_len) => {
                    let head = &stream[head_start..head_len];
                    let body = refusal_body(head, setup.config.max_handshake_size());
                    let want = match body.expect("a whole head was not answered") {
                        RefusalBody::Length(n) => n,
                        RefusalBody::UntilClose => usize::MAX,
                        RefusalBody::Invalid => panic!("a refusal with invalid framing waits"),
                    };
                    let have = stream.len() - head_len;
                    assert!(have < want, "a whole refusal was not reported");
                    assert!(
                        have < setup.config.max_handshake_size(),
                        "a refusal's body over the limit buffered"
                    );
                }
            }
            assert_eq!(end.state, ConnectionState::Connecting);
            assert!(!t.done);
        }
        Some(Ev::Error(Error::Handshake(e))) => {
            let max = setup.config.max_handshake_size();
            let body = head_end
                .filter(|&end| end <= max)
                .and_then(|end| refusal_body(&stream[head_start..end], max));
            if let HandshakeError::Rejected(response) = e {
                // The refusal carries its body, as far as the limit allows.
                let head_len = head_end.expect("a refusal without a whole head");
                let want = match body.expect("a refusal with a status other than 101") {
                    RefusalBody::Length(n) => n,
                    RefusalBody::UntilClose => max,
                    RefusalBody::Invalid => panic!("a refusal with invalid framing reported"),
                };
                let after = &stream[head_len..];
                let n = after.len().min(want);
                assert!(setup.eof || n == want, "refusal reported before its body");
                assert_eq!(response.body, after[..n], "the refusal's body");
            } else if body == Some(RefusalBody::Invalid) {
                // RFC 9112 §6.3: discarded, the connection closed (unless the
                // head broke a limit or the syntax first).
                assert!(
                    matches!(
                        e,
                        HandshakeError::Malformed(_)
                            | HandshakeError::TooManyHeaders
                            | HandshakeError::HeadTooLarge
                    ),
                    "{e:?}"
                );
            }
            assert_eq!(t.events.len(), 1);
            assert_eq!(
                t.out.len(),
                request_len,
                "a client sends nothing on a failed handshake"
            );
            assert_eq!(end.state, ConnectionState::Closed);
            assert!(end.should_close_transport);
            assert!(t.done, "a failed handshake is done");
        }
        Some(Ev::Accepted(chosen, _)) => {
            let head_len = head_end.expect("Accepted without a whole head");
            assert!(head_len <= setup.config.max_handshake_size());
            check_101(&stream[head_start..head_len], offered, chosen.as_deref());
            let frames = after_handshake(&t, 1, request_len);
            let rx = Setup {
                client: true,
                eof: setup.eof,
                we_closed: false,
                config: setup.config.clone(),
                extra: 0,
                parts: None,
            };
            check_receive_transcript(&rx, &end, &frames);
            check_against_reference(&rx, &stream[head_len..], &frames.events);
        }
        Some(other) => panic!("unexpected first event on a client: {other:?}"),
    }
}

/// How a refusal's body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RefusalBody {
    /// This many bytes (at most the handshake limit).
    Length(usize),
    /// All until the server closes the connection (at most the limit).
    UntilClose,
    /// An invalid Content-Length: "the message framing is invalid", and
    /// the user agent "MUST close the connection to the server and discard
    /// the received response" (RFC 9112 §6.3): reported at once, as an
    /// error, not as the refusal.
    Invalid,
}

/// For a response head that refuses the upgrade (a status other than 101),
/// how its body is delimited (RFC 9112 §6.3): none for 1xx, 204 and 304;
/// with a `Transfer-Encoding`, until the server closes the connection; else
/// by `Content-Length`, whose lines and comma-separated elements must all
/// be 1*DIGIT and the same value (empty elements skipped, RFC 9110 §5.6.1),
/// or the framing is invalid; without one, until the connection closes.
/// Folded lines are unfolded first: a user agent MUST "replace each
/// received obs-fold with one or more SP octets prior to interpreting the
/// field value" (RFC 9112 §5.2). The client reads at most `max` body bytes.
/// `None` if the head does not refuse (no status line, or 101).
fn refusal_body(head: &[u8], max: usize) -> Option<RefusalBody> {
    let text = String::from_utf8_lossy(head);
    let status = status_of(&text)?;
    if status == 101 {
        return None;
    }
    if matches!(status, 100..=199 | 204 | 304) {
        return Some(RefusalBody::Length(0));
    }
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.split("\r\n").skip(1) {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.1.push(' ');
                last.1.push_str(line);
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        fields.push((name.to_ascii_lowercase(), value.to_string()));
    }
    if fields.iter().any(|(n, _)| n == "transfer-encoding") {
        return Some(RefusalBody::UntilClose);
    }
    let lengths: Vec<&str> = fields
        .iter()
        .filter(|(n, _)| n == "content-length")
        .map(|(_, v)| v.as_str())
        .collect();
    if lengths.is_empty() {
        return Some(RefusalBody::UntilClose);
    }
    let elements: Vec<&str> = lengths
        .iter()
        .flat_map(|v| v.split(','))
        .map(|e| e.trim_matches([' ', '\t']))
        .filter(|e| !e.is_empty())
        .collect();
    let valid = !elements.is_empty()
        && elements
            .iter()
            .all(|e| e.bytes().all(|b| b.is_ascii_digit()));
    let values: Vec<&str> = elements.iter().map(|e| e.trim_start_matches('0')).collect();
    if !valid || values.iter().any(|v| *v != values[0]) {
        return Some(RefusalBody::Invalid);
    }
    // All zeros ("0", "00") is 0; a number too large is as good as infinite.
    let n = match values[0] {
        "" => 0,
        v => v.parse::<usize>().unwrap_or(usize::MAX),
    };
    Some(RefusalBody::Length(n.min(max)))
}

/// The status of a head whose first line is `HTTP/1.x NNN[ reason]`.
fn status_of(text: &str) -> Option<u16> {
    let line = text.split("\r\n").next()?;
    let (version, rest) = line.split_once(' ')?;
    if !is_http_1_1_or_later(version) {
        return None;
    }
    rest.get(..3)?.parse().ok()
}

/// Where the final response head starts and ends: interim (1xx other than
/// 101) heads before it are skipped (RFC 9110 §15.2). The end is `None`
/// while no final head is complete.
fn response_head(stream: &[u8]) -> (usize, Option<usize>) {
    let mut start = 0;
    loop {
        let Some(i) = stream[start..].windows(4).position(|w| w == b"\r\n\r\n") else {
            return (start, None);
        };
        let end = start + i + 4;
        match status_of(&String::from_utf8_lossy(&stream[start..end])) {
            Some(s) if (100..=199).contains(&s) && s != 101 => {}
            _ => return (start, Some(end)),
        }
        start = end;
    }
}

/// Checks, without the crate, that a response head accepts our request.
fn check_101(head: &[u8], offered: &[&str], chosen: Option<&str>) {
    let text = String::from_utf8_lossy(head);
    assert_eq!(status_of(&text), Some(101), "{text:?}");
    let fields = unfolded_fields(&text);
    let all = |name: &str| -> Vec<&str> {
        fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let tokens = |name: &str| -> Vec<String> {
        all(name)
            .iter()
            .flat_map(|v| v.split(','))
            .map(|t| t.trim_matches([' ', '\t']).to_string())
            .filter(|t| !t.is_empty())
            .collect()
    };
    let has = |name: &str, token: &str| tokens(name).iter().any(|t| t.eq_ignore_ascii_case(token));
    // RFC 6455 §4.1: exactly "websocket", not a list containing it.
    let upgrade = all("upgrade");
    assert!(
        upgrade.len() == 1 && upgrade[0].eq_ignore_ascii_case("websocket"),
        "{upgrade:?}"
    );
    assert!(has("connection", "upgrade"));
    assert_eq!(all("sec-websocket-accept"), [ACCEPT]);
    assert!(
        tokens("sec-websocket-extensions").is_empty(),
        "an extension we did not offer"
    );
    // RFC 6455 §4.1, §4.2.2: no field, or one field holding exactly one of
    // the offered tokens (not empty, not a list).
    match all("sec-websocket-protocol")[..] {
        [] => assert_eq!(chosen, None),
        [p] => {
            assert!(offered.contains(&p), "{p:?} was not offered");
            assert_eq!(chosen, Some(p));
        }
        ref several => panic!("several subprotocol fields: {several:?}"),
    }
}

// ---------------------------------------------------------------------------
// client_request
// ---------------------------------------------------------------------------

/// What a caller asks `Connection::client` for.
#[derive(Arbitrary, Debug)]
pub(crate) struct CallerRequest {
    host: String,
    path: String,
    subprotocols: Vec<String>,
    headers: Vec<(String, String)>,
}

/// Header names the handshake itself writes: a caller who adds them again
/// makes a request the server may refuse (a second key, ...).
const HANDSHAKE_HEADERS: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
];

/// Whatever `Connection::client` agrees to send is a request our server
/// accepts, carrying exactly the caller's path, host, subprotocols and
/// headers (no header injection through the caller's strings); a refused
/// request writes nothing.
pub(crate) fn client_request(data: &[u8]) {
    let Ok(r) = CallerRequest::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let protocols: Vec<&str> = r.subprotocols.iter().map(String::as_str).collect();
    let headers: Vec<(&str, &str)> = r
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = ClientRequest::new(&r.host, &r.path)
        .subprotocols(&protocols)
        .headers(&headers);
    let mut out = Vec::new();
    let result = Connection::client(&request, client_entropy(), Config::default(), &mut out);
    let reserved = r.headers.iter().any(|(n, _)| {
        let n = n.to_ascii_lowercase();
        [
            "host",
            "upgrade",
            "connection",
            "content-length",
            "transfer-encoding",
        ]
        .contains(&n.as_str())
            || n.starts_with("sec-websocket-")
    });
    if reserved {
        // A header the request writes itself, or one announcing content.
        assert!(result.is_err(), "a reserved header was sent: {r:?}");
    }
    let Ok(_client) = result else {
        assert!(out.is_empty(), "bytes written for a refused request");
        return;
    };
    // Exactly one head, nothing after it.
    let head_len = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    assert_eq!(head_len, out.len(), "bytes after the request head");
    let ows = [' ', '\t'];
    // The server allows as many fields as the caller may add (the default
    // 64 would answer 431 to a long list the client may well send).
    let config = Config::default()
        .with_max_handshake_size(usize::MAX)
        .with_max_headers(r.headers.len() + 8);
    let mut server = Connection::server(config);
    let mut server_out = Vec::new();
    server.receive(&out);
    let request = match server.poll_event(&mut server_out) {
        Polled::Event(event, _) => own(event),
        Polled::Failed(e)
            if r.headers
                .iter()
                .any(|(n, _)| HANDSHAKE_HEADERS.contains(&n.to_ascii_lowercase().as_str())) =>
        {
            // The caller repeated a handshake header; refusing is fair.
            let _ = e;
            return;
        }
        other => panic!("our server refuses our request: {other:?}\n{r:?}"),
    };
    let Ev::Request(req) = request else {
        panic!("{request:?}")
    };
    assert_eq!(req.path, r.path);
    assert_eq!(req.key.as_deref().and_then(decode_key), Some(*NONCE));
    if !r
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-protocol"))
    {
        assert_eq!(req.subprotocols, r.subprotocols);
    }
    // Every field as the server sees it: the handshake's, then the caller's.
    let text = String::from_utf8_lossy(&out[..head_len - 4]).into_owned();
    let fields: Vec<(String, String)> = text
        .split("\r\n")
        .skip(1)
        .map(|line| {
            let (n, v) = line.split_once(':').expect("field line");
            (n.to_string(), v.trim_matches(ows).to_string())
        })
        .collect();
    let extra = &fields[fields.len() - r.headers.len()..];
    for ((name, value), (sent_name, sent_value)) in r.headers.iter().zip(extra) {
        assert_eq!(name, sent_name, "header name changed");
        assert_eq!(value.trim_matches(ows), sent_value, "header value changed");
    }
    let host = fields
        .iter()
        .find(|(n, _)| n == "Host")
        .map(|(_, v)| v.as_str());
    assert_eq!(host, Some(r.host.trim_matches(ows)), "Host changed");
}

// ---------------------------------------------------------------------------
// timers
// ---------------------------------------------------------------------------

/// How a `timers` input sets up its connection: its first 5 bytes.
///
/// * byte 0, flags: `0x01` client (else server); `0x02` start with the
///   opening handshake (server: reading the request, accepted when it comes;
///   client: request sent, reading the response) rather than open; `0x04`
///   end of stream after the script; `0x08` keepalive `any_data`; `0x10`
///   keepalive `fixed_interval`; `0x20` no keepalive; `0x40` (server) the
///   request is accepted only at the next time step (deciding meanwhile).
/// * byte 1: handshake timeout, byte 2: keepalive interval, byte 3:
///   keepalive timeout, byte 4: close timeout, each in units of 10 ms;
///   0 means no timeout (for byte 2 and 3: 1 ms).
/// * Then the script, steps one after the other: `0xff n` time advances by
///   `n` ms; `0xfc n` by `100 n` ms; `0xfe n` time goes back `n` ms (the
///   connection must clamp it); `0xfd` we close (1000) if we may; any other
///   byte `h`: the next `h` bytes (or fewer at the end) arrive from the peer.
///
/// A client's entropy fills every buffer with the RFC 6455 §5.7 key
/// `37 fa 21 3d` repeated: its nonce and every mask key.
#[derive(Clone, Debug)]
pub(crate) struct TimerSetup {
    pub(crate) client: bool,
    pub(crate) handshake: bool,
    pub(crate) eof: bool,
    pub(crate) defer_accept: bool,
    pub(crate) config: Config,
}

/// The mask key (and nonce pattern) of a `timers` client.
pub(crate) const TIMERS_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn timers_entropy(dest: &mut [u8]) {
    for (i, b) in dest.iter_mut().enumerate() {
        *b = TIMERS_KEY[i % 4];
    }
}

/// One step of a `timers` script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TimerStep {
    /// `handle_timeout` at this time (ms from the origin).
    Time(u64),
    Bytes(Vec<u8>),
    Close,
}

pub(crate) fn timer_setup(data: &[u8]) -> (TimerSetup, Vec<TimerStep>) {
    use core::time::Duration;
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let flags = byte(0);
    let tens = |b: u8| (b != 0).then(|| Duration::from_millis(10 * u64::from(b)));
    let at_least_1ms = |b: u8| Duration::from_millis((10 * u64::from(b)).max(1));
    let keepalive = (flags & 0x20 == 0).then(|| {
        wstate::Keepalive::new(at_least_1ms(byte(2)), at_least_1ms(byte(3)))
            .with_any_data(flags & 0x08 != 0)
            .with_fixed_interval(flags & 0x10 != 0)
    });
    let config = Config::default()
        .with_handshake_timeout(tens(byte(1)))
        .with_keepalive(keepalive)
        .with_close_timeout(tens(byte(4)));
    let setup = TimerSetup {
        client: flags & 0x01 != 0,
        handshake: flags & 0x02 != 0,
        eof: flags & 0x04 != 0,
        defer_accept: flags & 0x40 != 0,
        config,
    };
    let mut rest = data.get(SETUP_LEN..).unwrap_or(&[]);
    let mut steps = Vec::new();
    let mut now: u64 = 0;
    while let Some((&h, tail)) = rest.split_first() {
        rest = tail;
        let arg = |rest: &mut &[u8]| {
            let n = rest.first().copied().unwrap_or(0);
            *rest = rest.get(1..).unwrap_or(&[]);
            u64::from(n)
        };
        match h {
            0xff => {
                now += arg(&mut rest);
                steps.push(TimerStep::Time(now));
            }
            0xfc => {
                now += 100 * arg(&mut rest);
                steps.push(TimerStep::Time(now));
            }
            0xfe => {
                // Only the caller's argument goes back; `now` is the script's
                // base for the next advance.
                let back = arg(&mut rest);
                steps.push(TimerStep::Time(now.saturating_sub(back)));
            }
            0xfd => steps.push(TimerStep::Close),
            n => {
                let (bytes, tail) = rest.split_at(usize::from(n).min(rest.len()));
                rest = tail;
                steps.push(TimerStep::Bytes(bytes.to_vec()));
            }
        }
    }
    (setup, steps)
}

/// What one step of a `timers` script produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TimerRec {
    pub(crate) out: Vec<u8>,
    pub(crate) events: Vec<Ev>,
    pub(crate) done: bool,
    pub(crate) timeout: Option<core::time::Duration>,
}

/// How a `timers` run feeds each `Bytes` step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimerFeed {
    Whole,
    ByteByByte,
    /// One byte per read, polled only once the whole step arrived.
    ByteByBytePollAtEnd,
}

impl TimerSetup {
    fn start(&self) -> Connection {
        match (self.client, self.handshake) {
            (false, false) => Connection::new_open(Role::Server, self.config.clone()),
            (true, false) => {
                Connection::new_open(Role::client(timers_entropy), self.config.clone())
            }
            (false, true) => Connection::server(self.config.clone()),
            (true, true) => Connection::client(
                &ClientRequest::new("h", "/"),
                timers_entropy,
                self.config.clone(),
                &mut Vec::new(),
            )
            .expect("a valid request"),
        }
    }

    /// A frame as we send it.
    fn ours(&self, b0: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![b0];
        let mask = if self.client { 0x80 } else { 0 };
        assert!(payload.len() < 126);
        f.push(mask | payload.len() as u8);
        if self.client {
            f.extend(TIMERS_KEY);
            f.extend(
                payload
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ TIMERS_KEY[i % 4]),
            );
        } else {
            f.extend_from_slice(payload);
        }
        f
    }
}

/// Runs a script; checks, at every time step, that nothing happens before
/// the deadline `poll_timeout()` gave, that something does at or after it,
/// and that what a timer writes and reports is exact.
fn timers_run(setup: &TimerSetup, steps: &[TimerStep], feed: TimerFeed) -> Vec<TimerRec> {
    use core::time::Duration;
    let mut conn = setup.start();
    let mut t = Transcript::default();
    let mut recs = Vec::new();
    let mut clock: Option<Duration> = None;
    let mut pending_activity = false;
    let mut request_pending = false;
    let mut request_bytes = false;
    let mut ping_seq: u32 = 0;
    let mut steps: Vec<TimerStep> = steps.to_vec();
    // The end of the script: end of stream if asked, then time far ahead.
    let script_len = steps.len();
    let last = steps
        .iter()
        .filter_map(|s| match s {
            TimerStep::Time(t) => Some(*t),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    for i in 1..=6u64 {
        steps.push(TimerStep::Time(last + i * 1_000_000_000));
    }
    // Accepts a request that came, unless it must wait for a time step.
    let answer = |conn: &mut Connection, t: &mut Transcript, pending: &mut bool| {
        if std::mem::take(pending) {
            // Refused (nothing written) if the client already left or ran
            // ahead; the next poll reports it.
            let before = t.out.len();
            if conn.sender().accept(&Accept::new(), &mut t.out).is_err() {
                assert_eq!(t.out.len(), before, "a refused accept wrote");
            }
            drain(conn, t);
        }
    };
    let saw_request =
        |t: &Transcript, from: usize| t.events[from..].iter().any(|e| matches!(e, Ev::Request(_)));
    for (i, step) in steps.iter().enumerate() {
        if i == script_len && setup.eof {
            conn.receive_eof();
            drain(&mut conn, &mut t);
        }
        let (out_at, ev_at) = (t.out.len(), t.events.len());
        match step {
            TimerStep::Bytes(bytes) => {
                if !bytes.is_empty() {
                    pending_activity = true;
                    request_bytes |= setup.handshake && !setup.client;
                }
                let pieces: Vec<&[u8]> = match feed {
                    TimerFeed::Whole => vec![bytes],
                    _ => bytes.chunks(1).collect(),
                };
                for piece in pieces {
                    conn.receive(piece);
                    if feed != TimerFeed::ByteByBytePollAtEnd {
                        let from = t.events.len();
                        drain(&mut conn, &mut t);
                        request_pending |= saw_request(&t, from);
                        if !setup.defer_accept {
                            answer(&mut conn, &mut t, &mut request_pending);
                        }
                    }
                }
                if feed == TimerFeed::ByteByBytePollAtEnd || bytes.is_empty() {
                    let from = t.events.len();
                    drain(&mut conn, &mut t);
                    request_pending |= saw_request(&t, from);
                    if !setup.defer_accept {
                        answer(&mut conn, &mut t, &mut request_pending);
                    }
                }
            }
            TimerStep::Close => {
                let before = t.out.len();
                if conn
                    .sender()
                    .close(CloseCode::NORMAL, "", &mut t.out)
                    .is_ok()
                {
                    assert_eq!(t.out[before..], setup.ours(0x88, &[0x03, 0xe8]));
                } else {
                    assert_eq!(t.out.len(), before, "a refused close wrote");
                }
                drain(&mut conn, &mut t);
            }
            TimerStep::Time(ms) => {
                let now = Duration::from_millis(*ms);
                let effective = clock.map_or(now, |c| c.max(now));
                clock = Some(effective);
                let deadline = conn.poll_timeout();
                let was_done = t.done;
                conn.handle_timeout(now, &mut t.out);
                let written = t.out[out_at..].to_vec();
                drain(&mut conn, &mut t);
                let events = t.events[ev_at..].to_vec();
                let after = conn.poll_timeout();
                let due = deadline.is_some_and(|d| effective >= d);
                // Nothing happens before the deadline poll_timeout() gave,
                // even with bytes pending (tests/timers.rs,
                // bug_poll_timeout_after_receive_is_too_late...).
                if !due {
                    assert!(written.is_empty(), "wrote {written:x?} before {deadline:?}");
                    assert!(events.is_empty(), "{events:?} before {deadline:?}");
                    assert_eq!(t.done, was_done, "Done before {deadline:?}");
                }
                if due && !pending_activity {
                    assert!(
                        !written.is_empty()
                            || !events.is_empty()
                            || t.done != was_done
                            || after != deadline,
                        "nothing happened at {effective:?}, deadline {deadline:?}"
                    );
                }
                // What a timer writes: a keepalive Ping with the next
                // sequence number, a Close 1011 "keepalive timeout", a 408
                // (server, for a begun request), or nothing.
                if !written.is_empty() {
                    let mut ping = b"wska".to_vec();
                    ping.extend((ping_seq + 1).to_be_bytes());
                    if written == setup.ours(0x89, &ping) {
                        ping_seq += 1;
                        assert!(events.is_empty(), "{events:?} with a Ping");
                    } else if written.starts_with(b"HTTP/1.1 408 ") {
                        assert!(request_bytes && !setup.client);
                        assert!(written.ends_with(b"\r\n\r\nthe opening handshake timed out\n"));
                        assert_eq!(
                            events,
                            [Ev::Error(Error::Handshake(HandshakeError::Timeout))]
                        );
                    } else {
                        let mut close = 1011u16.to_be_bytes().to_vec();
                        close.extend_from_slice(b"keepalive timeout");
                        assert_eq!(written, setup.ours(0x88, &close), "timer wrote this");
                        assert_eq!(events, [Ev::Error(Error::KeepaliveTimeout)]);
                    }
                }
                // A timeout's report ends the connection at once.
                match events.last() {
                    Some(Ev::Error(Error::Handshake(HandshakeError::Timeout))) => {
                        assert!(written.is_empty() || written.starts_with(b"HTTP/1.1 408 "));
                        assert!(t.done);
                    }
                    Some(Ev::Error(Error::KeepaliveTimeout)) => assert!(t.done),
                    Some(Ev::Close((1006, _))) => {
                        assert_eq!(events.len(), 1, "{events:?}");
                        assert!(t.done, "Done after the close timeout");
                        assert_eq!(conn.state(), ConnectionState::Closed);
                    }
                    Some(other) => panic!("a time step reported {other:?}"),
                    None => {}
                }
                if t.done {
                    assert_eq!(after, None, "a deadline after Done");
                }
                pending_activity = false;
                answer(&mut conn, &mut t, &mut request_pending);
            }
        }
        recs.push(TimerRec {
            out: t.out[out_at..].to_vec(),
            events: t.events[ev_at..].to_vec(),
            done: t.done,
            timeout: conn.poll_timeout(),
        });
    }
    // Far in the future with every timer on, every connection has ended.
    let c = &setup.config;
    if c.handshake_timeout().is_some() && c.keepalive().is_some() && c.close_timeout().is_some() {
        assert!(
            t.done,
            "not Done long after every deadline: {:?}",
            conn.state()
        );
    }
    recs
}

/// Time steps interleaved with the peer's bytes (see [`timer_setup`]):
///
/// * the same events, bytes, `Done` and `poll_timeout()` after every step
///   whether each chunk of bytes arrives whole or one byte at a time
///   (polled after each byte, or only at the end of the chunk);
/// * nothing happens at a time before the deadline `poll_timeout()` gave,
///   and something does at or after it;
/// * a timer writes exactly a keepalive Ping (the next sequence number),
///   the Close 1011 "keepalive timeout", a `408`, or nothing;
/// * a timeout's report (`Handshake(Timeout)`, `KeepaliveTimeout`, the
///   close timeout's 1006) is followed by `Done`; with every timer on, the
///   connection is `Done` once time runs far ahead;
/// * no panic.
pub(crate) fn timers(data: &[u8]) {
    let (setup, steps) = timer_setup(data);
    let whole = timers_run(&setup, &steps, TimerFeed::Whole);
    let by_byte = timers_run(&setup, &steps, TimerFeed::ByteByByte);
    assert_eq!(by_byte, whole, "byte by byte differs from whole");
    let at_end = timers_run(&setup, &steps, TimerFeed::ByteByBytePollAtEnd);
    assert_eq!(at_end, whole, "byte by byte, polled at the end, differs");
}
