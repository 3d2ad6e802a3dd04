#!/usr/bin/env bash
# The public benchmark (issue 11), one command from a fresh clone:
#
#   scripts/benchmark.sh                     everything, ~20 min on 2 cores
#   SF_BENCH_QUICK=1 scripts/benchmark.sh    fewer runs and rounds, ~12 min
#
# Installs what it needs when missing (scripts/deps.sh --test: the FFmpeg
# libraries, the ffmpeg CLI the benches compare against), builds the release
# binary and the benches, and runs, against a loopback upstream serving
# generated fixtures at real time:
#   1-2. `engine` (start-up and joining): first byte and first keyframe of a
#        new session, StreamForge vs an ffmpeg child (default probing and
#        -probesize 32k -analyzeduration 0) vs a raw relay; a client joining
#        a running channel;
#   3-4. `scale`: CPU and RSS per stream at 1, 10, 50, 100 channels of
#        4 Mbit/s vs as many ffmpeg children; one channel fanned out to 1,
#        10, 50, 100 clients vs a minimal relay; the SVG plot;
#   5.   `failover`: stall to backup, the splice, rebuffering, and what a
#        byte-splicing relay delivers at the same stall.
# Each side alternates with the other so drift of the machine hits both.
# The tables go to docs/benchmarks.md (between the `benchmark:` markers),
# the plot to docs/benchmark-scale.svg, the headline to README.md; the raw
# outputs and logs stay in target/benchmark/. Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || {
    echo "error: needs Rust's cargo (https://rustup.rs)" >&2
    exit 1
}
scripts/deps.sh --test

out=target/benchmark
mkdir -p "$out"
if [ "${SF_BENCH_QUICK:-0}" = 1 ]; then
    runs=3 rounds=1 secs=12
else
    runs=5 rounds=2 secs=20
fi

echo "benchmark: building (release)" >&2
cargo build --release --benches --bin streamforge 2>"$out/build.log" || {
    tail -30 "$out/build.log" >&2
    exit 1
}

run() {
    local name=$1
    shift
    echo "benchmark: $name ($(date -u +%H:%M:%S))" >&2
    if ! env "$@" cargo bench -q --bench "$name" >"$out/$name.md" 2>"$out/$name.log"; then
        echo "error: the $name bench failed; the end of $out/$name.log:" >&2
        tail -30 "$out/$name.log" >&2
        exit 1
    fi
}
started=$(date -u +%s)
run engine SF_BENCH_PARTS=start SF_BENCH_RUNS="$runs"
run scale SF_SCALE_ROUNDS="$rounds" SF_SCALE_SECS="$secs"
run failover SF_BENCH_RUNS="$((runs > 3 ? 3 : runs))"
took=$(( ($(date -u +%s) - started) / 60 ))

# Where it ran.
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
ffv=$(ffmpeg -version | head -1 | awk '{print $3}')
os=$(. /etc/os-release && echo "$PRETTY_NAME")
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain -- src benches 2>/dev/null | head -1)
[ -n "$dirty" ] && commit="$commit (with uncommitted changes)"
day=$(date -u +%Y-%m-%d)
where="$day, $(nproc) CPUs ($cpu), $(free -g | awk '/Mem:/{print $2}') GiB, $os, Linux $(uname -r), FFmpeg $ffv, $(rustc --version | awk '{print $1, $2}'), commit $commit; \`scripts/benchmark.sh\`${SF_BENCH_QUICK:+ with SF_BENCH_QUICK=1} took $took min"

section="$out/section.md"
{
    echo "<!-- benchmark:begin (written by scripts/benchmark.sh; edits here are overwritten) -->"
    echo
    echo "**Latest run:** $where."
    echo
    echo "### 1–2. Start-up and joining (\`engine\`)"
    cat "$out/engine.md"
    echo
    echo "### 3–4. Cost per stream and fan-out (\`scale\`)"
    echo
    echo "![CPU and RSS per stream against concurrency](benchmark-scale.svg)"
    cat "$out/scale.md"
    echo
    echo "### 5. Failover (\`failover\`)"
    cat "$out/failover.md"
    echo
    echo "<!-- benchmark:end -->"
} >"$section"

# Replaces the lines between two markers (inclusive) of $1 with file $4.
splice() {
    local file=$1 begin=$2 end=$3 with=$4
    grep -q "$begin" "$file" && grep -q "$end" "$file" || {
        echo "error: $file has no $begin … $end markers" >&2
        exit 1
    }
    awk -v b="$begin" -v e="$end" -v f="$with" '
        index($0, b) { while ((getline l < f) > 0) print l; skip = 1; next }
        index($0, e) { skip = 0; next }
        !skip { print }' "$file" >"$file.tmp"
    mv "$file.tmp" "$file"
}
splice docs/benchmarks.md "<!-- benchmark:begin" "<!-- benchmark:end -->" "$section"

headline="$out/headline.md"
{
    echo "<!-- benchmark-headline:begin (written by scripts/benchmark.sh) -->"
    echo "Latest \`scripts/benchmark.sh\` run ($where):"
    cat "$out/headline-scale.md"
    echo
    echo "Tables, the plot and how to read them: [docs/benchmarks.md](docs/benchmarks.md#the-public-benchmark-scriptsbenchmarksh)."
    echo "<!-- benchmark-headline:end -->"
} >"$headline"
splice README.md "<!-- benchmark-headline:begin" "<!-- benchmark-headline:end -->" "$headline"

echo "benchmark: done in $took min; docs/benchmarks.md, docs/benchmark-scale.svg and README.md updated (raw: $out/)" >&2
