#!/usr/bin/env bash
# A throwaway guest with a real vfio-pci driver, for tests and for trying vfiotrace without VFIO hardware.
#
#   Scripts/vfio-guest.sh [--profile P] prepare   download Debian's kernel and busybox (cached), build the initramfs
#   Scripts/vfio-guest.sh [--profile P] check     say whether the guest can run here (exit 0 yes, 3 no)
#   Scripts/vfio-guest.sh [--profile P] run [-o DIR] [-t SECONDS] -- 'SHELL COMMAND'
#   Scripts/vfio-guest.sh [--profile P] cache     print the profile's cache folder
#   Scripts/vfio-guest.sh [--profile P] apt-get|apt-cache ARGS...   apt with the profile's package lists
#   Scripts/vfio-guest.sh --profile trixie root [COMMAND...]  print the trixie root, or run COMMAND in a chroot of it
#                                                           on this host (the root is writable here, read-only in the guest)
#
# Profiles (--profile, else $VFIOTRACE_GUEST_PROFILE, else bookworm):
#   bookworm  this host's Debian: bookworm's 6.1 kernel, fetched with the host's own apt; Debian's QEMU from the
#             host runs in the guest.
#   trixie    Debian trixie's kernel (linux-image-amd64, 6.12), fetched through an apt configuration of its own
#             (trixie's lists under the cache, the host's sources and state untouched; the mirror is the host's
#             Debian mirror, or $VFIOTRACE_DEBIAN_MIRROR), and a trixie root with trixie's QEMU 10 built by
#             `debootstrap --variant=minbase --include=qemu-system-x86` (cached as CACHE/root). In the guest,
#             $VFIO_TRIXIE_ROOT names that root and Scripts/guest/trixie-qemu.sh runs its QEMU in a chroot.
#
# `run` boots Debian's kernel under QEMU (q35, TCG by default, an emulated Intel IOMMU) with QEMU's `edu` PCI device
# (1234:11e8: BAR0 of 1 MiB, interrupt on a write to 0x60), binds edu to vfio-pci, mounts this host's root
# read-only over 9p and runs the command in a chroot of it, so this project's build and Debian's QEMU run
# inside unchanged. In the chroot everything is this host's, read-only, except DIR (default: a new
# temporary folder), which is this host's DIR, writable, and /run (a tmpfs, also TMPDIR and HOME); the
# environment has VFIO_BDF (edu's PCI address), VFIO_GROUP (its IOMMU group number), VFIO_OUT (DIR) and
# VFIO_PROFILE (the profile).
# The command's output is printed here; its exit status is the script's.
#
# Accelerator: TCG unless $VFIOTRACE_GUEST_ACCEL says otherwise: `kvm` (q35 with kernel-irqchip=split, which
# the IOMMU's interrupt remapping needs under KVM), or `auto` (KVM when a short probe boot of the rig under
# KVM succeeds on this host, remembered until the host reboots; TCG otherwise). The script says which one it
# used and why.
# A boot that fails for the rig's own reasons (the guest kernel panics or never reaches the command, within
# $VFIOTRACE_GUEST_BOOT_TIMEOUT seconds, default 180) is retried at most twice, saying so on stderr with the
# console's panic line. A command that ran and failed is never retried.
# Exit 3: the guest cannot run on this machine (the message says why). Exit 4: the command timed out.
# Exit 5: the guest did not boot after the retries, or died while the command ran (the console is quoted).
#
# Cache: $VFIOTRACE_GUEST_CACHE, default .cache/guest in this repository (not committed); profiles other than
# bookworm use that path with -PROFILE appended (.cache/guest-trixie).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
start=$PWD
qemu=${QEMU:-qemu-system-x86_64}

say() { printf 'vfio-guest: %s\n' "$*" >&2; }
cannot() { say "cannot run the guest here: $*"; exit 3; }

profile=${VFIOTRACE_GUEST_PROFILE:-bookworm}
if [ "${1:-}" = --profile ]; then
    [ $# -ge 2 ] || { say "--profile needs a name: bookworm or trixie"; exit 2; }
    profile=$2
    shift 2
fi
cache=${VFIOTRACE_GUEST_CACHE:-$here/.cache/guest}
# Per profile: the Debian suite fetched through a private apt configuration (empty: the host's apt) and the
# modules the guest loads, in dependency order.
case "$profile" in
    bookworm)
        suite=""
        modules=(
            virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
            netfs fscache 9pnet 9pnet_virtio 9p
            irqbypass vfio vfio_iommu_type1 vfio_virqfd vfio-pci-core vfio-pci
        ) ;;
    trixie)
        # 6.12: virtio and virtio_pci are built in, fscache is part of netfs, vfio_virqfd part of vfio.
        suite=trixie
        cache=$cache-trixie
        modules=(netfs 9pnet 9pnet_virtio 9p irqbypass vfio vfio_iommu_type1 vfio-pci-core vfio-pci) ;;
    *) say "unknown profile '$profile' (bookworm or trixie)"; exit 2 ;;
esac

# The host's Debian mirror (the first source of its main archive), which also serves the other suites.
debian_mirror() {
    if [ -n "${VFIOTRACE_DEBIAN_MIRROR:-}" ]; then echo "$VFIOTRACE_DEBIAN_MIRROR"; return; fi
    {
        grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
        grep -hsE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | sed 's/\[[^]]*\]//' | awk '{print $2}'
    } | grep -v security | grep -m 1 -E '/debian/?$' || true
}

# apt-get or apt-cache with the profile's lists: the host's own for bookworm; for another suite a
# configuration of its own under the cache (sources, lists, package cache, an empty dpkg status), so the
# host's sources and state stay as they are.
profile_apt() {
    local tool=$1
    shift
    if [ -z "$suite" ]; then "$tool" "$@"; return; fi
    apt_setup
    "$tool" "${apt_options[@]}" "$@"
}

# Sets apt_options for the profile's suite; fetches its lists the first time (or again after `rm CACHE/apt/updated`).
apt_setup() {
    local dir=$cache/apt
    apt_options=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$dir/lists"
        -o "Dir::Cache=$dir/cache" -o Dir::State::status=/dev/null -o Acquire::Languages=none)
    [ -f "$dir/updated" ] && return 0
    local mirror keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    mirror=$(debian_mirror)
    [ -n "$mirror" ] || cannot "no Debian mirror in apt's sources here; set VFIOTRACE_DEBIAN_MIRROR"
    [ -f "$keyring" ] || cannot "$keyring not found (Debian: apt-get install debian-archive-keyring)"
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
    printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$suite" > "$dir/sources.list"
    say "fetching $suite's package lists from $mirror (a private apt configuration in $dir)"
    apt-get "${apt_options[@]}" -q update > "$dir/update.log" 2>&1 || cannot "apt-get update for $suite failed (log: $dir/update.log)"
    touch "$dir/updated"
}

prepare() {
    command -v cpio >/dev/null || cannot "cpio not found (Debian: apt-get install cpio)"
    [ -f "$cache/ready" ] || prepare_kernel
    [ -z "$suite" ] || prepare_root
}

prepare_kernel() {
    command -v "$qemu" >/dev/null || cannot "$qemu not found (Debian: apt-get install qemu-system-x86)"
    command -v apt-get >/dev/null || cannot "apt-get not found: the guest is built from Debian's packages"
    rm -rf "$cache.tmp" && mkdir -p "$cache.tmp/debs" "$cache.tmp/x" "$cache" && cd "$cache.tmp/debs"
    [ -z "$suite" ] || apt_setup
    local image
    image=$(profile_apt apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    if [ -z "$image" ]; then
        say "apt has no linux-image-amd64 in its lists; running apt-get update"
        if [ -z "$suite" ]; then apt-get update -qq || true; else rm -f "$cache/apt/updated" && apt_setup; fi
        image=$(profile_apt apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    fi
    [ -n "$image" ] || cannot "apt knows no linux-image-amd64 package"
    say "downloading $image and busybox-static (once; cached in $cache)"
    if ! profile_apt apt-get download -q "$image" busybox-static >/dev/null 2>&1; then
        # Lists kept from an earlier day may name packages the mirror has since replaced.
        [ -n "$suite" ] || cannot "apt-get download $image busybox-static failed"
        say "the download failed; fetching $suite's lists again"
        rm -f "$cache/apt/updated" && apt_setup
        image=$(profile_apt apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
        profile_apt apt-get download -q "$image" busybox-static >/dev/null 2>&1 || cannot "apt-get download $image busybox-static failed"
    fi
    for deb in ./*.deb; do dpkg-deb -x "$deb" ../x; done
    cd ..
    mkdir -p modules
    # bookworm keeps its modules plain in /lib/modules, trixie xz-compressed in /usr/lib/modules: the guest
    # gets them plain (busybox's insmod reads no xz).
    for m in "${modules[@]}"; do
        local ko
        ko=$(find x -path '*/lib/modules/*' \( -name "$m.ko" -o -name "$m.ko.xz" \) | head -n 1)
        [ -n "$ko" ] || cannot "module $m not in $image"
        case "$ko" in
            *.xz) xz -dc "$ko" > "modules/$m.ko" ;;
            *) cp "$ko" modules/ ;;
        esac
    done
    if [ -f x/bin/busybox ]; then cp x/bin/busybox busybox; else cp x/usr/bin/busybox busybox; fi
    cp x/boot/vmlinuz-* vmlinuz
    echo "$image" > kernel-package
    # Only the kernel's files are replaced: the cache also keeps the profile's apt lists and root, and the
    # driver's headers; the initramfs is rebuilt with the new modules.
    rm -rf "$cache/modules" "$cache/initramfs.gz" "$cache/init.sh"
    mv modules busybox vmlinuz kernel-package "$cache/"
    cd "$cache" && rm -rf "$cache.tmp"
    touch "$cache/ready"
}

# The trixie root with trixie's QEMU, built once: the guest reaches it over the host's root and runs its QEMU in
# a chroot (Scripts/guest/trixie-qemu.sh). Debootstrap's own packages go; the root's QEMU version is checked.
prepare_root() {
    local root=$cache/root
    [ -f "$cache/root-ready" ] && return 0
    command -v debootstrap >/dev/null || cannot "debootstrap not found (Debian: apt-get install debootstrap)"
    [ -e "/usr/share/debootstrap/scripts/$suite" ] || cannot "this debootstrap does not know $suite (a newer debootstrap does)"
    local mirror
    mirror=$(debian_mirror)
    [ -n "$mirror" ] || cannot "no Debian mirror in apt's sources here; set VFIOTRACE_DEBIAN_MIRROR"
    unmount_under "$root.tmp"
    rm -rf "$root.tmp"
    say "building a $suite root with qemu-system-x86 (debootstrap --variant=minbase; once, cached in $root)"
    local began=$SECONDS
    debootstrap --variant=minbase --include=qemu-system-x86 "$suite" "$root.tmp" "$mirror" > "$cache/debootstrap.log" 2>&1 \
        || { unmount_under "$root.tmp"; cannot "debootstrap of $suite failed (its log: $cache/debootstrap.log)"; }
    unmount_under "$root.tmp"
    rm -f "$root.tmp"/var/cache/apt/archives/*.deb
    local version
    version=$(chroot "$root.tmp" qemu-system-x86_64 --version 2>&1 | head -n 1) \
        || cannot "the $suite root's qemu-system-x86_64 does not run: $version"
    unmount_under "$root"
    rm -rf "$root" && mv "$root.tmp" "$root"
    printf '%s\n' "$version" > "$cache/root-ready"
    say "$suite root ready in $((SECONDS - began))s, $(du -sh "$root" | cut -f 1): $version"
}

# Unmounts whatever is mounted under a folder (a debootstrap that stopped half way may leave /proc there), so
# removing the folder never reaches into a mounted file system.
unmount_under() {
    local m
    for m in $(awk -v d="$1/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" || true; done
    if awk -v d="$1/" 'index($2, d) == 1 {found = 1} END {exit !found}' /proc/mounts; then
        cannot "something is still mounted under $1"
    fi
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

# The QEMU options that differ by accelerator. Interrupt remapping under KVM needs the split irqchip.
accel_options() {
    case "$1" in
        kvm) echo "-machine q35,kernel-irqchip=split -accel kvm -cpu host -device intel-iommu,intremap=on" ;;
        *) echo "-machine q35 -accel tcg -cpu max -device intel-iommu,intremap=on" ;;
    esac
}

# Sets `accel` and `accel_why` from $VFIOTRACE_GUEST_ACCEL (tcg, kvm or auto; default tcg).
choose_accel() {
    local want=${VFIOTRACE_GUEST_ACCEL:-tcg}
    case "$want" in
        tcg) accel=tcg; accel_why="the default; VFIOTRACE_GUEST_ACCEL=auto uses KVM where it works" ;;
        kvm)
            [ -r /dev/kvm ] && [ -w /dev/kvm ] || cannot "VFIOTRACE_GUEST_ACCEL=kvm but /dev/kvm is not usable"
            accel=kvm; accel_why="VFIOTRACE_GUEST_ACCEL=kvm" ;;
        auto) kvm_verdict ;;
        *) say "VFIOTRACE_GUEST_ACCEL must be tcg, kvm or auto, not '$want'"; exit 2 ;;
    esac
}

# KVM if a probe boot under KVM reaches the command quickly; the verdict lasts until the host reboots.
kvm_verdict() {
    accel=tcg
    if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then accel_why="no usable /dev/kvm"; return; fi
    if ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
        accel_why="/dev/kvm is there but this CPU shows no vmx/svm (KVM here cannot boot the guest)"; return
    fi
    local key verdict="$cache/kvm-verdict"
    key="$(cat /proc/sys/kernel/random/boot_id) $("$qemu" --version | head -n 1)"
    if [ "$(head -n 1 "$verdict" 2>/dev/null)" != "$key" ]; then
        say "probing KVM with one short boot (once per host boot)"
        local dir
        dir=$(mktemp -d /tmp/vfio-guest-kvm-XXXXXX)
        if boot_once kvm "$dir" 60 60 'test -e /dev/vfio/$VFIO_GROUP' 2>/dev/null \
            && [ "$(cat "$dir/.guest-status" 2>/dev/null)" = 0 ]; then
            printf '%s\nkvm\nthe probe boot under KVM reached the command\n' "$key" > "$verdict"
        else
            printf '%s\ntcg\na probe boot under KVM did not reach the command within 60s\n' "$key" > "$verdict"
        fi
        rm -rf "$dir"
    fi
    accel=$(sed -n 2p "$verdict")
    accel_why="$(sed -n 3p "$verdict") (VFIOTRACE_GUEST_ACCEL=auto)"
}

# One boot: runs the command in the guest, the output shown as it comes. Returns 0 when the command ran (its
# status is in DIR/.guest-status), 4 when it timed out, 5 when the guest never reached it (the boot failed),
# 6 when the guest died while it ran.
# Usage: boot_once ACCEL DIR BOOT_SECONDS TOTAL_SECONDS COMMAND
boot_once() {
    local accel=$1 out=$2 boot_limit=$3 limit=$4
    shift 4
    {
        printf 'export VFIO_PROFILE=%s\n' "$profile"
        [ -z "$suite" ] || printf "export VFIO_TRIXIE_ROOT='%s'\n" "$cache/root"
        printf '%s\n' "$*"
    } > "$out/.guest-command"
    printf '%s\n' "$start" > "$out/.guest-cwd"
    printf '%s\n' "$out" > "$out/.guest-outdir"
    rm -f "$out/.guest-status" "$out/.guest-ready" "$out/.guest-console"
    : > "$out/.guest-output"
    local vm waited=0 status=0
    # shellcheck disable=SC2046 # the accelerator's options are words on purpose
    "$qemu" $(accel_options "$accel") -smp 1 -m 2G -device edu \
        -kernel "$cache/vmlinuz" -initrd "$cache/initramfs.gz" \
        -append "console=ttyS0 quiet intel_iommu=on iomem=relaxed panic=-1 no_timer_check" \
        -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
        -virtfs "local,path=$out,mount_tag=out,security_model=none" \
        -display none -serial file:"$out/.guest-console" -monitor none \
        -no-reboot </dev/null &
    vm=$!
    # The command's output as it comes (the guest writes it straight into the shared folder).
    tail -n +1 -f --pid=$vm "$out/.guest-output" &
    # Tenths of a second: the boot must reach the command within boot_limit, the whole run end within limit.
    while kill -0 $vm 2>/dev/null; do
        if [ ! -e "$out/.guest-ready" ] && [ $waited -ge $((boot_limit * 10)) ]; then status=5; break; fi
        if [ $waited -ge $((limit * 10)) ]; then status=4; break; fi
        sleep 0.1
        waited=$((waited + 1))
    done
    if [ $status != 0 ]; then kill $vm 2>/dev/null; fi
    wait $vm || true
    wait
    [ $status != 0 ] && return $status
    [ -f "$out/.guest-status" ] && return 0
    [ -e "$out/.guest-ready" ] && return 6
    return 5
}

# The line of the guest's console that says why it stopped, if there is one.
console_reason() {
    grep -m 1 -E 'Kernel panic|BUG:|Oops|timer doesn.t work' "$1/.guest-console" 2>/dev/null \
        | sed 's/^\[ *[0-9.]*\] //' || true
}

run() {
    local out="" timeout=300 boot_limit=${VFIOTRACE_GUEST_BOOT_TIMEOUT:-180} retries=2
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
    local accel accel_why
    choose_accel
    say "accelerator: $accel: $accel_why"
    local attempt=0 result reason
    while :; do
        attempt=$((attempt + 1))
        result=0
        boot_once "$accel" "$out" "$boot_limit" "$timeout" "$@" || result=$?
        case $result in
            0) exit "$(cat "$out/.guest-status")" ;;
            4) say "the command did not finish within ${timeout}s (console: $out/.guest-console)"; exit 4 ;;
            6)
                say "the guest died while the command ran (not retried: the command may be the cause):" \
                    "$(console_reason "$out"). Its console:"
                tail -n 40 "$out/.guest-console" >&2
                exit 5 ;;
        esac
        reason=$(console_reason "$out")
        [ -n "$reason" ] || reason="no panic on the console; the guest did not reach the command within ${boot_limit}s"
        if [ $attempt -gt $retries ]; then
            say "the guest failed to boot $attempt times; the last time: $reason. Its console:"
            tail -n 30 "$out/.guest-console" >&2
            exit 5
        fi
        cp "$out/.guest-console" "$out/.guest-console.boot$attempt" 2>/dev/null || true
        say "retrying the boot ($((attempt + 1)) of $((retries + 1))): the guest failed to boot, not the command: $reason"
    done
}

# With no command, prints the profile's root (building it if need be); with one, runs it in a chroot of the root on
# this host (with this host's /proc, /sys and /dev bound in for the command's time), e.g. to install in the root
# what a build for the profile's kernel needs (trixie's kbuild wants trixie's glibc and gcc-14).
root_command() {
    [ -n "$suite" ] || cannot "the $profile profile has no root of its own (its guest runs this host's programs)"
    prepare_root
    local root=$cache/root
    if [ $# = 0 ]; then echo "$root"; return; fi
    unmount_under "$root"
    trap 'unmount_under "$root"' EXIT
    mount -t proc proc "$root/proc"
    mount --bind /sys "$root/sys"
    mount --bind /dev "$root/dev"
    local status=0
    chroot "$root" "$@" || status=$?
    exit $status
}

# What the profile has ready, in one line.
readiness() {
    printf 'ready: %s' "$(cat "$cache/kernel-package")"
    [ -z "$suite" ] || printf ' (%s), its root: %s' "$profile" "$(cat "$cache/root-ready")"
}

case "${1:-}" in
    prepare) prepare; initramfs; say "$(readiness)" ;;
    check)
        command -v "$qemu" >/dev/null || cannot "$qemu not found (Debian: apt-get install qemu-system-x86)"
        prepare; initramfs; say "$(readiness) under $("$qemu" --version | head -n 1)" ;;
    run) shift; run "$@" ;;
    cache) echo "$cache" ;;
    root) shift; root_command "$@" ;;
    apt-get | apt-cache) tool=$1; shift; profile_apt "$tool" "$@" ;;
    *) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
