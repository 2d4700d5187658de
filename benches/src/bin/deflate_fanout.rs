//! CPU of permessage-deflate at scale, in memory (no sockets):
//!
//! ```text
//! deflate_fanout [rebuild | fanout [CONNECTIONS...]] [--rounds N]
//! ```
//!
//! * `rebuild`: what a release costs. 2 KiB JSON-like messages each way
//!   between a server and a client with context takeover, per policy
//!   (`Never`; `WhenIdle` while busy, so never idle: what keeping the
//!   history costs; `AfterMessage`: a rebuild per message) and window bits
//!   (15, 14, 13, 12, 9): µs per message sent (compressed) and received
//!   (inflated), the median message of the fastest of `--rounds` rounds,
//!   and the compressed size.
//! * `fanout`: one 2 KiB message to each of N server connections (default
//!   1,000 and 10,000): `send` to each against one `PreparedMessage` and
//!   `send_prepared` to each (its preparation included), without
//!   permessage-deflate, with it and `server_no_context_takeover` (the
//!   compressed payload is shared), and with context takeover (each
//!   connection compresses with its own history: `Release::Never` up to
//!   1,000 connections, 430 KB each; `Release::AfterMessage`, which holds
//!   only the history, at any count). CPU per
//!   delivered message: the time of the whole fan-out over N, the fastest
//!   of `--rounds` rounds (default 5).
//!
//! Run it niced on a quiet machine:
//! `nice -n 10 cargo run --release --bin deflate_fanout -- fanout`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use wstate::handshake::extensions::negotiate;
use wstate::{
    Config, Connection, DeflateConfig, Event, Message, Polled, PreparedMessage, Release, Role,
};

/// A 2 KiB JSON-like chat message; `seed` varies its numbers.
fn message(seed: u32) -> String {
    let mut s = String::new();
    let mut i = seed;
    while s.len() < 2048 {
        i = i.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        s.push_str(&format!(
            "{{\"user\":\"u{}\",\"room\":\"r{}\",\"text\":\"message number {} in the room\",\"ts\":{}}},",
            (i >> 16) % 500,
            (i >> 8) % 20,
            (i >> 4) % 10_000,
            1_700_000_000 + (i % 100_000)
        ));
    }
    s.truncate(2048);
    s
}

fn open(role: Role, deflate: Option<DeflateConfig>, offer: &str) -> Connection {
    let config = Config::default().with_deflate(deflate);
    let params = config
        .deflate()
        .and_then(|ours| negotiate([offer.as_bytes()], ours));
    Connection::new_open_with_deflate(role, config, params)
}

fn cheap_key(b: &mut [u8]) {
    b.fill(0x5a);
}

fn rebuild(rounds: usize) {
    println!("| window bits | release | send µs/msg | receive µs/msg | compressed B/msg |");
    println!("| ---: | --- | ---: | ---: | ---: |");
    let messages: Vec<String> = (0..64).map(message).collect();
    for bits in [15u8, 14, 13, 12, 9] {
        for release in [Release::Never, Release::WhenIdle, Release::AfterMessage] {
            let deflate = DeflateConfig::default().with_release(release);
            let offer = format!(
                "permessage-deflate; server_max_window_bits={bits}; client_max_window_bits={bits}"
            );
            let mut best = (f64::MAX, f64::MAX);
            let mut bytes = 0;
            for _ in 0..rounds {
                let mut s = open(Role::Server, Some(deflate), &offer);
                let mut c = open(Role::client(cheap_key), Some(deflate), &offer);
                let (mut send, mut recv) = (Vec::new(), Vec::new());
                let mut wire = Vec::with_capacity(8192);
                let mut sent = 0;
                for round in 0..8 {
                    for m in &messages {
                        wire.clear();
                        let t = Instant::now();
                        s.sender().send(Message::Text(m), &mut wire).unwrap();
                        let t1 = Instant::now();
                        c.receive(&wire);
                        match c.poll_event(&mut Vec::new()) {
                            Polled::Event(Event::Text(t), _) => {
                                black_box(t);
                            }
                            _ => panic!("no message"),
                        }
                        let t2 = Instant::now();
                        if round > 0 {
                            send.push(t1 - t);
                            recv.push(t2 - t1);
                            sent += wire.len();
                        }
                    }
                }
                best.0 = best.0.min(median(&mut send));
                best.1 = best.1.min(median(&mut recv));
                bytes = sent / (7 * messages.len());
            }
            println!(
                "| {bits} | {release:?} | {:.2} | {:.2} | {bytes} |",
                best.0, best.1
            );
        }
    }
}

/// The median of `times`, in µs (a busy machine's preemptions left out).
fn median(times: &mut [Duration]) -> f64 {
    times.sort_unstable();
    times[times.len() / 2].as_secs_f64() * 1e6
}

fn fanout(counts: &[usize], rounds: usize) {
    println!(
        "| connections | permessage-deflate | send to each, ns/delivered | prepared, ns/delivered | ratio |"
    );
    println!("| ---: | --- | ---: | ---: | ---: |");
    let text = message(1);
    let modes: [(&str, Option<DeflateConfig>, &str); 4] = [
        ("off", None, ""),
        (
            "server_no_context_takeover (shared)",
            Some(DeflateConfig::default()),
            "permessage-deflate; server_no_context_takeover",
        ),
        (
            "context takeover, Release::Never (per connection)",
            Some(DeflateConfig::default().with_release(Release::Never)),
            "permessage-deflate",
        ),
        (
            "context takeover, Release::AfterMessage (per connection)",
            Some(DeflateConfig::default().with_release(Release::AfterMessage)),
            "permessage-deflate",
        ),
    ];
    for &n in counts {
        for (name, deflate, offer) in &modes {
            if n > 1000 && name.contains("Never") {
                continue; // 430 KB of zlib state per connection
            }
            let mut conns: Vec<Connection> = (0..n)
                .map(|_| open(Role::Server, *deflate, offer))
                .collect();
            let mut out = Vec::with_capacity(4096);
            let mut delivered = 0usize;
            let (mut normal, mut prepared) = (f64::MAX, f64::MAX);
            for _ in 0..rounds {
                let t = Instant::now();
                for conn in &mut conns {
                    out.clear();
                    conn.sender().send(Message::Text(&text), &mut out).unwrap();
                    delivered += out.len();
                }
                normal = normal.min(t.elapsed().as_secs_f64());
                let t = Instant::now();
                let message = PreparedMessage::compressed(Message::Text(&text), 1, 15);
                for conn in &mut conns {
                    out.clear();
                    conn.sender().send_prepared(&message, &mut out).unwrap();
                    delivered += out.len();
                }
                prepared = prepared.min(t.elapsed().as_secs_f64());
            }
            black_box(delivered);
            let (a, b) = (normal * 1e9 / n as f64, prepared * 1e9 / n as f64);
            println!("| {n} | {name} | {a:.0} | {b:.0} | {:.1}× |", a / b);
        }
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut rounds = 5;
    if let Some(i) = args.iter().position(|a| a == "--rounds") {
        rounds = args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .expect("--rounds N");
        args.drain(i..i + 2);
    }
    match args.first().map(String::as_str) {
        Some("rebuild") => rebuild(rounds),
        Some("fanout") | None => {
            let counts: Vec<usize> = args
                .iter()
                .skip(1)
                .map(|a| a.parse().expect("a count"))
                .collect();
            fanout(
                if counts.is_empty() {
                    &[1000, 10_000]
                } else {
                    &counts
                },
                rounds,
            )
        }
        Some(other) => panic!("unknown mode {other}: rebuild or fanout"),
    }
}
