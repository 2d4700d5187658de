//! Opening a [`WebSocket`]: [`Options`], the server's `accept` and the
//! client's `connect`, over the same driver as the messages that follow.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wstate::{Accept, Config, Connection, DeflateConfig, Event, Request, Role, SendError, WsUrl};

use crate::driver::{Driver, Limits};
use crate::{Error, MaybeTlsStream, Shutdown, WebSocket};

/// How connections are made: the protocol's [`Config`] and the adapter's
/// own limits. `Options::default()` takes the core's defaults (handshake
/// timeout 10 s, keepalive Ping after 20 s of quiet failing after 20 s
/// more, close timeout 10 s) but for
/// [`retained_buffer`](Config::retained_buffer), 128 bytes (an idle
/// connection keeps at most that much of its receive buffer), and with
/// feature `deflate` accepts
/// permessage-deflate offers and offers it as a client.
#[derive(Clone, Debug)]
pub struct Options {
    config: Config,
    limits: Limits,
    /// The shutdown every connection watches, if any.
    shutdown: Option<Shutdown>,
    /// `wss://`'s TLS configuration; `None` for the default one.
    #[cfg(feature = "rustls")]
    tls: Option<std::sync::Arc<crate::rustls::ClientConfig>>,
}

impl Default for Options {
    fn default() -> Self {
        // Reads go through the thread's shared buffer, and the connection
        // copies what they bring into its own: an idle connection keeps
        // that one only if small (a small message then needs no
        // allocation), at most 128 bytes.
        let config = Config::default().with_retained_buffer(128);
        #[cfg(feature = "deflate")]
        let config = config.with_deflate(Some(DeflateConfig::default()));
        Self {
            config,
            limits: Limits {
                max_output: 64 << 10,
                linger_ms: 2000,
                linger_bytes: 256 << 10,
            },
            shutdown: None,
            #[cfg(feature = "rustls")]
            tls: None,
        }
    }
}

impl Options {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The protocol's limits, switches and deadlines. With
    /// [`Config::with_receive_parts`], Text and Binary messages arrive as
    /// [`Message::TextPart`](crate::Message::TextPart) and
    /// [`Message::BinaryPart`](crate::Message::BinaryPart) as they stream
    /// in, so a message larger than memory (an upload) is never held whole.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Output queued beyond which [`WebSocket::send`] (and the `Sink`)
    /// waits for the transport, and the reading side stops reading until
    /// its answers are written (default 64 KiB). Nothing is queued without
    /// bound: a peer that never reads holds up at most this plus one
    /// message. At most 4 GiB.
    #[must_use]
    pub fn max_output(mut self, bytes: usize) -> Self {
        self.limits.max_output = u32::try_from(bytes).unwrap_or(u32::MAX);
        self
    }

    /// The end of a connection: once our last bytes are queued (a Close,
    /// its reply, an HTTP error), they are written, our direction is shut
    /// down, and what the peer still sends is read and dropped until it
    /// closes too, for at most `time` and `bytes` (default 2 s, 256 KiB).
    /// Closing with unread input would make the kernel reset the
    /// connection, which can destroy our Close before the peer reads it.
    #[must_use]
    pub fn linger(mut self, time: Duration, bytes: usize) -> Self {
        self.limits.linger_ms = u32::try_from(time.as_millis()).unwrap_or(u32::MAX);
        self.limits.linger_bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        self
    }

    /// The protocol's configuration.
    #[cfg_attr(
        not(feature = "hyper"),
        allow(dead_code, reason = "used by `upgrade` only")
    )]
    pub(crate) fn protocol(&self) -> &Config {
        &self.config
    }

    /// Makes every connection opened with these options watch `shutdown`:
    /// [`Shutdown::close_all`] closes them with 1001, and
    /// [`Shutdown::wait`] waits for them.
    #[must_use]
    pub fn shutdown(mut self, shutdown: &Shutdown) -> Self {
        self.shutdown = Some(shutdown.clone());
        self
    }

    /// A driver for `conn` over `stream`, with these limits and this
    /// shutdown.
    fn driver<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
        conn: Connection,
        out: Vec<u8>,
    ) -> Driver<S> {
        let watch = self.shutdown.as_ref().map(Shutdown::watch);
        Driver::new(stream, conn, out, self.limits, watch)
    }

    /// The TLS configuration of `wss://` connections (feature `rustls`):
    /// roots of your own, a client certificate, another crypto provider.
    /// ALPN `http/1.1` is added when `config` names no protocol. The
    /// default trusts Mozilla's roots (`webpki-roots`), with the process's
    /// default crypto provider if one is installed and ring's otherwise.
    ///
    /// ```no_run
    /// # async fn run(my_ca: wstate_tokio::rustls::pki_types::CertificateDer<'static>) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use wstate_tokio::{Options, rustls};
    ///
    /// let mut roots = rustls::RootCertStore::empty();
    /// roots.add(my_ca)?;
    /// // The process's crypto provider: ring, when nothing else chose one.
    /// let tls = rustls::ClientConfig::builder()
    ///     .with_root_certificates(roots)
    ///     .with_no_client_auth();
    /// let ws = Options::new().tls(Arc::new(tls)).connect("wss://internal.example/feed").await?;
    /// # drop(ws); Ok(()) }
    /// ```
    #[cfg(feature = "rustls")]
    #[must_use]
    pub fn tls(mut self, config: std::sync::Arc<crate::rustls::ClientConfig>) -> Self {
        self.tls = Some(crate::stream::tls::with_alpn(config));
        self
    }

    /// A WebSocket over a connection whose opening handshake happened
    /// elsewhere (an HTTP server's upgrade).
    pub fn open<S: AsyncRead + AsyncWrite + Unpin>(&self, stream: S, role: Role) -> WebSocket<S> {
        self.open_with_deflate(stream, role, None)
    }

    /// [`open`](Self::open), compressing with the permessage-deflate
    /// parameters that handshake accepted (from
    /// [`Response::deflate`](wstate::handshake::Response::deflate),
    /// say); `None` runs uncompressed. Needs feature `deflate` to compress.
    pub fn open_with_deflate<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
        role: Role,
        deflate: Option<wstate::DeflateParams>,
    ) -> WebSocket<S> {
        let conn = Connection::new_open_with_deflate(role, self.config.clone(), deflate);
        WebSocket {
            driver: Box::new(self.driver(stream, conn, Vec::new())),
        }
    }

    /// Server: reads the upgrade request and accepts it.
    pub fn accept<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
    ) -> impl Future<Output = Result<WebSocket<S>, Error>> + use<S> {
        self.accept_with(stream, |_| Ok(AcceptOptions::new()))
    }

    /// Server: reads the upgrade request and lets `decide` accept it (with
    /// a subprotocol and headers) or refuse it with an HTTP status. A
    /// request that is not a valid upgrade is answered by the connection
    /// itself (`400`, `426`, ...) and returned as [`Error::Protocol`]; a
    /// refusal is written, then returned as [`Error::Rejected`].
    ///
    /// ```no_run
    /// # async fn serve(stream: tokio::net::TcpStream) -> Result<(), wstate_tokio::Error> {
    /// use wstate_tokio::{AcceptOptions, Reject};
    /// let ws = wstate_tokio::accept_with(stream, |request| {
    ///     if request.path() != "/chat" {
    ///         return Err(Reject::new(404));
    ///     }
    ///     match request.subprotocols().find(|p| *p == "chat.v1") {
    ///         Some(p) => Ok(AcceptOptions::new().subprotocol(p)),
    ///         None => Err(Reject::new(400).body("chat.v1 is the one subprotocol")),
    ///     }
    /// })
    /// .await?;
    /// # drop(ws); Ok(()) }
    /// ```
    pub fn accept_with<S, F>(
        &self,
        stream: S,
        decide: F,
    ) -> impl Future<Output = Result<WebSocket<S>, Error>> + use<S, F>
    where
        S: AsyncRead + AsyncWrite + Unpin,
        F: FnOnce(&Request<'_>) -> Result<AcceptOptions, Reject>,
    {
        // Made now, so that the future holds no `Options`.
        let conn = Connection::server(self.config.clone());
        Accepting {
            driver: Some(Box::new(self.driver(stream, conn, Vec::new()))),
            decide: Some(decide),
            answered: None,
        }
    }
    /// Client: sends the upgrade request over `stream` (a TCP, TLS or
    /// proxy stream the caller opened) and waits for the server's `101`.
    /// A refusal is [`Error::Protocol`] with
    /// [`HandshakeError::Rejected`](wstate::HandshakeError::Rejected),
    /// which holds the response.
    pub fn connect_with<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
        request: &ConnectRequest,
    ) -> impl Future<Output = Result<WebSocket<S>, Error>> + use<S> {
        // Made now, so that the future holds no `Options` and no request.
        match self.client(stream, request) {
            Ok(driver) => Connecting {
                driver: Some(driver),
                failed: None,
            },
            Err(e) => Connecting {
                driver: None,
                failed: Some(e),
            },
        }
    }

    /// A client's driver, its request queued.
    fn client<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
        request: &ConnectRequest,
    ) -> Result<Box<Driver<S>>, Error> {
        let mut config = self.config.clone();
        if let Some(deflate) = &request.deflate {
            config = config.with_deflate(*deflate);
        }
        let subprotocols: Vec<&str> = request.subprotocols.iter().map(String::as_str).collect();
        let headers = pairs(&request.headers);
        let core_request = wstate::ClientRequest::new(&request.host, &request.path)
            .subprotocols(&subprotocols)
            .headers(&headers);
        let mut out = Vec::new();
        let conn = Connection::client(&core_request, wstate::os_entropy, config, &mut out)?;
        Ok(Box::new(self.driver(stream, conn, out)))
    }
    /// Client: connects to a `ws://` URL over TCP (no Nagle delay), or
    /// with feature `rustls` to a `wss://` URL over TLS (the URL's host as
    /// the server name, ALPN `http/1.1`, `Options::tls` or Mozilla's
    /// roots), and opens a WebSocket there. Opening the connection counts
    /// against the handshake timeout ([`Error::Io`] with
    /// [`TimedOut`](io::ErrorKind::TimedOut)). Without feature `rustls`, a
    /// `wss://` URL is [`Error::TlsUnavailable`]; a certificate the client
    /// does not trust is `Error::Tls`.
    pub async fn connect(&self, url: &str) -> Result<WebSocket<MaybeTlsStream>, Error> {
        let request = ConnectRequest::new(url)?;
        if request.secure && cfg!(not(feature = "rustls")) {
            return Err(Error::TlsUnavailable);
        }
        let stream = match self.config.handshake_timeout() {
            Some(limit) => tokio::time::timeout(limit, self.transport(&request))
                .await
                .map_err(|_| Error::Io(io::ErrorKind::TimedOut.into()))??,
            None => self.transport(&request).await?,
        };
        self.connect_with(stream, &request).await
    }

    /// The TCP connection to the request's host, and TLS over it for
    /// `wss://`.
    async fn transport(&self, request: &ConnectRequest) -> Result<MaybeTlsStream, Error> {
        let tcp = TcpStream::connect((request.connect_host.as_str(), request.port)).await?;
        tcp.set_nodelay(true)?;
        #[cfg(feature = "rustls")]
        if request.secure {
            let config = match &self.tls {
                Some(config) => config.clone(),
                None => crate::stream::tls::default_config().map_err(Error::Tls)?,
            };
            return crate::stream::tls::connect(config, &request.connect_host, tcp).await;
        }
        Ok(MaybeTlsStream::Plain(tcp))
    }
}

/// Reads the request, lets `decide` answer it, and returns the open
/// WebSocket (or ends the connection properly after a refusal). A plain
/// future rather than an `async fn`, so that it holds one driver and
/// nothing else: it stays the size of what it accepts.
struct Accepting<S, F> {
    /// `None` once the future returned.
    driver: Option<Box<Driver<S>>>,
    decide: Option<F>,
    /// What was answered: the subprotocol chosen, or the refusal's status.
    answered: Option<Result<Option<Box<str>>, u16>>,
}

// `decide` is never pinned: it is taken out and called.
impl<S, F> Unpin for Accepting<S, F> {}

impl<S, F> Future for Accepting<S, F>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request<'_>) -> Result<AcceptOptions, Reject>,
{
    type Output = Result<WebSocket<S>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(driver) = this.driver.as_mut() else {
            return Poll::Ready(Err(Error::Send(SendError::Closed)));
        };
        let result = loop {
            match this.answered {
                None => {
                    let decide = &mut this.decide;
                    let answer = ready!(driver.poll_event(cx, &mut |event, reply| {
                        let Event::Request(request) = event else {
                            return None;
                        };
                        let (tx, out) = reply.into_parts();
                        Some(answer(decide.take()?(&request), tx, out))
                    }));
                    match answer {
                        Some(Ok(Ok(answered))) => this.answered = Some(answered),
                        Some(Ok(Err(e))) => break Err(Error::Send(e)),
                        Some(Err(e)) => break Err(e),
                        None => break Err(Error::Io(io::ErrorKind::UnexpectedEof.into())),
                    }
                }
                // The 101 is written before the socket is handed over.
                Some(Ok(_)) => match ready!(driver.poll_flush(cx)) {
                    Ok(()) => break Ok(()),
                    Err(e) => break Err(e),
                },
                // Write the refusal and end the connection properly.
                Some(Err(status)) => {
                    if ready!(driver.poll_event(cx, &mut |_, _| Some(()))).is_none() {
                        break Err(Error::Rejected { status });
                    }
                }
            }
        };
        Poll::Ready(match (result, this.driver.take(), this.answered.take()) {
            (Ok(()), Some(mut driver), Some(Ok(subprotocol))) => {
                driver.subprotocol = subprotocol;
                Ok(WebSocket { driver })
            }
            (Ok(()), ..) => Err(Error::Send(SendError::Closed)),
            (Err(e), ..) => Err(e),
        })
    }
}

/// Answers the request as `decide` said: the subprotocol chosen, or the
/// refusal's status.
fn answer(
    decision: Result<AcceptOptions, Reject>,
    tx: wstate::Sender<'_>,
    out: &mut Vec<u8>,
) -> Result<Result<Option<Box<str>>, u16>, SendError> {
    match decision {
        Ok(accept) => {
            let headers = pairs(&accept.headers);
            let mut answer = Accept::new().headers(&headers);
            if let Some(protocol) = &accept.subprotocol {
                answer = answer.subprotocol(protocol);
            }
            tx.accept(&answer, out)?;
            Ok(Ok(accept.subprotocol.as_deref().map(Box::from)))
        }
        Err(reject) => {
            let headers = pairs(&reject.headers);
            tx.reject(reject.status, &headers, &reject.body, out)?;
            Ok(Err(reject.status))
        }
    }
}

/// Waits for the server's `101`; a plain future for the reason
/// [`Accepting`] is one.
struct Connecting<S> {
    driver: Option<Box<Driver<S>>>,
    /// The request could not be written.
    failed: Option<Error>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Future for Connecting<S> {
    type Output = Result<WebSocket<S>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(e) = this.failed.take() {
            return Poll::Ready(Err(e));
        }
        let Some(driver) = this.driver.as_mut() else {
            return Poll::Ready(Err(Error::Send(SendError::Closed)));
        };
        let accepted = ready!(driver.poll_event(cx, &mut |event, _| match event {
            Event::Accepted(accepted) => Some(accepted.subprotocol().map(Box::from)),
            _ => None,
        }));
        let driver = this.driver.take();
        Poll::Ready(match (accepted, driver) {
            (Some(Ok(subprotocol)), Some(mut driver)) => {
                driver.subprotocol = subprotocol;
                Ok(WebSocket { driver })
            }
            (Some(Err(e)), _) => Err(e),
            _ => Err(Error::Io(io::ErrorKind::UnexpectedEof.into())),
        })
    }
}

/// Borrowed pairs for the core's builders.
fn pairs(owned: &[(String, String)]) -> Vec<(&str, &str)> {
    owned
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

/// A server's acceptance of a request, from
/// [`accept_with`](crate::accept_with)'s callback.
#[derive(Clone, Debug, Default)]
pub struct AcceptOptions {
    subprotocol: Option<String>,
    headers: Vec<(String, String)>,
}

impl AcceptOptions {
    /// Accept with no subprotocol and no extra headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Selects a subprotocol the client offered.
    #[must_use]
    pub fn subprotocol(mut self, protocol: &str) -> Self {
        self.subprotocol = Some(protocol.into());
        self
    }

    /// Adds a header field to the `101` response.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A server's refusal of a request: an HTTP response with `status`
/// (200-599), headers and a body.
#[derive(Clone, Debug)]
pub struct Reject {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reject {
    /// A refusal with `status`, no extra headers and no body.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header field.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// A client's upgrade request: the URL, extra headers, the subprotocols
/// to offer and the permessage-deflate offer.
///
/// ```
/// use wstate_tokio::ConnectRequest;
/// let request = ConnectRequest::new("ws://example.com:9001/chat?room=1")?
///     .header("Origin", "https://example.com")
///     .subprotocol("chat.v1");
/// # let _ = request;
/// # Ok::<(), wstate_tokio::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConnectRequest {
    secure: bool,
    /// Where to connect (an IPv6 literal without brackets).
    connect_host: String,
    port: u16,
    /// The `Host` header.
    host: String,
    path: String,
    subprotocols: Vec<String>,
    headers: Vec<(String, String)>,
    deflate: Option<Option<DeflateConfig>>,
}

impl ConnectRequest {
    /// A request for a `ws://` or `wss://` URL.
    pub fn new(url: &str) -> Result<Self, Error> {
        let url = WsUrl::parse(url)?;
        Ok(Self {
            secure: url.is_secure(),
            connect_host: url.host().into(),
            port: url.port(),
            host: url.host_header().into(),
            path: url.resource().into(),
            subprotocols: Vec::new(),
            headers: Vec::new(),
            deflate: None,
        })
    }

    /// Adds a header field (`Origin`, `Authorization`, `Cookie`, ...).
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Offers a subprotocol (in order of preference).
    #[must_use]
    pub fn subprotocol(mut self, protocol: &str) -> Self {
        self.subprotocols.push(protocol.into());
        self
    }

    /// The permessage-deflate offer (feature `deflate`), or `None` to
    /// offer none, instead of the one [`Options`]' configuration makes.
    #[must_use]
    pub fn deflate(mut self, offer: Option<DeflateConfig>) -> Self {
        self.deflate = Some(offer);
        self
    }
}
