import TraceFormat

/// What /proc and sysfs still tell about a process's VFIO devices when the recorder attaches after their
/// setup: which device each device fd is, and which of its mappings are device mappings. (Irq bindings
/// and KVM memslots cannot be read back.)
package enum AttachedState {
    /// One device mapping found in /proc/PID/maps.
    package struct Mapping: Equatable {
        package var user: Range<UInt64>
        package var fileOffset: UInt64
        package var prot: UInt32
        package var inode: UInt64
    }

    /// Reads what a running process still shows of its devices: device fd names, and device mappings with
    /// their owning fd and region file offset.
    package static func readBack(
        pid: Int32, fds: [(fd: Int32, target: String)]
    ) -> (names: [Int32: String], mappings: [(fd: Int32, mapping: Mapping)]) {
        let names = deviceNames(
            fds: fds, fdinfo: { ProcFS.read("/proc/\(pid)/fdinfo/\($0)") },
            groupDevices: { ProcFS.entries(in: "/sys/kernel/iommu_groups/\($0)/devices") })
        let deviceFds = fds.filter { FdKind.classify(path: $0.target) == .vfioDevice }.map { ($0.fd, ProcFS.inode(pid: pid, fd: $0.fd) ?? 0) }
        let mappings = deviceMappings(maps: ProcFS.read("/proc/\(pid)/maps") ?? "").compactMap { m -> (fd: Int32, mapping: Mapping)? in
            guard let fd = owner(of: m, deviceFds: deviceFds) else { return nil }
            var m = m
            if let name = names[fd], let resource = ProcFS.read("/sys/bus/pci/devices/\(name)/resource"),
                let offset = regionFileOffset(mapsOffset: m.fileOffset, resource: resource)
            {
                m.fileOffset = offset
            }
            return (fd, m)
        }
        return (names, mappings)
    }

    /// Device mappings among /proc/PID/maps lines (`START-END PERMS OFFSET DEV INODE PATH`): the ones
    /// backed by a VFIO device file (`anon_inode:[vfio-device]`, or a /dev/vfio/devices cdev).
    package static func deviceMappings(maps: String) -> [Mapping] {
        maps.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 6 else { return nil }
            let path = f[5...].joined(separator: " ")
            guard path.contains("vfio-device") || path.hasPrefix("/dev/vfio/devices/") else { return nil }
            let bounds = f[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt64(bounds[0], radix: 16), let end = UInt64(bounds[1], radix: 16), start < end,
                let offset = UInt64(f[2], radix: 16), let inode = UInt64(f[4])
            else { return nil }
            let perms = Array(f[1])
            var prot: UInt32 = 0
            if perms.count >= 3 {
                if perms[0] == "r" { prot |= 1 }
                if perms[1] == "w" { prot |= 2 }
                if perms[2] == "x" { prot |= 4 }
            }
            return Mapping(user: start..<end, fileOffset: offset, prot: prot, inode: inode)
        }
    }

    /// The device name in a device fd's fdinfo (`vfio-device-syspath: /sys/devices/…/0000:00:05.0`, printed by
    /// newer kernels): its last path component.
    package static func syspathName(fdinfo: String) -> String? {
        for line in fdinfo.split(separator: "\n") where line.hasPrefix("vfio-device-syspath:") {
            let path = line.dropFirst("vfio-device-syspath:".count).trimmingCharacters()
            // The name goes into a sysfs path: a last component of "." or ".." would climb out of the device's folder.
            if let last = path.split(separator: "/").last, last != ".", last != ".." { return String(last) }
        }
        return nil
    }

    /// Names for a process's open device fds: from fdinfo where the kernel prints the device's path; else,
    /// when exactly one device fd is left unnamed and the open groups hold exactly one other device, that one.
    package static func deviceNames(
        fds: [(fd: Int32, target: String)], fdinfo: (Int32) -> String?, groupDevices: (String) -> [String]
    ) -> [Int32: String] {
        let deviceFds = fds.filter { FdKind.classify(path: $0.target) == .vfioDevice }.map(\.fd)
        var names: [Int32: String] = [:]
        for fd in deviceFds {
            if let info = fdinfo(fd), let name = syspathName(fdinfo: info) { names[fd] = name }
        }
        let unnamed = deviceFds.filter { names[$0] == nil }
        guard unnamed.count == 1 else { return names }
        let groups = fds.filter { FdKind.classify(path: $0.target) == .vfioGroup }.compactMap {
            $0.target.split(separator: "/").last.map(String.init)
        }
        let candidates = Set(groups.flatMap(groupDevices)).subtracting(names.values)
        if candidates.count == 1, let only = candidates.first { names[unnamed[0]] = only }
        return names
    }

    /// The device fd a mapping belongs to: the one fd whose inode it names, or the only device fd.
    package static func owner(of m: Mapping, deviceFds: [(fd: Int32, inode: UInt64)]) -> Int32? {
        let byInode = deviceFds.filter { $0.inode == m.inode }
        if byInode.count == 1 { return byInode[0].fd }
        return deviceFds.count == 1 ? deviceFds[0].fd : nil
    }

    /// vfio-pci sets a BAR mapping's page offset to the BAR's physical address, so /proc/PID/maps shows that,
    /// not the region offset: translate it through the device's sysfs `resource` file (one "start end flags"
    /// line per BAR) into the region offset the mmap was given (index << 40 | offset). nil when no BAR holds it.
    package static func regionFileOffset(mapsOffset: UInt64, resource: String) -> UInt64? {
        for (index, line) in resource.split(separator: "\n").prefix(6).enumerated() {
            let f = line.split(separator: " ")
            guard f.count >= 2, let start = UInt64(f[0].dropFirst(2), radix: 16), let end = UInt64(f[1].dropFirst(2), radix: 16),
                start != 0, mapsOffset >= start, mapsOffset <= end,
                // An offset past 2^40 would spill into the region index bits.
                mapsOffset - start < 1 << VFIOLayout.pciOffsetShift
            else { continue }
            return UInt64(index) << 40 | (mapsOffset - start)
        }
        return nil
    }
}
