//! The release and rebuild of the permessage-deflate codec
//! (`DeflateConfig::with_release`): whatever the policy and wherever the
//! idle moments fall, the peer decodes the same messages.

use super::common::entropy;
use wstate::handshake::extensions::negotiate;
use wstate::{Config, Connection, DeflateConfig, Event, Message, Polled, Release, Role};

/// A message received, owned.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Binary(Vec<u8>),
    Failed,
}

/// One sender and one receiver with `release` on both, negotiated with
/// window bits `bits` and, with `nct`, no context takeover both ways;
/// `client` says which role sends.
fn pair(
    release: Release,
    bits: u8,
    nct: bool,
    level: u8,
    client: bool,
) -> (Connection, Connection) {
    let deflate = DeflateConfig::default()
        .with_level(level)
        .with_server_max_window_bits(bits)
        .with_client_max_window_bits(bits)
        .with_server_no_context_takeover(nct)
        .with_client_no_context_takeover(nct)
        .with_release(release);
    let config = Config::default().with_deflate(Some(deflate));
    let params = negotiate(
        [&b"permessage-deflate; client_max_window_bits"[..]],
        config.deflate().expect("on"),
    )
    .expect("negotiated");
    let c =
        Connection::new_open_with_deflate(Role::client(entropy(7)), config.clone(), Some(params));
    let s = Connection::new_open_with_deflate(Role::Server, config, Some(params));
    if client { (c, s) } else { (s, c) }
}

/// What one step of the script does.
#[derive(Clone, Copy, Debug)]
enum Step<'a> {
    /// A whole message.
    Send(&'a [u8]),
    /// A message in two parts, cut at `usize`.
    Parts(&'a [u8], usize),
    /// An idle moment on the sender (`shrink_buffers`).
    IdleSender,
    /// An idle moment on the receiver.
    IdleReceiver,
}

/// The steps of the input after its 2 setup bytes: each a byte (`& 3`:
/// the step's kind, 0 send, 1 parts, 2 and 3 idle; for messages, the next
/// u16 BE is the length, then that many bytes, repeated to 4 times its
/// length with `>> 2 & 3` to make back-references).
fn steps(mut body: &[u8]) -> Vec<(Step<'_>, usize)> {
    let mut out = Vec::new();
    while let [b, rest @ ..] = body {
        body = rest;
        match b & 3 {
            2 => out.push((Step::IdleSender, 1)),
            3 => out.push((Step::IdleReceiver, 1)),
            k => {
                let (len, rest) = match body {
                    [hi, lo, rest @ ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), rest),
                    _ => (0, &[][..]),
                };
                let (data, rest) = rest.split_at(len.min(rest.len()));
                body = rest;
                let repeat = usize::from((b >> 2) & 3) + 1;
                let cut = usize::from(b >> 4) * data.len() / 16;
                let step = if k == 0 {
                    Step::Send(data)
                } else {
                    Step::Parts(data, cut)
                };
                out.push((step, repeat));
            }
        }
    }
    out
}

/// Runs the script with `release`; returns the messages received and the
/// wire bytes.
fn run(
    release: Release,
    setup: (u8, bool, u8, bool),
    script: &[(Step<'_>, usize)],
) -> (Vec<Got>, Vec<u8>) {
    let (bits, nct, level, client) = setup;
    let (mut tx, mut rx) = pair(release, bits, nct, level, client);
    let mut got = Vec::new();
    let mut wire = Vec::new();
    for &(step, repeat) in script {
        let mut out = Vec::new();
        match step {
            Step::IdleSender => tx.shrink_buffers(),
            Step::IdleReceiver => rx.shrink_buffers(),
            Step::Send(data) => {
                let message = data.repeat(repeat);
                tx.sender()
                    .send(Message::Binary(&message), &mut out)
                    .expect("send");
            }
            Step::Parts(data, cut) => {
                let message = data.repeat(repeat);
                let (a, b) = message.split_at(cut.min(message.len()));
                tx.sender()
                    .send_part(Message::Binary(a), &mut out)
                    .expect("a part");
                // An idle moment inside a message changes nothing.
                tx.shrink_buffers();
                tx.sender()
                    .finish(Message::Binary(b), &mut out)
                    .expect("the last part");
            }
        }
        if out.is_empty() {
            continue;
        }
        // Half, an idle moment inside the message, the rest.
        let half = out.len() / 2;
        rx.receive(&out[..half]);
        receive(&mut rx, &mut got);
        rx.shrink_buffers();
        rx.receive(&out[half..]);
        receive(&mut rx, &mut got);
        wire.extend_from_slice(&out);
    }
    (got, wire)
}

fn receive(rx: &mut Connection, got: &mut Vec<Got>) {
    loop {
        match rx.poll_event(&mut Vec::new()) {
            Polled::Event(Event::Binary(b), _) => got.push(Got::Binary(b.to_vec())),
            Polled::Event(..) => {}
            Polled::Failed(_) => got.push(Got::Failed),
            Polled::NeedMore | Polled::Done => return,
        }
    }
}

/// Input: byte 0: window bits `9 + (b & 7) % 7`, `0x08` no context
/// takeover, `0x10` the client sends, `0x20` level 6 (else 1); byte 1: the
/// policy of the second run (`% 2`: `WhenIdle`, `AfterMessage`); then the
/// [`steps`].
///
/// * Every message arrives exactly, with `Release::Never` and with the
///   other policy, idle moments (inside messages too) wherever drawn.
/// * The bytes each run sent decode to the same messages under every
///   policy of the receiver (what a sender releases is not its peer's
///   business).
/// * Without context takeover, the bytes sent are the same whatever the
///   policy; with it, those of `WhenIdle` and `AfterMessage` agree when
///   every message is followed by an idle moment on both sides.
pub(crate) fn deflate_release(data: &[u8]) {
    let b0 = data.first().copied().unwrap_or(0);
    let setup = (
        9 + (b0 & 7) % 7,
        b0 & 0x08 != 0,
        if b0 & 0x20 != 0 { 6 } else { 1 },
        b0 & 0x10 != 0,
    );
    let other = if data.get(1).copied().unwrap_or(0) % 2 == 0 {
        Release::WhenIdle
    } else {
        Release::AfterMessage
    };
    let script = steps(data.get(2..).unwrap_or_default());
    let want: Vec<Got> = script
        .iter()
        .filter_map(|&(step, repeat)| match step {
            Step::Send(d) | Step::Parts(d, _) => Some(Got::Binary(d.repeat(repeat))),
            _ => None,
        })
        .collect();
    let (got_kept, wire_kept) = run(Release::Never, setup, &script);
    assert_eq!(got_kept, want, "Never");
    let (got, wire) = run(other, setup, &script);
    assert_eq!(got, want, "{other:?}");
    if setup.1 {
        assert_eq!(wire, wire_kept, "no context takeover: the same bytes");
    }
    // The other side's policy does not matter: replay each run's bytes.
    for (bytes, sender) in [(&wire_kept, Release::Never), (&wire, other)] {
        for receiver in [Release::Never, Release::WhenIdle, Release::AfterMessage] {
            let (_, mut rx) = pair(receiver, setup.0, setup.1, setup.2, setup.3);
            let mut got = Vec::new();
            rx.receive(bytes);
            receive(&mut rx, &mut got);
            assert_eq!(
                got, want,
                "sent with {sender:?}, received with {receiver:?}"
            );
        }
    }
    // Released at the same points, the same bytes.
    let every: Vec<(Step<'_>, usize)> = script
        .iter()
        .flat_map(|&s| [s, (Step::IdleSender, 1), (Step::IdleReceiver, 1)])
        .collect();
    let (_, idle) = run(Release::WhenIdle, setup, &every);
    let (_, each) = run(Release::AfterMessage, setup, &every);
    assert_eq!(
        idle, each,
        "WhenIdle with an idle moment after each message and AfterMessage"
    );
}
