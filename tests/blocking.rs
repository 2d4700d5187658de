//! The blocking adapter (`wstate::blocking`, feature `std`) over an
//! in-memory duplex (two channels, one thread per end) and over TCP on
//! 127.0.0.1: exact messages, exact close codes and exact wire bytes, a
//! writer that takes one byte at a time, the end of the transport inside a
//! frame, a peer's protocol error, the timers, the closing, misuse.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use wstate::blocking::{Answer, Error, Message, Transport, Untimed, WebSocket};
use wstate::{
    ClientRequest, CloseCode, CloseFrame, Config, Event, HandshakeError, Keepalive, ProtocolError,
    SendError,
};

/// Every test's bound on a wait, so that a failure never hangs.
const LIMIT: Duration = Duration::from_secs(10);

/// An RFC 6455 §1.3 upgrade request and the server's answer to it.
const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// Deterministic "entropy": RFC 6455 §5.7's mask key, repeated.
fn fill_key(buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = [0x37, 0xfa, 0x21, 0x3d][i % 4];
    }
}

/// One end of an in-memory duplex: reads what the other end wrote, with
/// read timeouts and a half close, and writes at most `chunk` bytes per
/// `write`. Everything it writes is also appended to `wire`.
#[derive(Debug)]
struct Pipe {
    rx: Receiver<Vec<u8>>,
    tx: Option<Sender<Vec<u8>>>,
    pending: Vec<u8>,
    timeout: Option<Duration>,
    chunk: usize,
    wire: Arc<Mutex<Vec<u8>>>,
}

/// Two connected ends; each writes at most `chunk` bytes per `write`.
fn duplex(chunk: usize) -> (Pipe, Pipe) {
    let (a_tx, b_rx) = mpsc::channel();
    let (b_tx, a_rx) = mpsc::channel();
    let end = |rx, tx| Pipe {
        rx,
        tx: Some(tx),
        pending: Vec::new(),
        timeout: None,
        chunk,
        wire: Arc::default(),
    };
    (end(a_rx, a_tx), end(b_rx, b_tx))
}

impl Pipe {
    /// Reads until the other end ends its direction.
    fn read_all(&mut self) -> Vec<u8> {
        self.timeout = Some(LIMIT);
        let mut all = Vec::new();
        self.read_to_end(&mut all)
            .expect("the peer ends its direction");
        all
    }
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pending.is_empty() {
            let next = match self.timeout {
                Some(timeout) => self.rx.recv_timeout(timeout),
                None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match next {
                Ok(bytes) => self.pending = bytes,
                Err(RecvTimeoutError::Timeout) => return Err(io::ErrorKind::WouldBlock.into()),
                Err(RecvTimeoutError::Disconnected) => return Ok(0),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(self.chunk);
        let tx = self.tx.as_ref().ok_or(io::ErrorKind::BrokenPipe)?;
        tx.send(buf[..n].to_vec())
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        self.wire.lock().unwrap().extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for Pipe {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        self.timeout = timeout;
        Ok(true)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.tx = None;
        Ok(())
    }
}

/// An echo server on `stream`: Text and Binary back, until the Close, which
/// it returns. Afterwards, checks that the connection refuses more.
fn echo<S: Transport + Send + 'static>(
    stream: S,
    config: Config,
) -> JoinHandle<Result<Option<CloseFrame>, Error>> {
    thread::spawn(move || {
        let mut ws = WebSocket::accept(stream, config)?;
        loop {
            match ws.recv()? {
                m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m)?,
                Message::Close(frame) => {
                    assert!(matches!(ws.recv(), Err(Error::Closed)));
                    assert!(matches!(
                        ws.send(Message::Text("x".into())),
                        Err(Error::Closed)
                    ));
                    return Ok(frame);
                }
                _ => {}
            }
        }
    })
}

fn client<S: Transport>(stream: S, config: Config) -> WebSocket<S> {
    let request = ClientRequest::new("example.com", "/chat");
    WebSocket::connect(stream, &request, fill_key, config).expect("the server accepts")
}

fn close_frame(code: u16, reason: &str) -> CloseFrame {
    CloseFrame::with_reason(CloseCode(code), reason).unwrap()
}

#[test]
fn messages_and_closing_over_a_duplex() {
    let (a, b) = duplex(usize::MAX);
    let server = echo(a, Config::default());
    let mut ws = client(b, Config::default());
    assert_eq!(ws.subprotocol(), None);
    ws.send(Message::Text("héllo".into())).unwrap();
    ws.send(Message::Binary(vec![0, 1, 2, 255])).unwrap();
    ws.send(Message::Ping(b"p".to_vec())).unwrap();
    assert_eq!(ws.recv().unwrap(), Message::Text("héllo".into()));
    assert_eq!(ws.recv().unwrap(), Message::Binary(vec![0, 1, 2, 255]));
    assert_eq!(ws.recv().unwrap(), Message::Pong(b"p".to_vec()));
    // The server echoes the code (without the reason).
    assert_eq!(
        ws.close(CloseCode::NORMAL, "bye").unwrap(),
        close_frame(1000, "")
    );
    assert_eq!(
        server.join().unwrap().unwrap(),
        Some(close_frame(1000, "bye"))
    );
    assert!(matches!(ws.recv(), Err(Error::Closed)));
    assert!(matches!(
        ws.send(Message::Text("late".into())),
        Err(Error::Closed)
    ));
    assert!(matches!(
        ws.close(CloseCode::NORMAL, ""),
        Err(Error::Closed)
    ));
}

#[test]
fn send_after_our_close_is_a_typed_error() {
    let (a, b) = duplex(usize::MAX);
    let server = echo(a, Config::default());
    let mut ws = client(b, Config::default());
    ws.send(Message::Close(Some(close_frame(4000, "done"))))
        .unwrap();
    assert!(matches!(
        ws.send(Message::Text("after".into())),
        Err(Error::Send(SendError::Closed))
    ));
    assert!(matches!(
        ws.send(Message::Close(None)),
        Err(Error::Send(SendError::Closed))
    ));
    // Control frames may still go until the peer's Close.
    ws.send(Message::Pong(Vec::new())).unwrap();
    assert_eq!(
        ws.recv().unwrap(),
        Message::Close(Some(close_frame(4000, "")))
    );
    assert_eq!(
        server.join().unwrap().unwrap(),
        Some(close_frame(4000, "done"))
    );
    assert!(matches!(
        ws.send(Message::Ping(Vec::new())),
        Err(Error::Closed)
    ));
}

#[test]
fn a_stream_without_timeouts() {
    let (a, b) = duplex(usize::MAX);
    // No read timeouts and no half close: the server ends its direction by
    // dropping its end, and skips reading what the client still sends.
    let server = echo(Untimed(a), Config::default());
    let mut ws = client(Untimed(b), Config::default());
    ws.send(Message::Text("untimed".into())).unwrap();
    assert_eq!(ws.recv().unwrap(), Message::Text("untimed".into()));
    assert_eq!(
        ws.close(CloseCode::NORMAL, "").unwrap(),
        close_frame(1000, "")
    );
    assert_eq!(server.join().unwrap().unwrap(), Some(close_frame(1000, "")));
}

#[test]
fn a_writer_taking_one_byte_at_a_time() {
    let (a, b) = duplex(1);
    let server = echo(a, Config::default());
    let mut ws = client(b, Config::default());
    let text: String = "wstate ✓ ".repeat(30);
    let binary: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    ws.send(Message::Text(text.clone())).unwrap();
    ws.send(Message::Binary(binary.clone())).unwrap();
    assert_eq!(ws.recv().unwrap(), Message::Text(text));
    assert_eq!(ws.recv().unwrap(), Message::Binary(binary));
    assert_eq!(
        ws.close(CloseCode::GOING_AWAY, "").unwrap(),
        close_frame(1001, "")
    );
    assert_eq!(server.join().unwrap().unwrap(), Some(close_frame(1001, "")));
}

#[test]
fn end_of_stream_inside_a_frame_is_abnormal() {
    let (a, mut peer) = duplex(usize::MAX);
    let server = thread::spawn(move || {
        let mut ws = WebSocket::accept(a, Config::default())?;
        let error = ws.recv().unwrap_err();
        assert!(matches!(ws.recv(), Err(Error::Closed)));
        Ok::<_, Error>(error)
    });
    // A masked text frame of 5 bytes, cut after its first payload byte.
    peer.write_all(REQUEST).unwrap();
    peer.write_all(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f])
        .unwrap();
    peer.shutdown_write().unwrap();
    let error = server.join().unwrap().unwrap();
    assert!(matches!(error, Error::Abnormal), "{error:?}");
    assert_eq!(error.close_code(), Some(CloseCode::ABNORMAL));
    // Nothing after the 101: no Close goes out for a transport that ended.
    assert_eq!(peer.read_all(), RESPONSE);
}

/// A server's transcript with a client that sends an unmasked frame: the
/// error, and everything the client read until the server's end, read once
/// the server returned (its socket closed).
fn unmasked_frame_transcript<S: Transport + Send + 'static>(
    server_end: S,
    client: &mut impl Transport,
) -> (Error, Vec<u8>) {
    let server = thread::spawn(move || {
        let mut ws = WebSocket::accept(server_end, Config::default())?;
        ws.recv()
    });
    // Everything up to the server's end of its direction, then ours: the
    // server's closing reads until it (or for a bounded time).
    let mut wire = Vec::new();
    client.read_to_end(&mut wire).unwrap();
    client.shutdown_write().unwrap();
    let error = server.join().unwrap().unwrap_err();
    (error, wire)
}

/// A Close 1002 "unmasked client frame", as the server sends it.
const CLOSE_1002: &[u8] = b"\x88\x17\x03\xeaunmasked client frame";

#[test]
fn protocol_error_from_the_peer_over_a_duplex() {
    let (a, mut peer) = duplex(usize::MAX);
    peer.write_all(REQUEST).unwrap();
    peer.write_all(&[0x81, 0x02, b'h', b'i']).unwrap();
    peer.timeout = Some(LIMIT);
    let (error, wire) = unmasked_frame_transcript(a, &mut peer);
    assert!(
        matches!(
            error,
            Error::Peer(wstate::Error::Protocol(ProtocolError::UnmaskedFrame))
        ),
        "{error:?}"
    );
    assert_eq!(error.close_code(), Some(CloseCode::PROTOCOL_ERROR));
    assert_eq!(wire, [RESPONSE, CLOSE_1002].concat());
}

#[test]
fn protocol_error_over_tcp_reads_what_the_peer_still_sends() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    peer.set_read_timeout(Some(LIMIT)).unwrap();
    let server = thread::spawn(move || {
        let mut ws = WebSocket::accept(listener.accept()?.0, Config::default())?;
        ws.recv()
    });
    peer.write_all(&[REQUEST, &[0x81, 0x02, b'h', b'i']].concat())
        .unwrap();
    let mut wire = vec![0; RESPONSE.len() + CLOSE_1002.len()];
    peer.read_exact(&mut wire).unwrap();
    assert_eq!(wire, [RESPONSE, CLOSE_1002].concat());
    // The peer goes on sending (it has not read our Close yet, say): a
    // socket closed with unread input would answer with a reset, failing
    // these writes, and a peer may then drop the connection unread.
    for _ in 0..64 {
        peer.write_all(&[0x82; 8 << 10]).unwrap();
        thread::sleep(Duration::from_millis(5));
    }
    peer.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"");
    let error = server.join().unwrap().unwrap_err();
    assert_eq!(error.close_code(), Some(CloseCode::PROTOCOL_ERROR));
}

#[test]
fn keepalive_fails_a_silent_peer_with_1011_over_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    peer.set_read_timeout(Some(LIMIT)).unwrap();
    peer.write_all(REQUEST).unwrap();
    let keepalive = Keepalive::new(Duration::from_millis(100), Duration::from_millis(100));
    let config = Config::default().with_keepalive(Some(keepalive));
    let started = Instant::now();
    let server = thread::spawn(move || {
        let mut ws = WebSocket::accept(listener.accept()?.0, config)?;
        ws.recv()
    });
    // The peer reads (so TCP is alive) but never answers the Ping.
    let mut wire = Vec::new();
    peer.read_to_end(&mut wire).unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    let error = server.join().unwrap().unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(error, Error::Peer(wstate::Error::KeepaliveTimeout)),
        "{error:?}"
    );
    assert_eq!(error.close_code(), Some(CloseCode::INTERNAL_ERROR));
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    let ping = b"\x89\x08wska\x00\x00\x00\x01";
    let close = b"\x88\x13\x03\xf3keepalive timeout";
    assert_eq!(wire, [RESPONSE, ping, close].concat());
}

#[test]
fn keepalive_pings_an_answering_peer_over_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let keepalive = Keepalive::new(Duration::from_millis(50), Duration::from_millis(200));
    let config = Config::default().with_keepalive(Some(keepalive));
    let server = thread::spawn(move || {
        let mut ws = WebSocket::accept(listener.accept()?.0, config)?;
        let mut pongs = Vec::new();
        loop {
            match ws.recv()? {
                Message::Pong(payload) => pongs.push(payload),
                other => return Ok::<_, Error>((pongs, other, ws.recv()?)),
            }
        }
    });
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    let no_keepalive = Config::default().with_keepalive(None);
    let mut ws = client(stream, no_keepalive);
    // Idle but reading: each Ping is answered while `recv` waits.
    for seq in 1..=4u32 {
        let payload = [&b"wska"[..], &seq.to_be_bytes()].concat();
        assert_eq!(ws.recv().unwrap(), Message::Ping(payload));
    }
    ws.send(Message::Text("still here".into())).unwrap();
    ws.close(CloseCode::NORMAL, "").unwrap();
    let (pongs, first, second) = server.join().unwrap().unwrap();
    assert_eq!(
        pongs[..4],
        [1, 2, 3, 4u32].map(|seq| [&b"wska"[..], &seq.to_be_bytes()].concat())
    );
    assert_eq!(first, Message::Text("still here".into()));
    assert_eq!(second, Message::Close(Some(close_frame(1000, ""))));
}

#[test]
fn handshake_timeout_answers_408_over_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    peer.set_read_timeout(Some(LIMIT)).unwrap();
    peer.write_all(b"GET /chat HTTP/1.1\r\n").unwrap();
    let config = Config::default().with_handshake_timeout(Some(Duration::from_millis(100)));
    let server = thread::spawn(move || WebSocket::accept(listener.accept()?.0, config).map(drop));
    let mut wire = Vec::new();
    peer.read_to_end(&mut wire).unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    let error = server.join().unwrap().unwrap_err();
    assert!(
        matches!(
            error,
            Error::Peer(wstate::Error::Handshake(HandshakeError::Timeout))
        ),
        "{error:?}"
    );
    assert!(
        wire.starts_with(b"HTTP/1.1 408 "),
        "{}",
        String::from_utf8_lossy(&wire)
    );
}

#[test]
fn close_timeout_when_the_peer_never_answers() {
    let (a, mut peer) = duplex(usize::MAX);
    let config = Config::default().with_close_timeout(Some(Duration::from_millis(100)));
    let server = thread::spawn(move || {
        let mut ws = WebSocket::accept(a, config)?;
        ws.close(CloseCode::NORMAL, "")
    });
    peer.write_all(REQUEST).unwrap();
    // The peer reads, never answers, and ends only once the server did.
    let wire = peer.read_all();
    peer.shutdown_write().unwrap();
    assert!(matches!(server.join().unwrap(), Err(Error::Abnormal)));
    assert_eq!(wire, [RESPONSE, b"\x88\x02\x03\xe8"].concat());
}

#[test]
fn accept_with_sees_the_request_and_chooses_a_subprotocol() {
    let (a, b) = duplex(usize::MAX);
    let server = thread::spawn(move || {
        let ws = WebSocket::accept_with(a, Config::default(), |request| {
            assert_eq!(request.path(), "/chat");
            assert_eq!(request.origin(), Some("https://example.com"));
            assert_eq!(request.subprotocols().collect::<Vec<_>>(), ["v1", "v2"]);
            Answer::accept_subprotocol("v2")
        })?;
        Ok::<_, Error>(ws.subprotocol().map(String::from))
    });
    let request = ClientRequest::new("example.com", "/chat")
        .subprotocols(&["v1", "v2"])
        .headers(&[("Origin", "https://example.com")]);
    let ws = WebSocket::connect(b, &request, fill_key, Config::default()).unwrap();
    assert_eq!(ws.subprotocol(), Some("v2"));
    assert_eq!(server.join().unwrap().unwrap().as_deref(), Some("v2"));
}

/// A server answering with `answer`: what its `accept_with` returned, and
/// the client's error.
fn refused(answer: Answer) -> (Error, Error) {
    let (a, b) = duplex(usize::MAX);
    let server =
        thread::spawn(move || WebSocket::accept_with(a, Config::default(), |_| answer).map(drop));
    let request = ClientRequest::new("example.com", "/chat");
    let client = WebSocket::connect(b, &request, fill_key, Config::default()).unwrap_err();
    (server.join().unwrap().unwrap_err(), client)
}

fn rejection(error: &Error) -> &wstate::error::Refusal {
    match error {
        Error::Peer(wstate::Error::Handshake(HandshakeError::Rejected(response))) => response,
        other => panic!("not a rejection: {other:?}"),
    }
}

#[test]
fn accept_with_rejects_with_a_status() {
    let (server, client) = refused(Answer::Reject {
        status: 403,
        headers: vec![("X-Reason".into(), "origin".into())],
        body: b"go away".to_vec(),
    });
    assert!(matches!(server, Error::Rejected(403)), "{server:?}");
    let response = rejection(&client);
    assert_eq!(response.status, 403);
    assert_eq!(response.header("x-reason"), Some("origin"));
    assert_eq!(response.body, b"go away");
}

#[test]
fn an_invalid_answer_is_a_typed_error_and_the_client_gets_500() {
    let (server, client) = refused(Answer::accept_subprotocol("never-offered"));
    assert!(
        matches!(server, Error::Send(SendError::SubprotocolNotOffered)),
        "{server:?}"
    );
    assert_eq!(rejection(&client).status, 500);
}

#[test]
fn zero_copy_echo_over_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let mut ws = WebSocket::accept(listener.accept()?.0, Config::default())?;
        let mut echoed = 0;
        loop {
            let close = ws.recv_with(|event, reply| match event {
                Event::Text(text) => reply.send(wstate::Message::Text(text)).map(|()| None),
                Event::Binary(bytes) => reply.send(wstate::Message::Binary(bytes)).map(|()| None),
                Event::Close(frame) => Ok(Some(frame)),
                _ => Ok(None),
            })??;
            match close {
                Some(frame) => return Ok::<_, Error>((echoed, frame)),
                None => echoed += 1,
            }
        }
    });
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    let mut ws = client(stream, Config::default());
    for i in 0..20u8 {
        let binary = vec![i; usize::from(i) * 1000];
        ws.send(Message::Binary(binary.clone())).unwrap();
        assert_eq!(ws.recv().unwrap(), Message::Binary(binary));
    }
    ws.send(Message::Text("last".into())).unwrap();
    assert_eq!(ws.recv().unwrap(), Message::Text("last".into()));
    // The server ends its direction (FIN) once the closing handshake is
    // done, which ends ours: no side waits for a timeout.
    let closing = Instant::now();
    assert_eq!(
        ws.close(CloseCode::NORMAL, "").unwrap(),
        close_frame(1000, "")
    );
    assert!(
        closing.elapsed() < Duration::from_secs(1),
        "{:?}",
        closing.elapsed()
    );
    let (echoed, frame) = server.join().unwrap().unwrap();
    assert_eq!((echoed, frame), (21, close_frame(1000, "")));
}

#[test]
fn a_reply_closes_while_the_event_is_held() {
    let (a, b) = duplex(usize::MAX);
    let server = thread::spawn(move || {
        let mut ws = WebSocket::accept(a, Config::default())?;
        let sent = ws.recv_with(|event, reply| {
            assert_eq!(event, Event::Text("stop"));
            reply.close(CloseCode(4001), "stopped")
        })?;
        assert_eq!(sent, Ok(()));
        // Receives until the client's answer, which ends the connection.
        assert_eq!(ws.recv()?, Message::Close(Some(close_frame(4001, ""))));
        Ok::<_, Error>(())
    });
    let (done, answer) = mpsc::channel();
    thread::spawn(move || {
        let mut ws = client(b, Config::default());
        ws.send(Message::Text("stop".into())).unwrap();
        done.send(ws.recv().unwrap()).unwrap();
    });
    assert_eq!(
        answer.recv_timeout(LIMIT).expect("the server's Close"),
        Message::Close(Some(close_frame(4001, "stopped")))
    );
    server.join().unwrap().unwrap();
}

/// A transport that holds what is written until it is flushed, as one
/// with a `BufWriter` inside does.
#[derive(Debug)]
struct Buffered {
    pipe: Pipe,
    held: Vec<u8>,
}

impl Read for Buffered {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.pipe.read(buf)
    }
}

impl Write for Buffered {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.held.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.pipe.write_all(&self.held)?;
        self.held.clear();
        Ok(())
    }
}

impl Transport for Buffered {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        self.pipe.set_read_timeout(timeout)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.flush()?;
        self.pipe.shutdown_write()
    }
}

#[test]
fn a_buffering_transport_is_flushed_by_flush_and_before_each_wait() {
    let (mut peer, b) = duplex(usize::MAX);
    let transport = Buffered {
        pipe: b,
        held: Vec::new(),
    };
    let (done, finished) = mpsc::channel();
    let client = thread::spawn(move || {
        // The request goes out with the first wait, for the response.
        let mut ws = client(transport, Config::default());
        // Held by the transport until the flush.
        ws.send(Message::Text("now".into())).unwrap();
        // "now", masked with fill_key's key.
        let now = [0x81, 0x83, 0x37, 0xfa, 0x21, 0x3d, 0x59, 0x95, 0x56];
        assert_eq!(ws.get_ref().held, now);
        ws.flush().unwrap();
        assert_eq!(ws.get_ref().held, b"");
        // A Ping, then a wait for the Pong: the wait flushes the Ping.
        ws.send(Message::Ping(b"p".to_vec())).unwrap();
        done.send(ws.recv()).unwrap();
    });
    peer.set_read_timeout(Some(LIMIT)).unwrap();
    let mut request = [0; 4096];
    let n = peer.read(&mut request).unwrap();
    let request = std::str::from_utf8(&request[..n]).unwrap();
    assert!(request.starts_with("GET /chat HTTP/1.1\r\n"), "{request}");
    let key = request
        .split("\r\n")
        .find_map(|line| line.strip_prefix("Sec-WebSocket-Key: "))
        .expect("a key");
    let accept = wstate::handshake::accept_key(key.as_bytes());
    let response = [
        &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "[..],
        &accept,
        b"\r\n\r\n",
    ]
    .concat();
    peer.write_all(&response).unwrap();
    // "now" and "p", masked with fill_key's key.
    let mut frame = [0; 9];
    peer.read_exact(&mut frame).unwrap();
    assert_eq!(
        frame,
        [0x81, 0x83, 0x37, 0xfa, 0x21, 0x3d, 0x59, 0x95, 0x56]
    );
    let mut ping = [0; 7];
    peer.read_exact(&mut ping).unwrap();
    assert_eq!(ping, [0x89, 0x81, 0x37, 0xfa, 0x21, 0x3d, 0x47]);
    peer.write_all(&[0x8a, 0x01, b'p']).unwrap();
    let pong = finished
        .recv_timeout(LIMIT)
        .expect("the client's recv returns");
    assert_eq!(pong.unwrap(), Message::Pong(b"p".to_vec()));
    client.join().unwrap();
}

/// A transport that answers each read from a script (bytes or an error;
/// the end of the stream once the script runs out) and keeps what is
/// written; `timed` is whether it honours read timeouts.
#[derive(Debug)]
struct Scripted {
    reads: std::collections::VecDeque<io::Result<Vec<u8>>>,
    written: Vec<u8>,
    timed: bool,
}

impl Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.reads.pop_front() {
            None => Ok(0),
            Some(Err(e)) => Err(e),
            Some(Ok(bytes)) => {
                buf[..bytes.len()].copy_from_slice(&bytes);
                Ok(bytes.len())
            }
        }
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for Scripted {
    fn set_read_timeout(&mut self, _: Option<Duration>) -> io::Result<bool> {
        Ok(self.timed)
    }
}

/// A server over `reads` after the request.
fn scripted_server(timed: bool, reads: Vec<io::Result<Vec<u8>>>) -> WebSocket<Scripted> {
    let mut all = vec![Ok(REQUEST.to_vec())];
    all.extend(reads);
    let transport = Scripted {
        reads: all.into(),
        written: Vec::new(),
        timed,
    };
    let ws = WebSocket::accept(transport, Config::default()).unwrap();
    assert_eq!(ws.get_ref().written, RESPONSE);
    ws
}

#[test]
fn interrupted_and_timed_out_reads_are_retried_other_errors_end_the_connection() {
    let kind = |kind: io::ErrorKind| Err(io::Error::from(kind));
    // "hi", masked with fill_key's key.
    let hi = Ok(vec![0x81, 0x82, 0x37, 0xfa, 0x21, 0x3d, 0x5f, 0x93]);
    let mut ws = scripted_server(
        true,
        vec![
            kind(io::ErrorKind::Interrupted),
            kind(io::ErrorKind::WouldBlock),
            kind(io::ErrorKind::TimedOut),
            hi,
            kind(io::ErrorKind::PermissionDenied),
        ],
    );
    assert_eq!(ws.recv().unwrap(), Message::Text("hi".into()));
    match ws.recv() {
        Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::PermissionDenied),
        other => panic!("{other:?}"),
    }
    assert!(matches!(ws.recv(), Err(Error::Closed)));
    // Without read timeouts, a read that would block is a transport that
    // is not blocking: an error.
    let mut ws = scripted_server(false, vec![kind(io::ErrorKind::WouldBlock)]);
    match ws.recv() {
        Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_reset_connection_is_its_end() {
    let reset = Err(io::Error::from(io::ErrorKind::ConnectionReset));
    let mut ws = scripted_server(true, vec![reset]);
    assert!(matches!(ws.recv(), Err(Error::Abnormal)));
}

/// A Close 1000 as a client sends it (masked with fill_key's key).
const CLOSE_1000_MASKED: [u8; 8] = [0x88, 0x82, 0x37, 0xfa, 0x21, 0x3d, 0x34, 0x12];

/// A server that reads a Close 1000 and then `after` while it drains:
/// the reads left unread once it returned the Close.
fn left_after_draining(after: Vec<io::Result<Vec<u8>>>) -> usize {
    let mut reads = vec![Ok(CLOSE_1000_MASKED.to_vec())];
    reads.extend(after);
    let mut ws = scripted_server(true, reads);
    assert_eq!(
        ws.recv().unwrap(),
        Message::Close(Some(close_frame(1000, "")))
    );
    ws.get_ref().reads.len()
}

#[test]
fn what_the_peer_sends_after_the_close_is_drained_up_to_a_bound() {
    let chunks = |n| (0..n).map(|_| Ok(vec![0; 4096]));
    // 1 MiB is drained, in 256 reads of 4 KiB (an interrupted read retried
    // first); the rest is left unread.
    let interrupted = Err(io::Error::from(io::ErrorKind::Interrupted));
    let after = std::iter::once(interrupted).chain(chunks(300)).collect();
    assert_eq!(left_after_draining(after), 300 - 256);
    // A read error ends the draining.
    let denied = Err(io::Error::from(io::ErrorKind::PermissionDenied));
    let after = std::iter::once(denied).chain(chunks(10)).collect();
    assert_eq!(left_after_draining(after), 10);
}

#[test]
fn messages_in_parts_need_recv_with() {
    let (a, b) = duplex(usize::MAX);
    let config = Config::default().with_receive_parts(Some(4));
    let server = thread::spawn(move || {
        let mut ws = WebSocket::accept(a, config)?;
        assert!(matches!(ws.recv(), Err(Error::PartsNeedRecvWith)));
        let mut parts = Vec::new();
        loop {
            let part = ws.recv_with(|event, _| match event {
                Event::TextPart { part, last } => Some((part.to_string(), last)),
                _ => None,
            })?;
            let Some((part, last)) = part else { continue };
            parts.push(part);
            if last {
                return Ok::<_, Error>(parts);
            }
        }
    });
    let mut ws = client(b, Config::default());
    ws.send(Message::Text("abcdefghij".into())).unwrap();
    let parts = server.join().unwrap().unwrap();
    assert_eq!(parts.concat(), "abcdefghij");
    assert!(parts.iter().all(|p| p.len() <= 4), "{parts:?}");
}

#[cfg(feature = "deflate")]
#[test]
fn deflate_round_trip() {
    let config = Config::default().with_deflate(Some(wstate::DeflateConfig::default()));
    let (a, b) = duplex(usize::MAX);
    let wire = Arc::clone(&b.wire);
    let server_config = config.clone();
    let server = thread::spawn(move || {
        let mut ws = WebSocket::accept(a, server_config)?;
        assert!(ws.connection().deflate().is_some());
        let message = ws.recv()?;
        ws.send(message)?;
        ws.recv()
    });
    let mut ws = client(b, config);
    assert!(ws.connection().deflate().is_some());
    let text = "compress me ".repeat(100);
    ws.send(Message::Text(text.clone())).unwrap();
    assert_eq!(ws.recv().unwrap(), Message::Text(text.clone()));
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(
        server.join().unwrap().unwrap(),
        Message::Close(Some(close_frame(1000, "")))
    );
    // The client's frame went compressed: FIN | RSV1 | Text, masked, shorter.
    let wire = wire.lock().unwrap();
    let head_end = wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(wire[head_end], 0xc1);
    assert!(
        usize::from(wire[head_end + 1] & 0x7f) < 126,
        "{} bytes",
        text.len()
    );
}

#[test]
fn errors_say_what_happened_and_give_their_source() {
    use std::error::Error as _;
    let io = Error::Io(io::Error::other("link down"));
    assert_eq!(io.to_string(), "io error: link down");
    assert_eq!(io.source().map(|s| s.to_string()), Some("link down".into()));
    let send = Error::Send(SendError::Closed);
    assert_eq!(
        send.to_string(),
        format!("cannot send: {}", SendError::Closed)
    );
    assert_eq!(
        send.source().map(|s| s.to_string()),
        Some(SendError::Closed.to_string())
    );
    let peer = Error::Peer(wstate::Error::Protocol(ProtocolError::ReservedBits));
    assert_eq!(
        peer.to_string(),
        wstate::Error::Protocol(ProtocolError::ReservedBits).to_string()
    );
    assert!(peer.source().is_some());
    assert_eq!(
        Error::Abnormal.to_string(),
        "the connection ended without a Close (1006)"
    );
    assert!(Error::Abnormal.source().is_none());
    assert_eq!(Error::Closed.to_string(), "the connection is closed");
}

/// Read timeouts and the half close, through the stream types and the
/// wrappers that delegate to them.
#[test]
fn transports_set_timeouts_and_end_their_direction() {
    use std::os::unix::net::UnixStream;
    // A zero wait (an error to the OS) is at least 1 ms (which the OS may
    // round up to its tick).
    let (mut a, mut b) = UnixStream::pair().unwrap();
    assert!(Transport::set_read_timeout(&mut a, Some(Duration::ZERO)).unwrap());
    let set = a.read_timeout().unwrap().unwrap();
    assert!(
        set >= Duration::from_millis(1) && set <= Duration::from_millis(20),
        "{set:?}"
    );
    let mut boxed: Box<UnixStream> = Box::new(a);
    assert!(Transport::set_read_timeout(&mut boxed, Some(LIMIT)).unwrap());
    assert_eq!(boxed.read_timeout().unwrap(), Some(LIMIT));
    let mut by_ref = &mut *boxed;
    assert!(Transport::set_read_timeout(&mut by_ref, None).unwrap());
    assert_eq!(by_ref.read_timeout().unwrap(), None);
    // Our direction ends: the peer reads its end.
    Transport::shutdown_write(&mut by_ref).unwrap();
    b.set_read_timeout(Some(LIMIT)).unwrap();
    assert_eq!(b.read(&mut [0; 8]).unwrap(), 0);
    let (c, mut d) = UnixStream::pair().unwrap();
    let mut boxed: Box<UnixStream> = Box::new(c);
    Transport::shutdown_write(&mut boxed).unwrap();
    d.set_read_timeout(Some(LIMIT)).unwrap();
    assert_eq!(d.read(&mut [0; 8]).unwrap(), 0);
    let (mut e, mut f) = UnixStream::pair().unwrap();
    Transport::shutdown_write(&mut e).unwrap();
    f.set_read_timeout(Some(LIMIT)).unwrap();
    assert_eq!(f.read(&mut [0; 8]).unwrap(), 0);
    // Without timeouts, through the wrappers too.
    let mut untimed = Box::new(Untimed(io::Cursor::new(Vec::<u8>::new())));
    assert!(!Transport::set_read_timeout(&mut untimed, Some(LIMIT)).unwrap());
    let mut by_ref = &mut *untimed;
    assert!(!Transport::set_read_timeout(&mut by_ref, Some(LIMIT)).unwrap());
}

/// `Untimed` passes a flush on to the stream it wraps.
#[test]
fn untimed_flushes_its_stream() {
    let (pipe, mut peer) = duplex(usize::MAX);
    let mut untimed = Untimed(Buffered {
        pipe,
        held: Vec::new(),
    });
    untimed.write_all(b"held").unwrap();
    untimed.flush().unwrap();
    peer.set_read_timeout(Some(LIMIT)).unwrap();
    let mut got = [0; 4];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"held");
}

/// Ending our direction of a TCP connection the peer reset already is not
/// an error: there is nothing to end.
#[test]
fn ending_our_direction_after_a_reset_succeeds() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (theirs, _) = listener.accept().unwrap();
    ours.write_all(b"unread").unwrap();
    // Closed with our bytes arrived but unread: the peer's kernel resets
    // the connection.
    theirs.set_read_timeout(Some(LIMIT)).unwrap();
    assert_eq!(theirs.peek(&mut [0; 6]).unwrap(), 6);
    drop(theirs);
    ours.set_read_timeout(Some(LIMIT)).unwrap();
    let reset = ours.read(&mut [0; 8]).unwrap_err();
    assert_eq!(reset.kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(
        ours.shutdown(Shutdown::Write).unwrap_err().kind(),
        io::ErrorKind::NotConnected
    );
    Transport::shutdown_write(&mut ours).unwrap();
}
