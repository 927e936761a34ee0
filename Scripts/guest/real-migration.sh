#!/bin/sh
# Runs inside the guest of Scripts/vfio-guest.sh: migrates QEMU's edu under the variant driver of
# Fixtures/EduMigrationDriver in both trap modes, with the bundled VFIO client (Fixtures/VFIOClient,
# `--migrate`) as the VMM, recorded by vfiotrace. Build the module on the host first
# (Scripts/guest/build-driver.sh; this script asks it for the module's path, or takes $EDU_MODULE).
#
#   Scripts/vfio-guest.sh run -o OUTDIR -- 'sh Scripts/guest/real-migration.sh OUTDIR [BUILD_PRODUCTS_DIR]'
#
# Per run NAME (async: mode=async; revoke: mode=revoke; async-slow: mode=async with --delay-us 20000),
# in OUTDIR:
#   NAME-recorded.vftrace   the client recorded by `vfiotrace record` (launch mode)
#   NAME-driver.jsonl       the driver's account (debugfs edu_vfio_pci/account), CLOCK_MONOTONIC, opening with
#                           its clock pair; NAME-driver-stats.txt its line, dropped-line and trapped-access counts
#   NAME-driver.vftrace     the account imported (`vfiotrace import jsonl`)
#   NAME.vftrace            the recording and the account merged (`vfiotrace merge`)
#   NAME-client.jsonl       the vCPU thread's accesses, one a line: {"t0","t","seq","path"}
#   NAME-actions.jsonl      the migration thread's actions, one a line: {"t0","t","action","detail"}
#   NAME-client.txt         the client's output; NAME-summary.txt the numbers checked below (trap.on, trap.off,
#                           async: irq.signal, the end of the client's munmap, window_ns = munmap end - trap.on;
#                           mmap_after_trap_on: mapped accesses that started after trap.on, before trap.off)
# The module is loaded per run (insmod mode=..., rmmod after), so each account holds one run.
# Checks, each fatal: the account is complete (no line dropped; one trap.on and one trap.off; async: two
# irq.signal; revoke: one mmap.revoke and one mmap.restore; as many trap.access lines as the driver counted),
# the driver's trap.access count is the client's count of trap-path accesses while traps were required, and
# in revoke mode no access went through the mapping after trap.on until trap.off.
# Prints "done" when everything passed; exits non-zero, saying why, otherwise.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: real-migration.sh OUTDIR [BUILD_PRODUCTS_DIR]" >&2; exit 2; }
out=$1
bin=$(cd "${2:-$here/.build/debug}" && pwd) || exit 2
bdf=$VFIO_BDF
dev=/sys/bus/pci/devices/$bdf
debugfs=/sys/kernel/debug
mkdir -p "$out" || exit 2

die() {
    echo "real-migration: $*" >&2
    dmesg > "$out/migration-dmesg.txt" 2>/dev/null
    exit 1
}

[ -x "$bin/vfio-client" ] || die "no vfio-client in $bin (swift build)"
[ -x "$bin/vfiotrace" ] || die "no vfiotrace in $bin (swift build)"
. "$here/Scripts/guest/edu-module.sh"
edu_find_module

# count PATTERN FILE: lines of FILE with the fixed string PATTERN.
count() { grep -cF "$1" "$2"; }

# The numbers of one run, from the three logs, into NAME-summary.txt; fails on a mismatch.
summarize() {
    name=$1 mode=$2
    awk -v mode="$mode" '
        function num(key,   m) {
            if (!match($0, "\"" key "\":[0-9]+")) return -1
            return substr($0, RSTART + length(key) + 3, RLENGTH - length(key) - 3) + 0
        }
        FILENAME ~ /-driver\.jsonl$/ {
            if (index($0, "\"kind\":\"trap.on\"")) on = num("t")
            else if (index($0, "\"kind\":\"trap.off\"")) off = num("t")
            else if (index($0, "\"kind\":\"mmap.revoke\"")) revoke = num("t")
            else if (index($0, "\"kind\":\"irq.signal\"") && !signal) signal = num("t")
            else if (index($0, "\"name\":\"trap.access\"")) { marked[num("value")] = 1; markers++ }
            next
        }
        FILENAME ~ /-actions\.jsonl$/ {
            if (index($0, "\"action\":\"munmap\"") && !munmap) munmap = num("t")
            next
        }
        {
            t0 = num("t0"); t = num("t"); seq = num("seq")
            if (index($0, "\"path\":\"mmap\"")) {
                mmaps++
                if (t0 > on && t0 < off) after_on++
            } else {
                traps++
                if (t > on && t0 < off) { required++; if (seq in marked) matched++ }
            }
        }
        END {
            printf "mode %s\ntrap.on %.0f\ntrap.off %.0f\n", mode, on, off
            if (mode == "async") printf "irq.signal %.0f\nmunmap %.0f\nwindow_ns %.0f\n", signal, munmap, munmap - on
            else printf "mmap.revoke %.0f\n", revoke
            printf "accesses %d\nmmap %d\ntrap %d\n", mmaps + traps, mmaps, traps
            printf "mmap_after_trap_on %d\ntrap_while_required %d\ndriver_trap_access %d\nmatched %d\n",
                after_on, required, markers, matched
        }' "$out/$name-driver.jsonl" "$out/$name-actions.jsonl" "$out/$name-client.jsonl" > "$out/$name-summary.txt" \
        || die "$name: cannot summarize the logs"
    get() { awk -v k="$1" '$1 == k { print $2 }' "$out/$name-summary.txt"; }
    [ "$(get driver_trap_access)" = "$(get trap_while_required)" ] \
        || die "$name: the driver logged $(get driver_trap_access) trapped accesses, the client made $(get trap_while_required) through the trap path while traps were required"
    [ "$(get matched)" = "$(get driver_trap_access)" ] \
        || die "$name: only $(get matched) of the driver's $(get driver_trap_access) trapped accesses carry a sequence number the client wrote while traps were required"
    if [ "$mode" = revoke ] && [ "$(get mmap_after_trap_on)" != 0 ]; then
        die "$name: $(get mmap_after_trap_on) accesses went through the revoked mapping after trap.on"
    fi
    echo "$name: $(tr '\n' ' ' < "$out/$name-summary.txt")"
}

# One migration under the driver in mode $2, recorded, as run $1, the client's reaction delayed by $3 us.
run() {
    name=$1 mode=$2 delay=$3
    load "$mode"
    group=$(basename "$(readlink "$dev/iommu_group")")
    [ -e "/dev/vfio/$group" ] || die "no /dev/vfio/$group after the bind"
    for f in -recorded.vftrace -driver.jsonl -driver.vftrace .vftrace -client.jsonl -actions.jsonl -client.txt \
        -summary.txt -driver-stats.txt -import.txt -merge.txt; do
        rm -f "$out/$name$f"
    done
    "$bin/vfiotrace" record -o "$out/$name-recorded.vftrace" -- "$bin/vfio-client" --migrate "$mode" \
        --group "$group" --device "$bdf" --access-log "$out/$name-client.jsonl" \
        --action-log "$out/$name-actions.jsonl" --delay-us "$delay" > "$out/$name-client.txt" 2>&1
    status=$?
    cat "$debugfs/edu_vfio_pci/account" > "$out/$name-driver.jsonl" || die "$name: cannot read the driver's account"
    cat "$debugfs/edu_vfio_pci/stats" > "$out/$name-driver-stats.txt" || die "$name: cannot read the driver's stats"
    unload
    [ "$status" = 0 ] || die "$name: the recorded client failed (status $status): $(tail -n 5 "$out/$name-client.txt")"
    for f in recorded.vftrace client.jsonl actions.jsonl driver.jsonl; do
        [ -s "$out/$name-$f" ] || die "$name: $name-$f is missing or empty"
    done

    # The account complete: nothing dropped, every line there, the events each mode must have.
    stat() { awk -v k="$1" '$1 == k { print $2 }' "$out/$name-driver-stats.txt"; }
    [ "$(stat dropped)" = 0 ] || die "$name: the driver dropped $(stat dropped) account lines (raise account_kb)"
    [ "$(stat lines)" = "$(grep -c . "$out/$name-driver.jsonl")" ] \
        || die "$name: the driver wrote $(stat lines) account lines, $(grep -c . "$out/$name-driver.jsonl") were read"
    [ "$(count '"kind":"marker","name":"trap.access"' "$out/$name-driver.jsonl")" = "$(stat trap_accesses)" ] \
        || die "$name: the account's trap.access lines are not the $(stat trap_accesses) the driver counted"
    [ "$(count '"kind":"trap.on"' "$out/$name-driver.jsonl")" = 1 ] || die "$name: not exactly one trap.on"
    [ "$(count '"kind":"trap.off"' "$out/$name-driver.jsonl")" = 1 ] || die "$name: not exactly one trap.off"
    if [ "$mode" = async ]; then
        [ "$(count '"kind":"irq.signal"' "$out/$name-driver.jsonl")" = 2 ] || die "$name: not exactly two irq.signal"
        [ "$(count '"action":"munmap"' "$out/$name-actions.jsonl")" -ge 1 ] || die "$name: the client never unmapped"
    else
        [ "$(count '"kind":"mmap.revoke"' "$out/$name-driver.jsonl")" = 1 ] || die "$name: not exactly one mmap.revoke"
        [ "$(count '"kind":"mmap.restore"' "$out/$name-driver.jsonl")" = 1 ] || die "$name: not exactly one mmap.restore"
    fi
    summarize "$name" "$mode"

    # The account's times are this kernel's CLOCK_MONOTONIC, like the recording's: placed exactly (--clock-from),
    # and every line must import (--strict).
    "$bin/vfiotrace" import jsonl --strict --clock-from "$out/$name-recorded.vftrace" "$out/$name-driver.jsonl" \
        -o "$out/$name-driver.vftrace" \
        > "$out/$name-import.txt" 2>&1 || die "$name: import failed: $(tail -n 5 "$out/$name-import.txt")"
    "$bin/vfiotrace" merge "$out/$name-recorded.vftrace" "$out/$name-driver.vftrace" -o "$out/$name.vftrace" \
        > "$out/$name-merge.txt" 2>&1 || die "$name: merge failed: $(tail -n 5 "$out/$name-merge.txt")"
    [ -s "$out/$name.vftrace" ] || die "$name: no $name.vftrace"
}

# Whatever holds edu now (vfio-pci, or a module left loaded) lets go of it first.
if [ "$(current_driver)" = edu_vfio_pci ]; then unload; fi
run async async 0
run revoke revoke 0
run async-slow async 20000
dmesg > "$out/migration-dmesg.txt"
if grep -Eq 'BUG:|Oops|WARNING:|Call Trace' "$out/migration-dmesg.txt"; then
    die "the kernel complained (migration-dmesg.txt)"
fi
echo done
