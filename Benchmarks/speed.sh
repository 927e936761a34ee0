#!/usr/bin/env bash
# Reading and analyzing at the speed of decompression (issue 15): every `simulate` scenario at EVENTS events,
# each measured on one core (taskset -c 0) against `zstd -d` of the very same zstd frames, in one run.
#
# Per scenario and run, CPU time (user + system; on a shared machine wall time includes waiting for a core):
#   zstd -d        the file's chunk frames, concatenated, decompressed to /dev/null: the physical reference
#   read (views)   vfiotrace-format-bench read: decompress + CRC + decode, each event handed over as a view
#   read (owned)   the same, each event built as an owned value (strings, arrays)
#   analyze        vfiotrace analyze --format json > /dev/null (process start-up included), and its peak RSS
#   dump           vfiotrace dump > /dev/null, in lines per second of CPU time
# Medians of RUNS runs; ratios are to zstd -d's median.
#
# With WALL=1, instead: the wall time of `analyze --format json`, `stats` and `dump`, free to use every core the
# machine has (a reader fetches the next chunk on a second thread where it may), then pinned to one; with REF, the
# reference's unpinned wall time too.
#
# Usage: Benchmarks/speed.sh [EVENTS] [RUNS] [SCENARIO...]
#   SWIFT_SCRATCH=DIR builds in DIR (default .build).
#   REF=BINARY also times `BINARY stats` and `BINARY analyze` (an older vfiotrace, built from `git archive`)
#   in the same runs, as the reference for a change; each on a file BINARY simulated itself (an older format
#   version where it wrote one), with that file's bytes per event and its own `zstd -d` reference (REF zstd -d).
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-5000000}
runs=${2:-3}
shift $(($# > 2 ? 2 : $#))
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(safe racy lost-signal slow-userspace v1 v2 many-devices long)
scratch=${SWIFT_SCRATCH:-.build}
swift build -c release --scratch-path "$scratch" --product vfiotrace >/dev/null
swift build -c release --scratch-path "$scratch" --product vfiotrace-format-bench >/dev/null
bin=$scratch/release
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cpu() { # CPU seconds (user + system, to the microsecond) of a command and its children, output discarded
    local TIMEFORMAT='%U %S'
    { time taskset -c 0 "$@" >/dev/null 2>&1 || true; } 2>"$out/time"
    awk '{printf "%.3f\n", $1 + $2}' "$out/time"
}
ratio() { echo "scale=2; $1 / $2" | bc; }
wall() { # wall seconds of a command, output discarded
    local TIMEFORMAT='%R'
    { time "$@" >/dev/null 2>&1 || true; } 2>"$out/time"
    cat "$out/time"
}

traces() { # scenario, path: this build's trace there, and with REF the reference's own at path.ref
    "$bin/vfiotrace" simulate --scenario "$1" --seed 1 --events "$events" -o "$2" >/dev/null
    if [ -n "${REF:-}" ]; then "$REF" simulate --scenario "$1" --seed 1 --events "$events" -o "$2.ref" >/dev/null; fi
}

if [ -n "${WALL:-}" ]; then
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r); $(date -u +%Y-%m-%d)"
    echo "events per scenario: $events; runs: $runs (medians of wall time); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "| scenario | command | REF, all cores | all cores | one core (taskset -c 0) |"
    echo "|---|---|---|---|---|"
    for sc in "${scenarios[@]}"; do
        f=$out/$sc.vftrace
        traces "$sc" "$f"
        for cmd in "analyze --format json" "stats" "dump"; do
            r=(); w=(); p=()
            for _ in $(seq "$runs"); do
                if [ -n "${REF:-}" ]; then r+=($(wall "$REF" $cmd "$f.ref")); fi
                w+=($(wall "$bin/vfiotrace" $cmd "$f"))
                p+=($(wall taskset -c 0 "$bin/vfiotrace" $cmd "$f"))
            done
            mr=$([ -n "${REF:-}" ] && median "${r[@]}" || echo "-")
            printf '| %s | `%s` | %s s | %s s | %s s |\n' "$sc" "$cmd" "$mr" "$(median "${w[@]}")" "$(median "${p[@]}")"
        done
        rm -f "$f" "$f.truth.json" "$f.ref" "$f.ref.truth.json"
    done
    exit 0
fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r); $(date -u +%Y-%m-%d)"
echo "events per scenario: $events; runs: $runs (medians of CPU time, one core)"
echo
ref=${REF:-}
if [ -n "$ref" ]; then
    echo "reference: $ref"
    echo
    echo "| scenario | events | bytes/event | REF bytes/event | zstd -d | REF zstd -d | read (views) | read (owned) | stats | REF stats | analyze | REF analyze | analyze peak RSS | dump |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
else
    echo "| scenario | events | zstd -d | read (views) | read (owned) | stats | analyze | analyze peak RSS | dump |"
    echo "|---|---|---|---|---|---|---|---|---|"
fi
for sc in "${scenarios[@]}"; do
    f=$out/$sc.vftrace
    traces "$sc" "$f"
    # The chunks' zstd frames, concatenated, for the zstd -d reference.
    python3 Benchmarks/zstd-frames.py "$f"
    if [ -n "$ref" ]; then python3 Benchmarks/zstd-frames.py "$f.ref"; fi
    z=(); rz=(); v=(); o=(); st=(); rs=(); a=(); ra=(); rss=(); d=()
    for _ in $(seq "$runs"); do
        z+=($(cpu zstd -q -d -c "$f.zst"))
        res=$(taskset -c 0 "$bin/vfiotrace-format-bench" read "$f")
        v+=($(echo "$res" | awk '/^views cpu s/ {printf "%.3f\n", $4}'))
        o+=($(echo "$res" | awk '/^owned cpu s/ {printf "%.3f\n", $4}'))
        n=$(echo "$res" | awk '/^events/ {print $2}')
        st+=($(cpu "$bin/vfiotrace" stats "$f"))
        if [ -n "$ref" ]; then
            rz+=($(cpu zstd -q -d -c "$f.ref.zst"))
            rs+=($(cpu "$ref" stats "$f.ref"))
            ra+=($(cpu "$ref" analyze --format json "$f.ref"))
        fi
        a+=($(cpu /usr/bin/time -o "$out/rss" -f "%M" "$bin/vfiotrace" analyze --format json "$f"))
        rss+=($(tail -1 "$out/rss"))
        d+=($(cpu "$bin/vfiotrace" dump "$f"))
    done
    mz=$(median "${z[@]}"); mv=$(median "${v[@]}"); mo=$(median "${o[@]}"); ms=$(median "${st[@]}")
    ma=$(median "${a[@]}"); mr=$(median "${rss[@]}"); md=$(median "${d[@]}")
    x() { printf '%s s (%sx)' "$1" "$(ratio "$1" "$mz")"; }
    if [ -n "$ref" ]; then
        mrs=$(median "${rs[@]}"); mra=$(median "${ra[@]}"); mrz=$(median "${rz[@]}")
        # The reference's own commands against its own file's zstd -d.
        rx() { printf '%s s (%sx)' "$1" "$(ratio "$1" "$mrz")"; }
        bpe() { echo "scale=2; $(stat -c %s "$1") / $n" | bc; }
        printf '| %s | %s | %s | %s | %s s | %s s | %s | %s | %s | %s | %s | %s | %s MB | %s M lines/s |\n' "$sc" "$n" "$(bpe "$f")" \
            "$(bpe "$f.ref")" "$mz" "$mrz" "$(x "$mv")" "$(x "$mo")" "$(x "$ms")" "$(rx "$mrs")" "$(x "$ma")" "$(rx "$mra")" \
            "$((mr / 1024))" "$(echo "scale=2; $n / $md / 1000000" | bc)"
    else
        printf '| %s | %s | %s s | %s | %s | %s | %s | %s MB | %s M lines/s |\n' "$sc" "$n" "$mz" "$(x "$mv")" "$(x "$mo")" \
            "$(x "$ms")" "$(x "$ma")" "$((mr / 1024))" "$(echo "scale=2; $n / $md / 1000000" | bc)"
    fi
    rm -f "$f" "$f.zst" "$f.truth.json" "$f.ref" "$f.ref.zst" "$f.ref.truth.json"
done
