//! `ws://` and `wss://` URLs (RFC 6455 §3): what a client connects to, and
//! the `Host` and request target of its upgrade request.

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt;

use super::client::ClientRequest;
use super::uri::ResourceName;

/// A parsed WebSocket URL.
///
/// ```
/// use wstate::WsUrl;
/// let url = WsUrl::parse("ws://[::1]:9001/chat?room=1").unwrap();
/// assert_eq!((url.host(), url.port(), url.is_secure()), ("::1", 9001, false));
/// assert_eq!(url.host_header(), "[::1]:9001");
/// assert_eq!(url.resource(), "/chat?room=1");
/// // Connect to (url.host(), url.port()), then:
/// let request = url.request();
/// assert_eq!((request.host, request.path), ("[::1]:9001", "/chat?room=1"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsUrl<'a> {
    secure: bool,
    host: &'a str,
    port: u16,
    authority: &'a str,
    resource: Cow<'a, str>,
}

/// Why a string is not a usable WebSocket URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// The scheme is not `ws` or `wss`.
    Scheme,
    /// The URL has userinfo (`user:pass@`): credentials belong in a header.
    Userinfo,
    /// The URL has a fragment: "Fragment identifiers are meaningless in the
    /// context of WebSocket URIs and MUST NOT be used" (RFC 6455 §3).
    Fragment,
    /// The host is empty or has characters a host may not contain.
    Host,
    /// The port is not a number from 1 to 65535.
    Port,
    /// The path or query has a character that may not appear in a URI.
    Path,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Scheme => "the scheme must be ws:// or wss://",
            Self::Userinfo => "user information in a WebSocket URL is not allowed",
            Self::Fragment => "a WebSocket URL may not have a #fragment",
            Self::Host => "missing or invalid host",
            Self::Port => "invalid port",
            Self::Path => "invalid character in the path or query",
        })
    }
}

impl core::error::Error for UrlError {}

impl<'a> WsUrl<'a> {
    /// Parses `ws://host[:port][/path][?query]` or the same with `wss://`.
    /// The port defaults to 80 (`ws`) or 443 (`wss`); an IPv6 host is
    /// written in brackets.
    pub fn parse(url: &'a str) -> Result<Self, UrlError> {
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::Scheme)?;
        let secure = if scheme.eq_ignore_ascii_case("ws") {
            false
        } else if scheme.eq_ignore_ascii_case("wss") {
            true
        } else {
            return Err(UrlError::Scheme);
        };
        if rest.contains('#') {
            return Err(UrlError::Fragment);
        }
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(end);
        if authority.contains('@') {
            return Err(UrlError::Userinfo);
        }
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            None | Some("") => {
                if secure {
                    443
                } else {
                    80
                }
            }
            Some(p) => parse_port(p)?,
        };
        // The same rule our server applies to the request target.
        if !super::uri::is_path_and_query(resource.as_bytes()) {
            return Err(UrlError::Path);
        }
        // RFC 6455 §3: "/" for an empty path, and "?" only before a
        // non-empty query.
        let resource = match super::uri::resource_name(resource) {
            ResourceName::Sent(name) => Cow::Borrowed(name),
            ResourceName::SlashThen(query) => {
                let mut r = String::with_capacity(query.len() + 1);
                r.push('/');
                r.push_str(query);
                Cow::Owned(r)
            }
        };
        Ok(Self {
            secure,
            host,
            port,
            authority,
            resource,
        })
    }

    /// Whether the scheme is `wss` (the caller must run TLS).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The host to connect to, without the brackets of an IPv6 literal.
    pub fn host(&self) -> &'a str {
        self.host
    }

    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `Host` header: the URL's host and port as written.
    pub fn host_header(&self) -> &'a str {
        self.authority
    }

    /// The request target: path and query, starting with `/`.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The upgrade request for this URL, with no subprotocols or extra
    /// headers (add them with [`ClientRequest`]'s builder methods).
    pub fn request(&self) -> ClientRequest<'_> {
        ClientRequest::new(self.authority, &self.resource)
    }
}

/// Splits `host[:port]` or `[v6][:port]`, checking the host.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), UrlError> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or(UrlError::Host)?;
        if !super::uri::is_ipv6(host.as_bytes()) {
            return Err(UrlError::Host);
        }
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(UrlError::Host),
            },
        };
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    // reg-name = *( unreserved / pct-encoded / sub-delims ) (RFC 3986 §3.2.2),
    // less the sub-delims no DNS name or address uses.
    let reg_name = |b: u8| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+=".contains(&b);
    if host.is_empty() || !host.bytes().all(reg_name) {
        return Err(UrlError::Host);
    }
    Ok((host, port))
}

fn parse_port(port: &str) -> Result<u16, UrlError> {
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::Port);
    }
    match port.parse() {
        Ok(0) | Err(_) => Err(UrlError::Port),
        Ok(p) => Ok(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_display_what_is_wrong() {
        let shown = [
            (UrlError::Scheme, "the scheme must be ws:// or wss://"),
            (
                UrlError::Userinfo,
                "user information in a WebSocket URL is not allowed",
            ),
            (
                UrlError::Fragment,
                "a WebSocket URL may not have a #fragment",
            ),
            (UrlError::Host, "missing or invalid host"),
            (UrlError::Port, "invalid port"),
            (UrlError::Path, "invalid character in the path or query"),
        ];
        for (error, text) in shown {
            assert_eq!(alloc::format!("{error}"), text);
        }
    }

    #[test]
    fn valid_urls() {
        // (url, secure, host, port, Host header, resource)
        let table: &[(&str, bool, &str, u16, &str, &str)] = &[
            (
                "ws://example.com",
                false,
                "example.com",
                80,
                "example.com",
                "/",
            ),
            (
                "wss://example.com",
                true,
                "example.com",
                443,
                "example.com",
                "/",
            ),
            (
                "WS://Example.com/",
                false,
                "Example.com",
                80,
                "Example.com",
                "/",
            ),
            ("ws://h:9001/chat", false, "h", 9001, "h:9001", "/chat"),
            ("ws://h:80/a/b?c=d&e", false, "h", 80, "h:80", "/a/b?c=d&e"),
            ("ws://h?x=1", false, "h", 80, "h", "/?x=1"),
            // RFC 6455 §3: "?" only for a non-empty query.
            (
                "ws://example.com/chat?",
                false,
                "example.com",
                80,
                "example.com",
                "/chat",
            ),
            (
                "wss://example.com/chat?",
                true,
                "example.com",
                443,
                "example.com",
                "/chat",
            ),
            ("ws://h?", false, "h", 80, "h", "/"),
            ("wss://h:8443?", true, "h", 8443, "h:8443", "/"),
            ("ws://h/?", false, "h", 80, "h", "/"),
            ("ws://h/a??", false, "h", 80, "h", "/a??"),
            ("wss://h?x", true, "h", 443, "h", "/?x"),
            ("wss://h:/p", true, "h", 443, "h:", "/p"),
            (
                "ws://127.0.0.1:1/",
                false,
                "127.0.0.1",
                1,
                "127.0.0.1:1",
                "/",
            ),
            ("ws://[::1]", false, "::1", 80, "[::1]", "/"),
            (
                "wss://[2001:db8::7]:65535/x",
                true,
                "2001:db8::7",
                65535,
                "[2001:db8::7]:65535",
                "/x",
            ),
            (
                "ws://[::ffff:1.2.3.4]:8080",
                false,
                "::ffff:1.2.3.4",
                8080,
                "[::ffff:1.2.3.4]:8080",
                "/",
            ),
            (
                "ws://xn--bcher-kva.example/%41",
                false,
                "xn--bcher-kva.example",
                80,
                "xn--bcher-kva.example",
                "/%41",
            ),
        ];
        for &(url, secure, host, port, header, resource) in table {
            let u = WsUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(
                (
                    u.is_secure(),
                    u.host(),
                    u.port(),
                    u.host_header(),
                    u.resource()
                ),
                (secure, host, port, header, resource),
                "{url}"
            );
            let r = u.request();
            assert_eq!((r.host, r.path), (header, resource), "{url}");
        }
    }

    #[test]
    fn invalid_urls() {
        use UrlError::*;
        let table: &[(&str, UrlError)] = &[
            ("http://example.com/", Scheme),
            ("example.com", Scheme),
            ("ws:/example.com", Scheme),
            ("wss//example.com", Scheme),
            ("ws://example.com/#frag", Fragment),
            ("ws://example.com#", Fragment),
            ("ws://user@example.com/", Userinfo),
            ("ws://user:pw@example.com/", Userinfo),
            ("ws://", Host),
            ("ws:///path", Host),
            ("ws://:80/", Host),
            ("ws://a b/", Host),
            ("ws://a,b/", Host),
            ("ws://[::1/", Host),
            ("ws://[]/", Host),
            ("ws://[1]/", Host),
            ("ws://[::1]x/", Host),
            ("ws://[::g]/", Host),
            ("ws://a:b:c/", Port),
            ("ws://h:0/", Port),
            ("ws://h:65536/", Port),
            ("ws://h:123456/", Port),
            // At most five digits, even when the value would fit.
            ("ws://h:000080/", Port),
            ("ws://h:+80/", Port),
            ("ws://h:port/", Port),
            ("ws://h/a b", Path),
            ("ws://h/a\"b", Path),
            ("ws://h/\u{e9}", Path),
        ];
        for &(url, error) in table {
            assert_eq!(WsUrl::parse(url), Err(error), "{url}");
        }
    }
}
