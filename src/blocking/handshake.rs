//! The opening handshake over a blocking stream: [`WebSocket::accept`],
//! [`WebSocket::accept_with`] and [`WebSocket::connect`].

use std::string::String;
use std::vec::Vec;

use super::{Error, Transport, WebSocket};
use crate::event::Event;
use crate::handshake::{Accept, ClientRequest, Request};
use crate::{Config, Connection, Polled};

/// The answer to an upgrade request, from the callback of
/// [`WebSocket::accept_with`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Accept with `101 Switching Protocols`.
    Accept {
        /// The subprotocol chosen from those the client offered.
        subprotocol: Option<String>,
        /// Extra header fields of the `101` (`name`, `value`).
        headers: Vec<(String, String)>,
    },
    /// Refuse with an HTTP response (see
    /// [`Sender::reject`](crate::Sender::reject) for what is added).
    Reject {
        /// The status, 200-599 (e.g. 403, 404).
        status: u16,
        /// Extra header fields (`name`, `value`).
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
}

impl Answer {
    /// Accept, with no subprotocol and no extra header.
    pub fn accept() -> Self {
        Self::Accept {
            subprotocol: None,
            headers: Vec::new(),
        }
    }

    /// Accept with `subprotocol`, one the client offered.
    pub fn accept_subprotocol(subprotocol: &str) -> Self {
        Self::Accept {
            subprotocol: Some(subprotocol.into()),
            headers: Vec::new(),
        }
    }

    /// Refuse with `status` and an empty body.
    pub fn reject(status: u16) -> Self {
        Self::Reject {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

/// Borrowed header fields, as the connection takes them.
fn fields(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

impl<S: Transport> WebSocket<S> {
    /// Server: reads the client's upgrade request and accepts it. See
    /// [`accept_with`](Self::accept_with).
    pub fn accept(stream: S, config: Config) -> Result<Self, Error> {
        Self::accept_with(stream, config, |_| Answer::accept())
    }

    /// Server: reads the client's upgrade request, lets `decide` answer it
    /// (it sees the path, the `Origin`, the offered subprotocols and every
    /// header), and writes the answer. Returns the open connection, with
    /// permessage-deflate when `config` enables it and the client offered it.
    ///
    /// Errors: [`Error::Rejected`] after `decide` refused (the response was
    /// written); [`Error::Peer`] with a
    /// [`HandshakeError`](crate::HandshakeError) for a bad request (its
    /// `4xx` was written), a client that left, or the handshake timeout;
    /// [`Error::Send`] if the accept `decide` chose is invalid (a
    /// subprotocol the client did not offer, a reserved header): the client
    /// got a `500`.
    ///
    /// ```no_run
    /// use wstate::blocking::{Answer, WebSocket};
    /// # fn f(stream: std::net::TcpStream) -> Result<(), wstate::blocking::Error> {
    /// let ws = WebSocket::accept_with(stream, wstate::Config::default(), |request| {
    ///     if request.path() != "/chat" || request.origin() != Some("https://example.com") {
    ///         return Answer::reject(403);
    ///     }
    ///     match request.subprotocols().find(|p| *p == "chat.v2") {
    ///         Some(p) => Answer::accept_subprotocol(p),
    ///         None => Answer::reject(400),
    ///     }
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn accept_with(
        stream: S,
        config: Config,
        decide: impl FnOnce(&Request<'_>) -> Answer,
    ) -> Result<Self, Error> {
        let mut ws = Self::new(stream, Connection::server(config), Vec::new());
        let mut decide = Some(decide);
        loop {
            let out = &mut ws.out;
            match ws.conn.poll_event(out) {
                Polled::Event(Event::Request(request), tx) => {
                    // Only one request is delivered: the connection is open,
                    // refused or failed after it.
                    let answer = match decide.take() {
                        Some(decide) => decide(&request),
                        None => Answer::reject(500),
                    };
                    let (refused, result) = match &answer {
                        Answer::Accept {
                            subprotocol,
                            headers,
                        } => {
                            let headers = fields(headers);
                            let mut accept = Accept::new().headers(&headers);
                            if let Some(subprotocol) = subprotocol {
                                accept = accept.subprotocol(subprotocol);
                            }
                            (None, tx.accept(&accept, out))
                        }
                        Answer::Reject {
                            status,
                            headers,
                            body,
                        } => (
                            Some(*status),
                            tx.reject(*status, &fields(headers), body, out),
                        ),
                    };
                    if let Err(e) = result {
                        // Nothing was written: the caller's answer is not
                        // one the client may get.
                        let _ = ws.conn.sender().reject(500, &[], b"", &mut ws.out);
                        return Err(ws.fail_handshake(Error::Send(e)));
                    }
                    if let Some(status) = refused {
                        return Err(ws.fail_handshake(Error::Rejected(status)));
                    }
                    if let Answer::Accept { subprotocol, .. } = answer {
                        ws.subprotocol = subprotocol;
                    }
                    ws.write_out()?;
                    return Ok(ws);
                }
                Polled::Event(..) => {}
                Polled::NeedMore => ws.read_once()?,
                Polled::Failed(e) => return Err(ws.fail_handshake(Error::Peer(e))),
                Polled::Done => return Err(ws.fail_handshake(Error::Closed)),
            }
        }
    }

    /// Client: sends the upgrade `request` over `stream` (connected by the
    /// caller: TCP, or TLS around it) and reads the server's answer.
    /// `entropy` fills the nonce and the mask keys with random bytes
    /// ([`os_entropy`](crate::os_entropy) with feature `getrandom`); with
    /// [`Config::with_deflate`], permessage-deflate is offered. The
    /// subprotocols and extra headers are the `request`'s
    /// ([`ClientRequest::subprotocols`], [`ClientRequest::headers`]).
    ///
    /// Errors: [`Error::Send`] for a request that cannot be written (an
    /// invalid host, path or header), [`Error::Peer`] with a
    /// [`HandshakeError`](crate::HandshakeError) when the server refused
    /// ([`Rejected`](crate::HandshakeError::Rejected), with its response) or
    /// answered wrongly, or the handshake timed out.
    ///
    /// ```no_run
    /// use std::net::TcpStream;
    /// use wstate::blocking::WebSocket;
    /// use wstate::{Config, WsUrl};
    /// # fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let url = WsUrl::parse("ws://127.0.0.1:9002/chat")?;
    /// let stream = TcpStream::connect((url.host(), url.port()))?;
    /// let headers = [("Origin", "https://example.com")];
    /// let request = url.request().subprotocols(&["chat.v2"]).headers(&headers);
    /// let entropy = |b: &mut [u8]| getrandom::fill(b).expect("OS entropy"); // or wstate::os_entropy
    /// let ws = WebSocket::connect(stream, &request, entropy, Config::default())?;
    /// println!("subprotocol: {:?}", ws.subprotocol());
    /// # Ok(()) }
    /// ```
    pub fn connect(
        stream: S,
        request: &ClientRequest<'_>,
        entropy: impl FnMut(&mut [u8]) + Send + 'static,
        config: Config,
    ) -> Result<Self, Error> {
        let mut out = Vec::new();
        let conn = Connection::client(request, entropy, config, &mut out)?;
        let mut ws = Self::new(stream, conn, out);
        loop {
            match ws.conn.poll_event(&mut ws.out) {
                Polled::Event(Event::Accepted(accepted), _) => {
                    ws.subprotocol = accepted.subprotocol().map(String::from);
                    return Ok(ws);
                }
                Polled::Event(..) => {}
                Polled::NeedMore => ws.read_once()?,
                Polled::Failed(e) => return Err(ws.fail_handshake(Error::Peer(e))),
                Polled::Done => return Err(ws.fail_handshake(Error::Closed)),
            }
        }
    }
}
