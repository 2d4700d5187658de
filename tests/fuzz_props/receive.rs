//! Target `receive`: arbitrary bytes from the peer into an open connection,
//! checked against a reference reader written here from RFC 6455.

use super::common::*;
use wstate::wire::frame::OpCode;
use wstate::{Config, ConnectionState, Error};

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
pub(crate) fn ev_len(event: &Ev) -> usize {
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
