//! WebSocket over HTTP/3 (RFC 9220) over QUIC with `quinn`: a server and a
//! client in one process on 127.0.0.1, each a wstate `Connection` on one
//! HTTP/3 request stream, with a self-signed certificate made at start-up
//! (`rcgen`). The client sends text and binary messages (two larger than
//! the stream's 64 KiB flow-control window, one of them incompressible),
//! the server echoes each, the client checks every echo and closes; the
//! server answers the Close and finishes its stream (FIN), then the client
//! finishes its own. Run twice: plain, then with permessage-deflate.
//!
//!   cd benches && cargo run --bin h3_websocket
//!
//! Exits 0 when both runs round-tripped every message and completed the
//! closing handshake, 1 on any failure or after 20 s.
//!
//! What wstate does: the extended CONNECT's fields
//! (`wstate::handshake::h3`), then the WebSocket frames inside the DATA
//! frames, exactly as over TCP. What QUIC does (quinn): TLS 1.3, streams,
//! flow control. The HTTP/3 layer in between is the few pieces of RFC 9114
//! and RFC 9204 (QPACK) this exchange needs, written below: each side's
//! control stream with its SETTINGS (the server's with
//! `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`), HEADERS and DATA frames on the
//! request stream, and field sections of literal field lines (QPACK
//! without the dynamic table, name references or Huffman coding, which an
//! encoder may always avoid). The `h3` crate's latest release (0.0.8)
//! refuses `:protocol websocket`, so it cannot carry this exchange yet.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use quinn::rustls::{self, RootCertStore};
use quinn::{RecvStream, SendStream, VarInt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wstate::DeflateConfig;
use wstate::handshake::h3::{self, ExtendedConnect, Scheme};
use wstate::{Accept, ClientRequest, CloseCode, Config, Connection, Event, Message, Polled, Role};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Decoded fields: names and values as bytes.
type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// The stream's flow-control window: the largest messages are several
/// times larger.
const WINDOW: u32 = 64 * 1024;

// RFC 9114 §7.2 and §11.2: frame and stream types, settings, error codes.
const FRAME_DATA: u64 = 0x00;
const FRAME_HEADERS: u64 = 0x01;
const FRAME_SETTINGS: u64 = 0x04;
const STREAM_CONTROL: u64 = 0x00;
/// RFC 9220 §3: "The SETTINGS_ENABLE_CONNECT_PROTOCOL value is 0x08
/// (decimal 8), as in HTTP/2."
const SETTINGS_ENABLE_CONNECT_PROTOCOL: u64 = 0x08;
const H3_NO_ERROR: u32 = 0x0100;
const H3_REQUEST_CANCELLED: u32 = 0x010c;
const H3_MESSAGE_ERROR: u32 = 0x010e;
/// The largest HEADERS frame either side reads.
const MAX_HEADERS: usize = 16 * 1024;

/// The messages the client sends, each expected back.
fn messages() -> Vec<(bool, Vec<u8>)> {
    // Incompressible bytes (xorshift), so that the message is larger than
    // the window with permessage-deflate too.
    let mut x: u32 = 0x9e37_79b9;
    let noise: Vec<u8> = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    vec![
        (true, b"hello over HTTP/3".to_vec()),
        (false, vec![0, 1, 2, 255]),
        (true, "0123456789".repeat(20_000).into_bytes()),
        (false, noise),
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
            eprintln!("h3_websocket: FAILED: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("h3_websocket: FAILED: timed out after 20 s");
            ExitCode::FAILURE
        }
    }
}

fn config(deflate: bool) -> Config {
    Config::default().with_deflate(deflate.then(DeflateConfig::default))
}

/// One server and one client, on a fresh port and a fresh certificate.
async fn session(deflate: bool) -> Result<(), Error> {
    let (server_config, client_config) = tls()?;
    let server = quinn::Endpoint::server(server_config, "127.0.0.1:0".parse()?)?;
    let addr = server.local_addr()?;
    let serving = tokio::spawn(async move {
        let incoming = server.accept().await.ok_or("no connection")?;
        let result = serve(incoming.await?, config(deflate)).await;
        server.wait_idle().await;
        result
    });
    let mut client = quinn::Endpoint::client("127.0.0.1:0".parse()?)?;
    client.set_default_client_config(client_config);
    let quic = client.connect(addr, "localhost")?.await?;
    let (echoed, code) = run_client(&quic, config(deflate)).await?;
    quic.close(VarInt::from_u32(H3_NO_ERROR), b"");
    serving.await??;
    client.wait_idle().await;
    println!(
        "h3_websocket: permessage-deflate {}: {echoed} messages echoed over one HTTP/3 stream, closed {code}",
        if deflate { "on " } else { "off" }
    );
    Ok(())
}

/// TLS 1.3 with ALPN `h3` (RFC 9114 §3.1), a certificate for `localhost`
/// made now, and the client trusting only it; the stream windows of
/// [`WINDOW`] bytes.
fn tls() -> Result<(quinn::ServerConfig, quinn::ClientConfig), Error> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    // rustls' provider is the one its enabled features give: ring's, which
    // quinn's `rustls-ring` selects.
    let mut server_tls =
        rustls::ServerConfig::builder_with_protocol_versions(&[&rustls::version::TLS13])
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key.into())?;
    server_tls.alpn_protocols = vec![b"h3".to_vec()];
    let mut roots = RootCertStore::empty();
    roots.add(cert)?;
    let mut client_tls =
        rustls::ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS13])
            .with_root_certificates(roots)
            .with_no_client_auth();
    client_tls.alpn_protocols = vec![b"h3".to_vec()];

    let transport = || {
        let mut t = quinn::TransportConfig::default();
        t.stream_receive_window(VarInt::from_u32(WINDOW));
        t.receive_window(VarInt::from_u32(4 * WINDOW));
        Arc::new(t)
    };
    let mut server =
        quinn::ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(server_tls)?));
    server.transport_config(transport());
    let mut client = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(client_tls)?));
    client.transport_config(transport());
    Ok((server, client))
}

// ------------------------------------------------------- HTTP/3 framing

/// Appends a QUIC variable-length integer (RFC 9000 §16).
fn put_varint(out: &mut Vec<u8>, v: u64) {
    match v {
        0..=0x3f => out.push(v as u8),
        0x40..=0x3fff => out.extend_from_slice(&(v as u16 | 0x4000).to_be_bytes()),
        0x4000..=0x3fff_ffff => out.extend_from_slice(&(v as u32 | 0x8000_0000).to_be_bytes()),
        _ => out.extend_from_slice(&(v | 0xc000_0000_0000_0000).to_be_bytes()),
    }
}

/// Reads a variable-length integer at the start of `buf`: the value and
/// its length, `None` if not all here.
fn get_varint(buf: &[u8]) -> Option<(u64, usize)> {
    let len = 1 << (buf.first()? >> 6);
    let bytes = buf.get(..len)?;
    let v = bytes[1..]
        .iter()
        .fold(u64::from(bytes[0] & 0x3f), |v, &b| v << 8 | u64::from(b));
    Some((v, len))
}

/// An HTTP/3 frame: type, length, payload (RFC 9114 §7.1).
fn frame(ty: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 16);
    put_varint(&mut out, ty);
    put_varint(&mut out, payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

/// A QPACK prefixed integer (RFC 9204 §4.1.1, RFC 7541 §5.1): `flags` in
/// the bits above the `n`-bit prefix.
fn put_prefixed(out: &mut Vec<u8>, flags: u8, n: u32, v: usize) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(flags | v as u8);
        return;
    }
    out.push(flags | max as u8);
    let mut rest = v - max;
    while rest >= 0x80 {
        out.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    out.push(rest as u8);
}

fn get_prefixed(buf: &[u8], pos: &mut usize, n: u32) -> Result<usize, Error> {
    let max = (1usize << n) - 1;
    let first = usize::from(*buf.get(*pos).ok_or("QPACK: truncated")?) & max;
    *pos += 1;
    if first < max {
        return Ok(first);
    }
    let mut v = max;
    for shift in (0..28).step_by(7) {
        let b = *buf.get(*pos).ok_or("QPACK: truncated")?;
        *pos += 1;
        v += usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("QPACK: integer too large".into())
}

/// A field section of literal field lines with literal names (RFC 9204
/// §4.5.6), after the prefix of a section that uses no dynamic table
/// (Required Insert Count 0, Delta Base 0, §4.5.1).
fn qpack_encode<'a>(fields: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let mut out = vec![0, 0];
    for (name, value) in fields {
        // 001 N=0 H=0, then the name's length in a 3-bit prefix.
        put_prefixed(&mut out, 0x20, 3, name.len());
        out.extend_from_slice(name.as_bytes());
        // H=0, the value's length in a 7-bit prefix.
        put_prefixed(&mut out, 0x00, 7, value.len());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// Decodes what `qpack_encode` writes; anything else (the dynamic table,
/// static-table references, Huffman) is refused.
fn qpack_decode(buf: &[u8]) -> Result<Fields, Error> {
    if buf.get(..2) != Some(&[0, 0]) {
        return Err("QPACK: a section that uses the dynamic table".into());
    }
    let mut pos = 2;
    let mut fields = Vec::new();
    while pos < buf.len() {
        if buf[pos] & 0xe8 != 0x20 {
            return Err("QPACK: not a literal field line with a literal name".into());
        }
        let n = get_prefixed(buf, &mut pos, 3)?;
        let name = buf.get(pos..pos + n).ok_or("QPACK: truncated")?.to_vec();
        pos += n;
        if buf.get(pos).ok_or("QPACK: truncated")? & 0x80 != 0 {
            return Err("QPACK: a Huffman-coded value".into());
        }
        let n = get_prefixed(buf, &mut pos, 7)?;
        let value = buf.get(pos..pos + n).ok_or("QPACK: truncated")?.to_vec();
        pos += n;
        fields.push((name, value));
    }
    Ok(fields)
}

/// Opens this side's control stream with its SETTINGS (RFC 9114 §6.2.1,
/// §7.2.4): "Each side MUST initiate a single control stream at the
/// beginning of the connection and send its SETTINGS frame as the first
/// frame on this stream." It must stay open: the caller keeps it.
async fn open_control(
    quic: &quinn::Connection,
    settings: &[(u64, u64)],
) -> Result<SendStream, Error> {
    let mut control = quic.open_uni().await?;
    let mut payload = Vec::new();
    for &(id, value) in settings {
        put_varint(&mut payload, id);
        put_varint(&mut payload, value);
    }
    let mut bytes = Vec::new();
    put_varint(&mut bytes, STREAM_CONTROL);
    bytes.extend_from_slice(&frame(FRAME_SETTINGS, &payload));
    control.write_all(&bytes).await?;
    Ok(control)
}

/// Accepts the peer's control stream and reads its SETTINGS: whether it
/// carried `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`. Returns the stream,
/// which the peer keeps open.
async fn peer_settings(quic: &quinn::Connection) -> Result<(ExtendedConnect, RecvStream), Error> {
    let mut control = Frames::new(quic.accept_uni().await?);
    let ty = control.varint().await?;
    if ty != STREAM_CONTROL {
        return Err(format!("unidirectional stream of type {ty:#x}, not control").into());
    }
    let (ty, payload) = control
        .frame(MAX_HEADERS)
        .await?
        .ok_or("control stream ended")?;
    if ty != FRAME_SETTINGS {
        return Err("the control stream's first frame is not SETTINGS".into());
    }
    let mut enabled = ExtendedConnect::NotEnabled;
    let mut rest = &payload[..];
    while !rest.is_empty() {
        let (id, n) = get_varint(rest).ok_or("truncated SETTINGS")?;
        let (value, m) = get_varint(&rest[n..]).ok_or("truncated SETTINGS")?;
        rest = &rest[n + m..];
        if id == SETTINGS_ENABLE_CONNECT_PROTOCOL && value == 1 {
            enabled = ExtendedConnect::Enabled;
        }
    }
    Ok((enabled, control.recv))
}

/// The frames of a stream as they arrive.
struct Frames {
    recv: RecvStream,
    buf: Vec<u8>,
    /// Bytes of the current DATA frame's payload not yet read.
    data_left: u64,
}

/// What reading a request stream's DATA gave.
enum Read {
    /// Bytes for the connection.
    Data,
    /// The peer's FIN: the orderly end of the transport (RFC 9220 §3).
    Fin,
    /// The peer reset the stream with this code: `H3_REQUEST_CANCELLED` is
    /// the abrupt end of the transport (RFC 9220 §3).
    Reset(VarInt),
}

impl Frames {
    fn new(recv: RecvStream) -> Self {
        Self {
            recv,
            buf: Vec::new(),
            data_left: 0,
        }
    }

    /// Reads more bytes into `buf`; false at the end of the stream.
    async fn more(&mut self) -> Result<bool, Error> {
        match self.recv.read_chunk(usize::MAX, true).await? {
            Some(chunk) => {
                self.buf.extend_from_slice(&chunk.bytes);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn varint(&mut self) -> Result<u64, Error> {
        loop {
            if let Some((v, n)) = get_varint(&self.buf) {
                self.buf.drain(..n);
                return Ok(v);
            }
            if !self.more().await? {
                return Err("stream ended inside a frame".into());
            }
        }
    }

    /// A whole frame of at most `max` bytes; `None` at the end of the
    /// stream between frames.
    async fn frame(&mut self, max: usize) -> Result<Option<(u64, Vec<u8>)>, Error> {
        if self.buf.is_empty() && !self.more().await? {
            return Ok(None);
        }
        let ty = self.varint().await?;
        let len = usize::try_from(self.varint().await?)?;
        if len > max {
            return Err(format!("frame of {len} bytes").into());
        }
        while self.buf.len() < len {
            if !self.more().await? {
                return Err("stream ended inside a frame".into());
            }
        }
        Ok(Some((ty, self.buf.drain(..len).collect())))
    }

    /// The HEADERS frame that opens a request or a response, decoded.
    async fn headers(&mut self) -> Result<Fields, Error> {
        match self.frame(MAX_HEADERS).await? {
            Some((FRAME_HEADERS, section)) => qpack_decode(&section),
            Some((ty, _)) => Err(format!("frame {ty:#x} before HEADERS").into()),
            None => Err("stream ended before HEADERS".into()),
        }
    }

    /// Gives the connection the next bytes of DATA payload, as they arrive
    /// (a DATA frame need not be here whole).
    async fn data(&mut self, conn: &mut Connection) -> Result<Read, Error> {
        loop {
            if self.data_left > 0 && !self.buf.is_empty() {
                let n = self
                    .buf
                    .len()
                    .min(usize::try_from(self.data_left).unwrap_or(usize::MAX));
                conn.receive(&self.buf[..n]);
                self.buf.drain(..n);
                self.data_left -= n as u64;
                return Ok(Read::Data);
            }
            // The next frame's header, once all here.
            if self.data_left == 0
                && let Some((ty, a)) = get_varint(&self.buf)
                && let Some((len, b)) = get_varint(&self.buf[a..])
            {
                if ty != FRAME_DATA {
                    return Err(format!("frame {ty:#x} among DATA").into());
                }
                self.buf.drain(..a + b);
                self.data_left = len;
                continue;
            }
            match self.recv.read_chunk(usize::MAX, true).await {
                Ok(Some(chunk)) => self.buf.extend_from_slice(&chunk.bytes),
                Ok(None) if self.buf.is_empty() && self.data_left == 0 => return Ok(Read::Fin),
                Ok(None) => return Err("stream ended inside a DATA frame".into()),
                Err(quinn::ReadError::Reset(code)) => return Ok(Read::Reset(code)),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The sending half of a request stream after its HEADERS, written by a
/// task of its own: a side whose writes wait for the peer's flow-control
/// credit goes on reading, so the peer, reading too, grants it.
struct Writer {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    task: JoinHandle<Result<SendStream, Error>>,
}

impl Writer {
    fn new(mut send: SendStream) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let task = tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                send.write_all(&bytes).await?;
            }
            Ok(send)
        });
        Self { tx, task }
    }

    /// Sends what the connection queued as one DATA frame.
    fn data(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        if !out.is_empty() {
            self.tx.send(frame(FRAME_DATA, out))?;
            out.clear();
        }
        Ok(())
    }

    /// Everything queued written, then the FIN: the orderly end of the
    /// transport (RFC 9220 §3).
    async fn finish(self) -> Result<SendStream, Error> {
        drop(self.tx);
        let mut send = self.task.await??;
        send.finish()?;
        Ok(send)
    }
}

/// Reads the stream into the connection: DATA is `receive`, the peer's FIN
/// or `H3_REQUEST_CANCELLED` is `receive_eof` (RFC 9220 §3).
async fn read(conn: &mut Connection, frames: &mut Frames) -> Result<(), Error> {
    match frames.data(conn).await? {
        Read::Data => {}
        Read::Fin => conn.receive_eof(),
        Read::Reset(code) => {
            if code != VarInt::from_u32(H3_REQUEST_CANCELLED) {
                eprintln!("stream reset with {code}");
            }
            conn.receive_eof();
        }
    }
    Ok(())
}

fn as_strs(fields: &Fields) -> Vec<(&[u8], &[u8])> {
    fields.iter().map(|(n, v)| (&n[..], &v[..])).collect()
}

// ---------------------------------------------------------------- server

async fn serve(quic: quinn::Connection, config: Config) -> Result<(), Error> {
    // Advertised because this server's WebSocket handler is reachable over
    // HTTP/3: browsers take the setting as that promise.
    let _control = open_control(&quic, &[(SETTINGS_ENABLE_CONNECT_PROTOCOL, 1)]).await?;
    let (_, _peer_control) = peer_settings(&quic).await?;
    let (mut send, recv) = quic.accept_bi().await?;
    let mut frames = Frames::new(recv);
    let fields = frames.headers().await?;
    let fields = as_strs(&fields);

    let request = match h3::validate_request(&fields, ExtendedConnect::Enabled) {
        Ok(request) => request,
        // RFC 9114 §4.1.2: a malformed request is a stream error of type
        // H3_MESSAGE_ERROR.
        Err(e) if e.is_malformed() => {
            send.reset(VarInt::from_u32(H3_MESSAGE_ERROR))?;
            frames.recv.stop(VarInt::from_u32(H3_MESSAGE_ERROR))?;
            return Err(format!("malformed request: {e}").into());
        }
        Err(e) => {
            let status = e.status().unwrap_or(400).to_string();
            let mut response = vec![(":status", status.as_str())];
            response.extend(e.response_headers());
            send.write_all(&frame(FRAME_HEADERS, &qpack_encode(response.into_iter())))
                .await?;
            send.finish()?;
            return Err(format!("refused the request: {e}").into());
        }
    };
    let accept = match request.request().subprotocols().find(|p| *p == "echo") {
        Some(p) => Accept::new().subprotocol(p),
        None => Accept::new(),
    };
    let accepted = request.accept(&accept, &config)?;
    let status = accepted.status().to_string();
    let fields = [(":status", status.as_str())]
        .into_iter()
        .chain(accepted.headers());
    send.write_all(&frame(FRAME_HEADERS, &qpack_encode(fields)))
        .await?;
    let send = Writer::new(send);
    let mut conn = Connection::new_open_with_deflate(Role::Server, config, accepted.deflate());

    let mut out = Vec::new();
    loop {
        loop {
            match conn.poll_event(&mut out) {
                Polled::Failed(e) => {
                    // The Close that fails the connection is in `out`.
                    send.data(&mut out)?;
                    send.finish().await?;
                    return Err(format!("server: {e}").into());
                }
                Polled::Event(Event::Text(t), tx) => tx.send(Message::Text(t), &mut out)?,
                Polled::Event(Event::Binary(b), tx) => tx.send(Message::Binary(b), &mut out)?,
                Polled::Event(_, _) => {}
                Polled::NeedMore => break,
                Polled::Done => {
                    // The server finishes the stream first (RFC 6455
                    // §7.1.1): its FIN is the end of the transport.
                    send.data(&mut out)?;
                    send.finish().await?;
                    // The client's FIN, then the client closes QUIC.
                    while let Read::Data = frames.data(&mut conn).await? {}
                    quic.closed().await;
                    return Ok(());
                }
            }
        }
        send.data(&mut out)?;
        read(&mut conn, &mut frames).await?;
    }
}

// ---------------------------------------------------------------- client

async fn run_client(quic: &quinn::Connection, config: Config) -> Result<(usize, CloseCode), Error> {
    let _control = open_control(quic, &[]).await?;
    // "Upon receipt of SETTINGS_ENABLE_CONNECT_PROTOCOL with a value of 1,
    // a client MAY use the Extended CONNECT" (RFC 8441 §3, RFC 9220 §3):
    // the server's SETTINGS first.
    let (setting, _peer_control) = peer_settings(quic).await?;

    let target = ClientRequest::new("localhost", "/echo").subprotocols(&["echo"]);
    let connect = h3::connect(&target, Scheme::Https, setting, &config)?;
    let (mut send, recv) = quic.open_bi().await?;
    send.write_all(&frame(FRAME_HEADERS, &qpack_encode(connect.headers())))
        .await?;
    let mut frames = Frames::new(recv);
    let fields = frames.headers().await?;
    let fields = as_strs(&fields);
    let accepted = match connect.validate_response(&fields) {
        Ok(accepted) => accepted,
        Err(e) => {
            // Malformed: H3_MESSAGE_ERROR; refused: cancel the request.
            let code = if e.is_malformed() {
                H3_MESSAGE_ERROR
            } else {
                H3_REQUEST_CANCELLED
            };
            send.reset(VarInt::from_u32(code))?;
            frames.recv.stop(VarInt::from_u32(code))?;
            return Err(format!("response: {e}").into());
        }
    };
    if accepted.status() != 200 || accepted.subprotocol() != Some("echo") {
        return Err(format!(
            "unexpected acceptance: {}, {:?}",
            accepted.status(),
            accepted.subprotocol()
        )
        .into());
    }
    if accepted.deflate().is_some() != config.deflate().is_some() {
        return Err("permessage-deflate not negotiated as configured".into());
    }
    let send = Writer::new(send);
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
    send.data(&mut out)?;

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
                    // The server's FIN came: finish ours.
                    send.data(&mut out)?;
                    // Until the server read it all.
                    send.finish().await?.stopped().await?;
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
        send.data(&mut out)?;
        read(&mut conn, &mut frames).await?;
    }
}
