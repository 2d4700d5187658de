//! # wstate-tokio: WebSocket streams for tokio
//!
//! Turns any `AsyncRead + AsyncWrite + Unpin` stream into a WebSocket over
//! the sans-IO [`wstate`] core: a [`Stream`](futures_core::Stream) of owned
//! [`Message`]s and a [`Sink`](futures_sink::Sink) for them, plain
//! `async fn`s ([`WebSocket::recv`], [`WebSocket::send`],
//! [`WebSocket::close`]), a borrowing form for zero-copy answers
//! ([`WebSocket::next_event`]) and owned halves ([`WebSocket::split`]).
//!
//! ```no_run
//! use wstate_tokio::Message;
//!
//! # async fn run() -> Result<(), wstate_tokio::Error> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     tokio::spawn(async move {
//!         let mut ws = wstate_tokio::accept(stream).await?;
//!         while let Some(message) = ws.recv().await {
//!             match message? {
//!                 message @ (Message::Text(_) | Message::Binary(_)) => ws.send(message).await?,
//!                 _ => {} // Pings are answered already; a Close comes last
//!             }
//!         }
//!         Ok::<(), wstate_tokio::Error>(())
//!     });
//! }
//! # }
//! ```
//!
//! What the adapter does for the caller:
//!
//! * **Time**: the handshake timeout, keepalive Pings (a peer that stops
//!   answering is failed with 1011) and the close timeout run on tokio's
//!   clock, with the core's defaults ([`wstate::Config`]).
//! * **Memory**: reads land in one buffer per thread, shared by every
//!   connection polled there, and are fed to the connection at once; a
//!   connection's own receive buffer grows only while a large message
//!   streams in, and is given back once the connection has been quiet for
//!   100 ms (a large message that follows sooner reuses it). Output is bounded
//!   ([`Options::max_output`]): `send` and `Sink::poll_ready` wait for
//!   room, and the reading side waits for its answers to be written. No
//!   queue is unbounded.
//! * **Closing**: once the connection is done (the closing handshake, a
//!   protocol error, a timeout), our last bytes are written, our direction
//!   is shut down, and what the peer still sends is read and dropped
//!   (bounded, [`Options::linger`]) before the transport is dropped, so the
//!   kernel does not reset the connection under our Close.
//! * **Graceful shutdown**: connections made with
//!   [`Options::shutdown`] watch a [`Shutdown`] handle;
//!   [`Shutdown::close_all`] sends each live one Close 1001 (once, not to
//!   one closing already), each reads on until the peer's Close or the
//!   close timeout and ends as above, and [`Shutdown::wait`] waits for
//!   them, bounded, returning how many did not end. It works for the
//!   unsplit stream and for split halves, whichever of them is polled.
//! * **Large messages**: with
//!   [`Config::with_receive_parts`](wstate::Config::with_receive_parts)
//!   in [`Options::config`], messages arrive as [`Message::TextPart`] and
//!   [`Message::BinaryPart`] while they stream in, never held whole.
//! * **Errors** say whose fault: the peer's ([`Error::Protocol`], with the
//!   close code we sent), the caller's ([`Error::Send`]: send after the
//!   Close, an invalid close code, ...), the transport's ([`Error::Io`]).
//!   No input and no misuse panics.
//!
//! A client: [`connect`] to a `ws://` URL, or a `wss://` one with feature
//! `rustls` (TLS through tokio-rustls, `Options::tls` for a
//! configuration of your own), or [`connect_with`] over a stream you have.
//!
//! Received messages are copied once out of the connection's buffer into
//! their `Bytes`; [`WebSocket::next_event`] copies nothing.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod driver;
mod error;
mod handshake;
mod message;
mod reply;
mod shutdown;
mod socket;
mod split;
mod stream;
#[cfg(feature = "hyper")]
pub mod upgrade;

pub use error::Error;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
pub use handshake::{AcceptOptions, ConnectRequest, Options, Reject};
pub use message::{Message, Utf8Bytes};
pub use reply::Reply;
pub use shutdown::Shutdown;
pub use socket::WebSocket;
pub use split::{Reader, Writer};
pub use stream::MaybeTlsStream;
/// The TLS library under `wss://` (feature `rustls`), for a
/// [`ClientConfig`](rustls::ClientConfig) of your own ([`Options::tls`]).
#[cfg(feature = "rustls")]
pub use tokio_rustls::rustls;
pub use wstate;
pub use wstate::{CloseCode, CloseFrame};

use std::future::Future;

use tokio::io::{AsyncRead, AsyncWrite};

/// Server: reads the upgrade request from `stream` and accepts it, with
/// [`Options::default`].
pub fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
) -> impl Future<Output = Result<WebSocket<S>, Error>> {
    Options::default().accept(stream)
}

/// Server: reads the upgrade request and lets `decide` accept or refuse
/// it, with [`Options::default`]; see [`Options::accept_with`].
pub fn accept_with<S, F>(stream: S, decide: F) -> impl Future<Output = Result<WebSocket<S>, Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&wstate::Request<'_>) -> Result<AcceptOptions, Reject>,
{
    Options::default().accept_with(stream, decide)
}

/// Client: opens a WebSocket over a stream the caller has, with
/// [`Options::default`]; see [`Options::connect_with`].
pub fn connect_with<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    request: &ConnectRequest,
) -> impl Future<Output = Result<WebSocket<S>, Error>> + use<S> {
    Options::default().connect_with(stream, request)
}

/// Client: connects to a `ws://` URL, or a `wss://` one with feature
/// `rustls`, with [`Options::default`]; see [`Options::connect`].
pub async fn connect(url: &str) -> Result<WebSocket<MaybeTlsStream>, Error> {
    Options::default().connect(url).await
}
