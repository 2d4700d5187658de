//! [`WebSocket`]: a stream of owned messages and a sink for them, with the
//! borrowing form beside it.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use wstate::{CloseCode, CloseFrame, Connection, Event, SendError};

use crate::driver::Driver;
use crate::reply::Reply;
use crate::split::{Reader, Writer, split};
use crate::{Error, Message};

/// A WebSocket over any `AsyncRead + AsyncWrite` stream: a TCP or TLS
/// stream, a `tokio::io::duplex` end, an upgraded hyper connection.
///
/// Read with [`recv`](Self::recv) (or as a [`Stream`]), write with
/// [`send`](Self::send) (or as a [`Sink`]), end with
/// [`close`](Self::close); [`next_event`](Self::next_event) hands out the
/// connection's events without copying them. Pongs, the reply to a Close,
/// keepalive Pings and the deadlines are handled while it is read.
///
/// The connection ends properly (our last bytes written, the transport
/// shut down and drained) inside the call that reports its end: `recv`
/// returning the peer's Close or an error, or [`close`](Self::close). A
/// `WebSocket` dropped earlier drops its transport at once.
///
/// Made by [`accept`](crate::accept), [`connect`](crate::connect) and
/// their `_with` forms, or by [`Options::open`](crate::Options::open) over a
/// connection upgraded elsewhere.
pub struct WebSocket<S> {
    /// Boxed: a `WebSocket` is one pointer in the caller's future, however
    /// the compiler lays that future out.
    pub(crate) driver: Box<Driver<S>>,
}

impl<S> std::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("connection", &self.driver.conn)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<S> {
    /// The next message, owned.
    pub(crate) fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        self.poll_event(cx, &mut |event, _| Message::from_event(event))
    }

    /// Queues a message (after [`poll_ready`](Self::poll_ready)).
    pub(crate) fn start_send(&mut self, message: &Message) -> Result<(), Error> {
        use wstate::Message as M;
        self.queue(|tx, out| match message {
            Message::Text(text) => tx.send(M::Text(text.as_str()), out),
            Message::Binary(bytes) => tx.send(M::Binary(bytes), out),
            Message::TextPart { part, last: false } => tx.send_part(M::Text(part.as_str()), out),
            Message::TextPart { part, last: true } => tx.finish(M::Text(part.as_str()), out),
            Message::BinaryPart { part, last: false } => tx.send_part(M::Binary(part), out),
            Message::BinaryPart { part, last: true } => tx.finish(M::Binary(part), out),
            Message::Ping(bytes) => tx.send(M::Ping(bytes), out),
            Message::Pong(bytes) => tx.send(M::Pong(bytes), out),
            Message::Close(None) => tx.close(CloseCode::NORMAL, "", out),
            Message::Close(Some(frame)) => tx.close(frame.code, frame.reason(), out),
        })
    }

    /// Queues our Close unless one went out, then writes it.
    pub(crate) fn poll_close_sent(
        &mut self,
        cx: &mut Context<'_>,
        code: CloseCode,
        reason: &str,
    ) -> Poll<Result<(), Error>> {
        if self.conn.sent_close().is_none() && self.conn.received_close().is_none() {
            match self.queue(|tx, out| tx.close(code, reason, out)) {
                Ok(()) | Err(Error::Send(SendError::Closed)) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        self.poll_flush(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// The next message: `Some(Ok(..))` for each message (the peer's Close
    /// last, once the connection ended), `Some(Err(..))` once if it failed,
    /// then `None`.
    ///
    /// **Cancel-safe**: every message stays in the connection until the
    /// call that returns it, so dropping this future (a `select!` branch
    /// that lost) loses nothing; the next call returns it.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.driver.poll_recv(cx)).await
    }

    /// Sends a message: waits while more than the output bound is queued,
    /// queues it, then writes it out. A Close starts the closing handshake
    /// (read on until [`recv`](Self::recv) says `None`, or use
    /// [`close`](Self::close)).
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.driver.poll_ready(cx)).await?;
        self.driver.start_send(&message)?;
        poll_fn(|cx| self.driver.poll_flush(cx)).await
    }

    /// Closes: sends our Close (unless one went out), then reads until the
    /// peer's Close and the end of the connection (bounded by
    /// [`Config::close_timeout`](wstate::Config::close_timeout)), dropping
    /// messages that arrive meanwhile. Returns the peer's Close as the
    /// connection recorded it (1006 if the transport ended or the close
    /// timeout passed without one), or `None` if none came.
    pub fn close<'a>(
        &'a mut self,
        code: CloseCode,
        reason: &'a str,
    ) -> impl Future<Output = Result<Option<CloseFrame>, Error>> + 'a {
        // A closure rather than an `async` block: the future stays a few
        // words, however it is nested in the caller's.
        let mut sent = false;
        poll_fn(move |cx| {
            if !sent {
                ready!(self.driver.poll_close_sent(cx, code, reason))?;
                sent = true;
            }
            while ready!(self.driver.poll_event(cx, &mut |_, _| Some(())))
                .transpose()?
                .is_some()
            {}
            Poll::Ready(Ok(self.driver.conn.received_close().cloned()))
        })
    }

    /// The borrowing form of [`recv`](Self::recv): `f` gets the next event
    /// (which borrows the connection's receive buffer) and a [`Reply`] to
    /// answer it while it is held, so an echo copies nothing. Returns what
    /// `f` returned; the peer's Close comes last, once the connection
    /// ended. Cancel-safe like `recv`.
    ///
    /// ```no_run
    /// # async fn echo(mut ws: wstate_tokio::WebSocket<tokio::net::TcpStream>) {
    /// use wstate::Event;
    /// while let Some(Ok(())) = ws.next_event(|event, reply| {
    ///     let _ = match event {
    ///         Event::Text(text) => reply.send(wstate::Message::Text(text)),
    ///         Event::Binary(bytes) => reply.send(wstate::Message::Binary(bytes)),
    ///         _ => Ok(()),
    ///     };
    /// }).await {}
    /// # }
    /// ```
    pub async fn next_event<T>(
        &mut self,
        mut f: impl FnMut(Event<'_>, Reply<'_>) -> T,
    ) -> Option<Result<T, Error>> {
        poll_fn(|cx| {
            self.driver
                .poll_event(cx, &mut |event, reply| Some(f(event, reply)))
        })
        .await
    }

    /// Splits into a reader and a writer that two tasks may use at once.
    /// The reader still writes what the protocol owes (Pongs, the reply
    /// to a Close), in order with the writer's messages.
    pub fn split(self) -> (Reader<S>, Writer<S>) {
        split(*self.driver)
    }

    /// The subprotocol the handshake settled on, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.driver.subprotocol.as_deref()
    }

    /// The connection, for its getters (state, the Closes sent and
    /// received, the deflate parameters, ...).
    pub fn connection(&self) -> &Connection {
        &self.driver.conn
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.driver.stream
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().driver.poll_recv(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().driver.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.get_mut().driver.start_send(&message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().driver.poll_flush(cx)
    }

    /// Sends our Close (1000) unless one went out, and writes it; the
    /// peer's answer is read by the stream side.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let driver = &mut self.get_mut().driver;
        ready!(driver.poll_close_sent(cx, CloseCode::NORMAL, ""))?;
        Poll::Ready(Ok(()))
    }
}
