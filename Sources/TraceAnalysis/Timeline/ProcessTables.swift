import TraceFormat

/// Per-process state the analyzer rebuilds: live device mappings, KVM memslots, eventfd bindings.
final class ProcessTables {
    /// A live user mapping of a device region.
    struct DeviceMapping {
        var user: Range<UInt64>
        var device: String
        var region: UInt32
        var regionOffset: UInt64
    }

    var mappings: [DeviceMapping] = []
    /// (vm fd, slot) -> userspace range, for slots with size > 0.
    var memslots: [UInt64: Range<UInt64>] = [:]
    /// True once any memslot was recorded for this process: from then on reachability needs one.
    var memslotsSeen = false
    private(set) var memslotUnion = IntervalSet()
    /// eventfd -> (device, irq index) from VFIO_DEVICE_SET_IRQS.
    var eventfdBindings: [Int32: (device: String, index: UInt32)] = [:]
    /// eventfds written while bound to nothing: fd -> time of the first such write (a signal nobody could see).
    var unboundWrites: [Int32: UInt64] = [:]

    /// Devices whose mappings a change touched (to recompute only those).
    func devices(touching user: Range<UInt64>) -> Set<String> {
        Set(mappings.filter { $0.user.overlaps(user) }.map(\.device))
    }

    func setMemslot(vmFd: Int32, slot: UInt32, user: Range<UInt64>?) {
        memslotsSeen = true
        let key = UInt64(UInt32(bitPattern: vmFd)) << 32 | UInt64(slot)
        memslots[key] = user
        var u = IntervalSet()
        for r in memslots.values { u.insert(r) }
        memslotUnion = u
    }

    func map(_ m: DeviceMapping) {
        unmap(m.user)
        mappings.append(m)
    }

    /// Removes [range) from every mapping, splitting partially covered ones.
    func unmap(_ range: Range<UInt64>) {
        guard mappings.contains(where: { $0.user.overlaps(range) }) else { return }
        var out: [DeviceMapping] = []
        for m in mappings {
            guard m.user.overlaps(range) else {
                out.append(m)
                continue
            }
            if m.user.lowerBound < range.lowerBound {
                var head = m
                head.user = m.user.lowerBound..<range.lowerBound
                out.append(head)
            }
            if m.user.upperBound > range.upperBound {
                var tail = m
                tail.user = range.upperBound..<m.user.upperBound
                tail.regionOffset = m.regionOffset + (range.upperBound - m.user.lowerBound)
                out.append(tail)
            }
        }
        mappings = out
    }

    /// mremap: the part of [old) that is mapped moves to new (shrinking or growing keeps the device range start).
    func remap(old: Range<UInt64>, newStart: UInt64, newLength: UInt64) {
        let moved = mappings.filter { $0.user.overlaps(old) }
        unmap(old)
        for m in moved where m.user.lowerBound >= old.lowerBound {
            let delta = m.user.lowerBound - old.lowerBound
            let length = min(m.user.count, Int(clamping: newLength > delta ? newLength - delta : 0))
            guard length > 0 else { continue }
            let start = newStart + delta
            mappings.append(DeviceMapping(user: start..<(start + UInt64(length)), device: m.device, region: m.region, regionOffset: m.regionOffset))
        }
    }

    /// Region offsets of `device`/`region` the guest can reach through this process.
    func reachable(device: String, region: UInt32) -> IntervalSet {
        var out = IntervalSet()
        for m in mappings where m.device == device && m.region == region {
            if memslotsSeen {
                let covered = memslotUnion.intersection(IntervalSet([m.user]))
                for r in covered.ranges {
                    out.insert((m.regionOffset + (r.lowerBound - m.user.lowerBound))..<(m.regionOffset + (r.upperBound - m.user.lowerBound)))
                }
            } else {
                out.insert(m.regionOffset..<(m.regionOffset + UInt64(m.user.count)))
            }
        }
        return out
    }

    func mappedRegions(device: String) -> Set<UInt32> {
        Set(mappings.filter { $0.device == device }.map(\.region))
    }
}
