//! Checks that the FFmpeg development libraries are present before
//! ffmpeg-sys-next runs bindgen, so a missing package gives one clear line
//! instead of a long bindgen/pkg-config error.

use std::process::Command;

const LIBS: &[&str] = &["libavformat", "libavcodec", "libavutil"];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let pkg_config = Command::new("pkg-config").arg("--version").output();
    if pkg_config.map(|o| !o.status.success()).unwrap_or(true) {
        fail("pkg-config is not installed");
    }
    let missing: Vec<&str> = LIBS
        .iter()
        .copied()
        .filter(|lib| {
            !Command::new("pkg-config")
                .args(["--exists", lib])
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        })
        .collect();
    if !missing.is_empty() {
        fail(&format!(
            "FFmpeg libraries not found by pkg-config: {}",
            missing.join(", ")
        ));
    }
}

fn fail(what: &str) -> ! {
    eprintln!(
        "error: {what}. Install them with: sudo apt-get install -y pkg-config clang libclang-dev libavformat-dev libavcodec-dev libavutil-dev (or run scripts/deps.sh)"
    );
    std::process::exit(1);
}
