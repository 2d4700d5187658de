//! Bugs found while fuzzing, each as the smallest input that shows it, run
//! through the same property check as its fuzz target. A new bug's input
//! goes in `fuzz/regressions/<target>/` (outside the corpus replay, which
//! must stay green); once the bug is fixed it moves to `fuzz/corpus/<target>/`.

#[path = "fuzz_props/mod.rs"]
mod props;

/// The memory bound runs here too (see `tests/fuzz_corpus.rs`).
mod memory {
    /// As in tests/fuzz_corpus.rs: `allocation-counter`'s counting global
    /// allocator, per thread.
    pub(crate) fn peak(f: impl FnOnce()) -> Option<usize> {
        let info = allocation_counter::measure(f);
        Some(usize::try_from(info.bytes_max).expect("fits"))
    }
}

use wstate::{Config, Connection, Error, Event, Polled};

const TWO_HOSTS: &[u8] = b"GET /chat HTTP/1.1\r\n\
    Host: a.example\r\n\
    Host: b.example\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status
/// code to any HTTP/1.1 request message that lacks a Host header field and
/// to any that contains more than one Host header field line". The server
/// accepted a request with two Host lines (`validate_request` only checked
/// that one was present).
#[test]
fn server_refuses_two_host_lines() {
    let mut conn = Connection::server(Config::default());
    let mut out = Vec::new();
    conn.receive(TWO_HOSTS);
    match conn.poll_event(&mut out) {
        Polled::Failed(Error::Handshake(e)) => assert_eq!(e.status(), Some(400), "{e:?}"),
        other => panic!("accepted a request with two Host lines: {other:?}"),
    }
    assert!(out.starts_with(b"HTTP/1.1 400 "));
}

/// The same input through the `handshake_server` property check.
#[test]
fn two_host_lines_through_the_fuzz_property() {
    let data = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fuzz/corpus/handshake_server/malformed-two-host-lines"
    ))
    .unwrap();
    props::handshake_server(&data);
}

/// A request that awaits an answer, followed by 147 bytes of frames, with
/// `max_handshake_size` 144 (the head is 140 bytes).
const UNANSWERED: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fuzz/regressions/handshake_server/unanswered-request-early-data-in-the-same-read"
));

/// "Bytes received while a request awaits accept are bounded by
/// `max_handshake_size` beyond the head". The bound was first checked only
/// by `receive` once the request was delivered, so bytes that came in the
/// same read as the head were held without limit, while the same bytes in a
/// later read gave a 400: the outcome depended on the split (found by
/// `handshake_server`, which answers with an invalid status so that the
/// request stays unanswered). Now the next poll after the `Request` refuses
/// it with `EarlyDataTooLarge` in both cases (an answer given before that
/// poll succeeds in both: see below).
#[test]
fn early_data_bound_does_not_depend_on_the_split() {
    let data = &UNANSWERED[5..];
    let config = Config::default()
        .with_max_handshake_size(144)
        .with_max_headers(16);
    let head_len = 140;
    let run = |pieces: &[&[u8]]| {
        let mut conn = Connection::server(config.clone());
        let mut out = Vec::new();
        let mut results = Vec::new();
        for piece in pieces {
            conn.receive(piece);
            loop {
                match conn.poll_event(&mut out) {
                    Polled::Event(event, _) => results.push(format!("{event:?}")),
                    Polled::NeedMore => break,
                    Polled::Done => break,
                    Polled::Failed(e) => results.push(format!("{e:?}")),
                }
            }
        }
        (results.len(), results.last().cloned(), out)
    };
    let whole = run(&[data]);
    let split = run(&[&data[..head_len], &data[head_len..]]);
    assert_eq!(split.1.as_deref(), Some("Handshake(EarlyDataTooLarge)"));
    assert!(split.2.starts_with(b"HTTP/1.1 400 "));
    assert_eq!(whole, split, "the outcome depends on the split");
}

/// The same input through the `handshake_server` property check.
#[test]
fn early_data_bound_through_the_fuzz_property() {
    props::handshake_server(UNANSWERED);
}

/// The same request and frame as [`UNANSWERED`], answered with a valid
/// rejection (492).
const REJECTED: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fuzz/regressions/handshake_server/split-reject-vs-400"
));

/// "Bytes fed at once ... or split anywhere give identical events and
/// output": a caller that answers at the `Request` event must get the same
/// outcome whether the early frame came in the read of the head or after
/// the answer. Fed whole, the request was marked refused as it was
/// reported, so the caller's `reject(492)` failed with `Closed` and the
/// next poll sent the early-data 400; split after the head, the rejection
/// went out. Now the bytes that came with the head are judged at the first
/// poll after the `Request`, so an answer given before it wins either way
/// (found by `handshake_server`).
#[test]
fn an_answer_at_the_request_event_does_not_depend_on_the_split() {
    let data = &REJECTED[5..];
    let config = Config::default()
        .with_max_handshake_size(144)
        .with_max_headers(16);
    let head_len = 140;
    let run = |pieces: &[&[u8]], answer: bool| {
        let mut conn = Connection::server(config.clone());
        let mut out = Vec::new();
        let mut results = Vec::new();
        for piece in pieces {
            conn.receive(piece);
            loop {
                match conn.poll_event(&mut out) {
                    Polled::Event(event, tx) => {
                        results.push(format!("{event:?}"));
                        if answer {
                            results.push(format!("{:?}", tx.reject(492, &[], b"", &mut out)));
                        }
                    }
                    Polled::NeedMore | Polled::Done => break,
                    Polled::Failed(e) => results.push(format!("{e:?}")),
                }
            }
        }
        (results[1..].to_vec(), String::from_utf8(out).unwrap())
    };
    let rejected = "HTTP/1.1 492 Status\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    let whole = run(&[data], true);
    assert_eq!(whole, (vec!["Ok(())".to_string()], rejected.to_string()));
    assert_eq!(run(&[&data[..head_len], &data[head_len..]], true), whole);
    let bytes: Vec<&[u8]> = data.chunks(1).collect();
    assert_eq!(run(&bytes, true), whole);
    // Unanswered, the request is refused with the same 400 either way.
    let refused = run(&[data], false);
    assert_eq!(refused.0, ["Handshake(EarlyDataTooLarge)"]);
    assert!(refused.1.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    assert_eq!(run(&[&data[..head_len], &data[head_len..]], false), refused);
    assert_eq!(run(&bytes, false), refused);
}

/// An empty read brings no new bytes: between the `Request` and its answer
/// it judges nothing (the bytes that came with the head wait for the next
/// poll), so the answer still goes out; the same for a read given no room.
#[test]
fn an_empty_read_before_the_answer_judges_nothing() {
    let config = Config::default()
        .with_max_handshake_size(144)
        .with_max_headers(16);
    let mut conn = Connection::server(config);
    let mut out = Vec::new();
    conn.receive(&REJECTED[5..]);
    assert!(matches!(
        conn.poll_event(&mut out),
        Polled::Event(Event::Request(_), _)
    ));
    conn.receive(&[]);
    assert_eq!(conn.receive_with(0, |room| Ok::<_, ()>(room.len())), Ok(0));
    assert_eq!(conn.sender().reject(492, &[], b"", &mut out), Ok(()));
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 492 Status\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
}

/// The same input through the `handshake_server` property check.
#[test]
fn answer_at_the_request_event_through_the_fuzz_property() {
    props::handshake_server(REJECTED);
}

/// A request whose `Content-Length` is `,, 0`: a list whose empty elements
/// are ignored (RFC 9110 §5.6.1.2, RFC 9112 §6.3), so 0, no content, and
/// the request is delivered. The property's check of a delivered request
/// counted the empty elements as lengths other than 0; its own model of the
/// answer ignored them.
const LENGTH_WITH_EMPTY_ELEMENTS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fuzz/regressions/handshake_server/content-length-with-empty-elements"
));

#[test]
fn content_length_with_empty_elements_is_zero() {
    let request = b"GET / HTTP/1.1\r\nHost: s\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\nContent-Length: LEN\r\n\r\n";
    let answer = |len: &str| {
        let request = String::from_utf8_lossy(request).replace("LEN", len);
        let mut conn = Connection::server(Config::default());
        let mut out = Vec::new();
        conn.receive(request.as_bytes());
        match conn.poll_event(&mut out) {
            Polled::Event(wstate::Event::Request(_), _) => None,
            Polled::Failed(Error::Handshake(e)) => e.status(),
            other => panic!("{len:?}: {other:?}"),
        }
    };
    for zero in ["0", ",, 0", "0, ,0", " , 0 ,"] {
        assert_eq!(answer(zero), None, "{zero:?}");
    }
    for content in ["1", ",, 1", "0, 1", ",", ""] {
        assert_eq!(answer(content), Some(400), "{content:?}");
    }
}

#[test]
fn content_length_with_empty_elements_through_the_fuzz_property() {
    props::handshake_server(LENGTH_WITH_EMPTY_ELEMENTS);
}

/// A `100 Continue`, then a `403` whose `Content-Length: 1` line is
/// followed by an obs-fold line (` Forbidden`) and a second
/// `Content-Length: 1`, then 2 bytes of body.
const FOLDED_LENGTH: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fuzz/regressions/handshake_client/refusal-not-reported"
));

/// RFC 9112 §5.2: a user agent MUST "replace each received obs-fold with
/// one or more SP octets prior to interpreting the field value", so the
/// first `Content-Length` is `1 Forbidden`; and RFC 9112 §6.3: "If a
/// message is received without Transfer-Encoding and with an invalid
/// Content-Length header field, then the message framing is invalid ...
/// If it is in a response message received by a user agent, the user
/// agent MUST close the connection to the server and discard the received
/// response". The client took the first line's value, failed to parse it
/// and waited for the server to close the connection, forever (the oracle
/// skipped the fold and expected a 1-byte body: wrong too). Now the
/// refusal's framing is checked as the RFC says, and an invalid one fails
/// the handshake at once with `Malformed`, whole, split or byte by byte
/// (found by `handshake_client`).
#[test]
fn refusal_with_invalid_content_length_is_reported() {
    use wstate::{ClientRequest, HandshakeError};
    let stream = &FOLDED_LENGTH[5..];
    let run = |pieces: &[&[u8]]| {
        let request = ClientRequest::new("example.com", "/chat");
        let mut out = Vec::new();
        let mut conn =
            Connection::client(&request, |b| b.fill(1), Config::default(), &mut out).unwrap();
        out.clear();
        let mut results = Vec::new();
        for piece in pieces {
            conn.receive(piece);
            loop {
                match conn.poll_event(&mut out) {
                    Polled::Event(event, _) => results.push(format!("{event:?}")),
                    Polled::NeedMore | Polled::Done => break,
                    Polled::Failed(e) => results.push(format!("{e:?}")),
                }
            }
        }
        assert!(out.is_empty());
        assert!(matches!(conn.poll_event(&mut vec![]), Polled::Done));
        results
    };
    let error = Error::Handshake(HandshakeError::Malformed(
        "invalid Content-Length in a refusal",
    ));
    let whole = run(&[stream]);
    assert_eq!(whole, [format!("{error:?}")]);
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(run(&bytes), whole);
    // Without the body: reported as soon as the head is whole.
    assert_eq!(run(&[&stream[..stream.len() - 2]]), whole);
}

/// The same input through the `handshake_client` property check.
#[test]
fn refusal_with_invalid_content_length_through_the_fuzz_property() {
    props::handshake_client(FOLDED_LENGTH);
}

/// A server with permessage-deflate (offer `permessage-deflate`), then two
/// masked frames of one compressed binary message: the first (RSV1, no FIN)
/// inflates to exactly 1024 zeros, the second to `!`. Found by
/// `deflate_receive` (65535 zeros sent by a wstate server in 4 fragments,
/// also 49152 in 4, 65535 in 16, whatever max_message_size).
#[cfg(feature = "deflate")]
const EXACT_CHUNK: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fuzz/corpus/deflate_receive/server-fragment-inflating-to-exactly-1024-bytes"
));

/// RFC 7692 §7.2.2: the frames' payloads are one DEFLATE stream, which is
/// valid here (zlib inflates it to 1025 bytes). The message must arrive;
/// the connection failed with 1007 (`InvalidCompressedData`) instead: in
/// `Inflater::inflate_part`, a non-final fragment whose output filled the
/// last output chunk exactly (1024 bytes here) left `pending` set, and the
/// next `decompress`, with no input and no output possible, made no
/// progress and was taken for corrupt data. Fed byte by byte, the message
/// arrived: the outcome depended on the split.
#[cfg(feature = "deflate")]
#[test]
fn compressed_fragment_inflating_to_an_exact_chunk() {
    use wstate::DeflateConfig;
    use wstate::{Accept, Event};
    let request = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
    let mut s = Connection::server(Config::default().with_deflate(Some(DeflateConfig::default())));
    let mut out = Vec::new();
    s.receive(request);
    match s.poll_event(&mut out) {
        Polled::Event(Event::Request(_), tx) => tx.accept(&Accept::new(), &mut out).unwrap(),
        other => panic!("{other:?}"),
    }
    assert!(s.deflate().is_some());
    s.receive(&EXACT_CHUNK[2..]);
    let mut want = vec![0; 1024];
    want.push(b'!');
    match s.poll_event(&mut out) {
        Polled::Event(Event::Binary(b), _) => assert_eq!(b, &want[..]),
        other => panic!("{other:?}"),
    }
}

/// The same input through the `deflate_receive` property check.
#[cfg(feature = "deflate")]
#[test]
fn exact_chunk_through_the_fuzz_property() {
    props::deflate::deflate_receive(EXACT_CHUNK);
}

/// A server with permessage-deflate, then one masked compressed Text frame
/// whose DEFLATE data is a stored block holding the byte 0xff (invalid
/// UTF-8), then a block of the reserved type 3 (corrupt). Found by
/// `deflate_receive`.
#[cfg(feature = "deflate")]
const UTF8_THEN_CORRUPT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fuzz/regressions/deflate_receive/text-stored-0xff-then-reserved-block-type"
));

/// Split invariance ("whole, split or byte by byte: identical events,
/// output and state"): both answers are 1007, but the error and the Close
/// reason depend on how the frame arrived. Byte by byte, the stored byte is
/// inflated and UTF-8 checked before the bad block arrives: `InvalidUtf8`,
/// "invalid UTF-8". Whole, the inflater reports the bad block first and the
/// bytes it inflated before it are never checked: `InvalidCompressedData`,
/// "invalid compressed data". Fixed: what was inflated before a failure is
/// UTF-8 checked first, so both ways give `InvalidUtf8`.
#[cfg(feature = "deflate")]
#[test]
fn utf8_then_corrupt_through_the_fuzz_property() {
    props::deflate::deflate_receive(UTF8_THEN_CORRUPT);
}

/// The same, on a connection: the error must not depend on the split.
#[cfg(feature = "deflate")]
#[test]
fn utf8_then_corrupt_same_error_whole_and_byte_by_byte() {
    use wstate::DeflateConfig;
    use wstate::{Accept, Event};
    let request = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
    let run = |pieces: &[&[u8]]| {
        let mut s =
            Connection::server(Config::default().with_deflate(Some(DeflateConfig::default())));
        let mut out = Vec::new();
        s.receive(request);
        match s.poll_event(&mut out) {
            Polled::Event(Event::Request(_), tx) => tx.accept(&Accept::new(), &mut out).unwrap(),
            other => panic!("{other:?}"),
        }
        out.clear();
        for piece in pieces {
            s.receive(piece);
            // Only NeedMore or the error can come: no message is whole.
            match s.poll_event(&mut out) {
                Polled::NeedMore => {}
                Polled::Failed(e) => return (Some(e), out),
                other => panic!("{other:?}"),
            }
        }
        (None, out)
    };
    let frame = &UTF8_THEN_CORRUPT[2..];
    let whole = run(&[frame]);
    let bytes: Vec<&[u8]> = frame.chunks(1).collect();
    assert_eq!(run(&bytes), whole);
}

/// A client with permessage-deflate and max_message_size 1000, then the
/// server's frame `c2 0b` (FIN, RSV1, Binary, 11 bytes): a fixed-Huffman
/// block of 1,001 zeros whose last byte starts a symbol with an invalid
/// distance code; then bytes that are never read. Found by
/// `deflate_receive`: 1007 fed whole, 1009 split into 1, 5, 6 and 55 bytes.
#[cfg(feature = "deflate")]
const ZEROS_THEN_BAD_DISTANCE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fuzz/regressions/deflate_receive/client-1001-zeros-then-bad-distance"
));

/// Split invariance again, 1009 against 1007. zlib, its output full,
/// decodes on the symbols that need no room (a length and a distance) and
/// finds the bad distance in the same call: fed whole, the 1,001st zero
/// and the corrupt data came in one call and the inflater reported the
/// corruption (`InvalidCompressedData`); split before the last byte, the
/// output reached the limit + 1 before the bad byte arrived
/// (`MessageTooLarge`). Now an error found after the output filled the
/// room is reported by the next call, so the limit is checked first,
/// whatever the split, in whole messages and in parts: 1009.
#[cfg(feature = "deflate")]
#[test]
fn corrupt_data_past_the_limit_through_the_fuzz_property() {
    props::deflate::deflate_receive(ZEROS_THEN_BAD_DISTANCE);
}

/// The same on a connection, at the split the fuzzer found and byte by
/// byte: the exact error and Close.
#[cfg(feature = "deflate")]
#[test]
fn corrupt_data_past_the_limit_same_error_however_split() {
    use wstate::DeflateConfig;
    use wstate::{Accept, ClientRequest, CloseCode, Event, ProtocolError};
    let fill = |b: &mut [u8]| b.fill(7);
    let connect = |config: Config| {
        let mut request = Vec::new();
        let mut c =
            Connection::client(&ClientRequest::new("h", "/"), fill, config, &mut request).unwrap();
        let mut s =
            Connection::server(Config::default().with_deflate(Some(DeflateConfig::default())));
        s.receive(&request);
        let mut response = Vec::new();
        match s.poll_event(&mut response) {
            Polled::Event(Event::Request(_), tx) => {
                tx.accept(&Accept::new(), &mut response).unwrap()
            }
            other => panic!("{other:?}"),
        }
        c.receive(&response);
        match c.poll_event(&mut Vec::new()) {
            Polled::Event(Event::Accepted(_), _) => {}
            other => panic!("{other:?}"),
        }
        c
    };
    let config = Config::default()
        .with_max_message_size(1000)
        .with_max_frame_size(2000)
        .with_deflate(Some(DeflateConfig::default()));
    // The stream after the input's split points; its first frame decides.
    let stream = &ZEROS_THEN_BAD_DISTANCE[8..];
    let run = |pieces: &[&[u8]]| {
        let mut c = connect(config.clone());
        let mut out = Vec::new();
        for piece in pieces {
            c.receive(piece);
            match c.poll_event(&mut out) {
                Polled::NeedMore => {}
                Polled::Failed(e) => return (e, out),
                other => panic!("{other:?}"),
            }
        }
        panic!("no error");
    };
    let (e, out) = run(&[stream]);
    assert_eq!(e, Error::Protocol(ProtocolError::MessageTooLarge));
    let mut close = Vec::new();
    connect(config.clone())
        .sender()
        .close(CloseCode(1009), "message too large", &mut close)
        .unwrap();
    assert_eq!(out, close);
    let (a, rest) = stream.split_at(1);
    let (b, rest) = rest.split_at(5);
    let (c, d) = rest.split_at(6);
    assert_eq!(run(&[a, b, c, d]), (e.clone(), close.clone()));
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(run(&bytes), (e, close));
}

/// A server with permessage-deflate, then a masked frame (RSV1, Binary, no
/// FIN) whose 15 bytes inflate to 524 bytes and end in a distance further
/// back than anything inflated, then a frame with the reserved opcode 0xF.
/// Found by `deflate_receive` receiving in parts of 4 bytes.
#[cfg(feature = "deflate")]
const HELD_CORRUPT_DATA: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fuzz/regressions/deflate_receive/server-parts-distance-too-far-back-then-reserved-opcode"
));

/// Parts mode against whole messages: whole, 1007 (`InvalidCompressedData`);
/// in parts of 4, 1002 (`ReservedOpCode`). The inflater's last call for the
/// first frame, with no input left, decoded the bits zlib still held and
/// failed there without using input or writing output, which passed for a
/// call with nothing more to give: the frame counted as used up and the
/// next header came first. Now a failure is a failure, so both give 1007.
#[cfg(feature = "deflate")]
#[test]
fn held_corrupt_data_through_the_fuzz_property() {
    props::deflate::deflate_receive(HELD_CORRUPT_DATA);
}

/// Every input under `fuzz/regressions/<target>/` passes its target's
/// property check.
#[test]
fn every_regression_input_passes_its_property() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let Some(&(_, check)) = props::TARGETS.iter().find(|(t, _)| *t == name) else {
            // Built without `deflate`, its targets are left out.
            assert!(
                props::DEFLATE_TARGETS.contains(&&*name) && !cfg!(feature = "deflate"),
                "fuzz/regressions/{name}: no such target"
            );
            continue;
        };
        for file in std::fs::read_dir(&dir).unwrap() {
            files.push((file.unwrap().path(), check));
        }
    }
    files.sort();
    assert!(!files.is_empty());
    for (file, check) in files {
        let data = std::fs::read(&file).unwrap();
        let result = std::panic::catch_unwind(|| check(&data));
        assert!(result.is_ok(), "property failed on {}", file.display());
    }
}
