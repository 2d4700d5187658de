//! Properties of permessage-deflate (RFC 7692, feature `deflate`): the
//! `Sec-WebSocket-Extensions` parser and negotiation (`extensions`), and a
//! connection receiving compressed messages (`deflate_receive`).
//!
//! The negotiation is checked against a model written here from RFC 6455
//! §9.1 (grammar) and RFC 7692 §7 (rules), not by asking the crate.

use super::common::{Ev, Setup, Summary, Transcript, drain, entropy, summary};
use super::receive::{
    ANNOUNCED_ALLOWANCE, check_counter, check_receive_transcript, join_parts, ours,
};
use wstate::DeflateParams;
use wstate::handshake::extensions::{self, PERMESSAGE_DEFLATE, validate_response};
use wstate::wire::frame::FrameHeader;
use wstate::{
    Accept, ClientRequest, Config, Connection, DeflateConfig, Error, Event, Message, Polled,
};

// ---------------------------------------------------------------------------
// extensions: the model
// ---------------------------------------------------------------------------

/// One element of a `Sec-WebSocket-Extensions` list, as the model reads it:
/// the name and the parameters with their unescaped values.
#[derive(Clone, Debug, PartialEq, Eq)]
struct MExt {
    name: String,
    params: Vec<(String, Option<String>)>,
}

/// RFC 9110 §5.6.2 `tchar`.
fn m_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn m_token(s: &[u8]) -> Option<String> {
    (!s.is_empty() && s.iter().all(|&c| m_tchar(c)))
        .then(|| String::from_utf8(s.to_vec()).expect("tchars are ASCII"))
}

/// Strips optional whitespace (SP, HTAB) on both sides.
fn m_trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// A parameter value: a token, or a quoted-string whose unescaped value is
/// a token (RFC 6455 §9.1). A quoted-pair may only escape a tchar, since
/// anything else would not be a token once unescaped.
fn m_value(s: &[u8]) -> Option<String> {
    let Some(inner) = s.strip_prefix(b"\"") else {
        return m_token(s);
    };
    let inner = inner.strip_suffix(b"\"")?;
    let mut out = Vec::new();
    let mut it = inner.iter();
    while let Some(&c) = it.next() {
        let c = if c == b'\\' { *it.next()? } else { c };
        if !m_tchar(c) {
            return None;
        }
        out.push(c);
    }
    m_token(&out)
}

/// Parses header lines into their elements by splitting: at `,` (elements,
/// empty ones skipped), then `;` (name, parameters), then the first `=`.
/// Splitting is safe because a valid quoted value holds only tchars and
/// backslashes. `None`: some line does not follow the grammar.
fn model_parse(lines: &[&[u8]]) -> Option<Vec<MExt>> {
    let mut exts = Vec::new();
    for line in lines {
        for element in line.split(|&c| c == b',') {
            let element = m_trim(element);
            if element.is_empty() {
                continue;
            }
            let mut parts = element.split(|&c| c == b';');
            let name = m_token(m_trim(parts.next()?))?;
            let mut params = Vec::new();
            for part in parts {
                let part = m_trim(part);
                params.push(match part.iter().position(|&c| c == b'=') {
                    None => (m_token(part)?, None),
                    Some(i) => (
                        m_token(m_trim(&part[..i]))?,
                        Some(m_value(m_trim(&part[i + 1..]))?),
                    ),
                });
            }
            exts.push(MExt { name, params });
        }
    }
    Some(exts)
}

/// The permessage-deflate parameters of one element (RFC 7692 §7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct MParams {
    snct: bool,
    cnct: bool,
    smwb: Option<u8>,
    /// `Some(None)`: present without a value.
    cmwb: Option<Option<u8>>,
}

/// §7.1.2.1: "a decimal integer value without leading zeroes between 8 to
/// 15, inclusive".
fn m_bits(v: &str) -> Option<u8> {
    if v.starts_with('0') || v.len() > 2 || !v.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    v.parse().ok().filter(|n| (8..=15).contains(n))
}

/// §7: an element with "an extension parameter not defined for use in an
/// offer/a response", "an extension parameter with an invalid value" or
/// "multiple extension parameters with the same name" is unusable. In a
/// response, `client_max_window_bits` needs a value (§7.1.2.2: the server
/// answers "with a value equal to or smaller than the received value").
fn m_params(params: &[(String, Option<String>)], response: bool) -> Option<MParams> {
    let mut p = MParams::default();
    let mut seen = [false; 4];
    for (name, value) in params {
        let i = [
            "server_no_context_takeover",
            "client_no_context_takeover",
            "server_max_window_bits",
            "client_max_window_bits",
        ]
        .iter()
        .position(|n| n == name)?;
        if std::mem::replace(&mut seen[i], true) {
            return None;
        }
        let value = value.as_deref();
        match i {
            0 | 1 if value.is_some() => return None,
            0 => p.snct = true,
            1 => p.cnct = true,
            2 => p.smwb = Some(m_bits(value?)?),
            _ => {
                p.cmwb = Some(match value {
                    None if response => return None,
                    None => None,
                    Some(v) => Some(m_bits(v)?),
                })
            }
        }
    }
    Some(p)
}

/// Window bits as a configuration means them: clamped to 8-15.
fn clamp(bits: u8) -> u8 {
    bits.clamp(8, 15)
}

/// A `DeflateConfig` from 3 input bytes, built through its public
/// builder: flags (`0x01` none: permessage-deflate off, `0x02`
/// server_no_context_takeover, `0x04` client_no_context_takeover), then
/// server and client max window bits, each % 20 (so also below 8 and above
/// 15, which the builder clamps).
fn deflate_config(b: [u8; 3]) -> Option<DeflateConfig> {
    let c = DeflateConfig::default()
        .with_server_no_context_takeover(b[0] & 0x02 != 0)
        .with_client_no_context_takeover(b[0] & 0x04 != 0)
        .with_server_max_window_bits(b[1] % 20)
        .with_client_max_window_bits(b[2] % 20);
    (b[0] & 0x01 == 0).then_some(c)
}

/// Pieces for the structured mode of `extensions`, one per input byte % 32.
const VOCABULARY: [&str; 32] = [
    "permessage-deflate",
    "x-webkit-deflate-frame",
    "; ",
    ";",
    ", ",
    ",",
    " ",
    "\t",
    "=",
    "\"",
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
    "8",
    "9",
    "10",
    "12",
    "15",
    "16",
    "7",
    "08",
    "1",
    "\\",
    "foo",
    "\n",
    "\"1\\0\"",
    "\"9\"",
    "Permessage-Deflate",
    "=\"",
    "1\\5",
    "x",
];

// ---------------------------------------------------------------------------
// extensions
// ---------------------------------------------------------------------------

/// The extension header parser and the permessage-deflate negotiation.
///
/// Input: byte 0, `0x01`: the header is built from [`VOCABULARY`] (one
/// piece per byte) rather than taken as is; bytes 1-3: the server's
/// [`deflate_config`], bytes 4-6: the client's; the rest: the header value,
/// split into lines at `\n`.
///
/// * `negotiate` never panics, and accepts exactly when the server is
///   enabled, every line follows the §9.1 grammar and some permessage-deflate
///   offer is usable (§7); its answer obeys §7 for the first usable offer
///   and the server's configuration ([`check_answer`]).
/// * The answer written with `to_string()` parses back (crate and model) as
///   one permessage-deflate element saying the same, and a client that made
///   that offer (one our client could make: with `client_max_window_bits`)
///   accepts it with `validate_response`, with the same parameters.
/// * `validate_response` on the header never panics and agrees with the
///   model of a client with the client's configuration: `Ok(None)` for no
///   element, `Ok(Some)` for exactly one valid permessage-deflate answer
///   within what the client offered, else an error.
/// * The client's own offer (`DeflateConfig::offer`) is a usable offer
///   saying what its configuration says, and passes through `negotiate` and
///   `validate_response` as above.
pub(crate) fn extensions(data: &[u8]) {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let server = deflate_config([byte(1), byte(2), byte(3)]);
    let client = deflate_config([byte(4), byte(5), byte(6)]);
    let rest = data.get(7..).unwrap_or_default();
    let value: Vec<u8> = if byte(0) & 0x01 != 0 {
        rest.iter()
            .flat_map(|&b| VOCABULARY[usize::from(b % 32)].bytes())
            .collect()
    } else {
        rest.to_vec()
    };
    let lines: Vec<&[u8]> = value.split(|&c| c == b'\n').collect();
    check_negotiate(&lines, server.as_ref());
    check_validate(&lines, client.as_ref());

    // Our client's offer.
    if let Some(client) = &client {
        let offer = extensions::offer(client);
        let exts = model_parse(&[offer.as_bytes()]).expect("our offer parses");
        assert_eq!(exts.len(), 1, "{offer}");
        assert_eq!(exts[0].name, PERMESSAGE_DEFLATE);
        let p = m_params(&exts[0].params, false).expect("our offer is usable");
        let (s, c) = (
            clamp(client.server_max_window_bits()),
            clamp(client.client_max_window_bits()),
        );
        let want = MParams {
            snct: client.server_no_context_takeover(),
            cnct: client.client_no_context_takeover(),
            smwb: (s < 15).then_some(s),
            // Always offered: it lets the server limit our window.
            cmwb: Some((c < 15).then_some(c)),
        };
        assert_eq!(p, want, "{offer}");
        let answer = check_negotiate(&[offer.as_bytes()], server.as_ref());
        assert_eq!(answer.is_some(), server.is_some(), "{offer}");
        if let Some(answer) = answer {
            let s = answer.to_string();
            assert_eq!(
                validate_response([s.as_bytes()], Some(client)),
                Ok(Some(answer)),
                "{offer} -> {s}"
            );
        }
    }
}

/// `negotiate(lines, server)` against the model; returns its answer.
fn check_negotiate(lines: &[&[u8]], server: Option<&DeflateConfig>) -> Option<DeflateParams> {
    let got = server.and_then(|server| extensions::negotiate(lines.iter().copied(), server));
    // §5: a server accepts "one" offer; this one takes the first usable.
    // A header that breaks the grammar is declined whole.
    let offer = model_parse(lines)
        .filter(|_| server.is_some())
        .and_then(|exts| {
            exts.iter()
                .filter(|e| e.name == PERMESSAGE_DEFLATE)
                .find_map(|e| m_params(&e.params, false))
        });
    assert_eq!(
        got.is_some(),
        offer.is_some(),
        "negotiate({lines:?}) = {got:?}, model offer {offer:?}"
    );
    let (p, offer) = (got?, offer?);
    check_answer(&p, &offer, server?);
    check_round_trip(&p, &offer);
    Some(p)
}

/// RFC 7692 §7 rules on the server's answer `p` to `offer`, and the
/// server's configuration.
fn check_answer(p: &DeflateParams, offer: &MParams, server: &DeflateConfig) {
    let ctx = format!("answer {p:?} to {offer:?} with {server:?}");
    let (s_limit, c_limit) = (
        clamp(server.server_max_window_bits()),
        clamp(server.client_max_window_bits()),
    );
    // §7.1.1.1: "A server accepts an extension negotiation offer that
    // includes the "server_no_context_takeover" extension parameter by
    // including [it] in the corresponding extension negotiation response".
    // And a server configured for it uses it (a server may always add it).
    if offer.snct || server.server_no_context_takeover() {
        assert!(p.server_no_context_takeover, "{ctx}");
    }
    // §7.1.1.2: the server may include "client_no_context_takeover" in any
    // answer; configured, it does.
    if server.client_no_context_takeover() {
        assert!(p.client_no_context_takeover, "{ctx}");
    }
    // §7.1.2.1: an offer with "server_max_window_bits" is accepted "by
    // including the "server_max_window_bits" extension parameter ... with
    // the same or smaller value as the offer"; without it in the offer the
    // server may include it anyway. We compress with what we announce (15
    // when absent), which may not exceed our configuration.
    if let Some(n) = offer.smwb {
        assert!(p.server_max_window_bits.is_some_and(|m| m <= n), "{ctx}");
    }
    if let Some(m) = p.server_max_window_bits {
        assert!((8..=15).contains(&m), "{ctx}");
    }
    assert!(p.server_max_window_bits.unwrap_or(15) <= s_limit, "{ctx}");
    // §7.1.2.2: "If a received extension negotiation offer doesn't have the
    // "client_max_window_bits" extension parameter, the corresponding
    // extension negotiation response to the offer MUST NOT include" it; with
    // a value, the answer's is "equal to or smaller than the received
    // value". We ask for our limit whenever the offer lets us.
    match offer.cmwb {
        None => assert_eq!(p.client_max_window_bits, None, "{ctx}"),
        Some(n) => {
            if let Some(m) = p.client_max_window_bits {
                assert!((8..=15).contains(&m), "{ctx}");
                assert!(m <= n.unwrap_or(15), "{ctx}");
            }
            if c_limit < 15 {
                assert!(
                    p.client_max_window_bits.is_some_and(|m| m <= c_limit),
                    "{ctx}"
                );
            }
        }
    }
}

/// The answer's text parses back (with `parse` and with the model) as one
/// permessage-deflate element saying exactly `p`, valid as a response, and
/// the client that made `offer` accepts it.
fn check_round_trip(p: &DeflateParams, offer: &MParams) {
    let s = p.to_string();
    let parsed: Vec<_> = extensions::parse(s.as_bytes()).collect();
    assert_eq!(parsed.len(), 1, "{s}");
    let ext = parsed[0].unwrap_or_else(|e| panic!("{s}: {e}"));
    assert_eq!(ext.name(), PERMESSAGE_DEFLATE);
    let model = model_parse(&[s.as_bytes()]).unwrap_or_else(|| panic!("{s}"));
    assert_eq!(model.len(), 1, "{s}");
    let crate_params: Vec<(String, Option<String>)> = ext
        .params()
        .map(|q| {
            let v = q
                .value
                .map(|v| String::from_utf8(v.bytes().collect()).unwrap());
            (q.name.to_owned(), v)
        })
        .collect();
    assert_eq!(crate_params, model[0].params, "{s}");
    let said = m_params(&model[0].params, true).unwrap_or_else(|| panic!("invalid answer {s}"));
    let meant = MParams {
        snct: p.server_no_context_takeover,
        cnct: p.client_no_context_takeover,
        smwb: p.server_max_window_bits,
        cmwb: p.client_max_window_bits.map(Some),
    };
    assert_eq!(said, meant, "{s}");
    // Our client always offers client_max_window_bits; other offers are
    // not ones it makes.
    let Some(cmwb) = offer.cmwb else { return };
    let client = DeflateConfig::default()
        .with_server_no_context_takeover(offer.snct)
        .with_client_no_context_takeover(offer.cnct)
        .with_server_max_window_bits(offer.smwb.unwrap_or(15))
        .with_client_max_window_bits(cmwb.unwrap_or(15));
    assert_eq!(
        validate_response([s.as_bytes()], Some(&client)),
        Ok(Some(*p)),
        "{s} for {client:?}"
    );
}

/// `validate_response(lines, client)` against the model.
fn check_validate(lines: &[&[u8]], client: Option<&DeflateConfig>) {
    let got = validate_response(lines.iter().copied(), client);
    let model = (|| {
        let exts = model_parse(lines).ok_or("syntax")?;
        let mut accepted = None;
        for e in exts {
            // RFC 6455 §4.1: an extension "not present in the client's
            // handshake" fails the connection; so does a second answer.
            let Some(client) = client.filter(|_| e.name == PERMESSAGE_DEFLATE) else {
                return Err("not offered");
            };
            if accepted.is_some() {
                return Err("repeated");
            }
            let p = m_params(&e.params, true).ok_or("invalid parameter")?;
            // §7.1.2: window bits at most what we offered (15 unsaid).
            if p.smwb
                .is_some_and(|n| n > clamp(client.server_max_window_bits()))
                || p.cmwb.flatten().unwrap_or(8) > clamp(client.client_max_window_bits())
            {
                return Err("more than offered");
            }
            accepted = Some(p);
        }
        Ok(accepted)
    })();
    let ctx = format!("validate_response({lines:?}, {client:?}) = {got:?}, model {model:?}");
    match (&got, model) {
        (Ok(None), Ok(None)) | (Err(_), Err(_)) => {}
        (Ok(Some(p)), Ok(Some(m))) => {
            let client = client.expect("accepted only when offered");
            assert_eq!(p.server_max_window_bits, m.smwb, "{ctx}");
            assert_eq!(p.client_max_window_bits, m.cmwb.flatten(), "{ctx}");
            assert_eq!(p.server_no_context_takeover, m.snct, "{ctx}");
            // Offered, it is our promise: kept whatever the answer says.
            assert_eq!(
                p.client_no_context_takeover,
                m.cnct || client.client_no_context_takeover(),
                "{ctx}"
            );
            // What we will do respects our configuration.
            assert!(
                p.client_max_window_bits
                    .is_none_or(|n| n <= clamp(client.client_max_window_bits())),
                "{ctx}"
            );
        }
        _ => panic!("{ctx}"),
    }
}

// ---------------------------------------------------------------------------
// deflate_receive
// ---------------------------------------------------------------------------

/// What a decompressor may hold on top of the buffers: zlib-rs's inflate
/// state with its 32 KiB window (about 47 KB, `DeflateConfig`'s docs), with
/// room for a compressor's (about 380 KB at 15 bits) should one be built.
pub(crate) const ZLIB_STATE: usize = 400 << 10;

/// The mask key of the frames built for a server.
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// How `deflate_receive` reads its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// The stream is the input, as is.
    Raw,
    /// Records `b0, len (u16 BE), payload`: one frame each with that first
    /// byte, masked for a server.
    Frames,
    /// Records `kind, len (u16 BE), data`: messages that the peer (a
    /// `Connection` with the same negotiation) sends, compressed.
    Messages,
}

/// The setup of a `deflate_receive` input (bytes 0-1).
#[derive(Clone, Copy, Debug)]
struct DSetup {
    /// The connection under test is the client (else the server).
    client: bool,
    eof: bool,
    /// max_message_size 1000 and max_frame_size 2000 (else 64 KiB and 80
    /// KiB).
    tiny: bool,
    /// The client's offer: 0 and 3 the default (`permessage-deflate;
    /// client_max_window_bits`), 1 no context takeover both ways, 2 window
    /// bits 9 both ways.
    offer: u8,
    mode: Mode,
    /// The peer's `min_compress_size` (Messages mode): 0 or 16.
    peer_min: usize,
}

impl DSetup {
    fn limits(&self) -> Config {
        if self.tiny {
            Config::default()
                .with_max_message_size(1000)
                .with_max_frame_size(2000)
        } else {
            Config::default()
                .with_max_message_size(64 << 10)
                .with_max_frame_size(80 << 10)
        }
    }

    fn offer(&self) -> DeflateConfig {
        let c = DeflateConfig::default();
        match self.offer {
            1 => c
                .with_client_no_context_takeover(true)
                .with_server_no_context_takeover(true),
            2 => c
                .with_client_max_window_bits(9)
                .with_server_max_window_bits(9),
            _ => c,
        }
    }

    /// What the server answers to the offer.
    fn params(&self) -> &'static str {
        match self.offer {
            1 => "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            2 => "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9",
            _ => "permessage-deflate",
        }
    }

    /// The connection under test and its peer, through a real handshake
    /// (the client offers [`offer`](Self::offer), the server accepts with
    /// the defaults); the peer's messages of at least `peer_min` bytes are
    /// compressed.
    fn connect(&self) -> (Connection, Connection) {
        self.connect_with(None)
    }

    /// [`connect`](Self::connect), the connection under test receiving in
    /// parts of at most `parts` bytes if given.
    fn connect_with(&self, parts: Option<usize>) -> (Connection, Connection) {
        let peer_min = |c: DeflateConfig, peer: bool| {
            if peer {
                c.with_min_compress_size(self.peer_min)
            } else {
                c
            }
        };
        let tested = |c: Config, peer: bool| {
            if peer { c } else { c.with_receive_parts(parts) }
        };
        let client_config = tested(
            self.limits()
                .with_deflate(Some(peer_min(self.offer(), !self.client))),
            !self.client,
        );
        let server_config = tested(
            self.limits()
                .with_deflate(Some(peer_min(DeflateConfig::default(), self.client))),
            self.client,
        );
        let mut request = Vec::new();
        let mut c = Connection::client(
            &ClientRequest::new("h", "/"),
            entropy(0x5eed),
            client_config,
            &mut request,
        )
        .expect("a valid request");
        let mut s = Connection::server(server_config);
        s.receive(&request);
        let mut response = Vec::new();
        match s.poll_event(&mut response) {
            Polled::Event(Event::Request(_), tx) => tx
                .accept(&Accept::new(), &mut response)
                .expect("accept the request"),
            other => panic!("{other:?}"),
        }
        c.receive(&response);
        match c.poll_event(&mut Vec::new()) {
            Polled::Event(Event::Accepted(a), _) => {
                assert_eq!(a.deflate(), s.deflate().copied());
            }
            other => panic!("{other:?}"),
        }
        let params = s.deflate().expect("deflate negotiated").to_string();
        assert_eq!(params, self.params());
        assert_eq!(c.deflate(), s.deflate());
        if self.client { (c, s) } else { (s, c) }
    }
}

fn d_setup(data: &[u8]) -> DSetup {
    let flags = data.first().copied().unwrap_or(0);
    DSetup {
        client: flags & 0x01 != 0,
        eof: flags & 0x02 != 0,
        tiny: flags & 0x04 != 0,
        offer: (flags >> 3) & 0x03,
        mode: match (flags >> 5) & 0x03 {
            0 => Mode::Raw,
            1 => Mode::Frames,
            _ => Mode::Messages,
        },
        peer_min: if flags & 0x80 != 0 { 16 } else { 0 },
    }
}

/// The records of the Frames and Messages modes: a byte, a u16 BE length
/// and that many bytes (fewer at the end).
fn records(mut body: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while let [b, rest @ ..] = body {
        let (len, rest) = match rest {
            [hi, lo, rest @ ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), rest),
            _ => (0, &[][..]),
        };
        let (payload, rest) = rest.split_at(len.min(rest.len()));
        out.push((*b, payload));
        body = rest;
    }
    out
}

/// One frame: first byte `b0`, masked with [`KEY`] if `mask`.
fn frame(b0: u8, payload: &[u8], mask: bool) -> Vec<u8> {
    let bit = if mask { 0x80 } else { 0 };
    let mut f = vec![b0];
    match payload.len() {
        n @ 0..=125 => f.push(bit | n as u8),
        n => {
            f.push(bit | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    if mask {
        f.extend_from_slice(&KEY);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

/// What the peer's messages must become.
#[derive(Debug)]
struct Expected {
    /// The events, in order.
    events: Vec<Ev>,
    /// A message broke a limit: the connection fails with 1009 after
    /// `events`.
    too_big: bool,
}

/// The peer sends the messages of `body`; returns the bytes it wrote and
/// what the connection under test must make of them.
///
/// A record's kind: `& 3`: 0 binary, 1 text (the data read as lossy UTF-8),
/// 2 ping, 3 pong (data cut to 125 bytes); data messages are sent in
/// `(kind >> 2 & 3) + 1` fragments (text split at character boundaries).
fn peer_messages(s: &DSetup, body: &[u8]) -> (Vec<u8>, Expected) {
    let (_, mut peer) = s.connect();
    let config = s.limits();
    let mut wire = Vec::new();
    let mut expected = Expected {
        events: Vec::new(),
        too_big: false,
    };
    for (kind, data) in records(body) {
        let start = wire.len();
        let text;
        let (event, len) = match kind & 3 {
            0 | 1 => {
                let parts = usize::from((kind >> 2) & 3) + 1;
                let (bytes, event): (&[u8], Ev) = if kind & 3 == 1 {
                    text = String::from_utf8_lossy(data).into_owned();
                    (text.as_bytes(), Ev::Text(text.clone()))
                } else {
                    (data, Ev::Binary(data.to_vec()))
                };
                if parts == 1 {
                    let message = match &event {
                        Ev::Text(t) => Message::Text(t),
                        _ => Message::Binary(bytes),
                    };
                    peer.sender().send(message, &mut wire).expect("send");
                } else {
                    let mut cut = vec![0];
                    for i in 1..parts {
                        let mut at = bytes.len() * i / parts;
                        if let Ev::Text(t) = &event {
                            while !t.is_char_boundary(at) {
                                at -= 1;
                            }
                        }
                        cut.push(at.max(*cut.last().unwrap()));
                    }
                    cut.push(bytes.len());
                    for (i, w) in cut.windows(2).enumerate() {
                        let piece = &bytes[w[0]..w[1]];
                        let message = match &event {
                            Ev::Text(_) => Message::Text(std::str::from_utf8(piece).unwrap()),
                            _ => Message::Binary(piece),
                        };
                        let tx = peer.sender();
                        let sent = if i + 2 == cut.len() {
                            tx.finish(message, &mut wire)
                        } else {
                            tx.send_part(message, &mut wire)
                        };
                        sent.expect("send a part");
                    }
                }
                (event, bytes.len())
            }
            k => {
                let payload = &data[..data.len().min(125)];
                let (message, event) = if k == 2 {
                    (Message::Ping(payload), Ev::Ping(payload.to_vec()))
                } else {
                    (Message::Pong(payload), Ev::Pong(payload.to_vec()))
                };
                peer.sender()
                    .send(message, &mut wire)
                    .expect("send a control frame");
                (event, 0)
            }
        };
        // The frames just written: any over max_frame_size fails the
        // connection (1009), like a message over max_message_size.
        let mut at = &wire[start..];
        let mut frame_too_big = false;
        while !at.is_empty() {
            let (header, n) = FrameHeader::parse(at)
                .expect("the peer writes valid frames")
                .expect("whole frames");
            let payload = usize::try_from(header.payload_len).unwrap();
            frame_too_big |= payload > config.max_frame_size();
            at = &at[n + payload..];
        }
        if len > config.max_message_size() || frame_too_big {
            expected.too_big = true;
            break;
        }
        expected.events.push(event);
    }
    (wire, expected)
}

/// A connection with permessage-deflate negotiated (through a real
/// handshake) receives a stream.
///
/// Input: byte 0 is [`DSetup`] (`0x01` client, `0x02` end of stream after
/// the stream, `0x04` tiny limits, `0x18` the offer, `0x60` the [`Mode`],
/// `0x80` the peer leaves messages under 16 bytes uncompressed); byte 1:
/// its low 4 bits the number of split points, each a u16 BE (modulo the
/// stream length + 1), its high 4 bits the part bound of the parts-mode
/// runs ([`DEFLATE_PART_BOUNDS`]); then the body, read as the mode says.
///
/// * No panic; the `receive` properties on the transcript (output exactly
///   what the events call for: a Pong per Ping, the echo of a Close, one
///   Close with the error's code after a failure; messages within
///   max_message_size; `Done` rules).
/// * A failure is one protocol error, with close code 1002, 1007 or 1009.
/// * Whole, split (polling after each piece or only at the end) and byte by
///   byte: identical events, output and state.
/// * Receiving in parts, fed each of those ways: the parts of each message
///   joined where its last part came give the events of whole messages,
///   and the output and state are the same (the parts themselves, and the
///   parts of a message that never ended, depend on the reads).
/// * The heap held at once stays within the unread input, a message of
///   max_message_size (twice, for Vec growth), the frame being received,
///   our output and event copies, and [`ZLIB_STATE`]: a bomb is noticed.
/// * Messages mode: exactly the peer's messages arrive, until one over the
///   limits, which fails the connection with 1009.
pub(crate) fn deflate_receive(data: &[u8]) {
    let s = d_setup(data);
    let count = usize::from(data.get(1).copied().unwrap_or(0) % 16);
    let rest = data.get(2..).unwrap_or_default();
    let (points, body) = rest.split_at((2 * count).min(rest.len()));
    let (stream, expected) = match s.mode {
        Mode::Raw => (body.to_vec(), None),
        Mode::Frames => (
            records(body)
                .into_iter()
                .flat_map(|(b0, payload)| frame(b0, payload, !s.client))
                .collect(),
            None,
        ),
        Mode::Messages => {
            let (wire, expected) = peer_messages(&s, body);
            (wire, Some(expected))
        }
    };
    let stream = &stream[..];
    let mut splits: Vec<usize> = points
        .chunks_exact(2)
        .map(|p| usize::from(u16::from_be_bytes([p[0], p[1]])) % (stream.len() + 1))
        .collect();
    splits.sort_unstable();
    let mut pieces = Vec::new();
    let mut at = 0;
    for split in splits.into_iter().chain([stream.len()]) {
        pieces.push(&stream[at..split]);
        at = split;
    }

    let config = s.limits();
    let max_part = DEFLATE_PART_BOUNDS[usize::from(data.get(1).copied().unwrap_or(0) >> 4)];
    let setup = Setup {
        client: s.client,
        eof: s.eof,
        we_closed: false,
        config: config.clone(),
        extra: 0,
        parts: None,
    };
    let run_with = |pieces: &[&[u8]], poll_each: bool, parts: Option<usize>| {
        // Counted from before the handshake: the connection frees its
        // handshake buffers while receiving.
        let mut t = Transcript::default();
        let mut end = None;
        let peak = crate::memory::peak(|| {
            let (mut conn, peer) = s.connect_with(parts);
            drop(peer);
            for piece in pieces {
                conn.receive(piece);
                if poll_each {
                    drain(&mut conn, &mut t);
                }
            }
            drain(&mut conn, &mut t);
            if s.eof {
                conn.receive_eof();
                drain(&mut conn, &mut t);
            }
            end = Some(conn);
        });
        let mut conn = end.expect("the run finished");
        assert!(conn.deflate().is_some());
        check_memory(&config, stream, &t, peak);
        (t, summary(&mut conn))
    };
    let run = |pieces: &[&[u8]], poll_each: bool| run_with(pieces, poll_each, None);
    let whole = run(&[stream], true);
    let (t, end) = &whole;
    check_receive_transcript(&setup, end, t);
    let errors = t
        .events
        .iter()
        .filter(|e| matches!(e, Ev::Error(_)))
        .count();
    assert!(errors <= 1);
    if let Some(Ev::Error(e)) = t.events.last() {
        let Error::Protocol(e) = e else {
            panic!("not a protocol error: {e:?}")
        };
        assert!(
            [1002, 1007, 1009].contains(&e.close_code().0),
            "{e:?}: {:?}",
            e.close_code()
        );
    }
    if let Some(expected) = expected {
        let mut events = t.events.clone();
        if s.eof && matches!(events.last(), Some(Ev::Close((1006, _)))) {
            events.pop();
        }
        let failed = match events.last() {
            Some(Ev::Error(Error::Protocol(e))) => Some(e.close_code().0),
            _ => None,
        };
        if failed.is_some() {
            events.pop();
        }
        assert!(
            events == expected.events,
            "the peer's messages: got {}, want {}",
            brief(&events),
            brief(&expected.events)
        );
        assert_eq!(
            failed,
            expected.too_big.then_some(1009),
            "fails exactly on a message over the limits"
        );
    }
    let same = |other: (Transcript, Summary), how: &str| {
        assert!(
            other == whole,
            "{how}: got {} {:?}, want {} {:?}",
            brief(&other.0.events),
            other.1,
            brief(&whole.0.events),
            whole.1
        );
    };
    let lens: Vec<usize> = pieces.iter().map(|p| p.len()).collect();
    same(run(&pieces, true), &format!("split into {lens:?}"));
    same(run(&pieces, false), "split, polled at the end");
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    same(run(&bytes, true), "byte by byte");
    // Parts mode: the parts of each message joined where its last came,
    // the same events, output and state as whole messages, however split.
    let feeds: [(&[&[u8]], bool, &str); 4] = [
        (&[stream], true, "whole"),
        (&pieces, true, "split"),
        (&pieces, false, "split, polled at the end"),
        (&bytes, true, "byte by byte"),
    ];
    for (pieces, poll_each, how) in feeds {
        let (t, end) = run_with(pieces, poll_each, Some(max_part));
        let (joined, _) = join_parts(&t.events, max_part);
        let parts = Transcript {
            events: joined,
            ..t
        };
        same((parts, end), &format!("parts of {max_part}, {how}"));
    }
}

/// The part bounds of the parts-mode runs, by the high 4 bits of byte 1:
/// around the chunk sizes of the inflater and the limits of [`DSetup`].
const DEFLATE_PART_BOUNDS: [usize; 16] = [
    4,
    5,
    7,
    16,
    100,
    999,
    1000,
    1001,
    1024,
    1025,
    4096,
    65_535,
    65_536,
    65_537,
    1 << 20,
    usize::MAX,
];

/// Events for a failure message: long payloads cut short.
fn brief(events: &[Ev]) -> String {
    let cut = |b: &[u8]| {
        let head: Vec<u8> = b.iter().copied().take(16).collect();
        format!("{} bytes {head:02x?}", b.len())
    };
    let items: Vec<String> = events
        .iter()
        .map(|e| match e {
            Ev::Text(t) => format!("Text({})", cut(t.as_bytes())),
            Ev::Binary(b) => format!("Binary({})", cut(b)),
            other => format!("{other:?}"),
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// The bound on the heap held at once while receiving `stream`.
fn check_memory(config: &Config, stream: &[u8], t: &Transcript, peak: Option<usize>) {
    let Some(peak) = peak else { return };
    check_counter(peak, t);
    // As in `receive`, but an inflated message may be longer than the
    // input: the limit itself bounds it (plus the byte that shows it is
    // over).
    let bound = 2 * stream.len()
        + 2 * (config.max_message_size() + 1)
        + config.max_frame_size().min(ANNOUNCED_ALLOWANCE)
        + ours(t)
        + ZLIB_STATE
        + 4096;
    assert!(peak <= bound, "allocated {peak} bytes, bound {bound}");
}
