//! Target `handshake_client`: a client reading an arbitrary response.

use super::common::*;
use super::handshake::*;
use super::receive::{check_against_reference, check_receive_transcript};
use wstate::{
    ClientRequest, Config, Connection, ConnectionState, Error, HandshakeError, Message, Polled,
    SendError,
};

/// The subprotocols a client offers, by flag bits `0x06`.
pub(crate) fn offered_by(flags: u8) -> &'static [&'static str] {
    match (flags >> 1) & 0b11 {
        0 => &[],
        1 => &["chat"],
        2 => &["chat", "superchat"],
        _ => &["v1.chat", "v2.chat", "chat"],
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
pub(crate) enum RefusalBody {
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
pub(crate) fn refusal_body(head: &[u8], max: usize) -> Option<RefusalBody> {
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
pub(crate) fn status_of(text: &str) -> Option<u16> {
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
pub(crate) fn response_head(stream: &[u8]) -> (usize, Option<usize>) {
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
pub(crate) fn check_101(head: &[u8], offered: &[&str], chosen: Option<&str>) {
    let text = String::from_utf8_lossy(head);
    assert_eq!(status_of(&text), Some(101), "{text:?}");
    let fields = unfolded_fields(&text);
    let all = |name: &str| values(&fields, name);
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
