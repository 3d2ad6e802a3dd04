//! Fuzz target: see `checks/xmltv.rs` for the invariants.
#![no_main]

#[path = "../checks/xmltv.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
