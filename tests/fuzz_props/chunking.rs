//! Target `chunking`: the same stream fed whole, split or byte by byte.

use super::common::*;
use super::receive::*;

/// Feeding the stream whole, split at arbitrary points (polling after each
/// piece, or only at the end) or one byte at a time gives identical events,
/// output and final state.
///
/// After the [`setup`] bytes: byte 4 % 16 is the number of split points,
/// each a big-endian u16 (modulo the stream length + 1), then the stream.
pub(crate) fn chunking(data: &[u8]) {
    let (setup, rest) = setup(data);
    let count = usize::from(setup.extra % 16);
    let (points, stream) = rest.split_at((2 * count).min(rest.len()));
    let mut splits: Vec<usize> = points
        .chunks_exact(2)
        .map(|p| usize::from(u16::from_be_bytes([p[0], p[1]])) % (stream.len() + 1))
        .collect();
    splits.sort_unstable();
    let mut pieces = Vec::new();
    let mut at = 0;
    for split in splits.into_iter().chain([stream.len()]) {
        pieces.push(&stream[at..split]);
        at = split;
    }

    // `direct`: each piece read straight into the connection
    // (`receive_with`), into room larger than the read (reused room holds
    // earlier bytes); an empty read would be the end of the stream, so
    // empty pieces are skipped.
    let slack = usize::from(setup.extra % 7);
    let run_with = |pieces: &[&[u8]], poll_each: bool, parts: Option<usize>, direct: bool| {
        let (mut conn, mut t) = Setup {
            config: setup.config.clone().with_receive_parts(parts),
            ..setup.clone()
        }
        .start();
        for piece in pieces {
            if !direct {
                conn.receive(piece);
            } else {
                // Room past 64 KiB goes only to the frame in progress: a
                // piece larger than the room takes several reads.
                let mut piece: &[u8] = piece;
                while !piece.is_empty() {
                    let n = conn.receive_with(piece.len() + slack, |room| {
                        let n = room.len().min(piece.len());
                        room[..n].copy_from_slice(&piece[..n]);
                        Ok::<_, ()>(n)
                    });
                    let n = n.expect("room for at least a byte");
                    assert!(n > 0 && n <= piece.len());
                    assert!(n == piece.len() || n >= 64 << 10);
                    piece = &piece[n..];
                }
            }
            if poll_each {
                drain(&mut conn, &mut t);
            }
        }
        drain(&mut conn, &mut t);
        if setup.eof {
            conn.receive_eof();
            drain(&mut conn, &mut t);
        }
        (t, summary(&mut conn))
    };
    let run = |pieces: &[&[u8]], poll_each: bool| run_with(pieces, poll_each, None, false);
    let whole = run(&[stream], true);
    check_receive_transcript(&setup, &whole.1, &whole.0);
    check_against_reference(&setup, stream, &whole.0.events);
    let split = run(&pieces, true);
    assert_eq!(split, whole, "split at {pieces:?}");
    let at_end = run(&pieces, false);
    assert_eq!(at_end, whole, "split, polled at the end");
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    let by_byte = run(&bytes, true);
    assert_eq!(by_byte, whole, "byte by byte");
    let direct = run_with(&pieces, true, None, true);
    assert_eq!(direct, whole, "split, read straight into the connection");
    // Parts mode: each way of feeding against whole mode fed the same way
    // (where the parts are cut, and how much of an unfinished message was
    // delivered before a failure, depend on the reads; nothing else does).
    if let Some(max_part) = setup.parts {
        type Feed<'a> = (&'a [&'a [u8]], bool, &'a (Transcript, Summary));
        let feeds: [Feed<'_>; 4] = [
            (&[stream], true, &whole),
            (&pieces, true, &split),
            (&pieces, false, &at_end),
            (&bytes, true, &by_byte),
        ];
        for (pieces, poll_each, whole) in feeds {
            let (t, end) = run_with(pieces, poll_each, Some(max_part), false);
            check_parts_against_whole(&setup, stream, max_part, (&whole.0, &whole.1), (&t, &end));
        }
    }
}
