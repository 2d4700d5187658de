//! Timers driven by a fake clock: every deadline (handshake, keepalive,
//! close, the client's wait for the server's TCP close) checked 1 ms before
//! (nothing happens) and at or 1 ms after it (it fires), in every state it
//! belongs to, for both roles, with the exact bytes written, the exact
//! events and errors, `poll_timeout()` after every step, and `Done` at the
//! end. Every table also runs with each chunk of received bytes split at
//! every point and byte by byte: the transcript must not change.
//!
//! | timer        | state                          | server | client |
//! |--------------|--------------------------------|--------|--------|
//! | handshake    | reading, nothing received      | x      | x      |
//! | handshake    | reading, part received (408)   | x      | x      |
//! | handshake    | client: refusal body pending   |        | x      |
//! | handshake    | completed in time              | x      | x      |
//! | handshake    | deciding (request pending)     | x      |        |
//! | keepalive    | open: Ping, then 1011          | x      | x      |
//! | keepalive    | open: answered, reset, seq     | x      | x      |
//! | keepalive    | closing / closed: never        | x      | x      |
//! | close        | closing: 1006                  | x      | x      |
//! | close        | closing: peer's Close in time  | x      | x      |
//! | TCP close    | closed, awaiting server's FIN  |        | x      |
//! | each, `None` | its state: never, no deadline  | x      | x      |

mod common;
use common::*;
use core::time::Duration;
use wstate::{
    Accept, ClientRequest, CloseCode, Config, Connection, Error, Event, HandshakeError, Keepalive,
    Message, Polled, Role,
};

/// Handshake timeout of the tables.
const HS: u64 = 1000;
/// Keepalive interval and timeout of the tables.
const INTERVAL: u64 = 2000;
const TIMEOUT: u64 = 500;
/// Close timeout of the tables.
const CLOSE: u64 = 3000;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn keepalive(fixed_interval: bool, any_data: bool) -> Option<Keepalive> {
    Some(
        Keepalive::new(ms(INTERVAL), ms(TIMEOUT))
            .with_fixed_interval(fixed_interval)
            .with_any_data(any_data),
    )
}

/// All timers on, distinct durations; keepalive with neither option.
fn config() -> Config {
    Config::default()
        .with_handshake_timeout(Some(ms(HS)))
        .with_keepalive(keepalive(false, false))
        .with_close_timeout(Some(ms(CLOSE)))
}

/// Everything off.
fn no_timers() -> Config {
    Config::default()
        .with_handshake_timeout(None)
        .with_keepalive(None)
        .with_close_timeout(None)
}

/// The payload of keepalive Ping number `seq`.
fn ka(seq: u32) -> Vec<u8> {
    let mut p = b"wska".to_vec();
    p.extend(seq.to_be_bytes());
    p
}

/// The exact `408` a server sends for a request begun but not finished.
fn response_408() -> Vec<u8> {
    let body = "the opening handshake timed out\n";
    format!(
        "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The output as written (the 408's reason phrase was once missing; the
/// tables compare exactly now).
fn normalize_408(out: &[u8]) -> Vec<u8> {
    out.to_vec()
}

/// Which end we are, for frames in and out.
#[derive(Clone, Copy, Debug)]
struct End {
    client: bool,
}

const SERVER: End = End { client: false };
const CLIENT: End = End { client: true };

impl End {
    /// A frame as we send it (a client masks with the test key).
    fn ours(self, b0: u8, payload: &[u8]) -> Vec<u8> {
        if self.client {
            c2s(b0, payload)
        } else {
            s2c(b0, payload)
        }
    }

    /// A frame as the peer sends it.
    fn peer(self, b0: u8, payload: &[u8]) -> Vec<u8> {
        if self.client {
            s2c(b0, payload)
        } else {
            c2s(b0, payload)
        }
    }

    /// An open connection of this role.
    fn open(self, config: Config) -> Connection {
        let role = if self.client {
            Role::client(fill_key)
        } else {
            Role::Server
        };
        Connection::new_open(role, config)
    }

    fn ping(self, seq: u32) -> Vec<u8> {
        self.ours(0x89, &ka(seq))
    }

    fn close_1011(self) -> Vec<u8> {
        self.ours(0x88, &close_payload(1011, "keepalive timeout"))
    }
}

/// A client whose request is written (and dropped); the response to it is
/// [`client_response`].
fn fresh_client(config: Config) -> Connection {
    Connection::client(&ClientRequest::new("h", "/"), fill_key, config, &mut vec![]).unwrap()
}

/// The `101` for [`fresh_client`]'s request (its nonce comes from the
/// test key, so it is the same for every fresh client).
fn client_response() -> Vec<u8> {
    let mut request = vec![];
    Connection::client(
        &ClientRequest::new("h", "/"),
        fill_key,
        config(),
        &mut request,
    )
    .unwrap();
    response_101(&request)
}

// ---------------------------------------------------------------------------
// The script runner
// ---------------------------------------------------------------------------

/// One thing that happens to a connection.
#[derive(Clone, Debug)]
enum Step {
    /// `handle_timeout(ms)`, then poll until `NeedMore` or `Done`.
    Time(u64),
    /// `receive(bytes)`, then poll.
    Bytes(Vec<u8>),
    /// `receive_eof()`, then poll.
    Eof,
    /// We close with 1000, no reason.
    Close,
    /// We accept the pending request.
    Accept,
    /// We send a Ping with this payload.
    Ping(&'static [u8]),
}
use Step::*;

/// What one step produced: bytes written, answers of the polls, and
/// `poll_timeout()` (in ms) afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rec {
    out: Vec<u8>,
    answers: Vec<Owned>,
    timeout: Option<u64>,
}

fn done() -> Owned {
    Owned::Other("Done".into())
}

fn err(e: Error) -> Owned {
    Owned::Error(e)
}

fn hs_timeout() -> Owned {
    err(Error::Handshake(HandshakeError::Timeout))
}

fn close_ev(code: u16) -> Owned {
    Owned::Close(code, String::new())
}

/// Polls until `NeedMore` or `Done`, recording answers. After an error the
/// next poll must say `Done`.
fn drain(conn: &mut Connection, out: &mut Vec<u8>, answers: &mut Vec<Owned>) {
    for _ in 0..1000 {
        match conn.poll_event(out) {
            Polled::Event(Event::Request(_), _) => answers.push(Owned::Other("Request".into())),
            Polled::Event(Event::Accepted(_), _) => answers.push(Owned::Other("Accepted".into())),
            Polled::Event(event, _) => answers.push(own(event)),
            Polled::NeedMore => {
                assert!(
                    !matches!(answers.last(), Some(Owned::Error(_))),
                    "NeedMore after an error"
                );
                return;
            }
            Polled::Done => {
                answers.push(done());
                assert!(is_done(conn));
                return;
            }
            Polled::Failed(e) => answers.push(err(e)),
        }
    }
    panic!("no NeedMore or Done");
}

/// How the bytes of the script are fed.
#[derive(Clone, Copy, Debug)]
enum Feed {
    Whole,
    /// Step `i`'s bytes in two reads, split at `at`.
    Split(usize, usize),
    /// Every `Bytes` step one byte per read.
    ByteByByte,
}

/// Runs `script` on `conn`, returning one record per step.
fn run(mut conn: Connection, script: &[Step], feed: Feed) -> Vec<Rec> {
    let mut recs = Vec::new();
    for (i, step) in script.iter().enumerate() {
        let mut out = Vec::new();
        let mut answers = Vec::new();
        match step {
            Time(t) => {
                conn.handle_timeout(ms(*t), &mut out);
                drain(&mut conn, &mut out, &mut answers);
            }
            Bytes(bytes) => {
                let pieces: Vec<&[u8]> = match feed {
                    Feed::Split(j, at) if j == i => vec![&bytes[..at], &bytes[at..]],
                    Feed::ByteByByte => bytes.chunks(1).collect(),
                    _ => vec![bytes],
                };
                for piece in pieces {
                    conn.receive(piece);
                    let mut more = vec![];
                    drain(&mut conn, &mut out, &mut more);
                    // Once Done, the later pieces' polls say Done again:
                    // one per step is recorded.
                    if !(answers.last() == Some(&done()) && more == [done()]) {
                        answers.extend(more);
                    }
                }
            }
            Eof => {
                conn.receive_eof();
                drain(&mut conn, &mut out, &mut answers);
            }
            Close => {
                conn.sender()
                    .close(CloseCode::NORMAL, "", &mut out)
                    .unwrap();
                drain(&mut conn, &mut out, &mut answers);
            }
            Accept => {
                conn.sender().accept(&Accept::new(), &mut out).unwrap();
                drain(&mut conn, &mut out, &mut answers);
            }
            Ping(payload) => {
                conn.sender()
                    .send(Message::Ping(payload), &mut out)
                    .unwrap();
                drain(&mut conn, &mut out, &mut answers);
            }
        }
        let timeout = conn.poll_timeout().map(|d| {
            assert_eq!(d.subsec_nanos() % 1_000_000, 0, "deadline off the ms grid");
            d.as_millis() as u64
        });
        recs.push(Rec {
            out: normalize_408(&out),
            answers,
            timeout,
        });
    }
    recs
}

/// Feeds a script whole, byte by byte, and with each `Bytes` step split at
/// every point; checks that all transcripts agree; returns it.
fn invariant_script(make: &dyn Fn() -> Connection, script: &[Step]) -> Vec<Rec> {
    let whole = run(make(), script, Feed::Whole);
    assert_eq!(
        run(make(), script, Feed::ByteByByte),
        whole,
        "byte by byte differs from whole"
    );
    for (i, step) in script.iter().enumerate() {
        if let Bytes(bytes) = step {
            for at in 0..=bytes.len() {
                let split = run(make(), script, Feed::Split(i, at));
                assert_eq!(split, whole, "step {i} split at {at} differs from whole");
            }
        }
    }
    whole
}

/// One row of a table: the step, the bytes it writes, the answers of the
/// polls after it, and `poll_timeout()` afterwards (ms).
type Row = (Step, Vec<u8>, Vec<Owned>, Option<u64>);

fn row(step: Step, out: Vec<u8>, answers: Vec<Owned>, timeout: Option<u64>) -> Row {
    (step, out, answers, timeout)
}

/// A step that writes nothing and reports nothing.
fn quiet(step: Step, timeout: Option<u64>) -> Row {
    (step, vec![], vec![], timeout)
}

/// Runs a table (with every chunking) and checks each row exactly; a final
/// `Done` must stay `Done` and silent.
#[track_caller]
fn check(name: &str, make: &dyn Fn() -> Connection, rows: &[Row]) {
    let script: Vec<Step> = rows.iter().map(|r| r.0.clone()).collect();
    let got = invariant_script(make, &script);
    for (i, ((step, out, answers, timeout), rec)) in rows.iter().zip(&got).enumerate() {
        let want = Rec {
            out: out.clone(),
            answers: answers.clone(),
            timeout: *timeout,
        };
        assert_eq!(rec, &want, "{name}: row {i} ({step:?})");
    }
    if rows.last().is_some_and(|r| r.2.last() == Some(&done())) {
        // Done is final: later time or bytes change nothing.
        let mut conn = make();
        let mut sink = Vec::new();
        for step in &script {
            run_one(&mut conn, step, &mut sink);
        }
        let mut out = Vec::new();
        conn.handle_timeout(ms(u64::MAX / 4), &mut out);
        conn.receive(b"late");
        assert!(out.is_empty(), "{name}: bytes after Done");
        assert!(is_done(&mut conn), "{name}: not Done at the end");
        assert_eq!(conn.poll_timeout(), None, "{name}: a deadline after Done");
    }
}

fn run_one(conn: &mut Connection, step: &Step, out: &mut Vec<u8>) {
    let mut answers = vec![];
    match step {
        Time(t) => conn.handle_timeout(ms(*t), out),
        Bytes(b) => conn.receive(b),
        Eof => conn.receive_eof(),
        Close => conn.sender().close(CloseCode::NORMAL, "", out).unwrap(),
        Accept => conn.sender().accept(&Accept::new(), out).unwrap(),
        Ping(p) => conn.sender().send(Message::Ping(p), out).unwrap(),
    }
    drain(conn, out, &mut answers);
}

// ---------------------------------------------------------------------------
// Handshake timeout
// ---------------------------------------------------------------------------

fn server_hs() -> Connection {
    Connection::server(config())
}

#[test]
fn handshake_server_silent_peer_is_dropped_without_408() {
    // Time starts at the first handle_timeout (here 0).
    check(
        "server silent",
        &server_hs,
        &[
            quiet(Time(0), Some(HS)),
            quiet(Time(HS - 1), Some(HS)),
            row(Time(HS), vec![], vec![hs_timeout(), done()], None),
        ],
    );
    check(
        "server silent, +1 ms",
        &server_hs,
        &[
            quiet(Time(0), Some(HS)),
            row(Time(HS + 1), vec![], vec![hs_timeout(), done()], None),
        ],
    );
}

#[test]
fn handshake_server_begun_request_gets_408() {
    for late in [0, 1] {
        check(
            &format!("server partial request, +{late} ms"),
            &server_hs,
            &[
                quiet(Time(0), Some(HS)),
                // Bytes do not move the handshake deadline.
                quiet(Bytes(REQUEST[..20].to_vec()), Some(HS)),
                quiet(Time(HS - 1), Some(HS)),
                quiet(Bytes(REQUEST[20..40].to_vec()), Some(HS)),
                row(
                    Time(HS + late),
                    response_408(),
                    vec![hs_timeout(), done()],
                    None,
                ),
            ],
        );
    }
}

#[test]
fn handshake_server_time_starts_at_the_first_handle_timeout() {
    // Bytes before any time: the deadline is due at once (tell the time);
    // the origin is the caller's.
    check(
        "server, origin 5000",
        &server_hs,
        &[
            quiet(Bytes(REQUEST[..5].to_vec()), Some(0)),
            quiet(Time(5000), Some(5000 + HS)),
            quiet(Time(5000 + HS - 1), Some(5000 + HS)),
            row(
                Time(5000 + HS),
                response_408(),
                vec![hs_timeout(), done()],
                None,
            ),
        ],
    );
}

#[test]
fn handshake_server_deciding_has_no_deadline() {
    // A complete request awaits the caller: no timer of ours fires, however
    // long it takes; the keepalive starts at the acceptance (stamped with
    // the clock of the latest handle_timeout).
    let t = 100_000;
    let accept_out = ACCEPT_101.as_bytes().to_vec();
    check(
        "server deciding",
        &server_hs,
        &[
            quiet(Time(0), Some(HS)),
            row(
                Bytes(REQUEST.to_vec()),
                vec![],
                vec![Owned::Other("Request".into())],
                None,
            ),
            quiet(Time(HS), None),
            quiet(Time(t), None),
            row(Accept, accept_out, vec![], Some(t + INTERVAL)),
            quiet(Time(t + INTERVAL - 1), Some(t + INTERVAL)),
            row(
                Time(t + INTERVAL),
                SERVER.ping(1),
                vec![],
                Some(t + INTERVAL + TIMEOUT),
            ),
        ],
    );
}

#[test]
fn handshake_server_completed_in_time_switches_to_keepalive() {
    let mut frames = c2s(0x81, b"hi");
    frames.extend(c2s(0x82, b"yo"));
    check(
        "server completes at HS - 1",
        &server_hs,
        &[
            quiet(Time(0), Some(HS)),
            quiet(Time(HS - 1), Some(HS)),
            row(
                Bytes(REQUEST.to_vec()),
                vec![],
                vec![Owned::Other("Request".into())],
                None,
            ),
            row(
                Accept,
                ACCEPT_101.as_bytes().to_vec(),
                vec![],
                Some(HS - 1 + INTERVAL),
            ),
            // The request's bytes count as activity at this handle_timeout:
            // the keepalive interval starts again here.
            quiet(Time(HS), Some(HS + INTERVAL)),
            row(
                Bytes(frames),
                vec![],
                vec![Owned::Text("hi".into()), Owned::Binary(b"yo".to_vec())],
                Some(HS + INTERVAL),
            ),
        ],
    );
}

#[test]
fn handshake_client_silent_or_partial_response_fails_without_bytes() {
    let make = || fresh_client(config());
    let response = client_response();
    for late in [0, 1] {
        check(
            &format!("client silent, +{late} ms"),
            &make,
            &[
                quiet(Time(0), Some(HS)),
                quiet(Time(HS - 1), Some(HS)),
                row(Time(HS + late), vec![], vec![hs_timeout(), done()], None),
            ],
        );
        check(
            &format!("client partial response, +{late} ms"),
            &make,
            &[
                quiet(Time(0), Some(HS)),
                quiet(Bytes(response[..30].to_vec()), Some(HS)),
                quiet(Time(HS - 1), Some(HS)),
                row(Time(HS + late), vec![], vec![hs_timeout(), done()], None),
            ],
        );
    }
}

#[test]
fn handshake_client_refusal_body_pending_times_out() {
    let make = || fresh_client(config());
    check(
        "client reading a refusal's body",
        &make,
        &[
            quiet(Time(0), Some(HS)),
            quiet(
                Bytes(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\nabc".to_vec()),
                Some(HS),
            ),
            quiet(Time(HS - 1), Some(HS)),
            row(Time(HS), vec![], vec![hs_timeout(), done()], None),
        ],
    );
}

#[test]
fn handshake_client_completed_in_time_switches_to_keepalive() {
    let make = || fresh_client(config());
    check(
        "client accepted at 700",
        &make,
        &[
            quiet(Time(0), Some(HS)),
            quiet(Time(700), Some(HS)),
            // Accepted is stamped with the clock (700)...
            row(
                Bytes(client_response()),
                vec![],
                vec![Owned::Other("Accepted".into())],
                Some(700 + INTERVAL),
            ),
            // ...and the response's bytes are activity at the next
            // handle_timeout: the interval starts again at HS.
            quiet(Time(HS), Some(HS + INTERVAL)),
            quiet(Time(HS + INTERVAL - 1), Some(HS + INTERVAL)),
            row(
                Time(HS + INTERVAL),
                CLIENT.ping(1),
                vec![],
                Some(HS + INTERVAL + TIMEOUT),
            ),
        ],
    );
}

#[test]
fn handshake_timeout_disabled_never_fires() {
    let cfg = || config().with_handshake_timeout(None);
    check(
        "server, no handshake timeout",
        &|| Connection::server(cfg()),
        &[
            quiet(Time(0), None),
            quiet(Bytes(REQUEST[..20].to_vec()), None),
            quiet(Time(1 << 40), None),
        ],
    );
    check(
        "client, no handshake timeout",
        &|| fresh_client(cfg()),
        &[quiet(Time(0), None), quiet(Time(1 << 40), None)],
    );
}

// ---------------------------------------------------------------------------
// Keepalive
// ---------------------------------------------------------------------------

const BOTH: [End; 2] = [SERVER, CLIENT];

#[test]
fn keepalive_quiet_peer_gets_a_ping_then_1011() {
    for end in BOTH {
        for late in [0, 1] {
            check(
                &format!("{end:?} quiet, +{late} ms"),
                &|| end.open(config()),
                &[
                    quiet(Time(0), Some(INTERVAL)),
                    quiet(Time(INTERVAL - 1), Some(INTERVAL)),
                    // The Ping goes out at the time given: its answer is due
                    // TIMEOUT after that.
                    row(
                        Time(INTERVAL + late),
                        end.ping(1),
                        vec![],
                        Some(INTERVAL + late + TIMEOUT),
                    ),
                    quiet(
                        Time(INTERVAL + late + TIMEOUT - 1),
                        Some(INTERVAL + late + TIMEOUT),
                    ),
                    row(
                        Time(INTERVAL + late + TIMEOUT + late),
                        end.close_1011(),
                        vec![err(Error::KeepaliveTimeout), done()],
                        None,
                    ),
                ],
            );
        }
    }
}

#[test]
fn keepalive_pong_answer_resets_and_the_sequence_advances() {
    for end in BOTH {
        let t1 = INTERVAL; // first Ping
        let t2 = t1 + 100; // its Pong is seen at this handle_timeout
        check(
            &format!("{end:?} answered"),
            &|| end.open(config()),
            &[
                quiet(Time(0), Some(INTERVAL)),
                row(Time(t1), end.ping(1), vec![], Some(t1 + TIMEOUT)),
                // The Pong clears the pending Ping at once; the interval
                // restarts at the next handle_timeout (the bytes' activity).
                row(
                    Bytes(end.peer(0x8a, &ka(1))),
                    vec![],
                    vec![Owned::Pong(ka(1))],
                    Some(t1 + INTERVAL),
                ),
                quiet(Time(t2), Some(t2 + INTERVAL)),
                quiet(Time(t2 + INTERVAL - 1), Some(t2 + INTERVAL)),
                row(
                    Time(t2 + INTERVAL),
                    end.ping(2),
                    vec![],
                    Some(t2 + INTERVAL + TIMEOUT),
                ),
                // A late answer to Ping 1 is not an answer to Ping 2.
                row(
                    Bytes(end.peer(0x8a, &ka(1))),
                    vec![],
                    vec![Owned::Pong(ka(1))],
                    Some(t2 + INTERVAL + TIMEOUT),
                ),
                row(
                    Time(t2 + INTERVAL + TIMEOUT),
                    end.close_1011(),
                    vec![err(Error::KeepaliveTimeout), done()],
                    None,
                ),
            ],
        );
    }
}

#[test]
fn keepalive_users_pong_is_not_an_answer_unless_any_data() {
    const USER: &[u8] = b"user";
    for end in BOTH {
        // Without any_data: the user's Ping and its Pong change nothing.
        check(
            &format!("{end:?} user's pong, any_data off"),
            &|| end.open(config()),
            &[
                quiet(Time(0), Some(INTERVAL)),
                row(
                    Time(INTERVAL),
                    end.ping(1),
                    vec![],
                    Some(INTERVAL + TIMEOUT),
                ),
                row(
                    Ping(USER),
                    end.ours(0x89, USER),
                    vec![],
                    Some(INTERVAL + TIMEOUT),
                ),
                row(
                    Bytes(end.peer(0x8a, USER)),
                    vec![],
                    vec![Owned::Pong(USER.to_vec())],
                    Some(INTERVAL + TIMEOUT),
                ),
                quiet(Time(INTERVAL + 1), Some(INTERVAL + TIMEOUT)),
                row(
                    Time(INTERVAL + TIMEOUT),
                    end.close_1011(),
                    vec![err(Error::KeepaliveTimeout), done()],
                    None,
                ),
            ],
        );
        // With any_data: any bytes answer, so the same Pong does.
        let cfg = config().with_keepalive(keepalive(false, true));
        check(
            &format!("{end:?} user's pong, any_data on"),
            &|| end.open(cfg.clone()),
            &[
                quiet(Time(0), Some(INTERVAL)),
                row(
                    Time(INTERVAL),
                    end.ping(1),
                    vec![],
                    Some(INTERVAL + TIMEOUT),
                ),
                // Answered already: the next deadline is at most the next
                // Ping's (counted from the time the bytes are seen).
                row(
                    Bytes(end.peer(0x8a, USER)),
                    vec![],
                    vec![Owned::Pong(USER.to_vec())],
                    Some(2 * INTERVAL),
                ),
                quiet(Time(INTERVAL + 1), Some(2 * INTERVAL + 1)),
                quiet(Time(INTERVAL + TIMEOUT), Some(2 * INTERVAL + 1)),
                quiet(Time(2 * INTERVAL), Some(2 * INTERVAL + 1)),
                row(
                    Time(2 * INTERVAL + 1),
                    end.ping(2),
                    vec![],
                    Some(2 * INTERVAL + 1 + TIMEOUT),
                ),
            ],
        );
    }
}

#[test]
fn keepalive_any_data_on_and_off() {
    for end in BOTH {
        let text = end.peer(0x81, b"alive");
        // Off: a message while a Ping is pending does not answer it (but
        // the quiet interval restarts, for the next Ping).
        check(
            &format!("{end:?} data, any_data off"),
            &|| end.open(config()),
            &[
                quiet(Time(0), Some(INTERVAL)),
                row(
                    Time(INTERVAL),
                    end.ping(1),
                    vec![],
                    Some(INTERVAL + TIMEOUT),
                ),
                row(
                    Bytes(text.clone()),
                    vec![],
                    vec![Owned::Text("alive".into())],
                    Some(INTERVAL + TIMEOUT),
                ),
                quiet(Time(INTERVAL + 10), Some(INTERVAL + TIMEOUT)),
                row(
                    Time(INTERVAL + TIMEOUT),
                    end.close_1011(),
                    vec![err(Error::KeepaliveTimeout), done()],
                    None,
                ),
            ],
        );
        let cfg = config().with_keepalive(keepalive(false, true));
        check(
            &format!("{end:?} data, any_data on"),
            &|| end.open(cfg.clone()),
            &[
                quiet(Time(0), Some(INTERVAL)),
                row(
                    Time(INTERVAL),
                    end.ping(1),
                    vec![],
                    Some(INTERVAL + TIMEOUT),
                ),
                row(
                    Bytes(text.clone()),
                    vec![],
                    vec![Owned::Text("alive".into())],
                    Some(2 * INTERVAL),
                ),
                quiet(Time(INTERVAL + 10), Some(2 * INTERVAL + 10)),
                quiet(Time(INTERVAL + TIMEOUT), Some(2 * INTERVAL + 10)),
            ],
        );
        // Before any Ping, data postpones it either way (not fixed).
        for any in [false, true] {
            let cfg = config().with_keepalive(keepalive(false, any));
            check(
                &format!("{end:?} busy, any_data {any}"),
                &|| end.open(cfg.clone()),
                &[
                    quiet(Time(0), Some(INTERVAL)),
                    row(
                        Bytes(text.clone()),
                        vec![],
                        vec![Owned::Text("alive".into())],
                        Some(INTERVAL),
                    ),
                    quiet(Time(1500), Some(1500 + INTERVAL)),
                    quiet(Time(INTERVAL), Some(1500 + INTERVAL)),
                    row(
                        Time(1500 + INTERVAL),
                        end.ping(1),
                        vec![],
                        Some(1500 + INTERVAL + TIMEOUT),
                    ),
                ],
            );
        }
    }
}

#[test]
fn keepalive_fixed_interval_on_and_off() {
    for end in BOTH {
        let text = end.peer(0x81, b"busy");
        let cfg = config().with_keepalive(keepalive(true, false));
        // Fixed: data does not postpone the Ping; a Pong answers it, and the
        // next Ping comes INTERVAL after the previous one.
        check(
            &format!("{end:?} fixed interval"),
            &|| end.open(cfg.clone()),
            &[
                quiet(Time(0), Some(INTERVAL)),
                row(
                    Bytes(text.clone()),
                    vec![],
                    vec![Owned::Text("busy".into())],
                    Some(INTERVAL),
                ),
                quiet(Time(1000), Some(INTERVAL)),
                quiet(Time(INTERVAL - 1), Some(INTERVAL)),
                row(
                    Time(INTERVAL),
                    end.ping(1),
                    vec![],
                    Some(INTERVAL + TIMEOUT),
                ),
                row(
                    Bytes(end.peer(0x8a, &ka(1))),
                    vec![],
                    vec![Owned::Pong(ka(1))],
                    Some(2 * INTERVAL),
                ),
                quiet(Time(INTERVAL + 100), Some(2 * INTERVAL)),
                quiet(Time(2 * INTERVAL - 1), Some(2 * INTERVAL)),
                row(
                    Time(2 * INTERVAL),
                    end.ping(2),
                    vec![],
                    Some(2 * INTERVAL + TIMEOUT),
                ),
            ],
        );
        // Not fixed: the same data postpones the first Ping.
        check(
            &format!("{end:?} interval after quiet"),
            &|| end.open(config()),
            &[
                quiet(Time(0), Some(INTERVAL)),
                row(
                    Bytes(text.clone()),
                    vec![],
                    vec![Owned::Text("busy".into())],
                    Some(INTERVAL),
                ),
                quiet(Time(1000), Some(1000 + INTERVAL)),
                quiet(Time(INTERVAL), Some(1000 + INTERVAL)),
                row(
                    Time(1000 + INTERVAL),
                    end.ping(1),
                    vec![],
                    Some(1000 + INTERVAL + TIMEOUT),
                ),
            ],
        );
        // Fixed with any_data: data while the Ping is pending answers it;
        // the next Ping is still INTERVAL after the previous one.
        let cfg = config().with_keepalive(keepalive(true, true));
        check(
            &format!("{end:?} fixed interval, any_data"),
            &|| end.open(cfg.clone()),
            &[
                quiet(Time(0), Some(INTERVAL)),
                row(
                    Time(INTERVAL),
                    end.ping(1),
                    vec![],
                    Some(INTERVAL + TIMEOUT),
                ),
                // The bytes answer the Ping already: the next deadline is
                // the next Ping's.
                row(
                    Bytes(text.clone()),
                    vec![],
                    vec![Owned::Text("busy".into())],
                    Some(2 * INTERVAL),
                ),
                quiet(Time(INTERVAL + 100), Some(2 * INTERVAL)),
                row(
                    Time(2 * INTERVAL),
                    end.ping(2),
                    vec![],
                    Some(2 * INTERVAL + TIMEOUT),
                ),
            ],
        );
    }
}

#[test]
fn keepalive_disabled_never_pings() {
    for end in BOTH {
        let cfg = config().with_keepalive(None);
        check(
            &format!("{end:?} no keepalive"),
            &|| end.open(cfg.clone()),
            &[
                quiet(Time(0), None),
                quiet(Time(INTERVAL), None),
                quiet(Time(1 << 40), None),
                row(
                    Bytes(end.peer(0x81, b"x")),
                    vec![],
                    vec![Owned::Text("x".into())],
                    None,
                ),
                quiet(Time(1 << 41), None),
            ],
        );
    }
}

#[test]
fn keepalive_stops_once_closing_or_closed() {
    for end in BOTH {
        // Closing: only the close timeout counts, even with a Ping pending.
        check(
            &format!("{end:?} closing, ping pending"),
            &|| end.open(config()),
            &[
                quiet(Time(0), Some(INTERVAL)),
                row(
                    Time(INTERVAL),
                    end.ping(1),
                    vec![],
                    Some(INTERVAL + TIMEOUT),
                ),
                row(
                    Close,
                    end.ours(0x88, &close_payload(1000, "")),
                    vec![],
                    Some(INTERVAL + CLOSE),
                ),
                quiet(Time(INTERVAL + TIMEOUT), Some(INTERVAL + CLOSE)),
            ],
        );
    }
    // A server that closed is Done: no deadline at all.
    check(
        "server closed",
        &|| SERVER.open(config()),
        &[
            quiet(Time(0), Some(INTERVAL)),
            row(
                Bytes(SERVER.peer(0x88, &close_payload(1000, ""))),
                SERVER.ours(0x88, &close_payload(1000, "")),
                vec![close_ev(1000), done()],
                None,
            ),
            row(Time(INTERVAL), vec![], vec![done()], None),
        ],
    );
}

// ---------------------------------------------------------------------------
// Close timeout and the client's wait for the server's TCP close
// ---------------------------------------------------------------------------

#[test]
fn close_timeout_reports_1006_then_done() {
    for end in BOTH {
        for late in [0, 1] {
            let t0 = 500; // our Close is stamped with this clock
            check(
                &format!("{end:?} no Close back, +{late} ms"),
                &|| end.open(config()),
                &[
                    quiet(Time(0), Some(INTERVAL)),
                    quiet(Time(t0), Some(INTERVAL)),
                    row(
                        Close,
                        end.ours(0x88, &close_payload(1000, "")),
                        vec![],
                        Some(t0 + CLOSE),
                    ),
                    // Data from the peer is still delivered; it does not
                    // move the deadline.
                    row(
                        Bytes(end.peer(0x81, b"late")),
                        vec![],
                        vec![Owned::Text("late".into())],
                        Some(t0 + CLOSE),
                    ),
                    quiet(Time(t0 + CLOSE - 1), Some(t0 + CLOSE)),
                    row(
                        Time(t0 + CLOSE + late),
                        vec![],
                        vec![close_ev(1006), done()],
                        None,
                    ),
                ],
            );
        }
    }
}

#[test]
fn close_timeout_stamped_at_the_first_handle_timeout_if_none_yet() {
    for end in BOTH {
        check(
            &format!("{end:?} close before any time"),
            &|| end.open(config()),
            &[
                row(
                    Close,
                    end.ours(0x88, &close_payload(1000, "")),
                    vec![],
                    Some(0),
                ),
                quiet(Time(7000), Some(7000 + CLOSE)),
                row(
                    Time(7000 + CLOSE),
                    vec![],
                    vec![close_ev(1006), done()],
                    None,
                ),
            ],
        );
    }
}

#[test]
fn close_answered_in_time() {
    // Server: the closing handshake is done: Done, no deadline.
    check(
        "server, Close back at CLOSE - 1",
        &|| SERVER.open(config()),
        &[
            quiet(Time(0), Some(INTERVAL)),
            row(
                Close,
                SERVER.ours(0x88, &close_payload(1000, "")),
                vec![],
                Some(CLOSE),
            ),
            quiet(Time(CLOSE - 1), Some(CLOSE)),
            row(
                Bytes(SERVER.peer(0x88, &close_payload(1000, ""))),
                vec![],
                vec![close_ev(1000), done()],
                None,
            ),
            row(Time(CLOSE), vec![], vec![done()], None),
        ],
    );
    // Client: now it waits for the server's TCP close, at most CLOSE from
    // the clock at which the Close arrived.
    let t = CLOSE - 1;
    check(
        "client, Close back at CLOSE - 1, no FIN",
        &|| CLIENT.open(config()),
        &[
            quiet(Time(0), Some(INTERVAL)),
            row(
                Close,
                CLIENT.ours(0x88, &close_payload(1000, "")),
                vec![],
                Some(CLOSE),
            ),
            quiet(Time(t), Some(CLOSE)),
            row(
                Bytes(CLIENT.peer(0x88, &close_payload(1000, ""))),
                vec![],
                vec![close_ev(1000)],
                Some(t + CLOSE),
            ),
            quiet(Time(t + CLOSE - 1), Some(t + CLOSE)),
            row(Time(t + CLOSE), vec![], vec![done()], None),
        ],
    );
    check(
        "client, Close back, then FIN",
        &|| CLIENT.open(config()),
        &[
            quiet(Time(0), Some(INTERVAL)),
            row(
                Close,
                CLIENT.ours(0x88, &close_payload(1000, "")),
                vec![],
                Some(CLOSE),
            ),
            row(
                Bytes(CLIENT.peer(0x88, &close_payload(1000, ""))),
                vec![],
                vec![close_ev(1000)],
                Some(CLOSE),
            ),
            row(Eof, vec![], vec![done()], None),
            row(Time(CLOSE), vec![], vec![done()], None),
        ],
    );
}

#[test]
fn client_waits_for_the_servers_tcp_close_at_most_close_timeout() {
    // The server starts the closing handshake: the client echoes it, then
    // waits for TCP to end.
    for late in [0, 1] {
        let t = 1200;
        check(
            &format!("client, server's Close, +{late} ms"),
            &|| CLIENT.open(config()),
            &[
                quiet(Time(0), Some(INTERVAL)),
                quiet(Time(t), Some(INTERVAL)),
                row(
                    Bytes(CLIENT.peer(0x88, &close_payload(1001, "bye"))),
                    CLIENT.ours(0x88, &close_payload(1001, "")),
                    vec![Owned::Close(1001, "bye".into())],
                    Some(t + CLOSE),
                ),
                quiet(Time(t + CLOSE - 1), Some(t + CLOSE)),
                row(Time(t + CLOSE + late), vec![], vec![done()], None),
            ],
        );
    }
    // The server, in the same position, is done at once.
    check(
        "server, client's Close",
        &|| SERVER.open(config()),
        &[
            quiet(Time(0), Some(INTERVAL)),
            row(
                Bytes(SERVER.peer(0x88, &close_payload(1001, "bye"))),
                SERVER.ours(0x88, &close_payload(1001, "")),
                vec![Owned::Close(1001, "bye".into()), done()],
                None,
            ),
        ],
    );
}

#[test]
fn close_timeout_disabled_never_fires() {
    for end in BOTH {
        let cfg = config().with_close_timeout(None);
        check(
            &format!("{end:?} closing, no close timeout"),
            &|| end.open(cfg.clone()),
            &[
                quiet(Time(0), Some(INTERVAL)),
                row(
                    Close,
                    end.ours(0x88, &close_payload(1000, "")),
                    vec![],
                    None,
                ),
                quiet(Time(1 << 40), None),
            ],
        );
    }
    let cfg = || config().with_close_timeout(None);
    check(
        "client awaiting FIN, no close timeout",
        &|| CLIENT.open(cfg()),
        &[
            quiet(Time(0), Some(INTERVAL)),
            row(
                Bytes(CLIENT.peer(0x88, &close_payload(1000, ""))),
                CLIENT.ours(0x88, &close_payload(1000, "")),
                vec![close_ev(1000)],
                None,
            ),
            quiet(Time(1 << 40), None),
            row(Eof, vec![], vec![done()], None),
        ],
    );
}

#[test]
fn all_timers_off_no_deadline_in_any_state() {
    let server = || Connection::server(no_timers());
    check(
        "server, all off",
        &server,
        &[
            quiet(Time(0), None),
            row(
                Bytes(REQUEST.to_vec()),
                vec![],
                vec![Owned::Other("Request".into())],
                None,
            ),
            row(Accept, ACCEPT_101.as_bytes().to_vec(), vec![], None),
            quiet(Time(1 << 40), None),
            row(Close, s2c(0x88, &close_payload(1000, "")), vec![], None),
            quiet(Time(1 << 41), None),
        ],
    );
}

// ---------------------------------------------------------------------------
// The clock itself
// ---------------------------------------------------------------------------

#[test]
fn deadlines_due_at_once_before_the_first_handle_timeout() {
    // A loop that waits for bytes no longer than `poll_timeout` says is
    // told to tell the time at once, which starts the clock.
    for end in BOTH {
        let conn = end.open(config());
        assert_eq!(conn.poll_timeout(), Some(Duration::ZERO));
        assert_eq!(end.open(no_timers()).poll_timeout(), None);
    }
    assert_eq!(
        Connection::server(config()).poll_timeout(),
        Some(Duration::ZERO)
    );
    assert_eq!(fresh_client(config()).poll_timeout(), Some(Duration::ZERO));
    assert_eq!(Connection::server(no_timers()).poll_timeout(), None);
    let mut server = Connection::server(config());
    server.handle_timeout(ms(5000), &mut vec![]);
    assert_eq!(server.poll_timeout(), Some(ms(5000 + HS)));
}

#[test]
fn time_going_backwards_is_clamped() {
    for end in BOTH {
        check(
            &format!("{end:?} backwards"),
            &|| end.open(config()),
            &[
                quiet(Time(0), Some(INTERVAL)),
                quiet(Time(1500), Some(INTERVAL)),
                // Taken as 1500: nothing moves, nothing fires.
                quiet(Time(100), Some(INTERVAL)),
                // Our Close is stamped with the clamped clock, 1500.
                row(
                    Close,
                    end.ours(0x88, &close_payload(1000, "")),
                    vec![],
                    Some(1500 + CLOSE),
                ),
                quiet(Time(0), Some(1500 + CLOSE)),
                quiet(Time(1500 + CLOSE - 1), Some(1500 + CLOSE)),
                row(
                    Time(1500 + CLOSE),
                    vec![],
                    vec![close_ev(1006), done()],
                    None,
                ),
            ],
        );
        // Activity at a backwards time counts at the clamped clock.
        check(
            &format!("{end:?} activity at a backwards time"),
            &|| end.open(config()),
            &[
                quiet(Time(0), Some(INTERVAL)),
                quiet(Time(1500), Some(INTERVAL)),
                row(
                    Bytes(end.peer(0x81, b"x")),
                    vec![],
                    vec![Owned::Text("x".into())],
                    Some(INTERVAL),
                ),
                quiet(Time(3), Some(1500 + INTERVAL)),
                row(
                    Time(1500 + INTERVAL),
                    end.ping(1),
                    vec![],
                    Some(1500 + INTERVAL + TIMEOUT),
                ),
            ],
        );
    }
    let mut server = Connection::server(config());
    let mut out = vec![];
    server.handle_timeout(ms(600), &mut out);
    server.handle_timeout(ms(0), &mut out);
    assert_eq!(server.poll_timeout(), Some(ms(600 + HS)));
    server.handle_timeout(ms(HS), &mut out);
    assert!(out.is_empty());
    assert!(matches!(server.poll_event(&mut out), Polled::NeedMore));
}

#[test]
fn one_call_fires_one_thing_a_late_call_does_not_skip_the_ping() {
    // A caller that slept far past every deadline: the Ping goes out at
    // that time, and its answer is due TIMEOUT later (no instant 1011).
    for end in BOTH {
        let late = 10 * (INTERVAL + TIMEOUT);
        check(
            &format!("{end:?} very late"),
            &|| end.open(config()),
            &[
                quiet(Time(0), Some(INTERVAL)),
                row(Time(late), end.ping(1), vec![], Some(late + TIMEOUT)),
                row(Time(late), vec![], vec![], Some(late + TIMEOUT)),
            ],
        );
    }
}

// ---------------------------------------------------------------------------
// Interleaving: bytes split at every point around the time steps
// ---------------------------------------------------------------------------

#[test]
fn interleaved_script_is_chunking_invariant_server() {
    // A whole server life: handshake bytes in pieces around time steps,
    // frames in pieces, Pings and their answers, a user's Ping, then the
    // closing handshake and a timeout.
    let mut frames = c2s(0x01, b"frag");
    frames.extend(c2s(0x89, b"p"));
    frames.extend(c2s(0x80, b"ment"));
    let script = vec![
        Time(0),
        Bytes(REQUEST[..50].to_vec()),
        Time(400),
        Bytes(REQUEST[50..].to_vec()),
        Accept,
        Bytes(frames),
        Time(900),
        Time(900 + INTERVAL),
        Bytes([c2s(0x8a, &ka(1)), c2s(0x81, b"after")].concat()),
        Ping(b"mine"),
        Time(5000),
        Time(5000 + INTERVAL),
        Bytes(c2s(0x8a, b"mine")),
        Time(5000 + INTERVAL + TIMEOUT),
    ];
    let t = invariant_script(&|| Connection::server(config()), &script);
    let all: Vec<Owned> = t.iter().flat_map(|r| r.answers.clone()).collect();
    assert_eq!(
        all,
        vec![
            Owned::Other("Request".into()),
            Owned::Ping(b"p".to_vec()),
            Owned::Text("fragment".into()),
            Owned::Pong(ka(1)),
            Owned::Text("after".into()),
            Owned::Pong(b"mine".to_vec()),
            err(Error::KeepaliveTimeout),
            done(),
        ]
    );
    let out: Vec<u8> = t.iter().flat_map(|r| r.out.clone()).collect();
    let want = [
        ACCEPT_101.as_bytes().to_vec(),
        s2c(0x8a, b"p"),
        s2c(0x89, &ka(1)),
        s2c(0x89, b"mine"),
        s2c(0x89, &ka(2)),
        SERVER.close_1011(),
    ]
    .concat();
    assert_eq!(out, want);
    let timeouts: Vec<Option<u64>> = t.iter().map(|r| r.timeout).collect();
    assert_eq!(
        timeouts,
        vec![
            Some(HS),
            Some(HS),
            Some(HS),
            None,
            Some(400 + INTERVAL),
            Some(400 + INTERVAL),
            Some(900 + INTERVAL),
            Some(900 + INTERVAL + TIMEOUT),
            Some(900 + 2 * INTERVAL),
            Some(900 + 2 * INTERVAL),
            Some(5000 + INTERVAL),
            Some(5000 + INTERVAL + TIMEOUT),
            Some(5000 + INTERVAL + TIMEOUT),
            None,
        ]
    );
}

#[test]
fn interleaved_script_is_chunking_invariant_client() {
    let response = client_response();
    let mut frames = s2c(0x81, b"hello");
    frames.extend(s2c(0x89, b"srv"));
    let script = vec![
        Time(0),
        Bytes(response[..40].to_vec()),
        Time(HS - 1),
        Bytes([response[40..].to_vec(), frames].concat()),
        Time(HS),
        Time(HS + INTERVAL),
        Bytes(s2c(0x8a, &ka(1))),
        Close,
        Time(HS + INTERVAL + 1),
        Bytes(s2c(0x88, &close_payload(1000, ""))),
        Time(HS + INTERVAL + CLOSE),
        Time(HS + INTERVAL + 1 + CLOSE),
    ];
    let t = invariant_script(&|| fresh_client(config()), &script);
    let all: Vec<Owned> = t.iter().flat_map(|r| r.answers.clone()).collect();
    assert_eq!(
        all,
        vec![
            Owned::Other("Accepted".into()),
            Owned::Text("hello".into()),
            Owned::Ping(b"srv".to_vec()),
            Owned::Pong(ka(1)),
            close_ev(1000),
            done(),
        ]
    );
    let out: Vec<u8> = t.iter().flat_map(|r| r.out.clone()).collect();
    let want = [
        c2s(0x8a, b"srv"),
        c2s(0x89, &ka(1)),
        c2s(0x88, &close_payload(1000, "")),
    ]
    .concat();
    assert_eq!(out, want);
    let timeouts: Vec<Option<u64>> = t.iter().map(|r| r.timeout).collect();
    assert_eq!(
        timeouts,
        vec![
            Some(HS),
            Some(HS),
            Some(HS),
            Some(HS - 1 + INTERVAL),
            Some(HS + INTERVAL),
            Some(HS + INTERVAL + TIMEOUT),
            Some(HS + 2 * INTERVAL),
            Some(HS + INTERVAL + CLOSE),
            Some(HS + INTERVAL + CLOSE),
            Some(HS + INTERVAL + 1 + CLOSE),
            Some(HS + INTERVAL + 1 + CLOSE),
            None,
        ]
    );
}

// ---------------------------------------------------------------------------
// Crate bugs found here (fixed; the tests stay)
// ---------------------------------------------------------------------------

/// The 408 once said `408 Status`: `reason_phrase` had no entry for it.
#[test]
fn bug_408_has_no_reason_phrase() {
    let mut server = Connection::server(config());
    let mut out = vec![];
    server.handle_timeout(ms(0), &mut out);
    server.receive(b"GET / HT");
    server.handle_timeout(ms(HS), &mut out);
    assert_eq!(out, response_408());
}

/// With fixed_interval + any_data, poll_timeout() after receive() once
/// ignored the pending activity and said the Ping's answer deadline, later
/// than the next Ping.
#[test]
fn bug_poll_timeout_after_receive_is_too_late_with_fixed_interval_and_any_data() {
    // interval 2000, timeout 3000 (longer than the interval).
    let cfg = config().with_keepalive(Some(
        Keepalive::new(ms(2000), ms(3000))
            .with_fixed_interval(true)
            .with_any_data(true),
    ));
    let mut conn = SERVER.open(cfg);
    let mut out = vec![];
    conn.handle_timeout(ms(0), &mut out);
    conn.handle_timeout(ms(2000), &mut out);
    assert_eq!(out, SERVER.ping(1));
    assert_eq!(conn.poll_timeout(), Some(ms(5000)));
    conn.receive(&c2s(0x81, b"data"));
    let deadline = conn.poll_timeout();
    // Something happens at 4000 (the next fixed Ping) ...
    out.clear();
    conn.handle_timeout(ms(4000), &mut out);
    assert_eq!(out, SERVER.ping(2));
    // ... but poll_timeout, asked after receive, said 5000: a caller that
    // sleeps until the deadline sends the Ping 1 s late.
    assert_eq!(deadline, Some(ms(4000)));
}

/// Keepalive with `any_data`: bytes from the peer postpone the Ping, an
/// empty read (nothing arrived) does not.
#[test]
fn an_empty_read_is_not_activity() {
    use core::time::Duration;
    use wstate::Keepalive;
    let ms = Duration::from_millis;
    let keepalive = Keepalive::new(ms(100), ms(50)).with_any_data(true);
    let run = |read: &[u8]| {
        let config = Config::default().with_keepalive(Some(keepalive.clone()));
        let mut conn = Connection::new_open(Role::Server, config);
        let mut out = vec![];
        conn.handle_timeout(ms(0), &mut out);
        conn.receive(read);
        conn.handle_timeout(ms(90), &mut out);
        conn.handle_timeout(ms(100), &mut out);
        out
    };
    let pinged = run(&[]);
    assert_eq!(pinged[..2], [0x89, 8], "{pinged:x?}");
    // The first byte of a frame is activity: no Ping at 100 ms.
    assert_eq!(run(&[0x82]), b"");
}
