#![no_main]
//! Target `handshake_client`: see `tests/fuzz_props/handshake_client.rs` for the properties.

use libfuzzer_sys::fuzz_target;

mod memory;
#[path = "../../tests/fuzz_props/mod.rs"]
mod props;

fuzz_target!(|data: &[u8]| props::handshake_client(data));
