//! The IO loop over a [`Connection`], written once for every face of the
//! crate (the stream, its halves, the handshakes): read, feed, tell the
//! time, poll events, write what is queued, and end the connection so that
//! our last bytes reach the peer.
//!
//! Everything here is a `poll_*` method that keeps its progress in the
//! [`Driver`], never in a future: dropping a future that polls it loses
//! nothing, which is what makes `recv` cancel-safe.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use wstate::{
    CloseCode, CloseFrame, Connection, ConnectionState, Event, Polled, SendError, Sender,
};

use crate::Error;
use crate::shutdown::Watcher;

/// Bytes read per syscall: the size of the buffer shared by the reads of
/// one thread.
pub(crate) const READ_CHUNK: usize = 64 << 10;

/// Output capacity an idle connection keeps: none. The output buffer is
/// freed once written and the connection waits for the peer (an allocation
/// per answer is cheaper than its memory in every idle connection).
const IDLE_OUTPUT: usize = 0;

thread_local! {
    /// The read buffer shared by every connection polled on this thread:
    /// a read lands here and is fed to its connection at once, which keeps
    /// only what it cannot hand out yet (a partial frame). An idle
    /// connection so holds no read buffer of its own.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// What the caller does with an event: its value, or `None` to skip it.
pub(crate) type OnEvent<'f, T> = dyn FnMut(Event<'_>, Sender<'_>, &mut Vec<u8>) -> Option<T> + 'f;

/// Limits of the IO around the connection (the protocol's own are in
/// [`wstate::Config`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Output queued beyond this makes senders wait.
    pub(crate) max_output: u32,
    /// How long the end of a connection may take, in milliseconds: writing
    /// our last bytes, then reading (and dropping) what the peer still
    /// sends.
    pub(crate) linger_ms: u32,
    /// How many bytes of the peer's are read and dropped at most then.
    pub(crate) linger_bytes: u32,
}

/// Where the end of the connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// Not ending: messages flow.
    Running,
    /// The connection is done: writing what is queued (our Close, its
    /// reply, an HTTP error).
    Flushing,
    /// Shutting down our direction: the peer sees the end after our last
    /// byte.
    ShuttingDown,
    /// Reading and dropping what the peer still sends until it closes its
    /// direction, so that the kernel does not reset the connection (which
    /// could destroy our Close before the peer read it).
    Draining { left: u32 },
    /// The transport is finished with.
    Ended,
}

/// How the connection ended, to report once the ending is finished.
#[derive(Debug)]
enum End {
    Close(CloseFrame),
    Failed(Error),
}

/// A connection, its transport, its output and its clock.
pub(crate) struct Driver<S> {
    pub(crate) stream: S,
    pub(crate) conn: Connection,
    /// Bytes to write; `out[..written]` are written already.
    out: Vec<u8>,
    written: usize,
    /// The stream was written to since its last flush.
    unflushed: bool,
    /// The origin of the connection's time.
    start: Instant,
    /// The next deadline: the connection's, or the ending's.
    timer: Option<Pin<Box<Sleep>>>,
    /// The last read filled the shared buffer: a large message streams in,
    /// so reads go straight into the connection's buffer.
    direct: bool,
    /// While ending, the timer runs to the ending's deadline.
    ending: Ending,
    end: Option<Box<End>>,
    /// The end was handed to the caller; every later poll says `None`.
    reported: bool,
    limits: Limits,
    /// The subprotocol the handshake settled on.
    pub(crate) subprotocol: Option<Box<str>>,
    /// The connection's place in a [`Shutdown`](crate::Shutdown), until it
    /// ends.
    watch: Option<Box<Watcher>>,
    /// The shutdown's Close 1001 is queued: senders get `Closed`.
    shut_down: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<S> {
    /// A driver for `conn` over `stream`; `out` holds what `conn` queued
    /// already (a client's request); `watch`, its place in a shutdown. The
    /// connection's time starts now.
    pub(crate) fn new(
        stream: S,
        mut conn: Connection,
        mut out: Vec<u8>,
        limits: Limits,
        watch: Option<Box<Watcher>>,
    ) -> Self {
        conn.handle_timeout(Duration::ZERO, &mut out);
        Self {
            stream,
            conn,
            out,
            written: 0,
            unflushed: false,
            start: Instant::now(),
            timer: None,
            direct: false,
            ending: Ending::Running,
            end: None,
            reported: false,
            limits,
            subprotocol: None,
            watch,
            shut_down: false,
        }
    }

    /// The next event that `f` turns into a value (`f` returns `None` for
    /// events it skips), then `None` once the connection ended and its end
    /// was reported: `f` gets the peer's Close only after the ending is
    /// finished (our reply written, the transport shut down and drained),
    /// and a failure comes as `Err` at the same point.
    pub(crate) fn poll_event<T>(
        &mut self,
        cx: &mut Context<'_>,
        f: &mut OnEvent<'_, T>,
    ) -> Poll<Option<Result<T, Error>>> {
        self.heed_shutdown(cx);
        loop {
            if self.ending != Ending::Running {
                ready!(self.poll_ending(cx));
                if self.reported {
                    return Poll::Ready(None);
                }
                self.reported = true;
                let end = match self.end.take().map(|end| *end) {
                    Some(End::Close(frame)) => {
                        let event = Event::Close(frame);
                        f(event, self.conn.sender(), &mut self.out).map(Ok)
                    }
                    Some(End::Failed(e)) => Some(Err(e)),
                    None => None,
                };
                // A shutdown counts the connection as finished once its
                // end was handed out (what `f` did with it, done).
                self.watch = None;
                return Poll::Ready(end);
            }
            // Backpressure on the peer: answers (echoes, Pongs) wait for
            // room before more input is read.
            if self.pending() > self.max_output() {
                match self.poll_write_below(cx, self.max_output()) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => {
                        self.fail_io(e);
                        continue;
                    }
                    Poll::Pending => return Poll::Pending,
                }
            }
            match self.conn.poll_event(&mut self.out) {
                Polled::Event(Event::Close(frame), _) => {
                    self.end = Some(Box::new(End::Close(frame)))
                }
                Polled::Event(event, tx) => {
                    if let Some(value) = f(event, tx, &mut self.out) {
                        // The last event of a read: start writing the
                        // answers now (what does not fit goes with the
                        // next poll or send). Before it, the answers of
                        // the read's events gather, to leave in one write
                        // when the next poll hands out its last event.
                        if self.conn.unread_input() == 0
                            && let Poll::Ready(Err(e)) = self.poll_write(cx)
                        {
                            self.fail_io(e);
                        }
                        return Poll::Ready(Some(Ok(value)));
                    }
                }
                Polled::Failed(e) => self.end = Some(Box::new(End::Failed(e.into()))),
                Polled::Done => self.begin_ending(),
                Polled::NeedMore => {
                    if let Poll::Ready(Err(e)) = self.poll_write(cx) {
                        self.fail_io(e);
                        continue;
                    }
                    match self.poll_read(cx) {
                        Poll::Ready(Ok(())) => {
                            let now = self.now();
                            self.conn.handle_timeout(now, &mut self.out);
                            continue;
                        }
                        Poll::Ready(Err(e)) => {
                            self.fail_io(e);
                            continue;
                        }
                        Poll::Pending => {}
                    }
                    if self.poll_timer(cx).is_ready() {
                        continue;
                    }
                    if self.pending() == 0 {
                        self.go_idle();
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    /// Waits until the output queued is within the bound, so that one more
    /// message may be queued. Fails once the connection is ending.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.heed_shutdown(cx);
        if self.shut_down {
            // Our Close goes out before the sender learns it came.
            ready!(self.poll_flush(cx))?;
            return Poll::Ready(Err(Error::Send(SendError::Closed)));
        }
        self.check_running()?;
        match ready!(self.poll_write_below(cx, self.max_output())) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(self.fail_io_copy(e))),
        }
    }

    /// Queues through the connection's sender (no waiting: call
    /// [`poll_ready`](Self::poll_ready) first for backpressure).
    pub(crate) fn queue<T>(
        &mut self,
        f: impl FnOnce(Sender<'_>, &mut Vec<u8>) -> Result<T, SendError>,
    ) -> Result<T, Error> {
        self.check_running()?;
        if self.written > 0 {
            self.out.drain(..self.written);
            self.written = 0;
        }
        Ok(f(self.conn.sender(), &mut self.out)?)
    }

    /// Writes everything queued and flushes the transport.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.heed_shutdown(cx);
        if self.ending == Ending::Ended {
            return Poll::Ready(Ok(()));
        }
        if let Err(e) = ready!(self.poll_write_below(cx, 0)) {
            return Poll::Ready(Err(self.fail_io_copy(e)));
        }
        match ready!(self.poll_flush_stream(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(self.fail_io_copy(e))),
        }
    }

    /// Acts once on a [`Shutdown::close_all`](crate::Shutdown::close_all)
    /// that came: an open connection queues Close 1001 (one closing
    /// already goes on as it is), and one still in its handshake fails.
    /// Keeps the waker of the task polling, for the next one.
    fn heed_shutdown(&mut self, cx: &Context<'_>) {
        if !self.watch.as_mut().is_some_and(|w| w.poll(cx.waker())) {
            return;
        }
        match self.conn.state() {
            ConnectionState::Open if self.ending == Ending::Running => {
                // "1001 indicates that an endpoint is "going away", such as
                // a server going down" (RFC 6455 §7.4.1).
                let close = self.queue(|tx, out| tx.close(CloseCode::GOING_AWAY, "", out));
                self.shut_down = close.is_ok();
            }
            ConnectionState::Connecting => {
                self.fail_io(io::ErrorKind::ConnectionAborted.into());
            }
            _ => {}
        }
    }

    /// Output queued beyond which senders wait.
    fn max_output(&self) -> usize {
        usize::try_from(self.limits.max_output).unwrap_or(usize::MAX)
    }

    /// Bytes queued and not written yet.
    pub(crate) fn pending(&self) -> usize {
        self.out.len() - self.written
    }

    /// `Err` once the connection is ending: nothing more may be queued.
    fn check_running(&self) -> Result<(), Error> {
        match self.ending {
            Ending::Running => Ok(()),
            _ => Err(Error::Send(SendError::Closed)),
        }
    }

    /// The connection's time: since its start on tokio's clock.
    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.start)
    }

    /// Waits for the connection's next deadline and tells it the time.
    /// `Pending` while none is armed.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(deadline) = self.conn.poll_timeout() else {
            return Poll::Pending;
        };
        ready!(self.poll_sleep(cx, self.start + deadline));
        // The deadline passed: tokio's timer fired at or after it.
        let now = self.now().max(deadline);
        self.conn.handle_timeout(now, &mut self.out);
        Poll::Ready(())
    }

    /// Sleeps until `at` in the one timer of the connection.
    fn poll_sleep(&mut self, cx: &mut Context<'_>, at: Instant) -> Poll<()> {
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        if timer.deadline() != at {
            timer.as_mut().reset(at);
        }
        timer.as_mut().poll(cx)
    }

    /// Nothing to do until the peer sends: give back memory held for
    /// earlier messages.
    ///
    /// With permessage-deflate, `shrink_buffers` would also release the
    /// codec (`Release::WhenIdle`), and rebuilding it costs about ten times
    /// the compression of a small message: a connection that waits between
    /// two messages of a conversation keeps it, and the core releases it
    /// (and its large buffers) at the keepalive Ping, after a quiet
    /// interval.
    fn go_idle(&mut self) {
        if self.out.capacity() > IDLE_OUTPUT {
            self.out = Vec::new();
        }
        self.written = 0;
        self.out.clear();
        if self.conn.deflate().is_none() {
            self.conn.shrink_buffers();
        }
    }

    /// Reads once and feeds the bytes (or the end of the stream) to the
    /// connection. A read error that says the peer reset the connection is
    /// taken as the end of the stream.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = if self.direct {
            self.poll_read_direct(cx)
        } else {
            self.poll_read_shared(cx)
        };
        match ready!(result) {
            Ok(n) => {
                self.direct = n == READ_CHUNK;
                Poll::Ready(Ok(()))
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                self.conn.receive_eof();
                Poll::Ready(Ok(()))
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// Reads into the thread's shared buffer, then feeds what came.
    fn poll_read_shared(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Self { stream, conn, .. } = self;
        SCRATCH.with(|scratch| {
            // Taken by an outer read (a stream that is itself read through
            // a WebSocket on this thread): read into the connection instead.
            let Ok(mut scratch) = scratch.try_borrow_mut() else {
                return read_into(stream, conn, cx, 4 << 10);
            };
            if scratch.is_empty() {
                scratch.resize(READ_CHUNK, 0);
            }
            let mut buf = ReadBuf::new(&mut scratch);
            ready!(Pin::new(stream).poll_read(cx, &mut buf))?;
            match buf.filled() {
                [] => conn.receive_eof(),
                bytes => conn.receive(bytes),
            }
            Poll::Ready(Ok(buf.filled().len()))
        })
    }

    /// Reads straight into the connection's receive buffer.
    fn poll_read_direct(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        read_into(&mut self.stream, &mut self.conn, cx, READ_CHUNK)
    }

    /// Writes queued bytes until at most `bound` are left.
    fn poll_write_below(&mut self, cx: &mut Context<'_>, bound: usize) -> Poll<io::Result<()>> {
        while self.pending() > bound {
            let n = match Pin::new(&mut self.stream).poll_write(cx, &self.out[self.written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    // The deadlines run while we wait: a keepalive Ping (a
                    // control frame is never refused) or the end of a peer
                    // that stopped reading and answering.
                    if self.ending == Ending::Running && self.poll_timer(cx).is_ready() {
                        continue;
                    }
                    return Poll::Pending;
                }
            };
            self.written += n;
            self.unflushed = true;
        }
        if self.pending() == 0 {
            self.out.clear();
            self.written = 0;
        }
        Poll::Ready(Ok(()))
    }

    /// Writes everything queued and flushes, without waiting on the
    /// deadlines.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.pending() > 0 {
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &self.out[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
            self.unflushed = true;
        }
        self.out.clear();
        self.written = 0;
        self.poll_flush_stream(cx)
    }

    /// Flushes the transport (a TLS stream's buffer) after writes.
    fn poll_flush_stream(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.unflushed {
            ready!(Pin::new(&mut self.stream).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// The connection said `Done`: write out, shut down, drain.
    fn begin_ending(&mut self) {
        self.ending = Ending::Flushing;
        let deadline = Instant::now() + Duration::from_millis(self.limits.linger_ms.into());
        match self.timer.as_mut() {
            Some(timer) => timer.as_mut().reset(deadline),
            None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
    }

    /// The transport failed: nothing more can be written or read.
    fn fail_io(&mut self, e: io::Error) {
        if self.end.is_none() {
            self.end = Some(Box::new(End::Failed(Error::Io(e))));
        }
        self.ending = Ending::Ended;
    }

    /// [`fail_io`](Self::fail_io), returning an error of the same kind for
    /// the caller at hand (the original is reported by the reading side).
    fn fail_io_copy(&mut self, e: io::Error) -> Error {
        let copy = io::Error::new(e.kind(), e.to_string());
        self.fail_io(e);
        Error::Io(copy)
    }

    /// Drives the ending to its end, bounded by the linger time and bytes.
    fn poll_ending(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let step = match self.ending {
                Ending::Running | Ending::Ended => return Poll::Ready(()),
                Ending::Flushing => self.poll_write(cx).map(|r| match r {
                    Ok(()) => Ending::ShuttingDown,
                    Err(_) => Ending::Ended,
                }),
                Ending::ShuttingDown => {
                    Pin::new(&mut self.stream)
                        .poll_shutdown(cx)
                        .map(|r| match r {
                            Ok(()) => Ending::Draining {
                                left: self.limits.linger_bytes,
                            },
                            Err(_) => Ending::Ended,
                        })
                }
                Ending::Draining { left } => self.poll_discard(cx).map(|r| match r {
                    Ok(n) if n > 0 && n < left as usize => Ending::Draining {
                        left: left - n as u32,
                    },
                    // The peer's end, the bound, or an error.
                    _ => Ending::Ended,
                }),
            };
            match step {
                Poll::Ready(next) => self.ending = next,
                Poll::Pending => {
                    let deadline = self
                        .timer
                        .as_ref()
                        .map_or_else(Instant::now, |t| t.deadline());
                    ready!(self.poll_sleep(cx, deadline));
                    self.ending = Ending::Ended;
                }
            }
            if self.ending == Ending::Ended {
                // Nothing is held for a connection that ended.
                self.timer = None;
                self.out = Vec::new();
                self.written = 0;
                self.conn.shrink_buffers();
            }
        }
    }

    /// Reads and drops what the peer sends after the end.
    fn poll_discard(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let stream = &mut self.stream;
        SCRATCH.with(|scratch| {
            let mut small = [0; 512];
            let mut scratch = scratch.try_borrow_mut();
            let room: &mut [u8] = match scratch.as_deref_mut() {
                Ok(scratch) if !scratch.is_empty() => scratch,
                _ => &mut small,
            };
            let mut buf = ReadBuf::new(room);
            ready!(Pin::new(stream).poll_read(cx, &mut buf))?;
            Poll::Ready(Ok(buf.filled().len()))
        })
    }
}

/// Reads up to `max` bytes straight into the connection's buffer.
fn read_into<S: AsyncRead + Unpin>(
    stream: &mut S,
    conn: &mut Connection,
    cx: &mut Context<'_>,
    max: usize,
) -> Poll<io::Result<usize>> {
    let read = conn.receive_with(max, |room| {
        let mut buf = ReadBuf::new(room);
        match Pin::new(&mut *stream).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => Ok(buf.filled().len()),
            Poll::Ready(Err(e)) => Err(e),
            // Nothing was received; the task is woken when it can be.
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    });
    match read {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
        read => Poll::Ready(read),
    }
}
