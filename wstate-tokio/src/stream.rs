//! [`MaybeTlsStream`]: what [`connect`](crate::connect) opens, TCP or
//! (feature `rustls`) TLS over TCP.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The transport of a WebSocket opened by [`connect`](crate::connect): TCP
/// for `ws://`, TLS over TCP for `wss://` (feature `rustls`).
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`: rustls over TCP (boxed: its buffers are large, and a
    /// `ws://` connection should not carry their room).
    #[cfg(feature = "rustls")]
    Rustls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl MaybeTlsStream {
    /// The TCP connection under the transport.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) => s,
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.get_ref().0,
        }
    }
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// TLS for `wss://`: the default configuration and the handshake.
#[cfg(feature = "rustls")]
pub(crate) mod tls {
    use std::io;
    use std::sync::{Arc, OnceLock};

    use tokio::net::TcpStream;
    use tokio_rustls::rustls::{self, ClientConfig, pki_types::ServerName};

    use super::MaybeTlsStream;
    use crate::Error;

    /// The ALPN protocol a WebSocket's opening handshake speaks.
    const HTTP_1_1: &[u8] = b"http/1.1";

    /// Mozilla's roots (`webpki-roots`), the process's default crypto
    /// provider or else ring's, ALPN `http/1.1`: built once per process.
    pub(crate) fn default_config() -> Result<Arc<ClientConfig>, rustls::Error> {
        static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
        if let Some(config) = CONFIG.get() {
            return Ok(config.clone());
        }
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let provider = match rustls::crypto::CryptoProvider::get_default() {
            Some(installed) => installed.clone(),
            None => Arc::new(ring()),
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(CONFIG.get_or_init(|| with_alpn(Arc::new(config))).clone())
    }

    /// ring's provider: the one that builds without cmake. rustls marks it
    /// deprecated because ring has no post-quantum key exchange; an
    /// application that wants one installs aws-lc-rs as the process's
    /// default provider, which [`default_config`] takes first.
    #[allow(deprecated, reason = "the provider without cmake; see above")]
    fn ring() -> rustls::crypto::CryptoProvider {
        rustls::crypto::ring::default_provider()
    }

    /// `config`, with ALPN `http/1.1` when it names no protocol.
    pub(crate) fn with_alpn(config: Arc<ClientConfig>) -> Arc<ClientConfig> {
        if !config.alpn_protocols.is_empty() {
            return config;
        }
        let mut config = Arc::unwrap_or_clone(config);
        config.alpn_protocols = vec![HTTP_1_1.to_vec()];
        Arc::new(config)
    }

    /// The TLS handshake over `tcp`, with `host` as the server name (SNI
    /// for a DNS name, and the name the certificate must hold).
    pub(crate) async fn connect(
        config: Arc<ClientConfig>,
        host: &str,
        tcp: TcpStream,
    ) -> Result<MaybeTlsStream, Error> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| Error::Io(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(tls_error)?;
        Ok(MaybeTlsStream::Rustls(Box::new(stream)))
    }

    /// rustls' own error out of the `io::Error` tokio-rustls wraps it in.
    fn tls_error(e: io::Error) -> Error {
        let kind = e.kind();
        match e.into_inner() {
            Some(inner) => match inner.downcast::<rustls::Error>() {
                Ok(tls) => Error::Tls(*tls),
                Err(other) => Error::Io(io::Error::new(kind, other)),
            },
            None => Error::Io(kind.into()),
        }
    }
}
