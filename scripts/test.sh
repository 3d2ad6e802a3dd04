#!/usr/bin/env bash
# The whole test suite, as CI runs it. Installs what the build and the
# tests need when missing (FFmpeg dev libraries, ffmpeg/ffprobe,
# hdhomerun_config, xmllint, tv_validate_file), then checks formatting,
# lints and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
command -v rustfmt >/dev/null 2>&1 && cargo fmt --all -- --check
if cargo clippy --version >/dev/null 2>&1; then
    cargo clippy --all-targets -- -D warnings
fi
cargo test --lib --bins --tests "$@"
