//! [`Transport`]: what the adapter needs of a stream beyond `Read + Write`,
//! to keep time without threads and to close without losing our Close.

use std::boxed::Box;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// A blocking stream the adapter drives: `Read + Write`, and optionally
/// read timeouts and a half close.
///
/// With read timeouts ([`TcpStream`], `UnixStream`), the adapter waits for
/// bytes no longer than the connection's next deadline, so keepalive Pings,
/// the handshake timeout and the close timeout happen on time in one thread.
/// Without them (the default methods: `impl Transport for MyStream {}`, or
/// the [`Untimed`] wrapper), deadlines are checked only when a read returns:
/// a silent peer is noticed only once it sends something or the transport
/// ends, and the closing skips reading what the peer still sends (a read
/// could wait for ever).
pub trait Transport: Read + Write {
    /// Makes the next reads wait at most `timeout` (`None`: without limit),
    /// failing with [`io::ErrorKind::WouldBlock`] or
    /// [`io::ErrorKind::TimedOut`] when it passes. `timeout` is never zero.
    /// Returns whether timeouts are honoured (the default: `Ok(false)`,
    /// they are not).
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        let _ = timeout;
        Ok(false)
    }

    /// Ends our direction of the stream (TCP: sends FIN) while reads go on.
    /// The default does nothing.
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        // A zero timeout is an error to the OS: wait at least 1 ms.
        TcpStream::set_read_timeout(self, timeout.map(|t| t.max(Duration::from_millis(1))))?;
        Ok(true)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        match self.shutdown(Shutdown::Write) {
            // The peer is gone already: nothing to end.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        }
    }
}

#[cfg(unix)]
impl Transport for std::os::unix::net::UnixStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout)?;
        Ok(true)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        match self.shutdown(Shutdown::Write) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        }
    }
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        (**self).set_read_timeout(timeout)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        (**self).shutdown_write()
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        (**self).set_read_timeout(timeout)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        (**self).shutdown_write()
    }
}

/// Any `Read + Write` stream as a [`Transport`] without read timeouts or
/// half close (see [`Transport`] for what that costs).
#[derive(Debug)]
pub struct Untimed<S>(pub S);

impl<S: Read> Read for Untimed<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<S: Write> Write for Untimed<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<S: Read + Write> Transport for Untimed<S> {}
