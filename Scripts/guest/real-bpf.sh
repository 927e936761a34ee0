#!/bin/sh
# Runs inside the guest of Scripts/vfio-guest.sh (bookworm's 6.1 kernel, edu bound to vfio-pci): records Debian's
# QEMU with the eBPF backend (`record --backend bpf --kvm-events`), and takes the moment vfio-pci's interrupt
# handler ran from the kernel in the same recording (irq.signal markers, from the irq_handler_entry tracepoint),
# with the kernel's own ftrace of the same handler beside it to check them against.
# Usage: real-bpf.sh OUTDIR [BUILD_PRODUCTS_DIR, default .build/debug]
#
# Leaves in OUTDIR:
#   btf.txt                  the guest kernel's release and whether it has BTF (/sys/kernel/btf/vmlinux)
#   launch.vftrace, .txt     QEMU with -device vfio-pci in launch mode, an INTx raised from outside through sysfs
#   launch.status            the recorder's exit status (QEMU ends with SIGTERM passed on: 143)
#   qemu-launch.log          QEMU's -trace 'vfio_*' log (-msg timestamp=on)
#   ftrace.txt               irq_handler_entry of vfio's handlers (trace_clock mono) during the INTx
#   kprobe.txt               a kprobe on vfio_intx_handler (vfio-pci's INTx handler; ftrace's kprobe_events in a
#                            tracefs instance of its own, trace_clock mono) during the INTx; "kprobe: none, ..."
#                            when the kernel allows none
#   interrupts.txt           /proc/interrupts' line of the device's vfio-intx right before the INTx ("before LINE")
#                            and right after it ("after LINE")
#   late.vftrace, .txt       the same QEMU set up first, the recorder attached (-p) afterwards, then an INTx
#   late.status, qemu-late.log, ftrace-late.txt, kprobe-late.txt, interrupts-late.txt
#   *-dump.txt               vfiotrace dump of each recording
# Exits non-zero, saying what failed, when a step does; prints "done" at the end otherwise.
set -u

[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [BUILD_PRODUCTS_DIR]" >&2; exit 2; }
mkdir -p "$1"
out=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "${2:-$here/.build/debug}" && pwd) || exit 2
bdf=${VFIO_BDF:?not in the guest of Scripts/vfio-guest.sh}
status=0

fail() {
    echo "real-bpf: FAILED: $*" >&2
    status=1
}

. "$here/Scripts/guest/qemu-rig.sh"

# A kprobe on vfio-pci's INTx handler in a tracefs instance of its own (the top-level buffer is intx()'s), so
# the kernel's count and time of the handler's runs come from a second mechanism beside irq_handler_entry.
kprobe_instance=$tracing/instances/vfiotrace-kprobe
kprobe_start() {
    rm -f "$TMPDIR/kprobe"
    [ -w "$tracing/kprobe_events" ] || { echo "kprobe: none, no $tracing/kprobe_events" > "$TMPDIR/kprobe"; return; }
    if [ ! -d "$tracing/events/vfiotrace/vfio_intx" ]; then
        echo 'p:vfiotrace/vfio_intx vfio_intx_handler' >> "$tracing/kprobe_events" 2> "$TMPDIR/kprobe.err" || {
            echo "kprobe: none, the kernel refused one on vfio_intx_handler: $(cat "$TMPDIR/kprobe.err")" > "$TMPDIR/kprobe"
            return
        }
    fi
    mkdir -p "$kprobe_instance"
    echo mono > "$kprobe_instance/trace_clock"
    echo > "$kprobe_instance/trace"
    echo 1 > "$kprobe_instance/events/vfiotrace/vfio_intx/enable"
}
# Leaves the kprobe's hits in $1.
kprobe_stop() {
    if [ -f "$TMPDIR/kprobe" ]; then cp "$TMPDIR/kprobe" "$1"; return; fi
    echo 0 > "$kprobe_instance/events/vfiotrace/vfio_intx/enable"
    cat "$kprobe_instance/trace" > "$TMPDIR/kprobe-trace"
    cp "$TMPDIR/kprobe-trace" "$1"
}

# The INTx of qemu-rig.sh (QEMU's log $1, ftrace into $2), with the kprobe's record in $3 and /proc/interrupts'
# vfio-intx line of the device before and after in $4.
kernel_intx() {
    echo "before $(grep -F "vfio-intx($bdf)" /proc/interrupts)" > "$TMPDIR/interrupts"
    kprobe_start
    intx "$1" "$2"
    kprobe_stop "$3"
    echo "after $(grep -F "vfio-intx($bdf)" /proc/interrupts)" >> "$TMPDIR/interrupts"
    cp "$TMPDIR/interrupts" "$4"
}

{
    uname -r
    if [ -r /sys/kernel/btf/vmlinux ]; then echo "BTF: /sys/kernel/btf/vmlinux"; else echo "BTF: none"; fi
} > "$out/btf.txt"
cd "$TMPDIR" || exit 2

# 1. Launch mode: QEMU started under the recorder, then an INTx.
monitor "$bin/vfiotrace" record --backend bpf --kvm-events -o "$out/launch.vftrace" -- $qemu -machine q35 \
    -device "vfio-pci,host=$bdf,id=d0" -monitor pipe:$TMPDIR/mon -trace 'vfio_*' -msg timestamp=on \
    -D "$out/qemu-launch.log" > "$out/launch.txt" 2>&1
rec=$!
monitor_log "$out/launch-monitor.txt"
device_ready "$out/qemu-launch.log" "$out/launch-monitor.txt" d0 || fail "launch: QEMU did not set up the device"
kernel_intx "$out/qemu-launch.log" "$out/ftrace.txt" "$out/kprobe.txt" "$out/interrupts.txt"
kill -TERM $rec
wait $rec
echo $? > "$out/launch.status"
exec 3>&-

# 2. Attach mode: QEMU with its device set up before the recorder attaches; then an INTx.
monitor $qemu -machine q35 -device "vfio-pci,host=$bdf,id=d2" -monitor pipe:$TMPDIR/mon \
    -trace 'vfio_*' -msg timestamp=on -D "$out/qemu-late.log" > "$out/late-qemu.txt" 2>&1
q=$!
monitor_log "$out/late-monitor.txt"
device_ready "$out/qemu-late.log" "$out/late-monitor.txt" d2 || fail "attach: QEMU did not set up the device"
"$bin/vfiotrace" record --backend bpf --kvm-events -p $q -o "$out/late.vftrace" > "$out/late.txt" 2>&1 &
rec=$!
await '.' 30 "$out/late.vftrace" || fail "attach: the recorder wrote nothing"
sleep 0.5
kernel_intx "$out/qemu-late.log" "$out/ftrace-late.txt" "$out/kprobe-late.txt" "$out/interrupts-late.txt"
kill -INT $rec
wait $rec
echo $? > "$out/late.status"
echo quit >&3
wait $q
exec 3>&-

for r in launch late; do
    "$bin/vfiotrace" dump "$out/$r.vftrace" > "$out/$r-dump.txt" 2>&1 || fail "$r: the recording does not read back"
    grep -q 'irq.signal' "$out/$r-dump.txt" || fail "$r: no irq.signal in the recording"
done
grep -q 'VFIO_DEVICE_GET_REGION_INFO' "$out/launch-dump.txt" || fail "launch: no VFIO ioctl recorded"
[ "$(cat "$out/late.status")" = 0 ] || fail "attach: the recorder exited with status $(cat "$out/late.status")"
[ $status = 0 ] && echo "done"
exit $status
