//! Runs every case of an Autobahn|Testsuite fuzzingserver with the tokio
//! adapter as the client, then asks the server to write its reports:
//! `tokio_autobahn_client URL AGENT` (e.g. `ws://127.0.0.1:9002 wstate`).
//! Echoes each case's messages with their type, copying nothing
//! (`next_event`). Offers permessage-deflate when built with
//! `--features deflate`.

use wstate::{Event, Message};
use wstate_tokio::Error;

const USAGE: &str = "usage: tokio_autobahn_client URL AGENT   (e.g. ws://127.0.0.1:9002 wstate)";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, agent] = args.as_slice() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    if let Err(e) = wstate_tokio::ConnectRequest::new(base) {
        eprintln!("error: bad URL {base:?}: {e}\n{USAGE}");
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let result = runtime
        .expect("a tokio runtime")
        .block_on(run(base.trim_end_matches('/'), agent));
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run(base: &str, agent: &str) -> Result<(), Error> {
    let mut ws = wstate_tokio::connect(&format!("{base}/getCaseCount")).await?;
    let mut count = None;
    while let Some(message) = ws.recv().await {
        if let wstate_tokio::Message::Text(text) = message? {
            count = text.trim().parse::<u32>().ok();
        }
    }
    let count = count.ok_or(Error::Io(std::io::ErrorKind::InvalidData.into()))?;
    println!("{count} cases");
    for case in 1..=count {
        match echo(&format!("{base}/runCase?case={case}&agent={agent}")).await {
            Ok(echoed) => println!("case {case}: echoed {echoed}"),
            Err(e) => println!("case {case}: {e}"),
        }
    }
    echo(&format!("{base}/updateReports?agent={agent}")).await?;
    println!("reports updated");
    Ok(())
}

/// Echoes every message until the connection ends; returns how many.
async fn echo(url: &str) -> Result<u64, Error> {
    let mut ws = wstate_tokio::connect(url).await?;
    let mut echoed = 0;
    while let Some(event) = ws
        .next_event(|event, reply| match event {
            Event::Text(text) => reply.send(Message::Text(text)).is_ok(),
            Event::Binary(bytes) => reply.send(Message::Binary(bytes)).is_ok(),
            _ => false,
        })
        .await
    {
        echoed += u64::from(event?);
    }
    Ok(echoed)
}
