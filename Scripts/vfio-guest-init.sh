#!/bin/busybox sh
# The guest's /init (see vfio-guest.sh): load the modules, bind edu to vfio-pci, run the command in a
# chroot of the host's root (after leaving .guest-ready), leave its output and status in the shared folder,
# power off.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/order); do insmod "/lib/modules/$m.ko" || echo "init: insmod $m failed"; done
mkdir -p /host /out
mount -t 9p -o trans=virtio,version=9p2000.L,ro hostroot /host
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out /out
finish() { echo "$1" > /out/.guest-status; sync; poweroff -f; }

echo 1234 11e8 > /sys/bus/pci/drivers/vfio-pci/new_id
bdf=""
for d in /sys/bus/pci/drivers/vfio-pci/0000:*; do [ -e "$d" ] && bdf=${d##*/}; done
if [ -z "$bdf" ]; then echo "init: edu did not bind to vfio-pci" > /out/.guest-output; finish 3; fi
group=$(readlink "/sys/bus/pci/devices/$bdf/iommu_group"); group=${group##*/}

mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t tracefs tracefs /host/sys/kernel/tracing 2>/dev/null
mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts devpts /host/dev/pts
mount -t tmpfs shm /host/dev/shm
mount -t tmpfs run /host/run
outdir=$(cat /out/.guest-outdir)
mount --bind /out "/host$outdir"

cat > /host/run/.guest-run <<RUN
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/run TMPDIR=/run
export VFIO_BDF=$bdf VFIO_GROUP=$group VFIO_OUT=$outdir
cd "\$(cat $outdir/.guest-cwd)" 2>/dev/null || cd /
. $outdir/.guest-command
RUN
# The host counts a boot that never gets here as the rig's failure (and retries it), not the command's.
: > /out/.guest-ready
chroot /host /bin/sh /run/.guest-run > /out/.guest-output 2>&1
finish $?
