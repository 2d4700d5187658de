//! WebSocket over HTTP/2 (RFC 8441): the extended CONNECT, as pure
//! functions over the header fields the caller's HTTP/2 stack decoded. The
//! same functions and types serve HTTP/3 ([`h3`](super::h3), RFC 9220);
//! this page says what is particular to HTTP/2.
//!
//! Nothing here reads or writes bytes, or knows HPACK or frames. The
//! caller's HTTP/2 stack
//!
//! * advertises `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` (0x08, a server), or
//!   waits for the server's before sending the CONNECT (a client): "If a
//!   client were to use the provisions of the extended CONNECT method
//!   defined in this document without first receiving a
//!   SETTINGS_ENABLE_CONNECT_PROTOCOL parameter, a non-supporting peer
//!   would detect a malformed request and generate a stream error" (RFC
//!   8441 §3). Both sides tell [`validate_request`] and [`connect`] what
//!   was sent or received ([`ExtendedConnect`]);
//! * hands [`validate_request`] (a server) or [`Connect::validate_response`]
//!   (a client) the decoded fields, pseudo-header fields first, as
//!   `(name, value)` pairs of anything that is `AsRef<[u8]>`; a server
//!   looks at the [`Request`](super::Request) as over HTTP/1.1 and answers
//!   with [`Upgrade::accept`](super::Upgrade::accept);
//! * sends the status and field lists built here
//!   ([`Response`](super::Response)'s, `:status` from its `status()`,
//!   [`Connect::headers`]) in a HEADERS frame without END_STREAM;
//! * answers a refusal as [`ConnectError`] says: a malformed message is
//!   `RST_STREAM(PROTOCOL_ERROR)`, any other refused request gets its
//!   status.
//!
//! **Advertise the setting only where the WebSocket handler is reachable
//! over HTTP/2.** Browsers take `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` as
//! a promise: they send every WebSocket for that origin as an extended
//! CONNECT on the HTTP/2 connection they already hold, and do not fall back
//! to an HTTP/1.1 upgrade when it is refused. A server (or a proxy in
//! front of it) that enables the setting on every HTTP/2 connection while
//! its WebSocket routes only work over HTTP/1.1 breaks them all; Go 1.24
//! turned its extended CONNECT off by default after exactly that broke
//! servers (golang/go #71128).
//!
//! # The stream is the transport
//!
//! Then the stream carries WebSocket frames (RFC 8441 §5: "the peers should
//! proceed with the WebSocket Protocol \[RFC6455\] using the HTTP/2 stream
//! from the CONNECT transaction as if it were the TCP connection referred
//! to in \[RFC6455\]"): build the connection with
//! [`Connection::new_open`](crate::Connection::new_open) (with feature
//! `deflate`, `Connection::new_open_with_deflate` and the parameters
//! negotiated here), give each DATA frame's bytes to
//! [`Connection::receive`](crate::Connection::receive), and send what it
//! appends to `out` as DATA on the same stream. "The HTTP/2 stream closure
//! is also analogous to the TCP connection closure of \[RFC6455\]" (RFC
//! 8441 §5):
//!
//! * "Orderly TCP-level closures are represented as END_STREAM flags": the
//!   peer's END_STREAM is [`receive_eof`](crate::Connection::receive_eof); once
//!   [`poll_event`](crate::Connection::poll_event) says `Done`, send
//!   END_STREAM (an empty DATA frame with the flag, after what is in
//!   `out`). A server that answered the peer's Close ends its stream first,
//!   as it would close TCP first (RFC 6455 §7.1.1).
//! * "RST exceptions are represented with the RST_STREAM frame ... with the
//!   CANCEL error code": a `RST_STREAM(CANCEL)` from the peer (or any
//!   reset, or the HTTP/2 connection's loss) is an abrupt end of the
//!   transport, also [`receive_eof`](crate::Connection::receive_eof): the
//!   connection reports the close as 1006 (RFC 6455 §7.1.5) and sends
//!   nothing more. To abort a WebSocket yourself, reset the stream with
//!   `CANCEL` and drop the connection.
//!
//! What differs from HTTP/1.1 (RFC 8441 §5): `CONNECT` with
//! `:protocol = websocket` instead of `GET` with `Upgrade` and `Connection`,
//! `:authority` instead of `Host`, a `200` instead of the `101`, and no
//! `Sec-WebSocket-Key` or `Sec-WebSocket-Accept`. "The Origin \[RFC6454\],
//! Sec-WebSocket-Version, Sec-WebSocket-Protocol, and
//! Sec-WebSocket-Extensions header fields are used in the CONNECT request
//! and response header fields as defined in \[RFC6455\]" (§5): subprotocols
//! and permessage-deflate are negotiated exactly as over HTTP/1.1.
//!
//! ```
//! use wstate::handshake::h2::{self, ExtendedConnect, Scheme};
//! use wstate::{Accept, ClientRequest, Config, Connection, Message, Role};
//!
//! let config = Config::default();
//! // Client, once the server's SETTINGS enabled the extended CONNECT: the
//! // request of RFC 8441 §5.1's example.
//! let request = ClientRequest::new("server.example.com", "/chat")
//!     .subprotocols(&["chat", "superchat"])
//!     .headers(&[("Origin", "http://www.example.com")]);
//! let connect = h2::connect(&request, Scheme::Https, ExtendedConnect::Enabled, &config).unwrap();
//! let sent: Vec<(&str, &str)> = connect.headers().collect();
//! assert_eq!(sent, [
//!     (":method", "CONNECT"),
//!     (":protocol", "websocket"),
//!     (":scheme", "https"),
//!     (":path", "/chat"),
//!     (":authority", "server.example.com"),
//!     ("sec-websocket-protocol", "chat, superchat"),
//!     ("sec-websocket-version", "13"),
//!     ("origin", "http://www.example.com"),
//! ]);
//!
//! // Server, which advertised the setting: the request as its HTTP/2
//! // stack decoded it.
//! let upgrade = h2::validate_request(&sent, ExtendedConnect::Enabled).unwrap();
//! let req = upgrade.request();
//! assert_eq!((req.authority(), req.path()), ("server.example.com", "/chat"));
//! assert_eq!(req.origin(), Some("http://www.example.com"));
//! let chosen = req.subprotocols().find(|p| *p == "chat").unwrap();
//! let response = upgrade.accept(&Accept::new().subprotocol(chosen), &config).unwrap();
//! assert_eq!(response.status(), 200);
//! let fields: Vec<(&str, &str)> = response.headers().collect();
//! assert_eq!(fields, [("sec-websocket-protocol", "chat")]);
//! let mut server = Connection::new_open(Role::Server, config.clone());
//!
//! // Client: the response as its HTTP/2 stack decoded it.
//! let answered = [(":status", "200"), ("sec-websocket-protocol", "chat")];
//! let accepted = connect.validate_response(&answered).unwrap();
//! assert_eq!(accepted.subprotocol(), Some("chat"));
//! // Mask keys from the operating system's CSPRNG.
//! let mut client = Connection::new_open(Role::client(|b| getrandom::fill(b).unwrap()), config);
//!
//! // Frames as usual, carried in DATA frames.
//! let mut data = Vec::new();
//! client.sender().send(Message::Text("hi"), &mut data).unwrap();
//! server.receive(&data);
//! ```

pub use super::connect::{
    Connect, ConnectError, ExtendedConnect, Scheme, connect, validate_request,
};
