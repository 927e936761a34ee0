#!/usr/bin/env bash
# Hostile inputs through every reader (crafted CRC-valid chunks, cut and bit-flipped traces, mutated strace,
# QEMU trace, ftrace and JSON Lines logs), each batch of cases in a forked child: counts crashes, hangs and
# the worst peak RSS of a child. Figures in BENCHMARKS.md ("Hostile inputs").
#
#   Benchmarks/hostile-inputs.sh [CASES] [SEED]      (default 100000 cases, seed 1)
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-100000}
seed=${2:-1}
swift build -c release --product vfiotrace-fuzz >/dev/null
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
"$(swift build -c release --show-bin-path)/vfiotrace-fuzz" --cases "$cases" --seed "$seed"
