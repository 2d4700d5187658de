//! Payload masking (RFC 6455 §5.3).
//!
//! Masking XORs every payload byte with one byte of a 4-byte key:
//! `out[i] = in[i] ^ key[(offset + i) % 4]`. The same operation unmasks.

/// XORs `buf` in place with `key`, as if `buf` started `offset` bytes into
/// the payload. Masking twice with the same key and offset restores the input.
///
/// `offset` lets a payload that arrives in pieces be unmasked piece by piece.
///
/// ```
/// use wstate::wire::mask::apply_mask;
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut data = *b"Hello";
/// apply_mask(&mut data, key, 0);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// // Unmask in two pieces: the second starts at payload offset 2.
/// let (a, b) = data.split_at_mut(2);
/// apply_mask(a, key, 0);
/// apply_mask(b, key, 2);
/// assert_eq!(&data, b"Hello");
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let k = rotated(key, offset);
    if buf.len() < 64 {
        return mask_words(buf, k);
    }
    // Bytes up to a 32-byte boundary first: the vector loop below then never
    // splits a cache line, which matters for payloads that start right after
    // a 6- or 14-byte header.
    let head = buf.as_ptr().align_offset(32).min(buf.len());
    let (prefix, rest) = buf.split_at_mut(head);
    mask_words(prefix, k);
    mask_words(rest, k.rotate_right(8 * (head % 4) as u32));
}

/// Masks `buf` with the (already rotated) key `k`, eight bytes at a time.
#[inline]
fn mask_words(buf: &mut [u8], k: u32) {
    let [a, b, c, d] = k.to_le_bytes();
    // The compiler turns this loop into vector XORs.
    let word = key_word(k);
    let (chunks, tail) = buf.as_chunks_mut::<8>();
    for chunk in chunks {
        *chunk = (u64::from_ne_bytes(*chunk) ^ word).to_ne_bytes();
    }
    // The tail starts at a multiple of 8, so the key phase is unchanged.
    for (byte, k) in tail.iter_mut().zip([a, b, c, d, a, b, c]) {
        *byte ^= k;
    }
}

/// The key as a little-endian word, rotated so that its first byte is the
/// one payload byte `offset` is masked with: `key[offset % 4]`.
#[inline]
fn rotated(key: [u8; 4], offset: usize) -> u32 {
    u32::from_le_bytes(key).rotate_right(8 * (offset % 4) as u32)
}

/// The rotated key `k` twice, as the 8-byte word that masks any 8 bytes
/// starting at a multiple of 4 from where `k` lines up (the key repeats
/// every 4 bytes).
#[inline]
fn key_word(k: u32) -> u64 {
    u64::from_ne_bytes((u64::from(k) | u64::from(k) << 32).to_le_bytes())
}

/// Writes `src` masked with `key` (as if it started `offset` bytes into the
/// payload) to the front of `dst`, in one pass: a copy and [`apply_mask`]
/// at once. Masks as many bytes as the shorter of the two holds.
pub(crate) fn mask_into(src: &[u8], dst: &mut [u8], key: [u8; 4], offset: usize) {
    let n = src.len().min(dst.len());
    let (src, dst) = (&src[..n], &mut dst[..n]);
    let word = key_word(rotated(key, offset));
    let bytes = word.to_ne_bytes();
    let (src_chunks, src_tail) = src.as_chunks::<8>();
    let (dst_chunks, dst_tail) = dst.as_chunks_mut::<8>();
    for (d, s) in dst_chunks.iter_mut().zip(src_chunks) {
        *d = (u64::from_ne_bytes(*s) ^ word).to_ne_bytes();
    }
    for ((d, s), k) in dst_tail.iter_mut().zip(src_tail).zip(bytes) {
        *d = s ^ k;
    }
}

#[cfg(test)]
mod tests {
    use super::{apply_mask, mask_into};
    use alloc::vec::Vec;

    fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + 7) as u8).collect()
    }

    #[test]
    fn matches_naive_every_offset_and_length() {
        let key = [0x12, 0x9a, 0xfe, 0x01];
        let mut lens: Vec<usize> = (0..=64).collect();
        lens.extend([65, 127, 128, 129, 1000, 4096 + 3, 65_536 + 17]);
        for len in lens {
            for offset in 0..8 {
                // Also shift the start of the slice to vary alignment.
                for start in 0..4 {
                    let src = pattern(len + start);
                    let mut fast = src.clone();
                    let mut slow = src.clone();
                    apply_mask(&mut fast[start..], key, offset);
                    naive(&mut slow[start..], key, offset);
                    assert_eq!(fast, slow, "len {len} offset {offset} start {start}");
                }
            }
        }
    }

    #[test]
    fn mask_into_matches_naive_every_offset_and_length() {
        let key = [0x12, 0x9a, 0xfe, 0x01];
        for len in (0..=70).chain([1000, 4096 + 5]) {
            for offset in 0..8 {
                let src = pattern(len);
                let mut slow = src.clone();
                naive(&mut slow, key, offset);
                // A longer destination keeps its bytes past `len`.
                let mut dst = alloc::vec![0xAA; len + 9];
                mask_into(&src, &mut dst, key, offset);
                assert_eq!(dst[..len], slow[..], "len {len} offset {offset}");
                assert!(dst[len..].iter().all(|&b| b == 0xAA));
                // A shorter one gets the front of `src`.
                let mut short = alloc::vec![0; len / 2];
                mask_into(&src, &mut short, key, offset);
                assert_eq!(short[..], slow[..len / 2], "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn pieces_equal_whole() {
        let key = [1, 2, 3, 4];
        let src = pattern(300);
        let mut whole = src.clone();
        apply_mask(&mut whole, key, 0);
        for split in 0..=300 {
            let mut parts = src.clone();
            let (a, b) = parts.split_at_mut(split);
            apply_mask(a, key, 0);
            apply_mask(b, key, split);
            assert_eq!(parts, whole, "split {split}");
        }
    }

    #[test]
    fn involution() {
        let key = [0xde, 0xad, 0xbe, 0xef];
        let src = pattern(1 << 20);
        let mut buf = src.clone();
        apply_mask(&mut buf, key, 3);
        assert_ne!(buf, src);
        apply_mask(&mut buf, key, 3);
        assert_eq!(buf, src);
    }
}
