//! RFC behaviour on an open connection: reassembly, control frames inside
//! fragmented messages, automatic Pong and Close replies, EOF.

mod common;
use common::*;
use wstate::{CloseCode, Config, ConnectionState, Message, SendError};

#[test]
fn reassembles_fragments_with_interleaved_controls() {
    let input = cat(&[
        c2s(0x01, b"frag"),
        c2s(0x89, b"ping1"),
        c2s(0x00, b""),
        c2s(0x8A, b"pong1"),
        c2s(0x00, "ment-κό".as_bytes()),
        c2s(0x89, b""),
        c2s(0x80, b"!"),
        c2s(0x82, &[0, 1, 2]),
        c2s(0x02, &[3]),
        c2s(0x80, &[4]),
    ]);
    let t = invariant(server, &input, false);
    assert_eq!(
        t.events,
        vec![
            Owned::Ping(b"ping1".to_vec()),
            Owned::Pong(b"pong1".to_vec()),
            Owned::Ping(vec![]),
            Owned::Text("fragment-κό!".into()),
            Owned::Binary(vec![0, 1, 2]),
            Owned::Binary(vec![3, 4]),
        ]
    );
    // Each Ping answered at once, with its payload, in order.
    assert_eq!(t.out, cat(&[s2c(0x8A, b"ping1"), s2c(0x8A, b"")]));
}

#[test]
fn empty_messages() {
    let input = cat(&[
        c2s(0x81, b""),
        c2s(0x82, b""),
        c2s(0x01, b""),
        c2s(0x80, b""),
    ]);
    let t = invariant(server, &input, false);
    assert_eq!(
        t.events,
        vec![
            Owned::Text(String::new()),
            Owned::Binary(vec![]),
            Owned::Text(String::new())
        ]
    );
}

#[test]
fn auto_pong_can_be_switched_off() {
    let t = invariant(
        || server_with(Config::default().with_auto_pong(false)),
        &c2s(0x89, b"hi"),
        false,
    );
    assert_eq!(t.events, vec![Owned::Ping(b"hi".to_vec())]);
    assert!(t.out.is_empty());
}

#[test]
fn multibyte_character_split_across_frames() {
    // "😀" = f0 9f 98 80 split over three frames.
    let input = cat(&[
        c2s(0x01, &[0xF0]),
        c2s(0x00, &[0x9F, 0x98]),
        c2s(0x80, &[0x80]),
    ]);
    let t = invariant(server, &input, false);
    assert_eq!(t.events, vec![Owned::Text("😀".into())]);
}

#[test]
fn peer_closes_first_reply_echoes_code() {
    let input = cat(&[
        c2s(0x81, b"last"),
        c2s(0x88, &close_payload(4001, "done")),
        c2s(0x81, b"ignored"),
    ]);
    let (mut conn, t) = feed_chunks(server(), &[&input], false);
    assert_eq!(
        t.events,
        vec![
            Owned::Text("last".into()),
            Owned::Close(4001, "done".into())
        ]
    );
    assert_eq!(t.out, server_close(4001, ""));
    assert_eq!(conn.state(), ConnectionState::Closed);
    assert_eq!(
        conn.received_close().map(|f| (f.code, f.reason())),
        Some((CloseCode(4001), "done"))
    );
    assert_eq!(conn.sent_close().map(|f| f.code), Some(CloseCode(4001)));
    assert!(is_done(&mut conn), "server closes TCP first");
    invariant(server, &input, false);
}

#[test]
fn peer_close_without_code_is_answered_with_1000() {
    let t = invariant(server, &c2s(0x88, b""), false);
    assert_eq!(t.events, vec![Owned::Close(1005, String::new())]);
    assert_eq!(t.out, server_close(1000, ""));
}

#[test]
fn close_inside_fragmented_message_is_a_normal_close() {
    // Autobahn 7.1.5: answered with 1000, not 1002.
    let input = cat(&[c2s(0x01, b"part"), c2s(0x88, &close_payload(1000, ""))]);
    let t = invariant(server, &input, false);
    assert_eq!(t.events, vec![Owned::Close(1000, String::new())]);
    assert_eq!(t.out, server_close(1000, ""));
}

#[test]
fn we_close_first() {
    let mut conn = server();
    let mut out = vec![];
    conn.sender()
        .close(CloseCode::NORMAL, "bye", &mut out)
        .unwrap();
    assert_eq!(out, server_close(1000, "bye"));
    assert_eq!(conn.state(), ConnectionState::Closing);
    assert!(!is_done(&mut conn));
    // No more data may be sent (§5.5.1); control frames may.
    assert_eq!(
        conn.sender().send(Message::Text("x"), &mut out),
        Err(SendError::Closed)
    );
    assert_eq!(
        conn.sender().finish(Message::Binary(b"x"), &mut out),
        Err(SendError::Closed)
    );
    out.clear();
    conn.sender()
        .send(Message::Ping(b"still there?"), &mut out)
        .unwrap();
    conn.sender()
        .send(Message::Pong(b"manual"), &mut out)
        .unwrap();
    assert_eq!(
        out,
        cat(&[s2c(0x89, b"still there?"), s2c(0x8A, b"manual")])
    );
    let mut t = Transcript::default();
    conn.receive(&cat(&[
        c2s(0x81, b"in flight"),
        c2s(0x89, b"p"),
        c2s(0x88, &close_payload(1000, "")),
    ]));
    drain(&mut conn, &mut t);
    assert_eq!(
        t.events,
        vec![
            Owned::Text("in flight".into()),
            Owned::Ping(b"p".to_vec()),
            Owned::Close(1000, String::new())
        ]
    );
    // "MUST send a Pong frame in response, unless it already received a
    // Close frame" (§5.5.2): the Ping is answered; no second Close.
    assert_eq!(t.out, s2c(0x8A, b"p"));
    assert_eq!(conn.state(), ConnectionState::Closed);
    assert!(is_done(&mut conn));
    // Once the peer's Close arrived, nothing at all may be sent.
    assert_eq!(
        conn.sender().send(Message::Pong(b"late"), &mut out),
        Err(SendError::Closed)
    );
}

#[test]
fn ping_after_our_close_is_answered_at_every_split() {
    let mk = || {
        let mut conn = server();
        conn.sender()
            .close(CloseCode::NORMAL, "", &mut vec![])
            .unwrap();
        conn
    };
    let input = cat(&[c2s(0x89, b"p1"), c2s(0x81, b"x"), c2s(0x89, b"")]);
    let t = invariant(mk, &input, false);
    assert_eq!(
        t.events,
        vec![
            Owned::Ping(b"p1".to_vec()),
            Owned::Text("x".into()),
            Owned::Ping(vec![])
        ]
    );
    assert_eq!(t.out, cat(&[s2c(0x8A, b"p1"), s2c(0x8A, b"")]));
    // The client role masks its Pong.
    let mut client = client();
    client
        .sender()
        .close(CloseCode::NORMAL, "", &mut vec![])
        .unwrap();
    let (_, t) = feed_chunks(client, &[&s2c(0x89, b"p")], false);
    assert_eq!(t.out, c2s(0x8A, b"p"));
}

#[test]
fn simultaneous_close() {
    let mut a = client();
    let mut b = server();
    let (mut to_b, mut to_a) = (vec![], vec![]);
    a.sender()
        .close(CloseCode::GOING_AWAY, "a", &mut to_b)
        .unwrap();
    b.sender().close(CloseCode::NORMAL, "b", &mut to_a).unwrap();
    let (mut ta, mut tb) = (Transcript::default(), Transcript::default());
    a.receive(&to_a);
    b.receive(&to_b);
    drain(&mut a, &mut ta);
    drain(&mut b, &mut tb);
    assert_eq!(ta.events, vec![Owned::Close(1000, "b".into())]);
    assert_eq!(tb.events, vec![Owned::Close(1001, "a".into())]);
    assert!(ta.out.is_empty() && tb.out.is_empty());
    assert!(is_done(&mut b));
    // The client waits for the server to end TCP.
    assert!(!is_done(&mut a));
    a.receive_eof();
    drain(&mut a, &mut ta);
    assert_eq!(
        ta.events.len(),
        1,
        "EOF after a clean close is not an abnormal close"
    );
    assert!(is_done(&mut a));
}

#[test]
fn eof_without_close_is_1006_and_never_sent() {
    let input = cat(&[c2s(0x81, b"hi"), c2s(0x82, &[1, 2, 3])[..5].to_vec()]);
    let t = invariant(server, &input, true);
    assert_eq!(
        t.events,
        vec![Owned::Text("hi".into()), Owned::Close(1006, String::new())]
    );
    assert!(t.out.is_empty());
    let (mut conn, _) = feed_chunks(server(), &[&input], true);
    assert_eq!(
        conn.received_close().map(|f| f.code),
        Some(CloseCode::ABNORMAL)
    );
    assert_eq!(conn.sent_close(), None);
    assert!(is_done(&mut conn));
}

#[test]
fn close_misuse_is_a_typed_error() {
    let mut conn = server();
    let mut out = vec![];
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        assert_eq!(
            conn.sender().close(CloseCode(code), "", &mut out),
            Err(SendError::InvalidCloseCode(CloseCode(code)))
        );
    }
    assert_eq!(
        conn.sender()
            .close(CloseCode::NORMAL, &"x".repeat(124), &mut out),
        Err(SendError::ReasonTooLong)
    );
    assert_eq!(
        conn.sender().send(Message::Ping(&[0; 126]), &mut out),
        Err(SendError::ControlPayloadTooLong)
    );
    assert!(out.is_empty());
    assert_eq!(conn.state(), ConnectionState::Open);
    conn.sender()
        .close(CloseCode::NORMAL, &"x".repeat(123), &mut out)
        .unwrap();
    assert_eq!(out.len(), 2 + 125);
}

#[test]
fn fragment_send_misuse() {
    let mut conn = server();
    let mut out = vec![];
    conn.sender()
        .send_part(Message::Binary(b"a"), &mut out)
        .unwrap();
    assert_eq!(
        conn.sender().send(Message::Text("x"), &mut out),
        Err(SendError::FragmentInProgress)
    );
    assert_eq!(
        conn.sender().finish(Message::Text("x"), &mut out),
        Err(SendError::FragmentTypeMismatch)
    );
    assert_eq!(
        conn.sender().finish(Message::Ping(b""), &mut out),
        Err(SendError::ControlFragment)
    );
    conn.sender().send(Message::Ping(b"p"), &mut out).unwrap(); // controls may interleave
    conn.sender()
        .finish(Message::Binary(b"b"), &mut out)
        .unwrap();
    assert_eq!(
        out,
        cat(&[s2c(0x02, b"a"), s2c(0x89, b"p"), s2c(0x80, b"b")])
    );
}

/// A text message that did not arrive in one read is handed out from the
/// connection's text buffer, which the next poll clears. Bytes of the next
/// message received before that poll must not join it there: they are
/// taken into the buffer only after it is cleared.
#[test]
fn text_received_before_the_poll_that_follows_a_text_message() {
    let mut conn = server();
    let mut out = vec![];
    let first = c2s(0x81, "héllo".as_bytes());
    let second = c2s(0x81, "wörld!".as_bytes());
    // Header and two bytes, then the rest: the first message comes from
    // the text buffer.
    conn.receive(&first[..8]);
    assert_eq!(poll(&mut conn, &mut out), Ok(None));
    conn.receive(&first[8..]);
    assert_eq!(
        poll(&mut conn, &mut out),
        Ok(Some(Owned::Text("héllo".into())))
    );
    // No poll in between: the second message's header and first bytes,
    // then its last ones.
    conn.receive(&second[..9]);
    conn.receive(&second[9..]);
    assert_eq!(
        poll(&mut conn, &mut out),
        Ok(Some(Owned::Text("wörld!".into())))
    );
    assert_eq!(poll(&mut conn, &mut out), Ok(None));
    assert_eq!(out, b"");
}
