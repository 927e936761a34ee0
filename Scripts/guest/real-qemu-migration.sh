#!/bin/sh
# Runs inside the guest of `Scripts/vfio-guest.sh --profile trixie`: Debian trixie's unmodified QEMU 10 migrates
# QEMU's edu under the variant driver of Fixtures/EduMigrationDriver, once per trap mode, recorded by vfiotrace.
# Build the module for the profile's kernel on the host first (Scripts/guest/build-driver.sh --profile trixie;
# this script asks it for the module's path, or takes $EDU_MODULE).
#
#   Scripts/vfio-guest.sh --profile trixie run -o OUTDIR -t 900 -- \
#       'sh Scripts/guest/real-qemu-migration.sh $VFIO_OUT [BUILD_PRODUCTS_DIR, default .build/debug]'
#
# Per mode (async, revoke) the module is loaded with mode=MODE, edu bound to it, and QEMU 10 started from the
# trixie root (chroot) under `vfiotrace record` (launch mode; --backend ptrace, or $QEMU_MIG_BACKEND): a q35
# machine with 64 MiB, no disk (SeaBIOS runs and finds nothing to boot),
# `-device vfio-pci,host=$VFIO_BDF,x-device-dirty-page-tracking=off,enable-migration=on`, `-trace 'vfio_*'` and
# an HMP monitor. Why not QEMU's defaults: the driver offers device dirty tracking, so QEMU (enable-migration=auto)
# accepts the migration and starts DMA logging, but Debian trixie's 6.12 is built without CONFIG_IOMMUFD_DRIVER,
# so the vfio core answers every VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT with EOPNOTSUPP (its iova_bitmap is a
# stub) before the driver is asked, and QEMU fails the migration at its start ("ram_save_setup failed:
# Operation not supported"). With the device's tracking off QEMU uses the type1 container's dirty tracking
# (VFIO_IOMMU_DIRTY_PAGES) and needs enable-migration=on to migrate. QEMU_MIG_VFIO_OPTS replaces these
# properties (QEMU_MIG_VFIO_OPTS= for QEMU's defaults, to see the failure). There is no guest OS to touch the BAR; the monitor's
# `xp` reads edu's ident register at BAR0's guest-physical address instead, every 0.3 s from before the
# migration to its end: an `xp` goes through the same MemoryRegion path as a TCG vCPU's load, so it uses
# QEMU's mmap of BAR0 whenever QEMU has it mapped (and never reaches the driver's trap path then). The
# migration goes to a file (`migrate -d file:`; no destination VM) with a downtime-limit of
# $QEMU_MIG_DOWNTIME_MS (default 300000 ms): with the type1 container's tracking QEMU takes all of the device's
# reachable memory as dirty in every pass, so under nested TCG (about 2 MB/s into the file) a pre-copy never
# converges to the default 300 ms; with this limit QEMU switches over after its first pass. In OUTDIR, per mode:
#   qemu-MODE-recorded.vftrace  the recording; qemu-MODE-record.txt the recorder's and QEMU's output,
#                               qemu-MODE.status the recorder's exit status (QEMU's own, or 128+signal)
#   qemu-MODE.log               QEMU's trace log (-trace 'vfio_*' -msg timestamp=on)
#   qemu-MODE-monitor.txt       the monitor's answers; qemu-MODE-reads.txt one line per `xp` sent:
#                               "realtime_ns seq" (CLOCK_REALTIME, as QEMU's log)
#   qemu-MODE-driver.jsonl      the driver's account; qemu-MODE-driver-stats.txt its counts
#   qemu-MODE-qemu.vftrace      QEMU's log imported (vfiotrace import qemu-trace)
#   qemu-MODE-driver.vftrace    the account imported (vfiotrace import jsonl --strict --clock-from the recording)
#   qemu-MODE.vftrace           all three merged
#   qemu-MODE-dump.txt          vfiotrace dump of the merged file
#   qemu-MODE-summary.txt       what QEMU did, one fact a line (see `summarize`)
# and a third run, qemu-devdirty-*: async mode with QEMU's own vfio-pci defaults (device dirty tracking), whose
# migration fails at its start as described above.
#   qemu-MODE-dmesg.txt         the kernel's log after the run
# and qemu-version.txt (QEMU's --version), btf.txt (the kernel's release and whether it has BTF).
# QEMU_MIG_RUNS picks the runs, in order (default "async revoke devdirty"); with QEMU_MIG_BACKEND=bpf the eBPF
# backend records them (it loads on trixie's 6.12, which has BTF), e.g. into a folder of their own:
#   QEMU_MIG_BACKEND=bpf QEMU_MIG_RUNS='async revoke' sh Scripts/guest/real-qemu-migration.sh $VFIO_OUT/bpf
# A migration that fails or a QEMU that dies is a finding, written in the summary, not a failure of the script;
# the script fails (non-zero, saying why) when it cannot run, record, read the account or import and merge.
# Prints "done" at the end.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: real-qemu-migration.sh OUTDIR [BUILD_PRODUCTS_DIR]" >&2; exit 2; }
mkdir -p "$1" || exit 2
out=$(cd "$1" && pwd)
bin=$(cd "${2:-$here/.build/debug}" && pwd) || exit 2
bdf=${VFIO_BDF:?not in the guest of Scripts/vfio-guest.sh}
dev=/sys/bus/pci/devices/$bdf
debugfs=/sys/kernel/debug
backend=${QEMU_MIG_BACKEND:-ptrace}
downtime=${QEMU_MIG_DOWNTIME_MS:-300000}
vfio_opts=${QEMU_MIG_VFIO_OPTS-,x-device-dirty-page-tracking=off,enable-migration=on}
runs=${QEMU_MIG_RUNS:-async revoke devdirty}
q=""

die() {
    echo "real-qemu-migration: FAILED: $*" >&2
    [ -n "$q" ] && kill "$q" 2>/dev/null
    dmesg > "$out/qemu-migration-dmesg.txt" 2>/dev/null
    exit 1
}

[ -x "$bin/vfiotrace" ] || die "no vfiotrace in $bin (swift build)"
. "$here/Scripts/guest/edu-module.sh"
edu_find_module trixie
root=$(sh "$here/Scripts/guest/trixie-qemu.sh" --root) || die "the trixie root is not usable"
chroot "$root" qemu-system-x86_64 --version | head -n 1 > "$out/qemu-version.txt" 2>&1
grep -q 'version 10\.' "$out/qemu-version.txt" || die "not QEMU 10: $(cat "$out/qemu-version.txt")"
# What the eBPF backend needs of the kernel, as real-bpf.sh writes it.
{
    uname -r
    if [ -r /sys/kernel/btf/vmlinux ]; then echo "BTF: /sys/kernel/btf/vmlinux"; else echo "BTF: none"; fi
} > "$out/btf.txt"


alive() { [ -n "$q" ] && kill -0 "$q" 2>/dev/null; }

# Waits up to $2 seconds for the extended regex $1 in file $3; returns 1 on timeout, 2 when QEMU has gone.
await() {
    i=0
    while ! grep -Eq "$1" "$3" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt $(($2 * 10)) ] && return 1
        alive || return 2
        sleep 0.1
    done
}

# Sends one monitor command (ignored once QEMU has gone).
hmp() { alive && echo "$*" >&3; }

# BAR0's guest-physical address of device d0 from the last `info pci` in the monitor's answers ("" if unassigned).
bar0_address() {
    awk '/^  Bus/ { bar = "" }
         /BAR0: 32 bit memory at 0x/ { bar = $6 }
         /id "d0"/ { if (bar != "" && bar != "0xffffffffffffffff") found = bar }
         END { print found }' "$mon"
}

# One migration under the driver in mode $1, named qemu-$2 (default: the mode), with the vfio-pci properties $3
# (default $vfio_opts; "" for QEMU's defaults).
run() {
    mode=$1 name=qemu-${2:-$1}
    if [ $# -ge 3 ]; then opts=$3; else opts=$vfio_opts; fi
    load "$mode"
    mon=$out/$name-monitor.txt
    for f in -recorded.vftrace -record.txt .status .log -monitor.txt -reads.txt -driver.jsonl -driver-stats.txt \
        -qemu.vftrace -driver.vftrace .vftrace -dump.txt -summary.txt -dmesg.txt -import.txt -merge.txt; do
        rm -f "$out/$name$f"
    done
    rm -f "$root/run/mon.in" "$root/run/mon.out" "$root/run/$name.log" "$root/run/$name.mig"
    mkfifo "$root/run/mon.in" "$root/run/mon.out" || die "cannot make the monitor's fifos in $root/run"
    # shellcheck disable=SC2086 # the extra vfio-pci properties are one word or none
    "$bin/vfiotrace" record --backend "$backend" -o "$out/$name-recorded.vftrace" -- chroot "$root" \
        qemu-system-x86_64 -accel tcg -m 64 -nodefaults -no-user-config -display none -machine q35 \
        -device "vfio-pci,host=$bdf,id=d0$opts" -monitor pipe:/run/mon \
        -trace 'vfio_*' -msg timestamp=on -D "/run/$name.log" > "$out/$name-record.txt" 2>&1 &
    q=$!
    exec 3<> "$root/run/mon.in"
    cat "$root/run/mon.out" > "$mon" &
    cat_pid=$!
    await 'QEMU 10' 120 "$mon" || die "$name: QEMU's monitor did not answer within 120s"
    await 'vfio_listener_region_add_ram' 120 "$root/run/$name.log" || die "$name: QEMU did not map the guest's RAM for the device"
    # SeaBIOS assigns BAR0 and enables memory decode; QEMU then maps the BAR (its mmap) into the guest.
    bar=""
    i=0
    while [ -z "$bar" ] && [ $i -lt 60 ] && alive; do
        hmp "info pci"
        sleep 1
        bar=$(bar0_address)
        i=$((i + 1))
    done
    [ -n "$bar" ] || die "$name: SeaBIOS did not assign BAR0 of d0 within 60s (info pci in $mon)"
    echo "bar0 $bar" > "$out/$name-summary.txt"
    hmp "info mtree -f"
    hmp "migrate_set_parameter downtime-limit $downtime"
    # The reads, from before the migration to its end: "realtime_ns seq" per xp sent.
    seq=0
    read_once() {
        seq=$((seq + 1))
        echo "$(date +%s%N) $seq" >> "$out/$name-reads.txt"
        hmp "xp /1wx $bar"
    }
    for _ in 1 2 3; do read_once; sleep 0.3; done
    hmp "migrate -d file:/run/$name.mig"
    status=""
    i=0
    while alive && [ $i -lt 600 ]; do
        read_once
        sleep 0.3
        i=$((i + 1))
        if [ $((i % 3)) = 0 ]; then
            hmp "info migrate"
            status=$(sed -n 's/^Status: *//p; s/^Migration status: *//p' "$mon" | tail -n 1)
            case "$status" in completed* | failed* | cancelled*) break ;; esac
        fi
    done
    # After the migration: one more read, the VM's state, then quit (QEMU may already be gone).
    read_once
    sleep 0.3
    hmp "info status"
    hmp "info migrate"
    sleep 1
    hmp quit
    exec 3>&-
    wait "$q"
    rc=$?
    q=""
    echo "$rc" > "$out/$name.status"
    kill "$cat_pid" 2>/dev/null
    cp "$root/run/$name.log" "$out/$name.log" || die "$name: QEMU left no trace log"
    migsize=$(stat -c %s "$root/run/$name.mig" 2>/dev/null || echo none)
    rm -f "$root/run/$name.mig"
    cat "$debugfs/edu_vfio_pci/account" > "$out/$name-driver.jsonl" || die "$name: cannot read the driver's account"
    cat "$debugfs/edu_vfio_pci/stats" > "$out/$name-driver-stats.txt" || die "$name: cannot read the driver's stats"
    dmesg > "$out/$name-dmesg.txt" 2>/dev/null
    unload
    [ -s "$out/$name-recorded.vftrace" ] || die "$name: no recording (status $rc): $(tail -n 5 "$out/$name-record.txt")"

    "$bin/vfiotrace" import qemu-trace "$out/$name.log" -o "$out/$name-qemu.vftrace" > "$out/$name-import.txt" 2>&1 \
        || die "$name: import qemu-trace failed: $(tail -n 5 "$out/$name-import.txt")"
    "$bin/vfiotrace" import jsonl --strict --clock-from "$out/$name-recorded.vftrace" "$out/$name-driver.jsonl" \
        -o "$out/$name-driver.vftrace" >> "$out/$name-import.txt" 2>&1 \
        || die "$name: import jsonl failed: $(tail -n 5 "$out/$name-import.txt")"
    "$bin/vfiotrace" merge "$out/$name-recorded.vftrace" "$out/$name-qemu.vftrace" "$out/$name-driver.vftrace" \
        -o "$out/$name.vftrace" > "$out/$name-merge.txt" 2>&1
    merged=$?
    [ -s "$out/$name.vftrace" ] || die "$name: merge failed: $(tail -n 5 "$out/$name-merge.txt")"
    "$bin/vfiotrace" dump "$out/$name.vftrace" > "$out/$name-dump.txt" 2>&1
    summarize "$name" "$rc" "$status" "$migsize" "$merged"
}

# The facts of one run, one a line, into NAME-summary.txt (after its "bar0" line):
#   status RC                   the recorder's exit status (QEMU's; 135 = killed by SIGBUS)
#   migration STATUS            the last status `info migrate` gave (completed, failed, ... or none)
#   file BYTES                  the size of the migration file QEMU wrote (none: no file)
#   trap.on / trap.off / mmap.revoke / mmap.restore NS   the driver's stamps (CLOCK_MONOTONIC)
#   irq.signal N, irq.unbound N the driver's re-evaluate signals sent and the ones with no eventfd bound
#   trap.access N               accesses the driver saw on the trap path while required
#   irq_info_index5 N, set_irqs_index5 N   GET_IRQ_INFO / SET_IRQS calls on index 5 in the recording (QEMU
#                               asking about, binding the re-evaluate IRQ)
#   region_info_bar0 N, munmap_bar0 N      BAR0 GET_REGION_INFO calls and munmaps of BAR0 in the recording
#   dma_logging_start N, dma_logging_report N, dma_logging_stop N   VFIO_DEVICE_FEATURE calls (PROBE not counted)
#   iommu_dirty_pages N         VFIO_IOMMU_DIRTY_PAGES calls on the container (type1's dirty tracking)
#   arc STATE T_REC T_QEMU      each device_state ioctl: its time on the recording's clock (CLOCK_MONOTONIC, the
#                               driver's account's too) and QEMU's vfio_migration_set_device_state line (wall clock)
#   qemu_sigbus yes|no          whether QEMU died of SIGBUS (exit status 135 or the recorder's output)
#   reads N ok M in_window W    xp reads sent, answered with edu's ident (0x010000ed), and sent between trap.on and
#                               trap.off (the account's clock pair turns its stamps into wall-clock time)
summarize() {
    name=$1
    sum=$out/$name-summary.txt
    acct=$out/$name-driver.jsonl
    {
        echo "status $2"
        echo "migration ${3:-none}"
        echo "file $4"
        echo "merge_status $5"
        for k in trap.on trap.off mmap.revoke mmap.restore; do
            t=$(grep -F "\"kind\":\"$k\"" "$acct" | head -n 1 | sed 's/^{"t":\([0-9]*\).*/\1/')
            echo "$k ${t:-none}"
        done
        echo "irq.signal $(grep -cF '"kind":"irq.signal"' "$acct")"
        echo "irq.unbound $(grep -cF '"name":"irq.unbound"' "$acct")"
        echo "trap.access $(grep -cF '"name":"trap.access"' "$acct")"
        dump=$out/$name-dump.txt
        echo "irq_info_index5 $(grep -F 'VFIO_DEVICE_GET_IRQ_INFO' "$dump" | grep -cE 'index=5\b')"
        echo "set_irqs_index5 $(grep -F 'VFIO_DEVICE_SET_IRQS' "$dump" | grep -cE 'index=5\b')"
        echo "region_info_bar0 $(grep -F 'VFIO_DEVICE_GET_REGION_INFO' "$dump" | grep -cE 'index=0\b')"
        echo "munmap_bar0 $(grep -E '^[0-9.]+ [0-9/]+ munmap\(' "$dump" | grep -c 'BAR0')"
        for f in START REPORT STOP; do
            echo "dma_logging_$(echo $f | tr 'A-Z' 'a-z') $(grep -F "DMA_LOGGING_$f" "$dump" | grep -vc 'PROBE')"
        done
        echo "iommu_dirty_pages $(grep -cF 'VFIO_IOMMU_DIRTY_PAGES' "$dump")"
        # The ioctls (recorded: an fd, a duration) and QEMU's own lines for them, in order.
        grep -E '^[0-9.]+ [0-9/]+ device_state\([0-9]+<' "$dump" \
            | sed 's/^\([0-9.]*\) .* set \([A-Z_0-9]*\).*$/\2 \1/' > "$out/$name-arcs.tmp"
        grep -F 'vfio_migration_set_device_state' "$out/$name.log" \
            | sed 's/^[0-9]*@\([0-9.]*\):.* state \([A-Z_0-9]*\).*$/\2 \1/' > "$out/$name-qarcs.tmp"
        awk 'NR == FNR { q[FNR] = $2; next } { print "arc", $1, $2, (FNR in q ? q[FNR] : "none") }' \
            "$out/$name-qarcs.tmp" "$out/$name-arcs.tmp"
        rm -f "$out/$name-arcs.tmp" "$out/$name-qarcs.tmp"
        if [ "$2" = 135 ] || grep -qiE 'bus error|SIGBUS' "$out/$name-record.txt"; then echo "qemu_sigbus yes"; else echo "qemu_sigbus no"; fi
        window=$(awk 'NR == 1 { match($0, /"monotonicNs":[0-9]+/); m = substr($0, RSTART + 14, RLENGTH - 14)
                                match($0, /"realtimeNs":[0-9]+/); r = substr($0, RSTART + 13, RLENGTH - 13) }
                      /"kind":"trap.on"/ && !on { match($0, /"t":[0-9]+/); on = substr($0, RSTART + 4, RLENGTH - 4) }
                      /"kind":"trap.off"/ && !off { match($0, /"t":[0-9]+/); off = substr($0, RSTART + 4, RLENGTH - 4) }
                      END { if (on && off) printf "%.0f %.0f\n", on - m + r, off - m + r; else print "0 0" }' "$acct")
        echo "reads $(grep -c . "$out/$name-reads.txt") ok $(grep -c '010000ed' "$mon") in_window $(awk -v w="$window" \
            'BEGIN { split(w, b, " ") } $1 + 0 >= b[1] + 0 && $1 + 0 <= b[2] + 0 { n++ } END { print n + 0 }' "$out/$name-reads.txt")"
    } >> "$sum"
    echo "$name: $(tr '\n' ' ' < "$sum")"
}

# Whatever holds edu now (vfio-pci, or a module left loaded) lets go of it first.
if [ "$(current_driver)" = edu_vfio_pci ]; then unload; fi
for r in $runs; do
    case "$r" in
        async | revoke) run "$r" ;;
        # QEMU's defaults: it takes the driver's device dirty tracking, starts DMA logging and fails the
        # migration at its first report (trixie's kernel cannot serve one): qemu-devdirty-*.
        devdirty) run async devdirty "" ;;
        *) die "unknown run '$r' in QEMU_MIG_RUNS (async, revoke, devdirty)" ;;
    esac
done
dmesg > "$out/qemu-migration-dmesg.txt"
if grep -Eq 'BUG:|Oops|WARNING:|Call Trace' "$out/qemu-migration-dmesg.txt"; then
    echo "real-qemu-migration: the kernel complained (qemu-migration-dmesg.txt)" >&2
fi
echo done
