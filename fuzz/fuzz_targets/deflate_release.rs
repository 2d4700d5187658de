#![no_main]
//! Target `deflate_release`: see `deflate_release` in `tests/fuzz_props/deflate_release.rs` for the properties.

use libfuzzer_sys::fuzz_target;

mod memory;
#[path = "../../tests/fuzz_props/mod.rs"]
mod props;

fuzz_target!(|data: &[u8]| props::deflate_release::deflate_release(data));
