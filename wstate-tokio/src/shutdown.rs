//! [`Shutdown`]: a server's graceful end, Close 1001 to every live
//! connection and a bounded wait for them.
//!
//! Each connection made with [`Options::shutdown`](crate::Options::shutdown)
//! holds a [`Watcher`]: a slot in the handle's table with the waker of the
//! task that last polled it. [`Shutdown::close_all`] raises a flag and wakes
//! every slot's waker; the connection sees the flag in its next poll (the
//! reader's, the writer's, or the unsplit stream's) and acts there, so the
//! closing runs in the connection's own task and needs no task of its own.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};
use std::time::Duration;

/// A server's graceful shutdown: [`close_all`](Self::close_all) sends
/// Close 1001 ("going away") to every live connection made with
/// [`Options::shutdown`](crate::Options::shutdown), and
/// [`wait`](Self::wait) waits, bounded, for them to end.
///
/// A connection told to shut down sends its Close once (not when it is
/// closing already), goes on reading until the peer's Close or the
/// [close timeout](wstate::Config::close_timeout), then ends as it always
/// does: its last bytes written, its direction shut down, what the peer
/// still sends drained. The reading side ([`WebSocket::recv`](crate::WebSocket::recv),
/// [`Reader::recv`](crate::Reader::recv)) sees the peer's Close and then
/// `None`; a send after the shutdown writes our Close out and fails with
/// [`Error::Send`](crate::Error::Send)([`SendError::Closed`](wstate::SendError::Closed)).
/// A handshake under way when the shutdown comes fails with
/// [`Error::Io`](crate::Error::Io)
/// ([`ConnectionAborted`](std::io::ErrorKind::ConnectionAborted)), and so
/// does every handshake started after it.
///
/// The closing runs in the connection's own task, in its next poll: a
/// connection whose task is waiting in `recv`, `send` or `close` (or
/// `next_event`, or a `Stream`/`Sink` call) is woken for it. One whose task
/// polls it no more (a [`Reader`](crate::Reader) left unread) ends when it
/// is dropped, and counts as live until then.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use std::time::Duration;
/// use wstate_tokio::{Options, Shutdown};
///
/// let shutdown = Shutdown::new();
/// let options = Options::new().shutdown(&shutdown);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
/// loop {
///     let stream = tokio::select! {
///         accepted = listener.accept() => accepted?.0,
///         _ = tokio::signal::ctrl_c() => break,
///     };
///     let accepting = options.accept(stream);
///     tokio::spawn(async move {
///         let mut ws = accepting.await?;
///         while let Some(message) = ws.recv().await {
///             if let message @ wstate_tokio::Message::Text(_) = message? {
///                 ws.send(message).await?;
///             }
///         }
///         Ok::<(), wstate_tokio::Error>(())
///     });
/// }
/// shutdown.close_all();
/// let left = shutdown.wait(Duration::from_secs(12)).await;
/// println!("{left} connection(s) did not finish in time");
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Shutdown {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    closing: AtomicBool,
    table: Mutex<Table>,
}

/// The live connections' wakers, and the tasks in [`Shutdown::wait`].
#[derive(Default)]
struct Table {
    /// A slot per connection (`None`: not polled yet, or a free slot).
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
    live: usize,
    waiting: Vec<Waker>,
}

impl Shared {
    fn table(&self) -> MutexGuard<'_, Table> {
        // The table is consistent between statements: a panic elsewhere
        // leaves nothing half done.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("closing", &self.is_closing())
            .field("live", &self.live())
            .finish()
    }
}

impl Shutdown {
    /// A handle with no connection yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tells every live connection (and every one made later) to close with
    /// 1001, and wakes their tasks. Returns at once; [`wait`](Self::wait)
    /// for them.
    pub fn close_all(&self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        // Woken outside the lock: a waker may run its task inline.
        let wakers: Vec<Waker> = self
            .shared
            .table()
            .slots
            .iter()
            .flatten()
            .cloned()
            .collect();
        for waker in wakers {
            waker.wake();
        }
    }

    /// Whether [`close_all`](Self::close_all) was called.
    pub fn is_closing(&self) -> bool {
        self.shared.closing.load(Ordering::SeqCst)
    }

    /// The connections that have not ended yet (nor been dropped).
    pub fn live(&self) -> usize {
        self.shared.table().live
    }

    /// Waits until every connection ended or `timeout` passed, and returns
    /// how many had not ended by then (0: all finished).
    pub async fn wait(&self, timeout: Duration) -> usize {
        let all_ended = std::future::poll_fn(|cx| {
            let mut table = self.shared.table();
            if table.live == 0 {
                return Poll::Ready(());
            }
            if !table.waiting.iter().any(|w| w.will_wake(cx.waker())) {
                table.waiting.push(cx.waker().clone());
            }
            Poll::Pending
        });
        let _ = tokio::time::timeout(timeout, all_ended).await;
        self.live()
    }

    /// A watcher for a new connection.
    pub(crate) fn watch(&self) -> Box<Watcher> {
        let mut table = self.shared.table();
        let slot = match table.free.pop() {
            Some(slot) => slot,
            None => {
                table.slots.push(None);
                table.slots.len() - 1
            }
        };
        table.live += 1;
        drop(table);
        Box::new(Watcher {
            shared: self.shared.clone(),
            slot,
            waker: None,
            seen: false,
        })
    }
}

/// A connection's place in a [`Shutdown`]: dropped when the connection
/// ends (or is dropped), which counts it as finished.
pub(crate) struct Watcher {
    shared: Arc<Shared>,
    slot: usize,
    /// The waker in the slot, to compare without the lock.
    waker: Option<Waker>,
    /// The shutdown was seen (and acted on) already.
    seen: bool,
}

impl Watcher {
    /// Says whether the shutdown came and was not seen before: `true`
    /// once, `false` at once after that. Until then, keeps `waker` in the
    /// slot first (the lock is taken only when the task polling the
    /// connection changed).
    #[inline]
    pub(crate) fn poll(&mut self, waker: &Waker) -> bool {
        if self.seen {
            return false;
        }
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.keep(waker);
        }
        // After the waker is in the slot: a `close_all` that comes later
        // wakes it, and one that came earlier is seen here.
        self.seen = self.shared.closing.load(Ordering::SeqCst);
        self.seen
    }

    #[cold]
    fn keep(&mut self, waker: &Waker) {
        self.waker = Some(waker.clone());
        self.shared.table().slots[self.slot] = Some(waker.clone());
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let mut table = self.shared.table();
        table.slots[self.slot] = None;
        table.free.push(self.slot);
        table.live -= 1;
        let waiting = match table.live {
            0 => std::mem::take(&mut table.waiting),
            _ => Vec::new(),
        };
        drop(table);
        for waker in waiting {
            waker.wake();
        }
    }
}
