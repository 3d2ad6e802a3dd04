#!/usr/bin/env bash
# The demo: no network, no provider account. Installs what the build needs
# when missing, builds, and runs `streamforge serve --demo` on port 5004
# (override with STREAMFORGE_SERVER_LISTEN=0.0.0.0:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release
export STREAMFORGE_SERVER_DATA_DIR="${STREAMFORGE_SERVER_DATA_DIR:-./data-demo}"
exec target/release/streamforge serve --demo "$@"
