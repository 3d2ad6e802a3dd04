//! Fuzz target: see `checks/redact.rs` for the invariants.
#![no_main]

#[path = "../checks/redact.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
