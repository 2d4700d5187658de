//! A WebSocket echo server on `wstate::blocking`, one thread per
//! connection: `cargo run --release --features std --example
//! blocking_echo_server [ADDR]` (default 127.0.0.1:9002). Echoes every
//! message with its type; prints one line per connection when it ends.
//!
//! `echo_server` is the same server with the loop written by hand over the
//! core.

mod common;

use std::net::{TcpListener, TcpStream};

use wstate::blocking::{Error, Message, WebSocket};

const USAGE: &str = "\
A WebSocket echo server on wstate::blocking, one thread per connection.

usage: blocking_echo_server [ADDR]        (default 127.0.0.1:9002)
       cargo run --release --features std --example blocking_echo_server [-- ADDR]";

fn main() {
    let args = common::positional_args(USAGE, 1);
    let addr = args.first().map_or("127.0.0.1:9002", String::as_str);
    let listener = match TcpListener::bind(addr) {
        Ok(listener) => listener,
        Err(e) => common::usage_exit(USAGE, Some(&format!("cannot listen on {addr}: {e}"))),
    };
    match listener.local_addr() {
        Ok(local) => println!("blocking_echo_server listening on ws://{local}"),
        Err(e) => common::usage_exit(USAGE, Some(&e.to_string())),
    }
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let peer = stream.peer_addr().map_or("?".into(), |a| a.to_string());
            match serve(stream) {
                Ok((n, close)) => println!("{peer}: echoed {n} messages, closed {close}"),
                Err(e) => println!("{peer}: {e}"),
            }
        });
    }
}

/// Echoes until the peer closes; returns the messages echoed and the code.
fn serve(stream: TcpStream) -> Result<(u64, u16), Error> {
    stream.set_nodelay(true)?;
    let mut ws = WebSocket::accept(stream, common::config())?;
    let mut echoed = 0;
    loop {
        match ws.recv()? {
            m @ (Message::Text(_) | Message::Binary(_)) => {
                ws.send(m)?;
                echoed += 1;
            }
            // Our reply went out and the socket is closed.
            Message::Close(frame) => return Ok((echoed, frame.map_or(1005, |f| f.code.0))),
            _ => {} // Pings are answered by themselves
        }
    }
}
