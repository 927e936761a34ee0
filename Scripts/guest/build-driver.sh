#!/usr/bin/env bash
# Builds Fixtures/EduMigrationDriver (a vfio-pci variant driver for QEMU's edu, with migration) for the kernel
# the guest rig of Scripts/vfio-guest.sh boots in a profile, and prints the module's path.
#
#   Scripts/guest/build-driver.sh [--profile bookworm|trixie] [-o MODULE]
#
# The profile is --profile, else $VFIOTRACE_GUEST_PROFILE (as for vfio-guest.sh), else bookworm.
#   bookworm  (6.1) the kernel headers come from Debian: linux-headers-<abi>-amd64, linux-headers-<abi>-common,
#             linux-kbuild and linux-compiler-gcc-*-x86, all at exactly the version of the rig's kernel image,
#             fetched with `apt-get download` once and kept in the rig's cache (.cache/guest/headers); the host's
#             gcc-12 builds.
#   trixie    (6.12) trixie's kbuild needs trixie's glibc and gcc-14, so the module is built in a chroot of the
#             profile's trixie root (`vfio-guest.sh --profile trixie root`), where gcc-14, make and
#             linux-headers-<abi>-amd64 at the version of the rig's kernel image are installed with the root's apt
#             once (the root is a cache: nothing of it is committed).
# The module is rebuilt only when its sources or the headers change; it is left in the profile's cache, as
# CACHE/driver/edu_vfio_pci.ko (.cache/guest/driver, .cache/guest-trixie/driver), or copied to MODULE.
# Exit 3: it cannot be built here (the message says why).
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
src=$here/Fixtures/EduMigrationDriver

say() { printf 'build-driver: %s\n' "$*" >&2; }
cannot() { say "cannot build the driver here: $*"; exit 3; }

copy_to=""
profile=${VFIOTRACE_GUEST_PROFILE:-bookworm}
while [ $# -gt 0 ]; do
    case "$1" in
        -o) copy_to=$2; shift 2 ;;
        --profile) profile=$2; shift 2 ;;
        *) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done

rig=("$here/Scripts/vfio-guest.sh" --profile "$profile")

"${rig[@]}" prepare >/dev/null 2>&1 || cannot "the rig's kernel is not ready (run Scripts/vfio-guest.sh --profile $profile prepare)"
cache=$("${rig[@]}" cache)
image=$(cat "$cache/kernel-package")    # linux-image-<abi>-amd64
abi=${image#linux-image-}
abi=${abi%-amd64}
out=$cache/driver

# Prints the module's path (or copies it to MODULE first).
finish() {
    if [ -n "$copy_to" ]; then cp "$out/edu_vfio_pci.ko" "$copy_to"; echo "$copy_to"; else echo "$out/edu_vfio_pci.ko"; fi
}

if [ "$profile" = trixie ]; then
    # In the trixie root: its apt, its gcc-14, its kbuild; the headers at the image's own version.
    version=$("${rig[@]}" apt-cache show "$image" 2>/dev/null | awk '/^Version:/ {print $2; exit}')
    [ -n "$version" ] || cannot "apt (trixie's lists) knows no version of $image"
    root=$("${rig[@]}" root)
    kdir=/usr/src/linux-headers-$abi-amd64
    have=$(chroot "$root" dpkg-query -W -f '${Version}' "linux-headers-$abi-amd64" 2>/dev/null || true)
    if [ "$have" != "$version" ] || ! chroot "$root" sh -c 'command -v gcc-14 && command -v make' >/dev/null 2>&1; then
        say "installing gcc-14, make and linux-headers-$abi-amd64 $version in the trixie root (once)"
        "${rig[@]}" root sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends gcc-14 make linux-headers-$abi-amd64=$version" > "$cache/driver-root-install.log" 2>&1 \
            || cannot "installing the build tools in the trixie root failed (log: $cache/driver-root-install.log)"
    fi
    stamp=$(printf '%s %s\n' "$image" "$version" | cat "$src"/*.c "$src"/Kbuild - | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$out/stamp" 2>/dev/null)" != "$stamp" ] || [ ! -f "$out/edu_vfio_pci.ko" ]; then
        build=/var/tmp/edu_vfio_pci-build
        rm -rf "${root:?}$build" "$out" && mkdir -p "$root$build" "$out"
        cp "$src"/*.c "$src"/Kbuild "$root$build/"
        "${rig[@]}" root make -s -C "$kdir" M="$build" CC=gcc-14 modules >"$out/build.log" 2>&1 \
            || { cat "$out/build.log" >&2; say "the module did not build (log above)"; exit 1; }
        grep -E 'warning:' "$out/build.log" >&2 || true
        cp "$root$build/edu_vfio_pci.ko" "$out/"
        rm -rf "${root:?}$build"
        echo "$stamp" > "$out/stamp"
    fi
    finish
    exit 0
fi

command -v make >/dev/null || cannot "make not found (Debian: apt-get install make)"

# The headers, once per kernel image: the same source version as the image, pinned together.
headers=$cache/headers/$abi
if [ ! -f "$headers/ready" ]; then
    version=$(dpkg-query -W -f '${Version}' "$image" 2>/dev/null || true)
    [ -n "$version" ] || version=$(apt-cache show "$image" 2>/dev/null | awk '/^Version:/ {print $2; exit}')
    [ -n "$version" ] || cannot "apt knows no version of $image"
    major=${abi%%.*}.$(echo "$abi" | cut -d. -f2)
    compiler=$(apt-cache depends "linux-headers-$abi-amd64=$version" 2>/dev/null \
        | awk '/Depends: linux-compiler-gcc-[0-9]+-x86/ {print $2; exit}')
    [ -n "$compiler" ] || cannot "apt knows no compiler package for linux-headers-$abi-amd64 $version"
    gcc=${compiler#linux-compiler-}
    gcc=${gcc%-x86}
    command -v "$gcc" >/dev/null || cannot "$gcc not found: the kernel was built with it (Debian: apt-get install $gcc)"
    say "downloading the headers of $image $version (once; cached in $cache/headers)"
    rm -rf "$headers.tmp" && mkdir -p "$headers.tmp/debs"
    (cd "$headers.tmp/debs" && apt-get download -q "linux-headers-$abi-amd64=$version" "linux-headers-$abi-common=$version" \
        "linux-kbuild-$major=$version" "$compiler=$version" >/dev/null 2>&1) \
        || cannot "apt-get download of the $version headers failed"
    for deb in "$headers.tmp"/debs/*.deb; do dpkg-deb -x "$deb" "$headers.tmp"; done
    rm -rf "$headers.tmp/debs"
    # The amd64 tree includes the common tree's Makefile by an absolute path; point it at the copy here.
    sed -i "s|^include /usr/src/|include $headers/usr/src/|" "$headers.tmp/usr/src/linux-headers-$abi-amd64/Makefile"
    printf '%s\n' "$version" > "$headers.tmp/version"
    rm -rf "$headers" && mv "$headers.tmp" "$headers"
    touch "$headers/ready"
fi
kdir=$headers/usr/src/linux-headers-$abi-amd64

# The module, rebuilt when a source changes.
stamp=$(cat "$src"/*.c "$src"/Kbuild "$headers/version" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$out/stamp" 2>/dev/null)" != "$stamp" ] || [ ! -f "$out/edu_vfio_pci.ko" ]; then
    rm -rf "$out" && mkdir -p "$out"
    cp "$src"/*.c "$src"/Kbuild "$out/"
    gcc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\{0,1\}\(gcc-[0-9]*\).*/\1/p' "$kdir/include/config/auto.conf" 2>/dev/null || true)
    make -s -C "$kdir" M="$out" ${gcc:+CC=$gcc} modules >"$out/build.log" 2>&1 \
        || { cat "$out/build.log" >&2; say "the module did not build (log above)"; exit 1; }
    grep -E 'warning:' "$out/build.log" >&2 || true
    echo "$stamp" > "$out/stamp"
fi
finish
