#!/usr/bin/env bash
# The Perfetto exports at scale (issue 13): a `long` simulated trace of EVENTS events, then per run
# `vfiotrace report` writing the protobuf trace (--perfetto-trace), the Chrome JSON (--perfetto, the reference)
# and, as the baseline of the analysis and the state pass both share, OpenMetrics alone: wall time and peak RSS
# from GNU time, and each file's size. With PyPI's perfetto installed, the protobuf trace is also parsed with
# Perfetto's own schema (Scripts/perfetto-trace-summary.py) and its packets counted. Medians of RUNS runs.
# Usage: [SWIFT_SCRATCH=DIR] Benchmarks/perfetto.sh [EVENTS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-20000000}
runs=${2:-5}
scratch=${SWIFT_SCRATCH:-.build}
swift build -c release --scratch-path "$scratch" --product vfiotrace >/dev/null
bin=$scratch/release/vfiotrace
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
$bin simulate --scenario long --seed 1 --events "$events" -o "$out/long.vftrace" >/dev/null
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # name option file
    local name=$1 option=$2 file=$3 wall=() rss=() r
    for _ in $(seq "$runs"); do
        /usr/bin/time -f "%e %M" -o "$out/time.txt" "$bin" report "$out/long.vftrace" "$option" "$out/$file" >/dev/null 2>"$out/stderr.txt" || true
        r=$(tail -1 "$out/time.txt")
        wall+=($(echo "$r" | awk '{print $1}')); rss+=($(echo "$r" | awk '{print $2}'))
    done
    printf '| %s | %s | %s s | %s MB |\n' "$name" "$(stat -c %s "$out/$file" | awk '{printf "%.2f MB", $1/1e6}')" \
        "$(median "${wall[@]}")" "$(median "${rss[@]}" | awk '{printf "%.0f", $1/1024}')"
}
echo "$($bin stats --format json "$out/long.vftrace" | grep -o '"events" : [0-9]*' | grep -o '[0-9]*') events, $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), medians of $runs runs"
echo
echo '| output | size | report (wall) | peak RSS |'
echo '|---|---|---|---|'
measure "baseline: --openmetrics (analysis and nothing else)" --openmetrics metrics.txt
measure "--perfetto (Chrome JSON, reference)" --perfetto trace.json
measure "--perfetto-trace (protobuf)" --perfetto-trace trace.pftrace
echo
echo "protobuf trace's note on stderr: $(grep perfetto-trace -h "$out/stderr.txt" || grep 'kept' "$out/stderr.txt" || echo none)"
if s=$( { /usr/bin/time -f "%e" -o "$out/py.txt" python3 Scripts/perfetto-trace-summary.py "$out/trace.pftrace" >"$out/summary.json"; } 2>&1); then
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(f\"read back with Perfetto's schema in {open(sys.argv[2]).read().strip()} s: {len(d['tracks'])} tracks, {len(d['events'])} events\")" \
        "$out/summary.json" "$out/py.txt"
else
    echo "not read back with Perfetto's schema: $s"
fi
