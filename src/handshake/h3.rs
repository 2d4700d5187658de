//! WebSocket over HTTP/3 (RFC 9220): the extended CONNECT of RFC 8441 on
//! one HTTP/3 request stream, as pure functions over the header fields the
//! caller's HTTP/3 stack decoded. "The semantics of the pseudo-header
//! fields and setting are identical to those in HTTP/2 as defined in
//! \[RFC8441\]" (RFC 9220 §3): these are the functions and types of
//! [`h2`](super::h2), with the same subprotocol and permessage-deflate
//! negotiation as over HTTP/1.1; this page says what is particular to
//! HTTP/3.
//!
//! Nothing here reads or writes bytes, or knows QUIC, QPACK or frames. The
//! caller's HTTP/3 stack
//!
//! * advertises `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` in the SETTINGS
//!   frame of its control stream (a server: "The SETTINGS_ENABLE_CONNECT_PROTOCOL
//!   value is 0x08 (decimal 8), as in HTTP/2", RFC 9220 §3), or waits for
//!   the server's SETTINGS before sending the CONNECT (a client), and tells
//!   [`validate_request`] and [`connect`] what was sent or received
//!   ([`ExtendedConnect`]);
//! * hands [`validate_request`] (a server) or [`Connect::validate_response`]
//!   (a client) the fields of the HEADERS frame, pseudo-header fields first,
//!   as `(name, value)` pairs of anything that is `AsRef<[u8]>`; a server
//!   looks at the [`Request`](super::Request) as over HTTP/1.1 and answers
//!   with [`Upgrade::accept`](super::Upgrade::accept);
//! * sends the status and field lists built here
//!   ([`Response`](super::Response)'s, `:status` from its `status()`,
//!   [`Connect::headers`]) as a HEADERS frame, leaving the stream open;
//! * answers a refusal as [`ConnectError`] says: a malformed message is a
//!   stream error of type `H3_MESSAGE_ERROR` (0x010e; RFC 9114 §4.1.2:
//!   reset the stream, and stop sending on it), any other refused request
//!   gets its status and the end of the stream.
//!
//! **Advertise the setting only where the WebSocket handler is reachable
//! over HTTP/3.** Browsers take `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` as a
//! promise that WebSockets work over that connection and send them there
//! as extended CONNECTs, with no fall-back to HTTP/1.1 when one is refused.
//! An HTTP/3 endpoint in front of a server whose WebSocket routes work only
//! over HTTP/1.1 or HTTP/2 must leave it unset; Go 1.24 turned its
//! extended CONNECT off by default after servers broke this way
//! (golang/go #71128).
//!
//! # The stream is the transport
//!
//! After the `200`, the request stream carries WebSocket frames, "as if it
//! were the TCP connection" (RFC 8441 §5): build the connection with
//! [`Connection::new_open`](crate::Connection::new_open) (with feature
//! `deflate`, `Connection::new_open_with_deflate` and the parameters
//! negotiated here), give the payload of each DATA frame to
//! [`Connection::receive`](crate::Connection::receive), and send what it
//! appends to `out` in DATA frames on the same stream. RFC 9220 §3 maps the
//! ends of TCP onto the stream:
//!
//! * "Orderly TCP-level closures are represented as a FIN bit on the
//!   stream": the peer's FIN (the request stream's end) is
//!   [`receive_eof`](crate::Connection::receive_eof); once
//!   [`poll_event`](crate::Connection::poll_event) says `Done`, finish your
//!   side of the stream (QUIC's FIN after what is in `out`). A server that
//!   answered the peer's Close finishes first, as it would close TCP first
//!   (RFC 6455 §7.1.1).
//! * "RST exceptions are represented with a stream error ... of type
//!   H3_REQUEST_CANCELLED": when the peer resets the stream (or stops
//!   reading it) with `H3_REQUEST_CANCELLED` (0x010c), or the QUIC
//!   connection is lost, the transport ended abruptly: call
//!   [`receive_eof`](crate::Connection::receive_eof), and the connection
//!   reports the close as 1006 (RFC 6455 §7.1.5) and sends nothing more. To
//!   abort a WebSocket yourself, reset the stream and stop reading it with
//!   `H3_REQUEST_CANCELLED`, and drop the connection.
//!
//! ```
//! use wstate::handshake::h3::{self, ExtendedConnect, Scheme};
//! use wstate::{Accept, ClientRequest, Config, Connection, Message, Role};
//!
//! let config = Config::default();
//! // Client, once the server's SETTINGS carried
//! // SETTINGS_ENABLE_CONNECT_PROTOCOL = 1: the CONNECT's fields, for the
//! // request stream's HEADERS frame.
//! let request = ClientRequest::new("server.example.com", "/chat").subprotocols(&["chat"]);
//! let connect = h3::connect(&request, Scheme::Https, ExtendedConnect::Enabled, &config).unwrap();
//! let sent: Vec<(&str, &str)> = connect.headers().collect();
//! assert_eq!(sent, [
//!     (":method", "CONNECT"),
//!     (":protocol", "websocket"),
//!     (":scheme", "https"),
//!     (":path", "/chat"),
//!     (":authority", "server.example.com"),
//!     ("sec-websocket-protocol", "chat"),
//!     ("sec-websocket-version", "13"),
//! ]);
//!
//! // Server, which sent the setting: the request as QPACK decoded it.
//! let upgrade = h3::validate_request(&sent, ExtendedConnect::Enabled).unwrap();
//! let response = upgrade.accept(&Accept::new().subprotocol("chat"), &config).unwrap();
//! assert_eq!(response.status(), 200);
//! let fields: Vec<(&str, &str)> = response.headers().collect();
//! assert_eq!(fields, [("sec-websocket-protocol", "chat")]);
//! let mut server = Connection::new_open(Role::Server, config.clone());
//!
//! // A server that did not send the setting treats `:protocol` as
//! // malformed: a stream error of type H3_MESSAGE_ERROR.
//! let refused = h3::validate_request(&sent, ExtendedConnect::NotEnabled).unwrap_err();
//! assert!(refused.is_malformed());
//!
//! // Client: the response as QPACK decoded it, then frames in DATA frames.
//! let answered = [(":status", "200"), ("sec-websocket-protocol", "chat")];
//! let accepted = connect.validate_response(&answered).unwrap();
//! assert_eq!(accepted.subprotocol(), Some("chat"));
//! let mut client = Connection::new_open(Role::client(|b| getrandom::fill(b).unwrap()), config);
//! let mut data = Vec::new();
//! client.sender().send(Message::Text("hi"), &mut data).unwrap();
//! server.receive(&data);
//! ```

pub use super::connect::{
    Connect, ConnectError, ExtendedConnect, Scheme, connect, validate_request,
};
