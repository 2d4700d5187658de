//! Shared helpers: building frames, driving connections, comparing transcripts.
#![allow(dead_code)] // each test binary uses a different subset

use wstate::{Config, Connection, Error, Event, HandshakeError, Polled, Role};

/// The mask key every test client uses (RFC 6455 §5.7's example key).
pub(crate) const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

pub(crate) fn server() -> Connection {
    Connection::new_open(Role::Server, Config::default())
}

pub(crate) fn server_with(config: Config) -> Connection {
    Connection::new_open(Role::Server, config)
}

pub(crate) fn client() -> Connection {
    client_with(Config::default())
}

pub(crate) fn client_with(config: Config) -> Connection {
    Connection::new_open(Role::client(|b: &mut [u8]| fill_key(b)), config)
}

/// Fills with the repeating test key: deterministic "entropy".
pub(crate) fn fill_key(buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = KEY[i % 4];
    }
}

/// The frames one after the other.
pub(crate) fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// One frame with the given first byte, payload and optional mask key.
pub(crate) fn frame(b0: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![b0];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= 0xFFFF {
        out.push(mask_bit | 126);
        out.extend((len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend((len as u64).to_be_bytes());
    }
    match mask {
        Some(key) => {
            out.extend(key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A frame as a client sends it (masked with KEY).
pub(crate) fn c2s(b0: u8, payload: &[u8]) -> Vec<u8> {
    frame(b0, payload, Some(KEY))
}

/// A frame as a server sends it (unmasked).
pub(crate) fn s2c(b0: u8, payload: &[u8]) -> Vec<u8> {
    frame(b0, payload, None)
}

/// A Close payload.
pub(crate) fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

/// An event with its data copied out, so transcripts can be compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Owned {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// Close event: code (1005 when the peer sent none) and reason.
    Close(u16, String),
    /// `poll_event` answered `Failed` with this error.
    Error(Error),
    Other(String),
}

pub(crate) fn own(event: Event<'_>) -> Owned {
    match event {
        Event::Text(t) => Owned::Text(t.to_string()),
        Event::Binary(b) => Owned::Binary(b.to_vec()),
        Event::Ping(b) => Owned::Ping(b.to_vec()),
        Event::Pong(b) => Owned::Pong(b.to_vec()),
        Event::Close(f) => Owned::Close(f.code.0, f.reason().to_string()),
        other => Owned::Other(format!("{other:?}")),
    }
}

/// Everything a connection produced for some input.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct Transcript {
    pub(crate) events: Vec<Owned>,
    pub(crate) out: Vec<u8>,
}

/// What one poll gave, owned: `Some(event)`, `None` for `NeedMore`, or the
/// error. Panics on `Done` (use [`is_done`] where the end is expected).
pub(crate) fn poll(conn: &mut Connection, out: &mut Vec<u8>) -> Result<Option<Owned>, Error> {
    match conn.poll_event(out) {
        Polled::Event(event, _) => Ok(Some(own(event))),
        Polled::Failed(e) => Err(e),
        Polled::NeedMore => Ok(None),
        Polled::Done => panic!("unexpected Done"),
    }
}

/// Whether the next poll says `Done` (and writes nothing).
pub(crate) fn is_done(conn: &mut Connection) -> bool {
    let mut out = Vec::new();
    let done = matches!(conn.poll_event(&mut out), Polled::Done);
    assert!(out.is_empty(), "a finished connection wrote {out:?}");
    done
}

/// Polls until `NeedMore` or `Done`; records events (and an error, after
/// which the connection must stay silent and say `Done`).
pub(crate) fn drain(conn: &mut Connection, t: &mut Transcript) {
    for _ in 0..1_000_000 {
        match conn.poll_event(&mut t.out) {
            Polled::Event(event, _) => t.events.push(own(event)),
            Polled::NeedMore => return,
            Polled::Done => {
                // Done is final: it stays Done and writes nothing.
                assert!(is_done(conn));
                return;
            }
            Polled::Failed(e) => {
                t.events.push(Owned::Error(e));
                // After a failure every call says Done and sends nothing.
                assert!(is_done(conn));
                return;
            }
        }
    }
    panic!("poll_event never returned NeedMore or Done");
}

/// Feeds `chunks` one by one, draining events after each, then EOF if asked.
pub(crate) fn feed_chunks(
    mut conn: Connection,
    chunks: &[&[u8]],
    eof: bool,
) -> (Connection, Transcript) {
    let mut t = Transcript::default();
    for chunk in chunks {
        conn.receive(chunk);
        drain(&mut conn, &mut t);
    }
    if eof {
        conn.receive_eof();
        drain(&mut conn, &mut t);
    }
    (conn, t)
}

/// Feeds `input` whole, byte by byte and split in two at every point, and
/// checks that all give the same transcript; returns it.
pub(crate) fn invariant(make: impl Fn() -> Connection, input: &[u8], eof: bool) -> Transcript {
    let (_, whole) = feed_chunks(make(), &[input], eof);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let (_, by_byte) = feed_chunks(make(), &bytes, eof);
    assert_eq!(by_byte, whole, "byte-by-byte differs from whole");
    // Every split point; for long inputs every point near both ends and a
    // stride through the middle, to keep the test quick.
    let n = input.len();
    let splits = (0..=n).filter(|&i| n <= 4096 || i < 2048 || i > n - 2048 || i % 61 == 0);
    for split in splits {
        let (a, b) = input.split_at(split);
        let (_, t) = feed_chunks(make(), &[a, b], eof);
        assert_eq!(t, whole, "split at {split} differs from whole");
    }
    whole
}

/// The bytes of an unmasked Close frame (what a server sends).
pub(crate) fn server_close(code: u16, reason: &str) -> Vec<u8> {
    s2c(0x88, &close_payload(code, reason))
}

// ---------------------------------------------------------------------------
// The opening handshake
// ---------------------------------------------------------------------------

/// A valid upgrade request for `/` at host `h` (RFC 6455 §1.3's key).
pub(crate) const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

/// The server's `101` for [`REQUEST`] and [`request_with`].
pub(crate) const ACCEPT_101: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// The header fields of [`REQUEST`], and of [`request_with`] before its
/// extra ones.
pub(crate) const REQUEST_FIELDS: usize = 5;

/// A valid upgrade request for `/chat` at `example.com` (RFC 6455 §1.3's
/// key) with these extra header lines (each `name: value` without CRLF), in
/// the order given after the required ones.
pub(crate) fn request_with<S: AsRef<str>>(extra: &[S]) -> Vec<u8> {
    let mut head = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n"
        .to_vec();
    for line in extra {
        head.extend_from_slice(line.as_ref().as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// [`request_with`] no extra lines.
pub(crate) fn chat_request() -> Vec<u8> {
    request_with::<&str>(&[])
}

/// The error response a server queues for a refused request: the status
/// line, the fields its status requires, and the error as a text body.
pub(crate) fn refusal_response(status_line: &str, fields: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status_line}\r\n{fields}Content-Type: text/plain\r\n{}Content-Length: {}\r\n\r\n{body}",
        if status_line.starts_with("426") {
            "Connection: Upgrade, close\r\n"
        } else {
            "Connection: close\r\n"
        },
        body.len()
    )
    .into_bytes()
}

/// A server reading its request with `config`.
pub(crate) fn hs_server(config: Config) -> impl Fn() -> Connection {
    move || Connection::server(config.clone())
}

/// What a server reports for `request`: the request (its path and the
/// value of `name`) or the error, checked split-invariant.
pub(crate) fn accepted_header(config: Config, request: &[u8], name: &str) -> Vec<u8> {
    let t = invariant(hs_server(config.clone()), request, false);
    assert!(t.out.is_empty(), "output for a valid request: {:?}", t.out);
    assert!(
        matches!(&t.events[..], [Owned::Other(r)] if r.starts_with("Request")),
        "{:?}",
        t.events
    );
    let mut conn = Connection::server(config);
    conn.receive(request);
    match conn.poll_event(&mut Vec::new()) {
        Polled::Event(Event::Request(r), _) => {
            assert_eq!(r.path(), "/chat");
            r.header(name).expect("the header").to_vec()
        }
        other => panic!("{other:?}"),
    }
}

/// Refused by a server with `config` with exactly `response` however the
/// bytes arrive.
pub(crate) fn refused_by(config: Config, request: &[u8], error: HandshakeError, response: &[u8]) {
    let t = invariant(hs_server(config), request, false);
    assert_eq!(t.events, [Owned::Error(Error::Handshake(error))]);
    assert_eq!(
        String::from_utf8_lossy(&t.out),
        String::from_utf8_lossy(response)
    );
}

/// The `Sec-WebSocket-Accept` value that answers the key in `request`, the
/// head a client wrote.
pub(crate) fn accept_for(request: &[u8]) -> String {
    let key = std::str::from_utf8(request)
        .unwrap()
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .expect("a Sec-WebSocket-Key line");
    String::from_utf8(wstate::handshake::accept_key(key.as_bytes()).to_vec()).unwrap()
}

/// The `101` that accepts `request`, the head a client wrote.
pub(crate) fn response_101(request: &[u8]) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_for(request)
    )
    .into_bytes()
}
