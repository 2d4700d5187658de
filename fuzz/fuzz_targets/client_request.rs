#![no_main]
//! Target `client_request`: see `client_request` in `tests/fuzz_props/mod.rs` for the properties.

use libfuzzer_sys::fuzz_target;

mod memory;
#[path = "../../tests/fuzz_props/mod.rs"]
mod props;

fuzz_target!(|data: &[u8]| props::client_request(data));
