//! `wss://` through `connect`: a rustls server on 127.0.0.1 with a
//! self-signed certificate made here, a client that trusts it through its
//! own `ClientConfig`, and one with the default roots that refuses it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rcgen::CertifiedKey;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use wstate_tokio::rustls::{self, pki_types::CertificateDer, pki_types::PrivateKeyDer};
use wstate_tokio::{CloseCode, CloseFrame, Error, Message, Options};

/// Every step of a test ends within this.
const LIMIT: Duration = Duration::from_secs(10);

/// ring's provider, the one feature `rustls` builds (rustls deprecates it
/// for its lack of post-quantum key exchange, which these tests do not need).
#[allow(deprecated, reason = "the provider feature `rustls` builds")]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate for `localhost`, signed by itself.
fn certificate() -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key = PrivateKeyDer::try_from(signing_key.serialize_der()).unwrap();
    (cert.der().clone(), key)
}

/// What the server saw of one connection: the name the client asked for
/// (SNI), the ALPN protocol agreed, and the messages it echoed, the Close
/// last.
#[derive(Debug, PartialEq)]
struct Seen {
    sni: Option<String>,
    alpn: Option<Vec<u8>>,
    messages: Vec<Message>,
}

/// A TLS echo server on 127.0.0.1 for one connection; its port and what
/// it saw.
async fn server(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> (u16, tokio::task::JoinHandle<Result<Seen, Error>>) {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let tls = acceptor.accept(tcp).await?;
        let (_, session) = tls.get_ref();
        let sni = session.server_name().map(str::to_owned);
        let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
        let mut ws = wstate_tokio::accept(tls).await?;
        let mut messages = Vec::new();
        while let Some(message) = ws.recv().await {
            let message = message?;
            if let Message::Text(_) | Message::Binary(_) = message {
                ws.send(message.clone()).await?;
            }
            messages.push(message);
        }
        Ok(Seen {
            sni,
            alpn,
            messages,
        })
    });
    (port, task)
}

/// A client configuration that trusts `cert` alone.
fn trusting(cert: CertificateDer<'static>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

#[tokio::test]
async fn echo_and_close_over_tls_with_a_custom_config() {
    let (cert, key) = certificate();
    let (port, server) = server(cert.clone(), key).await;
    let url = format!("wss://localhost:{port}/echo");
    let options = Options::new().tls(trusting(cert));
    let mut ws = tokio::time::timeout(LIMIT, options.connect(&url))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        ws.get_ref(),
        wstate_tokio::MaybeTlsStream::Rustls(_)
    ));

    let text = Message::text("héllo over TLS");
    let binary = Message::binary(Bytes::from_static(&[0x00, 0x01, 0xfe, 0xff]));
    let large = Message::binary(Bytes::from(
        (0..100_000u32).map(|i| i as u8).collect::<Vec<_>>(),
    ));
    for message in [&text, &binary, &large] {
        ws.send(message.clone()).await.unwrap();
        let echo = tokio::time::timeout(LIMIT, ws.recv()).await.unwrap();
        assert_eq!(&echo.unwrap().unwrap(), message);
    }
    let closed = tokio::time::timeout(LIMIT, ws.close(CloseCode::NORMAL, "done"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(closed, Some(CloseFrame::new(CloseCode::NORMAL)));
    assert!(ws.recv().await.is_none());

    let seen = tokio::time::timeout(LIMIT, server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        seen,
        Seen {
            sni: Some("localhost".to_owned()),
            alpn: Some(b"http/1.1".to_vec()),
            messages: vec![
                text,
                binary,
                large,
                Message::Close(CloseFrame::with_reason(CloseCode::NORMAL, "done")),
            ],
        }
    );
}

#[tokio::test]
async fn the_default_roots_refuse_a_self_signed_certificate() {
    let (cert, key) = certificate();
    let (port, server) = server(cert, key).await;
    let url = format!("wss://localhost:{port}/echo");
    let refused = tokio::time::timeout(LIMIT, wstate_tokio::connect(&url))
        .await
        .unwrap();
    assert!(
        matches!(
            refused,
            Err(Error::Tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            )))
        ),
        "{refused:?}"
    );
    // The server's side of the handshake failed too: the client's alert.
    let server = tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
    assert!(matches!(server, Err(Error::Io(_))), "{server:?}");
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let (cert, key) = certificate();
    let (port, _server) = server(cert.clone(), key).await;
    // The certificate names `localhost`, not 127.0.0.1.
    let url = format!("wss://127.0.0.1:{port}/echo");
    let refused = tokio::time::timeout(LIMIT, Options::new().tls(trusting(cert)).connect(&url))
        .await
        .unwrap();
    assert!(
        matches!(
            refused,
            Err(Error::Tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. }
            )))
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn ws_urls_stay_plain_tcp_with_the_feature_on() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = wstate_tokio::accept(tcp).await.unwrap();
        ws.recv().await
    });
    let mut ws = tokio::time::timeout(
        LIMIT,
        wstate_tokio::connect(&format!("ws://127.0.0.1:{port}/")),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(matches!(
        ws.get_ref(),
        wstate_tokio::MaybeTlsStream::Plain(_)
    ));
    ws.send(Message::text("plain")).await.unwrap();
    let received = tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
    assert_eq!(received.unwrap().unwrap(), Message::text("plain"));
}

#[tokio::test]
async fn a_server_that_never_answers_the_tls_handshake_times_out() {
    let (cert, _) = certificate();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts the TCP connection and says nothing.
    let silent = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        tokio::time::sleep(LIMIT).await;
        drop(tcp);
    });
    let config = wstate::Config::default().with_handshake_timeout(Some(Duration::from_millis(200)));
    let options = Options::new().config(config).tls(trusting(cert));
    let started = std::time::Instant::now();
    let refused = tokio::time::timeout(LIMIT, options.connect(&format!("wss://localhost:{port}/")))
        .await
        .unwrap();
    assert!(
        matches!(&refused, Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut),
        "{refused:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    silent.abort();
}
