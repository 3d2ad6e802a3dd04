#!/usr/bin/env bash
# Installs what StreamForge needs on Debian/Ubuntu when it is missing:
#   scripts/deps.sh          build dependencies (FFmpeg dev libraries, clang)
#   scripts/deps.sh --test   plus the independent clients the tests and
#                            benches run (ffmpeg/ffprobe, hdhomerun_config,
#                            xmllint, tv_validate_file, kill, and the
#                            headless chromium + chromedriver the dashboard
#                            tests drive)
# Uses sudo when not root. Does nothing when everything is present.
set -euo pipefail
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

pkgs=()
need() { pkgs+=("$@"); }
command -v pkg-config >/dev/null || need pkg-config
for lib in libavformat libavcodec libavutil; do
    if ! pkg-config --exists "$lib" 2>/dev/null; then
        need libavformat-dev libavcodec-dev libavutil-dev
        break
    fi
done
command -v clang >/dev/null || need clang
[ -n "$(ls /usr/lib/llvm-*/lib/libclang*.so* 2>/dev/null | head -1)" ] || need libclang-dev
if [ "$want_test" = 1 ]; then
    command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need ffmpeg
    command -v hdhomerun_config >/dev/null || need hdhomerun-config
    command -v xmllint >/dev/null || need libxml2-utils
    command -v tv_validate_file >/dev/null || need xmltv-util
    # The benches stop their servers with /bin/kill (the tests use kill(2));
    # `type -P` skips the shell builtin. getconf is in libc-bin (essential).
    type -P kill >/dev/null || need procps
    # tests/web.rs: a real browser over WebDriver.
    [ -x /usr/bin/chromium ] || need chromium
    command -v chromedriver >/dev/null || need chromium-driver
fi
if [ "${#pkgs[@]}" -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "error: missing ${pkgs[*]} and no apt-get here; install the equivalents of: ${pkgs[*]}" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "error: need root or sudo to install: ${pkgs[*]}" >&2; exit 1; }
    sudo="sudo"
fi
echo "Installing: ${pkgs[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
