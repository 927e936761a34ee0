#!/usr/bin/env bash
# Trace format benchmark (issue: encode >= 2 M events/s, decode >= 20 M events/s, <= 8 bytes/event),
# with `zstd -d` of the same compressed frames as the physical reference. One core (taskset -c 0).
# Usage: Benchmarks/format.sh [EVENTS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-5000000}
runs=${2:-5}
swift build -c release --product vfiotrace-format-bench >/dev/null
bin=.build/release/vfiotrace-format-bench
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
w=(); r=(); z=()
for i in $(seq "$runs"); do
    res=$(taskset -c 0 "$bin" "$events" "$out/b.vftrace")
    w+=($(echo "$res" | awk '/^write s/ {print $3}'))
    r+=($(echo "$res" | awk '/^read s/ {print $3}'))
    bpe=$(echo "$res" | awk '/^bytes\/event/ {print $2}')
    s=$(date +%s.%N); taskset -c 0 zstd -q -d -c "$out/b.vftrace.zst" >/dev/null; e=$(date +%s.%N)
    z+=($(echo "$e - $s" | bc -l))
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mw=$(median "${w[@]}"); mr=$(median "${r[@]}"); mz=$(median "${z[@]}")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
echo "events: $events, runs: $runs (medians)"
echo "bytes/event:          $bpe"
echo "encode+compress:      $(echo "$events / $mw" | bc) events/s ($mw s)"
echo "read+decompress+decode: $(echo "$events / $mr" | bc) events/s ($mr s)"
echo "zstd -d same frames:  $mz s  -> our read takes $(echo "scale=2; $mr / $mz" | bc)x zstd -d"
