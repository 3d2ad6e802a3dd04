//! Any bytes (plain or gzip): the reader yields items until `None` or an
//! error, never panics, and keeps every field within its caps.
//!
//! The invariants of fuzz target `xmltv`, shared with the stable
//! replay of fuzz/regressions/ (tests/fuzz_regressions.rs).

use streamforge::providers::xmltv::{self, Item, MAX_TEXT_BYTES};

/// Panics when `data` breaks an invariant.
pub fn run(data: &[u8]) {
    let Ok(mut reader) = xmltv::open(data) else {
        return;
    };
    while let Ok(Some(item)) = reader.next() {
        match item {
            Item::Channel(c) => {
                assert!(!c.id.is_empty());
                assert!(
                    c.display_names
                        .iter()
                        .all(|n| n.name.len() <= MAX_TEXT_BYTES)
                );
            }
            Item::Programme(p) => {
                assert!(!p.channel.is_empty());
                assert!(p.title.len() <= MAX_TEXT_BYTES);
                assert!(p.desc.as_ref().is_none_or(|d| d.len() <= MAX_TEXT_BYTES));
            }
        }
    }
    // A spent or finished reader stays so.
    assert!(matches!(reader.next(), Ok(None)));
}
