#!/usr/bin/env bash
# Issue 5 figure: time to a first report from `streamforge probe` vs
# `ffprobe -show_format -show_streams` on the same loopback upstream URL,
# both started at the same instant each round, printed as a table.
# Usage: scripts/bench-probe.sh [rounds] [fixture]   (defaults: 8 main.ts)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v ffprobe >/dev/null || { echo "ffprobe is needed (apt-get install ffmpeg)" >&2; exit 1; }
cargo build --quiet --bin streamforge --example bench_probe
STREAMFORGE_BIN="$PWD/target/debug/streamforge" exec target/debug/examples/bench_probe "$@"
