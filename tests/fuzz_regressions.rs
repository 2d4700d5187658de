//! Bugs found while fuzzing, each as the smallest input that shows it, run
//! through the same property check as its fuzz target. A new bug's input
//! goes in `fuzz/regressions/<target>/` (outside the corpus replay, which
//! must stay green); once the bug is fixed it moves to `fuzz/corpus/<target>/`.

#[path = "fuzz_props/mod.rs"]
mod props;

/// The stable replay cannot count allocations (see `tests/fuzz_corpus.rs`).
mod memory {
    pub(crate) fn start() {}

    pub(crate) fn peak_since_start() -> Option<usize> {
        None
    }
}

use wstate::{Config, Connection, Error, Polled};

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
/// accepts a request with two Host lines (`validate_request` only checks
/// that one is present). Fixed in d2a89db.
#[test]
fn server_refuses_two_host_lines() {
    let mut conn = Connection::server(Config::default());
    let mut out = Vec::new();
    conn.receive(TWO_HOSTS);
    match conn.poll_event(&mut out) {
        Err(Error::Handshake(e)) => assert_eq!(e.status(), Some(400), "{e:?}"),
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
/// it with `EarlyDataTooLarge` in both cases.
#[test]
fn early_data_bound_does_not_depend_on_the_split() {
    let data = &UNANSWERED[5..];
    let config = Config::default().max_handshake_size(144).max_headers(16);
    let head_len = 140;
    let run = |pieces: &[&[u8]]| {
        let mut conn = Connection::server(config.clone());
        let mut out = Vec::new();
        let mut results = Vec::new();
        for piece in pieces {
            conn.receive(piece);
            loop {
                match conn.poll_event(&mut out) {
                    Ok(Polled::Event(event, _)) => results.push(format!("{event:?}")),
                    Ok(Polled::NeedMore) => break,
                    Ok(Polled::Done) => break,
                    Err(e) => results.push(format!("{e:?}")),
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
