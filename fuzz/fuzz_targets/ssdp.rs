//! Fuzz target: see `checks/ssdp.rs` for the invariants.
#![no_main]

#[path = "../checks/ssdp.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
