//! A line-oriented WebSocket client on the tokio adapter:
//! `cargo run -p wstate-tokio --example tokio_client -- URL`, `ws://` always,
//! `wss://` when built with `--features rustls`.
//!
//! Each stdin line goes out as a text message. What comes back is printed
//! one line each: `text LEN TEXT`, `binary LEN`, `ping LEN`, and last
//! `closed CODE REASON`. At the end of stdin it sends Close 1000 and prints
//! what the server still sends before its Close, so
//! `printf 'a\nb\n' | tokio_client URL` prints both echoes, then
//! `closed 1000 `. `--ca FILE` trusts the PEM certificates in FILE instead
//! of Mozilla's roots (a server of your own with a self-signed certificate).

use std::process::ExitCode;
#[cfg(feature = "rustls")]
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, BufReader};
use wstate_tokio::{CloseCode, CloseFrame, Error, Message, Options};

const USAGE: &str = "\
A line-oriented WebSocket client: each stdin line is sent as a text message.

usage: tokio_client [--ca FILE] URL
       (ws://..., or wss://... when built with --features rustls; --ca FILE:
       trust the PEM certificates in FILE instead of Mozilla's roots)

Prints `connected`, then what comes back, one line each: `text LEN TEXT`,
`binary LEN`, `ping LEN`, and `closed CODE REASON`. At the end of stdin it
closes with 1000. Exit status: 0 after a clean close, 1 after an unclean
one, 2 on an error.";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (ca, url) = match args.as_slice() {
        [help] if help == "-h" || help == "--help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        [url] if !url.starts_with('-') => (None, url),
        [flag, ca, url] if flag == "--ca" && !url.starts_with('-') => (Some(ca), url),
        _ => {
            eprintln!("error: expected [--ca FILE] URL\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let options = match ca.map(|file| trusting(file)).transpose() {
        Ok(options) => options.unwrap_or_default(),
        Err(e) => {
            eprintln!("error: --ca {}: {e}", ca.map_or("", String::as_str));
            return ExitCode::from(2);
        }
    };
    match run(&options, url).await {
        // A clean close: the Close frames were exchanged.
        Ok(close) if close.code != CloseCode::ABNORMAL => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Options whose `wss://` trusts the PEM certificates in `file` alone.
#[cfg(feature = "rustls")]
fn trusting(file: &str) -> Result<Options, Box<dyn std::error::Error>> {
    use wstate_tokio::rustls::{self, pki_types::CertificateDer, pki_types::pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(file)? {
        roots.add(cert?)?;
    }
    // The process's crypto provider: ring, the one feature `rustls` builds.
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Options::new().tls(Arc::new(config)))
}

#[cfg(not(feature = "rustls"))]
fn trusting(_: &str) -> Result<Options, Box<dyn std::error::Error>> {
    Err("TLS needs --features rustls".into())
}

/// Sends stdin's lines and prints what comes back until the connection
/// ends; returns the server's Close.
async fn run(options: &Options, url: &str) -> Result<CloseFrame, Error> {
    let mut ws = options.connect(url).await?;
    println!("connected");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    loop {
        tokio::select! {
            // Both branches are cancel-safe: a line or a message that lost
            // the race is returned by the next call.
            line = lines.next_line(), if stdin_open => match line? {
                Some(line) => ws.send(Message::text(line)).await?,
                None => {
                    stdin_open = false;
                    let close = CloseFrame::new(CloseCode::NORMAL);
                    ws.send(Message::Close(Some(close))).await?;
                }
            },
            message = ws.recv() => match message.transpose()? {
                Some(Message::Text(text)) => println!("text {} {}", text.len(), text.as_str()),
                Some(Message::Binary(bytes)) => println!("binary {}", bytes.len()),
                // Answered with a Pong already.
                Some(Message::Ping(payload)) => println!("ping {}", payload.len()),
                // The last message: the connection has ended.
                Some(Message::Close(close)) => {
                    let close = close.unwrap_or(CloseFrame::new(CloseCode::ABNORMAL));
                    println!("closed {} {}", u16::from(close.code), close.reason());
                    return Ok(close);
                }
                Some(_) => {} // a Pong
                None => {
                    println!("closed 1006 ");
                    return Ok(CloseFrame::new(CloseCode::ABNORMAL));
                }
            },
        }
    }
}
