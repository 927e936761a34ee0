#!/usr/bin/env bash
# The HTML report at scale (issue 13): a `long` simulated trace of EVENTS events, `vfiotrace report --html`
# timed with its peak RSS, the page's size, and headless Chromium on it: the wall time of a screenshot (the
# browser's own start-up included; a blank page's measured beside it) and, from the DOM, the time from
# navigation to the end of the page's first draw (data-ready-ms). Medians of RUNS runs. REF=PATH/vfiotrace
# (built from an older commit, e.g. `git archive 66351d2 | tar -x -C /tmp/ref`, then a release build there)
# adds the same rows for that binary's page as the reference.
# Usage: [REF=...] [SWIFT_SCRATCH=DIR] Benchmarks/html.sh [EVENTS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-20000000}
runs=${2:-5}
scratch=${SWIFT_SCRATCH:-.build}
swift build -c release --scratch-path "$scratch" --product vfiotrace >/dev/null
bin=$scratch/release/vfiotrace
browser=$(command -v chromium || command -v chromium-browser)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
$bin simulate --scenario long --seed 1 --events "$events" -o "$out/long.vftrace" >/dev/null
echo '<!DOCTYPE html><html><body>blank</body></html>' >"$out/blank.html"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
flags=(--headless --no-sandbox --disable-gpu --window-size=1300,1400)
shot() { # wall seconds of one headless screenshot of $1
    local s e
    s=$(date +%s.%N)
    "$browser" "${flags[@]}" --screenshot="$out/shot.png" "file://$1" >/dev/null 2>&1
    e=$(date +%s.%N)
    echo "$e - $s" | bc -l
}
measure() { # name binary
    local name=$1 vf=$2 gen=() rss=() wall=() ready=() r
    for _ in $(seq "$runs"); do
        /usr/bin/time -f "%e %M" -o "$out/time.txt" "$vf" report "$out/long.vftrace" --html "$out/$name.html" >/dev/null 2>&1 || true
        r=$(tail -1 "$out/time.txt")
        gen+=($(echo "$r" | awk '{print $1}')); rss+=($(echo "$r" | awk '{print $2}'))
        wall+=($(shot "$out/$name.html"))
        r=$("$browser" "${flags[@]}" --dump-dom "file://$out/$name.html" 2>/dev/null | grep -o 'data-ready-ms="[0-9.]*"' | grep -o '[0-9.]*' || echo "-")
        ready+=("$r")
    done
    printf '| %s | %s | %s s | %s MB | %s s | %s |\n' "$name" "$(stat -c %s "$out/$name.html" | awk '{printf "%.2f MB", $1/1e6}')" \
        "$(median "${gen[@]}")" "$(median "${rss[@]}" | awk '{printf "%.0f", $1/1024}')" "$(printf '%.2f' "$(median "${wall[@]}")")" \
        "$(median "${ready[@]}" | awk '$1=="-"{print "-"; next} {printf "%.2f s", $1/1000}')"
}
blank=()
for _ in $(seq "$runs"); do blank+=($(shot "$out/blank.html")); done
echo "$($bin stats --format json "$out/long.vftrace" | sed 's/.*"events":\([0-9]*\).*/\1/') events, $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), medians of $runs runs"
echo "headless Chromium screenshot of a blank page: $(printf '%.2f' "$(median "${blank[@]}")") s"
echo
echo '| page | size | report --html | peak RSS | Chromium screenshot (wall) | navigation to drawn |'
echo '|---|---|---|---|---|---|'
measure new "$bin"
if [ -n "${REF:-}" ]; then measure reference "$REF"; fi
