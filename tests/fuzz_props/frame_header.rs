//! Target `frame_header`: `FrameHeader::parse` on arbitrary bytes.

use wstate::CloseCode;
use wstate::wire::frame::{FrameHeader, MAX_HEADER_LEN};

/// `FrameHeader::parse` never panics; a parsed header re-encodes to exactly
/// the bytes it came from; every shorter prefix is "need more"; an error is
/// final (every prefix is "need more" or the same error).
pub(crate) fn frame_header(data: &[u8]) {
    let result = FrameHeader::parse(data);
    match &result {
        Ok(Some((header, n))) => {
            let n = *n;
            assert!(n <= data.len() && n <= MAX_HEADER_LEN);
            assert_eq!(n, header.encoded_len());
            let mut buf = [0; MAX_HEADER_LEN];
            let written = header.encode(&mut buf);
            assert_eq!(&buf[..written], &data[..n], "re-encoding differs");
            if header.opcode.is_control() {
                assert!(header.fin && header.payload_len <= 125);
            }
            assert!(header.payload_len < 1 << 63);
            for short in 0..n {
                assert_eq!(
                    FrameHeader::parse(&data[..short]),
                    Ok(None),
                    "prefix {short}"
                );
            }
        }
        Ok(None) => assert!(data.len() < MAX_HEADER_LEN, "a whole header was not parsed"),
        Err(e) => {
            assert_eq!(e.close_code(), CloseCode::PROTOCOL_ERROR);
            for short in 0..data.len().min(MAX_HEADER_LEN) {
                let prefix = FrameHeader::parse(&data[..short]);
                assert!(
                    prefix == Ok(None) || prefix == result,
                    "prefix {short}: {prefix:?}"
                );
            }
        }
    }
}
