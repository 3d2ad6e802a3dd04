//! Fuzz target: see `checks/discovery.rs` for the invariants.
#![no_main]

#[path = "../checks/discovery.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
