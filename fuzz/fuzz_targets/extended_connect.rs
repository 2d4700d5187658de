#![no_main]
//! Target `extended_connect`: see `tests/fuzz_props/extended_connect.rs` for the properties.

use libfuzzer_sys::fuzz_target;

mod memory;
#[path = "../../tests/fuzz_props/mod.rs"]
mod props;

fuzz_target!(|data: &[u8]| props::extended_connect(data));
