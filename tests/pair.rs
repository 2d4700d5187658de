//! A client and a server `Connection` wired back to back.

mod common;
use common::*;
use wstate::{CloseCode, Connection, ConnectionState, Message};

/// Delivers `bytes` to `to` and returns what it produced.
fn deliver(to: &mut Connection, bytes: &[u8]) -> Transcript {
    let mut t = Transcript::default();
    to.receive(bytes);
    drain(to, &mut t);
    t
}

#[test]
fn messages_both_ways() {
    let mut c = client();
    let mut s = server();
    let big: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let text = "héllo 😀 𝄞";
    let messages: Vec<(Message<'_>, Owned)> = vec![
        (Message::Text(text), Owned::Text(text.into())),
        (Message::Text(""), Owned::Text(String::new())),
        (
            Message::Binary(&[0, 255, 1]),
            Owned::Binary(vec![0, 255, 1]),
        ),
        (Message::Binary(&[]), Owned::Binary(vec![])),
        (Message::Binary(&big), Owned::Binary(big.clone())),
        (
            Message::Ping(b"are you there"),
            Owned::Ping(b"are you there".to_vec()),
        ),
        (
            Message::Pong(b"unsolicited"),
            Owned::Pong(b"unsolicited".to_vec()),
        ),
    ];
    for (message, expected) in &messages {
        // Client to server.
        let mut wire = vec![];
        c.sender().send(*message, &mut wire).unwrap();
        let t = deliver(&mut s, &wire);
        assert_eq!(t.events, vec![expected.clone()]);
        // Server to client, and any automatic reply back.
        let mut wire = vec![];
        s.sender().send(*message, &mut wire).unwrap();
        let mut all = t.out.clone();
        all.extend(&wire);
        let t2 = deliver(&mut c, &all);
        let mut want = vec![];
        if let Owned::Ping(p) = expected {
            want.push(Owned::Pong(p.clone())); // the server's automatic Pong
        }
        want.push(expected.clone());
        assert_eq!(t2.events, want);
        if let Owned::Ping(p) = expected {
            // The client's automatic Pong reaches the server.
            assert_eq!(
                deliver(&mut s, &t2.out).events,
                vec![Owned::Pong(p.clone())]
            );
        }
    }
}

#[test]
fn fragmented_with_controls_between() {
    let mut c = client();
    let mut s = server();
    let mut wire = vec![];
    c.sender()
        .send_part(Message::Text("one "), &mut wire)
        .unwrap();
    c.sender().send(Message::Ping(b"mid"), &mut wire).unwrap();
    c.sender().send_part(Message::Text(""), &mut wire).unwrap();
    c.sender()
        .finish(Message::Text("two 😀"), &mut wire)
        .unwrap();
    c.sender()
        .send_part(Message::Binary(&[1; 300]), &mut wire)
        .unwrap();
    c.sender()
        .finish(Message::Binary(&[2; 70_000]), &mut wire)
        .unwrap();
    let t = deliver(&mut s, &wire);
    let mut bin = vec![1; 300];
    bin.extend(vec![2; 70_000]);
    assert_eq!(
        t.events,
        vec![
            Owned::Ping(b"mid".to_vec()),
            Owned::Text("one two 😀".into()),
            Owned::Binary(bin)
        ]
    );
    assert_eq!(t.out, s2c(0x8A, b"mid"));
}

#[test]
fn close_handshake_client_first() {
    let mut c = client();
    let mut s = server();
    let mut wire = vec![];
    c.sender()
        .close(CloseCode::NORMAL, "done", &mut wire)
        .unwrap();
    let t = deliver(&mut s, &wire);
    assert_eq!(t.events, vec![Owned::Close(1000, "done".into())]);
    assert!(is_done(&mut s));
    let t = deliver(&mut c, &t.out);
    assert_eq!(t.events, vec![Owned::Close(1000, String::new())]);
    assert_eq!(c.state(), ConnectionState::Closed);
    assert!(!is_done(&mut c));
    c.receive_eof();
    assert!(is_done(&mut c));
}

#[test]
fn close_handshake_server_first() {
    let mut c = client();
    let mut s = server();
    let mut wire = vec![];
    s.sender().close(CloseCode(4000), "app", &mut wire).unwrap();
    let t = deliver(&mut c, &wire);
    assert_eq!(t.events, vec![Owned::Close(4000, "app".into())]);
    assert_eq!(t.out, c2s(0x88, &close_payload(4000, "")));
    let t = deliver(&mut s, &t.out);
    assert_eq!(t.events, vec![Owned::Close(4000, String::new())]);
    assert!(is_done(&mut s));
    assert_eq!(s.sent_close().map(|f| f.reason()), Some("app"));
}

#[test]
fn memory_stays_bounded_under_tiny_fragment_flood() {
    // 100,000 empty continuations, then many 1-byte ones: the connection
    // holds no per-fragment state, only the bytes of the message.
    let mut s = server();
    let mut out = vec![];
    s.receive(&c2s(0x02, b"a"));
    assert_eq!(poll(&mut s, &mut out), Ok(None));
    let empty = c2s(0x00, b"");
    let one = c2s(0x00, b"b");
    let mut batch = vec![];
    for _ in 0..1000 {
        batch.extend(&empty);
        batch.extend(&one);
    }
    for _ in 0..60 {
        s.receive(&batch);
        assert_eq!(poll(&mut s, &mut out), Ok(None));
    }
    // Everything consumed: the receive buffer holds nothing big.
    let debug = format!("{s:?}");
    assert!(debug.contains("buffered: 0"), "{debug}");
    s.receive(&c2s(0x80, b"c"));
    match s.poll_event(&mut out) {
        wstate::Polled::Event(wstate::Event::Binary(b), _) => {
            assert_eq!(b.len(), 1 + 60_000 + 1)
        }
        other => panic!("{other:?}"),
    }
    assert!(out.is_empty());
}
