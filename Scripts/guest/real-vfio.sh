#!/bin/sh
# Runs inside the guest of Scripts/vfio-guest.sh (edu bound to vfio-pci): records a real VFIO user and a real
# QEMU with vfiotrace, leaving every trace and log in $VFIO_OUT. Usage: real-vfio.sh BUILD_PRODUCTS_DIR
#
#   client.*   the bundled VFIO client (Fixtures/VFIOClient) in launch mode, with its own account (client.jsonl)
#   launch.*   QEMU with -device vfio-pci in launch mode; INTx raised from outside through sysfs resource0
#              while QEMU runs: QEMU's trace log (qemu-launch.log) and the kernel's ftrace of interrupt handlers
#              (ftrace.txt: irq_handler_entry, trace_clock mono); SIGTERM to the recorder is passed on to QEMU
#   attach.*   QEMU started without the device, the recorder attached, the device hot-plugged over the
#              monitor, the recorder stopped with SIGINT; QEMU must still answer afterwards
#   late.*     QEMU with its device already set up when the recorder attaches, then an INTx as in launch.*
#              (qemu-late.log, ftrace-late.txt): what attach mode recovers from /proc and sysfs
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "$1" && pwd)
out=$VFIO_OUT
bdf=$VFIO_BDF

. "$here/Scripts/guest/qemu-rig.sh"

# 1. The VFIO client.
"$bin/vfiotrace" record -o "$out/client.vftrace" -- "$bin/vfio-client" --group "$VFIO_GROUP" --device "$bdf" --log "$out/client.jsonl" \
    > "$out/client.txt" 2>&1
echo $? > "$out/client.status"

# 2. QEMU in launch mode, and a real INTx.
cd "$TMPDIR"
monitor "$bin/vfiotrace" record -o "$out/launch.vftrace" -- $qemu -machine q35 -device "vfio-pci,host=$bdf,id=d0" -monitor pipe:$TMPDIR/mon \
    -trace 'vfio_*' -msg timestamp=on -D "$out/qemu-launch.log" > "$out/launch.txt" 2>&1
rec=$!
monitor_log "$out/launch-monitor.txt"
device_ready "$out/qemu-launch.log" "$out/launch-monitor.txt" d0
intx "$out/qemu-launch.log" "$out/ftrace.txt"
kill -TERM $rec
wait $rec
echo $? > "$out/launch.status"
exec 3>&-

# 3. QEMU in attach mode: the device is hot-plugged while the recorder is attached.
monitor $qemu -machine pc -monitor pipe:$TMPDIR/mon -trace 'vfio_*' -msg timestamp=on -D "$out/qemu-attach.log" > "$out/attach-qemu.txt" 2>&1
q=$!
monitor_log "$out/attach-monitor.txt"
await 'QEMU' 30 "$out/attach-monitor.txt"
"$bin/vfiotrace" record -p $q -o "$out/attach.vftrace" > "$out/attach.txt" 2>&1 &
rec=$!
await '.' 30 "$out/attach.vftrace"
sleep 1
echo "device_add vfio-pci,host=$bdf,id=d1" >&3
await 'mmaps enabled: 1' 60 "$out/qemu-attach.log"
sleep 0.5
kill -INT $rec
wait $rec
echo $? > "$out/attach.status"
if kill -0 $q 2>/dev/null; then echo alive > "$out/attach-after.txt"; else echo gone > "$out/attach-after.txt"; fi
echo "info pci" >&3
await 'id "d1"' 20 "$out/attach-monitor.txt" && echo answered >> "$out/attach-after.txt"
echo quit >&3
wait $q
echo $? > "$out/attach-qemu.status"
exec 3>&-

# 4. QEMU with its device set up before the recorder attaches; then an INTx.
monitor $qemu -machine q35 -device "vfio-pci,host=$bdf,id=d2" -monitor pipe:$TMPDIR/mon \
    -trace 'vfio_*' -msg timestamp=on -D "$out/qemu-late.log" > "$out/late-qemu.txt" 2>&1
q=$!
monitor_log "$out/late-monitor.txt"
device_ready "$out/qemu-late.log" "$out/late-monitor.txt" d2
"$bin/vfiotrace" record -p $q -o "$out/late.vftrace" > "$out/late.txt" 2>&1 &
rec=$!
await '.' 30 "$out/late.vftrace"
sleep 1
intx "$out/qemu-late.log" "$out/ftrace-late.txt"
kill -INT $rec
wait $rec
echo $? > "$out/late.status"
echo quit >&3
wait $q
echo $? > "$out/late-qemu.status"
exec 3>&-
echo done
