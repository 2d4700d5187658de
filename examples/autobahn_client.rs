//! Runs the Autobahn|Testsuite fuzzingserver cases with wstate as the client:
//! `cargo run --release --example autobahn_client -- [ws://127.0.0.1:9001] [AGENT]`.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use wstate::{Connection, Event, Polled, WsUrl};

const USAGE: &str = "\
Runs every case of an Autobahn|Testsuite fuzzingserver with wstate as the
client, then asks the server to write its reports.

usage: autobahn_client [--release-after-message] [URL [AGENT]]
       (defaults ws://127.0.0.1:9001, wstate)
       cargo run --release --example autobahn_client -- [URL [AGENT]]

--release-after-message: with --features deflate, give back the compressor
and decompressor after every message and rebuild them from the kept
history (Release::AfterMessage; the default releases them when idle).";

fn main() {
    let args = common::positional_args(USAGE, 2);
    let base = args.first().map_or("ws://127.0.0.1:9001", String::as_str);
    let agent = args.get(1).map_or("wstate", String::as_str);
    if let Err(e) = WsUrl::parse(base) {
        common::usage_exit(USAGE, Some(&format!("bad URL {base:?}: {e}")));
    }
    if let Err(e) = run(base.trim_end_matches('/'), agent) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(base: &str, agent: &str) -> Result<(), Box<dyn std::error::Error>> {
    let count = case_count(&format!("{base}/getCaseCount"))?;
    println!("{count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        match run_case(&url) {
            Ok(summary) => println!("case {case}: {summary}"),
            Err(e) => println!("case {case}: io error {e}"),
        }
    }
    run_case(&format!("{base}/updateReports?agent={agent}"))?;
    println!("reports updated");
    Ok(())
}

/// Opens a connection: sends the request and waits for the `101`.
fn connect(url: &str) -> Result<(TcpStream, Connection, Vec<u8>), Box<dyn std::error::Error>> {
    let url = WsUrl::parse(url)?;
    let mut stream = TcpStream::connect((url.host(), url.port()))?;
    stream.set_nodelay(true)?;
    // Every case ends within seconds; this bounds a stuck one.
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut out = Vec::new();
    let config = common::config();
    let mut conn = Connection::client(&url.request(), common::os_entropy, config, &mut out)?;
    stream.write_all(&out)?;
    out.clear();
    let mut buf = vec![0; 16 << 10];
    loop {
        let n = common::read_or_eof(&mut stream, &mut buf)?;
        if n == 0 {
            conn.receive_eof();
        } else {
            conn.receive(&buf[..n]);
        }
        match conn.poll_event(&mut out) {
            Polled::Event(Event::Accepted(_), _) => return Ok((stream, conn, out)),
            Polled::Failed(e) => return Err(e.into()),
            Polled::Event(..) | Polled::NeedMore => {}
            Polled::Done => return Err("connection closed during the handshake".into()),
        }
    }
}

fn case_count(url: &str) -> Result<u32, Box<dyn std::error::Error>> {
    let (mut stream, mut conn, mut out) = connect(url)?;
    let mut buf = vec![0; 4096];
    let mut count = None;
    loop {
        let mut done = false;
        loop {
            match conn.poll_event(&mut out) {
                Polled::Event(Event::Text(t), _) => count = Some(t.trim().parse()?),
                // Its Close is in `out`: written below, then Done.
                Polled::Event(..) | Polled::Failed(_) => {}
                Polled::NeedMore => break,
                Polled::Done => {
                    done = true;
                    break;
                }
            }
        }
        stream.write_all(&out)?;
        out.clear();
        if done {
            break;
        }
        let n = common::read_or_eof(&mut stream, &mut buf)?;
        if n == 0 {
            conn.receive_eof();
        } else {
            conn.receive(&buf[..n]);
        }
    }
    count.ok_or_else(|| "no case count received".into())
}

fn run_case(url: &str) -> Result<String, Box<dyn std::error::Error>> {
    let (mut stream, mut conn, out) = connect(url)?;
    // The clock starts with echo's first handle_timeout.
    let ended = common::echo(&mut stream, &mut conn, std::time::Instant::now(), out)?;
    Ok(format!("{} messages, {}", ended.messages, ended.describe()))
}
