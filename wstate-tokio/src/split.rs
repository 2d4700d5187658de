//! Owned halves: a [`Reader`] and a [`Writer`] over one connection, for
//! two tasks at once.
//!
//! Both hold the connection (with its compressor and inflater) behind one
//! mutex, locked only inside a `poll` and never across an `.await`. The
//! transport's wakeups go to one waker that wakes whichever halves wait,
//! so neither half's wait can be lost when the other polls the transport.
//! The cost against the unsplit stream: an uncontended lock per poll.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker, ready};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use wstate::{CloseCode, Event};

use crate::driver::Driver;
use crate::reply::Reply;
use crate::{Error, Message};

const READER: usize = 0;
const WRITER: usize = 1;

/// The wakers of the halves waiting for the transport or the clock.
#[derive(Default)]
struct Wakers([Mutex<Option<Waker>>; 2]);

impl Wakers {
    fn register(&self, half: usize, waker: &Waker) {
        let mut slot = self.0[half].lock().unwrap_or_else(PoisonError::into_inner);
        match &*slot {
            Some(old) if old.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        for slot in &self.0 {
            let waker = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

struct Shared<S> {
    driver: Mutex<Driver<S>>,
    wakers: Arc<Wakers>,
    /// Wakes both halves' wakers; the one the transport and timer see.
    waker: Waker,
}

impl<S> Shared<S> {
    /// Runs `f` on the connection for `half`, with the shared waker.
    fn poll<R>(
        &self,
        half: usize,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Driver<S>, &mut Context<'_>) -> R,
    ) -> R {
        self.wakers.register(half, cx.waker());
        let mut cx = Context::from_waker(&self.waker);
        f(&mut self.lock(), &mut cx)
    }

    fn lock(&self) -> MutexGuard<'_, Driver<S>> {
        // A panic in a caller's closure leaves the connection consistent:
        // the core changes state only between calls.
        self.driver.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) fn split<S>(driver: Driver<S>) -> (Reader<S>, Writer<S>) {
    let wakers = Arc::new(Wakers::default());
    let shared = Arc::new(Shared {
        driver: Mutex::new(driver),
        waker: Waker::from(wakers.clone()),
        wakers,
    });
    (
        Reader {
            shared: shared.clone(),
        },
        Writer { shared },
    )
}

/// The reading half of a [`WebSocket`](crate::WebSocket): messages in, and
/// what the protocol owes the peer (Pongs, the reply to a Close) out, even
/// while the writer is idle.
pub struct Reader<S> {
    shared: Arc<Shared<S>>,
}

/// The writing half of a [`WebSocket`](crate::WebSocket).
pub struct Writer<S> {
    shared: Arc<Shared<S>>,
}

impl<S> std::fmt::Debug for Reader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

impl<S> std::fmt::Debug for Writer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Reader<S> {
    /// The next message, as [`WebSocket::recv`](crate::WebSocket::recv)
    /// (cancel-safe too).
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.shared.poll(READER, cx, Driver::poll_recv)).await
    }

    /// The borrowing form, as
    /// [`WebSocket::next_event`](crate::WebSocket::next_event). The
    /// connection is locked while `f` runs: the writer waits meanwhile.
    pub async fn next_event<T>(
        &mut self,
        mut f: impl FnMut(Event<'_>, Reply<'_>) -> T,
    ) -> Option<Result<T, Error>> {
        poll_fn(|cx| {
            self.shared.poll(READER, cx, |driver, cx| {
                driver.poll_event(cx, &mut |event, reply| Some(f(event, reply)))
            })
        })
        .await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Writer<S> {
    /// Sends a message, as [`WebSocket::send`](crate::WebSocket::send).
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.shared.poll(WRITER, cx, Driver::poll_ready)).await?;
        self.shared.lock().start_send(&message)?;
        poll_fn(|cx| self.shared.poll(WRITER, cx, Driver::poll_flush)).await
    }

    /// Queues a [`PreparedMessage`](wstate::PreparedMessage), a message
    /// framed (and compressed, where the connections allow) once for many
    /// connections, as [`Sink::start_send`] queues a [`Message`]: after
    /// `poll_ready`, written by the next flush.
    /// [`Sender::send_prepared`](wstate::Sender::send_prepared) says when
    /// the built bytes are shared.
    pub fn start_send_prepared(&mut self, prepared: &wstate::PreparedMessage) -> Result<(), Error> {
        self.shared
            .lock()
            .queue(|tx, out| tx.send_prepared(prepared, out))
    }

    /// Sends our Close and writes it; the reader receives the peer's answer
    /// and ends.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        poll_fn(|cx| {
            self.shared.poll(WRITER, cx, |driver, cx| {
                driver.poll_close_sent(cx, code, reason)
            })
        })
        .await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for Reader<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared.poll(READER, cx, Driver::poll_recv)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for Writer<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll(WRITER, cx, Driver::poll_ready)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.shared.lock().start_send(&message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll(WRITER, cx, Driver::poll_flush)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let sent = self.shared.poll(WRITER, cx, |driver, cx| {
            driver.poll_close_sent(cx, CloseCode::NORMAL, "")
        });
        ready!(sent)?;
        Poll::Ready(Ok(()))
    }
}
