//! Any body: the list parsers return items or a typed error, never panic,
//! and every stream they keep has a usable id and a name.
//!
//! The invariants of fuzz target `xtream_live_streams`, shared with the stable
//! replay of fuzz/regressions/ (tests/fuzz_regressions.rs).

use streamforge::providers::xtream;

/// Panics when `data` breaks an invariant.
pub fn run(data: &[u8]) {
    if let Ok(list) = xtream::parse_live_streams(data) {
        for s in &list.streams {
            assert!(s.stream_id > 0);
            assert!(!s.name.is_empty());
            if let Some(c) = &s.category_id {
                assert!(s.category_ids.first() == Some(c));
            }
        }
    }
    let _ = xtream::parse_categories(data);
}
