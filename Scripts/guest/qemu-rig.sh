# Sourced by the guest scripts that run Debian's QEMU with edu on vfio-pci (real-vfio.sh, real-bpf.sh): the
# QEMU command line, waiting on logs, the monitor over fifos, and an INTx raised from outside the VMM.
# Needs, set by the caller: bin (the build products), out, bdf, TMPDIR.

qemu="qemu-system-x86_64 -accel tcg -m 64 -nodefaults -no-user-config -display none -S"
tracing=/sys/kernel/tracing

# Waits up to $2 seconds for the extended regex $1 in file $3.
await() {
    i=0
    while ! grep -Eq "$1" "$3" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt $(($2 * 10)) ] && { echo "timed out waiting for /$1/ in $3"; return 1; }
        sleep 0.1
    done
}

# Raises edu's INTx from outside the VMM (sysfs resource0) until QEMU's log ($1) says the BAR's mmaps went,
# with the kernel's vfio interrupt handlers traced into $2 (trace_clock mono), then lowers it again.
intx() {
    if [ -d $tracing ]; then
        echo 0 > $tracing/tracing_on
        echo mono > $tracing/trace_clock
        echo > $tracing/trace
        # Only vfio's handlers: writing the trace out over 9p raises interrupts of its own.
        echo 'name ~ "vfio*"' > $tracing/events/irq/irq_handler_entry/filter
        echo 1 > $tracing/events/irq/irq_handler_entry/enable
        echo 1 > $tracing/tracing_on
    fi
    # edu raises INTx on a write to 0x60 and lowers it on a write to 0x64; try again if the first is missed.
    for attempt in 1 2 3; do
        "$bin/vfio-client" poke "/sys/bus/pci/devices/$bdf/resource0" 0x60 1 >> "$out/poke.txt"
        await 'mmaps enabled: 0' 10 "$1" && break
        lower_intx
    done
    sleep 0.2
    if [ -d $tracing ]; then
        echo 0 > $tracing/tracing_on
        echo 0 > $tracing/events/irq/irq_handler_entry/enable
        cat $tracing/trace > "$TMPDIR/ftrace.txt"
        cp "$TMPDIR/ftrace.txt" "$2"
    fi
    lower_intx
}
lower_intx() { "$bin/vfio-client" poke "/sys/bus/pci/devices/$bdf/resource0" 0x64 1 >> "$out/poke.txt"; }

# QEMU's monitor over a pair of fifos (-monitor pipe:$TMPDIR/mon): commands go to fd 3, answers to $1.
# fd 3 is opened read-write, so a QEMU that dies before opening its end cannot hang the script.
monitor() {
    rm -f "$TMPDIR/mon.in" "$TMPDIR/mon.out" && mkfifo "$TMPDIR/mon.in" "$TMPDIR/mon.out"
    "$@" &
    exec 3<>"$TMPDIR/mon.in"
}
monitor_log() { cat "$TMPDIR/mon.out" > "$1" & }

# Waits until QEMU (trace log $1, monitor answers $2) has realized device $3 and reset the machine.
device_ready() {
    await 'vfio_listener_region_add_ram' 60 "$1" && echo "info pci" >&3 && await "id \"$3\"" 60 "$2"
}
