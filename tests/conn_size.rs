//! Small connections: the size of a `Connection` plus the heap an idle open
//! connection holds stays within 1 KiB, also after a large message. Buffers
//! bigger than `Config::retained_buffer` are kept while large reads or
//! messages keep coming and freed after a small one, and by the keepalive
//! Ping that finds the connection quiet: "idle" is measured after it.
//!
//! Run with `--nocapture` to see the table. Heap is measured with a
//! counting global allocator (`allocation-counter`, per thread), so this is
//! its own test binary; nothing depends on timing.

use std::mem::size_of;
use std::time::Duration;

mod common;
use common::{c2s, chat_request, response_101};
use wstate::{Accept, ClientRequest, Config, Connection, Event, Message, Polled, Role};

/// The budget for one idle open connection: struct plus heap.
const BUDGET: usize = 1024;

/// Feeds `read` and drains the events, echoing data messages.
fn drive(conn: &mut Connection, read: &[u8], out: &mut Vec<u8>) {
    conn.receive(read);
    loop {
        match conn.poll_event(out) {
            Polled::Event(Event::Request(_), tx) => tx.accept(&Accept::new(), out).unwrap(),
            Polled::Event(Event::Binary(b), tx) => tx.send(Message::Binary(b), out).unwrap(),
            Polled::Event(..) => {}
            Polled::NeedMore | Polled::Done => break,
            Polled::Failed(e) => panic!("valid input failed: {e}"),
        }
    }
    out.clear();
}

/// Builds one idle connection to measure.
type Builder<'a> = Box<dyn Fn() -> Connection + 'a>;

/// Builds a connection inside a measurement and returns it with the heap it
/// still holds (everything else built on the way is dropped inside).
fn held(build: &dyn Fn() -> Connection) -> (Connection, usize) {
    let mut conn = None;
    let info = allocation_counter::measure(|| conn = Some(build()));
    (conn.unwrap(), info.bytes_current.max(0) as usize)
}

/// A server that did the opening handshake and echoed `reads`.
fn server_after(reads: &[Vec<u8>]) -> Connection {
    let mut conn = Connection::server(Config::default());
    let mut out = Vec::new();
    drive(&mut conn, &chat_request(), &mut out);
    for read in reads {
        drive(&mut conn, read, &mut out);
    }
    conn
}

#[test]
fn idle_connections_fit_in_one_kib() {
    let struct_size = size_of::<Connection>();
    let small = c2s(0x82, b"0123456789abcdef");
    let many_small = small.repeat(400);
    let big = c2s(0x82, &vec![1; 1 << 20]);
    let mut fragmented = c2s(0x01, &vec![b'a'; 300 << 10]);
    fragmented.extend(c2s(0x00, &vec![b'b'; 300 << 10]));
    fragmented.extend(c2s(0x80, &vec![b'c'; 300 << 10]));

    let cases: Vec<(&str, Builder<'_>)> = vec![
        (
            "new_open server",
            Box::new(|| Connection::new_open(Role::Server, Config::default())),
        ),
        ("server, handshake done", Box::new(|| server_after(&[]))),
        (
            "server, after 1 small message",
            Box::new(|| server_after(std::slice::from_ref(&small))),
        ),
        (
            "server, after a read of 400 small messages (kept until idle)",
            Box::new(|| server_after(std::slice::from_ref(&many_small))),
        ),
        (
            "server, after a 500-byte message (kept: under retained_buffer)",
            Box::new(|| server_after(&[c2s(0x82, &[5; 494])])),
        ),
        (
            "server, after a 1 MiB message, nothing since (kept until idle)",
            Box::new(|| server_after(&[small.clone(), big.clone()])),
        ),
        (
            "server, after a 1 MiB message and a small one",
            Box::new(|| server_after(&[small.clone(), big.clone(), small.clone()])),
        ),
        (
            "server, after a fragmented 900 KiB text",
            Box::new(|| server_after(&[fragmented.clone(), small.clone()])),
        ),
        (
            "client, handshake done",
            Box::new(|| {
                let mut out = Vec::new();
                let mut seed = 7u64;
                let mut conn = Connection::client(
                    &ClientRequest::new("example.com", "/chat"),
                    move |dest: &mut [u8]| {
                        for b in dest {
                            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                            *b = (seed >> 56) as u8;
                        }
                    },
                    Config::default(),
                    &mut out,
                )
                .unwrap();
                // The key in the request decides the accept value.
                let response = response_101(&out);
                out.clear();
                conn.receive(&response);
                assert!(matches!(
                    conn.poll_event(&mut out),
                    Polled::Event(Event::Accepted(_), _)
                ));
                assert!(matches!(conn.poll_event(&mut out), Polled::NeedMore));
                conn.sender()
                    .send(Message::Binary(&[1; 16]), &mut out)
                    .unwrap();
                conn
            }),
        ),
    ];

    println!("size_of::<Connection>() = {struct_size} bytes");
    println!(
        "| connection | heap held after the last read | heap held idle | struct + heap, idle |"
    );
    println!("|---|---:|---:|---:|");
    let mut worst = 0;
    for (name, build) in cases {
        // `build` itself (a boxed closure) is freed outside the measurement.
        let (mut conn, heap) = held(&build);
        // A keepalive interval (20 s by default) passes in quiet: the Ping
        // goes out and large buffers are given back.
        let mut out = Vec::with_capacity(64);
        conn.handle_timeout(Duration::ZERO, &mut out);
        let quiet = allocation_counter::measure(|| {
            conn.handle_timeout(Duration::from_secs(20), &mut out);
        });
        assert_eq!(
            out.len(),
            if conn.is_client() { 14 } else { 10 },
            "{name}: a Ping"
        );
        assert_eq!(out[0], 0x89, "{name}: a Ping");
        let idle = (heap as i64 + quiet.bytes_current) as usize;
        assert!(idle <= heap, "{name}");
        let total = struct_size + idle;
        println!("| {name} | {heap} | {idle} | {total} |");
        worst = worst.max(total);
        drop(conn);
    }
    assert!(
        worst <= BUDGET,
        "an idle connection takes {worst} bytes, over the {BUDGET}-byte budget"
    );
}
