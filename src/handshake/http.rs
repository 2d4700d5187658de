//! A bounded HTTP/1.1 head parser and writer (RFC 9110/9112), just enough for
//! the WebSocket opening handshake. It borrows the input and never allocates.

use alloc::vec::Vec;

pub(crate) use super::fields::Fields;
use super::fields::{Lines, is_tchar};
use crate::error::HandshakeError;

/// The longest single line of a head (request line, status line or field).
pub(crate) const MAX_LINE_LEN: usize = 8 << 10;

/// Finds the end of a head that starts at `start` in `buf`, resuming the
/// search at `*scanned`, which it advances, so that a head arriving in many
/// small pieces is scanned once in total. Returns the end of the head (the
/// index after its blank line), `Ok(None)` if it is not complete yet.
///
/// RFC 9112 §2.2 lets a recipient accept a bare LF as a line terminator;
/// we do not, and say so at once: a head with an LF not preceded by CR is
/// refused as soon as that LF arrives, never waited on.
pub(crate) fn find_head_end(
    buf: &[u8],
    start: usize,
    scanned: &mut usize,
) -> Result<Option<usize>, HandshakeError> {
    let mut from = (*scanned).max(start);
    while let Some(i) = buf
        .get(from..)
        .and_then(|b| b.iter().position(|&b| b == b'\n'))
    {
        let lf = from + i;
        if lf == start || buf[lf - 1] != b'\r' {
            return Err(HandshakeError::Malformed("bare LF line terminator"));
        }
        if lf >= start + 3 && &buf[lf - 3..lf - 1] == b"\r\n" {
            return Ok(Some(lf + 1));
        }
        from = lf + 1;
    }
    *scanned = buf.len();
    Ok(None)
}

/// How many bytes of empty lines (CRLF) precede a request line. "In the
/// interest of robustness, a server that is expecting to receive and parse
/// a request-line SHOULD ignore at least one empty line (CRLF) received
/// prior to the request-line" (RFC 9112 §2.2): we ignore any number, within
/// the head size limit.
pub(crate) fn empty_lines(buf: &[u8]) -> usize {
    buf.chunks_exact(2).take_while(|c| *c == b"\r\n").count() * 2
}

/// The error for a request head over the size limit: 414 if its request
/// line (`METHOD SP target ...`, seen in `buf`, which starts at the request
/// line) is what is too long, 431 otherwise.
pub(crate) fn request_too_large(buf: &[u8], max: usize) -> HandshakeError {
    let line = buf
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(buf.len());
    let has_target = buf[..line.min(32)].contains(&b' ');
    if has_target && (line > MAX_LINE_LEN || line >= max) {
        HandshakeError::TargetTooLong
    } else {
        HandshakeError::HeadTooLarge
    }
}

/// A field value byte: visible ASCII, space, tab, or obs-text.
fn is_value_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || (0x21..=0x7E).contains(&b) || b >= 0x80
}

/// The first line and header block of a complete head.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Head<'a> {
    /// The request line or status line, without CRLF.
    pub(crate) first: &'a [u8],
    /// The header fields: every line of it checked by [`parse_head`].
    pub(crate) fields: Fields<'a>,
}

/// Splits a complete head (ending in `\r\n\r\n`) into its first line and
/// fields, checking the syntax of every field line and the limits.
pub(crate) fn parse_head(head: &[u8], max_headers: usize) -> Result<Head<'_>, HandshakeError> {
    let body = head.strip_suffix(b"\r\n").unwrap_or(head);
    let mut lines = Lines(body);
    let first = lines.next().unwrap_or_default();
    let block = &body[(first.len() + 2).min(body.len())..];
    if first.len() > MAX_LINE_LEN {
        return Err(HandshakeError::HeadTooLarge);
    }
    let mut count = 0;
    for line in Lines(block) {
        count += 1;
        if count > max_headers {
            return Err(HandshakeError::TooManyHeaders);
        }
        if line.len() > MAX_LINE_LEN {
            return Err(HandshakeError::HeadTooLarge);
        }
        check_field_line(line)?;
    }
    Ok(Head {
        first,
        fields: Fields::head(block),
    })
}

fn check_field_line(line: &[u8]) -> Result<(), HandshakeError> {
    if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
        // RFC 9112 §5.2: "A server that receives an obs-fold in a request
        // message ... MUST either reject the message by sending a 400 (Bad
        // Request), preferably with a representation explaining that
        // obsolete line folding is unacceptable, or replace each received
        // obs-fold with one or more SP octets": a server rejects. (A client
        // unfolds first: see `unfold`.) Whitespace before the first field
        // (RFC 9112 §2.2: "MUST either reject the message as invalid or
        // consume each whitespace-preceded line") is rejected by both.
        return Err(HandshakeError::Malformed(
            "obsolete line folding is not accepted",
        ));
    }
    let colon = line
        .iter()
        .position(|b| *b == b':')
        .ok_or(HandshakeError::Malformed("header line without ':'"))?;
    let name = &line[..colon];
    if name.is_empty() || !name.iter().all(|b| is_tchar(*b)) {
        return Err(HandshakeError::Malformed("invalid header name"));
    }
    if !line[colon + 1..].iter().all(|b| is_value_byte(*b)) {
        return Err(HandshakeError::Malformed("invalid byte in header value"));
    }
    Ok(())
}

/// Replaces each obs-fold (CRLF followed by SP or HTAB) of a complete
/// response head with spaces, in place: "A user agent that receives an
/// obs-fold in a response message ... MUST replace each received obs-fold
/// with one or more SP octets prior to interpreting the field value" (RFC
/// 9112 §5.2). The line break after the status line is left alone: a
/// whitespace-preceded first field line is refused by [`parse_head`].
pub(crate) fn unfold(head: &mut [u8]) {
    let Some(status_end) = head.windows(2).position(|w| w == b"\r\n") else {
        return;
    };
    // From the first field line on: a CRLF there ends a line, never the
    // status line (and an empty line ends the head, so nothing follows it).
    let mut i = status_end + 2;
    while i + 2 < head.len() {
        if head[i] == b'\r' && head[i + 1] == b'\n' && matches!(head[i + 2], b' ' | b'\t') {
            head[i] = b' ';
            head[i + 1] = b' ';
        }
        i += 1;
    }
}

/// A request line: method, target, version.
pub(crate) fn parse_request_line(line: &[u8]) -> Result<(&str, &str), HandshakeError> {
    let line = core::str::from_utf8(line)
        .map_err(|_| HandshakeError::Malformed("request line is not ASCII"))?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HandshakeError::Malformed(
            "request line is not 'METHOD TARGET VERSION'",
        ));
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(HandshakeError::Malformed("invalid method"));
    }
    if target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(HandshakeError::Malformed("invalid request target"));
    }
    check_version(version.as_bytes())?;
    Ok((method, target))
}

/// A status line: version, 3-digit status, reason phrase (possibly empty).
pub(crate) fn parse_status_line(line: &[u8]) -> Result<(u16, &[u8]), HandshakeError> {
    let bad = HandshakeError::Malformed("invalid status line");
    let (version, rest) = split_once(line, b' ').ok_or(bad.clone())?;
    check_version(version)?;
    let (code, reason) = split_once(rest, b' ').unwrap_or((rest, b""));
    let [a, b, c] = *code else { return Err(bad) };
    if !(a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit()) || a == b'0' {
        return Err(bad);
    }
    if !reason.iter().all(|b| is_value_byte(*b)) {
        return Err(bad);
    }
    let status = (a - b'0') as u16 * 100 + (b - b'0') as u16 * 10 + (c - b'0') as u16;
    Ok((status, reason))
}

fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|b| *b == sep)?;
    Some((&s[..i], &s[i + 1..]))
}

/// `HTTP-version = HTTP-name "/" DIGIT "." DIGIT` (RFC 9112 §2.3, the name
/// case-sensitive). A later minor version of HTTP/1 is taken as 1.1: "a
/// recipient that receives a message with a higher minor version number
/// than it implements SHOULD process it as if it were the highest minor
/// version within that major version" (RFC 9110 §2.5). HTTP/1.0 cannot
/// upgrade (RFC 6455 §4.1: "the HTTP version MUST be at least 1.1"); another
/// major version is a different protocol (a server answers 505).
fn check_version(version: &[u8]) -> Result<(), HandshakeError> {
    match *version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            match (major, minor) {
                (b'1', b'0') => Err(HandshakeError::UnsupportedHttpVersion),
                (b'1', _) => Ok(()),
                _ => Err(HandshakeError::UnsupportedHttpMajorVersion),
            }
        }
        _ => Err(HandshakeError::Malformed("invalid HTTP version")),
    }
}

/// Whether `name: value` may be written as a header field.
pub(crate) fn valid_field(name: &str, value: &str) -> bool {
    !name.is_empty() && name.bytes().all(is_tchar) && value.bytes().all(is_value_byte)
}

/// Appends `name: value\r\n`.
pub(crate) fn write_field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The reason phrase for a status code we may send (RFC 9110 §15, RFC 6585).
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_end_found_incrementally() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest";
        for step in 1..head.len() {
            let mut scanned = 0;
            let mut found = None;
            let mut end = 0;
            while found.is_none() && end < head.len() {
                end = (end + step).min(head.len());
                found = find_head_end(&head[..end], 0, &mut scanned).unwrap();
            }
            assert_eq!(found, Some(head.len() - 4), "step {step}");
        }
        let mut scanned = 0;
        assert!(find_head_end(b"GET / HTTP/1.1\nHost", 0, &mut scanned).is_err());
        let prefixed = b"\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        let start = empty_lines(prefixed);
        assert_eq!(start, 4);
        let mut scanned = 0;
        assert_eq!(
            find_head_end(prefixed, start, &mut scanned),
            Ok(Some(prefixed.len()))
        );
    }

    #[test]
    fn fields_lists_and_tokens() {
        let head = b"GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nX-A:  1 \r\nsec-websocket-protocol: a, b\r\nSec-WebSocket-Protocol: ,c\r\n\r\n";
        let h = parse_head(head, 10).unwrap();
        assert_eq!(parse_request_line(h.first).unwrap(), ("GET", "/"));
        assert!(h.fields.has_token("connection", "upgrade"));
        assert_eq!(h.fields.get("x-a"), Some(&b"1"[..]));
        let protos: Vec<&[u8]> = h.fields.list("Sec-WebSocket-Protocol").collect();
        assert_eq!(protos, [&b"a"[..], b"b", b"c"]);
        assert_eq!(
            parse_head(head, 3).unwrap_err(),
            HandshakeError::TooManyHeaders
        );
    }

    #[test]
    fn unfolding() {
        let mut head = *b"HTTP/1.1 101 OK\r\nA: x\r\n  y\r\n\tz\r\nB: 1\r\n\r\n";
        unfold(&mut head);
        assert_eq!(&head, b"HTTP/1.1 101 OK\r\nA: x    y  \tz\r\nB: 1\r\n\r\n");
        let mut first = *b"HTTP/1.1 101 OK\r\n A: x\r\n\r\n";
        unfold(&mut first);
        assert_eq!(&first, b"HTTP/1.1 101 OK\r\n A: x\r\n\r\n");
    }

    #[test]
    fn syntax_errors() {
        let bad: [&[u8]; 5] = [
            b"GET / HTTP/1.1\r\nNo colon\r\n\r\n",
            b"GET / HTTP/1.1\r\n folded: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: \x01\r\n\r\n",
            b"GET / HTTP/1.1\r\n: empty\r\n\r\n",
        ];
        for head in bad {
            assert!(
                matches!(parse_head(head, 10), Err(HandshakeError::Malformed(_))),
                "{head:?}"
            );
        }
        assert!(parse_request_line(b"GET /  HTTP/1.1").is_err());
        assert_eq!(
            parse_request_line(b"GET / HTTP/1.0"),
            Err(HandshakeError::UnsupportedHttpVersion)
        );
        assert!(parse_request_line(b"GET / HTTP/1.2").is_ok());
        assert_eq!(
            parse_request_line(b"GET / HTTP/2.0"),
            Err(HandshakeError::UnsupportedHttpMajorVersion)
        );
        assert!(parse_request_line(b"GET / HTTP/1.10").is_err());
        assert!(parse_request_line(b"GET / http/1.1").is_err());
        assert_eq!(
            parse_status_line(b"HTTP/1.1 101 Switching Protocols")
                .unwrap()
                .0,
            101
        );
        assert_eq!(parse_status_line(b"HTTP/1.1 404").unwrap(), (404, &b""[..]));
        assert!(parse_status_line(b"HTTP/1.1 1x1 Nope").is_err());
    }

    #[test]
    fn request_line_parts_must_be_there() {
        let malformed = |why| Err(HandshakeError::Malformed(why));
        let cases: [(&[u8], _); 6] = [
            (b" /chat HTTP/1.1", malformed("invalid method")),
            (b"G(T /chat HTTP/1.1", malformed("invalid method")),
            (b"GET  HTTP/1.1", malformed("invalid request target")),
            (b"GET /a\x7fb HTTP/1.1", malformed("invalid request target")),
            (b"GET /chat HTTP/1.x", malformed("invalid HTTP version")),
            (b"GET /chat HTTP/x.1", malformed("invalid HTTP version")),
        ];
        for (line, expected) in cases {
            assert_eq!(parse_request_line(line), expected, "{line:?}");
        }
        assert_eq!(
            parse_status_line(b"HTTP/1.x 101 Switching Protocols"),
            Err(HandshakeError::Malformed("invalid HTTP version"))
        );
    }

    /// RFC 9110 §15 (and RFC 6585 for 428, 429, 431): the phrases we send.
    #[test]
    fn reason_phrases_are_the_rfcs() {
        let phrases = [
            (101, "Switching Protocols"),
            (200, "OK"),
            (201, "Created"),
            (202, "Accepted"),
            (203, "Non-Authoritative Information"),
            (204, "No Content"),
            (205, "Reset Content"),
            (206, "Partial Content"),
            (300, "Multiple Choices"),
            (301, "Moved Permanently"),
            (302, "Found"),
            (303, "See Other"),
            (304, "Not Modified"),
            (307, "Temporary Redirect"),
            (308, "Permanent Redirect"),
            (400, "Bad Request"),
            (401, "Unauthorized"),
            (402, "Payment Required"),
            (403, "Forbidden"),
            (404, "Not Found"),
            (405, "Method Not Allowed"),
            (406, "Not Acceptable"),
            (407, "Proxy Authentication Required"),
            (408, "Request Timeout"),
            (409, "Conflict"),
            (410, "Gone"),
            (411, "Length Required"),
            (412, "Precondition Failed"),
            (413, "Content Too Large"),
            (414, "URI Too Long"),
            (415, "Unsupported Media Type"),
            (416, "Range Not Satisfiable"),
            (417, "Expectation Failed"),
            (421, "Misdirected Request"),
            (422, "Unprocessable Content"),
            (426, "Upgrade Required"),
            (428, "Precondition Required"),
            (429, "Too Many Requests"),
            (431, "Request Header Fields Too Large"),
            (500, "Internal Server Error"),
            (501, "Not Implemented"),
            (502, "Bad Gateway"),
            (503, "Service Unavailable"),
            (504, "Gateway Timeout"),
            (505, "HTTP Version Not Supported"),
        ];
        for (status, phrase) in phrases {
            assert_eq!(reason_phrase(status), phrase, "{status}");
        }
        for status in (100..600).filter(|s| !phrases.iter().any(|p| p.0 == *s)) {
            assert_eq!(reason_phrase(status), "Status", "{status}");
        }
    }
}
