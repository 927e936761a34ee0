import TraceFormat

/// Per-process state the analyzer rebuilds: live device mappings, KVM memslots, eventfd bindings.
final class ProcessTables {
    /// Live device mappings (shared logic with the recorder's decoder).
    /// Advanced by every change below of what the guest may reach (`ReachabilityTracker` keeps each device's reach
    /// until it moves).
    private let epoch: ReachabilityEpoch

    init(epoch: ReachabilityEpoch) { self.epoch = epoch }

    var table = DeviceMappingTable() { didSet { epoch.advance() } }
    var mappings: [DeviceMappingTable.Mapping] { table.mappings }
    /// (vm fd, slot) -> userspace range, for slots with size > 0.
    var memslots: [UInt64: Range<UInt64>] = [:] { didSet { epoch.advance() } }
    /// True once any memslot was recorded for this process: from then on reachability needs one.
    var memslotsSeen = false { didSet { epoch.advance() } }
    private(set) var memslotUnion = IntervalSet() { didSet { epoch.advance() } }
    /// eventfd -> (device, irq index) from VFIO_DEVICE_SET_IRQS.
    @exclusivity(unchecked) private(set) var eventfdBindings: [Int32: (device: String, index: UInt32)] = [:]
    /// Bit fd set: the eventfd is bound to an irq index that re-evaluates nothing (MSI-X, INTx under the default
    /// policy). Most of a VMM's eventfd traffic is on these, and a read or write of one changes no state: one bit
    /// test answers it, not a hash lookup that copies out the binding's device name.
    @exclusivity(unchecked) private var quietFds: [UInt64] = []

    /// Binds `fd` to `device`'s irq `index`; `reevaluates`: the policy re-evaluates mappings on that index.
    func bind(fd: Int32, device: String, index: UInt32, reevaluates: Bool) {
        eventfdBindings[fd] = (device, index)
        setQuiet(fd, !reevaluates)
    }

    /// The eventfd no longer signals anything (closed and reused, or its index disabled).
    func unbind(fd: Int32) {
        guard eventfdBindings.removeValue(forKey: fd) != nil else { return }
        setQuiet(fd, false)
    }

    /// A read or write of `fd` can change nothing: it is bound to an index that re-evaluates nothing.
    @inline(__always)
    func isQuiet(fd: Int32) -> Bool {
        let word = Int(fd >> 6)
        return fd >= 0 && word < quietFds.count && quietFds[word] & (1 << UInt64(fd & 63)) != 0
    }

    private func setQuiet(_ fd: Int32, _ quiet: Bool) {
        // Negative or absurd fds (a crafted trace) stay off the bitset: the hash lookup still answers for them.
        guard fd >= 0 && fd < 1 << 16 else { return }
        let word = Int(fd >> 6)
        if word >= quietFds.count {
            guard quiet else { return }
            quietFds.append(contentsOf: repeatElement(0, count: word + 1 - quietFds.count))
        }
        if quiet { quietFds[word] |= 1 << UInt64(fd & 63) } else { quietFds[word] &= ~(1 << UInt64(fd & 63)) }
    }
    /// eventfds written while bound to nothing: fd -> time of the first such write (a signal nobody could see).
    @exclusivity(unchecked) var unboundWrites: [Int32: UInt64] = [:]

    /// Keeps the time of the first write to `fd` while it is bound to nothing (one hash lookup).
    @inline(__always)
    func noteUnboundWrite(fd: Int32, at t: UInt64) {
        func keepFirst(_ slot: inout UInt64?) { if slot == nil { slot = t } }
        keepFirst(&unboundWrites[fd])
    }
    /// User ranges of the device mappings that existed at an attach (found in /proc/PID/maps), and their
    /// devices: their memslots and irq bindings, made before the attach, are unknown.
    var adoptedMappings = IntervalSet() { didSet { epoch.advance() } }
    var adoptedDevices = Set<String>()
    /// User ranges some recorded memslot change covered. The parts of adopted mappings no recorded
    /// memslot change touched are taken to be under a memslot made before the attach.
    private(set) var memslotTouched = IntervalSet() { didSet { epoch.advance() } }

    /// Guest-physical ranges that a memslot put over a device mapping, and what they reach: kept after the
    /// memslot goes (a guest access there then exits as MMIO, which is how the kernel shows the trap works).
    private(set) var deviceGuestRanges: [(gpa: Range<UInt64>, device: String, region: UInt32)] = []

    /// Records what a memslot at `guestPhys` over `user` makes the guest reach.
    func noteGuestRanges(guestPhys: UInt64, user: Range<UInt64>) {
        for m in mappings where m.region >= 0 && m.user.overlaps(user) {
            let lo = max(m.user.lowerBound, user.lowerBound), hi = min(m.user.upperBound, user.upperBound)
            let gpa = Range(start: guestPhys.saturatingAdd(lo - user.lowerBound), length: hi - lo)
            deviceGuestRanges.removeAll { $0.gpa.overlaps(gpa) }
            deviceGuestRanges.append((gpa, m.device, UInt32(m.region)))
            // Bounded: a VMM has a handful of BARs; an attacker's trace cannot grow this without end.
            if deviceGuestRanges.count > 256 { deviceGuestRanges.removeFirst() }
        }
    }

    /// The device whose BAR a guest-physical address reaches (or reached, before its memslot went).
    func device(atGuestPhys gpa: UInt64) -> String? { deviceGuestRanges.last { $0.gpa.contains(gpa) }?.device }

    private static func memslotKey(vmFd: Int32, slot: UInt32) -> UInt64 { UInt64(UInt32(bitPattern: vmFd)) << 32 | UInt64(slot) }

    /// The userspace range of a slot, if it is set.
    func memslot(vmFd: Int32, slot: UInt32) -> Range<UInt64>? { memslots[Self.memslotKey(vmFd: vmFd, slot: slot)] }

    /// Records a memslot set (`user`) or delete (nil; `address` is the delete's userspace address).
    func setMemslot(vmFd: Int32, slot: UInt32, user: Range<UInt64>?, address: UInt64 = 0) {
        memslotsSeen = true
        let key = Self.memslotKey(vmFd: vmFd, slot: slot)
        if let old = memslots[key] { memslotTouched.insert(old) }
        if let user { memslotTouched.insert(user) }
        if user == nil, memslots[key] == nil, !adoptedMappings.isEmpty, let m = mappings.first(where: { $0.user.contains(address) }) {
            // A slot made before the attach: it covered the mapping from its address on.
            memslotTouched.insert(address..<m.user.upperBound)
        }
        memslots[key] = user
        var u = IntervalSet()
        for r in memslots.values { u.insert(r) }
        memslotUnion = u
    }

    func map(_ m: DeviceMappingTable.Mapping) { table.map(m) }

    func unmap(_ range: Range<UInt64>) { table.remove(range) }

    func remap(old: Range<UInt64>, newStart: UInt64, newLength: UInt64) { table.remap(old: old, newStart: newStart, newLength: newLength) }

    /// Adds the devices whose mappings `user` touches.
    func addDevices(touching user: Range<UInt64>, to out: inout DeviceNameSet) {
        for m in mappings where m.user.overlaps(user) { out.insert(m.device) }
    }

    /// Region offsets of `device`/`region` the guest can reach through this process.
    func reachable(device: String, region: UInt32) -> IntervalSet {
        var out = IntervalSet()
        for m in mappings where m.region == Int32(bitPattern: region) && m.device == device {
            if memslotsSeen && adoptedMappings.isEmpty {
                // No mapping found at an attach (the usual case): what memslots cover, without the sets the
                // general case builds (the same ranges, inserted in the same order).
                for r in memslotUnion {
                    let lo = max(r.lowerBound, m.user.lowerBound)
                    let hi = min(r.upperBound, m.user.upperBound)
                    guard lo < hi else { continue }
                    out.insert(m.regionOffset.saturatingAdd(lo - m.user.lowerBound)..<m.regionOffset.saturatingAdd(hi - m.user.lowerBound))
                }
            } else if memslotsSeen {
                var covered = memslotUnion.clamped(to: m.user)
                covered = covered.union(adoptedMappings.clamped(to: m.user).subtracting(memslotTouched))
                for r in covered {
                    out.insert(
                        m.regionOffset.saturatingAdd(
                            r.lowerBound - m.user.lowerBound)..<m.regionOffset.saturatingAdd(r.upperBound - m.user.lowerBound))
                }
            } else {
                out.insert(Range(start: m.regionOffset, length: m.user.length))
            }
        }
        return out
    }

    /// Adds the regions of `device` this process maps to `out`.
    func addMappedRegions(device: String, to out: inout RegionIndexSet) {
        for m in table.mappings where m.region >= 0 && m.device == device { out.insert(UInt32(m.region)) }
    }
}
