#!/usr/bin/env bash
# The first hour of a new user, replayed (issue 14): builds a minimal Debian 12
# root with debootstrap, gives it only git, curl, ca-certificates,
# build-essential and this host's Rust toolchain, clones this repository into
# it and runs the README's two quick-start commands there in a chroot:
#
#   scripts/demo.sh   started, waited for until its "StreamForge demo running"
#                     banner, a few seconds of channel 101 fetched with curl,
#                     then stopped with SIGTERM
#   scripts/test.sh   the whole suite
#
# then scripts/install.sh (no systemd in a chroot: it checks the files, the
# user and that the user can read the config). Reports how long each step
# took and which packages it installed. Not part of CI: it takes many minutes
# (the release build, then the test build) and downloads the Debian packages
# and crates a real first run would.
#
# Usage (as root): scripts/fresh-machine.sh [--keep]
#   ROOT=/var/tmp/streamforge-fresh   where the Debian root goes (emptied first)
#   MIRROR=http://deb.debian.org/debian
#   BRANCH=<current branch>           what to clone
#   --keep                            leave the root in place afterwards
# The chroot shares this host's network: the demo listens on 5004 (another
# free port if that one is taken) and the tests bind UDP 65001, so stop any
# demo on this host first.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ROOT=${ROOT:-/var/tmp/streamforge-fresh}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
BRANCH=${BRANCH:-$(git rev-parse --abbrev-ref HEAD)}
KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1
SUITE=bookworm
BASE_PKGS=(git curl ca-certificates build-essential)

[ "$(id -u)" = 0 ] || { echo "error: run as root (debootstrap and chroot)" >&2; exit 1; }
case "$ROOT" in /|/bin*|/boot*|/dev*|/etc*|/home|/lib*|/proc*|/root|/run*|/sys*|/usr*|/var|"")
    echo "error: refusing ROOT=$ROOT" >&2; exit 1 ;;
esac
SYSROOT=$(rustc --print sysroot)
[ -x "$SYSROOT/bin/cargo" ] || { echo "error: no cargo in $SYSROOT/bin (the host toolchain)" >&2; exit 1; }
LOGS=$(mktemp -d /tmp/streamforge-fresh-logs.XXXXXX)
echo "Logs: $LOGS"

# --- mounts, and their removal whatever happens --------------------------
MOUNTS=()
DEMO_PID=
# Reads all of findmnt's output (grep -q could stop early, and under
# pipefail a SIGPIPE would read as "nothing mounted").
mounted() {
    findmnt -rn -o TARGET | awk -v r="$ROOT" '$0 == r || index($0, r "/") == 1 { f = 1 } END { exit !f }'
}
cleanup() {
    local rc=$?
    # The demo runs in its own process group (setsid): stop it and the
    # build it may still be in.
    if [ -n "$DEMO_PID" ] && kill -0 "$DEMO_PID" 2>/dev/null; then
        kill -TERM -- "-$DEMO_PID" 2>/dev/null || true
        sleep 3
        kill -KILL -- "-$DEMO_PID" 2>/dev/null || true
    fi
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" || true
    done
    if mounted; then
        echo "warning: still mounted under $ROOT; not removing it" >&2
        findmnt -rn -o TARGET | grep -- "^$ROOT" >&2 || true
    elif [ "$KEEP" = 0 ] && [ -d "$ROOT" ]; then
        rm -rf --one-file-system "$ROOT"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mount_in() { # mount_in <args...> <target>
    mount "$@"
    MOUNTS+=("${*: -1}")
}

# --- reporting -----------------------------------------------------------
SUMMARY=()
T0=0
# shellcheck disable=SC2016 # dpkg-query's own format, not a shell expansion
packages() { chroot "$ROOT" dpkg-query -W -f '${Package}\n' | sort; }
start() { T0=$(date +%s); packages >"$LOGS/before" 2>/dev/null || : >"$LOGS/before"; printf '\n==> %s\n' "$1"; }
# finish <name> [requested...]: records time and the packages that appeared.
finish() {
    local name=$1 secs new count
    shift
    secs=$(($(date +%s) - T0))
    packages >"$LOGS/after"
    new=$(comm -13 "$LOGS/before" "$LOGS/after" | tr '\n' ' ')
    count=$(comm -13 "$LOGS/before" "$LOGS/after" | wc -l)
    local asked="${*:-none}"
    SUMMARY+=("$(printf '%-22s %5ss  asked: %s; new packages: %s' "$name" "$secs" "$asked" "$count")")
    printf '%s: %ss, asked for: %s, %s new packages\n' "$name" "$secs" "$asked" "$count"
    [ "$count" -gt 0 ] && printf '  %s\n' "$new" | fold -s -w 100
    return 0
}
# What deps.sh asked apt for, from its "Installing: ..." line.
asked_by() { sed -n 's/^Installing: //p' "$1" | tr '\n' ' '; }
# Runs a command in the chroot as a fresh root login would have it, niced
# (the host has other work).
ENV_IN=(/usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8
    PATH=/opt/rust/bin:/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
in_root() {
    nice -n 10 chroot "$ROOT" "${ENV_IN[@]}" /bin/bash -c "$1"
}

# --- 1. a minimal Debian 12 --------------------------------------------------
command -v debootstrap >/dev/null || {
    echo "Installing debootstrap on the host" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}
if [ -e "$ROOT" ]; then
    mounted && { echo "error: something is mounted under $ROOT" >&2; exit 1; }
    rm -rf --one-file-system "$ROOT"
fi
mkdir -p "$ROOT"
T0=$(date +%s)
printf '\n==> debootstrap --variant=minbase %s %s\n' "$SUITE" "$MIRROR"
nice debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$LOGS/debootstrap.log" 2>&1 ||
    { tail -20 "$LOGS/debootstrap.log"; exit 1; }
count=$(packages | wc -l)
SUMMARY+=("$(printf '%-22s %5ss  minbase: %s packages' debootstrap $(($(date +%s) - T0)) "$count")")
echo "debootstrap: $(($(date +%s) - T0))s, $count packages"

mount_in -t proc proc "$ROOT/proc"
mount_in -t sysfs sys "$ROOT/sys"
mount_in --bind /dev "$ROOT/dev"
mount_in --bind /dev/pts "$ROOT/dev/pts"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
# Security and point-release updates, as a real Debian 12 install has.
cat >"$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${MIRROR%/debian}/debian-security $SUITE-security main
EOF

# --- 2. what the issue's user had: git, curl, build-essential, Rust -------
start "base: ${BASE_PKGS[*]} + the host's Rust"
in_root "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${BASE_PKGS[*]}" \
    >"$LOGS/base.log" 2>&1 || { tail -20 "$LOGS/base.log"; exit 1; }
# The host's local CAs (/usr/local/share/ca-certificates), so that a network
# that inspects TLS works inside as it does outside: without them cargo
# fails to fetch the crates.io index.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
    in_root "update-ca-certificates >/dev/null 2>&1"
    echo "host CAs added: $(cd /usr/local/share/ca-certificates && echo ./*.crt)"
fi
# The toolchain alone (rustc, cargo, clippy, rustfmt), not rustup or the
# host's crate cache: crates are downloaded as on a fresh machine.
mkdir -p "$ROOT/opt/rust"
tar -C "$SYSROOT" --exclude=./share/doc -cf - . | tar -C "$ROOT/opt/rust" -xf -
echo "Rust: $(in_root 'rustc --version; cargo --version' | tr '\n' ' ')"
finish base "${BASE_PKGS[@]}"

start "git clone $REPO (branch $BRANCH)"
git clone -q --branch "$BRANCH" "$REPO" "$ROOT/root/streamforge"
echo "at $(git -C "$ROOT/root/streamforge" log -1 --format='%h %s')"
finish clone

# --- 3. the README's first command: the demo ------------------------------
PORT=5004
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("",0)); print(s.getsockname()[1])' 2>/dev/null || echo 15004)
    echo "note: port 5004 is taken on this host; the demo uses $PORT"
fi
start "scripts/demo.sh"
DEMO_LOG="$LOGS/demo.log"
# setsid + exec all the way down: $! is the group leader and ends up as the
# streamforge process itself (demo.sh execs it after the build).
setsid nice -n 10 chroot "$ROOT" "${ENV_IN[@]}" /bin/bash -c \
    "cd /root/streamforge && STREAMFORGE_SERVER_LISTEN=0.0.0.0:$PORT exec scripts/demo.sh" >"$DEMO_LOG" 2>&1 &
DEMO_PID=$!
banner=0
for _ in $(seq 1 3600); do
    grep -q "StreamForge demo running" "$DEMO_LOG" && { banner=1; break; }
    kill -0 "$DEMO_PID" 2>/dev/null || break
    sleep 1
done
banner_secs=$(($(date +%s) - T0))
demo_result="no banner"
if [ "$banner" = 1 ]; then
    echo "banner after ${banner_secs}s:"
    sed -n '/StreamForge demo running/,/Plex:/p' "$DEMO_LOG" | sed 's/^/  /'
    bytes=$(in_root "curl -s -o /dev/null -m 5 -w '%{size_download}' http://127.0.0.1:$PORT/auto/v101" || true)
    echo "channel 101: ${bytes:-0} bytes in 5 s"
    demo_result="banner after ${banner_secs}s, channel 101 gave ${bytes:-0} bytes in 5 s"
    [ "${bytes:-0}" -gt 100000 ] || demo_result="$demo_result (TOO FEW)"
    kill -TERM "$DEMO_PID"
    wait "$DEMO_PID" && demo_result="$demo_result, stopped cleanly" ||
        demo_result="$demo_result, exit status $? after SIGTERM"
else
    wait "$DEMO_PID" || true
    tail -30 "$DEMO_LOG"
fi
DEMO_PID=
finish demo "$(asked_by "$DEMO_LOG")"
SUMMARY+=("  demo: $demo_result")

# --- 4. the README's second command: the tests ----------------------------
start "scripts/test.sh"
TEST_LOG="$LOGS/test.log"
set +e
in_root "cd /root/streamforge && scripts/test.sh" >"$TEST_LOG" 2>&1
test_rc=$?
set -e
passed=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^passed/) s += $i } END { print s + 0 }' "$TEST_LOG")
failed=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^failed/) s += $i } END { print s + 0 }' "$TEST_LOG")
{ grep -E '^test result:' "$TEST_LOG" || true; } | sed 's/^/  /'
if [ "$failed" -gt 0 ] || [ "$test_rc" != 0 ]; then
    echo "failures:"
    { grep -E '^    [a-z_:0-9]+$|^---- ' "$TEST_LOG" || true; } | sort -u | sed 's/^/  /'
    [ "$passed$failed" = 00 ] && tail -30 "$TEST_LOG"
fi
finish test "$(asked_by "$TEST_LOG")"
SUMMARY+=("  tests: exit $test_rc, $passed passed, $failed failed")

# --- 5. the home install (no systemd here: files, user, permissions) ------
start "scripts/install.sh"
INSTALL_LOG="$LOGS/install.log"
install_result=ok
in_root "cd /root/streamforge && scripts/install.sh" >"$INSTALL_LOG" 2>&1 || install_result="exit $?"
tail -5 "$INSTALL_LOG" | sed 's/^/  /'
conf=$(in_root "stat -c '%U:%G %a' /etc/streamforge/streamforge.toml" 2>&1 || true)
# What StateDirectory= would create, then the user reads its config.
in_root "install -d -o streamforge -g streamforge -m 0750 /var/lib/streamforge" || true
if in_root "cd /var/lib/streamforge && runuser -u streamforge -- env STREAMFORGE_SERVER_DATA_DIR=/var/lib/streamforge /usr/local/bin/streamforge urls --config /etc/streamforge/streamforge.toml" >"$LOGS/urls.log" 2>&1; then
    reads="the user reads it"
else
    reads="the user CANNOT read it: $(head -1 "$LOGS/urls.log")"
fi
finish install "$(asked_by "$INSTALL_LOG")"
SUMMARY+=("  install: $install_result; config $conf, $reads")

# --- report ----------------------------------------------------------------
printf '\n==== fresh Debian 12 (%s), branch %s at %s\n' "$SUITE minbase" "$BRANCH" "$(git -C "$ROOT/root/streamforge" log -1 --format=%h)"
printf '%s\n' "${SUMMARY[@]}"
echo "Logs: $LOGS"
[ "$banner" = 1 ] && [ "$test_rc" = 0 ] && [ "$install_result" = ok ]
