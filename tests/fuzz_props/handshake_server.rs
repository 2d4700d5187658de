//! Target `handshake_server`: a server reading an arbitrary request.

use super::common::*;
use super::handshake::*;
use super::receive::{check_against_reference, check_receive_transcript};
use wstate::{
    Accept, ClientRequest, Connection, ConnectionState, Error, Event, HandshakeError, Message,
    Polled, SendError,
};

/// What the server did with the request, learnt while driving it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ServerAnswer {
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
pub(crate) fn tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An HTTP token (RFC 9110 §5.6.2), as a subprotocol name must be.
pub(crate) fn is_token(s: &str) -> bool {
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
pub(crate) const MAX_LINE: usize = 8 << 10;

/// The server decides as the model does: it accepts exactly the requests
/// the model accepts, and refuses the others with a status the model
/// allows (400 / 405 / 414 / 426 / 431 / 505).
pub(crate) fn check_server_against_model(setup: &HsSetup, stream: &[u8], t: &Transcript) {
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
pub(crate) fn rfc_path_and_query(s: &[u8]) -> bool {
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
pub(crate) fn rfc_host(v: &[u8]) -> bool {
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
pub(crate) fn rfc_target(t: &[u8]) -> bool {
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
pub(crate) fn rfc_resource_name(target: &str) -> String {
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
pub(crate) fn server_answers(
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
pub(crate) fn check_server_handshake(
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
pub(crate) fn check_unanswered(
    setup: &HsSetup,
    early: usize,
    t: &Transcript,
    answer: &[u8],
    end: &Summary,
) {
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
pub(crate) fn request_head_end(stream: &[u8]) -> Option<usize> {
    let mut start = 0;
    while stream[start..].starts_with(b"\r\n") {
        start += 2;
    }
    let i = stream[start..].windows(4).position(|w| w == b"\r\n\r\n")?;
    Some(start + i + 4)
}

/// The fields a status requires in a response we wrote (RFC 9110 §15.5.6,
/// §15.5.22, §7.8; RFC 6455 §4.4), and the end of the connection.
pub(crate) fn check_status_fields(response: &HttpResponse) {
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

/// Whether a request head expects 100-continue: an `Expect` field lists
/// `100-continue`, case-insensitively (RFC 9110 §10.1.1).
pub(crate) fn expects_continue(head: &[u8]) -> bool {
    unfolded_fields(&String::from_utf8_lossy(head))
        .iter()
        .filter(|(n, _)| n == "expect")
        .flat_map(|(_, v)| v.split(','))
        .any(|e| {
            e.trim_matches([' ', '\t'])
                .eq_ignore_ascii_case("100-continue")
        })
}

/// Checks, without the crate, that a head is a valid upgrade request.
pub(crate) fn check_request_head(head: &[u8]) {
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
    let all = |name: &str| values(&fields, name);
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
    // RFC 9112 §6: no content on an upgrade request. A Content-Length
    // list's empty elements are ignored ("a recipient MUST parse and
    // ignore a reasonable number of empty list elements", RFC 9110
    // §5.6.1.2; RFC 9112 §6.3 takes the field as such a list), as the
    // model above does: `Content-Length: ,, 0` is 0.
    assert!(all("transfer-encoding").is_empty());
    assert!(all("content-length").iter().all(|v| {
        let elements: Vec<&str> = v
            .split(',')
            .map(|e| e.trim_matches([' ', '\t']))
            .filter(|e| !e.is_empty())
            .collect();
        !elements.is_empty() && elements.iter().all(|e| *e == "0")
    }));
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
pub(crate) fn client_accepts(
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
