# Sourced by the guest scripts that migrate edu under Fixtures/EduMigrationDriver (real-migration.sh,
# real-qemu-migration.sh): finds the module and insmod/rmmod, binds edu to the driver and lets it go.
# Needs, set by the caller: here (the repository), out, bdf, dev (/sys/bus/pci/devices/$bdf), debugfs, die;
# and $1 of edu_find_module: the build-driver.sh profile ("" for the default, "trixie").

# Sets module, insmod and rmmod.
edu_find_module() {
    module=${EDU_MODULE:-$(VFIOTRACE_GUEST_PROFILE=${1:-} "$here/Scripts/guest/build-driver.sh" 2>"$out/build-driver.txt")} \
        || die "no module: $(cat "$out/build-driver.txt") (run Scripts/guest/build-driver.sh${1:+ --profile $1} on the host first)"
    [ -f "$module" ] || die "no module at '$module'"
    # The host may have no kmod; the rig's static busybox (in the profile's cache, beside driver/) has both.
    if command -v insmod >/dev/null && command -v rmmod >/dev/null; then
        insmod=insmod rmmod=rmmod
    else
        insmod="$(dirname "$module")/../busybox insmod" rmmod="$(dirname "$module")/../busybox rmmod"
    fi
}

current_driver() { basename "$(readlink "$dev/driver" 2>/dev/null)" 2>/dev/null; }

# Loads the module with mode=$1 and binds edu to it (its account then in $debugfs/edu_vfio_pci).
load() {
    $insmod "$module" "mode=$1" || die "insmod $module mode=$1 failed"
    drv=$(current_driver)
    if [ "$drv" != edu_vfio_pci ]; then
        [ -n "$drv" ] && { echo "$bdf" > "$dev/driver/unbind" || die "cannot unbind edu from $drv"; }
        echo edu_vfio_pci > "$dev/driver_override"
        echo "$bdf" > /sys/bus/pci/drivers_probe
    fi
    [ "$(current_driver)" = edu_vfio_pci ] || die "edu is bound to '$(current_driver)', not edu_vfio_pci"
    if [ ! -d "$debugfs/edu_vfio_pci" ]; then
        mount -t debugfs debugfs "$debugfs" 2>/dev/null
        [ -d "$debugfs/edu_vfio_pci" ] || die "no $debugfs/edu_vfio_pci (debugfs)"
    fi
}

unload() {
    echo "$bdf" > "$dev/driver/unbind" || die "cannot unbind edu from edu_vfio_pci"
    $rmmod edu_vfio_pci || die "rmmod edu_vfio_pci failed"
}
