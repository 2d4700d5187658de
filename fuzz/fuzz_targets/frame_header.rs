#![no_main]
//! Target `frame_header`: see `tests/fuzz_props/frame_header.rs` for the properties.

use libfuzzer_sys::fuzz_target;

mod memory;
#[path = "../../tests/fuzz_props/mod.rs"]
mod props;

fuzz_target!(|data: &[u8]| props::frame_header(data));
