//! Target `timers`: deadlines driven by a fake clock.

use super::common::*;
use wstate::{
    Accept, ClientRequest, CloseCode, Config, Connection, ConnectionState, Error, HandshakeError,
    Role,
};

/// How a `timers` input sets up its connection: its first 5 bytes.
///
/// * byte 0, flags: `0x01` client (else server); `0x02` start with the
///   opening handshake (server: reading the request, accepted when it comes;
///   client: request sent, reading the response) rather than open; `0x04`
///   end of stream after the script; `0x08` keepalive `any_data`; `0x10`
///   keepalive `fixed_interval`; `0x20` no keepalive; `0x40` (server) the
///   request is accepted only at the next time step (deciding meanwhile).
/// * byte 1: handshake timeout, byte 2: keepalive interval, byte 3:
///   keepalive timeout, byte 4: close timeout, each in units of 10 ms;
///   0 means no timeout (for byte 2 and 3: 1 ms).
/// * Then the script, steps one after the other: `0xff n` time advances by
///   `n` ms; `0xfc n` by `100 n` ms; `0xfe n` time goes back `n` ms (the
///   connection must clamp it); `0xfd` we close (1000) if we may; any other
///   byte `h`: the next `h` bytes (or fewer at the end) arrive from the peer.
///
/// A client's entropy fills every buffer with the RFC 6455 §5.7 key
/// `37 fa 21 3d` repeated: its nonce and every mask key.
#[derive(Clone, Debug)]
pub(crate) struct TimerSetup {
    pub(crate) client: bool,
    pub(crate) handshake: bool,
    pub(crate) eof: bool,
    pub(crate) defer_accept: bool,
    pub(crate) config: Config,
}

/// The mask key (and nonce pattern) of a `timers` client.
pub(crate) const TIMERS_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

pub(crate) fn timers_entropy(dest: &mut [u8]) {
    for (i, b) in dest.iter_mut().enumerate() {
        *b = TIMERS_KEY[i % 4];
    }
}

/// One step of a `timers` script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TimerStep {
    /// `handle_timeout` at this time (ms from the origin).
    Time(u64),
    Bytes(Vec<u8>),
    Close,
}

pub(crate) fn timer_setup(data: &[u8]) -> (TimerSetup, Vec<TimerStep>) {
    use core::time::Duration;
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let flags = byte(0);
    let tens = |b: u8| (b != 0).then(|| Duration::from_millis(10 * u64::from(b)));
    let at_least_1ms = |b: u8| Duration::from_millis((10 * u64::from(b)).max(1));
    let keepalive = (flags & 0x20 == 0).then(|| {
        wstate::Keepalive::new(at_least_1ms(byte(2)), at_least_1ms(byte(3)))
            .with_any_data(flags & 0x08 != 0)
            .with_fixed_interval(flags & 0x10 != 0)
    });
    let config = Config::default()
        .with_handshake_timeout(tens(byte(1)))
        .with_keepalive(keepalive)
        .with_close_timeout(tens(byte(4)));
    let setup = TimerSetup {
        client: flags & 0x01 != 0,
        handshake: flags & 0x02 != 0,
        eof: flags & 0x04 != 0,
        defer_accept: flags & 0x40 != 0,
        config,
    };
    let mut rest = data.get(SETUP_LEN..).unwrap_or(&[]);
    let mut steps = Vec::new();
    let mut now: u64 = 0;
    while let Some((&h, tail)) = rest.split_first() {
        rest = tail;
        let arg = |rest: &mut &[u8]| {
            let n = rest.first().copied().unwrap_or(0);
            *rest = rest.get(1..).unwrap_or(&[]);
            u64::from(n)
        };
        match h {
            0xff => {
                now += arg(&mut rest);
                steps.push(TimerStep::Time(now));
            }
            0xfc => {
                now += 100 * arg(&mut rest);
                steps.push(TimerStep::Time(now));
            }
            0xfe => {
                // Only the caller's argument goes back; `now` is the script's
                // base for the next advance.
                let back = arg(&mut rest);
                steps.push(TimerStep::Time(now.saturating_sub(back)));
            }
            0xfd => steps.push(TimerStep::Close),
            n => {
                let (bytes, tail) = rest.split_at(usize::from(n).min(rest.len()));
                rest = tail;
                steps.push(TimerStep::Bytes(bytes.to_vec()));
            }
        }
    }
    (setup, steps)
}

/// What one step of a `timers` script produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TimerRec {
    pub(crate) out: Vec<u8>,
    pub(crate) events: Vec<Ev>,
    pub(crate) done: bool,
    pub(crate) timeout: Option<core::time::Duration>,
}

/// How a `timers` run feeds each `Bytes` step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimerFeed {
    Whole,
    ByteByByte,
    /// One byte per read, polled only once the whole step arrived.
    ByteByBytePollAtEnd,
}

impl TimerSetup {
    fn start(&self) -> Connection {
        match (self.client, self.handshake) {
            (false, false) => Connection::new_open(Role::Server, self.config.clone()),
            (true, false) => {
                Connection::new_open(Role::client(timers_entropy), self.config.clone())
            }
            (false, true) => Connection::server(self.config.clone()),
            (true, true) => Connection::client(
                &ClientRequest::new("h", "/"),
                timers_entropy,
                self.config.clone(),
                &mut Vec::new(),
            )
            .expect("a valid request"),
        }
    }

    /// A frame as we send it.
    fn ours(&self, b0: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![b0];
        let mask = if self.client { 0x80 } else { 0 };
        assert!(payload.len() < 126);
        f.push(mask | payload.len() as u8);
        if self.client {
            f.extend(TIMERS_KEY);
            f.extend(
                payload
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ TIMERS_KEY[i % 4]),
            );
        } else {
            f.extend_from_slice(payload);
        }
        f
    }
}

/// Runs a script; checks, at every time step, that nothing happens before
/// the deadline `poll_timeout()` gave, that something does at or after it,
/// and that what a timer writes and reports is exact.
pub(crate) fn timers_run(
    setup: &TimerSetup,
    steps: &[TimerStep],
    feed: TimerFeed,
) -> Vec<TimerRec> {
    use core::time::Duration;
    let mut conn = setup.start();
    let mut t = Transcript::default();
    let mut recs = Vec::new();
    let mut clock: Option<Duration> = None;
    let mut pending_activity = false;
    let mut request_pending = false;
    let mut request_bytes = false;
    let mut ping_seq: u32 = 0;
    let mut steps: Vec<TimerStep> = steps.to_vec();
    // The end of the script: end of stream if asked, then time far ahead.
    let script_len = steps.len();
    let last = steps
        .iter()
        .filter_map(|s| match s {
            TimerStep::Time(t) => Some(*t),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    for i in 1..=6u64 {
        steps.push(TimerStep::Time(last + i * 1_000_000_000));
    }
    // Accepts a request that came, unless it must wait for a time step.
    let answer = |conn: &mut Connection, t: &mut Transcript, pending: &mut bool| {
        if std::mem::take(pending) {
            // Refused (nothing written) if the client already left or ran
            // ahead; the next poll reports it.
            let before = t.out.len();
            if conn.sender().accept(&Accept::new(), &mut t.out).is_err() {
                assert_eq!(t.out.len(), before, "a refused accept wrote");
            }
            drain(conn, t);
        }
    };
    let saw_request =
        |t: &Transcript, from: usize| t.events[from..].iter().any(|e| matches!(e, Ev::Request(_)));
    for (i, step) in steps.iter().enumerate() {
        if i == script_len && setup.eof {
            conn.receive_eof();
            drain(&mut conn, &mut t);
        }
        let (out_at, ev_at) = (t.out.len(), t.events.len());
        match step {
            TimerStep::Bytes(bytes) => {
                if !bytes.is_empty() {
                    pending_activity = true;
                    request_bytes |= setup.handshake && !setup.client;
                }
                let pieces: Vec<&[u8]> = match feed {
                    TimerFeed::Whole => vec![bytes],
                    _ => bytes.chunks(1).collect(),
                };
                for piece in pieces {
                    conn.receive(piece);
                    if feed != TimerFeed::ByteByBytePollAtEnd {
                        let from = t.events.len();
                        drain(&mut conn, &mut t);
                        request_pending |= saw_request(&t, from);
                        if !setup.defer_accept {
                            answer(&mut conn, &mut t, &mut request_pending);
                        }
                    }
                }
                if feed == TimerFeed::ByteByBytePollAtEnd || bytes.is_empty() {
                    let from = t.events.len();
                    drain(&mut conn, &mut t);
                    request_pending |= saw_request(&t, from);
                    if !setup.defer_accept {
                        answer(&mut conn, &mut t, &mut request_pending);
                    }
                }
            }
            TimerStep::Close => {
                let before = t.out.len();
                if conn
                    .sender()
                    .close(CloseCode::NORMAL, "", &mut t.out)
                    .is_ok()
                {
                    assert_eq!(t.out[before..], setup.ours(0x88, &[0x03, 0xe8]));
                } else {
                    assert_eq!(t.out.len(), before, "a refused close wrote");
                }
                drain(&mut conn, &mut t);
            }
            TimerStep::Time(ms) => {
                let now = Duration::from_millis(*ms);
                let effective = clock.map_or(now, |c| c.max(now));
                clock = Some(effective);
                let deadline = conn.poll_timeout();
                let was_done = t.done;
                conn.handle_timeout(now, &mut t.out);
                let written = t.out[out_at..].to_vec();
                drain(&mut conn, &mut t);
                let events = t.events[ev_at..].to_vec();
                let after = conn.poll_timeout();
                let due = deadline.is_some_and(|d| effective >= d);
                // Nothing happens before the deadline poll_timeout() gave,
                // even with bytes pending (tests/timers.rs,
                // bug_poll_timeout_after_receive_is_too_late...).
                if !due {
                    assert!(written.is_empty(), "wrote {written:x?} before {deadline:?}");
                    assert!(events.is_empty(), "{events:?} before {deadline:?}");
                    assert_eq!(t.done, was_done, "Done before {deadline:?}");
                }
                if due && !pending_activity {
                    assert!(
                        !written.is_empty()
                            || !events.is_empty()
                            || t.done != was_done
                            || after != deadline,
                        "nothing happened at {effective:?}, deadline {deadline:?}"
                    );
                }
                // What a timer writes: a keepalive Ping with the next
                // sequence number, a Close 1011 "keepalive timeout", a 408
                // (server, for a begun request), or nothing.
                if !written.is_empty() {
                    let mut ping = b"wska".to_vec();
                    ping.extend((ping_seq + 1).to_be_bytes());
                    if written == setup.ours(0x89, &ping) {
                        ping_seq += 1;
                        assert!(events.is_empty(), "{events:?} with a Ping");
                    } else if written.starts_with(b"HTTP/1.1 408 ") {
                        assert!(request_bytes && !setup.client);
                        assert!(written.ends_with(b"\r\n\r\nthe opening handshake timed out\n"));
                        assert_eq!(
                            events,
                            [Ev::Error(Error::Handshake(HandshakeError::Timeout))]
                        );
                    } else {
                        let mut close = 1011u16.to_be_bytes().to_vec();
                        close.extend_from_slice(b"keepalive timeout");
                        assert_eq!(written, setup.ours(0x88, &close), "timer wrote this");
                        assert_eq!(events, [Ev::Error(Error::KeepaliveTimeout)]);
                    }
                }
                // A timeout's report ends the connection at once.
                match events.last() {
                    Some(Ev::Error(Error::Handshake(HandshakeError::Timeout))) => {
                        assert!(written.is_empty() || written.starts_with(b"HTTP/1.1 408 "));
                        assert!(t.done);
                    }
                    Some(Ev::Error(Error::KeepaliveTimeout)) => assert!(t.done),
                    Some(Ev::Close((1006, _))) => {
                        assert_eq!(events.len(), 1, "{events:?}");
                        assert!(t.done, "Done after the close timeout");
                        assert_eq!(conn.state(), ConnectionState::Closed);
                    }
                    Some(other) => panic!("a time step reported {other:?}"),
                    None => {}
                }
                if t.done {
                    assert_eq!(after, None, "a deadline after Done");
                }
                pending_activity = false;
                answer(&mut conn, &mut t, &mut request_pending);
            }
        }
        recs.push(TimerRec {
            out: t.out[out_at..].to_vec(),
            events: t.events[ev_at..].to_vec(),
            done: t.done,
            timeout: conn.poll_timeout(),
        });
    }
    // Far in the future with every timer on, every connection has ended.
    let c = &setup.config;
    if c.handshake_timeout().is_some() && c.keepalive().is_some() && c.close_timeout().is_some() {
        assert!(
            t.done,
            "not Done long after every deadline: {:?}",
            conn.state()
        );
    }
    recs
}

/// Time steps interleaved with the peer's bytes (see [`timer_setup`]):
///
/// * the same events, bytes, `Done` and `poll_timeout()` after every step
///   whether each chunk of bytes arrives whole or one byte at a time
///   (polled after each byte, or only at the end of the chunk);
/// * nothing happens at a time before the deadline `poll_timeout()` gave,
///   and something does at or after it;
/// * a timer writes exactly a keepalive Ping (the next sequence number),
///   the Close 1011 "keepalive timeout", a `408`, or nothing;
/// * a timeout's report (`Handshake(Timeout)`, `KeepaliveTimeout`, the
///   close timeout's 1006) is followed by `Done`; with every timer on, the
///   connection is `Done` once time runs far ahead;
/// * no panic.
pub(crate) fn timers(data: &[u8]) {
    let (setup, steps) = timer_setup(data);
    let whole = timers_run(&setup, &steps, TimerFeed::Whole);
    let by_byte = timers_run(&setup, &steps, TimerFeed::ByteByByte);
    assert_eq!(by_byte, whole, "byte by byte differs from whole");
    let at_end = timers_run(&setup, &steps, TimerFeed::ByteByBytePollAtEnd);
    assert_eq!(at_end, whole, "byte by byte, polled at the end, differs");
}
