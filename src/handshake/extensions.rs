//! `Sec-WebSocket-Extensions` (RFC 6455 §9.1) parsing and the
//! permessage-deflate negotiation (RFC 7692 §7), as pure functions over the
//! header values: [`negotiate`] for a server, [`offer`] and
//! [`validate_response`] for a client. Nothing here compresses anything.

use alloc::string::{String, ToString};
use core::fmt;

use super::fields::is_tchar;
use crate::config::Config;
pub(crate) use crate::config::DeflateConfig;
#[cfg(test)]
use crate::deflate::Codec;
pub(crate) use crate::deflate::DeflateParams;
pub use crate::deflate::PERMESSAGE_DEFLATE;

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// Why a `Sec-WebSocket-Extensions` value, or a server's answer, is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionError {
    /// The value does not follow the RFC 6455 §9.1 grammar.
    Syntax,
    /// The server's response names an extension the client did not offer.
    NotOffered,
    /// The server's response accepts permessage-deflate more than once.
    Repeated,
    /// A permessage-deflate parameter that is unknown, repeated, has an
    /// invalid value, or is not allowed in a response.
    InvalidParameter,
}

impl fmt::Display for ExtensionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Syntax => "malformed Sec-WebSocket-Extensions",
            Self::NotOffered => "response names an extension that was not offered",
            Self::Repeated => "response accepts permessage-deflate twice",
            Self::InvalidParameter => "invalid permessage-deflate parameter",
        })
    }
}

impl core::error::Error for ExtensionError {}

// ---------------------------------------------------------------- parsing

fn skip_ows(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    i
}

/// A token starting at `i`: its text and the index after it.
fn token(b: &[u8], i: usize) -> Result<(&str, usize), ExtensionError> {
    let rest = b.get(i..).unwrap_or_default();
    let len = rest.iter().take_while(|&&c| is_tchar(c)).count();
    match rest.get(..len).map(core::str::from_utf8) {
        Some(Ok(t)) if len > 0 => Ok((t, i + len)),
        _ => Err(ExtensionError::Syntax),
    }
}

/// A parameter's value as written: a token, or the inside of a
/// quoted-string with its escapes still in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamValue<'a> {
    raw: &'a [u8],
}

impl ParamValue<'_> {
    /// The value's bytes after quoted-string unescaping.
    pub fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        let mut escaped = false;
        self.raw.iter().filter_map(move |&c| {
            if !escaped && c == b'\\' {
                escaped = true;
                return None;
            }
            escaped = false;
            Some(c)
        })
    }

    /// Whether the unescaped value is `s`.
    pub fn is(&self, s: &str) -> bool {
        self.bytes().eq(s.bytes())
    }
}

/// One `name[=value]` parameter of an extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param<'a> {
    /// The parameter name.
    pub name: &'a str,
    /// The value, if any.
    pub value: Option<ParamValue<'a>>,
}

/// A parameter starting at `i` (after the `;` and whitespace).
fn param(b: &[u8], i: usize) -> Result<(Param<'_>, usize), ExtensionError> {
    let (name, i) = token(b, i)?;
    let j = skip_ows(b, i);
    if b.get(j) != Some(&b'=') {
        return Ok((Param { name, value: None }, i));
    }
    let j = skip_ows(b, j + 1);
    if b.get(j) != Some(&b'"') {
        let (_, end) = token(b, j)?;
        let raw = b.get(j..end).unwrap_or_default();
        return Ok((
            Param {
                name,
                value: Some(ParamValue { raw }),
            },
            end,
        ));
    }
    // RFC 6455 §9.1: "When using the quoted-string syntax variant, the
    // value after quoted-string unescaping MUST conform to the 'token'
    // ABNF." So every unescaped byte is a tchar, and there is one at least.
    let (start, mut k, mut n) = (j + 1, j + 1, 0);
    loop {
        match b.get(k) {
            Some(b'"') if n > 0 => break,
            Some(b'\\') if b.get(k + 1).is_some_and(|&c| is_tchar(c)) => k += 2,
            Some(&c) if is_tchar(c) => k += 1,
            _ => return Err(ExtensionError::Syntax),
        }
        n += 1;
    }
    let raw = b.get(start..k).unwrap_or_default();
    Ok((
        Param {
            name,
            value: Some(ParamValue { raw }),
        },
        k + 1,
    ))
}

/// One extension of a `Sec-WebSocket-Extensions` value, already checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extension<'a> {
    name: &'a str,
    params: &'a [u8],
}

impl<'a> Extension<'a> {
    /// The extension token, e.g. `permessage-deflate`.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// Its parameters, in order.
    pub fn params(&self) -> Params<'a> {
        Params { rest: self.params }
    }
}

/// The parameters of an [`Extension`].
#[derive(Clone, Debug)]
pub struct Params<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let i = skip_ows(self.rest, 0);
        if self.rest.get(i) != Some(&b';') {
            return None;
        }
        // Checked when the extension was parsed, so this does not fail.
        let (p, end) = param(self.rest, skip_ows(self.rest, i + 1)).ok()?;
        self.rest = self.rest.get(end..).unwrap_or_default();
        Some(p)
    }
}

/// The extensions of a `Sec-WebSocket-Extensions` value, in order; see
/// [`parse`].
#[derive(Clone, Debug)]
pub struct Extensions<'a> {
    b: &'a [u8],
    i: usize,
}

/// Parses a `Sec-WebSocket-Extensions` value without allocating (RFC 6455
/// §9.1: `1#( token *( ";" token [ "=" ( token | quoted-string ) ] ) )`,
/// whitespace allowed around the separators, empty list elements skipped).
/// Join several header lines with `,` first. Yields an error for malformed
/// syntax, and then nothing more.
pub fn parse(value: &[u8]) -> Extensions<'_> {
    Extensions { b: value, i: 0 }
}

impl<'a> Iterator for Extensions<'a> {
    type Item = Result<Extension<'a>, ExtensionError>;

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.b;
        loop {
            self.i = skip_ows(b, self.i);
            match b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(_) => break,
                None => return None,
            }
        }
        let result = (|| {
            let (name, mut i) = token(b, self.i)?;
            let start = i;
            loop {
                let j = skip_ows(b, i);
                match b.get(j) {
                    None | Some(b',') => break,
                    Some(b';') => i = param(b, skip_ows(b, j + 1))?.1,
                    Some(_) => return Err(ExtensionError::Syntax),
                }
            }
            Ok((
                Extension {
                    name,
                    params: b.get(start..i).unwrap_or_default(),
                },
                i,
            ))
        })();
        match result {
            Ok((ext, end)) => {
                self.i = end;
                Some(Ok(ext))
            }
            Err(e) => {
                self.i = b.len();
                Some(Err(e))
            }
        }
    }
}

// ------------------------------------------------------------ negotiation

/// A client's `Sec-WebSocket-Extensions` value for `config`. The offer
/// browsers, node ws and websockets send is `permessage-deflate;
/// client_max_window_bits` (the defaults): it lets the server limit our
/// window.
///
/// ```
/// use wstate::DeflateConfig;
/// use wstate::handshake::extensions::offer;
/// assert_eq!(offer(&DeflateConfig::default()), "permessage-deflate; client_max_window_bits");
/// let small = DeflateConfig::default().with_server_max_window_bits(10);
/// assert_eq!(offer(&small), "permessage-deflate; server_max_window_bits=10; client_max_window_bits");
/// ```
pub fn offer(config: &DeflateConfig) -> String {
    let (server_bits, client_bits) = (config.server_max_window_bits, config.client_max_window_bits);
    let mut s = String::from(PERMESSAGE_DEFLATE);
    if config.server_no_context_takeover {
        s.push_str("; server_no_context_takeover");
    }
    if config.client_no_context_takeover {
        s.push_str("; client_no_context_takeover");
    }
    if server_bits < 15 {
        s.push_str("; server_max_window_bits=");
        s.push_str(&server_bits.to_string());
    }
    s.push_str("; client_max_window_bits");
    if client_bits < 15 {
        s.push('=');
        s.push_str(&client_bits.to_string());
    }
    s
}

/// The parameters of one permessage-deflate element, checked.
#[derive(Default)]
struct Parsed {
    server_nct: bool,
    client_nct: bool,
    server_max: Option<u8>,
    /// `Some(None)`: the parameter without a value.
    client_max: Option<Option<u8>>,
}

/// Window bits: RFC 7692 §7.1.2.1 "a decimal integer value without leading
/// zeroes between 8 to 15, inclusive". Quoted values count once unescaped.
fn window_bits(v: ParamValue<'_>) -> Option<u8> {
    let mut it = v.bytes();
    let n = match (it.next(), it.next(), it.next()) {
        (Some(d @ b'8'..=b'9'), None, _) => d - b'0',
        (Some(b'1'), Some(d @ b'0'..=b'5'), None) => 10 + d - b'0',
        _ => return None,
    };
    Some(n)
}

/// RFC 7692 §7: an element is unusable if it "contains an extension
/// parameter not defined for use in an offer", "an extension parameter
/// with an invalid value", or "multiple extension parameters with the same
/// name" (a server MUST decline it; a client MUST fail on a response).
fn parse_params(ext: &Extension<'_>) -> Result<Parsed, ExtensionError> {
    let bad = ExtensionError::InvalidParameter;
    let mut p = Parsed::default();
    for Param { name, value } in ext.params() {
        let no_value = |seen: &mut bool| {
            if *seen || value.is_some() {
                return Err(bad);
            }
            *seen = true;
            Ok(())
        };
        match name {
            SERVER_NO_CONTEXT_TAKEOVER => no_value(&mut p.server_nct)?,
            CLIENT_NO_CONTEXT_TAKEOVER => no_value(&mut p.client_nct)?,
            SERVER_MAX_WINDOW_BITS if p.server_max.is_none() => {
                // §7.1.2.1: this parameter always has a value.
                p.server_max = Some(value.and_then(window_bits).ok_or(bad)?);
            }
            CLIENT_MAX_WINDOW_BITS if p.client_max.is_none() => {
                p.client_max = Some(match value {
                    None => None,
                    Some(v) => Some(window_bits(v).ok_or(bad)?),
                });
            }
            _ => return Err(bad),
        }
    }
    Ok(p)
}

/// [`negotiate`] against what `config` accepts: `None` when it has
/// permessage-deflate off. The one place every server handshake (HTTP/1.1,
/// extended CONNECT, an upgrade parsed elsewhere) answers the offers.
pub(crate) fn answer<'a, I>(values: I, config: &Config) -> Option<DeflateParams>
where
    I: IntoIterator<Item = &'a [u8]> + Clone,
{
    config.deflate().and_then(|ours| negotiate(values, ours))
}

/// The server's side (RFC 7692 §5, §7): goes through the permessage-deflate
/// offers of `values` (the `Sec-WebSocket-Extensions` lines, in order) and
/// accepts the first usable one; `None` declines them all. A malformed
/// header declines everything, and other extensions are ignored. The
/// answer is exactly what we will do: write it with `to_string()`.
pub fn negotiate<'a, I>(values: I, config: &DeflateConfig) -> Option<DeflateParams>
where
    I: IntoIterator<Item = &'a [u8]> + Clone,
{
    if !config.enabled {
        return None;
    }
    let all = || values.clone().into_iter().flat_map(parse);
    if all().any(|e| e.is_err()) {
        return None;
    }
    all()
        .filter_map(Result::ok)
        .filter(|e| e.name() == PERMESSAGE_DEFLATE)
        .find_map(|e| accept(&e, config))
}

/// A server's answer to one offer, or `None` to decline it.
fn accept(offer: &Extension<'_>, config: &DeflateConfig) -> Option<DeflateParams> {
    // §7: "A server MUST decline an extension negotiation offer for this
    // extension if any of the following conditions are met" (see
    // `parse_params`). Every valid value is supported here: 8 included,
    // compressed at 9 (zlib-rs's longest distance then is 250 < 256).
    let p = parse_params(offer).ok()?;
    let ours = config.server_max_window_bits.clamp(8, 15);
    let server_max_window_bits = match p.server_max {
        // §7.1.2.1: "A server accepts an extension negotiation offer with
        // this parameter by including the "server_max_window_bits"
        // extension parameter in the extension negotiation response to
        // send back to the client with the same or smaller value as the
        // offer." It "MAY include [it] ... even if the extension
        // negotiation offer being accepted by the response didn't include"
        // it.
        Some(n) => Some(n.min(ours)),
        None => (ours < 15).then_some(ours),
    };
    let limit = config.client_max_window_bits.clamp(8, 15);
    let client_max_window_bits = match p.client_max {
        // §7.1.2.2: "If a received extension negotiation offer doesn't
        // have the "client_max_window_bits" extension parameter, the
        // corresponding extension negotiation response to the offer MUST
        // NOT include the "client_max_window_bits" extension parameter."
        None => None,
        // With a value, the answer is "a value equal to or smaller than
        // the received value".
        Some(Some(n)) => Some(n.min(limit)),
        Some(None) => (limit < 15).then_some(limit),
    };
    Some(DeflateParams {
        server_max_window_bits,
        client_max_window_bits,
        // §7.1.1.1: "A server accepts an extension negotiation offer that
        // includes the "server_no_context_takeover" extension parameter by
        // including the "server_no_context_takeover" extension parameter in
        // the corresponding extension negotiation response".
        server_no_context_takeover: p.server_nct || config.server_no_context_takeover,
        // §7.1.1.2: the server may use the client's hint "to avoid taking
        // over the LZ77 sliding window unnecessarily by including" it: we
        // do, so that our decompressor may be freed between messages.
        client_no_context_takeover: p.client_nct || config.client_no_context_takeover,
    })
}

/// The client's side: checks the server's `Sec-WebSocket-Extensions`
/// lines against the offer made from `offered` (`None`: the client offered
/// no extension, so any is refused). `Ok(None)`: no extension in use. Any
/// error fails the connection.
pub fn validate_response<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
    offered: Option<&DeflateConfig>,
) -> Result<Option<DeflateParams>, ExtensionError> {
    let mut accepted = None;
    for ext in values.into_iter().flat_map(parse) {
        let ext = ext?;
        // RFC 6455 §4.1: if the response "indicates the use of an extension
        // that was not present in the client's handshake (the server has
        // indicated an extension not requested by the client), the client
        // MUST _Fail the WebSocket Connection_."
        let Some(config) = offered.filter(|_| ext.name() == PERMESSAGE_DEFLATE) else {
            return Err(ExtensionError::NotOffered);
        };
        // RFC 7692 §5: a client that received a response accepting a PMCE
        // "together with such an extension" (one conflicting on RSV1) "MUST
        // _Fail the WebSocket Connection_": a second permessage-deflate does.
        if accepted.is_some() {
            return Err(ExtensionError::Repeated);
        }
        // §7: "A client MUST _Fail the WebSocket Connection_ if the peer
        // server accepted an extension negotiation offer for this extension
        // with an extension negotiation response" with an unknown,
        // duplicate or invalid parameter, or a configuration it does not
        // support.
        let p = parse_params(&ext)?;
        let bad = ExtensionError::InvalidParameter;
        let client_max_window_bits = match p.client_max {
            None => None,
            // §7.1.2.2: the server answers "with a value equal to or
            // smaller than the received value": a bare parameter is
            // invalid in a response.
            Some(None) => return Err(bad),
            Some(Some(n)) if n > config.client_max_window_bits.clamp(8, 15) => return Err(bad),
            Some(Some(n)) => Some(n),
        };
        // §7.1.2.1: the server answers "with the same or smaller value as
        // the offer"; without a value offered (15) anything valid fits.
        if p.server_max
            .is_some_and(|n| n > config.server_max_window_bits.clamp(8, 15))
        {
            return Err(bad);
        }
        accepted = Some(DeflateParams {
            server_max_window_bits: p.server_max,
            client_max_window_bits,
            server_no_context_takeover: p.server_nct,
            // Offered, it is our promise (§7.1.1.2's "hint"): keep it.
            client_no_context_takeover: p.client_nct || config.client_no_context_takeover,
        });
    }
    Ok(accepted)
}

#[cfg(test)]
mod tests;
