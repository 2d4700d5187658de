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
//! [`Connection::poll_event`] answers with one of three things:
//!
//! * [`Polled::Event`]: something happened. The event borrows only the
//!   connection's receive buffers; the [`Sender`] beside it answers (echo,
//!   accept with a subprotocol from the request, reply by hand) while the
//!   event is held, without copying the payload.
//! * [`Polled::NeedMore`]: read more bytes from the transport.
//! * [`Polled::Done`]: the connection is finished (closing handshake done,
//!   failed, or transport ended). Write out what is queued, close the
//!   transport, drop the connection. A loop cannot miss it: it is not
//!   `NeedMore`.
//!
//! Errors are the peer's fault; the bytes that answer them (a Close with the
//! right code, or an HTTP error) are already in `out`, and the next poll
//! says `Done`. A complete server over any `Read + Write` transport:
//!
//! ```
//! use std::io::{Read, Write};
//! use wstate::{Accept, Config, Connection, Event, Message, Polled};
//!
//! fn serve(mut sock: impl Read + Write) -> std::io::Result<()> {
//!     let mut conn = Connection::server(Config::default());
//!     let mut out = Vec::new(); // bytes to write, owned by the caller
//!     let mut buf = [0; 4096];
//!     loop {
//!         let n = sock.read(&mut buf)?;
//!         if n == 0 { conn.receive_eof() } else { conn.receive(&buf[..n]) }
//!         loop {
//!             match conn.poll_event(&mut out) {
//!                 Ok(Polled::Event(Event::Request(req), tx)) => {
//!                     // Inspect req.path(), req.origin(), req.subprotocols() ...
//!                     let accept = match req.subprotocols().find(|p| *p == "chat") {
//!                         Some(chat) => Accept::new().subprotocol(chat),
//!                         None => Accept::new(),
//!                     };
//!                     tx.accept(&accept, &mut out).unwrap();
//!                 }
//!                 // Answer while holding the event: no copy.
//!                 Ok(Polled::Event(Event::Text(text), tx)) => {
//!                     let _ = tx.send(Message::Text(text), &mut out);
//!                 }
//!                 Ok(Polled::Event(_, _)) => {} // Binary, Ping (Pong queued), Pong, Close
//!                 Ok(Polled::NeedMore) => break,
//!                 Ok(Polled::Done) => {
//!                     sock.write_all(&out)?; // the last bytes: Close reply, error
//!                     return Ok(());          // then close the transport
//!                 }
//!                 Err(_) => {}                // Close or HTTP error queued; next: Done
//!             }
//!         }
//!         sock.write_all(&out)?;
//!         out.clear();
//!     }
//! }
//!
//! // Try it against a client `Connection` over an in-memory "socket".
//! # use wstate::{ClientRequest, CloseCode};
//! let mut wire = Vec::new();
//! let mut client = Connection::client(
//!     &ClientRequest::new("example.com", "/chat"),
//!     |b| b.fill(7), // use a real CSPRNG in production
//!     Config::default(),
//!     &mut wire,
//! ).unwrap();
//! # let mut ignored = Vec::new();
//! # client.receive(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
//! # let key = wstate::handshake::accept_key(b"BwcHBwcHBwcHBwcHBwcHBw==");
//! # client.receive(&key);
//! # client.receive(b"\r\n\r\n");
//! # assert!(matches!(client.poll_event(&mut ignored), Ok(Polled::Event(Event::Accepted(_), _))));
//! client.send(Message::Text("hi"), &mut wire).unwrap();
//! client.close(CloseCode::NORMAL, "", &mut wire).unwrap();
//!
//! struct Duplex { input: std::io::Cursor<Vec<u8>>, output: Vec<u8> }
//! impl Read for Duplex {
//!     fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> { self.input.read(b) }
//! }
//! impl Write for Duplex {
//!     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.output.write(b) }
//!     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
//! }
//! let mut sock = Duplex { input: std::io::Cursor::new(wire), output: Vec::new() };
//! serve(&mut sock).unwrap();
//! let response = sock.output;
//! assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//! // After the head: the echo, then the reply to our Close (echoing 1000).
//! assert!(response.ends_with(&[0x81, 0x02, b'h', b'i', 0x88, 0x02, 0x03, 0xe8]), "{:?}", &response[response.len()-20..]);
//! ```
//!
//! A client is the same loop starting with [`Connection::client`] (or
//! [`WsUrl::parse`] for a `ws://` URL), whose first event is
//! [`Event::Accepted`]. A client's connection says `Done` only once the
//! server closed the transport (RFC 6455 §7.1.1). Where the HTTP upgrade
//! happens elsewhere, [`Connection::new_open`] starts a connection already
//! open. To send when no event is held, use [`Connection::send`] and
//! friends, or [`Connection::sender`].
//!
//! ## Layers
//!
//! `ls -R src` shows them; lower floors never import higher ones.
//!
//! * [`wire`]: the allocation-free ground floor, public for users who want
//!   only frame parsing: [`wire::frame`] (opcodes and headers),
//!   [`wire::mask`], [`wire::close`] (close codes and payloads) and
//!   [`wire::utf8`] (the incremental validator).
//! * [`handshake`]: the opening handshake as pure functions over bytes: the
//!   HTTP/1.1 head, the server's and the client's rules, `ws://` URLs.
//! * [`Connection`] (`src/connection/`): the state machine. Its `mod.rs`
//!   holds the one private state enum and every transition; `recv.rs` and
//!   `send.rs` beside it turn bytes into values and values into bytes.
//! * [`Config`], [`Event`], [`error`]: plain data.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]
extern crate alloc;

mod config;
mod connection;
#[cfg(feature = "deflate")]
mod deflate;
pub mod error;
mod event;
pub mod handshake;
pub mod wire;

pub use config::{Config, Keepalive};
pub use connection::{Connection, ConnectionState, Entropy, Polled, Role, Sender};
pub use error::{Error, HandshakeError, ProtocolError, SendError};
pub use event::{Event, Message};
pub use handshake::{Accept, Accepted, ClientRequest, Request, UrlError, WsUrl};

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
