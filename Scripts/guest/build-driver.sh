#!/usr/bin/env bash
# Builds Fixtures/EduMigrationDriver (a vfio-pci variant driver for QEMU's edu, with migration) for the kernel
# the guest rig of Scripts/vfio-guest.sh boots, and prints the module's path.
#
#   Scripts/guest/build-driver.sh [-o MODULE]
#
# The kernel headers come from Debian: linux-headers-<abi>-amd64, linux-headers-<abi>-common, linux-kbuild and
# linux-compiler-gcc-*-x86, all at exactly the version of the rig's kernel image, fetched with
# `apt-get download` once and kept in the rig's cache (.cache/guest/headers; nothing of it is committed). The
# module is rebuilt only when its sources change; it is left in .cache/guest/driver/edu_vfio_pci.ko (or copied
# to MODULE). Exit 3: it cannot be built here (the message says why).
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
cache=${VFIOTRACE_GUEST_CACHE:-$here/.cache/guest}
src=$here/Fixtures/EduMigrationDriver

say() { printf 'build-driver: %s\n' "$*" >&2; }
cannot() { say "cannot build the driver here: $*"; exit 3; }

copy_to=""
while [ $# -gt 0 ]; do
    case "$1" in
        -o) copy_to=$2; shift 2 ;;
        *) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done

"$here/Scripts/vfio-guest.sh" prepare >/dev/null 2>&1 || cannot "the rig's kernel is not ready (run Scripts/vfio-guest.sh prepare)"
image=$(cat "$cache/kernel-package")    # linux-image-<abi>-amd64
abi=${image#linux-image-}
abi=${abi%-amd64}
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
out=$cache/driver
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
if [ -n "$copy_to" ]; then cp "$out/edu_vfio_pci.ko" "$copy_to"; echo "$copy_to"; else echo "$out/edu_vfio_pci.ko"; fi
