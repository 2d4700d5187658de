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
//! A complete server loop over any `Read + Write` transport:
//!
//! ```
//! use std::io::{Read, Write};
//! use wstate::{Accept, Config, Connection, Event, Message};
//!
//! fn serve(mut sock: impl Read + Write) -> std::io::Result<()> {
//!     let mut conn = Connection::server(Config::default());
//!     let mut out = Vec::new(); // bytes to write, owned by the caller
//!     let mut buf = [0; 4096];
//!     let mut reply = String::new();
//!     while !conn.should_close_transport() {
//!         let n = sock.read(&mut buf)?;
//!         if n == 0 { conn.receive_eof() } else { conn.receive(&buf[..n]) }
//!         loop {
//!             match conn.poll_event(&mut out) {
//!                 Ok(Some(Event::Request(req))) => {
//!                     // Inspect req.path(), req.origin(), req.subprotocols() ...
//!                     let _ = req.path();
//!                     conn.accept(&Accept::new(), &mut out).expect("request pending");
//!                 }
//!                 // Events borrow the connection: copy what you keep.
//!                 Ok(Some(Event::Text(text))) => reply = format!("echo: {text}"),
//!                 Ok(Some(Event::Close(_))) => {} // the reply Close is already in `out`
//!                 Ok(Some(_)) => {}               // Binary, Ping (Pong queued), Pong
//!                 Ok(None) => break,              // need more bytes
//!                 Err(_) => break,                // our Close or HTTP error is in `out`
//!             }
//!             if !reply.is_empty() {
//!                 let _ = conn.send(Message::Text(&reply), &mut out);
//!                 reply.clear();
//!             }
//!         }
//!         sock.write_all(&out)?;
//!         out.clear();
//!         if n == 0 { break }
//!     }
//!     Ok(())
//! }
//!
//! // Try it against a client `Connection` over an in-memory "socket".
//! # use wstate::{ClientRequest, CloseCode};
//! let mut wire = Vec::new();
//! let mut client = Connection::client(
//!     &ClientRequest::new("example.com", "/chat"),
//!     |b: &mut [u8]| b.fill(7), // use a real CSPRNG in production
//!     Config::default(),
//!     &mut wire,
//! ).unwrap();
//! # let mut ignored = Vec::new();
//! # client.receive(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
//! # let key = wstate::handshake::accept_key(b"BwcHBwcHBwcHBwcHBwcHBw==");
//! # client.receive(&key);
//! # client.receive(b"\r\n\r\n");
//! # assert!(matches!(client.poll_event(&mut ignored), Ok(Some(Event::Accepted(_)))));
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
//! assert!(response.ends_with(&[0x81, 0x08, b'e', b'c', b'h', b'o', b':', b' ', b'h', b'i', 0x88, 0x02, 0x03, 0xe8]));
//! ```
//!
//! A client is the same loop starting with [`Connection::client`], whose
//! first event is [`Event::Accepted`]. Where the HTTP upgrade happens
//! elsewhere, [`Connection::new_open`] starts a connection already open.
//!
//! ## Layers
//!
//! The low layer needs no allocation and is public for users who want only
//! frame parsing: [`wire::frame`] (opcodes and headers), [`wire::mask`], [`wire::close`] (close
//! codes and payloads) and [`wire::utf8`] (the incremental validator).
//! [`handshake`] holds the opening handshake types.
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

pub use config::Config;
pub use connection::{Connection, ConnectionState, Entropy, Role};
pub use error::{Error, HandshakeError, ProtocolError, SendError};
pub use event::{Event, Message};
pub use handshake::{Accept, Accepted, ClientRequest, Request};
pub use wire::close::{CloseCode, CloseFrame};

/// The README's usage block, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
