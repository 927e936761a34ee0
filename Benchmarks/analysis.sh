#!/usr/bin/env bash
# Analyzer scale and speed (issue 4): a `long` simulated trace of EVENTS events, analyzed on one core
# (taskset -c 0), with peak RSS from /usr/bin/time, beside `vfiotrace dump > /dev/null` and `zstd -d`
# of the same file's compressed frames as references. Medians of RUNS runs.
# Usage: Benchmarks/analysis.sh [EVENTS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-10000000}
runs=${2:-3}
swift build -c release --product vfiotrace >/dev/null
swift build -c release --product vfiotrace-format-bench >/dev/null
bin=.build/release
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
s=$(date +%s.%N)
$bin/vfiotrace simulate --scenario long --seed 1 --events "$events" -o "$out/long.vftrace" >/dev/null
e=$(date +%s.%N)
# The chunks' zstd frames, concatenated, for the zstd -d reference.
python3 Benchmarks/zstd-frames.py "$out/long.vftrace"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
a=(); rss=(); d=(); z=()
for i in $(seq "$runs"); do
    r=$( { /usr/bin/time -f "%e %M" taskset -c 0 $bin/vfiotrace analyze --format json "$out/long.vftrace" >/dev/null; } 2>&1 | tail -1 || true)
    a+=($(echo "$r" | awk '{print $1}')); rss+=($(echo "$r" | awk '{print $2}'))
    s2=$(date +%s.%N); taskset -c 0 $bin/vfiotrace dump "$out/long.vftrace" >/dev/null; e2=$(date +%s.%N); d+=($(echo "$e2 - $s2" | bc -l))
    s3=$(date +%s.%N); taskset -c 0 zstd -q -d -c "$out/long.vftrace.zst" >/dev/null; e3=$(date +%s.%N); z+=($(echo "$e3 - $s3" | bc -l))
done
ma=$(median "${a[@]}"); mr=$(median "${rss[@]}"); md=$(median "${d[@]}"); mz=$(median "${z[@]}")
n=$($bin/vfiotrace stats --format json "$out/long.vftrace" | sed 's/.*"events":\([0-9]*\).*/\1/')
size=$(stat -c %s "$out/long.vftrace")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r); runs: $runs (medians)"
echo "trace: $n events, $size bytes ($(echo "scale=2; $size / $n" | bc) bytes/event), simulated in $(echo "$e - $s" | bc) s"
echo "analyze:        $ma s -> $(echo "$n / $ma" | bc) events/s, peak RSS $((mr / 1024)) MB"
echo "dump >/dev/null: $md s -> analyze takes $(echo "scale=2; $ma / $md" | bc)x dump"
echo "zstd -d:        $mz s -> analyze takes $(echo "scale=2; $ma / $mz" | bc)x zstd -d"
