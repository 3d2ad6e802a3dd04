//! Any bytes: `m3u::parse` returns a playlist or an error, never panics,
//! and every entry it returns passed the URL check.
//!
//! The invariants of fuzz target `m3u`, shared with the stable
//! replay of fuzz/regressions/ (tests/fuzz_regressions.rs).

use streamforge::providers::m3u;

/// Panics when `data` breaks an invariant.
pub fn run(data: &[u8]) {
    // A small cap keeps gzip inputs from spending the run inflating.
    if let Ok(playlist) = m3u::parse_with_limit(data, 1 << 20) {
        assert!(!playlist.entries.is_empty());
        for e in &playlist.entries {
            assert!(e.line >= 1);
            assert!(m3u::is_allowed_provider_url(&e.url), "{:?}", e);
            let _ = m3u::stream_key(&e.url);
        }
    }
}
