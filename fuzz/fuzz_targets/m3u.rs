//! Fuzz target: see `checks/m3u.rs` for the invariants.
#![no_main]

#[path = "../checks/m3u.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
