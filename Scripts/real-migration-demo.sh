#!/usr/bin/env bash
# The seed's question answered on a real kernel: a vendor driver that needs BAR0's register page trapped while
# it migrates (Fixtures/EduMigrationDriver), driven by the bundled VFIO client as the VMM, recorded by
# vfiotrace — once telling the VMM asynchronously (an eventfd; the VMM re-reads the layout and unmaps), once
# revoking the mappings itself, once async with a VMM 20 ms slower. Prints each run's analysis side by side.
#
#   Scripts/real-migration-demo.sh [OUTDIR]     (after `swift build`; needs what Scripts/vfio-guest.sh needs)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-$(mktemp -d /tmp/vfiotrace-migration-XXXXXX)}")
mkdir -p "$out"
bin=$(swift build --show-bin-path)
[ -x "$bin/vfiotrace" ] && [ -x "$bin/vfio-client" ] || { echo "build first: swift build" >&2; exit 2; }
Scripts/guest/build-driver.sh >/dev/null
Scripts/vfio-guest.sh run -o "$out" -t 900 -- "sh Scripts/guest/real-migration.sh '$out' '$bin'" >"$out/guest.txt" 2>&1 \
    || { tail -n 20 "$out/guest.txt" >&2; exit 1; }
# The driver's requirement is in its account (trap.on/off); its re-evaluate interrupt is irq index 5.
echo '{"v2TrapStates": [], "reevaluateIrqIndices": [5], "regions": [0]}' >"$out/driver-policy.json"
for name in async async-slow revoke; do
    echo "== $name: $(grep -E '^(window_ns|mmap_after_trap_on|driver_trap_access) ' "$out/$name-summary.txt" | tr '\n' ' ')"
    "$bin/vfiotrace" analyze --policy "$out/driver-policy.json" "$out/$name.vftrace" | sed -n '2p;/trap gaps:/,/remap latency/p' || true
done
cat <<EXPLAIN

async:      the driver needed traps from its trap.on, but the VMM learned it through an eventfd and unmapped
            the page only after waking up and re-reading the layout: a trap gap; every access the vCPU made
            through the mapping in it (mmap_after_trap_on) reached the device without the driver seeing it.
async-slow: the same with a VMM 20 ms slower to react: a longer window, more accesses missed. A faster VMM
            narrows the window; it never closes it.
revoke:     the driver zapped the mappings before the state change returned: no gap, however slow the VMM,
            and every access while traps were required went through the trap path.
Files in $out.
EXPLAIN
