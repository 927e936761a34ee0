package import TraceFormat

/// Turns completed syscalls into events, keeping per-process fd tables, per-device region tables and
/// device mappings, so every ioctl, mmap and pread is named by what it touches.
package final class SyscallDecoder {
    /// What one device's regions are (from GET_REGION_INFO answers).
    struct RegionEntry {
        var offset: UInt64
        var size: UInt64
        var migrationV1: Bool
    }

    /// Per-process state (threads share it).
    final class Process {
        var fds = FdTable()
        var mappings = DeviceMappingTable()
        var regions: [String: [UInt32: RegionEntry]] = [:]
    }

    private var processes: [Int32: Process] = [:]

    package init() {}

    /// The syscalls worth stopping for.
    package static let tracedSyscalls: Set<Syscall> = [
        .open, .openat, .close, .dup, .dup2, .dup3, .fcntl, .ioctl, .mmap, .munmap, .mremap, .eventfd, .eventfd2,
        .read, .write, .pread64, .pwrite64, .preadv, .pwritev, .preadv2, .pwritev2,
    ]

    func process(_ pid: Int32) -> Process {
        if let p = processes[pid] { return p }
        let p = Process()
        processes[pid] = p
        return p
    }

    /// fork: the child gets a copy of the fd table and mappings.
    package func processForked(parent: Int32, child: Int32) {
        let p = process(parent)
        let c = Process()
        c.fds = p.fds
        c.mappings = p.mappings
        c.regions = p.regions
        processes[child] = c
    }

    /// execve: close-on-exec fds close, the address space is new.
    package func processExec(pid: Int32) {
        let p = process(pid)
        p.fds.exec()
        p.mappings.removeAll()
    }

    package func processExited(pid: Int32) { processes[pid] = nil }

    /// Attach mode: fds that were open before we attached, from readlink of /proc/PID/fd/N.
    package func adoptOpenFds(pid: Int32, fds: [(fd: Int32, target: String)], deviceNames: [Int32: String] = [:]) -> [FdChange] {
        let p = process(pid)
        var out: [FdChange] = []
        for (fd, target) in fds {
            let kind = FdTable.classify(path: target)
            guard kind != .unknown else { continue }
            var entry = FdTable.Entry(kind: kind, path: target)
            if kind == .vfioDevice { entry.device = deviceNames[fd] ?? (target.hasPrefix("/dev/") ? target : "fd\(fd)") }
            p.fds[fd] = entry
            out.append(FdChange(operation: .open, fd: fd, kind: kind, path: target))
        }
        return out
    }

    /// Attach mode: a device mapping that existed before we attached (from /proc/PID/maps), on device fd `fd`;
    /// the mapping event to record, or nil when `fd` is not a known device fd.
    package func adoptMapping(pid: Int32, fd: Int32, user: Range<UInt64>, fileOffset: UInt64, prot: UInt32) -> MappingChange? {
        let p = process(pid)
        guard let entry = p.fds[fd], entry.kind == .vfioDevice else { return nil }
        let (region, offset) = regionOf(p, device: entry.device, fileOffset: fileOffset)
        let length = user.upperBound - user.lowerBound  // (not `user.count`, an Int that traps past 2^63)
        track(p, Mapping(user: user, device: entry.device, region: region, regionOffset: offset))
        return MappingChange(
            operation: .mmap, fd: fd, device: entry.device, region: region, regionOffset: offset, address: user.lowerBound,
            length: length, prot: prot, flags: 1 | MappingChange.adoptedAtAttach, fileOffset: fileOffset)
    }

    // MARK: - Decoding

    /// Events for one completed syscall (often none).
    package func decode(_ r: SyscallRecord, memory: any TraceeMemory) -> [TraceEvent] {
        let p = process(r.pid)
        func event(_ payload: EventPayload) -> TraceEvent {
            TraceEvent(time: r.entryNs, endTime: r.exitNs, pid: r.pid, tid: r.tid, result: r.result, payload: payload)
        }
        let fd = Int32(truncatingIfNeeded: r.args[0])
        switch r.syscall {
        case .open, .openat:
            let pathArg = r.syscall == .open ? r.args[0] : r.args[1]
            let flags = r.syscall == .open ? r.args[1] : r.args[2]
            guard !r.failed else {
                return []
            }
            let newFd = Int32(truncatingIfNeeded: r.result)
            let path = memory.string(r.pid, pathArg) ?? ""
            let kind = FdTable.classify(path: path)
            if kind == .unknown {
                p.fds[newFd] = nil
                return []
            }
            p.fds[newFd] = FdTable.Entry(kind: kind, device: kind == .vfioDevice ? path : "", path: path, cloexec: flags & 0o2000000 != 0)
            var events = [event(.fd(FdChange(operation: .open, fd: newFd, kind: kind, path: path)))]
            if kind == .vfioDevice { events.append(event(.deviceOpen(DeviceOpen(fd: newFd, groupFd: -1, device: path)))) }
            return events
        case .close:
            guard !r.failed, let old = p.fds.close(fd) else { return [] }
            return [event(.fd(FdChange(operation: .close, fd: fd, kind: old.kind, path: old.path)))]
        case .dup, .dup2, .dup3:
            guard !r.failed else { return [] }
            let newFd = Int32(truncatingIfNeeded: r.result)
            guard var entry = p.fds[fd] else {
                p.fds[newFd] = nil
                return []
            }
            entry.cloexec = r.syscall == .dup3 && r.args[2] & 0o2000000 != 0
            p.fds[newFd] = entry
            return [event(.fd(FdChange(operation: .dup, fd: newFd, sourceFd: fd, kind: entry.kind, path: entry.path)))]
        case .fcntl:
            guard !r.failed else { return [] }
            let cmd = r.args[1]
            if cmd == 0 || cmd == 1030, var entry = p.fds[fd] {  // F_DUPFD, F_DUPFD_CLOEXEC
                let newFd = Int32(truncatingIfNeeded: r.result)
                entry.cloexec = cmd == 1030
                p.fds[newFd] = entry
                return [event(.fd(FdChange(operation: .dup, fd: newFd, sourceFd: fd, kind: entry.kind, path: entry.path)))]
            }
            if cmd == 2, var entry = p.fds[fd] {  // F_SETFD
                entry.cloexec = r.args[2] & 1 != 0
                p.fds[fd] = entry
            }
            return []
        case .eventfd, .eventfd2:
            guard !r.failed else { return [] }
            let newFd = Int32(truncatingIfNeeded: r.result)
            let flags = r.syscall == .eventfd2 ? UInt32(truncatingIfNeeded: r.args[1]) : 0
            p.fds[newFd] = FdTable.Entry(kind: .eventfd, cloexec: flags & 0o2000000 != 0)
            return [event(.eventfd(EventfdOp(operation: .create, fd: newFd, value: r.args[0], flags: flags)))]
        case .read, .write:
            guard p.fds.kind(fd) == .eventfd, r.result == 8, let value = memory.u64(r.pid, r.args[1]) else { return [] }
            return [event(.eventfd(EventfdOp(operation: r.syscall == .read ? .read : .write, fd: fd, value: value)))]
        case .ioctl:
            return ioctl(r, p, memory: memory, event: event)
        case .mmap:
            return mmap(r, p, event: event)
        case .munmap:
            guard !r.failed, let range = span(r.args[0], r.args[1]) else { return [] }
            return unmap(p, range).map { piece in
                event(
                    .mapping(
                        MappingChange(
                            operation: .munmap, device: piece.device, region: piece.region, regionOffset: piece.regionOffset,
                            address: piece.user.lowerBound, length: piece.user.upperBound - piece.user.lowerBound)))
            }
        case .mremap:
            let newAddress = UInt64(bitPattern: r.result)
            guard !r.failed, let old = span(r.args[0], r.args[1]), span(newAddress, r.args[2]) != nil,
                // Every piece the move can carry must keep region offset + length in range (see `track`).
                !p.mappings.mappings.contains(where: {
                    $0.user.overlaps(old) && $0.regionOffset.addingReportingOverflow(r.args[2]).overflow
                })
            else { return [] }
            guard let first = p.mappings.remap(old: old, newStart: newAddress, newLength: r.args[2]) else { return [] }
            return [
                event(
                    .mapping(
                        MappingChange(
                            operation: .mremap, device: first.device, region: first.region, regionOffset: first.regionOffset,
                            address: r.args[0], length: r.args[1], newAddress: newAddress, newLength: r.args[2],
                            flags: UInt32(truncatingIfNeeded: r.args[3]))))
            ]
        case .pread64, .pwrite64, .preadv, .pwritev, .preadv2, .pwritev2:
            return regionAccess(r, p, memory: memory, event: event)
        default:
            return []
        }
    }

    private func ioctl(_ r: SyscallRecord, _ p: Process, memory: any TraceeMemory, event: (EventPayload) -> TraceEvent) -> [TraceEvent] {
        let fd = Int32(truncatingIfNeeded: r.args[0])
        let request = UInt32(truncatingIfNeeded: r.args[1])
        let arg = r.args[2]
        let entry = p.fds[fd] ?? FdTable.Entry(kind: .unknown)
        if IoctlNames.isKVM(request) {
            return kvmIoctl(r, p, fd: fd, kind: entry.kind, request: request, memory: memory, event: event)
        }
        guard IoctlNames.isVFIO(request) else { return [] }
        let device = entry.device
        switch (entry.kind, request) {
        case (.vfioGroup, VFIOLayout.groupGetDeviceFd):
            let name = memory.string(r.pid, arg, limit: 256) ?? ""
            if !r.failed {
                p.fds[Int32(truncatingIfNeeded: r.result)] = FdTable.Entry(kind: .vfioDevice, device: name, cloexec: true)
            }
            return [event(.deviceOpen(DeviceOpen(fd: r.failed ? -1 : Int32(truncatingIfNeeded: r.result), groupFd: fd, device: name)))]
        case (.vfioDevice, VFIOLayout.deviceGetRegionInfo):
            guard let info = regionInfo(r.pid, fd: fd, device: device, at: arg, memory: memory) else { break }
            if !r.failed {
                p.regions[device, default: [:]][info.index] = RegionEntry(
                    offset: info.offset, size: info.size,
                    migrationV1: info.regionType?.isMigrationV1 ?? false)
            }
            return [event(.regionInfo(info))]
        case (.vfioDevice, VFIOLayout.deviceSetIrqs):
            guard let h = memory.read(pid: r.pid, address: arg, count: VFIOLayout.irqSetHeaderSize), h.count == VFIOLayout.irqSetHeaderSize else {
                break
            }
            let flags = le32(h, 4), index = le32(h, 8), start = le32(h, 12), count = le32(h, 16)
            var fds: [Int32] = []
            let (dataAddress, pastEnd) = arg.addingReportingOverflow(UInt64(VFIOLayout.irqSetHeaderSize))
            if flags & VFIOLayout.irqSetDataEventfd != 0 && count <= 2048 && !pastEnd,
                let data = memory.read(pid: r.pid, address: dataAddress, count: Int(count) * 4)
            {
                fds = stride(from: 0, to: data.count - 3, by: 4).map { Int32(bitPattern: le32(data, $0)) }
            }
            return [event(.irqBinding(IrqBinding(fd: fd, device: device, index: index, start: start, count: count, flags: flags, eventfds: fds)))]
        case (.vfioDevice, VFIOLayout.deviceFeature):
            guard let h = memory.read(pid: r.pid, address: arg, count: 16), h.count >= 8 else { break }
            let flags = le32(h, 4)
            if flags & 0xFFFF == VFIOLayout.featureMigDeviceState && flags & VFIOLayout.featureProbe == 0 && h.count >= 16 {
                let state = le32(h, 8)
                let dataFd = Int32(bitPattern: le32(h, 12))
                if flags & VFIOLayout.featureSet != 0 {
                    if !r.failed && dataFd >= 0 { p.fds[dataFd] = FdTable.Entry(kind: .migrationData, device: device, cloexec: true) }
                    return [
                        event(
                            .deviceState(
                                DeviceStateChange(
                                    fd: fd, device: device, migrationProtocol: .v2, operation: .set,
                                    requested: state, resulting: r.failed ? 0 : state, dataFd: r.failed ? -1 : dataFd)))
                    ]
                }
                return [
                    event(
                        .deviceState(
                            DeviceStateChange(
                                fd: fd, device: device, migrationProtocol: .v2, operation: .get,
                                requested: 0, resulting: r.failed ? 0 : state)))
                ]
            }
        default:
            break
        }
        return [
            event(
                .vfioIoctl(
                    VFIOIoctl(
                        fd: fd, target: entry.kind, device: device, request: request,
                        argument: argumentBytes(r.pid, request: request, kind: entry.kind, at: arg, memory: memory))))
        ]
    }

    /// The bytes worth keeping for a raw VFIO ioctl: by-value arguments have none; others are argsz-bounded.
    private func argumentBytes(_ pid: Int32, request: UInt32, kind: FdKind, at arg: UInt64, memory: any TraceeMemory) -> [UInt8] {
        switch request {
        case VFIOLayout.getAPIVersion, VFIOLayout.checkExtension, VFIOLayout.setIOMMU, VFIOLayout.deviceReset:
            return []
        case VFIOLayout.groupSetContainer where kind == .vfioGroup:
            return memory.read(pid: pid, address: arg, count: 4) ?? []
        default:
            guard arg > 4096, let argsz = memory.u32(pid, arg) else { return [] }
            return memory.read(pid: pid, address: arg, count: Int(min(argsz, UInt32(VFIOLayout.maxArgumentBytes)))) ?? []
        }
    }

    /// Parses struct vfio_region_info and walks its capability chain (bounded and loop-safe).
    func regionInfo(_ pid: Int32, fd: Int32, device: String, at arg: UInt64, memory: any TraceeMemory) -> RegionInfo? {
        guard let argsz = memory.u32(pid, arg) else { return nil }
        let size = Int(min(max(argsz, UInt32(VFIOLayout.regionInfoSize)), UInt32(VFIOLayout.maxArgumentBytes)))
        guard let b = memory.read(pid: pid, address: arg, count: size), b.count >= VFIOLayout.regionInfoSize else { return nil }
        var info = RegionInfo(fd: fd, device: device, index: le32(b, 8), flags: le32(b, 4), size: le64(b, 16), offset: le64(b, 24))
        guard info.flags & VFIOLayout.regionInfoFlagCaps != 0 else { return info }
        var capOffset = Int(le32(b, 12))
        var visited = 0
        while capOffset >= VFIOLayout.regionInfoSize && capOffset + 8 <= b.count && visited < 32 {
            visited += 1
            let id = UInt16(b[capOffset]) | UInt16(b[capOffset + 1]) << 8
            let next = Int(le32(b, capOffset + 4))
            if id == VFIOLayout.capSparseMmap && capOffset + 16 <= b.count {
                let n = Int(le32(b, capOffset + 8))
                let room = (b.count - capOffset - 16) / 16
                info.sparseAreas = (0..<min(n, room)).map { i in
                    let at = capOffset + 16 + i * 16
                    return RegionInfo.Area(offset: le64(b, at), size: le64(b, at + 8))
                }
            } else if id == VFIOLayout.capType && capOffset + 16 <= b.count {
                info.regionType = RegionInfo.RegionType(type: le32(b, capOffset + 8), subtype: le32(b, capOffset + 12))
            }
            // Each `next` must move forward, so a looping chain ends.
            guard next > capOffset else { break }
            capOffset = next
        }
        return info
    }

    private func kvmIoctl(
        _ r: SyscallRecord, _ p: Process, fd: Int32, kind: FdKind, request: UInt32, memory: any TraceeMemory,
        event: (EventPayload) -> TraceEvent
    ) -> [TraceEvent] {
        switch request {
        case VFIOLayout.kvmCreateVM:
            if !r.failed { p.fds[Int32(truncatingIfNeeded: r.result)] = FdTable.Entry(kind: .kvmVM, cloexec: true) }
            return [event(.ioctl(GenericIoctl(fd: fd, target: kind, request: request, argument: r.args[2])))]
        case VFIOLayout.kvmCreateVCPU:
            if !r.failed { p.fds[Int32(truncatingIfNeeded: r.result)] = FdTable.Entry(kind: .kvmVCPU, cloexec: true) }
            return [event(.ioctl(GenericIoctl(fd: fd, target: kind, request: request, argument: r.args[2])))]
        case VFIOLayout.kvmSetUserMemoryRegion, VFIOLayout.kvmSetUserMemoryRegion2:
            guard let b = memory.read(pid: r.pid, address: r.args[2], count: VFIOLayout.memoryRegionSize), b.count == VFIOLayout.memoryRegionSize
            else { return [] }
            return [
                event(
                    .memslot(
                        Memslot(vmFd: fd, slot: le32(b, 0), flags: le32(b, 4), guestPhys: le64(b, 8), size: le64(b, 16), userAddress: le64(b, 24))))
            ]
        case VFIOLayout.kvmIrqfd:
            guard let b = memory.read(pid: r.pid, address: r.args[2], count: 16), b.count == 16 else { return [] }
            return [
                event(
                    .irqfd(
                        Irqfd(
                            vmFd: fd, fd: Int32(bitPattern: le32(b, 0)), gsi: le32(b, 4), flags: le32(b, 8),
                            resampleFd: Int32(bitPattern: le32(b, 12)))))
            ]
        case VFIOLayout.kvmRun:
            return [event(.ioctl(GenericIoctl(fd: fd, target: kind, request: request)))]
        default:
            return []
        }
    }

    private func regionOf(_ p: Process, device: String, fileOffset: UInt64) -> (Int32, UInt64) {
        if let regions = p.regions[device] {
            for (index, e) in regions where fileOffset >= e.offset && fileOffset < e.offset &+ max(e.size, 1) {
                return (Int32(truncatingIfNeeded: index), fileOffset - e.offset)
            }
        }
        let index = fileOffset >> VFIOLayout.pciOffsetShift
        return (Int32(truncatingIfNeeded: index), fileOffset & ((1 << VFIOLayout.pciOffsetShift) - 1))
    }

    private func mmap(_ r: SyscallRecord, _ p: Process, event: (EventPayload) -> TraceEvent) -> [TraceEvent] {
        guard !r.failed else { return [] }
        let fd = Int32(truncatingIfNeeded: r.args[4])
        let address = UInt64(bitPattern: r.result)
        let length = r.args[1]
        guard let user = span(address, length) else { return [] }
        // A new mapping replaces whatever device mapping was there (MAP_FIXED over a BAR).
        var events = unmap(p, user).map { piece in
            event(
                .mapping(
                    MappingChange(
                        operation: .munmap, device: piece.device, region: piece.region, regionOffset: piece.regionOffset,
                        address: piece.user.lowerBound, length: UInt64(piece.user.count))))
        }
        guard let entry = p.fds[fd], entry.kind == .vfioDevice else { return events }
        let (region, offset) = regionOf(p, device: entry.device, fileOffset: r.args[5])
        track(p, Mapping(user: user, device: entry.device, region: region, regionOffset: offset))
        events.append(
            event(
                .mapping(
                    MappingChange(
                        operation: .mmap, fd: fd, device: entry.device, region: region, regionOffset: offset,
                        address: r.args[0], length: length, prot: UInt32(truncatingIfNeeded: r.args[2]),
                        flags: UInt32(truncatingIfNeeded: r.args[3]), fileOffset: r.args[5]))))
        return events
    }

    typealias Mapping = DeviceMappingTable.Mapping

    /// [start, start + length), nil when it would pass the end of the address space (a length is the tracee's
    /// to choose, and a Range whose bounds cross traps).
    func span(_ start: UInt64, _ length: UInt64) -> Range<UInt64>? {
        let (end, overflow) = start.addingReportingOverflow(length)
        return overflow ? nil : start..<end
    }

    /// Adds a device mapping to the table, unless its region offset plus its length passes 2^64: the table adds
    /// the two when an unmap splits the mapping, and such a mapping (a file offset near 2^64) maps no device.
    private func track(_ p: Process, _ m: Mapping) {
        guard !m.regionOffset.addingReportingOverflow(m.user.upperBound - m.user.lowerBound).overflow else { return }
        p.mappings.map(m)
    }

    /// Removes [range) from the device mappings; returns the device pieces it covered.
    private func unmap(_ p: Process, _ range: Range<UInt64>) -> [DeviceMappingTable.Mapping] {
        p.mappings.unmap(range)
    }

    private func regionAccess(_ r: SyscallRecord, _ p: Process, memory: any TraceeMemory, event: (EventPayload) -> TraceEvent) -> [TraceEvent] {
        let fd = Int32(truncatingIfNeeded: r.args[0])
        guard let entry = p.fds[fd], entry.kind == .vfioDevice else { return [] }
        let vector = r.syscall != .pread64 && r.syscall != .pwrite64
        let position = r.args[3]
        let isWrite = r.syscall == .pwrite64 || r.syscall == .pwritev || r.syscall == .pwritev2
        var buffer = r.args[1]
        var length = r.args[2]
        if vector {
            // The first iovec carries the value we show.
            guard let iov = memory.read(pid: r.pid, address: r.args[1], count: 16), iov.count == 16 else { return [] }
            buffer = le64(iov, 0)
            length = r.failed ? 0 : UInt64(clamping: r.result)
        }
        // Lengths are the tracee's (up to 2^64 - 1) and a result below -4095 is no errno: clamp, never convert with a trap.
        let transferred = r.failed ? 0 : Int(min(length, UInt64(clamping: r.result), 8))
        var value: UInt64 = 0
        if transferred > 0, let b = memory.read(pid: r.pid, address: buffer, count: transferred) {
            for (i, byte) in b.enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
        }
        let (region, offset) = regionOf(p, device: entry.device, fileOffset: position)
        if offset == 0 && length == 4 && region >= 0, p.regions[entry.device]?[UInt32(region)]?.migrationV1 == true {
            // device_state of the v1 migration region (struct vfio_device_migration_info at offset 0).
            return [
                event(
                    .deviceState(
                        DeviceStateChange(
                            fd: fd, device: entry.device, migrationProtocol: .v1,
                            operation: isWrite ? .set : .get, requested: isWrite ? UInt32(truncatingIfNeeded: value) : 0,
                            resulting: r.failed ? 0 : UInt32(truncatingIfNeeded: value))))
            ]
        }
        return [
            event(
                .regionAccess(
                    RegionAccess(
                        operation: isWrite ? .write : .read, fd: fd, device: entry.device, region: region,
                        offset: offset, length: r.failed ? length : UInt64(clamping: r.result), value: value)))
        ]
    }
}

@inline(__always) func le32(_ b: [UInt8], _ at: Int) -> UInt32 {
    guard at + 4 <= b.count else { return 0 }
    return UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
}

@inline(__always) func le64(_ b: [UInt8], _ at: Int) -> UInt64 {
    UInt64(le32(b, at)) | UInt64(le32(b, at + 4)) << 32
}
