//! Fuzz target: see `checks/ts_join.rs` for the invariants.
#![no_main]

#[path = "../checks/ts_join.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
