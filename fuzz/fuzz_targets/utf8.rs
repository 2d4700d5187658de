#![no_main]
//! Target `utf8`: see `utf8` in `tests/fuzz_props/mod.rs` for the properties.

use libfuzzer_sys::fuzz_target;

mod memory;
#[path = "../../tests/fuzz_props/mod.rs"]
mod props;

fuzz_target!(|data: &[u8]| props::utf8(data));
