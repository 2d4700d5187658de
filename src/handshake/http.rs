//! A bounded HTTP/1.1 head parser and writer (RFC 9110/9112), just enough for
//! the WebSocket opening handshake. It borrows the input and never allocates.

use alloc::vec::Vec;

use crate::error::HandshakeError;

/// The longest single line of a head (request line, status line or field).
pub(crate) const MAX_LINE_LEN: usize = 8 << 10;

/// Finds the end of a head (`\r\n\r\n`) in `buf`, resuming at `*scanned`,
/// which it advances, so that a head arriving in many small pieces is scanned
/// once in total. Returns the head length including the blank line.
pub(crate) fn find_head_end(buf: &[u8], scanned: &mut usize) -> Option<usize> {
    // The terminator may straddle the previous scan's end: back up 3 bytes.
    let from = scanned.saturating_sub(3);
    let found = find(&buf[from..], b"\r\n\r\n");
    match found {
        Some(i) => Some(from + i + 4),
        None => {
            *scanned = buf.len();
            None
        }
    }
}

/// A header field name character (RFC 9110 §5.6.2 `tchar`).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
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
    let (first, block) = match find(body, b"\r\n") {
        Some(i) => (&body[..i], &body[i + 2..]),
        None => (body, &body[body.len()..]),
    };
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
        fields: Fields(block),
    })
}

fn check_field_line(line: &[u8]) -> Result<(), HandshakeError> {
    if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
        // RFC 9112 §5.2: obsolete line folding; a server may reject it.
        return Err(HandshakeError::Malformed("folded header line"));
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

/// The first position of `needle` in `hay`: a byte search for its first
/// byte, then a comparison (much cheaper than comparing every window).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = hay.get(from..)?.iter().position(|&b| b == first) {
        let at = from + i;
        if hay[at + 1..].starts_with(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Iterates CRLF-separated lines.
#[derive(Clone)]
struct Lines<'a>(&'a [u8]);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.0.is_empty() {
            return None;
        }
        let (line, rest) = match find(self.0, b"\r\n") {
            Some(i) => (&self.0[..i], &self.0[i + 2..]),
            None => (self.0, &self.0[self.0.len()..]),
        };
        self.0 = rest;
        Some(line)
    }
}

/// Header fields of a checked head, in order. Lookups are case-insensitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    /// Every field as `(name, value)`, value without surrounding whitespace.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        Lines(self.0).filter_map(|line| {
            let colon = line.iter().position(|b| *b == b':')?;
            // Checked by `parse_head`: names are ASCII tokens.
            let name = core::str::from_utf8(&line[..colon]).ok()?;
            Some((name, trim(&line[colon + 1..])))
        })
    }

    /// Every field as `(name, value)` bytes, without UTF-8 checks.
    fn raw(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone + 'a {
        Lines(self.0).filter_map(|line| {
            let colon = line.iter().position(|b| *b == b':')?;
            Some((&line[..colon], trim(&line[colon + 1..])))
        })
    }

    /// The value of the first field named `name`.
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.raw()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// Every value of fields named `name`, in order.
    pub fn get_all<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + Clone + 'n
    where
        'a: 'n,
    {
        self.raw()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The comma-separated elements of every field named `name`, trimmed,
    /// empty elements skipped (RFC 9110 §5.6.1).
    pub fn list<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + 'n
    where
        'a: 'n,
    {
        self.get_all(name)
            .flat_map(|v| v.split(|b| *b == b','))
            .map(trim)
            .filter(|e| !e.is_empty())
    }

    /// Whether the list field `name` contains `token` (case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.list(name)
            .any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
    }
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
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
    check_version(version)?;
    Ok((method, target))
}

/// A status line: version, 3-digit status, reason phrase (possibly empty).
pub(crate) fn parse_status_line(line: &[u8]) -> Result<(u16, &[u8]), HandshakeError> {
    let bad = HandshakeError::Malformed("invalid status line");
    let (version, rest) = split_once(line, b' ').ok_or(bad.clone())?;
    check_version(core::str::from_utf8(version).map_err(|_| bad.clone())?)?;
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

fn check_version(version: &str) -> Result<(), HandshakeError> {
    match version {
        "HTTP/1.1" => Ok(()),
        v if v.starts_with("HTTP/") => Err(HandshakeError::UnsupportedHttpVersion),
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

/// The reason phrase for a status code we may send.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
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
                found = find_head_end(&head[..end], &mut scanned);
            }
            assert_eq!(found, Some(head.len() - 4), "step {step}");
        }
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
        assert_eq!(
            parse_status_line(b"HTTP/1.1 101 Switching Protocols")
                .unwrap()
                .0,
            101
        );
        assert_eq!(parse_status_line(b"HTTP/1.1 404").unwrap(), (404, &b""[..]));
        assert!(parse_status_line(b"HTTP/1.1 1x1 Nope").is_err());
    }
}
