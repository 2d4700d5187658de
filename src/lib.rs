//! # wstate: a sans-IO WebSocket protocol state machine
//!
//! `wstate` implements RFC 6455 as pure code: bytes in, events out; commands
//! in, bytes out. It owns no socket, clock, thread or random source, so a
//! blocking `TcpStream`, tokio, mio, an embedded stack, a fuzzer or a unit
//! test can all drive it.
//!
//! ```text
//!     application   ── send / close / accept ──▶ ┌────────────┐ ── out: Vec<u8> ──▶ transport
//!                   ◀──────── Event ─────────── │ Connection │ ◀── receive(&[u8]) ─
//!                                               └────────────┘
//! ```
//!
//! ## The contract
//!
//! * **Deterministic**: the same bytes in and the same entropy give the same
//!   events and the same bytes out.
//! * **Chunking-invariant**: bytes fed at once, one at a time or split
//!   anywhere give identical events and output.
//! * **Bytes out in order**: everything the protocol must send (handshake
//!   responses, Pongs, the reply to a Close, the Close that fails a
//!   connection) is appended to the caller's `out` in the order it arose.
//! * **Fails properly**: a peer's protocol violation returns an error that
//!   knows its close code, with that Close frame already in `out`; after it
//!   the connection takes and sends nothing.
//! * **Bounded**: handshake size, frame size, message size and fragment
//!   count are limited by [`Config`]; oversized input is refused before any
//!   allocation. No input makes it panic.
//!
//! ## Driving it
//!
//! One loop does everything: read, feed, poll until `NeedMore`, write.
//! [`Connection::poll_event`] answers with one of four things:
//!
//! * [`Polled::Event`]: something happened. The event borrows only the
//!   connection's receive buffers; the [`Sender`] beside it answers (echo,
//!   accept with a subprotocol from the request, reply by hand) while the
//!   event is held, without copying the payload.
//! * [`Polled::Failed`]: the peer broke the protocol, a deadline passed, or
//!   the handshake was refused. The bytes that answer it (a Close with the
//!   right code, or an HTTP error) are already in `out`; poll on (the next
//!   answer is `Done`). It is a variant, not an `Err`, so that no `?`
//!   carries the failure away before `out` is written.
//! * [`Polled::NeedMore`]: read more bytes from the transport.
//! * [`Polled::Done`]: the connection is finished (closing handshake done,
//!   failed, or transport ended). Write out what is queued, close the
//!   transport, drop the connection. A loop cannot miss it: it is not
//!   `NeedMore`.
//!
//! Time comes from the caller too: [`Connection::handle_timeout`] takes the
//! time since an origin of your choosing (once at the start, and after every
//! read), and [`Connection::poll_timeout`] says how long to wait for bytes at
//! most. That is how a half-sent handshake is answered `408` and dropped, a
//! peer that stops answering Pings is failed with 1011, and an unanswered
//! Close ends the connection (defaults in [`Config`]). Order matters:
//! `receive` before `handle_timeout`, so that bytes count as activity when
//! they arrived; poll after both.
//!
//! A complete server over a blocking `TcpStream` (read, time, poll, write):
//!
//! ```
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::TcpStream;
//! use std::time::{Duration, Instant};
//! use wstate::{Accept, Config, Connection, Event, Message, Polled};
//!
//! fn serve(mut sock: TcpStream) -> std::io::Result<()> {
//!     let mut conn = Connection::server(Config::default());
//!     let mut out = Vec::new(); // bytes to write, owned by the caller
//!     let mut buf = [0; 4096];
//!     let start = Instant::now();
//!     conn.handle_timeout(Duration::ZERO, &mut out); // time starts here
//!     loop {
//!         // 1. Read, but no longer than the next deadline.
//!         let wait = conn.poll_timeout().map(|deadline| {
//!             deadline.saturating_sub(start.elapsed()).max(Duration::from_millis(1))
//!         });
//!         sock.set_read_timeout(wait)?;
//!         match sock.read(&mut buf) {
//!             Ok(0) => conn.receive_eof(),
//!             Ok(n) => conn.receive(&buf[..n]),
//!             Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
//!             Err(e) => return Err(e),
//!         }
//!         // 2. The time: may queue a keepalive Ping, a 1011 Close or a 408.
//!         conn.handle_timeout(start.elapsed(), &mut out);
//!         // 3. Poll until NeedMore or Done, answering while holding events.
//!         loop {
//!             match conn.poll_event(&mut out) {
//!                 Polled::Event(Event::Request(req), tx) => {
//!                     // Inspect req.path(), req.origin(), req.subprotocols() ...
//!                     let accept = match req.subprotocols().find(|p| *p == "chat") {
//!                         Some(chat) => Accept::new().subprotocol(chat),
//!                         None => Accept::new(),
//!                     };
//!                     tx.accept(&accept, &mut out).unwrap();
//!                 }
//!                 // Echo without copying the message.
//!                 Polled::Event(Event::Text(text), tx) => {
//!                     let _ = tx.send(Message::Text(text), &mut out);
//!                 }
//!                 Polled::Event(_, _) => {} // Binary, Ping (Pong queued), Pong, Close
//!                 Polled::NeedMore => break,
//!                 Polled::Done => {
//!                     sock.write_all(&out)?; // the last bytes: Close reply, error
//!                     return Ok(());          // then drop the socket
//!                 }
//!                 Polled::Failed(_) => {} // peer error or timeout: answer queued; next: Done
//!             }
//!         }
//!         // 4. Write everything produced.
//!         sock.write_all(&out)?;
//!         out.clear();
//!     }
//! }
//!
//! // Try it on loopback against a client `Connection`.
//! # use wstate::{ClientRequest, CloseCode};
//! let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! let server = std::thread::spawn(move || serve(listener.accept().unwrap().0));
//! let mut wire = Vec::new();
//! let mut client = Connection::client(
//!     &ClientRequest::new("example.com", "/chat"),
//!     |b| getrandom::fill(b).expect("OS entropy"), // or wstate::os_entropy
//!     Config::default(),
//!     &mut wire,
//! ).unwrap();
//! # let mut ignored = Vec::new();
//! # client.receive(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
//! # let request = String::from_utf8(wire.clone()).unwrap();
//! # let nonce = request.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")).unwrap();
//! # client.receive(&wstate::handshake::accept_key(nonce.as_bytes()));
//! # client.receive(b"\r\n\r\n");
//! # assert!(matches!(client.poll_event(&mut ignored), Polled::Event(Event::Accepted(_), _)));
//! client.sender().send(Message::Text("hi"), &mut wire).unwrap();
//! client.sender().close(CloseCode::NORMAL, "", &mut wire).unwrap();
//! let mut sock = TcpStream::connect(addr).unwrap();
//! sock.write_all(&wire).unwrap();
//! let mut response = Vec::new();
//! sock.read_to_end(&mut response).unwrap(); // the server closes first
//! server.join().unwrap().unwrap();
//! assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//! // After the head: the echo, then the reply to our Close (echoing 1000).
//! assert!(response.ends_with(&[0x81, 0x02, b'h', b'i', 0x88, 0x02, 0x03, 0xe8]));
//! ```
//!
//! A client is the same loop starting with [`Connection::client`] (or
//! [`WsUrl::parse`] for a `ws://` URL), whose first event is
//! [`Event::Accepted`]. A client's connection says `Done` only once the
//! server closed the transport (RFC 6455 §7.1.1). Where the HTTP upgrade
//! happens elsewhere, [`Connection::new_open`] starts a connection already
//! open (with feature `deflate`, `Connection::new_open_with_deflate` takes
//! the parameters negotiated there). Over HTTP/2 (RFC 8441) and HTTP/3
//! (RFC 9220), [`handshake::h2`] and [`handshake::h3`] check the extended
//! CONNECT and build the fields of both sides for the caller's HTTP stack. To send when no event is held,
//! use the connection's own [`Sender`], from [`Connection::sender`].
//!
//! ## Layers
//!
//! `ls -R src` shows them; lower floors never import higher ones.
//!
//! * [`wire`]: the allocation-free ground floor, public for users who want
//!   only frame parsing: [`wire::frame`] (opcodes and headers),
//!   [`wire::mask`], [`wire::close`] (close codes and payloads) and
//!   [`wire::utf8`] (the incremental validator).
//! * [`handshake`]: the opening handshake as pure functions: the HTTP/1.1
//!   head and field rules, the server's and the client's rules, request
//!   targets and hosts, `ws://` URLs, the `Sec-WebSocket-Extensions`
//!   negotiation ([`handshake::extensions`]), the subprotocol rules, and
//!   [`handshake::h2`] and [`handshake::h3`], the extended CONNECT of RFC
//!   8441 and RFC 9220 over decoded HTTP/2 and HTTP/3 fields.
//! * [`Connection`] (`src/connection/`): the state machine. Its `mod.rs`
//!   holds the one private state enum and every transition. Beside it,
//!   files that compute and never change the state themselves: `feed.rs`
//!   (bytes in), `ask.rs` ([`Polled`], the getters), the receive pipeline
//!   (`recv.rs`, the frame decoder: each header checked once, each payload
//!   byte unmasked once; `assemble.rs`, the one message assembler for whole
//!   messages, parts and inflation, where UTF-8 is checked once per byte;
//!   `incoming.rs`, the values they pass), `send.rs` (frames out, masking),
//!   `sender.rs` (the
//!   [`Sender`] and its checks), `opening.rs` (reading the handshake) and
//!   `timers.rs` (deadlines from the caller's time).
//! * `src/deflate/`: permessage-deflate behind one seam: the negotiated
//!   [`DeflateParams`], the framing glue, and the zlib-rs codec (sync flush,
//!   the RFC 7692 tail, context takeover, an output limit) with feature
//!   `deflate`, or a stand-in whose types have no values without it.
//! * [`Config`], [`Event`], [`error`]: plain data.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]
extern crate alloc;
// The blocking adapter over `std::io` (feature `std`); the rest of the
// crate stays `no_std`.
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "std")]
pub mod blocking;
mod config;
mod connection;
mod deflate;
pub mod error;
mod event;
pub mod handshake;
pub mod wire;

pub use config::{Config, DeflateConfig, Keepalive, Release};
pub use connection::{Connection, ConnectionState, Entropy, Polled, PreparedMessage, Role, Sender};
pub use deflate::DeflateParams;
pub use error::{Error, HandshakeError, SendError};
pub use event::{Event, Message, MessageKind};
pub use handshake::{Accept, Accepted, ClientRequest, Request, UrlError, WsUrl};
pub use wire::ProtocolError;

/// Fills `dest` from the operating system's CSPRNG (feature `getrandom`):
/// an entropy source for [`Connection::client`] and [`Role::client`].
///
/// # Panics
///
/// If the operating system cannot supply random bytes, which `getrandom`
/// documents as not happening on supported platforms once booted: masking
/// with predictable keys would be worse than stopping.
#[cfg(feature = "getrandom")]
pub fn os_entropy(dest: &mut [u8]) {
    if let Err(e) = getrandom::fill(dest) {
        panic!("the operating system's random source failed: {e}");
    }
}
pub use wire::close::{CloseCode, CloseFrame};

/// The README's usage block, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
