#!/usr/bin/env bash
# A throwaway guest with a real vfio-pci driver, for tests and for trying vfiotrace without VFIO hardware.
#
#   Scripts/vfio-guest.sh prepare              download Debian's kernel and busybox (cached), build the initramfs
#   Scripts/vfio-guest.sh check                say whether the guest can run here (exit 0 yes, 3 no)
#   Scripts/vfio-guest.sh run [-o DIR] [-t SECONDS] -- 'SHELL COMMAND'
#
# `run` boots Debian's kernel under QEMU (q35, TCG, an emulated Intel IOMMU) with QEMU's `edu` PCI device
# (1234:11e8: BAR0 of 1 MiB, interrupt on a write to 0x60), binds edu to vfio-pci, mounts this host's root
# read-only over 9p and runs the command in a chroot of it, so this project's build and Debian's QEMU run
# inside unchanged. In the chroot everything is this host's, read-only, except DIR (default: a new
# temporary folder), which is this host's DIR, writable, and /run (a tmpfs, also TMPDIR and HOME); the
# environment has VFIO_BDF (edu's PCI address), VFIO_GROUP (its IOMMU group number) and VFIO_OUT (DIR).
# The command's output is printed here; its exit status is the script's.
# Exit 3: the guest cannot run on this machine (the message says why). Exit 4: the guest timed out.
#
# Cache: $VFIOTRACE_GUEST_CACHE, default .cache/guest in this repository (not committed).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
start=$PWD
cache=${VFIOTRACE_GUEST_CACHE:-$here/.cache/guest}
qemu=${QEMU:-qemu-system-x86_64}

say() { printf 'vfio-guest: %s\n' "$*" >&2; }
cannot() { say "cannot run the guest here: $*"; exit 3; }

# The modules the guest loads, in dependency order (Debian bookworm's 6.1 kernel).
modules=(
    virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
    netfs fscache 9pnet 9pnet_virtio 9p
    irqbypass vfio vfio_iommu_type1 vfio_virqfd vfio-pci-core vfio-pci
)

prepare() {
    command -v cpio >/dev/null || cannot "cpio not found (Debian: apt-get install cpio)"
    [ -f "$cache/ready" ] && return 0
    command -v "$qemu" >/dev/null || cannot "$qemu not found (Debian: apt-get install qemu-system-x86)"
    command -v apt-get >/dev/null || cannot "apt-get not found: the guest is built from Debian's packages"
    rm -rf "$cache.tmp" && mkdir -p "$cache.tmp/debs" "$cache.tmp/x" && cd "$cache.tmp/debs"
    local image
    image=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    if [ -z "$image" ]; then
        say "apt has no linux-image-amd64 in its lists; running apt-get update"
        apt-get update -qq || true
        image=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    fi
    [ -n "$image" ] || cannot "apt knows no linux-image-amd64 package"
    say "downloading $image and busybox-static (once; cached in $cache)"
    apt-get download -q "$image" busybox-static >/dev/null 2>&1 || cannot "apt-get download $image busybox-static failed"
    for deb in ./*.deb; do dpkg-deb -x "$deb" ../x; done
    cd ..
    local kver
    kver=$(ls x/lib/modules)
    mkdir -p modules
    for m in "${modules[@]}"; do
        local ko
        ko=$(find "x/lib/modules/$kver" -name "$m.ko" | head -n 1)
        [ -n "$ko" ] || cannot "module $m not in $image"
        cp "$ko" modules/
    done
    cp x/bin/busybox busybox
    cp x/boot/vmlinuz-* vmlinuz
    echo "$image" > kernel-package
    rm -rf x debs
    rm -rf "$cache" && mv "$cache.tmp" "$cache"
    touch "$cache/ready"
}

# The initramfs: busybox, the modules and this repository's init; rebuilt whenever the init changes.
initramfs() {
    cmp -s "$here/Scripts/vfio-guest-init.sh" "$cache/init.sh" && [ -f "$cache/initramfs.gz" ] && return 0
    local root="$cache/initramfs.tmp"
    rm -rf "$root" && mkdir -p "$root/bin" "$root/lib/modules"
    cp "$cache/busybox" "$root/bin/busybox"
    cp "$cache"/modules/*.ko "$root/lib/modules/"
    printf '%s\n' "${modules[@]}" > "$root/lib/modules/order"
    cp "$here/Scripts/vfio-guest-init.sh" "$root/init"
    chmod +x "$root/init" "$root/bin/busybox"
    (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$cache/initramfs.gz"
    rm -rf "$root"
    cp "$here/Scripts/vfio-guest-init.sh" "$cache/init.sh"
}

run() {
    local out="" timeout=300
    while [ $# -gt 0 ]; do
        case "$1" in
            -o) out=$2; shift 2 ;;
            -t) timeout=$2; shift 2 ;;
            --) shift; break ;;
            *) say "usage: $0 run [-o DIR] [-t SECONDS] -- 'COMMAND'"; exit 2 ;;
        esac
    done
    [ $# -ge 1 ] || { say "usage: $0 run [-o DIR] [-t SECONDS] -- 'COMMAND'"; exit 2; }
    prepare
    initramfs
    cd "$start"
    [ -n "$out" ] || out=$(mktemp -d /tmp/vfio-guest-XXXXXX)
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    # The guest reads the command and its working folder from the shared folder and leaves its status there.
    printf '%s\n' "$*" > "$out/.guest-command"
    printf '%s\n' "$start" > "$out/.guest-cwd"
    printf '%s\n' "$out" > "$out/.guest-outdir"
    rm -f "$out/.guest-status" "$out/.guest-output"
    local status=0 vm
    : > "$out/.guest-output"
    timeout "$timeout" "$qemu" \
        -machine q35 -accel tcg -cpu max -smp 1 -m 2G \
        -device intel-iommu -device edu \
        -kernel "$cache/vmlinuz" -initrd "$cache/initramfs.gz" \
        -append "console=ttyS0 quiet intel_iommu=on iomem=relaxed panic=-1" \
        -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
        -virtfs "local,path=$out,mount_tag=out,security_model=none" \
        -display none -serial file:"$out/.guest-console" -monitor none \
        -no-reboot </dev/null &
    vm=$!
    # The command's output as it comes (the guest writes it straight into the shared folder).
    tail -n +1 -f --pid=$vm "$out/.guest-output" &
    wait $vm || status=$?
    wait
    if [ "$status" = 124 ]; then say "the guest did not finish within ${timeout}s (console: $out/.guest-console)"; exit 4; fi
    [ -f "$out/.guest-status" ] || { say "the guest stopped without running the command; its console:"; tail -n 30 "$out/.guest-console" >&2; exit 3; }
    exit "$(cat "$out/.guest-status")"
}

case "${1:-}" in
    prepare) prepare; initramfs; say "ready: $(cat "$cache/kernel-package")" ;;
    check)
        command -v "$qemu" >/dev/null || cannot "$qemu not found (Debian: apt-get install qemu-system-x86)"
        prepare; initramfs; say "ready: $(cat "$cache/kernel-package") under $("$qemu" --version | head -n 1)" ;;
    run) shift; run "$@" ;;
    *) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
