#!/usr/bin/env bash
# Installs StreamForge on a Debian/Ubuntu home server as a systemd service:
#   - the build dependencies (scripts/deps.sh), then a release build;
#   - /usr/local/bin/streamforge;
#   - the system user `streamforge` (/etc/sysusers.d/streamforge.conf);
#   - /etc/systemd/system/streamforge.service;
#   - /etc/streamforge/streamforge.toml from the example, only when there is
#     none (root:streamforge 0640: it will hold provider credentials);
#   - the README and example config under /usr/local/share/doc/streamforge.
# It does not enable or start the service: it prints how to.
# Run it as your user (it uses sudo for the install steps) or as root.
# Again after a `git pull` to upgrade: the config is never overwritten.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-/usr/local}
CONF_DIR=/etc/streamforge
CONF="$CONF_DIR/streamforge.toml"

sudo=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "error: need root or sudo to install" >&2; exit 1; }
    sudo="sudo"
fi
if ! command -v cargo >/dev/null; then
    echo "error: cargo not found. Install Rust (https://rustup.rs) and run this as the user who has it;" >&2
    echo "       it asks sudo for the install steps only." >&2
    exit 1
fi

step() { printf '\n==> %s\n' "$*"; }

step "build dependencies (scripts/deps.sh)"
scripts/deps.sh
step "release build"
cargo build --release --locked --bin streamforge

step "install $PREFIX/bin/streamforge"
$sudo install -D -m 0755 target/release/streamforge "$PREFIX/bin/streamforge"
$sudo install -D -m 0644 README.md "$PREFIX/share/doc/streamforge/README.md"
$sudo install -D -m 0644 streamforge.example.toml "$PREFIX/share/doc/streamforge/streamforge.example.toml"

step "system user streamforge"
$sudo install -D -m 0644 packaging/streamforge.sysusers /etc/sysusers.d/streamforge.conf
if getent passwd streamforge >/dev/null; then
    echo "exists"
elif command -v systemd-sysusers >/dev/null; then
    $sudo systemd-sysusers /etc/sysusers.d/streamforge.conf
else
    $sudo useradd --system --user-group --home-dir /var/lib/streamforge --no-create-home \
        --shell /usr/sbin/nologin --comment "StreamForge IPTV proxy" streamforge
fi

step "config $CONF"
$sudo install -d -m 0755 "$CONF_DIR"
if $sudo test -e "$CONF"; then
    echo "kept the existing one"
else
    $sudo install -m 0640 -o root -g streamforge streamforge.example.toml "$CONF"
    echo "created from streamforge.example.toml: add your [[channel]] entries"
fi

step "systemd unit /etc/systemd/system/streamforge.service"
$sudo install -D -m 0644 packaging/streamforge.service /etc/systemd/system/streamforge.service
if [ -d /run/systemd/system ]; then
    $sudo systemctl daemon-reload
    if systemctl is-active --quiet streamforge; then
        echo "running: restart it to use the new binary: sudo systemctl restart streamforge"
    fi
else
    echo "note: systemd is not running here (a container?); the unit is installed but cannot be started"
fi

cat <<MSG

Installed. Next:
  sudoedit $CONF            # channels and streams (see README: Run it at home)
  sudo systemctl enable --now streamforge
  journalctl -u streamforge -f        # logs; the start lines print what to enter in Plex
MSG
