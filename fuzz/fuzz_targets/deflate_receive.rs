#![no_main]
//! Target `deflate_receive`: see `deflate_receive` in `tests/fuzz_props/deflate.rs` for the properties.

use libfuzzer_sys::fuzz_target;

mod memory;
#[path = "../../tests/fuzz_props/mod.rs"]
mod props;

fuzz_target!(|data: &[u8]| props::deflate::deflate_receive(data));
