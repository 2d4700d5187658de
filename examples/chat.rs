//! A chat room you can open in a browser: one port serves the page over
//! plain HTTP and the room over WebSocket.
//!
//! ```text
//! cargo run --example chat [ADDR]        # default 127.0.0.1:8080
//! ```
//!
//! then open `http://ADDR/` in two browser tabs. Ctrl-C closes every client
//! with 1001 (going away) and exits once they are gone (5 s at most).
//!
//! The protocol, `chat.v1` (required: a client that does not offer it is
//! refused with `400`): the first text message a client sends is its name,
//! every later one a line for the room. The server sends JSON objects:
//! `{"type":"join","name":..,"online":N}`, `{"type":"msg","name":..,"text":..}`,
//! `{"type":"leave","name":..,"code":N,"online":N}`.
//!
//! The patterns to copy:
//!
//! * **Routing one port between HTTP and WebSocket.** We read the request
//!   head ourselves (until the empty line, at most 16 KiB) and look only at
//!   its request line: `/chat` goes to a [`Connection::server`] with every
//!   byte read so far, and wstate parses and checks the whole request (a
//!   plain `GET /chat` without `Upgrade` is answered `400` by wstate, a
//!   wrong version `426`, ...). `GET /` gets the page, other paths `404`.
//!   A head we cannot make sense of also goes to wstate, which answers it
//!   with the right error (`400`, `414`, `431`).
//! * **Sending from another task.** A connection is owned by one task; the
//!   room reaches it through a bounded channel. The task waits on all of
//!   its sources at once (what `tokio::select!` does; here one `poll_fn`,
//!   so tokio needs no `macros` feature): its socket (readable, and
//!   writable while bytes are queued), its inbound channel, the shutdown
//!   signal and the connection's next deadline, and handles every one that
//!   is ready.
//! * **A slow client cannot slow the room.** Writes never block the task:
//!   unwritten bytes stay in `out`, bounded by `Config::max_pending_output`.
//!   A broadcast that would go past the bound fails with
//!   `SendError::Backpressure`, and a client whose channel is full (its task
//!   is behind) is dropped from the room: both are closed with 1008.
//! * **Timers.** `handle_timeout` after every wake-up, `poll_timeout` for
//!   the next one: keepalive Pings (a vanished client is failed with 1011),
//!   the handshake timeout and the close timeout.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, watch};
use tokio::time::{Duration, Instant, sleep_until, timeout};
use wstate::{Accept, CloseCode, Config, Connection, Event, Keepalive, Message, Polled, SendError};

/// The page, served at `/`.
const PAGE: &str = include_str!("chat.html");
const SUBPROTOCOL: &str = "chat.v1";
/// Longest request head we read before routing (wstate's default limit).
const MAX_HEAD: usize = 16 << 10;
/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest chat line (a longer message fails the client with 1009).
const MAX_MESSAGE: usize = 4 << 10;
/// Messages queued for a client's task before it counts as too slow.
const CHANNEL: usize = 64;
/// Bytes queued for a client's socket before it counts as too slow.
const MAX_PENDING: usize = 256 << 10;
/// How long a closing handshake (ours or the peer's) may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(4);
/// How long Ctrl-C waits for the clients to close before exiting anyway.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

const USAGE: &str = "\
usage: chat [ADDR]

A chat room served over HTTP and WebSocket on one port (default
127.0.0.1:8080): open http://ADDR/ in a browser. The WebSocket endpoint
is ws://ADDR/chat with the subprotocol chat.v1. Ctrl-C closes every client
with 1001 and exits.";

fn main() {
    let mut addr = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            "--" => {}
            a if a.starts_with('-') || addr.is_some() => {
                eprintln!("error: unexpected argument {a}\n\n{USAGE}");
                std::process::exit(2);
            }
            _ => addr = Some(arg),
        }
    }
    let addr = addr.unwrap_or_else(|| "127.0.0.1:8080".into());
    // What `#[tokio::main]` does, without tokio's `macros` feature.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let listener = match runtime.block_on(TcpListener::bind(&addr)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = runtime.block_on(run(listener)) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    // Dropping the runtime ends any connection still open.
}

/// Accepts connections until Ctrl-C, then closes them all with 1001.
async fn run(listener: TcpListener) -> io::Result<()> {
    let room = Arc::new(Room::default());
    // Ctrl-C flips this to `true`. Every connection task holds a receiver:
    // `closed()` resolves once the last one ended.
    let (stop_tx, _) = watch::channel(false);
    // Polled once before the address is printed: the handler is installed,
    // no Ctrl-C is missed.
    let mut ctrl_c = pin!(tokio::signal::ctrl_c());
    if let Poll::Ready(r) = poll_fn(|cx| Poll::Ready(ctrl_c.as_mut().poll(cx))).await {
        return r;
    }
    let local = listener.local_addr()?;
    println!("chat on http://{local}/ (WebSocket ws://{local}/chat, subprotocol {SUBPROTOCOL})");
    loop {
        let accepted = poll_fn(|cx| {
            if ctrl_c.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            listener.poll_accept(cx).map(Some)
        })
        .await;
        let (stream, peer) = match accepted {
            None => break,
            Some(Ok(accepted)) => accepted,
            // Out of file descriptors and the like: the listener goes on.
            Some(Err(e)) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let (room, stop) = (room.clone(), stop_tx.subscribe());
        tokio::spawn(async move {
            if let Err(e) = serve(stream, peer, room, stop).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
    drop(listener);
    println!(
        "shutting down: closing {} client(s) with 1001",
        room.online()
    );
    let _ = stop_tx.send(true);
    // Each client answers our 1001 or is dropped CLOSE_TIMEOUT after it.
    if timeout(SHUTDOWN_WAIT, stop_tx.closed()).await.is_err() {
        let open = stop_tx.receiver_count();
        println!("gave up on {open} connection(s) after {SHUTDOWN_WAIT:?}");
    }
    println!("bye");
    Ok(())
}

// ---------------------------------------------------------------- the room

/// Everyone who has joined: a bounded channel into each client's task.
#[derive(Default)]
struct Room {
    members: Mutex<HashMap<u64, mpsc::Sender<Arc<str>>>>,
    next_id: AtomicU64,
}

impl Room {
    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn online(&self) -> usize {
        self.members.lock().unwrap().len()
    }

    fn join(&self, id: u64) -> mpsc::Receiver<Arc<str>> {
        let (tx, rx) = mpsc::channel(CHANNEL);
        self.members.lock().unwrap().insert(id, tx);
        rx
    }

    fn leave(&self, id: u64) {
        self.members.lock().unwrap().remove(&id);
    }

    /// Queues `json` for every member, never waiting: a member whose
    /// channel is full is dropped from the room. Dropping its `Sender`
    /// ends its channel, and its task closes it with 1008.
    fn broadcast(&self, json: &str) {
        let json: Arc<str> = json.into();
        self.members.lock().unwrap().retain(|_, tx| {
            !matches!(
                tx.try_send(json.clone()),
                Err(mpsc::error::TrySendError::Full(_))
            )
        });
    }
}

// ---------------------------------------------------------------- routing

/// Reads the request head and routes it: the page, a 404, or the chat.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    room: Arc<Room>,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut head = Vec::with_capacity(1024);
    // Bounded: a client that sends nothing (browsers open spare
    // connections) is dropped after 10 s, or at once on Ctrl-C.
    let got = {
        let mut read = pin!(timeout(HEAD_TIMEOUT, read_head(&stream, &mut head)));
        let mut stopped = pin!(shutdown.wait_for(|stop| *stop));
        poll_fn(|cx| {
            if let Poll::Ready(r) = read.as_mut().poll(cx) {
                return Poll::Ready(r.ok());
            }
            stopped.as_mut().poll(cx).map(|_| None)
        })
        .await
    };
    match got {
        Some(r) => r?,
        None => return Ok(()),
    }
    if head.is_empty() {
        return Ok(());
    }
    match request_line(&head) {
        Some((_, "/chat")) | None => chat(stream, peer, head, room, shutdown).await,
        Some((method @ ("GET" | "HEAD"), "/")) => {
            let head_only = method == "HEAD";
            respond(
                stream,
                "200 OK",
                "text/html; charset=utf-8",
                PAGE,
                head_only,
            )
            .await
        }
        Some((_, "/")) => respond(stream, "405 Method Not Allowed", "text/plain", "", false).await,
        Some(_) => respond(stream, "404 Not Found", "text/plain", "not found\n", false).await,
    }
}

/// Reads until the end of the request head (the empty line), `MAX_HEAD`
/// bytes or the end of stream. Bytes after the head (frames from an eager
/// client) stay in `head` too: the connection gets them all.
async fn read_head(stream: &TcpStream, head: &mut Vec<u8>) -> io::Result<()> {
    let mut buf = [0; 4096];
    while head.len() < MAX_HEAD && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        stream.readable().await?;
        match stream.try_read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The method and path of a complete request head, if it has one we can
/// read: `GET /chat?x=1 HTTP/1.1` gives `("GET", "/chat")`.
fn request_line(head: &[u8]) -> Option<(&str, &str)> {
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let line = head[..end].split(|&b| b == b'\r').next()?;
    let mut parts = std::str::from_utf8(line).ok()?.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !version.starts_with("HTTP/1.") {
        return None;
    }
    Some((method, target.split('?').next()?))
}

/// A plain HTTP response (headers only for `HEAD`); the connection closes
/// after it.
async fn respond(
    mut stream: TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
    head_only: bool,
) -> io::Result<()> {
    let len = body.len();
    let body = if head_only { "" } else { body };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}"
    );
    timeout(
        Duration::from_secs(10),
        stream.write_all(response.as_bytes()),
    )
    .await
    .map_err(|_| io::ErrorKind::TimedOut)??;
    stream.shutdown().await
}

// ---------------------------------------------------------------- one client

/// One chat client, from its upgrade request to the end.
struct Client {
    id: u64,
    peer: SocketAddr,
    room: Arc<Room>,
    /// Set by the client's first message.
    name: Option<String>,
    /// What the room sends us; `None` before joining and after leaving.
    inbox: Option<mpsc::Receiver<Arc<str>>>,
    /// The leave notice went out (or the client never joined).
    left: bool,
    shutting_down: bool,
}

async fn chat(
    stream: TcpStream,
    peer: SocketAddr,
    head: Vec<u8>,
    room: Arc<Room>,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let config = Config::default()
        .with_max_message_size(MAX_MESSAGE)
        .with_max_frame_size(MAX_MESSAGE)
        .with_max_pending_output(Some(MAX_PENDING))
        // A Ping after 15 s of silence; no answer within 10 s: 1011.
        .with_keepalive(Some(Keepalive::new(
            Duration::from_secs(15),
            Duration::from_secs(10),
        )))
        .with_close_timeout(Some(CLOSE_TIMEOUT));
    let mut conn = Connection::server(config);
    let mut client = Client {
        id: room.id(),
        peer,
        room,
        name: None,
        inbox: None,
        left: false,
        shutting_down: false,
    };
    // Bytes for the socket. Never more than about MAX_PENDING: a slow
    // client is closed before it could grow further.
    let mut out = Vec::new();
    let mut buf = vec![0; 16 << 10];
    let mut eof = false;
    // The connection's clock starts now.
    let start = Instant::now();
    conn.receive(&head);
    drop(head);
    conn.handle_timeout(Duration::ZERO, &mut out);
    loop {
        if drain(&mut conn, &mut client, &mut out) {
            break;
        }
        // Write what the socket takes now; the rest waits for writability.
        flush(&stream, &mut conn, &mut out)?;
        // Wait for anything: bytes from the client, room in its socket for
        // ours, a message from the room, Ctrl-C, the next deadline.
        let deadline = conn.poll_timeout().map(|d| start + d);
        let wake = {
            let mut sleep = pin!(sleep_until(deadline.unwrap_or(start)));
            let mut stopped = pin!(shutdown.wait_for(|stop| *stop));
            let (out, inbox, going_away) = (&out, &mut client.inbox, client.shutting_down);
            poll_fn(|cx| {
                let wake = Wake {
                    read: !eof && stream.poll_read_ready(cx).is_ready(),
                    write: !out.is_empty() && stream.poll_write_ready(cx).is_ready(),
                    message: match inbox {
                        Some(rx) => match rx.poll_recv(cx) {
                            Poll::Ready(m) => Some(m.ok_or(TryRecvError::Disconnected)),
                            Poll::Pending => None,
                        },
                        None => None,
                    },
                    stop: !going_away && stopped.as_mut().poll(cx).is_ready(),
                    time: deadline.is_some() && sleep.as_mut().poll(cx).is_ready(),
                };
                let any = wake.read || wake.write || wake.message.is_some() || wake.stop;
                if any || wake.time {
                    Poll::Ready(wake)
                } else {
                    Poll::Pending
                }
            })
            .await
        };
        // Bytes from the client.
        if wake.read {
            match stream.try_read(&mut buf) {
                Ok(0) => eof = true,
                Ok(n) => conn.receive(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if gone(&e) => eof = true,
                Err(e) => return Err(e),
            }
            if eof {
                conn.receive_eof();
            }
        }
        // Messages from the room (other tasks' broadcasts): the first, then
        // all that are waiting, so the channel empties as fast as it fills.
        if let Some(mut next) = wake.message {
            loop {
                match next {
                    Ok(json) => match conn.sender().send(Message::Text(&json), &mut out) {
                        Ok(()) => {}
                        // The socket has not taken MAX_PENDING bytes.
                        Err(SendError::Backpressure) => client.kick(&mut conn, &mut out),
                        Err(_) => {} // closing already
                    },
                    Err(TryRecvError::Empty) => break,
                    // The room dropped us: our channel was full.
                    Err(TryRecvError::Disconnected) => {
                        client.kick(&mut conn, &mut out);
                        break;
                    }
                }
                let Some(rx) = client.inbox.as_mut() else {
                    break;
                };
                next = rx.try_recv();
            }
        }
        // Ctrl-C: going away.
        if wake.stop {
            client.shutting_down = true;
            match conn
                .sender()
                .close(CloseCode::GOING_AWAY, "server shutting down", &mut out)
            {
                Ok(()) => client.leave(CloseCode::GOING_AWAY, "server shutting down"),
                // Still in the opening handshake: just hang up.
                Err(SendError::NotOpen) => return Ok(()),
                // Closing already: finish that.
                Err(_) => {}
            }
        }
        // After every wake-up, the time: may queue a keepalive Ping, or the
        // Close of a timeout. (`wake.write` and `wake.time` need nothing
        // more: the flush and this call do it.)
        conn.handle_timeout(start.elapsed(), &mut out);
    }
    // Done: the last bytes (a Close reply, an HTTP error), then close TCP
    // (the server closes first, RFC 6455 §7.1.1).
    let code = conn
        .received_close()
        .or(conn.sent_close())
        .map_or(CloseCode::ABNORMAL, |c| c.code);
    client.leave(code, "");
    let mut stream = stream;
    if !out.is_empty() {
        let _ = timeout(Duration::from_secs(1), stream.write_all(&out)).await;
    }
    let _ = stream.shutdown().await;
    Ok(())
}

/// What woke a connection task; several at once are handled together.
struct Wake {
    read: bool,
    write: bool,
    message: Option<Result<Arc<str>, TryRecvError>>,
    stop: bool,
    time: bool,
}

/// Writes what the socket takes without waiting; keeps the rest in `out`.
/// A client that vanished is reported to the connection as end of stream.
fn flush(stream: &TcpStream, conn: &mut Connection, out: &mut Vec<u8>) -> io::Result<()> {
    while !out.is_empty() {
        match stream.try_write(out) {
            Ok(n) => {
                out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if gone(&e) => {
                out.clear();
                conn.receive_eof();
            }
            Err(e) => return Err(e),
        }
    }
    // A buffer grown by a backlog is freed once written.
    if out.capacity() > 64 << 10 {
        *out = Vec::new();
    }
    Ok(())
}

/// The client went away (reset, or its end closed while we wrote).
fn gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
}

/// Handles every event the bytes received so far produce. Returns whether
/// the connection is finished.
fn drain(conn: &mut Connection, client: &mut Client, out: &mut Vec<u8>) -> bool {
    loop {
        match conn.poll_event(out) {
            Polled::Event(Event::Request(request), tx) => {
                // Browsers always send Origin: take only our own page's
                // (against cross-site WebSocket hijacking).
                let own = |origin: &str| {
                    let host = request.host().unwrap_or("");
                    origin.strip_prefix("http://") == Some(host)
                };
                let answer = if request.path() != "/chat" {
                    tx.reject(404, &[], b"not found\n", out)
                } else if !request.origin().is_none_or(own) {
                    tx.reject(403, &[], b"cross-origin request refused\n", out)
                } else if request.subprotocols().any(|p| p == SUBPROTOCOL) {
                    tx.accept(&Accept::new().subprotocol(SUBPROTOCOL), out)
                } else {
                    tx.reject(
                        400,
                        &[],
                        b"this endpoint speaks the chat.v1 subprotocol\n",
                        out,
                    )
                };
                // Fails only if the client already left; Done follows.
                let _ = answer;
            }
            Polled::Event(Event::Text(text), tx) => match &client.name {
                Some(name) => {
                    let mut json = String::from(r#"{"type":"msg","name":"#);
                    push_json(&mut json, name);
                    json.push_str(r#","text":"#);
                    push_json(&mut json, text);
                    json.push('}');
                    client.room.broadcast(&json);
                }
                None => {
                    let name = text.trim();
                    if name.is_empty()
                        || name.chars().count() > 32
                        || name.contains(char::is_control)
                    {
                        let _ = tx.close(CloseCode::POLICY_VIOLATION, "bad name", out);
                        continue;
                    }
                    client.join(name);
                }
            },
            Polled::Event(Event::Binary(_), tx) => {
                let _ = tx.close(CloseCode::UNSUPPORTED_DATA, "text only", out);
                client.leave(CloseCode::UNSUPPORTED_DATA, "text only");
            }
            // The client's Close (our reply is queued), or 1006.
            Polled::Event(Event::Close(frame), _) => client.leave(frame.code, frame.reason()),
            // Ping (Pong queued) and Pong.
            Polled::Event(..) => {}
            Polled::NeedMore => return false,
            Polled::Done => return true,
            // The client broke the protocol or stopped answering Pings: the
            // Close (or HTTP error) is queued; the next poll says Done.
            Polled::Failed(e) => {
                if let Some(code) = e.close_code() {
                    client.leave(code, &e.to_string());
                }
            }
        }
    }
}

impl Client {
    fn join(&mut self, name: &str) {
        self.inbox = Some(self.room.join(self.id));
        let online = self.room.online();
        println!("join  {name} ({}), {online} online", self.peer);
        let mut json = String::from(r#"{"type":"join","name":"#);
        push_json(&mut json, name);
        let _ = write!(json, r#","online":{online}}}"#);
        self.room.broadcast(&json);
        self.name = Some(name.to_string());
    }

    /// Out of the room, with a notice to the others; once.
    fn leave(&mut self, code: CloseCode, reason: &str) {
        let Some(name) = self.name.as_deref() else {
            return;
        };
        if std::mem::replace(&mut self.left, true) {
            return;
        }
        self.room.leave(self.id);
        self.inbox = None;
        let online = self.room.online();
        match reason {
            "" => println!("leave {name} {code}, {online} online"),
            _ => println!("leave {name} {code} ({reason}), {online} online"),
        }
        if !self.shutting_down {
            let mut json = String::from(r#"{"type":"leave","name":"#);
            push_json(&mut json, name);
            let _ = write!(json, r#","code":{code},"online":{online}}}"#);
            self.room.broadcast(&json);
        }
    }

    /// Closes a client that cannot keep up with 1008: its Close goes out
    /// after what is queued (control frames are never refused).
    fn kick(&mut self, conn: &mut Connection, out: &mut Vec<u8>) {
        const WHY: &str = "too slow: messages were piling up";
        if conn
            .sender()
            .close(CloseCode::POLICY_VIOLATION, WHY, out)
            .is_ok()
        {
            self.leave(CloseCode::POLICY_VIOLATION, WHY);
        }
        self.inbox = None;
    }
}

/// Whatever way the task ends (an I/O error too), the room hears of it.
impl Drop for Client {
    fn drop(&mut self) {
        self.leave(CloseCode::ABNORMAL, "");
    }
}

/// Appends `s` as a JSON string.
fn push_json(json: &mut String, s: &str) {
    json.push('"');
    for c in s.chars() {
        match c {
            '"' => json.push_str("\\\""),
            '\\' => json.push_str("\\\\"),
            '\n' => json.push_str("\\n"),
            c if c < ' ' || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(json, "\\u{:04x}", c as u32);
            }
            c => json.push(c),
        }
    }
    json.push('"');
}
