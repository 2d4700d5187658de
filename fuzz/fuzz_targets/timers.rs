#![no_main]
//! Target `timers`: see `tests/fuzz_props/timers.rs` for the properties.

use libfuzzer_sys::fuzz_target;

mod memory;
#[path = "../../tests/fuzz_props/mod.rs"]
mod props;

fuzz_target!(|data: &[u8]| props::timers(data));
