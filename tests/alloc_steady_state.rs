//! Zero allocations per message in steady state: once a connection has
//! warmed up, receiving an unfragmented message, answering a Ping and
//! sending a message allocate nothing, on either role.
//!
//! Its own test binary, because it links a counting global allocator
//! (`allocation-counter`). Counters are per thread, so tests running in
//! parallel do not disturb one another, and nothing here depends on timing.

mod common;
use common::{c2s, s2c, server};
use wstate::{Config, Connection, Event, Message, Polled, Role};

/// Allocations (reallocations included) made by this thread while `f` runs.
/// `allocation-counter` installs a counting global allocator in this test
/// binary only; its counters are per thread.
fn allocations_in(f: impl FnOnce()) -> u64 {
    allocation_counter::measure(f).count_total
}

/// Echoes every message of one read, the way a server does: each message
/// is sent back while its event is held, without a copy, into a reused
/// `out`. Returns the number of data messages.
fn echo_read(conn: &mut Connection, read: &[u8], out: &mut Vec<u8>) -> usize {
    conn.receive(read);
    echo_events(conn, out)
}

/// Echoes every data message received so far; returns how many.
fn echo_events(conn: &mut Connection, out: &mut Vec<u8>) -> usize {
    let mut messages = 0;
    loop {
        let (message, tx) = match conn.poll_event(out) {
            Polled::Event(Event::Text(t), tx) => (Message::Text(t), tx),
            Polled::Event(Event::Binary(b), tx) => (Message::Binary(b), tx),
            Polled::Event(Event::Ping(_) | Event::Pong(_), _) => continue,
            Polled::Event(other, _) => panic!("unexpected {other:?}"),
            Polled::NeedMore => break,
            Polled::Done => panic!("unexpected Done"),
            Polled::Failed(e) => panic!("valid input failed: {e}"),
        };
        tx.send(message, out).unwrap();
        messages += 1;
    }
    // The caller writes `out` to the transport, then reuses it.
    out.clear();
    messages
}

/// Warms a connection up with `warmup` reads, then checks that `rounds`
/// more reads of the same bytes allocate nothing.
fn assert_steady(mut conn: Connection, read: &[u8], per_read: usize, what: &str) {
    let mut out = Vec::new();
    for _ in 0..16 {
        assert_eq!(echo_read(&mut conn, read, &mut out), per_read);
    }
    let mut messages = 0;
    let allocated = allocations_in(|| {
        for _ in 0..1000 {
            messages += echo_read(&mut conn, read, &mut out);
        }
    });
    assert_eq!(messages, 1000 * per_read);
    assert_eq!(
        allocated, 0,
        "{what}: {allocated} allocations for {messages} messages in steady state"
    );
}

/// Like [`assert_steady`] for one message that arrives in reads of `read`
/// bytes: 4 warm-up messages, then 20 more allocate nothing.
fn assert_steady_in_reads(mut conn: Connection, message: &[u8], read: usize, what: &str) {
    let mut out = Vec::new();
    let mut run = |conn: &mut Connection| {
        message
            .chunks(read)
            .map(|read| echo_read(conn, read, &mut out))
            .sum::<usize>()
    };
    for _ in 0..4 {
        assert_eq!(run(&mut conn), 1, "{what}");
    }
    let mut messages = 0;
    let allocated = allocations_in(|| {
        for _ in 0..20 {
            messages += run(&mut conn);
        }
    });
    assert_eq!((messages, allocated), (20, 0), "{what}");
}

fn client() -> Connection {
    // Deterministic "entropy": allocation-free and fine for a test.
    let mut n = 0u8;
    Connection::new_open(
        Role::client(move |dest: &mut [u8]| {
            for b in dest {
                n = n.wrapping_add(1);
                *b = n;
            }
        }),
        Config::default(),
    )
}

#[test]
fn counter_sees_allocations() {
    // Guards against a vacuous pass: the allocator must really count.
    assert_eq!(
        allocations_in(|| drop(std::hint::black_box(vec![1u8; 100]))),
        1
    );
}

#[test]
fn server_small_messages_one_per_read() {
    for len in [0, 1, 16, 125, 126, 400] {
        let payload = vec![b'x'; len];
        assert_steady(
            server(),
            &c2s(0x82, &payload),
            1,
            &format!("binary {len} B"),
        );
        assert_steady(server(), &c2s(0x81, &payload), 1, &format!("text {len} B"));
    }
}

#[test]
fn server_multibyte_text() {
    let text = "κόσμε 😀 wstate ".repeat(8);
    assert_steady(server(), &c2s(0x81, text.as_bytes()), 1, "multibyte text");
}

#[test]
fn server_reads_within_retained_buffer() {
    // Several messages per read, as long as the read fits the capacity the
    // connection keeps (`Config::retained_buffer`, 512 bytes by default).
    let read = c2s(0x82, &[7; 16]).repeat(20); // 20 x 22 = 440 bytes
    assert_steady(server(), &read, 20, "20 x 16 B per read");
}

#[test]
fn server_large_reads_with_larger_retained_buffer() {
    // A server expecting big reads keeps a buffer to match; then batches of
    // small messages and large messages allocate nothing either.
    let config = Config::default().with_retained_buffer(128 << 10);
    let batch = c2s(0x82, &[7; 16]).repeat(64);
    assert_steady(
        Connection::new_open(Role::Server, config.clone()),
        &batch,
        64,
        "64 x 16 B per read",
    );
    let text = "0123456789abcdef".repeat(256); // 4 KiB
    let batch = c2s(0x81, text.as_bytes()).repeat(8);
    assert_steady(
        Connection::new_open(Role::Server, config.clone()),
        &batch,
        8,
        "8 x 4 KiB text per read",
    );
    let big = c2s(0x82, &vec![1; 100 << 10]);
    assert_steady(
        Connection::new_open(Role::Server, config),
        &big,
        1,
        "100 KiB binary",
    );
}

/// With the default `retained_buffer` (512 bytes), reads larger than that
/// keep the receive buffer they grew: nothing is allocated per read or per
/// message while such reads keep coming.
#[test]
fn default_config_large_reads_allocate_nothing() {
    let read = c2s(0x82, &[7; 16]).repeat(64); // 1408 bytes
    assert_steady(server(), &read, 64, "64 x 16 B per 1408-byte read");
    let read = c2s(0x82, &[7; 1000]); // one 1 KB message per read
    assert_steady(server(), &read, 1, "1000 B binary");
}

#[test]
fn server_answers_pings_without_allocating() {
    let mut read = c2s(0x89, b"ping");
    read.extend(c2s(0x82, &[1; 16]));
    read.extend(c2s(0x8A, b"pong"));
    assert_steady(server(), &read, 1, "ping + binary + pong");
}

#[test]
fn client_receives_and_sends_masked() {
    let read = s2c(0x82, &[9; 16]);
    assert_steady(client(), &read, 1, "client 16 B");
    let text = "hello wstate ".repeat(9);
    assert_steady(client(), &s2c(0x81, text.as_bytes()), 1, "client text");
}

#[test]
fn send_only_reuses_the_output_buffer() {
    for mut conn in [server(), client()] {
        let mut out = Vec::new();
        let payloads: Vec<Vec<u8>> = [16, 4096, 1 << 20].map(|n| vec![3; n]).into();
        for p in &payloads {
            conn.sender().send(Message::Binary(p), &mut out).unwrap();
            out.clear();
        }
        let allocated = allocations_in(|| {
            for _ in 0..100 {
                for p in &payloads {
                    conn.sender().send(Message::Binary(p), &mut out).unwrap();
                    out.clear();
                }
                conn.sender()
                    .send(Message::Text("hello"), &mut out)
                    .unwrap();
                conn.sender().send(Message::Ping(b"p"), &mut out).unwrap();
                out.clear();
            }
        });
        assert_eq!(allocated, 0, "sending allocated");
    }
}

/// Reads that cut every frame (7 bytes at a time, then frames one byte out
/// of step, so a partial frame is always buffered): the buffer is compacted
/// rather than grown (it would grow without end if it were not), and a text
/// message checked piece by piece reuses its buffer. Text and binary, both
/// roles' framing, with and without parts mode.
#[test]
fn reads_that_cut_every_frame() {
    for (b0, payload) in [(0x81, "κόσμε 0123456789"), (0x82, "0123456789abcdef")] {
        for parts in [None, Some(64)] {
            let frame = c2s(b0, payload.as_bytes());
            let stream = frame.repeat(300);
            // 7 bytes at a time; or a frame's worth, one byte out of step,
            // so that the buffer is never drained.
            let cut: Vec<&[u8]> = stream.chunks(7).collect();
            let mut out_of_step: Vec<&[u8]> = vec![&stream[..1]];
            out_of_step.extend(stream[1..].chunks(frame.len()));
            for reads in [cut, out_of_step] {
                let config = Config::default().with_receive_parts(parts);
                let mut conn = Connection::new_open(Role::Server, config);
                let mut out = Vec::new();
                let mut drain = |conn: &mut Connection, read: &[u8]| {
                    conn.receive(read);
                    let mut n = 0;
                    while let Polled::Event(event, _) = conn.poll_event(&mut out) {
                        n += matches!(
                            event,
                            Event::Text(_)
                                | Event::Binary(_)
                                | Event::TextPart {
                                    part: _,
                                    last: true
                                }
                                | Event::BinaryPart {
                                    part: _,
                                    last: true
                                }
                        ) as usize;
                    }
                    n
                };
                let (warm, steady) = reads.split_at(reads.len() / 3);
                let mut messages: usize = warm.iter().map(|r| drain(&mut conn, r)).sum();
                let allocated = allocations_in(|| {
                    for read in steady {
                        messages += drain(&mut conn, read);
                    }
                });
                assert_eq!(messages, 300, "{b0:x} parts {parts:?}");
                assert_eq!(allocated, 0, "{b0:x} parts {parts:?}");
            }
        }
    }
}

/// A connection that has ended (failed, or closed) keeps nothing it is
/// given: 64 KiB received after the end allocate nothing.
#[test]
fn an_ended_connection_buffers_nothing() {
    let close = c2s(0x88, &[0x03, 0xE8]);
    let bad = c2s(0x83, b""); // reserved opcode: 1002
    for ending in [&close, &bad] {
        let mut conn = server();
        let mut out = Vec::new();
        conn.receive(ending);
        while !matches!(conn.poll_event(&mut out), Polled::Done | Polled::Failed(_)) {}
        assert!(matches!(conn.poll_event(&mut out), Polled::Done));
        let late = c2s(0x82, &[7; 65536]);
        assert_eq!(allocations_in(|| conn.receive(&late)), 0);
        assert!(matches!(conn.poll_event(&mut out), Polled::Done));
    }
}

/// Large messages that never arrive in one piece (200 KiB in 16 KiB reads,
/// text cut inside characters, and binary), with the default config and
/// with `retained_buffer` as large: the text `String`, the read buffer and
/// the reassembly buffer are reused, nothing is allocated per message.
#[test]
fn large_messages_in_pieces_with_buffers_kept() {
    let text = "κόσμε 😀 0123456789 ".repeat(8 << 10);
    let end = (0..=200 << 10).rev().find(|&i| text.is_char_boundary(i));
    let text = &text[..end.unwrap_or(0)];
    for frames in [
        c2s(0x81, text.as_bytes()),
        c2s(0x82, &vec![5; 200 << 10]),
        // A fragmented text message, cut between and inside characters.
        [
            c2s(0x01, &text.as_bytes()[..70_001]),
            c2s(0x80, &text.as_bytes()[70_001..]),
        ]
        .concat(),
    ] {
        for retained in [512, 512 << 10] {
            let config = Config::default().with_retained_buffer(retained);
            let conn = Connection::new_open(Role::Server, config);
            let what = format!("{:x}, retained_buffer({retained})", frames[0]);
            assert_steady_in_reads(conn, &frames, 16 << 10, &what);
        }
    }
}

/// An IO loop may poll again before its next read (woken by a timer, or
/// with nothing to read): a poll that finds no new input is not the small
/// message that ends a run of large ones, so the large buffers stay for
/// the next large message, whether reads go straight into the connection
/// or are copied in.
#[test]
fn polls_without_input_keep_large_buffers() {
    let frame = c2s(0x82, &vec![5; 1 << 20]);
    for straight in [true, false] {
        let mut conn = Connection::new_open(Role::Server, Config::default());
        let mut out = Vec::new();
        let mut run = |conn: &mut Connection| {
            let mut messages = 0;
            for read in frame.chunks(64 << 10) {
                if straight {
                    let n = conn.receive_with(read.len(), |room| {
                        room.copy_from_slice(read);
                        Ok::<_, ()>(read.len())
                    });
                    assert_eq!(n, Ok(read.len()));
                } else {
                    conn.receive(read);
                }
                messages += echo_events(conn, &mut out);
            }
            for _ in 0..3 {
                assert_eq!(echo_events(conn, &mut out), 0);
            }
            messages
        };
        for _ in 0..4 {
            assert_eq!(run(&mut conn), 1);
        }
        let mut messages = 0;
        let allocated = allocations_in(|| {
            for _ in 0..20 {
                messages += run(&mut conn);
            }
        });
        assert_eq!((messages, allocated), (20, 0), "straight: {straight}");
    }
}

/// A connection that is `Done` holds no memory, whichever buffer held the
/// message in progress when it ended (a keepalive Ping went unanswered):
/// the read buffer (a partial frame), the reassembly buffer (a binary
/// fragment) or the text (a text fragment). Dropping it frees nothing.
#[test]
fn done_holds_no_memory() {
    use core::time::Duration;
    use wstate::Keepalive;
    let ms = Duration::from_millis;
    let partial_frame = c2s(0x82, &[1; 1000])[..600].to_vec();
    let binary_fragment = c2s(0x02, &[2; 1000]);
    let text_fragment = c2s(0x01, "κόσμε".repeat(100).as_bytes());
    for (what, read) in [
        ("partial frame", partial_frame),
        ("binary fragment", binary_fragment),
        ("text fragment", text_fragment),
    ] {
        let keepalive = Keepalive::new(ms(100), ms(50));
        let config = Config::default()
            .with_keepalive(Some(keepalive))
            .with_retained_buffer(0);
        let mut conn = Connection::new_open(Role::Server, config);
        let mut out = Vec::new();
        conn.handle_timeout(ms(0), &mut out);
        conn.receive(&read);
        assert!(
            matches!(conn.poll_event(&mut out), Polled::NeedMore),
            "{what}"
        );
        // A Ping, no Pong: the connection fails (1011).
        for t in (10..=400).step_by(10) {
            conn.handle_timeout(ms(t), &mut out);
        }
        assert!(
            matches!(
                conn.poll_event(&mut out),
                Polled::Failed(wstate::Error::KeepaliveTimeout)
            ),
            "{what}"
        );
        assert!(matches!(conn.poll_event(&mut out), Polled::Done), "{what}");
        // Only the boxed Close frame we sent (1011) is left to free.
        let freed = allocation_counter::measure(|| drop(conn));
        assert_eq!(freed.count_current, -1, "{what}: {freed:?}");
        assert!(-freed.bytes_current < 200, "{what}: {freed:?}");
    }
}

/// The text of a message that arrives in pieces is given room for at most
/// eight times what came of it so far (at least 256 KiB): of a 16 MiB text
/// frame, the header and 4 KiB take 256 KiB, and 1 MiB in 64 KiB reads
/// takes no more than nine times that (the text, its room, and the old
/// buffer while it is copied), not the frame's 16 MiB.
#[test]
fn text_room_is_bounded_by_what_came() {
    let header = [0x81, 0xFF, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0]; // 16 MiB, key 0
    for (read, reads, bound) in [(1 << 10, 4, 272 << 10), (64 << 10, 16, 9 << 20)] {
        let mut conn = server();
        let mut out = Vec::new();
        let peak = allocation_counter::measure(|| {
            conn.receive(&header);
            for _ in 0..reads {
                conn.receive(&vec![b'a'; read]);
                assert!(matches!(conn.poll_event(&mut out), Polled::NeedMore));
            }
        });
        assert!(peak.bytes_max <= bound, "{read} x {reads}: {peak:?}");
    }
}

/// ... and grows in few steps: a 1 MiB text frame in 512-byte reads (within
/// the retained read buffer) costs a handful of allocations, not one per
/// doubling from 512 bytes.
#[test]
fn text_in_small_reads_grows_in_few_steps() {
    let frame = c2s(0x81, &[b'a'; 1 << 20]);
    let mut conn = server();
    let mut out = Vec::new();
    let mut messages = 0;
    let info = allocation_counter::measure(|| {
        for read in frame.chunks(512) {
            messages += echo_read(&mut conn, read, &mut out);
        }
    });
    assert_eq!(messages, 1);
    // The read buffer (once), the text (256 KiB, then the whole frame) and
    // `out` for the echo (once).
    assert!(info.count_total <= 4, "{info:?}");
}

/// A text buffer of exactly `retained_buffer` bytes is kept ("larger buffers
/// are freed"): fragmented 100-byte text messages with `retained_buffer(100)`
/// allocate nothing in steady state.
#[test]
fn text_buffer_of_exactly_the_retained_size_is_kept() {
    let message = [c2s(0x01, &[b'x'; 100]), c2s(0x80, b"")].concat();
    let config = Config::default().with_retained_buffer(100);
    let conn = Connection::new_open(Role::Server, config);
    assert_steady_in_reads(conn, &message, 8, "100-byte text, retained_buffer(100)");
}

/// How a fragmented message's buffer grows, byte for byte (a fresh
/// connection, the whole message in one read): the read buffer takes the
/// read; the message buffer takes each fragment's room when it no longer
/// fits, at least doubling, never past `max_message_size`, and nothing for
/// a fragment that fits (an empty last one). Binary (the reassembly
/// buffer) and text (the `String` of checked characters) alike.
#[test]
fn fragmented_message_growth_is_exact() {
    const K: usize = 1 << 10;
    let cases: [(&[usize], usize, &[usize]); 3] = [
        // fragment sizes, max_message_size, the message buffer's allocations
        (&[100 * K, 0], 16 << 20, &[100 * K]),
        (
            &[64 * K, 64 * K, 64 * K],
            16 << 20,
            &[64 * K, 128 * K, 256 * K],
        ),
        (
            &[64 * K, 64 * K, 150_000 - 128 * K],
            150_000,
            &[64 * K, 128 * K, 150_000],
        ),
    ];
    for (sizes, limit, growth) in cases {
        for (first, text) in [(0x02, false), (0x01, true)] {
            let last = sizes.len() - 1;
            let input: Vec<u8> = sizes
                .iter()
                .enumerate()
                .flat_map(|(i, &n)| {
                    let b0 = if i == 0 { first } else { 0 } | if i == last { 0x80 } else { 0 };
                    c2s(b0, &vec![b'z'; n])
                })
                .collect();
            let config = Config::default().with_max_message_size(limit);
            let mut conn = Connection::new_open(Role::Server, config);
            let mut out = Vec::new();
            let info = allocation_counter::measure(|| {
                conn.receive(&input);
                match conn.poll_event(&mut out) {
                    Polled::Event(Event::Text(t), _) if text => {
                        assert_eq!(t.len(), sizes.iter().sum::<usize>())
                    }
                    Polled::Event(Event::Binary(b), _) if !text => {
                        assert_eq!(b.len(), sizes.iter().sum::<usize>())
                    }
                    other => panic!("{other:?}"),
                }
            });
            let expected = input.len() + growth.iter().sum::<usize>();
            assert_eq!(
                (info.count_total as usize, info.bytes_total as usize),
                (1 + growth.len(), expected),
                "{sizes:?} text {text}"
            );
        }
    }
}

/// Text that arrives over several reads is unmasked in the read buffer,
/// which holds one read, and its characters move into the message's text
/// as each read is polled, so the frame is never buffered whole: a 750 KB
/// text frame in 64 KiB reads allocates the read buffer once, the text
/// twice (512 KiB, then at most 1 MiB) and `out` for the echo once: 4, and
/// no more bytes than those. A read buffer that held the frame would grow
/// with it, many times.
#[test]
fn text_in_large_reads_holds_one_read() {
    let text: String = "aé€😀".repeat(1 << 20).chars().take(300_000).collect();
    let frame = c2s(0x81, text.as_bytes());
    let mut conn = server();
    let mut out = Vec::new();
    let mut messages = 0;
    let info = allocation_counter::measure(|| {
        for read in frame.chunks(64 << 10) {
            messages += echo_read(&mut conn, read, &mut out);
        }
    });
    assert_eq!(messages, 1);
    assert_eq!(info.count_total, 4, "{info:?}");
    let text = (512 << 10) + (1 << 20);
    let read = 64 << 10;
    assert!(
        info.bytes_total as usize <= text + read + out.capacity(),
        "{info:?}"
    );
}

/// Where a server unmasks a read's text, seen in what the read allocates
/// (a 20,000-byte text frame whose header came alone): in the read buffer,
/// which grows to the read, and the text gets room for the whole frame;
/// each payload byte is copied once more, into the text.
#[test]
fn where_a_read_of_text_is_unmasked() {
    let frame = c2s(0x81, &[b'a'; 20_000]);
    let (header, payload) = frame.split_at(8);
    for read in [4096, 4097] {
        let mut conn = server();
        let mut out = Vec::new();
        conn.receive(header);
        assert!(matches!(conn.poll_event(&mut out), Polled::NeedMore));
        let info = allocation_counter::measure(|| {
            conn.receive(&payload[..read]);
            assert!(matches!(conn.poll_event(&mut out), Polled::NeedMore));
        });
        let expected = (2, read as u64 + 20_000);
        assert_eq!((info.count_total, info.bytes_total), expected, "{read}");
        conn.receive(&payload[read..]);
        assert!(matches!(
            conn.poll_event(&mut out),
            Polled::Event(Event::Text(t), _) if t.len() == 20_000 && t.bytes().all(|b| b == b'a')
        ));
    }
}

/// Reads straight into the connection (`receive_with`, 4096 bytes of room)
/// allocate nothing in steady state, with the default config (the room
/// asked for is more than `retained_buffer`, so the buffer is kept even
/// when a read fills 22 bytes of it) and with `retained_buffer(4096)`:
/// 1000 reads of 100 small messages each, and of one, echoed.
#[test]
fn reads_into_the_connection_allocate_nothing() {
    let one = c2s(0x82, b"0123456789abcdef");
    for read in [one.repeat(100), one] {
        for config in [
            Config::default(),
            Config::default().with_retained_buffer(4096),
        ] {
            reads_into_the_connection(config, &read);
        }
    }
}

fn reads_into_the_connection(config: Config, read: &[u8]) {
    let mut conn = Connection::new_open(Role::Server, config);
    let mut out = Vec::new();
    let mut run = |conn: &mut Connection| {
        let n = conn
            .receive_with(4096, |room| {
                room[..read.len()].copy_from_slice(read);
                Ok::<_, ()>(read.len())
            })
            .unwrap();
        assert_eq!(n, read.len());
        echo_events(conn, &mut out)
    };
    let per_read = read.len() / 22;
    for _ in 0..4 {
        assert_eq!(run(&mut conn), per_read);
    }
    let mut messages = 0;
    let allocated = allocations_in(|| {
        for _ in 0..1000 {
            messages += run(&mut conn);
        }
    });
    assert_eq!((messages, allocated), (1000 * per_read, 0));
}

/// How the read buffer grows for a large binary frame, allocation by
/// allocation (nothing else allocates: the frame is handed out in place).
/// It takes the first read, doubles for the second, and once an eighth of
/// the frame is here (or at least the rest fits in 8 x 32 KiB) makes room
/// for the rest at once, exactly: 1 MiB in 64 KiB reads costs 3
/// allocations, 200 KB in 1 KiB reads 2, where growing by doubling would
/// take 6 and 9.
#[test]
fn read_buffer_growth_for_a_large_frame_is_exact() {
    for (size, read, allocations) in [(1 << 20, 64 << 10, 3), (200_000, 1 << 10, 2)] {
        let frame = c2s(0x82, &vec![7; size]);
        let config = Config::default().with_retained_buffer(4 << 20);
        let mut conn = Connection::new_open(Role::Server, config);
        let mut out = Vec::new();
        let mut got = None;
        let info = allocation_counter::measure(|| {
            for read in frame.chunks(read) {
                conn.receive(read);
                while let Polled::Event(event, _) = conn.poll_event(&mut out) {
                    if let Event::Binary(b) = event {
                        got = Some(b.len());
                    }
                }
            }
        });
        assert_eq!(got, Some(size));
        assert_eq!(info.count_total, allocations, "{size} in {read}: {info:?}");
    }
}

/// The text grows only when a read does not fit: of a 1 MiB text frame in
/// 32 KiB reads, the first takes room for 256 KiB (eight times what came)
/// and the 8 KiB block of the read buffer its text is unmasked in, and the
/// eighth, which fills that room exactly, allocates nothing; the ninth
/// grows it.
#[test]
fn a_read_that_fills_the_text_exactly_allocates_nothing() {
    let frame = c2s(0x81, &[b'a'; 1 << 20]);
    let (header, payload) = frame.split_at(14);
    let mut conn = server();
    let mut out = Vec::new();
    conn.receive(header);
    assert!(matches!(conn.poll_event(&mut out), Polled::NeedMore));
    let reads: Vec<u64> = payload
        .chunks(32 << 10)
        .take(9)
        .map(|read| {
            allocations_in(|| {
                conn.receive(read);
                assert!(matches!(conn.poll_event(&mut out), Polled::NeedMore));
            })
        })
        .collect();
    assert_eq!(reads, [2, 0, 0, 0, 0, 0, 0, 0, 1]);
}

/// A server that compresses (permessage-deflate) keeps its compressed-output
/// buffer for messages up to 4 KiB and frees the one a larger message grew:
/// steady 100-byte and 4,032-byte messages (whose buffer is exactly 4 KiB)
/// allocate nothing once warm, and a small message after a 1 MiB one gives
/// back the 64 KiB it grew to.
#[cfg(feature = "deflate")]
#[test]
fn compressed_sending_keeps_a_small_buffer_and_frees_a_large_one() {
    use wstate::DeflateConfig;
    use wstate::handshake::extensions::negotiate;
    let server = || {
        let config = Config::default().with_deflate(Some(DeflateConfig::default()));
        let params = negotiate([&b"permessage-deflate"[..]], config.deflate().unwrap());
        assert!(params.is_some());
        Connection::new_open_with_deflate(Role::Server, config, params)
    };
    let text = |n: usize| -> Vec<u8> { (0..n).map(|i| b'a' + (i * 7 % 26) as u8).collect() };
    for size in [100, 4032] {
        let mut conn = server();
        let message = text(size);
        let mut out = Vec::with_capacity(64 << 10);
        for _ in 0..3 {
            conn.sender()
                .send(Message::Binary(&message), &mut out)
                .unwrap();
            out.clear();
        }
        let allocated = allocations_in(|| {
            for _ in 0..100 {
                conn.sender()
                    .send(Message::Binary(&message), &mut out)
                    .unwrap();
                out.clear();
            }
        });
        assert_eq!(allocated, 0, "{size}-byte messages");
    }
    let mut conn = server();
    let mut out = Vec::with_capacity(4 << 20);
    conn.sender()
        .send(Message::Binary(&text(1 << 20)), &mut out)
        .unwrap();
    out.clear();
    let info = allocation_counter::measure(|| {
        conn.sender()
            .send(Message::Binary(b"small"), &mut out)
            .unwrap();
    });
    assert!(info.bytes_current < -(60 << 10), "{info:?}");
}

/// With `Release::AfterMessage` a server that sent a compressed message
/// holds its history and nothing else: the compressor's state and the
/// compressed-output buffer are given back. After one 2 KiB message at 15
/// window bits, exactly 2,048 bytes more are held.
#[cfg(feature = "deflate")]
#[test]
fn after_message_a_compressing_server_holds_only_its_history() {
    use wstate::handshake::extensions::negotiate;
    use wstate::{DeflateConfig, Release};
    let deflate = DeflateConfig::default().with_release(Release::AfterMessage);
    let config = Config::default().with_deflate(Some(deflate));
    let params = negotiate([&b"permessage-deflate"[..]], config.deflate().unwrap());
    assert!(params.is_some());
    let mut conn = Connection::new_open_with_deflate(Role::Server, config, params);
    let message: Vec<u8> = (0..2048).map(|i| b'a' + (i * 7 % 26) as u8).collect();
    let mut out = Vec::with_capacity(64 << 10);
    let info = allocation_counter::measure(|| {
        conn.sender()
            .send(Message::Binary(&message), &mut out)
            .unwrap();
    });
    assert!(out.len() < 1024, "compressed: {} bytes", out.len());
    assert_eq!(info.bytes_current, 2048, "{info:?}");
}

/// `shrink_buffers` gives back the decompressor of a connection that went
/// idle (`Release::WhenIdle`, the default): a server that received one
/// compressed message and sent none frees at least the inflater's 32 KiB
/// window, and keeps the message as its history; the next compressed
/// message is inflated by a decompressor rebuilt from it.
#[cfg(feature = "deflate")]
#[test]
fn shrink_buffers_gives_back_an_idle_decompressor() {
    use wstate::DeflateConfig;
    use wstate::handshake::extensions::negotiate;
    let config = Config::default().with_deflate(Some(DeflateConfig::default()));
    let params = negotiate([&b"permessage-deflate"[..]], config.deflate().unwrap());
    assert!(params.is_some());
    let mut server = Connection::new_open_with_deflate(Role::Server, config.clone(), params);
    let mut n = 0u8;
    let entropy = move |dest: &mut [u8]| {
        for b in dest {
            n = n.wrapping_add(1);
            *b = n;
        }
    };
    let mut client = Connection::new_open_with_deflate(Role::client(entropy), config, params);
    let message: String = (0..2048)
        .map(|i| (b'a' + (i * 7 % 26) as u8) as char)
        .collect();
    let mut out = Vec::with_capacity(64 << 10);
    for _ in 0..2 {
        client
            .sender()
            .send(Message::Text(&message), &mut out)
            .unwrap();
        assert_eq!(out[0], 0xC1, "compressed: FIN, RSV1, Text");
        server.receive(&out);
        out.clear();
        match server.poll_event(&mut out) {
            Polled::Event(Event::Text(text), _) => assert_eq!(text, message),
            other => panic!("{other:?}"),
        }
        assert!(matches!(server.poll_event(&mut out), Polled::NeedMore));
        let freed = allocation_counter::measure(|| server.shrink_buffers());
        assert!(freed.bytes_current <= -(32 << 10), "{freed:?}");
    }
}

/// The reassembly buffer of fragmented binary messages is kept up to
/// `retained_buffer` by itself: 100-byte messages in three fragments (50,
/// 50 and none: the buffer doubles to exactly 100) allocate nothing in
/// steady state with `retained_buffer(100)` (a buffer of exactly that size
/// is kept) and with 4096.
#[test]
fn binary_message_buffer_is_kept_up_to_the_retained_size() {
    let message = [c2s(0x02, &[7; 50]), c2s(0x00, &[8; 50]), c2s(0x80, b"")].concat();
    for retained in [100, 4096] {
        let config = Config::default().with_retained_buffer(retained);
        let conn = Connection::new_open(Role::Server, config);
        let what = format!("100-byte binary, retained_buffer({retained})");
        assert_steady_in_reads(conn, &message, 8, &what);
    }
}

/// A fragmented binary message of `len` bytes, in fragments of 1000.
fn fragmented(len: usize) -> Vec<u8> {
    let payload = vec![3; len];
    let mut frames = Vec::new();
    let pieces: Vec<&[u8]> = payload.chunks(1000).collect();
    for (i, piece) in pieces.iter().enumerate() {
        let opcode = if i == 0 { 0x02 } else { 0x00 };
        let fin = if i + 1 == pieces.len() { 0x80 } else { 0 };
        frames.extend(c2s(opcode | fin, piece));
    }
    frames
}

/// Feeds `bytes` in reads of at most `read` bytes, echoing; returns the
/// messages and the change in heap bytes held.
fn feed(conn: &mut Connection, bytes: &[u8], read: usize, out: &mut Vec<u8>) -> (usize, i64) {
    let mut messages = 0;
    let info = allocation_counter::measure(|| {
        for chunk in bytes.chunks(read) {
            messages += echo_read(conn, chunk, out);
        }
    });
    (messages, info.bytes_current)
}

/// A buffer grown past `retained_buffer` (4096 here) is kept while what
/// comes keeps needing more than that, at N + 1 bytes, and freed at the
/// first drain between messages after something of N bytes or less: a
/// message (reassembled from 1000-byte frames) and, separately, a read (a
/// whole frame in the read buffer).
#[test]
fn large_buffers_are_kept_until_something_small_comes() {
    let config = Config::default().with_retained_buffer(4096);
    let mut out = Vec::with_capacity(128 << 10);
    // Messages: the first, in one read, grows the read buffer and the
    // reassembly buffer to 64 KiB. The next come a frame (1008 bytes) per
    // read: the drains between their frames are not between messages.
    let mut conn = Connection::new_open(Role::Server, config.clone());
    let first = fragmented(64 << 10);
    assert_eq!(feed(&mut conn, &first, first.len(), &mut out).0, 1);
    let (n, held) = feed(&mut conn, &fragmented(4097), 1008, &mut out);
    assert_eq!(
        (n, held),
        (1, 0),
        "4097 bytes: both 64 KiB buffers are kept"
    );
    let (n, held) = feed(&mut conn, &fragmented(4096), 1008, &mut out);
    assert_eq!(n, 1);
    assert!(held <= -(128 << 10), "4096 bytes: both freed ({held})");
    // Reads: the read buffer grows to hold a 64 KiB frame.
    let mut conn = Connection::new_open(Role::Server, config);
    assert_eq!(
        feed(&mut conn, &c2s(0x82, &[1; 64 << 10]), 1 << 20, &mut out).0,
        1
    );
    let read = c2s(0x82, &[1; 4089]);
    assert_eq!(read.len(), 4097);
    let (n, held) = feed(&mut conn, &read, 1 << 20, &mut out);
    assert_eq!((n, held), (1, 0), "a 4097-byte read: kept");
    let read = c2s(0x82, &[1; 4088]);
    assert_eq!(read.len(), 4096);
    let (n, held) = feed(&mut conn, &read, 1 << 20, &mut out);
    assert_eq!(n, 1);
    assert!(held <= -(64 << 10), "a 4096-byte read: freed ({held})");
}

/// Large buffers kept after a large message are freed by the keepalive
/// Ping (the connection was quiet for an interval) and by
/// `shrink_buffers`, for each buffer: the read buffer (a whole binary
/// frame), the reassembly buffer (a fragmented binary message) and the
/// text (text in reads that cut the frame). A message in progress keeps
/// its buffer.
#[test]
fn quiet_connections_give_large_buffers_back() {
    use std::time::Duration;
    let text: String = "aé€😀".repeat(1 << 16).chars().take(60_000).collect();
    // What is fed, in reads of what size, and at least how much is freed.
    let cases = [
        (
            "read buffer",
            c2s(0x82, &[1; 64 << 10]),
            1 << 20,
            64i64 << 10,
        ),
        ("reassembly", fragmented(64 << 10), 1000, 64 << 10),
        ("text", c2s(0x81, text.as_bytes()), 16 << 10, 150_000),
    ];
    let mut out = Vec::with_capacity(128 << 10);
    for (what, message, read, large) in &cases {
        for keepalive in [true, false] {
            let mut conn = server();
            conn.handle_timeout(Duration::ZERO, &mut out);
            assert_eq!(feed(&mut conn, message, *read, &mut out).0, 1, "{what}");
            // Bytes arrived at 0 s; the keepalive Ping is due at 20 s.
            conn.handle_timeout(Duration::ZERO, &mut out);
            assert_eq!(conn.poll_timeout(), Some(Duration::from_secs(20)));
            let freed = allocation_counter::measure(|| {
                if keepalive {
                    conn.handle_timeout(Duration::from_secs(20), &mut out);
                } else {
                    conn.shrink_buffers();
                }
            });
            assert!(
                freed.bytes_current <= -large,
                "{what} {keepalive}: {freed:?}"
            );
            if keepalive {
                assert_eq!(out[..2], [0x89, 8], "{what}: the Ping went out");
                out.clear();
            }
        }
        // In progress: everything but the last read; the buffer stays.
        let mut conn = server();
        let cut = message.len() - 1;
        assert_eq!(feed(&mut conn, &message[..cut], *read, &mut out).0, 0);
        let kept = allocation_counter::measure(|| conn.shrink_buffers());
        // Text's read buffer holds nothing between reads: its characters
        // are in the text already.
        let read_buffer = if *what == "text" { -(16 << 10) } else { 0 };
        assert_eq!(kept.bytes_current, read_buffer, "{what}: in progress");
        assert_eq!(
            feed(&mut conn, &message[cut..], *read, &mut out).0,
            1,
            "{what}"
        );
    }
}

/// Where a read that starts a text frame puts it, seen in what it
/// allocates (a fresh server each time, default config): a frame all in
/// the read is handed out in place from the read buffer, one allocation of
/// the read's size; a frame that goes on past the read (by 1 byte, and by
/// more than its header) has the characters that came moved into the text
/// buffer, which gets room for the payload: two allocations, and the next
/// read reuses the read buffer.
#[test]
fn a_read_that_starts_a_text_frame() {
    let text = "ab€".repeat(20); // 100 bytes
    let frame = c2s(0x81, text.as_bytes());
    assert_eq!(frame.len(), 106);
    for (first, expected) in [(106, (1, 106)), (105, (2, 205)), (90, (2, 190))] {
        let mut conn = server();
        let mut out = Vec::new();
        let mut got = None;
        let info = allocation_counter::measure(|| {
            for read in [&frame[..first], &frame[first..]] {
                conn.receive(read);
                while let Polled::Event(event, _) = conn.poll_event(&mut out) {
                    match event {
                        Event::Text(t) => got = Some(t.len()),
                        other => panic!("{other:?}"),
                    }
                }
            }
        });
        assert_eq!(got, Some(100), "first read {first}");
        assert_eq!(
            (info.count_total as usize, info.bytes_total as usize),
            expected,
            "first read {first}"
        );
    }
}
