#!/bin/sh
# Runs inside the guest of `Scripts/vfio-guest.sh --profile trixie`: Debian trixie's QEMU 10 (whose libraries
# the host's bookworm does not have) from the trixie root the profile built, in a chroot. Same kernel, so
# a recorder started from the host's root can trace it.
#
#   trixie-qemu.sh ARGS...           the root's qemu-system-x86_64 ARGS (exec'd: the pid is QEMU's)
#   trixie-qemu.sh --exec CMD ARGS   any program of the root (qemu-img, ...)
#   trixie-qemu.sh --root            set the chroot up and print the root's path, for
#                                    `vfiotrace record -- chroot ROOT qemu-system-x86_64 ...`
#
# The root ($VFIO_TRIXIE_ROOT, else .cache/guest-trixie/root of this repository) is read-only, under the
# host's root. The first call mounts in it the guest's /proc, /sys and /dev (with /dev/pts and /dev/shm), a
# tmpfs on its /tmp and /run, and $VFIO_OUT (writable) at /run/out: QEMU's own files (-D, monitor fifos,
# migration files) go under /run (ROOT/run outside the chroot) or /run/out (that is $VFIO_OUT).
set -eu

here=$(cd "$(dirname "$0")/../.." && pwd)
root=${VFIO_TRIXIE_ROOT:-$here/.cache/guest-trixie/root}

fail() { printf 'trixie-qemu: %s\n' "$*" >&2; exit 3; }

[ -x "$root/usr/bin/qemu-system-x86_64" ] \
    || fail "no trixie root with QEMU at $root (on the host: Scripts/vfio-guest.sh --profile trixie prepare)"
[ "$(id -u)" = 0 ] || fail "chroot needs root"

# The mounts, once per boot (they live as long as the guest).
if ! mountpoint -q "$root/proc"; then
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs tmp "$root/tmp"
    mount -t tmpfs run "$root/run"
    if [ -n "${VFIO_OUT:-}" ]; then
        mkdir -p "$root/run/out"
        mount --bind "$VFIO_OUT" "$root/run/out"
    fi
fi

case "${1:-}" in
    --root) echo "$root" ;;
    --exec) shift; exec chroot "$root" "$@" ;;
    *) exec chroot "$root" qemu-system-x86_64 "$@" ;;
esac
