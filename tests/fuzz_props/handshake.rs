//! Pieces the handshake targets share: their setup bytes, reads, the
//! decoded key, and the HTTP response parser.

use super::common::*;
use wstate::{Config, Connection};

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
pub(crate) fn reads(stream: &[u8], read: usize) -> Vec<&[u8]> {
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
pub(crate) fn drive(
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
pub(crate) fn after_handshake(t: &Transcript, events_from: usize, out_from: usize) -> Transcript {
    Transcript {
        events: t.events[events_from..].to_vec(),
        out: t.out[out_from..].to_vec(),
        done: t.done,
    }
}

/// The values of the fields named `name` (lowercase), in order.
pub(crate) fn values<'f>(fields: &'f [(String, String)], name: &str) -> Vec<&'f str> {
    fields
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The `(lowercase name, trimmed value)` field lines of a head after its
/// first line, obs-folds joined to the line they continue (RFC 9112 §5.2).
pub(crate) fn unfolded_fields(text: &str) -> Vec<(String, String)> {
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

/// Whether a version is HTTP/1.1 or a later HTTP/1 minor version, which
/// RFC 9110 §2.5 says to process as 1.1.
pub(crate) fn is_http_1_1_or_later(version: &str) -> bool {
    matches!(
        version.as_bytes(),
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'1'..=b'9']
    )
}

/// The client's nonce: RFC 6455 §1.3's example, so that the seeds can carry
/// the matching `Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`.
pub(crate) const NONCE: &[u8; 16] = b"the sample nonce";
pub(crate) const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// The client's entropy: the nonce first, then mask keys.
pub(crate) fn client_entropy() -> impl FnMut(&mut [u8]) + Send + 'static {
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
