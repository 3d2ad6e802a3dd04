//! Any bytes as a config file: `Config::from_toml_with_env` returns a
//! config or an error, never panics; a config it returns validates; a
//! parse error is one line that quotes nothing of the file (a planted
//! secret never shows in it).
//!
//! The invariants of fuzz target `config`, shared with the stable
//! replay of fuzz/regressions/ (tests/fuzz_regressions.rs).

use streamforge::config::{Config, ConfigError};

const SECRET: &str = "Zq9SECRETxK";

/// Panics when `data` breaks an invariant.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The fuzzer's text, and the same with a secret planted on each line.
    let planted: String = text.lines().map(|l| format!("{l}{SECRET}\n")).collect();
    for (t, secret) in [(text, text.contains(SECRET)), (planted.as_str(), true)] {
        match Config::from_toml_with_env(t, "fuzz.toml", Vec::new()) {
            Ok(c) => c.validate().expect("a loaded config validates"),
            Err(ConfigError::Parse { message, .. }) => {
                assert!(!message.contains('\n'), "{message:?}");
                if secret && !text.contains(SECRET) {
                    assert!(!message.contains(SECRET), "{t:?}: {message:?}");
                }
            }
            Err(_) => {}
        }
    }
}
