//! Subprotocol negotiation (RFC 6455 §1.9, §4.1, §4.2.2), written once for
//! HTTP/1.1 and HTTP/2 ("Sec-WebSocket-Protocol ... header fields are used
//! in the CONNECT request and response header fields as defined in
//! \[RFC6455\]", RFC 8441 §5): the offer a client makes and a server
//! checks, and the choice a server makes and a client checks.

use alloc::vec::Vec;

use super::fields::{is_token, split_list};
use crate::error::SendError;

/// The peer's subprotocol field breaks RFC 6455; the caller says how.
#[derive(Debug)]
pub(crate) struct Refused;

/// "The elements that comprise this value MUST be non-empty strings with
/// characters in the range U+0021 to U+007E not including separator
/// characters as defined in \[RFC2616\] and MUST all be unique strings"
/// (RFC 6455 §4.1; the ABNF of §4.3: `1#token`). `values` are the
/// `Sec-WebSocket-Protocol` field values of a request, each a list.
pub(crate) fn check_offered<'a>(values: impl Iterator<Item = &'a [u8]>) -> Result<(), Refused> {
    let mut offered: Vec<&[u8]> = values.flat_map(split_list).collect();
    if !offered.iter().all(|p| is_token(p)) {
        return Err(Refused);
    }
    offered.sort_unstable();
    if offered.windows(2).any(|w| w[0] == w[1]) {
        return Err(Refused);
    }
    Ok(())
}

/// The same rule for what a client is asked to offer.
pub(crate) fn can_offer(protocols: &[&str]) -> bool {
    protocols
        .iter()
        .enumerate()
        .all(|(i, p)| is_token(p.as_bytes()) && !protocols[..i].contains(p))
}

/// The server's choice in a response whose `Sec-WebSocket-Protocol` field
/// values are `values`, against `offered` (the client's offer, joined with
/// `", "`): none if there is no such field.
///
/// "If the response includes a |Sec-WebSocket-Protocol| header field and
/// this header field indicates the use of a subprotocol that was not
/// present in the client's handshake (the server has indicated a
/// subprotocol not requested by the client), the client MUST _Fail the
/// WebSocket Connection_" (RFC 6455 §4.1), and the server answers "a
/// single value representing the subprotocol" (§4.2.2; the ABNF of §4.3:
/// `Sec-WebSocket-Protocol-Server = token`). So the field, when present,
/// is exactly one of the offered tokens, once: a field that is empty, a
/// list (`,` included), repeated, or names a subprotocol not offered is
/// refused.
pub(crate) fn check_chosen<'a>(
    mut values: impl Iterator<Item = &'a [u8]>,
    offered: &str,
) -> Result<Option<&'a str>, Refused> {
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() || !is_token(value) {
        return Err(Refused);
    }
    let chosen = core::str::from_utf8(value).map_err(|_| Refused)?;
    if !offered.split(", ").any(|o| o == chosen) {
        return Err(Refused);
    }
    Ok(Some(chosen))
}

/// A server's choice (RFC 6455 §4.2.2: "the server MUST ... select one
/// or none of the acceptable protocols" the client offered): `chosen`, if
/// any, must be one of the `offered` field values' tokens, compared
/// exactly.
pub(crate) fn check_choice<'a>(
    offered: impl Iterator<Item = &'a [u8]>,
    chosen: Option<&str>,
) -> Result<(), SendError> {
    match chosen {
        Some(chosen) if !offered.flat_map(split_list).any(|o| o == chosen.as_bytes()) => {
            Err(SendError::SubprotocolNotOffered)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_are_distinct_tokens() {
        let ok = |values: &[&[u8]]| check_offered(values.iter().copied()).is_ok();
        assert!(ok(&[]));
        assert!(ok(&[b"chat, superchat", b"v2"]));
        assert!(ok(&[b"chat, Chat"]));
        assert!(ok(&[b"chat, , v2"]));
        assert!(!ok(&[b"chat, chat"]));
        assert!(!ok(&[b"chat", b"chat"]));
        assert!(!ok(&[b"a b"]));
        assert!(!ok(&[b"\"chat\""]));
        assert!(!ok(&[b"a/b"]));
        assert!(can_offer(&[]));
        assert!(can_offer(&["chat", "Chat"]));
        assert!(!can_offer(&["chat", "chat"]));
        assert!(!can_offer(&[""]));
        assert!(!can_offer(&["a,b"]));
    }

    #[test]
    fn a_server_chooses_an_offered_token_or_none() {
        let offered = [&b"chat, superchat"[..], b"v2"];
        let choose = |chosen| check_choice(offered.iter().copied(), chosen);
        for ok in [None, Some("chat"), Some("superchat"), Some("v2")] {
            assert_eq!(choose(ok), Ok(()), "{ok:?}");
        }
        for bad in ["Chat", "chat, superchat", "", "v"] {
            assert_eq!(
                choose(Some(bad)),
                Err(SendError::SubprotocolNotOffered),
                "{bad:?}"
            );
        }
        assert_eq!(check_choice(core::iter::empty(), None), Ok(()));
        assert_eq!(
            check_choice(core::iter::empty(), Some("chat")),
            Err(SendError::SubprotocolNotOffered)
        );
    }

    #[test]
    fn chosen_is_one_offered_token() {
        let one = |v: &'static [u8]| check_chosen([v].into_iter(), "chat, superchat").ok();
        assert_eq!(one(b"chat"), Some(Some("chat")));
        assert_eq!(one(b"superchat"), Some(Some("superchat")));
        for bad in [
            &b""[..],
            b",",
            b"chat,",
            b", chat",
            b"chat, superchat",
            b"Chat",
        ] {
            assert_eq!(one(bad), None, "{bad:?}");
        }
        assert_eq!(one(b"\"chat\""), None);
        let twice = [&b"chat"[..], b"chat"];
        assert!(check_chosen(twice.into_iter(), "chat").is_err());
        assert!(check_chosen([&b"chat"[..]].into_iter(), "").is_err());
        assert!(check_chosen([&b""[..]].into_iter(), "").is_err());
        assert_eq!(check_chosen(core::iter::empty(), "").ok(), Some(None));
    }
}
