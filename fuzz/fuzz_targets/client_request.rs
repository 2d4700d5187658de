#![no_main]
//! Target `client_request`: see `tests/fuzz_props/client_request.rs` for the properties.

use libfuzzer_sys::fuzz_target;

mod memory;
#[path = "../../tests/fuzz_props/mod.rs"]
mod props;

fuzz_target!(|data: &[u8]| props::client_request(data));
