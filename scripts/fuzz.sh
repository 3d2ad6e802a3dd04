#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ one after another (one process
# each: the machine is shared), each for SECONDS, seeding each corpus from
# fixtures/ and fuzz/seeds/, and prints the executions per target.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     # default: 60 s, every target
#
# Needs the nightly toolchain and cargo-fuzz (installed when missing). A
# crash leaves its input in fuzz/artifacts/<target>/ and is reported as
# CRASH; copy it to fuzz/regressions/<target>/ so that `cargo test --test
# integration fuzz_regressions` replays it on stable, then fix it. Logs go
# to fuzz/logs/<target>.log. Results are recorded in docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-60}
shift || true
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

fixtures=../fixtures
seed() {
    local t=$1 dir=corpus/$1
    mkdir -p "$dir"
    case $t in
        m3u) cp "$fixtures"/providers/m3u_* "$dir"/ ;;
        xmltv) cp "$fixtures"/providers/xmltv_* "$dir"/ ;;
        xtream_live_streams) cp "$fixtures"/providers/xtream_* "$dir"/ ;;
        xtream_auth)
            # Two bytes of status first: 0x0064 is 100 + 100 = HTTP 200.
            for f in "$fixtures"/providers/xtream_*; do
                { printf '\000\144'; cat "$f"; } > "$dir/200_$(basename "$f")"
            done ;;
        ts_join)
            # A mode byte (0: video, 1: audio only), then 200 packets.
            for f in "$fixtures"/*.ts; do
                { printf '\000'; head -c 37600 "$f"; } > "$dir/video_$(basename "$f")"
            done
            { printf '\001'; head -c 37600 "$fixtures/main.ts"; } > "$dir/audio_only_main.ts" ;;
        config)
            cp ../streamforge.example.toml "$dir"/
            ;;
    esac
    if [ -d "seeds/$t" ]; then cp seeds/"$t"/* "$dir"/; fi
    if [ -d "regressions/$t" ]; then cp regressions/"$t"/* "$dir"/; fi
}

mkdir -p logs
printf '%-22s %8s %14s %10s  %s\n' target seconds executions exec/s result
status=0
for t in "${targets[@]}"; do
    seed "$t"
    log=logs/$t.log
    result=ok
    if ! cargo +nightly fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 \
        -timeout=10 >"$log" 2>&1; then
        result="CRASH: $(grep -o 'artifacts/[^ ]*' "$log" | tail -1)"
        status=1
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    printf '%-22s %8s %14s %10s  %s\n' "$t" "$secs" "${execs:-?}" "${rate:-?}" "$result"
done
exit $status
