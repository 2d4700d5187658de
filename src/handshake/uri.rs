//! URI pieces of the opening handshake (RFC 3986, RFC 9112 §3.2): the
//! `Host` field value, the request target, and the path and query a client
//! may send.

use alloc::string::String;

use crate::error::HandshakeError;

/// The scheme of the target URI: "The scheme of the target URI ... MUST be
/// "https" for "wss"-schemed WebSockets and "http" for "ws"-schemed
/// WebSockets" (RFC 8441 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `http`, for a `ws://` URI.
    Http,
    /// `https`, for a `wss://` URI.
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// `unreserved` (RFC 3986 §2.3).
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// `sub-delims` (RFC 3986 §2.2).
fn is_sub_delim(b: u8) -> bool {
    b"!$&'()*+,;=".contains(&b)
}

/// Whether `s` is a path followed by an optional query: every byte a
/// `pchar`, `/` or `?` (RFC 3986 §3.3, §3.4), every `%` followed by two hex
/// digits. No fragment, no space, no other delimiter.
pub(crate) fn is_path_and_query(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'%' {
            let hex = |j: usize| s.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
            continue;
        }
        if !(is_unreserved(b) || is_sub_delim(b) || b":@/?".contains(&b)) {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `v` is a valid `Host` value for a WebSocket request:
/// `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2-3.2.3) with a
/// non-empty host.
///
/// Two choices where the grammar is wider than any real host: a comma is
/// refused, because Host is a singleton field and a comma is how a list of
/// several Host values is written (RFC 9110 §5.3), which RFC 9112 §3.2
/// answers with 400; and an empty host is refused, because a `ws` or
/// `http` URI has a non-empty host (RFC 9110 §4.2.1: "A sender MUST NOT
/// generate an "http" URI with an empty host identifier"), and RFC 9112
/// §3.3 lets a server reject a request whose target URI would lack one.
pub(crate) fn is_valid_host(v: &[u8]) -> bool {
    let (host, port) = if v.first() == Some(&b'[') {
        let Some(close) = v.iter().position(|b| *b == b']') else {
            return false;
        };
        if !is_ip_literal(&v[1..close]) {
            return false;
        }
        match &v[close + 1..] {
            [] => return true,
            [b':', port @ ..] => (&v[..=close], port),
            _ => return false,
        }
    } else {
        match v.iter().position(|b| *b == b':') {
            Some(i) => (&v[..i], &v[i + 1..]),
            None => (v, &v[v.len()..]),
        }
    };
    // port = *DIGIT (RFC 3986 §3.2.3), which may be empty.
    if !port.iter().all(u8::is_ascii_digit) {
        return false;
    }
    host.first() == Some(&b'[') || is_reg_name(host)
}

/// `reg-name` (RFC 3986 §3.2.2), non-empty, without `,` (see
/// [`is_valid_host`]). An IPv4 address is also a reg-name.
fn is_reg_name(host: &[u8]) -> bool {
    !host.is_empty()
        && !host.contains(&b',')
        && is_path_and_query(host)
        && !host.iter().any(|b| b":@/?".contains(b))
}

/// The inside of `[...]`: `IPv6address / IPvFuture` (RFC 3986 §3.2.2).
fn is_ip_literal(s: &[u8]) -> bool {
    if let [b'v' | b'V', rest @ ..] = s {
        // IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
        let Some(dot) = rest.iter().position(|b| *b == b'.') else {
            return false;
        };
        let (hex, tail) = (&rest[..dot], &rest[dot + 1..]);
        return !hex.is_empty()
            && hex.iter().all(u8::is_ascii_hexdigit)
            && !tail.is_empty()
            && tail
                .iter()
                .all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':');
    }
    is_ipv6(s)
}

/// `IPv6address` (RFC 3986 §3.2.2): eight 16-bit groups, or fewer with
/// one `::`, the last two of which may be written as an IPv4 address.
pub(crate) fn is_ipv6(s: &[u8]) -> bool {
    let double = s.windows(2).position(|w| w == b"::");
    match double {
        Some(i) => {
            let (head, tail) = (&s[..i], &s[i + 2..]);
            if tail.windows(2).any(|w| w == b"::") {
                return false;
            }
            match (groups(head, false), groups(tail, true)) {
                (Some(h), Some(t)) => h + t <= 7,
                _ => false,
            }
        }
        None => groups(s, true) == Some(8),
    }
}

/// How many 16-bit groups `part` (`h16 *( ":" h16 )`, possibly empty)
/// holds; an IPv4 address at the end counts two.
fn groups(part: &[u8], v4_last: bool) -> Option<usize> {
    if part.is_empty() {
        return Some(0);
    }
    let count = part.split(|b| *b == b':').count();
    let mut n = 0;
    for (i, group) in part.split(|b| *b == b':').enumerate() {
        if v4_last && i + 1 == count && group.contains(&b'.') {
            if !is_ipv4(group) {
                return None;
            }
            n += 2;
        } else if (1..=4).contains(&group.len()) && group.iter().all(u8::is_ascii_hexdigit) {
            n += 1;
        } else {
            return None;
        }
    }
    Some(n)
}

/// `IPv4address`: four `dec-octet`s, 0-255 without leading zeros.
fn is_ipv4(s: &[u8]) -> bool {
    let mut parts = 0;
    for octet in s.split(|b| *b == b'.') {
        parts += 1;
        let ok = match octet {
            [d] => d.is_ascii_digit(),
            [b'1'..=b'9', d] => d.is_ascii_digit(),
            [b'1', d, e] => d.is_ascii_digit() && e.is_ascii_digit(),
            [b'2', b'0'..=b'4', d] => d.is_ascii_digit(),
            [b'2', b'5', b'0'..=b'5'] => true,
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    parts == 4
}

/// The resource name (RFC 6455 §3) of a path and query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResourceName<'a> {
    /// It is this slice of the path and query (or `/`).
    Sent(&'a str),
    /// The path is empty and the query is not: `/` followed by this, the
    /// `?` and the query.
    SlashThen(&'a str),
}

impl<'s> ResourceName<'s> {
    /// The name: a slice of what was sent, or written into `to` (cleared
    /// first) when it is not one.
    pub(crate) fn as_str<'a>(self, to: &'a mut String) -> &'a str
    where
        's: 'a,
    {
        match self {
            Self::Sent(name) => name,
            Self::SlashThen(query) => {
                to.clear();
                to.push('/');
                to.push_str(query);
                to
            }
        }
    }
}

/// The resource name of `path_and_query` (a path, possibly empty, then an
/// optional `?` and query): "The "resource-name" ... can be constructed by
/// concatenating the following: "/" if the path component is empty; the
/// path component; "?" if the query component is non-empty; the query
/// component" (RFC 6455 §3). So `/chat?` names `/chat`, and `?x=1` names
/// `/?x=1`.
pub(crate) fn resource_name(path_and_query: &str) -> ResourceName<'_> {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    match (path.is_empty(), query.is_empty()) {
        (true, true) => ResourceName::Sent("/"),
        (true, false) => ResourceName::SlashThen(path_and_query),
        (false, true) => ResourceName::Sent(path),
        (false, false) => ResourceName::Sent(path_and_query),
    }
}

/// A request target the server accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Target<'a> {
    /// The resource name.
    pub(crate) resource: ResourceName<'a>,
    /// The authority of an absolute-form target.
    pub(crate) authority: Option<&'a str>,
}

/// Parses a request target (RFC 9112 §3.2): origin-form, or absolute-form
/// with a `ws`, `wss`, `http` or `https` URI. "A server MUST accept the
/// absolute-form in requests even though most HTTP/1.1 clients will only
/// send the absolute-form to a proxy" (RFC 9112 §3.2.2); RFC 6455 §4.2.1
/// names an "absolute HTTP/HTTPS URI containing the /resource name/", and a
/// `ws` or `wss` URI names the same resource (RFC 6455 §3), so both are
/// taken too. The asterisk-form belongs to
/// OPTIONS and the authority-form to CONNECT; neither names a resource to
/// upgrade, so both are refused, as is any fragment (the request-target
/// grammar has none, and RFC 6455 §3: fragment identifiers "MUST NOT be
/// used" in WebSocket URIs).
pub(crate) fn parse_target(t: &str) -> Result<Target<'_>, HandshakeError> {
    use HandshakeError::InvalidTarget;
    if t.contains('#') {
        return Err(InvalidTarget("a request target has no fragment"));
    }
    if t.starts_with('/') {
        // origin-form = absolute-path [ "?" query ]
        if !is_path_and_query(t.as_bytes()) {
            return Err(InvalidTarget("invalid character in the request target"));
        }
        return Ok(Target {
            resource: resource_name(t),
            authority: None,
        });
    }
    if t == "*" {
        return Err(InvalidTarget("asterisk-form is for OPTIONS only"));
    }
    let Some((scheme, rest)) = t.split_once("://") else {
        // authority-form = uri-host ":" port (RFC 9112 §3.2.3)
        return Err(if t.contains(':') && is_valid_host(t.as_bytes()) {
            InvalidTarget("authority-form is for CONNECT only")
        } else {
            InvalidTarget("not origin-form or absolute-form")
        });
    };
    if !["ws", "wss", "http", "https"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s))
    {
        return Err(InvalidTarget(
            "absolute-form with a scheme other than ws, wss, http, https",
        ));
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, resource) = rest.split_at(end);
    if authority.contains('@') {
        // RFC 9110 §4.2.4: a recipient "SHOULD parse for userinfo and
        // treat its presence as an error"; ws URIs have none (RFC 6455 §3).
        return Err(InvalidTarget("userinfo in the request target"));
    }
    if !is_valid_host(authority.as_bytes()) {
        return Err(InvalidTarget("invalid authority in the request target"));
    }
    if !is_path_and_query(resource.as_bytes()) {
        return Err(InvalidTarget("invalid character in the request target"));
    }
    // "http" or "https" URIs "with an empty path component" are
    // equivalent to a path of "/" (RFC 9110 §4.2.3); RFC 6455 §3 builds
    // the resource name the same way for ws and wss.
    Ok(Target {
        resource: resource_name(resource),
        authority: Some(authority),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for good in [
            "example.com",
            "example.com:80",
            "example.com:",
            "1.2.3.4:9001",
            "[::1]",
            "[::1]:443",
            "[2001:db8::7]",
            "[1:2:3:4:5:6:7:8]",
            "[::ffff:192.0.2.1]",
            "[v1.fe80::a+en1]",
            "[1:2:3:4:5:6:1.2.3.4]",
            "[::ffff:10.20.30.40]",
            "[::ffff:200.249.0.1]",
            "[::ffff:255.255.255.255]",
            "xn--bcher-kva.example",
            "a%41b",
        ] {
            assert!(is_valid_host(good.as_bytes()), "{good}");
        }
        for bad in [
            "",
            ":80",
            "a b",
            "a,b",
            "[::1",
            "a:b:c:d",
            "example.com:port",
            "[::1]x",
            "[1:2:3:4:5:6:7:8:9]",
            "[1::2::3]",
            "[::1.2.3.256]",
            "[::01.2.3.4]",
            "[::ffff:1x5.0.0.1]",
            "[::ffff:256.0.0.1]",
            "[1:2:3:4:5:6:7::8]",
            "[::1:2:3:4:5:6:7:8]",
            "[1:2:3:4:5:6:7:1.2.3.4]",
            "[v1.]",
            "ab%41{",
            "[12345::]",
            "[v.x]",
            "a@b",
            "a%4",
            "a/b",
        ] {
            assert!(!is_valid_host(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn resource_names() {
        use ResourceName::{Sent, SlashThen};
        for (sent, name) in [
            ("", Sent("/")),
            ("?", Sent("/")),
            ("/", Sent("/")),
            ("/?", Sent("/")),
            ("/chat", Sent("/chat")),
            ("/chat?", Sent("/chat")),
            ("/chat?x=1", Sent("/chat?x=1")),
            ("/chat??", Sent("/chat??")),
            ("?x=1", SlashThen("?x=1")),
            ("??", SlashThen("??")),
        ] {
            assert_eq!(resource_name(sent), name, "{sent:?}");
        }
        let mut to = String::from("old");
        assert_eq!(SlashThen("?x=1").as_str(&mut to), "/?x=1");
        assert_eq!(Sent("/a").as_str(&mut to), "/a");
    }

    #[test]
    fn targets() {
        use ResourceName::{Sent, SlashThen};
        let t = parse_target("/chat?x=1").unwrap();
        assert_eq!((t.resource, t.authority), (Sent("/chat?x=1"), None));
        let t = parse_target("/chat?").unwrap();
        assert_eq!((t.resource, t.authority), (Sent("/chat"), None));
        let t = parse_target("ws://example.com/chat?x=1").unwrap();
        assert_eq!(
            (t.resource, t.authority),
            (Sent("/chat?x=1"), Some("example.com"))
        );
        let t = parse_target("HTTPS://[::1]:8443").unwrap();
        assert_eq!((t.resource, t.authority), (Sent("/"), Some("[::1]:8443")));
        for scheme in ["http", "https", "ws", "wss"] {
            let target = alloc::format!("{scheme}://example.com?x=1");
            let t = parse_target(&target).unwrap();
            assert_eq!(
                (t.resource, t.authority),
                (SlashThen("?x=1"), Some("example.com"))
            );
            let target = alloc::format!("{scheme}://example.com?");
            let t = parse_target(&target).unwrap();
            assert_eq!((t.resource, t.authority), (Sent("/"), Some("example.com")));
        }
        for bad in [
            "*",
            "example.com:80",
            "chat",
            "/chat#frag",
            "/a b",
            "/a%zz",
            "/{x}",
            "ftp://example.com/",
            "ws://user@example.com/",
            "ws:///chat",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }
}
