#!/bin/sh
# Runs inside the guest of Scripts/vfio-guest.sh: moves edu from vfio-pci to the variant driver of
# Fixtures/EduMigrationDriver and checks it, leaving logs in $VFIO_OUT. Build the module on the host first
# (Scripts/guest/build-driver.sh prints its path; with --profile trixie, the module for 6.12, for a guest
# booted with `Scripts/vfio-guest.sh --profile trixie run`). Usage: edu-driver.sh MODULE [BUILD_PRODUCTS_DIR]
#
#   edu-driver.txt     the binding: which driver holds edu afterwards, its IOMMU group
#   edu-client.*       the bundled VFIO client (Fixtures/VFIOClient) against the variant driver, when
#                      BUILD_PRODUCTS_DIR has it: region info, BAR0 mmap, MSI, trap-path accesses
#   edu-mig.txt        Fixtures/EduMigrationDriver/check/mig_check.c: migration v2 save and restore, the
#                      trap requirement in mode=async (the default), a reset
#   edu-mig-revoke.txt the same with the module reloaded with mode=revoke
#   edu-dmesg.txt      the kernel's log
# Prints "done" when every check passed; exits non-zero otherwise.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
module=$1
bin=${2:-}
out=$VFIO_OUT
bdf=$VFIO_BDF
dev=/sys/bus/pci/devices/$bdf
fail() { echo "edu-driver: $*"; dmesg > "$out/edu-dmesg.txt"; exit 1; }

# The host may have no kmod; the rig's static busybox (in the cache, beside driver/) has insmod.
if command -v insmod >/dev/null && command -v rmmod >/dev/null; then
    insmod=insmod rmmod=rmmod
else
    insmod="$(dirname "$module")/../busybox insmod" rmmod="$(dirname "$module")/../busybox rmmod"
fi
$insmod "$module" || fail "insmod $module failed"
echo "$bdf" > "$dev/driver/unbind" || fail "cannot unbind edu from $(basename "$(readlink "$dev/driver")")"
echo edu_vfio_pci > "$dev/driver_override"
echo "$bdf" > /sys/bus/pci/drivers_probe
driver=$(basename "$(readlink "$dev/driver")")
group=$(basename "$(readlink "$dev/iommu_group")")
echo "driver $driver group $group" | tee "$out/edu-driver.txt"
[ "$driver" = edu_vfio_pci ] || fail "edu is bound to '$driver', not edu_vfio_pci"
[ -e "/dev/vfio/$group" ] || fail "no /dev/vfio/$group after the bind"

if [ -n "$bin" ] && [ -x "$bin/vfio-client" ]; then
    "$bin/vfio-client" --group "$group" --device "$bdf" --log "$out/edu-client.jsonl" > "$out/edu-client.txt" 2>&1
    status=$?
    echo "$status" > "$out/edu-client.status"
    echo "vfio-client: status $status, $(grep -c . "$out/edu-client.jsonl") calls logged"
    [ "$status" = 0 ] || fail "vfio-client failed: $(cat "$out/edu-client.txt")"
fi

cc -O2 -Wall -o "$TMPDIR/mig_check" "$here/Fixtures/EduMigrationDriver/check/mig_check.c" || fail "mig_check did not build"
"$TMPDIR/mig_check" "$group" "$bdf" > "$out/edu-mig.txt" 2>&1
status=$?
cat "$out/edu-mig.txt"
[ "$status" = 0 ] || fail "mig_check failed"

# Again with the module reloaded in revoke mode (binding again: driver_override still names it).
echo "$bdf" > "$dev/driver/unbind" || fail "cannot unbind edu from edu_vfio_pci"
$rmmod edu_vfio_pci || fail "rmmod edu_vfio_pci failed"
$insmod "$module" mode=revoke || fail "insmod $module mode=revoke failed"
[ -e "$dev/driver" ] || echo "$bdf" > /sys/bus/pci/drivers_probe
[ "$(basename "$(readlink "$dev/driver")")" = edu_vfio_pci ] || fail "edu is not bound to edu_vfio_pci after the reload"
"$TMPDIR/mig_check" "$group" "$bdf" > "$out/edu-mig-revoke.txt" 2>&1
status=$?
cat "$out/edu-mig-revoke.txt"
dmesg > "$out/edu-dmesg.txt"
[ "$status" = 0 ] || fail "mig_check failed in revoke mode"
if grep -Eq 'BUG:|Oops|WARNING:|Call Trace' "$out/edu-dmesg.txt"; then fail "the kernel complained (edu-dmesg.txt)"; fi
echo done
