//! Replays on stable, under `cargo test`, every input that broke a fuzz
//! target (fuzz/regressions/<target>/) and every seed (fuzz/seeds/,
//! fixtures/), through the same invariant checks the targets run
//! (fuzz/checks/<target>.rs, included here as modules). A crash found by
//! `scripts/fuzz.sh` becomes a file in fuzz/regressions/ and is then
//! checked here for good.

use std::path::{Path, PathBuf};

#[path = "../fuzz/checks/config.rs"]
mod config;
#[path = "../fuzz/checks/discovery.rs"]
mod discovery;
#[path = "../fuzz/checks/m3u.rs"]
mod m3u;
#[path = "../fuzz/checks/redact.rs"]
mod redact;
#[path = "../fuzz/checks/ssdp.rs"]
mod ssdp;
#[path = "../fuzz/checks/ts_join.rs"]
mod ts_join;
#[path = "../fuzz/checks/xmltv.rs"]
mod xmltv;
#[path = "../fuzz/checks/xtream_auth.rs"]
mod xtream_auth;
#[path = "../fuzz/checks/xtream_live_streams.rs"]
mod xtream_live_streams;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The files in `dir` whose names start with `prefix` (none when absent).
fn files(dir: &str, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root().join(dir)) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    v.sort();
    v
}

/// Runs `check` on every regression and seed of `target` (and on the
/// fixtures named), saying which file broke it; returns how many ran.
fn replay(target: &str, fixtures: &[(&str, &str)], check: fn(&[u8])) -> usize {
    let mut inputs = files(&format!("fuzz/regressions/{target}"), "");
    inputs.extend(files(&format!("fuzz/seeds/{target}"), ""));
    for (dir, prefix) in fixtures {
        inputs.extend(files(dir, prefix));
    }
    for path in &inputs {
        let data = std::fs::read(path).unwrap();
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            panic!("{target}: {} breaks the invariants", path.display());
        }
    }
    inputs.len()
}

/// Found by the `config` target: toml's message for a bad table header
/// holds two lines; the error must be one line.
#[test]
fn fuzz_regressions_config() {
    let n = replay("config", &[("", "streamforge.example.toml")], config::run);
    assert!(n >= 2);
}

/// Found by the `redact` target: a URL with a newline in its query.
#[test]
fn fuzz_regressions_redact() {
    assert!(replay("redact", &[], redact::run) >= 2);
}

#[test]
fn fuzz_regressions_discovery() {
    assert!(replay("discovery", &[], discovery::run) >= 3);
}

#[test]
fn fuzz_regressions_ssdp() {
    assert!(replay("ssdp", &[], ssdp::run) >= 3);
}

#[test]
fn fuzz_regressions_provider_parsers() {
    let m3u_n = replay("m3u", &[("fixtures/providers", "m3u_")], m3u::run);
    let xmltv_n = replay("xmltv", &[("fixtures/providers", "xmltv_")], xmltv::run);
    let xtream_n = replay(
        "xtream_live_streams",
        &[("fixtures/providers", "xtream_")],
        xtream_live_streams::run,
    );
    // xtream_auth reads two status bytes first; the fixtures as bodies of
    // a 200 (0x0064 + 100).
    for path in files("fixtures/providers", "xtream_") {
        let mut data = vec![0x00, 0x64];
        data.extend(std::fs::read(&path).unwrap());
        xtream_auth::run(&data);
    }
    replay("xtream_auth", &[], xtream_auth::run);
    assert!(m3u_n >= 5 && xmltv_n >= 3 && xtream_n >= 5);
}

#[test]
fn fuzz_regressions_ts_join() {
    replay("ts_join", &[], ts_join::run);
    // The fixtures, as the script seeds them: a mode byte, then packets.
    for path in files("fixtures", "") {
        if path.extension().is_some_and(|e| e == "ts") {
            let ts = std::fs::read(&path).unwrap();
            for mode in [0u8, 1] {
                let mut data = vec![mode];
                data.extend_from_slice(&ts[..ts.len().min(188 * 2000)]);
                ts_join::run(&data);
            }
        }
    }
}
