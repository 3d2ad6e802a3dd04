#!/usr/bin/env bash
# Issue 4 figures: /lineup.json and /epg.xml response time and the server's
# peak memory for N channels (default 2000) with a 7-day guide.
#
# There is no programme source yet (the sources issue adds one), so the
# 7-day guide is the placeholder guide every channel without guide data
# gets: 2-hour blocks for 7 days, 84 programmes per channel (168,000 for
# 2,000 channels), written by the same streaming writer real programmes
# will go through.
#
# Starts the real binary on 127.0.0.1 with discovery off, times each
# endpoint with curl (ROUNDS sequential requests, then 4 concurrent
# epg.xml downloads), and reads the server's peak RSS (VmHWM) from /proc.
# Usage: scripts/bench-plex.sh [channels] [rounds]   (PROFILE=debug for a
# debug build; default release)
set -euo pipefail
cd "$(dirname "$0")/.."
CHANNELS=${1:-2000}
ROUNDS=${2:-5}
PROFILE=${PROFILE:-release}
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }

if [ "$PROFILE" = release ]; then
    cargo build --quiet --release --bin streamforge
else
    cargo build --quiet --bin streamforge
fi
BIN="$PWD/target/$PROFILE/streamforge"

WORK=$(mktemp -d)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 50404)
{
    printf '[server]\nlisten = "127.0.0.1:%s"\ndata_dir = "%s/data"\n' "$PORT" "$WORK"
    printf '[discovery]\nudp = false\nssdp = false\n'
    for i in $(seq 1 "$CHANNELS"); do
        n=$((1000 + i))
        printf '[[channel]]\nnumber = "%s"\nname = "Bench Channel %s HD"\n' "$n" "$n"
        printf 'streams = ["http://provider.invalid:8080/live/user/pass/%s.ts", "http://backup.invalid/%s.m3u8"]\n' "$i" "$i"
        if [ $((i % 2)) = 0 ]; then printf 'tvg_id = "bench%s.example"\n' "$n"; fi
        printf 'logo = "https://logos.invalid/%s.png"\ngroup = "Group %s"\n' "$n" $((i % 20))
    done
} >"$WORK/bench.toml"

RUST_LOG=warn "$BIN" serve --config "$WORK/bench.toml" >"$WORK/server.log" 2>&1 &
PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 200); do
    curl -fs "$BASE/healthz" >/dev/null 2>&1 && break
    sleep 0.05
done
curl -fs "$BASE/healthz" >/dev/null || { cat "$WORK/server.log"; echo "server did not start" >&2; exit 1; }

kib() { awk -v k="$1" '/^(VmHWM|VmRSS):/ { if ($1 == k":") print $2 }' "/proc/$PID/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# Runs ROUNDS requests; prints "min median max" seconds of time_total,
# the first-byte median, and the body size.
measure() {
    local path=$1 enc=$2 out="$WORK/times"
    : >"$out"
    for _ in $(seq 1 "$ROUNDS"); do
        curl -fs -o /dev/null -H "Accept-Encoding: $enc" \
            -w '%{time_starttransfer} %{time_total} %{size_download}\n' "$BASE$path" >>"$out"
    done
    sort -k2 -n "$out" | awk -v n="$ROUNDS" '
        { ttfb[NR] = $1; tot[NR] = $2; size = $3 }
        END {
            m = int((n + 1) / 2)
            printf "%8.1f %8.1f %8.1f %9.1f %11d", tot[1] * 1000, tot[m] * 1000, tot[n] * 1000, ttfb[m] * 1000, size
        }'
}

BASE_HWM=$(kib VmHWM)
printf '\nStreamForge plex endpoints: %s channels, 7-day guide (placeholder programmes: no programme source yet), %s rounds, %s build\n\n' \
    "$CHANNELS" "$ROUNDS" "$PROFILE"
printf '%-26s %8s %8s %8s %9s %11s %12s\n' endpoint "min ms" "med ms" "max ms" "TTFB ms" "bytes" "peak RSS MiB"
printf '%-26s %8s %8s %8s %9s %11s %12s\n' "(server idle)" - - - - - "$(mib "$BASE_HWM")"
for spec in "/lineup.json identity" "/playlist.m3u identity" "/epg.xml identity" "/epg.xml gzip"; do
    set -- $spec
    row=$(measure "$1" "$2")
    printf '%-26s %s %12s\n' "$1 ($2)" "$row" "$(mib "$(kib VmHWM)")"
done

# Four clients at once: memory must stay flat (the guide is never built
# in memory, at most two 64 KiB chunks wait per client).
start=$(date +%s.%N)
pids=()
for _ in 1 2 3 4; do
    curl -fs -o /dev/null "$BASE/epg.xml" &
    pids+=($!)
done
wait "${pids[@]}"
end=$(date +%s.%N)
printf '%-26s %8s %8.1f %8s %9s %11s %12s\n' "/epg.xml x4 concurrent" - "$(awk -v a="$start" -v b="$end" 'BEGIN { print (b - a) * 1000 }')" - - - "$(mib "$(kib VmHWM)")"

PROGRAMMES=$(curl -fs "$BASE/epg.xml" | grep -c '<programme ' || true)
printf '\nepg.xml: %s programmes for %s channels; peak RSS is the server process VmHWM after each row.\n' "$PROGRAMMES" "$CHANNELS"
