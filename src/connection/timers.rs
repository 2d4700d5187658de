//! Time without a clock: the deadlines of a connection, computed from the
//! times the caller passes in. Nothing here reads a clock or changes the
//! connection's state; [`Timers::expired`] says what is due, and the state
//! machine in `mod.rs` acts on it.
//!
//! The connection's clock is the `now` of the latest
//! [`Connection::handle_timeout`](super::Connection::handle_timeout). What
//! the caller does (a Close, the acceptance) is stamped with that clock;
//! bytes received count as the peer's activity at the next `handle_timeout`.

use core::time::Duration;

use crate::config::{Config, Keepalive};

/// The phase a deadline belongs to, as the state machine sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// The opening handshake is incomplete (server: the request; client:
    /// the response).
    Handshake,
    /// A request awaits the caller's answer: no deadline of ours.
    Deciding,
    /// Open: keepalive.
    Open,
    /// We sent a Close and wait for the peer's.
    Closing,
    /// Client: the closing handshake is done; the server should close TCP.
    AwaitingTcpClose,
    /// Nothing more will happen.
    Over,
}

/// What is due at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Due {
    /// The handshake took longer than `handshake_timeout`.
    Handshake,
    /// Send this keepalive Ping.
    Ping([u8; 8]),
    /// The keepalive Ping was not answered in time.
    KeepaliveTimeout,
    /// The peer's Close did not come within `close_timeout`.
    CloseTimeout,
    /// The server did not close TCP within `close_timeout`.
    TcpCloseTimeout,
}

/// The marker that starts every keepalive Ping's payload, followed by a
/// 4-byte sequence number: a Pong for a Ping the caller sent carries the
/// caller's payload, so it is never taken for the keepalive's.
const PING_MARK: [u8; 4] = *b"wska";

/// The times a connection's deadlines are counted from.
#[derive(Clone, Debug, Default)]
pub(super) struct Timers {
    /// The latest `now` the caller gave.
    now: Option<Duration>,
    /// When the current phase began (the handshake, our Close, the end of
    /// the closing handshake). `None`: at the next `handle_timeout`.
    phase_start: Option<Duration>,
    /// Keepalive: when the current interval began (the opening, the last
    /// Ping, or the peer's last activity).
    interval_start: Option<Duration>,
    /// Keepalive: when the unanswered Ping went out.
    ping_sent: Option<Duration>,
    /// Sequence number of the last keepalive Ping.
    seq: u32,
    /// Bytes arrived since the last `handle_timeout`.
    activity: bool,
}

impl Timers {
    /// A new phase begins now (by the connection's clock).
    pub(super) fn start_phase(&mut self) {
        self.phase_start = self.now;
    }

    /// The connection opened: the keepalive interval starts.
    pub(super) fn opened(&mut self) {
        self.interval_start = self.now;
        self.ping_sent = None;
    }

    /// Bytes arrived from the peer.
    pub(super) fn on_receive(&mut self) {
        self.activity = true;
    }

    /// A Pong arrived: if it answers our keepalive Ping, the peer is alive.
    pub(super) fn on_pong(&mut self, payload: &[u8]) {
        if self.ping_sent.is_some() && payload == self.ping_payload() {
            self.ping_sent = None;
        }
    }

    fn ping_payload(&self) -> [u8; 8] {
        let mut p = [0; 8];
        p[..4].copy_from_slice(&PING_MARK);
        p[4..].copy_from_slice(&self.seq.to_be_bytes());
        p
    }

    /// Advances the clock to `now` (never backwards), stamps what waited for
    /// a time, and returns what is due in `phase`.
    pub(super) fn expired(&mut self, now: Duration, phase: Phase, config: &Config) -> Option<Due> {
        let now = self.now.map_or(now, |before| before.max(now));
        self.now = Some(now);
        self.phase_start.get_or_insert(now);
        self.interval_start.get_or_insert(now);
        if core::mem::take(&mut self.activity)
            && let Some(keepalive) = &config.keepalive
        {
            if !keepalive.fixed_interval {
                self.interval_start = Some(now);
            }
            if keepalive.any_data {
                self.ping_sent = None;
            }
        }
        let deadline = self.deadline(phase, config)?;
        if now < deadline {
            return None;
        }
        Some(match phase {
            Phase::Handshake => Due::Handshake,
            Phase::Open if self.ping_sent.is_some() => Due::KeepaliveTimeout,
            Phase::Open => {
                self.seq = self.seq.wrapping_add(1);
                self.ping_sent = Some(now);
                self.interval_start = Some(now);
                Due::Ping(self.ping_payload())
            }
            Phase::Closing => Due::CloseTimeout,
            Phase::AwaitingTcpClose => Due::TcpCloseTimeout,
            Phase::Deciding | Phase::Over => return None,
        })
    }

    /// The next deadline in `phase`, if any is armed and stamped.
    pub(super) fn deadline(&self, phase: Phase, config: &Config) -> Option<Duration> {
        // A deadline armed before the caller ever told the time is due at
        // once: the loop's first wait then ends at once, and its
        // `handle_timeout` starts the clock (a loop that reads first would
        // otherwise wait for a silent peer forever).
        let after = |start: Option<Duration>, wait: Option<Duration>| {
            let wait = wait?;
            match start {
                Some(start) => start.checked_add(wait),
                None => Some(Duration::ZERO),
            }
        };
        match phase {
            Phase::Handshake => after(self.phase_start, config.handshake_timeout),
            Phase::Open => {
                let Keepalive {
                    interval, timeout, ..
                } = config.keepalive.as_ref()?;
                // Bytes that arrived since the last `handle_timeout` answer
                // the Ping already if any data counts: the next deadline is
                // then the next Ping's, not the answer's (never too late;
                // at worst, with idle intervals, early).
                let answered =
                    self.activity && config.keepalive.as_ref().is_some_and(|k| k.any_data);
                match self.ping_sent {
                    Some(sent) if !answered => sent.checked_add(*timeout),
                    _ => after(self.interval_start, Some(*interval)),
                }
            }
            Phase::Closing | Phase::AwaitingTcpClose => {
                after(self.phase_start, config.close_timeout)
            }
            Phase::Deciding | Phase::Over => None,
        }
    }
}
