#!/bin/sh
# Runs inside the guest of `Scripts/vfio-guest.sh --profile trixie` (edu bound to plain vfio-pci): records
# Debian trixie's unmodified QEMU 10 setting up the device, with the vfiotrace built on the host running from
# the host's root and QEMU in a chroot of the trixie root (Scripts/guest/trixie-qemu.sh).
# Usage: real-qemu10.sh OUTDIR [BUILD_PRODUCTS_DIR, default .build/debug]
#
# Leaves in OUTDIR:
#   q10-version.txt        QEMU's --version (must be 10.0.x)
#   q10-vfio-pci-help.txt  -device vfio-pci,help (must offer enable-migration and x-device-dirty-page-tracking)
#   q10.vftrace            the recording (launch mode) of QEMU 10 with -device vfio-pci,host=$VFIO_BDF
#   q10.txt, q10.status    the recorder's and QEMU's stdout and stderr; the recorder's exit status
#   qemu10.log             QEMU's -trace 'vfio_*' log (-msg timestamp=on)
#   q10-monitor.txt        QEMU's HMP monitor answers (info version, info pci; migrate file:, refused or failed
#                          on plain vfio-pci, and info migrate)
#   q10-dump.txt           vfiotrace dump of q10.vftrace
# Exits non-zero, saying what failed, when any step does.
set -u

[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [BUILD_PRODUCTS_DIR]" >&2; exit 2; }
mkdir -p "$1"
out=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "${2:-$here/.build/debug}" && pwd) || exit 2
bdf=${VFIO_BDF:?not in the guest of Scripts/vfio-guest.sh}
q=""

fail() {
    echo "real-qemu10: FAILED: $*" >&2
    [ -n "$q" ] && kill "$q" 2>/dev/null
    for f in q10.txt qemu10.log q10-monitor.txt; do
        [ -s "$out/$f" ] && { echo "--- the end of $out/$f:" >&2; tail -n 15 "$out/$f" >&2; }
    done
    exit 1
}

# Waits up to $2 seconds for the extended regex $1 in file $3; fails at once when the recorder (and so QEMU)
# has gone.
await() {
    i=0
    while ! grep -Eq "$1" "$3" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt $(($2 * 10)) ] && return 1
        if [ -n "$q" ] && ! kill -0 "$q" 2>/dev/null; then
            wait "$q"
            status=$?
            q=""
            cp "$root/run/qemu10.log" "$out/qemu10.log" 2>/dev/null
            fail "QEMU (or the recorder) exited with status $status while waiting for /$1/ in $3"
        fi
        sleep 0.1
    done
}

[ -x "$bin/vfiotrace" ] || fail "no vfiotrace in $bin (build it on the host: swift build or swift test)"
root=$(sh "$here/Scripts/guest/trixie-qemu.sh" --root) || fail "the trixie root is not usable"

# 1. The QEMU it is: 10.0, whose vfio-pci can migrate and track dirty pages on the device.
chroot "$root" qemu-system-x86_64 --version > "$out/q10-version.txt" 2>&1 || fail "QEMU --version: $(cat "$out/q10-version.txt")"
grep -q 'version 10\.0\.' "$out/q10-version.txt" || fail "not QEMU 10.0: $(head -n 1 "$out/q10-version.txt")"
chroot "$root" qemu-system-x86_64 -device vfio-pci,help > "$out/q10-vfio-pci-help.txt" 2>&1 || fail "-device vfio-pci,help failed"
for p in enable-migration x-device-dirty-page-tracking; do
    grep -q "^ *$p=" "$out/q10-vfio-pci-help.txt" || fail "QEMU's vfio-pci has no $p property"
done

# 2. QEMU 10 in launch mode under the recorder: the device set up, the monitor asked, then quit. The monitor
# talks over fifos and QEMU logs into the root's /run (a tmpfs seen from both sides of the chroot).
rm -f "$root/run/mon.in" "$root/run/mon.out" "$root/run/qemu10.log"
mkfifo "$root/run/mon.in" "$root/run/mon.out" || fail "cannot make the monitor's fifos in $root/run"
"$bin/vfiotrace" record -o "$out/q10.vftrace" -- chroot "$root" qemu-system-x86_64 -accel tcg -m 64 -nodefaults -no-user-config -display none -S \
    -machine q35 -device "vfio-pci,host=$bdf,id=d0" -monitor pipe:/run/mon \
    -trace 'vfio_*' -msg timestamp=on -D /run/qemu10.log > "$out/q10.txt" 2>&1 &
q=$!
# Read-write: opening never blocks, even when QEMU dies before it opens its end.
exec 3<> "$root/run/mon.in"
cat "$root/run/mon.out" > "$out/q10-monitor.txt" &
await 'QEMU 10' 120 "$out/q10-monitor.txt" || fail "QEMU's monitor did not answer within 120s"
await 'vfio_listener_region_add_ram' 120 "$root/run/qemu10.log" || fail "QEMU did not map the guest's RAM for the device within 120s"
echo "info version" >&3
echo "info pci" >&3
await 'id "d0"' 60 "$out/q10-monitor.txt" || fail "QEMU's 'info pci' does not show the device d0"
# Plain vfio-pci offers no migration: what QEMU 10 answers when asked to migrate anyway (a blocker, expected).
echo "migrate file:/run/q10.migration" >&3
echo "info migrate" >&3
await '[Ss]tatus|rror' 60 "$out/q10-monitor.txt" || fail "QEMU did not answer 'migrate' within 60s"
echo quit >&3
exec 3>&-
wait "$q"
status=$?
q=""
echo $status > "$out/q10.status"
cp "$root/run/qemu10.log" "$out/qemu10.log" || fail "QEMU left no trace log"
[ $status = 0 ] || fail "the recorder (or QEMU under it) exited with status $status"
grep -q 'vfio_region_setup' "$out/qemu10.log" || fail "QEMU's trace log shows no vfio region set up"

# 3. What the recorder made of it: QEMU's VFIO setup decoded by name.
"$bin/vfiotrace" dump "$out/q10.vftrace" > "$out/q10-dump.txt" 2>&1 || fail "vfiotrace dump failed: $(tail -n 3 "$out/q10-dump.txt")"
for name in VFIO_GROUP_SET_CONTAINER VFIO_SET_IOMMU VFIO_GROUP_GET_DEVICE_FD VFIO_DEVICE_GET_REGION_INFO VFIO_IOMMU_MAP_DMA; do
    grep -q "$name" "$out/q10-dump.txt" || fail "the dump names no $name"
done
echo "real-qemu10: QEMU 10 recorded in $out/q10.vftrace ($(grep -c . "$out/q10-dump.txt") dump lines)"
