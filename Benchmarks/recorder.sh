#!/usr/bin/env bash
# Recorder overhead on a VMM-like load (issue 3): the test VMM's bench scenario = N non-VFIO ioctls
# (standing in for KVM_RUN) + eventfd round trips + mmap/munmap pairs, untraced vs vfiotrace launch
# mode vs strace --seccomp-bpf, and attach mode vs strace -f -p. Medians of RUNS runs.
# Usage: Benchmarks/recorder.sh [RUNS] [STRACE_IOCTLS]
#        Benchmarks/recorder.sh --bpf-attach [RUNS]   only issue 12's load: untraced vs ptrace vs bpf attach
#        Benchmarks/recorder.sh --bpf-launch [RUNS]   only launch mode on the 1 M-ioctl stand-in, and the start-up
#                                                     cost alone (`record -- /bin/true`), untraced vs ptrace vs bpf;
#                                                     REF_VFIOTRACE=BINARY adds that binary's bpf runs (before/after)
#        Benchmarks/recorder.sh --kvm-events [RUNS]   the cost of --kvm-events: issue 12's load and a trapped-MMIO
#                                                     load, untraced vs bpf attach vs bpf attach --kvm-events
# SWIFT_SCRATCH=DIR builds into DIR instead of .build.
set -euo pipefail
cd "$(dirname "$0")/.."
bpf_only=0
kvm_only=0
launch_only=0
if [ "${1:-}" = --bpf-attach ]; then bpf_only=1; shift; fi
if [ "${1:-}" = --bpf-launch ]; then launch_only=1; shift; fi
if [ "${1:-}" = --kvm-events ]; then kvm_only=1; shift; fi
runs=${1:-3}
strace_ioctls=${2:-100000}
scratch=${SWIFT_SCRATCH:-.build}
swift build -c release --scratch-path "$scratch" --product vfiotrace >/dev/null
swift build -c release --scratch-path "$scratch" --product vfio-testvmm >/dev/null
bin=$scratch/release
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# A number from `vfiotrace stats --format json` (pretty-printed): trace_stat FILE KEY.
trace_stat() { $bin/vfiotrace stats --format json "$1" | tr -d ' \n' | sed "s/.*\"$2\":\([0-9]*\).*/\1/"; }

# Issue 12: a VMM whose vCPU exits to userspace often (real KVM_RUN exits) plus eventfd round trips, attached
# to while running: untraced, `record -p` with ptrace, `record -p --backend bpf`. Times from the VMM's release
# (SIGUSR1) to its exit; the recorder is attached 0.5 s before.
bpf_attach_args=(--scenario bench --ioctls 0 --eventfd-rounds 2000 --mmaps 0 --kvm-exits 50000 --wait-signal)
bpf_attach_run() {  # $1 = none | ptrace | bpf; the VMM: attach_args
    local fifo=$out/ready.$RANDOM pid s e tracer=
    $bin/vfio-testvmm "${attach_args[@]}" > "$fifo" &
    local vmm=$!
    while ! grep -q ready "$fifo" 2>/dev/null; do sleep 0.01; done
    pid=$(awk '/ready/ {print $2}' "$fifo")
    if [ "$1" != none ]; then
        $bin/vfiotrace record --backend "$1" -p "$pid" -o "$out/bpf-att-$1.vftrace" 2>"$out/bpf-att-$1.err" &
        tracer=$!
    fi
    sleep 0.5
    s=$(date +%s.%N); kill -USR1 "$pid"; wait "$vmm"; e=$(date +%s.%N)
    [ -n "$tracer" ] && { wait "$tracer" 2>/dev/null || true; }
    echo "$e - $s" | bc -l
}
attach_args=("${bpf_attach_args[@]}")
# --kvm-events: on issue 12's load (port I/O exits, which the program leaves out in the kernel) and on a guest whose
# every access traps (vfio-testvmm --scenario kvm-mmio: 20 k MMIO exits handled by the VMM, each recorded). Wall time
# from the release to the exit, and the VMM's CPU time (user + system, where the programs run: the fairer figure on
# a shared machine, where waiting for a core dominates the wall time).
kvm_attach_run() {  # $1 = none | bpf | bpf-kvm; the VMM: attach_args. Prints "WALL CPU".
    local fifo=$out/ready.$RANDOM pid s e tracer=
    # The VMM's rusage from wait4 (microseconds; GNU time rounds to 10 ms).
    python3 -c 'import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
open(sys.argv[1], "w").write("%.4f %.4f\n" % (ru.ru_utime, ru.ru_stime))' "$out/cpu.txt" $bin/vfio-testvmm "${attach_args[@]}" > "$fifo" &
    local vmm=$!
    while ! grep -q ready "$fifo" 2>/dev/null; do sleep 0.01; done
    pid=$(awk '/ready/ {print $2}' "$fifo")
    case $1 in
    bpf) $bin/vfiotrace record --backend bpf --no-kvm-events -p "$pid" -o "$out/kvm-$1.vftrace" 2>"$out/kvm-$1.err" & tracer=$! ;;
    bpf-kvm) $bin/vfiotrace record --backend bpf --kvm-events -p "$pid" -o "$out/kvm-$1.vftrace" 2>"$out/kvm-$1.err" & tracer=$! ;;
    esac
    sleep 0.5
    s=$(date +%s.%N); kill -USR1 "$pid"; wait "$vmm"; e=$(date +%s.%N)
    [ -n "$tracer" ] && { wait "$tracer" 2>/dev/null || true; }
    echo "$(echo "$e - $s" | bc -l) $(awk '{print $1 + $2}' "$out/cpu.txt")"
}
kvm_events_bench() {
    if ! $bin/vfio-testvmm --scenario bench --kvm-exits 1 --ioctls 0 --eventfd-rounds 0 --mmaps 0 >/dev/null 2>&1; then
        echo "--kvm-events: skipped (/dev/kvm does not work here)"; return
    fi
    local load mode
    for load in exits mmio; do
        if [ $load = exits ]; then attach_args=("${bpf_attach_args[@]}"); else attach_args=(--scenario kvm-mmio --kvm-mmio 20000 --wait-signal); fi
        local w_none=() c_none=() w_bpf=() c_bpf=() w_bpf_kvm=() c_bpf_kvm=()
        for i in $(seq "$runs"); do
            for mode in none bpf bpf-kvm; do
                read -r w c < <(kvm_attach_run $mode)
                eval "w_${mode//-/_}+=($w); c_${mode//-/_}+=($c)"
            done
        done
        local mw0 mc0 mw1 mc1 mw2 mc2
        mw0=$(median "${w_none[@]}"); mc0=$(median "${c_none[@]}")
        mw1=$(median "${w_bpf[@]}"); mc1=$(median "${c_bpf[@]}")
        mw2=$(median "${w_bpf_kvm[@]}"); mc2=$(median "${c_bpf_kvm[@]}")
        echo "--kvm-events, $([ $load = exits ] && echo "issue 12 attach load (50 k KVM_RUN port I/O exits, 2 k eventfd round trips)" || echo "20 k trapped MMIO accesses (kvm-mmio)"), medians of $runs (wall s / VMM CPU s):"
        echo "  untraced $mw0 / $mc0; bpf attach $mw1 / $mc1 ($(echo "scale=3; $mw1 / $mw0" | bc)x / $(echo "scale=3; $mc1 / $mc0" | bc)x); bpf attach --kvm-events $mw2 / $mc2 ($(echo "scale=3; $mw2 / $mw0" | bc)x / $(echo "scale=3; $mc2 / $mc0" | bc)x)"
        echo "  with --kvm-events: $(tail -1 "$out/kvm-bpf-kvm.err"); $($bin/vfiotrace dump "$out/kvm-bpf-kvm.vftrace" | grep -c 'kvm\.mmio ' || true) kvm.mmio markers"
    done
    attach_args=("${bpf_attach_args[@]}")
}
# Launch mode on the 1 M-ioctl stand-in (no KVM): seccomp + ptrace vs bpf, each run interleaving the three; and the
# fixed start-up cost alone, `record -- /bin/true`. Wall time and CPU time (user + system of the command and, when
# recorded, of the recorder: wait4's rusage of the process and the children it reaped), since on a shared machine
# waiting for a core can dominate the wall time.
tc() {  # prints "WALL CPU" (s) of the command
    python3 -c 'import os, sys, time
t = time.monotonic()
pid = os.fork()
if pid == 0:
    fd = os.open("/dev/null", os.O_WRONLY)
    os.dup2(fd, 1); os.dup2(fd, 2)
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
print("%.6f %.6f" % (time.monotonic() - t, ru.ru_utime + ru.ru_stime))' "$@"
}
bpf_launch_bench() {
    local load=(--scenario bench --ioctls 1000000 --eventfd-rounds 10000 --mmaps 1000) i mode w c
    local -A wall cpu
    local modes=(l0 l1 l2 s0 s1 s2)
    [ -n "${REF_VFIOTRACE:-}" ] && modes+=(lr sr)
    for i in $(seq "$runs"); do
        for mode in "${modes[@]}"; do
            case $mode in
            lr) read -r w c < <(tc "$REF_VFIOTRACE" record --backend bpf -o "$out/lr.vftrace" -- $bin/vfio-testvmm "${load[@]}") ;;
            sr) read -r w c < <(tc "$REF_VFIOTRACE" record --backend bpf -o "$out/sr.vftrace" -- /bin/true) ;;
            l0) read -r w c < <(tc $bin/vfio-testvmm "${load[@]}") ;;
            l1) read -r w c < <(tc $bin/vfiotrace record -o "$out/l1.vftrace" -- $bin/vfio-testvmm "${load[@]}") ;;
            l2) read -r w c < <(tc $bin/vfiotrace record --backend bpf -o "$out/l2.vftrace" -- $bin/vfio-testvmm "${load[@]}") ;;
            s0) read -r w c < <(tc /bin/true) ;;
            s1) read -r w c < <(tc $bin/vfiotrace record -o "$out/s1.vftrace" -- /bin/true) ;;
            s2) read -r w c < <(tc $bin/vfiotrace record --backend bpf -o "$out/s2.vftrace" -- /bin/true) ;;
            esac
            wall[$mode]+="$w "; cpu[$mode]+="$c "
        done
    done
    local -A mw mc
    for mode in "${modes[@]}"; do
        # shellcheck disable=SC2086
        mw[$mode]=$(median ${wall[$mode]}); mc[$mode]=$(median ${cpu[$mode]})
    done
    echo "launch, 1 M non-VFIO ioctls + 10 k eventfd round trips + 1 k mmaps, medians of $runs (wall s / CPU s):"
    echo "  untraced ${mw[l0]} / ${mc[l0]}; seccomp+ptrace ${mw[l1]} / ${mc[l1]} ($(echo "scale=2; ${mw[l1]} / ${mw[l0]}" | bc)x / $(echo "scale=2; ${mc[l1]} / ${mc[l0]}" | bc)x); bpf ${mw[l2]} / ${mc[l2]} ($(echo "scale=3; ${mw[l2]} / ${mw[l0]}" | bc)x / $(echo "scale=3; ${mc[l2]} / ${mc[l0]}" | bc)x)"
    echo "  bpf: $(trace_stat "$out/l2.vftrace" events) events, $(trace_stat "$out/l2.vftrace" lostEvents) lost"
    echo "  start-up alone (/bin/true): untraced ${mw[s0]} / ${mc[s0]}; seccomp+ptrace ${mw[s1]} / ${mc[s1]}; bpf ${mw[s2]} / ${mc[s2]}"
    if [ -n "${REF_VFIOTRACE:-}" ]; then
        echo "  $REF_VFIOTRACE (reference), bpf: the load ${mw[lr]} / ${mc[lr]} ($(echo "scale=3; ${mw[lr]} / ${mw[l0]}" | bc)x / $(echo "scale=3; ${mc[lr]} / ${mc[l0]}" | bc)x); /bin/true ${mw[sr]} / ${mc[sr]}"
    fi
    echo "  bpf's CPU beyond untraced and its start-up: $(echo "scale=4; ${mc[l2]} - ${mc[l0]} - (${mc[s2]} - ${mc[s0]})" | bc) s for the command's 1.02 M syscalls"
}
bpf_attach_bench() {
    if ! $bin/vfio-testvmm --scenario bench --kvm-exits 1 --ioctls 0 --eventfd-rounds 0 --mmaps 0 >/dev/null 2>&1; then
        echo "issue 12 attach load: skipped (/dev/kvm does not work here)"; return
    fi
    local u=() p=() b=()
    for i in $(seq "$runs"); do
        u+=($(bpf_attach_run none)); p+=($(bpf_attach_run ptrace)); b+=($(bpf_attach_run bpf))
    done
    local mu mp mb
    mu=$(median "${u[@]}"); mp=$(median "${p[@]}"); mb=$(median "${b[@]}")
    echo "issue 12 attach load (50 k KVM_RUN exits, 2 k eventfd round trips), medians of $runs:"
    echo "  untraced $mu s, ptrace attach $mp s -> $(echo "scale=2; $mp / $mu" | bc)x, bpf attach $mb s -> $(echo "scale=3; $mb / $mu" | bc)x"
    echo "  bpf run: $(tail -1 "$out/bpf-att-bpf.err")"
    echo "  ptrace run: $(tail -1 "$out/bpf-att-ptrace.err")"
    bpf_launch_bench
    # Recorded-event rate the ring and the recorder sustain (8 MiB ring): eventfd round trips, every call an event.
    for rounds in 100000 300000; do
        local s0 e0 ev lo
        s0=$(date +%s.%N)
        $bin/vfiotrace record --backend bpf -o "$out/rate.vftrace" -- $bin/vfio-testvmm --scenario bench --ioctls 0 \
            --eventfd-rounds $rounds --mmaps 0 >/dev/null 2>&1
        e0=$(date +%s.%N)
        ev=$(trace_stat "$out/rate.vftrace" events)
        lo=$(trace_stat "$out/rate.vftrace" lostEvents)
        sp=$(trace_stat "$out/rate.vftrace" spanNs)
        echo "  rate, $rounds eventfd round trips: $ev events + $lo lost in $(echo "scale=3; $sp / 1000000000" | bc) s -> $(echo "scale=0; ($ev + $lo) * 1000000000 / $sp / 1000" | bc) k calls/s"
    done
    # System-wide cost: the BPF program runs on every syscall of every process; an unrelated one (1 M
    # non-VFIO ioctls, not recorded) with and without a recorder attached to another process (a sleep).
    local x=() y=() sl rec
    for i in $(seq "$runs"); do
        x+=($(t $bin/vfio-testvmm --scenario bench --ioctls 1000000 --eventfd-rounds 0 --mmaps 0))
        sleep 30 & sl=$!
        $bin/vfiotrace record --backend bpf -p "$sl" -o "$out/unrelated.vftrace" 2>/dev/null & rec=$!
        sleep 0.5
        y+=($(t $bin/vfio-testvmm --scenario bench --ioctls 1000000 --eventfd-rounds 0 --mmaps 0))
        kill -INT "$rec"; wait "$rec" 2>/dev/null || true; kill "$sl"; wait "$sl" 2>/dev/null || true
    done
    local mx my
    mx=$(median "${x[@]}"); my=$(median "${y[@]}")
    echo "  unrelated process, 1 M ioctls: $mx s alone, $my s while a bpf recorder records another process -> $(echo "scale=3; $my / $mx" | bc)x ($(echo "scale=0; ($my - $mx) * 1000000000 / 1000000" | bc) ns per syscall)"
}
if [ $kvm_only = 1 ]; then
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
    kvm_events_bench
    exit 0
fi
if [ $launch_only = 1 ]; then
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
    bpf_launch_bench
    exit 0
fi
if [ $bpf_only = 1 ]; then
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
    bpf_attach_bench
    exit 0
fi
ioctls_only=(--scenario bench --ioctls 1000000 --eventfd-rounds 0 --mmaps 0)
mixed=(--scenario bench --ioctls 1000000 --eventfd-rounds 10000 --mmaps 1000)
strace_mixed=(--scenario bench --ioctls "$strace_ioctls" --eventfd-rounds 10000 --mmaps 1000)
# Real KVM_RUN exits (a guest looping on port I/O), where /dev/kvm works: what a vCPU thread really does.
kvm_only=(--scenario bench --kvm-exits 200000 --ioctls 0 --eventfd-rounds 0 --mmaps 0)
has_kvm=0
$bin/vfio-testvmm --scenario bench --kvm-exits 1 --ioctls 0 --eventfd-rounds 0 --mmaps 0 >/dev/null 2>&1 && has_kvm=1
# Cost per recorded event, like for like: only eventfd round trips (every call is an event for both tools).
evonly=(--scenario bench --ioctls 0 --eventfd-rounds 10000 --mmaps 0)
a=(); b=(); c=(); d=(); e=(); f=(); k=(); l=(); m=(); n=(); p=(); q=(); r=()
for i in $(seq "$runs"); do
    if [ $has_kvm = 1 ]; then
        k+=($(t $bin/vfio-testvmm "${kvm_only[@]}"))
        l+=($(t $bin/vfiotrace record -o "$out/k.vftrace" -- $bin/vfio-testvmm "${kvm_only[@]}"))
        m+=($(t $bin/vfio-testvmm "${kvm_only[@]}" --allow-filter))
    fi
    a+=($(t $bin/vfio-testvmm "${ioctls_only[@]}"))
    b+=($(t $bin/vfiotrace record -o "$out/a.vftrace" -- $bin/vfio-testvmm "${ioctls_only[@]}"))
    n+=($(t $bin/vfio-testvmm "${ioctls_only[@]}" --allow-filter))
    c+=($(t $bin/vfio-testvmm "${mixed[@]}"))
    d+=($(t $bin/vfiotrace record -o "$out/b.vftrace" -- $bin/vfio-testvmm "${mixed[@]}"))
    e+=($(t strace -f --seccomp-bpf -e trace=ioctl,eventfd2,read,write,mmap,munmap -o /dev/null $bin/vfio-testvmm "${strace_mixed[@]}"))
    f+=($(t $bin/vfio-testvmm --scenario bench --ioctls "$strace_ioctls" --eventfd-rounds 10000 --mmaps 1000))
    p+=($(t $bin/vfio-testvmm "${evonly[@]}"))
    q+=($(t $bin/vfiotrace record -o "$out/e.vftrace" -- $bin/vfio-testvmm "${evonly[@]}"))
    r+=($(t strace -f --seccomp-bpf -e trace=ioctl,eventfd2,read,write,mmap,munmap -o /dev/null $bin/vfio-testvmm "${evonly[@]}"))
done
events=$(trace_stat "$out/b.vftrace" events)
lost=$(trace_stat "$out/b.vftrace" lostEvents)
ma=$(median "${a[@]}"); mb=$(median "${b[@]}"); mc=$(median "${c[@]}"); md=$(median "${d[@]}"); me=$(median "${e[@]}"); mf=$(median "${f[@]}")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r); runs: $runs (medians)"
mn=$(median "${n[@]}")
echo "1M non-VFIO ioctls:  untraced $ma s, vfiotrace launch $mb s -> $(echo "scale=3; $mb / $ma" | bc)x"
echo "  the same under an allow-all seccomp filter, no tracer: $mn s -> $(echo "scale=3; $mn / $ma" | bc)x"
if [ $has_kvm = 1 ]; then
    mk=$(median "${k[@]}"); ml=$(median "${l[@]}")
    echo "200k real KVM_RUN exits: untraced $mk s, vfiotrace launch $ml s -> $(echo "scale=3; $ml / $mk" | bc)x"
    mm=$(median "${m[@]}")
    echo "  the same under an allow-all seccomp filter, no tracer: $mm s -> $(echo "scale=3; $mm / $mk" | bc)x"
else
    echo "200k real KVM_RUN exits: skipped (/dev/kvm does not work here)"
fi
echo "mixed load:          untraced $mc s, vfiotrace launch $md s -> $(echo "scale=2; $md / $mc" | bc)x; $events events recorded, $lost lost"
echo "strace --seccomp-bpf, same mix with $strace_ioctls ioctls: $me s (untraced $mf s)"
echo "  strace per ioctl stop: $(echo "scale=2; ($me - $mf) * 1000000 / ($strace_ioctls + 20000 + 2000)" | bc) us"
echo "  strace extrapolated to 1M ioctls: $(echo "scale=1; ($me - $mf) * (1000000 + 22000) / ($strace_ioctls + 22000) + $mc" | bc) s"
echo "  vfiotrace per recorded event: $(echo "scale=2; ($md - $mc) * 1000000 / $events" | bc) us"
mp=$(median "${p[@]}"); mq=$(median "${q[@]}"); mr=$(median "${r[@]}")
evcount=$(trace_stat "$out/e.vftrace" events)
echo "eventfd-only load (10 k round trips, $evcount events): untraced $mp s, vfiotrace $mq s, strace $mr s"
echo "  per event: vfiotrace $(echo "scale=2; ($mq - $mp) * 1000000 / 20000" | bc) us, strace $(echo "scale=2; ($mr - $mp) * 1000000 / 20000" | bc) us"

# Attach mode: every syscall of a seized thread stops (no seccomp filter in a running process), so
# compare with strace -f -p on a smaller load. The VMM waits for SIGUSR1 until the tracer is attached.
attach_args=(--scenario bench --ioctls 20000 --eventfd-rounds 2000 --mmaps 200 --wait-signal)
attach_run() {  # $1 = tracer kind
    local fifo=$out/ready.$RANDOM pid s e
    $bin/vfio-testvmm "${attach_args[@]}" > "$fifo" &
    local vmm=$!
    while ! grep -q ready "$fifo" 2>/dev/null; do sleep 0.01; done
    pid=$(awk '/ready/ {print $2}' "$fifo")
    if [ "$1" = vfiotrace ]; then $bin/vfiotrace record -p "$pid" -o "$out/att.vftrace" 2>/dev/null &
    else strace -f -p "$pid" -e trace=ioctl,eventfd2,read,write,mmap,munmap -o /dev/null 2>/dev/null & fi
    local tracer=$!
    sleep 0.5
    s=$(date +%s.%N); kill -USR1 "$pid"; wait "$vmm"; e=$(date +%s.%N)
    wait "$tracer" 2>/dev/null || true
    echo "$e - $s" | bc -l
}
g=(); h=()
for i in $(seq "$runs"); do g+=($(attach_run vfiotrace)); h+=($(attach_run strace)); done
mg=$(median "${g[@]}"); mh=$(median "${h[@]}")
echo "attach mode (20 k ioctls, 2 k eventfd round trips, 200 mmaps): vfiotrace -p $mg s, strace -f -p $mh s -> vfiotrace takes $(echo "scale=2; $mg / $mh" | bc)x strace"
bpf_attach_bench
