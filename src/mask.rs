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
/// use wstate::mask::apply_mask;
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
    // Rotate the key so that index 0 of `buf` lines up with key[offset % 4].
    let k = u32::from_le_bytes(key).rotate_right(8 * (offset % 4) as u32);
    let key_bytes = k.to_le_bytes();
    if buf.len() < 16 {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key_bytes[i & 3];
        }
        return;
    }
    // Wide words in native order: the byte pattern of the key repeats every 4
    // bytes, so repeating it 16 times gives a 64-byte pattern. Working on fixed
    // 64-byte blocks lets the compiler use its widest vector registers.
    let [a, b, c, d] = key_bytes;
    let word = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    let mut blocks = buf.chunks_exact_mut(64);
    for block in &mut blocks {
        for lane in block.chunks_exact_mut(8) {
            let v = u64::from_ne_bytes([
                lane[0], lane[1], lane[2], lane[3], lane[4], lane[5], lane[6], lane[7],
            ]) ^ word;
            lane.copy_from_slice(&v.to_ne_bytes());
        }
    }
    let rest = blocks.into_remainder();
    let mut lanes = rest.chunks_exact_mut(8);
    for lane in &mut lanes {
        let v = u64::from_ne_bytes([
            lane[0], lane[1], lane[2], lane[3], lane[4], lane[5], lane[6], lane[7],
        ]) ^ word;
        lane.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in lanes.into_remainder().iter_mut().enumerate() {
        *b ^= key_bytes[i & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::apply_mask;
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
