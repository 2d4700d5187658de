//! Target `utf8`: `Utf8Validator` against `core::str::from_utf8`.

use wstate::wire::utf8::Utf8Validator;

/// `Utf8Validator` agrees with `core::str::from_utf8` however the input is
/// split, and fails in the piece holding the first byte that cannot
/// continue valid UTF-8 (not later).
///
/// Byte 0 % 8 is the number of split points, each one byte (modulo the
/// length + 1); the rest is the text.
pub(crate) fn utf8(data: &[u8]) {
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let count = usize::from(count % 8).min(rest.len());
    let (points, text) = rest.split_at(count);
    let mut splits: Vec<usize> = points
        .iter()
        .map(|&p| usize::from(p) % (text.len() + 1))
        .collect();
    splits.sort_unstable();

    // The index of the first byte after which no continuation is valid.
    let first_bad = match core::str::from_utf8(text) {
        Ok(_) => None,
        Err(e) if e.error_len().is_none() => None, // only truncated at the end
        Err(e) => {
            let start = e.valid_up_to();
            (start..text.len()).find(|&end| {
                core::str::from_utf8(&text[start..=end]).is_err_and(|e| e.error_len().is_some())
            })
        }
    };
    let valid = core::str::from_utf8(text).is_ok();

    let mut v = Utf8Validator::new();
    // `feed_into` beside it: the same verdicts, and the characters so far.
    let mut w = Utf8Validator::new();
    let mut chars = String::new();
    let mut at = 0;
    let mut failed = false;
    for split in splits.into_iter().chain([text.len()]) {
        let piece = &text[at..split];
        let result = v.feed(piece);
        assert_eq!(
            w.feed_into(piece, &mut chars),
            result,
            "feed_into, piece {at}..{split}"
        );
        if result.is_ok() {
            assert_eq!(w.incomplete_len(), v.incomplete_len());
            let boundary = split - v.incomplete_len();
            assert_eq!(
                chars.as_bytes(),
                &text[..boundary],
                "characters up to {boundary}"
            );
        }
        match first_bad {
            Some(bad) if (at..split).contains(&bad) => {
                assert!(result.is_err(), "missed the bad byte at {bad}");
                failed = true;
                break;
            }
            _ => assert!(
                result.is_ok(),
                "failed before the bad byte, piece {at}..{split}"
            ),
        }
        // After valid pieces, "complete" means "at a character boundary".
        assert_eq!(
            v.is_complete(),
            core::str::from_utf8(&text[..split]).is_ok(),
            "is_complete after {split}"
        );
        at = split;
    }
    if !failed {
        assert_eq!(v.finish().is_ok(), valid);
    }
    assert_eq!(failed || v.finish().is_err(), !valid);
    // `reset` forgets a partial character.
    v.reset();
    assert!(v.is_complete() && v.feed(b"ok").is_ok() && v.finish().is_ok());
}
