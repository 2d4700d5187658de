//! WebSocket over HTTP/2 (RFC 8441) with the `h2` crate: a server and a
//! client in one process on 127.0.0.1, each a wstate `Connection` on one
//! HTTP/2 stream. The client sends text and binary messages (one larger than
//! HTTP/2's initial 64 KiB flow-control window), the server echoes them, the
//! client checks every echo and closes; the server answers the Close and
//! ends its stream. Run twice: plain, then with permessage-deflate.
//!
//!   cd benches && cargo run --bin h2_websocket
//!
//! Exits 0 when both runs round-tripped every message and completed the
//! closing handshake, 1 on any failure or after 20 s.
//!
//! What the HTTP/2 stack does, and wstate does not: SETTINGS (the server
//! enables `SETTINGS_ENABLE_CONNECT_PROTOCOL`, RFC 8441 §3), HPACK, flow
//! control (each received DATA frame's capacity is released once the
//! connection has buffered it). What wstate does: the extended CONNECT's
//! fields (`wstate::handshake::h2`), then the WebSocket frames inside the
//! DATA frames, exactly as over TCP.

use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use h2::{RecvStream, SendStream};
use http::{Method, Request, Response, StatusCode};
use tokio::net::{TcpListener, TcpStream};
use wstate::DeflateConfig;
use wstate::handshake::h2::{self as ws_h2, ExtendedConnect, Scheme};
use wstate::{Accept, ClientRequest, CloseCode, Config, Connection, Event, Message, Polled, Role};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The messages the client sends, each expected back.
fn messages() -> Vec<(bool, Vec<u8>)> {
    vec![
        (true, b"hello over HTTP/2".to_vec()),
        (false, vec![0, 1, 2, 255]),
        (true, "0123456789".repeat(10_000).into_bytes()),
        (true, "\u{e9}t\u{e9}".as_bytes().to_vec()),
        (false, Vec::new()),
    ]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let run = async {
        for deflate in [false, true] {
            session(deflate).await?;
        }
        Ok::<(), Error>(())
    };
    match tokio::time::timeout(Duration::from_secs(20), run).await {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("h2_websocket: FAILED: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("h2_websocket: FAILED: timed out after 20 s");
            ExitCode::FAILURE
        }
    }
}

fn config(deflate: bool) -> Config {
    Config::default().with_deflate(deflate.then(DeflateConfig::default))
}

/// One server and one client, on a fresh port.
async fn session(deflate: bool) -> Result<(), Error> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        serve(tcp, config(deflate)).await
    });
    let (echoed, code) = client(
        TcpStream::connect(addr).await?,
        addr.port(),
        config(deflate),
    )
    .await?;
    server.await??;
    println!(
        "h2_websocket: permessage-deflate {}: {echoed} messages echoed over one HTTP/2 stream, closed {code}",
        if deflate { "on " } else { "off" }
    );
    Ok(())
}

/// Sends what the connection queued as one DATA frame (h2 splits it to the
/// peer's frame size and flow-control window), with END_STREAM if `end`.
fn flush(out: &mut Vec<u8>, send: &mut SendStream<Bytes>, end: bool) -> Result<(), Error> {
    if !out.is_empty() || end {
        send.send_data(Bytes::from(std::mem::take(out)), end)?;
    }
    Ok(())
}

/// Reads the next DATA frame into the connection; the end of the peer's
/// stream is the end of the transport.
async fn read(conn: &mut Connection, recv: &mut RecvStream) -> Result<(), Error> {
    match recv.data().await {
        Some(chunk) => {
            let chunk = chunk?;
            conn.receive(&chunk);
            // Buffered by the connection: the peer may send as much again.
            recv.flow_control().release_capacity(chunk.len())?;
        }
        None => conn.receive_eof(),
    }
    Ok(())
}

// ---------------------------------------------------------------- server

async fn serve(tcp: TcpStream, config: Config) -> Result<(), Error> {
    let mut h2 = h2::server::Builder::new()
        .enable_connect_protocol()
        .handshake::<_, Bytes>(tcp)
        .await?;
    let (request, mut respond) = h2.accept().await.ok_or("no request")??;
    // The connection is driven by `accept`: keep it running beside the
    // stream (it ends when the client closes the HTTP/2 connection).
    let driver = tokio::spawn(async move { while h2.accept().await.is_some() {} });

    // The request's fields as HTTP/2 carried them: pseudo-header fields
    // (the method, `:protocol`, the URI's parts), then the header map.
    let (parts, mut recv) = request.into_parts();
    let protocol = parts.extensions.get::<h2::ext::Protocol>();
    let path = parts.uri.path_and_query().map(|p| p.as_str());
    let mut fields: Vec<(&str, &[u8])> = vec![(":method", parts.method.as_str().as_bytes())];
    let pseudo = [
        (":protocol", protocol.map(|p| p.as_str())),
        (":scheme", parts.uri.scheme_str()),
        (":path", path),
        (":authority", parts.uri.authority().map(|a| a.as_str())),
    ];
    fields.extend(
        pseudo
            .into_iter()
            .filter_map(|(n, v)| Some((n, v?.as_bytes()))),
    );
    fields.extend(
        parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes())),
    );

    // This server enabled the extended CONNECT (`enable_connect_protocol`
    // above), because its WebSocket handler is reachable over HTTP/2.
    let request = match ws_h2::validate_request(&fields, ExtendedConnect::Enabled) {
        Ok(request) => request,
        // A malformed request is a stream error (RFC 9113 §8.1.1): reset.
        Err(e) if e.is_malformed() => {
            respond.send_reset(h2::Reason::PROTOCOL_ERROR);
            return Err(format!("malformed request: {e}").into());
        }
        Err(e) => {
            let mut response = Response::builder().status(e.status().unwrap_or(400));
            for (n, v) in e.response_headers() {
                response = response.header(*n, *v);
            }
            respond.send_response(response.body(())?, true)?;
            return Err(format!("refused the request: {e}").into());
        }
    };
    let chosen = request.request().subprotocols().find(|p| *p == "echo");
    let accept = match chosen {
        Some(p) => Accept::new().subprotocol(p),
        None => Accept::new(),
    };
    let accepted = request.accept(&accept, &config)?;
    let mut response = Response::builder().status(accepted.status());
    for (name, value) in accepted.headers() {
        response = response.header(name, value);
    }
    let mut send = respond.send_response(response.body(())?, false)?;
    let mut conn = Connection::new_open_with_deflate(Role::Server, config, accepted.deflate());

    let mut out = Vec::new();
    loop {
        loop {
            match conn.poll_event(&mut out) {
                Polled::Failed(e) => {
                    // The Close that fails the connection is in `out`.
                    flush(&mut out, &mut send, true)?;
                    return Err(format!("server: {e}").into());
                }
                Polled::Event(Event::Text(t), tx) => tx.send(Message::Text(t), &mut out)?,
                Polled::Event(Event::Binary(b), tx) => tx.send(Message::Binary(b), &mut out)?,
                Polled::Event(_, _) => {}
                Polled::NeedMore => break,
                Polled::Done => {
                    // The server ends the stream first (RFC 6455 §7.1.1).
                    flush(&mut out, &mut send, true)?;
                    // Wait for the client's END_STREAM, then let the driver
                    // see the connection close.
                    while recv.data().await.is_some() {}
                    driver.await?;
                    return Ok(());
                }
            }
        }
        flush(&mut out, &mut send, false)?;
        read(&mut conn, &mut recv).await?;
    }
}

// ---------------------------------------------------------------- client

async fn client(tcp: TcpStream, port: u16, config: Config) -> Result<(usize, CloseCode), Error> {
    let (h2, connection) = h2::client::handshake(tcp).await?;
    let driver = tokio::spawn(connection);
    let mut h2 = h2.ready().await?;
    // "Upon receipt of SETTINGS_ENABLE_CONNECT_PROTOCOL with a value of 1,
    // a client MAY use the Extended CONNECT" (RFC 8441 §3), and not before:
    // wait for the server's SETTINGS.
    let mut setting = ExtendedConnect::NotEnabled;
    for _ in 0..200 {
        if h2.is_extended_connect_protocol_enabled() {
            setting = ExtendedConnect::Enabled;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let authority = format!("127.0.0.1:{port}");
    let target = ClientRequest::new(&authority, "/echo").subprotocols(&["echo"]);
    // Refused (`SendError::ExtendedConnectNotEnabled`) unless the server's
    // SETTINGS enabled it.
    let connect = ws_h2::connect(&target, Scheme::Http, setting, &config)?;
    let mut request = Request::builder()
        .method(Method::CONNECT)
        .uri(format!("http://{authority}/echo"))
        .extension(h2::ext::Protocol::from_static("websocket"));
    for (name, value) in connect.headers().filter(|(n, _)| !n.starts_with(':')) {
        request = request.header(name, value);
    }
    let (response, mut send) = h2.send_request(request.body(())?, false)?;
    let response = response.await?;
    let status = response.status();
    let (parts, mut recv) = response.into_parts();
    let mut fields: Vec<(&str, &[u8])> = vec![(":status", status.as_str().as_bytes())];
    fields.extend(
        parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes())),
    );
    let accepted = connect
        .validate_response(&fields)
        .map_err(|e| format!("response {status}: {e}"))?;
    if status != StatusCode::OK || accepted.subprotocol() != Some("echo") {
        return Err(format!(
            "unexpected acceptance: {status}, {:?}",
            accepted.subprotocol()
        )
        .into());
    }
    if accepted.deflate().is_some() != config.deflate().is_some() {
        return Err("permessage-deflate not negotiated as configured".into());
    }
    let role = Role::client(wstate::os_entropy);
    let mut conn = Connection::new_open_with_deflate(role, config, accepted.deflate());

    let mut out = Vec::new();
    let sent = messages();
    for (text, payload) in &sent {
        let message = match text {
            true => Message::Text(std::str::from_utf8(payload)?),
            false => Message::Binary(payload),
        };
        conn.sender().send(message, &mut out)?;
    }
    flush(&mut out, &mut send, false)?;

    let mut echoed = 0;
    let mut closing = false;
    loop {
        loop {
            match conn.poll_event(&mut out) {
                Polled::Failed(e) => return Err(format!("client: {e}").into()),
                Polled::Event(event, _) => {
                    let got = match event {
                        Event::Text(t) => (true, t.as_bytes()),
                        Event::Binary(b) => (false, b),
                        _ => continue,
                    };
                    let expected = sent.get(echoed).ok_or("more echoes than messages")?;
                    if (expected.0, &expected.1[..]) != got {
                        return Err(format!("echo {echoed} differs").into());
                    }
                    echoed += 1;
                }
                Polled::NeedMore => break,
                Polled::Done => {
                    flush(&mut out, &mut send, true)?;
                    drop((h2, send, recv));
                    driver.await??;
                    let close = conn.received_close().ok_or("no Close received")?;
                    if echoed != sent.len() || close.code != CloseCode::NORMAL {
                        return Err(format!("{echoed} echoes, closed {}", close.code).into());
                    }
                    return Ok((echoed, close.code));
                }
            }
        }
        if echoed == sent.len() && !closing {
            conn.sender().close(CloseCode::NORMAL, "done", &mut out)?;
            closing = true;
        }
        flush(&mut out, &mut send, false)?;
        read(&mut conn, &mut recv).await?;
    }
}
