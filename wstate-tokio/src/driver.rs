//! The IO loop over a [`Connection`], written once for every face of the
//! crate (the stream, its halves, the handshakes): read, feed, tell the
//! time, poll events, write what is queued, and end the connection so that
//! our last bytes reach the peer.
//!
//! Everything here is a `poll_*` method that keeps its progress in the
//! [`Driver`], never in a future: dropping a future that polls it loses
//! nothing, which is what makes `recv` cancel-safe.

use std::cell::{Cell, RefCell};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use wstate::{
    CloseCode, CloseFrame, Connection, ConnectionState, Event, Polled, SendError, Sender,
};

use crate::Error;
use crate::reply::{Reply, WriteNow};
use crate::shutdown::Watcher;

/// Bytes read per syscall: the size of the buffer shared by the reads of
/// one thread.
pub(crate) const READ_CHUNK: usize = 64 << 10;

/// Room asked for by a read straight into the connection's buffer, while
/// a large message streams in: the connection offers what the frame still
/// needs and 64 KiB more, up to this, so a 1 MiB message takes a few reads
/// and the buffer grows at most 64 KiB past the frame.
const DIRECT_CHUNK: usize = 1 << 20;

/// How long a connection that went quiet after a large message keeps the
/// receive buffer it grew, in case another follows: a message after a
/// shorter pause reuses it rather than allocating (and zeroing) it again.
const SHRINK_AFTER: Duration = Duration::from_millis(100);

/// A read larger than this grows the connection's buffer enough to keep
/// it for [`SHRINK_AFTER`]; after smaller ones it is freed at once.
const KEEP_READ: usize = 4 << 10;

/// The largest output buffer a thread keeps spare.
const SPARE_MAX: usize = 64 << 10;

thread_local! {
    /// An output buffer that an idle connection gave back, for the next
    /// connection on this thread with something to write: connections that
    /// answer and go idle in turn reuse one buffer rather than each
    /// allocating and freeing its own.
    static SPARE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };

    /// The read buffer shared by every connection polled on this thread:
    /// a read lands here and is fed to its connection at once, which
    /// copies it into its own receive buffer; an idle connection keeps
    /// that one only while it is small (`retained_buffer`, 128 bytes by
    /// default), not the room of a read.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// [`WriteNow`] over the driver's transport, inside one poll.
struct Now<'a, 'b, S> {
    stream: &'a mut S,
    cx: &'a mut Context<'b>,
    written: &'a mut usize,
    unflushed: &'a mut bool,
    /// The write failed: the driver fails the connection with it.
    error: Option<io::Error>,
}

impl<S: AsyncWrite + Unpin> WriteNow for Now<'_, '_, S> {
    fn write(&mut self, out: &mut Vec<u8>, payload: &[u8]) {
        let queued = out.len() - *self.written;
        let total = queued + payload.len();
        let mut taken = 0;
        while taken < total {
            let (head, tail) = match taken.checked_sub(queued) {
                None => (&out[*self.written + taken..], payload),
                Some(into_payload) => (&[][..], &payload[into_payload..]),
            };
            let bufs = [IoSlice::new(head), IoSlice::new(tail)];
            match Pin::new(&mut *self.stream).poll_write_vectored(self.cx, &bufs) {
                Poll::Ready(Ok(0)) => {
                    self.error = Some(io::ErrorKind::WriteZero.into());
                    break;
                }
                Poll::Ready(Ok(n)) => taken += n,
                Poll::Ready(Err(e)) => {
                    self.error = Some(e);
                    break;
                }
                Poll::Pending => break,
            }
        }
        *self.unflushed |= taken > 0;
        match taken.checked_sub(queued) {
            None => {
                *self.written += taken;
                out.extend_from_slice(payload);
            }
            Some(from) => {
                out.clear();
                *self.written = 0;
                out.extend_from_slice(&payload[from..]);
            }
        }
    }
}

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
    /// How many bytes of the peer's are read and dropped at most then
    /// (counted down while they are).
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
    /// `limits.linger_bytes` says how many more at most.
    Draining,
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
    timer: Option<Timer>,
    /// The last read filled the shared buffer: a large message streams in,
    /// so reads go straight into the connection's buffer.
    direct: bool,
    /// A large read (more than `KEEP_READ`, or straight into the
    /// connection's buffer) came since the buffer was last shrunk: once the
    /// connection is quiet, the buffer is freed at `shrink_at`.
    grown: bool,
    /// In milliseconds of the connection's time: a `u32`, so that the
    /// driver stays within its allocation's size (after 49 days it
    /// saturates, and the buffer is freed at once).
    shrink_at: Option<u32>,
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
            grown: false,
            shrink_at: None,
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
    /// and a failure comes as `Err` at the same point. `f` is generic
    /// rather than `dyn`, so that the event (a large value) reaches the
    /// caller's closure without a copy on the way.
    pub(crate) fn poll_event<T>(
        &mut self,
        cx: &mut Context<'_>,
        f: &mut impl FnMut(Event<'_>, Reply<'_>) -> Option<T>,
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
                        f(event, Reply::new(self.conn.sender(), &mut self.out, None)).map(Ok)
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
            // Large answers are written from the event's buffer by a
            // server without compression, over a transport that takes
            // vectored writes (a client masks, a compressor copies).
            let direct = !self.conn.is_client()
                && self.conn.deflate().is_none()
                && self.stream.is_write_vectored();
            if self.out.capacity() == 0 {
                self.out = SPARE.take();
            }
            match self.conn.poll_event(&mut self.out) {
                Polled::Event(Event::Close(frame), _) => {
                    self.end = Some(Box::new(End::Close(frame)))
                }
                Polled::Event(event, tx) => {
                    let mut now = Now {
                        stream: &mut self.stream,
                        cx,
                        written: &mut self.written,
                        unflushed: &mut self.unflushed,
                        error: None,
                    };
                    let write_now = direct.then_some(&mut now as &mut dyn WriteNow);
                    let value = f(event, Reply::new(tx, &mut self.out, write_now));
                    let failed = now.error;
                    if let Some(e) = failed {
                        // Reported after the value, as a failed write
                        // below would be.
                        self.fail_io(e);
                    } else if value.is_some()
                        && self.conn.unread_input() == 0
                        && let Poll::Ready(Err(e)) = self.poll_write(cx)
                    {
                        // The last event of a read: start writing the
                        // answers now (what does not fit goes with the
                        // next poll or send). Before it, the answers of
                        // the read's events gather, to leave in one write
                        // when the next poll hands out its last event.
                        self.fail_io(e);
                    }
                    if let Some(value) = value {
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
                    if self.pending() == 0 {
                        self.go_idle();
                    }
                    if self.poll_timer(cx).is_ready() {
                        continue;
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
    #[inline]
    fn heed_shutdown(&mut self, cx: &Context<'_>) {
        if self.watch.as_mut().is_some_and(|w| w.poll(cx.waker())) {
            self.shut_down_now();
        }
    }

    /// A shutdown came: see [`heed_shutdown`](Self::heed_shutdown).
    #[cold]
    fn shut_down_now(&mut self) {
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

    /// Waits for the next deadline, the connection's or the shrinking of
    /// its buffers, and acts on it. `Pending` while none is armed.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.conn.poll_timeout();
        let shrink = self.shrink_at.map(|ms| Duration::from_millis(ms.into()));
        let at = match (deadline, shrink) {
            (Some(conn), Some(shrink)) => conn.min(shrink),
            (Some(at), None) | (None, Some(at)) => at,
            (None, None) => return Poll::Pending,
        };
        ready!(self.poll_sleep(cx, self.start + at));
        if shrink.is_some_and(|shrink| shrink <= at) {
            self.shrink_at = None;
            self.grown = false;
            self.conn.shrink_buffers();
        }
        if let Some(deadline) = deadline.filter(|d| *d <= at) {
            // The deadline passed: tokio's timer fired at or after it.
            let now = self.now().max(deadline);
            self.conn.handle_timeout(now, &mut self.out);
        }
        Poll::Ready(())
    }

    /// Sleeps until `at` in the one timer of the connection. A deadline
    /// that moved later (the keepalive's, with every message received)
    /// leaves the timer where it is: it wakes early once and is set again
    /// then, rather than reset for every message.
    fn poll_sleep(&mut self, cx: &mut Context<'_>, at: Instant) -> Poll<()> {
        let timer = self.timer.get_or_insert_with(|| Timer::new(at));
        if at < timer.deadline() {
            timer.reset(at);
        }
        loop {
            ready!(timer.poll(cx));
            if timer.deadline() >= at {
                return Poll::Ready(());
            }
            // It fired for an earlier deadline that has moved since.
            timer.reset(at);
        }
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
        // An idle connection keeps no output buffer: it goes to the
        // thread's spare (the larger of the two stays) or is freed.
        let mut out = std::mem::take(&mut self.out);
        if out.capacity() <= SPARE_MAX {
            out.clear();
            let spare = SPARE.take();
            SPARE.set(if spare.capacity() < out.capacity() {
                out
            } else {
                spare
            });
        }
        self.written = 0;
        if self.conn.deflate().is_none() {
            if self.grown {
                // Kept a moment for the next large message.
                if self.shrink_at.is_none() {
                    let at = (self.now() + SHRINK_AFTER).as_millis();
                    self.shrink_at = Some(u32::try_from(at).unwrap_or(u32::MAX));
                }
            } else {
                self.conn.shrink_buffers();
            }
        }
    }

    /// Reads once and feeds the bytes (or the end of the stream) to the
    /// connection. A read error that says the peer reset the connection is
    /// taken as the end of the stream.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let direct = self.direct;
        let result = if direct {
            self.poll_read_direct(cx)
        } else {
            self.poll_read_shared(cx)
        };
        match ready!(result) {
            Ok(n) => {
                self.direct = n >= READ_CHUNK;
                if direct || n > KEEP_READ {
                    // The connection's buffer grew for this read: kept a
                    // moment once the connection is quiet (`go_idle`).
                    self.grown = true;
                    self.shrink_at = None;
                }
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
        read_into(&mut self.stream, &mut self.conn, cx, DIRECT_CHUNK)
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
            Some(timer) => timer.reset(deadline),
            None => self.timer = Some(Timer::new(deadline)),
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
                            Ok(()) => Ending::Draining,
                            Err(_) => Ending::Ended,
                        })
                }
                Ending::Draining => self.poll_discard(cx).map(|r| match r {
                    Ok(n) if n > 0 && n < self.limits.linger_bytes as usize => {
                        self.limits.linger_bytes -= n as u32;
                        Ending::Draining
                    }
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

/// tokio's timer for one deadline, polled again only when that can change
/// something: after the deadline moved, after it fired, or from another
/// task. (A poll registers the task's waker with tokio's timer, which keeps
/// it until the deadline; with every message the same task waits on the
/// same deadline.)
struct Timer {
    sleep: Pin<Box<Sleep>>,
    /// The waker of the poll that left the sleep pending, until the deadline
    /// moves.
    polled_with: Option<Waker>,
}

impl Timer {
    fn new(at: Instant) -> Self {
        Self {
            sleep: Box::pin(tokio::time::sleep_until(at)),
            polled_with: None,
        }
    }

    fn deadline(&self) -> Instant {
        self.sleep.deadline()
    }

    fn reset(&mut self, at: Instant) {
        self.sleep.as_mut().reset(at);
        self.polled_with = None;
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(waker) = &self.polled_with
            && waker.will_wake(cx.waker())
            && !self.sleep.is_elapsed()
        {
            return Poll::Pending;
        }
        let polled = self.sleep.as_mut().poll(cx);
        // A poll that the task's budget refused registered nothing: the
        // next one must poll again.
        self.polled_with = (polled.is_pending() && tokio::task::coop::has_budget_remaining())
            .then(|| cx.waker().clone());
        polled
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

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use tokio::net::TcpStream;
    use wstate::Connection;

    use super::Driver;

    /// Every connection holds one driver, in one allocation (648 bytes over
    /// TCP in a release build without features: a 656-byte chunk of
    /// glibc's). 16 bytes more measured 158 bytes more per idle connection
    /// (2,000 of them, `scripts/many_connections.sh`): a change of size
    /// here is a choice to make with that measure, not by accident.
    #[test]
    fn the_driver_adds_136_bytes_to_its_connection_and_stream() {
        let own = size_of::<Driver<TcpStream>>() - size_of::<Connection>() - size_of::<TcpStream>();
        assert_eq!(own, 136);
    }
}
