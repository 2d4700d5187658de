//! Tests of the permessage-deflate codec, with a strict DEFLATE decoder
//! that checks window bits.

use super::*;
use crate::wire::ProtocolError;
use crate::wire::close::CloseCode;
use alloc::vec;

/// Text with repeats at distances from a few bytes to several KiB.
fn sample(len: usize) -> Vec<u8> {
    let mut x: u32 = 7;
    let mut words = Vec::new();
    for _ in 0..300 {
        let mut w = Vec::new();
        for _ in 0..(3 + x % 7) {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            w.push(b'a' + ((x >> 16) % 26) as u8);
        }
        words.push(w);
    }
    let mut v = Vec::new();
    while v.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        v.extend_from_slice(&words[((x >> 16) % 300) as usize]);
        v.push(b' ');
    }
    v.truncate(len);
    v
}

fn deflate(d: &mut Deflater, msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    d.compress(msg, &mut out).unwrap();
    out
}

fn inflate(i: &mut Inflater, payload: &[u8]) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::new();
    i.inflate(payload, true, &mut out, usize::MAX).map(|()| out)
}

// A strict DEFLATE decoder (RFC 1951) written for these tests: it
// refuses any back-reference longer than `window`, unlike zlib-rs's
// inflate, which keeps a 32 KiB window whatever it is told.
struct Bits<'a>(&'a [u8], usize);
impl Bits<'_> {
    fn get(&mut self, n: u32) -> Result<usize, &'static str> {
        let mut v = 0;
        for i in 0..n {
            let byte = *self.0.get(self.1 / 8).ok_or("truncated")?;
            v |= usize::from((byte >> (self.1 % 8)) & 1) << i;
            self.1 += 1;
        }
        Ok(v)
    }
}
struct Huff(Vec<usize>, Vec<usize>); // count per length, symbols in code order
fn huff(lengths: &[usize]) -> Huff {
    let mut count = vec![0; 16];
    lengths.iter().for_each(|&l| count[l] += 1);
    count[0] = 0;
    let mut sym: Vec<usize> = (0..lengths.len()).filter(|&s| lengths[s] != 0).collect();
    sym.sort_by_key(|&s| lengths[s]);
    Huff(count, sym)
}
fn decode(b: &mut Bits<'_>, h: &Huff) -> Result<usize, &'static str> {
    let (mut code, mut first, mut index) = (0, 0, 0);
    for len in 1..16 {
        code |= b.get(1)?;
        if code < first + h.0[len] {
            return h.1.get(index + code - first).copied().ok_or("bad code");
        }
        index += h.0[len];
        first = (first + h.0[len]) << 1;
        code <<= 1;
    }
    Err("bad code")
}
const LBASE: [usize; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEXT: [u32; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
fn dist_base(sym: usize) -> (usize, u32) {
    // Codes 0-3 are distances 1-4; then pairs of codes share `extra` bits.
    if sym < 4 {
        return (sym + 1, 0);
    }
    let extra = (sym as u32 - 2) / 2;
    (((2 + (sym & 1)) << extra) + 1, extra)
}

/// Decodes `data` (a sequence of complete blocks), returning the output
/// and the longest distance used; fails on a distance over `window`.
fn strict_inflate(data: &[u8], window: usize) -> Result<(Vec<u8>, usize), &'static str> {
    let (mut b, mut out, mut longest) = (Bits(data, 0), Vec::new(), 0);
    while b.1 < data.len() * 8 {
        let last = b.get(1)?;
        let (lit, dist) = match b.get(2)? {
            0 => {
                b.1 = b.1.div_ceil(8) * 8;
                let (len, nlen) = (b.get(16)?, b.get(16)?);
                if len != !nlen & 0xffff {
                    return Err("bad stored length");
                }
                let start = b.1 / 8;
                out.extend_from_slice(data.get(start..start + len).ok_or("truncated")?);
                b.1 += len * 8;
                (None, None)
            }
            1 => {
                let mut l = vec![8; 288];
                l[144..256].fill(9);
                l[256..280].fill(7);
                (Some(huff(&l)), Some(huff(&[5; 30])))
            }
            2 => {
                let (nlit, ndist, nclen) = (b.get(5)? + 257, b.get(5)? + 1, b.get(4)? + 4);
                let mut cl = [0; 19];
                for &i in &[
                    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
                ][..nclen]
                {
                    cl[i] = b.get(3)?;
                }
                let clh = huff(&cl);
                let mut l = Vec::new();
                while l.len() < nlit + ndist {
                    match decode(&mut b, &clh)? {
                        s @ 0..=15 => l.push(s),
                        16 => {
                            let prev = *l.last().ok_or("repeat at start")?;
                            (0..3 + b.get(2)?).for_each(|_| l.push(prev));
                        }
                        17 => (0..3 + b.get(3)?).for_each(|_| l.push(0)),
                        _ => (0..11 + b.get(7)?).for_each(|_| l.push(0)),
                    }
                }
                (Some(huff(&l[..nlit])), Some(huff(&l[nlit..nlit + ndist])))
            }
            _ => return Err("reserved block type"),
        };
        if let (Some(lit), Some(dist)) = (lit, dist) {
            loop {
                let sym = decode(&mut b, &lit)?;
                if sym < 256 {
                    out.push(sym as u8);
                    continue;
                } else if sym == 256 {
                    break;
                }
                let i = sym - 257;
                let len = LBASE.get(i).ok_or("bad length")? + b.get(LEXT[i])?;
                let (base, extra) = dist_base(decode(&mut b, &dist)?);
                let d = base + b.get(extra)?;
                if d > window || d > out.len() {
                    return Err("distance too far back");
                }
                longest = longest.max(d);
                (0..len).for_each(|_| out.push(out[out.len() - d]));
            }
        }
        if last == 1 {
            break;
        }
    }
    Ok((out, longest))
}

/// Compresses messages with context takeover and checks the stream with
/// the strict decoder at `window`; returns the longest distance.
fn check_window(level: u8, wbits: u8, window: usize) -> Result<usize, &'static str> {
    let mut d = Deflater::new(level, wbits, false);
    let (mut stream, mut plain) = (Vec::new(), Vec::new());
    for len in [20_000, 3_000, 0, 40_000] {
        let msg = sample(len);
        stream.extend_from_slice(&deflate(&mut d, &msg));
        stream.extend_from_slice(&TAIL);
        plain.extend_from_slice(&msg);
    }
    let (out, longest) = strict_inflate(&stream, window)?;
    assert_eq!(out, plain);
    Ok(longest)
}

#[test]
fn strict_decoder_agrees_with_rfc_examples() {
    let hello = [
        0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff,
    ];
    assert_eq!(strict_inflate(&hello, 256).unwrap().0, b"Hello");
}

#[test]
fn window_bits_are_honoured() {
    for level in [0, 1, 6, 9] {
        for wbits in 9..=15 {
            let longest = check_window(level, wbits, 1 << wbits).unwrap();
            assert!(
                longest <= (1 << wbits) - 262,
                "level {level} wbits {wbits}: {longest}"
            );
        }
    }
}

#[test]
fn wbits_9_fits_an_8_bit_window() {
    // Answering server_max_window_bits=8 and compressing at 9 is safe.
    for level in 0..=9 {
        assert!(check_window(level, 8, 256).unwrap() <= 250);
    }
}

#[test]
fn the_strict_window_check_is_real() {
    // A 15-bit stream of this text uses distances far beyond 512 bytes.
    assert!(check_window(6, 15, 1 << 15).unwrap() > 4096);
    assert_eq!(check_window(6, 15, 1 << 9), Err("distance too far back"));
}

#[test]
fn rfc_7692_hello() {
    // §7.2.3.1: "Hello" is f2 48 cd c9 c9 07 00 (a fixed-Huffman block).
    for level in 1..=9 {
        let mut d = Deflater::new(level, 15, false);
        assert_eq!(
            deflate(&mut d, b"Hello"),
            [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
    }
    assert_eq!(
        inflate(
            &mut Inflater::new(false),
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        )
        .unwrap(),
        b"Hello"
    );
}

#[test]
fn rfc_7692_context_takeover() {
    // §7.2.3.2: the second "Hello" refers back into the first message.
    let mut i = Inflater::new(false);
    let first = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    assert_eq!(inflate(&mut i, &first).unwrap(), b"Hello");
    assert_eq!(
        inflate(&mut i, &[0xf2, 0x00, 0x11, 0x00, 0x00]).unwrap(),
        b"Hello"
    );
    // Ours: the same first message; the second one also refers back
    // (zlib spends a length-5 distance-5 match on it).
    let mut d = Deflater::new(6, 15, false);
    assert_eq!(deflate(&mut d, b"Hello"), first);
    let second = deflate(&mut d, b"Hello");
    assert_eq!(second, [0xf2, 0x00, 0x11, 0x00, 0x00]);
}

#[test]
fn rfc_7692_other_examples() {
    // §7.2.3.3: a stored block.
    let stored = [
        0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    assert_eq!(
        inflate(&mut Inflater::new(false), &stored).unwrap(),
        b"Hello"
    );
    // §7.2.3.5: two blocks in one message.
    let two = [
        0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_eq!(inflate(&mut Inflater::new(false), &two).unwrap(), b"Hello");
}

#[test]
fn round_trips() {
    let msg = sample(50_000);
    for level in [0, 1, 6, 9] {
        for wbits in 8..=15 {
            for nct in [false, true] {
                let (mut d, mut i) = (Deflater::new(level, wbits, nct), Inflater::new(nct));
                for m in [&msg[..], b"x", &msg[..7_000], &msg[..]] {
                    let c = deflate(&mut d, m);
                    assert_eq!(
                        inflate(&mut i, &c).unwrap(),
                        m,
                        "level {level} wbits {wbits}"
                    );
                }
            }
        }
    }
}

#[test]
fn context_takeover_across_messages() {
    let msg = sample(2_000);
    let mut d = Deflater::new(6, 15, false);
    let mut i = Inflater::new(false);
    let sizes: Vec<usize> = (0..3)
        .map(|_| {
            let c = deflate(&mut d, &msg);
            assert_eq!(inflate(&mut i, &c).unwrap(), msg);
            c.len()
        })
        .collect();
    // The 2nd and 3rd messages are mostly one back-reference.
    assert!(
        sizes[1] < 40 && sizes[2] < 40 && sizes[0] > 500,
        "{sizes:?}"
    );
    assert!(d.holds_state() && i.holds_state());
}

#[test]
fn no_context_takeover() {
    let msg = sample(2_000);
    let mut d = Deflater::new(6, 15, true);
    let first = deflate(&mut d, &msg);
    assert!(!d.holds_state(), "state is freed between messages");
    assert_eq!(deflate(&mut d, &msg), first, "each message starts afresh");
    let mut i = Inflater::new(true);
    for _ in 0..3 {
        assert_eq!(inflate(&mut i, &first).unwrap(), msg);
        assert!(!i.holds_state());
    }
    // Without the peer's no_context_takeover, our inflater keeps the
    // window, and a message referring back into the previous one works.
    let mut d = Deflater::new(6, 15, false);
    let mut i = Inflater::new(false);
    let a = deflate(&mut d, &msg);
    let b = deflate(&mut d, &msg);
    assert_eq!(inflate(&mut i, &a).unwrap(), msg);
    assert_eq!(inflate(&mut i, &b).unwrap(), msg);
    // A fresh inflater cannot decode `b` alone.
    assert_eq!(
        inflate(&mut Inflater::new(false), &b),
        Err(InflateError::Corrupt)
    );
}

#[test]
fn empty_messages() {
    // §7.2.3.6: an empty message is the single byte 0x00.
    for nct in [false, true] {
        let mut d = Deflater::new(6, 15, nct);
        let mut i = Inflater::new(nct);
        for m in [&b""[..], b"", b"Hello", b"", b"Hello", b""] {
            let c = deflate(&mut d, m);
            if m.is_empty() {
                assert_eq!(c, [0x00]);
            }
            assert_eq!(inflate(&mut i, &c).unwrap(), m);
        }
    }
    // An empty payload (what wsproto sends for a second empty message in a
    // row) is an empty message, and the stream goes on unharmed.
    let mut d = Deflater::new(6, 15, false);
    let mut i = Inflater::new(false);
    let msg = sample(1_000);
    assert_eq!(inflate(&mut i, &deflate(&mut d, &msg)).unwrap(), msg);
    assert_eq!(inflate(&mut i, &[]).unwrap(), b"");
    let mut out = Vec::new();
    i.inflate(&[], false, &mut out, 10).unwrap();
    i.inflate(&[], true, &mut out, 10).unwrap();
    assert_eq!(out, b"");
    assert_eq!(inflate(&mut i, &deflate(&mut d, &msg)).unwrap(), msg);
}

#[test]
fn fragmented_compress_inflates_whole() {
    let msg = sample(30_000);
    let mut d = Deflater::new(6, 12, false);
    let mut i = Inflater::new(false);
    for _ in 0..2 {
        let mut frames = Vec::new();
        for (n, part) in msg.chunks(7_000).enumerate() {
            let mut f = Vec::new();
            d.compress_part(part, false, &mut f).unwrap();
            assert!(f.ends_with(&TAIL), "part {n} is sync-flushed");
            frames.push(f);
        }
        let mut last = Vec::new();
        d.compress_part(b"", true, &mut last).unwrap(); // an empty last frame
        assert_eq!(last, [0x00]);
        frames.push(last);
        // All frames at once, then frame by frame.
        assert_eq!(inflate(&mut i, &frames.concat()).unwrap(), msg);
        let mut out = Vec::new();
        for (n, f) in frames.iter().enumerate() {
            i.inflate(f, n + 1 == frames.len(), &mut out, usize::MAX)
                .unwrap();
        }
        assert_eq!(out, msg);
    }
    // A last part with data strips its tail.
    let mut f = Vec::new();
    d.compress_part(b"Hel", false, &mut f).unwrap();
    d.compress_part(b"lo", true, &mut f).unwrap();
    assert!(!f.ends_with(&TAIL));
    assert_eq!(inflate(&mut i, &f).unwrap(), b"Hello");
}

#[test]
fn byte_by_byte_is_identical() {
    let msgs = [sample(20_000), Vec::new(), sample(300)];
    let mut d = Deflater::new(6, 15, false);
    let payloads: Vec<Vec<u8>> = msgs.iter().map(|m| deflate(&mut d, m)).collect();
    let mut i = Inflater::new(false);
    for (m, p) in msgs.iter().zip(&payloads) {
        let mut out = Vec::new();
        for b in p {
            i.inflate(core::slice::from_ref(b), false, &mut out, usize::MAX)
                .unwrap();
        }
        i.inflate(&[], true, &mut out, usize::MAX).unwrap();
        assert_eq!(&out, m);
    }
}

#[test]
fn bomb_is_stopped_at_the_limit() {
    const LIMIT: usize = 1 << 20;
    let mut d = Deflater::new(9, 15, true);
    let mut bomb = Vec::new();
    let zeros = vec![0; 1 << 20];
    for _ in 0..63 {
        d.compress_part(&zeros, false, &mut bomb).unwrap();
    }
    d.compress_part(&zeros, true, &mut bomb).unwrap();
    assert!(bomb.len() < 70_000, "64 MiB in {} bytes", bomb.len());
    let mut i = Inflater::new(false);
    let mut out = Vec::new();
    assert_eq!(
        i.inflate(&bomb, true, &mut out, LIMIT),
        Err(InflateError::TooLarge)
    );
    assert_eq!(out.len(), LIMIT + 1);
    assert!(!i.holds_state());
    // The same, fed in 1 KiB pieces.
    let mut out = Vec::new();
    let mut err = None;
    for piece in bomb.chunks(1024) {
        if let Err(e) = i.inflate(piece, false, &mut out, LIMIT) {
            err = Some(e);
            break;
        }
    }
    assert_eq!(err, Some(InflateError::TooLarge));
    assert_eq!(out.len(), LIMIT + 1);
}

#[test]
fn limit_is_exact() {
    let msg = sample(100_000);
    let c = deflate(&mut Deflater::new(6, 15, false), &msg);
    let mut out = Vec::new();
    assert_eq!(
        Inflater::new(false).inflate(&c, true, &mut out, msg.len()),
        Ok(())
    );
    assert_eq!(out, msg);
    let mut out = Vec::new();
    assert_eq!(
        Inflater::new(false).inflate(&c, true, &mut out, msg.len() - 1),
        Err(InflateError::TooLarge)
    );
    assert_eq!(out.len(), msg.len());
    // The limit counts the whole message across calls.
    let mut i = Inflater::new(false);
    let mut out = Vec::new();
    let (a, b) = c.split_at(c.len() / 2);
    i.inflate(a, false, &mut out, msg.len()).unwrap();
    assert_eq!(i.inflate(b, true, &mut out, msg.len()), Ok(()));
    let mut out = Vec::new();
    i.inflate(a, false, &mut out, msg.len() - 1).unwrap();
    assert_eq!(
        i.inflate(b, true, &mut out, msg.len() - 1),
        Err(InflateError::TooLarge)
    );
}

/// A fixed-Huffman block whose symbols make 1,001 zeros (a literal, then
/// matches at distance 1), followed by a symbol with an invalid distance
/// code in its last byte.
const ZEROS_THEN_BAD_DISTANCE: [u8; 11] = [
    0x62, 0x60, 0x18, 0x05, 0xa3, 0x60, 0x14, 0x0c, 0x7b, 0x00, 0xfa,
];

/// The answer depends on the output in order, not on how the input
/// arrived: over the limit once `limit + 1` bytes came out before the bad
/// symbol, else corrupt. zlib decodes symbols that need no output room
/// after filling its output, so with the whole payload in one call it
/// reported the bad symbol after the 1,001st zero, while in pieces the
/// output filled before the bad symbol arrived: `Corrupt` whole,
/// `TooLarge` split, for a limit of 1,000.
#[test]
fn corrupt_data_past_the_limit_is_too_large_however_split() {
    let payload = &ZEROS_THEN_BAD_DISTANCE[..];
    for limit in 995..=1005 {
        let want = if limit < 1001 {
            InflateError::TooLarge
        } else {
            InflateError::Corrupt
        };
        let mut splits: Vec<Vec<&[u8]>> = vec![payload.chunks(1).collect()];
        for at in 0..=payload.len() {
            let (a, b) = payload.split_at(at);
            splits.push(vec![a, b]);
        }
        for pieces in splits {
            let mut i = Inflater::new(false);
            let mut out = Vec::new();
            let mut got = None;
            for (n, piece) in pieces.iter().enumerate() {
                let fin = n + 1 == pieces.len();
                if let Err(e) = i.inflate(piece, fin, &mut out, limit) {
                    got = Some(e);
                    break;
                }
            }
            let lens: Vec<usize> = pieces.iter().map(|p| p.len()).collect();
            assert_eq!(got, Some(want), "limit {limit}, pieces {lens:?}");
            assert_eq!(out.len(), 1001.min(limit + 1), "limit {limit}");
            assert!(out.iter().all(|&b| b == 0), "limit {limit}");
            assert!(!i.holds_state());
        }
    }
}

/// Part by part, a room filled by the output that comes before a bad
/// symbol is progress, and the next call reports the bad symbol, with the
/// input whole or in pieces: the bytes and the error are the same, and the
/// call that fails never filled its room (a caller's limit on the output
/// is checked first, as it would be had the input stopped there).
#[test]
fn corrupt_data_after_a_full_room_is_reported_by_the_next_call() {
    let payload = &ZEROS_THEN_BAD_DISTANCE[..];
    for room in [1, 7, 1000, 1001, 1002, 4096] {
        let run = |pieces: &[&[u8]]| {
            let mut i = Inflater::new(false);
            let mut calls = Vec::new();
            for (n, piece) in pieces.iter().enumerate() {
                let fin = n + 1 == pieces.len();
                let mut input = *piece;
                loop {
                    let mut out = Vec::new();
                    match i.inflate_part(input, fin, &mut out, room) {
                        Ok(p) => {
                            assert_eq!(p.produced, out.len());
                            assert!(!p.done);
                            input = &input[p.consumed..];
                            if p.produced > 0 {
                                calls.push(Ok(out));
                            }
                            if p.produced < room {
                                break;
                            }
                        }
                        Err(e) => {
                            // Never in a call whose room filled, so that a
                            // caller's limit comes first however split.
                            assert!(out.len() < room, "room {room}: {} bytes", out.len());
                            // What came before the bad data is appended.
                            if !out.is_empty() {
                                calls.push(Ok(out));
                            }
                            calls.push(Err(e));
                            return calls;
                        }
                    }
                }
            }
            calls
        };
        let whole = run(&[payload]);
        let zeros: Vec<u8> = whole
            .iter()
            .flat_map(|c| c.clone().unwrap_or_default())
            .collect();
        assert_eq!(zeros.len(), 1001, "room {room}");
        assert!(zeros.iter().all(|&b| b == 0), "room {room}");
        assert_eq!(
            whole.last(),
            Some(&Err(InflateError::Corrupt)),
            "room {room}"
        );
        let (a, b) = payload.split_at(10);
        let joined = |calls: Vec<Result<Vec<u8>, InflateError>>| {
            let err = calls.iter().find_map(|c| c.clone().err());
            let bytes: Vec<u8> = calls
                .into_iter()
                .flat_map(Result::unwrap_or_default)
                .collect();
            (bytes, err)
        };
        let want = joined(whole);
        assert!(joined(run(&[a, b])) == want, "room {room}, split at 10");
        let bytes: Vec<&[u8]> = payload.chunks(1).collect();
        assert!(joined(run(&bytes)) == want, "room {room}, byte by byte");
    }
}

/// Fixed-Huffman symbols that inflate to 524 bytes, then a distance
/// further back than anything inflated, in the last byte.
const DISTANCE_TOO_FAR_BACK: [u8; 15] = [
    0x62, 0x60, 0x18, 0x05, 0xa3, 0x60, 0xde, 0xc2, 0xc8, 0x05, 0xde, 0xc2, 0xc8, 0x05, 0xde,
];

/// Part by part, corrupt data is reported once the output before it is
/// out, whatever the room: never taken for a call with nothing more to
/// give. A call with no input left that found corrupt data held in zlib's
/// bits (no input used, no output) passed for one that merely had nothing
/// more, so a receiver in parts moved on to the next frame.
#[test]
fn corrupt_data_in_held_bits_is_reported_part_by_part() {
    let payload = &DISTANCE_TOO_FAR_BACK[..];
    let mut whole = Vec::new();
    let got = Inflater::new(false).inflate_part(payload, false, &mut whole, usize::MAX);
    assert_eq!(got, Err(InflateError::Corrupt));
    assert_eq!(whole.len(), 524);
    for room in [1, 2, 3, 4, 5, 7, 100, 523, 524, 525] {
        let mut i = Inflater::new(false);
        let (mut out, mut input) = (Vec::new(), payload);
        let err = loop {
            match i.inflate_part(input, false, &mut out, room) {
                Ok(p) => {
                    input = &input[p.consumed..];
                    assert!(p.produced == room, "room {room}: stopped short, {p:?}");
                }
                Err(e) => break e,
            }
        };
        assert_eq!((err, &out), (InflateError::Corrupt, &whole), "room {room}");
    }
}

/// A message ending in a final block (BFINAL = 1), as a peer may send.
fn finished(msg: &[u8]) -> Vec<u8> {
    let mut z = Deflate::new(6, false, 15);
    let mut out = vec![0; msg.len() + 64];
    assert_eq!(
        z.compress(msg, &mut out, DeflateFlush::Finish),
        Ok(Status::StreamEnd)
    );
    out.truncate(z.total_out() as usize);
    out
}

#[test]
fn final_block_ends_the_message_and_resets() {
    let msg = sample(5_000);
    for nct in [false, true] {
        let mut d = Deflater::new(6, 15, nct);
        let mut i = Inflater::new(nct);
        assert_eq!(
            inflate(&mut i, &deflate(&mut d, b"warm up")).unwrap(),
            b"warm up"
        );
        let f = finished(&msg);
        assert_eq!(f.first().map(|b| b & 1), Some(1), "BFINAL set");
        assert_eq!(inflate(&mut i, &f).unwrap(), msg);
        // The next message starts a new stream, from any sender.
        assert_eq!(inflate(&mut i, &finished(b"again")).unwrap(), b"again");
        let fresh = deflate(&mut Deflater::new(6, 15, false), &msg);
        assert_eq!(inflate(&mut i, &fresh).unwrap(), msg);
        // Bytes after the final block, in later frames too, are ignored.
        let mut out = Vec::new();
        i.inflate(&finished(b"Hello"), false, &mut out, 100)
            .unwrap();
        i.inflate(&[0x00, 0x12], false, &mut out, 100).unwrap();
        i.inflate(&[0x34], true, &mut out, 100).unwrap();
        assert_eq!(out, b"Hello");
        // RFC 7692 §7.2.3.4's example: "Hello" in a final block, 00 after it.
        let rfc = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        assert_eq!(inflate(&mut i, &rfc).unwrap(), b"Hello");
    }
}

#[test]
fn corrupt_input_is_refused() {
    // BTYPE 11 is reserved; a stored block with LEN != ~NLEN; a fixed
    // block whose first symbol copies from distance 1 of nothing.
    for bad in [
        &[0x07][..],
        &[0x00, 0x05, 0x00, 0x00, 0x00],
        &[0x02, 0x02, 0x00],
    ] {
        let mut i = Inflater::new(false);
        assert_eq!(
            inflate(&mut i, bad),
            Err(InflateError::Corrupt),
            "{bad:02x?}"
        );
        assert_eq!(
            ProtocolError::from(InflateError::Corrupt).close_code(),
            CloseCode::INVALID_PAYLOAD
        );
        // The inflater is usable again for a (new) connection's message.
        assert_eq!(
            inflate(&mut i, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]).unwrap(),
            b"Hello"
        );
    }
    assert_eq!(
        ProtocolError::from(InflateError::TooLarge).close_code(),
        CloseCode::MESSAGE_TOO_BIG
    );
    // Random bytes: an error or some output, never a panic.
    let noise = sample(4_000);
    for start in 0..64 {
        let _ = inflate(&mut Inflater::new(false), &noise[start..]);
    }
}

#[test]
fn part_by_part() {
    let msg = sample(100_000);
    let mut d = Deflater::new(6, 15, false);
    let mut i = Inflater::new(false);
    for _ in 0..2 {
        let c = deflate(&mut d, &msg);
        let (mut got, mut rest) = (Vec::new(), &c[..]);
        loop {
            let mut part = Vec::new();
            let p = i.inflate_part(rest, true, &mut part, 1000).unwrap();
            assert!(p.produced == part.len() && p.produced <= 1000);
            got.extend_from_slice(&part);
            rest = &rest[p.consumed..];
            if p.done {
                break;
            }
            assert_eq!(p.produced, 1000, "stops early only when the part is full");
        }
        assert!(rest.is_empty());
        assert_eq!(got, msg);
    }
}

/// Heap held between messages and peak during one, counted by
/// allocation-counter's global allocator (per thread). Run with
/// `cargo test --features deflate --lib memory -- --nocapture`.
#[test]
fn memory() {
    extern crate std;
    let msg = sample(10_000);
    let mut out = Vec::with_capacity(1 << 20);
    let mut report = |what: &str, run: &mut dyn FnMut(&mut Vec<u8>)| {
        let info = allocation_counter::measure(|| run(&mut out));
        std::println!(
            "{what}: held {} B, peak {} B",
            info.bytes_current,
            info.bytes_max
        );
        out.clear();
        (info.bytes_current, info.bytes_max)
    };
    let mut d15 = None;
    let (held, _) = report("deflater wbits 15 level 6 memLevel 8, takeover", &mut |o| {
        d15.get_or_insert(Deflater::new(6, 15, false))
            .compress(&msg, o)
            .unwrap()
    });
    assert!((300_000..450_000).contains(&held), "{held}");
    let mut d9 = None;
    let (held, _) = report("deflater wbits 9 level 1 memLevel 2, takeover", &mut |o| {
        d9.get_or_insert(Deflater::new(1, 9, false))
            .compress(&msg, o)
            .unwrap()
    });
    assert!((100_000..200_000).contains(&held), "{held}");
    let mut nct = Deflater::new(6, 15, true);
    let (held, peak) = report("deflater wbits 15 no_context_takeover", &mut |o| {
        nct.compress(&msg, o).unwrap()
    });
    assert!(held == 0 && peak > 300_000, "{held} {peak}");
    let c = deflate(&mut Deflater::new(6, 15, false), &msg);
    let mut inf = Inflater::new(false);
    let (held, _) = report("inflater, takeover", &mut |o| {
        inf.inflate(&c, true, o, usize::MAX).unwrap()
    });
    assert!((30_000..80_000).contains(&held), "{held}");
    let mut inf = Inflater::new(true);
    let (held, peak) = report("inflater, no_context_takeover", &mut |o| {
        inf.inflate(&c, true, o, usize::MAX).unwrap()
    });
    assert!(held == 0 && peak > 30_000, "{held} {peak}");
}

/// Output that exactly fills the room at the end of the input once made the
/// next call (with no input left) look like a stuck zlib: "corrupt". Found
/// by receiving in parts; whole messages fed in two pieces hit it too.
#[test]
fn output_that_fills_the_room_exactly_is_not_an_error() {
    for n in [1000, 4096, 10_000, 65_536, 100_000] {
        let message = vec![b'z'; n];
        let payload = deflate(&mut Deflater::new(1, 15, false), &message);
        for split in 0..=payload.len() {
            let (a, b) = payload.split_at(split);
            let mut i = Inflater::new(false);
            let mut out = Vec::new();
            i.inflate(a, false, &mut out, usize::MAX).unwrap();
            i.inflate(b, true, &mut out, usize::MAX)
                .unwrap_or_else(|e| panic!("{n} bytes, split at {split}: {e:?}"));
            assert_eq!(out, message, "{n} bytes, split at {split}");
        }
        // In parts of every room size around the chunk sizes.
        for room in [1, 99, 100, 1024, 4096] {
            let mut i = Inflater::new(false);
            let mut out = Vec::new();
            let mut input = &payload[..];
            loop {
                let p = i.inflate_part(input, true, &mut out, room).unwrap();
                input = &input[p.consumed..];
                if p.done {
                    break;
                }
            }
            assert_eq!(out, message, "{n} bytes, room {room}");
        }
    }
}

/// Pseudo-random bytes from the generator `sample` uses: incompressible,
/// so the compressed output is larger than the input.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u32 = 1;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect()
}

/// Incompressible data at level 0: with 8,933 input bytes left, the output
/// slices are 8,997 bytes (input + 64) while zlib-rs holds a stored block of
/// some 60 KiB pending, so seven calls only drain it and use no input. That
/// is progress, not a stuck zlib, and must not fail the message; checked on
/// a fresh stream and on a continued one (context takeover, counters not 0).
#[test]
fn output_drained_without_input_is_progress() {
    let msg = noise(140_000);
    let mut d = Deflater::new(0, 15, false);
    let mut i = Inflater::new(false);
    for _ in 0..2 {
        let c = deflate(&mut d, &msg);
        assert_eq!(c.len(), 140_016);
        assert_eq!(inflate(&mut i, &c).unwrap(), msg);
    }
}

/// A piece's whole output is appended before `inflate_part` returns below
/// its room, even when zlib filled the output slice exactly as the input ran
/// out and still holds the rest of a match: a receiver may pass it on at once.
/// The lengths are runs of zeros where that happens at level 6.
#[test]
fn held_output_is_drained_before_returning() {
    for n in [9_218, 10_247, 11_269] {
        let msg = vec![0; n];
        let payload = deflate(&mut Deflater::new(6, 15, false), &msg);
        let mut i = Inflater::new(false);
        let mut out = Vec::new();
        let p = i
            .inflate_part(&payload, false, &mut out, usize::MAX)
            .unwrap();
        let all = Progress {
            consumed: payload.len(),
            produced: n,
            done: false,
        };
        assert_eq!((p, out.len()), (all, n), "{n} zeros");
        let p = i.inflate_part(&[], true, &mut out, usize::MAX).unwrap();
        let end = Progress {
            consumed: 0,
            produced: 0,
            done: true,
        };
        assert_eq!((p, &out), (end, &msg), "{n} zeros");
    }
}

/// Part by part without `fin`: a part that returns short of its room means
/// nothing is held back, so the parts add up to the whole message before its
/// tail is fed, for rooms smaller than the held rest of a match.
#[test]
fn parts_without_fin_add_up_before_the_tail() {
    for n in [9_218, 10_247, 11_269] {
        let msg = vec![0; n];
        let payload = deflate(&mut Deflater::new(6, 15, false), &msg);
        for room in [1, 7, 100, 257] {
            let mut i = Inflater::new(false);
            let (mut out, mut input) = (Vec::new(), &payload[..]);
            loop {
                let p = i.inflate_part(input, false, &mut out, room).unwrap();
                input = &input[p.consumed..];
                assert!(!p.done);
                if p.produced < room {
                    break;
                }
            }
            assert_eq!((input.len(), out.len()), (0, n), "{n} zeros, room {room}");
            let p = i.inflate_part(&[], true, &mut out, room).unwrap();
            let end = Progress {
                consumed: 0,
                produced: 0,
                done: true,
            };
            assert_eq!((p, &out), (end, &msg), "{n} zeros, room {room}");
        }
    }
}

/// The codecs print what they are and whether zlib state is held (the
/// state is made on first use and dropped after a message without context
/// takeover).
#[test]
fn debug_output() {
    let mut d = Deflater::new(6, 15, true);
    assert_eq!(
        alloc::format!("{d:?}"),
        "Deflater { no_context_takeover: true, holds_state: false, .. }"
    );
    let mut out = Vec::new();
    d.compress_part(b"abc", false, &mut out).unwrap();
    assert_eq!(
        alloc::format!("{d:?}"),
        "Deflater { no_context_takeover: true, holds_state: true, .. }"
    );
    let i = Inflater::new(false);
    assert_eq!(
        alloc::format!("{i:?}"),
        "Inflater { no_context_takeover: false, holds_state: false, .. }"
    );
}

// Release and rebuild (`Release`): a codec given back between messages and
// rebuilt from its history decodes exactly what a kept one does.

/// Messages of every shape: empty, tiny, repeats of earlier ones (which
/// refer back across messages), larger than every window.
fn release_messages() -> Vec<Vec<u8>> {
    let big = sample(70_000);
    [
        &big[..2048],
        b"",
        &big[..2048],
        b"x",
        &big[100..700],
        &big[..40_000],
        &big[30_000..31_000],
        &big[5..70_000],
        &big[69_000..],
    ]
    .iter()
    .map(|m| m.to_vec())
    .collect()
}

/// Sends `messages` through a compressor and a decompressor that release
/// as `release` says (with `WhenIdle`, an idle moment after each message);
/// returns the payloads sent. Checks every message decodes exactly, and
/// the whole stream with the strict decoder at the negotiated window.
fn through(
    release: Release,
    level: u8,
    wbits: u8,
    nct: bool,
    messages: &[Vec<u8>],
) -> Vec<Vec<u8>> {
    let mut d = deflater(level, wbits, nct, release).unwrap();
    let mut i = inflater(nct, wbits, release).unwrap();
    let (mut payloads, mut stream, mut plain) = (Vec::new(), Vec::new(), Vec::new());
    for m in messages {
        let c = deflate(&mut d, m);
        assert_eq!(
            inflate(&mut i, &c).unwrap(),
            *m,
            "{release:?} {wbits} {nct}"
        );
        if release == Release::WhenIdle {
            d.release();
            i.release();
        }
        let released = release != Release::Never || nct;
        assert_eq!(d.holds_state(), !released, "{release:?} {wbits} {nct}");
        assert_eq!(i.holds_state(), !released, "{release:?} {wbits} {nct}");
        if !nct && !m.is_empty() {
            stream.extend_from_slice(&c);
            stream.extend_from_slice(&TAIL);
            plain.extend_from_slice(m);
        }
        payloads.push(c);
    }
    if !nct {
        // A peer that keeps only the window it agreed to decodes it all.
        let window = 1 << wbits.max(9);
        assert_eq!(strict_inflate(&stream, window).unwrap().0, plain);
    }
    payloads
}

#[test]
fn release_round_trips_at_every_window() {
    let messages = release_messages();
    for wbits in 8..=15 {
        for nct in [false, true] {
            let kept = through(Release::Never, 1, wbits, nct, &messages);
            for release in [Release::WhenIdle, Release::AfterMessage] {
                let released = through(release, 1, wbits, nct, &messages);
                // Releasing at the same points gives the same bytes,
                // whichever policy did it.
                assert_eq!(
                    released,
                    through(Release::AfterMessage, 1, wbits, nct, &messages)
                );
                if nct {
                    // Nothing survives a message: nothing to differ.
                    assert_eq!(released, kept, "{wbits}");
                }
                // The first message starts from an empty window either way.
                assert_eq!(released[0], kept[0], "{wbits} {nct}");
                let (a, b): (usize, usize) = (
                    kept.iter().map(Vec::len).sum(),
                    released.iter().map(Vec::len).sum(),
                );
                assert!(b * 100 <= a * 101, "ratio at {wbits}: {b} against {a}");
            }
        }
    }
}

/// What one side's policy is is not the other's business: payloads
/// compressed under one policy decode under any other.
#[test]
fn policies_interoperate() {
    let messages = release_messages();
    let all = [Release::Never, Release::WhenIdle, Release::AfterMessage];
    for wbits in [9, 12, 15] {
        for send in all {
            let payloads = through(send, 1, wbits, false, &messages);
            for receive in all {
                let mut i = inflater(false, wbits, receive).unwrap();
                for (c, m) in payloads.iter().zip(&messages) {
                    assert_eq!(inflate(&mut i, c).unwrap(), *m);
                    i.release();
                }
            }
        }
    }
}

/// The RFC's own example survives a release on both sides: the second
/// "Hello" still refers back into the first, byte for byte.
#[test]
fn rfc_7692_context_takeover_after_a_release() {
    let mut d = deflater(6, 15, false, Release::AfterMessage).unwrap();
    let first = deflate(&mut d, b"Hello");
    assert_eq!(first, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    assert!(!d.holds_state());
    let second = deflate(&mut d, b"Hello");
    assert_eq!(second, [0xf2, 0x00, 0x11, 0x00, 0x00]);
    let mut i = inflater(false, 15, Release::AfterMessage).unwrap();
    assert_eq!(inflate(&mut i, &first).unwrap(), b"Hello");
    assert!(!i.holds_state());
    assert_eq!(inflate(&mut i, &second).unwrap(), b"Hello");
}

/// A message sent in parts keeps its stream across an idle moment.
#[test]
fn no_release_inside_a_message() {
    let msg = sample(9_000);
    let mut d = deflater(1, 15, false, Release::WhenIdle).unwrap();
    let mut i = inflater(false, 15, Release::WhenIdle).unwrap();
    let mut c = Vec::new();
    d.compress_part(&msg[..4000], false, &mut c).unwrap();
    d.release();
    assert!(d.holds_state());
    d.compress_part(&msg[4000..], true, &mut c).unwrap();
    let mut out = Vec::new();
    i.inflate(&c[..10], false, &mut out, usize::MAX).unwrap();
    i.release();
    assert!(i.holds_state());
    i.inflate(&c[10..], true, &mut out, usize::MAX).unwrap();
    assert_eq!(out, msg);
    d.release();
    i.release();
    assert!(!d.holds_state() && !i.holds_state());
}

/// A peer that ends a message with a final block starts the next one from
/// an empty window: so does a rebuilt decompressor.
#[test]
fn final_block_clears_the_history() {
    let mut i = inflater(false, 15, Release::AfterMessage).unwrap();
    assert_eq!(inflate(&mut i, &finished(b"Hello")).unwrap(), b"Hello");
    // A back-reference into the previous message is now too far back.
    assert_eq!(
        inflate(&mut i, &[0xf2, 0x00, 0x11, 0x00, 0x00]),
        Err(InflateError::Corrupt)
    );
}

/// What an idle codec holds once released: its history, exactly, and
/// nothing else on the heap.
#[test]
fn released_memory_is_the_history() {
    for (wbits, len, held) in [
        (15, 2048, 2048),
        (15, 65_536, 32_768),
        (12, 2048, 2048),
        (12, 65_536, 4096),
        (9, 2048, 512),
    ] {
        let msg = sample(len);
        let mut kept = None;
        let info = allocation_counter::measure(|| {
            let mut d = deflater(1, wbits, false, Release::WhenIdle).unwrap();
            let mut i = inflater(false, wbits, Release::WhenIdle).unwrap();
            let c = deflate(&mut d, &msg);
            inflate(&mut i, &c).unwrap();
            d.release();
            i.release();
            kept = Some((d, i));
        });
        let (d, i) = kept.unwrap();
        let d_history = d.history.as_ref().unwrap().bytes.capacity();
        let i_history = i.history.as_ref().unwrap().bytes.capacity();
        assert_eq!((d_history, i_history), (held, held), "{wbits} {len}");
        assert_eq!(info.bytes_current, 2 * held as i64, "{wbits} {len}");
    }
}

/// Steady state: `Never` allocates nothing per message; `WhenIdle`
/// nothing once the history is full; `AfterMessage` rebuilds each time.
#[test]
fn allocations_per_message() {
    extern crate std;
    let msg = sample(2048);
    for (release, expected) in [
        (Release::Never, 0..=0),
        (Release::WhenIdle, 0..=0),
        // One zlib-rs allocation per side (the history is full and exact).
        (Release::AfterMessage, 2..=2),
    ] {
        let mut d = deflater(1, 15, false, release).unwrap();
        let mut i = inflater(false, 15, release).unwrap();
        let mut c = Vec::with_capacity(8192);
        let mut out = Vec::with_capacity(8192);
        let mut step = |c: &mut Vec<u8>, out: &mut Vec<u8>| {
            c.clear();
            out.clear();
            d.compress(&msg, c).unwrap();
            i.inflate(c, true, out, usize::MAX).unwrap();
        };
        for _ in 0..40 {
            step(&mut c, &mut out);
        }
        let info = allocation_counter::measure(|| step(&mut c, &mut out));
        std::println!(
            "{release:?}: {} allocations per message, both sides",
            info.count_total
        );
        assert!(
            expected.contains(&info.count_total),
            "{release:?}: {}",
            info.count_total
        );
    }
}

/// The history is the last `max` bytes, in order, however they came.
#[test]
fn history_keeps_the_last_window() {
    let data = sample(5000);
    for bits in [9, 10] {
        let max = 1 << bits;
        for sizes in [
            &[1usize, 700, 3, 511, 512, 513, 2000][..],
            &[5000],
            &[100; 50],
            &[max - 1, 2, max],
        ] {
            let mut h = History::new(bits);
            let mut all = Vec::new();
            let mut at = 0;
            for &n in sizes {
                let piece = &data[at % 4000..at % 4000 + n.min(1000)];
                at += 37;
                h.push(piece);
                all.extend_from_slice(piece);
                assert!(h.bytes.capacity() <= max);
                let want = &all[all.len().saturating_sub(max)..];
                let mut copy = History {
                    bytes: h.bytes.clone(),
                    start: h.start,
                    max,
                };
                assert_eq!(copy.contiguous(), want, "{bits} {sizes:?}");
            }
            h.compact();
            assert_eq!(h.bytes.capacity(), h.bytes.len());
        }
    }
}

/// The history grows once, straight to the window, from empty and again
/// after a compact, and an empty message reserves nothing: exact
/// capacities, so that an idle connection holds what was sent, and a busy
/// one allocates once.
#[test]
fn history_grows_straight_to_the_window() {
    let mut h = History::new(9);
    h.push(b"");
    assert_eq!(h.bytes.capacity(), 0);
    h.push(&[1; 100]);
    assert_eq!(h.bytes.capacity(), 512);
    h.compact();
    assert_eq!(h.bytes.capacity(), 100);
    h.push(b"");
    assert_eq!(h.bytes.capacity(), 100);
    h.push(&[2; 10]);
    assert_eq!(h.bytes.capacity(), 512);
    assert_eq!(h.contiguous(), [[1; 100].as_slice(), &[2; 10]].concat());
}

/// A history is kept only where a rebuild needs it: with the peer's
/// context takeover and a release policy. Under `Never` there is none; with
/// no_context_takeover every message starts from an empty window whatever
/// the policy, so one that refers back into the message before is refused.
#[test]
fn history_only_where_a_rebuild_needs_it() {
    let msg = sample(2048);
    let mut d = deflater(1, 15, false, Release::Never).unwrap();
    let first = deflate(&mut d, &msg);
    let again = deflate(&mut d, &msg); // refers back into `first`
    assert!(again.len() < first.len() / 4);
    for release in [Release::Never, Release::WhenIdle, Release::AfterMessage] {
        let mut i = inflater(true, 15, release).unwrap();
        assert_eq!(inflate(&mut i, &first), Ok(msg.clone()), "{release:?}");
        i.release();
        assert_eq!(
            inflate(&mut i, &again),
            Err(InflateError::Corrupt),
            "{release:?}"
        );
        assert!(i.history.is_none(), "{release:?}");
    }
    let mut i = inflater(false, 15, Release::Never).unwrap();
    assert_eq!(inflate(&mut i, &first), Ok(msg.clone()));
    i.release();
    assert_eq!(inflate(&mut i, &again), Ok(msg));
    assert!(i.history.is_none());
}
