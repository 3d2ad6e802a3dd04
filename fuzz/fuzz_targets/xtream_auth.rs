//! Fuzz target: see `checks/xtream_auth.rs` for the invariants.
#![no_main]

#[path = "../checks/xtream_auth.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
