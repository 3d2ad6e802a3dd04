//! Any status and body: `parse_auth` returns an account or a typed error,
//! never panics.
//!
//! The invariants of fuzz target `xtream_auth`, shared with the stable
//! replay of fuzz/regressions/ (tests/fuzz_regressions.rs).

use streamforge::providers::xtream;

/// Panics when `data` breaks an invariant.
pub fn run(data: &[u8]) {
    let Some((status, body)) = data.split_first_chunk::<2>() else {
        return;
    };
    let status = 100 + u16::from_be_bytes(*status) % 500;
    let _ = xtream::parse_auth(status, body);
    let _ = xtream::parse_short_epg(body);
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = xtream::decode_b64_lenient(text);
        let _ = xtream::normalise_base(text);
    }
}
