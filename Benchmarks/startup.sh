#!/usr/bin/env bash
# Process start-up: the CPU time of commands that do little besides starting — `vfiotrace --version`, and `stats`
# and `analyze --format json` of a trace of a few dozen events — against a Swift hello world (`swiftc -O`) and
# `true`, measured in the same runs.
#
# One core (taskset -c 0). A sample is the CPU time (user + system) of REPS runs in a row, divided by REPS; the
# commands take turns sample by sample, so a change in the machine's speed meets them all alike. Medians of RUNS
# samples, in milliseconds. The loop's own fork is in every figure, `true`'s included.
#
# Usage: Benchmarks/startup.sh [RUNS] [REPS]
#   REF=BINARY also runs the same commands with BINARY (an older vfiotrace, built from `git archive`) in the same
#   runs, as the reference for a change.
#   SWIFT_SCRATCH=DIR builds in DIR (default .build).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-11}
reps=${2:-20}
scratch=${SWIFT_SCRATCH:-.build}
swift build -c release --scratch-path "$scratch" --product vfiotrace >/dev/null
bin=$scratch/release/vfiotrace
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo 'print("hello")' >"$out/hello.swift"
swiftc -O "$out/hello.swift" -o "$out/hello" 2>/dev/null
"$bin" simulate --scenario safe --seed 1 --events 20 -o "$out/tiny.vftrace" >/dev/null

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
batch() { # milliseconds of CPU time per run of a command, over reps runs in a row
    local TIMEFORMAT='%U %S'
    { time taskset -c 0 bash -c 'n=$1; shift; for ((i = 0; i < n; i++)); do "$@" >/dev/null 2>&1 || true; done' _ "$reps" "$@"; } 2>"$out/time"
    awk -v n="$reps" '{printf "%.3f\n", ($1 + $2) * 1000 / n}' "$out/time"
}

names=() cmds=()
add() { names+=("$1"); shift; cmds+=("$*"); }
add "true" true
add "hello world (swiftc -O)" "$out/hello"
for b in ${REF:+"$REF"} "$bin"; do
    who=$([ "$b" = "$bin" ] && echo "vfiotrace" || echo "REF")
    add "$who --version" "$b" --version
    add "$who stats tiny" "$b" stats "$out/tiny.vftrace"
    add "$who analyze --format json tiny" "$b" analyze --format json "$out/tiny.vftrace"
done

declare -A samples
for ((r = 0; r < runs; r++)); do
    for i in "${!cmds[@]}"; do
        # shellcheck disable=SC2086
        samples[$i]+=" $(batch ${cmds[$i]})"
    done
done
echo "CPU time per run, ms: medians of $runs samples of $reps runs, taskset -c 0 ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
for i in "${!cmds[@]}"; do
    # shellcheck disable=SC2086
    printf '%-40s %8s\n' "${names[$i]}" "$(median ${samples[$i]})"
done
