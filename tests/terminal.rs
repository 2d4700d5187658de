//! Every way a connection ends, for both roles: the events and errors it
//! reports, then `Done`, forever, with nothing more written. And a naive
//! loop that looks only at `poll_event` runs to the end by itself.

mod common;
use common::*;
use wstate::{
    Accept, ClientRequest, CloseCode, Config, Connection, Error, Event, HandshakeError, Message,
    Polled,
};

/// A client whose request is sent, and the `101` that accepts it.
fn fresh_client() -> (Connection, Vec<u8>) {
    let mut out = vec![];
    let c = Connection::client(
        &ClientRequest::new("h", "/"),
        fill_key,
        Config::default(),
        &mut out,
    )
    .unwrap();
    // The nonce is 16 bytes of the repeating test key.
    (c, response_101(&out))
}

fn open_client() -> Connection {
    let (mut c, response) = fresh_client();
    c.receive(&response);
    assert!(matches!(
        c.poll_event(&mut vec![]),
        Polled::Event(Event::Accepted(_), _)
    ));
    c
}

fn pending_server() -> Connection {
    let mut s = Connection::server(Config::default());
    s.receive(REQUEST);
    assert!(matches!(
        s.poll_event(&mut vec![]),
        Polled::Event(Event::Request(_), _)
    ));
    s
}

fn closing(mut conn: Connection) -> Connection {
    conn.sender()
        .close(CloseCode::NORMAL, "", &mut vec![])
        .unwrap();
    conn
}

/// Feeds `input` (then EOF if asked) and polls until `Done`, recording each
/// answer; panics if `Done` does not come. Then checks that `Done` is final
/// and silent, and that nothing can be sent.
fn run_to_end(mut conn: Connection, input: &[u8], eof: bool) -> (Vec<String>, Vec<u8>) {
    let mut out = vec![];
    let mut log = vec![];
    conn.receive(input);
    if eof {
        conn.receive_eof();
    }
    for _ in 0..100 {
        match conn.poll_event(&mut out) {
            Polled::Event(Event::Close(f), _) => log.push(format!("Close({})", f.code.0)),
            Polled::Event(e, _) => log.push(format!("{e:?}")),
            Polled::NeedMore => panic!("NeedMore after {log:?}: the end never came"),
            Polled::Done => {
                log.push("Done".into());
                let written = out.len();
                for _ in 0..3 {
                    assert!(matches!(conn.poll_event(&mut out), Polled::Done));
                }
                conn.receive(&c2s(0x81, b"late"));
                assert!(matches!(conn.poll_event(&mut out), Polled::Done));
                assert_eq!(out.len(), written, "Done wrote bytes");
                assert!(is_done(&mut conn));
                assert!(conn.sender().send(Message::Text("x"), &mut out).is_err());
                assert!(
                    conn.sender()
                        .close(CloseCode::NORMAL, "", &mut out)
                        .is_err()
                );
                assert!(conn.sender().accept(&Accept::new(), &mut out).is_err());
                assert_eq!(out.len(), written);
                return (log, out);
            }
            Polled::Failed(Error::Protocol(e)) => log.push(format!("Err({})", e.close_code().0)),
            Polled::Failed(Error::Handshake(e)) => log.push(format!("Err({e:?})")),
            Polled::Failed(e) => log.push(format!("Err({e:?})")),
        }
    }
    panic!("no Done after {log:?}");
}

#[test]
fn every_terminal_path() {
    let peer_close = c2s(0x88, &close_payload(1000, ""));
    let server_close = s2c(0x88, &close_payload(1001, ""));
    // (path, connection, input, eof, answers, bytes written)
    type Row = (
        &'static str,
        fn() -> Connection,
        Vec<u8>,
        bool,
        &'static [&'static str],
        Vec<u8>,
    );
    let rows: Vec<Row> = vec![
        // Server.
        (
            "server: peer closes",
            server,
            peer_close.clone(),
            false,
            &["Close(1000)", "Done"],
            s2c(0x88, &close_payload(1000, "")),
        ),
        (
            "server: we close first",
            || closing(server()),
            peer_close.clone(),
            false,
            &["Close(1000)", "Done"],
            vec![],
        ),
        (
            "server: failure",
            server,
            c2s(0x83, b""),
            false,
            &["Err(1002)", "Done"],
            s2c(0x88, &close_payload(1002, "reserved opcode")),
        ),
        (
            "server: failure while closing",
            || closing(server()),
            c2s(0x81, &[0xff]),
            false,
            &["Err(1007)", "Done"],
            vec![],
        ),
        (
            "server: EOF open",
            server,
            vec![],
            true,
            &["Close(1006)", "Done"],
            vec![],
        ),
        (
            "server: EOF mid-frame",
            server,
            c2s(0x81, b"abc")[..5].to_vec(),
            true,
            &["Close(1006)", "Done"],
            vec![],
        ),
        (
            "server: EOF closing",
            || closing(server()),
            vec![],
            true,
            &["Close(1006)", "Done"],
            vec![],
        ),
        (
            "server: EOF reading request",
            || Connection::server(Config::default()),
            REQUEST[..20].to_vec(),
            true,
            &["Err(UnexpectedEof)", "Done"],
            vec![],
        ),
        (
            "server: EOF awaiting accept",
            pending_server,
            vec![],
            true,
            &["Close(1006)", "Done"],
            vec![],
        ),
        // Client.
        (
            "client: peer closes",
            || open_client(),
            [server_close.clone()].concat(),
            true,
            &["Close(1001)", "Done"],
            c2s(0x88, &close_payload(1001, "")),
        ),
        (
            "client: we close first",
            || closing(open_client()),
            s2c(0x88, b""),
            true,
            &["Close(1005)", "Done"],
            vec![],
        ),
        (
            "client: failure",
            || open_client(),
            s2c(0x81, &[0xc0]),
            false,
            &["Err(1007)", "Done"],
            c2s(0x88, &close_payload(1007, "invalid UTF-8")),
        ),
        (
            "client: EOF open",
            || open_client(),
            vec![],
            true,
            &["Close(1006)", "Done"],
            vec![],
        ),
        (
            "client: EOF closing",
            || closing(open_client()),
            vec![],
            true,
            &["Close(1006)", "Done"],
            vec![],
        ),
        (
            "client: EOF reading response",
            || fresh_client().0,
            b"HTTP/1.1 101".to_vec(),
            true,
            &["Err(UnexpectedEof)", "Done"],
            vec![],
        ),
        (
            "client: bad response",
            || fresh_client().0,
            b"HTTP/1.1 101 OK\r\n\r\n".to_vec(),
            false,
            &["Err(MissingUpgrade)", "Done"],
            vec![],
        ),
    ];
    for (path, make, input, eof, answers, written) in rows {
        let (log, out) = run_to_end(make(), &input, eof);
        assert_eq!(log, answers, "{path}");
        assert_eq!(out, written, "{path}");
    }
}

#[test]
fn server_refusals_end_in_done() {
    // A bad request: the 400 is written, then Done.
    let (log, out) = run_to_end(
        Connection::server(Config::default()),
        b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
        false,
    );
    assert_eq!(log, ["Err(MissingUpgrade)", "Done"]);
    assert!(out.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    // The caller rejects.
    let mut s = pending_server();
    let mut out = vec![];
    s.sender().reject(403, &[], b"", &mut out).unwrap();
    assert!(out.starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
    assert!(matches!(s.poll_event(&mut out), Polled::Done));
    // The client ran ahead of the answer by more than the bound.
    let mut s = pending_server();
    let mut out = vec![];
    s.receive(&vec![0; 16 << 10]);
    s.receive(&[0]);
    assert_eq!(
        s.sender().accept(&Accept::new(), &mut out),
        Err(wstate::SendError::Closed)
    );
    assert!(matches!(
        s.poll_event(&mut out),
        Polled::Failed(Error::Handshake(HandshakeError::EarlyDataTooLarge))
    ));
    assert!(out.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    assert!(is_done(&mut s));
    // Up to the bound is kept, and read as frames after `accept`.
    let mut s = pending_server();
    let frame = c2s(0x82, &vec![7; (16 << 10) - 8]);
    assert_eq!(frame.len(), 16 << 10);
    s.receive(&frame);
    s.sender().accept(&Accept::new(), &mut vec![]).unwrap();
    assert_eq!(
        poll(&mut s, &mut vec![]),
        Ok(Some(Owned::Binary(vec![7; (16 << 10) - 8])))
    );
}

#[test]
fn a_client_waits_for_the_server_to_close_tcp() {
    let mut c = open_client();
    let mut out = vec![];
    c.receive(&s2c(0x88, &close_payload(1000, "")));
    assert_eq!(
        poll(&mut c, &mut out),
        Ok(Some(Owned::Close(1000, String::new())))
    );
    // RFC 6455 §7.1.1: the server closes the TCP connection first.
    assert!(matches!(c.poll_event(&mut out), Polled::NeedMore));
    assert!(!is_done(&mut c));
    c.receive_eof();
    assert!(is_done(&mut c));
}

#[test]
fn accept_after_the_client_left_is_refused() {
    let mut s = pending_server();
    s.receive_eof();
    let mut out = vec![];
    assert_eq!(
        s.sender().accept(&Accept::new(), &mut out),
        Err(wstate::SendError::Closed)
    );
    assert!(out.is_empty());
    assert_eq!(
        poll(&mut s, &mut out),
        Ok(Some(Owned::Close(1006, String::new())))
    );
    assert!(is_done(&mut s));
}

/// A loop written the obvious way, looking at nothing but `poll_event`,
/// drives a client and a server through a conversation and the closing
/// handshake, and ends.
#[test]
fn a_naive_loop_ends() {
    let mut to_server = vec![];
    let mut client = Connection::client(
        &ClientRequest::new("h", "/"),
        fill_key,
        Config::default(),
        &mut to_server,
    )
    .unwrap();
    let mut server = Connection::server(Config::default());
    let mut to_client = vec![];
    let (mut client_done, mut server_done) = (false, false);
    let mut echoed = vec![];
    let mut rounds = 0;
    while !(client_done && server_done) {
        rounds += 1;
        assert!(rounds < 20, "the loop did not end");
        // Server side: feed, poll until NeedMore or Done.
        server.receive(&std::mem::take(&mut to_server));
        loop {
            match server.poll_event(&mut to_client) {
                Polled::Event(Event::Request(_), tx) => {
                    tx.accept(&Accept::new(), &mut to_client).unwrap()
                }
                Polled::Event(Event::Text(t), tx) => {
                    tx.send(Message::Text(t), &mut to_client).unwrap()
                }
                Polled::Event(..) => {}
                Polled::NeedMore => break,
                Polled::Done => {
                    server_done = true;
                    break;
                }
                Polled::Failed(e) => panic!("{e}"),
            }
        }
        // The server closed TCP: the client sees EOF once it read the rest.
        let eof = server_done;
        client.receive(&std::mem::take(&mut to_client));
        if eof {
            client.receive_eof();
        }
        loop {
            match client.poll_event(&mut to_server) {
                Polled::Event(Event::Accepted(_), tx) => {
                    tx.send(Message::Text("one"), &mut to_server).unwrap()
                }
                Polled::Event(Event::Text(t), tx) => {
                    echoed.push(t.to_string());
                    tx.close(CloseCode::NORMAL, "bye", &mut to_server).unwrap();
                }
                Polled::Event(..) => {}
                Polled::NeedMore => break,
                Polled::Done => {
                    client_done = true;
                    break;
                }
                Polled::Failed(e) => panic!("{e}"),
            }
        }
    }
    assert_eq!(echoed, ["one"]);
    assert_eq!(client.received_close().unwrap().code, CloseCode::NORMAL);
    assert_eq!(server.received_close().unwrap().reason(), "bye");
}

/// Bytes that come after the end of the stream was reported are not read:
/// the connection ends with 1006, the late frame is never an event.
#[test]
fn bytes_after_eof_are_ignored() {
    let mut conn = server();
    conn.receive(&c2s(0x81, b"early"));
    conn.receive_eof();
    conn.receive(&c2s(0x81, b"late"));
    let mut t = Transcript::default();
    drain(&mut conn, &mut t);
    assert_eq!(
        t.events,
        vec![
            Owned::Text("early".into()),
            Owned::Close(1006, String::new())
        ]
    );
}
