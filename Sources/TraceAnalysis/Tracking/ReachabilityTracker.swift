import TraceFormat

/// Whether the guest can reach a device's BAR directly: the VMM's mappings of it, the KVM memslots over
/// them, the VMM's own switch-off of its mmaps (QEMU's `mmaps enabled: 0`), and the driver's revocation of
/// the mappings in the kernel (docs/ANALYSIS.md, "Guest-reachable").
final class ReachabilityTracker {
    private let context: AnalysisContext

    init(context: AnalysisContext) { self.context = context }

    // MARK: - Events

    /// A VMM that creates a VM routes guest access through memslots: from then on a mapping alone does not
    /// make a device reachable.
    func vmCreated(pid: Int32) { context.process(pid).memslotsSeen = true }

    func mapping(_ p: MappingChange, pid: Int32, result: Int64, at t: UInt64) {
        let proc = context.process(pid)
        switch p.operation {
        case .mmap:
            let address = UInt64(bitPattern: result)
            let user = Range(start: address, length: p.length)
            var touched = DeviceNameSet()
            proc.addDevices(touching: user, to: &touched)
            proc.unmap(user)
            if p.flags & MappingChange.adoptedAtAttach != 0 {
                proc.adoptedMappings.insert(user)
                proc.adoptedDevices.insert(p.device)
            }
            if !p.device.isEmpty && p.region >= 0 {
                let r = UInt32(p.region)
                proc.map(.init(user: user, device: p.device, region: Int32(r), regionOffset: p.regionOffset))
                touched.insert(p.device)
                checkAgainstLayout(p, region: r, at: t)
            }
            changed(touched, at: t)
        case .munmap:
            let user = Range(start: p.address, length: p.length)
            var touched = DeviceNameSet()
            proc.addDevices(touching: user, to: &touched)
            proc.unmap(user)
            changed(touched, at: t)
        case .mremap:
            let old = Range(start: p.address, length: p.length)
            var touched = DeviceNameSet()
            proc.addDevices(touching: old, to: &touched)
            proc.remap(old: old, newStart: UInt64(bitPattern: result), newLength: p.newLength)
            changed(touched, at: t)
        }
    }

    /// A mapping of a range the latest sparse-mmap layout excludes is a protocol error.
    private func checkAgainstLayout(_ p: MappingChange, region r: UInt32, at t: UInt64) {
        guard let info = context.device(p.device).regions[r], info.sparseAreas != nil else { return }
        let allowed = IntervalSet(mmappableAreasOf: info)
        let mapped = IntervalSet(covering: Range(start: p.regionOffset, length: p.length))
        guard !mapped.subtracting(allowed).isEmpty else { return }
        context.findings.report(
            Finding(
                kind: .mapsExcludedRange, severity: .error,
                message:
                    "mmap of region \(r) +0x\(String(p.regionOffset, radix: 16)) len 0x\(String(p.length, radix: 16)) outside the latest sparse-mmap layout",
                timeNs: t, device: p.device))
    }

    func memslot(_ p: Memslot, pid: Int32, at t: UInt64) {
        let proc = context.process(pid)
        // The devices under the slot as it was and as it is: what the guest reaches is a mapping's overlap with the
        // union of the slots, which changes only within this slot's old and new ranges, so no other device's does.
        var touched = DeviceNameSet()
        if let old = proc.memslot(vmFd: p.vmFd, slot: p.slot) { proc.addDevices(touching: old, to: &touched) }
        let user: Range<UInt64>? = p.size == 0 ? nil : Range(start: p.userAddress, length: p.size)
        proc.setMemslot(vmFd: p.vmFd, slot: p.slot, user: user, address: p.userAddress)
        if let user { proc.noteGuestRanges(guestPhys: p.guestPhys, user: user) }
        if let user { proc.addDevices(touching: user, to: &touched) }
        // A delete of a slot made before an attach names only its address.
        if p.size == 0 && !proc.adoptedMappings.isEmpty { proc.addDevices(touching: Range(start: p.userAddress, length: 1), to: &touched) }
        changed(touched, at: t)
    }

    /// The recorder's memslot snapshot at an attach is whole (`kvm.memslot_snapshot`, after the slots it found,
    /// each a memslot event): the slots made before the attach are known, so the mappings found at the attach are
    /// reachable only where those slots cover them, no longer assumed under a slot.
    func memslotSnapshot(pid: Int32, at t: UInt64) {
        let proc = context.process(pid)
        guard !proc.adoptedMappings.isEmpty else { return }
        var touched = DeviceNameSet()
        proc.addDevices(touching: 0..<UInt64.max, to: &touched)
        proc.adoptedMappings = IntervalSet()
        changed(touched, at: t)
    }

    /// An exec or the exit of a process: its address space, mappings and memslots are gone.
    func addressSpaceGone(pid: Int32, at t: UInt64) {
        guard let proc = context.processes[pid] else { return }
        var names = DeviceNameSet()
        for m in proc.mappings { names.insert(m.device) }
        context.removeProcess(pid)
        changed(names, at: t)
    }

    /// QEMU's `vfio_region_mmaps_set_enabled`: while disabled, its mappings of the region do not reach the guest.
    func mmapsEnabled(device: String, region r: UInt32, enabled: Bool, at t: UInt64) {
        let d = context.device(device)
        if enabled { d.mmapsDisabled.remove(r) } else { d.mmapsDisabled.insert(r) }
        context.gaps.recompute(d, at: t)
    }

    /// The driver revoked (zapped) the user's mappings of `range` in the kernel, or let faults map it again:
    /// while revoked, the range is unreachable whatever the VMM still maps.
    func revocation(device: String, region r: UInt32, range: Range<UInt64>, revoked: Bool, at t: UInt64) {
        let d = context.device(device)
        var set = d.revoked[r] ?? IntervalSet()
        if revoked { set.insert(range) } else { set.remove(range) }
        d.revoked[r] = set
        if revoked { d.revokedAt = t }
        context.gaps.recompute(d, at: t)
    }

    /// KVM dropped its mapping of a host range (`kvm.unmap_hva_range`): for the devices mapped there, the
    /// kernel's own moment the guest lost direct access.
    func kvmUnmap(pid: Int32, range: Range<UInt64>, at t: UInt64) {
        var touched = DeviceNameSet()
        context.process(pid).addDevices(touching: range, to: &touched)
        touched.forEachSorted { name in
            let d = context.device(name)
            if d.exposed && d.kernelUnmapAt == nil { d.kernelUnmapAt = t }
        }
    }

    /// A guest access exited to the VMM as MMIO (`kvm.mmio`): on a device's BAR, the trap works.
    func kvmMMIO(pid: Int32, guestPhys: UInt64, at t: UInt64) {
        guard let name = context.process(pid).device(atGuestPhys: guestPhys) else { return }
        let d = context.device(name)
        if d.exposed && d.kernelTrapAt == nil { d.kernelTrapAt = t }
    }

    private func changed(_ names: DeviceNameSet, at t: UInt64) {
        names.forEachSorted { context.gaps.recompute(context.device($0), at: t) }
    }

    // MARK: - Queries

    /// Region offsets of `d`'s region `r` the guest can reach now, through any process.
    func reachable(_ d: DeviceTimeline, region r: UInt32) -> IntervalSet {
        refresh(d)
        if let known = d.reachByRegion.first(where: { $0.region == r }) { return known.reach }
        var out = IntervalSet()
        if d.mmapsDisabled.isEmpty || !d.mmapsDisabled.contains(r) {
            for p in context.processes.values { out = out.union(p.reachable(device: d.name, region: r)) }
            if !d.revoked.isEmpty, let revoked = d.revoked[r], !revoked.isEmpty { out = out.subtracting(revoked) }
        }
        d.reachByRegion.append((r, out))
        return out
    }

    /// Adds the regions of `d` some process maps to `out`.
    func addMappedRegions(_ d: DeviceTimeline, to out: inout RegionIndexSet) {
        refresh(d)
        out.formUnion(d.mappedRegions)
    }

    /// Forgets what was worked out for `d` if anything it was worked out of changed since (most changes of a device's
    /// requirement come between two of reachability: its state, signals, layout reads).
    private func refresh(_ d: DeviceTimeline) {
        let key = (epoch: context.reachEpoch.value, version: d.reachVersion)
        guard d.reachKey != key else { return }
        d.reachKey = key
        d.reachByRegion.removeAll(keepingCapacity: true)
        var regions = RegionIndexSet()
        for p in context.processes.values { p.addMappedRegions(device: d.name, to: &regions) }
        d.mappedRegions = regions
    }
}
