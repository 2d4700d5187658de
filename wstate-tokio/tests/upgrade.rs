//! `upgrade` behind a real hyper HTTP/1.1 server on 127.0.0.1: the exact
//! `101` and refusals on the wire, an echo over the upgraded connection,
//! and the WebSocket that never comes when the server keeps the connection.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;
use wstate::{Accept, CloseCode, HandshakeError, SendError};
use wstate_tokio::upgrade::{UpgradeError, upgrade};
use wstate_tokio::{ConnectRequest, Message, Options};

const STEP: Duration = Duration::from_secs(5);
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// RFC 6455 §1.3's answer to `KEY`.
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// What became of each accepted upgrade, as the server saw it.
type Outcomes = mpsc::UnboundedReceiver<String>;

/// A hyper server (`.with_upgrades()` when `upgrades`) whose service
/// upgrades every request: `/echo` selects `chat.v1` when offered and
/// echoes text and binary messages after a first message that names the
/// subprotocol; `/refuse` is refused with 403; `/not-offered` selects a
/// subprotocol the client did not offer.
async fn server(upgrades: bool) -> (SocketAddr, Outcomes) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, outcomes) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        // Bounded: every test opens at most a few connections.
        for _ in 0..8 {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let report = report.clone();
            let service = service_fn(move |request| handle(request, report.clone()));
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::spawn(async move {
                let _ = match upgrades {
                    true => connection.with_upgrades().await,
                    false => connection.await,
                };
            });
        }
    });
    (addr, outcomes)
}

async fn handle(
    mut request: Request<Incoming>,
    report: mpsc::UnboundedSender<String>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let answer = upgrade(&mut request, &Options::default(), |request| {
        let offered = request.subprotocols().any(|p| p == "chat.v1");
        match path.as_str() {
            "/refuse" => Err(UpgradeError::refuse(403, "go away\n")),
            "/not-offered" => Ok(Accept::new().subprotocol("not-offered")),
            _ if offered => Ok(Accept::new().subprotocol("chat.v1")),
            _ => Ok(Accept::new()),
        }
    });
    let (response, upgrading) = match answer {
        Ok(accepted) => accepted,
        Err(refusal) => {
            let _ = report.send(format!("refused: {refusal:?}"));
            return Ok(refusal.response());
        }
    };
    tokio::spawn(async move {
        let mut ws = match upgrading.await {
            Ok(ws) => ws,
            Err(e) => return report.send(format!("no WebSocket: {e}")),
        };
        let first = format!("subprotocol {:?}", ws.subprotocol());
        if let Err(e) = ws.send(Message::text(first)).await {
            return report.send(format!("send failed: {e}"));
        }
        while let Some(message) = ws.recv().await {
            match message {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                    let _ = ws.send(message).await;
                }
                Ok(Message::Close(Some(frame))) => {
                    return report.send(format!("closed: {} {:?}", frame.code, frame.reason()));
                }
                Ok(_) => {}
                Err(e) => return report.send(format!("failed: {e}")),
            }
        }
        report.send("ended".into())
    });
    Ok(response)
}

/// A request head for `path` with the usual upgrade fields, `extra` lines
/// (each ending in CRLF) added and the fields named in `without` left out.
fn request(path: &str, extra: &str, without: &[&str]) -> String {
    let fields = [
        ("Host", "127.0.0.1"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", KEY),
        ("Sec-WebSocket-Version", "13"),
    ];
    let mut head = format!("GET {path} HTTP/1.1\r\n");
    for (name, value) in fields.iter().filter(|(n, _)| !without.contains(n)) {
        head += &format!("{name}: {value}\r\n");
    }
    head + extra + "\r\n"
}

/// Sends `request` and reads the response head (without its `date` field,
/// which changes every second) and as many body bytes as it announces.
async fn exchange(stream: &mut TcpStream, request: &str) -> (String, String) {
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let end = loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let mut byte = [0];
        let n = timeout(STEP, stream.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            n, 1,
            "the connection ended inside the response head: {got:?}"
        );
        got.push(byte[0]);
    };
    let head = String::from_utf8(got[..end].to_vec()).unwrap();
    let head: String = head
        .split_inclusive("\r\n")
        .filter(|line| !line.starts_with("date: "))
        .collect();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .map_or(0, |n| n.trim().parse().unwrap());
    let mut body = vec![0; length];
    timeout(STEP, stream.read_exact(&mut body))
        .await
        .unwrap()
        .unwrap();
    (head, String::from_utf8(body).unwrap())
}

async fn refusal(request: &str) -> (String, String) {
    let (addr, _) = server(true).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    exchange(&mut stream, request).await
}

/// The next frame from the server, as raw bytes (the server sends short
/// unmasked frames).
async fn frame(stream: &mut TcpStream) -> Vec<u8> {
    let mut frame = vec![0; 2];
    timeout(STEP, stream.read_exact(&mut frame))
        .await
        .unwrap()
        .unwrap();
    let len = usize::from(frame[1]);
    assert!(len < 126, "a short frame: {frame:?}");
    frame.resize(2 + len, 0);
    timeout(STEP, stream.read_exact(&mut frame[2..]))
        .await
        .unwrap()
        .unwrap();
    frame
}

/// A masked client frame with the zero mask key (the payload as is).
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    frame
}

#[tokio::test]
async fn accepts_with_the_exact_101_then_echoes_exact_frames() {
    let (addr, mut outcomes) = server(true).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let offer = "Sec-WebSocket-Protocol: other, chat.v1\r\n";
    let (head, body) = exchange(&mut stream, &request("/echo", offer, &[])).await;
    assert_eq!(
        head,
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
             sec-websocket-accept: {ACCEPT}\r\nsec-websocket-protocol: chat.v1\r\n\r\n"
        )
    );
    assert_eq!(body, "");
    let first = b"subprotocol Some(\"chat.v1\")";
    assert_eq!(
        frame(&mut stream).await,
        [&[0x81, first.len() as u8][..], first].concat()
    );
    stream
        .write_all(&client_frame(0x1, b"hello"))
        .await
        .unwrap();
    assert_eq!(frame(&mut stream).await, b"\x81\x05hello");
    stream
        .write_all(&client_frame(0x2, &[0, 0xff]))
        .await
        .unwrap();
    assert_eq!(frame(&mut stream).await, [0x82, 0x02, 0, 0xff]);
    stream
        .write_all(&client_frame(0x8, &[0x03, 0xe8]))
        .await
        .unwrap();
    assert_eq!(frame(&mut stream).await, [0x88, 0x02, 0x03, 0xe8]);
    // The server ends its side after its Close reply.
    let mut rest = Vec::new();
    timeout(STEP, stream.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest, b"");
    stream.shutdown().await.unwrap();
    let closed = timeout(STEP, outcomes.recv()).await.unwrap().unwrap();
    assert_eq!(closed, "closed: 1000 \"\"");
}

#[tokio::test]
async fn a_wstate_client_talks_to_the_upgraded_connection() {
    let (addr, mut outcomes) = server(true).await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let url = format!("ws://{addr}/echo");
    let request = ConnectRequest::new(&url).unwrap().subprotocol("chat.v1");
    let mut ws = wstate_tokio::connect_with(stream, &request).await.unwrap();
    assert_eq!(ws.subprotocol(), Some("chat.v1"));
    // The client offers permessage-deflate with feature `deflate`, and the
    // upgrade accepts it.
    assert_eq!(
        ws.connection().deflate().is_some(),
        cfg!(feature = "deflate")
    );
    let first = timeout(STEP, ws.recv()).await.unwrap().unwrap().unwrap();
    assert_eq!(first, Message::text("subprotocol Some(\"chat.v1\")"));
    ws.send(Message::text("héllo")).await.unwrap();
    let echo = timeout(STEP, ws.recv()).await.unwrap().unwrap().unwrap();
    assert_eq!(echo, Message::text("héllo"));
    let answer = timeout(STEP, ws.close(CloseCode::GOING_AWAY, "bye"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.map(|f| f.code), Some(CloseCode::GOING_AWAY));
    let closed = timeout(STEP, outcomes.recv()).await.unwrap().unwrap();
    assert_eq!(closed, "closed: 1001 \"bye\"");
}

/// permessage-deflate over the upgrade: the answer in the `101`, then
/// compressed frames both ways (RSV1 set), read and written by a core
/// client with the parameters the `101` gave.
#[cfg(feature = "deflate")]
#[tokio::test]
async fn permessage_deflate_is_negotiated_and_frames_carry_rsv1() {
    use wstate::handshake::extensions::validate_response;
    use wstate::{Config, Connection, DeflateConfig, Entropy, Event, Polled, Role};

    let (addr, mut outcomes) = server(true).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    let (head, body) = exchange(&mut stream, &request("/echo", offer, &[])).await;
    assert_eq!(
        head,
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
             sec-websocket-accept: {ACCEPT}\r\nsec-websocket-extensions: permessage-deflate\r\n\r\n"
        )
    );
    assert_eq!(body, "");
    let config = DeflateConfig::default();
    let params = validate_response([&b"permessage-deflate"[..]], Some(&config)).unwrap();
    assert!(params.is_some());
    let zero_mask = Entropy::new(|mask: &mut [u8]| mask.fill(0));
    let client_config = Config::default().with_deflate(Some(config));
    let mut client =
        Connection::new_open_with_deflate(Role::Client(zero_mask), client_config, params);
    let mut out = Vec::new();
    // The server's first message, compressed: FIN, RSV1, text.
    let first = frame(&mut stream).await;
    assert_eq!(first[0], 0xc1, "{first:?}");
    client.receive(&first);
    match client.poll_event(&mut out) {
        Polled::Event(Event::Text(text), _) => assert_eq!(text, "subprotocol None"),
        other => panic!("{other:?}"),
    }
    // A compressed message from the client is inflated, then echoed
    // compressed.
    let text = "compress me, ".repeat(20);
    client
        .sender()
        .send(wstate::Message::Text(&text), &mut out)
        .unwrap();
    assert_eq!(out[0], 0xc1, "{out:?}");
    stream.write_all(&out).await.unwrap();
    out.clear();
    let echo = frame(&mut stream).await;
    assert_eq!(echo[0], 0xc1, "{echo:?}");
    assert!(echo.len() < text.len() / 4, "{echo:?}");
    client.receive(&echo);
    match client.poll_event(&mut out) {
        Polled::Event(Event::Text(echoed), _) => assert_eq!(echoed, text),
        other => panic!("{other:?}"),
    }
    // Control frames are never compressed: the Close reply has RSV1 clear.
    stream
        .write_all(&client_frame(0x8, &[0x03, 0xe8]))
        .await
        .unwrap();
    assert_eq!(frame(&mut stream).await, [0x88, 0x02, 0x03, 0xe8]);
    let closed = timeout(STEP, outcomes.recv()).await.unwrap().unwrap();
    assert_eq!(closed, "closed: 1000 \"\"");
}

/// `Expect: 100-continue` on an upgrade (which has no content): no `100`,
/// the `101` is the first answer (RFC 9110 §10.1.1 lets the server omit
/// the `100` when "the framing indicates that there is no content").
#[tokio::test]
async fn expect_100_continue_is_answered_with_the_101() {
    let (addr, mut outcomes) = server(true).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let expect = "Expect: 100-continue\r\n";
    let (head, body) = exchange(&mut stream, &request("/echo", expect, &[])).await;
    assert_eq!(
        head,
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
             sec-websocket-accept: {ACCEPT}\r\n\r\n"
        )
    );
    assert_eq!(body, "");
    assert_eq!(frame(&mut stream).await, b"\x81\x10subprotocol None");
    stream
        .write_all(&client_frame(0x1, b"hello"))
        .await
        .unwrap();
    assert_eq!(frame(&mut stream).await, b"\x81\x05hello");
    stream
        .write_all(&client_frame(0x8, &[0x03, 0xe8]))
        .await
        .unwrap();
    assert_eq!(frame(&mut stream).await, [0x88, 0x02, 0x03, 0xe8]);
    let closed = timeout(STEP, outcomes.recv()).await.unwrap().unwrap();
    assert_eq!(closed, "closed: 1000 \"\"");
}

#[tokio::test]
async fn no_subprotocol_offered_none_selected() {
    let (addr, _) = server(true).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let (head, _) = exchange(&mut stream, &request("/echo", "", &[])).await;
    assert_eq!(
        head,
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
             sec-websocket-accept: {ACCEPT}\r\n\r\n"
        )
    );
    let first = b"subprotocol None";
    assert_eq!(
        frame(&mut stream).await,
        [&[0x81, first.len() as u8][..], first].concat()
    );
}

#[tokio::test]
async fn another_version_gets_426_with_the_version_we_speak() {
    let want = "not a WebSocket upgrade: Sec-WebSocket-Version is not 13\n";
    let head = format!(
        "HTTP/1.1 426 Upgrade Required\r\nsec-websocket-version: 13\r\nupgrade: websocket\r\n\
         content-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n\r\n",
        want.len()
    );
    let version_8 = request(
        "/echo",
        "Sec-WebSocket-Version: 8\r\n",
        &["Sec-WebSocket-Version"],
    );
    assert_eq!(refusal(&version_8).await, (head.clone(), want.into()));
    let missing = request("/echo", "", &["Sec-WebSocket-Version"]);
    assert_eq!(refusal(&missing).await, (head, want.into()));
}

#[tokio::test]
async fn a_request_that_is_no_upgrade_gets_400() {
    for (without, why) in [
        ("Upgrade", HandshakeError::MissingUpgrade),
        ("Connection", HandshakeError::MissingConnectionUpgrade),
        ("Sec-WebSocket-Key", HandshakeError::InvalidKey),
    ] {
        let want = format!("not a WebSocket upgrade: {why}\n");
        let head = format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
             content-length: {}\r\n\r\n",
            want.len()
        );
        assert_eq!(
            refusal(&request("/echo", "", &[without])).await,
            (head, want),
            "{without}"
        );
    }
}

#[tokio::test]
async fn another_method_gets_405_with_allow() {
    let post = request("/echo", "", &[]).replacen("GET", "POST", 1);
    let want = "not a WebSocket upgrade: method is not GET\n";
    let (head, body) = refusal(&post).await;
    assert!(
        head.starts_with("HTTP/1.1 405 Method Not Allowed\r\nallow: GET\r\n"),
        "{head}"
    );
    assert_eq!(body, want);
}

#[tokio::test]
async fn http_1_0_cannot_upgrade() {
    let old = request("/echo", "", &[]).replacen("HTTP/1.1", "HTTP/1.0", 1);
    let (head, body) = refusal(&old).await;
    assert!(head.starts_with("HTTP/1.0 400 Bad Request\r\n"), "{head}");
    assert_eq!(body, "not a WebSocket upgrade: HTTP/1.0 cannot upgrade\n");
}

#[tokio::test]
async fn the_servers_refusal_is_sent_as_it_is() {
    let (head, body) = refusal(&request("/refuse", "", &[])).await;
    assert_eq!(
        head,
        "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: 8\r\n\r\n"
    );
    assert_eq!(body, "go away\n");
}

#[tokio::test]
async fn selecting_a_subprotocol_not_offered_is_the_servers_500() {
    let (addr, mut outcomes) = server(true).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let (head, body) = exchange(&mut stream, &request("/not-offered", "", &[])).await;
    assert_eq!(
        head,
        "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n"
    );
    assert_eq!(body, "");
    let refused = timeout(STEP, outcomes.recv()).await.unwrap().unwrap();
    assert_eq!(refused, "refused: Answer(SubprotocolNotOffered)");
}

#[tokio::test]
async fn a_server_without_upgrades_gives_no_websocket() {
    let (addr, mut outcomes) = server(false).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let (head, _) = exchange(&mut stream, &request("/echo", "", &[])).await;
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    let outcome = timeout(STEP, outcomes.recv()).await.unwrap().unwrap();
    assert!(outcome.starts_with("no WebSocket: "), "{outcome}");
}

#[test]
fn refusal_statuses() {
    let status = |e: UpgradeError| e.status();
    assert_eq!(status(UpgradeError::refuse(404, "")), StatusCode::NOT_FOUND);
    assert_eq!(
        status(UpgradeError::refuse(503, "")),
        StatusCode::SERVICE_UNAVAILABLE
    );
    // A refusal is an error: a success status, or none, is the server's 500.
    assert_eq!(
        status(UpgradeError::refuse(200, "")),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        status(UpgradeError::refuse(1000, "")),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        status(HandshakeError::UnsupportedVersion.into()),
        StatusCode::UPGRADE_REQUIRED
    );
    assert_eq!(
        status(HandshakeError::HeadTooLarge.into()),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    assert_eq!(
        status(SendError::ReservedHeader.into()),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let response: Response<Full<Bytes>> = UpgradeError::refuse(404, "").response();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.headers().is_empty(), "{:?}", response.headers());
}
