//! A chat room you can open in a browser: an axum router serves the page at
//! `/` and the room at `/chat` on one port (404 elsewhere); with `--redis`,
//! several processes share the room through Redis pub/sub.
//!
//! ```text
//! cargo run -p wstate-tokio --features hyper --example chat -- [--redis URL] [ADDR]
//! ```
//!
//! then open `http://ADDR/` (default 127.0.0.1:8080) in two browser tabs.
//! Ctrl-C closes every client with 1001 (going away) and exits once they
//! are gone (5 s at most).
//!
//! The protocol, `chat.v1` (required: a client that does not offer it is
//! refused with `400`): the first text message a client sends is its name,
//! every later one a line for the room. The server sends JSON objects:
//! `{"type":"join","name":..,"online":N}`, `{"type":"msg","name":..,"text":..}`,
//! `{"type":"leave","name":..,"code":N,"online":N}` (`online` counts the
//! clients of the process the joining or leaving client is on), and with
//! `--redis` `{"type":"link","up":false}` when the link to Redis is lost (or
//! on joining while it is) and `{"type":"link","up":true}` when it is back.
//!
//! The patterns to copy:
//!
//! * **Upgrading from a router**: [`upgrade`] checks the request and returns
//!   the `101` for axum to send, and the WebSocket to await in a task.
//! * **One message built once for all its recipients.** The room frames
//!   each JSON line once as a [`PreparedMessage`] and hands every client's
//!   task the same one; the task copies its bytes to the socket
//!   ([`Writer::start_send_prepared`]) instead of framing the line again.
//!   These connections run uncompressed (the upgrade from a router does not
//!   negotiate permessage-deflate), so the frame is shared as it is; a
//!   connection that compressed with server_no_context_takeover would share
//!   a payload compressed once too (see [`PreparedMessage`]).
//! * **A slow client cannot slow the room.** The room gives each client's
//!   task its messages through a bounded channel and never waits: a client
//!   whose channel is full (its socket took nothing for `CHANNEL` messages)
//!   is dropped from the room, announced as left with 1008 and closed with
//!   1008. The task moves messages from its channel to the socket only as
//!   fast as the socket takes them (`Sink::poll_ready`), so that neither
//!   the room nor the socket's output grows without bound.
//! * **Rooms across processes.** Each process hands its own clients'
//!   messages to them directly and publishes them on one Redis channel,
//!   tagged with the process's id; what comes back from Redis with another
//!   id goes to its clients. So every message reaches every client once, in
//!   the order its sender sent it. If Redis goes away, the clients get the
//!   `link` notice, the room goes on within each process (nothing sent
//!   meanwhile crosses to the others), and the process connects again every
//!   second, then tells its clients the link is back.

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::CACHE_CONTROL;
use axum::response::{Html, Response};
use axum::routing::{any, get};
use futures_core::Stream;
use futures_sink::Sink;
use serde_json::json;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::timeout;
use wstate::{Accept, Config, Keepalive, PreparedMessage};
use wstate_tokio::upgrade::{UpgradeError, UpgradedStream, upgrade};
use wstate_tokio::{CloseCode, CloseFrame, Error, Message, Options, Utf8Bytes, WebSocket, Writer};

/// The page, served at `/`.
const PAGE: &str = include_str!("chat.html");
const SUBPROTOCOL: &str = "chat.v1";
/// Longest chat line (a longer message fails the client with 1009).
const MAX_MESSAGE: usize = 4 << 10;
/// Messages queued for a client before it counts as too slow.
const CHANNEL: usize = 256;
/// How long a closing handshake (ours or the peer's) may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(4);
/// How long Ctrl-C waits for the clients to close before exiting anyway.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);
/// The Redis channel the processes share, and how often a lost link is
/// tried again.
const REDIS_CHANNEL: &str = "wstate-chat";
const REDIS_RETRY: Duration = Duration::from_secs(1);
const TOO_SLOW: &str = "too slow: messages were piling up";

const USAGE: &str = "\
usage: chat [--redis URL] [ADDR]

A chat room served over HTTP and WebSocket on one port (default
127.0.0.1:8080): open http://ADDR/ in a browser. The WebSocket endpoint
is ws://ADDR/chat with the subprotocol chat.v1. With --redis
redis://HOST:PORT, every chat process given the same Redis shares one
room. Ctrl-C closes every client with 1001 and exits.";

#[derive(Clone)]
struct App {
    room: Arc<Room>,
    /// Ctrl-C sets it; every client task holds a receiver.
    stop: Arc<watch::Sender<bool>>,
    options: Options,
}

#[tokio::main]
async fn main() {
    let (addr, redis) = args();
    let redis = redis.map(|url| redis::Client::open(url.as_str()).unwrap_or_else(|e| usage(&e)));
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .unwrap_or_else(|e| usage(&e));
    // Installed before the address is printed: no Ctrl-C is missed.
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    if poll_fn(|cx| Poll::Ready(ctrl_c.as_mut().poll(cx).is_ready())).await {
        return;
    }
    let (bridge, outbox) = mpsc::channel(1024);
    let room = Arc::new(Room {
        members: Mutex::default(),
        next_id: AtomicU64::new(0),
        origin: RandomState::new().hash_one(std::process::id()),
        bridge: redis.is_some().then_some(bridge),
        link_up: AtomicBool::new(false),
    });
    if let Some(client) = redis {
        tokio::spawn(run_bridge(client, room.clone(), outbox));
    }
    let config = Config::default()
        .with_max_message_size(MAX_MESSAGE)
        .with_max_frame_size(MAX_MESSAGE)
        // A Ping after 15 s of silence; no answer within 10 s: 1011.
        .with_keepalive(Some(Keepalive::new(
            Duration::from_secs(15),
            Duration::from_secs(10),
        )))
        .with_close_timeout(Some(CLOSE_TIMEOUT));
    let app = App {
        room: room.clone(),
        stop: Arc::new(watch::channel(false).0),
        options: Options::default().config(config),
    };
    let stop = app.stop.clone();
    let router = Router::new()
        .route(
            "/",
            get(|| async { ([(CACHE_CONTROL, "no-store")], Html(PAGE)) }),
        )
        .route("/chat", any(chat))
        .with_state(app);
    let local = listener.local_addr().unwrap_or_else(|e| usage(&e));
    println!("chat on http://{local}/ (WebSocket ws://{local}/chat, subprotocol {SUBPROTOCOL})");
    let serve = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    );
    tokio::select! {
        Err(e) = serve.into_future() => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
        _ = ctrl_c => {}
    }
    // The listener is closed; each client answers our 1001 or is dropped
    // CLOSE_TIMEOUT after it.
    println!(
        "shutting down: closing {} client(s) with 1001",
        room.online()
    );
    stop.send_replace(true);
    if timeout(SHUTDOWN_WAIT, stop.closed()).await.is_err() {
        let open = stop.receiver_count();
        println!("gave up on {open} connection(s) after {SHUTDOWN_WAIT:?}");
    }
    println!("bye");
}

fn args() -> (String, Option<String>) {
    let (mut addr, mut redis) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            "--redis" => redis = Some(args.next().unwrap_or_else(|| usage(&"--redis needs a URL"))),
            a if a.starts_with('-') || addr.is_some() => usage(&format!("unexpected argument {a}")),
            _ => addr = Some(arg),
        }
    }
    (addr.unwrap_or_else(|| "127.0.0.1:8080".into()), redis)
}

fn usage(e: &dyn std::fmt::Display) -> ! {
    eprintln!("error: {e}\n\n{USAGE}");
    std::process::exit(2)
}

/// `/chat`: the upgrade, then the client's task.
async fn chat(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
) -> Response {
    let accepted = upgrade(&mut request, &app.options, |request| {
        // Browsers always send Origin: take only our own page's (against
        // cross-site WebSocket hijacking).
        let own = |origin: &str| origin.strip_prefix("http://") == request.host();
        if !request.origin().is_none_or(own) {
            Err(UpgradeError::refuse(403, "cross-origin request refused\n"))
        } else if request.subprotocols().any(|p| p == SUBPROTOCOL) {
            Ok(Accept::new().subprotocol(SUBPROTOCOL))
        } else {
            let why = "this endpoint speaks the chat.v1 subprotocol\n";
            Err(UpgradeError::refuse(400, why))
        }
    });
    let (response, upgrading): (Response, _) = match accepted {
        Ok(accepted) => accepted,
        Err(refusal) => return refusal.response(),
    };
    let stop = app.stop.subscribe();
    tokio::spawn(async move {
        match upgrading.await {
            Ok(ws) => client(ws, peer, app.room, stop).await,
            Err(e) => eprintln!("{peer}: {e}"),
        }
    });
    response
}

// ---------------------------------------------------------------- a client

/// One client, from the upgrade to the end.
async fn client(
    ws: WebSocket<UpgradedStream>,
    peer: SocketAddr,
    room: Arc<Room>,
    mut stop: watch::Receiver<bool>,
) {
    let (mut rx, mut tx) = ws.split();
    let (invite, mut inbox) = mpsc::channel(CHANNEL);
    let mut invite = Some(invite);
    let kicked = Arc::new(Notify::new());
    // Our id and name in the room, once joined.
    let mut me: Option<(u64, Arc<str>)> = None;
    let (mut pending, mut writable) = (None, true);
    // How it ended, and whether our Close is still to be sent.
    let ours = |code, why: &str| (code, why.to_string(), true);
    let (code, reason, close) = loop {
        tokio::select! {
            _ = stopped(&mut stop) => break ours(CloseCode::GOING_AWAY, "server shutting down"),
            _ = kicked.notified() => break ours(CloseCode::POLICY_VIOLATION, TOO_SLOW),
            sent = pump(&mut tx, &mut inbox, &mut pending), if writable => match sent {
                // The room let go of us.
                Ok(()) => break ours(CloseCode::POLICY_VIOLATION, TOO_SLOW),
                // The connection ended: the reader says how.
                Err(_) => writable = false,
            },
            message = rx.recv() => match message {
                Some(Ok(Message::Text(text))) => match (&me, invite.take()) {
                    (Some((_, name)), _) => {
                        room.say(name, &text);
                        // A burst of lines in one read: the others' tasks
                        // get their turn to take each line.
                        tokio::task::yield_now().await;
                    }
                    (None, Some(inbox)) => {
                        let name = text.trim();
                        let bad = name.is_empty() || name.chars().count() > 32;
                        if bad || name.contains(char::is_control) {
                            break ours(CloseCode::POLICY_VIOLATION, "bad name");
                        }
                        me = Some(room.join(name, peer, inbox, kicked.clone()));
                    }
                    (None, None) => {}
                },
                Some(Ok(Message::Binary(_))) => {
                    break ours(CloseCode::UNSUPPORTED_DATA, "text only");
                }
                // The client's Close (answered already), or 1006.
                Some(Ok(Message::Close(frame))) => {
                    let frame = frame.unwrap_or(CloseFrame::new(CloseCode::ABNORMAL));
                    break (frame.code, frame.reason().into(), false);
                }
                Some(Ok(_)) => {} // Ping (answered already) and Pong
                // A protocol error (our Close went out), a transport error.
                Some(Err(e)) => {
                    let code = e.close_code().unwrap_or(CloseCode::ABNORMAL);
                    break (code, e.to_string(), false);
                }
                None => break (CloseCode::ABNORMAL, String::new(), false),
            },
        }
    };
    if let Some((id, _)) = me {
        // Everyone is leaving: the room is not told of each.
        room.leave(id, code, &reason, code != CloseCode::GOING_AWAY);
    }
    if close {
        // Our Close after what is queued, then the client's answer.
        let _ = timeout(CLOSE_TIMEOUT, async {
            if tx.close(code, &reason).await.is_ok() {
                while rx.recv().await.is_some() {}
            }
        })
        .await;
    }
}

/// Ctrl-C was pressed.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Moves the room's messages to the socket only as fast as it takes them,
/// losing none if dropped (a `select!` branch that lost): a message taken
/// from the inbox waits in `pending` until the writer has room. Returns
/// `Ok` once the room let go of us, `Err` once the connection ended.
async fn pump(
    tx: &mut Writer<UpgradedStream>,
    inbox: &mut mpsc::Receiver<Shared>,
    pending: &mut Option<Shared>,
) -> Result<(), Error> {
    let mut tx = Pin::new(tx);
    poll_fn(|cx| {
        loop {
            if pending.is_none() {
                match inbox.poll_recv(cx) {
                    Poll::Ready(Some(message)) => *pending = Some(message),
                    Poll::Ready(None) => return Poll::Ready(Ok(())),
                    Poll::Pending => {
                        ready!(tx.as_mut().poll_flush(cx))?;
                        return Poll::Pending;
                    }
                }
            }
            ready!(tx.as_mut().poll_ready(cx))?;
            if let Some(message) = pending.take() {
                tx.start_send_prepared(&message)?;
            }
        }
    })
    .await
}

// ---------------------------------------------------------------- the room

/// Everyone who has joined, in this process.
struct Room {
    members: Mutex<HashMap<u64, Member>>,
    next_id: AtomicU64,
    /// This process's tag on what it publishes to Redis.
    origin: u64,
    /// To the Redis bridge (with `--redis`), used while the link is up.
    bridge: Option<mpsc::Sender<Utf8Bytes>>,
    link_up: AtomicBool,
}

/// A member's name, inbox, and the bell that says it was dropped.
type Member = (Arc<str>, mpsc::Sender<Shared>, Arc<Notify>);

/// A message as the room hands it to each client's task: built once.
type Shared = Arc<PreparedMessage>;

/// Frames a JSON line once for every client that gets it.
fn prepare(json: &str) -> Shared {
    Arc::new(PreparedMessage::new(wstate::Message::Text(json)))
}

impl Room {
    fn online(&self) -> usize {
        self.members.lock().unwrap().len()
    }

    fn join(
        &self,
        name: &str,
        peer: SocketAddr,
        inbox: mpsc::Sender<Shared>,
        kicked: Arc<Notify>,
    ) -> (u64, Arc<str>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let name: Arc<str> = name.into();
        if self.bridge.is_some() && !self.link_up.load(Ordering::Acquire) {
            // Joining while the link is down: told at once.
            let _ = inbox.try_send(prepare(&json!({"type": "link", "up": false}).to_string()));
        }
        let online = {
            let mut members = self.members.lock().unwrap();
            members.insert(id, (name.clone(), inbox, kicked));
            members.len()
        };
        println!("join  {name} ({peer}), {online} online");
        self.publish(json!({"type": "join", "name": *name, "online": online}));
        (id, name)
    }

    /// Out of the room, with a notice to all when `announce`; nothing if
    /// dropped already.
    fn leave(&self, id: u64, code: CloseCode, reason: &str, announce: bool) {
        let (name, online) = {
            let mut members = self.members.lock().unwrap();
            let Some((name, ..)) = members.remove(&id) else {
                return;
            };
            (name, members.len())
        };
        match reason {
            "" => println!("leave {name} {code}, {online} online"),
            why => println!("leave {name} {code} ({why}), {online} online"),
        }
        if announce {
            let code = u16::from(code);
            self.publish(json!({"type": "leave", "name": *name, "code": code, "online": online}));
        }
    }

    fn say(&self, name: &str, text: &str) {
        self.publish(json!({"type": "msg", "name": name, "text": text}));
    }

    /// To every client here and, while the link is up, every other process.
    fn publish(&self, json: serde_json::Value) {
        let json = Utf8Bytes::from(json.to_string());
        if let Some(bridge) = &self.bridge
            && self.link_up.load(Ordering::Acquire)
            && bridge.try_send(json.clone()).is_err()
        {
            eprintln!("redis: a message stayed local (the link is behind)");
        }
        self.deliver(&json);
    }

    /// To every client of this process, framed once, never waiting: a
    /// client whose inbox is full is dropped from the room and kicked, and
    /// all are told.
    fn deliver(&self, json: &str) {
        let message = prepare(json);
        let slow: Vec<u64> = (self.members.lock().unwrap().iter())
            .filter(|(_, (_, inbox, _))| {
                matches!(inbox.try_send(message.clone()), Err(TrySendError::Full(_)))
            })
            .map(|(&id, (.., kicked))| {
                kicked.notify_one();
                id
            })
            .collect();
        for id in slow {
            self.leave(id, CloseCode::POLICY_VIOLATION, TOO_SLOW, true);
        }
    }

    /// The link to Redis went up or down: this process's clients are told.
    fn set_link(&self, up: bool) {
        if self.link_up.swap(up, Ordering::AcqRel) != up {
            self.deliver(&json!({"type": "link", "up": up}).to_string());
        }
    }
}

// ---------------------------------------------------------------- Redis

/// Keeps the link to Redis: connects, relays both ways until the link
/// fails, tells the clients, and tries again every `REDIS_RETRY`.
async fn run_bridge(client: redis::Client, room: Arc<Room>, mut outbox: mpsc::Receiver<Utf8Bytes>) {
    let mut told = false;
    loop {
        let why = link(&client, &room, &mut outbox).await;
        if room.link_up.load(Ordering::Acquire) || !told {
            eprintln!("redis: link down ({why}); trying again every {REDIS_RETRY:?}");
            told = true;
        }
        room.set_link(false);
        tokio::time::sleep(REDIS_RETRY).await;
    }
}

/// One link: a connection to publish on and one subscribed to the channel.
/// Returns why it ended.
async fn link(
    client: &redis::Client,
    room: &Room,
    outbox: &mut mpsc::Receiver<Utf8Bytes>,
) -> String {
    let connect = async {
        let publisher = client.get_multiplexed_async_connection().await?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(REDIS_CHANNEL).await?;
        Ok::<_, redis::RedisError>((publisher, pubsub.into_on_message()))
    };
    let (mut publisher, mut messages) = match timeout(REDIS_RETRY * 5, connect).await {
        Ok(Ok(link)) => link,
        Ok(Err(e)) => return e.to_string(),
        Err(_) => return "connection timed out".into(),
    };
    // What was said while the link was down stayed local.
    while outbox.try_recv().is_ok() {}
    room.set_link(true);
    eprintln!("redis: linked, channel {REDIS_CHANNEL}");
    loop {
        tokio::select! {
            message = poll_fn(|cx| Pin::new(&mut messages).poll_next(cx)) => {
                let Some(message) = message else {
                    return "the subscription ended".into();
                };
                let payload = std::str::from_utf8(message.get_payload_bytes());
                let Some((origin, json)) = payload.ok().and_then(|p| p.split_once(' ')) else {
                    continue;
                };
                // Our own messages reached our clients when they were said.
                if u64::from_str_radix(origin, 16) != Ok(room.origin) {
                    room.deliver(json);
                    tokio::task::yield_now().await;
                }
            }
            Some(json) = outbox.recv() => {
                let payload = format!("{:016x} {json}", room.origin);
                let mut publish = redis::cmd("PUBLISH");
                publish.arg(REDIS_CHANNEL).arg(payload);
                if let Err(e) = publish.exec_async(&mut publisher).await {
                    return e.to_string();
                }
            }
        }
    }
}
